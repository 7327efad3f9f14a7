/* Raw disk images: a regular file or a host block device, byte for byte. */
#include "block.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/safeopen.h"
#include "common/util.h"

/* Like QEMU's image locking: a writer excludes every other user of the
 * image, readers share it. Open file description locks go with this fd
 * (not the process), so one VMM with two disks on one file conflicts too,
 * and they vanish when the VMM dies. */
static int image_lock(int fd, const char *path, bool readonly, char *err, size_t errlen)
{
    struct flock fl = { .l_type = readonly ? F_RDLCK : F_WRLCK, .l_whence = SEEK_SET };

    if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
        return 0;
    if (errno == EAGAIN || errno == EACCES)
        snprintf(err, errlen, "%s: the image is in use by another VM (%s lock held)",
                 path, readonly ? "a write" : "a");
    else
        snprintf(err, errlen, "%s: cannot lock the image: %s", path, strerror(errno));
    return -1;
}

static int image_unlock(BlockBackend *bb)
{
    struct flock fl = { .l_type = F_UNLCK, .l_whence = SEEK_SET };

    return fcntl(bb->fd, F_OFD_SETLK, &fl);
}

static int raw_open(BlockBackend *bb, const char *path, bool readonly, char *err, size_t errlen)
{
    /* checked to be an image or a disk before it is opened for real */
    int fd = safe_open(path, readonly ? O_RDONLY : O_RDWR, SAFEOPEN_REG | SAFEOPEN_BLK,
                       err, errlen);

    if (fd < 0)
        return -1;
    if (image_lock(fd, path, readonly, err, errlen) < 0) {
        close(fd);
        return -1;
    }
    bb->fd = fd;
    bb->readonly = readonly;
    return 0;
}

/* Move an iovec array (a private copy) forward by `done` bytes, skipping
 * buffers that are used up or empty. */
static void advance(struct iovec **iov, int *n, size_t done)
{
    while (*n && done >= (*iov)->iov_len) {
        done -= (*iov)->iov_len;
        (*iov)++;
        (*n)--;
    }
    if (*n && done) {
        (*iov)->iov_base = (uint8_t *)(*iov)->iov_base + done;
        (*iov)->iov_len -= done;
    }
}

static int raw_rw(BlockBackend *bb, const struct iovec *iov0, int n, uint64_t off, bool write)
{
    struct iovec *copy, *iov;
    int ret = 0;

    if (bb->released)
        return -EBADF;
    if (n <= 0)
        return 0;
    if (n > IOV_MAX || off > (uint64_t)INT64_MAX)
        return -EINVAL;
    copy = malloc(sizeof(*copy) * (size_t)n);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, iov0, sizeof(*copy) * (size_t)n);
    iov = copy;
    advance(&iov, &n, 0);   /* skip leading empty buffers */
    while (n > 0) {
        ssize_t r = write ? pwritev(bb->fd, iov, n, (off_t)off)
                          : preadv(bb->fd, iov, n, (off_t)off);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            ret = -errno;
            break;
        }
        if (r == 0) {        /* end of image */
            ret = -EIO;
            break;
        }
        off += (uint64_t)r;
        advance(&iov, &n, (size_t)r);
    }
    free(copy);
    return ret;
}

static int raw_preadv(BlockBackend *bb, const struct iovec *iov, int n, uint64_t off)
{
    return raw_rw(bb, iov, n, off, false);
}

static int raw_pwritev(BlockBackend *bb, const struct iovec *iov, int n, uint64_t off)
{
    if (bb->readonly)
        return -EROFS;
    return raw_rw(bb, iov, n, off, true);
}

static int raw_flush(BlockBackend *bb)
{
    if (bb->readonly)
        return 0;
    if (bb->released)
        return -EBADF;
    return fdatasync(bb->fd) < 0 ? -errno : 0;
}

static int raw_discard(BlockBackend *bb, uint64_t off, uint64_t len)
{
    if (bb->readonly)
        return -EROFS;
    if (bb->released)
        return -EBADF;
    if (off > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - off)
        return -EINVAL;
    if (fallocate(bb->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                  (off_t)off, (off_t)len) < 0)
        return -errno;
    return 0;
}

static uint64_t raw_size(BlockBackend *bb)
{
    off_t end = lseek(bb->fd, 0, SEEK_END);   /* works for block devices too */
    return end < 0 ? 0 : (uint64_t)end;
}

static void raw_close(BlockBackend *bb)
{
    if (bb->fd >= 0)
        close(bb->fd);
    bb->fd = -1;
}

const BlockDriver block_raw_driver = {
    .format = "raw",
    .open = raw_open,
    .preadv = raw_preadv,
    .pwritev = raw_pwritev,
    .flush = raw_flush,
    .discard = raw_discard,
    .size = raw_size,
    .close = raw_close,
};

/* The format table: only raw for now. */
static const BlockDriver *const drivers[] = { &block_raw_driver };

BlockBackend *block_open(const char *path, const char *format, bool readonly,
                         char *err, size_t errlen)
{
    const BlockDriver *drv = NULL;
    BlockBackend *bb;

    if (!format || !*format)
        format = "raw";
    for (size_t i = 0; i < ARRAY_SIZE(drivers); i++)
        if (!strcmp(drivers[i]->format, format))
            drv = drivers[i];
    if (!drv) {
        snprintf(err, errlen, "%s: unsupported disk format '%s'", path, format);
        return NULL;
    }
    if (!path || !*path) {
        snprintf(err, errlen, "disk has no path");
        return NULL;
    }
    bb = calloc(1, sizeof(*bb));
    if (!bb) {
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    bb->drv = drv;
    bb->fd = -1;
    bb->path = strdup(path);
    if (!bb->path) {
        snprintf(err, errlen, "%s: out of memory", path);
        free(bb);
        return NULL;
    }
    if (drv->open(bb, path, readonly, err, errlen) < 0) {
        free(bb->path);
        free(bb);
        return NULL;
    }
    return bb;
}

int block_release(BlockBackend *bb)
{
    int r;

    if (bb->released)
        return 0;
    r = bb->drv->flush(bb);
    if (r < 0)
        return r;
    if (image_unlock(bb) < 0)
        return -errno;
    bb->released = true;
    return 0;
}

int block_reacquire(BlockBackend *bb, char *err, size_t errlen)
{
    if (!bb->released)
        return 0;
    if (image_lock(bb->fd, bb->path, bb->readonly, err, errlen) < 0)
        return -1;
    bb->released = false;
    return 0;
}

bool block_released(const BlockBackend *bb)
{
    return bb->released;
}

void block_close(BlockBackend *bb)
{
    if (!bb)
        return;
    bb->drv->close(bb);
    free(bb->path);
    free(bb);
}
