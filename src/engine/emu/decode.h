/* RV64GC instruction decoding: raw bits -> Insn. Compressed instructions are
 * expanded to their 32-bit equivalents, so the executor (and a future JIT)
 * sees one instruction set. Decoding has no side effects and needs no hart
 * state, so its results can be cached by address. */
#ifndef XENO_EMU_DECODE_H
#define XENO_EMU_DECODE_H

#include <stdint.h>

enum insn_op {
    OP_ILLEGAL = 0,
    /* RV64I */
    OP_LUI, OP_AUIPC, OP_JAL, OP_JALR,
    OP_BEQ, OP_BNE, OP_BLT, OP_BGE, OP_BLTU, OP_BGEU,
    OP_LB, OP_LH, OP_LW, OP_LD, OP_LBU, OP_LHU, OP_LWU,
    OP_SB, OP_SH, OP_SW, OP_SD,
    OP_ADDI, OP_SLTI, OP_SLTIU, OP_XORI, OP_ORI, OP_ANDI, OP_SLLI, OP_SRLI, OP_SRAI,
    OP_ADD, OP_SUB, OP_SLL, OP_SLT, OP_SLTU, OP_XOR, OP_SRL, OP_SRA, OP_OR, OP_AND,
    OP_ADDIW, OP_SLLIW, OP_SRLIW, OP_SRAIW,
    OP_ADDW, OP_SUBW, OP_SLLW, OP_SRLW, OP_SRAW,
    OP_FENCE, OP_FENCE_I, OP_ECALL, OP_EBREAK,
    /* M */
    OP_MUL, OP_MULH, OP_MULHSU, OP_MULHU, OP_DIV, OP_DIVU, OP_REM, OP_REMU,
    OP_MULW, OP_DIVW, OP_DIVUW, OP_REMW, OP_REMUW,
    /* A: imm holds the AMO function (enum amo_fn) */
    OP_LR_W, OP_SC_W, OP_AMO_W, OP_LR_D, OP_SC_D, OP_AMO_D,
    /* Zicsr: imm = csr number; for the I forms rs1 is the zimm */
    OP_CSRRW, OP_CSRRS, OP_CSRRC, OP_CSRRWI, OP_CSRRSI, OP_CSRRCI,
    /* privileged */
    OP_MRET, OP_SRET, OP_WFI, OP_SFENCE_VMA,
    /* F / D */
    OP_FLW, OP_FLD, OP_FSW, OP_FSD,
    OP_FMADD_S, OP_FMSUB_S, OP_FNMSUB_S, OP_FNMADD_S,
    OP_FMADD_D, OP_FMSUB_D, OP_FNMSUB_D, OP_FNMADD_D,
    OP_FADD_S, OP_FSUB_S, OP_FMUL_S, OP_FDIV_S, OP_FSQRT_S,
    OP_FSGNJ_S, OP_FSGNJN_S, OP_FSGNJX_S, OP_FMIN_S, OP_FMAX_S,
    OP_FCVT_W_S, OP_FCVT_WU_S, OP_FCVT_L_S, OP_FCVT_LU_S,
    OP_FMV_X_W, OP_FEQ_S, OP_FLT_S, OP_FLE_S, OP_FCLASS_S,
    OP_FCVT_S_W, OP_FCVT_S_WU, OP_FCVT_S_L, OP_FCVT_S_LU, OP_FMV_W_X,
    OP_FADD_D, OP_FSUB_D, OP_FMUL_D, OP_FDIV_D, OP_FSQRT_D,
    OP_FSGNJ_D, OP_FSGNJN_D, OP_FSGNJX_D, OP_FMIN_D, OP_FMAX_D,
    OP_FCVT_W_D, OP_FCVT_WU_D, OP_FCVT_L_D, OP_FCVT_LU_D,
    OP_FMV_X_D, OP_FEQ_D, OP_FLT_D, OP_FLE_D, OP_FCLASS_D,
    OP_FCVT_D_W, OP_FCVT_D_WU, OP_FCVT_D_L, OP_FCVT_D_LU, OP_FMV_D_X,
    OP_FCVT_S_D, OP_FCVT_D_S,
    OP_COUNT
};

enum amo_fn { AMO_SWAP, AMO_ADD, AMO_XOR, AMO_AND, AMO_OR,
              AMO_MIN, AMO_MAX, AMO_MINU, AMO_MAXU };

typedef struct Insn {
    uint16_t op;       /* enum insn_op */
    uint8_t rd, rs1, rs2, rs3;
    uint8_t rm;        /* FP rounding mode field (7 = dynamic) */
    uint8_t len;       /* 2 or 4 bytes */
    int64_t imm;
} Insn;

/* Decode one instruction. `raw` holds at least the low 16 bits; for a 32-bit
 * instruction all 32. Unknown or reserved encodings give OP_ILLEGAL. */
void insn_decode(uint32_t raw, Insn *d);

/* Length in bytes implied by the low bits of an instruction. */
static inline unsigned insn_length(uint32_t raw) { return (raw & 3) == 3 ? 4 : 2; }

#endif
