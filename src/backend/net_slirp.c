/* User-mode networking with libslirp: the guest gets a private 10.0.2.0/24
 * network with DHCP (first lease 10.0.2.15) and a DNS forwarder at 10.0.2.3;
 * host ports can be forwarded to the guest (hostfwd). No root needed.
 *
 * The host's loopback (services that listen on 127.0.0.1 because they
 * trust whoever can reach it) is out of the guest's reach unless the vif
 * says host-loopback=1: libslirp then maps 10.0.2.2 (fec0::2) to it. Without
 * it, libslirp refuses the alias (disable_host_loopback) and we drop the
 * guest's frames addressed to loopback or "this host" addresses
 * themselves (127.0.0.0/8, 0.0.0.0/8, ::1, ::, IPv4-mapped forms), which
 * libslirp would otherwise connect to as given.
 *
 * libslirp owns its sockets; we plug it into the Loop with a poll hook
 * (slirp_pollfds_fill / slirp_pollfds_poll) and run its timers from the
 * same hook. Frames for the guest arrive through send_packet(); while the
 * device has no rx buffers they wait in a short queue (slirp itself would
 * just drop them, which costs TCP a retransmission timeout). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <slirp/libslirp.h>

#include "backend/net.h"
#include "common/config.h"
#include "common/log.h"
#include "common/util.h"

#define SLIRP_QUEUE_MAX   128          /* frames held while the guest is busy */
#define SLIRP_QUEUE_BYTES (512 * 1024)

typedef struct SlirpTimer {
    struct SlirpTimer *next;
    SlirpTimerCb cb;                   /* timer_new() style, or NULL */
    SlirpTimerId id;                   /* timer_new_opaque() style */
    void *cb_opaque;
    int64_t expire_ms;                 /* -1: not armed */
} SlirpTimer;

typedef struct QueuedFrame {
    size_t len;
    uint8_t data[];
} QueuedFrame;

typedef struct NetSlirp {
    NetBackend nb;
    Loop *loop;
    Slirp *slirp;
    SlirpTimer *timers;
    QueuedFrame *queue[SLIRP_QUEUE_MAX];
    unsigned q_head, q_count;
    size_t q_bytes;
    bool flushing;
    bool prepared;                     /* hook_prepare ran this Loop turn */
    bool host_loopback;                /* the vif allows the host's loopback */
    uint8_t txbuf[NET_MAX_FRAME];
} NetSlirp;

static int64_t now_ms(void)
{
    return (int64_t)(clock_ns() / 1000000);
}

/* ---- frames for the guest */

static void flush_queue(NetSlirp *s)
{
    NetClient *c = &s->nb.client;

    /* receive() may call back into rx_resume (through the device): don't
     * recurse. */
    if (s->flushing)
        return;
    s->flushing = true;
    while (s->q_count && net_client_ready(c)) {
        QueuedFrame *f = s->queue[s->q_head];
        s->queue[s->q_head] = NULL;
        s->q_head = (s->q_head + 1) % SLIRP_QUEUE_MAX;
        s->q_count--;
        s->q_bytes -= f->len;
        c->receive(c->opaque, f->data, f->len);
        free(f);
    }
    s->flushing = false;
}

static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
    NetSlirp *s = opaque;
    NetClient *c = &s->nb.client;
    QueuedFrame *f;

    if (!s->q_count && !s->flushing && net_client_ready(c)) {
        c->receive(c->opaque, buf, len);
        return (ssize_t)len;
    }
    if (s->q_count == SLIRP_QUEUE_MAX || s->q_bytes + len > SLIRP_QUEUE_BYTES)
        return (ssize_t)len;           /* dropped, as a full NIC would */
    f = malloc(sizeof(*f) + len);
    if (!f)
        return (ssize_t)len;
    f->len = len;
    memcpy(f->data, buf, len);
    s->queue[(s->q_head + s->q_count) % SLIRP_QUEUE_MAX] = f;
    s->q_count++;
    s->q_bytes += len;
    return (ssize_t)len;
}

static void cb_guest_error(const char *msg, void *opaque)
{
    log_debug_rl("slirp: guest error: %s", msg);
}

