/* Code memory: a memfd mapped once writable and once executable (W^X). */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "codemem.h"

int codemem_alloc(CodeMem *cm, size_t size)
{
    int fd, err;
    void *rw, *rx;

    cm->rw = cm->rx = NULL;
    cm->size = 0;
    fd = memfd_create("xeno-jit", MFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (ftruncate(fd, (off_t)size) < 0)
        goto fail;
    rw = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (rw == MAP_FAILED)
        goto fail;
    rx = mmap(NULL, size, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
    if (rx == MAP_FAILED) {
        err = -errno;
        munmap(rw, size);
        close(fd);
        return err;
    }
    close(fd);           /* the mappings keep the memory */
    cm->rw = rw;
    cm->rx = rx;
    cm->size = size;
    return 0;
fail:
    err = -errno;
    close(fd);
    return err;
}

void codemem_free(CodeMem *cm)
{
    if (cm->rw) {
        munmap(cm->rw, cm->size);
        munmap(cm->rx, cm->size);
    }
    cm->rw = cm->rx = NULL;
    cm->size = 0;
}
