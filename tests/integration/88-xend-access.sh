#!/usr/bin/env bash
# Who may do what on xend's API (docs/protocols.md §2, "Access"):
#  - xend.sock is full access (0660, root and the xeno group), xend-ro.sock
#    read-only (0666): it lists, shows info, logs and events, and refuses
#    create, destroy, pause and the console with an Error from xm while
#    nothing changes; an unprivileged uid cannot open xend.sock and xm
#    falls back to the read-only socket; refusals come before the body;
#  - TCP is TLS: xm pins xend's key (--fingerprint, known_hosts written
#    after a yes on a terminal only), a wrong pin fails clearly, plain
#    http is refused on both sides unless allowed explicitly (and then
#    warned about on a non-loopback address), tokens carry roles (ro
#    tokens and xm -r cannot write, wrong ones are refused, before the
#    body), no token in a URI or argv;
#  - a per-peer connection limit (uid on the UNIX sockets, IP on TCP).
. "$(dirname "$0")/lib/common.sh"
require_vm
. "$LIB/xend.sh"
[ "$(id -u)" = 0 ] || skip "needs root: clients run as uid 65534 and xend as root"

LIMIT=4
PORT=$(free_port)
URI=https://127.0.0.1:$PORT
RO_SOCK=$WORK/xend-ro.sock
RO_TOKEN=ro-$(rand_token)
export HOME=$WORK/home
mkdir -p "$HOME" "$ST"
chmod 755 "$WORK"      # only the sockets' own modes decide who gets in
printf '(xend-max-connections-per-peer %d)\n' $LIMIT >"$XEND_CONFIG"
printf '# role token\nro %s\n' "$RO_TOKEN" >"$ST/tokens"
chmod 600 "$ST/tokens"

errors=0
bad() { echo "FAIL: $*"; errors=$((errors+1)); }
run() { OUT=$("$@" 2>"$WORK/err" </dev/null); RC=$?; ERR=$(cat "$WORK/err"); }
# refused WHAT: the last run failed with one "Error: " line.
refused() {
    [ "$RC" != 0 ] && echo "$ERR" | grep -q '^Error: ' || bad "$1: rc=$RC out=$OUT err=$ERR"
}
as_nobody() {
    "$PY" -c 'import os,sys; os.setgroups([]); os.setgid(65534); os.setuid(65534)
os.execvp(sys.argv[1], sys.argv[1:])' "$@"
}
# The domains, their ids and whether they are paused, as the full socket
# sees them (running and blocked alternate on their own).
snapshot() { "$XM" list | awk 'NR > 1 { print $1, $2, ($5 ~ /p/ ? "paused" : "up") }'; }

"$XEND" --foreground --state-dir "$ST" --socket "$SOCK" --vmm "$XENO_VMM" \
    --config "$XEND_CONFIG" --log-level debug --listen "tcp://127.0.0.1:$PORT" \
    >>"$WORK/xend.log" 2>&1 &
XEND_PID=$!
for _ in $(seq 100); do "$XM" list >/dev/null 2>&1 && break; sleep 0.1; done
"$XM" list >/dev/null 2>&1 || { tail -n 20 "$WORK/xend.log"; fail "xend did not start"; }

cat >"$WORK/g1.cfg" <<CFG
name = "g1"
memory = 64
vcpus = 1
kernel = "$XENO_GUEST_DIR/Image"
ramdisk = "$XENO_GUEST_DIR/initramfs.cpio.gz"
CFG
sed 's/"g1"/"g2"/' "$WORK/g1.cfg" >"$WORK/g2.cfg"
run "$XM" create "$WORK/g1.cfg"
[ "$RC" = 0 ] || fail "create g1 on the full socket: $ERR"

echo "== the sockets"
[ "$(stat -c %a "$SOCK")" = 660 ] || bad "xend.sock mode $(stat -c %a "$SOCK"), want 660"
[ "$(stat -c %a "$RO_SOCK")" = 666 ] || bad "xend-ro.sock mode $(stat -c %a "$RO_SOCK"), want 666"
if getent group xeno >/dev/null; then
    [ "$(stat -c %G "$SOCK")" = xeno ] || bad "xend.sock group $(stat -c %G "$SOCK"), want xeno"
