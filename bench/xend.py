#!/usr/bin/env python3
"""The management plane's figures (issue 3, section 5).

  list     `xm list` latency with BENCH_DEFINED (100) defined, not running,
           domains: median and p95 over BENCH_LIST_RUNS (50) runs
  create   `xm create` start -> the guest's first instruction, seen as the
           first byte on its console: a bare-metal M-mode program
           (config key `firmware`) writes one byte to the UART at
           0x10000000 as its first instructions, then loops on WFI. The
           same config run by `xeno-vmm CONFIG` alone (process start ->
           first byte on its stdout) is the comparison. Also, as a second
           pair, the default Linux guest with earlycon=sbi (first byte =
           the kernel's first message)
  idle     xend's own CPU (utime+stime from /proc/PID/stat, all threads)
           over BENCH_IDLE_SECONDS (10) with 3 running, idle default guests

A benchmark: a missed target is printed as NO, never an exit status.
Environment: XM, XEND, XENO_VMM, XENO_GUEST_DIR, BENCH_RUNS (5 creates per
kind), BENCH_DEFINED, BENCH_LIST_RUNS, BENCH_IDLE_SECONDS, BENCH_JSON.
"""

import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(ROOT, "tests", "integration", "lib"))
import xmcon  # noqa: E402

XM = os.environ["XM"]
XEND = os.environ["XEND"]
VMM = os.environ["XENO_VMM"]
GUEST = os.environ["XENO_GUEST_DIR"]
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
DEFINED = int(os.environ.get("BENCH_DEFINED", "100"))
LIST_RUNS = int(os.environ.get("BENCH_LIST_RUNS", "50"))
IDLE_S = float(os.environ.get("BENCH_IDLE_SECONDS", "10"))
HZ = os.sysconf("SC_CLK_TCK")

# One byte to the UART, then WFI forever: the first guest instructions.
FIRST_S = """
    .section .text.start
    .globl _start
_start:
    li   t0, 0x10000000
    li   t1, 'X'
    sb   t1, 0(t0)
1:  wfi
    j    1b
"""


def build_first(work):
    src, obj, elf = (os.path.join(work, n) for n in ("first.S", "first.o", "first.elf"))
    with open(src, "w") as f:
        f.write(FIRST_S)
    subprocess.run(["riscv64-linux-gnu-as", "-march=rv64gc", "-o", obj, src], check=True)
    # -N: one segment starting exactly at RAM base (no page-aligned headers
    # below it, which would fall outside guest RAM).
    subprocess.run(["riscv64-linux-gnu-ld", "-N", "--no-warn-rwx-segments", "-Ttext=0x80000000",
                    "-e", "_start", "-o", elf, obj], check=True)
    return elf


def cfg_text(name, memory=128, firmware=None, extra="console=ttyS0"):
    t = ('name = "%s"\nmemory = %d\nkernel = "%s/Image"\nramdisk = "%s/initramfs.cpio.gz"\n'
         'extra = "%s"\n' % (name, memory, GUEST, GUEST, extra))
    if firmware:
        t += 'firmware = "%s"\n' % firmware
    return t


