#!/usr/bin/env bash
# exec-stress: a 2-vCPU guest runs many short processes for
# XENO_STRESS_SECONDS (20) in two parallel workers (one per hart) and every
# result is checked.  Each iteration forks and execs busybox applets in
# pipelines and command substitutions (expr, sed, awk, sh -c "seq | sort |
# head", seq | wc, gzip | gzip -d, md5sum | cut) and runs two tiny static
# programs made here with the cross compiler.  The two are linked at the
# same address with different code; each is copied to the same tmpfs path,
# run and deleted, one after the other, so freed pages come back as the
# other program's code at the same virtual address: remapping, new address
# spaces and code invalidation (fence.i) all get exercised.  The guest checks what shell
# arithmetic can check; the md5sums and the tiny programs' outputs are
# checked here against values computed on the host; the kernel log must
# show no crashed process.
. "$(dirname "$0")/lib/common.sh"
require_vm
command -v riscv64-linux-gnu-gcc >/dev/null ||
    fail "riscv64-linux-gnu-gcc not installed (scripts/deps.sh installs gcc-riscv64-linux-gnu)"
cd "$WORK"

# The tiny programs: PROG N prints "TAG:STEPS" where STEPS is the number
# of Collatz steps from N*MUL+ADD down to 1 (capped at 100000).
cat > tiny.c <<'EOF'
static long sys3(long n, long a, long b, long c)
{
    register long a7 __asm__("a7") = n;
    register long a0 __asm__("a0") = a;
    register long a1 __asm__("a1") = b;
    register long a2 __asm__("a2") = c;
    __asm__ volatile("ecall" : "+r"(a0) : "r"(a7), "r"(a1), "r"(a2) : "memory");
    return a0;
}

__attribute__((noreturn, used)) void cmain(long *sp)
{
    char **argv = (char **)(sp + 1), buf[32], *p = buf + sizeof buf;
    unsigned long n = 0, x, steps = 0;
    for (const char *s = sp[0] > 1 ? argv[1] : "0"; *s >= '0' && *s <= '9'; s++)
        n = n * 10 + (unsigned long)(*s - '0');
    x = n * MUL + ADD;
    while (x > 1 && steps < 100000) {
        x = (x & 1) ? 3 * x + 1 : x / 2;
        steps++;
    }
    *--p = '\n';
    do {
        *--p = (char)('0' + steps % 10);
        steps /= 10;
    } while (steps);
    *--p = ':';
    *--p = TAG;
    sys3(64, 1, (long)p, buf + sizeof buf - p);   /* write */
    sys3(93, 0, 0, 0);                              /* exit */
    for (;;)
        ;
}

__asm__(".globl _start\n_start:\n\tmv a0, sp\n\tcall cmain\n");
EOF
CFLAGS=(-O2 -static -nostdlib -ffreestanding -fno-stack-protector -Wl,--no-relax -Wl,--build-id=none -s)
riscv64-linux-gnu-gcc "${CFLAGS[@]}" -DMUL=3 -DADD=1 "-DTAG='A'" -o prog0 tiny.c ||
    fail "cross-compiling the tiny program failed"
riscv64-linux-gnu-gcc "${CFLAGS[@]}" -DMUL=5 -DADD=2 "-DTAG='B'" -o prog1 tiny.c ||
    fail "cross-compiling the tiny program failed"
[ "$(riscv64-linux-gnu-readelf -h prog0 | grep Entry)" = "$(riscv64-linux-gnu-readelf -h prog1 | grep Entry)" ] ||
    fail "the two tiny programs have different entry points"
cmp -s prog0 prog1 && fail "the two tiny programs are identical"

