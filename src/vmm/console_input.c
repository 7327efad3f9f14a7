/* The console input sink (see console_input.h).
 *
 * hvc0's pipe: poll says writable when at least one page of the pipe is
 * free, and a write of at most PIPE_BUF bytes is atomic, so "writable"
 * means exactly "takes PIPE_BUF bytes now". That is the space reported. */
#include "console_input.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hw/uart.h"
#include "hw/virtio/devices.h"

#define NO_SINK_SPACE 4096      /* no sink at all: take (and drop) input */

bool console_cmdline_is(const char *cmdline, const char *name)
{
    const char *last = NULL;
    size_t n = strlen(name);

    if (!cmdline)
        return false;
    for (const char *p = cmdline; (p = strstr(p, "console=")); p += 8)
        if (p == cmdline || p[-1] == ' ')
            last = p + 8;
    return last && !strncmp(last, name, n) &&
           (last[n] == 0 || last[n] == ' ' || last[n] == ',');
}

int console_input_use_hvc(Machine *m, int *rd_fd, char *err, size_t errlen)
{
    int p[2];

    if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0) {
        snprintf(err, errlen, "hvc0 console input pipe: %s", strerror(errno));
        return -1;
    }
    m->console_hvc = true;
    m->hvc_in_wr = p[1];
    *rd_fd = p[0];
    return 0;
}

size_t console_input_space(Machine *m)
{
    if (m->console_hvc) {
        struct pollfd p = { .fd = m->hvc_in_wr, .events = POLLOUT };
        return poll(&p, 1, 0) > 0 && (p.revents & POLLOUT) ? PIPE_BUF : 0;
    }
    if (m->uart)
        return uart_rx_space(m->uart);
    return NO_SINK_SPACE;
}

size_t console_input_push(Machine *m, const uint8_t *buf, size_t len)
{
    if (m->console_hvc) {
        size_t done = 0;
        while (done < len) {
            size_t chunk = len - done < PIPE_BUF ? len - done : PIPE_BUF;
            ssize_t n = write(m->hvc_in_wr, buf + done, chunk);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;          /* full: the caller asked for too much */
            done += (size_t)n;
        }
        return done;
    }
    if (m->uart)
        return uart_rx_push(m->uart, buf, len);
    return len;
}

VirtioDevice *console_hvc_create(Machine *m, const char *const *names,
                                 char *err, size_t errlen)
{
    VirtioDevice *vd;
    bool is_console = false;
    int in_fd = -1;

    for (unsigned i = 0; names && names[i]; i++)
        is_console |= console_cmdline_is(m->cfg.cmdline, names[i]);
    if (is_console && console_input_use_hvc(m, &in_fd, err, errlen))
        return NULL;
    vd = virtio_console_create(&m->mem, m->loop, in_fd, m->console_out, err, errlen);
    if (!vd && in_fd >= 0) {
        close(in_fd);
        close(m->hvc_in_wr);
        m->console_hvc = false;
    }
    return vd;
}
