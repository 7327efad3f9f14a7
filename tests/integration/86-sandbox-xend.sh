#!/usr/bin/env bash
# The VMM sandbox (docs/sandbox.md) through xend:
#   1. `xm info` names the layers the VMMs get here ("sandbox : on: ...";
#      as root the xeno user and mount+pid+ipc namespaces, when this host
#      allows them: a child tries them first).
#   2. A domain's VMM: every thread under seccomp, NoNewPrivs 1, no
#      capabilities, a non-root uid (xeno's, as root); as root PID 1 of its
#      own PID namespace (NSpid: two numbers; query still says the pid the
#      host knows) with its own mount and IPC namespaces and an empty root;
#      no writable and executable mapping.
#   3. `xm save -c` still writes the file (xend passes it to the VMM) and
#      the domain runs on; `xm destroy` removes everything.
#   4. The test build's hidden trigger (XENO_SANDBOX_TEST, through xend's
#      environment) makes a vCPU thread call ptrace a few seconds after the
#      start: the VMM dies of SIGSYS, the domain shows crashed
#      (on_crash = preserve), and xend says why in its log and in the
#      domain's log (`xm log`): killed by signal 31 (SIGSYS), a system call
#      its sandbox forbids.
. "$(dirname "$0")/lib/common.sh"
. "$LIB/xend.sh"
require_vm
[ "${XENO_PEER:-}" = qemu ] && skip "the sandbox is xeno-vmm's own (no QEMU peer)"
TEST_VMM=${XENO_SANDBOX_TEST_VMM:-$(dirname "$XENO_VMM")/xeno-vmm-sandbox-test}
[ -x "$TEST_VMM" ] || fail "the sandbox test build is not there: $TEST_VMM"
ROOT_RUN=0
if [ "$(id -u)" = 0 ]; then
    ROOT_RUN=1
    getent passwd xeno >/dev/null || fail "no user xeno (scripts/deps.sh creates it)"
fi
cd "$WORK"
state() { "$XM" list "$1" 2>/dev/null | awk 'NR == 2 { print $(NF-1) }'; }
mkcfg() {   # NAME
    cat >"$WORK/$1.cfg" <<CFG
name = "$1"
memory = 128
kernel = "$XENO_GUEST_DIR/Image"
ramdisk = "$XENO_GUEST_DIR/initramfs.cpio.gz"
extra = "console=ttyS0"
vif = [ 'type=user' ]
on_crash = "preserve"
CFG
}

# ---- 1. xm info --------------------------------------------------------------
start_xend
info=$("$XM" info | sed -n 's/^sandbox *: //p')
echo "sandbox: $info"
case "$info" in "on: seccomp (per thread), no_new_privs, no capabilities, "*) ;;
    *) fail "xm info: sandbox '$info'" ;; esac
if [ $ROOT_RUN = 1 ]; then
    case "$info" in *"user xeno"*) ;; *) fail "xm info as root: no user xeno: $info" ;; esac
    # What the probe says must be what the VMMs get (checked below).
    case "$info" in *"mount+pid+ipc namespaces, empty root"*) NS=1 ;; *) NS=0 ;; esac
fi

# ---- 2. a domain's VMM -------------------------------------------------------
mkcfg g
"$XM" create "$WORK/g.cfg" >/dev/null 2>err || fail "xm create: $(cat err)"
ID=$("$XM" domid g)
PID=$(jpid "$ID")
"$PY" "$LIB/xmcon.py" --socket "$ST/run/$ID.sock.console" wait || fail "g: no prompt"
ROOT_RUN=$ROOT_RUN NS=${NS:-0} "$PY" - "$PID" "$ST/run/$ID.sock" <<'PY' || fail "the domain's VMM is not confined"
import json, os, socket, sys
pid = int(sys.argv[1])
root = os.environ["ROOT_RUN"] == "1"
ns = os.environ["NS"] == "1"

def status(p):
    return dict(l.split(":", 1) for l in open(p).read().splitlines() if ":" in l)

