/* kvmclock: the hypervisor CPUID leaves (0x40000000 "KVMKVMKVM", features
 * in 0x40000001) and, with KVM_FEATURE_CLOCKSOURCE2, the paravirtual clock
 * itself: register a pvclock page with MSR_KVM_SYSTEM_TIME_NEW and check
 * that its time advances like the LAPIC timer's ticks. */
#include "xtest.h"

#define KVM_CPUID_SIGNATURE 0x40000000u
#define KVM_CPUID_FEATURES  0x40000001u
#define KVM_FEATURE_CLOCKSOURCE2 3
#define KVM_FEATURE_CLOCKSOURCE_STABLE_BIT 24
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01u
#define PVCLOCK_TSC_STABLE_BIT 1

struct pvclock {
    uint32_t version, pad0;
    uint64_t tsc_timestamp, system_time;
    uint32_t tsc_to_system_mul;
    int8_t tsc_shift;
    uint8_t flags, pad[2];
};

static volatile struct pvclock pvc __attribute__((aligned(64)));

static void cpuid(uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}

static void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" :: "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

/* Nanoseconds of guest time, read the way Linux does (retry while the
 * hypervisor updates the page: odd or changed version). */
static uint64_t pvclock_ns(uint8_t *flags)
{
    uint32_t ver;
    uint64_t t;

    do {
        ver = pvc.version;
        barrier();
        uint64_t delta = rdtsc() - pvc.tsc_timestamp;
        int8_t shift = pvc.tsc_shift;
        delta = shift >= 0 ? delta << shift : delta >> -shift;
        t = pvc.system_time + (uint64_t)(((unsigned __int128)delta * pvc.tsc_to_system_mul) >> 32);
        *flags = pvc.flags;
        barrier();
    } while ((ver & 1) || ver != pvc.version);
    return t;
}

int kvmclock_start(void)
{
    uint32_t a, b, c, d;

    cpuid(KVM_CPUID_SIGNATURE, &a, &b, &c, &d);
    if (b != 0x4b4d564b || a < KVM_CPUID_FEATURES)      /* "KVMK" */
        return 0;
    cpuid(KVM_CPUID_FEATURES, &a, &b, &c, &d);
    if (!(a & (1u << KVM_FEATURE_CLOCKSOURCE2)))
        return 0;
    wrmsr(MSR_KVM_SYSTEM_TIME_NEW, (uint64_t)&pvc | 1);
    return pvc.version != 0;
}

uint64_t kvmclock_ns(void)
{
    uint8_t flags;
    return pvclock_ns(&flags);
}

void kvmclock_test(void)
{
    uint32_t a, b, c, d;
    char sig[13];
    uint64_t t0, t1, start;
    uint8_t flags;

    cpuid(KVM_CPUID_SIGNATURE, &a, &b, &c, &d);
    memcpy(sig, &b, 4);
    memcpy(sig + 4, &c, 4);
    memcpy(sig + 8, &d, 4);
    sig[12] = 0;
    if (memcmp(sig, "KVMKVMKVM\0\0\0", 12) || a < KVM_CPUID_FEATURES) {
        printf("xtest: kvmclock: no KVM signature in cpuid 0x40000000\n");
        return;
    }
    cpuid(KVM_CPUID_FEATURES, &a, &b, &c, &d);
    printf("xtest: cpuid 0x40000000 KVMKVMKVM, features 0x%x\n", a);
    if (!(a & (1u << KVM_FEATURE_CLOCKSOURCE2))) {
        printf("xtest: kvmclock: KVM_FEATURE_CLOCKSOURCE2 not offered\n");
        return;
    }
    wrmsr(MSR_KVM_SYSTEM_TIME_NEW, (uint64_t)&pvc | 1);
    if (!pvc.version) {
        FAIL("kvmclock: the pvclock page was not filled in\n");
        wrmsr(MSR_KVM_SYSTEM_TIME_NEW, 0);
        return;
    }
    t0 = pvclock_ns(&flags);
    start = ticks;
    while (ticks < start + 10)
        __asm__ volatile("sti; hlt; cli");
    t1 = pvclock_ns(&flags);
    wrmsr(MSR_KVM_SYSTEM_TIME_NEW, 0);
    /* 10 ticks of the 10 ms LAPIC timer: 100 ms, give or take a tick. */
    if (t1 <= t0 || t1 - t0 < 80000000ull || t1 - t0 > 400000000ull)
        FAIL("kvmclock: %lu ns over 10 timer ticks, want about 100 ms\n", t1 - t0);
    else
        printf("xtest: kvmclock ok: %lu ms over 10 timer ticks%s\n", (t1 - t0) / 1000000,
               (flags & PVCLOCK_TSC_STABLE_BIT) ? ", tsc stable" : "");
}