fi

echo "== read-only socket: reads work, changes are refused and change nothing"
before=$(snapshot)
run "$XM" -r list
[ "$RC" = 0 ] && echo "$OUT" | grep -q '^g1 ' || bad "xm -r list: rc=$RC $OUT $ERR"
run "$XM" -r info
[ "$RC" = 0 ] && echo "$OUT" | grep -q '^nr_cpus' || bad "xm -r info: rc=$RC $ERR"
run "$XM" -r log g1
[ "$RC" = 0 ] || bad "xm -r log g1: $ERR"
code=$(curl -s -o /dev/null --max-time 2 -w '%{http_code}' --unix-socket "$RO_SOCK" http://x/v1/events)
[ "$code" = 200 ] || bad "events on the read-only socket: HTTP $code"
run "$XM" -r create "$WORK/g2.cfg"; refused "xm -r create"
echo "$ERR" | grep -q 'read-only' || bad "xm -r create does not say read-only: $ERR"
run "$XM" -r new "$WORK/g2.cfg"; refused "xm -r new"
run "$XM" -r destroy g1; refused "xm -r destroy"
run "$XM" -r pause g1; refused "xm -r pause"
run "$XM" -r mem-set g1 32; refused "xm -r mem-set"
run "$XM" -r console g1; refused "xm -r console"
echo "$ERR" | grep -q 'console needs full access' || bad "console on read-only: $ERR"
run "$XM" --connect "unix://$RO_SOCK" destroy g1; refused "destroy through xend-ro.sock by name"
[ "$(snapshot)" = "$before" ] || bad "the read-only socket changed something: $(snapshot) (was $before)"
[ ! -e "$ST/domains/g2.cfg" ] || bad "xm -r new defined g2"

# The refusal comes from the headers: a body that never arrives is not waited for.
out=$("$PY" - "$RO_SOCK" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(5)
s.sendall(b"POST /v1/domains HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          b"Content-Length: 100000\r\n\r\n")
t = time.monotonic()
try:
    print(s.recv(4096).split(b"\r\n")[0].decode(), "%.1f" % (time.monotonic() - t))
except socket.timeout:
    print("timeout")
PY
)
case $out in "HTTP/1.1 403"*) ;; *) bad "read-only POST without its body: $out (want 403 at once)";; esac

