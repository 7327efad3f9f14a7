/* The kvm engine's saved state and dirty logging.
 *
 * Without KVM: the KVVM/KVCP codec round-trips every field and refuses
 * malformed sections (short, impossible values, unknown MSRs).
 *
 * With a usable /dev/kvm (else those tests are skipped): a tiny 64-bit
 * guest counts in rax and stores the count to two low pages and one page
 * above 4 GiB. A VM saved mid-run and loaded into a second VM continues
 * the count, keeps its registers, XMM state, MSRs and kvmclock; paused
 * before start it stays still; loads that do not fit this host or come too
 * late are refused with a line naming the part; dirty logging marks
 * exactly the pages written, round after round. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/stream.h"
#include "common/vmstate.h"
#include "engine/kvm/kvm_int.h"

/* ---- the codec ------------------------------------------------------------ */

static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

static void fill(void *p, size_t n)
{
    uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)rnd();
}

static void rnd_segment(struct kvm_segment *s)
{
    memset(s, 0, sizeof(*s));
    s->base = rnd();
    s->limit = (uint32_t)rnd();
    s->selector = (uint16_t)rnd();
    s->type = rnd() & 15;
    s->present = rnd() & 1;
    s->dpl = rnd() & 3;
    s->db = rnd() & 1;
    s->s = rnd() & 1;
    s->l = rnd() & 1;
    s->g = rnd() & 1;
    s->avl = rnd() & 1;
    s->unusable = rnd() & 1;
}

/* A vCPU state with every field set to something valid and not zero. */
static void rnd_vcpu(KvmVcpuState *s)
{
    static const uint32_t msrs[] = { 0x10, 0x174, 0xc0000082, 0x4b564d01, 0x6e0 };

    memset(s, 0, sizeof(*s));
    s->id = 3;
    s->tsc_khz = 2345678;
    s->ncpuid = 5;
    for (unsigned i = 0; i < s->ncpuid; i++) {
        struct kvm_cpuid_entry2 *e = &s->cpuid[i];
        e->function = (uint32_t)rnd();
        e->index = (uint32_t)rnd();
        e->flags = rnd() & KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
        e->eax = (uint32_t)rnd();
        e->ebx = (uint32_t)rnd();
        e->ecx = (uint32_t)rnd();
        e->edx = (uint32_t)rnd();
    }
    s->mp_state = KVM_MP_STATE_HALTED;
    fill(&s->regs, sizeof(s->regs));
    rnd_segment(&s->sregs.cs); rnd_segment(&s->sregs.ds); rnd_segment(&s->sregs.es);
    rnd_segment(&s->sregs.fs); rnd_segment(&s->sregs.gs); rnd_segment(&s->sregs.ss);
    rnd_segment(&s->sregs.tr); rnd_segment(&s->sregs.ldt);
    s->sregs.gdt = (struct kvm_dtable){ .base = rnd(), .limit = (uint16_t)rnd() };
    s->sregs.idt = (struct kvm_dtable){ .base = rnd(), .limit = (uint16_t)rnd() };
    s->sregs.cr0 = rnd(); s->sregs.cr2 = rnd(); s->sregs.cr3 = rnd(); s->sregs.cr4 = rnd();
    s->sregs.cr8 = 9; s->sregs.efer = rnd(); s->sregs.apic_base = rnd();
    s->sregs.flags = KVM_SREGS2_FLAGS_PDPTRS_VALID;
    for (unsigned i = 0; i < 4; i++)
        s->sregs.pdptrs[i] = rnd();
    s->xsave_len = 4096 + 128;
    s->xsave = malloc(s->xsave_len);
    fill(s->xsave, s->xsave_len);
    s->xcrs.nr_xcrs = 1;
    s->xcrs.xcrs[0].xcr = 0;
    s->xcrs.xcrs[0].value = 7;
    for (unsigned i = 0; i < 4; i++)
        s->debugregs.db[i] = rnd();
    s->debugregs.dr6 = rnd();
    s->debugregs.dr7 = rnd();
    fill(&s->lapic, sizeof(s->lapic));
    s->nmsrs = sizeof(msrs) / sizeof(msrs[0]);
    for (unsigned i = 0; i < s->nmsrs; i++)
        s->msrs[i] = (KvmMsr){ .index = msrs[i], .value = rnd() };
    s->events.exception.injected = 1;
    s->events.exception.nr = 14;
    s->events.exception.has_error_code = 1;
    s->events.exception.error_code = 0x1234;
    s->events.interrupt.injected = 1;
    s->events.interrupt.nr = 0x30;
    s->events.interrupt.shadow = KVM_X86_SHADOW_INT_STI;
    s->events.nmi.masked = 1;
    s->events.sipi_vector = 0x9a;
    s->events.flags = KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW;
    s->events.smi.latched_init = 1;
}

static void encode_vcpu(const KvmVcpuState *s, StateBuf *b)
{
    sb_init(b);
    kvm_vcpu_state_encode(s, b);
    assert_true(sb_ok(b));
}

static int decode_bytes(const void *p, size_t n, KvmVcpuState *out, char *err, size_t errlen)
{
    StateBuf r;
    int rc;

    sb_reader(&r, p, n);
    rc = kvm_vcpu_state_decode(out, &r, err, errlen);
    if (rc == 0 && !sb_ok(&r)) {
        kvm_vcpu_state_free(out);
        snprintf(err, errlen, "longer than its version allows");
        return -1;
    }
    return rc;
}

