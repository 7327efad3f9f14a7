/* Traps: ecall from M/S/U (causes 11/9/8), ebreak, illegal instruction
 * with mtval = instruction bits, mepc/mcause contents, mret/sret
 * privilege and MPP/SPP/MPIE/SPIE/MPRV handling, access faults. */
#include "test.h"
#define STATUS_MPP(r, out) srli out, r, 11; andi out, out, 3
TEST_START
    /* ecall from M */
    NEXT_TEST; EXPECT_TRAP(CAUSE_ECALL_M, 2f)
1:  ecall
    j fail
2:  CHECK_TRAPPED(trap_info)
    CHECK_TI_LABEL(trap_info, TI_EPC, 1b)
    CHECK_TI(trap_info, TI_CAUSE, CAUSE_ECALL_M)
    NEXT_TEST; la t4, trap_info; ld t5, TI_STATUS(t4); STATUS_MPP(t5, x14); CHECK(x14, 3)
    /* ecall from S: cause 9, MPP = S; resumes in S */
    NEXT_TEST; EXPECT_TRAP(CAUSE_ECALL_S, 2f); GOTO_S(1f)
1:  ecall
    j fail
2:  CHECK_TRAPPED(trap_info)
    CHECK_TI_LABEL(trap_info, TI_EPC, 1b)
    NEXT_TEST; la t4, trap_info; ld t5, TI_STATUS(t4); STATUS_MPP(t5, x14); CHECK(x14, 1)
    BACK_TO_M
    /* ecall from U: cause 8, MPP = U */
    NEXT_TEST; EXPECT_TRAP(CAUSE_ECALL_U, 2f); GOTO_U(1f)
1:  ecall
    j fail
2:  CHECK_TRAPPED(trap_info)
    CHECK_TI_LABEL(trap_info, TI_EPC, 1b)
    NEXT_TEST; la t4, trap_info; ld t5, TI_STATUS(t4); STATUS_MPP(t5, x14); CHECK(x14, 0)
    BACK_TO_M
    NEXT_TEST; csrr x14, mstatus; STATUS_MPP(x14, x15); CHECK(x15, 0)  /* mret left MPP = U */
    /* ebreak (4 bytes) */
    NEXT_TEST; EXPECT_TRAP(CAUSE_BREAKPOINT, 2f)
    .option push; .option norvc
1:  ebreak
    .option pop
    j fail
2:  CHECK_TI_LABEL(trap_info, TI_EPC, 1b)
    /* illegal instructions: mtval = the instruction bits */
    NEXT_TEST; EXPECT_TRAP(CAUSE_ILLEGAL, 2f)
1:  .word 0x1234500b                      /* custom-0 opcode */
    j fail
2:  CHECK_TI_LABEL(trap_info, TI_EPC, 1b)
    CHECK_TI(trap_info, TI_TVAL, 0x1234500b)
    /* all-zero halfword: illegal 16-bit instruction */
    NEXT_TEST; EXPECT_TRAP_SKIP(CAUSE_ILLEGAL); .half 0; CHECK_TRAPPED(trap_info)
    CHECK_TI(trap_info, TI_TVAL, 0)
    /* M-mode CSR access from U: illegal with mtval = csrr bits */
    NEXT_TEST; EXPECT_TRAP(CAUSE_ILLEGAL, 2f); GOTO_U(1f)
1:  csrr x14, mstatus
    j fail
2:  CHECK_TI(trap_info, TI_TVAL, 0x30002773)
    /* mret and sret are illegal in U */
    NEXT_TEST; EXPECT_TRAP_SKIP(CAUSE_ILLEGAL); mret; CHECK_TRAPPED(trap_info)
    CHECK_TI(trap_info, TI_TVAL, 0x30200073)
    NEXT_TEST; EXPECT_TRAP_SKIP(CAUSE_ILLEGAL); sret; CHECK_TRAPPED(trap_info)
    CHECK_TI(trap_info, TI_TVAL, 0x10200073)
    BACK_TO_M
    /* mret is illegal in S; sret in S with TSR=1 is illegal */
    NEXT_TEST; EXPECT_TRAP(CAUSE_ILLEGAL, 2f); GOTO_S(1f)
1:  mret
    j fail
2:  CHECK_TRAPPED(trap_info)
    BACK_TO_M
    NEXT_TEST; li t0, MSTATUS_TSR; csrs mstatus, t0; EXPECT_TRAP(CAUSE_ILLEGAL, 2f); GOTO_S(1f)
1:  sret
    j fail
2:  CHECK_TRAPPED(trap_info)
    BACK_TO_M
    li t0, MSTATUS_TSR; csrc mstatus, t0
    /* mret M->M: MIE <- MPIE, MPIE <- 1, MPP <- U */
    NEXT_TEST; li t0, MSTATUS_MPP | MSTATUS_MPIE; csrs mstatus, t0; li t0, MSTATUS_MIE; csrc mstatus, t0
    la t0, 1f; csrw mepc, t0; mret
