#!/usr/bin/env bash
# The VMM sandbox (docs/sandbox.md) on a VMM run directly: the default
# guest with 2 vCPUs, a disk, user networking and a control socket.
#   1. /proc/PID/status of the process and of every thread: Seccomp 2,
#      NoNewPrivs 1, no capabilities at all (effective, permitted,
#      inheritable, ambient, bounding), a non-root uid and gid (as root:
#      the xeno user's, no supplementary groups); the vCPU threads
#      (xeno-vcpu) carry one filter of their own; /proc/PID/maps has no
#      writable and executable mapping, and the JIT's code cache is one
#      memfd mapped r-x and rw- (W^X); guest RAM is marked not to be
#      dumped (VmFlags dd) and core files are off; as root, own mount and
#      IPC namespaces and an empty root (only etc/resolv.conf).
#   2. The guest works sandboxed: disk writes read back, a wget through
#      slirp from a host HTTP server, a DNS query forwarded by slirp.
#   3. A save to a path the VMM cannot reach any more is one error line
#      and the guest runs on; a save with the file passed (SCM_RIGHTS)
#      works; the checkpoint restores into a sandboxed VMM that works.
#   4. destroy: exit 4, both sockets removed (by the cleaner), exit record
#      "destroyed"; the restored one powers off: 0, record "poweroff".
#   5. XENO_SANDBOX=0: one warning line, no filter, still root.
#   6. The test build (xeno-vmm-sandbox-test, its hidden trigger) makes a
#      forbidden call from each kind of thread, or a call with a forbidden
#      argument: the VMM dies of SIGSYS. The shipped xeno-vmm has no trigger.
. "$(dirname "$0")/lib/common.sh"
require_vm
[ "${XENO_PEER:-}" = qemu ] && skip "the sandbox is xeno-vmm's own (no QEMU peer)"
TEST_VMM=${XENO_SANDBOX_TEST_VMM:-$(dirname "$XENO_VMM")/xeno-vmm-sandbox-test}
[ -x "$TEST_VMM" ] || fail "the sandbox test build is not there: $TEST_VMM"
if [ "$(id -u)" = 0 ]; then
    getent passwd xeno >/dev/null || fail "no user xeno (scripts/deps.sh creates it)"
fi
grep -q XENO_SANDBOX_TEST "$XENO_VMM" && fail "the shipped xeno-vmm contains the test trigger"
cd "$WORK"
truncate -s 16M disk.img
export TEST_VMM

"$PY" - <<'PY'
import console, http.server, json, os, re, socket, subprocess, threading, time
from console import Failure

WORK = os.getcwd()
ROOT_RUN = os.geteuid() == 0
XENO = __import__("pwd").getpwnam("xeno") if ROOT_RUN else None


def status(path):
    return dict(l.split(":", 1) for l in open(path).read().splitlines() if ":" in l)


def check_confined(pid, vcpus):
    """Every thread of pid is confined; returns {comm: count}."""
    names = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        base = "/proc/%d/task/%s" % (pid, tid)
        st = status(base + "/status")
        comm = open(base + "/comm").read().strip()
        names[comm] = names.get(comm, 0) + 1
        where = "thread %s (%s)" % (tid, comm)
        if st["Seccomp"].strip() != "2":
            raise Failure("%s: Seccomp %s, want 2" % (where, st["Seccomp"].strip()))
        if st["NoNewPrivs"].strip() != "1":
            raise Failure("%s: NoNewPrivs %s" % (where, st["NoNewPrivs"].strip()))
        for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
            if int(st[cap], 16) != 0:
                raise Failure("%s: %s %s" % (where, cap, st[cap].strip()))
        uids, gids = st["Uid"].split(), st["Gid"].split()
        if "0" in uids or "0" in gids:
            raise Failure("%s: uid %s gid %s: root" % (where, uids, gids))
        if XENO and (set(uids) != {str(XENO.pw_uid)} or set(gids) != {str(XENO.pw_gid)}):
            raise Failure("%s: uid %s gid %s, want xeno's" % (where, uids, gids))
        if XENO and st["Groups"].strip():
            raise Failure("%s: supplementary groups %s" % (where, st["Groups"].strip()))
        # One filter each: the vCPU threads got theirs from their starter,
        # not the main thread's on top.
        if comm in ("xeno-vmm", "xeno-vcpu") and st["Seccomp_filters"].strip() != "1":
            raise Failure("%s: %s filters, want 1" % (where, st["Seccomp_filters"].strip()))
    if names.get("xeno-vcpu") != vcpus:
        raise Failure("vCPU threads %s, want %d xeno-vcpu" % (names, vcpus))
    return names


