/* Address translation (Sv39/Sv48), the software TLB, and the slow paths of
 * loads, stores and fetches (page walks, MMIO, page-crossing accesses). */
#include <string.h>
#include <unistd.h>

#include "hart.h"

enum { ACC_R = 0, ACC_W = 1, ACC_X = 2 };

#define PTE_V (1ull << 0)
#define PTE_R (1ull << 1)
#define PTE_W (1ull << 2)
#define PTE_X (1ull << 3)
#define PTE_U (1ull << 4)
#define PTE_A (1ull << 6)
#define PTE_D (1ull << 7)
#define PTE_PPN_MASK ((1ull << 44) - 1)
#define PTE_RESERVED (0x3ffull << 54)   /* no Svpbmt/Svnapot */

static void tlbset_flush(TlbSet *s)
{
    memset(s, 0xff, sizeof(*s));       /* tag ~0 never matches */
}

void tlb_flush(Hart *h)
{
    h->stat.tlb_flushes++;
    /* Only the sets used since their last flush: clearing all of them on
     * every context switch costs more than the refills. */
    for (int i = 0; i < TLB_CTX; i++)
        if (h->tlb_used & (1u << i))
            tlbset_flush(&h->tlb[i]);
    h->tlb_used = 0;
    h->super_lo = ~0ull;
    h->super_hi = 0;
}

void tlb_flush_page(Hart *h, uint64_t va)
{
    uint64_t page = va & ~0xfffull;
    unsigned idx = (unsigned)(va >> 12) & (TLB_SIZE - 1);

    if (page >= h->super_lo && page < h->super_hi) {
        /* Entries of this superpage may sit at any index. */
        tlb_flush(h);
        return;
    }
    h->stat.tlb_page_flushes++;
    for (int i = 0; i < TLB_CTX; i++) {
        TlbSet *s = &h->tlb[i];
        if (s->r[idx].tag == page)
            s->r[idx].tag = ~0ull;
        if (s->w[idx].tag == page)
            s->w[idx].tag = ~0ull;
        if (s->x[idx].tag == page)
            s->x[idx].tag = ~0ull;
    }
}

static int ctx_of(int priv, bool sum)
{
    if (priv == PRV_M)
        return 0;
    if (priv == PRV_S)
        return sum ? 2 : 1;
    return 3;
}

