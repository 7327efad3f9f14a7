/* virtio-net device model against a fake backend and hand-written rings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "backend/net.h"
#include "common/log.h"
#include "hw/virtio/devices.h"
#include "guest_ring.h"

#define F_MAC       5
#define F_MRG_RXBUF 15
#define F_STATUS    16

#define RXQ_BASE (G_RAM_BASE + 0x0000)
#define TXQ_BASE (G_RAM_BASE + 0x1000)
#define BUF_BASE (G_RAM_BASE + 0x10000)   /* data buffers from here */

/* ---- fake backend: records what the device sends */

typedef struct Fake {
    NetBackend nb;
    uint8_t last[NET_MAX_FRAME + 16];
    size_t last_len;
    unsigned sent, resumed;
    bool closed;
} Fake;

static Fake *fake;

static int fake_send(NetBackend *nb, const struct iovec *iov, unsigned n, size_t len)
{
    Fake *f = (Fake *)nb;
    size_t got = 0;

    for (unsigned i = 0; i < n; i++) {
        assert_true(got + iov[i].iov_len <= sizeof(f->last));
        memcpy(f->last + got, iov[i].iov_base, iov[i].iov_len);
        got += iov[i].iov_len;
    }
    assert_int_equal(got, len);
    f->last_len = len;
    f->sent++;
    return 0;
}

static void fake_resume(NetBackend *nb) { ((Fake *)nb)->resumed++; }
static void fake_close(NetBackend *nb) { free(nb); fake = NULL; }

static unsigned injected;
static uint8_t injected_frame[64];
static int fake_inject(NetBackend *nb, const void *frame, size_t len)
{
    (void)nb;
    injected++;
    memcpy(injected_frame, frame, len < sizeof(injected_frame) ? len : sizeof(injected_frame));
    return 0;
}

static const NetBackendOps fake_ops = {
    .name = "fake", .send = fake_send, .rx_resume = fake_resume, .close = fake_close,
    .inject = fake_inject,
};

static NetBackend *fake_open(void)
{
    Fake *f = calloc(1, sizeof(*f));
    f->nb.ops = &fake_ops;
    fake = f;
    return &f->nb;
}

/* ---- fixture */

typedef struct T {
    GuestMem mem;
    VirtioDevice *vd;
    GRing rx, tx;
    unsigned irqs;
} T;

static unsigned *irq_counter;
static void count_irq(VirtioDevice *vd) { if (vd->isr) (*irq_counter)++; }

/* mac NULL: the device picks one. */
static T *setup_dev(uint64_t features, const uint8_t *mac)
{
    T *t = calloc(1, sizeof(*t));
    char err[256] = "";

    assert_int_equal(gmem_add_ram(&t->mem, G_RAM_BASE, G_RAM_SIZE), 0);
    t->vd = virtio_net_create(&t->mem, fake_open(), mac, err, sizeof(err));
    assert_non_null(t->vd);
    irq_counter = &t->irqs;
    t->vd->update_irq = count_irq;
    g_driver_ok(t->vd, features);
    gring_setup(&t->rx, t->vd, 0, RXQ_BASE);
    gring_setup(&t->tx, t->vd, 1, TXQ_BASE);
    return t;
}

static void teardown_dev(T *t)
{
    virtio_device_destroy(t->vd);
    assert_null(fake);
    gmem_free(&t->mem);
    free(t);
}

static void fill(GuestMem *m, uint64_t gpa, size_t len, uint8_t seed)
{
    uint8_t *p = gmem_ptr(m, gpa, len);
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(seed + i * 7);
}

static NetClient *client(void) { return &fake->nb.client; }

/* ---- tests */

