/* The JIT's internals, shared by its parts:
 *   jit.c        code cache, block table, jump caches, dispatcher, chaining
 *   jit_gen.c    translator: block scan, register map, integer ops, branches, exits
 *   jit_mem.c    loads, stores, AMOs, LR/SC: inline TLB path and slow paths
 *   jit_fp.c     F and D with SSE2 (soft-float for what SSE cannot do exactly)
 *   jit_sys.c    CSR reads, the interpreter fallback, helpers' register spills
 *   jit_thunk.c  shared routines: entering and leaving generated code, and the
 *                out-of-line halves of slow paths (one copy, called by sites)
 *
 * Generated code conventions (x86-64):
 *   rbx  the Hart + RBX_BIAS (all 32 x registers within a one-byte displacement)
 *   r15  instret: the hart's retired-instruction count, exact at every
 *        exit (see "instret" in jit_gen.c)
 *   rbp, r12-r14: guest registers x2, x10, x15, x14, for as long as
 *        generated code runs, across blocks (jit_gen.c: global_host)
 *   rdi, r8-r11: up to five more, chosen per block, loaded at its entry and
 *        stored at its exits (jit_gen.c: allocate)
 *        Memory (h->x) is authoritative whenever C code that may look at
 *        guest registers runs
 *   rax, rcx, rdx, rsi: scratch; xmm0-xmm3: scratch
 *   rsp  16-byte aligned, so helpers can be called directly
 * Entering from C (jit_enter) loads the mapped registers; leaving (the
 * exit routines) stores them back. */
#ifndef XENO_EMU_JIT_INTERNAL_H
#define XENO_EMU_JIT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "codemem.h"
#include "decode.h"
#include "hart.h"
#include "jit.h"
#include "jit_x86.h"

#define RBX_BIAS 128
#define HOFF(field) ((int32_t)offsetof(Hart, field) - RBX_BIAS)
#define OFF_X(r)    (HOFF(x) + 8 * (int32_t)(r))
#define OFF_F(r)    (HOFF(f) + 8 * (int32_t)(r))
#define HM(field)   xm(RBX, HOFF(field))
#define XM(r)       xm(RBX, OFF_X(r))
#define FM(r)       xm(RBX, OFF_F(r))

#define JIT_MAX_INSNS  128          /* guest instructions per block */
#define JIT_LOCALS     5            /* per-block guest registers in host registers */
#define JIT_SLOTS      4            /* access groups live at once (Hart.jit_slot) */
#define JIT_BLOCK_MAX  (48u << 10)  /* host bytes one block can never exceed */

/* Jump cache: (virtual pc -> code), looked up by generated code for
 * indirect jumps and jumps to other pages. An entry also holds the
 * instruction TLB's addend for pc's page when it was made, and is only
 * used while the instruction TLB of the current context maps that page
 * with that addend: so it holds across TLB flushes, privilege changes and
 * address-space switches (a process running the same program reuses it),
 * and never outlives a mapping or a fetch permission. */
#define JC_BITS 12
#define JC_SIZE (1u << JC_BITS)
typedef struct JcEntry {
    uint64_t pc;
    uintptr_t addend;           /* TlbEntry.addend of pc's page */
    const uint8_t *code;        /* executable view */
    uint64_t mode;              /* the block's TLB contexts (JIT_MODE) */
} JcEntry;

/* A block is translated for one pair of TLB contexts (fetch, data), which
 * cannot change inside it (only system instructions and traps change
 * them, and they end it): its accesses name the TLB sets as constant
 * offsets from rbx instead of loading a pointer first. */
#define JIT_MODE(ictx, dctx) ((ictx) * TLB_CTX + (dctx))
#define TLB_OFF(ctx) (HOFF(tlb) + (int32_t)((ctx) * sizeof(TlbSet)))
/* The jump cache index of a pc, as generated code computes it: entries are
 * 32 bytes, so the byte offset is ((pc >> 1) & (JC_SIZE - 1)) << 5. */
static inline unsigned jc_index(uint64_t pc) { return (unsigned)(pc >> 1) & (JC_SIZE - 1); }

typedef struct JitCtx JitCtx;

typedef struct JitPage JitPage;

typedef struct JitBlock {
    uint64_t pc;
    uintptr_t host;             /* host address of the guest code */
    const uint8_t *code;        /* entry, executable view */
    unsigned mode;              /* JIT_MODE it was translated for */
    struct JitBlock *next;      /* hash chain */
    JitPage *page;              /* the guest page it was translated from */
    struct JitBlock *page_next; /* the page's blocks */
    const uint8_t *copy;        /* the guest bytes it was translated from */
    uint32_t glen;
} JitBlock;

