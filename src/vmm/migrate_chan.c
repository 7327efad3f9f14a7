/* The connection a migration streams on (migrate.h): plain, or a TLS 1.3
 * session of its own between the two VMMs.
 *
 * Why TLS here and not in xend: the two xends authenticate each other and
 * agree on the domain over their own TLS session (PSK or x509), and the
 * receiving one makes up a one-time key for the stream and sends it along.
 * Each xend then hands the bare TCP connection to its VMM with that key, so
 * the domain's memory goes from VMM to VMM with one encryption and no relay
 * process in between (a relay in each xend cost two socket hops and two
 * busy threads per host: a third of the time of an idle guest's migration).
 * The key is random, lives in the two VMMs for one migration only, and
 * travelled inside a session with ephemeral Diffie-Hellman, so the stream
 * keeps forward secrecy; ECDHE is done again here all the same. */
#include <errno.h>
#include <gnutls/gnutls.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"
#include "migrate.h"

/* AES-GCM first: bulk data on CPUs with AES instructions (as xend's). */
#define PRIO "NORMAL:-VERS-ALL:+VERS-TLS1.3:-KX-ALL:+ECDHE-PSK:+PSK:-CIPHER-ALL:" \
             "+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305"
#define IDENTITY "xeno-migration-stream"
/* GnuTLS sends each 16 KiB record with a syscall of its own and reads
 * each record's header and body with two: through these buffers the
 * socket sees 256 KiB at a time (the benchmark writer's first round,
 * 150 MB, went from 372-466 to 278-315 ms). */
#define IO_BUF (256u << 10)

struct MigChan {
    int fd;
    gnutls_session_t s;                     /* NULL: plain */
    gnutls_psk_client_credentials_t pc;
    gnutls_psk_server_credentials_t ps;
    uint8_t key[MIGRATE_KEY_BYTES];
    /* Records to send, gathered during one migchan_write (batching). */
    uint8_t *out;
    size_t out_len;
    bool batching;
    /* Bytes received, not yet taken by GnuTLS. */
    uint8_t *in;
    size_t in_head, in_len;
    char err[160];
};

/* ---- the transport under GnuTLS ---- */

static int send_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int flush_out(MigChan *c)
{
    int r = send_all(c->fd, c->out, c->out_len);

    c->out_len = 0;
    return r;
}

/* Outside migchan_write (the handshake, close_notify) records go at once. */
static ssize_t push_fn(gnutls_transport_ptr_t ptr, const void *data, size_t len)
{
    MigChan *c = ptr;

    if (!c->batching || len > IO_BUF) {
        if ((c->out_len && flush_out(c)) || send_all(c->fd, data, len))
            return -1;
        return (ssize_t)len;
    }
    if (c->out_len + len > IO_BUF && flush_out(c))
        return -1;
    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
    return (ssize_t)len;
}

static ssize_t pull_fn(gnutls_transport_ptr_t ptr, void *data, size_t len)
{
    MigChan *c = ptr;

    if (!c->in_len) {
        ssize_t k = recv(c->fd, c->in, IO_BUF, 0);
        if (k <= 0)
            return k;       /* errno as recv left it: GnuTLS reads it */
        c->in_head = 0;
        c->in_len = (size_t)k;
    }
    if (len > c->in_len)
        len = c->in_len;
    memcpy(data, c->in + c->in_head, len);
    c->in_head += len;
    c->in_len -= len;
    return (ssize_t)len;
}

static int pull_timeout_fn(gnutls_transport_ptr_t ptr, unsigned ms)
{
    MigChan *c = ptr;
    struct pollfd p = { .fd = c->fd, .events = POLLIN };
    int r;

    if (c->in_len)
        return 1;
    r = poll(&p, 1, ms == GNUTLS_INDEFINITE_TIMEOUT ? -1 : (int)ms);
    return r < 0 && errno == EINTR ? 0 : r;
}

/* ---- the session ---- */

