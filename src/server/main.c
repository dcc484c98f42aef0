/* objectd: the API server's entry point - subcommands and configuration. */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis_cache.h"
#include "cpus.h"
#include "timeutil.h"
#include "log.h"
#include "seed.h"
#include "server.h"
#include "store.h"
#include "tls.h"

#ifndef OBJECTD_VERSION
#define OBJECTD_VERSION "dev"
#endif

static void usage(FILE *out) {
    fprintf(
        out,
        "objectd %s - an HTTP/1.1 and HTTP/2 API server for tracked objects\n"
        "\n"
        "Usage: objectd [serve] [OPTIONS]\n"
        "       objectd migrate [OPTIONS]\n"
        "       objectd --version\n"
        "\n"
        "Commands:\n"
        "  serve      serve the API (the default)\n"
        "  migrate    apply pending schema migrations to --db, then exit\n"
        "  seed       write the standard workload into an empty --db\n"
        "             (--objects, --days, --interval, --seed, --end)\n"
        "\n"
        "Options (each also OBJECTD_<NAME> in the environment, and\n"
        "'name = value' in a --config file; flags win, then the\n"
        "environment, then the file):\n",
        OBJECTD_VERSION);
    config_print_help(&options_spec, out);
    fprintf(out, "\nSizes take k, m, g (binary); durations take ms, s, m, h "
                 "(plain numbers are seconds).\n"
                 "Signals: SIGTERM or SIGINT drains gracefully and exits 0; a "
                 "second one closes at once.\n");
}

static void store_config_from(const options *o, store_config *sc, int nloops) {
    memset(sc, 0, sizeof *sc);
    sc->uri = o->db;
    sc->sync_full = strcmp(o->sync, "full") == 0;
    sc->pool_size = (int)o->db_pool_size;
    sc->pool_timeout_ms = o->db_pool_timeout_ms;
    sc->statement_timeout_ms = o->db_statement_timeout_ms;
    sc->nloops = nloops;
}

/* Opens --db and, unless told not to, migrates it. Returns 0 or 1 (after
 * logging why). */
static int open_store(server *srv, int migrate) {
    store_config sc;
    char err[512];
    store_config_from(&srv->opt, &sc, srv->nworkers);
    if (store_open(&srv->store, &sc, err, sizeof err) != 0) {
        log_line *l = log_begin(LOG_ERROR, "cannot open the store");
        log_str(l, "error.message", err);
        log_end(l);
        return 1;
    }
    if (migrate) {
        int n = store_migrate(srv->store, err, sizeof err);
        log_line *l = log_begin(n < 0 ? LOG_ERROR : LOG_INFO,
                                n < 0 ? "migration failed" : "migrated");
        if (n < 0)
            log_str(l, "error.message", err);
        else
            log_int(l, "objectd.migrations_applied", n);
        log_str(l, "db.system", store_kind(srv->store));
        log_end(l);
        if (n < 0) {
            store_close(srv->store);
            srv->store = NULL;
            return 1;
        }
    }
    return 0;
}

enum { CMD_SERVE, CMD_MIGRATE, CMD_SEED };

static int cmd_seed(server *srv) {
    workload w;
    char err[512];
    workload_defaults(&w);
    w.objects = (int)srv->opt.seed_objects;
    w.days = (int)srv->opt.seed_days;
    w.interval = srv->opt.seed_interval_ms * 1000;
    w.seed = (uint64_t)srv->opt.seed;
    if (time_parse_rfc3339_us(srv->opt.seed_end, strlen(srv->opt.seed_end),
                              &w.end) != 0) {
        fprintf(stderr, "objectd: --end '%s': expected an RFC 3339 time\n",
                srv->opt.seed_end);
        return 2;
    }
    if (workload_readings(&w) > 1000000) {
        fprintf(stderr, "objectd: --days / --interval give over a million "
                        "readings per metric\n");
        return 2;
    }
    /* A bulk load: fsync at checkpoints, not at each of its thousands of
     * commits (a seed that dies half-way is simply run again). */
    free(srv->opt.sync);
    srv->opt.sync = strdup("normal");
    if (srv->opt.sync == NULL || open_store(srv, 1) != 0)
        return 1;
    int rc = seed_run(srv->store, &w, err, sizeof err);
    if (rc != 0) {
        log_line *l = log_begin(LOG_ERROR, "seed failed");
        log_str(l, "error.message", err);
        log_end(l);
    }
    store_close(srv->store);
    srv->store = NULL;
    return rc == 0 ? 0 : 1;
}

