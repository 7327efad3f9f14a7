#!/usr/bin/env python3
"""Xeno vs QEMU, side by side, alternating, on the same kernel + initramfs.

Per run and per side it measures:
  boot     wall time from process start to the guest banner line
  sha256   in-guest time of `dd if=/dev/zero bs=1M count=16 | sha256sum`,
           from `date +%s%N` before and after, inside the guest
  idle     host CPU (utime+stime of the VMM process and its children, from
           /proc/PID/stat) while the guest sits idle at its prompt, as % of
           one core
  overhead VMM memory overhead right after boot: VmRSS (/proc/PID/status)
           minus the resident part of the guest-RAM mapping (the mapping in
           /proc/PID/smaps at least as large as guest RAM), i.e. what the
           VMM itself holds besides the guest pages the guest touched
and prints medians, ratios xeno/qemu and the targets.  It is a benchmark:
missing a target never makes it fail.

Environment: BENCH_RUNS (5), BENCH_MEMORY (256 MiB), BENCH_IDLE_SECONDS (10),
XENO_VMM, XENO_GUEST_DIR, XENO_PEER=qemu (QEMU on both sides, to check the
harness), BENCH_LOG_DIR (keep console transcripts there), BENCH_JSON (write
all samples to this file).
"""

import json
import os
import re
import signal
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.dont_write_bytecode = True     # keep the source tree clean
sys.path.insert(0, os.path.join(ROOT, "tests", "integration", "lib"))
import console  # noqa: E402
from console import Failure  # noqa: E402

SHA_ZERO_16M = "080acf35a507ac9849cfcba47dc2ad83e01b75663a516279c8b9d243b719643e"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


def env_int(name, default):
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        sys.exit("bench: %s must be an integer" % name)


RUNS = env_int("BENCH_RUNS", 5)
MEMORY = env_int("BENCH_MEMORY", 256)
IDLE_SECONDS = env_int("BENCH_IDLE_SECONDS", 10)
GUEST = os.environ.get("XENO_GUEST_DIR", os.path.join(ROOT, "build", "guest"))
KERNEL = os.path.join(GUEST, "Image")
INITRD = os.path.join(GUEST, "initramfs.cpio.gz")
XENO_VMM = os.environ.get("XENO_VMM", os.path.join(ROOT, "build", "src", "vmm", "xeno-vmm"))
PEER = os.environ.get("XENO_PEER", "")


def qemu_argv():
    return ["qemu-system-riscv64", "-M", "virt", "-bios", "default", "-nographic",
            "-kernel", KERNEL, "-initrd", INITRD, "-append", "console=ttyS0",
            "-m", str(MEMORY), "-smp", "1"]


def xeno_argv():
    if PEER == "qemu":
        return qemu_argv()
    return [XENO_VMM, "--kernel", KERNEL, "--initrd", INITRD, "--cmdline",
            "console=ttyS0", "--memory", str(MEMORY), "--vcpus", "1"]


# -- /proc readings -------------------------------------------------------
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


