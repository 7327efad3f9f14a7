#!/usr/bin/env python3
"""Where xeno-vmm's time goes, from `perf record` files (bench/cpu.sh with
BENCH_PERF=DIR writes one per workload):

    python3 bench/cpu/perf-summary.py DIR/int-run1.data [more.data ...]

Each sample is put in one category by its DSO and, for xeno-vmm itself, by
the C function its source line belongs to (perf's srcline, so code inlined
into the dispatcher is still counted where it was written):

  JIT code        generated code and its shared thunks (perf sees them as
                  [JIT]/anonymous memory; XENO_EMU_JIT_PERFMAP=1 names
                  blocks for perf report)
  dispatcher      jit_run_chunk's own lines, lookup(), slot(): block
                  lookup, itlb check, the loop
  translation     translate() and the translator (jit_gen.c, jit_mem.c,
                  jit_fp.c, jit_sys.c, jit_thunk.c)
  fence.i verify  comparing a page's blocks with memory after a fence.i
  decode          insn_decode (translation, and interpreter decode misses)
  interpreter     exec.c (one instruction at a time: what the JIT leaves to
                  it, and cold code before it is translated), fpu.c (soft
                  float), csr.c, trap.c, the JIT's interpreter/CSR helpers
  MMU/TLB         mmu.c (TLB refill, page-table walk, slow loads/stores,
                  TLB flush) and the JIT's slow-path helpers
  memset          libc memset and the JIT's flushes (TLB sets, the block
                  table, the jump cache)
  other xeno-vmm  SBI, devices, the VMM loop
  host kernel     syscalls, host page faults, interrupts, scheduling
  other           libc and the rest

then the top symbols (and source lines for the dispatcher).  Needs perf and
the xeno-vmm binary that recorded (its debug info: the default build).
"""

import collections
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SRC = os.path.join(ROOT, "src")

_files = {}
_funcs = {}


def find_source(base):
    if base not in _files:
        _files[base] = None
        for d, _, names in os.walk(SRC):
            if base in names:
                _files[base] = os.path.join(d, base)
                break
    return _files[base]


def functions(path):
    """[(first line, last line, name)] of the C functions in PATH (column-0
    style: a line starting a definition, its body closed by '}' at column 0)."""
    if path not in _funcs:
        out, start, name = [], None, None
        with open(path, errors="replace") as f:
            lines = f.read().split("\n")
        for i, line in enumerate(lines, 1):
            if start is None:
                m = re.match(r"^[A-Za-z_][\w \*]*?\b(\w+)\s*\(", line)
                if m and not line.rstrip().endswith(";") and not line.startswith(("typedef", "struct", "enum", "#")):
                    j = i
                    while j <= len(lines) and "{" not in lines[j - 1] and ";" not in lines[j - 1]:
                        j += 1
                    if j <= len(lines) and "{" in lines[j - 1]:
                        start, name = i, m.group(1)
                        if lines[j - 1].rstrip().endswith("}"):      # one-line function
                            out.append((start, j, name))
                            start = None
            elif line.startswith("}"):
                out.append((start, i, name))
                start = None
        _funcs[path] = out
    return _funcs[path]


def function_at(srcline):
    m = re.match(r"^(\S+?\.[ch]):(\d+)", srcline)
    if not m:
        return None, None
    base, line = os.path.basename(m.group(1)), int(m.group(2))
    path = find_source(base)
    if not path:
        return base, None
    for a, b, name in functions(path):
        if a <= line <= b:
            return base, name
    return base, None


def category(dso, sym, srcline):
    if dso.startswith("[JIT]") or "anon" in dso or "xeno-jit" in dso or dso.startswith("[unknown"):
        return "JIT code"
    if dso.startswith("[kernel") or dso.startswith("[vdso"):
        return "host kernel"
    if dso != "xeno-vmm":
        return "memset" if "memset" in sym else "other"
    base, fn = function_at(srcline)
    if base == "jit.c":
        if fn in ("jit_run_chunk", "slot", "lookup", "jc_index"):
            return "dispatcher"
        if fn == "run_cold":
            return "interpreter"
        if fn in ("verify_page", "kill_page", "page_of"):
            return "fence.i verify"
        if fn in ("drop_code", "give_back", "jc_clear", "jit_fence_i", "jit_flush"):
            return "memset"
        return "translation"
    if base in ("jit_gen.c", "jit_mem.c", "jit_fp.c", "jit_sys.c", "jit_thunk.c", "jit_x86.h"):
        # the helpers generated code calls at run time; the rest translates
        if fn in ("jit_load_slow", "jit_store_slow", "jit_atomic_slow"):
            return "MMU/TLB"
        if fn in ("jit_interp_insn", "jit_interp_sys", "jit_csr_read", "jit_fold_fflags"):
            return "interpreter"
        return "translation"
    if base in ("decode.c", "decode.h"):
        return "decode"
    if base in ("exec.c", "fpu.c", "fpu.h", "csr.c", "trap.c"):
        return "interpreter"
    if base == "mmu.c":
        return "MMU/TLB"
    if base == "hart.h":      # inline fast paths of loads/stores: interpreter
        return "interpreter"
    if base == "util.h":      # ld16 & co: translate() fetching instructions
        return "translation" if sym == "jit_run_chunk" else "other xeno-vmm"
    return "other xeno-vmm"


ORDER = ["JIT code", "dispatcher", "translation", "fence.i verify", "decode", "interpreter",
         "MMU/TLB", "memset", "other xeno-vmm", "host kernel", "other"]


def summarize(path):
    p = subprocess.run(["perf", "report", "-i", path, "-n", "--sort", "dso,sym,srcline",
                        "--stdio", "--percent-limit", "0"], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True)
    cats, syms, disp = collections.Counter(), collections.Counter(), collections.Counter()
    for line in p.stdout.splitlines():
        # overhead, samples, dso, [.] or [k], symbol, srcline (may hold spaces)
        m = re.match(r"^\s+[\d.]+%\s+(\d+)\s+(\S.*?)\s+\[[.k]\]\s+(\S+)\s*(.*)$", line)
        if not m:
            continue
        pct, dso, sym, src = int(m.group(1)), m.group(2).strip(), m.group(3), m.group(4).strip()
        if dso.startswith("[JIT]") or "xeno-jit" in dso:
            dso, sym = "[JIT]", "(JIT code)"
        c = category(dso, sym, src)
        cats[c] += pct
        if dso == "xeno-vmm":
            base = function_at(src)[0]
            if base and base.endswith(".c"):
                sym = "%s@%s" % (sym, base)
        syms[(dso, sym)] += pct
        if c == "dispatcher":
            disp[src] += pct
    total = sum(cats.values()) or 1
    for c in (cats, syms, disp):
        for k in c:
            c[k] = 100.0 * c[k] / total
    print("== %s (%d samples)" % (path, total))
    print("  " + "  ".join("%s %.1f%%" % (c, cats[c]) for c in ORDER if cats[c] >= 0.05))
    print("  top symbols: " + ", ".join("%s %.1f%%" % (s, v) for (d, s), v in syms.most_common(12)))
    if disp:
        print("  dispatcher lines: " + ", ".join("%s %.1f%%" % (s, v) for s, v in disp.most_common(5)))
    return cats


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: perf-summary.py PERF.DATA...")
    for path in sys.argv[1:]:
        summarize(path)


if __name__ == "__main__":
    main()
