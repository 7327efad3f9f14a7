#!/usr/bin/env bash
# Build the CPU suite's programs and the guest's extra initramfs.
#
#   bash bench/cpu/build.sh OUTDIR GUESTDIR
#
# OUTDIR/rv/       intbench fpbench gendata nop   riscv64, static, -O2, stripped
# OUTDIR/native/   the same programs for the host (gcc, static, -O2)
#                  and busybox (the guest's busybox source and config,
#                  built for the host) when its source is in the guest cache
# OUTDIR/bench.cpio.gz    /bench/*: the riscv64 programs and run (run.sh, the
#                  workloads' shell side), a newc archive
# OUTDIR/initrd.cpio.gz   GUESTDIR/initramfs.cpio.gz followed by
#                  bench.cpio.gz: Linux unpacks concatenated archives one
#                  after the other, so the default guest is unchanged and
#                  gains /bench
#
# The default guest's build is not touched.  The native busybox is cached in
# ${XENO_CACHE:-/var/cache/xeno}/bench/busybox-<key> (key: source package,
# guest/busybox.config, gcc version); without a cached busybox source
# (built by guest/build.sh) the bench falls back to the host's tools.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CROSS=riscv64-linux-gnu-
say() { printf 'bench-cpu: %s\n' "$*"; }
die() { printf 'bench-cpu: error: %s\n' "$*" >&2; exit 1; }

[ $# -eq 2 ] || { echo "usage: bash bench/cpu/build.sh OUTDIR GUESTDIR" >&2; exit 2; }
mkdir -p "$1"
OUT=$(cd "$1" && pwd)
GUEST=$2
[ -f "$GUEST/initramfs.cpio.gz" ] || die "no default guest in $GUEST (make guest)"
for t in ${CROSS}gcc gcc cpio gzip; do
	command -v "$t" >/dev/null || die "'$t' not found: run 'bash scripts/deps.sh' as root"
done

# ---- the programs, for the guest and for the host
CFLAGS_INT=(-O2 -static -Wall -Wextra)
CFLAGS_FP=(-O2 -static -Wall -Wextra -ffp-contract=off)   # no FMA: bit-identical results
CFLAGS_NOP=(-O2 -static -nostdlib -Wl,--build-id=none -s)
build_set() { # CC DIR [EXTRA-FLAGS...]
	local cc=$1 d=$2
	shift 2
	mkdir -p "$d"
	"$cc" "${CFLAGS_INT[@]}" "$@" -o "$d/intbench" "$HERE/intbench.c"
	"$cc" "${CFLAGS_FP[@]}" "$@" -o "$d/fpbench" "$HERE/fpbench.c" -lm
	"$cc" "${CFLAGS_INT[@]}" "$@" -o "$d/gendata" "$HERE/gendata.c"
	"$cc" "${CFLAGS_NOP[@]}" -o "$d/nop" "$HERE/nop.c"
}
build_set ${CROSS}gcc "$OUT/rv" -s
build_set gcc "$OUT/native"
say "programs built: $OUT/rv (riscv64) and $OUT/native (host)"

# ---- the extra initramfs: /bench/*, owned by root, timestamps 0
STAGE=$(mktemp -d "${TMPDIR:-/tmp}/xeno-bench-cpio.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/bench"
cp "$OUT"/rv/{intbench,fpbench,gendata,nop} "$STAGE/bench/"
cp "$HERE/run.sh" "$STAGE/bench/run"
chmod 0755 "$STAGE/bench" "$STAGE"/bench/*
find "$STAGE/bench" -exec touch -h -d @0 {} +
(cd "$STAGE" && find bench | LC_ALL=C sort |
	cpio --quiet -o -H newc -R 0:0 --reproducible) | gzip -9 -n > "$OUT/bench.cpio.gz.tmp"
mv -f "$OUT/bench.cpio.gz.tmp" "$OUT/bench.cpio.gz"
cat "$GUEST/initramfs.cpio.gz" "$OUT/bench.cpio.gz" > "$OUT/initrd.cpio.gz.tmp"
mv -f "$OUT/initrd.cpio.gz.tmp" "$OUT/initrd.cpio.gz"
say "initrd: $OUT/initrd.cpio.gz ($GUEST/initramfs.cpio.gz + /bench, $(stat -c %s "$OUT/bench.cpio.gz") bytes)"

# ---- busybox for the host, from the guest's busybox source and config
rm -f "$OUT/native/busybox"
CACHE=${XENO_CACHE:-/var/cache/xeno}
DSC=$(ls -t "$CACHE"/guest/src/busybox_*/*.dsc 2>/dev/null | head -n1 || true)
if [ -z "$DSC" ]; then
	say "no busybox source in $CACHE/guest/src (guest/build.sh keeps it there): native ratios use the host's tools"
	exit 0
fi
KEY=$( { basename "$DSC"; sha256sum < "$ROOT/guest/busybox.config"; gcc --version | head -n1;
         echo "native-busybox 1"; } | sha256sum | cut -c1-16)
ENTRY=$CACHE/bench/busybox-$KEY
if [ ! -x "$ENTRY/busybox" ]; then
	command -v dpkg-source >/dev/null || die "dpkg-source not found (dpkg-dev; scripts/deps.sh)"
	if ! mkdir -p "$CACHE/bench" 2>/dev/null || [ ! -w "$CACHE/bench" ]; then
		say "$CACHE/bench is not writable (set XENO_CACHE): native ratios use the host's tools"
		exit 0
	fi
	say "building busybox for the host from $(basename "$DSC") + guest/busybox.config (once; cached in $ENTRY)"
	W=$(mktemp -d "${TMPDIR:-/tmp}/xeno-bench-bb.XXXXXX")
	trap 'rm -rf "$STAGE" "$W"' EXIT
	LOG=$W/build.log
	bb_fail() { tail -n 30 "$LOG" >&2; die "native busybox build failed"; }
	dpkg-source -x "$DSC" "$W/src" > "$LOG" 2>&1 || bb_fail
	make -C "$W/src" defconfig >> "$LOG" 2>&1 || bb_fail
	# The guest's fragment (static, no tc, no x86 SHA assembly: the same C
	# code as in the guest), merged the way guest/build.sh merges it.
	syms=$(sed -n 's/^\(CONFIG_[A-Za-z0-9_]*\)=.*/\1/p' "$ROOT/guest/busybox.config" | paste -sd'|')
	grep -Ev "^(# )?($syms)[= ]" "$W/src/.config" > "$W/config" || true
	sed -n 's/^\(CONFIG_[A-Za-z0-9_]*\)=n$/# \1 is not set/p; /^CONFIG_[A-Za-z0-9_]*=[^n]/p' \
		"$ROOT/guest/busybox.config" >> "$W/config"
	cp "$W/config" "$W/src/.config"
	{ yes '' || true; } | make -C "$W/src" oldconfig >> "$LOG" 2>&1 || bb_fail
	make -C "$W/src" -j"${XENO_JOBS:-2}" busybox >> "$LOG" 2>&1 || bb_fail
	S=$(mktemp -d "$CACHE/bench/.new-$KEY.XXXXXX")
	cp "$W/src/busybox" "$W/src/.config" "$LOG" "$S/"
	chmod 0755 "$S"
	rm -rf "$ENTRY"
	mv -T "$S" "$ENTRY"
fi
cp "$ENTRY/busybox" "$OUT/native/busybox"
say "native busybox: $OUT/native/busybox ($(basename "$DSC"))"
