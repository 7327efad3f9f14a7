/* The emu engine's saved state: a hart saved mid-program and loaded into
 * another engine continues identically; impossible values are refused;
 * dirty logging marks every page a hart writes, round after round; a
 * pause completes while a hart waits on another's remote fence; pages
 * never touched are told apart without reading them. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <time.h>

#include <cmocka.h>

#include "common/stream.h"
#include "common/vmstate.h"
#include "engine/emu/hart.h"
#include "engine/emu/jit.h"

#define RAM_BASE 0x80000000ull
#define RAM_SIZE (1u << 20)
#define PAGE_A   0x10000
#define PAGE_B   0x20000

static const uint32_t prog[] = {
    0x00128293,                                         /* addi x5, x5, 1 */
    0x00533023,                                         /* sd x5, 0(x6) */
    0x0053b023,                                         /* sd x5, 0(x7) */
    (0x69u << 25) | (2u << 20) | (5u << 15) | (1u << 7) | 0x53,  /* fcvt.d.l f1, x5 */
    0xff1ff06f,                                         /* j -16 */
};

static void no_exit(void *opaque, enum vm_exit why, int code)
{
    fail_msg("the engine asked to exit (%d, code %d)", why, code);
}

typedef struct Fx {
    GuestMem mem;
    Bus bus;
    VmState vs;
    Emu *e;
} Fx;

static void fx_init(Fx *f)
{
    EngineHost host = { .mem = &f->mem, .mmio = &f->bus, .nvcpus = 2,
                        .request_exit = no_exit, .state = &f->vs };
    char err[256];

    memset(f, 0, sizeof(*f));
    assert_int_equal(gmem_add_ram(&f->mem, RAM_BASE, RAM_SIZE), 0);
    f->e = emu_engine_ops.create(&host, err, sizeof(err));
    assert_non_null(f->e);
    assert_int_equal(f->vs.n, 3);           /* EMUC + two harts */
}

static void fx_free(Fx *f)
{
    emu_engine_ops.destroy(f->e);
    gmem_free(&f->mem);
}

static void start_program(Fx *f)
{
    Hart *h = f->e->harts[0];

    memcpy(f->mem.r[0].host, prog, sizeof(prog));
    hart_reset(h, RAM_BASE);
    h->mstatus |= MSTATUS_FS;
    h->x[6] = RAM_BASE + PAGE_A;
    h->x[7] = RAM_BASE + PAGE_B;
    h->stvec = 0x1234;
    h->satp = 0;
}

/* Saved sections, in order. */
typedef struct Saved {
    uint32_t tag[8], inst[8], ver[8];
    uint8_t *data[8];
    size_t len[8];
    unsigned n;
} Saved;

static int put(void *opaque, const VmStateSection *s, const void *data, size_t len)
{
    Saved *sv = opaque;

    sv->tag[sv->n] = s->tag;
    sv->inst[sv->n] = s->instance;
    sv->ver[sv->n] = s->version;
    sv->data[sv->n] = malloc(len ? len : 1);
    memcpy(sv->data[sv->n], data, len);
    sv->len[sv->n] = len;
    sv->n++;
    return 0;
}

static int load_all(Fx *f, Saved *sv, char *err, size_t errlen)
{
    vmstate_load_begin(&f->vs);
    for (unsigned i = 0; i < sv->n; i++)
        if (vmstate_load_one(&f->vs, sv->tag[i], sv->inst[i], sv->ver[i], sv->data[i],
                             sv->len[i], err, errlen))
            return -1;
    return vmstate_check_complete(&f->vs, err, errlen);
}

static void saved_free(Saved *sv)
{
    for (unsigned i = 0; i < sv->n; i++)
        free(sv->data[i]);
}

