#!/usr/bin/env bash
# xend reliability (docs/architecture.md, "xend"), with test VMMs (a python3
# stand-in for xeno-vmm's control socket that also writes the exit record)
# and, unless XEND_TSAN=1, the default guest:
#  1. a stopped (SIGSTOP) VMM: `xm list` answers in < 1 s, that domain
#     u----- (unresponsive), the others r-----; SIGCONT and it recovers;
#  2. a clean poweroff of a re-attached VMM (xend restarted while it runs)
#     is a poweroff (on_poweroff=preserve: ---s--), never a crash, whether
#     xend reads its "stopped" event or only its exit record, or the VMM
#     ended while xend was away; the same with the default guest; a run
#     record naming a recycled pid: that process is left alone;
#  3. undefine racing re-create of one name: the registry and the state dir
#     agree, before and after an xend restart;
#  4. mem-max whose config cannot be saved: an error, and the stored config
#     and the domain's maxmem unchanged;
#  5. a run record that cannot be written: the start fails and no VMM is
#     left running;
#  6. clients creating, listing, pausing, destroying at once;
#  7. kill -9 of xend at random points of a busy loop: after each restart
#     no temporary file is left and every state file is whole.
# XEND_TSAN=1 (tests/run.sh, XEND = the ThreadSanitizer build): the test
# VMM parts only, and any ThreadSanitizer report in xend's log fails.
. "$(dirname "$0")/lib/common.sh"
. "$LIB/xend.sh"
TSAN=${XEND_TSAN:-0}
[ "$TSAN" = 1 ] || require_vm
cd "$WORK"
T0=$SECONDS

errors=0
bad() { echo "FAIL: $*"; errors=$((errors+1)); }
die() { tail -n 30 "$WORK/xend.log"; fail "$*"; }
run() { OUT=$("$XM" "$@" 2>"$WORK/err"); RC=$?; ERR=$(cat "$WORK/err"); }
field() { "$XM" list "$1" 2>/dev/null | awk -v n="$2" 'NR == 2 { print $n }'; }
wait_field() {  # NAME COLUMN VALUE [TENTHS]
    local i
    for i in $(seq "${4:-100}"); do [ "$(field "$1" "$2")" = "$3" ] && return 0; sleep 0.1; done
    return 1
}
# The ThreadSanitizer build reports races on stderr (xend.log).
tsan_check() {
    if grep -q "ThreadSanitizer" "$WORK/xend.log"; then
        grep -A 30 -m 1 "WARNING: ThreadSanitizer" "$WORK/xend.log"
        fail "ThreadSanitizer report in xend's log"
    fi
}
# The test VMMs run in the PID namespace xend gives them; under TSan a plain
# fork (XENO_SANDBOX=0) is what the sanitizer supports.
[ "$TSAN" = 1 ] && export XENO_SANDBOX=0

FAKE=$WORK/test_vmm.py
cat >"$FAKE" <<'PY'
#!/usr/bin/env python3
"""A stand-in for `xeno-vmm --control PATH --no-console [--name N] CONFIG`
(docs/protocols.md §1) that runs no guest. Like xeno-vmm it writes
PATH.exit ("crash" at start, the reason written over it at the end). Config
hints in `extra`: "noevent" sends no "stopped" event (a re-attached xend
then has only the exit record)."""
import json, os, re, selectors, socket, sys, time

args = sys.argv[1:]
ctl = name = cfg = None
i = 0
while i < len(args):
    a = args[i]
    if a in ("--control", "--name"):
        if a == "--control":
            ctl = args[i + 1]
        else:
            name = args[i + 1]
        i += 2
    elif a.startswith("-"):
        i += 1
    else:
        cfg = args[i]; i += 1
text = open(cfg).read()
def key(k, d):
    m = None
    for m in re.finditer(r'^\s*%s\s*=\s*"?([^"\n]*)"?' % k, text, re.M):
        pass
    return m.group(1) if m else d
