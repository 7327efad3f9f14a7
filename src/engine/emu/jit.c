/* The JIT's runtime: code cache, block table, jump caches, the dispatcher,
 * chaining, and the routines that enter and leave generated code. See
 * jit.h for the design and jit_internal.h for the register conventions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/log.h"
#include "jit_internal.h"

#if defined(__x86_64__)

/* Per hart. Sized by measurement: Linux's boot translates about 20 MiB of
 * code once (init code runs once); the working set of a booted system
 * running shells and busybox is 4 to 8 MiB (blocks average ~900 bytes, half
 * of it slow paths). A 4 MiB cache was dropped every third process of a
 * fork+exec loop of busybox (1500 execs: 551 drops, 2.6 million
 * translations, 50 million instructions interpreted while blocks got hot
 * again: 22 s); 8 MiB is dropped twice while booting and not after (1.6 s).
 * A dropped cache gives its pages back (MADV_REMOVE), and the write view
 * lets go of the pages behind the one being written (release_written), so
 * the VMM's RSS counts only what was translated since, once. */
#define CODE_SIZE   (8u << 20)
#define SHARED_SIZE 4096u
#define MAX_BLOCKS  (CODE_SIZE / 256)
#define ARENA_SIZE  (CODE_SIZE / 8)

/* ---- block table ---- */

static unsigned slot(uint64_t pc)
{
    return (unsigned)((pc >> 1) ^ (pc >> (TABLE_BITS + 1))) & ((1u << TABLE_BITS) - 1);
}

static JitBlock *lookup(Jit *j, uint64_t pc, uintptr_t host, unsigned mode)
{
    for (JitBlock *b = j->table[slot(pc)]; b; b = b->next)
        if (b->pc == pc && b->host == host && b->mode == mode)
            return b;
    return NULL;
}

static void jc_clear(Jit *j)
{
    memset(j->jc, 0xff, JC_SIZE * sizeof(JcEntry));   /* pc ~0: never a target */
}

