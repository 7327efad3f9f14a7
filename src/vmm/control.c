/* The per-VM control socket: JSON requests in, one response each, events
 * out (docs/protocols.md section 1), plus the host side of the guest agent
 * channel (section 3).
 *
 * Clients are hostile or merely slow: sockets are non-blocking, a request
 * line may be at most CONTROL_MAX_LINE bytes, a client whose unread output
 * passes OUT_PAUSE is not read from until it catches up, and one whose
 * output passes OUT_MAX (only events can do that) is dropped. Nothing a
 * client sends can stall the event loop or touch the VM except through a
 * well-formed command. */
#include "control.h"

#include <errno.h>
#include <fcntl.h>
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

#include <jansson.h>

#include "common/log.h"
#include "hw/virtio/devices.h"

#define OUT_PAUSE  (64 * 1024)     /* stop reading a client above this */
#define OUT_MAX    (1024 * 1024)   /* drop a client above this */
#define AGENT_LINE 1024

typedef struct Client {
    int fd;
    int idx;                 /* pollfd index this round, -1 = none */
    char *in;                /* partial request line(s) */
    size_t in_len;
    char *out;               /* responses and events not yet written */
    size_t out_len, out_cap;
    bool eof;                /* peer shut down its sending side */
    bool dead;               /* close at the end of this round */
    bool close_when_flushed;
} Client;

typedef struct AgentRequest {
    bool active;
    Client *who;             /* NULL: the client went away */
    bool has_id;
    json_int_t id;
    uint64_t deadline_ns;
    unsigned vcpus;          /* vcpu-set: the count asked for */
} AgentRequest;

struct Control {
    Machine *m;
    bool lock_held;          /* handlers run with m->dev_lock held */
    char *path;              /* listening socket, NULL in tests */
    char *console_path;
    int listen_fd, listen_idx;
    Client *clients[CONTROL_MAX_CLIENTS];
    unsigned nclients;
    const char *pending_event;   /* broadcast after the current response */

    /* VM state as the control plane sees it. */
    bool paused, destroyed;
    uint64_t start_ns;
    uint64_t balloon_target_mib;
    unsigned vcpus_online;

    /* Guest agent. */
    int agent_fd, agent_dev_fd, agent_idx;
    unsigned agent_timeout_ms;
    char agent_in[AGENT_LINE];
    size_t agent_in_len;
    AgentRequest req;

    /* Poll results of this round: the loop's (hook) or our own array. */
    struct pollfd *own_pfd;
    int own_npfd, own_max;
};

/* The agent channel made by the board before the control socket starts. */
static int agent_pair[2] = { -1, -1 };

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

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

