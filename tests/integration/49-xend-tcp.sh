#!/usr/bin/env bash
# xend over TCP: `xend --listen tcp://127.0.0.1:PORT` serves the same API,
# requests need the bearer token from STATE_DIR/token; xm reaches it with
# `--connect tcp://HOST:PORT?token=...` or XENO_TOKEN; a wrong or missing
# token is refused and changes nothing.
. "$(dirname "$0")/lib/common.sh"
B=${XENO_BUILD:-$ROOT/build}
XM=${XM:-$B/src/xm/xm}
XEND=${XEND:-$B/src/xend/xend}
[ -x "$XM" ] || fail "xm not built: $XM"
[ -x "$XEND" ] || fail "xend not built: $XEND"
SOCK=$WORK/xend.sock
PORT=$(free_port)
"$XEND" -f --state-dir "$WORK/state" --socket "$SOCK" --vmm "$XENO_VMM" \
    --listen "tcp://127.0.0.1:$PORT" >"$WORK/xend.log" 2>&1 &
CHILD_PIDS+=($!)
for _ in $(seq 50); do [ -S "$SOCK" ] && [ -s "$WORK/state/token" ] && break; sleep 0.1; done
[ -s "$WORK/state/token" ] || { cat "$WORK/xend.log"; fail "xend did not start with a token"; }
[ "$(stat -c %a "$WORK/state/token")" = 600 ] || fail "token file mode is $(stat -c %a "$WORK/state/token"), want 600"
TOKEN=$(tr -d '\n' < "$WORK/state/token")
URI="tcp://127.0.0.1:$PORT"

out=$("$XM" --connect "$URI?token=$TOKEN" list 2>&1) || fail "xm list over TCP: $out"
echo "$out" | head -1 | grep -q '^Name ' || fail "no list header over TCP: $out"
echo "$out" | sed -n 2p | grep -q '^Domain-0 ' || fail "no Domain-0 over TCP: $out"

out=$(XENO_TOKEN=$TOKEN "$XM" --connect "$URI" list 2>&1) || fail "xm list with XENO_TOKEN: $out"

# A TCP client may name only files in the image directories (docs/config.md):
# the default guest's is one.
printf 'name = "tcpdom"\nmemory = 64\nkernel = "%s/Image"\n' "$XENO_GUEST_DIR" > "$WORK/tcpdom.cfg"
printf 'name = "tcpout"\nmemory = 64\nkernel = "/etc/passwd"\n' > "$WORK/tcpout.cfg"
out=$("$XM" --connect "$URI?token=wrong-token-0123456789" new "$WORK/tcpdom.cfg" 2>&1) &&
    fail "a wrong token was accepted: $out"
echo "$out" | grep -q '^Error: ' || fail "wrong token: no Error line: $out"
out=$("$XM" --connect "$URI" list 2>&1) && fail "no token was accepted: $out"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/v1/domains")
[ "$code" = 401 ] || fail "curl without a token: HTTP $code, want 401"
# Nothing was defined by the refused requests.
XENO_URI=unix://$SOCK "$XM" list tcpdom >/dev/null 2>&1 && fail "refused request defined a domain"
out=$("$XM" --connect "$URI?token=$TOKEN" new "$WORK/tcpout.cfg" 2>&1) &&
    fail "a TCP client named a kernel outside the image directories: $out"
echo "$out" | grep -q "kernel '/etc/passwd': outside the image directories" ||
    fail "kernel outside the image directories over TCP: $out"
"$XM" --connect "$URI?token=$TOKEN" new "$WORK/tcpdom.cfg" >/dev/null 2>&1 || fail "new with the token failed"
XENO_URI=unix://$SOCK "$XM" list tcpdom >/dev/null 2>&1 || fail "domain defined over TCP is not visible on the UNIX socket"
echo PASS
