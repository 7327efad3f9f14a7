#!/usr/bin/env bash
# Build the Xeno default guest: a riscv64 Linux 6.1 kernel Image and a busybox
# initramfs, both from Debian source packages, with Debian's riscv64 cross
# toolchain.
#
#   bash guest/build.sh OUTDIR      ->  OUTDIR/Image  OUTDIR/initramfs.cpio.gz
#
# Results are cached in ${XENO_CACHE:-/var/cache/xeno}/guest/<key>; the key
# covers the recipe files in guest/ and the versions of the packages used, so
# an unchanged recipe costs one copy and any change rebuilds. Environment:
#   XENO_CACHE   cache root (default /var/cache/xeno)
#   XENO_JOBS    parallel make jobs (default 2)
#   XENO_REBUILD=1  ignore the cache entry and build again
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CROSS=riscv64-linux-gnu-
JOBS=${XENO_JOBS:-2}
LINUX_TAR=/usr/src/linux-source-6.1.tar.xz

say() { printf 'guest: %s\n' "$*"; }
die() { printf 'guest: error: %s\n' "$*" >&2; exit 1; }

if [ $# -ne 1 ] || [ -z "$1" ]; then
	echo "usage: bash guest/build.sh OUTDIR" >&2
	exit 2
fi
mkdir -p "$1" || die "cannot create output directory $1"
OUT=$(cd "$1" && pwd)

# ---------------------------------------------------------------- inputs ---

pkg_version() {
	dpkg-query -W -f='${db:Status-Abbrev} ${Version}\n' "$1" 2>/dev/null |
		awk '$1 == "ii" { print $2 }'
}

for tool in ${CROSS}gcc make gcc gzip flex bison bc apt-get dpkg-source flock sha256sum; do
	command -v "$tool" >/dev/null || die "'$tool' not found: run 'bash scripts/deps.sh' as root"
done
[ -r "$LINUX_TAR" ] || die "$LINUX_TAR missing: install linux-source-6.1 (scripts/deps.sh)"

v_linux=$(pkg_version linux-source-6.1)
v_gcc=$(pkg_version gcc-riscv64-linux-gnu)
[ -n "$v_linux" ] || die "linux-source-6.1 is not installed (scripts/deps.sh)"
[ -n "$v_gcc" ] || die "gcc-riscv64-linux-gnu is not installed (scripts/deps.sh)"

# The busybox source version apt would fetch: the highest one it knows.
busybox_src_version() {
	local v best=""
	for v in $(apt-cache showsrc --only-source busybox 2>/dev/null | sed -n 's/^Version: //p'); do
		if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then best=$v; fi
	done
	printf '%s' "$best"
}
v_busybox=$(busybox_src_version)
if [ -z "$v_busybox" ] && [ "$(id -u)" = 0 ]; then
	# A deb-src entry whose lists were never fetched: refresh them once.
	apt-get update -qq >/dev/null 2>&1 || true
	v_busybox=$(busybox_src_version)
fi
[ -n "$v_busybox" ] || die "apt knows no busybox source package: add a deb-src entry (scripts/deps.sh does) and run apt-get update"

# The recipe: this script, the config fragments and the rootfs overlay.
recipe_files() {
	(cd "$HERE" && find build.sh linux.config busybox.config rootfs -type f -print | LC_ALL=C sort)
}

KEY=$(
	cd "$HERE"
	recipe_files | while read -r f; do
		printf '%s %s %s\n' "$(sha256sum < "$f" | cut -c1-64)" "$([ -x "$f" ] && echo x || echo -)" "$f"
	done
	printf 'linux-source-6.1 %s\ngcc-riscv64-linux-gnu %s\nbusybox-src %s\n' \
		"$v_linux" "$v_gcc" "$v_busybox"
)
KEY=$(printf '%s' "$KEY" | sha256sum | cut -c1-16)

# ----------------------------------------------------------------- cache ---

CACHE=${XENO_CACHE:-/var/cache/xeno}/guest
if ! mkdir -p "$CACHE" 2>/dev/null || [ ! -w "$CACHE" ]; then
	die "cache directory $CACHE is not writable: set XENO_CACHE to a writable directory"
fi
ENTRY=$CACHE/$KEY

install_from_cache() {
	local f
	for f in Image initramfs.cpio.gz; do
		cp -f "$ENTRY/$f" "$OUT/.$f.tmp"
		mv -f "$OUT/.$f.tmp" "$OUT/$f"
	done
	[ -f "$ENTRY/build.log" ] && cp -f "$ENTRY/build.log" "$OUT/build.log"
	printf '%s\n' "$KEY" > "$OUT/guest.key"
}

cached() { [ -f "$ENTRY/Image" ] && [ -f "$ENTRY/initramfs.cpio.gz" ] && [ "${XENO_REBUILD:-0}" != 1 ]; }

if cached; then
	install_from_cache
	say "up to date (cache $ENTRY) -> $OUT"
	exit 0
fi

# One build per cache at a time; whoever waited may find the entry done.
exec 9>"$CACHE/.lock"
if ! flock -n 9; then
	say "waiting for another guest build ($CACHE/.lock)"
	flock 9
fi
if cached; then
	install_from_cache
	say "up to date (cache $ENTRY) -> $OUT"
	exit 0
fi

# ----------------------------------------------------------------- build ---

WORK=$(mktemp -d "${TMPDIR:-/tmp}/xeno-guest.XXXXXX")
STAGE=$(mktemp -d "$CACHE/.new-$KEY.XXXXXX")
chmod 0755 "$STAGE"   # mktemp makes it 0700; the entry is for every user
LOG=$OUT/build.log
: > "$LOG"
DL=
KSTAGE=
cleanup() { rm -rf "$WORK" "$STAGE" ${DL:+"$DL"} ${KSTAGE:+"$KSTAGE"}; }
trap cleanup EXIT
trap 'exit 130' INT TERM

T0=$(date +%s)
# Progress line per stage; each one says how long the previous stage took.
stage() {
	local now; now=$(date +%s)
	say "[$1] $2 (t=$((now - T0))s)"
	printf '\n===== [%s] %s (t=%ss)\n' "$1" "$2" "$((now - T0))" >> "$LOG"
}
# Run a command with its output in the log; on failure show the log's tail.
run() {
	printf '+ %s\n' "$*" >> "$LOG"
	if ! "$@" >> "$LOG" 2>&1; then
		printf 'guest: error: command failed: %s\n--- last lines of %s ---\n' "$*" "$LOG" >&2
		tail -n 40 "$LOG" >&2
		exit 1
	fi
}

# Merge a fragment (CONFIG_X=y|n|value lines) into a .config: drop every
# symbol the fragment names, then append the fragment in .config syntax.
merge_fragment() { # fragment dotconfig
	local syms
	syms=$(sed -n 's/^\(CONFIG_[A-Za-z0-9_]*\)=.*/\1/p' "$1" | paste -sd'|')
	grep -Ev "^(# )?($syms)[= ]" "$2" > "$2.merge" || true
	sed -n 's/^\(CONFIG_[A-Za-z0-9_]*\)=n$/# \1 is not set/p; /^CONFIG_[A-Za-z0-9_]*=[^n]/p; /^CONFIG_[A-Za-z0-9_]*=n./p' \
		"$1" >> "$2.merge"
	mv -f "$2.merge" "$2"
}

# Fail loudly if a symbol of the fragment did not end up as asked.
verify_fragment() { # fragment dotconfig what
	local k v got bad=0
	while IFS='=' read -r k v; do
		case "$k" in CONFIG_*) ;; *) continue ;; esac
		got=$(sed -n "s/^$k=//p" "$2")
		[ -n "$got" ] || got=n
		if [ "$got" != "$v" ]; then
			printf 'guest: error: %s: %s=%s requested but the configuration has %s\n' "$3" "$k" "$v" "$got" >&2
			bad=1
		fi
	done < "$1"
	[ "$bad" = 0 ] || die "$3 configuration does not match $(basename "$1") (dependencies missing?)"
}

