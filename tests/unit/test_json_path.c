/* Unit tests: json_path_find, against jansson as the reference: every
 * path of the checked-in analysis example (pretty and compact) resolves to
 * a text that jansson parses to the same value jansson finds there; plus
 * dotted keys, escapes inside strings, absent paths and broken text. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_path.h"
#include "test.h"

static int paths_checked;

/* The value json_path_find gives for |path| in |text| equals |want|. */
static void check_path(const char *text, const char *path, json_t *want) {
    const char *v;
    size_t n;
    int rc = json_path_find(text, strlen(text), path, &v, &n);
    CHECK_EQ_INT(rc, 0);
    if (rc != 0) {
        fprintf(stderr, "  path %s not found\n", path);
        return;
    }
    json_t *got = json_loadb(v, n, JSON_DECODE_ANY, NULL);
    CHECK(got != NULL && json_equal(got, want));
    if (got == NULL || !json_equal(got, want))
        fprintf(stderr, "  path %s: %.*s\n", path, (int)(n > 80 ? 80 : n), v);
    json_decref(got);
    paths_checked++;
}

/* Every member path under |node| (keys without dots: those are tested on
 * their own below). */
static void walk(const char *text, json_t *node, char *path, size_t plen) {
    const char *key;
    json_t *v;
    json_object_foreach(node, key, v) {
        if (strchr(key, '.') || plen + strlen(key) + 2 > 512)
            continue;
        size_t n = plen;
        if (plen)
            path[n++] = '.';
        strcpy(path + n, key);
        check_path(text, path, v);
        if (json_is_object(v))
            walk(text, v, path, n + strlen(key));
        path[plen] = '\0';
    }
}

static void test_example(void) {
    json_error_t err;
    json_t *doc = json_load_file(
        OBJECTD_SOURCE_DIR "/docs/analysis-example.json", 0, &err);
    CHECK(doc != NULL);
    if (doc == NULL)
        return;
    char *pretty = json_dumps(doc, JSON_INDENT(2));
    char *compact = json_dumps(doc, JSON_COMPACT);
    char path[512] = "";
    walk(pretty, doc, path, 0);
    walk(compact, doc, path, 0);
    CHECK(paths_checked > 100);
    const char *v;
    size_t n;
    CHECK_EQ_INT(
        json_path_find(compact, strlen(compact), "metrics.nope.p99", &v, &n),
        -1);
    CHECK_EQ_INT(
        json_path_find(compact, strlen(compact), "object.name.x", &v, &n), -1);
    free(pretty);
    free(compact);
    json_decref(doc);
}

static void expect(const char *text, const char *path, const char *want) {
    const char *v;
    size_t n;
    int rc = json_path_find(text, strlen(text), path, &v, &n);
    if (want == NULL) {
        CHECK_EQ_INT(rc, -1);
        return;
    }
    CHECK_EQ_INT(rc, 0);
    if (rc == 0) {
        char got[256];
        snprintf(got, sizeof got, "%.*s", (int)n, v);
        CHECK_EQ_STR(got, want);
    }
}

static void test_cases(void) {
    /* Dotted keys: the longest run of parts that is a key wins. */
    const char *t = "{\"m\":{\"a\":{\"b\":1},\"a.b\":{\"c\":2},\"a.b.c\":3}}";
    expect(t, "m.a.b.c", "3");
    expect(t, "m.a.b", "{\"c\":2}");
    expect(t, "m.a", "{\"b\":1}");
    expect(t, "m.a.x", NULL);
    /* Strings holding brackets, quotes and escapes are skipped whole. */
    t = "{\"s\":\"}{][\\\"\\\\\",\"arr\":[{\"x\":\"]\"},[1,2]],\"k\":-1.5e+3}";
    expect(t, "k", "-1.5e+3");
    expect(t, "arr", "[{\"x\":\"]\"},[1,2]]");
    expect(t, "s", "\"}{][\\\"\\\\\"");
    /* Whitespace anywhere JSON allows it. */
    expect(" {\n \"a\" : { \"b\" :\ttrue } , \"c\":null}\n", "a.b", "true");
    expect("{\"a\":{},\"c\":null}", "c", "null");
    /* Escaped keys never match; arrays are not walked into. */
    expect("{\"\\u0061\":1}", "a", NULL);
    expect("{\"a\":[{\"b\":1}]}", "a.b", NULL);
    expect("{\"a\":{}}", "a.b", NULL);
    /* Broken text: no crash, not found. */
    expect("{\"a\":", "a", NULL);
    expect("{\"a\":{\"b\":1", "a.b", NULL);
    expect("{\"a\" 1}", "a", NULL);
    expect("{\"a\":\"unterminated}", "a", NULL);
    expect("[1,2]", "a", NULL);
    expect("", "a", NULL);
    /* Paths: empty, too long. */
    expect("{\"a\":1}", "", NULL);
    char longp[400];
    memset(longp, 'a', sizeof longp - 1);
    longp[sizeof longp - 1] = '\0';
    expect("{\"a\":1}", longp, NULL);
}

int main(void) {
    TEST_RUN(test_example);
    TEST_RUN(test_cases);
    return TEST_END();
}
