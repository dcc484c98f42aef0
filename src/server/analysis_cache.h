/* analysis_cache: finished analysis bodies, by object, change sequence,
 * window, format and content coding - bounded in bytes, LRU.
 *
 * An entry is never stale: its key includes the object's change_seq,
 * which every write touching the object bumps (revisions, observations,
 * events, late data included), so a changed object simply misses. Old
 * entries age out of the LRU. One cache for the process (its budget is
 * --analysis-cache-mb) behind one mutex held only for the hash lookup and
 * list update; bodies are immutable and reference-counted, so copying one
 * out happens outside the lock. */
#ifndef OBJECTD_ANALYSIS_CACHE_H
#define OBJECTD_ANALYSIS_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct analysis_key {
    int64_t id;
    int64_t change_seq;
    int64_t from, to; /* as asked (0: default window) */
    int pretty;
    int coding; /* compress_coding */
} analysis_key;

typedef struct analysis_entry analysis_entry;

/* Sets the byte budget (0 disables the cache). Call before use. */
void analysis_cache_init(size_t max_bytes);
void analysis_cache_destroy(void);

/* A reference to the cached body for |k|, or NULL. Release it with
 * analysis_cache_release. */
analysis_entry *analysis_cache_get(const analysis_key *k);

/* Stores a copy of |body| under |k| (replacing nothing: a racing insert of
 * the same key keeps the first). Returns a reference to the entry now
 * cached, or NULL if it does not fit or the cache is off. */
analysis_entry *analysis_cache_put(const analysis_key *k, int coding,
                                   const char *body, size_t len);

/* The body and the coding it is in (identity when the coding asked for in
 * the key was not worth it: small bodies are not compressed). */
const char *analysis_entry_body(const analysis_entry *e, size_t *len,
                                int *coding);
void analysis_cache_release(analysis_entry *e);

/* Counters for tests and metrics. */
typedef struct analysis_cache_stats {
    uint64_t hits, misses, inserts, evictions;
    size_t bytes, entries;
} analysis_cache_stats;
void analysis_cache_get_stats(analysis_cache_stats *out);

#endif
