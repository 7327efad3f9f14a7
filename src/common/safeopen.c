#include "safeopen.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int open_path_nofollow(const char *path)
{
    struct open_how how = {
        .flags = O_PATH | O_CLOEXEC | O_NOFOLLOW,
        .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    long fd = syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));

    if (fd < 0 && (errno == ENOSYS || errno == EPERM))   /* old kernel, or a filter */
        fd = open(path, O_PATH | O_CLOEXEC | O_NOFOLLOW);
    return (int)fd;
}

static const char *kind_names(unsigned kinds)
{
    switch (kinds) {
    case SAFEOPEN_REG: return "a regular file";
    case SAFEOPEN_BLK: return "a block device";
    case SAFEOPEN_CHR: return "a character device";
    case SAFEOPEN_REG | SAFEOPEN_BLK: return "a regular file or block device";
    default: return "a file of the expected type";
    }
}

static bool kind_ok(mode_t m, unsigned kinds)
{
    return ((kinds & SAFEOPEN_REG) && S_ISREG(m)) || ((kinds & SAFEOPEN_BLK) && S_ISBLK(m)) ||
           ((kinds & SAFEOPEN_CHR) && S_ISCHR(m));
}

int safe_open(const char *path, int flags, unsigned kinds, char *err, size_t errlen)
{
    char proc[64];
    struct stat st;
    int pfd, fd, e;

    pfd = open_path_nofollow(path);
    if (pfd < 0) {
        e = errno;
        if (e == ELOOP || e == EXDEV)
            snprintf(err, errlen, "%s: a symbolic link is on the path (name the file itself)",
                     path);
        else
            snprintf(err, errlen, "%s: %s", path, strerror(e));
        errno = e;
        return -1;
    }
    if (fstat(pfd, &st) < 0) {
        e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        close(pfd);
        errno = e;
        return -1;
    }
    if (S_ISLNK(st.st_mode)) {
        snprintf(err, errlen, "%s: a symbolic link is on the path (name the file itself)", path);
        close(pfd);
        errno = ELOOP;
        return -1;
    }
    if (!kind_ok(st.st_mode, kinds)) {
        snprintf(err, errlen, "%s: %s, not %s", path,
                 S_ISDIR(st.st_mode) ? "a directory" : S_ISFIFO(st.st_mode) ? "a FIFO" :
                 S_ISSOCK(st.st_mode) ? "a socket" : S_ISCHR(st.st_mode) ? "a character device" :
                 S_ISBLK(st.st_mode) ? "a block device" : "a special file",
                 kind_names(kinds));
        close(pfd);
        errno = EINVAL;
        return -1;
    }
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
    fd = open(proc, (flags & ~O_CREAT) | O_CLOEXEC | O_NOCTTY);
    e = errno;
    close(pfd);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        errno = e;
        return -1;
    }
    return fd;
}

void *safe_read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    int fd = safe_open(path, O_RDONLY, SAFEOPEN_REG, err, errlen);
    struct stat st;
    size_t done = 0;
    char *buf;

    if (fd < 0)
        return NULL;
    if (fstat(fd, &st) < 0 || !(buf = malloc((size_t)st.st_size + 1))) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno ? errno : ENOMEM));
        close(fd);
        return NULL;
    }
    while (done < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err, errlen, "%s: %s", path, n < 0 ? strerror(errno) : "file shrank while read");
            free(buf);
            close(fd);
            return NULL;
        }
        done += (size_t)n;
    }
    close(fd);
    buf[done] = 0;
    *len = done;
    return buf;
}
