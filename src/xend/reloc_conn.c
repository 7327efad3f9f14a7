/* Relocation connections (reloc_conn.h): TLS 1.3 with GnuTLS, by
 * pre-shared key (identity "xeno", the key in hex in the PSK file) or by
 * x509 certificates (each side presents its certificate; with a CA file
 * each verifies the other's), or plain TCP for a trusted network. The
 * session carries the request and the answer; the socket then goes to the
 * VMM, which streams on it itself (under TLS with a session of its own). */
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "reloc_conn.h"

/* TLS 1.3 only; AES-128-GCM first: the fastest of its ciphers where the
 * CPU has AES instructions (3.5 GB/s here against 0.5 for ChaCha20), and
 * the stream is bulk. */
#define PRIO_PSK  "NORMAL:-VERS-ALL:+VERS-TLS1.3:-KX-ALL:+ECDHE-PSK:+DHE-PSK:+PSK:-CIPHER-ALL:" \
                  "+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305"
#define PRIO_X509 "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:" \
                  "+CHACHA20-POLY1305"
#define MAX_PSK_FILE 4096
#define IO_CHUNK  (16u << 10)
#define PULL_BUF  (256u << 10)

struct RelocConn {
    int fd;
    gnutls_session_t s;        /* NULL: plain */
    gnutls_psk_client_credentials_t psk_c;
    gnutls_psk_server_credentials_t psk_s;
    gnutls_certificate_credentials_t x509;
    gnutls_datum_t key;        /* server: the binary PSK */
    char *in;                  /* bytes read past the last line */
    size_t in_len;
    /* What GnuTLS reads comes from here: the socket is read PULL_BUF at a
     * time, not a record header and then its body (two calls per 16 KiB
     * record, which made the receiving relay's syscalls its main cost). */
    char *pull;
    size_t pull_head, pull_len;
    bool released;             /* its socket went to a VMM: no close_notify */
};

static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

static void tls_init(void)
{
    gnutls_global_init();
}

/* ---- TCP ---- */

void reloc_tcp_tune(int fd, int timeout_s)
{
    int one = 1, idle = 2, intvl = 1, cnt = timeout_s > 2 ? timeout_s - 2 : 1;
    unsigned ms = (unsigned)timeout_s * 1000u;

    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof(ms));
}

static int set_nonblock(int fd, bool on)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0)
        return -1;
    return fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}

/* connect() with a deadline. */
static int connect_timeout(int fd, const struct sockaddr *sa, socklen_t len, int timeout_ms)
{
    struct pollfd p = { .fd = fd, .events = POLLOUT };
    int e = 0;
    socklen_t el = sizeof(e);

    if (set_nonblock(fd, true) < 0)
        return -errno;
    if (connect(fd, sa, len) == 0)
        return set_nonblock(fd, false) < 0 ? -errno : 0;
    if (errno != EINPROGRESS)
        return -errno;
    for (;;) {
        int r = poll(&p, 1, timeout_ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0)
            return -ETIMEDOUT;
        if (r < 0)
            return -errno;
        break;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
        return -errno;
    if (e)
        return -e;
    return set_nonblock(fd, false) < 0 ? -errno : 0;
}

int reloc_tcp_connect(const char *host, int port, int timeout_ms, char *err, size_t errlen)
{
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV }, *res, *ai;
    char ps[16];
    int r, fd = -1, e = ECONNREFUSED;

    snprintf(ps, sizeof(ps), "%d", port);
    r = getaddrinfo(host, ps, &hints, &res);
    if (r) {
        snprintf(err, errlen, "cannot resolve %s: %s", host,
                 r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
        return -1;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            e = errno;
            continue;
        }
        r = connect_timeout(fd, ai->ai_addr, ai->ai_addrlen, timeout_ms);
        if (r == 0)
            break;
        e = -r;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        snprintf(err, errlen, "cannot connect to %s port %d: %s", host, port, strerror(e));
    return fd;
}

/* ---- the PSK ---- */

/* The key of file as hex text (trimmed, malloc'd) and its byte length. */
static char *read_psk_hex(const char *file, char *err, size_t errlen)
{
    struct stat st;
    size_t len, n = 0;
    char *text;

    if (!file[0]) {
        snprintf(err, errlen, "no xend-relocation-psk-file is configured");
        return NULL;
    }
    text = read_file(file, &len);
    if (!text) {
        snprintf(err, errlen, "cannot read the relocation key %s: %s", file, strerror(errno));
        return NULL;
    }
    if (len > MAX_PSK_FILE) {
        snprintf(err, errlen, "the relocation key %s is too large", file);
        goto bad;
    }
    for (size_t i = 0; i < len; i++) {
        char ch = text[i];
        if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r')
            continue;
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F'))) {
            snprintf(err, errlen, "the relocation key %s is not hexadecimal", file);
            goto bad;
        }
        text[n++] = ch;
    }
    text[n] = '\0';
    if (n % 2 || n < 32) {
        snprintf(err, errlen, "the relocation key %s must be at least 16 bytes in hex "
                 "(an even number of digits)", file);
        goto bad;
    }
    if (stat(file, &st) == 0 && (st.st_mode & 0077))
        log_warn("the relocation key %s is readable by others (mode %03o)", file,
                 (unsigned)(st.st_mode & 0777));
    return text;
bad:
    explicit_bzero(text, len);
    free(text);
    return NULL;
}

