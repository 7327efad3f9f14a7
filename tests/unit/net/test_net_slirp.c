/* The libslirp backend exchanging real frames: a Loop runs in a thread as
 * in xeno-vmm, the test plays the guest (and the host's services). Also the
 * whole path through the virtio-net device, with rings in guest RAM. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "backend/net.h"
#include "common/config.h"
#include "common/log.h"
#include "common/loop.h"
#include "hw/virtio/devices.h"
#include "hw/virtio/virtio_mmio.h"
#include "frames.h"
#include "guest_ring.h"

#define MAX_FRAMES 64

typedef struct Env {
    pthread_mutex_t lock;    /* the "device lock" */
    Loop *loop;
    pthread_t thread;
    NetBackend *nb;
    int accepting;
    struct { uint8_t *data; size_t len; } rx[MAX_FRAMES];
    unsigned nrx;
} Env;

static int env_can_receive(void *opaque)
{
    return ((Env *)opaque)->accepting;
}

static void env_receive(void *opaque, const uint8_t *frame, size_t len)
{
    Env *e = opaque;

    if (e->nrx == MAX_FRAMES)
        return;
    e->rx[e->nrx].data = malloc(len);
    memcpy(e->rx[e->nrx].data, frame, len);
    e->rx[e->nrx].len = len;
    e->nrx++;
}

static void *loop_thread(void *opaque)
{
    loop_run(opaque);
    return NULL;
}

static Env *env_start(void)
{
    Env *e = calloc(1, sizeof(*e));

    pthread_mutex_init(&e->lock, NULL);
    e->loop = loop_new(&e->lock);
    assert_non_null(e->loop);
    e->accepting = 1;
    assert_int_equal(pthread_create(&e->thread, NULL, loop_thread, e->loop), 0);
    return e;
}

static NetBackend *env_open(Env *e, const CfgNic *nic, char *err, size_t errlen)
{
    NetClient c = { env_can_receive, env_receive, e };
    NetBackend *nb;

    pthread_mutex_lock(&e->lock);
    nb = net_slirp_create(e->loop, nic, err, errlen);
    if (nb)
        net_attach(nb, &c);
    pthread_mutex_unlock(&e->lock);
    return nb;
}

