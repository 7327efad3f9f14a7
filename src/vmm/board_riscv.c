/* The RISC-V `virt`-compatible board: RAM at 0x80000000, CLINT, PLIC,
 * ns16550a UART, SiFive test device (poweroff/reboot), virtio-mmio slots.
 *
 * Boot placement follows QEMU's virt board so behaviour can be compared:
 * firmware (if any) at the start of RAM, the kernel 2 MiB in, the initrd in
 * the middle of RAM (or 128 MiB past the kernel on large guests), the device
 * tree in the last 2 MiB-aligned slot below the end of RAM. */
#include <elf.h>
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "board.h"
#include "common/log.h"
#include "common/safeopen.h"
#include "common/util.h"
#include "engine/emu/emu.h"
#include "hw/riscv/riscv.h"
#include "hw/uart.h"
#include "hw/virtio/virtio_mmio.h"
#include "loader.h"

#define FDT_MAX (64 * 1024)

/* What the board keeps beyond the Machine. */
typedef struct RiscvBoard {
    Clint *clint;
    Plic *plic;
    Htif *htif;
    DescList devs;      /* the devices' device-tree nodes, in creation order */
} RiscvBoard;

static RiscvBoard *board_of(Machine *m) { return m->board; }

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
    return plic_irq_line(board_of(m)->plic, VIRT_VIRTIO_IRQ + slot);
}

static void htif_exit(void *opaque, int code)
{
    machine_request_exit(opaque, VM_EXIT_HTIF, code);
}

static void htif_putchar(void *opaque, uint8_t c)
{
    Machine *m = opaque;

    m->host.console_write(m, &c, 1);
}

/* The harts and their interrupt controllers: the CLINT (timers, IPIs) and
 * the PLIC (device interrupts), driven through the engine's RiscvCpuIf. */
static int add_cpus(Machine *m, RiscvBoard *b, unsigned nharts, char *err, size_t errlen)
{
    RiscvCpuIf cpu;

    if (machine_create_engine(m, &emu_engine_ops, nharts, err, errlen))
        return -1;
    cpu = emu_cpu_if(m->engine);
    b->clint = clint_create(&m->mmio, VIRT_CLINT_BASE, &cpu);
    b->plic = plic_create(&m->mmio, VIRT_PLIC_BASE, &cpu);
    if (!b->clint || !b->plic || clint_state_register(b->clint, &m->state) < 0 ||
        plic_state_register(b->plic, &m->state) < 0) {
        snprintf(err, errlen, "cannot create the interrupt controllers");
        return -1;
    }
    return 0;
}

/* --bios: a bare-metal ELF in M-mode on one hart, ending through HTIF. */
static int setup_bare_metal(Machine *m, RiscvBoard *b, const char *bios, char *err, size_t errlen)
{
    LoadedImage img = { 0 };
    HtifHost hh = { .opaque = m, .exit = htif_exit, .putchar = htif_putchar };
    EmuBoot boot = { .mode = EMU_BOOT_BARE };

    if (load_elf64(&m->mem, bios, EM_RISCV, &img, err, errlen))
        return -1;
    if (!img.tohost) {
        snprintf(err, errlen, "%s: no 'tohost' symbol: a bare-metal program must use HTIF to exit", bios);
        return -1;
    }
    b->htif = htif_create(&m->mem, img.tohost, img.fromhost, &hh);
    if (!b->htif) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    emu_watch_stores(m->engine, img.tohost, htif_store, b->htif);
    boot.entry = img.entry;
    emu_set_boot(m->engine, &boot);
    return 0;
}

/* Linux calls the virtio console hvc1 when the SBI console
 * (CONFIG_HVC_RISCV_SBI, as in the default guest and Debian's kernel) has
 * taken hvc0. `console=hvc0` is then the SBI console, whose input the SBI
 * reads from the UART (as OpenSBI does on QEMU): input stays on the UART. */
static const char *const riscv_hvc_names[] = { "hvc1", NULL };

static const BoardSlots riscv_slots = {
    .base = VIRT_VIRTIO_BASE, .stride = VIRTIO_MMIO_SIZE, .count = VIRT_VIRTIO_SLOTS,
    .irq_line = riscv_slot_irq, .hvc_names = riscv_hvc_names,
};

