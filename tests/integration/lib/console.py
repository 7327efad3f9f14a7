#!/usr/bin/env python3
"""Serial-console driver for the Xeno integration tests and benchmarks.

Starts a VM command with its console on pipes, waits for regular
expressions with timeouts, sends lines, runs shell commands in the guest and
returns the VM's exit status.  Everything the VM prints is copied to a
transcript log.  Python standard library only.

Typical use from a test:

    import console
    vm = console.Console(console.vmm_argv(["--vcpus", "4"]), log="t.log")
    vm.boot()                      # banner + first shell prompt
    out = vm.run("uname -m")       # output of the command, checks status 0
    vm.sendline("poweroff")
    rc = vm.wait(30)

A failed expectation raises Failure; `console.main(fn)` turns that into
"FAIL: message" + transcript tail and exit status 1 (77 for Skip).
"""

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time

LIB_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(LIB_DIR, "..", "..", ".."))

# The emulator is slower than QEMU; be generous.
BANNER_TIMEOUT = float(os.environ.get("XENO_BANNER_TIMEOUT", "60"))
BANNER_RE = (r"Welcome to Xeno guest: Linux (?P<release>\S+) (?P<arch>\S+), "
             r"(?P<cpus>\d+) CPUs?, (?P<mib>\d+) MiB")
PROMPT_RE = r"# $"


class Failure(Exception):
    """The test failed; the message says why."""


class Skip(Exception):
    """The test cannot run here; the message says why."""


def vmm_argv(args=()):
    """Command that runs the VMM under test with ARGS.

    XENO_PEER=qemu runs the QEMU shim (same options, same exit statuses) so
    the tests can be proven against the reference peer."""
    if os.environ.get("XENO_PEER") == "qemu":
        return [sys.executable, os.path.join(LIB_DIR, "qemu_shim.py")] + list(args)
    vmm = os.environ.get("XENO_VMM",
                         os.path.join(ROOT, "build", "src", "vmm", "xeno-vmm"))
    return [vmm] + list(args)


def guest_dir():
    return os.environ.get("XENO_GUEST_DIR", os.path.join(ROOT, "build", "guest"))


def require_vm():
    """Skip unless the VMM and the default guest exist."""
    argv = vmm_argv()
    if os.environ.get("XENO_PEER") != "qemu" and not os.access(argv[0], os.X_OK):
        raise Failure("xeno-vmm not built: %s" % argv[0])
    for f in ("Image", "initramfs.cpio.gz"):
        if not os.path.isfile(os.path.join(guest_dir(), f)):
            raise Failure("default guest not built: %s/%s missing" % (guest_dir(), f))