static void test_features_and_config(void **state)
{
    const uint8_t mac[6] = { 0x00, 0x16, 0x3e, 1, 2, 3 };
    T *t = setup_dev(0, mac);
    uint64_t f = t->vd->ops->get_features(t->vd);
    uint8_t cfg[10];

    assert_int_equal(t->vd->ops->device_id, VIRTIO_ID_NET);
    assert_true(f & (1ull << F_MAC));
    assert_true(f & (1ull << F_STATUS));
    assert_true(f & (1ull << F_MRG_RXBUF));
    assert_int_equal(t->vd->nqueues, 2);
    t->vd->ops->config_read(t->vd, 0, cfg, 8);
    assert_memory_equal(cfg, mac, 6);
    assert_int_equal(ld16(cfg + 6), 1);           /* link up */
    /* Out-of-range config reads return zeros, never crash. */
    memset(cfg, 0xff, sizeof(cfg));
    t->vd->ops->config_read(t->vd, 8, cfg, 4);
    assert_int_equal(cfg[0], 0);
    teardown_dev(t);
}

static void test_random_mac_is_xen_oui(void **state)
{
    T *t = setup_dev(0, NULL);
    uint8_t mac[6];

    virtio_net_get_mac(t->vd, mac);
    assert_int_equal(mac[0], 0x00);
    assert_int_equal(mac[1], 0x16);
    assert_int_equal(mac[2], 0x3e);
    assert_int_equal(mac[3] & 0x80, 0);
    teardown_dev(t);
}

static void test_multicast_mac_rejected(void **state)
{
    GuestMem mem = { 0 };
    const uint8_t mac[6] = { 0x01, 0, 0, 0, 0, 1 };
    char err[256] = "";

    assert_int_equal(gmem_add_ram(&mem, G_RAM_BASE, G_RAM_SIZE), 0);
    assert_null(virtio_net_create(&mem, fake_open(), mac, err, sizeof(err)));
    assert_non_null(strstr(err, "multicast"));
    assert_null(strchr(err, '\n'));
    assert_null(fake);          /* the refused backend was closed */
    gmem_free(&mem);
}

/* Without a backend there is no device (and nothing to free). */
static void test_no_backend(void **state)
{
    GuestMem mem = { 0 };
    char err[256] = "";

    assert_int_equal(gmem_add_ram(&mem, G_RAM_BASE, G_RAM_SIZE), 0);
    assert_null(virtio_net_create(&mem, NULL, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "backend"));
    gmem_free(&mem);
}

/* tx: header in its own descriptor, frame split over two more. */
static void test_tx_strips_header(void **state)
{
    T *t = setup_dev(0, NULL);
    GBuf b[3] = {
        { BUF_BASE, 12, false },
        { BUF_BASE + 0x100, 20, false },
        { BUF_BASE + 0x200, 44, false },
    };
    uint32_t id, len;
    VirtioNetStats st;

    fill(&t->mem, BUF_BASE, 12, 0xAA);
    fill(&t->mem, BUF_BASE + 0x100, 20, 1);
    fill(&t->mem, BUF_BASE + 0x200, 44, 21);
    uint16_t head = gring_add(&t->tx, b, 3);
    t->vd->ops->queue_notify(t->vd, 1);

    assert_int_equal(fake->sent, 1);
    assert_int_equal(fake->last_len, 64);
    assert_memory_equal(fake->last, gmem_ptr(&t->mem, BUF_BASE + 0x100, 20), 20);
    assert_memory_equal(fake->last + 20, gmem_ptr(&t->mem, BUF_BASE + 0x200, 44), 44);
    assert_int_equal(gring_used_idx(&t->tx), 1);
    gring_used(&t->tx, 0, &id, &len);
    assert_int_equal(id, head);
    assert_int_equal(len, 0);
    assert_true(t->irqs > 0);
    virtio_net_get_stats(t->vd, &st);
    assert_int_equal(st.tx_packets, 1);
    assert_int_equal(st.tx_bytes, 64);
    teardown_dev(t);
}

