/* The saved state of a KVM virtual machine: two kinds of section (see
 * docs/state-format.md).
 *
 *   KVVM 0         the VM: PIC master/slave and IOAPIC (KVM_GET_IRQCHIP),
 *                  PIT (KVM_GET_PIT2), kvmclock (KVM_GET_CLOCK);
 *   KVCP <vCPU id> one vCPU: TSC rate, CPUID, MP state, regs, sregs(2),
 *                  XSAVE, XCRs, debug registers, LAPIC, MSRs, events.
 *
 * In memory the state is held in the kernel's structs (what the ioctls
 * take); in the stream every field is written on its own, little-endian
 * (state_codec.c), except the two regions whose layout IS the kernel ABI
 * and the same on every host: the LAPIC register page (kvm_lapic_state,
 * 1 KiB, the APIC's own register layout) and the XSAVE area (the
 * architectural XSAVE layout, offsets from CPUID leaf 0xD; the loader
 * checks those offsets against this host's). Those two go as a length and
 * the bytes.
 *
 * The codec (state_codec.c) knows no host: it checks what can be checked
 * from the bytes alone (lengths, counts, booleans, ranges). What depends on
 * this host (CPUID features, XSAVE size, MSRs KVM has, TSC rate) is checked
 * when the state is applied (state_vcpu.c, state_vm.c). */
#ifndef XENO_ENGINE_KVM_STATE_H
#define XENO_ENGINE_KVM_STATE_H

#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>

#include "common/statebuf.h"

#define KVVM_VERSION 1
#define KVCP_VERSION 1

/* MSRs saved per vCPU, in the order they are written back. The
 * architectural ones a 64-bit kernel uses, then KVM's paravirtual ones
 * (kvmclock, async PF (its interrupt vector before the enable, which
 * checks it), steal time, PV EOI, poll control). The list a host saves is
 * this one filtered through KVM_GET_MSR_INDEX_LIST: a host without, say,
 * TSC_AUX neither saves nor expects it.
 *
 * Not here, on purpose: EFER, FS_BASE, GS_BASE and APIC_BASE are part of
 * sregs (one source of truth, written before the MSRs). Two are written
 * apart from the rest: TSC_DEADLINE after the LAPIC (KVM ignores it unless
 * the LAPIC timer is already in TSC-deadline mode) and KVM_WALL_CLOCK_NEW
 * once the saved kvmclock is set (KVM derives what it writes from it). */
#define KVM_STATE_MSRS(X) \
    X(0x00000010, "TSC") X(0x0000003b, "TSC_ADJUST") X(0x0000003a, "FEATURE_CONTROL") \
    X(0x00000174, "SYSENTER_CS") X(0x00000175, "SYSENTER_ESP") X(0x00000176, "SYSENTER_EIP") \
    X(0x00000277, "PAT") X(0x000001a0, "MISC_ENABLE") \
    X(0xc0000081, "STAR") X(0xc0000082, "LSTAR") X(0xc0000083, "CSTAR") \
    X(0xc0000084, "SYSCALL_MASK") X(0xc0000102, "KERNEL_GS_BASE") X(0xc0000103, "TSC_AUX") \
    X(0x4b564d00, "KVM_WALL_CLOCK_NEW") X(0x4b564d01, "KVM_SYSTEM_TIME_NEW") \
    X(0x4b564d06, "KVM_ASYNC_PF_INT") X(0x4b564d02, "KVM_ASYNC_PF_EN") \
    X(0x4b564d03, "KVM_STEAL_TIME") X(0x4b564d04, "KVM_PV_EOI_EN") \
    X(0x4b564d05, "KVM_POLL_CONTROL") \
    X(0x000006e0, "TSC_DEADLINE")
#define KVM_STATE_MAX_MSRS 32
#define KVM_MSR_TSC 0x10u
#define KVM_MSR_TSC_DEADLINE 0x6e0u
#define KVM_MSR_WALL_CLOCK_NEW 0x4b564d00u

