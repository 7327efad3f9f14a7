#include "devtree.h"

#include <stdio.h>

void dt_node_name(char *buf, size_t len, const char *name, uint64_t base)
{
    snprintf(buf, len, "%s@%llx", name, (unsigned long long)base);
}

int dt_begin_node_at(void *fdt, const char *name, uint64_t base)
{
    char node[64];

    dt_node_name(node, sizeof(node), name, base);
    return fdt_begin_node(fdt, node);
}

int dt_prop_reg(void *fdt, uint64_t base, uint64_t size)
{
    fdt64_t v[2] = { cpu_to_fdt64(base), cpu_to_fdt64(size) };

    return fdt_property(fdt, "reg", v, sizeof(v));
}

int dt_prop_irq(const FdtCtx *ctx, unsigned irq)
{
    DT_TRY(fdt_property_u32(ctx->fdt, "interrupt-parent", ctx->irq_parent));
    return fdt_property_u32(ctx->fdt, "interrupts", irq);
}
