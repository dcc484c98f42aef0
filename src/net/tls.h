/* tls: OpenSSL 3 over memory BIOs, for any byte stream - the server's
 * connections now, loadgen's later.
 *
 * The socket stays libuv's: ciphertext read from it is fed in with
 * tls_feed(), plaintext comes out of tls_read(); plaintext to send goes in
 * through tls_write() and the ciphertext to put on the wire comes out of
 * tls_take_output(). The handshake happens inside those calls. Nothing
 * here blocks or touches a file descriptor. */
#ifndef OBJECTD_TLS_H
#define OBJECTD_TLS_H

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"

typedef struct tls_ctx tls_ctx;
typedef struct tls_conn tls_conn;

enum {
    TLS_E_WANT_INPUT = -1, /* no plaintext until more ciphertext arrives */
    TLS_E_CLOSED = -2,     /* the peer sent close_notify */
    TLS_E_PROTOCOL = -3,   /* handshake or record error: close */
};

/* A server context with |cert_file| (PEM chain) and |key_file|, TLS 1.2
 * and 1.3, ALPN h2 then http/1.1, session resumption by tickets and a
 * server-side cache. Returns 0, or -1 with a message in |err|. */
int tls_ctx_server_new(tls_ctx **out, const char *cert_file,
                       const char *key_file, char *err, size_t errlen);
void tls_ctx_free(tls_ctx *ctx);

/* A client context (loadgen): TLS 1.2 and 1.3, ALPN offering |alpn_wire|
 * (length-prefixed identifiers, |alpn_len| bytes), no certificate
 * verification (a load generator measures, it does not authenticate), and
 * session tickets kept for resumption by the caller if it wants. Returns
 * 0, or -1 with a message in |err|. Free with tls_ctx_free. */
int tls_ctx_client_new(tls_ctx **out, const unsigned char *alpn_wire,
                       size_t alpn_len, char *err, size_t errlen);

/* A client-side connection sending SNI |server_name| (NULL or an IP
 * literal: none). The ClientHello is produced by the first
 * tls_handshake() call. NULL on allocation failure. */
tls_conn *tls_conn_new_client(tls_ctx *ctx, const char *server_name);

/* Drives the handshake: 1 when complete, 0 when it needs more input (take
 * the output first), TLS_E_PROTOCOL on failure. */
int tls_handshake(tls_conn *t);

/* "TLSv1.3", the cipher name, and the key exchange group as h2load prints
 * them ("X25519 253 bits"); written into the caller's buffers. */
void tls_describe(tls_conn *t, char *proto, size_t plen, char *cipher,
                  size_t clen, char *tmp_key, size_t klen);

/* A server-side connection; NULL on allocation failure. */
tls_conn *tls_conn_new_server(tls_ctx *ctx);
void tls_conn_free(tls_conn *t);

/* Gives ciphertext to the TLS engine. 0, or TLS_E_PROTOCOL. */
int tls_feed(tls_conn *t, const void *data, size_t len);

/* Decrypts into |dst|: bytes (> 0), TLS_E_WANT_INPUT, TLS_E_CLOSED or
 * TLS_E_PROTOCOL. */
ssize_t tls_read(tls_conn *t, void *dst, size_t cap);

/* 1 when decrypted or buffered input may give more plaintext now. */
int tls_has_pending(tls_conn *t);

/* Encrypts all of |src|. 0, or TLS_E_PROTOCOL. */
int tls_write(tls_conn *t, const void *src, size_t len);

/* Appends the ciphertext waiting to be sent to |out|. 0 or -ENOBUFS. */
int tls_take_output(tls_conn *t, buf *out);

/* 1 once the handshake has completed. */
int tls_handshake_done(tls_conn *t);

/* The negotiated ALPN protocol ("h2", "http/1.1"), or NULL. */
const char *tls_alpn(tls_conn *t);

/* 1 if the session was resumed. */
int tls_resumed(tls_conn *t);

#endif
