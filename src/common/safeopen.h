/* Opening what a domain config names, without side effects on the wrong
 * kind of file.
 *
 * Opening a FIFO blocks, opening a tape rewinds it, opening a terminal
 * can make it the controlling one: so a path is first opened with O_PATH
 * (which does none of that), without following a symbolic link anywhere
 * on the path (openat2 RESOLVE_NO_SYMLINKS; O_NOFOLLOW on the last
 * component where the kernel has no openat2), its type is checked with
 * fstat, and only then is it opened for real, through /proc/self/fd/N:
 * the very file that was checked, whatever happened to the path since.
 *
 * Paths must therefore name the file itself: xend passes the canonical
 * paths it checked (docs/config.md, "What a config may name"). */
#ifndef XENO_SAFEOPEN_H
#define XENO_SAFEOPEN_H

#include <stddef.h>

enum safeopen_kind {
    SAFEOPEN_REG = 1 << 0,     /* a regular file (image, kernel, initrd) */
    SAFEOPEN_BLK = 1 << 1,     /* a block device (phy:) */
    SAFEOPEN_CHR = 1 << 2,     /* a character device (/dev/net/tun) */
};

/* Open path with flags (O_RDONLY, O_RDWR...; O_CLOEXEC is added) if it is
 * one of `kinds`. Returns the fd, or -1 with errno set and
 * "PATH: reason" in err. */
int safe_open(const char *path, int flags, unsigned kinds, char *err, size_t errlen);

/* A whole regular file (safe_open, then read), NUL-terminated, malloc'd,
 * its length in *len; NULL with "PATH: reason" in err. */
void *safe_read_file(const char *path, size_t *len, char *err, size_t errlen);

#endif
