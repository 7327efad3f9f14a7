/* Careful I/O helpers (io.h). */
#include "common/io.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/util.h"

#define IO_BATCH 64            /* buffers handed to one writev */
#define TEMP_ATTEMPTS 64       /* names tried for a temporary file */

/* One writev; on a socket a sendmsg that raises no SIGPIPE. *sock starts
 * true and turns false at the first ENOTSOCK. */
static ssize_t writev_some(int fd, const struct iovec *iov, int n, bool *sock)
{
    if (*sock) {
        struct msghdr m = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)n };
        ssize_t w = sendmsg(fd, &m, MSG_NOSIGNAL);

        if (w >= 0 || errno != ENOTSOCK)
            return w;
        *sock = false;
    }
    return writev(fd, iov, n);
}

/* Block until fd is writable (a non-blocking fd said EAGAIN). Errors and
 * hang-ups are left for the next write to report. */
static int wait_writable(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLOUT };

    for (;;) {
        int r = poll(&p, 1, -1);

        if (r > 0)
            return 0;
        if (r < 0 && errno != EINTR)
            return -errno;
    }
}

int io_writev_all(int fd, const struct iovec *iov, int n)
{
    size_t off = 0;            /* bytes of iov[0] already written */
    bool sock = true;

    if (n < 0 || n > IOV_MAX)
        return -EINVAL;
    while (n > 0) {
        struct iovec batch[IO_BATCH];
        int k;
        ssize_t w;

        if (off == iov[0].iov_len) {          /* done (or empty): next buffer */
            iov++;
            n--;
            off = 0;
            continue;
        }
        for (k = 0; k < n && k < IO_BATCH; k++)
            batch[k] = iov[k];
        batch[0].iov_base = (char *)batch[0].iov_base + off;
        batch[0].iov_len -= off;
        w = writev_some(fd, batch, k, &sock);
        if (w < 0) {
            int r;

            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                return -errno;
            if ((r = wait_writable(fd)) < 0)
                return r;
            continue;
        }
        if (w == 0)
            return -EIO;        /* batch[0] is not empty: no progress */
        for (size_t left = (size_t)w; left;) {
            size_t rest = iov[0].iov_len - off;

            if (left < rest) {
                off += left;
                break;
            }
            left -= rest;
            iov++;
            n--;
            off = 0;
        }
    }
    return 0;
}

int io_write_all(int fd, const void *buf, size_t len)
{
    struct iovec v = { .iov_base = (void *)buf, .iov_len = len };

    return io_writev_all(fd, &v, 1);
}

/* ---- atomic file replacement ---- */

static uint32_t temp_suffix(void)
{
    static uint32_t counter;
    uint32_t v;

    if (getrandom(&v, sizeof(v), GRND_NONBLOCK) == (ssize_t)sizeof(v))
        return v;
    /* No entropy yet (early boot): unique enough with O_EXCL retries. */
    return (uint32_t)clock_ns() ^ ((uint32_t)getpid() << 16) ^
           __atomic_add_fetch(&counter, 0x9e3779b9u, __ATOMIC_RELAXED);
}

/* Create "PATH.tmp.XXXXXXXX" exclusively; its name goes to tmp. */
static int create_temp(const char *path, char *tmp, size_t size, mode_t mode)
{
    for (int i = 0; i < TEMP_ATTEMPTS; i++) {
        int fd;

        if ((size_t)snprintf(tmp, size, "%s.tmp.%08x", path, temp_suffix()) >= size)
            return -ENAMETOOLONG;
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
        if (fd >= 0)
            return fd;
        if (errno != EEXIST)
            return -errno;
    }
    return -EEXIST;
}

/* fsync the directory holding path, so that a rename in it is durable. */
static int sync_dir_of(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 1;
    int fd, r = 0;

    if (!slash)
        memcpy(dir, ".", 2);
    else if (n == 0)
        memcpy(dir, "/", 2);
    else if (n < sizeof(dir)) {
        memcpy(dir, path, n);
        dir[n] = '\0';
    } else
        return -ENAMETOOLONG;
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    /* EINVAL: a file system that cannot sync directories (nothing to do). */
    if (fsync(fd) < 0 && errno != EINVAL)
        r = -errno;
    close(fd);
    return r;
}

int io_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
    char tmp[PATH_MAX];
    int fd, r;

    fd = create_temp(path, tmp, sizeof(tmp), mode);
    if (fd < 0)
        return fd;
    r = io_write_all(fd, data, len);
    if (r == 0 && fsync(fd) < 0)
        r = -errno;
    if (close(fd) < 0 && r == 0)
        r = -errno;
    if (r == 0 && rename(tmp, path) < 0)
        r = -errno;
    if (r < 0) {
        unlink(tmp);
        return r;
    }
    return sync_dir_of(path);
}

/* ---- UNIX socket connection ---- */

/* SO_SNDTIMEO bounds how long connect(2) on a UNIX stream socket waits for
 * room in a full backlog (the kernel's unix_stream_connect); 0 = forever. */
static int set_send_timeout(int fd, int ms)
{
    struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

    return setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ? -errno : 0;
}

static int set_nonblock(int fd, bool on)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0)
        return -errno;
    fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
    return fcntl(fd, F_SETFL, fl) < 0 ? -errno : 0;
}

/* One connect attempt, waiting at most ms (0: not at; < 0: forever).
 * Returns the connected socket (blocking, no send timeout) or -errno. */
static int connect_once(const struct sockaddr_un *sa, int ms, unsigned flags)
{
    int type = SOCK_STREAM | (flags & IO_CLOEXEC ? SOCK_CLOEXEC : 0) | (ms == 0 ? SOCK_NONBLOCK : 0);
    int fd = socket(AF_UNIX, type, 0), r = 0;

    if (fd < 0)
        return -errno;
    if (ms > 0)
        r = set_send_timeout(fd, ms);
    if (r == 0 && connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0)
        r = -errno;
    if (r == 0 && ms > 0)
        r = set_send_timeout(fd, 0);
    if (r == 0 && ms == 0)
        r = set_nonblock(fd, false);
    if (r < 0) {
        close(fd);
        return r;
    }
    return fd;
}

int io_unix_connect(const char *path, int timeout_ms, unsigned flags)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    size_t len = strlen(path);
    uint64_t deadline = clock_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * NS_PER_MS;
    int fd;

    if (len >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    memcpy(sa.sun_path, path, len + 1);
    for (;;) {
        int ms = timeout_ms;

        if (timeout_ms > 0) {
            uint64_t now = clock_ns();

            if (now >= deadline)
                return -ETIMEDOUT;
            ms = (int)((deadline - now + NS_PER_MS - 1) / NS_PER_MS);
        }
        fd = connect_once(&sa, ms, flags);
        if (fd == -EINTR)
            continue;           /* a signal: try again with the time left */
        if (fd == -EAGAIN)
            return -ETIMEDOUT;  /* the backlog stayed full */
        if (fd < 0)
            return fd;
        break;
    }
    if (flags & IO_NONBLOCK) {
        int r = set_nonblock(fd, true);

        if (r < 0) {
            close(fd);
            return r;
        }
    }
    return fd;
}
