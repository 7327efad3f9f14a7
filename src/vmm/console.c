/* The VM console on the VMM's stdin: raw mode on a terminal, the escape
 * sequence Ctrl-] q to quit, and everything else to the console input sink
 * (the UART, or hvc0 when that is the guest's console; console_input.h).
 *
 * Input is read only as fast as the sink takes it: when it is full, stdin
 * leaves the loop until the guest drains it (the UART's rx-ready callback,
 * or hvc0's pipe becoming writable again). */
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

#include "common/log.h"
#include "console.h"
#include "console_input.h"
#include "hw/uart.h"

#define ESCAPE_CHAR 0x1d    /* Ctrl-] */

static struct termios saved_tio;
static int saved_fd = -1;

typedef struct Console {
    Machine *m;
    int fd;
    int polling;
    int waiting_hvc;        /* watching hvc0's pipe for room */
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

/* hvc0's input pipe has room again. */
static void on_hvc_room(void *opaque, int fd, short revents)
{
    Console *c = opaque;

    loop_del_fd(c->m->loop, fd);
    c->waiting_hvc = 0;
    resume_input(c);
}

static void wait_for_room(Console *c)
{
    loop_del_fd(c->m->loop, c->fd);
    c->polling = 0;
    /* The UART calls resume_input when its FIFO drains. */
    if (c->m->console_hvc && !c->waiting_hvc &&
        loop_add_fd(c->m->loop, c->m->hvc_in_wr, POLLOUT, on_hvc_room, c) == 0)
        c->waiting_hvc = 1;
}

static void on_input(void *opaque, int fd, short revents)
{
    Console *c = opaque;
    uint8_t buf[256], out[256];
    size_t space = console_input_space(c->m), k = 0;
    ssize_t n;

    if (space == 0) {
        /* Guest is not reading: stop polling until it drains the sink. */
        wait_for_room(c);
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
    console_input_push(c->m, out, k);
}

int console_attach(Machine *m, int in_fd)
{
    con.m = m;
    con.fd = in_fd;
    if (in_fd >= 0 && isatty(in_fd)) {
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
    if (m->uart)
        uart_set_rx_ready_cb(m->uart, resume_input, &con);
    resume_input(&con);
    return 0;
}