extra = key("extra", "")
memory = int(key("memory", "64"))
name = name or key("name", "?")
def record(why):    # as xeno-vmm: created saying "crash", rewritten in place
    with open(ctl + ".exit", "r+" if os.path.exists(ctl + ".exit") else "w") as f:
        f.write(why + "\n"); f.flush(); os.fsync(f.fileno())
record("crash")
state, balloon, t0 = "running", memory, time.monotonic()
for p in (ctl, ctl + ".console"):
    try: os.unlink(p)
    except FileNotFoundError: pass
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); srv.bind(ctl); srv.listen(16)
sel = selectors.DefaultSelector(); sel.register(srv, selectors.EVENT_READ)
clients, exit_at, code, why = {}, None, 0, "poweroff"
def send(c, o):
    try: c.sendall((json.dumps(o) + "\n").encode())
    except OSError: pass
def finish(reason, rc, delay):
    global exit_at, code, why
    if "noevent" not in extra:
        for c in list(clients): send(c, {"event": "stopped", "reason": reason})
    exit_at, code, why = time.monotonic() + delay, rc, reason
def handle(c, line):
    global state, balloon
    try:
        req = json.loads(line); rid = req["id"]; cmd = req["cmd"]
    except Exception:
        send(c, {"id": None, "ok": False, "error": "malformed"}); return
    res = {}
    if cmd == "query":
        res = {"state": state, "name": name, "vcpus": 1, "memory_mib": memory,
               "balloon_target_mib": balloon,
               "cpu_time_ns": int((time.monotonic() - t0) * 5e8),   # half busy
               "uptime_ns": int((time.monotonic() - t0) * 1e9), "pid": os.getpid()}
    elif cmd == "pause":
        state = "paused"; [send(o, {"event": "paused"}) for o in list(clients)]
    elif cmd == "resume":
        state = "running"; [send(o, {"event": "resumed"}) for o in list(clients)]
    elif cmd == "balloon":
        balloon = req.get("target_mib", balloon)
    elif cmd == "shutdown":
        finish("poweroff", 0, 0.2)
    elif cmd == "destroy":
        send(c, {"id": rid, "ok": True, "result": {}}); finish("destroyed", 4, 0); return
    else:
        send(c, {"id": rid, "ok": False, "error": "unknown command %s" % cmd}); return
    send(c, {"id": rid, "ok": True, "result": res})
while True:
    for k, _ in sel.select(None if exit_at is None else max(0, exit_at - time.monotonic())):
        if k.fileobj is srv:
            c, _ = srv.accept(); clients[c] = b""; sel.register(c, selectors.EVENT_READ)
            continue
        c = k.fileobj
        try: data = c.recv(65536)
        except OSError: data = b""
        if not data:
            sel.unregister(c); c.close(); del clients[c]; continue
        buf = clients[c] + data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1); handle(c, line.decode(errors="replace"))
        if c in clients: clients[c] = buf
    if exit_at is not None and time.monotonic() >= exit_at:
        record(why)
        os.unlink(ctl)
        sys.exit(code)
PY
chmod +x "$FAKE"
XENO_VMM_REAL=$XENO_VMM
XENO_VMM=$FAKE
fcfg() {  # fcfg NAME [extra] [on_poweroff]
    printf 'name = "%s"\nmemory = 64\nmaxmem = 128\nextra = "%s"\non_poweroff = "%s"\n' \
        "$1" "${2:-}" "${3:-destroy}" >"$WORK/$1.cfg"
}
restart_xend() {
    kill -9 "$XEND_PID"; wait "$XEND_PID" 2>/dev/null; XEND_PID=
    start_xend
}

start_xend

# --- 1. a stopped VMM does not stall xm list -------------------------------------
for g in s1 s2 s3; do
    fcfg $g
    run create "$WORK/$g.cfg"; [ "$RC" = 0 ] || die "create $g: $ERR"
