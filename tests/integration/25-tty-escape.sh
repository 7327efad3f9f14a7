#!/usr/bin/env bash
# tty console: on a terminal xeno-vmm puts it in raw mode (the guest sees
# every byte, including Ctrl-C), Ctrl-] then q quits the VM, and the
# terminal settings are restored afterwards.
. "$(dirname "$0")/lib/common.sh"
require_vm
[ "${XENO_PEER:-}" = qemu ] && skip "Ctrl-] q is xeno-vmm's escape (QEMU uses Ctrl-A x)"
cd "$WORK"
"$PY" - "$XENO_VMM" <<'PY'
import os, pty, re, select, sys, termios, time

vmm = sys.argv[1]
pid, fd = pty.fork()
if pid == 0:
    os.execv(vmm, [vmm])
buf = b""

def expect(pat, timeout):
    global buf
    end = time.time() + timeout
    while not re.search(pat, buf):
        left = end - time.time()
        if left <= 0:
            print("FAIL: waiting for %r; last output:\n%s" % (pat, buf[-600:].decode(errors="replace")))
            sys.exit(1)
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                buf += os.read(fd, 65536)
            except OSError:
                break

expect(rb"Welcome to Xeno guest", 90)
expect(rb"# $", 30)
raw = termios.tcgetattr(fd)
if raw[3] & termios.ICANON or raw[3] & termios.ECHO:
    print("FAIL: terminal not in raw mode while the VM runs")
    sys.exit(1)
# Ctrl-C goes to the guest (interrupting a sleep), not to xeno-vmm.
os.write(fd, b"sleep 30\r")
time.sleep(1.0)
os.write(fd, b"\x03")
os.write(fd, b"echo still-$((6*7))\r")
expect(rb"still-42", 20)
# Ctrl-] q quits.
os.write(fd, b"\x1dq")
end = time.time() + 15
while time.time() < end:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        break
    time.sleep(0.1)
else:
    print("FAIL: xeno-vmm still running 15 s after Ctrl-] q")
    os.kill(pid, 9)
    sys.exit(1)
print("exit status", os.waitstatus_to_exitcode(status))
if os.waitstatus_to_exitcode(status) != 0:
    print("FAIL: exit status after Ctrl-] q is not 0")
    sys.exit(1)
# A new pty starts in cooked mode (ICANON, ECHO): it must be back to that.
after = termios.tcgetattr(fd)
if not (after[3] & termios.ICANON and after[3] & termios.ECHO):
    print("FAIL: terminal not restored to cooked mode (lflag %#x)" % after[3])
    sys.exit(1)
print("PASS")
PY
