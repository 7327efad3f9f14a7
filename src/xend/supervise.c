/* Supervision of xeno-vmm processes: one per running domain.
 *
 * Starting spawns `xeno-vmm --control RUN/ID.sock --no-console --name N
 * RUN/ID.cfg` in its own session (so it outlives xend) and waits for the
 * control socket to answer. The supervision loop (main thread) polls a
 * pidfd per VMM, which works for our children and for VMMs re-attached
 * after an xend restart alike, plus an event connection per VMM (its
 * "stopped" event names the reason when the exit status is not ours to
 * read). When a VMM ends, on_poweroff / on_reboot / on_crash decide:
 * destroy (forget a transient domain, stop a managed one), restart, or
 * preserve (keep it listed as shutdown / crashed until destroyed). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/hostcaps.h"
#include "common/io.h"
#include "common/log.h"
#include "common/util.h"
#include "xend.h"

#define START_TIMEOUT_MS 30000
#define START_POLL_US    20000     /* at most, between queries while a VMM starts */
#define FAST_RESTART_NS  (10 * NS_PER_SEC)
#define MAX_FAST_RESTARTS 5
#define DEPART_KILL_MS   10000     /* a departed VMM still there after this is killed */

static int wake_pipe[2] = { -1, -1 };
static int sig_fd = -1;

/* VMMs whose domain left this host (sup_depart_locked) and that are still
 * exiting. Under reg_lock; only the supervision loop closes their fds. */
typedef struct Departing {
    pid_t pid;
    int pidfd, mon_fd;
    bool child, killed;
    int id;
    uint64_t deadline_ns;
    char name[64];
} Departing;
static Departing *departing;
static size_t n_departing, cap_departing;

