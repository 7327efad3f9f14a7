#!/usr/bin/env bash
# The management plane end to end through `xm` (never curl): xend runs
# unprivileged in a temp state dir; three default guests are created from
# config files and then listed, talked to on their consoles (`xm console`,
# Ctrl-] to detach), paused (guest clock and CPU time stop) and unpaused,
# ballooned down (`xm mem-set`: the guest's MemTotal drops), shut down with
# `xm shutdown -w`, crashed with kill -9 of their VMM (on_crash=preserve
# keeps them as crashed, on_crash=restart brings them back with a new id)
# and destroyed. Every `xm list` line is checked exactly.
. "$(dirname "$0")/lib/common.sh"
. "$LIB/xend.sh"
require_vm
cd "$WORK"
T0=$SECONDS

start_xend

errors=0
bad() { echo "FAIL: $*"; errors=$((errors+1)); }
die() { tail -n 30 "$WORK/xend.log"; fail "$*"; }
# run ARGS...: xm ARGS, stdout in OUT, stderr in ERR, status in RC.
run() { OUT=$("$XM" "$@" 2>"$WORK/err"); RC=$?; ERR=$(cat "$WORK/err"); }
con() { "$PY" "$LIB/xmcon.py" "$XM" "$@"; }
# field DOM N: column N of DOM's `xm list` row.
field() { "$XM" list "$1" 2>/dev/null | awk -v n="$2" 'NR == 2 { print $n }'; }
domid() { "$XM" domid "$1" 2>/dev/null; }
# row NAME ID MEM VCPUS: the exact start of an `xm list` row.
row() { printf '%-40s %3s %8s %5s ' "$@"; }
HEADER="Name                                      ID Mem(MiB) VCPUs State   Time(s)"
# check_row DOM ID MEM STATES: DOM's row is exactly one of STATES (regex
# alternatives), with a time of one decimal.
check_row() {
    local line
    run list "$1"
    [ "$RC" = 0 ] || { bad "xm list $1: rc=$RC $ERR"; return; }
    [ "$(echo "$OUT" | head -n1)" = "$HEADER" ] || bad "xm list $1 header: $OUT"
    line=$(echo "$OUT" | sed -n 2p)
    [ "$(echo "$OUT" | wc -l)" = 2 ] || bad "xm list $1: $(echo "$OUT" | wc -l) lines: $OUT"
    echo "$line" | grep -Eq "^$(row "$1" "$2" "$3" 1)($4) [ 0-9]{5}[0-9]\.[0-9]\$" ||
        bad "xm list $1 row (want id $2, mem $3, state $4): '$line'"
}
wait_state() {   # wait_state DOM REGEX [SECONDS]
    local i
    for i in $(seq $((${3:-10} * 10))); do
        field "$1" 5 | grep -Eq "^($2)\$" && return 0
        sleep 0.1
    done
    return 1
}

# --- create three guests from config files ---------------------------------
mkcfg() {   # mkcfg NAME MEMORY ON_CRASH
    cat >"$WORK/$1.cfg" <<CFG
# default guest, $2 MiB
name = "$1"
memory = $2
maxmem = $2
vcpus = 1
kernel = "$XENO_GUEST_DIR/Image"
ramdisk = "$XENO_GUEST_DIR/initramfs.cpio.gz"
extra = "console=ttyS0"
on_crash = "$3"
CFG
}
mkcfg g1 256 preserve
mkcfg g2 192 restart
mkcfg g3 128 destroy
declare -A ID
for g in g1 g2 g3; do
    run create "$WORK/$g.cfg"
    [ "$RC" = 0 ] || die "xm create $g.cfg: rc=$RC $ERR"
    echo "$OUT" | grep -Eq "^Started domain $g \(id=[0-9]+\)\$" || bad "create output: $OUT"
    ID[$g]=$(domid $g)
done
[ "${ID[g1]}" -ge 1 ] && [ "${ID[g2]}" -gt "${ID[g1]}" ] && [ "${ID[g3]}" -gt "${ID[g2]}" ] ||
    bad "ids not increasing: ${ID[*]}"
