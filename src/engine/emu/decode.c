/* RV64GC decoder. See decode.h. */
#include "decode.h"

#define BITS(x, hi, lo) (((x) >> (lo)) & ((1u << ((hi) - (lo) + 1)) - 1))
#define BIT(x, n) (((x) >> (n)) & 1u)

static inline int64_t sext(uint64_t v, unsigned bits)
{
    return (int64_t)(v << (64 - bits)) >> (64 - bits);
}

static void set(Insn *d, int op, unsigned rd, unsigned rs1, unsigned rs2, int64_t imm)
{
    d->op = (uint16_t)op;
    d->rd = (uint8_t)rd;
    d->rs1 = (uint8_t)rs1;
    d->rs2 = (uint8_t)rs2;
    d->imm = imm;
}

/* ---- 32-bit encodings ---- */

static void decode_op_fp(uint32_t x, Insn *d)
{
    unsigned f7 = BITS(x, 31, 25), f3 = BITS(x, 14, 12), rs2 = BITS(x, 24, 20);
    int op = OP_ILLEGAL;

    switch (f7) {
    case 0x00: op = OP_FADD_S; break;
    case 0x01: op = OP_FADD_D; break;
    case 0x04: op = OP_FSUB_S; break;
    case 0x05: op = OP_FSUB_D; break;
    case 0x08: op = OP_FMUL_S; break;
    case 0x09: op = OP_FMUL_D; break;
    case 0x0c: op = OP_FDIV_S; break;
    case 0x0d: op = OP_FDIV_D; break;
    case 0x2c: if (rs2 == 0) op = OP_FSQRT_S; break;
    case 0x2d: if (rs2 == 0) op = OP_FSQRT_D; break;
    case 0x10: if (f3 < 3) op = OP_FSGNJ_S + (int)f3; break;
    case 0x11: if (f3 < 3) op = OP_FSGNJ_D + (int)f3; break;
    case 0x14: if (f3 < 2) op = f3 ? OP_FMAX_S : OP_FMIN_S; break;
    case 0x15: if (f3 < 2) op = f3 ? OP_FMAX_D : OP_FMIN_D; break;
    case 0x20: if (rs2 == 1) op = OP_FCVT_S_D; break;
    case 0x21: if (rs2 == 0) op = OP_FCVT_D_S; break;
    case 0x60: if (rs2 < 4) op = OP_FCVT_W_S + (int)rs2; break;
    case 0x61: if (rs2 < 4) op = OP_FCVT_W_D + (int)rs2; break;
    case 0x68: if (rs2 < 4) op = OP_FCVT_S_W + (int)rs2; break;
    case 0x69: if (rs2 < 4) op = OP_FCVT_D_W + (int)rs2; break;
    case 0x70:
        if (rs2 == 0 && f3 == 0) op = OP_FMV_X_W;
        else if (rs2 == 0 && f3 == 1) op = OP_FCLASS_S;
        break;
    case 0x71:
        if (rs2 == 0 && f3 == 0) op = OP_FMV_X_D;
        else if (rs2 == 0 && f3 == 1) op = OP_FCLASS_D;
        break;
    case 0x50: if (f3 < 3) op = f3 == 0 ? OP_FLE_S : f3 == 1 ? OP_FLT_S : OP_FEQ_S; break;
    case 0x51: if (f3 < 3) op = f3 == 0 ? OP_FLE_D : f3 == 1 ? OP_FLT_D : OP_FEQ_D; break;
    case 0x78: if (rs2 == 0 && f3 == 0) op = OP_FMV_W_X; break;
    case 0x79: if (rs2 == 0 && f3 == 0) op = OP_FMV_D_X; break;
    default: break;
    }
    set(d, op, BITS(x, 11, 7), BITS(x, 19, 15), rs2, 0);
    d->rm = (uint8_t)f3;
}

