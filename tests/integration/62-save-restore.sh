#!/usr/bin/env bash
# save/restore (emu engine, docs/migration.md): the default guest with an
# ext4 disk and user networking is saved through the control socket
# ({"cmd": "save", "fd": true}, the file passed with the request: the
# sandboxed VMM opens nothing) and continued by `xeno-vmm --restore FILE --no-console
# --control PATH`, and then works as before: its console answers, a tmpfs
# file written before the save is intact, the disk reads back the file
# written before (md5sum) and takes new writes, and the network fetches a
# token from a host HTTP server through 10.0.2.2 (a new connection: slirp's
# old ones are gone, the guest's address is not).
#
#   1. checkpoint=true: the file is written and the original runs on;
#   2. a save without compression (memory images mapped at restore): the
#      original exits 5, the restored domain works;
#   3. the restored domain saved compressed and restored again, then powered
#      off (exit 0); the disk holds everything written in every life;
#   4. the checkpoint of 1 restored once its original is gone: it is the
#      domain as it was then;
#   5. truncated, corrupt and foreign-arch files: one error line, exit 1,
#      nothing started (no control socket, no console socket);
#   6. (root) a guest on a bridge (type=bridge, a TAP): after the restore the
#      VMM announces the guest's MAC with a RARP on its new TAP, the bridge
#      learns it there, and the guest talks to the host through it.
. "$(dirname "$0")/lib/common.sh"
require_vm
[ "${XENO_PEER:-}" = qemu ] && skip "save/restore is xeno-vmm's own (QEMU's is migrate to file)"
cd "$WORK"
command -v mkfs.ext4 >/dev/null || fail "mkfs.ext4 not installed (e2fsprogs; scripts/deps.sh installs it)"
IMG=$WORK/disk.img
truncate -s 64M "$IMG"
mkfs.ext4 -q -F -L xenosave "$IMG" || fail "mkfs.ext4 failed on the host"
export IMG
"$PY" - <<'PY'
import console, ctypes, functools, guestnet, http.server, json, os, re, secrets
import socket, struct, subprocess, threading, time
from console import Failure, Skip

IMG = os.environ["IMG"]
WORK = os.getcwd()
VMM = console.vmm_argv()[0]


class Ctl:
    """The control socket: one JSON request per line, one reply."""

    def __init__(self, path, timeout=60):
        deadline = time.monotonic() + 30
        while True:
            try:
                self.s = socket.socket(socket.AF_UNIX)
                self.s.connect(path)
                break
            except OSError:
                self.s.close()
                if time.monotonic() > deadline:
                    raise Failure("no control socket at %s" % path)
                time.sleep(0.1)
        self.s.settimeout(timeout)
        self.buf = b""
        self.next_id = 1

    def call(self, cmd, fds=(), **args):
        """fds go with the request (SCM_RIGHTS), for "fd": true."""
        req = dict(args, id=self.next_id, cmd=cmd)
        self.next_id += 1
        data = (json.dumps(req) + "\n").encode()
        if fds:
            socket.send_fds(self.s, [data], list(fds))
        else:
            self.s.sendall(data)
        while True:
            while b"\n" not in self.buf:
                d = self.s.recv(65536)
                if not d:
                    raise Failure("control socket closed before the reply to %s" % cmd)
                self.buf += d
            line, self.buf = self.buf.split(b"\n", 1)
            msg = json.loads(line)
            if msg.get("id") == req["id"]:
                return msg

    def close(self):
        self.s.close()


