#!/usr/bin/env bash
# The virtio console as the guest's console: the console input goes to it
# instead of the UART, for the terminal and for the console socket alike.
# On riscv Linux names it hvc1 (the SBI console, CONFIG_HVC_RISCV_SBI, takes
# hvc0), so the guest boots with console=hvc1; x86's hvc0 is covered by
# 90-kvm-guest. (a) On a pty: the shell prompt appears on the virtio console
# (`tty` says so), the terminal is in raw mode, input reaches the shell,
# Ctrl-] q quits with status 0 and restores the terminal. (b) With
# --control --no-console: PATH.console gets the guest's output and what a
# client writes reaches that shell (which powers the VM off).
. "$(dirname "$0")/lib/common.sh"
require_vm
[ "${XENO_PEER:-}" = qemu ] && skip "Ctrl-] q and the console socket are xeno-vmm's own"
cd "$WORK"
"$PY" - "$XENO_VMM" <<'PY'
import os, pty, re, select, signal, socket, subprocess, sys, termios, time

vmm = sys.argv[1]
# The virtio console is hvc1 on riscv: the SBI console (CONFIG_HVC_RISCV_SBI)
# takes hvc0 (27-sbi-console covers that one).
HVC = "hvc1"
ARGS = ["--cmdline", "console=" + HVC]

def fail(msg, buf=b""):
    print("FAIL: " + msg)
    if buf:
        print("last output:\n" + buf[-600:].decode(errors="replace"))
    sys.exit(1)

def expect(read, state, pat, timeout, what):
    end = time.time() + timeout
    while not re.search(pat, state[0]):
        left = end - time.time()
        if left <= 0:
            fail("waiting for %s (%r)" % (what, pat), state[0])
        data = read(left)
        if data is None:
            fail("console closed while waiting for %s" % what, state[0])
        state[0] += data

# ---- (a) a terminal --------------------------------------------------------
pid, fd = pty.fork()
if pid == 0:
    os.execv(vmm, [vmm] + ARGS)
out = [b""]

def read_pty(left):
    r, _, _ = select.select([fd], [], [], left)
    if not r:
        return b""
    try:
        return os.read(fd, 65536)
    except OSError:
        return None

expect(read_pty, out, rb"Welcome to Xeno guest", 120, "the banner")
expect(read_pty, out, rb"# $", 30, "the shell prompt")
raw = termios.tcgetattr(fd)
if raw[3] & termios.ICANON or raw[3] & termios.ECHO:
    fail("terminal not in raw mode while the VM runs")
os.write(fd, b"tty; echo tok-$((6*7))\r")
expect(read_pty, out, rb"tok-42", 30, "the echo through " + HVC)
if ("/dev/" + HVC).encode() not in out[0]:
    fail("the shell is not on " + HVC + " (tty did not say /dev/" + HVC + ")", out[0])
print("pty: shell on /dev/%s, input reached it" % HVC)
os.write(fd, b"\x1dq")
end = time.time() + 15
while time.time() < end:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        break
    time.sleep(0.1)
else:
    os.kill(pid, signal.SIGKILL)
    fail("xeno-vmm still running 15 s after Ctrl-] q")
rc = os.waitstatus_to_exitcode(status)
if rc != 0:
    fail("exit status after Ctrl-] q is %d, not 0" % rc)
after = termios.tcgetattr(fd)
if not (after[3] & termios.ICANON and after[3] & termios.ECHO):
    fail("terminal not restored to cooked mode (lflag %#x)" % after[3])
os.close(fd)
print("pty: Ctrl-] q quit with 0 and restored the terminal")

# ---- (b) the console socket ------------------------------------------------
ctl = os.path.join(os.getcwd(), "ctl.sock")
p = subprocess.Popen([vmm] + ARGS + ["--control", ctl, "--no-console"],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=open("vmm-b.err", "wb"))
try:
    for _ in range(100):
        if os.path.exists(ctl + ".console"):
            break
        time.sleep(0.1)
    else:
        fail("no console socket at %s.console" % ctl)
    s = socket.socket(socket.AF_UNIX)
    s.connect(ctl + ".console")
    sout = [b""]

    def read_sock(left):
        r, _, _ = select.select([s], [], [], left)
        if not r:
            return b""
        data = s.recv(65536)
        return data if data else None

    expect(read_sock, sout, rb"Welcome to Xeno guest", 120, "the banner on the console socket")
    expect(read_sock, sout, rb"# $", 30, "the prompt on the console socket")
    s.sendall(b"tty; echo sock-$((6*7))\n")
    expect(read_sock, sout, rb"sock-42", 30, "the echo through the console socket")
    if ("/dev/" + HVC).encode() not in sout[0]:
        fail("the shell is not on " + HVC + " (tty did not say /dev/" + HVC + ")", sout[0])
    print("socket: output received, input reached the %s shell" % HVC)
    s.sendall(b"poweroff\n")
    try:
        rc = p.wait(60)
    except subprocess.TimeoutExpired:
        fail("the VM did not power off after 'poweroff' on the console socket", sout[0])
    if rc != 0:
        fail("exit status after poweroff is %d, not 0" % rc)
    print("socket: poweroff typed on the console socket, exit 0")
finally:
    if p.poll() is None:
        p.kill()
        p.wait()
print("PASS")
PY
