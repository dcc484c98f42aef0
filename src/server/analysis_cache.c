/* analysis_cache: a bounded LRU of analysis bodies (see the header). */
#include "analysis_cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

struct analysis_entry {
    analysis_key key;
    uint64_t hash;
    analysis_entry *chain;       /* hash bucket */
    analysis_entry *prev, *next; /* LRU: head is the most recent */
    atomic_int refs;             /* the cache's own reference is one */
    int coding;
    size_t len;
    char body[];
};

enum { BUCKETS = 4096 };

static struct {
    pthread_mutex_t lock;
    size_t max_bytes, bytes, entries;
    analysis_entry *buckets[BUCKETS];
    analysis_entry *head, *tail;
    uint64_t hits, misses, inserts, evictions;
} cache = {.lock = PTHREAD_MUTEX_INITIALIZER};

static uint64_t hash_key(const analysis_key *k) {
    uint64_t h = 1469598103934665603ULL;
    const int64_t parts[] = {k->id, k->change_seq, k->from,
                             k->to, k->pretty,     k->coding};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        h ^= (uint64_t)parts[i];
        h *= 1099511628211ULL;
        h ^= h >> 29;
    }
    return h;
}

static int same(const analysis_key *a, const analysis_key *b) {
    return a->id == b->id && a->change_seq == b->change_seq &&
           a->from == b->from && a->to == b->to && a->pretty == b->pretty &&
           a->coding == b->coding;
}

void analysis_cache_init(size_t max_bytes) {
    cache.max_bytes = max_bytes;
}

static void unlink_lru(analysis_entry *e) {
    if (e->prev)
        e->prev->next = e->next;
    else
        cache.head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        cache.tail = e->prev;
    e->prev = e->next = NULL;
}

static void push_front(analysis_entry *e) {
    e->prev = NULL;
    e->next = cache.head;
    if (cache.head)
        cache.head->prev = e;
    cache.head = e;
    if (cache.tail == NULL)
        cache.tail = e;
}

static void unlink_bucket(analysis_entry *e) {
    analysis_entry **p = &cache.buckets[e->hash % BUCKETS];
    while (*p && *p != e)
        p = &(*p)->chain;
    if (*p)
        *p = e->chain;
}

void analysis_cache_release(analysis_entry *e) {
    if (e && atomic_fetch_sub(&e->refs, 1) == 1)
        free(e);
}

/* Drops least-recently-used entries until |need| more bytes fit. */
static void evict_for(size_t need) {
    while (cache.tail && cache.bytes + need > cache.max_bytes) {
        analysis_entry *e = cache.tail;
        unlink_lru(e);
        unlink_bucket(e);
        cache.bytes -= e->len;
        cache.entries--;
        cache.evictions++;
        analysis_cache_release(e);
    }
}

analysis_entry *analysis_cache_get(const analysis_key *k) {
    if (cache.max_bytes == 0)
        return NULL;
    uint64_t h = hash_key(k);
    pthread_mutex_lock(&cache.lock);
    analysis_entry *e = cache.buckets[h % BUCKETS];
    while (e && !(e->hash == h && same(&e->key, k)))
        e = e->chain;
    if (e) {
        unlink_lru(e);
        push_front(e);
        atomic_fetch_add(&e->refs, 1);
        cache.hits++;
    } else {
        cache.misses++;
    }
    pthread_mutex_unlock(&cache.lock);
    metrics_cache_lookup(e != NULL);
    return e;
}

analysis_entry *analysis_cache_put(const analysis_key *k, int coding,
                                   const char *body, size_t len) {
    if (cache.max_bytes == 0 || len > cache.max_bytes / 4)
        return NULL;
    analysis_entry *e = malloc(sizeof *e + len);
    if (e == NULL)
        return NULL;
    memset(e, 0, sizeof *e);
    e->key = *k;
    e->hash = hash_key(k);
    e->len = len;
    e->coding = coding;
    atomic_init(&e->refs, 2); /* the cache's and the caller's */
    memcpy(e->body, body, len);
    pthread_mutex_lock(&cache.lock);
    analysis_entry *old = cache.buckets[e->hash % BUCKETS];
    while (old && !(old->hash == e->hash && same(&old->key, k)))
        old = old->chain;
    if (old) {
        atomic_fetch_add(&old->refs, 1);
        pthread_mutex_unlock(&cache.lock);
        free(e);
        return old;
    }
    evict_for(len);
    e->chain = cache.buckets[e->hash % BUCKETS];
    cache.buckets[e->hash % BUCKETS] = e;
    push_front(e);
    cache.bytes += len;
    cache.entries++;
    cache.inserts++;
    pthread_mutex_unlock(&cache.lock);
    return e;
}

const char *analysis_entry_body(const analysis_entry *e, size_t *len,
                                int *coding) {
    *len = e->len;
    *coding = e->coding;
    return e->body;
}

void analysis_cache_get_stats(analysis_cache_stats *out) {
    pthread_mutex_lock(&cache.lock);
    out->hits = cache.hits;
    out->misses = cache.misses;
    out->inserts = cache.inserts;
    out->evictions = cache.evictions;
    out->bytes = cache.bytes;
    out->entries = cache.entries;
    pthread_mutex_unlock(&cache.lock);
}

void analysis_cache_destroy(void) {
    pthread_mutex_lock(&cache.lock);
    while (cache.head) {
        analysis_entry *e = cache.head;
        unlink_lru(e);
        unlink_bucket(e);
        analysis_cache_release(e);
    }
    cache.bytes = cache.entries = 0;
    pthread_mutex_unlock(&cache.lock);
}