static void env_stop(Env *e)
{
    loop_quit(e->loop);
    pthread_join(e->thread, NULL);
    net_close(e->nb);
    loop_free(e->loop);
    for (unsigned i = 0; i < e->nrx; i++)
        free(e->rx[i].data);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

static void env_send(Env *e, const uint8_t *f, size_t len)
{
    struct iovec iov = { (void *)f, len };

    pthread_mutex_lock(&e->lock);
    assert_int_equal(net_send(e->nb, &iov, 1, len), 0);
    pthread_mutex_unlock(&e->lock);
}

typedef bool (*frame_pred)(const uint8_t *f, size_t len, void *arg);

/* Wait up to 5 s for a received frame matching pred; returns its index. */
static int env_wait(Env *e, frame_pred pred, void *arg)
{
    for (int ms = 0; ms < 5000; ms += 5) {
        pthread_mutex_lock(&e->lock);
        for (unsigned i = 0; i < e->nrx; i++) {
            if (pred(e->rx[i].data, e->rx[i].len, arg)) {
                pthread_mutex_unlock(&e->lock);
                return (int)i;
            }
        }
        pthread_mutex_unlock(&e->lock);
        usleep(5000);
    }
    return -1;
}

/* ---- predicates */

static bool is_arp_reply_from_host(const uint8_t *f, size_t len, void *arg)
{
    return len >= 42 && get16be(f + 12) == 0x0806 && get16be(f + 20) == 2 &&
           is_ip(f + 28, "10.0.2.2") && !memcmp(f + 32, test_mac, 6);
}

static bool is_dhcp_offer(const uint8_t *f, size_t len, void *arg)
{
    UdpView v = { 0 };
    uint8_t olen;
    const uint8_t *t;

    if (!parse_udp(f, len, &v) || v.sport != 67 || v.dport != 68 || v.dlen < 240)
        return false;
    t = dhcp_option(v.data, v.dlen, 53, &olen);
    return v.data[0] == 2 && t && olen == 1 && t[0] == 2;   /* BOOTREPLY, OFFER */
}

typedef struct UdpMatch {
    uint16_t sport, dport;
    const char *payload;
} UdpMatch;

static bool is_udp_match(const uint8_t *f, size_t len, void *arg)
{
    UdpMatch *m = arg;
    UdpView v = { 0 };

    return parse_udp(f, len, &v) && v.sport == m->sport && v.dport == m->dport &&
           v.dlen == strlen(m->payload) && !memcmp(v.data, m->payload, v.dlen) &&
           is_ip(v.ip + 12, "10.0.2.2") && is_ip(v.ip + 16, "10.0.2.15") &&
           !memcmp(f, test_mac, 6);
}

static bool is_tcp_syn_to_80(const uint8_t *f, size_t len, void *arg)
{
    if (len < 14 + 20 + 20 || get16be(f + 12) != 0x0800 || f[14 + 9] != 6)
        return false;
    const uint8_t *ip = f + 14, *tcp = ip + (ip[0] & 15) * 4;
    return is_ip(ip + 16, "10.0.2.15") && get16be(tcp + 2) == 80 &&
           (tcp[13] & 0x02) && !memcmp(f, test_mac, 6);
}

/* ---- helpers */

static uint16_t free_port(int type)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t l = sizeof(a);
    int s = socket(AF_INET, type, 0);

    assert_true(s >= 0);
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &l), 0);
    close(s);
    return ntohs(a.sin_port);
}

/* DHCP: get 10.0.2.15 and let slirp learn our MAC. */
static void do_dhcp(Env *e)
{
    uint8_t f[600];
    size_t len = build_dhcp_discover(f, 0xC0FFEE);
    UdpView v = { 0 };
    uint8_t olen;
    const uint8_t *o;

    env_send(e, f, len);
    int i = env_wait(e, is_dhcp_offer, NULL);
    assert_true(i >= 0);
    assert_true(parse_udp(e->rx[i].data, e->rx[i].len, &v));
    assert_true(is_ip(v.data + 16, "10.0.2.15"));           /* yiaddr */
    assert_int_equal((uint32_t)get16be(v.data + 4) << 16 | get16be(v.data + 6), 0xC0FFEE);
    o = dhcp_option(v.data, v.dlen, 3, &olen);               /* router */
    assert_non_null(o);
    assert_true(is_ip(o, "10.0.2.2"));
    o = dhcp_option(v.data, v.dlen, 6, &olen);               /* DNS */
    assert_non_null(o);
    assert_true(is_ip(o, "10.0.2.3"));
}

/* ---- tests */

static void test_arp_reply(void **state)
{
    Env *e = env_start();
    CfgNic nic = { .type = CFG_NET_USER };
    char err[256] = "";
    uint8_t f[60];

    e->nb = env_open(e, &nic, err, sizeof(err));
    assert_non_null(e->nb);
    env_send(e, f, build_arp_request(f, "10.0.2.15", "10.0.2.2"));
    assert_true(env_wait(e, is_arp_reply_from_host, NULL) >= 0);
    env_stop(e);
}

static void test_dhcp_offer(void **state)
{
    Env *e = env_start();
    CfgNic nic = { .type = CFG_NET_USER };
    char err[256] = "";

    e->nb = env_open(e, &nic, err, sizeof(err));
    assert_non_null(e->nb);
    do_dhcp(e);
    env_stop(e);
}

/* Guest -> 10.0.2.2:port reaches a UDP service on the host's loopback when
 * the vif allows it (host-loopback=1), and its answer comes back to the
 * guest through the Loop's poll hook. */
