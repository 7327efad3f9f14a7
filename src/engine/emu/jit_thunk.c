/* The JIT's shared routines, written once at the start of the code memory
 * and never dropped: entering and leaving generated code, and the
 * out-of-line halves of slow paths, so that a block's own slow path is a
 * few bytes (set arguments, call the thunk, use the result) instead of the
 * register spills and reloads around a C call at every site.
 *
 * Thunks are reached with `call` from generated code, where rsp is 16-byte
 * aligned: inside, rsp is 8 off until they push one word, and they always
 * do before calling C. A thunk that leaves the block instead of returning
 * drops its return address first. */
#include <stdlib.h>

#include "jit_internal.h"

#if defined(__x86_64__)

static const int saved[] = { RBX, RBP, R12, R13, R14, R15 };
/* The caller-saved host registers that hold a block's locals. */
static const int locals[] = { RDI, R8, R9, R10, R11 };

/* The global guest registers to (store) or from memory. */
static void move_globals(X86 *x, bool store)
{
    for (unsigned r = 1; r < 32; r++) {
        int h = jit_global_host(r);
        if (h < 0)
            continue;
        if (store)
            st64(x, XM(r), h);
        else
            ld64(x, h, XM(r));
    }
}

/* Around a C call that does not look at guest registers: keep the
 * block's locals on the stack. With the return address and `extra` (one
 * word the thunk keeps), rsp ends 16-aligned. */
static void save_locals(X86 *x, int extra)
{
    push(x, extra);
    for (unsigned i = 0; i < 5; i++)
        push(x, locals[i]);
    alu_ri(x, ALU_SUB, RSP, 8, true);
}

static void restore_locals(X86 *x, int extra)
{
    alu_ri(x, ALU_ADD, RSP, 8, true);
    for (int i = 4; i >= 0; i--)
        pop(x, locals[i]);
    pop(x, extra);
}

static void arg_hart(X86 *x) { lea(x, RDI, xm(RBX, -RBX_BIAS)); }

