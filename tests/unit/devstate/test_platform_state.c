/* Saved state of the platform devices: the UART, the CLINT, the PLIC and
 * the x86 PM block. Each is driven into a non-trivial state through its
 * registers, saved, loaded into a fresh device, and must then read and
 * behave exactly as the original; every tampered section is refused. */
#include "sectest.h"

#include <stdlib.h>

#include "common/log.h"
#include "hw/bus.h"
#include "hw/riscv/riscv.h"
#include "hw/uart.h"
#include "hw/x86/x86.h"

/* ---- UART ---- */

enum { RBR = 0, IER = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, SCR = 7 };

typedef struct UartT {
    Uart *u;
    VmState vs;
    int level;
} UartT;

static void uart_level(void *ctrl, unsigned irq, int level)
{
    ((UartT *)ctrl)->level = level;
}

static void uart_new(UartT *t)
{
    memset(t, 0, sizeof(*t));
    t->level = -1;
    t->u = uart_create(NULL, 0, 0, (IrqLine){ uart_level, t, 10 }, -1);
    assert_non_null(t->u);
    assert_int_equal(uart_state_register(t->u, &t->vs), 0);
}

static uint8_t urd(UartT *t, unsigned reg) { return (uint8_t)uart_ops.read(t->u, reg, 1); }
static void uwr(UartT *t, unsigned reg, uint8_t v) { uart_ops.write(t->u, reg, v, 1); }

/* Divisor latch, line settings, FIFO on, both interrupts enabled, and
 * "hello" received of which "h" was read. */
static void uart_busy(UartT *t)
{
    uwr(t, LCR, 0x83);
    uwr(t, RBR, 0x0c);
    uwr(t, IER, 0x01);
    uwr(t, LCR, 0x03);
    uwr(t, FCR, 0x07);
    uwr(t, MCR, 0x0b);
    uwr(t, SCR, 0x5a);
    uwr(t, IER, 0x03);
    assert_int_equal(uart_rx_push(t->u, (const uint8_t *)"hello", 5), 5);
    assert_int_equal(urd(t, RBR), 'h');
    assert_int_equal(t->level, 1);
}

static void test_uart_roundtrip(void **state)
{
    UartT a, b;
    Saved *sv = malloc(sizeof(*sv));

    uart_new(&a);
    uart_new(&b);
    uart_busy(&a);
    save_section(&a.vs, sv);
    assert_loads(&b.vs, sv);
    assert_int_equal(b.level, 1);       /* the line is driven at load */

    for (unsigned r = IER; r <= SCR; r++)
        if (r != IIR)
            assert_int_equal(urd(&b, r), urd(&a, r));
    uwr(&a, LCR, 0x83);
    uwr(&b, LCR, 0x83);
    assert_int_equal(urd(&b, RBR), 0x0c);
    assert_int_equal(urd(&b, IER), 0x01);
    uwr(&a, LCR, 0x03);
    uwr(&b, LCR, 0x03);
    /* Same interrupt sequence, same bytes: RDI for "ello", then THRE. */
    for (int i = 0; i < 4; i++) {
        assert_int_equal(urd(&b, IIR), urd(&a, IIR));
        assert_int_equal(urd(&b, RBR), urd(&a, RBR));
    }
    assert_int_equal(urd(&b, LSR), urd(&a, LSR));
    assert_int_equal(urd(&a, IIR), 0xc2);
    assert_int_equal(urd(&b, IIR), 0xc2);
    assert_int_equal(urd(&b, IIR), 0xc1);
    assert_int_equal(b.level, 0);
    assert_int_equal(uart_rx_space(b.u), uart_rx_space(a.u));
    uart_free(a.u);
    uart_free(b.u);
    free(sv);
}

