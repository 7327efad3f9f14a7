/* Split virtqueue: chains, indirect tables, event index, and everything a
 * hostile driver can do wrong. */
#include "vqtest.h"

#include <stdlib.h>

#include "common/log.h"

typedef struct Fixture {
    GuestMem mem;
    VirtioDevice vd;
    TestRing r;
    VirtqElem e;
    int irqs;            /* update_irq calls with isr bit 0 */
    int resets;
} Fixture;

static void fake_update_irq(VirtioDevice *vd)
{
    Fixture *f = vd->priv;
    if (vd->isr & 1)
        f->irqs++;
}

static void fake_reset(VirtioDevice *vd)
{
    Fixture *f = vd->priv;
    f->resets++;
}

static const VirtioDeviceOps fake_ops = {
    .name = "virtio-test",
    .device_id = 99,
    .reset = fake_reset,
};

static int setup(void **state)
{
    Fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    assert_int_equal(gmem_add_ram(&f->mem, RAM_BASE, RAM_SIZE), 0);
    virtio_init(&f->vd, &fake_ops, f, &f->mem, 2, 16);
    f->vd.update_irq = fake_update_irq;
    drive_ok(&f->vd, 0);
    ring_init(&f->r, &f->mem, &f->vd, 0, 16, DESC_GPA, AVAIL_GPA, USED_GPA);
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

static bool broken(Fixture *f)
{
    return f->vd.status & VIRTIO_STATUS_NEEDS_RESET;
}

static void expect_broken(Fixture *f)
{
    assert_int_equal(virtq_pop(&f->vd, 0, &f->e), -1);
    assert_true(broken(f));
    assert_true(f->vd.isr & 2);
    /* Afterwards the queue yields nothing until reset. */
    assert_int_equal(virtq_pop(&f->vd, 0, &f->e), 0);
    assert_false(virtq_has_work(&f->vd, 0));
}

static void test_empty(void **state)
{
    Fixture *f = *state;

    assert_false(virtq_has_work(&f->vd, 0));
    assert_int_equal(virtq_pop(&f->vd, 0, &f->e), 0);
    assert_int_equal(virtq_pop(&f->vd, 1, &f->e), 0);   /* not ready */
    assert_int_equal(virtq_pop(&f->vd, 7, &f->e), 0);   /* no such queue */
    assert_false(broken(f));
}

static void test_normal_chain(void **state)
{
    Fixture *f = *state;
    uint32_t id, len;

    set_desc(&f->r, 3, DATA_GPA, 16, F_NEXT, 5);
    set_desc(&f->r, 5, DATA_GPA + 100, 8, F_NEXT, 1);
    set_desc(&f->r, 1, DATA_GPA + 200, 512, F_WRITE, 0);
    memcpy(gp(&f->mem, DATA_GPA, 16), "0123456789abcdef", 16);
    avail_add(&f->r, 3);

    assert_true(virtq_has_work(&f->vd, 0));
    assert_int_equal(virtq_pop(&f->vd, 0, &f->e), 1);
    assert_int_equal(f->e.head, 3);
    assert_int_equal(f->e.n_out, 2);
    assert_int_equal(f->e.n_in, 1);
    assert_int_equal(f->e.out_len, 24);
    assert_int_equal(f->e.in_len, 512);
    assert_int_equal(f->e.in_gpa[0], DATA_GPA + 200);
    assert_memory_equal(f->e.out[0].iov_base, "0123456789abcdef", 16);
    assert_ptr_equal(f->e.in[0].iov_base, gp(&f->mem, DATA_GPA + 200, 1));

    virtq_push(&f->vd, 0, &f->e, 100);
    assert_int_equal(used_idx(&f->r), 1);
    used_elem(&f->r, 0, &id, &len);
    assert_int_equal(id, 3);
    assert_int_equal(len, 100);
    /* len is clamped to what the driver offered. */
    avail_add(&f->r, 3);
    assert_int_equal(virtq_pop(&f->vd, 0, &f->e), 1);
    virtq_push(&f->vd, 0, &f->e, 100000);
    used_elem(&f->r, 1, &id, &len);
    assert_int_equal(len, 512);

    virtq_notify(&f->vd, 0);
    assert_true(f->vd.isr & 1);
    assert_int_equal(f->irqs, 1);
    assert_int_equal(virtq_pop(&f->vd, 0, &f->e), 0);
    assert_false(broken(f));
}

static void test_ring_wraps(void **state)
{
    Fixture *f = *state;

    set_desc(&f->r, 0, DATA_GPA, 4, 0, 0);
    for (int i = 0; i < 40; i++) {
        avail_add(&f->r, 0);
        assert_int_equal(virtq_pop(&f->vd, 0, &f->e), 1);
        virtq_push(&f->vd, 0, &f->e, 0);
    }
    assert_int_equal(used_idx(&f->r), 40);
    /* A full ring (num entries outstanding) is legal. */
    for (int i = 0; i < 16; i++)
        avail_add(&f->r, 0);
    for (int i = 0; i < 16; i++)
        assert_int_equal(virtq_pop(&f->vd, 0, &f->e), 1);
    assert_false(broken(f));
}

static void test_indirect(void **state)
{
    Fixture *f = *state;
    uint64_t table = DATA_GPA + 0x8000;

    f->vd.driver_features |= 1ull << VIRTIO_F_RING_INDIRECT_DESC;
    put_desc(&f->mem, table, 0, DATA_GPA, 16, F_NEXT, 2);
    put_desc(&f->mem, table, 2, DATA_GPA + 0x100, 64, F_NEXT | F_WRITE, 1);
    put_desc(&f->mem, table, 1, DATA_GPA + 0x200, 1, F_WRITE, 0);
    set_desc(&f->r, 0, table, 3 * 16, F_INDIRECT, 0);
    avail_add(&f->r, 0);

    assert_int_equal(virtq_pop(&f->vd, 0, &f->e), 1);
    assert_int_equal(f->e.head, 0);
    assert_int_equal(f->e.n_out, 1);
    assert_int_equal(f->e.n_in, 2);
    assert_int_equal(f->e.in_len, 65);
    assert_false(broken(f));
}

static void test_indirect_not_negotiated(void **state)
{
    Fixture *f = *state;

    put_desc(&f->mem, DATA_GPA, 0, DATA_GPA + 0x1000, 16, 0, 0);
    set_desc(&f->r, 0, DATA_GPA, 16, F_INDIRECT, 0);
    avail_add(&f->r, 0);
    expect_broken(f);
}

static void test_nested_indirect(void **state)
{
    Fixture *f = *state;

    f->vd.driver_features |= 1ull << VIRTIO_F_RING_INDIRECT_DESC;
    put_desc(&f->mem, DATA_GPA, 0, DATA_GPA + 0x100, 32, F_INDIRECT, 0);
    set_desc(&f->r, 0, DATA_GPA, 16, F_INDIRECT, 0);
    avail_add(&f->r, 0);
    expect_broken(f);
}

static void test_indirect_bad_len(void **state)
{
    Fixture *f = *state;

    f->vd.driver_features |= 1ull << VIRTIO_F_RING_INDIRECT_DESC;
    set_desc(&f->r, 0, DATA_GPA, 24, F_INDIRECT, 0);
    avail_add(&f->r, 0);
    expect_broken(f);
}

static void test_indirect_outside_ram(void **state)
{
    Fixture *f = *state;

    f->vd.driver_features |= 1ull << VIRTIO_F_RING_INDIRECT_DESC;
    set_desc(&f->r, 0, RAM_BASE + RAM_SIZE - 16, 32, F_INDIRECT, 0);
    avail_add(&f->r, 0);
    expect_broken(f);
}

static void test_indirect_loop(void **state)
{
    Fixture *f = *state;

    f->vd.driver_features |= 1ull << VIRTIO_F_RING_INDIRECT_DESC;
    put_desc(&f->mem, DATA_GPA, 0, DATA_GPA + 0x100, 4, F_NEXT, 1);
    put_desc(&f->mem, DATA_GPA, 1, DATA_GPA + 0x100, 4, F_NEXT, 0);
    set_desc(&f->r, 0, DATA_GPA, 32, F_INDIRECT, 0);
    avail_add(&f->r, 0);
    expect_broken(f);
}

static void test_desc_loop(void **state)
{
    Fixture *f = *state;

    set_desc(&f->r, 0, DATA_GPA, 4, F_NEXT, 1);
    set_desc(&f->r, 1, DATA_GPA, 4, F_NEXT, 0);
    avail_add(&f->r, 0);
    expect_broken(f);
}

static void test_self_loop(void **state)
{
    Fixture *f = *state;

    set_desc(&f->r, 4, DATA_GPA, 4, F_NEXT, 4);
    avail_add(&f->r, 4);
    expect_broken(f);
}

static void test_next_out_of_range(void **state)
{
    Fixture *f = *state;

    set_desc(&f->r, 0, DATA_GPA, 4, F_NEXT, 16);
    avail_add(&f->r, 0);
    expect_broken(f);
}

static void test_head_out_of_range(void **state)
{
    Fixture *f = *state;

    avail_add(&f->r, 16);
    expect_broken(f);
}

static void test_avail_jump(void **state)
{
    Fixture *f = *state;

    set_desc(&f->r, 0, DATA_GPA, 4, 0, 0);
    avail_set_idx(&f->r, 17);
    expect_broken(f);
}

static void test_buffer_below_ram(void **state)
{
    Fixture *f = *state;

    set_desc(&f->r, 0, 0x1000, 16, 0, 0);
    avail_add(&f->r, 0);
    expect_broken(f);
}

static void test_buffer_wraparound(void **state)
{
    Fixture *f = *state;

    /* addr + len wraps past 2^64 back into RAM. */
    set_desc(&f->r, 0, 0xfffffffffffff000ull, (uint32_t)(0x1000 + RAM_BASE + 0x100), F_WRITE, 0);
    avail_add(&f->r, 0);
    expect_broken(f);
}

static void test_buffer_crosses_end(void **state)
{
    Fixture *f = *state;

    set_desc(&f->r, 0, RAM_BASE + RAM_SIZE - 8, 16, F_WRITE, 0);
    avail_add(&f->r, 0);
    expect_broken(f);
}

static void test_huge_length(void **state)
{
    Fixture *f = *state;

    set_desc(&f->r, 0, DATA_GPA, 0xffffffffu, 0, 0);
    avail_add(&f->r, 0);
    expect_broken(f);
}

static void test_total_length_overflow(void **state)
{
    Fixture *f = *state;
    const uint64_t big = 0x100000000ull, big_size = 8ull << 20;
    uint64_t table = DATA_GPA;

    /* 1024 overlapping 8 MiB buffers: 8 GiB in all, more than used.len. */
    assert_int_equal(gmem_add_ram(&f->mem, big, big_size), 0);
    f->vd.driver_features |= 1ull << VIRTIO_F_RING_INDIRECT_DESC;
    for (unsigned i = 0; i < 1024; i++)
        put_desc(&f->mem, table, i, big, (uint32_t)big_size, i < 1023 ? F_NEXT : 0, i + 1);
    set_desc(&f->r, 0, table, 1024 * 16, F_INDIRECT, 0);
    avail_add(&f->r, 0);
    expect_broken(f);
}

static void test_readable_after_writable(void **state)
{
    Fixture *f = *state;

    set_desc(&f->r, 0, DATA_GPA, 4, F_WRITE | F_NEXT, 1);
    set_desc(&f->r, 1, DATA_GPA, 4, 0, 0);
    avail_add(&f->r, 0);
    expect_broken(f);
}

static void test_rings_outside_ram(void **state)
{
    Fixture *f = *state;

    f->vd.vq[0].used_gpa = RAM_BASE + RAM_SIZE - 8;
    avail_add(&f->r, 0);
    expect_broken(f);
}

static void test_event_idx(void **state)
{
    Fixture *f = *state;

    f->vd.driver_features |= 1ull << VIRTIO_F_RING_EVENT_IDX;
    set_desc(&f->r, 0, DATA_GPA, 4, 0, 0);

    avail_add(&f->r, 0);
    assert_int_equal(virtq_pop(&f->vd, 0, &f->e), 1);
    /* The device publishes avail_event = next index it will read. */
    assert_int_equal(avail_event(&f->r), 1);
    virtq_push(&f->vd, 0, &f->e, 0);
    set_used_event(&f->r, 0);
    virtq_notify(&f->vd, 0);               /* used 0 -> 1 crosses event 0 */
    assert_int_equal(f->irqs, 1);

    /* Driver wants an interrupt only after the 4th used entry. */
    set_used_event(&f->r, 3);
    for (int i = 0; i < 2; i++) {
        avail_add(&f->r, 0);
        assert_int_equal(virtq_pop(&f->vd, 0, &f->e), 1);
        virtq_push(&f->vd, 0, &f->e, 0);
        virtq_notify(&f->vd, 0);
    }
    assert_int_equal(f->irqs, 1);          /* used idx 3: suppressed */
    avail_add(&f->r, 0);
    assert_int_equal(virtq_pop(&f->vd, 0, &f->e), 1);
    virtq_push(&f->vd, 0, &f->e, 0);
    virtq_notify(&f->vd, 0);               /* used idx 4 crosses 3 */
    assert_int_equal(f->irqs, 2);
    assert_int_equal(avail_event(&f->r), 4);
    /* Nothing new used: no interrupt. */
    virtq_notify(&f->vd, 0);
    assert_int_equal(f->irqs, 2);
}

static void test_no_interrupt_flag(void **state)
{
    Fixture *f = *state;

    set_desc(&f->r, 0, DATA_GPA, 4, 0, 0);
    avail_set_flags(&f->r, 1);
    avail_add(&f->r, 0);
    assert_int_equal(virtq_pop(&f->vd, 0, &f->e), 1);
    virtq_push(&f->vd, 0, &f->e, 0);
    virtq_notify(&f->vd, 0);
    assert_int_equal(f->irqs, 0);
    avail_set_flags(&f->r, 0);
    virtq_notify(&f->vd, 0);
    assert_int_equal(f->irqs, 1);
}

static void test_reset_recovers(void **state)
{
    Fixture *f = *state;

    set_desc(&f->r, 0, DATA_GPA, 4, F_NEXT, 0);
    avail_add(&f->r, 0);
    expect_broken(f);
    /* Once only: a second fault does not log or interrupt again. */
    f->vd.isr = 0;
    virtio_set_broken(&f->vd, "again");
    assert_int_equal(f->vd.isr, 0);

    virtio_reset(&f->vd);
    assert_int_equal(f->resets, 1);
    assert_int_equal(f->vd.status, 0);
    assert_false(f->vd.vq[0].ready);
    assert_int_equal(f->vd.vq[0].num, 16);

    drive_ok(&f->vd, 0);
    ring_init(&f->r, &f->mem, &f->vd, 0, 16, DESC_GPA, AVAIL_GPA, USED_GPA);
    set_desc(&f->r, 0, DATA_GPA, 4, 0, 0);
    avail_add(&f->r, 0);
    assert_int_equal(virtq_pop(&f->vd, 0, &f->e), 1);
    assert_false(broken(f));
}

static void test_not_driver_ok(void **state)
{
    Fixture *f = *state;

    set_desc(&f->r, 0, DATA_GPA, 4, 0, 0);
    avail_add(&f->r, 0);
    f->vd.status &= ~(uint32_t)VIRTIO_STATUS_DRIVER_OK;
    assert_int_equal(virtq_pop(&f->vd, 0, &f->e), 0);
    f->vd.status |= VIRTIO_STATUS_DRIVER_OK;
    assert_int_equal(virtq_pop(&f->vd, 0, &f->e), 1);
}

static bool page_dirty(Fixture *f, uint64_t gpa)
{
    uint64_t pg = (gpa - RAM_BASE) >> 12;
    return f->mem.r[0].dirty[pg / 64] & (1ull << (pg % 64));
}

static void test_dirty_tracking(void **state)
{
    Fixture *f = *state;
    uint64_t buf = DATA_GPA + 0x3000;

    f->mem.dirty_log = true;
    set_desc(&f->r, 0, DATA_GPA, 4, F_NEXT, 1);
    set_desc(&f->r, 1, buf, 0x2000, F_WRITE, 0);
    avail_add(&f->r, 0);
    assert_int_equal(virtq_pop(&f->vd, 0, &f->e), 1);
    assert_true(page_dirty(f, buf));
    assert_false(page_dirty(f, DATA_GPA));       /* read-only buffer */
    /* A migration round harvests the log; the device then writes. */
    memset(f->mem.r[0].dirty, 0, (RAM_SIZE >> 12) / 8);
    virtq_push(&f->vd, 0, &f->e, 0x1001);
    assert_true(page_dirty(f, buf));
    assert_true(page_dirty(f, buf + 0x1000));
    assert_true(page_dirty(f, USED_GPA));
    assert_false(page_dirty(f, AVAIL_GPA));
}

static void test_iov_helpers(void **state)
{
    char a[4], b[3], c[5], out[12];
    struct iovec iov[3] = { { a, 4 }, { b, 3 }, { c, 5 } };

    (void)state;
    assert_int_equal(iov_from_buf(iov, 3, 2, "HELLOWORLD", 10), 10);
    assert_memory_equal(a + 2, "HE", 2);
    assert_memory_equal(b, "LLO", 3);
    assert_memory_equal(c, "WORLD", 5);
    assert_int_equal(iov_to_buf(iov, 3, 5, out, sizeof(out)), 7);
    assert_memory_equal(out, "LOWORLD", 7);
    assert_int_equal(iov_to_buf(iov, 3, 100, out, sizeof(out)), 0);
    assert_int_equal(iov_from_buf(iov, 3, 11, "xyz", 3), 1);
}

int main(void)
{
    log_set_level(LOG_ERR);   /* broken-device warnings are expected here */
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_empty),
        T(test_normal_chain),
        T(test_ring_wraps),
        T(test_indirect),
        T(test_indirect_not_negotiated),
        T(test_nested_indirect),
        T(test_indirect_bad_len),
        T(test_indirect_outside_ram),
        T(test_indirect_loop),
        T(test_desc_loop),
        T(test_self_loop),
        T(test_next_out_of_range),
        T(test_head_out_of_range),
        T(test_avail_jump),
        T(test_buffer_below_ram),
        T(test_buffer_wraparound),
        T(test_buffer_crosses_end),
        T(test_huge_length),
        T(test_total_length_overflow),
        T(test_readable_after_writable),
        T(test_rings_outside_ram),
        T(test_event_idx),
        T(test_no_interrupt_flag),
        T(test_reset_recovers),
        T(test_not_driver_ok),
        T(test_dirty_tracking),
        cmocka_unit_test(test_iov_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
