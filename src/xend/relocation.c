/* Live migration between xends (docs/protocols.md §4), as Xen's
 * xend-relocation-server.
 *
 * Destination: the relocation server (off unless the config file turns it
 * on) accepts a TCP connection from a host on the allow-list, greets it
 * in clear with the TLS mode, shakes hands (TLS 1.3, PSK or x509), reads
 * the request (name, uuid, config, live, paused), checks that the domain
 * can come (no domain of that name or uuid here, a config this host can
 * run), registers it as incoming, starts `xeno-vmm --incoming fd:3` on the
 * connection itself (under TLS with `--stream-key fd:4`, a one-time key
 * for the VMMs' own TLS session) and answers ok, with that key. The two
 * VMMs stream to each other on the connection; xend carries no byte of
 * it. The domain runs here once its VMM's control socket answers (the VMM
 * creates it only after the hand-over). If anything fails, the VMM ends
 * and the domain is forgotten: nothing stays behind.
 *
 * Source (job_migrate): connect, check the greeting, TLS, request,
 * answer; then `migrate` to the VMM with the connection (uri fd:N, passed
 * with SCM_RIGHTS) and the key, relaying the VMM's `migration` events as
 * progress. The VMM
 * exits with status 6 once the destination has started the domain; the
 * supervision loop then forgets the domain here (and its managed config,
 * which moved with it). On any failure the VMM resumes the domain. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/hostcaps.h"
#include "common/log.h"
#include "common/util.h"
#include "reloc_conn.h"
#include "xend.h"

#define CONNECT_MS     10000
#define HANDSHAKE_MS   15000
#define REQUEST_MS     30000
#define ANSWER_MS      60000
#define VMM_CMD_MS     10000
#define POLL_MS        10      /* the destination's VMM taking over */

static int listen_fd = -1;
static int stop_pipe[2] = { -1, -1 };
static pthread_t accept_tid;
static bool accept_running;
static RelocAllow *allow;

static void host_name(char *buf, size_t size)
{
    buf[0] = '\0';
    gethostname(buf, size - 1);
    buf[size - 1] = '\0';
}

/* ---- the destination ---- */

typedef struct Incoming {
    int fd;
    char addr[INET6_ADDRSTRLEN + 8];
} Incoming;

/* Is the peer on the allow-list? Its numeric address first; its name
 * (reverse lookup) only when the address did not match. */
static bool peer_allowed(const struct sockaddr_storage *ss, socklen_t sl, const char *addr)
{
    char name[NI_MAXHOST];

    if (reloc_allow_match(allow, addr, NULL))
        return true;
    if (getnameinfo((const struct sockaddr *)ss, sl, name, sizeof(name), NULL, 0, NI_NAMEREQD))
        return false;
    return reloc_allow_match(allow, addr, name);
}

/* The domain of req, registered as incoming (a reference for the caller),
 * or NULL with why it cannot come. */
static Domain *incoming_domain(const RelocRequest *req, char *err, size_t errlen)
{
    char host[128];
    Domain *d, *clash;

    host_name(host, sizeof(host));
    d = dom_from_config("the migrating domain's config", req->config, strlen(req->config),
                        NULL, 0, err, errlen);
    if (!d)
        return NULL;
    if (strcmp(d->name, req->name) || strcasecmp(d->uuid, req->uuid)) {
        snprintf(err, errlen, "the request's name and uuid do not match its configuration");
        dom_put(d);
        return NULL;
    }
    if (d->cfg->engine == CFG_ENGINE_KVM) {
        HostCaps c;
        hostcaps_probe(&c);
        if (c.kvm != HOSTCAPS_KVM_USABLE) {
            snprintf(err, errlen, "domain '%s' needs the kvm engine, which %s cannot run (%s)",
                     d->name, host, c.kvm_error[0] ? c.kvm_error : "no /dev/kvm");
            dom_put(d);
            return NULL;
        }
    }
    pthread_mutex_lock(&reg_lock);
    clash = reg_find_name_locked(d->name);
    if (clash || reg_add_locked(d) < 0) {
        pthread_mutex_unlock(&reg_lock);
        if (clash)
            snprintf(err, errlen, "Domain '%s' already exists on %s (%s).", d->name, host,
                     clash->pid > 0 ? "running" : "defined");
        else
            snprintf(err, errlen, "a domain with uuid %s already exists on %s", d->uuid, host);
        dom_put(d);
        return NULL;
    }
    d->incoming = true;
    dom_get(d);
    pthread_mutex_unlock(&reg_lock);
    return d;
}

