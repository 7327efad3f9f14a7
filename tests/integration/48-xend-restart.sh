#!/usr/bin/env bash
# xend restarts leave guests alone, and xend survives a crowd:
#  1. three default guests run; `kill -9` of xend leaves their VMMs running
#     and their consoles answering (straight on the console sockets);
#  2. a new xend on the same state dir re-attaches: `xm list` shows the same
#     ids, running; xm console, xm destroy and crash supervision work on the
#     re-attached domains;
#  3. 50 concurrent xm clients (list, create+destroy, create) all finish in
#     time, the final `xm list` is what succeeded, and once everything is
#     destroyed no xeno-vmm process is left.
. "$(dirname "$0")/lib/common.sh"
. "$LIB/xend.sh"
require_vm
command -v timeout >/dev/null || fail "timeout(1) not installed"
cd "$WORK"
T0=$SECONDS
CLIENTS=${XENO_CLIENTS:-50}

errors=0
bad() { echo "FAIL: $*"; errors=$((errors+1)); }
die() { tail -n 30 "$WORK/xend.log"; fail "$*"; }
run() { OUT=$("$XM" "$@" 2>"$WORK/err"); RC=$?; ERR=$(cat "$WORK/err"); }
con() { "$PY" "$LIB/xmcon.py" "$XM" "$@"; }
field() { "$XM" list "$1" 2>/dev/null | awk -v n="$2" 'NR == 2 { print $n }'; }
mkcfg() {   # mkcfg NAME MEMORY [ON_CRASH]
    cat >"$WORK/$1.cfg" <<CFG
name = "$1"
memory = $2
kernel = "$XENO_GUEST_DIR/Image"
ramdisk = "$XENO_GUEST_DIR/initramfs.cpio.gz"
extra = "console=ttyS0"
on_crash = "${3:-destroy}"
CFG
}

start_xend

# --- 1. three guests; kill -9 xend ------------------------------------------
declare -A ID PID
for g in r1 r2 r3; do
    mkcfg $g 128 preserve
    run create "$WORK/$g.cfg"
    [ "$RC" = 0 ] || die "create $g: $ERR"
    ID[$g]=$("$XM" domid $g)
    PID[$g]=$(jpid "${ID[$g]}")
done
for g in r1 r2 r3; do con $g wait || die "$g: no prompt"; done
before=$("$XM" list | awk 'NR > 1 { print $1, $2 }')

kill -9 "$XEND_PID"
wait "$XEND_PID" 2>/dev/null
XEND_PID=
run list
[ "$RC" = 1 ] && echo "$ERR" | grep -q '^Error: Unable to connect to xend: Connection refused. Is xend running?$' ||
    bad "xm list with xend killed: rc=$RC $ERR"
for g in r1 r2 r3; do
    alive "${PID[$g]}" || bad "$g's VMM ${PID[$g]} died with xend"
    out=$("$PY" "$LIB/xmcon.py" --socket "$ST/run/${ID[$g]}.sock.console" run 'echo tok-$((6*7))')
    [ "$out" = tok-42 ] || bad "$g console without xend: '$out'"
done
echo "guests survive kill -9 of xend ($((SECONDS - T0)) s)"

# --- 2. a new xend re-attaches ------------------------------------------------
start_xend
after=$("$XM" list | awk 'NR > 1 { print $1, $2 }')
[ "$after" = "$before" ] || bad "list after restart: '$after' (was '$before')"
for g in r1 r2 r3; do
    [ "$("$XM" domid $g)" = "${ID[$g]}" ] || bad "$g: id changed"
    field $g 5 | grep -Eq '^(r-----|-b----)$' || bad "$g not running after restart: $("$XM" list $g 2>&1)"
    [ "$(jpid "${ID[$g]}")" = "${PID[$g]}" ] || bad "$g: VMM pid changed"
done
out=$(con r1 run 'echo tok-$((6*7))')
[ "$out" = tok-42 ] || bad "xm console r1 after restart: '$out'"
run destroy r1
[ "$RC" = 0 ] || bad "destroy re-attached r1: rc=$RC $ERR"
sleep 0.3
alive "${PID[r1]}" && bad "r1's VMM still runs after destroy"
run list r1
[ "$RC" = 1 ] || bad "r1 still listed after destroy: $OUT"
# Supervision of a re-attached VMM: its crash is seen (on_crash=preserve).
kill -9 "${PID[r2]}"
for _ in $(seq 100); do [ "$(field r2 5)" = ----c- ] && break; sleep 0.1; done
[ "$(field r2 5)" = ----c- ] || bad "crash of re-attached r2 not seen: $("$XM" list r2 2>&1)"
run pause r3
[ "$RC" = 0 ] && [ "$(field r3 5)" = --p--- ] || bad "pause re-attached r3: $RC $ERR"
for g in r2 r3; do "$XM" destroy $g >/dev/null 2>&1 || bad "destroy $g"; done
next=$(( ${ID[r3]} + 1 ))
echo "re-attach ok ($((SECONDS - T0)) s)"