/* A full FIFO that wrapped around its ring comes back in order. */
static void test_uart_full_fifo(void **state)
{
    UartT a, b;
    Saved *sv = malloc(sizeof(*sv));
    uint8_t buf[4096];

    uart_new(&a);
    uart_new(&b);
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 7);
    assert_int_equal(uart_rx_push(a.u, buf, 100), 100);
    for (int i = 0; i < 100; i++)
        urd(&a, RBR);
    assert_int_equal(uart_rx_push(a.u, buf, sizeof(buf)), sizeof(buf));
    assert_int_equal(uart_rx_space(a.u), 0);
    save_section(&a.vs, sv);
    assert_loads(&b.vs, sv);
    assert_int_equal(b.level, 0);       /* no interrupt enabled */
    for (size_t i = 0; i < sizeof(buf); i++)
        assert_int_equal(urd(&b, RBR), buf[i]);
    assert_int_equal(urd(&b, LSR) & 1, 0);
    uart_free(a.u);
    uart_free(b.u);
    free(sv);
}

static void test_uart_hostile(void **state)
{
    UartT a, b;
    Saved *good = malloc(sizeof(*good)), *sv = malloc(sizeof(*sv));

    uart_new(&a);
    uart_new(&b);
    uart_busy(&a);
    save_section(&a.vs, good);
    check_framing(&b.vs, good);
    *sv = *good;
    sv_u8(sv, 0, 0x10);                 /* IER bit 4 */
    assert_load_fails(&b.vs, sv, "reserved IER or MCR");
    *sv = *good;
    sv_u8(sv, 2, 0x20);                 /* MCR bit 5 */
    assert_load_fails(&b.vs, sv, "reserved IER or MCR");
    *sv = *good;
    sv_u8(sv, 7, 2);                    /* thr_pending not a bool */
    assert_load_fails(&b.vs, sv, "malformed");
    *sv = *good;
    sv_u32(sv, 8, 4097);                /* more than the FIFO holds */
    assert_load_fails(&b.vs, sv, "receive FIFO");
    *sv = *good;
    sv_u32(sv, 8, 5);                   /* more than the section carries */
    assert_load_fails(&b.vs, sv, "receive FIFO");
    /* Nothing of a refused load was applied. */
    assert_int_equal(urd(&b, LCR), 0);
    assert_int_equal(urd(&b, LSR) & 1, 0);
    assert_int_equal(b.level, -1);
    uart_free(a.u);
    uart_free(b.u);
    free(good);
    free(sv);
}

/* ---- CLINT and PLIC: a fake pair of harts ---- */

#define NHARTS 2
#define MIP_MSIP (1ull << 3)
#define MIP_SEIP (1ull << 9)
#define MIP_MEIP (1ull << 11)

typedef struct Harts {
    uint64_t mip[NHARTS];
    uint64_t mtimecmp[NHARTS];
    unsigned calls;
} Harts;

static void h_set_mip(void *o, unsigned hart, uint64_t bit, int level)
{
    Harts *h = o;

    assert_true(hart < NHARTS);
    h->mip[hart] = level ? h->mip[hart] | bit : h->mip[hart] & ~bit;
    h->calls++;
}

static uint64_t h_mtime(void *o) { return 1000; }
static uint64_t h_get_cmp(void *o, unsigned hart) { return ((Harts *)o)->mtimecmp[hart]; }
static void h_set_cmp(void *o, unsigned hart, uint64_t v) { ((Harts *)o)->mtimecmp[hart] = v; }

static RiscvCpuIf cpu_if(Harts *h)
{
    return (RiscvCpuIf){ .opaque = h, .nharts = NHARTS, .set_mip = h_set_mip,
                         .get_mtime = h_mtime, .get_mtimecmp = h_get_cmp,
                         .set_mtimecmp = h_set_cmp };
}

static uint32_t brd(Bus *b, uint64_t addr)
{
    uint64_t v = 0;

    assert_true(bus_read(b, addr, 4, &v));
    return (uint32_t)v;
}

static void bwr(Bus *b, uint64_t addr, uint32_t v)
{
    assert_true(bus_write(b, addr, 4, v));
}

typedef struct ClintT {
    Bus bus;
    Harts h;
    Clint *c;
    VmState vs;
} ClintT;

static void clint_new(ClintT *t, unsigned nharts)
{
    RiscvCpuIf cpu;

    memset(t, 0, sizeof(*t));
    cpu = cpu_if(&t->h);
    cpu.nharts = nharts;
    t->c = clint_create(&t->bus, VIRT_CLINT_BASE, &cpu);
    assert_non_null(t->c);
    assert_int_equal(clint_state_register(t->c, &t->vs), 0);
}

