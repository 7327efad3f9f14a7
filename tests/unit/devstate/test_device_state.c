/* Saved state of the virtio device models behind the transport (their
 * part of the VMIO section) and what a restored device does when its
 * domain starts again: blk, net (incl. the RARP announce), console (a
 * held receive buffer), balloon (target, actual, stats, the held stats
 * buffer) and rng. Each device is made busy on real rings, saved, loaded
 * into a fresh device over a copy of guest RAM, restarted, and must carry
 * on where the original would have. */
#include "../virtio/vqtest.h"
#include "sectest.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "backend/block.h"
#include "backend/net.h"
#include "common/log.h"
#include "common/loop.h"
#include "hw/virtio/devices.h"
#include "hw/virtio/virtio_mmio.h"

/* Queue 1's rings. */
#define DESC1  (RAM_BASE + 0x4000)
#define AVAIL1 (RAM_BASE + 0x5000)
#define USED1  (RAM_BASE + 0x6000)

/* One device on its own copy of guest RAM, with its transport and its
 * VMIO section. */
typedef struct M {
    GuestMem mem;
    VirtioDevice *vd;
    VirtioMmio *t;
    VmState vs;
    int level;
} M;

static void set_level(void *ctrl, unsigned irq, int level) { ((M *)ctrl)->level = level; }

static M *m_new(void)
{
    M *m = calloc(1, sizeof(*m));

    assert_non_null(m);
    assert_int_equal(gmem_add_ram(&m->mem, RAM_BASE, RAM_SIZE), 0);
    m->level = -1;
    return m;
}

static void m_attach(M *m, VirtioDevice *vd)
{
    assert_non_null(vd);
    m->vd = vd;
    m->t = virtio_mmio_create(NULL, 0x10001000, (IrqLine){ set_level, m, 1 }, vd);
    assert_non_null(m->t);
    assert_int_equal(vmstate_register(&m->vs, "VMIO", 0, VIRTIO_MMIO_STATE_VERSION,
                                      virtio_mmio_save, virtio_mmio_load, m->t), 0);
}

static void m_free(M *m)
{
    virtio_mmio_destroy(m->t);
    virtio_device_destroy(m->vd);
    gmem_free(&m->mem);
    free(m);
}

/* As a restore does: RAM first, then the section. */
static void m_restore(M *to, M *from, const Saved *sv)
{
    memcpy(to->mem.r[0].host, from->mem.r[0].host, RAM_SIZE);
    assert_loads(&to->vs, sv);
}

static TestRing ring_on(M *m, const TestRing *r)
{
    TestRing c = *r;
    c.mem = &m->mem;
    return c;
}

/* ---- virtio-blk ---- */

#define IMG_SIZE (1u << 20)

static char *make_image(size_t size)
{
    char *path = strdup("/tmp/xeno-devstate-XXXXXX");
    int fd = mkstemp(path);
    uint8_t *buf = malloc(size);

    assert_true(fd >= 0);
    for (size_t i = 0; i < size; i++)
        buf[i] = (uint8_t)(i * 13 + (i >> 9));
    assert_int_equal(write(fd, buf, size), (ssize_t)size);
    close(fd);
    free(buf);
    return path;
}

static VirtioDevice *blk_on(M *m, const char *path, bool ro)
{
    char err[256] = "";
    BlockBackend *bb = block_open(path, "raw", ro, err, sizeof(err));

    if (!bb)
        fail_msg("%s", err);
    return virtio_blk_create(&m->mem, bb, "serial", err, sizeof(err));
}