int reloc_psk_check(const char *file, char *err, size_t errlen)
{
    char *hex = read_psk_hex(file, err, errlen);

    if (!hex)
        return -1;
    explicit_bzero(hex, strlen(hex));
    free(hex);
    return 0;
}

static int psk_server_cb(gnutls_session_t s, const char *user, gnutls_datum_t *key)
{
    RelocConn *c = gnutls_session_get_ptr(s);

    if (!c || strcmp(user, RELOC_PSK_IDENTITY) || !c->key.size)
        return -1;
    key->data = gnutls_malloc(c->key.size);
    if (!key->data)
        return -1;
    memcpy(key->data, c->key.data, c->key.size);
    key->size = c->key.size;
    return 0;
}

/* ---- sessions ---- */

static void conn_free(RelocConn *c)
{
    if (!c)
        return;
    if (c->s)
        gnutls_deinit(c->s);
    if (c->psk_c)
        gnutls_psk_free_client_credentials(c->psk_c);
    if (c->psk_s)
        gnutls_psk_free_server_credentials(c->psk_s);
    if (c->x509)
        gnutls_certificate_free_credentials(c->x509);
    if (c->key.data) {
        explicit_bzero(c->key.data, c->key.size);
        gnutls_free(c->key.data);
    }
    if (c->fd >= 0)
        close(c->fd);
    free(c->in);
    free(c->pull);
    free(c);
}

static ssize_t pull_fn(gnutls_transport_ptr_t ptr, void *buf, size_t len)
{
    RelocConn *c = ptr;

    if (!c->pull_len) {
        ssize_t n = recv(c->fd, c->pull, PULL_BUF, 0);
        if (n < 0) {
            gnutls_transport_set_errno(c->s, errno);
            return -1;
        }
        c->pull_head = 0;
        c->pull_len = (size_t)n;
        if (!n)
            return 0;
    }
    if (len > c->pull_len)
        len = c->pull_len;
    memcpy(buf, c->pull + c->pull_head, len);
    c->pull_head += len;
    c->pull_len -= len;
    return (ssize_t)len;
}

static int pull_timeout_fn(gnutls_transport_ptr_t ptr, unsigned ms)
{
    RelocConn *c = ptr;
    struct pollfd p = { .fd = c->fd, .events = POLLIN };

    if (c->pull_len)
        return 1;
    return poll(&p, 1, ms == GNUTLS_INDEFINITE_TIMEOUT ? -1 : (int)ms);
}

void rconn_close(RelocConn *c)
{
    if (!c)
        return;
    if (c->s && !c->released) {
        set_nonblock(c->fd, true);
        gnutls_bye(c->s, GNUTLS_SHUT_WR);     /* best effort */
    }
    conn_free(c);
}

int rconn_release_fd(RelocConn *c, char *err, size_t errlen)
{
    int fd;

    if (c->in_len || c->pull_len || (c->s && gnutls_record_check_pending(c->s))) {
        snprintf(err, errlen, "the peer sent more than the protocol allows");
        return -1;
    }
    set_nonblock(c->fd, false);     /* a status flag: the copy shares it */
    fd = fcntl(c->fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "%s", strerror(errno));
        return -1;
    }
    c->released = true;
    return fd;
}

int reloc_stream_key(char hex[RELOC_STREAM_KEY_HEX + 1], char *err, size_t errlen)
{
    unsigned char key[RELOC_STREAM_KEY_HEX / 2];
    int r;

    pthread_once(&tls_once, tls_init);
    if ((r = gnutls_rnd(GNUTLS_RND_KEY, key, sizeof(key))) < 0) {
        snprintf(err, errlen, "cannot make a key for the stream: %s", gnutls_strerror(r));
        return -1;
    }
    for (size_t i = 0; i < sizeof(key); i++)
        snprintf(hex + 2 * i, 3, "%02x", key[i]);
    explicit_bzero(key, sizeof(key));
    return 0;
}

