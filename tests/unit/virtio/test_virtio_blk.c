/* virtio-blk on a temporary raw image: the request types, error statuses,
 * read-only disks and malformed requests. */
#include "vqtest.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/loop.h"
#include "common/util.h"
#include "hw/virtio/devices.h"

#define DISK_SIZE (1u << 20)          /* 2048 sectors */
#define HDR_GPA   (DATA_GPA)
#define BUF_GPA   (DATA_GPA + 0x1000)
#define STAT_GPA  (DATA_GPA + 0x100)

enum { T_IN = 0, T_OUT = 1, T_FLUSH = 4, T_GET_ID = 8, T_DISCARD = 11 };

typedef struct Fixture {
    GuestMem mem;
    char path[64];
    VirtioDevice *vd;
    TestRing r;
    int fd;
} Fixture;

static VirtioDevice *make_blk(Fixture *f, bool ro)
{
    char err[256];
    BlockBackend *bb = block_open(f->path, NULL, ro, err, sizeof(err));
    VirtioDevice *vd;

    assert_non_null(bb);
    vd = virtio_blk_create(&f->mem, bb, "XENO-SERIAL-1", err, sizeof(err));
    assert_non_null(vd);
    drive_ok(vd, 0);
    ring_init(&f->r, &f->mem, vd, 0, 16, DESC_GPA, AVAIL_GPA, USED_GPA);
    return vd;
}

static int setup(void **state)
{
    Fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    assert_int_equal(gmem_add_ram(&f->mem, RAM_BASE, RAM_SIZE), 0);
    snprintf(f->path, sizeof(f->path), "/tmp/xeno-blk-XXXXXX");
    f->fd = mkstemp(f->path);
    assert_true(f->fd >= 0);
    assert_int_equal(ftruncate(f->fd, DISK_SIZE), 0);
    f->vd = make_blk(f, false);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fixture *f = *state;
    virtio_device_destroy(f->vd);
    close(f->fd);
    unlink(f->path);
    gmem_free(&f->mem);
    free(f);
    return 0;
}

/* Submit header + optional data + status; returns the status byte, or -1
 * if the request was not completed. *used_len gets the used length. */
static int submit(Fixture *f, uint32_t type, uint64_t sector, uint32_t data_len,
                  bool data_writable, uint32_t *used_len)
{
    uint8_t *hdr = gp(&f->mem, HDR_GPA, 16);
    uint16_t before = used_idx(&f->r);
    uint32_t id, len;
    unsigned i = 0;

    st32(hdr, type);
    st32(hdr + 4, 0);
    st64(hdr + 8, sector);
    *gp(&f->mem, STAT_GPA, 1) = 0xee;
    set_desc(&f->r, i, HDR_GPA, 16, F_NEXT, i + 1);
    i++;
    if (data_len) {
        set_desc(&f->r, i, BUF_GPA, data_len, F_NEXT | (data_writable ? F_WRITE : 0), i + 1);
        i++;
    }
    set_desc(&f->r, i, STAT_GPA, 1, F_WRITE, 0);
    avail_add(&f->r, 0);
    f->vd->ops->queue_notify(f->vd, 0);
    if (used_idx(&f->r) == before)
        return -1;
    used_elem(&f->r, before, &id, &len);
    assert_int_equal(id, 0);
    if (used_len)
        *used_len = len;
    return *gp(&f->mem, STAT_GPA, 1);
}

static void test_config(void **state)
{
    Fixture *f = *state;
    uint8_t cfg[0x30];

    f->vd->ops->config_read(f->vd, 0, cfg, sizeof(cfg));
    assert_int_equal(ld64(cfg), DISK_SIZE / 512);
    assert_int_equal(ld32(cfg + 0x14), 512);
    assert_true(ld32(cfg + 0x0c) >= 1);
    assert_true(ld32(cfg + 0x28) >= 1);
    uint64_t feat = f->vd->ops->get_features(f->vd);
    assert_true(feat & (1ull << 9));      /* FLUSH */
    assert_true(feat & (1ull << 13));     /* DISCARD */
    assert_false(feat & (1ull << 5));     /* not RO */
}

