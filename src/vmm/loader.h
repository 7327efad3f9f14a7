/* Loading guest images into guest memory: ELF executables (bare-metal
 * programs, firmware), raw binaries and Linux kernel images. */
#ifndef XENO_VMM_LOADER_H
#define XENO_VMM_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "hw/mem.h"

typedef struct LoadedImage {
    uint64_t entry;
    uint64_t lo, hi;          /* guest physical range written */
    uint64_t tohost, fromhost; /* HTIF symbols (ELF only), 0 if absent */
} LoadedImage;

/* Each returns 0, or -1 with one line in err (file name included). */
int load_elf64(GuestMem *mem, const char *path, uint16_t machine, LoadedImage *out,
               char *err, size_t errlen);
/* A raw file copied to gpa. */
int load_raw(GuestMem *mem, const char *path, uint64_t gpa, LoadedImage *out,
             char *err, size_t errlen);
/* RISC-V kernels load 2 MiB-aligned (their early page tables map 2 MiB
 * pages), at ram_base + text_offset. */
#define RISCV_KERNEL_ALIGN 0x200000ull
/* A RISC-V Linux "Image" (checks the header magic), loaded at ram_base +
 * text_offset (RISCV_KERNEL_ALIGN if the header's is 0 or misaligned). */
int load_riscv_linux(GuestMem *mem, const char *path, uint64_t ram_base,
                     LoadedImage *out, char *err, size_t errlen);
/* True if the file starts with the ELF magic. */
int file_is_elf(const char *path);

#endif
