#!/usr/bin/env bash
# xm against a fake xend (tests/unit/xm/fake_xend.py, canned state): the
# exact `xm list` layout, help and usage errors, Domain-0 refusal, "does not
# exist" wording, and what each command sends to xend.
. "$(dirname "$0")/lib/common.sh"
XM=${XM:-${XENO_BUILD:-$ROOT/build}/src/xm/xm}
[ -x "$XM" ] || fail "xm not built: $XM"
FAKE=$ROOT/tests/unit/xm/fake_xend.py
SOCK=$WORK/xend.sock
"$PY" "$FAKE" --socket "$SOCK" --log "$WORK/requests" &
CHILD_PIDS+=($!)
for _ in $(seq 50); do [ -S "$SOCK" ] && break; sleep 0.1; done
[ -S "$SOCK" ] || fail "fake xend did not start"
export XENO_URI=unix://$SOCK
errors=0
check() {   # check NAME EXPECTED ACTUAL
    if [ "$2" != "$3" ]; then
        echo "FAIL: $1"; echo "--- expected"; printf '%s\n' "$2" | cat -A
        echo "--- got"; printf '%s\n' "$3" | cat -A
        errors=$((errors+1))
    else
        echo "ok: $1"
    fi
}
# run CMD...: sets OUT, ERR, RC
run() { OUT=$("$XM" "$@" 2>"$WORK/err"); RC=$?; ERR=$(cat "$WORK/err"); }

# 1. xm list, byte for byte (Xen 3.1's "%-40s %3s %8d %5d %5s %8.1f").
run list
check "list rc" 0 "$RC"
check "list layout" \
"Name                                      ID Mem(MiB) VCPUs State   Time(s)
Domain-0                                   0     2048     2 r-----    301.6
web1                                       1      256     1 r-----     12.3
db                                         2      512     2 --p---      4.0
mail                                              128     1 ------      0.0" "$OUT"
run list db web1
check "list DOM..." \
"Name                                      ID Mem(MiB) VCPUs State   Time(s)
db                                         2      512     2 --p---      4.0
web1                                       1      256     1 r-----     12.3" "$OUT"
run --connect "unix://$SOCK" list 2
check "--connect + list by id" "db                                         2      512     2 --p---      4.0" "$(echo "$OUT" | tail -n1)"
run list -l web1
check "list -l" "    (name web1)" "$(echo "$OUT" | grep '(name ')"

# 2. help and usage errors.
run help list
check "help list rc" 0 "$RC"
check "help list" "Usage: xm list [-l] [Domain...]" "$(echo "$OUT" | head -n1)"
run frobnicate
[ "$RC" -ne 0 ] || { echo "FAIL: unknown command exit 0"; errors=$((errors+1)); }
check "unknown command" "Error: Unknown command 'frobnicate'." "$(echo "$ERR" | head -n1)"
echo "$ERR" | grep -q '^Usage: xm' || { echo "FAIL: unknown command prints no usage"; errors=$((errors+1)); }
run list --bogus
[ "$RC" -ne 0 ] && echo "$ERR" | grep -q '^Usage: xm list' || { echo "FAIL: bad option"; errors=$((errors+1)); }
run mem-set web1 lots
[ "$RC" -ne 0 ] && echo "$ERR" | grep -q '^Usage: xm mem-set' || { echo "FAIL: bad memory size"; errors=$((errors+1)); }
run pause
[ "$RC" -ne 0 ] && echo "$ERR" | grep -q '^Usage: xm pause' || { echo "FAIL: missing argument"; errors=$((errors+1)); }
run
[ "$RC" -ne 0 ] || { echo "FAIL: no command exit 0"; errors=$((errors+1)); }
# One option parser for every subcommand (getopt_long), naming the command.
run list -lz
check "unknown option in a cluster" "1 Error: Unknown option '-z' for 'xm list'." "$RC $(echo "$ERR" | head -n1)"
run top -b -i
check "missing option argument" "1 Error: Option '-i' of 'xm top' requires an argument." "$RC $(echo "$ERR" | head -n1)"
run shutdown -wa web1
check "clustered flags" "1 Error: 'xm shutdown -a' takes no domain." "$RC $(echo "$ERR" | head -n1)"
run vcpu-set web1
check "operand count" "1 Error: 'xm vcpu-set' requires 2 arguments." "$RC $(echo "$ERR" | head -n1)"
run --connect
check "global option argument" "1 Error: Option '--connect' requires an argument." "$RC $(echo "$ERR" | head -n1)"
run list --long -- web1
check "long option and --" "0     (name web1)" "$RC $(echo "$OUT" | grep '(name ')"

