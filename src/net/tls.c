/* tls: OpenSSL over memory BIOs (see tls.h). */
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>

struct tls_ctx {
    SSL_CTX *ssl;
};

struct tls_conn {
    SSL *ssl;
    BIO *rbio; /* ciphertext in (we write, OpenSSL reads) */
    BIO *wbio; /* ciphertext out (OpenSSL writes, we read) */
    char alpn[16];
};

/* h2 first: a client that offers both gets HTTP/2. */
static const unsigned char alpn_prefs[] = "\x02h2\x08http/1.1";

static int select_alpn(SSL *ssl, const unsigned char **out,
                       unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg) {
    (void)ssl;
    (void)arg;
    unsigned char *sel = NULL;
    if (SSL_select_next_proto(&sel, outlen, alpn_prefs, sizeof alpn_prefs - 1,
                              in, inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK; /* no overlap: go on without ALPN */
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

int tls_ctx_server_new(tls_ctx **out, const char *cert_file,
                       const char *key_file, char *err, size_t errlen) {
    tls_ctx *ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    ctx->ssl = SSL_CTX_new(TLS_server_method());
    if (ctx->ssl == NULL)
        goto fail;
    SSL_CTX_set_min_proto_version(ctx->ssl, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx->ssl, SSL_OP_NO_COMPRESSION |
                                      SSL_OP_NO_RENEGOTIATION |
                                      SSL_OP_CIPHER_SERVER_PREFERENCE);
    /* Modern AEAD suites only for TLS 1.2 (1.3's are AEAD already). */
    SSL_CTX_set_cipher_list(ctx->ssl,
                            "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!MD5:!SHA1");
    SSL_CTX_set_mode(ctx->ssl, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_session_cache_mode(ctx->ssl, SSL_SESS_CACHE_SERVER);
    SSL_CTX_sess_set_cache_size(ctx->ssl, 20000);
    static const unsigned char sid_ctx[] = "objectd";
    SSL_CTX_set_session_id_context(ctx->ssl, sid_ctx, sizeof sid_ctx - 1);
    SSL_CTX_set_alpn_select_cb(ctx->ssl, select_alpn, NULL);
    if (SSL_CTX_use_certificate_chain_file(ctx->ssl, cert_file) != 1) {
        snprintf(err, errlen, "--tls-cert %s: %s", cert_file,
                 ERR_reason_error_string(ERR_get_error()));
        goto fail_msg;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx->ssl, key_file, SSL_FILETYPE_PEM) !=
        1) {
        snprintf(err, errlen, "--tls-key %s: %s", key_file,
                 ERR_reason_error_string(ERR_get_error()));
        goto fail_msg;
    }
    if (SSL_CTX_check_private_key(ctx->ssl) != 1) {
        snprintf(err, errlen, "--tls-key %s does not match --tls-cert %s",
                 key_file, cert_file);
        goto fail_msg;
    }
    *out = ctx;
    return 0;
fail:
    snprintf(err, errlen, "TLS setup failed: %s",
             ERR_reason_error_string(ERR_get_error()));
fail_msg:
    ERR_clear_error();
    tls_ctx_free(ctx);
    return -1;
}

void tls_ctx_free(tls_ctx *ctx) {
    if (ctx == NULL)
        return;
    SSL_CTX_free(ctx->ssl);
    free(ctx);
}

int tls_ctx_client_new(tls_ctx **out, const unsigned char *alpn_wire,
                       size_t alpn_len, char *err, size_t errlen) {
    tls_ctx *ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    ctx->ssl = SSL_CTX_new(TLS_client_method());
    if (ctx->ssl == NULL)
        goto fail;
    SSL_CTX_set_min_proto_version(ctx->ssl, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx->ssl,
                        SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_verify(ctx->ssl, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_mode(ctx->ssl, SSL_MODE_RELEASE_BUFFERS);
    if (alpn_len > 0 && alpn_len <= UINT32_MAX &&
        SSL_CTX_set_alpn_protos(ctx->ssl, alpn_wire, (unsigned)alpn_len) != 0)
        goto fail;
    *out = ctx;
    return 0;
fail:
    snprintf(err, errlen, "TLS setup failed: %s",
             ERR_reason_error_string(ERR_get_error()));
    ERR_clear_error();
    tls_ctx_free(ctx);
    return -1;
}

static ssize_t map_error(tls_conn *t, int rc);

static tls_conn *conn_new(tls_ctx *ctx) {
    tls_conn *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->ssl = SSL_new(ctx->ssl);
    t->rbio = BIO_new(BIO_s_mem());
    t->wbio = BIO_new(BIO_s_mem());
    if (t->ssl == NULL || t->rbio == NULL || t->wbio == NULL) {
        SSL_free(t->ssl);
        BIO_free(t->rbio);
        BIO_free(t->wbio);
        free(t);
        return NULL;
    }
    BIO_set_mem_eof_return(t->rbio, -1);   /* empty means "wait", not EOF */
    SSL_set_bio(t->ssl, t->rbio, t->wbio); /* the SSL owns both now */
    return t;
}

tls_conn *tls_conn_new_server(tls_ctx *ctx) {
    tls_conn *t = conn_new(ctx);
    if (t != NULL)
        SSL_set_accept_state(t->ssl);
    return t;
}

/* SNI carries host names only (RFC 6066 3), never address literals. */
static int is_ip_literal(const char *s) {
    unsigned char tmp[16];
    return inet_pton(AF_INET, s, tmp) == 1 || inet_pton(AF_INET6, s, tmp) == 1;
}

tls_conn *tls_conn_new_client(tls_ctx *ctx, const char *server_name) {
    tls_conn *t = conn_new(ctx);
    if (t == NULL)
        return NULL;
    SSL_set_connect_state(t->ssl);
    if (server_name != NULL && !is_ip_literal(server_name) &&
        SSL_set_tlsext_host_name(t->ssl, server_name) != 1) {
        tls_conn_free(t);
        return NULL;
    }
    return t;
}

int tls_handshake(tls_conn *t) {
    int rc = SSL_do_handshake(t->ssl);
    if (rc == 1)
        return 1;
    return map_error(t, rc) == TLS_E_WANT_INPUT ? 0 : TLS_E_PROTOCOL;
}

void tls_describe(tls_conn *t, char *proto, size_t plen, char *cipher,
                  size_t clen, char *tmp_key, size_t klen) {
    EVP_PKEY *key = NULL;

    snprintf(proto, plen, "%s", SSL_get_version(t->ssl));
    snprintf(cipher, clen, "%s",
             SSL_CIPHER_get_name(SSL_get_current_cipher(t->ssl)));
    tmp_key[0] = '\0';
    if (SSL_get_peer_tmp_key(t->ssl, &key) == 1 && key != NULL) {
        const char *name = OBJ_nid2sn(EVP_PKEY_get_base_id(key));
        char group[64];
        size_t glen = 0;
        if (EVP_PKEY_get_group_name(key, group, sizeof group, &glen) == 1)
            name = group;
        if (EVP_PKEY_get_base_id(key) == EVP_PKEY_X25519)
            name = "X25519";
        else if (EVP_PKEY_get_base_id(key) == EVP_PKEY_X448)
            name = "X448";
        snprintf(tmp_key, klen, "%s %d bits", name, EVP_PKEY_get_bits(key));
        EVP_PKEY_free(key);
    }
}

void tls_conn_free(tls_conn *t) {
    if (t == NULL)
        return;
    SSL_free(t->ssl);
    free(t);
}

int tls_feed(tls_conn *t, const void *data, size_t len) {
    while (len > 0) {
        int n =
            BIO_write(t->rbio, data, len > INT32_MAX ? INT32_MAX : (int)len);
        if (n <= 0)
            return TLS_E_PROTOCOL;
        data = (const char *)data + n;
        len -= (size_t)n;
    }
    return 0;
}

static ssize_t map_error(tls_conn *t, int rc) {
    switch (SSL_get_error(t->ssl, rc)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        return TLS_E_WANT_INPUT;
    case SSL_ERROR_ZERO_RETURN:
        return TLS_E_CLOSED;
    default:
        ERR_clear_error();
        return TLS_E_PROTOCOL;
    }
}

ssize_t tls_read(tls_conn *t, void *dst, size_t cap) {
    size_t got = 0;
    int rc = SSL_read_ex(t->ssl, dst, cap, &got);
    if (rc == 1)
        return (ssize_t)got;
    return map_error(t, rc);
}

int tls_has_pending(tls_conn *t) {
    return SSL_pending(t->ssl) > 0 || BIO_ctrl_pending(t->rbio) > 0;
}

int tls_write(tls_conn *t, const void *src, size_t len) {
    while (len > 0) {
        size_t done = 0;
        int rc = SSL_write_ex(t->ssl, src, len, &done);
        if (rc != 1)
            return map_error(t, rc) == TLS_E_WANT_INPUT ? 0 : TLS_E_PROTOCOL;
        src = (const char *)src + done;
        len -= done;
    }
    return 0;
}

int tls_take_output(tls_conn *t, buf *out) {
    size_t pending = BIO_ctrl_pending(t->wbio);
    if (pending == 0)
        return 0;
    int rc = buf_reserve(out, pending);
    if (rc)
        return rc;
    int n = BIO_read(t->wbio, out->data + out->len, (int)pending);
    if (n > 0)
        out->len += (size_t)n;
    return 0;
}

int tls_handshake_done(tls_conn *t) {
    return SSL_is_init_finished(t->ssl);
}

const char *tls_alpn(tls_conn *t) {
    const unsigned char *p = NULL;
    unsigned int len = 0;
    SSL_get0_alpn_selected(t->ssl, &p, &len);
    if (p == NULL || len == 0 || len >= sizeof t->alpn)
        return NULL;
    memcpy(t->alpn, p, len);
    t->alpn[len] = '\0';
    return t->alpn;
}

int tls_resumed(tls_conn *t) {
    return SSL_session_reused(t->ssl);
}
