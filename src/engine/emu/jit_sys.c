/* Generated code calling into C: register spills around helper calls, the
 * interpreter fallback for instructions the JIT does not translate (and
 * for system instructions, which end the block), CSR reads, and the
 * host's FP exception flags folded into fflags. */
#include <xmmintrin.h>

#include "fpu.h"
#include "jit_internal.h"

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
int jit_interp_sys(Hart *h, uint64_t pc, uint64_t next)
{
    jit_interp_insn(h, pc, next);
    if (hart_pending_irqs(h))
        h->exit_chunk = 1;
    return 1;
}

/* The instruction in the interpreter (jit_thunk.c's interp thunks). A
 * system one ends the block: it may have enabled an interrupt, changed the
 * mapping or the privilege, and the dispatcher checks. Otherwise the block
 * goes on, counting it as if it were translated. */
void js_interp(JitCtx *c, bool sys)
{
    X86 *x = &c->x;
    const Insn *d = &c->scan[c->idx].d;

    jg_spill_locals(c);
    mov_ri(x, RSI, c->pc);
    mov_ri(x, RDX, d->len | (c->pending << 8));
    call_rel(x, sys ? c->j->t_interp_sys : c->j->t_interp);
    if (!sys)
        jg_reload_locals(c);
    c->j->stats.interp++;
}

void js_cold_interp(JitCtx *c, JitCold *k)
{
    X86 *x = &c->x;

    if (k->arg)
        ldmxcsr(x, xm(RSP, 0));     /* undo the flags of an attempt (jit_fp.c) */
    jg_spill_locals(c);
    mov_ri(x, RSI, k->pc);
    mov_ri(x, RDX, k->d.len | (k->pending << 8));
    call_rel(x, c->j->t_interp);
    jg_reload_locals(c);
    jmp_to(x, k->back);
}

/* ---- CSR reads ---- */

/* csrrs/csrrc rd, csr, x0: a read with no side effects. `instret` counts
 * this instruction, as the interpreter does while it executes one. */
JitRet jit_csr_read(Hart *h, uint64_t csr, uint64_t instret, uint64_t pc)
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

    mov_ri(x, RSI, ((uint64_t)raw << 32) | ((uint64_t)s->d.imm & 0xfff));
    lea(x, RDX, xm(R15, (int32_t)c->pending + 1));
    mov_ri(x, RCX, c->pc);
    call_rel(x, c->j->t_csr);
    test_rr(x, RDX, RDX, true);
    jg_cold(c, cold_csr_fault, jcc_fwd(x, CC_NE));
    jg_put(c, s->d.rd, RAX);
    return true;
}
