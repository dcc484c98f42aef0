/* api_objects: the revisioned-objects endpoints of /api/v1 (SPEC.md 2).
 *
 * Each handler validates everything it can before touching the store (400
 * syntax, 415 content type, 422 broken rule - with a JSON pointer per
 * field), then makes one asynchronous store call and answers from its
 * callback on the same loop thread. Writes are compare-and-set when the
 * client sends If-Match; PATCH is read-merge-write with compare-and-set
 * against the revision it read, retried when another writer got there
 * first, so concurrent writers never lose an update. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "api_util.h"
#include "base64.h"
#include "json.h"
#include "json_canon.h"
#include "query.h"
#include "server.h"
#include "store.h"
#include "timeutil.h"

enum {
    MAX_TYPE_BYTES = 64,
    MAX_NAME_BYTES = 256,
    MAX_ATTRIBUTES_BYTES = 64 * 1024,
    MAX_AUTHOR_BYTES = 128,
    DEFAULT_LIMIT = 50,
    MAX_LIMIT = 1000,
    PATCH_ATTEMPTS = 64,
};

/* ---- problem+json with per-field errors ------------------------------ */

/* ---- representation --------------------------------------------------- */

static void append_time(buf *b, int64_t us) {
    char t[32];
    size_t n = time_format_rfc3339_us(us, t);
    buf_append_char(b, '"');
    buf_append(b, t, n);
    buf_append_char(b, '"');
}

static void append_object(buf *b, const store_object *o) {
    buf_append_str(b, "{\"id\":");
    buf_append_u64(b, (unsigned long long)o->id);
    buf_append_str(b, ",\"revision\":");
    buf_append_u64(b, (unsigned long long)o->revision);
    buf_append_str(b, ",\"type\":");
    json_append_string(b, o->type, strlen(o->type));
    buf_append_str(b, ",\"name\":");
    json_append_string(b, o->name, strlen(o->name));
    buf_append_str(b, ",\"attributes\":");
    buf_append_str(b, o->attributes); /* stored as canonical JSON */
    buf_append_str(b, ",\"created_at\":");
    append_time(b, o->created_at);
    buf_append_str(b, ",\"updated_at\":");
    append_time(b, o->updated_at);
    buf_append_str(b, ",\"updated_by\":");
    json_append_string(b, o->updated_by, strlen(o->updated_by));
    buf_append_str(b,
                   o->deleted ? ",\"deleted\":true}" : ",\"deleted\":false}");
}

static size_t format_etag(char *out, size_t outlen, const store_object *o) {
    return (size_t)snprintf(out, outlen, "\"%lld-%lld\"", (long long)o->id,
                            (long long)o->revision);
}

static void respond_object(exchange *ex, int status, const store_object *o) {
    char etag[64];
    size_t n = format_etag(etag, sizeof etag, o);
    exchange_add_header(ex, "etag", etag, n);
    ex->resp_body.len = 0;
    append_object(&ex->resp_body, o);
    buf_append_char(&ex->resp_body, '\n');
    exchange_respond_body(ex, status, "application/json");
}

/* ---- request inputs --------------------------------------------------- */

/* X-Author, else "anonymous". Returns NULL (and answers 400) if invalid. */
static const char *author_of(exchange *ex, char *out, size_t outlen) {
    const http_field *f = exchange_header(ex, "x-author");
    if (f == NULL)
        return "anonymous";
    if (f->value_len == 0 || f->value_len > MAX_AUTHOR_BYTES ||
        f->value_len >= outlen) {
        api_bad_param(ex, "X-Author", "X-Author must be 1 to 128 bytes");
        return NULL;
    }
    for (size_t i = 0; i < f->value_len; i++) {
        unsigned char c = (unsigned char)f->value[i];
        if (c < 0x20 || c == 0x7f) {
            api_bad_param(ex, "X-Author", "X-Author has control characters");
            return NULL;
        }
    }
    memcpy(out, f->value, f->value_len);
    out[f->value_len] = '\0';
    return out;
}

