/* The console socket (PATH.console): the guest's serial output fans out to
 * stdout (unless --no-console), a 64 KiB ring replayed to each new client
 * (so `xm console` shows recent output) and every connected client; what a
 * client writes goes to the console input sink (console_input.h): the
 * UART's receive FIFO, or hvc0 when that is the guest's console.
 *
 * The UART calls console_sock_output() on the vCPU thread with the device
 * lock held, one byte at a time, so it only copies bytes into buffers and
 * wakes the event loop; the loop (a hook, same lock) does the socket I/O.
 * A client that does not read loses output beyond CON_OUT_MAX rather than
 * slow the guest down. The virtio console writes to a pipe whose read end
 * the loop feeds into the same fan-out. The clients are served by
 * linesrv.c (raw chunks). */
#include "control.h"
#include "console_input.h"
#include "linesrv.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "hw/uart.h"

#define RING_SIZE       (64 * 1024)
#define CON_MAX_CLIENTS 16
#define CON_OUT_MAX     (256 * 1024)
#define INPUT_RETRY_MS  20      /* input sink full: look again this soon */

struct ConsoleSock {
    Machine *m;
    bool to_stdout;
    char *path;
    LineSrv *srv;
    int pipe_rd, pipe_wr, pipe_idx;
    uint8_t ring[RING_SIZE];
    size_t ring_head, ring_len;         /* next write position, bytes held */
};

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

    if (cs->to_stdout)
        write_stdout(buf, len);
    for (size_t i = 0; i < len; i++) {
        cs->ring[cs->ring_head] = buf[i];
        cs->ring_head = (cs->ring_head + 1) % RING_SIZE;
        if (cs->ring_len < RING_SIZE)
            cs->ring_len++;
    }
    if (ls_broadcast(cs->srv, buf, len) && cs->m->loop)
        loop_wakeup(cs->m->loop);
}

/* ---- the client server's callbacks ------------------------------------- */

/* Replay recent output, oldest first. */
static void on_accept(void *opaque, LsClient *cl)
{
    ConsoleSock *cs = opaque;
    size_t start = (cs->ring_head + RING_SIZE - cs->ring_len) % RING_SIZE;

    if (start + cs->ring_len <= RING_SIZE) {
        ls_send(cs->srv, cl, cs->ring + start, cs->ring_len);
    } else {
        ls_send(cs->srv, cl, cs->ring + start, RING_SIZE - start);
        ls_send(cs->srv, cl, cs->ring, cs->ring_len - (RING_SIZE - start));
    }
}

static size_t raw_room(void *opaque)
{
    ConsoleSock *cs = opaque;
    return console_input_space(cs->m);
}

static void on_raw(void *opaque, LsClient *cl, const uint8_t *buf, size_t len)
{
    ConsoleSock *cs = opaque;
    console_input_push(cs->m, buf, len);
}

static void drain_pipe(ConsoleSock *cs)
{
    uint8_t buf[4096];
    ssize_t n;

    while ((n = read(cs->pipe_rd, buf, sizeof(buf))) > 0)
        console_sock_output(cs, buf, (size_t)n);
}

static void srv_prepare(void *opaque, LineSrv *s, int *timeout_ms)
{
    ConsoleSock *cs = opaque;

    cs->pipe_idx = cs->pipe_rd >= 0 ? ls_add_pollfd(s, cs->pipe_rd, POLLIN) : -1;
    /* The input sink is full: clients are not read; look again soon. */
    if (ls_nclients(s) && !console_input_space(cs->m) && timeout_ms &&
        (*timeout_ms < 0 || *timeout_ms > INPUT_RETRY_MS))
        *timeout_ms = INPUT_RETRY_MS;
}

static void srv_dispatch(void *opaque, LineSrv *s)
{
    ConsoleSock *cs = opaque;

    if (ls_revents(s, cs->pipe_idx) & (POLLIN | POLLHUP))
        drain_pipe(cs);
}

static const LineSrvConfig srv_cfg = {
    .mode = LS_RAW,
    .max_clients = CON_MAX_CLIENTS,
    .out_max = CON_OUT_MAX,
    .drop_on_overflow = false,
    .poll_listen_when_full = true,
    .full_msg = "xeno-vmm: too many console clients\r\n",
};

static const LineSrvOps srv_ops = {
    .raw_room = raw_room,
    .on_raw = on_raw,
    .on_accept = on_accept,
    .prepare = srv_prepare,
    .dispatch = srv_dispatch,
};

void console_sock_run_once(ConsoleSock *cs)
{
    ls_run_once(cs->srv);
}

/* ---- life cycle -------------------------------------------------------- */

ConsoleSock *console_sock_new(Machine *m, bool to_stdout, char *err, size_t errlen)
{
    ConsoleSock *cs = calloc(1, sizeof(*cs));
    int p[2];

    if (!cs || !(cs->srv = ls_new(&srv_cfg, &srv_ops, cs))) {
        snprintf(err, errlen, "out of memory");
        free(cs);
        return NULL;
    }
    cs->m = m;
    cs->to_stdout = to_stdout;
    cs->pipe_rd = cs->pipe_wr = cs->pipe_idx = -1;
    if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0) {
        snprintf(err, errlen, "console pipe: %s", strerror(errno));
        ls_free(cs->srv);
        free(cs);
        return NULL;
    }
    fcntl(p[1], F_SETPIPE_SZ, 1 << 20);     /* best effort: fewer stalls */
    cs->pipe_rd = p[0];
    cs->pipe_wr = p[1];
    m->console_out = p[1];
    if (m->loop && ls_attach(cs->srv, m->loop) < 0) {
        snprintf(err, errlen, "console: the event loop is full");
        close(p[0]);
        close(p[1]);
        m->console_out = to_stdout ? STDOUT_FILENO : -1;
        ls_free(cs->srv);
        free(cs);
        return NULL;
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
    int fd;

    cs->path = strdup(path);
    if (!cs->path) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    fd = control_listen_unix(path, err, errlen);
    if (fd < 0) {
        free(cs->path);
        cs->path = NULL;
        return -1;
    }
    ls_set_listen_fd(cs->srv, fd);
    return 0;
}

void console_sock_stop(ConsoleSock *cs)
{
    if (!cs)
        return;
    /* Last words: whatever is still in the pipe, then up to a second for
     * clients to take their output. */
    if (cs->pipe_rd >= 0)
        drain_pipe(cs);
    ls_flush_wait(cs->srv, 1000);
    if (cs->m->loop)
        ls_detach(cs->srv, cs->m->loop);
    ls_free(cs->srv);           /* closes the clients and the listener */
    if (cs->path)
        unlink(cs->path);
    free(cs->path);
    /* The pipe stays open: the (stopped) devices may still hold its fd. */
    if (cs->m->uart)
        uart_set_output(cs->m->uart, NULL, NULL);
    free(cs);
}