say "building guest (key $KEY; linux-source-6.1 $v_linux, busybox $v_busybox, gcc $v_gcc); log: $LOG"

# Reproducible-ish builds: fixed identity, fixed timestamps.
export KBUILD_BUILD_USER=xeno KBUILD_BUILD_HOST=xeno
export KBUILD_BUILD_TIMESTAMP="1970-01-01 00:00:00 UTC" SOURCE_DATE_EPOCH=0
export LC_ALL=C

# ---- kernel
# The kernel has its own cache entry, keyed only by what it is built from,
# so a change to the initramfs (rootfs/, busybox.config) does not rebuild it.
KERNEL_RECIPE=1     # bump when the kernel steps below change
KKEY=$( { echo "kernel-recipe $KERNEL_RECIPE"; sha256sum < "$HERE/linux.config";
          echo "linux-source-6.1 $v_linux gcc-riscv64-linux-gnu $v_gcc"; } | sha256sum | cut -c1-16)
KENTRY=$CACHE/kernel-$KKEY
if [ -f "$KENTRY/Image" ] && [ -x "$KENTRY/gen_init_cpio" ] && [ -f "$KENTRY/kernel.release" ] &&
   [ "${XENO_REBUILD:-0}" != 1 ]; then
	stage 1/6 "kernel up to date (cache $KENTRY)"