static int valid_name(const char *s, size_t n) {
    if (n == 0 || n > MAX_NAME_BYTES)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return 0;
    }
    return 1;
}

/* The validated content of an object body: {type, name, attributes}, and
 * on create an optional id. */
typedef struct content {
    char *type, *name, *attributes; /* owned */
    int64_t id;
} content;

static void content_free(content *c) {
    free(c->type);
    free(c->name);
    free(c->attributes);
    memset(c, 0, sizeof *c);
}

/* Validates |doc| as an object body. |allow_id|: POST (id optional) or PUT
 * (id optional, must equal |path_id|). Returns 0, or -1 after answering
 * 422 with every problem found. */
static int validate_content(exchange *ex, json_t *doc, int64_t path_id,
                            content *out) {
    api_errors fe;
    api_errors_init(&fe);
    memset(out, 0, sizeof *out);
    if (!json_is_object(doc)) {
        api_errors_add(&fe, "", "the body must be a JSON object");
        api_errors_respond(ex, &fe, 422, "the object is not valid");
        return -1;
    }
    const char *key;
    json_t *v;
    json_object_foreach(doc, key, v) {
        if (strcmp(key, "type") && strcmp(key, "name") &&
            strcmp(key, "attributes") && strcmp(key, "id")) {
            char ptr[256] = "", detail[128];
            api_pointer_append(ptr, sizeof ptr, key);
            snprintf(detail, sizeof detail,
                     "unknown member; objects have id, type, name and "
                     "attributes");
            api_errors_add(&fe, ptr, detail);
        }
    }
    json_t *type = json_object_get(doc, "type");
    if (type == NULL)
        api_errors_add(&fe, "/type", "required");
    else if (!json_is_string(type))
        api_errors_add(&fe, "/type", "must be a string");
    else if (!api_valid_token(json_string_value(type), json_string_length(type),
                              MAX_TYPE_BYTES))
        api_errors_add(&fe, "/type",
                       "must be 1 to 64 characters of A-Z a-z 0-9 _ - .");
    json_t *name = json_object_get(doc, "name");
    if (name == NULL)
        api_errors_add(&fe, "/name", "required");
    else if (!json_is_string(name))
        api_errors_add(&fe, "/name", "must be a string");
    else if (!valid_name(json_string_value(name), json_string_length(name)))
        api_errors_add(&fe, "/name",
                       "must be 1 to 256 bytes without control characters");
    json_t *attrs = json_object_get(doc, "attributes");
    char *attr_text = NULL;
    if (attrs != NULL && !json_is_object(attrs)) {
        api_errors_add(&fe, "/attributes", "must be an object");
    } else {
        buf text;
        buf_init(&text, MAX_ATTRIBUTES_BYTES + 1);
        int rc =
            attrs ? json_canonical(attrs, &text) : buf_append_str(&text, "{}");
        if (rc == 0)
            rc = buf_append_char(&text, '\0');
        if (rc == -ENOBUFS)
            api_errors_add(&fe, "/attributes",
                           "must be at most 64 KiB as JSON");
        else if (rc == 0)
            attr_text = text.data, text.data = NULL;
        buf_free(&text);
    }
    json_t *id = json_object_get(doc, "id");
    if (id != NULL) {
        if (!json_is_integer(id) || json_integer_value(id) <= 0)
            api_errors_add(&fe, "/id", "must be a positive integer below 2^63");
        else if (path_id && json_integer_value(id) != path_id)
            api_errors_add(&fe, "/id", "must match the id in the path");
        else
            out->id = json_integer_value(id);
    }
    if (fe.count) {
        free(attr_text);
        api_errors_respond(ex, &fe, 422, "the object is not valid");
        return -1;
    }
    api_errors_free(&fe);
    out->type = strdup(json_string_value(type));
    out->name = strdup(json_string_value(name));
    out->attributes = attr_text;
    if (!out->type || !out->name || !out->attributes) {
        content_free(out);
        exchange_problem(ex, 500, NULL, "out of memory");
        return -1;
    }
    return 0;
}