/* tx: header and frame in one descriptor, and a header split across two. */
static void test_tx_header_layouts(void **state)
{
    T *t = setup_dev(0, NULL);
    GBuf one[1] = { { BUF_BASE, 12 + 60, false } };
    GBuf split[3] = {
        { BUF_BASE + 0x1000, 5, false },
        { BUF_BASE + 0x2000, 10, false },     /* 7 header bytes + 3 frame bytes */
        { BUF_BASE + 0x3000, 57, false },
    };

    fill(&t->mem, BUF_BASE, 72, 3);
    gring_add(&t->tx, one, 1);
    t->vd->ops->queue_notify(t->vd, 1);
    assert_int_equal(fake->sent, 1);
    assert_int_equal(fake->last_len, 60);
    assert_memory_equal(fake->last, gmem_ptr(&t->mem, BUF_BASE + 12, 60), 60);

    fill(&t->mem, BUF_BASE + 0x2000, 10, 50);
    fill(&t->mem, BUF_BASE + 0x3000, 57, 90);
    gring_add(&t->tx, split, 3);
    t->vd->ops->queue_notify(t->vd, 1);
    assert_int_equal(fake->sent, 2);
    assert_int_equal(fake->last_len, 60);
    assert_memory_equal(fake->last, gmem_ptr(&t->mem, BUF_BASE + 0x2000 + 7, 3), 3);
    assert_memory_equal(fake->last + 3, gmem_ptr(&t->mem, BUF_BASE + 0x3000, 57), 57);
    assert_int_equal(gring_used_idx(&t->tx), 2);
    teardown_dev(t);
}

/* Oversized and header-only frames are dropped, counted, and completed. */
static void test_tx_bad_sizes(void **state)
{
    T *t = setup_dev(0, NULL);
    GBuf big[1] = { { BUF_BASE, 12 + NET_MAX_FRAME + 1, false } };
    GBuf max[1] = { { BUF_BASE, 12 + NET_MAX_FRAME, false } };
    GBuf hdr_only[1] = { { BUF_BASE, 12, false } };
    GBuf tiny[1] = { { BUF_BASE, 5, false } };
    VirtioNetStats st;

    gring_add(&t->tx, big, 1);
    gring_add(&t->tx, hdr_only, 1);
    gring_add(&t->tx, tiny, 1);
    gring_add(&t->tx, max, 1);
    t->vd->ops->queue_notify(t->vd, 1);
    assert_int_equal(fake->sent, 1);
    assert_int_equal(fake->last_len, NET_MAX_FRAME);
    assert_int_equal(gring_used_idx(&t->tx), 4);
    virtio_net_get_stats(t->vd, &st);
    assert_int_equal(st.tx_dropped, 3);
    assert_int_equal(st.tx_packets, 1);
    assert_true(virtio_is_ready(t->vd));
    teardown_dev(t);
}

/* Malformed chains break the device; nothing crashes, and afterwards the
 * device ignores both queues. */
static void test_tx_malformed(void **state)
{
    T *t = setup_dev(0, NULL);
    GBuf outside[2] = { { BUF_BASE, 12, false }, { G_RAM_BASE + G_RAM_SIZE - 8, 64, false } };
    VirtioNetStats st;

    gring_add(&t->tx, outside, 2);
    t->vd->ops->queue_notify(t->vd, 1);
    assert_int_equal(fake->sent, 0);
    assert_true(t->vd->status & VIRTIO_STATUS_NEEDS_RESET);
    assert_false(virtio_is_ready(t->vd));

    /* The broken device neither sends nor receives. */
    GBuf ok[1] = { { BUF_BASE, 80, false } };
    gring_add(&t->tx, ok, 1);
    t->vd->ops->queue_notify(t->vd, 1);
    assert_int_equal(fake->sent, 0);
    assert_int_equal(client()->can_receive(client()->opaque), 0);
    uint8_t frame[60] = { 0 };
    client()->receive(client()->opaque, frame, sizeof(frame));
    virtio_net_get_stats(t->vd, &st);
    assert_int_equal(st.rx_packets, 0);
    assert_int_equal(gring_used_idx(&t->rx), 0);
    teardown_dev(t);
}

static void test_tx_loop_chain(void **state)
{
    T *t = setup_dev(0, NULL);

    /* Descriptor 0 -> 1 -> 0 ... */
    gring_write_desc(&t->tx, 0, BUF_BASE, 40, 1, 1);
    gring_write_desc(&t->tx, 1, BUF_BASE, 40, 1, 0);
    gring_publish(&t->tx, 0);
    t->vd->ops->queue_notify(t->vd, 1);
    assert_int_equal(fake->sent, 0);
    assert_true(t->vd->status & VIRTIO_STATUS_NEEDS_RESET);
    teardown_dev(t);
}

