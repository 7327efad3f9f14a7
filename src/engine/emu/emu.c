/* The emu engine: harts on host threads, run loop, WFI parking, pause and
 * resume, and the harts' side of the CLINT and PLIC (RiscvCpuIf). */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/util.h"
#include "hart.h"
#include "jit.h"

#define CHUNK 20000     /* instructions between interrupt/timer checks */

/* mtime follows the host clock from time_base_ns; pausing moves the base
 * forward by the paused interval so the guest's clock stops while paused. */
uint64_t emu_mtime(const Emu *e)
{
    return (clock_ns() - __atomic_load_n(&e->time_base_ns, __ATOMIC_ACQUIRE)) /
           (1000000000ull / EMU_TIMEBASE_HZ);
}

void hart_kick(Hart *h)
{
    h->exit_chunk = 1;
    /* Generated code only looks at jit_end (jit.c: set before exit_chunk is read) */
    __atomic_store_n(&h->jit_end, 0, __ATOMIC_SEQ_CST);
    pthread_mutex_lock(&h->lock);
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->lock);
}

void hart_set_mip(Hart *h, uint64_t mask, int level)
{
    if (level) {
        uint64_t old = __atomic_fetch_or(&h->mip, mask, __ATOMIC_SEQ_CST);
        if ((old & mask) != mask)
            hart_kick(h);
    } else {
        __atomic_fetch_and(&h->mip, ~mask, __ATOMIC_SEQ_CST);
    }
}

void hart_guest_crash(Hart *h, uint64_t cause, uint64_t tval)
{
    log_err("guest crashed: hart %u trapped to M-mode with no handler "
            "(cause %#llx, tval %#llx, pc %#llx)", h->id,
            (unsigned long long)cause, (unsigned long long)tval,
            (unsigned long long)h->pc);
    __atomic_store_n(&h->run_state, HART_STOPPED, __ATOMIC_RELEASE);
    h->exit_chunk = 1;
    emu_request_exit(h->emu, VM_EXIT_CRASH, 0);
}

static void do_flush(Hart *h, unsigned kinds)
{
    if (kinds & FLUSH_TLB)
        tlb_flush(h);
    if (kinds & FLUSH_CODE)
        jit_fence_i(h->jit);
}

/* On the hart's own thread: what other harts asked for. The request count
 * is read before the kinds are taken, so a request whose kinds land after
 * that is served (and acknowledged) next time. */
static void serve_flush(Hart *h)
{
    uint64_t req = __atomic_load_n(&h->flush_req, __ATOMIC_ACQUIRE);

    if (req != h->flush_ack) {
        do_flush(h, __atomic_exchange_n(&h->flush_kinds, 0, __ATOMIC_ACQ_REL));
        __atomic_store_n(&h->flush_ack, req, __ATOMIC_RELEASE);
    }
}

void hart_flush_wait(Hart *self, Hart *t, unsigned kinds)
{
    Emu *e = t->emu;
    uint64_t req;

    if (t == self || !e->started) {
        /* Our own, or no thread runs it yet. */
        do_flush(t, kinds);
        return;
    }
    __atomic_fetch_or(&t->flush_kinds, kinds, __ATOMIC_SEQ_CST);
    req = __atomic_add_fetch(&t->flush_req, 1, __ATOMIC_SEQ_CST);
    t->exit_chunk = 1;
    hart_kick(t);
    while (__atomic_load_n(&t->flush_ack, __ATOMIC_ACQUIRE) < req &&
           !__atomic_load_n(&t->wfi, __ATOMIC_SEQ_CST) &&
           !__atomic_load_n(&t->paused, __ATOMIC_SEQ_CST) &&
           __atomic_load_n(&t->run_state, __ATOMIC_SEQ_CST) == HART_RUNNING &&
           e->started && !e->stopping) {
        /* Serve requests aimed at us meanwhile, or two harts flushing each
         * other would wait forever. */
        if (self)
            serve_flush(self);
        sched_yield();
    }
}

/* ---- RiscvCpuIf for the CLINT and PLIC ---- */

static void cpu_set_mip(void *opaque, unsigned hart, uint64_t bit, int level)
{
    Emu *e = opaque;
    if (hart < e->nharts)
        hart_set_mip(e->harts[hart], bit, level);
}

static uint64_t cpu_get_mtime(void *opaque)
{
    return emu_mtime(opaque);
}

static uint64_t cpu_get_mtimecmp(void *opaque, unsigned hart)
{
    Emu *e = opaque;
    return __atomic_load_n(&e->harts[hart]->mtimecmp, __ATOMIC_RELAXED);
}

