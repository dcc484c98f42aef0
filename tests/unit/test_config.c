/* Unit tests: the config table (parsers, precedence, errors). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "options.h"
#include "test.h"

static void test_parsers(void) {
    int64_t v;
    CHECK_EQ_INT(config_parse_size("16k", &v), 0);
    CHECK_EQ_INT(v, 16384);
    CHECK_EQ_INT(config_parse_size("8m", &v), 0);
    CHECK_EQ_INT(v, 8 * 1048576);
    CHECK_EQ_INT(config_parse_size("1MiB", &v), 0);
    CHECK_EQ_INT(v, 1048576);
    CHECK_EQ_INT(config_parse_size("123", &v), 0);
    CHECK_EQ_INT(v, 123);
    CHECK_EQ_INT(config_parse_size("1x", &v), -EINVAL);
    CHECK_EQ_INT(config_parse_size("-1k", &v), -EINVAL);
    CHECK_EQ_INT(config_parse_size("", &v), -EINVAL);
    CHECK_EQ_INT(config_parse_size("99999999999g", &v), -EINVAL);
    CHECK_EQ_INT(config_parse_duration_ms("500ms", &v), 0);
    CHECK_EQ_INT(v, 500);
    CHECK_EQ_INT(config_parse_duration_ms("2s", &v), 0);
    CHECK_EQ_INT(v, 2000);
    CHECK_EQ_INT(config_parse_duration_ms("1.5", &v), 0);
    CHECK_EQ_INT(v, 1500);
    CHECK_EQ_INT(config_parse_duration_ms("2m", &v), 0);
    CHECK_EQ_INT(v, 120000);
    CHECK_EQ_INT(config_parse_duration_ms("1h", &v), 0);
    CHECK_EQ_INT(v, 3600000);
    CHECK_EQ_INT(config_parse_duration_ms("soon", &v), -EINVAL);
    CHECK_EQ_INT(config_parse_int("42", &v), 0);
    CHECK_EQ_INT(v, 42);
    CHECK_EQ_INT(config_parse_int("4 2", &v), -EINVAL);
    CHECK_EQ_INT(config_parse_int("abc", &v), -EINVAL);
    CHECK_EQ_INT(config_parse_int("99999999999999999999", &v), -EINVAL);
    int b;
    CHECK_EQ_INT(config_parse_bool("yes", &b), 0);
    CHECK_EQ_INT(b, 1);
    CHECK_EQ_INT(config_parse_bool("off", &b), 0);
    CHECK_EQ_INT(b, 0);
    CHECK_EQ_INT(config_parse_bool("maybe", &b), -EINVAL);
}

static int load(options *o, int argc, char **argv, char *err) {
    memset(o, 0, sizeof *o);
    return config_load(&options_spec, o, argc, argv, err, 512);
}

static void test_defaults(void) {
    options o;
    char err[512];
    unsetenv("OBJECTD_LISTEN");
    unsetenv("OBJECTD_THREADS");
    unsetenv("OBJECTD_CONFIG");
    CHECK_EQ_INT(load(&o, 0, NULL, err), 0);
    CHECK_EQ_INT(o.listen.count, 1);
    CHECK_EQ_STR(o.listen.items[0], "0.0.0.0:8080");
    CHECK_EQ_INT(o.threads, 0);
    CHECK_EQ_INT(o.max_header_bytes, 16384);
    CHECK_EQ_INT(o.header_timeout_ms, 10000);
    CHECK_EQ_STR(o.access_log, "-");
    CHECK_EQ_STR(o.log_level, "info");
    config_free(&options_spec, &o);
}

static void test_flags(void) {
    options o;
    char err[512];
    char *argv[] = {"--listen", "127.0.0.1:1",  "--listen=[::1]:2", "--threads",
                    "3",        "--debug-echo", "--idle-timeout",   "250ms"};
    CHECK_EQ_INT(load(&o, 8, argv, err), 0);
    CHECK_EQ_INT(o.listen.count, 2);
    CHECK_EQ_STR(o.listen.items[1], "[::1]:2");
    CHECK_EQ_INT(o.threads, 3);
    CHECK_EQ_INT(o.debug_echo, 1);
    CHECK_EQ_INT(o.idle_timeout_ms, 250);
    config_free(&options_spec, &o);

    char *bad[] = {"--threads", "abc"};
    CHECK_EQ_INT(load(&o, 2, bad, err), -EINVAL);
    CHECK(strstr(err, "--threads") != NULL);
    config_free(&options_spec, &o);
    char *range[] = {"--threads=5000"};
    CHECK_EQ_INT(load(&o, 1, range, err), -EINVAL);
    CHECK(strstr(err, "out of range") != NULL);
    config_free(&options_spec, &o);
    char *unknown[] = {"--nope"};
    CHECK_EQ_INT(load(&o, 1, unknown, err), -EINVAL);
    CHECK(strstr(err, "--nope") != NULL);
    config_free(&options_spec, &o);
    char *missing[] = {"--threads"};
    CHECK_EQ_INT(load(&o, 1, missing, err), -EINVAL);
    config_free(&options_spec, &o);
    char *level[] = {"--log-level", "loud"};
    CHECK_EQ_INT(load(&o, 2, level, err), -EINVAL);
    CHECK(strstr(err, "debug|info|warn|error") != NULL);
    config_free(&options_spec, &o);
    char *help[] = {"--help"};
    CHECK_EQ_INT(load(&o, 1, help, err), CONFIG_HELP);
    config_free(&options_spec, &o);
}

static void test_precedence(void) {
    options o;
    char err[512];
    char path[] = "/tmp/objectd-test-config-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    const char text[] = "# a comment\nthreads = 4\nlisten = 1.2.3.4:5\n"
                        "idle-timeout = 3s  # trailing comment\n"
                        "max-body-bytes=1k\n";
    CHECK(write(fd, text, sizeof text - 1) == (ssize_t)(sizeof text - 1));
    close(fd);
    char *argv[] = {"--config", path, "--threads", "2"};
    setenv("OBJECTD_IDLE_TIMEOUT", "7s", 1);
    CHECK_EQ_INT(load(&o, 4, argv, err), 0);
    CHECK_EQ_INT(o.threads, 2);            /* flag beats file */
    CHECK_EQ_INT(o.idle_timeout_ms, 7000); /* env beats file */
    CHECK_EQ_INT(o.max_body_bytes, 1024);  /* file beats default */
    CHECK_EQ_INT(o.listen.count, 1);       /* file list replaces default */
    CHECK_EQ_STR(o.listen.items[0], "1.2.3.4:5");
    config_free(&options_spec, &o);

    setenv("OBJECTD_LISTEN", "127.0.0.1:7,127.0.0.1:8", 1);
    CHECK_EQ_INT(load(&o, 2, argv, err), 0);
    CHECK_EQ_INT(o.listen.count, 2); /* env list replaces the file's */
    config_free(&options_spec, &o);
    char *flag_listen[] = {"--config", path, "--listen", "127.0.0.1:9"};
    CHECK_EQ_INT(load(&o, 4, flag_listen, err), 0);
    CHECK_EQ_INT(o.listen.count, 1); /* flags replace env's list */
    CHECK_EQ_STR(o.listen.items[0], "127.0.0.1:9");
    config_free(&options_spec, &o);
    unsetenv("OBJECTD_LISTEN");

    setenv("OBJECTD_THREADS", "x", 1);
    CHECK_EQ_INT(load(&o, 0, NULL, err), -EINVAL);
    CHECK(strstr(err, "OBJECTD_THREADS") != NULL);
    config_free(&options_spec, &o);
    unsetenv("OBJECTD_THREADS");
    unsetenv("OBJECTD_IDLE_TIMEOUT");

    fd = open(path, O_WRONLY | O_TRUNC);
    CHECK(write(fd, "bogus = 1\n", 10) == 10);
    close(fd);
    char *argv2[] = {"--config", path};
    CHECK_EQ_INT(load(&o, 2, argv2, err), -EINVAL);
    CHECK(strstr(err, "bogus") != NULL);
    config_free(&options_spec, &o);
    unlink(path);
    char *nofile[] = {"--config", "/nonexistent/objectd.conf"};
    CHECK_EQ_INT(load(&o, 2, nofile, err), -EINVAL);
    config_free(&options_spec, &o);
}

static void test_help_lists_everything(void) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    config_print_help(&options_spec, f);
    fclose(f);
    for (size_t i = 0; i < options_spec.count; i++) {
        char flag[80];
        snprintf(flag, sizeof flag, "--%s ", options_spec.options[i].name);
        CHECK(strstr(text, flag) != NULL);
    }
    CHECK(strstr(text, "OBJECTD_MAX_HEADER_BYTES") != NULL);
    CHECK(strstr(text, "default: 0.0.0.0:8080") != NULL);
    free(text);
}

int main(void) {
    TEST_RUN(test_parsers);
    TEST_RUN(test_defaults);
    TEST_RUN(test_flags);
    TEST_RUN(test_precedence);
    TEST_RUN(test_help_lists_everything);
    return TEST_END();
}
