/* The "kvm" engine: EngineOps over vm.c (the VM), cpuid.c and vcpu.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "common/log.h"
#include "kvm_int.h"

static Kvm *kvm_of(Machine *m) { return m->engine_state; }

Bus *kvm_pio_bus(Machine *m)
{
    return &kvm_of(m)->pio;
}

void kvm_set_boot(Machine *m, const KvmBoot *boot)
{
    kvm_of(m)->boot = *boot;
}

static int kvm_init(Machine *m, char *err, size_t errlen)
{
    Kvm *k = calloc(1, sizeof(*k));
    unsigned n = m->cfg.vcpus ? m->cfg.vcpus : 1;

    if (!k) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    k->m = m;
    k->sys_fd = k->vm_fd = -1;
    k->pio.lock = &m->dev_lock;
    pthread_mutex_init(&k->lock, NULL);
    pthread_cond_init(&k->cond, NULL);
    kvm_eventfd_init(k);
    m->engine_state = k;
    if (n > KVM_MAX_VCPUS) {
        snprintf(err, errlen, "vcpus: the kvm engine runs at most %d", KVM_MAX_VCPUS);
        return -1;
    }
    if (kvm_vm_create(k, err, errlen) || kvm_cpuid_init(k, err, errlen))
        return -1;
    kvm_eventfd_probe(k);
    {
        int max = ioctl(k->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
        if (max > 0 && n > (unsigned)max) {
            snprintf(err, errlen, "vcpus: this host's KVM runs at most %d per VM", max);
            return -1;
        }
    }
    for (unsigned i = 0; i < n; i++)
        if (kvm_vcpu_create(k, i, err, errlen))
            return -1;
    return 0;
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

static IrqLine kvm_irq_line(Machine *m, unsigned irq)
{
    return (IrqLine){ .set_level = kvm_set_irq, .ctrl = kvm_of(m), .irq = irq };
}

static int kvm_start(Machine *m)
{
    Kvm *k = kvm_of(m);

    if (kvm_vcpu_set_boot_state(&k->vcpu[0], &k->boot) < 0) {
        log_err("kvm: cannot set the boot vCPU state: %s", strerror(errno));
        return -1;
    }
    return kvm_vcpus_start(k);
}

static void kvm_pause(Machine *m) { kvm_vcpus_pause(kvm_of(m)); }
static void kvm_resume(Machine *m) { kvm_vcpus_resume(kvm_of(m)); }
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

static void kvm_stop(Machine *m)
{
    Kvm *k = kvm_of(m);

    if (!k)
        return;
    kvm_vcpus_stop(k);
    if (!k->stats_logged) {
        k->stats_logged = true;
        log_stats(k);
    }
}

static void kvm_destroy(Machine *m)
{
    Kvm *k = kvm_of(m);

    if (!k)
        return;
    kvm_vcpus_stop(k);
    kvm_eventfd_destroy(k);
    kvm_vm_destroy(k);
    free(k->cpuid);
    free(k);
    m->engine_state = NULL;
}

static uint64_t kvm_cpu_time_ns(Machine *m)
{
    return kvm_of(m) ? kvm_vcpus_cpu_time_ns(kvm_of(m)) : 0;
}

const EngineOps kvm_engine_ops = {
    .name = "kvm",
    .init = kvm_init,
    .irq_line = kvm_irq_line,
    .start = kvm_start,
    .pause = kvm_pause,
    .resume = kvm_resume,
    .stop = kvm_stop,
    .destroy = kvm_destroy,
    .cpu_time_ns = kvm_cpu_time_ns,
};
