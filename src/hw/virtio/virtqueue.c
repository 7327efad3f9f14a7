/* Virtio core: device status helpers and the split virtqueue (virtio 1.x).
 *
 * The rings live in guest RAM and the guest's vCPUs write them from other
 * threads, concurrently with us. Every index and address read from the
 * rings is therefore treated as hostile and checked before use; each
 * descriptor is copied out of guest memory exactly once, so a guest cannot
 * change it between the check and the use. Ordering follows the virtio
 * spec: acquire on avail->idx before reading ring entries and descriptors,
 * release on used->idx after the used element, and a full fence between
 * publishing used->idx and reading the driver's interrupt suppression. */
#include "virtio.h"
#include "devices.h"

#include <string.h>

#include "common/log.h"
#include "common/util.h"

#define VIRTQ_DESC_F_NEXT     1
#define VIRTQ_DESC_F_WRITE    2
#define VIRTQ_DESC_F_INDIRECT 4

#define VIRTQ_AVAIL_F_NO_INTERRUPT 1

#define VIRTQ_DESC_SIZE 16

/* Host pointers to one queue's three rings, valid for the current call. */
typedef struct Rings {
    uint8_t *desc;   /* num * 16 bytes */
    uint8_t *avail;  /* flags, idx, ring[num], used_event */
    uint8_t *used;   /* flags, idx, ring[num] {id, len}, avail_event */
} Rings;

typedef struct Desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
} Desc;

/* ---- device helpers ---------------------------------------------------- */

void virtio_init(VirtioDevice *vd, const VirtioDeviceOps *ops, void *priv,
                 GuestMem *mem, unsigned nqueues, uint16_t queue_max)
{
    memset(vd, 0, sizeof(*vd));
    vd->ops = ops;
    vd->priv = priv;
    vd->mem = mem;
    vd->nqueues = MIN(nqueues, (unsigned)VIRTIO_MAX_QUEUES);
    if (queue_max > VIRTQ_MAX_SIZE)
        queue_max = VIRTQ_MAX_SIZE;
    for (unsigned i = 0; i < vd->nqueues; i++) {
        vd->vq[i].num_max = queue_max;
        vd->vq[i].num = queue_max;
    }
}

bool virtio_has_feature(const VirtioDevice *vd, unsigned bit)
{
    return bit < 64 && (vd->driver_features & (1ull << bit));
}

uint64_t virtio_device_features(VirtioDevice *vd)
{
    uint64_t f = vd->ops->get_features ? vd->ops->get_features(vd) : 0;

    return f | (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_RING_EVENT_IDX) |
           (1ull << VIRTIO_F_RING_INDIRECT_DESC);
}

static void raise_irq(VirtioDevice *vd, uint32_t bit)
{
    vd->isr |= bit;
    if (vd->update_irq)
        vd->update_irq(vd);
}

void virtio_set_broken(VirtioDevice *vd, const char *why)
{
    if (vd->status & VIRTIO_STATUS_NEEDS_RESET)
        return;
    vd->status |= VIRTIO_STATUS_NEEDS_RESET;
    log_warn_rl("%s: %s; device needs reset",
             vd->ops && vd->ops->name ? vd->ops->name : "virtio", why);
    raise_irq(vd, 2);
}

bool virtio_is_ready(const VirtioDevice *vd)
{
    return (vd->status & VIRTIO_STATUS_DRIVER_OK) &&
           !(vd->status & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED));
}

void virtio_config_changed(VirtioDevice *vd)
{
    vd->config_generation++;
    raise_irq(vd, 2);
}

void virtio_reset(VirtioDevice *vd)
{
    vd->status = 0;
    vd->isr = 0;
    vd->driver_features = 0;
    for (unsigned i = 0; i < vd->nqueues; i++) {
        VirtQueue *vq = &vd->vq[i];
        uint16_t max = vq->num_max;
        memset(vq, 0, sizeof(*vq));
        vq->num_max = max;
        vq->num = max;
    }
    if (vd->ops && vd->ops->reset)
        vd->ops->reset(vd);
    if (vd->update_irq)
        vd->update_irq(vd);
}

void virtio_device_destroy(VirtioDevice *vd)
{
    if (vd && vd->ops && vd->ops->destroy)
        vd->ops->destroy(vd);
}

/* ---- rings ------------------------------------------------------------- */

/* Resolve and check the queue's rings: size a power of two within num_max,
 * each ring inside guest RAM and naturally aligned. */
static bool get_rings(VirtioDevice *vd, VirtQueue *vq, Rings *r)
{
    uint64_t n = vq->num;

    if (!n || n > vq->num_max || (n & (n - 1)))
        return false;
    if ((vq->desc_gpa & 15) || (vq->avail_gpa & 1) || (vq->used_gpa & 3))
        return false;
    r->desc = gmem_ptr(vd->mem, vq->desc_gpa, n * VIRTQ_DESC_SIZE);
    r->avail = gmem_ptr(vd->mem, vq->avail_gpa, 6 + 2 * n);
    /* The used ring is written by us: dirty tracking happens per write. */
    r->used = gmem_ptr(vd->mem, vq->used_gpa, 6 + 8 * n);
    return r->desc && r->avail && r->used;
}

