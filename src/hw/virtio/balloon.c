/* virtio-balloon: the host asks the guest to give back (inflate) or take
 * back (deflate) memory, in 4 KiB pages named by page frame number.
 *
 * Inflated pages are dropped from the host with MADV_DONTNEED: guest RAM is
 * private anonymous memory, so the page reads as zeros if the guest touches
 * it again, and that costs no host memory until it does. The statistics
 * queue works by holding the one buffer the guest posts: giving it back
 * (used ring) asks the guest to refill it with fresh numbers. */
#include "devices.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/util.h"
#include "hw/devstate.h"

#define BALLOON_INFLATE 0
#define BALLOON_DEFLATE 1
#define BALLOON_STATS   2
#define BALLOON_QUEUE_SIZE 128

#define VIRTIO_BALLOON_F_STATS_VQ 1
#define BALLOON_PFN_SHIFT 12
#define BALLOON_PAGE_SIZE (1u << BALLOON_PFN_SHIFT)

#define CFG_NUM_PAGES 0
#define CFG_ACTUAL    4
#define CFG_SIZE      8

enum {
    STAT_SWAP_IN, STAT_SWAP_OUT, STAT_MAJFLT, STAT_MINFLT, STAT_MEMFREE,
    STAT_MEMTOT, STAT_AVAIL, STAT_CACHES,
};

typedef struct VirtioBalloon {
    VirtioDevice vd;
    uint32_t num_pages;      /* target: pages the guest should give up */
    uint32_t actual;         /* pages the driver says it has given up */
    BalloonStats stats;
    bool have_stats_elem;    /* holding the guest's stats buffer */
    bool drop_pages;         /* host pages are 4 KiB: madvise works per PFN */
    VirtqElem elem;
    VirtqElem stats_elem;
} VirtioBalloon;

static uint64_t balloon_features(VirtioDevice *vd)
{
    return 1ull << VIRTIO_BALLOON_F_STATS_VQ;
}

static void balloon_config_read(VirtioDevice *vd, uint32_t off, void *buf, unsigned len)
{
    VirtioBalloon *b = vd->priv;
    uint8_t cfg[CFG_SIZE];

    st32(cfg + CFG_NUM_PAGES, b->num_pages);
    st32(cfg + CFG_ACTUAL, b->actual);
    memcpy(buf, cfg + off, len);
}

static void balloon_config_write(VirtioDevice *vd, uint32_t off, const void *buf, unsigned len)
{
    VirtioBalloon *b = vd->priv;
    uint8_t cfg[CFG_SIZE];

    /* Only `actual` is the driver's to write. */
    st32(cfg + CFG_NUM_PAGES, b->num_pages);
    st32(cfg + CFG_ACTUAL, b->actual);
    memcpy(cfg + off, buf, len);
    b->actual = ld32(cfg + CFG_ACTUAL);
}

/* Walk the PFN array of one inflate/deflate buffer. */
static int handle_pfns(VirtioBalloon *b, const VirtqElem *e, bool inflate)
{
    uint8_t raw[4];

    for (uint64_t off = 0; off + 4 <= e->out_len; off += 4) {
        iov_to_buf(e->out, e->n_out, off, raw, 4);
        uint64_t gpa = (uint64_t)ld32(raw) << BALLOON_PFN_SHIFT;
        void *p = gmem_ptr(b->vd.mem, gpa, BALLOON_PAGE_SIZE);
        if (!p) {
            virtio_set_broken(&b->vd, "balloon page frame outside guest RAM");
            return -1;
        }
        if (inflate && b->drop_pages) {
            madvise(p, BALLOON_PAGE_SIZE, MADV_DONTNEED);
            /* The page now reads as zeros: migration must send it. */
            gmem_mark_dirty(b->vd.mem, gpa, BALLOON_PAGE_SIZE);
        }
    }
    return 0;
}

static void handle_stats(VirtioBalloon *b, const VirtqElem *e)
{
    uint8_t raw[10];   /* packed {le16 tag; le64 val} */
    BalloonStats *s = &b->stats;

    for (uint64_t off = 0; off + 10 <= e->out_len; off += 10) {
        iov_to_buf(e->out, e->n_out, off, raw, sizeof(raw));
        uint64_t v = ld64(raw + 2);
        switch (ld16(raw)) {
        case STAT_SWAP_IN:  s->swap_in = v; break;
        case STAT_SWAP_OUT: s->swap_out = v; break;
        case STAT_MAJFLT:   s->major_faults = v; break;
        case STAT_MINFLT:   s->minor_faults = v; break;
        case STAT_MEMFREE:  s->free_memory = v; break;
        case STAT_MEMTOT:   s->total_memory = v; break;
        case STAT_AVAIL:    s->available_memory = v; break;
        case STAT_CACHES:   s->disk_caches = v; break;
        default: break;     /* newer tags: ignored */
        }
    }
    s->valid = true;
}

