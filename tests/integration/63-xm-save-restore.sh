#!/usr/bin/env bash
# xm save / restore through xend on the default guest (emu engine):
#  - a save into a directory that does not exist and into a full tmpfs
#    fails with one "Error:" line and leaves the domain running as it was
#    (same VMM, not paused, its console answers), no PATH.tmp left behind;
#  - xm save -c (checkpoint) keeps it running; on a terminal xm draws a
#    progress bar, otherwise it prints progress lines;
#  - xm save DOM FILE (relative FILE: xm makes it absolute) ends the VMM
#    and the unmanaged domain; xm restore FILE runs it again under its name
#    and uuid: its uptime went on growing and a file in its tmpfs is intact
#    (sha256 in the guest);
#  - xm restore of a running domain's file, of a file that is not a save
#    file, of a truncated file, of a file with a corrupt record or header:
#    one "Error:" line and nothing started (no VMM, no domain, no record);
#  - xm restore -p leaves it paused; xm unpause runs it;
#  - managed save: xm new + xm start, `xm save DOM` (no file) shows the
#    domain as saved (---S--, kept across an xend restart), xm start
#    restores it and removes the save file, xm delete of a saved domain
#    removes its save file; an unmanaged domain needs a file.
# Checks inside a restored guest are collected and reported at the end,
# so that one run shows everything that passed.
. "$(dirname "$0")/lib/common.sh"
. "$LIB/xend.sh"
require_vm
cd "$WORK"
T0=$SECONDS
start_xend

soft=()
soft_bad() { echo "FAIL (restored guest): $*"; soft+=("$*"); }
die() { tail -n 30 "$WORK/xend.log"; fail "$*"; }
# run ARGS...: xm ARGS; stdout in OUT, stderr in ERR, status in RC.
run() { OUT=$("$XM" "$@" 2>"$WORK/err"); RC=$?; ERR=$(cat "$WORK/err"); }
con() { XMCON_TIMEOUT=${CON_T:-90} "$PY" "$LIB/xmcon.py" "$XM" "$@"; }
# The state column of DOM's `xm list` row (fixed columns: 61-66).
state() { "$XM" list "$1" 2>/dev/null | sed -n 2p | cut -c61-66; }
domid() { "$XM" domid "$1" 2>/dev/null; }
# one_error WHAT: the last xm failed with exactly one "Error: ..." line.
one_error() {
    [ "$RC" = 1 ] || die "$1: rc=$RC (want 1), out: $OUT, err: $ERR"
    [ "$(printf '%s\n' "$ERR" | wc -l)" = 1 ] && [[ "$ERR" == "Error: "* ]] ||
        die "$1: want one 'Error:' line, got: $ERR"
}
# nothing_started: no VMM of ours, only Domain-0 listed, no run record.
nothing_started() {
    local n
    n=$(vmm_pids | wc -l)
    [ "$n" = "${1:-0}" ] || die "$n VMMs run, want ${1:-0}"
    [ "$("$XM" list | wc -l)" = $((2 + ${1:-0})) ] || die "xm list: $("$XM" list)"
    [ "$(ls "$ST/run" | grep -c '\.json$')" = "${1:-0}" ] || die "run records: $(ls "$ST/run")"
}
uptime_of() { con "$1" run 'cut -d" " -f1 /proc/uptime' | tr -d '\r\n '; }
gt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a > b) }'; }

cat >g.cfg <<CFG
name = "g"
memory = 128
vcpus = 1
kernel = "$XENO_GUEST_DIR/Image"
ramdisk = "$XENO_GUEST_DIR/initramfs.cpio.gz"
CFG

# --- a running guest with a file in its tmpfs ------------------------------
run create g.cfg
[ "$RC" = 0 ] || die "xm create: $ERR"
con g wait || die "g: no shell prompt"
SUM=$(con g run 'head -c 262144 /dev/urandom >/tmp/blob; sha256sum /tmp/blob | cut -d" " -f1' |
      tr -d '\r\n')
