/* Internal state of the kvm engine, shared by its files. */
#ifndef XENO_ENGINE_KVM_INT_H
#define XENO_ENGINE_KVM_INT_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "kvm.h"
#include "vmm/machine.h"

#define KVM_MAX_VCPUS 64

typedef struct Kvm Kvm;

typedef struct Vcpu {
    Kvm *k;
    unsigned id;
    int fd;
    struct kvm_run *run;
    pthread_t thread;
    bool thread_started;
    bool io_pending;            /* last exit was I/O: complete before a save */
    uint64_t last_cpu_ns;       /* thread CPU time when it ended */
    unsigned long nexits;
} Vcpu;

struct Kvm {
    Machine *m;
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
    unsigned parked;
    struct kvm_clock_data paused_clock;
    bool clock_saved;
    unsigned long unhandled_io;
    int8_t irq_level[256];      /* last level set per GSI: skip repeats */ /* accesses nothing answered (rate-limited log) */
};

/* vm.c */
int kvm_vm_create(Kvm *k, char *err, size_t errlen);
void kvm_vm_destroy(Kvm *k);
void kvm_clock_pause(Kvm *k);
void kvm_clock_resume(Kvm *k);

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

#endif