static void balloon_queue_notify(VirtioDevice *vd, unsigned q)
{
    VirtioBalloon *b = vd->priv;
    bool done = false;

    if (q == BALLOON_STATS) {
        if (!virtio_has_feature(vd, VIRTIO_BALLOON_F_STATS_VQ))
            return;
        /* Keep the newest buffer; an older one still held goes back. */
        while (virtq_pop(vd, q, &b->elem) == 1) {
            handle_stats(b, &b->elem);
            if (b->have_stats_elem) {
                virtq_push(vd, q, &b->stats_elem, 0);
                done = true;
            }
            memcpy(&b->stats_elem, &b->elem, sizeof(b->elem));
            b->have_stats_elem = true;
        }
        if (done)
            virtq_notify(vd, q);
        return;
    }
    if (q != BALLOON_INFLATE && q != BALLOON_DEFLATE)
        return;
    while (virtq_pop(vd, q, &b->elem) == 1) {
        if (handle_pfns(b, &b->elem, q == BALLOON_INFLATE) < 0)
            return;
        virtq_push(vd, q, &b->elem, 0);
        done = true;
    }
    if (done)
        virtq_notify(vd, q);
}

static void balloon_reset(VirtioDevice *vd)
{
    VirtioBalloon *b = vd->priv;

    b->actual = 0;
    b->have_stats_elem = false;
    memset(&b->stats, 0, sizeof(b->stats));
}

static void balloon_destroy(VirtioDevice *vd)
{
    free(vd->priv);
}

/* ---- saved state: target, actual, the last stats ---- */

#define STATS_FIELDS(X) \
    X(swap_in) X(swap_out) X(major_faults) X(minor_faults) X(free_memory) \
    X(total_memory) X(available_memory) X(disk_caches)

static int balloon_save(VirtioDevice *vd, StateBuf *b)
{
    VirtioBalloon *bl = vd->priv;

    sb_put_u32(b, bl->num_pages);
    sb_put_u32(b, bl->actual);
#define PUT(f) sb_put_u64(b, bl->stats.f);
    STATS_FIELDS(PUT)
#undef PUT
    sb_put_bool(b, bl->stats.valid);
    return 0;
}

static int balloon_load(VirtioDevice *vd, StateBuf *b, uint32_t version, char *err,
                        size_t errlen)
{
    VirtioBalloon *bl = vd->priv;
    uint32_t num_pages = sb_get_u32(b), actual = sb_get_u32(b);
    BalloonStats st = { 0 };

#define GET(f) st.f = sb_get_u64(b);
    STATS_FIELDS(GET)
#undef GET
    st.valid = sb_get_bool(b);
    if (devstate_end(b, err, errlen))
        return -1;
    /* virtio_balloon_set_target never asks for more than all of RAM. */
    if (num_pages > gmem_ram_size(vd->mem) >> BALLOON_PFN_SHIFT) {
        snprintf(err, errlen, "balloon target of %u pages is more than guest RAM", num_pages);
        return -1;
    }
    bl->num_pages = num_pages;
    bl->actual = actual;
    bl->stats = st;
    /* A stats buffer held here is back in the saved ring. */
    bl->have_stats_elem = false;
    return 0;
}

/* The stats buffer in hand is the last one popped from its queue. */
static unsigned balloon_held(VirtioDevice *vd, unsigned q)
{
    VirtioBalloon *bl = vd->priv;

    return q == BALLOON_STATS && bl->have_stats_elem;
}

static const VirtioDeviceOps balloon_ops = {
    .name = "virtio-balloon",
    .device_id = VIRTIO_ID_BALLOON,
    .get_features = balloon_features,
    .config_read = balloon_config_read,
    .config_write = balloon_config_write,
    .config_size = CFG_SIZE,
    .queue_notify = balloon_queue_notify,
    .reset = balloon_reset,
    .destroy = balloon_destroy,
    .save = balloon_save,
    .load = balloon_load,
    .held = balloon_held,
};

VirtioDevice *virtio_balloon_create(GuestMem *mem, char *err, size_t errlen)
{
    VirtioBalloon *b = calloc(1, sizeof(*b));

    if (!b) {
        snprintf(err, errlen, "virtio-balloon: out of memory");
        return NULL;
    }
    b->drop_pages = sysconf(_SC_PAGESIZE) == BALLOON_PAGE_SIZE;
    virtio_init(&b->vd, &balloon_ops, b, mem, 3, BALLOON_QUEUE_SIZE);
    return &b->vd;
}

void virtio_balloon_set_target(VirtioDevice *vd, uint64_t bytes)
{
    VirtioBalloon *b = vd->priv;
    uint64_t ram = gmem_ram_size(vd->mem);
    uint64_t pages = bytes >= ram ? 0 : (ram - bytes) >> BALLOON_PFN_SHIFT;

    if (pages > UINT32_MAX)
        pages = UINT32_MAX;
    if (pages == b->num_pages)
        return;
    b->num_pages = (uint32_t)pages;
    virtio_config_changed(vd);
}

uint64_t virtio_balloon_get_target(VirtioDevice *vd)
{
    VirtioBalloon *b = vd->priv;
    uint64_t ram = gmem_ram_size(vd->mem), out = (uint64_t)b->num_pages << BALLOON_PFN_SHIFT;

    return out < ram ? ram - out : 0;
}

uint64_t virtio_balloon_get_actual(VirtioDevice *vd)
{
    VirtioBalloon *b = vd->priv;
    return (uint64_t)b->actual << BALLOON_PFN_SHIFT;
}

int virtio_balloon_get_stats(VirtioDevice *vd, BalloonStats *st)
{
    VirtioBalloon *b = vd->priv;

    *st = b->stats;
    if (b->have_stats_elem && virtio_is_ready(vd)) {
        virtq_push(vd, BALLOON_STATS, &b->stats_elem, 0);
        virtq_notify(vd, BALLOON_STATS);
        b->have_stats_elem = false;
    }
    return st->valid ? 0 : -1;
}
