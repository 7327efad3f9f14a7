/*
 * Xeno bare-metal ISA test harness.
 *
 * A test file looks like:
 *
 *     #include "test.h"
 *     TEST_START
 *         TEST_RR(add, 3, 1, 2)
 *         ...
 *     TEST_PASS
 *     TEST_END
 *
 * The machine starts hart 0 in M-mode at _start.  Every check bumps the test
 * number (kept in gp); a failed check jumps to `fail`, which prints
 * "FAIL <file> test <n>" through HTIF and exits with code n (255 when n does
 * not fit in the 8-bit process status).  An unexpected trap prints its cause,
 * epc and tval and exits the same way.
 *
 * Register use: the check macros use x11, x12, x14 (operands and result),
 * t4, t5, t6 (compare temporaries) and a0 (FP data pointer).  gp holds the
 * test number.  Tests keep sp valid unless they restore it before a trap.
 */
#ifndef XENO_ISA_TEST_H
#define XENO_ISA_TEST_H

/* ---- CSR bits -------------------------------------------------------- */
#define MSTATUS_SIE   (1 << 1)
#define MSTATUS_MIE   (1 << 3)
#define MSTATUS_SPIE  (1 << 5)
#define MSTATUS_MPIE  (1 << 7)
#define MSTATUS_SPP   (1 << 8)
#define MSTATUS_MPP   (3 << 11)
#define MSTATUS_MPP_S (1 << 11)
#define MSTATUS_FS    (3 << 13)
#define MSTATUS_MPRV  (1 << 17)
#define MSTATUS_SUM   (1 << 18)
#define MSTATUS_MXR   (1 << 19)
#define MSTATUS_TVM   (1 << 20)
#define MSTATUS_TW    (1 << 21)
#define MSTATUS_TSR   (1 << 22)

#define IRQ_SSI 1
#define IRQ_MSI 3
#define IRQ_STI 5
#define IRQ_MTI 7
#define IRQ_SEI 9
#define IRQ_MEI 11
#define MIP_SSIP (1 << IRQ_SSI)
#define MIP_MSIP (1 << IRQ_MSI)
#define MIP_STIP (1 << IRQ_STI)
#define MIP_MTIP (1 << IRQ_MTI)
#define MIP_SEIP (1 << IRQ_SEI)

#define INTR (1 << 63)
#define CAUSE_MISALIGNED_FETCH 0
#define CAUSE_FETCH_ACCESS     1
#define CAUSE_ILLEGAL          2
#define CAUSE_BREAKPOINT       3
#define CAUSE_MISALIGNED_LOAD  4
#define CAUSE_LOAD_ACCESS      5
#define CAUSE_MISALIGNED_STORE 6
#define CAUSE_STORE_ACCESS     7
#define CAUSE_ECALL_U          8
#define CAUSE_ECALL_S          9
#define CAUSE_ECALL_M          11
#define CAUSE_FETCH_PAGE       12
#define CAUSE_LOAD_PAGE        13
#define CAUSE_STORE_PAGE       15

#define CLINT_BASE     0x2000000
#define CLINT_MSIP     (CLINT_BASE + 0x0)
#define CLINT_MTIMECMP (CLINT_BASE + 0x4000)
#define CLINT_MTIME    (CLINT_BASE + 0xbff8)

/* Page-table entry bits. */
#define PTE_V (1 << 0)
#define PTE_R (1 << 1)
#define PTE_W (1 << 2)
#define PTE_X (1 << 3)
#define PTE_U (1 << 4)
#define PTE_G (1 << 5)
#define PTE_A (1 << 6)
#define PTE_D (1 << 7)
#define SATP_SV39 (8 << 60)
#define SATP_SV48 (9 << 60)

/* FP exception flags. */
#define NV 0x10
#define DZ 0x08
#define OF 0x04
#define UF 0x02
#define NX 0x01

