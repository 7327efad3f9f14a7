/* CPUID: what KVM supports on this host, minus what this VMM cannot back,
 * plus the per-vCPU topology (APIC IDs). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "kvm_int.h"

#define MAX_ENTRIES 256

/* Feature bits hidden from the guest. */
#define L1_ECX_VMX        (1u << 5)    /* no nested virtualization */
#define L1_ECX_SMX        (1u << 6)
#define L1_ECX_MONITOR    (1u << 3)    /* MONITOR/MWAIT not emulated */
#define L1_ECX_HYPERVISOR (1u << 31)
#define L7_EBX_SGX        (1u << 2)
#define L7_ECX_WAITPKG    (1u << 5)
#define L7_ECX_SGX_LC     (1u << 30)
#define X1_ECX_SVM        (1u << 2)
#define X1_ECX_SKINIT     (1u << 12)
/* KVM paravirtual features (leaf 0x40000001) that need the VMM's help:
 * the MAP_GPA_RANGE hypercall exits to userspace, the migration-control
 * MSR is userspace's. kvmclock, async PF, steal time, PV EOI/IPI/TLB
 * flush and the rest are served by KVM itself and stay. */
#define KVM_CPUID_FEATURES         0x40000001u
#define KVM_F_HC_MAP_GPA_RANGE     (1u << 16)
#define KVM_F_MIGRATION_CONTROL    (1u << 17)

int kvm_cpuid_init(Kvm *k, char *err, size_t errlen)
{
    struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + MAX_ENTRIES * sizeof(c->entries[0]));

    if (!c) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    c->nent = MAX_ENTRIES;
    if (ioctl(k->sys_fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
        snprintf(err, errlen, "KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
        free(c);
        return -1;
    }
    for (unsigned i = 0; i < c->nent; i++) {
        struct kvm_cpuid_entry2 *e = &c->entries[i];
        switch (e->function) {
        case 1:
            e->ecx &= ~(L1_ECX_VMX | L1_ECX_SMX | L1_ECX_MONITOR);
            e->ecx |= L1_ECX_HYPERVISOR;
            break;
        case 5:                     /* MONITOR/MWAIT leaf */
            e->eax = e->ebx = e->ecx = e->edx = 0;
            break;
        case 7:
            if (e->index == 0) {
                e->ebx &= ~L7_EBX_SGX;
                e->ecx &= ~(L7_ECX_WAITPKG | L7_ECX_SGX_LC);
            }
            break;
        case 0xa:                   /* no virtual PMU: the VMM saves no PMU state */
            e->eax = e->ebx = e->ecx = e->edx = 0;
            break;
        case 0x12:                  /* SGX */
            e->eax = e->ebx = e->ecx = e->edx = 0;
            break;
        case 0x80000001:
            e->ecx &= ~(X1_ECX_SVM | X1_ECX_SKINIT);
            break;
        case 0x8000000a:            /* SVM features */
            e->eax = e->ebx = e->ecx = e->edx = 0;
            break;
        case KVM_CPUID_FEATURES:
            e->eax &= ~(KVM_F_HC_MAP_GPA_RANGE | KVM_F_MIGRATION_CONTROL);
            break;
        }
    }
    k->cpuid = c;
    return 0;
}

/* One core per package, one thread per core, n packages: the simplest
 * topology Linux accepts, with APIC ID = vCPU index. */
int kvm_cpuid_set(Kvm *k, Vcpu *v, char *err, size_t errlen)
{
    size_t size = sizeof(*k->cpuid) + k->cpuid->nent * sizeof(k->cpuid->entries[0]);
    struct kvm_cpuid2 *c = malloc(size);
    int r;

    if (!c) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(c, k->cpuid, size);
    for (unsigned i = 0; i < c->nent; i++) {
        struct kvm_cpuid_entry2 *e = &c->entries[i];
        switch (e->function) {
        case 1:
            /* EBX: [31:24] initial APIC ID, [23:16] logical processors per package. */
            e->ebx = (e->ebx & 0xffffu) | (1u << 16) | (v->id << 24);
            e->edx &= ~(1u << 28);                     /* HTT: one thread per package */
            break;
        case 4:                     /* cache topology: one core shares each cache */
            e->eax &= 0x3ffu;
            break;
        case 0xb:
        case 0x1f:
            /* Level 0 (SMT): 1 thread; level 1 (core): 1 core. */
            e->eax = 0;
            e->ebx = e->index < 2 ? 1 : 0;
            e->ecx = e->index < 2 ? (e->index & 0xff) | ((e->index + 1) << 8) : e->index & 0xff;
            e->edx = v->id;
            break;
        case 0x80000008:            /* AMD: cores per package - 1 = 0 */
            e->ecx &= ~0xf0ffu;
            break;
        case 0x8000001e:            /* AMD extended APIC ID / core / node */
            e->eax = v->id;
            e->ebx = v->id & 0xff;
            e->ecx = 0;
            break;
        }
    }
    r = ioctl(v->fd, KVM_SET_CPUID2, c);
    free(c);
    if (r < 0) {
        snprintf(err, errlen, "KVM_SET_CPUID2 on vCPU %u: %s", v->id, strerror(errno));
        return -1;
    }
    return 0;
}
