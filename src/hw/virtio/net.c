/* virtio-net: a virtual Ethernet NIC (virtio 1.x, device ID 1).
 *
 * Queue 0 is rx (device -> guest), queue 1 is tx (guest -> device). Every
 * frame in either direction is preceded by a 12-byte virtio_net_hdr_v1; we
 * offer no checksum or segmentation offloads, so the header only matters for
 * num_buffers (mergeable rx buffers let one frame span several chains).
 *
 * Frames go to a NetBackend (slirp or tap). The backend asks can_receive()
 * before handing us a frame; when the guest has no rx buffers we say no and
 * the backend pauses until the guest kicks the rx queue (rx_resume). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "backend/net.h"
#include "common/log.h"
#include "common/util.h"
#include "hw/devstate.h"
#include "hw/virtio/throttle.h"
#include "hw/virtio/devices.h"
#include "hw/virtio/virtio.h"

/* Device feature bits (virtio spec 5.1.3). */
#define VIRTIO_NET_F_MAC       5
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS    16

#define VIRTIO_NET_S_LINK_UP   1

#define VNET_RXQ 0
#define VNET_TXQ 1
#define VNET_QUEUE_SIZE 256
#define VNET_HDR_LEN 12          /* struct virtio_net_hdr_v1 */
/* Most chains one received frame may span (mergeable buffers). Linux posts
 * buffers of at least 1.5 KiB, and without offloads frames are at most
 * MTU-sized, so this is generous; a guest with tinier buffers sees drops. */
#define VNET_MAX_MERGE 16

/* Config space: mac[6], status, max_virtqueue_pairs. */
#define VNET_CFG_SIZE 10

typedef struct VirtioNet {
    VirtioDevice vd;
    NetBackend *be;
    uint8_t mac[6];
    uint8_t config[VNET_CFG_SIZE];
    VirtioNetStats st;
    /* rx chains, allocated on first use. tx has its own element: sending
     * to slirp can deliver a reply (ARP, DHCP) into rx while the tx chain
     * is still held. */
    VirtqElem *elem[VNET_MAX_MERGE];
    VirtqElem *tx_elem;
    struct iovec tx_iov[VIRTQ_MAX_CHAIN];
    VirtioThrottle tx_limit;         /* the vif's rate= */
} VirtioNet;

static VirtioNet *to_net(VirtioDevice *vd)
{
    return vd->priv;
}

static VirtqElem *net_elem(VirtioNet *n, unsigned i)
{
    if (!n->elem[i])
        n->elem[i] = malloc(sizeof(VirtqElem));
    return n->elem[i];
}

/* ---- guest -> network */

/* Point tx_iov at the frame: the chain's readable buffers minus the header.
 * Returns the number of iovecs. */
static unsigned strip_header(VirtioNet *n, const VirtqElem *e)
{
    size_t skip = VNET_HDR_LEN;
    unsigned cnt = 0;

    for (unsigned i = 0; i < e->n_out; i++) {
        size_t l = e->out[i].iov_len;
        if (skip >= l) {
            skip -= l;
            continue;
        }
        n->tx_iov[cnt].iov_base = (uint8_t *)e->out[i].iov_base + skip;
        n->tx_iov[cnt].iov_len = l - skip;
        skip = 0;
        cnt++;
    }
    return cnt;
}

static void net_tx(VirtioNet *n)
{
    VirtioDevice *vd = &n->vd;
    VirtqElem *e = n->tx_elem;
    bool pushed = false;

    while (virtio_is_ready(vd) && !vthrottle_blocked(&n->tx_limit)) {
        int r = virtq_pop(vd, VNET_TXQ, e);
        if (r <= 0)
            break;          /* empty, or malformed: the device is broken */
        if (e->out_len <= VNET_HDR_LEN || e->out_len - VNET_HDR_LEN > NET_MAX_FRAME) {
            n->st.tx_dropped++;
        } else {
            size_t len = e->out_len - VNET_HDR_LEN;
            unsigned cnt = strip_header(n, e);
            vthrottle_charge(&n->tx_limit, len);
            if (n->be && net_send(n->be, n->tx_iov, cnt, len) == 0) {
                n->st.tx_packets++;
                n->st.tx_bytes += len;
            } else {
                n->st.tx_dropped++;
            }
        }
        virtq_push(vd, VNET_TXQ, e, 0);
        pushed = true;
    }
    if (pushed && virtio_is_ready(vd))
        virtq_notify(vd, VNET_TXQ);
}

/* ---- network -> guest */

static int net_can_receive(void *opaque)
{
    VirtioNet *n = opaque;

    return virtio_is_ready(&n->vd) && virtq_has_work(&n->vd, VNET_RXQ);
}

/* Give back chains we popped but cannot use, so the guest keeps them. The
 * virtqueue API has no "unpop"; last_avail is the transport state it
 * documents as "next avail ring index to consume", so stepping it back is
 * exactly that. */
