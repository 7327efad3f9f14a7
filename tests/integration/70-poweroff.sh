#!/usr/bin/env bash
# poweroff: `poweroff` in the guest ends the VMM with status 0 within 30 s;
# `reboot` ends it with status 2.
. "$(dirname "$0")/lib/common.sh"
require_vm
cd "$WORK"
"$PY" - <<'PY'
import console, time
from console import Failure

def end_with(cmd, want, log):
    vm = console.open_vm([], log=log)
    vm.boot()
    t0 = time.monotonic()
    vm.sendline(cmd)
    rc = vm.wait(30)
    dt = time.monotonic() - t0
    if rc is None:
        raise Failure("VMM still running 30 s after `%s`" % cmd)
    if rc != want:
        raise Failure("VMM exit status %d after `%s`, want %d" % (rc, cmd, want))
    print("`%s`: exit status %d after %.1fs" % (cmd, rc, dt))

def test():
    end_with("poweroff", 0, "console-poweroff.log")
    end_with("reboot", 2, "console-reboot.log")

console.main(test)
PY
