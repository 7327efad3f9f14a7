#!/usr/bin/env bash
# control socket (docs/protocols.md section 1): xeno-vmm --control PATH
# --no-console, driven over the socket: query; pause stops the CPU clock and
# resume restarts it; garbage gets an error and leaves the VM alone; 20
# concurrent clients; the console socket replays output; destroy answers,
# sends `stopped` to every client, removes both sockets and exits 4.
#
# Runs on a bare-metal program assembled here (prints a banner on the UART,
# then spins): a guest that always burns CPU makes the CPU-clock checks
# deterministic (an idle Linux guest sleeps in WFI). The Linux guest's
# pause/resume is covered by 46-xend-guest.
. "$(dirname "$0")/lib/common.sh"
[ "${XENO_PEER:-}" = qemu ] && skip "the control socket is xeno-vmm's own (no QEMU peer)"
[ -x "$XENO_VMM" ] || fail "xeno-vmm not built: $XENO_VMM"
cd "$WORK"

# A bare-metal program that keeps the hart busy, assembled here.
{
    command -v riscv64-linux-gnu-gcc >/dev/null ||
        fail "no riscv64-linux-gnu-gcc to build the test program (scripts/deps.sh installs it)"
    GUEST=bare
    cat > spin.S <<'EOF'
    .section .text.init
    .globl _start
_start:
    li t0, 0x10000000           /* UART */
    la a0, msg
1:  lbu a1, 0(a0)
    beqz a1, 2f
    sb a1, 0(t0)
    addi a0, a0, 1
    j 1b
2:  li t1, 20000                /* burn CPU, then echo any UART input */
3:  addi t1, t1, -1
    bnez t1, 3b
    lbu a1, 5(t0)
    andi a1, a1, 1
    beqz a1, 2b
    lbu a1, 0(t0)
    sb a1, 0(t0)
    j 2b
    .section .data
msg: .asciz "xeno-ctl-test ready\n"
    .section .tohost, "aw", @progbits
    .align 6
    .globl tohost
tohost: .dword 0
    .align 6
    .globl fromhost
fromhost: .dword 0
EOF
    riscv64-linux-gnu-gcc -march=rv64gc -mabi=lp64d -nostdlib -nostartfiles -static \
        -Wl,--build-id=none -T "$ROOT/tests/isa/link.ld" spin.S -o spin.elf ||
        fail "cannot assemble the bare-metal test program"
    VM_ARGS=(--bios spin.elf)
}

"$XENO_VMM" "${VM_ARGS[@]}" --control "$WORK/ctl.sock" --no-console \
    >vmm.out 2>vmm.err &
VMM_PID=$!
CHILD_PIDS+=("$VMM_PID")

GUEST=$GUEST VMM_PID=$VMM_PID "$PY" - <<'PY' || { echo "---- vmm stderr"; tail -5 vmm.err; exit 1; }
import json, os, socket, sys, threading, time

SOCK = os.path.join(os.getcwd(), "ctl.sock")
GUEST = os.environ["GUEST"]
PID = int(os.environ["VMM_PID"])

def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)

class Client:
    def __init__(self):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.settimeout(15)
        self.s.connect(SOCK)
        self.buf = b""
        self.events = []

    def line(self):
        while b"\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError("connection closed")
            self.buf += d
        l, self.buf = self.buf.split(b"\n", 1)
        return json.loads(l)

    def send_raw(self, data):
        self.s.sendall(data)

    def req(self, cmd, **args):
        rid = int.from_bytes(os.urandom(4), "little")
        self.send_raw((json.dumps(dict(args, id=rid, cmd=cmd)) + "\n").encode())
        while True:
            m = self.line()
            if "event" in m:
                self.events.append(m)
                continue
            if m.get("id") != rid:
                fail("%s: response id %r, want %r" % (cmd, m.get("id"), rid))
            return m

    def ok(self, cmd, **args):
        r = self.req(cmd, **args)
        if r.get("ok") is not True:
            fail("%s: %r" % (cmd, r))
        return r["result"]

    def event(self, name):
        for e in self.events:
            if e["event"] == name:
                self.events.remove(e)
                return e
        while True:
            m = self.line()
            if m.get("event") == name:
                return m

# Wait for the socket.
for _ in range(200):
    if os.path.exists(SOCK):
        break
    time.sleep(0.05)
else:
    fail("control socket %s never appeared" % SOCK)
mode = os.stat(SOCK).st_mode & 0o777
if mode != 0o600:
    fail("control socket mode %o, want 600" % mode)

a, b = Client(), Client()
q = a.ok("query")
for k in ("state", "name", "uuid", "vcpus", "memory_mib", "balloon_target_mib",
          "balloon_actual_mib", "cpu_time_ns", "uptime_ns", "pid", "engine", "console"):
    if k not in q:
        fail("query: no %r in %r" % (k, q))
if q["state"] != "running" or q["pid"] != PID or q["engine"] != "emu":
    fail("query: %r" % q)
if q["console"] != SOCK + ".console":
    fail("query: console %r" % q["console"])
print("query ok:", json.dumps(q))

# The CPU clock runs, pause stops it, resume restarts it.
t0 = a.ok("query")["cpu_time_ns"]; time.sleep(1.0)
t1 = a.ok("query")["cpu_time_ns"]
if t1 - t0 < 50e6:
    fail("cpu_time_ns grew only %d ns in 1 s while running" % (t1 - t0))
