#!/usr/bin/env bash
# Fetch Debian's x86-64 kernel (the package linux-image-amd64 depends on) and
# busybox-static without installing them (no initramfs hooks, no bootloader):
# `apt-get download` + `dpkg-deb -x` into a cache keyed by the versions.
# Prints two lines: the vmlinuz path and the static busybox path.
set -euo pipefail
CACHE=${XENO_CACHE:-/var/cache/xeno}/x86-linux
pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
      awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
[ -n "$pkg" ] || { echo "apt knows no linux-image-amd64 (apt-get update?)" >&2; exit 1; }
kver=$(apt-cache policy "$pkg" | awk '/Candidate:/ { print $2 }')
bver=$(apt-cache policy busybox-static | awk '/Candidate:/ { print $2 }')
dir=$CACHE/$pkg-$kver-busybox-$bver
if [ ! -f "$dir/done" ]; then
    mkdir -p "$CACHE"
    tmp=$(mktemp -d "$CACHE/.new.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    (cd "$tmp" && apt-get -q -o APT::Sandbox::User=root download "$pkg" busybox-static >/dev/null)
    for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$tmp/root"; done
    touch "$tmp/done"
    rm -f "$tmp"/*.deb
    rm -rf "$dir"
    mv -T "$tmp" "$dir"
    trap - EXIT
fi
ls "$dir"/root/boot/vmlinuz-* | head -n1
echo "$dir/root/bin/busybox"
