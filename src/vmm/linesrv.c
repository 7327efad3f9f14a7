/* Non-blocking UNIX stream clients for the control and console sockets
 * (see linesrv.h). Runs on the event loop thread with the device lock held
 * (a loop hook), or from ls_run_once() in tests. */
#include "linesrv.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

#define LS_EXTRA_FDS 2       /* the listening socket and one of the user */

struct LineSrv {
    LineSrvConfig cfg;
    LineSrvOps ops;
    void *opaque;
    int listen_fd, listen_idx;
    LsClient **clients;
    unsigned nclients;
    Loop *loop;              /* polling as a hook of this loop, or NULL */
    struct pollfd *own_pfd;  /* ls_run_once(): our own poll array */
    int own_npfd, own_max;
};

LineSrv *ls_new(const LineSrvConfig *cfg, const LineSrvOps *ops, void *opaque)
{
    LineSrv *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    s->clients = calloc(cfg->max_clients ? cfg->max_clients : 1, sizeof(*s->clients));
    if (!s->clients) {
        free(s);
        return NULL;
    }
    s->cfg = *cfg;
    s->ops = *ops;
    s->opaque = opaque;
    s->listen_fd = s->listen_idx = -1;
    return s;
}

static void close_passed(LsClient *cl)
{
    while (cl->npassed)
        close(cl->passed[--cl->npassed]);
}

static void client_free(LineSrv *s, LsClient *cl)
{
    if (s->ops.on_close)
        s->ops.on_close(s->opaque, cl);
    close_passed(cl);
    if (cl->fd >= 0)
        close(cl->fd);
    free(cl->in);
    free(cl->out);
    free(cl);
}

void ls_free(LineSrv *s)
{
    if (!s)
        return;
    for (unsigned i = 0; i < s->nclients; i++)
        client_free(s, s->clients[i]);
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    free(s->clients);
    free(s);
}

void ls_set_listen_fd(LineSrv *s, int fd)
{
    s->listen_fd = fd;
}

unsigned ls_nclients(const LineSrv *s)
{
    return s->nclients;
}

LsClient *ls_client(const LineSrv *s, unsigned i)
{
    return i < s->nclients ? s->clients[i] : NULL;
}

/* ---- output ------------------------------------------------------------ */

/* Room for `need` bytes in total; false if the client cannot have them. */
static bool reserve(LineSrv *s, LsClient *cl, size_t need)
{
    size_t cap;
    uint8_t *p;

    if (need <= cl->out_cap)
        return true;
    cap = cl->out_cap ? cl->out_cap : 4096;
    while (cap < need)
        cap *= 2;
    if (!s->cfg.drop_on_overflow && cap > s->cfg.out_max)
        cap = s->cfg.out_max;
    p = realloc(cl->out, cap);
    if (!p)
        return false;
    cl->out = p;
    cl->out_cap = cap;
    return true;
}

static void drop(LineSrv *s, LsClient *cl)
{
    if (s->cfg.drop_warning)
        log_warn("%s", s->cfg.drop_warning);
    cl->dead = true;
}

void ls_send(LineSrv *s, LsClient *cl, const void *buf, size_t len)
{
    if (cl->dead)
        return;
    if (cl->out_len + len > s->cfg.out_max) {
        if (s->cfg.drop_on_overflow) {
            drop(s, cl);
            return;
        }
        len = s->cfg.out_max - cl->out_len;     /* a slow reader loses output */
    }
    if (!len)
        return;
    if (!reserve(s, cl, cl->out_len + len)) {
        if (s->cfg.drop_on_overflow)
            cl->dead = true;
        return;
    }
    memcpy(cl->out + cl->out_len, buf, len);
    cl->out_len += len;
}

void ls_send_line(LineSrv *s, LsClient *cl, const char *line)
{
    size_t len = strlen(line), need;

    if (cl->dead)
        return;
    need = cl->out_len + len + 1;
    if (need > s->cfg.out_max) {
        if (s->cfg.drop_on_overflow)
            drop(s, cl);
        return;
    }
    if (!reserve(s, cl, need)) {
        cl->dead = true;
        return;
    }
    memcpy(cl->out + cl->out_len, line, len);
    cl->out[cl->out_len + len] = '\n';
    cl->out_len += len + 1;
}

