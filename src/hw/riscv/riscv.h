/* RISC-V platform devices of the `virt` board: CLINT (timer and software
 * interrupts), PLIC (external interrupts), the SiFive test device
 * (poweroff/reboot) and HTIF (bare-metal programs' exit and console). They reach the harts through RiscvCpuIf, implemented by
 * the emu engine, so the device models stay engine-independent. */
#ifndef XENO_HW_RISCV_H
#define XENO_HW_RISCV_H

#include <stdint.h>

#include "hw/bus.h"
#include "hw/irq.h"
#include "hw/mem.h"

/* The `virt` memory map (same addresses as QEMU's virt board). */
#define VIRT_TEST_BASE   0x00100000ull
#define VIRT_TEST_SIZE   0x1000ull
#define VIRT_CLINT_BASE  0x02000000ull
#define VIRT_CLINT_SIZE  0x10000ull
#define VIRT_PLIC_BASE   0x0c000000ull
#define VIRT_PLIC_SIZE   0x600000ull
#define VIRT_UART0_BASE  0x10000000ull
#define VIRT_UART0_SIZE  0x100ull
#define VIRT_UART0_IRQ   10
#define VIRT_VIRTIO_BASE 0x10001000ull
#define VIRT_VIRTIO_SIZE 0x1000ull
#define VIRT_VIRTIO_IRQ  1          /* slot n uses IRQ 1 + n */
#define VIRT_VIRTIO_SLOTS 8
#define VIRT_DRAM_BASE   0x80000000ull
#define VIRT_PLIC_NDEV   95

typedef struct RiscvCpuIf {
    void *opaque;
    unsigned nharts;
    /* Raise/lower an mip bit (MIP_* value) on a hart and wake it. */
    void (*set_mip)(void *opaque, unsigned hart, uint64_t bit, int level);
    uint64_t (*get_mtime)(void *opaque);
    uint64_t (*get_mtimecmp)(void *opaque, unsigned hart);
    void (*set_mtimecmp)(void *opaque, unsigned hart, uint64_t val);
} RiscvCpuIf;

typedef struct Clint Clint;
typedef struct Plic Plic;

Clint *clint_create(Bus *bus, uint64_t base, const RiscvCpuIf *cpu);
void clint_free(Clint *c);

Plic *plic_create(Bus *bus, uint64_t base, const RiscvCpuIf *cpu);
void plic_free(Plic *p);
/* The device-facing side: IrqLine for source `irq` (1..VIRT_PLIC_NDEV). */
IrqLine plic_irq_line(Plic *p, unsigned irq);

/* SiFive test device: 0x5555 = poweroff, 0x7777 = reset, 0x3333 = fail. */
typedef void (*test_dev_cb)(void *opaque, int what, int code);
enum { TEST_DEV_POWEROFF = 1, TEST_DEV_RESET = 2, TEST_DEV_FAIL = 3 };
int test_dev_create(Bus *bus, uint64_t base, test_dev_cb cb, void *opaque);

/* HTIF over the `tohost`/`fromhost` words of a bare-metal program. */
typedef struct HtifHost {
    void *opaque;
    void (*exit)(void *opaque, int code);       /* the program ended */
    void (*putchar)(void *opaque, uint8_t c);   /* console output */
} HtifHost;
typedef struct Htif Htif;
/* fromhost may be 0 (none). NULL if out of memory. */
Htif *htif_create(GuestMem *mem, uint64_t tohost, uint64_t fromhost, const HtifHost *host);
void htif_free(Htif *h);
uint64_t htif_tohost(const Htif *h);
/* A store of `val` at guest physical `pa` in tohost's page, after it reached
 * RAM (an emu_store_watch_fn). */
void htif_store(void *opaque, uint64_t pa, uint64_t val);

#endif
