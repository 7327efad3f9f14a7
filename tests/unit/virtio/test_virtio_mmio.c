/* virtio-mmio register protocol, driven through the bus like a guest. */
#include "vqtest.h"

#include <stdlib.h>

#include "common/log.h"
#include "hw/bus.h"
#include "hw/virtio/virtio_mmio.h"

#define MMIO_BASE 0x10001000ull
#define DEV_FEATURE_BIT 3

typedef struct Fixture {
    GuestMem mem;
    Bus bus;
    VirtioDevice vd;
    VirtioMmio *m;
    int level;
    int notified[4];
    int activated, resets;
    uint8_t config[10];
} Fixture;

static void set_level(void *ctrl, unsigned irq, int level)
{
    Fixture *f = ctrl;
    assert_int_equal(irq, 7);
    f->level = level;
}

static uint64_t fake_features(VirtioDevice *vd) { return 1ull << DEV_FEATURE_BIT; }
static void fake_notify(VirtioDevice *vd, unsigned q) { ((Fixture *)vd->priv)->notified[q]++; }
static void fake_activate(VirtioDevice *vd) { ((Fixture *)vd->priv)->activated++; }
static void fake_reset(VirtioDevice *vd) { ((Fixture *)vd->priv)->resets++; }

static void fake_cfg_read(VirtioDevice *vd, uint32_t off, void *buf, unsigned len)
{
    Fixture *f = vd->priv;
    assert_true(off + len <= sizeof(f->config));
    memcpy(buf, f->config + off, len);
}

static void fake_cfg_write(VirtioDevice *vd, uint32_t off, const void *buf, unsigned len)
{
    Fixture *f = vd->priv;
    assert_true(off + len <= sizeof(f->config));
    memcpy(f->config + off, buf, len);
}

static const VirtioDeviceOps fake_ops = {
    .name = "virtio-test",
    .device_id = 42,
    .get_features = fake_features,
    .config_read = fake_cfg_read,
    .config_write = fake_cfg_write,
    .config_size = 10,
    .queue_notify = fake_notify,
    .activate = fake_activate,
    .reset = fake_reset,
};

static int setup(void **state)
{
    Fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    assert_int_equal(gmem_add_ram(&f->mem, RAM_BASE, RAM_SIZE), 0);
    virtio_init(&f->vd, &fake_ops, f, &f->mem, 2, 64);
    for (int i = 0; i < 10; i++)
        f->config[i] = (uint8_t)(0xa0 + i);
    f->m = virtio_mmio_create(&f->bus, MMIO_BASE, (IrqLine){ set_level, f, 7 }, &f->vd);
    assert_non_null(f->m);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fixture *f = *state;
    virtio_mmio_destroy(f->m);
    gmem_free(&f->mem);
    free(f);
    return 0;
}

static uint32_t rd(Fixture *f, uint64_t off)
{
    uint64_t v;
    assert_true(bus_read(&f->bus, MMIO_BASE + off, 4, &v));
    return (uint32_t)v;
}

static void wr(Fixture *f, uint64_t off, uint32_t v)
{
    assert_true(bus_write(&f->bus, MMIO_BASE + off, 4, v));
}

static uint64_t dev_features(Fixture *f)
{
    wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
    uint64_t lo = rd(f, VIRTIO_MMIO_DEVICE_FEATURES);
    wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
    return lo | ((uint64_t)rd(f, VIRTIO_MMIO_DEVICE_FEATURES) << 32);
}

static void set_driver_features(Fixture *f, uint64_t feat)
{
    wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
    wr(f, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)feat);
    wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
    wr(f, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(feat >> 32));
}

static void setup_queue(Fixture *f, unsigned q, uint32_t num)
{
    wr(f, VIRTIO_MMIO_QUEUE_SEL, q);
    wr(f, VIRTIO_MMIO_QUEUE_NUM, num);
    wr(f, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)DESC_GPA);
    wr(f, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(DESC_GPA >> 32));
    wr(f, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)AVAIL_GPA);
    wr(f, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, 0);
    wr(f, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)USED_GPA);
    wr(f, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, 0);
    wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
}

