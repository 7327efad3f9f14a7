/* The tap backend on a real (non-persistent) tap interface. Needs root and
 * /dev/net/tun; otherwise only the error paths run and the rest skips.
 * The host side of the tap is watched and fed with an AF_PACKET socket. */
#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/sockios.h>
#include <linux/if_tun.h>
#include <unistd.h>

#include <cmocka.h>

#include "backend/net.h"
#include "common/config.h"
#include "common/log.h"
#include "common/loop.h"

#define TEST_ETHERTYPE 0x88b5    /* IEEE "local experimental" */

typedef struct Env {
    pthread_mutex_t lock;
    Loop *loop;
    pthread_t thread;
    int accepting;
    unsigned nrx;
    uint8_t last[2048];
    size_t last_len;
} Env;

static int can_rx(void *o) { return ((Env *)o)->accepting; }

static void rx(void *o, const uint8_t *f, size_t len)
{
    Env *e = o;

    /* The host kernel may send its own frames (IPv6 router solicitations):
     * keep only ours. */
    if (len < 14 || f[12] != (TEST_ETHERTYPE >> 8) || f[13] != (TEST_ETHERTYPE & 0xff))
        return;
    e->nrx++;
    e->last_len = len < sizeof(e->last) ? len : sizeof(e->last);
    memcpy(e->last, f, e->last_len);
}

static void *run(void *l)
{
    loop_run(l);
    return NULL;
}

/* Can this process create tap devices (root, CAP_NET_ADMIN, /dev/net/tun)? */
static bool tap_possible(void)
{
    struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI };
    int fd = open("/dev/net/tun", O_RDWR);
    bool ok;

    if (fd < 0)
        return false;
    ok = ioctl(fd, TUNSETIFF, &ifr) == 0;
    close(fd);
    return ok;
}

static void test_errors(void **state)
{
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    Loop *l = loop_new(&lock);
    CfgNic nic = { .type = CFG_NET_BRIDGE };
    char err[256] = "";

    /* bridge type without a bridge name */
    assert_null(net_tap_create(l, &nic, err, sizeof(err)));
    assert_non_null(strstr(err, "bridge"));
    assert_null(strchr(err, '\n'));

    /* bad interface names */
    nic.type = CFG_NET_TAP;
    strcpy(nic.ifname, "much-too-long-for-linux");
    assert_null(net_tap_create(l, &nic, err, sizeof(err)));
    assert_non_null(strstr(err, "invalid interface name"));
    strcpy(nic.ifname, "../x");
    assert_null(net_tap_create(l, &nic, err, sizeof(err)));

    /* a bridge that does not exist: clear message (as root), or a clear
     * "needs root" message otherwise */
    nic.type = CFG_NET_BRIDGE;
    nic.ifname[0] = 0;
    strcpy(nic.bridge, "xenonobr9");
    assert_null(net_tap_create(l, &nic, err, sizeof(err)));
    if (tap_possible())
        assert_non_null(strstr(err, "bridge xenonobr9 does not exist"));
    else
        assert_non_null(strstr(err, "root"));
    assert_null(strchr(err, '\n'));
    /* an interface that is not a bridge */
    if (tap_possible()) {
        strcpy(nic.bridge, "lo");
        assert_null(net_tap_create(l, &nic, err, sizeof(err)));
        assert_non_null(strstr(err, "lo is not a bridge"));
    }
    loop_free(l);
}

