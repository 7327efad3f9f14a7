/* Block backends: where a virtual disk's sectors live.
 *
 * A BlockDriver is one image format (only "raw" for now: a plain file or a
 * host block device). All I/O is synchronous and transfers everything or
 * fails: short reads/writes are retried, EINTR is handled, and a read past
 * the end of the image is an error. */
#ifndef XENO_BACKEND_BLOCK_H
#define XENO_BACKEND_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

typedef struct BlockBackend BlockBackend;

typedef struct BlockDriver {
    const char *format;
    /* Open path; on failure write "PATH: reason" to err and return -1. */
    int (*open)(BlockBackend *bb, const char *path, bool readonly, char *err, size_t errlen);
    /* Transfer the whole iovec at byte offset off. 0 or -errno. */
    int (*preadv)(BlockBackend *bb, const struct iovec *iov, int iovcnt, uint64_t off);
    int (*pwritev)(BlockBackend *bb, const struct iovec *iov, int iovcnt, uint64_t off);
    int (*flush)(BlockBackend *bb);                              /* fdatasync */
    int (*discard)(BlockBackend *bb, uint64_t off, uint64_t len); /* hole punch */
    uint64_t (*size)(BlockBackend *bb);                          /* bytes */
    void (*close)(BlockBackend *bb);
} BlockDriver;

struct BlockBackend {
    const BlockDriver *drv;
    char *path;      /* as opened, for messages */
    bool readonly;
    bool released;   /* lock let go (block_release): no I/O */
    int fd;          /* raw driver */
    void *opaque;    /* other drivers' state */
};

extern const BlockDriver block_raw_driver;

/* Open an image. format NULL or "" means raw. Returns NULL with
 * "PATH: reason" in err. A read-write image is locked against every other
 * user, a read-only one against writers (OFD locks, like QEMU's). */
BlockBackend *block_open(const char *path, const char *format, bool readonly,
                         char *err, size_t errlen);
void block_close(BlockBackend *bb);

/* Let the image go for a while (migration hands it to the destination):
 * flush, then drop its lock, keeping the file open (a sandboxed VMM could
 * not open it again); I/O fails with -EBADF until block_reacquire() takes
 * the lock again (0, or -1 with one line in err, e.g. when someone else
 * took it meanwhile). */
int block_release(BlockBackend *bb);
int block_reacquire(BlockBackend *bb, char *err, size_t errlen);
bool block_released(const BlockBackend *bb);

static inline int block_preadv(BlockBackend *bb, const struct iovec *iov, int n, uint64_t off)
{ return bb->drv->preadv(bb, iov, n, off); }
static inline int block_pwritev(BlockBackend *bb, const struct iovec *iov, int n, uint64_t off)
{ return bb->drv->pwritev(bb, iov, n, off); }
static inline int block_flush(BlockBackend *bb) { return bb->drv->flush(bb); }
static inline int block_discard(BlockBackend *bb, uint64_t off, uint64_t len)
{ return bb->drv->discard(bb, off, len); }
static inline uint64_t block_size(BlockBackend *bb) { return bb->drv->size(bb); }
static inline bool block_readonly(const BlockBackend *bb) { return bb->readonly; }
static inline const char *block_path(const BlockBackend *bb) { return bb->path; }

#endif
