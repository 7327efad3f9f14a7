/* RISC-V platform devices of the `virt` board: CLINT (timer and software
 * interrupts), PLIC (external interrupts), the SiFive test device
 * (poweroff/reboot) and HTIF (bare-metal programs' exit and console). They
 * reach the harts through RiscvCpuIf, implemented by the emu engine, so the
 * device models stay engine-independent. CLINT, PLIC and the test device
 * write their own device-tree nodes (see hw/describe.h). */
#ifndef XENO_HW_RISCV_H
#define XENO_HW_RISCV_H

#include <stdint.h>

#include "common/vmstate.h"
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
#define VIRT_UART0_IRQ   10
#define VIRT_VIRTIO_BASE 0x10001000ull  /* slots of VIRTIO_MMIO_SIZE bytes */
#define VIRT_VIRTIO_IRQ  1          /* slot n uses IRQ 1 + n */
#define VIRT_VIRTIO_SLOTS 8
#define VIRT_DRAM_BASE   0x80000000ull
#define VIRT_PLIC_NDEV   95         /* PLIC sources 1..95 */

/* Device-tree phandles of the board, each written by the node that owns
 * it (the PLIC, the test device, each hart's interrupt controller in
 * /cpus) and referred to by the nodes that point at it. */
#define VIRT_PHANDLE_PLIC     1
#define VIRT_PHANDLE_TEST     2
#define VIRT_PHANDLE_INTC(h)  (16 + (h))

/* A hart's local interrupts: cause numbers (bit numbers in mip/mie). */
#define RISCV_IRQ_M_SOFT  3
#define RISCV_IRQ_M_TIMER 7
#define RISCV_IRQ_S_EXT   9
#define RISCV_IRQ_M_EXT   11

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

/* Saved state (docs/state-format.md): section CLNT 0, each hart's msip
 * (mtimecmp and mtime belong to the engine's sections), and PLIC 0,
 * priorities, input levels, pending, claimed, per-context enables and
 * thresholds. A load drives the harts' interrupt lines to match. -1 if
 * the section is taken. The test device has no state and no section. */
#define CLINT_STATE_VERSION 1
#define PLIC_STATE_VERSION 1
int clint_state_register(Clint *c, VmState *vs);
int plic_state_register(Plic *p, VmState *vs);
/* The device-facing side: IrqLine for source `irq` (1..VIRT_PLIC_NDEV). */
IrqLine plic_irq_line(Plic *p, unsigned irq);

/* interrupts-extended for nodes that take each hart's local interrupts:
 * <INTC(h) causes[0] INTC(h) causes[1] ...> for every hart h. For the
 * CLINT's and PLIC's nodes (riscv_fdt.c). 0, or a libfdt error. */
int riscv_fdt_hart_irqs(void *fdt, unsigned nharts, const uint32_t *causes, unsigned ncauses);

/* SiFive test device: one register at offset TEST_DEV_REG; the low 16
 * bits of a write say what happens (the fail code is in the high 16). The
 * device tree's syscon-poweroff and syscon-reboot nodes name the same
 * values. */
#define TEST_DEV_REG        0
#define TEST_DEV_FAIL_VALUE     0x3333
#define TEST_DEV_POWEROFF_VALUE 0x5555
#define TEST_DEV_RESET_VALUE    0x7777
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
