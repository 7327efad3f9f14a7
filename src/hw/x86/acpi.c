/* ACPI table builder. Tables are laid out one after the other in a buffer
 * the board copies into guest memory below 1 MiB (where Linux also scans
 * for the RSDP). */
#include <string.h>

#include "acpi.h"
#include "x86.h"

#define OEM_ID       "XENO  "
#define OEM_TABLE_ID "XENOVMM "

typedef struct Builder {
    uint8_t *buf;
    size_t size, used;
    uint64_t gpa;
} Builder;

static void put8(uint8_t *p, uint8_t v) { p[0] = v; }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void put64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }

static uint8_t checksum(const uint8_t *p, size_t len)
{
    uint8_t s = 0;
    while (len--)
        s = (uint8_t)(s + *p++);
    return (uint8_t)-s;
}

/* Reserve len bytes (16-aligned start); NULL when full. */
static uint8_t *alloc(Builder *b, size_t len, uint64_t *gpa)
{
    size_t off = (b->used + 15) & ~(size_t)15;
    if (off > b->size || len > b->size - off)
        return NULL;
    b->used = off + len;
    memset(b->buf + off, 0, len);
    *gpa = b->gpa + off;
    return b->buf + off;
}

static void header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
    memcpy(t, sig, 4);
    put32(t + 4, len);
    put8(t + 8, rev);
    memcpy(t + 10, OEM_ID, 6);
    memcpy(t + 16, OEM_TABLE_ID, 8);
    put32(t + 24, 1);               /* OEM revision */
    memcpy(t + 28, "XENO", 4);      /* creator */
    put32(t + 32, 1);
}

static void finish(uint8_t *t, uint32_t len)
{
    t[9] = 0;
    t[9] = checksum(t, len);
}

/* Generic address structure: system I/O space. */
static void gas_io(uint8_t *p, uint8_t bits, uint64_t port)
{
    p[0] = 1;           /* system I/O */
    p[1] = bits;
    p[2] = 0;
    p[3] = bits <= 8 ? 1 : bits <= 16 ? 2 : 3;   /* access size */
    put64(p + 4, port);
}

/* \_S5 = Package { 5, 5, 0, 0 }: SLP_TYP for soft-off. */
static const uint8_t dsdt_aml[] = {
    0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04,
    0x0a, X86_PM_S5_TYP, 0x0a, X86_PM_S5_TYP, 0x00, 0x00,
};

size_t x86_acpi_build(uint8_t *buf, size_t bufsize, uint64_t gpa, const X86AcpiInfo *info)
{
    Builder b = { buf, bufsize, 0, gpa };
    uint64_t rsdp_gpa, xsdt_gpa, fadt_gpa, facs_gpa, dsdt_gpa, madt_gpa;
    uint8_t *rsdp, *xsdt, *fadt, *facs, *dsdt, *madt, *p;
    uint32_t dsdt_len = 36 + sizeof(dsdt_aml), fadt_len = 276, xsdt_len = 36 + 2 * 8;
    uint32_t madt_len = 44 + 8 * info->ncpus + 12 + 10 * info->nlevel_irqs;

    if (info->nlevel_irqs > X86_ACPI_MAX_OVERRIDES)
        return 0;
    if (!(rsdp = alloc(&b, 36, &rsdp_gpa)) || !(xsdt = alloc(&b, xsdt_len, &xsdt_gpa)) ||
        !(fadt = alloc(&b, fadt_len, &fadt_gpa)) || !(facs = alloc(&b, 64, &facs_gpa)) ||
        !(dsdt = alloc(&b, dsdt_len, &dsdt_gpa)) || !(madt = alloc(&b, madt_len, &madt_gpa)))
        return 0;

    /* DSDT */
    header(dsdt, "DSDT", dsdt_len, 2);
    memcpy(dsdt + 36, dsdt_aml, sizeof(dsdt_aml));
    finish(dsdt, dsdt_len);

    /* FACS (no checksum) */
    memcpy(facs, "FACS", 4);
    put32(facs + 4, 64);
    put8(facs + 32, 2);     /* version */

    /* FADT, ACPI 6.x layout. */
    header(fadt, "FACP", fadt_len, 6);
    put32(fadt + 36, (uint32_t)facs_gpa);
    put32(fadt + 40, (uint32_t)dsdt_gpa);
    put16(fadt + 46, X86_SCI_IRQ);
    put32(fadt + 56, X86_PM1A_EVT);
    put32(fadt + 64, X86_PM1A_CNT);
    put8(fadt + 88, 4);                 /* PM1_EVT_LEN */
    put8(fadt + 89, 2);                 /* PM1_CNT_LEN */
    put16(fadt + 96, 101);              /* no C2 */
    put16(fadt + 98, 1001);             /* no C3 */
    put16(fadt + 109, (1 << 2) | (1 << 3) | (1 << 5));  /* no VGA, no MSI, no CMOS RTC */
    put32(fadt + 112, (1 << 0) | (1 << 2) | (1 << 10)); /* WBINVD, PROC_C1, RESET_REG_SUP */
    gas_io(fadt + 116, 8, X86_RESET_PORT);
    put8(fadt + 128, X86_RESET_VALUE);
    put8(fadt + 131, 3);                /* FADT minor version */
    put64(fadt + 132, facs_gpa);
    put64(fadt + 140, dsdt_gpa);
    gas_io(fadt + 148, 32, X86_PM1A_EVT);
    gas_io(fadt + 172, 16, X86_PM1A_CNT);
    memcpy(fadt + 268, "XENOVMM ", 8);  /* hypervisor vendor identity */
    finish(fadt, fadt_len);

    /* MADT */
    header(madt, "APIC", madt_len, 4);
    put32(madt + 36, (uint32_t)info->lapic_addr);
    put32(madt + 40, 1);                /* PCAT_COMPAT: there are 8259s */
    p = madt + 44;
    for (unsigned i = 0; i < info->ncpus; i++, p += 8) {
        p[0] = 0; p[1] = 8;             /* processor local APIC */
        p[2] = (uint8_t)i;              /* ACPI processor UID */
        p[3] = (uint8_t)i;              /* APIC ID */
        put32(p + 4, 1);                /* enabled */
    }
    p[0] = 1; p[1] = 12;                /* IOAPIC */
    p[2] = (uint8_t)info->ncpus;        /* its ID, after the CPUs' */
    put32(p + 4, (uint32_t)info->ioapic_addr);
    put32(p + 8, 0);                    /* GSI base */
    p += 12;
    for (unsigned i = 0; i < info->nlevel_irqs; i++, p += 10) {
        p[0] = 2; p[1] = 10;            /* interrupt source override */
        p[2] = 0;                       /* ISA */
        p[3] = (uint8_t)info->level_irqs[i];
        put32(p + 4, info->level_irqs[i]);
        put16(p + 8, 0x000d);           /* active high, level triggered */
    }
    finish(madt, madt_len);

    /* XSDT */
    header(xsdt, "XSDT", xsdt_len, 1);
    put64(xsdt + 36, fadt_gpa);
    put64(xsdt + 44, madt_gpa);
    finish(xsdt, xsdt_len);

    /* RSDP (ACPI 2.0+) */
    memcpy(rsdp, "RSD PTR ", 8);
    memcpy(rsdp + 9, OEM_ID, 6);
    put8(rsdp + 15, 2);
    put32(rsdp + 20, 36);
    put64(rsdp + 24, xsdt_gpa);
    rsdp[8] = checksum(rsdp, 20);
    rsdp[32] = checksum(rsdp, 36);
    return b.used;
}
