/* objectd: the API server's entry point - subcommands and configuration. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpus.h"
#include "log.h"
#include "server.h"
#include "tls.h"

#ifndef OBJECTD_VERSION
#define OBJECTD_VERSION "dev"
#endif

static void usage(FILE *out) {
    fprintf(out,
            "objectd %s - an HTTP/1.1 and HTTP/2 API server for tracked objects\n"
            "\n"
            "Usage: objectd [serve] [OPTIONS]\n"
            "       objectd --version\n"
            "\n"
            "Commands:\n"
            "  serve      serve the API (the default)\n"
            "\n"
            "Options (each also OBJECTD_<NAME> in the environment, and\n"
            "'name = value' in a --config file; flags win, then the\n"
            "environment, then the file):\n",
            OBJECTD_VERSION);
    config_print_help(&options_spec, out);
    fprintf(out,
            "\nSizes take k, m, g (binary); durations take ms, s, m, h "
            "(plain numbers are seconds).\n"
            "Signals: SIGTERM or SIGINT drains gracefully and exits 0; a "
            "second one closes at once.\n");
}

static int cmd_serve(int argc, char **argv) {
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
        if (tls_ctx_server_new(&srv.tls, srv.opt.tls_cert, srv.opt.tls_key,
                               err, sizeof err) != 0) {
            fprintf(stderr, "objectd: %s\n", err);
            config_free(&options_spec, &srv.opt);
            return 2;
        }
    }
    log_set_level((log_level)log_level_parse(srv.opt.log_level));
    if ((rc = log_access_open(srv.opt.access_log)) != 0) {
        fprintf(stderr, "objectd: --access-log %s: %s\n", srv.opt.access_log,
                strerror(-rc));
        config_free(&options_spec, &srv.opt);
        return 2;
    }

    char why[128];
    int cpus = cpus_available(why, sizeof why);
    srv.nworkers = srv.opt.threads > 0 ? (int)srv.opt.threads : cpus;
    log_line *l = log_begin(LOG_INFO, "starting");
    log_str(l, "service.version", OBJECTD_VERSION);
    log_int(l, "objectd.threads", srv.nworkers);
    log_str(l, "objectd.cpus", why);
    log_end(l);

    rc = server_run(&srv);
    tls_ctx_free(srv.tls);
    log_access_close();
    config_free(&options_spec, &srv.opt);
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("objectd %s\n", OBJECTD_VERSION);
        return 0;
    }
    if (argc > 1 && argv[1][0] != '-') {
        if (strcmp(argv[1], "serve") == 0)
            return cmd_serve(argc - 2, argv + 2);
        if (strcmp(argv[1], "help") == 0) {
            usage(stdout);
            return 0;
        }
        fprintf(stderr, "objectd: unknown command '%s' (see objectd --help)\n",
                argv[1]);
        return 2;
    }
    return cmd_serve(argc - 1, argv + 1);
}
