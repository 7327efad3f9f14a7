#!/usr/bin/env bash
# When xend is not running, every xm command says so in Xen's words and
# exits 1: "No such file or directory" when the socket is missing,
# "Connection refused" when the socket file exists but nobody listens.
. "$(dirname "$0")/lib/common.sh"
XM=${XM:-${XENO_BUILD:-$ROOT/build}/src/xm/xm}
[ -x "$XM" ] || fail "xm not built: $XM"
errors=0
expect() {  # expect REASON URI CMD...
    local reason=$1 uri=$2; shift 2
    local out rc
    out=$("$XM" --connect "$uri" "$@" 2>&1); rc=$?
    local want="Error: Unable to connect to xend: $reason. Is xend running?"
    if [ "$rc" != 1 ] || [ "$out" != "$want" ]; then
        echo "FAIL: xm $* -> rc=$rc"; printf '%s\n' "$out" | cat -A
        errors=$((errors+1))
    fi
}
CMDS=("list" "list -l" "list web1" "info" "uptime" "vcpu-list" "top -b -i 1" "domid web1"
      "domname 1" "log web1" "dmesg web1" "console web1" "pause web1" "unpause web1"
      "destroy web1" "reboot web1" "shutdown web1" "shutdown -w -a" "start web1"
      "delete web1" "mem-set web1 256" "mem-max web1 256" "vcpu-set web1 2")
echo 'name = "web1"' >"$WORK/web1.cfg"
for c in "${CMDS[@]}" "create $WORK/web1.cfg" "new $WORK/web1.cfg"; do
    expect "No such file or directory" "unix://$WORK/missing.sock" $c
done
"$PY" -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.close()' "$WORK/dead.sock"
for c in "${CMDS[@]}" "create $WORK/web1.cfg"; do
    expect "Connection refused" "unix://$WORK/dead.sock" $c
done
# XENO_URI is honoured too.
out=$(XENO_URI=unix://$WORK/dead.sock "$XM" list 2>&1); rc=$?
[ "$rc" = 1 ] && [ "$out" = "Error: Unable to connect to xend: Connection refused. Is xend running?" ] ||
    { echo "FAIL: XENO_URI: $out"; errors=$((errors+1)); }
[ $errors -eq 0 ] || fail "$errors case(s) failed"
echo "all not-running cases passed"
