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

static void cold_load(JitCtx *c, JitCold *k)
{
    const Insn *d = &k->d;
    bool sign = d->op == OP_LB || d->op == OP_LH || d->op == OP_LW;

    jm_call_load_slow(c, k, size_of(d->op) | (sign ? 16u : 0));
    jg_put(c, d->rd, RAX);
    jmp_to(&c->x, k->back);
}

static void cold_store(JitCtx *c, JitCold *k)
{
    const Insn *d = &k->d;

    if (d->rs2 == 0)
        zero(&c->x, RDX);
    else if (jg_host(c, d->rs2) >= 0)
        mov_rr(&c->x, RDX, jg_host(c, d->rs2));
    else
        ld64(&c->x, RDX, XM(d->rs2));
    jm_call_store_slow(c, k, size_of(d->op));
    jmp_to(&c->x, k->back);
}

void jm_load(JitCtx *c)
{
    X86 *x = &c->x;
    const Insn *d = &c->scan[c->idx].d;
    unsigned size = size_of(d->op);
    uint8_t *miss;
    int dst;
    XMem m = xm(RSI, 0);

    jm_addr(c, d->rs1, d->imm);
    miss = jm_probe(c, size, false);
    dst = d->rd ? jg_dst(c, d->rd, RAX) : RAX;
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
    jg_cold(c, cold_load, miss);
}

void jm_store(JitCtx *c)
{
    X86 *x = &c->x;
    const Insn *d = &c->scan[c->idx].d;
    unsigned size = size_of(d->op);
    uint8_t *miss;
    int val;
    XMem m = xm(RSI, 0);

    jm_addr(c, d->rs1, d->imm);
    miss = jm_probe(c, size, true);
    val = jg_get(c, d->rs2, RCX);
    switch (size) {
    case 1: st8(x, m, val); break;
    case 2: st16(x, m, val); break;
    case 4: st32(x, m, val); break;
    default: st64(x, m, val); break;
    }
    jg_cold(c, cold_store, miss);
}

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
