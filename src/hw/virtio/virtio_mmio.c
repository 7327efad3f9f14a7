/* virtio-mmio transport, version 2: the register window of one device. */
#include "virtio_mmio.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/log.h"
#include "common/util.h"
#include "hw/devstate.h"
#include "hw/devtree.h"
#include "hw/x86/acpi.h"

struct VirtioMmio {
    uint64_t base;
    VirtioDevice *vd;
    uint32_t dev_features_sel;
    uint32_t drv_features_sel;
    uint32_t queue_sel;
};

static void mmio_update_irq(VirtioDevice *vd)
{
    irq_set(&vd->irq, vd->isr != 0);
}

static VirtQueue *cur_queue(VirtioMmio *m)
{
    return m->queue_sel < m->vd->nqueues ? &m->vd->vq[m->queue_sel] : NULL;
}

static uint64_t config_read(VirtioMmio *m, uint64_t off, unsigned size)
{
    VirtioDevice *vd = m->vd;
    uint8_t buf[8] = { 0 };

    if (!vd->ops->config_read || off > vd->ops->config_size ||
        size > vd->ops->config_size - off)
        return 0;
    vd->ops->config_read(vd, (uint32_t)off, buf, size);
    return ld64(buf);   /* little-endian, upper bytes zero */
}

static void config_write(VirtioMmio *m, uint64_t off, uint64_t val, unsigned size)
{
    VirtioDevice *vd = m->vd;
    uint8_t buf[8];

    if (!vd->ops->config_write || off > vd->ops->config_size ||
        size > vd->ops->config_size - off)
        return;
    st64(buf, val);
    vd->ops->config_write(vd, (uint32_t)off, buf, size);
}

uint64_t virtio_mmio_read(VirtioMmio *m, uint64_t off, unsigned size)
{
    VirtioDevice *vd = m->vd;
    VirtQueue *vq = cur_queue(m);

    if (off >= VIRTIO_MMIO_CONFIG)
        return config_read(m, off - VIRTIO_MMIO_CONFIG, size);
    if (size != 4 || (off & 3))
        return 0;

    switch (off) {
    case VIRTIO_MMIO_MAGIC_VALUE:   return VIRTIO_MMIO_MAGIC;
    case VIRTIO_MMIO_VERSION_REG:   return VIRTIO_MMIO_VERSION;
    case VIRTIO_MMIO_DEVICE_ID:     return vd->ops->device_id;
    case VIRTIO_MMIO_VENDOR_ID_REG: return VIRTIO_MMIO_VENDOR_ID;
    case VIRTIO_MMIO_DEVICE_FEATURES:
        if (m->dev_features_sel > 1)
            return 0;
        return (uint32_t)(virtio_device_features(vd) >> (32 * m->dev_features_sel));
    case VIRTIO_MMIO_QUEUE_NUM_MAX: return vq ? vq->num_max : 0;
    case VIRTIO_MMIO_QUEUE_READY:   return vq ? vq->ready : 0;
    case VIRTIO_MMIO_INTERRUPT_STATUS: return vd->isr;
    case VIRTIO_MMIO_STATUS:        return vd->status;
    case VIRTIO_MMIO_QUEUE_DESC_LOW:    return vq ? (uint32_t)vq->desc_gpa : 0;
    case VIRTIO_MMIO_QUEUE_DESC_HIGH:   return vq ? (uint32_t)(vq->desc_gpa >> 32) : 0;
    case VIRTIO_MMIO_QUEUE_DRIVER_LOW:  return vq ? (uint32_t)vq->avail_gpa : 0;
    case VIRTIO_MMIO_QUEUE_DRIVER_HIGH: return vq ? (uint32_t)(vq->avail_gpa >> 32) : 0;
    case VIRTIO_MMIO_QUEUE_DEVICE_LOW:  return vq ? (uint32_t)vq->used_gpa : 0;
    case VIRTIO_MMIO_QUEUE_DEVICE_HIGH: return vq ? (uint32_t)(vq->used_gpa >> 32) : 0;
    case VIRTIO_MMIO_CONFIG_GENERATION: return vd->config_generation;
    default:                        return 0;
    }
}

/* The status bits virtio 1.x defines; the others are reserved and the
 * device never holds them. */
#define STATUS_DEFINED (VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | \
                        VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FEATURES_OK | \
                        VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED)