# The guest side: one worker.  stress.sh W SECONDS; iteration numbers of
# worker W start at W*100000.  Results the shell can compute are checked
# here ("BAD ..." lines); the rest goes to /tmp/stress-W.log for the host.
cat > stress.sh <<'EOF'
w=$1; secs=$2; base=$((w * 100000)); log=/tmp/stress-$w.log; : > $log
cs() { read u _ </proc/uptime; echo $((${u%.*} * 100 + 1${u#*.} - 100)); }
end=$(( $(cs) + secs * 100 )); n=0; bad=0
fail() { bad=$((bad + 1)); echo "BAD w$w i=$i $*"; }
while [ $(cs) -lt $end ]; do
  n=$((n + 1)); i=$((base + n))
  r=$(expr $i \* 7 + 3); [ "$r" = $((i * 7 + 3)) ] || fail "expr: '$r'"
  r=$(echo "k$i v" | sed -e 's/^k\([0-9]*\) v$/\1:ok/'); [ "$r" = "$i:ok" ] || fail "sed: '$r'"
  r=$(echo "$i 3" | awk '{ print $1 * $2 + 1 }'); [ "$r" = $((i * 3 + 1)) ] || fail "awk: '$r'"
  r=$(sh -c "seq $((i % 50)) $((i % 50 + 30)) | sort -rn | head -n 1"); [ "$r" = $((i % 50 + 30)) ] || fail "sort: '$r'"
  r=$(seq 1 $((i % 9 + 1)) | wc -l); [ "$r" = $((i % 9 + 1)) ] || fail "wc: '$r'"
  r=$(echo "data $i" | gzip -c | gzip -dc); [ "$r" = "data $i" ] || fail "gzip: '$r'"
  # both tiny programs, one after the other, each from a fresh copy at one path
  p=$((i % 2)); r=
  for k in $p $((1 - p)); do
    cp /tmp/prog$k /tmp/run-$w; r="$r $(/tmp/run-$w $i)" || fail "prog$k status $?"; rm -f /tmp/run-$w
  done
  echo "$i$r $(echo "x$i" | md5sum | cut -c1-32)" >> $log
done
echo "worker=$w iterations=$n bad=$bad"
EOF

# The three files reach the guest as a tar archive on a read-only disk (long
# console lines are not reliable on every peer's UART).
tar --owner=0 --group=0 --format=ustar -cf files.img prog0 prog1 stress.sh ||
    fail "tar failed on the host"
truncate -s 1M files.img

"$PY" - <<'PY'
import hashlib, os, re
import console
from console import Failure

SECONDS = int(os.environ.get("XENO_STRESS_SECONDS", "20"))


def collatz(n, mul, add):
    x, steps = n * mul + add, 0
    while x > 1 and steps < 100000:
        x = 3 * x + 1 if x & 1 else x // 2
        steps += 1
    return steps


PROGS = (("A", 3, 1), ("B", 5, 2))               # prog0, prog1: TAG, MUL, ADD


def prog_output(k, i):
    tag, mul, add = PROGS[k]
    return "%s:%d" % (tag, collatz(i, mul, add))


def expected_line(i):
    md5 = hashlib.md5(("x%d\n" % i).encode()).hexdigest()
    return "%d %s %s %s" % (i, prog_output(i % 2, i), prog_output(1 - i % 2, i), md5)


def test():
    vm = console.open_vm(["--vcpus", "2", "--disk", "file:%s,xvda,r" % os.path.abspath("files.img")],
                         log="console.log")
    b = vm.boot(timeout=console.BANNER_TIMEOUT * 2)
    if b["cpus"] != "2":
        raise Failure("banner says %s CPUs, want 2" % b["cpus"])
    vm.run("tar -xf /dev/vda -C /tmp")
    for name in ("prog0", "prog1", "stress.sh"):
        got = vm.run("sha256sum /tmp/%s" % name).split()[0]
        if got != hashlib.sha256(open(name, "rb").read()).hexdigest():
            raise Failure("/tmp/%s arrived damaged in the guest" % name)
    for k, i in ((0, 4), (1, 7)):                  # both programs work at all
        out = vm.run("/tmp/prog%d %d" % (k, i)).strip()
        if out != prog_output(k, i):
            raise Failure("tiny program: /tmp/prog%d %d printed %r, want %r"
                          % (k, i, out, prog_output(k, i)))
    out = vm.run("sh /tmp/stress.sh 1 %d > /tmp/w1.out 2>&1 & "
                 "sh /tmp/stress.sh 2 %d > /tmp/w2.out 2>&1 & wait; "
                 "cat /tmp/w1.out /tmp/w2.out" % (SECONDS, SECONDS), timeout=SECONDS + 240)
    # (kernel warnings such as "hrtimer: interrupt took" may interleave)
    bad = [l for l in out.splitlines()
           if l.startswith("BAD") or (l.startswith("worker=") and not l.endswith(" bad=0"))]
    if bad:
        raise Failure("wrong results in the guest:\n  " + "\n  ".join(bad[:20]))
    counts = dict(re.findall(r"worker=(\d) iterations=(\d+) bad=0", out))
    if sorted(counts) != ["1", "2"]:
        raise Failure("workers did not both finish: %r" % out[-500:])
    total = 0
    for w in ("1", "2"):
        n = int(counts[w])
        if n < 5:
            raise Failure("worker %s ran only %d iterations in %d s" % (w, n, SECONDS))
        log = vm.run("cat /tmp/stress-%s.log" % w, timeout=120).splitlines()
        want = [expected_line(int(w) * 100000 + k) for k in range(1, n + 1)]
        if len(log) != n:
            raise Failure("worker %s: %d log lines for %d iterations" % (w, len(log), n))
        for got, exp in zip(log, want):
            if got.strip() != exp:
                raise Failure("worker %s: wrong result: got %r, want %r" % (w, got.strip(), exp))
        total += n
    oops = vm.run("dmesg | grep -i -E 'unhandled signal|segfault|oops|bug:|illegal "
                  "instruction|kernel panic' || true").strip()
    if oops:
        raise Failure("kernel log shows crashes:\n" + oops[-1500:])
    vm.sendline("poweroff")
    rc = vm.wait(60)
    if rc != 0:
        raise Failure("exit status %s after poweroff" % rc)
    # 19 execs per iteration (busybox applets and the tiny programs).
    print("%d iterations in %d s on 2 vCPUs (workers: %s), about %d exec, all results right"
          % (total, SECONDS, ", ".join(counts[w] for w in ("1", "2")), total * 19))

console.main(test)
PY