int sup_pidfd_open(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

int sup_pidfd_signal(int pidfd, int sig)
{
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

/* Kill the running VMM of d (reg_lock held). */
static void kill_vmm_locked(Domain *d)
{
    if (d->pid > 0 && d->pidfd >= 0 && sup_pidfd_signal(d->pidfd, SIGKILL) < 0 && errno != ESRCH)
        log_warn("domain %s: cannot kill VMM pid %d: %s", d->name, (int)d->pid, strerror(errno));
}

/* Make the supervision loop look at the registry again. */
static void sup_wake(void)
{
    /* One byte is enough: a full pipe (EAGAIN) means a wakeup is pending. */
    if (wake_pipe[1] >= 0) {
        ssize_t r = write(wake_pipe[1], "w", 1);
        (void)r;
    }
}

int sup_init(void)
{
    sigset_t set;

    if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
        log_err("pipe: %s", strerror(errno));
        return -1;
    }
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sig_fd < 0) {
        log_err("signalfd: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* Last non-empty line of the domain's VMM log, for start errors. */
static void last_log_line(const char *name, char *out, size_t size)
{
    char *text = state_read_log(name, 4096), *end, *start;

    out[0] = '\0';
    if (!text)
        return;
    end = text + strlen(text);
    while (end > text && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
        end--;
    *end = '\0';
    start = strrchr(text, '\n');
    start = start ? start + 1 : text;
    snprintf(out, size, "%s", start);
    free(text);
}

/* One start of a domain: what the steps share, copied out of the Domain
 * under the lock so that no step needs it while the VMM starts. */
typedef struct Launch {
    SupLaunch *pub;            /* id, seq, pid, name, sock */
    StartOpts o;
    char *config;              /* malloc'd copy of d->config */
    char cfgpath[PATH_MAX], logpath[PATH_MAX];
} Launch;

/* Reserve an id and the paths of a new instance of d and mark it
 * starting. Fails if d is running (or gone). */
static int reserve_instance(Domain *d, Launch *l, char *err, size_t errlen)
{
    SupLaunch *p = l->pub;

    reg_update_begin();        /* the next-id file */
    if ((d->state != DS_STOPPED && d->state != DS_SAVED) || d->pid > 0 || d->removed) {
        reg_update_end();
        snprintf(err, errlen, "Domain '%s' is already running.", d->name);
        return -1;
    }
    p->id = reg_alloc_id_locked();
    /* The console socket is the control socket's path + ".console". */
    if (state_path(p->sock, sizeof(p->sock), "run/%d.sock", p->id) < 0 ||
        state_path(l->cfgpath, sizeof(l->cfgpath), "run/%d.cfg", p->id) < 0 ||
        state_path(l->logpath, sizeof(l->logpath), "log/%s.log", d->name) < 0 ||
        strlen(p->sock) + 9 > 108) {
        reg_update_end();
        snprintf(err, errlen, "the state dir path %s is too long for a socket", xconf.state_dir);
        return -1;
    }
    d->id = p->id;
    d->state = DS_STARTING;
    d->destroying = false;
    d->stop_reason = SR_NONE;
    d->blocked = false;
    d->cpu_ns = d->sample_cpu_ns = d->sample_wall_ns = 0;
    snprintf(d->sock, sizeof(d->sock), "%s", p->sock);
    snprintf(p->name, sizeof(p->name), "%s", d->name);
    l->config = strdup(d->config);
    p->seq = d->run_seq;
    reg_update_end();
    return 0;
}

/* Undo reserve_instance after a start that never ran a VMM. */
static void release_instance(Domain *d, int id)
{
    reg_update_begin();
    d->id = -1;
    d->state = dom_rest_state(d);
    d->incoming = false;
    if (!d->managed && !d->removed)
        reg_remove_locked(d);
    pthread_cond_broadcast(&reg_cond);
    state_queue_remove_run(id);
    reg_update_end();
}

/* run/ID.cfg: the config the VMM runs, kept for a re-attaching xend. */
static int write_run_config(const Launch *l, char *err, size_t errlen)
{
    int r;

    if (!l->config) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    r = io_write_file_atomic(l->cfgpath, l->config, strlen(l->config), 0600);
    if (r < 0) {
        snprintf(err, errlen, "cannot write %s: %s", l->cfgpath, strerror(-r));
        return -1;
    }
    return 0;
}

/* The domain's log, opened for the VMM's output, with a line marking this
 * start. Returns the fd or -1. */
static int open_log(const Launch *l, char *err, size_t errlen)
{
    int fd = open(l->logpath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    time_t now = time(NULL);
    struct tm tm;
    char when[64];

    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", l->logpath, strerror(errno));
        return -1;
    }
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime_r(&now, &tm));
    dprintf(fd, "--- xend: %s domain %s (id %d) at %s\n",
            l->o.restore ? "restoring" : l->o.incoming_fd >= 0 ? "receiving" : "starting",
            l->pub->name, l->pub->id, when);
    return fd;
}

/* The VMM's command line for l (argv points into l and xconf). */
static void vmm_argv(const Launch *l, char *argv[14])
{
    int n = 0;

    argv[n++] = xconf.vmm;
    if (l->o.restore) {
        argv[n++] = "--restore";
        argv[n++] = (char *)l->o.restore;
    } else if (l->o.incoming_fd >= 0) {
        argv[n++] = "--incoming";
        argv[n++] = "fd:3";
        if (l->o.stream_key) {
            argv[n++] = "--stream-key";
            argv[n++] = "fd:4";
        }
    }
    argv[n++] = "--control";
    argv[n++] = (char *)l->pub->sock;
    argv[n++] = "--no-console";
    if ((l->o.restore || l->o.incoming_fd >= 0) && l->o.paused)
        argv[n++] = "--paused";
    if (!l->o.restore && l->o.incoming_fd < 0) {
        /* Booted: the config file; a saved domain's config is in its state. */
        argv[n++] = "--name";
        argv[n++] = (char *)l->pub->name;
        argv[n++] = (char *)l->cfgpath;
    }
    argv[n] = NULL;
}

/* fork(), but with the child as PID 1 of a PID namespace of its own: the
 * VMM's sandbox (docs/sandbox.md) then sees no other process. A host that
 * does not allow it (xend not root, no namespaces) gets a plain fork, as
 * XENO_SANDBOX=0 does. The child of the raw clone skips glibc's fork
 * handlers: like a fork child here, it makes async-signal-safe calls only. */
static pid_t fork_in_pidns(void)
{
    if (hostcaps_sandbox_enabled()) {
        long pid = syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, NULL, NULL, NULL, 0L);
        if (pid >= 0)
            return (pid_t)pid;
        log_debug("no PID namespace for the VMM: %s", strerror(errno));
    }
    return fork();
}

/* The stream key on a pipe (it fits in the pipe's buffer): the read end,
 * or -1. Not on the command line, which any local user can read. */
static int key_pipe(const char *key, char *err, size_t errlen)
{
    int p[2];
    size_t n = strlen(key);

    if (pipe2(p, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        return -1;
    }
    if (io_write_all(p[1], key, n) < 0 || io_write_all(p[1], "\n", 1) < 0) {
        snprintf(err, errlen, "cannot pass the stream key: %s", strerror(errno));
        close(p[0]);
        close(p[1]);
        return -1;
    }
    close(p[1]);
    return p[0];
}

/* Fork and exec the VMM in its own session, stdout and stderr to logfd
 * (and, receiving a migration, the connection as fd 3 and the stream key
 * as fd 4). Returns the pid or -1. */
static pid_t fork_vmm(const Launch *l, int logfd, char *err, size_t errlen)
{
    char *argv[14];
    int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC), in = l->o.incoming_fd, key = -1;
    pid_t pid;

    if (nullfd < 0) {
        snprintf(err, errlen, "cannot open /dev/null: %s", strerror(errno));
        return -1;
    }
    if (in >= 0 && l->o.stream_key && (key = key_pipe(l->o.stream_key, err, errlen)) < 0) {
        close(nullfd);
        return -1;
    }
    vmm_argv(l, argv);
    pid = fork_in_pidns();
    if (pid == 0) {
        /* Child: only async-signal-safe calls until exec. */
        static const char msg[] = "xend: cannot execute the VMM\n";
        sigset_t none;

        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        setsid();          /* outlive xend; no terminal signals */
        /* Out of the way of 0-4 first, so that no dup2 below overwrites
         * the other (F_DUPFD: not close-on-exec until closed below). */
        if (in >= 0)
            in = fcntl(in, F_DUPFD, 5);
        if (key >= 0)
            key = fcntl(key, F_DUPFD, 5);
        dup2(nullfd, 0);
        dup2(logfd, 1);
        dup2(logfd, 2);
        if (in >= 0)
            dup2(in, 3);
        if (key >= 0)
            dup2(key, 4);
        close_range(in < 0 ? 3 : key < 0 ? 4 : 5, ~0u, 0);
        execvp(argv[0], argv);
        io_write_all(2, msg, sizeof(msg) - 1);
        _exit(1);
    }
    close(nullfd);
    if (key >= 0)
        close(key);
    if (pid < 0)
        snprintf(err, errlen, "fork: %s", strerror(errno));
    return pid;
}

/* The run record of the instance l of d, written under the state lock
 * (so that its removal, when the VMM ends, comes after it). Two tries.
 * 0, or -1 when it cannot be written (or the instance ended). */
static int record_run(Domain *d, const Launch *l)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        RunRecord rec;
        bool same;
        int r;

        pthread_mutex_lock(&state_lock);
        pthread_mutex_lock(&reg_lock);
        same = d->run_seq == l->pub->seq && d->pid > 0;
        run_record_of_locked(d, &rec);
        pthread_mutex_unlock(&reg_lock);
        r = same ? state_write_run(&rec) : 0;   /* ended: nothing to record */
        pthread_mutex_unlock(&state_lock);
        if (r == 0)
            return 0;
        usleep(100000);        /* a passing failure (a full disk being cleaned) */
    }
    return -1;
}

