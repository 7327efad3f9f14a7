/* TAP networking: the guest NIC becomes a host network interface
 * (xenotapN, or the configured name). For type=bridge the interface is
 * added to the bridge and brought up, as Xen's vif-bridge script does, so
 * the guest sits on the host's LAN. Needs root (CAP_NET_ADMIN).
 *
 * Reads are non-blocking from the Loop. While the device has no rx buffers
 * the tap fd is taken out of the Loop, so frames wait in the kernel's queue
 * instead of being read and dropped; rx_resume puts it back. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/if_tun.h>
#include <linux/sockios.h>

#include "backend/net.h"
#include "common/config.h"
#include "common/log.h"
#include "common/safeopen.h"
#include "common/util.h"

/* Frames read in one go before giving the rest of the Loop a turn. */
#define TAP_READ_BUDGET 64

typedef struct NetTap NetTap;
static void tap_readable(void *opaque, int fd, short revents);

struct NetTap {
    NetBackend nb;
    Loop *loop;
    int fd;
    bool polling;             /* fd registered with the Loop */
    bool failed;              /* the tap reported an error: receive stopped */
    char ifname[IFNAMSIZ];
    uint8_t buf[NET_MAX_FRAME];
};

static void tap_poll(NetTap *t, bool on)
{
    if (on == t->polling || (on && t->failed))
        return;
    if (on) {
        if (loop_add_fd(t->loop, t->fd, POLLIN, tap_readable, t) < 0) {
            log_warn("tap %s: event loop full, receive stopped", t->ifname);
            return;
        }
    } else {
        loop_del_fd(t->loop, t->fd);
    }
    t->polling = on;
}

static void tap_readable(void *opaque, int fd, short revents)
{
    NetTap *t = opaque;
    NetClient *c = &t->nb.client;

    if (revents & (POLLERR | POLLNVAL | POLLHUP)) {
        log_warn("tap %s: device error, receive stopped", t->ifname);
        tap_poll(t, false);
        t->failed = true;
        return;
    }
    for (int i = 0; i < TAP_READ_BUDGET; i++) {
        if (!net_client_ready(c)) {
            tap_poll(t, false);       /* rx_resume turns it back on */
            return;
        }
        ssize_t n = read(t->fd, t->buf, sizeof(t->buf));
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                log_debug("tap %s: read: %s", t->ifname, strerror(errno));
            return;
        }
        if (n == 0)
            return;
        c->receive(c->opaque, t->buf, (size_t)n);
    }
}

static int tap_send(NetBackend *nb, const struct iovec *iov, unsigned n, size_t len)
{
    NetTap *t = (NetTap *)nb;
    ssize_t r;

    if (n > IOV_MAX)
        return -1;
    do {
        r = writev(t->fd, iov, (int)n);
    } while (r < 0 && errno == EINTR);
    /* EAGAIN: the host side is congested; drop like a full wire would. */
    return r == (ssize_t)len ? 0 : -1;
}

static int tap_inject(NetBackend *nb, const void *frame, size_t len)
{
    struct iovec iov = { .iov_base = (void *)frame, .iov_len = len };

    return tap_send(nb, &iov, 1, len);
}

static void tap_rx_resume(NetBackend *nb)
{
    tap_poll((NetTap *)nb, true);
}

static void tap_close(NetBackend *nb)
{
    NetTap *t = (NetTap *)nb;

    tap_poll(t, false);
    if (t->fd >= 0)
        close(t->fd);   /* the interface is not persistent: it goes away */
    free(t);
}

static const NetBackendOps tap_ops = {
    .name = "tap",
    .send = tap_send,
    .rx_resume = tap_rx_resume,
    .close = tap_close,
    .inject = tap_inject,
};

/* Interface names: 1..15 characters, no '/', no whitespace, not "." or "..". */
static bool valid_ifname(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n >= IFNAMSIZ || !strcmp(s, ".") || !strcmp(s, ".."))
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '/' || s[i] == ':' || s[i] <= ' ' || s[i] == 0x7f)
            return false;
    return true;
}

/* Copy a name already checked by valid_ifname() (or one the kernel gave). */
static void copy_ifname(char dst[IFNAMSIZ], const char *src)
{
    size_t n = strnlen(src, IFNAMSIZ - 1);

    memcpy(dst, src, n);
    dst[n] = 0;
}

static int set_up(int sock, const char *ifname, char *err, size_t errlen)
{
    struct ifreq ifr = { 0 };

    copy_ifname(ifr.ifr_name, ifname);
    if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0 ||
        (ifr.ifr_flags |= IFF_UP, ioctl(sock, SIOCSIFFLAGS, &ifr) < 0)) {
        snprintf(err, errlen, "tap %s: cannot bring the link up: %s", ifname, strerror(errno));
        return -1;
    }
    return 0;
}

/* The host side of a guest's TAP never speaks for itself on the bridge, so
 * it takes the highest MAC there is (as Xen's vif-bridge does): a Linux
 * bridge uses the lowest MAC of its ports as its own, and a TAP that comes
 * and goes with a guest (boot, migration) must not change the bridge's
 * address under its peers' ARP caches. */
