#!/usr/bin/env bash
# libvirt's own virsh (libvirt-clients) against xend, on the default guest:
# version, nodeinfo, capabilities, list, define from a file, start,
# dominfo, domstate, dumpxml, the console (a command typed into the guest
# through `virsh console`, its output read back), setmem (the guest's
# MemTotal drops), suspend/resume, shutdown through the guest's agent,
# destroy, undefine; xm sees the same domains (one truth), errors carry
# libvirt's messages, and unknown procedures answer "not supported".
. "$(dirname "$0")/lib/common.sh"
. "$LIB/xend.sh"
require_vm
command -v virsh >/dev/null || skip "virsh is not installed (apt-get install libvirt-clients)"
cd "$WORK"
T0=$SECONDS

start_xend
URI="xen:///system?socket=$WORK/libvirt-sock"
errors=0
bad() { echo "FAIL: $*"; errors=$((errors+1)); }
die() { tail -n 30 "$WORK/xend.log"; fail "$*"; }
# v ARGS...: virsh ARGS, stdout in OUT, stderr in ERR, status in RC.
v() { OUT=$(virsh -c "$URI" "$@" 2>"$WORK/err"); RC=$?; ERR=$(cat "$WORK/err"); }
vok() { v "$@"; [ "$RC" = 0 ] || bad "virsh $*: rc=$RC $ERR"; }
state() { virsh -c "$URI" domstate "$1" 2>/dev/null | head -n1; }
wait_state() {   # wait_state DOM STATE [SECONDS]
    local i
    for i in $(seq $((${3:-30} * 10))); do
        [ "$(state "$1")" = "$2" ] && return 0
        sleep 0.1
    done
    return 1
}
# The console through virsh: lib/xmcon.py drives "PROG console DOM".
cat >"$WORK/virsh-uri" <<EOF
#!/bin/sh
exec virsh -c '$URI' "\$@"
EOF
chmod +x "$WORK/virsh-uri"
con() { "$PY" "$LIB/xmcon.py" "$WORK/virsh-uri" "$@"; }

# --- the connection ----------------------------------------------------------
vok version
echo "$OUT" | grep -q '^Running hypervisor: Xen 4\.' || bad "version: $OUT"
echo "$OUT" | grep -q '^Using API: Xen ' || bad "version API: $OUT"
vok nodeinfo
echo "$OUT" | grep -Eq "^CPU\(s\): +$(nproc)\$" || bad "nodeinfo CPUs: $OUT"
total=$(awk '/^MemTotal/ { print $2 }' /proc/meminfo)
echo "$OUT" | grep -Eq "^Memory size: +$total KiB\$" || bad "nodeinfo memory: $OUT"
vok capabilities
echo "$OUT" | grep -q "<arch name=\"riscv64\">" || bad "capabilities without riscv64: $OUT"
echo "$OUT" | grep -q "<os_type>xen</os_type>" || bad "capabilities os_type: $OUT"
vok hostname
[ "$OUT" = "$(hostname)" ] || bad "hostname: $OUT"
vok uri
[ "$OUT" = "$URI" ] || bad "uri: $OUT"
vok list --all
echo "$OUT" | grep -Eq '^ *0 +Domain-0 +running$' || bad "list: $OUT"

# --- define from a file --------------------------------------------------------
cat >"$WORK/lv1.xml" <<EOF
<domain type='xen'>
  <name>lv1</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='riscv64' machine='virt'>xen</type>
    <kernel>$XENO_GUEST_DIR/Image</kernel>
    <initrd>$XENO_GUEST_DIR/initramfs.cpio.gz</initrd>
    <cmdline>console=ttyS0</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <console type='pty'><target type='serial'/></console>
  </devices>
</domain>
EOF
vok define "$WORK/lv1.xml"
echo "$OUT" | grep -q "Domain 'lv1' defined from" || bad "define: $OUT"
vok list --all
echo "$OUT" | grep -Eq '^ *- +lv1 +shut off$' || bad "list after define: $OUT"
"$XM" list lv1 >/dev/null 2>&1 || bad "xm does not see lv1"
[ -f "$ST/domains/lv1.cfg" ] || bad "lv1 is not a managed domain of xend"
v define "$WORK/lv1.xml"
[ "$RC" = 0 ] || bad "define again (an update): rc=$RC $ERR"

# --- start, look at it ---------------------------------------------------------
vok start lv1
id=$(virsh -c "$URI" domid lv1)
[ "$id" = "$("$XM" domid lv1)" ] || bad "virsh domid $id, xm domid $("$XM" domid lv1)"
vok dominfo lv1
echo "$OUT" | grep -Eq '^State: +running$' || bad "dominfo state: $OUT"
echo "$OUT" | grep -Eq '^Persistent: +yes$' || bad "dominfo persistent: $OUT"
echo "$OUT" | grep -Eq '^Max memory: +262144 KiB$' || bad "dominfo memory: $OUT"
echo "$OUT" | grep -Eq '^OS Type: +xen$' || bad "dominfo os type: $OUT"
vok domstate lv1 --reason
echo "$OUT" | grep -q '^running (booted)' || bad "domstate: $OUT"
vok dumpxml lv1
echo "$OUT" | grep -q "<domain type=\"xen\" id=\"$id\">" || bad "dumpxml id: $OUT"
echo "$OUT" | grep -q "<kernel>$XENO_GUEST_DIR/Image</kernel>" || bad "dumpxml kernel: $OUT"

