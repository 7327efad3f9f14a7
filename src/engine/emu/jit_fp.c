/* F and D in generated code, with SSE2 (and FMA3 when the host has it).
 *
 * Exactness: for operands that are not NaN, SSE arithmetic under MXCSR's
 * default control (round to nearest even, all exceptions masked, no
 * flush-to-zero) gives IEEE-754 results and flags, and x86 detects
 * tininess after rounding as RISC-V does. The host's exception flags
 * accumulate in MXCSR and become fflags when generated code is left or
 * calls C that may look (jit_fold_fflags). Everything SSE does differently
 * goes out of line to the interpreter (exec_fp, soft-float), which
 * computes the result and flags from the unchanged operands:
 *   - a NaN result (x86 propagates payloads; RISC-V wants the canonical
 *     NaN). The flags SSE raised on the way are a subset of RISC-V's
 *     (invalid for signaling operands or invalid operations), so the
 *     union with the interpreter's is exact;
 *   - a rounding mode other than RNE (static, or dynamic with frm != 0);
 *   - single-precision operands that are not NaN-boxed;
 *   - conversions to integers that SSE reports as out of range (the
 *     "integer indefinite" value) or that are unsigned out of its reach;
 *   - min/max of equal values (signed zeros) or NaNs.
 * mstatus.FS is tested once per straight-line region (FP instructions
 * trap when it is off) and set to dirty once per region on the first
 * write to an f register; flags alone dirty it when they are folded,
 * exactly when the interpreter would. */
#include "fpu.h"
#include "jit_internal.h"

#define PEND_MAX 6

typedef struct FpOp {
    JitCtx *c;
    JitCold *pend[PEND_MAX];   /* cold paths that come back after the instruction */
    unsigned npend;
    bool restore_mxcsr;        /* from here on, slow paths restore MXCSR from [rsp] */
} FpOp;

/* A jump (rel32) to the interpreter for this instruction. */
static void to_interp(FpOp *o, uint8_t *rel32)
{
    JitCold *k = jg_cold(o->c, js_cold_interp, rel32);
    k->arg = o->restore_mxcsr;
    o->pend[o->npend++] = k;
}

static void finish(FpOp *o)
{
    const uint8_t *here = x_rx(&o->c->x, o->c->x.p);
    for (unsigned i = 0; i < o->npend; i++)
        o->pend[i]->back = here;
}

static void fs_check(FpOp *o)
{
    JitCtx *c = o->c;

    if (c->fs_checked)
        return;
    /* mstatus.FS is bits 13-14: bits 5-6 of its second byte */
    test_mi8(&c->x, xm(RBX, HOFF(mstatus) + 1), (uint8_t)(MSTATUS_FS >> 8));
    to_interp(o, jcc_fwd(&c->x, CC_E));
    c->fs_checked = true;
}

static void fs_dirty(JitCtx *c)
{
    if (c->fs_dirtied)
        return;
    /* FS = dirty (3) and SD, as the interpreter's fp_dirty */
    x_rm(&c->x, 0, false, 0x80, 1, xm(RBX, HOFF(mstatus) + 1));   /* or byte, imm8 */
    x8(&c->x, (uint8_t)(MSTATUS_FS >> 8));
    x_rm(&c->x, 0, false, 0x80, 1, xm(RBX, HOFF(mstatus) + 7));
    x8(&c->x, 0x80);
    c->fs_dirtied = true;
}

/* Rounding: the fast path needs RNE. A static mode was checked by
 * jf_translate; the dynamic one is tested at run time. */
static void rm_rne(FpOp *o, unsigned rm)
{
    if (rm == 7) {
        alu_mi(&o->c->x, ALU_CMP, HM(frm), 0, false);
        to_interp(o, jcc_fwd(&o->c->x, CC_NE));
    }
}

/* For results that are exact whatever the mode: only reserved modes trap. */
static void rm_valid(FpOp *o, unsigned rm)
{
    if (rm == 7) {
        alu_mi(&o->c->x, ALU_CMP, HM(frm), 4, false);
        to_interp(o, jcc_fwd(&o->c->x, CC_A));
    }
}

