/* config: table-driven options from defaults, file, environment and flags. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { SRC_DEFAULT, SRC_FILE, SRC_ENV, SRC_FLAG };

int config_parse_int(const char *s, int64_t *out) {
    if (*s == '\0')
        return -EINVAL;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end != '\0' || isspace((unsigned char)*s))
        return -EINVAL;
    *out = v;
    return 0;
}

/* A non-negative decimal number with an optional fraction, then a unit
 * looked up in |units| (name -> multiplier); the result must fit int64. */
typedef struct unit {
    const char *name;
    double mult;
} unit;

static int parse_with_units(const char *s, const unit *units, int64_t *out) {
    if (!isdigit((unsigned char)*s) && *s != '.')
        return -EINVAL;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v < 0)
        return -EINVAL;
    for (const unit *u = units; u->name; u++) {
        if (strcasecmp(end, u->name) == 0) {
            double r = v * u->mult;
            if (r > 9.0e18)
                return -EINVAL;
            *out = (int64_t)(r + 0.5);
            return 0;
        }
    }
    return -EINVAL;
}

int config_parse_size(const char *s, int64_t *out) {
    static const unit units[] = {
        {"", 1},
        {"b", 1},
        {"k", 1024.0},
        {"kb", 1024.0},
        {"kib", 1024.0},
        {"m", 1048576.0},
        {"mb", 1048576.0},
        {"mib", 1048576.0},
        {"g", 1073741824.0},
        {"gb", 1073741824.0},
        {"gib", 1073741824.0},
        {NULL, 0},
    };
    return parse_with_units(s, units, out);
}

int config_parse_duration_ms(const char *s, int64_t *out) {
    static const unit units[] = {
        {"", 1000},   {"s", 1000},    {"ms", 1},
        {"m", 60000}, {"h", 3600000}, {NULL, 0},
    };
    return parse_with_units(s, units, out);
}

int config_parse_bool(const char *s, int *out) {
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -EINVAL;
}

static void *field(void *target, const config_option *o) {
    return (char *)target + o->offset;
}

static int enum_ok(const config_option *o, const char *v) {
    size_t n = strlen(v);
    const char *p = o->choices;
    while (p && *p) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, v, n) == 0)
            return 1;
        p = bar ? bar + 1 : NULL;
    }
    return 0;
}

static const char *source_name(int src) {
    switch (src) {
    case SRC_FILE:
        return "in the config file";
    case SRC_ENV:
        return "in the environment";
    case SRC_DEFAULT:
        return "as the default";
    default:
        return "on the command line";
    }
}

static void list_clear(config_list *l) {
    for (size_t i = 0; i < l->count; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->count = 0;
}

/* Sets one option from text. |list_src| tracks, per list option, the
 * source that last set it, so that a higher source replaces the list. */
static int set_value(const config_option *o, void *target, const char *v,
                     int src, int *list_src, char *err, size_t errlen) {
    int rc = 0;
    int64_t n = 0;
    const char *why = NULL;
    switch (o->type) {
    case CONFIG_STRING:
    case CONFIG_ENUM: {
        if (o->type == CONFIG_ENUM && !enum_ok(o, v)) {
            why = o->choices;
            rc = -EINVAL;
            break;
        }
        char **p = field(target, o);
        char *copy = strdup(v);
        if (copy == NULL)
            return -ENOMEM;
        free(*p);
        *p = copy;
        break;
    }
    case CONFIG_INT:
    case CONFIG_SIZE:
    case CONFIG_DURATION:
        if (o->type == CONFIG_INT)
            rc = config_parse_int(v, &n), why = "an integer";
        else if (o->type == CONFIG_SIZE)
            rc = config_parse_size(v, &n), why = "a size like 16k or 8m";
        else
            rc = config_parse_duration_ms(v, &n),
            why = "a duration like 500ms, 10s or 2m";
        if (rc == 0 && (n < o->min || n > o->max)) {
            snprintf(err, errlen,
                     "invalid value '%s' for --%s %s: out of range "
                     "[%lld, %lld]%s",
                     v, o->name, source_name(src), (long long)o->min,
                     (long long)o->max,
                     o->type == CONFIG_DURATION ? " ms" : "");
            return -EINVAL;
        }
        if (rc == 0)
            *(int64_t *)field(target, o) = n;
        break;
    case CONFIG_BOOL:
        rc = config_parse_bool(v, (int *)field(target, o));
        why = "true or false";
        break;
    case CONFIG_LIST: {
        config_list *l = field(target, o);
        if (*list_src != src)
            list_clear(l);
        *list_src = src;
        if (*v == '\0')
            break; /* an empty value clears the list */
        char **items = realloc(l->items, (l->count + 1) * sizeof *items);
        if (items == NULL)
            return -ENOMEM;
        l->items = items;
        if ((items[l->count] = strdup(v)) == NULL)
            return -ENOMEM;
        l->count++;
        break;
    }
    }
    if (rc == -EINVAL)
        snprintf(err, errlen, "invalid value '%s' for --%s %s: expected %s", v,
                 o->name, source_name(src), why);
    return rc;
}

static const config_option *find(const config_spec *spec, const char *name,
                                 size_t len) {
    for (size_t i = 0; i < spec->count; i++) {
        const config_option *o = &spec->options[i];
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
            return o;
    }
    return NULL;
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static int load_file(const config_spec *spec, void *target, const char *path,
                     int *list_src, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "cannot open config file '%s': %s", path,
                 strerror(errno));
        return -EINVAL;
    }
    char line[4096];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *s = trim(line);
        if (*s == '\0')
            continue;
        char *eq = strchr(s, '=');
        if (eq == NULL) {
            snprintf(err, errlen, "%s:%d: expected 'name = value'", path,
                     lineno);
            rc = -EINVAL;
            break;
        }
        *eq = '\0';
        char *name = trim(s), *value = trim(eq + 1);
        const config_option *o = find(spec, name, strlen(name));
        if (o == NULL || strcmp(name, "config") == 0) {
            snprintf(err, errlen, "%s:%d: unknown option '%s'", path, lineno,
                     name);
            rc = -EINVAL;
            break;
        }
        rc = set_value(o, target, value, SRC_FILE, &list_src[o - spec->options],
                       err, errlen);
    }
    fclose(f);
    return rc;
}

