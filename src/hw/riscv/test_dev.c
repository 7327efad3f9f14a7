/* The SiFive test device of QEMU's virt board, used by Linux's
 * syscon-poweroff / syscon-reboot drivers and by OpenSBI. */
#include <stdlib.h>

#include "riscv.h"

typedef struct TestDev {
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

    if (off != 0)
        return;
    switch (val & 0xffff) {
    case 0x5555: t->cb(t->opaque, TEST_DEV_POWEROFF, 0); break;
    case 0x7777: t->cb(t->opaque, TEST_DEV_RESET, 0); break;
    case 0x3333: t->cb(t->opaque, TEST_DEV_FAIL, (int)(val >> 16)); break;
    default: break;
    }
}

static const MmioOps test_ops = { test_read, test_write };

int test_dev_create(Bus *bus, uint64_t base, test_dev_cb cb, void *opaque)
{
    TestDev *t = calloc(1, sizeof(*t));

    if (!t)
        return -1;
    t->cb = cb;
    t->opaque = opaque;
    if (bus_map(bus, base, VIRT_TEST_SIZE, &test_ops, t, "test") < 0) {
        free(t);
        return -1;
    }
    return 0;
}
