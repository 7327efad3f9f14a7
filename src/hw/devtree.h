/* Writing device-tree nodes for the devices' DescOps.fdt callbacks, with
 * libfdt's sequential-write API. The nodes sit in a parent whose
 * #address-cells and #size-cells are 2 (riscv /soc). */
#ifndef XENO_HW_DEVTREE_H
#define XENO_HW_DEVTREE_H

#include <stddef.h>
#include <stdint.h>

#include <libfdt.h>

/* What a device's node may refer to. */
typedef struct FdtCtx {
    void *fdt;              /* the tree being written */
    uint32_t irq_parent;    /* phandle of the controller device interrupts go to */
} FdtCtx;

/* Return a libfdt error (< 0) from the calling function. */
#define DT_TRY(x) do { int r_ = (x); if (r_ < 0) return r_; } while (0)

/* A property holding a list of strings, from a literal "a\0b". */
#define DT_PROP_STRINGS(fdt, name, lit) fdt_property((fdt), (name), (lit), sizeof(lit))

/* The name of the node of a device at `base`: "NAME@BASE" (hex). */
void dt_node_name(char *buf, size_t len, const char *name, uint64_t base);
/* Begin the node NAME@BASE. */
int dt_begin_node_at(void *fdt, const char *name, uint64_t base);
/* reg = <base size>, two cells each. */
int dt_prop_reg(void *fdt, uint64_t base, uint64_t size);
/* interrupt-parent and interrupts: input `irq` of the context's controller. */
int dt_prop_irq(const FdtCtx *ctx, unsigned irq);

#endif
