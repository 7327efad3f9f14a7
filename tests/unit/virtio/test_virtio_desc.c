/* How a virtio-mmio slot describes itself to the guest (hw/describe.h): its
 * device-tree node, its virtio_mmio.device= command-line entry and its
 * level-triggered interrupt in the x86 ACPI tables; and what happens when
 * the board's list of descriptions is full. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <libfdt.h>

#include "common/log.h"
#include "common/util.h"
#include "hw/bus.h"
#include "hw/devtree.h"
#include "hw/virtio/devices.h"
#include "hw/virtio/virtio_mmio.h"
#include "hw/x86/acpi.h"

#define SLOT0 0x10001000ull
#define SLOT1 0x10002000ull

typedef struct Fixture {
    GuestMem mem;
    Bus bus;
    DescList devs;
    VirtioDevice *vd[2];
    VirtioMmio *t[2];
} Fixture;

static void no_irq(void *ctrl, unsigned irq, int level) { }

/* Two rng devices in slots 0 and 1, on interrupts 3 and 4. */
static int setup(void **state)
{
    Fixture *f = calloc(1, sizeof(*f));
    const uint64_t base[2] = { SLOT0, SLOT1 };
    char err[128];

    assert_non_null(f);
    assert_int_equal(gmem_add_ram(&f->mem, 0x80000000ull, 1 << 20), 0);
    f->bus.descs = &f->devs;
    for (unsigned i = 0; i < 2; i++) {
        IrqLine irq = { no_irq, NULL, 3 + i };
        f->vd[i] = virtio_rng_create(&f->mem, err, sizeof(err));
        assert_non_null(f->vd[i]);
        f->t[i] = virtio_mmio_create(&f->bus, base[i], irq, f->vd[i]);
        assert_non_null(f->t[i]);
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fixture *f = *state;

    for (unsigned i = 0; i < 2; i++) {
        virtio_mmio_destroy(f->t[i]);
        virtio_device_destroy(f->vd[i]);
    }
    gmem_free(&f->mem);
    free(f);
    return 0;
}

static void test_registered_in_order(void **state)
{
    Fixture *f = *state;

    assert_int_equal(f->devs.n, 2);
    assert_ptr_equal(f->devs.e[0].opaque, f->t[0]);
    assert_ptr_equal(f->devs.e[1].opaque, f->t[1]);
}

static uint32_t prop_u32(const void *fdt, int node, const char *name)
{
    int len;
    const void *v = fdt_getprop(fdt, node, name, &len);
    fdt32_t cell;

    assert_non_null(v);
    assert_int_equal(len, 4);
    memcpy(&cell, v, sizeof(cell));
    return fdt32_to_cpu(cell);
}

static void test_fdt_nodes(void **state)
{
    Fixture *f = *state;
    static char fdt[4096];
    FdtCtx ctx = { .fdt = fdt, .irq_parent = 7 };
    const void *reg;
    fdt64_t cells[2];
    int node, len;

    assert_int_equal(fdt_create(fdt, sizeof(fdt)), 0);
    assert_int_equal(fdt_finish_reservemap(fdt), 0);
    assert_int_equal(fdt_begin_node(fdt, ""), 0);
    assert_int_equal(desc_fdt(&f->devs, &ctx), 0);
    assert_int_equal(fdt_end_node(fdt), 0);
    assert_int_equal(fdt_finish(fdt), 0);

    node = fdt_path_offset(fdt, "/virtio_mmio@10002000");
    assert_true(node >= 0);
    assert_string_equal(fdt_getprop(fdt, node, "compatible", NULL), "virtio,mmio");
    reg = fdt_getprop(fdt, node, "reg", &len);
    assert_non_null(reg);
    assert_int_equal(len, 16);
    memcpy(cells, reg, sizeof(cells));     /* properties are only 4-byte aligned */
    assert_int_equal(fdt64_to_cpu(cells[0]), SLOT1);
    assert_int_equal(fdt64_to_cpu(cells[1]), VIRTIO_MMIO_SIZE);
    assert_int_equal(prop_u32(fdt, node, "interrupt-parent"), 7);
    assert_int_equal(prop_u32(fdt, node, "interrupts"), 4);
    assert_true(fdt_path_offset(fdt, "/virtio_mmio@10001000") >= 0);
}

static void test_cmdline_entries(void **state)
{
    Fixture *f = *state;
    char buf[256];
    CmdlineBuf cl = { .buf = buf, .size = sizeof(buf) };

    assert_int_equal(cmdline_append(&cl, "%s", "console=ttyS0"), 0);
    assert_int_equal(desc_cmdline(&f->devs, &cl), 0);
    assert_string_equal(buf, "console=ttyS0 virtio_mmio.device=4K@0x10001000:3 "
                             "virtio_mmio.device=4K@0x10002000:4");
    assert_int_equal(cl.len, strlen(buf));

    /* An empty user command line: no leading space. */
    cl.len = 0;
    assert_int_equal(cmdline_append(&cl, "%s", ""), 0);
    assert_int_equal(desc_cmdline(&f->devs, &cl), 0);
    assert_string_equal(buf, "virtio_mmio.device=4K@0x10001000:3 virtio_mmio.device=4K@0x10002000:4");

    /* No room: an error, never a cut entry. */
    cl.size = 40;
    cl.len = 0;
    assert_int_equal(desc_cmdline(&f->devs, &cl), -1);
    assert_string_equal(buf, "virtio_mmio.device=4K@0x10001000:3");
}

static void test_acpi_level_irqs(void **state)
{
    Fixture *f = *state;
    X86AcpiInfo ai = { 0 };

    assert_int_equal(desc_acpi(&f->devs, &ai), 0);
    assert_int_equal(ai.nlevel_irqs, 2);
    assert_int_equal(ai.level_irqs[0], 3);
    assert_int_equal(ai.level_irqs[1], 4);

    /* A full override table is an error, not a silent drop. */
    ai.nlevel_irqs = X86_ACPI_MAX_OVERRIDES - 1;
    assert_int_equal(desc_acpi(&f->devs, &ai), -1);
}

/* The slots' overrides reach the MADT, after the board's CPUs and IOAPIC. */
static void test_acpi_tables(void **state)
{
    Fixture *f = *state;
    static uint8_t buf[4096];
    X86AcpiInfo ai = { .ncpus = 2, .lapic_addr = 0xfee00000, .ioapic_addr = 0xfec00000 };
    uint8_t *madt = NULL;
    size_t used = x86_acpi_build(buf, sizeof(buf), 0xe0000, &ai, &f->devs);

    assert_true(used > 0);
    for (size_t off = 0; off + 4 <= used; off += 16)
        if (!memcmp(buf + off, "APIC", 4))
            madt = buf + off;
    assert_non_null(madt);
    /* header 44, 2 local APICs (8 each), IOAPIC (12), 2 overrides (10 each) */
    assert_int_equal(ld32(madt + 4), 44 + 16 + 12 + 20);
    assert_int_equal(madt[44 + 16 + 12 + 3], 3);
    assert_int_equal(madt[44 + 16 + 12 + 10 + 3], 4);
    assert_int_equal(ld16(madt + 44 + 16 + 12 + 8), 0x000d);    /* level, active high */
    assert_int_equal(x86_acpi_build(buf, 64, 0xe0000, &ai, &f->devs), 0);
}

/* A full list: the slot is not mapped either (no undescribed device). */
static void test_list_full(void **state)
{
    Fixture *f = *state;
    IrqLine irq = { no_irq, NULL, 9 };
    unsigned mapped = f->bus.nr;
    char err[128];
    VirtioDevice *vd = virtio_rng_create(&f->mem, err, sizeof(err));

    f->devs.n = DESC_MAX;
    assert_null(virtio_mmio_create(&f->bus, 0x10003000ull, irq, vd));
    assert_int_equal(f->bus.nr, mapped);
    f->devs.n = 2;
    virtio_device_destroy(vd);
}

int main(void)
{
    log_set_level(LOG_ERR);
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_registered_in_order),
        T(test_fdt_nodes),
        T(test_cmdline_entries),
        T(test_acpi_level_irqs),
        T(test_acpi_tables),
        T(test_list_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
