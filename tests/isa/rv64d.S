/* RV64D: arithmetic with rounding modes, fused multiply-add forms,
 * sign injection, min/max with NaNs and signed zeros, compares and their
 * flags, fclass (all 10 classes), conversions (every rounding mode, dynamic
 * frm, out-of-range), fld/fsd, fmv, fcsr/fflags/frm access. */
#include "test.h"
#define QNAN  DB(0x7ff8000000000000)
#define SNAN  DB(0x7ff0000000000001)
#define NQNAN DB(0xfff8000000000000)
#define PINF  DB(0x7ff0000000000000)
#define NINF  DB(0xfff0000000000000)
#define MAXD  DB(0x7fefffffffffffff)
#define MINSUB DB(0x0000000000000001)
#define MINNORM DB(0x0010000000000000)
TEST_START
    /* add / sub */
    TEST_FP2_D(fadd.d, rne, 0, D(3.0), D(1.0), D(2.0))
    TEST_FP2_D(fadd.d, rne, NX, D(1.0), D(1.0), DB(0x3c30000000000000))
    TEST_FP2_D(fadd.d, rup, NX, DB(0x3ff0000000000001), D(1.0), DB(0x3c30000000000000))
    TEST_FP2_D(fadd.d, rtz, NX, D(-1.0), D(-1.0), DB(0xbc30000000000000))
    TEST_FP2_D(fadd.d, rdn, NX, DB(0xbff0000000000001), D(-1.0), DB(0xbc30000000000000))
    TEST_FP2_D(fadd.d, rmm, NX, DB(0x3ff0000000000001), D(1.0), DB(0x3ca0000000000000)) /* tie */
    TEST_FP2_D(fadd.d, rne, NX, D(1.0), D(1.0), DB(0x3ca0000000000000))  /* tie to even */
    TEST_FP2_D(fadd.d, rne, NV, QNAN, PINF, NINF)
    TEST_FP2_D(fadd.d, rne, 0, QNAN, QNAN, D(1.0))
    TEST_FP2_D(fadd.d, rne, NV, QNAN, SNAN, D(1.0))
    TEST_FP2_D(fadd.d, rne, OF|NX, PINF, MAXD, MAXD)
    TEST_FP2_D(fsub.d, rne, 0, D(2.0), D(3.0), D(1.0))
    TEST_FP2_D(fsub.d, rne, 0, D(0.0), D(1.0), D(1.0))
    TEST_FP2_D(fsub.d, rdn, 0, D(-0.0), D(1.0), D(1.0))
    TEST_FP2_D(fsub.d, rne, 0, D(-2.5), D(-1.25), D(1.25))
    /* mul / div / sqrt */
    TEST_FP2_D(fmul.d, rne, 0, D(6.0), D(2.0), D(3.0))
    TEST_FP2_D(fmul.d, rne, 0, D(-0.0), D(-2.0), D(0.0))
    TEST_FP2_D(fmul.d, rne, NV, QNAN, PINF, D(0.0))
    TEST_FP2_D(fmul.d, rne, OF|NX, PINF, MAXD, D(2.0))
    TEST_FP2_D(fmul.d, rtz, OF|NX, MAXD, MAXD, D(2.0))
    TEST_FP2_D(fmul.d, rne, UF|NX, D(0.0), MINSUB, D(0.5))
    TEST_FP2_D(fmul.d, rup, UF|NX, MINSUB, MINSUB, D(0.5))
    TEST_FP2_D(fmul.d, rne, 0, DB(0x0008000000000000), MINNORM, D(0.5))  /* exact subnormal */
    TEST_FP2_D(fdiv.d, rne, 0, D(2.5), D(5.0), D(2.0))
    TEST_FP2_D(fdiv.d, rne, DZ, PINF, D(1.0), D(0.0))
    TEST_FP2_D(fdiv.d, rne, DZ, NINF, D(-1.0), D(0.0))
    TEST_FP2_D(fdiv.d, rne, NV, QNAN, D(0.0), D(0.0))
    TEST_FP2_D(fdiv.d, rne, NX, DB(0x3fd5555555555555), D(1.0), D(3.0))
    TEST_FP2_D(fdiv.d, rup, NX, DB(0x3fd5555555555556), D(1.0), D(3.0))
    TEST_FP1_D(fsqrt.d, rne, 0, D(2.0), D(4.0))
    TEST_FP1_D(fsqrt.d, rne, NX, DB(0x3ff6a09e667f3bcd), D(2.0))
    TEST_FP1_D(fsqrt.d, rne, NV, QNAN, D(-1.0))
    TEST_FP1_D(fsqrt.d, rne, 0, D(-0.0), D(-0.0))
    TEST_FP1_D(fsqrt.d, rne, 0, PINF, PINF)
    /* fused multiply-add: one rounding */
    TEST_FP3_D(fmadd.d, rne, 0, D(5.0), D(1.0), D(2.0), D(3.0))
    TEST_FP3_D(fmsub.d, rne, 0, D(-1.0), D(1.0), D(2.0), D(3.0))
    TEST_FP3_D(fnmsub.d, rne, 0, D(1.0), D(1.0), D(2.0), D(3.0))
    TEST_FP3_D(fnmadd.d, rne, 0, D(-5.0), D(1.0), D(2.0), D(3.0))
    TEST_FP3_D(fmadd.d, rne, 0, DB(0x3e20000000200000), DB(0x3ff0000000400000), DB(0x3ff0000000400000), D(-1.0))
    TEST_FP3_D(fmadd.d, rne, NV, QNAN, PINF, D(0.0), D(1.0))
    TEST_FP3_D(fmsub.d, rne, NV, QNAN, PINF, D(1.0), PINF)
    TEST_FP3_D(fnmadd.d, rtz, 0, D(-0.0), D(0.0), D(1.0), D(0.0))
    TEST_FP3_D(fmadd.d, dyn, 0, D(7.0), D(2.0), D(2.0), D(3.0))
    /* sign injection (no flags, NaN payload kept) */
    TEST_FP2N_D(fsgnj.d, 0, D(-1.0), D(1.0), D(-2.0))
    TEST_FP2N_D(fsgnj.d, 0, D(1.0), D(-1.0), D(2.0))
    TEST_FP2N_D(fsgnjn.d, 0, D(1.0), D(1.0), D(-2.0))
    TEST_FP2N_D(fsgnjn.d, 0, D(-1.0), D(1.0), D(2.0))
    TEST_FP2N_D(fsgnjx.d, 0, D(1.0), D(-1.0), D(-2.0))
    TEST_FP2N_D(fsgnjx.d, 0, D(-1.0), D(-1.0), D(2.0))
    TEST_FP2N_D(fsgnj.d, 0, DB(0xfff0000000000001), SNAN, D(-1.0))
    /* min / max */
    TEST_FP2N_D(fmin.d, 0, D(1.0), D(1.0), D(2.0))
    TEST_FP2N_D(fmax.d, 0, D(2.0), D(1.0), D(2.0))
    TEST_FP2N_D(fmin.d, 0, D(-0.0), D(0.0), D(-0.0))
    TEST_FP2N_D(fmin.d, 0, D(-0.0), D(-0.0), D(0.0))
    TEST_FP2N_D(fmax.d, 0, D(0.0), D(-0.0), D(0.0))
    TEST_FP2N_D(fmax.d, 0, D(0.0), D(0.0), D(-0.0))
    TEST_FP2N_D(fmin.d, 0, D(1.0), QNAN, D(1.0))
    TEST_FP2N_D(fmax.d, 0, D(-1.0), D(-1.0), NQNAN)
    TEST_FP2N_D(fmin.d, NV, D(1.0), SNAN, D(1.0))
    TEST_FP2N_D(fmax.d, NV, D(3.0), D(3.0), SNAN)
    TEST_FP2N_D(fmin.d, 0, QNAN, NQNAN, QNAN)
    TEST_FP2N_D(fmax.d, NV, QNAN, SNAN, SNAN)
    TEST_FP2N_D(fmax.d, 0, PINF, NINF, PINF)
    /* compares */
    TEST_FP_CMP_D(feq.d, 0, 1, D(1.0), D(1.0))
    TEST_FP_CMP_D(feq.d, 0, 0, D(1.0), D(2.0))
    TEST_FP_CMP_D(feq.d, 0, 1, D(-0.0), D(0.0))
    TEST_FP_CMP_D(feq.d, 0, 0, QNAN, D(1.0))
    TEST_FP_CMP_D(feq.d, 0, 0, QNAN, QNAN)
    TEST_FP_CMP_D(feq.d, NV, 0, SNAN, D(1.0))
    TEST_FP_CMP_D(flt.d, 0, 1, D(-1.0), D(1.0))
    TEST_FP_CMP_D(flt.d, 0, 0, D(1.0), D(1.0))
    TEST_FP_CMP_D(flt.d, 0, 0, D(-0.0), D(0.0))
    TEST_FP_CMP_D(flt.d, NV, 0, QNAN, D(1.0))
    TEST_FP_CMP_D(flt.d, NV, 0, D(1.0), SNAN)
    TEST_FP_CMP_D(fle.d, 0, 1, D(1.0), D(1.0))
    TEST_FP_CMP_D(fle.d, 0, 1, D(-0.0), D(0.0))
    TEST_FP_CMP_D(fle.d, 0, 0, D(2.0), D(1.0))
    TEST_FP_CMP_D(fle.d, NV, 0, D(1.0), QNAN)
    TEST_FP_CMP_D(fle.d, 0, 1, NINF, PINF)
    /* fclass: all ten classes */
    TEST_FCLASS_D(1 << 0, NINF)
    TEST_FCLASS_D(1 << 1, D(-1.0))
    TEST_FCLASS_D(1 << 2, DB(0x800fffffffffffff))
    TEST_FCLASS_D(1 << 3, D(-0.0))
    TEST_FCLASS_D(1 << 4, D(0.0))
    TEST_FCLASS_D(1 << 5, MINSUB)
    TEST_FCLASS_D(1 << 6, D(1.0))
    TEST_FCLASS_D(1 << 7, PINF)
    TEST_FCLASS_D(1 << 8, SNAN)
    TEST_FCLASS_D(1 << 9, QNAN)
    /* to integer: every rounding mode */
    TEST_FP_TOINT_D(fcvt.w.d, rne, NX, 2, D(1.5))
    TEST_FP_TOINT_D(fcvt.w.d, rne, NX, 2, D(2.5))
    TEST_FP_TOINT_D(fcvt.w.d, rne, NX, -2, D(-2.5))
    TEST_FP_TOINT_D(fcvt.w.d, rtz, NX, 1, D(1.5))
    TEST_FP_TOINT_D(fcvt.w.d, rtz, NX, -2, D(-2.5))
    TEST_FP_TOINT_D(fcvt.w.d, rdn, NX, 1, D(1.5))
    TEST_FP_TOINT_D(fcvt.w.d, rdn, NX, -3, D(-2.5))
    TEST_FP_TOINT_D(fcvt.w.d, rup, NX, 2, D(1.5))
    TEST_FP_TOINT_D(fcvt.w.d, rup, NX, -2, D(-2.5))
    TEST_FP_TOINT_D(fcvt.w.d, rmm, NX, 3, D(2.5))
    TEST_FP_TOINT_D(fcvt.w.d, rmm, NX, -3, D(-2.5))
    TEST_FP_TOINT_D(fcvt.w.d, rne, 0, -7, D(-7.0))
    TEST_FP_TOINT_D(fcvt.w.d, rtz, NV, 0x7fffffff, D(3e9))
    TEST_FP_TOINT_D(fcvt.w.d, rtz, NV, 0xffffffff80000000, D(-3e9))
    TEST_FP_TOINT_D(fcvt.w.d, rtz, NV, 0x7fffffff, QNAN)
    TEST_FP_TOINT_D(fcvt.w.d, rtz, NV, 0xffffffff80000000, NINF)
    TEST_FP_TOINT_D(fcvt.wu.d, rtz, 0, -1, D(4294967295.0))  /* sign-extended */
    TEST_FP_TOINT_D(fcvt.wu.d, rtz, NV, 0, D(-1.0))
    TEST_FP_TOINT_D(fcvt.wu.d, rtz, NX, 0, D(-0.5))
    TEST_FP_TOINT_D(fcvt.wu.d, rtz, NV, -1, D(5e9))
    TEST_FP_TOINT_D(fcvt.wu.d, rmm, NX, 3, D(2.5))
    TEST_FP_TOINT_D(fcvt.l.d, rtz, 0, 0x20000000000000, D(9007199254740992.0))
    TEST_FP_TOINT_D(fcvt.l.d, rtz, NV, 0x7fffffffffffffff, D(9223372036854775808.0))
    TEST_FP_TOINT_D(fcvt.l.d, rtz, 0, 0x8000000000000000, D(-9223372036854775808.0))
    TEST_FP_TOINT_D(fcvt.l.d, rtz, NV, 0x7fffffffffffffff, QNAN)
    TEST_FP_TOINT_D(fcvt.l.d, rdn, NX, -2, D(-1.1))
    TEST_FP_TOINT_D(fcvt.lu.d, rtz, 0, 0x8000000000000000, D(9223372036854775808.0))
    TEST_FP_TOINT_D(fcvt.lu.d, rtz, NV, 0, D(-3.0))
    TEST_FP_TOINT_D(fcvt.lu.d, rtz, NV, -1, PINF)
    TEST_FP_TOINT_D(fcvt.lu.d, rup, NX, 2, D(1.1))
    /* from integer */
    TEST_FP_FROMINT_EXACT_D(fcvt.d.w, D(-1.0), -1)
    TEST_FP_FROMINT_EXACT_D(fcvt.d.w, D(-2147483648.0), 0x1234567880000000)
    TEST_FP_FROMINT_EXACT_D(fcvt.d.wu, D(4294967295.0), -1)
    TEST_FP_FROMINT_D(fcvt.d.l, rne, 0, D(-9223372036854775808.0), 0x8000000000000000)
    TEST_FP_FROMINT_D(fcvt.d.l, rne, NX, D(9007199254740992.0), 9007199254740993)
    TEST_FP_FROMINT_D(fcvt.d.l, rup, NX, D(9007199254740994.0), 9007199254740993)
    TEST_FP_FROMINT_D(fcvt.d.lu, rne, NX, DB(0x43f0000000000000), -1)
    TEST_FP_FROMINT_D(fcvt.d.lu, rtz, NX, DB(0x43efffffffffffff), -1)
    /* between precisions */
    TEST_FCVT_S_D(rne, 0, F(1.5), D(1.5))
    TEST_FCVT_S_D(rne, NX, F(1.0), DB(0x3ff0000010000000))
    TEST_FCVT_S_D(rup, NX, FB(0x3f800001), DB(0x3ff0000010000000))
    TEST_FCVT_S_D(rne, OF|NX, FB(0x7f800000), D(1e300))
    TEST_FCVT_S_D(rtz, OF|NX, FB(0x7f7fffff), D(1e300))
    TEST_FCVT_S_D(rne, NV, FB(0x7fc00000), SNAN)
    TEST_FCVT_S_D(rne, 0, FB(0x7fc00000), NQNAN)
    TEST_FCVT_D_S(0, D(-1.5), F(-1.5))
    TEST_FCVT_D_S(NV, QNAN, FB(0x7f800001))
    TEST_FCVT_D_S(0, PINF, FB(0x7f800000))

    /* fld / fsd / fmv */
    NEXT_TEST; la x11, fdata; fld f4, 0(x11); fsd f4, 8(x11); ld x14, 8(x11); CHECK(x14, 0x400921fb54442d18)
    NEXT_TEST; fmv.x.d x14, f4; CHECK(x14, 0x400921fb54442d18)
    NEXT_TEST; li x12, 0xfff0000000000001; fmv.d.x f5, x12; fsd f5, -8(x11); ld x14, -8(x11); CHECK(x14, 0xfff0000000000001)
    /* fsd/fld of a signaling NaN: bits unchanged, no flags */
    NEXT_TEST; csrwi fflags, 0; fld f6, -8(x11); fmv.x.d x14, f6; CHECK(x14, 0xfff0000000000001); frflags x14; CHECK(x14, 0)

    /* fcsr, fflags, frm: accumulation and the pseudo-instructions */
    NEXT_TEST; csrwi fflags, 0; li x12, 1; fcvt.d.l f1, x12; fcvt.d.l f2, x0
    fdiv.d f3, f1, f2; frflags x14; CHECK(x14, DZ)
    li x12, 3; fcvt.d.l f2, x12; fdiv.d f3, f1, f2; frflags x14; CHECK(x14, DZ|NX)  /* accumulates */
    NEXT_TEST; li x12, 0x7f; fscsr x13, x12; frcsr x14; CHECK(x14, 0x7f); frrm x14; CHECK(x14, 3); frflags x14; CHECK(x14, 0x1f)
    NEXT_TEST; li x12, 0x04; fsflags x13, x12; CHECK(x13, 0x1f); frflags x14; CHECK(x14, 0x04)
    NEXT_TEST; li x12, 1; fsrm x13, x12; CHECK(x13, 3); frrm x14; CHECK(x14, 1); frcsr x14; CHECK(x14, 0x24)
    NEXT_TEST; csrsi fflags, 0x3; frflags x14; CHECK(x14, 0x7); csrci fflags, 0x4; frflags x14; CHECK(x14, 0x3)
    NEXT_TEST; fsrmi 2; frrm x14; CHECK(x14, 2); fsflagsi 0x11; frflags x14; CHECK(x14, 0x11); frcsr x14; CHECK(x14, 0x51)
    NEXT_TEST; li x12, 0x1ff; fscsr x12; frcsr x14; CHECK(x14, 0xff)     /* only 8 bits */
    NEXT_TEST; csrw fcsr, zero; frcsr x14; CHECK(x14, 0)
    /* dynamic rounding mode from frm */
    fsrmi 2   /* rdn */
    TEST_FP_TOINT_D(fcvt.w.d, dyn, NX, -3, D(-2.5))
    TEST_FP2_D(fadd.d, dyn, NX, DB(0xbff0000000000001), D(-1.0), DB(0xbc30000000000000))
    fsrmi 4   /* rmm */
    TEST_FP_TOINT_D(fcvt.l.d, dyn, NX, 3, D(2.5))
    fsrmi 3   /* rup */
    TEST_FP2_D(fdiv.d, dyn, NX, DB(0x3fd5555555555556), D(1.0), D(3.0))
    fsrmi 1   /* rtz */
    TEST_FP_TOINT_D(fcvt.w.d, dyn, NX, -2, D(-2.5))
    /* invalid frm with dyn: illegal instruction */
    NEXT_TEST; fsrmi 5; EXPECT_TRAP_SKIP(CAUSE_ILLEGAL); fadd.d f1, f1, f1, dyn
    CHECK_TRAPPED(trap_info)
    fsrmi 0
    /* mstatus.FS = Off: FP instructions are illegal */
    NEXT_TEST; li t0, MSTATUS_FS; csrc mstatus, t0; EXPECT_TRAP_SKIP(CAUSE_ILLEGAL); fadd.d f1, f1, f1
    CHECK_TRAPPED(trap_info)
    NEXT_TEST; EXPECT_TRAP_SKIP(CAUSE_ILLEGAL); frcsr x14
    CHECK_TRAPPED(trap_info)
    /* writing FP state makes FS dirty (FS=3, SD=1) */
    NEXT_TEST; li t0, (1 << 13); csrs mstatus, t0; fmv.d.x f1, x0
    csrr x14, mstatus; srli x15, x14, 13; andi x15, x15, 3; CHECK(x15, 3); bgez x14, fail
TEST_PASS
    .data
    .balign 8
    .dword 0
fdata: .double 3.141592653589793
    .dword 0
TEST_END
