/* A template JIT for the emu engine (x86-64 hosts): translates guest basic
 * blocks into host code that works on the hart's register file in memory.
 *
 * Hot integer instructions, loads, stores and branches are emitted inline
 * (loads and stores with an inline software-TLB lookup); everything else
 * (CSRs, FP, atomics, division, system instructions) calls the interpreter
 * for that one instruction. Blocks are keyed by (virtual pc, host address of
 * the code), so remapping never runs stale code; the code cache is dropped
 * on fence.i (local or remote), which is exactly when RISC-V requires
 * instruction fetch to see earlier stores. The code cache is W^X: written
 * and executed through two views of one memfd (codemem.h). */
#ifndef XENO_EMU_JIT_H
#define XENO_EMU_JIT_H

#include <stdbool.h>
#include <stdint.h>

struct Hart;

/* Per-hart JIT state; NULL if the JIT is unavailable or disabled. */
typedef struct Jit Jit;
Jit *jit_create(void);
void jit_destroy(Jit *j);
/* Forget every translation (fence.i). */
void jit_flush(Jit *j);
/* Run up to `budget` instructions; same contract as hart_run_chunk. */
uint64_t jit_run_chunk(struct Hart *h, uint64_t budget);
/* Whether the JIT is enabled (XENO_EMU_JIT=0 disables it). */
bool jit_enabled(void);

#endif