static inline uint16_t load16_acq(const uint8_t *p)
{
    return __atomic_load_n((const uint16_t *)p, __ATOMIC_ACQUIRE);
}

static inline uint16_t load16(const uint8_t *p)
{
    return __atomic_load_n((const uint16_t *)p, __ATOMIC_RELAXED);
}

static inline void store16_rel(uint8_t *p, uint16_t v)
{
    __atomic_store_n((uint16_t *)p, v, __ATOMIC_RELEASE);
}

/* Copy one descriptor out of guest memory (once: the guest may rewrite it). */
static void read_desc(const uint8_t *table, unsigned i, Desc *d)
{
    uint8_t raw[VIRTQ_DESC_SIZE];

    memcpy(raw, table + (size_t)i * VIRTQ_DESC_SIZE, sizeof(raw));
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    d->addr = ld64(raw);
    d->len = ld32(raw + 8);
    d->flags = ld16(raw + 12);
    d->next = ld16(raw + 14);
}

static bool queue_usable(VirtioDevice *vd, unsigned q)
{
    return q < vd->nqueues && vd->vq[q].ready && virtio_is_ready(vd);
}

bool virtq_has_work(VirtioDevice *vd, unsigned q)
{
    Rings r;

    if (!queue_usable(vd, q) || !get_rings(vd, &vd->vq[q], &r))
        return false;
    return load16_acq(r.avail + 2) != vd->vq[q].last_avail;
}

static int fail(VirtioDevice *vd, const char *why)
{
    virtio_set_broken(vd, why);
    return -1;
}

/* Add one buffer descriptor to the element. */
static int add_buffer(VirtioDevice *vd, VirtqElem *e, const Desc *d)
{
    void *p;

    if (e->n_out + e->n_in >= VIRTQ_MAX_CHAIN)
        return fail(vd, "descriptor chain too long");
    if (d->flags & VIRTQ_DESC_F_WRITE) {
        p = gmem_ptr_w(vd->mem, d->addr, d->len);
        if (!p)
            return fail(vd, "writable buffer outside guest RAM");
        e->in[e->n_in].iov_base = p;
        e->in[e->n_in].iov_len = d->len;
        e->in_gpa[e->n_in] = d->addr;
        e->n_in++;
        e->in_len += d->len;
    } else {
        if (e->n_in)
            return fail(vd, "readable buffer after a writable one");
        p = gmem_ptr(vd->mem, d->addr, d->len);
        if (!p)
            return fail(vd, "readable buffer outside guest RAM");
        e->out[e->n_out].iov_base = p;
        e->out[e->n_out].iov_len = d->len;
        e->n_out++;
        e->out_len += d->len;
    }
    /* used.len is 32 bits: a chain larger than that cannot be reported. */
    if (e->in_len + e->out_len > UINT32_MAX)
        return fail(vd, "descriptor chain length overflow");
    return 0;
}

int virtq_pop(VirtioDevice *vd, unsigned q, VirtqElem *e)
{
    VirtQueue *vq;
    Rings r;
    uint16_t avail_idx, head;
    const uint8_t *table;
    unsigned tnum, i, steps;
    bool indirect = false;
    Desc d;

    if (!queue_usable(vd, q))
        return 0;
    vq = &vd->vq[q];
    if (!get_rings(vd, vq, &r))
        return fail(vd, "queue rings outside guest RAM or misaligned");

    avail_idx = load16_acq(r.avail + 2);
    if (avail_idx == vq->last_avail)
        return 0;
    if ((uint16_t)(avail_idx - vq->last_avail) > vq->num)
        return fail(vd, "avail index moved more than the queue size");

    head = load16(r.avail + 4 + 2 * (vq->last_avail & (vq->num - 1)));
    if (head >= vq->num)
        return fail(vd, "avail ring head out of range");

    e->head = head;
    e->n_out = e->n_in = 0;
    e->out_len = e->in_len = 0;

    table = r.desc;
    tnum = vq->num;
    i = head;
    steps = 0;
    for (;;) {
        /* In a table of tnum entries a chain longer than tnum has a loop. */
        if (++steps > tnum)
            return fail(vd, "descriptor chain loops");
        read_desc(table, i, &d);
        if (d.flags & VIRTQ_DESC_F_INDIRECT) {
            if (!virtio_has_feature(vd, VIRTIO_F_RING_INDIRECT_DESC))
                return fail(vd, "indirect descriptor not negotiated");
            if (indirect)
                return fail(vd, "nested indirect descriptor");
            if (d.flags & VIRTQ_DESC_F_NEXT)
                return fail(vd, "indirect descriptor with NEXT flag");
            if (!d.len || d.len % VIRTQ_DESC_SIZE ||
                d.len / VIRTQ_DESC_SIZE > VIRTQ_MAX_CHAIN)
                return fail(vd, "bad indirect table length");
            table = gmem_ptr(vd->mem, d.addr, d.len);
            if (!table)
                return fail(vd, "indirect table outside guest RAM");
            indirect = true;
            tnum = d.len / VIRTQ_DESC_SIZE;
            i = 0;
            steps = 0;
            continue;
        }
        if (add_buffer(vd, e, &d) < 0)
            return -1;
        if (!(d.flags & VIRTQ_DESC_F_NEXT))
            break;
        i = d.next;
        if (i >= tnum)
            return fail(vd, "descriptor next index out of range");
    }

    vq->last_avail++;
    if (virtio_has_feature(vd, VIRTIO_F_RING_EVENT_IDX)) {
        /* avail_event: ask for a kick when the driver adds past this. */
        uint8_t *ae = r.used + 4 + 8 * vq->num;
        store16_rel(ae, vq->last_avail);
        gmem_mark_dirty(vd->mem, vq->used_gpa + 4 + 8 * vq->num, 2);
        /* The next avail->idx read must not pass this store, or a buffer
         * added right now could go unkicked and unseen. */
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
    }
    return 1;
}

