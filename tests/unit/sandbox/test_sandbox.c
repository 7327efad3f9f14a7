/* The VMM sandbox (src/vmm/sandbox*.c): each thread kind's seccomp filter,
 * loaded in a child process, lets through what that thread does and kills
 * on what it must not do (SIGSYS), arguments included; path writes fail
 * with EACCES; the empty root; the socket cleaner; and, as root with the
 * xeno user, the whole lockdown. Every check runs in a child: a filter
 * cannot be taken off again. */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/random.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>

#include <cmocka.h>

#include "../control/fake_machine.h"
#include "common/hostcaps.h"
#include "vmm/sandbox_priv.h"

/* A skip says why: only for a reason outside the project. */
#define skip_because(why) do { print_message("skipped: %s\n", why); skip(); } while (0)

/* ---- running code under a filter ---------------------------------------- */

typedef void (*child_fn)(void);

/* fn in a child under the filter of `kind` (KVM ioctls allowed if kvm).
 * The child exits 0 when fn returns; fn exits non-zero on a wrong result.
 * Returns the wait status. */
static int confined(enum sandbox_thread kind, bool kvm, child_fn fn)
{
    pid_t pid = fork();
    int st;

    assert_true(pid >= 0);
    if (pid == 0) {
        SandboxFilterOpts o = { .kvm = kvm, .pid = getpid() };
        SandboxFilter f;
        char err[256];

        if (sandbox_filter_build(kind, &o, &f, err, sizeof(err)) < 0)
            _exit(90);
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || sandbox_filter_load(&f) < 0)
            _exit(91);
        fn();
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return st;
}

static void expect_survives(enum sandbox_thread kind, bool kvm, child_fn fn, const char *what)
{
    int st = confined(kind, kvm, fn);

    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("%s under filter %d: %s %d", what, kind,
                 WIFEXITED(st) ? "exit status" : "killed by signal",
                 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

static void expect_killed(enum sandbox_thread kind, bool kvm, child_fn fn, const char *what)
{
    int st = confined(kind, kvm, fn);

    if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGSYS)
        fail_msg("%s under filter %d was not killed by SIGSYS (%s %d)", what, kind,
                 WIFEXITED(st) ? "exit status" : "signal",
                 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

#define CHECK(cond, code) do { if (!(cond)) _exit(code); } while (0)

/* ---- what every thread may do ------------------------------------------- */

static void *thread_body(void *arg)
{
    return arg;
}

static void base_calls(void)
{
    char b = 'x';
    struct timespec ts;
    void *m;

    m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED, 2);
    CHECK(mprotect(m, 4096, PROT_READ) == 0, 3);
    CHECK(madvise(m, 8192, MADV_DONTNEED) == 0, 4);
    CHECK(munmap(m, 8192) == 0, 5);
    CHECK(clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0, 6);
    CHECK(write(2, &b, 0) == 0, 7);
    CHECK(getrandom(&b, 1, 0) == 1, 8);
    CHECK(syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), 0) == 0, 9);  /* signal 0 to itself */
    free(malloc(1 << 20));
}

/* Paths: read-only opens work, writes fail with EACCES (not a kill). */
static void path_calls(void)
{
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

    CHECK(fd >= 0, 1);
    close(fd);
    CHECK(open("/tmp/xeno-sandbox-test", O_WRONLY | O_CREAT, 0600) < 0 && errno == EACCES, 2);
    CHECK(open("/dev/null", O_RDWR) < 0 && errno == EACCES, 3);
    CHECK(unlink("/tmp/xeno-sandbox-test-none") < 0 && errno == EACCES, 4);
    CHECK(rename("/tmp/a", "/tmp/b") < 0 && errno == EACCES, 5);
    CHECK(mkdir("/tmp/xeno-sandbox-test-dir", 0700) < 0 && errno == EACCES, 6);
}

static void thread_calls(void)
{
    pthread_t t;
    void *r;

    CHECK(pthread_create(&t, NULL, thread_body, (void *)1) == 0, 1);
    CHECK(pthread_join(t, &r) == 0 && r == (void *)1, 2);
}

static void slirp_calls(void)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), n = 0;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

    CHECK(s >= 0, 1);
    CHECK(bind(s, (struct sockaddr *)&a, sizeof(a)) == 0, 2);
    CHECK(ioctl(s, FIONREAD, &n) == 0, 3);
    close(s);
    s = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(s >= 0 || errno == EAFNOSUPPORT, 4);
    if (s >= 0)
        close(s);
}

