/* uri.c: absolute URIs with an optional {A..B} path template. */
#include "uri.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_u64(const char *s, size_t n, uint64_t *out) {
    uint64_t v = 0;
    size_t i;

    if (n == 0 || n > 18)
        return -1;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Splits |path| at a "{A..B}" template, if any. */
static int split_template(lg_uri *u, const char *path, char *err,
                          size_t errlen) {
    const char *open = strchr(path, '{'), *close, *dots;
    size_t plen;

    u->has_range = 0;
    if (open == NULL) {
        u->prefix = strdup(path);
        u->suffix = strdup("");
        goto check;
    }
    close = strchr(open, '}');
    dots = strstr(open, "..");
    if (close == NULL || dots == NULL || dots > close ||
        parse_u64(open + 1, (size_t)(dots - open - 1), &u->range_lo) != 0 ||
        parse_u64(dots + 2, (size_t)(close - dots - 2), &u->range_hi) != 0 ||
        u->range_lo > u->range_hi) {
        snprintf(err, errlen,
                 "bad template in \"%s\": expected {A..B} with 0 <= A <= B",
                 path);
        return -1;
    }
    if (strchr(close + 1, '{') != NULL) {
        snprintf(err, errlen, "\"%s\": only one {A..B} template per URI", path);
        return -1;
    }
    u->has_range = 1;
    plen = (size_t)(open - path);
    u->prefix = malloc(plen + 1);
    if (u->prefix != NULL) {
        memcpy(u->prefix, path, plen);
        u->prefix[plen] = '\0';
    }
    u->suffix = strdup(close + 1);
check:
    if (u->prefix == NULL || u->suffix == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

int lg_uri_parse(lg_uri *u, const char *s, int relative_ok, char *err,
                 size_t errlen) {
    const char *p, *host, *host_end, *path;
    unsigned long port = 0;
    size_t hlen;
    int ipv6 = 0;

    memset(u, 0, sizeof *u);
    if (s[0] == '/' && relative_ok) {
        strcpy(u->scheme, "http");
        return split_template(u, s, err, errlen);
    }
    if (strncmp(s, "http://", 7) == 0) {
        strcpy(u->scheme, "http");
        p = s + 7;
        u->port = 80;
    } else if (strncmp(s, "https://", 8) == 0) {
        strcpy(u->scheme, "https");
        p = s + 8;
        u->port = 443;
    } else {
        snprintf(err, errlen, "\"%s\": not an http:// or https:// URI", s);
        return -1;
    }
    host = p;
    if (*p == '[') {
        host_end = strchr(p, ']');
        if (host_end == NULL) {
            snprintf(err, errlen, "\"%s\": unterminated IPv6 literal", s);
            return -1;
        }
        host++;
        p = host_end + 1;
        ipv6 = 1;
    } else {
        while (*p && *p != ':' && *p != '/' && *p != '?')
            p++;
        host_end = p;
    }
    hlen = (size_t)(host_end - host);
    if (hlen == 0 || hlen >= sizeof u->host) {
        snprintf(err, errlen, "\"%s\": missing or too long host", s);
        return -1;
    }
    memcpy(u->host, host, hlen);
    u->host[hlen] = '\0';
    if (*p == ':') {
        char *end;
        p++;
        port = strtoul(p, &end, 10);
        if (end == p || port == 0 || port > 65535 ||
            (*end && *end != '/' && *end != '?')) {
            snprintf(err, errlen, "\"%s\": bad port", s);
            return -1;
        }
        u->port = (uint16_t)port;
        p = end;
    }
    path = *p ? p : "/";
    /* The authority keeps the port only when it was written. */
    snprintf(u->authority, sizeof u->authority, "%s%s%s", ipv6 ? "[" : "",
             u->host, ipv6 ? "]" : "");
    if (port != 0) {
        size_t n = strlen(u->authority);
        snprintf(u->authority + n, sizeof u->authority - n, ":%lu", port);
    }
    if (*path == '?') {
        /* "http://h?q" means "/?q". */
        char tmp[8192];
        if (snprintf(tmp, sizeof tmp, "/%s", path) >= (int)sizeof tmp) {
            snprintf(err, errlen, "\"%s\": path too long", s);
            return -1;
        }
        return split_template(u, tmp, err, errlen);
    }
    return split_template(u, path, err, errlen);
}

void lg_uri_free(lg_uri *u) {
    free(u->prefix);
    free(u->suffix);
    u->prefix = u->suffix = NULL;
}

uint64_t lg_uri_count(const lg_uri *u) {
    return u->has_range ? u->range_hi - u->range_lo + 1 : 1;
}

int lg_uri_append_path(const lg_uri *u, uint64_t i, buf *out) {
    int rc = buf_append_str(out, u->prefix);
    if (rc == 0 && u->has_range)
        rc = buf_append_u64(out, u->range_lo + i);
    if (rc == 0)
        rc = buf_append_str(out, u->suffix);
    return rc;
}
