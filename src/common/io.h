/* Careful I/O for the recurring jobs: write everything, replace a file
 * durably, connect to a UNIX socket without waiting forever.
 *
 * Every function returns 0 (io_unix_connect: a file descriptor) on success
 * and a negative errno value on failure, and prints nothing: the caller
 * reports the one line (strerror(-ret)). errno itself is unspecified
 * afterwards. All of them are safe to call from several threads, and
 * io_write_all/io_writev_all also between fork and exec (they only make
 * async-signal-safe system calls). */
#ifndef XENO_IO_H
#define XENO_IO_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Write all len bytes of buf to fd. Short writes continue, EINTR restarts,
 * and on a non-blocking fd EAGAIN waits (poll) until fd is writable again,
 * without a time limit, as a blocking write would. On a socket no SIGPIPE
 * is raised: a closed peer gives -EPIPE. A write that makes no progress
 * gives -EIO. */
int io_write_all(int fd, const void *buf, size_t len);

/* io_write_all for n (at most IOV_MAX) buffers, written in order. The
 * iovec array is not modified. */
int io_writev_all(int fd, const struct iovec *iov, int n);

/* Replace path with len bytes of data, durably and atomically: the data
 * goes to a new file "PATH.tmp.XXXXXXXX" in the same directory (created
 * with mode, the umask applies), which is fsync'd, renamed over path, and
 * then the directory is fsync'd. Readers see the old content or the new,
 * never a mix. On any failure before the rename the old file is intact and
 * the temporary file is gone; a failure to sync the directory after the
 * rename is still reported (the new content is in place but might not
 * survive a crash). */
int io_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* io_unix_connect flags. */
#define IO_NONBLOCK 0x1u    /* the returned socket is non-blocking */
#define IO_CLOEXEC  0x2u    /* the returned socket is close-on-exec */

/* Connect a stream socket to the UNIX socket at path. When the listener's
 * backlog is full, wait up to timeout_ms for room (0: do not wait; < 0: no
 * limit), then fail with -ETIMEDOUT. Other failures are connect(2)'s:
 * -ENOENT (no such socket), -ECONNREFUSED (nobody listens), -ENAMETOOLONG
 * (path longer than sun_path allows). flags are IO_NONBLOCK | IO_CLOEXEC;
 * the connection itself is always made in blocking mode. */
int io_unix_connect(const char *path, int timeout_ms, unsigned flags);

#endif
