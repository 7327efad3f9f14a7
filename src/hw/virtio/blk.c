/* virtio-blk: one request queue, requests served synchronously on the kick.
 *
 * A request is a 16-byte header {type, reserved, sector} in the readable
 * part of the chain, the data, and a one-byte status as the last writable
 * byte. A chain without room for the header or the status byte cannot be
 * answered at all, so it breaks the device; everything else (bad sector
 * range, unaligned length, write to a read-only disk) is answered with an
 * error status. */
#include "devices.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/block.h"
#include "common/log.h"
#include "common/util.h"
#include "hw/devstate.h"
#include "hw/virtio/throttle.h"

#define VIRTIO_BLK_F_SEG_MAX  2
#define VIRTIO_BLK_F_RO       5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH    9
#define VIRTIO_BLK_F_DISCARD  13

#define VIRTIO_BLK_T_IN      0
#define VIRTIO_BLK_T_OUT     1
#define VIRTIO_BLK_T_FLUSH   4
#define VIRTIO_BLK_T_GET_ID  8
#define VIRTIO_BLK_T_DISCARD 11

#define VIRTIO_BLK_S_OK     0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_ID_BYTES 20

#define SECTOR_SHIFT 9
#define SECTOR_SIZE  512
#define BLK_QUEUE_SIZE 256
#define BLK_SEG_MAX    (BLK_QUEUE_SIZE - 2)   /* minus header and status */
#define BLK_MAX_DISCARD_SECTORS (1u << 22)    /* 2 GiB per segment */
#define BLK_MAX_DISCARD_SEG     32
#define BLK_DISCARD_ALIGN       8             /* sectors: 4 KiB */

/* Config layout (virtio_blk_config) up to the discard fields. */
#define CFG_CAPACITY         0x00
#define CFG_SEG_MAX          0x0c
#define CFG_BLK_SIZE         0x14
#define CFG_MAX_DISCARD_SECT 0x24
#define CFG_MAX_DISCARD_SEG  0x28
#define CFG_DISCARD_ALIGN    0x2c
#define CFG_SIZE             0x3c

typedef struct VirtioBlk {
    VirtioDevice vd;
    BlockBackend *bb;
    bool readonly;
    uint64_t capacity;                 /* sectors */
    char serial[VIRTIO_BLK_ID_BYTES];  /* zero padded */
    const char *path;                  /* the backend's, for log lines */
    uint8_t config[CFG_SIZE];
    VirtqElem elem;                    /* large: kept off the stack */
    struct iovec data[VIRTQ_MAX_CHAIN];
    VirtioThrottle limit;              /* bps/iops from the config */
} VirtioBlk;

static uint64_t blk_features(VirtioDevice *vd)
{
    VirtioBlk *b = vd->priv;
    uint64_t f = (1ull << VIRTIO_BLK_F_SEG_MAX) | (1ull << VIRTIO_BLK_F_BLK_SIZE) |
                 (1ull << VIRTIO_BLK_F_FLUSH);

    if (b->readonly)
        f |= 1ull << VIRTIO_BLK_F_RO;
    else
        f |= 1ull << VIRTIO_BLK_F_DISCARD;
    return f;
}

static void blk_config_read(VirtioDevice *vd, uint32_t off, void *buf, unsigned len)
{
    VirtioBlk *b = vd->priv;
    memcpy(buf, b->config + off, len);
}

/* Copy `skip` bytes past the start of src[0..n) into dst, at most `len`
 * bytes. Returns the number of entries in dst. */
static unsigned iov_slice(struct iovec *dst, const struct iovec *src, unsigned n,
                          uint64_t skip, uint64_t len)
{
    unsigned k = 0;

    for (unsigned i = 0; i < n && len; i++) {
        uint64_t l = src[i].iov_len;
        if (skip >= l) {
            skip -= l;
            continue;
        }
        uint64_t c = MIN(l - skip, len);
        dst[k].iov_base = (uint8_t *)src[i].iov_base + skip;
        dst[k].iov_len = c;
        k++;
        len -= c;
        skip = 0;
    }
    return k;
}

static bool range_ok(VirtioBlk *b, uint64_t sector, uint64_t bytes)
{
    uint64_t nsect;

    if (bytes % SECTOR_SIZE)
        return false;
    nsect = bytes >> SECTOR_SHIFT;
    return sector <= b->capacity && nsect <= b->capacity - sector;
}