/* a7 value that asks the M-mode handler to return to M-mode after ecall. */
#define MAGIC_TO_M 0x584d /* "XM" */
/* Same, but continue in M at the (physical) address in a6: for code that
 * runs at a virtual address M-mode cannot fetch from. */
#define MAGIC_TO_M_AT 0x584e

/* ---- numbering and checks ------------------------------------------- */
#define TESTNUM gp
#define NEXT_TEST .set tnum, tnum + 1; li TESTNUM, tnum

/* Compare a register with a constant without starting a new test. */
#define CHECK(reg, val) li t6, val; bne reg, t6, fail
/* A new numbered check of a register against a constant. */
#define TEST_EQ(reg, val) NEXT_TEST; CHECK(reg, val)

/* ---- integer macros ----------------------------------------------- */
#define TEST_RR(op, exp, a, b) \
    NEXT_TEST; li x11, a; li x12, b; op x14, x11, x12; CHECK(x14, exp)
#define TEST_IMM(op, exp, a, imm) \
    NEXT_TEST; li x11, a; op x14, x11, imm; CHECK(x14, exp)
/* rd is the same register as rs1 (result overwrites a source). */
#define TEST_RR_RD_RS1(op, exp, a, b) \
    NEXT_TEST; li x11, a; li x12, b; op x11, x11, x12; CHECK(x11, exp)
#define TEST_RR_RD_RS2(op, exp, a, b) \
    NEXT_TEST; li x11, a; li x12, b; op x12, x11, x12; CHECK(x12, exp)
#define TEST_IMM_RD_RS1(op, exp, a, imm) \
    NEXT_TEST; li x11, a; op x11, x11, imm; CHECK(x11, exp)
/* Writes to x0 are discarded. */
#define TEST_RR_X0(op, a, b) \
    NEXT_TEST; li x11, a; li x12, b; op x0, x11, x12; bnez x0, fail
#define TEST_LD(op, exp, off, base) \
    NEXT_TEST; la x11, base; op x14, off(x11); CHECK(x14, exp)
/* Store then load back with a (possibly wider/narrower) load. */
#define TEST_ST(sop, lop, val, exp, off, base) \
    NEXT_TEST; la x11, base; li x12, val; sop x12, off(x11); \
    lop x14, off(x11); CHECK(x14, exp)
#define TEST_BR_TAKEN(op, a, b) \
    NEXT_TEST; li x11, a; li x12, b; op x11, x12, 2f; j fail; 2:
#define TEST_BR_NOT(op, a, b) \
    NEXT_TEST; li x11, a; li x12, b; op x11, x12, 2f; j 3f; 2: j fail; 3:

/* ---- floating-point macros ------------------------------------------
 * Operands and expected results are given with a directive wrapper so a
 * value may be written as a number or as raw bits:
 *   D(1.5)  F(1.5)          double / single from a decimal literal
 *   DB(0x7ff8000000000000)  double from bits, FB(0x7fc00000) single bits
 * Each case lays out four 8-byte slots (a, b, c, result) in .data.
 */
#define D(x)  .double x
#define F(x)  .float x
#define DB(x) .dword x
#define FB(x) .word x
#define Z     .dword 0

#define FP_PRE(ldf, a, b, c, r) \
    NEXT_TEST; \
    .pushsection .data; .balign 8; 2: a; .balign 8; .org 2b + 8; b; .balign 8; \
    .org 2b + 16; c; .balign 8; .org 2b + 24; r; .balign 8; .org 2b + 32; .popsection; \
    la a0, 2b; ldf f1, 0(a0); ldf f2, 8(a0); ldf f3, 16(a0); csrwi fflags, 0
/* Compare f10 (bits) with slot r, then fflags with the expected flags. */
#define FP_POST_F(mvx, ldr, flags) \
    mvx t4, f10; ldr t5, 24(a0); bne t4, t5, fail; \
    frflags t4; li t5, flags; bne t4, t5, fail
