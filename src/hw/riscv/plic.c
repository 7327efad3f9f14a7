/* PLIC (SiFive/RISC-V platform-level interrupt controller), level-triggered.
 * Contexts follow QEMU's virt board: context 2*h is hart h's M-mode, 2*h+1
 * its S-mode. */
#include <stdlib.h>

#include "riscv.h"

#define MIP_MEIP (1ull << 11)
#define MIP_SEIP (1ull << 9)
#define NSRC 96                 /* sources 0..95; 0 does not exist */
#define NWORDS (NSRC / 32)

struct Plic {
    RiscvCpuIf cpu;
    unsigned nctx;
    uint32_t prio[NSRC];
    uint32_t level[NWORDS];     /* input line levels */
    uint32_t pending[NWORDS];
    uint32_t claimed[NWORDS];   /* claimed, not yet completed */
    uint32_t (*enable)[NWORDS]; /* per context */
    uint32_t *threshold;
    uint8_t *irq_out;           /* last level driven to each context */
};

/* Highest-priority pending enabled source above the context's threshold. */
static unsigned best(Plic *p, unsigned ctx)
{
    unsigned id = 0;
    uint32_t maxp = 0;

    for (unsigned w = 0; w < NWORDS; w++) {
        uint32_t bits = p->pending[w] & p->enable[ctx][w];
        while (bits) {
            unsigned b = (unsigned)__builtin_ctz(bits);
            unsigned src = w * 32 + b;
            bits &= bits - 1;
            if (p->prio[src] > maxp) {
                maxp = p->prio[src];
                id = src;
            }
        }
    }
    return maxp > p->threshold[ctx] ? id : 0;
}

static void update(Plic *p)
{
    for (unsigned ctx = 0; ctx < p->nctx; ctx++) {
        uint8_t lvl = best(p, ctx) != 0;
        if (lvl != p->irq_out[ctx]) {
            p->irq_out[ctx] = lvl;
            p->cpu.set_mip(p->cpu.opaque, ctx / 2, (ctx & 1) ? MIP_SEIP : MIP_MEIP, lvl);
        }
    }
}

static void plic_set_level(void *opaque, unsigned irq, int level)
{
    Plic *p = opaque;
    uint32_t bit = 1u << (irq % 32);
    unsigned w = irq / 32;

    if (irq == 0 || irq >= NSRC)
        return;
    if (level) {
        p->level[w] |= bit;
        if (!(p->claimed[w] & bit))
            p->pending[w] |= bit;
    } else {
        p->level[w] &= ~bit;
        p->pending[w] &= ~bit;
    }
    update(p);
}

IrqLine plic_irq_line(Plic *p, unsigned irq)
{
    IrqLine l = { plic_set_level, p, irq };
    return l;
}

static uint64_t plic_read(void *opaque, uint64_t off, unsigned size)
{
    Plic *p = opaque;

    if (size != 4)
        return 0;
    if (off < 0x1000) {
        unsigned src = (unsigned)(off / 4);
        return src < NSRC ? p->prio[src] : 0;
    }
    if (off >= 0x1000 && off < 0x1080) {
        unsigned w = (unsigned)((off - 0x1000) / 4);
        return w < NWORDS ? p->pending[w] : 0;
    }
    if (off >= 0x2000 && off < 0x200000) {
        unsigned ctx = (unsigned)((off - 0x2000) / 0x80), w = (unsigned)((off & 0x7f) / 4);
        return ctx < p->nctx && w < NWORDS ? p->enable[ctx][w] : 0;
    }
    if (off >= 0x200000) {
        unsigned ctx = (unsigned)((off - 0x200000) / 0x1000);
        unsigned reg = (unsigned)(off & 0xfff);
        if (ctx >= p->nctx)
            return 0;
        if (reg == 0)
            return p->threshold[ctx];
        if (reg == 4) {          /* claim */
            unsigned id = best(p, ctx);
            if (id) {
                p->pending[id / 32] &= ~(1u << (id % 32));
                p->claimed[id / 32] |= 1u << (id % 32);
                update(p);
            }
            return id;
        }
    }
    return 0;
}

static void plic_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
    Plic *p = opaque;

    if (size != 4)
        return;
    if (off < 0x1000) {
        unsigned src = (unsigned)(off / 4);
        if (src > 0 && src < NSRC)
            p->prio[src] = val & 7;
    } else if (off >= 0x2000 && off < 0x200000) {
        unsigned ctx = (unsigned)((off - 0x2000) / 0x80), w = (unsigned)((off & 0x7f) / 4);
        if (ctx < p->nctx && w < NWORDS)
            p->enable[ctx][w] = (uint32_t)val & (w == 0 ? ~1u : ~0u);
    } else if (off >= 0x200000) {
        unsigned ctx = (unsigned)((off - 0x200000) / 0x1000);
        unsigned reg = (unsigned)(off & 0xfff);
        if (ctx >= p->nctx)
            return;
        if (reg == 0) {
            p->threshold[ctx] = val & 7;
        } else if (reg == 4) {   /* complete */
            unsigned id = (unsigned)val;
            if (id > 0 && id < NSRC && (p->enable[ctx][id / 32] & (1u << (id % 32)))) {
                p->claimed[id / 32] &= ~(1u << (id % 32));
                if (p->level[id / 32] & (1u << (id % 32)))
                    p->pending[id / 32] |= 1u << (id % 32);
            }
        }
    }
    update(p);
}

static const MmioOps plic_ops = { plic_read, plic_write };

Plic *plic_create(Bus *bus, uint64_t base, const RiscvCpuIf *cpu)
{
    Plic *p = calloc(1, sizeof(*p));

    if (!p)
        return NULL;
    p->cpu = *cpu;
    p->nctx = cpu->nharts * 2;
    p->enable = calloc(p->nctx, sizeof(*p->enable));
    p->threshold = calloc(p->nctx, sizeof(uint32_t));
    p->irq_out = calloc(p->nctx, 1);
    if (!p->enable || !p->threshold || !p->irq_out ||
        bus_map(bus, base, VIRT_PLIC_SIZE, &plic_ops, p, "plic") < 0) {
        plic_free(p);
        return NULL;
    }
    return p;
}

void plic_free(Plic *p)
{
    if (p) {
        free(p->enable);
        free(p->threshold);
        free(p->irq_out);
        free(p);
    }
}
