/* The translator: one superblock of guest code into host code.
 *
 * A block is the straight line from its first instruction through
 * conditional branches, up to a jal/jalr, a system instruction, the end of
 * the guest page or JIT_MAX_INSNS. A first pass decodes it and marks the
 * instructions that branches inside the block target ("labels"); the
 * second emits code. A branch to a label jumps inside the block; any other
 * branch leaves it through an exit (jit.c chains or looks up the target).
 *
 * instret: r15 holds the hart's instret as of the last "sync point" (block
 * entry, a label, an interpreter call); `pending` counts the guest
 * instructions retired since on the current path. Every exit and every jump
 * to a label adds its pending count first, so r15 is exact wherever the
 * path goes, and labels always start with pending = 0. A trap adds the
 * instructions before the trapping one only (it does not retire).
 *
 * Termination: only backward jumps (to a lower or equal pc) and indirect
 * jumps can close a loop, and they compare r15 with h->jit_end, which is
 * the chunk's end or 0 when another thread kicks the hart. */
#include <stdlib.h>
#include <string.h>

#include "jit_internal.h"

/* The current instruction's 32-bit result needs no sign extension. */
#define NO_SEXT(c) ((c)->scan[(c)->idx].no_sext)

/* ---- the register map ---- */

/* Four guest registers live in callee-saved host registers for as long as
 * generated code runs, across blocks and helper calls: the four compiled
 * RISC-V code names most (GCC allocates a5, a4, ... first; sp and a0 are
 * everywhere). RAX (0) means "not mapped". */
static const int8_t global_host[32] = { [2] = RBP, [10] = R12, [15] = R13, [14] = R14 };

/* Five more, per block: the registers the block uses most (uses inside its
 * loops weigh more) sit in caller-saved host registers while it runs,
 * loaded at its entry, stored at its exits if it writes them. */
static const int8_t local_host[JIT_LOCALS] = { RDI, R8, R9, R10, R11 };

int jit_global_host(unsigned r)
{
    return global_host[r] ? global_host[r] : -1;
}

int jg_host(const JitCtx *c, unsigned r)
{
    return c->map[r] ? c->map[r] : -1;
}

void jg_spill_locals(JitCtx *c)
{
    for (unsigned i = 0; i < c->nlocal; i++)
        if (c->dirty & (1u << c->local[i]))
            st64(&c->x, XM(c->local[i]), local_host[i]);
}

void jg_reload_locals(JitCtx *c)
{
    for (unsigned i = 0; i < c->nlocal; i++)
        ld64(&c->x, local_host[i], XM(c->local[i]));
}

/* At the block's entry: not the ones it writes before anything can read
 * them or leave (see allocate). */
static void load_locals(JitCtx *c)
{
    for (unsigned i = 0; i < c->nlocal; i++)
        if (!(c->noload & (1u << c->local[i])))
            ld64(&c->x, local_host[i], XM(c->local[i]));
}

/* The x registers an instruction names, for the allocator's counts (an FP
 * register number counted as an x register only costs allocation quality;
 * the dirty set errs on the side of storing). */
static void count_uses(const Insn *d, unsigned w, unsigned *uses)
{
    uses[d->rd] += w;
    uses[d->rs1] += w;
    uses[d->rs2] += w;
}

/* Integer operations that neither branch, trap nor call C. */
static bool pure_alu(int op)
{
    switch (op) {
    case OP_LUI: case OP_AUIPC:
    case OP_ADDI: case OP_SLTI: case OP_SLTIU: case OP_XORI: case OP_ORI: case OP_ANDI:
    case OP_SLLI: case OP_SRLI: case OP_SRAI:
    case OP_ADD: case OP_SUB: case OP_SLL: case OP_SLT: case OP_SLTU: case OP_XOR:
    case OP_SRL: case OP_SRA: case OP_OR: case OP_AND:
    case OP_ADDIW: case OP_SLLIW: case OP_SRLIW: case OP_SRAIW:
    case OP_ADDW: case OP_SUBW: case OP_SLLW: case OP_SRLW: case OP_SRAW:
    case OP_MUL: case OP_MULH: case OP_MULHSU: case OP_MULHU: case OP_DIV: case OP_DIVU:
    case OP_REM: case OP_REMU: case OP_MULW: case OP_DIVW: case OP_DIVUW: case OP_REMW:
    case OP_REMUW:
        return true;
    }
    return false;
}

/* Which guest registers' upper 32 bits a later instruction may read:
 * RV64's 32-bit operations sign-extend their result, which costs a movsxd
 * after each; it is left out when nothing reads the upper half before the
 * register is written again. Backward over the block; conservative: every
 * exit, branch (taken paths) and instruction that may trap or call C sees
 * all registers, so they need all upper halves. Operations whose low half
 * depends on their sources' low halves only (add, sub, logic, left shifts,
 * mul, the 32-bit ones) need their sources' upper halves only if their own
 * result's is needed. */
