/* A small x86-64 instruction encoder for the JIT.
 *
 * Code is written through the writable view of the code memory (x->p);
 * every displacement that the CPU resolves (jumps, calls, RIP-relative
 * operands) is computed against the executable view, x->p + x->rx_delta.
 * All functions are static inline: the translator includes this header. */
#ifndef XENO_EMU_JIT_X86_H
#define XENO_EMU_JIT_X86_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

enum {
    RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI,
    R8, R9, R10, R11, R12, R13, R14, R15,
};

enum {
    CC_O, CC_NO, CC_B, CC_AE, CC_E, CC_NE, CC_BE, CC_A,
    CC_S, CC_NS, CC_P, CC_NP, CC_L, CC_GE, CC_LE, CC_G,
};

/* The "op r/m, r" opcodes of the classic ALU group; the "op r, r/m" form
 * is the same plus 2, and the /digit of the immediate forms is op >> 3. */
enum { ALU_ADD = 0x01, ALU_OR = 0x09, ALU_AND = 0x21, ALU_SUB = 0x29, ALU_XOR = 0x31,
       ALU_CMP = 0x39 };
enum { SH_ROL = 0, SH_ROR = 1, SH_SHL = 4, SH_SHR = 5, SH_SAR = 7 };

typedef struct X86 {
    uint8_t *p;              /* next byte, writable view */
    uint8_t *end;            /* writable limit */
    intptr_t rx_delta;       /* executable address = writable address + rx_delta */
} X86;

/* A memory operand [base + index*scale + disp]; index < 0: none. */
typedef struct XMem {
    int base, index, scale;
    int32_t disp;
} XMem;

static inline XMem xm(int base, int32_t disp) { return (XMem){ base, -1, 1, disp }; }
static inline XMem xmi(int base, int index, int scale, int32_t disp)
{
    return (XMem){ base, index, scale, disp };
}

static inline void x8(X86 *x, unsigned b) { *x->p++ = (uint8_t)b; }
static inline void x32(X86 *x, uint32_t v) { memcpy(x->p, &v, 4); x->p += 4; }
static inline void x64(X86 *x, uint64_t v) { memcpy(x->p, &v, 8); x->p += 8; }
static inline uint8_t *x_rx(const X86 *x, uint8_t *rw) { return rw + x->rx_delta; }
static inline bool fits8(int64_t v) { return v >= -128 && v <= 127; }
static inline bool fits32(int64_t v) { return v == (int32_t)v; }

/* REX: W = 64-bit operand, R/X/B extend reg, index and base/rm. `force`
 * is for byte operations on sil/dil/spl/bpl, which need an empty REX. */
static inline void x_rex(X86 *x, bool w, int reg, int index, int base, bool force)
{
    unsigned r = 0x40 | (w ? 8 : 0) | ((reg & 8) ? 4 : 0) | ((index >= 0 && (index & 8)) ? 2 : 0) |
                 ((base >= 0 && (base & 8)) ? 1 : 0);
    if (r != 0x40 || force)
        x8(x, r);
}

static inline void x_opc(X86 *x, uint32_t opc)
{
    if (opc > 0xffff)
        x8(x, opc >> 16);
    if (opc > 0xff)
        x8(x, (opc >> 8) & 0xff);
    x8(x, opc & 0xff);
}

/* ModRM/SIB/displacement for a memory operand. rbp/r13 as a base always
 * take a displacement (mod 00 with them means RIP/disp32); rsp/r12 as a
 * base always take a SIB byte. */
static inline void x_modrm_mem(X86 *x, int reg, XMem m)
{
    unsigned mod = (m.disp == 0 && (m.base & 7) != RBP) ? 0 : fits8(m.disp) ? 1 : 2;
    unsigned ss = m.scale == 8 ? 3 : m.scale == 4 ? 2 : m.scale == 2 ? 1 : 0;

    if (m.index >= 0 || (m.base & 7) == RSP) {
        x8(x, (mod << 6) | ((reg & 7) << 3) | 4);
        x8(x, (ss << 6) | (((m.index >= 0 ? m.index : RSP) & 7) << 3) | (m.base & 7));
    } else {
        x8(x, (mod << 6) | ((reg & 7) << 3) | (m.base & 7));
    }
    if (mod == 1)
        x8(x, (uint8_t)(int8_t)m.disp);
    else if (mod == 2)
        x32(x, (uint32_t)m.disp);
}