run create "$WORK/g1.cfg"
[ "$RC" = 1 ] && echo "$ERR" | grep -q '^Error: ' || bad "second g1: rc=$RC $ERR"

# --- xm list: header, Domain-0 first, the three guests ------------------------
run list
[ "$RC" = 0 ] || bad "list rc=$RC $ERR"
[ "$(echo "$OUT" | head -n1)" = "$HEADER" ] || bad "header: '$(echo "$OUT" | head -n1)'"
echo "$OUT" | sed -n 2p | grep -Eq '^Domain-0 {32} {3}0 [ 0-9]{8} [ 0-9]{5} r----- [ 0-9]{5}[0-9]\.[0-9]$' ||
    bad "Domain-0 row: $(echo "$OUT" | sed -n 2p)"
[ "$(echo "$OUT" | awk 'NR > 1 { print $1 }' | tr '\n' ' ')" = "Domain-0 g1 g2 g3 " ] ||
    bad "list order: $OUT"
check_row g1 "${ID[g1]}" 256 'r-----|-b----'
check_row g2 "${ID[g2]}" 192 'r-----|-b----'
check_row g3 "${ID[g3]}" 128 'r-----|-b----'
run list -l g2
echo "$OUT" | grep -qx "    (domid ${ID[g2]})" && echo "$OUT" | grep -qx '    (on_crash restart)' ||
    bad "list -l g2: $OUT"

# --- consoles ----------------------------------------------------------------
for g in g1 g2 g3; do
    con $g wait || die "$g: no shell prompt on xm console"
done
for g in g1 g2 g3; do
    out=$(con $g run 'echo tok-$((6*7))') || bad "$g: console run failed"
    [ "$out" = tok-42 ] || bad "$g console: got '$out'"
done
echo "consoles ok ($((SECONDS - T0)) s)"

# --- pause / unpause: the guest clock and its CPU time stop ---------------
PAUSE_S=4
con g1 run '(while :; do :; done) >/dev/null 2>&1 & echo busy' >/dev/null || bad "g1: busy loop"
read -r h1 g1c < <(con g1 clock) || bad "g1: clock"
sleep 1
p0=$("$PY" -c 'import time; print(time.monotonic())')
run pause g1
[ "$RC" = 0 ] || bad "pause: rc=$RC $ERR"
check_row g1 "${ID[g1]}" 256 '--p---'
cpu1=$(field g1 6)
sleep "$PAUSE_S"
cpu2=$(field g1 6)
[ "$(field g1 5)" = --p--- ] || bad "g1 no longer paused"
[ -n "$cpu1" ] && [ "$cpu1" = "$cpu2" ] || bad "CPU time moved while paused: $cpu1 -> $cpu2"
cpul=$("$XM" list -l g1 | sed -n 's/^    (cpu_time \(.*\))$/\1/p')
[ "$cpul" = "$cpu2" ] || bad "list -l cpu_time $cpul != $cpu2"
run unpause g1
[ "$RC" = 0 ] || bad "unpause: rc=$RC $ERR"
p1=$("$PY" -c 'import time; print(time.monotonic())')
check_row g1 "${ID[g1]}" 256 'r-----|-b----'
sleep 2
cpu3=$(field g1 6)
awk -v a="$cpu2" -v b="$cpu3" 'BEGIN { exit !(b - a >= 0.5) }' ||
    bad "CPU time of a busy guest did not move after unpause: $cpu2 -> $cpu3"
read -r h2 g2c < <(con g1 clock) || bad "g1: clock"
# Guest time elapsed = host time elapsed minus the pause (within 1 s).
"$PY" - "$h1" "$g1c" "$h2" "$g2c" "$p0" "$p1" <<'PY' || bad "guest clock ran while paused"
import sys
h1, g1, h2, g2, p0, p1 = map(float, sys.argv[1:])
host, guest, paused = h2 - h1, g2 - g1, p1 - p0
print("clock: host %.2f s, paused %.2f s, guest %.2f s" % (host, paused, guest))
sys.exit(0 if abs(guest - (host - paused)) < 1.0 else 1)
PY
con g1 run 'kill %1; echo stopped' >/dev/null || bad "g1: stop the busy loop"
echo "pause ok ($((SECONDS - T0)) s)"

