/* The migration stream's channel (src/vmm/migrate_chan.c): the two VMMs'
 * own TLS 1.3 session keyed with the one-time key from the xends, or
 * plain. The two ends talk through a relay thread that records what goes
 * over the "wire" and can flip a byte on it. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/migrate.h"

#define WIRE_MAX (8u << 20)
#define DATA     (3u << 20)

static const uint8_t key_a[MIGRATE_KEY_BYTES] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
static const uint8_t key_b[MIGRATE_KEY_BYTES] = { 9, 9, 9 };

/* The wire: sender end s, receiver end r; the relay copies between the
 * other ends, keeping the sender's bytes and flipping one at flip_at. */
typedef struct Wire {
    int s, r;                  /* the ends the test uses */
    int sx, rx;                /* the relay's */
    uint8_t *seen;             /* sender -> receiver bytes */
    size_t nseen;
    size_t flip_at;            /* 0: none */
    pthread_t t;
} Wire;

static void *relay(void *arg)
{
    Wire *w = arg;
    uint8_t buf[65536];

    for (;;) {
        struct pollfd p[2] = { { .fd = w->sx, .events = POLLIN }, { .fd = w->rx, .events = POLLIN } };
        if (poll(p, 2, 10000) <= 0)
            break;
        if (p[0].revents) {
            ssize_t n = read(w->sx, buf, sizeof(buf));
            if (n <= 0) {
                shutdown(w->rx, SHUT_WR);
                break;
            }
            for (ssize_t i = 0; i < n; i++) {
                if (w->flip_at && w->nseen + (size_t)i == w->flip_at)
                    buf[i] ^= 0x40;
                if (w->nseen + (size_t)i < WIRE_MAX)
                    w->seen[w->nseen + (size_t)i] = buf[i];
            }
            w->nseen += (size_t)n;
            if (write(w->rx, buf, (size_t)n) != n)
                break;
        }
        if (p[1].revents) {
            ssize_t n = read(w->rx, buf, sizeof(buf));
            if (n <= 0 || write(w->sx, buf, (size_t)n) != n)
                break;
        }
    }
    /* Either side gone: both see the end (no writer blocks on a relay
     * that no longer reads). What was delivered stays readable. */
    shutdown(w->sx, SHUT_RDWR);
    shutdown(w->rx, SHUT_RDWR);
    return NULL;
}

static void wire_up(Wire *w, size_t flip_at)
{
    int a[2], b[2];

    memset(w, 0, sizeof(*w));
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, a), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, b), 0);
    w->s = a[0];
    w->sx = a[1];
    w->r = b[0];
    w->rx = b[1];
    w->seen = malloc(WIRE_MAX);
    assert_non_null(w->seen);
    w->flip_at = flip_at;
    assert_int_equal(pthread_create(&w->t, NULL, relay, w), 0);
}

static void wire_down(Wire *w)
{
    close(w->s);
    close(w->r);
    pthread_join(w->t, NULL);
    close(w->sx);
    close(w->rx);
    free(w->seen);
}

/* The receiving VMM: its end of the handshake, then everything read. */
typedef struct Recv {
    int fd;
    const uint8_t *key;
    MigChan *c;
    char err[256];
    uint8_t *data;
    size_t got;
    ssize_t last;              /* the read that ended it */
    int last_errno;
} Recv;

static void *recv_run(void *arg)
{
    Recv *r = arg;

    r->c = migchan_open(r->fd, r->key, false, 5000, r->err, sizeof(r->err));
    if (!r->c)
        return NULL;
    r->data = malloc(DATA + 1);
    for (;;) {
        ssize_t n = migchan_read(r->c, r->data + r->got, DATA + 1 - r->got);
        if (n <= 0) {
            r->last = n;
            r->last_errno = errno;
            /* As the VMM does: it stops reading, its sender sees the end. */
            if (n < 0)
                shutdown(r->fd, SHUT_RDWR);
            break;
        }
        r->got += (size_t)n;
    }
    return NULL;
}

static uint8_t *pattern(void)
{
    uint8_t *p = malloc(DATA);

    assert_non_null(p);
    for (size_t i = 0; i < DATA; i++)
        p[i] = (uint8_t)(i * 7 + (i >> 12));
    memcpy(p + 4096, "GUEST-SECRET-0123456789", 23);
    return p;
}

