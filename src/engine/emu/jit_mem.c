/* Loads, stores, AMOs and LR/SC in generated code.
 *
 * The hit path looks up the data TLB inline: index from the address, one
 * compare of the entry's tag with the page of the access's LAST byte (a
 * miss and an access crossing into the next page both fail it), then the
 * access through host = va + addend. Write entries only exist for pages
 * whose PTE is dirty, that dirty logging has marked, and that are not
 * watched (mmu.c), so a store that hits needs nothing else. Misses, MMIO
 * and faults go to C out of line. AMOs use host lock instructions on the
 * host address; LR/SC keep the interpreter's scheme (SC is a
 * compare-and-swap against the value LR read). */
#include "jit_internal.h"

_Static_assert(TLB_BITS == 8 && sizeof(TlbEntry) == 16, "jm_probe's index arithmetic");

void jm_addr(JitCtx *c, unsigned rs1, int64_t imm)
{
    X86 *x = &c->x;
    int h = jg_host(c, rs1);

    if (rs1 == 0) {
        mov_ri(x, RSI, (uint64_t)imm);
    } else if (h >= 0) {
        if (imm)
            lea(x, RSI, xm(h, (int32_t)imm));
        else
            mov_rr(x, RSI, h);
    } else {
        ld64(x, RSI, XM(rs1));
        if (imm)
            alu_ri(x, ALU_ADD, RSI, (int32_t)imm, true);
    }
}

/* rsi = the guest address. On a TLB hit, falls through with rsi = the host
 * address; returns the rel32 of the jump taken on a miss (rsi unchanged).
 * Clobbers rax, rdx. */
uint8_t *jm_probe(JitCtx *c, unsigned size, bool write)
{
    X86 *x = &c->x;
    int32_t set = TLB_OFF(c->dctx) + (int32_t)(write ? offsetof(TlbSet, w) : offsetof(TlbSet, r));
    uint8_t *miss;

    if (c->j->has_bmi2) {
        rorx32(x, RAX, RSI, 8);             /* a copy and a shift in one */
    } else {
        mov_rr32(x, RAX, RSI);
        shift_ri(x, SH_SHR, RAX, 8, false);
    }
    alu_ri(x, ALU_AND, RAX, (TLB_SIZE - 1) << 4, false);    /* page index * 16 */
    if (size > 1)
        lea(x, RDX, xm(RSI, (int32_t)size - 1));
    else
        mov_rr(x, RDX, RSI);
    alu_ri(x, ALU_AND, RDX, -4096, true);
    alu_rm(x, ALU_CMP, RDX, xmi(RBX, RAX, 1, set), true);  /* the block's data TLB set */
    miss = jcc_fwd(x, CC_NE);
    alu_rm(x, ALU_ADD, RSI, xmi(RBX, RAX, 1, set + 8), true);
    return miss;
}

/* ---- loads and stores ---- */

static unsigned size_of(int op)
{
    switch (op) {
    case OP_LB: case OP_LBU: case OP_SB: return 1;
    case OP_LH: case OP_LHU: case OP_SH: return 2;
    case OP_LW: case OP_LWU: case OP_SW: case OP_FLW: case OP_FSW: return 4;
    default: return 8;
    }
}

/* Slow path of a load: the value (sign- or zero-extended as info says),
 * or fault = 1 after the trap was taken at pc. */
JitRet jit_load_slow(Hart *h, uint64_t va, uint64_t pc, uint64_t info)
{
    unsigned size = info & 15;
    JitRet r = { 0, 0 };

    if (mmu_load_slow(h, va, size, &r.val)) {
        h->pc = pc;
        hart_raise(h, h->exc_cause, h->exc_tval);
        r.fault = 1;
        return r;
    }
    if ((info & 16) && size < 8)
        r.val = (uint64_t)((int64_t)(r.val << (64 - 8 * size)) >> (64 - 8 * size));
    return r;
}

/* Slow path of a store: non-zero after the trap was taken at pc. */
uint64_t jit_store_slow(Hart *h, uint64_t va, uint64_t val, uint64_t pc, uint64_t size)
{
    if (mmu_store_slow(h, va, (unsigned)size, val)) {
        h->pc = pc;
        hart_raise(h, h->exc_cause, h->exc_tval);
        return 1;
    }
    return 0;
}

