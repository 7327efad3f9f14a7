/* One RISC-V hart of the emu engine: architectural state, software TLB,
 * and the interfaces between decode, execute, CSRs, MMU, traps and SBI.
 *
 * Threading: each hart runs on its own host thread. Other threads touch a
 * hart only through atomics on `mip` and the request flags, then kick it. */
#ifndef XENO_EMU_HART_H
#define XENO_EMU_HART_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "emu.h"
#include "hw/bus.h"
#include "hw/mem.h"
#include "decode.h"

typedef struct Engine Emu;

enum { PRV_U = 0, PRV_S = 1, PRV_M = 3 };

/* Exception causes. */
enum {
    CAUSE_MISALIGNED_FETCH = 0, CAUSE_FETCH_ACCESS = 1, CAUSE_ILLEGAL_INSN = 2,
    CAUSE_BREAKPOINT = 3, CAUSE_MISALIGNED_LOAD = 4, CAUSE_LOAD_ACCESS = 5,
    CAUSE_MISALIGNED_STORE = 6, CAUSE_STORE_ACCESS = 7, CAUSE_ECALL_U = 8,
    CAUSE_ECALL_S = 9, CAUSE_ECALL_M = 11, CAUSE_FETCH_PAGE = 12,
    CAUSE_LOAD_PAGE = 13, CAUSE_STORE_PAGE = 15,
};
#define CAUSE_INTERRUPT (1ull << 63)

/* Interrupt bits (mip/mie). */
#define MIP_SSIP (1ull << 1)
#define MIP_MSIP (1ull << 3)
#define MIP_STIP (1ull << 5)
#define MIP_MTIP (1ull << 7)
#define MIP_SEIP (1ull << 9)
#define MIP_MEIP (1ull << 11)
#define MIP_S_MASK (MIP_SSIP | MIP_STIP | MIP_SEIP)

/* mstatus fields. */
#define MSTATUS_SIE  (1ull << 1)
#define MSTATUS_MIE  (1ull << 3)
#define MSTATUS_SPIE (1ull << 5)
#define MSTATUS_MPIE (1ull << 7)
#define MSTATUS_SPP  (1ull << 8)
#define MSTATUS_VS   (3ull << 9)
#define MSTATUS_MPP_SHIFT 11
#define MSTATUS_MPP  (3ull << 11)
#define MSTATUS_FS_SHIFT 13
#define MSTATUS_FS   (3ull << 13)
#define MSTATUS_XS   (3ull << 15)
#define MSTATUS_MPRV (1ull << 17)
#define MSTATUS_SUM  (1ull << 18)
#define MSTATUS_MXR  (1ull << 19)
#define MSTATUS_TVM  (1ull << 20)
#define MSTATUS_TW   (1ull << 21)
#define MSTATUS_TSR  (1ull << 22)
#define MSTATUS_UXL  (3ull << 32)
#define MSTATUS_SXL  (3ull << 34)
#define MSTATUS_SD   (1ull << 63)

/* Software TLB: direct mapped, one set per access kind and per translation
 * context (see mmu.c), so a privilege switch selects another set instead of
 * flushing. An entry maps a virtual page to host memory: host = va + addend. */
#define TLB_BITS 8
#define TLB_SIZE (1 << TLB_BITS)
#define TLB_CTX  4        /* M (bare), S, S+SUM, U */

typedef struct TlbEntry {
    uint64_t tag;         /* virtual page address, or ~0 if invalid */
    uintptr_t addend;
} TlbEntry;

typedef struct TlbSet {
    TlbEntry r[TLB_SIZE], w[TLB_SIZE], x[TLB_SIZE];
} TlbSet;

/* Decoded-instruction cache keyed by the instruction bits themselves:
 * decoding is a pure function of them, so entries never go stale and need
 * no invalidation on self-modifying code, fence.i or remapping. */
#define DCACHE_BITS 12
typedef struct DCacheEntry {
    uint32_t raw;
    Insn d;
} DCacheEntry;

enum hart_run_state { HART_RUNNING, HART_STOPPED, HART_START_PENDING };