/* Send the answer; on error the connection is closed by the caller. */
static void answer(RelocConn *c, const char *error, const char *stream_key)
{
    char *line = reloc_answer_encode(error, stream_key), err[256];

    if (line && rconn_write_all(c, line, strlen(line), REQUEST_MS, err, sizeof(err)) < 0)
        log_debug("relocation: cannot answer: %s", err);
    if (line)
        explicit_bzero(line, strlen(line));
    free(line);
}

/* A managed domain that arrived stays managed here. */
static void adopt_managed(Domain *d, const RelocRequest *req)
{
    reg_update_begin();
    if (req->managed && !d->removed) {
        d->managed = true;
        d->autostart = req->autostart;
        state_queue_config(d->name, d->config);
        if (req->autostart)
            state_queue_autostart(d->name, true);
    }
    if (reg_update_end() < 0)
        log_err("domain %s: cannot save its configuration in %s", d->name, xconf.state_dir);
}

/* Run the migration in: the VMM on the connection, the wait for the
 * hand-over. */
static void receive_domain(const Incoming *in, RelocConn *c, const RelocRequest *req)
{
    char err[1024], key[RELOC_STREAM_KEY_HEX + 1] = "";
    StartOpts o = { .incoming_fd = -1, .paused = req->paused };
    SupLaunch l;
    Domain *d;
    int r;

    if (!(d = incoming_domain(req, err, sizeof(err)))) {
        log_warn("relocation from %s: refused domain %s: %s", in->addr, req->name, err);
        answer(c, err, NULL);
        rconn_close(c);
        return;
    }
    /* The VMM streams on the connection itself: under TLS in a session of
     * its own, keyed with a key made for this migration only. */
    if (xconf.reloc.tls != RELOC_TLS_NONE && reloc_stream_key(key, err, sizeof(err)) < 0)
        goto refuse;
    o.incoming_fd = rconn_release_fd(c, err, sizeof(err));
    if (o.incoming_fd < 0)
        goto refuse;
    o.stream_key = key[0] ? key : NULL;
    r = sup_launch(d, &o, &l, err, sizeof(err));
    close(o.incoming_fd);
    if (r < 0)
        goto refuse;
    log_info("relocation from %s: receiving domain %s (%s, id %d)", in->addr, req->name,
             req->live ? "live" : "not live", l.id);
    log_debug("relocation from %s: the VMM streams on the relocation connection itself (%s)",
              in->addr, o.stream_key ? "in a TLS session of its own" : "plain");
    answer(c, NULL, o.stream_key);
    explicit_bzero(key, sizeof(key));
    /* The VMM ends the stream, by taking the domain over or by exiting. */
    while (!(r = sup_poll_ready(d, &l, err, sizeof(err))))
        usleep(POLL_MS * 1000);
    rconn_close(c);
    if (r > 0) {
        adopt_managed(d, req);
        log_info("relocation from %s: domain %s runs here (id %d)", in->addr, req->name, l.id);
    } else {
        log_warn("relocation from %s: domain %s not received: %s", in->addr, req->name, err);
    }
    dom_put(d);
    return;

refuse:
    explicit_bzero(key, sizeof(key));
    log_warn("relocation from %s: domain %s: %s", in->addr, req->name, err);
    pthread_mutex_lock(&reg_lock);
    if (d->pid <= 0 && d->state != DS_STARTING)
        reg_remove_locked(d);
    pthread_mutex_unlock(&reg_lock);
    answer(c, err, NULL);
    rconn_close(c);
    dom_put(d);
}