static void test_codec_vcpu_roundtrip(void **state)
{
    static KvmVcpuState a, b;
    StateBuf w;
    char err[256];
    (void)state;

    rnd_vcpu(&a);
    encode_vcpu(&a, &w);
    assert_int_equal(decode_bytes(w.data, w.len, &b, err, sizeof(err)), 0);
    assert_int_equal(b.id, a.id);
    assert_int_equal(b.tsc_khz, a.tsc_khz);
    assert_int_equal(b.ncpuid, a.ncpuid);
    assert_memory_equal(b.cpuid, a.cpuid, a.ncpuid * sizeof(a.cpuid[0]));
    assert_int_equal(b.mp_state, a.mp_state);
    assert_memory_equal(&b.regs, &a.regs, sizeof(a.regs));
    assert_memory_equal(&b.sregs, &a.sregs, sizeof(a.sregs));
    assert_int_equal(b.xsave_len, a.xsave_len);
    assert_memory_equal(b.xsave, a.xsave, a.xsave_len);
    assert_memory_equal(&b.xcrs, &a.xcrs, sizeof(a.xcrs));
    assert_memory_equal(&b.debugregs, &a.debugregs, sizeof(a.debugregs));
    assert_memory_equal(&b.lapic, &a.lapic, sizeof(a.lapic));
    assert_int_equal(b.nmsrs, a.nmsrs);
    assert_memory_equal(b.msrs, a.msrs, a.nmsrs * sizeof(a.msrs[0]));
    assert_memory_equal(&b.events, &a.events, sizeof(a.events));
    kvm_vcpu_state_free(&b);

    /* Every prefix is too short; one byte more is too long. */
    for (size_t n = 0; n < w.len; n += (n < 64 ? 1 : 97)) {
        assert_int_equal(decode_bytes(w.data, n, &b, err, sizeof(err)), -1);
        assert_null(b.xsave);
    }
    {
        uint8_t *longer = calloc(1, w.len + 1);
        memcpy(longer, w.data, w.len);
        assert_int_equal(decode_bytes(longer, w.len + 1, &b, err, sizeof(err)), -1);
        free(longer);
    }
    sb_free(&w);
    kvm_vcpu_state_free(&a);
}

/* Change one field of a valid state, encode, and expect the decoder to
 * refuse it with `why` in its message. */
static void expect_refused(void (*change)(KvmVcpuState *), const char *why)
{
    static KvmVcpuState a, b;
    StateBuf w;
    char err[256] = "";

    rnd_vcpu(&a);
    change(&a);
    encode_vcpu(&a, &w);
    assert_int_equal(decode_bytes(w.data, w.len, &b, err, sizeof(err)), -1);
    if (!strstr(err, why))
        fail_msg("want \"%s\" in \"%s\"", why, err);
    sb_free(&w);
    kvm_vcpu_state_free(&a);
}

static void bad_mp(KvmVcpuState *s) { s->mp_state = KVM_STATE_MP_MAX + 1; }
static void bad_dpl(KvmVcpuState *s) { s->sregs.ss.dpl = 4; }
static void bad_cr8(KvmVcpuState *s) { s->sregs.cr8 = 16; }
static void bad_sregs_flags(KvmVcpuState *s) { s->sregs.flags = 2; }
static void bad_xsave_size(KvmVcpuState *s) { s->xsave_len = 4096 + 8; }
static void small_xsave(KvmVcpuState *s) { s->xsave_len = 512; }
static void many_xcrs(KvmVcpuState *s) { s->xcrs.nr_xcrs = KVM_MAX_XCRS + 1; }
static void unknown_msr(KvmVcpuState *s) { s->msrs[1].index = 0xc0010015; }
static void repeated_msr(KvmVcpuState *s) { s->msrs[2].index = s->msrs[1].index; }
static void unordered_msr(KvmVcpuState *s)
{
    KvmMsr t = s->msrs[0];
    s->msrs[0] = s->msrs[1];
    s->msrs[1] = t;
}
static void bad_exception(KvmVcpuState *s) { s->events.exception.nr = 32; }
static void bad_event_flags(KvmVcpuState *s) { s->events.flags |= KVM_VCPUEVENT_VALID_PAYLOAD; }
static void bad_cpuid_flags(KvmVcpuState *s) { s->cpuid[2].flags = 4; }

static void test_codec_vcpu_refusals(void **state)
{
    (void)state;
    expect_refused(bad_mp, "MP state");
    expect_refused(bad_dpl, "segment");
    expect_refused(bad_cr8, "CR8");
    expect_refused(bad_sregs_flags, "sregs2 flags");
    expect_refused(bad_xsave_size, "XSAVE");
    expect_refused(small_xsave, "XSAVE");
    expect_refused(many_xcrs, "XCRs");
    expect_refused(unknown_msr, "not one this engine saves");
    expect_refused(repeated_msr, "repeated or out of order");
    expect_refused(unordered_msr, "repeated or out of order");
    expect_refused(bad_exception, "exception vector");
    expect_refused(bad_event_flags, "event flags");
    expect_refused(bad_cpuid_flags, "CPUID entry flags");
}

