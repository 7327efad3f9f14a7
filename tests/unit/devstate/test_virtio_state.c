/* Saved state of the virtio-mmio transport and the common virtio state
 * (section VMIO), with a fake device that has a part of its own and can
 * hold a chain. A device is brought up through its registers like the
 * Linux driver does, made busy on real rings in guest RAM, saved, and
 * loaded into a fresh device over a copy of that RAM (as a restore maps
 * it); both must then read and behave alike. Every refused section is one
 * line and changes nothing. */
#include "../virtio/vqtest.h"
#include "sectest.h"

#include <stdlib.h>

#include "common/log.h"
#include "hw/bus.h"
#include "hw/devstate.h"
#include "hw/virtio/virtio_mmio.h"

#define MMIO_BASE 0x10001000ull
#define DEV_ID 42
#define DEV_FEATURE_BIT 3
#define NUM_MAX 64
/* Queue 1's rings. */
#define DESC1  (RAM_BASE + 0x4000)
#define AVAIL1 (RAM_BASE + 0x5000)
#define USED1  (RAM_BASE + 0x6000)

typedef struct Dev {
    GuestMem mem;
    Bus bus;
    VirtioDevice vd;
    VirtioMmio *t;
    VmState vs;
    int level;
    unsigned notified[2], activated, restarted;
    unsigned held[2];
    uint32_t token;             /* the device's own saved state */
} Dev;

static void set_level(void *ctrl, unsigned irq, int level) { ((Dev *)ctrl)->level = level; }
static uint64_t fake_features(VirtioDevice *vd) { return 1ull << DEV_FEATURE_BIT; }
static void fake_notify(VirtioDevice *vd, unsigned q) { ((Dev *)vd->priv)->notified[q]++; }
static void fake_activate(VirtioDevice *vd) { ((Dev *)vd->priv)->activated++; }
static void fake_restarted(VirtioDevice *vd) { ((Dev *)vd->priv)->restarted++; }
static unsigned fake_held(VirtioDevice *vd, unsigned q) { return ((Dev *)vd->priv)->held[q]; }

static int fake_save(VirtioDevice *vd, StateBuf *b)
{
    sb_put_u32(b, ((Dev *)vd->priv)->token);
    return 0;
}

static int fake_load(VirtioDevice *vd, StateBuf *b, uint32_t version, char *err, size_t errlen)
{
    uint32_t token = sb_get_u32(b);

    if (devstate_end(b, err, errlen))
        return -1;
    if (token == 0xdead) {
        snprintf(err, errlen, "fake device refuses its part");
        return -1;
    }
    ((Dev *)vd->priv)->token = token;
    return 0;
}

static const VirtioDeviceOps fake_ops = {
    .name = "virtio-fake", .device_id = DEV_ID, .get_features = fake_features,
    .queue_notify = fake_notify, .activate = fake_activate,
    .save = fake_save, .load = fake_load, .held = fake_held, .restarted = fake_restarted,
};

static const VirtioDeviceOps other_ops = { .name = "virtio-other", .device_id = DEV_ID + 1 };

static Dev *dev_new(const VirtioDeviceOps *ops)
{
    Dev *d = calloc(1, sizeof(*d));

    assert_non_null(d);
    assert_int_equal(gmem_add_ram(&d->mem, RAM_BASE, RAM_SIZE), 0);
    virtio_init(&d->vd, ops, d, &d->mem, 2, NUM_MAX);
    d->t = virtio_mmio_create(&d->bus, MMIO_BASE, (IrqLine){ set_level, d, 7 }, &d->vd);
    assert_non_null(d->t);
    d->level = -1;
    assert_int_equal(vmstate_register(&d->vs, "VMIO", 0, VIRTIO_MMIO_STATE_VERSION,
                                      virtio_mmio_save, virtio_mmio_load, d->t), 0);
    return d;
}

static void dev_free(Dev *d)
{
    virtio_mmio_destroy(d->t);
    gmem_free(&d->mem);
    free(d);
}