static void cpu_set_mtimecmp(void *opaque, unsigned hart, uint64_t val)
{
    Emu *e = opaque;
    Hart *h = e->harts[hart];

    __atomic_store_n(&h->mtimecmp, val, __ATOMIC_RELAXED);
    if (emu_mtime(e) < val)
        hart_set_mip(h, MIP_MTIP, 0);
    else
        hart_set_mip(h, MIP_MTIP, 1);
    hart_kick(h);       /* a sleeping hart must recompute its deadline */
}

/* ---- the hart thread ---- */


static void timespec_from_ns(struct timespec *ts, uint64_t ns)
{
    ts->tv_sec = (time_t)(ns / 1000000000ull);
    ts->tv_nsec = (long)(ns % 1000000000ull);
}

/* Park until an interrupt is pending, the next timer deadline, a start
 * request, a pause/stop request, or a kick. Called with nothing held. */
static void hart_sleep(Hart *h)
{
    Emu *e = h->emu;
    const uint64_t tick = 1000000000ull / EMU_TIMEBASE_HZ;

    pthread_mutex_lock(&h->lock);
    h->exit_chunk = 0;
    while (!e->stopping && !e->pausing && !h->exit_chunk) {
        uint64_t deadline = ~0ull;

        if (h->run_state == HART_START_PENDING)
            break;
        if (__atomic_load_n(&h->flush_req, __ATOMIC_ACQUIRE) != h->flush_ack)
            break;
        if (h->run_state == HART_RUNNING) {
            uint64_t cmp = __atomic_load_n(&h->mtimecmp, __ATOMIC_RELAXED);
            if (hart_pending_irqs(h))
                break;
            /* Deadlines are re-read on every wake-up: a timer reprogrammed
             * by another thread kicks us, and we recompute. */
            if ((h->mie & MIP_MTIP) && cmp < deadline)
                deadline = cmp;
            if (h->stimer_armed && h->stimecmp < deadline)
                deadline = h->stimecmp;
        }
        if (deadline != ~0ull) {
            struct timespec ts;
            if (emu_mtime(e) >= deadline)
                break;
            timespec_from_ns(&ts, e->time_base_ns +
                             (deadline > (~0ull / 2) / tick ? ~0ull / 2 : deadline * tick));
            if (pthread_cond_timedwait(&h->cond, &h->lock, &ts) == ETIMEDOUT)
                break;
        } else {
            pthread_cond_wait(&h->cond, &h->lock);
        }
    }
    pthread_mutex_unlock(&h->lock);
}

/* Throttling (a migration that does not converge): in every period of
 * THROTTLE_PERIOD_NS a hart runs (100-pct) % of it and sits out the rest,
 * as if the host were busy: the guest clock keeps going, unlike a pause.
 * A fixed period keeps the guest's own latency under it at any pct
 * (stretching the sit-out instead, 99 % would freeze the guest for a
 * second at a time, and its clients would see that as downtime). A pause,
 * a stop or a remote fence (the dirty log's re-arm waits for every hart)
 * ends the wait early; the rest of it is sat out after. */
#define THROTTLE_PERIOD_NS 10000000ull

static void hart_throttle_wait(Hart *h)
{
    Emu *e = h->emu;
    struct timespec ts;

    timespec_from_ns(&ts, h->throttle_until);
    pthread_mutex_lock(&h->lock);
    while (!e->stopping && !e->pausing && clock_ns() < h->throttle_until &&
           __atomic_load_n(&h->flush_req, __ATOMIC_ACQUIRE) == h->flush_ack &&
           __atomic_load_n(&e->throttle_pct, __ATOMIC_RELAXED))
        if (pthread_cond_timedwait(&h->cond, &h->lock, &ts) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&h->lock);
    if (!__atomic_load_n(&e->throttle_pct, __ATOMIC_RELAXED) || clock_ns() >= h->throttle_until)
        h->throttle_until = 0;
}

/* After a chunk: has this hart used up its share of the period? It then
 * sits out pct/(100-pct) of the time it ran (a chunk may overrun). */
static void hart_throttle_check(Hart *h, unsigned pct)
{
    uint64_t now = clock_ns(), ran;

    if (pct > 99)
        pct = 99;
    if (!h->throttle_since || now - h->throttle_since > 4 * THROTTLE_PERIOD_NS) {
        h->throttle_since = now;        /* (re)starting: a fresh period */
        return;
    }
    ran = now - h->throttle_since;
    if (ran < THROTTLE_PERIOD_NS * (100 - pct) / 100)
        return;
    h->throttle_until = now + MIN(ran * pct / (100 - pct), 4 * THROTTLE_PERIOD_NS);
    h->throttle_since = h->throttle_until;
}

