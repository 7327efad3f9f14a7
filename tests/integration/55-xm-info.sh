#!/usr/bin/env bash
# `xm info` against a real xend (unprivileged, temp state dir): the Xen-style
# "key : value" layout, and host capabilities that agree with what this
# host shows in /proc/cpuinfo, /proc/meminfo, /dev/kvm and /sys/module:
# vmx/svm (virt_caps), the kvm state, the paging-based nested KVM
# (kvm_pvm) of the development machines, and the engines line.
. "$(dirname "$0")/lib/common.sh"
B=${XENO_BUILD:-$ROOT/build}
XM=${XM:-$B/src/xm/xm}
XEND=${XEND:-$B/src/xend/xend}
[ -x "$XM" ] || fail "xm not built: $XM"
[ -x "$XEND" ] || fail "xend not built: $XEND"
SOCK=$WORK/xend.sock
export XENO_URI=unix://$SOCK
"$XEND" -f --state-dir "$WORK/state" --socket "$SOCK" --vmm "$XENO_VMM" >"$WORK/xend.log" 2>&1 &
CHILD_PIDS+=($!)
for _ in $(seq 50); do [ -S "$SOCK" ] && break; sleep 0.1; done
[ -S "$SOCK" ] || { cat "$WORK/xend.log"; fail "xend did not start"; }

errors=0
bad() { echo "FAIL: $*"; errors=$((errors+1)); }

OUT=$("$XM" info 2>"$WORK/err") || fail "xm info: rc=$? $(cat "$WORK/err")"
echo "$OUT"
[ -s "$WORK/err" ] && bad "xm info wrote to stderr: $(cat "$WORK/err")"

# Layout: every line is a 23-column key, " : ", a value.
echo "$OUT" | grep -Evq '^[a-z_]{1,23} {0,22}: ' && bad "line not in 'key : value' form: $(echo "$OUT" | grep -Ev '^[a-z_]+ *: ')"
val() { echo "$OUT" | sed -n "s/^$1 *: //p"; }
for k in host release version machine nr_cpus cpu_vendor cpu_model cpu_mhz virt_caps \
         total_memory free_memory kvm engines xeno_version xend_uri; do
    [ "$(echo "$OUT" | grep -c "^$k *: ")" = 1 ] || bad "key $k missing or repeated"
done
[ "$(val machine)" = "$(uname -m)" ] || bad "machine: $(val machine)"
[ "$(val release)" = "$(uname -r)" ] || bad "release: $(val release)"

# CPU and memory, from the same files the host shows.
[ "$(val nr_cpus)" = "$(grep -c '^processor' /proc/cpuinfo)" ] || bad "nr_cpus: $(val nr_cpus)"
model=$(sed -n 's/^model name[[:space:]]*: *//p' /proc/cpuinfo | head -n1 | sed 's/[[:space:]]*$//')
[ "$(val cpu_model)" = "$model" ] || bad "cpu_model: '$(val cpu_model)', /proc/cpuinfo says '$model'"
vendor=$(sed -n 's/^vendor_id[[:space:]]*: *//p' /proc/cpuinfo | head -n1)
[ "$(val cpu_vendor)" = "$vendor" ] || bad "cpu_vendor: $(val cpu_vendor)"
mhz=$(sed -n 's/^cpu MHz[[:space:]]*: *//p' /proc/cpuinfo | head -n1)
[ -z "$mhz" ] || [ "$(val cpu_mhz)" = "$(printf '%.0f' "$mhz")" ] || bad "cpu_mhz: $(val cpu_mhz) vs $mhz"
total=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
[ "$(val total_memory)" = "$total" ] || bad "total_memory: $(val total_memory), expected $total"
free=$(val free_memory)
[ -n "$free" ] && [ "$free" -le "$total" ] && [ "$free" -gt 0 ] || bad "free_memory: $free"

# Hardware virtualization.
flags=$(grep -m1 '^flags' /proc/cpuinfo)
if echo "$flags" | grep -qw vmx; then hw=vmx
elif echo "$flags" | grep -qw svm; then hw=svm
else hw=none; fi
if [ $hw = none ]; then
    [ "$(val virt_caps)" = "none (no vmx/svm)" ] || bad "virt_caps: $(val virt_caps), host has no vmx/svm"
else
    [ "$(val virt_caps)" = "hvm ($hw)" ] || bad "virt_caps: $(val virt_caps), host has $hw"
fi

# KVM: the state phrase and the engines line follow from it.
kvm=$(val kvm)
engines=$(val engines)
emu="emu: riscv64 (software); kvm: "
case "$engines" in "$emu"*) ;; *) bad "engines does not start with '$emu': $engines" ;; esac
if [ ! -e /dev/kvm ]; then
    [ "$kvm" = absent ] || bad "kvm: '$kvm' but there is no /dev/kvm"
elif [ -d /sys/module/kvm_pvm ]; then
    # The development machines: /dev/kvm works for freestanding guests only.
    [ "$kvm" = "usable, paging-based nested (kvm_pvm)" ] || bad "kvm on a kvm_pvm host: $kvm"
    if [ $hw = none ]; then
        [ "$engines" = "${emu}usable for freestanding test guests only (paging-based nested KVM, no vmx/svm); x86-64 Linux guests cannot run fast here" ] ||
            bad "engines on a kvm_pvm host: $engines"
    fi
elif [ $hw != none ] && [ "$kvm" = usable ]; then
    [ "$engines" = "${emu}x86-64 (hardware)" ] || bad "engines on a vmx/svm host: $engines"
else
    case "$kvm" in usable|"unusable: "*) ;; *) bad "kvm: $kvm" ;; esac
fi

# The JSON behind it (GET /v1/host) carries the same conclusions.
if command -v curl >/dev/null; then
    J=$(curl -s --unix-socket "$SOCK" http://xend/v1/host)
    "$PY" - "$J" "$hw" "$kvm" <<'PY' || bad "GET /v1/host: $J"
import json, sys
j, hw, kvm = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
assert j["hw_virt"] == hw, j["hw_virt"]
assert j["virt_caps"] == ("none" if hw == "none" else "hvm")
assert j["kvm"] == kvm
assert j["kvm_usable"] == kvm.startswith("usable")
assert j["kvm_pvm"] == ("kvm_pvm" in kvm)
assert j["kvm_fast"] == (hw != "none" and kvm == "usable")
assert j["engines"] == (["emu", "kvm"] if j["kvm_usable"] else ["emu"])
PY
fi

# Arguments are refused with Xen's usage error.
"$XM" info extra >/dev/null 2>"$WORK/err" && bad "xm info extra: exit 0"
grep -q "takes no arguments" "$WORK/err" || bad "xm info extra: $(cat "$WORK/err")"

[ $errors = 0 ] || fail "$errors check(s) failed"
echo "PASS: xm info (virt_caps $(val virt_caps); kvm $kvm)"
