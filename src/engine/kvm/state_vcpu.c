/* One vCPU's state out of KVM (save) and back in (restore).
 *
 * Reading, in this order (as Firecracker does, for the reasons it gives):
 * KVM_GET_MP_STATE first, because it makes the LAPIC accept pending
 * INIT/SIPI and so may change the rest; the vCPU events last, because
 * other GETs may still move an event between "pending" and "injected".
 * The vCPUs are all paused meanwhile (events of one vCPU may be changed by
 * another's IPIs otherwise).
 *
 * Writing, in this order (QEMU's kvm_arch_put_registers and kvm_apic_put,
 * Firecracker's restore_state; the reasons are KVM's):
 *   1. TSC rate      before anything that reads or writes the TSC;
 *   2. CPUID         what the guest saw, after checking this host has it:
 *                    KVM derives the valid XCR0, XSAVE components and
 *                    MSR bits from it, so it precedes XCRs, XSAVE, MSRs;
 *   3. sregs(2)      CPU mode, EFER and the APIC base: the LAPIC's register
 *                    format (xAPIC/x2APIC) and some MSRs depend on them;
 *   4. regs          KVM_SET_REGS drops a pending exception: before events;
 *   5. XSAVE, XCRs, debug registers;
 *   6. MSRs          after sregs (mode), including the TSC: a host write of
 *                    the TSC sets this vCPU's offset (and KVM matches the
 *                    vCPUs' offsets when the values are within a second);
 *   7. LAPIC         after the APIC base; restarts its timer from the saved
 *                    current count;
 *   8. TSC_DEADLINE  after the LAPIC: ignored unless the timer is already
 *                    in TSC-deadline mode;
 *   9. MP state      after the LAPIC (INIT/SIPI states live in it);
 *  10. vCPU events   last: pending/injected exception, interrupt, NMI, SMI
 *                    and the interrupt shadow, which the steps above may
 *                    have touched (SET_REGS, SET_SREGS, SET_LAPIC all do).
 * kvmclock is VM-wide and set when the guest starts (state_vm.c); the
 * kvmclock wall-clock MSR is written after it (see msr_phase). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "common/log.h"
#include "kvm_int.h"

static int kerr(char *err, size_t errlen, const char *call, const char *what)
{
    snprintf(err, errlen, "%s (%s): %s", call, what, strerror(errno));
    return -1;
}

static struct kvm_cpuid2 *cpuid_alloc(unsigned n)
{
    struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));

    if (c)
        c->nent = n;
    return c;
}

static struct kvm_msrs *msrs_alloc(unsigned n)
{
    return calloc(1, sizeof(struct kvm_msrs) + n * sizeof(struct kvm_msr_entry));
}

static const char *msr_name(uint32_t index)
{
    const char *n = kvm_state_msr_name(index);
    return n ? n : "?";
}

/* ---- reading -------------------------------------------------------------- */

/* The CPUID the guest sees on this vCPU. Not always what was set: a
 * paging-based nested KVM (kvm_pvm) adds the host's own features, which
 * its guests see because they run CPUID natively. */
static int read_cpuid(Vcpu *v, struct kvm_cpuid_entry2 *out, uint32_t *n,
                      char *err, size_t errlen)
{
    struct kvm_cpuid2 *c = cpuid_alloc(KVM_STATE_MAX_CPUID);

    if (!c) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (ioctl(v->fd, KVM_GET_CPUID2, c) < 0) {
        kerr(err, errlen, "KVM_GET_CPUID2", "CPUID");
        free(c);
        return -1;
    }
    *n = c->nent;
    memcpy(out, c->entries, c->nent * sizeof(c->entries[0]));
    free(c);
    return 0;
}

static void sregs_to_sregs2(const struct kvm_sregs *o, struct kvm_sregs2 *s)
{
    memset(s, 0, sizeof(*s));
    s->cs = o->cs; s->ds = o->ds; s->es = o->es; s->fs = o->fs;
    s->gs = o->gs; s->ss = o->ss; s->tr = o->tr; s->ldt = o->ldt;
    s->gdt = o->gdt; s->idt = o->idt;
    s->cr0 = o->cr0; s->cr2 = o->cr2; s->cr3 = o->cr3; s->cr4 = o->cr4;
    s->cr8 = o->cr8; s->efer = o->efer; s->apic_base = o->apic_base;
}

