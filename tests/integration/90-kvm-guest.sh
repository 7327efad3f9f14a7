#!/usr/bin/env bash
# kvm engine: the freestanding x86-64 test guest (tests/guests), booted as
# a vmlinux-style ELF, a PVH ELF and a bzImage, with 4 vCPUs, a disk, user
# networking, rng and the virtio console. The guest reports over COM1:
# boot parameters and e820 intact (RAM size, top page writable), ACPI
# tables valid with every CPU in the MADT, all vCPUs up exchanging IPIs,
# LAPIC timer ticks, virtio-blk read/write/flush (the host sees the write),
# an ARP reply from slirp's 10.0.2.2, rng bytes, hvc0 output, the kvmclock
# CPUID leaves and a kvmclock that advances; then powers off (exit 0).
# Virtio interrupts go through irqfd and doorbells through ioeventfd where
# KVM has them (counted in the -v -v debug line), and the exit-based
# fallback (XENO_KVM_EVENTFD=0) passes the same checks. With console=hvc0
# the console input reaches hvc0: the guest's echo request comes back.
# A 3.5 GiB guest checks RAM above the 4 GiB hole.
. "$(dirname "$0")/lib/common.sh"
. "$LIB/kvm.sh"
cd "$WORK"

run_guest() {   # kernel vcpus memory token [vmm args] -> console.log, status in $rc
    local kernel=$1 vcpus=$2 mem=$3 token=$4
    shift 4
    printf 'XENO-BLK-TEST' > disk.img
    truncate -s 1M disk.img
    set +e
    timeout 60 "$XENO_VMM" --engine kvm --kernel "$GUESTS/$kernel" --vcpus "$vcpus" \
        --memory "$mem" --cmdline "console=ttyS0 xtest.token=$token" \
        --disk file:$WORK/disk.img,vda,w --net type=user "$@" </dev/null >console.log 2>stderr.log
    rc=$?
    set -e
}

expect() { grep -q -- "$1" console.log || { cat console.log stderr.log; fail "$2"; }; }

# irqfd (with resample) and ioeventfd on this host's /dev/kvm?
eventfds=$("$PY" - <<'PY'
import fcntl, os
fd = os.open("/dev/kvm", os.O_RDWR)
caps = [fcntl.ioctl(fd, 0xAE03, c) for c in (32, 82, 36)]  # IRQFD, IRQFD_RESAMPLE, IOEVENTFD
print("yes" if all(c > 0 for c in caps) else "no")
PY
)

