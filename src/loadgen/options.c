/* options.c: loadgen's command line (h2load's options and syntax). */
#include "options.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef LOADGEN_VERSION
#define LOADGEN_VERSION "0.0.0"
#endif

static const char usage_text[] =
    "Usage: loadgen [OPTIONS]... URI...\n"
    "HTTP/1.1 and HTTP/2 load generator: h2load's options and summary,\n"
    "plus latency percentiles, GOAWAY recovery, URL templates and JSON.\n"
    "\n"
    "  URI         http://, https:// (ALPN h2 or http/1.1). Several URIs\n"
    "              are used round robin by each client; scheme, host and\n"
    "              port come from the first. A path may hold one {A..B}\n"
    "              template (e.g. /objects/{1..500}) that stands for the\n"
    "              B-A+1 paths, walked in order.\n"
    "Options:\n"
    "  -n, --requests=<N>      requests across all clients (default 1)\n"
    "  -c, --clients=<N>       concurrent clients/connections (default 1)\n"
    "  -t, --threads=<N>       threads, one event loop each (default 1)\n"
    "  -m, --max-concurrent-streams=<N>\n"
    "                          streams per HTTP/2 connection, pipelining\n"
    "                          depth for HTTP/1.1 (default 1)\n"
    "  -i, --input-file=<PATH> URIs, one per line ('-' for stdin); replaces\n"
    "                          the URIs of the command line\n"
    "  -H, --header=<HEADER>   add or override a request header\n"
    "  -d, --data=<PATH>       POST the file's content (HTTP/1.1: no\n"
    "                          pipelining then)\n"
    "  -r, --rate=<N>          new connections per rate period, up to -c\n"
    "      --rate-period=<DURATION>  (default 1s)\n"
    "  -D, --duration=<DURATION>     run for this long instead of -n\n"
    "      --warm-up-time=<DURATION> before -D's measurements\n"
    "  -T, --connection-active-timeout=<DURATION>\n"
    "  -N, --connection-inactivity-timeout=<DURATION>\n"
    "  -B, --base-uri=(<URI>|unix:<PATH>)\n"
    "                          scheme, host and port for all requests, or a\n"
    "                          unix socket to connect to instead of TCP\n"
    "      --connect-to=<HOST>[:<PORT>]  connect there, keep Host/SNI\n"
    "  -p, --no-tls-proto=<PROTOID>  h2c (default) or http/1.1 for http://\n"
    "      --h1                same as -p http/1.1 --npn-list=http/1.1\n"
    "      --npn-list=<LIST>   ALPN identifiers, comma separated\n"
    "                          (default h2,http/1.1)\n"
    "      --log-file=<PATH>   one line per request: start (us since the\n"
    "                          epoch), status, time for request (us)\n"
    "      --rps=<N>           requests per second per client\n"
    "  -w, --window-bits=<N>   stream window 2^N-1 (default 30)\n"
    "  -W, --connection-window-bits=<N>  (default 30)\n"
    "  -f, --max-frame-size=<SIZE>       (default 16K)\n"
    "      --json=<PATH>       write every summary figure, the latency\n"
    "                          histogram and the options as JSON\n"
    "      --fail-if=<COND>    exit with status 3 when COND holds at the\n"
    "                          end, e.g. 'p99>300ms', 'failed>0',\n"
    "                          'errored>=1%', 'rps<1000' (repeatable)\n"
    "      --arrival-rate=<N>  open model: N requests/s in all, sent on\n"
    "                          schedule whatever the responses do; time\n"
    "                          for request counts from the scheduled\n"
    "                          send (no coordinated omission)\n"
    "      --merge FILE...     combine the --json results of runs made at\n"
    "                          the same time (several machines) into one\n"
    "                          summary; with --json, --fail-if as a run\n"
    "  -v, --verbose           per-connection and per-response details on\n"
    "                          stderr\n"
    "      --version           print the version\n"
    "  -h, --help              this help\n"
    "\n"
    "<SIZE>: an integer with an optional K, M or G (powers of 1024).\n"
    "<DURATION>: a number with an optional unit h, m, s (default), ms, us.\n";

enum {
    OPT_RATE_PERIOD = 256,
    OPT_WARMUP,
    OPT_CONNECT_TO,
    OPT_H1,
    OPT_NPN,
    OPT_LOG_FILE,
    OPT_RPS,
    OPT_VERSION,
    OPT_JSON,
    OPT_FAIL_IF,
    OPT_ARRIVAL_RATE,
    OPT_MERGE,
};