static void *incoming_thread(void *arg)
{
    Incoming *in = arg;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char banner[512], err[1024], host[128], *line;
    RelocConn *c;
    RelocRequest req;
    size_t len;

    if (getpeername(in->fd, (struct sockaddr *)&ss, &sl) < 0 ||
        getnameinfo((struct sockaddr *)&ss, sl, in->addr, sizeof(in->addr), NULL, 0,
                    NI_NUMERICHOST)) {
        close(in->fd);
        free(in);
        return NULL;
    }
    /* An IPv4 peer on a dual-stack socket: its plain address. */
    if (!strncmp(in->addr, "::ffff:", 7) && strchr(in->addr, '.'))
        memmove(in->addr, in->addr + 7, strlen(in->addr + 7) + 1);
    reloc_tcp_tune(in->fd, xconf.reloc.timeout_s);
    host_name(host, sizeof(host));
    if (!peer_allowed(&ss, sl, in->addr)) {
        char why[300];
        snprintf(why, sizeof(why), "%s is not in xend-relocation-hosts-allow of %s", in->addr, host);
        log_warn("relocation: refused a connection from %s (not in xend-relocation-hosts-allow)",
                 in->addr);
        if (reloc_banner(banner, sizeof(banner), xconf.reloc.tls, why) > 0) {
            ssize_t w = send(in->fd, banner, strlen(banner), MSG_NOSIGNAL);
            (void)w;
        }
        close(in->fd);
        free(in);
        return NULL;
    }
    if (reloc_banner(banner, sizeof(banner), xconf.reloc.tls, NULL) < 0 ||
        send(in->fd, banner, strlen(banner), MSG_NOSIGNAL) != (ssize_t)strlen(banner)) {
        close(in->fd);
        free(in);
        return NULL;
    }
    c = rconn_server(in->fd, &xconf.reloc, HANDSHAKE_MS, err, sizeof(err));
    if (!c) {
        log_warn("relocation: connection from %s: %s", in->addr, err);
        free(in);
        return NULL;
    }
    line = rconn_read_line(c, RELOC_MAX_REQUEST, REQUEST_MS, &len, err, sizeof(err));
    if (!line) {
        log_warn("relocation: connection from %s: no request: %s", in->addr, err);
        rconn_close(c);
        free(in);
        return NULL;
    }
    if (reloc_request_parse(line, len, &req, err, sizeof(err)) < 0) {
        log_warn("relocation: connection from %s: %s", in->addr, err);
        answer(c, err, NULL);
        rconn_close(c);
    } else {
        receive_domain(in, c, &req);
        reloc_request_free(&req);
    }
    free(line);
    free(in);
    return NULL;
}

static void *accept_loop(void *arg)
{
    (void)arg;
    for (;;) {
        struct pollfd p[2] = { { .fd = listen_fd, .events = POLLIN },
                               { .fd = stop_pipe[0], .events = POLLIN } };
        Incoming *in;
        pthread_t t;
        int fd;

        if (poll(p, 2, -1) < 0 && errno != EINTR)
            break;
        if (p[1].revents)
            break;
        if (!p[0].revents)
            continue;
        fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        in = calloc(1, sizeof(*in));
        if (!in) {
            close(fd);
            continue;
        }
        in->fd = fd;
        if (pthread_create(&t, NULL, incoming_thread, in)) {
            close(fd);
            free(in);
            continue;
        }
        pthread_detach(t);
    }
    return NULL;
}

