/* The libvirt RPC server: sockets, clients, framing and dispatch.
 *
 * Threads, as xend's REST server has them (a thread per connection, so
 * that one slow or hostile client holds up only itself):
 *   - one accept thread for the listening sockets;
 *   - per client a reader thread (frames in, calls dispatched, keepalive
 *     answered, stream data handed to its stream) and a writer thread
 *     (the client's queue out, in order);
 *   - per call a worker thread, at most LV_MAX_INFLIGHT per client, so
 *     that several calls of one client (virt-manager calls from several
 *     threads) are served at once, each answered under its serial.
 * Nothing but the writer ever writes to a client's socket: events and
 * stream data are queued, and a client that reads nothing is dropped
 * rather than making xend buffer without bound.
 *
 * A frame the reader cannot trust (a length outside 28 bytes..32 MiB, a
 * header that does not decode, a message type a client never sends) ends
 * that client's connection; a call it cannot serve (unknown program,
 * procedure or version, malformed arguments) gets an error reply. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <libxml/parser.h>

#include "common/io.h"
#include "common/log.h"
#include "common/util.h"
#include "libvirt.h"

#define LV_MAX_CLIENTS     128           /* per socket kind: read-only clients (anyone
                                         * may connect) cannot lock read-write ones out */
#define LV_MAX_INFLIGHT    16            /* calls of one client served at once */
#define LV_READ_CHUNK      (64u << 10)   /* a frame's buffer grows as bytes arrive */
#define LV_SMALL_FRAME     (64u << 10)   /* frames up to this size need no budget */
#define LV_FRAME_BUDGET    (256u << 20)  /* bytes all bigger frames may hold at once */
#define LV_EVENT_QUEUE_MAX (16u << 20)   /* a client that lets this much pile up goes */
#define LV_STREAM_QUEUE    (1u << 20)    /* stream data waits above this */
#define LV_STREAM_WAIT_MS  30000
#define LV_FRAME_IDLE_MS   30000         /* a frame begun must go on arriving */
static int frame_idle_ms = LV_FRAME_IDLE_MS;
#define LV_PROBE_MS        1000
#define LV_DEFAULT_XEND_SOCK "/run/xeno/xend.sock"
#define LV_COMPAT_SOCK     "/run/libvirt/virtxend-sock"
#define LV_VIRTXEND_BIN    "/usr/sbin/virtxend"

typedef struct LvMsg {
    struct LvMsg *next;
    size_t len;
    uint8_t data[];
} LvMsg;

struct LvConn {
    LvConn *next;              /* the server's list */
    pthread_mutex_t lock;
    pthread_cond_t cond;       /* queue changes, calls end */
    int refs;
    int fd;
    unsigned id;
    bool readonly, opened, closed;
    bool socket_ro;            /* came through a read-only socket */
    pid_t pid;
    uid_t uid;
    gid_t gid;
    LvMsg *qhead, *qtail;
    size_t qbytes;
    unsigned inflight;
    pthread_t writer;
    LvEventCbs *cbs;
    LvStreams *streams;
};

static LvConf conf;
static pthread_mutex_t srv_lock = PTHREAD_MUTEX_INITIALIZER;
static LvConn *clients;
static unsigned nclients, nclients_ro, next_client_id = 1;
static int listen_fd[4] = { -1, -1, -1, -1 };
static bool listen_ro[4];
static int wake_pipe[2] = { -1, -1 };
static pthread_t accept_thread;
static bool accepting;
static char compat_status[3 * PATH_MAX];
static const LvProc *procs[LVP_PROC_MAX + 1];
static pthread_once_t procs_once = PTHREAD_ONCE_INIT;
static atomic_uint conns_live;  /* client states not freed yet */
static atomic_size_t frames_held;  /* bytes of big frames being read or served */

/* ---- the frame budget ----
 * A frame may be 32 MiB: clients that each send one (or sixteen calls of
 * one) could make xend hold gigabytes. What a frame's buffer holds beyond
 * LV_SMALL_FRAME comes from a budget shared by all clients, taken as the
 * bytes arrive and given back when its call is done; a client whose frame
 * does not fit is disconnected. Small frames, which are nearly all, never
 * wait for big ones. */

static size_t excess(size_t n) { return n > LV_SMALL_FRAME ? n - LV_SMALL_FRAME : 0; }