static void test_allowed(void **state)
{
    for (int k = 0; k < SANDBOX_NTHREADS; k++) {
        expect_survives(k, false, base_calls, "memory, time, signals to itself");
        expect_survives(k, false, path_calls, "read-only opens; path writes");
    }
    expect_survives(SANDBOX_VCPU, false, thread_calls, "starting a thread");
    expect_survives(SANDBOX_MAIN, false, thread_calls, "starting a thread");
    expect_survives(SANDBOX_VCPU, false, slirp_calls, "slirp's sockets");
    expect_survives(SANDBOX_MAIN, false, slirp_calls, "slirp's sockets");
}

/* ---- what kills ---------------------------------------------------------- */

static void call_ptrace(void) { syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0); }
static void call_execve(void) { execl("/bin/true", "true", (char *)NULL); }
static void call_mount(void) { syscall(SYS_mount, "none", "/", "tmpfs", 0, NULL); }
static void call_mmap_exec(void)
{
    syscall(SYS_mmap, 0, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}
static void call_mprotect_exec(void)
{
    void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    syscall(SYS_mprotect, m, 4096, PROT_READ | PROT_EXEC);
}
static void call_socket_unix(void) { syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0); }
static void call_socket_netlink(void) { syscall(SYS_socket, AF_NETLINK, SOCK_RAW, 0); }
static void call_socket_inet(void) { syscall(SYS_socket, AF_INET, SOCK_STREAM, 0); }
static void call_socketpair(void) { int sv[2]; syscall(SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, sv); }
static void call_tiocsti(void) { syscall(SYS_ioctl, 0, TIOCSTI, "x"); }
static void call_tcsets(void) { struct termios t = { 0 }; syscall(SYS_ioctl, 0, TCSETS, &t); }
static void call_kvm_create_vm(void) { syscall(SYS_ioctl, 0, KVM_CREATE_VM, 0); }
static void call_kvm_create_vcpu(void) { syscall(SYS_ioctl, 0, KVM_CREATE_VCPU, 0); }
static void call_kvm_run(void) { syscall(SYS_ioctl, 0, KVM_RUN, 0); }
static void call_kvm_get_regs(void) { syscall(SYS_ioctl, -1, KVM_GET_REGS, 0); }
static void call_fork(void)
{
    if (syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0) == 0)
        _exit(0);
}
static void call_thread_clone(void) { thread_calls(); }
static void call_kill_other(void) { syscall(SYS_tgkill, getppid(), getppid(), 0); }
static void call_kill(void) { syscall(SYS_kill, getpid(), 0); }
static void call_accept(void) { syscall(SYS_accept4, -1, NULL, NULL, 0); }
static void call_seccomp(void) { syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 0, NULL); }
static void call_prctl_dumpable(void) { syscall(SYS_prctl, PR_SET_DUMPABLE, 1, 0, 0, 0); }
static void call_setuid(void) { syscall(SYS_setuid, 0); }
static void call_unshare(void) { syscall(SYS_unshare, CLONE_NEWUSER); }
static void call_memfd(void) { syscall(SYS_memfd_create, "x", 0); }
static void call_bpf(void) { syscall(SYS_bpf, 0, NULL, 0); }
/* getpid through the x32 ABI's numbers. */
static void call_x32(void) { syscall(0x40000000L | SYS_getpid); }
static void call_int80(void)
{
    /* getpid through the i386 ABI: a call from another ABI is killed too. */
    long r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(20) : "memory");
    (void)r;
}