/* Single-precision operand r must be NaN-boxed (else: the interpreter). */
static void boxed(FpOp *o, unsigned r)
{
    alu_mi(&o->c->x, ALU_CMP, xm(RBX, OFF_F(r) + 4), -1, false);
    to_interp(o, jcc_fwd(&o->c->x, CC_NE));
}

/* xmm0 is the result: a NaN goes to the interpreter (canonical NaN). */
static void not_nan(FpOp *o, bool dbl)
{
    ucomi(&o->c->x, dbl, 0, 0);
    to_interp(o, jcc_fwd(&o->c->x, CC_P));
}

static void store_f(JitCtx *c, unsigned rd, bool dbl, int xr)
{
    if (dbl) {
        movsd_store(&c->x, FM(rd), xr);
    } else {
        movss_store(&c->x, FM(rd), xr);
        alu_mi(&c->x, ALU_OR, xm(RBX, OFF_F(rd) + 4), -1, false);  /* NaN-box */
    }
    fs_dirty(c);
}

static void load_f(JitCtx *c, int xr, unsigned r, bool dbl)
{
    if (dbl)
        movsd_load(&c->x, xr, FM(r));
    else
        movss_load(&c->x, xr, FM(r));
}

/* ---- arithmetic ---- */

static void arith(FpOp *o, const Insn *d, unsigned op, bool dbl, bool unary)
{
    JitCtx *c = o->c;

    fs_check(o);
    rm_rne(o, d->rm);
    if (!dbl) {
        boxed(o, d->rs1);
        if (!unary)
            boxed(o, d->rs2);
    }
    if (unary) {
        sse_rm(&c->x, dbl ? PFX_SD : PFX_SS, op, 0, FM(d->rs1));
    } else {
        load_f(c, 0, d->rs1, dbl);
        sse_rm(&c->x, dbl ? PFX_SD : PFX_SS, op, 0, FM(d->rs2));
    }
    not_nan(o, dbl);
    store_f(c, d->rd, dbl, 0);
}

static void fused(FpOp *o, const Insn *d, bool dbl, int which)
{
    static const unsigned opc[] = { FMA231_MADD, FMA231_MSUB, FMA231_NMADD, FMA231_NMSUB };
    JitCtx *c = o->c;

    fs_check(o);
    rm_rne(o, d->rm);
    if (!dbl) {
        boxed(o, d->rs1);
        boxed(o, d->rs2);
        boxed(o, d->rs3);
    }
    load_f(c, 0, d->rs3, dbl);
    load_f(c, 1, d->rs1, dbl);
    load_f(c, 2, d->rs2, dbl);
    /* fmadd a*b+c, fmsub a*b-c, fnmsub -(a*b)+c, fnmadd -(a*b)-c */
    vfma231(&c->x, opc[which == FPU_FMADD ? 0 : which == FPU_FMSUB ? 1 :
                       which == FPU_FNMSUB ? 2 : 3], dbl, 0, 1, 2);
    not_nan(o, dbl);
    store_f(c, d->rd, dbl, 0);
}

/* fmin/fmax: ordered and unequal operands only; the rest (NaNs, equal
 * values incl. +0/-0) in the interpreter. */
static void minmax(FpOp *o, const Insn *d, bool dbl, bool max)
{
    JitCtx *c = o->c;

    fs_check(o);
    if (!dbl) {
        boxed(o, d->rs1);
        boxed(o, d->rs2);
    }
    load_f(c, 0, d->rs1, dbl);
    load_f(c, 1, d->rs2, dbl);
    ucomi(&c->x, dbl, 0, 1);
    to_interp(o, jcc_fwd(&c->x, CC_P));
    to_interp(o, jcc_fwd(&c->x, CC_E));
    sse_rr(&c->x, dbl ? PFX_SD : PFX_SS, max ? SSE_MAX : SSE_MIN, 0, 1);
    store_f(c, d->rd, dbl, 0);
}

/* feq (quiet), flt and fle (signaling): comisd raises invalid for any NaN,
 * ucomisd for signaling ones only, exactly RISC-V's rule. */