static void unpop(VirtioNet *n, unsigned count)
{
    n->vd.vq[VNET_RXQ].last_avail = (uint16_t)(n->vd.vq[VNET_RXQ].last_avail - count);
}

static void net_receive(void *opaque, const uint8_t *frame, size_t len)
{
    VirtioNet *n = opaque;
    VirtioDevice *vd = &n->vd;
    bool mrg = virtio_has_feature(vd, VIRTIO_NET_F_MRG_RXBUF);
    unsigned max = mrg ? VNET_MAX_MERGE : 1;
    uint64_t need = (uint64_t)VNET_HDR_LEN + len, have = 0;
    unsigned cnt = 0;
    uint8_t hdr[VNET_HDR_LEN] = { 0 };

    if (!virtio_is_ready(vd) || len == 0 || len > NET_MAX_FRAME) {
        n->st.rx_dropped++;
        return;
    }

    /* Collect enough writable buffers for header + frame. */
    while (have < need) {
        VirtqElem *e;
        int r;

        if (cnt == max || !(e = net_elem(n, cnt))) {
            unpop(n, cnt);
            n->st.rx_dropped++;
            return;
        }
        r = virtq_pop(vd, VNET_RXQ, e);
        if (r < 0)
            return;             /* broken: stop touching the device */
        if (r == 0) {
            unpop(n, cnt);
            n->st.rx_dropped++;
            return;
        }
        /* The first buffer must hold the whole header (spec 5.1.6.3.1). */
        if (cnt == 0 && e->in_len < VNET_HDR_LEN) {
            virtio_set_broken(vd, "virtio-net: rx buffer smaller than the header");
            return;
        }
        have += e->in_len;
        cnt++;
    }

    st16(hdr + 10, (uint16_t)cnt);   /* num_buffers; everything else 0 */

    size_t off = 0;                  /* position in header+frame */
    for (unsigned i = 0; i < cnt; i++) {
        VirtqElem *e = n->elem[i];
        size_t room = (size_t)e->in_len, put = 0;

        if (off < VNET_HDR_LEN) {    /* only in the first buffer */
            put = iov_from_buf(e->in, e->n_in, 0, hdr, VNET_HDR_LEN);
            off = VNET_HDR_LEN;
        }
        size_t chunk = MIN(room - put, (size_t)need - off);
        put += iov_from_buf(e->in, e->n_in, put, frame + (off - VNET_HDR_LEN), chunk);
        off += chunk;
        virtq_push(vd, VNET_RXQ, e, (uint32_t)put);
    }
    n->st.rx_packets++;
    n->st.rx_bytes += len;
    virtq_notify(vd, VNET_RXQ);
}

/* ---- virtio device ops */

static uint64_t net_get_features(VirtioDevice *vd)
{
    return (1ull << VIRTIO_NET_F_MAC) | (1ull << VIRTIO_NET_F_STATUS) |
           (1ull << VIRTIO_NET_F_MRG_RXBUF);
}

static void net_config_read(VirtioDevice *vd, uint32_t off, void *buf, unsigned len)
{
    VirtioNet *n = to_net(vd);

    if (off > VNET_CFG_SIZE || len > VNET_CFG_SIZE - off) {
        memset(buf, 0, len);
        return;
    }
    memcpy(buf, n->config + off, len);
}

static void net_config_write(VirtioDevice *vd, uint32_t off, const void *buf, unsigned len)
{
    /* The MAC is writable only with VIRTIO_NET_F_CTRL_MAC_ADDR (not offered
     * in 1.x); everything else is read-only. Ignore. */
}

static void net_queue_notify(VirtioDevice *vd, unsigned q)
{
    VirtioNet *n = to_net(vd);

    if (!virtio_is_ready(vd))
        return;
    if (q == VNET_TXQ)
        net_tx(n);
    else if (q == VNET_RXQ && n->be)
        net_rx_resume(n->be);    /* new rx buffers: let frames flow again */
}

static void net_activate(VirtioDevice *vd)
{
    VirtioNet *n = to_net(vd);

    if (n->be && net_can_receive(n))
        net_rx_resume(n->be);
}

static void net_destroy(VirtioDevice *vd)
{
    VirtioNet *n = to_net(vd);

    vthrottle_fini(&n->tx_limit);
    net_close(n->be);
    for (unsigned i = 0; i < VNET_MAX_MERGE; i++)
        free(n->elem[i]);
    free(n->tx_elem);
    free(n);
}

/* ---- saved state: MAC and link status (the receive path keeps nothing
 * between frames: each one is popped and pushed in one call) */

static bool mac_is_multicast(const uint8_t mac[6])
{
    return mac[0] & 1;
}

static int net_save(VirtioDevice *vd, StateBuf *b)
{
    VirtioNet *n = to_net(vd);

    sb_put_bytes(b, n->mac, 6);
    sb_put_u16(b, ld16(n->config + 6));
    return 0;
}