/* int 0x80 works here at all (the kernel has the i386 ABI)? */
static bool has_int80(void)
{
    pid_t pid = fork();
    int st;

    if (pid == 0) {
        call_int80();
        _exit(0);
    }
    waitpid(pid, &st, 0);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static void test_other_abi(void **state)
{
    if (!has_int80())
        skip_because("this kernel has no i386 ABI to refuse");
    for (int k = 0; k < SANDBOX_NTHREADS; k++)
        expect_killed(k, false, call_int80, "getpid through int 0x80");
}

static void test_forbidden_everywhere(void **state)
{
    static const struct { child_fn fn; const char *what; } calls[] = {
        { call_ptrace, "ptrace" }, { call_execve, "execve" }, { call_mount, "mount" },
        { call_mmap_exec, "mmap PROT_EXEC" }, { call_mprotect_exec, "mprotect PROT_EXEC" },
        { call_socket_unix, "socket(AF_UNIX)" }, { call_socket_netlink, "socket(AF_NETLINK)" },
        { call_socketpair, "socketpair" }, { call_tiocsti, "ioctl TIOCSTI" },
        { call_kvm_create_vm, "KVM_CREATE_VM" }, { call_kvm_create_vcpu, "KVM_CREATE_VCPU" },
        { call_fork, "fork" }, { call_kill_other, "tgkill of another process" },
        { call_kill, "kill" }, { call_prctl_dumpable, "prctl(PR_SET_DUMPABLE)" },
        { call_setuid, "setuid" }, { call_unshare, "unshare" }, { call_memfd, "memfd_create" },
        { call_bpf, "bpf" }, { call_x32, "x32 getpid" },
    };

    for (int k = 0; k < SANDBOX_NTHREADS; k++)
        for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++)
            expect_killed(k, true, calls[i].fn, calls[i].what);
}

/* Each kind's own limits: what one thread does and another must not. */
static void test_forbidden_per_kind(void **state)
{
    /* KVM: only with the kvm engine; KVM_RUN only in the vCPU threads. */
    expect_killed(SANDBOX_VCPU, false, call_kvm_run, "KVM_RUN with the emu engine");
    expect_killed(SANDBOX_VCPU, false, call_kvm_get_regs, "KVM_GET_REGS with the emu engine");
    expect_survives(SANDBOX_VCPU, true, call_kvm_run, "KVM_RUN (EBADF) in a vCPU thread");
    expect_killed(SANDBOX_MAIN, true, call_kvm_run, "KVM_RUN in the main thread");
    expect_killed(SANDBOX_MIGRATION, true, call_kvm_run, "KVM_RUN in the migration thread");
    expect_survives(SANDBOX_MIGRATION, true, call_kvm_get_regs, "KVM_GET_REGS (EBADF)");
    /* The terminal is the main thread's. */
    expect_survives(SANDBOX_MAIN, false, call_tcsets, "TCSETS (ENOTTY)");
    expect_killed(SANDBOX_VCPU, false, call_tcsets, "TCSETS in a vCPU thread");
    /* The migration thread makes no connections and no threads. */
    expect_killed(SANDBOX_MIGRATION, false, call_socket_inet, "socket in the migration thread");
    expect_killed(SANDBOX_MIGRATION, false, call_accept, "accept in the migration thread");
    expect_killed(SANDBOX_MIGRATION, false, call_thread_clone, "a thread from the migration thread");
    /* Only the main thread starts a thread that confines itself. */
    expect_killed(SANDBOX_VCPU, false, call_seccomp, "seccomp in a vCPU thread");
    expect_killed(SANDBOX_MAIN, false, call_seccomp, "seccomp strict mode in the main thread");
}

/* XENO_SANDBOX=log: the forbidden call is logged and goes through. */
static void test_log_only(void **state)
{
    pid_t pid = fork();
    int st;

    if (pid == 0) {
        SandboxFilterOpts o = { .log_only = true, .pid = getpid() };
        SandboxFilter f;
        char err[256];

        if (sandbox_filter_build(SANDBOX_VCPU, &o, &f, err, sizeof(err)) < 0 ||
            prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || sandbox_filter_load(&f) < 0)
            _exit(90);
        call_socketpair();
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* ---- the empty root ------------------------------------------------------ */

/* dir holds no entry but `name` (which may be missing). */
static bool only_entries(const char *dir, const char *name)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    bool ok = d != NULL;

    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, name))
            ok = false;
    if (d)
        closedir(d);
    return ok;
}

static void test_empty_root(void **state)
{
    bool host_resolv = access("/etc/resolv.conf", R_OK) == 0;
    pid_t pid;
    int st;

    if (geteuid() != 0)
        skip_because("mount namespaces need root");
    pid = fork();
    if (pid == 0) {
        char err[256];
        struct stat s;

        if (sandbox_unshare() < 0)
            _exit(77);         /* the host forbids mount namespaces */
        if (sandbox_enter_empty_root(err, sizeof(err)) < 0)
            _exit(1);
        /* Nothing but /etc (with resolv.conf), read-only: no /proc, no /dev. */
        CHECK(stat("/proc/self", &s) < 0 && stat("/dev/null", &s) < 0, 2);
        CHECK(only_entries("/", "etc"), 3);
        CHECK(only_entries("/etc", "resolv.conf"), 4);
        CHECK(mkdir("/x", 0700) < 0 && errno == EROFS, 5);
        /* libslirp's copy of the host's DNS servers. */
        CHECK(access("/etc/resolv.conf", R_OK) == (host_resolv ? 0 : -1), 6);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 77)
        skip_because("the host forbids mount namespaces");
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("empty root: check %d failed", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

/* ---- the socket cleaner -------------------------------------------------- */

static int listen_at(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 1), 0);
    return fd;
}

