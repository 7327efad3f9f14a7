#!/usr/bin/env bash
# Benchmark xeno-vmm against qemu-system-riscv64 -M virt on the default guest,
# alternating the two in one run.  See bench/README.md for the method.
#   BENCH_RUNS=5  BENCH_MEMORY=256  BENCH_IDLE_SECONDS=10
#   XENO_VMM=build/src/vmm/xeno-vmm  XENO_GUEST_DIR=build/guest
#   XENO_PEER=qemu   QEMU on both sides (checks the harness itself)
#   BENCH_LOG_DIR=dir  keep console transcripts;  BENCH_JSON=file  raw samples
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
export XENO_VMM=${XENO_VMM:-$ROOT/build/src/vmm/xeno-vmm}
export XENO_GUEST_DIR=${XENO_GUEST_DIR:-$ROOT/build/guest}
command -v qemu-system-riscv64 >/dev/null || { echo "bench: qemu-system-riscv64 not installed (qemu-system-misc)" >&2; exit 1; }
exec python3 "$ROOT/bench/bench.py" "$@"