static void decode32(uint32_t x, Insn *d)
{
    unsigned rd = BITS(x, 11, 7), rs1 = BITS(x, 19, 15), rs2 = BITS(x, 24, 20);
    unsigned f3 = BITS(x, 14, 12), f7 = BITS(x, 31, 25);
    int64_t imm_i = sext(x >> 20, 12);
    int64_t imm_s = sext((BITS(x, 31, 25) << 5) | BITS(x, 11, 7), 12);

    d->len = 4;
    switch (x & 0x7f) {
    case 0x37: set(d, OP_LUI, rd, 0, 0, (int32_t)(x & 0xfffff000u)); return;
    case 0x17: set(d, OP_AUIPC, rd, 0, 0, (int32_t)(x & 0xfffff000u)); return;
    case 0x6f:
        set(d, OP_JAL, rd, 0, 0,
            sext((BIT(x, 31) << 20) | (BITS(x, 19, 12) << 12) | (BIT(x, 20) << 11) |
                 (BITS(x, 30, 21) << 1), 21));
        return;
    case 0x67:
        if (f3 == 0) { set(d, OP_JALR, rd, rs1, 0, imm_i); return; }
        break;
    case 0x63: {
        static const int ops[8] = { OP_BEQ, OP_BNE, 0, 0, OP_BLT, OP_BGE, OP_BLTU, OP_BGEU };
        int64_t imm = sext((BIT(x, 31) << 12) | (BIT(x, 7) << 11) | (BITS(x, 30, 25) << 5) |
                           (BITS(x, 11, 8) << 1), 13);
        if (ops[f3]) { set(d, ops[f3], 0, rs1, rs2, imm); return; }
        break;
    }
    case 0x03: {
        static const int ops[8] = { OP_LB, OP_LH, OP_LW, OP_LD, OP_LBU, OP_LHU, OP_LWU, 0 };
        if (ops[f3]) { set(d, ops[f3], rd, rs1, 0, imm_i); return; }
        break;
    }
    case 0x23: {
        static const int ops[8] = { OP_SB, OP_SH, OP_SW, OP_SD, 0, 0, 0, 0 };
        if (ops[f3]) { set(d, ops[f3], 0, rs1, rs2, imm_s); return; }
        break;
    }
    case 0x13:
        switch (f3) {
        case 0: set(d, OP_ADDI, rd, rs1, 0, imm_i); return;
        case 1: if (BITS(x, 31, 26) == 0) { set(d, OP_SLLI, rd, rs1, 0, BITS(x, 25, 20)); return; } break;
        case 2: set(d, OP_SLTI, rd, rs1, 0, imm_i); return;
        case 3: set(d, OP_SLTIU, rd, rs1, 0, imm_i); return;
        case 4: set(d, OP_XORI, rd, rs1, 0, imm_i); return;
        case 5:
            if (BITS(x, 31, 26) == 0) { set(d, OP_SRLI, rd, rs1, 0, BITS(x, 25, 20)); return; }
            if (BITS(x, 31, 26) == 0x10) { set(d, OP_SRAI, rd, rs1, 0, BITS(x, 25, 20)); return; }
            break;
        case 6: set(d, OP_ORI, rd, rs1, 0, imm_i); return;
        case 7: set(d, OP_ANDI, rd, rs1, 0, imm_i); return;
        }
        break;
    case 0x1b:
        switch (f3) {
        case 0: set(d, OP_ADDIW, rd, rs1, 0, imm_i); return;
        case 1: if (f7 == 0) { set(d, OP_SLLIW, rd, rs1, 0, rs2); return; } break;
        case 5:
            if (f7 == 0) { set(d, OP_SRLIW, rd, rs1, 0, rs2); return; }
            if (f7 == 0x20) { set(d, OP_SRAIW, rd, rs1, 0, rs2); return; }
            break;
        }
        break;
    case 0x33: {
        static const int base[8] = { OP_ADD, OP_SLL, OP_SLT, OP_SLTU, OP_XOR, OP_SRL, OP_OR, OP_AND };
        static const int mul[8] = { OP_MUL, OP_MULH, OP_MULHSU, OP_MULHU, OP_DIV, OP_DIVU, OP_REM, OP_REMU };
        if (f7 == 0) { set(d, base[f3], rd, rs1, rs2, 0); return; }
        if (f7 == 1) { set(d, mul[f3], rd, rs1, rs2, 0); return; }
        if (f7 == 0x20 && f3 == 0) { set(d, OP_SUB, rd, rs1, rs2, 0); return; }
        if (f7 == 0x20 && f3 == 5) { set(d, OP_SRA, rd, rs1, rs2, 0); return; }
        break;
    }
    case 0x3b:
        if (f7 == 0) {
            if (f3 == 0) { set(d, OP_ADDW, rd, rs1, rs2, 0); return; }
            if (f3 == 1) { set(d, OP_SLLW, rd, rs1, rs2, 0); return; }
            if (f3 == 5) { set(d, OP_SRLW, rd, rs1, rs2, 0); return; }
        } else if (f7 == 0x20) {
            if (f3 == 0) { set(d, OP_SUBW, rd, rs1, rs2, 0); return; }
            if (f3 == 5) { set(d, OP_SRAW, rd, rs1, rs2, 0); return; }
        } else if (f7 == 1) {
            static const int ops[8] = { OP_MULW, 0, 0, 0, OP_DIVW, OP_DIVUW, OP_REMW, OP_REMUW };
            if (ops[f3]) { set(d, ops[f3], rd, rs1, rs2, 0); return; }
        }
        break;
    case 0x0f:
        if (f3 == 0) { set(d, OP_FENCE, 0, 0, 0, 0); return; }
        if (f3 == 1) { set(d, OP_FENCE_I, 0, 0, 0, 0); return; }
        break;
    case 0x73:
        if (f3 == 0) {
            if (x == 0x00000073) { set(d, OP_ECALL, 0, 0, 0, 0); return; }
            if (x == 0x00100073) { set(d, OP_EBREAK, 0, 0, 0, 0); return; }
            if (x == 0x30200073) { set(d, OP_MRET, 0, 0, 0, 0); return; }
            if (x == 0x10200073) { set(d, OP_SRET, 0, 0, 0, 0); return; }
            if (x == 0x10500073) { set(d, OP_WFI, 0, 0, 0, 0); return; }
            if (f7 == 0x09 && rd == 0) { set(d, OP_SFENCE_VMA, 0, rs1, rs2, 0); return; }
        } else if (f3 != 4) {
            static const int ops[8] = { 0, OP_CSRRW, OP_CSRRS, OP_CSRRC, 0, OP_CSRRWI, OP_CSRRSI, OP_CSRRCI };
            set(d, ops[f3], rd, rs1, 0, x >> 20);
            return;
        }
        break;
    case 0x2f: {
        unsigned f5 = BITS(x, 31, 27);
        int w = f3 == 2, dw = f3 == 3;
        int fn = -1;
        if (!w && !dw)
            break;
        if (f5 == 0x02) {
            if (rs2 == 0) { set(d, w ? OP_LR_W : OP_LR_D, rd, rs1, 0, 0); return; }
            break;
        }
        if (f5 == 0x03) { set(d, w ? OP_SC_W : OP_SC_D, rd, rs1, rs2, 0); return; }
        switch (f5) {
        case 0x01: fn = AMO_SWAP; break;
        case 0x00: fn = AMO_ADD; break;
        case 0x04: fn = AMO_XOR; break;
        case 0x0c: fn = AMO_AND; break;
        case 0x08: fn = AMO_OR; break;
        case 0x10: fn = AMO_MIN; break;
        case 0x14: fn = AMO_MAX; break;
        case 0x18: fn = AMO_MINU; break;
        case 0x1c: fn = AMO_MAXU; break;
        }
        if (fn >= 0) { set(d, w ? OP_AMO_W : OP_AMO_D, rd, rs1, rs2, fn); return; }
        break;
    }
    case 0x07:
        if (f3 == 2) { set(d, OP_FLW, rd, rs1, 0, imm_i); return; }
        if (f3 == 3) { set(d, OP_FLD, rd, rs1, 0, imm_i); return; }
        break;
    case 0x27:
        if (f3 == 2) { set(d, OP_FSW, 0, rs1, rs2, imm_s); return; }
        if (f3 == 3) { set(d, OP_FSD, 0, rs1, rs2, imm_s); return; }
        break;
    case 0x43: case 0x47: case 0x4b: case 0x4f: {
        unsigned fmt = BITS(x, 26, 25), k = (BITS(x, 6, 2) - 0x10);
        if (fmt > 1)
            break;
        set(d, (fmt ? OP_FMADD_D : OP_FMADD_S) + (int)k, rd, rs1, rs2, 0);
        d->rs3 = (uint8_t)BITS(x, 31, 27);
        d->rm = (uint8_t)f3;
        return;
    }
    case 0x53:
        decode_op_fp(x, d);
        return;
    }
    set(d, OP_ILLEGAL, 0, 0, 0, 0);
}

