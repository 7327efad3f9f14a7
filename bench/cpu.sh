#!/usr/bin/env bash
# CPU suite: xeno-vmm against qemu-system-riscv64 -M virt (TCG) and native,
# alternating, on the default guest plus /bench.  See bench/README.md
# ("CPU suite") for the method.
#   BENCH_RUNS=5  BENCH_MEMORY=256  BENCH_ONLY=int,exec_true,...  BENCH_NATIVE=0  BENCH_QEMU=0
#   XENO_VMM=build/src/vmm/xeno-vmm  XENO_GUEST_DIR=build/guest
#   BENCH_CPU_OUT=build/bench-cpu   (programs, native busybox, initrd)
#   XENO_PEER=qemu   QEMU on both sides (checks the harness itself)
#   BENCH_LOG_DIR=dir  keep console transcripts;  BENCH_JSON=file  raw samples
#   BENCH_PERF=dir   perf record of xeno-vmm during BENCH_PERF_WORKLOADS
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
export XENO_VMM=${XENO_VMM:-$ROOT/build/src/vmm/xeno-vmm}
export XENO_GUEST_DIR=${XENO_GUEST_DIR:-$ROOT/build/guest}
export BENCH_CPU_OUT=${BENCH_CPU_OUT:-$ROOT/build/bench-cpu}
command -v qemu-system-riscv64 >/dev/null || { echo "bench-cpu: qemu-system-riscv64 not installed (qemu-system-misc)" >&2; exit 1; }
if [ -n "${BENCH_PERF:-}" ]; then
	command -v perf >/dev/null || { echo "bench-cpu: BENCH_PERF needs perf (apt-get install linux-perf)" >&2; exit 1; }
fi
bash "$ROOT/bench/cpu/build.sh" "$BENCH_CPU_OUT" "$XENO_GUEST_DIR" || exit 1
exec python3 "$ROOT/bench/cpu.py" "$@"