typedef struct Hart {
    /* Hot state first. */
    uint64_t x[32];
    uint64_t pc;
    uint64_t f[32];          /* raw bits; singles are NaN-boxed */
    TlbSet *itlb, *dtlb;     /* sets for the current fetch / data contexts */
    int priv;
    uint32_t fflags, frm;

    volatile int exit_chunk;  /* set by other threads: leave the run loop soon */

    /* CSRs. */
    uint64_t mstatus, misa, medeleg, mideleg, mie, mtvec, mscratch, mepc,
             mcause, mtval, mcounteren, menvcfg, mcountinhibit;
    uint64_t stvec, sscratch, sepc, scause, stval, satp, scounteren, senvcfg;
    uint64_t pmpcfg[16], pmpaddr[64];
    uint64_t mhartid;
    uint64_t mip;            /* atomic: devices and other harts set bits */
    uint64_t instret;        /* retired instructions (also mcycle) */
    uint64_t mcycle_off, minstret_off;
    uint64_t mtimecmp;       /* CLINT */
    uint64_t stimecmp;       /* built-in SBI timer deadline (STIP) */
    bool stimer_armed;

    /* LR/SC reservation. */
    uint64_t lr_addr, lr_val;
    bool lr_valid;

    /* Exception being raised by the current instruction. */
    uint64_t exc_cause, exc_tval;

    /* MMU. */
    int satp_mode;           /* 0 bare, 8 Sv39, 9 Sv48 */
    uint64_t satp_ppn;
    TlbSet tlb[TLB_CTX];
    unsigned tlb_used;       /* sets filled since their last flush (bit per set) */
    /* Virtual range that TLB entries filled from superpages may cover: an
     * sfence.vma of one page inside it must flush everything. */
    uint64_t super_lo, super_hi;
    DCacheEntry dcache[1 << DCACHE_BITS];

    /* JIT (NULL when interpreting). */
    struct Jit *jit;
    void *jcache;            /* the JIT's jump cache (jit_internal.h) */
    /* Generated code leaves at a backward or indirect jump once instret
     * reaches this: the chunk's end, or 0 after a kick. */
    uint64_t jit_end;
    /* Set by an exit that can be chained: the rel32 (executable view) the
     * dispatcher re-points at the next block. */
    const uint8_t *jit_chain;
    /* The TLB addend of each access group's page (jit_mem.c: jm_plan) */
    uint64_t jit_slot[4];

    /* Run control. */
    Emu *emu;
    unsigned id;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    enum hart_run_state run_state;
    bool wfi;                /* parked in WFI */
    bool paused;             /* parked for a pause (pause_park) */
    uint64_t flush_req, flush_ack;  /* remote fence requests (hart_flush_wait) */
    unsigned flush_kinds;           /* FLUSH_* asked for, not yet served */
    uint64_t start_addr, start_arg; /* HSM hart_start */
    int start_priv;
    /* Throttling (emu_set_throttle): ran since / sits out until, ns. */
    uint64_t throttle_since, throttle_until;

    /* Event counters; XENO_EMU_STATS=1 prints them when the engine goes. */
    struct {
        uint64_t walks, tlb_flushes, tlb_page_flushes, fence_i, sfence, satp, rfence_i,
                 rfence_vma;
    } stat;
} Hart;

/* ---- emu.c: the machine-level engine state shared by harts ---- */
struct Engine {
    EngineHost host;
    GuestMem *mem;
    Bus *bus;
    unsigned nharts;
    Hart **harts;
    uint64_t ram_base, ram_end;
    uint8_t *ram;            /* host pointer of RAM base (single region) */
    EmuBoot boot;
    bool sbi;                /* built-in SBI handles S-mode ecalls */
    /* The watched page (emu_watch_stores), ~0 when none. */
    uint64_t watch_page;
    emu_store_watch_fn watch_fn;
    void *watch_opaque;
    volatile int stopping, pausing;
    pthread_mutex_t pause_lock;
    pthread_cond_t pause_cond;
    unsigned paused_count;
    uint64_t time_base_ns;
    uint64_t paused_at_ns;
    unsigned throttle_pct;   /* share of each slice the harts sit out (0: none) */
    bool started;            /* hart threads exist */
    /* Restore (state.c): the harts continue from their loaded state and
     * the guest clock from restored_mtime when started. */
    bool restored;
    uint64_t restored_mtime;
};

/* Ask the VMM to stop the VM (EngineHost.request_exit). */
static inline void emu_request_exit(Emu *e, enum vm_exit why, int code)
{
    e->host.request_exit(e->host.opaque, why, code);
}

/* time.c-like helpers (emu.c) */
uint64_t emu_mtime(const Emu *e);
void hart_kick(Hart *h);
/* The guest trapped into M-mode with no handler: stop the VM as crashed. */
void hart_guest_crash(Hart *h, uint64_t cause, uint64_t tval);
void hart_set_mip(Hart *h, uint64_t mask, int level);

/* Make hart t flush (FLUSH_TLB: its TLB, as sfence.vma; FLUSH_CODE: its
 * translations, as fence.i) before it next runs, and return once it has,
 * or once it is parked where it flushes before running again (WFI,
 * stopped, paused). self is the calling hart (it serves requests aimed at
 * itself meanwhile), or NULL from a non-hart thread. */