static int get_sregs(Vcpu *v, KvmVcpuState *s, char *err, size_t errlen)
{
    struct kvm_sregs o;

    if (v->k->has_sregs2)
        return ioctl(v->fd, KVM_GET_SREGS2, &s->sregs) < 0 ?
               kerr(err, errlen, "KVM_GET_SREGS2", "segments and control registers") : 0;
    if (ioctl(v->fd, KVM_GET_SREGS, &o) < 0)
        return kerr(err, errlen, "KVM_GET_SREGS", "segments and control registers");
    sregs_to_sregs2(&o, &s->sregs);
    return 0;
}

static int get_xsave(Vcpu *v, KvmVcpuState *s, char *err, size_t errlen)
{
    Kvm *k = v->k;

    s->xsave = calloc(1, k->xsave_size);
    if (!s->xsave) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->xsave_len = k->xsave_size;
    if (ioctl(v->fd, k->has_xsave2 ? KVM_GET_XSAVE2 : KVM_GET_XSAVE, s->xsave) < 0)
        return kerr(err, errlen, k->has_xsave2 ? "KVM_GET_XSAVE2" : "KVM_GET_XSAVE",
                    "FPU and vector registers");
    return 0;
}

static int get_msrs(Vcpu *v, KvmVcpuState *s, char *err, size_t errlen)
{
    Kvm *k = v->k;
    struct kvm_msrs *m = msrs_alloc(k->nstate_msrs);
    int r;

    if (!m) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    m->nmsrs = k->nstate_msrs;
    for (unsigned i = 0; i < k->nstate_msrs; i++)
        m->entries[i].index = k->state_msrs[i];
    r = ioctl(v->fd, KVM_GET_MSRS, m);
    if (r < 0 || (unsigned)r != k->nstate_msrs) {
        if (r < 0)
            kerr(err, errlen, "KVM_GET_MSRS", "model-specific registers");
        else
            snprintf(err, errlen, "KVM_GET_MSRS: MSR 0x%x (%s) cannot be read",
                     k->state_msrs[r], msr_name(k->state_msrs[r]));
        free(m);
        return -1;
    }
    s->nmsrs = k->nstate_msrs;
    for (unsigned i = 0; i < s->nmsrs; i++)
        s->msrs[i] = (KvmMsr){ .index = m->entries[i].index, .value = m->entries[i].data };
    free(m);
    return 0;
}

static int get_events(Vcpu *v, KvmVcpuState *s, char *err, size_t errlen)
{
    if (ioctl(v->fd, KVM_GET_VCPU_EVENTS, &s->events) < 0)
        return kerr(err, errlen, "KVM_GET_VCPU_EVENTS", "pending events");
    /* Payload and triple-fault reporting are opt-in capabilities this
     * engine leaves off; their flags cannot appear. */
    s->events.flags &= KVM_STATE_EVENT_FLAGS;
    return 0;
}

static int get_all(Vcpu *v, KvmVcpuState *s, char *err, size_t errlen)
{
    Kvm *k = v->k;
    struct kvm_mp_state mp;

    if (ioctl(v->fd, KVM_GET_MP_STATE, &mp) < 0)
        return kerr(err, errlen, "KVM_GET_MP_STATE", "run state");
    s->mp_state = mp.mp_state;
    if (ioctl(v->fd, KVM_GET_REGS, &s->regs) < 0)
        return kerr(err, errlen, "KVM_GET_REGS", "general registers");
    if (get_sregs(v, s, err, errlen) || get_xsave(v, s, err, errlen))
        return -1;
    if (k->has_xcrs && ioctl(v->fd, KVM_GET_XCRS, &s->xcrs) < 0)
        return kerr(err, errlen, "KVM_GET_XCRS", "extended control registers");
    if (ioctl(v->fd, KVM_GET_DEBUGREGS, &s->debugregs) < 0)
        return kerr(err, errlen, "KVM_GET_DEBUGREGS", "debug registers");
    if (ioctl(v->fd, KVM_GET_LAPIC, &s->lapic) < 0)
        return kerr(err, errlen, "KVM_GET_LAPIC", "local APIC");
    if (get_msrs(v, s, err, errlen) || get_events(v, s, err, errlen))
        return -1;
    return 0;
}

