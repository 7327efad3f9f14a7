#!/usr/bin/env bash
# config: an xl.cfg-style domain config (kernel, ramdisk, extra, memory,
# vcpus) boots the guest with that memory and CPU count.
. "$(dirname "$0")/lib/common.sh"
require_vm
cd "$WORK"
cat >dom.cfg <<CFG
# Xeno test domain
name = "cfgtest"
kernel = "$XENO_GUEST_DIR/Image"
ramdisk = "$XENO_GUEST_DIR/initramfs.cpio.gz"
extra = "console=ttyS0"
memory = 192
vcpus = 2
on_crash = "destroy"
CFG
"$PY" - <<'PY'
import console
from console import Failure

def test():
    vm = console.open_vm(["dom.cfg"], log="console.log")
    b = vm.boot(timeout=console.BANNER_TIMEOUT * 2)
    print(b.group(0))
    if b["cpus"] != "2":
        raise Failure("banner says %s CPUs, want 2 (vcpus = 2)" % b["cpus"])
    mib = int(b["mib"])
    if not 150 <= mib <= 192:    # MemTotal: guest RAM less kernel reservations
        raise Failure("banner says %d MiB, want about 192 (memory = 192)" % mib)
    vm.sendline("poweroff")
    rc = vm.wait(30)
    if rc != 0:
        raise Failure("exit status %s after poweroff, want 0" % rc)

console.main(test)
PY
