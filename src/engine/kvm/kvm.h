/* The kvm engine: x86-64 guests on Linux KVM. What the x86 board needs
 * beyond the EngineOps: the port I/O bus and the boot CPU state. */
#ifndef XENO_ENGINE_KVM_H
#define XENO_ENGINE_KVM_H

#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"
#include "hw/bus.h"

struct Machine;

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

/* The port I/O bus (x86 `in`/`out`), valid after init. Devices map port
 * ranges on it like on the MMIO bus. */
Bus *kvm_pio_bus(struct Machine *m);

/* The boot vCPU's entry state; call after init and before start. The other
 * vCPUs wait for INIT/SIPI from the guest, like application processors. */
void kvm_set_boot(struct Machine *m, const KvmBoot *boot);

/* NULL if /dev/kvm can create a VM here, else one line saying why. */
const char *kvm_unusable_reason(void);

#endif
