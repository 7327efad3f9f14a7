/* The RISC-V `virt`-compatible board: RAM at 0x80000000, CLINT, PLIC,
 * ns16550a UART, SiFive test device (poweroff/reboot), virtio-mmio slots.
 *
 * Boot placement follows QEMU's virt board so behaviour can be compared:
 * firmware (if any) at the start of RAM, the kernel 2 MiB in, the initrd in
 * the middle of RAM (or 128 MiB past the kernel on large guests), the device
 * tree in the last 2 MiB-aligned slot below the end of RAM. */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "board.h"
#include "common/log.h"
#include "common/util.h"
#include "hw/riscv/riscv.h"
#include "hw/uart.h"
#include "hw/virtio/virtio_mmio.h"
#include "loader.h"

#define FDT_MAX (64 * 1024)

static void test_dev_event(void *opaque, int what, int code)
{
    Machine *m = opaque;

    switch (what) {
    case TEST_DEV_POWEROFF: machine_request_exit(m, VM_EXIT_POWEROFF, 0); break;
    case TEST_DEV_RESET: machine_request_exit(m, VM_EXIT_REBOOT, 0); break;
    default: machine_request_exit(m, VM_EXIT_CRASH, code); break;
    }
}

static IrqLine riscv_slot_irq(Machine *m, unsigned slot)
{
    return m->engine->irq_line(m, VIRT_VIRTIO_IRQ + slot);
}

/* Linux calls the virtio console hvc1 when the SBI console
 * (CONFIG_HVC_RISCV_SBI, as in the default guest and Debian's kernel) has
 * taken hvc0. `console=hvc0` is then the SBI console, whose input the SBI
 * reads from the UART (as OpenSBI does on QEMU): input stays on the UART. */
static const char *const riscv_hvc_names[] = { "hvc1", NULL };

static const BoardSlots riscv_slots = {
    .base = VIRT_VIRTIO_BASE, .stride = VIRT_VIRTIO_SIZE, .count = VIRT_VIRTIO_SLOTS,
    .irq_line = riscv_slot_irq, .hvc_names = riscv_hvc_names,
};

/* OpenSBI's fw_dynamic handoff block. */
struct fw_dynamic_info {
    uint64_t magic, version, next_addr, next_mode, options, boot_hart;
};

int board_riscv_setup(Machine *m, const char *bios, char *err, size_t errlen)
{
    VmConfig *c = &m->cfg;
    uint64_t ram_size = c->memory_mib << 20, ram_base = VIRT_DRAM_BASE, ram_end;
    LoadedImage kern = { 0 }, fw = { 0 }, img = { 0 };
    uint64_t initrd_start = 0, initrd_end = 0;
    void *fdt;
    int r;

    r = gmem_add_ram(&m->mem, ram_base, ram_size);
    if (r < 0) {
        snprintf(err, errlen, "cannot allocate %llu MiB of guest memory: %s",
                 (unsigned long long)c->memory_mib, strerror(-r));
        return -1;
    }
    ram_end = ram_base + ram_size;
    m->engine = &emu_engine_ops;
    m->bare_metal = bios != NULL;
    m->has_firmware = !bios && c->firmware[0];

    if (m->bare_metal) {
        if (load_elf64(&m->mem, bios, EM_RISCV, &img, err, errlen))
            return -1;
        if (!img.tohost) {
            snprintf(err, errlen, "%s: no 'tohost' symbol: a bare-metal program must use HTIF to exit", bios);
            return -1;
        }
        m->entry = img.entry;
        m->htif_tohost = img.tohost;
        m->htif_fromhost = img.fromhost;
    }

    if (m->engine->init(m, err, errlen))
        return -1;
    if (test_dev_create(&m->mmio, VIRT_TEST_BASE, test_dev_event, m) < 0) {
        snprintf(err, errlen, "cannot map the test device");
        return -1;
    }
    m->uart = uart_create(&m->mmio, VIRT_UART0_BASE, 0,
                          m->engine->irq_line(m, VIRT_UART0_IRQ), m->console_out);
    if (!m->uart) {
        snprintf(err, errlen, "cannot create the UART");
        return -1;
    }
    if (m->bare_metal)
        return 0;

    if (board_add_devices(m, &riscv_slots, err, errlen))
        return -1;

    /* Firmware, kernel, initrd, device tree. */
    if (m->has_firmware) {
        if (file_is_elf(c->firmware) ? load_elf64(&m->mem, c->firmware, EM_RISCV, &fw, err, errlen)
                                     : load_raw(&m->mem, c->firmware, ram_base, &fw, err, errlen))
            return -1;
        if (fw.hi > ram_base + 0x200000) {
            snprintf(err, errlen, "%s: firmware larger than 2 MiB", c->firmware);
            return -1;
        }
    }
    if (load_riscv_linux(&m->mem, c->kernel, ram_base, &kern, err, errlen))
        return -1;
    m->kernel_addr = kern.entry;

    if (c->ramdisk[0]) {
        size_t len;
        void *buf = read_file(c->ramdisk, &len);
        uint64_t start;
        if (!buf) {
            snprintf(err, errlen, "%s: %m", c->ramdisk);
            return -1;
        }
        start = ram_size > (256ull << 20) ? kern.entry + (128ull << 20) : ram_base + ram_size / 2;
        if (start < ALIGN_UP(kern.hi, 0x200000ull))
            start = ALIGN_UP(kern.hi, 0x200000ull);
        if (gmem_write(&m->mem, start, buf, len) || start + len > ram_end - 0x200000) {
            snprintf(err, errlen, "%s: initrd (%zu bytes) does not fit in %llu MiB of guest memory",
                     c->ramdisk, len, (unsigned long long)c->memory_mib);
            free(buf);
            return -1;
        }
        free(buf);
        initrd_start = start;
        initrd_end = start + len;
    }

    m->fdt_addr = (ram_end - FDT_MAX) & ~0x1fffffull;
    if (m->fdt_addr < MAX(kern.hi, initrd_end)) {
        snprintf(err, errlen, "guest memory too small for kernel, initrd and device tree");
        return -1;
    }
    fdt = gmem_ptr_w(&m->mem, m->fdt_addr, FDT_MAX);
    if (fdt_riscv_build(m, initrd_start, initrd_end, fdt, FDT_MAX, err, errlen))
        return -1;

    if (m->has_firmware) {
        struct fw_dynamic_info info = {
            .magic = 0x4942534f, .version = 2, .next_addr = kern.entry,
            .next_mode = 1 /* S */, .options = 0, .boot_hart = ~0ull,
        };
        m->fw_dynamic_info = m->fdt_addr - 0x1000;
        gmem_write(&m->mem, m->fw_dynamic_info, &info, sizeof(info));
        m->entry = fw.entry;
    } else {
        m->entry = kern.entry;
    }
    return 0;
}
