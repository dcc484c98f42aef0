/* options: loadgen's command line, with h2load's option names, meanings
 * and value syntax (sizes with K/M/G, durations with h/m/s/ms/us). */
#ifndef LOADGEN_OPTIONS_H
#define LOADGEN_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "threshold.h"
#include "uri.h"

typedef enum lg_proto {
    LG_PROTO_H2 = 0, /* h2c with prior knowledge, or h2 by ALPN */
    LG_PROTO_H1 = 1, /* http/1.1 */
} lg_proto;

typedef struct lg_header {
    char *name; /* lower case */
    char *value;
} lg_header;

typedef struct lg_options {
    uint64_t nreqs;       /* -n: requests across all clients */
    unsigned nclients;    /* -c */
    unsigned nthreads;    /* -t */
    unsigned max_streams; /* -m: streams per connection / h1 pipeline */
    lg_header *headers;   /* -H, in order */
    size_t nheaders;
    char *data; /* -d: the file's bytes (POST body), or NULL */
    size_t data_len;
    const char *data_path;
    unsigned rate;         /* -r: new connections per period, 0: off */
    double rate_period;    /* --rate-period, seconds */
    double duration;       /* -D, seconds, 0: off */
    double warmup;         /* --warm-up-time, seconds */
    double active_timeout; /* -T, seconds, 0: off */
    double idle_timeout;   /* -N, seconds, 0: off */
    char *unix_path;       /* -B unix:PATH */
    char *connect_host;    /* --connect-to HOST[:PORT], or NULL */
    uint16_t connect_port;
    lg_proto cleartext_proto; /* -p / --h1 for http:// */
    char *alpn_wire;          /* --npn-list as ALPN wire bytes */
    size_t alpn_wire_len;
    char *npn_list;        /* as given */
    const char *log_file;  /* --log-file */
    double rps;            /* --rps per client, 0: unlimited */
    int verbose;           /* -v */
    const char *json_file; /* --json */
    lg_threshold *fail_if; /* --fail-if, any number */
    size_t nfail_if;
    double arrival_rate; /* --arrival-rate: requests/s, 0: off */
    int merge;           /* --merge: combine --json results */
    char **merge_files;  /* the files (argv's strings) */
    size_t nmerge;
    unsigned window_bits;      /* -w */
    unsigned conn_window_bits; /* -W */
    uint32_t max_frame_size;   /* -f */
    int h1;                    /* --h1 given */
    lg_uri *uris;              /* what to request, walked round robin */
    size_t nuris;
    uint64_t ntargets;  /* sum of lg_uri_count over uris */
    int tls;            /* the first URI (or -B) is https */
    const char *scheme; /* "http" or "https" */
    char host[256];     /* where to connect and what SNI says */
    uint16_t port;
    char authority[300]; /* :authority / Host */
    int argc;            /* the command line, for --json */
    char **argv;
} lg_options;

/* Fills |o| from the command line. Returns 0 to run, 1 when --help or
 * --version was printed (exit 0), or -1 after printing an error to stderr
 * (exit 1). lg_options_free releases what it allocated. */
int lg_options_parse(lg_options *o, int argc, char **argv);
void lg_options_free(lg_options *o);

/* h2load's value syntax. 0 or -1. */
int lg_parse_size(const char *s, uint64_t *out);
int lg_parse_duration(const char *s, double *out);

#endif
