/* The emu engine's saved state: one HART section per hart (registers,
 * every CSR, run state; an LR reservation is dropped, as a trap would) and
 * one EMUC section for the engine (the guest clock, the SBI mode), plus
 * dirty-page logging for migration.
 *
 * Loading treats the section as untrusted: values the hart could never
 * hold (privilege 2, a reserved satp mode, mhartid of another hart...) are
 * refused. */
#include <stdio.h>

#include "common/util.h"
#include "hart.h"
#include "jit.h"

#define HART_STATE_VERSION 1
#define EMUC_STATE_VERSION 1

static int load_err(char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen, "%s", what);
    return -1;
}

/* ---- HART ---------------------------------------------------------------- */

/* The CSRs in one fixed order; the layout of HART version 1. */
#define HART_CSRS(X) \
    X(mstatus) X(misa) X(medeleg) X(mideleg) X(mie) X(mtvec) X(mscratch) X(mepc) \
    X(mcause) X(mtval) X(mcounteren) X(menvcfg) X(mcountinhibit) \
    X(stvec) X(sscratch) X(sepc) X(scause) X(stval) X(satp) X(scounteren) X(senvcfg) \
    X(mhartid) X(instret) X(mcycle_off) X(minstret_off) X(mtimecmp) X(stimecmp) \
    X(start_addr) X(start_arg)

static int hart_save(void *opaque, StateBuf *b, char *err, size_t errlen)
{
    Hart *h = opaque;

    for (int i = 0; i < 32; i++)
        sb_put_u64(b, h->x[i]);
    for (int i = 0; i < 32; i++)
        sb_put_u64(b, h->f[i]);
    sb_put_u64(b, h->pc);
    sb_put_u8(b, (uint8_t)h->priv);
    sb_put_u8(b, (uint8_t)h->fflags);
    sb_put_u8(b, (uint8_t)h->frm);
#define PUT(f) sb_put_u64(b, h->f);
    HART_CSRS(PUT)
#undef PUT
    for (int i = 0; i < 16; i++)
        sb_put_u64(b, h->pmpcfg[i]);
    for (int i = 0; i < 64; i++)
        sb_put_u64(b, h->pmpaddr[i]);
    sb_put_u64(b, __atomic_load_n(&h->mip, __ATOMIC_ACQUIRE));
    sb_put_bool(b, h->stimer_armed);
    sb_put_u8(b, (uint8_t)h->run_state);
    sb_put_bool(b, h->wfi);
    sb_put_u8(b, (uint8_t)h->start_priv);
    return 0;
}

static bool valid_priv(unsigned p) { return p == PRV_U || p == PRV_S || p == PRV_M; }

