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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "common/loop.h"

struct CfgNic;

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
    /* Send a frame the VMM made itself, not the guest, out where the
     * guest's frames go (a tap's host side). Same contract as send.
     * Optional: NULL where no one outside this process could hear it
     * (slirp's network is the VMM's own). */
    int (*inject)(NetBackend *nb, const void *frame, size_t len);
} NetBackendOps;

struct NetBackend {
    const NetBackendOps *ops;
    NetClient client;
};

/* Open the backend a NIC's configuration asks for: type=user is libslirp,
 * type=tap and type=bridge a tap device. The backend carries no frames
 * until a device attaches to it (net_attach) and asks for them
 * (rx_resume). On failure: NULL and one line in err. */
NetBackend *net_open(Loop *loop, const struct CfgNic *nic, char *err, size_t errlen);
/* The two kinds, as net_open() picks them. */
NetBackend *net_slirp_create(Loop *loop, const struct CfgNic *nic, char *err, size_t errlen);
NetBackend *net_tap_create(Loop *loop, const struct CfgNic *nic, char *err, size_t errlen);

/* True if a frame from the guest is addressed to the host's loopback or
 * "this host" (127.0.0.0/8, 0.0.0.0/8, ::1, ::): what the user network
 * drops unless the vif has host-loopback=1. */
bool net_slirp_frame_to_host_loopback(const uint8_t *frame, size_t len);

/* The host interface name of a tap backend, NULL for other backends. */
const char *net_tap_ifname(NetBackend *nb);

/* Connect the device that takes the backend's frames (once, before the
 * device asks for frames). */
static inline void net_attach(NetBackend *nb, const NetClient *client)
{
    nb->client = *client;
}

/* Whether the attached device can take a frame now (no device: no). */
static inline int net_client_ready(const NetClient *c)
{
    return c->can_receive && c->can_receive(c->opaque);
}

static inline int net_send(NetBackend *nb, const struct iovec *iov, unsigned n, size_t len)
{
    return nb->ops->send(nb, iov, n, len);
}

static inline void net_rx_resume(NetBackend *nb)
{
    if (nb->ops->rx_resume)
        nb->ops->rx_resume(nb);
}

/* Tell the network that the guest with this MAC is now behind this
 * backend, as QEMU's announce does after a migration: one RARP (ethertype
 * 0x8035, "reverse request", sender and target the MAC) to the broadcast
 * address, so a bridge and the switches behind it learn the new port. 1
 * sent, 0 when the backend has no outside to tell (no inject), -1 when
 * the frame was dropped. */
#define NET_ETH_P_RARP 0x8035
#define NET_RARP_FRAME_LEN 60     /* the Ethernet minimum, zero padded */
int net_announce(NetBackend *nb, const uint8_t mac[6]);
/* The announce frame itself (NET_RARP_FRAME_LEN bytes into buf). */
void net_rarp_frame(uint8_t *buf, const uint8_t mac[6]);

static inline void net_close(NetBackend *nb)
{
    if (nb)
        nb->ops->close(nb);
}

#endif
