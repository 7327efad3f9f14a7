#!/usr/bin/env bash
# xend with a fake VMM (a python3 script implementing the control socket of
# docs/protocols.md §1), so supervision is tested without a guest: create,
# list, pause/unpause, mem/vcpus, shutdown --wait, kill -9 of a VMM
# (on_crash destroy/restart/preserve), managed domains, kill -9 of xend and
# re-attach (same ids), malformed and oversized requests, 50 concurrent
# clients, the event stream, xend start/stop/status.
. "$(dirname "$0")/lib/common.sh"
: "${XENO_XEND:=$ROOT/build/src/xend/xend}"
[ -x "$XENO_XEND" ] || fail "xend not built: $XENO_XEND"
command -v curl >/dev/null || fail "curl not installed (scripts/deps.sh installs it)"
cd "$WORK"

ST=$WORK/state
SOCK=$WORK/xend.sock
FAKE=$WORK/fake_vmm.py
XEND_PID=
EV_PID=

# Every fake VMM still running at exit is ours to kill (they outlive xend).
fake_cleanup() {
    [ -n "$EV_PID" ] && kill "$EV_PID" 2>/dev/null
    [ -n "$XEND_PID" ] && { kill "$XEND_PID" 2>/dev/null; wait "$XEND_PID" 2>/dev/null; }
    for p in $(pgrep -f "$FAKE --control" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    cleanup
}
trap fake_cleanup EXIT

cat > "$FAKE" <<'PY'
#!/usr/bin/env python3
"""A stand-in for `xeno-vmm --control PATH --no-console [--name N] CONFIG`
that implements the control socket of docs/protocols.md §1 without running
a guest, so the xend tests can exercise supervision anywhere.

Config hints (in `extra`): "failstart" exits 1 at once with an error line;
"noagent" ignores shutdown (a guest without the agent). Exit statuses are
xeno-vmm's: 0 poweroff, 2 reboot, 4 destroyed.
"""
import json
import os
import re
import selectors
import socket
import sys
import time

args = sys.argv[1:]
ctl = name = cfgpath = None
i = 0
while i < len(args):
    a = args[i]
    if a == "--control":
        ctl = args[i + 1]; i += 2
    elif a == "--name":
        name = args[i + 1]; i += 2
    elif a == "--no-console":
        i += 1
    elif a.startswith("-"):
        print("xeno-vmm: unknown option %s" % a, file=sys.stderr); sys.exit(1)
    else:
        cfgpath = a; i += 1
if not ctl or not cfgpath:
    print("xeno-vmm: need --control and CONFIG", file=sys.stderr); sys.exit(1)
text = open(cfgpath).read()


def key(k, default):
    m = None
    for m in re.finditer(r'^\s*%s\s*=\s*"?([^"\n]*)"?' % k, text, re.M):
        pass
    return m.group(1) if m else default


extra = key("extra", "")
if "failstart" in extra:
    print("xeno-vmm: kernel: /nonexistent: No such file or directory", file=sys.stderr)
    sys.exit(1)
memory = int(key("memory", "256"))
vcpus = int(key("vcpus", "1"))
uuid = key("uuid", "")
name = name or key("name", "?")

state = "running"
cpu_ns = 0
last = time.monotonic()
t0 = time.monotonic()
balloon = memory

for p in (ctl, ctl + ".console"):
    try:
        os.unlink(p)
    except FileNotFoundError:
        pass
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(ctl)
os.chmod(ctl, 0o600)
srv.listen(16)
con = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
con.bind(ctl + ".console")
con.listen(4)
sel = selectors.DefaultSelector()
sel.register(srv, selectors.EVENT_READ, "srv")
sel.register(con, selectors.EVENT_READ, "con")
clients = {}
exit_at = None
exit_code = 0
print("fake-vmm: %s running (pid %d)" % (name, os.getpid()), flush=True)


def tick():
    global cpu_ns, last
    now = time.monotonic()
    if state == "running":
        cpu_ns += int((now - last) * 1e9 * 0.5)   # half busy
    last = now


def send(c, obj):
    try:
        c.sendall((json.dumps(obj) + "\n").encode())
    except OSError:
        pass


def broadcast(obj):
    for c in list(clients):
        send(c, obj)


def finish(reason, code, delay=0.05):
    global exit_at, exit_code
    broadcast({"event": "stopped", "reason": reason})
    exit_at = time.monotonic() + delay
    exit_code = code


def handle(c, line):
    global state, balloon, vcpus
    try:
        req = json.loads(line)
        rid = req["id"]
        cmd = req["cmd"]
    except Exception:
        send(c, {"id": None, "ok": False, "error": "malformed request"})
        return
    tick()
    res = {}
    if cmd == "query":
        res = {"state": state, "name": name, "uuid": uuid, "vcpus": vcpus,
               "memory_mib": memory, "balloon_target_mib": balloon,
               "balloon_actual_mib": balloon, "cpu_time_ns": cpu_ns,
               "uptime_ns": int((time.monotonic() - t0) * 1e9), "pid": os.getpid(),
               "engine": "fake", "console": ctl + ".console"}
    elif cmd == "pause":
        state = "paused"; broadcast({"event": "paused"})
    elif cmd == "resume":
        state = "running"; broadcast({"event": "resumed"})
    elif cmd == "balloon":
        t = req.get("target_mib")
        if not isinstance(t, int) or t < 1 or t > memory:
            send(c, {"id": rid, "ok": False, "error": "bad target_mib"}); return
        balloon = t
    elif cmd == "vcpu-set":
        n = req.get("count")
        if not isinstance(n, int) or n < 1:
            send(c, {"id": rid, "ok": False, "error": "bad count"}); return
        vcpus = n
    elif cmd == "shutdown":
        if "noagent" not in extra:
            finish("poweroff", 0, 0.3)
    elif cmd == "reboot":
        finish("reboot", 2, 0.3)
    elif cmd == "destroy":
        send(c, {"id": rid, "ok": True, "result": {}})
        finish("destroyed", 4, 0)
        return
    else:
        send(c, {"id": rid, "ok": False, "error": "unknown command %s" % cmd}); return
    send(c, {"id": rid, "ok": True, "result": res})


while True:
    timeout = None if exit_at is None else max(0, exit_at - time.monotonic())
    for k, _ in sel.select(timeout):
        if k.data == "srv":
            c, _ = srv.accept()
            clients[c] = b""
            sel.register(c, selectors.EVENT_READ, "cli")
        elif k.data == "con":
            c, _ = con.accept()
            c.sendall(b"fake console\n")
            c.close()
        else:
            c = k.fileobj
            try:
                data = c.recv(65536)
            except OSError:
                data = b""
            if not data:
                sel.unregister(c); c.close(); del clients[c]; continue
            buf = clients[c] + data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                handle(c, line.decode(errors="replace"))
            if c in clients:
                clients[c] = buf
    if exit_at is not None and time.monotonic() >= exit_at:
        for p in (ctl, ctl + ".console"):
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass
        sys.exit(exit_code)
PY
chmod +x "$FAKE"

# api METHOD PATH [BODY]: prints the body, sets $CODE.
api() {
    local out
    out=$(curl -s -S --max-time 90 --unix-socket "$SOCK" -X "$1" -w '\n%{http_code}' \
          ${3+-H 'Content-Type: application/json' --data-binary "$3"} "http://xend$2") ||
        fail "curl $1 $2 failed"
    CODE=${out##*$'\n'}
    BODY=${out%$'\n'*}
}
# expect CODE METHOD PATH [BODY]
expect() {
    local want=$1; shift
    api "$@"
    [ "$CODE" = "$want" ] || fail "$1 $2: HTTP $CODE, expected $want: $BODY"
}
# jf EXPR: evaluate a python expression on the JSON in $BODY (as j).
jf() { printf '%s' "$BODY" | "$PY" -c 'import json,sys; j=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
dom() { api GET "/v1/domains/$1"; }
state_of() { dom "$1"; [ "$CODE" = 200 ] && jf 'j["state"]' || echo "absent"; }
wait_state() {  # NAME STATE [SECONDS]
    local i
    for i in $(seq 1 $((${3:-10} * 10))); do
        [ "$(state_of "$1")" = "$2" ] && return 0
        sleep 0.1
    done
    fail "domain $1 is $(state_of "$1"), expected $2"
}
vmm_pid() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$ST/run/$1.json"; }
start_xend() {
    "$XENO_XEND" --foreground --state-dir "$ST" --socket "$SOCK" --vmm "$FAKE" \
        --log-level debug >>"$WORK/xend.log" 2>&1 &
    XEND_PID=$!
    for _ in $(seq 1 100); do
        curl -s --unix-socket "$SOCK" http://xend/v1/host >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    cat "$WORK/xend.log"
    fail "xend did not come up"
}
cfg() {  # NAME [extra lines]
    printf 'name = "%s"\nmemory = 128\nmaxmem = 256\nvcpus = 1\nmaxvcpus = 2\n%s\n' "$1" "${2:-}"
}
body() { "$PY" -c 'import json,sys; d={"config": sys.argv[1]}; d.update(json.loads(sys.argv[2])); print(json.dumps(d))' "$1" "${2:-{\}}"; }

"$XENO_XEND" --state-dir "$ST" status >/dev/null; rc=$?
[ $rc = 3 ] || fail "status before start: exit $rc, expected 3"
start_xend
out=$("$XENO_XEND" --state-dir "$ST" status); rc=$?
[ $rc = 0 ] && [ "$out" = "xend is running (pid $XEND_PID)" ] || fail "status: '$out' exit $rc"
[ "$(stat -c %a "$SOCK")" = 660 ] || fail "socket mode $(stat -c %a "$SOCK"), expected 660"

# The event stream, read from the start.
curl -s -N --unix-socket "$SOCK" http://xend/v1/events >"$WORK/events" 2>/dev/null &
EV_PID=$!
sleep 0.3

echo "== create, list"
expect 201 POST /v1/domains "$(body "$(cfg web1)")"
[ "$(jf 'j["id"]')" = 1 ] || fail "first domain id $(jf 'j["id"]'), expected 1"
expect 201 POST /v1/domains "$(body "$(cfg web2 'on_crash = "restart"')")"
[ "$(jf 'j["id"]')" = 2 ] || fail "second id $(jf 'j["id"]')"
expect 201 POST /v1/domains "$(body "$(cfg web3 'on_crash = "preserve"')" '{"overrides": ["memory=64"]}')"
[ "$(jf 'j["mem_mib"]')" = 64 ] || fail "override memory=64 not applied"
expect 409 POST /v1/domains "$(body "$(cfg web1)")"
expect 200 GET /v1/domains
[ "$(jf '[d["name"] for d in j]')" = "['Domain-0', 'web1', 'web2', 'web3']" ] ||
    fail "list: $(jf '[d["name"] for d in j]')"
[ "$(jf '[d["id"] for d in j]')" = "[0, 1, 2, 3]" ] || fail "ids: $(jf '[d["id"] for d in j]')"
expect 200 GET /v1/domains/2
[ "$(jf 'j["name"]')" = web2 ] || fail "lookup by id"
uuid=$(jf 'j["uuid"]')
expect 200 GET "/v1/domains/$uuid"
[ "$(jf 'j["name"]')" = web2 ] || fail "lookup by uuid"
expect 404 GET /v1/domains/nosuch
[ "$(jf 'j["error"]')" = "Domain 'nosuch' does not exist." ] || fail "404 text: $BODY"
expect 200 GET /v1/host
[ "$(jf 'j["nr_cpus"] > 0')" = True ] || fail "host info: $BODY"

echo "== pause, unpause, mem, vcpus, console, log"
expect 200 POST /v1/domains/web1/pause
[ "$(jf 'j["state"]')" = paused ] || fail "after pause: $BODY"
expect 409 POST /v1/domains/web1/pause
expect 200 POST /v1/domains/web1/unpause
[ "$(jf 'j["state"]')" != paused ] || fail "after unpause: $BODY"
expect 200 POST /v1/domains/web1/mem '{"target_mib": 100}'
[ "$(jf 'j["mem_mib"]')" = 100 ] || fail "mem-set: $BODY"
expect 400 POST /v1/domains/web1/mem '{"target_mib": 100000}'
expect 200 POST /v1/domains/web1/mem '{"max_mib": 200}'
[ "$(jf 'j["maxmem_mib"]')" = 200 ] || fail "mem-max: $BODY"
expect 200 POST /v1/domains/web1/vcpus '{"count": 2}'
[ "$(jf 'j["vcpus"]')" = 2 ] || fail "vcpu-set: $BODY"
expect 400 POST /v1/domains/web1/vcpus '{"count": 3}'
expect 200 GET /v1/domains/web1/console
[ "$(jf 'j["path"]')" = "$ST/run/1.sock.console" ] || fail "console path: $BODY"
expect 200 GET /v1/domains/web1/log
[[ "$(jf 'j["text"]')" == *"fake-vmm: web1 running"* ]] || fail "log: $BODY"

echo "== shutdown --wait"
expect 200 POST /v1/domains/web1/shutdown '{"wait": true}'
[ "$(jf 'j["state"]')" = stopped ] || fail "after shutdown -w: $BODY"
expect 404 GET /v1/domains/web1
expect 201 POST /v1/domains "$(body "$(cfg quiet 'extra = "noagent"')")"
expect 504 POST /v1/domains/quiet/shutdown '{"wait": true, "timeout": 1}'
expect 200 POST /v1/domains/quiet/destroy
expect 404 GET /v1/domains/quiet

echo "== kill -9 of VMMs: restart, preserve"
p2=$(vmm_pid 2)
kill -9 "$p2"
for _ in $(seq 1 50); do
    dom web2; [ "$(jf 'j["id"]')" != 2 ] && [ "$(jf 'j["state"]')" = running ] && break
    sleep 0.1
done
[ "$(jf 'j["state"]')" = running ] && [ "$(jf 'j["id"]')" -gt 3 ] ||
    fail "web2 after kill -9 (on_crash=restart): $BODY"
kill -0 "$p2" 2>/dev/null && fail "old VMM still alive"
p3=$(vmm_pid 3)
kill -9 "$p3"
wait_state web3 crashed
expect 200 POST /v1/domains/web3/destroy
expect 404 GET /v1/domains/web3
expect 201 POST /v1/domains "$(body "$(cfg gone)")"
kill -9 "$(vmm_pid "$(jf 'j["id"]')")"
for _ in $(seq 1 50); do dom gone; [ "$CODE" = 404 ] && break; sleep 0.1; done
[ "$CODE" = 404 ] || fail "transient domain with on_crash=destroy still listed: $BODY"
expect 500 POST /v1/domains "$(body "$(cfg broken 'extra = "failstart"')")"
[[ "$(jf 'j["error"]')" == *"No such file or directory"* ]] || fail "start failure: $BODY"
expect 404 GET /v1/domains/broken

echo "== managed domains"
expect 201 POST /v1/domains "$(body "$(cfg db1)" '{"managed": true, "start": false}')"
[ "$(jf 'j["state"]')" = stopped ] && [ "$(jf 'j["id"]')" = None ] || fail "defined: $BODY"
[ -f "$ST/domains/db1.cfg" ] || fail "no domains/db1.cfg"
expect 200 POST /v1/domains/db1/start
[ "$(jf 'j["state"]')" = running ] || fail "managed start: $BODY"
expect 409 DELETE /v1/domains/db1
expect 200 POST /v1/domains/db1/autostart '{"autostart": true}'
[ -f "$ST/domains/db1.autostart" ] || fail "no autostart mark"
expect 201 POST /v1/domains "$(body "$(cfg db2)" '{"managed": true, "start": false}')"
# xm start -p: started, then paused.
expect 201 POST /v1/domains "$(body "$(cfg db3)" '{"managed": true, "start": false}')"
expect 200 POST /v1/domains/db3/start '{"paused": true}'
[ "$(jf 'j["state"]')" = paused ] || fail "start paused: $BODY"
expect 200 POST /v1/domains/db3/destroy
expect 200 DELETE /v1/domains/db3

echo "== malformed requests"
expect 400 POST /v1/domains '{"config": '
expect 400 POST /v1/domains '[1,2]'
expect 400 POST /v1/domains '{"config": 5}'
expect 400 POST /v1/domains '{"config": "name=\"x\"", "bogus": 1}'
expect 400 POST /v1/domains "$(body 'name = "bad"
memory = banana')"
[ "$(jf 'j["error"]')" = "config:2: memory: expected a number" ] ||
    [[ "$(jf 'j["error"]')" == config:2:* ]] || fail "config error text: $BODY"
expect 400 POST /v1/domains "$(body 'name = "y"' '{"file": "/etc/xen/y", "overrides": ["vcpus=zero"]}')"
expect 400 POST /v1/domains/db1/mem '{"target_mib": "lots"}'
expect 400 POST /v1/domains/db1/mem '{}'
expect 404 GET /v1/nothing
expect 404 GET /v1/domains/db1/frobnicate/x
expect 404 GET /v1/domains/
expect 405 PUT /v1/domains
expect 405 DELETE /v1/host
expect 403 POST /v1/domains/Domain-0/destroy
[ "$(jf 'j["error"]')" = "Domain-0 cannot be modified" ] || fail "dom0 403 text: $BODY"
expect 403 POST /v1/domains/0/pause
expect 200 GET /v1/domains/0
head -c 2000000 /dev/zero | tr '\0' 'a' >"$WORK/big"
out=$(curl -s --unix-socket "$SOCK" -X POST --data-binary @"$WORK/big" -w '\n%{http_code}' http://xend/v1/domains)
[ "${out##*$'\n'}" = 413 ] || fail "2 MB body: ${out##*$'\n'}"
out=$(head -c 2000000 "$WORK/big" | curl -s --unix-socket "$SOCK" -X POST -H 'Transfer-Encoding: chunked' \
      --data-binary @- -w '\n%{http_code}' http://xend/v1/domains)
[ "${out##*$'\n'}" = 413 ] || fail "2 MB chunked body: ${out##*$'\n'}"
printf 'GARBAGE\r\n\r\n' | "$PY" -c '
import socket,sys
s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(sys.stdin.buffer.read())
s.settimeout(5)
try: s.recv(4096)
except Exception: pass' "$SOCK"
expect 200 GET /v1/domains
kill -0 "$XEND_PID" || fail "xend died on malformed input"

echo "== 50 concurrent clients"
for i in $(seq 1 50); do
    (
        n=c$i
        api POST /v1/domains "$(body "$(cfg $n)")"
        [ "$CODE" = 201 ] || { echo "create $n: $CODE $BODY"; exit 1; }
        api GET /v1/domains
        [ "$CODE" = 200 ] || { echo "list: $CODE"; exit 1; }
        api POST /v1/domains/$n/destroy
        [ "$CODE" = 200 ] || { echo "destroy $n: $CODE $BODY"; exit 1; }
    ) >"$WORK/client.$i" 2>&1 &
done
wait_fail=0
for j in $(jobs -p); do
    [ "$j" = "$EV_PID" ] || [ "$j" = "$XEND_PID" ] && continue
    wait "$j" || wait_fail=1
done
[ $wait_fail = 0 ] || { cat "$WORK"/client.*; fail "a concurrent client failed"; }
expect 200 GET /v1/domains
[ "$(jf '[d["name"] for d in j]')" = "['Domain-0', 'web2', 'db1', 'db2']" ] ||
    fail "list after concurrency: $(jf '[d["name"] for d in j]')"
sleep 0.3
n=$(pgrep -fc "$FAKE --control")
[ "$n" = 2 ] || fail "$n fake VMMs running, expected 2 (web2, db1): $(pgrep -fa "$FAKE --control")"

echo "== kill -9 xend, restart: same domains and ids"
api GET /v1/domains; before=$(jf '[(d["name"], d["id"], d["state"]) for d in j]')
kill -9 "$XEND_PID"; wait "$XEND_PID" 2>/dev/null
"$XENO_XEND" --state-dir "$ST" status >/dev/null && fail "status says running after kill -9"
start_xend
expect 200 GET /v1/domains
after=$(jf '[(d["name"], d["id"], d["state"]) for d in j]')
[ "$before" = "$after" ] || fail "after xend restart: $after, before: $before"
expect 200 POST /v1/domains/web2/pause
expect 200 POST /v1/domains/web2/unpause
# The re-attached VMM (not our child) still gets supervised.
p=$(vmm_pid "$(jf 'j["id"]')")
kill -9 "$p"
for _ in $(seq 1 50); do
    dom web2; [ "$(jf 'j["state"]')" = running ] && [ "$(vmm_pid "$(jf 'j["id"]')" 2>/dev/null)" != "$p" ] && break
    sleep 0.1
done
[ "$(jf 'j["state"]')" = running ] || fail "re-attached web2 not restarted: $BODY"
expect 201 POST /v1/domains "$(body "$(cfg fresh)")"
maxid=$(echo "$after" | "$PY" -c 'import ast,sys; print(max(i for _,i,_ in ast.literal_eval(sys.stdin.read()) if i is not None))')
[ "$(jf 'j["id"]')" -gt "$maxid" ] || fail "new id $(jf 'j["id"]') reuses an old one (max $maxid)"
expect 200 POST /v1/domains/fresh/destroy

echo "== autostart, stop"
expect 200 POST /v1/domains/db2/autostart '{"autostart": true}'
expect 200 POST /v1/domains/db1/destroy
[ "$(jf 'j["state"]')" = stopped ] || fail "managed destroy: $BODY"
"$XENO_XEND" --state-dir "$ST" stop >/dev/null || fail "xend stop"
wait "$XEND_PID" 2>/dev/null
"$XENO_XEND" --state-dir "$ST" status >/dev/null; [ $? = 3 ] || fail "status after stop"
kill -0 "$(vmm_pid "$(ls "$ST/run" | grep -m1 '\.json$' | cut -d. -f1)")" || fail "VMM died with xend"
start_xend
for _ in $(seq 1 50); do [ "$(state_of db1)" = running ] && [ "$(state_of db2)" = running ] && break; sleep 0.1; done
[ "$(state_of db1)" = running ] && [ "$(state_of db2)" = running ] || fail "autostart: db1 $(state_of db1), db2 $(state_of db2)"
expect 200 POST /v1/domains/db2/destroy
expect 200 DELETE /v1/domains/db2
[ -f "$ST/domains/db2.cfg" ] && fail "db2.cfg still there"
expect 404 GET /v1/domains/db2

echo "== events"
kill "$EV_PID" 2>/dev/null; EV_PID=
for e in '"event":"started","domain":"web1","id":1' '"event":"paused","domain":"web1","id":1' \
         '"event":"unpaused","domain":"web1"' '"event":"stopped","domain":"web1"' \
         '"event":"crashed","domain":"web2","id":2'; do
    grep -q "$e" "$WORK/events" || { cat "$WORK/events"; fail "event $e missing"; }
done

for n in web2 db1; do expect 200 POST /v1/domains/$n/destroy; done
n=$(pgrep -fc "$FAKE --control")
[ "$n" = 0 ] || fail "$n fake VMMs left after destroying everything"
echo "PASS"