static int bind_reloc(char *err, size_t errlen)
{
    const RelocConf *rc = &xconf.reloc;
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV },
                    *res, *ai;
    char port[16];
    int r, fd = -1, e = EADDRNOTAVAIL, one = 1, zero = 0;

    snprintf(port, sizeof(port), "%d", rc->port);
    if (!rc->address[0])
        hints.ai_family = AF_INET6;   /* "::", dual-stack; else 0.0.0.0 below */
    r = getaddrinfo(rc->address[0] ? rc->address : NULL, port, &hints, &res);
    if (r && !rc->address[0]) {
        hints.ai_family = AF_UNSPEC;
        r = getaddrinfo(NULL, port, &hints, &res);
    }
    if (r) {
        snprintf(err, errlen, "xend-relocation-address '%s': %s", rc->address, gai_strerror(r));
        return -1;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            e = errno;
            continue;
        }
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (ai->ai_family == AF_INET6 && !rc->address[0])
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 16) == 0)
            break;
        e = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0 && !rc->address[0] && hints.ai_family == AF_INET6) {
        /* No IPv6 here: every IPv4 address. */
        struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)rc->port) };
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0) {
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
            if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 16) < 0) {
                e = errno;
                close(fd);
                fd = -1;
            }
        }
    }
    if (fd < 0) {
        snprintf(err, errlen, "cannot listen on %s port %d for relocation: %s",
                 rc->address[0] ? rc->address : "every address", rc->port, strerror(e));
        return -1;
    }
    return fd;
}