/* Parses our ETag "<id>-<revision>" (quotes included, W/ allowed when
 * |weak_ok|). Returns the revision, 0 if it is not one of ours for |id|. */
static int64_t etag_revision(const char *s, size_t n, int64_t id, int weak_ok) {
    if (weak_ok && n >= 2 && s[0] == 'W' && s[1] == '/') {
        s += 2;
        n -= 2;
    }
    if (n < 5 || s[0] != '"' || s[n - 1] != '"')
        return 0;
    char tmp[64];
    if (n - 2 >= sizeof tmp)
        return 0;
    memcpy(tmp, s + 1, n - 2);
    tmp[n - 2] = '\0';
    char *end;
    long long eid = strtoll(tmp, &end, 10);
    if (*end != '-' || eid != id)
        return 0;
    char *end2;
    long long rev = strtoll(end + 1, &end2, 10);
    if (*end2 != '\0' || rev <= 0)
        return 0;
    return rev;
}

/* Walks the comma-separated entity tags of a conditional header: returns
 * 1 for "*", else the revision of the first tag of object |id| (weak tags
 * too when |weak_ok|), 0 when none is ours. Sets *rev for a tag. */
static int etag_list(const http_field *f, int64_t id, int weak_ok, int64_t want,
                     int64_t *rev) {
    const char *p = f->value, *end = f->value + f->value_len;
    *rev = 0;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == ','))
            p++;
        const char *q = p;
        while (q < end && *q != ',')
            q++;
        size_t n = (size_t)(q - p);
        while (n && p[n - 1] == ' ')
            n--;
        if (n == 1 && *p == '*')
            return 1;
        int64_t r = etag_revision(p, n, id, weak_ok);
        if (r > 0 && (want == 0 || r == want)) {
            *rev = r;
            return 0;
        }
        p = q;
    }
    return 0;
}

/* If-Match: 0 = absent or "*", > 0 = the revision, -1 = present but not a
 * current-format ETag of this object (never matches). */
static int64_t if_match(exchange *ex, int64_t id, int *present) {
    const http_field *f = exchange_header(ex, "if-match");
    *present = f != NULL;
    if (f == NULL)
        return 0;
    int64_t rev;
    if (etag_list(f, id, 0, 0, &rev))
        return 0;
    return rev > 0 ? rev : -1;
}

/* If-None-Match matches |o|: 1 (answer 304) or 0. */
static int if_none_match(exchange *ex, const store_object *o) {
    const http_field *f = exchange_header(ex, "if-none-match");
    int64_t rev;
    return f && (etag_list(f, o->id, 1, o->revision, &rev) || rev > 0);
}

/* ---- the per-request context ------------------------------------------ */

typedef struct op {
    exchange *ex;
    int64_t id;
    int64_t expected; /* If-Match revision; 0 none */
    int if_match_present;
    int attempts;
    json_t *patch;           /* PATCH */
    int64_t target_revision; /* revert */
    char author[MAX_AUTHOR_BYTES + 1];
    int order; /* list */
    store_list_query lq;
    char type_filter[MAX_TYPE_BYTES + 1];
    int limit;
    char link_base[512];
} op;

static op *op_new(exchange *ex) {
    op *o = calloc(1, sizeof *o);
    if (o == NULL) {
        exchange_problem(ex, 500, NULL, "out of memory");
        return NULL;
    }
    o->ex = ex;
    return o;
}

static void op_free(op *o) {
    if (o->patch)
        json_decref(o->patch);
    free(o);
}

/* ---- POST /api/v1/objects --------------------------------------------- */

