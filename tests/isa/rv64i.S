/* RV64I: ALU register/immediate ops, shifts, word forms, lui/auipc,
 * branches, jal/jalr, loads and stores of every width, fence. */
#include "test.h"
TEST_START
    /* add/sub and word forms */
    TEST_RR(add, 0, 0, 0)
    TEST_RR(add, 3, 1, 2)
    TEST_RR(add, 0, -1, 1)
    TEST_RR(add, 0x8000000000000000, 0x7fffffffffffffff, 1)
    TEST_RR(sub, -1, 1, 2)
    TEST_RR(sub, 0x7fffffffffffffff, 0x8000000000000000, 1)
    TEST_RR(addw, 0xffffffff80000000, 0x7fffffff, 1)
    TEST_RR(addw, 2, 0x100000001, 1)
    TEST_RR(subw, 0x7fffffff, 0xffffffff80000000, 1)
    TEST_RR(subw, -1, 0x100000000, 1)
    TEST_IMM(addi, 0x800, 0x801, -1)
    TEST_IMM(addi, -2048, 0, -2048)
    TEST_IMM(addi, 2047, 0, 2047)
    TEST_IMM(addiw, 0xffffffff80000000, 0x7fffffff, 1)
    TEST_IMM(addiw, 0, 0x1ffffffff, 1)
    TEST_IMM(addiw, 0x7fffffff, 0x7fffffff, 0)
    /* logic */
    TEST_RR(and, 0x0f000f00, 0xff00ff00, 0x0f0f0f0f)
    TEST_RR(or, 0xff0fff0f, 0xff00ff00, 0x0f0f0f0f)
    TEST_RR(xor, 0xf00ff00f, 0xff00ff00, 0x0f0f0f0f)
    TEST_IMM(andi, 0xffffffffff00ff00, 0xffffffffff00ff0f, -256)
    TEST_IMM(andi, 0x70f, 0xff00ff0f, 0x7ff)
    TEST_IMM(ori, -241, 0xff00ff00, -241)
    TEST_IMM(ori, 0xff00fff0, 0xff00ff00, 0x0f0)
    TEST_IMM(xori, 0xffffffffff00f00f, 0x00ff0f00, -0xf1)
    TEST_IMM(xori, 0xff00fff0, 0xff00ff0f, 0xff)
    /* compares */
    TEST_RR(slt, 1, -1, 0)
    TEST_RR(slt, 0, 0, -1)
    TEST_RR(slt, 0, 5, 5)
    TEST_RR(sltu, 0, -1, 0)
    TEST_RR(sltu, 1, 0, -1)
    TEST_RR(sltu, 0, 7, 7)
    TEST_IMM(slti, 1, -5, -4)
    TEST_IMM(slti, 0, 0x7fffffffffffffff, 2047)
    TEST_IMM(sltiu, 1, 0, -1)         /* imm sign-extends to all-ones */
    TEST_IMM(sltiu, 0, -1, -1)
    TEST_IMM(sltiu, 1, 0, 1)          /* seqz */
    /* shifts */
    TEST_RR(sll, 0x8000000000000000, 1, 63)
    TEST_RR(sll, 2, 1, 65)            /* only low 6 bits of rs2 */
    TEST_RR(srl, 1, 0x8000000000000000, 63)
    TEST_RR(srl, 0x7fffffffffffffff, -1, 1)
    TEST_RR(sra, -1, 0x8000000000000000, 63)
    TEST_RR(sra, 0xc000000000000000, 0x8000000000000000, 1)
    TEST_IMM(slli, 0x8000000000000000, 1, 63)
    TEST_IMM(srli, 0x00ffffffffffffff, -1, 8)
    TEST_IMM(srai, -1, -1, 63)
    TEST_IMM(srai, 0xff80000000000000, 0x8000000000000000, 8)
    TEST_RR(sllw, 0xffffffff80000000, 1, 31)
    TEST_RR(sllw, 2, 1, 33)           /* only low 5 bits */
    TEST_RR(sllw, 0, 0x100000000, 0)
    TEST_RR(srlw, 1, 0x80000000, 31)
    TEST_RR(srlw, 0xffffffff80000000, 0xffffffff80000000, 0)
    TEST_RR(srlw, 0x7fffffff, 0xffffffffffffffff, 1)
    TEST_RR(sraw, -1, 0x80000000, 31)
    TEST_RR(sraw, 0xffffffffc0000000, 0x80000000, 1)
    TEST_RR(sraw, 0x7fffffff, 0xfffffffe7fffffff, 0)
    TEST_IMM(slliw, 0xffffffff80000000, 1, 31)
    TEST_IMM(slliw, 0, 0x100000000, 4)
    TEST_IMM(srliw, 0x7fffffff, -1, 1)
    TEST_IMM(srliw, 0xffffffff80000000, 0x80000000, 0)
    TEST_IMM(sraiw, 0xfffffffff8000000, 0x80000000, 4)
    TEST_IMM(sraiw, 0x07ffffff, 0xffffffff7fffffff, 4)
    /* rd == rs1 / rs2 and rd == x0 */
    TEST_RR_RD_RS1(add, 24, 13, 11)
    TEST_RR_RD_RS2(sub, 2, 13, 11)
    TEST_IMM_RD_RS1(addi, 24, 13, 11)
    TEST_RR_X0(add, 1, 2)
    NEXT_TEST; li x11, 5; addi x0, x11, 3; bnez x0, fail

    /* lui / auipc */
    NEXT_TEST; lui x14, 0x80000; CHECK(x14, 0xffffffff80000000)
    NEXT_TEST; lui x14, 0x7ffff; CHECK(x14, 0x7ffff000)
    NEXT_TEST; lui x14, 0; CHECK(x14, 0)
    NEXT_TEST; 1: auipc x14, 0; la x11, 1b; bne x14, x11, fail
    NEXT_TEST; 1: auipc x14, 1; la x11, 1b; sub x14, x14, x11; CHECK(x14, 0x1000)
    NEXT_TEST; 1: auipc x14, 0x80000; la x11, 1b; sub x14, x14, x11; CHECK(x14, 0xffffffff80000000)

    /* branches taken / not taken */
    TEST_BR_TAKEN(beq, 5, 5)
    TEST_BR_NOT(beq, 5, 6)
    TEST_BR_TAKEN(bne, 5, 6)
    TEST_BR_NOT(bne, -1, -1)
    TEST_BR_TAKEN(blt, -1, 0)
    TEST_BR_NOT(blt, 0, -1)
    TEST_BR_NOT(blt, 3, 3)
    TEST_BR_TAKEN(bge, 0, -1)
    TEST_BR_TAKEN(bge, 3, 3)
    TEST_BR_NOT(bge, -1, 0)
    TEST_BR_TAKEN(bltu, 0, -1)
    TEST_BR_NOT(bltu, -1, 0)
    TEST_BR_NOT(bltu, 3, 3)
    TEST_BR_TAKEN(bgeu, -1, 0)
    TEST_BR_TAKEN(bgeu, 3, 3)
    TEST_BR_NOT(bgeu, 0, -1)
    /* backward branch */
    NEXT_TEST; li x11, 3; li x14, 0
