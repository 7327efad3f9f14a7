/* The VMM's namespaces and its empty root, as Firecracker's jailer and
 * bubblewrap make them: a mount namespace of its own whose root becomes a
 * small read-only tmpfs (pivot_root), and an IPC namespace of its own. The
 * PID namespace comes from xend, which starts the VMM as PID 1 of a new
 * one (a process cannot move itself into one). */
#include "sandbox_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/io.h"

#define RESOLV_CONF  "/etc/resolv.conf"
#define RESOLV_MAX   (64 * 1024)

int sandbox_unshare(void)
{
    if (unshare(CLONE_NEWNS | CLONE_NEWIPC) < 0)
        return -errno;
    /* Nothing mounted here from now on may reach the host's namespace. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return -errno;
    return 0;
}

/* Where to mount the new root before pivoting into it: any directory
 * does (it is only hidden in this namespace); the first that exists. */
static const char *mount_point(void)
{
    static const char *const dirs[] = { "/tmp", "/run", "/mnt", "/var/tmp", "/dev" };
    struct stat st;

    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
        if (stat(dirs[i], &st) == 0 && S_ISDIR(st.st_mode))
            return dirs[i];
    return NULL;
}

/* The host's resolv.conf, read before it goes out of sight. NULL if there
 * is none (slirp then forwards DNS to the host's loopback, as it would). */
static char *read_resolv_conf(size_t *len)
{
    int fd = open(RESOLV_CONF, O_RDONLY | O_CLOEXEC);
    char *buf;
    ssize_t n;

    if (fd < 0 || !(buf = malloc(RESOLV_MAX))) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    *len = 0;
    while (*len < RESOLV_MAX && ((n = read(fd, buf + *len, RESOLV_MAX - *len)) > 0 ||
                                 (n < 0 && errno == EINTR)))
        *len += n > 0 ? (size_t)n : 0;
    close(fd);
    return buf;
}

static int write_resolv_conf(const char *text, size_t len, char *err, size_t errlen)
{
    int fd, r;

    if (mkdir("etc", 0755) < 0 ||
        (fd = open("etc/resolv.conf", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444)) < 0) {
        snprintf(err, errlen, "sandbox: empty root: %s: %s", RESOLV_CONF, strerror(errno));
        return -1;
    }
    r = io_write_all(fd, text, len);
    if (r < 0) {
        snprintf(err, errlen, "sandbox: empty root: %s: %s", RESOLV_CONF, strerror(-r));
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

/* pivot_root(".", "."): the old root ends up on top of the new one, and is
 * detached at once (the idiom of pivot_root(2)). */
static int pivot_here(char *err, size_t errlen)
{
    if (syscall(SYS_pivot_root, ".", ".") < 0) {
        snprintf(err, errlen, "sandbox: pivot_root: %s", strerror(errno));
        return -1;
    }
    if (umount2(".", MNT_DETACH) < 0 || chdir("/") < 0) {
        snprintf(err, errlen, "sandbox: cannot leave the host's root: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int sandbox_enter_empty_root(char *err, size_t errlen)
{
    const unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
    const char *dir = mount_point();
    size_t rlen = 0;
    char *resolv = read_resolv_conf(&rlen);
    int ret = -1;

    if (!dir) {
        snprintf(err, errlen, "sandbox: no directory to mount the empty root on");
        goto out;
    }
    if (mount("xeno-vmm", dir, "tmpfs", flags, "size=64k,nr_inodes=16,mode=0755") < 0) {
        snprintf(err, errlen, "sandbox: cannot mount the empty root: %s", strerror(errno));
        goto out;
    }
    if (chdir(dir) < 0) {
        snprintf(err, errlen, "sandbox: %s: %s", dir, strerror(errno));
        goto out;
    }
    if (resolv && write_resolv_conf(resolv, rlen, err, errlen) < 0)
        goto out;
    if (pivot_here(err, errlen) < 0)
        goto out;
    if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY | flags, NULL) < 0) {
        snprintf(err, errlen, "sandbox: cannot make the root read-only: %s", strerror(errno));
        goto out;
    }
    ret = 0;
out:
    free(resolv);
    return ret;
}