static uint8_t do_discard(VirtioBlk *b, const VirtqElem *e)
{
    uint64_t bytes = e->out_len - 16;
    uint8_t seg[16];

    if (b->readonly)
        return VIRTIO_BLK_S_IOERR;
    if (!bytes || bytes % 16 || bytes / 16 > BLK_MAX_DISCARD_SEG)
        return VIRTIO_BLK_S_IOERR;
    for (uint64_t off = 16; off < e->out_len; off += 16) {
        iov_to_buf(e->out, e->n_out, off, seg, sizeof(seg));
        uint64_t sector = ld64(seg);
        uint32_t num = ld32(seg + 8), flags = ld32(seg + 12);
        if (flags & ~1u)              /* only the UNMAP bit is defined */
            return VIRTIO_BLK_S_UNSUPP;
        if (num > BLK_MAX_DISCARD_SECTORS || sector > b->capacity ||
            num > b->capacity - sector)
            return VIRTIO_BLK_S_IOERR;
        int r = block_discard(b->bb, sector << SECTOR_SHIFT, (uint64_t)num << SECTOR_SHIFT);
        /* Discard is a hint: a host file system that cannot punch holes
         * simply keeps the data. */
        if (r < 0 && r != -EOPNOTSUPP && r != -ENOSYS) {
            log_warn_rl("%s: discard failed: %s", b->path, strerror(-r));
            return VIRTIO_BLK_S_IOERR;
        }
    }
    return VIRTIO_BLK_S_OK;
}

/* Serve one request; returns the bytes written into the in buffers. */
static uint32_t handle_request(VirtioBlk *b, VirtqElem *e)
{
    uint8_t hdr[16], status = VIRTIO_BLK_S_OK;
    uint32_t type;
    uint64_t sector, data_len, written = 0;
    unsigned n;
    int r;

    iov_to_buf(e->out, e->n_out, 0, hdr, sizeof(hdr));
    type = ld32(hdr);
    sector = ld64(hdr + 8);
    data_len = e->in_len - 1;   /* writable bytes before the status byte */

    switch (type) {
    case VIRTIO_BLK_T_IN:
        if (!range_ok(b, sector, data_len)) {
            status = VIRTIO_BLK_S_IOERR;
            break;
        }
        n = iov_slice(b->data, e->in, e->n_in, 0, data_len);
        r = block_preadv(b->bb, b->data, (int)n, sector << SECTOR_SHIFT);
        if (r < 0) {
            log_warn_rl("%s: read failed: %s", b->path, strerror(-r));
            status = VIRTIO_BLK_S_IOERR;
        } else {
            written = data_len;
        }
        break;
    case VIRTIO_BLK_T_OUT:
        if (b->readonly || !range_ok(b, sector, e->out_len - 16)) {
            status = VIRTIO_BLK_S_IOERR;
            break;
        }
        n = iov_slice(b->data, e->out, e->n_out, 16, e->out_len - 16);
        r = block_pwritev(b->bb, b->data, (int)n, sector << SECTOR_SHIFT);
        if (r < 0) {
            log_warn_rl("%s: write failed: %s", b->path, strerror(-r));
            status = VIRTIO_BLK_S_IOERR;
        }
        break;
    case VIRTIO_BLK_T_FLUSH:
        r = block_flush(b->bb);
        if (r < 0) {
            log_warn_rl("%s: flush failed: %s", b->path, strerror(-r));
            status = VIRTIO_BLK_S_IOERR;
        }
        break;
    case VIRTIO_BLK_T_GET_ID:
        written = iov_from_buf(e->in, e->n_in, 0, b->serial,
                               MIN(data_len, (uint64_t)VIRTIO_BLK_ID_BYTES));
        break;
    case VIRTIO_BLK_T_DISCARD:
        status = do_discard(b, e);
        break;
    default:
        status = VIRTIO_BLK_S_UNSUPP;
        break;
    }
    iov_from_buf(e->in, e->n_in, e->in_len - 1, &status, 1);
    return (uint32_t)(written + 1);
}

