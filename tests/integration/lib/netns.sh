# Hosts simulated with network namespaces, for the migration tests (source
# after common.sh and xend.sh; needs root).
#
#   a switch       namespace $NS_SW with bridge sw0
#   netns_host H N ADDR   namespace xh$N.$$ with bridge xenbr0 (Xen's
#                  default bridge: vif type=bridge guests go there), ADDR/24
#                  on it, uplinked to sw0 by a veth pair (switch port pN)
#   netns_client N ADDR   namespace xc$N.$$, ADDR/24 on its uplink (port cN)
#   host_xend H    xend of host H in its namespace: its own state dir,
#                  API socket ($WORK/H/xend.sock), config ($WORK/H/xend.sxp)
#                  and log ($WORK/H/xend.log)
#   xmh H ARGS     xm against host H's xend
#
# Namespace names carry the test's pid: other tests may run beside us.
# The EXIT trap stops every xend and VMM of the test (by pid) and deletes
# the namespaces.
NS_SW=xsw.$$
NS_LIST=()
declare -A NS_OF XEND_PID_OF

netns_require() {
    [ "$(id -u)" = 0 ] || skip "network namespaces need root"
    command -v ip >/dev/null || skip "no ip command (iproute2)"
    ip netns add "$NS_SW" 2>/dev/null || skip "cannot create network namespaces here"
    NS_LIST+=("$NS_SW")
    ip -n "$NS_SW" link set lo up
    ip -n "$NS_SW" link add sw0 type bridge
    ip -n "$NS_SW" link set sw0 up
}

netns_cleanup() {
    local p ns
    for p in "${XEND_PID_OF[@]}"; do kill "$p" 2>/dev/null; done
    for p in $(our_pids); do kill -9 "$p" 2>/dev/null; done
    for ns in "${NS_LIST[@]}"; do ip netns del "$ns" 2>/dev/null; done
    cleanup
}
trap netns_cleanup EXIT

# uplink NS PORT: a veth pair from NS (its end: up0) to switch port PORT.
uplink() {
    ip -n "$NS_SW" link add "$2" type veth peer name up0 netns "$1"
    ip -n "$NS_SW" link set "$2" master sw0 up
}

netns_host() {
    local h=$1 n=$2 addr=$3 ns=xh$2.$$
    ip netns add "$ns" || fail "ip netns add $ns"
    NS_LIST+=("$ns")
    NS_OF[$h]=$ns
    ip -n "$ns" link set lo up
    ip -n "$ns" link add xenbr0 type bridge
    # A fixed MAC: a bridge takes its ports' lowest otherwise, and a guest's
    # TAP joining or leaving would change the host's MAC under its peers'
    # ARP caches (Xen's vif-bridge gives vifs fe:ff:ff:ff:ff:ff for that).
    ip -n "$ns" link set xenbr0 address "02:77:00:00:00:$(printf %02x "$n")"
    uplink "$ns" "p$n"
    ip -n "$ns" link set up0 master xenbr0 up
    ip -n "$ns" link set xenbr0 up
    ip -n "$ns" addr add "$addr/24" dev xenbr0
    mkdir -p "$WORK/$h"
}

netns_client() {
    local n=$1 addr=$2 ns=xc$1.$$
    ip netns add "$ns" || fail "ip netns add $ns"
    NS_LIST+=("$ns")
    NS_OF[client$n]=$ns
    ip -n "$ns" link set lo up
    uplink "$ns" "c$n"
    ip -n "$ns" link set up0 up
    ip -n "$ns" addr add "$addr/24" dev up0
}

# reach NS ADDR: ADDR answers from NS (a TCP connect to its port 9 is
# accepted or refused, not lost), within 5 s.
reach() {
    ip netns exec "$1" "$PY" -c '
import socket, sys, time
end = time.monotonic() + 5
while time.monotonic() < end:
    try:
        socket.create_connection((sys.argv[1], 9), timeout=1).close()
        sys.exit(0)
    except ConnectionRefusedError:
        sys.exit(0)
    except OSError:
        time.sleep(0.2)
sys.exit(1)' "$2"
}

# The cable of switch port PORT: down or up.
switch_port() { ip -n "$NS_SW" link set "$1" "$2"; }

xmh() { XENO_URI="unix://$WORK/$1/xend.sock" "$XM" "${@:2}"; }

# reloc_host H ALLOW [SXP...]: host H's xend.sxp with the relocation server
# on port 8002, TLS-PSK with $WORK/psk (copied into H's dir, mode 600),
# ALLOW its xend-relocation-hosts-allow as written in the file (an sxp
# string: '^10\\.77\\.0\\.[12]$' in single quotes), then SXP lines.
reloc_host() {
    local h=$1 allow=$2
    shift 2
    cp "$WORK/psk" "$WORK/$h/psk"
    chmod 600 "$WORK/$h/psk"
    {
        echo "(xend-relocation-server yes)"
        echo "(xend-relocation-port 8002)"
        echo "(xend-relocation-hosts-allow '$allow')"
        echo "(xend-relocation-tls psk)"
        echo "(xend-relocation-psk-file $WORK/$h/psk)"
        [ $# -gt 0 ] && printf '%s\n' "$@"
    } >"$WORK/$h/xend.sxp"
}

host_xend() {
    local h=$1
    ip netns exec "${NS_OF[$h]}" "$XEND" --foreground --state-dir "$WORK/$h/state" \
        --socket "$WORK/$h/xend.sock" --vmm "$XENO_VMM" --config "$WORK/$h/xend.sxp" \
        --log-level debug >>"$WORK/$h/xend.log" 2>&1 &
    XEND_PID_OF[$h]=$!
    for _ in $(seq 100); do xmh "$h" list >/dev/null 2>&1 && return 0; sleep 0.1; done
    tail -n 20 "$WORK/$h/xend.log"
    fail "xend of $h did not start"
}

host_xend_stop() {
    local h=$1
    kill "${XEND_PID_OF[$h]}" 2>/dev/null
    wait "${XEND_PID_OF[$h]}" 2>/dev/null
    unset "XEND_PID_OF[$h]"
}

# The VMMs of host H (their control sockets are in its state dir).
host_vmms() {
    local p
    for p in $(vmm_pids); do
        { tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null | grep -qF -- "$WORK/$1/state/" && echo "$p"
    done
}