static void test_codec_bad_bytes(void **state)
{
    static KvmVcpuState a, b;
    StateBuf w;
    char err[256];
    size_t present_off = 4 + 4 + 4 + 5 * 28 + 4 + 18 * 8 + 8 + 4 + 2 + 1;
    size_t lapic_len_off;
    (void)state;

    rnd_vcpu(&a);
    encode_vcpu(&a, &w);
    /* cs.present must be a boolean. */
    assert_true(w.data[present_off] <= 1);
    w.data[present_off] = 2;
    assert_int_equal(decode_bytes(w.data, w.len, &b, err, sizeof(err)), -1);
    w.data[present_off] = 1;
    /* The LAPIC page's length must be 1024. */
    lapic_len_off = w.len - 27 - (4 + 5 * 12) - 1024 - 4;     /* events, MSRs, page */
    assert_int_equal(w.data[lapic_len_off] | w.data[lapic_len_off + 1] << 8, 1024);
    w.data[lapic_len_off] = 0xff;
    assert_int_equal(decode_bytes(w.data, w.len, &b, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "LAPIC"));
    sb_free(&w);
    kvm_vcpu_state_free(&a);
}

static void rnd_vm(KvmVmState *s)
{
    memset(s, 0, sizeof(*s));
    s->nvcpus = 2;
    fill(&s->pic, sizeof(s->pic));
    s->ioapic.base_address = 0xfec00000;
    s->ioapic.ioregsel = 0x12;
    s->ioapic.id = 0x0f000000;
    s->ioapic.irr = 0x10;
    for (unsigned i = 0; i < KVM_IOAPIC_NUM_PINS; i++)
        s->ioapic.redirtbl[i].bits = rnd();
    for (unsigned i = 0; i < 3; i++) {
        struct kvm_pit_channel_state *c = &s->pit.channels[i];
        c->count = 0x10000 - i;
        c->latched_count = (uint16_t)rnd();
        c->count_latched = 3;
        c->status_latched = 1;
        c->status = 0x34;
        c->read_state = 4;
        c->write_state = 3;
        c->write_latch = 0x12;
        c->rw_mode = 3;
        c->mode = i == 2 ? 0xff : 2 + i;
        c->bcd = 0;
        c->gate = 1;
        s->pit_age_ns[i] = (int64_t)(rnd() >> 2) * (i == 1 ? -1 : 1);
    }
    s->pit.flags = KVM_PIT_FLAGS_HPET_LEGACY;
    s->clock_ns = rnd();
}

static void test_codec_vm(void **state)
{
    static KvmVmState a, b;
    StateBuf w, r;
    char err[256];
    (void)state;

    rnd_vm(&a);
    sb_init(&w);
    kvm_vm_state_encode(&a, &w);
    sb_reader(&r, w.data, w.len);
    assert_int_equal(kvm_vm_state_decode(&b, &r, err, sizeof(err)), 0);
    assert_true(sb_ok(&r));
    assert_memory_equal(&a.pic, &b.pic, sizeof(a.pic));
    assert_memory_equal(&a.ioapic, &b.ioapic, sizeof(a.ioapic));
    for (unsigned i = 0; i < 3; i++) {
        a.pit.channels[i].count_load_time = 0;      /* not carried: the age is */
        assert_memory_equal(&a.pit.channels[i], &b.pit.channels[i], sizeof(a.pit.channels[i]));
        assert_int_equal(a.pit_age_ns[i], b.pit_age_ns[i]);
    }
    assert_int_equal(a.pit.flags, b.pit.flags);
    assert_int_equal(a.clock_ns, b.clock_ns);
    assert_int_equal(a.nvcpus, b.nvcpus);

    sb_reader(&r, w.data, w.len - 1);
    assert_int_equal(kvm_vm_state_decode(&b, &r, err, sizeof(err)), -1);

    a.pit.channels[1].mode = 8;
    sb_free(&w);
    sb_init(&w);
    kvm_vm_state_encode(&a, &w);
    sb_reader(&r, w.data, w.len);
    assert_int_equal(kvm_vm_state_decode(&b, &r, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "PIT"));

    a.pit.channels[1].mode = 3;
    a.ioapic.base_address = 0xfed00000;
    sb_free(&w);
    sb_init(&w);
    kvm_vm_state_encode(&a, &w);
    sb_reader(&r, w.data, w.len);
    assert_int_equal(kvm_vm_state_decode(&b, &r, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "IOAPIC"));
    sb_free(&w);
}

/* ---- a VM on /dev/kvm ---------------------------------------------------- */

#define LOW_SIZE   (2u << 20)
#define HIGH_BASE  0x100000000ull
#define HIGH_SIZE  (2u << 20)
#define GDT        0x500
#define PML4       0x1000
#define CODE       0x8000
#define PAGE_A     0x10000
#define PAGE_B     0x20000
#define PAGE_H     (HIGH_BASE + 0x3000)
#define LSTAR_MARK 0xffffffff81234560ull
#define WALL_CLOCK 0x5000               /* struct pvclock_wall_clock */
#define CLOCK_START_NS 1000000000000ull /* A's kvmclock starts at 1000 s */

