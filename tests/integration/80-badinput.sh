#!/usr/bin/env bash
# badinput: every bad input is refused up front: exactly one line on stderr,
# nothing on the console, exit status 1, quickly, and no VM started.
. "$(dirname "$0")/lib/common.sh"
if [ "${XENO_PEER:-}" != qemu ]; then
    [ -x "$XENO_VMM" ] || fail "xeno-vmm not built: $XENO_VMM"
fi
cd "$WORK"

# A readable kernel and initrd so that each case fails for its own reason.
KERNEL=$XENO_GUEST_DIR/Image INITRD=$XENO_GUEST_DIR/initramfs.cpio.gz
if [ ! -f "$KERNEL" ]; then
    KERNEL=$WORK/Image INITRD=$WORK/initrd
    head -c 65536 /dev/urandom >"$KERNEL"; head -c 4096 /dev/urandom >"$INITRD"
fi
mem_kib=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
HUGE=$(( mem_kib / 1024 * 4 + 4096 ))       # more than 4 x host RAM, in MiB
mkdir "$WORK/adir"
cat >"$WORK/bad.cfg" <<CFG
name = "bad"
memory = 128
this line is not xl syntax
kernel = "$KERNEL"
CFG

failures=0
# case NAME EXPECTED-STDERR-PREFIX ARGS...
case_() {
    local name=$1 prefix=$2; shift 2
    local t0=$(date +%s%N) rc
    timeout 20 "${VMM_CMD[@]}" "$@" </dev/null >out.txt 2>err.txt
    rc=$?
    local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    local lines=$(wc -l <err.txt) why=
    [ "$rc" -eq 1 ] || why="exit status $rc, want 1"
    [ -z "$why" ] && [ "$lines" -ne 1 ] && why="$lines lines on stderr, want 1"
    [ -z "$why" ] && [ -n "$(head -c1 err.txt)" ] || [ -n "$why" ] || why="empty message"
    [ -z "$why" ] && [ -s out.txt ] && why="console output: $(head -c 200 out.txt)"
    [ -z "$why" ] && [ "$ms" -gt 5000 ] && why="took ${ms} ms"
    [ -z "$why" ] && [ -n "$prefix" ] && [ "${prefix}" != "$(head -c ${#prefix} err.txt)" ] &&
        why="message does not start with '$prefix'"
    if [ -n "$why" ]; then
        echo "not ok  $name: $why"
        sed 's/^/        stderr: /' err.txt | head -5
        failures=$((failures+1))
    else
        echo "ok      $name (${ms} ms): $(cat err.txt)"
    fi
}

case_ "missing kernel"       "" --kernel "$WORK/no-such-Image" --initrd "$INITRD"
case_ "missing initrd"       "" --kernel "$KERNEL" --initrd "$WORK/no-such-initrd"
case_ "unreadable initrd"    "" --kernel "$KERNEL" --initrd "$WORK/adir"
case_ "missing disk image"   "" --kernel "$KERNEL" --initrd "$INITRD" --disk "file:$WORK/no-such.img,xvda,w"
case_ "memory abc"           "" --kernel "$KERNEL" --initrd "$INITRD" --memory abc
case_ "memory > 4x host RAM" "" --kernel "$KERNEL" --initrd "$INITRD" --memory "$HUGE"
case_ "vcpus 0"              "" --kernel "$KERNEL" --initrd "$INITRD" --vcpus 0
case_ "vcpus 1000"           "" --kernel "$KERNEL" --initrd "$INITRD" --vcpus 1000
case_ "config syntax error"  "$WORK/bad.cfg:3:" "$WORK/bad.cfg"
case_ "unknown option"       "" --frobnicate
if [ "$failures" -ne 0 ]; then
    fail "$failures bad-input case(s) not refused cleanly"
fi
echo "PASS: all bad inputs refused with one line and exit status 1"