[ ${#SUM} = 64 ] || die "no sha256 from the guest: '$SUM'"
ID1=$(domid g)
PID1=$(jpid "$ID1")
UUID=$("$XM" list -l g | sed -n 's/^ *(uuid \(.*\))$/\1/p')
[ -n "$UUID" ] || die "no uuid in xm list -l"

# --- failed saves leave the domain running as it was -------------------------
run save g /nonexistent-dir/g.save
one_error "save into a missing directory"
[[ "$ERR" == "Error: Domain 'g' was not saved to /nonexistent-dir/g.save (it keeps running): "* ]] ||
    die "save into a missing directory: $ERR"
[ "$(domid g)" = "$ID1" ] && [ "$(jpid "$ID1")" = "$PID1" ] && alive "$PID1" ||
    die "the domain did not keep its VMM after a failed save"
state g | grep -Eq '^(r-----|-b----)$' || die "after a failed save: state $(state g)"
mkdir small
if mount -t tmpfs -o size=2m tmpfs small 2>/dev/null; then
    run save g small/g.save
    one_error "save into a full tmpfs"
    echo "$ERR" | grep -q 'No space left on device' || die "save into a full tmpfs: $ERR"
    [ -z "$(ls -A small)" ] || die "a full disk left files: $(ls -A small)"
    umount small
    [ "$(jpid "$ID1")" = "$PID1" ] && alive "$PID1" || die "disk full: the VMM did not survive"
    state g | grep -Eq '^(r-----|-b----)$' || die "after disk full: state $(state g)"
    echo "disk full: refused, domain runs on"
else
    echo "note: cannot mount a tmpfs here; the disk-full case is not run"
fi
[ "$(con g run 'echo alive-$((6*7))' | tr -d '\r\n')" = alive-42 ] ||
    die "the guest does not answer after the failed saves"

# --- checkpoint: the domain keeps running; a bar on a terminal ---------------
"$PY" - "$XM" "$WORK/ck.save" >ck.out <<'PY' || die "xm save -c on a tty: $(cat ck.out)"
import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1], "save", "-c", "g", sys.argv[2]])
out = b""
while True:
    try:
        d = os.read(fd, 4096)
    except OSError:
        break
    if not d:
        break
    out += d
_, st = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
sys.exit(os.WEXITSTATUS(st))
PY
grep -q $'\r''Saving g \[' ck.out || die "no progress bar on a terminal: $(cat -v ck.out)"
grep -q "Domain g checkpointed to $WORK/ck.save; it keeps running." ck.out ||
    die "xm save -c: $(cat -v ck.out)"
[ -f ck.save ] && [ ! -e ck.save.tmp ] || die "no checkpoint file"
[ "$(domid g)" = "$ID1" ] && [ "$(jpid "$ID1")" = "$PID1" ] || die "checkpoint changed the VMM"
[ "$(con g run 'echo ck-$((6*7))' | tr -d '\r\n')" = ck-42 ] ||
    die "the guest does not answer after the checkpoint"

# --- save (relative path) and restore ---------------------------------------
T1=$(date +%s.%N)
UP1=$(uptime_of g)
run save g g.save
[ "$RC" = 0 ] || die "xm save: $ERR"
echo "$OUT" | grep -q '^Saving g: active' || die "no progress lines: $OUT"
[ "$(echo "$OUT" | tail -n1)" = "Domain g saved to $WORK/g.save." ] || die "xm save said: $OUT"
[ -f g.save ] && [ ! -e g.save.tmp ] || die "no save file: $(ls)"
for _ in $(seq 50); do alive "$PID1" || break; sleep 0.1; done
alive "$PID1" && die "the VMM still runs after the save"
run list g
one_error "xm list g after the save"
[ "$ERR" = "Error: Domain 'g' does not exist." ] || die "after the save: $ERR"
nothing_started
SAVED_FOR=5
sleep $SAVED_FOR  # the saved domain's clock must not count this

