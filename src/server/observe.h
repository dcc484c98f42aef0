/* observe: where a request meets the metrics, the trace and the access
 * log - the few hooks the protocol layer and the store call.
 *
 * The "current request" is a thread-local pointer: set while the router
 * runs a handler and while the store runs a callback made for that
 * request, so a store call knows which request (and span) it belongs to
 * without every handler passing it along. */
#ifndef OBJECTD_OBSERVE_H
#define OBJECTD_OBSERVE_H

#include <stdint.h>

#include "exchange.h"

struct server;

/* Sets up metrics, tracing and the store observer for |srv|. Returns 0,
 * or -1 with a message in |err|. */
int observe_init(struct server *srv, char *err, size_t errlen);
void observe_shutdown(void);

/* The router found (or did not find) a handler: the request is in flight,
 * its trace starts, and it is the current request until the handler
 * returns. */
void observe_request_begin(exchange *ex);
void observe_handler_returned(void);

/* The response was handed to the protocol: counters, the span and the
 * access-log line. */
void observe_request_end(const exchange *ex, const char *protocol,
                         int32_t stream_id);

/* The client went away before the response could be sent (connection
 * closed, stream reset): counted and logged as status 499 (nginx's "client
 * closed request"), with the body bytes actually sent, so that in-flight
 * comes back down and the request is not lost from the figures. */
void observe_request_abandoned(exchange *ex, int32_t stream_id);

#endif