void virtq_push(VirtioDevice *vd, unsigned q, const VirtqElem *e, uint32_t len)
{
    VirtQueue *vq;
    Rings r;
    uint8_t *ue;
    uint64_t slot;

    if (q >= vd->nqueues || !vd->vq[q].ready ||
        (vd->status & VIRTIO_STATUS_NEEDS_RESET))
        return;
    vq = &vd->vq[q];
    if (!get_rings(vd, vq, &r)) {
        virtio_set_broken(vd, "queue rings outside guest RAM or misaligned");
        return;
    }
    if (len > e->in_len)
        len = (uint32_t)e->in_len;  /* never claim more than the driver gave */
    /* gmem_ptr_w marked the buffers at pop time; a device may hold a
     * buffer for long (console input), so mark what was written again in
     * case a migration round harvested the dirty log in between. */
    for (unsigned i = 0, left = len; i < e->n_in && left; i++) {
        uint32_t c = (uint32_t)MIN((uint64_t)left, (uint64_t)e->in[i].iov_len);
        gmem_mark_dirty(vd->mem, e->in_gpa[i], c);
        left -= c;
    }
    slot = vq->used_idx & (vq->num - 1);
    ue = r.used + 4 + 8 * slot;
    st32(ue, e->head);
    st32(ue + 4, len);
    vq->used_idx++;
    store16_rel(r.used + 2, vq->used_idx);
    gmem_mark_dirty(vd->mem, vq->used_gpa + 4 + 8 * slot, 8);
    gmem_mark_dirty(vd->mem, vq->used_gpa + 2, 2);
}

void virtq_notify(VirtioDevice *vd, unsigned q)
{
    VirtQueue *vq;
    Rings r;
    bool need;

    if (q >= vd->nqueues || !vd->vq[q].ready)
        return;
    vq = &vd->vq[q];
    if (!get_rings(vd, vq, &r))
        return;
    /* used->idx must be visible before we look at the driver's wishes,
     * else we may miss an update of used_event and never interrupt. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (virtio_has_feature(vd, VIRTIO_F_RING_EVENT_IDX)) {
        uint16_t old = vq->signalled_used, new = vq->used_idx;
        uint16_t event = load16(r.avail + 4 + 2 * vq->num);
        bool valid = vq->signalled_valid;

        vq->signalled_used = new;
        vq->signalled_valid = true;
        /* Interrupt if used_event lies in (old, new]. */
        need = !valid || (uint16_t)(new - event - 1) < (uint16_t)(new - old);
    } else {
        need = !(load16(r.avail) & VIRTQ_AVAIL_F_NO_INTERRUPT);
    }
    if (need)
        raise_irq(vd, 1);
}

/* ---- iovec helpers ----------------------------------------------------- */

size_t iov_to_buf(const struct iovec *iov, unsigned n, size_t off, void *buf, size_t len)
{
    size_t done = 0;

    for (unsigned i = 0; i < n && done < len; i++) {
        size_t l = iov[i].iov_len;
        if (off >= l) {
            off -= l;
            continue;
        }
        size_t c = MIN(l - off, len - done);
        memcpy((uint8_t *)buf + done, (uint8_t *)iov[i].iov_base + off, c);
        done += c;
        off = 0;
    }
    return done;
}

size_t iov_from_buf(const struct iovec *iov, unsigned n, size_t off, const void *buf, size_t len)
{
    size_t done = 0;

    for (unsigned i = 0; i < n && done < len; i++) {
        size_t l = iov[i].iov_len;
        if (off >= l) {
            off -= l;
            continue;
        }
        size_t c = MIN(l - off, len - done);
        memcpy((uint8_t *)iov[i].iov_base + off, (const uint8_t *)buf + done, c);
        done += c;
        off = 0;
    }
    return done;
}
