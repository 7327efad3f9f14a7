/* Direct boot of an x86-64 kernel: image loading (bzImage, vmlinux ELF,
 * PVH ELF note), initrd, command line, e820, ACPI tables, and the boot
 * CPU state handed to the kvm engine. */
#ifndef XENO_VMM_BOOT_X86_H
#define XENO_VMM_BOOT_X86_H

#include <stddef.h>
#include <stdint.h>

#include "engine/kvm/kvm.h"
#include "hw/describe.h"
#include "machine.h"

/* Guest physical layout. RAM is [0, low_end) and, above the hole,
 * [4 GiB, 4 GiB + high_size). */
#define X86_LOW_RAM_MAX    0xc0000000ull     /* 3 GiB: the hole starts here */
#define X86_HIGH_RAM_BASE  0x100000000ull
#define X86_VIRTIO_BASE    0xd0000000ull     /* slots of VIRTIO_MMIO_SIZE bytes */
#define X86_VIRTIO_SLOTS   8
#define X86_IOAPIC_BASE    0xfec00000ull
#define X86_LAPIC_BASE     0xfee00000ull

typedef struct X86BootInfo {
    uint64_t low_end;           /* end of RAM below the hole */
    uint64_t high_size;         /* RAM above 4 GiB */
    unsigned nvcpus;
    const char *cmdline;        /* complete kernel command line */
    const DescList *devs;       /* the devices, for the ACPI tables */
    /* Filled in: */
    const char *format;         /* "bzImage", "ELF", "PVH ELF" */
    uint64_t kernel_lo, kernel_hi;
    uint64_t initrd_addr, initrd_size;
    uint64_t rsdp;
} X86BootInfo;

/* Load m->cfg.kernel (and ramdisk) into guest memory, write the boot
 * structures and return the boot vCPU state. 0, or -1 with one line. */
int boot_x86_load(Machine *m, X86BootInfo *bi, KvmBoot *boot, char *err, size_t errlen);

#endif
