#!/usr/bin/env bash
# bench/http2.sh - keep-alive GET /healthz over h2c (prior knowledge):
# objectd vs nginx, h2load -c 16 -m 10 -n 200000, alternating rounds.
# Same options and environment as bench/http1.sh (plus STREAMS=10).
BENCH_PROTO=h2c exec bash "$(dirname "${BASH_SOURCE[0]}")/http1.sh" "$@"
