/* WFI: with the machine timer enabled in mie but mstatus.MIE = 0, wfi
 * returns once the timer is pending (no trap); with MIE = 1 the interrupt
 * is taken after wfi. */
#include "test.h"
TEST_START
    /* timer enabled in mie, globally masked */
    NEXT_TEST; li t0, MIP_MTIP; csrw mie, t0; csrci mstatus, MSTATUS_MIE
    li x11, CLINT_MTIME; ld x12, 0(x11); li x13, 20000; add x12, x12, x13   /* 2 ms */
    li x11, CLINT_MTIMECMP; sd x12, 0(x11)
    li x15, 100000
1:  wfi
    csrr x14, mip; andi x14, x14, MIP_MTIP; bnez x14, 2f
    addi x15, x15, -1; bnez x15, 1b
    j fail
2:  /* time has really passed */
    NEXT_TEST; li x11, CLINT_MTIME; ld x14, 0(x11); bltu x14, x12, fail
    li x11, CLINT_MTIMECMP; li x12, -1; sd x12, 0(x11)
    NEXT_TEST; csrr x14, mip; andi x14, x14, MIP_MTIP; bnez x14, fail
    /* globally enabled: the interrupt is taken */
    NEXT_TEST; EXPECT_TRAP_RET(INTR | IRQ_MTI)
    li x11, CLINT_MTIME; ld x12, 0(x11); addi x12, x12, 1000
    li x11, CLINT_MTIMECMP; sd x12, 0(x11)
    csrsi mstatus, MSTATUS_MIE
    li x15, 100000
1:  wfi
    la t4, trap_info; ld t5, TI_ARMED(t4); beqz t5, 2f
    addi x15, x15, -1; bnez x15, 1b
2:  csrci mstatus, MSTATUS_MIE
    CHECK_TRAPPED(trap_info)
    /* wfi with an interrupt already pending does not stall */
    NEXT_TEST; li x11, CLINT_MSIP; li x12, 1; sw x12, 0(x11); li t0, MIP_MSIP; csrw mie, t0
    wfi; wfi; sw x0, 0(x11); csrw mie, zero
    /* wfi in S-mode with TW = 1 is illegal */
    NEXT_TEST; li t0, MSTATUS_TW; csrs mstatus, t0; EXPECT_TRAP(CAUSE_ILLEGAL, 2f); GOTO_S(1f)
1:  wfi
    j fail
2:  CHECK_TRAPPED(trap_info)
    BACK_TO_M
    li t0, MSTATUS_TW; csrc mstatus, t0
TEST_PASS
TEST_END