static bool budget_take(size_t n)
{
    size_t cur = atomic_load(&frames_held);

    do {
        if (n > LV_FRAME_BUDGET - MIN(cur, LV_FRAME_BUDGET))
            return false;
    } while (!atomic_compare_exchange_weak(&frames_held, &cur, cur + n));
    return true;
}

static void budget_give(size_t n)
{
    if (n)
        atomic_fetch_sub(&frames_held, n);
}

size_t lv_frames_held(void)
{
    return atomic_load(&frames_held);
}

/* A frame's payload (plen bytes) and its share of the budget. */
static void payload_free(uint8_t *payload, size_t plen)
{
    free(payload);
    budget_give(excess(plen + LV_HEADER_LEN));
}

/* ---- the procedure table ---- */

static void index_table(const LvProc *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].proc > 0 && t[i].proc <= LVP_PROC_MAX)
            procs[t[i].proc] = &t[i];
}

static void index_procs(void)
{
    index_table(lv_conn_procs, lv_conn_nprocs);
    index_table(lv_domain_procs, lv_domain_nprocs);
    index_table(lv_storage_procs, lv_storage_nprocs);
    index_table(lv_stream_procs, lv_stream_nprocs);
    index_table(lv_event_procs, lv_event_nprocs);
}

static const LvProc *find_proc(int proc)
{
    pthread_once(&procs_once, index_procs);
    return proc > 0 && proc <= LVP_PROC_MAX ? procs[proc] : NULL;
}

/* ---- clients ---- */

bool lv_conn_readonly(const LvConn *c) { return c->readonly; }

void lv_conn_set_open(LvConn *c, bool readonly)
{
    pthread_mutex_lock(&c->lock);
    c->opened = true;
    if (readonly)
        c->readonly = true;
    pthread_mutex_unlock(&c->lock);
}

LvEventCbs *lv_conn_event_cbs(LvConn *c) { return c->cbs; }
LvStreams *lv_conn_streams(LvConn *c) { return c->streams; }

void lv_conn_get(LvConn *c)
{
    pthread_mutex_lock(&c->lock);
    c->refs++;
    pthread_mutex_unlock(&c->lock);
}

static void conn_free(LvConn *c)
{
    LvMsg *m = c->qhead;

    while (m) {
        LvMsg *n = m->next;
        free(m);
        m = n;
    }
    lv_event_cbs_free(c->cbs);
    lv_streams_free(c->streams);
    if (c->fd >= 0)
        close(c->fd);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->cond);
    free(c);
    atomic_fetch_sub(&conns_live, 1);
}

unsigned lv_conns_live(void)
{
    return atomic_load(&conns_live);
}

void lv_conn_put(LvConn *c)
{
    bool last;

    pthread_mutex_lock(&c->lock);
    last = --c->refs == 0;
    pthread_mutex_unlock(&c->lock);
    if (last)
        conn_free(c);
}

bool lv_conn_closed(LvConn *c)
{
    bool closed;

    pthread_mutex_lock(&c->lock);
    closed = c->closed;
    pthread_mutex_unlock(&c->lock);
    return closed;
}

/* The client is gone (or must go): the writer stops, the reader's next
 * read ends, senders get -1. */
static void conn_close_locked(LvConn *c)
{
    if (c->closed)
        return;
    c->closed = true;
    shutdown(c->fd, SHUT_RDWR);
    pthread_cond_broadcast(&c->cond);
}

static void conn_close(LvConn *c)
{
    pthread_mutex_lock(&c->lock);
    conn_close_locked(c);
    pthread_mutex_unlock(&c->lock);
}

size_t lv_conns_snapshot(LvConn ***out)
{
    size_t n = 0;
    LvConn **arr;

    pthread_mutex_lock(&srv_lock);
    arr = calloc(nclients ? nclients : 1, sizeof(*arr));
    for (LvConn *c = clients; arr && c; c = c->next) {
        lv_conn_get(c);
        arr[n++] = c;
    }
    pthread_mutex_unlock(&srv_lock);
    *out = arr;
    return n;
}

/* ---- sending ---- */

