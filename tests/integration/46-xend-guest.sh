#!/usr/bin/env bash
# xend with the real xeno-vmm and the default guest: create two domains,
# list, read the console, pause (CPU time stops) / unpause, mem-set through
# the balloon, shutdown --wait, destroy, kill -9 of a VMM with
# on_crash=restart. Skips until xeno-vmm has --control and the guest is built.
. "$(dirname "$0")/lib/common.sh"
: "${XENO_XEND:=$ROOT/build/src/xend/xend}"
[ -x "$XENO_XEND" ] || fail "xend not built: $XENO_XEND"
command -v curl >/dev/null || fail "curl not installed (scripts/deps.sh installs it)"
require_vm
cd "$WORK"
ST=$WORK/state
SOCK=$WORK/xend.sock
XEND_PID=

guest_cleanup() {
    [ -n "$XEND_PID" ] && { kill "$XEND_PID" 2>/dev/null; wait "$XEND_PID" 2>/dev/null; }
    for f in "$ST"/run/*.json; do
        [ -f "$f" ] && kill -9 "$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$f")" 2>/dev/null
    done
    cleanup
}
trap guest_cleanup EXIT

api() {
    local out
    out=$(curl -s -S --max-time 120 --unix-socket "$SOCK" -X "$1" -w '\n%{http_code}' \
          ${3+--data-binary "$3"} "http://xend$2") || fail "curl $1 $2 failed"
    CODE=${out##*$'\n'}; BODY=${out%$'\n'*}
}
expect() { local want=$1; shift; api "$@"; [ "$CODE" = "$want" ] || fail "$1 $2: HTTP $CODE: $BODY"; }
jf() { printf '%s' "$BODY" | "$PY" -c 'import json,sys; j=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
body() { "$PY" -c 'import json,sys; print(json.dumps({"config": sys.argv[1]}))' "$1"; }

"$XENO_XEND" --foreground --state-dir "$ST" --socket "$SOCK" --vmm "$XENO_VMM" \
    --log-level debug >"$WORK/xend.log" 2>&1 &
XEND_PID=$!
for _ in $(seq 1 100); do curl -s --unix-socket "$SOCK" http://xend/v1/host >/dev/null 2>&1 && break; sleep 0.1; done

expect 201 POST /v1/domains "$(body 'name = "g1"
memory = 256
maxmem = 256
on_crash = "restart"')"
expect 201 POST /v1/domains "$(body 'name = "g2"
memory = 256')"
expect 200 GET /v1/domains
[ "$(jf '[d["name"] for d in j]')" = "['Domain-0', 'g1', 'g2']" ] || fail "list: $BODY"

# wait_banner DOM: the guest's banner and shell prompt on its console.
wait_banner() {
    expect 200 GET "/v1/domains/$1/console"
    "$PY" - "$(jf 'j["path"]')" <<'PY' || fail "no banner on the $1 console"
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(1)
buf, t0 = b"", time.monotonic()
while time.monotonic() - t0 < 120:
    try:
        d = s.recv(4096)
    except socket.timeout:
        continue
    if not d:
        break
    buf += d
    if b"Welcome to Xeno guest" in buf and buf.rstrip().endswith(b"#"):
        sys.exit(0)
sys.exit(1)
PY
}
wait_banner g1

expect 200 POST /v1/domains/g1/pause
expect 200 GET /v1/domains/g1
t1=$(jf 'j["cpu_time_s"]'); sleep 1
expect 200 GET /v1/domains/g1
[ "$(jf 'j["state"]')" = paused ] || fail "not paused: $BODY"
[ "$(jf 'j["cpu_time_s"]')" = "$t1" ] || fail "CPU time moved while paused: $t1 -> $(jf 'j["cpu_time_s"]')"
expect 200 POST /v1/domains/g1/unpause
expect 200 POST /v1/domains/g1/mem '{"target_mib": 192}'
[ "$(jf 'j["mem_mib"]')" = 192 ] || fail "mem-set: $BODY"

wait_banner g2
sleep 2   # the agent starts after the prompt
api POST /v1/domains/g2/shutdown '{"wait": true}'
[ "$CODE" = 200 ] || fail "shutdown --wait (through the guest agent): HTTP $CODE: $BODY"
expect 404 GET /v1/domains/g2

id=$(curl -s --unix-socket "$SOCK" http://xend/v1/domains/g1 | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["id"])')
kill -9 "$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$ST/run/$id.json")"
for _ in $(seq 1 100); do
    api GET /v1/domains/g1
    [ "$(jf 'j["state"]')" = running ] && [ "$(jf 'j["id"]')" != "$id" ] && break
    sleep 0.1
done
[ "$(jf 'j["state"]')" = running ] && [ "$(jf 'j["id"]')" != "$id" ] || fail "g1 not restarted: $BODY"
expect 200 POST /v1/domains/g1/destroy
echo PASS
