#include "describe.h"

#include <stdarg.h>
#include <stdio.h>

int desc_add(DescList *l, const DescOps *ops, void *opaque)
{
    if (!l || !ops)
        return 0;
    if (l->n >= DESC_MAX)
        return -1;
    l->e[l->n].ops = ops;
    l->e[l->n].opaque = opaque;
    l->n++;
    return 0;
}

int desc_fdt(const DescList *l, const struct FdtCtx *ctx)
{
    for (unsigned i = 0; i < l->n; i++) {
        if (l->e[i].ops->fdt) {
            int r = l->e[i].ops->fdt(l->e[i].opaque, ctx);
            if (r < 0)
                return r;
        }
    }
    return 0;
}

int desc_acpi(const DescList *l, struct X86AcpiInfo *ai)
{
    for (unsigned i = 0; i < l->n; i++)
        if (l->e[i].ops->acpi && l->e[i].ops->acpi(l->e[i].opaque, ai) < 0)
            return -1;
    return 0;
}

int desc_cmdline(const DescList *l, CmdlineBuf *cl)
{
    for (unsigned i = 0; i < l->n; i++)
        if (l->e[i].ops->cmdline && l->e[i].ops->cmdline(l->e[i].opaque, cl) < 0)
            return -1;
    return 0;
}

int cmdline_append(CmdlineBuf *cl, const char *fmt, ...)
{
    size_t sep = cl->len ? 1 : 0;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return n < 0 ? -1 : 0;
    if (cl->len >= cl->size || sep + (size_t)n >= cl->size - cl->len)
        return -1;
    if (sep)
        cl->buf[cl->len] = ' ';
    va_start(ap, fmt);
    vsnprintf(cl->buf + cl->len + sep, cl->size - cl->len - sep, fmt, ap);
    va_end(ap);
    cl->len += sep + (size_t)n;
    return 0;
}