static int64_t cb_clock_get_ns(void *opaque)
{
    return (int64_t)clock_ns();
}

/* ---- timers */

static SlirpTimer *timer_add(NetSlirp *s)
{
    SlirpTimer *t = calloc(1, sizeof(*t));

    if (!t)
        return NULL;      /* slirp treats a NULL timer as absent */
    t->expire_ms = -1;
    t->next = s->timers;
    s->timers = t;
    return t;
}

static void *cb_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
    SlirpTimer *t = timer_add(opaque);

    if (t) {
        t->cb = cb;
        t->cb_opaque = cb_opaque;
    }
    return t;
}

static void *cb_timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
    SlirpTimer *t = timer_add(opaque);

    if (t) {
        t->id = id;
        t->cb_opaque = cb_opaque;
    }
    return t;
}

static void cb_timer_free(void *timer, void *opaque)
{
    NetSlirp *s = opaque;

    for (SlirpTimer **p = &s->timers; *p; p = &(*p)->next) {
        if (*p == timer) {
            *p = (*p)->next;
            free(timer);
            return;
        }
    }
}

static void cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
    NetSlirp *s = opaque;
    SlirpTimer *t = timer;

    if (t) {
        t->expire_ms = expire_ms < 0 ? 0 : expire_ms;
        loop_wakeup(s->loop);    /* the poll timeout may need lowering */
    }
}

/* Fire expired timers. A handler may re-arm or free timers, so rescan from
 * the start after each one. */
static void run_timers(NetSlirp *s)
{
    int64_t now = now_ms();
    bool fired;

    do {
        fired = false;
        for (SlirpTimer *t = s->timers; t; t = t->next) {
            if (t->expire_ms < 0 || t->expire_ms > now)
                continue;
            t->expire_ms = -1;
            if (t->cb)
                t->cb(t->cb_opaque);
            else
                slirp_handle_timer(s->slirp, t->id, t->cb_opaque);
            fired = true;
            break;
        }
    } while (fired);
}

static void cb_register_poll_fd(int fd, void *opaque) { }
static void cb_unregister_poll_fd(int fd, void *opaque) { }

static void cb_notify(void *opaque)
{
    NetSlirp *s = opaque;
    loop_wakeup(s->loop);
}

static const SlirpCb slirp_callbacks = {
    .send_packet = cb_send_packet,
    .guest_error = cb_guest_error,
    .clock_get_ns = cb_clock_get_ns,
    .timer_new = cb_timer_new,
    .timer_free = cb_timer_free,
    .timer_mod = cb_timer_mod,
    .register_poll_fd = cb_register_poll_fd,
    .unregister_poll_fd = cb_unregister_poll_fd,
    .notify = cb_notify,
    .timer_new_opaque = cb_timer_new_opaque,
};

/* ---- Loop integration */

static int add_poll(int fd, int events, void *opaque)
{
    NetSlirp *s = opaque;
    short ev = 0;

    if (events & SLIRP_POLL_IN)
        ev |= POLLIN;
    if (events & SLIRP_POLL_OUT)
        ev |= POLLOUT;
    if (events & SLIRP_POLL_PRI)
        ev |= POLLPRI;
    return loop_hook_add_pollfd(s->loop, fd, ev);
}

static int get_revents(int idx, void *opaque)
{
    NetSlirp *s = opaque;
    short re = loop_hook_revents(s->loop, idx);
    int ev = 0;

    if (re & POLLIN)
        ev |= SLIRP_POLL_IN;
    if (re & POLLOUT)
        ev |= SLIRP_POLL_OUT;
    if (re & POLLPRI)
        ev |= SLIRP_POLL_PRI;
    if (re & (POLLERR | POLLNVAL))
        ev |= SLIRP_POLL_ERR;
    if (re & POLLHUP)
        ev |= SLIRP_POLL_HUP;
    return ev;
}

static int revents_none(int idx, void *opaque)
{
    return 0;
}