/* Call the load slow path for the access in rsi: rax = the value, and a
 * trap leaves the block. `info`: size | 16 to sign-extend. */
void jm_call_load_slow(JitCtx *c, JitCold *k, unsigned info)
{
    uint8_t *ok;

    mov_ri(&c->x, RDX, k->pc);
    mov_ri(&c->x, RCX, info);
    call_rel(&c->x, c->j->t_load);
    test_rr(&c->x, RDX, RDX, true);
    ok = jcc8_fwd(&c->x, CC_E);
    jg_exit_trap(c, k->pending);
    x_here8(&c->x, ok);
}

/* Call the store slow path for the access in rsi of the value in rdx. */
void jm_call_store_slow(JitCtx *c, JitCold *k, unsigned size)
{
    uint8_t *ok;

    mov_ri(&c->x, RAX, k->pc);
    mov_ri(&c->x, RCX, size);
    call_rel(&c->x, c->j->t_store);
    test_rr(&c->x, RAX, RAX, false);
    ok = jcc8_fwd(&c->x, CC_E);
    jg_exit_trap(c, k->pending);
    x_here8(&c->x, ok);
}

/* ---- plain loads and stores ---- */

static bool is_load(int op) { return op >= OP_LB && op <= OP_LWU; }
static bool is_store(int op) { return op >= OP_SB && op <= OP_SD; }

/* The access itself, at m (rsi-based), once the page is known good. */
static void access(JitCtx *c, const Insn *d, XMem m)
{
    X86 *x = &c->x;

    if (is_load(d->op)) {
        int dst = d->rd ? jg_dst(c, d->rd, RAX) : RAX;
        switch (d->op) {
        case OP_LB: ldsx8(x, dst, m); break;
        case OP_LBU: ldzx8(x, dst, m); break;
        case OP_LH: ldsx16(x, dst, m); break;
        case OP_LHU: ldzx16(x, dst, m); break;
        case OP_LW: ldsx32(x, dst, m); break;
        case OP_LWU: ld32(x, dst, m); break;
        default: ld64(x, dst, m); break;
        }
        jg_put(c, d->rd, dst);
    } else {
        int val = jg_get(c, d->rs2, RCX);
        switch (size_of(d->op)) {
        case 1: st8(x, m, val); break;
        case 2: st16(x, m, val); break;
        case 4: st32(x, m, val); break;
        default: st64(x, m, val); break;
        }
    }
}

/* The slow path of the access whose guest address is in rsi. */
static void slow(JitCtx *c, JitCold *k)
{
    const Insn *d = &k->d;

    if (is_load(d->op)) {
        bool sign = d->op == OP_LB || d->op == OP_LH || d->op == OP_LW;
        jm_call_load_slow(c, k, size_of(d->op) | (sign ? 16u : 0));
        jg_put(c, d->rd, RAX);
    } else {
        if (d->rs2 == 0)
            zero(&c->x, RDX);
        else if (jg_host(c, d->rs2) >= 0)
            mov_rr(&c->x, RDX, jg_host(c, d->rs2));
        else
            ld64(&c->x, RDX, XM(d->rs2));
        jm_call_store_slow(c, k, size_of(d->op));
    }
}

static void cold_slow(JitCtx *c, JitCold *k)
{
    slow(c, k);
    jmp_to(&c->x, k->back);
}

/* The whole access on its own: probe, access, slow path. For cold code
 * (an access whose group check failed). */
static void individual(JitCtx *c, JitCold *k)
{
    const Insn *d = &k->d;
    uint8_t *miss;

    jm_addr(c, d->rs1, d->imm);
    miss = jm_probe(c, size_of(d->op), is_store(d->op));
    access(c, d, xm(RSI, 0));
    jmp_to(&c->x, k->back);
    x_here(&c->x, miss);
    slow(c, k);
    jmp_to(&c->x, k->back);
}

static void cold_konst(JitCtx *c, JitCold *k)
{
    mov_ri(&c->x, RSI, k->target);
    cold_slow(c, k);
}

static void cold_leader(JitCtx *c, JitCold *k)
{
    /* the group's page did not hit: its other accesses go on their own */
    st64_i(&c->x, HM(jit_slot[k->arg]), 1);
    individual(c, k);
}

