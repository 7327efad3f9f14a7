/* RV64A: lr/sc success and failure paths, every AMO in .w and .d forms
 * (old value sign-extended for .w, upper word untouched), aq/rl bits. */
#include "test.h"
#define HI 0xdeadbeef00000000
/* op: the AMO; init: 64-bit memory before; src: rs2; old: expected rd;
 * new: expected 64-bit memory after. */
#define TEST_AMO(op, init, src, old, new) \
    NEXT_TEST; la x11, amo_data; li x12, init; sd x12, 0(x11); li x13, src; \
    op x14, x13, (x11); CHECK(x14, old); ld x14, 0(x11); CHECK(x14, new)
TEST_START
    TEST_AMO(amoswap.w, HI|0x80000001, 0x12345678, 0xffffffff80000001, HI|0x12345678)
    TEST_AMO(amoadd.w, HI|0x80000001, 0xffffffff, 0xffffffff80000001, HI|0x80000000)
    TEST_AMO(amoadd.w, HI|0xffffffff, 1, -1, HI)          /* no carry out */
    TEST_AMO(amoxor.w, HI|0x80000001, 0xffffffff, 0xffffffff80000001, HI|0x7ffffffe)
    TEST_AMO(amoand.w, HI|0x80000001, 0x0000ffff, 0xffffffff80000001, HI|0x00000001)
    TEST_AMO(amoor.w, HI|0x80000001, 0x00010000, 0xffffffff80000001, HI|0x80010001)
    TEST_AMO(amomin.w, HI|0x80000001, 0x80000000, 0xffffffff80000001, HI|0x80000000)
    TEST_AMO(amomin.w, HI|0x80000001, 0xffffffff00000005, 0xffffffff80000001, HI|0x80000001)
    TEST_AMO(amomax.w, HI|0x80000001, 5, 0xffffffff80000001, HI|5)
    TEST_AMO(amomax.w, HI|0x7fffffff, 0x80000000, 0x7fffffff, HI|0x7fffffff)
    TEST_AMO(amominu.w, HI|0x80000001, 5, 0xffffffff80000001, HI|5)
    TEST_AMO(amominu.w, HI|3, 0x80000000, 3, HI|3)
    TEST_AMO(amomaxu.w, HI|0x80000001, 5, 0xffffffff80000001, HI|0x80000001)
    TEST_AMO(amomaxu.w, HI|0x80000001, 0xffffffff, 0xffffffff80000001, HI|0xffffffff)

    TEST_AMO(amoswap.d, 0x8000000000000001, 7, 0x8000000000000001, 7)
    TEST_AMO(amoadd.d, 0x8000000000000001, -1, 0x8000000000000001, 0x8000000000000000)
    TEST_AMO(amoxor.d, 0x8000000000000001, -1, 0x8000000000000001, 0x7ffffffffffffffe)
    TEST_AMO(amoand.d, 0x8000000000000001, 0xff, 0x8000000000000001, 1)
    TEST_AMO(amoor.d, 0x8000000000000001, 0x10, 0x8000000000000001, 0x8000000000000011)
    TEST_AMO(amomin.d, 0x8000000000000001, 5, 0x8000000000000001, 0x8000000000000001)
    TEST_AMO(amomin.d, 0x8000000000000001, 0x8000000000000000, 0x8000000000000001, 0x8000000000000000)
    TEST_AMO(amomax.d, 0x8000000000000001, 5, 0x8000000000000001, 5)
    TEST_AMO(amominu.d, 0x8000000000000001, 5, 0x8000000000000001, 5)
    TEST_AMO(amomaxu.d, 0x8000000000000001, 5, 0x8000000000000001, 0x8000000000000001)
    TEST_AMO(amomaxu.d, 0x8000000000000001, -1, 0x8000000000000001, -1)
    /* aq/rl variants */
    TEST_AMO(amoadd.d.aq, 1, 2, 1, 3)
    TEST_AMO(amoadd.d.rl, 1, 2, 1, 3)
    TEST_AMO(amoadd.d.aqrl, 1, 2, 1, 3)
    TEST_AMO(amoswap.w.aqrl, HI|1, 2, 1, HI|2)
    TEST_AMO(amoor.w.aq, HI|1, 2, 1, HI|3)
    /* rd = x0 still updates memory; rd == rs2 gets the old value */
    NEXT_TEST; la x11, amo_data; li x12, 10; sd x12, 0(x11); li x13, 5
    amoadd.d x0, x13, (x11); ld x14, 0(x11); CHECK(x14, 15)
    NEXT_TEST; amoswap.d x13, x13, (x11); CHECK(x13, 15); ld x14, 0(x11); CHECK(x14, 5)

    /* lr/sc success */
    NEXT_TEST; la x11, amo_data; li x12, 0x8000000000000042; sd x12, 0(x11)
    lr.d x14, (x11); CHECK(x14, 0x8000000000000042)
    li x13, 99; sc.d x15, x13, (x11); CHECK(x15, 0); ld x14, 0(x11); CHECK(x14, 99)
    /* second sc without a new lr fails and does not write */
    NEXT_TEST; li x13, 123; sc.d x15, x13, (x11); beqz x15, fail; ld x14, 0(x11); CHECK(x14, 99)
    /* sc to another address than the reservation fails */
    NEXT_TEST; lr.d x14, (x11); la x12, amo_far; li x13, 5; sd x0, 0(x12)
    sc.d x15, x13, (x12); beqz x15, fail; ld x14, 0(x12); CHECK(x14, 0)
    /* lr.w sign-extends; sc.w writes only the word */
    NEXT_TEST; li x12, HI|0x80000007; sd x12, 0(x11)
    lr.w x14, (x11); CHECK(x14, 0xffffffff80000007)
    li x13, 0x11223344; sc.w x15, x13, (x11); CHECK(x15, 0); ld x14, 0(x11); CHECK(x14, HI|0x11223344)
    NEXT_TEST; sc.w x15, x13, (x11); beqz x15, fail
    /* aq/rl forms and a retry loop */
    NEXT_TEST; li x12, 1; sd x12, 0(x11)
1:  lr.d.aq x14, (x11); addi x14, x14, 1; sc.d.rl x15, x14, (x11); bnez x15, 1b
    ld x14, 0(x11); CHECK(x14, 2)
    NEXT_TEST
1:  lr.w.aqrl x14, (x11); addi x14, x14, 1; sc.w.aqrl x15, x14, (x11); bnez x15, 1b
    lw x14, 0(x11); CHECK(x14, 3)
    /* an AMO between lr and sc: sc to the lr address after a plain store
       by this hart may succeed or fail; it must return 0 or 1 only */
    NEXT_TEST; lr.d x14, (x11); sd x14, 0(x11); sc.d x15, x14, (x11); srli x15, x15, 1; bnez x15, 2f; j 3f
2:  j fail
3:
TEST_PASS
    .data
    .balign 64
amo_data: .dword 0, 0
    .balign 256
amo_far:  .dword 0
TEST_END
