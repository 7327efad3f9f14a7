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
 * (engine/emu/emu.h, engine/kvm/kvm.h) by the board that uses it.
 *
 * Save/restore: the engine's state is sections in host->state (see
 * common/vmstate.h), saved and loaded while paused. A restore loads every
 * section after create and before start; start then continues the vCPUs
 * where they were instead of at the boot state, with the guest's clock
 * going on from the saved time (as across a pause). */
#ifndef XENO_ENGINE_H
#define XENO_ENGINE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/loop.h"
#include "common/vmstate.h"
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
    VM_EXIT_SAVED,      /* the state was saved and the domain ends here */
    VM_EXIT_MIGRATED,   /* the domain went on on another host */
};

/* What the VMM lends an engine. The pointers stay valid for the engine's
 * life; the callbacks may be called from any vCPU thread. */
typedef struct EngineHost {
    GuestMem *mem;
    Bus *mmio;                    /* accesses that miss RAM */
    pthread_mutex_t *dev_lock;    /* the device lock (see hw/bus.h) */
    Loop *loop;                   /* the VMM's I/O loop (eventfds), may be NULL */
    unsigned nvcpus;
    /* Where the engine registers its state sections (one per vCPU, one for
     * its VM-wide state) when it is created; NULL: no save/restore. */
    VmState *state;

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
    /* Let every vCPU run only (100 - pct) % of the time (0: all of it),
     * the guest clock running on: how a migration slows a guest that
     * dirties memory faster than the link carries it. May be NULL. */
    void (*set_throttle)(Engine *e, unsigned pct);

    /* Dirty-page logging for migration. While on, every page a vCPU
     * writes ends up marked in host->mem's dirty bitmaps (devices mark
     * theirs through gmem_ptr_w). A round of pre-copy is:
     *   collect  - move what the engine logged itself into the bitmaps
     *              (kvm: KVM_GET_DIRTY_LOG; emu: nothing to move);
     *   snapshot - the caller takes and clears the bitmaps (gmem);
     *   rearm    - make every later vCPU write mark its page again and
     *              return only then (emu: flush every hart's TLB and wait;
     *              kvm: nothing, the collect re-protected the pages);
     *   send     - the caller reads the pages of the snapshot.
     * start enables logging (all pages count as dirty for the first round:
     * the caller sends everything once). 0, or -1 with one line logged. */
    int (*dirty_log_start)(Engine *e);
    void (*dirty_log_stop)(Engine *e);
    int (*dirty_log_collect)(Engine *e);
    void (*dirty_log_rearm)(Engine *e);
} EngineOps;

#endif
