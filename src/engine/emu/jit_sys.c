/* Generated code calling into C: register spills around helper calls, the
 * interpreter fallback for instructions the JIT does not translate (and
 * for system instructions, which end the block), CSR reads, and the
 * host's FP exception flags folded into fflags. */
#include <xmmintrin.h>

#include "fpu.h"
#include "jit_internal.h"

/* Host registers the SysV ABI lets a callee clobber. */
static bool volatile_host(int hreg)
{
    return hreg == RDI || (hreg >= R8 && hreg <= R11);
}

static void move_regs(JitCtx *c, bool store, bool only_volatile)
{
    for (unsigned r = 1; r < 32; r++) {
        int h = xmap(r);
        if (h < 0 || (only_volatile && !volatile_host(h)))
            continue;
        if (store)
            st64(&c->x, XM(r), h);
        else
            ld64(&c->x, h, XM(r));
    }
}

void js_spill_volatile(JitCtx *c) { move_regs(c, true, true); }
void js_reload_volatile(JitCtx *c) { move_regs(c, false, true); }
void js_spill_all(JitCtx *c) { move_regs(c, true, false); }
void js_reload_all(JitCtx *c) { move_regs(c, false, false); }

/* MXCSR exception flags (IE, ZE, OE, UE, PE; DE has no RISC-V
 * counterpart) -> fflags, then cleared. SSE detects tininess after
 * rounding and raises UE only when also inexact, like RISC-V. */
void jit_fold_fflags(Hart *h)
{
    unsigned m = _mm_getcsr();

    if (m & 0x3d) {
        uint32_t fl = 0;
        if (m & 0x01) fl |= FFLAG_NV;
        if (m & 0x04) fl |= FFLAG_DZ;
        if (m & 0x08) fl |= FFLAG_OF;
        if (m & 0x10) fl |= FFLAG_UF;
        if (m & 0x20) fl |= FFLAG_NX;
        h->fflags |= fl;
        h->mstatus |= MSTATUS_FS | MSTATUS_SD;
    }
    if (m & 0x3f)
        _mm_setcsr(m & ~0x3fu);
}

/* ---- the interpreter fallback ---- */

/* Run the instruction at pc in the interpreter. The mapped registers and
 * instret are in memory. Returns non-zero if the block must end: control
 * went elsewhere (a jump, a trap), or the chunk must end. */
int jit_interp_insn(Hart *h, uint64_t pc, uint64_t next)
{
    h->jit->stats.interp_runs++;
    jit_fold_fflags(h);
    h->pc = pc;
    hart_run_chunk(h, 1);
    return h->pc != next || h->exit_chunk || h->wfi;
}

/* A system instruction (CSR write, xRET, ecall ...): it may have enabled
 * an interrupt that is pending; then the chunk ends so the run loop takes
 * it before the next instruction. */
static void jit_interp_sys(Hart *h, uint64_t pc, uint64_t next)
{
    jit_interp_insn(h, pc, next);
    if (hart_pending_irqs(h))
        h->exit_chunk = 1;
}

void js_interp(JitCtx *c, bool sys)
{
    X86 *x = &c->x;
    const Insn *d = &c->scan[c->idx].d;

    js_spill_all(c);
    lea(x, RAX, xm(R15, (int32_t)c->pending));
    st64(x, HM(instret), RAX);
    lea(x, RDI, xm(RBX, -RBX_BIAS));
    mov_ri(x, RSI, c->pc);
    mov_ri(x, RDX, c->pc + d->len);
    call_abs(x, sys ? (const void *)jit_interp_sys : (const void *)jit_interp_insn);
    c->j->stats.interp++;
    if (sys) {
        /* May have enabled an interrupt, changed the mapping or the
         * privilege: back to the dispatcher, which checks. */
        jmp_to(x, c->j->exit_nosync);
        return;
    }
    test_rr(x, RAX, RAX, false);
    jcc_to(x, CC_NE, c->j->exit_nosync);
    js_reload_all(c);
    ld64(x, R15, HM(instret));
    c->pending = 0;
}

void js_cold_interp(JitCtx *c, JitCold *k)
{
    X86 *x = &c->x;

    if (k->arg)
        ldmxcsr(x, xm(RSP, 0));     /* undo the flags of an attempt (jit_fp.c) */
    js_spill_all(c);
    lea(x, RAX, xm(R15, (int32_t)k->pending));
    st64(x, HM(instret), RAX);
    lea(x, RDI, xm(RBX, -RBX_BIAS));
    mov_ri(x, RSI, k->pc);
    mov_ri(x, RDX, k->pc + k->d.len);
    call_abs(x, (const void *)jit_interp_insn);
    test_rr(x, RAX, RAX, false);
    jcc_to(x, CC_NE, c->j->exit_nosync);
    js_reload_all(c);
    /* The interpreter counted the instruction; the hot path counts it too. */
    ld64(x, R15, HM(instret));
    lea(x, R15, xm(R15, -(int32_t)(k->pending + 1)));
    jmp_to(x, k->back);
}

/* ---- CSR reads ---- */

typedef struct JitRet {
    uint64_t val, fault;        /* rax, rdx */
} JitRet;

/* csrrs/csrrc rd, csr, x0: a read with no side effects. `instret` counts
 * this instruction, as the interpreter does while it executes one. */
static JitRet jit_csr_read(Hart *h, uint64_t csr, uint64_t instret, uint64_t pc)
{
    JitRet r = { 0, 0 };

    h->instret = instret;
    jit_fold_fflags(h);
    if (csr_read(h, (unsigned)csr & 0xfff, &r.val) < 0) {
        h->instret = instret - 1;
        h->pc = pc;
        hart_raise(h, CAUSE_ILLEGAL_INSN, (uint32_t)(csr >> 32));
        r.fault = 1;
    }
    return r;
}

static void cold_csr_fault(JitCtx *c, JitCold *k)
{
    jg_exit_trap(c, k->pending);
}

bool js_csr(JitCtx *c)
{
    X86 *x = &c->x;
    const JitScan *s = &c->scan[c->idx];
    uint32_t raw = s->d.len == 2 ? (s->raw & 0xffff) : s->raw;

    js_spill_volatile(c);
    lea(x, RDI, xm(RBX, -RBX_BIAS));
    mov_ri(x, RSI, ((uint64_t)raw << 32) | ((uint64_t)s->d.imm & 0xfff));
    lea(x, RDX, xm(R15, (int32_t)c->pending + 1));
    mov_ri(x, RCX, c->pc);
    call_abs(x, (const void *)jit_csr_read);
    js_reload_volatile(c);
    test_rr(x, RDX, RDX, false);
    jg_cold(c, cold_csr_fault, jcc_fwd(x, CC_NE));
    jg_put(c, s->d.rd, RAX);
    return true;
}