a.ok("pause")
a.event("paused"); b.event("paused")
if a.ok("query")["state"] != "paused":
    fail("state is not paused after pause")
p0 = a.ok("query")["cpu_time_ns"]; time.sleep(1.0)
p1 = a.ok("query")["cpu_time_ns"]
if p1 - p0 > 20e6:
    fail("cpu_time_ns grew %d ns in 1 s while paused" % (p1 - p0))
b.ok("resume")
a.event("resumed"); b.event("resumed")
r0 = b.ok("query")["cpu_time_ns"]; time.sleep(0.5)
r1 = b.ok("query")["cpu_time_ns"]
if r1 - r0 < 20e6:
    fail("cpu_time_ns grew only %d ns in 0.5 s after resume" % (r1 - r0))
print("pause/resume ok: running +%d ms/s, paused +%.3f ms/s, resumed +%d ms/0.5s"
      % ((t1 - t0) / 1e6, (p1 - p0) / 1e6, (r1 - r0) / 1e6))

# Garbage: one error line each, the VM is unaffected, the connection lives.
for junk in (b"not json\n", b"{\"cmd\":\n", b"[]\n", b"{\"cmd\":\"fly\"}\n",
             b"{\"cmd\":\"balloon\",\"target_mib\":-5}\n", b"\xff\xfe\x00\x01\n"):
    a.send_raw(junk)
    m = a.line()
    if m.get("ok") is not False or not m.get("error") or "\n" in m["error"]:
        fail("garbage %r got %r" % (junk, m))
if a.ok("query")["state"] != "running":
    fail("VM not running after garbage")
# An over-long line closes that connection only.
c = Client()
try:
    c.send_raw(b"x" * (70 * 1024))
    m = c.line()
    if m.get("ok") is not False:
        fail("long line got %r" % m)
    try:
        c.line()
        fail("connection still open after a long line")
    except (EOFError, ConnectionResetError):
        pass
except (BrokenPipeError, ConnectionResetError):
    pass
a.ok("query")
print("bad input ok")

# The guest agent: without an agent that answers, shutdown fails in one line.
r = a.req("shutdown")
if r.get("ok") is not False or not any(s in r.get("error", "") for s in
        ("guest agent did not answer", "no guest agent channel")):
    fail("shutdown without an agent: %r" % r)
print("shutdown without agent:", r["error"])

if GUEST == "linux":
    a.ok("balloon", target_mib=q["memory_mib"] - 16)
    if a.ok("query")["balloon_target_mib"] != q["memory_mib"] - 16:
        fail("balloon target not reported")

# 20 concurrent clients, 25 requests each.
errors = []
def worker(n):
    try:
        cl = Client()
        for i in range(25):
            if cl.req("query").get("ok") is not True:
                errors.append("client %d: query failed" % n)
        cl.s.close()
    except Exception as e:
        errors.append("client %d: %r" % (n, e))
threads = [threading.Thread(target=worker, args=(n,)) for n in range(20)]
t = time.monotonic()
for th in threads: th.start()
for th in threads: th.join(60)
if errors:
    fail("; ".join(errors[:3]))
print("20 clients x 25 queries in %.2fs" % (time.monotonic() - t))

# The console socket replays recent output.
con = socket.socket(socket.AF_UNIX)
con.settimeout(5)
con.connect(SOCK + ".console")
want = b"xeno-ctl-test ready" if GUEST == "bare" else b"Linux version"
got = b""
deadline = time.monotonic() + 60
while want not in got and time.monotonic() < deadline:
    try:
        d = con.recv(65536)
    except socket.timeout:
        continue
    if not d:
        break
    got += d
if want not in got:
    fail("console socket: %r not seen (got %d bytes)" % (want, len(got)))
if GUEST == "bare":     # the program echoes serial input
    con.sendall(b"ping-42")
    echo = b""
    while b"ping-42" not in echo and time.monotonic() < deadline:
        try:
            echo += con.recv(4096)
        except socket.timeout:
            pass
    if b"ping-42" not in echo:
        fail("console input was not echoed by the guest: %r" % echo[-100:])
print("console socket ok")

# A client that floods requests and never reads stalls nobody.
flood = Client()
flood.s.setblocking(False)
sent = 0
try:
    for _ in range(200000):
        flood.s.send(b'{"cmd":"query"}\n' * 64)
        sent += 1
except BlockingIOError:
    pass
t = time.monotonic()
for _ in range(10):
    a.ok("query")
dt = time.monotonic() - t
if dt > 2:
    fail("10 queries took %.2fs while another client floods" % dt)
print("flooding client (%d KiB sent, never read): 10 queries in %.3fs" % (sent, dt))

# destroy: the answer, then `stopped` to everyone, then exit status 4.
r = a.req("destroy")
if r.get("ok") is not True:
    fail("destroy: %r" % r)
flood.s.close()
for cl in (a, b):
    e = cl.event("stopped")
    if e.get("reason") != "destroyed":
        fail("stopped event %r" % e)
print("destroy ok")
PY
rc=$?
[ $rc = 0 ] || exit 1

for _ in $(seq 50); do kill -0 "$VMM_PID" 2>/dev/null || break; sleep 0.1; done
wait "$VMM_PID"
st=$?
[ "$st" = 4 ] || fail "xeno-vmm exit status $st after destroy, want 4"
[ ! -e "$WORK/ctl.sock" ] && [ ! -e "$WORK/ctl.sock.console" ] ||
    fail "sockets left behind after exit"
echo "PASS ($GUEST guest)"
