/* json_canon: canonical JSON output for jansson values. */
#include "json_canon.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtoa.h"
#include "json.h"

int json_append_double(buf *out, double d) {
    if (!isfinite(d))
        return -EINVAL; /* JSON has no NaN or infinity */
    char tmp[32];
    return buf_append(out, tmp, dtoa_shortest(d, tmp));
}

static int cmp_keys(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int json_canonical(const json_t *v, buf *out) {
    int rc = 0;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        size_t n = json_object_size(v);
        const char **keys = n ? malloc(n * sizeof *keys) : NULL;
        if (n && keys == NULL)
            return -ENOMEM;
        size_t i = 0;
        const char *k;
        json_t *val;
        json_object_foreach((json_t *)v, k, val) keys[i++] = k;
        if (n > 1)
            qsort(keys, n, sizeof *keys, cmp_keys);
        rc = buf_append_char(out, '{');
        for (i = 0; i < n && rc == 0; i++) {
            if (i)
                buf_append_char(out, ',');
            json_append_string(out, keys[i], strlen(keys[i]));
            buf_append_char(out, ':');
            rc = json_canonical(json_object_get(v, keys[i]), out);
        }
        free(keys);
        if (rc == 0)
            rc = buf_append_char(out, '}');
        return rc;
    }
    case JSON_ARRAY:
        rc = buf_append_char(out, '[');
        for (size_t i = 0; i < json_array_size(v) && rc == 0; i++) {
            if (i)
                buf_append_char(out, ',');
            rc = json_canonical(json_array_get(v, i), out);
        }
        return rc ? rc : buf_append_char(out, ']');
    case JSON_STRING:
        return json_append_string(out, json_string_value(v),
                                  json_string_length(v));
    case JSON_INTEGER: {
        char tmp[24];
        snprintf(tmp, sizeof tmp, "%" JSON_INTEGER_FORMAT,
                 json_integer_value(v));
        return buf_append_str(out, tmp);
    }
    case JSON_REAL:
        return json_append_double(out, json_real_value(v));
    case JSON_TRUE:
        return buf_append_str(out, "true");
    case JSON_FALSE:
        return buf_append_str(out, "false");
    case JSON_NULL:
        return buf_append_str(out, "null");
    }
    return -EINVAL;
}