def token(prefix="tok"):
    return "%s-%s" % (prefix, secrets.token_hex(8))


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Console:
    def __init__(self, argv, log=None, env=None, stderr_to_log=True):
        self.argv = list(argv)
        self.log_path = log
        self._log = open(log, "ab", buffering=0) if log else None
        self._buf = bytearray()   # everything read so far
        self._pos = 0             # expect() searches from here
        self._cond = threading.Condition()
        self._eof = False
        self.start_time = time.monotonic()
        self._note("start: " + " ".join(self.argv))
        self.proc = subprocess.Popen(
            self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if stderr_to_log else None,
            env=env, start_new_session=True)  # own group: kill() reaps all
        self.pid = self.proc.pid
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    # -- plumbing ---------------------------------------------------------
    def _note(self, msg):
        if self._log:
            self._log.write(("\n[console %.2fs] %s\n" % (
                time.monotonic() - self.start_time, msg)).encode())

    def _read_loop(self):
        fd = self.proc.stdout.fileno()
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b""
            with self._cond:
                if not data:
                    self._eof = True
                    self._cond.notify_all()
                    return
                self._buf += data
                if self._log:
                    self._log.write(data)
                self._cond.notify_all()

    def text(self, start=0):
        with self._cond:
            return self._buf[start:].decode("utf-8", "replace")

    def tail(self, lines=40):
        return "\n".join(self.text().replace("\r", "").splitlines()[-lines:])

    # -- expectations -----------------------------------------------------
    def expect(self, pattern, timeout=30, what=None):
        """Wait until PATTERN (regex, searched from the end of the previous
        match) appears; return the match.  Raises Failure on timeout or when
        the VM exits first."""
        rx = re.compile(pattern.encode() if isinstance(pattern, str) else pattern,
                        re.M)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                m = rx.search(self._buf, self._pos)
                if m:
                    self._pos = m.end()
                    return _TextMatch(m)
                left = deadline - time.monotonic()
                if self._eof or left <= 0:
                    break
                self._cond.wait(min(left, 0.5))
        why = "VM exited (status %s)" % self.proc.poll() if self._eof else \
              "timeout after %gs" % timeout
        raise Failure("%s waiting for %s" % (why, what or repr(pattern)))

    def send(self, text):
        self._note("send: %r" % text)
        try:
            self.proc.stdin.write(text.encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise Failure("VM console closed while sending %r" % text)

    def sendline(self, line):
        self.send(line + "\n")

    def boot(self, timeout=BANNER_TIMEOUT):
        """Wait for the guest banner and its first shell prompt; return the
        banner match (groups: release, arch, cpus, mib)."""
        m = self.expect(BANNER_RE, timeout, "the guest banner")
        self.banner_time = time.monotonic() - self.start_time
        self.expect(PROMPT_RE, 30, "the first shell prompt")
        return m

    def run(self, cmd, timeout=30, check=True):
        """Run CMD in the guest shell; return its output (stripped of \\r
        and of the echoed command).  Markers are split in the sent line so
        the terminal echo of the command never matches them."""
        tag = secrets.token_hex(4)
        self.sendline("echo '=S''%s='; %s; echo \"=E\"\"%s=$?=\"" % (tag, cmd, tag))
        self.expect("=S%s=\r?\n" % tag, timeout, "start of output of %r" % cmd)
        start = self._pos
        m = self.expect(r"=E%s=(\d+)=" % tag, timeout, "end of %r" % cmd)
        out = self._buf[start:m.m.start()].decode("utf-8", "replace")
        out = out.replace("\r", "")
        status = int(m.group(1))
        self.expect(PROMPT_RE, 10, "prompt after %r" % cmd)
        if check and status != 0:
            raise Failure("guest command %r failed with status %d: %s" % (
                cmd, status, out.strip()[-500:]))
        return out

    # -- end of life ------------------------------------------------------
    def wait(self, timeout):
        """Exit status of the VM, or None if it is still running after
        TIMEOUT seconds (it keeps running; close() kills it)."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self._reader.join(2)
        self._note("exit status %d" % rc)
        return rc

    def close(self):
        """Kill the VM (whole process group) if it is still running."""
        if self.proc.poll() is None:
            self._note("killing pid %d" % self.pid)
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(self.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(3)
                    break
                except subprocess.TimeoutExpired:
                    pass
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        if self._log:
            self._log.close()
            self._log = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _TextMatch:
    """A bytes regex match that hands out str groups."""

    def __init__(self, m):
        self.m = m

    def group(self, *a):
        g = self.m.group(*a)
        return g.decode("utf-8", "replace") if isinstance(g, bytes) else g

    def __getitem__(self, k):
        return self.group(k)


_consoles = []


def open_vm(args=(), log=None, **kw):
    """Console on the VMM under test with ARGS; closed by main() at exit."""
    vm = Console(vmm_argv(args), log=log, **kw)
    _consoles.append(vm)
    return vm


def main(test):
    """Run TEST(); exit 0 pass, 1 fail (with transcript tail), 77 skip."""
    rc = 0
    # A timeout's SIGTERM must still reach the finally below: the VMs run in
    # their own sessions and would otherwise outlive the test.
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))
    signal.signal(signal.SIGHUP, lambda *a: sys.exit(1))
    try:
        test()
        print("PASS")
    except Skip as e:
        print("SKIP: %s" % e)
        rc = 77
    except Failure as e:
        for vm in _consoles:
            print("---- transcript tail (%s) ----" % " ".join(vm.argv))
            print(vm.tail())
        print("FAIL: %s" % e)
        rc = 1
    finally:
        for vm in _consoles:
            vm.close()
    sys.exit(rc)


if __name__ == "__main__":
    # Smoke mode: boot the default guest, run a command, power off.
    def smoke():
        require_vm()
        vm = open_vm(sys.argv[1:], log=os.environ.get("CONSOLE_LOG"))
        b = vm.boot()
        print("banner after %.2fs: %s" % (vm.banner_time, b.group(0)))
        print(vm.run("uname -a").strip())
        vm.sendline("poweroff")
        print("exit status", vm.wait(30))
    main(smoke)