static bool contains(const uint8_t *hay, size_t n, const char *needle)
{
    return memmem(hay, n, needle, strlen(needle)) != NULL;
}

/* A sender (key skey, NULL: plain) and a receiver (rkey) in a thread over
 * a wire; c is the sender's channel (NULL: its handshake failed, err). */
typedef struct Link {
    Wire w;
    Recv r;
    pthread_t t;
    MigChan *c;
    char err[256];
} Link;

static void link_up(Link *l, const uint8_t *skey, const uint8_t *rkey, size_t flip_at)
{
    memset(l, 0, sizeof(*l));
    wire_up(&l->w, flip_at);
    l->r.fd = l->w.r;
    l->r.key = rkey;
    assert_int_equal(pthread_create(&l->t, NULL, recv_run, &l->r), 0);
    l->c = migchan_open(l->w.s, skey, true, 5000, l->err, sizeof(l->err));
}

/* The sender's end of the stream; the receiver has read all it will. */
static void link_end(Link *l)
{
    if (l->c)
        migchan_shutdown(l->c);
    else
        shutdown(l->w.s, SHUT_WR);
    pthread_join(l->t, NULL);
}

static void link_down(Link *l)
{
    migchan_free(l->c);
    migchan_free(l->r.c);
    free(l->r.data);
    wire_down(&l->w);
}

/* The same key: the data arrives whole, the wire carries none of it in
 * clear, and the sender's end reads as the end. */
static void test_tls(void **state)
{
    uint8_t *data = pattern();
    Link l;

    (void)state;
    link_up(&l, key_a, key_a, 0);
    assert_non_null(l.c);
    assert_true(migchan_tls(l.c));
    assert_int_equal(migchan_write_all(l.c, data, DATA), 0);
    /* Nothing to read yet: the wait times out. */
    assert_int_equal(migchan_wait(l.c, 10), 0);
    link_end(&l);
    assert_non_null(l.r.c);
    assert_int_equal(l.r.last, 0);
    assert_int_equal(l.r.got, DATA);
    assert_memory_equal(l.r.data, data, DATA);
    assert_null(migchan_error(l.r.c));
    /* Encrypted: the marker is not on the wire, and the wire carries more
     * than the data (records' framing and tags). */
    assert_false(contains(l.w.seen, l.w.nseen < WIRE_MAX ? l.w.nseen : WIRE_MAX,
                          "GUEST-SECRET-0123456789"));
    assert_true(l.w.nseen > DATA);
    link_down(&l);
    free(data);
}

/* The receiver answers lines on the same session: the sender's wait sees
 * them, also what TLS holds already decrypted (the socket is empty then). */
typedef struct Answerer {
    int fd;
    bool ok;
} Answerer;

static void *answer_run(void *arg)
{
    Answerer *a = arg;
    char err[256], buf[8];
    size_t have = 0;
    MigChan *c = migchan_open(a->fd, key_a, false, 5000, err, sizeof(err));

    if (!c)
        return NULL;
    while (have < sizeof(buf)) {
        ssize_t n = migchan_read(c, buf + have, sizeof(buf) - have);
        if (n <= 0)
            break;
        have += (size_t)n;
    }
    /* Two lines in one record. */
    a->ok = have == sizeof(buf) && !memcmp(buf, "XENOGO\n", 8) &&
            migchan_write_all(c, "synced\nready\n", 13) == 0;
    migchan_free(c);
    return NULL;
}

static void test_tls_both_ways(void **state)
{
    char err[256], buf[16];
    int sp[2];
    Answerer a = { 0 };
    pthread_t t;
    MigChan *c;

    (void)state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
    a.fd = sp[1];
    assert_int_equal(pthread_create(&t, NULL, answer_run, &a), 0);
    c = migchan_open(sp[0], key_a, true, 5000, err, sizeof(err));
    assert_non_null(c);
    assert_int_equal(migchan_write_all(c, "XENOGO\n", 8), 0);
    assert_int_equal(migchan_wait(c, 5000), 1);
    assert_int_equal(migchan_read(c, buf, 7), 7);
    assert_memory_equal(buf, "synced\n", 7);
    pthread_join(t, NULL);
    assert_true(a.ok);
    /* "ready\n" is in GnuTLS's buffer, not in the socket. */
    assert_int_equal(migchan_wait(c, 0), 1);
    assert_int_equal(migchan_read(c, buf, sizeof(buf)), 6);
    assert_memory_equal(buf, "ready\n", 6);
    migchan_free(c);
    close(sp[0]);
    close(sp[1]);
}