/* ---- 16-bit (RVC) encodings, expanded ---- */

static void decode16(uint32_t x, Insn *d)
{
    unsigned f3 = BITS(x, 15, 13);
    unsigned rd = BITS(x, 11, 7), rs2 = BITS(x, 6, 2);
    unsigned rdp = 8 + BITS(x, 4, 2), rs1p = 8 + BITS(x, 9, 7);
    int64_t imm6 = sext((BIT(x, 12) << 5) | BITS(x, 6, 2), 6);

    d->len = 2;
    d->rs3 = 0;
    d->rm = 7;
    switch (x & 3) {
    case 0:
        switch (f3) {
        case 0: {
            unsigned imm = (BITS(x, 12, 11) << 4) | (BITS(x, 10, 7) << 6) |
                           (BIT(x, 6) << 2) | (BIT(x, 5) << 3);
            if (imm) { set(d, OP_ADDI, rdp, 2, 0, imm); return; }
            break;
        }
        case 1: set(d, OP_FLD, rdp, rs1p, 0, (BITS(x, 12, 10) << 3) | (BITS(x, 6, 5) << 6)); return;
        case 2: set(d, OP_LW, rdp, rs1p, 0, (BITS(x, 12, 10) << 3) | (BIT(x, 6) << 2) | (BIT(x, 5) << 6)); return;
        case 3: set(d, OP_LD, rdp, rs1p, 0, (BITS(x, 12, 10) << 3) | (BITS(x, 6, 5) << 6)); return;
        case 5: set(d, OP_FSD, 0, rs1p, rdp, (BITS(x, 12, 10) << 3) | (BITS(x, 6, 5) << 6)); return;
        case 6: set(d, OP_SW, 0, rs1p, rdp, (BITS(x, 12, 10) << 3) | (BIT(x, 6) << 2) | (BIT(x, 5) << 6)); return;
        case 7: set(d, OP_SD, 0, rs1p, rdp, (BITS(x, 12, 10) << 3) | (BITS(x, 6, 5) << 6)); return;
        }
        break;
    case 1:
        switch (f3) {
        case 0: set(d, OP_ADDI, rd, rd, 0, imm6); return;
        case 1: if (rd) { set(d, OP_ADDIW, rd, rd, 0, imm6); return; } break;
        case 2: set(d, OP_ADDI, rd, 0, 0, imm6); return;
        case 3:
            if (rd == 2) {
                int64_t imm = sext((BIT(x, 12) << 9) | (BIT(x, 6) << 4) | (BIT(x, 5) << 6) |
                                   (BITS(x, 4, 3) << 7) | (BIT(x, 2) << 5), 10);
                if (imm) { set(d, OP_ADDI, 2, 2, 0, imm); return; }
            } else {
                int64_t imm = sext((BIT(x, 12) << 17) | (BITS(x, 6, 2) << 12), 18);
                if (imm) { set(d, OP_LUI, rd, 0, 0, imm); return; }
            }
            break;
        case 4:
            switch (BITS(x, 11, 10)) {
            case 0: set(d, OP_SRLI, rs1p, rs1p, 0, (BIT(x, 12) << 5) | BITS(x, 6, 2)); return;
            case 1: set(d, OP_SRAI, rs1p, rs1p, 0, (BIT(x, 12) << 5) | BITS(x, 6, 2)); return;
            case 2: set(d, OP_ANDI, rs1p, rs1p, 0, imm6); return;
            case 3: {
                static const int ops0[4] = { OP_SUB, OP_XOR, OP_OR, OP_AND };
                static const int ops1[4] = { OP_SUBW, OP_ADDW, 0, 0 };
                int op = BIT(x, 12) ? ops1[BITS(x, 6, 5)] : ops0[BITS(x, 6, 5)];
                if (op) { set(d, op, rs1p, rs1p, rdp, 0); return; }
                break;
            }
            }
            break;
        case 5:
            set(d, OP_JAL, 0, 0, 0,
                sext((BIT(x, 12) << 11) | (BIT(x, 11) << 4) | (BITS(x, 10, 9) << 8) |
                     (BIT(x, 8) << 10) | (BIT(x, 7) << 6) | (BIT(x, 6) << 7) |
                     (BITS(x, 5, 3) << 1) | (BIT(x, 2) << 5), 12));
            return;
        case 6: case 7:
            set(d, f3 == 6 ? OP_BEQ : OP_BNE, 0, rs1p, 0,
                sext((BIT(x, 12) << 8) | (BITS(x, 11, 10) << 3) | (BITS(x, 6, 5) << 6) |
                     (BITS(x, 4, 3) << 1) | (BIT(x, 2) << 5), 9));
            return;
        }
        break;
    case 2:
        switch (f3) {
        case 0: set(d, OP_SLLI, rd, rd, 0, (BIT(x, 12) << 5) | BITS(x, 6, 2)); return;
        case 1: set(d, OP_FLD, rd, 2, 0, (BIT(x, 12) << 5) | (BITS(x, 6, 5) << 3) | (BITS(x, 4, 2) << 6)); return;
        case 2: if (rd) { set(d, OP_LW, rd, 2, 0, (BIT(x, 12) << 5) | (BITS(x, 6, 4) << 2) | (BITS(x, 3, 2) << 6)); return; } break;
        case 3: if (rd) { set(d, OP_LD, rd, 2, 0, (BIT(x, 12) << 5) | (BITS(x, 6, 5) << 3) | (BITS(x, 4, 2) << 6)); return; } break;
        case 4:
            if (!BIT(x, 12)) {
                if (rs2 == 0) { if (rd) { set(d, OP_JALR, 0, rd, 0, 0); return; } break; }
                set(d, OP_ADD, rd, 0, rs2, 0);
                return;
            }
            if (rs2 == 0) {
                if (rd == 0) { set(d, OP_EBREAK, 0, 0, 0, 0); return; }
                set(d, OP_JALR, 1, rd, 0, 0);
                return;
            }
            set(d, OP_ADD, rd, rd, rs2, 0);
            return;
        case 5: set(d, OP_FSD, 0, 2, rs2, (BITS(x, 12, 10) << 3) | (BITS(x, 9, 7) << 6)); return;
        case 6: set(d, OP_SW, 0, 2, rs2, (BITS(x, 12, 9) << 2) | (BITS(x, 8, 7) << 6)); return;
        case 7: set(d, OP_SD, 0, 2, rs2, (BITS(x, 12, 10) << 3) | (BITS(x, 9, 7) << 6)); return;
        }
        break;
    }
    set(d, OP_ILLEGAL, 0, 0, 0, 0);
}

void insn_decode(uint32_t raw, Insn *d)
{
    d->rs3 = 0;
    d->rm = 0;
    if ((raw & 3) == 3)
        decode32(raw, d);
    else
        decode16(raw & 0xffff, d);
}
