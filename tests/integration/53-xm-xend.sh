#!/usr/bin/env bash
# xm against the real xend (unprivileged, temp state dir): list layout,
# new/list/delete of a managed domain, Xen's error wording, Domain-0
# refusal, and the not-running error once xend has stopped. With the
# default guest built it also creates, pauses, unpauses and destroys a guest.
. "$(dirname "$0")/lib/common.sh"
B=${XENO_BUILD:-$ROOT/build}
XM=${XM:-$B/src/xm/xm}
XEND=${XEND:-$B/src/xend/xend}
[ -x "$XM" ] || fail "xm not built: $XM"
[ -x "$XEND" ] || fail "xend not built: $XEND"
SOCK=$WORK/xend.sock
export XENO_URI=unix://$SOCK
"$XEND" -f --state-dir "$WORK/state" --socket "$SOCK" --vmm "$XENO_VMM" >"$WORK/xend.log" 2>&1 &
XEND_PID=$!
CHILD_PIDS+=($XEND_PID)
# Whatever happens, leave no guest running behind a stopped xend.
trap '"$XM" shutdown -a >/dev/null 2>&1; for d in $("$XM" list 2>/dev/null | awk "NR>2 && \$2 != \"\" {print \$1}"); do "$XM" destroy "$d" >/dev/null 2>&1; done; cleanup' EXIT
for _ in $(seq 50); do [ -S "$SOCK" ] && break; sleep 0.1; done
[ -S "$SOCK" ] || { cat "$WORK/xend.log"; fail "xend did not start"; }

errors=0
bad() { echo "FAIL: $*"; errors=$((errors+1)); }
run() { OUT=$("$XM" "$@" 2>"$WORK/err"); RC=$?; ERR=$(cat "$WORK/err"); }

run list
[ "$RC" = 0 ] || bad "list rc=$RC $ERR"
[ "$(echo "$OUT" | head -n1)" = "Name                                      ID Mem(MiB) VCPUs State   Time(s)" ] || bad "header: $OUT"
echo "$OUT" | sed -n 2p | grep -Eq '^Domain-0 {32} {3}0 [ 0-9]{8} [ 0-9]{5} r----- [ 0-9]{5}[0-9]\.[0-9]$' || bad "Domain-0 row: $OUT"

printf 'name = "xmtest"\nmemory = 64\nvcpus = 1\nkernel = "%s/nonexistent"\n' "$WORK" >"$WORK/xmtest.cfg"
run new "$WORK/xmtest.cfg"
[ "$RC" = 0 ] || bad "new: $ERR"
run list xmtest
[ "$(echo "$OUT" | tail -n1)" = "xmtest                                             64     1 ------      0.0" ] || bad "new domain row: $OUT"
run start xmtest
[ "$RC" = 1 ] && echo "$ERR" | grep -q '^Error: ' || bad "start with a missing kernel: rc=$RC $ERR"
run delete xmtest
[ "$RC" = 0 ] || bad "delete: $ERR"
run list xmtest
[ "$RC $ERR" = "1 Error: Domain 'xmtest' does not exist." ] || bad "after delete: $RC $ERR"
for c in "destroy Domain-0" "pause 0" "mem-set Domain-0 512" "shutdown Domain-0"; do
    run $c
    [ "$RC $ERR" = "1 Error: Domain-0 cannot be modified." ] || bad "xm $c: $RC $ERR"
done
run info
echo "$OUT" | grep -q '^nr_cpus                : [0-9]' || bad "info: $OUT"
run frob
[ "$RC" != 0 ] || bad "unknown command exit 0"

# A real guest, when the default guest and the VMM are built.
if [ -x "$XENO_VMM" ] && [ -f "$XENO_GUEST_DIR/Image" ] && [ -f "$XENO_GUEST_DIR/initramfs.cpio.gz" ]; then
    cat >"$WORK/g1.cfg" <<CFG
name = "g1"
memory = 128
vcpus = 1
kernel = "$XENO_GUEST_DIR/Image"
ramdisk = "$XENO_GUEST_DIR/initramfs.cpio.gz"
CFG
    run create "$WORK/g1.cfg"
    if [ "$RC" != 0 ]; then
        bad "create: $ERR"
    else
        run list g1
        echo "$OUT" | tail -n1 | grep -Eq '^g1 +[0-9]+ +128 +1 [rb-]{6} ' || bad "g1 row: $OUT"
        run pause g1
        run list g1
        echo "$OUT" | tail -n1 | grep -q ' --p--- ' || bad "paused row: $OUT"
        run unpause g1
        run list g1
        echo "$OUT" | tail -n1 | grep -q ' --p--- ' && bad "still paused: $OUT"
        run destroy g1
        [ "$RC" = 0 ] || bad "destroy: $ERR"
        run list g1
        [ "$RC" = 1 ] || bad "g1 still listed after destroy: $OUT"
    fi
else
    echo "note: default guest not built; guest lifecycle part not run"
fi

# Stop xend: the socket goes away and xm says so in Xen's words.
kill "$XEND_PID"; wait "$XEND_PID" 2>/dev/null
run list
[ "$RC $ERR" = "1 Error: Unable to connect to xend: No such file or directory. Is xend running?" ] ||
    bad "after xend stopped: $RC $ERR"

[ $errors -eq 0 ] || { tail -n 20 "$WORK/xend.log"; fail "$errors check(s) failed"; }
echo "xm against xend: all checks passed"
