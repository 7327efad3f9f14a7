"""Guest-side network helpers shared by the net tests."""
from console import Failure

GUEST_IP = "10.0.2.15"


def wait_for_dhcp(vm, timeout=60):
    """Wait until eth0 has the slirp address (DHCP done)."""
    out = vm.run(
        "i=0; while [ $i -lt %d ]; do "
        "{ ip -4 addr show eth0 2>/dev/null; ifconfig eth0 2>/dev/null; } "
        "| grep -q 'inet [a-z:]*%s' && break; sleep 1; i=$((i+1)); done; echo waited=$i"
        % (timeout, GUEST_IP.replace(".", "\\.")), timeout=timeout + 30)
    if "waited=%d" % timeout in out:
        addr = vm.run("ip -4 addr 2>/dev/null || ifconfig -a", check=False)
        raise Failure("eth0 never got %s by DHCP:\n%s" % (GUEST_IP, addr))


def has_applet(vm, name):
    return vm.run("busybox --list | grep -qx %s && echo yes || echo no" % name,
                  check=False).strip().endswith("yes")