static void compare(FpOp *o, const Insn *d, bool dbl)
{
    JitCtx *c = o->c;
    X86 *x = &c->x;
    int dst;
    bool eq = d->op == OP_FEQ_S || d->op == OP_FEQ_D;
    bool lt = d->op == OP_FLT_S || d->op == OP_FLT_D;

    fs_check(o);
    if (!dbl) {
        boxed(o, d->rs1);
        boxed(o, d->rs2);
    }
    if (eq) {
        load_f(c, 0, d->rs1, dbl);
        load_f(c, 1, d->rs2, dbl);
        ucomi(x, dbl, 0, 1);
        setcc(x, CC_E, RAX);
        setcc(x, CC_NP, RCX);
        alu_rr(x, ALU_AND, RAX, RCX, false);
    } else {
        /* a < b as b > a (and a <= b as b >= a): unordered gives CF=1 */
        load_f(c, 0, d->rs2, dbl);
        load_f(c, 1, d->rs1, dbl);
        comi(x, dbl, 0, 1);
        setcc(x, lt ? CC_A : CC_AE, RAX);
    }
    dst = jg_dst(c, d->rd, RAX);
    if (d->rd) {
        movzx8(x, dst, RAX);
        jg_put(c, d->rd, dst);
    }
}

/* fsgnj/fsgnjn/fsgnjx on the raw bits (no exceptions). */
static void sign_inject(FpOp *o, const Insn *d, bool dbl, int kind)
{
    JitCtx *c = o->c;
    X86 *x = &c->x;
    unsigned bits = dbl ? 64 : 32;

    fs_check(o);
    if (!dbl) {
        boxed(o, d->rs1);
        boxed(o, d->rs2);
    }
    if (dbl)
        ld64(x, RAX, FM(d->rs1));
    else
        ld32(x, RAX, FM(d->rs1));
    if (d->rs1 != d->rs2 || kind != 0) {
        if (dbl)
            ld64(x, RDX, FM(d->rs2));
        else
            ld32(x, RDX, FM(d->rs2));
        if (kind == 1)
            grp3(x, 2, RDX, dbl);                    /* not */
        shift_ri(x, SH_SHR, RDX, bits - 1, dbl);
        shift_ri(x, SH_SHL, RDX, bits - 1, dbl);     /* the sign bit alone */
        if (kind != 2) {
            shift_ri(x, SH_SHL, RAX, 1, dbl);
            shift_ri(x, SH_SHR, RAX, 1, dbl);        /* clear the sign */
            alu_rr(x, ALU_OR, RAX, RDX, dbl);
        } else {
            alu_rr(x, ALU_XOR, RAX, RDX, dbl);
        }
    }
    if (dbl) {
        st64(x, FM(d->rd), RAX);
    } else {
        st32(x, FM(d->rd), RAX);
        alu_mi(x, ALU_OR, xm(RBX, OFF_F(d->rd) + 4), -1, false);
    }
    fs_dirty(c);
}

/* float -> integer. rtz: cvtt; RNE: cvt. Out of range and NaN give x86's
 * "integer indefinite" (the most negative value) with invalid raised: those,
 * and unsigned results SSE cannot express, go to the interpreter. */
static void to_int(FpOp *o, const Insn *d, bool dbl, bool w, bool uns)
{
    JitCtx *c = o->c;
    X86 *x = &c->x;
    bool trunc;
    int dst;

    fs_check(o);
    trunc = d->rm == 1;
    if (!trunc)
        rm_rne(o, d->rm);
    if (!dbl)
        boxed(o, d->rs1);
    load_f(c, 0, d->rs1, dbl);
    /* When SSE's answer is not RISC-V's (out of range, NaN, unsigned), the
     * flags it raised are not RISC-V's either: the slow path puts MXCSR
     * back as it was before the conversion ([rsp] is the scratch slot
     * jit_enter keeps free). */
    stmxcsr(x, xm(RSP, 0));
    o->restore_mxcsr = true;
    if (w && !uns) {
        cvtf2si(x, dbl, trunc, RAX, 0, false);
        alu_ri(x, ALU_CMP, RAX, INT32_MIN, false);
        to_interp(o, jcc_fwd(x, CC_E));
        movsxd(x, RAX, RAX);
    } else {
        cvtf2si(x, dbl, trunc, RAX, 0, true);
        if (w) {
            /* unsigned 32: the 64-bit conversion must land in [0, 2^32) */
            mov_rr(x, RDX, RAX);
            shift_ri(x, SH_SHR, RDX, 32, true);
            to_interp(o, jcc_fwd(x, CC_NE));
            movsxd(x, RAX, RAX);             /* RV64 sign-extends 32-bit results */
        } else {
            /* signed 64: indefinite is 1 << 63; unsigned 64: only [0, 2^63) */
            if (uns) {
                test_rr(x, RAX, RAX, true);
                to_interp(o, jcc_fwd(x, CC_S));
            } else {
                mov_ri(x, RDX, 1ull << 63);
                alu_rr(x, ALU_CMP, RAX, RDX, true);
                to_interp(o, jcc_fwd(x, CC_E));
            }
        }
    }
    dst = jg_dst(c, d->rd, RAX);
    mov_rr(x, dst, RAX);
    jg_put(c, d->rd, dst);
}