static LvMsg *make_frame(const LvHeader *h, const void *payload, size_t len)
{
    size_t total = 4 + LV_HEADER_LEN + len;
    XdrBuf b;
    LvMsg *m;

    if (total > LV_MESSAGE_MAX || !(m = malloc(sizeof(*m) + total)))
        return NULL;
    xdr_buf_init(&b, LV_HEADER_LEN + 4);
    xdr_put_u32(&b, (uint32_t)total);
    lv_header_put(&b, h);
    if (b.err) {
        xdr_buf_free(&b);
        free(m);
        return NULL;
    }
    memcpy(m->data, b.p, b.len);
    xdr_buf_free(&b);
    if (len)
        memcpy(m->data + 4 + LV_HEADER_LEN, payload, len);
    m->len = total;
    m->next = NULL;
    return m;
}

/* Wait (lock held) until the queue has room for stream data; false when
 * the client went or the wait timed out. */
static bool wait_for_room_locked(LvConn *c)
{
    struct timespec ts = ns_to_timespec(clock_realtime_ns() + LV_STREAM_WAIT_MS * NS_PER_MS);

    while (!c->closed && c->qbytes > LV_STREAM_QUEUE)
        if (pthread_cond_timedwait(&c->cond, &c->lock, &ts) == ETIMEDOUT)
            return false;
    return !c->closed;
}

int lv_conn_send(LvConn *c, const LvHeader *h, const void *payload, size_t len,
                 enum lv_send_kind kind)
{
    LvMsg *m = make_frame(h, payload, len);

    if (!m) {
        log_warn("libvirt client %u: a message of %zu bytes could not be built", c->id, len);
        return -1;
    }
    pthread_mutex_lock(&c->lock);
    if (kind == LV_SEND_STREAM && !wait_for_room_locked(c)) {
        pthread_mutex_unlock(&c->lock);
        free(m);
        return -1;
    }
    if (kind == LV_SEND_EVENT && c->qbytes > LV_EVENT_QUEUE_MAX) {
        log_warn("libvirt client %u (pid %d) does not read its events: disconnected",
                 c->id, (int)c->pid);
        conn_close_locked(c);
    }
    if (c->closed) {
        pthread_mutex_unlock(&c->lock);
        free(m);
        return -1;
    }
    if (c->qtail)
        c->qtail->next = m;
    else
        c->qhead = m;
    c->qtail = m;
    c->qbytes += m->len;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    return 0;
}

