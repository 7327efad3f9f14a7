/* ns16550a UART model: enough of the 16550 for Linux's 8250 driver and
 * OpenSBI: FIFOs, divisor latch, IER/IIR interrupts, LSR status. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hw/devstate.h"
#include "hw/devtree.h"
#include "uart.h"

#define RX_FIFO 4096

/* The input clock the device tree announces: the 16550's usual 1.8432 MHz
 * crystal times two, as on QEMU's boards. Drivers derive divisors from it;
 * the model ignores the divisor (transmission is instantaneous). */
#define UART_CLOCK_HZ 3686400
/* The address window a memory-mapped UART's node claims, as QEMU's virt
 * board gives it; the registers decode in the first 8 << regshift bytes. */
#define UART_FDT_WINDOW 0x100
#define UART_FDT_NAME "serial"

enum { REG_RBR_THR = 0, REG_IER = 1, REG_IIR_FCR = 2, REG_LCR = 3, REG_MCR = 4,
       REG_LSR = 5, REG_MSR = 6, REG_SCR = 7 };

#define IER_RDI  0x01
#define IER_THRI 0x02
#define LSR_DR   0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define IIR_NONE 0x01
#define IIR_THRI 0x02
#define IIR_RDI  0x04
#define IIR_FIFO 0xc0
#define LCR_DLAB 0x80

struct Uart {
    uint64_t base;
    unsigned regshift;
    IrqLine irq;
    int out_fd;
    uint8_t ier, lcr, mcr, scr, fcr, dll, dlm;
    int thr_pending;            /* THR-empty interrupt pending */
    uint8_t rx[RX_FIFO];
    size_t rx_head, rx_count;
    void (*rx_ready_cb)(void *);
    void *rx_ready_opaque;
    void (*out_fn)(void *, const uint8_t *, size_t);
    void *out_opaque;
};

static void uart_update_irq(Uart *u)
{
    int level = ((u->ier & IER_RDI) && u->rx_count) || ((u->ier & IER_THRI) && u->thr_pending);
    irq_set(&u->irq, level);
}

static void out_byte(Uart *u, uint8_t c)
{
    if (u->out_fn) {
        u->out_fn(u->out_opaque, &c, 1);
        return;
    }
    if (u->out_fd < 0)
        return;
    for (;;) {
        ssize_t n = write(u->out_fd, &c, 1);
        if (n == 1 || (n < 0 && errno != EINTR && errno != EAGAIN))
            return;
    }
}

static uint64_t uart_read(void *opaque, uint64_t off, unsigned size)
{
    Uart *u = opaque;
    unsigned reg = (unsigned)(off >> u->regshift);
    uint8_t v = 0;

    switch (reg) {
    case REG_RBR_THR:
        if (u->lcr & LCR_DLAB) {
            v = u->dll;
        } else if (u->rx_count) {
            v = u->rx[u->rx_head];
            u->rx_head = (u->rx_head + 1) % RX_FIFO;
            u->rx_count--;
            uart_update_irq(u);
            if (u->rx_count == 0 && u->rx_ready_cb)
                u->rx_ready_cb(u->rx_ready_opaque);
        }
        break;
    case REG_IER:
        v = (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
        break;
    case REG_IIR_FCR:
        if ((u->ier & IER_RDI) && u->rx_count) {
            v = IIR_RDI;
        } else if ((u->ier & IER_THRI) && u->thr_pending) {
            v = IIR_THRI;
            u->thr_pending = 0;     /* reading IIR clears THRE interrupt */
            uart_update_irq(u);
        } else {
            v = IIR_NONE;
        }
        if (u->fcr & 1)
            v |= IIR_FIFO;
        break;
    case REG_LCR: v = u->lcr; break;
    case REG_MCR: v = u->mcr; break;
    case REG_LSR: v = LSR_THRE | LSR_TEMT | (u->rx_count ? LSR_DR : 0); break;
    case REG_MSR: v = 0xb0; break;   /* DCD, DSR, CTS */
    case REG_SCR: v = u->scr; break;
    }
    return v;
}

static void uart_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
    Uart *u = opaque;
    unsigned reg = (unsigned)(off >> u->regshift);
    uint8_t v = (uint8_t)val;

    switch (reg) {
    case REG_RBR_THR:
        if (u->lcr & LCR_DLAB) {
            u->dll = v;
        } else {
            out_byte(u, v);
            /* Transmission is instantaneous: THR is empty again at once. */
            u->thr_pending = 1;
            uart_update_irq(u);
        }
        break;
    case REG_IER:
        if (u->lcr & LCR_DLAB) {
            u->dlm = v;
        } else {
            uint8_t old = u->ier;
            u->ier = v & 0x0f;
            if ((u->ier & IER_THRI) && !(old & IER_THRI))
                u->thr_pending = 1;
            uart_update_irq(u);
        }
        break;
    case REG_IIR_FCR:
        u->fcr = v;
        if (v & 2) {            /* clear RX FIFO */
            u->rx_head = u->rx_count = 0;
            uart_update_irq(u);
        }
        break;
    case REG_LCR: u->lcr = v; break;
    case REG_MCR: u->mcr = v & 0x1f; break;
    case REG_SCR: u->scr = v; break;
    default: break;
    }
}

const MmioOps uart_ops = { uart_read, uart_write };

