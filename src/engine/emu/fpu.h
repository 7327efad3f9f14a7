/* IEEE-754 binary32/binary64 arithmetic for the RISC-V F and D extensions.
 *
 * Values are raw IEEE bit patterns.  `rm` is a resolved static rounding mode
 * (FPU_RNE..FPU_RMM; the caller maps DYN to frm and rejects 5/6 itself).
 * `*fl` accumulates RISC-V fflags bits; these functions only OR into it.
 *
 * RISC-V semantics throughout: every NaN result is the canonical NaN,
 * tininess is detected after rounding, fma raises NV for inf*0 even when
 * the addend is a quiet NaN, float->int conversions saturate.
 */
#ifndef XENO_EMU_FPU_H
#define XENO_EMU_FPU_H

#include <stdint.h>

#define FPU_RNE 0   /* round to nearest, ties to even */
#define FPU_RTZ 1   /* toward zero */
#define FPU_RDN 2   /* toward -infinity */
#define FPU_RUP 3   /* toward +infinity */
#define FPU_RMM 4   /* round to nearest, ties to max magnitude */

#define FFLAG_NX 1  /* inexact */
#define FFLAG_UF 2  /* underflow */
#define FFLAG_OF 4  /* overflow */
#define FFLAG_DZ 8  /* divide by zero */
#define FFLAG_NV 16 /* invalid operation */

#define F32_CANON_NAN 0x7fc00000u
#define F64_CANON_NAN 0x7ff8000000000000ull

/* fma op selector (the four R4-type opcodes) */
#define FPU_FMADD  0 /*  a*b + c */
#define FPU_FMSUB  1 /*  a*b - c */
#define FPU_FNMSUB 2 /* -(a*b) + c */
#define FPU_FNMADD 3 /* -(a*b) - c */

/* NaN boxing of single-precision values in 64-bit f registers. */
static inline uint32_t fpu_unbox32(uint64_t reg)
{
    if ((reg >> 32) != 0xffffffffu)
        return F32_CANON_NAN;
    return (uint32_t)reg;
}

static inline uint64_t fpu_box32(uint32_t v)
{
    return 0xffffffff00000000ull | v;
}

/* ---- binary32 ---- */
uint32_t f32_add(uint32_t a, uint32_t b, int rm, uint32_t *fl);
uint32_t f32_sub(uint32_t a, uint32_t b, int rm, uint32_t *fl);
uint32_t f32_mul(uint32_t a, uint32_t b, int rm, uint32_t *fl);
uint32_t f32_div(uint32_t a, uint32_t b, int rm, uint32_t *fl);
uint32_t f32_sqrt(uint32_t a, int rm, uint32_t *fl);
uint32_t f32_fma(uint32_t a, uint32_t b, uint32_t c, int op, int rm, uint32_t *fl);
uint32_t f32_min(uint32_t a, uint32_t b, uint32_t *fl);
uint32_t f32_max(uint32_t a, uint32_t b, uint32_t *fl);
int f32_eq(uint32_t a, uint32_t b, uint32_t *fl);
int f32_lt(uint32_t a, uint32_t b, uint32_t *fl);
int f32_le(uint32_t a, uint32_t b, uint32_t *fl);
uint32_t f32_classify(uint32_t a);
int32_t  f32_to_i32(uint32_t a, int rm, uint32_t *fl);
uint32_t f32_to_u32(uint32_t a, int rm, uint32_t *fl);
int64_t  f32_to_i64(uint32_t a, int rm, uint32_t *fl);
uint64_t f32_to_u64(uint32_t a, int rm, uint32_t *fl);
uint32_t i32_to_f32(int32_t v, int rm, uint32_t *fl);
uint32_t u32_to_f32(uint32_t v, int rm, uint32_t *fl);
uint32_t i64_to_f32(int64_t v, int rm, uint32_t *fl);
uint32_t u64_to_f32(uint64_t v, int rm, uint32_t *fl);

/* ---- binary64 ---- */
uint64_t f64_add(uint64_t a, uint64_t b, int rm, uint32_t *fl);
uint64_t f64_sub(uint64_t a, uint64_t b, int rm, uint32_t *fl);
uint64_t f64_mul(uint64_t a, uint64_t b, int rm, uint32_t *fl);
uint64_t f64_div(uint64_t a, uint64_t b, int rm, uint32_t *fl);
uint64_t f64_sqrt(uint64_t a, int rm, uint32_t *fl);
uint64_t f64_fma(uint64_t a, uint64_t b, uint64_t c, int op, int rm, uint32_t *fl);
uint64_t f64_min(uint64_t a, uint64_t b, uint32_t *fl);
uint64_t f64_max(uint64_t a, uint64_t b, uint32_t *fl);
int f64_eq(uint64_t a, uint64_t b, uint32_t *fl);
int f64_lt(uint64_t a, uint64_t b, uint32_t *fl);
int f64_le(uint64_t a, uint64_t b, uint32_t *fl);
uint32_t f64_classify(uint64_t a);
int32_t  f64_to_i32(uint64_t a, int rm, uint32_t *fl);
uint32_t f64_to_u32(uint64_t a, int rm, uint32_t *fl);
int64_t  f64_to_i64(uint64_t a, int rm, uint32_t *fl);
uint64_t f64_to_u64(uint64_t a, int rm, uint32_t *fl);
uint64_t i32_to_f64(int32_t v, int rm, uint32_t *fl);
uint64_t u32_to_f64(uint32_t v, int rm, uint32_t *fl);
uint64_t i64_to_f64(int64_t v, int rm, uint32_t *fl);
uint64_t u64_to_f64(uint64_t v, int rm, uint32_t *fl);

/* ---- format conversion ---- */
uint64_t f32_to_f64(uint32_t a, uint32_t *fl);
uint32_t f64_to_f32(uint64_t a, int rm, uint32_t *fl);

#endif