/* OpenSBI's fw_dynamic handoff block. */
struct fw_dynamic_info {
    uint64_t magic, version, next_addr, next_mode, options, boot_hart;
};
#define FW_DYNAMIC_MAGIC   0x4942534f   /* "OSBI" */
#define FW_DYNAMIC_VERSION 2
#define FW_NEXT_MODE_S     1

/* RISC-V kernels sit one kernel alignment (2 MiB) into RAM and firmware
 * fills the slot below; the device tree sits in the last such slot. */
#define SLOT_2M RISCV_KERNEL_ALIGN

/* Where the boot images landed. */
typedef struct RiscvImages {
    LoadedImage fw, kern;
    uint64_t initrd_start, initrd_end;
} RiscvImages;

static int load_firmware(Machine *m, RiscvImages *im, char *err, size_t errlen)
{
    const char *path = m->cfg.firmware;
    uint64_t base = m->mem.r[0].gpa;

    if (file_is_elf(path) ? load_elf64(&m->mem, path, EM_RISCV, &im->fw, err, errlen)
                          : load_raw(&m->mem, path, base, &im->fw, err, errlen))
        return -1;
    if (im->fw.hi > base + SLOT_2M) {
        snprintf(err, errlen, "%s: firmware larger than 2 MiB", path);
        return -1;
    }
    return 0;
}

/* The initrd in the middle of RAM, or 128 MiB past the kernel on large
 * guests, never below the kernel's end nor in the device tree's slot. */
static int load_initrd(Machine *m, RiscvImages *im, char *err, size_t errlen)
{
    const VmConfig *c = &m->cfg;
    uint64_t ram_base = m->mem.r[0].gpa, ram_size = m->mem.r[0].size;
    uint64_t start;
    size_t len;
    void *buf = safe_read_file(c->ramdisk, &len, err, errlen);

    if (!buf)
        return -1;
    start = ram_size > (256ull << 20) ? im->kern.entry + (128ull << 20) : ram_base + ram_size / 2;
    if (start < ALIGN_UP(im->kern.hi, SLOT_2M))
        start = ALIGN_UP(im->kern.hi, SLOT_2M);
    if (start + len > ram_base + ram_size - SLOT_2M || gmem_write(&m->mem, start, buf, len)) {
        snprintf(err, errlen, "%s: initrd (%zu bytes) does not fit in %llu MiB of guest memory",
                 c->ramdisk, len, (unsigned long long)c->memory_mib);
        free(buf);
        return -1;
    }
    free(buf);
    im->initrd_start = start;
    im->initrd_end = start + len;
    return 0;
}

/* XENO_DUMP_DTB=FILE in the environment: a copy of the guest's device tree
 * (for `dtc -I dtb FILE`, or to compare two builds). A debugging aid. */
static void dump_fdt(const void *fdt)
{
    const char *path = getenv("XENO_DUMP_DTB");
    FILE *f;

    if (!path || !*path)
        return;
    f = fopen(path, "wb");
    if (!f || fwrite(fdt, 1, fdt_totalsize(fdt), f) != fdt_totalsize(fdt))
        log_warn("XENO_DUMP_DTB: cannot write %s", path);
    if (f)
        fclose(f);
}

/* The device tree in the last 2 MiB-aligned slot that holds FDT_MAX. */
static int place_fdt(Machine *m, const RiscvImages *im, uint64_t *fdt_addr, char *err, size_t errlen)
{
    uint64_t ram_end = m->mem.r[0].gpa + m->mem.r[0].size;
    uint64_t addr = (ram_end - FDT_MAX) & ~(SLOT_2M - 1);
    void *fdt;

    if (addr < MAX(im->kern.hi, im->initrd_end)) {
        snprintf(err, errlen, "guest memory too small for kernel, initrd and device tree");
        return -1;
    }
    fdt = gmem_ptr_w(&m->mem, addr, FDT_MAX);
    if (fdt_riscv_build(m, &board_of(m)->devs, im->initrd_start, im->initrd_end, fdt, FDT_MAX,
                        err, errlen))
        return -1;
    dump_fdt(fdt);
    *fdt_addr = addr;
    return 0;
}