/* Put the new VMM under supervision: its pidfd in d, the run record on
 * disk. Without a pidfd the VMM cannot be supervised, and without a run
 * record an xend restarted now would not know it: it is killed. */
static int track_vmm(Domain *d, const Launch *l, pid_t pid, char *err, size_t errlen)
{
    int pidfd = sup_pidfd_open(pid);

    if (pidfd < 0) {
        snprintf(err, errlen, "pidfd_open: %s", strerror(errno));
        kill(pid, SIGKILL);    /* our child, not reaped yet: its pid is not reused */
        waitpid(pid, NULL, 0);
        return -1;
    }
    pthread_mutex_lock(&reg_lock);
    d->pid = pid;
    d->pidfd = pidfd;
    d->child = true;
    d->started_ns = clock_ns();
    d->start_time = time(NULL);
    pthread_mutex_unlock(&reg_lock);
    sup_wake();
    /* Written before the VMM is ready so that a VMM never outlives an xend
     * killed right now without a trace for the next one. */
    if (record_run(d, l) < 0) {
        snprintf(err, errlen, "Domain '%s' failed to start: cannot write its run record in "
                 "%s/run; the VMM was stopped", l->pub->name, xconf.state_dir);
        log_err("%s", err);
        pthread_mutex_lock(&reg_lock);
        if (d->run_seq == l->pub->seq && d->pid > 0) {
            d->destroying = true;
            kill_vmm_locked(d);
        }
        pthread_mutex_unlock(&reg_lock);
        if (sup_wait_stopped(d, l->pub->seq, 10000) < 0)
            log_err("domain %s: VMM pid %d did not exit", l->pub->name, (int)pid);
        return -1;
    }
    log_info("domain %s (id %d): VMM pid %d started%s", l->pub->name, l->pub->id, (int)pid,
             l->o.restore ? " (restoring)" : l->o.incoming_fd >= 0 ? " (incoming migration)" : "");
    return 0;
}

/* Start the VMM process of l and supervise it. On failure no VMM runs. */
static int spawn_vmm(Domain *d, Launch *l, char *err, size_t errlen)
{
    char cons[PATH_MAX + 16];
    int logfd;

    if (write_run_config(l, err, errlen) < 0 || (logfd = open_log(l, err, errlen)) < 0)
        return -1;
    /* Sockets of an earlier instance with this id would fool the wait. */
    unlink(l->pub->sock);
    snprintf(cons, sizeof(cons), "%s.console", l->pub->sock);
    unlink(cons);
    l->pub->pid = fork_vmm(l, logfd, err, errlen);
    close(logfd);
    if (l->pub->pid < 0)
        return -1;
    return track_vmm(d, l, l->pub->pid, err, errlen);
}

static bool instance_ended(Domain *d, uint64_t seq)
{
    bool ended;

    pthread_mutex_lock(&reg_lock);
    ended = d->run_seq != seq;
    pthread_mutex_unlock(&reg_lock);
    return ended;
}

/* The VMM answered: watch its events, take its first statistics, and
 * tell the world the domain runs. A domain restored from its saved state
 * is no longer saved: xend's own save file goes. */
static void go_live(Domain *d, const SupLaunch *l, json_t *ready)
{
    int mon = vmm_connect(l->sock);
    char drop[PATH_MAX] = "";
    bool live = false;

    reg_update_begin();        /* domains/NAME.saved goes */
    if (d->run_seq == l->seq) {
        d->mon_fd = mon;
        mon = -1;
        dom_apply_query_locked(d, ready);
        if (d->state == DS_STARTING)
            d->state = DS_RUNNING;
        d->incoming = false;
        if (d->save_path[0]) {
            char managed[PATH_MAX];
            if (state_managed_save_path(managed, sizeof(managed), d->name) == 0 &&
                !strcmp(managed, d->save_path))
                snprintf(drop, sizeof(drop), "%s", d->save_path);
            d->save_path[0] = '\0';
            state_queue_saved(d->name, NULL);
        }
        d->unresponsive = false;
        live = true;
    }
    reg_update_end();
    if (mon >= 0)
        close(mon);
    if (drop[0] && unlink(drop) < 0 && errno != ENOENT)
        log_warn("domain %s: cannot remove its save file %s: %s", l->name, drop, strerror(errno));
    sup_wake();
    if (live)
        events_emit("started", l->name, l->id);
}

int sup_poll_ready(Domain *d, const SupLaunch *l, char *err, size_t errlen)
{
    char line[512], cerr[256];
    json_t *ready = NULL;

    if (instance_ended(d, l->seq)) {
        last_log_line(l->name, line, sizeof(line));
        snprintf(err, errlen, "Domain '%s' failed to start: %s", l->name,
                 line[0] && strncmp(line, "--- xend:", 9) ? line : "the VMM exited");
        return -1;
    }
    if (vmm_call(l->sock, "query", NULL, 1000, &ready, cerr, sizeof(cerr)) < 0)
        return 0;
    go_live(d, l, ready);
    json_decref(ready);
    return 1;
}

void sup_kill(Domain *d, const SupLaunch *l)
{
    pthread_mutex_lock(&reg_lock);
    if (d->run_seq == l->seq)
        kill_vmm_locked(d);
    pthread_mutex_unlock(&reg_lock);
}

