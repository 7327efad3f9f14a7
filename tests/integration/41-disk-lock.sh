#!/usr/bin/env bash
# disk images are locked like QEMU's: while one VM has an image open for
# writing, a second VM cannot open it at all (one clear line, exit 1,
# nothing started); read-only users share it; the lock goes with the VM.
. "$(dirname "$0")/lib/common.sh"
require_vm
[ "${XENO_PEER:-}" = qemu ] && skip "checks xeno-vmm's own image locking"
cd "$WORK"
truncate -s 16M disk.img
# Console input that never ends (and is no extra process to reap).
mkfifo in
exec 7<>in
"$XENO_VMM" --disk "file:$WORK/disk.img,xvda,w" <in >vm1.log 2>&1 &
VM1=$!
CHILD_PIDS+=("$VM1")
for _ in $(seq 100); do grep -q "Welcome to Xeno guest" vm1.log && break; sleep 0.2; done
grep -q "Welcome to Xeno guest" vm1.log || fail "first VM did not boot"

for mode in w r; do
    set +e
    err=$(timeout 10 "$XENO_VMM" --disk "file:$WORK/disk.img,xvda,$mode" </dev/null 2>&1 >/dev/null)
    rc=$?
    set -e
    [ "$rc" = 1 ] || fail "second VM ($mode) while the image is open for writing: exit $rc, want 1"
    [ "$(echo "$err" | wc -l)" = 1 ] && echo "$err" | grep -q "disk.img: the image is in use by another VM" ||
        fail "second VM ($mode): message '$err'"
done
kill "$VM1"; wait "$VM1" 2>/dev/null || true

# Two read-only users share the image.
"$XENO_VMM" --disk "file:$WORK/disk.img,xvda,r" <in >vm2.log 2>&1 &
VM2=$!
CHILD_PIDS+=("$VM2")
for _ in $(seq 100); do grep -q "Welcome to Xeno guest" vm2.log && break; sleep 0.2; done
grep -q "Welcome to Xeno guest" vm2.log || { cat vm2.log; fail "the first read-only user did not boot"; }
"$XENO_VMM" --disk "file:$WORK/disk.img,xvda,r" <in >vm3.log 2>&1 &
VM3=$!
CHILD_PIDS+=("$VM3")
for _ in $(seq 100); do grep -q "Welcome to Xeno guest" vm3.log && break; sleep 0.2; done
grep -q "Welcome to Xeno guest" vm3.log || { cat vm3.log; fail "a second read-only user was refused"; }
set +e
err=$(timeout 10 "$XENO_VMM" --disk "file:$WORK/disk.img,xvda,w" </dev/null 2>&1 >/dev/null)
rc=$?
set -e
[ "$rc" = 1 ] || fail "a writer was let in beside readers (exit $rc)"
echo "$err" | grep -q "in use by another VM" || fail "writer beside readers: '$err'"
kill "$VM2" "$VM3"
wait "$VM2" "$VM3" 2>/dev/null || true
CHILD_PIDS=()
echo PASS