static int server_key(gnutls_session_t s, const char *username, gnutls_datum_t *key)
{
    MigChan *c = gnutls_session_get_ptr(s);

    if (strcmp(username, IDENTITY))
        return -1;
    key->data = gnutls_malloc(sizeof(c->key));
    if (!key->data)
        return -1;
    memcpy(key->data, c->key, sizeof(c->key));
    key->size = sizeof(c->key);
    return 0;
}

static int fail(MigChan *c, char *err, size_t errlen, const char *what, int e)
{
    snprintf(err, errlen, "%s: %s", what, gnutls_strerror(e));
    migchan_free(c);
    return -1;
}

MigChan *migchan_open(int fd, const uint8_t *key, bool sender, int timeout_ms,
                      char *err, size_t errlen)
{
    MigChan *c = calloc(1, sizeof(*c));
    gnutls_datum_t k;
    int e;

    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->fd = fd;
    if (!key)
        return c;
    memcpy(c->key, key, sizeof(c->key));
    c->out = malloc(IO_BUF);
    c->in = malloc(IO_BUF);
    if (!c->out || !c->in) {
        snprintf(err, errlen, "out of memory");
        migchan_free(c);
        return NULL;
    }
    k = (gnutls_datum_t){ .data = c->key, .size = sizeof(c->key) };
    /* No session tickets: nothing may follow the handshake but the stream. */
    e = gnutls_init(&c->s, (sender ? GNUTLS_CLIENT : GNUTLS_SERVER) | GNUTLS_NO_TICKETS |
                            GNUTLS_NO_SIGNAL);
    if (e < 0) {
        c->s = NULL;
        fail(c, err, errlen, "TLS", e);
        return NULL;
    }
    gnutls_session_set_ptr(c->s, c);
    if (sender) {
        if ((e = gnutls_psk_allocate_client_credentials(&c->pc)) < 0 ||
            (e = gnutls_psk_set_client_credentials(c->pc, IDENTITY, &k, GNUTLS_PSK_KEY_RAW)) < 0 ||
            (e = gnutls_credentials_set(c->s, GNUTLS_CRD_PSK, c->pc)) < 0) {
            fail(c, err, errlen, "TLS", e);
            return NULL;
        }
    } else {
        if ((e = gnutls_psk_allocate_server_credentials(&c->ps)) < 0) {
            fail(c, err, errlen, "TLS", e);
            return NULL;
        }
        gnutls_psk_set_server_credentials_function(c->ps, server_key);
        if ((e = gnutls_credentials_set(c->s, GNUTLS_CRD_PSK, c->ps)) < 0) {
            fail(c, err, errlen, "TLS", e);
            return NULL;
        }
    }
    if ((e = gnutls_priority_set_direct(c->s, PRIO, NULL)) < 0) {
        fail(c, err, errlen, "TLS priorities", e);
        return NULL;
    }
    gnutls_transport_set_ptr(c->s, c);
    gnutls_transport_set_push_function(c->s, push_fn);
    gnutls_transport_set_pull_function(c->s, pull_fn);
    gnutls_transport_set_pull_timeout_function(c->s, pull_timeout_fn);
    gnutls_handshake_set_timeout(c->s, (unsigned)timeout_ms);
    do
        e = gnutls_handshake(c->s);
    while (e < 0 && !gnutls_error_is_fatal(e) && e != GNUTLS_E_AGAIN && e != GNUTLS_E_TIMEDOUT);
    if (e < 0) {
        /* The peer learns at once why (a wrong key: an alert), instead of
         * waiting out its timeout. */
        gnutls_alert_send_appropriate(c->s, e);
        fail(c, err, errlen, "the stream's TLS handshake", e);
        return NULL;
    }
    explicit_bzero(c->key, sizeof(c->key));     /* only the handshake needed it */
    return c;
}

bool migchan_tls(const MigChan *c)
{
    return c->s != NULL;
}

/* GnuTLS codes as errno, the message kept for migchan_error. */
static ssize_t tls_errno(MigChan *c, ssize_t e)
{
    switch (e) {
    case GNUTLS_E_INTERRUPTED:
        errno = EINTR;
        return -1;
    case GNUTLS_E_AGAIN:
        errno = EAGAIN;
        return -1;
    case GNUTLS_E_PUSH_ERROR:
    case GNUTLS_E_PULL_ERROR:
        /* The socket's own error (send/recv left it in errno). */
        if (!errno)
            errno = EPIPE;
        return -1;
    default:
        snprintf(c->err, sizeof(c->err), "%s", gnutls_strerror((int)e));
        errno = EPROTO;
        return -1;
    }
}

