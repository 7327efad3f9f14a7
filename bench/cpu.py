#!/usr/bin/env python3
"""CPU suite: xeno-vmm vs qemu-system-riscv64 (TCG) vs native, alternating.

Both VMMs boot the same kernel and the same initrd: the default guest's
initramfs followed by a small archive with /bench (bench/cpu/build.sh).
Per run: xeno, then qemu, then the native programs on the host, so all
three see the same host load.  Per VMM and run, two guests:

  1 vCPU   boot to the banner, then (times from the guest clock)
           int       /bench/intbench INT_ITERS        (own C, list/matrix/
                     state machine/CRC; self-checked; iterations/s)
           fp        /bench/fpbench FP_ITERS          (own C, double:
                     n-body, LU solve, Newton; bit-exact hash checked)
           awk       busybox awk loop with sqrt and division (checked)
           sha256    sha256sum of a 16 MiB file made by /bench/gendata
           gzip      busybox gzip -c of that file (round trip checked)
           exec-true 1500 x fork+exec of /bin/true (busybox) from ash
           exec-nop  1500 x fork+exec of /bench/nop (1 page, no libc)
  2 vCPUs  smp       two copies of intbench SMP_ITERS one after the other,
                     then both at once: ratio parallel/serial

Native: the same C programs built with gcc, and busybox built for the host
from the guest's busybox source and config (bench/cpu/build.sh); without it
the host's sh, true, awk, sha256sum and gzip stand in (and are named).

Prints per-run lines, then medians, xeno/qemu time ratios, the speed of
each side as % of native, and the targets of issue 11.  A missed target is
printed as NO and never fails the bench; a wrong result (checksum, hash,
digest) does: exit status 1.

Environment: BENCH_RUNS (5), BENCH_MEMORY (256), XENO_VMM, XENO_GUEST_DIR,
BENCH_CPU_OUT (the programs and the initrd, from bench/cpu/build.sh),
BENCH_ONLY (comma list of workloads: boot,int,fp,awk,sha256,gzip,
exec_true,exec_nop,smp), BENCH_NATIVE=0 (no native runs), BENCH_QEMU=0 (no
QEMU runs: for profiling xeno alone), XENO_PEER=qemu
(QEMU on both sides: checks the harness), BENCH_LOG_DIR, BENCH_JSON,
BENCH_PERF=DIR (record `perf record -p` of xeno-vmm during the workloads
named in BENCH_PERF_WORKLOADS, default int,exec_true,exec_nop; extra
options in BENCH_PERF_ARGS).
"""

import json
import os
import re
import secrets
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(ROOT, "tests", "integration", "lib"))
import console  # noqa: E402
from console import Failure  # noqa: E402


def env_int(name, default):
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        sys.exit("bench-cpu: %s must be an integer" % name)


RUNS = env_int("BENCH_RUNS", 5)
MEMORY = env_int("BENCH_MEMORY", 256)
GUEST = os.environ.get("XENO_GUEST_DIR", os.path.join(ROOT, "build", "guest"))
KERNEL = os.path.join(GUEST, "Image")
OUT = os.environ.get("BENCH_CPU_OUT", os.path.join(ROOT, "build", "bench-cpu"))
INITRD = os.path.join(OUT, "initrd.cpio.gz")
NATIVE = os.path.join(OUT, "native")
XENO_VMM = os.environ.get("XENO_VMM", os.path.join(ROOT, "build", "src", "vmm", "xeno-vmm"))
PEER = os.environ.get("XENO_PEER", "")
DO_NATIVE = os.environ.get("BENCH_NATIVE", "1") != "0"
DO_QEMU = os.environ.get("BENCH_QEMU", "1") != "0"
PERF_DIR = os.environ.get("BENCH_PERF", "")
PERF_WORKLOADS = os.environ.get("BENCH_PERF_WORKLOADS", "int,exec_true,exec_nop").split(",")
PERF_ARGS = shlex.split(os.environ.get("BENCH_PERF_ARGS", ""))
CLK_TCK = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count() or 1

