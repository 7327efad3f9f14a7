/* CLINT: per-hart msip and mtimecmp registers and the shared mtime. */
#include <stdio.h>
#include <stdlib.h>

#include "common/util.h"
#include "hw/devstate.h"
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

/* ---- saved state (docs/state-format.md, CLNT) ---- */

static int clint_save(void *opaque, StateBuf *b, char *err, size_t errlen)
{
    Clint *c = opaque;

    sb_put_u32(b, c->cpu.nharts);
    for (unsigned h = 0; h < c->cpu.nharts; h++)
        sb_put_bool(b, c->msip[h] != 0);
    return 0;
}

static int clint_load(void *opaque, StateBuf *b, uint32_t version, char *err, size_t errlen)
{
    Clint *c = opaque;
    uint32_t n = sb_get_u32(b);
    bool *msip;

    if (devstate_version(version, CLINT_STATE_VERSION, err, errlen))
        return -1;
    if (!b->error && n != c->cpu.nharts) {
        snprintf(err, errlen, "saved with %u harts, this machine has %u", n, c->cpu.nharts);
        return -1;
    }
    msip = calloc(c->cpu.nharts + 1, sizeof(*msip));
    if (!msip) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (unsigned h = 0; h < c->cpu.nharts; h++)
        msip[h] = sb_get_bool(b);
    if (devstate_end(b, err, errlen)) {
        free(msip);
        return -1;
    }
    /* msip is mirrored in the hart's mip.MSIP: set both. */
    for (unsigned h = 0; h < c->cpu.nharts; h++) {
        c->msip[h] = msip[h];
        c->cpu.set_mip(c->cpu.opaque, h, MIP_MSIP, msip[h]);
    }
    free(msip);
    return 0;
}

int clint_state_register(Clint *c, VmState *vs)
{
    return vmstate_register(vs, "CLNT", 0, CLINT_STATE_VERSION, clint_save, clint_load, c);
}