/* loop: inc rax; mov [PAGE_A], rax; mov [PAGE_B], rax; movabs [PAGE_H], rax; jmp loop */
static const uint8_t prog[] = {
    0x48, 0xff, 0xc0,
    0x48, 0x89, 0x04, 0x25, 0x00, 0x00, 0x01, 0x00,
    0x48, 0x89, 0x04, 0x25, 0x00, 0x00, 0x02, 0x00,
    0x48, 0xa3, 0x00, 0x30, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
    0xeb, 0xe1,
};

static enum vm_exit last_exit;

static void on_exit_request(void *opaque, enum vm_exit why, int code)
{
    (void)opaque;
    (void)code;
    last_exit = why;
}

typedef struct Fx {
    GuestMem mem;
    VmState vs;
    Bus mmio;
    pthread_mutex_t dev_lock;
    Engine *k;
} Fx;

static bool kvm_usable(void)
{
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC), vm;

    if (fd < 0)
        return false;
    vm = ioctl(fd, KVM_CREATE_VM, 0);
    close(fd);
    if (vm < 0)
        return false;
    close(vm);
    return true;
}

static void write64(Fx *f, uint64_t gpa, uint64_t v)
{
    memcpy((uint8_t *)gmem_ptr(&f->mem, gpa, 8), &v, 8);
}

static uint64_t read64(Fx *f, uint64_t gpa)
{
    uint64_t v;
    memcpy(&v, gmem_ptr(&f->mem, gpa, 8), 8);
    return v;
}

/* Identity map of the first 2 MiB and of 4 GiB + 2 MiB, a flat GDT, the
 * program. */
static void load_program(Fx *f)
{
    KvmBoot boot = { .mode = KVM_BOOT_LINUX64, .entry = CODE, .stack = 0x7000,
                     .gdt = GDT, .cr3 = PML4 };

    write64(f, GDT + 16, 0x00af9a000000ffffull);
    write64(f, GDT + 24, 0x00cf92000000ffffull);
    write64(f, PML4, 0x2000 | 3);
    write64(f, 0x2000, 0x3000 | 3);             /* PDPT[0]: 0-1 GiB */
    write64(f, 0x2000 + 4 * 8, 0x4000 | 3);     /* PDPT[4]: 4-5 GiB */
    write64(f, 0x3000, 0x83);                   /* 2 MiB page at 0 */
    write64(f, 0x4000, HIGH_BASE | 0x83);       /* 2 MiB page at 4 GiB */
    memcpy(gmem_ptr(&f->mem, CODE, sizeof(prog)), prog, sizeof(prog));
    kvm_set_boot(f->k, &boot);
}

static void fx_create(Fx *f)
{
    EngineHost host = { .mem = &f->mem, .mmio = &f->mmio, .dev_lock = &f->dev_lock,
                        .nvcpus = 1, .state = &f->vs, .request_exit = on_exit_request };
    char err[256];

    memset(f, 0, sizeof(*f));
    pthread_mutex_init(&f->dev_lock, NULL);
    f->mmio.lock = &f->dev_lock;
    assert_int_equal(gmem_add_ram(&f->mem, 0, LOW_SIZE), 0);
    assert_int_equal(gmem_add_ram(&f->mem, HIGH_BASE, HIGH_SIZE), 0);
    f->k = kvm_engine_ops.create(&host, err, sizeof(err));
    if (!f->k)
        fail_msg("create: %s", err);
    assert_int_equal(f->vs.n, 2);       /* KVVM + one KVCP */
}

static void fx_free(Fx *f)
{
    kvm_engine_ops.destroy(f->k);
    gmem_free(&f->mem);
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };
    nanosleep(&ts, NULL);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

typedef struct Saved {
    uint32_t tag[4], inst[4], ver[4];
    uint8_t *data[4];
    size_t len[4];
    unsigned n;
} Saved;

static int put(void *opaque, const VmStateSection *s, const void *data, size_t len)
{
    Saved *sv = opaque;

    sv->tag[sv->n] = s->tag;
    sv->inst[sv->n] = s->instance;
    sv->ver[sv->n] = s->version;
    sv->data[sv->n] = malloc(len);
    memcpy(sv->data[sv->n], data, len);
    sv->len[sv->n] = len;
    sv->n++;
    return 0;
}

static int load_all(Fx *f, Saved *sv, char *err, size_t errlen)
{
    vmstate_load_begin(&f->vs);
    for (unsigned i = 0; i < sv->n; i++)
        if (vmstate_load_one(&f->vs, sv->tag[i], sv->inst[i], sv->ver[i], sv->data[i],
                             sv->len[i], err, errlen))
            return -1;
    return vmstate_check_complete(&f->vs, err, errlen);
}

static void saved_free(Saved *sv)
{
    for (unsigned i = 0; i < sv->n; i++)
        free(sv->data[i]);
    sv->n = 0;
}

static void copy_ram(Fx *to, Fx *from)
{
    for (unsigned i = 0; i < from->mem.nr; i++)
        memcpy(to->mem.r[i].host, from->mem.r[i].host, from->mem.r[i].size);
}

/* XMM0-15 (legacy area offset 160) hold a pattern only the saved state
 * can have carried: the program never touches them. */
