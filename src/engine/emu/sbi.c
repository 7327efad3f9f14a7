/* The built-in SBI (v2.0): with no M-mode firmware, S-mode ecalls are
 * answered here. Extensions: BASE, legacy console/timer/shutdown, TIME, IPI,
 * RFENCE, HSM, SRST, DBCN. */

#include "hart.h"
#include "jit.h"

#define SBI_SUCCESS 0
#define SBI_ERR_FAILED (-1)
#define SBI_ERR_NOT_SUPPORTED (-2)
#define SBI_ERR_INVALID_PARAM (-3)
#define SBI_ERR_INVALID_ADDRESS (-5)
#define SBI_ERR_ALREADY_AVAILABLE (-6)

#define EXT_BASE  0x10
#define EXT_TIME  0x54494D45
#define EXT_IPI   0x735049
#define EXT_RFNC  0x52464E43
#define EXT_HSM   0x48534D
#define EXT_SRST  0x53525354
#define EXT_DBCN  0x4442434E

#define SBI_IMPL_ID 0x58454e4f   /* "XENO" */

typedef struct { int64_t err; uint64_t val; } SbiRet;

static bool ext_supported(uint64_t ext)
{
    switch (ext) {
    case EXT_BASE: case EXT_TIME: case EXT_IPI: case EXT_RFNC: case EXT_HSM:
    case EXT_SRST: case EXT_DBCN:
    case 0: case 1: case 2: case 3: case 4: case 5: case 6: case 7: case 8:
        return true;
    }
    return false;
}

static void set_timer(Hart *h, uint64_t t)
{
    h->stimecmp = t;
    h->stimer_armed = true;
    hart_set_mip(h, MIP_STIP, 0);
    hart_update_timer_irqs(h);
}

/* Apply fn to each hart selected by (mask, base); base == -1 means all. */
static int64_t for_harts(Hart *h, uint64_t mask, uint64_t base,
                         void (*fn)(Hart *self, Hart *target))
{
    Emu *e = h->emu;

    if (base == ~0ull) {
        for (unsigned i = 0; i < e->nharts; i++)
            fn(h, e->harts[i]);
        return SBI_SUCCESS;
    }
    for (unsigned b = 0; b < 64; b++) {
        if (!((mask >> b) & 1))
            continue;
        if (base + b >= e->nharts)
            return SBI_ERR_INVALID_PARAM;
    }
    for (unsigned b = 0; b < 64; b++)
        if ((mask >> b) & 1)
            fn(h, e->harts[base + b]);
    return SBI_SUCCESS;
}

static void send_ipi(Hart *self, Hart *t)
{
    (void)self;
    hart_set_mip(t, MIP_SSIP, 1);
}

/* Remote sfence.vma (the whole TLB) / fence.i. */
static void remote_sfence_vma(Hart *self, Hart *t)
{
    hart_flush_wait(self, t, FLUSH_TLB);
}

static void remote_fence_i(Hart *self, Hart *t)
{
    hart_flush_wait(self, t, FLUSH_CODE);
}

static SbiRet hsm_start(Hart *h, uint64_t hartid, uint64_t addr, uint64_t arg)
{
    Emu *e = h->emu;
    Hart *t;
    SbiRet r = { SBI_SUCCESS, 0 };

    if (hartid >= e->nharts)
        return (SbiRet){ SBI_ERR_INVALID_PARAM, 0 };
    t = e->harts[hartid];
    pthread_mutex_lock(&t->lock);
    if (t->run_state != HART_STOPPED) {
        r.err = SBI_ERR_ALREADY_AVAILABLE;
    } else {
        t->start_addr = addr;
        t->start_arg = arg;
        t->start_priv = PRV_S;
        __atomic_store_n(&t->run_state, HART_START_PENDING, __ATOMIC_RELEASE);
        pthread_cond_broadcast(&t->cond);
    }
    pthread_mutex_unlock(&t->lock);
    return r;
}

/* The SBI console is the VMM's firmware console (EngineHost): on the virt
 * board its input is the UART's receive FIFO, as with OpenSBI on QEMU.
 * Returns a byte or -1. */
static int console_getc(Hart *h)
{
    const EngineHost *host = &h->emu->host;

    return host->console_getc ? host->console_getc(host->opaque) : -1;
}

static void console_write(Hart *h, const void *buf, size_t len)
{
    const EngineHost *host = &h->emu->host;

    if (host->console_write)
        host->console_write(host->opaque, buf, len);
}

