#!/usr/bin/env python3
"""Live migration, save/restore and the zstd level: Xeno against QEMU.

Parts (BENCH_PARTS, default "migrate save zstd"; bench/README.md has the
method in full):

  migrate  the default guest (256 MiB, 1 vCPU) on a TAP in a bridge of
           "host" network namespace A, a TCP client in a third namespace
           reading the sequence number the guest sends every 10 ms; live
           migration A -> B with the guest idle, then B -> A with the guest
           rewriting 64 MiB in a loop. Xeno: two xends per TLS variant
           (BENCH_XENO_TLS, "psk none") and `xm migrate --live`; QEMU:
           qemu-system-riscv64 -M virt, -incoming tcp:, QMP migrate.
           Measured: the client's largest gap minus the 10 ms period
           (guest-visible downtime), command start -> guest running at the
           destination (total time), bytes sent.
  save     a 256 MiB idle guest saved and restored: xm save / xm restore,
           the VMM alone (control socket `save`; `xeno-vmm --restore` from
           exec until `query` answers running), uncompressed and
           compressed; QEMU: migrate "exec:cat > FILE" and -incoming
           "exec:cat FILE" until query-status says running.
  zstd     the memory of two real save files (the idle guest, the 64 MiB
           writer) compressed as the VMM's stream writer does it (runs of
           up to 256 non-zero pages, ZSTD_compressCCtx, kept when it saves
           a tenth) at each level of BENCH_ZSTD_LEVELS: time, size, and the
           decompression time of a restore.

Runs alternate xeno, qemu, xeno ... BENCH_RUNS (5) times; medians are
printed with the ratio Xeno/QEMU and the issue's targets. A missed target
prints NO; the exit status is 0 unless the harness itself breaks.

Needs root: network namespaces, bridges and TAP devices. Everything it
creates (namespaces, processes, files in its work dir) goes at exit.
"""

import ctypes
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.dont_write_bytecode = True


def env_int(name, default):
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        sys.exit("bench: %s must be an integer" % name)


RUNS = env_int("BENCH_RUNS", 5)
MEMORY = env_int("BENCH_MEMORY", 256)
SETTLE = float(os.environ.get("BENCH_SETTLE", "3"))
MIG_TIMEOUT = env_int("BENCH_MIGRATE_TIMEOUT", 180)
PARTS = os.environ.get("BENCH_PARTS", "migrate save zstd").replace(",", " ").split()
# Sides, in the order each run takes them (Xeno with xm migrate over the TLS
# variant named, QEMU).
SIDES = os.environ.get("BENCH_SIDES", "xeno-psk qemu xeno-none").replace(",", " ").split()
VARIANTS = [s[5:] for s in SIDES if s.startswith("xeno-")]
LEVELS = [int(x) for x in os.environ.get("BENCH_ZSTD_LEVELS", "-1 1 3 6 9 19").replace(",", " ").split()]
B = os.environ.get("XENO_BUILD", os.path.join(ROOT, "build"))
VMM = os.environ.get("XENO_VMM", os.path.join(B, "src", "vmm", "xeno-vmm"))
XM = os.environ.get("XM", os.path.join(B, "src", "xm", "xm"))
XEND = os.environ.get("XEND", os.path.join(B, "src", "xend", "xend"))
GUEST = os.environ.get("XENO_GUEST_DIR", os.path.join(ROOT, "build", "guest"))
KERNEL = os.path.join(GUEST, "Image")
INITRD = os.path.join(GUEST, "initramfs.cpio.gz")
QEMU = os.environ.get("QEMU", "qemu-system-riscv64")
XEND_LOG_LEVEL = os.environ.get("BENCH_XEND_LOG_LEVEL", "info")
# -cpu for QEMU (default: its own, as bench/run.sh). Note: QEMU 7.2 (Debian
# 12) does not carry a riscv hart's pending timer across a migration (the
# Sstc stimecmp timer nor the ACLINT's; upstream fixed it in 2025): after
# the switch-over the guest's next timer interrupt may never come. An idle
# guest recovers at its next device interrupt; a busy one does not, and
# its sleeps hang. The harness reports such a run as stalled.
QEMU_CPU = os.environ.get("BENCH_QEMU_CPU", "")
TAG = os.environ.get("BENCH_TAG") or "xbm%d" % os.getpid()
WORK = SAVE_DIR = LOG_DIR = None       # init_paths()


def init_paths():
    """The work dir (bench/migrate.sh makes it), save files and logs."""
    global WORK, SAVE_DIR, LOG_DIR
    WORK = os.environ.get("BENCH_WORK") or tempfile.mkdtemp(prefix="xeno-bench-migrate-")
    SAVE_DIR = os.environ.get("BENCH_SAVE_DIR") or WORK
    LOG_DIR = os.environ.get("BENCH_LOG_DIR") or os.path.join(WORK, "log")
    os.makedirs(LOG_DIR, exist_ok=True)

MAC = "00:16:3e:4d:00:01"
GUEST_IP = "10.77.0.50"
CLIENT_IP = "10.77.0.100"
SEQ_PORT = 5000
QEMU_MIG_PORT = 4444
PERIOD_MS = 10.0
# QEMU's parameters for a fair comparison: Xeno's default downtime target,
# and a bandwidth cap far above the link (QEMU's default is 32 MiB/s).
QEMU_DOWNTIME_MS = 50
QEMU_MAX_BW = 100 << 30            # bytes/s

PROMPT_RE = rb"# $"


class Failure(Exception):
    """One measurement failed; the message says why."""


def now():
    return time.monotonic()


def log(msg):
    print(msg, flush=True)


# ---- what we started, and its removal ---------------------------------------

PROCS = []          # Popen objects (own sessions)
NAMESPACES = []


def run(argv, check=True, timeout=60, **kw):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise Failure("%s: exit %d: %s" % (" ".join(argv), p.returncode,
                                           (p.stderr or p.stdout).strip()[-400:]))
    return p


T_START = time.monotonic()


def spawn(argv, logname, stamp=False, **kw):
    """ARGV in its own session, output to LOG_DIR/logname (each line
    prefixed with the time since the start, with `stamp`)."""
    out = open(os.path.join(LOG_DIR, logname), "ab")
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE if stamp else out, stderr=subprocess.STDOUT,
                         start_new_session=True, **kw)
    if stamp:
        def copy(src, dst):
            for line in src:
                dst.write(b"%9.3f " % (time.monotonic() - T_START) + line)
                dst.flush()
            dst.close()
        threading.Thread(target=copy, args=(p.stdout, out), daemon=True).start()
    else:
        out.close()
    PROCS.append(p)
    return p