static void upper_bits(JitCtx *c)
{
    uint32_t need = ~0u;

    for (int i = (int)c->n - 1; i >= 0; i--) {
        JitScan *s = &c->scan[i];
        const Insn *d = &s->d;
        uint32_t rd = 1u << d->rd, srcs = (1u << d->rs1) | (1u << d->rs2);
        bool w32 = false, low_only = false, known = true;

        s->no_sext = false;
        switch (d->op) {
        case OP_ADDW: case OP_SUBW: case OP_SLLW: case OP_SRLW: case OP_SRAW: case OP_MULW:
        case OP_DIVW: case OP_DIVUW: case OP_REMW: case OP_REMUW:
        case OP_ADDIW: case OP_SLLIW: case OP_SRLIW: case OP_SRAIW:
            w32 = true;
            break;
        case OP_ADD: case OP_SUB: case OP_AND: case OP_OR: case OP_XOR: case OP_MUL:
        case OP_ADDI: case OP_ANDI: case OP_ORI: case OP_XORI: case OP_SLLI:
            low_only = true;
            break;
        case OP_SLL:                /* the amount's upper bits never matter */
            low_only = true;
            srcs = 1u << d->rs1;
            break;
        case OP_LUI: case OP_AUIPC:
            srcs = 0;
            break;
        case OP_SRL: case OP_SRA: case OP_SRLI: case OP_SRAI: case OP_SLT: case OP_SLTU:
        case OP_SLTI: case OP_SLTIU: case OP_MULH: case OP_MULHU: case OP_MULHSU:
        case OP_DIV: case OP_DIVU: case OP_REM: case OP_REMU:
            break;
        default:
            known = false;          /* branches, jumps, memory, FP, CSR, system */
            break;
        }
        if (!known) {
            need = ~0u;
            continue;
        }
        if (w32) {
            s->no_sext = d->rd && !(need & rd);
            need &= ~rd;
            continue;                           /* reads its sources' low halves */
        }
        if (low_only && !(need & rd)) {
            need &= ~rd;
            continue;
        }
        need = (need & ~rd) | srcs;
    }
}

/* Choose the block's locals: after scan(). */
static void allocate(JitCtx *c)
{
    unsigned uses[32] = { 0 }, depth[JIT_MAX_INSNS] = { 0 };

    /* A backward branch to a label: everything from the label to it is a
     * loop; an instruction in d nested loops weighs 8^d. */
    for (unsigned i = 0; i < c->n; i++) {
        const Insn *d = &c->scan[i].d;
        uint64_t target;
        if (!(d->op >= OP_BEQ && d->op <= OP_BGEU) && !(d->op == OP_JAL && d->rd == 0))
            continue;
        target = c->scan[i].pc + (uint64_t)d->imm;
        for (unsigned t = 0; t <= i; t++)
            if (c->scan[t].pc == target)
                for (unsigned k = t; k <= i; k++)
                    depth[k]++;
    }
    memset(c->map, 0, sizeof(c->map));
    c->dirty = 0;
    for (unsigned i = 0; i < c->n; i++) {
        count_uses(&c->scan[i].d, 1u << (3 * (depth[i] < 5 ? depth[i] : 5)), uses);
        c->dirty |= 1u << c->scan[i].d.rd;
    }
    for (unsigned r = 1; r < 32; r++)
        c->map[r] = global_host[r];
    c->nlocal = 0;
    while (c->nlocal < JIT_LOCALS) {
        unsigned best = 0;
        for (unsigned r = 1; r < 32; r++)
            if (!c->map[r] && (!best || uses[r] > uses[best]))
                best = r;
        /* A local costs a load at entry and a store at each exit: it pays
         * from three uses (or any use in a loop, which weighs more). */
        if (!best || uses[best] < 3)
            break;
        c->map[best] = local_host[c->nlocal];
        c->local[c->nlocal++] = (uint8_t)best;
    }
    c->dirty &= ~1u;
    /* Locals whose first mention is a write, in the block's opening run
     * of instructions that neither branch, nor trap, nor call C: their
     * entry value can never be read or stored back, so it is not loaded. */
    {
        uint32_t seen = 1;
        c->noload = 0;
        for (unsigned i = 0; i < c->n; i++) {
            const Insn *d = &c->scan[i].d;
            if ((i > 0 && c->scan[i].label) || !pure_alu(d->op))
                break;
            seen |= (1u << d->rs1) | (1u << d->rs2);
            if (!(seen & (1u << d->rd)))
                c->noload |= 1u << d->rd;
            seen |= 1u << d->rd;
        }
    }
}

int jg_get(JitCtx *c, unsigned r, int scratch)
{
    if (r == 0) {
        zero(&c->x, scratch);
        return scratch;
    }
    if (c->map[r])
        return c->map[r];
    ld64(&c->x, scratch, XM(r));
    return scratch;
}

int jg_dst(const JitCtx *c, unsigned r, int scratch)
{
    return c->map[r] ? c->map[r] : scratch;
}

void jg_put(JitCtx *c, unsigned r, int hreg)
{
    if (r == 0)
        return;
    if (c->map[r])
        mov_rr(&c->x, c->map[r], hreg);
    else
        st64(&c->x, XM(r), hreg);
}

/* dst = x r (dst is any host register) */
static void load_into(JitCtx *c, int dst, unsigned r)
{
    if (r == 0)
        zero(&c->x, dst);
    else if (c->map[r])
        mov_rr(&c->x, dst, c->map[r]);
    else
        ld64(&c->x, dst, XM(r));
}

/* dst op= x r */
static void op_with(JitCtx *c, int op, int dst, unsigned r, bool w)
{
    if (r == 0)
        alu_ri(&c->x, op, dst, 0, w);
    else if (c->map[r])
        alu_rr(&c->x, op, dst, c->map[r], w);
    else
        alu_rm(&c->x, op, dst, XM(r), w);
}