/* integer -> float */
static void from_int(FpOp *o, const Insn *d, bool dbl, bool w, bool uns)
{
    JitCtx *c = o->c;
    X86 *x = &c->x;
    fs_check(o);
    if (dbl && w)
        rm_valid(o, d->rm);                 /* int32 -> double is exact */
    else
        rm_rne(o, d->rm);
    if (d->rs1 == 0)
        zero(x, RAX);
    else if (jg_host(c, d->rs1) >= 0)
        mov_rr(x, RAX, jg_host(c, d->rs1));
    else
        ld64(x, RAX, XM(d->rs1));
    if (w) {
        if (uns)
            mov_rr32(x, RAX, RAX);           /* zero-extend: exact in a 64-bit convert */
        else
            movsxd(x, RAX, RAX);
    } else if (uns) {
        test_rr(x, RAX, RAX, true);
        to_interp(o, jcc_fwd(x, CC_S));
    }
    /* xorps first: cvtsi2sd only writes the low lane (no false dependency) */
    sse_rr(x, 0, 0x0f57, 0, 0);
    cvtsi2f(x, dbl, 0, RAX, true);
    store_f(c, d->rd, dbl, 0);
}

static void convert_fp(FpOp *o, const Insn *d)
{
    JitCtx *c = o->c;
    bool to_d = d->op == OP_FCVT_D_S;

    fs_check(o);
    if (to_d)
        rm_valid(o, d->rm);
    else
        rm_rne(o, d->rm);
    if (to_d) {
        boxed(o, d->rs1);
        movss_load(&c->x, 1, FM(d->rs1));
        cvtss2sd(&c->x, 0, 1);
    } else {
        movsd_load(&c->x, 1, FM(d->rs1));
        cvtsd2ss(&c->x, 0, 1);
    }
    not_nan(o, to_d);
    store_f(c, d->rd, to_d, 0);
}

static void moves(FpOp *o, const Insn *d)
{
    JitCtx *c = o->c;
    X86 *x = &c->x;

    fs_check(o);
    switch (d->op) {
    case OP_FMV_X_D:
    case OP_FMV_X_W:
        if (d->rd) {
            int dst = jg_dst(c, d->rd, RAX);
            if (d->op == OP_FMV_X_D)
                ld64(x, dst, FM(d->rs1));
            else
                ldsx32(x, dst, FM(d->rs1));
            jg_put(c, d->rd, dst);
        }
        return;
    case OP_FMV_D_X:
        st64(x, FM(d->rd), jg_get(c, d->rs1, RAX));
        fs_dirty(c);
        return;
    default: /* OP_FMV_W_X */
        st32(x, FM(d->rd), jg_get(c, d->rs1, RAX));
        x_rm(x, 0, false, 0xc7, 0, xm(RBX, OFF_F(d->rd) + 4));    /* mov dword, -1 */
        x32(x, 0xffffffffu);
        fs_dirty(c);
        return;
    }
}

/* ---- loads and stores ---- */

