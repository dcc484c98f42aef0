/* profile: SIGPROF sampling into a preallocated ring (see profile.h). */
#include "profile.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <link.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

enum {
    MAX_FRAMES = 48,
    MAX_SAMPLES = 16384, /* 60 s at 100 Hz on 2 busy cores, and margin */
    PERIOD_US = 10000,
    SKIP_FRAMES = 2, /* the handler and the signal trampoline */
};

typedef struct sample {
    atomic_int depth; /* 0 until the frames are written */
    void *frames[MAX_FRAMES];
} sample;

static sample *ring;
static atomic_long taken;
static atomic_int busy;

static void on_sigprof(int sig) {
    (void)sig;
    int saved = errno;
    long i = atomic_fetch_add_explicit(&taken, 1, memory_order_relaxed);
    if (ring != NULL && i < MAX_SAMPLES) {
        int n = backtrace(ring[i].frames, MAX_FRAMES);
        atomic_store_explicit(&ring[i].depth, n > 0 ? n : -1,
                              memory_order_release);
    }
    errno = saved;
}

int profile_start(void) {
    int expected = 0;
    if (!atomic_compare_exchange_strong(&busy, &expected, 1))
        return -EBUSY;
    ring = calloc(MAX_SAMPLES, sizeof *ring);
    if (ring == NULL) {
        atomic_store(&busy, 0);
        return -ENOMEM;
    }
    atomic_store(&taken, 0);
    /* The first backtrace() loads the unwinder (malloc, dlopen): do it
     * here, never in the handler. */
    void *warm[4];
    backtrace(warm, 4);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigprof;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    struct itimerval it = {{0, PERIOD_US}, {0, PERIOD_US}};
    if (sigaction(SIGPROF, &sa, NULL) != 0 ||
        setitimer(ITIMER_PROF, &it, NULL) != 0) {
        int rc = -errno;
        signal(SIGPROF, SIG_IGN);
        free(ring);
        ring = NULL;
        atomic_store(&busy, 0);
        return rc;
    }
    return 0;
}

/* ---- symbols ------------------------------------------------------------ */

typedef struct sym {
    uintptr_t addr, size;
    const char *name;
} sym;

typedef struct symtab {
    sym *syms;
    size_t n;
    void *map; /* the executable, mapped while symbolizing */
    size_t map_len;
    uintptr_t base; /* load address of the (PIE) executable */
} symtab;

static int cmp_sym(const void *a, const void *b) {
    uintptr_t x = ((const sym *)a)->addr, y = ((const sym *)b)->addr;
    return x < y ? -1 : x > y;
}

static int find_base(struct dl_phdr_info *info, size_t size, void *arg) {
    (void)size;
    *(uintptr_t *)arg = (uintptr_t)info->dlpi_addr;
    return 1; /* the first object is the executable */
}

/* Loads the function symbols of /proc/self/exe (.symtab, which has the
 * static functions too). Leaves |t| empty if there is none. */
static void symtab_load(symtab *t) {
    memset(t, 0, sizeof *t);
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    struct stat st;
    if (fstat(fd, &st) != 0 || (size_t)st.st_size < sizeof(Elf64_Ehdr)) {
        close(fd);
        return;
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return;
    t->map = map;
    t->map_len = (size_t)st.st_size;
    const unsigned char *img = map;
    const Elf64_Ehdr *eh = map;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
        eh->e_ident[EI_CLASS] != ELFCLASS64 ||
        eh->e_shoff + (size_t)eh->e_shnum * sizeof(Elf64_Shdr) > t->map_len)
        return;
    const Elf64_Shdr *sh = (const Elf64_Shdr *)(img + eh->e_shoff);
    for (int i = 0; i < eh->e_shnum; i++) {
        if (sh[i].sh_type != SHT_SYMTAB || sh[i].sh_link >= eh->e_shnum)
            continue;
        const Elf64_Shdr *strs = &sh[sh[i].sh_link];
        if (sh[i].sh_offset + sh[i].sh_size > t->map_len ||
            strs->sh_offset + strs->sh_size > t->map_len)
            return;
        const Elf64_Sym *s = (const Elf64_Sym *)(img + sh[i].sh_offset);
        size_t n = sh[i].sh_size / sizeof *s;
        t->syms = calloc(n ? n : 1, sizeof *t->syms);
        if (t->syms == NULL)
            return;
        for (size_t k = 0; k < n; k++) {
            if (ELF64_ST_TYPE(s[k].st_info) != STT_FUNC || s[k].st_value == 0 ||
                s[k].st_name >= strs->sh_size)
                continue;
            sym *y = &t->syms[t->n++];
            y->addr = s[k].st_value;
            y->size = s[k].st_size ? s[k].st_size : 1;
            y->name = (const char *)img + strs->sh_offset + s[k].st_name;
        }
        qsort(t->syms, t->n, sizeof *t->syms, cmp_sym);
        break;
    }
    dl_iterate_phdr(find_base, &t->base);
}

