# Shared by the tests that run a real xend with real VMMs (source it after
# common.sh). Sets XM, XEND, ST (state dir), SOCK, XENO_URI; skips when xm
# or xend is not built; installs a trap that stops xend and kills, by pid,
# every process of the test (all have $WORK on their command line).
B=${XENO_BUILD:-$ROOT/build}
XM=${XM:-$B/src/xm/xm}
XEND=${XEND:-$B/src/xend/xend}
[ -x "$XM" ] || fail "xm not built: $XM"
[ -x "$XEND" ] || fail "xend not built: $XEND"
ST=$WORK/state
SOCK=$WORK/xend.sock
export XENO_URI=unix://$SOCK
XEND_PID=

our_pids() {
    local f p
    for f in /proc/[0-9]*/cmdline; do
        p=${f#/proc/}; p=${p%/cmdline}
        [ "$p" = $$ ] && continue
        { tr '\0' ' ' <"$f"; } 2>/dev/null | grep -qF -- "$WORK/" && echo "$p"
    done
}
# alive PID: running, not a zombie (a VMM orphaned by kill -9 of xend, or
# any process whose parent has not reaped it yet, is not running).
alive() { [ -r "/proc/$1/stat" ] && ! awk '{ exit $3 != "Z" }' "/proc/$1/stat" 2>/dev/null; }
vmm_pids() {
    local p
    for p in $(our_pids); do
        { tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null | grep -q -- '--control' && echo "$p"
    done
}
xend_cleanup() {
    [ -n "$XEND_PID" ] && { kill "$XEND_PID" 2>/dev/null; wait "$XEND_PID" 2>/dev/null; }
    local p
    for p in $(our_pids); do kill -9 "$p" 2>/dev/null; done
    cleanup
}
trap xend_cleanup EXIT

# xend's config file (xend-config.sxp syntax): empty unless the test
# writes one, so that the host's /etc/xeno/xend-config.sxp plays no part.
XEND_CONFIG=${XEND_CONFIG:-$WORK/xend-config.sxp}
[ -e "$XEND_CONFIG" ] || : >"$XEND_CONFIG"
# Start xend in the foreground (as a background job) and wait until it answers.
start_xend() {
    "$XEND" --foreground --state-dir "$ST" --socket "$SOCK" --vmm "$XENO_VMM" \
        --config "$XEND_CONFIG" --log-level debug >>"$WORK/xend.log" 2>&1 &
    XEND_PID=$!
    for _ in $(seq 100); do "$XM" list >/dev/null 2>&1 && return 0; sleep 0.1; done
    tail -n 20 "$WORK/xend.log"
    fail "xend did not start"
}
# jpid ID: the VMM pid recorded for running domain ID.
jpid() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$ST/run/$1.json"; }