/* Compare x14 with an integer, then fflags. */
#define FP_POST_X(exp, flags) \
    CHECK(x14, exp); frflags t4; li t5, flags; bne t4, t5, fail

/* double */
#define TEST_FP3_D(op, rm, flags, r, a, b, c) \
    FP_PRE(fld, a, b, c, r); op f10, f1, f2, f3, rm; FP_POST_F(fmv.x.d, ld, flags)
#define TEST_FP2_D(op, rm, flags, r, a, b) \
    FP_PRE(fld, a, b, Z, r); op f10, f1, f2, rm; FP_POST_F(fmv.x.d, ld, flags)
#define TEST_FP2N_D(op, flags, r, a, b) \
    FP_PRE(fld, a, b, Z, r); op f10, f1, f2; FP_POST_F(fmv.x.d, ld, flags)
#define TEST_FP1_D(op, rm, flags, r, a) \
    FP_PRE(fld, a, Z, Z, r); op f10, f1, rm; FP_POST_F(fmv.x.d, ld, flags)
#define TEST_FP_CMP_D(op, flags, exp, a, b) \
    FP_PRE(fld, a, b, Z, Z); op x14, f1, f2; FP_POST_X(exp, flags)
#define TEST_FP_TOINT_D(op, rm, flags, exp, a) \
    FP_PRE(fld, a, Z, Z, Z); op x14, f1, rm; FP_POST_X(exp, flags)
#define TEST_FCLASS_D(exp, a) \
    FP_PRE(fld, a, Z, Z, Z); fclass.d x14, f1; FP_POST_X(exp, 0)
#define TEST_FP_FROMINT_D(op, rm, flags, r, val) \
    FP_PRE(fld, Z, Z, Z, r); li x11, val; op f10, x11, rm; FP_POST_F(fmv.x.d, ld, flags)

/* exact int->double conversions (fcvt.d.w, fcvt.d.wu) take no rm */
#define TEST_FP_FROMINT_EXACT_D(op, r, val) \
    FP_PRE(fld, Z, Z, Z, r); li x11, val; op f10, x11; FP_POST_F(fmv.x.d, ld, 0)

/* single (results compared through fmv.x.w, which sign-extends, with lw) */
#define TEST_FP3_S(op, rm, flags, r, a, b, c) \
    FP_PRE(flw, a, b, c, r); op f10, f1, f2, f3, rm; FP_POST_F(fmv.x.w, lw, flags)
#define TEST_FP2_S(op, rm, flags, r, a, b) \
    FP_PRE(flw, a, b, Z, r); op f10, f1, f2, rm; FP_POST_F(fmv.x.w, lw, flags)
#define TEST_FP2N_S(op, flags, r, a, b) \
    FP_PRE(flw, a, b, Z, r); op f10, f1, f2; FP_POST_F(fmv.x.w, lw, flags)
#define TEST_FP1_S(op, rm, flags, r, a) \
    FP_PRE(flw, a, Z, Z, r); op f10, f1, rm; FP_POST_F(fmv.x.w, lw, flags)
#define TEST_FP_CMP_S(op, flags, exp, a, b) \
    FP_PRE(flw, a, b, Z, Z); op x14, f1, f2; FP_POST_X(exp, flags)
#define TEST_FP_TOINT_S(op, rm, flags, exp, a) \
    FP_PRE(flw, a, Z, Z, Z); op x14, f1, rm; FP_POST_X(exp, flags)
#define TEST_FCLASS_S(exp, a) \
    FP_PRE(flw, a, Z, Z, Z); fclass.s x14, f1; FP_POST_X(exp, 0)
#define TEST_FP_FROMINT_S(op, rm, flags, r, val) \
    FP_PRE(flw, Z, Z, Z, r); li x11, val; op f10, x11, rm; FP_POST_F(fmv.x.w, lw, flags)