static void symtab_free(symtab *t) {
    free(t->syms);
    if (t->map)
        munmap(t->map, t->map_len);
}

/* The function containing |pc|: ours first, then a shared library's
 * exported symbol, else the library's file name, else "??". A return
 * address points after the call: look up pc - 1. */
static const char *symbolize(const symtab *t, uintptr_t pc, char *tmp,
                             size_t tmplen) {
    uintptr_t a = pc - 1 - t->base;
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (t->syms[mid].addr <= a)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo > 0 && a < t->syms[lo - 1].addr + t->syms[lo - 1].size)
        return t->syms[lo - 1].name;
    Dl_info info;
    if (dladdr((void *)(pc - 1), &info) != 0) {
        if (info.dli_sname)
            return info.dli_sname;
        if (info.dli_fname) {
            const char *slash = strrchr(info.dli_fname, '/');
            snprintf(tmp, tmplen, "[%s]", slash ? slash + 1 : info.dli_fname);
            return tmp;
        }
    }
    return "??";
}

/* ---- folding ------------------------------------------------------------ */

typedef struct folded {
    char *stack;
    long count;
} folded;

static int cmp_folded(const void *a, const void *b) {
    const folded *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->stack, y->stack);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(((const folded *)a)->stack, ((const folded *)b)->stack);
}

long profile_stop(buf *out) {
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_PROF, &off, NULL);
    /* A SIGPROF already pending must not kill us (its default action). */
    signal(SIGPROF, SIG_IGN);
    /* A handler that began just before may still be writing its sample:
     * it takes microseconds; wait for it before reading or freeing. */
    usleep(20000);
    long n = atomic_load(&taken);
    if (n > MAX_SAMPLES)
        n = MAX_SAMPLES;

    symtab t;
    symtab_load(&t);
    folded *f = calloc((size_t)(n ? n : 1), sizeof *f);
    long nf = 0;
    buf line;
    buf_init(&line, 64 * 1024);
    for (long i = 0; f && i < n; i++) {
        int depth = atomic_load_explicit(&ring[i].depth, memory_order_acquire);
        if (depth <= SKIP_FRAMES)
            continue;
        line.len = 0;
        /* Root first: backtrace gives the leaf first. */
        for (int k = depth - 1; k >= SKIP_FRAMES; k--) {
            char tmp[128];
            const char *name =
                symbolize(&t, (uintptr_t)ring[i].frames[k], tmp, sizeof tmp);
            if (line.len)
                buf_append_char(&line, ';');
            buf_append_str(&line, name);
        }
        buf_append_char(&line, '\0');
        f[nf].stack = strdup(line.data);
        f[nf].count = 1;
        if (f[nf].stack)
            nf++;
    }
    buf_free(&line);
    /* Merge equal stacks, then most frequent first. */
    long m = 0;
    if (nf > 0) {
        qsort(f, (size_t)nf, sizeof *f, cmp_str);
        for (long i = 0; i < nf; i++) {
            if (m > 0 && strcmp(f[m - 1].stack, f[i].stack) == 0) {
                f[m - 1].count++;
                free(f[i].stack);
            } else {
                f[m++] = f[i];
            }
        }
        qsort(f, (size_t)m, sizeof *f, cmp_folded);
    }
    for (long i = 0; i < m; i++) {
        buf_appendf(out, "%s %ld\n", f[i].stack, f[i].count);
        free(f[i].stack);
    }
    free(f);
    symtab_free(&t);
    free(ring);
    ring = NULL;
    atomic_store(&busy, 0);
    return n;
}