/* A guest page (by host address) that blocks were translated from. After
 * a fence.i its blocks are only entered again once all of them have been
 * compared with the guest bytes now there (jit.c: verify_page). */
struct JitPage {
    uintptr_t host;
    uint32_t gen;               /* Jit.gen when last verified (or made) */
    JitBlock *blocks;
    JitPage *next;              /* hash chain */
};

#define TABLE_BITS 14
#define PAGE_BITS 12

struct Jit {
    Hart *hart;                 /* the hart this JIT runs (set by jit_run_chunk) */
    JitCtx *ctx;                /* translator state, reused */
    CodeMem cm;
    size_t code_start;          /* after the shared routines */
    size_t used;
    size_t released;            /* write-view pages below it were let go (jit.c) */
    /* Shared routines (executable view), jit_thunk.c. */
    void (*enter)(Hart *h, const uint8_t *code);
    const uint8_t *exit_sync;   /* store the mapped registers and instret, return */
    const uint8_t *exit_nosync; /* return: C code already made memory authoritative */
    const uint8_t *t_exit_chain, *t_exit_leave;
    const uint8_t *t_load, *t_store, *t_csr, *t_interp, *t_interp_sys, *t_atomic;
    /* Block metadata: a bump arena reset with the code cache. */
    JitBlock *blocks;
    size_t nblocks, max_blocks;
    JitBlock *table[1 << TABLE_BITS];
    JitPage *pages[1 << PAGE_BITS];
    uint32_t gen;               /* bumped by fence.i */
    /* Guest-byte copies and page records: a bump arena reset with the code. */
    uint8_t *arena;
    size_t arena_used, arena_size;
    JcEntry *jc;
    bool has_fma, has_bmi2;
    /* Tiering (jit.c): translate on the hot_after-th start (1: at once),
     * once the cache has been full, or always if tier_always. */
    unsigned hot_after;
    bool tier_always;
    uint8_t hot[1 << 13];
    FILE *perfmap;              /* XENO_EMU_JIT_PERFMAP=1 */
    uint64_t dump_pc;           /* XENO_EMU_JIT_DUMP=pc */
    JitStats stats;
};

/* ---- the translator's state for one block ---- */

typedef struct JitScan {
    uint64_t pc;
    Insn d;
    uint32_t raw;
    bool label;                 /* an internal branch targets this instruction */
    bool no_sext;               /* a 32-bit op whose result's upper half nobody reads */
    /* Loads and stores (jit_mem.c: jm_plan) */
    bool konst;                 /* at the constant address kaddr */
    bool leader;                /* checks the page of its group: [glo, glo + gspan) */
    int8_t slot;                /* its group's slot (Hart.jit_slot), or -1 */
    int32_t glo;
    uint32_t gspan;
    uint64_t kaddr;
} JitScan;

typedef struct JitCold JitCold;

struct JitCtx {
    X86 x;
    Jit *j;
    unsigned ictx, dctx;        /* the block's TLB contexts (JIT_MODE) */
    uint64_t block_pc;
    uint64_t pc;                /* the instruction being translated */
    unsigned idx;               /* its index in scan[] */
    unsigned n;                 /* instructions in the block */
    /* Instructions retired since r15 was last brought up to date. */
    unsigned pending;
    JitScan scan[JIT_MAX_INSNS];
    /* Executable address of each instruction's code once emitted. */
    const uint8_t *at[JIT_MAX_INSNS];
    /* Out-of-line code emitted after the block (slow paths, exits). */
    JitCold *cold;
    unsigned ncold, maxcold;
    /* Host register of each guest x register (0: memory), the per-block
     * ones, and the guest registers the block may write. */
    int8_t map[32];
    uint8_t local[JIT_LOCALS];
    unsigned nlocal;
    uint32_t dirty;
    uint32_t noload;            /* locals not loaded at entry (written first) */
    const uint8_t *trap_tail;   /* cold: store the locals, leave (r15 is right) */
    bool fs_checked;            /* mstatus.FS tested in this block */
    bool fs_dirtied;            /* mstatus.FS set to dirty in this block */
};

/* Out-of-line code: `from` is a rel32 in the hot path that jumps here;
 * emit() writes the code (which usually jumps back to `back`). */
struct JitCold {
    void (*emit)(JitCtx *c, JitCold *k);
    uint8_t *from;
    const uint8_t *back;        /* executable address to continue at */
    uint64_t pc;
    unsigned pending;           /* c->pending at the slow path */
    Insn d;
    uint64_t target;
    int arg;
};

