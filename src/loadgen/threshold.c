/* threshold.c: parsing and checking --fail-if conditions. */
#include "threshold.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

static const struct {
    const char *name;
    lg_metric m;
    int is_time;
} metrics[] = {
    {"p50", LG_M_P50, 1},         {"p75", LG_M_P75, 1},
    {"p90", LG_M_P90, 1},         {"p99.9", LG_M_P999, 1},
    {"p99", LG_M_P99, 1},         {"max", LG_M_MAX, 1},
    {"mean", LG_M_MEAN, 1},       {"failed", LG_M_FAILED, 0},
    {"errored", LG_M_ERRORED, 0}, {"timeout", LG_M_TIMEOUT, 0},
    {"rps", LG_M_RPS, 0},
};

const char *lg_metric_name(lg_metric m) {
    size_t i;

    for (i = 0; i < sizeof metrics / sizeof metrics[0]; i++)
        if (metrics[i].m == m)
            return metrics[i].name;
    return "?";
}

int lg_threshold_parse(lg_threshold *t, const char *s, char *err,
                       size_t errlen) {
    char tmp[64], *p = tmp, *q;
    size_t i, n = 0;
    int is_time = 0;

    memset(t, 0, sizeof *t);
    /* Spaces carry no meaning: "p99 > 300ms" is "p99>300ms". */
    for (; *s && n < sizeof tmp - 1; s++)
        if (*s != ' ')
            tmp[n++] = *s;
    tmp[n] = '\0';
    snprintf(t->text, sizeof t->text, "%s", tmp);
    for (i = 0; i < sizeof metrics / sizeof metrics[0]; i++) {
        size_t len = strlen(metrics[i].name);
        if (strncmp(p, metrics[i].name, len) == 0 &&
            strchr("<>", p[len]) != NULL && p[len] != '\0') {
            t->metric = metrics[i].m;
            is_time = metrics[i].is_time;
            p += len;
            break;
        }
    }
    if (i == sizeof metrics / sizeof metrics[0])
        goto bad;
    t->op = *p++;
    if (*p == '=') {
        t->op = t->op == '<' ? 'l' : 'g';
        p++;
    }
    if (*p == '\0')
        goto bad;
    if (is_time) {
        if (lg_parse_duration(p, &t->value) != 0)
            goto bad;
        return 0;
    }
    t->value = strtod(p, &q);
    if (q == p)
        goto bad;
    if (*q == '%' && t->metric != LG_M_RPS) {
        t->percent = 1;
        q++;
    }
    if (*q != '\0')
        goto bad;
    return 0;
bad:
    snprintf(err, errlen,
             "--fail-if \"%s\": expected METRIC OP VALUE, METRIC one of "
             "p50 p75 p90 p99 p99.9 max mean (VALUE a duration), failed "
             "errored timeout (a count or N%%), rps; OP < <= > >=",
             t->text);
    return -1;
}

int lg_threshold_holds(const lg_threshold *t, double v) {
    switch (t->op) {
    case '<':
        return v < t->value;
    case '>':
        return v > t->value;
    case 'l':
        return v <= t->value;
    default:
        return v >= t->value;
    }
}