bool ls_broadcast(LineSrv *s, const void *buf, size_t len)
{
    bool was_idle = false;

    for (unsigned i = 0; i < s->nclients; i++) {
        was_idle |= !s->clients[i]->out_len;
        ls_send(s, s->clients[i], buf, len);
    }
    return was_idle;
}

void ls_broadcast_line(LineSrv *s, const char *line)
{
    for (unsigned i = 0; i < s->nclients; i++)
        ls_send_line(s, s->clients[i], line);
}

void ls_flush(LsClient *cl)
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

/* ---- input ------------------------------------------------------------- */

/* Handle complete lines in the input buffer while the client keeps up with
 * its output. */
static void process_lines(LineSrv *s, LsClient *cl)
{
    size_t start = 0;

    while (!cl->dead && cl->out_len < s->cfg.out_pause) {
        char *nl = memchr(cl->in + start, '\n', cl->in_len - start);
        size_t len, end;
        bool owner;

        if (!nl)
            break;
        end = (size_t)(nl - cl->in);
        len = end - start;
        if (len && cl->in[start + len - 1] == '\r')
            len--;
        owner = cl->npassed && cl->passed_at >= start && cl->passed_at <= end;
        cl->passing = owner;
        if (len)
            s->ops.on_line(s->opaque, cl, cl->in + start, len);
        cl->passing = false;
        if (owner)
            close_passed(cl);       /* what the handler did not take */
        start = end + 1;
    }
    if (start) {
        memmove(cl->in, cl->in + start, cl->in_len - start);
        cl->in_len -= start;
        cl->passed_at -= cl->npassed ? start : 0;
    }
    if (cl->in_len > s->cfg.max_line && !cl->dead && !memchr(cl->in, '\n', cl->in_len)) {
        if (s->ops.on_overlong)
            s->ops.on_overlong(s->opaque, cl);
        cl->in_len = 0;
        cl->close_when_flushed = true;
    }
}

static long append_input(LineSrv *s, LsClient *cl, const void *buf, size_t len)
{
    const size_t cap = s->cfg.max_line + 2;     /* a full line, "\r\n" */

    if (!cl->in) {
        cl->in = malloc(cap);
        if (!cl->in)
            return -1;
    }
    if (len > cap - cl->in_len)
        len = cap - cl->in_len;
    memcpy(cl->in + cl->in_len, buf, len);
    cl->in_len += len;
    return (long)len;
}

long ls_feed(LineSrv *s, LsClient *cl, const void *buf, size_t len)
{
    long n = append_input(s, cl, buf, len);

    if (n >= 0)
        process_lines(s, cl);
    return n;
}

int ls_take_fd(LsClient *cl)
{
    int fd;

    if (!cl || !cl->passing || !cl->npassed)
        return -1;
    fd = cl->passed[0];
    memmove(cl->passed, cl->passed + 1, --cl->npassed * sizeof(int));
    return fd;
}

/* Keep the descriptors of msg (n bytes came with them) for their line;
 * beyond LS_MAX_PASSED_FDS they are closed. */
static void keep_passed(LsClient *cl, struct msghdr *msg, size_t n)
{
    bool first = !cl->npassed;
    bool got = false;

    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
        size_t nfd;
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < nfd; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (cl->npassed < LS_MAX_PASSED_FDS)
                cl->passed[cl->npassed++] = fd;
            else
                close(fd);
            got = true;
        }
    }
    /* More for a line still incomplete belong to that same line. */
    if (got && first)
        cl->passed_at = cl->in_len + n - 1;
}

/* recv() that also takes the descriptors a client passes (LS_LINES). */
static ssize_t recv_lines(LsClient *cl, char *buf, size_t len)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * LS_MAX_PASSED_FDS)];
    } ctl;
    struct iovec iov = { .iov_base = buf, .iov_len = len };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
                          .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
    ssize_t n = recvmsg(cl->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

    if (n > 0)
        keep_passed(cl, &msg, (size_t)n);
    return n;
}

