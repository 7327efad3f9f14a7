/* RV64F: single-precision arithmetic, FMA, sgnj, min/max, compares,
 * fclass, conversions in every rounding mode, flw/fsw, fmv.x.w sign
 * extension and NaN-boxing (unboxed inputs read as canonical NaN). */
#include "test.h"
#define QNAN  FB(0x7fc00000)
#define SNAN  FB(0x7f800001)
#define NQNAN FB(0xffc00000)
#define PINF  FB(0x7f800000)
#define NINF  FB(0xff800000)
#define MAXF  FB(0x7f7fffff)
#define MINSUB FB(0x00000001)
TEST_START
    TEST_FP2_S(fadd.s, rne, 0, F(3.5), F(1.0), F(2.5))
    TEST_FP2_S(fadd.s, rne, NX, F(1.0), F(1.0), FB(0x33800000))     /* 1 + 2^-24: tie to even */
    TEST_FP2_S(fadd.s, rmm, NX, FB(0x3f800001), F(1.0), FB(0x33800000))
    TEST_FP2_S(fadd.s, rup, NX, FB(0x3f800001), F(1.0), FB(0x33000000))
    TEST_FP2_S(fadd.s, rdn, NX, F(1.0), F(1.0), FB(0x33000000))
    TEST_FP2_S(fadd.s, rtz, NX, FB(0xbf800000), F(-1.0), FB(0xb3000000))
    TEST_FP2_S(fadd.s, rne, NV, QNAN, PINF, NINF)
    TEST_FP2_S(fadd.s, rne, OF|NX, PINF, MAXF, MAXF)
    TEST_FP2_S(fsub.s, rne, 0, F(-1.0), F(1.5), F(2.5))
    TEST_FP2_S(fsub.s, rdn, 0, F(-0.0), F(2.5), F(2.5))
    TEST_FP2_S(fmul.s, rne, 0, F(-7.5), F(2.5), F(-3.0))
    TEST_FP2_S(fmul.s, rne, UF|NX, F(0.0), MINSUB, F(0.5))
    TEST_FP2_S(fmul.s, rne, NV, QNAN, PINF, F(0.0))
    TEST_FP2_S(fdiv.s, rne, NX, FB(0x3eaaaaab), F(1.0), F(3.0))
    TEST_FP2_S(fdiv.s, rtz, NX, FB(0x3eaaaaaa), F(1.0), F(3.0))
    TEST_FP2_S(fdiv.s, rne, DZ, NINF, F(-1.0), F(0.0))
    TEST_FP1_S(fsqrt.s, rne, 0, F(3.0), F(9.0))
    TEST_FP1_S(fsqrt.s, rne, NV, QNAN, F(-4.0))
    TEST_FP3_S(fmadd.s, rne, 0, F(5.0), F(1.0), F(2.0), F(3.0))
    TEST_FP3_S(fmsub.s, rne, 0, F(-1.0), F(1.0), F(2.0), F(3.0))
    TEST_FP3_S(fnmsub.s, rne, 0, F(1.0), F(1.0), F(2.0), F(3.0))
    TEST_FP3_S(fnmadd.s, rne, 0, F(-5.0), F(1.0), F(2.0), F(3.0))
    /* (1+2^-12)^2 - 1 = 2^-11 + 2^-24, exact only when fused */
    TEST_FP3_S(fmadd.s, rne, 0, FB(0x3a000400), FB(0x3f800800), FB(0x3f800800), F(-1.0))
    TEST_FP3_S(fmadd.s, rne, NV, QNAN, PINF, F(0.0), F(2.0))
    TEST_FP2N_S(fsgnj.s, 0, F(-1.0), F(1.0), F(-2.0))
    TEST_FP2N_S(fsgnjn.s, 0, F(1.0), F(1.0), F(-2.0))
    TEST_FP2N_S(fsgnjx.s, 0, F(1.0), F(-1.0), F(-2.0))
    TEST_FP2N_S(fsgnjx.s, 0, F(-1.0), F(-1.0), F(2.0))
    TEST_FP2N_S(fmin.s, 0, F(-0.0), F(0.0), F(-0.0))
    TEST_FP2N_S(fmax.s, 0, F(0.0), F(-0.0), F(0.0))
    TEST_FP2N_S(fmin.s, 0, F(2.0), QNAN, F(2.0))
    TEST_FP2N_S(fmax.s, NV, F(2.0), SNAN, F(2.0))
    TEST_FP2N_S(fmin.s, 0, QNAN, NQNAN, QNAN)
    TEST_FP2N_S(fmin.s, 0, F(-3.0), F(1.0), F(-3.0))
    TEST_FP_CMP_S(feq.s, 0, 1, F(-0.0), F(0.0))
    TEST_FP_CMP_S(feq.s, NV, 0, SNAN, F(0.0))
    TEST_FP_CMP_S(feq.s, 0, 0, QNAN, F(0.0))
    TEST_FP_CMP_S(flt.s, 0, 1, F(-1.0), F(0.0))
    TEST_FP_CMP_S(flt.s, NV, 0, QNAN, F(0.0))
    TEST_FP_CMP_S(fle.s, 0, 1, F(2.0), F(2.0))
    TEST_FP_CMP_S(fle.s, NV, 0, F(2.0), QNAN)
    TEST_FCLASS_S(1 << 0, NINF)
    TEST_FCLASS_S(1 << 1, F(-1.0))
    TEST_FCLASS_S(1 << 2, FB(0x807fffff))
    TEST_FCLASS_S(1 << 3, F(-0.0))
    TEST_FCLASS_S(1 << 4, F(0.0))
    TEST_FCLASS_S(1 << 5, MINSUB)
    TEST_FCLASS_S(1 << 6, F(1.0))
    TEST_FCLASS_S(1 << 7, PINF)
    TEST_FCLASS_S(1 << 8, SNAN)
    TEST_FCLASS_S(1 << 9, QNAN)
    TEST_FP_TOINT_S(fcvt.w.s, rne, NX, 2, F(2.5))
    TEST_FP_TOINT_S(fcvt.w.s, rtz, NX, -2, F(-2.5))
    TEST_FP_TOINT_S(fcvt.w.s, rdn, NX, -3, F(-2.5))
    TEST_FP_TOINT_S(fcvt.w.s, rup, NX, 3, F(2.5))
    TEST_FP_TOINT_S(fcvt.w.s, rmm, NX, -3, F(-2.5))
    TEST_FP_TOINT_S(fcvt.w.s, rtz, NV, 0x7fffffff, F(3e9))
    TEST_FP_TOINT_S(fcvt.w.s, rtz, NV, 0x7fffffff, QNAN)
    TEST_FP_TOINT_S(fcvt.wu.s, rtz, 0, 0xffffffff80000000, F(2147483648.0))  /* sign-extended */
    TEST_FP_TOINT_S(fcvt.wu.s, rtz, NV, 0, F(-2.0))
    TEST_FP_TOINT_S(fcvt.l.s, rtz, 0, -1099511627776, F(-1099511627776.0))
    TEST_FP_TOINT_S(fcvt.l.s, rtz, NV, 0x8000000000000000, NINF)
    TEST_FP_TOINT_S(fcvt.lu.s, rmm, NX, 2, F(1.5))
    TEST_FP_TOINT_S(fcvt.lu.s, rtz, NV, 0, F(-1.5))
    TEST_FP_FROMINT_S(fcvt.s.w, rne, 0, F(-2.0), -2)
    TEST_FP_FROMINT_S(fcvt.s.w, rne, NX, FB(0x4b800000), 0x1000001)   /* 2^24+1 */
    TEST_FP_FROMINT_S(fcvt.s.w, rup, NX, FB(0x4b800001), 0x1000001)
    TEST_FP_FROMINT_S(fcvt.s.wu, rne, NX, F(4294967296.0), -1)
    TEST_FP_FROMINT_S(fcvt.s.wu, rtz, NX, FB(0x4f7fffff), -1)
    TEST_FP_FROMINT_S(fcvt.s.l, rne, 0, F(-1.0), -1)
    TEST_FP_FROMINT_S(fcvt.s.l, rmm, NX, FB(0x4b800001), 0x1000001)
    TEST_FP_FROMINT_S(fcvt.s.lu, rne, NX, F(18446744073709551616.0), -1)

    /* flw/fsw */
    NEXT_TEST; la x11, fdata; flw f4, 0(x11); fsw f4, 4(x11); lwu x14, 4(x11); CHECK(x14, 0xbfc00000)
    /* flw NaN-boxes: upper 32 bits all ones */
    NEXT_TEST; fmv.x.d x14, f4; CHECK(x14, 0xffffffffbfc00000)
    /* fmv.x.w sign-extends; fmv.w.x boxes */
    NEXT_TEST; fmv.x.w x14, f4; CHECK(x14, 0xffffffffbfc00000)
    NEXT_TEST; li x12, 0x123456783f800000; fmv.w.x f5, x12; fmv.x.d x14, f5; CHECK(x14, 0xffffffff3f800000)
    NEXT_TEST; li x12, 0x7f800000; fmv.w.x f5, x12; fmv.x.w x14, f5; CHECK(x14, 0x7f800000)
    /* results of single ops are boxed */
    NEXT_TEST; fadd.s f6, f5, f5; fmv.x.d x14, f6; CHECK(x14, 0xffffffff7f800000)
    /* unboxed inputs behave as the canonical NaN */
    NEXT_TEST; li x12, 0x000000003f800000; fmv.d.x f7, x12; csrwi fflags, 0
    fadd.s f8, f7, f7; fmv.x.d x14, f8; CHECK(x14, 0xffffffff7fc00000); frflags x14; CHECK(x14, 0)
    NEXT_TEST; fsgnj.s f8, f7, f7; fmv.x.d x14, f8; CHECK(x14, 0xffffffff7fc00000)
    NEXT_TEST; fclass.s x14, f7; CHECK(x14, 1 << 9)
    NEXT_TEST; li x12, 0xfffffffe3f800000; fmv.d.x f7, x12; fclass.s x14, f7; CHECK(x14, 1 << 9)
    NEXT_TEST; fcvt.d.s f8, f7; fmv.x.d x14, f8; CHECK(x14, 0x7ff8000000000000)
    NEXT_TEST; feq.s x14, f7, f7; CHECK(x14, 0)
    /* fmv.x.w of an unboxed value just moves the low bits */
    NEXT_TEST; fmv.x.w x14, f7; CHECK(x14, 0x3f800000)
    /* fsw stores the low 32 bits whatever the boxing */
    NEXT_TEST; fsw f7, 8(x11); lwu x14, 8(x11); CHECK(x14, 0x3f800000)
    /* fflags accumulate across single ops */
    NEXT_TEST; csrwi fflags, 0; li x12, 0x3f800000; fmv.w.x f1, x12; fmv.w.x f2, x0
    fdiv.s f3, f1, f2; li x12, 0x40400000; fmv.w.x f2, x12; fdiv.s f3, f1, f2
    frflags x14; CHECK(x14, DZ|NX)
    /* dynamic rounding */
    fsrmi 4
    TEST_FP2_S(fadd.s, dyn, NX, FB(0x3f800001), F(1.0), FB(0x33800000))
    fsrmi 0
    TEST_FP2_S(fadd.s, dyn, NX, F(1.0), F(1.0), FB(0x33800000))
TEST_PASS
    .data
    .balign 8
fdata: .float -1.5
    .word 0, 0, 0
TEST_END