# --- 3. 50 concurrent clients --------------------------------------------------
# i % 5: 0,1 `xm list`; 2,3 create then destroy; 4 create paused and keep.
mkdir -p "$WORK/c"
for i in $(seq "$CLIENTS"); do mkcfg "c$i" 64; done
client() {
    local i=$1 t="timeout -k 5 90"
    case $((i % 5)) in
    0|1) $t "$XM" list >"$WORK/c/$i.out" 2>&1; echo "list $?" >"$WORK/c/$i.rc" ;;
    2|3) $t "$XM" create "$WORK/c$i.cfg" >"$WORK/c/$i.out" 2>&1; local a=$?
         $t "$XM" destroy "c$i" >>"$WORK/c/$i.out" 2>&1; echo "cd $a $?" >"$WORK/c/$i.rc" ;;
    4)   $t "$XM" create -p "$WORK/c$i.cfg" >"$WORK/c/$i.out" 2>&1; echo "keep $?" >"$WORK/c/$i.rc" ;;
    esac
}
t1=$SECONDS
pids=()
for i in $(seq "$CLIENTS"); do client "$i" & pids+=($!); done
for p in "${pids[@]}"; do wait "$p"; done
echo "$CLIENTS clients done in $((SECONDS - t1)) s"
kill -0 "$XEND_PID" 2>/dev/null || die "xend died under load"

want=()
nok=0
for i in $(seq "$CLIENTS"); do
    [ -f "$WORK/c/$i.rc" ] || { bad "client $i left no status"; continue; }
    read -r kind a b <"$WORK/c/$i.rc"
    case $kind in
    list) [ "$a" = 0 ] && head -n1 "$WORK/c/$i.out" | grep -q '^Name ' || bad "client $i list: rc=$a $(cat "$WORK/c/$i.out")" ;;
    cd)   [ "$a" = 0 ] && [ "$b" = 0 ] || bad "client $i create/destroy: rc=$a/$b $(cat "$WORK/c/$i.out")" ;;
    keep) [ "$a" = 0 ] && want+=("c$i") || bad "client $i create: rc=$a $(cat "$WORK/c/$i.out")" ;;
    esac
    [ "$a" = 124 ] || [ "${b:-0}" = 124 ] && bad "client $i timed out (deadlock?)"
    [ "$a" = 0 ] && nok=$((nok+1))
done
echo "$nok of $CLIENTS clients succeeded"
got=$("$XM" list | awk 'NR > 2 { print $1 }' | sort | tr '\n' ' ')
exp=$(printf '%s\n' "${want[@]}" | sort | tr '\n' ' ')
[ "$got" = "$exp" ] || bad "final list '$got', want '$exp'"
# Ids: increasing, never reused.
ids=$("$XM" list | awk 'NR > 2 { print $2 }' | sort -n)
[ "$(echo "$ids" | uniq -d)" = "" ] || bad "duplicate ids: $ids"
[ -z "$ids" ] || [ "$(echo "$ids" | head -n1)" -ge "$next" ] || bad "an id was reused: $ids"
for d in "${want[@]}"; do
    [ "$(field "$d" 5)" = --p--- ] || bad "$d not paused: $("$XM" list "$d" 2>&1)"
done
nvmm=$(vmm_pids | wc -l)
[ "$nvmm" = "${#want[@]}" ] || bad "$nvmm VMM processes for ${#want[@]} domains"
for d in "${want[@]}"; do "$XM" destroy "$d" >/dev/null 2>&1 || bad "destroy $d"; done
run list
[ "$(echo "$OUT" | wc -l)" = 2 ] || bad "list not empty at the end: $OUT"
for _ in $(seq 20); do [ -z "$(vmm_pids)" ] && break; sleep 0.1; done
left=$(vmm_pids)
[ -z "$left" ] || bad "leaked VMM processes: $left"
ls "$ST/run" | grep -q . && bad "run dir not empty: $(ls "$ST/run")"

[ $errors -eq 0 ] || die "$errors check(s) failed"
echo "PASS ($((SECONDS - T0)) s)"
