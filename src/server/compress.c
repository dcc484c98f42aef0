/* compress: Accept-Encoding negotiation and gzip, br and zstd codings. */
#define ZLIB_CONST
#include "compress.h"

#include <brotli/decode.h>
#include <brotli/encode.h>
#include <errno.h>
#include <pthread.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

/* Levels, measured on a real pretty-printed analysis (6 metrics over 30
 * days, 220 KB) and on test_compress's 300 KB imitation, which prints its
 * table. zstd 6 is 15-20% smaller than zstd 3 (18.0 KB against 22.3 KB on
 * the real one) for about 1 ms more (1.1 ms against 0.25), within a few
 * percent of br 5 (17.8 KB, 1.9 ms) in half its time; zstd 9 saves 5% more
 * for twice the time. br 5 is the knee: br 4 is 9% bigger, br 6 0.6%
 * smaller for 15% more time, br 7 1.5% smaller for 1.5 to 10 times the
 * time. gzip 9 would take 5 times as long as gzip 6 for 8%. The price of
 * zstd 6 is memory: 4 to 6 MB of context per thread, 1.5 to 3.7 MB at 3. */
enum {
    ZSTD_LEVEL = 6,
    ZSTD_LEVEL_MAX = 19,
    /* RFC 9659: zstd as a Content-Encoding uses windows of at most 8 MB. */
    ZSTD_WINDOW_LOG_MAX = 23,
    BR_QUALITY = 5,
    BR_WINDOW = 22,
    GZIP_LEVEL = 6,
    GZIP_WINDOW = 15 + 16, /* 15: 32 KB window; +16: gzip framing */
    GZIP_MEM_LEVEL = 8
};

/* This thread's reusable contexts; see compress.h. |def_level| is 0 while
 * |def| is not initialised. */
typedef struct thread_ctx {
    ZSTD_CCtx *zc;
    ZSTD_DCtx *zd;
    z_stream def;
    int def_level;
    z_stream inf;
    int inf_ready;
} thread_ctx;

/* Each thread's contexts live on the heap and are also listed in a global
 * registry: threads that never call compress_thread_cleanup (libuv's pool)
 * keep them for the life of the process, reachable rather than leaked. */
static _Thread_local thread_ctx *tls_ptr;
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static thread_ctx **registry;
static size_t registry_len;

static thread_ctx *tls_get(void) {
    static thread_ctx fallback; /* only if even calloc fails */
    if (tls_ptr)
        return tls_ptr;
    thread_ctx *t = calloc(1, sizeof *t);
    if (t == NULL)
        return &fallback;
    pthread_mutex_lock(&registry_lock);
    thread_ctx **r = realloc(registry, (registry_len + 1) * sizeof *r);
    if (r) {
        registry = r;
        registry[registry_len++] = t;
    }
    pthread_mutex_unlock(&registry_lock);
    tls_ptr = t;
    return t;
}
#define tls (*tls_get())

static const char *const names[COMPRESS_CODINGS] = {"identity", "gzip", "br",
                                                    "zstd"};

const char *compress_name(compress_coding c) {
    if ((unsigned)c >= COMPRESS_CODINGS)
        return NULL;
    return names[c];
}

/* ---- negotiation ---- */

static int is_ows(char ch) {
    return ch == ' ' || ch == '\t';
}