static void read_lines(LineSrv *s, LsClient *cl)
{
    char buf[16384];

    /* Read at most until the buffer is full; process_lines makes room. */
    while (!cl->dead && !cl->eof && !cl->close_when_flushed && cl->out_len < s->cfg.out_pause) {
        size_t room = s->cfg.max_line + 2 - cl->in_len;
        ssize_t n;

        if (room == 0)
            break;
        n = recv_lines(cl, buf, room < sizeof(buf) ? room : sizeof(buf));
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
        if (ls_feed(s, cl, buf, (size_t)n) < 0) {
            cl->dead = true;
            return;
        }
    }
}

static void read_raw(LineSrv *s, LsClient *cl)
{
    uint8_t buf[4096];
    size_t space = s->ops.raw_room(s->opaque);
    ssize_t n;

    if (!space)
        return;                 /* the receiver is not taking input: later */
    n = recv(cl->fd, buf, space < sizeof(buf) ? space : sizeof(buf), MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)) {
        cl->dead = true;
        return;
    }
    if (n > 0)
        s->ops.on_raw(s->opaque, cl, buf, (size_t)n);
}

/* ---- clients ----------------------------------------------------------- */

LsClient *ls_add_client(LineSrv *s, int fd)
{
    LsClient *cl;
    int fl = fcntl(fd, F_GETFL);

    if (fl >= 0)
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    if (s->nclients >= s->cfg.max_clients) {
        if (s->cfg.full_msg) {
            ssize_t r = send(fd, s->cfg.full_msg, strlen(s->cfg.full_msg),
                             MSG_DONTWAIT | MSG_NOSIGNAL);
            (void)r;
        }
        close(fd);
        return NULL;
    }
    cl = calloc(1, sizeof(*cl));
    if (!cl) {
        close(fd);
        return NULL;
    }
    cl->fd = fd;
    cl->idx = -1;
    s->clients[s->nclients++] = cl;
    if (s->ops.on_accept)
        s->ops.on_accept(s->opaque, cl);
    return cl;
}