static void test_save_load_continue(void **state)
{
    static Fx a, b;
    Saved sv = { 0 };
    char err[256];
    Hart *ha, *hb;
    (void)state;

    fx_init(&a);
    fx_init(&b);
    start_program(&a);
    ha = a.e->harts[0];
    hart_run_chunk(ha, 1003);
    assert_true(ha->x[5] > 200);
    assert_int_equal(vmstate_save_all(&a.vs, put, &sv, err, sizeof(err)), 0);
    assert_int_equal(sv.n, 3);

    memcpy(b.mem.r[0].host, a.mem.r[0].host, RAM_SIZE);
    assert_int_equal(load_all(&b, &sv, err, sizeof(err)), 0);
    assert_true(b.e->restored);
    hb = b.e->harts[0];
    assert_memory_equal(ha->x, hb->x, sizeof(ha->x));
    assert_memory_equal(ha->f, hb->f, sizeof(ha->f));
    assert_int_equal(ha->pc, hb->pc);
    assert_int_equal(ha->mstatus, hb->mstatus);
    assert_int_equal(hb->stvec, 0x1234);
    assert_int_equal(ha->instret, hb->instret);

    /* Both go on identically. */
    hart_run_chunk(ha, 777);
    hart_run_chunk(hb, 777);
    assert_memory_equal(ha->x, hb->x, sizeof(ha->x));
    assert_int_equal(ha->f[1], hb->f[1]);
    assert_int_equal(ha->pc, hb->pc);
    assert_memory_equal(a.mem.r[0].host + PAGE_A, b.mem.r[0].host + PAGE_A, 8);

    /* A restored hart's JIT tiers from the start: the guest's code is all
     * hot, but translating every block on its first start was a burst the
     * guest's clients saw after a migration. A fresh one translates at
     * once (until its cache has been full). */
    if (ha->jit && hb->jit) {
        JitStats sa0, sa1, sb0, sb1;
        Fx c;

        fx_init(&c);
        start_program(&c);
        jit_get_stats(c.e->harts[0]->jit, &sa0);
        jit_run_chunk(c.e->harts[0], 100);
        jit_get_stats(c.e->harts[0]->jit, &sa1);
        assert_true(sa1.blocks > sa0.blocks);
        assert_int_equal(sa1.cold_runs, sa0.cold_runs);
        jit_get_stats(hb->jit, &sb0);
        jit_run_chunk(hb, 100);
        jit_get_stats(hb->jit, &sb1);
        assert_true(sb1.cold_runs > sb0.cold_runs);    /* the first starts interpreted */
        assert_true(sb1.blocks > sb0.blocks);          /* then translated: it is a loop */
        fx_free(&c);
        hart_run_chunk(ha, 100);                       /* both stay in step */
        assert_int_equal(ha->x[5], hb->x[5]);
    }

    /* A section loaded twice, a missing one, an unknown one. */
    vmstate_load_begin(&b.vs);
    assert_int_equal(vmstate_load_one(&b.vs, sv.tag[1], sv.inst[1], sv.ver[1], sv.data[1],
                                      sv.len[1], err, sizeof(err)), 0);
    assert_int_equal(vmstate_load_one(&b.vs, sv.tag[1], sv.inst[1], sv.ver[1], sv.data[1],
                                      sv.len[1], err, sizeof(err)), -1);
    assert_non_null(strstr(err, "twice"));
    assert_int_equal(vmstate_check_complete(&b.vs, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "missing"));
    assert_int_equal(vmstate_load_one(&b.vs, sv.tag[1], 7, sv.ver[1], sv.data[1],
                                      sv.len[1], err, sizeof(err)), -1);
    assert_non_null(strstr(err, "HART 7"));
    /* A newer version. */
    assert_int_equal(vmstate_load_one(&b.vs, sv.tag[2], sv.inst[2], sv.ver[2] + 1, sv.data[2],
                                      sv.len[2], err, sizeof(err)), -1);
    assert_non_null(strstr(err, "newer"));
    saved_free(&sv);
    fx_free(&a);
    fx_free(&b);
}

