/* Differential test of the emu engine's JIT against its interpreter: random
 * straight-line-and-forward-branch programs of integer, memory (aligned,
 * misaligned, page-crossing) and compressed instructions run on both, and
 * registers, pc and the scratch memory must come out identical. Any
 * difference is a JIT (or decoder length) bug. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/emu/hart.h"
#include "engine/emu/jit.h"

#define RAM_BASE   0x80000000ull
#define RAM_SIZE   (1u << 20)
#define CODE_OFF   0x1000
#define DATA_OFF   0x80000       /* scratch data: two pages */
#define DATA_SIZE  0x2000
#define BASE_OFF   0x1000        /* x31 points at the page boundary */
#define NINSNS     400

/* The engine reports exits through its host; nothing may exit here. */
static void no_exit(void *opaque, enum vm_exit why, int code)
{
    fail_msg("the engine asked to exit (%d, code %d)", why, code);
}

static uint64_t rng_state = 88172645463325252ull;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static unsigned reg(void) { return 1 + (unsigned)(rnd() % 15); }   /* x1..x15 */

/* A memory offset from x31: often within a few bytes of the page boundary
 * x31 points at, so misaligned and page-crossing accesses are common. */
static int32_t mem_off(void)
{
    if (rnd() % 4 == 0)
        return (int32_t)(rnd() % 16) - 8;
    return (int32_t)(rnd() % 4000) - 2000;
}