static void cold_fload(JitCtx *c, JitCold *k)
{
    bool dbl = k->d.op == OP_FLD;

    jm_call_load_slow(c, k, dbl ? 8 : 4);
    if (dbl) {
        st64(&c->x, FM(k->d.rd), RAX);
    } else {
        st32(&c->x, FM(k->d.rd), RAX);
        alu_mi(&c->x, ALU_OR, xm(RBX, OFF_F(k->d.rd) + 4), -1, false);
    }
    jmp_to(&c->x, k->back);
}

static void cold_fstore(JitCtx *c, JitCold *k)
{
    ld64(&c->x, RDX, FM(k->d.rs2));
    jm_call_store_slow(c, k, k->d.op == OP_FSD ? 8 : 4);
    jmp_to(&c->x, k->back);
}

static void mem(FpOp *o, const Insn *d)
{
    JitCtx *c = o->c;
    X86 *x = &c->x;
    bool dbl = d->op == OP_FLD || d->op == OP_FSD;
    bool store = d->op == OP_FSW || d->op == OP_FSD;
    uint8_t *miss;
    JitCold *k;

    fs_check(o);
    if (!store)
        fs_dirty(c);        /* before the probe: the slow path comes back after */
    jm_addr(c, d->rs1, d->imm);
    miss = jm_probe(c, dbl ? 8 : 4, store);
    if (store) {
        if (dbl) {
            ld64(x, RAX, FM(d->rs2));
            st64(x, xm(RSI, 0), RAX);
        } else {
            ld32(x, RAX, FM(d->rs2));
            st32(x, xm(RSI, 0), RAX);
        }
    } else {
        if (dbl) {
            ld64(x, RAX, xm(RSI, 0));
            st64(x, FM(d->rd), RAX);
        } else {
            ld32(x, RAX, xm(RSI, 0));
            st32(x, FM(d->rd), RAX);
            alu_mi(x, ALU_OR, xm(RBX, OFF_F(d->rd) + 4), -1, false);
        }
    }
    k = jg_cold(c, store ? cold_fstore : cold_fload, miss);
    o->pend[o->npend++] = k;
}

/* Which rounding modes the fast path of an op can take (else the whole
 * instruction goes to the interpreter): RNE (static, or dynamic tested at
 * run time); any valid one for exact results; RTZ for conversions to
 * integers (C casts) too. */
enum { RM_NONE, RM_RNE, RM_EXACT, RM_TOINT };

static int rm_class(int op)
{
    switch (op) {
    case OP_FADD_S: case OP_FSUB_S: case OP_FMUL_S: case OP_FDIV_S: case OP_FSQRT_S:
    case OP_FADD_D: case OP_FSUB_D: case OP_FMUL_D: case OP_FDIV_D: case OP_FSQRT_D:
    case OP_FMADD_S: case OP_FMSUB_S: case OP_FNMSUB_S: case OP_FNMADD_S:
    case OP_FMADD_D: case OP_FMSUB_D: case OP_FNMSUB_D: case OP_FNMADD_D:
    case OP_FCVT_S_W: case OP_FCVT_S_WU: case OP_FCVT_S_L: case OP_FCVT_S_LU:
    case OP_FCVT_D_L: case OP_FCVT_D_LU: case OP_FCVT_S_D:
        return RM_RNE;
    case OP_FCVT_D_W: case OP_FCVT_D_WU: case OP_FCVT_D_S:
        return RM_EXACT;
    case OP_FCVT_W_S: case OP_FCVT_WU_S: case OP_FCVT_L_S: case OP_FCVT_LU_S:
    case OP_FCVT_W_D: case OP_FCVT_WU_D: case OP_FCVT_L_D: case OP_FCVT_LU_D:
        return RM_TOINT;
    }
    return RM_NONE;
}

static bool rm_ok(const Insn *d)
{
    switch (rm_class(d->op)) {
    case RM_RNE: return d->rm == 0 || d->rm == 7;
    case RM_EXACT: return d->rm <= 4 || d->rm == 7;
    case RM_TOINT: return d->rm <= 1 || d->rm == 7;
    }
    return true;
}

