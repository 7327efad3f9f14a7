#!/bin/sh
# /bench/run in the guest (bench/cpu/build.sh puts it there): run one
# workload of the CPU suite and print its output, then
#   elapsed_cs=N rc=S
# N = hundredths of a second of the workload alone, from /proc/uptime read
# by the shell builtin `read` (no fork; busybox date in the default guest
# has no %N).  bench/cpu.py also runs this script natively (busybox sh built
# for the host, BENCH_BIN=the native programs) and times it from the host,
# so the guest and the host run exactly the same loops.
#
#   run int ITERS | fp ITERS | awk N | gendata BYTES | sha256 | gzip |
#       exec PROGRAM COUNT | smp ITERS
BIN=${BENCH_BIN:-/bench}
DATA=${BENCH_DATA:-/tmp/data}

now() { read _u _ </proc/uptime; _t=$((${_u%.*} * 100 + 1${_u#*.} - 100)); }
start() { now; _s=$_t; }
# 1${frac} - 100: a fraction like "08" is not read as octal.

case $1 in
int)
	start; "$BIN/intbench" "$2"; r=$? ;;
fp)
	start; "$BIN/fpbench" "$2"; r=$? ;;
awk)
	start
	awk -v n="$2" 'BEGIN { s = 0; for (i = 1; i <= n; i++) s += sqrt(i) / (i + 0.5) - i / (i * i + 1.0); printf "%.12g\n", s }'
	r=$? ;;
gendata)
	start; "$BIN/gendata" "$2" > "$DATA"; r=$? ;;
sha256)
	start; sha256sum "$DATA"; r=$? ;;
gzip)
	start; gzip -c "$DATA" > "$DATA.gz"; r=$?
	now; _e=$_t
	echo "gz_bytes=$(wc -c < "$DATA.gz")"
	echo "roundtrip=$(gzip -dc "$DATA.gz" | sha256sum)"
	rm -f "$DATA.gz"
	_t=$_e ;;
exec)
	start
	i=0
	while [ $i -lt "$3" ]; do
		"$2" || break
		i=$((i + 1))
	done
	echo "count=$i"
	r=0 ;;
smp)
	# two copies one after the other, then both at once
	start
	"$BIN/intbench" "$2" && "$BIN/intbench" "$2"; r=$?
	now; echo "serial_cs=$((_t - _s)) rc=$r"
	start
	"$BIN/intbench" "$2" & p1=$!
	"$BIN/intbench" "$2" & p2=$!
	wait $p1; r1=$?
	wait $p2; r2=$?
	r=$((r1 + r2)) ;;
*)
	echo "usage: run int|fp|awk|gendata|sha256|gzip|exec|smp ARGS" >&2
	exit 2 ;;
esac
[ "$1" = gzip ] || now
echo "elapsed_cs=$((_t - _s)) rc=$r"
