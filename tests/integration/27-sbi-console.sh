#!/usr/bin/env bash
# SBI console: with console=hvc0 the riscv guest's console is the SBI
# console (CONFIG_HVC_RISCV_SBI); output goes through the built-in SBI and
# input is read from the UART's receive FIFO, as OpenSBI does on QEMU.
. "$(dirname "$0")/lib/common.sh"
require_vm
[ "${XENO_PEER:-}" = qemu ] && skip "checks the built-in SBI console (with QEMU, OpenSBI answers instead)"
cd "$WORK"
"$PY" - <<'PY'
import console
from console import Failure

def test():
    vm = console.open_vm(["--cmdline", "console=hvc0"], log="console.log")
    vm.boot()
    tty = vm.run("tty").strip()
    if tty != "/dev/hvc0":
        raise Failure("the shell is on %r, want /dev/hvc0" % tty)
    if vm.run("echo tok-$((6*7))").strip() != "tok-42":
        raise Failure("no echo through the SBI console")
    vm.sendline("poweroff")
    if vm.wait(30) != 0:
        raise Failure("poweroff did not end the VM with status 0")

console.main(test)
PY
