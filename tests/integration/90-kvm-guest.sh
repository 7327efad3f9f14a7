#!/usr/bin/env bash
# kvm engine: the freestanding x86-64 test guest (tests/guests), booted as
# a vmlinux-style ELF, a PVH ELF and a bzImage, with 4 vCPUs, a disk, user
# networking, rng and the virtio console. The guest reports over COM1:
# boot parameters and e820 intact (RAM size, top page writable), ACPI
# tables valid with every CPU in the MADT, all vCPUs up exchanging IPIs,
# LAPIC timer ticks, virtio-blk read/write/flush (the host sees the write),
# an ARP reply from slirp's 10.0.2.2, rng bytes, hvc0 output; then powers
# off (exit 0). A 3.5 GiB guest checks RAM above the 4 GiB hole.
. "$(dirname "$0")/lib/common.sh"
. "$LIB/kvm.sh"
cd "$WORK"

run_guest() {   # kernel vcpus memory token -> console.log, status in $rc
    local kernel=$1 vcpus=$2 mem=$3 token=$4
    printf 'XENO-BLK-TEST' > disk.img
    truncate -s 1M disk.img
    set +e
    timeout 60 "$XENO_VMM" --engine kvm --kernel "$GUESTS/$kernel" --vcpus "$vcpus" \
        --memory "$mem" --cmdline "console=ttyS0 xtest.token=$token" \
        --disk file:$WORK/disk.img,vda,w --net type=user </dev/null >console.log 2>stderr.log
    rc=$?
    set -e
}

expect() { grep -q -- "$1" console.log || { cat console.log stderr.log; fail "$2"; }; }

set -e
for kernel in xtest.elf xtest-pvh.elf xtest.bzImage; do
    token=tok$RANDOM$RANDOM
    t0=$(date +%s.%N)
    run_guest $kernel 4 128 $token
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
    expect "done, 0 failures" "$kernel: the guest reported failures"
    grep -q "FAIL" console.log && { cat console.log; fail "$kernel: FAIL in the guest"; }
    dd if=disk.img bs=512 skip=1 count=1 2>/dev/null | grep -aq "XENO-BLK-WROTE $token" ||
        fail "$kernel: the guest's write is not in the disk image"
    echo "$kernel: all checks passed in $(awk "BEGIN{printf \"%.2f\", $t1 - $t0}") s"
done

# Above the hole: 3584 MiB = 3 GiB below 4 GiB + 512 MiB above.
run_guest xtest.elf 1 3584 big
[ $rc = 0 ] || { cat console.log stderr.log; fail "3584 MiB guest: exit status $rc"; }
expect "low end 0xc0000000, high 512 MiB" "3584 MiB guest: e820 does not split RAM around the hole"
grep -q "FAIL" console.log && { cat console.log; fail "3584 MiB guest: FAIL in the guest"; }
echo "3584 MiB guest: RAM below and above the 4 GiB hole ok"
