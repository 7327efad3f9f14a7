#!/usr/bin/env bash
# smp: --vcpus 4 gives a banner with 4 CPUs, /proc/cpuinfo lists 4 harts,
# and a busy loop on every hart at once completes, with every CPU's busy
# time in /proc/stat growing meanwhile (the harts really ran in parallel,
# not one after the other on one CPU).
. "$(dirname "$0")/lib/common.sh"
require_vm
cd "$WORK"
"$PY" - <<'PY'
import console, re
from console import Failure

def test():
    vm = console.open_vm(["--vcpus", "4"], log="console.log")
    b = vm.boot(timeout=console.BANNER_TIMEOUT * 2)
    if b["cpus"] != "4":
        raise Failure("banner says %s CPUs, want 4" % b["cpus"])
    harts = vm.run("grep -c '^processor' /proc/cpuinfo").strip()
    if harts != "4":
        raise Failure("/proc/cpuinfo lists %r harts, want 4" % harts)
    online = vm.run("cat /sys/devices/system/cpu/online").strip()
    if online != "0-3":
        raise Failure("online CPUs %r, want 0-3" % online)
    # Four shell busy loops in parallel, each counting to N; all must
    # finish, and each CPU's user+system time must grow meanwhile.
    loop = "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; echo done-$i"
    stat = "grep '^cpu[0-9]' /proc/stat"
    out = vm.run("%s; for n in 1 2 3 4; do (%s) & done; wait; %s" % (stat, loop, stat),
                 timeout=300)
    if out.count("done-20000") != 4:
        raise Failure("parallel busy loops did not all finish: %r" % out)
    busy = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) > 4 and re.fullmatch(r"cpu[0-9]+", f[0]):
            busy.setdefault(f[0], []).append(int(f[1]) + int(f[2]) + int(f[3]))
    grew = sorted(c for c, v in busy.items() if len(v) == 2 and v[1] - v[0] >= 10)
    if grew != ["cpu0", "cpu1", "cpu2", "cpu3"]:
        raise Failure("busy time grew by 10+ ticks only on %s: %r" % (grew, busy))
    print("4 CPUs, 4 harts online, 4 parallel loops completed, each CPU busy: %s" %
          ", ".join("%s +%d" % (c, busy[c][1] - busy[c][0]) for c in sorted(busy)))

console.main(test)
PY