static void test_blk(void **state)
{
    char *pa = make_image(IMG_SIZE), *pb = make_image(IMG_SIZE), *pc = make_image(2 * IMG_SIZE);
    char *pd = make_image(IMG_SIZE);
    M *a = m_new(), *b = m_new(), *c = m_new(), *d = m_new();
    Saved *sv = malloc(sizeof(*sv));
    TestRing r, rb;
    uint32_t id, len;
    uint8_t *hdr = gp(&a->mem, DATA_GPA, 16);

    m_attach(a, blk_on(a, pa, false));
    m_attach(b, blk_on(b, pb, false));
    m_attach(c, blk_on(c, pc, false));
    m_attach(d, blk_on(d, pd, true));
    drive_ok(a->vd, 0);
    ring_init(&r, &a->mem, a->vd, 0, 16, DESC_GPA, AVAIL_GPA, USED_GPA);
    /* A read of sector 8 posted, its doorbell lost with the old host. */
    st32(hdr, 0);
    st64(hdr + 8, 8);
    set_desc(&r, 0, DATA_GPA, 16, F_NEXT, 1);
    set_desc(&r, 1, DATA_GPA + 0x200, 512, F_WRITE | F_NEXT, 2);
    set_desc(&r, 2, DATA_GPA + 0x400, 1, F_WRITE, 0);
    *gp(&a->mem, DATA_GPA + 0x400, 1) = 0xff;
    avail_add(&r, 0);
    save_section(&a->vs, sv);
    m_restore(b, a, sv);
    rb = ring_on(b, &r);
    assert_int_equal(used_idx(&rb), 0);
    virtio_mmio_restart(b->t);          /* the restored domain starts */
    assert_int_equal(used_idx(&rb), 1);
    used_elem(&rb, 0, &id, &len);
    assert_int_equal(id, 0);
    assert_int_equal(len, 513);
    assert_int_equal(*gp(&b->mem, DATA_GPA + 0x400, 1), 0);
    /* The original, kicked, does exactly the same. */
    a->vd->ops->queue_notify(a->vd, 0);
    assert_memory_equal(gp(&b->mem, RAM_BASE, 0x20000), gp(&a->mem, RAM_BASE, 0x20000), 0x20000);
    assert_int_equal(b->level, 1);

    check_framing(&b->vs, sv);
    /* Another disk than the guest knew. */
    assert_load_fails(&c->vs, sv, "has 4096 sectors, the guest knew 2048");
    assert_load_fails(&d->vs, sv, "is read-only now, the guest knew it writable");
    assert_int_equal(c->vd->status, 0);
    m_free(a);
    m_free(b);
    m_free(c);
    m_free(d);
    for (char **p = (char *[]){ pa, pb, pc, pd, NULL }; *p; p++) {
        unlink(*p);
        free(*p);
    }
    free(sv);
}

/* ---- virtio-net ---- */

#define F_MAC       5
#define F_MRG_RXBUF 15
#define F_STATUS    16

typedef struct FakeNet {
    NetBackend nb;
    uint8_t sent[256], injected[256];
    size_t sent_len, injected_len;
    unsigned nsent, ninjected, resumed;
    int inject_result;
} FakeNet;

static int fn_send(NetBackend *nb, const struct iovec *iov, unsigned n, size_t len)
{
    FakeNet *f = (FakeNet *)nb;

    assert_true(len <= sizeof(f->sent));
    f->sent_len = iov_to_buf(iov, n, 0, f->sent, len);
    f->nsent++;
    return 0;
}

static int fn_inject(NetBackend *nb, const void *frame, size_t len)
{
    FakeNet *f = (FakeNet *)nb;

    assert_true(len <= sizeof(f->injected));
    memcpy(f->injected, frame, len);
    f->injected_len = len;
    f->ninjected++;
    return f->inject_result;
}

static void fn_resume(NetBackend *nb) { ((FakeNet *)nb)->resumed++; }
static void fn_close(NetBackend *nb) { free(nb); }

static const NetBackendOps fake_tap_ops = {
    .name = "fake-tap", .send = fn_send, .rx_resume = fn_resume, .close = fn_close,
    .inject = fn_inject,
};
static const NetBackendOps fake_user_ops = {
    .name = "fake-user", .send = fn_send, .rx_resume = fn_resume, .close = fn_close,
};

static FakeNet *fake_net(const NetBackendOps *ops)
{
    FakeNet *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->nb.ops = ops;
    return f;
}

