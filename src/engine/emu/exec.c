/* The interpreter: fetch through the instruction TLB, decode, execute.
 *
 * Errors inside an instruction (faults, illegal encodings) set
 * h->exc_cause/exc_tval and jump to `fault`, which enters the trap handler
 * with the faulting instruction's pc. */
#include <string.h>

#include "decode.h"
#include "fpu.h"
#include "hart.h"
#include "jit.h"

#define X(r) (h->x[(r)])
#define WR(v) do { uint64_t v_ = (uint64_t)(v); if (d.rd) h->x[d.rd] = v_; } while (0)
#define SEXT32(v) ((uint64_t)(int64_t)(int32_t)(uint32_t)(v))

static inline uint64_t mulhu64(uint64_t a, uint64_t b)
{
    return (uint64_t)(((unsigned __int128)a * b) >> 64);
}

static inline int64_t mulh64(int64_t a, int64_t b)
{
    return (int64_t)(((__int128)a * b) >> 64);
}

static inline int64_t mulhsu64(int64_t a, uint64_t b)
{
    return (int64_t)(((__int128)a * (unsigned __int128)b) >> 64);
}

/* ---- floating point glue ---- */

static inline bool fp_off(Hart *h) { return (h->mstatus & MSTATUS_FS) == 0; }

static inline void fp_dirty(Hart *h) { h->mstatus |= MSTATUS_FS | MSTATUS_SD; }

/* Resolve the rounding mode; -1 if reserved. */
static inline int fp_rm(Hart *h, unsigned rm)
{
    if (rm == 7)
        rm = h->frm;
    return rm <= 4 ? (int)rm : -1;
}

#define F32(r) fpu_unbox32(h->f[(r)])
#define F64(r) (h->f[(r)])
#define WF32(v) do { h->f[d.rd] = fpu_box32(v); fp_dirty(h); } while (0)
#define WF64(v) do { h->f[d.rd] = (v); fp_dirty(h); } while (0)

/* F and D arithmetic, conversions, moves, compares and classification:
 * 0, or -1 for an illegal instruction (FP off, reserved rounding mode,
 * not an FP operation). Loads and stores stay in the main loop. */
