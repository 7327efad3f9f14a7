/* ACPI tables for the x86 guest: RSDP, XSDT, FADT (+ FACS, DSDT with \_S5)
 * and MADT (the CPUs, the IOAPIC, interrupt overrides). */
#ifndef XENO_HW_X86_ACPI_H
#define XENO_HW_X86_ACPI_H

#include <stddef.h>
#include <stdint.h>

#define X86_ACPI_MAX_OVERRIDES 16

typedef struct X86AcpiInfo {
    unsigned ncpus;                 /* APIC IDs 0..ncpus-1 */
    uint64_t lapic_addr, ioapic_addr;
    /* ISA IRQs that are level-triggered, active-high (SCI, virtio). */
    unsigned level_irqs[X86_ACPI_MAX_OVERRIDES];
    unsigned nlevel_irqs;
} X86AcpiInfo;

/* Build all tables into buf, which the guest sees at gpa (the RSDP is
 * first, 16-byte aligned). Returns the bytes used, or 0 if bufsize is too
 * small. */
size_t x86_acpi_build(uint8_t *buf, size_t bufsize, uint64_t gpa, const X86AcpiInfo *info);

#endif
