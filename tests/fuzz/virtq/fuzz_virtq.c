/* Fuzz the split virtqueue: the input is a small header (queue size,
 * features, ring addresses, starting indices) followed by the contents of a
 * 64 KiB guest RAM; the rest of the input is a stream of "driver writes"
 * applied between pops, as a concurrent vCPU would. The harness pops and
 * pushes on a fake device, touches every buffer it is given and traps if a
 * buffer lies outside guest RAM. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "hw/mem.h"
#include "hw/virtio/virtio.h"

#define RAM_BASE 0x80000000ull
#define RAM_SIZE 0x10000ull
#define HDR_SIZE 32   /* raw used address reads h[18..25] */

static GuestMem mem;
static VirtqElem elem;
static uint8_t scratch[4096];

static const VirtioDeviceOps fuzz_ops = { .name = "virtio-fuzz", .device_id = 99 };

static void check_iov(const struct iovec *iov, unsigned n)
{
    const uint8_t *lo = mem.r[0].host, *hi = lo + RAM_SIZE;

    for (unsigned i = 0; i < n; i++) {
        const uint8_t *p = iov[i].iov_base;
        if (p < lo || p > hi || iov[i].iov_len > (size_t)(hi - p))
            __builtin_trap();
    }
}

/* A ring address: an offset into RAM, or (flag) a raw 64-bit value. */
static uint64_t ring_addr(const uint8_t *h, bool raw)
{
    return raw ? ld64(h) : RAM_BASE + (ld16(h) & (RAM_SIZE - 1));
}

static void setup_queue(VirtioDevice *vd, const uint8_t *h)
{
    uint8_t flags = h[1];

    vd->driver_features = 1ull << VIRTIO_F_VERSION_1;
    if (flags & 1)
        vd->driver_features |= 1ull << VIRTIO_F_RING_INDIRECT_DESC;
    if (flags & 2)
        vd->driver_features |= 1ull << VIRTIO_F_RING_EVENT_IDX;
    vd->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                 VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;
    VirtQueue *vq = &vd->vq[0];
    vq->num = (uint16_t)(1u << (h[0] % 11));    /* 1 .. 1024, may exceed max */
    vq->desc_gpa = ring_addr(h + 2, flags & 4);
    vq->avail_gpa = ring_addr(h + 10, flags & 8);
    vq->used_gpa = ring_addr(h + 18, flags & 16);
    vq->last_avail = ld16(h + 4);
    vq->used_idx = ld16(h + 6);
    vq->ready = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    VirtioDevice vd;
    const uint8_t *h = data, *ops;
    size_t ram_len, nops;

    if (!init) {
        log_set_level(LOG_ERR);
        if (gmem_add_ram(&mem, RAM_BASE, RAM_SIZE) < 0)
            abort();
        init = true;
    }
    if (size < HDR_SIZE)
        return 0;
    data += HDR_SIZE;
    size -= HDR_SIZE;
    /* Guest RAM: the first part of the input, the rest zero. */
    ram_len = MIN(size, (size_t)RAM_SIZE);
    memset(mem.r[0].host, 0, RAM_SIZE);
    memcpy(mem.r[0].host, data, ram_len);
    /* Driver writes: what follows RAM, 3 bytes each {offset16, value}. */
    ops = data + ram_len;
    nops = (size - ram_len) / 3;

    virtio_init(&vd, &fuzz_ops, NULL, &mem, 1, 256);
    setup_queue(&vd, h);

    for (unsigned it = 0, resets = 0; it < 256; it++) {
        int r = virtq_pop(&vd, 0, &elem);
        if (r == 1) {
            check_iov(elem.out, elem.n_out);
            check_iov(elem.in, elem.n_in);
            iov_to_buf(elem.out, elem.n_out, 0, scratch, sizeof(scratch));
            size_t w = iov_from_buf(elem.in, elem.n_in, h[0] % 7, scratch,
                                    MIN(elem.in_len, (uint64_t)sizeof(scratch)));
            virtq_push(&vd, 0, &elem, (uint32_t)w + (it & 3));
            virtq_notify(&vd, 0);
            (void)virtq_has_work(&vd, 0);
        } else if (r < 0) {
            if (++resets > 2)
                break;
            virtio_reset(&vd);
            setup_queue(&vd, h);
        } else if (!nops) {
            break;
        }
        if (nops) {     /* the "driver" changes something */
            mem.r[0].host[ld16(ops) & (RAM_SIZE - 1)] = ops[2];
            ops += 3;
            nops--;
        }
    }
    return 0;
}
