/* src/common/loop.c: fd callbacks, poll hooks, quit from another thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/loop.h"

struct fdctx { Loop *l; int reads; char last; };

static void on_readable(void *opaque, int fd, short revents)
{
    struct fdctx *x = opaque;
    char ch;

    assert_true(revents & POLLIN);
    assert_int_equal(read(fd, &ch, 1), 1);
    x->last = ch;
    if (++x->reads == 2)
        loop_quit(x->l);
}

static void test_fd_callback(void **state)
{
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    Loop *l = loop_new(&lock);
    struct fdctx x = { l, 0, 0 };
    int p[2];

    assert_non_null(l);
    assert_int_equal(pipe(p), 0);
    assert_int_equal(loop_add_fd(l, p[0], POLLIN, on_readable, &x), 0);
    assert_int_equal(write(p[1], "ab", 2), 2);
    loop_run(l);
    assert_int_equal(x.reads, 2);
    assert_int_equal(x.last, 'b');
    loop_del_fd(l, p[0]);
    loop_del_fd(l, 12345);          /* unknown fd: no-op */
    loop_free(l);
    close(p[0]);
    close(p[1]);
}

struct hookctx { int idx, prepared, dispatched; int fd; };

static void hook_prepare(void *opaque, Loop *l, int *timeout)
{
    struct hookctx *h = opaque;

    h->idx = loop_hook_add_pollfd(l, h->fd, POLLIN);
    h->prepared++;
    *timeout = 0;
}

static void hook_dispatch(void *opaque, Loop *l)
{
    struct hookctx *h = opaque;

    h->dispatched++;
    assert_int_equal(loop_hook_revents(l, -1), 0);
    assert_int_equal(loop_hook_revents(l, 9999), 0);
    if (h->dispatched == 3)
        loop_quit(l);
}

static void test_hooks(void **state)
{
    Loop *l = loop_new(NULL);
    struct hookctx h = { 0 };
    LoopHook hook = { hook_prepare, hook_dispatch, &h };
    int p[2];

    assert_int_equal(pipe(p), 0);
    h.fd = p[0];
    assert_int_equal(loop_add_hook(l, &hook), 0);
    loop_run(l);   /* timeout 0: returns without any fd ready */
    assert_int_equal(h.dispatched, 3);
    assert_int_equal(h.prepared, 3);
    assert_true(h.idx >= 1);
    loop_free(l);
    close(p[0]);
    close(p[1]);
}

static void *quitter(void *arg)
{
    usleep(20000);
    loop_quit(arg);
    return NULL;
}

static void test_quit_from_thread(void **state)
{
    Loop *l = loop_new(NULL);
    pthread_t t;

    assert_int_equal(pthread_create(&t, NULL, quitter, l), 0);
    loop_run(l);                    /* blocks in poll until woken */
    pthread_join(t, NULL);
    loop_free(l);
}

static void nop_cb(void *opaque, int fd, short revents) { }
static void nop_prepare(void *o, Loop *l, int *t) { }
static void nop_dispatch(void *o, Loop *l) { }

static void test_limits(void **state)
{
    Loop *l = loop_new(NULL);
    LoopHook hook = { nop_prepare, nop_dispatch, NULL };
    int i;

    for (i = 0; i < 1000; i++)
        if (loop_add_fd(l, 100 + i, POLLIN, nop_cb, NULL) < 0)
            break;
    assert_true(i > 0 && i < 1000);
    for (i = 0; i < 1000; i++)
        if (loop_add_hook(l, &hook) < 0)
            break;
    assert_true(i > 0 && i < 1000);
    loop_free(l);
    loop_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fd_callback),
        cmocka_unit_test(test_hooks),
        cmocka_unit_test(test_quit_from_thread),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