static int is_tchar(char ch) {
    unsigned char u = (unsigned char)ch;
    if ((u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') ||
        (u >= 'A' && u <= 'Z'))
        return 1;
    return u != 0 && strchr("!#$%&'*+-.^_`|~", u) != NULL;
}

static size_t skip_ows(const char *s, size_t len, size_t p) {
    while (p < len && is_ows(s[p]))
        p++;
    return p;
}

static size_t skip_token(const char *s, size_t len, size_t p) {
    while (p < len && is_tchar(s[p]))
        p++;
    return p;
}

static int token_is(const char *s, size_t n, const char *lit) {
    return strlen(lit) == n && strncasecmp(s, lit, n) == 0;
}

/* A qvalue (RFC 9110 12.4.2) in thousandths, or -1 if malformed. */
static int parse_qvalue(const char *s, size_t n) {
    if (n == 0 || n > 5 || (s[0] != '0' && s[0] != '1'))
        return -1;
    int w = (s[0] - '0') * 1000;
    if (n == 1)
        return w;
    if (s[1] != '.')
        return -1;
    int scale = 100;
    for (size_t i = 2; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        w += (s[i] - '0') * scale;
        scale /= 10;
    }
    return w > 1000 ? -1 : w;
}

/* Parses the parameters of one element from |*pp| (just after the coding
 * and its OWS) up to the next ',' or the end. Returns the weight in
 * thousandths, or -1 if the element is malformed. Parameters other than q
 * are not defined for Accept-Encoding, so they are skipped, but their
 * syntax must hold: a quoted-string may contain a comma. */
static int parse_params(const char *s, size_t len, size_t *pp) {
    size_t p = *pp;
    int weight = 1000, seen_q = 0;
    while (p < len && s[p] == ';') {
        p = skip_ows(s, len, p + 1);
        size_t name = p;
        p = skip_token(s, len, p);
        size_t name_len = p - name;
        if (name_len == 0 || p >= len || s[p] != '=')
            return -1;
        size_t value = ++p;
        int quoted = p < len && s[p] == '"';
        if (quoted) {
            for (p++; p < len && s[p] != '"'; p++)
                if (s[p] == '\\' && p + 1 < len)
                    p++;
            if (p >= len)
                return -1;
            p++;
        } else {
            p = skip_token(s, len, p);
        }
        size_t value_len = p - value;
        if (token_is(s + name, name_len, "q")) {
            /* The weight grammar has no quoted form, and two are one too
             * many. */
            if (seen_q || quoted)
                return -1;
            weight = parse_qvalue(s + value, value_len);
            if (weight < 0)
                return -1;
            seen_q = 1;
        } else if (value_len == 0) {
            return -1;
        }
        p = skip_ows(s, len, p);
    }
    *pp = p;
    return p < len && s[p] != ',' ? -1 : weight;
}

/* Which coding a token names, COMPRESS_CODINGS for "*", -1 for others. */
static int coding_of(const char *s, size_t n) {
    if (token_is(s, n, "gzip") || token_is(s, n, "x-gzip"))
        return COMPRESS_GZIP;
    if (token_is(s, n, "br"))
        return COMPRESS_BR;
    if (token_is(s, n, "zstd"))
        return COMPRESS_ZSTD;
    if (token_is(s, n, "identity"))
        return COMPRESS_IDENTITY;
    if (token_is(s, n, "*"))
        return COMPRESS_CODINGS;
    return -1;
}

compress_coding compress_negotiate(const char *ae, size_t len) {
    /* Weights in thousandths, -1 for "not listed"; the last slot is "*". */
    int listed[COMPRESS_CODINGS + 1];
    for (size_t i = 0; i <= COMPRESS_CODINGS; i++)
        listed[i] = -1;
    if (ae == NULL)
        return COMPRESS_IDENTITY;

    size_t p = 0;
    while (p < len) {
        p = skip_ows(ae, len, p);
        size_t tok = p;
        p = skip_token(ae, len, p);
        size_t tok_len = p - tok;
        p = skip_ows(ae, len, p);
        int w = parse_params(ae, len, &p);
        /* Empty elements (",,") are allowed by RFC 9110 5.6.1. */
        if (tok_len > 0 && w >= 0) {
            int c = coding_of(ae + tok, tok_len);
            if (c >= 0 && w > listed[c])
                listed[c] = w;
        }
        while (p < len && ae[p] != ',')
            p++;
        p++;
    }

    static const compress_coding preferred[] = {COMPRESS_ZSTD, COMPRESS_BR,
                                                COMPRESS_GZIP};
    int star = listed[COMPRESS_CODINGS];
    compress_coding best = COMPRESS_IDENTITY;
    int best_w = 0; /* q=0 is "not acceptable" */
    for (size_t i = 0; i < sizeof preferred / sizeof preferred[0]; i++) {
        compress_coding c = preferred[i];
        int w = listed[c] >= 0 ? listed[c] : star;
        if (w > best_w) {
            best = c;
            best_w = w;
        }
    }
    /* identity unlisted (-1) is acceptable but ranks below any coding the
     * client accepts; listed, it competes on weight and loses ties. */
    int id_w =
        listed[COMPRESS_IDENTITY] >= 0 ? listed[COMPRESS_IDENTITY] : star;
    if (id_w > best_w)
        best = COMPRESS_IDENTITY;
    return best;
}

/* ---- coding ---- */

/* Grows the free space after |out->len| by about what this call has
 * written since |start| (at least |min_step|), within |out->max|. Called
 * when a library needs more output space; -ENOBUFS if there is no more. */
static int more_room(buf *out, size_t start, size_t min_step) {
    size_t room = out->max > out->len ? out->max - out->len : 0;
    size_t have = out->cap - out->len;
    if (have >= room)
        return -ENOBUFS;
    size_t step = out->len - start;
    if (step < min_step)
        step = min_step;
    return buf_reserve(out, step > room - have ? room : have + step);
}

static int zstd_error(size_t r) {
    return ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation ? -ENOMEM
                                                                : -EIO;
}

static int zstd_encode(int level, const void *in, size_t len, buf *out) {
    size_t start = out->len;
    if (tls.zc == NULL) {
        if ((tls.zc = ZSTD_createCCtx()) == NULL)
            return -ENOMEM;
        /* Four bytes and a hash far faster than the compression buy what
         * gzip has by default: a corrupt body is an error, not data. */
        ZSTD_CCtx_setParameter(tls.zc, ZSTD_c_checksumFlag, 1);
    }
    /* A call that failed half way leaves a frame open; parameters stay. */
    ZSTD_CCtx_reset(tls.zc, ZSTD_reset_session_only);
    size_t r = ZSTD_CCtx_setParameter(tls.zc, ZSTD_c_compressionLevel, level);
    if (ZSTD_isError(r))
        return zstd_error(r);
    ZSTD_inBuffer ib = {in, len, 0};
    do {
        if (out->cap == out->len) {
            int rc = more_room(out, start, len / 8 + 256);
            if (rc)
                return rc;
        }
        ZSTD_outBuffer ob = {out->data + out->len, out->cap - out->len, 0};
        /* ZSTD_e_end from the first call: zstd knows the input size, so
         * it sizes its tables to it and records it in the frame. */
        r = ZSTD_compressStream2(tls.zc, &ob, &ib, ZSTD_e_end);
        out->len += ob.pos;
        if (ZSTD_isError(r))
            return zstd_error(r);
    } while (r != 0);
    return 0;
}

static int zstd_decode(const void *in, size_t len, buf *out) {
    size_t start = out->len;
    if (tls.zd == NULL) {
        if ((tls.zd = ZSTD_createDCtx()) == NULL)
            return -ENOMEM;
        ZSTD_DCtx_setParameter(tls.zd, ZSTD_d_windowLogMax,
                               ZSTD_WINDOW_LOG_MAX);
    }
    ZSTD_DCtx_reset(tls.zd, ZSTD_reset_session_only);
    ZSTD_inBuffer ib = {in, len, 0};
    size_t r = 1; /* non-zero: inside a frame, or none seen yet */
    while (ib.pos < ib.size || r != 0) {
        if (out->cap == out->len) {
            int rc = more_room(out, start, len < SIZE_MAX / 4 ? len * 4 : len);
            if (rc)
                return rc;
        }
        ZSTD_outBuffer ob = {out->data + out->len, out->cap - out->len, 0};
        r = ZSTD_decompressStream(tls.zd, &ob, &ib);
        out->len += ob.pos;
        if (ZSTD_isError(r))
            return zstd_error(r);
        /* Output not full means everything decodable was flushed: with no
         * input left and the frame unfinished, the input was cut short. */
        if (r != 0 && ib.pos == ib.size && ob.pos < ob.size)
            return -EIO;
    }
    return 0;
}

static int zlib_error(int zr) {
    return zr == Z_MEM_ERROR ? -ENOMEM : -EIO;
}

/* zlib counts in uInt: feed |*left| bytes in slices it can take. */
static void zlib_feed(z_stream *z, size_t *left) {
    if (z->avail_in == 0 && *left > 0) {
        uInt n = *left > UINT_MAX ? UINT_MAX : (uInt)*left;
        z->avail_in = n;
        *left -= n;
    }
}

static uInt zlib_out(z_stream *z, buf *out) {
    size_t room = out->cap - out->len;
    uInt n = room > UINT_MAX ? UINT_MAX : (uInt)room;
    z->next_out = (Bytef *)out->data + out->len;
    z->avail_out = n;
    return n;
}

static int gzip_encode(int level, const void *in, size_t len, buf *out) {
    size_t start = out->len;
    z_stream *z = &tls.def;
    int zr;
    if (tls.def_level != level) {
        /* Another level (measurements only): a new stream is simpler than
         * deflateParams' rules on when a level may change. */
        if (tls.def_level != 0)
            deflateEnd(z);
        tls.def_level = 0;
        memset(z, 0, sizeof *z);
        zr = deflateInit2(z, level, Z_DEFLATED, GZIP_WINDOW, GZIP_MEM_LEVEL,
                          Z_DEFAULT_STRATEGY);
        if (zr != Z_OK)
            return zlib_error(zr);
        tls.def_level = level;
    } else if ((zr = deflateReset(z)) != Z_OK) {
        return zlib_error(zr);
    }
    z->next_in = in;
    z->avail_in = 0;
    size_t left = len;
    for (;;) {
        zlib_feed(z, &left);
        if (out->cap == out->len) {
            int rc = more_room(out, start, len / 8 + 256);
            if (rc)
                return rc;
        }
        uInt avail = zlib_out(z, out);
        zr = deflate(z, left > 0 ? Z_NO_FLUSH : Z_FINISH);
        out->len += avail - z->avail_out;
        if (zr == Z_STREAM_END)
            return 0;
        /* Z_BUF_ERROR is "no progress", impossible with room to write. */
        if (zr != Z_OK)
            return zlib_error(zr);
    }
}

static int gzip_decode(const void *in, size_t len, buf *out) {
    size_t start = out->len;
    z_stream *z = &tls.inf;
    int zr;
    if (!tls.inf_ready) {
        memset(z, 0, sizeof *z);
        /* gzip framing only: Content-Encoding gzip is not zlib's. */
        zr = inflateInit2(z, GZIP_WINDOW);
        if (zr != Z_OK)
            return zlib_error(zr);
        tls.inf_ready = 1;
    } else if ((zr = inflateReset(z)) != Z_OK) {
        return zlib_error(zr);
    }
    z->next_in = in;
    z->avail_in = 0;
    size_t left = len;
    for (;;) {
        zlib_feed(z, &left);
        if (out->cap == out->len) {
            int rc = more_room(out, start, len < SIZE_MAX / 4 ? len * 4 : len);
            if (rc)
                return rc;
        }
        uInt avail = zlib_out(z, out);
        zr = inflate(z, Z_NO_FLUSH);
        out->len += avail - z->avail_out;
        if (zr == Z_STREAM_END)
            return z->avail_in > 0 || left > 0 ? -EIO : 0;
        /* With room to write, Z_BUF_ERROR means the input ran out. */
        if (zr != Z_OK)
            return zlib_error(zr);
    }
}

static int br_encode(int level, const void *in, size_t len, buf *out) {
    size_t start = out->len;
    int rc = 0;
    BrotliEncoderState *s = BrotliEncoderCreateInstance(NULL, NULL, NULL);
    if (s == NULL)
        return -ENOMEM;
    BrotliEncoderSetParameter(s, BROTLI_PARAM_QUALITY, (uint32_t)level);
    BrotliEncoderSetParameter(s, BROTLI_PARAM_LGWIN, BR_WINDOW);
    BrotliEncoderSetParameter(s, BROTLI_PARAM_SIZE_HINT,
                              len > (1u << 30) ? 1u << 30 : (uint32_t)len);
    const uint8_t *next_in = in;
    size_t avail_in = len;
    while (!BrotliEncoderIsFinished(s)) {
        if (out->cap == out->len) {
            rc = more_room(out, start, len / 8 + 256);
            if (rc)
                goto out;
        }
        size_t avail_out = out->cap - out->len;
        uint8_t *next_out = (uint8_t *)out->data + out->len;
        /* With valid parameters the encoder fails only to allocate. */
        if (!BrotliEncoderCompressStream(s, BROTLI_OPERATION_FINISH, &avail_in,
                                         &next_in, &avail_out, &next_out,
                                         NULL)) {
            rc = -ENOMEM;
            goto out;
        }
        out->len = (size_t)((char *)next_out - out->data);
    }
out:
    BrotliEncoderDestroyInstance(s);
    return rc;
}

static int br_decode(const void *in, size_t len, buf *out) {
    size_t start = out->len;
    int rc = 0;
    BrotliDecoderState *s = BrotliDecoderCreateInstance(NULL, NULL, NULL);
    if (s == NULL)
        return -ENOMEM;
    const uint8_t *next_in = in;
    size_t avail_in = len;
    int grow = 0;
    for (;;) {
        /* Grow on the decoder's request too, not only when |out| is full:
         * should it ever ask with room left, looping would make no
         * progress. */
        if (out->cap == out->len || grow) {
            rc = more_room(out, start, len < SIZE_MAX / 4 ? len * 4 : len);
            if (rc)
                goto out;
        }
        size_t avail_out = out->cap - out->len;
        uint8_t *next_out = (uint8_t *)out->data + out->len;
        BrotliDecoderResult r = BrotliDecoderDecompressStream(
            s, &avail_in, &next_in, &avail_out, &next_out, NULL);
        out->len = (size_t)((char *)next_out - out->data);
        grow = r == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT;
        if (r == BROTLI_DECODER_RESULT_SUCCESS) {
            rc = avail_in > 0 ? -EIO : 0;
            goto out;
        }
        if (r == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT) {
            rc = -EIO; /* all of it was given: truncated */
            goto out;
        }
        if (r == BROTLI_DECODER_RESULT_ERROR) {
            BrotliDecoderErrorCode e = BrotliDecoderGetErrorCode(s);
            rc = e >= BROTLI_DECODER_ERROR_ALLOC_BLOCK_TYPE_TREES &&
                         e <= BROTLI_DECODER_ERROR_ALLOC_CONTEXT_MODES
                     ? -ENOMEM
                     : -EIO;
            goto out;
        }
    }
out:
    BrotliDecoderDestroyInstance(s);
    return rc;
}

int compress_encode_level(compress_coding c, int level, const void *in,
                          size_t len, buf *out) {
    size_t start = out->len;
    int rc;
    switch (c) {
    case COMPRESS_IDENTITY:
        return buf_append(out, in, len);
    case COMPRESS_GZIP:
        rc = level >= 1 && level <= 9 ? gzip_encode(level, in, len, out)
                                      : -EINVAL;
        break;
    case COMPRESS_BR:
        rc = level >= BROTLI_MIN_QUALITY && level <= BROTLI_MAX_QUALITY
                 ? br_encode(level, in, len, out)
                 : -EINVAL;
        break;
    case COMPRESS_ZSTD:
        rc = level >= 1 && level <= ZSTD_LEVEL_MAX
                 ? zstd_encode(level, in, len, out)
                 : -EINVAL;
        break;
    default:
        return -EINVAL;
    }
    if (rc)
        out->len = start;
    return rc;
}

int compress_encode(compress_coding c, const void *in, size_t len, buf *out) {
    static const int levels[COMPRESS_CODINGS] = {
        [COMPRESS_GZIP] = GZIP_LEVEL,
        [COMPRESS_BR] = BR_QUALITY,
        [COMPRESS_ZSTD] = ZSTD_LEVEL,
    };
    if ((unsigned)c >= COMPRESS_CODINGS)
        return -EINVAL;
    return compress_encode_level(c, levels[c], in, len, out);
}

int compress_decode(compress_coding c, const void *in, size_t len, buf *out) {
    size_t start = out->len;
    int rc;
    switch (c) {
    case COMPRESS_IDENTITY:
        return buf_append(out, in, len);
    case COMPRESS_GZIP:
        rc = gzip_decode(in, len, out);
        break;
    case COMPRESS_BR:
        rc = br_decode(in, len, out);
        break;
    case COMPRESS_ZSTD:
        rc = zstd_decode(in, len, out);
        break;
    default:
        return -EINVAL;
    }
    if (rc)
        out->len = start;
    return rc;
}

void compress_thread_cleanup(void) {
    thread_ctx *t = tls_ptr;
    if (t == NULL)
        return;
    ZSTD_freeCCtx(t->zc);
    ZSTD_freeDCtx(t->zd);
    if (t->def_level != 0)
        deflateEnd(&t->def);
    if (t->inf_ready)
        inflateEnd(&t->inf);
    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < registry_len; i++) {
        if (registry[i] == t) {
            registry[i] = registry[--registry_len];
            break;
        }
    }
    pthread_mutex_unlock(&registry_lock);
    free(t);
    tls_ptr = NULL;
}
