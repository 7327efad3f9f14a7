#!/usr/bin/env bash
# Soak: guest memory survives many migrations of a busy 2-vCPU guest.
#
# Two hosts in network namespaces (as 64-xm-migrate), a 2-vCPU guest with
# two loads that make a lost page write visible:
#   - a checker that writes a file whose content depends on a counter, then
#     compares its sha256 with the same content generated afresh: a write
#     the migration lost leaves an older page at the destination;
#   - a writer (dd in a loop over 16 MiB) that keeps pages dirty, so every
#     migration runs several rounds and the dirty log is re-armed often.
# Then N migrations (default 40; MEMCHECK_N) alternate a->b->a, live with
# auto-converge, live without, and not live. After each one the guest must
# answer, no process may have crashed ("Comm:" in dmesg), and the checker
# must have found nothing. Not in make check (minutes); `make soak` runs it.
. "$(dirname "$0")/../integration/lib/common.sh"
. "$LIB/xend.sh"
. "$LIB/netns.sh"
require_vm
netns_require
cd "$WORK"
N=${MEMCHECK_N:-40}
T0=$SECONDS

run() { OUT=$(xmh "$@" 2>"$WORK/err"); RC=$?; ERR=$(cat "$WORK/err"); }
con() { XENO_URI="unix://$WORK/$1/xend.sock" XMCON_TIMEOUT=${CON_T:-90} "$PY" "$LIB/xmcon.py" "$XM" "${@:2}"; }
die() {
    local h
    for h in a b; do echo "--- $h/xend.log"; grep -v ': debug: ' "$WORK/$h/xend.log" | tail -n 10; done
    fail "$*"
}

netns_host a 1 10.78.0.1
netns_host b 2 10.78.0.2
reach "${NS_OF[a]}" 10.78.0.2 || fail "host a cannot reach host b"
od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >psk
for h in a b; do
    reloc_host "$h" '^10\\.78\\.0\\.[12]$'
    host_xend "$h"
done

cat >mc.cfg <<CFG
name = "mc"
memory = 128
vcpus = 2
kernel = "$XENO_GUEST_DIR/Image"
ramdisk = "$XENO_GUEST_DIR/initramfs.cpio.gz"
CFG
run a create mc.cfg
[ "$RC" = 0 ] || die "xm create: $ERR"
con a mc wait || die "no shell prompt"
# One console command per step, each checked by its own output line (the
# console echoes the command, so the word alone proves nothing): a long
# multi-line command typed into a guest busy with its first line (dd of
# 16 MiB) sometimes lost its printf line, and the checker never started.
con a mc run 'mkdir -p /w && mount -t tmpfs -o size=48m tmpfs /w &&
  dd if=/dev/urandom of=/w/src bs=1M count=16 2>/dev/null && cp /w/src /w/dst && echo made' |
    tr -d '\r' | grep -qx made || die "the test files were not made"
con a mc run 'printf "i=0\nwhile :; do i=\$((i+1)); seq \$i \$((i+20000)) >/w/f; a=\$(sha256sum </w/f); b=\$(seq \$i \$((i+20000)) | sha256sum); [ \"\$a\" = \"\$b\" ] || echo \"CORRUPT \$i\" >>/w/bad; echo \$i >/w/n.t; mv /w/n.t /w/n; done\n" >/w/check.sh && echo written' |
    tr -d '\r' | grep -qx written || die "the checker was not written"
con a mc run 'setsid sh /w/check.sh </dev/null >/dev/null 2>&1 &
  setsid sh -c "while :; do dd if=/w/src of=/w/dst bs=1M conv=notrunc 2>/dev/null; done" </dev/null >/dev/null 2>&1 &
  echo started' | tr -d '\r' | grep -qx started || die "the loads did not start"

started=
for t in $(seq 60); do
    [ "$(con a mc run 'cat /w/n 2>/dev/null || echo none' | tr -d '\r' | tail -n 1)" != none ] && { started=1; break; }
    sleep 1
done
[ -n "$started" ] || die "the checker did not count within 60 s"
on=a; to=b; declare -A IP=([a]=10.78.0.1 [b]=10.78.0.2)
CON_T=30
last=0
for i in $(seq "$N"); do
    case $((i % 3)) in
        0) how="--live --resource 400" ;;
        1) how="--live --no-auto-converge --resource 2000" ;;
        2) how="" ;;
    esac
    run "$on" migrate $how mc "${IP[$to]}"
    [ "$RC" = 0 ] || die "migration $i ($on->$to ${how:-non-live}): $ERR"
    tmp=$on; on=$to; to=$tmp
    S=$(con "$on" mc run 'echo "at=$(cat /w/n 2>/dev/null) bad=$(cat /w/bad 2>/dev/null | wc -l) crashed=$(dmesg | grep -c Comm:)"' |
        tr -d '\r' | grep '^at=' | tail -n 1)
    set -- $(echo "$S" | sed 's/[a-z]*=/x/g')      # x: an empty field stays a field
    [ "${2:-}" = x0 ] || die "migration $i ($how): the checker found lost writes ($S): $(con "$on" mc run 'head -n 3 /w/bad' | tr -d '\r')"
    [ "${3:-}" = x0 ] || die "migration $i ($how): a process crashed ($S): $(con "$on" mc run 'dmesg | grep -B2 -A4 Comm: | head -n 20' | tr -d '\r')"
    [ "${1#x}" -gt "$last" ] 2>/dev/null || die "migration $i: the checker stopped ('$S', was at $last)"
    last=${1#x}
    echo "migration $i ok ($on, ${how:-non-live}, checker at $last)"
done
S=$(con "$on" mc run 'cmp /w/src /w/dst && echo same' | tr -d '\r\n')
[ "$S" = same ] || die "the writer's copy differs from its source: '$S'"
echo "memcheck: $N migrations of a busy 2-vCPU guest, no lost write, no crash ($((SECONDS - T0)) s)"
