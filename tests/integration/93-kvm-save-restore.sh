#!/usr/bin/env bash
# kvm engine save/restore and live migration on the x86-64 test guest
# (2 vCPUs, xtest.count=100: every 100 ms a line with a counter, its LAPIC
# timer ticks, guest time from the TSC and from kvmclock, and an IPI that
# the AP answers). Devices come back reset until they have sections of
# their own; the guest only polls COM1's line status, which works either way.
#  1. save (the VMM exits 5), wait 1.5 s, `--restore`: the console output
#     of both VMMs together is every count line once, in order (the guest
#     continues at the instruction it was at, not from boot); the ticks go
#     on by 10 a line, the AP answers every IPI, and the guest's time
#     (TSC and kvmclock) never goes back and moves by about one line's
#     100 ms across the restore, not by the 1.5 s the domain was away;
#  2. checkpoint save (checkpoint=true): the original keeps counting; the
#     restored copy continues from the count at the checkpoint;
#  3. `--restore --paused`: no output for 1.5 s and "paused" in query
#     until {"cmd":"resume"}; then it continues, kvmclock without the pause;
#  4. live migration to `--incoming` over a unix socket (pre-copy rounds
#     use the kvm engine's dirty log): the count continues on the receiver.
# The sandboxed VMM opens nothing: save files and the migration connection
# are passed with the request (SCM_RIGHTS, "fd": true), as xend does.
. "$(dirname "$0")/lib/common.sh"
. "$LIB/kvm.sh"
cd "$WORK"

"$PY" - "$XENO_VMM" "$GUESTS/xtest.elf" <<'PY'
import json, os, re, select, socket, subprocess, sys, time

vmm, kernel = sys.argv[1:3]
LINE = re.compile(rb"xtest: count (\d+) ticks (\d+) tsc_ms (\d+) kvmclock_ms (\d+) ap_ipis (\d+)\r?\n")
INTERVAL_MS = 100
SLACK_MS = 500          # a line's time may stretch by this much, not by seconds
procs = []


def fail(msg):
    for p in procs:
        if p.proc.poll() is None:
            p.proc.kill()
        print("---- %s output:\n%s\n---- stderr:\n%s" % (p.name, p.out.decode(errors="replace")[-3000:],
              p.err_text()))
    print("FAIL: " + msg)
    sys.exit(1)


class Vmm:
    def __init__(self, name, args, pass_fds=()):
        self.name = name
        self.ctl_path = os.path.join(os.getcwd(), name + ".sock")
        self.errf = open(name + ".err", "w+b")
        self.proc = subprocess.Popen([vmm] + args + ["--control", self.ctl_path],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self.errf, pass_fds=pass_fds)
        self.out = b""
        self.ctl = None
        self.events = []
        procs.append(self)

    def err_text(self):
        self.errf.seek(0)
        return self.errf.read().decode(errors="replace")

    def pump(self, secs):
        r, _, _ = select.select([self.proc.stdout], [], [], secs)
        if r:
            b = os.read(self.proc.stdout.fileno(), 65536)
            self.out += b
            return bool(b)
        return self.proc.poll() is None

    def lines(self):
        return [tuple(int(x) for x in m.groups()) for m in LINE.finditer(self.out)]

    def wait_count(self, n, secs=30):
        end = time.monotonic() + secs
        while time.monotonic() < end:
            ls = self.lines()
            if ls and ls[-1][0] >= n:
                return
            if not self.pump(0.05):
                break
        fail("%s: no count %d within %d s (exit %s)" % (self.name, n, secs, self.proc.poll()))

    def connect(self):
        end = time.monotonic() + 10
        while self.ctl is None:
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(self.ctl_path)
                self.ctl, self.ctl_buf, self.ctl_closed = s, b"", False
            except OSError as e:
                s.close()
                if time.monotonic() > end:
                    fail("%s: no control socket: %s" % (self.name, e))
                self.pump(0.05)

    def read_msg(self, secs):
        """The next reply or event (None: none within secs, or closed)."""
        end = time.monotonic() + secs
        while b"\n" not in self.ctl_buf and time.monotonic() < end:
            r, _, _ = select.select([self.ctl, self.proc.stdout], [], [], 0.05)
            if self.proc.stdout in r:
                self.pump(0)
            if self.ctl in r:
                b = self.ctl.recv(65536)
                if not b:
                    self.ctl_closed = True
                    return None
                self.ctl_buf += b
        if b"\n" not in self.ctl_buf:
            return None
        line, self.ctl_buf = self.ctl_buf.split(b"\n", 1)
        return json.loads(line)

    def cmd(self, name, secs=30, fds=(), **args):
        """A request; fds go with it (SCM_RIGHTS), for "fd": true."""
        self.connect()
        args.update(cmd=name, id=len(self.events) + 1000)
        data = (json.dumps(args) + "\n").encode()
        if fds:
            socket.send_fds(self.ctl, [data], list(fds))
        else:
            self.ctl.sendall(data)
        while True:
            m = self.read_msg(secs)
            if m is None:
                fail("%s: no reply to %s" % (self.name, name))
            if m.get("id") == args["id"]:
                if not m.get("ok"):
                    fail("%s: %s: %s" % (self.name, name, m))
                return m
            self.events.append(m)

    def save(self, path, **args):
        """The sandboxed VMM opens no files: PATH.tmp goes with the request
        and is renamed once saved, as xend does."""
        fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            self.cmd("save", fds=[fd], fd=True, **args)
        finally:
            os.close(fd)
        os.rename(path + ".tmp", path)

    def finish(self, want_rc, secs=20):
        end = time.monotonic() + secs
        while self.proc.poll() is None and time.monotonic() < end:
            self.pump(0.05)
        while self.pump(0):
            pass
        rc = self.proc.poll()
        if rc != want_rc:
            fail("%s: exit status %s, want %d" % (self.name, rc, want_rc))

    def destroy(self):
        self.cmd("destroy")
        self.finish(4)