static const uint8_t mac_a[6] = { 0x00, 0x16, 0x3e, 0x12, 0x34, 0x56 };
static const uint8_t mac_b[6] = { 0x00, 0x16, 0x3e, 0x65, 0x43, 0x21 };

/* What QEMU's announce sends (announce_self_create), for mac_a. */
static const uint8_t rarp_a[60] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x16, 0x3e, 0x12, 0x34, 0x56,
    0x80, 0x35, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x03,
    0x00, 0x16, 0x3e, 0x12, 0x34, 0x56, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x16, 0x3e, 0x12, 0x34, 0x56, 0x00, 0x00, 0x00, 0x00,
};

static void test_rarp_frame(void **state)
{
    uint8_t f[NET_RARP_FRAME_LEN];
    FakeNet *tap = fake_net(&fake_tap_ops), *user = fake_net(&fake_user_ops);

    memset(f, 0xaa, sizeof(f));
    net_rarp_frame(f, mac_a);
    assert_memory_equal(f, rarp_a, sizeof(rarp_a));
    assert_int_equal(net_announce(&tap->nb, mac_a), 1);
    assert_int_equal(tap->injected_len, 60);
    assert_memory_equal(tap->injected, rarp_a, 60);
    tap->inject_result = -1;
    assert_int_equal(net_announce(&tap->nb, mac_a), -1);
    /* Nobody outside to tell: nothing sent, as guest traffic or otherwise. */
    assert_int_equal(net_announce(&user->nb, mac_a), 0);
    assert_int_equal(user->nsent, 0);
    assert_int_equal(net_announce(NULL, mac_a), 0);
    fn_close(&tap->nb);
    fn_close(&user->nb);
}

static VirtioDevice *net_on(M *m, FakeNet *f, const uint8_t *mac)
{
    char err[256] = "";
    VirtioDevice *vd = virtio_net_create(&m->mem, &f->nb, mac, err, sizeof(err));

    if (!vd)
        fail_msg("%s", err);
    return vd;
}