/* GnuTLS's message for r without its final period (ours follow it). */
static const char *gtls_msg(int r, char *buf, size_t size)
{
    size_t n;

    snprintf(buf, size, "%s", gnutls_strerror(r));
    n = strlen(buf);
    if (n && buf[n - 1] == '.')
        buf[n - 1] = '\0';
    return buf;
}

/* An I/O error under TLS: the system's reason when the socket failed. */
static void gtls_io_error(int r, char *err, size_t errlen)
{
    char m[160];

    if ((r == GNUTLS_E_PULL_ERROR || r == GNUTLS_E_PUSH_ERROR) && errno)
        snprintf(err, errlen, "the relocation connection: %s", strerror(errno));
    else
        snprintf(err, errlen, "TLS: %s", gtls_msg(r, m, sizeof(m)));
}

static int gtls_fail(char *err, size_t errlen, const char *what, int r)
{
    char m[160];

    snprintf(err, errlen, "%s: %s", what, gtls_msg(r, m, sizeof(m)));
    return -1;
}

/* The handshake, with a message that says what probably went wrong. */
static int handshake(RelocConn *c, const RelocConf *rc, bool server, int timeout_ms,
                     char *err, size_t errlen)
{
    int r;

    gnutls_handshake_set_timeout(c->s, (unsigned)timeout_ms);
    do {
        r = gnutls_handshake(c->s);
    } while (r < 0 && !gnutls_error_is_fatal(r));
    if (r == 0) {
        char *desc = gnutls_session_get_desc(c->s);
        log_debug("relocation: %s", desc ? desc : "TLS session");
        gnutls_free(desc);
        return 0;
    }
    /* Tell the peer why, so that its message is not just "closed". */
    gnutls_alert_send_appropriate(c->s, r);
    {
        const char *alert = "";
        char hint[PATH_MAX + 96] = "";

        if (r == GNUTLS_E_WARNING_ALERT_RECEIVED || r == GNUTLS_E_FATAL_ALERT_RECEIVED)
            alert = gnutls_alert_get_name(gnutls_alert_get(c->s));
        if (rc->tls == RELOC_TLS_PSK)
            snprintf(hint, sizeof(hint), "; is the relocation key (%.200s) the same on both hosts?",
                     rc->psk_file);
        else if (r == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR || r == GNUTLS_E_CERTIFICATE_ERROR)
            snprintf(hint, sizeof(hint), "; the %s certificate was not accepted",
                     server ? "peer's" : "destination's");
        char m[160];

        snprintf(err, errlen, "TLS handshake failed: %s%s%s%s", gtls_msg(r, m, sizeof(m)),
                 alert && *alert ? " (" : "", alert && *alert ? alert : "",
                 alert && *alert ? ")" : "");
        snprintf(err + strlen(err), errlen - strlen(err), "%s", hint);
    }
    return -1;
}