else
	stage 1/6 "unpacking linux-source-6.1 $v_linux"
	run tar -xJf "$LINUX_TAR" -C "$WORK" --wildcards --exclude='linux-source-6.1/Documentation/[!K]*'
	KSRC=$WORK/linux-source-6.1
	KOBJ=$WORK/linux-obj
	mkdir -p "$KOBJ"
	kmake() { run make -C "$KSRC" O="$KOBJ" ARCH=riscv CROSS_COMPILE="$CROSS" "$@"; }

	stage 2/6 "configuring kernel (allnoconfig + guest/linux.config)"
	kmake KCONFIG_ALLCONFIG="$HERE/linux.config" allnoconfig
	kmake olddefconfig
	verify_fragment "$HERE/linux.config" "$KOBJ/.config" kernel

	stage 3/6 "building kernel Image (make -j$JOBS)"
	kmake -j"$JOBS" Image
	KSTAGE=$(mktemp -d "$CACHE/.new-kernel-$KKEY.XXXXXX")
	chmod 0755 "$KSTAGE"
	cp "$KOBJ/arch/riscv/boot/Image" "$KSTAGE/Image"
	cp "$KOBJ/.config" "$KSTAGE/linux.config.full"
	cp "$KOBJ/include/config/kernel.release" "$KSTAGE/kernel.release"
	# gen_init_cpio (from the kernel tree) packs the initramfs without root.
	run gcc -O2 -o "$KSTAGE/gen_init_cpio" "$KSRC/usr/gen_init_cpio.c"
	rm -rf "$KENTRY"
	mv -T "$KSTAGE" "$KENTRY"
fi
cp "$KENTRY/Image" "$STAGE/Image"
cp "$KENTRY/linux.config.full" "$STAGE/linux.config.full"
KREL=$(cat "$KENTRY/kernel.release")