void uart_fdt_name(const Uart *u, char *buf, size_t len)
{
    dt_node_name(buf, len, UART_FDT_NAME, u->base);
}

static int uart_fdt(void *opaque, const FdtCtx *ctx)
{
    Uart *u = opaque;

    DT_TRY(dt_begin_node_at(ctx->fdt, UART_FDT_NAME, u->base));
    DT_TRY(fdt_property_string(ctx->fdt, "compatible", "ns16550a"));
    DT_TRY(dt_prop_reg(ctx->fdt, u->base, UART_FDT_WINDOW));
    DT_TRY(fdt_property_u32(ctx->fdt, "clock-frequency", UART_CLOCK_HZ));
    DT_TRY(dt_prop_irq(ctx, u->irq.irq));
    return fdt_end_node(ctx->fdt);
}

static const DescOps uart_desc = { .fdt = uart_fdt };

Uart *uart_create(Bus *bus, uint64_t base, unsigned regshift, IrqLine irq, int out_fd)
{
    Uart *u = calloc(1, sizeof(*u));

    if (!u)
        return NULL;
    u->base = base;
    u->regshift = regshift;
    u->irq = irq;
    u->out_fd = out_fd;
    if (bus && bus_map_desc(bus, base, 8u << regshift, &uart_ops, &uart_desc, u, "uart") < 0) {
        free(u);
        return NULL;
    }
    return u;
}

void uart_free(Uart *u)
{
    free(u);
}

size_t uart_rx_space(Uart *u)
{
    return RX_FIFO - u->rx_count;
}

size_t uart_rx_push(Uart *u, const uint8_t *buf, size_t len)
{
    size_t n = 0;

    while (n < len && u->rx_count < RX_FIFO) {
        u->rx[(u->rx_head + u->rx_count) % RX_FIFO] = buf[n++];
        u->rx_count++;
    }
    uart_update_irq(u);
    return n;
}

int uart_rx_pop(Uart *u)
{
    int c;

    if (!u->rx_count)
        return -1;
    c = u->rx[u->rx_head];
    u->rx_head = (u->rx_head + 1) % RX_FIFO;
    u->rx_count--;
    uart_update_irq(u);
    if (u->rx_count == 0 && u->rx_ready_cb)
        u->rx_ready_cb(u->rx_ready_opaque);
    return c;
}

void uart_set_rx_ready_cb(Uart *u, void (*cb)(void *opaque), void *opaque)
{
    u->rx_ready_cb = cb;
    u->rx_ready_opaque = opaque;
}

void uart_set_output(Uart *u, void (*fn)(void *opaque, const uint8_t *buf, size_t len),
                     void *opaque)
{
    u->out_fn = fn;
    u->out_opaque = opaque;
}

/* ---- saved state (docs/state-format.md, UART) ---- */

static int uart_save(void *opaque, StateBuf *b, char *err, size_t errlen)
{
    Uart *u = opaque;

    sb_put_u8(b, u->ier);
    sb_put_u8(b, u->lcr);
    sb_put_u8(b, u->mcr);
    sb_put_u8(b, u->scr);
    sb_put_u8(b, u->fcr);
    sb_put_u8(b, u->dll);
    sb_put_u8(b, u->dlm);
    sb_put_bool(b, u->thr_pending);
    /* The FIFO oldest byte first: the ring's head is the model's business. */
    sb_put_u32(b, (uint32_t)u->rx_count);
    for (size_t i = 0; i < u->rx_count; i++)
        sb_put_u8(b, u->rx[(u->rx_head + i) % RX_FIFO]);
    return 0;
}

static int uart_load(void *opaque, StateBuf *b, uint32_t version, char *err, size_t errlen)
{
    Uart *u = opaque;
    uint8_t ier = sb_get_u8(b), lcr = sb_get_u8(b), mcr = sb_get_u8(b), scr = sb_get_u8(b);
    uint8_t fcr = sb_get_u8(b), dll = sb_get_u8(b), dlm = sb_get_u8(b);
    bool thr_pending = sb_get_bool(b);
    uint32_t count = sb_get_u32(b);
    uint8_t rx[RX_FIFO];

    if (devstate_version(version, UART_STATE_VERSION, err, errlen))
        return -1;
    if (!b->error && (count > RX_FIFO || count > sb_remaining(b))) {
        snprintf(err, errlen, "receive FIFO of %u bytes (at most %u)", count, RX_FIFO);
        return -1;
    }
    sb_get_bytes(b, rx, count);
    if (devstate_end(b, err, errlen))
        return -1;
    if ((ier & ~0x0fu) || (mcr & ~0x1fu)) {
        snprintf(err, errlen, "reserved IER or MCR bits set");
        return -1;
    }
    u->ier = ier;
    u->lcr = lcr;
    u->mcr = mcr;
    u->scr = scr;
    u->fcr = fcr;
    u->dll = dll;
    u->dlm = dlm;
    u->thr_pending = thr_pending;
    u->rx_head = 0;
    u->rx_count = count;
    memcpy(u->rx, rx, count);
    /* The interrupt controller was restored on its own: drive the line to
     * the level these registers mean. */
    uart_update_irq(u);
    return 0;
}

int uart_state_register(Uart *u, VmState *vs)
{
    return vmstate_register(vs, "UART", 0, UART_STATE_VERSION, uart_save, uart_load, u);
}
