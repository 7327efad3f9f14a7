#!/usr/bin/env bash
# virt-install (virtinst 4.1) against xend: --import --disk PATH with
# --boot kernel=,initrd=,kernel_args= creates a persistent domain that
# boots (its console through xm, its disk in the guest); the disk's
# directory becomes a storage pool, as virt-install makes it; --disk
# size=N makes a raw volume in the default pool; a configuration Xeno
# cannot honour (--graphics vnc, which brings a tablet and a keyboard) is
# refused, naming the element, and leaves nothing behind.
. "$(dirname "$0")/lib/common.sh"
. "$LIB/xend.sh"
require_vm
command -v virt-install >/dev/null || skip "virt-install is not installed (apt-get install virtinst)"
command -v virsh >/dev/null || skip "virsh is not installed (apt-get install libvirt-clients)"
cd "$WORK"
T0=$SECONDS
# virt-install keeps its log under XDG_CACHE_HOME: the test's, not root's.
export XDG_CACHE_HOME=$WORK/cache XDG_CONFIG_HOME=$WORK/config

start_xend
URI="xen:///system?socket=$WORK/libvirt-sock"
G=$XENO_GUEST_DIR
errors=0
bad() { echo "FAIL: $*"; errors=$((errors+1)); }
die() { tail -n 30 "$WORK/xend.log"; fail "$*"; }
con() { "$PY" "$LIB/xmcon.py" "$XM" "$@"; }
vi() {   # vi NAME DISK [ARGS...]: virt-install, output in $WORK/vi-NAME.log
    local name=$1 disk=$2
    shift 2
    timeout 120 virt-install --connect "$URI" --name "$name" --import --disk "$disk" \
        --memory 256 --vcpus 2 \
        --boot "kernel=$G/Image,initrd=$G/initramfs.cpio.gz,kernel_args=console=ttyS0" \
        --osinfo detect=on,require=off --noautoconsole "$@" >"$WORK/vi-$name.log" 2>&1
}

# --- --import --disk PATH ----------------------------------------------------
mkdir -p "$WORK/images"
truncate -s 64M "$WORK/images/d1.img"
vi vi1 "$WORK/images/d1.img" || { cat "$WORK/vi-vi1.log"; die "virt-install vi1 failed"; }
grep -q 'Domain creation completed' "$WORK/vi-vi1.log" || bad "virt-install vi1: $(cat "$WORK/vi-vi1.log")"
"$XM" list vi1 | awk 'NR == 2 && $3 == 256 && $4 == 2 { ok = 1 } END { exit !ok }' ||
    bad "xm list vi1: $("$XM" list vi1 2>&1)"
[ -f "$ST/domains/vi1.cfg" ] || bad "vi1 is not persistent (no managed config)"
virsh -c "$URI" dominfo vi1 | grep -Eq '^Persistent: +yes$' || bad "virsh: vi1 not persistent"
virsh -c "$URI" pool-list --all --name | grep -Eq '^images *$' ||
    bad "no pool for $WORK/images: $(virsh -c "$URI" pool-list --all)"

con vi1 wait || die "vi1: no shell prompt on xm console"
out=$(con vi1 run 'grep -c ^processor /proc/cpuinfo') || bad "vi1 console"
[ "$out" = 2 ] || bad "vi1 sees '$out' CPUs"
out=$(con vi1 run 'cat /sys/block/vda/size') || bad "vi1 console"
[ "$out" = 131072 ] || bad "vi1's disk: '$out' sectors, wanted 131072 (64 MiB)"
echo "vi1 boots ($((SECONDS - T0)) s)"

# --- --disk size=1: a new raw volume in the default pool ---------------------
vi vi2 size=1 || { cat "$WORK/vi-vi2.log"; die "virt-install vi2 failed"; }
vol=$ST/images/vi2.img
[ -f "$vol" ] && [ "$(stat -c %s "$vol")" = $((1 << 30)) ] || bad "volume $vol: $(ls -l "$vol" 2>&1)"
virsh -c "$URI" vol-list default | grep -q "vi2.img" || bad "vi2.img not in the default pool"
virsh -c "$URI" dumpxml vi2 | grep -q "<source file=\"$vol\"/>" || bad "vi2's disk is not $vol"
"$XM" list vi2 >/dev/null 2>&1 || bad "xm does not see vi2"

# --- what cannot be honoured is refused; nothing is left ---------------------
truncate -s 16M "$WORK/images/d3.img"
if vi vi3 "$WORK/images/d3.img" --graphics vnc; then
    bad "virt-install --graphics vnc succeeded"
fi
grep -Eq "unsupported configuration: <devices><(graphics|input)>: Xeno domains have no graphical console" \
    "$WORK/vi-vi3.log" || bad "graphics refusal: $(cat "$WORK/vi-vi3.log")"
"$XM" list vi3 >/dev/null 2>&1 && bad "a refused install left vi3 behind"

# --- the domains go as they came ---------------------------------------------
for d in vi1 vi2; do
    virsh -c "$URI" destroy "$d" >/dev/null || bad "virsh destroy $d"
    virsh -c "$URI" undefine "$d" >/dev/null || bad "virsh undefine $d"
done
[ "$("$XM" list | wc -l)" = 2 ] || bad "domains left: $("$XM" list)"
grep -E 'xend: error|AddressSanitizer|runtime error' "$WORK/xend.log" && bad "xend logged errors"

echo "done in $((SECONDS - T0)) s"
[ "$errors" = 0 ] || fail "$errors checks failed"
echo PASS
