/* The per-VM control socket: JSON requests in, one response each, events
 * out (docs/protocols.md section 1), plus the host side of the guest agent
 * channel (section 3).
 *
 * Clients are hostile or merely slow: sockets are non-blocking (linesrv.c),
 * a request line may be at most CONTROL_MAX_LINE bytes, a client whose
 * unread output passes OUT_PAUSE is not read from until it catches up, and
 * one whose output passes OUT_MAX (only events can do that) is dropped.
 * Nothing a client sends can stall the event loop or touch the VM except
 * through a well-formed command. The guest agent side is in agent.c. */
#include "control_priv.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/io.h"
#include "common/log.h"
#include "common/util.h"
#include "hw/virtio/devices.h"

#define OUT_PAUSE  (64 * 1024)     /* stop reading a client above this */
#define OUT_MAX    (1024 * 1024)   /* drop a client above this */

/* ---- JSON helpers ------------------------------------------------------ */

/* A JSON string from arbitrary bytes: valid UTF-8 is kept, anything else
 * has its non-printable bytes replaced so the output is always valid. */
static json_t *jstr(const char *s)
{
    json_t *j = json_string(s);
    char *copy;

    if (j)
        return j;
    copy = strdup(s);
    if (!copy)
        return NULL;
    for (char *p = copy; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
            *p = '?';
    j = json_string(copy);
    free(copy);
    return j;
}

static char *dump_line(json_t *obj)
{
    char *s = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    return s;
}

static json_t *response_head(bool has_id, json_int_t id, bool ok)
{
    json_t *r = json_object();

    if (!r)
        return NULL;
    if (has_id)
        json_object_set_new(r, "id", json_integer(id));
    json_object_set_new(r, "ok", json_boolean(ok));
    return r;
}

char *ctl_error(bool has_id, json_int_t id, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    json_t *r = response_head(has_id, id, false);

    if (!r)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    for (char *p = msg; *p; p++)       /* every error is one line */
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    json_object_set_new(r, "error", jstr(msg));
    return dump_line(r);
}

char *ctl_ok(bool has_id, json_int_t id, json_t *result)
{
    json_t *r = response_head(has_id, id, true);

    if (!r) {
        json_decref(result);
        return NULL;
    }
    json_object_set_new(r, "result", result ? result : json_object());
    return dump_line(r);
}

void control_event_json(Control *c, json_t *e)
{
    char *line = dump_line(e);

    if (!line)
        return;
    ls_broadcast_line(c->srv, line);
    free(line);
}

void control_event(Control *c, const char *event, const char *reason)
{
    json_t *e = json_object();

    if (!e)
        return;
    json_object_set_new(e, "event", json_string(event));
    if (reason)
        json_object_set_new(e, "reason", json_string(reason));
    control_event_json(c, e);
}

/* ---- commands ---------------------------------------------------------- */

typedef char *(*cmd_fn)(Control *c, Request *r);

/* An integer argument in [lo, hi]; on error *errp is the response. */
static int int_arg(Request *r, const char *key, json_int_t lo, json_int_t hi,
                   json_int_t *out, char **errp)
{
    json_t *v = json_object_get(r->args, key);

    if (!v) {
        *errp = ctl_error(r->has_id, r->id, "missing argument '%s'", key);
        return -1;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        *errp = ctl_error(r->has_id, r->id, "'%s' must be an integer from %lld to %lld",
                           key, (long long)lo, (long long)hi);
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

static uint64_t balloon_actual_mib(Control *c)
{
    uint64_t mem = c->m->cfg.memory_mib, out;

    if (!c->m->balloon)
        return mem;
    out = virtio_balloon_get_actual(c->m->balloon) >> 20;
    return out < mem ? mem - out : 0;
}

static char *cmd_query(Control *c, Request *r)
{
    Machine *m = c->m;
    json_t *res = json_object();
    char uuid[40];

    if (!res)
        return NULL;
    json_object_set_new(res, "state", json_string(c->paused ? "paused" : "running"));
    json_object_set_new(res, "name", jstr(m->cfg.name));
    if (m->cfg.uuid_set) {
        const uint8_t *u = m->cfg.uuid;
        snprintf(uuid, sizeof(uuid),
                 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9],
                 u[10], u[11], u[12], u[13], u[14], u[15]);
        json_object_set_new(res, "uuid", json_string(uuid));
    } else {
        json_object_set_new(res, "uuid", json_null());
    }
    json_object_set_new(res, "vcpus", json_integer(c->vcpus_online));
    json_object_set_new(res, "memory_mib", json_integer((json_int_t)m->cfg.memory_mib));
    json_object_set_new(res, "balloon_target_mib", json_integer((json_int_t)c->balloon_target_mib));
    json_object_set_new(res, "balloon_actual_mib", json_integer((json_int_t)balloon_actual_mib(c)));
    json_object_set_new(res, "cpu_time_ns", json_integer(
        (json_int_t)machine_cpu_time_ns(m)));
    json_object_set_new(res, "uptime_ns", json_integer((json_int_t)(clock_ns() - c->start_ns)));
    json_object_set_new(res, "pid", json_integer(c->m->host_pid ? c->m->host_pid : getpid()));
    json_object_set_new(res, "engine", json_string(machine_engine_name(m)));
    json_object_set_new(res, "console", c->console_path ? jstr(c->console_path) : json_null());
    return ctl_ok(r->has_id, r->id, res);
}

void ctl_pause_vcpus(Control *c)
{
    Machine *m = c->m;

    /* A vCPU may be waiting for the device lock inside an MMIO access;
     * it can only reach an instruction boundary once we let go. */
    if (c->lock_held)
        pthread_mutex_unlock(&m->dev_lock);
    machine_pause(m);
    if (c->lock_held)
        pthread_mutex_lock(&m->dev_lock);
}

static char *cmd_pause(Control *c, Request *r)
{
    if (c->mig)
        return ctl_error(r->has_id, r->id, "a migration is in progress");
    if (!c->paused) {
        ctl_pause_vcpus(c);
        c->paused = true;
        c->pending_event = "paused";
    }
    return ctl_ok(r->has_id, r->id, NULL);
}

static char *cmd_resume(Control *c, Request *r)
{
    Machine *m = c->m;

    if (c->mig)
        return ctl_error(r->has_id, r->id, "a migration is in progress");
    if (c->paused) {
        machine_resume(m);
        c->paused = false;
        c->pending_event = "resumed";
    }
    return ctl_ok(r->has_id, r->id, NULL);
}

static char *cmd_balloon(Control *c, Request *r)
{
    json_int_t mib;
    char *err;

    if (int_arg(r, "target_mib", 1, (json_int_t)c->m->cfg.memory_mib, &mib, &err))
        return err;
    if (!c->m->balloon)
        return ctl_error(r->has_id, r->id, "this VM has no balloon device");
    virtio_balloon_set_target(c->m->balloon, (uint64_t)mib << 20);
    c->balloon_target_mib = (uint64_t)mib;
    return ctl_ok(r->has_id, r->id, NULL);
}

static char *cmd_balloon_stats(Control *c, Request *r)
{
    BalloonStats st;
    json_t *res;

    if (!c->m->balloon)
        return ctl_error(r->has_id, r->id, "this VM has no balloon device");
    memset(&st, 0, sizeof(st));
    if (virtio_balloon_get_stats(c->m->balloon, &st) || !st.valid)
        return ctl_error(r->has_id, r->id,
                          "the guest has not reported balloon statistics yet");
    res = json_object();
    if (!res)
        return NULL;
    /* Memory amounts arrive in bytes; report MiB. Faults are counts. */
    json_object_set_new(res, "swap_in_mib", json_integer((json_int_t)(st.swap_in >> 20)));
    json_object_set_new(res, "swap_out_mib", json_integer((json_int_t)(st.swap_out >> 20)));
    json_object_set_new(res, "major_faults", json_integer((json_int_t)(st.major_faults & INT64_MAX)));
    json_object_set_new(res, "minor_faults", json_integer((json_int_t)(st.minor_faults & INT64_MAX)));
    json_object_set_new(res, "free_mib", json_integer((json_int_t)(st.free_memory >> 20)));
    json_object_set_new(res, "total_mib", json_integer((json_int_t)(st.total_memory >> 20)));
    json_object_set_new(res, "available_mib", json_integer((json_int_t)(st.available_memory >> 20)));
    json_object_set_new(res, "disk_caches_mib", json_integer((json_int_t)(st.disk_caches >> 20)));
    json_object_set_new(res, "balloon_target_mib", json_integer((json_int_t)c->balloon_target_mib));
    json_object_set_new(res, "balloon_actual_mib", json_integer((json_int_t)balloon_actual_mib(c)));
    return ctl_ok(r->has_id, r->id, res);
}

static char *cmd_shutdown(Control *c, Request *r)
{
    return agent_request(c, r, "poweroff\n", 0);
}

static char *cmd_reboot(Control *c, Request *r)
{
    return agent_request(c, r, "reboot\n", 0);
}

static char *cmd_vcpu_set(Control *c, Request *r)
{
    unsigned max = c->m->cfg.maxvcpus ? c->m->cfg.maxvcpus : c->m->cfg.vcpus;
    json_int_t n;
    char *err, line[32];

    if (int_arg(r, "count", 1, max ? max : 1, &n, &err))
        return err;
    snprintf(line, sizeof(line), "vcpus %u\n", (unsigned)n);
    return agent_request(c, r, line, (unsigned)n);
}

static char *cmd_destroy(Control *c, Request *r)
{
    c->destroyed = true;
    machine_request_exit(c->m, VM_EXIT_QUIT, 0);
    return ctl_ok(r->has_id, r->id, NULL);
}

static const struct {
    const char *name;
    cmd_fn fn;
    const char *args[10];    /* the arguments it takes besides id and cmd (NULL-ended) */
} commands[] = {
    { "query", cmd_query, { NULL } },
    { "pause", cmd_pause, { NULL } },
    { "resume", cmd_resume, { NULL } },
    { "balloon", cmd_balloon, { "target_mib", NULL } },
    { "balloon-stats", cmd_balloon_stats, { NULL } },
    { "shutdown", cmd_shutdown, { NULL } },
    { "reboot", cmd_reboot, { NULL } },
    { "vcpu-set", cmd_vcpu_set, { "count", NULL } },
    { "destroy", cmd_destroy, { NULL } },
    { "save", cmd_save, { "path", "fd", "compress", "checkpoint" } },
    { "migrate", cmd_migrate, { "uri", "fd", "live", "compress", "downtime_ms",
                                "bandwidth_mbps", "max_rounds", "auto_converge", "stream_key" } },
    { "migrate-cancel", cmd_migrate_cancel, { NULL } },
};

static char *dispatch(Control *c, LsClient *who, const char *line, size_t len)
{
    json_error_t jerr;
    json_t *req, *v;
    Request r = { .who = who };
    const char *cmd, *key;
    char *resp = NULL;
    unsigned i;

    req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!req)
        return ctl_error(false, 0, "invalid JSON: %s", jerr.text);
    if (!json_is_object(req)) {
        json_decref(req);
        return ctl_error(false, 0, "a request must be a JSON object");
    }
    r.args = req;
    v = json_object_get(req, "id");
    if (v) {
        if (!json_is_integer(v)) {
            resp = ctl_error(false, 0, "'id' must be an integer");
            goto out;
        }
        r.has_id = true;
        r.id = json_integer_value(v);
    }
    v = json_object_get(req, "cmd");
    if (!v || !json_is_string(v)) {
        resp = ctl_error(r.has_id, r.id, "missing \"cmd\" (a string)");
        goto out;
    }
    cmd = json_string_value(v);
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(commands[i].name, cmd))
            break;
    if (i == sizeof(commands) / sizeof(commands[0])) {
        resp = ctl_error(r.has_id, r.id, "unknown command '%.64s'", cmd);
        goto out;
    }
    json_object_foreach(req, key, v) {
        bool known = !strcmp(key, "id") || !strcmp(key, "cmd");
        for (unsigned k = 0; !known && commands[i].args[k]; k++)
            known = !strcmp(key, commands[i].args[k]);
        if (!known) {
            resp = ctl_error(r.has_id, r.id, "%s: unknown argument '%.64s'", cmd, key);
            goto out;
        }
    }
    resp = commands[i].fn(c, &r);
    if (!resp && !c->req.active)     /* out of memory, not deferred */
        resp = ctl_error(r.has_id, r.id, "out of memory");
out:
    json_decref(req);
    return resp;
}