/* Up to IO_BUF of records, then one send. */
static ssize_t tls_write(MigChan *c, const uint8_t *p, size_t n)
{
    size_t done = 0, lim = n < IO_BUF ? n : IO_BUF;
    ssize_t k = 0;

    c->batching = true;
    while (done < lim) {
        k = gnutls_record_send(c->s, p + done, lim - done);
        if (k < 0)
            break;
        done += (size_t)k;
    }
    c->batching = false;
    if (k < 0)
        return tls_errno(c, k);
    if (flush_out(c) < 0)
        return -1;
    return (ssize_t)done;
}

ssize_t migchan_write(void *opaque, const void *p, size_t n)
{
    MigChan *c = opaque;
    ssize_t k;

    errno = 0;
    k = c->s ? tls_write(c, p, n) : send(c->fd, p, n, MSG_NOSIGNAL);
    /* A blocking socket's send timeout (SO_SNDTIMEO): the peer took
     * nothing for that long. */
    if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        errno = ETIMEDOUT;
    return k;
}

ssize_t migchan_read(void *opaque, void *p, size_t n)
{
    MigChan *c = opaque;
    ssize_t k;

    if (!c->s)
        return read(c->fd, p, n);
    errno = 0;
    k = gnutls_record_recv(c->s, p, n);
    /* A connection that ends without close_notify ends the same way: the
     * stream's own framing tells a whole stream from a cut one. */
    if (k == GNUTLS_E_PREMATURE_TERMINATION)
        return 0;
    return k < 0 ? tls_errno(c, k) : k;
}

int migchan_write_all(MigChan *c, const void *p, size_t n)
{
    const char *s = p;

    while (n) {
        ssize_t k = migchan_write(c, s, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        s += k;
        n -= (size_t)k;
    }
    return 0;
}

int migchan_wait(MigChan *c, int timeout_ms)
{
    struct pollfd p = { .fd = c->fd, .events = POLLIN };
    int r;

    if (c->s && (gnutls_record_check_pending(c->s) || c->in_len))
        return 1;
    r = poll(&p, 1, timeout_ms);
    if (r < 0)
        return errno == EINTR ? 0 : -1;
    return r > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)) ? 1 : 0;
}

void migchan_shutdown(MigChan *c)
{
    if (c->s)
        gnutls_bye(c->s, GNUTLS_SHUT_WR);
    shutdown(c->fd, SHUT_WR);
}

const char *migchan_error(const MigChan *c)
{
    return c->err[0] ? c->err : NULL;
}

void migchan_free(MigChan *c)
{
    if (!c)
        return;
    if (c->s)
        gnutls_deinit(c->s);
    if (c->pc)
        gnutls_psk_free_client_credentials(c->pc);
    if (c->ps)
        gnutls_psk_free_server_credentials(c->ps);
    explicit_bzero(c->key, sizeof(c->key));
    free(c->out);
    free(c->in);
    free(c);
}

int migrate_key_parse(const char *hex, uint8_t key[MIGRATE_KEY_BYTES])
{
    if (!hex || strlen(hex) != 2 * MIGRATE_KEY_BYTES)
        return -1;
    for (unsigned i = 0; i < MIGRATE_KEY_BYTES; i++) {
        unsigned v = 0;
        for (unsigned j = 0; j < 2; j++) {
            char ch = hex[2 * i + j];
            unsigned d = ch >= '0' && ch <= '9' ? (unsigned)(ch - '0')
                       : ch >= 'a' && ch <= 'f' ? (unsigned)(ch - 'a' + 10)
                       : ch >= 'A' && ch <= 'F' ? (unsigned)(ch - 'A' + 10) : 16u;
            if (d > 15)
                return -1;
            v = v * 16 + d;
        }
        key[i] = (uint8_t)v;
    }
    return 0;
}
