#!/usr/bin/env python3
"""xeno-vmm's command-line contract, played by qemu-system-riscv64 -M virt.

Used with XENO_PEER=qemu to prove the integration tests against the
reference peer before (and besides) xeno-vmm.  It accepts the same options
and config files (the subset the tests use), validates them the way
xeno-vmm promises (one line on stderr, exit 1, nothing started), runs QEMU
with the console on stdin/stdout, and maps the end of the guest to xeno-vmm
exit statuses: 0 powered off, 2 rebooted (seen on QMP), 1 error.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

QEMU = os.environ.get("QEMU", "qemu-system-riscv64")
MAX_VCPUS = 8          # QEMU 7.2 riscv virt limit
DEFAULT_MEMORY = 256   # MiB
DEFAULT_CMDLINE = "console=ttyS0"


class BadInput(Exception):
    pass


def host_ram_mib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    return 1 << 20


def need_readable(what, path):
    try:
        with open(path, "rb") as f:
            f.read(1)
    except OSError as e:
        raise BadInput("cannot read %s %s: %s" % (what, path, e.strerror))


def parse_memory(v, where=""):
    if not re.fullmatch(r"[0-9]+", str(v).strip()):
        raise BadInput("%sinvalid memory size '%s' (MiB, a positive integer)" % (where, v))
    mib = int(v)
    limit = host_ram_mib() * 4
    if mib < 16 or mib > limit:
        raise BadInput("%smemory %d MiB out of range (16..%d MiB)" % (where, mib, limit))
    return mib


def parse_vcpus(v, where=""):
    if not re.fullmatch(r"[0-9]+", str(v).strip()):
        raise BadInput("%sinvalid vcpus '%s'" % (where, v))
    n = int(v)
    if n < 1 or n > MAX_VCPUS:
        raise BadInput("%svcpus %d out of range (1..%d)" % (where, n, MAX_VCPUS))
    return n


def parse_disk(spec):
    """xl disk spec -> (path, readonly). Accepts 'file:/p,xvda,w',
    '/p,raw,xvda,rw' and key=value forms."""
    parts = [p.strip() for p in spec.split(",")]
    kv = dict(p.split("=", 1) for p in parts if "=" in p)
    pos = [p for p in parts if "=" not in p]
    path = kv.get("target")
    access = kv.get("access", kv.get("mode"))
    if path is None and pos:
        path = pos[0]
        for p in pos[1:]:
            if p in ("r", "ro", "w", "rw"):
                access = p
    if path and ":" in path and path.split(":", 1)[0] in ("file", "phy", "tap:aio", "aio"):
        path = path.split(":", 1)[1]
    if not path:
        raise BadInput("invalid disk spec '%s'" % spec)
    need_readable("disk image", path)
    return path, access in ("r", "ro")


def parse_net(spec):
    kv = []
    for p in spec.split(","):
        p = p.strip()
        if not p:
            continue
        k, _, v = p.partition("=")
        kv.append((k, v))
    kinds = [v for k, v in kv if k == "type"] or ["user"]
    if kinds[0] != "user":
        raise BadInput("shim supports only type=user networks, not '%s'" % kinds[0])
    fwd = ["hostfwd=" + v for k, v in kv if k == "hostfwd"]
    return fwd


CFG_LINE = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$')


def parse_config(path, opts):
    need_readable("config", path)
    with open(path, errors="replace") as f:
        lines = f.read().splitlines()
    for n, raw in enumerate(lines, 1):
        where = "%s:%d: " % (path, n)
        line = raw.split("#", 1)[0].strip() if not raw.strip().startswith("#") else ""
        if not line:
            continue
        m = CFG_LINE.match(line)
        if not m:
            raise BadInput("%ssyntax error: expected 'key = value'" % where)
        key, val = m.group(1), m.group(2)
        try:
            if val.startswith("["):
                value = json.loads(val.replace("'", '"'))
            elif val[:1] in "\"'":
                value = json.loads('"' + val[1:-1] + '"') if val[-1:] == val[0] else None
                if value is None:
                    raise ValueError
            else:
                value = val
        except ValueError:
            raise BadInput("%sbad value for '%s'" % (where, key))
        if key == "kernel":
            opts["kernel"] = value
        elif key == "ramdisk":
            opts["initrd"] = value
        elif key in ("extra", "cmdline"):
            opts["cmdline"] = value
        elif key == "memory":
            opts["memory"] = parse_memory(value, where)
        elif key == "vcpus":
            opts["vcpus"] = parse_vcpus(value, where)
        elif key == "disk":
            opts["disks"] += list(value)
        elif key == "vif":
            opts["nets"] += list(value)
        # name, on_crash, ... are accepted and ignored


def parse_args(argv):
    opts = {"kernel": None, "initrd": None, "cmdline": None, "memory": None,
            "vcpus": None, "disks": [], "nets": [], "bios": None,
            "firmware": None, "config": None}
    with_value = {"--kernel": "kernel", "--initrd": "initrd", "--cmdline": "cmdline",
                  "--memory": "memory", "--vcpus": "vcpus", "--disk": "disks",
                  "--net": "nets", "--bios": "bios", "--firmware": "firmware",
                  "--engine": "engine"}
    i = 0
    while i < len(argv):
        a = argv[i]
        name, eq, inline = a.partition("=")
        if name in with_value:
            if eq:
                val = inline
            elif i + 1 < len(argv):
                i += 1
                val = argv[i]
            else:
                raise BadInput("option %s needs a value" % name)
            key = with_value[name]
            if key in ("disks", "nets"):
                opts[key].append(val)
            else:
                opts[key] = val
        elif a.startswith("-"):
            raise BadInput("unknown option '%s' (try --help)" % a)
        elif opts["config"] is None:
            opts["config"] = a
        else:
            raise BadInput("unexpected argument '%s'" % a)
        i += 1
    cli = dict(opts)
    if opts["config"]:
        parse_config(opts["config"], opts)
        for k in ("kernel", "initrd", "cmdline", "memory", "vcpus"):  # flags win
            if cli[k] is not None:
                opts[k] = cli[k]
    if opts.get("engine") not in (None, "emu"):
        raise BadInput("engine '%s' is not available in the QEMU shim" % opts["engine"])
    opts["memory"] = parse_memory(opts["memory"]) if opts["memory"] is not None else DEFAULT_MEMORY
    opts["vcpus"] = parse_vcpus(opts["vcpus"]) if opts["vcpus"] is not None else 1
    if opts["bios"]:
        need_readable("bios", opts["bios"])
        return opts
    if opts["kernel"] is None and opts["config"] is None:
        gd = os.environ.get("XENO_GUEST_DIR") or os.path.join(
            os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "build", "guest")
        opts["kernel"] = os.path.join(gd, "Image")
        if opts["initrd"] is None:
            opts["initrd"] = os.path.join(gd, "initramfs.cpio.gz")
    if opts["kernel"] is None:
        raise BadInput("no kernel given")
    need_readable("kernel", opts["kernel"])
    if opts["initrd"] is not None:
        need_readable("initrd", opts["initrd"])
    if opts["cmdline"] is None:
        opts["cmdline"] = DEFAULT_CMDLINE
    opts["disks"] = [parse_disk(d) for d in opts["disks"]]
    opts["nets"] = [parse_net(n) for n in opts["nets"]]
    if opts["firmware"]:
        need_readable("firmware", opts["firmware"])
    return opts


def qemu_argv(o, qmp_path):
    argv = [QEMU, "-M", "virt", "-m", str(o["memory"]), "-smp", str(o["vcpus"]),
            "-display", "none", "-serial", "stdio", "-monitor", "none",
            "-no-reboot", "-qmp", "unix:%s,server=on,wait=off" % qmp_path]
    if o["bios"]:
        return argv + ["-bios", o["bios"], "-nic", "none"]
    argv += ["-bios", o["firmware"] or "default", "-kernel", o["kernel"],
             "-append", o["cmdline"]]
    if o["initrd"]:
        argv += ["-initrd", o["initrd"]]
    for i, (path, ro) in enumerate(o["disks"]):
        argv += ["-drive", "file=%s,format=raw,if=none,id=d%d%s" % (
                     path, i, ",readonly=on" if ro else ""),
                 "-device", "virtio-blk-device,drive=d%d" % i]
    if not o["nets"]:
        argv += ["-nic", "none"]
    for i, fwd in enumerate(o["nets"]):
        argv += ["-netdev", ",".join(["user", "id=n%d" % i] + fwd),
                 "-device", "virtio-net-device,netdev=n%d" % i]
    return argv


def watch_qmp(path, proc):
    """Return the reason of the guest's SHUTDOWN event, or None."""
    sock = None
    for _ in range(200):
        if proc.poll() is not None:
            return None
        try:
            sock = socket.socket(socket.AF_UNIX)
            sock.connect(path)
            break
        except OSError:
            sock.close()
            sock = None
            time.sleep(0.05)
    if sock is None:
        return None
    f = sock.makefile("rwb")
    f.readline()  # greeting
    f.write(b'{"execute": "qmp_capabilities"}\n')
    f.flush()
    for line in f:
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if msg.get("event") == "SHUTDOWN":
            return msg.get("data", {}).get("reason")
    return None


def main():
    try:
        opts = parse_args(sys.argv[1:])
    except BadInput as e:
        msg = str(e)   # config errors are "FILE:LINE: message", no prefix
        print(msg if re.match(r"[^ ]+:\d+: ", msg) else "xeno-vmm: " + msg,
              file=sys.stderr)
        return 1
    tmp = tempfile.mkdtemp(prefix="xeno-shim-")
    qmp = os.path.join(tmp, "qmp.sock")
    proc = subprocess.Popen(qemu_argv(opts, qmp))

    def on_signal(sig, frame):
        proc.terminate()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        reason = watch_qmp(qmp, proc)
        rc = proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        try:
            os.unlink(qmp)
        except OSError:
            pass
        os.rmdir(tmp)
    if reason == "guest-reset":
        return 2
    # QEMU 7.2's sifive_test device exit(0)s on poweroff without a QMP event.
    if reason in ("guest-shutdown", None) and rc == 0:
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
