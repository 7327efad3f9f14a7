/* A disk image's lock across a migration's hand-over: released, the image
 * can be opened (and locked) by another VM and this one does no I/O;
 * reacquired, it is this VM's again, or a clear error if someone else holds
 * it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <errno.h>

#include "backend/block.h"

static char path[] = "/tmp/xeno-lock-XXXXXX";

static int setup(void **state)
{
    int fd = mkstemp(path);
    (void)state;
    if (fd < 0 || ftruncate(fd, 1 << 20) < 0)
        return -1;
    close(fd);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    return 0;
}

static void test_release_reacquire(void **state)
{
    char err[256], buf[512] = "hello";
    struct iovec iov = { buf, sizeof(buf) };
    BlockBackend *a, *b;
    (void)state;

    a = block_open(path, "raw", false, err, sizeof(err));
    assert_non_null(a);
    /* Held: a second writer is refused. */
    assert_null(block_open(path, "raw", false, err, sizeof(err)));
    assert_non_null(strstr(err, "in use by another VM"));

    assert_int_equal(block_pwritev(a, &iov, 1, 0), 0);
    assert_int_equal(block_release(a), 0);
    assert_true(block_released(a));
    /* Released: no I/O here, and the destination can take it. */
    assert_int_equal(block_pwritev(a, &iov, 1, 0), -EBADF);
    assert_int_equal(block_preadv(a, &iov, 1, 0), -EBADF);
    b = block_open(path, "raw", false, err, sizeof(err));
    assert_non_null(b);
    /* ...which wrote what we flushed. */
    memset(buf, 0, sizeof(buf));
    assert_int_equal(block_preadv(b, &iov, 1, 0), 0);
    assert_string_equal(buf, "hello");
    /* While the other VM has it, it cannot be taken back. */
    assert_int_equal(block_reacquire(a, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "in use by another VM"));
    assert_true(block_released(a));
    block_close(b);
    /* The destination failed and let go: ours again. */
    assert_int_equal(block_reacquire(a, err, sizeof(err)), 0);
    assert_false(block_released(a));
    assert_int_equal(block_preadv(a, &iov, 1, 0), 0);
    assert_null(block_open(path, "raw", true, err, sizeof(err)));
    block_close(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_release_reacquire),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