static const struct option long_opts[] = {
    {"requests", required_argument, NULL, 'n'},
    {"clients", required_argument, NULL, 'c'},
    {"threads", required_argument, NULL, 't'},
    {"max-concurrent-streams", required_argument, NULL, 'm'},
    {"input-file", required_argument, NULL, 'i'},
    {"header", required_argument, NULL, 'H'},
    {"data", required_argument, NULL, 'd'},
    {"rate", required_argument, NULL, 'r'},
    {"rate-period", required_argument, NULL, OPT_RATE_PERIOD},
    {"duration", required_argument, NULL, 'D'},
    {"warm-up-time", required_argument, NULL, OPT_WARMUP},
    {"connection-active-timeout", required_argument, NULL, 'T'},
    {"connection-inactivity-timeout", required_argument, NULL, 'N'},
    {"base-uri", required_argument, NULL, 'B'},
    {"connect-to", required_argument, NULL, OPT_CONNECT_TO},
    {"no-tls-proto", required_argument, NULL, 'p'},
    {"h1", no_argument, NULL, OPT_H1},
    {"npn-list", required_argument, NULL, OPT_NPN},
    {"log-file", required_argument, NULL, OPT_LOG_FILE},
    {"rps", required_argument, NULL, OPT_RPS},
    {"window-bits", required_argument, NULL, 'w'},
    {"connection-window-bits", required_argument, NULL, 'W'},
    {"max-frame-size", required_argument, NULL, 'f'},
    {"json", required_argument, NULL, OPT_JSON},
    {"fail-if", required_argument, NULL, OPT_FAIL_IF},
    {"arrival-rate", required_argument, NULL, OPT_ARRIVAL_RATE},
    {"merge", no_argument, NULL, OPT_MERGE},
    {"verbose", no_argument, NULL, 'v'},
    {"version", no_argument, NULL, OPT_VERSION},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

int lg_parse_size(const char *s, uint64_t *out) {
    char *end;
    unsigned long long v;
    uint64_t mul = 1;

    if (!isdigit((unsigned char)s[0]))
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0)
        return -1;
    switch (*end) {
    case '\0':
        break;
    case 'k':
    case 'K':
        mul = 1024;
        end++;
        break;
    case 'm':
    case 'M':
        mul = 1024 * 1024;
        end++;
        break;
    case 'g':
    case 'G':
        mul = 1024 * 1024 * 1024;
        end++;
        break;
    default:
        return -1;
    }
    if (*end != '\0' || v > UINT64_MAX / mul)
        return -1;
    *out = v * mul;
    return 0;
}

int lg_parse_duration(const char *s, double *out) {
    char *end;
    double v, mul = 1;

    if (!isdigit((unsigned char)s[0]))
        return -1;
    v = strtod(s, &end);
    if (strcmp(end, "") == 0 || strcmp(end, "s") == 0)
        mul = 1;
    else if (strcmp(end, "ms") == 0)
        mul = 1e-3;
    else if (strcmp(end, "us") == 0)
        mul = 1e-6;
    else if (strcmp(end, "m") == 0)
        mul = 60;
    else if (strcmp(end, "h") == 0)
        mul = 3600;
    else
        return -1;
    if (!isfinite(v) || v < 0)
        return -1;
    *out = v * mul;
    return 0;
}

static int bad(const char *opt, const char *val, const char *why) {
    fprintf(stderr, "loadgen: %s: invalid value \"%s\": %s\n", opt, val, why);
    return -1;
}

/* A plain positive decimal number ("2.5"). 0 or -1. */
static int parse_positive(const char *s, double *out) {
    char *end;
    double v;

    if (!isdigit((unsigned char)s[0]))
        return -1;
    v = strtod(s, &end);
    if (*end != '\0' || !isfinite(v) || v <= 0)
        return -1;
    *out = v;
    return 0;
}

static int parse_uint(const char *opt, const char *s, uint64_t lo, uint64_t hi,
                      uint64_t *out) {
    if (lg_parse_size(s, out) != 0)
        return bad(opt, s, "expected a number");
    if (*out < lo || *out > hi)
        return bad(opt, s, "out of range");
    return 0;
}

/* --npn-list "h2,http/1.1" to ALPN wire format. */
static int set_npn(lg_options *o, const char *list) {
    size_t n = strlen(list), i = 0, w = 0;
    char *wire = malloc(n + 1);

    if (wire == NULL)
        return -1;
    while (i <= n) {
        size_t start = i;
        while (i < n && list[i] != ',')
            i++;
        if (i == start || i - start > 255) {
            free(wire);
            return bad("--npn-list", list, "empty or too long identifier");
        }
        wire[w++] = (char)(i - start);
        memcpy(wire + w, list + start, i - start);
        w += i - start;
        i++;
    }
    free(o->alpn_wire);
    free(o->npn_list);
    o->alpn_wire = wire;
    o->alpn_wire_len = w;
    o->npn_list = strdup(list);
    return o->npn_list ? 0 : -1;
}

