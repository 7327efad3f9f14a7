/* KVVM and KVCP sections in the stream: every field little-endian through
 * StateBuf, in the order of docs/state-format.md. Decoding checks what the
 * bytes alone can tell (counts, lengths, booleans, ranges, MSR indices);
 * what depends on the host is checked when the state is applied. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state.h"

static int bad(char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen, "%s", what);
    return -1;
}

/* ---- MSR names and order ------------------------------------------------- */

static const struct { uint32_t index; const char *name; } msr_table[] = {
#define ENTRY(i, n) { i, n },
    KVM_STATE_MSRS(ENTRY)
#undef ENTRY
};
#define NMSR_TABLE (sizeof(msr_table) / sizeof(msr_table[0]))

/* Position in KVM_STATE_MSRS, or -1. */
static int msr_pos(uint32_t index)
{
    for (unsigned i = 0; i < NMSR_TABLE; i++)
        if (msr_table[i].index == index)
            return (int)i;
    return -1;
}

const char *kvm_state_msr_name(uint32_t index)
{
    int p = msr_pos(index);
    return p < 0 ? NULL : msr_table[p].name;
}

/* ---- pieces shared by the sections --------------------------------------- */

static void put_segment(StateBuf *b, const struct kvm_segment *s)
{
    sb_put_u64(b, s->base);
    sb_put_u32(b, s->limit);
    sb_put_u16(b, s->selector);
    sb_put_u8(b, s->type);
    sb_put_bool(b, s->present);
    sb_put_u8(b, s->dpl);
    sb_put_bool(b, s->db);
    sb_put_bool(b, s->s);
    sb_put_bool(b, s->l);
    sb_put_bool(b, s->g);
    sb_put_bool(b, s->avl);
    sb_put_bool(b, s->unusable);
}

/* Booleans must be 0 or 1 (sb_get_bool), the type 4 bits, the DPL 2. */
static bool get_segment(StateBuf *b, struct kvm_segment *s)
{
    memset(s, 0, sizeof(*s));
    s->base = sb_get_u64(b);
    s->limit = sb_get_u32(b);
    s->selector = sb_get_u16(b);
    s->type = sb_get_u8(b);
    s->present = sb_get_bool(b);
    s->dpl = sb_get_u8(b);
    s->db = sb_get_bool(b);
    s->s = sb_get_bool(b);
    s->l = sb_get_bool(b);
    s->g = sb_get_bool(b);
    s->avl = sb_get_bool(b);
    s->unusable = sb_get_bool(b);
    return s->type <= 15 && s->dpl <= 3;
}

static void put_dtable(StateBuf *b, const struct kvm_dtable *d)
{
    sb_put_u64(b, d->base);
    sb_put_u16(b, d->limit);
}

static void get_dtable(StateBuf *b, struct kvm_dtable *d)
{
    memset(d, 0, sizeof(*d));
    d->base = sb_get_u64(b);
    d->limit = sb_get_u16(b);
}

/* ---- KVCP ---------------------------------------------------------------- */

static void put_cpuid(StateBuf *b, const KvmVcpuState *s)
{
    sb_put_u32(b, s->ncpuid);
    for (uint32_t i = 0; i < s->ncpuid; i++) {
        const struct kvm_cpuid_entry2 *e = &s->cpuid[i];
        sb_put_u32(b, e->function);
        sb_put_u32(b, e->index);
        sb_put_u32(b, e->flags);
        sb_put_u32(b, e->eax);
        sb_put_u32(b, e->ebx);
        sb_put_u32(b, e->ecx);
        sb_put_u32(b, e->edx);
    }
}

static int get_cpuid(StateBuf *b, KvmVcpuState *s, char *err, size_t errlen)
{
    s->ncpuid = sb_get_u32(b);
    if (s->ncpuid > KVM_STATE_MAX_CPUID)
        return bad(err, errlen, "too many CPUID entries");
    for (uint32_t i = 0; i < s->ncpuid; i++) {
        struct kvm_cpuid_entry2 *e = &s->cpuid[i];
        e->function = sb_get_u32(b);
        e->index = sb_get_u32(b);
        e->flags = sb_get_u32(b);
        e->eax = sb_get_u32(b);
        e->ebx = sb_get_u32(b);
        e->ecx = sb_get_u32(b);
        e->edx = sb_get_u32(b);
        if (e->flags & ~(uint32_t)KVM_CPUID_FLAG_SIGNIFCANT_INDEX)
            return bad(err, errlen, "unknown CPUID entry flags");
    }
    return 0;
}