def check_memory(pid, ram_mib):
    wx = []
    jit = set()
    for l in open("/proc/%d/maps" % pid):
        f = l.split()
        if "w" in f[1] and "x" in f[1]:
            wx.append(l.strip())
        if "xeno-jit" in l:
            jit.add(f[1])
    if wx:
        raise Failure("writable and executable mappings: %s" % wx)
    if jit != {"r-xs", "rw-s"}:
        raise Failure("the JIT's code cache is mapped %s, want r-xs and rw-s (W^X)" % sorted(jit))
    smaps = open("/proc/%d/smaps" % pid).read().split("\n")
    ram_flags = None
    for i, l in enumerate(smaps):
        m = re.match(r"([0-9a-f]+)-([0-9a-f]+) ", l)
        if m and int(m.group(2), 16) - int(m.group(1), 16) >= ram_mib << 20:
            for k in smaps[i + 1:]:
                if k.startswith("VmFlags:"):
                    ram_flags = k.split()[1:]
                    break
            break
    if ram_flags is None or "dd" not in ram_flags:
        raise Failure("guest RAM not marked MADV_DONTDUMP: VmFlags %s" % ram_flags)
    limits = open("/proc/%d/limits" % pid).read()
    if not re.search(r"Max core file size\s+0\s+0", limits):
        raise Failure("core files not off: %s" % [l for l in limits.splitlines() if "core" in l])


def check_jail(pid):
    if not ROOT_RUN:
        return
    for ns in ("mnt", "ipc"):
        if os.readlink("/proc/%d/ns/%s" % (pid, ns)) == os.readlink("/proc/self/ns/%s" % ns):
            raise Failure("the VMM shares our %s namespace" % ns)
    root = "/proc/%d/root" % pid
    entries = sorted(os.listdir(root))
    if entries != ["etc"] or not set(os.listdir(root + "/etc")) <= {"resolv.conf"}:
        raise Failure("the VMM's root is not empty: %s %s" % (entries, os.listdir(root + "/etc")))


class Ctl:
    def __init__(self, path):
        for _ in range(300):
            try:
                self.s = socket.socket(socket.AF_UNIX)
                self.s.connect(path)
                break
            except OSError:
                self.s.close()
                time.sleep(0.1)
        else:
            raise Failure("no control socket at %s" % path)
        self.s.settimeout(60)
        self.buf = b""

    def call(self, cmd, fds=(), **args):
        data = (json.dumps(dict(args, id=1, cmd=cmd)) + "\n").encode()
        if fds:
            socket.send_fds(self.s, [data], list(fds))
        else:
            self.s.sendall(data)
        while True:
            while b"\n" not in self.buf:
                d = self.s.recv(65536)
                if not d:
                    raise Failure("control socket closed during %s" % cmd)
                self.buf += d
            line, self.buf = self.buf.split(b"\n", 1)
            m = json.loads(line)
            if m.get("id") == 1:
                return m


def save_fd(ctl, path, **kw):
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        r = ctl.call("save", fds=[fd], fd=True, **kw)
    finally:
        os.close(fd)
    if not r.get("ok"):
        raise Failure("save with the file passed: %s" % r)
    os.rename(path + ".tmp", path)


def serve_token(tok):
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(tok.encode())

        def log_message(self, *a):
            pass
    srv = http.server.HTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv.server_address[1]


