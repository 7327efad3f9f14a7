/* ACPI tables for the x86 guest: RSDP, XSDT, FADT (+ FACS, DSDT with \_S5)
 * and MADT (the CPUs, the IOAPIC, interrupt overrides).
 *
 * The board gives the CPUs and the interrupt controllers; the devices give
 * the rest through their DescOps.acpi (hw/describe.h): the PM block its
 * FADT fields, level-triggered devices their interrupt overrides. */
#ifndef XENO_HW_X86_ACPI_H
#define XENO_HW_X86_ACPI_H

#include <stddef.h>
#include <stdint.h>

#include "hw/describe.h"

#define X86_ACPI_MAX_OVERRIDES 16

/* The fixed-hardware power management block, as the FADT describes it. */
typedef struct X86AcpiPm {
    uint16_t sci_irq;
    uint16_t pm1a_evt, pm1a_cnt;        /* ports */
    uint8_t pm1_evt_len, pm1_cnt_len;   /* bytes */
    uint16_t reset_port;                /* RESET_REG */
    uint8_t reset_value;
    uint8_t s5_typ;                     /* SLP_TYP of soft-off (\_S5) */
} X86AcpiPm;

typedef struct X86AcpiInfo {
    /* From the board. */
    unsigned ncpus;                 /* APIC IDs 0..ncpus-1 */
    uint64_t lapic_addr, ioapic_addr;
    /* From the devices. */
    X86AcpiPm pm;
    /* ISA IRQs that are level-triggered, active-high. */
    unsigned level_irqs[X86_ACPI_MAX_OVERRIDES];
    unsigned nlevel_irqs;
} X86AcpiInfo;

/* For a device's DescOps.acpi: ISA IRQ `irq` is level-triggered,
 * active-high. 0, or -1 when the MADT has no room left. */
int x86_acpi_add_level_irq(X86AcpiInfo *ai, unsigned irq);

/* Complete *ai (its board part filled in) from the devices in `devs`, and
 * build all tables into buf, which the guest sees at gpa (the RSDP is
 * first, 16-byte aligned). Returns the bytes used, or 0 if bufsize is too
 * small or a device's part does not fit. */
size_t x86_acpi_build(uint8_t *buf, size_t bufsize, uint64_t gpa, X86AcpiInfo *ai,
                      const DescList *devs);

#endif