/* FEATURES_OK is only accepted for a modern driver that asked for nothing
 * the device did not offer. */
static bool features_acceptable(VirtioDevice *vd, uint64_t f)
{
    return (f & (1ull << VIRTIO_F_VERSION_1)) && !(f & ~virtio_device_features(vd));
}

/* The device may run: let it use its backends, and catch up on buffers
 * the driver queued (and maybe kicked) while it could not. */
static void device_start(VirtioDevice *vd)
{
    if (vd->ops->activate)
        vd->ops->activate(vd);
    for (unsigned q = 0; q < vd->nqueues && virtio_is_ready(vd); q++)
        if (vd->vq[q].ready && vd->ops->queue_notify)
            vd->ops->queue_notify(vd, q);
}

static void write_status(VirtioMmio *m, uint32_t val)
{
    VirtioDevice *vd = m->vd;
    uint32_t old = vd->status;

    val &= STATUS_DEFINED;
    if (!val) {
        virtio_reset(vd);
        return;
    }
    if ((val & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK) &&
        !features_acceptable(vd, vd->driver_features))
        val &= ~(uint32_t)VIRTIO_STATUS_FEATURES_OK;
    /* DRIVER_OK without FEATURES_OK is a driver bug; don't start. */
    if ((val & VIRTIO_STATUS_DRIVER_OK) && !(val & VIRTIO_STATUS_FEATURES_OK))
        val &= ~(uint32_t)VIRTIO_STATUS_DRIVER_OK;
    /* NEEDS_RESET is ours to set; only a reset clears it. */
    vd->status = (val & ~(uint32_t)VIRTIO_STATUS_NEEDS_RESET) |
                 (old & VIRTIO_STATUS_NEEDS_RESET);

    /* Queues are not processed before DRIVER_OK. */
    if ((vd->status & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK))
        device_start(vd);
}

/* Why a queue's layout cannot be used, or NULL: the size a power of two
 * within QueueNumMax, each ring naturally aligned and wholly in guest RAM. */
static const char *queue_layout_error(VirtioDevice *vd, const VirtQueue *vq)
{
    uint64_t n = vq->num;

    if (!n || n > vq->num_max || (n & (n - 1)))
        return "queue size is not a power of two within QueueNumMax";
    if ((vq->desc_gpa & 15) || (vq->avail_gpa & 1) || (vq->used_gpa & 3) ||
        !gmem_ptr(vd->mem, vq->desc_gpa, 16 * n) ||
        !gmem_ptr(vd->mem, vq->avail_gpa, 6 + 2 * n) ||
        !gmem_ptr(vd->mem, vq->used_gpa, 6 + 8 * n))
        return "queue rings outside guest RAM or misaligned";
    return NULL;
}

static void set_queue_ready(VirtioMmio *m, VirtQueue *vq, bool on)
{
    VirtioDevice *vd = m->vd;
    const char *why;

    if (!on) {
        vq->ready = false;
        return;
    }
    if (vq->ready)
        return;
    if ((why = queue_layout_error(vd, vq))) {
        virtio_set_broken(vd, why);
        return;
    }
    vq->last_avail = 0;
    vq->used_idx = 0;
    vq->signalled_used = 0;
    vq->signalled_valid = false;
    vq->ready = true;
}

static void set_lo(uint64_t *r, uint32_t v) { *r = (*r & ~0xffffffffull) | v; }
static void set_hi(uint64_t *r, uint32_t v) { *r = (*r & 0xffffffffull) | ((uint64_t)v << 32); }

