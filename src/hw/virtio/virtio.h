/* Virtio 1.x device layer: the device-type interface (VirtioDeviceOps), the
 * split virtqueue, and the state the transport (virtio-mmio) keeps.
 *
 * A device model (blk, net, console, rng, balloon) fills a VirtioDevice with
 * its ops and queue count; the virtio-mmio transport exposes it on the bus.
 * Queue handlers walk chains with virtq_pop() and complete them with
 * virtq_push(); both validate everything the guest wrote. Any malformed
 * chain (loop, address outside RAM, length overflow, bad index) puts the
 * device into NEEDS_RESET via virtio_set_broken() and the queue stops. */
#ifndef XENO_HW_VIRTIO_H
#define XENO_HW_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "../irq.h"
#include "../mem.h"
#include "common/statebuf.h"

/* Device status bits. */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER      2
#define VIRTIO_STATUS_DRIVER_OK   4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED      128

/* Transport feature bits. */
#define VIRTIO_F_RING_INDIRECT_DESC 28
#define VIRTIO_F_RING_EVENT_IDX     29
#define VIRTIO_F_VERSION_1          32

/* Device IDs. */
#define VIRTIO_ID_NET     1
#define VIRTIO_ID_BLOCK   2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG     4
#define VIRTIO_ID_BALLOON 5

#define VIRTIO_MAX_QUEUES 8
#define VIRTQ_MAX_SIZE    1024
/* Upper bound on descriptors in one chain (incl. indirect). */
#define VIRTQ_MAX_CHAIN   1024

typedef struct VirtQueue {
    uint16_t num_max;     /* device's maximum queue size */
    uint16_t num;         /* size chosen by the driver (power of 2) */
    bool ready;
    uint64_t desc_gpa, avail_gpa, used_gpa;
    uint16_t last_avail;  /* next avail ring index to consume */
    uint16_t used_idx;    /* next used ring index to produce */
    uint16_t signalled_used; /* used_idx at the last interrupt (event idx) */
    bool signalled_valid;
} VirtQueue;

/* One descriptor chain taken from a queue. Buffers are host pointers into
 * guest RAM already range-checked: out[] are driver->device (readable),
 * in[] are device->driver (writable). */
typedef struct VirtqElem {
    uint16_t head;
    unsigned n_out, n_in;
    uint64_t out_len, in_len;          /* total bytes */
    struct iovec out[VIRTQ_MAX_CHAIN];
    struct iovec in[VIRTQ_MAX_CHAIN];
    uint64_t in_gpa[VIRTQ_MAX_CHAIN];  /* for dirty tracking */
} VirtqElem;

typedef struct VirtioDevice VirtioDevice;

typedef struct VirtioDeviceOps {
    const char *name;          /* "virtio-blk" ... */
    uint32_t device_id;
    /* Device-specific feature bits (transport adds VERSION_1, EVENT_IDX,
     * INDIRECT_DESC). */
    uint64_t (*get_features)(VirtioDevice *vd);
    /* Device config space accesses; off+len within config_size. */
    void (*config_read)(VirtioDevice *vd, uint32_t off, void *buf, unsigned len);
    void (*config_write)(VirtioDevice *vd, uint32_t off, const void *buf, unsigned len);
    uint32_t config_size;
    /* The driver kicked queue q. */
    void (*queue_notify)(VirtioDevice *vd, unsigned q);
    /* DRIVER_OK was set (device may start using backends). Optional. */
    void (*activate)(VirtioDevice *vd);
    /* Device reset by the driver: drop in-flight state. Optional. */
    void (*reset)(VirtioDevice *vd);
    /* Free the device model and its backend. Optional. */
    void (*destroy)(VirtioDevice *vd);

    /* Saved state (docs/state-format.md, VMIO): the device's own part of
     * its slot's section, after the transport's; the section's version
     * covers both. load() reads to the end of the section, validates like
     * any untrusted input (devstate_end included, hw/devstate.h) and
     * applies nothing unless all is well: 0, or -1 with one line in err.
     * Each is optional: no save, nothing written; no load, nothing read. */
    int (*save)(VirtioDevice *vd, StateBuf *b);
    int (*load)(VirtioDevice *vd, StateBuf *b, uint32_t version, char *err, size_t errlen);
    /* Chains popped from queue q that the device holds unanswered (a
     * console's receive buffer, the balloon's stats buffer); they must be
     * the last ones it popped there. A save rewinds the queue's next
     * avail index by that many, so the restored device, which holds
     * nothing, pops them again. Optional: none held. */
    unsigned (*held)(VirtioDevice *vd, unsigned q);
    /* The domain this device was restored into has started (restore or
     * incoming migration): what a device must do once it changed hosts
     * (net: announce its MAC). Optional. */
    void (*restarted)(VirtioDevice *vd);
} VirtioDeviceOps;

struct VirtioDevice {
    const VirtioDeviceOps *ops;
    void *priv;                 /* device model's own state */
    GuestMem *mem;
    IrqLine irq;
    /* Transport state. */
    uint32_t status;
    uint32_t isr;               /* bit 0: used buffer, bit 1: config change */
    uint64_t driver_features;
    uint32_t config_generation;
    unsigned nqueues;
    VirtQueue vq[VIRTIO_MAX_QUEUES];
    /* Called by the device layer when an interrupt must be raised
     * (set by the transport). */
    void (*update_irq)(VirtioDevice *vd);
    void *transport;
};

/* Device model helpers. */
void virtio_init(VirtioDevice *vd, const VirtioDeviceOps *ops, void *priv,
                 GuestMem *mem, unsigned nqueues, uint16_t queue_max);
bool virtio_has_feature(const VirtioDevice *vd, unsigned bit);
/* Put the device into NEEDS_RESET (guest handed us garbage) and tell the
 * driver with a config-change interrupt. Logs once. */
void virtio_set_broken(VirtioDevice *vd, const char *why);
bool virtio_is_ready(const VirtioDevice *vd); /* DRIVER_OK and not broken */
/* Raise a config-change interrupt. */
void virtio_config_changed(VirtioDevice *vd);
/* Transport-level reset (status 0 written): clears status, features,
 * interrupt status and every queue's state (num_max kept, num reset to
 * num_max), then calls ops->reset. */
void virtio_reset(VirtioDevice *vd);
/* The whole device's feature set as offered to the driver: the model's
 * get_features() plus VERSION_1, EVENT_IDX and INDIRECT_DESC. */
uint64_t virtio_device_features(VirtioDevice *vd);

/* Virtqueue: returns 1 and fills *e when a chain was popped, 0 when the
 * queue is empty (or not ready), -1 when the chain was malformed (the device
 * is then broken). */
int virtq_pop(VirtioDevice *vd, unsigned q, VirtqElem *e);
/* Give the chain back with `len` bytes written to its in[] buffers. */
void virtq_push(VirtioDevice *vd, unsigned q, const VirtqElem *e, uint32_t len);
/* Raise the used-buffer interrupt if the driver wants one (honours
 * VIRTIO_F_RING_EVENT_IDX and VIRTQ_AVAIL_F_NO_INTERRUPT). */
void virtq_notify(VirtioDevice *vd, unsigned q);
/* True if there are chains to pop. */
bool virtq_has_work(VirtioDevice *vd, unsigned q);

/* iovec helpers: copy between a flat buffer and an element's buffers,
 * starting `off` bytes in. Return bytes copied. */
size_t iov_to_buf(const struct iovec *iov, unsigned n, size_t off, void *buf, size_t len);
size_t iov_from_buf(const struct iovec *iov, unsigned n, size_t off, const void *buf, size_t len);

#endif
