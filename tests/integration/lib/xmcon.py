"""Drive `xm console DOM` in a pseudo-terminal, as a user at a terminal
would (Ctrl-] detaches only when stdin is a tty).

    python3 xmcon.py XM DOM wait            # shell prompt reached
    python3 xmcon.py XM DOM run 'CMD'       # prints CMD's output (guest side)
    python3 xmcon.py XM DOM clock           # prints "HOST_MONO GUEST_UPTIME"
    python3 xmcon.py --socket PATH DOM run 'CMD'   # the VMM's console socket
                                                   # directly (no xm, no xend)

Every call attaches, does its job, detaches with Ctrl-] and checks that
xm exited 0. Exit 1 with one line on stderr on a timeout or failure.
XMCON_TIMEOUT (seconds, default 90) bounds each call.
"""
import os
import pty
import random
import re
import select
import signal
import socket
import sys
import time

CTRL_RBRACKET = b"\x1d"


class Console:
    def __init__(self, xm, dom, timeout):
        self.timeout = timeout
        self.buf = b""
        self.mark = 0
        self.sock = None
        if xm == "--socket":
            self.pid = None
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.connect(dom)
            self.fd = self.sock.fileno()
            return
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execvp(xm, [xm, "console", dom])

    def _read(self, t):
        r, _, _ = select.select([self.fd], [], [], t)
        if not r:
            return
        try:
            d = os.read(self.fd, 65536)
        except OSError:
            d = b""
        if not d:
            raise EOFError("xm console ended; tail: %r" % self.buf[-200:])
        self.buf += d

    def expect(self, pat, timeout=None, poke=None):
        """Wait for regex pat after the mark; poke() every 2 s if given."""
        rx = re.compile(pat.encode(), re.S)
        end = time.monotonic() + (timeout or self.timeout)
        next_poke = time.monotonic() + 2
        while True:
            m = rx.search(self.buf, self.mark)
            if m:
                self.mark = m.end()
                return m
            now = time.monotonic()
            if now >= end:
                raise TimeoutError("timeout waiting for %r; tail: %r" % (pat, self.buf[-300:]))
            if poke and now >= next_poke:
                poke()
                next_poke = now + 2
            self._read(min(end - now, 0.5))

    def send(self, s):
        self.mark = len(self.buf)
        os.write(self.fd, s.encode())

    def prompt(self):
        """Let the replayed ring drain, then get a fresh shell prompt."""
        end = time.monotonic() + 5
        n = -1
        while n != len(self.buf) and time.monotonic() < end:
            n = len(self.buf)
            self._read(0.3)
        self.send("\r")
        self.expect(r"\n[^\n]*# $", poke=lambda: os.write(self.fd, b"\r"))

    def run(self, cmd):
        """CMD's output. The markers around it are computed by the guest
        shell, so neither the echoed command line (which the guest's line
        editor may wrap) nor the replayed ring can match them."""
        n = random.randrange(10**6, 10**7)
        self.send('echo "@<"$((%d+0));%s;echo "@>"$((%d+0))\r' % (n, cmd, n))
        m = self.expect(r"@<%d\r?\n(.*?)@>%d\r?\n.*# $" % (n, n))
        return m.group(1).decode(errors="replace").replace("\r", "")

    def detach(self):
        if self.sock:
            self.sock.close()
            return
        os.write(self.fd, CTRL_RBRACKET)
        end = time.monotonic() + 10
        while time.monotonic() < end:
            pid, st = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                if not os.WIFEXITED(st) or os.WEXITSTATUS(st) != 0:
                    raise RuntimeError("xm console exited with status %r" % st)
                return
            try:
                self._read(0.1)
            except EOFError:
                pass
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        raise RuntimeError("xm console did not detach on Ctrl-]")


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    xm, dom, op = sys.argv[1:4]
    c = Console(xm, dom, float(os.environ.get("XMCON_TIMEOUT", "90")))
    try:
        c.prompt()
        if op == "run":
            sys.stdout.write(c.run(sys.argv[4]))
        elif op == "clock":
            out = c.run("cat /proc/uptime")
            print("%.3f %s" % (time.monotonic(), out.split()[0]))
        elif op != "wait":
            raise ValueError("unknown operation " + op)
        c.detach()
    except Exception as e:
        if c.pid:
            try:
                os.kill(c.pid, signal.SIGKILL)
            except OSError:
                pass
        sys.exit("xmcon %s %s: %s" % (dom, op, e))


if __name__ == "__main__":
    main()