run restore g.save
[ "$RC" = 0 ] || die "xm restore: $ERR $(tail -n 5 "$ST/log/g.log")"
ID2=$(domid g)
[ "$(echo "$OUT" | tail -n1)" = "Restored domain g (id=$ID2)." ] || die "xm restore said: $OUT"
[ "$("$XM" list -l g | sed -n 's/^ *(uuid \(.*\))$/\1/p')" = "$UUID" ] || die "restored with another uuid"
state g | grep -Eq '^(r-----|-b----)$' || die "restored: state $(state g)"
nothing_started 1
CON_T=30
if UP2=$(uptime_of g) && [ -n "$UP2" ]; then
    T2=$(date +%s.%N)
    gt "$UP2" "$UP1" || soft_bad "uptime went back: $UP1 before the save, $UP2 after the restore"
    # The guest ran only part of the host's T1..T2 (the console work
    # before the save and after the restore, slow on a loaded host); it
    # must not have counted the SAVED_FOR seconds it was only a file.
    gt "$(awk -v a="$UP1" -v b="$UP2" -v t1="$T1" -v t2="$T2" -v s="$SAVED_FOR" \
              'BEGIN { print (b - a) - (t2 - t1 - s + 1) }')" 0 &&
        soft_bad "the guest clock ran while saved: $UP1 -> $UP2 over $(awk -v t1="$T1" -v t2="$T2" 'BEGIN { printf "%.2f", t2 - t1 }') s of host time, $SAVED_FOR s of them saved"
    S2=$(con g run 'sha256sum /tmp/blob | cut -d" " -f1' | tr -d '\r\n')
    [ "$S2" = "$SUM" ] || soft_bad "the tmpfs file changed: $SUM before, '$S2' after"
else
    soft_bad "the restored guest does not answer on its console"
fi

# --- restore while it runs: refused, nothing started -------------------------
run restore g.save
one_error "restore of a running domain"
[ "$ERR" = "Error: Domain 'g' is already running." ] || die "restore while running: $ERR"
nothing_started 1

# --- restore -p ---------------------------------------------------------------
run destroy g
[ "$RC" = 0 ] || die "xm destroy: $ERR"
for _ in $(seq 50); do [ -z "$(vmm_pids)" ] && break; sleep 0.1; done
run restore -p ck.save
[ "$RC" = 0 ] || die "xm restore -p: $ERR"
echo "$OUT" | tail -n1 | grep -q '^Restored domain g (id=[0-9]*), paused\.$' || die "xm restore -p: $OUT"
[ "$(state g)" = "--p---" ] || die "restore -p: state $(state g)"
run unpause g
[ "$RC" = 0 ] || die "xm unpause: $ERR"
state g | grep -Eq '^(r-----|-b----)$' || die "unpaused: state $(state g)"
S3=$(con g run 'sha256sum /tmp/blob | cut -d" " -f1' | tr -d '\r\n')
if [ -z "$S3" ]; then
    soft_bad "the guest restored with -p and unpaused does not answer"
elif [ "$S3" != "$SUM" ]; then
    soft_bad "restore -p: the tmpfs file changed: '$S3'"
fi
run destroy g
for _ in $(seq 50); do [ -z "$(vmm_pids)" ] && break; sleep 0.1; done
nothing_started