/* conversions between precisions */
#define TEST_FCVT_S_D(rm, flags, r, a) \
    FP_PRE(fld, a, Z, Z, r); fcvt.s.d f10, f1, rm; FP_POST_F(fmv.x.w, lw, flags)
#define TEST_FCVT_D_S(flags, r, a) \
    FP_PRE(flw, a, Z, Z, r); fcvt.d.s f10, f1; FP_POST_F(fmv.x.d, ld, flags)

/* ---- trap expectations ----------------------------------------------
 * trap_info (M) and strap_info (S) hold, in 8-byte slots:
 *   0 cause, 8 epc, 16 tval, 24 count, 32 status at trap, 40 expected
 *   cause, 48 armed flag, 56 resume (0 = epc, 1 = skip insn, else address).
 * An armed handler checks the cause (mismatch = failure), disarms itself
 * and resumes.  An unarmed handler fails the test, except for
 * ecall + a7 == MAGIC_TO_M, which returns to the caller in M-mode.
 */
#define TI_CAUSE  0
#define TI_EPC    8
#define TI_TVAL   16
#define TI_COUNT  24
#define TI_STATUS 32
#define TI_EXPECT 40
#define TI_ARMED  48
#define TI_RESUME 56

#define ARM_TRAP_(info, cause, ldop, resume) \
    la t4, info; li t5, cause; sd t5, TI_EXPECT(t4); ldop t5, resume; \
    sd t5, TI_RESUME(t4); li t5, 1; sd t5, TI_ARMED(t4)
/* Expected cause ANY_EXCEPTION accepts any cause (check TI_CAUSE after). */
#define ANY_EXCEPTION -1
/* Expect an M-mode trap with this cause; resume at label. */
#define EXPECT_TRAP(cause, label) ARM_TRAP_(trap_info, cause, la, label)
/* Expect an M-mode trap; resume after the trapping instruction. */
#define EXPECT_TRAP_SKIP(cause) ARM_TRAP_(trap_info, cause, li, 1)
/* Expect an M-mode trap (interrupt); resume at epc. */
#define EXPECT_TRAP_RET(cause) ARM_TRAP_(trap_info, cause, li, 0)
#define EXPECT_STRAP(cause, label) ARM_TRAP_(strap_info, cause, la, label)
#define EXPECT_STRAP_SKIP(cause) ARM_TRAP_(strap_info, cause, li, 1)
#define EXPECT_STRAP_RET(cause) ARM_TRAP_(strap_info, cause, li, 0)
/* New check: the armed trap really happened. */
#define CHECK_TRAPPED(info) \
    NEXT_TEST; la t4, info; ld t5, TI_ARMED(t4); bnez t5, fail
#define CHECK_NOT_TRAPPED(info) \
    NEXT_TEST; la t4, info; ld t5, TI_ARMED(t4); beqz t5, fail; sd zero, TI_ARMED(t4)
/* New check on a recorded field (TI_TVAL, TI_EPC ...) against a constant. */
#define CHECK_TI(info, field, val) \
    NEXT_TEST; la t4, info; ld t5, field(t4); CHECK(t5, val)
#define CHECK_TI_LABEL(info, field, label) \
    NEXT_TEST; la t4, info; ld t5, field(t4); la t6, label; bne t5, t6, fail
#define DISARM(info) la t4, info; sd zero, TI_ARMED(t4)

/* ---- privilege switches (clobber t0) ----------------------------------- */
#define GOTO_S(label) \
    li t0, MSTATUS_MPP; csrc mstatus, t0; li t0, MSTATUS_MPP_S; csrs mstatus, t0; \
    la t0, label; csrw mepc, t0; mret
#define GOTO_U(label) \
    li t0, MSTATUS_MPP; csrc mstatus, t0; la t0, label; csrw mepc, t0; mret
