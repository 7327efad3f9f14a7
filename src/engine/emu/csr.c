/* Control and status registers: access rules and side effects. */
#include "hart.h"

#define MISA_RV64GC ((2ull << 62) | (1u << ('A' - 'A')) | (1u << ('C' - 'A')) | \
                     (1u << ('D' - 'A')) | (1u << ('F' - 'A')) | (1u << ('I' - 'A')) | \
                     (1u << ('M' - 'A')) | (1u << ('S' - 'A')) | (1u << ('U' - 'A')))

#define SSTATUS_MASK (MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_FS | \
                      MSTATUS_XS | MSTATUS_SUM | MSTATUS_MXR | MSTATUS_UXL | MSTATUS_SD)
#define MSTATUS_WMASK (MSTATUS_SIE | MSTATUS_MIE | MSTATUS_SPIE | MSTATUS_MPIE | \
                       MSTATUS_SPP | MSTATUS_MPP | MSTATUS_FS | MSTATUS_MPRV | \
                       MSTATUS_SUM | MSTATUS_MXR | MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR)
/* Exceptions that can be delegated (not ecall from M). */
#define MEDELEG_MASK 0xb3ffull
#define MIP_M_WRITABLE (MIP_SSIP | MIP_STIP | MIP_SEIP)
#define MIE_MASK (MIP_SSIP | MIP_MSIP | MIP_STIP | MIP_MTIP | MIP_SEIP | MIP_MEIP)

void hart_reset(Hart *h, uint64_t pc)
{
    for (int i = 0; i < 32; i++) {
        h->x[i] = 0;
        h->f[i] = 0;
    }
    h->pc = pc;
    h->fflags = h->frm = 0;
    h->misa = MISA_RV64GC;
    h->mstatus = (2ull << 32) | (2ull << 34);   /* UXL = SXL = 64 */
    h->medeleg = h->mideleg = h->mie = 0;
    h->mtvec = h->mscratch = h->mepc = h->mcause = h->mtval = 0;
    h->mcounteren = h->menvcfg = h->mcountinhibit = 0;
    h->stvec = h->sscratch = h->sepc = h->scause = h->stval = h->satp = 0;
    h->scounteren = h->senvcfg = 0;
    h->satp_mode = 0;
    h->satp_ppn = 0;
    __atomic_store_n(&h->mip, 0, __ATOMIC_RELEASE);
    h->mtimecmp = ~0ull;
    h->stimer_armed = false;
    h->lr_valid = false;
    h->wfi = false;
    h->priv = PRV_M;
    h->tlb_used = (1u << TLB_CTX) - 1;      /* every set, whatever it holds */
    tlb_flush(h);
    mmu_update_ctx(h);
}

static uint64_t read_mstatus(const Hart *h)
{
    uint64_t s = h->mstatus & ~MSTATUS_SD;
    if ((s & MSTATUS_FS) == MSTATUS_FS)
        s |= MSTATUS_SD;
    return s;
}