/* Wait until the VMM answers a query on its control socket. Fails when it
 * exits first (the error is the last line of its log) or stays silent for
 * START_TIMEOUT_MS (then it is killed; its exit is handled by the
 * supervision loop). */
static int wait_until_ready(Domain *d, const SupLaunch *l, char *err, size_t errlen)
{
    uint64_t deadline = clock_ns() + START_TIMEOUT_MS * NS_PER_MS;
    useconds_t pause = 500;     /* doubling: a VMM that is up in 5 ms is seen then */

    for (;;) {
        int r = sup_poll_ready(d, l, err, errlen);

        if (r)
            return r > 0 ? 0 : -1;
        if (clock_ns() > deadline) {
            sup_kill(d, l);
            snprintf(err, errlen, "Domain '%s' failed to start: no answer on %s within %d s",
                     l->name, l->sock, START_TIMEOUT_MS / 1000);
            return -1;
        }
        usleep(pause);
        pause = pause * 2 > START_POLL_US ? START_POLL_US : pause * 2;
    }
}

int sup_launch(Domain *d, const StartOpts *o, SupLaunch *pub, char *err, size_t errlen)
{
    Launch l = { .pub = pub, .o = { .incoming_fd = -1 } };
    int r;

    memset(pub, 0, sizeof(*pub));
    pub->pid = -1;
    if (o)
        l.o = *o;
    if (reserve_instance(d, &l, err, errlen) < 0) {
        free(l.config);
        return -1;
    }
    r = spawn_vmm(d, &l, err, errlen);
    free(l.config);
    if (r < 0) {
        release_instance(d, pub->id);
        return -1;
    }
    return 0;
}

int sup_start_opts(Domain *d, const StartOpts *o, char *err, size_t errlen)
{
    StartOpts so = { .incoming_fd = -1 };
    SupLaunch l;
    char path[PATH_MAX];

    if (o) {
        so = *o;
    } else {
        /* A saved domain starts from its save file. */
        SaveInfo si;
        bool saved;

        pthread_mutex_lock(&reg_lock);
        saved = d->state == DS_SAVED && d->save_path[0];
        snprintf(path, sizeof(path), "%s", d->save_path);
        pthread_mutex_unlock(&reg_lock);
        if (saved) {
            if (savefile_probe(path, &si, err, errlen) < 0) {
                char why[768];
                snprintf(why, sizeof(why), "%s", err);
                snprintf(err, errlen, "Domain '%s' cannot be restored from its saved state: %s",
                         d->name, why);
                return -1;
            }
            savefile_info_free(&si);
            so.restore = path;
        }
    }
    if (sup_launch(d, &so, &l, err, errlen) < 0)
        return -1;
    return wait_until_ready(d, &l, err, errlen);
}

int sup_start(Domain *d, char *err, size_t errlen)
{
    return sup_start_opts(d, NULL, err, errlen);
}

int sup_attach(Domain *d, int id, pid_t pid, int pidfd, const char *sock, time_t start_time)
{
    char err[256];
    json_t *res = NULL;
    bool silent;
    int mon;

    /* A VMM that does not answer (stopped, hung) is still supervised, as
     * unresponsive: its pidfd tells when it ends, and the next query
     * that it answers makes it responsive again. */
    silent = vmm_call(sock, "query", NULL, 2000, &res, err, sizeof(err)) < 0;
    if (silent && sup_pidfd_signal(pidfd, 0) < 0)
        return -1;             /* it ended meanwhile */
    if (silent)
        log_warn("domain %s (id %d): VMM pid %d does not answer: %s; watching it as "
                 "unresponsive", d->name, id, (int)pid, err);
    mon = vmm_connect(sock);
    pthread_mutex_lock(&reg_lock);
    d->id = id;
    d->pid = pid;
    d->pidfd = pidfd;
    d->child = false;
    d->mon_fd = mon;
    d->state = DS_RUNNING;
    snprintf(d->sock, sizeof(d->sock), "%s", sock);
    d->started_ns = clock_ns();
    d->unresponsive = silent;
    d->start_time = start_time;
    dom_apply_query_locked(d, res);
    if (!silent) {
        json_t *up = json_object_get(res, "uptime_ns");
        d->start_time = time(NULL) - (json_is_integer(up) && json_integer_value(up) > 0 ?
                                      (time_t)(json_integer_value(up) / (json_int_t)NS_PER_SEC) : 0);
    }
    pthread_mutex_unlock(&reg_lock);
    json_decref(res);
    sup_wake();
    log_info("domain %s (id %d): re-attached to VMM pid %d", d->name, id, (int)pid);
    return 0;
}

int sup_wait_stopped(Domain *d, uint64_t seq, int timeout_ms)
{
    /* reg_cond is a default condvar: its deadlines are on the wall clock. */
    struct timespec ts = ns_to_timespec(clock_realtime_ns() + (uint64_t)timeout_ms * NS_PER_MS);
    int ret = 0;

    pthread_mutex_lock(&reg_lock);
    while (d->run_seq == seq && d->pid > 0) {
        if (pthread_cond_timedwait(&reg_cond, &reg_lock, &ts) == ETIMEDOUT) {
            ret = d->run_seq == seq && d->pid > 0 ? -1 : 0;
            break;
        }
    }
    pthread_mutex_unlock(&reg_lock);
    /* The supervision loop handles an exit under state_lock and writes its
     * files (a migrated domain's config deleted, a saved mark) before it
     * lets go: once we hold it, what the exit changed is on disk too. No
     * caller holds it here (the loop could not have handled the exit). */
    if (ret == 0) {
        pthread_mutex_lock(&state_lock);
        pthread_mutex_unlock(&state_lock);
    }
    return ret;
}

