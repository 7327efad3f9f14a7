#!/usr/bin/env bash
# smp: --vcpus 4 gives a banner with 4 CPUs, /proc/cpuinfo lists 4 harts,
# and a busy loop on every hart at once completes.
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
    # Four shell busy loops in parallel, each counting to N; all must finish.
    loop = "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; echo done-$i"
    out = vm.run("for n in 1 2 3 4; do (%s) & done; wait" % loop, timeout=300)
    if out.count("done-20000") != 4:
        raise Failure("parallel busy loops did not all finish: %r" % out)
    print("4 CPUs, 4 harts online, 4 parallel loops completed")

console.main(test)
PY