static void test_clint(void **state)
{
    ClintT *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b)), *c = calloc(1, sizeof(*c));
    Saved *good = malloc(sizeof(*good)), *sv = malloc(sizeof(*sv));

    clint_new(a, NHARTS);
    clint_new(b, NHARTS);
    bwr(&a->bus, VIRT_CLINT_BASE + 4, 1);       /* hart 1's msip */
    assert_int_equal(a->h.mip[1], MIP_MSIP);
    save_section(&a->vs, good);
    assert_loads(&b->vs, good);
    assert_int_equal(brd(&b->bus, VIRT_CLINT_BASE + 0), 0);
    assert_int_equal(brd(&b->bus, VIRT_CLINT_BASE + 4), 1);
    assert_int_equal(b->h.mip[1], MIP_MSIP);    /* the hart sees it too */
    assert_int_equal(b->h.mip[0], 0);
    bwr(&b->bus, VIRT_CLINT_BASE + 4, 0);       /* and it clears as before */
    assert_int_equal(b->h.mip[1], 0);

    check_framing(&b->vs, good);
    *sv = *good;
    sv_u8(sv, 4, 2);
    assert_load_fails(&b->vs, sv, "malformed");
    clint_new(c, 1);                            /* another machine */
    assert_load_fails(&c->vs, good, "saved with 2 harts, this machine has 1");
    assert_int_equal(c->h.calls, 0);
    clint_free(a->c);
    clint_free(b->c);
    clint_free(c->c);
    free(a);
    free(b);
    free(c);
    free(good);
    free(sv);
}

/* PLIC registers. */
#define P_PRIO(s)     (VIRT_PLIC_BASE + 4ull * (s))
#define P_PENDING(w)  (VIRT_PLIC_BASE + 0x1000 + 4ull * (w))
#define P_ENABLE(c, w) (VIRT_PLIC_BASE + 0x2000 + 0x80ull * (c) + 4ull * (w))
#define P_THRESH(c)   (VIRT_PLIC_BASE + 0x200000 + 0x1000ull * (c))
#define P_CLAIM(c)    (P_THRESH(c) + 4)

typedef struct PlicT {
    Bus bus;
    Harts h;
    Plic *p;
    VmState vs;
} PlicT;

static void plic_new(PlicT *t, unsigned nharts)
{
    RiscvCpuIf cpu;

    memset(t, 0, sizeof(*t));
    cpu = cpu_if(&t->h);
    cpu.nharts = nharts;
    t->p = plic_create(&t->bus, VIRT_PLIC_BASE, &cpu);
    assert_non_null(t->p);
    assert_int_equal(plic_state_register(t->p, &t->vs), 0);
}

static void plic_raise(PlicT *t, unsigned src, int level)
{
    IrqLine l = plic_irq_line(t->p, src);
    irq_set(&l, level);
}

/* Sources 5, 10 and 40 raised, 10 claimed on hart 0's S context (1);
 * hart 1's M context (2) enables 40 above a threshold of 1. */
static void plic_busy(PlicT *t)
{
    bwr(&t->bus, P_PRIO(5), 2);
    bwr(&t->bus, P_PRIO(10), 3);
    bwr(&t->bus, P_PRIO(40), 6);
    bwr(&t->bus, P_ENABLE(1, 0), (1u << 5) | (1u << 10));
    bwr(&t->bus, P_ENABLE(2, 1), 1u << (40 - 32));
    bwr(&t->bus, P_THRESH(1), 1);
    bwr(&t->bus, P_THRESH(2), 1);
    plic_raise(t, 5, 1);
    plic_raise(t, 10, 1);
    plic_raise(t, 40, 1);
    assert_int_equal(brd(&t->bus, P_CLAIM(1)), 10);
    assert_int_equal(t->h.mip[0], MIP_SEIP);    /* 5 still pending */
    assert_int_equal(t->h.mip[1], MIP_MEIP);
}