/* A parked hart runs nothing until it is back at the top of its loop,
 * where it serves the flushes asked for meanwhile: hart_flush_wait need
 * not wait for it. (It must not: a hart asking for a remote fence cannot
 * park itself, so a pause would wait for it forever.) */
static void pause_park(Hart *h)
{
    Emu *e = h->emu;

    pthread_mutex_lock(&e->pause_lock);
    __atomic_store_n(&h->paused, true, __ATOMIC_SEQ_CST);
    e->paused_count++;
    pthread_cond_broadcast(&e->pause_cond);
    while (e->pausing && !e->stopping)
        pthread_cond_wait(&e->pause_cond, &e->pause_lock);
    e->paused_count--;
    __atomic_store_n(&h->paused, false, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&e->pause_lock);
}

static void hart_begin(Hart *h)
{
    /* HSM start: S-mode at start_addr with a0 = hartid, a1 = opaque. */
    uint64_t keep_deleg = h->medeleg, keep_ideleg = h->mideleg, keep_cen = h->mcounteren;

    hart_reset(h, h->start_addr);
    h->medeleg = keep_deleg;
    h->mideleg = keep_ideleg;
    h->mcounteren = keep_cen;
    h->x[10] = h->id;
    h->x[11] = h->start_arg;
    hart_set_priv(h, h->start_priv);
    __atomic_store_n(&h->run_state, HART_RUNNING, __ATOMIC_RELEASE);
}

static void *hart_thread(void *arg)
{
    Hart *h = arg;
    Emu *e = h->emu;
    sigset_t all;

    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);

    while (!e->stopping) {
        if (e->pausing) {
            pause_park(h);
            continue;
        }
        serve_flush(h);
        if (h->throttle_until) {
            hart_throttle_wait(h);
            continue;
        }
        switch (__atomic_load_n(&h->run_state, __ATOMIC_ACQUIRE)) {
        case HART_STOPPED:
            hart_sleep(h);
            continue;
        case HART_START_PENDING:
            hart_begin(h);
            break;
        case HART_RUNNING:
            break;
        }
        hart_update_timer_irqs(h);
        hart_check_interrupts(h);
        if (h->wfi) {
            if (hart_pending_irqs(h)) {
                h->wfi = false;
                continue;
            }
            hart_sleep(h);
            continue;
        }
        /* A hart in WFI (or not yet running) is not waited for by
         * hart_flush_wait, which trusts it to serve the flush before it
         * runs again; but serve_flush above may have run before a request
         * that came while wfi was still set. Leaving WFI (or HSM start)
         * happened above, so look again, behind a full fence that pairs
         * with the requester's: either it saw us running and waits, or
         * we see its request here. (Missing this let a store go through
         * a write TLB entry filled before a dirty-log re-arm, unlogged.) */
        h->exit_chunk = 0;
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        serve_flush(h);
        if (h->jit)
            jit_run_chunk(h, CHUNK);
        else
            hart_run_chunk(h, CHUNK);
        {
            unsigned pct = __atomic_load_n(&e->throttle_pct, __ATOMIC_RELAXED);
            if (pct)
                hart_throttle_check(h, pct);
        }
    }
    return NULL;
}

/* ---- engine ops ---- */

static Hart *hart_new(Emu *e, unsigned id)
{
    pthread_condattr_t ca;
    Hart *h;

    /* Harts are big (TLBs); page-aligned allocation keeps them apart. */
    if (posix_memalign((void **)&h, 4096, sizeof(Hart)))
        return NULL;
    memset(h, 0, sizeof(*h));
    h->emu = e;
    h->id = id;
    h->mhartid = id;
    pthread_mutex_init(&h->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cond, &ca);
    pthread_condattr_destroy(&ca);
    hart_reset(h, 0);
    hart_dcache_init(h);
    if (jit_enabled())
        h->jit = jit_create();
    return h;
}

static void emu_destroy(Engine *e);

