/* Device tree for the RISC-V `virt`-compatible board, written with libfdt's
 * sequential-write API. Layout and compatible strings follow QEMU's virt
 * board so the same kernel boots on both. This file writes what is the
 * board's (the root, /chosen, /memory, /cpus and the /soc bus); every
 * device under /soc writes its own node (hw/describe.h). */
#include <libfdt.h>
#include <stdio.h>
#include <sys/random.h>

#include "board.h"
#include "engine/emu/emu.h"
#include "hw/devtree.h"
#include "hw/riscv/riscv.h"
#include "hw/uart.h"

/* The node that holds the devices. */
#define SOC "soc"

/* What the emu engine's harts are, as /cpus tells Linux. */
#define HART_ISA "rv64imafdc_zicsr_zifencei"
#define HART_MMU "riscv,sv48"

static int write_root(void *fdt)
{
    DT_TRY(fdt_property_u32(fdt, "#address-cells", 2));
    DT_TRY(fdt_property_u32(fdt, "#size-cells", 2));
    DT_TRY(fdt_property_string(fdt, "compatible", "riscv-virtio"));
    return fdt_property_string(fdt, "model", "xeno,virt");
}

/* Boot arguments, the console (the UART's node), the initrd, a seed. */
static int write_chosen(Machine *m, void *fdt, uint64_t initrd_start, uint64_t initrd_end)
{
    char path[96], node[64];
    uint8_t seed[32];

    DT_TRY(fdt_begin_node(fdt, "chosen"));
    DT_TRY(fdt_property_string(fdt, "bootargs", m->cfg.cmdline));
    if (m->uart) {
        uart_fdt_name(m->uart, node, sizeof(node));
        snprintf(path, sizeof(path), "/%s/%s", SOC, node);
        DT_TRY(fdt_property_string(fdt, "stdout-path", path));
    }
    if (initrd_end > initrd_start) {
        DT_TRY(fdt_property_u64(fdt, "linux,initrd-start", initrd_start));
        DT_TRY(fdt_property_u64(fdt, "linux,initrd-end", initrd_end));
    }
    if (getrandom(seed, sizeof(seed), 0) == sizeof(seed))
        DT_TRY(fdt_property(fdt, "rng-seed", seed, sizeof(seed)));
    return fdt_end_node(fdt);
}

static int write_memory(Machine *m, void *fdt)
{
    const GuestRegion *ram = &m->mem.r[0];

    DT_TRY(dt_begin_node_at(fdt, "memory", ram->gpa));
    DT_TRY(fdt_property_string(fdt, "device_type", "memory"));
    DT_TRY(dt_prop_reg(fdt, ram->gpa, ram->size));
    return fdt_end_node(fdt);
}

/* One hart, with the local interrupt controller the CLINT and the PLIC
 * name in their interrupts-extended. */
static int write_hart(void *fdt, unsigned hart)
{
    char name[32];

    snprintf(name, sizeof(name), "cpu@%u", hart);
    DT_TRY(fdt_begin_node(fdt, name));
    DT_TRY(fdt_property_string(fdt, "device_type", "cpu"));
    DT_TRY(fdt_property_u32(fdt, "reg", hart));
    DT_TRY(fdt_property_string(fdt, "status", "okay"));
    DT_TRY(fdt_property_string(fdt, "compatible", "riscv"));
    DT_TRY(fdt_property_string(fdt, "riscv,isa", HART_ISA));
    DT_TRY(fdt_property_string(fdt, "mmu-type", HART_MMU));
    DT_TRY(fdt_begin_node(fdt, "interrupt-controller"));
    DT_TRY(fdt_property_u32(fdt, "#interrupt-cells", 1));
    DT_TRY(fdt_property(fdt, "interrupt-controller", NULL, 0));
    DT_TRY(fdt_property_string(fdt, "compatible", "riscv,cpu-intc"));
    DT_TRY(fdt_property_u32(fdt, "phandle", VIRT_PHANDLE_INTC(hart)));
    DT_TRY(fdt_end_node(fdt));
    return fdt_end_node(fdt);
}

static int write_cpus(void *fdt, unsigned nharts)
{
    DT_TRY(fdt_begin_node(fdt, "cpus"));
    DT_TRY(fdt_property_u32(fdt, "#address-cells", 1));
    DT_TRY(fdt_property_u32(fdt, "#size-cells", 0));
    DT_TRY(fdt_property_u32(fdt, "timebase-frequency", EMU_TIMEBASE_HZ));
    for (unsigned i = 0; i < nharts; i++)
        DT_TRY(write_hart(fdt, i));
    return fdt_end_node(fdt);
}

/* The bus, and in it each device's own node(s), in the order the board
 * created them. Device interrupts go to the PLIC. */
static int write_soc(void *fdt, const DescList *devs)
{
    FdtCtx ctx = { .fdt = fdt, .irq_parent = VIRT_PHANDLE_PLIC };

    DT_TRY(fdt_begin_node(fdt, SOC));
    DT_TRY(fdt_property_u32(fdt, "#address-cells", 2));
    DT_TRY(fdt_property_u32(fdt, "#size-cells", 2));
    DT_TRY(fdt_property_string(fdt, "compatible", "simple-bus"));
    DT_TRY(fdt_property(fdt, "ranges", NULL, 0));
    DT_TRY(desc_fdt(devs, &ctx));
    return fdt_end_node(fdt);
}

static int write_tree(Machine *m, const DescList *devs, uint64_t initrd_start,
                      uint64_t initrd_end, void *fdt, size_t bufsize)
{
    DT_TRY(fdt_create(fdt, (int)bufsize));
    DT_TRY(fdt_finish_reservemap(fdt));
    DT_TRY(fdt_begin_node(fdt, ""));
    DT_TRY(write_root(fdt));
    DT_TRY(write_chosen(m, fdt, initrd_start, initrd_end));
    DT_TRY(write_memory(m, fdt));
    DT_TRY(write_cpus(fdt, m->cfg.vcpus));
    DT_TRY(write_soc(fdt, devs));
    DT_TRY(fdt_end_node(fdt));
    return fdt_finish(fdt);
}

int fdt_riscv_build(Machine *m, const DescList *devs, uint64_t initrd_start,
                    uint64_t initrd_end, void *fdt, size_t bufsize, char *err, size_t errlen)
{
    int r = write_tree(m, devs, initrd_start, initrd_end, fdt, bufsize);

    if (r < 0) {
        snprintf(err, errlen, "device tree: %s", fdt_strerror(r));
        return -1;
    }
    return 0;
}