# --- files that are not good save files: one line, nothing started -----------
run restore g.cfg
one_error "restore of a config file"
[ "$ERR" = "Error: $WORK/g.cfg is not a Xeno save file." ] || die "not a save file: $ERR"
nothing_started
run restore no-such.save
one_error "restore of a missing file"
nothing_started
head -c 100000 g.save >trunc.save
run restore trunc.save
one_error "restore of a truncated file"
nothing_started
# A corrupt record: one byte of the second record's payload (the first
# section, after CONF) flipped; and a corrupt header.
"$PY" - g.save corrupt.save badhdr.save <<'PY' || die "cannot make corrupt files"
import shutil, struct, sys
src, rec, hdr = sys.argv[1:4]
data = bytearray(open(src, "rb").read())
off = 104                                           # after the header
tag, inst, ver, flags, length = struct.unpack_from("<IIIIQ", data, off)
assert data[off:off + 4] == b"CONF", data[off:off + 4]
off += 24 + length + 8                              # the next record
tag, inst, ver, flags, length = struct.unpack_from("<IIIIQ", data, off)
assert length > 0
data[off + 24 + length // 2] ^= 0x40
open(rec, "wb").write(data)
data = bytearray(open(src, "rb").read())
data[20] ^= 1                                       # the engine field
open(hdr, "wb").write(data)
PY
run restore corrupt.save
one_error "restore of a file with a corrupt record"
echo "$ERR" | grep -q "checksum" || die "corrupt record: $ERR"
nothing_started
run restore badhdr.save
one_error "restore of a file with a corrupt header"
echo "$ERR" | grep -q "checksum" || die "corrupt header: $ERR"
nothing_started

# --- managed save --------------------------------------------------------------
sed 's/^name = "g"$/name = "gm"/' g.cfg >gm.cfg
run new gm.cfg
[ "$RC" = 0 ] || die "xm new: $ERR"
run start gm
[ "$RC" = 0 ] || die "xm start gm: $ERR"
CON_T=90
con gm wait || die "gm: no shell prompt"
MSUM=$(con gm run 'head -c 65536 /dev/urandom >/tmp/m; sha256sum /tmp/m | cut -d" " -f1' | tr -d '\r\n')
MUP1=$(uptime_of gm)
run save -c gm
[ "$RC" = 1 ] && echo "$ERR" | head -n1 | grep -q "^Error: 'xm save -c' needs a file" ||
    die "xm save -c without a file: $RC $ERR"
run save gm
[ "$RC" = 0 ] || die "managed save: $ERR"
[ "$(echo "$OUT" | tail -n1)" = "Domain gm saved; 'xm start gm' restores it." ] || die "managed save: $OUT"
[ "$(state gm)" = "---S--" ] || die "saved managed domain: state '$(state gm)'"
"$XM" list gm | sed -n 2p | grep -Eq '^gm +128 ' || die "a saved domain has no id: $("$XM" list gm)"
[ -f "$ST/save/gm.save" ] && [ -f "$ST/domains/gm.saved" ] || die "no managed save file"
for _ in $(seq 50); do [ -z "$(vmm_pids)" ] && break; sleep 0.1; done
[ -z "$(vmm_pids)" ] || die "a VMM runs after the managed save"
# Kept across an xend restart.
kill "$XEND_PID"; wait "$XEND_PID" 2>/dev/null
start_xend
[ "$(state gm)" = "---S--" ] || die "after an xend restart: state '$(state gm)'"
run start gm
[ "$RC" = 0 ] || die "xm start of a saved domain: $ERR $(tail -n 5 "$ST/log/gm.log")"
state gm | grep -Eq '^(r-----|-b----)$' || die "started from its save: state $(state gm)"
[ ! -e "$ST/save/gm.save" ] && [ ! -e "$ST/domains/gm.saved" ] || die "the managed save file stayed"
CON_T=30
if MUP2=$(uptime_of gm) && [ -n "$MUP2" ]; then
    gt "$MUP2" "$MUP1" || soft_bad "managed save: uptime went back: $MUP1 -> $MUP2"
    [ "$(con gm run 'sha256sum /tmp/m | cut -d" " -f1' | tr -d '\r\n')" = "$MSUM" ] ||
        soft_bad "managed save: the tmpfs file changed"
else
    soft_bad "the guest restored by xm start does not answer"
fi
run save gm
[ "$RC" = 0 ] && [ -f "$ST/save/gm.save" ] || die "second managed save: $ERR"
run delete gm
[ "$RC" = 0 ] || die "xm delete of a saved domain: $ERR"
[ ! -e "$ST/save/gm.save" ] && [ ! -e "$ST/domains/gm.saved" ] && [ ! -e "$ST/domains/gm.cfg" ] ||
    die "xm delete left the save file: $(ls "$ST/save" "$ST/domains")"
run list gm
one_error "xm list of a deleted domain"

# --- an unmanaged domain needs a file -------------------------------------------
run create g.cfg
[ "$RC" = 0 ] || die "xm create: $ERR"
run save g
one_error "managed save of an unmanaged domain"
[ "$ERR" = "Error: Domain 'g' is not managed: give a file to save it to (xm save g FILE)." ] ||
    die "unmanaged save: $ERR"
state g | grep -Eq '^(r-----|-b----)$' || die "refused save: state $(state g)"
"$XM" destroy g

if [ ${#soft[@]} -gt 0 ]; then
    echo "checks inside restored guests that failed:"
    printf '  %s\n' "${soft[@]}"
    fail "${#soft[@]} checks of restored guests failed (the rest passed in $((SECONDS - T0)) s)"
fi
echo "save, checkpoint, restore, restore -p, managed save and their errors: ok ($((SECONDS - T0)) s)"