static char *make_error(bool has_id, json_int_t id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static char *make_error(bool has_id, json_int_t id, const char *fmt, ...)
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

static char *make_ok(bool has_id, json_int_t id, json_t *result)
{
    json_t *r = response_head(has_id, id, true);

    if (!r) {
        json_decref(result);
        return NULL;
    }
    json_object_set_new(r, "result", result ? result : json_object());
    return dump_line(r);
}

/* ---- client output ----------------------------------------------------- */

static void client_send(Client *cl, const char *line)
{
    size_t len = strlen(line), need;

    if (cl->dead)
        return;
    need = cl->out_len + len + 1;
    if (need > OUT_MAX) {
        log_warn("control: dropping a client that does not read its messages");
        cl->dead = true;
        return;
    }
    if (need > cl->out_cap) {
        size_t cap = cl->out_cap ? cl->out_cap : 4096;
        char *p;
        while (cap < need)
            cap *= 2;
        p = realloc(cl->out, cap);
        if (!p) {
            cl->dead = true;
            return;
        }
        cl->out = p;
        cl->out_cap = cap;
    }
    memcpy(cl->out + cl->out_len, line, len);
    cl->out[cl->out_len + len] = '\n';
    cl->out_len += len + 1;
}

static void client_flush(Client *cl)
{
    while (cl->out_len && !cl->dead) {
        ssize_t n = send(cl->fd, cl->out, cl->out_len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                cl->dead = true;
            return;
        }
        memmove(cl->out, cl->out + n, cl->out_len - (size_t)n);
        cl->out_len -= (size_t)n;
    }
}

void control_event(Control *c, const char *event, const char *reason)
{
    json_t *e = json_object();
    char *line;

    if (!e)
        return;
    json_object_set_new(e, "event", json_string(event));
    if (reason)
        json_object_set_new(e, "reason", json_string(reason));
    line = dump_line(e);
    if (!line)
        return;
    for (unsigned i = 0; i < c->nclients; i++)
        client_send(c->clients[i], line);
    free(line);
}

/* ---- commands ---------------------------------------------------------- */

typedef struct Request {
    bool has_id;
    json_int_t id;
    json_t *args;            /* the request object */
    Client *who;
} Request;

typedef char *(*cmd_fn)(Control *c, Request *r);

/* An integer argument in [lo, hi]; on error *errp is the response. */
static int int_arg(Request *r, const char *key, json_int_t lo, json_int_t hi,
                   json_int_t *out, char **errp)
{
    json_t *v = json_object_get(r->args, key);

    if (!v) {
        *errp = make_error(r->has_id, r->id, "missing argument '%s'", key);
        return -1;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        *errp = make_error(r->has_id, r->id, "'%s' must be an integer from %lld to %lld",
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
        m->engine && m->engine->cpu_time_ns ? (json_int_t)m->engine->cpu_time_ns(m) : 0));
    json_object_set_new(res, "uptime_ns", json_integer((json_int_t)(now_ns() - c->start_ns)));
    json_object_set_new(res, "pid", json_integer(getpid()));
    json_object_set_new(res, "engine", json_string(m->engine ? m->engine->name : "none"));
    json_object_set_new(res, "console", c->console_path ? jstr(c->console_path) : json_null());
    return make_ok(r->has_id, r->id, res);
}

static char *cmd_pause(Control *c, Request *r)
{
    Machine *m = c->m;

    if (!c->paused) {
        /* A vCPU may be waiting for the device lock inside an MMIO access;
         * it can only reach an instruction boundary once we let go. */
        if (c->lock_held)
            pthread_mutex_unlock(&m->dev_lock);
        if (m->engine && m->engine->pause)
            m->engine->pause(m);
        if (c->lock_held)
            pthread_mutex_lock(&m->dev_lock);
        c->paused = true;
        c->pending_event = "paused";
    }
    return make_ok(r->has_id, r->id, NULL);
}

static char *cmd_resume(Control *c, Request *r)
{
    Machine *m = c->m;

    if (c->paused) {
        if (m->engine && m->engine->resume)
            m->engine->resume(m);
        c->paused = false;
        c->pending_event = "resumed";
    }
    return make_ok(r->has_id, r->id, NULL);
}

static char *cmd_balloon(Control *c, Request *r)
{
    json_int_t mib;
    char *err;

    if (int_arg(r, "target_mib", 1, (json_int_t)c->m->cfg.memory_mib, &mib, &err))
        return err;
    if (!c->m->balloon)
        return make_error(r->has_id, r->id, "this VM has no balloon device");
    virtio_balloon_set_target(c->m->balloon, (uint64_t)mib << 20);
    c->balloon_target_mib = (uint64_t)mib;
    return make_ok(r->has_id, r->id, NULL);
}

static char *cmd_balloon_stats(Control *c, Request *r)
{
    BalloonStats st;
    json_t *res;

    if (!c->m->balloon)
        return make_error(r->has_id, r->id, "this VM has no balloon device");
    memset(&st, 0, sizeof(st));
    if (virtio_balloon_get_stats(c->m->balloon, &st) || !st.valid)
        return make_error(r->has_id, r->id,
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
    return make_ok(r->has_id, r->id, res);
}

/* Send one line to the guest agent; the response is deferred until the
 * agent answers or the timeout passes. */
static char *agent_request(Control *c, Request *r, const char *line, unsigned vcpus)
{
    size_t len = strlen(line);
    ssize_t n;

    if (c->agent_fd < 0)
        return make_error(r->has_id, r->id, "this VM has no guest agent channel");
    if (c->paused)
        return make_error(r->has_id, r->id, "the VM is paused; resume it first");
    if (c->req.active)
        return make_error(r->has_id, r->id, "the guest agent is busy with another request");
    n = send(c->agent_fd, line, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n != (ssize_t)len)
        return make_error(r->has_id, r->id, "cannot write to the guest agent channel");
    c->req.active = true;
    c->req.who = r->who;
    c->req.has_id = r->has_id;
    c->req.id = r->id;
    c->req.vcpus = vcpus;
    c->req.deadline_ns = now_ns() + (uint64_t)c->agent_timeout_ms * 1000000ull;
    return NULL;
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
    return make_ok(r->has_id, r->id, NULL);
}

static const struct {
    const char *name;
    cmd_fn fn;
    const char *args[2];     /* the arguments it takes besides id and cmd */
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
};

static char *dispatch(Control *c, Client *who, const char *line, size_t len)
{
    json_error_t jerr;
    json_t *req, *v;
    Request r = { .who = who };
    const char *cmd, *key;
    char *resp = NULL;
    unsigned i;

    req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!req)
        return make_error(false, 0, "invalid JSON: %s", jerr.text);
    if (!json_is_object(req)) {
        json_decref(req);
        return make_error(false, 0, "a request must be a JSON object");
    }
    r.args = req;
    v = json_object_get(req, "id");
    if (v) {
        if (!json_is_integer(v)) {
            resp = make_error(false, 0, "'id' must be an integer");
            goto out;
        }
        r.has_id = true;
        r.id = json_integer_value(v);
    }
    v = json_object_get(req, "cmd");
    if (!v || !json_is_string(v)) {
        resp = make_error(r.has_id, r.id, "missing \"cmd\" (a string)");
        goto out;
    }
    cmd = json_string_value(v);
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(commands[i].name, cmd))
            break;
    if (i == sizeof(commands) / sizeof(commands[0])) {
        resp = make_error(r.has_id, r.id, "unknown command '%.64s'", cmd);
        goto out;
    }
    json_object_foreach(req, key, v) {
        bool known = !strcmp(key, "id") || !strcmp(key, "cmd");
        for (unsigned k = 0; !known && commands[i].args[k]; k++)
            known = !strcmp(key, commands[i].args[k]);
        if (!known) {
            resp = make_error(r.has_id, r.id, "%s: unknown argument '%.64s'", cmd, key);
            goto out;
        }
    }
    resp = commands[i].fn(c, &r);
    if (!resp && !c->req.active)     /* out of memory, not deferred */
        resp = make_error(r.has_id, r.id, "out of memory");
out:
    json_decref(req);
    return resp;
}