char *control_handle_line(Control *c, void *who, const char *line, size_t len)
{
    return dispatch(c, who, line, len);
}

/* ---- clients (linesrv callbacks) --------------------------------------- */

static void on_line(void *opaque, LsClient *cl, const char *line, size_t len)
{
    Control *c = opaque;
    char *resp = dispatch(c, cl, line, len);

    if (resp) {
        ls_send_line(c->srv, cl, resp);
        free(resp);
    }
    if (c->pending_event) {
        control_event(c, c->pending_event, NULL);
        c->pending_event = NULL;
    }
}

static void on_overlong(void *opaque, LsClient *cl)
{
    Control *c = opaque;
    char *e = ctl_error(false, 0, "request line longer than %d bytes", CONTROL_MAX_LINE);

    if (e)
        ls_send_line(c->srv, cl, e);
    free(e);
}

/* A client owed an agent answer stays until it has it. */
static bool client_busy(void *opaque, LsClient *cl)
{
    Control *c = opaque;
    return c->req.active && c->req.who == cl;
}

static void on_close(void *opaque, LsClient *cl)
{
    Control *c = opaque;

    if (c->req.who == cl)
        c->req.who = NULL;
}

static void srv_prepare(void *opaque, LineSrv *s, int *timeout_ms)
{
    Control *c = opaque;

    c->agent_idx = c->agent_fd >= 0 ? ls_add_pollfd(s, c->agent_fd, POLLIN) : -1;
    if (c->req.active && timeout_ms) {
        uint64_t now = clock_ns();
        int left = now >= c->req.deadline_ns ? 0
                   : (int)((c->req.deadline_ns - now) / 1000000ull) + 1;
        if (*timeout_ms < 0 || left < *timeout_ms)
            *timeout_ms = left;
    }
}