done
spid=$(jpid "$("$XM" domid s2)")
kill -STOP "$spid"
# One list must show it all; a host so loaded that a healthy test VMM takes
# over 500 ms to answer gets two more tries.
for attempt in 1 2 3; do
    why=
    t=$(date +%s%N)
    run list
    ms=$(( ($(date +%s%N) - t) / 1000000 ))
    [ "$RC" = 0 ] || why="rc=$RC $ERR"
    [ "$ms" -lt 1000 ] || why="$why; took $ms ms"
    st=$(echo "$OUT" | awk '$1 == "s2" { print $5 }')
    [ "$st" = u----- ] || why="$why; the stopped VMM listed as '$st'"
    for g in s1 s3; do
        st=$(echo "$OUT" | awk -v g=$g '$1 == g { print $5 }')
        [ "$st" = r----- ] || why="$why; $g listed as '$st'"
    done
    [ -z "$why" ] && break
    echo "list with a stopped VMM, try $attempt: $why"
done
[ -z "$why" ] || bad "xm list with a stopped VMM: $why: $OUT"
kill -CONT "$spid"
wait_field s2 5 r----- 50 || bad "s2 not running again after SIGCONT: $("$XM" list s2 2>&1)"
echo "stopped VMM: xm list in $ms ms ($((SECONDS - T0)) s)"
for g in s1 s2 s3; do "$XM" destroy $g >/dev/null 2>&1 || bad "destroy $g"; done

# --- 2. a re-attached VMM's poweroff is a poweroff ------------------------------
fcfg p1 "" preserve
fcfg p2 noevent preserve
for g in p1 p2; do run create "$WORK/$g.cfg"; [ "$RC" = 0 ] || die "create $g: $ERR"; done
restart_xend
for g in p1 p2; do
    wait_field $g 5 r----- 50 || bad "$g not re-attached: $("$XM" list $g 2>&1)"
    run shutdown $g
    [ "$RC" = 0 ] || bad "shutdown re-attached $g: $ERR"
    wait_field $g 5 ---s-- 50 || bad "poweroff of re-attached $g seen as $(field $g 5), not ---s--"
    "$XM" destroy $g >/dev/null 2>&1
done
# The VMM ended while xend was away: its exit record says poweroff.
fcfg p3 noevent preserve
run create "$WORK/p3.cfg"; [ "$RC" = 0 ] || die "create p3: $ERR"
kill -9 "$XEND_PID"; wait "$XEND_PID" 2>/dev/null; XEND_PID=
p3id=$(ls "$ST/run" | sed -n 's/^\([0-9]*\)\.json$/\1/p' | tail -n1)
"$PY" - "$ST/run/$p3id.sock" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b'{"id": 1, "cmd": "shutdown"}\n'); s.recv(4096)
PY
sleep 0.5
start_xend
wait_field p3 5 ---s-- 30 || bad "p3, powered off while xend was away, is $(field p3 5)"
"$XM" destroy p3 >/dev/null 2>&1
# A run record whose pid is now another process (a recycled pid): xend must
# neither adopt nor signal it, and takes the domain as ended while away.
kill -9 "$XEND_PID"; wait "$XEND_PID" 2>/dev/null; XEND_PID=
sleep 300 &
ghost=$!
fcfg ghost
cp "$WORK/ghost.cfg" "$ST/run/999.cfg"
printf '{"id": 999, "pid": %d, "sock": "%s", "name": "ghost", "uuid": "%s", "managed": false, "start_time": 0}\n' \
    "$ghost" "$ST/run/999.sock" "12345678-1234-1234-1234-123456789999" >"$ST/run/999.json"
start_xend
alive "$ghost" || bad "xend signalled pid $ghost, which its run record named but is not a VMM"
[ -e "$ST/run/999.json" ] && bad "the run record of the recycled pid is still there"
kill "$ghost"; wait "$ghost" 2>/dev/null
echo "re-attached poweroff ok ($((SECONDS - T0)) s)"