echo "== an unprivileged uid: no full socket, read-only through xend-ro.sock"
out=$(as_nobody "$PY" -c 'import socket,sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1]); print("connected")
except PermissionError:
    print("EACCES")' "$SOCK")
[ "$out" = EACCES ] || bad "uid 65534 on xend.sock: $out"
run as_nobody "$XM" --connect "unix://$SOCK" list
[ "$RC" = 0 ] && echo "$OUT" | grep -q '^g1 ' || bad "uid 65534: xm list (read-only fallback): rc=$RC $ERR"
run as_nobody "$XM" --connect "unix://$SOCK" destroy g1; refused "uid 65534: xm destroy"
echo "$ERR" | grep -q 'read-only' || bad "uid 65534 destroy: $ERR"
run as_nobody "$XM" --connect "unix://$SOCK" create "$WORK/g2.cfg"; refused "uid 65534: xm create"
[ "$(snapshot)" = "$before" ] || bad "uid 65534 changed something: $(snapshot)"
grep -q 'uid 65534 gid 65534 on .*xend-ro.sock (read-only)' "$WORK/xend.log" ||
    bad "xend did not log the peer's uid on the read-only socket"

echo "== per-uid connection limit ($LIMIT) on the UNIX sockets"
out=$(as_nobody "$PY" - "$RO_SOCK" "$XM" $LIMIT <<'PY'
import socket, subprocess, sys, time
path, xm, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
held = []
for _ in range(n):
    s = socket.socket(socket.AF_UNIX); s.connect(path); held.append(s)
time.sleep(0.5)
r = subprocess.run([xm, "--connect", "unix://" + path, "list"], capture_output=True, text=True)
print("held rc=%d %s" % (r.returncode, r.stderr.strip()))
for s in held:
    s.close()
for _ in range(20):        # xend sees the closes soon, on a busy host later
    time.sleep(0.5)
    r = subprocess.run([xm, "--connect", "unix://" + path, "list"], capture_output=True, text=True)
    if r.returncode == 0:
        break
print("free rc=%d %s" % (r.returncode, r.stderr.strip()))
PY
)
echo "$out" | grep -q "^held rc=1 Error: too many connections to xend from uid 65534 (the limit is $LIMIT)" ||
    bad "uid 65534 over its limit: $out"
echo "$out" | grep -q '^free rc=0' || bad "uid 65534 after closing its connections: $out"
run "$XM" list     # root is never limited
[ "$RC" = 0 ] || bad "root's list: $ERR"

echo "== TCP: TLS with a self-signed certificate, pinned"
for f in xend-cert.pem xend-key.pem token; do
    [ "$(stat -c %a "$ST/$f")" = 600 ] || bad "$f mode $(stat -c %a "$ST/$f"), want 600"
done
FP=$("$XEND" --state-dir "$ST" --config "$XEND_CONFIG" fingerprint)
[[ $FP =~ ^SHA256:[A-Za-z0-9+/]{43}$ ]] || bad "xend fingerprint: '$FP'"
grep -qF "fingerprint $FP" "$WORK/xend.log" || bad "xend did not log its fingerprint $FP"
want=$(openssl x509 -in "$ST/xend-cert.pem" -pubkey -noout 2>/dev/null | openssl pkey -pubin -outform der 2>/dev/null |
       openssl dgst -sha256 -binary 2>/dev/null | base64 | tr -d '=')
[ -z "$want" ] || [ "SHA256:$want" = "$FP" ] || bad "fingerprint $FP is not the key's SHA-256 (SHA256:$want)"
TOKEN=$(tr -d '\n' <"$ST/token")
export XENO_TOKEN=$TOKEN
run "$XM" --connect "$URI" --fingerprint "$FP" list
[ "$RC" = 0 ] && echo "$OUT" | grep -q '^g1 ' || bad "xm list over TLS with the fingerprint: rc=$RC $ERR"
run env -u XENO_TOKEN "$XM" --connect "$URI" --fingerprint "$FP" --token-file "$ST/token" list
[ "$RC" = 0 ] || bad "xm --token-file over TLS: rc=$RC $ERR"
# Not pinned, stdin not a terminal: refused, nothing written.
run "$XM" --connect "$URI" list; refused "unpinned key without a terminal"
echo "$ERR" | grep -qF "is not known (its fingerprint is $FP)" || bad "unpinned: $ERR"
[ ! -e "$HOME/.config/xeno/known_hosts" ] || bad "known_hosts written without asking"
# A wrong pin.
WRONG=SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
run "$XM" --connect "$URI" --fingerprint "$WRONG" list; refused "a wrong fingerprint"
echo "$ERR" | grep -qF "does not match: it presented $FP, expected $WRONG" || bad "wrong pin: $ERR"
run "$XM" --connect "$URI" --fingerprint "SHA256:nonsense" list; refused "a malformed fingerprint"
# On a terminal xm asks; "no" writes nothing, "yes" records the key.
KH=$HOME/.config/xeno/known_hosts
tty_xm() {  # ANSWER: run `xm --connect URI list` on a pty, answer, print the output
    "$PY" - "$1" "$XM" --connect "$URI" list <<'PY'
import os, pty, sys, time
answer, argv = sys.argv[1], sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(argv[0], argv)
out, sent, t = b"", False, time.monotonic()
while time.monotonic() - t < 20:
    try:
        b = os.read(fd, 4096)
    except OSError:
        break
    if not b:
        break
    out += b
    if not sent and b"(yes/no)?" in out:
        os.write(fd, (answer + "\n").encode()); sent = True
_, st = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace").replace("\r", ""))
print("rc=%d" % os.waitstatus_to_exitcode(st))
PY
}
out=$(tty_xm no)
echo "$out" | grep -qF "Its fingerprint is $FP." && echo "$out" | grep -q '^rc=1' ||
    bad "answering no on a terminal: $out"
[ ! -e "$KH" ] || bad "known_hosts written after no"
out=$(tty_xm yes)
echo "$out" | grep -q '^g1 ' && echo "$out" | grep -q '^rc=0' || bad "answering yes on a terminal: $out"
[ "$(cat "$KH" 2>/dev/null)" = "127.0.0.1:$PORT $FP" ] || bad "known_hosts: $(cat "$KH" 2>/dev/null)"
[ "$(stat -c %a "$KH")" = 600 ] || bad "known_hosts mode $(stat -c %a "$KH")"
run "$XM" --connect "$URI" list
[ "$RC" = 0 ] || bad "xm with the key in known_hosts: $ERR"
echo "127.0.0.1:$PORT $WRONG" >"$KH"
run "$XM" --connect "$URI" list; refused "a changed key in known_hosts"
echo "$ERR" | grep -qF "expected $WRONG from $KH" || bad "changed key: $ERR"
echo "127.0.0.1:$PORT $FP" >"$KH"

echo "== tokens carry roles"
before=$(snapshot)
run env XENO_TOKEN="$RO_TOKEN" "$XM" --connect "$URI" list
[ "$RC" = 0 ] && echo "$OUT" | grep -q '^g1 ' || bad "ro token: list: rc=$RC $ERR"
run env XENO_TOKEN="$RO_TOKEN" "$XM" --connect "$URI" destroy g1; refused "ro token: destroy"
echo "$ERR" | grep -q 'read-only' || bad "ro token destroy: $ERR"
run env XENO_TOKEN="$RO_TOKEN" "$XM" --connect "$URI" new "$WORK/g2.cfg"; refused "ro token: new"
run env XENO_TOKEN=wrong-token-0123456789 "$XM" --connect "$URI" new "$WORK/g2.cfg"
refused "a wrong token"
echo "$ERR" | grep -q 'bearer token' || bad "wrong token: $ERR"
run "$XM" -r --connect "$URI" list      # -r gives up the full token's rights
[ "$RC" = 0 ] || bad "xm -r over TCP: list: $ERR"
run "$XM" -r --connect "$URI" destroy g1; refused "xm -r over TCP with a full token: destroy"
run env -u XENO_TOKEN "$XM" --connect "$URI" list; refused "no token"
run "$XM" --connect "$URI" console g1; refused "console over TCP"
[ "$(snapshot)" = "$before" ] && [ ! -e "$ST/domains/g2.cfg" ] ||
    bad "refused TCP requests changed something: $(snapshot)"
run "$XM" --connect "$URI" new "$WORK/g2.cfg"
[ "$RC" = 0 ] && [ -e "$ST/domains/g2.cfg" ] || bad "full token: new: rc=$RC $ERR"
run "$XM" --connect "$URI" delete g2
[ "$RC" = 0 ] || bad "full token: delete: $ERR"
# A token's role is checked before the body is read (wrong token: 401 at once).
out=$("$PY" - "$PORT" <<'PY'
import socket, ssl, sys, time
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))))
s.settimeout(5)
s.sendall(b"POST /v1/domains HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong-token-0123456789\r\n"
          b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
try:
    print(s.recv(4096).split(b"\r\n")[0].decode())
except socket.timeout:
    print("timeout")
PY
)
case $out in "HTTP/1.1 401"*) ;; *) bad "wrong token without the body: $out (want 401 at once)";; esac