static void write_mstatus(Hart *h, uint64_t val, uint64_t mask)
{
    uint64_t old = h->mstatus, nv;

    nv = (old & ~mask) | (val & mask);
    /* MPP cannot hold the reserved value 2 (WARL): keep the old one. */
    if (((nv & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT) == 2)
        nv = (nv & ~MSTATUS_MPP) | (old & MSTATUS_MPP);
    nv = (nv & ~(MSTATUS_UXL | MSTATUS_SXL)) | (2ull << 32) | (2ull << 34);
    h->mstatus = nv;
    if ((old ^ nv) & MSTATUS_MXR)
        tlb_flush(h);
    if ((old ^ nv) & (MSTATUS_MPRV | MSTATUS_MPP | MSTATUS_SUM))
        mmu_update_ctx(h);
}

/* Counter CSRs visible below M only if enabled in mcounteren (and for U
 * also scounteren). */
static bool counter_ok(const Hart *h, unsigned idx)
{
    if (h->priv == PRV_M)
        return true;
    if (!((h->mcounteren >> idx) & 1))
        return false;
    /* With the built-in SBI we play the firmware's part: OpenSBI emulates
     * counter reads that scounteren refuses to U-mode (Linux 6.1 never sets
     * scounteren without its PMU driver, yet the vDSO reads `time`), so the
     * same guest behaves as on QEMU + OpenSBI. */
    if (h->priv == PRV_U && !((h->scounteren >> idx) & 1) && !h->emu->sbi)
        return false;
    return true;
}

int csr_read(Hart *h, unsigned csr, uint64_t *val)
{
    if (((csr >> 8) & 3) > (unsigned)h->priv)
        return -1;
    switch (csr) {
    case 0x001: if (!(h->mstatus & MSTATUS_FS)) return -1; *val = h->fflags; return 0;
    case 0x002: if (!(h->mstatus & MSTATUS_FS)) return -1; *val = h->frm; return 0;
    case 0x003: if (!(h->mstatus & MSTATUS_FS)) return -1; *val = h->fflags | (h->frm << 5); return 0;
    case 0xc00: if (!counter_ok(h, 0)) return -1; *val = h->instret - h->mcycle_off; return 0;
    case 0xc01: if (!counter_ok(h, 1)) return -1; *val = emu_mtime(h->emu); return 0;
    case 0xc02: if (!counter_ok(h, 2)) return -1; *val = h->instret - h->minstret_off; return 0;
    case 0x100: *val = read_mstatus(h) & SSTATUS_MASK; return 0;
    case 0x104: *val = h->mie & h->mideleg; return 0;
    case 0x105: *val = h->stvec; return 0;
    case 0x106: *val = h->scounteren; return 0;
    case 0x10a: *val = h->senvcfg; return 0;
    case 0x140: *val = h->sscratch; return 0;
    case 0x141: *val = h->sepc; return 0;
    case 0x142: *val = h->scause; return 0;
    case 0x143: *val = h->stval; return 0;
    case 0x144: *val = __atomic_load_n(&h->mip, __ATOMIC_RELAXED) & h->mideleg; return 0;
    case 0x180:
        if (h->priv == PRV_S && (h->mstatus & MSTATUS_TVM))
            return -1;
        *val = h->satp;
        return 0;
    case 0xf11: case 0xf12: case 0xf13: case 0xf15: *val = 0; return 0;
    case 0xf14: *val = h->mhartid; return 0;
    case 0x300: *val = read_mstatus(h); return 0;
    case 0x301: *val = h->misa; return 0;
    case 0x302: *val = h->medeleg; return 0;
    case 0x303: *val = h->mideleg; return 0;
    case 0x304: *val = h->mie; return 0;
    case 0x305: *val = h->mtvec; return 0;
    case 0x306: *val = h->mcounteren; return 0;
    case 0x30a: *val = h->menvcfg; return 0;
    case 0x320: *val = h->mcountinhibit; return 0;
    case 0x340: *val = h->mscratch; return 0;
    case 0x341: *val = h->mepc; return 0;
    case 0x342: *val = h->mcause; return 0;
    case 0x343: *val = h->mtval; return 0;
    case 0x344: *val = __atomic_load_n(&h->mip, __ATOMIC_RELAXED); return 0;
    case 0x34a: case 0x34b: *val = 0; return 0;      /* mtinst, mtval2 */
    case 0xb00: *val = h->instret - h->mcycle_off; return 0;
    case 0xb02: *val = h->instret - h->minstret_off; return 0;
    default:
        break;
    }
    if (csr >= 0x3a0 && csr <= 0x3af) {         /* pmpcfg (odd ones illegal on RV64) */
        if (csr & 1)
            return -1;
        *val = h->pmpcfg[csr - 0x3a0];
        return 0;
    }
    if (csr >= 0x3b0 && csr <= 0x3ef) {
        *val = h->pmpaddr[csr - 0x3b0];
        return 0;
    }
    if ((csr >= 0xb03 && csr <= 0xb1f) || (csr >= 0x323 && csr <= 0x33f)) {
        *val = 0;       /* hpm counters/events: hardwired to zero */
        return 0;
    }
    if (csr >= 0xc03 && csr <= 0xc1f) {
        if (!counter_ok(h, csr - 0xc00))
            return -1;
        *val = 0;
        return 0;
    }
    return -1;
}

int csr_write(Hart *h, unsigned csr, uint64_t val)
{
    if (((csr >> 8) & 3) > (unsigned)h->priv || (csr >> 10) == 3)
        return -1;
    switch (csr) {
    case 0x001: if (!(h->mstatus & MSTATUS_FS)) return -1;
        h->fflags = val & 0x1f; h->mstatus |= MSTATUS_FS; return 0;
    case 0x002: if (!(h->mstatus & MSTATUS_FS)) return -1;
        h->frm = val & 7; h->mstatus |= MSTATUS_FS; return 0;
    case 0x003: if (!(h->mstatus & MSTATUS_FS)) return -1;
        h->fflags = val & 0x1f; h->frm = (val >> 5) & 7; h->mstatus |= MSTATUS_FS; return 0;
    case 0x100: write_mstatus(h, val, SSTATUS_MASK & ~(MSTATUS_SD | MSTATUS_UXL | MSTATUS_XS)); return 0;
    case 0x104: h->mie = (h->mie & ~h->mideleg) | (val & h->mideleg & MIE_MASK); return 0;
    case 0x105: h->stvec = val & ~2ull; return 0;
    case 0x106: h->scounteren = val & 0xffffffffu; return 0;
    case 0x10a: h->senvcfg = 0; return 0;
    case 0x140: h->sscratch = val; return 0;
    case 0x141: h->sepc = val & ~1ull; return 0;
    case 0x142: h->scause = val; return 0;
    case 0x143: h->stval = val; return 0;
    case 0x144: {
        uint64_t m = MIP_SSIP & h->mideleg;
        hart_set_mip(h, m & val, 1);
        hart_set_mip(h, m & ~val, 0);
        return 0;
    }
    case 0x180: {
        unsigned mode = (unsigned)(val >> 60);
        if (h->priv == PRV_S && (h->mstatus & MSTATUS_TVM))
            return -1;
        if (mode != 0 && mode != 8 && mode != 9)
            return 0;               /* unsupported mode: write ignored (WARL) */
        h->satp = val & ((0xfull << 60) | (0xffffull << 44) | ((1ull << 44) - 1));
        h->satp_mode = (int)mode;
        h->satp_ppn = val & ((1ull << 44) - 1);
        h->stat.satp++;
        tlb_flush(h);
        return 0;
    }
    case 0x300: write_mstatus(h, val, MSTATUS_WMASK); return 0;
    case 0x301: return 0;           /* misa: fixed */
    case 0x302: h->medeleg = val & MEDELEG_MASK; return 0;
    case 0x303: h->mideleg = val & MIP_S_MASK; return 0;
    case 0x304: h->mie = val & MIE_MASK; return 0;
    case 0x305: h->mtvec = val & ~2ull; return 0;
    case 0x306: h->mcounteren = val & 0xffffffffu; return 0;
    case 0x30a: h->menvcfg = 0; return 0;
    case 0x320: h->mcountinhibit = val & ~2ull; return 0;
    case 0x340: h->mscratch = val; return 0;
    case 0x341: h->mepc = val & ~1ull; return 0;
    case 0x342: h->mcause = val; return 0;
    case 0x343: h->mtval = val; return 0;
    case 0x344: {
        uint64_t m = MIP_M_WRITABLE;
        hart_set_mip(h, m & val, 1);
        hart_set_mip(h, m & ~val, 0);
        return 0;
    }
    case 0x34a: case 0x34b: return 0;
    case 0xb00: h->mcycle_off = h->instret - val; return 0;
    case 0xb02: h->minstret_off = h->instret - val; return 0;
    default:
        break;
    }
    if (csr >= 0x3a0 && csr <= 0x3af) {
        if (csr & 1)
            return -1;
        h->pmpcfg[csr - 0x3a0] = val;
        return 0;
    }
    if (csr >= 0x3b0 && csr <= 0x3ef) {
        h->pmpaddr[csr - 0x3b0] = val & ((1ull << 54) - 1);
        return 0;
    }
    if ((csr >= 0xb03 && csr <= 0xb1f) || (csr >= 0x323 && csr <= 0x33f))
        return 0;
    return -1;
}