static int set_host_mac(int sock, const char *ifname, char *err, size_t errlen)
{
    struct ifreq ifr = { 0 };

    copy_ifname(ifr.ifr_name, ifname);
    ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
    memset(ifr.ifr_hwaddr.sa_data, 0xff, 6);
    ifr.ifr_hwaddr.sa_data[0] = (char)0xfe;
    if (ioctl(sock, SIOCSIFHWADDR, &ifr) < 0) {
        snprintf(err, errlen, "tap %s: cannot set its address: %s", ifname, strerror(errno));
        return -1;
    }
    return 0;
}

static int add_to_bridge(int sock, const char *bridge, const char *ifname,
                         char *err, size_t errlen)
{
    struct ifreq ifr = { 0 };
    char path[64];
    struct stat sb;
    unsigned idx = if_nametoindex(ifname);

    snprintf(path, sizeof(path), "/sys/class/net/%s/bridge", bridge);
    if (!if_nametoindex(bridge)) {
        snprintf(err, errlen, "bridge %s does not exist (create it, e.g. "
                 "'ip link add %s type bridge')", bridge, bridge);
        return -1;
    }
    if (stat(path, &sb) < 0) {
        snprintf(err, errlen, "%s is not a bridge", bridge);
        return -1;
    }
    copy_ifname(ifr.ifr_name, bridge);
    ifr.ifr_ifindex = (int)idx;
    if (!idx || ioctl(sock, SIOCBRADDIF, &ifr) < 0) {
        snprintf(err, errlen, "cannot add %s to bridge %s: %s", ifname, bridge,
                 strerror(idx ? errno : ENODEV));
        return -1;
    }
    return 0;
}

NetBackend *net_tap_create(Loop *loop, const CfgNic *nic, char *err, size_t errlen)
{
    bool bridge = nic->type == CFG_NET_BRIDGE;
    struct ifreq ifr = { 0 };
    NetTap *t;
    int sock;

    if (!loop) {
        snprintf(err, errlen, "tap network: internal error (no event loop)");
        return NULL;
    }
    if (nic->ifname[0] && !valid_ifname(nic->ifname)) {
        snprintf(err, errlen, "vif: invalid interface name '%.32s' (at most %d characters)",
                 nic->ifname, IFNAMSIZ - 1);
        return NULL;
    }
    if (bridge && !valid_ifname(nic->bridge)) {
        if (nic->bridge[0])
            snprintf(err, errlen, "vif: invalid bridge name '%.32s'", nic->bridge);
        else
            snprintf(err, errlen, "vif: type=bridge needs bridge=NAME");
        return NULL;
    }
    t = calloc(1, sizeof(*t));
    if (!t) {
        snprintf(err, errlen, "tap network: out of memory");
        return NULL;
    }
    t->nb.ops = &tap_ops;
    t->loop = loop;
    /* checked to be a character device before it is opened for real */
    t->fd = safe_open("/dev/net/tun", O_RDWR | O_NONBLOCK, SAFEOPEN_CHR, err, errlen);
    if (t->fd < 0) {
        int e = errno;
        if (e == EINVAL)
            goto fail;          /* not a character device: err says so */
        if (e == EACCES || e == EPERM)
            snprintf(err, errlen, "cannot open /dev/net/tun: %s (tap and bridge "
                     "networking need root; use type=user instead)", strerror(e));
        else
            snprintf(err, errlen, "cannot open /dev/net/tun: %s (is the tun module loaded?)",
                     strerror(e));
        goto fail;
    }
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    copy_ifname(ifr.ifr_name, nic->ifname[0] ? nic->ifname : "xenotap%d");
    if (ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
        int e = errno;
        char what[sizeof(nic->ifname) + 16];

        if (nic->ifname[0])
            snprintf(what, sizeof(what), "tap device %s", nic->ifname);
        else
            snprintf(what, sizeof(what), "a tap device");
        if (e == EPERM || e == EACCES)
            snprintf(err, errlen, "cannot create %s: %s (tap and bridge networking "
                     "need root or CAP_NET_ADMIN; use type=user instead)", what, strerror(e));
        else if (e == EBUSY)
            snprintf(err, errlen, "tap device %s is already in use", nic->ifname);
        else if (e == EINVAL && nic->ifname[0])
            snprintf(err, errlen, "cannot create tap device %s: an interface of another "
                     "type has that name", nic->ifname);
        else
            snprintf(err, errlen, "cannot create %s: %s", what, strerror(e));
        goto fail;
    }
    copy_ifname(t->ifname, ifr.ifr_name);

    sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0) {
        snprintf(err, errlen, "tap %s: socket: %s", t->ifname, strerror(errno));
        goto fail;
    }
    if (set_host_mac(sock, t->ifname, err, errlen) < 0 ||
        (bridge && add_to_bridge(sock, nic->bridge, t->ifname, err, errlen) < 0) ||
        set_up(sock, t->ifname, err, errlen) < 0) {
        close(sock);
        goto fail;
    }
    close(sock);
    log_info("vif %s%s%s up", t->ifname, bridge ? " on bridge " : "",
             bridge ? nic->bridge : "");
    /* Reading starts when the device has rx buffers (rx_resume). */
    return &t->nb;

fail:
    if (t->fd >= 0)
        close(t->fd);
    free(t);
    return NULL;
}

const char *net_tap_ifname(NetBackend *nb)
{
    return nb && nb->ops == &tap_ops ? ((NetTap *)nb)->ifname : NULL;
}
