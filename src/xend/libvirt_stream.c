/* Console streams: DOMAIN_OPEN_CONSOLE joins a libvirt stream to the
 * domain's console socket (the VMM's PATH.console, docs/protocols.md §1),
 * as `xm console` does.
 *
 * After the call's reply, the stream's messages carry the call's
 * procedure and serial: VIR_NET_STREAM with status CONTINUE and the bytes,
 * both ways. A pump thread copies the console's output to the client (one
 * message per read, waiting while the client has 1 MiB unread); the
 * client's data is written to the console by the reader thread. The end
 * of the console (the domain stopped) is an empty CONTINUE; the client
 * ends the stream with status OK (finish) or ERROR (abort), and either is
 * acknowledged with an empty OK. A client that goes away takes its streams
 * with it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/io.h"
#include "common/log.h"
#include "libvirt.h"
#include "xend.h"

#define PUMP_CHUNK       (64u << 10)
#define CONSOLE_WRITE_S  5             /* a console that takes no input for this long */
#define CONNECT_MS       2000
#define MAX_STREAMS      32            /* per client */

typedef struct Stream {
    struct Stream *next;
    pthread_mutex_t lock;
    int refs;
    LvConn *conn;
    int proc;
    uint32_t serial;
    int fd;
    bool closed;               /* finished, aborted, or the client went */
} Stream;

struct LvStreams {
    pthread_mutex_t lock;
    Stream *head;
    unsigned n;
};

LvStreams *lv_streams_new(void)
{
    LvStreams *s = calloc(1, sizeof(*s));

    if (s)
        pthread_mutex_init(&s->lock, NULL);
    return s;
}

static void stream_put(Stream *st)
{
    bool last;

    pthread_mutex_lock(&st->lock);
    last = --st->refs == 0;
    pthread_mutex_unlock(&st->lock);
    if (!last)
        return;
    close(st->fd);
    pthread_mutex_destroy(&st->lock);
    free(st);
}

/* Stop a stream: no more data either way; its pump wakes up. */
static void stream_close(Stream *st)
{
    pthread_mutex_lock(&st->lock);
    if (!st->closed) {
        st->closed = true;
        shutdown(st->fd, SHUT_RDWR);
    }
    pthread_mutex_unlock(&st->lock);
}

static bool stream_closed(Stream *st)
{
    bool c;

    pthread_mutex_lock(&st->lock);
    c = st->closed;
    pthread_mutex_unlock(&st->lock);
    return c;
}

void lv_streams_close_all(LvStreams *s)
{
    Stream *st;

    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    while ((st = s->head)) {
        s->head = st->next;
        s->n--;
        stream_close(st);
        stream_put(st);
    }
    pthread_mutex_unlock(&s->lock);
}

void lv_streams_free(LvStreams *s)
{
    if (!s)
        return;
    lv_streams_close_all(s);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* Take the stream (proc, serial) out of the client's list (referenced:
 * the caller puts it), or NULL. With remove false it stays listed. */
static Stream *find_stream(LvStreams *s, int proc, uint32_t serial, bool remove)
{
    Stream *found = NULL;

    pthread_mutex_lock(&s->lock);
    for (Stream **pp = &s->head; *pp; pp = &(*pp)->next) {
        Stream *st = *pp;

        if (st->proc != proc || st->serial != serial)
            continue;
        found = st;
        if (remove) {
            *pp = st->next;
            s->n--;
        } else {
            pthread_mutex_lock(&st->lock);
            st->refs++;
            pthread_mutex_unlock(&st->lock);
        }
        break;
    }
    pthread_mutex_unlock(&s->lock);
    return found;
}

static LvHeader stream_header(const Stream *st, uint32_t status)
{
    return (LvHeader){ .prog = LV_PROGRAM, .vers = LV_PROTOCOL_VERSION, .proc = st->proc,
                       .type = LV_STREAM, .serial = st->serial, .status = status };
}

/* An error on the stream (status ERROR, a remote_error), then it ends. */
static void stream_error(Stream *st, const LvError *e)
{
    LvHeader h = stream_header(st, LV_ERROR);
    XdrBuf b;

    xdr_buf_init(&b, 2048);
    lv_put_error(&b, e);
    if (!b.err)
        lv_conn_send(st->conn, &h, b.p, b.len, LV_SEND_REPLY);
    xdr_buf_free(&b);
}

/* The console's output to the client, until either ends. */
static void *pump_main(void *arg)
{
    Stream *st = arg;
    LvHeader h = stream_header(st, LV_CONTINUE);
    uint8_t *buf = malloc(PUMP_CHUNK);

    while (buf) {
        ssize_t n = read(st->fd, buf, PUMP_CHUNK);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || stream_closed(st)) {
            if (!stream_closed(st))
                lv_conn_send(st->conn, &h, NULL, 0, LV_SEND_REPLY);   /* EOF */
            break;
        }
        if (lv_conn_send(st->conn, &h, buf, (size_t)n, LV_SEND_STREAM) < 0) {
            stream_close(st);
            break;
        }
    }
    free(buf);
    lv_conn_put(st->conn);
    stream_put(st);
    return NULL;
}