static void *writer_main(void *arg)
{
    LvConn *c = arg;

    pthread_mutex_lock(&c->lock);
    for (;;) {
        LvMsg *m;
        int r;

        while (!c->qhead && !c->closed)
            pthread_cond_wait(&c->cond, &c->lock);
        if (c->closed)
            break;
        m = c->qhead;
        pthread_mutex_unlock(&c->lock);
        r = io_write_all(c->fd, m->data, m->len);
        pthread_mutex_lock(&c->lock);
        c->qhead = m->next;
        if (!c->qhead)
            c->qtail = NULL;
        c->qbytes -= m->len;
        free(m);
        pthread_cond_broadcast(&c->cond);
        if (r < 0) {
            log_debug("libvirt client %u: write: %s", c->id, strerror(-r));
            conn_close_locked(c);
            break;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

/* ---- replies ---- */

static LvHeader reply_header(const LvHeader *call, uint32_t status)
{
    return (LvHeader){ .prog = call->prog, .vers = call->vers, .proc = call->proc,
                       .type = LV_REPLY, .serial = call->serial, .status = status };
}

static void send_error(LvConn *c, const LvHeader *call, const LvError *e)
{
    LvHeader h = reply_header(call, LV_ERROR);
    XdrBuf b;

    xdr_buf_init(&b, 64 + sizeof(e->msg));
    lv_put_error(&b, e);
    if (!b.err)
        lv_conn_send(c, &h, b.p, b.len, LV_SEND_REPLY);
    xdr_buf_free(&b);
}

static void send_reply(LvCall *call)
{
    LvHeader h = reply_header(&call->hdr, LV_OK);

    if (call->out.err) {
        lv_error(&call->err, LV_ERR_RPC, "the reply to %s is larger than the protocol allows",
                 "this call");
        send_error(call->conn, &call->hdr, &call->err);
        return;
    }
    lv_conn_send(call->conn, &h, call->out.p, call->out.len, LV_SEND_REPLY);
}

/* ---- calls ---- */

static void call_free(LvCall *call)
{
    xdr_dec_free(&call->in);
    xdr_buf_free(&call->out);
    payload_free((uint8_t *)call->in.p, call->in.len);
    free(call);
}

/* One call, in its own thread. */
static void *worker_main(void *arg)
{
    LvCall *call = arg;
    LvConn *c = call->conn;
    const LvProc *p = find_proc(call->hdr.proc);
    int r = p->fn(call);

    if (!call->replied) {
        if (r < 0)
            send_error(c, &call->hdr, &call->err);
        else
            send_reply(call);
    }
    call_free(call);
    pthread_mutex_lock(&c->lock);
    c->inflight--;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    lv_conn_put(c);
    return NULL;
}

/* Why proc p cannot be called now (e set), or 0. */
static int call_refused(LvConn *c, const LvHeader *h, const LvProc *p, LvError *e)
{
    char name[96];
    bool opened, ro;

    pthread_mutex_lock(&c->lock);
    opened = c->opened;
    ro = c->readonly;
    pthread_mutex_unlock(&c->lock);
    if (!p) {
        bool known = lv_proc_api_name(h->proc, name, sizeof(name)) != NULL;

        log_debug("libvirt client %u: procedure %d (%s): not supported", c->id, h->proc,
                  known ? name : "unknown");
        return known ? lv_error(e, LV_ERR_NO_SUPPORT, "%s", name) :
                       lv_error(e, LV_ERR_NO_SUPPORT, "unknown procedure: %d", h->proc);
    }
    if (!opened && !(p->flags & LVF_PREOPEN))
        return lv_error(e, LV_ERR_INTERNAL_ERROR, "connection not open");
    if (ro && !(p->flags & LVF_RO)) {
        lv_proc_api_name(h->proc, name, sizeof(name));
        return lv_error(e, LV_ERR_OPERATION_DENIED, "read only access prevents %s", name);
    }
    return 0;
}

/* Start a worker for a call (takes payload). Waits while the client has
 * LV_MAX_INFLIGHT calls running: its later frames stay in the socket. */
static void dispatch_call(LvConn *c, const LvHeader *h, uint8_t *payload, size_t len)
{
    const LvProc *p = find_proc(h->proc);
    LvCall *call;
    LvError e = { 0 };
    pthread_t t;
    pthread_attr_t a;

    if (call_refused(c, h, p, &e) < 0) {
        payload_free(payload, len);
        send_error(c, h, &e);
        return;
    }
    if (log_get_level() >= LOG_DEBUG) {
        char name[96];

        log_debug("libvirt client %u: %s (serial %u)", c->id,
                  lv_proc_api_name(h->proc, name, sizeof(name)) ? name : "?", h->serial);
    }
    if (!(call = calloc(1, sizeof(*call)))) {
        payload_free(payload, len);
        lv_error(&e, LV_ERR_NO_MEMORY, "a call of %zu bytes", len);
        send_error(c, h, &e);
        return;
    }
    call->conn = c;
    call->hdr = *h;
    xdr_dec_init(&call->in, payload, len);
    xdr_buf_init(&call->out, LV_MESSAGE_MAX - 4 - LV_HEADER_LEN);

    pthread_mutex_lock(&c->lock);
    while (c->inflight >= LV_MAX_INFLIGHT && !c->closed)
        pthread_cond_wait(&c->cond, &c->lock);
    c->inflight++;
    c->refs++;
    pthread_mutex_unlock(&c->lock);

    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &a, worker_main, call) != 0) {
        lv_error(&e, LV_ERR_INTERNAL_ERROR, "cannot start a thread for the call");
        send_error(c, h, &e);
        call_free(call);
        pthread_mutex_lock(&c->lock);
        c->inflight--;
        c->refs--;            /* the reader still holds one */
        pthread_mutex_unlock(&c->lock);
    }
    pthread_attr_destroy(&a);
}

static void keepalive(LvConn *c, const LvHeader *h)
{
    LvHeader pong = { .prog = LV_KEEPALIVE_PROGRAM, .vers = LV_KEEPALIVE_VERSION,
                      .proc = LV_KEEPALIVE_PONG, .type = LV_MESSAGE, .serial = 0,
                      .status = LV_OK };

    if (h->vers == LV_KEEPALIVE_VERSION && h->proc == LV_KEEPALIVE_PING && h->type == LV_MESSAGE)
        lv_conn_send(c, &pong, NULL, 0, LV_SEND_REPLY);
}

/* One message from the client (takes payload). Returns -1 when the
 * connection must end. */
static int handle_message(LvConn *c, const LvHeader *h, uint8_t *payload, size_t len)
{
    LvError e = { 0 };

    if (h->prog == LV_KEEPALIVE_PROGRAM) {
        payload_free(payload, len);
        keepalive(c, h);
        return 0;
    }
    if (h->prog != LV_PROGRAM || h->vers != LV_PROTOCOL_VERSION) {
        payload_free(payload, len);
        if (h->type != LV_CALL)
            return -1;
        lv_error(&e, LV_ERR_RPC, "cannot find program %#x version %u", h->prog, h->vers);
        send_error(c, h, &e);
        return 0;
    }
    switch (h->type) {
    case LV_CALL:
        if (h->status != LV_OK) {
            payload_free(payload, len);
            lv_error(&e, LV_ERR_RPC, "a call with status %u", h->status);
            send_error(c, h, &e);
            return 0;
        }
        dispatch_call(c, h, payload, len);
        return 0;
    case LV_STREAM:
        lv_stream_incoming(c, h, payload, len);
        payload_free(payload, len);
        return 0;
    case LV_CALL_WITH_FDS:
        payload_free(payload, len);
        lv_error(&e, LV_ERR_NO_SUPPORT, "passing file descriptors");
        send_error(c, h, &e);
        return 0;
    default:
        payload_free(payload, len);
        log_debug("libvirt client %u: message type %u: disconnecting", c->id, h->type);
        return -1;
    }
}

/* Wait until fd is readable: for ever, or LV_FRAME_IDLE_MS (false when
 * nothing came). */
static bool readable(int fd, bool forever)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int r;

    while ((r = poll(&p, 1, forever ? -1 : frame_idle_ms)) < 0 && errno == EINTR)
        ;
    return r != 0;
}

