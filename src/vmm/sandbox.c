/* The VMM sandbox: the order of things, and the credentials (sandbox.h). */
#include "sandbox_priv.h"

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>

#include "common/hostcaps.h"
#include "common/log.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZER_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define SANITIZER_BUILD 1
#endif
#endif

/* The process has one sandbox: the migration thread finds its filter here. */
static struct {
    bool on;                   /* sandbox_init decided to lock down */
    bool log_only;             /* XENO_SANDBOX=log */
    bool change_user;          /* started as root: become the sandbox user */
    uid_t uid;
    gid_t gid;
    bool namespaces;           /* own mount and IPC namespaces */
    bool locked;               /* sandbox_lockdown done */
    SandboxFilter filter[SANDBOX_NTHREADS];
} sb;

bool sandbox_active(void)
{
    return sb.on;
}

/* ---- sandbox_init ------------------------------------------------------ */

/* Off: say so, once, on stderr. */
static bool decide_on(void)
{
    const char *v = getenv("XENO_SANDBOX");

    if (!hostcaps_sandbox_enabled()) {
        log_warn("the sandbox is off (XENO_SANDBOX=%s): this VMM keeps every privilege it "
                 "was started with; do not run untrusted guests like this", v);
        return false;
    }
#ifdef SANITIZER_BUILD
    log_warn("the sandbox is off in a sanitizer build (the sanitizers need /proc, ptrace "
             "and system calls its filters forbid)");
    return false;
#else
    sb.log_only = v && !strcmp(v, "log");
    if (sb.log_only)
        log_warn("XENO_SANDBOX=log: forbidden system calls are logged, not stopped");
    return true;
#endif
}

/* Root becomes the sandbox user; anyone else stays who they are. */
static int find_user(void)
{
    struct passwd *pw;

    if (geteuid() != 0)
        return 0;
    pw = getpwnam(HOSTCAPS_SANDBOX_USER);
    if (!pw || pw->pw_uid == 0 || pw->pw_gid == 0) {
        log_err("sandbox: %s user '%s' to run as (scripts/deps.sh creates it; "
                "XENO_SANDBOX=0 runs without the sandbox)",
                pw ? "no unprivileged" : "there is no", HOSTCAPS_SANDBOX_USER);
        return -1;
    }
    sb.change_user = true;
    sb.uid = pw->pw_uid;
    sb.gid = pw->pw_gid;
    return 0;
}

int sandbox_init(const char *control_path)
{
    char err[256];
    int r;

    sb.on = decide_on();
    if (!sb.on)
        return 0;
    if (find_user() < 0)
        return -1;
    /* As PID 1 of its own PID namespace (xend made it so) the helper would
     * die with the VMM; xend removes the sockets then. */
    if (control_path && getpid() != 1 && sandbox_cleaner_start(control_path, err, sizeof(err)) < 0) {
        log_err("%s", err);
        return -1;
    }
    r = sandbox_unshare();
    sb.namespaces = r == 0;
    if (r < 0)
        log_debug("sandbox: no mount and IPC namespaces here: %s", strerror(-r));
    return 0;
}

/* ---- sandbox_lockdown -------------------------------------------------- */

/* The credentials change for the calling thread only (glibc would have to
 * signal every other one), and filters must be inherited by all threads:
 * so nothing else may run yet. */
static int check_single_threaded(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;

    if (!d)
        return 0;            /* no /proc: nothing to count with */
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    if (n > 1) {
        log_err("sandbox: %d threads run before the lockdown; it must come first", n);
        return -1;
    }
    return 0;
}

/* Guest memory never lands in a core file; and there are no core files. */
static int limit_dumps(Machine *m)
{
    const struct rlimit none = { 0, 0 };
    struct rlimit nofile;

    for (unsigned i = 0; i < m->mem.nr; i++)
        madvise(m->mem.r[i].host, m->mem.r[i].size, MADV_DONTDUMP);
    if (setrlimit(RLIMIT_CORE, &none) < 0) {
        log_err("sandbox: cannot turn core dumps off: %s", strerror(errno));
        return -1;
    }
    /* Descriptors: what the VMM was given, and no raising it later. */
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
        nofile.rlim_max = nofile.rlim_cur;
        setrlimit(RLIMIT_NOFILE, &nofile);
    }
    return 0;
}

/* Every capability out of the bounding and ambient sets, so that nothing
 * executed later could get one back (no_new_privs forbids that too). */
static int drop_bounding_caps(void)
{
    for (int cap = 0; cap <= CAP_LAST_CAP || prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++) {
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) {
            log_err("sandbox: cannot drop capability %d: %s", cap, strerror(errno));
            return -1;
        }
    }
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    return 0;
}