class SockConsole(console.Console):
    """console.Console's expect/run over a VMM's console socket (the
    restored VMM runs with --no-console)."""

    def __init__(self, vmm, path, log):
        import threading as th
        self.argv = ["console", path]
        self.log_path = log
        self._log = open(log, "ab", buffering=0)
        self._buf = bytearray()
        self._pos = 0
        self._cond = th.Condition()
        self._eof = False
        self.start_time = time.monotonic()
        self.proc = vmm
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(path)
        self._reader = th.Thread(target=self._sock_loop, daemon=True)
        self._reader.start()

    def _sock_loop(self):
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                data = b""
            with self._cond:
                if not data:
                    self._eof = True
                    self._cond.notify_all()
                    return
                self._buf += data
                self._log.write(data)
                self._cond.notify_all()

    def send(self, text):
        self._note("send: %r" % text)
        try:
            self.sock.sendall(text.encode())
        except OSError:
            raise Failure("console socket closed while sending %r" % text)

    def prompt(self):
        """Past the replayed output: a fresh prompt."""
        with self._cond:
            self._pos = len(self._buf)
        self.sendline("")
        self.expect(console.PROMPT_RE, 30, "a shell prompt on the restored console")

    def close(self):
        self.sock.close()
        if self._log:
            self._log.close()
            self._log = None


