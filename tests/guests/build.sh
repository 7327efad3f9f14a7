#!/usr/bin/env bash
# Build the freestanding x86-64 test guests with the host gcc:
#   OUT/xtest.elf       vmlinux-style ELF (64-bit entry, boot_params)
#   OUT/xtest-pvh.elf   the same with a Xen PVH entry note (32-bit entry)
#   OUT/xtest.bzImage   the same as a bzImage (64-bit boot protocol entry)
# Usage: tests/guests/build.sh [OUT]   (default build/guests)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-build/guests}
mkdir -p "$out"
out=$(cd "$out" && pwd)
if [ "$(uname -m)" != x86_64 ]; then
    echo "x86-64 test guests need an x86-64 host compiler" >&2
    exit 77
fi
CC=${CC:-gcc}
CFLAGS="-O2 -g -std=gnu11 -Wall -Wextra -Werror -ffreestanding -nostdlib -fno-pic -fno-pie
 -mno-red-zone -mgeneral-regs-only -fno-stack-protector -fno-asynchronous-unwind-tables
 -fcf-protection=none -mcmodel=small"
LDFLAGS="-nostdlib -static -no-pie -Wl,--build-id=none -Wl,-T,$here/link.ld -Wl,-z,noexecstack -Wl,--no-warn-rwx-segments"
obj="$out/obj"
mkdir -p "$obj"
for f in start.S lib.c xtest.c virtio.c kvmclock.c bzhdr.S pvh.S; do
    $CC $CFLAGS -c "$here/$f" -o "$obj/${f%.*}.o"
done
common="$obj/start.o $obj/lib.o $obj/xtest.o $obj/virtio.o $obj/kvmclock.o"
$CC $CFLAGS $LDFLAGS $common -o "$out/xtest.elf"
$CC $CFLAGS $LDFLAGS $common "$obj/pvh.o" -o "$out/xtest-pvh.elf"
$CC $CFLAGS $LDFLAGS $common "$obj/bzhdr.o" -o "$obj/xtest-bz.elf"
objcopy -O binary "$obj/xtest-bz.elf" "$out/xtest.bzImage"
# syssize counts 16-byte paragraphs: pad the image to a whole one.
size=$(stat -c %s "$out/xtest.bzImage")
truncate -s $(( (size + 15) / 16 * 16 )) "$out/xtest.bzImage"
echo "built $out/xtest.elf $out/xtest-pvh.elf $out/xtest.bzImage"
