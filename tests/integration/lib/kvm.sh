# Shared setup for the kvm tests (9*-kvm*.sh): source after common.sh.
# Skips unless /dev/kvm can create a VM, xeno-vmm has the kvm engine and
# the x86-64 test guests build (tests/guests/build.sh, into $WORK/guests).
[ "${XENO_PEER:-}" = qemu ] && skip "kvm tests run xeno-vmm's kvm engine (no QEMU peer)"
[ -x "$XENO_VMM" ] || fail "xeno-vmm not built: $XENO_VMM"
[ "$(uname -m)" = x86_64 ] || skip "the kvm engine needs an x86-64 host"
[ -e /dev/kvm ] || skip "no /dev/kvm on this host"
"$PY" - <<'PY' || skip "/dev/kvm is not usable here (cannot open it or create a VM)"
import fcntl, os
fd = os.open("/dev/kvm", os.O_RDWR)
vm = fcntl.ioctl(fd, 0xAE01, 0)   # KVM_CREATE_VM
os.close(vm); os.close(fd)
PY
GUESTS=$WORK/guests
bash "$ROOT/tests/guests/build.sh" "$GUESTS" >"$WORK/guest-build.log" 2>&1 ||
    { cat "$WORK/guest-build.log"; fail "the x86-64 test guests do not build"; }
