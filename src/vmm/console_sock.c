/* The console socket (PATH.console): the guest's serial output fans out to
 * stdout (unless --no-console), a 64 KiB ring replayed to each new client
 * (so `xm console` shows recent output) and every connected client; what a
 * client writes goes to the UART's receive FIFO.
 *
 * The UART calls console_sock_output() on the vCPU thread with the device
 * lock held, one byte at a time, so it only copies bytes into buffers and
 * wakes the event loop; the loop (a hook, same lock) does the socket I/O.
 * A client that does not read loses output beyond CON_OUT_MAX rather than
 * slow the guest down. The virtio console (hvc0) writes to a pipe whose
 * read end the loop feeds into the same fan-out. */
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "hw/uart.h"

#define RING_SIZE       (64 * 1024)
#define CON_MAX_CLIENTS 16
#define CON_OUT_MAX     (256 * 1024)
#define INPUT_RETRY_MS  20      /* UART FIFO full: look again this soon */

typedef struct ConClient {
    int fd;
    int idx;                    /* pollfd index this round, -1 = none */
    uint8_t *out;
    size_t out_len, out_cap;
    bool dead;
} ConClient;

struct ConsoleSock {
    Machine *m;
    bool to_stdout;
    char *path;
    int listen_fd, listen_idx;
    int pipe_rd, pipe_wr, pipe_idx;
    uint8_t ring[RING_SIZE];
    size_t ring_head, ring_len;         /* next write position, bytes held */
    ConClient *clients[CON_MAX_CLIENTS];
    unsigned nclients;
    struct pollfd *own_pfd;             /* console_sock_run_once() */
    int own_npfd, own_max;
};

static void client_append(ConClient *cl, const uint8_t *buf, size_t len)
{
    if (cl->dead)
        return;
    if (cl->out_len + len > CON_OUT_MAX)
        len = CON_OUT_MAX - cl->out_len;     /* a slow reader loses output */
    if (!len)
        return;
    if (cl->out_len + len > cl->out_cap) {
        size_t cap = cl->out_cap ? cl->out_cap : 4096;
        uint8_t *p;
        while (cap < cl->out_len + len)
            cap *= 2;
        if (cap > CON_OUT_MAX)
            cap = CON_OUT_MAX;
        p = realloc(cl->out, cap);
        if (!p)
            return;
        cl->out = p;
        cl->out_cap = cap;
    }
    memcpy(cl->out + cl->out_len, buf, len);
    cl->out_len += len;
}

static void write_stdout(const uint8_t *buf, size_t len)
{
    while (len) {
        ssize_t n = write(STDOUT_FILENO, buf, len);
        if (n < 0) {
            struct pollfd p = { .fd = STDOUT_FILENO, .events = POLLOUT };
            if (errno == EINTR)
                continue;
            if ((errno == EAGAIN || errno == EWOULDBLOCK) && poll(&p, 1, 1000) > 0)
                continue;
            return;     /* stdout gone or stuck: the guest keeps running */
        }
        buf += n;
        len -= (size_t)n;
    }
}

void console_sock_output(void *opaque, const uint8_t *buf, size_t len)
{
    ConsoleSock *cs = opaque;
    bool wake = false;

    if (cs->to_stdout)
        write_stdout(buf, len);
    for (size_t i = 0; i < len; i++) {
        cs->ring[cs->ring_head] = buf[i];
        cs->ring_head = (cs->ring_head + 1) % RING_SIZE;
        if (cs->ring_len < RING_SIZE)
            cs->ring_len++;
    }
    for (unsigned i = 0; i < cs->nclients; i++) {
        ConClient *cl = cs->clients[i];
        if (!cl->out_len)
            wake = true;
        client_append(cl, buf, len);
    }
    if (wake && cs->m->loop)
        loop_wakeup(cs->m->loop);
}

