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

#include "common/config.h"
#include "common/loop.h"
#include "virtio.h"

/* Raw disk image (CfgDisk.format "" or "raw"); read-only when
 * disk->readonly or disk->cdrom. */
VirtioDevice *virtio_blk_create(GuestMem *mem, const CfgDisk *disk, char *err, size_t errlen);

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
/* Bytes currently ballooned out, as reported by the driver. */
uint64_t virtio_balloon_get_actual(VirtioDevice *vd);
/* Copy the last stats the guest reported into *st and ask the guest for
 * fresh ones (they arrive asynchronously). Returns 0 if st->valid, else -1. */
int virtio_balloon_get_stats(VirtioDevice *vd, BalloonStats *st);

/* Implemented in net.c. */
VirtioDevice *virtio_net_create(GuestMem *mem, Loop *loop, const CfgNic *nic,
                                char *err, size_t errlen);

/* Free a device model and its backend (calls ops->destroy). NULL is ok. */
void virtio_device_destroy(VirtioDevice *vd);

#endif