static void set_xmm_pattern(Fx *f)
{
    struct kvm_xsave x;

    assert_int_equal(ioctl(f->k->vcpu[0].fd, KVM_GET_XSAVE, &x), 0);
    for (unsigned i = 0; i < 256 / 4; i++)
        x.region[160 / 4 + i] = 0xa5000000u + i;
    x.region[512 / 4] |= 2;                     /* XSTATE_BV: SSE state present */
    assert_int_equal(ioctl(f->k->vcpu[0].fd, KVM_SET_XSAVE, &x), 0);
}

static void set_msr(Fx *f, uint32_t index, uint64_t v)
{
    union { struct kvm_msrs h; uint8_t b[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)]; } m;

    memset(&m, 0, sizeof(m));
    m.h.nmsrs = 1;
    m.h.entries[0] = (struct kvm_msr_entry){ .index = index, .data = v };
    assert_int_equal(ioctl(f->k->vcpu[0].fd, KVM_SET_MSRS, &m), 1);
}

/* A kvmclock far from a new VM's (1000 s), and the kvmclock wall clock
 * (the guest's boot time in host real time) registered at WALL_CLOCK. */
static void set_clocks(Fx *f)
{
    struct kvm_clock_data c = { .clock = CLOCK_START_NS };

    assert_int_equal(ioctl(f->k->vm_fd, KVM_SET_CLOCK, &c), 0);
    set_msr(f, KVM_MSR_WALL_CLOCK_NEW, WALL_CLOCK);
}

/* Seconds between host real time and the guest's idea of it (its wall
 * clock page + its kvmclock). */
static double wall_clock_error(Fx *f, uint64_t kvmclock)
{
    uint32_t w[3];
    struct timespec ts;

    memcpy(w, gmem_ptr(&f->mem, WALL_CLOCK, sizeof(w)), sizeof(w));
    assert_true(w[0] != 0 && !(w[0] & 1));      /* written, not mid-update */
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)w[1] + w[2] / 1e9 + kvmclock / 1e9 - (ts.tv_sec + ts.tv_nsec / 1e9);
}

static uint64_t get_msr(Fx *f, uint32_t index)
{
    union { struct kvm_msrs h; uint8_t b[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)]; } m;

    memset(&m, 0, sizeof(m));
    m.h.nmsrs = 1;
    m.h.entries[0].index = index;
    assert_int_equal(ioctl(f->k->vcpu[0].fd, KVM_GET_MSRS, &m), 1);
    return m.h.entries[0].data;
}

/* The guest's kvmclock as KVM has it now (a paused VM's runs on in KVM;
 * the engine sets it back at resume). */
static uint64_t kvmclock_now(Fx *f)
{
    struct kvm_clock_data c;

    memset(&c, 0, sizeof(c));
    assert_int_equal(ioctl(f->k->vm_fd, KVM_GET_CLOCK, &c), 0);
    return c.clock;
}

static void get_regs(Fx *f, struct kvm_regs *r)
{
    assert_int_equal(ioctl(f->k->vcpu[0].fd, KVM_GET_REGS, r), 0);
}

/* A VM that has run the program for ms milliseconds and is paused. */
static void run_paused(Fx *f, unsigned ms)
{
    fx_create(f);
    load_program(f);
    set_xmm_pattern(f);
    set_msr(f, 0xc0000082, LSTAR_MARK);
    set_clocks(f);
    assert_int_equal(kvm_engine_ops.start(f->k), 0);
    sleep_ms(ms);
    kvm_engine_ops.pause(f->k);
    assert_int_equal(last_exit, VM_EXIT_NONE);
    assert_true(read64(f, PAGE_A) > 1000);
}

static void skip_without_kvm(void)
{
    if (!kvm_usable())
        skip();
}

