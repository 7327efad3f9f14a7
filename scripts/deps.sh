#!/usr/bin/env bash
# Install (as root, with apt-get) whatever the build and the tests need and is
# missing. Idempotent and quiet when everything is already there.
set -euo pipefail

PKGS=(
  build-essential meson ninja-build pkg-config clang llvm lld
  libfdt-dev libslirp-dev libglib2.0-dev libcmocka-dev libseccomp-dev
  libzstd-dev libxxhash-dev libjansson-dev libmicrohttpd-dev libgnutls28-dev
  gcc-riscv64-linux-gnu binutils-riscv64-linux-gnu libc6-dev-riscv64-cross
  linux-source-6.1 bc flex bison libssl-dev libelf-dev cpio xz-utils
  dpkg-dev fakeroot
  qemu-system-misc opensbi python3 curl iproute2 socat e2fsprogs
  libcurl4-openssl-dev
  qemu-system-x86
  libxml2-dev
  libvirt-clients virtinst python3-libvirt virt-manager xvfb xauth xdotool
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

# busybox sources come from Debian's source package: make sure a deb-src entry exists.
need_src=0
if ! ls /usr/src/busybox-src.stamp >/dev/null 2>&1; then need_src=1; fi
src_list=/etc/apt/sources.list.d/xeno-deb-src.sources
if [ "$need_src" = 1 ] && ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
  sed -e 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources > "$src_list" 2>/dev/null || \
    printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' > "$src_list"
  missing+=("__update__")
fi

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "deps: missing packages (${missing[*]}); run as root to install them" >&2
    exit 1
  fi
  echo "deps: installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  real=()
  for p in "${missing[@]}"; do [ "$p" = "__update__" ] || real+=("$p"); done
  if [ ${#real[@]} -gt 0 ]; then
    apt-get install -y -qq --no-install-recommends "${real[@]}" >/dev/null
  fi
fi

# The unprivileged user the VMMs run as once they are sandboxed
# (docs/sandbox.md): a system user and group, no home, no login.
if ! getent passwd xeno >/dev/null; then
  if [ "$(id -u)" != 0 ]; then
    echo "deps: there is no user 'xeno' for the VMM sandbox; run as root to create it" >&2
    exit 1
  fi
  echo "deps: creating the system user 'xeno' (the VMM sandbox runs VMMs as it)"
  useradd --system --user-group --no-create-home --home-dir /nonexistent \
          --shell /usr/sbin/nologin --comment "Xeno VMM sandbox" xeno
fi
