/* The seccomp filters of the VMM's threads (sandbox.h), built with
 * libseccomp and compiled to BPF ahead of time.
 *
 * Every thread kind starts from the same base (memory, locks, time,
 * reading and writing descriptors it already has, ending) and adds what
 * it does:
 *   vCPU      device emulation runs here: disk I/O, TAP writes, libslirp
 *             (a guest's TX opens host connections), KVM_RUN;
 *   main      the I/O loop and the control socket: libslirp, accepting
 *             control clients (and descriptors they pass), the terminal,
 *             starting the migration thread (which then confines itself);
 *   migration sends the stream on a descriptor it was given.
 * Anything else kills the process. Arguments are checked where a call is
 * only safe with some of them: no PROT_EXEC (the JIT's code pages were
 * mapped before: codemem.h), sockets only AF_INET/AF_INET6 (no UNIX,
 * netlink or packet sockets), clone only for threads, signals only to this
 * process, ioctl only with the requests the VMM makes at run time (KVM's
 * run-time requests with the kvm engine, none that creates a VM or vCPU,
 * and a few terminal and socket ones). */
#include "sandbox_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>
#include <linux/seccomp.h>

#include "common/util.h"

/* Rules are added in bulk; the first failure is kept and reported once. */
typedef struct Rules {
    scmp_filter_ctx ctx;
    int err;
    const char *what;
} Rules;

static void rule(Rules *r, uint32_t action, int nr, const char *what, unsigned n,
                 const struct scmp_arg_cmp *args)
{
    int e;

    if (r->err)
        return;
    e = seccomp_rule_add_array(r->ctx, action, nr, n, args);
    if (e < 0) {
        r->err = e;
        r->what = what;
    }
}

#define ALLOW(r, name) rule(r, SCMP_ACT_ALLOW, SCMP_SYS(name), #name, 0, NULL)
#define ALLOW_IF(r, name, ...) \
    rule(r, SCMP_ACT_ALLOW, SCMP_SYS(name), #name, \
         sizeof((struct scmp_arg_cmp[]){ __VA_ARGS__ }) / sizeof(struct scmp_arg_cmp), \
         (struct scmp_arg_cmp[]){ __VA_ARGS__ })
#define REFUSE(r, name, err) rule(r, SCMP_ACT_ERRNO(err), SCMP_SYS(name), #name, 0, NULL)
#define REFUSE_IF(r, name, err, ...) \
    rule(r, SCMP_ACT_ERRNO(err), SCMP_SYS(name), #name, \
         sizeof((struct scmp_arg_cmp[]){ __VA_ARGS__ }) / sizeof(struct scmp_arg_cmp), \
         (struct scmp_arg_cmp[]){ __VA_ARGS__ })

/* Argument checks, spelled out in full (libseccomp's SCMP_A0() leaves a
 * field to the compiler's zeroing, which clang warns about). */
#define ARG_EQ(n, v) \
    ((struct scmp_arg_cmp){ .arg = (n), .op = SCMP_CMP_EQ, .datum_a = (scmp_datum_t)(v) })
#define ARG_MASKED(n, mask, v) \
    ((struct scmp_arg_cmp){ .arg = (n), .op = SCMP_CMP_MASKED_EQ, \
                            .datum_a = (scmp_datum_t)(mask), .datum_b = (scmp_datum_t)(v) })

/* ioctl's request is an unsigned int to the kernel: compare 32 bits. */
static void allow_ioctls(Rules *r, const unsigned long *req, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ALLOW_IF(r, ioctl, ARG_MASKED(1, 0xffffffffu, req[i]));
}

/* ---- what every thread does ------------------------------------------ */

static void allow_memory(Rules *r)
{
    /* Never new executable memory: the JIT mapped its code pages early. */
    ALLOW_IF(r, mmap, ARG_MASKED(2, PROT_EXEC, 0));
    ALLOW_IF(r, mprotect, ARG_MASKED(2, PROT_EXEC, 0));
    ALLOW(r, munmap);
    ALLOW(r, mremap);
    ALLOW(r, madvise);             /* the balloon gives pages back; malloc trims */
    ALLOW(r, brk);
    /* Which guest pages were never touched (gmem_untouched), and whether
     * the host has swap, which would make that answer wrong. */
    ALLOW(r, mincore);
    ALLOW(r, sysinfo);
}

