/* I/O limits of a virtio queue (a disk's requests, a NIC's transmit): token
 * buckets (common/ratelimit.h) checked before each request is taken off
 * the queue. A queue over its limit is left alone, its requests waiting in
 * the ring, and resumed from the event loop when the bucket allows again:
 * a hook lowers the loop's poll timeout to that moment (no busy waiting,
 * no timer descriptor a sandboxed vCPU thread could not arm).
 *
 * Called with the device lock held, like the device itself. */
#ifndef XENO_HW_VIRTIO_THROTTLE_H
#define XENO_HW_VIRTIO_THROTTLE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/loop.h"
#include "common/ratelimit.h"
#include "virtio.h"

typedef struct VirtioThrottle {
    IoThrottle io;
    Loop *loop;              /* NULL: no limits */
    VirtioDevice *vd;
    unsigned q;
    bool waiting;            /* the queue stopped at the limit */
    void (*resume)(VirtioDevice *vd, unsigned q);
} VirtioThrottle;

/* Limit queue q of vd (resume(vd, q) serves it again). All rates 0: no
 * limit and nothing registered. 0, or -1 with one line in err. */
int vthrottle_init(VirtioThrottle *t, Loop *loop, VirtioDevice *vd, unsigned q,
                   void (*resume)(VirtioDevice *vd, unsigned q), uint64_t bps,
                   uint64_t bps_burst, uint64_t iops, uint64_t iops_burst,
                   char *err, size_t errlen);
/* True if the queue must stop now (then it is resumed later). */
bool vthrottle_blocked(VirtioThrottle *t);
/* Count one request of `bytes` that was taken. */
void vthrottle_charge(VirtioThrottle *t, uint64_t bytes);
void vthrottle_fini(VirtioThrottle *t);
/* After a restore or an incoming migration: requests the guest queued
 * while the queue was held are served from the loop (the guest will not
 * ring the doorbell for them again). */
void vthrottle_rearm(VirtioThrottle *t);

#endif
