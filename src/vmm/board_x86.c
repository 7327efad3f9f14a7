/* The x86-64 board (kvm engine): RAM below 3 GiB and above 4 GiB, the
 * in-kernel PIC/IOAPIC/LAPICs/PIT, COM1 on port 0x3f8, the ACPI PM block
 * and reset register, and virtio-mmio devices at X86_VIRTIO_BASE announced
 * to Linux on the command line (virtio_mmio.device=4K@ADDR:IRQ), their
 * interrupts through irqfd and doorbells through ioeventfd when KVM has
 * them. The devices describe themselves (hw/describe.h): the ACPI tables
 * and the command line are built from the board's list of them. Console
 * input goes to COM1, or to the virtio console when the guest's console is
 * hvc0 (console=hvc0 last on the command line; see console_input.h). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "board.h"
#include "boot_x86.h"
#include "common/log.h"
#include "engine/kvm/kvm.h"
#include "hw/uart.h"
#include "hw/virtio/virtio_mmio.h"
#include "hw/x86/x86.h"

#define X86_MIN_MEMORY_MIB 8

/* Interrupt inputs of the virtio-mmio slots: free ISA IRQs (level-triggered,
 * as each slot tells the MADT). */
static const unsigned x86_virtio_irqs[X86_VIRTIO_SLOTS] = { 5, 6, 7, 10, 11, 12, 14, 15 };

/* What the board keeps beyond the Machine. */
typedef struct X86Board {
    DescList devs;      /* the devices' ACPI parts and command-line entries */
} X86Board;

static void pm_event(void *opaque, enum x86_pm_event ev)
{
    Machine *m = opaque;

    machine_request_exit(m, ev == X86_PM_POWEROFF ? VM_EXIT_POWEROFF : VM_EXIT_REBOOT, 0);
}

/* A doorbell KVM caught (ioeventfd), served like the MMIO write it stands
 * for; on the loop thread, with the device lock held. */
static void doorbell(void *opaque, unsigned q)
{
    virtio_mmio_write(opaque, VIRTIO_MMIO_QUEUE_NOTIFY, q, 4);
}

static IrqLine x86_slot_irq(Machine *m, unsigned slot)
{
    return kvm_level_irq_line(m->engine, x86_virtio_irqs[slot]);
}

static void x86_slot_mapped(Machine *m, unsigned slot, uint64_t base, VirtioMmio *t,
                            VirtioDevice *vd)
{
    (void)slot;
    kvm_add_doorbells(m->engine, base + VIRTIO_MMIO_QUEUE_NOTIFY, vd->nqueues, doorbell, t);
}

static const char *const x86_hvc_names[] = { "hvc0", NULL };

static const BoardSlots x86_slots = {
    .base = X86_VIRTIO_BASE, .stride = VIRTIO_MMIO_SIZE, .count = X86_VIRTIO_SLOTS,
    .irq_line = x86_slot_irq, .mapped = x86_slot_mapped, .hvc_names = x86_hvc_names,
};

/* The user's command line, then the entries of the devices that need one. */
static int build_cmdline(Machine *m, const DescList *devs, char *buf, size_t size,
                         char *err, size_t errlen)
{
    CmdlineBuf cl = { .buf = buf, .size = size };

    buf[0] = 0;
    if (cmdline_append(&cl, "%s", m->cfg.cmdline) < 0 || desc_cmdline(devs, &cl) < 0) {
        snprintf(err, errlen, "kernel command line too long");
        return -1;
    }
    return 0;
}