/* [prefix] REX opcode modrm(reg, rm register) */
static inline void x_rr(X86 *x, unsigned pfx, bool w, uint32_t opc, int reg, int rm)
{
    if (pfx)
        x8(x, pfx);
    x_rex(x, w, reg, -1, rm, false);
    x_opc(x, opc);
    x8(x, 0xc0 | ((reg & 7) << 3) | (rm & 7));
}

/* [prefix] REX opcode modrm(reg, memory) */
static inline void x_rm(X86 *x, unsigned pfx, bool w, uint32_t opc, int reg, XMem m)
{
    if (pfx)
        x8(x, pfx);
    x_rex(x, w, reg, m.index, m.base, false);
    x_opc(x, opc);
    x_modrm_mem(x, reg, m);
}

/* ---- moves ---- */

static inline void mov_rr(X86 *x, int dst, int src)
{
    if (dst != src)
        x_rr(x, 0, true, 0x89, src, dst);
}

static inline void mov_rr32(X86 *x, int dst, int src) { x_rr(x, 0, false, 0x89, src, dst); }

/* r = 0, clobbering the flags */
static inline void zero(X86 *x, int r) { x_rr(x, 0, false, 0x31, r, r); }

/* r = v; never touches the flags (so it can sit between cmp and jcc) */
static inline void mov_ri(X86 *x, int r, uint64_t v)
{
    if (v <= 0xffffffffull) {                /* mov r32, imm32 zero-extends */
        x_rex(x, false, 0, -1, r, false);
        x8(x, 0xb8 + (r & 7));
        x32(x, (uint32_t)v);
    } else if (fits32((int64_t)v)) {                /* mov r/m64, simm32 */
        x_rex(x, true, 0, -1, r, false);
        x8(x, 0xc7);
        x8(x, 0xc0 | (r & 7));
        x32(x, (uint32_t)v);
    } else {                                        /* movabs */
        x_rex(x, true, 0, -1, r, false);
        x8(x, 0xb8 + (r & 7));
        x64(x, v);
    }
}

static inline void ld64(X86 *x, int r, XMem m) { x_rm(x, 0, true, 0x8b, r, m); }
static inline void st64(X86 *x, XMem m, int r) { x_rm(x, 0, true, 0x89, r, m); }
static inline void ld32(X86 *x, int r, XMem m) { x_rm(x, 0, false, 0x8b, r, m); }   /* zero-extends */
static inline void st32(X86 *x, XMem m, int r) { x_rm(x, 0, false, 0x89, r, m); }
static inline void st16(X86 *x, XMem m, int r) { x8(x, 0x66); x_rm(x, 0, false, 0x89, r, m); }
static inline void st8(X86 *x, XMem m, int r)
{
    x_rex(x, false, r, m.index, m.base, r >= RSP && r <= RDI);
    x8(x, 0x88);
    x_modrm_mem(x, r, m);
}
static inline void ldsx8(X86 *x, int r, XMem m) { x_rm(x, 0, true, 0x0fbe, r, m); }
static inline void ldzx8(X86 *x, int r, XMem m) { x_rm(x, 0, false, 0x0fb6, r, m); }
static inline void ldsx16(X86 *x, int r, XMem m) { x_rm(x, 0, true, 0x0fbf, r, m); }
static inline void ldzx16(X86 *x, int r, XMem m) { x_rm(x, 0, false, 0x0fb7, r, m); }
static inline void ldsx32(X86 *x, int r, XMem m) { x_rm(x, 0, true, 0x63, r, m); }

/* mov qword [m], simm32 */
static inline void st64_i(X86 *x, XMem m, int32_t v)
{
    x_rm(x, 0, true, 0xc7, 0, m);
    x32(x, (uint32_t)v);
}

static inline void lea(X86 *x, int r, XMem m) { x_rm(x, 0, true, 0x8d, r, m); }

/* rorx r32, r/m32 (register), imm8: BMI2, VEX.LZ.F2.0F3A.W0 F0; rotate
 * into another register without touching the flags. */