/* cmp x a, x b (flags as for a - b) */
static void cmp_regs(JitCtx *c, unsigned a, unsigned b)
{
    if (b == 0 && a != 0) {
        if (c->map[a])
            test_rr(&c->x, c->map[a], c->map[a], true);
        else
            alu_mi(&c->x, ALU_CMP, XM(a), 0, true);
        return;
    }
    op_with(c, ALU_CMP, jg_get(c, a, RAX), b, true);
}

/* ---- instret and cold code ---- */

void jg_sync_instret(JitCtx *c)
{
    if (c->pending)
        lea(&c->x, R15, xm(R15, (int32_t)c->pending));
    c->pending = 0;
}

static void add_r15(JitCtx *c, unsigned n)
{
    if (n)
        lea(&c->x, R15, xm(R15, (int32_t)n));
}

JitCold *jg_cold(JitCtx *c, void (*emit)(JitCtx *, JitCold *), uint8_t *from)
{
    JitCold *k = &c->cold[c->ncold++];

    memset(k, 0, sizeof(*k));
    k->emit = emit;
    k->from = from;
    k->back = x_rx(&c->x, c->x.p);
    k->pc = c->pc;
    k->pending = c->pending;
    k->d = c->scan[c->idx].d;
    return k;
}

void jg_exit_trap(JitCtx *c, unsigned pending)
{
    add_r15(c, pending);
    jmp_to(&c->x, c->trap_tail);
}

/* Look the pc in rsi up in the jump cache and jump to its code; on a miss
 * leave to the dispatcher with pc = rsi. rax, rcx, rdx clobbered. Inlined
 * at every site so each indirect jmp has its own branch-predictor entry.
 * The entry counts only if its block was made for this block's TLB
 * contexts and the instruction TLB of the current context still maps pc's
 * page with the addend the entry was made under (see JcEntry): same
 * mapping, fetch allowed. */
static void jc_lookup(JitCtx *c)
{
    X86 *x = &c->x;
    int32_t xo = TLB_OFF(c->ictx) + (int32_t)offsetof(TlbSet, x);
    uint8_t *miss1, *miss2, *miss3, *miss4;

    mov_rr32(x, RAX, RSI);
    shift_ri(x, SH_SHL, RAX, 4, false);
    alu_ri(x, ALU_AND, RAX, (int32_t)((JC_SIZE - 1) << 5), false);
    alu_rm(x, ALU_ADD, RAX, HM(jcache), true);              /* rax = the entry */
    alu_rm(x, ALU_CMP, RSI, xm(RAX, 0), true);
    miss1 = jcc8_fwd(x, CC_NE);
    alu_mi(x, ALU_CMP, xm(RAX, 24), (int32_t)JIT_MODE(c->ictx, c->dctx), true);
    miss4 = jcc8_fwd(x, CC_NE);
    if (c->j->has_bmi2) {
        rorx32(x, RCX, RSI, 8);
    } else {
        mov_rr32(x, RCX, RSI);
        shift_ri(x, SH_SHR, RCX, 8, false);
    }
    alu_ri(x, ALU_AND, RCX, (TLB_SIZE - 1) << 4, false);  /* the itlb index * 16 */
    mov_rr(x, RDX, RSI);
    alu_ri(x, ALU_AND, RDX, -4096, true);
    alu_rm(x, ALU_CMP, RDX, xmi(RBX, RCX, 1, xo), true);
    miss2 = jcc8_fwd(x, CC_NE);
    ld64(x, RDX, xmi(RBX, RCX, 1, xo + 8));
    alu_rm(x, ALU_CMP, RDX, xm(RAX, 8), true);
    miss3 = jcc8_fwd(x, CC_NE);
    jmp_m(x, xm(RAX, 16));
    x_here8(x, miss1);
    x_here8(x, miss4);
    x_here8(x, miss2);
    x_here8(x, miss3);
    st64(x, HM(pc), RSI);
    jmp_to(x, c->j->exit_sync);
}

/* Leave with r15 += pending to a constant target outside the block. A
 * target in the block's page gets a chain site: a jmp that first leads to
 * the exit below and that the dispatcher re-points at the target's code
 * once it has it (both blocks come from one mapping of that page, see
 * jit.c). Another page goes through the jump cache. */
void jg_exit_const(JitCtx *c, uint64_t target, unsigned pending, bool backward)
{
    X86 *x = &c->x;
    uint8_t *budget = NULL, *site, *budget2 = NULL;

    jg_spill_locals(c);
    add_r15(c, pending);
    if (backward) {
        alu_rm(x, ALU_CMP, R15, HM(jit_end), true);
        budget = jcc_fwd(x, CC_AE);
    }
    if (((target ^ c->block_pc) & ~0xfffull) == 0) {
        site = jmp_fwd(x);
        x_here(x, site);
        if (budget)
            x_here(x, budget);
        call_rel(x, c->j->t_exit_chain);        /* must follow the site: it finds it at -9 */
        x64(x, target);
        return;
    }
    mov_ri(x, RSI, target);
    if (budget) {
        budget2 = jmp8_fwd(x);
        x_here(x, budget);
        mov_ri(x, RSI, target);
        st64(x, HM(pc), RSI);
        jmp_to(x, c->j->exit_sync);
        x_here8(x, budget2);
    }
    jc_lookup(c);
}