static bool gone_within(const char *path, int ms)
{
    struct stat st;

    for (int i = 0; i < ms / 10; i++) {
        if (lstat(path, &st) < 0)
            return true;
        usleep(10000);
    }
    return false;
}

/* A "VMM" child listens at ctl and ctl.console, starts the cleaner and
 * exits: both sockets go. A socket someone else still listens on stays. */
static void test_cleaner(void **state)
{
    char dir[] = "/tmp/xeno-cleaner.XXXXXX", ctl[128], con[160], other[128];
    pid_t vmm;
    int st, keep;

    assert_non_null(mkdtemp(dir));
    snprintf(ctl, sizeof(ctl), "%s/ctl.sock", dir);
    snprintf(con, sizeof(con), "%s/ctl.sock.console", dir);
    vmm = fork();
    if (vmm == 0) {
        char err[256];
        listen_at(ctl);
        listen_at(con);
        _exit(sandbox_cleaner_start(ctl, err, sizeof(err)) < 0 ? 1 : 0);
    }
    assert_int_equal(waitpid(vmm, &st, 0), vmm);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_true(gone_within(ctl, 5000));
    assert_true(gone_within(con, 5000));

    /* A new listener took the path before the old VMM ended: it stays. */
    snprintf(other, sizeof(other), "%s/b.sock", dir);
    keep = listen_at(other);
    vmm = fork();
    if (vmm == 0) {
        char err[256];
        _exit(sandbox_cleaner_start(other, err, sizeof(err)) < 0 ? 1 : 0);
    }
    assert_int_equal(waitpid(vmm, &st, 0), vmm);
    assert_false(gone_within(other, 500));
    close(keep);
    unlink(other);
    rmdir(dir);
}

/* ---- the whole lockdown -------------------------------------------------- */

static void test_lockdown(void **state)
{
    pid_t pid;
    int st;

    if (geteuid() != 0 || !getpwnam(HOSTCAPS_SANDBOX_USER))
        skip_because("needs root and the xeno user (scripts/deps.sh creates it)");
    pid = fork();
    if (pid == 0) {
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct d[2];
        uid_t uid = getpwnam(HOSTCAPS_SANDBOX_USER)->pw_uid;
        Machine m;

        unsetenv("XENO_SANDBOX");
        CHECK(fake_machine_init(&m, false) == 0, 1);
        CHECK(sandbox_init(NULL) == 0, 2);
#if defined(__SANITIZE_ADDRESS__)
        /* By design: no sandbox in a sanitizer build. */
        CHECK(!sandbox_active(), 3);
        _exit(0);
#endif
        CHECK(sandbox_active(), 3);
        CHECK(sandbox_lockdown(&m) == 0, 4);
        CHECK(getuid() == uid && geteuid() == uid && getgid() != 0 && getegid() != 0, 5);
        CHECK(getgroups(0, NULL) == 0, 6);
        CHECK(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1, 7);
        CHECK(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0, 8);
        CHECK(syscall(SYS_capget, &h, d) == 0 && !d[0].effective && !d[0].permitted &&
              !d[1].effective && !d[1].permitted, 9);
        CHECK(prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0) == 0, 10);
        CHECK(m.confine_thread != NULL, 11);
        CHECK(sandbox_confine_main() == 0, 12);
        call_ptrace();          /* must not come back */
        _exit(13);
    }
    assert_int_equal(waitpid(pid, &st, 0), pid);
#if defined(__SANITIZE_ADDRESS__)
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
#else
    if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGSYS)
        fail_msg("lockdown: %s %d", WIFEXITED(st) ? "check failed" : "signal",
                 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allowed),
        cmocka_unit_test(test_forbidden_everywhere),
        cmocka_unit_test(test_forbidden_per_kind),
        cmocka_unit_test(test_other_abi),
        cmocka_unit_test(test_log_only),
        cmocka_unit_test(test_empty_root),
        cmocka_unit_test(test_cleaner),
        cmocka_unit_test(test_lockdown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