static void put_regs(StateBuf *b, const struct kvm_regs *r)
{
    const uint64_t v[] = { r->rax, r->rbx, r->rcx, r->rdx, r->rsi, r->rdi, r->rsp, r->rbp,
                           r->r8, r->r9, r->r10, r->r11, r->r12, r->r13, r->r14, r->r15,
                           r->rip, r->rflags };
    for (unsigned i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        sb_put_u64(b, v[i]);
}

static void get_regs(StateBuf *b, struct kvm_regs *r)
{
    __u64 *v[] = { &r->rax, &r->rbx, &r->rcx, &r->rdx, &r->rsi, &r->rdi, &r->rsp, &r->rbp,
                   &r->r8, &r->r9, &r->r10, &r->r11, &r->r12, &r->r13, &r->r14, &r->r15,
                   &r->rip, &r->rflags };
    for (unsigned i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        *v[i] = sb_get_u64(b);
}

static void put_sregs(StateBuf *b, const struct kvm_sregs2 *s)
{
    const struct kvm_segment *seg[] = { &s->cs, &s->ds, &s->es, &s->fs, &s->gs, &s->ss,
                                        &s->tr, &s->ldt };
    for (unsigned i = 0; i < 8; i++)
        put_segment(b, seg[i]);
    put_dtable(b, &s->gdt);
    put_dtable(b, &s->idt);
    sb_put_u64(b, s->cr0);
    sb_put_u64(b, s->cr2);
    sb_put_u64(b, s->cr3);
    sb_put_u64(b, s->cr4);
    sb_put_u64(b, s->cr8);
    sb_put_u64(b, s->efer);
    sb_put_u64(b, s->apic_base);
    sb_put_u64(b, s->flags);
    for (unsigned i = 0; i < 4; i++)
        sb_put_u64(b, s->pdptrs[i]);
}

static int get_sregs(StateBuf *b, struct kvm_sregs2 *s, char *err, size_t errlen)
{
    struct kvm_segment *seg[] = { &s->cs, &s->ds, &s->es, &s->fs, &s->gs, &s->ss,
                                  &s->tr, &s->ldt };
    bool ok = true;

    memset(s, 0, sizeof(*s));
    for (unsigned i = 0; i < 8; i++)
        ok &= get_segment(b, seg[i]);
    get_dtable(b, &s->gdt);
    get_dtable(b, &s->idt);
    s->cr0 = sb_get_u64(b);
    s->cr2 = sb_get_u64(b);
    s->cr3 = sb_get_u64(b);
    s->cr4 = sb_get_u64(b);
    s->cr8 = sb_get_u64(b);
    s->efer = sb_get_u64(b);
    s->apic_base = sb_get_u64(b);
    s->flags = sb_get_u64(b);
    for (unsigned i = 0; i < 4; i++)
        s->pdptrs[i] = sb_get_u64(b);
    if (!ok)
        return bad(err, errlen, "impossible segment type or privilege level");
    if (s->cr8 > 15)
        return bad(err, errlen, "CR8 above 15");
    if (s->flags & ~(uint64_t)KVM_SREGS2_FLAGS_PDPTRS_VALID)
        return bad(err, errlen, "unknown sregs2 flags");
    return 0;
}

static int get_xsave(StateBuf *b, KvmVcpuState *s, char *err, size_t errlen)
{
    uint32_t len = sb_get_u32(b);

    if (b->error)
        return 0;               /* reported as truncated by the caller */
    if (len < sizeof(struct kvm_xsave) || len > KVM_STATE_XSAVE_MAX || len % 64)
        return bad(err, errlen, "impossible XSAVE area size");
    if (len > sb_remaining(b)) {
        b->error = true;
        return 0;
    }
    s->xsave = malloc(len);
    if (!s->xsave)
        return bad(err, errlen, "out of memory");
    s->xsave_len = len;
    sb_get_bytes(b, s->xsave, len);
    return 0;
}

static void put_xcrs(StateBuf *b, const struct kvm_xcrs *x)
{
    sb_put_u32(b, x->nr_xcrs);
    for (uint32_t i = 0; i < x->nr_xcrs && i < KVM_MAX_XCRS; i++) {
        sb_put_u32(b, x->xcrs[i].xcr);
        sb_put_u64(b, x->xcrs[i].value);
    }
}

static int get_xcrs(StateBuf *b, struct kvm_xcrs *x, char *err, size_t errlen)
{
    memset(x, 0, sizeof(*x));
    x->nr_xcrs = sb_get_u32(b);
    if (x->nr_xcrs > KVM_MAX_XCRS)
        return bad(err, errlen, "too many XCRs");
    for (uint32_t i = 0; i < x->nr_xcrs; i++) {
        x->xcrs[i].xcr = sb_get_u32(b);
        x->xcrs[i].value = sb_get_u64(b);
    }
    return 0;
}

static void put_debugregs(StateBuf *b, const struct kvm_debugregs *d)
{
    for (unsigned i = 0; i < 4; i++)
        sb_put_u64(b, d->db[i]);
    sb_put_u64(b, d->dr6);
    sb_put_u64(b, d->dr7);
}

static void get_debugregs(StateBuf *b, struct kvm_debugregs *d)
{
    memset(d, 0, sizeof(*d));
    for (unsigned i = 0; i < 4; i++)
        d->db[i] = sb_get_u64(b);
    d->dr6 = sb_get_u64(b);
    d->dr7 = sb_get_u64(b);
}

static void put_msrs(StateBuf *b, const KvmVcpuState *s)
{
    sb_put_u32(b, s->nmsrs);
    for (uint32_t i = 0; i < s->nmsrs; i++) {
        sb_put_u32(b, s->msrs[i].index);
        sb_put_u64(b, s->msrs[i].value);
    }
}

/* Only MSRs of KVM_STATE_MSRS, each once, in its order: the order they are
 * written back in is part of the contract (see state.h). */
static int get_msrs(StateBuf *b, KvmVcpuState *s, char *err, size_t errlen)
{
    int last = -1;

    s->nmsrs = sb_get_u32(b);
    if (s->nmsrs > KVM_STATE_MAX_MSRS)
        return bad(err, errlen, "too many MSRs");
    for (uint32_t i = 0; i < s->nmsrs; i++) {
        int pos;
        s->msrs[i].index = sb_get_u32(b);
        s->msrs[i].value = sb_get_u64(b);
        if (b->error)
            return 0;
        pos = msr_pos(s->msrs[i].index);
        if (pos <= last) {
            snprintf(err, errlen, "MSR 0x%x is %s", s->msrs[i].index,
                     pos < 0 ? "not one this engine saves" : "repeated or out of order");
            return -1;
        }
        last = pos;
    }
    return 0;
}

static void put_events(StateBuf *b, const struct kvm_vcpu_events *e)
{
    sb_put_bool(b, e->exception.injected);
    sb_put_u8(b, e->exception.nr);
    sb_put_bool(b, e->exception.has_error_code);
    sb_put_bool(b, e->exception.pending);
    sb_put_u32(b, e->exception.error_code);
    sb_put_bool(b, e->interrupt.injected);
    sb_put_u8(b, e->interrupt.nr);
    sb_put_bool(b, e->interrupt.soft);
    sb_put_u8(b, e->interrupt.shadow);
    sb_put_bool(b, e->nmi.injected);
    sb_put_bool(b, e->nmi.pending);
    sb_put_bool(b, e->nmi.masked);
    sb_put_u32(b, e->sipi_vector);
    sb_put_u32(b, e->flags);
    sb_put_bool(b, e->smi.smm);
    sb_put_bool(b, e->smi.pending);
    sb_put_bool(b, e->smi.smm_inside_nmi);
    sb_put_bool(b, e->smi.latched_init);
}

static int get_events(StateBuf *b, struct kvm_vcpu_events *e, char *err, size_t errlen)
{
    memset(e, 0, sizeof(*e));
    e->exception.injected = sb_get_bool(b);
    e->exception.nr = sb_get_u8(b);
    e->exception.has_error_code = sb_get_bool(b);
    e->exception.pending = sb_get_bool(b);
    e->exception.error_code = sb_get_u32(b);
    e->interrupt.injected = sb_get_bool(b);
    e->interrupt.nr = sb_get_u8(b);
    e->interrupt.soft = sb_get_bool(b);
    e->interrupt.shadow = sb_get_u8(b);
    e->nmi.injected = sb_get_bool(b);
    e->nmi.pending = sb_get_bool(b);
    e->nmi.masked = sb_get_bool(b);
    e->sipi_vector = sb_get_u32(b);
    e->flags = sb_get_u32(b);
    e->smi.smm = sb_get_bool(b);
    e->smi.pending = sb_get_bool(b);
    e->smi.smm_inside_nmi = sb_get_bool(b);
    e->smi.latched_init = sb_get_bool(b);
    if (e->exception.nr >= 32)
        return bad(err, errlen, "pending exception vector above 31");
    if (e->interrupt.shadow & ~(KVM_X86_SHADOW_INT_MOV_SS | KVM_X86_SHADOW_INT_STI))
        return bad(err, errlen, "unknown interrupt shadow");
    if (e->sipi_vector > 0xff)
        return bad(err, errlen, "SIPI vector above 255");
    if (e->flags & ~(uint32_t)KVM_STATE_EVENT_FLAGS)
        return bad(err, errlen, "unknown vCPU event flags");
    return 0;
}

void kvm_vcpu_state_encode(const KvmVcpuState *s, StateBuf *b)
{
    sb_put_u32(b, s->id);
    sb_put_u32(b, s->tsc_khz);
    put_cpuid(b, s);
    sb_put_u32(b, s->mp_state);
    put_regs(b, &s->regs);
    put_sregs(b, &s->sregs);
    sb_put_blob(b, s->xsave, s->xsave_len);
    put_xcrs(b, &s->xcrs);
    put_debugregs(b, &s->debugregs);
    sb_put_blob(b, s->lapic.regs, sizeof(s->lapic.regs));
    put_msrs(b, s);
    put_events(b, &s->events);
}

/* Each step stops at the first problem; a read past the end shows as
 * b->error, reported once at the end. */
static int decode_vcpu(KvmVcpuState *s, StateBuf *b, char *err, size_t errlen)
{
    s->id = sb_get_u32(b);
    s->tsc_khz = sb_get_u32(b);
    if (get_cpuid(b, s, err, errlen))
        return -1;
    s->mp_state = sb_get_u32(b);
    if (s->mp_state > KVM_STATE_MP_MAX)
        return bad(err, errlen, "impossible MP state");
    get_regs(b, &s->regs);
    if (get_sregs(b, &s->sregs, err, errlen) || get_xsave(b, s, err, errlen) ||
        get_xcrs(b, &s->xcrs, err, errlen))
        return -1;
    get_debugregs(b, &s->debugregs);
    if (sb_get_u32(b) != sizeof(s->lapic.regs) && !b->error)
        return bad(err, errlen, "LAPIC state is not one register page (1024 bytes)");
    sb_get_bytes(b, s->lapic.regs, sizeof(s->lapic.regs));
    if (get_msrs(b, s, err, errlen) || get_events(b, &s->events, err, errlen))
        return -1;
    return 0;
}

int kvm_vcpu_state_decode(KvmVcpuState *s, StateBuf *b, char *err, size_t errlen)
{
    memset(s, 0, sizeof(*s));
    if (decode_vcpu(s, b, err, errlen) == 0 && !b->error)
        return 0;
    if (b->error)
        bad(err, errlen, "too short or malformed");
    kvm_vcpu_state_free(s);
    return -1;
}

void kvm_vcpu_state_free(KvmVcpuState *s)
{
    free(s->xsave);
    s->xsave = NULL;
    s->xsave_len = 0;
}

/* ---- KVVM ---------------------------------------------------------------- */

#define PIC_FIELDS(X) \
    X(last_irr) X(irr) X(imr) X(isr) X(priority_add) X(irq_base) X(read_reg_select) X(poll) \
    X(special_mask) X(init_state) X(auto_eoi) X(rotate_on_auto_eoi) \
    X(special_fully_nested_mode) X(init4) X(elcr) X(elcr_mask)

static void put_pic(StateBuf *b, const struct kvm_pic_state *p)
{
#define PUT(f) sb_put_u8(b, p->f);
    PIC_FIELDS(PUT)
#undef PUT
}

static void get_pic(StateBuf *b, struct kvm_pic_state *p)
{
    memset(p, 0, sizeof(*p));
#define GET(f) p->f = sb_get_u8(b);
    PIC_FIELDS(GET)
#undef GET
}

static void put_ioapic(StateBuf *b, const struct kvm_ioapic_state *s)
{
    sb_put_u64(b, s->base_address);
    sb_put_u32(b, s->ioregsel);
    sb_put_u32(b, s->id);
    sb_put_u32(b, s->irr);
    for (unsigned i = 0; i < KVM_IOAPIC_NUM_PINS; i++)
        sb_put_u64(b, s->redirtbl[i].bits);
}

static void get_ioapic(StateBuf *b, struct kvm_ioapic_state *s)
{
    memset(s, 0, sizeof(*s));
    s->base_address = sb_get_u64(b);
    s->ioregsel = sb_get_u32(b);
    s->id = sb_get_u32(b);
    s->irr = sb_get_u32(b);
    for (unsigned i = 0; i < KVM_IOAPIC_NUM_PINS; i++)
        s->redirtbl[i].bits = sb_get_u64(b);
}

static void put_pit_channel(StateBuf *b, const struct kvm_pit_channel_state *c, int64_t age)
{
    sb_put_u32(b, c->count);
    sb_put_u16(b, c->latched_count);
    sb_put_u8(b, c->count_latched);
    sb_put_u8(b, c->status_latched);
    sb_put_u8(b, c->status);
    sb_put_u8(b, c->read_state);
    sb_put_u8(b, c->write_state);
    sb_put_u8(b, c->write_latch);
    sb_put_u8(b, c->rw_mode);
    sb_put_u8(b, c->mode);
    sb_put_bool(b, c->bcd);
    sb_put_bool(b, c->gate);
    sb_put_u64(b, (uint64_t)age);
}

/* The i8254's own ranges: a count of at most 65536, modes 0-7 (6 and 7
 * alias 2 and 3) or 0xff (KVM's "never programmed"), access modes 0-3,
 * the read/write state machine 0-4. */
static bool get_pit_channel(StateBuf *b, struct kvm_pit_channel_state *c, int64_t *age)
{
    memset(c, 0, sizeof(*c));
    c->count = sb_get_u32(b);
    c->latched_count = sb_get_u16(b);
    c->count_latched = sb_get_u8(b);
    c->status_latched = sb_get_u8(b);
    c->status = sb_get_u8(b);
    c->read_state = sb_get_u8(b);
    c->write_state = sb_get_u8(b);
    c->write_latch = sb_get_u8(b);
    c->rw_mode = sb_get_u8(b);
    c->mode = sb_get_u8(b);
    c->bcd = sb_get_bool(b);
    c->gate = sb_get_bool(b);
    *age = (int64_t)sb_get_u64(b);
    return c->count <= 0x10000 && (c->mode <= 7 || c->mode == 0xff) && c->rw_mode <= 3 && c->read_state <= 4 &&
           c->write_state <= 4 && c->count_latched <= 4 && c->status_latched <= 1;
}

void kvm_vm_state_encode(const KvmVmState *s, StateBuf *b)
{
    sb_put_u32(b, s->nvcpus);
    put_pic(b, &s->pic[0]);
    put_pic(b, &s->pic[1]);
    put_ioapic(b, &s->ioapic);
    for (unsigned i = 0; i < 3; i++)
        put_pit_channel(b, &s->pit.channels[i], s->pit_age_ns[i]);
    sb_put_u32(b, s->pit.flags);
    sb_put_u64(b, s->clock_ns);
}

int kvm_vm_state_decode(KvmVmState *s, StateBuf *b, char *err, size_t errlen)
{
    bool pit_ok = true;

    memset(s, 0, sizeof(*s));
    s->nvcpus = sb_get_u32(b);
    get_pic(b, &s->pic[0]);
    get_pic(b, &s->pic[1]);
    get_ioapic(b, &s->ioapic);
    for (unsigned i = 0; i < 3; i++)
        pit_ok &= get_pit_channel(b, &s->pit.channels[i], &s->pit_age_ns[i]);
    s->pit.flags = sb_get_u32(b);
    s->clock_ns = sb_get_u64(b);
    if (b->error)
        return bad(err, errlen, "too short or malformed");
    if (!pit_ok)
        return bad(err, errlen, "impossible PIT channel state");
    if (s->pit.flags & ~(uint32_t)(KVM_PIT_FLAGS_HPET_LEGACY | KVM_PIT_FLAGS_SPEAKER_DATA_ON))
        return bad(err, errlen, "unknown PIT flags");
    if (s->ioapic.base_address != 0xfec00000ull)
        return bad(err, errlen, "IOAPIC not at 0xfec00000");
    return 0;
}