int reloc_server_start(char *err, size_t errlen)
{
    const RelocConf *rc = &xconf.reloc;

    if (!rc->server)
        return 0;
    allow = reloc_allow_compile(rc->hosts_allow, err, errlen);
    if (!allow)
        return -1;
    if (rc->tls == RELOC_TLS_PSK && reloc_psk_check(rc->psk_file, err, errlen) < 0)
        return -1;
    if (rc->tls == RELOC_TLS_X509 &&
        (access(rc->cert_file, R_OK) < 0 || access(rc->key_file, R_OK) < 0 ||
         (rc->ca_file[0] && access(rc->ca_file, R_OK) < 0))) {
        snprintf(err, errlen, "cannot read the relocation certificate, key or CA: %s",
                 strerror(errno));
        return -1;
    }
    if (rc->tls == RELOC_TLS_NONE)
        log_warn("relocation server: xend-relocation-tls is none: migration streams travel "
                 "in clear, without authentication");
    if (pipe2(stop_pipe, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        return -1;
    }
    listen_fd = bind_reloc(err, errlen);
    if (listen_fd < 0)
        return -1;
    if (pthread_create(&accept_tid, NULL, accept_loop, NULL)) {
        snprintf(err, errlen, "cannot start the relocation server thread");
        close(listen_fd);
        listen_fd = -1;
        return -1;
    }
    accept_running = true;
    log_info("relocation server listening on %s port %d (tls %s%s)",
             rc->address[0] ? rc->address : "every address", rc->port, reloc_tls_name(rc->tls),
             rc->hosts_allow[0] ? ", hosts-allow set" : ", every host allowed");
    return 0;
}

void reloc_server_stop(void)
{
    if (accept_running) {
        ssize_t w = write(stop_pipe[1], "x", 1);
        (void)w;
        pthread_join(accept_tid, NULL);
        accept_running = false;
    }
    if (listen_fd >= 0)
        close(listen_fd);
    listen_fd = -1;
    reloc_allow_free(allow);
    allow = NULL;
}

/* ---- the source ---- */

/* What the source side of one migration holds. */
typedef struct Out {
    Domain *d;
    const JobArgs *a;
    char name[64], uuid[37], sock[PATH_MAX];
    char *config;
    bool managed, autostart, paused;
    int id;
    uint64_t seq;
    char dest[300];            /* "host:port", for messages */
} Out;

static void progress(Out *o, const char *state, json_t *fields)
{
    json_t *ev = fields ? fields : json_object();

    json_object_set_new(ev, "op", json_string("migrate"));
    json_object_set_new(ev, "state", json_string(state));
    json_object_set_new(ev, "destination", json_string(o->dest));
    events_emit_progress(ev, o->name, o->id, o->a->job);
}

/* Connect, greeting, TLS, request, answer: the connection the stream
 * will take (and under TLS the stream's key, RELOC_STREAM_KEY_HEX + 1
 * bytes), or NULL with why not. */
static RelocConn *open_relocation(Out *o, char *key, char *err, size_t errlen)
{
    const RelocConf *rc = &xconf.reloc;
    char line[512], why[512], *ans;
    enum reloc_tls mode = RELOC_TLS_PSK;
    RelocRequest req;
    RelocConn *c;
    size_t len;
    int fd, r;

    fd = reloc_tcp_connect(o->a->host, o->a->port, CONNECT_MS, why, sizeof(why));
    if (fd < 0) {
        snprintf(err, errlen, "%s (is xend-relocation-server on there?)", why);
        return NULL;
    }
    reloc_tcp_tune(fd, rc->timeout_s);
    if (reloc_read_line_raw(fd, line, sizeof(line), HANDSHAKE_MS, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "%s did not greet as a relocation server: %s", o->dest, why);
        close(fd);
        return NULL;
    }
    r = reloc_banner_parse(line, &mode, why, sizeof(why));
    if (r != 0) {
        if (r > 0)
            snprintf(err, errlen, "%s refused the connection: %s", o->dest, why);
        else if (why[0])
            snprintf(err, errlen, "%s: %s", o->dest, why);
        else
            snprintf(err, errlen, "%s is not a Xeno relocation server", o->dest);
        close(fd);
        return NULL;
    }
    if (mode != rc->tls) {
        snprintf(err, errlen, "%s uses xend-relocation-tls %s, this host %s", o->dest,
                 reloc_tls_name(mode), reloc_tls_name(rc->tls));
        close(fd);
        return NULL;
    }
    c = rconn_client(fd, rc, o->a->host, HANDSHAKE_MS, why, sizeof(why));
    if (!c) {
        snprintf(err, errlen, "%s: %s", o->dest, why);
        return NULL;
    }
    memset(&req, 0, sizeof(req));
    snprintf(req.name, sizeof(req.name), "%s", o->name);
    snprintf(req.uuid, sizeof(req.uuid), "%s", o->uuid);
    req.config = o->config;
    req.live = o->a->live;
    req.paused = o->paused;
    req.managed = o->managed;
    req.autostart = o->autostart;
    ans = reloc_request_encode(&req);
    if (!ans || rconn_write_all(c, ans, strlen(ans), REQUEST_MS, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "%s: cannot send the request: %s", o->dest, ans ? why : "out of memory");
        free(ans);
        rconn_close(c);
        return NULL;
    }
    free(ans);
    ans = rconn_read_line(c, 4096, ANSWER_MS, &len, why, sizeof(why));
    if (!ans) {
        snprintf(err, errlen, "%s did not answer: %s", o->dest, why);
        rconn_close(c);
        return NULL;
    }
    r = reloc_answer_parse(ans, len, key, why, sizeof(why));
    explicit_bzero(ans, len);
    free(ans);
    if (r != 0) {
        snprintf(err, errlen, r > 0 ? "%s refused: %s" : "%s: %s", o->dest, why);
        rconn_close(c);
        return NULL;
    }
    if (!key[0] != (rc->tls == RELOC_TLS_NONE)) {
        snprintf(err, errlen, "%s: the answer %s a key for the stream", o->dest,
                 key[0] ? "has" : "lacks");
        rconn_close(c);
        return NULL;
    }
    return c;
}

/* Event lines of the VMM's migration: progress relayed; the final one
 * (completed, failed, cancelled) sets *final (1 completed, -1 not) and
 * the error. Returns -1 when the connection closed. */
typedef struct Monitor {
    int fd;
    char buf[8192];
    size_t len;
} Monitor;

static int monitor_read(Out *o, Monitor *m, int *final, char *err, size_t errlen)
{
    ssize_t n = recv(m->fd, m->buf + m->len, sizeof(m->buf) - m->len, MSG_DONTWAIT);
    char *nl;

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n <= 0)
        return -1;
    m->len += (size_t)n;
    while ((nl = memchr(m->buf, '\n', m->len))) {
        json_t *j, *v;
        const char *st;

        *nl = '\0';
        j = json_loads(m->buf, 0, NULL);
        m->len -= (size_t)(nl + 1 - m->buf);
        memmove(m->buf, nl + 1, m->len);
        if (!json_is_string(v = json_object_get(j, "event")) ||
            strcmp(json_string_value(v), "migration") ||
            !(st = json_string_value(json_object_get(j, "state")))) {
            json_decref(j);
            continue;
        }
        {
            json_t *f = json_object();
            static const char *const keys[][2] = {
                { "round", "round" }, { "sent_bytes", "bytes" }, { "total_bytes", "total_bytes" },
                { "dirty_pages", "dirty_pages" }, { "rate_mbps", "rate_mbps" },
                { "downtime_ms", "downtime_ms" }, { "throttle_pct", "throttle_pct" },
                { "error", "error" },
            };
            for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
                if ((v = json_object_get(j, keys[i][0])))
                    json_object_set(f, keys[i][1], v);
            progress(o, st, f);
        }
        if (strcmp(st, "active")) {
            const char *e = json_string_value(json_object_get(j, "error"));
            *final = !strcmp(st, "completed") ? 1 : -1;
            if (*final < 0)
                snprintf(err, errlen, "%s", e && *e ? e : st);
        }
        json_decref(j);
    }
    if (m->len == sizeof(m->buf))
        m->len = 0;
    return 0;
}