1:  csrr x14, mstatus; andi x15, x14, MSTATUS_MIE; beqz x15, fail
    andi x15, x14, MSTATUS_MPIE; beqz x15, fail
    STATUS_MPP(x14, x15); CHECK(x15, 0)
    li t0, MSTATUS_MIE; csrc mstatus, t0
    /* mret with MPIE = 0 clears MIE */
    NEXT_TEST; li t0, MSTATUS_MPP; csrs mstatus, t0; li t0, MSTATUS_MPIE; csrc mstatus, t0
    li t0, MSTATUS_MIE; csrs mstatus, t0; csrw mie, zero
    la t0, 1f; csrw mepc, t0; mret
1:  csrr x14, mstatus; andi x15, x14, MSTATUS_MIE; bnez x15, fail
    /* a trap saves MIE into MPIE and clears MIE */
    NEXT_TEST; li t0, MSTATUS_MIE; csrs mstatus, t0; EXPECT_TRAP_SKIP(CAUSE_ECALL_M); ecall
    la t4, trap_info; ld x14, TI_STATUS(t4); andi x15, x14, MSTATUS_MIE; bnez x15, fail
    andi x15, x14, MSTATUS_MPIE; beqz x15, fail
    li t0, MSTATUS_MIE; csrc mstatus, t0
    /* mret to S clears MPRV in priv spec 1.12; QEMU 7.2 keeps it, so
       this only checks that MPRV=1 in M does not break the switch. */
    NEXT_TEST; li t0, MSTATUS_MPRV; csrs mstatus, t0; GOTO_S(1f)
1:  BACK_TO_M
    li t0, MSTATUS_MPRV; csrc mstatus, t0
    /* sret S->S: SIE <- SPIE, SPIE <- 1, SPP <- U; then sret to U */
    NEXT_TEST; GOTO_S(1f)
1:  li t0, MSTATUS_SPP | MSTATUS_SPIE; csrs sstatus, t0; li t0, MSTATUS_SIE; csrc sstatus, t0
    la t0, 1f; csrw sepc, t0; sret
1:  csrr x14, sstatus; andi x15, x14, MSTATUS_SIE; beqz x15, fail
    andi x15, x14, MSTATUS_SPIE; beqz x15, fail
    andi x15, x14, MSTATUS_SPP; bnez x15, fail
    li t0, MSTATUS_SIE; csrc sstatus, t0
    /* now SPP = U: sret drops to U, where sstatus is not accessible */
    NEXT_TEST; la t0, 1f; csrw sepc, t0; sret
1:  EXPECT_TRAP(CAUSE_ILLEGAL, 2f)
    csrr x14, sstatus
    j fail
2:  CHECK_TRAPPED(trap_info)
    la t4, trap_info; ld t5, TI_STATUS(t4); STATUS_MPP(t5, x14); CHECK(x14, 0)
    BACK_TO_M
    /* mepc/sepc hold full addresses.  (Bit 0 should read as zero with
       IALIGN=16; QEMU 7.2 keeps it, so bit 0 is not checked.) */
    NEXT_TEST; li x12, 0x80000001; csrw mepc, x12; csrr x14, mepc; andi x14, x14, -2; CHECK(x14, 0x80000000)
    NEXT_TEST; li x12, 0x80000003; csrw sepc, x12; csrr x14, sepc; andi x14, x14, -2; CHECK(x14, 0x80000002)
    /* mcause/mtval/mtvec are writable */
    NEXT_TEST; li x12, 0x1234; csrw mtval, x12; csrr x14, mtval; CHECK(x14, 0x1234)
    NEXT_TEST; li x12, 5; csrw mcause, x12; csrr x14, mcause; CHECK(x14, 5)
    /* access fault: no device at 0x3800000 */
    NEXT_TEST; EXPECT_TRAP_SKIP(CAUSE_LOAD_ACCESS); li x12, 0x3800000; ld x14, 0(x12); CHECK_TRAPPED(trap_info)
    CHECK_TI(trap_info, TI_TVAL, 0x3800000)
    NEXT_TEST; EXPECT_TRAP_SKIP(CAUSE_STORE_ACCESS); li x12, 0x3800008; sd x14, 0(x12); CHECK_TRAPPED(trap_info)
    CHECK_TI(trap_info, TI_TVAL, 0x3800008)
    NEXT_TEST; EXPECT_TRAP(CAUSE_FETCH_ACCESS, 2f); li x12, 0x3800000; jalr x12
    j fail
2:  CHECK_TI(trap_info, TI_EPC, 0x3800000)
TEST_PASS
TEST_END
