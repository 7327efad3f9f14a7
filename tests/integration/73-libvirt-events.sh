#!/usr/bin/env bash
# python3-libvirt against xend: a lifecycle event callback receives
# STARTED and STOPPED for a domain started and destroyed through xm, and
# SUSPENDED/RESUMED, DEFINED/UNDEFINED for xm pause/unpause, new/delete;
# libvirt's error codes and messages reach the application; the
# connection stays up across keepalive intervals.
. "$(dirname "$0")/lib/common.sh"
. "$LIB/xend.sh"
require_vm
SYSPY=/usr/bin/python3
"$SYSPY" -c 'import libvirt' 2>/dev/null || skip "python3-libvirt is not installed (apt-get install python3-libvirt)"
cd "$WORK"

start_xend
URI="xen:///system?socket=$WORK/libvirt-sock"
cat >"$WORK/ev1.cfg" <<CFG
name = "ev1"
memory = 128
kernel = "$XENO_GUEST_DIR/Image"
ramdisk = "$XENO_GUEST_DIR/initramfs.cpio.gz"
extra = "console=ttyS0"
CFG
sed 's/ev1/ev2/' "$WORK/ev1.cfg" >"$WORK/ev2.cfg"

cat >"$WORK/events.py" <<'PY'
import subprocess, sys, threading, time
import libvirt

uri, xm, work = sys.argv[1:4]
E = libvirt
names = {E.VIR_DOMAIN_EVENT_DEFINED: "DEFINED", E.VIR_DOMAIN_EVENT_UNDEFINED: "UNDEFINED",
         E.VIR_DOMAIN_EVENT_STARTED: "STARTED", E.VIR_DOMAIN_EVENT_SUSPENDED: "SUSPENDED",
         E.VIR_DOMAIN_EVENT_RESUMED: "RESUMED", E.VIR_DOMAIN_EVENT_STOPPED: "STOPPED"}
got = []
lock = threading.Condition()

def lifecycle(conn, dom, event, detail, opaque):
    with lock:
        got.append((dom.name(), dom.UUIDString(), names.get(event, str(event)), detail))
        lock.notify_all()

def wait_for(name, event, timeout=20):
    end = time.monotonic() + timeout
    with lock:
        while True:
            for g in got:
                if g[0] == name and g[2] == event:
                    got.remove(g)
                    return g
            left = end - time.monotonic()
            if left <= 0:
                sys.exit("no %s event for %s; got %r" % (event, name, got))
            lock.wait(left)

def xmdo(*args):
    subprocess.run([xm] + list(args), check=True, stdout=subprocess.DEVNULL)

libvirt.virEventRegisterDefaultImpl()
threading.Thread(target=lambda: [libvirt.virEventRunDefaultImpl() for _ in iter(int, 1)],
                 daemon=True).start()
conn = libvirt.open(uri)
conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, lifecycle, None)

# errors: libvirt's codes and messages
try:
    conn.lookupByName("nope")
    sys.exit("lookupByName('nope') succeeded")
except libvirt.libvirtError as e:
    assert e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN, e.get_error_code()
    assert "Domain not found: no domain with matching name 'nope'" in str(e), str(e)

# started and destroyed through xm
xmdo("create", work + "/ev1.cfg")
name, uuid, _, detail = wait_for("ev1", "STARTED")
assert detail == libvirt.VIR_DOMAIN_EVENT_STARTED_BOOTED, detail
xm_uuid = subprocess.run([xm, "list", "-l", "ev1"], capture_output=True, text=True).stdout
assert uuid in xm_uuid, (uuid, xm_uuid)
dom = conn.lookupByUUIDString(uuid)
assert dom.isActive() and dom.ID() > 0
xmdo("pause", "ev1")
wait_for("ev1", "SUSPENDED")
assert dom.state()[0] == libvirt.VIR_DOMAIN_PAUSED
xmdo("unpause", "ev1")
wait_for("ev1", "RESUMED")
xmdo("destroy", "ev1")
wait_for("ev1", "STOPPED")
try:
    conn.lookupByName("ev1")
    sys.exit("a destroyed transient domain is still there")
except libvirt.libvirtError as e:
    assert e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN

# a managed domain: defined and undefined through xm
xmdo("new", work + "/ev2.cfg")
wait_for("ev2", "DEFINED")
assert conn.lookupByName("ev2").isPersistent()
# the connection outlives several keepalive intervals (5 s each)
time.sleep(11)
assert conn.isAlive()
xmdo("delete", "ev2")
wait_for("ev2", "UNDEFINED")
conn.close()
print("events ok")
PY
"$SYSPY" "$WORK/events.py" "$URI" "$XM" "$WORK" || { tail -n 20 "$WORK/xend.log"; fail "events"; }
grep -E 'xend: error|AddressSanitizer|runtime error' "$WORK/xend.log" && fail "xend logged errors"
echo PASS