/* Read exactly n bytes; the buffer grows as they arrive, taking what
 * exceeds LV_SMALL_FRAME from the budget. The first byte may take for
 * ever when idle_start (a client between frames); any other may not be
 * LV_FRAME_IDLE_MS late (a frame left half-sent would hold a thread and
 * its buffer). 0, or -1 at EOF or on an error, -2 when the budget has no
 * room, -3 when the client stalled. */
static int read_full(int fd, uint8_t **buf, size_t n, bool idle_start)
{
    size_t got = 0, cap = MIN(n, LV_READ_CHUNK);
    uint8_t *p = malloc(cap ? cap : 1);

    if (!p)
        return -1;
    while (got < n) {
        ssize_t r;

        if (got == cap) {
            size_t ncap = MIN(n, 2 * cap);
            uint8_t *np;

            if (!budget_take(excess(ncap) - excess(cap))) {
                free(p);
                budget_give(excess(cap));
                return -2;
            }
            if (!(np = realloc(p, ncap))) {
                free(p);
                budget_give(excess(ncap));
                return -1;
            }
            p = np;
            cap = ncap;
        }
        if (!readable(fd, idle_start && got == 0)) {
            free(p);
            budget_give(excess(cap));
            return -3;
        }
        r = read(fd, p + got, cap - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            free(p);
            budget_give(excess(cap));
            return -1;
        }
        got += (size_t)r;
    }
    *buf = p;
    return 0;
}

/* One frame: its header and payload (malloc'd). -1 when the connection
 * ends: EOF, a read error, a length or header that cannot be trusted. */
