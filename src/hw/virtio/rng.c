/* virtio-rng (entropy device): one queue; every writable buffer the driver
 * offers is filled from the host's getrandom(2). */
#include "devices.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>

typedef struct VirtioRng {
    VirtioDevice vd;
    VirtqElem elem;
} VirtioRng;

/* Fill one buffer; returns the bytes filled. */
static size_t fill(void *p, size_t len)
{
    size_t done = 0;

    while (done < len) {
        ssize_t r = getrandom((char *)p + done, len - done, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        done += (size_t)r;
    }
    return done;
}

static void rng_queue_notify(VirtioDevice *vd, unsigned q)
{
    VirtioRng *r = vd->priv;
    VirtqElem *e = &r->elem;
    bool done = false;

    while (virtq_pop(vd, q, e) == 1) {
        uint64_t total = 0;
        for (unsigned i = 0; i < e->n_in; i++) {
            size_t n = fill(e->in[i].iov_base, e->in[i].iov_len);
            total += n;
            if (n < e->in[i].iov_len)
                break;
        }
        virtq_push(vd, q, e, (uint32_t)total);
        done = true;
    }
    if (done)
        virtq_notify(vd, q);
}

static void rng_destroy(VirtioDevice *vd)
{
    free(vd->priv);
}

static const VirtioDeviceOps rng_ops = {
    .name = "virtio-rng",
    .device_id = VIRTIO_ID_RNG,
    .queue_notify = rng_queue_notify,
    .destroy = rng_destroy,
};

VirtioDevice *virtio_rng_create(GuestMem *mem, char *err, size_t errlen)
{
    VirtioRng *r = calloc(1, sizeof(*r));

    if (!r) {
        snprintf(err, errlen, "virtio-rng: out of memory");
        return NULL;
    }
    virtio_init(&r->vd, &rng_ops, r, mem, 1, 64);
    return &r->vd;
}
