/* virtio-console, single port (no MULTIPORT): queue 0 receives (host to
 * guest), queue 1 transmits (guest to host).
 *
 * Output goes straight to out_fd on the kick. Input is read from in_fd by
 * the event loop, and only while the guest has posted a receive buffer:
 * with no buffer the fd is taken out of the loop (otherwise poll would
 * report it readable forever) and put back when the driver kicks the
 * receive queue. */
#include "devices.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "hw/devstate.h"

#define CONSOLE_RX 0
#define CONSOLE_TX 1
#define CONSOLE_QUEUE_SIZE 128
#define CONSOLE_CFG_SIZE 12   /* cols, rows, max_nr_ports, emerg_wr */

typedef struct VirtioConsole {
    VirtioDevice vd;
    Loop *loop;
    int in_fd, out_fd;
    bool polling;       /* in_fd is registered with the loop */
    bool in_eof;        /* input closed: never poll again */
    bool have_rx;       /* rx holds a popped receive buffer */
    VirtqElem rx;
    VirtqElem tx;
} VirtioConsole;

static void console_rx_ready(void *opaque, int fd, short revents);

static void set_polling(VirtioConsole *c, bool on)
{
    if (c->in_fd < 0 || !c->loop || on == c->polling)
        return;
    if (on && c->in_eof)
        return;
    if (on) {
        if (loop_add_fd(c->loop, c->in_fd, POLLIN, console_rx_ready, c) < 0) {
            log_warn_rl("virtio-console: cannot watch input");
            return;
        }
    } else {
        loop_del_fd(c->loop, c->in_fd);
    }
    c->polling = on;
}

/* Make sure a receive buffer is in hand; false if the guest offers none. */
static bool get_rx_buffer(VirtioConsole *c)
{
    if (!c->have_rx && virtq_pop(&c->vd, CONSOLE_RX, &c->rx) == 1)
        c->have_rx = true;
    return c->have_rx;
}

static void console_rx_ready(void *opaque, int fd, short revents)
{
    VirtioConsole *c = opaque;
    struct pollfd p = { .fd = fd, .events = POLLIN };
    ssize_t n;

    if (!virtio_is_ready(&c->vd) || !get_rx_buffer(c)) {
        set_polling(c, false);   /* resumed by the next rx kick */
        return;
    }
    if (!c->rx.n_in || !c->rx.in_len) {
        /* A receive buffer with no room: hand it back empty. */
        virtq_push(&c->vd, CONSOLE_RX, &c->rx, 0);
        virtq_notify(&c->vd, CONSOLE_RX);
        c->have_rx = false;
        return;
    }
    /* Never block under the device lock: re-check readiness first. */
    if (poll(&p, 1, 0) <= 0)
        return;
    n = readv(fd, c->rx.in, (int)c->rx.n_in);
    if (n < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        log_warn_rl("virtio-console: input read failed: %s", strerror(errno));
    }
    if (n <= 0) {
        c->in_eof = true;       /* keep the buffer for a later reset */
        set_polling(c, false);
        return;
    }
    virtq_push(&c->vd, CONSOLE_RX, &c->rx, (uint32_t)n);
    virtq_notify(&c->vd, CONSOLE_RX);
    c->have_rx = false;
}

static void write_all(int fd, const struct iovec *iov, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        const char *p = iov[i].iov_base;
        size_t left = iov[i].iov_len;
        while (left) {
            ssize_t w = write(fd, p, left);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) {
                    /* Slow reader: wait a little, then drop the output
                     * rather than stall the guest forever. */
                    struct pollfd pf = { .fd = fd, .events = POLLOUT };
                    if (poll(&pf, 1, 1000) > 0)
                        continue;
                }
                return;
            }
            p += w;
            left -= (size_t)w;
        }
    }
}

static void console_queue_notify(VirtioDevice *vd, unsigned q)
{
    VirtioConsole *c = vd->priv;
    bool done = false;

    if (q == CONSOLE_RX) {
        set_polling(c, true);
        return;
    }
    if (q != CONSOLE_TX)
        return;
    while (virtq_pop(vd, q, &c->tx) == 1) {
        if (c->out_fd >= 0)
            write_all(c->out_fd, c->tx.out, c->tx.n_out);
        virtq_push(vd, q, &c->tx, 0);
        done = true;
    }
    if (done)
        virtq_notify(vd, q);
}

static void console_config_read(VirtioDevice *vd, uint32_t off, void *buf, unsigned len)
{
    memset(buf, 0, len);   /* no F_SIZE, no MULTIPORT, no EMERG_WRITE */
}

static void console_reset(VirtioDevice *vd)
{
    VirtioConsole *c = vd->priv;

    set_polling(c, false);
    c->have_rx = false;
    c->in_eof = false;
}

static void console_destroy(VirtioDevice *vd)
{
    VirtioConsole *c = vd->priv;

    set_polling(c, false);
    free(c);
}

/* A receive buffer in hand was popped last (one at a time): a save gives
 * it back to the ring. */
static unsigned console_held(VirtioDevice *vd, unsigned q)
{
    VirtioConsole *c = vd->priv;

    return q == CONSOLE_RX && c->have_rx;
}

/* No state of its own beyond the transport's (input end-of-file is the
 * host's, not the guest's); a buffer held here is back in the saved
 * ring, so drop it. Input is watched again at the restart's rx kick. */
static int console_load(VirtioDevice *vd, StateBuf *b, uint32_t version, char *err,
                        size_t errlen)
{
    VirtioConsole *c = vd->priv;

    if (devstate_end(b, err, errlen))
        return -1;
    c->have_rx = false;
    return 0;
}

static const VirtioDeviceOps console_ops = {
    .name = "virtio-console",
    .device_id = VIRTIO_ID_CONSOLE,
    .config_read = console_config_read,
    .config_size = CONSOLE_CFG_SIZE,
    .queue_notify = console_queue_notify,
    .reset = console_reset,
    .destroy = console_destroy,
    .load = console_load,
    .held = console_held,
};

VirtioDevice *virtio_console_create(GuestMem *mem, Loop *loop, int in_fd, int out_fd,
                                    char *err, size_t errlen)
{
    VirtioConsole *c;

    if (in_fd >= 0 && !loop) {
        snprintf(err, errlen, "virtio-console: input needs an event loop");
        return NULL;
    }
    c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "virtio-console: out of memory");
        return NULL;
    }
    c->loop = loop;
    c->in_fd = in_fd;
    c->out_fd = out_fd;
    virtio_init(&c->vd, &console_ops, c, mem, 2, CONSOLE_QUEUE_SIZE);
    return &c->vd;
}
