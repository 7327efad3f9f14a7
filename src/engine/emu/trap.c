/* Exceptions and interrupts: delegation, trap entry, priority. */
#include "hart.h"

void hart_set_priv(Hart *h, int priv)
{
    if (h->priv != priv)
        h->lr_valid = false;
    h->priv = priv;
    mmu_update_ctx(h);
}

/* Enter the trap handler for `cause` (bit 63 set for interrupts) taken at
 * h->pc. */
void hart_raise(Hart *h, uint64_t cause, uint64_t tval)
{
    bool irq = (cause & CAUSE_INTERRUPT) != 0;
    uint64_t code = cause & ~CAUSE_INTERRUPT;
    uint64_t deleg = irq ? h->mideleg : h->medeleg;

    /* The built-in SBI answers S-mode ecalls itself (no M-mode firmware). */
    if (!irq && code == CAUSE_ECALL_S && h->emu->sbi) {
        sbi_ecall(h);
        return;
    }
    h->lr_valid = false;
    if (h->priv <= PRV_S && code < 64 && ((deleg >> code) & 1)) {
        uint64_t s = h->mstatus;
        h->scause = cause;
        h->sepc = h->pc;
        h->stval = tval;
        s = (s & ~MSTATUS_SPIE) | ((s & MSTATUS_SIE) ? MSTATUS_SPIE : 0);
        s = (s & ~MSTATUS_SPP) | (h->priv == PRV_S ? MSTATUS_SPP : 0);
        s &= ~MSTATUS_SIE;
        h->mstatus = s;
        h->pc = (h->stvec & ~3ull) + ((irq && (h->stvec & 1)) ? 4 * code : 0);
        hart_set_priv(h, PRV_S);
    } else {
        uint64_t s = h->mstatus;
        if (h->emu->sbi && h->mtvec == 0) {
            /* Without M-mode firmware nothing can handle this trap: the
             * guest is dead. Report it rather than spin in a null vector. */
            hart_guest_crash(h, cause, tval);
            return;
        }
        h->mcause = cause;
        h->mepc = h->pc;
        h->mtval = tval;
        s = (s & ~MSTATUS_MPIE) | ((s & MSTATUS_MIE) ? MSTATUS_MPIE : 0);
        s = (s & ~MSTATUS_MPP) | ((uint64_t)h->priv << MSTATUS_MPP_SHIFT);
        s &= ~MSTATUS_MIE;
        h->mstatus = s;
        h->pc = (h->mtvec & ~3ull) + ((irq && (h->mtvec & 1)) ? 4 * code : 0);
        hart_set_priv(h, PRV_M);
    }
}

void hart_update_timer_irqs(Hart *h)
{
    uint64_t now = emu_mtime(h->emu);
    uint64_t mip = __atomic_load_n(&h->mip, __ATOMIC_RELAXED);
    bool mt = now >= __atomic_load_n(&h->mtimecmp, __ATOMIC_RELAXED);

    if (mt != !!(mip & MIP_MTIP))
        hart_set_mip(h, MIP_MTIP, mt);
    if (h->stimer_armed && now >= h->stimecmp && !(mip & MIP_STIP)) {
        h->stimer_armed = false;
        hart_set_mip(h, MIP_STIP, 1);
    }
}

uint64_t hart_pending_irqs(Hart *h)
{
    return __atomic_load_n(&h->mip, __ATOMIC_ACQUIRE) & h->mie;
}

/* Highest priority first: MEI, MSI, MTI, SEI, SSI, STI. */
static int pick(uint64_t bits)
{
    static const int order[] = { 11, 3, 7, 9, 1, 5 };
    for (unsigned i = 0; i < sizeof(order) / sizeof(order[0]); i++)
        if (bits & (1ull << order[i]))
            return order[i];
    return -1;
}

bool hart_check_interrupts(Hart *h)
{
    uint64_t pending = hart_pending_irqs(h);
    uint64_t m_en, s_en;
    int irq;

    if (!pending)
        return false;
    /* Interrupts for M: not delegated; enabled below M or with MIE. */
    m_en = pending & ~h->mideleg;
    if (h->priv == PRV_M && !(h->mstatus & MSTATUS_MIE))
        m_en = 0;
    /* Delegated to S: enabled below S, or in S with SIE; never in M. */
    s_en = pending & h->mideleg;
    if (h->priv == PRV_M || (h->priv == PRV_S && !(h->mstatus & MSTATUS_SIE)))
        s_en = 0;
    irq = pick(m_en);
    if (irq < 0)
        irq = pick(s_en);
    if (irq < 0)
        return false;
    h->wfi = false;
    hart_raise(h, CAUSE_INTERRUPT | (uint64_t)irq, 0);
    return true;
}
