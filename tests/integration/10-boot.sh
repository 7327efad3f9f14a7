#!/usr/bin/env bash
# boot: the default guest (no options at all) reaches its banner, which names
# riscv64 and 1 CPU, and then a shell prompt.
. "$(dirname "$0")/lib/common.sh"
require_vm
cd "$WORK"
"$PY" - <<'PY'
import console
from console import Failure

def test():
    vm = console.open_vm([], log="console.log")
    b = vm.boot()
    print("banner after %.1fs: %s" % (vm.banner_time, b.group(0)))
    if b["arch"] != "riscv64":
        raise Failure("banner arch is %r, want riscv64" % b["arch"])
    if b["cpus"] != "1":
        raise Failure("banner says %s CPUs, want 1" % b["cpus"])

console.main(test)
PY
