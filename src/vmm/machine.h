/* A virtual machine as xeno-vmm assembles it: configuration, guest memory,
 * buses, the engine, devices, console and the exit status. */
#ifndef XENO_VMM_MACHINE_H
#define XENO_VMM_MACHINE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/config.h"
#include "common/loop.h"
#include "common/stream.h"
#include "common/vmstate.h"
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

    /* The CPU engine the board chose, and what the machine lends it. */
    const EngineOps *engine_ops;
    Engine *engine;
    EngineHost host;
    void *board;                     /* the board's own state (board_*.c) */
    const char *no_save;             /* why this machine cannot be saved, or NULL */
    uint32_t stream_arch, stream_engine;  /* the board's, for the state stream */
    /* Every part's saved-state section (engine, devices): save/restore. */
    VmState state;

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

    /* The sandbox's hook for a thread started while the domain runs (the
     * migration sender calls it first): it loads that thread's seccomp
     * filter. 0, or -1 after a log line (the thread must not go on). NULL
     * without a sandbox. */
    int (*confine_thread)(void);
    /* This VMM's pid as the host sees it, when it differs from getpid()
     * (PID 1 of its own PID namespace); 0 otherwise. */
    int host_pid;

    /* Exit. */
    pthread_mutex_t exit_lock;
    pthread_cond_t exit_cond;
    enum vm_exit exit_reason;
    int exit_code;                   /* HTIF exit code */
} Machine;

/* Record why the VM must stop (first reason wins) and wake the main thread.
 * Callable from any thread. */
void machine_request_exit(Machine *m, enum vm_exit why, int code);

/* Create the board's engine with `nvcpus` vCPUs over the machine's memory,
 * bus, loop and device lock; the engine's exit requests and firmware
 * console come back to the machine. 0, or -1 with one line in err. */
int machine_create_engine(Machine *m, const EngineOps *ops, unsigned nvcpus,
                          char *err, size_t errlen);

/* The engine's controls, for the control socket and main (no-ops while no
 * engine exists). */
int machine_start(Machine *m);
void machine_pause(Machine *m);
void machine_resume(Machine *m);
/* Slow every vCPU to (100 - pct) % of the time, the guest clock running on
 * (engine.h set_throttle). false if the engine cannot. */
bool machine_set_throttle(Machine *m, unsigned pct);
void machine_stop(Machine *m);
uint64_t machine_cpu_time_ns(Machine *m);
const char *machine_engine_name(const Machine *m);

/* The state stream's arch and engine codes for this machine (0 if none). */
uint32_t machine_stream_arch(const Machine *m);
uint32_t machine_stream_engine(const Machine *m);
/* Every NIC tells the network the guest is behind it now (RARP): see
 * virtio_net_announce. */
void machine_announce_network(Machine *m);
/* Migration's disk hand-over: flush and close every disk image (dropping
 * its lock), or open and lock them again. 0, or -1 with one line in err;
 * release stops at the first failure after taking the rest back. */
int machine_disks_release(Machine *m, char *err, size_t errlen);
int machine_disks_reacquire(Machine *m, char *err, size_t errlen);

/* The engine's dirty logging (migration). */
int machine_dirty_log_start(Machine *m);
void machine_dirty_log_stop(Machine *m);
int machine_dirty_log_collect(Machine *m);
void machine_dirty_log_rearm(Machine *m);

#endif