void sbi_ecall(Hart *h)
{
    uint64_t ext = h->x[17], fid = h->x[16];
    uint64_t a0 = h->x[10], a1 = h->x[11], a2 = h->x[12];
    SbiRet r = { SBI_ERR_NOT_SUPPORTED, 0 };
    bool legacy = ext <= 8;

    switch (ext) {
    case 0:     /* legacy set_timer */
        set_timer(h, a0);
        r.err = 0;
        break;
    case 1: {   /* legacy console_putchar */
        char c = (char)a0;
        console_write(h, &c, 1);
        r.err = 0;
        break;
    }
    case 2:     /* legacy console_getchar */
        r.err = console_getc(h);
        break;
    case 3:     /* legacy clear_ipi */
        hart_set_mip(h, MIP_SSIP, 0);
        r.err = 0;
        break;
    case 4: case 5: case 6: case 7: {   /* legacy IPI / remote fences: a0 = pointer to mask */
        uint64_t mask = ~0ull;
        if (a0 && mem_load(h, a0, 8, &mask)) {
            r.err = SBI_ERR_INVALID_ADDRESS;
            break;
        }
        r.err = for_harts(h, mask, 0, ext == 4 ? send_ipi : ext == 5 ? remote_fence_i
                                                                     : remote_sfence_vma);
        break;
    }
    case 8:     /* legacy shutdown */
        emu_request_exit(h->emu, VM_EXIT_POWEROFF, 0);
        r.err = 0;
        break;
    case EXT_BASE:
        r.err = 0;
        switch (fid) {
        case 0: r.val = 2ull << 24; break;      /* spec version 2.0 */
        case 1: r.val = SBI_IMPL_ID; break;
        case 2: r.val = 1; break;
        case 3: r.val = ext_supported(a0); break;
        case 4: case 5: case 6: r.val = 0; break; /* mvendorid, marchid, mimpid */
        default: r.err = SBI_ERR_NOT_SUPPORTED;
        }
        break;
    case EXT_TIME:
        if (fid == 0) {
            set_timer(h, a0);
            r.err = 0;
        }
        break;
    case EXT_IPI:
        if (fid == 0)
            r.err = for_harts(h, a0, a1, send_ipi);
        break;
    case EXT_RFNC:
        if (fid <= 6) { /* fence.i and sfence.vma variants (no hypervisor ones) */
            if (fid == 0)
                h->stat.rfence_i++;
            else
                h->stat.rfence_vma++;
            r.err = fid == 0 ? for_harts(h, a0, a1, remote_fence_i)
                  : fid <= 2 ? for_harts(h, a0, a1, remote_sfence_vma) : SBI_ERR_NOT_SUPPORTED;
        }
        break;
    case EXT_HSM:
        switch (fid) {
        case 0: r = hsm_start(h, a0, a1, a2); break;
        case 1:
            __atomic_store_n(&h->run_state, HART_STOPPED, __ATOMIC_RELEASE);
            h->exit_chunk = 1;
            r.err = 0;
            break;
        case 2:
            if (a0 >= h->emu->nharts) {
                r.err = SBI_ERR_INVALID_PARAM;
            } else {
                enum hart_run_state s = __atomic_load_n(&h->emu->harts[a0]->run_state, __ATOMIC_ACQUIRE);
                r.err = 0;
                r.val = s == HART_RUNNING ? 0 : s == HART_STOPPED ? 1 : 2;
            }
            break;
        case 3:     /* suspend: default retentive suspend behaves like WFI */
            if ((uint32_t)a0 == 0) {
                h->wfi = true;
                r.err = 0;
            } else {
                r.err = SBI_ERR_NOT_SUPPORTED;
            }
            break;
        }
        break;
    case EXT_SRST:
        if (fid == 0 && a0 <= 2) {
            emu_request_exit(h->emu, a0 == 0 ? VM_EXIT_POWEROFF : VM_EXIT_REBOOT, 0);
            h->exit_chunk = 1;
            r.err = 0;
        } else {
            r.err = SBI_ERR_INVALID_PARAM;
        }
        break;
    case EXT_DBCN:
        if (fid == 0 || fid == 1) {     /* write / read: a0 bytes at a1 (phys) */
            uint64_t len = a0, pa = a1;
            uint8_t *p;
            if (a2 != 0 || pa < h->emu->ram_base || pa >= h->emu->ram_end ||
                len > h->emu->ram_end - pa) {
                r.err = SBI_ERR_INVALID_PARAM;
                break;
            }
            p = h->emu->ram + (pa - h->emu->ram_base);
            r.err = 0;
            if (fid == 0) {
                console_write(h, p, len);
                r.val = len;
            } else {
                uint64_t n = 0;
                int c;
                while (n < len && (c = console_getc(h)) >= 0)
                    p[n++] = (uint8_t)c;
                if (n)
                    gmem_mark_dirty(h->emu->mem, pa, n);
                r.val = n;
            }
        } else if (fid == 2) {
            char c = (char)a0;
            console_write(h, &c, 1);
            r.err = 0;
        }
        break;
    default:
        break;
    }
    h->x[10] = (uint64_t)r.err;
    if (!legacy)
        h->x[11] = r.val;
    h->pc += 4;
}
