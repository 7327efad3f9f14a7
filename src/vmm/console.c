#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

#include "common/log.h"
#include "console.h"
#include "hw/uart.h"

#define ESCAPE_CHAR 0x1d    /* Ctrl-] */

static struct termios saved_tio;
static int saved_fd = -1;

typedef struct Console {
    Machine *m;
    int fd;
    int polling;
    int escape;
} Console;

static Console con;

void console_restore(void)
{
    if (saved_fd >= 0) {
        tcsetattr(saved_fd, TCSAFLUSH, &saved_tio);
        saved_fd = -1;
    }
}

static void on_input(void *opaque, int fd, short revents);

static void resume_input(void *opaque)
{
    Console *c = opaque;

    if (!c->polling && c->fd >= 0) {
        c->polling = 1;
        loop_add_fd(c->m->loop, c->fd, POLLIN, on_input, c);
    }
}

static void on_input(void *opaque, int fd, short revents)
{
    Console *c = opaque;
    uint8_t buf[256], out[256];
    size_t space = uart_rx_space(c->m->uart), k = 0;
    ssize_t n;

    if (space == 0) {
        /* Guest is not reading: stop polling until it drains the FIFO. */
        loop_del_fd(c->m->loop, fd);
        c->polling = 0;
        return;
    }
    n = read(fd, buf, space < sizeof(buf) ? space : sizeof(buf));
    if (n <= 0) {
        /* EOF (or error): the guest keeps running without console input. */
        loop_del_fd(c->m->loop, fd);
        c->polling = 0;
        c->fd = -1;
        return;
    }
    for (ssize_t i = 0; i < n; i++) {
        if (c->escape) {
            c->escape = 0;
            if (buf[i] == 'q' || buf[i] == 'Q') {
                machine_request_exit(c->m, VM_EXIT_QUIT, 0);
                return;
            }
            if (buf[i] != ESCAPE_CHAR)
                out[k++] = ESCAPE_CHAR;
        } else if (buf[i] == ESCAPE_CHAR && saved_fd >= 0) {
            c->escape = 1;      /* escape only on a terminal */
            continue;
        }
        out[k++] = buf[i];
    }
    uart_rx_push(c->m->uart, out, k);
}

int console_attach(Machine *m, int in_fd)
{
    con.m = m;
    con.fd = in_fd;
    if (isatty(in_fd)) {
        struct termios tio;
        if (tcgetattr(in_fd, &saved_tio) == 0) {
            tio = saved_tio;
            cfmakeraw(&tio);
            if (tcsetattr(in_fd, TCSAFLUSH, &tio) == 0) {
                saved_fd = in_fd;
                atexit(console_restore);
            }
        }
    }
    uart_set_rx_ready_cb(m->uart, resume_input, &con);
    resume_input(&con);
    return 0;
}