void virtio_mmio_write(VirtioMmio *m, uint64_t off, uint64_t val64, unsigned size)
{
    VirtioDevice *vd = m->vd;
    VirtQueue *vq = cur_queue(m);
    uint32_t val = (uint32_t)val64;
    /* Queue layout may only change while the queue is stopped. */
    VirtQueue *vq_cfg = vq && !vq->ready ? vq : NULL;

    if (off >= VIRTIO_MMIO_CONFIG) {
        config_write(m, off - VIRTIO_MMIO_CONFIG, val64, size);
        return;
    }
    if (size != 4 || (off & 3))
        return;

    switch (off) {
    case VIRTIO_MMIO_DEVICE_FEATURES_SEL: m->dev_features_sel = val; break;
    case VIRTIO_MMIO_DRIVER_FEATURES_SEL: m->drv_features_sel = val; break;
    case VIRTIO_MMIO_DRIVER_FEATURES:
        if (m->drv_features_sel > 1 || (vd->status & VIRTIO_STATUS_FEATURES_OK))
            break;
        if (m->drv_features_sel == 0)
            set_lo(&vd->driver_features, val);
        else
            set_hi(&vd->driver_features, val);
        break;
    case VIRTIO_MMIO_QUEUE_SEL: m->queue_sel = val; break;
    case VIRTIO_MMIO_QUEUE_NUM:
        if (vq_cfg)
            vq_cfg->num = (uint16_t)MIN(val, 0xffffu);
        break;
    case VIRTIO_MMIO_QUEUE_READY:
        if (vq)
            set_queue_ready(m, vq, val & 1);
        break;
    case VIRTIO_MMIO_QUEUE_NOTIFY:
        val &= 0xffff;
        if (val < vd->nqueues && vd->vq[val].ready && virtio_is_ready(vd) &&
            vd->ops->queue_notify)
            vd->ops->queue_notify(vd, val);
        break;
    case VIRTIO_MMIO_INTERRUPT_ACK:
        vd->isr &= ~val;
        mmio_update_irq(vd);
        break;
    case VIRTIO_MMIO_STATUS: write_status(m, val); break;
    case VIRTIO_MMIO_QUEUE_DESC_LOW:    if (vq_cfg) set_lo(&vq_cfg->desc_gpa, val); break;
    case VIRTIO_MMIO_QUEUE_DESC_HIGH:   if (vq_cfg) set_hi(&vq_cfg->desc_gpa, val); break;
    case VIRTIO_MMIO_QUEUE_DRIVER_LOW:  if (vq_cfg) set_lo(&vq_cfg->avail_gpa, val); break;
    case VIRTIO_MMIO_QUEUE_DRIVER_HIGH: if (vq_cfg) set_hi(&vq_cfg->avail_gpa, val); break;
    case VIRTIO_MMIO_QUEUE_DEVICE_LOW:  if (vq_cfg) set_lo(&vq_cfg->used_gpa, val); break;
    case VIRTIO_MMIO_QUEUE_DEVICE_HIGH: if (vq_cfg) set_hi(&vq_cfg->used_gpa, val); break;
    default: break;
    }
}

static uint64_t bus_read_cb(void *opaque, uint64_t off, unsigned size)
{
    return virtio_mmio_read(opaque, off, size);
}

static void bus_write_cb(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
    virtio_mmio_write(opaque, off, val, size);
}

static const MmioOps virtio_mmio_ops = {
    .read = bus_read_cb,
    .write = bus_write_cb,
};

/* ---- how the guest finds the slot */

static int mmio_fdt(void *opaque, const FdtCtx *ctx)
{
    VirtioMmio *m = opaque;

    DT_TRY(dt_begin_node_at(ctx->fdt, "virtio_mmio", m->base));
    DT_TRY(fdt_property_string(ctx->fdt, "compatible", "virtio,mmio"));
    DT_TRY(dt_prop_reg(ctx->fdt, m->base, VIRTIO_MMIO_SIZE));
    DT_TRY(dt_prop_irq(ctx, m->vd->irq.irq));
    return fdt_end_node(ctx->fdt);
}

/* The interrupt is level-triggered: asserted while InterruptStatus is not
 * zero. */
static int mmio_acpi(void *opaque, X86AcpiInfo *ai)
{
    VirtioMmio *m = opaque;

    return x86_acpi_add_level_irq(ai, m->vd->irq.irq);
}

/* Without a device tree, Linux's virtio_mmio driver takes its devices from
 * the command line: virtio_mmio.device=SIZE@BASE:IRQ. */
static int mmio_cmdline(void *opaque, CmdlineBuf *cl)
{
    VirtioMmio *m = opaque;

    return cmdline_append(cl, "virtio_mmio.device=%uK@0x%llx:%u", VIRTIO_MMIO_SIZE >> 10,
                          (unsigned long long)m->base, m->vd->irq.irq);
}

static const DescOps virtio_mmio_desc = {
    .fdt = mmio_fdt, .acpi = mmio_acpi, .cmdline = mmio_cmdline,
};