enum { FLUSH_TLB = 1, FLUSH_CODE = 2 };
void hart_flush_wait(Hart *self, Hart *t, unsigned kinds);

/* state.c: the harts' and the engine's state sections, dirty logging. */
int emu_state_register(Emu *e);
int emu_dirty_log_start(Engine *e);
void emu_dirty_log_stop(Engine *e);
int emu_dirty_log_collect(Engine *e);
void emu_dirty_log_rearm(Engine *e);

/* exec.c */
/* Run up to `budget` instructions; returns the number executed. */
uint64_t hart_run_chunk(Hart *h, uint64_t budget);
void hart_dcache_init(Hart *h);

/* trap.c */
void hart_raise(Hart *h, uint64_t cause, uint64_t tval);
/* Returns true if an interrupt was taken. */
bool hart_check_interrupts(Hart *h);
/* Pending-and-enabled interrupts regardless of global enables (for WFI). */
uint64_t hart_pending_irqs(Hart *h);
void hart_set_priv(Hart *h, int priv);
void hart_update_timer_irqs(Hart *h);

/* csr.c: return 0, or -1 for an illegal access. */
int csr_read(Hart *h, unsigned csr, uint64_t *val);
int csr_write(Hart *h, unsigned csr, uint64_t val);
void hart_reset(Hart *h, uint64_t pc);

/* mmu.c */
void tlb_flush(Hart *h);
/* sfence.vma of the page holding va (every context, every kind). */
void tlb_flush_page(Hart *h, uint64_t va);
void mmu_update_ctx(Hart *h);
/* Slow paths: return 0 or -1 with h->exc_cause/exc_tval set. */
int mmu_load_slow(Hart *h, uint64_t va, unsigned size, uint64_t *val);
int mmu_store_slow(Hart *h, uint64_t va, unsigned size, uint64_t val);
int mmu_fetch_slow(Hart *h, uint64_t va, uint32_t *insn);
/* Host pointer for an aligned atomic access (AMO, LR/SC) of `size` bytes;
 * NULL with exc set on fault (misaligned → address-misaligned store fault). */
void *mmu_atomic_ptr(Hart *h, uint64_t va, unsigned size, bool is_load_only);
/* Fill the data TLB's read (or write) entry for va if it maps RAM with
 * that access allowed (the JIT's atomics then hit it); no fault raised. */
void mmu_atomic_fill(Hart *h, uint64_t va, bool write);

/* sbi.c: handle an ecall from S-mode with the built-in SBI. */
void sbi_ecall(Hart *h);

/* Fast-path memory access through the TLB. */
static inline int mem_load(Hart *h, uint64_t va, unsigned size, uint64_t *val)
{
    TlbEntry *e = &h->dtlb->r[(va >> 12) & (TLB_SIZE - 1)];
    if (__builtin_expect(e->tag == (va & ~0xfffull) && (va & 0xfff) <= 0x1000 - size, 1)) {
        void *p = (void *)(uintptr_t)(va + e->addend);
        switch (size) {
        case 1: *val = *(uint8_t *)p; return 0;
        case 2: { uint16_t v; __builtin_memcpy(&v, p, 2); *val = v; return 0; }
        case 4: { uint32_t v; __builtin_memcpy(&v, p, 4); *val = v; return 0; }
        default: { uint64_t v; __builtin_memcpy(&v, p, 8); *val = v; return 0; }
        }
    }
    return mmu_load_slow(h, va, size, val);
}

static inline int mem_store(Hart *h, uint64_t va, unsigned size, uint64_t val)
{
    TlbEntry *e = &h->dtlb->w[(va >> 12) & (TLB_SIZE - 1)];
    if (__builtin_expect(e->tag == (va & ~0xfffull) && (va & 0xfff) <= 0x1000 - size, 1)) {
        void *p = (void *)(uintptr_t)(va + e->addend);
        switch (size) {
        case 1: *(uint8_t *)p = (uint8_t)val; break;
        case 2: { uint16_t v = (uint16_t)val; __builtin_memcpy(p, &v, 2); break; }
        case 4: { uint32_t v = (uint32_t)val; __builtin_memcpy(p, &v, 4); break; }
        default: __builtin_memcpy(p, &val, 8); break;
        }
        /* A store to the reserved address breaks other harts' LR: they
         * compare values at SC time, so nothing to do here. */
        return 0;
    }
    return mmu_store_slow(h, va, size, val);
}

#endif