#define KVM_STATE_MAX_CPUID 256
/* An XSAVE area larger than this is not believed (the largest x86 state,
 * AMX included, is about 11 KiB); the host's own size is checked later. */
#define KVM_STATE_XSAVE_MAX (64u * 1024)
/* The x86 MP states (KVM_MP_STATE_RUNNABLE .. KVM_MP_STATE_SIPI_RECEIVED). */
#define KVM_STATE_MP_MAX KVM_MP_STATE_SIPI_RECEIVED
/* vCPU event flags this engine saves and restores. The payload and triple
 * fault flags appear only with capabilities it does not enable. */
#define KVM_STATE_EVENT_FLAGS (KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR | \
                               KVM_VCPUEVENT_VALID_SHADOW | KVM_VCPUEVENT_VALID_SMM)

typedef struct KvmMsr {
    uint32_t index;
    uint64_t value;
} KvmMsr;

/* One vCPU. */
typedef struct KvmVcpuState {
    uint32_t id;                    /* vCPU index = APIC ID = section instance */
    uint32_t tsc_khz;               /* KVM_GET_TSC_KHZ; 0: unknown */
    uint32_t ncpuid;
    struct kvm_cpuid_entry2 cpuid[KVM_STATE_MAX_CPUID];  /* what the guest saw */
    uint32_t mp_state;              /* running, halted, waiting for INIT/SIPI */
    struct kvm_regs regs;
    /* Segments, control registers, EFER, APIC base. Held as sregs2: with
     * KVM_CAP_SREGS2 its flags and PAE PDPTRs are real, else both are 0.
     * The old struct's interrupt bitmap is not kept: it repeats the
     * injected interrupt that the vCPU events carry (and set last). */
    struct kvm_sregs2 sregs;
    uint8_t *xsave;                 /* KVM_GET_XSAVE(2) bytes (malloc'd) */
    uint32_t xsave_len;
    struct kvm_xcrs xcrs;           /* nr_xcrs 0 without KVM_CAP_XCRS */
    struct kvm_debugregs debugregs; /* db0-3, dr6, dr7 */
    struct kvm_lapic_state lapic;   /* the in-kernel LAPIC's register page */
    uint32_t nmsrs;
    KvmMsr msrs[KVM_STATE_MAX_MSRS];
    struct kvm_vcpu_events events;  /* pending exception/interrupt/NMI/SMI */
} KvmVcpuState;

/* The VM-wide parts. */
typedef struct KvmVmState {
    uint32_t nvcpus;
    struct kvm_pic_state pic[2];    /* KVM_IRQCHIP_PIC_MASTER, _SLAVE */
    struct kvm_ioapic_state ioapic;
    /* channels[i].count_load_time is the host's CLOCK_MONOTONIC, which
     * means nothing on another host or after a reboot: the stream carries
     * pit_age_ns[i], how long before the save the count was loaded, and
     * the loader rebases it on its own clock. */
    struct kvm_pit_state2 pit;
    int64_t pit_age_ns[3];
    uint64_t clock_ns;              /* kvmclock at the pause (KVM_GET_CLOCK) */
} KvmVmState;

/* state_codec.c: the stream form. Decoders validate and fail with one
 * line in err; a decoded vCPU state owns its xsave buffer. */
void kvm_vcpu_state_encode(const KvmVcpuState *s, StateBuf *b);
int kvm_vcpu_state_decode(KvmVcpuState *s, StateBuf *b, char *err, size_t errlen);
void kvm_vcpu_state_free(KvmVcpuState *s);
void kvm_vm_state_encode(const KvmVmState *s, StateBuf *b);
int kvm_vm_state_decode(KvmVmState *s, StateBuf *b, char *err, size_t errlen);
/* "TSC_DEADLINE", or NULL for an MSR not in KVM_STATE_MSRS. */
const char *kvm_state_msr_name(uint32_t index);

#endif