/* A writable descriptor on the tx queue is tolerated (ignored). Garbage in
 * the avail ring (head out of range) breaks the device. */
static void test_tx_bad_head(void **state)
{
    T *t = setup_dev(0, NULL);

    gring_publish(&t->tx, 999);
    t->vd->ops->queue_notify(t->vd, 1);
    assert_int_equal(fake->sent, 0);
    assert_true(t->vd->status & VIRTIO_STATUS_NEEDS_RESET);
    teardown_dev(t);
}

static void test_rx_single_buffer(void **state)
{
    T *t = setup_dev(1ull << F_MRG_RXBUF, NULL);
    GBuf b[1] = { { BUF_BASE, 2048, true } };
    uint8_t frame[100];
    uint32_t id, len;
    VirtioNetStats st;

    for (unsigned i = 0; i < sizeof(frame); i++)
        frame[i] = (uint8_t)(i * 3 + 1);
    memset(gmem_ptr(&t->mem, BUF_BASE, 2048), 0xEE, 2048);
    assert_int_equal(client()->can_receive(client()->opaque), 0);
    uint16_t head = gring_add(&t->rx, b, 1);
    assert_int_not_equal(client()->can_receive(client()->opaque), 0);
    client()->receive(client()->opaque, frame, sizeof(frame));

    assert_int_equal(gring_used_idx(&t->rx), 1);
    gring_used(&t->rx, 0, &id, &len);
    assert_int_equal(id, head);
    assert_int_equal(len, 12 + sizeof(frame));
    uint8_t *p = gmem_ptr(&t->mem, BUF_BASE, 2048);
    static const uint8_t zero[10];
    assert_memory_equal(p, zero, 10);            /* flags, gso, csum: none */
    assert_int_equal(ld16(p + 10), 1);           /* num_buffers */
    assert_memory_equal(p + 12, frame, sizeof(frame));
    assert_int_equal(p[12 + sizeof(frame)], 0xEE); /* nothing written past */
    assert_true(t->irqs > 0);
    virtio_net_get_stats(t->vd, &st);
    assert_int_equal(st.rx_packets, 1);
    assert_int_equal(st.rx_bytes, sizeof(frame));
    teardown_dev(t);
}

/* A frame spread over three 64-byte mergeable buffers. */
static void test_rx_mergeable(void **state)
{
    T *t = setup_dev(1ull << F_MRG_RXBUF, NULL);
    uint8_t frame[150];
    uint32_t id, len;

    for (unsigned i = 0; i < sizeof(frame); i++)
        frame[i] = (uint8_t)(i ^ 0x5a);
    for (unsigned i = 0; i < 4; i++) {
        GBuf b[1] = { { BUF_BASE + 0x100 * i, 64, true } };
        gring_add(&t->rx, b, 1);
    }
    client()->receive(client()->opaque, frame, sizeof(frame));
    assert_int_equal(gring_used_idx(&t->rx), 3);
    uint32_t want[3] = { 64, 64, 162 - 128 };
    for (unsigned i = 0; i < 3; i++) {
        gring_used(&t->rx, i, &id, &len);
        assert_int_equal(id, i);
        assert_int_equal(len, want[i]);
    }
    uint8_t *b0 = gmem_ptr(&t->mem, BUF_BASE, 64);
    assert_int_equal(ld16(b0 + 10), 3);
    assert_memory_equal(b0 + 12, frame, 52);
    assert_memory_equal(gmem_ptr(&t->mem, BUF_BASE + 0x100, 64), frame + 52, 64);
    assert_memory_equal(gmem_ptr(&t->mem, BUF_BASE + 0x200, 34), frame + 116, 34);
    /* The fourth buffer is still there for the next frame. */
    assert_true(client()->can_receive(client()->opaque));
    teardown_dev(t);
}

