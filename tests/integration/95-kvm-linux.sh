#!/usr/bin/env bash
# kvm engine: Debian's x86-64 Linux kernel (linux-image-amd64) with a
# busybox-static initramfs boots to a shell on 2 vCPUs, sees both CPUs and
# the virtio disk (virtio_mmio.device= from the command line), and powers
# off (ACPI S5, exit 0). Runs only where the CPU has vmx or svm: on the
# paging-based nested KVM (kvm_pvm) an unmodified kernel does not boot.
#   XENO_X86_KERNEL  kernel to boot (default: Debian's current linux-image-amd64
#                    kernel and busybox-static, fetched with apt-get download
#                    and unpacked into the cache, never installed)
. "$(dirname "$0")/lib/common.sh"
. "$LIB/kvm.sh"
grep -qwE 'vmx|svm' /proc/cpuinfo ||
    skip "this host has no vmx/svm (xm info): an unmodified x86-64 Linux needs hardware virtualization$( [ -e /sys/module/kvm_pvm ] && echo '; /dev/kvm here is the paging-based nested kvm_pvm')"
if [ -n "${XENO_X86_KERNEL:-}" ]; then
    KERNEL=$XENO_X86_KERNEL
    BUSYBOX=$(command -v busybox || true)
else
    got=$(bash "$LIB/x86-linux.sh") || fail "cannot fetch Debian's linux-image-amd64 and busybox-static"
    KERNEL=$(echo "$got" | sed -n 1p)
    BUSYBOX=$(echo "$got" | sed -n 2p)
fi
[ -n "$KERNEL" ] && [ -r "$KERNEL" ] || fail "no x86-64 kernel at '$KERNEL'"
[ -n "$BUSYBOX" ] && file -L "$BUSYBOX" | grep -q 'statically linked' ||
    fail "no static busybox at '$BUSYBOX'"
cd "$WORK"
mkdir -p root/bin root/proc root/sys root/dev
cp "$BUSYBOX" root/bin/busybox
cat > root/init <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
echo "LINUX-UP cpus=$(grep -c ^processor /proc/cpuinfo) disk=$(cat /sys/block/vda/size 2>/dev/null)"
poweroff -f
INIT
chmod +x root/init
(cd root && find . | cpio -o -H newc 2>/dev/null | gzip) > initramfs.cpio.gz
truncate -s 64M disk.img
set +e
timeout 120 "$XENO_VMM" --engine kvm --kernel "$KERNEL" --initrd initramfs.cpio.gz --vcpus 2 \
    --memory 512 --disk file:$WORK/disk.img,vda,w \
    --cmdline "console=ttyS0 panic=-1 quiet" </dev/null >console.log 2>&1
rc=$?
set -e
grep -q "LINUX-UP cpus=2 disk=131072" console.log || { tail -50 console.log; fail "Linux did not reach the shell with 2 CPUs and the disk"; }
[ $rc = 0 ] || { tail -20 console.log; fail "exit status $rc after poweroff, want 0"; }
echo "Linux $(basename "$KERNEL"): shell on 2 vCPUs with virtio-blk, poweroff exit 0"
