#!/usr/bin/env bash
# Where xend's libvirt server listens. libvirt-sock next to the API socket
# (0660, group xeno when there is one) and libvirt-sock-ro (0666); libvirt's
# own path for plain xen:///system (--libvirt-compat, by default
# /run/libvirt/virtxend-sock for the system xend) taken when free and left
# alone, with a line in the log and in GET /v1/host, when someone listens
# there; --libvirt-socket none turns the server off. A running domain and
# libvirt's view of it survive an xend restart.
. "$(dirname "$0")/lib/common.sh"
. "$LIB/xend.sh"
require_vm
command -v virsh >/dev/null || skip "virsh is not installed (apt-get install libvirt-clients)"
command -v curl >/dev/null || skip "curl is not installed"
cd "$WORK"

errors=0
bad() { echo "FAIL: $*"; errors=$((errors+1)); }
COMPAT=$WORK/run-libvirt/virtxend-sock
# xend with libvirt options (lib/xend.sh's start_xend has none).
xend_with() {
    "$XEND" --foreground --state-dir "$ST" --socket "$SOCK" --vmm "$XENO_VMM" \
        --config "$XEND_CONFIG" --log-level debug "$@" >>"$WORK/xend.log" 2>&1 &
    XEND_PID=$!
    for _ in $(seq 100); do "$XM" list >/dev/null 2>&1 && return 0; sleep 0.1; done
    tail -n 20 "$WORK/xend.log"
    fail "xend did not start"
}
stop_xend() { kill "$XEND_PID"; wait "$XEND_PID" 2>/dev/null; XEND_PID=; }
host_libvirt() { curl -s --unix-socket "$SOCK" http://xend/v1/host |
                 "$PY" -c 'import json,sys; print(json.load(sys.stdin)["libvirt"]["'"$1"'"])'; }

# --- the compat path, free -----------------------------------------------------
xend_with --libvirt-compat "$COMPAT"
[ "$(stat -c %a "$WORK/libvirt-sock")" = 660 ] || bad "libvirt-sock mode $(stat -c %a "$WORK/libvirt-sock")"
[ "$(stat -c %a "$WORK/libvirt-sock-ro")" = 666 ] || bad "libvirt-sock-ro mode"
if getent group xeno >/dev/null; then
    [ "$(stat -c %G "$WORK/libvirt-sock")" = xeno ] || bad "libvirt-sock is not group xeno"
fi
[ -S "$COMPAT" ] && [ -S "$COMPAT-ro" ] || bad "xend does not listen on $COMPAT"
virsh -c "xen:///system?socket=$COMPAT" list --all | grep -q Domain-0 || bad "virsh on $COMPAT"
[ "$(host_libvirt compat)" = "listening on $COMPAT" ] || bad "host compat: $(host_libvirt compat)"
[ "$(host_libvirt socket)" = "$WORK/libvirt-sock" ] || bad "host socket: $(host_libvirt socket)"
[ "$(host_libvirt uri)" = "xen:///system" ] || bad "host uri: $(host_libvirt uri)"

# A running domain survives the restart, for libvirt too.
cat >"$WORK/s1.cfg" <<CFG
name = "s1"
memory = 128
kernel = "$XENO_GUEST_DIR/Image"
ramdisk = "$XENO_GUEST_DIR/initramfs.cpio.gz"
extra = "console=ttyS0"
CFG
"$XM" create "$WORK/s1.cfg" >/dev/null || bad "xm create s1"
uuid=$(virsh -c "xen:///system?socket=$WORK/libvirt-sock" domuuid s1)
stop_xend
[ -e "$COMPAT" ] && bad "xend left $COMPAT behind"

# --- the compat path, taken by another server ---------------------------------
"$PY" -c '
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(8)
open(sys.argv[2], "w").close()
time.sleep(120)' "$COMPAT" "$WORK/listening" &
other=$!
CHILD_PIDS+=("$other")
for _ in $(seq 50); do [ -e "$WORK/listening" ] && break; sleep 0.1; done
xend_with --libvirt-compat "$COMPAT"
grep -q "libvirt: not used: libvirt's own virtxend listens on $COMPAT" "$WORK/xend.log" ||
    bad "no log line about the taken $COMPAT"
host_libvirt compat | grep -q "^not used: libvirt's own virtxend listens on $COMPAT" ||
    bad "host compat: $(host_libvirt compat)"
[ -e "$COMPAT-ro" ] && bad "xend took $COMPAT-ro while $COMPAT is someone else's"
u2=$(virsh -c "xen:///system?socket=$WORK/libvirt-sock" domuuid s1)
[ -n "$uuid" ] && [ "$u2" = "$uuid" ] || bad "s1 after the restart: '$u2' (was '$uuid')"
virsh -c "xen:///system?socket=$WORK/libvirt-sock" domstate s1 | grep -qx running ||
    bad "s1 not running after the restart"
stop_xend
[ -S "$COMPAT" ] || bad "xend removed the other server's $COMPAT"
kill "$other"

# --- off ------------------------------------------------------------------------
xend_with --libvirt-socket none
[ -e "$WORK/libvirt-sock" ] && bad "libvirt-sock exists with --libvirt-socket none"
"$XM" destroy s1 || bad "xm destroy s1"
out=$("$XEND" --libvirt-socket relative/path status 2>&1) && bad "a relative --libvirt-socket"
echo "$out" | grep -q 'absolute path' || bad "relative --libvirt-socket: $out"

grep -E 'xend: error|AddressSanitizer|runtime error' "$WORK/xend.log" && bad "xend logged errors"
[ "$errors" = 0 ] || fail "$errors checks failed"
echo PASS