static void srv_dispatch(void *opaque, LineSrv *s)
{
    Control *c = opaque;

    if (ls_revents(s, c->agent_idx) & (POLLIN | POLLHUP))
        agent_read(c);
    agent_check_timeout(c);
    control_migration_poll(c);
}

static const LineSrvConfig srv_cfg = {
    .mode = LS_LINES,
    .max_clients = CONTROL_MAX_CLIENTS,
    .max_line = CONTROL_MAX_LINE,
    .out_pause = OUT_PAUSE,
    .out_max = OUT_MAX,
    .drop_on_overflow = true,
    .poll_listen_when_full = false,
    .full_msg = "{\"ok\":false,\"error\":\"too many control clients\"}\n",
    .drop_warning = "control: dropping a client that does not read its messages",
};

static const LineSrvOps srv_ops = {
    .on_line = on_line,
    .on_overlong = on_overlong,
    .busy = client_busy,
    .on_close = on_close,
    .prepare = srv_prepare,
    .dispatch = srv_dispatch,
};

int control_add_client(Control *c, int fd)
{
    return ls_add_client(c->srv, fd) ? 0 : -1;
}

int control_feed_first_client(Control *c, const void *buf, size_t len)
{
    LsClient *cl = ls_client(c->srv, 0);
    const char *p = buf;

    if (!cl)
        return -1;
    while (len && !cl->dead && !cl->close_when_flushed) {
        long n = ls_feed(c->srv, cl, p, len);
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
        if (cl->out_len >= OUT_PAUSE)
            cl->out_len = 0;      /* nobody reads here: discard */
    }
    if (cl->dead || cl->close_when_flushed) {
        cl->dead = true;
        ls_reap(c->srv);
        return -1;
    }
    return 0;
}