static uint32_t r_type(unsigned f7, unsigned rs2, unsigned rs1, unsigned f3, unsigned rd, unsigned op)
{
    return (f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op;
}

static uint32_t i_type(int32_t imm, unsigned rs1, unsigned f3, unsigned rd, unsigned op)
{
    return ((uint32_t)(imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op;
}

static uint32_t s_type(int32_t imm, unsigned rs2, unsigned rs1, unsigned f3, unsigned op)
{
    uint32_t u = (uint32_t)imm & 0xfff;
    return ((u >> 5) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((u & 31) << 7) | op;
}

static uint32_t b_type(int32_t off, unsigned rs2, unsigned rs1, unsigned f3)
{
    uint32_t u = (uint32_t)off;
    return (((u >> 12) & 1) << 31) | (((u >> 5) & 0x3f) << 25) | (rs2 << 20) | (rs1 << 15) |
           (f3 << 12) | (((u >> 1) & 0xf) << 8) | (((u >> 11) & 1) << 7) | 0x63;
}

/* Emit a random program into p (as 16-bit units); returns its length in
 * units. Branches only go forward, so every run ends in the final self-loop. */
static unsigned gen_program(uint16_t *p)
{
    unsigned n = 0;

    for (unsigned i = 0; i < NINSNS; i++) {
        uint32_t x;
        unsigned k = (unsigned)(rnd() % 100);
        if (k < 10) {                              /* compressed: c.addi / c.mv / c.add */
            unsigned rd = reg(), rs = reg();
            uint16_t c;
            switch (rnd() % 3) {
            case 0: c = (uint16_t)(0x0001 | (rd << 7) | ((rnd() % 32) << 2)); break;  /* c.addi rd, imm */
            case 1: c = (uint16_t)(0x8002 | (rd << 7) | (rs << 2)); break;            /* c.mv */
            default: c = (uint16_t)(0x9002 | (rd << 7) | (rs << 2)); break;           /* c.add */
            }
            p[n++] = c;
            continue;
        }
        if (k < 40) {                              /* OP / OP-32 incl. M */
            static const unsigned f3f7[][2] = { {0,0},{0,0x20},{1,0},{2,0},{3,0},{4,0},{5,0},
                                                {5,0x20},{6,0},{7,0},{0,1},{1,1},{2,1},{3,1},
                                                {4,1},{5,1},{6,1},{7,1} };
            static const unsigned w3f7[][2] = { {0,0},{0,0x20},{1,0},{5,0},{5,0x20},{0,1},
                                                {4,1},{5,1},{6,1},{7,1} };
            if (rnd() % 3) {
                unsigned s = (unsigned)(rnd() % 18);
                x = r_type(f3f7[s][1], reg(), reg(), f3f7[s][0], reg(), 0x33);
            } else {
                unsigned s = (unsigned)(rnd() % 10);
                x = r_type(w3f7[s][1], reg(), reg(), w3f7[s][0], reg(), 0x3b);
            }
        } else if (k < 60) {                       /* OP-IMM / OP-IMM-32 / LUI / AUIPC */
            unsigned f3 = (unsigned)(rnd() % 8);
            int32_t imm = (int32_t)(rnd() % 4096) - 2048;
            switch (rnd() % 5) {
            case 0: x = ((uint32_t)rnd() & 0xfffff000u) | (reg() << 7) | 0x37; break;
            case 1: x = ((uint32_t)rnd() & 0xfffff000u) | (reg() << 7) | 0x17; break;
            case 2:
                if (f3 == 1) imm = (int32_t)(rnd() % 64);
                if (f3 == 5) imm = (int32_t)(rnd() % 64) | ((rnd() & 1) ? 0x400 : 0);
                x = i_type(imm, reg(), f3, reg(), 0x13);
                break;
            default: {
                static const unsigned wf3[] = { 0, 1, 5 };
                unsigned g = wf3[rnd() % 3];
                if (g == 0) imm = (int32_t)(rnd() % 4096) - 2048;
                else imm = (int32_t)(rnd() % 32) | ((g == 5 && (rnd() & 1)) ? 0x400 : 0);
                x = i_type(imm, reg(), g, reg(), 0x1b);
            }
            }
        } else if (k < 75) {                       /* loads from x31 + off */
            unsigned f3 = (unsigned)(rnd() % 7);
            x = i_type(mem_off(), 31, f3, reg(), 0x03);
        } else if (k < 90) {                       /* stores to x31 + off */
            unsigned f3 = (unsigned)(rnd() % 4);
            x = s_type(mem_off(), reg(), 31, f3, 0x23);
        } else {                                   /* forward branch over 1..8 insns */
            static const unsigned bf3[] = { 0, 1, 4, 5, 6, 7 };
            /* Target: skip the next few 4-byte slots; they are emitted as
             * 32-bit nops after the branch so the offset is exact. */
            unsigned skip = 1 + (unsigned)(rnd() % 4);
            x = b_type((int32_t)(4 + 4 * skip), reg(), reg(), bf3[rnd() % 6]);
            p[n++] = (uint16_t)x;
            p[n++] = (uint16_t)(x >> 16);
            for (unsigned s = 0; s < skip; s++) {
                uint32_t y = i_type((int32_t)(rnd() % 100), reg(), 0, reg(), 0x13);  /* addi */
                p[n++] = (uint16_t)y;
                p[n++] = (uint16_t)(y >> 16);
            }
            continue;
        }
        p[n++] = (uint16_t)x;
        p[n++] = (uint16_t)(x >> 16);
    }
    p[n++] = 0x006f;            /* jal x0, 0: the end */
    p[n++] = 0x0000;
    return n;
}

typedef struct Run {
    uint64_t x[32];
    uint64_t pc;
    uint8_t data[DATA_SIZE];
} Run;

static void run_one(Emu *e, bool jit, const uint16_t *prog, unsigned units,
                    const uint64_t *init, Run *out)
{
    Hart *h = e->harts[0];
    uint8_t *ram = e->mem->r[0].host;

    memset(ram, 0, RAM_SIZE);
    memcpy(ram + CODE_OFF, prog, units * 2);
    for (unsigned i = 0; i < DATA_SIZE; i++)
        ram[DATA_OFF + i] = (uint8_t)(i * 7 + 3);
    hart_reset(h, RAM_BASE + CODE_OFF);
    memcpy(h->x, init, sizeof(h->x));
    h->x[0] = 0;
    h->x[31] = RAM_BASE + DATA_OFF + BASE_OFF;
    if (jit) {
        if (!h->jit)
            h->jit = jit_create();
        assert_non_null(h->jit);
        jit_flush(h->jit);
        jit_run_chunk(h, 20000);
    } else {
        hart_run_chunk(h, 20000);
    }
    memcpy(out->x, h->x, sizeof(out->x));
    out->pc = h->pc;
    memcpy(out->data, ram + DATA_OFF, DATA_SIZE);
}

static void test_jit_matches_interpreter(void **state)
{
    static GuestMem mem;
    static Bus bus;
    static uint16_t prog[NINSNS * 12 + 4];
    const EngineHost host = { .mem = &mem, .mmio = &bus, .nvcpus = 1, .request_exit = no_exit };
    char err[256];
    Emu *e;
    (void)state;

    assert_int_equal(gmem_add_ram(&mem, RAM_BASE, RAM_SIZE), 0);
    e = emu_engine_ops.create(&host, err, sizeof(err));
    assert_non_null(e);

    for (int round = 0; round < 300; round++) {
        uint64_t init[32];
        Run a, b;
        unsigned units = gen_program(prog);

        for (int i = 0; i < 32; i++)
            init[i] = (rnd() & 1) ? rnd() : (uint64_t)(int64_t)(int8_t)rnd();
        run_one(e, false, prog, units, init, &a);
        run_one(e, true, prog, units, init, &b);
        for (int i = 0; i < 32; i++) {
            if (a.x[i] != b.x[i])
                fail_msg("round %d: x%d interpreter %#llx jit %#llx", round, i,
                         (unsigned long long)a.x[i], (unsigned long long)b.x[i]);
        }
        assert_int_equal(a.pc, b.pc);
        assert_int_equal(a.pc, RAM_BASE + CODE_OFF + (units - 2) * 2);   /* reached the end */
        assert_memory_equal(a.data, b.data, DATA_SIZE);
    }
    emu_engine_ops.destroy(e);
    gmem_free(&mem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jit_matches_interpreter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
