#!/usr/bin/env bash
# Live migration, save/restore and the zstd level of compressed saves:
# Xeno (xend + xm, xeno-vmm) against qemu-system-riscv64 -M virt, side by
# side. See bench/README.md ("Migration, save and restore").
#   BENCH_RUNS=5  BENCH_PARTS="migrate save zstd"  BENCH_XENO_TLS="psk none"
#   BENCH_ZSTD_LEVELS="-1 1 3 6 9 19"  BENCH_SETTLE=3  BENCH_MIGRATE_TIMEOUT=180
#   BENCH_SAVE_DIR=dir (save files; default the work dir under $TMPDIR)
#   BENCH_LOG_DIR=dir  keep logs and console transcripts;  BENCH_JSON=file  raw samples
#   XM, XEND, XENO_VMM (default build/src/...; or XENO_BUILD=dir), XENO_GUEST_DIR
# Needs root: network namespaces, bridges and TAP devices.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
if [ "$(id -u)" != 0 ]; then
    echo "bench/migrate.sh: needs root (network namespaces, bridges, TAP devices); run it as root" >&2
    exit 1
fi
for c in ip qemu-system-riscv64 python3; do
    command -v "$c" >/dev/null || { echo "bench/migrate.sh: $c not installed (scripts/deps.sh)" >&2; exit 1; }
done
B=${XENO_BUILD:-$ROOT/build}
export XM=${XM:-$B/src/xm/xm}
export XEND=${XEND:-$B/src/xend/xend}
export XENO_VMM=${XENO_VMM:-$B/src/vmm/xeno-vmm}
export XENO_GUEST_DIR=${XENO_GUEST_DIR:-$ROOT/build/guest}
export PYTHONDONTWRITEBYTECODE=1
[ -f "$XENO_GUEST_DIR/Image" ] || { echo "bench/migrate.sh: default guest not built in $XENO_GUEST_DIR (make guest)" >&2; exit 1; }

# The work dir and the namespaces' prefix are ours: whatever happens to the
# Python process, the trap removes what carries them.
export BENCH_TAG=xbm$$
export BENCH_WORK=$(mktemp -d "${TMPDIR:-/tmp}/xeno-bench-migrate.XXXXXX")
cleanup() {
    local f p ns
    for f in /proc/[0-9]*/cmdline; do
        p=${f#/proc/}; p=${p%/cmdline}
        [ "$p" = $$ ] && continue
        { tr '\0' ' ' <"$f"; } 2>/dev/null | grep -qF -- "$BENCH_WORK/" && kill -9 "$p" 2>/dev/null
    done
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$BENCH_TAG"); do
        ip netns del "$ns" 2>/dev/null
    done
    rm -rf "$BENCH_WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
python3 "$ROOT/bench/migrate.py" "$@"
