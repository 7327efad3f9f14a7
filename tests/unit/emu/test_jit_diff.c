/* Differential test of the emu engine's JIT against its interpreter.
 *
 * Each case builds a RAM image (code, data, page tables) and an initial
 * hart state, runs it once on the interpreter and once on the JIT, and
 * requires the same end state: x and f registers, pc, instret (exact),
 * fflags, frm, mstatus, the trap CSRs, privilege, satp and every byte of
 * RAM. The JIT's counters must show the code was translated, not handed
 * to the interpreter behind the test's back.
 *
 * Cases: random integer programs (ALU, M with division corner cases,
 * loads/stores aligned, misaligned and across pages, compressed, forward
 * branches, counted loops, indirect jumps, counter reads); random F/D
 * programs (special values, every rounding mode incl. dynamic and
 * reserved ones, NaN boxing; results and fflags bit for bit); AMOs and
 * LR/SC (incl. misaligned and MMIO addresses); CSR reads (cycle, instret,
 * fflags, illegal ones); faults in the middle of blocks under Sv39
 * (unmapped, read-only, no-A/D and execute-only pages, accesses across
 * them); self-modifying code with fence.i (in the caller's page and in
 * another); indirect jumps across pages and across address spaces (satp
 * switches with sfence.vma, and with ASIDs only).
 *
 * Every program ends in `j .`; both engines run a fixed instruction
 * budget, and the self-loop makes the JIT stop on exactly the same count.
 * A trap goes to an M-mode handler that skips the (4-byte) instruction (or
 * returns to ra after a fetch fault) and accumulates mcause (x27), mtval
 * and minstret (x25) and a count (x26): those registers are the handler's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/emu/hart.h"
#include "engine/emu/jit.h"

#define RAM_BASE   0x80000000ull
#define RAM_SIZE   (4u << 20)
#define HANDLER    0x0000          /* offsets in RAM */
#define CODE       0x1000
#define CODE_MAX   0x20000
#define DATA       0x80000         /* scratch data: several pages */
#define PT         0x200000        /* page tables (Sv39) */
#define BUDGET     400000

static GuestMem mem;
static Bus bus;
static Emu *emu;

static void no_exit(void *opaque, enum vm_exit why, int code)
{
    fail_msg("the engine asked to exit (%d, code %d)", why, code);
}

static uint64_t rng_state = 88172645463325252ull;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static unsigned rn(unsigned n) { return (unsigned)(rnd() % n); }

/* Registers random code may write: x1..x15 (x21-x24 keep a running hash
 * of results, x25-x28 are the handler's, x29-x31 the programs' own bases
 * and counters). */
static unsigned reg(void) { return 1 + rn(15); }

/* ---- encoding ---- */