static void allow_sync_and_time(Rules *r, pid_t pid)
{
    ALLOW(r, futex);
    ALLOW(r, sched_yield);
    ALLOW(r, sched_getaffinity);   /* how many CPUs (glibc, the sanitizers' threads) */
    ALLOW(r, clock_gettime);       /* the thread CPU clocks are not in the vDSO */
    ALLOW(r, clock_getres);
    ALLOW(r, gettimeofday);
    ALLOW(r, nanosleep);
    ALLOW(r, clock_nanosleep);
    ALLOW(r, getpid);
    ALLOW(r, gettid);
    ALLOW(r, getrandom);           /* virtio-rng, random MACs and ids */
    ALLOW(r, rt_sigprocmask);
    ALLOW(r, rt_sigreturn);
    ALLOW(r, rt_sigaction);        /* the kvm engine's kick signal at start */
    ALLOW(r, sigaltstack);
    ALLOW(r, restart_syscall);
    /* Signals to this process's own threads only (vCPU kicks, raise). */
    ALLOW_IF(r, tgkill, ARG_EQ(0, (scmp_datum_t)pid));
    ALLOW(r, set_robust_list);     /* a new thread's first calls */
    ALLOW(r, rseq);
    ALLOW(r, exit);
    ALLOW(r, exit_group);
}

/* Descriptors the thread already has: console, disks, sockets, pipes. */
static void allow_fd_io(Rules *r)
{
    static const int fcntl_cmds[] = {
        F_GETFD, F_SETFD, F_GETFL, F_SETFL,
        F_OFD_SETLK, F_OFD_GETLK,  /* disk image locks (migration's hand-over) */
    };

    ALLOW(r, read);
    ALLOW(r, write);
    ALLOW(r, readv);
    ALLOW(r, writev);
    ALLOW(r, pread64);
    ALLOW(r, pwrite64);
    ALLOW(r, preadv);
    ALLOW(r, pwritev);
    ALLOW(r, preadv2);
    ALLOW(r, pwritev2);
    ALLOW(r, lseek);
    ALLOW(r, close);
    ALLOW(r, fstat);
    ALLOW(r, newfstatat);          /* glibc's fstat; stat of the empty root */
    ALLOW(r, fsync);
    ALLOW(r, fdatasync);
    ALLOW(r, fallocate);           /* discard */
    ALLOW(r, ftruncate);           /* a save file's memory images (sparse) */
    ALLOW(r, poll);
    ALLOW(r, ppoll);
    for (size_t i = 0; i < ARRAY_SIZE(fcntl_cmds); i++)
        ALLOW_IF(r, fcntl, ARG_EQ(1, (scmp_datum_t)fcntl_cmds[i]));
}

/* Paths: reading is harmless (the root is empty but for resolv.conf, which
 * libslirp rereads when it changes; without the mount namespace the
 * unprivileged user sees what any user sees). Changing anything is refused
 * with EACCES rather than killed: the socket cleanup on the way out tries
 * unlink, and a save to a path the VMM cannot reach is an error message. */
static void paths_read_only(Rules *r)
{
    const scmp_datum_t writes = O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | (O_TMPFILE & ~O_DIRECTORY);

    ALLOW_IF(r, openat, ARG_MASKED(2, writes, 0));
    REFUSE_IF(r, openat, EACCES, ARG_MASKED(2, O_WRONLY, O_WRONLY));
    REFUSE_IF(r, openat, EACCES, ARG_MASKED(2, O_RDWR, O_RDWR));
    REFUSE_IF(r, openat, EACCES, ARG_MASKED(2, O_CREAT, O_CREAT));
    REFUSE_IF(r, openat, EACCES, ARG_MASKED(2, O_TRUNC, O_TRUNC));
    REFUSE_IF(r, openat, EACCES, ARG_MASKED(2, O_TMPFILE & ~O_DIRECTORY,
                                         O_TMPFILE & ~O_DIRECTORY));
    REFUSE(r, open, EACCES);
    REFUSE(r, creat, EACCES);
    REFUSE(r, unlink, EACCES);
    REFUSE(r, unlinkat, EACCES);
    REFUSE(r, rename, EACCES);
    REFUSE(r, renameat, EACCES);
    REFUSE(r, renameat2, EACCES);
    REFUSE(r, mkdir, EACCES);
    REFUSE(r, mkdirat, EACCES);
    REFUSE(r, rmdir, EACCES);
}

static void allow_base(Rules *r, pid_t pid)
{
    allow_memory(r);
    allow_sync_and_time(r, pid);
    allow_fd_io(r);
    paths_read_only(r);
}

/* ---- what some threads do --------------------------------------------- */

/* libslirp: a guest's packets open, use and close host sockets (TCP and
 * UDP connections, ICMP echo); hostfwd sockets were bound before. */