static Engine *emu_create(const EngineHost *host, char *err, size_t errlen)
{
    Emu *e = calloc(1, sizeof(*e));
    unsigned n = host->nvcpus ? host->nvcpus : 1;

    if (!e || !(e->harts = calloc(n, sizeof(Hart *))))
        goto nomem;
    if (!host->mem->nr) {
        snprintf(err, errlen, "the emu engine needs guest RAM");
        free(e->harts);
        free(e);
        return NULL;
    }
    e->host = *host;
    e->mem = host->mem;
    e->bus = host->mmio;
    e->nharts = n;
    e->ram_base = host->mem->r[0].gpa;
    e->ram_end = host->mem->r[0].gpa + host->mem->r[0].size;
    e->ram = host->mem->r[0].host;
    e->watch_page = ~0ull;
    e->time_base_ns = clock_ns();
    pthread_mutex_init(&e->pause_lock, NULL);
    pthread_cond_init(&e->pause_cond, NULL);
    for (unsigned i = 0; i < n; i++)
        if (!(e->harts[i] = hart_new(e, i)))
            goto nomem;
    if (host->state && emu_state_register(e)) {
        snprintf(err, errlen, "cannot register the harts' state");
        emu_destroy(e);
        return NULL;
    }
    return e;
nomem:
    snprintf(err, errlen, "out of memory creating %u harts", n);
    emu_destroy(e);
    return NULL;
}

void emu_set_boot(Engine *e, const EmuBoot *boot)
{
    e->boot = *boot;
    e->sbi = boot->mode == EMU_BOOT_SBI;
}

RiscvCpuIf emu_cpu_if(Engine *e)
{
    return (RiscvCpuIf){
        .opaque = e, .nharts = e->nharts,
        .set_mip = cpu_set_mip, .get_mtime = cpu_get_mtime,
        .get_mtimecmp = cpu_get_mtimecmp, .set_mtimecmp = cpu_set_mtimecmp,
    };
}

void emu_watch_stores(Engine *e, uint64_t pa, emu_store_watch_fn fn, void *opaque)
{
    e->watch_page = pa & ~0xfffull;
    e->watch_fn = fn;
    e->watch_opaque = opaque;
}

/* What M-mode firmware would have set up before entering the kernel in S. */
static void hart_boot_sbi(Emu *e, Hart *h)
{
    h->medeleg = 0xb1ff;         /* all but ecalls from S/M */
    h->mideleg = MIP_S_MASK;
    h->mcounteren = 7;
    h->start_priv = PRV_S;
    if (h->id == 0) {
        h->start_addr = e->boot.entry;
        h->start_arg = e->boot.fdt_addr;
        h->run_state = HART_START_PENDING;
    } else {
        h->run_state = HART_STOPPED;
    }
}

/* Harts at the boot state the board set. */
static void harts_boot(Engine *e)
{
    for (unsigned i = 0; i < e->nharts; i++) {
        Hart *h = e->harts[i];
        hart_reset(h, e->boot.entry);
        h->x[10] = i;
        h->x[11] = e->boot.fdt_addr;
        if (e->sbi) {
            hart_boot_sbi(e, h);
        } else {
            h->x[12] = e->boot.fw_dynamic_info;
            h->run_state = HART_RUNNING;
        }
    }
}

static int emu_start(Engine *e)
{
    if (e->restored) {
        /* The guest's clock goes on from the saved time. */
        __atomic_store_n(&e->time_base_ns, clock_ns() - e->restored_mtime *
                         (1000000000ull / EMU_TIMEBASE_HZ), __ATOMIC_RELEASE);
        if (e->paused_at_ns)
            e->paused_at_ns = clock_ns();
    } else {
        harts_boot(e);
    }
    e->started = true;
    for (unsigned i = 0; i < e->nharts; i++) {
        if (pthread_create(&e->harts[i]->thread, NULL, hart_thread, e->harts[i])) {
            log_err("cannot create a thread for hart %u", i);
            return -1;
        }
    }
    return 0;
}

static void emu_pause(Engine *e)
{
    pthread_mutex_lock(&e->pause_lock);
    e->pausing = 1;
    if (!e->started) {
        /* Paused before start: the harts will park at once. */
        e->paused_at_ns = clock_ns();
        pthread_mutex_unlock(&e->pause_lock);
        return;
    }
    pthread_mutex_unlock(&e->pause_lock);
    for (unsigned i = 0; i < e->nharts; i++)
        hart_kick(e->harts[i]);
    pthread_mutex_lock(&e->pause_lock);
    while (e->paused_count < e->nharts && !e->stopping)
        pthread_cond_wait(&e->pause_cond, &e->pause_lock);
    e->paused_at_ns = clock_ns();
    pthread_mutex_unlock(&e->pause_lock);
}

static void emu_resume(Engine *e)
{
    pthread_mutex_lock(&e->pause_lock);
    if (e->pausing && e->paused_at_ns)
        __atomic_add_fetch(&e->time_base_ns, clock_ns() - e->paused_at_ns, __ATOMIC_RELEASE);
    e->paused_at_ns = 0;
    e->pausing = 0;
    pthread_cond_broadcast(&e->pause_cond);
    pthread_mutex_unlock(&e->pause_lock);
}

