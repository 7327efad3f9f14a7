/* src/common/util.c: number parsing, whole-file reads, clock, helpers. */
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

static void test_parse_u64(void **state)
{
    uint64_t v = 0;

    assert_int_equal(parse_u64("0", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(parse_u64("1234", &v), 0);
    assert_int_equal(v, 1234);
    assert_int_equal(parse_u64("0x1f", &v), 0);
    assert_int_equal(v, 31);
    assert_int_equal(parse_u64("4k", &v), 0);
    assert_int_equal(v, 4096);
    assert_int_equal(parse_u64("2M", &v), 0);
    assert_int_equal(v, 2u << 20);
    assert_int_equal(parse_u64("3G", &v), 0);
    assert_int_equal(v, 3ull << 30);
    assert_int_equal(parse_u64("18446744073709551615", &v), 0);
    assert_true(v == UINT64_MAX);

    v = 77;
    assert_int_equal(parse_u64("", &v), -1);
    assert_int_equal(parse_u64(NULL, &v), -1);
    assert_int_equal(parse_u64("-1", &v), -1);
    assert_int_equal(parse_u64("+1", &v), -1);
    assert_int_equal(parse_u64(" 1", &v), -1);
    assert_int_equal(parse_u64("1x", &v), -1);
    assert_int_equal(parse_u64("1KB", &v), -1);
    assert_int_equal(parse_u64("18446744073709551616", &v), -1);
    assert_int_equal(parse_u64("17179869184G", &v), -1);   /* overflows on shift */
    assert_int_equal(v, 77);                              /* untouched on error */
}

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
        cmocka_unit_test(test_parse_u64),
        cmocka_unit_test(test_read_file),
        cmocka_unit_test(test_clock),
        cmocka_unit_test(test_macros),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
