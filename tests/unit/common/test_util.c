/* src/common/util.c: whole-file reads, clocks, helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "common/util.h"

static void test_read_file(void **state)
{
    char path[] = "/tmp/xeno-util-XXXXXX";
    int fd = mkstemp(path);
    size_t len = 99;
    char *buf;

    assert_true(fd >= 0);
    assert_int_equal(write(fd, "hello\0world", 11), 11);
    close(fd);
    buf = read_file(path, &len);
    assert_non_null(buf);
    assert_int_equal(len, 11);
    assert_memory_equal(buf, "hello\0world", 11);
    assert_int_equal(buf[11], 0);            /* always NUL-terminated */
    free(buf);

    fd = open(path, O_WRONLY | O_TRUNC);
    close(fd);
    buf = read_file(path, &len);
    assert_non_null(buf);
    assert_int_equal(len, 0);
    free(buf);
    unlink(path);

    errno = 0;
    assert_null(read_file(path, &len));
    assert_int_equal(errno, ENOENT);
    assert_null(read_file("/tmp", &len));
    assert_int_equal(errno, EISDIR);
}

static void test_clock(void **state)
{
    uint64_t a = clock_ns(), b;

    usleep(2000);
    b = clock_ns();
    assert_true(b > a);
    assert_true(b - a >= 1000000);
}

static void test_clock_realtime(void **state)
{
    /* Not time(2): it reads the coarse clock, which lags the fine one by
     * up to a tick, so at a second's boundary `after` could be the second
     * before ns's. */
    struct timespec before, after;
    uint64_t ns;

    clock_gettime(CLOCK_REALTIME, &before);
    ns = clock_realtime_ns();
    clock_gettime(CLOCK_REALTIME, &after);
    assert_true(ns >= (uint64_t)before.tv_sec * NS_PER_SEC + (uint64_t)before.tv_nsec);
    assert_true(ns <= (uint64_t)after.tv_sec * NS_PER_SEC + (uint64_t)after.tv_nsec);
}

static void test_ns_to_timespec(void **state)
{
    struct timespec ts = ns_to_timespec(3 * NS_PER_SEC + 999999999ull);

    assert_int_equal(ts.tv_sec, 3);
    assert_int_equal(ts.tv_nsec, 999999999);
    ts = ns_to_timespec(5 * NS_PER_MS);
    assert_int_equal(ts.tv_sec, 0);
    assert_int_equal(ts.tv_nsec, 5000000);
}

static void test_macros(void **state)
{
    int arr[7];
    uint8_t buf[8];

    assert_int_equal(ARRAY_SIZE(arr), 7);
    assert_int_equal(MIN(3, 5), 3);
    assert_int_equal(MAX(3, 5), 5);
    assert_int_equal(ALIGN_UP(5u, 4), 8);
    assert_int_equal(ALIGN_UP(8u, 4), 8);
    assert_true(ALIGN_UP(0x1001ull, 0x1000) == 0x2000);
    st16(buf, 0x1234);
    assert_int_equal(buf[0], 0x34);
    assert_int_equal(ld16(buf), 0x1234);
    st32(buf, 0xdeadbeef);
    assert_int_equal(buf[0], 0xef);
    assert_int_equal(ld32(buf), 0xdeadbeef);
    st64(buf, 0x0102030405060708ull);
    assert_int_equal(buf[0], 0x08);
    assert_int_equal(buf[7], 0x01);
    assert_true(ld64(buf) == 0x0102030405060708ull);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_file),
        cmocka_unit_test(test_clock),
        cmocka_unit_test(test_clock_realtime),
        cmocka_unit_test(test_ns_to_timespec),
        cmocka_unit_test(test_macros),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