/* Leave with r15 += pending to the pc in rsi (an indirect jump). */
void jg_exit_reg(JitCtx *c, unsigned pending)
{
    X86 *x = &c->x;
    uint8_t *budget, *go;

    jg_spill_locals(c);
    add_r15(c, pending);
    alu_rm(x, ALU_CMP, R15, HM(jit_end), true);
    go = jcc8_fwd(x, CC_B);
    st64(x, HM(pc), RSI);
    budget = jmp_fwd(x);
    x_patch_rel32(x, budget, c->j->exit_sync);
    x_here8(x, go);
    jc_lookup(c);
}

/* Out of budget at a backward jump: leave with pc = the target, never
 * through a chain site (a patched one would skip the check for good). */
static void cold_leave(JitCtx *c, JitCold *k)
{
    jg_spill_locals(c);
    call_rel(&c->x, c->j->t_exit_leave);
    x64(&c->x, k->target);
}

static void cold_exit(JitCtx *c, JitCold *k)
{
    jg_exit_const(c, k->target, k->pending, k->target <= k->pc);
}

/* A taken branch forward to a label: bring r15 up to date and jump to the
 * label's code (cold code is emitted after all the hot code), or leave if
 * the block stopped before the label. */
static void cold_fwd(JitCtx *c, JitCold *k)
{
    add_r15(c, k->pending);
    if (c->at[k->arg])
        jmp_to(&c->x, c->at[k->arg]);
    else
        jg_exit_const(c, k->target, 0, false);
}

/* ---- integer instructions ---- */

/* rd = rs1 op rs2 (op a classic ALU opcode; w32: 32-bit, sign-extended) */
static void alu3(JitCtx *c, const Insn *d, int op, bool w32, bool commutative)
{
    unsigned rs1 = d->rs1, rs2 = d->rs2;
    int dst;

    if (!d->rd)
        return;
    if (rs1 == 0 && (op == ALU_ADD || op == ALU_OR || op == ALU_XOR) && !w32) {
        /* mv (add rd, x0, rs): a copy */
        dst = jg_dst(c, d->rd, RAX);
        load_into(c, dst, rs2);
        jg_put(c, d->rd, dst);
        return;
    }
    dst = jg_dst(c, d->rd, RAX);
    if (rs2 != rs1 && c->map[rs2] && c->map[rs2] == dst) {
        if (commutative) {
            rs2 = rs1;
            rs1 = d->rd;
        } else {
            dst = RAX;
        }
    }
    load_into(c, dst, rs1);
    op_with(c, op, dst, rs2, !w32);
    if (w32 && !NO_SEXT(c))
        movsxd(&c->x, dst, dst);
    jg_put(c, d->rd, dst);
}

/* rd = rs1 op imm */
static void alu_imm(JitCtx *c, const Insn *d, int op)
{
    int dst;

    if (!d->rd)
        return;
    dst = jg_dst(c, d->rd, RAX);
    if (d->rs1 == 0) {
        uint64_t v = op == ALU_AND ? 0 : (uint64_t)d->imm;
        if (!c->map[d->rd]) {
            st64_i(&c->x, XM(d->rd), (int32_t)v);      /* li into memory */
            return;
        }
        mov_ri(&c->x, dst, v);
    } else if (op == ALU_ADD && c->map[d->rs1] && dst != c->map[d->rs1]) {
        lea(&c->x, dst, xm(c->map[d->rs1], (int32_t)d->imm));      /* mov + add in one */
    } else {
        load_into(c, dst, d->rs1);
        if (d->imm || op == ALU_AND)
            alu_ri(&c->x, op, dst, (int32_t)d->imm, true);
    }
    jg_put(c, d->rd, dst);
}

static void shift_imm(JitCtx *c, const Insn *d, int sh, bool w32)
{
    int dst;

    if (!d->rd)
        return;
    dst = jg_dst(c, d->rd, RAX);
    load_into(c, dst, d->rs1);
    if (d->imm)
        shift_ri(&c->x, sh, dst, (unsigned)d->imm, !w32);
    else if (w32 && NO_SEXT(c))
        mov_rr32(&c->x, dst, dst);          /* still a 32-bit result */
    if (w32 && !NO_SEXT(c))
        movsxd(&c->x, dst, dst);
    jg_put(c, d->rd, dst);
}

static void shift_reg(JitCtx *c, const Insn *d, int sh, bool w32)
{
    int dst;

    if (!d->rd)
        return;
    load_into(c, RCX, d->rs2);              /* first: rd may be rs2 */
    dst = jg_dst(c, d->rd, RAX);
    load_into(c, dst, d->rs1);
    shift_cl(&c->x, sh, dst, !w32);         /* x86 masks the count like RISC-V */
    if (w32 && !NO_SEXT(c))
        movsxd(&c->x, dst, dst);
    jg_put(c, d->rd, dst);
}

/* rd = (rs1 <cc> rs2-or-imm) ? 1 : 0 */
static void set_less(JitCtx *c, const Insn *d, int cc, bool imm)
{
    int dst;

    if (!d->rd)
        return;
    if (imm)
        alu_ri(&c->x, ALU_CMP, jg_get(c, d->rs1, RAX), (int32_t)d->imm, true);
    else
        cmp_regs(c, d->rs1, d->rs2);
    setcc(&c->x, cc, RAX);
    dst = jg_dst(c, d->rd, RAX);
    movzx8(&c->x, dst, RAX);
    jg_put(c, d->rd, dst);
}