#define ENTER_S GOTO_S(7f); 7:
#define ENTER_U GOTO_U(7f); 7:
/* From S or U back to M (clobbers a7 and t6). */
#define BACK_TO_M li a7, MAGIC_TO_M; ecall
/* From M to U via S: sret from S into U at label (clobbers t0). */
#define SRET_TO_U(label) \
    li t0, MSTATUS_SPP; csrc sstatus, t0; la t0, label; csrw sepc, t0; sret

/* ---- start ---------------------------------------------------------- */
#define TEST_START \
    .section .text.init, "ax"; \
    .globl _start; \
_start: \
    csrr t0, mhartid; bnez t0, park; \
    /* PMP may be absent: skip any CSR write that traps. */ \
    la t0, early_trap; csrw mtvec, t0; \
    li t0, -1; csrw pmpaddr0, t0; li t0, 0x1f; csrw pmpcfg0, t0; \
    csrw satp, zero; csrw medeleg, zero; csrw mideleg, zero; \
    csrw mie, zero; csrw mip, zero; \
    li t0, MSTATUS_FS; csrc mstatus, t0; li t0, (1 << 13); csrs mstatus, t0; \
    csrwi fcsr, 0; \
    la sp, stack_top; \
    la t0, trap_stack_top; csrw mscratch, t0; \
    la t0, strap_stack_top; csrw sscratch, t0; \
    la t0, trap_entry; csrw mtvec, t0; \
    la t0, strap_entry; csrw stvec, t0; \
    li gp, 0; \
    j test_main; \
    .balign 4; \
early_trap: \
    csrr t1, mepc; addi t1, t1, 4; csrw mepc, t1; mret; \
park: \
    wfi; j park; \
    .text; \
test_main: \
    .set tnum, 0

#define TEST_PASS li a0, 0; j exit_code

/* ---- end: fail/exit/HTIF/trap handlers/data --------------------------- */
#define TEST_END \
    .text; \
    .balign 4; \
fail: \
    la sp, stack_top; \
    la a0, msg_fail; jal print; \
    la a0, msg_file; jal print; \
    la a0, msg_test; jal print; \
    mv a0, gp; jal print_dec; \
    li a0, '\n'; jal putc; \
fail_exit: \
    mv a0, gp; \
    li t0, 255; bgtu a0, t0, 1f; bnez a0, exit_code; \
1:  li a0, 255; \
exit_code: \
    slli a0, a0, 1; ori a0, a0, 1; \
    la t0, tohost; sd a0, 0(t0); \
1:  j 1b; \
    /* putc(a0): HTIF console write; clobbers t0-t2 */ \
putc: \
    li t0, 0x0101; slli t0, t0, 48; andi a0, a0, 0xff; or t0, t0, a0; \
    la t1, tohost; sd t0, 0(t1); \
    li t2, 100000; \
1:  ld t0, 0(t1); beqz t0, 2f; addi t2, t2, -1; bnez t2, 1b; \
2:  sd zero, 0(t1); la t1, fromhost; sd zero, 0(t1); \
    ret; \
    /* print(a0 = string) */ \
print: \
    mv s10, ra; mv s11, a0; \
1:  lbu a0, 0(s11); beqz a0, 2f; jal putc; addi s11, s11, 1; j 1b; \
2:  mv ra, s10; ret; \
    /* print_hex(a0) */ \
print_hex: \
    mv s10, ra; mv s11, a0; li s9, 60; \
    li a0, '0'; jal putc; li a0, 'x'; jal putc; \
1:  srl a0, s11, s9; andi a0, a0, 15; li t0, 10; blt a0, t0, 2f; addi a0, a0, 'a' - '0' - 10; \
2:  addi a0, a0, '0'; jal putc; addi s9, s9, -4; bgez s9, 1b; \
    mv ra, s10; ret; \
    /* print_dec(a0) */ \
print_dec: \
    mv s8, ra; mv s7, a0; la s9, numbuf + 31; sb zero, 0(s9); li t0, 10; \
