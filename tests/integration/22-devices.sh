#!/usr/bin/env bash
# devices: the default machine gives the guest virtio-rng (reads random
# bytes from /dev/hwrng), virtio-balloon, and a virtio-console whose output
# (hvc0) reaches the VM's console output.
. "$(dirname "$0")/lib/common.sh"
require_vm
[ "${XENO_PEER:-}" = qemu ] && skip "compares xeno-vmm's default device set"
cd "$WORK"
"$PY" - <<'PY'
import console
from console import Failure

def test():
    vm = console.open_vm([], log="console.log")
    vm.boot()
    ids = vm.run("cat /sys/bus/virtio/devices/*/device").split()
    for want, name in (("0x0004", "rng"), ("0x0005", "balloon"), ("0x0003", "console")):
        if want not in ids:
            raise Failure("no virtio-%s in the guest (device ids %s)" % (name, ids))
    rnd = vm.run("head -c 64 /dev/hwrng | od -An -tx1 | tr -d ' \\n'").strip()
    if len(rnd) != 128 or rnd == "0" * 128:
        raise Failure("/dev/hwrng gave %r" % rnd)
    rnd2 = vm.run("head -c 64 /dev/hwrng | od -An -tx1 | tr -d ' \\n'").strip()
    if rnd2 == rnd:
        raise Failure("/dev/hwrng returned the same 64 bytes twice")
    tok = console.token("hvc")
    vm.sendline("echo %s-$((1+1)) > /dev/hvc0" % tok)
    vm.expect(tok + "-2", 20, "hvc0 output on the console")
    vm.sendline("poweroff")
    if vm.wait(30) != 0:
        raise Failure("poweroff did not end the VM with status 0")

console.main(test)
PY