static void addiw(JitCtx *c, const Insn *d)
{
    int dst;

    if (!d->rd)
        return;
    dst = jg_dst(c, d->rd, RAX);
    if (d->rs1 && c->map[d->rs1] && !d->imm && !NO_SEXT(c)) {
        movsxd(&c->x, dst, c->map[d->rs1]);     /* sext.w */
        jg_put(c, d->rd, dst);
        return;
    }
    if (d->rs1 && c->map[d->rs1]) {
        x_rm(&c->x, 0, false, 0x8d, dst, xm(c->map[d->rs1], (int32_t)d->imm));  /* lea r32 */
    } else {
        load_into(c, dst, d->rs1);
        alu_ri(&c->x, ALU_ADD, dst, (int32_t)d->imm, false);
    }
    if (!NO_SEXT(c))
        movsxd(&c->x, dst, dst);
    jg_put(c, d->rd, dst);
}

/* mulh, mulhu, mulhsu: the high half from rdx */
static void mul_high(JitCtx *c, const Insn *d)
{
    X86 *x = &c->x;

    if (!d->rd)
        return;
    load_into(c, RCX, d->rs2);
    load_into(c, RAX, d->rs1);
    if (d->op == OP_MULH) {
        grp3(x, 5, RCX, true);              /* imul rcx: rdx:rax = rax * rcx signed */
    } else {
        if (d->op == OP_MULHSU)
            mov_rr(x, RSI, RAX);
        grp3(x, 4, RCX, true);              /* mul rcx */
        if (d->op == OP_MULHSU) {
            /* signed a * unsigned b = unsigned product - (a < 0 ? b << 64 : 0) */
            shift_ri(x, SH_SAR, RSI, 63, true);
            alu_rr(x, ALU_AND, RSI, RCX, true);
            alu_rr(x, ALU_SUB, RDX, RSI, true);
        }
    }
    jg_put(c, d->rd, RDX);
}

/* Division with RISC-V's results where x86 would fault: x / 0 = -1 (all
 * ones), x % 0 = x, MIN / -1 = MIN, MIN % -1 = 0. */
static void divide(JitCtx *c, const Insn *d)
{
    X86 *x = &c->x;
    int op = d->op;
    bool w = op == OP_DIV || op == OP_DIVU || op == OP_REM || op == OP_REMU;
    bool sign = op == OP_DIV || op == OP_REM || op == OP_DIVW || op == OP_REMW;
    bool rem = op == OP_REM || op == OP_REMU || op == OP_REMW || op == OP_REMUW;
    uint8_t *jz, *jm1 = NULL, *done1, *done2 = NULL;

    if (!d->rd)
        return;
    load_into(c, RCX, d->rs2);
    load_into(c, RAX, d->rs1);
    test_rr(x, RCX, RCX, w);
    jz = jcc8_fwd(x, CC_E);
    if (sign) {
        alu_ri(x, ALU_CMP, RCX, -1, w);
        jm1 = jcc8_fwd(x, CC_E);
        if (w)
            cqo(x);
        else
            cdq(x);
        grp3(x, 7, RCX, w);                 /* idiv */
    } else {
        zero(x, RDX);
        grp3(x, 6, RCX, w);                 /* div */
    }
    done1 = jmp8_fwd(x);
    x_here8(x, jz);                         /* by zero */
    if (rem)
        mov_rr(x, RDX, RAX);
    else
        mov_ri(x, RAX, ~0ull);
    if (sign) {
        done2 = jmp8_fwd(x);
        x_here8(x, jm1);                    /* by -1: -x wraps like RISC-V wants */
        if (rem)
            zero(x, RDX);
        else
            grp3(x, 3, RAX, w);             /* neg */
    }
    x_here8(x, done1);
    if (done2)
        x_here8(x, done2);
    {
        int res = rem ? RDX : RAX;
        if (!w && !NO_SEXT(c))
            movsxd(x, res, res);
        jg_put(c, d->rd, res);
    }
}

/* ---- branches ---- */

static int label_of(JitCtx *c, uint64_t target)
{
    for (unsigned i = 0; i < c->n; i++)
        if (c->scan[i].pc == target)
            return c->scan[i].label ? (int)i : -1;
    return -1;
}

static bool emit_insn(JitCtx *c);

/* Cheap integer operations that use no scratch register but rax and rcx. */
static bool cheap_alu(int op)
{
    switch (op) {
    case OP_LUI:
    case OP_ADDI: case OP_SLTI: case OP_SLTIU: case OP_XORI: case OP_ORI: case OP_ANDI:
    case OP_SLLI: case OP_SRLI: case OP_SRAI:
    case OP_ADD: case OP_SUB: case OP_SLL: case OP_SLT: case OP_SLTU: case OP_XOR:
    case OP_SRL: case OP_SRA: case OP_OR: case OP_AND:
    case OP_ADDIW: case OP_SLLIW: case OP_SRLIW: case OP_SRAIW:
    case OP_ADDW: case OP_SUBW: case OP_SLLW: case OP_SRLW: case OP_SRAW:
        return true;
    }
    return false;
}