static void hook_prepare(void *opaque, Loop *l, int *timeout_ms)
{
    NetSlirp *s = opaque;
    uint32_t t = *timeout_ms < 0 ? UINT32_MAX : (uint32_t)*timeout_ms;
    int64_t now = now_ms();

    slirp_pollfds_fill(s->slirp, &t, add_poll, s);
    s->prepared = true;
    for (SlirpTimer *tm = s->timers; tm; tm = tm->next) {
        if (tm->expire_ms < 0)
            continue;
        int64_t d = tm->expire_ms - now;
        if (d < 0)
            d = 0;
        if ((uint64_t)d < t)
            t = (uint32_t)d;
    }
    *timeout_ms = t >= (uint32_t)INT32_MAX ? -1 : (int)t;
}

static void hook_dispatch(void *opaque, Loop *l)
{
    NetSlirp *s = opaque;

    /* A hook added during this Loop turn gets dispatch() without prepare():
     * its poll indices would be stale then. */
    if (s->prepared)
        slirp_pollfds_poll(s->slirp, 0, get_revents, s);
    s->prepared = false;
    run_timers(s);
    flush_queue(s);
}

/* ---- the host's loopback */

#define ETH_HLEN_ 14
#define ETH_P_IP_ 0x0800
#define ETH_P_IPV6_ 0x86dd
#define ETH_P_8021Q_ 0x8100

static bool ipv4_is_host_local(const uint8_t a[4])
{
    return a[0] == 127 || a[0] == 0;   /* loopback, "this host" */
}

static bool ipv6_is_host_local(const uint8_t a[16])
{
    static const uint8_t zero[15] = { 0 };
    static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

    if (!memcmp(a, zero, 15) && (a[15] == 0 || a[15] == 1))   /* ::, ::1 */
        return true;
    if (!memcmp(a, mapped, 12) || !memcmp(a, zero, 12))       /* ::ffff:a.b.c.d, ::a.b.c.d */
        return ipv4_is_host_local(a + 12);
    return false;
}

/* True if a frame from the guest is addressed to the host itself rather
 * than through it. */
bool net_slirp_frame_to_host_loopback(const uint8_t *f, size_t len)
{
    size_t off = 12;
    unsigned type;

    if (len < ETH_HLEN_)
        return false;
    type = (unsigned)f[off] << 8 | f[off + 1];
    while (type == ETH_P_8021Q_ && len >= off + 6) {   /* VLAN tags */
        off += 4;
        type = (unsigned)f[off] << 8 | f[off + 1];
    }
    off += 2;
    if (type == ETH_P_IP_ && len >= off + 20)
        return ipv4_is_host_local(f + off + 16);
    if (type == ETH_P_IPV6_ && len >= off + 40)
        return ipv6_is_host_local(f + off + 24);
    return false;
}

/* ---- backend ops */

static int slirp_send(NetBackend *nb, const struct iovec *iov, unsigned n, size_t len)
{
    NetSlirp *s = (NetSlirp *)nb;
    size_t got = 0;

    if (len > sizeof(s->txbuf))
        return -1;
    for (unsigned i = 0; i < n && got < len; i++) {
        size_t c = MIN(iov[i].iov_len, len - got);
        memcpy(s->txbuf + got, iov[i].iov_base, c);
        got += c;
    }
    if (!s->host_loopback && net_slirp_frame_to_host_loopback(s->txbuf, got))
        return -1;
    slirp_input(s->slirp, s->txbuf, (int)got);
    return 0;
}

static void slirp_rx_resume(NetBackend *nb)
{
    flush_queue((NetSlirp *)nb);
}

static void slirp_close(NetBackend *nb)
{
    NetSlirp *s = (NetSlirp *)nb;

    /* The Loop has no way to drop a hook, so the owner must stop the Loop
     * before closing its backends. */
    if (s->slirp)
        slirp_cleanup(s->slirp);
    while (s->timers) {
        SlirpTimer *t = s->timers;
        s->timers = t->next;
        free(t);
    }
    while (s->q_count) {
        free(s->queue[s->q_head]);
        s->q_head = (s->q_head + 1) % SLIRP_QUEUE_MAX;
        s->q_count--;
    }
    free(s);
}

static const NetBackendOps slirp_ops = {
    .name = "user",
    .send = slirp_send,
    .rx_resume = slirp_rx_resume,
    .close = slirp_close,
    /* No inject: nothing outside this process could hear an announce. */
};

