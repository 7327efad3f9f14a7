/* A hand-written "guest driver" for the net tests: guest RAM, split
 * virtqueues laid out in it, and helpers to post chains and read the used
 * ring, the way a virtio driver would. */
#ifndef XENO_TEST_GUEST_RING_H
#define XENO_TEST_GUEST_RING_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "common/util.h"
#include "hw/mem.h"
#include "hw/virtio/virtio.h"

#define G_RAM_BASE 0x80000000ull
#define G_RAM_SIZE (4ull << 20)
#define G_QSIZE    16

typedef struct GRing {
    GuestMem *mem;
    uint64_t desc, avail, used;
    uint16_t num;
    uint16_t avail_idx;     /* driver's next avail index */
    uint16_t next_desc;     /* next free descriptor (no reuse: tests are short) */
    uint16_t used_seen;
} GRing;

typedef struct GBuf {
    uint64_t gpa;
    uint32_t len;
    bool write;
} GBuf;

static inline uint8_t *g_ptr(GuestMem *m, uint64_t gpa)
{
    return gmem_ptr(m, gpa, 1);
}

/* Lay a queue out at `base` (needs 16*num + 6+2*num + 6+8*num bytes) and
 * tell the device about it, as the transport would. */
static inline void gring_setup(GRing *r, VirtioDevice *vd, unsigned q, uint64_t base)
{
    memset(r, 0, sizeof(*r));
    r->mem = vd->mem;
    r->num = G_QSIZE;
    r->desc = base;
    r->avail = base + 16 * G_QSIZE;
    r->used = ALIGN_UP(r->avail + 6 + 2 * G_QSIZE, 4ull);
    memset(g_ptr(r->mem, base), 0, 0x1000);
    vd->vq[q].num = G_QSIZE;
    vd->vq[q].desc_gpa = r->desc;
    vd->vq[q].avail_gpa = r->avail;
    vd->vq[q].used_gpa = r->used;
    vd->vq[q].ready = true;
}

static inline void gring_write_desc(GRing *r, uint16_t i, uint64_t addr, uint32_t len,
                                    uint16_t flags, uint16_t next)
{
    uint8_t *d = g_ptr(r->mem, r->desc + 16ull * i);
    st64(d, addr);
    st32(d + 8, len);
    st16(d + 12, flags);
    st16(d + 14, next);
}

/* Publish descriptor `head` in the avail ring. */
static inline void gring_publish(GRing *r, uint16_t head)
{
    st16(g_ptr(r->mem, r->avail + 4 + 2 * (r->avail_idx % r->num)), head);
    r->avail_idx++;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    st16(g_ptr(r->mem, r->avail + 2), r->avail_idx);
}

/* Post a chain of n buffers; returns its head. */
static inline uint16_t gring_add(GRing *r, const GBuf *b, unsigned n)
{
    uint16_t head = r->next_desc;

    for (unsigned i = 0; i < n; i++) {
        uint16_t idx = (uint16_t)(r->next_desc++ % r->num);
        uint16_t flags = (b[i].write ? 2 : 0) | (i + 1 < n ? 1 : 0);
        gring_write_desc(r, idx, b[i].gpa, b[i].len, flags, (uint16_t)((idx + 1) % r->num));
    }
    head %= r->num;
    gring_publish(r, head);
    return head;
}

static inline uint16_t gring_used_idx(GRing *r)
{
    return ld16(g_ptr(r->mem, r->used + 2));
}

static inline void gring_used(GRing *r, uint16_t i, uint32_t *id, uint32_t *len)
{
    uint8_t *e = g_ptr(r->mem, r->used + 4 + 8 * (i % r->num));
    *id = ld32(e);
    *len = ld32(e + 4);
}

/* Driver status as after a successful virtio handshake. */
static inline void g_driver_ok(VirtioDevice *vd, uint64_t features)
{
    vd->driver_features = features | (1ull << VIRTIO_F_VERSION_1);
    vd->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                 VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;
}

#endif