static void test_plic_roundtrip(void **state)
{
    PlicT *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
    Saved *sv = malloc(sizeof(*sv));

    plic_new(a, NHARTS);
    plic_new(b, NHARTS);
    plic_busy(a);
    save_section(&a->vs, sv);
    assert_loads(&b->vs, sv);
    /* The harts' external interrupt lines follow the loaded registers. */
    assert_int_equal(b->h.mip[0], MIP_SEIP);
    assert_int_equal(b->h.mip[1], MIP_MEIP);
    for (unsigned s = 0; s < 96; s++)
        assert_int_equal(brd(&b->bus, P_PRIO(s)), brd(&a->bus, P_PRIO(s)));
    for (unsigned c = 0; c < 2 * NHARTS; c++) {
        for (unsigned w = 0; w < 3; w++)
            assert_int_equal(brd(&b->bus, P_ENABLE(c, w)), brd(&a->bus, P_ENABLE(c, w)));
        assert_int_equal(brd(&b->bus, P_THRESH(c)), brd(&a->bus, P_THRESH(c)));
    }
    for (unsigned w = 0; w < 3; w++)
        assert_int_equal(brd(&b->bus, P_PENDING(w)), brd(&a->bus, P_PENDING(w)));
    /* Same behaviour: claim 5; complete 10, whose line is still high, so it
     * pends again and is the next claim; 40 on hart 1. */
    PlicT *t[2] = { a, b };
    for (int i = 0; i < 2; i++) {
        assert_int_equal(brd(&t[i]->bus, P_CLAIM(1)), 5);
        assert_int_equal(t[i]->h.mip[0], 0);
        bwr(&t[i]->bus, P_CLAIM(1), 10);
        assert_int_equal(t[i]->h.mip[0], MIP_SEIP);
        assert_int_equal(brd(&t[i]->bus, P_CLAIM(1)), 10);
        assert_int_equal(brd(&t[i]->bus, P_CLAIM(2)), 40);
        assert_int_equal(t[i]->h.mip[1], 0);
        plic_raise(t[i], 40, 0);
        bwr(&t[i]->bus, P_CLAIM(2), 40);
        assert_int_equal(t[i]->h.mip[1], 0);
    }
    plic_free(a->p);
    plic_free(b->p);
    free(a);
    free(b);
    free(sv);
}

/* Offsets in PLIC version 1: nsrc, nctx, 96 priorities, then level,
 * pending, claimed (3 words each), then per context 3 enable words and a
 * threshold. */
#define O_PRIO(s)    (8 + 4 * (s))
#define O_LEVEL(w)   (8 + 4 * 96 + 4 * (w))
#define O_PENDING(w) (O_LEVEL(3) + 4 * (w))
#define O_CLAIMED(w) (O_PENDING(3) + 4 * (w))
#define O_ENABLE(c, w) (O_CLAIMED(3) + 16 * (c) + 4 * (w))
#define O_THRESH(c)  (O_ENABLE(c, 3))

