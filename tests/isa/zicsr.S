/* Zicsr: csrrw/csrrs/csrrc and the immediate forms, the rd=x0 and
 * rs1=x0/uimm=0 rules (no write => no trap on a read-only CSR), counters. */
#include "test.h"
TEST_START
    NEXT_TEST; li x12, 0x1234; csrw mscratch, x12; csrr x14, mscratch; CHECK(x14, 0x1234)
    NEXT_TEST; li x12, 0x5678; csrrw x14, mscratch, x12; CHECK(x14, 0x1234); csrr x14, mscratch; CHECK(x14, 0x5678)
    NEXT_TEST; li x12, 0x0003; csrrs x14, mscratch, x12; CHECK(x14, 0x5678); csrr x14, mscratch; CHECK(x14, 0x567b)
    NEXT_TEST; li x12, 0x0070; csrrc x14, mscratch, x12; CHECK(x14, 0x567b); csrr x14, mscratch; CHECK(x14, 0x560b)
    NEXT_TEST; csrrwi x14, mscratch, 31; CHECK(x14, 0x560b); csrr x14, mscratch; CHECK(x14, 31)
    NEXT_TEST; csrrci x14, mscratch, 0x5; CHECK(x14, 31); csrr x14, mscratch; CHECK(x14, 26)
    NEXT_TEST; csrrsi x14, mscratch, 0x1; CHECK(x14, 26); csrr x14, mscratch; CHECK(x14, 27)
    NEXT_TEST; li x12, -1; csrw mscratch, x12; csrr x14, mscratch; CHECK(x14, -1)   /* full XLEN */
    /* rd == rs1: the old value goes to rd, the new value came from rs1 */
    NEXT_TEST; li x12, 0x42; csrrw x12, mscratch, x12; CHECK(x12, -1); csrr x14, mscratch; CHECK(x14, 0x42)
    /* rd = x0 forms */
    NEXT_TEST; li x12, 7; csrrw x0, mscratch, x12; csrr x14, mscratch; CHECK(x14, 7)
    NEXT_TEST; li x12, 8; csrrs x0, mscratch, x12; csrr x14, mscratch; CHECK(x14, 15)
    NEXT_TEST; li x12, 1; csrrc x0, mscratch, x12; csrr x14, mscratch; CHECK(x14, 14)
    NEXT_TEST; csrrwi x0, mscratch, 3; csrr x14, mscratch; CHECK(x14, 3)
    /* rs1 = x0 / uimm = 0: value unchanged */
    NEXT_TEST; csrrs x14, mscratch, x0; CHECK(x14, 3); csrrc x14, mscratch, x0; CHECK(x14, 3)
    NEXT_TEST; csrrsi x14, mscratch, 0; csrrci x14, mscratch, 0; csrr x14, mscratch; CHECK(x14, 3)
    NEXT_TEST; csrrwi x14, mscratch, 0; CHECK(x14, 3); csrr x14, mscratch; CHECK(x14, 0)
    /* mscratch is the trap handler's stack pointer: restore it */
    la x12, trap_stack_top; csrw mscratch, x12
    /* read-only CSR (mhartid): reads with no write are fine ... */
    NEXT_TEST; csrrs x14, mhartid, x0; CHECK(x14, 0)
    NEXT_TEST; csrrc x14, mhartid, x0; csrrsi x14, mhartid, 0; csrrci x14, mhartid, 0; CHECK(x14, 0)
    NEXT_TEST; csrr x14, mvendorid; csrr x14, marchid; csrr x14, mimpid
    /* ... any write traps, even csrrw with rd = x0 or a zero value */
    NEXT_TEST; EXPECT_TRAP_SKIP(CAUSE_ILLEGAL); li x12, 1; csrrs x14, mhartid, x12; CHECK_TRAPPED(trap_info)
    NEXT_TEST; EXPECT_TRAP_SKIP(CAUSE_ILLEGAL); csrrw x0, mhartid, x0; CHECK_TRAPPED(trap_info)
    NEXT_TEST; EXPECT_TRAP_SKIP(CAUSE_ILLEGAL); csrrwi x14, mhartid, 0; CHECK_TRAPPED(trap_info)
    NEXT_TEST; EXPECT_TRAP_SKIP(CAUSE_ILLEGAL); csrrsi x14, mhartid, 1; CHECK_TRAPPED(trap_info)
    /* mtval holds the faulting instruction bits */
    NEXT_TEST; EXPECT_TRAP(CAUSE_ILLEGAL, 2f)
1:  csrrci x14, mhartid, 1
    j fail
2:  CHECK_TI(trap_info, TI_TVAL, 0xf140f773)
    CHECK_TI_LABEL(trap_info, TI_EPC, 1b)
    /* a CSR number that does not exist */
    NEXT_TEST; EXPECT_TRAP_SKIP(CAUSE_ILLEGAL); csrr x14, 0x7ff; CHECK_TRAPPED(trap_info)
    /* misa says RV64 with I, M, A, F, D, C, S, U */
    NEXT_TEST; csrr x14, misa; srli x15, x14, 62; CHECK(x15, 2)
    li x15, (1<<8)|(1<<12)|(1<<0)|(1<<5)|(1<<3)|(1<<2)|(1<<18)|(1<<20)
    and x14, x14, x15; bne x14, x15, fail
    /* counters: cycle/instret/time readable in M-mode and advancing */
    NEXT_TEST; rdinstret x12; nop; nop; nop; rdinstret x13; bgeu x12, x13, fail
    NEXT_TEST; rdcycle x12; li x15, 1000; 1: addi x15, x15, -1; bnez x15, 1b; rdcycle x13; bgeu x12, x13, fail
    NEXT_TEST; csrr x12, minstret; csrr x13, minstret; bgeu x12, x13, fail
    NEXT_TEST; csrr x12, mcycle; csrr x13, mcycle; bgeu x12, x13, fail
    /* time CSR: QEMU's spike machine (like real Spike) does not implement
       it (illegal instruction, M-mode firmware emulates it); when it
       exists it must advance and match CLINT mtime. */
    NEXT_TEST; EXPECT_TRAP(CAUSE_ILLEGAL, 8f); rdtime x12; DISARM(trap_info)
    li x15, 200000; 1: addi x15, x15, -1; bnez x15, 1b; rdtime x13; bgeu x12, x13, fail
    NEXT_TEST; li x11, CLINT_MTIME; ld x12, 0(x11); rdtime x13; ld x14, 0(x11)
    bltu x13, x12, fail; bltu x14, x13, fail
8:
TEST_PASS
TEST_END
