# Shared setup for tests/integration/*.sh (source it).
#   XENO_VMM        the VMM under test (default build/src/vmm/xeno-vmm)
#   XENO_GUEST_DIR  the default guest (Image, initramfs.cpio.gz)
#   XENO_PEER=qemu  run the same tests on qemu-system-riscv64 via lib/qemu_shim.py
#   XENO_TEST_KEEP=1  keep the work dir (transcripts) after the test
# A test exits 0 pass, 1 fail, 77 skip (reason on the last line).
set -u
LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$LIB/../../.." && pwd)
: "${XENO_VMM:=$ROOT/build/src/vmm/xeno-vmm}"
: "${XENO_GUEST_DIR:=$ROOT/build/guest}"
export XENO_VMM XENO_GUEST_DIR
export PYTHONPATH="$LIB${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1   # no __pycache__ in the source tree
PY=${PYTHON:-python3}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/xeno-it.XXXXXX")
CHILD_PIDS=()

cleanup() {
    local p
    for p in "${CHILD_PIDS[@]}"; do
        kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
    done
    if [ "${XENO_TEST_KEEP:-0}" = 1 ]; then
        echo "work dir kept: $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

skip() { echo "SKIP: $*"; exit 77; }
# fail MESSAGE: the xend log's end goes to the test's log first (for a
# failure seen once in CI), the message last (the runner shows the end).
fail() {
    if [ -s "$WORK/xend.log" ]; then
        echo "--- last lines of xend.log:"
        tail -n 40 "$WORK/xend.log"
        echo "---"
    fi
    echo "FAIL: $*"
    exit 1
}

# VMM_CMD: the VMM under test (or the QEMU shim with XENO_PEER=qemu), as an
# array so it can follow `timeout`; vmm ARGS... runs it.
if [ "${XENO_PEER:-}" = qemu ]; then
    VMM_CMD=("$PY" "$LIB/qemu_shim.py")
else
    VMM_CMD=("$XENO_VMM")
fi
vmm() { "${VMM_CMD[@]}" "$@"; }

# require_vm: the VMM (or QEMU) and the default guest must be there. The
# project builds and installs both (make check): their absence is a failure,
# never a reason to skip.
require_vm() {
    if [ "${XENO_PEER:-}" = qemu ]; then
        command -v qemu-system-riscv64 >/dev/null || fail "qemu-system-riscv64 not installed (scripts/deps.sh installs it)"
    else
        [ -x "$XENO_VMM" ] || fail "xeno-vmm not built: $XENO_VMM"
    fi
    [ -f "$XENO_GUEST_DIR/Image" ] && [ -f "$XENO_GUEST_DIR/initramfs.cpio.gz" ] ||
        fail "default guest not built in $XENO_GUEST_DIR (make guest)"
}

rand_token() { echo "tok-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"; }

free_port() { "$PY" -c 'import console; print(console.free_port())'; }