static void allow_slirp(Rules *r)
{
    static const unsigned long req[] = { FIONREAD, FIONBIO };

    ALLOW_IF(r, socket, ARG_EQ(0, AF_INET));
    ALLOW_IF(r, socket, ARG_EQ(0, AF_INET6));
    ALLOW(r, connect);
    ALLOW(r, bind);
    ALLOW(r, listen);
    ALLOW(r, accept);
    ALLOW(r, accept4);
    ALLOW(r, getsockname);
    ALLOW(r, getpeername);
    ALLOW(r, setsockopt);
    ALLOW(r, getsockopt);
    ALLOW(r, shutdown);
    ALLOW(r, sendto);
    ALLOW(r, sendmsg);
    ALLOW(r, recvfrom);
    ALLOW(r, recvmsg);
    allow_ioctls(r, req, ARRAY_SIZE(req));
}

/* Threads (never processes): clone3's flags are out of a filter's reach,
 * so it fails with ENOSYS and glibc falls back to clone. */
static void allow_threads(Rules *r)
{
    const scmp_datum_t thread = CLONE_VM | CLONE_THREAD;

    ALLOW_IF(r, clone, ARG_MASKED(0, thread, thread));
    REFUSE(r, clone3, ENOSYS);
}

/* KVM at run time: the vCPU and VM state (pause, save, migration), the
 * dirty log, interrupt lines. Not: creating a VM, a vCPU or an irqchip,
 * CPUID or memory-map setup, ioeventfds and irqfds (all done before). */
static void allow_kvm(Rules *r, bool run)
{
    static const unsigned long req[] = {
        KVM_CHECK_EXTENSION,
        KVM_GET_REGS, KVM_SET_REGS, KVM_GET_SREGS, KVM_SET_SREGS,
        KVM_GET_SREGS2, KVM_SET_SREGS2, KVM_GET_MSRS, KVM_SET_MSRS,
        KVM_GET_FPU, KVM_SET_FPU, KVM_GET_XSAVE, KVM_SET_XSAVE, KVM_GET_XSAVE2,
        KVM_GET_XCRS, KVM_SET_XCRS, KVM_GET_LAPIC, KVM_SET_LAPIC,
        KVM_GET_MP_STATE, KVM_SET_MP_STATE, KVM_GET_VCPU_EVENTS, KVM_SET_VCPU_EVENTS,
        KVM_GET_DEBUGREGS, KVM_SET_DEBUGREGS, KVM_GET_TSC_KHZ, KVM_SET_TSC_KHZ,
        KVM_GET_CPUID2, KVM_KVMCLOCK_CTRL, KVM_GET_CLOCK, KVM_SET_CLOCK,
        KVM_GET_IRQCHIP, KVM_SET_IRQCHIP, KVM_GET_PIT2, KVM_SET_PIT2,
        KVM_IRQ_LINE, KVM_IRQ_LINE_STATUS,
        KVM_GET_DIRTY_LOG, KVM_SET_USER_MEMORY_REGION,
    };
    static const unsigned long run_req[] = { KVM_RUN };

    allow_ioctls(r, req, ARRAY_SIZE(req));
    if (run) {
        allow_ioctls(r, run_req, ARRAY_SIZE(run_req));
        /* A throttled vCPU's timer, which signals that thread only
         * (SIGEV_THREAD_ID; vcpu.c). */
        ALLOW(r, timer_create);
        ALLOW(r, timer_settime);
        ALLOW(r, timer_delete);
    }
}

/* The console on a terminal: raw mode back to normal on the way out. */
static void allow_terminal(Rules *r)
{
    static const unsigned long req[] = { TCGETS, TCSETS, TCSETSW, TCSETSF, TIOCGWINSZ };

    allow_ioctls(r, req, ARRAY_SIZE(req));
}

/* The main thread starts the migration thread, which loads its own filter
 * (only a filter: flags 0, no TSYNC, no listener). */
static void allow_confining(Rules *r)
{
    ALLOW_IF(r, seccomp, ARG_EQ(0, SECCOMP_SET_MODE_FILTER),
             ARG_EQ(1, 0));
    ALLOW_IF(r, prctl, ARG_EQ(0, PR_SET_NAME));
}