static uint32_t rd(Dev *d, uint64_t off)
{
    uint64_t v;
    assert_true(bus_read(&d->bus, MMIO_BASE + off, 4, &v));
    return (uint32_t)v;
}

static void wr(Dev *d, uint64_t off, uint32_t v)
{
    assert_true(bus_write(&d->bus, MMIO_BASE + off, 4, v));
}

static void setup_queue(Dev *d, unsigned q, uint32_t num, uint64_t desc, uint64_t avail,
                        uint64_t used)
{
    wr(d, VIRTIO_MMIO_QUEUE_SEL, q);
    wr(d, VIRTIO_MMIO_QUEUE_NUM, num);
    wr(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
    wr(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
    wr(d, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)avail);
    wr(d, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(avail >> 32));
    wr(d, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)used);
    wr(d, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(used >> 32));
    wr(d, VIRTIO_MMIO_QUEUE_READY, 1);
}

/* The Linux driver's sequence: both queues, event idx negotiated. */
static void bring_up(Dev *d, TestRing *r0, TestRing *r1)
{
    uint64_t feat = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_RING_EVENT_IDX) |
                    (1ull << DEV_FEATURE_BIT);

    wr(d, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
    wr(d, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
    wr(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)feat);
    wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
    wr(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(feat >> 32));
    wr(d, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                              VIRTIO_STATUS_FEATURES_OK);
    *r0 = (TestRing){ .mem = &d->mem, .q = 0, .num = 16, .desc = DESC_GPA,
                      .avail = AVAIL_GPA, .used = USED_GPA };
    *r1 = (TestRing){ .mem = &d->mem, .q = 1, .num = 8, .desc = DESC1,
                      .avail = AVAIL1, .used = USED1 };
    setup_queue(d, 0, 16, DESC_GPA, AVAIL_GPA, USED_GPA);
    setup_queue(d, 1, 8, DESC1, AVAIL1, USED1);
    wr(d, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                              VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
    assert_int_equal(rd(d, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DRIVER_OK, VIRTIO_STATUS_DRIVER_OK);
}

/* Four chains posted on queue 0; the device answered the first, holds the
 * second, and has interrupted; a config change is pending too; the
 * driver's selectors point at queue 1 and the high feature words. */
static void make_busy(Dev *d, TestRing *r0, TestRing *r1)
{
    VirtqElem *e = malloc(sizeof(*e));

    bring_up(d, r0, r1);
    for (unsigned i = 0; i < 4; i++) {
        set_desc(r0, i, DATA_GPA + 0x100 * i, 0x100, F_WRITE, 0);
        avail_add(r0, (uint16_t)i);
    }
    assert_int_equal(virtq_pop(&d->vd, 0, e), 1);
    assert_int_equal(e->head, 0);
    virtq_push(&d->vd, 0, e, 0x10);
    virtq_notify(&d->vd, 0);
    assert_int_equal(virtq_pop(&d->vd, 0, e), 1);
    assert_int_equal(e->head, 1);
    d->held[0] = 1;
    virtio_config_changed(&d->vd);
    assert_int_equal(rd(d, VIRTIO_MMIO_INTERRUPT_STATUS), 3);
    assert_int_equal(d->level, 1);
    wr(d, VIRTIO_MMIO_QUEUE_SEL, 1);
    wr(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
    d->token = 0x1234abcd;
    free(e);
}

/* A restore: guest RAM as it was, then the section. */
static void restore_into(Dev *to, Dev *from, const Saved *sv)
{
    memcpy(to->mem.r[0].host, from->mem.r[0].host, RAM_SIZE);
    assert_loads(&to->vs, sv);
}

/* Every register reads the same, for every queue the driver may select. */
static void assert_same_registers(Dev *a, Dev *b)
{
    for (uint64_t off = 0; off < VIRTIO_MMIO_CONFIG; off += 4)
        assert_int_equal(rd(b, off), rd(a, off));
    for (uint32_t q = 0; q < 3; q++) {
        wr(a, VIRTIO_MMIO_QUEUE_SEL, q);
        wr(b, VIRTIO_MMIO_QUEUE_SEL, q);
        for (uint64_t off = 0; off < VIRTIO_MMIO_CONFIG; off += 4)
            assert_int_equal(rd(b, off), rd(a, off));
    }
}

static void test_roundtrip(void **state)
{
    Dev *a = dev_new(&fake_ops), *b = dev_new(&fake_ops);
    TestRing r0, r1, s0;
    Saved *sv = malloc(sizeof(*sv));
    VirtqElem *e = malloc(sizeof(*e));
    uint32_t id, len;

    make_busy(a, &r0, &r1);
    save_section(&a->vs, sv);
    restore_into(b, a, sv);
    assert_int_equal(b->level, 1);          /* driven at load */
    assert_int_equal(b->token, 0x1234abcd);
    assert_int_equal(b->activated, 0);      /* nothing runs before the restart */
    assert_int_equal(b->notified[0] + b->notified[1], 0);
    assert_same_registers(a, b);

    /* The driver acknowledges; used_event 0 asks for no interrupt in
     * (1, 3]: the restored event-idx state must know one was sent at 1. */
    s0 = r0;
    s0.mem = &b->mem;
    Dev *d[2] = { a, b };
    TestRing *r[2] = { &r0, &s0 };
    for (int i = 0; i < 2; i++) {
        wr(d[i], VIRTIO_MMIO_INTERRUPT_ACK, 3);
        assert_int_equal(d[i]->level, 0);
        set_used_event(r[i], 0);
    }
    /* a answers the chain it holds; b, which holds nothing, pops it again. */
    e->head = 1;
    e->n_in = e->n_out = 0;
    e->in_len = 0x100;
    e->out_len = 0;
    virtq_push(&a->vd, 0, e, 0x20);
    assert_int_equal(virtq_pop(&b->vd, 0, e), 1);
    assert_int_equal(e->head, 1);
    virtq_push(&b->vd, 0, e, 0x20);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(virtq_pop(&d[i]->vd, 0, e), 1);
        assert_int_equal(e->head, 2);
        virtq_push(&d[i]->vd, 0, e, 0x30);
        virtq_notify(&d[i]->vd, 0);
        assert_int_equal(d[i]->level, 0);
        assert_int_equal(used_idx(r[i]), 3);
        assert_int_equal(avail_event(r[i]), 3);
        for (uint16_t k = 0; k < 3; k++) {
            used_elem(r[i], k, &id, &len);
            assert_int_equal(id, k);
            assert_int_equal(len, 0x10 * (k + 1));
        }
    }
    /* And now used_event 3 does interrupt, on both. */
    for (int i = 0; i < 2; i++) {
        set_used_event(r[i], 3);
        assert_int_equal(virtq_pop(&d[i]->vd, 0, e), 1);
        assert_int_equal(e->head, 3);
        virtq_push(&d[i]->vd, 0, e, 0);
        virtq_notify(&d[i]->vd, 0);
        assert_int_equal(d[i]->level, 1);
    }
    dev_free(a);
    dev_free(b);
    free(sv);
    free(e);
}

/* The restart after a restore: the device starts and every ready queue is
 * served as if kicked (the kick may have been lost with the old host). */
static void test_restart(void **state)
{
    Dev *a = dev_new(&fake_ops), *b = dev_new(&fake_ops), *c = dev_new(&fake_ops);
    TestRing r0, r1;
    Saved *sv = malloc(sizeof(*sv));

    make_busy(a, &r0, &r1);
    save_section(&a->vs, sv);
    restore_into(b, a, sv);
    virtio_mmio_restart(b->t);
    assert_int_equal(b->activated, 1);
    assert_int_equal(b->notified[0], 1);
    assert_int_equal(b->notified[1], 1);
    assert_int_equal(b->restarted, 1);

    /* A device the driver never started is not kicked, but still told. */
    save_section(&c->vs, sv);
    Dev *fresh = dev_new(&fake_ops);
    restore_into(fresh, c, sv);
    virtio_mmio_restart(fresh->t);
    assert_int_equal(fresh->activated + fresh->notified[0] + fresh->notified[1], 0);
    assert_int_equal(fresh->restarted, 1);
    dev_free(a);
    dev_free(b);
    dev_free(c);
    dev_free(fresh);
    free(sv);
}

/* A stopped queue's held count does not rewind anything; the reserved
 * status bits a driver writes are not kept, so a save never carries them. */
static void test_status_reserved_bits(void **state)
{
    Dev *a = dev_new(&fake_ops);

    wr(a, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | 0x30);
    assert_int_equal(rd(a, VIRTIO_MMIO_STATUS), VIRTIO_STATUS_ACKNOWLEDGE);
    dev_free(a);
}

/* Offsets in VMIO version 1. */
#define O_DEVICE_ID 0
#define O_STATUS    4
#define O_FEATURES  8
#define O_ISR       28
#define O_NQUEUES   36
#define O_Q(q)      (40 + 34 * (q))
#define Q_NUM       0
#define Q_READY     2
#define Q_DESC      3
#define Q_AVAIL     11
#define Q_USED      19
#define Q_LAST      27
#define Q_USEDIDX   29
#define Q_SIGVALID  33
#define O_DEVPART   O_Q(2)

static void test_layout(void **state)
{
    Dev *a = dev_new(&fake_ops);
    TestRing r0, r1;
    Saved *sv = malloc(sizeof(*sv));

    make_busy(a, &r0, &r1);
    save_section(&a->vs, sv);
    assert_int_equal(sv->len, O_DEVPART + 4);
    assert_int_equal(ld32(sv->data + O_DEVICE_ID), DEV_ID);
    assert_int_equal(ld32(sv->data + O_NQUEUES), 2);
    assert_int_equal(ld16(sv->data + O_Q(0) + Q_NUM), 16);
    assert_int_equal(ld64(sv->data + O_Q(1) + Q_DESC), DESC1);
    /* Two popped, one held: the saved next-avail is 1, not 2. */
    assert_int_equal(ld16(sv->data + O_Q(0) + Q_LAST), 1);
    assert_int_equal(a->vd.vq[0].last_avail, 2);    /* the original is untouched */
    assert_int_equal(ld16(sv->data + O_Q(0) + Q_USEDIDX), 1);
    assert_int_equal(ld32(sv->data + O_DEVPART), 0x1234abcd);
    dev_free(a);
    free(sv);
}

/* One tampered field: refused with `want`, and the fresh device stays
 * exactly as it was. */
static void refuse(Dev *b, const Saved *good, size_t off, unsigned width, uint64_t v,
                   const char *want)
{
    Saved *sv = malloc(sizeof(*sv));

    *sv = *good;
    switch (width) {
    case 1: sv_u8(sv, off, (uint8_t)v); break;
    case 2: sv_u16(sv, off, (uint16_t)v); break;
    case 4: sv_u32(sv, off, (uint32_t)v); break;
    default: sv_u64(sv, off, v); break;
    }
    assert_load_fails(&b->vs, sv, want);
    assert_int_equal(rd(b, VIRTIO_MMIO_STATUS), 0);
    assert_int_equal(rd(b, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
    assert_int_equal(b->vd.vq[0].num, NUM_MAX);
    assert_false(b->vd.vq[0].ready);
    assert_int_equal(b->token, 0);
    assert_int_equal(b->level, -1);
    free(sv);
}

static void test_hostile(void **state)
{
    Dev *a = dev_new(&fake_ops), *b = dev_new(&fake_ops);
    TestRing r0, r1;
    Saved *good = malloc(sizeof(*good));
    const uint64_t ram_end = RAM_BASE + RAM_SIZE;
    const uint8_t started = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                            VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;

    make_busy(a, &r0, &r1);
    save_section(&a->vs, good);
    memcpy(b->mem.r[0].host, a->mem.r[0].host, RAM_SIZE);
    check_framing(&b->vs, good);

    refuse(b, good, O_DEVICE_ID, 4, 2, "saved from virtio device type 2, this slot holds a virtio-fake (42)");
    refuse(b, good, O_NQUEUES, 4, 3, "saved with 3 queues");
    refuse(b, good, O_NQUEUES, 4, 0xffffffff, "queues");
    refuse(b, good, O_STATUS, 4, started | 0x10, "reserved device status bits");
    refuse(b, good, O_STATUS, 4, 0x100 | started, "reserved device status bits");
    refuse(b, good, O_STATUS, 4, started & ~VIRTIO_STATUS_FEATURES_OK, "DRIVER_OK without FEATURES_OK");
    refuse(b, good, O_FEATURES, 8, (1ull << VIRTIO_F_VERSION_1) | (1ull << 40), "does not offer");
    refuse(b, good, O_FEATURES, 8, 1ull << DEV_FEATURE_BIT, "does not offer");    /* not modern */
    refuse(b, good, O_ISR, 4, 4, "reserved interrupt status");
    refuse(b, good, O_Q(0) + Q_READY, 1, 2, "malformed");
    refuse(b, good, O_Q(0) + Q_SIGVALID, 1, 7, "malformed");
    refuse(b, good, O_Q(0) + Q_NUM, 2, 12, "queue 0: queue size is not a power of two");
    refuse(b, good, O_Q(0) + Q_NUM, 2, 0, "queue 0: queue size");
    refuse(b, good, O_Q(1) + Q_NUM, 2, 128, "queue 1: queue size");     /* > QueueNumMax */
    refuse(b, good, O_Q(0) + Q_DESC, 8, 0x1000, "queue 0: queue rings outside guest RAM");
    refuse(b, good, O_Q(0) + Q_DESC, 8, ram_end - 16 * 8, "outside guest RAM");   /* half in */
    refuse(b, good, O_Q(0) + Q_DESC, 8, ~0ull - 15, "outside guest RAM");        /* wraps */
    refuse(b, good, O_Q(0) + Q_AVAIL, 8, ram_end - 6 - 2 * 16 + 2, "outside guest RAM");
    refuse(b, good, O_Q(0) + Q_AVAIL, 8, AVAIL_GPA + 1, "misaligned");
    refuse(b, good, O_Q(0) + Q_USED, 8, USED_GPA + 2, "misaligned");
    refuse(b, good, O_Q(1) + Q_USED, 8, ram_end - 6 - 8 * 8 + 4, "queue 1: queue rings outside");
    refuse(b, good, O_Q(0) + Q_LAST, 2, 1 + 17, "more chains in flight than the queue holds");
    refuse(b, good, O_Q(0) + Q_LAST, 2, 0, "more chains in flight");          /* used passed avail */
    refuse(b, good, O_DEVPART, 4, 0xdead, "fake device refuses its part");

    /* A stopped queue's registers are the driver's business until it
     * starts the queue, which checks them then. */
    Saved *sv = malloc(sizeof(*sv));
    *sv = *good;
    sv_u8(sv, O_Q(1) + Q_READY, 0);
    sv_u16(sv, O_Q(1) + Q_NUM, 12);
    sv_u64(sv, O_Q(1) + Q_DESC, 3);
    assert_loads(&b->vs, sv);
    wr(b, VIRTIO_MMIO_QUEUE_SEL, 1);
    wr(b, VIRTIO_MMIO_QUEUE_READY, 1);
    assert_int_equal(rd(b, VIRTIO_MMIO_QUEUE_READY), 0);
    assert_true(rd(b, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);

    /* Another device type in the slot. */
    Dev *o = dev_new(&other_ops);
    assert_load_fails(&o->vs, good, "this slot holds a virtio-other (43)");
    dev_free(o);
    dev_free(a);
    dev_free(b);
    free(good);
    free(sv);
}

int main(void)
{
    log_set_level(LOG_ERR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_restart),
        cmocka_unit_test(test_status_reserved_bits),
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
