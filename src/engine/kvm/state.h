/* The complete state of a KVM virtual machine, as plain fixed-layout
 * structs so the save/migration stream can write them field by field
 * (little-endian, versioned by KVM_STATE_VERSION) and read them back on
 * another host. Filled and applied by the next issue's save/restore code;
 * the engine's pause already leaves every vCPU at a point where this state
 * is complete (pending I/O exits finished, see vcpu.c).
 *
 * The KVM structs are embedded as the kernel defines them (their layout is
 * ABI); what KVM does not fix (which MSRs, how many xsave bytes) is made
 * explicit here. */
#ifndef XENO_ENGINE_KVM_STATE_H
#define XENO_ENGINE_KVM_STATE_H

#include <linux/kvm.h>
#include <stdint.h>

#define KVM_STATE_VERSION 1

/* MSRs saved per vCPU: the architectural ones Linux and the test guests
 * use, plus KVM's paravirtual ones (kvmclock, async PF, steal time, PV EOI). */
#define KVM_STATE_MSRS(X) \
    X(0x00000010, TSC) X(0x0000001b, APIC_BASE) X(0x0000003a, FEATURE_CONTROL) \
    X(0x00000174, SYSENTER_CS) X(0x00000175, SYSENTER_ESP) X(0x00000176, SYSENTER_EIP) \
    X(0x00000277, PAT) X(0x000001a0, MISC_ENABLE) X(0x000006e0, TSC_DEADLINE) \
    X(0xc0000080, EFER) X(0xc0000081, STAR) X(0xc0000082, LSTAR) X(0xc0000083, CSTAR) \
    X(0xc0000084, SYSCALL_MASK) X(0xc0000100, FS_BASE) X(0xc0000101, GS_BASE) \
    X(0xc0000102, KERNEL_GS_BASE) X(0xc0000103, TSC_AUX) \
    X(0x4b564d00, KVM_WALL_CLOCK_NEW) X(0x4b564d01, KVM_SYSTEM_TIME_NEW) \
    X(0x4b564d02, KVM_ASYNC_PF_EN) X(0x4b564d03, KVM_STEAL_TIME) X(0x4b564d04, KVM_PV_EOI_EN)
#define KVM_STATE_MAX_MSRS 32

typedef struct KvmMsr {
    uint32_t index;
    uint32_t reserved;
    uint64_t value;
} KvmMsr;

/* One vCPU. */
typedef struct KvmVcpuState {
    uint32_t id;                    /* APIC ID = vCPU index */
    uint32_t nmsrs;
    struct kvm_mp_state mp_state;   /* running, halted, waiting for SIPI... */
    struct kvm_regs regs;
    struct kvm_sregs sregs;         /* segments, control registers, EFER, APIC base */
    struct kvm_xsave xsave;         /* FPU/SSE/AVX... (4 KiB; KVM_GET_XSAVE2 if larger) */
    struct kvm_xcrs xcrs;
    struct kvm_debugregs debugregs;
    struct kvm_lapic_state lapic;   /* the in-kernel LAPIC's registers */
    struct kvm_vcpu_events events;  /* pending exception/interrupt/NMI/SIPI */
    KvmMsr msrs[KVM_STATE_MAX_MSRS];
    uint64_t tsc_khz;               /* KVM_GET_TSC_KHZ: set on the target first */
} KvmVcpuState;

/* The VM-wide parts: the in-kernel interrupt controllers, PIT, clock. */
typedef struct KvmVmState {
    uint32_t version;               /* KVM_STATE_VERSION */
    uint32_t nvcpus;
    struct kvm_irqchip pic_master;  /* KVM_GET_IRQCHIP, chip_id 0 */
    struct kvm_irqchip pic_slave;   /* chip_id 1 */
    struct kvm_irqchip ioapic;      /* chip_id 2 */
    struct kvm_pit_state2 pit;
    struct kvm_clock_data clock;    /* kvmclock: restore so guest time continues */
    /* Followed in the stream by nvcpus KvmVcpuState records. */
} KvmVmState;

#endif
