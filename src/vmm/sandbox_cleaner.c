/* The socket cleaner: a sandboxed VMM cannot remove its control and
 * console sockets when it ends (its root is empty and its user cannot
 * write the directory), so a helper forked before the VMM opened anything
 * waits for it to end and removes them. It keeps the user it was started
 * as, but holds nothing of the VMM (no guest memory, no descriptors but a
 * pidfd), reads nothing from it, and runs under its own seccomp filter:
 * stat, a connection attempt, unlink, exit. A file is removed only when it
 * is a socket nobody listens on any more (a new VMM may have taken the
 * path); xend, which also removes a dead VMM's files, does not mind. */
#include "sandbox_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

/* Nobody listens at path: connecting is refused at once. */
static bool stale_socket(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct stat st;
    bool stale;
    int fd;

    if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode) || strlen(path) >= sizeof(sa.sun_path))
        return false;
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    stale = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno == ECONNREFUSED;
    close(fd);
    return stale;
}

static void remove_if_stale(const char *path)
{
    if (stale_socket(path))
        unlink(path);
}

/* The helper's descriptors: /dev/null on 0-2 (it must not keep the VMM's
 * output pipes open: readers wait for their end), the pidfd, no others. */
static int keep_only(int pidfd)
{
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);

    if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0 ||
        (pidfd != 3 && dup2(pidfd, 3) < 0))
        return -1;
    close_range(4, ~0u, 0);
    return 3;
}

static _Noreturn void cleaner_main(int pidfd, const char *ctl)
{
    char console[PATH_MAX + 16], err[256];
    SandboxFilter f;
    struct pollfd p;

    snprintf(console, sizeof(console), "%s.console", ctl);
    /* Its own session: a terminal's ^C or a test's killpg() of the VMM's
     * group leaves it to do its job. */
    setsid();
    prctl(PR_SET_NAME, "xeno-vmm-clean");
    if ((pidfd = keep_only(pidfd)) < 0)
        _exit(1);
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (sandbox_filter_build_cleaner(&f, err, sizeof(err)) < 0 || sandbox_filter_load(&f) < 0)
        _exit(1);
    /* Readable once the VMM has exited and its files are closed. */
    p = (struct pollfd){ .fd = pidfd, .events = POLLIN };
    while (poll(&p, 1, -1) < 0 && errno == EINTR)
        ;
    remove_if_stale(ctl);
    remove_if_stale(console);
    _exit(0);
}

int sandbox_cleaner_start(const char *control_path, char *err, size_t errlen)
{
    /* The VMM's pidfd, taken here so that it is this process for sure. */
    int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    pid_t pid;

    if (pidfd < 0) {
        snprintf(err, errlen, "sandbox: pidfd_open: %s", strerror(errno));
        return -1;
    }
    fflush(NULL);              /* nothing buffered is written twice */
    pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "sandbox: cannot start the socket cleaner: %s", strerror(errno));
        close(pidfd);
        return -1;
    }
    if (pid == 0)
        cleaner_main(pidfd, control_path);
    close(pidfd);
    return 0;
}