void control_run_once(Control *c)
{
    ls_run_once(c->srv);
}

/* ---- life cycle -------------------------------------------------------- */

Control *control_new(Machine *m)
{
    Control *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    c->srv = ls_new(&srv_cfg, &srv_ops, c);
    if (!c->srv) {
        free(c);
        return NULL;
    }
    c->m = m;
    c->agent_fd = -1;
    c->agent_dev_fd = -1;
    c->agent_idx = -1;
    c->agent_timeout_ms = CONTROL_AGENT_TIMEOUT_MS;
    c->start_ns = clock_ns();
    /* The balloon's target: the configured memory, or what a restored
     * domain's balloon was last asked for. */
    c->balloon_target_mib = m->balloon ? virtio_balloon_get_target(m->balloon) >> 20
                                       : m->cfg.memory_mib;
    c->vcpus_online = m->cfg.vcpus;
    return c;
}

void control_set_paused(Control *c)
{
    if (c)
        c->paused = true;
}

bool control_destroyed(const Control *c)
{
    return c && c->destroyed;
}

void control_free(Control *c)
{
    if (!c)
        return;
    ls_free(c->srv);
    free(c->path);
    free(c->console_path);
    free(c);
}

/* Bind a listening UNIX socket at path, mode 0600. A stale socket left by
 * a dead VMM is replaced; a live one, or any other file, is an error. */