1:  addi x14, x14, 1; addi x11, x11, -1; bnez x11, 1b; CHECK(x14, 3)

    /* jal / jalr */
    NEXT_TEST; jal x1, 1f; 2: j fail
1:  la x11, 2b; bne x1, x11, fail
    NEXT_TEST; jal x0, 1f; j fail; 1:
    NEXT_TEST; la x11, 1f; jalr x1, 0(x11); 2: j fail
1:  la x12, 2b; bne x1, x12, fail
    /* offset and lowest-bit clearing */
    NEXT_TEST; la x11, 1f - 3; jalr x1, 4(x11); j fail
    .balign 4
1:  nop
    NEXT_TEST; la x11, 1f + 1; jalr x0, 0(x11); j fail
1:  nop
    /* rd == rs1: target computed from the old value */
    NEXT_TEST; la x11, 1f; jalr x11, 0(x11); 2: j fail
1:  la x12, 2b; bne x11, x12, fail
    /* jalr with negative offset */
    NEXT_TEST; j 2f
1:  j 3f
2:  la x11, 1b + 8; jalr x5, -8(x11); j fail
3:

    /* loads: sign and zero extension */
    TEST_LD(lb, -1, 0, ldata)
    TEST_LD(lb, 0x7f, 1, ldata)
    TEST_LD(lbu, 0xff, 0, ldata)
    TEST_LD(lbu, 0x80, 2, ldata)
    TEST_LD(lh, 0x7fff, 2, ldata16)
    TEST_LD(lh, -32768 + 0x0001, 0, ldata16)
    TEST_LD(lhu, 0x8001, 0, ldata16)
    TEST_LD(lw, 0xffffffff80000001, 0, ldata32)
    TEST_LD(lw, 0x7fffffff, 4, ldata32)
    TEST_LD(lwu, 0x80000001, 0, ldata32)
    TEST_LD(ld, 0x7fffffff80000001, 0, ldata32)
    TEST_LD(ld, 0x8000000000000000, 8, ldata32)
    TEST_LD(lb, 0x12, -1, ldata)       /* negative offset */
    TEST_LD(lhu, 0x1234, -2, ldata)
    /* stores of every width, checked with loads */
    TEST_ST(sb, lbu, 0xaa, 0xaa, 0, sdata)
    TEST_ST(sb, ld, 0x5566, 0x66, 8, sdata)
    TEST_ST(sh, lhu, 0xbeef, 0xbeef, 16, sdata)
    TEST_ST(sh, lh, 0x1234beef, 0xffffffffffffbeef, 18, sdata)
    TEST_ST(sw, lw, 0x89abcdef, 0xffffffff89abcdef, 24, sdata)
    TEST_ST(sw, lwu, 0x1189abcdef, 0x89abcdef, 28, sdata)
    TEST_ST(sd, ld, 0x0123456789abcdef, 0x0123456789abcdef, 32, sdata)
    TEST_ST(sd, lw, 0x0123456789abcdef, 0xffffffff89abcdef, 40, sdata)
    TEST_ST(sb, lb, 0x80, -128, -1, sdata + 48)
    /* store leaves neighbours untouched */
    NEXT_TEST; la x11, sdata; li x12, -1; sd x12, 48(x11); sb x0, 50(x11)
    ld x14, 48(x11); CHECK(x14, 0xffffffffff00ffff)
    NEXT_TEST; sh x0, 52(x11); ld x14, 48(x11); CHECK(x14, 0xffff0000ff00ffff)
    /* load into x0 is discarded */
    NEXT_TEST; la x11, ldata32; ld x0, 0(x11); bnez x0, fail

    /* fence variants execute */
    NEXT_TEST; fence; fence rw, rw; fence r, w; fence.tso; fence iorw, iorw
    la x11, sdata; li x12, 77; sd x12, 0(x11); fence w, r; ld x14, 0(x11); CHECK(x14, 77)
TEST_PASS

    .data
    .balign 8
    .byte 0x34, 0x12
ldata:   .byte 0xff, 0x7f, 0x80, 0x00, 0, 0, 0, 0
ldata16: .half 0x8001, 0x7fff, 0, 0
ldata32: .word 0x80000001, 0x7fffffff, 0, 0x80000000
    .balign 8
sdata:   .skip 64
TEST_END