/* XENO_EMU_STATS=1: what each hart did, on stderr when the engine stops. */
static void print_stats(const Hart *h)
{
    fprintf(stderr, "emu hart %u: instret %llu walks %llu tlb_flushes %llu tlb_page_flushes %llu "
            "fence.i %llu sfence.vma %llu satp %llu sbi_rfence_i %llu sbi_rfence_vma %llu\n", h->id,
            (unsigned long long)h->instret, (unsigned long long)h->stat.walks,
            (unsigned long long)h->stat.tlb_flushes,
            (unsigned long long)h->stat.tlb_page_flushes, (unsigned long long)h->stat.fence_i,
            (unsigned long long)h->stat.sfence, (unsigned long long)h->stat.satp,
            (unsigned long long)h->stat.rfence_i, (unsigned long long)h->stat.rfence_vma);
    if (h->jit) {
        JitStats s;
        jit_get_stats(h->jit, &s);
        fprintf(stderr, "emu hart %u jit: blocks %llu insns %llu interp %llu interp_runs %llu "
                "cold_runs %llu "
                "code_bytes %llu hot_bytes %llu dispatches %llu lookups_hit %llu chains %llu flushes %llu "
                "full_flushes %llu fence_i %llu pages_verified %llu pages_changed %llu\n", h->id,
                (unsigned long long)s.blocks, (unsigned long long)s.insns,
                (unsigned long long)s.interp, (unsigned long long)s.interp_runs,
                (unsigned long long)s.cold_runs,
                (unsigned long long)s.code_bytes, (unsigned long long)s.hot_bytes,
                (unsigned long long)s.dispatches,
                (unsigned long long)s.lookups_hit, (unsigned long long)s.chains,
                (unsigned long long)s.flushes, (unsigned long long)s.full_flushes,
                (unsigned long long)s.fence_i, (unsigned long long)s.pages_verified,
                (unsigned long long)s.pages_changed);
    }
}

static void emu_stop(Engine *e)
{
    if (!e)
        return;
    e->stopping = 1;
    pthread_mutex_lock(&e->pause_lock);
    pthread_cond_broadcast(&e->pause_cond);
    pthread_mutex_unlock(&e->pause_lock);
    for (unsigned i = 0; i < e->nharts; i++)
        hart_kick(e->harts[i]);
    for (unsigned i = 0; i < e->nharts; i++)
        if (e->harts[i]->thread)
            pthread_join(e->harts[i]->thread, NULL);
    if (getenv("XENO_EMU_STATS") && !strcmp(getenv("XENO_EMU_STATS"), "1"))
        for (unsigned i = 0; i < e->nharts; i++)
            print_stats(e->harts[i]);
}

static void emu_destroy(Engine *e)
{
    if (!e)
        return;
    for (unsigned i = 0; e->harts && i < e->nharts; i++) {
        if (!e->harts[i])
            continue;
        jit_destroy(e->harts[i]->jit);
        free(e->harts[i]);
    }
    free(e->harts);
    free(e);
}

static void emu_set_throttle(Engine *e, unsigned pct)
{
    __atomic_store_n(&e->throttle_pct, pct > 99 ? 99 : pct, __ATOMIC_RELAXED);
    if (!pct)
        for (unsigned i = 0; i < e->nharts; i++)
            hart_kick(e->harts[i]);     /* out of a wait at once */
}

static uint64_t emu_cpu_time_ns(Engine *e)
{
    uint64_t total = 0;

    for (unsigned i = 0; i < e->nharts; i++) {
        clockid_t cid;
        struct timespec ts;
        if (e->harts[i]->thread && !pthread_getcpuclockid(e->harts[i]->thread, &cid) &&
            !clock_gettime(cid, &ts))
            total += (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    }
    return total;
}

const EngineOps emu_engine_ops = {
    .name = "emu",
    .create = emu_create,
    .start = emu_start,
    .pause = emu_pause,
    .resume = emu_resume,
    .stop = emu_stop,
    .destroy = emu_destroy,
    .cpu_time_ns = emu_cpu_time_ns,
    .set_throttle = emu_set_throttle,
    .dirty_log_start = emu_dirty_log_start,
    .dirty_log_stop = emu_dirty_log_stop,
    .dirty_log_collect = emu_dirty_log_collect,
    .dirty_log_rearm = emu_dirty_log_rearm,
};