size_t jit_emit_thunks(Jit *j, size_t room)
{
    X86 x = { j->cm.w, j->cm.w + room, j->cm.x - j->cm.w };
    uint8_t *clean, *fold, *restore, *leave;

    /* enter(Hart *h = rdi, code = rsi): callee-saved registers, rbx, r15,
     * the global guest registers. */
    j->enter = (void (*)(Hart *, const uint8_t *))(void *)x_rx(&x, x.p);
    for (unsigned i = 0; i < 6; i++)
        push(&x, saved[i]);
    alu_ri(&x, ALU_SUB, RSP, 8, true);          /* 6 pushes + 8: rsp 16-aligned */
    lea(&x, RBX, xm(RDI, RBX_BIAS));
    ld64(&x, R15, HM(instret));
    /* Start with no pending host FP exception flags (they become fflags).
     * [rsp] stays a scratch slot while generated code runs. */
    stmxcsr(&x, xm(RSP, 0));
    test_mi8(&x, xm(RSP, 0), 0x3d);
    clean = jcc8_fwd(&x, CC_E);
    alu_mi(&x, ALU_AND, xm(RSP, 0), ~0x3f, false);
    ldmxcsr(&x, xm(RSP, 0));
    x_here8(&x, clean);
    move_globals(&x, false);
    x8(&x, 0xff); x8(&x, 0xe6);                 /* jmp rsi: the block loads its locals */

    /* exit_sync: generated code's registers back to the hart (the block
     * stored its locals) */
    j->exit_sync = x_rx(&x, x.p);
    move_globals(&x, true);
    st64(&x, HM(instret), R15);
    /* exit_nosync: memory is already authoritative */
    j->exit_nosync = x_rx(&x, x.p);
    stmxcsr(&x, xm(RSP, 0));
    test_mi8(&x, xm(RSP, 0), 0x3d);
    fold = jcc8_fwd(&x, CC_NE);
    restore = x.p;
    alu_ri(&x, ALU_ADD, RSP, 8, true);
    for (int i = 5; i >= 0; i--)
        pop(&x, saved[i]);
    ret(&x);
    x_here8(&x, fold);
    arg_hart(&x);
    call_abs(&x, (const void *)jit_fold_fflags);
    jmp_to(&x, x_rx(&x, restore));

    /* exit_chain: `call exit_chain; .quad target` right after a chain site
     * (a jmp rel32): pc = target, jit_chain = that rel32, leave. The call
     * never returns: one return mispredicted, on a path to the dispatcher. */
    j->t_exit_chain = x_rx(&x, x.p);
    pop(&x, RAX);
    ld64(&x, RCX, xm(RAX, 0));
    st64(&x, HM(pc), RCX);
    alu_ri(&x, ALU_SUB, RAX, 9, true);          /* 5 (this call) + 4 (the rel32) */
    st64(&x, HM(jit_chain), RAX);
    jmp_to(&x, j->exit_sync);
    /* exit_leave: `call exit_leave; .quad target`: pc = target, leave */
    j->t_exit_leave = x_rx(&x, x.p);
    pop(&x, RAX);
    ld64(&x, RCX, xm(RAX, 0));
    st64(&x, HM(pc), RCX);
    jmp_to(&x, j->exit_sync);

    /* load: rsi = va, rdx = pc, ecx = size | 16 (sign); returns rax = the
     * value, rdx = non-zero after a trap (the site leaves the block) */
    j->t_load = x_rx(&x, x.p);
    save_locals(&x, RCX);
    arg_hart(&x);
    call_abs(&x, (const void *)jit_load_slow);
    restore_locals(&x, RCX);
    ret(&x);

    /* store: rsi = va, rdx = value, rax = pc, ecx = size; returns rax =
     * non-zero after a trap */
    j->t_store = x_rx(&x, x.p);
    save_locals(&x, RCX);
    mov_rr32(&x, R8, RCX);
    mov_rr(&x, RCX, RAX);
    arg_hart(&x);
    call_abs(&x, (const void *)jit_store_slow);
    restore_locals(&x, RCX);
    ret(&x);

    /* csr read: rsi = csr | raw insn << 32, rdx = instret counting this
     * instruction (r15 + pending + 1), rcx = pc; returns rax = the value,
     * rdx = non-zero after a trap */
    j->t_csr = x_rx(&x, x.p);
    save_locals(&x, RCX);
    arg_hart(&x);
    call_abs(&x, (const void *)jit_csr_read);
    restore_locals(&x, RCX);
    ret(&x);

    /* interp, interp_sys, atomic: run the instruction at rsi in C; edx =
     * its length | pending << 8 (| atomic info << 16), rcx = the address of
     * an atomic. The site stored its locals (and reloads them after), the
     * thunk the globals: memory holds every guest register. interp and
     * atomic return with r15 such that the block's count goes on as for a
     * translated instruction (r15 + pending + 1 = instret), or leave if the
     * instruction trapped or jumped; interp_sys always leaves. */
    for (int kind = 0; kind < 3; kind++) {
        const uint8_t *start = x_rx(&x, x.p);
        push(&x, RDX);
        mov_rr32(&x, RAX, RDX);
        shift_ri(&x, SH_SHR, RAX, 8, false);
        x8(&x, 0x0f); x8(&x, 0xb6); x8(&x, 0xc0);   /* movzx eax, al: pending */
        alu_rr(&x, ALU_ADD, RAX, R15, true);
        st64(&x, HM(instret), RAX);
        move_globals(&x, true);
        if (kind == 2) {
            mov_rr32(&x, R8, RDX);
            shift_ri(&x, SH_SHR, R8, 16, false);        /* atomic info */
        }
        x8(&x, 0x0f); x8(&x, 0xb6); x8(&x, 0xc2);   /* movzx eax, dl: length */
        lea(&x, RDX, xmi(RSI, RAX, 1, 0));          /* next pc */
        arg_hart(&x);
        call_abs(&x, kind == 0 ? (const void *)jit_interp_insn :
                     kind == 1 ? (const void *)jit_interp_sys : (const void *)jit_atomic_slow);
        pop(&x, RDX);
        if (kind != 1) {
            test_rr(&x, RAX, RAX, false);
            leave = jcc8_fwd(&x, CC_NE);
            move_globals(&x, false);
            ld64(&x, R15, HM(instret));
            shift_ri(&x, SH_SHR, RDX, 8, false);
            x8(&x, 0x0f); x8(&x, 0xb6); x8(&x, 0xd2);   /* movzx edx, dl */
            alu_rr(&x, ALU_SUB, R15, RDX, true);
            alu_ri(&x, ALU_SUB, R15, 1, true);
            ret(&x);
            x_here8(&x, leave);
        }
        pop(&x, RAX);
        jmp_to(&x, j->exit_nosync);
        if (kind == 0)
            j->t_interp = start;
        else if (kind == 1)
            j->t_interp_sys = start;
        else
            j->t_atomic = start;
    }
    if (x.p > x.end)
        abort();
    return (size_t)(x.p - j->cm.w);
}

#endif
