/* Board assembly: lay out memory, create devices, load images and describe
 * them to the guest. One implementation per guest architecture. */
#ifndef XENO_VMM_BOARD_H
#define XENO_VMM_BOARD_H

#include <stddef.h>

#include "machine.h"

/* RISC-V `virt`-compatible board (emu engine). `bios` is a bare-metal ELF or
 * NULL. Returns 0, or -1 with one line in err. */
int board_riscv_setup(Machine *m, const char *bios, char *err, size_t errlen);

/* x86-64 PC-like board (kvm engine): boots m->cfg.kernel (bzImage, vmlinux
 * ELF or PVH ELF). Returns 0, or -1 with one line in err. */
int board_x86_setup(Machine *m, char *err, size_t errlen);

/* Build the device tree into guest memory at m->fdt_addr; used by the board. */
int fdt_riscv_build(Machine *m, uint64_t initrd_start, uint64_t initrd_end,
                    void *buf, size_t bufsize, char *err, size_t errlen);

#endif
