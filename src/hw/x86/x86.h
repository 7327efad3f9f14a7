/* x86 platform devices for the kvm engine: the few legacy port-I/O devices
 * a PC guest expects besides the UART (which is hw/uart.c on COM1). The PM
 * block describes itself in the ACPI tables (hw/x86/acpi.h). */
#ifndef XENO_HW_X86_H
#define XENO_HW_X86_H

#include "common/vmstate.h"
#include "hw/bus.h"

/* ACPI fixed-hardware power management block (described in the FADT):
 * PM1a event block (status, enable) and PM1a control block. Writing
 * SLP_EN with SLP_TYP = X86_PM_S5_TYP to PM1a_CNT powers off. */
#define X86_PM_BASE        0x600
#define X86_PM1A_EVT       (X86_PM_BASE + 0)    /* status, enable */
#define X86_PM1_EVT_LEN    4
#define X86_PM1A_CNT       (X86_PM_BASE + 4)
#define X86_PM1_CNT_LEN    2
#define X86_PM_SIZE        8
#define X86_PM_S5_TYP      5        /* matches \_S5 in the DSDT */
#define X86_PM1_SCI_EN     0x0001
#define X86_PM1_SLP_EN     0x2000
/* Reset control register (FADT RESET_REG): write 6 (or 0xe) to reset. */
#define X86_RESET_PORT     0xcf9
#define X86_RESET_VALUE    6
/* i8042: only the "pulse reset line" command (0xfe to port 0x64). */
#define X86_I8042_DATA     0x60
#define X86_I8042_CMD      0x64
/* COM1. */
#define X86_COM1_BASE      0x3f8
#define X86_COM1_IRQ       4
/* ACPI SCI. */
#define X86_SCI_IRQ        9

enum x86_pm_event { X86_PM_POWEROFF, X86_PM_RESET };
typedef void (*x86_pm_event_fn)(void *opaque, enum x86_pm_event ev);

/* Map the PM block, the reset register and the i8042 stub on the port I/O
 * bus, and register the PM block's saved state in `vs` (section X86P 0:
 * status, enable, control) unless vs is NULL. Returns 0 or -1 (ports or
 * section taken). */
#define X86_PM_STATE_VERSION 1
int x86_pm_create(Bus *pio, x86_pm_event_fn fn, void *opaque, VmState *vs);

#endif