static void test_hostile_hart_section(void **state)
{
    static Fx a;
    Saved sv = { 0 };
    char err[256];
    unsigned hart = 1;
    size_t priv_off = 32 * 8 + 32 * 8 + 8;
    (void)state;

    fx_init(&a);
    start_program(&a);
    assert_int_equal(vmstate_save_all(&a.vs, put, &sv, err, sizeof(err)), 0);
    assert_int_equal(sv.tag[hart], STREAM_TAG('H', 'A', 'R', 'T'));

    vmstate_load_begin(&a.vs);
    sv.data[hart][priv_off] = 2;                    /* privilege 2 */
    assert_int_equal(vmstate_load_one(&a.vs, sv.tag[hart], sv.inst[hart], 1, sv.data[hart],
                                      sv.len[hart], err, sizeof(err)), -1);
    assert_non_null(strstr(err, "privilege"));
    sv.data[hart][priv_off] = 3;
    sv.data[hart][0] = 1;                           /* x0 != 0 */
    assert_int_equal(vmstate_load_one(&a.vs, sv.tag[hart], sv.inst[hart], 1, sv.data[hart],
                                      sv.len[hart], err, sizeof(err)), -1);
    sv.data[hart][0] = 0;
    /* Short and long. */
    assert_int_equal(vmstate_load_one(&a.vs, sv.tag[hart], sv.inst[hart], 1, sv.data[hart],
                                      sv.len[hart] - 1, err, sizeof(err)), -1);
    {
        uint8_t *longer = calloc(1, sv.len[hart] + 1);
        memcpy(longer, sv.data[hart], sv.len[hart]);
        assert_int_equal(vmstate_load_one(&a.vs, sv.tag[hart], sv.inst[hart], 1, longer,
                                          sv.len[hart] + 1, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "longer"));
        free(longer);
    }
    /* Hart 0's state into hart 1: the hart id does not match. */
    assert_int_equal(vmstate_load_one(&a.vs, sv.tag[hart], 1, 1, sv.data[hart],
                                      sv.len[hart], err, sizeof(err)), -1);
    assert_non_null(strstr(err, "hart id"));
    /* Intact, it loads. */
    assert_int_equal(vmstate_load_one(&a.vs, sv.tag[hart], sv.inst[hart], 1, sv.data[hart],
                                      sv.len[hart], err, sizeof(err)), 0);
    saved_free(&sv);
    fx_free(&a);
}

static unsigned count_dirty(GuestMem *m, bool clear)
{
    unsigned n = 0, words = (unsigned)((m->r[0].size >> 12) / 64 + 1);

    for (unsigned i = 0; i < words; i++) {
        n += (unsigned)__builtin_popcountll(m->r[0].dirty[i]);
        if (clear)
            m->r[0].dirty[i] = 0;
    }
    return n;
}

static bool page_dirty(GuestMem *m, uint64_t off)
{
    uint64_t p = off >> 12;
    return (m->r[0].dirty[p / 64] >> (p % 64)) & 1;
}

static void test_dirty_log_rounds(void **state)
{
    static Fx a;
    Hart *h;
    (void)state;

    fx_init(&a);
    start_program(&a);
    h = a.e->harts[0];
    hart_run_chunk(h, 100);                         /* TLB warm, no logging yet */
    assert_int_equal(count_dirty(&a.mem, true), 0);

    assert_int_equal(emu_engine_ops.dirty_log_start(a.e), 0);
    hart_run_chunk(h, 100);
    assert_true(page_dirty(&a.mem, PAGE_A) && page_dirty(&a.mem, PAGE_B));
    assert_int_equal(count_dirty(&a.mem, true), 2);

    /* After the snapshot, without a rearm, the cached entries hide writes
     * (which is why the rearm exists)... */
    hart_run_chunk(h, 100);
    assert_int_equal(count_dirty(&a.mem, false), 0);
    /* ...and after it, every write marks again. */
    assert_int_equal(emu_engine_ops.dirty_log_collect(a.e), 0);
    emu_engine_ops.dirty_log_rearm(a.e);
    hart_run_chunk(h, 100);
    assert_int_equal(count_dirty(&a.mem, true), 2);

    emu_engine_ops.dirty_log_stop(a.e);
    emu_engine_ops.dirty_log_rearm(a.e);
    hart_run_chunk(h, 100);
    assert_int_equal(count_dirty(&a.mem, true), 0);
    fx_free(&a);
}

/* Hart 0 asks for remote sfence.vma on both harts without end (built-in
 * SBI); hart 1 keeps storing. A pause must complete each time: hart 1 may
 * park before it serves hart 0's request, and hart 0 cannot park until
 * its ecall returns. (Until the fence stopped waiting for a parked hart,
 * this deadlocked: `xm migrate` of a 2-vCPU guest hung in its stop.) */
static const uint32_t fence_prog[] = {
    0x00300513,         /* addi a0, x0, 3   hart mask {0, 1} */
    0x00000593,         /* addi a1, x0, 0   mask base */
    0x00000073,         /* ecall            RFNC remote_sfence_vma */
    0xff5ff06f,         /* j -12 */
};
static const uint32_t store_prog[] = {
    0x00128293,         /* addi x5, x5, 1 */
    0x00533023,         /* sd x5, 0(x6) */
    0xff9ff06f,         /* j -8 */
};

typedef struct PauseJob {
    Emu *e;
    bool done;
    pthread_mutex_t lock;
    pthread_cond_t cond;
} PauseJob;