def kill_proc(p, sig=signal.SIGKILL):
    if p.poll() is None:
        try:
            os.killpg(p.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        p.wait(5)
    except subprocess.TimeoutExpired:
        pass


def our_pids():
    """Processes whose command line names the work dir: our xends' VMMs."""
    me, out = os.getpid(), []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == me:
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                if WORK.encode() + b"/" in f.read():
                    out.append(int(d))
        except OSError:
            pass
    return out


def cleanup():
    for p in PROCS:                 # xends first (TERM), then everything
        kill_proc(p, signal.SIGTERM)
    for pid in our_pids():
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    for ns in NAMESPACES:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    NAMESPACES.clear()
    # The VMMs' logs (their migration timings) go with the other logs.
    if os.environ.get("BENCH_LOG_DIR") and WORK:
        for host in sorted(HOST_NO):
            d = os.path.join(WORK, host, "state", "log")
            for f in sorted(os.listdir(d)) if os.path.isdir(d) else []:
                shutil.copy(os.path.join(d, f), os.path.join(LOG_DIR, "vmm-%s-%s" % (host, f)))


# ---- network namespaces: a switch, hosts, a client ----------------------------

ADDR = {"a": "10.77.0.1", "b": "10.77.0.2", "c": "10.77.0.3", "d": "10.77.0.4"}
HOST_NO = {"a": 1, "b": 2, "c": 3, "d": 4}
NS = {}


def ns_add(name):
    run(["ip", "netns", "add", name])
    NAMESPACES.append(name)
    run(["ip", "-n", name, "link", "set", "lo", "up"])


def uplink(ns, port):
    sw = NS["switch"]
    run(["ip", "-n", sw, "link", "add", port, "type", "veth", "peer", "name", "up0", "netns", ns])
    run(["ip", "-n", sw, "link", "set", port, "master", "sw0", "up"])


def net_setup(hosts):
    NS["switch"] = TAG + "sw"
    ns_add(NS["switch"])
    run(["ip", "-n", NS["switch"], "link", "add", "sw0", "type", "bridge"])
    run(["ip", "-n", NS["switch"], "link", "set", "sw0", "up"])
    for h in hosts:
        n, ns = HOST_NO[h], TAG + h
        NS[h] = ns
        ns_add(ns)
        run(["ip", "-n", ns, "link", "add", "xenbr0", "type", "bridge"])
        # Fixed: a bridge takes its lowest port's MAC otherwise (netns.sh).
        run(["ip", "-n", ns, "link", "set", "xenbr0", "address", "02:77:00:00:00:%02x" % n])
        uplink(ns, "p%d" % n)
        run(["ip", "-n", ns, "link", "set", "up0", "master", "xenbr0", "up"])
        run(["ip", "-n", ns, "link", "set", "xenbr0", "up"])
        run(["ip", "-n", ns, "addr", "add", ADDR[h] + "/24", "dev", "xenbr0"])
        # QEMU's TAP (persistent, root's), in the same bridge.
        run(["ip", "-n", ns, "tuntap", "add", "dev", "qtap0", "mode", "tap"])
        run(["ip", "-n", ns, "link", "set", "qtap0", "master", "xenbr0", "up"])
        os.makedirs(os.path.join(WORK, h), exist_ok=True)
    NS["client"] = TAG + "cl"
    ns_add(NS["client"])
    uplink(NS["client"], "c1")
    run(["ip", "-n", NS["client"], "link", "set", "up0", "up"])
    run(["ip", "-n", NS["client"], "addr", "add", CLIENT_IP + "/24", "dev", "up0"])


# ---- consoles: a UNIX socket to the guest's serial port -------------------------

def connect_unix(path, timeout, poll=0.001):
    end = now() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return s
        except OSError:
            s.close()
            if now() > end:
                raise Failure("nothing listens on %s" % path)
            time.sleep(poll)


class SockConsole:
    """The guest's serial console on a UNIX socket (a Xeno VMM's
    PATH.console, QEMU's -serial unix:): expect, send, run a command."""

    def __init__(self, path, logname, timeout=30):
        self.sock = connect_unix(path, timeout, 0.01)
        self.buf = bytearray()
        self.cond = threading.Condition()
        self.eof = False
        self.log = open(os.path.join(LOG_DIR, logname), "ab", buffering=0)
        self.reader = threading.Thread(target=self._loop, daemon=True)
        self.reader.start()

    def _loop(self):
        while True:
            try:
                d = self.sock.recv(65536)
            except OSError:
                d = b""
            with self.cond:
                if not d:
                    self.eof = True
                    self.cond.notify_all()
                    return
                self.buf += d
                try:
                    self.log.write(d)
                except (OSError, ValueError):
                    pass
                self.cond.notify_all()

    def expect(self, rx, timeout, start, what):
        rx = re.compile(rx, re.S)
        end = now() + timeout
        with self.cond:
            while True:
                m = rx.search(self.buf, start)
                if m:
                    return m
                left = end - now()
                if self.eof or left <= 0:
                    break
                self.cond.wait(min(left, 0.5))
        raise Failure("%s waiting for %s on the console; tail: %r" % (
            "console closed" if self.eof else "timeout after %gs" % timeout, what,
            bytes(self.buf[-200:])))

    def send(self, text):
        with self.cond:
            mark = len(self.buf)
        try:
            self.sock.sendall(text.encode())
        except OSError as e:
            raise Failure("console: %s" % e)
        return mark

    def prompt(self, timeout=60):
        """A fresh shell prompt (pokes the line until one comes)."""
        end = now() + timeout
        while True:
            mark = self.send("\n")
            try:
                return self.expect(rb"\n[^\n]*" + PROMPT_RE, min(2, max(0.1, end - now())),
                                   mark, "a shell prompt")
            except Failure:
                if now() > end or self.eof:
                    raise

    def run(self, cmd, timeout=60):
        """CMD's output; its status must be 0. The markers are computed by
        the guest's shell, so the echoed command line never matches."""
        n = random.randrange(10 ** 6, 10 ** 7)
        mark = self.send('echo "@<"$((%d+0));%s;echo "@>"$((%d+0))":$?"\n' % (n, cmd, n))
        m = self.expect(rb"@<%d\r?\n(.*?)@>%d:(\d+)" % (n, n), timeout, mark, repr(cmd[:60]))
        out = m.group(1).decode(errors="replace").replace("\r", "")
        if m.group(2) != b"0":
            raise Failure("guest command %r failed (%s): %s" % (cmd[:80], m.group(2).decode(),
                                                                out.strip()[-300:]))
        return out

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
        self.reader.join(2)
        self.log.close()


# ---- control sockets: the VMM's (JSON lines) and QEMU's QMP ---------------------

class Ctl:
    """A Xeno VMM's control socket: one request per line, one reply."""

    def __init__(self, path, timeout=30, poll=0.01):
        self.s = connect_unix(path, timeout, poll)
        self.s.settimeout(120)
        self.buf = b""
        self.next_id = 1

    def call(self, cmd, pass_fd=None, **args):
        """pass_fd: a descriptor sent with the request (SCM_RIGHTS), as
        xend hands a sandboxed VMM its save file: the VMM opens nothing
        after its lockdown."""
        req = dict(args, id=self.next_id, cmd=cmd)
        self.next_id += 1
        data = (json.dumps(req) + "\n").encode()
        if pass_fd is None:
            self.s.sendall(data)
        else:
            n = socket.send_fds(self.s, [data], [pass_fd])
            self.s.sendall(data[n:])
        while True:
            while b"\n" not in self.buf:
                d = self.s.recv(65536)
                if not d:
                    raise Failure("control socket closed before the reply to %s" % cmd)
                self.buf += d
            line, self.buf = self.buf.split(b"\n", 1)
            msg = json.loads(line)
            if msg.get("id") == req["id"]:
                if not msg.get("ok"):
                    raise Failure("%s: %s" % (cmd, msg.get("error")))
                return msg.get("result", {})

    def close(self):
        self.s.close()


class QMP:
    def __init__(self, path, timeout=30, poll=0.005):
        self.s = connect_unix(path, timeout, poll)
        self.s.settimeout(60)
        self.f = self.s.makefile("rb")
        self.events = []
        json.loads(self.f.readline())              # the greeting
        self.cmd("qmp_capabilities")

    def _read(self):
        line = self.f.readline()
        if not line:
            raise Failure("QMP connection closed")
        m = json.loads(line)
        if "event" in m:
            m["t"] = now()
            self.events.append(m)
        return m

    def cmd(self, name, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.s.sendall((json.dumps(msg) + "\n").encode())
        while True:
            m = self._read()
            if "event" in m:
                continue
            if "error" in m:
                raise Failure("QMP %s: %s" % (name, m["error"].get("desc")))
            return m.get("return")

    def wait_event(self, pred, timeout):
        """The first event (seen or to come) for which pred is true."""
        end = now() + timeout
        i = 0
        while True:
            while i < len(self.events):
                if pred(self.events[i]):
                    return self.events[i]
                i += 1
            left = end - now()
            if left <= 0:
                raise Failure("QMP: timeout waiting for an event")
            self.s.settimeout(left)
            try:
                self._read()
            except socket.timeout:
                pass
            finally:
                self.s.settimeout(60)

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


# ---- the client: a sequence number every 10 ms, from a third namespace -----------

CLIENT_PY = r"""
import socket, sys, time
s = None
for _ in range(300):
    try:
        s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1)
        break
    except OSError:
        time.sleep(0.1)
if s is None:
    print("E cannot connect", flush=True)
    sys.exit(0)
s.settimeout(None)
buf = b""
while True:
    try:
        d = s.recv(65536)
    except OSError as e:
        print("E %s" % e, flush=True)
        break
    if not d:
        print("E the guest closed the connection", flush=True)
        break
    t = time.monotonic()
    # Acknowledge at once: a delayed ACK would hold the guest's next
    # small segment back (Nagle) and look like a gap.
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
    buf += d
    *lines, buf = buf.split(b"\n")
    sys.stdout.write("".join("%.6f %s\n" % (t, l.decode(errors="replace")) for l in lines))
    sys.stdout.flush()
"""


class Client:
    """Arrival times of the guest's numbers (CLOCK_MONOTONIC, shared with
    us), read over TCP from the client namespace."""

    def __init__(self):
        self.t, self.n = [], []
        self.error = None
        self.big_at = None      # where gap() found its largest interval
        self.lock = threading.Lock()
        self.p = subprocess.Popen(
            ["ip", "netns", "exec", NS["client"], sys.executable, "-u", "-c", CLIENT_PY,
             GUEST_IP, str(SEQ_PORT), WORK + "/"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, start_new_session=True)
        PROCS.append(self.p)
        self.reader = threading.Thread(target=self._loop, daemon=True)
        self.reader.start()

    def _loop(self):
        for line in self.p.stdout:
            line = line.decode(errors="replace").strip()
            if line.startswith("E "):
                self.error = line[2:]
                continue
            try:
                t, n = line.split()
                t, n = float(t), int(n)
            except ValueError:
                continue
            with self.lock:
                self.t.append(t)
                self.n.append(n)

    def count(self):
        with self.lock:
            return len(self.t)

    def wait_numbers(self, k, timeout):
        """At least k more numbers within timeout seconds."""
        c0, end = self.count(), now() + timeout
        while now() < end:
            if self.count() >= c0 + k:
                return True
            if self.error:
                return False
            time.sleep(0.02)
        return False

    def gap(self, t0, t1):
        """The largest interval between consecutive arrivals, for arrivals
        in [t0, t1] (the interval may start before t0); the numbers missing
        or repeated there."""
        with self.lock:
            ts, ns = list(self.t), list(self.n)
        big, missing, repeated = 0.0, 0, 0
        self.big_at = None
        for i in range(1, len(ts)):
            if t0 <= ts[i] <= t1:
                if ts[i] - ts[i - 1] > big:
                    big, self.big_at = ts[i] - ts[i - 1], ts[i - 1]
                d = ns[i] - ns[i - 1]
                if d <= 0:
                    repeated += 1
                elif d > 1:
                    missing += d - 1
        return big * 1000.0, missing, repeated

    def stop(self):
        kill_proc(self.p)
        self.reader.join(2)


# ---- the guest's workloads (the same commands on both sides) -----------------------

GUEST_NET = ("killall udhcpc 2>/dev/null; ip addr flush dev eth0; ip addr add %s/24 dev eth0; "
             "ip link set eth0 up; printf 'i=0\\nwhile echo $i; do i=$((i+1)); usleep 10000; done\\n'"
             " >/tmp/seq.sh; setsid nice -n -20 tcpsvd 0 %d sh /tmp/seq.sh </dev/null >/dev/null 2>&1 &"
             " echo started" % (GUEST_IP, SEQ_PORT))
WRITER_FILES = ("mkdir -p /w && mount -t tmpfs -o size=160m tmpfs /w && "
                "dd if=/dev/urandom of=/w/src bs=1M count=64 2>/dev/null && "
                "dd if=/w/src of=/w/dst bs=1M 2>/dev/null")
WRITER_PASS = "dd if=/w/src of=/w/dst bs=1M conv=notrunc 2>/dev/null"
WRITER_LOOP = ("setsid nice -n 19 sh -c 'while :; do %s; done' </dev/null >/dev/null 2>&1 & "
               "echo started"
               % WRITER_PASS)


def start_writer(con):
    """64 MiB of random data rewritten over the same 64 MiB of tmpfs in a
    loop; returns the guest's rewrite rate (MiB/s, one timed pass)."""
    con.run(WRITER_FILES, timeout=600)
    t0 = now()
    con.run(WRITER_PASS, timeout=120)
    rate = 64 / (now() - t0)
    con.run(WRITER_LOOP)
    return rate


# ---- Xeno: xends in the host namespaces, xm ------------------------------------------

class Xend:
    def __init__(self, host, tls):
        self.host, self.tls = host, tls
        d = os.path.join(WORK, host)
        self.state = os.path.join(d, "state")
        self.sock = os.path.join(d, "xend.sock")
        cfg = os.path.join(d, "xend.sxp")
        lines = ["(xend-relocation-server yes)", "(xend-relocation-port 8002)",
                 "(xend-relocation-hosts-allow '^10\\\\.77\\\\.0\\\\.[0-9]+$')",
                 "(xend-relocation-tls %s)" % tls]
        if tls == "psk":
            lines.append("(xend-relocation-psk-file %s)" % os.path.join(WORK, "psk"))
        with open(cfg, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.p = spawn(["ip", "netns", "exec", NS[host], XEND, "--foreground", "--state-dir",
                        self.state, "--socket", self.sock, "--vmm", VMM, "--config", cfg,
                        "--log-level", XEND_LOG_LEVEL], "xend-%s.log" % host, stamp=True)
        end = now() + 15
        while self.xm("list", check=False).returncode != 0:
            if now() > end or self.p.poll() is not None:
                raise Failure("xend of host %s did not start (log/xend-%s.log)" % (host, host))
            time.sleep(0.1)

    def xm(self, *args, check=True, timeout=MIG_TIMEOUT + 60):
        return run([XM] + list(args), check=check, timeout=timeout,
                   env=dict(os.environ, XENO_URI="unix://" + self.sock))

    def console_path(self, name):
        dom = self.xm("domid", name).stdout.strip()
        return os.path.join(self.state, "run", "%s.sock.console" % dom)

    def destroy(self, name):
        self.xm("destroy", name, check=False)

    def events(self):
        if not hasattr(self, "_events"):
            self._events = XendEvents(self.sock)
        return self._events


class XendEvents:
    """xend's event stream (GET /v1/events): the progress of migrations,
    stamped with the time we read them."""

    def __init__(self, sock):
        self.s = connect_unix(sock, 10)
        self.s.sendall(b"GET /v1/events HTTP/1.0\r\nHost: xend\r\n\r\n")
        self.events = []
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._loop, daemon=True)
        self.reader.start()

    def _loop(self):
        buf, body = b"", False
        while True:
            try:
                d = self.s.recv(65536)
            except OSError:
                return
            if not d:
                return
            t = now()
            buf += d
            if not body:
                if b"\r\n\r\n" not in buf:
                    continue
                buf = buf.split(b"\r\n\r\n", 1)[1]
                body = True
            *lines, buf = buf.split(b"\n")
            for line in lines:
                try:
                    e = json.loads(line)
                except ValueError:
                    continue
                if e.get("event") == "progress" and e.get("op") == "migrate":
                    with self.lock:
                        self.events.append((t, e))

    def since(self, t0):
        with self.lock:
            return [(t, e) for t, e in self.events if t >= t0]


def write_domain_cfg(path, name, vif):
    with open(path, "w") as f:
        f.write('name = "%s"\nmemory = %d\nvcpus = 1\nkernel = "%s"\nramdisk = "%s"\n'
                % (name, MEMORY, KERNEL, INITRD))
        if vif:
            f.write("vif = [ 'type=bridge,bridge=xenbr0,mac=%s' ]\n" % MAC)


class XenoGuest:
    """The default guest under a pair of xends (one TLS variant)."""
    NAME = "bm"

    def __init__(self, xends, run_no):
        self.xends = xends             # (source, destination) of the first migration
        self.at = 0
        self.run_no = run_no
        self.side = "xeno-" + xends[0].tls
        self.con = None
        cfg = os.path.join(WORK, "bm.cfg")
        write_domain_cfg(cfg, self.NAME, True)
        xends[0].xm("create", cfg)
        self._console()

    def _console(self):
        if self.con:
            self.con.close()
        x = self.xends[self.at]
        self.con = SockConsole(x.console_path(self.NAME),
                               "%s-%d-%s.console" % (self.side, self.run_no, x.host))
        self.con.prompt()

    def migrate(self):
        src, dst = self.xends[self.at], self.xends[1 - self.at]
        ev = src.events()
        t0 = now()
        p = src.xm("migrate", "--live", "--downtime", "50", self.NAME, ADDR[dst.host], check=False)
        t1 = now()
        time.sleep(0.05)                    # the last events, if still on their way
        if p.returncode != 0:
            raise Failure("xm migrate: %s" % (p.stderr.strip() or p.stdout.strip()))
        self.at = 1 - self.at
        out = p.stdout
        r = {"t0": t0, "t1": t1, "total_ms": (t1 - t0) * 1000}
        m = re.search(r"([\d.]+) MiB sent", out)
        if m:
            r["sent_mib"] = float(m.group(1))
        m = re.search(r"downtime (\d+) ms", out)
        if m:
            r["vmm_downtime_ms"] = int(m.group(1))
        rounds = [int(x) for x in re.findall(r"round (\d+)", out)]
        if rounds:
            r["rounds"] = max(rounds)
        r["xm_output"] = out.strip().splitlines()[-1]
        # Where the time goes: xm -> the VMM's migration starts (relocation
        # connection, TLS, the destination's VMM); the VMM's stream until it
        # reports completed (the destination runs the guest by then); the
        # rest (the source VMM's exit, xend's bookkeeping, xm).
        evs = ev.since(t0)
        act = [t for t, e in evs if e.get("state") == "active"]
        done = [t for t, e in evs if e.get("state") == "completed" and "bytes" in e]
        sent = [e["bytes"] for t, e in evs if e.get("bytes")]
        if act and done:
            r["setup_ms"] = (act[0] - t0) * 1000
            r["stream_ms"] = (done[0] - act[0]) * 1000
            r["after_ms"] = (t1 - done[0]) * 1000
        if sent:
            r["sent_mib"] = sent[-1] / 1048576.0
        rounds = [e["round"] for t, e in evs if "round" in e]
        if rounds:
            r["rounds"] = max(rounds)
        return r

    def console(self):
        if self.con is None or self.con.eof or getattr(self, "_con_at", None) != self.at:
            self._console()
            self._con_at = self.at
        return self.con

    def stop(self):
        if self.con:
            self.con.close()
        self.xends[self.at].destroy(self.NAME)


# ---- QEMU ----------------------------------------------------------------------------

def qemu_argv(name, net_tap, extra=()):
    sock = os.path.join(WORK, name)
    argv = [QEMU, "-M", "virt", "-bios", "default"] + (["-cpu", QEMU_CPU] if QEMU_CPU else []) + [
            "-kernel", KERNEL, "-initrd", INITRD,
            "-append", "console=ttyS0", "-m", str(MEMORY), "-smp", "1", "-display", "none",
            "-monitor", "none", "-serial", "unix:%s.serial,server=on,wait=off" % sock,
            "-qmp", "unix:%s.qmp,server=on,wait=off" % sock]
    if net_tap:
        argv += ["-netdev", "tap,id=n0,ifname=qtap0,script=no,downscript=no",
                 "-device", "virtio-net-device,netdev=n0,mac=%s" % MAC]
    else:
        argv += ["-nic", "none"]
    return argv + list(extra), sock


class QemuVM:
    seq = 0

    def __init__(self, ns, net_tap, extra=(), label="qemu"):
        QemuVM.seq += 1
        name = "q%d" % QemuVM.seq
        argv, sock = qemu_argv(name, net_tap, extra)
        if ns:
            argv = ["ip", "netns", "exec", ns] + argv
        self.t_exec = now()
        self.p = spawn(argv, "%s-%s.log" % (label, name))
        self.qmp = QMP(sock + ".qmp")
        self.serial = sock + ".serial"
        self.label = "%s-%s" % (label, name)
        self.con = None

    def console(self):
        if self.con is None:
            self.con = SockConsole(self.serial, self.label + ".console")
        return self.con

    def boot(self):
        """The first prompt; then the guest agent goes. Without the agent's
        virtio console (a Xeno device) it takes the highest hvc there is,
        the SBI console on QEMU, which reads the same UART as the shell:
        it would eat console input (and costs a polling timer)."""
        con = self.console()
        con.prompt(120)
        for _ in range(20):
            try:
                con.run("for p in /proc/[0-9]*; do grep -q xeno-agent $p/cmdline 2>/dev/null && "
                        "kill ${p#/proc/}; done; sleep 0.2; ! grep -qs xeno-agent /proc/[0-9]*/cmdline",
                        timeout=3)
                return
            except Failure:
                con.send("\x03\n")
        raise Failure("cannot stop the guest agent in the QEMU guest")

    def quit(self):
        if self.con:
            self.con.close()
        try:
            self.qmp.cmd("quit")
        except (Failure, OSError):
            pass
        self.qmp.close()
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            kill_proc(self.p)


def qemu_set_params(qmp):
    qmp.cmd("migrate-set-parameters", **{"downtime-limit": QEMU_DOWNTIME_MS,
                                         "max-bandwidth": QEMU_MAX_BW})
    qmp.cmd("migrate-set-capabilities", capabilities=[{"capability": "events", "state": True}])


def qemu_wait_migration(vm, timeout):
    ev = vm.qmp.wait_event(lambda e: e["event"] == "MIGRATION" and e["data"]["status"] in
                           ("completed", "failed", "cancelled"), timeout)
    return ev


class QemuGuest:
    """The default guest in QEMU; migrations start a new -incoming QEMU in
    the other host namespace and end the old one."""

    def __init__(self, run_no):
        self.hosts = ("a", "b")
        self.at = 0
        self.run_no = run_no
        self.side = "qemu"
        self.vm = QemuVM(NS["a"], True)
        self.vm.boot()

    def console(self):
        return self.vm.console()

    def migrate(self):
        dst_host = self.hosts[1 - self.at]
        uri = "tcp:%s:%d" % (ADDR[dst_host], QEMU_MIG_PORT)
        t_spawn = now()
        dst = QemuVM(NS[dst_host], True, ["-incoming", uri])
        t_ready = now()                     # its QMP answers: it listens on uri
        dst.console()                       # catch its serial output from the start
        src = self.vm
        qemu_set_params(src.qmp)
        t0 = now()
        src.qmp.cmd("migrate", uri=uri)
        try:
            ev = qemu_wait_migration(src, MIG_TIMEOUT)
        except Failure:
            src.qmp.cmd("migrate_cancel")
            dst.quit()
            raise Failure("QEMU's migration did not complete within %d s" % MIG_TIMEOUT)
        if ev["data"]["status"] != "completed":
            dst.quit()
            raise Failure("QEMU's migration: %s" % ev["data"]["status"])
        t_src = ev["t"]
        resume = dst.qmp.wait_event(lambda e: e["event"] == "RESUME", 30)
        t1 = resume["t"]
        info = src.qmp.cmd("query-migrate")
        src.quit()
        self.vm = dst
        self.at = 1 - self.at
        ram = info.get("ram", {})
        return {"t0": t0, "t1": t1, "total_ms": (t1 - t0) * 1000,
                "stream_ms": (t_src - t0) * 1000, "after_ms": (t1 - t_src) * 1000,
                "dest_start_ms": (t_ready - t_spawn) * 1000,
                "sent_mib": ram.get("transferred", 0) / 1048576.0,
                "vmm_downtime_ms": info.get("downtime"), "qemu_total_ms": info.get("total-time"),
                "rounds": ram.get("dirty-sync-count")}

    def stop(self):
        self.vm.quit()


# ---- migration runs -------------------------------------------------------------------

def measure_migration(guest, client, what):
    """One migration of guest with client watching: the sample."""
    t_base = now()
    time.sleep(2)                       # baseline: the gaps without a migration
    base_ms, _, _ = client.gap(t_base, now())
    r = guest.migrate()
    # The first numbers through the new path come after the switch-over:
    # wait for the flow to resume, then look at the whole window.
    if not client.wait_numbers(50, 15):
        if client.error:
            raise Failure("%s: the client's connection ended: %s" % (what, client.error))
        r["stalled"] = stall_reason(guest)
        r["baseline_gap_ms"] = base_ms
        return r
    gap_ms, missing, repeated = client.gap(r["t0"], now())
    r.update(gap_ms=gap_ms, downtime_ms=max(0.0, gap_ms - PERIOD_MS), baseline_gap_ms=base_ms,
             missing=missing, repeated=repeated)
    # Where the gap lay: its start, from the migration's start, and the
    # migration's end (was it the switch-over, or the guest slowed down?).
    if client.big_at is not None:
        r["gap_from_ms"] = (client.big_at - r["t0"]) * 1000
        r["gap_end_ms"] = r["gap_from_ms"] + gap_ms

    if client.error:
        raise Failure("%s: the client's connection ended: %s" % (what, client.error))
    return r


def stall_reason(guest):
    """Why the guest's numbers stopped after a migration (it answers on
    its console, but does its timer tick?)."""
    try:
        con = guest.console()
        rx = r"(\d+)\s+\S+ INTC\s+\d+\s+\S+\s+riscv-timer"
        a = re.search(rx, con.run("cat /proc/interrupts", timeout=10))
        time.sleep(0.5)
        b = re.search(rx, con.run("cat /proc/interrupts", timeout=10))
        if a and b and a.group(1) == b.group(1):
            return "the guest's timer interrupts stopped at the switch-over"
        return "the guest runs (its timer ticks) but sends nothing"
    except (Failure, OSError) as e:
        return "the guest does not answer on its console (%s)" % e


def migrate_run(side, run_no, xend_pairs):
    """Boot, idle migration, writer migration, destroy. A dict of samples."""
    res = {"side": side, "run": run_no}
    guest = client = None

    def boot():
        g = QemuGuest(run_no) if side == "qemu" else XenoGuest(xend_pairs[side], run_no)
        g.console().run(GUEST_NET)
        c = Client()
        if not c.wait_numbers(20, 30):
            c.stop()
            g.stop()
            raise Failure("the client gets no numbers from the guest (%s)" % c.error)
        return g, c

    try:
        guest, client = boot()
        time.sleep(SETTLE)
        res["idle"] = measure_migration(guest, client, "idle")
        if res["idle"].get("stalled"):
            # The guest is lost for measuring: a new one for the writer.
            client.stop()
            guest.stop()
            guest = client = None
            guest, client = boot()
        res["writer_rate"] = start_writer(guest.console())
        time.sleep(2)
        res["writer"] = measure_migration(guest, client, "writer")
        # The writer's loop went on at the destination.
        if not res["writer"].get("stalled"):
            guest.console().run("ps | grep -q '[c]onv=notrunc'")
    except (Failure, OSError, subprocess.TimeoutExpired) as e:
        res["error"] = str(e)
    finally:
        if client:
            client.stop()
        if guest:
            try:
                guest.stop()
            except (Failure, OSError, subprocess.TimeoutExpired):
                pass
    return res


def fmt(v, f="%.1f"):
    if isinstance(v, str):      # an error message
        return repr(v)
    return "n/a" if v is None else "stalled" if v == float("inf") else f % v


def describe(r):
    if "error" in r and "idle" not in r:
        return "ERROR: " + r["error"]
    out = []
    for k in ("idle", "writer"):
        s = r.get(k)
        if not s:
            continue
        if s.get("stalled"):
            out.append("%s: STALLED after the switch-over (%s); total %s ms, %s MiB, vmm %s ms"
                       % (k, s["stalled"], fmt(s["total_ms"], "%.0f"), fmt(s.get("sent_mib")),
                          s.get("vmm_downtime_ms")))
            continue
        out.append("%s: downtime %s ms (gap %s from +%s to +%s ms, base %s), total %s ms, %s MiB, "
                   "%s rounds, vmm %s ms"
                   % (k, fmt(s["downtime_ms"]), fmt(s["gap_ms"]), fmt(s.get("gap_from_ms"), "%.0f"),
                      fmt(s.get("gap_end_ms"), "%.0f"), fmt(s["baseline_gap_ms"]),
                      fmt(s["total_ms"], "%.0f"), fmt(s.get("sent_mib")), s.get("rounds"),
                      s.get("vmm_downtime_ms")))
    if "writer_rate" in r:
        out.append("rewrite %.0f MiB/s" % r["writer_rate"])
    if "error" in r:
        out.append("ERROR: " + r["error"])
    return "; ".join(out)


def part_migrate(results):
    hosts = ["a", "b", "c", "d"][:max(2, 2 * len(VARIANTS))]
    net_setup(hosts)
    with open(os.path.join(WORK, "psk"), "w") as f:
        f.write(os.urandom(32).hex() + "\n")
    os.chmod(os.path.join(WORK, "psk"), 0o600)
    pairs = {}
    for i, tls in enumerate(VARIANTS):
        h0, h1 = hosts[2 * i], hosts[2 * i + 1]
        pairs["xeno-" + tls] = (Xend(h0, tls), Xend(h1, tls))
    for i in range(RUNS):
        for side in SIDES:
            r = migrate_run(side, i + 1, pairs)
            results.append(r)
            log("migrate run %d %-9s %s" % (i + 1, side, describe(r)))
    return pairs


# ---- save and restore -------------------------------------------------------------------

def file_sizes(path):
    st = os.stat(path)
    return st.st_size / 1048576.0, st.st_blocks * 512 / 1048576.0


def xeno_vmm_boot(name):
    ctl = os.path.join(WORK, name + ".ctl")
    p = spawn([VMM, "--kernel", KERNEL, "--initrd", INITRD, "--memory", str(MEMORY), "--vcpus",
               "1", "--control", ctl, "--no-console", "--name", name], name + ".log")
    con = SockConsole(ctl + ".console", name + ".console")
    con.prompt()
    return p, ctl, con


def xeno_vmm_restore(path, name):
    """exec -> the control socket answers query with state running."""
    ctl = os.path.join(WORK, name + ".ctl")
    t0 = now()
    p = spawn([VMM, "--restore", path, "--no-console", "--control", ctl], name + ".log")
    c = Ctl(ctl, 30, 0.0002)
    st = c.call("query")
    while st.get("state") != "running":
        st = c.call("query")
    t = now() - t0
    con = SockConsole(ctl + ".console", name + ".console")
    if con.run("echo restored-$((6*7))").strip() != "restored-42":
        raise Failure("the restored guest does not answer")
    con.close()
    c.call("destroy")
    c.close()
    p.wait(30)
    return t * 1000


def save_run_xeno(run_no, xend):
    r = {"side": "xeno", "run": run_no}
    try:
        # The VMM alone: save through the control socket, --restore.
        for z in (False, True):
            sfx = "-z" if z else ""
            p, ctl, con = xeno_vmm_boot("sv%d%s" % (run_no, sfx))
            time.sleep(SETTLE)
            con.close()
            path = os.path.join(SAVE_DIR, "vmm%d%s.save" % (run_no, sfx))
            c = Ctl(ctl)
            t0 = now()
            save_by_fd(c, path, z)
            r["vmm_save%s_ms" % sfx] = (now() - t0) * 1000
            c.close()
            if p.wait(30) != 5:
                raise Failure("the VMM did not exit 5 after its save")
            r["file%s_mib" % sfx], r["file%s_alloc_mib" % sfx] = file_sizes(path)
            r["vmm_restore%s_ms" % sfx] = xeno_vmm_restore(path, "rs%d%s" % (run_no, sfx))
            if run_no == 1 and not z:
                shutil.copyfile(path, os.path.join(WORK, "idle.save"))
            os.unlink(path)
        # Through xend: xm save, xm restore.
        cfg = os.path.join(WORK, "sv.cfg")
        write_domain_cfg(cfg, "sv", False)
        for z in (False, True):
            sfx = "-z" if z else ""
            xend.xm("create", cfg)
            con = SockConsole(xend.console_path("sv"), "xm-sv%d%s.console" % (run_no, sfx))
            con.prompt()
            time.sleep(SETTLE)
            con.close()
            path = os.path.join(SAVE_DIR, "xm%d%s.save" % (run_no, sfx))
            t0 = now()
            xend.xm("save", *(["-z"] if z else []), "sv", path)
            r["xm_save%s_ms" % sfx] = (now() - t0) * 1000
            t0 = now()
            xend.xm("restore", path)
            r["xm_restore%s_ms" % sfx] = (now() - t0) * 1000
            con = SockConsole(xend.console_path("sv"), "xm-rs%d%s.console" % (run_no, sfx))
            if con.run("echo restored-$((6*7))").strip() != "restored-42":
                raise Failure("the guest restored by xm does not answer")
            con.close()
            xend.destroy("sv")
            os.unlink(path)
    except (Failure, OSError, subprocess.TimeoutExpired) as e:
        r["error"] = str(e)
        xend.destroy("sv")
    return r


def qemu_child_gone(qemu_pid, timeout):
    """The exec'd migration helper (sh -c ...) of QEMU has exited."""
    end = now() + timeout
    while now() < end:
        kids = []
        try:
            for t in os.listdir("/proc/%d/task" % qemu_pid):
                with open("/proc/%d/task/%s/children" % (qemu_pid, t)) as f:
                    kids += f.read().split()
        except OSError:
            return True
        if not kids:
            return True
        time.sleep(0.001)
    return False


def save_run_qemu(run_no):
    r = {"side": "qemu", "run": run_no}
    zstd = shutil.which("zstd")
    variants = [("", "cat > %s", "cat %s")]
    if zstd:
        variants.append(("-z", "zstd -q -%d > %%s" % ZSTD_LEVEL_NOW, "zstd -dcq %s"))
    vm = None
    try:
        for sfx, save_cmd, load_cmd in variants:
            vm = QemuVM(None, False, label="qemu-save")
            vm.boot()
            time.sleep(SETTLE)
            path = os.path.join(SAVE_DIR, "qemu%d%s.save" % (run_no, sfx))
            qemu_set_params(vm.qmp)
            # A live migration into the file (the guest is idle: one pass
            # and the stop-and-copy); the state saved is "running", so the
            # restored QEMU starts the guest on its own.
            t0 = now()
            vm.qmp.cmd("migrate", uri="exec:" + save_cmd % path)
            ev = qemu_wait_migration(vm, MIG_TIMEOUT)
            if ev["data"]["status"] != "completed":
                raise Failure("QEMU save: %s" % ev["data"]["status"])
            r["save%s_ms" % sfx] = (ev["t"] - t0) * 1000
            qemu_child_gone(vm.p.pid, 10)
            r["save%s_file_ms" % sfx] = (now() - t0) * 1000
            vm.quit()
            vm = None
            r["file%s_mib" % sfx], r["file%s_alloc_mib" % sfx] = file_sizes(path)
            # Restore: exec -> query-status running.
            t0 = now()
            vm = QemuVM(None, False, ["-incoming", "exec:" + load_cmd % path], label="qemu-restore")
            st, end = vm.qmp.cmd("query-status"), now() + 60
            while st["status"] != "running":
                if now() > end:
                    raise Failure("the restored QEMU is %s after 60 s" % st["status"])
                time.sleep(0.0005)
                st = vm.qmp.cmd("query-status")
            r["restore%s_ms" % sfx] = (now() - t0) * 1000
            if vm.console().run("echo restored-$((6*7))").strip() != "restored-42":
                raise Failure("the restored QEMU guest does not answer")
            vm.quit()
            vm = None
            os.unlink(path)
    except (Failure, OSError, subprocess.TimeoutExpired) as e:
        r["error"] = str(e)
    finally:
        if vm:
            vm.quit()
    return r


def part_save(results, xend):
    for i in range(RUNS):
        for side in ("xeno", "qemu"):
            r = save_run_xeno(i + 1, xend) if side == "xeno" else save_run_qemu(i + 1)
            results.append(r)
            log("save run %d %-4s %s" % (i + 1, side, "  ".join(
                "%s %s" % (k, fmt(v)) for k, v in r.items() if k not in ("side", "run"))))


# ---- zstd levels --------------------------------------------------------------------------

def save_level():
    """The zstd level src/vmm/save.c gives compressed save files."""
    try:
        with open(os.path.join(ROOT, "src", "vmm", "save.c")) as f:
            return int(re.search(r"stream_writer_new\(fd, true, compress \? (-?\d+)", f.read()).group(1))
    except (OSError, AttributeError, ValueError):
        return 3


ZSTD_LEVEL_NOW = save_level()


def zstd_lib():
    z = ctypes.CDLL("libzstd.so.1")
    z.ZSTD_createCCtx.restype = ctypes.c_void_p
    z.ZSTD_freeCCtx.argtypes = [ctypes.c_void_p]
    z.ZSTD_compressBound.restype = ctypes.c_size_t
    z.ZSTD_compressBound.argtypes = [ctypes.c_size_t]
    z.ZSTD_compressCCtx.restype = ctypes.c_size_t
    z.ZSTD_compressCCtx.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                                    ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    z.ZSTD_decompress.restype = ctypes.c_size_t
    z.ZSTD_decompress.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p,
                                  ctypes.c_size_t]
    z.ZSTD_isError.restype = ctypes.c_uint
    z.ZSTD_isError.argtypes = [ctypes.c_size_t]
    return z


def save_file_images(path):
    """The memory images of an uncompressed save file (docs/state-format.md):
    a bytearray per region."""
    with open(path, "rb") as f:
        hdr = f.read(104)
        if hdr[:8] != b"XENOSTAT":
            raise Failure("%s is not a Xeno save file" % path)
        imgs = []
        while True:
            head = f.read(24)
            if len(head) < 24:
                raise Failure("%s: truncated" % path)
            tag, _, _, _, length = struct.unpack("<4sIIIQ", head)
            payload = f.read(length)
            f.read(8)
            if tag == b"DONE":
                break
            if tag == b"MIMG":
                _, _, gpa, size, off, _, _ = struct.unpack("<IIQQQQQ", payload)
                imgs.append((off, size))
        out = []
        for off, size in imgs:
            buf = bytearray(size)
            f.seek(off)
            f.readinto(buf)
            out.append(buf)
    return out


def page_runs(buf):
    """(offset, pages) of the non-zero runs stream_write_pages makes:
    zero and non-zero pages alternate, a non-zero run has at most 256."""
    zero = bytes(4096)
    runs, i, n = [], 0, len(buf) // 4096
    mv = memoryview(buf)
    nz = [mv[p * 4096:(p + 1) * 4096] != zero for p in range(n)]
    while i < n:
        if not nz[i]:
            i += 1
            continue
        j = i
        while j < n and nz[j] and j - i < 256:
            j += 1
        runs.append((i * 4096, j - i))
        i = j
    return runs


def zstd_measure(path, label):
    z = zstd_lib()
    imgs = save_file_images(path)
    cctx = z.ZSTD_createCCtx()
    dst = ctypes.create_string_buffer(z.ZSTD_compressBound(256 * 4096))
    out = ctypes.create_string_buffer(256 * 4096)
    work = []
    for buf in imgs:
        cbuf = (ctypes.c_char * len(buf)).from_buffer(buf)
        base = ctypes.addressof(cbuf)
        work.append((base, page_runs(buf), cbuf))
    data_pages = sum(p for _, runs, _ in work for _, p in runs)
    rows = []
    for level in LEVELS:
        times, kept = [], None
        for rep in range(3):
            t0 = time.perf_counter()
            size, comp = 0, []
            for base, runs, _ in work:
                for off, pages in runs:
                    raw = pages * 4096
                    k = z.ZSTD_compressCCtx(cctx, dst, len(dst), base + off, raw, level)
                    if z.ZSTD_isError(k):
                        raise Failure("zstd level %d failed" % level)
                    if k < raw - raw // 10:
                        size += k
                        comp.append(dst.raw[:k] if rep == 0 else None)
                    else:
                        size += raw
            times.append(time.perf_counter() - t0)
            if rep == 0:
                kept = [c for c in comp if c is not None]
            if times[0] > 5:            # slow levels: once is enough
                break
        dtimes = []
        for rep in range(3):
            t0 = time.perf_counter()
            for c in kept:
                k = z.ZSTD_decompress(out, len(out), c, len(c))
                if z.ZSTD_isError(k):
                    raise Failure("zstd level %d: decompression failed" % level)
            dtimes.append(time.perf_counter() - t0)
        rows.append({"guest": label, "level": level, "data_mib": data_pages * 4096 / 1048576.0,
                     "out_mib": size / 1048576.0, "compress_s": statistics.median(times),
                     "decompress_s": statistics.median(dtimes), "records_zstd": len(kept)})
        log("zstd %-6s level %3d: %.1f MiB of pages -> %.1f MiB (%.1f%%), compress %.3f s "
            "(%.0f MiB/s), decompress %.3f s" % (
                label, level, rows[-1]["data_mib"], rows[-1]["out_mib"],
                100.0 * rows[-1]["out_mib"] / max(rows[-1]["data_mib"], 1e-9),
                rows[-1]["compress_s"], rows[-1]["data_mib"] / max(rows[-1]["compress_s"], 1e-9),
                rows[-1]["decompress_s"]))
    z.ZSTD_freeCCtx(cctx)
    return rows


def save_by_fd(c, path, compress=False):
    """Save the VMM behind control connection c to path: the file is
    opened here and passed (a sandboxed VMM opens nothing itself)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        c.call("save", pass_fd=fd, fd=True, compress=compress)
    finally:
        os.close(fd)


def writer_save_file():
    """A save file of the default guest rewriting 64 MiB (the VMM alone)."""
    p, ctl, con = xeno_vmm_boot("zw")
    start_writer(con)
    time.sleep(2)
    con.close()
    path = os.path.join(WORK, "writer.save")
    c = Ctl(ctl)
    save_by_fd(c, path)
    c.close()
    p.wait(30)
    return path


def part_zstd(results):
    idle = os.path.join(WORK, "idle.save")
    if not os.path.exists(idle):
        p, ctl, con = xeno_vmm_boot("zi")
        time.sleep(SETTLE)
        con.close()
        c = Ctl(ctl)
        save_by_fd(c, idle)
        c.close()
        p.wait(30)
    results += zstd_measure(idle, "idle")
    results += zstd_measure(writer_save_file(), "writer")


# ---- report ------------------------------------------------------------------------------

def med(values):
    v = [x for x in values if x is not None]
    return statistics.median(v) if v else None


def report_migrate(results):
    sides = [s for s in SIDES if s != "qemu"] + ["qemu"]
    xs = sides[:-1]

    def m(side, kind, key):
        # A run whose guest stalled after the switch-over had no end to its
        # downtime: it counts as infinite ("stalled").
        return med([float("inf") if key == "downtime_ms" and r[kind].get("stalled")
                    else r[kind].get(key) for r in results if r["side"] == side and kind in r])

    def stalls(side, kind):
        rs = [r[kind] for r in results if r["side"] == side and kind in r]
        return "%d/%d" % (len([x for x in rs if x.get("stalled")]), len(rs)) if rs else "n/a"

    def mr(side):
        return med([r.get("writer_rate") for r in results if r["side"] == side])

    rows = []
    for kind in ("idle", "writer"):
        rows += [
            ("%s: downtime seen by the client (ms)" % kind, kind, "downtime_ms", "%.1f",
             "<= 50 ms" if kind == "idle" else "<= QEMU",
             (lambda x, q: x <= 50) if kind == "idle" else (lambda x, q: x <= q)),
            ("  largest gap, no migration (ms)", kind, "baseline_gap_ms", "%.1f", "", None),
            ("  downtime the VMM reports (ms)", kind, "vmm_downtime_ms", "%.0f", "", None),
            ("%s: total time (ms)" % kind, kind, "total_ms", "%.0f", "<= QEMU",
             lambda x, q: x <= q),
            ("  xm -> the VMM's migration starts", kind, "setup_ms", "%.0f", "", None),
            ("  VMM stream until completed", kind, "stream_ms", "%.0f", "", None),
            ("  completed -> command returns", kind, "after_ms", "%.0f", "", None),
            ("  QEMU: its destination's start (not in total)", kind, "dest_start_ms", "%.0f", "",
             None),
            ("%s: bytes sent (MiB)" % kind, kind, "sent_mib", "%.1f", "", None),
            ("  rounds (QEMU: dirty-log syncs)", kind, "rounds", "%.0f", "", None),
        ]
    print()
    print("live migration, medians of %d run(s) per side; 256 MiB guest, 1 vCPU, over veth + bridges"
          % RUNS)
    cols = "".join("%12s" % s for s in sides) + "".join("%10s" % (s[5:] + "/q") for s in xs)
    hdr = "%-42s%s  %-10s %s" % ("metric", cols, "target", "met (" + " ".join(v for v in VARIANTS) + ")")
    print(hdr)
    print("-" * len(hdr))
    for label, kind, key, f, target, ok in rows:
        vals = {s: m(s, kind, key) for s in sides}
        q = vals["qemu"]
        q_live = None
        if key == "downtime_ms":
            print("%-42s" % ("%s: runs stalled after the switch-over" % kind) +
                  "".join("%12s" % stalls(s, kind) for s in sides))
            # The target compares with QEMU's migrations that survived: a
            # stalled run (infinite downtime) would make any figure "met".
            q_live = med([r[kind].get(key) for r in results
                          if r["side"] == "qemu" and kind in r and not r[kind].get("stalled")])
            if q != float("inf"):
                q_live = None
        line = "%-42s" % label + "".join("%12s" % fmt(vals[s], f) for s in sides)
        line += "".join("%10s" % (fmt(vals[s] / q, "%.2fx")
                                  if vals[s] is not None and q and q != float("inf") else "n/a")
                        for s in xs)
        met = []
        if ok:
            qt = q_live if q_live is not None else q
            for s in xs:
                x = vals[s]
                if x is None or (qt is None and "QEMU" in target) or (x == qt == float("inf")) or \
                        ("QEMU" in target and qt == float("inf")):
                    met.append("n/a")
                else:
                    met.append("yes" if ok(x, qt) else "NO")
        print(line + "  %-10s %s" % (target, " ".join(met)))
        if q_live is not None:
            print("%-42s" % "  QEMU: median of its runs that did not stall" +
                  "".join("%12s" % (fmt(q_live, f) if s == "qemu" else "") for s in sides) +
                  "".join("%10s" % (fmt(vals[s] / q_live, "%.2fx") if vals[s] is not None else "n/a")
                          for s in xs) + "  (the target's comparison)")
    print("%-42s" % "guest's 64 MiB rewrite rate (MiB/s)" +
          "".join("%12s" % fmt(mr(s), "%.0f") for s in sides))
    for s in sides:
        bad = [r for r in results if r["side"] == s and "error" in r]
        if bad:
            print("%s: %d of %d runs failed:" % (s, len(bad), len([r for r in results if r["side"] == s])))
            for r in bad:
                print("  run %d: %s" % (r["run"], r["error"]))


def report_save(results):
    xs = [r for r in results if r["side"] == "xeno"]
    qs = [r for r in results if r["side"] == "qemu"]

    def m(rs, key):
        return med([r.get(key) for r in rs])

    rows = [
        # label, xeno key, qemu key, format, target, check
        ("save, idle guest (ms): xm save", "xm_save_ms", "save_ms", "%.0f", "<= 1 s",
         lambda x: x <= 1000),
        ("  the VMM alone: control socket save", "vmm_save_ms", "save_ms", "%.0f", "", None),
        ("  QEMU: until its helper exited", None, "save_file_ms", "%.0f", "", None),
        ("restore to a running guest (ms): VMM alone", "vmm_restore_ms", "restore_ms", "%.1f",
         "<= 30 ms", lambda x: x <= 30),
        ("  xm restore", "xm_restore_ms", "restore_ms", "%.0f", "", None),
        ("save file (MiB, apparent)", "file_mib", "file_mib", "%.1f", "", None),
        ("save file (MiB, allocated)", "file_alloc_mib", "file_alloc_mib", "%.1f", "", None),
        ("compressed save (ms): xm save -z", "xm_save-z_ms", "save-z_ms", "%.0f", "", None),
        ("  the VMM alone", "vmm_save-z_ms", "save-z_ms", "%.0f", "", None),
        ("compressed restore (ms): VMM alone", "vmm_restore-z_ms", "restore-z_ms", "%.1f", "", None),
        ("  xm restore", "xm_restore-z_ms", "restore-z_ms", "%.0f", "", None),
        ("compressed file (MiB)", "file-z_mib", "file-z_mib", "%.1f", "", None),
    ]
    print()
    print("save and restore, medians of %d run(s) per side; 256 MiB idle guest; files in %s"
          % (RUNS, SAVE_DIR))
    hdr = "%-46s %10s %10s %8s  %-9s %s" % ("metric", "xeno", "qemu", "x/q", "target", "met")
    print(hdr)
    print("-" * len(hdr))
    for label, xk, qk, f, target, ok in rows:
        x = m(xs, xk) if xk else None
        q = m(qs, qk) if qk else None
        ratio = x / q if x is not None and q else None
        met = ("yes" if ok(x) else "NO") if ok and x is not None else ""
        print("%-46s %10s %10s %8s  %-9s %s" % (label, fmt(x, f), fmt(q, f), fmt(ratio, "%.2fx"),
                                                target, met))
    print("QEMU compressed: %s" % ("migrate to 'exec:zstd -q -%d > FILE', restore from "
                                   "'exec:zstd -dcq FILE'" % ZSTD_LEVEL_NOW
                                   if shutil.which("zstd") else "n/a (no zstd command)"))
    for side, rs in (("xeno", xs), ("qemu", qs)):
        for r in rs:
            if "error" in r:
                print("%s run %d failed: %s" % (side, r["run"], r["error"]))


def report_zstd(rows):
    if not rows:
        return
    print()
    print("zstd levels on real save files (the VMM's framing: runs of <= 256 non-zero pages, "
          "kept when 10%% smaller); compressed saves use level %d (src/vmm/save.c)" % ZSTD_LEVEL_NOW)
    print("data = non-zero pages; out = their records' payload; decompress = the zstd records "
          "alone (raw ones are a copy)")
    hdr = "%-7s %6s %10s %10s %7s %11s %9s %13s %9s" % (
        "guest", "level", "data MiB", "out MiB", "ratio", "compress s", "MiB/s", "decompress s",
        "MiB/s")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        print("%-7s %6d %10.1f %10.1f %6.1f%% %11.3f %9.0f %13.3f %9.0f" % (
            r["guest"], r["level"], r["data_mib"], r["out_mib"],
            100.0 * r["out_mib"] / max(r["data_mib"], 1e-9), r["compress_s"],
            r["data_mib"] / max(r["compress_s"], 1e-9), r["decompress_s"],
            r["data_mib"] / max(r["decompress_s"], 1e-9)))


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    def die(*_):
        raise SystemExit(1)
    signal.signal(signal.SIGTERM, die)
    signal.signal(signal.SIGHUP, die)
    if os.geteuid() != 0:
        sys.exit("bench/migrate: needs root (network namespaces, bridges, TAP devices)")
    for f in (KERNEL, INITRD, VMM, XM, XEND):
        if not os.path.exists(f):
            sys.exit("bench/migrate: missing %s (make build guest)" % f)
    init_paths()
    log("xeno: %s, xm %s, xend %s; qemu: %s; guest %s; %d run(s); parts: %s" % (
        VMM, XM, XEND, shutil.which(QEMU), GUEST, RUNS, " ".join(PARTS)))
    log("load average at start: %s (%d CPUs)" % (loadavg(), os.cpu_count()))
    mig, sav, zst = [], [], []
    try:
        pairs = None
        if "migrate" in PARTS:
            pairs = part_migrate(mig)
        if "save" in PARTS:
            if pairs is None:
                net_setup(["a"])
                xend = Xend("a", "none")
            else:
                xend = list(pairs.values())[0][0]
            part_save(sav, xend)
        if "zstd" in PARTS:
            try:
                part_zstd(zst)
            except (Failure, OSError, subprocess.TimeoutExpired) as e:
                log("zstd: ERROR: %s" % e)
        log("load average at the end: %s" % loadavg())
        if mig:
            report_migrate(mig)
        if sav:
            report_save(sav)
        report_zstd(zst)
        if os.environ.get("BENCH_JSON"):
            with open(os.environ["BENCH_JSON"], "w") as f:
                json.dump({"migrate": mig, "save": sav, "zstd": zst}, f, indent=1)
    finally:
        cleanup()
        if os.environ.get("BENCH_LOG_DIR"):
            print("logs in %s" % LOG_DIR)
        if not os.environ.get("BENCH_WORK"):
            shutil.rmtree(WORK, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
