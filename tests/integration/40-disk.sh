#!/usr/bin/env bash
# disk: a raw image on the host is /dev/vda in the guest; a file written there
# (token, sync, poweroff) is in the host image afterwards.  The same image
# attached read-only can be read but refuses writes, and stays unchanged.
. "$(dirname "$0")/lib/common.sh"
require_vm
cd "$WORK"
IMG=$WORK/disk.img
truncate -s 64M "$IMG"
FS=raw
if command -v mkfs.ext4 >/dev/null && command -v debugfs >/dev/null; then
    mkfs.ext4 -q -F -L xenotest "$IMG" || fail "mkfs.ext4 failed on the host"
    FS=ext4
fi
export IMG FS
"$PY" - <<'PY'
import console, hashlib, os, subprocess
from console import Failure

IMG, FS = os.environ["IMG"], os.environ["FS"]
RAW_OFFSET = 8 << 20          # raw mode: token goes at 8 MiB, past ext4 metadata

def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()

def test():
    tok = console.token("disk")
    # 1. read-write: write the token, sync, power off.
    vm = console.open_vm(["--disk", "file:%s,xvda,w" % IMG], log="console-rw.log")
    vm.boot()
    size = vm.run("cat /sys/block/vda/size").strip()
    if size != str(64 << 11):
        raise Failure("/dev/vda has %r sectors, want %d" % (size, 64 << 11))
    mode = FS
    if mode == "ext4":
        out = vm.run("mkdir -p /mnt && mount -t ext4 /dev/vda /mnt", check=False)
        if vm.run("grep -c ' /mnt ' /proc/mounts", check=False).strip() != "1":
            print("guest cannot mount ext4 (%s); falling back to raw writes" % out.strip())
            mode = "raw"
    if mode == "ext4":
        vm.run("echo %s > /mnt/file && sync && umount /mnt" % tok)
    else:
        vm.run("echo %s > /tmp/t && dd if=/tmp/t of=/dev/vda bs=1M seek=%d conv=fsync "
               "2>/dev/null && sync" % (tok, RAW_OFFSET >> 20))
    vm.sendline("poweroff")
    rc = vm.wait(30)
    if rc != 0:
        raise Failure("VMM exit status %s after poweroff, want 0" % rc)
    if mode == "ext4":
        got = subprocess.run(["debugfs", "-R", "cat /file", IMG], capture_output=True,
                             text=True).stdout.strip()
    else:
        with open(IMG, "rb") as f:
            f.seek(RAW_OFFSET)
            got = f.read(len(tok)).decode("latin-1")
    if got != tok:
        raise Failure("host image holds %r, want the token %s (%s mode)" % (got, tok, mode))
    print("read-write disk: token found in the host image (%s mode)" % mode)

    # 2. read-only: reads work, writes fail, image unchanged.
    before = sha(IMG)
    vm = console.open_vm(["--disk", "%s,raw,xvda,ro" % IMG], log="console-ro.log")
    vm.boot()
    if mode == "ext4":
        vm.run("mkdir -p /mnt && mount -t ext4 -o ro /dev/vda /mnt")
        got = vm.run("cat /mnt/file").strip()
        vm.run("umount /mnt")
    else:
        got = vm.run("dd if=/dev/vda bs=1M skip=%d count=1 2>/dev/null | head -c %d"
                     % (RAW_OFFSET >> 20, len(tok))).strip()
    if got != tok:
        raise Failure("read-only disk reads back %r, want %s" % (got, tok))
    out = vm.run("dd if=/dev/zero of=/dev/vda bs=4096 count=16 conv=fsync; sync",
                 check=False)
    status = vm.run("dd if=/dev/zero of=/dev/vda bs=4096 count=16 conv=fsync "
                    "2>/dev/null; echo st=$?").strip().splitlines()[-1]
    if status == "st=0":
        raise Failure("writing to a read-only disk succeeded in the guest: %s" % out.strip())
    vm.sendline("poweroff")
    rc = vm.wait(30)
    if rc != 0:
        raise Failure("VMM exit status %s after poweroff, want 0" % rc)
    if sha(IMG) != before:
        raise Failure("read-only disk image changed on the host")
    why = ([l for l in out.splitlines() if "dd:" in l] or ["no message"])[0].strip()
    print("read-only disk: readable, write refused (%s), image unchanged" % why)

console.main(test)
PY
