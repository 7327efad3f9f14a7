/* What the riscv devices' device-tree nodes share: interrupt lists that
 * name every hart's local interrupt controller. */
#include <stdlib.h>

#include "hw/devtree.h"
#include "riscv.h"

int riscv_fdt_hart_irqs(void *fdt, unsigned nharts, const uint32_t *causes, unsigned ncauses)
{
    size_t n = (size_t)nharts * ncauses * 2;
    fdt32_t *cells = calloc(n ? n : 1, sizeof(*cells));
    size_t k = 0;
    int r;

    if (!cells)
        return -FDT_ERR_NOSPACE;
    for (unsigned h = 0; h < nharts; h++) {
        for (unsigned i = 0; i < ncauses; i++) {
            cells[k++] = cpu_to_fdt32(VIRT_PHANDLE_INTC(h));
            cells[k++] = cpu_to_fdt32(causes[i]);
        }
    }
    r = fdt_property(fdt, "interrupts-extended", cells, (int)(k * sizeof(*cells)));
    free(cells);
    return r;
}
