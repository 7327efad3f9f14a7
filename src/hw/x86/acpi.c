/* ACPI table builder. Tables are laid out one after the other in a buffer
 * the board copies into guest memory below 1 MiB (where Linux also scans
 * for the RSDP). */
#include <string.h>

#include "acpi.h"
#include "common/util.h"

#define OEM_ID       "XENO  "
#define OEM_TABLE_ID "XENOVMM "

typedef struct Builder {
    uint8_t *buf;
    size_t size, used;
    uint64_t gpa;
} Builder;

static void st8(uint8_t *p, uint8_t v) { p[0] = v; }

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
    st32(t + 4, len);
    st8(t + 8, rev);
    memcpy(t + 10, OEM_ID, 6);
    memcpy(t + 16, OEM_TABLE_ID, 8);
    st32(t + 24, 1);               /* OEM revision */
    memcpy(t + 28, "XENO", 4);      /* creator */
    st32(t + 32, 1);
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
    st64(p + 4, port);
}

/* \_S5 = Package { typ, typ, 0, 0 }: SLP_TYP for soft-off. */
#define S5_AML_LEN 14
static void s5_aml(uint8_t *p, uint8_t typ)
{
    const uint8_t aml[S5_AML_LEN] = {
        0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04,     /* Name(_S5_, Package(4) */
        0x0a, typ, 0x0a, typ, 0x00, 0x00,               /* { typ, typ, 0, 0 }) */
    };
    memcpy(p, aml, sizeof(aml));
}

/* Table lengths. */
#define HDR_LEN   36
#define RSDP_LEN  36
#define XSDT_LEN  (HDR_LEN + 2 * 8)     /* FADT, MADT */
#define FADT_LEN  276                   /* ACPI 6.x */
#define FACS_LEN  64
#define DSDT_LEN  (HDR_LEN + S5_AML_LEN)
#define MADT_LAPIC_LEN    8
#define MADT_IOAPIC_LEN   12
#define MADT_OVERRIDE_LEN 10

/* Where each table went. */
typedef struct Tables {
    uint8_t *rsdp, *xsdt, *fadt, *facs, *dsdt, *madt;
    uint64_t xsdt_gpa, fadt_gpa, facs_gpa, dsdt_gpa, madt_gpa;
    uint32_t madt_len;
} Tables;

static void write_dsdt(const Tables *t, const X86AcpiInfo *ai)
{
    header(t->dsdt, "DSDT", DSDT_LEN, 2);
    s5_aml(t->dsdt + HDR_LEN, ai->pm.s5_typ);
    finish(t->dsdt, DSDT_LEN);
}

static void write_facs(const Tables *t)
{
    memcpy(t->facs, "FACS", 4);     /* no checksum */
    st32(t->facs + 4, FACS_LEN);
    st8(t->facs + 32, 2);           /* version */
}

static void write_fadt(const Tables *t, const X86AcpiPm *pm)
{
    uint8_t *f = t->fadt;

    header(f, "FACP", FADT_LEN, 6);
    st32(f + 36, (uint32_t)t->facs_gpa);
    st32(f + 40, (uint32_t)t->dsdt_gpa);
    st16(f + 46, pm->sci_irq);
    st32(f + 56, pm->pm1a_evt);
    st32(f + 64, pm->pm1a_cnt);
    st8(f + 88, pm->pm1_evt_len);
    st8(f + 89, pm->pm1_cnt_len);
    st16(f + 96, 101);              /* no C2 */
    st16(f + 98, 1001);             /* no C3 */
    st16(f + 109, (1 << 2) | (1 << 3) | (1 << 5));  /* no VGA, no MSI, no CMOS RTC */
    st32(f + 112, (1 << 0) | (1 << 2) | (1 << 10)); /* WBINVD, PROC_C1, RESET_REG_SUP */
    gas_io(f + 116, 8, pm->reset_port);
    st8(f + 128, pm->reset_value);
    st8(f + 131, 3);                /* FADT minor version */
    st64(f + 132, t->facs_gpa);
    st64(f + 140, t->dsdt_gpa);
    gas_io(f + 148, (uint8_t)(8 * pm->pm1_evt_len), pm->pm1a_evt);
    gas_io(f + 172, (uint8_t)(8 * pm->pm1_cnt_len), pm->pm1a_cnt);
    memcpy(f + 268, OEM_TABLE_ID, 8);   /* hypervisor vendor identity */
    finish(f, FADT_LEN);
}