bool jf_translate(JitCtx *c)
{
    const Insn *d = &c->scan[c->idx].d;
    FpOp o = { .c = c };

    if (d->op < OP_FLW || d->op > OP_FCVT_D_S || d->op == OP_FCLASS_S || d->op == OP_FCLASS_D)
        return false;
    if (!rm_ok(d) || (d->op >= OP_FMADD_S && d->op <= OP_FNMADD_D && !c->j->has_fma)) {
        js_interp(c, false);
        return true;
    }
    switch (d->op) {
    case OP_FLW: case OP_FLD: case OP_FSW: case OP_FSD: mem(&o, d); break;
    case OP_FADD_S: arith(&o, d, SSE_ADD, false, false); break;
    case OP_FSUB_S: arith(&o, d, SSE_SUB, false, false); break;
    case OP_FMUL_S: arith(&o, d, SSE_MUL, false, false); break;
    case OP_FDIV_S: arith(&o, d, SSE_DIV, false, false); break;
    case OP_FSQRT_S: arith(&o, d, SSE_SQRT, false, true); break;
    case OP_FADD_D: arith(&o, d, SSE_ADD, true, false); break;
    case OP_FSUB_D: arith(&o, d, SSE_SUB, true, false); break;
    case OP_FMUL_D: arith(&o, d, SSE_MUL, true, false); break;
    case OP_FDIV_D: arith(&o, d, SSE_DIV, true, false); break;
    case OP_FSQRT_D: arith(&o, d, SSE_SQRT, true, true); break;
    case OP_FMADD_S: case OP_FMSUB_S: case OP_FNMSUB_S: case OP_FNMADD_S:
        fused(&o, d, false, d->op - OP_FMADD_S);
        break;
    case OP_FMADD_D: case OP_FMSUB_D: case OP_FNMSUB_D: case OP_FNMADD_D:
        fused(&o, d, true, d->op - OP_FMADD_D);
        break;
    case OP_FSGNJ_S: case OP_FSGNJN_S: case OP_FSGNJX_S:
        sign_inject(&o, d, false, d->op - OP_FSGNJ_S);
        break;
    case OP_FSGNJ_D: case OP_FSGNJN_D: case OP_FSGNJX_D:
        sign_inject(&o, d, true, d->op - OP_FSGNJ_D);
        break;
    case OP_FMIN_S: minmax(&o, d, false, false); break;
    case OP_FMAX_S: minmax(&o, d, false, true); break;
    case OP_FMIN_D: minmax(&o, d, true, false); break;
    case OP_FMAX_D: minmax(&o, d, true, true); break;
    case OP_FEQ_S: case OP_FLT_S: case OP_FLE_S: compare(&o, d, false); break;
    case OP_FEQ_D: case OP_FLT_D: case OP_FLE_D: compare(&o, d, true); break;
    case OP_FCVT_W_S: to_int(&o, d, false, true, false); break;
    case OP_FCVT_WU_S: to_int(&o, d, false, true, true); break;
    case OP_FCVT_L_S: to_int(&o, d, false, false, false); break;
    case OP_FCVT_LU_S: to_int(&o, d, false, false, true); break;
    case OP_FCVT_W_D: to_int(&o, d, true, true, false); break;
    case OP_FCVT_WU_D: to_int(&o, d, true, true, true); break;
    case OP_FCVT_L_D: to_int(&o, d, true, false, false); break;
    case OP_FCVT_LU_D: to_int(&o, d, true, false, true); break;
    case OP_FCVT_S_W: from_int(&o, d, false, true, false); break;
    case OP_FCVT_S_WU: from_int(&o, d, false, true, true); break;
    case OP_FCVT_S_L: from_int(&o, d, false, false, false); break;
    case OP_FCVT_S_LU: from_int(&o, d, false, false, true); break;
    case OP_FCVT_D_W: from_int(&o, d, true, true, false); break;
    case OP_FCVT_D_WU: from_int(&o, d, true, true, true); break;
    case OP_FCVT_D_L: from_int(&o, d, true, false, false); break;
    case OP_FCVT_D_LU: from_int(&o, d, true, false, true); break;
    case OP_FCVT_S_D: case OP_FCVT_D_S: convert_fp(&o, d); break;
    default: moves(&o, d); break;   /* fmv.x.w, fmv.x.d, fmv.w.x, fmv.d.x */
    }
    finish(&o);
    return true;
}