static void test_net(void **state)
{
    M *a = m_new(), *b = m_new(), *u = m_new();
    FakeNet *fa = fake_net(&fake_tap_ops), *fb = fake_net(&fake_tap_ops);
    FakeNet *fu = fake_net(&fake_user_ops);
    Saved *good = malloc(sizeof(*good)), *sv = malloc(sizeof(*sv));
    TestRing rx, tx, rxb;
    uint8_t cfg[8], frame[50];
    uint32_t id, len;

    m_attach(a, net_on(a, fa, mac_a));
    m_attach(b, net_on(b, fb, mac_b));
    m_attach(u, net_on(u, fu, NULL));
    drive_ok(a->vd, (1ull << F_MAC) | (1ull << F_STATUS) | (1ull << F_MRG_RXBUF));
    ring_init(&rx, &a->mem, a->vd, 0, 16, DESC_GPA, AVAIL_GPA, USED_GPA);
    ring_init(&tx, &a->mem, a->vd, 1, 16, DESC1, AVAIL1, USED1);
    /* Two receive buffers, and a frame to send whose kick was lost. */
    set_desc(&rx, 0, DATA_GPA, 1526, F_WRITE, 0);
    set_desc(&rx, 1, DATA_GPA + 0x800, 1526, F_WRITE, 0);
    avail_add(&rx, 0);
    avail_add(&rx, 1);
    for (unsigned i = 0; i < sizeof(frame); i++)
        frame[i] = (uint8_t)(0x40 + i);
    memset(gp(&a->mem, DATA_GPA + 0x1000, 12), 0, 12);
    memcpy(gp(&a->mem, DATA_GPA + 0x100c, sizeof(frame)), frame, sizeof(frame));
    set_desc(&tx, 0, DATA_GPA + 0x1000, 12 + sizeof(frame), 0, 0);
    avail_add(&tx, 0);
    save_section(&a->vs, good);
    m_restore(b, a, good);

    /* The guest's MAC came along (not the one b was made with). */
    b->vd->ops->config_read(b->vd, 0, cfg, 8);
    assert_memory_equal(cfg, mac_a, 6);
    assert_int_equal(ld16(cfg + 6), 1);
    uint8_t mac[6];
    virtio_net_get_mac(b->vd, mac);
    assert_memory_equal(mac, mac_a, 6);
    assert_int_equal(fb->ninjected, 0);         /* nothing before the start */

    virtio_mmio_restart(b->t);
    assert_int_equal(fb->ninjected, 1);         /* the announce, from the guest's MAC */
    assert_memory_equal(fb->injected, rarp_a, 60);
    assert_int_equal(fb->nsent, 1);             /* the pending frame went out */
    assert_memory_equal(fb->sent, frame, sizeof(frame));
    assert_true(fb->resumed >= 1);              /* receive is on */
    /* A frame from the network lands in the guest's first buffer. */
    fb->nb.client.receive(fb->nb.client.opaque, frame, sizeof(frame));
    rxb = ring_on(b, &rx);
    assert_int_equal(used_idx(&rxb), 1);
    used_elem(&rxb, 0, &id, &len);
    assert_int_equal(id, 0);
    assert_int_equal(len, 12 + sizeof(frame));
    assert_memory_equal(gp(&b->mem, DATA_GPA + 12, sizeof(frame)), frame, sizeof(frame));

    /* With user networking there is no one to announce to. */
    memcpy(u->mem.r[0].host, a->mem.r[0].host, RAM_SIZE);
    assert_loads(&u->vs, good);
    virtio_mmio_restart(u->t);
    assert_int_equal(fu->ninjected, 0);
    assert_int_equal(fu->nsent, 1);

    check_framing(&b->vs, good);
    /* The device part: MAC (6 bytes) then link status (u16). */
    size_t dev = good->len - 8;
    assert_memory_equal(good->data + dev, mac_a, 6);
    *sv = *good;
    sv_u8(sv, dev, 0x01);
    assert_load_fails(&b->vs, sv, "multicast MAC 01:16:3e:12:34:56");
    *sv = *good;
    sv_u16(sv, dev + 6, 3);
    assert_load_fails(&b->vs, sv, "link status 0x3");
    m_free(a);
    m_free(b);
    m_free(u);
    free(good);
    free(sv);
}

/* ---- virtio-console: a receive buffer held across the save ---- */

static void *loop_thread(void *l)
{
    loop_run(l);
    return NULL;
}

typedef struct Con {
    M *m;
    pthread_mutex_t lock;
    Loop *loop;
    pthread_t th;
    int p[2];
} Con;

static void con_new(Con *c)
{
    char err[256] = "";

    c->m = m_new();
    pthread_mutex_init(&c->lock, NULL);
    c->loop = loop_new(&c->lock);
    assert_non_null(c->loop);
    assert_int_equal(pipe2(c->p, O_NONBLOCK), 0);
    m_attach(c->m, virtio_console_create(&c->m->mem, c->loop, c->p[0], -1, err, sizeof(err)));
    assert_int_equal(pthread_create(&c->th, NULL, loop_thread, c->loop), 0);
}

static void con_free(Con *c)
{
    loop_quit(c->loop);
    pthread_join(c->th, NULL);
    m_free(c->m);
    loop_free(c->loop);
    close(c->p[0]);
    if (c->p[1] >= 0)
        close(c->p[1]);
}

/* Wait (up to 2 s) for cond under the device lock. */
#define WAIT_FOR(lock, cond) ({                                   \
    bool ok_ = false;                                             \
    for (int i_ = 0; i_ < 200 && !ok_; i_++) {                    \
        pthread_mutex_lock(lock);                                 \
        ok_ = (cond);                                             \
        pthread_mutex_unlock(lock);                               \
        if (!ok_)                                                 \
            usleep(10000);                                        \
    }                                                             \
    ok_; })