char *control_handle_line(Control *c, void *who, const char *line, size_t len)
{
    return dispatch(c, who, line, len);
}

/* ---- guest agent ------------------------------------------------------- */

static void agent_finish(Control *c, bool ok, const char *text)
{
    AgentRequest *q = &c->req;
    char *line;

    q->active = false;
    line = ok ? make_ok(q->has_id, q->id, NULL)
              : make_error(q->has_id, q->id, "%s", text);
    if (line && q->who)
        client_send(q->who, line);
    free(line);
    q->who = NULL;
}

static void agent_line(Control *c, char *line)
{
    size_t n = strlen(line);

    if (n && line[n - 1] == '\r')
        line[--n] = 0;
    if (!c->req.active)
        return;                   /* unsolicited (or late) answer */
    if (!strcmp(line, "ok")) {
        if (c->req.vcpus)
            c->vcpus_online = c->req.vcpus;
        agent_finish(c, true, NULL);
    } else if (!strncmp(line, "error", 5) && (line[5] == ' ' || !line[5])) {
        char msg[300];
        snprintf(msg, sizeof(msg), "guest agent: %.256s", line[5] ? line + 6 : "failed");
        agent_finish(c, false, msg);
    }
}

static void agent_read(Control *c)
{
    char buf[512];
    ssize_t n;

    while ((n = recv(c->agent_fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\n') {
                c->agent_in[c->agent_in_len] = 0;
                agent_line(c, c->agent_in);
                c->agent_in_len = 0;
            } else if (c->agent_in_len < sizeof(c->agent_in) - 1) {
                c->agent_in[c->agent_in_len++] = buf[i] ? buf[i] : '?';
            }   /* an over-long line is truncated */
        }
    }
}