int kvm_vcpu_state_get(Vcpu *v, KvmVcpuState *s, char *err, size_t errlen)
{
    Kvm *k = v->k;
    int khz;

    memset(s, 0, sizeof(*s));
    if (k->no_state) {
        snprintf(err, errlen, "this host's KVM lacks %s", k->no_state);
        return -1;
    }
    s->id = v->id;
    khz = k->has_tsc_khz ? ioctl(v->fd, KVM_GET_TSC_KHZ, 0) : 0;
    s->tsc_khz = khz > 0 ? (uint32_t)khz : 0;
    if (read_cpuid(v, s->cpuid, &s->ncpuid, err, errlen) || get_all(v, s, err, errlen)) {
        kvm_vcpu_state_free(s);
        return -1;
    }
    return 0;
}

/* ---- checking against this host ------------------------------------------ */

static const struct kvm_cpuid_entry2 *cpuid_find(const struct kvm_cpuid_entry2 *e, unsigned n,
                                                 uint32_t leaf, uint32_t sub)
{
    for (unsigned i = 0; i < n; i++)
        if (e[i].function == leaf &&
            (!(e[i].flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) || e[i].index == sub))
            return &e[i];
    return NULL;
}

static uint32_t cpuid_reg(const struct kvm_cpuid_entry2 *e, unsigned reg)
{
    if (!e)
        return 0;
    switch (reg) {
    case 0: return e->eax;
    case 1: return e->ebx;
    case 2: return e->ecx;
    default: return e->edx;
    }
}

/* The CPUID words that list features. `dynamic`: bits KVM changes at run
 * time (OSXSAVE, APIC enabled, OSPKE follow CR4 and the APIC base), which
 * say nothing about the host. */
static const struct {
    uint32_t leaf, sub;
    unsigned reg;
    uint32_t dynamic;
} feature_words[] = {
    { 0x1, 0, 2, 1u << 27 }, { 0x1, 0, 3, 1u << 9 },
    { 0x7, 0, 1, 0 }, { 0x7, 0, 2, 1u << 4 }, { 0x7, 0, 3, 0 }, { 0x7, 1, 0, 0 },
    { 0xd, 0, 0, 0 }, { 0xd, 0, 3, 0 }, { 0xd, 1, 0, 0 },
    { 0x80000001, 0, 2, 0 }, { 0x80000001, 0, 3, 0 }, { 0x80000007, 0, 3, 0 },
    { 0x80000008, 0, 1, 0 }, { 0x40000001, 0, 0, 0 },
};

static const char *const reg_names[] = { "eax", "ebx", "ecx", "edx" };

/* Same vendor, and every feature the guest saw is one this vCPU has here
 * (h: its CPUID before the saved one replaces it): a guest that found
 * AVX-512 at boot must find it after a migration. */
static int check_cpu_features(const KvmVcpuState *s, const struct kvm_cpuid_entry2 *h,
                              unsigned nh, char *err, size_t errlen)
{
    const struct kvm_cpuid_entry2 *sv = cpuid_find(s->cpuid, s->ncpuid, 0, 0), *hv = cpuid_find(h, nh, 0, 0);

    if (!sv || !hv || sv->ebx != hv->ebx || sv->ecx != hv->ecx || sv->edx != hv->edx) {
        char a[13] = "?", b[13] = "?";
        if (sv) { memcpy(a, &sv->ebx, 4); memcpy(a + 4, &sv->edx, 4); memcpy(a + 8, &sv->ecx, 4); a[12] = 0; }
        if (hv) { memcpy(b, &hv->ebx, 4); memcpy(b + 4, &hv->edx, 4); memcpy(b + 8, &hv->ecx, 4); b[12] = 0; }
        snprintf(err, errlen, "saved on a %s CPU, this host's is %s", a, b);
        return -1;
    }
    for (unsigned i = 0; i < sizeof(feature_words) / sizeof(feature_words[0]); i++) {
        uint32_t leaf = feature_words[i].leaf, sub = feature_words[i].sub;
        unsigned reg = feature_words[i].reg;
        uint32_t want = cpuid_reg(cpuid_find(s->cpuid, s->ncpuid, leaf, sub), reg);
        uint32_t have = cpuid_reg(cpuid_find(h, nh, leaf, sub), reg);
        uint32_t missing = want & ~have & ~feature_words[i].dynamic;
        if (missing) {
            snprintf(err, errlen, "CPUID 0x%x.%u %s: the guest uses features 0x%08x this "
                     "host's CPU or KVM lacks (restore on the same or a newer CPU)",
                     leaf, sub, reg_names[reg], missing);
            return -1;
        }
    }
    return 0;
}

/* KVM's XSAVE area has the standard layout with the offsets of CPUID leaf
 * 0xD on the host: each component the guest may use must sit at the same
 * offset with the same size here, and the whole must fit. */