/* d no longer has its running instance (id), which ended for `why`: its
 * fds are the caller's (closed, or kept by the departing), its run record
 * goes, and waiters on run_seq wake to last_exit. */
static void instance_ended_locked(Domain *d, int id, enum stop_reason why)
{
    d->pid = 0;
    d->pidfd = -1;
    d->mon_fd = -1;
    d->mon_len = 0;
    d->unresponsive = false;
    d->run_seq++;
    d->last_exit = why;
    state_queue_remove_run(id);
}

bool sup_depart_locked(Domain *d, uint64_t seq)
{
    Departing *p;
    int id = d->id;

    if (d->run_seq != seq || d->pid <= 0)
        return false;
    if (n_departing == cap_departing) {
        size_t cap = cap_departing ? 2 * cap_departing : 4;
        Departing *n = realloc(departing, cap * sizeof(*n));
        if (!n)
            return false;       /* the VMM's exit is handled as usual */
        departing = n;
        cap_departing = cap;
    }
    p = &departing[n_departing++];
    *p = (Departing){ .pid = d->pid, .pidfd = d->pidfd, .mon_fd = d->mon_fd, .child = d->child,
                      .id = id, .deadline_ns = clock_ns() + DEPART_KILL_MS * NS_PER_MS };
    snprintf(p->name, sizeof(p->name), "%s", d->name);
    /* The domain no longer has that instance: the loop stops watching it
     * as the domain's (its fds no longer match) and reaps it as departing. */
    instance_ended_locked(d, id, SR_MIGRATED);
    log_info("domain %s (id %d): migrated; its VMM pid %d exits", d->name, id, (int)p->pid);
    dom_left_locked(d, id, SR_MIGRATED);
    sup_wake();
    return true;
}

/* A departing VMM's pidfd is ready: reap it. */
static void reap_departing_locked(int pidfd)
{
    for (size_t i = 0; i < n_departing; i++) {
        Departing *p = &departing[i];
        int status = 0;

        if (p->pidfd != pidfd)
            continue;
        if (p->child) {
            pid_t r = waitpid(p->pid, &status, WNOHANG);
            if (r == 0)
                return;         /* not yet */
            if (r != p->pid)
                status = 6 << 8;
        } else {
            status = 6 << 8;    /* not ours: its pidfd says it is gone */
        }
        if (WIFEXITED(status) && WEXITSTATUS(status) == 6)
            log_info("domain %s (id %d): VMM ended (migrated)", p->name, p->id);
        else
            log_warn("domain %s (id %d): VMM ended (after its migration completed, status %#x)",
                     p->name, p->id, status);
        close(p->pidfd);
        if (p->mon_fd >= 0)
            close(p->mon_fd);
        departing[i] = departing[--n_departing];
        return;
    }
}

/* Kill departing VMMs that outstay DEPART_KILL_MS; the poll timeout (ms)
 * until the next deadline, -1 when none is pending. */
static int departing_deadlines_locked(void)
{
    uint64_t now = clock_ns(), next = 0;

    for (size_t i = 0; i < n_departing; i++) {
        Departing *p = &departing[i];

        if (p->killed)
            continue;
        if (now >= p->deadline_ns) {
            log_warn("domain %s (id %d): its VMM pid %d did not exit after its migration; "
                     "killing it", p->name, p->id, (int)p->pid);
            if (sup_pidfd_signal(p->pidfd, SIGKILL) < 0 && errno != ESRCH)
                log_warn("cannot kill VMM pid %d: %s", (int)p->pid, strerror(errno));
            p->killed = true;
        } else if (!next || p->deadline_ns < next) {
            next = p->deadline_ns;
        }
    }
    return next ? (int)((next - now) / NS_PER_MS) + 1 : -1;
}

int sup_destroy(Domain *d, char *err, size_t errlen)
{
    char sock[PATH_MAX], cerr[256];
    uint64_t seq;

    pthread_mutex_lock(&reg_lock);
    if (d->pid <= 0) {
        if (d->state == DS_CRASHED || d->state == DS_SHUTDOWN) {
            /* A preserved domain: forget its remains. */
            d->id = -1;
            d->state = DS_STOPPED;
            if (!d->managed)
                reg_remove_locked(d);
            pthread_cond_broadcast(&reg_cond);
            pthread_mutex_unlock(&reg_lock);
            return 0;
        }
        pthread_mutex_unlock(&reg_lock);
        snprintf(err, errlen, "Domain '%s' is not running.", d->name);
        return -1;
    }
    d->destroying = true;
    d->state = DS_DYING;
    seq = d->run_seq;
    snprintf(sock, sizeof(sock), "%s", d->sock);
    pthread_mutex_unlock(&reg_lock);

    if (vmm_call(sock, "destroy", NULL, 2000, NULL, cerr, sizeof(cerr)) < 0)
        log_debug("domain %s: destroy via control socket: %s; killing it", d->name, cerr);
    for (int attempt = 0; attempt < 3; attempt++) {
        if (sup_wait_stopped(d, seq, attempt ? 5000 : 3000) == 0)
            return 0;
        pthread_mutex_lock(&reg_lock);
        if (d->run_seq == seq)
            kill_vmm_locked(d);
        pthread_mutex_unlock(&reg_lock);
    }
    pthread_mutex_lock(&reg_lock);
    snprintf(err, errlen, "Domain '%s': the VMM (pid %d) did not exit", d->name, (int)d->pid);
    pthread_mutex_unlock(&reg_lock);
    return -1;
}