# The work, fixed for every side (a guest on the emulator takes a few
# seconds for each; natively they take well under one).
INT_ITERS = 5000
FP_ITERS = 1500            # fpbench's default: its hash is checked in the program too
FP_NATIVE_ITERS = 30000    # natively longer, for a measurable time; scaled back
AWK_N = 200000
EXEC_N = 1500
SMP_ITERS = 3000
DATA_BYTES = 16 << 20

# Expected results (the same on riscv64 and x86-64; see the programs).
INT_RESULT = "d8141f09"
FP_HASH = "0d875db59df62aa1"
AWK_RESULT = "879.791557442"
DATA_SHA = "45db06c000dfe03d68cb90f090cdbb013a5415cc891ec2ecf2b9eb3f74504d29"
AWK_PROG = ("BEGIN { s = 0; for (i = 1; i <= %d; i++) "
            "s += sqrt(i) / (i + 0.5) - i / (i * i + 1.0); printf \"%%.12g\\n\", s }" % AWK_N)

WORKLOADS = ["boot", "int", "fp", "awk", "sha256", "gzip", "exec_true", "exec_nop", "smp"]
ONLY = [w for w in os.environ.get("BENCH_ONLY", ",".join(WORKLOADS)).split(",") if w]
for w in ONLY:
    if w not in WORKLOADS:
        sys.exit("bench-cpu: unknown workload %r in BENCH_ONLY (known: %s)" % (w, ",".join(WORKLOADS)))


def want(w):
    return w in ONLY


def qemu_argv(vcpus):
    return ["qemu-system-riscv64", "-M", "virt", "-bios", "default", "-nographic",
            "-kernel", KERNEL, "-initrd", INITRD, "-append", "console=ttyS0",
            "-m", str(MEMORY), "-smp", str(vcpus)]


def xeno_argv(vcpus):
    if PEER == "qemu":
        return qemu_argv(vcpus)
    return [XENO_VMM, "--kernel", KERNEL, "--initrd", INITRD, "--cmdline",
            "console=ttyS0", "--memory", str(MEMORY), "--vcpus", str(vcpus)]


# -- host load ------------------------------------------------------------
def children_of():
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                kids.setdefault(ppid, []).append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    return kids


