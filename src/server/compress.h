/* compress: Content-Encoding for responses - negotiation and coding.
 *
 * The server compresses a response body once (the cache keeps each coding
 * with its own ETag, SPEC section 2) and serves it many times, but a cold
 * analysis is compressed on the request path, so the levels below trade
 * ratio for a few milliseconds on a 300 KB JSON document. The measurements
 * behind them are printed by tests/unit/test_compress.c.
 *
 * Threads and ownership: every function may be called from any thread at
 * once. Each thread keeps its zstd contexts and zlib streams in
 * thread-local storage, created on first use and reset at the start of
 * each call (so a failed call leaves nothing behind): a worker does not
 * allocate a compressor per response. They hold about 4 MB per thread for
 * 300 KB bodies, up to 6 MB for bodies of several MB, until
 * compress_thread_cleanup. brotli's encoder cannot be reset, so each call
 * creates and frees its own. Output is appended to a caller-owned buf;
 * nothing returned points into this module's state. */
#ifndef OBJECTD_COMPRESS_H
#define OBJECTD_COMPRESS_H

#include <stddef.h>

#include "buf.h"

typedef enum compress_coding {
    COMPRESS_IDENTITY = 0,
    COMPRESS_GZIP,
    COMPRESS_BR,
    COMPRESS_ZSTD,
    COMPRESS_CODINGS
} compress_coding;

/* Bodies below this are sent as they are: the coding's framing and the
 * CPU would cost more than the bytes saved. */
enum { COMPRESS_MIN_BYTES = 1024 };

/* The Content-Encoding token of |c| ("identity", "gzip", "br", "zstd"), a
 * static string; NULL if |c| is out of range. */
const char *compress_name(compress_coding c);

/* The coding to answer with, given the Accept-Encoding field value |ae| of
 * |len| bytes (need not be NUL-terminated; NULL means the field is absent).
 *
 * RFC 9110 12.5.3: a comma-separated list of case-insensitive codings, each
 * with an optional ";q=" weight (0 to 1, at most three decimals). An element
 * whose weight is malformed is ignored, as is any other malformed element.
 * "*" stands for every coding not listed; q=0 means "not acceptable"; a
 * coding listed twice keeps its highest weight; "x-gzip" is gzip. Among the
 * acceptable codings with the highest weight we prefer zstd, then br, then
 * gzip. identity wins only when the client listed it (or "*") with a weight
 * higher than any coding we have. When nothing is acceptable - not even
 * identity ("identity;q=0", or "*;q=0" without identity) - the answer is
 * still identity: we never send 406 for this. */
compress_coding compress_negotiate(const char *ae, size_t len);

/* Compresses |len| bytes at |in| (NULL if |len| is 0) with coding |c|,
 * appending one complete stream to |out|; identity appends a copy. Levels
 * (measured, see compress.c): zstd 6 with a frame checksum, brotli quality
 * 5 with a 4 MB window (lgwin 22), gzip 6.
 *
 * Returns 0, -ENOBUFS (|out| would pass |out->max|), -ENOMEM, -EIO (library
 * error) or -EINVAL (bad |c|). On error |out->len| is as it was (its capacity
 * may have grown). */
int compress_encode(compress_coding c, const void *in, size_t len, buf *out);

/* As compress_encode with an explicit |level|: zstd 1 to 19 (higher levels
 * need windows over the 8 MB that RFC 9659 allows), brotli quality 0 to 11,
 * gzip 1 to 9; identity ignores it. -EINVAL outside those ranges. For
 * measurements and the load generator; the server uses compress_encode. */
int compress_encode_level(compress_coding c, int level, const void *in,
                          size_t len, buf *out);

/* Decompresses the |len| bytes at |in| coded with |c|, appending the result
 * to |out|; identity appends a copy. Output is bounded by |out->max|, so a
 * decompression bomb ends in -ENOBUFS; zstd frames whose window exceeds
 * 8 MB (RFC 9659) are refused. Input that is truncated, malformed or
 * followed by trailing bytes (for zstd: bytes that are not another frame)
 * is -EIO, as is any corruption the coding's checksum catches (gzip's
 * CRC-32, zstd's when the frame has one; br has none). Returns as
 * compress_encode, and on error |out->len| is as it was. */
int compress_decode(compress_coding c, const void *in, size_t len, buf *out);

/* Frees this thread's contexts. Call before a thread that used this module
 * exits (as with log_thread_cleanup); using the module again afterwards is
 * allowed and creates them anew. */
void compress_thread_cleanup(void);

#endif
