/* The emu engine's JIT (x86-64 hosts): guest code is translated into
 * superblocks (straight-line code through conditional branches, with
 * branches inside the block taken inside it) that keep the hottest guest
 * registers in host registers across blocks. Loads, stores and AMOs look up
 * the software TLB inline; F/D use SSE2 with exact RISC-V results; M, the
 * counters and the common CSR reads are translated; the rest runs in the
 * interpreter one instruction at a time.
 *
 * Blocks are keyed by (virtual pc, host address of the code), so a
 * remapping never runs stale code. Exits to the same guest page are chained
 * (patched jumps); indirect jumps and jumps to other pages go through a
 * per-hart jump cache looked up by generated code, whose entries are only
 * taken while the instruction TLB still maps their page the same way.
 * After a fence.i (local or remote: exactly when RISC-V requires
 * instruction fetch to see earlier stores) a page's blocks are compared
 * with memory before they run again, and dropped if it changed. */
#ifndef XENO_EMU_JIT_H
#define XENO_EMU_JIT_H

#include <stdbool.h>
#include <stdint.h>

struct Hart;

typedef struct JitStats {
    uint64_t blocks;            /* translations */
    uint64_t insns;             /* guest instructions translated */
    uint64_t interp;            /* instructions translated as interpreter calls */
    uint64_t interp_runs;       /* instructions the interpreter ran for the JIT */
    uint64_t cold_runs;         /* instructions interpreted before their block got hot */
    uint64_t code_bytes;        /* host code emitted */
    uint64_t hot_bytes;         /* of which the blocks' straight-line paths */
    uint64_t dispatches;        /* blocks entered from the dispatcher */
    uint64_t lookups_hit;       /* dispatcher: block found in the table */
    uint64_t chains;            /* exits patched to jump straight to their target */
    uint64_t flushes;           /* code cache dropped (restored state) */
    uint64_t full_flushes;      /* code cache dropped because it was full */
    uint64_t fence_i;           /* fence.i (local or remote) */
    uint64_t pages_verified;    /* pages found unchanged after a fence.i */
    uint64_t pages_changed;     /* pages whose blocks were dropped after a fence.i */
} JitStats;

/* Per-hart JIT state; NULL if the JIT is unavailable or disabled. */
typedef struct Jit Jit;
Jit *jit_create(void);
void jit_destroy(Jit *j);
/* Forget every translation (restored state). */
void jit_flush(Jit *j);
/* fence.i: instruction fetch must see earlier stores. Both are safe from a
 * helper called by generated code if that code leaves at once (system
 * instructions do). */
void jit_fence_i(Jit *j);
/* Run up to `budget` instructions; same contract as hart_run_chunk. */
uint64_t jit_run_chunk(struct Hart *h, uint64_t budget);
/* Translate a block when it starts for the n-th time, from now on (1: at
 * once). By default: at once until the code cache has been full, then on
 * the 3rd start. XENO_EMU_JIT_HOT=n sets it at creation. */
void jit_set_hot_after(Jit *j, unsigned n);
/* Tier from now on (at the current threshold) as after a full cache: for
 * a restored or migrated guest, whose code is all hot but not translated
 * here yet. */
void jit_tier_from_now(Jit *j);
/* Whether the JIT is enabled (XENO_EMU_JIT=0 disables it). */
bool jit_enabled(void);
void jit_get_stats(const Jit *j, JitStats *s);

#endif