/* If-conversion: a forward branch over one or two cheap instructions that
 * all write the same register (what GCC makes of a ?: without Zicond)
 * becomes straight-line code: the skipped instructions compute into rsi,
 * then cmov commits their result, and instret, when the branch is not
 * taken. A data-dependent branch then costs no misprediction. */
static bool if_convert(JitCtx *c, const Insn *d, int cc)
{
    X86 *x = &c->x;
    uint64_t target = c->pc + (uint64_t)d->imm;
    unsigned i = c->idx, t, rd, saved_pending = c->pending;
    int8_t saved_map;

    for (t = i + 1; t < c->n && t <= i + 3 && c->scan[t].pc != target; t++)
        ;
    if (t >= c->n || c->scan[t].pc != target || t == i + 1)
        return false;
    rd = c->scan[i + 1].d.rd;
    if (!rd)
        return false;
    for (unsigned j = i + 1; j < t; j++)
        if (c->scan[j].label || !cheap_alu(c->scan[j].d.op) || c->scan[j].d.rd != rd)
            return false;
    load_into(c, RSI, rd);
    saved_map = c->map[rd];
    c->map[rd] = RSI;
    for (unsigned j = i + 1; j < t; j++) {
        c->idx = j;
        c->pc = c->scan[j].pc;
        emit_insn(c);
    }
    c->idx = i;
    c->pc = c->scan[i].pc;
    c->map[rd] = saved_map;
    c->pending = saved_pending;
    cmp_regs(c, d->rs1, d->rs2);            /* taken: skip, keep rd */
    if (c->map[rd]) {
        cmov(x, cc ^ 1, c->map[rd], RSI, true);
    } else {
        ld64(x, RAX, XM(rd));
        cmov(x, cc ^ 1, RAX, RSI, true);
        st64(x, XM(rd), RAX);
    }
    lea(x, RCX, xm(R15, (int32_t)(t - i - 1)));
    cmov(x, cc ^ 1, R15, RCX, true);
    c->pending++;
    c->idx = t - 1;                         /* the caller goes on at t */
    return true;
}

static void branch(JitCtx *c, const Insn *d)
{
    static const int cc_of[] = { [OP_BEQ] = CC_E, [OP_BNE] = CC_NE, [OP_BLT] = CC_L,
                                 [OP_BGE] = CC_GE, [OP_BLTU] = CC_B, [OP_BGEU] = CC_AE };
    X86 *x = &c->x;
    uint64_t target = c->pc + (uint64_t)d->imm;
    int cc = cc_of[d->op], t = label_of(c, target);
    unsigned n = c->pending + 1;

    if (t >= 0 && !c->at[t] && if_convert(c, d, cc))
        return;
    cmp_regs(c, d->rs1, d->rs2);
    if (t >= 0 && c->at[t]) {
        /* Backward inside the block: the loop stays here, checking the budget. */
        uint8_t *skip = jcc_fwd(x, cc ^ 1), *out;
        add_r15(c, n);
        alu_rm(x, ALU_CMP, R15, HM(jit_end), true);
        out = jcc_fwd(x, CC_AE);
        jmp_to(x, c->at[t]);
        jg_cold(c, cold_leave, out)->target = target;
        x_here(x, skip);
    } else if (t >= 0) {
        JitCold *k = jg_cold(c, cold_fwd, jcc_fwd(x, cc));
        k->pending = n;
        k->arg = t;
        k->target = target;
    } else if (target <= c->pc) {
        /* Backward out of the block (a loop head elsewhere): likely taken,
         * so the exit is inline and the fall-through jumps over it. */
        uint8_t *skip = jcc_fwd(x, cc ^ 1);
        jg_exit_const(c, target, n, true);
        x_here(x, skip);
    } else {
        JitCold *k = jg_cold(c, cold_exit, jcc_fwd(x, cc));
        k->target = target;
        k->pending = n;
    }
    c->pending = n;
}

/* jal: the link, then a jump inside the block or an exit */
static void jal(JitCtx *c, const Insn *d)
{
    uint64_t target = c->pc + (uint64_t)d->imm;
    int t = label_of(c, target);

    if (d->rd) {
        int dst = jg_dst(c, d->rd, RAX);
        mov_ri(&c->x, dst, c->pc + d->len);
        jg_put(c, d->rd, dst);
    }
    if (t >= 0 && c->at[t]) {
        uint8_t *out;
        add_r15(c, c->pending + 1);
        alu_rm(&c->x, ALU_CMP, R15, HM(jit_end), true);
        out = jcc_fwd(&c->x, CC_AE);
        jmp_to(&c->x, c->at[t]);
        jg_cold(c, cold_leave, out)->target = target;
        return;
    }
    jg_exit_const(c, target, c->pending + 1, target <= c->pc);
}

static void jalr(JitCtx *c, const Insn *d)
{
    X86 *x = &c->x;

    /* The target first: rd may be rs1. */
    if (d->rs1 && c->map[d->rs1])
        lea(x, RSI, xm(c->map[d->rs1], (int32_t)d->imm));
    else {
        load_into(c, RSI, d->rs1);
        if (d->imm)
            alu_ri(x, ALU_ADD, RSI, (int32_t)d->imm, true);
    }
    alu_ri(x, ALU_AND, RSI, -2, true);
    if (d->rd) {
        int dst = jg_dst(c, d->rd, RAX);
        mov_ri(x, dst, c->pc + d->len);
        jg_put(c, d->rd, dst);
    }
    jg_exit_reg(c, c->pending + 1);
}

