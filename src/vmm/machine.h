/* A virtual machine as xeno-vmm assembles it: configuration, guest memory,
 * buses, the engine, devices, console and the exit status. */
#ifndef XENO_VMM_MACHINE_H
#define XENO_VMM_MACHINE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/config.h"
#include "common/loop.h"
#include "engine/engine.h"
#include "hw/bus.h"
#include "hw/mem.h"

struct Uart;
struct VirtioDevice;
struct VirtioMmio;

#define MACHINE_MAX_VIRTIO 8

typedef struct Machine {
    VmConfig cfg;
    GuestMem mem;
    Bus mmio;
    pthread_mutex_t dev_lock;        /* the device lock (see hw/bus.h) */
    Loop *loop;

    const EngineOps *engine;
    void *engine_state;

    /* Boot. */
    bool bare_metal;                 /* --bios: M-mode ELF with HTIF */
    bool has_firmware;               /* M-mode firmware (OpenSBI) runs first */
    uint64_t entry;                  /* first instruction of the boot hart */
    uint64_t kernel_addr;            /* where the kernel was loaded */
    uint64_t fdt_addr;
    uint64_t fw_dynamic_info;        /* OpenSBI fw_dynamic info block, 0 = none */
    uint64_t htif_tohost, htif_fromhost; /* 0 = no HTIF */

    /* Devices. */
    struct Uart *uart;
    struct VirtioDevice *virtio[MACHINE_MAX_VIRTIO];
    struct VirtioMmio *virtio_mmio[MACHINE_MAX_VIRTIO];
    unsigned nvirtio;
    struct VirtioDevice *balloon;

    /* Console. */
    int console_in, console_out;
    /* The console input sink (console_input.h), chosen by the board from
     * the last console= on the kernel command line: false, the UART
     * (ttyS0); true, hvc0, fed through the pipe whose write end is
     * hvc_in_wr. */
    bool console_hvc;
    int hvc_in_wr;

    /* Exit. */
    pthread_mutex_t exit_lock;
    pthread_cond_t exit_cond;
    enum vm_exit exit_reason;
    int exit_code;                   /* HTIF exit code */
} Machine;

/* Record why the VM must stop (first reason wins) and wake the main thread.
 * Callable from any thread. */
void machine_request_exit(Machine *m, enum vm_exit why, int code);

#endif
