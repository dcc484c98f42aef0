/* client: one simulated user - a connection (TCP or unix socket, TLS or
 * not) that carries requests, reconnecting when the server ended the
 * previous one cleanly (GOAWAY, Connection: close) with work left.
 *
 * The transport is here; the two protocols live in client_h1.c and
 * client_h2.c behind the lg_h1_* and lg_h2_* functions below. */
#ifndef LOADGEN_CLIENT_H
#define LOADGEN_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "worker.h"

/* Opens a connection for |c| (state IDLE). Failure is reported through
 * the stats and ends the client. */
void lg_client_connect(lg_client *c);

/* Releases the client's memory (after the loop has ended). */
void lg_client_free(lg_client *c);

/* Protocol bytes out: appended where the transport wants plaintext. */
buf *lg_client_wbuf(lg_client *c);

/* HTTP/1.1. */
int lg_h1_init(lg_client *c); /* per client */
void lg_h1_free(lg_client *c);
void lg_h1_reset(lg_client *c); /* new connection */
/* Sends what it may. 0 or -1 (out of memory). */
int lg_h1_submit(lg_client *c);
/* Consumes response bytes (|data| may be modified in place). 0, 1 when
 * the server announced Connection: close (the client disconnects), or -1
 * on a malformed response. */
int lg_h1_on_read(lg_client *c, char *data, size_t len);
/* The server closed the connection: 0 when that was a clean end
 * (re-sendable requests were queued), -1 when requests were lost. */
int lg_h1_on_eof(lg_client *c);

/* HTTP/2. */
int lg_h2_callbacks_new(lg_worker *w);
void lg_h2_callbacks_free(lg_worker *w);
int lg_h2_session_new(lg_client *c);
void lg_h2_session_free(lg_client *c);
int lg_h2_submit(lg_client *c);
int lg_h2_on_read(lg_client *c, const char *data, size_t len);
/* Serialises pending frames into lg_client_wbuf. 0 or -1. */
int lg_h2_send(lg_client *c);
/* 1 while the session still wants to read or write. */
int lg_h2_alive(lg_client *c);
/* Ends the session with GOAWAY(NO_ERROR). */
void lg_h2_terminate(lg_client *c);
/* The connection is gone: streams still open are lost (-1), or none were
 * (0). */
int lg_h2_on_eof(lg_client *c);

#endif