class Vmm:
    """A restored xeno-vmm: the process, its control and console."""

    def __init__(self, file, name, extra=()):
        self.ctl_path = os.path.join(WORK, name + ".ctl")
        self.err_path = os.path.join(WORK, name + ".err")
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [VMM, "--restore", file, "--no-console", "--control", self.ctl_path] + list(extra),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(self.err_path, "wb"), start_new_session=True)
        _procs.append(self.proc)
        _vmms.append(self)
        self.ctl = Ctl(self.ctl_path)
        self.ready_s = time.monotonic() - t0
        self.con = SockConsole(self.proc, self.ctl_path + ".console",
                               os.path.join(WORK, name + "-console.log"))
        console._consoles.append(self.con)
        self.con.prompt()

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stderr(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode("utf-8", "replace")


_procs = []
_vmms = []


def no_sanitizer_reports(vm_consoles):
    """A sanitizer build reports on stderr: nothing of the kind anywhere."""
    texts = [v.stderr() for v in _vmms] + [c.text() for c in vm_consoles]
    for t in texts:
        if "runtime error" in t or "Sanitizer" in t:
            raise Failure("a sanitizer report: %s" % t[t.find("Sanitizer") - 200:][:600])


def save(ctl, path, **kw):
    """The sandboxed VMM opens no files: PATH.tmp goes with the request and
    is renamed once saved, as xend does."""
    t0 = time.monotonic()
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        r = ctl.call("save", fds=[fd], fd=True, **kw)
    finally:
        os.close(fd)
    if not r.get("ok"):
        os.unlink(path + ".tmp")
        raise Failure("save to %s refused: %s" % (path, r.get("error")))
    os.rename(path + ".tmp", path)
    return time.monotonic() - t0


def fetch(vm, port, tok):
    out = vm.run("for i in 1 2 3; do wget -q -T 10 -O - http://10.0.2.2:%d/token.txt "
                 "&& break; sleep 2; done" % port, timeout=120, check=False)
    if tok not in out:
        raise Failure("guest wget printed %r, want the token %s" % (out.strip(), tok))


def md5(vm, path):
    return vm.run("md5sum %s" % path).split()[0]


def write_file(vm, path, kib):
    """A new random file on the disk, synced; its md5sum."""
    vm.run("dd if=/dev/urandom of=%s bs=1024 count=%d 2>/dev/null && sync" % (path, kib))
    return md5(vm, path)


# ---- bad files -----------------------------------------------------------

XXH = ctypes.CDLL("libxxhash.so.0")
XXH.XXH3_64bits.restype = ctypes.c_uint64
XXH.XXH3_64bits.argtypes = [ctypes.c_char_p, ctypes.c_size_t]


def other_arch(good, bad):
    """The save file with the header's arch field set to x86_64 and its
    checksum recomputed: a well-formed file from another architecture."""
    with open(good, "rb") as f:
        data = bytearray(f.read(4 << 20))
    struct.pack_into("<I", data, 16, 2)
    struct.pack_into("<Q", data, 96, XXH.XXH3_64bits(bytes(data[:96]), 96))
    with open(bad, "wb") as f:
        f.write(data)


def corrupt(good, bad, offset):
    with open(good, "rb") as f:
        data = bytearray(f.read())
    data[offset] ^= 0x40
    with open(bad, "wb") as f:
        f.write(data)


def truncated(good, bad, size):
    with open(good, "rb") as f:
        data = f.read(size)
    with open(bad, "wb") as f:
        f.write(data)


def refused(file, want, name):
    """--restore FILE: exit 1 within 10 s, one error line saying `want`,
    and nothing started (no sockets)."""
    ctl_path = os.path.join(WORK, name + ".ctl")
    t0 = time.monotonic()
    p = subprocess.run([VMM, "--restore", file, "--no-console", "--control", ctl_path],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    took = time.monotonic() - t0
    err = p.stderr.decode("utf-8", "replace").strip().splitlines()
    if p.returncode != 1:
        raise Failure("%s: exit status %d, want 1 (stderr %r)" % (name, p.returncode, err))
    if len(err) != 1 or not re.search(want, err[0]):
        raise Failure("%s: stderr %r, want one line matching %r" % (name, err, want))
    if p.stdout:
        raise Failure("%s: printed %r" % (name, p.stdout[:200]))
    if os.path.exists(ctl_path) or os.path.exists(ctl_path + ".console"):
        raise Failure("%s: a control or console socket was left behind" % name)
    if took > 10:
        raise Failure("%s: took %.1f s to refuse" % (name, took))
    print("refused %s in %.2f s: %s" % (name, took, err[0]))


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass


# ---- a guest on a bridge ---------------------------------------------------

BR = "xenosr%d" % (os.getpid() % 10000)
BR_HOST, BR_GUEST = "10.97.0.1", "10.97.0.2"
GUEST_MAC = bytes([0x00, 0x16, 0x3e, 0x5a, 0x11, 0x22])
ETH_P_ALL, ETH_P_RARP = 0x0003, 0x8035


def ip(*args):
    return subprocess.run(["ip"] + list(args), capture_output=True, text=True)


def bridge_learnt(mac):
    """The bridge's forwarding table has mac on a port (not its own)."""
    with open("/sys/class/net/%s/brforward" % BR, "rb") as f:
        data = f.read()
    for off in range(0, len(data) - 15, 16):      # struct __fdb_entry
        if data[off:off + 6] == mac and data[off + 7] == 0:
            return True
    return False


def wait_rarp(sock, mac, timeout):
    """A RARP from mac seen on the bridge within timeout seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        sock.settimeout(max(0.1, end - time.monotonic()))
        try:
            f = sock.recv(2048)
        except socket.timeout:
            break
        if len(f) >= 22 and f[6:12] == mac and f[12:14] == b"\x80\x35" and f[21] == 3:
            return True
    return False


def test_bridge(tok):
    if os.geteuid() != 0 or not os.path.exists("/dev/net/tun"):
        print("bridge part skipped: needs root and /dev/net/tun")
        return
    # A fixed address: a bridge otherwise takes its lowest port's, which
    # changes when the guest's TAP is replaced, and the guest's ARP entry
    # for the host would go stale (a real bridge has its uplink's).
    if ip("link", "add", BR, "address", "02:00:5e:97:00:01", "type", "bridge").returncode != 0:
        print("bridge part skipped: cannot create a bridge")
        return
    srv = None
    try:
        ip("addr", "add", BR_HOST + "/24", "dev", BR)
        ip("link", "set", BR, "up")
        srv = http.server.ThreadingHTTPServer(
            (BR_HOST, 0), functools.partial(QuietHandler, directory="www"))
        port = srv.server_address[1]
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        mac = ":".join("%02x" % b for b in GUEST_MAC)
        ctl_path = os.path.join(WORK, "br.ctl")
        vm = console.open_vm(["--net", "type=bridge,bridge=%s,mac=%s" % (BR, mac),
                              "--control", ctl_path], log="console-br.log")
        vm.boot()
        vm.run("ip addr add %s/24 dev eth0; ip link set eth0 up" % BR_GUEST)
        out = vm.run("for i in 1 2 3 4 5; do wget -q -T 5 -O - http://%s:%d/token.txt "
                     "&& break; sleep 1; done" % (BR_HOST, port), timeout=60, check=False)
        if tok not in out:
            raise Failure("the bridged guest cannot reach the host: %r" % out.strip())
        sav = os.path.join(WORK, "br.sav")
        save(Ctl(ctl_path), sav)
        if vm.wait(30) != 5:
            raise Failure("the bridged guest's VMM did not exit 5 after its save")
        if bridge_learnt(GUEST_MAC):
            raise Failure("the bridge still knows the guest's MAC after its TAP went away")
        cap = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        cap.bind((BR, ETH_P_ALL))
        r = Vmm(sav, "rbr")
        if not wait_rarp(cap, GUEST_MAC, 10):
            raise Failure("no RARP from %s on %s after the restore" % (mac, BR))
        cap.close()
        if not bridge_learnt(GUEST_MAC):
            raise Failure("the bridge did not learn the guest's MAC after the restore")
        out = r.con.run("wget -q -T 5 -O - http://%s:%d/token.txt" % (BR_HOST, port),
                        timeout=60, check=False)
        if tok not in out:
            raise Failure("the restored bridged guest cannot reach the host: %r" % out.strip())
        r.ctl.call("destroy")
        r.wait(30)
        print("bridge: RARP from the guest's MAC on the new TAP, bridge learnt it, "
              "guest reaches the host")
    finally:
        if srv:
            srv.shutdown()
        ip("link", "del", BR)


def test():
    tok = console.token("save")
    os.mkdir("www")
    with open("www/token.txt", "w") as f:
        f.write(tok + "\n")
    handler = functools.partial(QuietHandler, directory="www")
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    port = srv.server_address[1]
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    ck, s1, s2 = (os.path.join(WORK, n) for n in ("ck.sav", "s1.sav", "s2.sav"))
    ctl0 = os.path.join(WORK, "orig.ctl")
    try:
        # The original: disk mounted, a file on it, a tmpfs token, DHCP done.
        vm = console.open_vm(["--disk", "file:%s,xvda,w" % IMG, "--net", "type=user",
                              "--control", ctl0], log="console-orig.log")
        vm.boot()
        if not guestnet.has_applet(vm, "wget"):
            raise Failure("guest busybox has no wget applet (the default guest is the project's own)")
        vm.run("mkdir -p /mnt && mount -t ext4 /dev/vda /mnt")
        if vm.run("grep -c ' /mnt ' /proc/mounts", check=False).strip() != "1":
            raise Failure("the guest cannot mount ext4 (the default guest is the project's own)")
        m1 = write_file(vm, "/mnt/one", 512)
        vm.run("echo %s > /tmp/mem-token" % tok)
        guestnet.wait_for_dhcp(vm)
        fetch(vm, port, tok)
        ctl = Ctl(ctl0)

        # 1. Checkpoint: the original goes on.
        t = save(ctl, ck, checkpoint=True)
        if vm.run("echo still-$((6*7))").strip() != "still-42":
            raise Failure("the original does not answer after a checkpoint")
        print("checkpoint written in %.2f s (%d MiB file); the original runs on"
              % (t, os.path.getsize(ck) >> 20))

        # 2. Save (memory as images), the original ends with status 5.
        t = save(ctl, s1)
        rc = vm.wait(30)
        if rc != 5:
            raise Failure("exit status %s after save, want 5 (saved)" % rc)
        print("saved in %.2f s: %d MiB apparent, %d MiB on disk" % (
            t, os.path.getsize(s1) >> 20, os.stat(s1).st_blocks * 512 >> 20))

        r = Vmm(s1, "r1")
        print("restored (control socket up) in %.2f s" % r.ready_s)
        g = r.con
        if g.run("cat /tmp/mem-token").strip() != tok:
            raise Failure("the tmpfs token did not survive the restore")
        if md5(g, "/mnt/one") != m1:
            raise Failure("/mnt/one reads back another md5sum after the restore")
        g.run("echo 3 > /proc/sys/vm/drop_caches")
        if md5(g, "/mnt/one") != m1:
            raise Failure("/mnt/one read from the disk differs after the restore")
        m2 = write_file(g, "/mnt/two", 512)
        fetch(g, port, tok)
        print("restored domain: console, tmpfs, disk read/write, network all work")

        # 3. Compressed save of the restored domain, restored again.
        t = save(r.ctl, s2, compress=True)
        if r.wait(30) != 5:
            raise Failure("the restored VMM did not exit 5 after its save")
        print("compressed save in %.2f s: %d MiB" % (t, os.path.getsize(s2) >> 20))
        r2 = Vmm(s2, "r2")
        print("restored from the compressed file in %.2f s" % r2.ready_s)
        g = r2.con
        if g.run("cat /tmp/mem-token").strip() != tok:
            raise Failure("the tmpfs token did not survive the second restore")
        g.run("echo 3 > /proc/sys/vm/drop_caches")
        if md5(g, "/mnt/one") != m1 or md5(g, "/mnt/two") != m2:
            raise Failure("the disk files differ after the second restore")
        m3 = write_file(g, "/mnt/three", 256)
        fetch(g, port, tok)
        g.run("umount /mnt && sync")
        g.sendline("poweroff")
        rc = r2.wait(60)
        if rc != 0:
            raise Failure("exit status %s after poweroff of the restored domain, want 0" % rc)
        print("second restore: everything works; poweroff -> 0")

        # 4. The checkpoint, restored now that its original is gone.
        r3 = Vmm(ck, "r3")
        g = r3.con
        if g.run("cat /tmp/mem-token").strip() != tok:
            raise Failure("the checkpoint lost the tmpfs token")
        if md5(g, "/mnt/one") != m1:
            raise Failure("the checkpoint reads /mnt/one differently")
        r3.ctl.call("destroy")
        if r3.wait(30) != 4:
            raise Failure("the checkpoint's VMM did not exit 4 on destroy")
        print("checkpoint restored: the domain as it was at the checkpoint")

        # The disk holds what every life wrote.
        out = subprocess.run(["debugfs", "-R", "ls -l /", IMG], capture_output=True,
                             text=True).stdout
        for n in ("one", "two", "three"):
            if not re.search(r"\s%s\s*$" % n, out, re.M):
                raise Failure("the host image lacks /%s:\n%s" % (n, out))

        # 5. Bad files.
        size = os.path.getsize(s2)
        truncated(s2, "trunc-head.sav", 50)
        refused("trunc-head.sav", r"truncated|short|header", "a 50-byte file")
        truncated(s2, "trunc-tail.sav", size - 100)
        refused("trunc-tail.sav", r"truncated", "a compressed file without its end")
        truncated(s1, "trunc-image.sav", os.path.getsize(s1) - (1 << 20))
        refused("trunc-image.sav", r"image", "a file whose memory image is cut short")
        corrupt(s2, "corrupt.sav", size // 2)
        refused("corrupt.sav", r"checksum|corrupt", "a flipped bit mid-file")
        corrupt(s2, "corrupt-head.sav", 40)
        refused("corrupt-head.sav", r"checksum|corrupt", "a flipped bit in the header")
        other_arch(s2, "x86.sav")
        refused("x86.sav", r"x86_64", "a file of another arch")
        with open("zero.sav", "wb"):
            pass
        refused("zero.sav", r".", "an empty file")
        with open("text.sav", "w") as f:
            f.write("name = 'x'\nmemory = 128\n" * 10)
        refused("text.sav", r"not a Xeno save file", "a config file")

        # 6. A guest on a bridge.
        test_bridge(tok)
        no_sanitizer_reports(console._consoles)
    finally:
        srv.shutdown()
        for p in _procs:
            if p.poll() is None:
                p.kill()
                p.wait()


console.main(test)
PY