static int read_frame(LvConn *c, LvHeader *h, uint8_t **payload, size_t *plen)
{
    uint8_t *word, *body;
    uint32_t len;
    LvError e;
    XdrDec d;
    int r;

    if ((r = read_full(c->fd, &word, 4, true)) < 0) {
        if (r == -3)
            log_info("libvirt client %u: a frame stalled for %d ms: disconnecting", c->id,
                     frame_idle_ms);
        return -1;
    }
    if (lv_frame_length(word, &len, &e) < 0) {
        free(word);
        log_info("libvirt client %u: %s: disconnecting", c->id, e.msg);
        return -1;
    }
    free(word);
    if ((r = read_full(c->fd, &body, len - 4, false)) < 0) {
        if (r == -2)
            log_warn("libvirt client %u (pid %d): no room for a frame of %u bytes (%zu MiB held "
                     "by frames): disconnecting", c->id, (int)c->pid, len,
                     lv_frames_held() >> 20);
        if (r == -3)
            log_info("libvirt client %u: a frame stalled for %d ms: disconnecting", c->id,
                     frame_idle_ms);
        return -1;
    }
    xdr_dec_init(&d, body, LV_HEADER_LEN);
    if (lv_header_get(&d, h) < 0) {
        payload_free(body, len - 4 - LV_HEADER_LEN);
        return -1;
    }
    *plen = len - 4 - LV_HEADER_LEN;
    memmove(body, body + LV_HEADER_LEN, *plen);
    *payload = body;
    return 0;
}

static void unlink_client(LvConn *c)
{
    pthread_mutex_lock(&srv_lock);
    for (LvConn **pp = &clients; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            nclients--;
            nclients_ro -= c->socket_ro;
            break;
        }
    }
    pthread_mutex_unlock(&srv_lock);
}

static void *reader_main(void *arg)
{
    LvConn *c = arg;
    LvHeader h;
    uint8_t *payload;
    size_t len;

    while (!lv_conn_closed(c) && read_frame(c, &h, &payload, &len) == 0)
        if (handle_message(c, &h, payload, len) < 0)
            break;
    conn_close(c);
    lv_streams_close_all(c->streams);
    pthread_join(c->writer, NULL);
    unlink_client(c);
    log_info("libvirt client %u (pid %d) disconnected", c->id, (int)c->pid);
    lv_conn_put(c);
    return NULL;
}

/* A new client on fd: its state, its threads. 0 or -1 (fd closed). */
static int start_client(int fd, bool readonly)
{
    LvConn *c = calloc(1, sizeof(*c));
    struct ucred cred = { .pid = -1, .uid = (uid_t)-1, .gid = (gid_t)-1 };
    socklen_t cl = sizeof(cred);
    pthread_t t;
    pthread_attr_t a;

    if (!c || !(c->cbs = lv_event_cbs_new()) || !(c->streams = lv_streams_new())) {
        if (c) {
            lv_event_cbs_free(c->cbs);
            free(c);
        }
        close(fd);
        return -1;
    }
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    atomic_fetch_add(&conns_live, 1);
    c->fd = fd;
    c->refs = 1;               /* the reader's */
    c->readonly = c->socket_ro = readonly;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0) {
        c->pid = cred.pid;
        c->uid = cred.uid;
        c->gid = cred.gid;
    }
    if (pthread_create(&c->writer, NULL, writer_main, c) != 0) {
        conn_free(c);
        return -1;
    }
    pthread_mutex_lock(&srv_lock);
    c->id = next_client_id++;
    c->next = clients;
    clients = c;
    nclients++;
    nclients_ro += readonly;
    pthread_mutex_unlock(&srv_lock);
    log_info("libvirt client %u connected: pid %d uid %d gid %d (%s)", c->id, (int)c->pid,
             (int)c->uid, (int)c->gid, readonly ? "read-only" : "read-write");

    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &a, reader_main, c) != 0) {
        pthread_attr_destroy(&a);
        conn_close(c);
        pthread_join(c->writer, NULL);
        unlink_client(c);
        lv_conn_put(c);
        return -1;
    }
    pthread_attr_destroy(&a);
    return 0;
}

int lv_serve_fd(int fd, bool readonly)
{
    return start_client(fd, readonly);
}

void lv_set_frame_idle_ms(int ms)
{
    frame_idle_ms = ms;
}

/* ---- listening ---- */

static void accept_one(int lfd, bool readonly)
{
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    unsigned n;

    if (fd < 0)
        return;
    pthread_mutex_lock(&srv_lock);
    n = readonly ? nclients_ro : nclients - nclients_ro;
    pthread_mutex_unlock(&srv_lock);
    if (n >= LV_MAX_CLIENTS) {
        log_warn("libvirt: %u %s clients already; refusing another", n,
                 readonly ? "read-only" : "read-write");
        close(fd);
        return;
    }
    start_client(fd, readonly);
}