/* The Linux driver's sequence. */
static void bring_up(Fixture *f)
{
    wr(f, VIRTIO_MMIO_STATUS, 0);
    wr(f, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
    wr(f, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    set_driver_features(f, dev_features(f));
    wr(f, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                              VIRTIO_STATUS_FEATURES_OK);
    assert_true(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK);
    setup_queue(f, 0, 16);
    wr(f, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                              VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
}

static void test_identity(void **state)
{
    Fixture *f = *state;
    uint64_t v;

    assert_int_equal(rd(f, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
    assert_int_equal(rd(f, VIRTIO_MMIO_VERSION_REG), 2);
    assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_ID), 42);
    assert_int_equal(rd(f, VIRTIO_MMIO_VENDOR_ID_REG), VIRTIO_MMIO_VENDOR_ID);
    assert_int_equal(rd(f, 0x008 + 0x100 - 0x100 + 0xf0), 0);   /* unknown: 0 */
    assert_int_equal(rd(f, 0x0c0), 0);
    wr(f, 0x0c0, 0x1234);                                        /* ignored */
    /* Registers are 32-bit: narrow reads yield 0. */
    assert_true(bus_read(&f->bus, MMIO_BASE, 1, &v));
    assert_int_equal(v, 0);
    /* Outside the window: not ours. */
    assert_false(bus_read(&f->bus, MMIO_BASE + 0x1000, 4, &v));
}

static void test_features(void **state)
{
    Fixture *f = *state;
    uint64_t feat = dev_features(f);

    assert_true(feat & (1ull << VIRTIO_F_VERSION_1));
    assert_true(feat & (1ull << VIRTIO_F_RING_EVENT_IDX));
    assert_true(feat & (1ull << VIRTIO_F_RING_INDIRECT_DESC));
    assert_true(feat & (1ull << DEV_FEATURE_BIT));
    wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
    assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_FEATURES), 0);

    wr(f, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    /* Legacy driver (no VERSION_1): FEATURES_OK refused. */
    set_driver_features(f, 1ull << DEV_FEATURE_BIT);
    wr(f, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                              VIRTIO_STATUS_FEATURES_OK);
    assert_false(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK);
    /* Unknown bit accepted by the driver: refused. */
    set_driver_features(f, (1ull << VIRTIO_F_VERSION_1) | (1ull << 5));
    wr(f, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                              VIRTIO_STATUS_FEATURES_OK);
    assert_false(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK);
    /* A subset with VERSION_1: accepted, and then frozen. */
    set_driver_features(f, (1ull << VIRTIO_F_VERSION_1) | (1ull << DEV_FEATURE_BIT));
    wr(f, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                              VIRTIO_STATUS_FEATURES_OK);
    assert_true(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK);
    set_driver_features(f, 0);
    assert_true(virtio_has_feature(&f->vd, VIRTIO_F_VERSION_1));
    assert_true(virtio_has_feature(&f->vd, DEV_FEATURE_BIT));
    assert_false(virtio_has_feature(&f->vd, VIRTIO_F_RING_EVENT_IDX));
}

static void test_queue_setup_and_notify(void **state)
{
    Fixture *f = *state;

    wr(f, VIRTIO_MMIO_QUEUE_SEL, 0);
    assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_NUM_MAX), 64);
    wr(f, VIRTIO_MMIO_QUEUE_SEL, 5);
    assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);   /* no such queue */
    wr(f, VIRTIO_MMIO_QUEUE_READY, 1);                          /* ignored */

    /* Kicks before DRIVER_OK are not delivered; activation catches up. */
    wr(f, VIRTIO_MMIO_STATUS, 1);
    setup_queue(f, 0, 16);
    wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
    assert_int_equal(f->notified[0], 0);
    bring_up(f);
    assert_int_equal(f->activated, 1);
    assert_int_equal(f->notified[0], 1);
    assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 1);
    assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_DESC_LOW), (uint32_t)DESC_GPA);
    assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_DRIVER_LOW), (uint32_t)AVAIL_GPA);
    assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_DEVICE_LOW), (uint32_t)USED_GPA);
    assert_int_equal(f->vd.vq[0].num, 16);

    wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
    assert_int_equal(f->notified[0], 2);
    wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 1);       /* queue 1 not ready */
    wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 300);     /* no such queue */
    assert_int_equal(f->notified[1], 0);

    /* Layout is frozen while the queue runs. */
    wr(f, VIRTIO_MMIO_QUEUE_SEL, 0);
    wr(f, VIRTIO_MMIO_QUEUE_DESC_LOW, 0);
    assert_int_equal(f->vd.vq[0].desc_gpa, DESC_GPA);
}

