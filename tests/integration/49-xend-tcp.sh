#!/usr/bin/env bash
# xend over TCP: `xend --listen tcp://127.0.0.1:PORT` serves the same API
# over TLS, with a self-signed certificate made on first start (0600 in the
# state dir) whose key xm pins (--fingerprint, as `xend fingerprint`
# prints it); requests need the bearer token from STATE_DIR/token, which xm
# takes from XENO_TOKEN or --token-file (never from the URI); a wrong or
# missing token is refused and changes nothing; the same certificate is
# used after a restart.
. "$(dirname "$0")/lib/common.sh"
B=${XENO_BUILD:-$ROOT/build}
XM=${XM:-$B/src/xm/xm}
XEND=${XEND:-$B/src/xend/xend}
[ -x "$XM" ] || fail "xm not built: $XM"
[ -x "$XEND" ] || fail "xend not built: $XEND"
SOCK=$WORK/xend.sock
PORT=$(free_port)
: >"$WORK/xend-config.sxp"
export HOME=$WORK/home
start() {
    "$XEND" -f --state-dir "$WORK/state" --socket "$SOCK" --vmm "$XENO_VMM" \
        --config "$WORK/xend-config.sxp" --listen "tcp://127.0.0.1:$PORT" >>"$WORK/xend.log" 2>&1 &
    XEND_PID=$!
    CHILD_PIDS+=($XEND_PID)
    for _ in $(seq 50); do [ -S "$SOCK" ] && [ -s "$WORK/state/token" ] && break; sleep 0.1; done
    [ -S "$SOCK" ] || { cat "$WORK/xend.log"; fail "xend did not start"; }
}
start
[ -s "$WORK/state/token" ] || { cat "$WORK/xend.log"; fail "xend did not start with a token"; }
for f in token xend-cert.pem xend-key.pem; do
    [ "$(stat -c %a "$WORK/state/$f")" = 600 ] || fail "$f mode is $(stat -c %a "$WORK/state/$f"), want 600"
done
TOKEN=$(tr -d '\n' < "$WORK/state/token")
FP=$("$XEND" --state-dir "$WORK/state" --config "$WORK/xend-config.sxp" fingerprint) ||
    fail "xend fingerprint failed"
grep -qF "fingerprint $FP" "$WORK/xend.log" || fail "xend did not log its fingerprint $FP"
URI="https://127.0.0.1:$PORT"

out=$(XENO_TOKEN=$TOKEN "$XM" --connect "$URI" --fingerprint "$FP" list 2>&1) ||
    fail "xm list over TLS: $out"
echo "$out" | head -1 | grep -q '^Name ' || fail "no list header over TCP: $out"
echo "$out" | sed -n 2p | grep -q '^Domain-0 ' || fail "no Domain-0 over TCP: $out"
# tcp:// is the same TLS listener; the token from a file.
out=$("$XM" --connect "tcp://127.0.0.1:$PORT" --fingerprint "$FP" --token-file "$WORK/state/token" \
      list 2>&1) || fail "xm list with --token-file: $out"
# The token never goes in the URI.
out=$("$XM" --connect "$URI?token=$TOKEN" --fingerprint "$FP" list 2>&1) &&
    fail "a token in the URI was accepted: $out"
echo "$out" | grep -q '^Error: .*XENO_TOKEN' || fail "token in the URI: $out"

# A TCP client may name only files in the image directories (docs/config.md):
# the default guest's is one.
printf 'name = "tcpdom"\nmemory = 64\nkernel = "%s/Image"\n' "$XENO_GUEST_DIR" > "$WORK/tcpdom.cfg"
printf 'name = "tcpout"\nmemory = 64\nkernel = "/etc/passwd"\n' > "$WORK/tcpout.cfg"
out=$(XENO_TOKEN=wrong-token-0123456789 "$XM" --connect "$URI" --fingerprint "$FP" \
      new "$WORK/tcpdom.cfg" 2>&1) && fail "a wrong token was accepted: $out"
echo "$out" | grep -q '^Error: ' || fail "wrong token: no Error line: $out"
out=$("$XM" --connect "$URI" --fingerprint "$FP" list 2>&1) && fail "no token was accepted: $out"
code=$(curl -sk -o /dev/null -w '%{http_code}' "$URI/v1/domains")
[ "$code" = 401 ] || fail "curl without a token: HTTP $code, want 401"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/v1/domains")
[ "$code" = 000 ] || fail "plain HTTP on the TLS port answered HTTP $code"
# Nothing was defined by the refused requests.
XENO_URI=unix://$SOCK "$XM" list tcpdom >/dev/null 2>&1 && fail "refused request defined a domain"
out=$(XENO_TOKEN=$TOKEN "$XM" --connect "$URI" --fingerprint "$FP" new "$WORK/tcpout.cfg" 2>&1) &&
    fail "a TCP client named a kernel outside the image directories: $out"
echo "$out" | grep -q "kernel '/etc/passwd': outside the image directories" ||
    fail "kernel outside the image directories over TCP: $out"
XENO_TOKEN=$TOKEN "$XM" --connect "$URI" --fingerprint "$FP" new "$WORK/tcpdom.cfg" >/dev/null 2>&1 ||
    fail "new with the token failed"
XENO_URI=unix://$SOCK "$XM" list tcpdom >/dev/null 2>&1 || fail "domain defined over TCP is not visible on the UNIX socket"

# A restarted xend keeps its certificate: the pin stays valid.
kill "$XEND_PID"; wait "$XEND_PID" 2>/dev/null
start
for _ in $(seq 50); do
    XENO_TOKEN=$TOKEN "$XM" --connect "$URI" --fingerprint "$FP" list tcpdom >/dev/null 2>&1 && break
    sleep 0.1
done
out=$(XENO_TOKEN=$TOKEN "$XM" --connect "$URI" --fingerprint "$FP" list tcpdom 2>&1) ||
    fail "the pin after a restart: $out"
echo PASS