# --- mem-set through the balloon: MemTotal drops by the difference ---------
memtotal() { con "$1" run 'grep MemTotal /proc/meminfo' | awk '{ print $2 }'; }
m0=$(memtotal g1)
run mem-set g1 128
[ "$RC" = 0 ] || bad "mem-set: rc=$RC $ERR"
m1=$m0
for _ in $(seq 15); do
    m1=$(memtotal g1)
    [ -n "$m1" ] && [ $((m0 - m1)) -ge $((120 * 1024)) ] && break
    sleep 1
done
drop=$(( (m0 - m1) / 1024 ))
echo "balloon: MemTotal $((m0 / 1024)) -> $((m1 / 1024)) MiB"
[ "$drop" -ge 120 ] && [ "$drop" -le 136 ] || bad "MemTotal dropped by $drop MiB, want ~128"
check_row g1 "${ID[g1]}" 128 'r-----|-b----'

# --- shutdown -w: returns once the domain is gone ---------------------------
pid3=$(jpid "${ID[g3]}")
run shutdown -w g3
if [ "$RC" != 0 ]; then   # the agent starts a moment after the prompt
    sleep 3
    run shutdown -w g3
fi
[ "$RC" = 0 ] || bad "shutdown -w g3: rc=$RC $ERR"
run list g3
[ "$RC $ERR" = "1 Error: Domain 'g3' does not exist." ] || bad "g3 after shutdown -w: $RC $ERR $OUT"
alive "$pid3" && bad "g3's VMM $pid3 still running after shutdown -w"

# --- kill -9 a VMM: on_crash=preserve shows it crashed ---------------------
pid1=$(jpid "${ID[g1]}")
kill -9 "$pid1"
wait_state g1 '----c-' 10 || bad "g1 not crashed after kill -9: $("$XM" list g1 2>&1)"
check_row g1 "${ID[g1]}" 128 '----c-'
run destroy g1
[ "$RC" = 0 ] || bad "destroy crashed g1: rc=$RC $ERR"
run list g1
[ "$RC $ERR" = "1 Error: Domain 'g1' does not exist." ] || bad "g1 after destroy: $RC $ERR"

# --- kill -9 a VMM: on_crash=restart brings it back with a new id ----------
pid2=$(jpid "${ID[g2]}")
kill -9 "$pid2"
for _ in $(seq 100); do
    n=$(domid g2)
    # While its new VMM starts, the domain has no id yet ("None").
    [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" != "${ID[g2]}" ] && [ "$(field g2 5)" != ----c- ] && break
    sleep 0.1
done
n=$(domid g2)
[ -n "$n" ] && [ "$n" -gt "${ID[g3]}" ] || bad "g2 not restarted with a new id: $("$XM" list g2 2>&1)"
check_row g2 "$n" 192 'r-----|-b----'
[ -f "$ST/run/$n.json" ] && alive "$(jpid "$n")" || bad "g2's new VMM is not running"
con g2 wait || bad "restarted g2: no prompt"
out=$(con g2 run 'echo tok-$((6*7))')
[ "$out" = tok-42 ] || bad "restarted g2 console: '$out'"

# --- destroy ------------------------------------------------------------------
run destroy g2
[ "$RC" = 0 ] || bad "destroy g2: rc=$RC $ERR"
run destroy g2
[ "$RC $ERR" = "1 Error: Domain 'g2' does not exist." ] || bad "second destroy: $RC $ERR"
run list
[ "$(echo "$OUT" | wc -l)" = 2 ] || bad "final list not just Domain-0: $OUT"
sleep 0.5
left=$(vmm_pids)
[ -z "$left" ] || bad "VMM processes left behind: $left"

[ $errors -eq 0 ] || die "$errors check(s) failed"
echo "PASS ($((SECONDS - T0)) s)"