static uint32_t r_type(unsigned f7, unsigned rs2, unsigned rs1, unsigned f3, unsigned rd, unsigned op)
{
    return (f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op;
}

static uint32_t i_type(int32_t imm, unsigned rs1, unsigned f3, unsigned rd, unsigned op)
{
    return ((uint32_t)(imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op;
}

static uint32_t s_type(int32_t imm, unsigned rs2, unsigned rs1, unsigned f3, unsigned op)
{
    uint32_t u = (uint32_t)imm & 0xfff;
    return ((u >> 5) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((u & 31) << 7) | op;
}

static uint32_t b_type(int32_t off, unsigned rs2, unsigned rs1, unsigned f3)
{
    uint32_t u = (uint32_t)off;
    return (((u >> 12) & 1) << 31) | (((u >> 5) & 0x3f) << 25) | (rs2 << 20) | (rs1 << 15) |
           (f3 << 12) | (((u >> 1) & 0xf) << 8) | (((u >> 11) & 1) << 7) | 0x63;
}

static uint32_t j_type(int32_t off, unsigned rd)
{
    uint32_t u = (uint32_t)off;
    return (((u >> 20) & 1) << 31) | (((u >> 1) & 0x3ff) << 21) | (((u >> 11) & 1) << 20) |
           (((u >> 12) & 0xff) << 12) | (rd << 7) | 0x6f;
}

static uint32_t addi(unsigned rd, unsigned rs1, int32_t imm) { return i_type(imm, rs1, 0, rd, 0x13); }
static uint32_t csrr(unsigned rd, unsigned csr) { return i_type((int32_t)csr, 0, 2, rd, 0x73); }
static uint32_t csrw(unsigned csr, unsigned rs1) { return i_type((int32_t)csr, rs1, 1, 0, 0x73); }
static uint32_t jalr(unsigned rd, unsigned rs1, int32_t imm) { return i_type(imm, rs1, 0, rd, 0x67); }
#define FENCE_I    0x0000100fu
#define SFENCE_VMA 0x12000073u
#define MRET       0x30200073u

/* A program being written into the RAM image at a physical offset. */
typedef struct Prog {
    uint8_t *img;
    uint32_t at;                /* next byte (offset in RAM) */
} Prog;

static void put16(Prog *p, uint16_t v) { memcpy(p->img + p->at, &v, 2); p->at += 2; }
static void put32(Prog *p, uint32_t v) { put16(p, (uint16_t)v); put16(p, (uint16_t)(v >> 16)); }
static uint64_t pa_of(const Prog *p) { return RAM_BASE + p->at; }

/* rd = v (any 64-bit value) */
static void li(Prog *p, unsigned rd, uint64_t v)
{
    int64_t s = (int64_t)v;

    if (s >= -2048 && s < 2048) {
        put32(p, addi(rd, 0, (int32_t)s));
    } else if (s == (int32_t)s) {
        uint32_t lo = (uint32_t)v & 0xfff, hi = ((uint32_t)v + 0x800) & 0xfffff000u;
        put32(p, hi | (rd << 7) | 0x37);                              /* lui */
        put32(p, i_type((int32_t)(lo << 20) >> 20, rd, 0, rd, 0x1b));   /* addiw */
    } else {
        /* the top 32 bits, then 11+11+10 bits shifted in */
        li(p, rd, (uint64_t)(int64_t)(int32_t)(v >> 32));
        put32(p, i_type(11, rd, 1, rd, 0x13));                           /* slli 11 */
        put32(p, i_type(0, rd, 6, rd, 0x13) | ((uint32_t)((v >> 21) & 0x7ff) << 20));  /* ori */
        put32(p, i_type(11, rd, 1, rd, 0x13));
        put32(p, i_type(0, rd, 6, rd, 0x13) | ((uint32_t)((v >> 10) & 0x7ff) << 20));
        put32(p, i_type(10, rd, 1, rd, 0x13));
        put32(p, i_type(0, rd, 6, rd, 0x13) | ((uint32_t)(v & 0x3ff) << 20));
    }
}

static void end_loop(Prog *p) { put32(p, j_type(0, 0)); }

/* In "traced" rounds every result goes into a running hash (x24 = (x24 +
 * rd) * x21, x21 odd), so a wrong value is caught even when a later
 * instruction overwrites it. */
static bool trace;

static void fold(Prog *p, unsigned rd)
{
    if (!trace || rd == 0)
        return;
    put32(p, r_type(0, rd, 24, 0, 24, 0x33));         /* add x24, x24, rd */
    put32(p, r_type(1, 21, 24, 0, 24, 0x33));         /* mul x24, x24, x21 */
}

/* ---- running a case ---- */

typedef struct Case {
    uint8_t *img;               /* RAM at start */
    uint64_t x[32], f[32];
    uint64_t pc;
    int priv;                   /* PRV_M or PRV_S */
    uint64_t satp;
    bool fp;                    /* mstatus.FS = initial */
} Case;

typedef struct Result {
    uint64_t x[32], f[32], pc, instret, mstatus, mepc, mcause, mtval, satp;
    uint32_t fflags, frm;
    int priv;
    JitStats st;                /* the JIT run's counters (deltas) */
} Result;

static uint8_t *ram(void) { return mem.r[0].host; }

/* The M-mode trap handler at HANDLER: skip the instruction, accumulate. */
static void put_handler(uint8_t *img)
{
    Prog p = { img, HANDLER };
    /* A fetch fault (cause 1 or 12) returns to ra, anything else skips. */
    put32(&p, csrr(28, 0x342));
    put32(&p, addi(28, 28, -12));
    put32(&p, b_type(28, 0, 28, 0));            /* beqz x28, fetch */
    put32(&p, csrr(28, 0x342));
    put32(&p, addi(28, 28, -1));
    put32(&p, b_type(16, 0, 28, 0));            /* beqz x28, fetch */
    put32(&p, csrr(28, 0x341));                 /* mepc */
    put32(&p, addi(28, 28, 4));
    put32(&p, j_type(8, 0));
    put32(&p, addi(28, 1, 0));                  /* fetch: x28 = ra */
    put32(&p, csrw(0x341, 28));
    put32(&p, csrr(28, 0x342));                 /* mcause */
    put32(&p, r_type(0, 28, 27, 0, 27, 0x33));  /* add x27, x27, x28 */
    put32(&p, csrr(28, 0x343));                 /* mtval */
    put32(&p, r_type(0, 28, 25, 4, 25, 0x33));  /* xor x25, x25, x28 */
    put32(&p, csrr(28, 0xb02));                 /* minstret: exact at every trap */
    put32(&p, r_type(0, 28, 25, 0, 25, 0x33));  /* add x25, x25, x28 */
    put32(&p, addi(26, 26, 1));
    put32(&p, MRET);
}

static Case *case_new(void)
{
    Case *c = calloc(1, sizeof(*c));
    c->img = calloc(1, RAM_SIZE);
    put_handler(c->img);
    for (unsigned i = 0; i < 0x4000; i++)
        c->img[DATA + i] = (uint8_t)(i * 7 + 3);
    c->pc = RAM_BASE + CODE;
    c->priv = PRV_M;
    for (int i = 1; i < 32; i++)
        c->x[i] = (rnd() & 1) ? rnd() : (uint64_t)(int64_t)(int8_t)rnd();
    c->x[25] = c->x[26] = c->x[27] = 0;
    c->x[21] |= 1;
    trace = rn(2);
    return c;
}

static void case_free(Case *c)
{
    free(c->img);
    free(c);
}

/* The JIT's tiering (jit_set_hot_after): 1 translates everything at once;
 * test_tiered runs programs with blocks interpreted before they get hot. */
static unsigned hot_after = 1;
static uint64_t cold_total;

static void run(const Case *c, bool jit, Result *r)
{
    Hart *h = emu->harts[0];
    JitStats before;

    memcpy(ram(), c->img, RAM_SIZE);
    hart_reset(h, c->pc);
    h->instret = 0;
    h->mcycle_off = h->minstret_off = 0;
    h->mtvec = RAM_BASE + HANDLER;
    memcpy(h->x, c->x, sizeof(h->x));
    memcpy(h->f, c->f, sizeof(h->f));
    h->x[0] = 0;
    if (c->fp)
        h->mstatus |= 1ull << MSTATUS_FS_SHIFT;
    if (c->priv == PRV_S) {
        assert_int_equal(csr_write(h, 0x180, c->satp), 0);
        hart_set_priv(h, PRV_S);
    }
    if (jit) {
        if (!h->jit) {
            h->jit = jit_create();
            assert_non_null(h->jit);
        }
        mmu_update_ctx(h);
        jit_flush(h->jit);
        jit_set_hot_after(h->jit, hot_after);
        jit_get_stats(h->jit, &before);
    }
    /* Chunks end early after traps and system instructions: go on until
     * the budget is used up, exactly as the run loop does. */
    while (h->instret < BUDGET) {
        h->exit_chunk = 0;
        if (jit)
            jit_run_chunk(h, BUDGET - h->instret);
        else
            hart_run_chunk(h, BUDGET - h->instret);
    }
    memcpy(r->x, h->x, sizeof(r->x));
    memcpy(r->f, h->f, sizeof(r->f));
    r->pc = h->pc;
    r->instret = h->instret;
    r->mstatus = h->mstatus;
    r->mepc = h->mepc;
    r->mcause = h->mcause;
    r->mtval = h->mtval;
    r->satp = h->satp;
    r->fflags = h->fflags;
    r->frm = h->frm;
    r->priv = h->priv;
    if (jit) {
        JitStats after;
        jit_get_stats(h->jit, &after);
        memset(&r->st, 0, sizeof(r->st));
        r->st.blocks = after.blocks - before.blocks;
        r->st.insns = after.insns - before.insns;
        r->st.interp = after.interp - before.interp;
        r->st.interp_runs = after.interp_runs - before.interp_runs;
        r->st.dispatches = after.dispatches - before.dispatches;
        r->st.cold_runs = after.cold_runs - before.cold_runs;
        cold_total += r->st.cold_runs;
    }
}

/* Run on both engines; fail on any difference. Returns the JIT's result. */
static Result compare(const char *what, int round, const Case *c)
{
    static uint8_t *ram_interp;
    Result a, b;

    if (!ram_interp)
        ram_interp = malloc(RAM_SIZE);
    run(c, false, &a);
    memcpy(ram_interp, ram(), RAM_SIZE);
    run(c, true, &b);
    for (int i = 0; i < 32; i++)
        if (a.x[i] != b.x[i])
            fail_msg("%s %d: x%d interpreter %#llx jit %#llx", what, round, i,
                     (unsigned long long)a.x[i], (unsigned long long)b.x[i]);
    for (int i = 0; i < 32; i++)
        if (a.f[i] != b.f[i])
            fail_msg("%s %d: f%d interpreter %#llx jit %#llx", what, round, i,
                     (unsigned long long)a.f[i], (unsigned long long)b.f[i]);
#define SAME(field) \
    if (a.field != b.field) \
        fail_msg("%s %d: " #field " interpreter %#llx jit %#llx", what, round, \
                 (unsigned long long)a.field, (unsigned long long)b.field)
    SAME(pc); SAME(instret); SAME(fflags); SAME(frm); SAME(mstatus); SAME(mepc);
    SAME(mcause); SAME(mtval); SAME(satp); SAME(priv);
#undef SAME
    /* Both stopped in the final `j .` (code is at its physical address),
     * not somewhere a budget cut them */
    {
        uint32_t insn = 0;
        if (a.pc >= RAM_BASE && a.pc + 4 <= RAM_BASE + RAM_SIZE)
            memcpy(&insn, c->img + (a.pc - RAM_BASE), 4);
        if (insn != 0x6f)
            fail_msg("%s %d: the program did not end (pc %#llx)", what, round,
                     (unsigned long long)a.pc);
    }
    for (uint32_t i = 0; i < RAM_SIZE; i++)
        if (ram_interp[i] != ram()[i])
            fail_msg("%s %d: RAM at %#x interpreter %#x jit %#x", what, round, i,
                     ram_interp[i], ram()[i]);
    /* Translated, not interpreted: blocks were made and entered. */
    if (b.st.blocks == 0 || b.st.insns == 0 || b.st.dispatches == 0)
        fail_msg("%s %d: the JIT translated nothing", what, round);
    return b;
}

/* ---- random integer programs ---- */

/* A memory offset from x31: often within a few bytes of the page boundary
 * x31 points at, so misaligned and page-crossing accesses are common. */
static int32_t mem_off(void)
{
    if (rn(4) == 0)
        return (int32_t)rn(16) - 8;
    return (int32_t)rn(4000) - 2000;
}

static uint32_t random_alu(void)
{
    static const unsigned f3f7[][2] = { {0,0},{0,0x20},{1,0},{2,0},{3,0},{4,0},{5,0},
                                        {5,0x20},{6,0},{7,0},{0,1},{1,1},{2,1},{3,1},
                                        {4,1},{5,1},{6,1},{7,1} };
    static const unsigned w3f7[][2] = { {0,0},{0,0x20},{1,0},{5,0},{5,0x20},{0,1},
                                        {4,1},{5,1},{6,1},{7,1} };
    unsigned f3 = rn(8);
    int32_t imm = (int32_t)rn(4096) - 2048;

    switch (rn(6)) {
    case 0: { unsigned s = rn(18); return r_type(f3f7[s][1], reg(), reg(), f3f7[s][0], reg(), 0x33); }
    case 1: { unsigned s = rn(10); return r_type(w3f7[s][1], reg(), reg(), w3f7[s][0], reg(), 0x3b); }
    case 2: return ((uint32_t)rnd() & 0xfffff000u) | (reg() << 7) | 0x37;
    case 3: return ((uint32_t)rnd() & 0xfffff000u) | (reg() << 7) | 0x17;
    case 4:
        if (f3 == 1) imm = (int32_t)rn(64);
        if (f3 == 5) imm = (int32_t)rn(64) | (rn(2) ? 0x400 : 0);
        return i_type(imm, reg(), f3, reg(), 0x13);
    default: {
        static const unsigned wf3[] = { 0, 1, 5 };
        unsigned g = wf3[rn(3)];
        if (g != 0) imm = (int32_t)rn(32) | ((g == 5 && rn(2)) ? 0x400 : 0);
        return i_type(imm, reg(), g, reg(), 0x1b);
    }
    }
}

/* x29 = a constant address near `target` through auipc + addi, then a load
 * or store off it. The JIT checks constant addresses that fit a sign-
 * extended 32 bits as constants (see high_access); RAM at 0x80000000 does
 * not, so these take the ordinary path with a known base. */
static void konst_access(Prog *p, uint64_t target)
{
    int64_t delta = (int64_t)(target - pa_of(p));
    int64_t hi = (delta + 0x800) >> 12, lo = delta - (hi << 12);
    put32(p, ((uint32_t)(hi << 12) & 0xfffff000u) | (29 << 7) | 0x17);   /* auipc x29, hi */
    put32(p, addi(29, 29, (int32_t)lo));
    if (rn(2))
        put32(p, i_type((int32_t)rn(64) - 32, 29, rn(7), reg(), 0x03));
    else
        put32(p, s_type((int32_t)rn(64) - 32, reg(), 29, rn(4), 0x23));
}

static void gen_int(Prog *p, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        unsigned k = rn(100);
        if (k < 10) {                              /* compressed: c.addi / c.mv / c.add */
            unsigned rd = reg(), rs = reg();
            switch (rn(3)) {
            case 0: put16(p, (uint16_t)(0x0001 | (rd << 7) | (rn(32) << 2))); break;
            case 1: put16(p, (uint16_t)(0x8002 | (rd << 7) | (rs << 2))); break;
            default: put16(p, (uint16_t)(0x9002 | (rd << 7) | (rs << 2))); break;
            }
            fold(p, rd);
        } else if (k < 45) {
            uint32_t x = random_alu();
            put32(p, x);
            fold(p, (x >> 7) & 31);
        } else if (k < 48) {
            /* division corner cases: by zero, by -1, MIN / -1 */
            unsigned a = reg(), b = reg(), rd = reg();
            static const unsigned ops[][2] = { {4,0x33},{5,0x33},{6,0x33},{7,0x33},
                                               {4,0x3b},{5,0x3b},{6,0x3b},{7,0x3b} };
            unsigned s = rn(8);
            if (rn(2)) {
                put32(p, addi(b, 0, 0));
            } else {
                if (rn(2))
                    li(p, a, rn(2) ? 0x8000000000000000ull : 0xffffffff80000000ull);
                put32(p, addi(b, 0, -1));
            }
            put32(p, r_type(1, b, a, ops[s][0], rd, ops[s][1]));
            fold(p, rd);
        } else if (k < 60) {
            unsigned rd = reg();
            put32(p, i_type(mem_off(), 31, rn(7), rd, 0x03));              /* load */
            fold(p, rd);
        } else if (k < 72) {
            put32(p, s_type(mem_off(), reg(), 31, rn(4), 0x23));              /* store */
        } else if (k < 75) {
            /* counter reads: exact instret in both engines */
            static const unsigned csrs[] = { 0xc00, 0xc02, 0xb00, 0xb02 };
            unsigned rd = reg();
            put32(p, csrr(rd, csrs[rn(4)]));
            fold(p, rd);
        } else if (k < 79) {
            /* a counted loop: x30 counts, the body never writes it */
            uint32_t top;
            put32(p, addi(30, 0, 1 + (int32_t)rn(6)));
            top = p->at;
            for (unsigned b = 0, nb = 1 + rn(6); b < nb; b++) {
                uint32_t x = rn(3) ? random_alu() : i_type(mem_off(), 31, rn(7), reg(), 0x03);
                put32(p, x);
                fold(p, (x >> 7) & 31);
            }
            put32(p, addi(30, 30, -1));
            put32(p, b_type(-(int32_t)(p->at - top), 0, 30, 1));           /* bnez x30, top */
        } else if (k < 80) {
            /* around a page boundary of the data, at a constant address */
            konst_access(p, RAM_BASE + DATA + 0x1000 * (1 + rn(2)) + rn(16) - 8);
            if (rn(2)) {
                /* a second constant only on the fall-through path, then an
                 * access where the two paths meet: x29 is not constant there */
                uint32_t skip_at = p->at;
                int64_t delta;
                put32(p, 0);                                 /* the branch, below */
                delta = (int64_t)(RAM_BASE + DATA + 0x2000 + 8 * rn(64) - pa_of(p));
                put32(p, ((uint32_t)(((delta + 0x800) >> 12) << 12) & 0xfffff000u) | (29 << 7) | 0x17);
                put32(p, addi(29, 29, (int32_t)(delta - (((delta + 0x800) >> 12) << 12))));
                {
                    uint32_t b = b_type((int32_t)(p->at - skip_at), reg(), reg(), rn(2));
                    memcpy(p->img + skip_at, &b, 4);
                }
                {
                    unsigned rd = reg();
                    put32(p, i_type(0, 29, 3, rd, 0x03));    /* ld rd, 0(x29) */
                    fold(p, rd);
                }
            }
        } else if (k < 82) {
            /* an indirect jump forward: auipc x29, 0; jalr rd, 12(x29); skipped */
            unsigned rd = reg();
            put32(p, 0x17 | (29 << 7));
            put32(p, jalr(rd, 29, 12));
            put32(p, addi(reg(), 0, 1));
            fold(p, rd);
        } else {
            /* forward branch over 1..4 instructions */
            static const unsigned bf3[] = { 0, 1, 4, 5, 6, 7 };
            unsigned skip = 1 + rn(4);
            put32(p, b_type((int32_t)(4 + 4 * skip), reg(), reg(), bf3[rn(6)]));
            for (unsigned s = 0; s < skip; s++)
                put32(p, addi(reg(), reg(), (int32_t)rn(100)));
        }
    }
}

static void test_integer(void **state)
{
    (void)state;
    for (int round = 0; round < 200; round++) {
        Case *c = case_new();
        Prog p = { c->img, CODE };
        Result r;

        gen_int(&p, 300 + rn(300));
        end_loop(&p);
        c->x[31] = RAM_BASE + DATA + 0x1000;
        r = compare("integer", round, c);
        assert_int_equal(r.pc, pa_of(&p) - 4);                 /* reached the end */
        /* Everything here is translatable: the interpreter ran nothing, except
         * an instruction straddling a page (the dispatcher's). */
        if (r.st.interp_runs > 8)
            fail_msg("integer %d: %llu instructions interpreted", round,
                     (unsigned long long)r.st.interp_runs);
        case_free(c);
    }
}

/* ---- random F/D programs ---- */

static const uint64_t dvals[] = {
    0, 0x8000000000000000ull, 0x3ff0000000000000ull, 0xbff0000000000000ull,
    0x3ff8000000000000ull, 0x3fb999999999999aull, 0x4008000000000000ull,
    0x7fefffffffffffffull, 0x0010000000000000ull, 0x0000000000000001ull,
    0x000fffffffffffffull, 0x7ff0000000000000ull, 0xfff0000000000000ull,
    0x7ff8000000000000ull, 0x7ff0000000000001ull, 0xfff8000000000123ull,
    0x43e0000000000000ull, 0x43f0000000000000ull, 0xc3e0000000000000ull,
    0x41e0000000000000ull, 0x41efffffffe00000ull, 0x41effffffffb3333ull,
    0xbfe6666666666666ull, 0x41dfffffffe00000ull, 0xc1e0000000200000ull,
    0x3fe0000000000000ull, 0x3ff0000000000001ull, 0x3cb0000000000000ull,
};
static const uint32_t svals[] = {
    0, 0x80000000u, 0x3f800000u, 0xbf800000u, 0x3fc00000u, 0x3dcccccdu, 0x7f7fffffu,
    0x00800000u, 0x00000001u, 0x7f800000u, 0xff800000u, 0x7fc00000u, 0x7f800001u,
    0xffc00123u, 0x5f000000u, 0x5f800000u, 0xdf000000u, 0x4f000000u, 0x4f800000u,
    0x4effffffu, 0xbf333333u, 0x3f000000u, 0x33800000u, 0x3f800001u,
};

static uint64_t fp_value(void)
{
    switch (rn(8)) {
    case 0: return rnd();                                             /* unboxed single, or any double */
    case 1: case 2: case 3: return 0xffffffff00000000ull | svals[rn(sizeof(svals) / 4)];
    case 4: return 0xffffffff00000000ull | (uint32_t)rnd();
    default: return dvals[rn(sizeof(dvals) / 8)];
    }
}

/* Rounding modes: mostly RNE and dynamic; the others; rarely reserved. */
static unsigned fp_rm(void)
{
    static const unsigned rms[] = { 0, 0, 0, 7, 7, 7, 1, 2, 3, 4, 5 };
    return rms[rn(sizeof(rms) / sizeof(rms[0]))];
}

static unsigned freg(void) { return rn(32); }

static void gen_fp(Prog *p, unsigned n, bool rne_only)
{
    for (unsigned i = 0; i < n; i++) {
        unsigned fmt = rn(2), rm = rne_only ? 0 : fp_rm(), k = rn(100);
        uint32_t x;

        if (k < 30) {                               /* add sub mul div */
            static const unsigned f7[] = { 0x00, 0x04, 0x08, 0x0c };
            x = r_type(f7[rn(4)] | fmt, freg(), freg(), rm, freg(), 0x53);
        } else if (k < 34) {
            x = r_type(0x2c | fmt, 0, freg(), rm, freg(), 0x53);       /* sqrt */
        } else if (k < 46) {                        /* fused */
            static const unsigned ops[] = { 0x43, 0x47, 0x4b, 0x4f };
            x = (freg() << 27) | (fmt << 25) | (freg() << 20) | (freg() << 15) | (rm << 12) |
                (freg() << 7) | ops[rn(4)];
        } else if (k < 52) {
            x = r_type(0x10 | fmt, freg(), freg(), rn(3), freg(), 0x53);  /* sgnj */
        } else if (k < 57) {
            x = r_type(0x14 | fmt, freg(), freg(), rn(2), freg(), 0x53);  /* min max */
        } else if (k < 63) {
            x = r_type(0x50 | fmt, freg(), freg(), rn(3), reg(), 0x53);   /* fle flt feq */
        } else if (k < 71) {
            x = r_type(0x60 | fmt, rn(4), freg(), rne_only ? (rn(2) ? 0 : 1) : fp_rm(),
                       reg(), 0x53);                                       /* f -> int */
        } else if (k < 77) {
            x = r_type(0x68 | fmt, rn(4), reg(), rm, freg(), 0x53);         /* int -> f */
        } else if (k < 80) {
            x = r_type(fmt ? 0x21 : 0x20, fmt ? 0 : 1, freg(), rm, freg(), 0x53);  /* s<->d */
        } else if (k < 84) {
            x = r_type(0x70 | fmt, 0, freg(), 0, reg(), 0x53);              /* fmv.x */
        } else if (k < 87) {
            x = r_type(0x78 | fmt, 0, reg(), 0, freg(), 0x53);              /* fmv to f */
        } else if (k < 89 && !rne_only) {
            x = r_type(0x70 | fmt, 0, freg(), 1, reg(), 0x53);              /* fclass */
        } else if (k < 95) {
            /* fld/flw, fsd/fsw at x31 + off (misaligned, across pages too) */
            if (rn(2))
                x = i_type(mem_off(), 31, 2 + fmt, freg(), 0x07);
            else
                x = s_type(mem_off(), freg(), 31, 2 + fmt, 0x27);
        } else if (k < 97 && !rne_only) {
            x = (0x002u << 20) | (rn(8) << 15) | (5 << 12) | 0x73;          /* csrwi frm, 0..7 */
        } else if (k < 98 && !rne_only) {
            static const unsigned csrs[] = { 0x001, 0x002, 0x003, 0x300, 0xc02 };
            x = csrr(reg(), csrs[rn(5)]);                     /* fflags frm fcsr mstatus instret */
        } else if (k < 99 && !rne_only) {
            /* mstatus.FS: off (FP traps), initial or dirty; x23 = FS mask */
            switch (rn(3)) {
            case 0: x = i_type(0x300, 23, 3, 0, 0x73); break;              /* csrc mstatus, x23 */
            case 1: x = i_type(0x300, 23, 2, 0, 0x73); break;              /* csrs: dirty */
            default:
                put32(p, i_type(0x300, 23, 3, 0, 0x73));
                put32(p, addi(22, 0, 1));
                put32(p, i_type(13, 22, 1, 22, 0x13));                     /* x22 = 1 << 13 */
                x = i_type(0x300, 22, 2, 0, 0x73);                          /* initial */
                break;
            }
        } else if (!rne_only) {
            if (rn(2)) {
                x = (0x001u << 20) | (5 << 12) | 0x73;                      /* csrwi fflags, 0 */
            } else {
                /* a forward branch over a few FP instructions: a label
                 * after them that other paths reach too */
                unsigned skip = 1 + rn(3), fs = rn(3);
                bool clean = fs != 0;
                if (clean) {
                    /* FS = initial (who marks it dirty on which path?) or
                     * off (who traps on which path?) */
                    put32(p, i_type(0x300, 23, 3, 0, 0x73));
                    put32(p, addi(22, 0, fs == 1));
                    put32(p, i_type(13, 22, 1, 22, 0x13));
                    put32(p, i_type(0x300, 22, 2, 0, 0x73));
                }
                put32(p, b_type((int32_t)(4 + 4 * skip), reg(), reg(), rn(2)));
                for (unsigned s = 0; s < skip; s++)
                    put32(p, r_type(rn(2) ? 0x01 : 0x00, freg(), freg(), 0, freg(), 0x53));
                x = r_type(0x01, freg(), freg(), 0, freg(), 0x53);
                if (clean) {
                    put32(p, x);
                    x = csrr(reg(), 0x300);
                }
            }
        } else {
            x = r_type(0x00 | fmt, freg(), freg(), 0, freg(), 0x53);
        }
        put32(p, x);
        if (trace) {
            unsigned opc = x & 0x7f, f7 = x >> 25, rd = (x >> 7) & 31;
            bool x_result = opc == 0x53 && ((f7 & ~1u) == 0x50 || (f7 & ~1u) == 0x60 ||
                                            (f7 & ~1u) == 0x70);
            bool f_result = (opc == 0x53 && !x_result) || opc == 0x07 || (opc & 0x73) == 0x43;
            if (x_result || (opc == 0x73 && rd)) {
                fold(p, rd);
            } else if (f_result) {
                put32(p, r_type(0x71, 0, rd, 0, 22, 0x53));               /* fmv.x.d x22 */
                fold(p, 22);
            }
            if (rn(2)) {
                put32(p, (0x001u << 20) | (5 << 12) | (22 << 7) | 0x73);  /* csrrwi x22, fflags, 0 */
                fold(p, 22);
            }
        }
    }
}

static void test_fp(void **state)
{
    (void)state;
    for (int round = 0; round < 200; round++) {
        Case *c = case_new();
        Prog p = { c->img, CODE };

        c->fp = rn(8) != 0;                 /* else FP starts off: it traps */
        c->x[23] = MSTATUS_FS;
        for (int i = 0; i < 32; i++)
            c->f[i] = fp_value();
        for (unsigned i = 0; i < 0x4000; i += 8) {
            uint64_t v = fp_value();
            memcpy(c->img + DATA + i, &v, 8);
        }
        gen_fp(&p, 300, false);
        end_loop(&p);
        c->x[31] = RAM_BASE + DATA + 0x1000;
        compare("fp", round, c);
        case_free(c);
    }
}

/* Round-to-nearest arithmetic on ordinary numbers: every instruction must
 * run as translated code (no NaN, no special case, no slow path). */
static void test_fp_translated(void **state)
{
    static const uint64_t normal[] = { 0x3ff0000000000000ull, 0x4008000000000000ull,
                                       0x3fb999999999999aull, 0xc01c000000000000ull };
    /* fused multiply-add is translated where the host has FMA3 */
    bool fma = __builtin_cpu_supports("fma") && __builtin_cpu_supports("avx");
    (void)state;
    for (int round = 0; round < 20; round++) {
        Case *c = case_new();
        Prog p = { c->img, CODE };
        Result r;

        c->fp = true;
        for (int i = 0; i < 32; i++)
            c->f[i] = normal[rn(4)];
        for (unsigned i = 0; i < 200; i++) {
            static const unsigned f7[] = { 0x01, 0x05, 0x09 };     /* fadd.d fsub.d fmul.d */
            unsigned rd = 16 + rn(16);      /* f16-f31: the operands f0-f15 stay normal */
            if (fma && rn(4) == 0)
                put32(&p, (rn(16) << 27) | (1u << 25) | (rn(16) << 20) | (rn(16) << 15) |
                          (7u << 12) | (rd << 7) | 0x43);          /* fmadd.d, dynamic RNE */
            else
                put32(&p, r_type(f7[rn(3)], rn(16), rn(16), rn(2) ? 0 : 7, rd, 0x53));
            if (rn(8) == 0)
                put32(&p, r_type(0x61, 2, rn(16), 1, reg(), 0x53));   /* fcvt.l.d rtz */
            if (rn(8) == 0)
                put32(&p, r_type(0x51, rn(16), rn(16), rn(3), reg(), 0x53));  /* compares */
        }
        end_loop(&p);
        r = compare("fp-translated", round, c);
        if (r.st.interp_runs || r.st.interp)
            fail_msg("fp-translated %d: %llu interpreted (%llu calls translated)", round,
                     (unsigned long long)r.st.interp_runs, (unsigned long long)r.st.interp);
        case_free(c);
    }
}

/* ---- AMOs and LR/SC ---- */

static void test_atomics(void **state)
{
    static const unsigned fn[] = { 0x00, 0x01, 0x04, 0x08, 0x0c, 0x10, 0x14, 0x18, 0x1c };
    (void)state;
    for (int round = 0; round < 100; round++) {
        Case *c = case_new();
        Prog p = { c->img, CODE };
        unsigned misaligned = 0;
        Result r;

        for (unsigned i = 0; i < 200; i++) {
            unsigned w = rn(2), size = w ? 4 : 8, k = rn(10);
            int32_t off = (int32_t)(rn(64) * size) - 256;
            if (rn(20) == 0) {
                off += 1 + (int32_t)rn(size - 1);             /* misaligned: a trap */
                misaligned++;
            }
            if (rn(40) == 0) {
                li(&p, 30, 0x10000000);                      /* MMIO (UART): access fault */
                misaligned++;
            } else {
                put32(&p, addi(30, 31, off));
            }
            if (k < 6) {
                put32(&p, (fn[rn(9)] << 27) | (reg() << 20) | (30 << 15) | ((2 + (1 - w)) << 12) |
                          (reg() << 7) | 0x2f);
            } else if (k < 9) {
                /* lr; some work; sc (sometimes to another address) */
                unsigned f3 = 2 + (1 - w);
                put32(&p, (0x02u << 27) | (30 << 15) | (f3 << 12) | (reg() << 7) | 0x2f);
                put32(&p, random_alu());
                if (rn(4) == 0)
                    put32(&p, addi(30, 30, (int32_t)size));
                put32(&p, (0x03u << 27) | (reg() << 20) | (30 << 15) | (f3 << 12) |
                          (reg() << 7) | 0x2f);
            } else {
                put32(&p, s_type(0, reg(), 30, w ? 2 : 3, 0x23));   /* a plain store between */
            }
        }
        end_loop(&p);
        c->x[31] = RAM_BASE + DATA + 0x1000;
        r = compare("atomics", round, c);
        /* The interpreter runs only what traps (and the handler's csrw and
         * mret) and the first atomic on a page (it fills the TLB). */
        assert_true(r.x[26] <= 2 * misaligned);
        if (r.st.interp_runs > 3 * r.x[26] + 4)
            fail_msg("atomics %d: %llu interpreted, %llu traps", round,
                     (unsigned long long)r.st.interp_runs, (unsigned long long)r.x[26]);
        case_free(c);
    }
}

/* ---- CSR reads ---- */

static void test_csr_reads(void **state)
{
    static const unsigned csrs[] = { 0xc00, 0xc02, 0xb00, 0xb02, 0x300, 0x301, 0xf14, 0x340,
                                     0x341, 0x001, 0x002, 0x003, 0x7c0 /* none: illegal */,
                                     0x3a1 /* odd pmpcfg: illegal */ };
    (void)state;
    for (int round = 0; round < 50; round++) {
        Case *c = case_new();
        Prog p = { c->img, CODE };
        Result r;

        c->fp = true;
        for (unsigned i = 0; i < 300; i++) {
            if (rn(3) == 0)
                put32(&p, csrr(reg(), csrs[rn(sizeof(csrs) / sizeof(csrs[0]))]));
            else
                put32(&p, random_alu());
        }
        end_loop(&p);
        r = compare("csr", round, c);
        /* only the trap handler's csrw and mret */
        if (r.st.interp_runs != 2 * r.x[26])
            fail_msg("csr %d: %llu interpreted, %llu traps", round,
                     (unsigned long long)r.st.interp_runs, (unsigned long long)r.x[26]);
        case_free(c);
    }
}

/* ---- faults in the middle of blocks, under Sv39 ---- */

#define PTE_V 1u
#define PTE_R 2u
#define PTE_W 4u
#define PTE_X 8u
#define PTE_U 0x10u
#define PTE_A 0x40u
#define PTE_D 0x80u

static void pte(uint8_t *img, uint32_t table, unsigned idx, uint64_t pa, uint64_t bits)
{
    uint64_t v = ((pa >> 12) << 10) | bits;
    memcpy(img + table + idx * 8, &v, 8);
}

/* Sv39 tables at PT + 0x3000 * n: RAM's first 2 MiB mapped 4 KiB page by
 * page at its own address, RWX, the second 2 MiB (page tables) as one
 * megapage, RW; returns satp. */
static uint64_t sv39_identity(uint8_t *img, unsigned n)
{
    uint32_t root = PT + 0x3000 * n, l1 = root + 0x1000, l0 = root + 0x2000;

    pte(img, root, 2, RAM_BASE + l1, PTE_V);          /* va 0x80000000 >> 30 = 2 */
    /* and at 0xffffffff80000000, as Linux maps itself: addresses that fit a
     * sign-extended 32 bits, which the JIT can check as constants */
    pte(img, root, 510, RAM_BASE + l1, PTE_V);
    pte(img, l1, 0, RAM_BASE + l0, PTE_V);
    /* the page tables' half of RAM: one 2 MiB megapage */
    pte(img, l1, 1, RAM_BASE + 0x200000, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D);
    for (unsigned i = 0; i < 512; i++)
        pte(img, l0, i, RAM_BASE + 0x1000ull * i, PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D);
    return (8ull << 60) | ((RAM_BASE + root) >> 12);
}

static void set_page(uint8_t *img, unsigned n, uint32_t off, uint64_t pa, uint64_t bits)
{
    pte(img, PT + 0x3000 * n + 0x2000, off >> 12, pa, bits);
}

/* x<rd> = the high alias (sv39_identity) of physical address pa, by lui +
 * addi: an address the JIT knows at translation time and can check as a
 * constant (it fits a sign-extended 32 bits). */
static void li_high(Prog *p, unsigned rd, uint64_t pa)
{
    int64_t v = (int32_t)(uint32_t)pa;
    int64_t hi = (v + 0x800) >> 12, lo = v - hi * 4096;

    put32(p, ((uint32_t)(hi * 4096) & 0xfffff000u) | (rd << 7) | 0x37);    /* lui */
    put32(p, addi(rd, rd, (int32_t)lo));
}

/* A load or store at a constant address in (or around) the DATA pages, by
 * their high alias; sometimes a second constant on one path only, then an
 * access where the paths meet (the register is not constant there). */
static void high_access(Prog *p)
{
    li_high(p, 29, RAM_BASE + DATA + rn(5 * 0x1000));
    if (rn(2))
        put32(p, i_type((int32_t)rn(64) - 32, 29, rn(7), reg(), 0x03));
    else
        put32(p, s_type((int32_t)rn(64) - 32, reg(), 29, rn(4), 0x23));
    if (rn(3) == 0) {
        uint32_t skip_at = p->at, b;
        put32(p, 0);                                    /* the branch, below */
        li_high(p, 29, RAM_BASE + DATA + rn(5 * 0x1000));
        b = b_type((int32_t)(p->at - skip_at), reg(), reg(), rn(2));
        memcpy(p->img + skip_at, &b, 4);
        put32(p, i_type((int32_t)rn(64) - 32, 29, rn(7), reg(), 0x03));
    }
}

static void test_faults(void **state)
{
    (void)state;
    for (int round = 0; round < 100; round++) {
        Case *c = case_new();
        Prog p = { c->img, CODE };
        Result r;

        c->satp = sv39_identity(c->img, 0);
        c->priv = PRV_S;
        /* DATA: rw | read-only | unmapped | rw without A/D | execute-only */
        set_page(c->img, 0, DATA + 0x1000, RAM_BASE + DATA + 0x1000, PTE_V | PTE_R | PTE_A | PTE_D);
        set_page(c->img, 0, DATA + 0x2000, 0, 0);
        set_page(c->img, 0, DATA + 0x3000, RAM_BASE + DATA + 0x3000, PTE_V | PTE_R | PTE_W);
        set_page(c->img, 0, DATA + 0x4000, RAM_BASE + DATA + 0x4000, PTE_V | PTE_X | PTE_A);
        for (unsigned i = 0; i < 400; i++) {
            int32_t off = (int32_t)rn(5 * 0x1000 + 16) - 8;
            if (rn(3))      /* close to a page boundary */
                off = (int32_t)(0x1000 * rn(6)) + (int32_t)rn(16) - 8;
            li(&p, 29, (uint64_t)(int64_t)off);
            put32(&p, r_type(0, 29, 30, 0, 30, 0x33));            /* x30 = x31 + off */
            if (rn(2))
                put32(&p, i_type(0, 30, rn(7), reg(), 0x03));
            else
                put32(&p, s_type(0, reg(), 30, rn(4), 0x23));
            put32(&p, random_alu());
            if (rn(4) == 0)     /* a constant address in one of the pages */
                konst_access(&p, RAM_BASE + DATA + rn(5 * 0x1000));
            if (rn(3) == 0)
                high_access(&p);
            if (rn(16) == 0) {  /* lui x0 (a hint): x0 stays 0, the load faults */
                li_high(&p, 0, RAM_BASE + DATA + 0x1000);
                put32(&p, i_type((int32_t)rn(64), 0, 3, reg(), 0x03));
            }
        }
        end_loop(&p);
        c->x[31] = RAM_BASE + DATA;
        r = compare("faults", round, c);
        assert_true(r.x[26] > 0);                 /* traps were taken */
        case_free(c);
    }
}

/* ---- self-modifying code with fence.i ---- */

static void test_smc(void **state)
{
    (void)state;
    for (int round = 0; round < 50; round++) {
        Case *c = case_new();
        Prog p = { c->img, CODE };
        uint64_t expect = 0;
        /* x20: a routine in another page; x21: one in the caller's page */
        uint64_t other = RAM_BASE + 0x6000, same = RAM_BASE + CODE + 0xf00;
        Result r;

        li(&p, 20, other);
        li(&p, 21, same);
        put32(&p, addi(10, 0, 0));
        for (unsigned i = 0; i < 30; i++) {
            int32_t k = (int32_t)rn(2000) - 1000;
            unsigned base = rn(3) ? 20 : 21;
            li(&p, 5, addi(10, 10, k));
            put32(&p, s_type(0, 5, base, 2, 0x23));               /* sw x5, 0(base) */
            li(&p, 5, jalr(0, 1, 0));
            put32(&p, s_type(4, 5, base, 2, 0x23));               /* ret */
            put32(&p, FENCE_I);
            put32(&p, jalr(1, base, 0));
            expect += (uint64_t)(int64_t)k;
            if (rn(3) == 0) {
                /* rewrite an instruction a little ahead in this very block:
                 * auipc x22; li x5, insn; sw x5, off(x22); fence.i; target */
                int32_t k2 = (int32_t)rn(100);
                uint32_t a = p.at;
                put32(&p, 0x17 | (22 << 7));
                li(&p, 5, addi(10, 10, k2));
                put32(&p, s_type((int32_t)(p.at + 8 - a), 5, 22, 2, 0x23));
                put32(&p, FENCE_I);
                put32(&p, addi(10, 10, 12345));                     /* replaced before it runs */
                expect += (uint64_t)(int64_t)k2;
            }
        }
        assert_true(p.at + 4 <= CODE + 0xf00);
        end_loop(&p);
        r = compare("smc", round, c);
        assert_int_equal(r.x[10], expect);
        case_free(c);
    }
}

/* ---- indirect jumps across pages and address spaces ---- */

static void test_address_spaces(void **state)
{
    (void)state;
    for (int round = 0; round < 30; round++) {
        Case *c = case_new();
        Prog p = { c->img, CODE };
        /* va V: in space A runs "x10 += 1", in space B "x10 += 100", then
         * both call W (another page, same in both): "x11 += 7"; return.
         * V + 0x100 (same page): "x10 += 2" in A, "x10 += 200" in B; so
         * one entry point's jump cache entry meets the TLB refilled for
         * the page by the other, in the other space. */
        const uint32_t V = 0x10000, PA_A = 0x11000, PA_B = 0x12000, W = 0x13000;
        uint64_t satp_a, satp_b, expect10 = 0, expect11 = 0;
        bool asid = round & 1;
        Result r;

        satp_a = sv39_identity(c->img, 0);
        satp_b = sv39_identity(c->img, 1);
        set_page(c->img, 0, V, RAM_BASE + PA_A, PTE_V | PTE_R | PTE_X | PTE_A | PTE_D);
        set_page(c->img, 1, V, RAM_BASE + PA_B, PTE_V | PTE_R | PTE_X | PTE_A | PTE_D);
        if (asid) {
            satp_a |= 1ull << 44;
            satp_b |= 2ull << 44;
        }
        {
            Prog f = { c->img, PA_A };
            put32(&f, addi(10, 10, 1));
            put32(&f, addi(2, 1, 0));                     /* keep ra in x2 */
            put32(&f, j_type((int32_t)(W - (V + 8)), 1));  /* jal ra, W (va) */
            put32(&f, jalr(0, 2, 0));
            f.at = PA_B;
            put32(&f, addi(10, 10, 100));
            put32(&f, addi(2, 1, 0));
            put32(&f, j_type((int32_t)(W - (V + 8)), 1));
            put32(&f, jalr(0, 2, 0));
            f.at = PA_A + 0x100;
            put32(&f, addi(10, 10, 2));
            put32(&f, jalr(0, 1, 0));
            f.at = PA_B + 0x100;
            put32(&f, addi(10, 10, 200));
            put32(&f, jalr(0, 1, 0));
            f.at = W;
            put32(&f, addi(11, 11, 7));
            put32(&f, jalr(0, 1, 0));
        }
        c->satp = satp_a;
        c->priv = PRV_S;
        li(&p, 20, RAM_BASE + V);
        li(&p, 21, satp_a);
        li(&p, 22, satp_b);
        put32(&p, addi(10, 0, 0));
        put32(&p, addi(11, 0, 0));
        for (unsigned i = 0; i < 40; i++) {
            bool in_b = rn(2);
            put32(&p, csrw(0x180, in_b ? 22 : 21));
            if (!asid || rn(4) == 0)
                put32(&p, SFENCE_VMA);
            for (unsigned n = 1 + rn(3); n; n--) {
                if (rn(2)) {
                    put32(&p, jalr(1, 20, 0));
                    expect10 += in_b ? 100 : 1;
                    expect11 += 7;
                } else {
                    put32(&p, jalr(1, 20, 0x100));
                    expect10 += in_b ? 200 : 2;
                }
            }
        }
        end_loop(&p);
        r = compare("address-spaces", round, c);
        assert_int_equal(r.x[10], expect10);
        assert_int_equal(r.x[11], expect11);
        case_free(c);
    }
}

/* Code unmapped after it ran: a call must fault, not find it in a cache. */
static void test_unmap(void **state)
{
    (void)state;
    for (int round = 0; round < 20; round++) {
        Case *c = case_new();
        Prog p = { c->img, CODE };
        const uint32_t V = 0x10000;
        uint64_t pte_pa = RAM_BASE + PT + 0x2000 + (V >> 12) * 8, expect = 0;
        Result r;

        c->satp = sv39_identity(c->img, 0);
        c->priv = PRV_S;
        {
            Prog f = { c->img, V };
            put32(&f, addi(10, 10, 1));
            put32(&f, jalr(0, 1, 0));
            f.at = V + 0x80;
            put32(&f, addi(10, 10, 3));
            put32(&f, jalr(0, 1, 0));
        }
        li(&p, 20, RAM_BASE + V);
        li(&p, 21, pte_pa);
        put32(&p, i_type(0, 21, 3, 22, 0x03));                /* ld x22, 0(x21): the PTE */
        put32(&p, addi(10, 0, 0));
        for (unsigned i = 0; i < 30; i++) {
            bool mapped = rn(2);
            put32(&p, s_type(0, mapped ? 22 : 0, 21, 3, 0x23));  /* sd: map or unmap */
            switch (rn(3)) {
            case 0: put32(&p, SFENCE_VMA); break;
            case 1: put32(&p, r_type(0x09, 0, 20, 0, 0, 0x73)); break;   /* sfence.vma x20 */
            default:                                          /* another page: must not do */
                put32(&p, addi(23, 20, 0x7ff));
                put32(&p, addi(23, 23, 0x7ff));
                put32(&p, addi(23, 23, 2));                       /* V + 4096 */
                put32(&p, r_type(0x09, 0, 23, 0, 0, 0x73));
                put32(&p, s_type(0, 22, 21, 3, 0x23));            /* so stay mapped */
                mapped = true;
                break;
            }
            for (unsigned n = 1 + rn(3); n; n--) {
                bool second = rn(2);
                put32(&p, jalr(1, 20, second ? 0x80 : 0));
                if (mapped)
                    expect += second ? 3 : 1;
            }
        }
        end_loop(&p);
        r = compare("unmap", round, c);
        assert_int_equal(r.x[10], expect);
        case_free(c);
    }
}

/* One function called with mstatus.SUM set and clear: S-mode reaches a
 * user page only with SUM, whatever the JIT translated or cached first. */
static void test_sum(void **state)
{
    (void)state;
    for (int round = 0; round < 20; round++) {
        Case *c = case_new();
        Prog p = { c->img, CODE };
        const uint32_t F = 0x10000, U = DATA + 0x2000;
        uint64_t faults = 0;
        Result r;

        c->satp = sv39_identity(c->img, 0);
        c->priv = PRV_S;
        set_page(c->img, 0, U, RAM_BASE + U, PTE_V | PTE_R | PTE_W | PTE_U | PTE_A | PTE_D);
        {
            Prog f = { c->img, F };
            put32(&f, i_type(0, 20, 3, 5, 0x03));       /* ld x5, 0(x20) */
            put32(&f, s_type(8, 5, 20, 3, 0x23));       /* sd x5, 8(x20) */
            put32(&f, jalr(0, 1, 0));
        }
        li(&p, 20, RAM_BASE + U + 8 * rn(256));
        li(&p, 21, RAM_BASE + F);
        li(&p, 23, 1ull << 18);                          /* SUM */
        for (unsigned i = 0; i < 40; i++) {
            bool sum = rn(2);
            put32(&p, i_type(0x100, 23, sum ? 2 : 3, 0, 0x73));   /* csrs/csrc sstatus */
            for (unsigned n = 1 + rn(3); n; n--) {
                put32(&p, addi(5, 0, (int32_t)i));
                put32(&p, jalr(1, 21, 0));
                fold(&p, 5);
                if (!sum)
                    faults += 2;
            }
        }
        end_loop(&p);
        r = compare("sum", round, c);
        assert_int_equal(r.x[26], faults);
        case_free(c);
    }
}

/* An sfence.vma of one 4 KiB page of a megapage drops all of it. */
static void test_superpage(void **state)
{
    (void)state;
    for (int round = 0; round < 20; round++) {
        Case *c = case_new();
        Prog p = { c->img, CODE };
        const uint64_t S = RAM_BASE + 0x400000;        /* a 2 MiB megapage */
        uint32_t l1 = PT + 0x1000;
        uint64_t new_pte = (((RAM_BASE + 0x200000) >> 12) << 10) | PTE_V | PTE_R | PTE_A | PTE_D;
        uint32_t off = DATA + 0x1000 * (1 + rn(8)) + 8 * rn(64);
        uint64_t before, after;
        Result r;

        c->satp = sv39_identity(c->img, 0);
        c->priv = PRV_S;
        pte(c->img, l1, 2, RAM_BASE, PTE_V | PTE_R | PTE_A | PTE_D);    /* S -> RAM's first half */
        for (uint32_t i = 0; i < 0x10000; i += 8) {
            uint64_t a = rnd(), b = rnd();
            memcpy(c->img + DATA + i, &a, 8);
            memcpy(c->img + 0x200000 + DATA + i, &b, 8);
        }
        memcpy(&before, c->img + off, 8);
        memcpy(&after, c->img + 0x200000 + off, 8);
        li(&p, 20, S + off);
        li(&p, 21, S);                                      /* another 4 KiB page of S */
        li(&p, 22, RAM_BASE + l1 + 2 * 8);
        li(&p, 23, new_pte);
        put32(&p, i_type(0, 20, 3, 5, 0x03));                   /* ld x5: fills the TLB */
        put32(&p, s_type(0, 23, 22, 3, 0x23));                  /* remap S */
        put32(&p, r_type(0x09, 0, 21, 0, 0, 0x73));             /* sfence.vma x21 */
        put32(&p, i_type(0, 20, 3, 6, 0x03));                   /* ld x6: the new page */
        end_loop(&p);
        r = compare("superpage", round, c);
        assert_int_equal(r.x[5], before);
        assert_int_equal(r.x[6], after);
        case_free(c);
    }
}

static int setup(void **state)
{
    const EngineHost host = { .mem = &mem, .mmio = &bus, .nvcpus = 1, .request_exit = no_exit };
    char err[256];

    (void)state;
    assert_int_equal(gmem_add_ram(&mem, RAM_BASE, RAM_SIZE), 0);
    emu = emu_engine_ops.create(&host, err, sizeof(err));
    assert_non_null(emu);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    emu_engine_ops.destroy(emu);
    gmem_free(&mem);
    return 0;
}

/* ---- tiered translation ---- */

/* Once the code cache has been full, a block is translated only when it
 * starts for the third time and the interpreter runs it before: programs
 * that mix both, with traps, page crossings, fence.i and satp switches. */
static void test_tiered(void **state)
{
    hot_after = 3;
    cold_total = 0;
    test_integer(state);
    test_faults(state);
    test_smc(state);
    test_address_spaces(state);
    hot_after = 1;
    assert_true(cold_total > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integer),
        cmocka_unit_test(test_fp),
        cmocka_unit_test(test_fp_translated),
        cmocka_unit_test(test_atomics),
        cmocka_unit_test(test_csr_reads),
        cmocka_unit_test(test_faults),
        cmocka_unit_test(test_smc),
        cmocka_unit_test(test_address_spaces),
        cmocka_unit_test(test_unmap),
        cmocka_unit_test(test_superpage),
        cmocka_unit_test(test_sum),
        cmocka_unit_test(test_tiered),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
