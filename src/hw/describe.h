/* How devices describe themselves to the guest.
 *
 * A guest learns where its devices are from a description the VMM writes
 * before boot: a device tree on riscv; ACPI tables and kernel command-line
 * entries on x86. Each device writes its own part, from its own constants,
 * through the DescOps it registers in the board's DescList when it is
 * created (as kvmtool's devices carry a generate_fdt_node; a device on a
 * bus registers as it maps itself, see bus_map_desc). The builders
 * (vmm/fdt_riscv.c, hw/x86/acpi.c, board_x86.c's command line) write only
 * what is not a device's and walk the list, in registration order, for the
 * rest. A device fills in the callbacks of the descriptions it appears in;
 * a builder passes over devices without its callback. */
#ifndef XENO_HW_DESCRIBE_H
#define XENO_HW_DESCRIBE_H

#include <stddef.h>

struct FdtCtx;
struct X86AcpiInfo;

/* A kernel command line being assembled. */
typedef struct CmdlineBuf {
    char *buf;
    size_t size, len;
} CmdlineBuf;

typedef struct DescOps {
    /* Device-tree node(s), written inside the node that holds the devices
     * (riscv: /soc). 0, or a libfdt error (< 0). */
    int (*fdt)(void *opaque, const struct FdtCtx *ctx);
    /* The device's part of the ACPI tables (x86). 0, or -1: no room. */
    int (*acpi)(void *opaque, struct X86AcpiInfo *ai);
    /* The command-line entry of a device Linux cannot find by itself
     * (x86 virtio-mmio). 0, or -1: no room. */
    int (*cmdline)(void *opaque, CmdlineBuf *cl);
} DescOps;

#define DESC_MAX 32

typedef struct DescList {
    struct {
        const DescOps *ops;
        void *opaque;
    } e[DESC_MAX];
    unsigned n;
} DescList;

/* Register a device's description (devices on a bus: bus_map_desc). l may
 * be NULL: the device is then described nowhere (unit tests). 0, or -1 if
 * l is full. */
int desc_add(DescList *l, const DescOps *ops, void *opaque);

/* Run one kind of callback over the list, in order; the first failure
 * stops the walk and is returned. */
int desc_fdt(const DescList *l, const struct FdtCtx *ctx);
int desc_acpi(const DescList *l, struct X86AcpiInfo *ai);
int desc_cmdline(const DescList *l, CmdlineBuf *cl);

/* Append to a command line, after a space unless it is still empty (an
 * empty addition adds nothing). 0, or -1 if it does not fit. */
int cmdline_append(CmdlineBuf *cl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