/* Wait for the outcome: the VMM's final event or its end. 0 migrated, -1
 * with err. */
static int await_outcome(Out *o, Monitor *m, char *err, size_t errlen)
{
    int final = 0;

    for (;;) {
        struct pollfd p = { .fd = m->fd, .events = POLLIN };
        bool ended;
        enum stop_reason why;

        if (m->fd >= 0 && poll(&p, 1, 200) > 0 && monitor_read(o, m, &final, err, errlen) < 0) {
            close(m->fd);
            m->fd = -1;
        }
        if (m->fd < 0)      /* no more events: wait for its end (woken at once) */
            sup_wait_stopped(o->d, o->seq, 100);
        pthread_mutex_lock(&reg_lock);
        ended = o->d->run_seq != o->seq;
        why = o->d->last_exit;
        pthread_mutex_unlock(&reg_lock);
        if (ended) {
            log_debug("domain %s: the VMM ended", o->name);
            sup_wait_stopped(o->d, o->seq, 0);     /* its files written (the config gone) */
            if (why == SR_MIGRATED)
                return 0;
            snprintf(err, errlen, "its VMM ended during the migration (%s)",
                     why == SR_DESTROYED ? "destroyed" : why == SR_CRASH ? "crashed" : "error");
            return -1;
        }
        if (final < 0)
            return -1;
        if (final > 0) {
            /* Completed: the domain runs at the destination. It leaves
             * this host now; its VMM exits (status 6) on its own time and
             * the supervision loop reaps it. */
            bool left;

            log_debug("domain %s: the VMM completed the migration", o->name);
            reg_update_begin();
            left = sup_depart_locked(o->d, o->seq);
            reg_update_end();
            if (left)
                return 0;
            final = 0;          /* it already ended: its exit says how */
            continue;
        }
    }
}

