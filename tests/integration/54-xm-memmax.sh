#!/usr/bin/env bash
# xm mem-max on a managed domain is kept in its stored configuration (as
# xm did): after an xend restart the domain still has the new maximum.
. "$(dirname "$0")/lib/common.sh"
B=${XENO_BUILD:-$ROOT/build}
XM=${XM:-$B/src/xm/xm}
XEND=${XEND:-$B/src/xend/xend}
[ -x "$XM" ] || fail "xm not built: $XM"
[ -x "$XEND" ] || fail "xend not built: $XEND"
SOCK=$WORK/xend.sock
export XENO_URI=unix://$SOCK
start_xend() {
    "$XEND" -f --state-dir "$WORK/state" --socket "$SOCK" --vmm "$XENO_VMM" >>"$WORK/xend.log" 2>&1 &
    XEND_PID=$!
    for _ in $(seq 50); do "$XM" list >/dev/null 2>&1 && return 0; sleep 0.1; done
    cat "$WORK/xend.log"; fail "xend did not start"
}
start_xend
CHILD_PIDS+=($XEND_PID)
printf 'name = "mm"\nmemory = 128\nmaxmem = 256\nkernel = "/nonexistent"\n' > "$WORK/mm.cfg"
"$XM" new "$WORK/mm.cfg" >/dev/null || fail "xm new"
"$XM" mem-max mm 512 || fail "xm mem-max"
out=$("$XM" mem-max mm 64 2>&1) && fail "mem-max below memory accepted: $out"
echo "$out" | grep -q '^Error: ' || fail "mem-max below memory: $out"
grep -q '^maxmem = 512$' "$WORK/state/domains/mm.cfg" || fail "stored config lacks the new maxmem: $(cat "$WORK/state/domains/mm.cfg")"
kill "$XEND_PID"; wait "$XEND_PID" 2>/dev/null
start_xend
CHILD_PIDS+=($XEND_PID)
"$XM" list -l mm | grep -Eq '(maxmem|max_?mem).*512' || fail "after an xend restart: $("$XM" list -l mm)"
echo PASS
