#!/usr/bin/env bash
# firmware: with `--firmware` Debian's OpenSBI (fw_dynamic) runs in M-mode
# first and boots the same kernel in S-mode on 2 harts; its banner is on the
# console; poweroff goes through OpenSBI's SRST and ends the VM with 0.
. "$(dirname "$0")/lib/common.sh"
require_vm
[ "${XENO_PEER:-}" = qemu ] && skip "QEMU always runs OpenSBI (-bios default)"
FW=/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin
[ -f "$FW" ] || fail "no OpenSBI firmware at $FW (package opensbi; scripts/deps.sh installs it)"
cd "$WORK"
FW=$FW "$PY" - <<'PY'
import os
import console
from console import Failure

def test():
    vm = console.open_vm(["--firmware", os.environ["FW"], "--vcpus", "2"], log="console.log")
    b = vm.boot()
    out = vm.text()
    if "OpenSBI v" not in out:
        raise Failure("no OpenSBI banner before the kernel")
    if b["cpus"] != "2":
        raise Failure("banner says %s CPUs, want 2" % b["cpus"])
    if vm.run("uname -m").strip() != "riscv64":
        raise Failure("uname -m is not riscv64")
    vm.sendline("poweroff")
    rc = vm.wait(30)
    if rc != 0:
        raise Failure("exit status %r after poweroff, want 0" % rc)

console.main(test)
PY
