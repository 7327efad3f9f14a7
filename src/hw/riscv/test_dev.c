/* The SiFive test device of QEMU's virt board, used by Linux's
 * syscon-poweroff / syscon-reboot drivers and by OpenSBI. */
#include <stdlib.h>

#include "hw/devtree.h"
#include "riscv.h"

typedef struct TestDev {
    uint64_t base;
    test_dev_cb cb;
    void *opaque;
} TestDev;

static uint64_t test_read(void *opaque, uint64_t off, unsigned size)
{
    return 0;
}

static void test_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
    TestDev *t = opaque;

    if (off != TEST_DEV_REG)
        return;
    switch (val & 0xffff) {
    case TEST_DEV_POWEROFF_VALUE: t->cb(t->opaque, TEST_DEV_POWEROFF, 0); break;
    case TEST_DEV_RESET_VALUE: t->cb(t->opaque, TEST_DEV_RESET, 0); break;
    case TEST_DEV_FAIL_VALUE: t->cb(t->opaque, TEST_DEV_FAIL, (int)(val >> 16)); break;
    default: break;
    }
}

static const MmioOps test_ops = { test_read, test_write };

/* A syscon-poweroff or syscon-reboot node: writing `value` to the test
 * device's register does it. */
static int syscon_node(void *fdt, const char *name, const char *compatible, uint32_t value)
{
    DT_TRY(fdt_begin_node(fdt, name));
    DT_TRY(fdt_property_string(fdt, "compatible", compatible));
    DT_TRY(fdt_property_u32(fdt, "regmap", VIRT_PHANDLE_TEST));
    DT_TRY(fdt_property_u32(fdt, "offset", TEST_DEV_REG));
    DT_TRY(fdt_property_u32(fdt, "value", value));
    return fdt_end_node(fdt);
}

static int test_fdt(void *opaque, const FdtCtx *ctx)
{
    TestDev *t = opaque;

    DT_TRY(dt_begin_node_at(ctx->fdt, "test", t->base));
    DT_TRY(DT_PROP_STRINGS(ctx->fdt, "compatible", "sifive,test1\0sifive,test0\0syscon"));
    DT_TRY(dt_prop_reg(ctx->fdt, t->base, VIRT_TEST_SIZE));
    DT_TRY(fdt_property_u32(ctx->fdt, "phandle", VIRT_PHANDLE_TEST));
    DT_TRY(fdt_end_node(ctx->fdt));
    DT_TRY(syscon_node(ctx->fdt, "poweroff", "syscon-poweroff", TEST_DEV_POWEROFF_VALUE));
    return syscon_node(ctx->fdt, "reboot", "syscon-reboot", TEST_DEV_RESET_VALUE);
}

static const DescOps test_desc = { .fdt = test_fdt };

int test_dev_create(Bus *bus, uint64_t base, test_dev_cb cb, void *opaque)
{
    TestDev *t = calloc(1, sizeof(*t));

    if (!t)
        return -1;
    t->base = base;
    t->cb = cb;
    t->opaque = opaque;
    if (bus_map_desc(bus, base, VIRT_TEST_SIZE, &test_ops, &test_desc, t, "test") < 0) {
        free(t);
        return -1;
    }
    return 0;
}