static void test_udp_to_host_service(void **state)
{
    Env *e = env_start();
    CfgNic nic = { .type = CFG_NET_USER, .host_loopback = true };
    char err[256] = "", buf[64];
    uint8_t f[200];
    static const uint8_t slirp_mac[6] = { 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02 };
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    struct sockaddr_in from;
    socklen_t fl = sizeof(from);
    struct timeval tv = { 5, 0 };
    int s = socket(AF_INET, SOCK_DGRAM, 0);

    assert_true(s >= 0);
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t al = sizeof(a);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &al), 0);
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    uint16_t port = ntohs(a.sin_port);

    e->nb = env_open(e, &nic, err, sizeof(err));
    assert_non_null(e->nb);
    do_dhcp(e);

    env_send(e, f, build_udp(f, slirp_mac, "10.0.2.15", 5000, "10.0.2.2", port, "ping", 4));
    ssize_t n = recvfrom(s, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
    assert_int_equal(n, 4);
    assert_memory_equal(buf, "ping", 4);
    assert_int_equal(sendto(s, "pong!", 5, 0, (struct sockaddr *)&from, fl), 5);

    UdpMatch m = { port, 5000, "pong!" };
    if (env_wait(e, is_udp_match, &m) < 0) {
        pthread_mutex_lock(&e->lock);
        for (unsigned i = 0; i < e->nrx; i++) {
            printf("frame %u len %zu:", i, e->rx[i].len);
            for (size_t j = 0; j < e->rx[i].len && j < 64; j++)
                printf(" %02x", e->rx[i].data[j]);
            printf("\n");
        }
        pthread_mutex_unlock(&e->lock);
        fail_msg("no UDP reply for the guest");
    }
    close(s);
    env_stop(e);
}

/* Without host-loopback=1 neither 10.0.2.2 nor the loopback address
 * itself reaches a service on the host's 127.0.0.1. */
static void test_host_loopback_refused(void **state)
{
    Env *e = env_start();
    CfgNic nic = { .type = CFG_NET_USER };
    char err[256] = "", buf[64];
    uint8_t f[200];
    static const uint8_t slirp_mac[6] = { 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02 };
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    struct timeval tv = { 1, 0 };
    socklen_t al = sizeof(a);
    int s = socket(AF_INET, SOCK_DGRAM, 0);

    assert_true(s >= 0);
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &al), 0);
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    uint16_t port = ntohs(a.sin_port);

    e->nb = env_open(e, &nic, err, sizeof(err));
    assert_non_null(e->nb);
    do_dhcp(e);
    env_send(e, f, build_udp(f, slirp_mac, "10.0.2.15", 5000, "10.0.2.2", port, "ping", 4));
    /* addressed to the host itself: dropped on the way in */
    for (int i = 0; i < 2; i++) {
        struct iovec iov = { f, build_udp(f, slirp_mac, "10.0.2.15", 5001,
                                          i ? "0.0.0.0" : "127.0.0.1", port, "ping", 4) };

        pthread_mutex_lock(&e->lock);
        assert_int_equal(net_send(e->nb, &iov, 1, iov.iov_len), -1);
        pthread_mutex_unlock(&e->lock);
    }
    assert_int_equal(recv(s, buf, sizeof(buf), 0), -1);
    close(s);
    env_stop(e);
}

