#!/usr/bin/env bash
# The management plane's figures: `xm list` latency with 100 defined domains,
# `xm create` -> first guest instruction (vs xeno-vmm alone), idle xend CPU
# with 3 idle guests. See bench/README.md ("xend and xm").
#   XM, XEND, XENO_VMM (default build/src/...), XENO_GUEST_DIR (build/guest)
#   BENCH_RUNS=5  BENCH_DEFINED=100  BENCH_LIST_RUNS=50  BENCH_IDLE_SECONDS=10
#   BENCH_JSON=file  raw samples
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
B=${XENO_BUILD:-$ROOT/build}
export XM=${XM:-$B/src/xm/xm}
export XEND=${XEND:-$B/src/xend/xend}
export XENO_VMM=${XENO_VMM:-$B/src/vmm/xeno-vmm}
export XENO_GUEST_DIR=${XENO_GUEST_DIR:-$ROOT/build/guest}
export PYTHONDONTWRITEBYTECODE=1
[ -f "$XENO_GUEST_DIR/Image" ] || { echo "bench: default guest not built in $XENO_GUEST_DIR (make guest)" >&2; exit 1; }
exec python3 "$ROOT/bench/xend.py" "$@"
