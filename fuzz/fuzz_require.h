/* fuzz_require.h: the invariant check of the fuzz targets - a crash
 * libFuzzer reports, with the condition that failed. */
#ifndef OBJECTD_FUZZ_REQUIRE_H
#define OBJECTD_FUZZ_REQUIRE_H

#include <stdio.h>
#include <stdlib.h>

#define REQUIRE(cond)                                                          \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__,         \
                    __LINE__, #cond);                                          \
            abort();                                                           \
        }                                                                      \
    } while (0)

#endif