static void agent_check_timeout(Control *c)
{
    char junk[512];

    if (!c->req.active || now_ns() < c->req.deadline_ns)
        return;
    /* Take back what the guest never read, so it cannot act on it later. */
    if (c->agent_dev_fd >= 0)
        while (recv(c->agent_dev_fd, junk, sizeof(junk), MSG_DONTWAIT) > 0)
            ;
    agent_finish(c, false, "guest agent did not answer");
}

/* ---- clients ----------------------------------------------------------- */

/* Handle complete lines in the input buffer while the client keeps up with
 * its output. */
static void client_process(Control *c, Client *cl)
{
    size_t start = 0;

    while (!cl->dead && cl->out_len < OUT_PAUSE) {
        char *nl = memchr(cl->in + start, '\n', cl->in_len - start);
        size_t len;
        char *resp;

        if (!nl)
            break;
        len = (size_t)(nl - (cl->in + start));
        if (len && cl->in[start + len - 1] == '\r')
            len--;
        if (len) {
            resp = dispatch(c, cl, cl->in + start, len);
            if (resp) {
                client_send(cl, resp);
                free(resp);
            }
            if (c->pending_event) {
                control_event(c, c->pending_event, NULL);
                c->pending_event = NULL;
            }
        }
        start = (size_t)(nl - cl->in) + 1;
    }
    if (start) {
        memmove(cl->in, cl->in + start, cl->in_len - start);
        cl->in_len -= start;
    }
    if (cl->in_len > CONTROL_MAX_LINE && !cl->dead && !memchr(cl->in, '\n', cl->in_len)) {
        char *e = make_error(false, 0, "request line longer than %d bytes", CONTROL_MAX_LINE);
        if (e)
            client_send(cl, e);
        free(e);
        cl->in_len = 0;
        cl->close_when_flushed = true;
    }
}

static int client_append_input(Client *cl, const void *buf, size_t len)
{
    const size_t cap = CONTROL_MAX_LINE + 2;   /* a full line, "\r\n" */

    if (!cl->in) {
        cl->in = malloc(cap);
        if (!cl->in)
            return -1;
    }
    if (len > cap - cl->in_len)
        len = cap - cl->in_len;
    memcpy(cl->in + cl->in_len, buf, len);
    cl->in_len += len;
    return (int)len;
}

static void client_read(Control *c, Client *cl)
{
    char buf[16384];

    /* Read at most until the buffer is full; client_process makes room. */
    while (!cl->dead && !cl->eof && !cl->close_when_flushed && cl->out_len < OUT_PAUSE) {
        size_t room = CONTROL_MAX_LINE + 2 - cl->in_len;
        ssize_t n;

        if (room == 0)
            break;
        n = recv(cl->fd, buf, room < sizeof(buf) ? room : sizeof(buf), MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                cl->dead = true;
            return;
        }
        if (n == 0) {
            cl->eof = true;       /* answer what was asked, then close */
            break;
        }
        if (client_append_input(cl, buf, (size_t)n) < 0) {
            cl->dead = true;
            return;
        }
        client_process(c, cl);
    }
}

static void client_free(Client *cl)
{
    if (cl->fd >= 0)
        close(cl->fd);
    free(cl->in);
    free(cl->out);
    free(cl);
}

static void reap_clients(Control *c)
{
    unsigned j = 0;

    for (unsigned i = 0; i < c->nclients; i++) {
        Client *cl = c->clients[i];
        if ((cl->eof || cl->close_when_flushed) && !cl->out_len &&
            !(c->req.active && c->req.who == cl))
            cl->dead = true;
        if (cl->dead) {
            if (c->req.who == cl)
                c->req.who = NULL;
            client_free(cl);
        } else {
            c->clients[j++] = cl;
        }
    }
    c->nclients = j;
}