static void test_tap_exchange(void **state)
{
    Env *e;
    NetBackend *nb;
    CfgNic nic = { .type = CFG_NET_TAP };
    char err[256] = "";
    const char *name;

    if (!tap_possible()) {
        printf("tap exchange needs root and /dev/net/tun\n");
        skip();
    }
    e = calloc(1, sizeof(*e));
    pthread_mutex_init(&e->lock, NULL);
    e->loop = loop_new(&e->lock);
    e->accepting = 1;
    NetClient c = { can_rx, rx, e };
    nb = net_tap_create(e->loop, &nic, err, sizeof(err));
    if (nb)
        net_attach(nb, &c);
    if (!nb && strstr(err, "Operation not permitted")) {
        printf("%s\n", err);
        loop_free(e->loop);
        free(e);
        skip();
    }
    assert_non_null(nb);
    name = net_tap_ifname(nb);
    assert_non_null(name);
    assert_int_equal(strncmp(name, "xenotap", 7), 0);
    unsigned idx = if_nametoindex(name);
    assert_true(idx > 0);

    int ps = socket(AF_PACKET, SOCK_RAW, htons(TEST_ETHERTYPE));
    assert_true(ps >= 0);
    struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_protocol = htons(TEST_ETHERTYPE),
                              .sll_ifindex = (int)idx };
    assert_int_equal(bind(ps, (struct sockaddr *)&ll, sizeof(ll)), 0);
    struct timeval tv = { 3, 0 };
    setsockopt(ps, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    assert_int_equal(pthread_create(&e->thread, NULL, run, e->loop), 0);

    /* guest -> host: the backend writes a frame, the host sees it */
    uint8_t f[64] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x16, 0x3e, 1, 2, 3,
                      TEST_ETHERTYPE >> 8, TEST_ETHERTYPE & 0xff, 'h', 'e', 'l', 'l', 'o' };
    struct iovec iov[2] = { { f, 10 }, { f + 10, sizeof(f) - 10 } };
    pthread_mutex_lock(&e->lock);
    assert_int_equal(net_send(nb, iov, 2, sizeof(f)), 0);
    pthread_mutex_unlock(&e->lock);
    uint8_t got[2048];
    ssize_t n;
    do {
        n = recv(ps, got, sizeof(got), 0);
    } while (n > 0 && memcmp(got, f, 14) != 0);
    assert_int_equal(n, sizeof(f));
    assert_memory_equal(got, f, sizeof(f));

    /* host -> guest: reading starts once the device says it has room */
    pthread_mutex_lock(&e->lock);
    net_rx_resume(nb);
    pthread_mutex_unlock(&e->lock);
    uint8_t h[60] = { 0x00, 0x16, 0x3e, 1, 2, 3, 0x02, 0, 0, 0, 0, 1,
                      TEST_ETHERTYPE >> 8, TEST_ETHERTYPE & 0xff, 'w', 'o', 'r', 'l', 'd' };
    ll.sll_halen = 6;
    memcpy(ll.sll_addr, h, 6);
    assert_int_equal(sendto(ps, h, sizeof(h), 0, (struct sockaddr *)&ll, sizeof(ll)),
                     (ssize_t)sizeof(h));
    unsigned have = 0;
    for (int ms = 0; ms < 3000 && !have; ms += 5) {
        pthread_mutex_lock(&e->lock);
        have = e->nrx;
        pthread_mutex_unlock(&e->lock);
        usleep(5000);
    }
    assert_int_equal(have, 1);
    assert_int_equal(e->last_len, sizeof(h));
    assert_memory_equal(e->last, h, sizeof(h));

    /* device busy: the backend stops reading; frames wait in the kernel */
    pthread_mutex_lock(&e->lock);
    e->accepting = 0;
    pthread_mutex_unlock(&e->lock);
    h[14] = 'W';
    sendto(ps, h, sizeof(h), 0, (struct sockaddr *)&ll, sizeof(ll));
    usleep(100000);
    pthread_mutex_lock(&e->lock);
    assert_int_equal(e->nrx, 1);
    e->accepting = 1;
    net_rx_resume(nb);
    pthread_mutex_unlock(&e->lock);
    for (int ms = 0; ms < 3000 && have < 2; ms += 5) {
        pthread_mutex_lock(&e->lock);
        have = e->nrx;
        pthread_mutex_unlock(&e->lock);
        usleep(5000);
    }
    assert_int_equal(have, 2);
    assert_int_equal(e->last[14], 'W');

    loop_quit(e->loop);
    pthread_join(e->thread, NULL);
    net_close(nb);
    close(ps);
    loop_free(e->loop);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

/* type=bridge: the tap joins an existing bridge (made here for the test and
 * removed after) and comes up, like Xen's vif-bridge. */
static void test_bridge_attach(void **state)
{
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    CfgNic nic = { .type = CFG_NET_BRIDGE };
    char err[256] = "", br[IFNAMSIZ], path[128], link[256];
    int sock;

    if (!tap_possible()) {
        printf("bridge attach needs root and /dev/net/tun\n");
        skip();
    }
    snprintf(br, sizeof(br), "xenotbr%u", (unsigned)getpid() % 100000);
    sock = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(sock >= 0);
    if (ioctl(sock, SIOCBRADDBR, br) < 0) {
        printf("cannot create a test bridge: %s\n", strerror(errno));
        close(sock);
        skip();
    }
    Loop *l = loop_new(&lock);
    strcpy(nic.bridge, br);
    NetBackend *nb = net_tap_create(l, &nic, err, sizeof(err));
    if (nb) {
        const char *name = net_tap_ifname(nb);
        struct ifreq ifr = { 0 };
        snprintf(path, sizeof(path), "/sys/class/net/%s/master", name);
        ssize_t n = readlink(path, link, sizeof(link) - 1);
        link[n > 0 ? n : 0] = 0;
        memcpy(ifr.ifr_name, name, strlen(name) + 1);
        ioctl(sock, SIOCGIFFLAGS, &ifr);
        net_close(nb);
        ioctl(sock, SIOCBRDELBR, br);
        close(sock);
        loop_free(l);
        const char *base = strrchr(link, '/');
        assert_non_null(base);
        assert_string_equal(base + 1, br);
        assert_true(ifr.ifr_flags & IFF_UP);
    } else {
        ioctl(sock, SIOCBRDELBR, br);
        close(sock);
        loop_free(l);
        fail_msg("%s", err);
    }
}

