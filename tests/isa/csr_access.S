/* CSR access rules: M CSRs illegal from S, S CSRs illegal from U, writes
 * to read-only CSRs, counters gated by mcounteren/scounteren, TVM, and
 * sstatus as a view of mstatus. */
#include "test.h"
#define ILLEGAL_IN_S(...) \
    NEXT_TEST; EXPECT_TRAP(CAUSE_ILLEGAL, 2f); GOTO_S(1f); 1: __VA_ARGS__; j fail; 2: CHECK_TRAPPED(trap_info); BACK_TO_M
#define ILLEGAL_IN_U(...) \
    NEXT_TEST; EXPECT_TRAP(CAUSE_ILLEGAL, 2f); GOTO_U(1f); 1: __VA_ARGS__; j fail; 2: CHECK_TRAPPED(trap_info); BACK_TO_M
#define OK_IN_S(...) NEXT_TEST; GOTO_S(1f); 1: __VA_ARGS__; BACK_TO_M
#define OK_IN_U(...) NEXT_TEST; GOTO_U(1f); 1: __VA_ARGS__; BACK_TO_M
TEST_START
    ILLEGAL_IN_S(csrr x14, mstatus)
    ILLEGAL_IN_S(csrw mscratch, x0)
    ILLEGAL_IN_S(csrr x14, mepc)
    ILLEGAL_IN_S(csrr x14, mhartid)
    ILLEGAL_IN_U(csrr x14, sstatus)
    ILLEGAL_IN_U(csrw sscratch, x0)
    ILLEGAL_IN_U(csrr x14, satp)
    OK_IN_S(csrr x14, sstatus)
    OK_IN_S(csrw sscratch, x14)
    /* read-only CSRs: write is illegal even in M */
    NEXT_TEST; EXPECT_TRAP_SKIP(CAUSE_ILLEGAL); csrw mhartid, x0; CHECK_TRAPPED(trap_info)
    NEXT_TEST; EXPECT_TRAP_SKIP(CAUSE_ILLEGAL); csrw cycle, x0; CHECK_TRAPPED(trap_info)
    NEXT_TEST; EXPECT_TRAP_SKIP(CAUSE_ILLEGAL); csrw instret, x0; CHECK_TRAPPED(trap_info)
    NEXT_TEST; EXPECT_TRAP_SKIP(CAUSE_ILLEGAL); csrw mvendorid, x0; CHECK_TRAPPED(trap_info)
    /* counters: mcounteren gates S and U, scounteren gates U */
    csrw mcounteren, zero; csrw scounteren, zero
    ILLEGAL_IN_S(rdcycle x14)
    ILLEGAL_IN_S(rdinstret x14)
    ILLEGAL_IN_U(rdcycle x14)
    li t0, 5; csrw mcounteren, t0      /* CY | IR */
    NEXT_TEST; csrr x14, mcounteren; andi x14, x14, 5; CHECK(x14, 5)
    OK_IN_S(rdcycle x14)
    OK_IN_S(rdinstret x14)
    ILLEGAL_IN_U(rdcycle x14)          /* scounteren still 0 */
    li t0, 1; csrw scounteren, t0
    OK_IN_U(rdcycle x14)
    ILLEGAL_IN_U(rdinstret x14)
    /* scounteren alone does not open U when mcounteren is clear */
    li t0, 5; csrw scounteren, t0; csrw mcounteren, zero
    ILLEGAL_IN_U(rdinstret x14)
    csrw scounteren, zero
    /* TVM: satp and sfence.vma illegal in S */
    li t0, MSTATUS_TVM; csrs mstatus, t0
    ILLEGAL_IN_S(csrr x14, satp)
    ILLEGAL_IN_S(sfence.vma)
    li t0, MSTATUS_TVM; csrc mstatus, t0
    OK_IN_S(csrr x14, satp)
    OK_IN_S(sfence.vma)
    /* sfence.vma is illegal in U */
    ILLEGAL_IN_U(sfence.vma)
    /* sstatus is a restricted view of mstatus */
    NEXT_TEST; li t0, MSTATUS_SUM; csrs sstatus, t0; csrr x14, mstatus; and x14, x14, t0; beqz x14, fail
    csrc mstatus, t0; csrr x14, sstatus; and x14, x14, t0; bnez x14, fail
    NEXT_TEST; li t0, MSTATUS_MPP; csrs mstatus, t0; csrr x14, sstatus; and x14, x14, t0; bnez x14, fail
    /* sie/sip only show delegated bits */
    NEXT_TEST; csrw mideleg, zero; li t0, MIP_SSIP; csrs mie, t0; csrr x14, sie; and x14, x14, t0; bnez x14, fail
    csrw mideleg, t0; csrr x14, sie; and x14, x14, t0; beqz x14, fail
    csrw mie, zero; csrw mideleg, zero
TEST_PASS
TEST_END