int control_listen_unix(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct stat st;
    mode_t old;
    int fd;

    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "%s: socket path too long (at most %zu bytes)",
                 path, sizeof(sa.sun_path) - 1);
        return -1;
    }
    strcpy(sa.sun_path, path);
    if (lstat(path, &st) == 0) {
        int probe;
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(err, errlen, "%s: exists and is not a socket", path);
            return -1;
        }
        probe = io_unix_connect(path, 1000, IO_CLOEXEC);
        if (probe >= 0 || probe == -ETIMEDOUT) {
            if (probe >= 0)
                close(probe);
            snprintf(err, errlen, "%s: another process is listening there", path);
            return -1;
        }
        unlink(path);
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    old = umask(0177);     /* the socket file is created 0600 */
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        umask(old);
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    umask(old);
    if (listen(fd, SOMAXCONN) < 0) {
        snprintf(err, errlen, "%s: listen: %s", path, strerror(errno));
        close(fd);
        unlink(path);
        return -1;
    }
    return fd;
}

Control *control_start(Machine *m, const char *path, const char *console_path,
                       char *err, size_t errlen)
{
    Control *c = control_new(m);
    int fd;

    if (!c || !(c->path = strdup(path)) ||
        (console_path && !(c->console_path = strdup(console_path)))) {
        snprintf(err, errlen, "out of memory");
        control_free(c);
        return NULL;
    }
    fd = control_listen_unix(path, err, errlen);
    if (fd < 0) {
        control_free(c);
        return NULL;
    }
    ls_set_listen_fd(c->srv, fd);
    agent_use_board_channel(c);
    if (ls_attach(c->srv, m->loop) < 0) {
        snprintf(err, errlen, "%s: the event loop is full", path);
        unlink(path);
        control_free(c);
        return NULL;
    }
    c->lock_held = true;
    return c;
}

static const char *stop_reason(Control *c)
{
    if (c->destroyed)
        return "destroyed";
    switch (c->m->exit_reason) {
    case VM_EXIT_POWEROFF:
    case VM_EXIT_HTIF: return "poweroff";
    case VM_EXIT_REBOOT: return "reboot";
    case VM_EXIT_QUIT: return "destroyed";
    case VM_EXIT_SAVED: return "saved";
    case VM_EXIT_MIGRATED: return "migrated";
    default: return "crash";
    }
}

void control_stop(Control *c)
{
    if (!c)
        return;
    if (c->req.active)
        agent_finish(c, false, "the VM stopped");
    control_migration_stop(c);
    /* Clients still in the listen backlog hear about it too. */
    ls_accept_all(c->srv);
    control_event(c, "stopped", stop_reason(c));
    /* Give readers up to a second to take their last messages. */
    ls_flush_wait(c->srv, 1000);
    if (c->path)
        unlink(c->path);
    if (c->lock_held)
        ls_detach(c->srv, c->m->loop);
    control_free(c);
}