static void test_plic_hostile(void **state)
{
    PlicT *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b)), *c = calloc(1, sizeof(*c));
    Saved *good = malloc(sizeof(*good)), *sv = malloc(sizeof(*sv));

    plic_new(a, NHARTS);
    plic_new(b, NHARTS);
    plic_busy(a);
    save_section(&a->vs, good);
    assert_int_equal(good->len, O_THRESH(2 * NHARTS - 1) + 4);
    assert_int_equal(ld32(good->data + O_PRIO(10)), 3);
    assert_int_equal(ld32(good->data + O_THRESH(2)), 1);
    check_framing(&b->vs, good);

    *sv = *good;
    sv_u32(sv, O_PRIO(7), 8);
    assert_load_fails(&b->vs, sv, "priority or threshold above 7");
    *sv = *good;
    sv_u32(sv, O_PRIO(0), 1);
    assert_load_fails(&b->vs, sv, "priority or threshold above 7");
    *sv = *good;
    sv_u32(sv, O_THRESH(3), 9);
    assert_load_fails(&b->vs, sv, "priority or threshold above 7");
    *sv = *good;
    sv_u32(sv, O_ENABLE(0, 0), 1);       /* source 0 does not exist */
    assert_load_fails(&b->vs, sv, "source that does not exist");
    *sv = *good;
    sv_u32(sv, O_LEVEL(0), 1);
    assert_load_fails(&b->vs, sv, "source that does not exist");
    *sv = *good;
    sv_u32(sv, O_CLAIMED(0), 1);
    assert_load_fails(&b->vs, sv, "source that does not exist");
    *sv = *good;
    sv_u32(sv, O_PENDING(0), 1u << 7);   /* pending with its line low */
    assert_load_fails(&b->vs, sv, "pending with its line low");
    *sv = *good;
    sv_u32(sv, O_PENDING(0), (1u << 5) | (1u << 10));   /* 10 is claimed */
    assert_load_fails(&b->vs, sv, "while claimed");
    *sv = *good;
    sv_u32(sv, 0, 97);
    assert_load_fails(&b->vs, sv, "sources");
    plic_new(c, 1);
    assert_load_fails(&c->vs, good, "4 contexts, this PLIC has 96 and 2");
    /* Refused loads drove nothing. */
    assert_int_equal(b->h.calls, 0);
    assert_int_equal(brd(&b->bus, P_PRIO(10)), 0);
    plic_free(a->p);
    plic_free(b->p);
    plic_free(c->p);
    free(a);
    free(b);
    free(c);
    free(good);
    free(sv);
}

/* ---- x86 PM block ---- */

typedef struct PmT {
    Bus pio;
    VmState vs;
    int poweroffs;
} PmT;

static void pm_event(void *opaque, enum x86_pm_event ev)
{
    if (ev == X86_PM_POWEROFF)
        ((PmT *)opaque)->poweroffs++;
}

static void pm_new(PmT *t)
{
    memset(t, 0, sizeof(*t));
    assert_int_equal(x86_pm_create(&t->pio, pm_event, t, &t->vs), 0);
}

static uint16_t prd(PmT *t, unsigned off)
{
    uint64_t v = 0;
    assert_true(bus_read(&t->pio, X86_PM_BASE + off, 2, &v));
    return (uint16_t)v;
}

static void test_pm(void **state)
{
    PmT *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
    Saved *good = malloc(sizeof(*good)), *sv = malloc(sizeof(*sv));

    pm_new(a);
    pm_new(b);
    assert_true(bus_write(&a->pio, X86_PM_BASE + 2, 2, 0x0121));    /* enable */
    assert_true(bus_write(&a->pio, X86_PM_BASE + 4, 2, 0x0c00));    /* SLP_TYP 3 */
    save_section(&a->vs, good);
    assert_int_equal(good->len, 6);
    assert_loads(&b->vs, good);
    for (unsigned off = 0; off < 6; off += 2)
        assert_int_equal(prd(b, off), prd(a, off));
    assert_int_equal(prd(b, 4), 0x0c01);
    /* And S5 still powers off. */
    assert_true(bus_write(&b->pio, X86_PM_BASE + 4, 2, (X86_PM_S5_TYP << 10) | X86_PM1_SLP_EN));
    assert_int_equal(b->poweroffs, 1);

    check_framing(&b->vs, good);
    *sv = *good;
    sv_u16(sv, 4, 0x0c00);              /* SCI_EN clear: never in this model */
    assert_load_fails(&b->vs, sv, "SCI_EN clear or SLP_EN set");
    *sv = *good;
    sv_u16(sv, 4, 0x2001);
    assert_load_fails(&b->vs, sv, "SCI_EN clear or SLP_EN set");
    /* The PM block lives as long as its machine and has no free. */
    free(a->pio.r[0].opaque);
    free(b->pio.r[0].opaque);
    free(a);
    free(b);
    free(good);
    free(sv);
}

int main(void)
{
    log_set_level(LOG_ERR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uart_roundtrip),
        cmocka_unit_test(test_uart_full_fifo),
        cmocka_unit_test(test_uart_hostile),
        cmocka_unit_test(test_clint),
        cmocka_unit_test(test_plic_roundtrip),
        cmocka_unit_test(test_plic_hostile),
        cmocka_unit_test(test_pm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