static void test_console_held_buffer(void **state)
{
    Con a = { 0 }, b = { 0 };
    Saved *sv = malloc(sizeof(*sv));
    TestRing r, rb;
    uint32_t id, len;

    con_new(&a);
    con_new(&b);
    pthread_mutex_lock(&a.lock);
    drive_ok(a.m->vd, 0);
    ring_init(&r, &a.m->mem, a.m->vd, 0, 16, DESC_GPA, AVAIL_GPA, USED_GPA);
    set_desc(&r, 0, DATA_GPA, 64, F_WRITE, 0);
    avail_add(&r, 0);
    a.m->vd->ops->queue_notify(a.m->vd, 0);
    pthread_mutex_unlock(&a.lock);
    /* The input closes: the device takes the buffer and keeps it. */
    close(a.p[1]);
    a.p[1] = -1;
    assert_true(WAIT_FOR(&a.lock, a.m->vd->vq[0].last_avail == 1));
    pthread_mutex_lock(&a.lock);
    assert_int_equal(used_idx(&r), 0);
    save_section(&a.m->vs, sv);
    pthread_mutex_unlock(&a.lock);

    pthread_mutex_lock(&b.lock);
    m_restore(b.m, a.m, sv);
    assert_int_equal(b.m->vd->vq[0].last_avail, 0);    /* given back */
    virtio_mmio_restart(b.m->t);                       /* input watched again */
    pthread_mutex_unlock(&b.lock);
    assert_int_equal(write(b.p[1], "xyz", 3), 3);
    rb = ring_on(b.m, &r);
    assert_true(WAIT_FOR(&b.lock, used_idx(&rb) == 1));
    used_elem(&rb, 0, &id, &len);
    assert_int_equal(id, 0);
    assert_int_equal(len, 3);
    assert_memory_equal(gp(&b.m->mem, DATA_GPA, 3), "xyz", 3);
    con_free(&a);
    con_free(&b);
    free(sv);
}

/* A console section: nothing of its own, so nothing may follow. */
static void test_console_framing(void **state)
{
    char err[128];
    M *a = m_new(), *b = m_new();
    Saved *sv = malloc(sizeof(*sv));

    m_attach(a, virtio_console_create(&a->mem, NULL, -1, -1, err, sizeof(err)));
    m_attach(b, virtio_console_create(&b->mem, NULL, -1, -1, err, sizeof(err)));
    save_section(&a->vs, sv);
    assert_int_equal(sv->len, 40 + 2 * 34);
    assert_loads(&b->vs, sv);
    check_framing(&b->vs, sv);
    m_free(a);
    m_free(b);
    free(sv);
}

/* ---- virtio-balloon ---- */