bad = []
for tid in os.listdir("/proc/%d/task" % pid):
    st = status("/proc/%d/task/%s/status" % (pid, tid))
    if st["Seccomp"].strip() != "2" or st["NoNewPrivs"].strip() != "1":
        bad.append("thread %s: Seccomp %s NoNewPrivs %s" % (tid, st["Seccomp"], st["NoNewPrivs"]))
    if any(int(st[c], 16) for c in ("CapEff", "CapPrm", "CapInh", "CapBnd", "CapAmb")):
        bad.append("thread %s has capabilities" % tid)
    if "0" in st["Uid"].split() or "0" in st["Gid"].split():
        bad.append("thread %s runs as root" % tid)
    if root and set(st["Uid"].split()) != {str(__import__("pwd").getpwnam("xeno").pw_uid)}:
        bad.append("thread %s: uid %s, not xeno" % (tid, st["Uid"].split()))
if ns:
    nspid = status("/proc/%d/status" % pid)["NSpid"].split()
    if nspid != [str(pid), "1"]:
        bad.append("NSpid %s: not PID 1 of its own PID namespace" % nspid)
    for n in ("mnt", "ipc", "pid"):
        if os.readlink("/proc/%d/ns/%s" % (pid, n)) == os.readlink("/proc/self/ns/%s" % n):
            bad.append("shares the %s namespace" % n)
    if os.listdir("/proc/%d/root" % pid) != ["etc"]:
        bad.append("root not empty: %s" % os.listdir("/proc/%d/root" % pid))
# query's pid is the one the host knows, not 1.
c = socket.socket(socket.AF_UNIX)
c.connect(sys.argv[2])
c.sendall(b'{"id":1,"cmd":"query"}\n')
buf = b""
while b'"id":1' not in buf:
    buf += c.recv(65536)
q = [json.loads(l) for l in buf.splitlines() if b'"id":1' in l][0]
if q["result"]["pid"] != pid:
    bad.append("query says pid %s, the host knows %d" % (q["result"]["pid"], pid))
for l in open("/proc/%d/maps" % pid):
    if "w" in l.split()[1] and "x" in l.split()[1]:
        bad.append("w+x mapping: %s" % l.strip())
for b in bad:
    print("FAIL: " + b)
print("VMM pid %d confined%s" % (pid, " (PID 1 of its namespace, empty root)" if ns else ""))
sys.exit(1 if bad else 0)
PY

# ---- 3. save through xend, destroy -------------------------------------------
"$XM" save -c g "$WORK/g.save" >out 2>err || fail "xm save -c: $(cat err)"
[ -s g.save ] && [ ! -e g.save.tmp ] || fail "xm save -c: no save file ($(ls))"
[ "$(state g)" != "" ] && [ "$("$XM" domid g)" = "$ID" ] || fail "g did not run on after the checkpoint"
"$XM" destroy g || fail "xm destroy"
for _ in $(seq 50); do alive "$PID" || break; sleep 0.1; done
alive "$PID" && fail "the VMM of g still runs after destroy"
ls "$ST/run" | grep -q "^$ID\." && fail "run files of g left: $(ls "$ST/run")"
echo "checkpoint through xend, destroy: ok"

# ---- 4. a forbidden call: crashed, with the reason ---------------------------
kill "$XEND_PID"; wait "$XEND_PID" 2>/dev/null; XEND_PID=
XENO_VMM=$TEST_VMM XENO_SANDBOX_TEST=ptrace@vcpu+3000 start_xend
mkcfg c
"$XM" create "$WORK/c.cfg" >/dev/null 2>err || fail "xm create c: $(cat err)"
for _ in $(seq 300); do [ "$(state c)" = "----c-" ] && break; sleep 0.1; done
[ "$(state c)" = "----c-" ] || fail "c did not crash: $("$XM" list 2>&1)"
grep -q "domain c (id [0-9]*): VMM ended (crash: killed by signal 31 (SIGSYS): a system call its sandbox forbids" \
    "$WORK/xend.log" || fail "xend's log does not say why: $(grep 'domain c' "$WORK/xend.log")"
"$XM" log c | grep -q -- "--- xend: the VMM was killed by signal 31 (SIGSYS): a system call its sandbox forbids" ||
    fail "xm log c does not say why: $("$XM" log c | tail -n 3)"
echo "forbidden call: $(grep -o 'domain c (id [0-9]*): VMM ended.*' "$WORK/xend.log")"
echo PASS