def boot(name):
    return Vmm(name, ["--engine", "kvm", "--kernel", kernel, "--memory", "64", "--vcpus", "2",
                      "--cmdline", "console=ttyS0 xtest.count=%d" % INTERVAL_MS])


TSC_IGNORED = "did not take the guest's TSC"


def tsc_ignored(v):
    """The restoring VMM said this host's KVM cannot set the guest's TSC (a
    paging-based nested KVM runs RDTSC natively): the TSC then jumps by the
    time away, and only kvmclock must continue."""
    return TSC_IGNORED in v.err_text()


def check_run(what, lines, first=1, tsc_jumps=False):
    """Counts first, first+1, ... once each; the LAPIC timer's ticks going
    on (about 10 a line, at most a line + slack); one answered IPI a
    line; guest time never back, and by at most a line (+ slack) at a time;
    with tsc_jumps, the TSC may jump forward (it counts through a pause)."""
    if not lines:
        fail("%s: no count lines" % what)
    counts = [l[0] for l in lines]
    if counts != list(range(first, first + len(counts))):
        fail("%s: counts not contiguous from %d: %s" % (what, first, counts))
    for a, b in zip(lines, lines[1:]):
        n = b[0]
        # A line waits for its tick (every 10th); the tick printed after
        # the IPI may be a late one on a busy host, so steps vary a little.
        if b[1] - a[1] < INTERVAL_MS // 20 or b[1] - a[1] > (INTERVAL_MS + SLACK_MS) // 10:
            fail("%s: ticks went %d -> %d at count %d" % (what, a[1], b[1], n))
        if b[4] != a[4] + 1:
            fail("%s: AP IPIs went %d -> %d at count %d" % (what, a[4], b[4], n))
        dt, dk = b[2] - a[2], b[3] - a[3]
        if dt < 0 or dk < 0:
            fail("%s: guest time went back at count %d (tsc %+d ms, kvmclock %+d ms)" % (what, n, dt, dk))
        if dk > INTERVAL_MS + SLACK_MS or (dt > INTERVAL_MS + SLACK_MS and not tsc_jumps):
            fail("%s: guest time jumped at count %d (tsc %+d ms, kvmclock %+d ms)" % (what, n, dt, dk))


def step(lines, n):
    """(kvmclock ms, tsc ms) from count n to n + 1."""
    a, b = [l for l in lines if l[0] == n][0], [l for l in lines if l[0] == n + 1][0]
    return b[3] - a[3], b[2] - a[2]


def no_fail(v):
    if b"FAIL" in v.out:
        fail("%s: the guest reported a failure" % v.name)