/* One chain made of several writable descriptors (header split too). */
static void test_rx_multi_descriptor_chain(void **state)
{
    T *t = setup_dev(0, NULL);
    GBuf b[3] = { { BUF_BASE, 12, true }, { BUF_BASE + 0x100, 30, true },
                  { BUF_BASE + 0x200, 2000, true } };
    uint8_t frame[60];
    uint32_t id, len;

    memset(frame, 0x42, sizeof(frame));
    gring_add(&t->rx, b, 3);
    client()->receive(client()->opaque, frame, sizeof(frame));
    gring_used(&t->rx, 0, &id, &len);
    assert_int_equal(len, 72);
    assert_int_equal(ld16(gmem_ptr(&t->mem, BUF_BASE + 10, 2)), 1);
    assert_memory_equal(gmem_ptr(&t->mem, BUF_BASE + 0x100, 30), frame, 30);
    assert_memory_equal(gmem_ptr(&t->mem, BUF_BASE + 0x200, 30), frame + 30, 30);
    teardown_dev(t);
}

/* No buffers: drop and count; a kick on the rx queue resumes the backend. */
static void test_rx_no_buffers(void **state)
{
    T *t = setup_dev(1ull << F_MRG_RXBUF, NULL);
    uint8_t frame[60] = { 1, 2, 3 };
    VirtioNetStats st;
    GBuf b[1] = { { BUF_BASE, 1536, true } };

    assert_int_equal(client()->can_receive(client()->opaque), 0);
    client()->receive(client()->opaque, frame, sizeof(frame));
    virtio_net_get_stats(t->vd, &st);
    assert_int_equal(st.rx_dropped, 1);
    assert_int_equal(gring_used_idx(&t->rx), 0);

    unsigned before = fake->resumed;
    gring_add(&t->rx, b, 1);
    t->vd->ops->queue_notify(t->vd, 0);
    assert_int_equal(fake->resumed, before + 1);
    client()->receive(client()->opaque, frame, sizeof(frame));
    assert_int_equal(gring_used_idx(&t->rx), 1);
    teardown_dev(t);
}

/* Not enough buffer space for a frame: drop it but keep the buffers. */
static void test_rx_not_enough_room(void **state)
{
    T *t = setup_dev(1ull << F_MRG_RXBUF, NULL);
    uint8_t big[500], small[40];
    VirtioNetStats st;
    uint32_t id, len;

    memset(big, 0xB1, sizeof(big));
    memset(small, 0x5E, sizeof(small));
    for (unsigned i = 0; i < 2; i++) {
        GBuf b[1] = { { BUF_BASE + 0x100 * i, 64, true } };
        gring_add(&t->rx, b, 1);
    }
    client()->receive(client()->opaque, big, sizeof(big));
    virtio_net_get_stats(t->vd, &st);
    assert_int_equal(st.rx_dropped, 1);
    assert_int_equal(gring_used_idx(&t->rx), 0);
    /* The two buffers were given back: the next small frame uses the first. */
    client()->receive(client()->opaque, small, sizeof(small));
    assert_int_equal(gring_used_idx(&t->rx), 1);
    gring_used(&t->rx, 0, &id, &len);
    assert_int_equal(id, 0);
    assert_int_equal(len, 52);
    assert_memory_equal(gmem_ptr(&t->mem, BUF_BASE + 12, 40), small, 40);
    teardown_dev(t);
}

/* Without MRG_RXBUF a frame must fit one chain; num_buffers is still 1. */
static void test_rx_no_mergeable(void **state)
{
    T *t = setup_dev(0, NULL);
    uint8_t frame[100];
    VirtioNetStats st;
    GBuf small[1] = { { BUF_BASE, 64, true } };
    GBuf bigb[1] = { { BUF_BASE + 0x1000, 1526, true } };

    memset(frame, 0x77, sizeof(frame));
    gring_add(&t->rx, small, 1);
    gring_add(&t->rx, bigb, 1);
    client()->receive(client()->opaque, frame, sizeof(frame));
    virtio_net_get_stats(t->vd, &st);
    assert_int_equal(st.rx_dropped, 1);
    assert_int_equal(gring_used_idx(&t->rx), 0);
    teardown_dev(t);
}