static int check_xsave_layout(Kvm *k, const KvmVcpuState *s, const struct kvm_cpuid_entry2 *h,
                              unsigned nh, char *err, size_t errlen)
{
    const struct kvm_cpuid_entry2 *d0 = cpuid_find(s->cpuid, s->ncpuid, 0xd, 0);
    uint64_t xcr0 = d0 ? d0->eax | (uint64_t)d0->edx << 32 : 0;

    if (s->xsave_len > k->xsave_size) {
        snprintf(err, errlen, "the XSAVE area is %u bytes, this host's KVM takes %u "
                 "(saved on a CPU with more register state)", s->xsave_len, k->xsave_size);
        return -1;
    }
    for (unsigned i = 2; i < 64; i++) {
        const struct kvm_cpuid_entry2 *a, *b;
        if (!(xcr0 & (1ull << i)))
            continue;
        a = cpuid_find(s->cpuid, s->ncpuid, 0xd, i);
        b = cpuid_find(h, nh, 0xd, i);
        if (!a || !b || a->eax != b->eax || a->ebx != b->ebx) {
            snprintf(err, errlen, "XSAVE component %u: %u bytes at offset %u when saved, "
                     "%u at %u on this host", i, a ? a->eax : 0, a ? a->ebx : 0,
                     b ? b->eax : 0, b ? b->ebx : 0);
            return -1;
        }
    }
    return 0;
}

/* ---- writing --------------------------------------------------------------- */

/* Within 250 ppm KVM itself calls two rates equal (its tsc_tolerance_ppm):
 * nothing to do. Beyond, KVM must scale the guest's TSC to the saved rate,
 * or the guest's calibrated TSC would run fast or slow: refused. */
static int put_tsc_khz(Vcpu *v, uint32_t khz, char *err, size_t errlen)
{
    Kvm *k = v->k;
    int here;
    uint64_t tol;

    if (!khz || !k->has_tsc_khz)
        return 0;           /* unknown on one side: nothing to compare */
    here = ioctl(v->fd, KVM_GET_TSC_KHZ, 0);
    if (here <= 0)
        return kerr(err, errlen, "KVM_GET_TSC_KHZ", "TSC rate");
    tol = (uint64_t)here * 250 / 1000000;
    if ((uint64_t)(khz > (uint32_t)here ? khz - (uint32_t)here : (uint32_t)here - khz) <= tol)
        return 0;
    if (!k->has_tsc_control) {
        snprintf(err, errlen, "saved with a %u kHz TSC, this host's runs at %d kHz and its KVM "
                 "cannot scale a guest's TSC (no KVM_CAP_TSC_CONTROL)", khz, here);
        return -1;
    }
    if (ioctl(v->fd, KVM_SET_TSC_KHZ, (unsigned long)khz) < 0)
        return kerr(err, errlen, "KVM_SET_TSC_KHZ", "TSC rate");
    return 0;
}

/* Check the saved CPUID against this vCPU's, then give the guest the
 * saved one: it sees the same CPU as before, not merely a compatible one. */
static int put_cpuid(Vcpu *v, const KvmVcpuState *s, char *err, size_t errlen)
{
    struct kvm_cpuid_entry2 *here = calloc(KVM_STATE_MAX_CPUID, sizeof(*here));
    struct kvm_cpuid2 *c = cpuid_alloc(s->ncpuid);
    uint32_t nhere = 0;
    int r = -1;

    if (!here || !c) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if (read_cpuid(v, here, &nhere, err, errlen) ||
        check_cpu_features(s, here, nhere, err, errlen) ||
        check_xsave_layout(v->k, s, here, nhere, err, errlen))
        goto out;
    memcpy(c->entries, s->cpuid, s->ncpuid * sizeof(c->entries[0]));
    r = ioctl(v->fd, KVM_SET_CPUID2, c);
    if (r < 0)
        kerr(err, errlen, "KVM_SET_CPUID2", "CPUID");
out:
    free(here);
    free(c);
    return r < 0 ? -1 : 0;
}

/* Without KVM_CAP_SREGS2 the PAE PDPTRs are not set from the state: KVM
 * reloads them from the page directory pointer table in guest memory (what
 * the old interface always did). */