static void add_client(ConsoleSock *cs, int fd)
{
    ConClient *cl;
    size_t start;

    if (cs->nclients >= CON_MAX_CLIENTS) {
        static const char msg[] = "xeno-vmm: too many console clients\r\n";
        ssize_t r = send(fd, msg, sizeof(msg) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
        (void)r;
        close(fd);
        return;
    }
    cl = calloc(1, sizeof(*cl));
    if (!cl) {
        close(fd);
        return;
    }
    cl->fd = fd;
    cl->idx = -1;
    /* Replay recent output, oldest first. */
    start = (cs->ring_head + RING_SIZE - cs->ring_len) % RING_SIZE;
    if (start + cs->ring_len <= RING_SIZE) {
        client_append(cl, cs->ring + start, cs->ring_len);
    } else {
        client_append(cl, cs->ring + start, RING_SIZE - start);
        client_append(cl, cs->ring, cs->ring_len - (RING_SIZE - start));
    }
    cs->clients[cs->nclients++] = cl;
}

static void client_flush(ConClient *cl)
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

static void client_input(ConsoleSock *cs, ConClient *cl)
{
    uint8_t buf[4096];
    size_t space = cs->m->uart ? uart_rx_space(cs->m->uart) : sizeof(buf);
    ssize_t n;

    if (!space)
        return;                 /* the guest is not reading: later */
    n = recv(cl->fd, buf, space < sizeof(buf) ? space : sizeof(buf), MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)) {
        cl->dead = true;
        return;
    }
    if (n > 0 && cs->m->uart)
        uart_rx_push(cs->m->uart, buf, (size_t)n);
}

static void reap(ConsoleSock *cs)
{
    unsigned j = 0;

    for (unsigned i = 0; i < cs->nclients; i++) {
        ConClient *cl = cs->clients[i];
        if (cl->dead) {
            close(cl->fd);
            free(cl->out);
            free(cl);
        } else {
            cs->clients[j++] = cl;
        }
    }
    cs->nclients = j;
}

/* ---- polling (as a loop hook, or standalone for tests) ------------------ */

static int add_pollfd(ConsoleSock *cs, Loop *l, int fd, short events)
{
    if (l)
        return loop_hook_add_pollfd(l, fd, events);
    if (cs->own_npfd >= cs->own_max)
        return -1;
    cs->own_pfd[cs->own_npfd] = (struct pollfd){ .fd = fd, .events = events };
    return cs->own_npfd++;
}

static short revents_of(ConsoleSock *cs, Loop *l, int idx)
{
    if (idx < 0)
        return 0;
    if (l)
        return loop_hook_revents(l, idx);
    return idx < cs->own_npfd ? cs->own_pfd[idx].revents : 0;
}

static void prepare(ConsoleSock *cs, Loop *l, int *timeout_ms)
{
    bool rx_room = !cs->m->uart || uart_rx_space(cs->m->uart) > 0;
    bool want_retry = false;

    cs->listen_idx = cs->listen_fd >= 0 ? add_pollfd(cs, l, cs->listen_fd, POLLIN) : -1;
    cs->pipe_idx = cs->pipe_rd >= 0 ? add_pollfd(cs, l, cs->pipe_rd, POLLIN) : -1;
    for (unsigned i = 0; i < cs->nclients; i++) {
        ConClient *cl = cs->clients[i];
        short ev = (rx_room ? POLLIN : 0) | (cl->out_len ? POLLOUT : 0);
        want_retry |= !rx_room;
        cl->idx = ev ? add_pollfd(cs, l, cl->fd, ev) : -1;
    }
    if (want_retry && timeout_ms && (*timeout_ms < 0 || *timeout_ms > INPUT_RETRY_MS))
        *timeout_ms = INPUT_RETRY_MS;
}

static void dispatch_round(ConsoleSock *cs, Loop *l)
{
    if (revents_of(cs, l, cs->listen_idx) & POLLIN) {
        for (;;) {
            int fd = accept4(cs->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0)
                break;
            add_client(cs, fd);
        }
    }
    if (revents_of(cs, l, cs->pipe_idx) & (POLLIN | POLLHUP)) {
        uint8_t buf[4096];
        ssize_t n;
        while ((n = read(cs->pipe_rd, buf, sizeof(buf))) > 0)
            console_sock_output(cs, buf, (size_t)n);
    }
    for (unsigned i = 0; i < cs->nclients; i++) {
        ConClient *cl = cs->clients[i];
        short re = revents_of(cs, l, cl->idx);
        cl->idx = -1;
        if (re & (POLLIN | POLLHUP | POLLERR))
            client_input(cs, cl);
        if (re & POLLNVAL)
            cl->dead = true;
        client_flush(cl);
    }
    reap(cs);
}