static inline void rorx32(X86 *x, int dst, int src, unsigned n)
{
    x8(x, 0xc4);
    x8(x, ((~dst & 8) ? 0x80 : 0) | 0x40 | ((~src & 8) ? 0x20 : 0) | 0x03);
    x8(x, 0x7b);
    x8(x, 0xf0);
    x8(x, 0xc0 | ((dst & 7) << 3) | (src & 7));
    x8(x, n);
}

/* ---- integer ALU ---- */

static inline void alu_rr(X86 *x, int op, int dst, int src, bool w) { x_rr(x, 0, w, (uint32_t)op, src, dst); }
/* dst op= [m] */
static inline void alu_rm(X86 *x, int op, int dst, XMem m, bool w) { x_rm(x, 0, w, (uint32_t)op + 2, dst, m); }
/* [m] op= src */
static inline void alu_mr(X86 *x, int op, XMem m, int src, bool w) { x_rm(x, 0, w, (uint32_t)op, src, m); }

static inline void alu_ri(X86 *x, int op, int r, int32_t imm, bool w)
{
    if (fits8(imm)) {
        x_rr(x, 0, w, 0x83, op >> 3, r);
        x8(x, (uint8_t)(int8_t)imm);
    } else {
        x_rr(x, 0, w, 0x81, op >> 3, r);
        x32(x, (uint32_t)imm);
    }
}

static inline void alu_mi(X86 *x, int op, XMem m, int32_t imm, bool w)
{
    if (fits8(imm)) {
        x_rm(x, 0, w, 0x83, op >> 3, m);
        x8(x, (uint8_t)(int8_t)imm);
    } else {
        x_rm(x, 0, w, 0x81, op >> 3, m);
        x32(x, (uint32_t)imm);
    }
}

static inline void test_rr(X86 *x, int a, int b, bool w) { x_rr(x, 0, w, 0x85, b, a); }

static inline void test_ri8(X86 *x, int r, uint8_t imm)
{
    /* test r8, imm8: spl..dil need an empty REX */
    x_rex(x, false, 0, -1, r, r >= RSP && r <= RDI);
    x8(x, 0xf6);
    x8(x, 0xc0 | (r & 7));
    x8(x, imm);
}

static inline void test_mi8(X86 *x, XMem m, uint8_t imm)
{
    x_rm(x, 0, false, 0xf6, 0, m);
    x8(x, imm);
}

static inline void shift_ri(X86 *x, int sh, int r, unsigned n, bool w)
{
    x_rr(x, 0, w, 0xc1, sh, r);
    x8(x, n);
}

static inline void shift_cl(X86 *x, int sh, int r, bool w) { x_rr(x, 0, w, 0xd3, sh, r); }

static inline void imul_rr(X86 *x, int dst, int src, bool w) { x_rr(x, 0, w, 0x0faf, dst, src); }
static inline void imul_rm(X86 *x, int dst, XMem m, bool w) { x_rm(x, 0, w, 0x0faf, dst, m); }
/* Group 3 on one operand: rdx:rax = rax * r (mul 4, imul 5), divide (div 6, idiv 7),
 * neg 3, not 2. */
static inline void grp3(X86 *x, int digit, int r, bool w) { x_rr(x, 0, w, 0xf7, digit, r); }
static inline void cqo(X86 *x) { x8(x, 0x48); x8(x, 0x99); }
static inline void cdq(X86 *x) { x8(x, 0x99); }
static inline void movsxd(X86 *x, int dst, int src) { x_rr(x, 0, true, 0x63, dst, src); }
static inline void movzx8(X86 *x, int dst, int src)
{
    x_rex(x, false, dst, -1, src, src >= RSP && src <= RDI);
    x8(x, 0x0f); x8(x, 0xb6);
    x8(x, 0xc0 | ((dst & 7) << 3) | (src & 7));
}

static inline void setcc(X86 *x, int cc, int r)
{
    x_rex(x, false, 0, -1, r, r >= RSP && r <= RDI);
    x8(x, 0x0f); x8(x, 0x90 + cc);
    x8(x, 0xc0 | (r & 7));
}

static inline void cmov(X86 *x, int cc, int dst, int src, bool w) { x_rr(x, 0, w, 0x0f40 + (unsigned)cc, dst, src); }

