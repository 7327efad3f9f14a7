#!/usr/bin/env bash
# console: commands typed on the console run in the guest and their output
# comes back: `uname -m` says riscv64, a random token is echoed back intact.
. "$(dirname "$0")/lib/common.sh"
require_vm
cd "$WORK"
"$PY" - <<'PY'
import console
from console import Failure

def test():
    vm = console.open_vm([], log="console.log")
    vm.boot()
    arch = vm.run("uname -m").strip()
    if arch != "riscv64":
        raise Failure("uname -m printed %r, want riscv64" % arch)
    tok = console.token()
    out = vm.run("echo %s | tr a-f A-F" % tok).strip()
    want = tok.translate(str.maketrans("abcdef", "ABCDEF"))
    if out != want:
        raise Failure("echo of %s came back as %r" % (tok, out))
    # A longer line, to catch lost or reordered console input.
    long = " ".join(console.token() for _ in range(8))
    out = vm.run("echo '%s'" % long).strip()
    if out != long:
        raise Failure("long echo came back as %r" % out)
    print("uname -m = %s, token echoed" % arch)

console.main(test)
PY
