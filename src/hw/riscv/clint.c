/* CLINT: per-hart msip and mtimecmp registers and the shared mtime. */
#include <stdlib.h>

#include "common/util.h"
#include "hw/devtree.h"
#include "riscv.h"

#define MIP_MSIP (1ull << RISCV_IRQ_M_SOFT)

/* Register layout (SiFive CLINT). */
#define CLINT_MSIP      0x0000      /* 4 bytes per hart */
#define CLINT_MTIMECMP  0x4000      /* 8 bytes per hart */
#define CLINT_MTIME     0xbff8
#define CLINT_END       0xc000

struct Clint {
    uint64_t base;
    RiscvCpuIf cpu;
    uint32_t *msip;
};

static uint64_t clint_read(void *opaque, uint64_t off, unsigned size)
{
    Clint *c = opaque;
    uint64_t v = 0;

    if (off < CLINT_MTIMECMP) {
        unsigned h = (unsigned)((off - CLINT_MSIP) / 4);
        if (h < c->cpu.nharts && (off & 3) == 0 && size == 4)
            v = c->msip[h];
    } else if (off < CLINT_MTIME) {
        unsigned h = (unsigned)((off - CLINT_MTIMECMP) / 8);
        if (h < c->cpu.nharts) {
            uint64_t cmp = c->cpu.get_mtimecmp(c->cpu.opaque, h);
            v = (off & 7) == 4 ? cmp >> 32 : (size == 8 ? cmp : (uint32_t)cmp);
        }
    } else if (off < CLINT_END) {
        uint64_t t = c->cpu.get_mtime(c->cpu.opaque);
        v = (off & 7) == 4 ? t >> 32 : (size == 8 ? t : (uint32_t)t);
    }
    return v;
}

static void clint_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
    Clint *c = opaque;

    if (off < CLINT_MTIMECMP) {
        unsigned h = (unsigned)((off - CLINT_MSIP) / 4);
        if (h < c->cpu.nharts && (off & 3) == 0) {
            c->msip[h] = val & 1;
            c->cpu.set_mip(c->cpu.opaque, h, MIP_MSIP, (int)(val & 1));
        }
    } else if (off < CLINT_MTIME) {
        unsigned h = (unsigned)((off - CLINT_MTIMECMP) / 8);
        if (h < c->cpu.nharts) {
            uint64_t cmp = c->cpu.get_mtimecmp(c->cpu.opaque, h);
            if (size == 8)
                cmp = val;
            else if ((off & 7) == 4)
                cmp = (cmp & 0xffffffffull) | (val << 32);
            else
                cmp = (cmp & ~0xffffffffull) | (val & 0xffffffffull);
            c->cpu.set_mtimecmp(c->cpu.opaque, h, cmp);
        }
    }
    /* mtime is read-only here: the timebase is the host clock. */
}

static const MmioOps clint_ops = { clint_read, clint_write };

/* The harts' software and timer interrupts come from here. */
static int clint_fdt(void *opaque, const FdtCtx *ctx)
{
    Clint *c = opaque;
    static const uint32_t causes[] = { RISCV_IRQ_M_SOFT, RISCV_IRQ_M_TIMER };

    DT_TRY(dt_begin_node_at(ctx->fdt, "clint", c->base));
    DT_TRY(DT_PROP_STRINGS(ctx->fdt, "compatible", "sifive,clint0\0riscv,clint0"));
    DT_TRY(dt_prop_reg(ctx->fdt, c->base, VIRT_CLINT_SIZE));
    DT_TRY(riscv_fdt_hart_irqs(ctx->fdt, c->cpu.nharts, causes, ARRAY_SIZE(causes)));
    return fdt_end_node(ctx->fdt);
}

static const DescOps clint_desc = { .fdt = clint_fdt };

Clint *clint_create(Bus *bus, uint64_t base, const RiscvCpuIf *cpu)
{
    Clint *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    c->base = base;
    c->cpu = *cpu;
    c->msip = calloc(cpu->nharts, sizeof(uint32_t));
    if (!c->msip ||
        bus_map_desc(bus, base, VIRT_CLINT_SIZE, &clint_ops, &clint_desc, c, "clint") < 0) {
        clint_free(c);
        return NULL;
    }
    return c;
}

void clint_free(Clint *c)
{
    if (c) {
        free(c->msip);
        free(c);
    }
}