/* ---- the block ---- */

static bool is_system(int op)
{
    switch (op) {
    case OP_CSRRW: case OP_CSRRS: case OP_CSRRC: case OP_CSRRWI: case OP_CSRRSI: case OP_CSRRCI:
    case OP_MRET: case OP_SRET: case OP_WFI: case OP_SFENCE_VMA: case OP_FENCE_I:
    case OP_ECALL: case OP_EBREAK: case OP_ILLEGAL:
        return true;
    }
    return false;
}

/* A CSR instruction that only reads (csrrs/csrrc with rs1 = x0) */
static bool is_csr_read(const Insn *d)
{
    return (d->op == OP_CSRRS || d->op == OP_CSRRC) && d->rs1 == 0;
}

static uint32_t code16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

/* Pass 1: decode the block and mark internal branch targets. `code`
 * holds the `avail` guest bytes from block_pc on (to the page's end at
 * most). */
static void scan(JitCtx *c, const uint8_t *code, unsigned avail)
{
    uint64_t pc = c->block_pc;

    c->n = 0;
    while (c->n < JIT_MAX_INSNS) {
        unsigned off = (unsigned)(pc - c->block_pc);
        uint32_t raw;
        JitScan *s;

        if (off + 2 > avail)
            break;
        raw = code16(code + off);
        if ((raw & 3) == 3) {
            if (off + 4 > avail)
                break;                      /* crosses the page: not ours */
            raw |= code16(code + off + 2) << 16;
        }
        s = &c->scan[c->n++];
        s->pc = pc;
        s->raw = raw;
        s->label = false;
        insn_decode(raw, &s->d);
        pc += s->d.len;
        if (s->d.op == OP_JAL || s->d.op == OP_JALR ||
            (is_system(s->d.op) && !is_csr_read(&s->d)) || (pc & 0xfff) == 0)
            break;
    }
    for (unsigned i = 0; i < c->n; i++) {
        const Insn *d = &c->scan[i].d;
        uint64_t target;
        if (!(d->op >= OP_BEQ && d->op <= OP_BGEU) && !(d->op == OP_JAL && d->rd == 0))
            continue;
        target = c->scan[i].pc + (uint64_t)d->imm;
        for (unsigned t = 0; t < c->n; t++)
            if (c->scan[t].pc == target)
                c->scan[t].label = true;
    }
}

/* Emit one instruction; false if it ended the block. */
static bool emit_insn(JitCtx *c)
{
    const Insn *d = &c->scan[c->idx].d;
    X86 *x = &c->x;

    switch (d->op) {
    case OP_LUI:
        if (d->rd) {
            int dst = jg_dst(c, d->rd, RAX);
            mov_ri(x, dst, (uint64_t)d->imm);
            jg_put(c, d->rd, dst);
        }
        break;
    case OP_AUIPC:
        if (d->rd) {
            int dst = jg_dst(c, d->rd, RAX);
            mov_ri(x, dst, c->pc + (uint64_t)d->imm);
            jg_put(c, d->rd, dst);
        }
        break;
    case OP_ADDI: alu_imm(c, d, ALU_ADD); break;
    case OP_XORI: alu_imm(c, d, ALU_XOR); break;
    case OP_ORI: alu_imm(c, d, ALU_OR); break;
    case OP_ANDI: alu_imm(c, d, ALU_AND); break;
    case OP_SLTI: set_less(c, d, CC_L, true); break;
    case OP_SLTIU: set_less(c, d, CC_B, true); break;
    case OP_SLLI: shift_imm(c, d, SH_SHL, false); break;
    case OP_SRLI: shift_imm(c, d, SH_SHR, false); break;
    case OP_SRAI: shift_imm(c, d, SH_SAR, false); break;
    case OP_ADD: alu3(c, d, ALU_ADD, false, true); break;
    case OP_SUB: alu3(c, d, ALU_SUB, false, false); break;
    case OP_XOR: alu3(c, d, ALU_XOR, false, true); break;
    case OP_OR: alu3(c, d, ALU_OR, false, true); break;
    case OP_AND: alu3(c, d, ALU_AND, false, true); break;
    case OP_SLL: shift_reg(c, d, SH_SHL, false); break;
    case OP_SRL: shift_reg(c, d, SH_SHR, false); break;
    case OP_SRA: shift_reg(c, d, SH_SAR, false); break;
    case OP_SLT: set_less(c, d, CC_L, false); break;
    case OP_SLTU: set_less(c, d, CC_B, false); break;
    case OP_ADDIW: addiw(c, d); break;
    case OP_SLLIW: shift_imm(c, d, SH_SHL, true); break;
    case OP_SRLIW: shift_imm(c, d, SH_SHR, true); break;
    case OP_SRAIW: shift_imm(c, d, SH_SAR, true); break;
    case OP_ADDW: alu3(c, d, ALU_ADD, true, true); break;
    case OP_SUBW: alu3(c, d, ALU_SUB, true, false); break;
    case OP_SLLW: shift_reg(c, d, SH_SHL, true); break;
    case OP_SRLW: shift_reg(c, d, SH_SHR, true); break;
    case OP_SRAW: shift_reg(c, d, SH_SAR, true); break;
    case OP_MUL: case OP_MULW:
        if (d->rd) {
            bool w32 = d->op == OP_MULW;
            int dst = jg_dst(c, d->rd, RAX);
            unsigned a = d->rs1, b = d->rs2;
            if (c->map[b] && c->map[b] == dst && a != b) {
                a = d->rs2;
                b = d->rs1;
            }
            load_into(c, dst, a);
            if (b == 0)
                zero(x, dst);
            else if (c->map[b])
                imul_rr(x, dst, c->map[b], !w32);
            else
                imul_rm(x, dst, XM(b), !w32);
            if (w32 && !NO_SEXT(c))
                movsxd(x, dst, dst);
            jg_put(c, d->rd, dst);
        }
        break;
    case OP_MULH: case OP_MULHU: case OP_MULHSU: mul_high(c, d); break;
    case OP_DIV: case OP_DIVU: case OP_REM: case OP_REMU:
    case OP_DIVW: case OP_DIVUW: case OP_REMW: case OP_REMUW:
        divide(c, d);
        break;
    case OP_FENCE:
        mfence(x);
        break;
    case OP_LB: case OP_LH: case OP_LW: case OP_LD: case OP_LBU: case OP_LHU: case OP_LWU:
        jm_load(c);
        break;
    case OP_SB: case OP_SH: case OP_SW: case OP_SD:
        jm_store(c);
        break;
    case OP_LR_W: case OP_LR_D: case OP_SC_W: case OP_SC_D: case OP_AMO_W: case OP_AMO_D:
        jm_amo(c);
        break;
    case OP_BEQ: case OP_BNE: case OP_BLT: case OP_BGE: case OP_BLTU: case OP_BGEU:
        branch(c, d);
        return true;        /* pending already counts it */
    case OP_JAL:
        jal(c, d);
        return false;
    case OP_JALR:
        jalr(c, d);
        return false;
    default:
        if (is_csr_read(d) && js_csr(c))
            break;
        if (jf_translate(c)) {
            c->pending++;
            return true;
        }
        js_interp(c, is_system(d->op));
        if (is_system(d->op))
            return false;
        break;
    }
    c->pending++;
    return true;
}