void sup_sample_ms(Domain *d, int timeout_ms)
{
    char sock[PATH_MAX], err[256];
    json_t *res = NULL;
    uint64_t seq;
    bool live, answered, became = false;

    pthread_mutex_lock(&reg_lock);
    live = d->pid > 0 && (d->state == DS_RUNNING || d->state == DS_PAUSED);
    seq = d->run_seq;
    snprintf(sock, sizeof(sock), "%s", d->sock);
    pthread_mutex_unlock(&reg_lock);
    if (!live)
        return;
    answered = vmm_call(sock, "query", NULL, timeout_ms, &res, err, sizeof(err)) == 0;
    pthread_mutex_lock(&reg_lock);
    if (d->run_seq == seq && d->pid > 0) {
        if (answered)
            dom_apply_query_locked(d, res);
        became = !answered && !d->unresponsive;
        d->unresponsive = !answered;
    }
    pthread_mutex_unlock(&reg_lock);
    json_decref(res);
    if (became)
        log_warn("domain %s: the VMM does not answer: %s", d->name, err);
}

void sup_sample(Domain *d)
{
    sup_sample_ms(d, SUP_SAMPLE_MS);
}

static const char *reason_name(enum stop_reason r)
{
    switch (r) {
    case SR_POWEROFF:  return "poweroff";
    case SR_REBOOT:    return "reboot";
    case SR_CRASH:     return "crash";
    case SR_DESTROYED: return "destroyed";
    case SR_ERROR:     return "error";
    case SR_SAVED:     return "saved";
    case SR_MIGRATED:  return "migrated";
    default:           return "unknown";
    }
}

static void *restart_thread(void *arg)
{
    Domain *d = arg;
    char err[1024];

    if (sup_start(d, err, sizeof(err)) < 0)
        log_err("%s", err);
    dom_put(d);
    return NULL;
}

static void apply_exit_locked(Domain *d, int id, enum stop_reason why, bool was_starting);
static bool handle_monitor_locked(Domain *d);

/* How a wait status says the VMM ended, when it is not the VMM's own word
 * (its exit status): "killed by signal 31 (SIGSYS): a system call its
 * sandbox forbids". "" for an exit. */
static void end_detail(int status, char *buf, size_t n)
{
    int sig = WTERMSIG(status);
    const char *abbrev = sigabbrev_np(sig);

    buf[0] = '\0';
    if (!WIFSIGNALED(status))
        return;
    snprintf(buf, n, "killed by signal %d (SIG%s)%s", sig, abbrev ? abbrev : "?",
             sig == SIGSYS ? ": a system call its sandbox forbids (the kernel log names it: "
                             "audit type=1326)" :
             WCOREDUMP(status) ? ", core dumped" : "");
}

/* Lines for domains' logs, written once the registry lock is let go (no
 * file I/O under it). Only the supervision loop fills and empties it. */
#define MAX_NOTES 16
static struct { char name[64]; char text[320]; } notes[MAX_NOTES];
static unsigned nnotes;

static void note_for_log_locked(const Domain *d, const char *text)
{
    if (nnotes == MAX_NOTES)
        return;              /* the xend log has it anyway */
    snprintf(notes[nnotes].name, sizeof(notes[nnotes].name), "%s", d->name);
    snprintf(notes[nnotes].text, sizeof(notes[nnotes].text), "%s", text);
    nnotes++;
}

/* `xm log DOMAIN` shows the domain's VMM log: say there how it ended. */
static void write_notes(void)
{
    for (unsigned i = 0; i < nnotes; i++) {
        char p[PATH_MAX];
        int fd;

        if (state_path(p, sizeof(p), "log/%s.log", notes[i].name) < 0 ||
            (fd = open(p, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW)) < 0)
            continue;
        dprintf(fd, "--- xend: the VMM was %s\n", notes[i].text);
        close(fd);
    }
    nnotes = 0;
}

/* The VMM of d ended (its pidfd is readable). Called with the lock held
 * (and the state lock). `recorded` is what its exit record said (read
 * before the lock was taken), for a VMM that is not our child. */
static void handle_exit_locked(Domain *d, enum stop_reason recorded)
{
    char detail[320] = "";
    enum stop_reason why;
    int status = 0, id = d->id;
    bool have_status = false, was_starting = d->state == DS_STARTING;

    if (d->child) {
        pid_t r = waitpid(d->pid, &status, WNOHANG);
        if (r == 0)
            return;           /* not yet: spurious wakeup */
        have_status = r == d->pid;
    } else {
        /* A re-attached VMM: its "stopped" event may still be unread. */
        while (d->mon_fd >= 0 && handle_monitor_locked(d))
            ;
    }
    if (d->destroying)
        why = SR_DESTROYED;
    else if (have_status && WIFEXITED(status))
        why = WEXITSTATUS(status) == 0 ? SR_POWEROFF : WEXITSTATUS(status) == 2 ? SR_REBOOT :
              WEXITSTATUS(status) == 3 ? SR_CRASH : WEXITSTATUS(status) == 4 ? SR_DESTROYED :
              WEXITSTATUS(status) == 5 ? SR_SAVED : WEXITSTATUS(status) == 6 ? SR_MIGRATED :
              SR_ERROR;
    else if (have_status) {
        why = SR_CRASH;       /* killed by a signal */
        end_detail(status, detail, sizeof(detail));
    }
    else if (d->stop_reason != SR_NONE)
        why = d->stop_reason;
    else if (recorded != SR_NONE)
        why = recorded;       /* its exit record */
    else
        why = SR_CRASH;       /* a re-attached VMM that vanished without a word */
    if (why == SR_ERROR && !was_starting)
        why = SR_CRASH;

    close(d->pidfd);
    if (d->mon_fd >= 0)
        close(d->mon_fd);
    instance_ended_locked(d, id, why);
    if (detail[0]) {
        log_warn("domain %s (id %d): VMM ended (%s: %s)", d->name, id, reason_name(why), detail);
        note_for_log_locked(d, detail);
    } else {
        log_info("domain %s (id %d): VMM ended (%s)", d->name, id, reason_name(why));
    }
    apply_exit_locked(d, id, why, was_starting);
}