# --- 3. undefine against re-create of the same name -----------------------------
fcfg race
for i in $(seq 40); do
    "$XM" new "$WORK/race.cfg" >/dev/null 2>&1 & a=$!
    "$XM" delete race >/dev/null 2>&1 & b=$!
    wait $a $b
    listed=0; "$XM" list race >/dev/null 2>&1 && listed=1
    onfile=0; [ -f "$ST/domains/race.cfg" ] && onfile=1
    [ "$listed" = "$onfile" ] || { bad "round $i: listed=$listed, config on disk=$onfile"; break; }
done
restart_xend
listed=0; "$XM" list race >/dev/null 2>&1 && listed=1
[ "$listed" = "$onfile" ] || bad "after restart: listed=$listed, config on disk=$onfile"
"$XM" delete race >/dev/null 2>&1
echo "undefine/re-create ok ($((SECONDS - T0)) s)"

# --- 4. mem-max that cannot be saved --------------------------------------------
fcfg mm
run new "$WORK/mm.cfg"; [ "$RC" = 0 ] || die "new mm: $ERR"
cp "$ST/domains/mm.cfg" "$WORK/mm.saved"
mv "$ST/domains/mm.cfg" "$WORK/mm.aside"
mkdir "$ST/domains/mm.cfg"          # the rename over it fails
run mem-max mm 100
[ "$RC" = 1 ] && echo "$ERR" | grep -q "cannot save the configuration of 'mm'" ||
    bad "mem-max with a failing save: rc=$RC $ERR"
rmdir "$ST/domains/mm.cfg"; mv "$WORK/mm.aside" "$ST/domains/mm.cfg"
cmp -s "$ST/domains/mm.cfg" "$WORK/mm.saved" || bad "stored config changed by a failed mem-max"
"$XM" list -l mm | grep -q '(maxmem 128)' || bad "maxmem changed by a failed mem-max: $("$XM" list -l mm)"
run mem-max mm 100
[ "$RC" = 0 ] && grep -q '^maxmem = 100$' "$ST/domains/mm.cfg" || bad "mem-max after repair: $RC $ERR"
"$XM" delete mm >/dev/null 2>&1
ls "$ST/domains" | grep -q 'tmp' && bad "temporary files left in domains/: $(ls "$ST/domains")"
echo "mem-max failure ok ($((SECONDS - T0)) s)"

# --- 5. a run record that cannot be written -----------------------------------------
next=$(cat "$ST/next-id")
mkdir "$ST/run/$next.json" "$ST/run/$((next + 1)).json"   # the start's id (and a retry's)
fcfg rr
run create "$WORK/rr.cfg"
[ "$RC" = 1 ] && echo "$ERR" | grep -q "cannot write its run record" || bad "create without a run record: rc=$RC $ERR"
sleep 0.3
for p in $(vmm_pids); do grep -q "$WORK/state/run/$next.sock" "/proc/$p/cmdline" 2>/dev/null && bad "VMM $p left running without a run record"; done
run list rr
[ "$RC" = 1 ] || bad "rr listed after its failed start: $OUT"
rmdir "$ST/run/$next.json" "$ST/run/$((next + 1)).json"
echo "run record failure ok ($((SECONDS - T0)) s)"

# --- 6. many clients at once -----------------------------------------------------
CLIENTS=${XENO_CLIENTS:-24}
for i in $(seq "$CLIENTS"); do fcfg "c$i"; done
client() {
    local i=$1 t="timeout -k 5 60" r=0
    $t "$XM" create "$WORK/c$i.cfg" >/dev/null 2>&1 || r=1
    $t "$XM" list >/dev/null 2>&1 || r=2
    $t "$XM" pause "c$i" >/dev/null 2>&1 || r=3
    $t "$XM" list "c$i" >/dev/null 2>&1 || r=4
    $t "$XM" unpause "c$i" >/dev/null 2>&1 || r=5
    $t "$XM" mem-set "c$i" 32 >/dev/null 2>&1 || r=6
    $t "$XM" destroy "c$i" >/dev/null 2>&1 || r=7
    echo $r >"$WORK/c$i.rc"
}
pids=()
for i in $(seq "$CLIENTS"); do client "$i" & pids+=($!); done
for p in "${pids[@]}"; do wait "$p"; done
kill -0 "$XEND_PID" 2>/dev/null || die "xend died under load"
for i in $(seq "$CLIENTS"); do
    [ "$(cat "$WORK/c$i.rc" 2>/dev/null)" = 0 ] || bad "client $i failed at step $(cat "$WORK/c$i.rc" 2>/dev/null)"