/* A first rx buffer smaller than the header is a driver bug: broken. */
static void test_rx_tiny_first_buffer(void **state)
{
    T *t = setup_dev(1ull << F_MRG_RXBUF, NULL);
    GBuf b[1] = { { BUF_BASE, 8, true } };
    uint8_t frame[60] = { 0 };

    gring_add(&t->rx, b, 1);
    client()->receive(client()->opaque, frame, sizeof(frame));
    assert_true(t->vd->status & VIRTIO_STATUS_NEEDS_RESET);
    assert_int_equal(gring_used_idx(&t->rx), 0);
    /* Further frames are dropped without touching the rings. */
    client()->receive(client()->opaque, frame, sizeof(frame));
    assert_int_equal(gring_used_idx(&t->rx), 0);
    teardown_dev(t);
}

/* An rx chain pointing outside RAM breaks the device, no crash. */
static void test_rx_malformed(void **state)
{
    T *t = setup_dev(1ull << F_MRG_RXBUF, NULL);
    GBuf b[1] = { { G_RAM_BASE + G_RAM_SIZE, 2048, true } };
    uint8_t frame[60] = { 0 };

    gring_add(&t->rx, b, 1);
    client()->receive(client()->opaque, frame, sizeof(frame));
    assert_true(t->vd->status & VIRTIO_STATUS_NEEDS_RESET);
    assert_int_equal(client()->can_receive(client()->opaque), 0);
    teardown_dev(t);
}

/* Frames before DRIVER_OK, empty frames and oversized frames are dropped. */
static void test_rx_not_ready_and_bad_len(void **state)
{
    T *t = setup_dev(1ull << F_MRG_RXBUF, NULL);
    GBuf b[1] = { { BUF_BASE, 2048, true } };
    uint8_t frame[60] = { 0 };
    VirtioNetStats st;

    gring_add(&t->rx, b, 1);
    client()->receive(client()->opaque, frame, 0);
    t->vd->status &= ~VIRTIO_STATUS_DRIVER_OK;
    assert_int_equal(client()->can_receive(client()->opaque), 0);
    client()->receive(client()->opaque, frame, sizeof(frame));
    virtio_net_get_stats(t->vd, &st);
    assert_int_equal(st.rx_dropped, 2);
    assert_int_equal(gring_used_idx(&t->rx), 0);
    teardown_dev(t);
}

/* virtio_net_announce: one RARP for the device's MAC through the backend
 * (a migration's destination before its vCPUs run; a source resuming);
 * nothing for a device that is not a NIC, or none. */
static void test_announce(void **state)
{
    static const uint8_t mac[6] = { 0x00, 0x16, 0x3e, 0x12, 0x34, 0x56 };
    T *t = setup_dev(0, mac);
    uint8_t want[NET_RARP_FRAME_LEN];
    (void)state;

    injected = 0;
    virtio_net_announce(t->vd);
    assert_int_equal(injected, 1);
    net_rarp_frame(want, mac);
    assert_memory_equal(injected_frame, want, sizeof(want));
    virtio_net_announce(NULL);
    assert_int_equal(injected, 1);
    assert_int_equal(fake->sent, 0);        /* not through the guest's TX path */
    teardown_dev(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_features_and_config),
        cmocka_unit_test(test_announce),
        cmocka_unit_test(test_random_mac_is_xen_oui),
        cmocka_unit_test(test_multicast_mac_rejected),
        cmocka_unit_test(test_no_backend),
        cmocka_unit_test(test_tx_strips_header),
        cmocka_unit_test(test_tx_header_layouts),
        cmocka_unit_test(test_tx_bad_sizes),
        cmocka_unit_test(test_tx_malformed),
        cmocka_unit_test(test_tx_loop_chain),
        cmocka_unit_test(test_tx_bad_head),
        cmocka_unit_test(test_rx_single_buffer),
        cmocka_unit_test(test_rx_mergeable),
        cmocka_unit_test(test_rx_multi_descriptor_chain),
        cmocka_unit_test(test_rx_no_buffers),
        cmocka_unit_test(test_rx_not_enough_room),
        cmocka_unit_test(test_rx_no_mergeable),
        cmocka_unit_test(test_rx_tiny_first_buffer),
        cmocka_unit_test(test_rx_malformed),
        cmocka_unit_test(test_rx_not_ready_and_bad_len),
    };

    log_init("test_virtio_net", LOG_ERR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