def pct(v, p):
    v = sorted(v)
    k = (len(v) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ   # utime + stime


class Xend:
    def __init__(self, work):
        self.state = os.path.join(work, "state")
        self.sock = os.path.join(work, "xend.sock")
        self.env = dict(os.environ, XENO_URI="unix://" + self.sock)
        self.log = open(os.path.join(work, "xend.log"), "w")
        self.proc = subprocess.Popen([XEND, "--foreground", "--state-dir", self.state,
                                      "--socket", self.sock, "--vmm", VMM],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(100):
            if self.xm("list", check=False).returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError("xend did not start")

    def xm(self, *args, check=True):
        r = subprocess.run([XM] + list(args), env=self.env, capture_output=True, text=True,
                           timeout=120)
        if check and r.returncode:
            raise RuntimeError("xm %s: %s" % (" ".join(args), r.stderr.strip()))
        return r

    def running(self):
        out = self.xm("list").stdout.splitlines()[2:]
        return [ln.split()[0] for ln in out if len(ln.split()) == 6]

    def stop(self):
        for name in self.running():
            self.xm("destroy", name, check=False)
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def bench_list(x, work):
    for i in range(DEFINED):
        p = os.path.join(work, "def%d.cfg" % i)
        with open(p, "w") as f:
            f.write(cfg_text("def%d" % i))
        x.xm("new", p)
    n = len(x.xm("list").stdout.splitlines()) - 2
    times = []
    for _ in range(LIST_RUNS):
        t = time.monotonic()
        x.xm("list")
        times.append(time.monotonic() - t)
    for i in range(DEFINED):
        x.xm("delete", "def%d" % i, check=False)
    return n, times


def first_byte_socket(path_fn, t0, proc, timeout=60):
    """Connect to the console socket as soon as it exists; the time of the
    first byte, and whether it was already in the replay ring at connect
    (then the figure is an upper bound)."""
    end = t0 + timeout
    s = None
    while time.monotonic() < end:
        if proc.poll():
            raise RuntimeError("xm create: %s" % proc.stderr.read().decode().strip())
        p = path_fn()
        if p and os.path.exists(p):
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(p)
                break
            except OSError:
                s.close()
                s = None
        time.sleep(0.0005)
    if not s:
        raise RuntimeError("no console socket")
    t_conn = time.monotonic()
    s.settimeout(max(0.1, end - t_conn))
    d = s.recv(1)
    t = time.monotonic()
    s.close()
    if not d:
        raise RuntimeError("console closed")
    return t, (t - t_conn) < 0.002


def create_via_xend(x, work, text, i):
    cfg = os.path.join(work, "c%d.cfg" % i)
    with open(cfg, "w") as f:
        f.write(text)
    run = os.path.join(x.state, "run")

    def path():
        # The new domain's console socket: the one run/ did not have before.
        try:
            names = os.listdir(run)
        except OSError:
            return None
        for n in names:
            if n.endswith(".sock.console") and n not in seen:
                return os.path.join(run, n)
        return None

    seen = set(os.listdir(run)) if os.path.isdir(run) else set()
    t0 = time.monotonic()
    p = subprocess.Popen([XM, "create", cfg], env=x.env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    t1, bound = first_byte_socket(path, t0, p)
    _, err = p.communicate(timeout=60)
    t_ret = time.monotonic()
    if p.returncode:
        raise RuntimeError("xm create: %s" % err.decode().strip())
    name = text.split('"')[1]
    x.xm("destroy", name)
    return t1 - t0, bound, t_ret - t0


def create_direct(work, text, i):
    cfg = os.path.join(work, "d%d.cfg" % i)
    with open(cfg, "w") as f:
        f.write(text)
    t0 = time.monotonic()
    p = subprocess.Popen([VMM, cfg], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    try:
        d = os.read(p.stdout.fileno(), 1)
        t1 = time.monotonic()
    finally:
        p.kill()
        p.wait()
    if not d:
        raise RuntimeError("xeno-vmm printed nothing")
    return t1 - t0


def bench_idle(x, work):
    names = []
    for i in range(3):
        cfg = os.path.join(work, "idle%d.cfg" % i)
        with open(cfg, "w") as f:
            f.write(cfg_text("idle%d" % i))
        x.xm("create", cfg)
        names.append("idle%d" % i)
    os.environ["XENO_URI"] = x.env["XENO_URI"]
    for n in names:       # each at its shell prompt, then left alone
        c = xmcon.Console(XM, n, 120)
        c.prompt()
        c.detach()
    time.sleep(2)
    pid = x.proc.pid
    c0, t0 = cpu_s(pid), time.monotonic()
    time.sleep(IDLE_S)
    c1, t1 = cpu_s(pid), time.monotonic()
    for n in names:
        x.xm("destroy", n)
    return 100.0 * (c1 - c0) / (t1 - t0), c1 - c0


def ms(v):
    return "%.1f ms" % (v * 1000)


def main():
    for tool in (XM, XEND, VMM):
        if not os.access(tool, os.X_OK):
            sys.exit("bench: not built: %s" % tool)
    if not shutil.which("riscv64-linux-gnu-as"):
        sys.exit("bench: riscv64-linux-gnu-as not installed (binutils-riscv64-linux-gnu)")
    work = tempfile.mkdtemp(prefix="xeno-bench-xend.")
    x = None
    samples = {}
    try:
        first = build_first(work)
        x = Xend(work)

        n, lt = bench_list(x, work)
        samples["list_s"] = lt
        print("xm list, %d domains listed: median %s, p95 %s, min %s, max %s"
              % (n, ms(statistics.median(lt)), ms(pct(lt, 95)), ms(min(lt)), ms(max(lt))))

        kinds = [("bare-metal firmware", cfg_text("fw", firmware=first)),
                 ("linux earlycon=sbi", cfg_text("lx", extra="console=ttyS0 earlycon=sbi"))]
        for kind, text in kinds:
            xs, xb, xr, ds = [], 0, [], []
            for i in range(RUNS):       # alternate: xend, direct, xend, ...
                t, bound, tret = create_via_xend(x, work, text, len(xs) + 100 * len(samples))
                xs.append(t)
                xr.append(tret)
                xb += bound
                ds.append(create_direct(work, text, i))
                print("  %-20s run %d: xm create -> first byte %s%s (xm returned %s); "
                      "xeno-vmm alone %s" % (kind, i + 1, "<= " if bound else "", ms(t),
                                             ms(tret), ms(ds[-1])))
            samples[kind] = {"xend_s": xs, "xm_return_s": xr, "direct_s": ds, "upper_bounds": xb}

        idle_pct, idle_cpu = bench_idle(x, work)
        samples["idle_pct"] = idle_pct
        print("  idle: xend used %.2f s CPU in %.0f s" % (idle_cpu, IDLE_S))

        print()
        print("%-44s %12s %12s %8s" % ("metric", "value", "target", "met"))
        print("%-44s %12s %12s %8s" % ("xm list, %d defined: median" % DEFINED,
                                        ms(statistics.median(lt)), "< 50 ms",
                                        "yes" if statistics.median(lt) < 0.05 else "NO"))
        print("%-44s %12s %12s %8s" % ("xm list, %d defined: p95" % DEFINED, ms(pct(lt, 95)),
                                        "< 100 ms", "yes" if pct(lt, 95) < 0.1 else "NO"))
        for kind, _ in kinds:
            s = samples[kind]
            mx, md = statistics.median(s["xend_s"]), statistics.median(s["direct_s"])
            print("%-44s %12s %12s %8s" % ("create -> first byte, %s" % kind,
                                            ("<=" if s["upper_bounds"] else "") + ms(mx),
                                            "< 1 s", "yes" if mx < 1 else "NO"))
            print("%-44s %12s %12s %8s" % ("  xeno-vmm start -> first byte (no xend)", ms(md),
                                            "", ""))
            print("%-44s %12s %12s %8s" % ("  xend + xm overhead", ms(mx - md), "", ""))
        print("%-44s %11.2f%% %12s %8s" % ("idle xend CPU, 3 idle guests, %.0f s" % IDLE_S,
                                           idle_pct, "< 0.5 %",
                                           "yes" if idle_pct < 0.5 else "NO"))
        if os.environ.get("BENCH_JSON"):
            with open(os.environ["BENCH_JSON"], "w") as f:
                json.dump(samples, f, indent=1)
    finally:
        if x:
            try:
                x.stop()
            except Exception as e:  # noqa: BLE001 -- report, keep cleaning
                print("bench: stopping xend: %s" % e, file=sys.stderr)
                x.proc.kill()
        # Anything left with our work dir on its command line.
        for pid in os.listdir("/proc"):
            if pid.isdigit() and int(pid) != os.getpid():
                try:
                    with open("/proc/%s/cmdline" % pid, "rb") as f:
                        if (work + "/").encode() in f.read():
                            os.kill(int(pid), signal.SIGKILL)
                except OSError:
                    pass
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
