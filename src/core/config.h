/* config: one table describes every option; flags, environment variables
 * and a configuration file all set the same names.
 *
 * Precedence, lowest first: the table's default, the file (--config FILE or
 * PREFIX_CONFIG), the environment (PREFIX_NAME, dashes as underscores, upper
 * case), the command line (--name VALUE or --name=VALUE). A list option
 * (--listen may repeat) takes all of its values from the highest source
 * that sets it. The file has one `name = value` per line; `#` starts a
 * comment.
 *
 * Values land in a caller's struct at each option's offset:
 *   CONFIG_STRING, CONFIG_ENUM  char *       (owned; config_free)
 *   CONFIG_INT, CONFIG_SIZE     int64_t      (sizes in bytes)
 *   CONFIG_DURATION             int64_t      (milliseconds)
 *   CONFIG_BOOL                 int
 *   CONFIG_LIST                 config_list  (owned; config_free) */
#ifndef OBJECTD_CONFIG_H
#define OBJECTD_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum config_type {
    CONFIG_STRING,
    CONFIG_ENUM,
    CONFIG_INT,
    CONFIG_SIZE,
    CONFIG_DURATION,
    CONFIG_BOOL,
    CONFIG_LIST,
} config_type;

typedef struct config_list {
    char **items;
    size_t count;
} config_list;

typedef struct config_option {
    const char *name; /* flag name without "--" */
    config_type type;
    const char *def;     /* default, as text; NULL: unset (empty) */
    int64_t min, max;    /* bounds for numbers (ms for durations) */
    const char *choices; /* CONFIG_ENUM: "a|b|c" */
    size_t offset;       /* where the value lives in the target struct */
    const char *help;
} config_option;

typedef struct config_spec {
    const config_option *options;
    size_t count;
    const char *env_prefix; /* "OBJECTD" */
} config_spec;

enum {
    CONFIG_HELP = 1, /* config_load saw --help */
};

/* Loads every option of |spec| into |target| from the sources above, with
 * |argv| (|argc| entries, program and subcommand already removed).
 * Returns 0, CONFIG_HELP, or -EINVAL with a message naming the option and
 * the source in |err|. On error |target| may be partly set: call
 * config_free either way. */
int config_load(const config_spec *spec, void *target, int argc, char **argv,
                char *err, size_t errlen);

/* Frees the strings and lists config_load stored in |target|. */
void config_free(const config_spec *spec, void *target);

/* Writes one line per option: flag, value form, default, environment name
 * and help text. */
void config_print_help(const config_spec *spec, FILE *out);

/* Value parsers, exposed for tests. Each returns 0 or -EINVAL. */
int config_parse_int(const char *s, int64_t *out);
int config_parse_size(const char *s, int64_t *out);
int config_parse_duration_ms(const char *s, int64_t *out);
int config_parse_bool(const char *s, int *out);

#endif