static void test_kvm_save_restore(void **state)
{
    static Fx a, b;
    Saved sv = { 0 };
    char err[256];
    struct kvm_regs ra, rb;
    struct kvm_sregs sa, sb;
    struct kvm_xsave xa, xb;
    uint64_t count, clock_a, clock_b, tsc_a;
    double t0, t1;
    (void)state;

    skip_without_kvm();
    run_paused(&a, 200);
    get_regs(&a, &ra);
    assert_int_equal(ioctl(a.k->vcpu[0].fd, KVM_GET_SREGS, &sa), 0);
    assert_int_equal(ioctl(a.k->vcpu[0].fd, KVM_GET_XSAVE, &xa), 0);
    count = read64(&a, PAGE_A);
    /* Paused anywhere in the loop: rax is the count or one ahead, and the
     * page above 4 GiB holds it or the one before. */
    assert_true(read64(&a, PAGE_H) == count || read64(&a, PAGE_H) + 1 == count);
    assert_true(ra.rax == count || ra.rax == count + 1);
    assert_true(a.k->clock_saved);
    clock_a = a.k->paused_clock.clock;
    assert_true(clock_a > CLOCK_START_NS);
    assert_true(wall_clock_error(&a, clock_a) < 1 && wall_clock_error(&a, clock_a) > -1);
    tsc_a = get_msr(&a, KVM_MSR_TSC);
    assert_int_equal(vmstate_save_all(&a.vs, put, &sv, err, sizeof(err)), 0);
    assert_int_equal(sv.n, 2);
    assert_int_equal(sv.tag[0], STREAM_TAG('K', 'V', 'V', 'M'));
    assert_int_equal(sv.tag[1], STREAM_TAG('K', 'V', 'C', 'P'));

    fx_create(&b);
    copy_ram(&b, &a);
    fx_free(&a);
    if (load_all(&b, &sv, err, sizeof(err)))
        fail_msg("load: %s", err);
    assert_true(b.k->restored);
    /* Loaded into KVM before start: registers, mode, XMM, MSRs, TSC. */
    get_regs(&b, &rb);
    assert_memory_equal(&ra, &rb, sizeof(ra));
    assert_int_equal(ioctl(b.k->vcpu[0].fd, KVM_GET_SREGS, &sb), 0);
    assert_int_equal(sb.cr0, sa.cr0);
    assert_int_equal(sb.cr3, sa.cr3);
    assert_int_equal(sb.cr4, sa.cr4);
    assert_int_equal(sb.efer, sa.efer);
    assert_memory_equal(&sb.cs, &sa.cs, sizeof(sa.cs));
    assert_int_equal(ioctl(b.k->vcpu[0].fd, KVM_GET_XSAVE, &xb), 0);
    assert_memory_equal(&xb.region[160 / 4], &xa.region[160 / 4], 256);
    assert_int_equal(xb.region[160 / 4], 0xa5000000u);
    assert_int_equal(get_msr(&b, 0xc0000082), LSTAR_MARK);
    assert_true(get_msr(&b, KVM_MSR_TSC) >= tsc_a);
    assert_true(get_msr(&b, KVM_MSR_TSC) < tsc_a + 10000000000ull);   /* seconds, not a reboot's worth */

    /* Started, it continues from the saved rax (a boot would start again
     * at 0 and could not pass 200 ms of counting in 20 ms) and its
     * kvmclock goes on from the saved time, not from this VM's 0. */
    t0 = now_ms();
    assert_int_equal(kvm_engine_ops.start(b.k), 0);
    sleep_ms(20);
    kvm_engine_ops.pause(b.k);
    clock_b = kvmclock_now(&b);
    t1 = now_ms();
    get_regs(&b, &rb);
    assert_true(rb.rax > ra.rax);
    assert_true(read64(&b, PAGE_A) > count);
    assert_true(read64(&b, PAGE_H) > count);
    if (clock_b < clock_a || clock_b - clock_a > (uint64_t)((t1 - t0 + 50) * 1e6))
        fail_msg("kvmclock went from %llu to %llu ns over %.0f ms of running",
                 (unsigned long long)clock_a, (unsigned long long)clock_b, t1 - t0);
    /* The wall clock KVM wrote at start agrees with the continued kvmclock
     * (written at load, it would be off by A's 1000 s). */
    if (wall_clock_error(&b, clock_b) > 1 || wall_clock_error(&b, clock_b) < -1)
        fail_msg("the guest's wall clock is %.1f s off", wall_clock_error(&b, clock_b));
    assert_int_equal(last_exit, VM_EXIT_NONE);

    /* Too late now: loading is for a VM that never ran. */
    vmstate_load_begin(&b.vs);
    assert_int_equal(vmstate_load_one(&b.vs, sv.tag[1], sv.inst[1], sv.ver[1], sv.data[1],
                                      sv.len[1], err, sizeof(err)), -1);
    assert_non_null(strstr(err, "already running"));
    saved_free(&sv);
    fx_free(&b);
}

static void test_kvm_restored_paused(void **state)
{
    static Fx a, b;
    Saved sv = { 0 };
    char err[256];
    struct kvm_regs ra, rb;
    uint64_t count, clock_a, clock_b;
    double t0, t1;
    (void)state;

    skip_without_kvm();
    run_paused(&a, 100);
    get_regs(&a, &ra);
    count = read64(&a, PAGE_A);
    clock_a = a.k->paused_clock.clock;
    assert_int_equal(vmstate_save_all(&a.vs, put, &sv, err, sizeof(err)), 0);
    fx_create(&b);
    copy_ram(&b, &a);
    fx_free(&a);
    if (load_all(&b, &sv, err, sizeof(err)))
        fail_msg("load: %s", err);

    /* Paused before start: the vCPU thread parks, nothing runs. */
    kvm_engine_ops.pause(b.k);
    assert_int_equal(kvm_engine_ops.start(b.k), 0);
    sleep_ms(300);
    assert_int_equal(read64(&b, PAGE_A), count);
    get_regs(&b, &rb);
    assert_int_equal(rb.rax, ra.rax);
    assert_int_equal(rb.rip, ra.rip);

    /* Resumed: it runs, and its clock left out the 300 ms it stood. */
    t0 = now_ms();
    kvm_engine_ops.resume(b.k);
    sleep_ms(30);
    kvm_engine_ops.pause(b.k);
    clock_b = kvmclock_now(&b);
    t1 = now_ms();
    assert_true(read64(&b, PAGE_A) > count);
    if (clock_b < clock_a || clock_b - clock_a > (uint64_t)((t1 - t0 + 100) * 1e6))
        fail_msg("kvmclock went from %llu to %llu ns over %.0f ms of running after 300 ms "
                 "paused", (unsigned long long)clock_a, (unsigned long long)clock_b, t1 - t0);
    saved_free(&sv);
    fx_free(&b);
}

