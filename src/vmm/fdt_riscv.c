/* Device tree for the RISC-V `virt`-compatible board, written with libfdt's
 * sequential-write API. Layout and compatible strings follow QEMU's virt
 * board so the same kernel boots on both. */
#include <libfdt.h>
#include <stdio.h>
#include <sys/random.h>

#include "board.h"
#include "hw/riscv/riscv.h"

#define PH_PLIC 1
#define PH_TEST 2
#define PH_INTC(h) (16 + (h))

#define CHECK(x) do { int r_ = (x); if (r_ < 0) { \
        snprintf(err, errlen, "device tree: %s", fdt_strerror(r_)); return -1; } } while (0)

static int prop_u64x2(void *fdt, const char *name, uint64_t a, uint64_t b)
{
    fdt64_t v[2] = { cpu_to_fdt64(a), cpu_to_fdt64(b) };
    return fdt_property(fdt, name, v, sizeof(v));
}

int fdt_riscv_build(Machine *m, uint64_t initrd_start, uint64_t initrd_end,
                    void *fdt, size_t bufsize, char *err, size_t errlen)
{
    unsigned n = m->cfg.vcpus;
    char name[64];
    uint8_t seed[32];

    CHECK(fdt_create(fdt, (int)bufsize));
    CHECK(fdt_finish_reservemap(fdt));
    CHECK(fdt_begin_node(fdt, ""));
    CHECK(fdt_property_u32(fdt, "#address-cells", 2));
    CHECK(fdt_property_u32(fdt, "#size-cells", 2));
    CHECK(fdt_property_string(fdt, "compatible", "riscv-virtio"));
    CHECK(fdt_property_string(fdt, "model", "xeno,virt"));

    CHECK(fdt_begin_node(fdt, "chosen"));
    CHECK(fdt_property_string(fdt, "bootargs", m->cfg.cmdline));
    CHECK(fdt_property_string(fdt, "stdout-path", "/soc/serial@10000000"));
    if (initrd_end > initrd_start) {
        CHECK(fdt_property_u64(fdt, "linux,initrd-start", initrd_start));
        CHECK(fdt_property_u64(fdt, "linux,initrd-end", initrd_end));
    }
    if (getrandom(seed, sizeof(seed), 0) == sizeof(seed))
        CHECK(fdt_property(fdt, "rng-seed", seed, sizeof(seed)));
    CHECK(fdt_end_node(fdt));

    snprintf(name, sizeof(name), "memory@%llx", (unsigned long long)m->mem.r[0].gpa);
    CHECK(fdt_begin_node(fdt, name));
    CHECK(fdt_property_string(fdt, "device_type", "memory"));
    CHECK(prop_u64x2(fdt, "reg", m->mem.r[0].gpa, m->mem.r[0].size));
    CHECK(fdt_end_node(fdt));

    CHECK(fdt_begin_node(fdt, "cpus"));
    CHECK(fdt_property_u32(fdt, "#address-cells", 1));
    CHECK(fdt_property_u32(fdt, "#size-cells", 0));
    CHECK(fdt_property_u32(fdt, "timebase-frequency", 10000000));
    for (unsigned i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "cpu@%u", i);
        CHECK(fdt_begin_node(fdt, name));
        CHECK(fdt_property_string(fdt, "device_type", "cpu"));
        CHECK(fdt_property_u32(fdt, "reg", i));
        CHECK(fdt_property_string(fdt, "status", "okay"));
        CHECK(fdt_property_string(fdt, "compatible", "riscv"));
        CHECK(fdt_property_string(fdt, "riscv,isa", "rv64imafdc_zicsr_zifencei"));
        CHECK(fdt_property_string(fdt, "mmu-type", "riscv,sv48"));
        CHECK(fdt_begin_node(fdt, "interrupt-controller"));
        CHECK(fdt_property_u32(fdt, "#interrupt-cells", 1));
        CHECK(fdt_property(fdt, "interrupt-controller", NULL, 0));
        CHECK(fdt_property_string(fdt, "compatible", "riscv,cpu-intc"));
        CHECK(fdt_property_u32(fdt, "phandle", PH_INTC(i)));
        CHECK(fdt_end_node(fdt));
        CHECK(fdt_end_node(fdt));
    }
    CHECK(fdt_end_node(fdt));

    CHECK(fdt_begin_node(fdt, "soc"));
    CHECK(fdt_property_u32(fdt, "#address-cells", 2));
    CHECK(fdt_property_u32(fdt, "#size-cells", 2));
    CHECK(fdt_property_string(fdt, "compatible", "simple-bus"));
    CHECK(fdt_property(fdt, "ranges", NULL, 0));

    {
        fdt32_t ie[4 * 64];
        unsigned k = 0;
        for (unsigned i = 0; i < n && i < 64; i++) {
            ie[k++] = cpu_to_fdt32(PH_INTC(i)); ie[k++] = cpu_to_fdt32(3);  /* MSIP */
            ie[k++] = cpu_to_fdt32(PH_INTC(i)); ie[k++] = cpu_to_fdt32(7);  /* MTIP */
        }
        snprintf(name, sizeof(name), "clint@%llx", VIRT_CLINT_BASE);
        CHECK(fdt_begin_node(fdt, name));
        CHECK(fdt_property(fdt, "compatible", "sifive,clint0\0riscv,clint0",
                           sizeof("sifive,clint0\0riscv,clint0")));
        CHECK(prop_u64x2(fdt, "reg", VIRT_CLINT_BASE, VIRT_CLINT_SIZE));
        CHECK(fdt_property(fdt, "interrupts-extended", ie, k * sizeof(fdt32_t)));
        CHECK(fdt_end_node(fdt));

        k = 0;
        for (unsigned i = 0; i < n && i < 64; i++) {
            ie[k++] = cpu_to_fdt32(PH_INTC(i)); ie[k++] = cpu_to_fdt32(11); /* MEIP */
            ie[k++] = cpu_to_fdt32(PH_INTC(i)); ie[k++] = cpu_to_fdt32(9);  /* SEIP */
        }
        snprintf(name, sizeof(name), "plic@%llx", VIRT_PLIC_BASE);
        CHECK(fdt_begin_node(fdt, name));
        CHECK(fdt_property(fdt, "compatible", "sifive,plic-1.0.0\0riscv,plic0",
                           sizeof("sifive,plic-1.0.0\0riscv,plic0")));
        CHECK(prop_u64x2(fdt, "reg", VIRT_PLIC_BASE, VIRT_PLIC_SIZE));
        CHECK(fdt_property_u32(fdt, "#interrupt-cells", 1));
        CHECK(fdt_property_u32(fdt, "#address-cells", 0));
        CHECK(fdt_property(fdt, "interrupt-controller", NULL, 0));
        CHECK(fdt_property_u32(fdt, "riscv,ndev", VIRT_PLIC_NDEV));
        CHECK(fdt_property(fdt, "interrupts-extended", ie, k * sizeof(fdt32_t)));
        CHECK(fdt_property_u32(fdt, "phandle", PH_PLIC));
        CHECK(fdt_end_node(fdt));
    }

    snprintf(name, sizeof(name), "serial@%llx", VIRT_UART0_BASE);
    CHECK(fdt_begin_node(fdt, name));
    CHECK(fdt_property_string(fdt, "compatible", "ns16550a"));
    CHECK(prop_u64x2(fdt, "reg", VIRT_UART0_BASE, VIRT_UART0_SIZE));
    CHECK(fdt_property_u32(fdt, "clock-frequency", 3686400));
    CHECK(fdt_property_u32(fdt, "interrupt-parent", PH_PLIC));
    CHECK(fdt_property_u32(fdt, "interrupts", VIRT_UART0_IRQ));
    CHECK(fdt_end_node(fdt));

    for (unsigned i = 0; i < m->nvirtio; i++) {
        uint64_t base = VIRT_VIRTIO_BASE + i * VIRT_VIRTIO_SIZE;
        snprintf(name, sizeof(name), "virtio_mmio@%llx", (unsigned long long)base);
        CHECK(fdt_begin_node(fdt, name));
        CHECK(fdt_property_string(fdt, "compatible", "virtio,mmio"));
        CHECK(prop_u64x2(fdt, "reg", base, VIRT_VIRTIO_SIZE));
        CHECK(fdt_property_u32(fdt, "interrupt-parent", PH_PLIC));
        CHECK(fdt_property_u32(fdt, "interrupts", VIRT_VIRTIO_IRQ + i));
        CHECK(fdt_end_node(fdt));
    }

    snprintf(name, sizeof(name), "test@%llx", VIRT_TEST_BASE);
    CHECK(fdt_begin_node(fdt, name));
    CHECK(fdt_property(fdt, "compatible", "sifive,test1\0sifive,test0\0syscon",
                       sizeof("sifive,test1\0sifive,test0\0syscon")));
    CHECK(prop_u64x2(fdt, "reg", VIRT_TEST_BASE, VIRT_TEST_SIZE));
    CHECK(fdt_property_u32(fdt, "phandle", PH_TEST));
    CHECK(fdt_end_node(fdt));

    CHECK(fdt_begin_node(fdt, "poweroff"));
    CHECK(fdt_property_string(fdt, "compatible", "syscon-poweroff"));
    CHECK(fdt_property_u32(fdt, "regmap", PH_TEST));
    CHECK(fdt_property_u32(fdt, "offset", 0));
    CHECK(fdt_property_u32(fdt, "value", 0x5555));
    CHECK(fdt_end_node(fdt));

    CHECK(fdt_begin_node(fdt, "reboot"));
    CHECK(fdt_property_string(fdt, "compatible", "syscon-reboot"));
    CHECK(fdt_property_u32(fdt, "regmap", PH_TEST));
    CHECK(fdt_property_u32(fdt, "offset", 0));
    CHECK(fdt_property_u32(fdt, "value", 0x7777));
    CHECK(fdt_end_node(fdt));

    CHECK(fdt_end_node(fdt));   /* soc */
    CHECK(fdt_end_node(fdt));   /* root */
    CHECK(fdt_finish(fdt));
    return 0;
}