static int put_sregs(Vcpu *v, const struct kvm_sregs2 *s, char *err, size_t errlen)
{
    struct kvm_sregs o;

    if (v->k->has_sregs2)
        return ioctl(v->fd, KVM_SET_SREGS2, s) < 0 ?
               kerr(err, errlen, "KVM_SET_SREGS2", "segments and control registers") : 0;
    memset(&o, 0, sizeof(o));
    o.cs = s->cs; o.ds = s->ds; o.es = s->es; o.fs = s->fs;
    o.gs = s->gs; o.ss = s->ss; o.tr = s->tr; o.ldt = s->ldt;
    o.gdt = s->gdt; o.idt = s->idt;
    o.cr0 = s->cr0; o.cr2 = s->cr2; o.cr3 = s->cr3; o.cr4 = s->cr4;
    o.cr8 = s->cr8; o.efer = s->efer; o.apic_base = s->apic_base;
    return ioctl(v->fd, KVM_SET_SREGS, &o) < 0 ?
           kerr(err, errlen, "KVM_SET_SREGS", "segments and control registers") : 0;
}

static int put_fpu(Vcpu *v, const KvmVcpuState *s, char *err, size_t errlen)
{
    Kvm *k = v->k;
    uint8_t *buf;
    int r;

    /* KVM reads as many bytes as its own XSAVE size: pad with zeros (the
     * header's XSTATE_BV says which components the bytes hold). */
    buf = calloc(1, k->xsave_size);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(buf, s->xsave, s->xsave_len);
    r = ioctl(v->fd, KVM_SET_XSAVE, buf);
    free(buf);
    if (r < 0)
        return kerr(err, errlen, "KVM_SET_XSAVE", "FPU and vector registers");
    if (s->xcrs.nr_xcrs && !k->has_xcrs) {
        snprintf(err, errlen, "the guest has extended control registers and this host's KVM "
                 "cannot set them (no KVM_CAP_XCRS)");
        return -1;
    }
    if (s->xcrs.nr_xcrs && ioctl(v->fd, KVM_SET_XCRS, &s->xcrs) < 0)
        return kerr(err, errlen, "KVM_SET_XCRS", "extended control registers");
    return 0;
}

static bool host_has_msr(Kvm *k, uint32_t index)
{
    for (unsigned i = 0; i < k->nstate_msrs; i++)
        if (k->state_msrs[i] == index)
            return true;
    return false;
}

/* When each saved MSR is written (see the order at the top):
 * with the others, after the LAPIC, or once the restored kvmclock runs. */
enum msr_phase { MSRS_MAIN, MSRS_AFTER_LAPIC, MSRS_AT_CLOCK };

static enum msr_phase msr_phase(uint32_t index)
{
    if (index == KVM_MSR_TSC_DEADLINE)
        return MSRS_AFTER_LAPIC;
    /* KVM writes the guest's boot time (host real time - kvmclock) into
     * guest memory when this MSR is written: only right once the guest's
     * kvmclock is the saved one, at start (kvm_state_clock_set). */
    if (index == KVM_MSR_WALL_CLOCK_NEW)
        return MSRS_AT_CLOCK;
    return MSRS_MAIN;
}

/* The saved MSRs of one phase, in saved order (MSRS_AT_CLOCK ones are kept
 * in the Vcpu for later). An MSR this host's KVM lacks may only be left
 * out if it holds 0, its reset value (the guest never used the feature). */
static int put_msrs(Vcpu *v, const KvmVcpuState *s, enum msr_phase phase, char *err, size_t errlen)
{
    struct kvm_msrs *m = msrs_alloc(s->nmsrs);
    int r;

    if (!m) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (uint32_t i = 0; i < s->nmsrs; i++) {
        const KvmMsr *x = &s->msrs[i];
        enum msr_phase p = msr_phase(x->index);
        if (p != phase && !(phase == MSRS_MAIN && p == MSRS_AT_CLOCK))
            continue;
        if (!host_has_msr(v->k, x->index)) {
            if (!x->value)
                continue;
            snprintf(err, errlen, "MSR 0x%x (%s) is 0x%llx and this host's KVM does not have it",
                     x->index, msr_name(x->index), (unsigned long long)x->value);
            free(m);
            return -1;
        }
        if (p == MSRS_AT_CLOCK) {
            v->wall_clock_msr = x->value;
            v->wall_clock_pending = x->value != 0;
            continue;
        }
        m->entries[m->nmsrs++] = (struct kvm_msr_entry){ .index = x->index, .data = x->value };
    }
    r = m->nmsrs ? ioctl(v->fd, KVM_SET_MSRS, m) : 0;
    if (r < 0 || (unsigned)r != m->nmsrs) {
        if (r < 0)
            kerr(err, errlen, "KVM_SET_MSRS", "model-specific registers");
        else
            snprintf(err, errlen, "KVM_SET_MSRS: MSR 0x%x (%s) = 0x%llx refused",
                     m->entries[r].index, msr_name(m->entries[r].index),
                     (unsigned long long)m->entries[r].data);
        free(m);
        return -1;
    }
    free(m);
    return 0;
}