done
run list
[ "$(echo "$OUT" | wc -l)" = 2 ] || bad "domains left after the clients: $OUT"
echo "$CLIENTS clients ok ($((SECONDS - T0)) s)"

# --- 7. kill -9 of xend in a busy loop: state files whole ---------------------------
check_state() {
    local f
    ls -a "$ST" "$ST/domains" "$ST/run" | grep -E '\.tmp\.[0-9a-f]{8}$' && bad "temporary files left after restart"
    grep -Eq '^[0-9]+$' "$ST/next-id" || bad "next-id is '$(cat "$ST/next-id")'"
    for f in "$ST"/run/*.json; do
        [ -f "$f" ] || continue
        "$PY" -c 'import json,sys; json.load(open(sys.argv[1]))' "$f" 2>/dev/null || bad "$f is not whole"
    done
    for f in "$ST"/domains/*.cfg; do
        [ -f "$f" ] || continue
        grep -q '^name = ' "$f" && grep -q '^uuid = ' "$f" || bad "$f is not whole: $(cat "$f")"
    done
    grep -q "skipping" "$WORK/xend.log" && bad "xend skipped a state file: $(grep skipping "$WORK/xend.log")"
}
for g in k1 k2 k3 k4; do fcfg $g; done
for round in $(seq "${XENO_KILL_ROUNDS:-8}"); do
    (
        for g in k1 k2 k3 k4; do
            "$XM" new "$WORK/$g.cfg"; "$XM" start $g; "$XM" mem-max $g 100
            "$XM" destroy $g; "$XM" delete $g
        done
    ) >/dev/null 2>&1 &
    busy=$!
    sleep "0.$((RANDOM % 6))$((RANDOM % 10))"
    kill -9 "$XEND_PID"; wait "$XEND_PID" 2>/dev/null; XEND_PID=
    wait "$busy" 2>/dev/null
    start_xend
    check_state
    for g in k1 k2 k3 k4; do "$XM" destroy $g >/dev/null 2>&1; "$XM" delete $g >/dev/null 2>&1; done
done
echo "kill -9 loop ok ($((SECONDS - T0)) s)"

# --- the default guest: a re-attached VMM powered off from inside -------------------
if [ "$TSAN" != 1 ]; then
    XENO_VMM=$XENO_VMM_REAL
    restart_xend
    cat >"$WORK/g1.cfg" <<CFG
name = "g1"
memory = 128
kernel = "$XENO_GUEST_DIR/Image"
ramdisk = "$XENO_GUEST_DIR/initramfs.cpio.gz"
extra = "console=ttyS0"
on_poweroff = "preserve"
CFG
    run create "$WORK/g1.cfg"; [ "$RC" = 0 ] || die "create g1: $ERR"
    "$PY" "$LIB/xmcon.py" "$XM" g1 wait || die "g1: no prompt"
    restart_xend
    wait_field g1 5 r----- 50 || wait_field g1 5 -b---- 10 || bad "g1 not re-attached: $("$XM" list g1 2>&1)"
    run shutdown g1
    [ "$RC" = 0 ] || bad "shutdown of re-attached g1: $ERR"
    wait_field g1 5 ---s-- 600 || bad "poweroff of re-attached g1 seen as $(field g1 5), not ---s--"
    "$XM" destroy g1 >/dev/null 2>&1
    echo "default guest: re-attached poweroff ok ($((SECONDS - T0)) s)"
fi

[ "$TSAN" = 1 ] && tsan_check
[ $errors -eq 0 ] || die "$errors check(s) failed"
echo "PASS ($((SECONDS - T0)) s)"