/* libuv's thread pool runs the SQLite queries and the analyses. libuv
 * makes 4 threads whatever the CPUs: on one CPU they take turns, and each
 * query pays wake-ups and context switches for it (4 threads against 2
 * cost a sixth more CPU per object GET: docs/store.md), while on a larger
 * machine 4 leave cores idle. So the pool follows the CPUs objectd may use
 * (affinity and cgroup quota, as the loops do), at least 2 - a write
 * waiting for the write mutex holds a thread, reads go on on the other -
 * and at most 16 (each thread has a SQLite reader with its own page
 * cache). With PostgreSQL the queries run on the loops; the pool has
 * libuv's 4 for the connects (up to 2 per loop, blocking in libpq), the
 * cancels and the analyses, as before. UV_THREADPOOL_SIZE, when set,
 * decides. Must run before the pool's first use. Returns the size. */
static int size_thread_pool(int cpus, const char *db) {
    const char *env = getenv("UV_THREADPOOL_SIZE");
    if (env != NULL && atoi(env) > 0)
        return atoi(env);
    if (strncmp(db, "sqlite:", 7) != 0)
        return 4; /* libuv's default */
    int n = cpus < 2 ? 2 : cpus > 16 ? 16 : cpus;
    char text[16];
    snprintf(text, sizeof text, "%d", n);
    setenv("UV_THREADPOOL_SIZE", text, 1);
    return n;
}

