/* exchange: protocol-neutral request and response. */
#include "exchange.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "json.h"
#include "log.h"
#include "observe.h"
#include "server.h"
#include "timeutil.h"

int http_method_parse(const char *s, size_t len) {
    switch (len) {
    case 3:
        if (memcmp(s, "GET", 3) == 0)
            return HTTP_GET;
        if (memcmp(s, "PUT", 3) == 0)
            return HTTP_PUT;
        break;
    case 4:
        if (memcmp(s, "HEAD", 4) == 0)
            return HTTP_HEAD;
        if (memcmp(s, "POST", 4) == 0)
            return HTTP_POST;
        break;
    case 5:
        if (memcmp(s, "PATCH", 5) == 0)
            return HTTP_PATCH;
        break;
    case 6:
        if (memcmp(s, "DELETE", 6) == 0)
            return HTTP_DELETE;
        break;
    case 7:
        if (memcmp(s, "OPTIONS", 7) == 0)
            return HTTP_OPTIONS;
        break;
    }
    return HTTP_OTHER;
}

const char *http_method_name(int method) {
    switch (method) {
    case HTTP_GET:
        return "GET";
    case HTTP_HEAD:
        return "HEAD";
    case HTTP_POST:
        return "POST";
    case HTTP_PUT:
        return "PUT";
    case HTTP_PATCH:
        return "PATCH";
    case HTTP_DELETE:
        return "DELETE";
    case HTTP_OPTIONS:
        return "OPTIONS";
    }
    return "OTHER";
}

const char *http_reason(int status) {
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 417:
        return "Expectation Failed";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    }
    return "";
}

static void release_ext(exchange *ex) {
    if (ex->ext_release)
        ex->ext_release(ex->ext_arg);
    ex->ext_release = NULL;
    ex->ext_body = NULL;
    ex->ext_len = 0;
}

void exchange_reset(exchange *ex) {
    release_ext(ex);
    buf body = ex->resp_body, text = ex->resp_header_text;
    void (*send)(exchange *) = ex->send;
    int (*stream)(exchange *, int, const char *, size_t) = ex->stream;
    void *conn = ex->conn, *srv = ex->server;
    struct worker *w = ex->worker;
    memset(ex, 0, sizeof *ex);
    body.len = 0;
    text.len = 0;
    if (body.max == 0)
        buf_init(&body, 0);
    if (text.max == 0)
        buf_init(&text, 16 * 1024);
    ex->resp_body = body;
    ex->resp_header_text = text;
    ex->send = send;
    ex->stream = stream;
    ex->conn = conn;
    ex->server = srv;
    ex->worker = w;
}

void exchange_free(exchange *ex) {
    release_ext(ex);
    buf_free(&ex->resp_body);
    buf_free(&ex->resp_header_text);
}

const http_field *exchange_header(const exchange *ex, const char *name) {
    size_t n = strlen(name);
    for (size_t i = 0; i < ex->num_headers; i++) {
        const http_field *f = &ex->headers[i];
        if (f->name_len == n && strncasecmp(f->name, name, n) == 0)
            return f;
    }
    return NULL;
}

int exchange_add_header(exchange *ex, const char *name, const char *value,
                        size_t value_len) {
    if (ex->num_resp_headers == EXCHANGE_MAX_RESP_HEADERS)
        return -ENOBUFS;
    buf *t = &ex->resp_header_text;
    size_t name_len = strlen(name), off = t->len;
    if (buf_reserve(t, name_len + value_len) != 0)
        return -ENOBUFS;
    buf_append(t, name, name_len);
    buf_append(t, value, value_len);
    resp_header *h = &ex->resp_headers[ex->num_resp_headers++];
    h->name_off = (uint32_t)off;
    h->name_len = (uint32_t)name_len;
    h->value_off = (uint32_t)(off + name_len);
    h->value_len = (uint32_t)value_len;
    return 0;
}

void exchange_respond_body(exchange *ex, int status, const char *content_type) {
    if (ex->responded)
        return;
    ex->responded = 1;
    ex->status = status;
    ex->content_type = content_type;
    ex->send(ex);
}

void exchange_respond_ref(exchange *ex, int status, const char *content_type,
                          const char *body, size_t len,
                          void (*release)(void *arg), void *arg) {
    if (ex->responded) {
        if (release)
            release(arg);
        return;
    }
    ex->resp_body.len = 0;
    ex->ext_body = body;
    ex->ext_len = len;
    ex->ext_release = release;
    ex->ext_arg = arg;
    exchange_respond_body(ex, status, content_type);
}

void exchange_stream_begin(exchange *ex, int status, const char *content_type,
                           void (*on_drain)(exchange *ex), void *arg) {
    ex->status = status;
    ex->content_type = content_type;
    ex->on_drain = on_drain;
    ex->stream_arg = arg;
    ex->streaming = 1;
    ex->resp_body.len = 0;
    ex->stream(ex, EXCHANGE_OP_BEGIN, NULL, 0);
}

int exchange_stream_write(exchange *ex, const char *data, size_t len) {
    ex->streamed += len;
    return ex->stream(ex, EXCHANGE_OP_DATA, data, len);
}

void exchange_stream_end(exchange *ex) {
    ex->responded = 1;
    ex->stream(ex, EXCHANGE_OP_END, NULL, 0);
}

void exchange_respond(exchange *ex, int status, const char *content_type,
                      const char *body, size_t len) {
    ex->resp_body.len = 0;
    if (buf_append(&ex->resp_body, body, len) != 0) {
        exchange_respond(ex, 500, NULL, NULL, 0);
        return;
    }
    exchange_respond_body(ex, status, content_type);
}

void exchange_problem(exchange *ex, int status, const char *title,
                      const char *detail) {
    buf *b = &ex->resp_body;
    b->len = 0;
    if (title == NULL)
        title = http_reason(status);
    buf_append_str(b, "{\"type\":\"about:blank\",\"title\":");
    json_append_string(b, title, strlen(title));
    buf_append_str(b, ",\"status\":");
    buf_append_u64(b, (unsigned)status);
    if (detail) {
        buf_append_str(b, ",\"detail\":");
        json_append_string(b, detail, strlen(detail));
    }
    buf_append_str(b, "}\n");
    exchange_respond_body(ex, status, "application/problem+json");
}

void exchange_access_log(const exchange *ex, const char *protocol,
                         int32_t stream_id) {
    observe_request_end(ex, protocol, stream_id);
}
