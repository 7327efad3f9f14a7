#!/usr/bin/env bash
# Storage pools and volumes as virt-manager's storage view and virsh use
# them (python3-libvirt: pools, their info and XML, volumes, a new raw
# volume, a refused qcow2; virsh: a directory pool defined, built, started,
# autostarted, kept across an xend restart); managed save through virsh
# (the domain is saved, xm shows it saved, start restores it with its
# uptime and a tmpfs file intact, managedsave-remove makes the next start
# boot), virsh save and restore of a file; persistent config changes (setmaxmem/setvcpus --config, dumpxml
# --inactive, autostart) land in xend's stored config.
. "$(dirname "$0")/lib/common.sh"
. "$LIB/xend.sh"
require_vm
command -v virsh >/dev/null || skip "virsh is not installed (apt-get install libvirt-clients)"
SYSPY=/usr/bin/python3
"$SYSPY" -c 'import libvirt' 2>/dev/null || skip "python3-libvirt is not installed (apt-get install python3-libvirt)"
cd "$WORK"
T0=$SECONDS

start_xend
URI="xen:///system?socket=$WORK/libvirt-sock"
errors=0
bad() { echo "FAIL: $*"; errors=$((errors+1)); }
die() { tail -n 30 "$WORK/xend.log"; fail "$*"; }
v() { OUT=$(virsh -c "$URI" "$@" 2>"$WORK/err"); RC=$?; ERR=$(cat "$WORK/err"); }
vok() { v "$@"; [ "$RC" = 0 ] || bad "virsh $*: rc=$RC $ERR"; }
cat >"$WORK/virsh-uri" <<EOF
#!/bin/sh
exec virsh -c '$URI' "\$@"
EOF
chmod +x "$WORK/virsh-uri"
con() { "$PY" "$LIB/xmcon.py" "$WORK/virsh-uri" "$@"; }

# --- the storage view ------------------------------------------------------------
"$SYSPY" - "$URI" "$ST/images" <<'PY' || bad "storage through python3-libvirt"
import os, sys
import libvirt

uri, images = sys.argv[1:3]
conn = libvirt.open(uri)
pools = {p.name(): p for p in conn.listAllStoragePools()}
assert "default" in pools, pools
p = pools["default"]
state, cap, alloc, avail = p.info()
assert state == libvirt.VIR_STORAGE_POOL_RUNNING and cap > 0 and avail > 0, p.info()
assert "<path>%s</path>" % images in p.XMLDesc(0), p.XMLDesc(0)
assert p.isActive() and p.isPersistent() and p.autostart()
p.refresh(0)
vol = p.createXML("<volume><name>new.img</name><capacity unit='MiB'>8</capacity>"
                  "<allocation>0</allocation><target><format type='raw'/></target></volume>", 0)
path = os.path.join(images, "new.img")
assert vol.path() == path and vol.key() == path, (vol.path(), vol.key())
st = os.stat(path)
assert st.st_size == 8 << 20 and st.st_blocks * 512 < 8 << 20, st      # sparse
assert [v.name() for v in p.listAllVolumes()] == ["new.img"]
assert vol.info() == [0, 8 << 20, st.st_blocks * 512], vol.info()
assert "<format type=\"raw\"/>" in vol.XMLDesc(0)
assert conn.storageVolLookupByPath(path).name() == "new.img"
assert vol.storagePoolLookupByVolume().name() == "default"
try:
    p.createXML("<volume><name>q.img</name><capacity>1</capacity><target>"
                "<format type='qcow2'/></target></volume>", 0)
    sys.exit("a qcow2 volume was created")
except libvirt.libvirtError as e:
    assert e.get_error_code() == libvirt.VIR_ERR_CONFIG_UNSUPPORTED, e
    assert "<format type='qcow2'>" in str(e), str(e)
assert not os.path.exists(os.path.join(images, "q.img"))
try:
    conn.storagePoolLookupByName("nope")
    sys.exit("pool nope found")
except libvirt.libvirtError as e:
    assert e.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_POOL, e
vol.delete(0)
assert not os.path.exists(path)
try:
    conn.storageVolLookupByPath(path)
    sys.exit("a deleted volume was found")
except libvirt.libvirtError as e:
    assert e.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_VOL, e
print("storage ok")
PY

vok pool-define-as p2 dir --target "$WORK/p2"
vok pool-build p2
[ -d "$WORK/p2" ] || bad "pool-build did not make $WORK/p2"
vok pool-start p2
vok pool-autostart p2
vok vol-create-as p2 disk.img 2M --format raw
[ "$(stat -c %s "$WORK/p2/disk.img")" = $((2 << 20)) ] || bad "vol-create-as: $(ls -l "$WORK/p2")"
kill "$XEND_PID"; wait "$XEND_PID" 2>/dev/null
start_xend
vok pool-info p2
echo "$OUT" | grep -Eq '^State: +running$' && echo "$OUT" | grep -Eq '^Autostart: +yes$' ||
    bad "p2 after an xend restart: $OUT"
vok vol-list p2
echo "$OUT" | grep -q "disk.img" || bad "p2's volumes: $OUT"
vok pool-destroy p2
vok pool-undefine p2
v pool-info p2
[ "$RC" = 1 ] || bad "p2 still there after undefine"
[ -f "$WORK/p2/disk.img" ] || bad "undefining a pool removed its files"
echo "storage ok ($((SECONDS - T0)) s)"

# --- managed save --------------------------------------------------------------
cat >"$WORK/ms1.xml" <<EOF
<domain type='xen'>
  <name>ms1</name>
  <memory unit='MiB'>192</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='riscv64'>xen</type>
    <kernel>$XENO_GUEST_DIR/Image</kernel>
    <initrd>$XENO_GUEST_DIR/initramfs.cpio.gz</initrd>
    <cmdline>console=ttyS0</cmdline>
  </os>