static void add_kind(Rules *r, enum sandbox_thread kind, const SandboxFilterOpts *o)
{
    allow_base(r, o->pid);
    switch (kind) {
    case SANDBOX_VCPU:
        allow_slirp(r);
        /* The vCPU threads inherit this filter from the thread that starts
         * them, which must create them (sandbox_start_vcpus). */
        allow_threads(r);
        if (o->kvm)
            allow_kvm(r, true);
        break;
    case SANDBOX_MAIN:
        allow_slirp(r);
        allow_threads(r);
        allow_terminal(r);
        allow_confining(r);
        if (o->kvm)
            allow_kvm(r, false);
        break;
    case SANDBOX_MIGRATION:
        ALLOW(r, sendto);
        ALLOW(r, sendmsg);
        ALLOW(r, recvfrom);
        ALLOW(r, recvmsg);
        ALLOW(r, setsockopt);
        ALLOW(r, shutdown);
        if (o->kvm)
            allow_kvm(r, false);
        break;
    default:
        break;
    }
}

/* ---- compiling and loading -------------------------------------------- */

/* The BPF program of ctx, in memory (libseccomp 2.5 exports to a file
 * descriptor only). */
static int export_bpf(scmp_filter_ctx ctx, SandboxFilter *f, char *err, size_t errlen)
{
    int fd = memfd_create("xeno-seccomp", MFD_CLOEXEC), e;
    off_t size;

    if (fd < 0) {
        snprintf(err, errlen, "seccomp: memfd: %s", strerror(errno));
        return -1;
    }
    e = seccomp_export_bpf(ctx, fd);
    size = e < 0 ? -1 : lseek(fd, 0, SEEK_END);
    if (e < 0 || size <= 0 || size % sizeof(struct sock_filter) ||
        size / sizeof(struct sock_filter) > BPF_MAXINSNS) {
        snprintf(err, errlen, "seccomp: cannot compile the filter (%s)",
                 e < 0 ? strerror(-e) : "bad size");
        close(fd);
        return -1;
    }
    f->prog.len = (unsigned short)(size / sizeof(struct sock_filter));
    f->prog.filter = malloc((size_t)size);
    if (!f->prog.filter || pread(fd, f->prog.filter, (size_t)size, 0) != size) {
        snprintf(err, errlen, "seccomp: cannot read the compiled filter");
        free(f->prog.filter);
        f->prog.filter = NULL;
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

static scmp_filter_ctx new_ctx(bool log_only)
{
    scmp_filter_ctx ctx = seccomp_init(log_only ? SCMP_ACT_LOG : SCMP_ACT_KILL_PROCESS);

    if (!ctx)
        return NULL;
    /* A call through another ABI (int 0x80, x32) is not what we allowed. */
    if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) < 0 ||
        /* A binary tree: KVM_RUN and futex are on the vCPUs' hot path. */
        seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2) < 0) {
        seccomp_release(ctx);
        return NULL;
    }
    return ctx;
}

static int finish(Rules *r, SandboxFilter *f, char *err, size_t errlen)
{
    int ret = -1;

    if (r->err)
        snprintf(err, errlen, "seccomp: rule for %s: %s", r->what, strerror(-r->err));
    else
        ret = export_bpf(r->ctx, f, err, errlen);
    seccomp_release(r->ctx);
    return ret;
}

int sandbox_filter_build(enum sandbox_thread kind, const SandboxFilterOpts *o,
                         SandboxFilter *f, char *err, size_t errlen)
{
    Rules r = { .ctx = new_ctx(o->log_only) };

    memset(f, 0, sizeof(*f));
    if (!r.ctx) {
        snprintf(err, errlen, "seccomp: cannot set up a filter");
        return -1;
    }
    add_kind(&r, kind, o);
    return finish(&r, f, err, errlen);
}

int sandbox_filter_build_cleaner(SandboxFilter *f, char *err, size_t errlen)
{
    Rules r = { .ctx = new_ctx(false) };

    memset(f, 0, sizeof(*f));
    if (!r.ctx) {
        snprintf(err, errlen, "seccomp: cannot set up a filter");
        return -1;
    }
    ALLOW(&r, poll);
    ALLOW(&r, ppoll);
    ALLOW(&r, newfstatat);
    ALLOW_IF(&r, socket, ARG_EQ(0, AF_UNIX));
    ALLOW(&r, connect);
    ALLOW(&r, close);
    ALLOW(&r, unlink);
    ALLOW(&r, write);              /* stderr (/dev/null) */
    ALLOW(&r, rt_sigreturn);
    ALLOW(&r, restart_syscall);
    ALLOW(&r, exit_group);
    return finish(&r, f, err, errlen);
}

void sandbox_filter_free(SandboxFilter *f)
{
    free(f->prog.filter);
    f->prog.filter = NULL;
    f->prog.len = 0;
}

int sandbox_filter_load(const SandboxFilter *f)
{
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &f->prog) < 0)
        return -errno;
    return 0;
}
