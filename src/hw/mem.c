#include "mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>

int gmem_add_ram(GuestMem *m, uint64_t gpa, uint64_t size)
{
    GuestRegion *r;
    void *p;

    if (m->nr >= GMEM_MAX_REGIONS || !size || (size & (GMEM_PAGE_SIZE - 1)) ||
        (gpa & (GMEM_PAGE_SIZE - 1)) || gpa + size < gpa)
        return -EINVAL;
    p = mmap(NULL, size, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return -errno;
    /* Guest RAM is large and sparse: let the kernel back it with huge pages
     * where it can; this costs no resident memory until touched. */
    madvise(p, size, MADV_HUGEPAGE);
    r = &m->r[m->nr];
    r->gpa = gpa;
    r->size = size;
    r->host = p;
    r->dirty = calloc((size >> GMEM_PAGE_SHIFT) / 64 + 1, sizeof(uint64_t));
    if (!r->dirty) {
        munmap(p, size);
        return -ENOMEM;
    }
    m->nr++;
    return 0;
}

void gmem_free(GuestMem *m)
{
    for (unsigned i = 0; i < m->nr; i++) {
        munmap(m->r[i].host, m->r[i].size);
        free(m->r[i].dirty);
    }
    m->nr = 0;
}

void gmem_set_huge(GuestMem *m, bool on)
{
    for (unsigned i = 0; i < m->nr; i++)
        madvise(m->r[i].host, m->r[i].size, on ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
}

static GuestRegion *find(GuestMem *m, uint64_t gpa, uint64_t len)
{
    for (unsigned i = 0; i < m->nr; i++) {
        GuestRegion *r = &m->r[i];
        if (gpa >= r->gpa && gpa - r->gpa <= r->size && len <= r->size - (gpa - r->gpa))
            return r;
    }
    return NULL;
}

void *gmem_ptr(GuestMem *m, uint64_t gpa, uint64_t len)
{
    GuestRegion *r = find(m, gpa, len);
    return r ? r->host + (gpa - r->gpa) : NULL;
}

static void mark(GuestRegion *r, uint64_t gpa, uint64_t len)
{
    uint64_t first, last;

    if (!len)
        return;
    first = (gpa - r->gpa) >> GMEM_PAGE_SHIFT;
    last = (gpa - r->gpa + len - 1) >> GMEM_PAGE_SHIFT;
    for (uint64_t p = first; p <= last; p++)
        __atomic_fetch_or(&r->dirty[p / 64], 1ull << (p % 64), __ATOMIC_RELAXED);
}

void gmem_mark_dirty(GuestMem *m, uint64_t gpa, uint64_t len)
{
    GuestRegion *r;

    if (!m->dirty_log)
        return;
    r = find(m, gpa, len);
    if (r)
        mark(r, gpa, len);
}

void *gmem_ptr_w(GuestMem *m, uint64_t gpa, uint64_t len)
{
    GuestRegion *r = find(m, gpa, len);

    if (!r)
        return NULL;
    if (m->dirty_log)
        mark(r, gpa, len);
    return r->host + (gpa - r->gpa);
}

int gmem_write(GuestMem *m, uint64_t gpa, const void *buf, size_t len)
{
    void *p = gmem_ptr_w(m, gpa, len);
    if (!p)
        return -1;
    memcpy(p, buf, len);
    return 0;
}

uint64_t gmem_ram_size(const GuestMem *m)
{
    uint64_t s = 0;
    for (unsigned i = 0; i < m->nr; i++)
        s += m->r[i].size;
    return s;
}

bool gmem_untouched(const GuestRegion *g, uint64_t first, uint64_t n, uint64_t *zero)
{
    unsigned char vec[256];
    struct sysinfo si;

    /* Checked each time: swap may be turned on while the guest runs. */
    if (g->file_backed || sysinfo(&si) < 0 || si.totalswap)
        return false;
    memset(zero, 0, (n + 63) / 64 * sizeof(uint64_t));
    for (uint64_t k = 0; k < n; k += sizeof(vec)) {
        uint64_t len = n - k < sizeof(vec) ? n - k : sizeof(vec);

        if (mincore(g->host + (first + k) * GMEM_PAGE_SIZE, len * GMEM_PAGE_SIZE, vec) < 0)
            return false;
        for (uint64_t i = 0; i < len; i++)
            if (!(vec[i] & 1))
                zero[(k + i) / 64] |= 1ull << ((k + i) % 64);
    }
    return true;
}
