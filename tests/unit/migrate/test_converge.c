/* Auto-converge's arithmetic on numbers measured on real migrations: the
 * throttle it picks makes the next round fit the downtime, a guest that
 * converges alone is left at full speed, and the throttle never goes down
 * during pre-copy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "common/stream.h"
#include "vmm/converge.h"

#define MS 1000000ull
#define PAGES_PER_MIB (1048576 / STREAM_PAGE_SIZE)

/* The pages a guest dirtying `rate_pps` pages/s at full speed, over a
 * working set of `ws` pages, dirties while a round carries `dirty` pages
 * at throttle pct. */
static double next_dirty(const ConvergeRound *r, double dirty, double rate_pps, double ws,
                         unsigned pct)
{
    double t = dirty * STREAM_PAGE_SIZE / r->rate;
    double d = rate_pps * (100 - pct) / 100.0 * t;
    return d < ws ? d : ws;
}

static double budget(const ConvergeRound *r)
{
    return r->downtime_ms / 1e3 * r->rate / STREAM_PAGE_SIZE;
}

/* The benchmark's writer: 64 MiB rewritten at 930 MiB/s, a 345 MB/s link
 * (numbers from its logs).
 * Round 1 (all of memory, 435 ms) shows 17376 pages dirty, the working set;
 * the sample 20 ms into it shows the rate. */
static void test_writer_after_round_one(void **state)
{
    double rate_pps = 930.0 * PAGES_PER_MIB;
    ConvergeRound r = {
        .dirty = 17376, .round_ns = 435 * MS,
        .sample_pages = (uint64_t)(rate_pps * 0.020), .sample_ns = 20 * MS,
        .rate = 345000000, .throttle = 0, .downtime_ms = 50,
    };
    unsigned pct = converge_throttle(&r);
    double d1;
    (void)state;

    /* Slowed down, but not to a crawl: converging over two rounds. */
    assert_true(pct >= 75 && pct <= 95);
    /* The first round at that throttle carries the working set and leaves
     * about half of it... */
    d1 = next_dirty(&r, r.dirty, rate_pps, 16384, pct);
    assert_true(d1 < 0.6 * r.dirty && d1 > budget(&r));
    /* ...and the second what the downtime carries. */
    assert_true(next_dirty(&r, d1, rate_pps, 16384, pct) <= budget(&r));
    /* Without the sample the round's count is all there is: a lower bound,
     * so a milder throttle, but one all the same. */
    r.sample_ns = r.sample_pages = 0;
    assert_true(converge_throttle(&r) > 0 && converge_throttle(&r) < pct);
}

/* A guest that dirties 100 MiB/s over a large working set converges by
 * itself on that link: it keeps its full speed. */
static void test_converges_alone(void **state)
{
    double rate_pps = 100.0 * PAGES_PER_MIB;
    ConvergeRound r = {
        .dirty = (uint64_t)(rate_pps * 0.435), .round_ns = 435 * MS,
        .sample_pages = (uint64_t)(rate_pps * 0.020), .sample_ns = 20 * MS,
        .rate = 345000000, .throttle = 0, .downtime_ms = 50,
    };
    (void)state;
    assert_int_equal(converge_throttle(&r), 0);
    assert_true(next_dirty(&r, r.dirty, rate_pps, 1e9, 0) <= budget(&r));
}

/* A small working set rewritten fast: the sample shows a high rate, but
 * the set itself fits the downtime, so no throttle. */
static void test_small_working_set(void **state)
{
    ConvergeRound r = {
        .dirty = 3000, .round_ns = 435 * MS,
        .sample_pages = 3000, .sample_ns = 20 * MS,
        .rate = 345000000, .throttle = 0, .downtime_ms = 50,
    };
    (void)state;
    assert_true(r.dirty < budget(&r));
    assert_int_equal(converge_throttle(&r), 0);
}

/* During pre-copy the throttle never goes down, and a round that did not
 * shrink the dirty set takes at least the next step. */
static void test_monotonic_and_steps(void **state)
{
    ConvergeRound r = {
        .dirty = 1000, .round_ns = 100 * MS, .rate = 345000000,
        .throttle = 90, .downtime_ms = 50,
    };
    (void)state;
    assert_int_equal(converge_throttle(&r), 90);
    r.stalled = true;
    assert_int_equal(converge_throttle(&r), 95);
    r.throttle = 0;
    assert_int_equal(converge_throttle(&r), THROTTLE_FIRST);
    assert_int_equal(converge_step(0), 20);
    assert_int_equal(converge_step(20), 60);
    assert_int_equal(converge_step(60), 80);
    assert_int_equal(converge_step(98), 99);
    assert_int_equal(converge_step(99), 99);
}

/* Nothing to compute from: the current throttle (or the step). */
static void test_degenerate(void **state)
{
    ConvergeRound r = { .dirty = 5000, .round_ns = 100 * MS, .throttle = 20, .downtime_ms = 50 };
    (void)state;
    assert_int_equal(converge_throttle(&r), 20);       /* no rate */
    r.rate = 1000000;
    r.dirty = 0;
    assert_int_equal(converge_throttle(&r), 20);       /* nothing dirty */
    r.dirty = 5000;
    r.round_ns = 0;
    assert_int_equal(converge_throttle(&r), 20);       /* no time */
    r.round_ns = 100 * MS;
    r.throttle = 100;
    assert_int_equal(converge_throttle(&r), THROTTLE_MAX);
}

/* When pre-copy stops: the rest fits the downtime, and is small or no
 * longer halving. */
static void test_done(void **state)
{
    uint64_t rate = 409600000;      /* 100 000 pages/s: the budget of 50 ms is 5000 pages */
    (void)state;
    assert_false(converge_done(5001, ~0ull, rate, 50));     /* does not fit */
    assert_false(converge_done(100, ~0ull, 0, 50));         /* no rate yet */
    assert_true(converge_done(1250, 17000, rate, 50));      /* a quarter: now */
    assert_true(converge_done(170, ~0ull, rate, 50));       /* an idle guest after round 1 */
    assert_false(converge_done(3000, 17000, rate, 50));     /* fits, but halving: a round more */
    assert_false(converge_done(3000, ~0ull, rate, 50));
    assert_true(converge_done(3000, 5000, rate, 50));       /* no longer halving */
    assert_true(converge_done(5000, 5000, rate, 50));
}

/* Whatever the numbers: within [current, THROTTLE_MAX], at least the step
 * after a stalled round. */
static void test_bounds(void **state)
{
    (void)state;
    srand(7);
    for (int i = 0; i < 200000; i++) {
        ConvergeRound r = {
            .dirty = (uint64_t)rand() % 70000,
            .round_ns = (uint64_t)rand() % 2000 * MS,
            .sample_pages = (uint64_t)rand() % 70000,
            .sample_ns = (uint64_t)(rand() % 2) * (uint64_t)(rand() % 100) * MS,
            .rate = (uint64_t)(rand() % 3) * (uint64_t)rand() * 10,
            .throttle = (unsigned)rand() % 100,
            .downtime_ms = 1 + (unsigned)rand() % 500,
            .stalled = rand() % 2,
        };
        unsigned pct = converge_throttle(&r);
        assert_true(pct >= r.throttle && pct <= THROTTLE_MAX);
        if (r.stalled)
            assert_true(pct >= converge_step(r.throttle));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writer_after_round_one),
        cmocka_unit_test(test_converges_alone),
        cmocka_unit_test(test_small_working_set),
        cmocka_unit_test(test_monotonic_and_steps),
        cmocka_unit_test(test_degenerate),
        cmocka_unit_test(test_done),
        cmocka_unit_test(test_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
