/* Delegation: medeleg routes exceptions from S/U to the S handler
 * (scause/sepc/stval/SPP), never from M; undelegated ones still go to M.
 * (Interrupt delegation through mideleg is in interrupts.S.) */
#include "test.h"
TEST_START
    /* ecall from U delegated to S */
    NEXT_TEST; li t0, (1 << CAUSE_ECALL_U) | (1 << CAUSE_ILLEGAL) | (1 << CAUSE_BREAKPOINT); csrw medeleg, t0
    csrr x14, medeleg; li x15, (1 << CAUSE_ECALL_U); and x14, x14, x15; beqz x14, fail
    EXPECT_STRAP(CAUSE_ECALL_U, 2f); GOTO_U(1f)
1:  ecall
    j fail
2:  CHECK_TRAPPED(strap_info)             /* resumed in U via sret */
    CHECK_TI_LABEL(strap_info, TI_EPC, 1b)
    NEXT_TEST; la t4, strap_info; ld t5, TI_STATUS(t4); andi t5, t5, MSTATUS_SPP; bnez t5, fail
    /* still in U: an M CSR read is illegal, delegated, stval = bits */
    NEXT_TEST; EXPECT_STRAP(CAUSE_ILLEGAL, 2f)
1:  csrr x14, mscratch
    j fail
2:  CHECK_TI(strap_info, TI_TVAL, 0x34002773)
    CHECK_TI_LABEL(strap_info, TI_EPC, 1b)
    CHECK_TI(strap_info, TI_CAUSE, CAUSE_ILLEGAL)
    BACK_TO_M
    /* the M handler saw none of these */
    NEXT_TEST; la t4, trap_info; ld t5, TI_COUNT(t4); CHECK(t5, 0)
    /* breakpoint from S delegated: SPP = S */
    NEXT_TEST; EXPECT_STRAP(CAUSE_BREAKPOINT, 2f); GOTO_S(1f)
1:  ebreak
    j fail
2:  CHECK_TRAPPED(strap_info)
    NEXT_TEST; la t4, strap_info; ld t5, TI_STATUS(t4); andi t5, t5, MSTATUS_SPP; beqz t5, fail
    /* ecall from S is not delegated: goes to M */
    NEXT_TEST; EXPECT_TRAP(CAUSE_ECALL_S, 2f)
    ecall
    j fail
2:  CHECK_TRAPPED(trap_info)
    BACK_TO_M
    /* exceptions in M are never delegated */
    NEXT_TEST; EXPECT_TRAP_SKIP(CAUSE_ILLEGAL); .word 0x1234500b; CHECK_TRAPPED(trap_info)
    NEXT_TEST; EXPECT_TRAP_SKIP(CAUSE_BREAKPOINT); ebreak; CHECK_TRAPPED(trap_info)
    /* ecall from M is cause 11 even with medeleg set */
    NEXT_TEST; li t0, -1; csrw medeleg, t0; EXPECT_TRAP_SKIP(CAUSE_ECALL_M); ecall; CHECK_TRAPPED(trap_info)
    csrw medeleg, zero
TEST_PASS
TEST_END
