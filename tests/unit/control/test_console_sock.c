/* The console socket: fan-out of guest output to clients, the 64 KiB replay
 * ring, client input into the UART, the hvc0 pipe, slow readers. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_machine.h"
#include "hw/uart.h"
#include "vmm/control.h"

typedef struct Fx {
    Machine m;
    ConsoleSock *cs;
    char dir[64], path[128];
} Fx;

static int setup(void **state)
{
    Fx *f = calloc(1, sizeof(*f));
    char err[256];

    assert_non_null(f);
    assert_int_equal(fake_machine_init(&f->m, false), 0);
    f->m.uart = uart_create(NULL, 0, 0, (IrqLine){ 0 }, -1);
    assert_non_null(f->m.uart);
    strcpy(f->dir, "/tmp/xeno-consock.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/vm.sock.console", f->dir);
    f->cs = console_sock_new(&f->m, false, err, sizeof(err));
    assert_non_null(f->cs);
    console_sock_attach_uart(f->cs);
    if (console_sock_listen(f->cs, f->path, err, sizeof(err)))
        fail_msg("listen: %s", err);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fx *f = *state;

    console_sock_stop(f->cs);
    assert_int_not_equal(access(f->path, F_OK), 0);     /* removed */
    rmdir(f->dir);
    uart_free(f->m.uart);
    fake_machine_free(&f->m);
    free(f);
    return 0;
}

static int connect_client(Fx *f)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    strcpy(sa.sun_path, f->path);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    console_sock_run_once(f->cs);       /* accept */
    return fd;
}

/* Collect exactly `want` bytes (or fail after ~2 s). */
static void read_exact(Fx *f, int fd, uint8_t *buf, size_t want)
{
    size_t got = 0;

    for (int i = 0; i < 2000 && got < want; i++) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        console_sock_run_once(f->cs);
        if (poll(&p, 1, 1) > 0) {
            ssize_t n = recv(fd, buf + got, want - got, MSG_DONTWAIT);
            if (n > 0)
                got += (size_t)n;
            else if (n == 0)
                break;
        }
    }
    assert_int_equal(got, want);
}

static void out_str(Fx *f, const char *s)
{
    console_sock_output(f->cs, (const uint8_t *)s, strlen(s));
}

static void test_fanout_and_replay(void **state)
{
    Fx *f = *state;
    uint8_t buf[64];
    int a, b;

    out_str(f, "early boot\n");
    a = connect_client(f);
    read_exact(f, a, buf, 11);                 /* replayed */
    assert_memory_equal(buf, "early boot\n", 11);
    out_str(f, "login: ");
    b = connect_client(f);
    read_exact(f, a, buf, 7);
    assert_memory_equal(buf, "login: ", 7);
    read_exact(f, b, buf, 18);                 /* everything so far */
    assert_memory_equal(buf, "early boot\nlogin: ", 18);
    close(a);
    close(b);
}

static void test_ring_keeps_last_64k(void **state)
{
    Fx *f = *state;
    size_t total = 100 * 1024, ring = 64 * 1024;
    uint8_t *data = malloc(total), *got = malloc(ring);
    int a;

    for (size_t i = 0; i < total; i++)
        data[i] = (uint8_t)(i * 7 + (i >> 10));
    console_sock_output(f->cs, data, total);
    a = connect_client(f);
    read_exact(f, a, got, ring);
    assert_memory_equal(got, data + total - ring, ring);
    free(data);
    free(got);
    close(a);
}

static void test_input_to_uart(void **state)
{
    Fx *f = *state;
    int a = connect_client(f);
    char got[8] = { 0 };

    assert_int_equal(send(a, "hi!", 3, 0), 3);
    for (int i = 0; i < 100 && uart_rx_space(f->m.uart) == 4096; i++) {
        struct pollfd p = { .fd = a, .events = POLLIN };
        poll(&p, 1, 1);
        console_sock_run_once(f->cs);
    }
    assert_int_equal(4096 - uart_rx_space(f->m.uart), 3);
    for (int i = 0; i < 3; i++)
        got[i] = (char)uart_ops.read(f->m.uart, 0, 1);   /* RBR */
    assert_string_equal(got, "hi!");
    close(a);
}

static void test_uart_and_hvc_output(void **state)
{
    Fx *f = *state;
    int a = connect_client(f);
    uint8_t buf[8];

    /* THR write: the UART hands the byte to the fan-out. */
    uart_ops.write(f->m.uart, 0, 'U', 1);
    read_exact(f, a, buf, 1);
    assert_int_equal(buf[0], 'U');
    /* hvc0 writes to m->console_out, a pipe the console socket reads. */
    assert_true(f->m.console_out >= 0);
    assert_int_equal(write(f->m.console_out, "hvc", 3), 3);
    read_exact(f, a, buf, 3);
    assert_memory_equal(buf, "hvc", 3);
    close(a);
}

static void test_slow_reader_never_blocks(void **state)
{
    Fx *f = *state;
    int slow = connect_client(f), b;
    static uint8_t chunk[65536];
    uint8_t tail[4];

    /* 8 MiB to a client that never reads: output calls stay immediate. */
    memset(chunk, 'z', sizeof(chunk));
    for (int i = 0; i < 128; i++) {
        console_sock_output(f->cs, chunk, sizeof(chunk));
        console_sock_run_once(f->cs);
    }
    out_str(f, "END!");
    b = connect_client(f);
    shutdown(slow, SHUT_RDWR);
    /* A new client still gets the ring, ending with the latest output. */
    {
        uint8_t *ring = malloc(64 * 1024);
        read_exact(f, b, ring, 64 * 1024);
        memcpy(tail, ring + 64 * 1024 - 4, 4);
        free(ring);
    }
    assert_memory_equal(tail, "END!", 4);
    close(slow);
    close(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fanout_and_replay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ring_keeps_last_64k, setup, teardown),
        cmocka_unit_test_setup_teardown(test_input_to_uart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uart_and_hvc_output, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_reader_never_blocks, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
