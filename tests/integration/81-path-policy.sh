#!/usr/bin/env bash
# What a config may name (docs/config.md): a client that is not root on
# xend's UNIX socket may use only regular files in xend-image-dirs; a
# refused path is a clear error naming the file and the directories, and
# nothing is created (no domain, no saved config); a save file's config is
# checked on restore too. Root may name anything;
# symbolic links are resolved by xend and the VMM gets the file itself. The
# VMM checks the type before opening (a FIFO does not block it, a link is
# refused). xend rotates the domains' VMM logs (xend-vmm-log-max-size).
. "$(dirname "$0")/lib/common.sh"
require_vm
. "$LIB/xend.sh"
cd "$WORK"
command -v setpriv >/dev/null || fail "setpriv not installed (util-linux)"
[ "$(id -u)" = 0 ] || skip "needs root: the test runs xm as root and as another user"

chmod 755 "$WORK"
mkdir -p images outside saves
truncate -s 16M images/disk.img outside/disk.img outside/secret.img
ln -s ../outside/secret.img images/escape.img
ln -s disk.img images/alias.img
chmod 644 images/* outside/*
cat > "$XEND_CONFIG" <<CFG
(xend-image-dirs '$WORK/images')
(xend-save-dirs '$WORK/saves')
(xend-vmm-log-max-size 20000)
(xend-vmm-log-rotate 1)
CFG
start_xend
chmod 666 "$SOCK"     # for the test: another user may talk to xend

NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups --)
# cfg NAME DISKSPEC: a config file any user can read
cfg() {
    printf 'name = "%s"\nmemory = 128\ndisk = [ "%s" ]\n' "$1" "$2" >"$1.cfg"
    chmod 644 "$1.cfg"
}
# refused NAME WHAT: xm create as nobody fails with a message naming WHAT
# and the image directory, and leaves nothing behind
refused() {
    local out
    out=$("${NOBODY[@]}" "$XM" create "$1.cfg" 2>&1) && fail "nobody created $1: $out"
    case $out in
    *"$2"*"$WORK/images"*) ;;
    *) fail "$1: the error does not name '$2' and the image directory: $out" ;;
    esac
    "$XM" list | grep -qw "$1" && fail "$1 is listed after a refused create"
    ls "$ST"/domains 2>/dev/null | grep -q "$1" && fail "$1 left a config in $ST/domains"
    echo "refused: $out"
}

# nobody: inside the image directory -> runs
cfg ok "file:$WORK/images/disk.img,xvda,w"
"${NOBODY[@]}" "$XM" create ok.cfg || fail "nobody could not create a domain on an image in the image dir"
"$XM" list | grep -qw ok || fail "domain ok not listed"

# nobody's save files: only in the save directories (xend, as root, writes
# FILE.tmp and renames it to FILE, and reads a restore's file)
touch outside/victim; chmod 644 outside/victim
for target in "$WORK/outside/victim" "$WORK/saves/../outside/ok.save" /etc/xeno-test.save \
              "$WORK/saves/nodir/ok.save"; do
    out=$("${NOBODY[@]}" "$XM" save -c ok "$target" 2>&1) && fail "nobody saved to $target: $out"
    case $out in "Error: save file '$target': "*"$WORK/saves"*) ;;
        *) fail "xm save to $target as nobody: $out" ;; esac
done
[ -s outside/victim ] && fail "a refused save wrote outside/victim"
ls outside/*.tmp /etc/xeno-test.save* 2>/dev/null && fail "a refused save left a file"
ln -s ../outside/victim saves/link.save
out=$("${NOBODY[@]}" "$XM" save -c ok "$WORK/saves/link.save" 2>&1) && fail "nobody saved over a link"
case $out in *"exists and is not a regular file"*) ;; *) fail "save over a link: $out" ;; esac
echo "refused: $out"
chmod 1777 saves
"${NOBODY[@]}" "$XM" save -c ok "$WORK/saves/ok.save" || fail "nobody could not save into the save dir"
[ -s saves/ok.save ] || fail "no saves/ok.save"
cp saves/ok.save outside/ok.save; chmod 644 outside/ok.save
"$XM" destroy ok
out=$("${NOBODY[@]}" "$XM" restore "$WORK/outside/ok.save" 2>&1) && fail "nobody restored from outside"
case $out in *"outside the save directories"*) ;; *) fail "restore from outside: $out" ;; esac
"$XM" list | grep -qw ok && fail "ok listed after a refused restore"
"${NOBODY[@]}" "$XM" restore "$WORK/saves/ok.save" || fail "nobody could not restore from the save dir"
"$XM" destroy ok
echo "save files: refused outside $WORK/saves, accepted inside"

# nobody: outside, .., a link out, a device, a kernel outside, managed (new)
cfg out "file:$WORK/outside/disk.img,xvda,w"
refused out "disk '$WORK/outside/disk.img': outside the image directories"
cfg dotdot "file:$WORK/images/../outside/secret.img,xvda,w"
refused dotdot "($WORK/outside/secret.img): outside the image directories"
cfg esc "file:$WORK/images/escape.img,xvda,w"
refused esc "($WORK/outside/secret.img): outside the image directories"
cfg dev "phy:/dev/null,xvda,w"
refused dev "disk '/dev/null': not a regular file"
printf 'name = "kern"\nmemory = 128\nkernel = "/etc/passwd"\n' >kern.cfg; chmod 644 kern.cfg
refused kern "kernel '/etc/passwd': outside the image directories"
out=$("${NOBODY[@]}" "$XM" new out.cfg 2>&1) && fail "nobody defined out: $out"
case $out in *"outside the image directories"*) ;; *) fail "xm new: $out" ;; esac
"$XM" list | grep -qw out && fail "out defined after a refused xm new"

# root: anything; a link becomes the file itself in what the VMM runs
cfg rootout "file:$WORK/outside/disk.img,xvda,w"
"$XM" create rootout.cfg || fail "root could not name a file outside the image dirs"
# a save file's config is checked on restore as well
"$XM" save rootout "$WORK/saves/rootout.save" || fail "xm save rootout"
chmod 644 saves/rootout.save
out=$("${NOBODY[@]}" "$XM" restore "$WORK/saves/rootout.save" 2>&1) && fail "nobody restored rootout: $out"
case $out in *"disk '$WORK/outside/disk.img': outside the image directories"*) ;;
    *) fail "xm restore as nobody: $out" ;; esac
"$XM" list | grep -qw rootout && fail "rootout listed after a refused restore"
echo "refused: $out"
"$XM" restore "$WORK/saves/rootout.save" || fail "root could not restore rootout"
"$XM" destroy rootout
cfg alias "file:$WORK/images/alias.img,xvda,w"
"$XM" create alias.cfg || fail "root could not use a link"
id=$("$XM" domid alias)
grep -q "target=$WORK/images/disk.img\"" "$ST/run/$id.cfg" ||
    fail "the VMM does not get the canonical path: $(grep disk "$ST/run/$id.cfg")"
"$XM" destroy alias
echo "root: outside and through a link accepted; the VMM got $WORK/images/disk.img"

# The VMM itself: a link is refused, a FIFO neither opened nor waited on
mkfifo fifo.img
out=$(timeout 20 "$XENO_VMM" --disk "file:$WORK/fifo.img,xvda,w" 2>&1) && fail "the VMM ran on a FIFO"
[ $? = 124 ] && fail "the VMM blocked opening a FIFO"
case $out in *"fifo.img: a FIFO, not a regular file or block device"*) ;; *) fail "FIFO: $out" ;; esac
out=$(timeout 20 "$XENO_VMM" --disk "file:$WORK/images/alias.img,xvda,w" 2>&1) && fail "the VMM followed a link"
case $out in *"alias.img: a symbolic link is on the path"*) ;; *) fail "link: $out" ;; esac
ln -s images imglink
out=$(timeout 20 "$XENO_VMM" --disk "file:$WORK/imglink/disk.img,xvda,w" 2>&1) && fail "the VMM followed a directory link"
case $out in *"a symbolic link is on the path"*) ;; *) fail "dir link: $out" ;; esac
echo "VMM: FIFO and links refused before opening"

# VMM log rotation: a writer appending like a VMM (O_APPEND) past the cap
cfg logger "file:$WORK/images/disk.img,xvda,w"
"$XM" create logger.cfg || fail "create logger"
LOG=$ST/log/logger.log
"$PY" - "$LOG" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
for i in range(2000):
    os.write(fd, b"xeno-vmm: warning: a guest-triggered message %d\n" % i)
os.close(fd)
PY
for _ in $(seq 50); do [ -f "$LOG.1" ] && [ "$(stat -c %s "$LOG")" -lt 20000 ] && break; sleep 0.2; done
[ -f "$LOG.1" ] || fail "no $LOG.1 after the log passed xend-vmm-log-max-size"
[ "$(stat -c %s "$LOG")" -lt 20000 ] || fail "$LOG not truncated: $(stat -c %s "$LOG") bytes"
"$XM" log logger >/dev/null || fail "xm log after rotation"
"$XM" destroy logger
echo "VMM log rotated: $(stat -c %s "$LOG.1") bytes in logger.log.1, $(stat -c %s "$LOG") in logger.log"
echo "81-path-policy: ok"