int job_migrate(Domain *d, const JobArgs *a, char *err, size_t errlen)
{
    Out o = { .d = d, .a = a };
    Monitor m = { .fd = -1 };
    RelocConn *c;
    json_t *args;
    char why[1024] = "", verr[512], uri[32], key[RELOC_STREAM_KEY_HEX + 1] = "";
    int direct, r, status = 502;

    if (dom_job_begin(d, JOB_MIGRATE, err, errlen) < 0)
        return 409;
    pthread_mutex_lock(&reg_lock);
    snprintf(o.name, sizeof(o.name), "%s", d->name);
    snprintf(o.uuid, sizeof(o.uuid), "%s", d->uuid);
    snprintf(o.sock, sizeof(o.sock), "%s", d->sock);
    o.config = strdup(d->config);
    o.managed = d->managed;
    o.autostart = d->autostart;
    o.paused = d->state == DS_PAUSED;
    o.id = d->id;
    o.seq = d->run_seq;
    pthread_mutex_unlock(&reg_lock);
    snprintf(o.dest, sizeof(o.dest), strchr(a->host, ':') ? "[%s]:%d" : "%s:%d", a->host, a->port);
    if (!o.config) {
        snprintf(why, sizeof(why), "out of memory");
        goto fail;
    }
    progress(&o, "connecting", NULL);
    c = open_relocation(&o, key, why, sizeof(why));
    if (!c)
        goto fail;
    /* The VMM streams on the connection itself, under TLS in a session of
     * its own with the key of the answer (docs/migration.md). */
    direct = rconn_release_fd(c, why, sizeof(why));
    if (direct < 0) {
        rconn_close(c);
        goto fail;
    }
    snprintf(uri, sizeof(uri), "fd:%d", direct);
    log_debug("domain %s: the VMM streams on the relocation connection itself (%s)", o.name,
              key[0] ? "in a TLS session of its own" : "plain");
    m.fd = vmm_connect(o.sock);
    args = json_pack("{s:s,s:b,s:i,s:i,s:i,s:b,s:b}", "uri", uri, "live", a->live,
                     "downtime_ms", (int)a->downtime_ms, "bandwidth_mbps", (int)a->bandwidth_mbps,
                     "max_rounds", (int)a->max_rounds, "compress", a->compress,
                     "auto_converge", a->auto_converge);
    if (args && key[0])
        json_object_set_new(args, "stream_key", json_string(key));
    explicit_bzero(key, sizeof(key));
    r = vmm_call(o.sock, "migrate", args, VMM_CMD_MS, NULL, verr, sizeof(verr));
    json_decref(args);
    close(direct);      /* the VMM has its own (or failed) */
    if (r < 0) {
        snprintf(why, sizeof(why), "%s", verr);
        rconn_close(c);    /* the destination's VMM sees the end and goes */
        status = 500;
        goto fail;
    }
    progress(&o, "active", NULL);
    /* The VMM has the connection: ours only closes with the job. */
    r = await_outcome(&o, &m, why, sizeof(why));
    rconn_close(c);
    if (r < 0) {
        char vwhy[sizeof(why)];

        snprintf(vwhy, sizeof(vwhy), "%s", why);
        snprintf(why, sizeof(why), "the stream to the destination: %.900s", vwhy);
        goto fail;
    }
    if (m.fd >= 0)
        close(m.fd);
    free(o.config);
    log_debug("domain %s: the relocation connection closed", o.name);
    log_info("domain %s: migrated to %s", o.name, o.dest);
    progress(&o, "completed", NULL);
    dom_job_end(d);
    return 0;

fail:
    if (m.fd >= 0)
        close(m.fd);
    free(o.config);
    sup_sample(d);      /* running again, or left paused by the VMM */
    {
        bool alive, paused;
        pthread_mutex_lock(&reg_lock);
        alive = d->run_seq == o.seq && d->pid > 0;
        paused = d->state == DS_PAUSED;
        pthread_mutex_unlock(&reg_lock);
        snprintf(err, errlen, "Domain '%s' was not migrated to %s (%s): %s", o.name, o.dest,
                 !alive ? "its VMM ended" : paused ? "it is paused here" : "it keeps running here",
                 why);
    }
    log_warn("%s", err);
    {
        json_t *f = json_pack("{s:s}", "error", why);
        progress(&o, "failed", f);
    }
    dom_job_end(d);
    return status;
}