static void test_bad_queue(void **state)
{
    Fixture *f = *state;

    wr(f, VIRTIO_MMIO_STATUS, 1);
    setup_queue(f, 0, 12);                    /* not a power of two */
    assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 0);
    assert_true(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
    assert_int_equal(f->level, 1);            /* config change interrupt */
    assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), 2);

    wr(f, VIRTIO_MMIO_STATUS, 0);             /* reset recovers */
    assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), 0);
    assert_int_equal(f->level, 0);
    wr(f, VIRTIO_MMIO_STATUS, 1);
    wr(f, VIRTIO_MMIO_QUEUE_SEL, 0);
    wr(f, VIRTIO_MMIO_QUEUE_NUM, 16);
    wr(f, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1000);   /* not RAM */
    wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
    assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 0);
    assert_true(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_interrupts(void **state)
{
    Fixture *f = *state;
    TestRing r = { .mem = &f->mem, .num = 16, .desc = DESC_GPA,
                   .avail = AVAIL_GPA, .used = USED_GPA };
    VirtqElem *e = malloc(sizeof(*e));

    assert_non_null(e);
    bring_up(f);
    set_desc(&r, 0, DATA_GPA, 8, 0, 0);
    avail_add(&r, 0);
    assert_int_equal(virtq_pop(&f->vd, 0, e), 1);
    virtq_push(&f->vd, 0, e, 0);
    assert_int_equal(f->level, 0);
    virtq_notify(&f->vd, 0);
    assert_int_equal(f->level, 1);
    assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), 1);
    wr(f, VIRTIO_MMIO_INTERRUPT_ACK, 1);
    assert_int_equal(f->level, 0);
    assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), 0);

    uint32_t gen = rd(f, VIRTIO_MMIO_CONFIG_GENERATION);
    virtio_config_changed(&f->vd);
    assert_int_equal(f->level, 1);
    assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), 2);
    assert_int_not_equal(rd(f, VIRTIO_MMIO_CONFIG_GENERATION), gen);
    wr(f, VIRTIO_MMIO_INTERRUPT_ACK, 2);
    assert_int_equal(f->level, 0);
    free(e);
}

static void test_reset(void **state)
{
    Fixture *f = *state;

    bring_up(f);
    f->vd.isr = 1;
    wr(f, VIRTIO_MMIO_STATUS, 0);
    assert_int_equal(f->resets, 2);            /* bring_up resets too */
    assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), 0);
    assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
    wr(f, VIRTIO_MMIO_QUEUE_SEL, 0);
    assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 0);
    assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_DESC_LOW), 0);
    assert_int_equal(f->vd.driver_features, 0);
    /* And it comes back up. */
    bring_up(f);
    assert_int_equal(f->activated, 2);
    assert_true(virtio_is_ready(&f->vd));
}

static void test_config_space(void **state)
{
    Fixture *f = *state;
    uint64_t v;

    assert_true(bus_read(&f->bus, MMIO_BASE + 0x100, 4, &v));
    assert_int_equal(v, 0xa3a2a1a0);
    assert_true(bus_read(&f->bus, MMIO_BASE + 0x102, 1, &v));
    assert_int_equal(v, 0xa2);
    assert_true(bus_read(&f->bus, MMIO_BASE + 0x102, 8, &v));
    assert_int_equal(v, 0xa9a8a7a6a5a4a3a2ull);
    assert_true(bus_read(&f->bus, MMIO_BASE + 0x108, 4, &v));   /* crosses end */
    assert_int_equal(v, 0);
    assert_true(bus_read(&f->bus, MMIO_BASE + 0xffc, 4, &v));
    assert_int_equal(v, 0);
    assert_true(bus_write(&f->bus, MMIO_BASE + 0x101, 2, 0x5566));
    assert_int_equal(f->config[1], 0x66);
    assert_int_equal(f->config[2], 0x55);
    assert_true(bus_write(&f->bus, MMIO_BASE + 0x109, 2, 0xffff));  /* ignored */
    assert_int_equal(f->config[9], 0xa9);
}

static void test_driver_ok_needs_features_ok(void **state)
{
    Fixture *f = *state;

    wr(f, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                              VIRTIO_STATUS_DRIVER_OK);
    assert_int_equal(f->activated, 0);
    assert_false(virtio_is_ready(&f->vd));
}

static void test_map_conflict(void **state)
{
    Fixture *f = *state;
    VirtioDevice other;

    virtio_init(&other, &fake_ops, f, &f->mem, 1, 8);
    assert_null(virtio_mmio_create(&f->bus, MMIO_BASE + 0x800, (IrqLine){ 0 }, &other));
}

int main(void)
{
    log_set_level(LOG_ERR);
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_identity),
        T(test_features),
        T(test_queue_setup_and_notify),
        T(test_bad_queue),
        T(test_interrupts),
        T(test_reset),
        T(test_config_space),
        T(test_driver_ok_needs_features_ok),
        T(test_map_conflict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
