/* Token buckets (common/ratelimit.h) and rate-limited log messages
 * (common/log.h). Time is passed in, so nothing here sleeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/ratelimit.h"

#define MS 1000000ull
#define S  1000000000ull

/* How much gets through in `secs` seconds when asking every millisecond
 * for requests of `cost`. */
static uint64_t through(TokenBucket *b, uint64_t start, unsigned secs, uint64_t cost)
{
    uint64_t sent = 0;

    for (uint64_t t = start; t < start + secs * S; t += MS) {
        if (!tb_wait_ns(b, t)) {
            tb_take(b, cost, t);
            sent += cost;
        }
    }
    return sent;
}

static void test_bucket_rate(void **state)
{
    TokenBucket b;
    uint64_t sent;

    /* 1 MB/s, 100 KB burst, 4 KiB requests: over 10 s about 10 MB + burst */
    tb_init(&b, 1000000, 100000, 5 * S);
    sent = through(&b, 5 * S, 10, 4096);
    assert_true(sent >= 10000000 - 4096);
    assert_true(sent <= 10000000 + 100000 + 2 * 4096);

    /* no limit */
    tb_init(&b, 0, 0, 0);
    assert_int_equal(tb_wait_ns(&b, 0), 0);
    tb_take(&b, 1ull << 40, 0);
    assert_int_equal(tb_wait_ns(&b, 0), 0);
}

/* A request larger than the burst goes (no deadlock), and the next waits
 * for the debt to be paid. */
static void test_bucket_debt(void **state)
{
    TokenBucket b;

    tb_init(&b, 1000, 100, 0);       /* 1000/s, burst 100 */
    assert_int_equal(tb_wait_ns(&b, 0), 0);
    tb_take(&b, 600, 0);             /* 500 in debt */
    assert_int_equal(tb_wait_ns(&b, 0), 501 * MS);
    assert_true(tb_wait_ns(&b, 500 * MS) > 0);
    assert_int_equal(tb_wait_ns(&b, 501 * MS), 0);
    /* a long idle spell refills only up to the burst */
    assert_int_equal(tb_wait_ns(&b, 100 * S), 0);
    tb_take(&b, 100, 100 * S);
    assert_true(tb_wait_ns(&b, 100 * S) > 0);
}

/* Default burst: a tenth of the rate; the fractions of tokens are kept
 * (many small refills add up to the rate). */
static void test_bucket_defaults(void **state)
{
    TokenBucket b;
    uint64_t sent = 0;

    tb_init(&b, 3, 0, 0);
    assert_int_equal(b.burst, 1);
    tb_init(&b, 5000, 0, 0);
    assert_int_equal(b.burst, 500);
    /* 7 ops/s polled every 10 ms for 100 s: 700 (+ burst 1) */
    tb_init(&b, 7, 0, 0);
    for (uint64_t t = 0; t < 100 * S; t += 10 * MS)
        if (!tb_wait_ns(&b, t)) {
            tb_take(&b, 1, t);
            sent++;
        }
    assert_true(sent >= 699 && sent <= 702);
}

static void test_throttle(void **state)
{
    IoThrottle t;
    uint64_t ops = 0;

    throttle_init(&t, 0, 0, 0, 0, 0);
    assert_false(throttle_enabled(&t));
    /* 100 ops/s and 1 MB/s: small requests are held by the ops limit */
    throttle_init(&t, 1000000, 0, 100, 10, 0);
    assert_true(throttle_enabled(&t));
    for (uint64_t now = 0; now < 10 * S; now += MS)
        if (!throttle_wait_ns(&t, now)) {
            throttle_charge(&t, 512, now);
            ops++;
        }
    assert_true(ops >= 999 && ops <= 1011);
    /* big requests by the bytes limit: 1 MiB requests, about one a second */
    throttle_init(&t, 1000000, 0, 100, 10, 0);
    ops = 0;
    for (uint64_t now = 0; now < 10 * S; now += MS)
        if (!throttle_wait_ns(&t, now)) {
            throttle_charge(&t, 1 << 20, now);
            ops++;
        }
    assert_true(ops >= 9 && ops <= 11);
}

/* At most LOG_RL_BURST per interval and call site; the next one printed
 * says how many were dropped. */
static void test_log_ratelimit(void **state)
{
    LogRateLimit rl = { 0 };
    unsigned sup = 99, printed = 0;

    for (int i = 0; i < 1000; i++)
        if (log_ratelimit_pass(&rl, 10 * S + (uint64_t)i * MS / 10, &sup))
            printed++;
    assert_int_equal(printed, LOG_RL_BURST);
    assert_false(log_ratelimit_pass(&rl, 10 * S + 500 * MS, &sup));
    assert_true(log_ratelimit_pass(&rl, 11 * S, &sup));
    assert_int_equal(sup, 1000 - LOG_RL_BURST + 1);
    assert_true(log_ratelimit_pass(&rl, 11 * S + 1, &sup));
    assert_int_equal(sup, 0);
}

/* The macro: a guest looping on a warning writes a handful of lines. */
static void test_log_warn_rl_output(void **state)
{
    char path[] = "/tmp/xeno-rl-XXXXXX", buf[8192];
    int fd = mkstemp(path), saved = dup(2);
    ssize_t n;
    int lines = 0;

    assert_true(fd >= 0 && saved >= 0);
    log_init("test", LOG_WARN);
    fflush(stderr);
    dup2(fd, 2);
    for (int i = 0; i < 100000; i++)
        log_warn_rl("virtio-blk: bad descriptor %d", i);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    n = pread(fd, buf, sizeof(buf) - 1, 0);
    close(fd);
    unlink(path);
    assert_true(n > 0);
    buf[n] = 0;
    for (char *p = buf; (p = strchr(p, '\n')); p++)
        lines++;
    assert_true(lines >= LOG_RL_BURST && lines <= 3 * LOG_RL_BURST);
    assert_non_null(strstr(buf, "test: warning: virtio-blk: bad descriptor 0\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket_rate),
        cmocka_unit_test(test_bucket_debt),
        cmocka_unit_test(test_bucket_defaults),
        cmocka_unit_test(test_throttle),
        cmocka_unit_test(test_log_ratelimit),
        cmocka_unit_test(test_log_warn_rl_output),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
