/* The engine interface: what the VMM needs from a CPU provider.
 *
 * Two engines implement it: "emu" (a software RISC-V machine, any host) and
 * "kvm" (x86-64 on Linux KVM). Everything above (devices, console, disks,
 * networks, save/restore, migration, xend) is written once against this. */
#ifndef XENO_ENGINE_H
#define XENO_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hw/irq.h"

struct Machine;

/* Why the guest stopped running. */
enum vm_exit {
    VM_EXIT_NONE = 0,
    VM_EXIT_POWEROFF,   /* guest asked to power off */
    VM_EXIT_REBOOT,     /* guest asked to reboot */
    VM_EXIT_CRASH,      /* guest reached a state it cannot leave (double fault...) */
    VM_EXIT_HTIF,       /* bare-metal program finished (exit code in Machine) */
    VM_EXIT_QUIT,       /* the user or the control plane stopped the VM */
    VM_EXIT_ERROR,      /* the VMM failed */
};

typedef struct EngineOps {
    const char *name;
    /* Create vCPUs and interrupt controller for m->cfg; map engine devices. */
    int (*init)(struct Machine *m, char *err, size_t errlen);
    /* The interrupt line for controller input `irq` (device wiring). */
    IrqLine (*irq_line)(struct Machine *m, unsigned irq);
    /* Start vCPU threads at the boot state prepared by the machine. */
    int (*start)(struct Machine *m);
    /* Stop every vCPU at an instruction boundary / resume them. Synchronous. */
    void (*pause)(struct Machine *m);
    void (*resume)(struct Machine *m);
    /* Ask every vCPU thread to exit and join them. */
    void (*stop)(struct Machine *m);
    void (*destroy)(struct Machine *m);
    /* CPU time consumed by all vCPUs, ns. */
    uint64_t (*cpu_time_ns)(struct Machine *m);
} EngineOps;

extern const EngineOps emu_engine_ops;

#endif