echo "== no token in URIs or argv, no plain http"
run "$XM" --connect "$URI?token=$TOKEN" --fingerprint "$FP" list; refused "a token in the URI"
echo "$ERR" | grep -q 'XENO_TOKEN' || bad "token in URI: $ERR"
echo "$ERR" | grep -qF "$TOKEN" && bad "the error repeats the token"
run "$XM" --token "$TOKEN" list; refused "xm --token"
echo "$ERR" | grep -q -- '--token-file' || bad "xm --token: $ERR"
run "$XM" --connect "http://127.0.0.1:$PORT" list; refused "xm on http://"
echo "$ERR" | grep -q 'clear text' || bad "xm http://: $ERR"
code=$(curl -s -o /dev/null --max-time 5 -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
       "http://127.0.0.1:$PORT/v1/domains")
[ "$code" = 000 ] || bad "plain HTTP to the TLS port answered HTTP $code"
P2=$(free_port)
run "$XEND" --foreground --state-dir "$WORK/st2" --socket "$WORK/s2.sock" --vmm "$XENO_VMM" \
    --config "$XEND_CONFIG" --listen "http://127.0.0.1:$P2"
[ "$RC" != 0 ] && echo "$ERR" | grep -q 'insecure-http' || bad "xend --listen http:// without --insecure-http: rc=$RC $ERR"
# With --insecure-http: a warning on an address other hosts reach; on
# loopback none, and xm talks to it only with --insecure.
run timeout 3 "$XEND" --foreground --state-dir "$WORK/st2" --socket "$WORK/s2.sock" \
    --vmm "$XENO_VMM" --config "$XEND_CONFIG" --libvirt-socket none \
    --listen "http://0.0.0.0:$P2" --insecure-http