static void *accept_main(void *arg)
{
    (void)arg;
    for (;;) {
        struct pollfd pfd[5];
        int n = 0, idx[5];

        pfd[n].fd = wake_pipe[0];
        pfd[n].events = POLLIN;
        idx[n++] = -1;
        for (int i = 0; i < 4; i++) {
            if (listen_fd[i] < 0)
                continue;
            pfd[n].fd = listen_fd[i];
            pfd[n].events = POLLIN;
            idx[n++] = i;
        }
        if (poll(pfd, (nfds_t)n, -1) < 0) {
            if (errno != EINTR)
                sleep(1);
            continue;
        }
        if (pfd[0].revents)
            break;
        for (int i = 1; i < n; i++)
            if (pfd[i].revents & POLLIN)
                accept_one(listen_fd[idx[i]], listen_ro[idx[i]]);
    }
    return NULL;
}

/* Somebody answers on path (a live daemon, or a socket systemd holds). */
static bool someone_listens(const char *path)
{
    int fd = io_unix_connect(path, LV_PROBE_MS, IO_CLOEXEC);

    if (fd >= 0) {
        close(fd);
        return true;
    }
    return fd == -ETIMEDOUT;
}

/* The group clients of the read-write socket belong to, or -1. */
static gid_t xeno_gid(void)
{
    struct group *g = getgrnam("xeno");

    return g ? g->gr_gid : (gid_t)-1;
}

static int bind_one(const char *path, mode_t mode, char *err, size_t errlen)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    char dir[PATH_MAX];
    gid_t gid = xeno_gid();
    int fd;

    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "libvirt socket path too long: %s", path);
        return -1;
    }
    snprintf(dir, sizeof(dir), "%s", path);
    if (mkdir(dirname(dir), 0755) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create the directory of %s: %s", path, strerror(errno));
        return -1;
    }
    if (someone_listens(path)) {
        snprintf(err, errlen, "another server listens on %s", path);
        return -1;
    }
    unlink(path);
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, mode) < 0 ||
        listen(fd, 64) < 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) < 0)
        log_warn("cannot give %s to group xeno: %s", path, strerror(errno));
    return fd;
}

/* libvirt's own path for xen:///system, when it is free: nobody listens
 * there and libvirt's virtxend is not installed (it would take it). */
static void bind_compat(void)
{
    char err[PATH_MAX + 64];

    if (!conf.compat[0]) {
        snprintf(compat_status, sizeof(compat_status), "not used");
        return;
    }
    if (access(LV_VIRTXEND_BIN, F_OK) == 0 || someone_listens(conf.compat)) {
        snprintf(compat_status, sizeof(compat_status),
                 "not used: libvirt's own virtxend %s %s; use xen:///system?socket=%s",
                 access(LV_VIRTXEND_BIN, F_OK) == 0 ? "is installed, it owns" : "listens on",
                 conf.compat, conf.sock);
        log_warn("libvirt: %s", compat_status);
        return;
    }
    listen_fd[2] = bind_one(conf.compat, 0660, err, sizeof(err));
    if (listen_fd[2] >= 0 && conf.compat_ro[0]) {
        listen_fd[3] = bind_one(conf.compat_ro, 0666, err, sizeof(err));
        listen_ro[3] = true;
    }
    if (listen_fd[2] < 0) {
        snprintf(compat_status, sizeof(compat_status), "not used: %s", err);
        log_warn("libvirt: %s", compat_status);
        return;
    }
    snprintf(compat_status, sizeof(compat_status), "listening on %s", conf.compat);
}

/* dst = src + "-ro"; the caller checked that it fits. */
static void ro_path(char *dst, const char *src)
{
    size_t n = strlen(src);

    memcpy(dst, src, n);
    memcpy(dst + n, "-ro", 4);
}