/* The frames the user network drops without host-loopback=1. */
static void test_host_loopback_frames(void **state)
{
    static const uint8_t mac[6] = { 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02 };
    uint8_t f[200];
    size_t n;

    n = build_udp(f, mac, "10.0.2.15", 1, "127.0.0.1", 2, "x", 1);
    assert_true(net_slirp_frame_to_host_loopback(f, n));
    n = build_udp(f, mac, "10.0.2.15", 1, "127.1.2.3", 2, "x", 1);
    assert_true(net_slirp_frame_to_host_loopback(f, n));
    n = build_udp(f, mac, "10.0.2.15", 1, "0.0.0.0", 2, "x", 1);
    assert_true(net_slirp_frame_to_host_loopback(f, n));
    n = build_udp(f, mac, "10.0.2.15", 1, "10.0.2.2", 2, "x", 1);
    assert_false(net_slirp_frame_to_host_loopback(f, n));   /* libslirp refuses it */
    n = build_udp(f, mac, "10.0.2.15", 1, "93.184.216.34", 2, "x", 1);
    assert_false(net_slirp_frame_to_host_loopback(f, n));
    assert_false(net_slirp_frame_to_host_loopback(f, 10));

    /* IPv6: ::1, ::, ::ffff:127.0.0.1 */
    memset(f, 0, sizeof(f));
    f[12] = 0x86;
    f[13] = 0xdd;
    f[14] = 0x60;
    f[14 + 24 + 15] = 1;
    assert_true(net_slirp_frame_to_host_loopback(f, 14 + 40));
    f[14 + 24 + 15] = 0;
    assert_true(net_slirp_frame_to_host_loopback(f, 14 + 40));
    f[14 + 24 + 10] = f[14 + 24 + 11] = 0xff;
    f[14 + 24 + 12] = 127;
    f[14 + 24 + 15] = 1;
    assert_true(net_slirp_frame_to_host_loopback(f, 14 + 40));
    f[14 + 24 + 12] = 8;
    assert_false(net_slirp_frame_to_host_loopback(f, 14 + 40));
    f[14 + 24] = 0xfe;                                      /* fe.. : not loopback */
    f[14 + 24 + 12] = 127;
    assert_false(net_slirp_frame_to_host_loopback(f, 14 + 40));
}

/* hostfwd: a connection to the forwarded host port becomes a SYN to the
 * guest's port 80. */
static void test_hostfwd_tcp(void **state)
{
    Env *e = env_start();
    CfgNic nic = { .type = CFG_NET_USER, .nfwd = 1 };
    char err[256] = "";
    uint16_t port = free_port(SOCK_STREAM);

    nic.fwd[0] = (CfgFwd){ .udp = false, .host_port = port, .guest_port = 80 };
    e->nb = env_open(e, &nic, err, sizeof(err));
    assert_non_null(e->nb);
    do_dhcp(e);

    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int s = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s >= 0);
    assert_int_equal(connect(s, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_true(env_wait(e, is_tcp_syn_to_80, NULL) >= 0);
    close(s);
    env_stop(e);
}

static void test_hostfwd_port_busy(void **state)
{
    Env *e = env_start();
    CfgNic nic = { .type = CFG_NET_USER, .nfwd = 1 };
    char err[256] = "";
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof(a);
    int s = socket(AF_INET, SOCK_STREAM, 0);

    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(s, 1), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &al), 0);
    nic.fwd[0] = (CfgFwd){ .host_port = ntohs(a.sin_port), .guest_port = 22 };
    assert_null(env_open(e, &nic, err, sizeof(err)));
    assert_non_null(strstr(err, "cannot listen"));
    assert_null(strchr(err, '\n'));

    nic.fwd[0] = (CfgFwd){ .host_addr = "not-an-ip", .host_port = 1, .guest_port = 22 };
    assert_null(env_open(e, &nic, err, sizeof(err)));
    assert_non_null(strstr(err, "not an IPv4 address"));
    close(s);
    env_stop(e);
}