static int add_header(lg_options *o, const char *h) {
    const char *colon = strchr(h[0] == ':' ? h + 1 : h, ':');
    lg_header *nh;
    const char *v;
    size_t nlen, i;

    if (colon == NULL || colon == h)
        return bad("-H", h, "expected NAME: VALUE");
    nlen = (size_t)(colon - h);
    v = colon + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    nh = realloc(o->headers, (o->nheaders + 1) * sizeof *nh);
    if (nh == NULL)
        return -1;
    o->headers = nh;
    nh = &o->headers[o->nheaders];
    nh->name = strndup(h, nlen);
    nh->value = strdup(v);
    if (nh->name == NULL || nh->value == NULL)
        return -1;
    for (i = 0; i < nlen; i++)
        nh->name[i] = (char)tolower((unsigned char)nh->name[i]);
    o->nheaders++;
    return 0;
}

static int read_file(const char *path, char **data, size_t *len) {
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    size_t cap = 0, n = 0;
    char *p = NULL;

    if (f == NULL)
        return -errno;
    for (;;) {
        size_t got;
        if (cap - n < 65536) {
            char *np = realloc(p, cap + 65536 + 1);
            if (np == NULL) {
                free(p);
                if (f != stdin)
                    fclose(f);
                return -ENOMEM;
            }
            p = np;
            cap += 65536;
        }
        got = fread(p + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (f != stdin)
        fclose(f);
    if (p == NULL) {
        p = malloc(1);
        if (p == NULL)
            return -ENOMEM;
    }
    p[n] = '\0';
    *data = p;
    *len = n;
    return 0;
}

static int add_uri(lg_options *o, const char *s) {
    lg_uri *nu = realloc(o->uris, (o->nuris + 1) * sizeof *nu);
    char err[256];

    if (nu == NULL)
        return -1;
    o->uris = nu;
    /* Later URIs may be paths only: their scheme/host/port are ignored. */
    if (lg_uri_parse(&o->uris[o->nuris], s, o->nuris > 0, err, sizeof err)) {
        fprintf(stderr, "loadgen: %s\n", err);
        return -1;
    }
    o->nuris++;
    return 0;
}

static int read_input_file(lg_options *o, const char *path) {
    char *data, *line, *save = NULL;
    size_t len;
    int rc = read_file(path, &data, &len);

    if (rc != 0) {
        fprintf(stderr, "loadgen: -i %s: %s\n", path, strerror(-rc));
        return -1;
    }
    for (line = strtok_r(data, "\r\n", &save); line != NULL;
         line = strtok_r(NULL, "\r\n", &save)) {
        if (add_uri(o, line) != 0) {
            free(data);
            return -1;
        }
    }
    free(data);
    if (o->nuris == 0) {
        fprintf(stderr, "loadgen: -i %s: no URI in the file\n", path);
        return -1;
    }
    return 0;
}

static int set_connect_to(lg_options *o, const char *s) {
    const char *colon = strrchr(s, ':');
    size_t hlen =
        colon && !strchr(colon, ']') ? (size_t)(colon - s) : strlen(s);

    if (colon != NULL && hlen != strlen(s)) {
        char *end;
        unsigned long p = strtoul(colon + 1, &end, 10);
        if (*end || p == 0 || p > 65535)
            return bad("--connect-to", s, "bad port");
        o->connect_port = (uint16_t)p;
    }
    if (hlen == 0)
        return bad("--connect-to", s, "missing host");
    if (s[0] == '[' && hlen >= 2 && s[hlen - 1] == ']')
        o->connect_host = strndup(s + 1, hlen - 2);
    else
        o->connect_host = strndup(s, hlen);
    return o->connect_host ? 0 : -1;
}

int lg_options_parse(lg_options *o, int argc, char **argv) {
    const char *input_file = NULL, *base_uri = NULL;
    uint64_t v;
    int c;
    lg_uri base;

    memset(o, 0, sizeof *o);
    o->nreqs = 1;
    o->nclients = 1;
    o->nthreads = 1;
    o->max_streams = 1;
    o->rate_period = 1.0;
    o->window_bits = 30;
    o->conn_window_bits = 30;
    o->max_frame_size = 16384;
    o->argc = argc;
    o->argv = argv;
    if (set_npn(o, "h2,http/1.1") != 0)
        return -1;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":n:c:t:m:i:H:d:r:D:T:N:B:p:w:W:f:vh",
                            long_opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (parse_uint("-n", optarg, 0, UINT64_C(1) << 48, &o->nreqs))
                return -1;
            break;
        case 'c':
            if (parse_uint("-c", optarg, 1, 1000000, &v))
                return -1;
            o->nclients = (unsigned)v;
            break;
        case 't':
            if (parse_uint("-t", optarg, 1, 1024, &v))
                return -1;
            o->nthreads = (unsigned)v;
            break;
        case 'm':
            if (parse_uint("-m", optarg, 1, 1u << 20, &v))
                return -1;
            o->max_streams = (unsigned)v;
            break;
        case 'i':
            input_file = optarg;
            break;
        case 'H':
            if (add_header(o, optarg) != 0)
                return -1;
            break;
        case 'd': {
            int rc = read_file(optarg, &o->data, &o->data_len);
            if (rc != 0) {
                fprintf(stderr, "loadgen: -d %s: %s\n", optarg, strerror(-rc));
                return -1;
            }
            o->data_path = optarg;
            break;
        }
        case 'r':
            if (parse_uint("-r", optarg, 0, 1000000, &v))
                return -1;
            o->rate = (unsigned)v;
            break;
        case OPT_RATE_PERIOD:
            if (lg_parse_duration(optarg, &o->rate_period) != 0 ||
                o->rate_period <= 0)
                return bad("--rate-period", optarg, "expected a duration");
            break;
        case 'D':
            if (lg_parse_duration(optarg, &o->duration) != 0 ||
                o->duration <= 0)
                return bad("-D", optarg, "expected a duration");
            break;
        case OPT_WARMUP:
            if (lg_parse_duration(optarg, &o->warmup) != 0)
                return bad("--warm-up-time", optarg, "expected a duration");
            break;
        case 'T':
            if (lg_parse_duration(optarg, &o->active_timeout) != 0)
                return bad("-T", optarg, "expected a duration");
            break;
        case 'N':
            if (lg_parse_duration(optarg, &o->idle_timeout) != 0)
                return bad("-N", optarg, "expected a duration");
            break;
        case 'B':
            base_uri = optarg;
            break;
        case OPT_CONNECT_TO:
            if (set_connect_to(o, optarg) != 0)
                return -1;
            break;
        case 'p':
            if (strcmp(optarg, "h2c") == 0 || strcmp(optarg, "h2c-14") == 0)
                o->cleartext_proto = LG_PROTO_H2;
            else if (strcmp(optarg, "http/1.1") == 0)
                o->cleartext_proto = LG_PROTO_H1;
            else
                return bad("-p", optarg, "expected h2c or http/1.1");
            break;
        case OPT_H1:
            o->h1 = 1;
            o->cleartext_proto = LG_PROTO_H1;
            if (set_npn(o, "http/1.1") != 0)
                return -1;
            break;
        case OPT_NPN:
            if (set_npn(o, optarg) != 0)
                return -1;
            break;
        case OPT_LOG_FILE:
            o->log_file = optarg;
            break;
        case OPT_RPS:
            if (parse_positive(optarg, &o->rps) != 0)
                return bad("--rps", optarg, "expected a positive number");
            break;
        case 'w':
        case 'W':
            if (parse_uint(c == 'w' ? "-w" : "-W", optarg, 0, 30, &v))
                return -1;
            if (c == 'w')
                o->window_bits = (unsigned)v;
            else
                o->conn_window_bits = (unsigned)v;
            break;
        case 'f':
            if (parse_uint("-f", optarg, 16384, 16777215, &v))
                return -1;
            o->max_frame_size = (uint32_t)v;
            break;
        case OPT_JSON:
            o->json_file = optarg;
            break;
        case OPT_FAIL_IF: {
            char err[512];
            lg_threshold *nt =
                realloc(o->fail_if, (o->nfail_if + 1) * sizeof *nt);
            if (nt == NULL)
                return -1;
            o->fail_if = nt;
            if (lg_threshold_parse(&nt[o->nfail_if], optarg, err, sizeof err) !=
                0) {
                fprintf(stderr, "loadgen: %s\n", err);
                return -1;
            }
            o->nfail_if++;
            break;
        }
        case OPT_MERGE:
            o->merge = 1;
            break;
        case OPT_ARRIVAL_RATE:
            if (parse_positive(optarg, &o->arrival_rate) != 0)
                return bad("--arrival-rate", optarg,
                           "expected a positive number");
            break;
        case 'v':
            o->verbose = 1;
            break;
        case OPT_VERSION:
            printf("loadgen %s (h2load nghttp2/1.52.0 compatible)\n",
                   LOADGEN_VERSION);
            return 1;
        case 'h':
            fputs(usage_text, stdout);
            return 1;
        case ':':
            fprintf(stderr, "loadgen: option %s needs a value\n",
                    argv[optind - 1]);
            return -1;
        default:
            fprintf(stderr, "loadgen: unknown option %s (see --help)\n",
                    argv[optind - 1]);
            return -1;
        }
    }

    if (o->merge) {
        /* The arguments are result files, not URIs. */
        o->merge_files = argv + optind;
        o->nmerge = (size_t)(argc - optind);
        if (o->nmerge == 0) {
            fprintf(stderr, "loadgen: --merge needs FILE... (--json "
                            "results)\n");
            return -1;
        }
        o->scheme = "";
        return 0;
    }

    if (input_file != NULL) {
        if (read_input_file(o, input_file) != 0)
            return -1;
    } else {
        for (; optind < argc; optind++)
            if (add_uri(o, argv[optind]) != 0)
                return -1;
    }
    if (o->nuris == 0) {
        fprintf(stderr, "loadgen: no URI given (see --help)\n");
        return -1;
    }
    if (o->uris[0].host[0] == '\0' && base_uri == NULL) {
        fprintf(stderr, "loadgen: the first URI must be absolute\n");
        return -1;
    }

    o->scheme = o->uris[0].scheme;
    snprintf(o->host, sizeof o->host, "%s", o->uris[0].host);
    snprintf(o->authority, sizeof o->authority, "%s", o->uris[0].authority);
    o->port = o->uris[0].port;
    if (base_uri != NULL) {
        if (strncmp(base_uri, "unix:", 5) == 0) {
            o->unix_path = strdup(base_uri + 5);
            if (o->unix_path == NULL || o->unix_path[0] == '\0')
                return bad("-B", base_uri, "empty unix socket path");
        } else {
            char err[256];
            if (lg_uri_parse(&base, base_uri, 0, err, sizeof err) != 0) {
                fprintf(stderr, "loadgen: -B: %s\n", err);
                return -1;
            }
            o->scheme = strcmp(base.scheme, "https") == 0 ? "https" : "http";
            snprintf(o->host, sizeof o->host, "%s", base.host);
            snprintf(o->authority, sizeof o->authority, "%s", base.authority);
            o->port = base.port;
            lg_uri_free(&base);
        }
    }
    if (o->host[0] == '\0')
        snprintf(o->host, sizeof o->host, "localhost");
    if (o->authority[0] == '\0')
        snprintf(o->authority, sizeof o->authority, "%s", o->host);
    o->tls = strcmp(o->scheme, "https") == 0;

    o->ntargets = 0;
    for (size_t i = 0; i < o->nuris; i++)
        o->ntargets += lg_uri_count(&o->uris[i]);

    if (o->rate != 0 && o->duration > 0) {
        fprintf(stderr, "loadgen: -r and -D are mutually exclusive\n");
        return -1;
    }
    if (o->arrival_rate > 0 && (o->rate > 0 || o->rps > 0)) {
        fprintf(stderr, "loadgen: --arrival-rate excludes -r and --rps\n");
        return -1;
    }
    if (o->warmup > 0 && o->duration <= 0) {
        fprintf(stderr, "loadgen: --warm-up-time needs -D\n");
        return -1;
    }
    if (o->duration <= 0 && o->nreqs < o->nclients) {
        fprintf(stderr, "loadgen: -n: the number of requests must be "
                        "greater than or equal to the clients (-c)\n");
        return -1;
    }
    if (o->nthreads > o->nclients) {
        fprintf(stderr, "loadgen: -t: the number of threads must be less "
                        "than or equal to the clients (-c)\n");
        return -1;
    }
    if (o->rate > o->nclients) {
        fprintf(stderr, "loadgen: -r: the rate must be less than or equal "
                        "to the clients (-c)\n");
        return -1;
    }
    if (o->rate != 0 && o->rate < o->nthreads) {
        fprintf(stderr, "loadgen: -r: the rate must be at least the "
                        "threads (-t)\n");
        return -1;
    }
    return 0;
}

void lg_options_free(lg_options *o) {
    size_t i;

    for (i = 0; i < o->nheaders; i++) {
        free(o->headers[i].name);
        free(o->headers[i].value);
    }
    free(o->headers);
    free(o->fail_if);
    for (i = 0; i < o->nuris; i++)
        lg_uri_free(&o->uris[i]);
    free(o->uris);
    free(o->data);
    free(o->unix_path);
    free(o->connect_host);
    free(o->alpn_wire);
    free(o->npn_list);
    memset(o, 0, sizeof *o);
}