# 1. save, then restore 1.5 s later.
a = boot("a")
a.wait_count(5)
a.save(os.path.abspath("a.save"))
a.finish(5)
na = a.lines()[-1][0]
time.sleep(1.5)
b = Vmm("b", ["--restore", os.path.abspath("a.save")])
b.wait_count(na + 8)
both = [tuple(int(x) for x in m.groups()) for m in LINE.finditer(a.out + b.out)]
check_run("save/restore", both, tsc_jumps=tsc_ignored(b))
no_fail(a); no_fail(b)
b.destroy()
print("save/restore: counts 1..%d contiguous across the restore after count %d; over the 1.5 s "
      "away kvmclock moved %d ms, the TSC %d ms%s" % (both[-1][0], na, *step(both, na),
      " (this host's KVM ignores TSC writes, and the VMM said so)" if tsc_ignored(b) else ""))

# 2. checkpoint: the original goes on; the copy continues from the checkpoint.
c = boot("c")
c.wait_count(5)
c.save(os.path.abspath("c.save"), checkpoint=True)
nc = c.lines()[-1][0]
c.wait_count(nc + 5)
check_run("checkpoint original", c.lines())
d = Vmm("d", ["--restore", os.path.abspath("c.save")])
d.wait_count(nc + 3)
dl = d.lines()
k = dl[0][0]
if not (2 <= k <= nc + 2):
    fail("checkpoint copy starts at count %d; the checkpoint was taken after count %d" % (k - 1, nc))
check_run("checkpoint copy", [l for l in c.lines() if l[0] == k - 1] + dl, first=k - 1,
          tsc_jumps=tsc_ignored(d))
no_fail(c); no_fail(d)
c.destroy()
d.destroy()
print("checkpoint: the original counted on to %d; the copy went on from %d (checkpoint after %d)"
      % (c.lines()[-1][0], k, nc))

# 3. restored paused: nothing runs until resume.
e = boot("e")
e.wait_count(3)
e.save(os.path.abspath("e.save"))
e.finish(5)
ne = e.lines()[-1][0]
f = Vmm("f", ["--restore", os.path.abspath("e.save"), "--paused"])
f.connect()
end = time.monotonic() + 1.5
while time.monotonic() < end:
    f.pump(0.05)
if f.out:
    fail("output while restored paused: %r" % f.out)
q = f.cmd("query")
if "paused" not in json.dumps(q):
    fail("query of a domain restored paused does not say paused: %s" % q)
f.cmd("resume")
f.wait_count(ne + 5)
both = [tuple(int(x) for x in m.groups()) for m in LINE.finditer(e.out + f.out)]
check_run("paused restore", both, tsc_jumps=True)
no_fail(e); no_fail(f)
f.destroy()
print("paused restore: silent for 1.5 s, then counts 1..%d contiguous; kvmclock moved %d ms "
      "across save, pause and resume (the TSC, which counts through pauses, %d ms)"
      % (both[-1][0], *step(both, ne)))

# 4. live migration to an --incoming VMM.
g = boot("g")
g.wait_count(5)
# The sandboxed VMM connects nowhere: it gets one end of the connection.
send_end, conn = socket.socketpair()
g.cmd("migrate", fds=[send_end.fileno()], fd=True, live=True)
send_end.close()
h = Vmm("h", ["--incoming", "fd:%d" % conn.fileno()], pass_fds=[conn.fileno()])
conn.close()
# Until the last migration event, or the source VMM gone (it may exit as
# migrated before its "completed" event reaches us: its status says it).
state, rounds = None, 0
end = time.monotonic() + 60
while state not in ("completed", "failed", "cancelled") and not g.ctl_closed and time.monotonic() < end:
    m = g.read_msg(1)
    if m and m.get("event") == "migration":
        g.events.append(m)
        state, rounds = m.get("state"), m.get("round", rounds)
if state in ("failed", "cancelled"):
    fail("migration %s: %s" % (state, g.events[-1]))
g.finish(6)
ng = g.lines()[-1][0]
h.wait_count(ng + 5)
both = [tuple(int(x) for x in m.groups()) for m in LINE.finditer(g.out + h.out)]
check_run("live migration", both, tsc_jumps=tsc_ignored(h))
no_fail(g); no_fail(h)
h.destroy()
print("live migration: %d pre-copy round(s), counts 1..%d contiguous across the switch at %d"
      % (rounds, both[-1][0], ng))
PY