static void test_kvm_boot_paused(void **state)
{
    static Fx f;
    (void)state;

    skip_without_kvm();
    fx_create(&f);
    load_program(&f);
    kvm_engine_ops.pause(f.k);
    assert_int_equal(kvm_engine_ops.start(f.k), 0);
    sleep_ms(200);
    assert_int_equal(read64(&f, PAGE_A), 0);
    kvm_engine_ops.resume(f.k);
    sleep_ms(50);
    kvm_engine_ops.pause(f.k);
    assert_true(read64(&f, PAGE_A) > 0);
    fx_free(&f);
}

/* Throttled at 75 %, the counting guest makes about a quarter of its
 * progress while its kvmclock keeps the wall's pace; a pause during a
 * throttled wait is prompt; unthrottled it is back to full speed. */
static void test_kvm_throttle(void **state)
{
    static Fx f;
    uint64_t c0, c1, c2, c3, k0, k1;
    double t0, t1;
    (void)state;

    skip_without_kvm();
    fx_create(&f);
    load_program(&f);
    assert_int_equal(kvm_engine_ops.start(f.k), 0);
    sleep_ms(50);
    c0 = read64(&f, PAGE_A);
    sleep_ms(300);
    c1 = read64(&f, PAGE_A);
    kvm_engine_ops.set_throttle(f.k, 75);
    sleep_ms(30);
    c2 = read64(&f, PAGE_A);
    k0 = kvmclock_now(&f);
    t0 = now_ms();
    sleep_ms(300);
    c3 = read64(&f, PAGE_A);
    k1 = kvmclock_now(&f);
    t1 = now_ms();
    print_message("throttle: %llu counts in 300 ms at full speed, %llu at 75 %%\n",
                  (unsigned long long)(c1 - c0), (unsigned long long)(c3 - c2));
    assert_true(c3 > c2);                          /* it still runs */
    assert_true((c3 - c2) * 10 < (c1 - c0) * 6);   /* at well under full speed */
    /* kvmclock (ns) ran with the wall clock, within 20 %. */
    assert_true((double)(k1 - k0) / 1e6 >= (t1 - t0) * 0.8);
    t0 = now_ms();
    kvm_engine_ops.pause(f.k);
    assert_true(now_ms() - t0 < 50);
    kvm_engine_ops.set_throttle(f.k, 0);
    kvm_engine_ops.resume(f.k);
    c2 = read64(&f, PAGE_A);
    sleep_ms(300);
    c3 = read64(&f, PAGE_A);
    kvm_engine_ops.pause(f.k);
    assert_true((c3 - c2) * 10 > (c1 - c0) * 6);   /* full speed again */
    fx_free(&f);
}

/* Load a changed copy of a saved KVCP into a fresh VM; expect `why`. */
static void expect_load_refused(Saved *sv, void (*change)(KvmVcpuState *, Engine *),
                                const char *why)
{
    static Fx b;
    static KvmVcpuState s;
    StateBuf r, w;
    char err[256] = "";

    sb_reader(&r, sv->data[1], sv->len[1]);
    assert_int_equal(kvm_vcpu_state_decode(&s, &r, err, sizeof(err)), 0);
    fx_create(&b);
    change(&s, b.k);
    sb_init(&w);
    kvm_vcpu_state_encode(&s, &w);
    vmstate_load_begin(&b.vs);
    assert_int_equal(vmstate_load_one(&b.vs, sv->tag[1], sv->inst[1], sv->ver[1], w.data, w.len,
                                      err, sizeof(err)), -1);
    if (!strstr(err, why) || !strstr(err, "KVCP 0"))
        fail_msg("want \"KVCP 0: ...%s\" in \"%s\"", why, err);
    sb_free(&w);
    kvm_vcpu_state_free(&s);
    fx_free(&b);
}

static struct kvm_cpuid_entry2 *find_leaf(KvmVcpuState *s, uint32_t leaf, uint32_t sub)
{
    for (unsigned i = 0; i < s->ncpuid; i++)
        if (s->cpuid[i].function == leaf && s->cpuid[i].index == sub)
            return &s->cpuid[i];
    fail_msg("no CPUID leaf 0x%x.%u", leaf, sub);
    return NULL;
}

static void other_vendor(KvmVcpuState *s, Engine *k)
{
    (void)k;
    find_leaf(s, 0, 0)->ebx ^= 0x01010101;
}

/* A feature bit this host lacks: the highest clear bit of leaf 7 ebx. */
static void extra_feature(KvmVcpuState *s, Engine *k)
{
    struct kvm_cpuid_entry2 *e = find_leaf(s, 7, 0);
    (void)k;
    for (int bit = 31; bit >= 0; bit--)
        if (!(e->ebx & (1u << bit))) {
            e->ebx |= 1u << bit;
            return;
        }
    fail_msg("every feature of CPUID 0x7.0 ebx is on");
}

static void big_xsave(KvmVcpuState *s, Engine *k)
{
    free(s->xsave);
    s->xsave_len = k->xsave_size + 64;
    s->xsave = calloc(1, s->xsave_len);
}

