/* The virtio device set every board gives a domain, in one order:
 * disks, NICs, rng, balloon, the virtio console, the guest agent channel.
 * Boards differ only in where slots live and how they interrupt
 * (BoardSlots). */
#include <stdio.h>

#include "board.h"
#include "control.h"
#include "console_input.h"
#include "backend/block.h"
#include "backend/net.h"
#include "hw/virtio/devices.h"
#include "hw/virtio/virtio_mmio.h"

static int add_virtio(Machine *m, const BoardSlots *s, VirtioDevice *vd, char *err, size_t errlen)
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

    return bb ? virtio_blk_create(&m->mem, bb, d->serial, err, errlen) : NULL;
}

/* A NIC: its network backend opened, then handed to the device model. */
static VirtioDevice *nic_create(Machine *m, const CfgNic *nic, char *err, size_t errlen)
{
    NetBackend *be = net_open(m->loop, nic, err, errlen);

    return be ? virtio_net_create(&m->mem, be, nic->mac_set ? nic->mac : NULL, err, errlen)
              : NULL;
}

int board_add_devices(Machine *m, const BoardSlots *s, char *err, size_t errlen)
{
    VmConfig *c = &m->cfg;

    for (unsigned i = 0; i < c->ndisks; i++)
        if (add_virtio(m, s, disk_create(m, &c->disk[i], err, errlen), err, errlen))
            return -1;
    for (unsigned i = 0; i < c->nnics; i++)
        if (add_virtio(m, s, nic_create(m, &c->nic[i], err, errlen), err, errlen))
            return -1;
    if (c->rng && add_virtio(m, s, virtio_rng_create(&m->mem, err, errlen), err, errlen))
        return -1;
    if (c->balloon) {
        if (add_virtio(m, s, virtio_balloon_create(&m->mem, err, errlen), err, errlen))
            return -1;
        m->balloon = m->virtio[m->nvirtio - 1];
    }
    /* The virtio console: its output joins the serial console's; console
     * input goes to it when it is the guest's console (the last console=
     * names one of s->hvc_names). */
    if (c->vconsole &&
        add_virtio(m, s, console_hvc_create(m, s->hvc_names, err, errlen), err, errlen))
        return -1;
    /* The guest agent channel: shutdown/reboot/vcpu-set requests from the
     * control socket reach the guest's agent through it. */
    if (add_virtio(m, s, control_agent_create(m, err, errlen), err, errlen))
        return -1;
    return 0;
}