/* A different key: neither side gets a session, both say why. */
static void test_wrong_key(void **state)
{
    Link l;

    (void)state;
    link_up(&l, key_a, key_b, 0);
    assert_null(l.c);
    assert_non_null(strstr(l.err, "the stream's TLS handshake: "));
    link_end(&l);
    assert_null(l.r.c);
    assert_non_null(strstr(l.r.err, "the stream's TLS handshake: "));
    link_down(&l);
}

/* A byte changed on the wire after the handshake: the receiver stops with
 * a TLS error (EPROTO, the message kept), it takes no forged data. */
static void test_tampered(void **state)
{
    uint8_t *data = pattern();
    Link l;

    (void)state;
    link_up(&l, key_a, key_a, 100000);
    assert_non_null(l.c);
    /* The receiver stops reading: the rest of the writes may fail. */
    migchan_write_all(l.c, data, DATA);
    link_end(&l);
    assert_non_null(l.r.c);
    assert_int_equal(l.r.last, -1);
    assert_int_equal(l.r.last_errno, EPROTO);
    assert_non_null(migchan_error(l.r.c));
    assert_true(l.r.got < 100000);
    assert_memory_equal(l.r.data, data, l.r.got);
    link_down(&l);
    free(data);
}

/* A TLS receiver given plain bytes (a stream in clear): no session, no
 * hang. */
static void test_mismatch(void **state)
{
    Link l;

    (void)state;
    link_up(&l, NULL, key_a, 0);
    assert_non_null(l.c);
    assert_int_equal(migchan_write_all(l.c, "XENOSTAT\0\0\0\0\0\0\0\0", 16), 0);
    link_end(&l);
    assert_null(l.r.c);
    assert_non_null(strstr(l.r.err, "the stream's TLS handshake: "));
    link_down(&l);
}

/* Plain: the bytes go as they are. */
static void test_plain(void **state)
{
    uint8_t *data = pattern();
    Link l;

    (void)state;
    link_up(&l, NULL, NULL, 0);
    assert_non_null(l.c);
    assert_false(migchan_tls(l.c));
    assert_int_equal(migchan_write_all(l.c, data, DATA), 0);
    link_end(&l);
    assert_int_equal(l.r.got, DATA);
    assert_int_equal(l.w.nseen, DATA);
    assert_memory_equal(l.w.seen, data, DATA);
    link_down(&l);
    free(data);
}

static void test_key_parse(void **state)
{
    uint8_t k[MIGRATE_KEY_BYTES];

    (void)state;
    assert_int_equal(migrate_key_parse("000102030405060708090a0b0c0d0e0f"
                                       "101112131415161718191A1B1C1D1E1F", k), 0);
    for (unsigned i = 0; i < MIGRATE_KEY_BYTES; i++)
        assert_int_equal(k[i], i);
    assert_int_equal(migrate_key_parse(NULL, k), -1);
    assert_int_equal(migrate_key_parse("", k), -1);
    assert_int_equal(migrate_key_parse("000102030405060708090a0b0c0d0e0f"
                                       "101112131415161718191a1b1c1d1e1", k), -1);
    assert_int_equal(migrate_key_parse("000102030405060708090a0b0c0d0e0f"
                                       "101112131415161718191a1b1c1d1e1g", k), -1);
    assert_int_equal(migrate_key_parse("000102030405060708090a0b0c0d0e0f"
                                       "101112131415161718191a1b1c1d1e1f0", k), -1);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);       /* as in the VMM: a closed peer is an error, not a kill */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tls),
        cmocka_unit_test(test_tls_both_ways),
        cmocka_unit_test(test_wrong_key),
        cmocka_unit_test(test_tampered),
        cmocka_unit_test(test_mismatch),
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_key_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
