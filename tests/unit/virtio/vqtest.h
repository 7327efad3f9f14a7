/* Test helpers: a fake 1 MiB guest RAM at 0x80000000 and a hand-written
 * split virtqueue in it, playing the driver's side. */
#ifndef XENO_TEST_VQTEST_H
#define XENO_TEST_VQTEST_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/util.h"
#include "hw/mem.h"
#include "hw/virtio/virtio.h"

#define RAM_BASE  0x80000000ull
#define RAM_SIZE  (1ull << 20)
#define DESC_GPA  (RAM_BASE + 0x0000)
#define AVAIL_GPA (RAM_BASE + 0x1000)
#define USED_GPA  (RAM_BASE + 0x2000)
#define DATA_GPA  (RAM_BASE + 0x10000)

#define F_NEXT     1
#define F_WRITE    2
#define F_INDIRECT 4

typedef struct TestRing {
    GuestMem *mem;
    unsigned q;
    uint16_t num;
    uint16_t avail_idx;     /* driver's next avail index */
    uint64_t desc, avail, used;
} TestRing;

static inline uint8_t *gp(GuestMem *m, uint64_t gpa, uint64_t len)
{
    uint8_t *p = gmem_ptr(m, gpa, len);
    assert_non_null(p);
    return p;
}

static inline void ring_init(TestRing *r, GuestMem *m, VirtioDevice *vd, unsigned q,
                             uint16_t num, uint64_t desc, uint64_t avail, uint64_t used)
{
    r->mem = m;
    r->q = q;
    r->num = num;
    r->avail_idx = 0;
    r->desc = desc;
    r->avail = avail;
    r->used = used;
    memset(gp(m, desc, 16ull * num), 0, 16ull * num);
    memset(gp(m, avail, 6 + 2ull * num), 0, 6 + 2ull * num);
    memset(gp(m, used, 6 + 8ull * num), 0, 6 + 8ull * num);
    vd->vq[q].num = num;
    vd->vq[q].desc_gpa = desc;
    vd->vq[q].avail_gpa = avail;
    vd->vq[q].used_gpa = used;
    vd->vq[q].last_avail = 0;
    vd->vq[q].used_idx = 0;
    vd->vq[q].signalled_valid = false;
    vd->vq[q].ready = true;
}

/* Write descriptor i of a table at table_gpa. */
static inline void put_desc(GuestMem *m, uint64_t table_gpa, unsigned i, uint64_t addr,
                            uint32_t len, uint16_t flags, uint16_t next)
{
    uint8_t *d = gp(m, table_gpa + 16ull * i, 16);
    st64(d, addr);
    st32(d + 8, len);
    st16(d + 12, flags);
    st16(d + 14, next);
}

static inline void set_desc(TestRing *r, unsigned i, uint64_t addr, uint32_t len,
                            uint16_t flags, uint16_t next)
{
    put_desc(r->mem, r->desc, i, addr, len, flags, next);
}

static inline void avail_add(TestRing *r, uint16_t head)
{
    st16(gp(r->mem, r->avail + 4 + 2ull * (r->avail_idx % r->num), 2), head);
    r->avail_idx++;
    st16(gp(r->mem, r->avail + 2, 2), r->avail_idx);
}

static inline void avail_set_idx(TestRing *r, uint16_t idx)
{
    r->avail_idx = idx;
    st16(gp(r->mem, r->avail + 2, 2), idx);
}

static inline void avail_set_flags(TestRing *r, uint16_t f)
{
    st16(gp(r->mem, r->avail, 2), f);
}

static inline void set_used_event(TestRing *r, uint16_t v)
{
    st16(gp(r->mem, r->avail + 4 + 2ull * r->num, 2), v);
}

static inline uint16_t avail_event(TestRing *r)
{
    return ld16(gp(r->mem, r->used + 4 + 8ull * r->num, 2));
}

static inline uint16_t used_idx(TestRing *r)
{
    return ld16(gp(r->mem, r->used + 2, 2));
}

static inline void used_elem(TestRing *r, uint16_t i, uint32_t *id, uint32_t *len)
{
    uint8_t *e = gp(r->mem, r->used + 4 + 8ull * (i % r->num), 8);
    *id = ld32(e);
    *len = ld32(e + 4);
}

/* Put the device in the state a driver leaves it in after negotiation. */
static inline void drive_ok(VirtioDevice *vd, uint64_t features)
{
    vd->driver_features = features | (1ull << VIRTIO_F_VERSION_1);
    vd->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                 VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;
}

#endif