static inline void xchg_mr(X86 *x, XMem m, int r, bool w) { x_rm(x, 0, w, 0x87, r, m); }
static inline void lock_xadd(X86 *x, XMem m, int r, bool w) { x8(x, 0xf0); x_rm(x, 0, w, 0x0fc1, r, m); }
static inline void lock_cmpxchg(X86 *x, XMem m, int r, bool w) { x8(x, 0xf0); x_rm(x, 0, w, 0x0fb1, r, m); }
static inline void mfence(X86 *x) { x8(x, 0x0f); x8(x, 0xae); x8(x, 0xf0); }

/* ---- control flow ---- */

/* Patch the rel32 at `at` (writable view, code being written) to reach
 * `target_rx` (executable view). */
static inline void x_patch_rel32(const X86 *x, uint8_t *at, const uint8_t *target_rx)
{
    int32_t rel = (int32_t)(target_rx - (x_rx(x, at) + 4));
    memcpy(at, &rel, 4);
}

/* Forward jumps: emit with a zero displacement, return the rel32's
 * address; x_here() binds it later. */
static inline uint8_t *jcc_fwd(X86 *x, int cc) { x8(x, 0x0f); x8(x, 0x80 + cc); x32(x, 0); return x->p - 4; }
static inline uint8_t *jmp_fwd(X86 *x) { x8(x, 0xe9); x32(x, 0); return x->p - 4; }
static inline void x_here(const X86 *x, uint8_t *rel32) { x_patch_rel32(x, rel32, x_rx(x, x->p)); }

/* Short forward jumps for a few bytes of code. */
static inline uint8_t *jcc8_fwd(X86 *x, int cc) { x8(x, 0x70 + cc); x8(x, 0); return x->p - 1; }
static inline uint8_t *jmp8_fwd(X86 *x) { x8(x, 0xeb); x8(x, 0); return x->p - 1; }
static inline void x_here8(const X86 *x, uint8_t *rel8) { *rel8 = (uint8_t)(x->p - (rel8 + 1)); }

static inline void jmp_to(X86 *x, const uint8_t *target_rx)
{
    uint8_t *at;
    x8(x, 0xe9); x32(x, 0);
    at = x->p - 4;
    x_patch_rel32(x, at, target_rx);
}

static inline void jcc_to(X86 *x, int cc, const uint8_t *target_rx)
{
    uint8_t *at;
    x8(x, 0x0f); x8(x, 0x80 + cc); x32(x, 0);
    at = x->p - 4;
    x_patch_rel32(x, at, target_rx);
}

static inline void call_rel(X86 *x, const uint8_t *target_rx)
{
    uint8_t *at;
    x8(x, 0xe8); x32(x, 0);
    at = x->p - 4;
    x_patch_rel32(x, at, target_rx);
}

/* jmp qword [m] */
static inline void jmp_m(X86 *x, XMem m) { x_rm(x, 0, false, 0xff, 4, m); }

/* Call a C function: through rax, as the code memory may lie more than
 * 2 GiB from the host binary. */
static inline void call_abs(X86 *x, const void *fn)
{
    mov_ri(x, RAX, (uint64_t)(uintptr_t)fn);
    x8(x, 0xff); x8(x, 0xd0);
}

/* lea r, [rip + to target]: the executable address of a code location. */
static inline void lea_rip(X86 *x, int r, const uint8_t *target_rx)
{
    int32_t rel;
    x_rex(x, true, r, -1, -1, false);
    x8(x, 0x8d);
    x8(x, ((r & 7) << 3) | 5);
    rel = (int32_t)(target_rx - (x_rx(x, x->p) + 4));
    x32(x, (uint32_t)rel);
}

static inline void push(X86 *x, int r) { x_rex(x, false, 0, -1, r, false); x8(x, 0x50 + (r & 7)); }
static inline void pop(X86 *x, int r) { x_rex(x, false, 0, -1, r, false); x8(x, 0x58 + (r & 7)); }
static inline void ret(X86 *x) { x8(x, 0xc3); }

/* ---- SSE ---- */

/* op xmm, xmm/m with a mandatory prefix (0x66, 0xf2, 0xf3 or 0). */
static inline void sse_rr(X86 *x, unsigned pfx, uint32_t opc, int xr, int xrm) { x_rr(x, pfx, false, opc, xr, xrm); }
static inline void sse_rm(X86 *x, unsigned pfx, uint32_t opc, int xr, XMem m) { x_rm(x, pfx, false, opc, xr, m); }

