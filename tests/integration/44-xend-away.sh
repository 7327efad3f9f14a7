#!/usr/bin/env bash
# Domains whose VMM ends while xend is not running: the restarted xend reads
# the VMM's exit record (PATH.exit next to its control socket) and applies
# on_poweroff / on_reboot / on_crash as if it had watched:
#   a1 powers off (on_poweroff = restart)  -> running again, new id
#   a2 is killed  (on_crash = preserve)    -> crashed, same id
#   a3 is killed  (on_crash = restart)     -> running again, new id
. "$(dirname "$0")/lib/common.sh"
. "$LIB/xend.sh"
require_vm
cd "$WORK"
state() { "$XM" list "$1" 2>/dev/null | awk 'NR == 2 { print $NF == "" ? "" : $(NF-1) }'; }
mkcfg() {   # NAME ON_POWEROFF ON_CRASH
    cat >"$WORK/$1.cfg" <<CFG
name = "$1"
memory = 128
kernel = "$XENO_GUEST_DIR/Image"
ramdisk = "$XENO_GUEST_DIR/initramfs.cpio.gz"
extra = "console=ttyS0"
on_poweroff = "$2"
on_crash = "$3"
CFG
}

start_xend
declare -A ID PID
mkcfg a1 restart destroy
mkcfg a2 destroy preserve
mkcfg a3 destroy restart
for g in a1 a2 a3; do
    "$XM" create "$WORK/$g.cfg" >/dev/null 2>"$WORK/err" || fail "create $g: $(cat "$WORK/err")"
    ID[$g]=$("$XM" domid $g)
    PID[$g]=$(jpid "${ID[$g]}")
done
"$PY" "$LIB/xmcon.py" --socket "$ST/run/${ID[a1]}.sock.console" wait || fail "a1: no prompt"

kill -9 "$XEND_PID"; wait "$XEND_PID" 2>/dev/null; XEND_PID=
# a1 powers off by itself (through its console), a2 and a3 are killed.
"$PY" - "$ST/run/${ID[a1]}.sock.console" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"\n")
time.sleep(0.5)
s.sendall(b"poweroff\n")
time.sleep(1.0)      # let the VMM read it before we hang up
s.close()
PY
kill -9 "${PID[a2]}" "${PID[a3]}"
for _ in $(seq 300); do [ -e "/proc/${PID[a1]}" ] || break; sleep 0.1; done
[ -e "/proc/${PID[a1]}" ] && ! grep -q '^State:.*Z' "/proc/${PID[a1]}/status" && fail "a1 did not power off"
[ -f "$ST/run/${ID[a1]}.sock.exit" ] || fail "a1's VMM left no exit record"
[ "$(cat "$ST/run/${ID[a1]}.sock.exit")" = poweroff ] || fail "a1 exit record: $(cat "$ST/run/${ID[a1]}.sock.exit")"

start_xend
sleep 1
n1=$("$XM" domid a1 2>/dev/null)
[ -n "$n1" ] && [ "$n1" != "${ID[a1]}" ] || fail "a1 (on_poweroff=restart) not restarted: $("$XM" list 2>&1)"
"$XM" list a2 | awk 'NR == 2' | grep -q -- '----c-' || fail "a2 (on_crash=preserve) not crashed: $("$XM" list a2 2>&1)"
[ "$("$XM" domid a2)" = "${ID[a2]}" ] || fail "a2 changed id"
n3=$("$XM" domid a3 2>/dev/null)
[ -n "$n3" ] && [ "$n3" != "${ID[a3]}" ] || fail "a3 (on_crash=restart) not restarted: $("$XM" list 2>&1)"
[ ! -e "$ST/run/${ID[a1]}.sock.exit" ] || fail "a1's exit record was not cleaned up"
for g in a1 a2 a3; do "$XM" destroy $g >/dev/null 2>&1; done
echo PASS