static int exec_fp(Hart *h, const Insn *dp)
{
    const Insn d = *dp;
    uint32_t fl = 0;
    int rm;

    if (d.op < OP_FMADD_S || d.op > OP_FCVT_D_S || fp_off(h))
        return -1;
    rm = fp_rm(h, d.rm);
    switch (d.op) {
    case OP_FMADD_S: case OP_FMSUB_S: case OP_FNMSUB_S: case OP_FNMADD_S:
        if (rm < 0) return -1;
        WF32(f32_fma(F32(d.rs1), F32(d.rs2), F32(d.rs3), d.op - OP_FMADD_S, rm, &fl));
        break;
    case OP_FMADD_D: case OP_FMSUB_D: case OP_FNMSUB_D: case OP_FNMADD_D:
        if (rm < 0) return -1;
        WF64(f64_fma(F64(d.rs1), F64(d.rs2), F64(d.rs3), d.op - OP_FMADD_D, rm, &fl));
        break;
    case OP_FADD_S: if (rm < 0) return -1; WF32(f32_add(F32(d.rs1), F32(d.rs2), rm, &fl)); break;
    case OP_FSUB_S: if (rm < 0) return -1; WF32(f32_sub(F32(d.rs1), F32(d.rs2), rm, &fl)); break;
    case OP_FMUL_S: if (rm < 0) return -1; WF32(f32_mul(F32(d.rs1), F32(d.rs2), rm, &fl)); break;
    case OP_FDIV_S: if (rm < 0) return -1; WF32(f32_div(F32(d.rs1), F32(d.rs2), rm, &fl)); break;
    case OP_FSQRT_S: if (rm < 0) return -1; WF32(f32_sqrt(F32(d.rs1), rm, &fl)); break;
    case OP_FADD_D: if (rm < 0) return -1; WF64(f64_add(F64(d.rs1), F64(d.rs2), rm, &fl)); break;
    case OP_FSUB_D: if (rm < 0) return -1; WF64(f64_sub(F64(d.rs1), F64(d.rs2), rm, &fl)); break;
    case OP_FMUL_D: if (rm < 0) return -1; WF64(f64_mul(F64(d.rs1), F64(d.rs2), rm, &fl)); break;
    case OP_FDIV_D: if (rm < 0) return -1; WF64(f64_div(F64(d.rs1), F64(d.rs2), rm, &fl)); break;
    case OP_FSQRT_D: if (rm < 0) return -1; WF64(f64_sqrt(F64(d.rs1), rm, &fl)); break;
    case OP_FSGNJ_S: {
        uint32_t a = F32(d.rs1), b = F32(d.rs2);
        WF32((a & 0x7fffffffu) | (b & 0x80000000u));
        break;
    }
    case OP_FSGNJN_S: {
        uint32_t a = F32(d.rs1), b = F32(d.rs2);
        WF32((a & 0x7fffffffu) | (~b & 0x80000000u));
        break;
    }
    case OP_FSGNJX_S: {
        uint32_t a = F32(d.rs1), b = F32(d.rs2);
        WF32(a ^ (b & 0x80000000u));
        break;
    }
    case OP_FSGNJ_D: WF64((F64(d.rs1) & ~(1ull << 63)) | (F64(d.rs2) & (1ull << 63))); break;
    case OP_FSGNJN_D: WF64((F64(d.rs1) & ~(1ull << 63)) | (~F64(d.rs2) & (1ull << 63))); break;
    case OP_FSGNJX_D: WF64(F64(d.rs1) ^ (F64(d.rs2) & (1ull << 63))); break;
    case OP_FMIN_S: WF32(f32_min(F32(d.rs1), F32(d.rs2), &fl)); break;
    case OP_FMAX_S: WF32(f32_max(F32(d.rs1), F32(d.rs2), &fl)); break;
    case OP_FMIN_D: WF64(f64_min(F64(d.rs1), F64(d.rs2), &fl)); break;
    case OP_FMAX_D: WF64(f64_max(F64(d.rs1), F64(d.rs2), &fl)); break;
    case OP_FCVT_W_S: if (rm < 0) return -1; WR((int64_t)f32_to_i32(F32(d.rs1), rm, &fl)); break;
    case OP_FCVT_WU_S: if (rm < 0) return -1; WR(SEXT32(f32_to_u32(F32(d.rs1), rm, &fl))); break;
    case OP_FCVT_L_S: if (rm < 0) return -1; WR(f32_to_i64(F32(d.rs1), rm, &fl)); break;
    case OP_FCVT_LU_S: if (rm < 0) return -1; WR(f32_to_u64(F32(d.rs1), rm, &fl)); break;
    case OP_FCVT_W_D: if (rm < 0) return -1; WR((int64_t)f64_to_i32(F64(d.rs1), rm, &fl)); break;
    case OP_FCVT_WU_D: if (rm < 0) return -1; WR(SEXT32(f64_to_u32(F64(d.rs1), rm, &fl))); break;
    case OP_FCVT_L_D: if (rm < 0) return -1; WR(f64_to_i64(F64(d.rs1), rm, &fl)); break;
    case OP_FCVT_LU_D: if (rm < 0) return -1; WR(f64_to_u64(F64(d.rs1), rm, &fl)); break;
    case OP_FCVT_S_W: if (rm < 0) return -1; WF32(i32_to_f32((int32_t)X(d.rs1), rm, &fl)); break;
    case OP_FCVT_S_WU: if (rm < 0) return -1; WF32(u32_to_f32((uint32_t)X(d.rs1), rm, &fl)); break;
    case OP_FCVT_S_L: if (rm < 0) return -1; WF32(i64_to_f32((int64_t)X(d.rs1), rm, &fl)); break;
    case OP_FCVT_S_LU: if (rm < 0) return -1; WF32(u64_to_f32(X(d.rs1), rm, &fl)); break;
    case OP_FCVT_D_W: if (rm < 0) return -1; WF64(i32_to_f64((int32_t)X(d.rs1), rm, &fl)); break;
    case OP_FCVT_D_WU: if (rm < 0) return -1; WF64(u32_to_f64((uint32_t)X(d.rs1), rm, &fl)); break;
    case OP_FCVT_D_L: if (rm < 0) return -1; WF64(i64_to_f64((int64_t)X(d.rs1), rm, &fl)); break;
    case OP_FCVT_D_LU: if (rm < 0) return -1; WF64(u64_to_f64(X(d.rs1), rm, &fl)); break;
    case OP_FCVT_S_D: if (rm < 0) return -1; WF32(f64_to_f32(F64(d.rs1), rm, &fl)); break;
    case OP_FCVT_D_S: if (rm < 0) return -1; WF64(f32_to_f64(F32(d.rs1), &fl)); break;
    case OP_FMV_X_W: WR(SEXT32((uint32_t)h->f[d.rs1])); break;
    case OP_FMV_X_D: WR(h->f[d.rs1]); break;
    case OP_FMV_W_X: WF32((uint32_t)X(d.rs1)); break;
    case OP_FMV_D_X: WF64(X(d.rs1)); break;
    case OP_FEQ_S: WR(f32_eq(F32(d.rs1), F32(d.rs2), &fl)); break;
    case OP_FLT_S: WR(f32_lt(F32(d.rs1), F32(d.rs2), &fl)); break;
    case OP_FLE_S: WR(f32_le(F32(d.rs1), F32(d.rs2), &fl)); break;
    case OP_FEQ_D: WR(f64_eq(F64(d.rs1), F64(d.rs2), &fl)); break;
    case OP_FLT_D: WR(f64_lt(F64(d.rs1), F64(d.rs2), &fl)); break;
    case OP_FLE_D: WR(f64_le(F64(d.rs1), F64(d.rs2), &fl)); break;
    case OP_FCLASS_S: WR(f32_classify(F32(d.rs1))); break;
    case OP_FCLASS_D: WR(f64_classify(F64(d.rs1))); break;
    default: return -1;
    }
    if (fl) {
        h->fflags |= fl;
        fp_dirty(h);
    }
    return 0;
}