static void write_madt(const Tables *t, const X86AcpiInfo *ai)
{
    uint8_t *p = t->madt + 44;

    header(t->madt, "APIC", t->madt_len, 4);
    st32(t->madt + 36, (uint32_t)ai->lapic_addr);
    st32(t->madt + 40, 1);          /* PCAT_COMPAT: there are 8259s */
    for (unsigned i = 0; i < ai->ncpus; i++, p += MADT_LAPIC_LEN) {
        p[0] = 0; p[1] = MADT_LAPIC_LEN;    /* processor local APIC */
        p[2] = (uint8_t)i;          /* ACPI processor UID */
        p[3] = (uint8_t)i;          /* APIC ID */
        st32(p + 4, 1);             /* enabled */
    }
    p[0] = 1; p[1] = MADT_IOAPIC_LEN;       /* IOAPIC */
    p[2] = (uint8_t)ai->ncpus;      /* its ID, after the CPUs' */
    st32(p + 4, (uint32_t)ai->ioapic_addr);
    st32(p + 8, 0);                 /* GSI base */
    p += MADT_IOAPIC_LEN;
    for (unsigned i = 0; i < ai->nlevel_irqs; i++, p += MADT_OVERRIDE_LEN) {
        p[0] = 2; p[1] = MADT_OVERRIDE_LEN; /* interrupt source override */
        p[2] = 0;                   /* ISA */
        p[3] = (uint8_t)ai->level_irqs[i];
        st32(p + 4, ai->level_irqs[i]);
        st16(p + 8, 0x000d);        /* active high, level triggered */
    }
    finish(t->madt, t->madt_len);
}

static void write_xsdt(const Tables *t)
{
    header(t->xsdt, "XSDT", XSDT_LEN, 1);
    st64(t->xsdt + 36, t->fadt_gpa);
    st64(t->xsdt + 44, t->madt_gpa);
    finish(t->xsdt, XSDT_LEN);
}

static void write_rsdp(const Tables *t)
{
    memcpy(t->rsdp, "RSD PTR ", 8);
    memcpy(t->rsdp + 9, OEM_ID, 6);
    st8(t->rsdp + 15, 2);           /* ACPI 2.0+ */
    st32(t->rsdp + 20, RSDP_LEN);
    st64(t->rsdp + 24, t->xsdt_gpa);
    t->rsdp[8] = checksum(t->rsdp, 20);
    t->rsdp[32] = checksum(t->rsdp, RSDP_LEN);
}

int x86_acpi_add_level_irq(X86AcpiInfo *ai, unsigned irq)
{
    if (ai->nlevel_irqs >= X86_ACPI_MAX_OVERRIDES)
        return -1;
    ai->level_irqs[ai->nlevel_irqs++] = irq;
    return 0;
}

size_t x86_acpi_build(uint8_t *buf, size_t bufsize, uint64_t gpa, X86AcpiInfo *ai,
                      const DescList *devs)
{
    Builder b = { buf, bufsize, 0, gpa };
    Tables t;
    uint64_t rsdp_gpa;

    if (desc_acpi(devs, ai) < 0)
        return 0;
    t.madt_len = 44 + MADT_LAPIC_LEN * ai->ncpus + MADT_IOAPIC_LEN +
                 MADT_OVERRIDE_LEN * ai->nlevel_irqs;
    if (!(t.rsdp = alloc(&b, RSDP_LEN, &rsdp_gpa)) ||
        !(t.xsdt = alloc(&b, XSDT_LEN, &t.xsdt_gpa)) ||
        !(t.fadt = alloc(&b, FADT_LEN, &t.fadt_gpa)) ||
        !(t.facs = alloc(&b, FACS_LEN, &t.facs_gpa)) ||
        !(t.dsdt = alloc(&b, DSDT_LEN, &t.dsdt_gpa)) ||
        !(t.madt = alloc(&b, t.madt_len, &t.madt_gpa)))
        return 0;
    write_dsdt(&t, ai);
    write_facs(&t);
    write_fadt(&t, &ai->pm);
    write_madt(&t, ai);
    write_xsdt(&t);
    write_rsdp(&t);
    return b.used;
}