/* Plan the block's accesses (after scan()):
 *  - an access whose base register holds a value known at translation
 *    time (auipc/lui/addi of them: globals, static data) checks the TLB
 *    entry of that constant page with constant offsets;
 *  - accesses of one kind (loads, or stores) off the same base register,
 *    with nothing writing that register nor any label in between (stack
 *    frames, structure fields), form a group: the first checks the TLB
 *    for the page spanning all of them and keeps the page's addend in a
 *    slot; the others only test that the slot is valid (addends are page
 *    differences: bit 0 clear; 1 marks a failed check) and access. */
void jm_plan(JitCtx *c)
{
    uint64_t val[32];
    uint32_t known = 1;
    int busy[JIT_SLOTS];

    val[0] = 0;
    for (unsigned i = 0; i < c->n; i++) {
        JitScan *s = &c->scan[i];
        const Insn *d = &s->d;

        s->slot = -1;
        s->leader = false;
        s->konst = false;
        if (s->label)
            known = 1;
        if ((is_load(d->op) || is_store(d->op)) && (known & (1u << d->rs1))) {
            uint64_t a = val[d->rs1] + (uint64_t)d->imm;
            if (fits32((int64_t)a) && (a & 0xfff) + size_of(d->op) <= 0x1000) {
                s->konst = true;
                s->kaddr = a;
            }
        }
        switch (d->op) {
        case OP_LUI:
            val[d->rd] = (uint64_t)d->imm;
            known |= 1u << d->rd;
            break;
        case OP_AUIPC:
            val[d->rd] = s->pc + (uint64_t)d->imm;
            known |= 1u << d->rd;
            break;
        case OP_ADDI:
            if (known & (1u << d->rs1)) {
                val[d->rd] = val[d->rs1] + (uint64_t)d->imm;
                known |= 1u << d->rd;
                break;
            }
            /* fall through */
        default:
            known &= ~(1u << d->rd);          /* anything else that may write rd */
            break;
        }
        val[0] = 0;                             /* lui/auipc/addi x0 are hints */
        known |= 1;
    }
    for (unsigned k = 0; k < JIT_SLOTS; k++)
        busy[k] = -1;
    for (unsigned i = 0; i < c->n; i++) {
        JitScan *s = &c->scan[i];
        const Insn *d = &s->d;
        bool ld = is_load(d->op);
        int64_t lo = d->imm, hi = d->imm + size_of(d->op);
        unsigned members = 1, last = i, base = d->rs1, slot;

        if (s->slot >= 0 || s->konst || !(ld || is_store(d->op)) || base == 0 ||
            (ld && d->rd == base))
            continue;
        for (slot = 0; slot < JIT_SLOTS && busy[slot] >= (int)i; slot++)
            ;
        if (slot == JIT_SLOTS)
            continue;
        for (unsigned j = i + 1; j < c->n && j <= i + 24; j++) {
            JitScan *t = &c->scan[j];
            const Insn *e = &t->d;
            if (t->label)
                break;
            if (t->slot < 0 && !t->konst && (ld ? is_load(e->op) : is_store(e->op)) &&
                e->rs1 == base) {
                int64_t l = e->imm < lo ? e->imm : lo;
                int64_t h = e->imm + size_of(e->op) > hi ? e->imm + size_of(e->op) : hi;
                if (h - l <= 256) {
                    lo = l;
                    hi = h;
                    t->slot = (int8_t)slot;
                    last = j;
                    members++;
                }
            }
            if (e->rd == base)
                break;                      /* writes the base (after reading it) */
        }
        if (members < 2) {
            for (unsigned j = i + 1; j <= last; j++)
                c->scan[j].slot = -1;
            continue;
        }
        s->slot = (int8_t)slot;
        s->leader = true;
        s->glo = (int32_t)lo;
        s->gspan = (uint32_t)(hi - lo);
        busy[slot] = (int)last;
    }
}