static void created(const store_result *r, void *arg) {
    op *o = arg;
    exchange *ex = o->ex;
    if (r->status == STORE_OK) {
        char loc[64];
        size_t n = (size_t)snprintf(loc, sizeof loc, "/api/v1/objects/%lld",
                                    (long long)r->rows[0].id);
        exchange_add_header(ex, "location", loc, n);
        respond_object(ex, 201, &r->rows[0]);
    } else if (r->status == STORE_EXISTS) {
        exchange_problem(ex, 409, NULL, "an object with this id exists");
    } else {
        api_store_failed(ex, r);
    }
    op_free(o);
}

static const char *const json_types[] = {"application/json", NULL};

static void objects_create(exchange *ex) {
    char authbuf[MAX_AUTHOR_BYTES + 1];
    const char *author = author_of(ex, authbuf, sizeof authbuf);
    if (author == NULL || api_check_content_type(ex, json_types) != 0)
        return;
    json_t *doc = api_parse_body(ex);
    if (doc == NULL)
        return;
    content c;
    int rc = validate_content(ex, doc, 0, &c);
    json_decref(doc);
    if (rc != 0)
        return;
    op *o = op_new(ex);
    if (o == NULL) {
        content_free(&c);
        return;
    }
    store_write w = {.id = c.id,
                     .type = c.type,
                     .name = c.name,
                     .attributes = c.attributes,
                     .author = author};
    if (store_object_create(api_store(ex), &w, created, o) != 0) {
        api_call_failed(ex);
        op_free(o);
    }
    content_free(&c);
}

/* ---- GET /api/v1/objects/{id} ------------------------------------------ */

static void got_object(const store_result *r, void *arg) {
    op *o = arg;
    exchange *ex = o->ex;
    if (r->status == STORE_OK && r->rows[0].deleted && o->lq.limit == 0) {
        char detail[128];
        snprintf(detail, sizeof detail,
                 "object %lld was deleted (revision "
                 "%lld); its history stays readable",
                 (long long)o->id, (long long)r->rows[0].revision);
        exchange_problem(ex, 404, NULL, detail);
    } else if (r->status == STORE_OK) {
        const store_object *obj = &r->rows[0];
        if (if_none_match(ex, obj)) {
            char etag[64];
            size_t n = format_etag(etag, sizeof etag, obj);
            exchange_add_header(ex, "etag", etag, n);
            exchange_respond(ex, 304, NULL, NULL, 0);
        } else {
            respond_object(ex, 200, obj);
        }
    } else if (r->status == STORE_NOT_FOUND) {
        exchange_problem(ex, 404, NULL,
                         o->lq.limit ? "no such revision" : "no such object");
    } else {
        api_store_failed(ex, r);
    }
    op_free(o);
}

static const char *const get_params[] = {"revision", "as_of", NULL};

static void objects_get(exchange *ex) {
    query q;
    if (api_parse_query(ex, &q, get_params) != 0)
        return;
    int64_t revision = 0, as_of = 0;
    const char *rs = query_get(&q, "revision");
    if (rs && api_parse_positive(rs, &revision) != 0) {
        api_bad_param(ex, "revision", "revision must be a positive integer");
        query_free(&q);
        return;
    }
    if (api_time_param(ex, &q, "as_of", &as_of) != 0) {
        query_free(&q);
        return;
    }
    query_free(&q);
    if (revision && as_of) {
        api_bad_param(ex, "as_of", "give revision or as_of, not both");
        return;
    }
    op *o = op_new(ex);
    if (o == NULL)
        return;
    o->id = ex->params[0].id;
    /* A past revision is history: it is shown even if it is a tombstone.
     * (lq.limit doubles as "a specific revision was asked for".) */
    o->lq.limit = revision || as_of;
    if (store_object_get(api_store(ex), o->id, revision, as_of, got_object,
                         o) != 0) {
        api_call_failed(ex);
        op_free(o);
    }
}

/* ---- PUT, DELETE ------------------------------------------------------- */