/* ---- atomics ---- */

static inline uint64_t amo_apply(int fn, uint64_t old, uint64_t v, bool w)
{
    switch (fn) {
    case AMO_SWAP: return v;
    case AMO_ADD: return old + v;
    case AMO_XOR: return old ^ v;
    case AMO_AND: return old & v;
    case AMO_OR: return old | v;
    case AMO_MIN:
        if (w) return (int32_t)old < (int32_t)v ? old : v;
        return (int64_t)old < (int64_t)v ? old : v;
    case AMO_MAX:
        if (w) return (int32_t)old > (int32_t)v ? old : v;
        return (int64_t)old > (int64_t)v ? old : v;
    case AMO_MINU:
        if (w) return (uint32_t)old < (uint32_t)v ? old : v;
        return old < v ? old : v;
    default: /* AMO_MAXU */
        if (w) return (uint32_t)old > (uint32_t)v ? old : v;
        return old > v ? old : v;
    }
}

/* AMOs run as compare-and-swap loops on the host so they are atomic with
 * respect to other harts' AMOs, LR/SC and plain stores. */
static int exec_amo(Hart *h, const Insn *dp)
{
    const Insn d = *dp;
    uint64_t addr = X(d.rs1);
    bool w = d.op == OP_AMO_W;
    void *p = mmu_atomic_ptr(h, addr, w ? 4 : 8, false);

    if (!p)
        return -1;
    if (w) {
        uint32_t *q = p, old = __atomic_load_n(q, __ATOMIC_RELAXED), nv;
        do {
            nv = (uint32_t)amo_apply((int)d.imm, old, X(d.rs2), true);
        } while (!__atomic_compare_exchange_n(q, &old, nv, true, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
        WR(SEXT32(old));
    } else {
        uint64_t *q = p, old = __atomic_load_n(q, __ATOMIC_RELAXED), nv;
        do {
            nv = amo_apply((int)d.imm, old, X(d.rs2), false);
        } while (!__atomic_compare_exchange_n(q, &old, nv, true, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
        WR(old);
    }
    return 0;
}

/* LR records the address and the value read; SC succeeds if the reservation
 * is still ours and memory still holds that value (compare-and-swap). */
static int exec_lr(Hart *h, const Insn *dp)
{
    const Insn d = *dp;
    bool w = d.op == OP_LR_W;
    void *p = mmu_atomic_ptr(h, X(d.rs1), w ? 4 : 8, true);
    uint64_t v;

    if (!p)
        return -1;
    v = w ? __atomic_load_n((uint32_t *)p, __ATOMIC_SEQ_CST)
          : __atomic_load_n((uint64_t *)p, __ATOMIC_SEQ_CST);
    h->lr_valid = true;
    h->lr_addr = X(d.rs1);
    h->lr_val = v;
    WR(w ? SEXT32(v) : v);
    return 0;
}

static int exec_sc(Hart *h, const Insn *dp)
{
    const Insn d = *dp;
    bool w = d.op == OP_SC_W;
    uint64_t addr = X(d.rs1);
    void *p = mmu_atomic_ptr(h, addr, w ? 4 : 8, false);
    bool ok = false;

    if (!p)
        return -1;
    if (h->lr_valid && h->lr_addr == addr) {
        if (w) {
            uint32_t exp = (uint32_t)h->lr_val;
            ok = __atomic_compare_exchange_n((uint32_t *)p, &exp, (uint32_t)X(d.rs2), false,
                                             __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
        } else {
            uint64_t exp = h->lr_val;
            ok = __atomic_compare_exchange_n((uint64_t *)p, &exp, X(d.rs2), false,
                                             __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
        }
    }
    h->lr_valid = false;
    WR(ok ? 0 : 1);
    return 0;
}

/* ---- CSR instructions ---- */

static int exec_csr(Hart *h, const Insn *dp)
{
    const Insn d = *dp;
    unsigned csr = (unsigned)d.imm & 0xfff;
    uint64_t src = (d.op >= OP_CSRRWI) ? d.rs1 : X(d.rs1);
    uint64_t old = 0;
    bool do_write, do_read;

    switch (d.op) {
    case OP_CSRRW: case OP_CSRRWI:
        do_write = true;
        do_read = d.rd != 0;
        break;
    default:
        do_write = d.rs1 != 0;
        do_read = true;
        break;
    }
    if (do_write && (csr >> 10) == 3)
        return -1;          /* read-only CSR */
    if (do_read || do_write) {
        /* Read even for CSRRW with rd=x0 to check access rights. */
        if (csr_read(h, csr, &old) < 0)
            return -1;
    }
    if (do_write) {
        uint64_t nv = src;
        if (d.op == OP_CSRRS || d.op == OP_CSRRSI)
            nv = old | src;
        else if (d.op == OP_CSRRC || d.op == OP_CSRRCI)
            nv = old & ~src;
        if (csr_write(h, csr, nv) < 0)
            return -1;
    }
    WR(old);
    return 0;
}

/* ---- the loop ---- */

static inline int fetch(Hart *h, uint64_t pc, uint32_t *raw)
{
    TlbEntry *e = &h->itlb->x[(pc >> 12) & (TLB_SIZE - 1)];

    if (__builtin_expect(e->tag == (pc & ~0xfffull), 1)) {
        const uint8_t *p = (const uint8_t *)(uintptr_t)(pc + e->addend);
        uint16_t lo;
        memcpy(&lo, p, 2);
        if ((lo & 3) != 3) {
            *raw = lo;
            return 0;
        }
        if ((pc & 0xfff) != 0xffe) {
            uint16_t hi;
            memcpy(&hi, p + 2, 2);
            *raw = lo | ((uint32_t)hi << 16);
            return 0;
        }
    }
    return mmu_fetch_slow(h, pc, raw);
}

static inline const Insn *decode_cached(Hart *h, uint32_t raw)
{
    DCacheEntry *e = &h->dcache[(raw * 0x9e3779b1u) >> (32 - DCACHE_BITS)];
    if (__builtin_expect(e->raw != raw, 0)) {
        e->raw = raw;
        insn_decode(raw, &e->d);
    }
    return &e->d;
}

void hart_dcache_init(Hart *h)
{
    for (unsigned i = 0; i < (1u << DCACHE_BITS); i++) {
        h->dcache[i].raw = 0;
        insn_decode(0, &h->dcache[i].d);
    }
}

uint64_t hart_run_chunk(Hart *h, uint64_t budget)
{
    uint64_t start = h->instret, end = start + budget;
    Insn d;
    uint32_t raw;

    /* instret counts retired instructions (also drives mcycle); setting
     * `end = 0` ends the chunk after the current instruction. */
    while (h->instret < end) {
        uint64_t pc = h->pc, v;

        if (__builtin_expect(h->exit_chunk, 0))
            break;
        if (__builtin_expect(fetch(h, pc, &raw), 0))
            goto fetch_fault;
        d = *decode_cached(h, raw);
        h->instret++;

        switch (d.op) {
        /* ---- RV64I ---- */
        case OP_LUI: WR(d.imm); break;
        case OP_AUIPC: WR(pc + (uint64_t)d.imm); break;
        case OP_JAL:
            WR(pc + d.len);
            h->pc = pc + (uint64_t)d.imm;
            continue;
        case OP_JALR: {
            uint64_t t = (X(d.rs1) + (uint64_t)d.imm) & ~1ull;
            WR(pc + d.len);
            h->pc = t;
            continue;
        }
        case OP_BEQ: if (X(d.rs1) == X(d.rs2)) { h->pc = pc + (uint64_t)d.imm; continue; } break;
        case OP_BNE: if (X(d.rs1) != X(d.rs2)) { h->pc = pc + (uint64_t)d.imm; continue; } break;
        case OP_BLT: if ((int64_t)X(d.rs1) < (int64_t)X(d.rs2)) { h->pc = pc + (uint64_t)d.imm; continue; } break;
        case OP_BGE: if ((int64_t)X(d.rs1) >= (int64_t)X(d.rs2)) { h->pc = pc + (uint64_t)d.imm; continue; } break;
        case OP_BLTU: if (X(d.rs1) < X(d.rs2)) { h->pc = pc + (uint64_t)d.imm; continue; } break;
        case OP_BGEU: if (X(d.rs1) >= X(d.rs2)) { h->pc = pc + (uint64_t)d.imm; continue; } break;

        case OP_LB: if (mem_load(h, X(d.rs1) + (uint64_t)d.imm, 1, &v)) goto fault; WR((int64_t)(int8_t)v); break;
        case OP_LH: if (mem_load(h, X(d.rs1) + (uint64_t)d.imm, 2, &v)) goto fault; WR((int64_t)(int16_t)v); break;
        case OP_LW: if (mem_load(h, X(d.rs1) + (uint64_t)d.imm, 4, &v)) goto fault; WR(SEXT32(v)); break;
        case OP_LD: if (mem_load(h, X(d.rs1) + (uint64_t)d.imm, 8, &v)) goto fault; WR(v); break;
        case OP_LBU: if (mem_load(h, X(d.rs1) + (uint64_t)d.imm, 1, &v)) goto fault; WR(v); break;
        case OP_LHU: if (mem_load(h, X(d.rs1) + (uint64_t)d.imm, 2, &v)) goto fault; WR(v); break;
        case OP_LWU: if (mem_load(h, X(d.rs1) + (uint64_t)d.imm, 4, &v)) goto fault; WR(v); break;
        case OP_SB: if (mem_store(h, X(d.rs1) + (uint64_t)d.imm, 1, X(d.rs2))) goto fault; break;
        case OP_SH: if (mem_store(h, X(d.rs1) + (uint64_t)d.imm, 2, X(d.rs2))) goto fault; break;
        case OP_SW: if (mem_store(h, X(d.rs1) + (uint64_t)d.imm, 4, X(d.rs2))) goto fault; break;
        case OP_SD: if (mem_store(h, X(d.rs1) + (uint64_t)d.imm, 8, X(d.rs2))) goto fault; break;

        case OP_ADDI: WR(X(d.rs1) + (uint64_t)d.imm); break;
        case OP_SLTI: WR((int64_t)X(d.rs1) < d.imm); break;
        case OP_SLTIU: WR(X(d.rs1) < (uint64_t)d.imm); break;
        case OP_XORI: WR(X(d.rs1) ^ (uint64_t)d.imm); break;
        case OP_ORI: WR(X(d.rs1) | (uint64_t)d.imm); break;
        case OP_ANDI: WR(X(d.rs1) & (uint64_t)d.imm); break;
        case OP_SLLI: WR(X(d.rs1) << d.imm); break;
        case OP_SRLI: WR(X(d.rs1) >> d.imm); break;
        case OP_SRAI: WR((int64_t)X(d.rs1) >> d.imm); break;
        case OP_ADD: WR(X(d.rs1) + X(d.rs2)); break;
        case OP_SUB: WR(X(d.rs1) - X(d.rs2)); break;
        case OP_SLL: WR(X(d.rs1) << (X(d.rs2) & 63)); break;
        case OP_SLT: WR((int64_t)X(d.rs1) < (int64_t)X(d.rs2)); break;
        case OP_SLTU: WR(X(d.rs1) < X(d.rs2)); break;
        case OP_XOR: WR(X(d.rs1) ^ X(d.rs2)); break;
        case OP_SRL: WR(X(d.rs1) >> (X(d.rs2) & 63)); break;
        case OP_SRA: WR((int64_t)X(d.rs1) >> (X(d.rs2) & 63)); break;
        case OP_OR: WR(X(d.rs1) | X(d.rs2)); break;
        case OP_AND: WR(X(d.rs1) & X(d.rs2)); break;
        case OP_ADDIW: WR(SEXT32(X(d.rs1) + (uint64_t)d.imm)); break;
        case OP_SLLIW: WR(SEXT32((uint32_t)X(d.rs1) << d.imm)); break;
        case OP_SRLIW: WR(SEXT32((uint32_t)X(d.rs1) >> d.imm)); break;
        case OP_SRAIW: WR((int64_t)((int32_t)X(d.rs1) >> d.imm)); break;
        case OP_ADDW: WR(SEXT32(X(d.rs1) + X(d.rs2))); break;
        case OP_SUBW: WR(SEXT32(X(d.rs1) - X(d.rs2))); break;
        case OP_SLLW: WR(SEXT32((uint32_t)X(d.rs1) << (X(d.rs2) & 31))); break;
        case OP_SRLW: WR(SEXT32((uint32_t)X(d.rs1) >> (X(d.rs2) & 31))); break;
        case OP_SRAW: WR((int64_t)((int32_t)X(d.rs1) >> (X(d.rs2) & 31))); break;

        case OP_FENCE: __atomic_thread_fence(__ATOMIC_SEQ_CST); break;
        case OP_FENCE_I:
            h->stat.fence_i++;
            /* The interpreter re-reads memory every time; translated code
             * must be checked against it. */
            jit_fence_i(h->jit);
            break;
        case OP_ECALL:
            h->exc_cause = CAUSE_ECALL_U + (uint64_t)h->priv;
            h->exc_tval = 0;
            goto fault;
        case OP_EBREAK:
            h->exc_cause = CAUSE_BREAKPOINT;
            h->exc_tval = pc;
            goto fault;

        /* ---- M ---- */
        case OP_MUL: WR(X(d.rs1) * X(d.rs2)); break;
        case OP_MULH: WR(mulh64((int64_t)X(d.rs1), (int64_t)X(d.rs2))); break;
        case OP_MULHSU: WR(mulhsu64((int64_t)X(d.rs1), X(d.rs2))); break;
        case OP_MULHU: WR(mulhu64(X(d.rs1), X(d.rs2))); break;
        case OP_DIV: {
            int64_t a = (int64_t)X(d.rs1), b = (int64_t)X(d.rs2);
            WR(b == 0 ? -1 : (a == INT64_MIN && b == -1) ? a : a / b);
            break;
        }
        case OP_DIVU: WR(X(d.rs2) == 0 ? ~0ull : X(d.rs1) / X(d.rs2)); break;
        case OP_REM: {
            int64_t a = (int64_t)X(d.rs1), b = (int64_t)X(d.rs2);
            WR(b == 0 ? a : (a == INT64_MIN && b == -1) ? 0 : a % b);
            break;
        }
        case OP_REMU: WR(X(d.rs2) == 0 ? X(d.rs1) : X(d.rs1) % X(d.rs2)); break;
        case OP_MULW: WR(SEXT32((uint32_t)X(d.rs1) * (uint32_t)X(d.rs2))); break;
        case OP_DIVW: {
            int32_t a = (int32_t)X(d.rs1), b = (int32_t)X(d.rs2);
            WR((int64_t)(b == 0 ? -1 : (a == INT32_MIN && b == -1) ? a : a / b));
            break;
        }
        case OP_DIVUW: {
            uint32_t a = (uint32_t)X(d.rs1), b = (uint32_t)X(d.rs2);
            WR(SEXT32(b == 0 ? 0xffffffffu : a / b));
            break;
        }
        case OP_REMW: {
            int32_t a = (int32_t)X(d.rs1), b = (int32_t)X(d.rs2);
            WR((int64_t)(b == 0 ? a : (a == INT32_MIN && b == -1) ? 0 : a % b));
            break;
        }
        case OP_REMUW: {
            uint32_t a = (uint32_t)X(d.rs1), b = (uint32_t)X(d.rs2);
            WR(SEXT32(b == 0 ? a : a % b));
            break;
        }

        /* ---- A ---- */
        case OP_LR_W: case OP_LR_D: if (exec_lr(h, &d)) goto fault; break;
        case OP_SC_W: case OP_SC_D: if (exec_sc(h, &d)) goto fault; break;
        case OP_AMO_W: case OP_AMO_D: if (exec_amo(h, &d)) goto fault; break;

        /* ---- Zicsr and privileged ---- */
        case OP_CSRRW: case OP_CSRRS: case OP_CSRRC:
        case OP_CSRRWI: case OP_CSRRSI: case OP_CSRRCI:
            if (exec_csr(h, &d))
                goto illegal;
            h->pc = pc + d.len;
            end = 0;          /* interrupts may have been enabled */
            continue;
        case OP_MRET:
            if (h->priv < PRV_M)
                goto illegal;
            {
                uint64_t s = h->mstatus;
                int mpp = (int)((s & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT);
                s = (s & ~MSTATUS_MIE) | ((s & MSTATUS_MPIE) ? MSTATUS_MIE : 0);
                s |= MSTATUS_MPIE;
                s &= ~MSTATUS_MPP;     /* MPP = U */
                if (mpp != PRV_M)
                    s &= ~MSTATUS_MPRV;
                h->mstatus = s;
                h->pc = h->mepc;
                hart_set_priv(h, mpp);
            }
            end = 0;
            continue;
        case OP_SRET:
            if (h->priv < PRV_S || (h->priv == PRV_S && (h->mstatus & MSTATUS_TSR)))
                goto illegal;
            {
                uint64_t s = h->mstatus;
                int spp = (s & MSTATUS_SPP) ? PRV_S : PRV_U;
                s = (s & ~MSTATUS_SIE) | ((s & MSTATUS_SPIE) ? MSTATUS_SIE : 0);
                s |= MSTATUS_SPIE;
                s &= ~MSTATUS_SPP;
                s &= ~MSTATUS_MPRV;    /* leaving M-mode context */
                h->mstatus = s;
                h->pc = h->sepc;
                hart_set_priv(h, spp);
            }
            end = 0;
            continue;
        case OP_WFI:
            if (h->priv == PRV_U || (h->priv == PRV_S && (h->mstatus & MSTATUS_TW)))
                goto illegal;
            h->pc = pc + d.len;
            h->wfi = true;
            return h->instret - start;
        case OP_SFENCE_VMA:
            if (h->priv == PRV_U || (h->priv == PRV_S && (h->mstatus & MSTATUS_TVM)))
                goto illegal;
            h->stat.sfence++;
            /* With an address: that page only (Linux fences every page it
             * maps on a fault); the ASID is not looked at (more is fine). */
            if (d.rs1)
                tlb_flush_page(h, X(d.rs1));
            else
                tlb_flush(h);
            break;

        /* ---- F / D loads and stores ---- */
        case OP_FLW:
            if (fp_off(h)) goto illegal;
            if (mem_load(h, X(d.rs1) + (uint64_t)d.imm, 4, &v)) goto fault;
            WF32((uint32_t)v);
            break;
        case OP_FLD:
            if (fp_off(h)) goto illegal;
            if (mem_load(h, X(d.rs1) + (uint64_t)d.imm, 8, &v)) goto fault;
            WF64(v);
            break;
        case OP_FSW:
            if (fp_off(h)) goto illegal;
            if (mem_store(h, X(d.rs1) + (uint64_t)d.imm, 4, (uint32_t)h->f[d.rs2])) goto fault;
            break;
        case OP_FSD:
            if (fp_off(h)) goto illegal;
            if (mem_store(h, X(d.rs1) + (uint64_t)d.imm, 8, h->f[d.rs2])) goto fault;
            break;

        default:
            /* Everything else is F/D arithmetic (or illegal). */
            if (exec_fp(h, &d))
                goto illegal;
            break;
        }
        h->pc = pc + d.len;
        continue;

    illegal:
        h->exc_cause = CAUSE_ILLEGAL_INSN;
        h->exc_tval = d.len == 2 ? (raw & 0xffff) : raw;
    fault:
        /* An instruction that traps does not retire (nor does the JIT count it). */
        h->instret--;
    fetch_fault:
        h->pc = pc;
        hart_raise(h, h->exc_cause, h->exc_tval);
        /* The trap may change privilege and enable interrupts. */
        end = 0;
    }
    return h->instret - start;
}