static void mem(JitCtx *c)
{
    X86 *x = &c->x;
    const JitScan *s = &c->scan[c->idx];
    const Insn *d = &s->d;
    bool st = is_store(d->op);
    int32_t set = TLB_OFF(c->dctx) + (int32_t)(st ? offsetof(TlbSet, w) : offsetof(TlbSet, r));
    uint8_t *miss;
    JitCold *k;

    if (s->konst) {
        /* constant page: constant TLB entry, constant tag */
        int32_t e = set + (int32_t)(((s->kaddr >> 12) & (TLB_SIZE - 1)) * sizeof(TlbEntry));
        alu_mi(x, ALU_CMP, xm(RBX, e), (int32_t)(s->kaddr & ~0xfffull), true);
        miss = jcc_fwd(x, CC_NE);
        ld64(x, RSI, xm(RBX, e + 8));
        access(c, d, xm(RSI, (int32_t)s->kaddr));
        k = jg_cold(c, cold_konst, miss);
        k->target = s->kaddr;
        return;
    }
    if (s->leader) {
        jm_addr(c, d->rs1, s->glo);
        miss = jm_probe(c, s->gspan, st);
        ld64(x, RDX, xmi(RBX, RAX, 1, set + 8));
        st64(x, HM(jit_slot[s->slot]), RDX);
        access(c, d, xm(RSI, (int32_t)(d->imm - s->glo)));
        k = jg_cold(c, cold_leader, miss);
        k->arg = s->slot;
        return;
    }
    if (s->slot >= 0) {
        int base = jg_host(c, d->rs1);
        ld64(x, RSI, HM(jit_slot[s->slot]));
        test_ri8(x, RSI, 1);
        miss = jcc_fwd(x, CC_NE);
        if (base >= 0) {
            access(c, d, xmi(base, RSI, 1, (int32_t)d->imm));
        } else {
            alu_rm(x, ALU_ADD, RSI, XM(d->rs1), true);
            access(c, d, xm(RSI, (int32_t)d->imm));
        }
        jg_cold(c, individual, miss);
        return;
    }
    jm_addr(c, d->rs1, d->imm);
    miss = jm_probe(c, size_of(d->op), st);
    access(c, d, xm(RSI, 0));
    jg_cold(c, cold_slow, miss);
}

void jm_load(JitCtx *c) { mem(c); }
void jm_store(JitCtx *c) { mem(c); }

/* ---- AMOs, LR/SC ---- */

/* A slow atomic (TLB miss, misaligned, MMIO, fault): fill the TLB for the
 * next time if the page allows, and run the instruction in the
 * interpreter. Non-zero if the block must end. */
int jit_atomic_slow(Hart *h, uint64_t pc, uint64_t next, uint64_t va, uint64_t info)
{
    unsigned size = info & 15;

    if (!(va & (size - 1)))
        mmu_atomic_fill(h, va, (info & 32) != 0);
    return jit_interp_insn(h, pc, next);
}

/* TLB miss, misaligned, MMIO or fault: the interpreter does it (and the
 * TLB is filled for next time: jit_atomic_slow). */
static void cold_atomic(JitCtx *c, JitCold *k)
{
    X86 *x = &c->x;
    const Insn *d = &k->d;
    bool w = d->op == OP_LR_W || d->op == OP_SC_W || d->op == OP_AMO_W;
    bool write = d->op != OP_LR_W && d->op != OP_LR_D;

    jg_spill_locals(c);
    mov_rr(x, RCX, RSI);
    mov_ri(x, RSI, k->pc);
    mov_ri(x, RDX, d->len | (k->pending << 8) | (((w ? 4u : 8u) | (write ? 32u : 0)) << 16));
    call_rel(x, c->j->t_atomic);
    jg_reload_locals(c);
    jmp_to(x, k->back);
}