/* on_poweroff / on_reboot / on_crash for a domain whose VMM (id `id`) ended
 * for `why`. Called with the lock held; d->pid is already 0. */
static void apply_exit_locked(Domain *d, int id, enum stop_reason why, bool was_starting)
{
    enum cfg_action act;
    char name[64];

    if (!was_starting && (why == SR_SAVED || why == SR_MIGRATED)) {
        dom_left_locked(d, id, why);
        return;
    }
    d->save_target[0] = '\0';
    snprintf(name, sizeof(name), "%s", d->name);

    if (was_starting || why == SR_DESTROYED || why == SR_ERROR)
        act = CFG_ACT_DESTROY;
    else if (why == SR_POWEROFF)
        act = d->cfg->on_poweroff;
    else if (why == SR_REBOOT)
        act = d->cfg->on_reboot;
    else
        act = d->cfg->on_crash;
    if (act == CFG_ACT_COREDUMP_DESTROY)
        act = CFG_ACT_DESTROY;
    if (act == CFG_ACT_RENAME_RESTART || act == CFG_ACT_COREDUMP_RESTART)
        act = CFG_ACT_RESTART;

    if (act == CFG_ACT_RESTART) {
        uint64_t ran = clock_ns() - d->started_ns;

        d->fast_restarts = ran < FAST_RESTART_NS ? d->fast_restarts + 1 : 0;
        if (d->fast_restarts > MAX_FAST_RESTARTS) {
            log_warn("domain %s: restarting too fast (%u times in a row); leaving it crashed",
                     name, d->fast_restarts);
            d->fast_restarts = 0;
            act = CFG_ACT_PRESERVE;
        }
    }

    events_emit(why == SR_CRASH ? "crashed" : "stopped", name, id);
    switch (act) {
    case CFG_ACT_PRESERVE:
        d->state = why == SR_CRASH ? DS_CRASHED : DS_SHUTDOWN;
        break;
    case CFG_ACT_RESTART: {
        pthread_t t;
        pthread_attr_t a;

        d->id = -1;
        d->state = dom_rest_state(d);
        dom_get(d);
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &a, restart_thread, d) != 0) {
            log_err("domain %s: cannot restart: no thread", name);
            dom_put_locked(d);
        }
        pthread_attr_destroy(&a);
        break;
    }
    default:
        d->id = -1;
        d->state = dom_rest_state(d);
        d->incoming = false;
        if (!d->managed && !d->removed)
            reg_remove_locked(d);
        break;
    }
    pthread_cond_broadcast(&reg_cond);
}

static enum stop_reason parse_reason(const char *s)
{
    if (!s)
        return SR_NONE;
    if (!strcmp(s, "poweroff"))
        return SR_POWEROFF;
    if (!strcmp(s, "reboot"))
        return SR_REBOOT;
    if (!strcmp(s, "crash"))
        return SR_CRASH;
    if (!strcmp(s, "destroyed"))
        return SR_DESTROYED;
    if (!strcmp(s, "saved"))
        return SR_SAVED;
    if (!strcmp(s, "migrated"))
        return SR_MIGRATED;
    return SR_NONE;
}

void sup_exited_while_away(Domain *d, int id, const char *why)
{
    enum stop_reason r = exit_record_reason(why);

    reg_update_begin();
    d->id = id;
    d->pid = 0;
    d->state = DS_RUNNING;
    d->last_exit = r == SR_NONE ? SR_CRASH : r;
    apply_exit_locked(d, id, d->last_exit, false);
    reg_update_end();
    sup_wake();
}

/* Event lines from a VMM. Called with the lock held. Returns whether
 * there may be more to read. */
static bool handle_monitor_locked(Domain *d)
{
    ssize_t n = recv(d->mon_fd, d->mon_buf + d->mon_len,
                     sizeof(d->mon_buf) - d->mon_len, MSG_DONTWAIT);
    char *nl;

    if (n < 0 && errno == EINTR)
        return true;
    if (n < 0 && errno == EAGAIN)
        return false;
    if (n <= 0) {
        /* The VMM is going away; its pidfd tells the rest. */
        close(d->mon_fd);
        d->mon_fd = -1;
        d->mon_len = 0;
        return false;
    }
    d->mon_len += (size_t)n;
    while ((nl = memchr(d->mon_buf, '\n', d->mon_len))) {
        json_t *j, *ev;

        *nl = '\0';
        j = json_loads(d->mon_buf, 0, NULL);
        d->mon_len -= (size_t)(nl + 1 - d->mon_buf);
        memmove(d->mon_buf, nl + 1, d->mon_len);
        ev = json_object_get(j, "event");
        if (json_is_string(ev)) {
            const char *e = json_string_value(ev);

            if (!strcmp(e, "stopped")) {
                d->stop_reason = parse_reason(json_string_value(json_object_get(j, "reason")));
            } else if (!strcmp(e, "paused") || !strcmp(e, "resumed")) {
                dom_note_paused_locked(d, !strcmp(e, "paused"));
            }
            d->unresponsive = false;     /* it speaks */
        }
        json_decref(j);
    }
    if (d->mon_len == sizeof(d->mon_buf))
        d->mon_len = 0;   /* an over-long line: drop it */
    return true;
}