/* jit_gen.c */
int jit_global_host(unsigned r);    /* host register of a global guest register, or -1 */
int jg_host(const JitCtx *c, unsigned r);   /* in this block, or -1 */
/* Store the block's locals it writes (before leaving or calling C that
 * reads guest registers); reload them all (after C that may write them). */
void jg_spill_locals(JitCtx *c);
void jg_reload_locals(JitCtx *c);
/* The value of x r in a host register: its own if mapped, else loaded into
 * `scratch` (x0 gives a zeroed scratch). */
int jg_get(JitCtx *c, unsigned r, int scratch);
/* Where to compute x r: its host register, or `scratch` (then jg_put). */
int jg_dst(const JitCtx *c, unsigned r, int scratch);
void jg_put(JitCtx *c, unsigned r, int hreg);
/* Flush the pending instruction count into r15. */
void jg_sync_instret(JitCtx *c);
JitCold *jg_cold(JitCtx *c, void (*emit)(JitCtx *, JitCold *), uint8_t *from);
/* Leave generated code after a trap taken by a helper (pc already set):
 * r15 += pending, then the block's trap tail. */
void jg_exit_trap(JitCtx *c, unsigned pending);
/* Exit to a constant target / to the pc in rsi, with the pending count. */
void jg_exit_const(JitCtx *c, uint64_t target, unsigned pending, bool backward);
void jg_exit_reg(JitCtx *c, unsigned pending);

/* jit_sys.c */
/* Run one instruction in the interpreter; `sys` ends the block, else the
 * block goes on and counts it like a translated one. */
void js_interp(JitCtx *c, bool sys);
/* Translate a CSR instruction; false if it must go to the interpreter. */
bool js_csr(JitCtx *c);
/* Move the host's pending FP exception flags into h->fflags. */
void jit_fold_fflags(Hart *h);

/* Cold code: run the instruction in the interpreter, continue at k->back
 * (or leave if it trapped or jumped). */
void js_cold_interp(JitCtx *c, JitCold *k);
/* The interpreter, one instruction at pc (registers and instret in memory):
 * non-zero if the block must end. */
int jit_interp_insn(Hart *h, uint64_t pc, uint64_t next);

/* jit_mem.c */
/* rsi = guest address; on a TLB hit falls through with rsi = host address,
 * else takes the returned rel32 (rsi unchanged). Clobbers rax, rdx. */
uint8_t *jm_probe(JitCtx *c, unsigned size, bool write);
/* In cold code, for the access in rsi: rax = loaded value (info: size | 16
 * to sign-extend); store of rdx (volatile registers already spilled). A
 * trap leaves the block. */
void jm_call_load_slow(JitCtx *c, JitCold *k, unsigned info);
void jm_call_store_slow(JitCtx *c, JitCold *k, unsigned size);
void jm_plan(JitCtx *c);
void jm_load(JitCtx *c);
void jm_store(JitCtx *c);
void jm_amo(JitCtx *c);
/* Compute rs1 + imm into rsi. */
void jm_addr(JitCtx *c, unsigned rs1, int64_t imm);

/* jit_fp.c: F/D instructions (not fclass): false if not one of them */
bool jf_translate(JitCtx *c);

/* ---- helpers called from generated code (through the thunks) ---- */

typedef struct JitRet {
    uint64_t val, fault;        /* rax, rdx */
} JitRet;

JitRet jit_load_slow(Hart *h, uint64_t va, uint64_t pc, uint64_t info);
uint64_t jit_store_slow(Hart *h, uint64_t va, uint64_t val, uint64_t pc, uint64_t size);
JitRet jit_csr_read(Hart *h, uint64_t csr, uint64_t instret, uint64_t pc);
int jit_interp_sys(Hart *h, uint64_t pc, uint64_t next);
int jit_atomic_slow(Hart *h, uint64_t pc, uint64_t next, uint64_t va, uint64_t info);

/* jit_thunk.c: write the shared routines at the start of the code memory;
 * returns their size. */
size_t jit_emit_thunks(Jit *j, size_t room);

/* jit_gen.c: translate the block at pc, whose guest bytes (up to the
 * page's end) are the `avail` at `code` (a snapshot: what is translated is
 * exactly what the block's copy records), into the code memory at `at`
 * (JIT_BLOCK_MAX bytes free); *end = the end of its code, *glen = the
 * guest bytes it covers. NULL if the first instruction crosses the page. */
#define JIT_SNAPSHOT (JIT_MAX_INSNS * 4)
const uint8_t *jit_translate(Jit *j, JitCtx *c, uint64_t pc, unsigned mode,
                             const uint8_t *code, unsigned avail, uint8_t *at, uint8_t **end,
                             uint32_t *glen);

#endif