/* Code jumps here from elsewhere in the block: r15 is exact, and what
 * the straight line before established (mstatus.FS tested and dirty) may
 * not hold on the other paths. */
static void bind_label(JitCtx *c, unsigned i)
{
    jg_sync_instret(c);
    c->at[i] = x_rx(&c->x, c->x.p);
    c->fs_checked = c->fs_dirtied = false;
}

/* Room one instruction's code can take at most: hot, and per cold entry. */
#define INSN_HOT_MAX  512
#define INSN_COLD_MAX 320

const uint8_t *jit_translate(Jit *j, JitCtx *c, uint64_t pc, unsigned mode,
                             const uint8_t *code, unsigned avail, uint8_t *at, uint8_t **end,
                             uint32_t *glen)
{
    const uint8_t *entry;
    bool go = true;

    c->j = j;
    c->ictx = mode / TLB_CTX;
    c->dctx = mode % TLB_CTX;
    c->block_pc = pc;
    c->x.p = at;
    c->x.end = at + JIT_BLOCK_MAX;
    c->x.rx_delta = j->cm.x - j->cm.w;
    c->pending = 0;
    c->ncold = 0;
    c->fs_checked = c->fs_dirtied = false;
    scan(c, code, avail);
    if (c->n == 0)
        return NULL;
    allocate(c);
    upper_bits(c);
    jm_plan(c);
    memset(c->at, 0, sizeof(c->at[0]) * c->n);
    entry = x_rx(&c->x, c->x.p);
    load_locals(c);
    for (c->idx = 0; c->idx < c->n && go; c->idx++) {
        c->pc = c->scan[c->idx].pc;
        if (c->x.p + INSN_HOT_MAX + (c->ncold + 2) * INSN_COLD_MAX > c->x.end ||
            c->ncold + 2 > c->maxcold)
            break;                          /* out of room: end the block here */
        if (c->scan[c->idx].label)
            bind_label(c, c->idx);
        go = emit_insn(c);
        j->stats.insns++;
    }
    {
        /* the guest bytes of what was emitted (c->idx instructions) */
        const JitScan *last = &c->scan[c->idx - 1];
        *glen = (uint32_t)(last->pc + last->d.len - pc);
    }
    if (go) {
        /* Fell off the end (page end, size limits): continue at the next pc. */
        uint64_t next = c->idx < c->n ? c->scan[c->idx].pc
                                      : c->scan[c->n - 1].pc + c->scan[c->n - 1].d.len;
        jg_exit_const(c, next, c->pending, false);
    }
    /* Cold code: slow paths and rarely taken exits, out of the hot path.
     * First the block's way out after a trap in a helper (r15 already
     * counts what retired): its registers back, leave. */
    j->stats.hot_bytes += (uint64_t)(x_rx(&c->x, c->x.p) - entry);
    c->trap_tail = x_rx(&c->x, c->x.p);
    jg_spill_locals(c);
    jmp_to(&c->x, c->j->exit_sync);
    for (unsigned k = 0; k < c->ncold; k++) {
        JitCold *cold = &c->cold[k];
        c->pc = cold->pc;
        x_here(&c->x, cold->from);
        cold->emit(c, cold);
    }
    if (c->x.p > c->x.end)
        abort();                            /* INSN_*_MAX are wrong: memory is corrupt */
    *end = c->x.p;
    j->stats.blocks++;
    return entry;
}
