/* ACPI PM1a event/control block, the 0xcf9 reset register and a keyboard
 * controller stub that knows one command: reset. Enough for Linux's
 * poweroff (ACPI S5), reboot (ACPI reset register, or reboot=k) and for
 * the test guests. */
#include <stdio.h>
#include <stdlib.h>

#include "acpi.h"
#include "hw/devstate.h"
#include "x86.h"

typedef struct X86Pm {
    x86_pm_event_fn fn;
    void *opaque;
    uint16_t pm1_sts, pm1_en, pm1_cnt;
} X86Pm;

static uint64_t pm_read(void *opaque, uint64_t off, unsigned size)
{
    X86Pm *p = opaque;
    uint8_t regs[X86_PM_SIZE] = { 0 };
    uint64_t v = 0;

    regs[0] = (uint8_t)p->pm1_sts; regs[1] = (uint8_t)(p->pm1_sts >> 8);
    regs[2] = (uint8_t)p->pm1_en;  regs[3] = (uint8_t)(p->pm1_en >> 8);
    regs[4] = (uint8_t)p->pm1_cnt; regs[5] = (uint8_t)(p->pm1_cnt >> 8);
    for (unsigned i = 0; i < size && off + i < X86_PM_SIZE; i++)
        v |= (uint64_t)regs[off + i] << (8 * i);
    return v;
}

static void pm_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
    X86Pm *p = opaque;

    for (unsigned i = 0; i < size && off + i < X86_PM_SIZE; i++) {
        uint8_t b = (uint8_t)(val >> (8 * i));
        switch (off + i) {
        case 0: p->pm1_sts &= (uint16_t)~b; break;            /* write 1 to clear */
        case 1: p->pm1_sts &= (uint16_t)~(b << 8); break;
        case 2: p->pm1_en = (p->pm1_en & 0xff00) | b; break;
        case 3: p->pm1_en = (uint16_t)((p->pm1_en & 0xff) | (b << 8)); break;
        case 4: p->pm1_cnt = (p->pm1_cnt & 0xff00) | b; break;
        case 5: p->pm1_cnt = (uint16_t)((p->pm1_cnt & 0xff) | (b << 8)); break;
        }
    }
    p->pm1_cnt |= X86_PM1_SCI_EN;           /* always in ACPI mode (no SMI_CMD) */
    if ((p->pm1_cnt & X86_PM1_SLP_EN) && off <= 5 && off + size > 5) {
        unsigned typ = (p->pm1_cnt >> 10) & 7;
        p->pm1_cnt &= (uint16_t)~X86_PM1_SLP_EN;
        if (typ == X86_PM_S5_TYP)
            p->fn(p->opaque, X86_PM_POWEROFF);
        /* Other sleep states are not supported: the guest keeps running. */
    }
}

static const MmioOps pm_ops = { pm_read, pm_write };

static uint64_t reset_read(void *opaque, uint64_t off, unsigned size)
{
    return 0;
}

static void reset_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
    X86Pm *p = opaque;

    if (off == 0 && (val & 0x4))            /* RST_CPU */
        p->fn(p->opaque, X86_PM_RESET);
}

static const MmioOps reset_ops = { reset_read, reset_write };

/* i8042: status 0 (no data, input buffer empty) so probes end quickly. */
static uint64_t kbd_read(void *opaque, uint64_t off, unsigned size)
{
    return 0;
}

static void kbd_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
    X86Pm *p = opaque;

    if (off == X86_I8042_CMD - X86_I8042_DATA && (val & 0xff) == 0xfe)
        p->fn(p->opaque, X86_PM_RESET);
}

static const MmioOps kbd_ops = { kbd_read, kbd_write };

/* The FADT's fixed hardware is this block; the SCI is level-triggered. */
static int pm_acpi(void *opaque, X86AcpiInfo *ai)
{
    ai->pm = (X86AcpiPm){
        .sci_irq = X86_SCI_IRQ,
        .pm1a_evt = X86_PM1A_EVT, .pm1_evt_len = X86_PM1_EVT_LEN,
        .pm1a_cnt = X86_PM1A_CNT, .pm1_cnt_len = X86_PM1_CNT_LEN,
        .reset_port = X86_RESET_PORT, .reset_value = X86_RESET_VALUE,
        .s5_typ = X86_PM_S5_TYP,
    };
    return x86_acpi_add_level_irq(ai, X86_SCI_IRQ);
}

static const DescOps pm_desc = { .acpi = pm_acpi };

/* ---- saved state (docs/state-format.md, X86P) ---- */

static int pm_save(void *opaque, StateBuf *b, char *err, size_t errlen)
{
    X86Pm *p = opaque;

    sb_put_u16(b, p->pm1_sts);
    sb_put_u16(b, p->pm1_en);
    sb_put_u16(b, p->pm1_cnt);
    return 0;
}

static int pm_load(void *opaque, StateBuf *b, uint32_t version, char *err, size_t errlen)
{
    X86Pm *p = opaque;
    uint16_t sts = sb_get_u16(b), en = sb_get_u16(b), cnt = sb_get_u16(b);

    if (devstate_version(version, X86_PM_STATE_VERSION, err, errlen) ||
        devstate_end(b, err, errlen))
        return -1;
    /* The model is always in ACPI mode and acts on SLP_EN at once. */
    if (!(cnt & X86_PM1_SCI_EN) || (cnt & X86_PM1_SLP_EN)) {
        snprintf(err, errlen, "PM1 control 0x%04x: SCI_EN clear or SLP_EN set", cnt);
        return -1;
    }
    p->pm1_sts = sts;
    p->pm1_en = en;
    p->pm1_cnt = cnt;
    return 0;
}

int x86_pm_create(Bus *pio, x86_pm_event_fn fn, void *opaque, VmState *vs)
{
    X86Pm *p = calloc(1, sizeof(*p));

    if (!p)
        return -1;
    p->fn = fn;
    p->opaque = opaque;
    p->pm1_cnt = X86_PM1_SCI_EN;
    /* On failure the ranges already mapped keep p: it is not freed. */
    if (bus_map_desc(pio, X86_PM_BASE, X86_PM_SIZE, &pm_ops, &pm_desc, p, "acpi-pm") < 0 ||
        bus_map(pio, X86_RESET_PORT, 1, &reset_ops, p, "reset") < 0 ||
        bus_map(pio, X86_I8042_DATA, X86_I8042_CMD - X86_I8042_DATA + 1, &kbd_ops, p, "i8042") < 0)
        return -1;
    if (vs && vmstate_register(vs, "X86P", 0, X86_PM_STATE_VERSION, pm_save, pm_load, p) < 0)
        return -1;
    return 0;
}
