/* Internal state of the kvm engine, shared by its files. */
#ifndef XENO_ENGINE_KVM_INT_H
#define XENO_ENGINE_KVM_INT_H

#include <linux/kvm.h>
#include <pthread.h>
#include <time.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/limits.h"
#include "kvm.h"
#include "state.h"

#define KVM_MAX_VCPUS XENO_MAX_VCPUS   /* the vCPU array bound */
#define KVM_IRQFD_GSIS 24          /* the IOAPIC's inputs */
#define KVM_MAX_DOORBELLS 32

typedef struct Engine Kvm;

/* One level-triggered GSI driven through an irqfd (see eventfd.c). */
typedef struct KvmIrqfd {
    Kvm *k;
    int fd, resample_fd;        /* -1: this GSI uses KVM_IRQ_LINE */
    int want;                   /* the device's level */
    int asserted;               /* signalled and not yet resampled */
} KvmIrqfd;

/* One virtqueue doorbell caught by an ioeventfd. */
typedef struct KvmDoorbell {
    Kvm *k;
    int fd;
    unsigned queue;
    void (*notify)(void *opaque, unsigned q);
    void *opaque;
} KvmDoorbell;

typedef struct Vcpu {
    Kvm *k;
    unsigned id;
    int fd;
    struct kvm_run *run;
    pthread_t thread;
    bool thread_started;
    bool io_pending;            /* last exit was I/O: complete before a save */
    uint64_t wall_clock_msr;    /* restored KVM_WALL_CLOCK_NEW, written at start */
    bool wall_clock_pending;
    uint64_t last_cpu_ns;       /* thread CPU time when it ended */
    /* Throttling (kvm_vcpus_set_throttle): running since, ns; a timer that
     * kicks this thread out of KVM_RUN when its share of a period is used
     * up, armed for tick_armed percent (0: disarmed). */
    uint64_t ran_since;
    timer_t tick;
    bool tick_created;
    unsigned tick_armed;
    unsigned long nexits, nio, nmmio;
} Vcpu;

struct Engine {
    EngineHost host;
    int sys_fd;                 /* /dev/kvm */
    int vm_fd;
    int run_size;
    Bus pio;                    /* port I/O devices */
    struct kvm_cpuid2 *cpuid;   /* filtered supported CPUID (shared template) */
    Vcpu vcpu[KVM_MAX_VCPUS];
    unsigned nvcpus;
    KvmBoot boot;

    /* Pause/stop protocol (see vcpu.c). */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int pausing, stopping;      /* read by vCPU threads without the lock */
    unsigned throttle_pct;      /* share of the time vCPUs sit out (atomic) */
    unsigned parked;
    struct kvm_clock_data paused_clock;
    bool clock_saved;
    unsigned long unhandled_io; /* accesses nothing answered (rate-limited log) */
    int8_t irq_level[256];      /* last level set per GSI: skip repeats */

    /* irqfd / ioeventfd (eventfd.c). */
    bool use_irqfd, use_ioeventfd;
    KvmIrqfd irqfd[KVM_IRQFD_GSIS];
    KvmDoorbell doorbell[KVM_MAX_DOORBELLS];
    unsigned ndoorbell;
    unsigned long nirqfd, ndoorbells;   /* signals sent / doorbells served */
    bool stats_logged;

    /* Save/restore (state_vm.c, state_vcpu.c), probed at create. */
    uint32_t state_msrs[KVM_STATE_MAX_MSRS];    /* KVM_STATE_MSRS this host's KVM has */
    unsigned nstate_msrs;
    uint32_t xsave_size;        /* bytes KVM_GET_XSAVE2 / KVM_SET_XSAVE move */
    bool has_xsave2, has_sregs2, has_xcrs, has_tsc_khz, has_tsc_control;
    const char *no_state;       /* the capability save/restore needs and lacks, or NULL */
    bool started;               /* start ran: too late to load sections */
    bool restored;              /* sections were loaded: start continues them */
    bool tsc_warned;            /* said that KVM ignored the saved TSC */

    /* Dirty logging (dirty.c): one KVM_GET_DIRTY_LOG buffer per slot. */
    bool dirty_logging;
    uint64_t *dirty_buf[GMEM_MAX_REGIONS];
};

/* Ask the VMM to stop the VM (EngineHost.request_exit). */
static inline void kvm_request_exit(Kvm *k, enum vm_exit why)
{
    k->host.request_exit(k->host.opaque, why, 0);
}

/* vm.c */
int kvm_vm_create(Kvm *k, char *err, size_t errlen);
void kvm_vm_destroy(Kvm *k);
/* (Re)declare memory slot i to KVM with these flags (KVM_MEM_*). */
int kvm_set_slot(Kvm *k, unsigned i, uint32_t flags);
void kvm_clock_pause(Kvm *k);
void kvm_clock_resume(Kvm *k);

/* state_vm.c: the KVVM section and the sections' registration; probe the
 * capabilities and MSRs save/restore use (after the VM exists). Restored
 * start: the guest's clock continues from the saved kvmclock. */
void kvm_state_probe(Kvm *k);
int kvm_state_register(Kvm *k);
void kvm_state_start(Kvm *k);
/* After KVM_SET_CLOCK (vm.c): write what had to wait for the guest's
 * clock (the restored kvmclock wall-clock MSR). */
void kvm_state_clock_set(Kvm *k);

/* state_vcpu.c: one vCPU's state from KVM and back, in the order KVM
 * needs (see there). 0, or -1 with one line in err. */
int kvm_vcpu_state_get(Vcpu *v, KvmVcpuState *s, char *err, size_t errlen);
int kvm_vcpu_state_put(Vcpu *v, const KvmVcpuState *s, char *err, size_t errlen);

/* dirty.c: EngineOps dirty logging. */
int kvm_dirty_log_start(Kvm *k);
void kvm_dirty_log_stop(Kvm *k);
int kvm_dirty_log_collect(Kvm *k);
void kvm_dirty_log_rearm(Kvm *k);
void kvm_dirty_log_free(Kvm *k);

/* eventfd.c */
void kvm_eventfd_init(Kvm *k);
void kvm_eventfd_probe(Kvm *k);
void kvm_eventfd_destroy(Kvm *k);

/* cpuid.c: fetch the supported CPUID and filter it (once per VM); then
 * set it on one vCPU with the per-vCPU topology fields. */
int kvm_cpuid_init(Kvm *k, char *err, size_t errlen);
int kvm_cpuid_set(Kvm *k, Vcpu *v, char *err, size_t errlen);

/* vcpu.c */
int kvm_vcpu_create(Kvm *k, unsigned id, char *err, size_t errlen);
int kvm_vcpu_set_boot_state(Vcpu *v, const KvmBoot *b);
int kvm_vcpus_start(Kvm *k);
void kvm_vcpus_pause(Kvm *k);
void kvm_vcpus_resume(Kvm *k);
void kvm_vcpus_stop(Kvm *k);
uint64_t kvm_vcpus_cpu_time_ns(Kvm *k);
void kvm_vcpus_set_throttle(Kvm *k, unsigned pct);

#endif
