/* PLIC (SiFive/RISC-V platform-level interrupt controller), level-triggered.
 * Contexts follow QEMU's virt board: context 2*h is hart h's M-mode, 2*h+1
 * its S-mode. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "hw/devstate.h"
#include "hw/devtree.h"
#include "riscv.h"

#define MIP_MEIP (1ull << RISCV_IRQ_M_EXT)
#define MIP_SEIP (1ull << RISCV_IRQ_S_EXT)
#define NSRC (VIRT_PLIC_NDEV + 1)   /* sources 0..NDEV; 0 does not exist */
#define NWORDS ((NSRC + 31) / 32)

/* Register layout. */
#define PLIC_PRIORITY        0x000000   /* 4 bytes per source */
#define PLIC_PENDING         0x001000   /* one bit per source */
#define PLIC_PENDING_END     0x001080
#define PLIC_ENABLE          0x002000   /* per context: one bit per source */
#define PLIC_ENABLE_STRIDE   0x80
#define PLIC_CONTEXT         0x200000   /* per context: threshold, claim/complete */
#define PLIC_CONTEXT_STRIDE  0x1000
#define PLIC_CTX_THRESHOLD   0
#define PLIC_CTX_CLAIM       4

struct Plic {
    uint64_t base;
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
    if (off < PLIC_PENDING) {
        unsigned src = (unsigned)((off - PLIC_PRIORITY) / 4);
        return src < NSRC ? p->prio[src] : 0;
    }
    if (off >= PLIC_PENDING && off < PLIC_PENDING_END) {
        unsigned w = (unsigned)((off - PLIC_PENDING) / 4);
        return w < NWORDS ? p->pending[w] : 0;
    }
    if (off >= PLIC_ENABLE && off < PLIC_CONTEXT) {
        unsigned ctx = (unsigned)((off - PLIC_ENABLE) / PLIC_ENABLE_STRIDE);
        unsigned w = (unsigned)((off % PLIC_ENABLE_STRIDE) / 4);
        return ctx < p->nctx && w < NWORDS ? p->enable[ctx][w] : 0;
    }
    if (off >= PLIC_CONTEXT) {
        unsigned ctx = (unsigned)((off - PLIC_CONTEXT) / PLIC_CONTEXT_STRIDE);
        unsigned reg = (unsigned)(off % PLIC_CONTEXT_STRIDE);
        if (ctx >= p->nctx)
            return 0;
        if (reg == PLIC_CTX_THRESHOLD)
            return p->threshold[ctx];
        if (reg == PLIC_CTX_CLAIM) {
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
    if (off < PLIC_PENDING) {
        unsigned src = (unsigned)((off - PLIC_PRIORITY) / 4);
        if (src > 0 && src < NSRC)
            p->prio[src] = val & 7;
    } else if (off >= PLIC_ENABLE && off < PLIC_CONTEXT) {
        unsigned ctx = (unsigned)((off - PLIC_ENABLE) / PLIC_ENABLE_STRIDE);
        unsigned w = (unsigned)((off % PLIC_ENABLE_STRIDE) / 4);
        if (ctx < p->nctx && w < NWORDS)
            p->enable[ctx][w] = (uint32_t)val & (w == 0 ? ~1u : ~0u);
    } else if (off >= PLIC_CONTEXT) {
        unsigned ctx = (unsigned)((off - PLIC_CONTEXT) / PLIC_CONTEXT_STRIDE);
        unsigned reg = (unsigned)(off % PLIC_CONTEXT_STRIDE);
        if (ctx >= p->nctx)
            return;
        if (reg == PLIC_CTX_THRESHOLD) {
            p->threshold[ctx] = val & 7;
        } else if (reg == PLIC_CTX_CLAIM) {   /* complete */
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

/* Each hart's M-mode and S-mode external interrupt, in context order. */
static int plic_fdt(void *opaque, const FdtCtx *ctx)
{
    Plic *p = opaque;
    static const uint32_t causes[] = { RISCV_IRQ_M_EXT, RISCV_IRQ_S_EXT };

    DT_TRY(dt_begin_node_at(ctx->fdt, "plic", p->base));
    DT_TRY(DT_PROP_STRINGS(ctx->fdt, "compatible", "sifive,plic-1.0.0\0riscv,plic0"));
    DT_TRY(dt_prop_reg(ctx->fdt, p->base, VIRT_PLIC_SIZE));
    DT_TRY(fdt_property_u32(ctx->fdt, "#interrupt-cells", 1));
    DT_TRY(fdt_property_u32(ctx->fdt, "#address-cells", 0));
    DT_TRY(fdt_property(ctx->fdt, "interrupt-controller", NULL, 0));
    DT_TRY(fdt_property_u32(ctx->fdt, "riscv,ndev", VIRT_PLIC_NDEV));
    DT_TRY(riscv_fdt_hart_irqs(ctx->fdt, p->cpu.nharts, causes, ARRAY_SIZE(causes)));
    DT_TRY(fdt_property_u32(ctx->fdt, "phandle", VIRT_PHANDLE_PLIC));
    return fdt_end_node(ctx->fdt);
}

static const DescOps plic_desc = { .fdt = plic_fdt };

Plic *plic_create(Bus *bus, uint64_t base, const RiscvCpuIf *cpu)
{
    Plic *p = calloc(1, sizeof(*p));

    if (!p)
        return NULL;
    p->base = base;
    p->cpu = *cpu;
    p->nctx = cpu->nharts * 2;
    p->enable = calloc(p->nctx, sizeof(*p->enable));
    p->threshold = calloc(p->nctx, sizeof(uint32_t));
    p->irq_out = calloc(p->nctx, 1);
    if (!p->enable || !p->threshold || !p->irq_out ||
        bus_map_desc(bus, base, VIRT_PLIC_SIZE, &plic_ops, &plic_desc, p, "plic") < 0) {
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

/* ---- saved state (docs/state-format.md, PLIC) ---- */

/* The bits of word w that name a source (1..NSRC-1). */
static uint32_t source_bits(unsigned w)
{
    uint32_t m = ~0u;

    if (w == 0)
        m &= ~1u;
    if ((w + 1) * 32 > NSRC)
        m &= (1u << (NSRC % 32)) - 1;
    return m;
}

static void put_words(StateBuf *b, const uint32_t *v)
{
    for (unsigned w = 0; w < NWORDS; w++)
        sb_put_u32(b, v[w]);
}

/* False if a bit names no source. */
static bool get_words(StateBuf *b, uint32_t *v)
{
    bool ok = true;

    for (unsigned w = 0; w < NWORDS; w++) {
        v[w] = sb_get_u32(b);
        ok &= !(v[w] & ~source_bits(w));
    }
    return ok;
}

static int plic_save(void *opaque, StateBuf *b, char *err, size_t errlen)
{
    Plic *p = opaque;

    sb_put_u32(b, NSRC);
    sb_put_u32(b, p->nctx);
    for (unsigned i = 0; i < NSRC; i++)
        sb_put_u32(b, p->prio[i]);
    put_words(b, p->level);
    put_words(b, p->pending);
    put_words(b, p->claimed);
    for (unsigned c = 0; c < p->nctx; c++) {
        put_words(b, p->enable[c]);
        sb_put_u32(b, p->threshold[c]);
    }
    return 0;
}

/* The state a load builds before it replaces the PLIC's. */
typedef struct PlicImage {
    uint32_t prio[NSRC], level[NWORDS], pending[NWORDS], claimed[NWORDS];
    uint32_t (*enable)[NWORDS];
    uint32_t *threshold;
} PlicImage;

/* Read and validate a section into *im: 0, or -1 with one line in err. */
static int read_image(Plic *p, StateBuf *b, PlicImage *im, char *err, size_t errlen)
{
    bool bits_ok = true, values_ok = true;
    const char *why = NULL;

    for (unsigned i = 0; i < NSRC; i++) {
        im->prio[i] = sb_get_u32(b);
        values_ok &= im->prio[i] <= 7 && (i || !im->prio[i]);
    }
    bits_ok &= get_words(b, im->level);
    bits_ok &= get_words(b, im->pending);
    bits_ok &= get_words(b, im->claimed);
    for (unsigned c = 0; c < p->nctx; c++) {
        bits_ok &= get_words(b, im->enable[c]);
        im->threshold[c] = sb_get_u32(b);
        values_ok &= im->threshold[c] <= 7;
    }
    if (devstate_end(b, err, errlen))
        return -1;
    if (!bits_ok)
        why = "a bit set for a source that does not exist";
    else if (!values_ok)
        why = "a priority or threshold above 7";
    /* What the model keeps true: a source pends only while its line is
     * high, and never while it is claimed. */
    for (unsigned w = 0; w < NWORDS && !why; w++)
        if ((im->pending[w] & ~im->level[w]) || (im->pending[w] & im->claimed[w]))
            why = "a source pending with its line low or while claimed";
    if (why) {
        snprintf(err, errlen, "%s", why);
        return -1;
    }
    return 0;
}

static void apply_image(Plic *p, const PlicImage *im)
{
    memcpy(p->prio, im->prio, sizeof(p->prio));
    memcpy(p->level, im->level, sizeof(p->level));
    memcpy(p->pending, im->pending, sizeof(p->pending));
    memcpy(p->claimed, im->claimed, sizeof(p->claimed));
    memcpy(p->enable, im->enable, p->nctx * sizeof(*p->enable));
    memcpy(p->threshold, im->threshold, p->nctx * sizeof(*p->threshold));
}

/* Tell every hart's M and S external interrupt the level the restored
 * registers mean, whatever was driven before. */
static void drive_all(Plic *p)
{
    for (unsigned ctx = 0; ctx < p->nctx; ctx++) {
        p->irq_out[ctx] = best(p, ctx) != 0;
        p->cpu.set_mip(p->cpu.opaque, ctx / 2, (ctx & 1) ? MIP_SEIP : MIP_MEIP,
                       p->irq_out[ctx]);
    }
}

static void image_free(PlicImage *im)
{
    if (im) {
        free(im->enable);
        free(im->threshold);
        free(im);
    }
}

static int plic_load(void *opaque, StateBuf *b, uint32_t version, char *err, size_t errlen)
{
    Plic *p = opaque;
    uint32_t nsrc = sb_get_u32(b), nctx = sb_get_u32(b);
    PlicImage *im;
    int r;

    if (devstate_version(version, PLIC_STATE_VERSION, err, errlen))
        return -1;
    if (!b->error && (nsrc != NSRC || nctx != p->nctx)) {
        snprintf(err, errlen, "saved with %u sources and %u contexts, this PLIC has %u and %u",
                 nsrc, nctx, NSRC, p->nctx);
        return -1;
    }
    im = calloc(1, sizeof(*im));
    if (im) {
        im->enable = calloc(p->nctx, sizeof(*im->enable));
        im->threshold = calloc(p->nctx, sizeof(*im->threshold));
    }
    if (!im || !im->enable || !im->threshold) {
        image_free(im);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    r = read_image(p, b, im, err, errlen);
    if (r == 0) {
        apply_image(p, im);
        drive_all(p);
    }
    image_free(im);
    return r;
}

int plic_state_register(Plic *p, VmState *vs)
{
    return vmstate_register(vs, "PLIC", 0, PLIC_STATE_VERSION, plic_save, plic_load, p);
}