# --- the console -----------------------------------------------------------------
con lv1 wait || die "lv1: no shell prompt through virsh console"
tok=$(rand_token)
out=$(con lv1 run "echo $tok | rev") || bad "virsh console run failed"
[ "$out" = "$(echo "$tok" | rev)" ] || bad "console output '$out'"
echo "console ok ($((SECONDS - T0)) s)"

# --- setmem: the balloon takes memory from the guest -------------------------
memtotal() { con lv1 run 'grep MemTotal /proc/meminfo' | awk '{ print $2 }'; }
m0=$(memtotal)
vok setmem lv1 128M --live
m1=$m0
for _ in $(seq 30); do
    m1=$(memtotal)
    [ -n "$m1" ] && [ $((m0 - m1)) -ge $((120 * 1024)) ] && break
    sleep 1
done
[ -n "$m0" ] && [ $((m0 - m1)) -ge $((120 * 1024)) ] || bad "MemTotal $m0 -> $m1 kB after setmem 128M"
vok dominfo lv1
echo "$OUT" | grep -Eq '^Used memory: +131072 KiB$' || bad "dominfo after setmem: $OUT"
"$XM" list lv1 | awk 'NR == 2 { exit $3 != 128 }' || bad "xm list after setmem: $("$XM" list lv1)"

# --- suspend, resume -----------------------------------------------------------
vok suspend lv1
[ "$(state lv1)" = paused ] || bad "state after suspend: $(state lv1)"
"$XM" list lv1 | grep -q -- '--p---' || bad "xm list does not show lv1 paused"
vok resume lv1
[ "$(state lv1)" = running ] || bad "state after resume: $(state lv1)"
out=$(con lv1 run 'echo alive') || bad "console after resume"
[ "$out" = alive ] || bad "guest after resume: '$out'"

# --- shutdown through the guest's agent; start again; destroy -----------------
vok shutdown lv1
wait_state lv1 "shut off" 60 || bad "lv1 did not power off after virsh shutdown ($(state lv1))"
vok domstate lv1 --reason
echo "$OUT" | grep -q '^shut off (shutdown)' || bad "domstate after shutdown: $OUT"
vok start lv1
con lv1 wait || bad "lv1: no prompt after the second start"
# xm destroys the domain under an attached `virsh console`: the console
# stream ends (an empty CONTINUE) and virsh console exits 0.
"$PY" - "$WORK/virsh-uri" "$XM" <<'PY' || bad "virsh console at the end of the domain"
import os, pty, select, subprocess, sys, time
virsh, xm = sys.argv[1:3]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(virsh, [virsh, "console", "lv1"])
buf, end = b"", time.monotonic() + 20
while b"Escape character" not in buf and time.monotonic() < end:
    if select.select([fd], [], [], 0.5)[0]:
        buf += os.read(fd, 4096)
subprocess.run([xm, "destroy", "lv1"], check=True)
end = time.monotonic() + 10
while time.monotonic() < end:
    p, st = os.waitpid(pid, os.WNOHANG)
    if p:
        sys.exit(0 if os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0 else "virsh console: %r" % st)
    try:
        select.select([fd], [], [], 0.2)[0] and os.read(fd, 4096)
    except OSError:
        pass
os.kill(pid, 9)
sys.exit("virsh console did not end with the domain")
PY
wait_state lv1 "shut off" 10 || bad "virsh does not see xm's destroy ($(state lv1))"
vok start lv1
vok destroy lv1
vok domstate lv1 --reason
echo "$OUT" | grep -q '^shut off (destroyed)' || bad "domstate after destroy: $OUT"

# --- errors and what is not supported ---------------------------------------
v dominfo nope
[ "$RC" = 1 ] && echo "$ERR" | grep -q "failed to get domain 'nope'" ||
    bad "dominfo nope: rc=$RC $ERR"
v suspend lv1
[ "$RC" = 1 ] && echo "$ERR" | grep -q 'Requested operation is not valid: domain is not running' ||
    bad "suspend of a stopped domain: rc=$RC $ERR"
v snapshot-create-as lv1 s1
[ "$RC" = 1 ] && echo "$ERR" | grep -q 'this function is not supported by the connection driver' ||
    bad "snapshot: rc=$RC $ERR"
sed 's|<devices>|<devices><graphics type="vnc"/>|' "$WORK/lv1.xml" | sed 's/lv1/lv9/' >"$WORK/lv9.xml"
v define "$WORK/lv9.xml"
[ "$RC" = 1 ] && echo "$ERR" | grep -q 'unsupported configuration: <devices><graphics>' ||
    bad "define with graphics: rc=$RC $ERR"
"$XM" list lv9 >/dev/null 2>&1 && bad "a refused define left lv9 behind"
v destroy Domain-0
[ "$RC" = 1 ] && echo "$ERR" | grep -q 'Domain-0' || bad "destroy Domain-0: rc=$RC $ERR"

# --- undefine ------------------------------------------------------------------
vok undefine lv1
vok list --all --name
echo "$OUT" | grep -Eq '^lv1 *$' && bad "lv1 still listed after undefine: $OUT"
"$XM" list lv1 >/dev/null 2>&1 && bad "xm still sees lv1 after undefine"
[ -f "$ST/domains/lv1.cfg" ] && bad "lv1's config is still in the state dir"
grep -E 'xend: error|AddressSanitizer|runtime error' "$WORK/xend.log" && bad "xend logged errors"

echo "done in $((SECONDS - T0)) s"
[ "$errors" = 0 ] || fail "$errors checks failed"
echo PASS