static void written(const store_result *r, void *arg) {
    op *o = arg;
    exchange *ex = o->ex;
    if (r->status == STORE_OK) {
        if (r->rows[0].deleted) {
            char etag[64];
            size_t n = format_etag(etag, sizeof etag, &r->rows[0]);
            exchange_add_header(ex, "etag", etag, n);
            exchange_respond(ex, 204, NULL, NULL, 0);
        } else {
            respond_object(ex, 200, &r->rows[0]);
        }
    } else if (r->status == STORE_NOT_FOUND) {
        exchange_problem(ex, 404, NULL, "no such object");
    } else if (r->status == STORE_CONFLICT) {
        exchange_problem(ex, 412, NULL,
                         "If-Match does not name the current revision");
    } else {
        api_store_failed(ex, r);
    }
    op_free(o);
}

/* Common start of the writes: author and If-Match. NULL after answering. */
static op *write_op(exchange *ex) {
    char authbuf[MAX_AUTHOR_BYTES + 1];
    const char *author = author_of(ex, authbuf, sizeof authbuf);
    if (author == NULL)
        return NULL;
    op *o = op_new(ex);
    if (o == NULL)
        return NULL;
    o->id = ex->params[0].id;
    snprintf(o->author, sizeof o->author, "%s", author);
    o->expected = if_match(ex, o->id, &o->if_match_present);
    if (o->expected < 0) {
        exchange_problem(ex, 412, NULL,
                         "If-Match does not name the current revision");
        op_free(o);
        return NULL;
    }
    return o;
}

/* Writes validated content as the object's next revision (compare-and-set
 * against |expected| unless it is 0), answering through |cb|; frees |c|. */
static void put_content(op *o, content *c, int64_t expected, store_cb cb) {
    store_write w = {.id = o->id,
                     .expected_revision = expected,
                     .type = c->type,
                     .name = c->name,
                     .attributes = c->attributes,
                     .author = o->author};
    if (store_object_put(api_store(o->ex), &w, cb, o) != 0) {
        api_call_failed(o->ex);
        op_free(o);
    }
    content_free(c);
}

static void objects_put(exchange *ex) {
    if (api_check_content_type(ex, json_types) != 0)
        return;
    json_t *doc = api_parse_body(ex);
    if (doc == NULL)
        return;
    content c;
    int rc = validate_content(ex, doc, ex->params[0].id, &c);
    json_decref(doc);
    if (rc != 0)
        return;
    op *o = write_op(ex);
    if (o == NULL) {
        content_free(&c);
        return;
    }
    put_content(o, &c, o->expected, written);
}

static void objects_delete(exchange *ex) {
    op *o = write_op(ex);
    if (o == NULL)
        return;
    store_write w = {.id = o->id,
                     .expected_revision = o->expected,
                     .author = o->author,
                     .deleted = 1,
                     .keep_content = 1};
    if (store_object_put(api_store(ex), &w, written, o) != 0) {
        api_call_failed(ex);
        op_free(o);
    }
}

/* ---- PATCH (JSON Merge Patch, RFC 7396) -------------------------------- */

static json_t *merge_patch(json_t *target, json_t *patch) {
    if (!json_is_object(patch))
        return json_incref(patch);
    json_t *result =
        json_is_object(target) ? json_deep_copy(target) : json_object();
    const char *key;
    json_t *v;
    json_object_foreach(patch, key, v) {
        if (json_is_null(v)) {
            json_object_del(result, key);
        } else {
            json_t *merged = merge_patch(json_object_get(result, key), v);
            json_object_set_new(result, key, merged);
        }
    }
    return result;
}

static void patch_read(const store_result *r, void *arg);

static void patch_start(op *o) {
    if (store_object_get(api_store(o->ex), o->id, 0, 0, patch_read, o) != 0) {
        api_call_failed(o->ex);
        op_free(o);
    }
}

static void patch_written(const store_result *r, void *arg) {
    op *o = arg;
    if (r->status == STORE_CONFLICT && !o->if_match_present &&
        ++o->attempts < PATCH_ATTEMPTS) {
        patch_start(o); /* someone wrote in between: merge again */
        return;
    }
    if (r->status == STORE_CONFLICT && !o->if_match_present) {
        exchange_problem(o->ex, 409, NULL,
                         "the object kept changing; try again");
        op_free(o);
        return;
    }
    written(r, arg);
}

