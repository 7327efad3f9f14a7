/* Interrupts: machine software (CLINT msip) and timer (mtimecmp),
 * mstatus.MIE / mie masking, S-level software/timer interrupts through
 * mip writes and mideleg, M interrupts taken in S even with MIE=0,
 * priority (MSI before MTI) with a vectored mtvec. */
#include "test.h"
#define SPIN(n) li t3, n; 9: la t4, trap_info; ld t5, TI_ARMED(t4); beqz t5, 8f; addi t3, t3, -1; bnez t3, 9b; 8:
#define SSPIN(n) li t3, n; 9: la t4, strap_info; ld t5, TI_ARMED(t4); beqz t5, 8f; addi t3, t3, -1; bnez t3, 9b; 8:
TEST_START
    /* machine software interrupt */
    NEXT_TEST; li t0, MIP_MSIP; csrs mie, t0; EXPECT_TRAP_RET(INTR | IRQ_MSI)
    csrsi mstatus, MSTATUS_MIE; li x11, CLINT_MSIP; li x12, 1; sw x12, 0(x11)
    SPIN(1000); CHECK_TRAPPED(trap_info)
    csrci mstatus, MSTATUS_MIE
    NEXT_TEST; li x11, CLINT_MSIP; lw x14, 0(x11); CHECK(x14, 0)    /* handler cleared it */
    /* masked by MIE = 0: pending but not taken */
    NEXT_TEST; li x12, 1; sw x12, 0(x11); li t3, 1000; 1: addi t3, t3, -1; bnez t3, 1b
    csrr x14, mip; andi x14, x14, MIP_MSIP; beqz x14, fail
    /* masked by mie: MIE = 1 but MSIE = 0 */
    NEXT_TEST; li t0, MIP_MSIP; csrc mie, t0; csrsi mstatus, MSTATUS_MIE; nop; nop; csrci mstatus, MSTATUS_MIE
    /* unmask: taken */
    NEXT_TEST; li t0, MIP_MSIP; csrs mie, t0; EXPECT_TRAP_RET(INTR | IRQ_MSI); csrsi mstatus, MSTATUS_MIE
    SPIN(1000); CHECK_TRAPPED(trap_info); csrci mstatus, MSTATUS_MIE
    CHECK_TI(trap_info, TI_CAUSE, INTR | IRQ_MSI)
    /* machine timer: mtimecmp = mtime + 1000 ticks (100 us) */
    NEXT_TEST; li t0, MIP_MTIP; csrs mie, t0; EXPECT_TRAP_RET(INTR | IRQ_MTI)
    li x11, CLINT_MTIME; ld x12, 0(x11); addi x12, x12, 1000; li x11, CLINT_MTIMECMP; sd x12, 0(x11)
    csrr x14, mip; andi x14, x14, MIP_MTIP; bnez x14, fail      /* not yet pending */
    csrsi mstatus, MSTATUS_MIE
    SPIN(50000000); CHECK_TRAPPED(trap_info); csrci mstatus, MSTATUS_MIE
    /* after the handler moved mtimecmp to the future, MTIP is clear */
    NEXT_TEST; csrr x14, mip; andi x14, x14, MIP_MTIP; bnez x14, fail
    /* mtimecmp in the past: MTIP pending immediately, MIE=0 keeps it off */
    NEXT_TEST; li x11, CLINT_MTIMECMP; sd x0, 0(x11); nop; nop; csrr x14, mip; andi x14, x14, MIP_MTIP; beqz x14, fail
    li x12, -1; sd x12, 0(x11)
    csrw mie, zero

    /* M interrupt while in S: taken even with mstatus.MIE = 0 */
    NEXT_TEST; li t0, MIP_SSIP; csrs mie, t0; csrs mip, t0; EXPECT_TRAP_RET(INTR | IRQ_SSI)
    GOTO_S(1f)
1:  SPIN(1000); CHECK_TRAPPED(trap_info)
    BACK_TO_M
    NEXT_TEST; la t4, trap_info; ld t5, TI_STATUS(t4); srli t5, t5, 11; andi t5, t5, 3; CHECK(t5, 1)
    csrw mie, zero; csrw mip, zero

    /* S software interrupt, delegated, raised by S itself through sip */
    NEXT_TEST; li t0, MIP_SSIP; csrw mideleg, t0; csrs mie, t0
    GOTO_S(1f)