static void other_vcpu(KvmVcpuState *s, Engine *k)
{
    (void)k;
    s->id = 1;
}

static void foreign_tsc(KvmVcpuState *s, Engine *k)
{
    (void)k;
    s->tsc_khz = s->tsc_khz * 2;
}

static void test_kvm_load_refusals(void **state)
{
    static Fx a;
    Saved sv = { 0 };
    char err[256];
    bool scales;
    (void)state;

    skip_without_kvm();
    run_paused(&a, 50);
    assert_int_equal(vmstate_save_all(&a.vs, put, &sv, err, sizeof(err)), 0);
    /* A host that can scale the TSC takes another rate (KVM_SET_TSC_KHZ). */
    scales = a.k->has_tsc_control || !a.k->has_tsc_khz;
    fx_free(&a);
    expect_load_refused(&sv, other_vendor, "CPU, this host's is");
    expect_load_refused(&sv, extra_feature, "CPUID 0x7.0 ebx");
    expect_load_refused(&sv, big_xsave, "XSAVE area");
    expect_load_refused(&sv, other_vcpu, "holds vCPU 1");
    if (!scales)
        expect_load_refused(&sv, foreign_tsc, "kHz TSC");
    saved_free(&sv);
}

static bool page_dirty(Fx *f, uint64_t gpa)
{
    for (unsigned i = 0; i < f->mem.nr; i++) {
        GuestRegion *g = &f->mem.r[i];
        if (gpa >= g->gpa && gpa < g->gpa + g->size) {
            uint64_t p = (gpa - g->gpa) >> GMEM_PAGE_SHIFT;
            return g->dirty[p / 64] >> (p % 64) & 1;
        }
    }
    fail_msg("0x%llx is not RAM", (unsigned long long)gpa);
    return false;
}

static unsigned dirty_count(Fx *f)
{
    unsigned n = 0;
    for (unsigned i = 0; i < f->mem.nr; i++)
        for (uint64_t w = 0; w < (f->mem.r[i].size >> GMEM_PAGE_SHIFT) / 64; w++)
            n += (unsigned)__builtin_popcountll(f->mem.r[i].dirty[w]);
    return n;
}

static void clear_dirty(Fx *f)
{
    for (unsigned i = 0; i < f->mem.nr; i++)
        memset(f->mem.r[i].dirty, 0, ((f->mem.r[i].size >> GMEM_PAGE_SHIFT) / 64 + 1) * 8);
}

static void test_kvm_dirty_log(void **state)
{
    static Fx f;
    (void)state;

    skip_without_kvm();
    fx_create(&f);
    load_program(&f);
    assert_int_equal(kvm_engine_ops.start(f.k), 0);
    sleep_ms(20);
    assert_int_equal(kvm_engine_ops.dirty_log_collect(f.k), -1);     /* not on yet */
    assert_int_equal(kvm_engine_ops.dirty_log_start(f.k), 0);
    assert_true(f.mem.dirty_log);

    for (int round = 0; round < 3; round++) {
        clear_dirty(&f);
        sleep_ms(50);
        assert_int_equal(kvm_engine_ops.dirty_log_collect(f.k), 0);
        kvm_engine_ops.dirty_log_rearm(f.k);
        assert_true(page_dirty(&f, PAGE_A));
        assert_true(page_dirty(&f, PAGE_B));
        assert_true(page_dirty(&f, PAGE_H));
        assert_false(page_dirty(&f, CODE));
        assert_false(page_dirty(&f, 0x50000));
        assert_false(page_dirty(&f, HIGH_BASE + 0x5000));
        /* Page tables may get accessed/dirty bits written; nothing else. */
        assert_true(dirty_count(&f) <= 3 + 4);
    }

    /* Stopped vCPUs write nothing: after one collect to drain, none. */
    kvm_engine_ops.pause(f.k);
    assert_int_equal(kvm_engine_ops.dirty_log_collect(f.k), 0);
    clear_dirty(&f);
    sleep_ms(20);
    assert_int_equal(kvm_engine_ops.dirty_log_collect(f.k), 0);
    assert_int_equal(dirty_count(&f), 0);
    /* A device's write is marked through gmem. */
    assert_non_null(gmem_ptr_w(&f.mem, 0x60000, 8));
    assert_true(page_dirty(&f, 0x60000));

    kvm_engine_ops.dirty_log_stop(f.k);
    assert_false(f.mem.dirty_log);
    kvm_engine_ops.resume(f.k);
    sleep_ms(20);
    kvm_engine_ops.pause(f.k);
    assert_int_equal(kvm_engine_ops.dirty_log_collect(f.k), -1);
    assert_int_equal(last_exit, VM_EXIT_NONE);
    fx_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec_vcpu_roundtrip),
        cmocka_unit_test(test_codec_vcpu_refusals),
        cmocka_unit_test(test_codec_bad_bytes),
        cmocka_unit_test(test_codec_vm),
        cmocka_unit_test(test_kvm_save_restore),
        cmocka_unit_test(test_kvm_restored_paused),
        cmocka_unit_test(test_kvm_boot_paused),
        cmocka_unit_test(test_kvm_throttle),
        cmocka_unit_test(test_kvm_load_refusals),
        cmocka_unit_test(test_kvm_dirty_log),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
