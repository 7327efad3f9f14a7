/* RV64M: multiply/divide, their word forms, division by zero and the
 * signed-overflow case (-2^63 / -1). */
#include "test.h"
#define MIN64 0x8000000000000000
TEST_START
    TEST_RR(mul, 6, 2, 3)
    TEST_RR(mul, -6, -2, 3)
    TEST_RR(mul, 1, -1, -1)
    TEST_RR(mul, MIN64, 0x4000000000000000, 2)
    TEST_RR(mul, 0xfffffffe00000001, 0xffffffff, 0xffffffff)
    TEST_RR(mulh, 0, -1, -1)
    TEST_RR(mulh, -1, -1, 1)
    TEST_RR(mulh, 0x4000000000000000, MIN64, MIN64)
    TEST_RR(mulh, 0, 0x7fffffffffffffff, 1)
    TEST_RR(mulh, 0xc000000000000000, MIN64, 0x7fffffffffffffff)
    TEST_RR(mulhu, 0xfffffffffffffffe, -1, -1)
    TEST_RR(mulhu, 1, MIN64, 2)
    TEST_RR(mulhu, 0, 0xffffffff, 0xffffffff)
    TEST_RR(mulhsu, -1, -1, -1)
    TEST_RR(mulhsu, 0, 1, -1)
    TEST_RR(mulhsu, -1, -2, 3)
    TEST_RR(mulhsu, MIN64, MIN64, -1)
    TEST_RR(mulhsu, 0x7ffffffffffffffe, 0x7fffffffffffffff, -1)
    TEST_RR(mulw, -2, 0x7fffffff, 2)
    TEST_RR(mulw, 15, 0x100000003, 0x100000005)
    TEST_RR(mulw, 0xffffffff80000000, 0x10000, 0x8000)
    TEST_RR_RD_RS1(mul, 143, 11, 13)
    TEST_RR_RD_RS2(mulhu, 0, 11, 13)
    TEST_RR_X0(mul, 3, 4)

    TEST_RR(div, 3, 7, 2)
    TEST_RR(div, -3, -7, 2)
    TEST_RR(div, -3, 7, -2)
    TEST_RR(div, 3, -7, -2)
    TEST_RR(div, -1, 5, 0)
    TEST_RR(div, -1, 0, 0)
    TEST_RR(div, MIN64, MIN64, -1)
    TEST_RR(divu, 0x7fffffffffffffff, -1, 2)
    TEST_RR(divu, 0, 7, 8)
    TEST_RR(divu, -1, 5, 0)
    TEST_RR(divu, 0, MIN64, -1)
    TEST_RR(rem, 1, 7, 2)
    TEST_RR(rem, -1, -7, 2)
    TEST_RR(rem, 1, 7, -2)
    TEST_RR(rem, -1, -7, -2)
    TEST_RR(rem, 5, 5, 0)
    TEST_RR(rem, -5, -5, 0)
    TEST_RR(rem, 0, MIN64, -1)
    TEST_RR(remu, 1, -1, 2)
    TEST_RR(remu, 7, 7, 8)
    TEST_RR(remu, -5, -5, 0)
    TEST_RR(remu, MIN64, MIN64, -1)

    TEST_RR(divw, -3, -7, 2)
    TEST_RR(divw, -3, 0x1fffffff9, 2)            /* upper bits ignored */
    TEST_RR(divw, 0xffffffff80000000, 0x80000000, -1)  /* overflow */
    TEST_RR(divw, -1, 9, 0)
    TEST_RR(divw, -1, 9, 0x100000000)            /* word divisor is 0 */
    TEST_RR(divuw, 0x40000000, 0x80000000, 2)
    TEST_RR(divuw, -1, 0xffffffff, 1)            /* result sign-extended */
    TEST_RR(divuw, 3, 0x100000007, 2)
    TEST_RR(divuw, -1, 9, 0)
    TEST_RR(remw, -1, -7, 2)
    TEST_RR(remw, -1, 0x1fffffff9, 2)
    TEST_RR(remw, 0, 0x80000000, -1)
    TEST_RR(remw, 0xffffffff80000001, 0x80000001, 0)  /* x mod 0 = x (as word) */
    TEST_RR(remw, 9, 0x300000009, 0)
    TEST_RR(remuw, 15, 0xffffffff, 0x10)
    TEST_RR(remuw, 0xffffffff80000000, 0x80000000, 0)
    TEST_RR(remuw, 1, 0x500000007, 3)
    TEST_RR(remuw, 0xfffffffffffffffe, 0xfffffffe, 0xffffffff)
TEST_PASS
TEST_END
