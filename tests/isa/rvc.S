/* RVC: every RV64C instruction, written with explicit c.* mnemonics. */
#include "test.h"
TEST_START
    /* loads/stores through rs1' */
    NEXT_TEST; la x8, cdata; c.ld x14, 0(x8); CHECK(x14, 0x8877665544332211)
    NEXT_TEST; c.lw x14, 8(x8); CHECK(x14, 0xffffffff80000001)
    NEXT_TEST; li x12, 0x0123456789abcdef; c.sd x12, 16(x8); ld x14, 16(x8); CHECK(x14, 0x0123456789abcdef)
    NEXT_TEST; li x13, 0xfedcba98; c.sw x13, 24(x8); lwu x14, 24(x8); CHECK(x14, 0xfedcba98)
    NEXT_TEST; c.fld f9, 0(x8); c.fsd f9, 32(x8); ld x14, 32(x8); CHECK(x14, 0x8877665544332211)
    NEXT_TEST; c.ld x14, 248(x8); CHECK(x14, 0x5a5a)          /* largest offset */
    NEXT_TEST; c.lw x14, 124(x8); CHECK(x14, 0x77)
    /* sp-relative */
    NEXT_TEST; la sp, cdata
    c.ldsp x14, 0(sp); CHECK(x14, 0x8877665544332211)
    NEXT_TEST; c.lwsp x14, 8(sp); CHECK(x14, 0xffffffff80000001)
    NEXT_TEST; li x15, 0x1122; c.sdsp x15, 40(sp); ld x14, 40(x8); CHECK(x14, 0x1122)
    NEXT_TEST; li x15, 0x80000000; c.swsp x15, 48(sp); ld x14, 48(x8); CHECK(x14, 0x80000000)
    NEXT_TEST; c.fldsp f3, 0(sp); c.fsdsp f3, 56(sp); ld x14, 56(x8); CHECK(x14, 0x8877665544332211)
    NEXT_TEST; c.ldsp x14, 248(sp); CHECK(x14, 0x5a5a)
    /* c.addi4spn / c.addi16sp */
    NEXT_TEST; c.addi4spn x14, sp, 1020; sub x14, x14, sp; CHECK(x14, 1020)
    NEXT_TEST; c.addi4spn x14, sp, 4; sub x14, x14, sp; CHECK(x14, 4)
    NEXT_TEST; mv x12, sp; c.addi16sp sp, -512; sub x14, x12, sp; CHECK(x14, 512)
    NEXT_TEST; c.addi16sp sp, 496; sub x14, x12, sp; CHECK(x14, 16)
    la sp, stack_top
    /* constant generation and immediate ALU */
    NEXT_TEST; c.li x14, -32; CHECK(x14, -32)
    NEXT_TEST; c.li x14, 31; CHECK(x14, 31)
    NEXT_TEST; c.lui x14, 0x1f; CHECK(x14, 0x1f000)
    NEXT_TEST; c.lui x14, 0xfffe0; CHECK(x14, 0xfffffffffffe0000)
    NEXT_TEST; li x14, 10; c.addi x14, -11; CHECK(x14, -1)
    NEXT_TEST; li x14, 0x7fffffff; c.addiw x14, 1; CHECK(x14, 0xffffffff80000000)
    NEXT_TEST; li x14, 0x100000005; c.addiw x14, 0; CHECK(x14, 5)   /* sext.w */
    NEXT_TEST; li x14, 1; c.slli x14, 63; CHECK(x14, 0x8000000000000000)
    NEXT_TEST; li x14, -1; c.srli x14, 60; CHECK(x14, 15)
    NEXT_TEST; li x14, 0x8000000000000000; c.srai x14, 62; CHECK(x14, -2)
    NEXT_TEST; li x14, 0xff; c.andi x14, -16; CHECK(x14, 0xf0)
    NEXT_TEST; li x14, 0xff; c.andi x14, 5; CHECK(x14, 5)
    /* register ALU */
    NEXT_TEST; li x14, 5; li x12, 7; c.sub x14, x12; CHECK(x14, -2)
    NEXT_TEST; li x14, 0xf0; li x12, 0xff; c.xor x14, x12; CHECK(x14, 0x0f)
    NEXT_TEST; li x14, 0xf0; li x12, 0x0f; c.or x14, x12; CHECK(x14, 0xff)
    NEXT_TEST; li x14, 0xf0; li x12, 0x3c; c.and x14, x12; CHECK(x14, 0x30)
    NEXT_TEST; li x14, 0x80000000; li x12, 1; c.subw x14, x12; CHECK(x14, 0x7fffffff)
    NEXT_TEST; li x14, 0x7fffffff; li x12, 1; c.addw x14, x12; CHECK(x14, 0xffffffff80000000)
    NEXT_TEST; li x5, 123; c.mv x14, x5; CHECK(x14, 123)
    NEXT_TEST; li x14, 100; li x5, -1; c.add x14, x5; CHECK(x14, 99)
    NEXT_TEST; li x20, 3; li x21, 4; c.add x20, x21; CHECK(x20, 7)   /* full register set */
    NEXT_TEST; c.nop; c.nop
    /* control flow */
    NEXT_TEST; c.j 1f; j fail
1:  NEXT_TEST; li x9, 0; c.beqz x9, 1f; j fail
1:  NEXT_TEST; li x9, 1; c.beqz x9, fail_near1; c.bnez x9, 1f; j fail
1:  NEXT_TEST; li x9, 0; c.bnez x9, fail_near1
    NEXT_TEST; la x5, 1f; c.jr x5; j fail
    .balign 2
1:  NEXT_TEST; la x5, 1f; c.jalr x5; 2: j fail
1:  la x12, 2b; bne ra, x12, fail
    /* c.jalr with rs1 == ra: target is the old ra */
    NEXT_TEST; la ra, 1f; c.jalr ra; 2: j fail
1:  la x12, 2b; bne ra, x12, fail
    /* return address of c.jalr is pc + 2 */
    NEXT_TEST; la x5, 1f; 3: c.jalr x5
1:  la x12, 3b; addi x12, x12, 2; bne ra, x12, fail
    /* c.ebreak traps with cause 3 and mepc at the 2-byte instruction */
    NEXT_TEST; EXPECT_TRAP_SKIP(CAUSE_BREAKPOINT)
1:  c.ebreak
    CHECK_TRAPPED(trap_info)
    CHECK_TI_LABEL(trap_info, TI_EPC, 1b)
    j 2f
fail_near1: j fail
2:
TEST_PASS
    .data
    .balign 8
cdata: .dword 0x8877665544332211
    .word 0x80000001, 0
    .skip 124 - 16
    .word 0x77
    .skip 248 - 128
    .dword 0x5a5a
TEST_END