def guest_works(vm, port, tok, dns):
    out = vm.run("dd if=/dev/urandom of=/tmp/d bs=4096 count=64 2>/dev/null; "
                 "dd if=/tmp/d of=/dev/vda bs=4096 conv=fsync 2>/dev/null; "
                 "echo 3 > /proc/sys/vm/drop_caches; md5sum </tmp/d; "
                 "dd if=/dev/vda bs=4096 count=64 2>/dev/null | md5sum", timeout=60)
    sums = re.findall(r"\b[0-9a-f]{32}\b", out)
    if len(sums) != 2 or sums[0] != sums[1]:
        raise Failure("the disk does not read back what was written: %r" % out)
    out = vm.run("for i in 1 2 3; do wget -q -T 10 -O - http://10.0.2.2:%d/ && break; sleep 2; done"
                 % port, timeout=90, check=False)
    if tok not in out:
        raise Failure("wget through slirp printed %r, want %s" % (out.strip(), tok))
    if dns:
        # slirp forwards 10.0.2.3 to the host's resolver, read from the
        # copy of resolv.conf in the VMM's empty root (without it: to
        # 127.0.0.1, where nothing may answer). Any answer will do.
        out = vm.run("nslookup xeno-sandbox.invalid 10.0.2.3 2>&1", timeout=60, check=False)
        if not re.search(r"Name:|NXDOMAIN|SERVFAIL|REFUSED", out):
            raise Failure("DNS through slirp: no answer in the sandbox: %r" % out.strip())