echo "$ERR" | grep -q "warning: http://0.0.0.0:$P2: plain HTTP on an address other hosts reach" ||
    bad "no warning for plain HTTP on 0.0.0.0: $ERR"
"$XEND" --foreground --state-dir "$WORK/st4" --socket "$WORK/s4.sock" --vmm "$XENO_VMM" \
    --config "$XEND_CONFIG" --libvirt-socket none --listen "http://127.0.0.1:$P2" \
    --insecure-http >"$WORK/xend4.log" 2>&1 &
P4_PID=$!
for _ in $(seq 50); do [ -s "$WORK/st4/token" ] && [ -S "$WORK/s4.sock" ] && break; sleep 0.1; done
sleep 0.2
run env XENO_TOKEN="$(cat "$WORK/st4/token")" "$XM" --insecure --connect "http://127.0.0.1:$P2" list
[ "$RC" = 0 ] || bad "xm --insecure on plain HTTP: rc=$RC $ERR"
run env XENO_TOKEN="$(cat "$WORK/st4/token")" "$XM" --connect "http://127.0.0.1:$P2" list
refused "xm on plain HTTP without --insecure"
kill "$P4_PID"; wait "$P4_PID" 2>/dev/null
grep -q 'plain HTTP' "$WORK/xend4.log" && bad "a warning for plain HTTP on loopback: $(grep 'plain HTTP' "$WORK/xend4.log")"
# A tokens file others may read stops xend.
mkdir -p "$WORK/st3" && printf 'ro %s\n' "$RO_TOKEN" >"$WORK/st3/tokens" && chmod 644 "$WORK/st3/tokens"
run timeout 20 "$XEND" --foreground --state-dir "$WORK/st3" --socket "$WORK/s3.sock" \
    --vmm "$XENO_VMM" --config "$XEND_CONFIG" --libvirt-socket none --listen "tcp://127.0.0.1:$P2"
[ "$RC" = 1 ] && echo "$ERR" | grep -q 'lets other users read the tokens' ||
    bad "xend with a 0644 tokens file: rc=$RC $ERR"

echo "== per-IP connection limit ($LIMIT) on TCP"
out=$("$PY" - "$PORT" "$XM" "$URI" "$FP" $LIMIT <<'PY'
import socket, ssl, subprocess, sys, time
port, xm, uri, fp, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
held = [ctx.wrap_socket(socket.create_connection(("127.0.0.1", port))) for _ in range(n)]
time.sleep(0.5)
cmd = [xm, "--connect", uri, "--fingerprint", fp, "list"]
r = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
print("held rc=%d %s" % (r.returncode, r.stderr.strip()))
for s in held:
    s.close()
for _ in range(20):
    time.sleep(0.5)
    r = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if r.returncode == 0:
        break
print("free rc=%d %s" % (r.returncode, r.stderr.strip()))
PY
)
echo "$out" | grep -q '^held rc=1 Error: ' || bad "over the per-IP limit: $out"
echo "$out" | grep -q '^free rc=0' || bad "after closing the held connections: $out"

run "$XM" destroy g1
[ "$RC" = 0 ] || bad "destroy g1 on the full socket: $ERR"
[ $errors = 0 ] || fail "$errors check(s) failed"
echo PASS