void lv_stream_incoming(LvConn *c, const LvHeader *h, const uint8_t *p, size_t len)
{
    LvStreams *s = lv_conn_streams(c);
    bool end = h->status != LV_CONTINUE;
    Stream *st = find_stream(s, h->proc, h->serial, end);
    LvHeader ack;
    int r;

    if (!st) {
        log_debug("libvirt: stream data for no stream (proc %d serial %u)", h->proc, h->serial);
        return;
    }
    if (end) {
        /* Finish (OK) or abort (ERROR): both acknowledged with an empty OK. */
        stream_close(st);
        ack = stream_header(st, LV_OK);
        lv_conn_send(c, &ack, NULL, 0, LV_SEND_REPLY);
        stream_put(st);
        return;
    }
    if (len && !stream_closed(st) && (r = io_write_all(st->fd, p, len)) < 0) {
        LvError e;

        lv_error(&e, LV_ERR_OPERATION_FAILED, "cannot write to the console: %s", strerror(-r));
        stream_close(st);
        stream_error(st, &e);
    }
    stream_put(st);
}

/* The domain's console socket, connected; -1 with e set. */
static int console_socket(LvCall *c, const LvDomRef *r)
{
    char uuid[37], path[160];
    json_t *res = NULL;
    struct timeval tv = { .tv_sec = CONSOLE_WRITE_S };
    const char *sock;
    int fd;

    lv_uuid_format(r->uuid, uuid);
    snprintf(path, sizeof(path), "/v1/domains/%s/console", uuid);
    if (lv_rest("GET", path, NULL, &res, &c->err) < 0) {
        if (c->err.code == LV_ERR_OPERATION_INVALID)
            lv_error(&c->err, LV_ERR_OPERATION_INVALID, "domain is not running");
        return -1;
    }
    sock = json_string_value(json_object_get(res, "path"));
    fd = sock ? io_unix_connect(sock, CONNECT_MS, IO_CLOEXEC) : -EINVAL;
    if (fd < 0)
        lv_error(&c->err, LV_ERR_OPERATION_FAILED, "cannot connect to the console of '%s': %s",
                 r->name, strerror(-fd));
    json_decref(res);
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return fd;
}

/* Register the stream of this call and start its pump (after the reply). */
static int start_stream(LvCall *c, int fd)
{
    LvStreams *s = lv_conn_streams(c->conn);
    LvHeader ok = { .prog = c->hdr.prog, .vers = c->hdr.vers, .proc = c->hdr.proc,
                    .type = LV_REPLY, .serial = c->hdr.serial, .status = LV_OK };
    Stream *st = calloc(1, sizeof(*st));
    pthread_t t;
    pthread_attr_t a;

    if (!st) {
        close(fd);
        return lv_error(&c->err, LV_ERR_NO_MEMORY, "console stream");
    }
    pthread_mutex_init(&st->lock, NULL);
    st->refs = 2;              /* the list's and the pump's */
    st->conn = c->conn;
    st->proc = c->hdr.proc;
    st->serial = c->hdr.serial;
    st->fd = fd;
    pthread_mutex_lock(&s->lock);
    if (s->n == MAX_STREAMS) {
        pthread_mutex_unlock(&s->lock);
        close(fd);
        pthread_mutex_destroy(&st->lock);
        free(st);
        return lv_error(&c->err, LV_ERR_OPERATION_FAILED, "too many streams (%d)", MAX_STREAMS);
    }
    st->next = s->head;
    s->head = st;
    s->n++;
    pthread_mutex_unlock(&s->lock);

    /* The reply first: the client takes data for this serial only after it. */
    lv_conn_send(c->conn, &ok, NULL, 0, LV_SEND_REPLY);
    c->replied = true;
    lv_conn_get(c->conn);
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &a, pump_main, st) != 0) {
        lv_conn_put(c->conn);
        stream_close(st);
        stream_put(st);
    }
    pthread_attr_destroy(&a);
    return 0;
}

/* DOMAIN_OPEN_CONSOLE: {dom; remote_string dev_name; unsigned flags}. The
 * console is the domain's one console (serial and virtio console share
 * it): dev_name may be absent, serial0 or console0. */
static int proc_open_console(LvCall *c)
{
    LvDomRef r;
    const char *dev;
    uint32_t flags;
    int fd;

    lv_get_domain(&c->in, &r);
    dev = xdr_get_opt_string(&c->in, LV_STRING_MAX);
    flags = xdr_get_u32(&c->in);
    if (xdr_dec_finish(&c->in, &c->err) < 0)
        return -1;
    if (flags & ~3u)           /* FORCE, SAFE: the console takes several clients */
        return lv_error(&c->err, LV_ERR_ARGUMENT_UNSUPPORTED, "console flags 0x%x", flags);
    if (dev && strcmp(dev, "serial0") && strcmp(dev, "console0") && strcmp(dev, "console1"))
        return lv_error(&c->err, LV_ERR_OPERATION_FAILED, "cannot find character device %s",
                        dev);
    if (!memcmp(r.uuid, (uint8_t[16]){ 0 }, 16))
        return lv_error(&c->err, LV_ERR_OPERATION_INVALID, "Domain-0 has no console here");
    if ((fd = console_socket(c, &r)) < 0)
        return -1;
    return start_stream(c, fd);
}

const LvProc lv_stream_procs[] = {
    { LVP_DOMAIN_OPEN_CONSOLE, proc_open_console, 0 },
};
const size_t lv_stream_nprocs = sizeof(lv_stream_procs) / sizeof(lv_stream_procs[0]);
