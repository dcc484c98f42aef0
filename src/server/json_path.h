/* json_path: the value at a dotted path ("metrics.temperature.p99") in a
 * JSON text, found by scanning the text - no tree is built.
 *
 * The summary endpoint asks for a few fields of hundreds of analyses of
 * ~120 KB each; parsing each one into a jansson tree cost ~2 ms, a scan
 * that skips what it does not need costs a tenth of that. */
#ifndef OBJECTD_JSON_PATH_H
#define OBJECTD_JSON_PATH_H

#include <stddef.h>

/* Finds |path| in the JSON |text|: at each object level the longest run
 * of the remaining dot-separated parts that is a key of that object wins,
 * so keys that contain dots (metric names may) still resolve. Keys are
 * compared as written: a key holding a backslash escape never matches
 * (the path is made of token characters, which JSON writers, ours
 * included, never escape). On success sets |*value| and |*len| to the
 * value's text, exactly as it appears, and returns 0; -1 when the path
 * is absent or the text is not well-formed where the scan went. */
int json_path_find(const char *text, size_t text_len, const char *path,
                   const char **value, size_t *len);

#endif