1:  remu t1, s7, t0; divu s7, s7, t0; addi t1, t1, '0'; addi s9, s9, -1; sb t1, 0(s9); \
    bnez s7, 1b; \
    mv a0, s9; jal print; mv ra, s8; ret; \
    /* Machine-mode trap handler. */ \
    .balign 4; \
trap_entry: \
    csrrw sp, mscratch, sp; \
    addi sp, sp, -64; sd t0, 0(sp); sd t1, 8(sp); sd t2, 16(sp); sd t3, 24(sp); \
    la t1, trap_info; \
    csrr t0, mcause; \
    /* the back-to-M ecall (unarmed) leaves the record alone */ \
    ld t2, TI_ARMED(t1); bnez t2, 3f; bltz t0, 3f; li t2, MAGIC_TO_M; beq a7, t2, 6f; \
    li t2, MAGIC_TO_M_AT; beq a7, t2, 6f; \
3:  sd t0, TI_CAUSE(t1); \
    csrr t2, mepc; sd t2, TI_EPC(t1); \
    csrr t2, mtval; sd t2, TI_TVAL(t1); \
    csrr t2, mstatus; sd t2, TI_STATUS(t1); \
    ld t2, TI_COUNT(t1); addi t2, t2, 1; sd t2, TI_COUNT(t1); \
    /* Quiet the interrupt source so it does not fire again. */ \
    bgez t0, 5f; \
    slli t2, t0, 1; srli t2, t2, 1; \
    li t3, IRQ_MTI; bne t2, t3, 1f; li t2, CLINT_MTIMECMP; li t3, -1; sd t3, 0(t2); j 5f; \
1:  li t3, IRQ_MSI; bne t2, t3, 1f; li t2, CLINT_MSIP; sw zero, 0(t2); j 5f; \
1:  li t3, 1; sll t3, t3, t2; csrc mip, t3; csrc mie, t3; \
5:  ld t2, TI_ARMED(t1); beqz t2, 6f; \
    ld t2, TI_EXPECT(t1); li t3, -1; beq t2, t3, 7f; bne t0, t2, bad_trap; \
7:  \
    sd zero, TI_ARMED(t1); \
    ld t2, TI_RESUME(t1); beqz t2, 9f; \
    li t3, 1; bne t2, t3, 8f; \
    csrr t2, mepc; lhu t3, 0(t2); andi t3, t3, 3; addi t2, t2, 2; \
    li t0, 3; bne t3, t0, 8f; addi t2, t2, 2; \
8:  csrw mepc, t2; \
9:  ld t0, 0(sp); ld t1, 8(sp); ld t2, 16(sp); ld t3, 24(sp); addi sp, sp, 64; \
    csrrw sp, mscratch, sp; mret; \
6:  /* unarmed: only the back-to-M ecall is allowed */ \
    li t2, CAUSE_ECALL_U; bltu t0, t2, bad_trap; li t2, CAUSE_ECALL_M; bgtu t0, t2, bad_trap; \
    li t2, MSTATUS_MPP; csrs mstatus, t2; \
    li t2, MAGIC_TO_M_AT; bne a7, t2, 4f; csrw mepc, a6; j 9b; \
4:  li t2, MAGIC_TO_M; bne a7, t2, bad_trap; \
    csrr t2, mepc; addi t2, t2, 4; csrw mepc, t2; j 9b; \
bad_trap: \
    la sp, stack_top; \
    la a0, msg_trap; jal print; la a0, msg_file; jal print; \
    la a0, msg_cause; jal print; csrr a0, mcause; jal print_hex; \
    la a0, msg_epc; jal print; csrr a0, mepc; jal print_hex; \
    la a0, msg_tval; jal print; csrr a0, mtval; jal print_hex; \
    la a0, msg_scause; jal print; csrr a0, scause; jal print_hex; \
    la a0, msg_sepc; jal print; csrr a0, sepc; jal print_hex; \
    la a0, msg_test; jal print; mv a0, gp; jal print_dec; \
    li a0, '\n'; jal putc; \
    j fail_exit; \
    /* Supervisor-mode trap handler (same protocol, strap_info). */ \
    .balign 4; \