void ls_accept_all(LineSrv *s)
{
    for (int fd; s->listen_fd >= 0 &&
         (fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0;)
        ls_add_client(s, fd);
}

void ls_reap(LineSrv *s)
{
    unsigned j = 0;

    for (unsigned i = 0; i < s->nclients; i++) {
        LsClient *cl = s->clients[i];
        if ((cl->eof || cl->close_when_flushed) && !cl->out_len &&
            !(s->ops.busy && s->ops.busy(s->opaque, cl)))
            cl->dead = true;
        if (cl->dead)
            client_free(s, cl);
        else
            s->clients[j++] = cl;
    }
    s->nclients = j;
}

/* ---- polling ----------------------------------------------------------- */

int ls_add_pollfd(LineSrv *s, int fd, short events)
{
    if (s->loop)
        return loop_hook_add_pollfd(s->loop, fd, events);
    if (s->own_npfd >= s->own_max)
        return -1;
    s->own_pfd[s->own_npfd] = (struct pollfd){ .fd = fd, .events = events };
    return s->own_npfd++;
}

short ls_revents(LineSrv *s, int idx)
{
    if (idx < 0)
        return 0;
    if (s->loop)
        return loop_hook_revents(s->loop, idx);
    return idx < s->own_npfd ? s->own_pfd[idx].revents : 0;
}

static void prepare(LineSrv *s, int *timeout_ms)
{
    bool raw_room = s->cfg.mode == LS_RAW && s->ops.raw_room(s->opaque) > 0;

    s->listen_idx = s->listen_fd >= 0 &&
                    (s->cfg.poll_listen_when_full || s->nclients < s->cfg.max_clients)
                    ? ls_add_pollfd(s, s->listen_fd, POLLIN) : -1;
    if (s->ops.prepare)
        s->ops.prepare(s->opaque, s, timeout_ms);
    for (unsigned i = 0; i < s->nclients; i++) {
        LsClient *cl = s->clients[i];
        short ev = 0;
        if (s->cfg.mode == LS_RAW ? raw_room
                                  : !cl->eof && !cl->close_when_flushed &&
                                    cl->out_len < s->cfg.out_pause)
            ev |= POLLIN;
        if (cl->out_len)
            ev |= POLLOUT;
        /* Nothing to wait for (e.g. half-closed, awaiting an answer): do
         * not poll, or a hang-up would be reported over and over. */
        cl->idx = ev ? ls_add_pollfd(s, cl->fd, ev) : -1;
    }
}

static void dispatch(LineSrv *s)
{
    if (ls_revents(s, s->listen_idx) & POLLIN)
        ls_accept_all(s);
    if (s->ops.dispatch)
        s->ops.dispatch(s->opaque, s);
    for (unsigned i = 0; i < s->nclients; i++) {
        LsClient *cl = s->clients[i];
        short re = ls_revents(s, cl->idx);
        cl->idx = -1;
        if (re & POLLOUT)
            ls_flush(cl);
        if (re & (POLLIN | POLLHUP | POLLERR)) {
            if (s->cfg.mode == LS_RAW)
                read_raw(s, cl);
            else
                read_lines(s, cl);
        }
        if (re & POLLNVAL)
            cl->dead = true;
        /* Output drained below the mark: serve lines already buffered. */
        if (s->cfg.mode == LS_LINES && !cl->dead && cl->in_len &&
            cl->out_len < s->cfg.out_pause)
            process_lines(s, cl);
        ls_flush(cl);
    }
    /* Output for other clients (events, deferred answers): try now. */
    for (unsigned i = 0; i < s->nclients; i++)
        ls_flush(s->clients[i]);
    ls_reap(s);
}

static void hook_prepare(void *opaque, Loop *l, int *timeout_ms)
{
    prepare(opaque, timeout_ms);
}

static void hook_dispatch(void *opaque, Loop *l)
{
    dispatch(opaque);
}

int ls_attach(LineSrv *s, Loop *l)
{
    LoopHook hook = { hook_prepare, hook_dispatch, s };

    if (loop_add_hook(l, &hook) < 0)
        return -1;
    s->loop = l;
    return 0;
}

void ls_detach(LineSrv *s, Loop *l)
{
    if (s->loop) {
        loop_del_hook(l, s);
        s->loop = NULL;
    }
}

void ls_run_once(LineSrv *s)
{
    struct pollfd *pfd = calloc(s->cfg.max_clients + LS_EXTRA_FDS + 1, sizeof(*pfd));
    Loop *saved = s->loop;
    int timeout = 0;

    if (!pfd)
        return;
    s->loop = NULL;
    s->own_pfd = pfd;
    s->own_npfd = 0;
    s->own_max = (int)s->cfg.max_clients + LS_EXTRA_FDS + 1;
    prepare(s, &timeout);
    if (poll(pfd, (nfds_t)s->own_npfd, 0) < 0)
        s->own_npfd = 0;
    dispatch(s);
    s->own_pfd = NULL;
    s->own_npfd = 0;
    s->loop = saved;
    free(pfd);
}

void ls_flush_wait(LineSrv *s, int ms)
{
    uint64_t t0;
    struct pollfd *pfd = calloc(s->cfg.max_clients + 1, sizeof(*pfd));

    if (!pfd)
        return;
    t0 = clock_ns();
    for (;;) {
        nfds_t n = 0;
        long left;
        for (unsigned i = 0; i < s->nclients; i++) {
            ls_flush(s->clients[i]);
            if (s->clients[i]->out_len && !s->clients[i]->dead)
                pfd[n++] = (struct pollfd){ .fd = s->clients[i]->fd, .events = POLLOUT };
        }
        left = (long)ms - (long)((clock_ns() - t0) / NS_PER_MS);
        if (!n || left <= 0 || poll(pfd, n, (int)left) <= 0)
            break;
    }
    free(pfd);
}