int control_add_client(Control *c, int fd)
{
    Client *cl;
    int fl = fcntl(fd, F_GETFL);

    if (fl >= 0)
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    if (c->nclients >= CONTROL_MAX_CLIENTS) {
        static const char msg[] = "{\"ok\":false,\"error\":\"too many control clients\"}\n";
        ssize_t r = send(fd, msg, sizeof(msg) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
        (void)r;
        close(fd);
        return -1;
    }
    cl = calloc(1, sizeof(*cl));
    if (!cl) {
        close(fd);
        return -1;
    }
    cl->fd = fd;
    cl->idx = -1;
    c->clients[c->nclients++] = cl;
    return 0;
}

int control_feed_first_client(Control *c, const void *buf, size_t len)
{
    Client *cl = c->nclients ? c->clients[0] : NULL;
    const char *p = buf;

    if (!cl)
        return -1;
    while (len && !cl->dead && !cl->close_when_flushed) {
        int n = client_append_input(cl, p, len);
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
        client_process(c, cl);
        if (cl->out_len >= OUT_PAUSE)
            cl->out_len = 0;      /* nobody reads here: discard */
    }
    if (cl->dead || cl->close_when_flushed) {
        cl->dead = true;
        reap_clients(c);
        return -1;
    }
    return 0;
}

/* ---- polling ----------------------------------------------------------- */

static int add_pollfd(Control *c, Loop *l, int fd, short events)
{
    if (l)
        return loop_hook_add_pollfd(l, fd, events);
    if (c->own_npfd >= c->own_max)
        return -1;
    c->own_pfd[c->own_npfd] = (struct pollfd){ .fd = fd, .events = events };
    return c->own_npfd++;
}

static short revents_of(Control *c, Loop *l, int idx)
{
    if (idx < 0)
        return 0;
    if (l)
        return loop_hook_revents(l, idx);
    return idx < c->own_npfd ? c->own_pfd[idx].revents : 0;
}

static void prepare(Control *c, Loop *l, int *timeout_ms)
{
    c->listen_idx = c->listen_fd >= 0 && c->nclients < CONTROL_MAX_CLIENTS
                    ? add_pollfd(c, l, c->listen_fd, POLLIN) : -1;
    c->agent_idx = c->agent_fd >= 0 ? add_pollfd(c, l, c->agent_fd, POLLIN) : -1;
    for (unsigned i = 0; i < c->nclients; i++) {
        Client *cl = c->clients[i];
        short ev = 0;
        if (!cl->eof && !cl->close_when_flushed && cl->out_len < OUT_PAUSE)
            ev |= POLLIN;
        if (cl->out_len)
            ev |= POLLOUT;
        /* Nothing to wait for (e.g. half-closed, awaiting the agent): do
         * not poll, or a hang-up would be reported over and over. */
        cl->idx = ev ? add_pollfd(c, l, cl->fd, ev) : -1;
    }
    if (c->req.active && timeout_ms) {
        uint64_t now = now_ns();
        int left = now >= c->req.deadline_ns ? 0
                   : (int)((c->req.deadline_ns - now) / 1000000ull) + 1;
        if (*timeout_ms < 0 || left < *timeout_ms)
            *timeout_ms = left;
    }
}

static void dispatch_round(Control *c, Loop *l)
{
    if (revents_of(c, l, c->listen_idx) & POLLIN) {
        for (;;) {
            int fd = accept4(c->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0)
                break;
            control_add_client(c, fd);
        }
    }
    if (revents_of(c, l, c->agent_idx) & (POLLIN | POLLHUP))
        agent_read(c);
    agent_check_timeout(c);
    for (unsigned i = 0; i < c->nclients; i++) {
        Client *cl = c->clients[i];
        short re = revents_of(c, l, cl->idx);
        cl->idx = -1;
        if (re & POLLOUT)
            client_flush(cl);
        if (re & (POLLIN | POLLHUP | POLLERR))
            client_read(c, cl);
        if (re & POLLNVAL)
            cl->dead = true;
        /* Output drained below the mark: serve lines already buffered. */
        if (!cl->dead && cl->in_len && cl->out_len < OUT_PAUSE)
            client_process(c, cl);
        client_flush(cl);
    }
    /* Responses to other clients (events, agent answers): try now. */
    for (unsigned i = 0; i < c->nclients; i++)
        client_flush(c->clients[i]);
    reap_clients(c);
}

static void hook_prepare(void *opaque, Loop *l, int *timeout_ms)
{
    prepare(opaque, l, timeout_ms);
}

static void hook_dispatch(void *opaque, Loop *l)
{
    dispatch_round(opaque, l);
}

void control_run_once(Control *c)
{
    struct pollfd pfd[CONTROL_MAX_CLIENTS + 2];
    int timeout = 0;

    c->own_pfd = pfd;
    c->own_npfd = 0;
    c->own_max = (int)(sizeof(pfd) / sizeof(pfd[0]));
    prepare(c, NULL, &timeout);
    if (poll(pfd, (nfds_t)c->own_npfd, 0) < 0)
        c->own_npfd = 0;
    dispatch_round(c, NULL);
    c->own_pfd = NULL;
    c->own_npfd = 0;
}

/* ---- life cycle -------------------------------------------------------- */

Control *control_new(Machine *m)
{
    Control *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    c->m = m;
    c->listen_fd = -1;
    c->listen_idx = -1;
    c->agent_fd = -1;
    c->agent_dev_fd = -1;
    c->agent_idx = -1;
    c->agent_timeout_ms = CONTROL_AGENT_TIMEOUT_MS;
    c->start_ns = now_ns();
    c->balloon_target_mib = m->cfg.memory_mib;
    c->vcpus_online = m->cfg.vcpus;
    return c;
}

void control_set_agent(Control *c, int host_fd, int dev_fd, unsigned timeout_ms)
{
    c->agent_fd = host_fd;
    c->agent_dev_fd = dev_fd;
    c->agent_timeout_ms = timeout_ms;
}

bool control_destroyed(const Control *c)
{
    return c && c->destroyed;
}

void control_free(Control *c)
{
    if (!c)
        return;
    for (unsigned i = 0; i < c->nclients; i++)
        client_free(c->clients[i]);
    if (c->listen_fd >= 0)
        close(c->listen_fd);
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
        probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            close(probe);
            snprintf(err, errlen, "%s: another process is listening there", path);
            return -1;
        }
        if (probe >= 0)
            close(probe);
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
    LoopHook hook = { hook_prepare, hook_dispatch, NULL };

    if (!c || !(c->path = strdup(path)) ||
        (console_path && !(c->console_path = strdup(console_path)))) {
        snprintf(err, errlen, "out of memory");
        control_free(c);
        return NULL;
    }
    c->listen_fd = control_listen_unix(path, err, errlen);
    if (c->listen_fd < 0) {
        control_free(c);
        return NULL;
    }
    if (agent_pair[0] >= 0)
        control_set_agent(c, agent_pair[0], agent_pair[1], CONTROL_AGENT_TIMEOUT_MS);
    hook.opaque = c;
    if (loop_add_hook(m->loop, &hook) < 0) {
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
    default: return "crash";
    }
}