</domain>
EOF
vok define "$WORK/ms1.xml"
vok start ms1
con ms1 wait || die "ms1: no shell prompt"
tok=$(rand_token)
con ms1 run "echo $tok > /tmp/mark" >/dev/null || bad "ms1: write the mark"
sleep 2
up0=$(con ms1 run 'cut -d. -f1 /proc/uptime')
vok managedsave ms1
vok domstate ms1 --reason
echo "$OUT" | grep -q '^shut off (saved)' || bad "domstate after managedsave: $OUT"
vok dominfo ms1
echo "$OUT" | grep -Eq '^Managed save: +yes$' || bad "dominfo after managedsave: $OUT"
"$XM" list ms1 | grep -q -- '---S--' || bad "xm list after managedsave: $("$XM" list ms1)"
[ -f "$ST/save/ms1.save" ] || bad "no managed save file"
vok start ms1
out=$(con ms1 run 'cat /tmp/mark') || bad "ms1 after restore"
[ "$out" = "$tok" ] || bad "the tmpfs mark after restore: '$out'"
up1=$(con ms1 run 'cut -d. -f1 /proc/uptime')
[ -n "$up0" ] && [ -n "$up1" ] && [ "$up1" -ge "$up0" ] || bad "uptime went back: $up0 -> $up1"
[ -f "$ST/save/ms1.save" ] && bad "the save file stayed after the restore"
vok managedsave ms1
vok managedsave-remove ms1
vok dominfo ms1
echo "$OUT" | grep -Eq '^Managed save: +no$' || bad "dominfo after managedsave-remove: $OUT"
[ -f "$ST/save/ms1.save" ] && bad "managedsave-remove left the file"
vok start ms1
out=$(con ms1 run 'cat /tmp/mark 2>/dev/null || echo none') || bad "ms1 after a fresh boot"
[ "$out" = none ] || bad "a removed managed save still restored: '$out'"
# save to a file and restore from it (xm save / xm restore)
tok=$(rand_token)
con ms1 run "echo $tok > /tmp/mark" >/dev/null || bad "ms1: write the mark"
vok save ms1 "$WORK/ms1.sav"
[ -s "$WORK/ms1.sav" ] || bad "virsh save wrote no $WORK/ms1.sav"
[ "$(virsh -c "$URI" domstate ms1)" = "shut off" ] || bad "ms1 after save: $(virsh -c "$URI" domstate ms1)"
vok restore "$WORK/ms1.sav" --paused
[ "$(virsh -c "$URI" domstate ms1)" = paused ] || bad "ms1 after restore --paused"
vok resume ms1
out=$(con ms1 run 'cat /tmp/mark') || bad "ms1 after virsh restore"
[ "$out" = "$tok" ] || bad "the tmpfs mark after virsh restore: '$out'"
v restore "$WORK/ms1.xml"
[ "$RC" = 1 ] && echo "$ERR" | grep -q 'is not a Xeno save file' || bad "restore of a non-save file: $ERR"
vok destroy ms1
echo "managed save ok ($((SECONDS - T0)) s)"

# --- persistent config changes ---------------------------------------------------
vok setmaxmem ms1 384M --config
vok setvcpus ms1 4 --config --maximum
vok setvcpus ms1 2 --config
vok setmem ms1 256M --config
vok dumpxml ms1 --inactive
echo "$OUT" | grep -q '<memory unit="KiB">393216</memory>' || bad "inactive memory: $OUT"
echo "$OUT" | grep -q '<currentMemory unit="KiB">262144</currentMemory>' || bad "currentMemory: $OUT"
echo "$OUT" | grep -q '<vcpu placement="static" current="2">4</vcpu>' || bad "vcpus: $OUT"
grep -q '^maxmem = 384$' "$ST/domains/ms1.cfg" && grep -q '^memory = 256$' "$ST/domains/ms1.cfg" &&
    grep -q '^maxvcpus = 4$' "$ST/domains/ms1.cfg" || bad "xend's config: $(cat "$ST/domains/ms1.cfg")"
vok autostart ms1
[ -f "$ST/domains/ms1.autostart" ] || bad "virsh autostart did not mark ms1"
vok autostart ms1 --disable
[ -f "$ST/domains/ms1.autostart" ] && bad "autostart --disable left the mark"
vok start ms1
"$XM" list ms1 | awk 'NR == 2 && $3 == 256 && $4 == 2 { ok = 1 } END { exit !ok }' ||
    bad "ms1 did not start with its new config: $("$XM" list ms1)"
# A config change of a running domain is for its next start: the live XML
# is what runs, the inactive XML what is stored, and the domain "updated".
vok setmem ms1 160M --config
vok dumpxml ms1
echo "$OUT" | grep -q '<currentMemory unit="KiB">262144</currentMemory>' || bad "live XML: $OUT"
vok dumpxml ms1 --inactive
echo "$OUT" | grep -q '<currentMemory unit="KiB">163840</currentMemory>' || bad "inactive XML: $OUT"
"$SYSPY" -c 'import libvirt, sys; sys.exit(libvirt.open(sys.argv[1]).lookupByName("ms1").isUpdated() != 1)' \
    "$URI" || bad "ms1 is not marked updated"
vok destroy ms1
vok undefine ms1

grep -E 'xend: error|AddressSanitizer|runtime error' "$WORK/xend.log" && bad "xend logged errors"
echo "done in $((SECONDS - T0)) s"
[ "$errors" = 0 ] || fail "$errors checks failed"
echo PASS
