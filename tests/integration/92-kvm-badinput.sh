#!/usr/bin/env bash
# kvm engine, bad inputs: random bytes, a truncated bzImage, a riscv64 ELF,
# an ELF loading below 1 MiB, too little memory, --bios with kvm, no kernel:
# each gives one stderr line, exit status 1, no guest started, < 5 s.
. "$(dirname "$0")/lib/common.sh"
. "$LIB/kvm.sh"
cd "$WORK"
head -c 5000 /dev/urandom > junk.bin
head -c 1100 "$GUESTS/xtest.bzImage" > truncated.bzImage
: > empty.bin
# An x86-64 ELF with a segment at 64 KiB (would overwrite the boot data).
cat > low.S <<'A'
    .text
    .globl _start
_start: hlt
A
gcc -c low.S -o low.o && ld -nostdlib -Ttext=0x10000 -e _start low.o -o low.elf 2>/dev/null || : > low.elf
riscv=$(ls "$ROOT"/build/isa/*.elf 2>/dev/null | head -1)

check() {   # description, args...
    local what=$1; shift
    local t0=$SECONDS rc lines
    set +e
    timeout 10 "$XENO_VMM" --engine kvm "$@" </dev/null >out.log 2>err.log
    rc=$?
    set -e
    lines=$(wc -l < err.log)
    [ $rc = 1 ] || { cat out.log err.log; fail "$what: exit status $rc, want 1"; }
    [ "$lines" = 1 ] || { cat err.log; fail "$what: $lines stderr lines, want 1"; }
    [ -s out.log ] && { cat out.log; fail "$what: the guest produced output"; }
    [ $((SECONDS - t0)) -lt 5 ] || fail "$what: took too long"
    echo "$what: $(cat err.log)"
}
set -e
check "random bytes" --kernel junk.bin
check "empty file" --kernel empty.bin
check "truncated bzImage" --kernel truncated.bzImage
[ -s low.elf ] && check "ELF below 1 MiB" --kernel low.elf
[ -n "$riscv" ] && check "riscv64 ELF" --kernel "$riscv"
check "4 MiB of memory" --kernel "$GUESTS/xtest.elf" --memory 4
check "--bios" --bios "$GUESTS/xtest.elf"
check "no kernel" --memory 64
check "missing initrd" --kernel "$GUESTS/xtest.elf" --initrd /nonexistent
head -c 12M /dev/zero > big.bin
check "initrd larger than memory" --kernel "$GUESTS/xtest.elf" --memory 8 --initrd big.bin
echo "all bad inputs refused with one line"