static void patch_read(const store_result *r, void *arg) {
    op *o = arg;
    exchange *ex = o->ex;
    if (r->status != STORE_OK || r->rows[0].deleted) {
        if (r->status == STORE_OK || r->status == STORE_NOT_FOUND)
            exchange_problem(ex, 404, NULL, "no such object");
        else
            api_store_failed(ex, r);
        op_free(o);
        return;
    }
    const store_object *head = &r->rows[0];
    if (o->expected && head->revision != o->expected) {
        exchange_problem(ex, 412, NULL,
                         "If-Match does not name the current revision");
        op_free(o);
        return;
    }
    json_t *doc = json_object();
    json_object_set_new(doc, "type", json_string(head->type));
    json_object_set_new(doc, "name", json_string(head->name));
    json_object_set_new(doc, "attributes",
                        json_loads(head->attributes, 0, NULL));
    json_t *merged = merge_patch(doc, o->patch);
    json_decref(doc);
    content c;
    int rc = validate_content(ex, merged, o->id, &c);
    json_decref(merged);
    if (rc != 0) {
        op_free(o);
        return;
    }
    put_content(o, &c, head->revision, patch_written);
}

static const char *const patch_types[] = {"application/merge-patch+json",
                                          "application/json", NULL};

static void objects_patch(exchange *ex) {
    if (api_check_content_type(ex, patch_types) != 0)
        return;
    json_t *patch = api_parse_body(ex);
    if (patch == NULL)
        return;
    if (!json_is_object(patch)) {
        json_decref(patch);
        api_errors fe;
        api_errors_init(&fe);
        api_errors_add(&fe, "",
                       "a merge patch for an object must be a JSON object");
        api_errors_respond(ex, &fe, 422, "the patch is not valid");
        return;
    }
    op *o = write_op(ex);
    if (o == NULL) {
        json_decref(patch);
        return;
    }
    o->patch = patch;
    patch_start(o);
}

/* ---- POST /api/v1/objects/{id}/revert?to=N ---------------------------- */

static void revert_read(const store_result *r, void *arg) {
    op *o = arg;
    exchange *ex = o->ex;
    if (r->status == STORE_NOT_FOUND) {
        exchange_problem(ex, 404, NULL, "no such object or revision");
        op_free(o);
        return;
    }
    if (r->status != STORE_OK) {
        api_store_failed(ex, r);
        op_free(o);
        return;
    }
    const store_object *rev = &r->rows[0];
    if (rev->deleted) {
        api_errors fe;
        api_errors_init(&fe);
        api_errors_add(&fe, "?to",
                       "that revision is a deletion; revert to another");
        api_errors_respond(ex, &fe, 422, "cannot revert to a deletion");
        op_free(o);
        return;
    }
    store_write w = {.id = o->id,
                     .expected_revision = o->expected,
                     .type = rev->type,
                     .name = rev->name,
                     .attributes = rev->attributes,
                     .author = o->author,
                     .allow_deleted = 1};
    if (store_object_put(api_store(ex), &w, written, o) != 0) {
        api_call_failed(ex);
        op_free(o);
    }
}

static const char *const revert_params[] = {"to", NULL};

static void objects_revert(exchange *ex) {
    query q;
    if (api_parse_query(ex, &q, revert_params) != 0)
        return;
    int64_t to = 0;
    int bad = api_parse_positive(query_get(&q, "to"), &to) != 0;
    query_free(&q);
    if (bad) {
        api_bad_param(ex, "to", "to must be a positive revision number");
        return;
    }
    op *o = write_op(ex);
    if (o == NULL)
        return;
    o->target_revision = to;
    if (store_object_get(api_store(ex), o->id, to, 0, revert_read, o) != 0) {
        api_call_failed(ex);
        op_free(o);
    }
}

/* ---- lists and cursors ------------------------------------------------- */