static int add_hostfwd(NetSlirp *s, const CfgFwd *f, char *err, size_t errlen)
{
    const char *haddr = f->host_addr[0] ? f->host_addr : "127.0.0.1";
    const char *proto = f->udp ? "udp" : "tcp";
    struct in_addr host, guest = { .s_addr = 0 };  /* 0: the first DHCP lease */

    if (inet_pton(AF_INET, haddr, &host) != 1) {
        snprintf(err, errlen, "hostfwd %s:%s:%u: '%s' is not an IPv4 address",
                 proto, haddr, f->host_port, haddr);
        return -1;
    }
    if (!f->guest_port) {
        snprintf(err, errlen, "hostfwd %s:%s:%u: guest port missing",
                 proto, haddr, f->host_port);
        return -1;
    }
    errno = 0;
    if (slirp_add_hostfwd(s->slirp, f->udp, host, f->host_port, guest, f->guest_port) < 0) {
        int e = errno;
        snprintf(err, errlen, "hostfwd %s:%s:%u: cannot listen on the host port%s%s",
                 proto, haddr, f->host_port, e ? ": " : "", e ? strerror(e) : "");
        return -1;
    }
    return 0;
}

NetBackend *net_slirp_create(Loop *loop, const CfgNic *nic, char *err, size_t errlen)
{
    SlirpConfig cfg = { 0 };
    NetSlirp *s;
    LoopHook hook;

    if (!loop) {
        snprintf(err, errlen, "user network: internal error (no event loop)");
        return NULL;
    }
    if (nic->nfwd > CFG_MAX_FWDS) {
        snprintf(err, errlen, "user network: too many hostfwd entries");
        return NULL;
    }
    s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "user network: out of memory");
        return NULL;
    }
    s->nb.ops = &slirp_ops;
    s->loop = loop;

    cfg.version = 4;
    cfg.restricted = 0;
    cfg.in_enabled = true;
    inet_pton(AF_INET, "10.0.2.0", &cfg.vnetwork);
    inet_pton(AF_INET, "255.255.255.0", &cfg.vnetmask);
    inet_pton(AF_INET, "10.0.2.2", &cfg.vhost);
    inet_pton(AF_INET, "10.0.2.15", &cfg.vdhcp_start);
    inet_pton(AF_INET, "10.0.2.3", &cfg.vnameserver);
    /* IPv6 too, as QEMU does: fec0::/64, host fec0::2, DNS fec0::3. */
    cfg.in6_enabled = true;
    inet_pton(AF_INET6, "fec0::", &cfg.vprefix_addr6);
    cfg.vprefix_len = 64;
    inet_pton(AF_INET6, "fec0::2", &cfg.vhost6);
    inet_pton(AF_INET6, "fec0::3", &cfg.vnameserver6);
    cfg.vhostname = "xeno";
    /* 10.0.2.2 reaches the host's loopback only if the vif says so */
    cfg.disable_host_loopback = !nic->host_loopback;
    s->host_loopback = nic->host_loopback;
    cfg.enable_emu = false;

    s->slirp = slirp_new(&cfg, &slirp_callbacks, s);
    if (!s->slirp) {
        snprintf(err, errlen, "user network: cannot start libslirp");
        slirp_close(&s->nb);
        return NULL;
    }
    /* libslirp keeps its notion of "now" (used to expire UDP sockets) in a
     * process-wide variable that only slirp_pollfds_poll refreshes and that
     * starts at 0. A UDP socket the guest opens before the Loop's first
     * turn would expire at once. Refresh it now: there are no sockets yet,
     * and select_error=1 skips the socket checks. */
    slirp_pollfds_poll(s->slirp, 1, revents_none, s);
    for (unsigned i = 0; i < nic->nfwd; i++) {
        if (add_hostfwd(s, &nic->fwd[i], err, errlen) < 0) {
            slirp_close(&s->nb);
            return NULL;
        }
    }
    hook.prepare = hook_prepare;
    hook.dispatch = hook_dispatch;
    hook.opaque = s;
    if (loop_add_hook(loop, &hook) < 0) {
        snprintf(err, errlen, "user network: too many network devices on the event loop");
        slirp_close(&s->nb);
        return NULL;
    }
    return &s->nb;
}