static void *pause_job(void *arg)
{
    PauseJob *j = arg;

    emu_engine_ops.pause(j->e);
    pthread_mutex_lock(&j->lock);
    j->done = true;
    pthread_cond_signal(&j->cond);
    pthread_mutex_unlock(&j->lock);
    return NULL;
}

static void test_pause_during_remote_fence(void **state)
{
    static Fx a;
    uint8_t *ram;
    (void)state;

    fx_init(&a);
    ram = a.mem.r[0].host;
    memcpy(ram, fence_prog, sizeof(fence_prog));
    memcpy(ram + 0x1000, store_prog, sizeof(store_prog));
    for (unsigned i = 0; i < 2; i++) {
        Hart *h = a.e->harts[i];
        hart_reset(h, RAM_BASE + i * 0x1000);
        hart_set_priv(h, PRV_S);
        h->satp = 0;
        h->run_state = HART_RUNNING;
    }
    a.e->harts[0]->x[17] = 0x52464E43;      /* a7: EXT_RFNC */
    a.e->harts[0]->x[16] = 1;               /* a6: remote_sfence_vma */
    a.e->harts[0]->x[13] = ~0ull;           /* a3: the whole address space */
    a.e->harts[1]->x[6] = RAM_BASE + PAGE_A;
    a.e->sbi = true;
    a.e->restored = true;                   /* start from these states, no boot */
    assert_int_equal(emu_engine_ops.start(a.e), 0);

    for (unsigned round = 0; round < 200; round++) {
        PauseJob j = { .e = a.e };
        struct timespec ts;
        pthread_t t;
        int rc = 0;

        pthread_mutex_init(&j.lock, NULL);
        pthread_cond_init(&j.cond, NULL);
        assert_int_equal(pthread_create(&t, NULL, pause_job, &j), 0);
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 5;
        pthread_mutex_lock(&j.lock);
        while (!j.done && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&j.cond, &j.lock, &ts);
        pthread_mutex_unlock(&j.lock);
        if (!j.done)
            fail_msg("round %u: the pause did not complete in 5 s (hart 0 waits on a parked hart)",
                     round);
        pthread_join(t, NULL);
        emu_engine_ops.resume(a.e);
        pthread_cond_destroy(&j.cond);
        pthread_mutex_destroy(&j.lock);
    }
    assert_true(a.e->harts[0]->stat.rfence_vma > 200);     /* both really ran */
    assert_true(*(uint64_t *)(ram + PAGE_A) > 0);
    emu_engine_ops.stop(a.e);
    fx_free(&a);
}

/* gmem_untouched: pages never touched are known zero without a read;
 * touched ones (written, or only read) are not; nothing is known of a
 * region mapped from a file, or when the host has swap. */
static void test_untouched_pages(void **state)
{
    GuestMem m = { 0 };
    uint64_t zero[4] = { 0 };
    struct sysinfo si;
    volatile uint8_t sink;
    (void)state;

    assert_int_equal(gmem_add_ram(&m, RAM_BASE, RAM_SIZE), 0);
    m.r[0].host[3 * 4096 + 17] = 1;            /* written */
    sink = m.r[0].host[70 * 4096];             /* read only: the zero page is mapped */
    (void)sink;
    assert_int_equal(sysinfo(&si), 0);
    if (si.totalswap) {
        /* With swap an absent page may be a swapped-out one. */
        assert_false(gmem_untouched(&m.r[0], 0, 128, zero));
    } else {
        assert_true(gmem_untouched(&m.r[0], 0, 128, zero));
        for (unsigned p = 0; p < 128; p++) {
            bool z = zero[p / 64] >> (p % 64) & 1;
            if (p == 3 || p == 70)
                assert_false(z);
            else if (z != true)
                fail_msg("page %u: never touched but not reported so", p);
        }
        /* A range not starting at page 0: bit k is page first + k. */
        assert_true(gmem_untouched(&m.r[0], 2, 64, zero));
        assert_true(zero[0] & 1);
        assert_false(zero[0] >> 1 & 1);
    }
    m.r[0].file_backed = true;
    assert_false(gmem_untouched(&m.r[0], 0, 128, zero));
    gmem_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_save_load_continue),
        cmocka_unit_test(test_hostile_hart_section),
        cmocka_unit_test(test_dirty_log_rounds),
        cmocka_unit_test(test_pause_during_remote_fence),
        cmocka_unit_test(test_untouched_pages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