static void test_write_read(void **state)
{
    Fixture *f = *state;
    uint8_t *buf = gp(&f->mem, BUF_GPA, 1024), disk[1024];
    uint32_t len;

    for (int i = 0; i < 1024; i++)
        buf[i] = (uint8_t)(i * 7);
    assert_int_equal(submit(f, T_OUT, 10, 1024, false, &len), 0);
    assert_int_equal(len, 1);
    assert_int_equal(pread(f->fd, disk, sizeof(disk), 10 * 512), 1024);
    assert_memory_equal(disk, buf, 1024);

    memset(buf, 0, 1024);
    assert_int_equal(submit(f, T_IN, 10, 1024, true, &len), 0);
    assert_int_equal(len, 1025);
    assert_memory_equal(disk, buf, 1024);

    /* The last sector is readable, one past is not. */
    assert_int_equal(submit(f, T_IN, DISK_SIZE / 512 - 1, 512, true, &len), 0);
    assert_int_equal(submit(f, T_IN, DISK_SIZE / 512 - 1, 1024, true, &len), 1);
    assert_int_equal(len, 1);
    assert_int_equal(submit(f, T_OUT, DISK_SIZE / 512, 512, false, &len), 1);
    assert_int_equal(submit(f, T_IN, UINT64_MAX, 512, true, &len), 1);
    /* Lengths must be whole sectors. */
    assert_int_equal(submit(f, T_IN, 0, 100, true, &len), 1);
    assert_false(f->vd->status & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_flush_getid_unsupp(void **state)
{
    Fixture *f = *state;
    uint32_t len;

    assert_int_equal(submit(f, T_FLUSH, 0, 0, false, &len), 0);
    assert_int_equal(submit(f, T_GET_ID, 0, 20, true, &len), 0);
    assert_int_equal(len, 21);
    assert_memory_equal(gp(&f->mem, BUF_GPA, 20), "XENO-SERIAL-1\0\0\0\0\0\0\0", 20);
    assert_int_equal(submit(f, 99, 0, 0, false, &len), 2);
}

static void test_discard(void **state)
{
    Fixture *f = *state;
    uint8_t *seg = gp(&f->mem, BUF_GPA, 32), disk[4096], ones[4096];
    uint32_t len;

    memset(ones, 0xff, sizeof(ones));
    assert_int_equal(pwrite(f->fd, ones, sizeof(ones), 8 * 512), 4096);
    st64(seg, 8);
    st32(seg + 8, 8);
    st32(seg + 12, 0);
    assert_int_equal(submit(f, T_DISCARD, 0, 16, false, &len), 0);
    assert_int_equal(pread(f->fd, disk, sizeof(disk), 8 * 512), 4096);
    /* tmpfs and ext4 punch holes; a file system that cannot keeps data. */
    assert_true(disk[0] == 0 || disk[0] == 0xff);
    /* Out of range and bad flags. */
    st64(seg, DISK_SIZE / 512 - 4);
    assert_int_equal(submit(f, T_DISCARD, 0, 16, false, &len), 1);
    st64(seg, 0);
    st32(seg + 12, 2);
    assert_int_equal(submit(f, T_DISCARD, 0, 16, false, &len), 2);
    /* Not a whole number of segments. */
    assert_int_equal(submit(f, T_DISCARD, 0, 10, false, &len), 1);
}

static void test_read_only(void **state)
{
    Fixture *f = *state;
    uint32_t len;

    virtio_device_destroy(f->vd);
    f->vd = make_blk(f, true);
    assert_true(f->vd->ops->get_features(f->vd) & (1ull << 5));
    assert_int_equal(submit(f, T_OUT, 0, 512, false, &len), 1);
    assert_int_equal(submit(f, T_IN, 0, 512, true, &len), 0);
    assert_int_equal(submit(f, T_FLUSH, 0, 0, false, &len), 0);
}

static void test_malformed(void **state)
{
    Fixture *f = *state;

    /* Header only 8 bytes. */
    set_desc(&f->r, 0, HDR_GPA, 8, F_NEXT, 1);
    set_desc(&f->r, 1, STAT_GPA, 1, F_WRITE, 0);
    avail_add(&f->r, 0);
    f->vd->ops->queue_notify(f->vd, 0);
    assert_true(f->vd->status & VIRTIO_STATUS_NEEDS_RESET);

    /* After a reset, a request without a status byte. */
    virtio_reset(f->vd);
    drive_ok(f->vd, 0);
    ring_init(&f->r, &f->mem, f->vd, 0, 16, DESC_GPA, AVAIL_GPA, USED_GPA);
    uint32_t len;
    assert_int_equal(submit(f, T_FLUSH, 0, 0, false, &len), 0);
    set_desc(&f->r, 0, HDR_GPA, 16, 0, 0);
    avail_add(&f->r, 0);
    f->vd->ops->queue_notify(f->vd, 0);
    assert_true(f->vd->status & VIRTIO_STATUS_NEEDS_RESET);
}

/* I/O limits: a request over the limit stays in the ring and is served
 * from the event loop when the bucket allows, with the loop asleep in
 * between (no busy waiting); a symlinked, FIFO or device path is refused
 * before it is opened. */
static void *loop_main(void *arg)
{
    loop_run(arg);
    return NULL;
}

static uint64_t cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void test_iops_limit(void **state)
{
    Fixture *f = *state;
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    Loop *loop = loop_new(&lock);
    char err[256];
    pthread_t t;
    uint64_t t0, c0, waited;
    uint16_t before;

    assert_non_null(loop);
    /* 2 requests a second, one at a time */
    pthread_mutex_lock(&lock);
    assert_int_equal(virtio_blk_set_limits(f->vd, loop, 0, 0, 2, 1, err, sizeof(err)), 0);
    pthread_mutex_unlock(&lock);
    assert_int_equal(pthread_create(&t, NULL, loop_main, loop), 0);

    pthread_mutex_lock(&lock);
    assert_int_equal(submit(f, T_FLUSH, 0, 0, false, NULL), 0);     /* the burst */
    before = used_idx(&f->r);
    assert_int_equal(submit(f, T_FLUSH, 0, 0, false, NULL), -1);    /* held */
    pthread_mutex_unlock(&lock);
    t0 = clock_ns();
    c0 = cpu_ns();
    for (;;) {
        pthread_mutex_lock(&lock);
        uint16_t now = used_idx(&f->r);
        pthread_mutex_unlock(&lock);
        if (now != before)
            break;
        assert_true(clock_ns() - t0 < 5000000000ull);
        usleep(20000);
    }
    waited = clock_ns() - t0;
    /* half a second per request; the loop slept meanwhile */
    assert_true(waited >= 300000000ull);
    assert_true(cpu_ns() - c0 < waited / 4);
    assert_int_equal(*gp(&f->mem, STAT_GPA, 1), 0);

    loop_quit(loop);
    pthread_join(t, NULL);
    pthread_mutex_lock(&lock);
    assert_int_equal(virtio_blk_set_limits(f->vd, NULL, 0, 0, 0, 0, err, sizeof(err)), 0);
    pthread_mutex_unlock(&lock);
    loop_free(loop);
    /* no limit: straight through */
    assert_int_equal(submit(f, T_FLUSH, 0, 0, false, NULL), 0);
    assert_int_equal(submit(f, T_FLUSH, 0, 0, false, NULL), 0);
}

static void test_open_checks(void **state)
{
    char dir[] = "/tmp/xeno-blk-dir-XXXXXX", p[128], link[128], err[256];
    BlockBackend *bb;

    assert_non_null(mkdtemp(dir));
    snprintf(p, sizeof(p), "%s/fifo", dir);
    assert_int_equal(mkfifo(p, 0600), 0);
    assert_null(block_open(p, "raw", false, err, sizeof(err)));     /* does not block */
    assert_non_null(strstr(err, "fifo: a FIFO, not a regular file or block device"));
    unlink(p);
    assert_null(block_open("/dev/null", "raw", false, err, sizeof(err)));
    assert_string_equal(err, "/dev/null: a character device, not a regular file or block device");
    snprintf(p, sizeof(p), "%s/img", dir);
    close(open(p, O_WRONLY | O_CREAT, 0600));
    assert_int_equal(truncate(p, 4096), 0);
    snprintf(link, sizeof(link), "%s/link", dir);
    assert_int_equal(symlink("img", link), 0);
    assert_null(block_open(link, "raw", true, err, sizeof(err)));
    assert_non_null(strstr(err, "link: a symbolic link is on the path"));
    bb = block_open(p, "raw", true, err, sizeof(err));
    assert_non_null(bb);
    block_close(bb);
    unlink(link);
    unlink(p);
    rmdir(dir);
}

/* What the board reports when a disk cannot be opened: one line from the
 * backend; and no device without a backend. */
static void test_open_errors(void **state)
{
    Fixture *f = *state;
    char err[256];

    assert_null(block_open("/nonexistent/disk.img", "", false, err, sizeof(err)));
    assert_string_equal(err, "/nonexistent/disk.img: No such file or directory");
    assert_null(block_open("/tmp", "raw", true, err, sizeof(err)));
    assert_string_equal(err, "/tmp: a directory, not a regular file or block device");
    assert_null(block_open(f->path, "qcow2", false, err, sizeof(err)));
    assert_non_null(strstr(err, "unsupported disk format"));
    assert_null(virtio_blk_create(&f->mem, NULL, "x", err, sizeof(err)));
    assert_non_null(strstr(err, "no disk backend"));
}

int main(void)
{
    log_set_level(LOG_ERR);
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_config),
        T(test_write_read),
        T(test_flush_getid_unsupp),
        T(test_discard),
        T(test_read_only),
        T(test_malformed),
        T(test_open_errors),
        T(test_iops_limit),
        T(test_open_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