VirtioMmio *virtio_mmio_create(Bus *bus, uint64_t base, IrqLine irq, VirtioDevice *vd)
{
    VirtioMmio *m = calloc(1, sizeof(*m));

    if (!m) {
        log_err("%s: out of memory", vd->ops->name);
        return NULL;
    }
    m->base = base;
    m->vd = vd;
    vd->irq = irq;
    vd->update_irq = mmio_update_irq;
    vd->transport = m;
    if (bus && bus_map_desc(bus, base, VIRTIO_MMIO_SIZE, &virtio_mmio_ops, &virtio_mmio_desc, m,
                            vd->ops->name) < 0) {
        log_err("%s: cannot map MMIO window at 0x%llx", vd->ops->name,
                (unsigned long long)base);
        vd->update_irq = NULL;
        vd->transport = NULL;
        free(m);
        return NULL;
    }
    return m;
}

void virtio_mmio_destroy(VirtioMmio *m)
{
    if (!m)
        return;
    if (m->vd->transport == m) {
        m->vd->update_irq = NULL;
        m->vd->transport = NULL;
    }
    free(m);
}

/* ---- saved state (docs/state-format.md, VMIO) ---- */

/* The transport's and the device's common state as a section holds it. */
typedef struct MmioImage {
    uint32_t device_id, status, isr, config_generation, nqueues;
    uint32_t dev_features_sel, drv_features_sel, queue_sel;
    uint64_t driver_features;
    VirtQueue vq[VIRTIO_MAX_QUEUES];
} MmioImage;

static void save_queue(StateBuf *b, const VirtQueue *vq, unsigned held)
{
    sb_put_u16(b, vq->num);
    sb_put_bool(b, vq->ready);
    sb_put_u64(b, vq->desc_gpa);
    sb_put_u64(b, vq->avail_gpa);
    sb_put_u64(b, vq->used_gpa);
    sb_put_u16(b, (uint16_t)(vq->last_avail - held));
    sb_put_u16(b, vq->used_idx);
    sb_put_u16(b, vq->signalled_used);
    sb_put_bool(b, vq->signalled_valid);
}

int virtio_mmio_save(void *opaque, StateBuf *b, char *err, size_t errlen)
{
    VirtioMmio *m = opaque;
    VirtioDevice *vd = m->vd;

    sb_put_u32(b, vd->ops->device_id);
    sb_put_u32(b, vd->status);
    sb_put_u64(b, vd->driver_features);
    sb_put_u32(b, m->dev_features_sel);
    sb_put_u32(b, m->drv_features_sel);
    sb_put_u32(b, m->queue_sel);
    sb_put_u32(b, vd->isr);
    sb_put_u32(b, vd->config_generation);
    sb_put_u32(b, vd->nqueues);
    for (unsigned q = 0; q < vd->nqueues; q++) {
        const VirtQueue *vq = &vd->vq[q];
        /* Chains the device holds go back to the ring in the saved state:
         * the restored device pops them again. */
        unsigned held = vq->ready && vd->ops->held ? vd->ops->held(vd, q) : 0;
        save_queue(b, vq, held);
    }
    return vd->ops->save ? vd->ops->save(vd, b) : 0;
}

static void load_queue(StateBuf *b, VirtQueue *vq)
{
    vq->num = sb_get_u16(b);
    vq->ready = sb_get_bool(b);
    vq->desc_gpa = sb_get_u64(b);
    vq->avail_gpa = sb_get_u64(b);
    vq->used_gpa = sb_get_u64(b);
    vq->last_avail = sb_get_u16(b);
    vq->used_idx = sb_get_u16(b);
    vq->signalled_used = sb_get_u16(b);
    vq->signalled_valid = sb_get_bool(b);
}

/* A queue the driver made ready must be one set_queue_ready() accepted,
 * with no more chains between the device's avail and used indices than
 * the ring holds. A stopped queue's registers are checked when the
 * driver starts it. */
static int check_queue(VirtioDevice *vd, const VirtQueue *vq, unsigned q, char *err,
                       size_t errlen)
{
    const char *why;

    if (!vq->ready)
        return 0;
    why = queue_layout_error(vd, vq);
    if (!why && (uint16_t)(vq->last_avail - vq->used_idx) > vq->num)
        why = "more chains in flight than the queue holds";
    if (why) {
        snprintf(err, errlen, "queue %u: %s", q, why);
        return -1;
    }
    return 0;
}