static int become_user(void)
{
    uid_t r, e, s;

    if (drop_bounding_caps() < 0)
        return -1;
    if (setgroups(0, NULL) < 0 || setresgid(sb.gid, sb.gid, sb.gid) < 0 ||
        setresuid(sb.uid, sb.uid, sb.uid) < 0) {
        log_err("sandbox: cannot become user '%s': %s", HOSTCAPS_SANDBOX_USER, strerror(errno));
        return -1;
    }
    /* A uid that does not stick must never go unnoticed. */
    if (getresuid(&r, &e, &s) < 0 || r != sb.uid || e != sb.uid || s != sb.uid) {
        log_err("sandbox: the user change did not take");
        return -1;
    }
    return 0;
}

/* Permitted, effective and inheritable all empty (the uid change cleared
 * them when we were root; a non-root user may hold file capabilities). */
static int drop_caps(void)
{
    struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
    struct __user_cap_data_struct d[2] = { { 0 } };

    if (syscall(SYS_capset, &h, d) < 0 || syscall(SYS_capget, &h, d) < 0) {
        log_err("sandbox: cannot drop capabilities: %s", strerror(errno));
        return -1;
    }
    if (d[0].effective | d[0].permitted | d[0].inheritable |
        d[1].effective | d[1].permitted | d[1].inheritable) {
        log_err("sandbox: capabilities remain after dropping them");
        return -1;
    }
    return 0;
}

static int build_filters(Machine *m)
{
    SandboxFilterOpts o = {
        .kvm = !strcmp(machine_engine_name(m), "kvm"),
        .log_only = sb.log_only,
        .pid = getpid(),
    };
    char err[256];

    for (int k = 0; k < SANDBOX_NTHREADS; k++) {
        if (sandbox_filter_build(k, &o, &sb.filter[k], err, sizeof(err)) < 0) {
            log_err("sandbox: %s", err);
            return -1;
        }
    }
    return 0;
}

/* The migration thread's first call (Machine.confine_thread). */
static int confine_migration(void)
{
    int r;

    prctl(PR_SET_NAME, "xeno-migrate");
    r = sandbox_filter_load(&sb.filter[SANDBOX_MIGRATION]);
    if (r < 0) {
        log_err("sandbox: cannot confine the migration thread: %s", strerror(-r));
        return -1;
    }
    sandbox_test_trigger(SANDBOX_MIGRATION);
    return 0;
}

/* As PID 1 of its own PID namespace, the pid the host knows (query's
 * "pid"): /proc, mounted in the host's namespace, still says it. */
static void note_host_pid(Machine *m)
{
    char link[32];
    ssize_t n;

    if (getpid() != 1 || (n = readlink("/proc/self", link, sizeof(link) - 1)) <= 0)
        return;
    link[n] = '\0';
    m->host_pid = atoi(link);
}

int sandbox_lockdown(Machine *m)
{
    char err[256];

    if (!sb.on)
        return 0;
    if (check_single_threaded() < 0 || limit_dumps(m) < 0)
        return -1;
    note_host_pid(m);
    if (sb.namespaces && sandbox_enter_empty_root(err, sizeof(err)) < 0) {
        log_err("%s", err);
        return -1;
    }
    if (sb.change_user && become_user() < 0)
        return -1;
    if (drop_caps() < 0)
        return -1;
    /* Not dumpable: no ptrace and no /proc/PID/mem for the sandbox user's
     * other processes (other domains' VMMs). */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        log_err("sandbox: %s", strerror(errno));
        return -1;
    }
    if (build_filters(m) < 0)
        return -1;
    m->confine_thread = confine_migration;
    sb.locked = true;
    return 0;
}

/* ---- threads ----------------------------------------------------------- */

typedef struct Starter {
    Machine *m;
    int ret;
} Starter;

static void *start_vcpus(void *arg)
{
    Starter *s = arg;
    int r;

    /* The vCPU threads inherit this thread's name and filter. */
    prctl(PR_SET_NAME, "xeno-vcpu");
    r = sandbox_filter_load(&sb.filter[SANDBOX_VCPU]);
    if (r < 0) {
        log_err("sandbox: cannot confine the vCPU threads: %s", strerror(-r));
        s->ret = -1;
        return NULL;
    }
    s->ret = machine_start(s->m);
    sandbox_test_trigger(SANDBOX_VCPU);
    return NULL;
}

int sandbox_start_vcpus(Machine *m)
{
    Starter s = { .m = m, .ret = -1 };
    pthread_t t;

    if (!sb.locked)
        return machine_start(m);
    if (pthread_create(&t, NULL, start_vcpus, &s) != 0) {
        log_err("sandbox: cannot start the vCPU threads' starter");
        return -1;
    }
    pthread_join(t, NULL);
    return s.ret;
}

int sandbox_confine_main(void)
{
    int r;

    if (!sb.locked)
        return 0;
    r = sandbox_filter_load(&sb.filter[SANDBOX_MAIN]);
    if (r < 0) {
        log_err("sandbox: cannot confine the main thread: %s", strerror(-r));
        return -1;
    }
    sandbox_test_trigger(SANDBOX_MAIN);
    return 0;
}
