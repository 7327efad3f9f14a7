#!/usr/bin/env bash
# virt-manager 4.1 against xend, under Xvfb (xvfb-run): with `--debug
# --connect URI` its connection becomes active and lists the running and
# the defined domains (its debug log says so); a domain started through
# xm afterwards appears by a lifecycle event, without polling. Then its
# connection details (--show-host-summary), switched to the Storage tab
# with xdotool, show the pools and their volumes. Screenshots of the main
# window and of the storage view are kept with the test logs
# (BUILD/test-logs/74-libvirt-virt-manager*.png) for a person to look at.
. "$(dirname "$0")/lib/common.sh"
. "$LIB/xend.sh"
require_vm
command -v virt-manager >/dev/null || skip "virt-manager is not installed (apt-get install virt-manager)"
command -v xvfb-run >/dev/null || skip "xvfb-run is not installed (apt-get install xvfb)"
command -v xdotool >/dev/null || skip "xdotool is not installed (apt-get install xdotool)"
SYSPY=/usr/bin/python3
"$SYSPY" -c 'import gi; gi.require_version("Gdk", "3.0"); from gi.repository import Gdk' 2>/dev/null ||
    skip "python3-gi with Gdk 3 is not installed (virt-manager's dependencies)"
cd "$WORK"
T0=$SECONDS
LOGS=${XENO_BUILD:-$ROOT/build}/test-logs
mkdir -p "$LOGS"
SHOT=$LOGS/74-libvirt-virt-manager.png
SHOT_STORAGE=$LOGS/74-libvirt-virt-manager-storage.png

start_xend
URI="xen:///system?socket=$WORK/libvirt-sock"
mkcfg() {
    cat >"$WORK/$1.cfg" <<CFG
name = "$1"
memory = 128
kernel = "$XENO_GUEST_DIR/Image"
ramdisk = "$XENO_GUEST_DIR/initramfs.cpio.gz"
extra = "console=ttyS0"
CFG
}
mkcfg vm1
mkcfg vm2
mkcfg vm3
"$XM" create "$WORK/vm1.cfg" >/dev/null || fail "xm create vm1"
"$XM" new "$WORK/vm2.cfg" >/dev/null || fail "xm new vm2"
virsh -c "$URI" vol-create-as default disk1.img 8M >/dev/null || fail "vol-create-as"

# The screen as a PNG, and a check that something was drawn.
cat >"$WORK/shot.py" <<'PY'
import sys
import gi
gi.require_version("Gdk", "3.0")
from gi.repository import Gdk
root = Gdk.get_default_root_window()
pb = Gdk.pixbuf_get_from_window(root, 0, 0, root.get_width(), root.get_height())
pb.savev(sys.argv[1], "png", [], [])
px = pb.get_pixels()
step = pb.get_n_channels()
colours = {bytes(px[i:i + 3]) for i in range(0, min(len(px), 3000000), step * 7)}
if len(colours) < 8:
    sys.exit("the screen is nearly blank (%d colours)" % len(colours))
print("screenshot: %d colours" % len(colours))
PY

# Inside the X server: virt-manager, then (once it lists the domains) vm3
# started through xm, then the screenshot.
cat >"$WORK/inside.sh" <<'EOF'
log=$WORK/virt-manager.log
virt-manager --debug --no-fork --connect "$URI" >"$log" 2>&1 &
vm=$!
wait_log() {   # wait_log REGEX SECONDS
    local i
    for i in $(seq $(($2 * 10))); do
        grep -Eq "$1" "$log" && return 0
        kill -0 $vm 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
rc=0
wait_log "changed to state=Active" 60 || { echo "FAIL: the connection did not become active"; rc=1; }
wait_log "domain=vm1 status=Running added" 10 || { echo "FAIL: vm1 (running) not listed"; rc=1; }
wait_log "domain=vm2 status=Shutoff added" 10 || { echo "FAIL: vm2 (defined) not listed"; rc=1; }
"$XM" create "$WORK/vm3.cfg" >/dev/null || { echo "FAIL: xm create vm3"; rc=1; }
wait_log "domain lifecycle event: domain=vm3" 20 || { echo "FAIL: no lifecycle event for vm3"; rc=1; }
wait_log "domain=vm3 status=Running added" 20 || { echo "FAIL: vm3 did not appear"; rc=1; }
sleep 2
"$SYSPY" "$WORK/shot.py" "$SHOT" || { echo "FAIL: screenshot"; rc=1; }
kill $vm 2>/dev/null
wait $vm 2>/dev/null
exit $rc
EOF

# The connection details, on the Storage tab (Ctrl+PageDown twice).
cat >"$WORK/storage.sh" <<'EOF'
log=$WORK/virt-manager-storage.log
virt-manager --debug --no-fork --connect "$URI" --show-host-summary >"$log" 2>&1 &
vm=$!
rc=0
win=
for _ in $(seq 300); do
    win=$(xdotool search --name 'Connection Details' 2>/dev/null | head -n1)
    [ -n "$win" ] && break
    sleep 0.1
done
if [ -z "$win" ]; then
    echo "FAIL: no Connection Details window"
    rc=1
else
    sleep 1
    xdotool windowfocus --sync "$win"
    xdotool key --window "$win" ctrl+Next
    sleep 0.5
    xdotool key --window "$win" ctrl+Next
    sleep 2
    "$SYSPY" "$WORK/shot.py" "$SHOT_STORAGE" || { echo "FAIL: storage screenshot"; rc=1; }
fi
kill $vm 2>/dev/null
wait $vm 2>/dev/null
exit $rc
EOF
export WORK URI XM SHOT SHOT_STORAGE SYSPY
export XDG_CONFIG_HOME=$WORK/config XDG_CACHE_HOME=$WORK/cache XDG_DATA_HOME=$WORK/data
export GSETTINGS_BACKEND=memory NO_AT_BRIDGE=1
timeout 180 xvfb-run -a -s "-screen 0 1024x768x24" bash "$WORK/inside.sh"
rc=$?
cp "$WORK/virt-manager.log" "$LOGS/74-libvirt-virt-manager.log" 2>/dev/null
if [ "$rc" != 0 ]; then
    grep -v '^ ' "$WORK/virt-manager.log" | tail -n 30
    fail "virt-manager (exit $rc)"
fi
timeout 120 xvfb-run -a -s "-screen 0 1024x768x24" bash "$WORK/storage.sh" ||
    { grep -v '^ ' "$WORK/virt-manager-storage.log" | tail -n 30; fail "virt-manager's storage view"; }
# What the storage view shows came from xend: the pools' volumes and their XML.
grep -q 'virStoragePoolListAllVolumes' "$WORK/xend.log" &&
    grep -q 'virStorageVolGetXMLDesc' "$WORK/xend.log" || fail "virt-manager did not read the volumes"
# Its only complaints: the APIs Xeno answers "not supported" for (networks,
# node devices, their events) and Domain-0, which it never tracks on Xen.
grep ' ERROR ' "$WORK/virt-manager.log" "$WORK/virt-manager-storage.log" &&
    fail "virt-manager logged errors"
grep -E 'xend: error|AddressSanitizer|runtime error' "$WORK/xend.log" && fail "xend logged errors"
[ -s "$SHOT" ] && [ -s "$SHOT_STORAGE" ] || fail "no screenshots in $LOGS"
echo "screenshots: $SHOT $SHOT_STORAGE ($((SECONDS - T0)) s)"
echo PASS