enum {
    SSE_SQRT = 0x0f51, SSE_ADD = 0x0f58, SSE_MUL = 0x0f59, SSE_SUB = 0x0f5c, SSE_MIN = 0x0f5d,
    SSE_DIV = 0x0f5e, SSE_MAX = 0x0f5f,
};
#define PFX_SS 0xf3
#define PFX_SD 0xf2

static inline void movsd_load(X86 *x, int xr, XMem m) { sse_rm(x, 0xf2, 0x0f10, xr, m); }
static inline void movsd_store(X86 *x, XMem m, int xr) { sse_rm(x, 0xf2, 0x0f11, xr, m); }
static inline void movss_load(X86 *x, int xr, XMem m) { sse_rm(x, 0xf3, 0x0f10, xr, m); }
static inline void movss_store(X86 *x, XMem m, int xr) { sse_rm(x, 0xf3, 0x0f11, xr, m); }
/* movq r64, xmm / movq xmm, r64 / movd r32, xmm */
static inline void movq_rx(X86 *x, int r, int xr) { x_rr(x, 0x66, true, 0x0f7e, xr, r); }
static inline void movq_xr(X86 *x, int xr, int r) { x_rr(x, 0x66, true, 0x0f6e, xr, r); }
static inline void movd_rx(X86 *x, int r, int xr) { x_rr(x, 0x66, false, 0x0f7e, xr, r); }
static inline void movd_xr(X86 *x, int xr, int r) { x_rr(x, 0x66, false, 0x0f6e, xr, r); }
/* ucomis/comis: d = double (0x66 prefix), s = single */
static inline void ucomi(X86 *x, bool dbl, int a, int b) { sse_rr(x, dbl ? 0x66 : 0, 0x0f2e, a, b); }
static inline void comi(X86 *x, bool dbl, int a, int b) { sse_rr(x, dbl ? 0x66 : 0, 0x0f2f, a, b); }
/* cvtsi2sd/ss xmm, r (w: 64-bit source) */
static inline void cvtsi2f(X86 *x, bool dbl, int xr, int r, bool w) { x_rr(x, dbl ? 0xf2 : 0xf3, w, 0x0f2a, xr, r); }
/* cvt(t)sd/ss2si r, xmm (trunc: round toward zero) */
static inline void cvtf2si(X86 *x, bool dbl, bool trunc, int r, int xr, bool w)
{
    x_rr(x, dbl ? 0xf2 : 0xf3, w, trunc ? 0x0f2c : 0x0f2d, r, xr);
}
static inline void cvtss2sd(X86 *x, int xd, int xs) { sse_rr(x, 0xf3, 0x0f5a, xd, xs); }
static inline void cvtsd2ss(X86 *x, int xd, int xs) { sse_rr(x, 0xf2, 0x0f5a, xd, xs); }
static inline void stmxcsr(X86 *x, XMem m) { x_rm(x, 0, false, 0x0fae, 3, m); }
static inline void ldmxcsr(X86 *x, XMem m) { x_rm(x, 0, false, 0x0fae, 2, m); }

/* VEX-encoded FMA3 (vfmadd/vfmsub/vfnmadd/vfnmsub 231 forms, scalar):
 * xd = ±(xa * xb) ± xd, with a single rounding. The 3-byte VEX: C4,
 * RXB.mmmmm (0F38), W.vvvv.L.pp (pp = 66). */
static inline void vfma231(X86 *x, unsigned opc, bool dbl, int xd, int xa, int xb)
{
    x8(x, 0xc4);
    x8(x, ((~xd & 8) ? 0x80 : 0) | 0x40 | ((~xb & 8) ? 0x20 : 0) | 0x02);
    x8(x, (dbl ? 0x80 : 0) | ((~xa & 15) << 3) | 0x01);
    x8(x, opc);
    x8(x, 0xc0 | ((xd & 7) << 3) | (xb & 7));
}
enum { FMA231_MADD = 0xb9, FMA231_MSUB = 0xbb, FMA231_NMADD = 0xbd, FMA231_NMSUB = 0xbf };

#endif