static void blk_queue_notify(VirtioDevice *vd, unsigned q)
{
    VirtioBlk *b = vd->priv;
    VirtqElem *e = &b->elem;
    bool done = false;

    while (!vthrottle_blocked(&b->limit) && virtq_pop(vd, q, e) == 1) {
        if (e->out_len < 16 || e->in_len < 1) {
            virtio_set_broken(vd, "request without header or status byte");
            return;
        }
        /* what the request moves: the data after the header, or into the
         * buffers before the status byte */
        vthrottle_charge(&b->limit, MAX((uint64_t)e->out_len - 16, (uint64_t)e->in_len - 1));
        virtq_push(vd, q, e, handle_request(b, e));
        done = true;
    }
    if (done)
        virtq_notify(vd, q);
}

static void blk_destroy(VirtioDevice *vd)
{
    VirtioBlk *b = vd->priv;
    vthrottle_fini(&b->limit);
    block_close(b->bb);
    free(b);
}

/* Saved state: nothing beyond the configuration, but the disk must be
 * the one the guest knew: same size, same writability. */
static int blk_save(VirtioDevice *vd, StateBuf *b)
{
    VirtioBlk *blk = vd->priv;

    sb_put_u64(b, blk->capacity);
    sb_put_bool(b, blk->readonly);
    return 0;
}

static int blk_load(VirtioDevice *vd, StateBuf *b, uint32_t version, char *err, size_t errlen)
{
    VirtioBlk *blk = vd->priv;
    uint64_t capacity = sb_get_u64(b);
    bool readonly = sb_get_bool(b);

    if (devstate_end(b, err, errlen))
        return -1;
    if (capacity != blk->capacity) {
        snprintf(err, errlen, "%s has %llu sectors, the guest knew %llu", blk->path,
                 (unsigned long long)blk->capacity, (unsigned long long)capacity);
        return -1;
    }
    if (readonly != blk->readonly) {
        snprintf(err, errlen, "%s is %s now, the guest knew it %s", blk->path,
                 blk->readonly ? "read-only" : "writable", readonly ? "read-only" : "writable");
        return -1;
    }
    vthrottle_rearm(&blk->limit);
    return 0;
}

static const VirtioDeviceOps blk_ops = {
    .name = "virtio-blk",
    .device_id = VIRTIO_ID_BLOCK,
    .get_features = blk_features,
    .config_read = blk_config_read,
    .config_size = CFG_SIZE,
    .queue_notify = blk_queue_notify,
    .destroy = blk_destroy,
    .save = blk_save,
    .load = blk_load,
};

int virtio_blk_set_limits(VirtioDevice *vd, Loop *loop, uint64_t bps, uint64_t bps_burst,
                          uint64_t iops, uint64_t iops_burst, char *err, size_t errlen)
{
    VirtioBlk *b = vd->priv;

    return vthrottle_init(&b->limit, loop, vd, 0, blk_queue_notify, bps, bps_burst,
                          iops, iops_burst, err, errlen);
}

BlockBackend *virtio_blk_backend(VirtioDevice *vd)
{
    return vd && vd->ops == &blk_ops ? ((VirtioBlk *)vd->priv)->bb : NULL;
}

VirtioDevice *virtio_blk_create(GuestMem *mem, BlockBackend *bb, const char *serial,
                                char *err, size_t errlen)
{
    VirtioBlk *b;

    if (!bb) {
        snprintf(err, errlen, "virtio-blk: no disk backend");
        return NULL;
    }
    b = calloc(1, sizeof(*b));
    if (!b) {
        snprintf(err, errlen, "%s: out of memory", block_path(bb));
        block_close(bb);
        return NULL;
    }
    b->bb = bb;
    b->readonly = block_readonly(bb);
    b->path = block_path(bb);
    if (serial)
        memcpy(b->serial, serial, strnlen(serial, sizeof(b->serial)));
    b->capacity = block_size(bb) >> SECTOR_SHIFT;

    st64(b->config + CFG_CAPACITY, b->capacity);
    st32(b->config + CFG_SEG_MAX, BLK_SEG_MAX);
    st32(b->config + CFG_BLK_SIZE, SECTOR_SIZE);
    st32(b->config + CFG_MAX_DISCARD_SECT, BLK_MAX_DISCARD_SECTORS);
    st32(b->config + CFG_MAX_DISCARD_SEG, BLK_MAX_DISCARD_SEG);
    st32(b->config + CFG_DISCARD_ALIGN, BLK_DISCARD_ALIGN);

    virtio_init(&b->vd, &blk_ops, b, mem, 1, BLK_QUEUE_SIZE);
    return &b->vd;
}
