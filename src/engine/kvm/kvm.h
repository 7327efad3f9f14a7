/* The kvm engine: x86-64 guests on Linux KVM. What the x86 board needs
 * beyond the EngineOps: the port I/O bus and the boot CPU state. */
#ifndef XENO_ENGINE_KVM_H
#define XENO_ENGINE_KVM_H

#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"
#include "hw/bus.h"
#include "hw/irq.h"

extern const EngineOps kvm_engine_ops;

/* How the boot vCPU enters the guest. */
enum kvm_boot_mode {
    KVM_BOOT_LINUX64 = 0,   /* Linux 64-bit boot protocol: long mode, paging
                               on (cr3 = page tables), rsi = boot_params */
    KVM_BOOT_PVH32,         /* PVH: 32-bit flat protected mode, paging off,
                               ebx = hvm_start_info */
};

typedef struct KvmBoot {
    enum kvm_boot_mode mode;
    uint64_t entry;         /* rip */
    uint64_t arg;           /* rsi (LINUX64) or rbx (PVH32) */
    uint64_t stack;         /* rsp, 0 = leave 0 */
    uint64_t gdt;           /* GDT base (null, null, code at 0x10, data at 0x18) */
    uint64_t cr3;           /* page tables (LINUX64 only) */
} KvmBoot;

/* Where the engine's fixed pages live (in the hole below 4 GiB). */
#define KVM_IDENTITY_MAP_ADDR 0xfffbc000ull
#define KVM_TSS_ADDR          0xfffbd000ull     /* 3 pages */

/* The port I/O bus (x86 `in`/`out`), valid after create. Devices map port
 * ranges on it like on the MMIO bus. */
Bus *kvm_pio_bus(Engine *e);

/* The boot vCPU's entry state; call after create and before start. The other
 * vCPUs wait for INIT/SIPI from the guest, like application processors. */
void kvm_set_boot(Engine *e, const KvmBoot *boot);

/* The interrupt line for IOAPIC/PIC input `gsi` through KVM_IRQ_LINE. */
IrqLine kvm_irq_line(Engine *e, unsigned gsi);

/* The interrupt line for a level-triggered device on IOAPIC input `gsi`:
 * an irqfd in resample mode when KVM has one (no system call to KVM per
 * edge, no vCPU exit), else the engine's KVM_IRQ_LINE line. Call after
 * create, before start. */
IrqLine kvm_level_irq_line(Engine *e, unsigned gsi);

/* Catch guest 4-byte writes of q (q < nqueues) to the doorbell register at
 * `addr` in the kernel (ioeventfd); notify(opaque, q) then runs on the
 * event loop thread with the device lock held. Returns how many queues are
 * wired this way; the rest (all, without ioeventfd) keep exiting as MMIO
 * writes, so the device's own MMIO handler must serve them too. Call after
 * create, before start. XENO_KVM_EVENTFD=0 in the environment turns irqfd and
 * ioeventfd off (to compare, or to work around a host bug). */
unsigned kvm_add_doorbells(Engine *e, uint64_t addr, unsigned nqueues,
                           void (*notify)(void *opaque, unsigned q), void *opaque);

#endif