static void env_name(const config_spec *spec, const config_option *o, char *out,
                     size_t outlen) {
    size_t n = (size_t)snprintf(out, outlen, "%s_", spec->env_prefix);
    for (const char *p = o->name; *p && n + 1 < outlen; p++)
        out[n++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    out[n] = '\0';
}

int config_load(const config_spec *spec, void *target, int argc, char **argv,
                char *err, size_t errlen) {
    int rc = 0;
    int *list_src = calloc(spec->count, sizeof *list_src);
    if (list_src == NULL)
        return -ENOMEM;
    err[0] = '\0';

    for (size_t i = 0; i < spec->count && rc == 0; i++) {
        const config_option *o = &spec->options[i];
        list_src[i] = -1;
        if (o->def)
            rc = set_value(o, target, o->def, SRC_DEFAULT, &list_src[i], err,
                           errlen);
    }
    if (rc)
        goto out;

    /* The file first: flags and environment override it. */
    const char *file = NULL;
    char envname[128];
    snprintf(envname, sizeof envname, "%s_CONFIG", spec->env_prefix);
    file = getenv(envname);
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            file = argv[i + 1];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            file = argv[i] + 9;
    }
    if (file && *file &&
        (rc = load_file(spec, target, file, list_src, err, errlen)) != 0)
        goto out;

    for (size_t i = 0; i < spec->count && rc == 0; i++) {
        const config_option *o = &spec->options[i];
        if (strcmp(o->name, "config") == 0)
            continue;
        env_name(spec, o, envname, sizeof envname);
        const char *v = getenv(envname);
        if (v == NULL)
            continue;
        if (o->type == CONFIG_LIST) {
            /* A list in the environment is comma-separated. */
            char *copy = strdup(v), *save = NULL;
            if (copy == NULL) {
                rc = -ENOMEM;
                break;
            }
            config_list *l = field(target, o);
            list_clear(l);
            list_src[i] = SRC_ENV;
            for (char *t = strtok_r(copy, ",", &save); t && rc == 0;
                 t = strtok_r(NULL, ",", &save))
                rc = set_value(o, target, trim(t), SRC_ENV, &list_src[i], err,
                               errlen);
            free(copy);
        } else {
            rc = set_value(o, target, v, SRC_ENV, &list_src[i], err, errlen);
        }
        if (rc && err[0] && strstr(err, "environment"))
            snprintf(err + strlen(err), errlen - strlen(err), " (%s)", envname);
    }
    if (rc)
        goto out;

    for (int i = 0; i < argc && rc == 0; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            rc = CONFIG_HELP;
            break;
        }
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            snprintf(err, errlen, "unexpected argument '%s'", a);
            rc = -EINVAL;
            break;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const config_option *o = find(spec, name, nlen);
        if (o == NULL) {
            snprintf(err, errlen, "unknown option '--%.*s'", (int)nlen, name);
            rc = -EINVAL;
            break;
        }
        const char *v;
        if (eq) {
            v = eq + 1;
        } else if (o->type == CONFIG_BOOL) {
            v = "true";
        } else if (i + 1 < argc) {
            v = argv[++i];
        } else {
            snprintf(err, errlen, "option '--%s' needs a value", o->name);
            rc = -EINVAL;
            break;
        }
        if (strcmp(o->name, "config") == 0)
            continue; /* already loaded */
        rc = set_value(o, target, v, SRC_FLAG, &list_src[o - spec->options],
                       err, errlen);
    }
out:
    free(list_src);
    return rc;
}

void config_free(const config_spec *spec, void *target) {
    for (size_t i = 0; i < spec->count; i++) {
        const config_option *o = &spec->options[i];
        if (o->type == CONFIG_STRING || o->type == CONFIG_ENUM) {
            char **p = field(target, o);
            free(*p);
            *p = NULL;
        } else if (o->type == CONFIG_LIST) {
            list_clear(field(target, o));
        }
    }
}

void config_print_help(const config_spec *spec, FILE *out) {
    static const char *const forms[] = {
        [CONFIG_STRING] = "STR",   [CONFIG_ENUM] = "WORD",
        [CONFIG_INT] = "N",        [CONFIG_SIZE] = "SIZE",
        [CONFIG_DURATION] = "DUR", [CONFIG_BOOL] = "[BOOL]",
        [CONFIG_LIST] = "STR",
    };
    for (size_t i = 0; i < spec->count; i++) {
        const config_option *o = &spec->options[i];
        char flag[64], env[128];
        snprintf(flag, sizeof flag, "--%s %s", o->name, forms[o->type]);
        env_name(spec, o, env, sizeof env);
        fprintf(out, "  %-34s %s\n", flag, o->help);
        fprintf(out, "  %-34s default: %s%s%s; env %s\n", "",
                o->def && *o->def ? o->def : "(none)",
                o->type == CONFIG_ENUM ? "; one of " : "",
                o->type == CONFIG_ENUM ? o->choices : "", env);
    }
}
