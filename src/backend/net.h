/* Network backends: where a virtual NIC's Ethernet frames go.
 *
 * A backend carries whole Ethernet frames (no virtio header) between the
 * device model and the host: user-mode networking (libslirp, no root) or a
 * TAP device, optionally on a bridge like Xen's vif-bridge.
 *
 * Threading: backend callbacks into the device run from the Loop thread with
 * the device lock held (the Loop takes it), and the device calls into the
 * backend from vCPU threads with the same lock held (the bus takes it). So
 * nothing here locks, but nothing may block either. */
#ifndef XENO_BACKEND_NET_H
#define XENO_BACKEND_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "common/config.h"
#include "common/loop.h"

/* Largest frame carried: 64 KiB of payload plus Ethernet and VLAN headers. */
#define NET_MAX_FRAME 65550

typedef struct NetBackend NetBackend;

/* The device side of a backend. */
typedef struct NetClient {
    /* Nonzero if the device can take a frame now. When it returns 0 the
     * backend stops reading (tap) or holds frames in a small queue (slirp)
     * until rx_resume is called. */
    int (*can_receive)(void *opaque);
    /* One frame from the network for the guest. */
    void (*receive)(void *opaque, const uint8_t *frame, size_t len);
    void *opaque;
} NetClient;

typedef struct NetBackendOps {
    const char *name;                   /* "user", "tap" */
    /* Send one frame of `len` bytes gathered from iov. Never blocks: when
     * the host side is congested the frame is dropped (Ethernet may drop).
     * Returns 0 when sent, -1 when dropped. */
    int (*send)(NetBackend *nb, const struct iovec *iov, unsigned iovcnt, size_t len);
    /* The device can receive again (the guest added rx buffers). */
    void (*rx_resume)(NetBackend *nb);
    /* Free the backend. The slirp backend leaves a hook in the Loop (which
     * cannot remove hooks yet): stop the Loop before closing it. */
    void (*close)(NetBackend *nb);
} NetBackendOps;

struct NetBackend {
    const NetBackendOps *ops;
    NetClient client;
};

/* Constructors. On failure: NULL and one line in err. */
NetBackend *net_slirp_create(Loop *loop, const CfgNic *nic, const NetClient *client,
                             char *err, size_t errlen);
NetBackend *net_tap_create(Loop *loop, const CfgNic *nic, const NetClient *client,
                           char *err, size_t errlen);

/* The host interface name of a tap backend, NULL for other backends. */
const char *net_tap_ifname(NetBackend *nb);

/* A backend constructor (what virtio_net_create_with() takes). */
typedef NetBackend *(*net_backend_open_fn)(Loop *loop, const CfgNic *nic,
                                           const NetClient *client,
                                           char *err, size_t errlen);

static inline int net_send(NetBackend *nb, const struct iovec *iov, unsigned n, size_t len)
{
    return nb->ops->send(nb, iov, n, len);
}

static inline void net_rx_resume(NetBackend *nb)
{
    if (nb->ops->rx_resume)
        nb->ops->rx_resume(nb);
}

static inline void net_close(NetBackend *nb)
{
    if (nb)
        nb->ops->close(nb);
}

/* ---- virtio-net device extras (the constructor is in hw/virtio/devices.h) */

struct VirtioDevice;
struct GuestMem;

typedef struct VirtioNetStats {
    uint64_t tx_packets, tx_bytes, tx_dropped;   /* guest -> network */
    uint64_t rx_packets, rx_bytes, rx_dropped;   /* network -> guest */
} VirtioNetStats;

/* Like virtio_net_create() but with a caller-chosen backend constructor
 * (tests plug a fake backend in here). */
struct VirtioDevice *virtio_net_create_with(struct GuestMem *mem, Loop *loop,
                                            const CfgNic *nic, net_backend_open_fn open,
                                            char *err, size_t errlen);
void virtio_net_get_stats(struct VirtioDevice *vd, VirtioNetStats *st);
/* The MAC the device presents (from the config or generated). */
void virtio_net_get_mac(struct VirtioDevice *vd, uint8_t mac[6]);

#endif
