/* The hidden trigger of xeno-vmm-sandbox-test (see sandbox_priv.h): the
 * proof, for tests/integration/8x-sandbox*.sh, that a forbidden call
 * really kills the VMM. Only this test binary links this file.
 *
 * XENO_SANDBOX_TEST=CALL@THREAD[+MS]
 *   CALL    ptrace       a call no filter allows
 *           mmap-exec    an allowed call with a forbidden argument (PROT_EXEC)
 *           socket-unix  socket(AF_UNIX): only AF_INET/AF_INET6 are allowed
 *           ioctl-tiocsti  a terminal ioctl no filter allows
 *           fork         clone without CLONE_THREAD
 *           kvm-create-vm  a KVM ioctl made before the lockdown only
 *           kvm-run      KVM_RUN (only the vCPU threads may)
 *   THREAD  vcpu, main or migration
 *   MS      delay after the thread kind was confined (vcpu, main)
 * The vcpu and main calls come from a thread started under that kind's
 * filter (it inherits exactly that filter), so the VMM runs on meanwhile;
 * the migration call comes from the migration thread itself. A call that
 * returns is reported and the VMM exits with status 70. */
#include "sandbox_priv.h"

#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

static const char *const kind_name[SANDBOX_NTHREADS] = { "vcpu", "main", "migration" };

typedef struct Trigger {
    enum sandbox_thread kind;
    char call[32];
    unsigned delay_ms;
} Trigger;

/* The trigger for kind, from the environment. */
static bool parse(enum sandbox_thread kind, Trigger *t)
{
    const char *v = getenv("XENO_SANDBOX_TEST"), *at, *plus;
    size_t n;

    if (!v || !(at = strchr(v, '@')) || (size_t)(at - v) >= sizeof(t->call))
        return false;
    plus = strchr(at, '+');
    n = plus ? (size_t)(plus - at - 1) : strlen(at + 1);
    if (n != strlen(kind_name[kind]) || strncmp(at + 1, kind_name[kind], n))
        return false;
    t->kind = kind;
    memcpy(t->call, v, (size_t)(at - v));
    t->call[at - v] = '\0';
    t->delay_ms = plus ? (unsigned)strtoul(plus + 1, NULL, 10) : 0;
    return true;
}

static long forbidden_call(const char *call)
{
    if (!strcmp(call, "ptrace"))
        return syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0);
    if (!strcmp(call, "mmap-exec"))
        return (long)syscall(SYS_mmap, 0, 4096, PROT_READ | PROT_EXEC,
                             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (!strcmp(call, "socket-unix"))
        return syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
    if (!strcmp(call, "ioctl-tiocsti"))
        return syscall(SYS_ioctl, 0, TIOCSTI, "x");
    /* The filter looks at the request, not at the descriptor (-1 here). */
    if (!strcmp(call, "kvm-create-vm"))
        return syscall(SYS_ioctl, -1, KVM_CREATE_VM, 0);
    if (!strcmp(call, "kvm-run"))
        return syscall(SYS_ioctl, -1, KVM_RUN, 0);
    if (!strcmp(call, "fork")) {
        long r = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
        if (r == 0)
            _exit(0);
        return r;
    }
    log_err("XENO_SANDBOX_TEST: unknown call '%s'", call);
    _exit(70);
}

static void run(const Trigger *t)
{
    struct timespec ts = { .tv_sec = t->delay_ms / 1000,
                           .tv_nsec = (long)(t->delay_ms % 1000) * 1000000 };
    long r;

    nanosleep(&ts, NULL);
    r = forbidden_call(t->call);
    log_err("XENO_SANDBOX_TEST: %s in the %s thread was allowed (returned %ld, %s)",
            t->call, kind_name[t->kind], r, r < 0 ? strerror(errno) : "no error");
    _exit(70);
}

static void *trigger_thread(void *arg)
{
    run(arg);
    return NULL;
}

void sandbox_test_trigger(enum sandbox_thread kind)
{
    static Trigger t;
    pthread_t th;

    if (!parse(kind, &t))
        return;
    if (kind == SANDBOX_MIGRATION)
        run(&t);
    if (pthread_create(&th, NULL, trigger_thread, &t) != 0) {
        log_err("XENO_SANDBOX_TEST: cannot start the trigger thread");
        _exit(70);
    }
    pthread_detach(th);
}
