/* xm console and xm dmesg: the domain's console socket (local only).
 * The socket replays the recent output to a new client, then relays both
 * ways; Ctrl-] detaches. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cmds.h"
#include "common/io.h"

#define CTRL_RBRACKET 0x1d
#define CONSOLE_CONNECT_MS 10000

static int console_open(struct xm_ctx *ctx, xeno_domain *d)
{
    char *path;
    if (xeno_domain_console_path(d, &path) != XENO_OK) {
        xm_lib_error(ctx);
        return -1;
    }
    int fd = io_unix_connect(path, CONSOLE_CONNECT_MS, IO_CLOEXEC);
    if (fd == -ENAMETOOLONG)
        xm_error("Console socket path too long: %s", path);
    else if (fd < 0)
        xm_error("Unable to attach to the console of %s: %s.", xeno_domain_get_name(d),
                 strerror(-fd));
    free(path);
    return fd < 0 ? -1 : fd;
}

int xm_console_attach(struct xm_ctx *ctx, xeno_domain *d)
{
    int fd = console_open(ctx, d);
    if (fd < 0)
        return 1;
    struct termios saved, raw;
    bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
    if (tty) {
        raw = saved;
        cfmakeraw(&raw);
        tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    }
    bool stdin_open = true;
    int ret = 0;
    char buf[4096];
    for (;;) {
        struct pollfd p[2] = { { fd, POLLIN, 0 }, { STDIN_FILENO, POLLIN, 0 } };
        /* When stdin is not a terminal and has ended, keep showing output
         * for a short while, then leave (scripts pipe input into xm console). */
        int n = poll(p, stdin_open ? 2 : 1, stdin_open ? -1 : 500);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = read(fd, buf, sizeof(buf));
            if (r <= 0)
                break;          /* the domain went away */
            if (io_write_all(STDOUT_FILENO, buf, r) < 0) {
                ret = 1;
                break;
            }
        }
        if (stdin_open && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t r = read(STDIN_FILENO, buf, sizeof(buf));
            if (r <= 0) {
                stdin_open = false;
                continue;
            }
            char *esc = tty ? memchr(buf, CTRL_RBRACKET, r) : NULL;
            size_t len = esc ? (size_t)(esc - buf) : (size_t)r;
            if (len && io_write_all(fd, buf, len) < 0)
                break;
            if (esc)
                break;
        }
    }
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSANOW, &saved);
        fputs("\r\n", stdout);
    }
    close(fd);
    return ret;
}

int cmd_console(struct xm_ctx *ctx, const struct xm_cmd *cmd, int argc, char **argv)
{
    if (xm_operands(cmd, &argc, &argv, 1, 1))
        return 1;
    xeno_domain *d = xm_lookup_guest(ctx, argv[0]);
    if (!d)
        return 1;
    int rc = xm_console_attach(ctx, d);
    xeno_domain_free(d);
    return rc;
}

/* The console ring replayed on connect: read until it has been quiet for
 * a moment. */
int cmd_dmesg(struct xm_ctx *ctx, const struct xm_cmd *cmd, int argc, char **argv)
{
    if (xm_operands(cmd, &argc, &argv, 1, 1))
        return 1;
    xeno_domain *d = xm_lookup_guest(ctx, argv[0]);
    if (!d)
        return 1;
    int fd = console_open(ctx, d);
    xeno_domain_free(d);
    if (fd < 0)
        return 1;
    char buf[4096];
    size_t total = 0;
    for (;;) {
        struct pollfd p = { fd, POLLIN, 0 };
        int n = poll(&p, 1, 300);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r <= 0)
            break;
        if (io_write_all(STDOUT_FILENO, buf, r) < 0)
            break;
        total += r;
        if (total > (1u << 20))     /* a chatty guest: stop after 1 MiB */
            break;
    }
    close(fd);
    return 0;
}