/* Guest RAM: below the hole, and the rest above 4 GiB. */
static int x86_add_ram(Machine *m, char *err, size_t errlen)
{
    const VmConfig *c = &m->cfg;
    uint64_t ram = c->memory_mib << 20, low, high;
    X86Board *b = calloc(1, sizeof(*b));
    int r;

    if (!b) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    m->board = b;
    m->mmio.descs = &b->devs;
    m->stream_arch = STREAM_ARCH_X86_64;
    m->stream_engine = STREAM_ENGINE_KVM;
    if (c->memory_mib < X86_MIN_MEMORY_MIB) {
        snprintf(err, errlen, "memory: x86-64 guests need at least %d MiB", X86_MIN_MEMORY_MIB);
        return -1;
    }
    low = ram < X86_LOW_RAM_MAX ? ram : X86_LOW_RAM_MAX;
    high = ram - low;
    r = gmem_add_ram(&m->mem, 0, low);
    if (r == 0 && high)
        r = gmem_add_ram(&m->mem, X86_HIGH_RAM_BASE, high);
    if (r < 0) {
        snprintf(err, errlen, "cannot allocate %llu MiB of guest memory: %s",
                 (unsigned long long)c->memory_mib, strerror(-r));
        return -1;
    }
    return 0;
}

/* COM1 and the PM block on the port I/O bus, in the order the ACPI tables
 * list their parts. */
static int add_platform(Machine *m, X86Board *b, char *err, size_t errlen)
{
    Bus *pio = kvm_pio_bus(m->engine);

    pio->descs = &b->devs;
    m->uart = uart_create(pio, X86_COM1_BASE, 0, kvm_irq_line(m->engine, X86_COM1_IRQ),
                          m->console_out);
    if (!m->uart || uart_state_register(m->uart, &m->state) < 0) {
        snprintf(err, errlen, "cannot create the UART");
        return -1;
    }
    if (x86_pm_create(pio, pm_event, m, &m->state) < 0) {
        snprintf(err, errlen, "cannot create the power management ports");
        return -1;
    }
    return 0;
}

/* The kernel, its command line, tables and boot state. */
static int setup_linux(Machine *m, X86Board *b, char *err, size_t errlen)
{
    VmConfig *c = &m->cfg;
    X86BootInfo bi = { 0 };
    KvmBoot boot;
    static char cmdline[8192];

    if (build_cmdline(m, &b->devs, cmdline, sizeof(cmdline), err, errlen))
        return -1;
    bi.low_end = m->mem.r[0].size;
    bi.high_size = m->mem.nr > 1 ? m->mem.r[1].size : 0;
    bi.nvcpus = c->vcpus ? c->vcpus : 1;
    bi.cmdline = cmdline;
    bi.devs = &b->devs;
    if (boot_x86_load(m, &bi, &boot, err, errlen))
        return -1;
    kvm_set_boot(m->engine, &boot);
    log_info("x86: %s kernel at 0x%llx-0x%llx, entry 0x%llx, %u vCPUs, %llu MiB",
             bi.format, (unsigned long long)bi.kernel_lo, (unsigned long long)bi.kernel_hi,
             (unsigned long long)boot.entry, bi.nvcpus, (unsigned long long)c->memory_mib);
    return 0;
}

static int x86_build(Machine *m, const char *bios, bool restore, char *err, size_t errlen)
{
    X86Board *b = m->board;

    if (bios) {
        snprintf(err, errlen, "--bios runs bare-metal riscv64 programs only");
        return -1;
    }
    if (machine_create_engine(m, &kvm_engine_ops, m->cfg.vcpus, err, errlen))
        return -1;
    /* The devices' sections alone would restore a domain whose vCPUs start
     * from nothing: saving waits until the engine has its own. */
    if (!vmstate_find(&m->state, STREAM_TAG('K', 'V', 'C', 'P'), 0))
        m->no_save = "the kvm engine cannot save its vCPUs yet";
    if (add_platform(m, b, err, errlen) || board_add_devices(m, &x86_slots, err, errlen))
        return -1;
    return restore ? 0 : setup_linux(m, b, err, errlen);
}

const BoardOps board_x86 = {
    .name = "x86-pc",
    .add_ram = x86_add_ram,
    .build = x86_build,
};
