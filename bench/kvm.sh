#!/usr/bin/env bash
# kvm engine benchmark: xeno-vmm vs qemu-system-x86_64 -accel kvm -M microvm
# on the same x86-64 test guest (tests/guests, PVH ELF, 128 MiB, 1 vCPU),
# alternately, BENCH_RUNS times each (default 7). Per run, host wall time
# from just before the VMM is started to
#   first:  the guest's first byte on COM1 (its first instruction writes it)
#   ready:  the guest's "xtest: ready" line, which the guest's bench mode
#           (xtest.bench on the command line) prints right after its own
#           setup (IDT, PIC masked), before any of its checks
# and, with the guest halted after "ready", the VMM's resident memory
# beyond guest RAM (VmRSS minus the Rss of the guest-RAM mapping in smaps).
# (-cpu host,-arch-capabilities: the nested kvm_pvm rejects MSR 0x10a.)
# Prints medians and the xeno/qemu ratio. A benchmark, not a test: missed
# targets print NO; exit status 0 unless nothing could run.
#   Targets (issue 4): ready <= 0.5x QEMU's; overhead < 8 MiB.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VMM=${XENO_VMM:-$ROOT/build/src/vmm/xeno-vmm}
RUNS=${BENCH_RUNS:-7}
OUT=$(mktemp -d "${TMPDIR:-/tmp}/xeno-bench-kvm.XXXXXX")
trap 'rm -rf "$OUT"' EXIT
[ -x "$VMM" ] || { echo "xeno-vmm not built: $VMM"; exit 1; }
[ -w /dev/kvm ] || { echo "SKIP: /dev/kvm is not usable here"; exit 0; }
bash "$ROOT/tests/guests/build.sh" "$OUT/guests" >/dev/null
python3 - "$VMM" "$OUT/guests/xtest-pvh.elf" "$RUNS" <<'PY'
import os, re, select, shutil, statistics, subprocess, sys, time
vmm, kernel, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
MEM = 128
CMD = "console=ttyS0 xtest.bench xtest.end=halt"
qemu = shutil.which("qemu-system-x86_64")
sides = {
    "xeno": [vmm, "--engine", "kvm", "--kernel", kernel, "--memory", str(MEM), "--vcpus", "1",
             "--cmdline", CMD],
}
if qemu:
    sides["qemu"] = [qemu, "-accel", "kvm", "-M", "microvm", "-cpu", "host,-arch-capabilities", "-m", str(MEM),
                     "-smp", "1", "-nodefaults", "-no-user-config", "-display", "none",
                     "-serial", "stdio", "-kernel", kernel, "-append", CMD]

def guest_rss_kib(pid):
    """Rss of the mapping that holds guest RAM (size within 8 MiB above it)."""
    best = None
    size = rss = 0
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) ", line)
            if m:
                size = (int(m.group(2), 16) - int(m.group(1), 16)) >> 10
                continue
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
                if MEM * 1024 <= size <= MEM * 1024 + 8192:
                    best = (best or 0) + rss
    return best

def vm_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0

def run(side):
    t0 = time.monotonic()
    p = subprocess.Popen(sides[side], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    out, first, ready = b"", None, None
    end = t0 + 30
    while time.monotonic() < end and ready is None:
        r, _, _ = select.select([p.stdout], [], [], 0.5)
        if not r:
            continue
        b = os.read(p.stdout.fileno(), 4096)
        now = time.monotonic()
        if not b:
            break
        out += b
        if first is None and b"!" in out:
            first = now - t0
        if b"xtest: ready" in out:
            ready = now - t0
    time.sleep(0.3)   # let the guest reach its halt loop
    over = None
    try:
        g = guest_rss_kib(p.pid)
        total = vm_rss_kib(p.pid)
        if g is not None:
            over = (total - g) / 1024
    except OSError:
        pass
    p.kill()
    p.wait()
    return first, ready, over

res = {s: [] for s in sides}
for i in range(runs):
    for s in sides:
        f, r, o = run(s)
        res[s].append((f, r, o))
        print("run %d %-4s first %s  ready %s  overhead %s" % (i + 1, s,
              "%.1f ms" % (f * 1e3) if f else "-", "%.1f ms" % (r * 1e3) if r else "-",
              "%.1f MiB" % o if o is not None else "n/a"), flush=True)

def med(s, k):
    v = [x[k] for x in res[s] if x[k] is not None]
    return statistics.median(v) if v else None

print()
print("%-22s %12s %12s %8s" % ("metric (median)", "xeno", "qemu", "ratio"))
rows = [("start -> first insn", 0, 1e3, "ms"), ("start -> ready", 1, 1e3, "ms"),
        ("VMM RSS overhead", 2, 1, "MiB")]
for name, k, scale, unit in rows:
    x = med("xeno", k)
    q = med("qemu", k) if "qemu" in sides else None
    print("%-22s %12s %12s %8s" % (name,
          "%.1f %s" % (x * scale, unit) if x is not None else "-",
          "%.1f %s" % (q * scale, unit) if q is not None else "n/a",
          "%.2f" % (x / q) if x is not None and q else "-"))
x, q = med("xeno", 1), med("qemu", 1) if "qemu" in sides else None
if q is None:
    print("qemu-system-x86_64 not installed (or the guest did not run on it): no comparison")
else:
    print("target start->ready <= 0.5x QEMU: %s" % ("yes" if x and x <= 0.5 * q else "NO"))
o = med("xeno", 2)
print("target overhead < 8 MiB: %s" % ("yes" if o is not None and o < 8 else "NO"))
PY
