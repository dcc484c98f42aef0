/* analysis_example: prints the analysis of a small fixed input, the one
 * checked in as docs/analysis-example.json.
 *
 * Two metrics over three days of half-hourly readings with a daily cycle
 * and a spike each, six revisions by three authors, twelve events. Every
 * input number is exact decimal arithmetic (no libm), so the output is the
 * same on every IEEE 754 machine. test_analysis compares the file with
 * this program's output byte for byte; after a deliberate change to the
 * output, regenerate it:
 *
 *   ./analysis_example > docs/analysis-example.json
 *
 * test_analysis includes this file with ANALYSIS_EXAMPLE_NO_MAIN. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>

#include "analysis.h"

#define EX_DAY INT64_C(86400000000)
#define EX_HALF_HOUR INT64_C(1800000000)
/* 2026-11-26T00:00:00Z */
#define EX_START INT64_C(1795651200000000)

enum { EX_DAYS = 3, EX_READINGS = EX_DAYS * 48 };

/* Writes the example analysis to |out|. 0 or a negative errno. */
static int analysis_example(int pretty, buf *out) {
    an_obs temp[EX_READINGS], pres[EX_READINGS];
    for (int i = 0; i < EX_READINGS; i++) {
        int slot = i % 48, day = i / 48;
        /* A triangle wave, coldest at midnight, warmest at noon. */
        int tri = slot < 24 ? slot : 48 - slot;
        temp[i].ts = pres[i].ts = EX_START + i * EX_HALF_HOUR;
        temp[i].value = (double)(180 + 3 * tri + 2 * day) / 10;
        pres[i].value = (double)(101300 - 7 * tri + 25 * day) / 100;
    }
    temp[62].value = 45.5;    /* day 1, 07:00 */
    pres[111].value = 990.25; /* day 2, 07:30 */
    const an_series series[] = {
        {"temperature", temp, EX_READINGS},
        {"pressure", pres, EX_READINGS},
    };

    const int64_t hh = EX_HALF_HOUR;
    const an_revision revs[] = {
        {1, EX_START - 40 * EX_DAY, "alice", "{\"floor\":2,\"zone\":\"b\"}", 0},
        {2, EX_START - 35 * EX_DAY, "bob",
         "{\"floor\":2,\"limits\":{\"max\":90,\"min\":10},\"zone\":\"b\"}", 0},
        {3, EX_START + 18 * hh, "alice",
         "{\"floor\":3,\"limits\":{\"max\":90,\"min\":10},\"zone\":\"b\"}", 0},
        {4, EX_START + 60 * hh, "carol",
         "{\"floor\":3,\"limits\":{\"max\":95,\"min\":10},\"zone\":\"b\"}", 0},
        {5, EX_START + 100 * hh + 1234, "bob",
         "{\"floor\":3,\"limits\":{\"max\":95,\"min\":10},"
         "\"tags\":[\"hot\",\"north\"]}",
         0},
        {6, EX_START + 120 * hh, "carol",
         "{\"floor\":3,\"limits\":{\"max\":95,\"min\":10},"
         "\"tags\":[\"hot\",\"north\"],\"zone\":\"c\"}",
         0},
    };

    const an_event events[] = {
        {EX_START + 2 * hh, "note", "info", "installed", NULL},
        {EX_START + 10 * hh, "maintenance", "info", "filter changed",
         "{\"by\":\"bob\",\"minutes\":20}"},
        {EX_START + 44 * hh, "note", "info", "door opened", NULL},
        {EX_START + 52 * hh, "maintenance", "warning", "pump noisy",
         "{\"pump\":2}"},
        {EX_START + 62 * hh, "alarm", "warning", "temperature high",
         "{\"limit\":40,\"value\":45.5}"},
        {EX_START + 63 * hh, "alarm", "info", "temperature normal", NULL},
        {EX_START + 80 * hh, "note", "info", "inspection passed",
         "{\"inspector\":\"d. jones\",\"score\":0.93}"},
        {EX_START + 94 * hh, "maintenance", "info", "pump replaced",
         "{\"parts\":[\"seal\",\"impeller\"],\"pump\":2}"},
        {EX_START + 111 * hh, "alarm", "critical", "pressure low",
         "{\"limit\":1000,\"value\":990.25}"},
        {EX_START + 112 * hh, "alarm", "info", "pressure normal", NULL},
        {EX_START + 120 * hh, "note", "info", "zone changed to \"c\"", NULL},
        {EX_START + 142 * hh, "alarm", "warning", "sensor drift", "{}"},
    };

    an_input in = {
        .object = {42, 6, "sensor", "boiler-7", revs[5].attributes,
                   revs[5].updated_at, "carol"},
        .revisions = revs,
        .nrevisions = sizeof revs / sizeof revs[0],
        .series = series,
        .nseries = sizeof series / sizeof series[0],
        .events = events,
        .nevents = sizeof events / sizeof events[0],
        .to = temp[EX_READINGS - 1].ts,
    };
    in.from = analysis_default_from(in.to);
    return analysis_write(&in, pretty, out);
}

#ifndef ANALYSIS_EXAMPLE_NO_MAIN
int main(void) {
    buf out;
    buf_init(&out, 0);
    int rc = analysis_example(1, &out);
    if (rc == 0)
        rc = buf_append_char(&out, '\n'); /* as the API answers it */
    if (rc == 0 && fwrite(out.data, 1, out.len, stdout) != out.len)
        rc = -EIO;
    buf_free(&out);
    if (rc) {
        fprintf(stderr, "analysis_example: error %d\n", rc);
        return 1;
    }
    return 0;
}
#endif