void control_stop(Control *c)
{
    uint64_t deadline;

    if (!c)
        return;
    if (c->req.active)
        agent_finish(c, false, "the VM stopped");
    /* Clients still in the listen backlog hear about it too. */
    for (int fd; c->listen_fd >= 0 &&
         (fd = accept4(c->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0;)
        control_add_client(c, fd);
    control_event(c, "stopped", stop_reason(c));
    /* Give readers up to a second to take their last messages. */
    deadline = now_ns() + 1000000000ull;
    for (;;) {
        struct pollfd pfd[CONTROL_MAX_CLIENTS];
        nfds_t n = 0;
        uint64_t now;
        for (unsigned i = 0; i < c->nclients; i++) {
            client_flush(c->clients[i]);
            if (c->clients[i]->out_len && !c->clients[i]->dead)
                pfd[n++] = (struct pollfd){ .fd = c->clients[i]->fd, .events = POLLOUT };
        }
        now = now_ns();
        if (!n || now >= deadline)
            break;
        if (poll(pfd, n, (int)((deadline - now) / 1000000ull) + 1) <= 0)
            break;
    }
    if (c->path)
        unlink(c->path);
    if (c->lock_held)
        loop_del_hook(c->m->loop, c);
    control_free(c);
}

VirtioDevice *control_agent_create(Machine *m, char *err, size_t errlen)
{
    VirtioDevice *vd;

    if (agent_pair[0] < 0 &&
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, agent_pair) < 0) {
        snprintf(err, errlen, "guest agent channel: %s", strerror(errno));
        return NULL;
    }
    vd = virtio_console_create(&m->mem, m->loop, agent_pair[1], agent_pair[1], err, errlen);
    return vd;
}
