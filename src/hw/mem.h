/* Guest physical memory: regions of host memory, address translation for
 * device models, and a dirty-page bitmap for migration.
 *
 * Device models must reach guest memory only through gmem_ptr()/gmem_ptr_w()/
 * gmem_write(): they check that the whole range lies inside one RAM region,
 * so a hostile guest cannot make a device touch memory outside the guest. */
#ifndef XENO_HW_MEM_H
#define XENO_HW_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GMEM_PAGE_SHIFT 12
#define GMEM_PAGE_SIZE  (1ull << GMEM_PAGE_SHIFT)
#define GMEM_MAX_REGIONS 4

typedef struct GuestRegion {
    uint64_t gpa;       /* guest physical base */
    uint64_t size;      /* bytes, page aligned */
    uint8_t *host;      /* host mapping */
    uint64_t *dirty;    /* one bit per page, set by device writes and engines */
    bool file_backed;   /* mapped from a save file (lazy restore), not anonymous */
} GuestRegion;

typedef struct GuestMem {
    GuestRegion r[GMEM_MAX_REGIONS];
    unsigned nr;
    bool dirty_log;     /* dirty tracking enabled (migration) */
} GuestMem;

/* Map a new anonymous RAM region. Returns 0 or -errno. */
int gmem_add_ram(GuestMem *m, uint64_t gpa, uint64_t size);
void gmem_free(GuestMem *m);
/* Transparent huge pages for guest RAM on (the default) or off. Off while
 * a restore or an incoming migration writes scattered pages: a huge page
 * per touched 2 MiB would zero (and may compact for) far more than is
 * written. */
void gmem_set_huge(GuestMem *m, bool on);

/* Host pointer for [gpa, gpa+len) if the range lies inside one RAM region,
 * else NULL. len == 0 is valid inside a region. */
void *gmem_ptr(GuestMem *m, uint64_t gpa, uint64_t len);
/* Like gmem_ptr but marks the pages dirty (use for device writes). */
void *gmem_ptr_w(GuestMem *m, uint64_t gpa, uint64_t len);

/* Copy into guest RAM: 0, or -1 if the range is not entirely guest RAM. */
int gmem_write(GuestMem *m, uint64_t gpa, const void *buf, size_t len);

/* Mark pages dirty (no-op unless dirty_log). */
void gmem_mark_dirty(GuestMem *m, uint64_t gpa, uint64_t len);

/* Which of pages [first, first+n) of region g surely read as zero without
 * reading them: anonymous memory never touched (not resident, and the
 * host has no swap, so nothing else takes an anonymous page out of
 * memory). Sets bit k of zero[] (n bits) for such page first+k; false when
 * it cannot tell (a file-backed region, swap on, mincore refused): then
 * every page must be read. */
bool gmem_untouched(const GuestRegion *g, uint64_t first, uint64_t n, uint64_t *zero);

/* Total RAM bytes. */
uint64_t gmem_ram_size(const GuestMem *m);

#endif