1:  EXPECT_STRAP_RET(INTR | IRQ_SSI); csrsi sstatus, MSTATUS_SIE
    li t0, MIP_SSIP; csrs sip, t0
    SSPIN(1000); CHECK_TRAPPED(strap_info)
    csrci sstatus, MSTATUS_SIE
    /* masked by sstatus.SIE = 0 while in S */
    NEXT_TEST; li t0, MIP_SSIP; csrs sie, t0; csrs sip, t0; nop; nop; csrr x14, sip; andi x14, x14, MIP_SSIP; beqz x14, fail
    csrc sip, t0
    BACK_TO_M
    /* S timer interrupt: M sets mip.STIP, delegated to S */
    NEXT_TEST; li t0, MIP_STIP | MIP_SSIP; csrw mideleg, t0; li t0, MIP_STIP; csrs mie, t0
    GOTO_S(1f)
1:  EXPECT_STRAP_RET(INTR | IRQ_STI); csrsi sstatus, MSTATUS_SIE
    BACK_TO_M
    li t0, MIP_STIP; csrs mip, t0
    GOTO_S(1f)
1:  SSPIN(1000); CHECK_TRAPPED(strap_info)
    CHECK_TI(strap_info, TI_CAUSE, INTR | IRQ_STI)
    csrci sstatus, MSTATUS_SIE
    BACK_TO_M
    li t0, MIP_STIP; csrc mip, t0
    /* a delegated interrupt is not taken in M-mode (S interrupts are
       disabled while running at a higher privilege) */
    NEXT_TEST; li t0, MIP_SSIP; csrs mie, t0; csrs mip, t0; csrsi mstatus, MSTATUS_MIE; nop; nop
    csrci mstatus, MSTATUS_MIE; csrc mip, t0; csrw mie, zero; csrw mideleg, zero

    /* priority: MSI and MTI pending together; vectored mtvec */
    NEXT_TEST; la x11, seq; sd x0, 0(x11); sd x0, 8(x11); sd x0, 16(x11)
    li x11, CLINT_MSIP; li x12, 1; sw x12, 0(x11)
    li x11, CLINT_MTIMECMP; sd x0, 0(x11)
1:  csrr x14, mip; andi x14, x14, MIP_MTIP; beqz x14, 1b
    li t0, MIP_MSIP | MIP_MTIP; csrw mie, t0
    la t0, vtab; ori t0, t0, 1; csrw mtvec, t0
    csrsi mstatus, MSTATUS_MIE; nop; nop; nop; nop; csrci mstatus, MSTATUS_MIE
    la t0, trap_entry; csrw mtvec, t0; csrw mie, zero
    la x11, seq; ld x14, 0(x11); CHECK(x14, 2)
    ld x14, 8(x11); CHECK(x14, IRQ_MSI)
    ld x14, 16(x11); CHECK(x14, IRQ_MTI)
TEST_PASS

/* Vectored handlers: log the interrupt number in seq and quiet it. */
    .balign 256
    .option push
    .option norvc       /* vector entries are 4 bytes apart */
vtab:
    j fail
    j fail
    j fail
    j v_msi
    j fail
    j fail
    j fail
    j v_mti
    j fail
    j fail
    j fail
    j fail
    .option pop
v_msi:
    csrrw sp, mscratch, sp; addi sp, sp, -16; sd t0, 0(sp); sd t1, 8(sp)
    li t0, CLINT_MSIP; sw zero, 0(t0); li t1, IRQ_MSI; j v_log
v_mti:
    csrrw sp, mscratch, sp; addi sp, sp, -16; sd t0, 0(sp); sd t1, 8(sp)
    li t0, CLINT_MTIMECMP; li t1, -1; sd t1, 0(t0); li t1, IRQ_MTI
v_log:
    la t0, seq; addi sp, sp, -8; sd t2, 0(sp); ld t2, 0(t0); addi t2, t2, 1; sd t2, 0(t0)
    slli t2, t2, 3; add t0, t0, t2; sd t1, 0(t0)
    ld t2, 0(sp); addi sp, sp, 8
    ld t0, 0(sp); ld t1, 8(sp); addi sp, sp, 16; csrrw sp, mscratch, sp; mret
    .data
    .balign 8
seq: .dword 0, 0, 0, 0
TEST_END