static RelocConn *conn_new(int fd, const RelocConf *rc, bool server, const char *host,
                           int timeout_ms, char *err, size_t errlen)
{
    RelocConn *c = calloc(1, sizeof(*c));
    int r;

    if (!c) {
        close(fd);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->fd = fd;
    if (rc->tls == RELOC_TLS_NONE)
        return c;
    pthread_once(&tls_once, tls_init);
    /* No session tickets: nothing may follow the answer on the wire but
     * what the VMMs send (rconn_release_fd). */
    if ((r = gnutls_init(&c->s, (server ? GNUTLS_SERVER : GNUTLS_CLIENT) | GNUTLS_NO_SIGNAL |
                                GNUTLS_NO_TICKETS)) < 0) {
        gtls_fail(err, errlen, "TLS", r);
        goto fail;
    }
    gnutls_session_set_ptr(c->s, c);
    if (rc->tls == RELOC_TLS_PSK) {
        char *hex = read_psk_hex(rc->psk_file, err, errlen);
        gnutls_datum_t hd;

        if (!hex)
            goto fail;
        hd.data = (unsigned char *)hex;
        hd.size = (unsigned)strlen(hex);
        if (server) {
            r = gnutls_hex_decode2(&hd, &c->key);
            if (r >= 0 && (r = gnutls_psk_allocate_server_credentials(&c->psk_s)) >= 0) {
                gnutls_psk_set_server_credentials_function(c->psk_s, psk_server_cb);
                r = gnutls_credentials_set(c->s, GNUTLS_CRD_PSK, c->psk_s);
            }
        } else {
            r = gnutls_psk_allocate_client_credentials(&c->psk_c);
            if (r >= 0)
                r = gnutls_psk_set_client_credentials(c->psk_c, RELOC_PSK_IDENTITY, &hd,
                                                      GNUTLS_PSK_KEY_HEX);
            if (r >= 0)
                r = gnutls_credentials_set(c->s, GNUTLS_CRD_PSK, c->psk_c);
        }
        explicit_bzero(hex, strlen(hex));
        free(hex);
        if (r < 0) {
            gtls_fail(err, errlen, "TLS PSK", r);
            goto fail;
        }
        r = gnutls_priority_set_direct(c->s, PRIO_PSK, NULL);
    } else {
        if ((r = gnutls_certificate_allocate_credentials(&c->x509)) < 0 ||
            (r = gnutls_certificate_set_x509_key_file(c->x509, rc->cert_file, rc->key_file,
                                                      GNUTLS_X509_FMT_PEM)) < 0) {
            snprintf(err, errlen, "cannot load the relocation certificate %s and key %s: %s",
                     rc->cert_file, rc->key_file, gnutls_strerror(r));
            goto fail;
        }
        if (rc->ca_file[0]) {
            r = gnutls_certificate_set_x509_trust_file(c->x509, rc->ca_file, GNUTLS_X509_FMT_PEM);
            if (r <= 0) {
                snprintf(err, errlen, "cannot load the relocation CA %s: %s", rc->ca_file,
                         r < 0 ? gnutls_strerror(r) : "no certificate in it");
                goto fail;
            }
            gnutls_session_set_verify_cert(c->s, server ? NULL : host, 0);
            if (server)
                gnutls_certificate_server_set_request(c->s, GNUTLS_CERT_REQUIRE);
        } else if (server) {
            gnutls_certificate_server_set_request(c->s, GNUTLS_CERT_REQUEST);
        }
        if ((r = gnutls_credentials_set(c->s, GNUTLS_CRD_CERTIFICATE, c->x509)) < 0) {
            gtls_fail(err, errlen, "TLS", r);
            goto fail;
        }
        if (!server && host)
            gnutls_server_name_set(c->s, GNUTLS_NAME_DNS, host, strlen(host));
        r = gnutls_priority_set_direct(c->s, PRIO_X509, NULL);
    }
    if (r < 0) {
        gtls_fail(err, errlen, "TLS priorities", r);
        goto fail;
    }
    if (!(c->pull = malloc(PULL_BUF))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    gnutls_transport_set_int(c->s, fd);     /* the push side: send(2) on fd */
    gnutls_transport_set_ptr2(c->s, c, (gnutls_transport_ptr_t)(intptr_t)fd);
    gnutls_transport_set_pull_function(c->s, pull_fn);
    gnutls_transport_set_pull_timeout_function(c->s, pull_timeout_fn);
    if (handshake(c, rc, server, timeout_ms, err, errlen) < 0)
        goto fail;
    return c;
fail:
    conn_free(c);
    return NULL;
}

RelocConn *rconn_client(int fd, const RelocConf *rc, const char *host, int timeout_ms,
                        char *err, size_t errlen)
{
    return conn_new(fd, rc, false, host, timeout_ms, err, errlen);
}

RelocConn *rconn_server(int fd, const RelocConf *rc, int timeout_ms, char *err, size_t errlen)
{
    return conn_new(fd, rc, true, NULL, timeout_ms, err, errlen);
}

/* ---- I/O ---- */

/* Receive: > 0 bytes, 0 end of stream, -EAGAIN, or another -errno
 * (-EPROTO for a TLS error, with err). */
static ssize_t conn_recv(RelocConn *c, void *buf, size_t len, char *err, size_t errlen)
{
    ssize_t n;

    if (!c->s) {
        n = recv(c->fd, buf, len, 0);
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? -EAGAIN : -errno;
        return n;
    }
    n = gnutls_record_recv(c->s, buf, len);
    if (n >= 0)
        return n;
    if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
        return -EAGAIN;
    if (n == GNUTLS_E_PREMATURE_TERMINATION)
        return 0;       /* closed without close_notify: an end all the same */
    gtls_io_error((int)n, err, errlen);
    return -EPROTO;
}

static ssize_t conn_send(RelocConn *c, const void *buf, size_t len, char *err, size_t errlen)
{
    ssize_t n;

    if (!c->s) {
        n = send(c->fd, buf, len, MSG_NOSIGNAL);
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? -EAGAIN : -errno;
        return n;
    }
    n = gnutls_record_send(c->s, buf, len);
    if (n >= 0)
        return n;
    if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
        return -EAGAIN;
    gtls_io_error((int)n, err, errlen);
    return -EPROTO;
}

static int wait_fd(int fd, short ev, uint64_t deadline)
{
    for (;;) {
        struct pollfd p = { .fd = fd, .events = ev };
        uint64_t now = clock_ns();
        int r;

        if (now >= deadline)
            return -ETIMEDOUT;
        r = poll(&p, 1, (int)((deadline - now) / NS_PER_MS) + 1);
        if (r > 0)
            return 0;
        if (r < 0 && errno != EINTR)
            return -errno;
    }
}

int rconn_write_all(RelocConn *c, const void *buf, size_t len, int timeout_ms,
                    char *err, size_t errlen)
{
    uint64_t deadline = clock_ns() + (uint64_t)timeout_ms * NS_PER_MS;
    const char *p = buf;
    int r = 0;

    set_nonblock(c->fd, true);
    while (len) {
        ssize_t n = conn_send(c, p, len, err, errlen);
        if (n == -EAGAIN) {
            if ((r = wait_fd(c->fd, POLLOUT, deadline)) < 0)
                break;
            /* GnuTLS wants the same call again after EAGAIN. */
            continue;
        }
        if (n < 0) {
            r = (int)n;
            break;
        }
        p += n;
        len -= (size_t)n;
    }
    set_nonblock(c->fd, false);
    if (r == -EPROTO)
        return -1;
    if (r < 0) {
        snprintf(err, errlen, "%s", strerror(-r));
        return -1;
    }
    return 0;
}

char *rconn_read_line(RelocConn *c, size_t max, int timeout_ms, size_t *lenp,
                      char *err, size_t errlen)
{
    uint64_t deadline = clock_ns() + (uint64_t)timeout_ms * NS_PER_MS;
    size_t cap = max + IO_CHUNK + 1;
    char *line = NULL, *nl;

    if (!c->in) {
        c->in = malloc(cap);
        if (!c->in) {
            snprintf(err, errlen, "out of memory");
            return NULL;
        }
    } else {
        char *p = realloc(c->in, cap > c->in_len ? cap : c->in_len + 1);
        if (!p) {
            snprintf(err, errlen, "out of memory");
            return NULL;
        }
        c->in = p;
        if (cap < c->in_len + 1)
            cap = c->in_len + 1;
    }
    set_nonblock(c->fd, true);
    while (!(nl = memchr(c->in, '\n', c->in_len))) {
        ssize_t n;
        int r;

        if (c->in_len > max) {
            snprintf(err, errlen, "line longer than %zu bytes", max);
            goto out;
        }
        n = conn_recv(c, c->in + c->in_len, cap - 1 - c->in_len, err, errlen);
        if (n > 0) {
            c->in_len += (size_t)n;
            continue;
        }
        if (n == 0) {
            snprintf(err, errlen, "the peer closed the connection");
            goto out;
        }
        if (n != -EAGAIN) {
            if (n != -EPROTO)
                snprintf(err, errlen, "%s", strerror((int)-n));
            goto out;
        }
        if ((r = wait_fd(c->fd, POLLIN, deadline)) < 0) {
            snprintf(err, errlen, r == -ETIMEDOUT ? "no answer in time" : "%s", strerror(-r));
            goto out;
        }
    }
    {
        size_t len = (size_t)(nl - c->in);
        line = malloc(len + 1);
        if (!line) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        memcpy(line, c->in, len);
        line[len] = '\0';
        c->in_len -= len + 1;
        memmove(c->in, nl + 1, c->in_len);
        if (lenp)
            *lenp = len;
    }
out:
    set_nonblock(c->fd, false);
    return line;
}

int reloc_read_line_raw(int fd, char *buf, size_t size, int timeout_ms, char *err, size_t errlen)
{
    uint64_t deadline = clock_ns() + (uint64_t)timeout_ms * NS_PER_MS;
    size_t n = 0;

    while (n + 1 < size) {
        char ch;
        ssize_t k;
        int r = wait_fd(fd, POLLIN, deadline);

        if (r < 0) {
            snprintf(err, errlen, "%s", r == -ETIMEDOUT ? "no greeting in time" : strerror(-r));
            return -1;
        }
        k = recv(fd, &ch, 1, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            snprintf(err, errlen, "%s", strerror(errno));
            return -1;
        }
        if (k == 0) {
            snprintf(err, errlen, "the peer closed the connection");
            return -1;
        }
        if (ch == '\n') {
            buf[n] = '\0';
            return 0;
        }
        buf[n++] = ch;
    }
    snprintf(err, errlen, "greeting too long");
    return -1;
}