/* A Linux kernel (with firmware first if the config names one): images in
 * RAM, the device tree, and where the harts start. */
static int setup_linux(Machine *m, char *err, size_t errlen)
{
    const VmConfig *c = &m->cfg;
    RiscvImages im = { 0 };
    EmuBoot boot = { .mode = c->firmware[0] ? EMU_BOOT_FIRMWARE : EMU_BOOT_SBI };

    if (boot.mode == EMU_BOOT_FIRMWARE && load_firmware(m, &im, err, errlen))
        return -1;
    if (load_riscv_linux(&m->mem, c->kernel, m->mem.r[0].gpa, &im.kern, err, errlen))
        return -1;
    if (c->ramdisk[0] && load_initrd(m, &im, err, errlen))
        return -1;
    if (place_fdt(m, &im, &boot.fdt_addr, err, errlen))
        return -1;
    if (boot.mode == EMU_BOOT_FIRMWARE) {
        struct fw_dynamic_info info = {
            .magic = FW_DYNAMIC_MAGIC, .version = FW_DYNAMIC_VERSION,
            .next_addr = im.kern.entry, .next_mode = FW_NEXT_MODE_S,
            .options = 0, .boot_hart = ~0ull,
        };
        boot.fw_dynamic_info = boot.fdt_addr - 0x1000;
        gmem_write(&m->mem, boot.fw_dynamic_info, &info, sizeof(info));
        boot.entry = im.fw.entry;
    } else {
        boot.entry = im.kern.entry;
    }
    emu_set_boot(m->engine, &boot);
    return 0;
}

/* The platform devices. They are created in the order their nodes appear
 * under /soc: CLINT, PLIC, UART, the virtio slots, the test device. */
static int add_uart(Machine *m, RiscvBoard *b, char *err, size_t errlen)
{
    m->uart = uart_create(&m->mmio, VIRT_UART0_BASE, 0,
                          plic_irq_line(b->plic, VIRT_UART0_IRQ), m->console_out);
    if (!m->uart || uart_state_register(m->uart, &m->state) < 0) {
        snprintf(err, errlen, "cannot create the UART");
        return -1;
    }
    return 0;
}

static int add_test_dev(Machine *m, char *err, size_t errlen)
{
    if (test_dev_create(&m->mmio, VIRT_TEST_BASE, test_dev_event, m) < 0) {
        snprintf(err, errlen, "cannot map the test device");
        return -1;
    }
    return 0;
}

static int riscv_add_ram(Machine *m, char *err, size_t errlen)
{
    VmConfig *c = &m->cfg;
    RiscvBoard *b = calloc(1, sizeof(*b));
    int r;

    if (!b) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    m->board = b;
    m->mmio.descs = &b->devs;
    m->stream_arch = STREAM_ARCH_RISCV64;
    m->stream_engine = STREAM_ENGINE_EMU;
    r = gmem_add_ram(&m->mem, VIRT_DRAM_BASE, c->memory_mib << 20);
    if (r < 0) {
        snprintf(err, errlen, "cannot allocate %llu MiB of guest memory: %s",
                 (unsigned long long)c->memory_mib, strerror(-r));
        return -1;
    }
    return 0;
}

static int riscv_build(Machine *m, const char *bios, bool restore, char *err, size_t errlen)
{
    RiscvBoard *b = board_of(m);

    if (add_cpus(m, b, bios ? 1 : m->cfg.vcpus, err, errlen) || add_uart(m, b, err, errlen))
        return -1;
    if (!bios && board_add_devices(m, &riscv_slots, err, errlen))
        return -1;
    if (add_test_dev(m, err, errlen))
        return -1;
    if (bios) {
        m->no_save = "a bare-metal program (--bios) cannot be saved";
        return setup_bare_metal(m, b, bios, err, errlen);
    }
    return restore ? 0 : setup_linux(m, err, errlen);
}

const BoardOps board_riscv = {
    .name = "riscv-virt",
    .add_ram = riscv_add_ram,
    .build = riscv_build,
};
