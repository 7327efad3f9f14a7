/* Board assembly: lay out memory, create devices, load images and describe
 * them to the guest. One implementation per guest architecture. */
#ifndef XENO_VMM_BOARD_H
#define XENO_VMM_BOARD_H

#include <stdbool.h>
#include <stddef.h>

#include "hw/describe.h"
#include "hw/irq.h"
#include "machine.h"

/* A board builds a machine from m->cfg in two steps, so that a restore or
 * an incoming migration can fill guest RAM before anything else exists:
 *   add_ram   guest RAM as the configuration sizes it;
 *   build     the engine and its vCPUs, platform and virtio devices, and,
 *             unless `restore`, the boot images and boot state (a restore
 *             loads the saved state into what build made instead).
 * Both return 0, or -1 with one line in err. */
typedef struct BoardOps {
    const char *name;
    int (*add_ram)(Machine *m, char *err, size_t errlen);
    /* bios: a bare-metal ELF (riscv only) or NULL. */
    int (*build)(Machine *m, const char *bios, bool restore, char *err, size_t errlen);
} BoardOps;

/* RISC-V `virt`-compatible board (emu engine). */
extern const BoardOps board_riscv;
/* x86-64 PC-like board (kvm engine): boots m->cfg.kernel (bzImage, vmlinux
 * ELF or PVH ELF). */
extern const BoardOps board_x86;

/* Where a board puts its virtio-mmio slots and how they interrupt. */
struct VirtioMmio;
typedef struct BoardSlots {
    uint64_t base, stride;
    unsigned count;
    IrqLine (*irq_line)(Machine *m, unsigned slot);
    /* Optional, after a device is mapped (x86: register its doorbells). */
    void (*mapped)(Machine *m, unsigned slot, uint64_t base, struct VirtioMmio *t,
                   struct VirtioDevice *vd);
    /* The names under which the guest may call the virtio console its
     * console (`console=NAME`), NULL-terminated. */
    const char *const *hvc_names;
} BoardSlots;

/* Create the domain's virtio devices (board_devices.c). Each slot describes
 * itself in the DescList of m->mmio. */
int board_add_devices(Machine *m, const BoardSlots *s, char *err, size_t errlen);

/* Build the riscv device tree into buf: the board's nodes, and the nodes of
 * the devices in `devs`. 0, or -1 with one line in err. */
int fdt_riscv_build(Machine *m, const DescList *devs, uint64_t initrd_start,
                    uint64_t initrd_end, void *buf, size_t bufsize, char *err, size_t errlen);

#endif