static int hart_load(void *opaque, StateBuf *b, uint32_t version, char *err, size_t errlen)
{
    Hart *h = opaque, n = { 0 };
    unsigned priv, run, start_priv, satp_mode;

    for (int i = 0; i < 32; i++)
        n.x[i] = sb_get_u64(b);
    for (int i = 0; i < 32; i++)
        n.f[i] = sb_get_u64(b);
    n.pc = sb_get_u64(b);
    priv = sb_get_u8(b);
    n.fflags = sb_get_u8(b);
    n.frm = sb_get_u8(b);
#define GET(f) n.f = sb_get_u64(b);
    HART_CSRS(GET)
#undef GET
    for (int i = 0; i < 16; i++)
        n.pmpcfg[i] = sb_get_u64(b);
    for (int i = 0; i < 64; i++)
        n.pmpaddr[i] = sb_get_u64(b);
    n.mip = sb_get_u64(b);
    n.stimer_armed = sb_get_bool(b);
    run = sb_get_u8(b);
    n.wfi = sb_get_bool(b);
    start_priv = sb_get_u8(b);
    if (b->error)
        return load_err(err, errlen, "too short or malformed");
    satp_mode = (unsigned)(n.satp >> 60);
    if (n.x[0] != 0)
        return load_err(err, errlen, "x0 is not zero");
    if (!valid_priv(priv) || !valid_priv(start_priv))
        return load_err(err, errlen, "impossible privilege level");
    if (n.fflags > 0x1f || n.frm > 7)
        return load_err(err, errlen, "impossible floating-point flags or rounding mode");
    if (n.misa != h->misa)
        return load_err(err, errlen, "saved on a hart with other extensions (misa)");
    if (n.mhartid != h->mhartid)
        return load_err(err, errlen, "hart id does not match");
    if (((n.mstatus & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT) == 2)
        return load_err(err, errlen, "reserved mstatus.MPP");
    if (satp_mode != 0 && satp_mode != 8 && satp_mode != 9)
        return load_err(err, errlen, "reserved satp mode");
    if (run > HART_START_PENDING)
        return load_err(err, errlen, "impossible run state");

    for (int i = 0; i < 32; i++) {
        h->x[i] = n.x[i];
        h->f[i] = n.f[i];
    }
    h->pc = n.pc;
    h->priv = (int)priv;
    h->fflags = n.fflags;
    h->frm = n.frm;
#define SET(f) h->f = n.f;
    HART_CSRS(SET)
#undef SET
    for (int i = 0; i < 16; i++)
        h->pmpcfg[i] = n.pmpcfg[i];
    for (int i = 0; i < 64; i++)
        h->pmpaddr[i] = n.pmpaddr[i];
    __atomic_store_n(&h->mip, n.mip, __ATOMIC_RELEASE);
    h->stimer_armed = n.stimer_armed;
    h->run_state = (enum hart_run_state)run;
    h->wfi = n.wfi;
    h->start_priv = (int)start_priv;
    h->satp_mode = (int)satp_mode;
    h->satp_ppn = n.satp & ((1ull << 44) - 1);
    h->lr_valid = false;            /* as on a trap: the reservation is gone */
    h->exit_chunk = 0;
    tlb_flush(h);
    mmu_update_ctx(h);
    jit_flush(h->jit);
    /* The guest runs on from a busy moment with nothing translated: all at
     * once on first start was a burst (a migrated idle guest's first 10 ms
     * timer loop took 8 ms longer, which its clients saw as downtime);
     * the interpreter runs a block's first starts instead. */
    jit_tier_from_now(h->jit);
    (void)version;
    return 0;
}

/* ---- EMUC: the engine ---------------------------------------------------- */

static int emuc_save(void *opaque, StateBuf *b, char *err, size_t errlen)
{
    Emu *e = opaque;
    /* Paused: emu_mtime is the frozen guest time only once the pause moved
     * the base; measure from the pause instant. */
    uint64_t now = e->paused_at_ns ? e->paused_at_ns : clock_ns();

    sb_put_u32(b, e->nharts);
    sb_put_u64(b, (now - e->time_base_ns) / (1000000000ull / EMU_TIMEBASE_HZ));
    sb_put_bool(b, e->sbi);
    return 0;
}

static int emuc_load(void *opaque, StateBuf *b, uint32_t version, char *err, size_t errlen)
{
    Emu *e = opaque;
    uint32_t nharts = sb_get_u32(b);
    uint64_t mtime = sb_get_u64(b);
    bool sbi = sb_get_bool(b);

    if (b->error)
        return load_err(err, errlen, "too short or malformed");
    if (nharts != e->nharts) {
        snprintf(err, errlen, "saved with %u harts, this machine has %u", nharts, e->nharts);
        return -1;
    }
    if (e->started)
        return load_err(err, errlen, "the harts are already running");
    e->sbi = sbi;
    e->restored_mtime = mtime;
    e->restored = true;
    (void)version;
    return 0;
}

int emu_state_register(Emu *e)
{
    VmState *vs = e->host.state;

    if (vmstate_register(vs, "EMUC", 0, EMUC_STATE_VERSION, emuc_save, emuc_load, e))
        return -1;
    for (unsigned i = 0; i < e->nharts; i++)
        if (vmstate_register(vs, "HART", i, HART_STATE_VERSION, hart_save, hart_load, e->harts[i]))
            return -1;
    return 0;
}

/* ---- dirty logging --------------------------------------------------------
 * A write marks its page when it fills a write TLB entry (mmu_store_slow)
 * and on every AMO; later writes through that entry are not seen. So after
 * the caller takes and clears the bitmaps, every hart drops its TLB before
 * the caller reads the pages: a write through an entry filled before the
 * snapshot lands before the read, and any later write refills and marks. */

int emu_dirty_log_start(Engine *e)
{
    __atomic_store_n(&e->mem->dirty_log, true, __ATOMIC_SEQ_CST);
    emu_dirty_log_rearm(e);
    return 0;
}

void emu_dirty_log_stop(Engine *e)
{
    __atomic_store_n(&e->mem->dirty_log, false, __ATOMIC_SEQ_CST);
}

int emu_dirty_log_collect(Engine *e)
{
    (void)e;        /* the harts mark the bitmaps themselves */
    return 0;
}

void emu_dirty_log_rearm(Engine *e)
{
    for (unsigned i = 0; i < e->nharts; i++)
        hart_flush_wait(NULL, e->harts[i], FLUSH_TLB);
}