/* Some KVMs cannot offset a guest's TSC (a paging-based nested KVM lets
 * its guests run RDTSC natively): the write is ignored and the guest's TSC
 * jumps by the time it was away. Its kvmclock still continues, and Linux
 * keeps time with that, so this is said once rather than refused. Read
 * back at once, a TSC KVM took is microseconds past the value written;
 * 50 ms leaves room for this thread being preempted in between. */
static void check_tsc(Vcpu *v, const KvmVcpuState *s)
{
    Kvm *k = v->k;
    union {
        struct kvm_msrs h;
        uint8_t b[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
    } m;
    uint64_t want = 0, khz = s->tsc_khz ? s->tsc_khz : 1000000;
    bool saved = false;
    double off;

    for (uint32_t i = 0; i < s->nmsrs; i++)
        if (s->msrs[i].index == KVM_MSR_TSC) {
            want = s->msrs[i].value;
            saved = true;
        }
    memset(&m, 0, sizeof(m));
    m.h.nmsrs = 1;
    m.h.entries[0].index = KVM_MSR_TSC;
    if (!saved || k->tsc_warned || ioctl(v->fd, KVM_GET_MSRS, &m) != 1)
        return;
    off = ((double)m.h.entries[0].data - (double)want) / ((double)khz * 1000);
    if (off > 0.05 || off < -0.05) {
        k->tsc_warned = true;
        log_warn("kvm: this host's KVM did not take the guest's TSC (it reads %+.3f s off): "
                 "the guest's TSC jumps by the time it was away, its kvmclock does not", off);
    }
}

static int put_events(Vcpu *v, const KvmVcpuState *s, char *err, size_t errlen)
{
    struct kvm_vcpu_events e = s->events;

    /* What KVM_GET_VCPU_EVENTS said is valid, plus the SIPI vector (which
     * it never flags but always reports). */
    e.flags = (s->events.flags & KVM_STATE_EVENT_FLAGS) | KVM_VCPUEVENT_VALID_SIPI_VECTOR;
    return ioctl(v->fd, KVM_SET_VCPU_EVENTS, &e) < 0 ?
           kerr(err, errlen, "KVM_SET_VCPU_EVENTS", "pending events") : 0;
}

int kvm_vcpu_state_put(Vcpu *v, const KvmVcpuState *s, char *err, size_t errlen)
{
    struct kvm_mp_state mp = { .mp_state = s->mp_state };
    struct kvm_debugregs d = s->debugregs;

    if (v->k->no_state) {
        snprintf(err, errlen, "this host's KVM lacks %s", v->k->no_state);
        return -1;
    }
    if (s->id != v->id) {
        snprintf(err, errlen, "holds vCPU %u, not %u", s->id, v->id);
        return -1;
    }
    d.flags = 0;
    if (put_tsc_khz(v, s->tsc_khz, err, errlen) || put_cpuid(v, s, err, errlen) ||
        put_sregs(v, &s->sregs, err, errlen))
        return -1;
    if (ioctl(v->fd, KVM_SET_REGS, &s->regs) < 0)
        return kerr(err, errlen, "KVM_SET_REGS", "general registers");
    if (put_fpu(v, s, err, errlen))
        return -1;
    if (ioctl(v->fd, KVM_SET_DEBUGREGS, &d) < 0)
        return kerr(err, errlen, "KVM_SET_DEBUGREGS", "debug registers");
    if (put_msrs(v, s, MSRS_MAIN, err, errlen))
        return -1;
    check_tsc(v, s);
    if (ioctl(v->fd, KVM_SET_LAPIC, &s->lapic) < 0)
        return kerr(err, errlen, "KVM_SET_LAPIC", "local APIC");
    if (put_msrs(v, s, MSRS_AFTER_LAPIC, err, errlen))
        return -1;
    if (ioctl(v->fd, KVM_SET_MP_STATE, &mp) < 0)
        return kerr(err, errlen, "KVM_SET_MP_STATE", "run state");
    return put_events(v, s, err, errlen);
}