set -e
for kernel in xtest.elf xtest-pvh.elf xtest.bzImage xtest.elf:noeventfd; do
    token=tok$RANDOM$RANDOM
    t0=$(date +%s.%N)
    if [ $kernel = xtest.elf:noeventfd ]; then
        XENO_KVM_EVENTFD=0 run_guest xtest.elf 4 128 $token -v -v
        grep -q "interrupts by KVM_IRQ_LINE, doorbells by MMIO exits" stderr.log ||
            { cat stderr.log; fail "XENO_KVM_EVENTFD=0 does not say it falls back"; }
        grep -q " 0 doorbells by ioeventfd, 0 interrupts by irqfd" stderr.log ||
            { cat stderr.log; fail "XENO_KVM_EVENTFD=0 still used eventfds"; }
    else
        run_guest $kernel 4 128 $token -v -v
    fi
    t1=$(date +%s.%N)
    [ $rc = 0 ] || { cat console.log stderr.log; fail "$kernel: exit status $rc, want 0 (poweroff)"; }
    case $kernel in
        xtest-pvh.elf) expect "entered via PVH" "$kernel: not entered through the PVH note" ;;
        *) expect "entered via 64-bit boot protocol" "$kernel: not entered through the 64-bit entry" ;;
    esac
    expect "xtest: token $token" "$kernel: command line token lost"
    expect "e820 .* 130.* KiB RAM" "$kernel: e820 does not describe 128 MiB"
    expect "MADT lists 4 cpus" "$kernel: MADT does not list 4 CPUs"
    expect "lapic timer 10 ticks" "$kernel: no LAPIC timer ticks"
    expect "smp 4/4 cpus up, 3 ipis to bsp, 3 ipis to aps" "$kernel: SMP/IPI check failed"
    expect "blk ok" "$kernel: virtio-blk check failed"
    expect "net ok: arp reply for 10.0.2.2" "$kernel: no ARP reply through slirp"
    expect "rng ok" "$kernel: virtio-rng check failed"
    expect "hvc0 says hello" "$kernel: virtio-console output missing"
    expect "cpuid 0x40000000 KVMKVMKVM" "$kernel: no KVM signature in CPUID 0x40000000"
    expect "kvmclock ok" "$kernel: kvmclock missing or not advancing"
    if [ $eventfds = yes ] && [ $kernel != xtest.elf:noeventfd ]; then
        grep -Eq " [1-9][0-9]* doorbells by ioeventfd, [1-9][0-9]* interrupts by irqfd" stderr.log ||
            { cat stderr.log; fail "$kernel: doorbells/interrupts did not use ioeventfd/irqfd"; }
        echo "$kernel: $(grep -o '[0-9]* doorbells by ioeventfd, [0-9]* interrupts by irqfd' stderr.log)"
    fi
    expect "done, 0 failures" "$kernel: the guest reported failures"
    grep -q "FAIL" console.log && { cat console.log; fail "$kernel: FAIL in the guest"; }
    dd if=disk.img bs=512 skip=1 count=1 2>/dev/null | grep -aq "XENO-BLK-WROTE $token" ||
        fail "$kernel: the guest's write is not in the disk image"
    echo "$kernel: all checks passed in $(awk "BEGIN{printf \"%.2f\", $t1 - $t0}") s"
done

# hvc0 echo: console=hvc0 sends the console input to the virtio console;
# the guest writes "xtest: hvc0 echo TOKEN" there and waits for TOKEN back.
"$PY" - "$XENO_VMM" "$GUESTS/xtest.elf" <<'PY'
import os, select, subprocess, sys, time
vmm, kernel = sys.argv[1:3]
tok = "echo%d" % os.getpid()
p = subprocess.Popen([vmm, "--engine", "kvm", "--kernel", kernel, "--memory", "64",
                      "--cmdline", "console=hvc0 xtest.echo xtest.token=" + tok],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
out, sent, end = b"", False, time.monotonic() + 30
while time.monotonic() < end:
    r, _, _ = select.select([p.stdout], [], [], 0.1)
    if r:
        b = os.read(p.stdout.fileno(), 4096)
        if not b:
            break
        out += b
        if not sent and ("hvc0 echo " + tok + "\n").encode() in out.replace(b"\r", b""):
            p.stdin.write((tok + "\n").encode())
            p.stdin.flush()
            sent = True
try:
    rc = p.wait(10)
except subprocess.TimeoutExpired:
    p.kill()
    rc = p.wait()
text = out.decode(errors="replace")
if not sent or "console echo ok" not in text or "FAIL" in text or rc != 0:
    print(text + p.stderr.read().decode(errors="replace"))
    print("FAIL: hvc0 echo (sent %s, exit %d)" % (sent, rc))
    sys.exit(1)
print("hvc0 echo: console input reached hvc0 and came back, exit 0")
PY

# Above the hole: 3584 MiB = 3 GiB below 4 GiB + 512 MiB above.
run_guest xtest.elf 1 3584 big
[ $rc = 0 ] || { cat console.log stderr.log; fail "3584 MiB guest: exit status $rc"; }
expect "low end 0xc0000000, high 512 MiB" "3584 MiB guest: e820 does not split RAM around the hole"
grep -q "FAIL" console.log && { cat console.log; fail "3584 MiB guest: FAIL in the guest"; }
echo "3584 MiB guest: RAM below and above the 4 GiB hole ok"
