/* virtio-rng, virtio-console and virtio-balloon. */
#include "vqtest.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/log.h"
#include "common/loop.h"
#include "hw/virtio/devices.h"

#define RX_DESC  (RAM_BASE + 0x4000)
#define RX_AVAIL (RAM_BASE + 0x5000)
#define RX_USED  (RAM_BASE + 0x6000)

typedef struct Fixture {
    GuestMem mem;
    TestRing r;
} Fixture;

static int setup(void **state)
{
    Fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    assert_int_equal(gmem_add_ram(&f->mem, RAM_BASE, RAM_SIZE), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fixture *f = *state;
    gmem_free(&f->mem);
    free(f);
    return 0;
}

static void test_rng(void **state)
{
    Fixture *f = *state;
    char err[128];
    VirtioDevice *vd = virtio_rng_create(&f->mem, err, sizeof(err));
    uint32_t id, len;
    uint8_t zero[64] = { 0 };

    assert_non_null(vd);
    drive_ok(vd, 0);
    ring_init(&f->r, &f->mem, vd, 0, 16, DESC_GPA, AVAIL_GPA, USED_GPA);
    set_desc(&f->r, 0, DATA_GPA, 64, F_WRITE | F_NEXT, 1);
    set_desc(&f->r, 1, DATA_GPA + 64, 64, F_WRITE, 0);
    avail_add(&f->r, 0);
    vd->ops->queue_notify(vd, 0);
    assert_int_equal(used_idx(&f->r), 1);
    used_elem(&f->r, 0, &id, &len);
    assert_int_equal(len, 128);
    assert_memory_not_equal(gp(&f->mem, DATA_GPA, 64), zero, 64);
    assert_memory_not_equal(gp(&f->mem, DATA_GPA + 64, 64), zero, 64);
    assert_true(vd->isr & 1);
    virtio_device_destroy(vd);
}

static void test_console_tx(void **state)
{
    Fixture *f = *state;
    char err[128], out[16] = { 0 };
    int p[2];

    assert_int_equal(pipe(p), 0);
    VirtioDevice *vd = virtio_console_create(&f->mem, NULL, -1, p[1], err, sizeof(err));
    assert_non_null(vd);
    assert_int_equal(vd->ops->device_id, VIRTIO_ID_CONSOLE);
    drive_ok(vd, 0);
    ring_init(&f->r, &f->mem, vd, 1, 16, DESC_GPA, AVAIL_GPA, USED_GPA);
    memcpy(gp(&f->mem, DATA_GPA, 11), "hello world", 11);
    set_desc(&f->r, 0, DATA_GPA, 6, F_NEXT, 1);
    set_desc(&f->r, 1, DATA_GPA + 6, 5, 0, 0);
    avail_add(&f->r, 0);
    vd->ops->queue_notify(vd, 1);
    assert_int_equal(used_idx(&f->r), 1);
    assert_int_equal(read(p[0], out, sizeof(out)), 11);
    assert_string_equal(out, "hello world");
    /* Input without a loop is refused. */
    assert_null(virtio_console_create(&f->mem, NULL, p[0], -1, err, sizeof(err)));
    virtio_device_destroy(vd);
    close(p[0]);
    close(p[1]);
}

static void *loop_thread(void *l)
{
    loop_run(l);
    return NULL;
}

/* Wait (up to 2 s) until the rx used index reaches want. */
static bool wait_used(pthread_mutex_t *lock, TestRing *r, uint16_t want)
{
    for (int i = 0; i < 200; i++) {
        pthread_mutex_lock(lock);
        uint16_t u = used_idx(r);
        pthread_mutex_unlock(lock);
        if (u == want)
            return true;
        usleep(10000);
    }
    return false;
}

static void test_console_rx(void **state)
{
    Fixture *f = *state;
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    Loop *loop = loop_new(&lock);
    pthread_t th;
    char err[128];
    uint32_t id, len;
    int p[2];

    assert_non_null(loop);
    assert_int_equal(pipe(p), 0);
    VirtioDevice *vd = virtio_console_create(&f->mem, loop, p[0], -1, err, sizeof(err));
    assert_non_null(vd);
    assert_int_equal(pthread_create(&th, NULL, loop_thread, loop), 0);

    pthread_mutex_lock(&lock);
    drive_ok(vd, 0);
    ring_init(&f->r, &f->mem, vd, 0, 16, RX_DESC, RX_AVAIL, RX_USED);
    set_desc(&f->r, 0, DATA_GPA, 4, F_WRITE, 0);
    set_desc(&f->r, 1, DATA_GPA + 16, 64, F_WRITE, 0);
    avail_add(&f->r, 0);
    vd->ops->queue_notify(vd, 0);
    pthread_mutex_unlock(&lock);

    assert_int_equal(write(p[1], "abcdefgh", 8), 8);
    /* 4 bytes fill the first buffer; the rest waits for another buffer. */
    assert_true(wait_used(&lock, &f->r, 1));
    used_elem(&f->r, 0, &id, &len);
    assert_int_equal(len, 4);
    assert_memory_equal(gp(&f->mem, DATA_GPA, 4), "abcd", 4);
    usleep(50000);
    pthread_mutex_lock(&lock);
    assert_int_equal(used_idx(&f->r), 1);
    avail_add(&f->r, 1);
    vd->ops->queue_notify(vd, 0);
    pthread_mutex_unlock(&lock);
    assert_true(wait_used(&lock, &f->r, 2));
    used_elem(&f->r, 1, &id, &len);
    assert_int_equal(id, 1);
    assert_int_equal(len, 4);
    assert_memory_equal(gp(&f->mem, DATA_GPA + 16, 4), "efgh", 4);

    loop_quit(loop);
    pthread_join(th, NULL);
    virtio_device_destroy(vd);
    loop_free(loop);
    close(p[0]);
    close(p[1]);
}

static void test_balloon(void **state)
{
    Fixture *f = *state;
    char err[128];
    VirtioDevice *vd = virtio_balloon_create(&f->mem, err, sizeof(err));
    uint8_t cfg[8];
    BalloonStats st;
    uint64_t page_gpa = RAM_BASE + 0x80000;

    assert_non_null(vd);
    drive_ok(vd, 1ull << 1);     /* STATS_VQ */

    /* Target: 256 KiB less than the 1 MiB of RAM = 64 pages. */
    virtio_balloon_set_target(vd, RAM_SIZE - 256 * 1024);
    assert_true(vd->isr & 2);
    vd->ops->config_read(vd, 0, cfg, 8);
    assert_int_equal(ld32(cfg), 64);
    assert_int_equal(ld32(cfg + 4), 0);
    virtio_balloon_set_target(vd, 1ull << 40);
    vd->ops->config_read(vd, 0, cfg, 4);
    assert_int_equal(ld32(cfg), 0);

    /* Inflate one page: its contents are dropped. */
    memset(gp(&f->mem, page_gpa, 4096), 0x5a, 4096);
    ring_init(&f->r, &f->mem, vd, 0, 16, DESC_GPA, AVAIL_GPA, USED_GPA);
    st32(gp(&f->mem, DATA_GPA, 4), (uint32_t)(page_gpa >> 12));
    set_desc(&f->r, 0, DATA_GPA, 4, 0, 0);
    avail_add(&f->r, 0);
    vd->ops->queue_notify(vd, 0);
    assert_int_equal(used_idx(&f->r), 1);
    assert_int_equal(*gp(&f->mem, page_gpa, 1), 0);
    st32(cfg, 1);
    vd->ops->config_write(vd, 4, cfg, 4);
    assert_int_equal(virtio_balloon_get_actual(vd), 4096);

    /* Stats: no report yet; then the guest posts one. */
    assert_int_equal(virtio_balloon_get_stats(vd, &st), -1);
    assert_false(st.valid);
    TestRing sr;
    ring_init(&sr, &f->mem, vd, 2, 16, RX_DESC, RX_AVAIL, RX_USED);
    uint8_t *s = gp(&f->mem, DATA_GPA + 0x100, 20);
    st16(s, 4);                          /* MEMFREE */
    st64(s + 2, 12345);
    st16(s + 10, 5);                     /* MEMTOT */
    st64(s + 12, 99999);
    set_desc(&sr, 0, DATA_GPA + 0x100, 20, 0, 0);
    avail_add(&sr, 0);
    vd->ops->queue_notify(vd, 2);
    assert_int_equal(used_idx(&sr), 0);  /* held by the device */
    assert_int_equal(virtio_balloon_get_stats(vd, &st), 0);
    assert_int_equal(st.free_memory, 12345);
    assert_int_equal(st.total_memory, 99999);
    assert_int_equal(used_idx(&sr), 1);  /* handed back: asks for more */

    /* A PFN outside RAM breaks the device. */
    st32(gp(&f->mem, DATA_GPA, 4), 0x10);
    avail_add(&f->r, 0);
    vd->ops->queue_notify(vd, 1 - 1);
    assert_true(vd->status & VIRTIO_STATUS_NEEDS_RESET);
    virtio_reset(vd);
    assert_int_equal(virtio_balloon_get_actual(vd), 0);
    virtio_device_destroy(vd);
}

int main(void)
{
    log_set_level(LOG_ERR);
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_rng),
        T(test_console_tx),
        T(test_console_rx),
        T(test_balloon),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