/* Anonymous memory that resets often: mapped, so its pages can go back. */
static void *map_anon(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void give_back(void *p, size_t size)
{
    uintptr_t a = ((uintptr_t)p + 4095) & ~(uintptr_t)4095;
    uintptr_t e = ((uintptr_t)p + size) & ~(uintptr_t)4095;
    if (e > a)
        madvise((void *)a, e - a, MADV_DONTNEED);
}

/* The pages of the write view behind the one being written leave this
 * mapping (MADV_DONTNEED on a shared mapping: the memory stays, mapped in
 * the executable view), so code counts once in the VMM's RSS, not twice.
 * A chain patch maps its page again: every 1 MiB written, all of the pages
 * behind go again. */
static void release_written(Jit *j)
{
    size_t done = j->used & ~(size_t)4095;

    if (done > j->released) {
        if ((done >> 20) != (j->released >> 20))
            madvise(j->cm.w, done, MADV_DONTNEED);
        else
            madvise(j->cm.w + j->released, done - j->released, MADV_DONTNEED);
        j->released = done;
    }
}

static void drop_code(Jit *j)
{
    if (j->used > j->code_start) {
        /* Both views lose the pages: the memfd's backing goes. */
        size_t start = (j->code_start + 4095) & ~(size_t)4095;
        if (j->used > start)
            madvise(j->cm.w + start, ((j->used - start) + 4095) & ~(size_t)4095, MADV_REMOVE);
        give_back(j->blocks, j->nblocks * sizeof(JitBlock));
        give_back(j->arena, j->arena_used);
    }
    j->used = j->code_start;
    j->released = 0;
    j->nblocks = 0;
    j->arena_used = 0;
    memset(j->table, 0, sizeof(j->table));
    memset(j->pages, 0, sizeof(j->pages));
    jc_clear(j);
    if (j->hart)
        j->hart->jit_chain = NULL;
}

void jit_flush(Jit *j)
{
    if (j) {
        drop_code(j);
        memset(j->hot, 0, sizeof(j->hot));
        j->stats.flushes++;
    }
}

/* fence.i: what was translated may no longer be what is in memory. Rather
 * than dropping everything (Linux fences each time it maps a page of a
 * program executable for the first time: hundreds of times while booting),
 * every page's blocks are compared with the guest bytes before their next
 * use (verify_page), and only pages that changed are translated again.
 * Entries into a page go through the dispatcher: the jump cache is
 * cleared, chains never leave their page, and the block that ran the
 * fence.i leaves at once (a system instruction). */
void jit_fence_i(Jit *j)
{
    if (j) {
        j->gen++;
        jc_clear(j);
        if (j->hart)
            j->hart->jit_chain = NULL;
        j->stats.fence_i++;
    }
}

static unsigned page_slot(uintptr_t host)
{
    return (unsigned)((host >> 12) ^ (host >> (12 + PAGE_BITS))) & ((1u << PAGE_BITS) - 1);
}

static void *arena_alloc(Jit *j, size_t n)
{
    void *p;

    n = (n + 7) & ~(size_t)7;
    if (j->arena_size - j->arena_used < n)
        return NULL;
    p = j->arena + j->arena_used;
    j->arena_used += n;
    return p;
}

/* Forget a page's blocks (its record stays reachable from nothing). */
static void kill_page(Jit *j, JitPage *p)
{
    JitPage **pp;

    for (JitBlock *b = p->blocks; b; b = b->page_next) {
        JitBlock **bp = &j->table[slot(b->pc)];
        while (*bp && *bp != b)
            bp = &(*bp)->next;
        if (*bp)
            *bp = b->next;
    }
    for (pp = &j->pages[page_slot(p->host)]; *pp && *pp != p; pp = &(*pp)->next)
        ;
    if (*pp)
        *pp = p->next;
    j->stats.pages_changed++;
}

/* After a fence.i: is every block of the page still what memory holds? */
static bool verify_page(Jit *j, JitPage *p)
{
    for (JitBlock *b = p->blocks; b; b = b->page_next) {
        if (memcmp(b->copy, (const void *)b->host, b->glen)) {
            kill_page(j, p);
            return false;
        }
    }
    p->gen = j->gen;
    j->stats.pages_verified++;
    return true;
}

static JitPage *page_of(Jit *j, uintptr_t host)
{
    uintptr_t base = host & ~(uintptr_t)0xfff;
    JitPage *p;

    for (p = j->pages[page_slot(base)]; p; p = p->next)
        if (p->host == base)
            break;
    if (p && p->gen != j->gen && !verify_page(j, p))
        p = NULL;
    if (!p) {
        p = arena_alloc(j, sizeof(*p));
        if (!p)
            return NULL;
        p->host = base;
        p->gen = j->gen;
        p->blocks = NULL;
        p->next = j->pages[page_slot(base)];
        j->pages[page_slot(base)] = p;
    }
    return p;
}

/* XENO_EMU_JIT_PERFMAP=1: name every block in /tmp/perf-PID.map for
 * `perf report` (guest pc, host code), a profiling aid. */
static void perfmap(Jit *j, uint64_t pc, const uint8_t *code, size_t size)
{
    /* XENO_EMU_JIT_DUMP=pc (hex): that block's host code in /tmp/jit-PC.bin */
    if (j->dump_pc && j->dump_pc == pc) {
        char path[64];
        FILE *f;
        snprintf(path, sizeof(path), "/tmp/jit-%llx.bin", (unsigned long long)pc);
        if ((f = fopen(path, "w"))) {
            fwrite(codemem_write_addr(&j->cm, code), 1, size, f);
            fclose(f);
        }
    }
    if (!j->perfmap)
        return;
    fprintf(j->perfmap, "%lx %zx jit_%llx\n", (unsigned long)(uintptr_t)code, size,
            (unsigned long long)pc);
    fflush(j->perfmap);
}

static JitBlock *translate(Jit *j, uint64_t pc, uintptr_t host, unsigned mode)
{
    const uint8_t *entry;
    uint8_t *end;
    uint8_t *copy, snap[JIT_SNAPSHOT];
    uint32_t glen;
    unsigned avail;
    JitPage *p;
    JitBlock *b;

    /* Room for the block's code, its metadata, its guest bytes and a page
     * record, or start afresh. */
    if (j->cm.size - j->used < JIT_BLOCK_MAX || j->nblocks == j->max_blocks ||
        j->arena_size - j->arena_used < 4096 + 2 * sizeof(JitPage)) {
        drop_code(j);
        j->stats.full_flushes++;
    }
    p = page_of(j, host);
    /* Translate from a snapshot, so that the copy verify_page compares is
     * what was translated even if another hart writes meanwhile. */
    avail = 4096 - (unsigned)(pc & 0xfff);
    if (avail > JIT_SNAPSHOT)
        avail = JIT_SNAPSHOT;
    memcpy(snap, (const void *)host, avail);
    entry = jit_translate(j, j->ctx, pc, mode, snap, avail, j->cm.w + j->used, &end, &glen);
    if (!entry)
        return NULL;
    copy = arena_alloc(j, glen);
    memcpy(copy, snap, glen);
    j->stats.code_bytes += (size_t)(end - (j->cm.w + j->used));
    perfmap(j, pc, entry, (size_t)(end - (j->cm.w + j->used)));
    j->used = ((size_t)(end - j->cm.w) + 15) & ~(size_t)15;
    release_written(j);
    b = &j->blocks[j->nblocks++];
    b->pc = pc;
    b->host = host;
    b->mode = mode;
    b->code = entry;
    b->next = j->table[slot(pc)];
    j->table[slot(pc)] = b;
    b->page = p;
    b->page_next = p->blocks;
    p->blocks = b;
    b->copy = copy;
    b->glen = glen;
    return b;
}

/* ---- tiering ---- */

/* Once the cache has been full, code is translated only when it starts
 * running for the HOT_AFTER-th time; before, the interpreter runs it. A
 * boot runs most of its code once (initcalls, probing), and translating
 * that fills the cache with code that is never used again and drops the
 * code that is. Until the cache has been full once (short runs, tests) and
 * with XENO_EMU_JIT_HOT=1, everything is translated at once. The counters
 * are approximate (a small hash of pc and host address): a collision only
 * translates something earlier. */
#define HOT_BITS  13
#define HOT_AFTER 3

static unsigned hot_slot(uint64_t pc, uintptr_t host)
{
    uint64_t k = pc ^ (uint64_t)host * 0x9e3779b97f4a7c15ull;
    return (unsigned)(k >> (64 - HOT_BITS));
}

void jit_set_hot_after(Jit *j, unsigned n)
{
    j->hot_after = n;
    j->tier_always = true;
}

void jit_tier_from_now(Jit *j)
{
    if (j)
        j->tier_always = true;
}

/* Run the straight line from h->pc in the interpreter: up to a control
 * transfer, the page's end, the budget or a reason to stop. */
static void run_cold(Jit *j, Hart *h, uint64_t end, uintptr_t host)
{
    const uint8_t *page = (const uint8_t *)(host & ~(uintptr_t)0xfff);

    for (unsigned n = 0; n < JIT_MAX_INSNS; n++) {
        uint64_t pc = h->pc, next;
        uint16_t lo;

        memcpy(&lo, page + (pc & 0xfff), 2);
        next = pc + ((lo & 3) == 3 ? 4 : 2);
        j->stats.cold_runs++;
        hart_run_chunk(h, 1);
        if (h->pc != next || (next & 0xfff) < 4 || h->instret >= end || h->exit_chunk || h->wfi)
            return;
    }
}

/* ---- the dispatcher ---- */

uint64_t jit_run_chunk(Hart *h, uint64_t budget)
{
    Jit *j = h->jit;
    uint64_t start = h->instret, end = start + budget;

    j->hart = h;
    h->jcache = j->jc;
    h->jit_chain = NULL;
    /* A kick (hart_kick) sets exit_chunk, then jit_end = 0: publishing the
     * end first and reading exit_chunk after cannot miss one. */
    __atomic_store_n(&h->jit_end, end, __ATOMIC_SEQ_CST);
    while (h->instret < end && !__atomic_load_n(&h->exit_chunk, __ATOMIC_SEQ_CST) && !h->wfi) {
        uint64_t pc = h->pc;
        TlbEntry *te = &h->itlb->x[(pc >> 12) & (TLB_SIZE - 1)];
        uintptr_t host;
        unsigned mode;
        JitBlock *b;
        JcEntry *jc;

        if (te->tag != (pc & ~0xfffull)) {
            uint32_t raw;
            h->jit_chain = NULL;
            if (mmu_fetch_slow(h, pc, &raw)) {
                hart_raise(h, h->exc_cause, h->exc_tval);
                continue;
            }
            if (te->tag != (pc & ~0xfffull)) {
                j->stats.interp_runs++;
                hart_run_chunk(h, 1);       /* fetched but not cacheable */
                continue;
            }
        }
        host = (uintptr_t)(pc + te->addend);
        mode = JIT_MODE((unsigned)(h->itlb - h->tlb), (unsigned)(h->dtlb - h->tlb));
        b = lookup(j, pc, host, mode);
        if (b && b->page->gen != j->gen && !verify_page(j, b->page))
            b = NULL;
        if (b) {
            j->stats.lookups_hit++;
        } else {
            if (j->hot_after > 1 && (j->stats.full_flushes || j->tier_always)) {
                uint8_t *cnt = &j->hot[hot_slot(pc, host)];
                if ((unsigned)*cnt + 1 < j->hot_after) {
                    (*cnt)++;
                    h->jit_chain = NULL;
                    run_cold(j, h, end, host);
                    continue;
                }
                *cnt = 0;
            }
            b = translate(j, pc, host, mode);
            if (!b) {
                h->jit_chain = NULL;
                j->stats.interp_runs++;
                hart_run_chunk(h, 1);       /* an instruction across pages */
                continue;
            }
        }
        if (h->jit_chain) {
            /* The last block left through a chain site towards this pc in
             * its own page: both were translated through the mapping that
             * is current (the site was reached in this chunk and the
             * mapping can only change at a chunk's end or through a system
             * instruction, which never leaves through a chain site). */
            uint8_t *w = codemem_write_addr(&j->cm, h->jit_chain);
            int32_t rel = (int32_t)(b->code - (h->jit_chain + 4));
            memcpy(w, &rel, 4);
            h->jit_chain = NULL;
            j->stats.chains++;
        }
        jc = &j->jc[jc_index(pc)];
        jc->pc = pc;
        jc->addend = te->addend;
        jc->code = b->code;
        jc->mode = mode;
        j->stats.dispatches++;
        j->enter(h, b->code);
    }
    return h->instret - start;
}

Jit *jit_create(void)
{
    Jit *j = calloc(1, sizeof(*j));
    int r;

    if (!j)
        return NULL;
    r = codemem_init(&j->cm, CODE_SIZE);
    if (r < 0) {
        /* Never a writable and executable page instead: interpret. */
        static bool warned;
        if (!__atomic_exchange_n(&warned, true, __ATOMIC_RELAXED))
            log_warn("emu: the JIT is off (its code cache cannot be mapped: %s)", strerror(-r));
        goto fail;
    }
    j->ctx = calloc(1, sizeof(*j->ctx));
    j->max_blocks = MAX_BLOCKS;
    j->blocks = map_anon(j->max_blocks * sizeof(JitBlock));
    j->arena_size = ARENA_SIZE;
    j->arena = map_anon(j->arena_size);
    if (!j->ctx || !j->blocks || !j->arena)
        goto fail;
    j->ctx->maxcold = 4 * JIT_MAX_INSNS;
    j->ctx->cold = calloc(j->ctx->maxcold, sizeof(JitCold));
    if (!j->ctx->cold)
        goto fail;
    if (!(j->jc = malloc(JC_SIZE * sizeof(JcEntry))))
        goto fail;
    j->hot_after = HOT_AFTER;
    if (getenv("XENO_EMU_JIT_HOT"))
        jit_set_hot_after(j, (unsigned)atoi(getenv("XENO_EMU_JIT_HOT")));
    j->has_fma = __builtin_cpu_supports("fma") && __builtin_cpu_supports("avx");
    j->has_bmi2 = __builtin_cpu_supports("bmi2");
    if (getenv("XENO_EMU_JIT_DUMP"))
        j->dump_pc = strtoull(getenv("XENO_EMU_JIT_DUMP"), NULL, 16);
    j->code_start = (jit_emit_thunks(j, SHARED_SIZE) + 63) & ~(size_t)63;
    if (getenv("XENO_EMU_JIT_PERFMAP") && !strcmp(getenv("XENO_EMU_JIT_PERFMAP"), "1")) {
        char path[64];
        snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
        j->perfmap = fopen(path, "a");
        if (j->perfmap)
            fprintf(j->perfmap, "%lx %zx jit_thunks\n", (unsigned long)(uintptr_t)j->cm.x,
                    j->code_start);
    }
    drop_code(j);
    return j;
fail:
    jit_destroy(j);
    return NULL;
}

void jit_destroy(Jit *j)
{
    if (!j)
        return;
    codemem_fini(&j->cm);
    if (j->perfmap)
        fclose(j->perfmap);
    if (j->ctx)
        free(j->ctx->cold);
    free(j->ctx);
    if (j->blocks)
        munmap(j->blocks, j->max_blocks * sizeof(JitBlock));
    if (j->arena)
        munmap(j->arena, j->arena_size);
    free(j->jc);
    free(j);
}

void jit_get_stats(const Jit *j, JitStats *s)
{
    *s = j->stats;
}

bool jit_enabled(void)
{
    const char *v = getenv("XENO_EMU_JIT");
    return !(v && !strcmp(v, "0"));
}

#else /* !__x86_64__ */

struct Jit { int unused; };
Jit *jit_create(void) { return NULL; }
void jit_destroy(Jit *j) { (void)j; }
void jit_flush(Jit *j) { (void)j; }
void jit_tier_from_now(Jit *j) { (void)j; }
void jit_fence_i(Jit *j) { (void)j; }
uint64_t jit_run_chunk(struct Hart *h, uint64_t budget) { return hart_run_chunk(h, budget); }
bool jit_enabled(void) { return false; }
void jit_get_stats(const Jit *j, JitStats *s) { memset(s, 0, sizeof(*s)); }

#endif
