/* Constructors of the virtio device models. Each returns a VirtioDevice to
 * hand to a transport (virtio_mmio_create), or NULL with one line in err.
 *
 * All functions below touch device state: outside the device's own
 * callbacks, call them with the machine's device lock held. */
#ifndef XENO_HW_VIRTIO_DEVICES_H
#define XENO_HW_VIRTIO_DEVICES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/block.h"
#include "backend/net.h"
#include "common/loop.h"
#include "virtio.h"

/* A disk over an opened block backend, read-only if the backend is.
 * `serial` (at most 20 bytes used, may be NULL) answers GET_ID. The device
 * owns the backend from here on, also when it fails. */
/* The disk behind a virtio-blk device (NULL for another device). */
BlockBackend *virtio_blk_backend(VirtioDevice *vd);
VirtioDevice *virtio_blk_create(GuestMem *mem, BlockBackend *bb, const char *serial,
                                char *err, size_t errlen);
/* I/O limits (hw/virtio/throttle.h): bytes and requests per second, with
 * bursts (0: a tenth of a second's worth); a rate 0 is no limit. The
 * throttled queue is resumed from `loop`. 0, or -1 with one line in err. */
int virtio_blk_set_limits(VirtioDevice *vd, Loop *loop, uint64_t bps, uint64_t bps_burst,
                          uint64_t iops, uint64_t iops_burst, char *err, size_t errlen);

/* Single-port console. Input is read from in_fd through `loop`, output is
 * written to out_fd; either may be -1 (no backend). The fds stay owned by
 * the caller (not closed on destroy). */
VirtioDevice *virtio_console_create(GuestMem *mem, Loop *loop, int in_fd, int out_fd,
                                    char *err, size_t errlen);

/* Entropy from getrandom(2). */
VirtioDevice *virtio_rng_create(GuestMem *mem, char *err, size_t errlen);

typedef struct BalloonStats {
    uint64_t swap_in, swap_out, major_faults, minor_faults, free_memory,
             total_memory, available_memory, disk_caches;
    bool valid;          /* the guest has reported stats at least once */
} BalloonStats;

VirtioDevice *virtio_balloon_create(GuestMem *mem, char *err, size_t errlen);
/* Guest RAM size wanted, in bytes (clamped to [0, RAM size]). */
void virtio_balloon_set_target(VirtioDevice *vd, uint64_t bytes);
/* The guest RAM size asked for, in bytes (after a restore: the saved one). */
uint64_t virtio_balloon_get_target(VirtioDevice *vd);
/* Bytes currently ballooned out, as reported by the driver. */
uint64_t virtio_balloon_get_actual(VirtioDevice *vd);
/* Copy the last stats the guest reported into *st and ask the guest for
 * fresh ones (they arrive asynchronously). Returns 0 if st->valid, else -1. */
int virtio_balloon_get_stats(VirtioDevice *vd, BalloonStats *st);

/* A NIC over an opened network backend, which the device owns from here on
 * (also when it fails). `mac` NULL: a random one in Xen's 00:16:3e range;
 * a multicast MAC is refused. */
VirtioDevice *virtio_net_create(GuestMem *mem, NetBackend *be, const uint8_t *mac,
                                char *err, size_t errlen);

/* Limit what the guest sends to bps bytes per second, at most `burst`
 * at once (Xen's vif rate=); 0: no limit. 0, or -1 with one line in err. */
int virtio_net_set_tx_rate(VirtioDevice *vd, Loop *loop, uint64_t bps, uint64_t burst,
                           char *err, size_t errlen);

typedef struct VirtioNetStats {
    uint64_t tx_packets, tx_bytes, tx_dropped;   /* guest -> network */
    uint64_t rx_packets, rx_bytes, rx_dropped;   /* network -> guest */
} VirtioNetStats;

void virtio_net_get_stats(VirtioDevice *vd, VirtioNetStats *st);
/* The MAC the device presents (given or generated). */
void virtio_net_get_mac(VirtioDevice *vd, uint8_t mac[6]);
/* Make the network learn that the guest's MAC is behind this NIC now (a
 * RARP through the backend, as QEMU's announce): a migration's
 * destination before its vCPUs start, a source resuming after a failed
 * one. Thread-safe (one write on the backend); nothing for other devices. */
void virtio_net_announce(VirtioDevice *vd);

/* Free a device model and its backend (calls ops->destroy). NULL is ok. */
void virtio_device_destroy(VirtioDevice *vd);

#endif
