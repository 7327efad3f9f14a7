/* The virtio device set every board gives a domain, in one order:
 * disks, NICs, rng, balloon, the virtio console, the guest agent channel.
 * Boards differ only in where slots live and how they interrupt
 * (BoardSlots). */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "board.h"
#include "control.h"
#include "console_input.h"
#include "backend/block.h"
#include "backend/net.h"
#include "hw/virtio/devices.h"
#include "hw/virtio/virtio_mmio.h"

/* The slots' saved state: each slot's VMIO section is its transport's
 * (virtio_mmio_save/load). A load also arms the restart: on the event
 * loop's first turn, which comes only after the restored domain's vCPUs
 * were started (sections are loaded before the loop ever runs, and main
 * runs it after machine_start), every slot is restarted
 * (virtio_mmio_restart: doorbells lost at the save, network announce). */
typedef struct DevState DevState;

typedef struct SlotState {
    DevState *ds;
    VirtioMmio *t;
} SlotState;

struct DevState {
    Machine *m;
    int restart_fd;         /* an eventfd, readable at once, while armed */
    SlotState slot[MACHINE_MAX_VIRTIO];
};

static void restart_slots(void *opaque, int fd, short revents)
{
    DevState *ds = opaque;

    loop_del_fd(ds->m->loop, fd);
    close(fd);
    ds->restart_fd = -1;
    for (unsigned i = 0; i < ds->m->nvirtio; i++)
        virtio_mmio_restart(ds->m->virtio_mmio[i]);
}

static int arm_restart(DevState *ds, char *err, size_t errlen)
{
    int fd;

    if (ds->restart_fd >= 0)
        return 0;
    fd = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0 || loop_add_fd(ds->m->loop, fd, POLLIN, restart_slots, ds) < 0) {
        snprintf(err, errlen, "cannot schedule the devices' restart");
        if (fd >= 0)
            close(fd);
        return -1;
    }
    ds->restart_fd = fd;
    return 0;
}

static int slot_save(void *opaque, StateBuf *b, char *err, size_t errlen)
{
    SlotState *s = opaque;
    return virtio_mmio_save(s->t, b, err, errlen);
}

static int slot_load(void *opaque, StateBuf *b, uint32_t version, char *err, size_t errlen)
{
    SlotState *s = opaque;

    if (virtio_mmio_load(s->t, b, version, err, errlen))
        return -1;
    return arm_restart(s->ds, err, errlen);
}

static int add_virtio(Machine *m, DevState *ds, const BoardSlots *s, VirtioDevice *vd,
                      char *err, size_t errlen)
{
    unsigned slot = m->nvirtio;
    uint64_t base;
    VirtioMmio *t;

    if (!vd)
        return -1;
    if (slot >= s->count || slot >= MACHINE_MAX_VIRTIO) {
        snprintf(err, errlen, "too many virtio devices (at most %u)", s->count);
        virtio_device_destroy(vd);
        return -1;
    }
    base = s->base + slot * s->stride;
    t = virtio_mmio_create(&m->mmio, base, s->irq_line(m, slot), vd);
    if (!t) {
        snprintf(err, errlen, "cannot map virtio device %u", slot);
        virtio_device_destroy(vd);
        return -1;
    }
    ds->slot[slot] = (SlotState){ .ds = ds, .t = t };
    if (vmstate_register(&m->state, "VMIO", slot, VIRTIO_MMIO_STATE_VERSION, slot_save,
                         slot_load, &ds->slot[slot]) < 0) {
        snprintf(err, errlen, "cannot register the state of virtio device %u", slot);
        return -1;
    }
    if (s->mapped)
        s->mapped(m, slot, base, t, vd);
    m->virtio[slot] = vd;
    m->virtio_mmio[slot] = t;
    m->nvirtio++;
    return 0;
}

/* A disk: its image opened (and locked) as the configuration says, then
 * handed to the device model. */
static VirtioDevice *disk_create(Machine *m, const CfgDisk *d, char *err, size_t errlen)
{
    BlockBackend *bb = block_open(d->path, d->format, d->readonly || d->cdrom, err, errlen);
    VirtioDevice *vd = bb ? virtio_blk_create(&m->mem, bb, d->serial, err, errlen) : NULL;

    if (vd && virtio_blk_set_limits(vd, m->loop, d->bps, d->bps_burst, d->iops,
                                    d->iops_burst, err, errlen) < 0) {
        virtio_device_destroy(vd);
        return NULL;
    }
    return vd;
}

/* A NIC: its network backend opened, then handed to the device model. */
static VirtioDevice *nic_create(Machine *m, const CfgNic *nic, char *err, size_t errlen)
{
    NetBackend *be = net_open(m->loop, nic, err, errlen);
    VirtioDevice *vd = be ? virtio_net_create(&m->mem, be, nic->mac_set ? nic->mac : NULL,
                                              err, errlen) : NULL;
    /* Xen's rate=: a credit of rate * interval */
    uint64_t burst = (uint64_t)((__uint128_t)nic->rate_bps * nic->rate_interval_us / 1000000);

    if (vd && virtio_net_set_tx_rate(vd, m->loop, nic->rate_bps, burst ? burst : 1,
                                     err, errlen) < 0) {
        virtio_device_destroy(vd);
        return NULL;
    }
    return vd;
}

int board_add_devices(Machine *m, const BoardSlots *s, char *err, size_t errlen)
{
    VmConfig *c = &m->cfg;
    /* Lives as long as the devices: until the process ends. */
    DevState *ds = calloc(1, sizeof(*ds));

    if (!ds) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    ds->m = m;
    ds->restart_fd = -1;
    for (unsigned i = 0; i < c->ndisks; i++)
        if (add_virtio(m, ds, s, disk_create(m, &c->disk[i], err, errlen), err, errlen))
            return -1;
    for (unsigned i = 0; i < c->nnics; i++)
        if (add_virtio(m, ds, s, nic_create(m, &c->nic[i], err, errlen), err, errlen))
            return -1;
    if (c->rng && add_virtio(m, ds, s, virtio_rng_create(&m->mem, err, errlen), err, errlen))
        return -1;
    if (c->balloon) {
        if (add_virtio(m, ds, s, virtio_balloon_create(&m->mem, err, errlen), err, errlen))
            return -1;
        m->balloon = m->virtio[m->nvirtio - 1];
    }
    /* The virtio console: its output joins the serial console's; console
     * input goes to it when it is the guest's console (the last console=
     * names one of s->hvc_names). */
    if (c->vconsole &&
        add_virtio(m, ds, s, console_hvc_create(m, s->hvc_names, err, errlen), err, errlen))
        return -1;
    /* The guest agent channel: shutdown/reboot/vcpu-set requests from the
     * control socket reach the guest's agent through it. */
    if (add_virtio(m, ds, s, control_agent_create(m, err, errlen), err, errlen))
        return -1;
    return 0;
}