int lv_configure(const char *sock, const char *compat, const char *xend_sock,
                 char *err, size_t errlen)
{
    char dir[PATH_MAX];

    memset(&conf, 0, sizeof(conf));
    if (sock && !strcmp(sock, "none"))
        return 0;
    if (sock) {
        if (sock[0] != '/' || strlen(sock) + 4 >= sizeof(conf.sock)) {
            snprintf(err, errlen, "--libvirt-socket: expected an absolute path or 'none'");
            return -1;
        }
        snprintf(conf.sock, sizeof(conf.sock), "%s", sock);
    } else {
        snprintf(dir, sizeof(dir), "%s", xend_sock);
        if ((size_t)snprintf(conf.sock, sizeof(conf.sock), "%s/libvirt-sock", dirname(dir)) >=
            sizeof(conf.sock) - 4) {
            snprintf(err, errlen, "the libvirt socket path is too long");
            return -1;
        }
    }
    ro_path(conf.sock_ro, conf.sock);
    if (compat && !strcmp(compat, "none"))
        return 0;
    if (compat && (compat[0] != '/' || strlen(compat) + 4 >= sizeof(conf.compat))) {
        snprintf(err, errlen, "--libvirt-compat: expected an absolute path or 'none'");
        return -1;
    }
    if (!compat && strcmp(xend_sock, LV_DEFAULT_XEND_SOCK))
        return 0;
    snprintf(conf.compat, sizeof(conf.compat), "%s", compat ? compat : LV_COMPAT_SOCK);
    ro_path(conf.compat_ro, conf.compat);
    return 0;
}

static void host_json(json_t *host)
{
    json_t *j = json_object();

    json_object_set_new(j, "uri", json_string("xen:///system"));
    json_object_set_new(j, "socket", json_string(conf.sock));
    json_object_set_new(j, "socket_ro", json_string(conf.sock_ro));
    json_object_set_new(j, "compat", json_string(compat_status));
    json_object_set_new(host, "libvirt", j);
}

static const LvHookOps hook_ops = {
    .domain_added = lv_events_domain_added,
    .event = lv_events_xend_event,
    .defined = lv_events_defined,
    .host_json = host_json,
};

static void close_listeners(void)
{
    for (int i = 0; i < 4; i++) {
        if (listen_fd[i] >= 0)
            close(listen_fd[i]);
        listen_fd[i] = -1;
    }
}

int lv_server_attach(char *err, size_t errlen)
{
    xmlInitParser();            /* once, before any thread parses */
    if (lv_storage_init(err, errlen) < 0)
        return -1;
    lv_events_reset();          /* learns the domains xend loaded */
    lv_hooks_install(&hook_ops);
    return 0;
}

int lv_server_start(char *err, size_t errlen)
{
    if (!conf.sock[0]) {
        log_info("libvirt server disabled (--libvirt-socket none)");
        return 0;
    }
    if (lv_server_attach(err, errlen) < 0)
        return -1;
    if ((listen_fd[0] = bind_one(conf.sock, 0660, err, errlen)) < 0)
        return -1;
    if ((listen_fd[1] = bind_one(conf.sock_ro, 0666, err, errlen)) < 0) {
        close_listeners();
        unlink(conf.sock);
        return -1;
    }
    listen_ro[1] = true;
    bind_compat();
    if (pipe2(wake_pipe, O_CLOEXEC) < 0 ||
        pthread_create(&accept_thread, NULL, accept_main, NULL) != 0) {
        snprintf(err, errlen, "libvirt: cannot start the accept thread");
        lv_hooks_install(NULL);
        close_listeners();
        return -1;
    }
    accepting = true;
    log_info("libvirt: xen:///system?socket=%s (read-only: %s); %s", conf.sock, conf.sock_ro,
             compat_status);
    return 0;
}

void lv_server_stop(void)
{
    LvConn **all;
    size_t n;

    lv_hooks_install(NULL);
    if (!accepting)
        return;
    if (write(wake_pipe[1], "q", 1) == 1)
        pthread_join(accept_thread, NULL);
    accepting = false;
    close_listeners();
    for (int i = 0; i < 4; i++) {
        const char *p = i == 0 ? conf.sock : i == 1 ? conf.sock_ro : i == 2 ? conf.compat :
                        conf.compat_ro;
        bool ours = i < 2 || !strncmp(compat_status, "listening", 9);

        if (p[0] && ours)
            unlink(p);
    }
    n = lv_conns_snapshot(&all);
    for (size_t i = 0; i < n; i++) {
        conn_close(all[i]);
        lv_conn_put(all[i]);
    }
    free(all);
    /* Give the clients' threads a moment to see it (xend is exiting). */
    for (int i = 0; i < 50; i++) {
        pthread_mutex_lock(&srv_lock);
        n = nclients;
        pthread_mutex_unlock(&srv_lock);
        if (!n)
            break;
        usleep(20000);
    }
}