/* The descriptors the supervision loop waits on. */
typedef struct PollSet {
    struct pollfd *pfd;        /* [0] wake pipe, [1] signals, then per domain */
    Domain **dom;              /* the domain of each pfd[i], i >= 2 */
    char **exitp;              /* a re-attached VMM's pidfd: its exit record's path */
    enum stop_reason *recorded;/* what that record says once the VMM ended */
    size_t n, cap;
} PollSet;

/* Fill ps from the domains of all (a pidfd and an event connection each). */
static void pollset_fill_locked(PollSet *ps, Domain **all, size_t n)
{
    for (size_t i = 0; i < ps->n; i++) {
        free(ps->exitp[i]);
        ps->exitp[i] = NULL;
    }
    if (2 * n + n_departing + 2 > ps->cap) {
        size_t old = ps->cap;

        ps->cap = 2 * n + n_departing + 16;
        ps->pfd = realloc(ps->pfd, ps->cap * sizeof(*ps->pfd));
        ps->dom = realloc(ps->dom, ps->cap * sizeof(*ps->dom));
        ps->exitp = realloc(ps->exitp, ps->cap * sizeof(*ps->exitp));
        ps->recorded = realloc(ps->recorded, ps->cap * sizeof(*ps->recorded));
        if (!ps->pfd || !ps->dom || !ps->exitp || !ps->recorded)
            abort();   /* out of memory in the supervisor: nothing sane left */
        memset(ps->exitp + old, 0, (ps->cap - old) * sizeof(*ps->exitp));
    }
    ps->n = 2;
    ps->pfd[0] = (struct pollfd){ .fd = wake_pipe[0], .events = POLLIN };
    ps->pfd[1] = (struct pollfd){ .fd = sig_fd, .events = POLLIN };
    for (size_t i = 0; i < n; i++) {
        Domain *d = all[i];

        if (d->pidfd >= 0) {
            ps->dom[ps->n] = d;
            ps->recorded[ps->n] = SR_NONE;
            if (!d->child && asprintf(&ps->exitp[ps->n], "%s.exit", d->sock) < 0)
                ps->exitp[ps->n] = NULL;
            ps->pfd[ps->n++] = (struct pollfd){ .fd = d->pidfd, .events = POLLIN };
        }
        if (d->mon_fd >= 0) {
            ps->dom[ps->n] = d;
            ps->recorded[ps->n] = SR_NONE;
            ps->pfd[ps->n++] = (struct pollfd){ .fd = d->mon_fd, .events = POLLIN };
        }
    }
    for (size_t i = 0; i < n_departing; i++) {
        ps->dom[ps->n] = NULL;          /* a departing VMM (its pidfd) */
        ps->recorded[ps->n] = SR_NONE;
        ps->pfd[ps->n++] = (struct pollfd){ .fd = departing[i].pidfd, .events = POLLIN };
    }
}

/* Drain the signalfd; true when a signal asks xend to stop. */
static bool stop_requested(void)
{
    struct signalfd_siginfo si;
    bool stop = false;

    while (read(sig_fd, &si, sizeof(si)) == sizeof(si)) {
        if (si.ssi_signo == SIGHUP) {
            log_info("SIGHUP ignored (nothing to reload)");
            continue;
        }
        log_info("signal %u: stopping (domains keep running)", si.ssi_signo);
        stop = true;
    }
    return stop;
}

/* The exit records of the re-attached VMMs that ended, read before the
 * locks are taken (no file I/O under reg_lock). A record is complete
 * once the process is gone: the VMM writes it just before it exits. */
static void read_exit_records(PollSet *ps)
{
    for (size_t i = 2; i < ps->n; i++) {
        char *why;
        size_t len;

        if (!ps->pfd[i].revents || !ps->exitp[i] || !(why = read_file(ps->exitp[i], &len)))
            continue;
        ps->recorded[i] = exit_record_reason(why);
        free(why);
    }
}

/* Handle the domains whose descriptors are ready. */
static void dispatch_locked(const PollSet *ps)
{
    for (size_t i = 2; i < ps->n; i++) {
        Domain *d = ps->dom[i];

        if (!ps->pfd[i].revents)
            continue;
        if (!d) {
            reap_departing_locked(ps->pfd[i].fd);
            continue;
        }
        /* Only this thread closes these fds, so equality means the
         * descriptor still belongs to the instance we polled. */
        if (ps->pfd[i].fd == d->pidfd)
            handle_exit_locked(d, ps->recorded[i]);
        else if (ps->pfd[i].fd == d->mon_fd)
            handle_monitor_locked(d);
    }
}

void sup_run(void)
{
    PollSet ps = { 0 };
    bool quit = false;

    while (!quit) {
        Domain **all;
        size_t n;
        char drain[64];

        int timeout;

        pthread_mutex_lock(&reg_lock);
        n = reg_snapshot_locked(&all);
        pollset_fill_locked(&ps, all, n);
        timeout = departing_deadlines_locked();
        pthread_mutex_unlock(&reg_lock);

        if (poll(ps.pfd, ps.n, timeout) < 0 && errno != EINTR) {
            log_err("poll: %s", strerror(errno));
            sleep(1);
        }
        while (read(wake_pipe[0], drain, sizeof(drain)) > 0)
            ;
        if (ps.pfd[1].revents)
            quit = stop_requested();
        read_exit_records(&ps);
        reg_update_begin();    /* run records go, saved marks come */
        dispatch_locked(&ps);
        for (size_t i = 0; i < n; i++)
            dom_put_locked(all[i]);
        reg_update_end();
        write_notes();
        free(all);
    }
    for (size_t i = 0; i < ps.n; i++)
        free(ps.exitp[i]);
    free(ps.pfd);
    free(ps.dom);
    free(ps.exitp);
    free(ps.recorded);
}