def tree(pid):
    kids, out, todo = children_of(), [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += kids.get(p, [])
    return out


def cpu_seconds(pid):
    """utime+stime of PID and its descendants (all their threads)."""
    total = 0
    for p in tree(pid):
        try:
            with open("/proc/%d/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])   # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return total / CLK_TCK


def memory_kib(pid):
    """(VmRSS, resident KiB of the guest-RAM mapping or None)."""
    rss = None
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    guest, size = None, None
    ram_kib = MEMORY * 1024
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                size = None
            elif line.startswith("Size:"):
                size = int(line.split()[1])
            elif line.startswith("Rss:") and size is not None and \
                    ram_kib <= size <= ram_kib + 8192:
                guest = (guest or 0) + int(line.split()[1])
    return rss, guest


# -- one run --------------------------------------------------------------
def one_run(side, argv, log):
    r = {"side": side}
    vm = console.Console(argv, log=log)
    try:
        vm.expect(console.BANNER_RE, 180, "the guest banner")
        r["boot_s"] = time.monotonic() - vm.start_time
        vm.expect(console.PROMPT_RE, 60, "the first shell prompt")

        rss, guest = memory_kib(vm.pid)
        r["rss_mib"] = rss / 1024
        if guest is not None:
            r["guest_ram_mib"] = guest / 1024
            r["overhead_mib"] = (rss - guest) / 1024

        vm.run("true")                 # the console is quiet from here
        c0, t0 = cpu_seconds(vm.pid), time.monotonic()
        time.sleep(IDLE_SECONDS)
        c1, t1 = cpu_seconds(vm.pid), time.monotonic()
        r["idle_pct"] = 100.0 * (c1 - c0) / (t1 - t0)

        clock = vm.run("date +%s%N").strip()
        if re.fullmatch(r"\d{16,}", clock):
            now = "$(date +%s%N)"
            scale = 1e-9
        else:                          # no %N in this date: /proc/uptime, 10 ms
            now = "$(cut -d' ' -f1 /proc/uptime | tr -d .)"
            scale = 1e-2
        h0 = time.monotonic()
        out = vm.run("s=%s; dd if=/dev/zero bs=1M count=16 2>/dev/null | sha256sum; "
                     "e=%s; echo elapsed=$((e-s))" % (now, now), timeout=300)
        r["sha256_host_s"] = time.monotonic() - h0
        if SHA_ZERO_16M not in out:
            raise Failure("wrong sha256sum output: %r" % out.strip())
        r["sha256_s"] = int(re.search(r"elapsed=(-?\d+)", out).group(1)) * scale

        vm.sendline("poweroff")
        rc = vm.wait(60)
        r["exit"] = rc
    except Failure as e:
        r["error"] = str(e)
        r["tail"] = vm.tail(10)
    finally:
        vm.close()
    return r


# -- report ---------------------------------------------------------------
def median(samples, key):
    v = [s[key] for s in samples if key in s]
    return statistics.median(v) if v else None


def fmt(v, f="%.2f"):
    return "n/a" if v is None else f % v


def report(results, xeno_label):
    xs = [r for r in results if r["side"] == "xeno"]
    qs = [r for r in results if r["side"] == "qemu"]
    rows = [
        # label, key, format, target text, target check(xeno, qemu)
        ("boot to banner (s)", "boot_s", "%.2f", "<= 1.5x QEMU",
         lambda x, q: x <= 1.5 * q),
        ("sha256 16 MiB in guest (s)", "sha256_s", "%.3f", "<= 3x QEMU",
         lambda x, q: x <= 3 * q),
        ("  same, host wall incl. console (s)", "sha256_host_s", "%.3f", "", None),
        ("idle host CPU (% of a core)", "idle_pct", "%.2f", "< 2% core",
         lambda x, q: x < 2),
        ("VMM RSS after boot (MiB)", "rss_mib", "%.1f", "", None),
        ("  guest RAM resident (MiB)", "guest_ram_mib", "%.1f", "", None),
        ("VMM overhead = RSS - guest RAM (MiB)", "overhead_mib", "%.1f", "< 16 MiB",
         lambda x, q: x < 16),
    ]
    print()
    print("medians over %d run(s) per side, guest %d MiB, 1 vCPU; xeno = %s"
          % (RUNS, MEMORY, xeno_label))
    hdr = "%-38s %10s %10s %8s  %-13s %s" % ("metric", "xeno", "qemu", "x/q",
                                             "target", "met")
    print(hdr)
    print("-" * len(hdr))
    for label, key, f, target, ok in rows:
        x, q = median(xs, key), median(qs, key)
        ratio = x / q if x is not None and q not in (None, 0) else None
        met = ""
        if ok and x is not None and (q is not None or "QEMU" not in target):
            met = "yes" if ok(x, q) else "NO"
        print("%-38s %10s %10s %8s  %-13s %s" % (label, fmt(x, f), fmt(q, f),
                                               fmt(ratio, "%.2fx"), target, met))
    for side, rs in (("xeno", xs), ("qemu", qs)):
        bad = [r for r in rs if "error" in r or r.get("exit") not in (0, None)]
        if bad:
            print("%s: %d of %d runs failed or exited oddly:" % (side, len(bad), len(rs)))
            for r in bad:
                print("  exit=%s %s" % (r.get("exit"), r.get("error", "")))
                if r.get("tail"):
                    print("    " + r["tail"].replace("\n", "\n    "))


def main():
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))   # runs one_run's finally
    for f in (KERNEL, INITRD):
        if not os.path.isfile(f):
            sys.exit("bench: guest file missing: %s (make guest)" % f)
    if PEER != "qemu" and not os.access(XENO_VMM, os.X_OK):
        sys.exit("bench: xeno-vmm not built: %s (or set XENO_PEER=qemu)" % XENO_VMM)
    logdir = os.environ.get("BENCH_LOG_DIR") or tempfile.mkdtemp(prefix="xeno-bench-")
    os.makedirs(logdir, exist_ok=True)
    sides = [("xeno", xeno_argv()), ("qemu", qemu_argv())]
    xeno_label = "qemu (XENO_PEER=qemu)" if PEER == "qemu" else XENO_VMM
    print("xeno: %s" % " ".join(sides[0][1]))
    print("qemu: %s" % " ".join(sides[1][1]))
    results = []
    for i in range(RUNS):
        for side, argv in sides:       # alternate: xeno, qemu, xeno, qemu ...
            r = one_run(side, argv, os.path.join(logdir, "%s-%d.log" % (side, i + 1)))
            results.append(r)
            print("run %d %-4s  boot %ss  sha256 %ss  idle %s%%  rss %s MiB  "
                  "overhead %s MiB%s" % (
                      i + 1, side, fmt(r.get("boot_s")), fmt(r.get("sha256_s"), "%.3f"),
                      fmt(r.get("idle_pct")), fmt(r.get("rss_mib"), "%.1f"),
                      fmt(r.get("overhead_mib"), "%.1f"),
                      "  ERROR: " + r["error"] if "error" in r else ""), flush=True)
    report(results, xeno_label)
    if os.environ.get("BENCH_JSON"):
        with open(os.environ["BENCH_JSON"], "w") as f:
            json.dump(results, f, indent=1)
    if os.environ.get("BENCH_LOG_DIR"):
        print("console transcripts in %s" % logdir)
    else:
        for name in os.listdir(logdir):
            os.unlink(os.path.join(logdir, name))
        os.rmdir(logdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