static int data_priv(const Hart *h)
{
    if (h->priv == PRV_M && (h->mstatus & MSTATUS_MPRV))
        return (int)((h->mstatus & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT);
    return h->priv;
}

void mmu_update_ctx(Hart *h)
{
    h->itlb = &h->tlb[ctx_of(h->priv, false)];
    h->dtlb = &h->tlb[ctx_of(data_priv(h), (h->mstatus & MSTATUS_SUM) != 0)];
}

static uint64_t fault_cause(int acc, bool page)
{
    if (acc == ACC_X)
        return page ? CAUSE_FETCH_PAGE : CAUSE_FETCH_ACCESS;
    if (acc == ACC_W)
        return page ? CAUSE_STORE_PAGE : CAUSE_STORE_ACCESS;
    return page ? CAUSE_LOAD_PAGE : CAUSE_LOAD_ACCESS;
}

static inline uint8_t *ram_ptr(Emu *e, uint64_t pa, uint64_t len)
{
    if (pa >= e->ram_base && pa < e->ram_end && len <= e->ram_end - pa)
        return e->ram + (pa - e->ram_base);
    return NULL;
}

/* Translate va for an access at privilege `priv`. Returns 0 with *pa, or -1
 * with the exception recorded in the hart. */
static int translate(Hart *h, uint64_t va, int acc, int priv, uint64_t *pa)
{
    int levels, i;
    uint64_t a, pte = 0;
    uint64_t *ptep;

    if (priv == PRV_M || h->satp_mode == 0) {
        *pa = va;
        return 0;
    }
    h->stat.walks++;
    levels = h->satp_mode == 8 ? 3 : 4;
    {
        unsigned vbits = 12 + 9 * (unsigned)levels;
        int64_t s = (int64_t)(va << (64 - vbits)) >> (64 - vbits);
        if ((uint64_t)s != va)
            goto page_fault;
    }
    a = h->satp_ppn << 12;
    for (i = levels - 1; i >= 0; i--) {
        uint64_t vpn = (va >> (12 + 9 * i)) & 0x1ff;
        ptep = (uint64_t *)ram_ptr(h->emu, a + vpn * 8, 8);
        if (!ptep) {
            h->exc_cause = fault_cause(acc, false);
            h->exc_tval = va;
            return -1;
        }
        pte = __atomic_load_n(ptep, __ATOMIC_ACQUIRE);
        if (!(pte & PTE_V) || (!(pte & PTE_R) && (pte & PTE_W)) || (pte & PTE_RESERVED))
            goto page_fault;
        if (pte & (PTE_R | PTE_X)) {
            uint64_t ppn = (pte >> 10) & PTE_PPN_MASK;
            bool sum = (h->mstatus & MSTATUS_SUM) != 0;
            bool mxr = (h->mstatus & MSTATUS_MXR) != 0;

            if (priv == PRV_U && !(pte & PTE_U))
                goto page_fault;
            if (priv == PRV_S && (pte & PTE_U) && (acc == ACC_X || !sum))
                goto page_fault;
            if (acc == ACC_R && !((pte & PTE_R) || (mxr && (pte & PTE_X))))
                goto page_fault;
            if (acc == ACC_W && !(pte & PTE_W))
                goto page_fault;
            if (acc == ACC_X && !(pte & PTE_X))
                goto page_fault;
            if (i > 0 && (ppn & ((1ull << (9 * i)) - 1)))
                goto page_fault;         /* misaligned superpage */
            /* Hardware A/D update, atomic against other harts' updates. */
            {
                uint64_t need = PTE_A | (acc == ACC_W ? PTE_D : 0);
                while ((pte & need) != need) {
                    uint64_t npte = pte | need;
                    if (__atomic_compare_exchange_n(ptep, &pte, npte, false,
                                                    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
                        /* A write to guest memory like any other: a
                         * migration must carry the new A/D bits. */
                        gmem_mark_dirty(h->emu->mem, a + vpn * 8, 8);
                        pte = npte;
                        break;
                    }
                    if (!(pte & PTE_V))
                        goto page_fault;
                }
            }
            {
                uint64_t off_mask = (1ull << (12 + 9 * i)) - 1;
                *pa = ((ppn << 12) & ~off_mask) | (va & off_mask);
                if (i > 0) {
                    if ((va & ~off_mask) < h->super_lo)
                        h->super_lo = va & ~off_mask;
                    if ((va | off_mask) + 1 > h->super_hi)
                        h->super_hi = (va | off_mask) + 1;
                }
            }
            return 0;
        }
        a = ((pte >> 10) & PTE_PPN_MASK) << 12;
    }
page_fault:
    h->exc_cause = fault_cause(acc, true);
    h->exc_tval = va;
    return -1;
}

static void tlb_fill(Hart *h, TlbEntry *tab, uint64_t va, uint64_t pa)
{
    uint8_t *host = ram_ptr(h->emu, pa & ~0xfffull, 0x1000);
    TlbEntry *e;

    if (!host)
        return;
    e = &tab[(va >> 12) & (TLB_SIZE - 1)];
    h->tlb_used |= 1u << (((uintptr_t)tab - (uintptr_t)h->tlb) / sizeof(TlbSet));
    e->tag = va & ~0xfffull;
    e->addend = (uintptr_t)host - (uintptr_t)(va & ~0xfffull);
}

int mmu_load_slow(Hart *h, uint64_t va, unsigned size, uint64_t *val)
{
    uint64_t pa;
    uint8_t *host;

    if ((va & 0xfff) + size > 0x1000) {
        /* Misaligned access across a page: byte by byte. */
        uint64_t v = 0, b;
        for (unsigned i = 0; i < size; i++) {
            if (mem_load(h, va + i, 1, &b))
                return -1;
            v |= b << (8 * i);
        }
        *val = v;
        return 0;
    }
    if (translate(h, va, ACC_R, data_priv(h), &pa))
        return -1;
    host = ram_ptr(h->emu, pa, size);
    if (host) {
        tlb_fill(h, h->dtlb->r, va, pa);
        switch (size) {
        case 1: *val = *host; break;
        case 2: { uint16_t v; memcpy(&v, host, 2); *val = v; break; }
        case 4: { uint32_t v; memcpy(&v, host, 4); *val = v; break; }
        default: memcpy(val, host, 8); break;
        }
        return 0;
    }
    if ((pa & (size - 1)) == 0 && bus_read(h->emu->bus, pa, size, val))
        return 0;
    h->exc_cause = CAUSE_LOAD_ACCESS;
    h->exc_tval = va;
    return -1;
}

int mmu_store_slow(Hart *h, uint64_t va, unsigned size, uint64_t val)
{
    uint64_t pa;
    uint8_t *host;
    Emu *e = h->emu;

    if ((va & 0xfff) + size > 0x1000) {
        /* Check both pages first so a fault leaves memory untouched. */
        uint64_t pa2;
        if (translate(h, va, ACC_W, data_priv(h), &pa) ||
            translate(h, (va + size - 1) & ~0xfffull, ACC_W, data_priv(h), &pa2))
            return -1;
        for (unsigned i = 0; i < size; i++)
            if (mem_store(h, va + i, 1, val >> (8 * i)))
                return -1;
        return 0;
    }
    if (translate(h, va, ACC_W, data_priv(h), &pa))
        return -1;
    host = ram_ptr(e, pa, size);
    if (host) {
        bool watched = (pa & ~0xfffull) == e->watch_page;
        if (!watched)
            tlb_fill(h, h->dtlb->w, va, pa);
        gmem_mark_dirty(e->mem, pa, size);
        switch (size) {
        case 1: *host = (uint8_t)val; break;
        case 2: { uint16_t v = (uint16_t)val; memcpy(host, &v, 2); break; }
        case 4: { uint32_t v = (uint32_t)val; memcpy(host, &v, 4); break; }
        default: memcpy(host, &val, 8); break;
        }
        if (watched)
            e->watch_fn(e->watch_opaque, pa, val);
        return 0;
    }
    if ((pa & (size - 1)) == 0 && bus_write(e->bus, pa, size, val))
        return 0;
    h->exc_cause = CAUSE_STORE_ACCESS;
    h->exc_tval = va;
    return -1;
}

static int fetch16(Hart *h, uint64_t va, uint16_t *out)
{
    TlbEntry *e = &h->itlb->x[(va >> 12) & (TLB_SIZE - 1)];
    uint64_t pa;
    uint8_t *host;

    if (e->tag == (va & ~0xfffull)) {
        memcpy(out, (void *)(uintptr_t)(va + e->addend), 2);
        return 0;
    }
    if (translate(h, va, ACC_X, h->priv, &pa))
        return -1;
    host = ram_ptr(h->emu, pa, 2);
    if (!host) {
        h->exc_cause = CAUSE_FETCH_ACCESS;
        h->exc_tval = va;
        return -1;
    }
    tlb_fill(h, h->itlb->x, va, pa);
    memcpy(out, host, 2);
    return 0;
}

int mmu_fetch_slow(Hart *h, uint64_t va, uint32_t *insn)
{
    uint16_t lo, hi;

    if (fetch16(h, va, &lo))
        return -1;
    if ((lo & 3) != 3) {
        *insn = lo;
        return 0;
    }
    if (fetch16(h, va + 2, &hi))
        return -1;
    *insn = lo | ((uint32_t)hi << 16);
    return 0;
}

void *mmu_atomic_ptr(Hart *h, uint64_t va, unsigned size, bool is_load_only)
{
    uint64_t pa;
    uint8_t *host;
    int acc = is_load_only ? ACC_R : ACC_W;

    if (va & (size - 1)) {
        h->exc_cause = is_load_only ? CAUSE_MISALIGNED_LOAD : CAUSE_MISALIGNED_STORE;
        h->exc_tval = va;
        return NULL;
    }
    if (translate(h, va, acc, data_priv(h), &pa))
        return NULL;
    host = ram_ptr(h->emu, pa, size);
    if (!host) {
        h->exc_cause = is_load_only ? CAUSE_LOAD_ACCESS : CAUSE_STORE_ACCESS;
        h->exc_tval = va;
        return NULL;
    }
    if (!is_load_only)
        gmem_mark_dirty(h->emu->mem, pa, size);
    return host;
}

void mmu_atomic_fill(Hart *h, uint64_t va, bool write)
{
    uint64_t pa;
    Emu *e = h->emu;
    uint8_t *host;

    if (translate(h, va, write ? ACC_W : ACC_R, data_priv(h), &pa))
        return;
    host = ram_ptr(e, pa, 8);
    if (!host)
        return;
    if (write) {
        if ((pa & ~0xfffull) == e->watch_page)
            return;
        /* A write entry is only ever made by a store that marks the page
         * (dirty logging); this is one. */
        gmem_mark_dirty(e->mem, pa, 1);
        tlb_fill(h, h->dtlb->w, va, pa);
    } else {
        tlb_fill(h, h->dtlb->r, va, pa);
    }
}
