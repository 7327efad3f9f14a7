#!/usr/bin/env python3
"""Boot the default guest on QEMU (the reference peer) and check it works.

    python3 guest/qemu-check.py OUTDIR [--net] [--disk]

Checks: the banner appears (and reports -smp CPUs), `uname -m` says riscv64,
with --net eth0 gets 10.0.2.15 and wget fetches a page from a host HTTP
server bound to 127.0.0.1, with --disk /dev/vda exists, and `poweroff` ends
QEMU (or `reboot`, with --reboot). Prints the banner and the boot time; exits non-zero on failure.
Not part of the guest build recipe (not in the cache key).
"""
import argparse
import functools
import http.server
import os
import re
import select
import subprocess
import sys
import tempfile
import threading
import time

BANNER = re.compile(rb"Welcome to Xeno guest: Linux (\S+) (\S+), (\d+) CPUs, (\d+) MiB\r?\n")
PROMPT = b" # "


class Guest:
    def __init__(self, argv, log):
        self.log = log
        self.buf = b""
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)

    def expect(self, pattern, timeout):
        """Wait for a regex (bytes) in the output; return the match."""
        rx = re.compile(pattern) if isinstance(pattern, bytes) else pattern
        end = time.monotonic() + timeout
        while True:
            m = rx.search(self.buf)
            if m:
                self.buf = self.buf[m.end():]
                return m
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError("timed out waiting for %r" % rx.pattern)
            r, _, _ = select.select([self.proc.stdout], [], [], left)
            if r:
                data = os.read(self.proc.stdout.fileno(), 4096)
                if not data:
                    raise EOFError("QEMU exited while waiting for %r" % rx.pattern)
                self.log.write(data)
                self.log.flush()
                self.buf += data

    def send(self, line):
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def run(self, cmd, timeout=20):
        """Run a shell command, return its output (between echo and prompt)."""
        tag = "XENO%d" % int(time.monotonic() * 1000)
        self.send("%s; echo %s-$?" % (cmd, tag))
        m = self.expect(re.compile(re.escape(tag.encode()) + rb"-(\d+)\r?\n"), timeout)
        self.expect(re.compile(re.escape(PROMPT)), timeout)
        return m.group(1).decode()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def http_server(root):
    handler = functools.partial(QuietHandler, directory=root)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--net", action="store_true")
    ap.add_argument("--disk", action="store_true")
    ap.add_argument("--smp", type=int, default=2)
    ap.add_argument("--mem", type=int, default=256)
    ap.add_argument("--append", default="console=ttyS0")
    ap.add_argument("--reboot", action="store_true", help="end with `reboot` (QEMU runs with -no-reboot)")
    ap.add_argument("--log", default="-")
    args = ap.parse_args()

    argv = ["qemu-system-riscv64", "-M", "virt", "-bios", "default", "-m", str(args.mem),
            "-smp", str(args.smp), "-nographic", "-no-reboot",
            "-kernel", os.path.join(args.outdir, "Image"),
            "-initrd", os.path.join(args.outdir, "initramfs.cpio.gz"),
            "-append", args.append]
    tmp = tempfile.mkdtemp(prefix="xeno-qemu-check.")
    srv = None
    if args.net:
        argv += ["-netdev", "user,id=n0", "-device", "virtio-net-device,netdev=n0"]
        with open(os.path.join(tmp, "index.html"), "w") as f:
            f.write("hello from the xeno host\n")
        srv = http_server(tmp)
    if args.disk:
        disk = os.path.join(tmp, "disk.img")
        with open(disk, "wb") as f:
            f.truncate(8 << 20)
        argv += ["-drive", "file=%s,format=raw,if=none,id=d0" % disk,
                 "-device", "virtio-blk-device,drive=d0"]

    log = sys.stdout.buffer if args.log == "-" else open(args.log, "wb")
    t0 = time.monotonic()
    g = Guest(argv, log)
    ok = False
    try:
        m = g.expect(BANNER, 120)
        boot = time.monotonic() - t0
        banner = m.group(0).decode().strip()
        g.expect(re.compile(re.escape(PROMPT)), 30)
        results = ["banner: %s" % banner, "boot to banner: %.2f s" % boot]
        assert int(m.group(3)) == args.smp, "banner reports %s CPUs" % m.group(3)
        assert g.run("uname -m | grep -qx riscv64") == "0", "uname -m is not riscv64"
        if args.net:
            assert g.run("ip -4 addr show eth0 | grep -q 'inet 10.0.2.15/'") == "0", "eth0 has no 10.0.2.15"
            port = srv.server_address[1]
            assert g.run("wget -q -O - http://10.0.2.2:%d/ | grep -q 'hello from the xeno host'"
                         % port) == "0", "wget from the host failed"
            results.append("net: eth0 10.0.2.15, wget OK")
        if args.disk:
            assert g.run("test -b /dev/vda") == "0", "/dev/vda missing"
            results.append("disk: /dev/vda present")
        t1 = time.monotonic()
        how = "reboot" if args.reboot else "poweroff"
        g.send(how)
        g.proc.wait(timeout=30)
        results.append(how + ": QEMU exited (rc %d) after %.2f s" % (g.proc.returncode, time.monotonic() - t1))
        ok = True
    except (AssertionError, TimeoutError, EOFError, subprocess.TimeoutExpired) as e:
        print("\nqemu-check: FAIL: %s" % e, file=sys.stderr)
    finally:
        g.kill()
        if srv:
            srv.shutdown()
        for name in os.listdir(tmp):
            os.unlink(os.path.join(tmp, name))
        os.rmdir(tmp)
    if ok:
        print("\nqemu-check: PASS")
        for r in results:
            print("  " + r)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