def host_dns_works():
    """The host's resolver answers (then slirp's forwarding must too)."""
    ns = [l.split()[1] for l in open("/etc/resolv.conf") if l.startswith("nameserver")] \
        if os.path.exists("/etc/resolv.conf") else []
    if not ns:
        return False
    try:
        s = socket.socket(socket.AF_INET6 if ":" in ns[0] else socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(3)
        # A standard query for "xeno-sandbox.invalid" A.
        s.sendto(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
                 b"\x0cxeno-sandbox\x07invalid\x00\x00\x01\x00\x01", (ns[0], 53))
        return s.recv(512)[:2] == b"\x12\x34"
    except OSError:
        return False


def test():
    tok = console.token("sbx")
    port = serve_token(tok)
    dns = host_dns_works()
    ctl_path = os.path.join(WORK, "a.sock")
    args = ["--memory", "256", "--vcpus", "2", "--disk", "file:%s/disk.img,vda,w" % WORK,
            "--net", "type=user", "--control", ctl_path]
    vm = console.open_vm(args, log="a.log")
    try:
        vm.boot()
        pid = vm.proc.pid
        check_confined(pid, 2)
        check_memory(pid, 256)
        check_jail(pid)
        print("confined: seccomp on every thread, no privileges, W^X, no dumps%s" %
              (", own namespaces and an empty root" if ROOT_RUN else ""))
        guest_works(vm, port, tok, dns)
        print("guest works sandboxed: disk, wget through slirp%s" % (", DNS" if dns else ""))
        ctl = Ctl(ctl_path)
        r = ctl.call("save", path=os.path.join(WORK, "p.save"))
        if r.get("ok") or "Permission denied" not in r.get("error", ""):
            raise Failure("a save to a path was not refused with EACCES: %s" % r)
        if os.path.exists(os.path.join(WORK, "p.save.tmp")):
            raise Failure("the refused save left a file")
        if "alive-42" not in vm.run("echo alive-$((6*7))"):
            raise Failure("the guest does not answer after the refused save")
        save_fd(ctl, os.path.join(WORK, "ck.save"), checkpoint=True)
        vm.run("echo after-checkpoint")
        r = ctl.call("destroy")
        if vm.wait(30) != 4:
            raise Failure("destroy: exit status %s, want 4" % vm.proc.returncode)
        for _ in range(50):
            if not os.path.exists(ctl_path) and not os.path.exists(ctl_path + ".console"):
                break
            time.sleep(0.1)
        else:
            raise Failure("the sockets stayed after the sandboxed VMM ended")
        rec = open(ctl_path + ".exit").read()
        if rec != "destroyed\n":
            raise Failure("exit record %r, want 'destroyed'" % rec)
        if "xeno-vmm:" in vm.text():
            raise Failure("the sandboxed VMM complained: %s" %
                          [l for l in vm.text().splitlines() if "xeno-vmm:" in l])
        print("path save refused (EACCES), passed-file save ok, destroy: 4, sockets gone")
    finally:
        vm.close()

    # The checkpoint, restored into a sandboxed VMM.
    b_path = os.path.join(WORK, "b.sock")
    vm = console.open_vm(["--restore", os.path.join(WORK, "ck.save"), "--control", b_path],
                         log="b.log")
    try:
        vm.sendline("")
        vm.expect(r"# $", timeout=60)
        check_confined(vm.proc.pid, 2)
        if "restored-42" not in vm.run("echo restored-$((6*7))"):
            raise Failure("the restored guest does not answer")
        vm.sendline("poweroff")
        if vm.wait(60) != 0:
            raise Failure("restored guest: poweroff gave %s" % vm.proc.returncode)
        if open(b_path + ".exit").read() != "poweroff\n":
            raise Failure("restored: exit record %r" % open(b_path + ".exit").read())
        print("restored sandboxed from the checkpoint, powered off: 0")
    finally:
        vm.close()

    # XENO_SANDBOX=0: a warning, and nothing confined.
    env = dict(os.environ, XENO_SANDBOX="0")
    vm = console.open_vm([], log="c.log", env=env)
    try:
        vm.boot()
        st = status("/proc/%d/status" % vm.proc.pid)
        if st["Seccomp"].strip() != "0" or (ROOT_RUN and st["Uid"].split()[0] != "0"):
            raise Failure("XENO_SANDBOX=0: Seccomp %s, uid %s" % (st["Seccomp"].strip(), st["Uid"]))
        vm.sendline("poweroff")
        vm.wait(60)
        warn = [l for l in vm.text().splitlines() if "xeno-vmm:" in l]
        if len(warn) != 1 or "the sandbox is off (XENO_SANDBOX=0)" not in warn[0]:
            raise Failure("XENO_SANDBOX=0: VMM lines %r, want one warning" % warn)
        print("XENO_SANDBOX=0: %s" % warn[0].strip())
    finally:
        vm.close()


def killed(call, thread, extra=(), migrate=False):
    """The test build makes `call` in a `thread` kind: it must die of SIGSYS."""
    env = dict(os.environ, XENO_SANDBOX_TEST="%s@%s+1500" % (call, thread))
    ctl_path = os.path.join(WORK, "t-%s-%s.sock" % (call, thread))
    p = subprocess.Popen([os.environ["TEST_VMM"], "--control", ctl_path, "--no-console"] +
                         list(extra), env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if migrate:
            ctl = Ctl(ctl_path)
            a, b = socket.socketpair()
            ctl.s.settimeout(10)
            try:
                ctl.call("migrate", fds=[a.fileno()], fd=True)
            except (Failure, OSError):
                pass            # the VMM may die before it answers
            a.close()
        rc = p.wait(60)
    except subprocess.TimeoutExpired:
        p.kill()
        raise Failure("%s in the %s thread: the VMM was not killed" % (call, thread))
    err = p.stderr.read().decode(errors="replace").strip()
    if rc != -31:
        raise Failure("%s in the %s thread: exit status %s, want death by SIGSYS (%r)"
                      % (call, thread, rc, err))
    return "%s@%s" % (call, thread)


def test_forbidden():
    done = [killed("ptrace", "vcpu"), killed("mmap-exec", "vcpu"), killed("socket-unix", "vcpu"),
            killed("fork", "vcpu"), killed("ptrace", "main"), killed("ioctl-tiocsti", "main"),
            killed("kvm-run", "main"), killed("kvm-create-vm", "vcpu"),
            killed("ptrace", "migration", migrate=True)]
    print("killed by SIGSYS: %s" % ", ".join(done))


console.main(lambda: (test(), test_forbidden()))
PY