/* While the device cannot receive, frames wait; rx_resume delivers them. */
static void test_queue_while_busy(void **state)
{
    Env *e = env_start();
    CfgNic nic = { .type = CFG_NET_USER };
    char err[256] = "";
    uint8_t f[60];

    e->nb = env_open(e, &nic, err, sizeof(err));
    assert_non_null(e->nb);
    pthread_mutex_lock(&e->lock);
    e->accepting = 0;
    pthread_mutex_unlock(&e->lock);
    env_send(e, f, build_arp_request(f, "10.0.2.15", "10.0.2.2"));
    usleep(50000);
    pthread_mutex_lock(&e->lock);
    assert_int_equal(e->nrx, 0);
    e->accepting = 1;
    net_rx_resume(e->nb);
    assert_int_equal(e->nrx, 1);
    pthread_mutex_unlock(&e->lock);
    assert_true(env_wait(e, is_arp_reply_from_host, NULL) >= 0);
    env_stop(e);
}

/* ---- the whole path: virtio-net rings <-> device <-> slirp */

static unsigned full_irqs;
static void full_irq(VirtioDevice *vd) { if (vd->isr) full_irqs++; }

static void test_virtio_net_dhcp_end_to_end(void **state)
{
    Env *e = env_start();
    GuestMem mem = { 0 };
    CfgNic nic = { .type = CFG_NET_USER, .mac_set = true };
    char err[256] = "";
    GRing rx, tx;
    VirtioDevice *vd;
    uint64_t bufs = G_RAM_BASE + 0x10000;

    memcpy(nic.mac, test_mac, 6);
    assert_int_equal(gmem_add_ram(&mem, G_RAM_BASE, G_RAM_SIZE), 0);
    pthread_mutex_lock(&e->lock);
    vd = virtio_net_create(&mem, net_open(e->loop, &nic, err, sizeof(err)), nic.mac,
                           err, sizeof(err));
    assert_non_null(vd);
    vd->update_irq = full_irq;
    g_driver_ok(vd, (1ull << 15) | (1ull << 5) | (1ull << 16));
    gring_setup(&rx, vd, 0, G_RAM_BASE);
    gring_setup(&tx, vd, 1, G_RAM_BASE + 0x1000);
    for (unsigned i = 0; i < 8; i++) {
        GBuf b[1] = { { bufs + 0x1000 * i, 2048, true } };
        gring_add(&rx, b, 1);
    }
    vd->ops->activate(vd);
    vd->ops->queue_notify(vd, 0);

    /* The guest transmits a DHCPDISCOVER: 12-byte header + frame. */
    uint64_t txb = bufs + 0x20000;
    uint8_t *p = gmem_ptr(&mem, txb, 12 + 600);
    memset(p, 0, 12);
    size_t flen = build_dhcp_discover(p + 12, 0xABCD1234);
    GBuf tb[1] = { { txb, (uint32_t)(12 + flen), false } };
    /* Put the tx chain at a different descriptor index than any rx one. */
    tx.next_desc = 5;
    uint16_t txhead = gring_add(&tx, tb, 1);
    vd->ops->queue_notify(vd, 1);
    pthread_mutex_unlock(&e->lock);

    /* The offer lands in an rx buffer with a virtio-net header. */
    bool found = false;
    for (int ms = 0; ms < 5000 && !found; ms += 5) {
        pthread_mutex_lock(&e->lock);
        for (uint16_t i = 0; i < gring_used_idx(&rx); i++) {
            uint32_t id, len;
            gring_used(&rx, i, &id, &len);
            assert_true(id < 8);
            uint8_t *b = gmem_ptr(&mem, bufs + 0x1000 * id, 2048);
            assert_true(len >= 12 && len <= 2048);
            assert_int_equal(ld16(b + 10), 1);                /* num_buffers */
            if (is_dhcp_offer(b + 12, len - 12, NULL)) {
                UdpView v = { 0 };
                parse_udp(b + 12, len - 12, &v);
                assert_true(is_ip(v.data + 16, "10.0.2.15"));
                found = true;
            }
        }
        pthread_mutex_unlock(&e->lock);
        if (!found)
            usleep(5000);
    }
    assert_true(found);
    assert_true(full_irqs > 0);
    assert_int_equal(gring_used_idx(&tx), 1);
    uint32_t txid, txlen;
    gring_used(&tx, 0, &txid, &txlen);
    assert_int_equal(txid, txhead);   /* the reply arrived mid-tx: no mixup */

    loop_quit(e->loop);
    pthread_join(e->thread, NULL);
    virtio_device_destroy(vd);
    e->nb = NULL;
    loop_free(e->loop);
    pthread_mutex_destroy(&e->lock);
    free(e);
    gmem_free(&mem);
}

