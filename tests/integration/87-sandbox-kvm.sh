#!/usr/bin/env bash
# The VMM sandbox (docs/sandbox.md) with the kvm engine: the counting x86-64
# test guest on 2 vCPUs keeps counting under the lockdown (KVM_RUN and the
# run-time KVM ioctls pass the vCPU filter), pause and resume work (the
# main thread's KVM ioctls), every thread is confined as with emu; and the
# test build's hidden trigger shows what the filters refuse: a KVM ioctl
# that creates something (KVM_CREATE_VM) from a vCPU thread, and KVM_RUN
# from the main thread, each kill the VMM (SIGSYS).
. "$(dirname "$0")/lib/common.sh"
. "$LIB/kvm.sh"
TEST_VMM=${XENO_SANDBOX_TEST_VMM:-$(dirname "$XENO_VMM")/xeno-vmm-sandbox-test}
[ -x "$TEST_VMM" ] || fail "the sandbox test build is not there: $TEST_VMM"
cd "$WORK"

"$PY" - "$XENO_VMM" "$TEST_VMM" "$GUESTS/xtest.elf" <<'PY'
import json, os, re, select, socket, subprocess, sys, time

vmm, test_vmm, kernel = sys.argv[1:4]
COUNT = re.compile(rb"xtest: count (\d+)")
ARGS = ["--engine", "kvm", "--kernel", kernel, "--memory", "64", "--vcpus", "2",
        "--cmdline", "console=ttyS0 xtest.count=100"]


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def status(p):
    return dict(l.split(":", 1) for l in open(p).read().splitlines() if ":" in l)


class Vm:
    def __init__(self, binary, env=None):
        self.ctl_path = os.path.abspath("k%d.sock" % id(self))
        self.p = subprocess.Popen([binary] + ARGS + ["--control", self.ctl_path],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=env)
        self.out = b""

    def pump(self, secs):
        end = time.monotonic() + secs
        while time.monotonic() < end and self.p.poll() is None:
            r, _, _ = select.select([self.p.stdout], [], [], 0.05)
            if r:
                self.out += os.read(self.p.stdout.fileno(), 65536)

    def count(self):
        c = COUNT.findall(self.out)
        return int(c[-1]) if c else 0

    def cmd(self, name):
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.ctl_path)
        s.sendall((json.dumps({"id": 1, "cmd": name}) + "\n").encode())
        buf = b""
        while b'"id":1' not in buf:
            r, _, _ = select.select([s, self.p.stdout], [], [], 10)
            if self.p.stdout in r:
                self.out += os.read(self.p.stdout.fileno(), 65536)
            if s in r:
                d = s.recv(4096)
                if not d:
                    fail("%s: the control socket closed" % name)
                buf += d
        s.close()
        if b'"ok":true' not in buf:
            fail("%s: %s" % (name, buf))

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()


vm = Vm(vmm)
try:
    vm.pump(3)
    if vm.count() < 5:
        fail("the guest does not count under the sandbox: %r %r" % (vm.out[-300:], vm.p.stderr))
    vcpus = 0
    for tid in os.listdir("/proc/%d/task" % vm.p.pid):
        base = "/proc/%d/task/%s/" % (vm.p.pid, tid)
        st = status(base + "status")
        comm = open(base + "comm").read().strip()
        vcpus += comm == "xeno-vcpu"
        if st["Seccomp"].strip() != "2" or st["NoNewPrivs"].strip() != "1" or \
                int(st["CapEff"], 16) or "0" in st["Uid"].split():
            fail("thread %s (%s) not confined: Seccomp %s NoNewPrivs %s CapEff %s Uid %s"
                 % (tid, comm, st["Seccomp"], st["NoNewPrivs"], st["CapEff"], st["Uid"]))
    if vcpus != 2:
        fail("%d xeno-vcpu threads, want 2" % vcpus)
    vm.cmd("pause")
    n = vm.count()
    vm.pump(1)
    if vm.count() > n + 1:
        fail("counted on while paused: %d -> %d" % (n, vm.count()))
    vm.cmd("resume")
    vm.pump(2)
    if vm.count() < n + 5:
        fail("no counting after resume: %d -> %d" % (n, vm.count()))
    vm.cmd("destroy")
    if vm.p.wait(20) != 4:
        fail("destroy: exit status %s" % vm.p.returncode)
    print("kvm guest counts sandboxed to %d, pause/resume ok, 2 confined vCPU threads" % vm.count())
finally:
    vm.kill()

for trigger in ("kvm-create-vm@vcpu+1000", "kvm-run@main+1000"):
    vm = Vm(test_vmm, dict(os.environ, XENO_SANDBOX_TEST=trigger))
    try:
        rc = vm.p.wait(30)
    except subprocess.TimeoutExpired:
        vm.kill()
        fail("%s: the VMM was not killed" % trigger)
    if rc != -31:
        fail("%s: exit status %s, want death by SIGSYS (%s)" % (trigger, rc, vm.p.stderr.read()))
    print("%s: killed by SIGSYS" % trigger)
print("PASS")
PY
