/* The engine interface: what the VMM needs from a CPU provider, and the
 * few services an engine needs from the VMM.
 *
 * Two engines implement it: "emu" (a software RISC-V machine, any host) and
 * "kvm" (x86-64 on Linux KVM). Everything above (devices, console, disks,
 * networks, save/restore, migration, xend) is written once against this.
 *
 * An engine knows nothing of the VMM: it sees guest memory, the MMIO bus,
 * the event loop and the EngineHost callbacks, never a Machine. Boot state
 * is engine-specific and set through the engine's own header
 * (engine/emu/emu.h, engine/kvm/kvm.h) by the board that uses it. */
#ifndef XENO_ENGINE_H
#define XENO_ENGINE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/loop.h"
#include "hw/bus.h"
#include "hw/mem.h"

/* Why the guest stopped running. */
enum vm_exit {
    VM_EXIT_NONE = 0,
    VM_EXIT_POWEROFF,   /* guest asked to power off */
    VM_EXIT_REBOOT,     /* guest asked to reboot */
    VM_EXIT_CRASH,      /* guest reached a state it cannot leave (double fault...) */
    VM_EXIT_HTIF,       /* bare-metal program finished (exit code given) */
    VM_EXIT_QUIT,       /* the user or the control plane stopped the VM */
    VM_EXIT_ERROR,      /* the VMM failed */
};

/* What the VMM lends an engine. The pointers stay valid for the engine's
 * life; the callbacks may be called from any vCPU thread. */
typedef struct EngineHost {
    GuestMem *mem;
    Bus *mmio;                    /* accesses that miss RAM */
    pthread_mutex_t *dev_lock;    /* the device lock (see hw/bus.h) */
    Loop *loop;                   /* the VMM's I/O loop (eventfds), may be NULL */
    unsigned nvcpus;

    void *opaque;
    /* Record why the VM must stop (the first reason wins) and wake the VMM. */
    void (*request_exit)(void *opaque, enum vm_exit why, int code);
    /* The firmware console (RISC-V SBI putchar/DBCN, HTIF): bytes out, and
     * one byte in (-1: none waiting). Either may be NULL (no console). */
    void (*console_write)(void *opaque, const void *buf, size_t len);
    int (*console_getc)(void *opaque);
} EngineHost;

/* One engine's VM: defined by each engine, opaque above it. */
typedef struct Engine Engine;

typedef struct EngineOps {
    const char *name;
    /* Create the vCPUs (host->nvcpus) over host->mem. NULL with one line
     * in err. */
    Engine *(*create)(const EngineHost *host, char *err, size_t errlen);
    /* Start vCPU threads at the boot state the board set. */
    int (*start)(Engine *e);
    /* Stop every vCPU at an instruction boundary / resume them. Synchronous. */
    void (*pause)(Engine *e);
    void (*resume)(Engine *e);
    /* Ask every vCPU thread to exit and join them. */
    void (*stop)(Engine *e);
    void (*destroy)(Engine *e);
    /* CPU time consumed by all vCPUs, ns. */
    uint64_t (*cpu_time_ns)(Engine *e);
} EngineOps;

#endif
