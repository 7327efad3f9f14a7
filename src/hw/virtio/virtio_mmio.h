/* virtio-mmio transport, version 2 (virtio 1.x, modern only).
 *
 * Exposes one VirtioDevice as a 0x1000-byte register window on the MMIO
 * bus, with one level-triggered interrupt line (asserted while the
 * interrupt status is non-zero). VendorID reads 0x4F4E4558, "XENO" in
 * little-endian byte order. The bus dispatches under the machine's device
 * lock, so the transport and the device model need no locking. Each slot
 * describes itself to the guest (hw/describe.h): a device-tree node, or on
 * x86 a virtio_mmio.device= command-line entry and a level-triggered
 * interrupt in the ACPI tables. */
#ifndef XENO_HW_VIRTIO_MMIO_H
#define XENO_HW_VIRTIO_MMIO_H

#include <stdint.h>

#include "../bus.h"
#include "common/statebuf.h"
#include "../irq.h"
#include "virtio.h"

#define VIRTIO_MMIO_SIZE      0x1000u   /* one slot's register window */
#define VIRTIO_MMIO_MAGIC     0x74726976u   /* "virt" */
#define VIRTIO_MMIO_VERSION   2
#define VIRTIO_MMIO_VENDOR_ID 0x4F4E4558u   /* "XENO" */

/* Register offsets. */
#define VIRTIO_MMIO_MAGIC_VALUE         0x000
#define VIRTIO_MMIO_VERSION_REG         0x004
#define VIRTIO_MMIO_DEVICE_ID           0x008
#define VIRTIO_MMIO_VENDOR_ID_REG       0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES     0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES     0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL           0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX       0x034
#define VIRTIO_MMIO_QUEUE_NUM           0x038
#define VIRTIO_MMIO_QUEUE_READY         0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY        0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS    0x060
#define VIRTIO_MMIO_INTERRUPT_ACK       0x064
#define VIRTIO_MMIO_STATUS              0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW      0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH     0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW    0x090
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH   0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW    0x0a0
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH   0x0a4
#define VIRTIO_MMIO_CONFIG_GENERATION   0x0fc
#define VIRTIO_MMIO_CONFIG              0x100

typedef struct VirtioMmio VirtioMmio;

/* Map the device at [base, base+VIRTIO_MMIO_SIZE) on `bus`, raising `irq`
 * (irq.irq is the interrupt number the guest is told). Returns NULL (with
 * one log line) if the range cannot be mapped. The device stays owned by
 * the caller. */
VirtioMmio *virtio_mmio_create(Bus *bus, uint64_t base, IrqLine irq, VirtioDevice *vd);
/* Free the transport. The bus has no unmap: call this only when the bus
 * is going away too (machine teardown). */
void virtio_mmio_destroy(VirtioMmio *m);

/* Register access, as the bus dispatches it (exported for tests and for
 * callers that route accesses themselves). */
uint64_t virtio_mmio_read(VirtioMmio *m, uint64_t off, unsigned size);
void virtio_mmio_write(VirtioMmio *m, uint64_t off, uint64_t val, unsigned size);

/* The slot's saved state, for vmstate_register with the VirtioMmio as
 * opaque (section VMIO, instance: the slot; docs/state-format.md): the
 * device id, the transport's registers, the device's common state and
 * every queue, then the device's own part (VirtioDeviceOps save/load).
 * A load refuses a section saved from another device type, and anything
 * the transport itself would never have accepted from a driver (rings
 * outside guest RAM, sizes that are not powers of two...); it applies
 * nothing unless all is valid, then drives the interrupt line to the
 * restored interrupt status. Both run with the device lock held. */
#define VIRTIO_MMIO_STATE_VERSION 1
int virtio_mmio_save(void *opaque, StateBuf *b, char *err, size_t errlen);
int virtio_mmio_load(void *opaque, StateBuf *b, uint32_t version, char *err, size_t errlen);
/* The domain a loaded slot belongs to runs again (after a restore or an
 * incoming migration). Doorbells in flight at the save are lost (e.g. an
 * ioeventfd KVM signalled but the source never read), so a started device
 * serves every ready queue as if kicked, as at DRIVER_OK (a spurious kick
 * is harmless); then ops->restarted. Call with the device lock held. */
void virtio_mmio_restart(VirtioMmio *m);

#endif