def cpu_seconds(pid):
    """utime+stime of PID and its descendants (all threads)."""
    kids, total, todo = children_of(), 0, [pid]
    while todo:
        p = todo.pop()
        todo += kids.get(p, [])
        try:
            with open("/proc/%d/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / CLK_TCK


def host_busy():
    """(busy CPU seconds of the whole host, monotonic time)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    busy = sum(v[:8]) - v[3] - v[4]        # all but idle and iowait
    return busy / CLK_TCK, time.monotonic()


class Load:
    """Host CPU used by everything but what we measure, in % of all cores,
    from the start to finish(own CPU seconds)."""

    def __init__(self):
        self.b0, self.t0 = host_busy()
        self.pct = None

    def finish(self, own):
        if self.pct is None:
            b1, t1 = host_busy()
            self.pct = max(0.0, 100.0 * (b1 - self.b0 - own) / ((t1 - self.t0) * NCPU))
        return self.pct


# -- the workloads: what /bench/run prints, checked ------------------------
def check(w, out, iters=None):
    """Values a workload's output carries (after checking its results)."""
    m = re.search(r"elapsed_cs=(-?\d+) rc=(\d+)", out)
    if not m:
        raise Failure("%s: no elapsed_cs in the output: %r" % (w, out[-300:]))
    if m.group(2) != "0":
        raise Failure("%s: exit status %s: %r" % (w, m.group(2), out[-400:]))
    v = {"elapsed": int(m.group(1)) / 100.0}
    if w in ("int", "smp"):
        ok = re.findall(r"intbench: iterations=\d+ seconds=([\d.]+) iter_per_s=([\d.]+) "
                        r"result=([0-9a-f]{8}) (OK|FAIL)", out)
        want_n = 4 if w == "smp" else 1
        if len(ok) != want_n or any(o[2] != INT_RESULT or o[3] != "OK" for o in ok):
            raise Failure("%s: intbench results wrong (want %d x result=%s OK): %r"
                          % (w, want_n, INT_RESULT, out[-400:]))
        if w == "int":
            v["int"], v["int_ips"] = float(ok[0][0]), float(ok[0][1])
        else:
            v["smp_ser"] = int(re.search(r"serial_cs=(\d+)", out).group(1)) / 100.0
            v["smp_par"] = v["elapsed"]
            v["smp"] = v["smp_par"] / v["smp_ser"]
    elif w == "fp":
        m = re.search(r"fpbench: iterations=\d+ seconds=([\d.]+) iter_per_s=([\d.]+) "
                      r"energy=\S+ hash=([0-9a-f]{16}) (OK|FAIL)", out)
        if not m or m.group(4) != "OK" or (iters == FP_ITERS and m.group(3) != FP_HASH):
            raise Failure("fp: fpbench result wrong (want hash=%s OK): %r" % (FP_HASH, out[-400:]))
        v["fp_ips"] = float(m.group(2))
        v["fp"] = FP_ITERS / v["fp_ips"]
    elif w == "awk":
        if AWK_RESULT not in out.split():
            raise Failure("awk: result %r, want %s" % (out.strip()[-200:], AWK_RESULT))
    elif w == "sha256":
        if DATA_SHA not in out:
            raise Failure("sha256: digest %r, want %s" % (out.strip()[-200:], DATA_SHA))
    elif w == "gzip":
        m = re.search(r"gz_bytes=(\d+)", out)
        if not m or "roundtrip=" + DATA_SHA not in out:
            raise Failure("gzip: round trip wrong: %r" % out.strip()[-300:])
        v["gzip_bytes"] = int(m.group(1))
    elif w.startswith("exec"):
        if "count=%d" % EXEC_N not in out:
            raise Failure("%s: loop stopped early: %r" % (w, out[-200:]))
    return v


def run_args(w, guest=True):
    """Arguments of /bench/run for workload W."""
    return {"int": "int %d" % INT_ITERS,
            "fp": "fp %d" % FP_ITERS,
            "awk": "awk %d" % AWK_N,
            "gendata": "gendata %d" % DATA_BYTES,
            "sha256": "sha256",
            "gzip": "gzip",
            "exec_true": "exec /bin/true %d" % EXEC_N,
            "exec_nop": "exec /bench/nop %d" % EXEC_N,
            "smp": "smp %d" % SMP_ITERS}[w]


# -- guest side -----------------------------------------------------------
def guest_run(vm, cmd, timeout=900):
    """console's run(), but the start marker (echoed at once) has its own
    short timeout and a command whose line arrived garbled is sent again:
    QEMU's UART with busybox line editing sometimes mangles typed-ahead
    input early after boot.  The suite's commands can be repeated."""
    for attempt in range(3):
        tag = secrets.token_hex(4)
        vm.sendline("echo '=S''%s='; %s; echo \"=E\"\"%s=$?=\"" % (tag, cmd, tag))
        try:
            start = vm.expect("=S%s=\r?\n" % tag, 30, "start of output of %r" % cmd)
        except Failure:
            if attempt == 2:
                raise
            vm.expect(console.PROMPT_RE, 60, "the prompt after a garbled %r" % cmd)
            continue
        end = vm.expect(r"=E%s=(\d+)=" % tag, timeout, "end of %r" % cmd)
        out = vm.text(start.m.end())
        out = out[:out.find("=E%s=" % tag)].replace("\r", "")
        vm.expect(console.PROMPT_RE, 10, "prompt after %r" % cmd)
        if end.group(1) != "0":
            raise Failure("guest command %r failed with status %s: %s"
                          % (cmd, end.group(1), out.strip()[-500:]))
        return out


class Perf:
    """perf record attached to the VMM for one workload (BENCH_PERF)."""

    def __init__(self, pid, name):
        self.proc = None
        if not name:
            return
        self.out = os.path.join(PERF_DIR, "%s.data" % name)
        self.proc = subprocess.Popen(["perf", "record", "-q", "-o", self.out, "-p", str(pid)]
                                     + PERF_ARGS, stdout=subprocess.DEVNULL,
                                     stderr=open(self.out + ".log", "w"))
        time.sleep(0.5)                 # let it attach

    def stop(self):
        if self.proc:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def guest_workload(vm, side, run_no, r, w):
    """Run workload W in the guest; its values go into R (only once checked)."""
    pname = None
    if PERF_DIR and side == "xeno" and w in PERF_WORKLOADS:
        pname = "%s-run%d" % (w, run_no)
    perf = Perf(vm.pid, pname)
    h0 = time.monotonic()
    try:
        out = guest_run(vm, "/bench/run %s" % run_args(w))
    finally:
        perf.stop()
    wall = time.monotonic() - h0
    v = check(w, out, FP_ITERS)
    r.setdefault(w, v.pop("elapsed"))
    r[w + "_wall"] = wall
    r.update(v)


def session(side, argv, log, run_no, r, workloads, vcpus):
    vm = console.Console(argv, log=log)
    load = Load()
    key = "others_pct" if vcpus == 1 else "others_pct_smp"
    try:
        b = vm.boot(180)
        if vcpus == 1:
            r["boot"] = vm.banner_time
        if b["cpus"] != str(vcpus):
            raise Failure("banner says %s CPUs, want %d" % (b["cpus"], vcpus))
        guest_run(vm, "true", 30)       # a short first command: the console settles
        if "yes" not in guest_run(vm, "test -x /bench/run && echo yes || echo no", 30):
            raise Failure("no /bench/run in the guest: is %s the suite's initrd?" % INITRD)
        for w in workloads:
            guest_workload(vm, side, run_no, r, w)
        load.finish(cpu_seconds(vm.pid))
        vm.sendline("poweroff")
        rc = vm.wait(60)
        if rc != 0:
            raise Failure("exit status %s after poweroff" % rc)
    except Failure as e:
        r["error"] = (r.get("error", "") + " " + str(e)).strip()
        r["tail"] = vm.tail(10)
    finally:
        if vm.proc.poll() is None:
            load.finish(cpu_seconds(vm.pid))
        vm.close()
    r[key] = load.pct


# -- native side ----------------------------------------------------------
class NativeTools:
    """How the native side runs bench/cpu/run.sh: with busybox built for the
    host from the guest's source and config if bench/cpu/build.sh could make
    it, else with the host's own tools."""

    def __init__(self, tmp):
        bb = os.path.join(NATIVE, "busybox")
        self.tmp = tmp
        self.env = dict(os.environ, BENCH_BIN=NATIVE, BENCH_DATA=os.path.join(tmp, "data"),
                        LC_ALL="C")
        if os.access(bb, os.X_OK):
            bindir = os.path.join(tmp, "bin")
            os.makedirs(bindir)
            for applet in ("sh", "true", "awk", "sha256sum", "gzip", "wc", "rm"):
                os.symlink(bb, os.path.join(bindir, applet))
            self.env["PATH"] = bindir + ":" + os.environ.get("PATH", "/usr/bin:/bin")
            self.sh = [bb, "sh"]
            self.true = os.path.join(bindir, "true")
            self.desc = ("busybox built for the host from the guest's busybox source and "
                         "config (%s)" % bb)
        else:
            self.sh = ["sh"]
            self.true = "/bin/true"
            self.desc = ("the host's tools (no native busybox: the guest's busybox source "
                         "is not cached): sh, /bin/true, awk, sha256sum, gzip (-6)")

    def args(self, w):
        a = run_args(w).split()
        if w == "exec_true":
            a[1] = self.true
        elif w == "exec_nop":
            a[1] = os.path.join(NATIVE, "nop")
        return a


def run_native(tools, run_no):
    r = {"side": "native", "run": run_no}
    load = Load()
    t_self0 = os.times()
    script = os.path.join(HERE, "cpu", "run.sh")

    def native(w, args):
        t0 = time.monotonic()
        p = subprocess.run(tools.sh + [script] + args, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, env=tools.env)
        wall = time.monotonic() - t0
        out = p.stdout.decode(errors="replace")
        if p.returncode != 0:
            raise Failure("native %s: exit status %d: %r" % (w, p.returncode, out[-300:]))
        return out, wall

    try:
        for w in [x for x in WORKLOADS if x != "boot" and want(x)]:
            if w in ("sha256", "gzip") and not os.path.exists(tools.env["BENCH_DATA"]):
                check("gendata", native("gendata", tools.args("gendata"))[0])
            if w == "fp":
                out, _ = native(w, tools.args(w))                    # the hash
                check(w, out, FP_ITERS)
                out, _ = native(w, ["fp", str(FP_NATIVE_ITERS)])      # the time
                v = check(w, out, FP_NATIVE_ITERS)
                v.pop("elapsed")
                r.update(v)
                continue
            out, wall = native(w, tools.args(w))
            v = check(w, out, FP_ITERS)
            v.pop("elapsed")
            if w != "smp":
                r.setdefault(w, wall)
            r.update(v)
    except Failure as e:
        r["error"] = str(e)
    finally:
        for f in ("data", "data.gz"):
            p = os.path.join(tools.tmp, f)
            if os.path.exists(p):
                os.unlink(p)
    t_self1 = os.times()
    r["others_pct"] = load.finish((t_self1.children_user - t_self0.children_user) +
                                  (t_self1.children_system - t_self0.children_system))
    return r


# -- report ---------------------------------------------------------------
def fmt(v, f="%.2f"):
    return "-" if v is None else f % v


def median(rs, key):
    v = [r[key] for r in rs if r.get(key) is not None]   # stored once checked
    return statistics.median(v) if v else None


ROWS = [
    # key, label, format, target: ("q", limit, native) = xeno/qemu time at
    # most limit and, if native, xeno at least that share of native speed;
    # ("s", limit, None) = the value itself at most limit
    ("boot", "boot to banner (s)", "%.2f", ("q", 0.4, None)),
    ("int", "integer: intbench %d it (s)" % INT_ITERS, "%.2f", ("q", 0.5, 0.25)),
    ("int_ips", "  intbench iterations/s", "%.0f", None),
    ("gzip", "gzip 16 MiB, busybox (s)", "%.2f", ("q", 0.5, 0.25)),
    ("sha256", "sha256sum 16 MiB (s)", "%.2f", ("q", 0.5, None)),
    ("fp", "FP: fpbench %d it (s)" % FP_ITERS, "%.2f", ("q", 0.5, None)),
    ("awk", "FP: awk sqrt/div x %d (s)" % AWK_N, "%.2f", ("q", 0.5, None)),
    ("exec_true", "fork+exec /bin/true x %d (s)" % EXEC_N, "%.2f", ("q", 0.4, None)),
    ("exec_nop", "fork+exec /bench/nop x %d (s)" % EXEC_N, "%.2f", ("q", 0.4, None)),
    ("smp_ser", "SMP: 2 x intbench %d, serial (s)" % SMP_ITERS, "%.2f", None),
    ("smp_par", "SMP: the same in parallel, 2 vCPUs (s)", "%.2f", None),
    ("smp", "SMP: parallel / serial", "%.2f", ("s", 0.55, None)),
]
RATE = {"int_ips"}          # bigger is better (x/q: see the time row)


def report(results, tools):
    xs = [r for r in results if r["side"] == "xeno"]
    qs = [r for r in results if r["side"] == "qemu"]
    ns = [r for r in results if r["side"] == "native"]
    print()
    print("medians over %d run(s); guest %d MiB, 1 vCPU (SMP rows: 2 vCPUs); times from the "
          "guest clock" % (RUNS, MEMORY))
    print("x/q: xeno time / qemu time (< 1: xeno faster).  %nat: native time / VMM time, "
          "i.e. speed as % of native")
    hdr = "%-40s %9s %9s %9s %7s %7s %7s  %-24s %s" % (
        "workload", "xeno", "qemu", "native", "x/q", "x %nat", "q %nat", "target (issue 11)", "met")
    print(hdr)
    print("-" * len(hdr))
    for key, label, f, target in ROWS:
        if not any(key.startswith(w) for w in ONLY):
            continue
        x, q, n = median(xs, key), median(qs, key), median(ns, key)
        if key in RATE:
            xq = None                   # the time row above has it
            xn = 100 * x / n if x and n else None
            qn = 100 * q / n if q and n else None
        elif key == "smp":
            xq = xn = qn = None
        else:
            xq = x / q if x is not None and q else None
            xn = 100 * n / x if x and n else None
            qn = 100 * n / q if q and n else None
        ttext, met = "", ""
        if target:
            kind, lim, nat = target
            if kind == "q":
                ttext = "<= %gx QEMU" % lim + (", >= %d%% nat" % (nat * 100) if nat else "")
                oks = []
                if xq is not None:
                    oks.append(xq <= lim)
                if nat and xn is not None:
                    oks.append(xn >= nat * 100)
                met = ("yes" if all(oks) else "NO") if oks else ""
            else:
                ttext = "<= %g" % lim
                met = "" if x is None else ("yes" if x <= lim else "NO")
        print("%-40s %9s %9s %9s %7s %7s %7s  %-24s %s" % (
            label, fmt(x, f), fmt(q, f), fmt(n, f),
            fmt(xq, "%.2fx"),
            fmt(xn, "%.1f%%"), fmt(qn, "%.1f%%"), ttext, met))
    gx, gq, gn = median(xs, "gzip_bytes"), median(qs, "gzip_bytes"), median(ns, "gzip_bytes")
    if gx:
        print("gzip output: %s bytes in the guests, %s natively" % (fmt(gx, "%d"), fmt(gn, "%d")))
    for side, rs in (("xeno", xs), ("qemu", qs)):
        for key in ("int", "sha256", "exec_true"):
            w, g = median(rs, key + "_wall"), median(rs, key)
            if w and g and abs(w - g) > 0.1 * w + 0.3:
                print("note: %s %s: guest clock %.2fs but host wall %.2fs (console included)"
                      % (side, key, g, w))
    for side, rs in (("xeno", xs), ("qemu", qs), ("native", ns)):
        o = [r[k] for r in rs for k in ("others_pct", "others_pct_smp") if r.get(k) is not None]
        if o:
            print("host load from other processes during %s runs: median %.0f%%, max %.0f%% "
                  "of %d cores" % (side, statistics.median(o), max(o), NCPU))
    if ns:
        print("native: %s; C programs gcc -O2 -static" % tools.desc)
    bad = 0
    for side, rs in (("xeno", xs), ("qemu", qs), ("native", ns)):
        errs = [r for r in rs if "error" in r or r.get("exit") not in (0, None)]
        if errs:
            print("%s: %d of %d runs failed or exited oddly:" % (side, len(errs), len(rs)))
            for r in errs:
                print("  run %d exit=%s %s" % (r["run"], r.get("exit"), r.get("error", "")))
                if r.get("tail"):
                    print("    " + r["tail"].replace("\n", "\n    "))
            # The peer's runs are ours to measure, not to pass: QEMU's
            # console garbling a typed-ahead line now and then (a 60 s
            # timeout) leaves the medians of its other runs; only a peer
            # with no good run at all makes the comparison void.
            if side != "qemu" or len(errs) == len(rs):
                bad += len(errs)
    return bad


def run_line(r):
    parts = ["run %d %-6s" % (r["run"], r["side"])]
    for key, short, f in (("boot", "boot", "%.2f"), ("int", "int", "%.2f"), ("fp", "fp", "%.2f"),
                          ("awk", "awk", "%.2f"), ("sha256", "sha", "%.2f"),
                          ("gzip", "gzip", "%.2f"), ("exec_true", "true", "%.2f"),
                          ("exec_nop", "nop", "%.2f")):
        if key in r:
            parts.append("%s %s" % (short, f % r[key]))
    if "smp" in r:
        parts.append("smp %.2f/%.2f=%.2f" % (r["smp_par"], r["smp_ser"], r["smp"]))
    o = [r[k] for k in ("others_pct", "others_pct_smp") if r.get(k) is not None]
    if o:
        parts.append("others %s%%" % "/".join("%.0f" % v for v in o))
    if "error" in r:
        parts.append("ERROR: " + r["error"])
    return "  ".join(parts)


def main():
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))
    for f in (KERNEL, INITRD):
        if not os.path.isfile(f):
            sys.exit("bench-cpu: missing %s (bash bench/cpu.sh builds the initrd; make guest)" % f)
    if PEER != "qemu" and not os.access(XENO_VMM, os.X_OK):
        sys.exit("bench-cpu: xeno-vmm not built: %s (or set XENO_PEER=qemu)" % XENO_VMM)
    if PERF_DIR:
        os.makedirs(PERF_DIR, exist_ok=True)
    logdir = os.environ.get("BENCH_LOG_DIR") or tempfile.mkdtemp(prefix="xeno-bench-cpu-")
    os.makedirs(logdir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="xeno-bench-native-")
    tools = NativeTools(tmp)
    sides = [("xeno", xeno_argv)] + ([("qemu", qemu_argv)] if DO_QEMU else [])
    print("xeno: %s" % " ".join(xeno_argv(1)))
    print("qemu: %s" % " ".join(qemu_argv(1)))
    print("work: int %d it, fp %d it, awk %d, data %d MiB, exec %d, smp 2 x %d it; host %d CPUs, "
          "load average %s" % (INT_ITERS, FP_ITERS, AWK_N, DATA_BYTES >> 20, EXEC_N, SMP_ITERS,
                               NCPU, open("/proc/loadavg").read().split()[:3]), flush=True)
    # The 1-vCPU guest's list; gendata makes the file sha256 and gzip read.
    single = [w for w in WORKLOADS if want(w) and w not in ("boot", "smp")]
    for k, w in enumerate(single):
        if w in ("sha256", "gzip"):
            single.insert(k, "gendata")
            break
    results = []
    try:
        for i in range(1, RUNS + 1):
            for side, argv in sides:
                r = {"side": side, "run": i}
                if single or want("boot"):
                    session(side, argv(1), os.path.join(logdir, "%s-%d.log" % (side, i)),
                            i, r, single, 1)
                if want("smp"):
                    session(side, argv(2), os.path.join(logdir, "%s-%d-smp.log" % (side, i)),
                            i, r, ["smp"], 2)
                results.append(r)
                print(run_line(r), flush=True)
            if DO_NATIVE:
                r = run_native(tools, i)
                results.append(r)
                print(run_line(r), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("load average at the end: %s" % open("/proc/loadavg").read().split()[:3])
    bad = report(results, tools)
    if os.environ.get("BENCH_JSON"):
        with open(os.environ["BENCH_JSON"], "w") as f:
            json.dump(results, f, indent=1)
    if PERF_DIR:
        print("perf data in %s (perf report -i FILE --sort dso,sym)" % PERF_DIR)
    if os.environ.get("BENCH_LOG_DIR"):
        print("console transcripts in %s" % logdir)
    else:
        for name in os.listdir(logdir):
            os.unlink(os.path.join(logdir, name))
        os.rmdir(logdir)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
