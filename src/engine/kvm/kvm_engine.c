/* The "kvm" engine: EngineOps over vm.c (the VM), cpuid.c, vcpu.c,
 * state_*.c (save/restore) and dirty.c (dirty-page logging). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "common/log.h"
#include "kvm_int.h"

Bus *kvm_pio_bus(Engine *k)
{
    return &k->pio;
}

void kvm_set_boot(Engine *k, const KvmBoot *boot)
{
    k->boot = *boot;
}

static void kvm_destroy(Engine *k);

/* The VM, its CPUID template, eventfd support and the vCPUs. */
static int kvm_setup(Kvm *k, unsigned n, char *err, size_t errlen)
{
    int max;

    if (n > KVM_MAX_VCPUS) {
        snprintf(err, errlen, "vcpus: the kvm engine runs at most %d", KVM_MAX_VCPUS);
        return -1;
    }
    if (kvm_vm_create(k, err, errlen) || kvm_cpuid_init(k, err, errlen))
        return -1;
    kvm_eventfd_probe(k);
    kvm_state_probe(k);
    max = ioctl(k->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
    if (max > 0 && n > (unsigned)max) {
        snprintf(err, errlen, "vcpus: this host's KVM runs at most %d per VM", max);
        return -1;
    }
    for (unsigned i = 0; i < n; i++)
        if (kvm_vcpu_create(k, i, err, errlen))
            return -1;
    return 0;
}

static Engine *kvm_create(const EngineHost *host, char *err, size_t errlen)
{
    Kvm *k = calloc(1, sizeof(*k));

    if (!k) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    k->host = *host;
    k->sys_fd = k->vm_fd = -1;
    k->pio.lock = host->dev_lock;
    pthread_mutex_init(&k->lock, NULL);
    pthread_cond_init(&k->cond, NULL);
    kvm_eventfd_init(k);
    if (kvm_setup(k, host->nvcpus ? host->nvcpus : 1, err, errlen)) {
        kvm_destroy(k);
        return NULL;
    }
    if (host->state && kvm_state_register(k)) {
        snprintf(err, errlen, "cannot register the vCPUs' state");
        kvm_destroy(k);
        return NULL;
    }
    return k;
}

/* Devices drive in-kernel IOAPIC/PIC inputs (GSIs) with level semantics. */
static void kvm_set_irq(void *ctrl, unsigned irq, int level)
{
    Kvm *k = ctrl;
    struct kvm_irq_level l = { .irq = irq, .level = level ? 1 : 0 };

    /* Devices re-assert unchanged levels often (the UART on every byte):
     * one system call per real edge is enough. */
    if (irq < sizeof(k->irq_level) &&
        __atomic_exchange_n(&k->irq_level[irq], (int8_t)(l.level + 1), __ATOMIC_SEQ_CST) ==
            (int8_t)(l.level + 1))
        return;
    if (ioctl(k->vm_fd, KVM_IRQ_LINE, &l) < 0)
        log_debug("kvm: KVM_IRQ_LINE %u: %s", irq, strerror(errno));
}

IrqLine kvm_irq_line(Engine *k, unsigned gsi)
{
    return (IrqLine){ .set_level = kvm_set_irq, .ctrl = k, .irq = gsi };
}

/* A booted VM enters at the board's boot state; a restored one continues
 * where it was saved (its state was loaded into KVM already). */
static int kvm_start(Engine *k)
{
    k->started = true;
    if (k->restored) {
        kvm_state_start(k);
    } else if (kvm_vcpu_set_boot_state(&k->vcpu[0], &k->boot) < 0) {
        log_err("kvm: cannot set the boot vCPU state: %s", strerror(errno));
        return -1;
    }
    return kvm_vcpus_start(k);
}

static void kvm_pause(Engine *k) { kvm_vcpus_pause(k); }
static void kvm_resume(Engine *k) { kvm_vcpus_resume(k); }
static void kvm_set_throttle(Engine *k, unsigned pct) { kvm_vcpus_set_throttle(k, pct); }
/* One debug line on how the guest reached its devices. */
static void log_stats(Kvm *k)
{
    unsigned long exits = 0, io = 0, mmio = 0;

    if (log_get_level() < LOG_DEBUG)
        return;
    for (unsigned i = 0; i < k->nvcpus; i++) {
        exits += k->vcpu[i].nexits;
        io += k->vcpu[i].nio;
        mmio += k->vcpu[i].nmmio;
    }
    log_debug("kvm: %lu exits (%lu port I/O, %lu MMIO); %lu doorbells by ioeventfd, "
              "%lu interrupts by irqfd", exits, io, mmio,
              __atomic_load_n(&k->ndoorbells, __ATOMIC_RELAXED),
              __atomic_load_n(&k->nirqfd, __ATOMIC_RELAXED));
}

static void kvm_stop(Engine *k)
{
    if (!k)
        return;
    kvm_vcpus_stop(k);
    if (!k->stats_logged) {
        k->stats_logged = true;
        log_stats(k);
    }
}

static void kvm_destroy(Engine *k)
{
    if (!k)
        return;
    kvm_vcpus_stop(k);
    kvm_eventfd_destroy(k);
    kvm_vm_destroy(k);
    kvm_dirty_log_free(k);
    free(k->cpuid);
    free(k);
}

static uint64_t kvm_cpu_time_ns(Engine *k)
{
    return kvm_vcpus_cpu_time_ns(k);
}

const EngineOps kvm_engine_ops = {
    .name = "kvm",
    .create = kvm_create,
    .start = kvm_start,
    .pause = kvm_pause,
    .resume = kvm_resume,
    .stop = kvm_stop,
    .destroy = kvm_destroy,
    .cpu_time_ns = kvm_cpu_time_ns,
    .set_throttle = kvm_set_throttle,
    .dirty_log_start = kvm_dirty_log_start,
    .dirty_log_stop = kvm_dirty_log_stop,
    .dirty_log_collect = kvm_dirty_log_collect,
    .dirty_log_rearm = kvm_dirty_log_rearm,
};
