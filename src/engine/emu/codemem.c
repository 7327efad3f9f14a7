/* Two views of one memfd for the JIT's code cache (see codemem.h). */
#include "codemem.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U       /* Linux 6.3: ask for an executable memfd */
#endif

/* An executable memfd. Since Linux 6.3 vm.memfd_noexec may make memfds
 * non-executable unless MFD_EXEC is given; older kernels reject the flag. */
static int exec_memfd(void)
{
    int fd = memfd_create("xeno-jit", MFD_CLOEXEC | MFD_EXEC);

    if (fd < 0 && errno == EINVAL)
        fd = memfd_create("xeno-jit", MFD_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int codemem_init(CodeMem *cm, size_t size)
{
    int fd = exec_memfd(), err = 0;

    cm->w = cm->x = NULL;
    cm->size = 0;
    if (fd < 0)
        return fd;
    if (ftruncate(fd, (off_t)size) < 0)
        err = -errno;
    if (!err) {
        cm->w = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (cm->w == MAP_FAILED)
            err = -errno;
    }
    if (!err) {
        cm->x = mmap(NULL, size, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
        if (cm->x == MAP_FAILED) {
            err = -errno;
            munmap(cm->w, size);
        }
    }
    close(fd);              /* the mappings keep the memory */
    if (err) {
        cm->w = cm->x = NULL;
        return err;
    }
    cm->size = size;
    /* Code is written a little at a time: 4 KiB pages keep resident memory
     * to what was translated (a huge page would cost 2 MiB at first touch). */
    madvise(cm->w, size, MADV_NOHUGEPAGE);
    madvise(cm->x, size, MADV_NOHUGEPAGE);
    return 0;
}

void codemem_fini(CodeMem *cm)
{
    if (cm->size) {
        munmap(cm->w, cm->size);
        munmap(cm->x, cm->size);
    }
    cm->w = cm->x = NULL;
    cm->size = 0;
}