/* Cursors (opaque to clients, see api_page_respond) carry the last row's
 * key: "o<order>:<updated_at>:<id>" for objects, "r:<revision>" for
 * revisions. */
static void respond_objects_page(op *o, const store_result *r,
                                 const char *raw_cursor) {
    buf *b = &o->ex->resp_body;
    b->len = 0;
    buf_append_str(b, "{\"items\":[");
    for (size_t i = 0; i < r->nrows; i++) {
        if (i)
            buf_append_char(b, ',');
        append_object(b, &r->rows[i]);
    }
    api_page_respond(o->ex, raw_cursor, o->link_base);
    op_free(o);
}

static void listed(const store_result *r, void *arg) {
    op *o = arg;
    exchange *ex = o->ex;
    if (r->status != STORE_OK) {
        api_store_failed(ex, r);
        op_free(o);
        return;
    }
    char raw[96];
    if (r->has_more && r->nrows > 0) {
        const store_object *last = &r->rows[r->nrows - 1];
        snprintf(raw, sizeof raw, "o%d:%lld:%lld", o->lq.order,
                 (long long)last->updated_at, (long long)last->id);
    }
    respond_objects_page(o, r, r->has_more && r->nrows > 0 ? raw : NULL);
}

static const char *const list_params[] = {
    "type", "updated_after", "updated_before", "order", "limit", "cursor",
    NULL};

/* Rebuilds the query string without the cursor, for Link: rel=next. */
static void link_base(op *o, const query *q) {
    size_t n = (size_t)snprintf(o->link_base, sizeof o->link_base,
                                "/api/v1/objects?limit=%d", o->limit);
    static const char *const keep[] = {"type", "updated_after",
                                       "updated_before", "order", NULL};
    for (const char *const *k = keep; *k && n < sizeof o->link_base; k++) {
        const char *v = query_get(q, *k);
        if (v)
            n += api_query_append(o->link_base + n, sizeof o->link_base - n, *k,
                                  v);
    }
}

static void objects_list(exchange *ex) {
    query q;
    if (api_parse_query(ex, &q, list_params) != 0)
        return;
    op *o = op_new(ex);
    if (o == NULL)
        goto out;
    store_list_query *lq = &o->lq;
    const char *type = query_get(&q, "type");
    if (type) {
        if (!api_valid_token(type, strlen(type), MAX_TYPE_BYTES)) {
            api_bad_param(ex, "type",
                          "type must be 1 to 64 characters of "
                          "A-Z a-z 0-9 _ - .");
            goto fail;
        }
        snprintf(o->type_filter, sizeof o->type_filter, "%s", type);
        lq->type = o->type_filter;
    }
    if (api_time_param(ex, &q, "updated_after", &lq->updated_after) ||
        api_time_param(ex, &q, "updated_before", &lq->updated_before) ||
        api_limit_param(ex, &q, DEFAULT_LIMIT, MAX_LIMIT, &o->limit))
        goto fail;
    lq->limit = o->limit;
    const char *order = query_get(&q, "order");
    if (order == NULL || strcmp(order, "updated_at") == 0)
        lq->order = STORE_ORDER_UPDATED_ASC;
    else if (strcmp(order, "-updated_at") == 0)
        lq->order = STORE_ORDER_UPDATED_DESC;
    else if (strcmp(order, "id") == 0)
        lq->order = STORE_ORDER_ID;
    else {
        api_bad_param(ex, "order",
                      "order must be updated_at, -updated_at or id");
        goto fail;
    }
    const char *cursor = query_get(&q, "cursor");
    if (cursor) {
        char raw[128];
        int ord;
        long long at, id;
        char tail;
        if (api_read_cursor(cursor, raw, sizeof raw) != 0 ||
            sscanf(raw, "o%d:%lld:%lld%c", &ord, &at, &id, &tail) != 3 ||
            ord != lq->order || id <= 0) {
            api_bad_param(ex, "cursor",
                          "cursor is not one this list gave out (or the order "
                          "changed)");
            goto fail;
        }
        lq->has_cursor = 1;
        lq->cursor_updated_at = at;
        lq->cursor_id = id;
    }
    link_base(o, &q);
    query_free(&q);
    if (store_object_list(api_store(ex), lq, listed, o) != 0) {
        api_call_failed(ex);
        op_free(o);
    }
    return;
fail:
    op_free(o);
out:
    query_free(&q);
}

