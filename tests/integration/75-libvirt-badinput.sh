#!/usr/bin/env bash
# xend's libvirt server on hostile and careless input, the real xend: a
# raw client sends malformed frames (a 2 GiB length, a frame shorter than
# its header, a truncated frame, another program, garbage arguments, a
# huge array count, a reply where a call belongs) while a second client
# is in the middle of its work; every bad frame gets an error reply or
# ends only that connection, xend goes on serving the other client and
# virsh, nothing is half-created, and xend logs no error. A read-only
# client (the -ro socket, or virsh -r) may look but not change.
. "$(dirname "$0")/lib/common.sh"
. "$LIB/xend.sh"
command -v virsh >/dev/null || skip "virsh is not installed (apt-get install libvirt-clients)"
cd "$WORK"

start_xend
SOCK_LV=$WORK/libvirt-sock
URI="xen:///system?socket=$SOCK_LV"
errors=0
bad() { echo "FAIL: $*"; errors=$((errors+1)); }

"$PY" - "$SOCK_LV" <<'PY' || bad "raw client"
import socket, struct, sys, time

path = sys.argv[1]
P = 0x20008086

def s(x):
    b = x.encode()
    return struct.pack(">I", len(b)) + b + b"\0" * ((4 - len(b) % 4) % 4)

def frame(proc, payload=b"", serial=1, typ=0, status=0, prog=P, vers=1):
    body = struct.pack(">IIiIII", prog, vers, proc, typ, serial, status) + payload
    return struct.pack(">I", len(body) + 4) + body

def connect():
    c = socket.socket(socket.AF_UNIX)
    c.settimeout(10)
    c.connect(path)
    c.sendall(frame(1, struct.pack(">I", 1) + s("xen:///system") + struct.pack(">I", 0)))
    assert reply(c)[5] == 0, "CONNECT_OPEN failed"
    return c

def recv_n(c, n):
    b = b""
    while len(b) < n:
        d = c.recv(n - len(b))
        if not d:
            raise EOFError("connection closed")
        b += d
    return b

def reply(c):
    (n,) = struct.unpack(">I", recv_n(c, 4))
    body = recv_n(c, n - 4)
    return struct.unpack(">IIiIII", body[:24]) + (body[24:],)

def error_code(r):
    assert r[5] == 1, "not an error reply: %r" % (r,)
    return struct.unpack(">i", r[6][:4])[0]

def closed(c):
    try:
        return c.recv(1) == b""
    except (ConnectionResetError, socket.timeout):
        return isinstance(sys.exc_info()[1], ConnectionResetError)

good = connect()
# a busy client: a call in progress on the good connection
good.sendall(frame(273, struct.pack(">iI", 1, 0), serial=50))

c = connect()
for payload, proc, want in [
        (struct.pack(">I", 100) + b"ab", 23, 39),           # string past the end
        (struct.pack(">I", 0x7fffffff), 23, 39),            # a 2 GiB string
        (struct.pack(">III", 0xffffffff, 0, 0), 344, 39),   # 4 billion domains
        (struct.pack(">i", 1 << 30), 37, 39),               # maxids 2^30
        (s("<domain"), 11, 27),                             # XML not well formed
        (b"", 187, 3),                                      # not supported
        (b"", 99999, 3)]:                                   # no such procedure
    c.sendall(frame(proc, payload, serial=7))
    r = reply(c)
    assert r[4] == 7, "serial %d" % r[4]
    code = error_code(r)
    assert code == want, "procedure %d: error %d, wanted %d" % (proc, code, want)
c.sendall(frame(3, prog=0x11223344, serial=8))
assert error_code(reply(c)) == 39
c.sendall(frame(3, vers=7, serial=9))
assert error_code(reply(c)) == 39
c.sendall(frame(3, serial=10))                              # still served
r = reply(c)
assert r[5] == 0 and b"Xen" in r[6]

for junk in [b"\x7f\xff\xff\xff", b"\x00\x00\x00\x08\x00\x00\x00\x00",
             frame(3, typ=1), b"\x00\x00\x00\x04"]:
    c = connect()
    c.sendall(junk)
    assert closed(c), "the server kept a connection after %r" % junk[:8]
c = connect()
c.sendall(frame(3)[:20])                                    # half a frame, then gone
c.close()

r = reply(good)
assert r[4] == 50 and r[5] == 0, "the busy client's call: %r" % (r[:6],)
good.sendall(frame(59, serial=51))
assert reply(good)[5] == 0
print("raw client ok")
PY

# Nothing half-created, xend still serves everyone.
virsh -c "$URI" list --all >/dev/null || bad "virsh after the raw client"
[ "$("$XM" list | wc -l)" = 2 ] || bad "domains appeared: $("$XM" list)"

# Read-only: the -ro socket, and virsh -r on the read-write one.
cat >"$WORK/ro.xml" <<EOF
<domain type='xen'><name>ro1</name><memory unit='MiB'>64</memory>
<os><type arch='riscv64'>xen</type></os></domain>
EOF
for u in "xen:///system?socket=$SOCK_LV-ro" "-r -c $URI"; do
    # shellcheck disable=SC2086
    if [ "${u#-r}" = "$u" ]; then set -- -c "$u"; else set -- $u; fi
    virsh "$@" list --all >/dev/null || bad "read-only list ($u)"
    out=$(virsh "$@" define "$WORK/ro.xml" 2>&1) && bad "read-only define succeeded ($u)"
    echo "$out" | grep -q 'operation forbidden: read only access prevents virDomainDefineXML' ||
        bad "read-only define ($u): $out"
done
"$XM" list ro1 >/dev/null 2>&1 && bad "a read-only client defined ro1"

# An unprivileged user reaches the read-only socket by a libvirt.conf alias.
if id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null; then
    chmod 755 "$WORK"
    mkdir -p "$WORK/conf/libvirt"
    echo "uri_aliases = [ \"xeno=xen:///system?socket=$SOCK_LV-ro\" ]" >"$WORK/conf/libvirt/libvirt.conf"
    chmod -R a+rX "$WORK/conf"
    out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME="$WORK/conf" \
          XDG_CONFIG_HOME="$WORK/conf" XDG_CACHE_HOME="$WORK/conf" XDG_RUNTIME_DIR="$WORK/conf" \
          virsh -c xeno list --all 2>&1) || bad "nobody through the alias: $out"
    echo "$out" | grep -q 'Domain-0' || bad "nobody's list: $out"
    grep -q "connected: pid [0-9]* uid $(id -u nobody) .*read-only" "$WORK/xend.log" ||
        bad "xend did not log nobody's read-only connection"
fi

grep -E 'xend: error|AddressSanitizer|runtime error' "$WORK/xend.log" && bad "xend logged errors"
kill -0 "$XEND_PID" || bad "xend died"
[ "$errors" = 0 ] || fail "$errors checks failed"
echo PASS