/* One fdb entry of /sys/class/net/BR/brforward (linux/if_bridge.h's
 * struct __fdb_entry). */
struct fdb_entry {
    uint8_t mac[6];
    uint8_t port_no, is_local;
    uint32_t ageing;
    uint8_t port_hi, pad0;
    uint16_t unused;
};

/* Has bridge br learnt mac on one of its ports (not as its own)? */
static bool bridge_knows(const char *br, const uint8_t mac[6])
{
    char path[128];
    struct fdb_entry ent[256];
    bool found = false;
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "/sys/class/net/%s/brforward", br);
    fd = open(path, O_RDONLY);
    if (fd < 0)
        return false;
    n = read(fd, ent, sizeof(ent));
    close(fd);
    for (ssize_t i = 0; n > 0 && i < n / (ssize_t)sizeof(ent[0]); i++)
        found |= !memcmp(ent[i].mac, mac, 6) && !ent[i].is_local;
    return found;
}

static int set_link(int sock, const char *name, bool up)
{
    struct ifreq ifr = { 0 };

    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
    if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0)
        return -1;
    ifr.ifr_flags = up ? ifr.ifr_flags | IFF_UP : ifr.ifr_flags & ~IFF_UP;
    return ioctl(sock, SIOCSIFFLAGS, &ifr);
}

/* A bridge must be down to be deleted. */
static void del_bridge(int sock, const char *br)
{
    set_link(sock, br, false);
    ioctl(sock, SIOCBRDELBR, br);
}

/* After a restore the VMM announces the guest's MAC on its tap: the RARP
 * leaves through the tap's host side, and a bridge the tap is on learns
 * the MAC at that port at once (what moves traffic to a migrated guest). */
static void test_announce_on_bridge(void **state)
{
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    CfgNic nic = { .type = CFG_NET_BRIDGE };
    const uint8_t mac[6] = { 0x00, 0x16, 0x3e, 0x5a, 0xa5, 0x01 };
    char err[256] = "", br[IFNAMSIZ];
    uint8_t got[128];
    ssize_t n = -1;
    bool learnt = false;
    int sock, ps;

    if (!tap_possible()) {
        printf("announce needs root and /dev/net/tun\n");
        skip();
    }
    snprintf(br, sizeof(br), "xenoabr%u", (unsigned)getpid() % 100000);
    sock = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(sock >= 0);
    if (ioctl(sock, SIOCBRADDBR, br) < 0) {
        printf("cannot create a test bridge: %s\n", strerror(errno));
        close(sock);
        skip();
    }
    Loop *l = loop_new(&lock);
    strcpy(nic.bridge, br);
    NetBackend *nb = net_tap_create(l, &nic, err, sizeof(err));
    if (!nb || set_link(sock, br, true) < 0) {
        del_bridge(sock, br);
        fail_msg("%s", nb ? strerror(errno) : err);
    }
    /* ETH_P_ALL: on a bridge port, the bridge takes frames before any
     * handler of one protocol would see them. */
    ps = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
    assert_true(ps >= 0);
    struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
                              .sll_ifindex = (int)if_nametoindex(net_tap_ifname(nb)) };
    assert_int_equal(bind(ps, (struct sockaddr *)&ll, sizeof(ll)), 0);
    struct timeval tv = { 3, 0 };
    setsockopt(ps, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

    assert_false(bridge_knows(br, mac));
    assert_int_equal(net_announce(nb, mac), 1);
    do {        /* skip what the host kernel sends itself (IPv6 solicitations) */
        n = recv(ps, got, sizeof(got), 0);
    } while (n >= 14 && !(got[12] == 0x80 && got[13] == 0x35));
    for (int ms = 0; ms < 2000 && !learnt; ms += 10) {
        learnt = bridge_knows(br, mac);
        if (!learnt)
            usleep(10000);
    }
    close(ps);
    net_close(nb);
    del_bridge(sock, br);
    close(sock);
    loop_free(l);
    assert_int_equal(n, NET_RARP_FRAME_LEN);
    assert_memory_equal(got + 6, mac, 6);
    assert_int_equal(got[12], 0x80);
    assert_int_equal(got[13], 0x35);
    assert_int_equal(got[21], 3);                /* reverse request */
    assert_true(learnt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_tap_exchange),
        cmocka_unit_test(test_bridge_attach),
        cmocka_unit_test(test_announce_on_bridge),
    };

    log_init("test_net_tap", LOG_ERR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