/* ---- revisions ---------------------------------------------------------- */

static void revisions_listed(const store_result *r, void *arg) {
    op *o = arg;
    exchange *ex = o->ex;
    if (r->status == STORE_NOT_FOUND) {
        exchange_problem(ex, 404, NULL, "no such object");
        op_free(o);
        return;
    }
    if (r->status != STORE_OK) {
        api_store_failed(ex, r);
        op_free(o);
        return;
    }
    char raw[48];
    if (r->has_more && r->nrows > 0)
        snprintf(raw, sizeof raw, "r:%lld",
                 (long long)r->rows[r->nrows - 1].revision);
    respond_objects_page(o, r, r->has_more && r->nrows > 0 ? raw : NULL);
}

static const char *const revisions_params[] = {"limit", "cursor", NULL};

static void revisions_list(exchange *ex) {
    query q;
    if (api_parse_query(ex, &q, revisions_params) != 0)
        return;
    op *o = op_new(ex);
    if (o == NULL) {
        query_free(&q);
        return;
    }
    o->id = ex->params[0].id;
    int64_t before = 0;
    const char *cursor = query_get(&q, "cursor");
    if (api_limit_param(ex, &q, DEFAULT_LIMIT, MAX_LIMIT, &o->limit) != 0)
        goto fail;
    if (cursor) {
        char raw[64];
        long long rev;
        char tail;
        if (api_read_cursor(cursor, raw, sizeof raw) != 0 ||
            sscanf(raw, "r:%lld%c", &rev, &tail) != 1 || rev <= 0) {
            api_bad_param(ex, "cursor", "cursor is not one this list gave out");
            goto fail;
        }
        before = rev;
    }
    snprintf(o->link_base, sizeof o->link_base,
             "/api/v1/objects/%lld/revisions?limit=%d", (long long)o->id,
             o->limit);
    query_free(&q);
    if (store_revisions_list(api_store(ex), o->id, before, o->limit,
                             revisions_listed, o) != 0) {
        api_call_failed(ex);
        op_free(o);
    }
    return;
fail:
    query_free(&q);
    op_free(o);
}

static void revision_get(exchange *ex) {
    if (ex->query_len) {
        query q;
        static const char *const none[] = {NULL};
        if (api_parse_query(ex, &q, none) != 0)
            return;
        query_free(&q);
    }
    op *o = op_new(ex);
    if (o == NULL)
        return;
    o->id = ex->params[0].id;
    o->lq.limit = 1; /* a specific revision: tombstones are history */
    if (store_object_get(api_store(ex), o->id, ex->params[1].id, 0, got_object,
                         o) != 0) {
        api_call_failed(ex);
        op_free(o);
    }
}

const route api_object_routes[] = {
    {HTTP_GET, "/api/v1/objects", objects_list},
    {HTTP_POST, "/api/v1/objects", objects_create},
    {HTTP_GET, "/api/v1/objects/{id}", objects_get},
    {HTTP_PUT, "/api/v1/objects/{id}", objects_put},
    {HTTP_PATCH, "/api/v1/objects/{id}", objects_patch},
    {HTTP_DELETE, "/api/v1/objects/{id}", objects_delete},
    {HTTP_GET, "/api/v1/objects/{id}/revisions", revisions_list},
    {HTTP_GET, "/api/v1/objects/{id}/revisions/{n}", revision_get},
    {HTTP_POST, "/api/v1/objects/{id}/revert", objects_revert},
};

const size_t api_object_route_count =
    sizeof api_object_routes / sizeof api_object_routes[0];