static void hook_prepare(void *opaque, Loop *l, int *timeout_ms)
{
    prepare(opaque, l, timeout_ms);
}

static void hook_dispatch(void *opaque, Loop *l)
{
    dispatch_round(opaque, l);
}

void console_sock_run_once(ConsoleSock *cs)
{
    struct pollfd pfd[CON_MAX_CLIENTS + 2];
    int timeout = 0;

    cs->own_pfd = pfd;
    cs->own_npfd = 0;
    cs->own_max = (int)(sizeof(pfd) / sizeof(pfd[0]));
    prepare(cs, NULL, &timeout);
    if (poll(pfd, (nfds_t)cs->own_npfd, 0) < 0)
        cs->own_npfd = 0;
    dispatch_round(cs, NULL);
    cs->own_pfd = NULL;
}

/* ---- life cycle -------------------------------------------------------- */

ConsoleSock *console_sock_new(Machine *m, bool to_stdout, char *err, size_t errlen)
{
    ConsoleSock *cs = calloc(1, sizeof(*cs));
    int p[2];
    LoopHook hook = { hook_prepare, hook_dispatch, NULL };

    if (!cs) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    cs->m = m;
    cs->to_stdout = to_stdout;
    cs->listen_fd = cs->listen_idx = -1;
    cs->pipe_rd = cs->pipe_wr = cs->pipe_idx = -1;
    if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0) {
        snprintf(err, errlen, "console pipe: %s", strerror(errno));
        free(cs);
        return NULL;
    }
    fcntl(p[1], F_SETPIPE_SZ, 1 << 20);     /* best effort: fewer stalls */
    cs->pipe_rd = p[0];
    cs->pipe_wr = p[1];
    m->console_out = p[1];
    if (m->loop) {
        hook.opaque = cs;
        if (loop_add_hook(m->loop, &hook) < 0) {
            snprintf(err, errlen, "console: the event loop is full");
            close(p[0]);
            close(p[1]);
            m->console_out = to_stdout ? STDOUT_FILENO : -1;
            free(cs);
            return NULL;
        }
    }
    return cs;
}

void console_sock_attach_uart(ConsoleSock *cs)
{
    if (cs->m->uart)
        uart_set_output(cs->m->uart, console_sock_output, cs);
}

int console_sock_listen(ConsoleSock *cs, const char *path, char *err, size_t errlen)
{
    cs->path = strdup(path);
    if (!cs->path) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    cs->listen_fd = control_listen_unix(path, err, errlen);
    if (cs->listen_fd < 0) {
        free(cs->path);
        cs->path = NULL;
        return -1;
    }
    return 0;
}

void console_sock_stop(ConsoleSock *cs)
{
    struct timespec t0, t;

    if (!cs)
        return;
    /* Last words: whatever is still in the pipe, then up to a second for
     * clients to take their output. */
    if (cs->pipe_rd >= 0) {
        uint8_t buf[4096];
        ssize_t n;
        while ((n = read(cs->pipe_rd, buf, sizeof(buf))) > 0)
            console_sock_output(cs, buf, (size_t)n);
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct pollfd pfd[CON_MAX_CLIENTS];
        nfds_t n = 0;
        long ms;
        for (unsigned i = 0; i < cs->nclients; i++) {
            client_flush(cs->clients[i]);
            if (cs->clients[i]->out_len && !cs->clients[i]->dead)
                pfd[n++] = (struct pollfd){ .fd = cs->clients[i]->fd, .events = POLLOUT };
        }
        clock_gettime(CLOCK_MONOTONIC, &t);
        ms = 1000 - ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
        if (!n || ms <= 0 || poll(pfd, n, (int)ms) <= 0)
            break;
    }
    for (unsigned i = 0; i < cs->nclients; i++)
        cs->clients[i]->dead = true;
    reap(cs);
    if (cs->listen_fd >= 0)
        close(cs->listen_fd);
    if (cs->path)
        unlink(cs->path);
    free(cs->path);
    /* The pipe stays open: the (stopped) devices may still hold its fd. */
    if (cs->m->loop)
        loop_del_hook(cs->m->loop, cs);
    if (cs->m->uart)
        uart_set_output(cs->m->uart, NULL, NULL);
    free(cs);
}