/* The section is for this device: its type and its number of queues. */
static int check_identity(VirtioMmio *m, MmioImage *im, char *err, size_t errlen)
{
    VirtioDevice *vd = m->vd;

    if (im->device_id != vd->ops->device_id) {
        snprintf(err, errlen, "saved from virtio device type %u, this slot holds a %s (%u)",
                 im->device_id, vd->ops->name, vd->ops->device_id);
        return -1;
    }
    if (im->nqueues != vd->nqueues) {
        snprintf(err, errlen, "saved with %u queues, this %s has %u", im->nqueues,
                 vd->ops->name, vd->nqueues);
        return -1;
    }
    return 0;
}

static int check_image(VirtioMmio *m, MmioImage *im, char *err, size_t errlen)
{
    VirtioDevice *vd = m->vd;

    if (im->status & ~(uint32_t)STATUS_DEFINED) {
        snprintf(err, errlen, "reserved device status bits 0x%x", im->status);
        return -1;
    }
    if ((im->status & VIRTIO_STATUS_DRIVER_OK) && !(im->status & VIRTIO_STATUS_FEATURES_OK)) {
        snprintf(err, errlen, "DRIVER_OK without FEATURES_OK");
        return -1;
    }
    if ((im->status & VIRTIO_STATUS_FEATURES_OK) &&
        !features_acceptable(vd, im->driver_features)) {
        snprintf(err, errlen, "negotiated features 0x%llx that the device does not offer",
                 (unsigned long long)im->driver_features);
        return -1;
    }
    if (im->isr & ~3u) {
        snprintf(err, errlen, "reserved interrupt status bits 0x%x", im->isr);
        return -1;
    }
    for (unsigned q = 0; q < im->nqueues; q++)
        if (check_queue(vd, &im->vq[q], q, err, errlen))
            return -1;
    return 0;
}

static void apply_image(VirtioMmio *m, const MmioImage *im)
{
    VirtioDevice *vd = m->vd;

    vd->status = im->status;
    vd->driver_features = im->driver_features;
    vd->isr = im->isr;
    vd->config_generation = im->config_generation;
    m->dev_features_sel = im->dev_features_sel;
    m->drv_features_sel = im->drv_features_sel;
    m->queue_sel = im->queue_sel;
    for (unsigned q = 0; q < vd->nqueues; q++) {
        uint16_t max = vd->vq[q].num_max;
        vd->vq[q] = im->vq[q];
        vd->vq[q].num_max = max;
    }
}

int virtio_mmio_load(void *opaque, StateBuf *b, uint32_t version, char *err, size_t errlen)
{
    VirtioMmio *m = opaque;
    VirtioDevice *vd = m->vd;
    MmioImage im = { 0 };

    if (devstate_version(version, VIRTIO_MMIO_STATE_VERSION, err, errlen))
        return -1;
    im.device_id = sb_get_u32(b);
    im.status = sb_get_u32(b);
    im.driver_features = sb_get_u64(b);
    im.dev_features_sel = sb_get_u32(b);
    im.drv_features_sel = sb_get_u32(b);
    im.queue_sel = sb_get_u32(b);
    im.isr = sb_get_u32(b);
    im.config_generation = sb_get_u32(b);
    im.nqueues = sb_get_u32(b);
    if (!b->error && check_identity(m, &im, err, errlen))
        return -1;
    for (unsigned q = 0; q < vd->nqueues; q++) {
        im.vq[q].num_max = vd->vq[q].num_max;
        load_queue(b, &im.vq[q]);
    }
    if (b->error) {
        snprintf(err, errlen, "too short or malformed");
        return -1;
    }
    if (check_image(m, &im, err, errlen))
        return -1;
    /* The device's part ends the section: its loader checks the end and
     * applies itself only when valid; the transport applies after it. */
    if (vd->ops->load ? vd->ops->load(vd, b, version, err, errlen) : devstate_end(b, err, errlen))
        return -1;
    apply_image(m, &im);
    mmio_update_irq(vd);
    return 0;
}

void virtio_mmio_restart(VirtioMmio *m)
{
    VirtioDevice *vd = m->vd;

    if (virtio_is_ready(vd))
        device_start(vd);
    if (vd->ops->restarted)
        vd->ops->restarted(vd);
}