strap_entry: \
    csrrw sp, sscratch, sp; \
    addi sp, sp, -64; sd t0, 0(sp); sd t1, 8(sp); sd t2, 16(sp); sd t3, 24(sp); \
    la t1, strap_info; \
    csrr t0, scause; \
    /* the back-to-M ecall (unarmed) leaves the record alone */ \
    ld t2, TI_ARMED(t1); bnez t2, 3f; bltz t0, 3f; li t2, MAGIC_TO_M; beq a7, t2, 6f; \
    li t2, MAGIC_TO_M_AT; beq a7, t2, 6f; \
3:  sd t0, TI_CAUSE(t1); \
    csrr t2, sepc; sd t2, TI_EPC(t1); \
    csrr t2, stval; sd t2, TI_TVAL(t1); \
    csrr t2, sstatus; sd t2, TI_STATUS(t1); \
    ld t2, TI_COUNT(t1); addi t2, t2, 1; sd t2, TI_COUNT(t1); \
    bgez t0, 5f; \
    slli t2, t0, 1; srli t2, t2, 1; li t3, 1; sll t3, t3, t2; \
    csrc sip, t3; csrc sie, t3; \
5:  ld t2, TI_ARMED(t1); beqz t2, 6f; \
    ld t2, TI_EXPECT(t1); li t3, -1; beq t2, t3, 7f; bne t0, t2, sbad_trap; \
7:  \
    sd zero, TI_ARMED(t1); \
    ld t2, TI_RESUME(t1); beqz t2, 9f; \
    li t3, 1; bne t2, t3, 8f; \
    csrr t2, sepc; lhu t3, 0(t2); andi t3, t3, 3; addi t2, t2, 2; \
    li t0, 3; bne t3, t0, 8f; addi t2, t2, 2; \
8:  csrw sepc, t2; \
9:  ld t0, 0(sp); ld t1, 8(sp); ld t2, 16(sp); ld t3, 24(sp); addi sp, sp, 64; \
    csrrw sp, sscratch, sp; sret; \
6:  /* back-to-M from U with ecall delegated: re-issue the ecall from S */ \
    li t2, CAUSE_ECALL_U; bne t0, t2, sbad_trap; \
    li t2, MAGIC_TO_M; beq a7, t2, 4f; li t2, MAGIC_TO_M_AT; bne a7, t2, sbad_trap; \
4:  \
    ld t0, 0(sp); ld t1, 8(sp); ld t2, 16(sp); ld t3, 24(sp); addi sp, sp, 64; \
    csrrw sp, sscratch, sp; \
    ecall; \
    csrr t6, sepc; addi t6, t6, 4; jr t6; \
sbad_trap: \
    li a7, 0; ecall; /* reaches the M handler unarmed: reported there */ \
    j fail; \
    .data; \
msg_fail:  .string "FAIL "; \
msg_trap:  .string "FAIL unexpected trap in "; \
msg_file:  .string __FILE__; \
msg_test:  .string " test "; \
msg_cause: .string " cause "; \
msg_epc:   .string " epc "; \
msg_tval:  .string " tval "; \
msg_scause: .string " scause "; \
msg_sepc:  .string " sepc "; \
    .balign 8; \
numbuf: .skip 32; \
    .balign 64; \
trap_info:  .skip 64; \
strap_info: .skip 64; \
    .section .tohost, "aw", @progbits; \
    .balign 64; .globl tohost; .type tohost, @object; .size tohost, 8; tohost: .dword 0; \
    .balign 64; .globl fromhost; .type fromhost, @object; .size fromhost, 8; fromhost: .dword 0; \
    .bss; \
    .balign 16; .skip 8192; stack_top: \
    .skip 4096; trap_stack_top: \
    .skip 4096; strap_stack_top:

#endif