/* The same through the virtio-mmio transport, as a driver does it: status
 * handshake, feature negotiation (with EVENT_IDX), queue setup, config
 * space, notify and interrupt registers. */
static int irq_level;
static void set_level(void *ctrl, unsigned irq, int level) { irq_level = level; }

static void test_virtio_mmio_dhcp(void **state)
{
    Env *e = env_start();
    GuestMem mem = { 0 };
    CfgNic nic = { .type = CFG_NET_USER, .mac_set = true };
    char err[256] = "";
    VirtioDevice *vd;
    VirtioMmio *m;
    uint64_t bufs = G_RAM_BASE + 0x10000, qbase[2] = { G_RAM_BASE, G_RAM_BASE + 0x1000 };
    GRing ring[2];
    IrqLine irq = { set_level, NULL, 7 };

    memcpy(nic.mac, test_mac, 6);
    assert_int_equal(gmem_add_ram(&mem, G_RAM_BASE, G_RAM_SIZE), 0);
    pthread_mutex_lock(&e->lock);
    vd = virtio_net_create(&mem, net_open(e->loop, &nic, err, sizeof(err)), nic.mac,
                           err, sizeof(err));
    assert_non_null(vd);
    m = virtio_mmio_create(NULL, 0, irq, vd);
    assert_non_null(m);

    assert_int_equal(virtio_mmio_read(m, VIRTIO_MMIO_DEVICE_ID, 4), VIRTIO_ID_NET);
    virtio_mmio_write(m, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE, 4);
    virtio_mmio_write(m, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, 4);
    virtio_mmio_write(m, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0, 4);
    uint64_t f = virtio_mmio_read(m, VIRTIO_MMIO_DEVICE_FEATURES, 4);
    virtio_mmio_write(m, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1, 4);
    f |= virtio_mmio_read(m, VIRTIO_MMIO_DEVICE_FEATURES, 4) << 32;
    uint64_t want = (1ull << 5) | (1ull << 15) | (1ull << 16) |
                    (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_RING_EVENT_IDX);
    assert_int_equal(f & want, want);
    virtio_mmio_write(m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0, 4);
    virtio_mmio_write(m, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)want, 4);
    virtio_mmio_write(m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1, 4);
    virtio_mmio_write(m, VIRTIO_MMIO_DRIVER_FEATURES, want >> 32, 4);
    virtio_mmio_write(m, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                      VIRTIO_STATUS_FEATURES_OK, 4);
    assert_true(virtio_mmio_read(m, VIRTIO_MMIO_STATUS, 4) & VIRTIO_STATUS_FEATURES_OK);
    for (unsigned q = 0; q < 2; q++) {
        GRing *r = &ring[q];
        memset(r, 0, sizeof(*r));
        r->mem = &mem;
        r->num = G_QSIZE;
        r->desc = qbase[q];
        r->avail = qbase[q] + 16 * G_QSIZE;
        r->used = ALIGN_UP(r->avail + 6 + 2 * G_QSIZE, 4ull);
        memset(gmem_ptr(&mem, qbase[q], 0x1000), 0, 0x1000);
        virtio_mmio_write(m, VIRTIO_MMIO_QUEUE_SEL, q, 4);
        assert_true(virtio_mmio_read(m, VIRTIO_MMIO_QUEUE_NUM_MAX, 4) >= G_QSIZE);
        virtio_mmio_write(m, VIRTIO_MMIO_QUEUE_NUM, G_QSIZE, 4);
        virtio_mmio_write(m, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)r->desc, 4);
        virtio_mmio_write(m, VIRTIO_MMIO_QUEUE_DESC_HIGH, r->desc >> 32, 4);
        virtio_mmio_write(m, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)r->avail, 4);
        virtio_mmio_write(m, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, r->avail >> 32, 4);
        virtio_mmio_write(m, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)r->used, 4);
        virtio_mmio_write(m, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, r->used >> 32, 4);
        virtio_mmio_write(m, VIRTIO_MMIO_QUEUE_READY, 1, 4);
    }
    for (unsigned i = 0; i < 6; i++) {
        uint8_t mb = (uint8_t)virtio_mmio_read(m, VIRTIO_MMIO_CONFIG + i, 1);
        assert_int_equal(mb, test_mac[i]);
    }
    assert_int_equal(virtio_mmio_read(m, VIRTIO_MMIO_CONFIG + 6, 2), 1);   /* link up */
    /* Linux fills the rx ring, then sets DRIVER_OK. */
    for (unsigned i = 0; i < 8; i++) {
        GBuf b[1] = { { bufs + 0x1000 * i, 1536, true } };
        gring_add(&ring[0], b, 1);
    }
    virtio_mmio_write(m, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                      VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK, 4);
    assert_true(virtio_is_ready(vd));

    uint64_t txb = bufs + 0x20000;
    uint8_t *p = gmem_ptr(&mem, txb, 12 + 600);
    memset(p, 0, 12);
    size_t flen = build_dhcp_discover(p + 12, 0x11223344);
    GBuf tb[1] = { { txb, (uint32_t)(12 + flen), false } };
    ring[1].next_desc = 3;
    gring_add(&ring[1], tb, 1);
    virtio_mmio_write(m, VIRTIO_MMIO_QUEUE_NOTIFY, 1, 4);
    pthread_mutex_unlock(&e->lock);

    bool found = false;
    for (int ms = 0; ms < 5000 && !found; ms += 5) {
        pthread_mutex_lock(&e->lock);
        for (uint16_t i = 0; i < gring_used_idx(&ring[0]) && !found; i++) {
            uint32_t id, len;
            gring_used(&ring[0], i, &id, &len);
            uint8_t *b = gmem_ptr(&mem, bufs + 0x1000 * id, 1536);
            found = len > 12 && is_dhcp_offer(b + 12, len - 12, NULL);
        }
        pthread_mutex_unlock(&e->lock);
        if (!found)
            usleep(5000);
    }
    assert_true(found);
    pthread_mutex_lock(&e->lock);
    assert_true(virtio_mmio_read(m, VIRTIO_MMIO_INTERRUPT_STATUS, 4) & 1);
    assert_int_equal(irq_level, 1);
    virtio_mmio_write(m, VIRTIO_MMIO_INTERRUPT_ACK, 1, 4);
    assert_int_equal(irq_level, 0);
    pthread_mutex_unlock(&e->lock);

    loop_quit(e->loop);
    pthread_join(e->thread, NULL);
    virtio_mmio_destroy(m);
    virtio_device_destroy(vd);
    loop_free(e->loop);
    pthread_mutex_destroy(&e->lock);
    free(e);
    gmem_free(&mem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arp_reply),
        cmocka_unit_test(test_dhcp_offer),
        cmocka_unit_test(test_udp_to_host_service),
        cmocka_unit_test(test_host_loopback_refused),
        cmocka_unit_test(test_host_loopback_frames),
        cmocka_unit_test(test_hostfwd_tcp),
        cmocka_unit_test(test_hostfwd_port_busy),
        cmocka_unit_test(test_queue_while_busy),
        cmocka_unit_test(test_virtio_net_dhcp_end_to_end),
        cmocka_unit_test(test_virtio_mmio_dhcp),
    };

    log_init("test_net_slirp", LOG_ERR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