void jm_amo(JitCtx *c)
{
    X86 *x = &c->x;
    const Insn *d = &c->scan[c->idx].d;
    bool w = d->op == OP_LR_W || d->op == OP_SC_W || d->op == OP_AMO_W;
    bool wq = !w;
    unsigned size = w ? 4 : 8;
    uint8_t *misal, *miss;
    JitCold *k;
    XMem m = xm(RSI, 0);

    jm_addr(c, d->rs1, 0);
    mov_rr(x, RCX, RSI);                    /* the guest address, for LR/SC */
    test_ri8(x, RSI, (uint8_t)(size - 1));
    misal = jcc_fwd(x, CC_NE);
    miss = jm_probe(c, size, d->op != OP_LR_W && d->op != OP_LR_D);

    switch (d->op) {
    case OP_LR_W: case OP_LR_D:
        /* Aligned x86 loads are atomic and ordered. */
        if (w)
            ld32(x, RAX, m);
        else
            ld64(x, RAX, m);
        st64(x, HM(lr_val), RAX);
        st64(x, HM(lr_addr), RCX);
        x_rm(x, 0, false, 0xc6, 0, HM(lr_valid));   /* mov byte [lr_valid], 1 */
        x8(x, 1);
        if (w)
            movsxd(x, RAX, RAX);
        jg_put(c, d->rd, RAX);
        break;
    case OP_SC_W: case OP_SC_D: {
        uint8_t *f1, *f2, *f3, *done;
        x_rm(x, 0, false, 0x80, 7, HM(lr_valid));   /* cmp byte [lr_valid], 0 */
        x8(x, 0);
        f1 = jcc8_fwd(x, CC_E);
        alu_rm(x, ALU_CMP, RCX, HM(lr_addr), true);
        f2 = jcc8_fwd(x, CC_NE);
        if (d->rs2 == 0)
            zero(x, RDX);
        else if (jg_host(c, d->rs2) >= 0)
            mov_rr(x, RDX, jg_host(c, d->rs2));
        else
            ld64(x, RDX, XM(d->rs2));
        ld64(x, RAX, HM(lr_val));
        lock_cmpxchg(x, m, RDX, wq);
        f3 = jcc8_fwd(x, CC_NE);
        zero(x, RAX);
        done = jmp8_fwd(x);
        x_here8(x, f1);
        x_here8(x, f2);
        x_here8(x, f3);
        mov_ri(x, RAX, 1);
        x_here8(x, done);
        x_rm(x, 0, false, 0xc6, 0, HM(lr_valid));   /* mov byte [lr_valid], 0 */
        x8(x, 0);
        jg_put(c, d->rd, RAX);
        break;
    }
    default: {
        int fn = (int)d->imm;
        if (d->rs2 == 0)
            zero(x, RDX);
        else if (jg_host(c, d->rs2) >= 0)
            mov_rr(x, RDX, jg_host(c, d->rs2));
        else
            ld64(x, RDX, XM(d->rs2));
        if (fn == AMO_SWAP) {
            mov_rr(x, RAX, RDX);
            xchg_mr(x, m, RAX, wq);         /* xchg with memory is always locked */
        } else if (fn == AMO_ADD) {
            mov_rr(x, RAX, RDX);
            lock_xadd(x, m, RAX, wq);
        } else {
            /* old = [m]; do new = f(old, v) while cmpxchg fails */
            uint8_t *loop;
            if (wq)
                ld64(x, RAX, m);
            else
                ld32(x, RAX, m);
            loop = x->p;
            mov_rr(x, RCX, RDX);
            switch (fn) {
            case AMO_XOR: alu_rr(x, ALU_XOR, RCX, RAX, wq); break;
            case AMO_AND: alu_rr(x, ALU_AND, RCX, RAX, wq); break;
            case AMO_OR: alu_rr(x, ALU_OR, RCX, RAX, wq); break;
            case AMO_MIN: alu_rr(x, ALU_CMP, RAX, RDX, wq); cmov(x, CC_L, RCX, RAX, wq); break;
            case AMO_MAX: alu_rr(x, ALU_CMP, RAX, RDX, wq); cmov(x, CC_G, RCX, RAX, wq); break;
            case AMO_MINU: alu_rr(x, ALU_CMP, RAX, RDX, wq); cmov(x, CC_B, RCX, RAX, wq); break;
            default: alu_rr(x, ALU_CMP, RAX, RDX, wq); cmov(x, CC_A, RCX, RAX, wq); break;
            }
            lock_cmpxchg(x, m, RCX, wq);
            jcc_to(x, CC_NE, x_rx(x, loop));
        }
        if (w)
            movsxd(x, RAX, RAX);
        jg_put(c, d->rd, RAX);
        break;
    }
    }
    k = jg_cold(c, cold_atomic, miss);
    jg_cold(c, cold_atomic, misal)->back = k->back;
}