static void test_balloon(void **state)
{
    char err[128];
    M *a = m_new(), *b = m_new();
    Saved *good = malloc(sizeof(*good)), *sv = malloc(sizeof(*sv));
    TestRing sr, srb;
    BalloonStats st;
    uint8_t cfg[8], cfgb[8];
    uint32_t id, len;

    m_attach(a, virtio_balloon_create(&a->mem, err, sizeof(err)));
    m_attach(b, virtio_balloon_create(&b->mem, err, sizeof(err)));
    drive_ok(a->vd, 1ull << 1);                  /* STATS_VQ */
    virtio_balloon_set_target(a->vd, RAM_SIZE - 256 * 1024);
    st32(cfg, 48);
    a->vd->ops->config_write(a->vd, 4, cfg, 4);  /* the driver's actual */
    ring_init(&sr, &a->mem, a->vd, 2, 16, DESC_GPA, AVAIL_GPA, USED_GPA);
    uint8_t *s = gp(&a->mem, DATA_GPA, 20);
    st16(s, 4);                                  /* MEMFREE */
    st64(s + 2, 12345);
    st16(s + 10, 5);                             /* MEMTOT */
    st64(s + 12, 99999);
    set_desc(&sr, 0, DATA_GPA, 20, 0, 0);
    avail_add(&sr, 0);
    a->vd->ops->queue_notify(a->vd, 2);
    assert_int_equal(used_idx(&sr), 0);          /* held by the device */
    save_section(&a->vs, good);
    m_restore(b, a, good);

    a->vd->ops->config_read(a->vd, 0, cfg, 8);
    b->vd->ops->config_read(b->vd, 0, cfgb, 8);
    assert_memory_equal(cfgb, cfg, 8);
    assert_int_equal(ld32(cfgb), 64);
    assert_int_equal(virtio_balloon_get_actual(b->vd), 48 * 4096);
    assert_true(b->vd->isr & 2);                 /* the config change still pending */
    assert_int_equal(b->level, 1);
    /* The last stats came along; the held buffer is popped again at the
     * restart, and asking for stats hands it back as before. */
    virtio_mmio_restart(b->t);
    assert_int_equal(virtio_balloon_get_stats(b->vd, &st), 0);
    assert_int_equal(st.free_memory, 12345);
    assert_int_equal(st.total_memory, 99999);
    srb = ring_on(b, &sr);
    assert_int_equal(used_idx(&srb), 1);
    used_elem(&srb, 0, &id, &len);
    assert_int_equal(id, 0);
    assert_int_equal(virtio_balloon_get_stats(a->vd, &st), 0);
    assert_int_equal(used_idx(&sr), 1);

    check_framing(&b->vs, good);
    /* Device part: num_pages, actual, 8 stats, valid. */
    size_t dev = good->len - (4 + 4 + 64 + 1);
    assert_int_equal(ld32(good->data + dev), 64);
    *sv = *good;
    sv_u32(sv, dev, RAM_SIZE / 4096 + 1);
    assert_load_fails(&b->vs, sv, "more than guest RAM");
    *sv = *good;
    sv_u8(sv, good->len - 1, 2);
    assert_load_fails(&b->vs, sv, "malformed");
    m_free(a);
    m_free(b);
    free(good);
    free(sv);
}

/* ---- virtio-rng, and a section for another device ---- */

static void test_rng(void **state)
{
    char err[128];
    M *a = m_new(), *b = m_new(), *c = m_new();
    Saved *sv = malloc(sizeof(*sv));
    TestRing r, rb;
    uint32_t id, len;

    m_attach(a, virtio_rng_create(&a->mem, err, sizeof(err)));
    m_attach(b, virtio_rng_create(&b->mem, err, sizeof(err)));
    m_attach(c, virtio_balloon_create(&c->mem, err, sizeof(err)));
    drive_ok(a->vd, 1ull << VIRTIO_F_RING_EVENT_IDX);
    ring_init(&r, &a->mem, a->vd, 0, 16, DESC_GPA, AVAIL_GPA, USED_GPA);
    set_desc(&r, 0, DATA_GPA, 32, F_WRITE, 0);
    set_desc(&r, 1, DATA_GPA + 32, 16, F_WRITE, 0);
    avail_add(&r, 0);
    a->vd->ops->queue_notify(a->vd, 0);
    avail_add(&r, 1);                            /* not kicked */
    save_section(&a->vs, sv);
    m_restore(b, a, sv);
    virtio_mmio_restart(b->t);
    rb = ring_on(b, &r);
    assert_int_equal(used_idx(&rb), 2);
    used_elem(&rb, 1, &id, &len);
    assert_int_equal(id, 1);
    assert_int_equal(len, 16);
    assert_int_equal(avail_event(&rb), 2);
    check_framing(&b->vs, sv);
    assert_load_fails(&c->vs, sv, "saved from virtio device type 4, this slot holds a virtio-balloon (5)");
    m_free(a);
    m_free(b);
    m_free(c);
    free(sv);
}

int main(void)
{
    log_set_level(LOG_ERR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blk),
        cmocka_unit_test(test_rarp_frame),
        cmocka_unit_test(test_net),
        cmocka_unit_test(test_console_held_buffer),
        cmocka_unit_test(test_console_framing),
        cmocka_unit_test(test_balloon),
        cmocka_unit_test(test_rng),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