static int net_load(VirtioDevice *vd, StateBuf *b, uint32_t version, char *err, size_t errlen)
{
    VirtioNet *n = to_net(vd);
    uint8_t mac[6];
    uint16_t status;

    sb_get_bytes(b, mac, 6);
    status = sb_get_u16(b);
    if (devstate_end(b, err, errlen))
        return -1;
    if (mac_is_multicast(mac)) {
        snprintf(err, errlen, "multicast MAC %02x:%02x:%02x:%02x:%02x:%02x",
                 mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
        return -1;
    }
    if (status & ~VIRTIO_NET_S_LINK_UP) {
        snprintf(err, errlen, "link status 0x%x has bits the device does not offer", status);
        return -1;
    }
    /* The guest knows its MAC (a random one if the configuration names
     * none): it stays. */
    memcpy(n->mac, mac, 6);
    memcpy(n->config, mac, 6);
    st16(n->config + 6, status);
    vthrottle_rearm(&n->tx_limit);
    return 0;
}

/* On its new host, the network must learn where the guest's MAC is: once
 * before the vCPUs start (virtio_net_announce, from the migration) and
 * again when they have (frames lost in between cost a TCP retransmission
 * timeout, 200 ms). */
static void net_restarted(VirtioDevice *vd)
{
    VirtioNet *n = to_net(vd);

    if (net_announce(n->be, n->mac) < 0)
        log_warn_rl("virtio-net: the announce of %02x:%02x:%02x:%02x:%02x:%02x was dropped",
                 n->mac[0], n->mac[1], n->mac[2], n->mac[3], n->mac[4], n->mac[5]);
}

static const VirtioDeviceOps virtio_net_ops = {
    .name = "virtio-net",
    .device_id = VIRTIO_ID_NET,
    .get_features = net_get_features,
    .config_read = net_config_read,
    .config_write = net_config_write,
    .config_size = VNET_CFG_SIZE,
    .queue_notify = net_queue_notify,
    .activate = net_activate,
    .destroy = net_destroy,
    .save = net_save,
    .load = net_load,
    .restarted = net_restarted,
};

/* ---- construction */

/* A random MAC in Xen's OUI 00:16:3e, as xend assigns them (the top bit of
 * the fourth byte clear, as Xen does). */
static void random_mac(uint8_t mac[6])
{
    uint8_t r[3];

    if (getrandom(r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
        uint64_t t = clock_ns();
        r[0] = (uint8_t)t;
        r[1] = (uint8_t)(t >> 8);
        r[2] = (uint8_t)(t >> 16);
    }
    mac[0] = 0x00;
    mac[1] = 0x16;
    mac[2] = 0x3e;
    mac[3] = r[0] & 0x7f;
    mac[4] = r[1];
    mac[5] = r[2];
}

VirtioDevice *virtio_net_create(GuestMem *mem, NetBackend *be, const uint8_t *mac,
                                char *err, size_t errlen)
{
    VirtioNet *n;
    NetClient client;

    if (!mem || !be) {
        snprintf(err, errlen, "virtio-net: missing memory or network backend");
        net_close(be);
        return NULL;
    }
    if (mac && mac_is_multicast(mac)) {
        snprintf(err, errlen, "vif: mac %02x:%02x:%02x:%02x:%02x:%02x is a multicast address",
                 mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
        net_close(be);
        return NULL;
    }
    n = calloc(1, sizeof(*n));
    if (n)
        n->tx_elem = malloc(sizeof(VirtqElem));
    if (!n || !n->tx_elem || !net_elem(n, 0)) {
        if (n) {
            free(n->tx_elem);
            free(n->elem[0]);
        }
        free(n);
        snprintf(err, errlen, "virtio-net: out of memory");
        net_close(be);
        return NULL;
    }
    if (mac)
        memcpy(n->mac, mac, 6);
    else
        random_mac(n->mac);
    memcpy(n->config, n->mac, 6);
    st16(n->config + 6, VIRTIO_NET_S_LINK_UP);
    st16(n->config + 8, 1);          /* max_virtqueue_pairs */

    virtio_init(&n->vd, &virtio_net_ops, n, mem, 2, VNET_QUEUE_SIZE);

    client.can_receive = net_can_receive;
    client.receive = net_receive;
    client.opaque = n;
    n->be = be;
    net_attach(be, &client);
    return &n->vd;
}

int virtio_net_set_tx_rate(VirtioDevice *vd, Loop *loop, uint64_t bps, uint64_t burst,
                           char *err, size_t errlen)
{
    return vthrottle_init(&to_net(vd)->tx_limit, loop, vd, VNET_TXQ, net_queue_notify,
                          bps, burst, 0, 0, err, errlen);
}

void virtio_net_get_stats(VirtioDevice *vd, VirtioNetStats *st)
{
    *st = to_net(vd)->st;
}

void virtio_net_get_mac(VirtioDevice *vd, uint8_t mac[6])
{
    memcpy(mac, to_net(vd)->mac, 6);
}

void virtio_net_announce(VirtioDevice *vd)
{
    if (vd && vd->ops == &virtio_net_ops)
        net_restarted(vd);
}