# ---- busybox
stage 4/6 "fetching busybox source $v_busybox"
# Downloaded sources are kept, so a recipe change rebuilds without network.
SRC_CACHE=$CACHE/src/busybox_$v_busybox
if ! ls "$SRC_CACHE"/*.dsc >/dev/null 2>&1; then
	DL=$(mktemp -d "$CACHE/.dl.XXXXXX")
	(cd "$DL" && run apt-get -o APT::Sandbox::User=root source --download-only "busybox=$v_busybox")
	mkdir -p "$CACHE/src"
	rm -rf "$SRC_CACHE"
	mv -T "$DL" "$SRC_CACHE"
	DL=
fi
BSRC=$WORK/busybox
run dpkg-source -x "$(ls "$SRC_CACHE"/*.dsc | head -n1)" "$BSRC"

stage 5/6 "building busybox (static, make -j$JOBS)"
bmake() { run make -C "$BSRC" ARCH=riscv CROSS_COMPILE="$CROSS" "$@"; }
bmake defconfig
merge_fragment "$HERE/busybox.config" "$BSRC/.config"
printf '+ yes "" | make oldconfig\n' >> "$LOG"
{ yes '' || true; } | make -C "$BSRC" ARCH=riscv CROSS_COMPILE="$CROSS" oldconfig >> "$LOG" 2>&1 ||
	{ tail -n 40 "$LOG" >&2; die "busybox oldconfig failed"; }
verify_fragment "$HERE/busybox.config" "$BSRC/.config" busybox
bmake -j"$JOBS" busybox
ROOT=$WORK/rootfs
bmake CONFIG_PREFIX="$ROOT" install
[ "$(od -An -tx1 -N4 "$BSRC/busybox" | tr -d ' ')" = 7f454c46 ] || die "busybox binary is not an ELF file"

# ---- initramfs
stage 6/6 "packing initramfs"
cp -R "$HERE/rootfs/." "$ROOT/"
chmod 0755 "$ROOT/etc/init.d/rcS" "$ROOT/usr/share/udhcpc/default.script"
mkdir -p "$ROOT"/{dev,proc,sys,tmp,run,root,mnt,var/log}
chmod 1777 "$ROOT/tmp"
chmod 0700 "$ROOT/root"
ln -sf bin/busybox "$ROOT/init"
rm -f "$ROOT/linuxrc"

# gen_init_cpio (built with the kernel) writes root-owned entries and device
# nodes without needing root. /dev/console must exist before devtmpfs is up.
LIST=$WORK/initramfs.list
{
	echo "nod /dev/console 0600 0 0 c 5 1"
	echo "nod /dev/null 0666 0 0 c 1 3"
	(cd "$ROOT" && find . -mindepth 1 -printf '%y %m %P\t%l\n' | LC_ALL=C sort -k3) |
	while IFS=$'\t' read -r head link; do
		read -r type mode path <<< "$head"
		case "$type" in
		d) echo "dir /$path $mode 0 0" ;;
		f) echo "file /$path $ROOT/$path $mode 0 0" ;;
		l) echo "slink /$path $link 777 0 0" ;;
		*) die "initramfs: unsupported file type '$type' for $path" ;;
		esac
	done
} > "$LIST"
cp "$LIST" "$STAGE/initramfs.list"
printf '+ gen_init_cpio | gzip -9 -n\n' >> "$LOG"
"$KENTRY/gen_init_cpio" -t 0 "$LIST" 2>> "$LOG" | gzip -9 -n > "$STAGE/initramfs.cpio.gz" ||
	{ tail -n 40 "$LOG" >&2; die "initramfs packing failed"; }

# ---- publish: the entry appears complete or not at all
cat > "$STAGE/info" <<EOF
key=$KEY
kernel_release=$KREL
linux-source-6.1=$v_linux
busybox-src=$v_busybox
gcc-riscv64-linux-gnu=$v_gcc
build_seconds=$(($(date +%s) - T0))
EOF
cp "$LOG" "$STAGE/build.log"
rm -rf "$ENTRY"
mv -T "$STAGE" "$ENTRY"
install_from_cache
say "done in $(($(date +%s) - T0))s: Linux $KREL, Image $(stat -c %s "$OUT/Image") bytes, initramfs $(stat -c %s "$OUT/initramfs.cpio.gz") bytes -> $OUT"
