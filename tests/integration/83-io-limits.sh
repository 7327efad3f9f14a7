#!/usr/bin/env bash
# I/O limits (docs/config.md): a disk's bps= and iops=, a vif's rate=
# (Xen's syntax), measured inside the guest: O_DIRECT reads from the disk
# and a transfer from the guest to the host through hostfwd must run at
# the limit (within bounds), not faster and not much slower. Bad values are
# config errors with file:line.
. "$(dirname "$0")/lib/common.sh"
require_vm
cd "$WORK"

# config errors
printf 'name = "x"\nmemory = 128\ndisk = [ "file:%s/d.img,xvda,w,bps=fast" ]\n' "$WORK" >bad.cfg
out=$(timeout 30 "$XENO_VMM" bad.cfg 2>&1) && fail "a bad bps= was accepted"
case $out in *"bad.cfg:3: disk bps 'fast' is not valid"*) ;; *) fail "bad bps: $out" ;; esac
printf 'name = "x"\nvif = [ "type=user,rate=10Mbit" ]\n' >badrate.cfg
out=$(timeout 30 "$XENO_VMM" badrate.cfg 2>&1) && fail "a bad rate= was accepted"
case $out in *"badrate.cfg:2: vif rate '10Mbit' is not valid"*) ;; *) fail "bad rate: $out" ;; esac
echo "config errors: ok"

truncate -s 64M disk.img disk2.img
"$PY" - <<'PY'
import console, guestnet, re, socket, time
from console import Failure

def within(what, got, want, lo=0.6, hi=1.15):
    print("%s: %.0f per second (limit %d)" % (what, got, want))
    if not (lo * want <= got <= hi * want):
        raise Failure("%s: %.0f per second, limit %d (want %.0f%%-%.0f%% of it)"
                      % (what, got, want, lo * 100, hi * 100))

def timed(vm, cmd, timeout=120):
    t0 = time.monotonic()
    out = vm.run(cmd, timeout=timeout)
    return time.monotonic() - t0, out

def test():
    BPS, IOPS, RATE = 4000000, 50, 1000000
    fwd = console.free_port()
    vm = console.open_vm(["--disk", "file:disk.img,xvda,w,bps=%d" % BPS,
                          "--disk", "file:disk2.img,xvdb,w,iops=%d" % IOPS,
                          "--net", "type=user,rate=%dB/s,hostfwd=tcp:127.0.0.1:%d-:8080" % (RATE, fwd)],
                         log="console.log")
    vm.boot()
    # bytes: 16 MiB of O_DIRECT reads (the bucket starts with a tenth of a
    # second's worth)
    n = 16 << 20
    dt, out = timed(vm, "dd if=/dev/vda of=/dev/null bs=256k count=64 iflag=direct 2>&1")
    within("disk bps=%d" % BPS, (n - BPS / 10) / dt, BPS)
    # ops: 200 reads of 4 KiB
    dt, out = timed(vm, "dd if=/dev/vdb of=/dev/null bs=4k count=200 iflag=direct 2>&1")
    within("disk iops=%d" % IOPS, (200 - IOPS / 10) / dt, IOPS)
    # net: the guest sends 4 MiB to the host through hostfwd
    guestnet.wait_for_dhcp(vm)
    size = 4 << 20
    vm.run("{ dd if=/dev/zero bs=64k count=64 2>/dev/null | nc -l -p 8080 >/dev/null 2>&1 & }")
    deadline = time.monotonic() + 60
    while True:
        try:
            s = socket.create_connection(("127.0.0.1", fwd), timeout=30)
            first = s.recv(65536)
            if first:
                break
            s.close()
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise Failure("no data from the guest through hostfwd")
        time.sleep(0.5)
    got, t0 = len(first), time.monotonic()
    while got < size:
        d = s.recv(1 << 20)
        if not d:
            break
        got += len(d)
    dt = time.monotonic() - t0
    s.close()
    if got < size:
        raise Failure("the transfer ended after %d of %d bytes" % (got, size))
    within("vif rate=%dB/s" % RATE, (size - len(first) - RATE * 0.05) / dt, RATE)

console.main(test)
PY
