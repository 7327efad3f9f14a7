#!/usr/bin/env bash
# Build every tests/isa/*.S into OUTDIR/<name>.elf (bare-metal RV64GC).
# Incremental: a test is rebuilt only when its .elf is older than the .S,
# test.h, link.ld or this script.  An assembler error stops the build.
set -euo pipefail
OUT=${1:?usage: build.sh OUTDIR}
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)
DIR=$(cd "$(dirname "$0")" && pwd)
CC=${RISCV_CC:-riscv64-linux-gnu-gcc}
CFLAGS=(-march=rv64gc_zicsr_zifencei -mabi=lp64d -mcmodel=medany -fno-pic -no-pie -nostdlib
        -nostartfiles -static -Wl,--no-relax -Wl,--build-id=none -Wl,--no-warn-rwx-segments -T "$DIR/link.ld" -I "$DIR")
command -v "$CC" >/dev/null || { echo "build.sh: $CC not found (apt install gcc-riscv64-linux-gnu)" >&2; exit 1; }
mkdir -p "$OUT"
# Older toolchains do not know the zicsr/zifencei extension names.
if ! echo 'csrr a0, mstatus' | "$CC" -march=rv64gc_zicsr_zifencei -mabi=lp64d -x assembler -c -o /dev/null - 2>/dev/null; then
    CFLAGS[0]=-march=rv64gc
fi
built=0
for src in "$DIR"/*.S; do
    name=$(basename "$src" .S)
    elf="$OUT/$name.elf"
    if [ -f "$elf" ] && [ "$elf" -nt "$src" ] && [ "$elf" -nt "$DIR/test.h" ] && [ "$elf" -nt "$DIR/paging.h" ] \
       && [ "$elf" -nt "$DIR/link.ld" ] && [ "$elf" -nt "$0" ]; then
        continue
    fi
    # Compile from the test directory so __FILE__ (used in messages) is short.
    if ! (cd "$DIR" && "$CC" "${CFLAGS[@]}" -o "$elf.tmp" "$name.S"); then
        rm -f "$elf.tmp"
        echo "build.sh: FAILED to build $src" >&2
        exit 1
    fi
    mv "$elf.tmp" "$elf"
    built=$((built + 1))
done
[ "$built" -gt 0 ] && echo "isa: built $built test(s) in $OUT"
exit 0