static int cmd_serve(int argc, char **argv, int cmd) {
    server srv;
    memset(&srv, 0, sizeof srv);
    char err[512];
    int rc = config_load(&options_spec, &srv.opt, argc, argv, err, sizeof err);
    if (rc == CONFIG_HELP) {
        usage(stdout);
        config_free(&options_spec, &srv.opt);
        return 0;
    }
    if (rc != 0) {
        fprintf(stderr, "objectd: %s\n(see objectd --help)\n",
                rc == -EINVAL ? err : strerror(-rc));
        config_free(&options_spec, &srv.opt);
        return 2;
    }
    if (srv.opt.listen.count == 0) {
        fprintf(stderr, "objectd: --listen: at least one address needed\n");
        config_free(&options_spec, &srv.opt);
        return 2;
    }
    if (srv.opt.tls_listen.count > 0) {
        if (!srv.opt.tls_cert || !srv.opt.tls_key) {
            fprintf(stderr, "objectd: --tls-listen needs --tls-cert and "
                            "--tls-key\n");
            config_free(&options_spec, &srv.opt);
            return 2;
        }
        if (tls_ctx_server_new(&srv.tls, srv.opt.tls_cert, srv.opt.tls_key, err,
                               sizeof err) != 0) {
            fprintf(stderr, "objectd: %s\n", err);
            config_free(&options_spec, &srv.opt);
            return 2;
        }
    }
    log_set_level((log_level)log_level_parse(srv.opt.log_level));
    srv.opt.analysis_cache_on = strcmp(srv.opt.analysis_cache, "on") == 0;
    {
        char *end;
        srv.opt.trace_sample_ratio = strtod(srv.opt.trace_sample, &end);
        if (end == srv.opt.trace_sample || *end != '\0' ||
            !(srv.opt.trace_sample_ratio >= 0 &&
              srv.opt.trace_sample_ratio <= 1)) {
            fprintf(stderr,
                    "objectd: --trace-sample-ratio '%s': expected a number "
                    "from 0 to 1\n(see objectd --help)\n",
                    srv.opt.trace_sample);
            config_free(&options_spec, &srv.opt);
            return 2;
        }
    }
    analysis_cache_init(srv.opt.analysis_cache_on
                            ? (size_t)srv.opt.analysis_cache_mb << 20
                            : 0);
    if ((rc = log_access_open(srv.opt.access_log)) != 0) {
        fprintf(stderr, "objectd: --access-log %s: %s\n", srv.opt.access_log,
                strerror(-rc));
        config_free(&options_spec, &srv.opt);
        return 2;
    }

    char why[128];
    int cpus = cpus_available(why, sizeof why);
    srv.nworkers = srv.opt.threads > 0 ? (int)srv.opt.threads : cpus;
    int pool_threads = size_thread_pool(cpus, srv.opt.db);
    if (cmd == CMD_SEED) {
        rc = cmd_seed(&srv);
        tls_ctx_free(srv.tls);
        log_access_close();
        config_free(&options_spec, &srv.opt);
        return rc;
    }
    if (cmd == CMD_MIGRATE) {
        rc = open_store(&srv, 1);
        store_close(srv.store);
        tls_ctx_free(srv.tls);
        log_access_close();
        config_free(&options_spec, &srv.opt);
        return rc;
    }
    log_line *l = log_begin(LOG_INFO, "starting");
    log_str(l, "service.version", OBJECTD_VERSION);
    log_int(l, "objectd.threads", srv.nworkers);
    log_int(l, "objectd.pool_threads", pool_threads);
    log_str(l, "objectd.cpus", why);
    log_end(l);

    if (open_store(&srv, strcmp(srv.opt.migrate, "auto") == 0) != 0) {
        tls_ctx_free(srv.tls);
        log_access_close();
        config_free(&options_spec, &srv.opt);
        return 1;
    }
    rc = server_run(&srv);
    store_close(srv.store);
    analysis_cache_destroy();
    tls_ctx_free(srv.tls);
    log_access_close();
    config_free(&options_spec, &srv.opt);
    return rc == 0 ? 0 : 1;
}

/* glibc's malloc serves blocks over a threshold (128 KiB, raised as such
 * blocks are freed) with fresh mmap()s and trims freed memory above 2x
 * that from a heap's top. An analysis allocates and frees a few blocks of
 * 100-300 KiB on the pool threads (the snapshot, the input, the output),
 * so each one faulted in fresh zeroed pages: a sixth of a cold analysis's
 * time went to page faults. Fixed thresholds keep such blocks in the
 * arenas for reuse; memory freed stays mapped up to the trim threshold
 * per arena, a bounded cost for not zeroing and faulting pages per
 * request. */
static void tune_malloc(void) {
    mallopt(M_MMAP_THRESHOLD, 8 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 32 * 1024 * 1024);
}

int main(int argc, char **argv) {
    tune_malloc();
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("objectd %s\n", OBJECTD_VERSION);
        return 0;
    }
    if (argc > 1 && argv[1][0] != '-') {
        if (strcmp(argv[1], "serve") == 0)
            return cmd_serve(argc - 2, argv + 2, CMD_SERVE);
        if (strcmp(argv[1], "migrate") == 0)
            return cmd_serve(argc - 2, argv + 2, CMD_MIGRATE);
        if (strcmp(argv[1], "seed") == 0)
            return cmd_serve(argc - 2, argv + 2, CMD_SEED);
        if (strcmp(argv[1], "help") == 0) {
            usage(stdout);
            return 0;
        }
        fprintf(stderr, "objectd: unknown command '%s' (see objectd --help)\n",
                argv[1]);
        return 2;
    }
    return cmd_serve(argc - 1, argv + 1, CMD_SERVE);
}