# 3. Errors in Xen's words.
run pause web9
check "no such domain" "1 Error: Domain 'web9' does not exist." "$RC $ERR"
for c in "destroy Domain-0" "pause 0" "mem-set Domain-0 512" "vcpu-set Domain-0 1" \
         "shutdown Domain-0" "reboot 0" "unpause Domain-0" "mem-max Domain-0 1024" "delete Domain-0"; do
    run $c
    check "refused: xm $c" "1 Error: Domain-0 cannot be modified." "$RC $ERR"
done

# 4. Commands and what they send.
: >"$WORK/requests"
run pause web1;        check "pause" 0 "$RC"
run unpause web1;      check "unpause" 0 "$RC"
run mem-set web1 200;  check "mem-set" 0 "$RC"
run mem-max web1 1G;   check "mem-max" 0 "$RC"
run vcpu-set web1 2;   check "vcpu-set" 0 "$RC"
run shutdown -w db;    check "shutdown -w" 0 "$RC"
posts=$("$PY" -c '
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["method"] == "POST":
        print(r["path"], json.dumps(r["body"], sort_keys=True))
' "$WORK/requests")
check "requests" \
'/v1/domains/web1/pause {}
/v1/domains/web1/unpause {}
/v1/domains/web1/mem {"target_mib": 200}
/v1/domains/web1/mem {"max_mib": 1024}
/v1/domains/web1/vcpus {"count": 2}
/v1/domains/db/shutdown {"wait": true}' "$posts"
run list web1
check "list after changes" "web1                                       1      200     2 r-----     12.3" "$(echo "$OUT" | tail -n1)"

cat >"$WORK/web2.cfg" <<'CFG'
name = "web2"
memory = 64
CFG
: >"$WORK/requests"
run create "$WORK/web2.cfg" memory=96 'extra=console=hvc0 quiet'
check "create" "0 Using config file \"$WORK/web2.cfg\".
Started domain web2 (id=3)" "$RC $OUT"
body=$("$PY" -c '
import json, sys
r = json.loads(open(sys.argv[1]).readline())
print(r["method"], r["path"], json.dumps(r["body"], sort_keys=True))' "$WORK/requests")
check "create request" "POST /v1/domains {\"config\": \"name = \\\"web2\\\"\\nmemory = 64\\n\", \"managed\": false, \"overrides\": [\"memory=96\", \"extra=console=hvc0 quiet\"], \"paused\": false, \"start\": true}" "$body"
run create "$WORK/missing.cfg"
check "create missing file" "1 Error: Cannot read file $WORK/missing.cfg: No such file or directory." "$RC $ERR"
run create "$WORK/web2.cfg" notakeyvalue
[ "$RC" -ne 0 ] && echo "$ERR" | grep -q '^Usage: xm create' || { echo "FAIL: bad override"; errors=$((errors+1)); }
run domid web2;   check "domid" "3" "$OUT"
run domname 3;    check "domname" "web2" "$OUT"
run domid nosuch; check "domid missing" "1 Error: Domain 'nosuch' does not exist." "$RC $ERR"
run destroy web2; check "destroy" 0 "$RC"
run domid web2;   check "transient domain gone" 1 "$RC"

sed 's/web2/web3/' "$WORK/web2.cfg" >"$WORK/web3.cfg"
run new "$WORK/web3.cfg";  check "new" 0 "$RC"
run list web3;  check "new is stopped" "web3                                               64     1 ------      0.0" "$(echo "$OUT" | tail -n1)"
run start web3; check "start" 0 "$RC"
run start web3; check "start twice" "1 Error: Domain 'web3' is already running." "$RC $ERR"
run destroy web3; check "destroy managed" 0 "$RC"
run delete web3;  check "delete" 0 "$RC"
run list web3;    check "deleted" "1 Error: Domain 'web3' does not exist." "$RC $ERR"

# 5. Views.
run uptime web1
check "uptime" "Name                              ID Uptime
web1                               1 1 day,  2:03:04" "$OUT"
run vcpu-list db
check "vcpu-list (paused db was shut down)" 1 "$RC"
run top -b -i 2 -d 0.1
check "top -b -i 2" 2 "$(echo "$OUT" | grep -c '^      NAME  STATE')"
run info
check "info" "host                   : fakehost" "$(echo "$OUT" | head -n1)"
run log web1
check "log" "vmm log of web1
line two" "$OUT"
run console web1 <<<"hello"
check "console" "console of web1
HELLO" "$OUT"
run dmesg web1
check "dmesg" "console of web1" "$OUT"

[ $errors -eq 0 ] || fail "$errors check(s) failed"
echo "all xm checks passed"
