/* Live migration, the sending side: a thread that streams the domain to
 * the receiver while the guest runs (pre-copy rounds over the dirty log),
 * stops it for the last pages and the sections, and hands it over only
 * when the receiver has it ready (docs/migration.md). */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/ratelimit.h"
#include "common/util.h"
#include "converge.h"
#include "migrate.h"

#define REPLY_TIMEOUT_MS   30000    /* accept, ready */
#define STARTED_TIMEOUT_MS 10000
#define PAGE_BATCH         256      /* pages per stream_write_pages call */
_Static_assert(PAGE_BATCH % 64 == 0, "send_run's bitmap of untouched pages");
#define SEND_TIMEOUT_MS    30000
/* How long after re-arming the dirty log its count is sampled: long enough
 * to see a rate, short enough that a working set does not cap the count
 * (converge.c). */
#define SAMPLE_NS          (20 * 1000000ull)

struct Migration {
    Machine *m;
    MigrateParams p;
    int fd;
    MigChan *chan;                  /* on fd: plain or TLS (set up by the thread) */
    StreamWriter *w;
    pthread_t thread;
    bool thread_started;
    void (*notify)(void *opaque);
    void *opaque;

    pthread_mutex_t lock;           /* guards st and cancel */
    MigrateStatus st;
    bool cancel;

    /* Dirty pages to send: one bitmap per region, taken from guest memory. */
    uint64_t *todo[GMEM_MAX_REGIONS];
    TokenBucket pacer;              /* bandwidth_mbps, in bytes */
    char in[512];                   /* the receiver's bytes not yet read */
    size_t in_len;
    char reply[256];                /* its last line */
    char why[400];                  /* write_error's */
    bool disks_released;
    bool sync;                      /* the receiver answers SYNC records */
    unsigned throttle;              /* auto-converge: percent the vCPUs sit out */
    uint8_t *bounce;                /* PAGE_BATCH pages: what send_todo sends */
    uint8_t *zeros;                 /* PAGE_BATCH pages never written (read-only) */
    uint64_t write_ns;              /* this round: time in the stream writer */
    uint64_t armed_ns;              /* when the dirty log was last re-armed */
    uint64_t sample_pages, sample_ns;   /* its count sampled early in the round */
};

/* ---- status ------------------------------------------------------------ */

static void publish(Migration *mg, void (*fn)(MigrateStatus *st, void *arg), void *arg)
{
    pthread_mutex_lock(&mg->lock);
    fn(&mg->st, arg);
    pthread_mutex_unlock(&mg->lock);
    if (mg->notify)
        mg->notify(mg->opaque);
}

static void set_progress(MigrateStatus *st, void *arg)
{
    Migration *mg = arg;
    st->sent_bytes = stream_bytes_written(mg->w);
}

static void progress(Migration *mg)
{
    publish(mg, set_progress, mg);
}

static bool cancelled(Migration *mg)
{
    bool c;
    pthread_mutex_lock(&mg->lock);
    c = mg->cancel;
    pthread_mutex_unlock(&mg->lock);
    return c;
}

typedef struct Outcome {
    enum migrate_state state;
    const char *error;
    bool left_paused;
} Outcome;

static void set_outcome(MigrateStatus *st, void *arg)
{
    const Outcome *o = arg;
    st->state = o->state;
    st->left_paused = o->left_paused;
    if (o->error)
        snprintf(st->error, sizeof(st->error), "%s", o->error);
}

void migrate_status(Migration *mg, MigrateStatus *st)
{
    pthread_mutex_lock(&mg->lock);
    *st = mg->st;
    pthread_mutex_unlock(&mg->lock);
}

void migrate_cancel(Migration *mg)
{
    pthread_mutex_lock(&mg->lock);
    mg->cancel = true;
    pthread_mutex_unlock(&mg->lock);
}

/* The writer's error, with the TLS session's own where it has one. */
static const char *write_error(Migration *mg)
{
    if (mg->chan && migchan_error(mg->chan)) {
        snprintf(mg->why, sizeof(mg->why), "%s (TLS: %s)", stream_writer_error(mg->w),
                 migchan_error(mg->chan));
        return mg->why;
    }
    return stream_writer_error(mg->w);
}

/* ---- the receiver's answers ------------------------------------------- */

/* One line from the receiver ("accept", "ready", "started", "fail: ...")
 * within timeout_ms, into mg->reply. 0, or -1 (closed, timeout, garbage). */
static int read_reply(Migration *mg, int timeout_ms)
{
    uint64_t deadline = clock_ns() + (uint64_t)timeout_ms * 1000000ull;

    mg->reply[0] = 0;
    for (;;) {
        char *nl = memchr(mg->in, '\n', mg->in_len);
        uint64_t now = clock_ns();
        ssize_t n;
        int r;

        if (nl) {
            size_t line = (size_t)(nl - mg->in);
            snprintf(mg->reply, sizeof(mg->reply), "%.*s", (int)line, mg->in);
            mg->in_len -= line + 1;
            memmove(mg->in, nl + 1, mg->in_len);
            return 0;
        }
        if (mg->in_len == sizeof(mg->in))
            return -1;                          /* a line too long: not our peer */
        if (now >= deadline || cancelled(mg))
            return -1;
        r = migchan_wait(mg->chan, (int)MIN((deadline - now) / 1000000ull + 1, 200ull));
        if (r < 0)
            return -1;
        if (!r)
            continue;
        n = migchan_read(mg->chan, mg->in + mg->in_len, sizeof(mg->in) - mg->in_len);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            return -1;
        mg->in_len += (size_t)n;
    }
}

/* A "fail: ..." line that arrived while we were sending: the receiver gave
 * up early. Non-blocking. */
static bool receiver_failed(Migration *mg)
{
    if (migchan_wait(mg->chan, 0) <= 0)
        return false;
    return read_reply(mg, 0) < 0 || strncmp(mg->reply, "fail", 4) == 0;
}

/* ---- sending pages ----------------------------------------------------- */

/* Bandwidth pacing (--resource): the bytes just sent are charged to the
 * token bucket the disks' and NICs' I/O limits use, and the thread sleeps
 * off any debt. */
static void pace(Migration *mg, uint64_t bytes)
{
    uint64_t now, wait;

    if (!mg->pacer.rate)
        return;
    now = clock_ns();
    tb_take(&mg->pacer, bytes, now);
    if ((wait = tb_wait_ns(&mg->pacer, now))) {
        struct timespec ts = { .tv_sec = (time_t)(wait / 1000000000ull),
                               .tv_nsec = (long)(wait % 1000000000ull) };
        nanosleep(&ts, NULL);
    }
}

/* Set bits among the first npages of bitmap b. Relaxed atomic loads: it
 * also counts a region's dirty bitmap while vCPUs and devices set bits. */
static uint64_t count_bits(const uint64_t *b, uint64_t npages)
{
    uint64_t n = 0;
    for (uint64_t i = 0; i < (npages + 63) / 64; i++)
        n += (uint64_t)__builtin_popcountll(__atomic_load_n(&b[i], __ATOMIC_RELAXED));
    return n;
}

/* Pages [i, j) of region g. The guest runs meanwhile: a page is sent from
 * a copy, so that each record's checksum is over the bytes it carries (the
 * writer checksums, then writes, straight from memory); a page written
 * after the copy is dirty again and goes in a later round. Zero pages, most
 * of an idle guest's RAM, are not copied: a run of pages that read as zero
 * goes as a ZERO run (written from mg->zeros, which are zero for good), as
 * if its copy had been taken at the moment it was read. */
static bool page_zero(const GuestRegion *g, uint64_t k, uint64_t first, const uint64_t *untouched)
{
    uint64_t b = k - first;

    return (untouched && (untouched[b / 64] >> (b % 64) & 1)) ||
           stream_page_is_zero(g->host + k * STREAM_PAGE_SIZE);
}

static int send_run(Migration *mg, const GuestRegion *g, uint64_t i, uint64_t j)
{
    /* Pages the guest never touched are zero without reading them: most
     * of an idle guest's RAM, which a scan would read in full. */
    uint64_t untouched[PAGE_BATCH / 64];
    const uint64_t *u = gmem_untouched(g, i, j - i, untouched) ? untouched : NULL;
    uint64_t first = i;

    while (i < j) {
        const uint8_t *p = g->host + i * STREAM_PAGE_SIZE;
        bool zero = page_zero(g, i, first, u);
        uint64_t k = i + 1;

        while (k < j && page_zero(g, k, first, u) == zero)
            k++;
        if (!zero)
            memcpy(mg->bounce, p, (k - i) * STREAM_PAGE_SIZE);
        uint64_t t = clock_ns();
        if (stream_write_pages(mg->w, g->gpa + i * STREAM_PAGE_SIZE, zero ? mg->zeros : mg->bounce,
                               k - i))
            return -1;
        mg->write_ns += clock_ns() - t;
        i = k;
    }
    return 0;
}

/* Once per round, SAMPLE_NS after the re-arm: the pages dirtied so far,
 * left in the bitmaps for take_dirty. */
static void sample_dirty(Migration *mg)
{
    Machine *m = mg->m;
    uint64_t n = 0, dt = clock_ns() - mg->armed_ns;

    if (dt < SAMPLE_NS)
        return;
    machine_dirty_log_collect(m);
    for (unsigned r = 0; r < m->mem.nr; r++)
        n += count_bits(m->mem.r[r].dirty, m->mem.r[r].size >> GMEM_PAGE_SHIFT);
    mg->sample_pages = n;
    mg->sample_ns = dt;
}

/* Send the pages marked in mg->todo. -1 on a write error or cancel. */
static int send_todo(Migration *mg)
{
    Machine *m = mg->m;

    for (unsigned r = 0; r < m->mem.nr; r++) {
        GuestRegion *g = &m->mem.r[r];
        uint64_t npages = g->size / STREAM_PAGE_SIZE, i = 0;

        while (i < npages) {
            uint64_t j;
            if (!(mg->todo[r][i / 64] >> (i % 64) & 1)) {
                if (!mg->todo[r][i / 64] && i % 64 == 0)
                    i += 64;
                else
                    i++;
                continue;
            }
            for (j = i; j < npages && j - i < PAGE_BATCH && (mg->todo[r][j / 64] >> (j % 64) & 1); j++)
                ;
            {
                uint64_t before = stream_bytes_written(mg->w);
                if (send_run(mg, g, i, j))
                    return -1;
                pace(mg, stream_bytes_written(mg->w) - before);
            }
            if (!mg->sample_ns && mg->p.auto_converge)
                sample_dirty(mg);
            i = j;
            if (cancelled(mg))
                return -1;
        }
        if (stream_flush(mg->w))
            return -1;
        progress(mg);
    }
    return 0;
}

/* Take the dirty log into mg->todo (replacing it) and clear it. The device
 * lock keeps device writes whole: a device marks a page and writes it
 * within one locked section. Returns the number of dirty pages. */
static uint64_t take_dirty(Migration *mg)
{
    Machine *m = mg->m;
    uint64_t n = 0;

    machine_dirty_log_collect(m);
    pthread_mutex_lock(&m->dev_lock);
    for (unsigned r = 0; r < m->mem.nr; r++) {
        GuestRegion *g = &m->mem.r[r];
        uint64_t words = (g->size >> GMEM_PAGE_SHIFT) / 64 + 1;
        for (uint64_t i = 0; i < words; i++)
            mg->todo[r][i] = __atomic_exchange_n(&g->dirty[i], 0, __ATOMIC_ACQ_REL);
        n += count_bits(mg->todo[r], g->size >> GMEM_PAGE_SHIFT);
    }
    pthread_mutex_unlock(&m->dev_lock);
    machine_dirty_log_rearm(m);
    mg->armed_ns = clock_ns();
    mg->sample_pages = mg->sample_ns = 0;
    return n;
}

static void mark_all(Migration *mg)
{
    for (unsigned r = 0; r < mg->m->mem.nr; r++) {
        uint64_t npages = mg->m->mem.r[r].size >> GMEM_PAGE_SHIFT;
        memset(mg->todo[r], 0xff, ((npages / 64) + 1) * sizeof(uint64_t));
        if (npages % 64)
            mg->todo[r][npages / 64] = (1ull << (npages % 64)) - 1;
        else
            mg->todo[r][npages / 64] = 0;
    }
}

typedef struct RoundInfo { unsigned round; uint64_t dirty, rate_mbps; } RoundInfo;

static void set_throttle(MigrateStatus *st, void *arg)
{
    st->throttle_pct = *(unsigned *)arg;
}

static void throttle(Migration *mg, unsigned pct)
{
    if (pct == mg->throttle || !machine_set_throttle(mg->m, pct))
        return;
    if (pct && !mg->throttle)
        log_warn("migration: the guest dirties memory faster than the link carries it: its "
                 "vCPUs are slowed down until the rest fits the downtime (auto-converge)");
    if (pct)
        log_info("migration: the vCPUs run %u %% of the time", 100 - pct);
    mg->throttle = pct;
    publish(mg, set_throttle, &pct);
}

static void set_round(MigrateStatus *st, void *arg)
{
    const RoundInfo *ri = arg;
    st->round = ri->round;
    st->dirty_pages = ri->dirty;
    st->rate_mbps = ri->rate_mbps;
}

/* The end of a round: wait until the receiver has applied everything
 * sent, so that the round's rate is the rate end to end and the
 * stop-and-copy does not start with the receiver still behind (its
 * backlog would count as downtime). */
static int sync_receiver(Migration *mg)
{
    if (!mg->sync)
        return 0;
    mg->reply[0] = 0;
    if (stream_write_record(mg->w, STREAM_TAG_SYNC, 0, 1, 0, NULL, 0) || stream_flush(mg->w))
        return -1;
    if (read_reply(mg, REPLY_TIMEOUT_MS) || strcmp(mg->reply, "synced")) {
        if (!mg->reply[0])
            snprintf(mg->reply, sizeof(mg->reply), "the receiver did not answer");
        return -1;
    }
    return 0;
}

/* Pre-copy: round 0 sends everything, later rounds what was dirtied
 * meanwhile, until the rest fits the downtime at the measured rate
 * (converge.c). */
static int precopy(Migration *mg, const char **why)
{
    uint64_t rate = 0, prev_dirty = ~0ull, dirty;     /* prev_dirty: what this round carried */
    unsigned round = 0, stalls = 0;

    if (machine_dirty_log_start(mg->m)) {
        *why = "this engine cannot log dirty pages";
        return -1;
    }
    take_dirty(mg);     /* counts start afresh: bits left by anything before */
    mark_all(mg);
    for (;;) {
        uint64_t t0 = clock_ns(), b0 = stream_bytes_written(mg->w), dt, t_sync, armed;
        RoundInfo ri;
        ConvergeRound cr;
        bool stalled;

        mg->write_ns = 0;
        if (send_todo(mg))
            return -1;
        t_sync = clock_ns();
        if (sync_receiver(mg)) {
            *why = mg->reply[0] ? mg->reply : NULL;
            return -1;
        }
        dt = clock_ns() - t0;
        if (dt > 1000000)       /* rounds under 1 ms measure nothing */
            rate = (stream_bytes_written(mg->w) - b0) * 1000000000ull / dt;
        armed = clock_ns() - mg->armed_ns;
        cr = (ConvergeRound){ .sample_pages = mg->sample_pages, .sample_ns = mg->sample_ns,
                              .throttle = mg->throttle };
        dirty = take_dirty(mg);
        round++;
        log_info("migration round %u: %llu bytes in %llu us (%llu us writing, %llu us waiting "
                 "for the receiver), %llu pages dirty (%llu in the first %llu us)", round,
                 (unsigned long long)(stream_bytes_written(mg->w) - b0),
                 (unsigned long long)(dt / 1000), (unsigned long long)(mg->write_ns / 1000),
                 (unsigned long long)(clock_ns() - t_sync) / 1000, (unsigned long long)dirty,
                 (unsigned long long)cr.sample_pages, (unsigned long long)cr.sample_ns / 1000);
        ri = (RoundInfo){ round, dirty, rate * 8 / 1000000 };
        publish(mg, set_round, &ri);
        if (receiver_failed(mg)) {
            *why = mg->reply[0] ? mg->reply : "the receiver closed the connection";
            return -1;
        }
        stalled = dirty >= prev_dirty;
        /* Done when the rest fits the downtime (converge_done)... */
        if (converge_done(dirty, prev_dirty, rate, mg->p.downtime_ms))
            return 0;
        /* ...else slow the vCPUs down so that the next round does... */
        if (mg->p.auto_converge) {
            cr.dirty = dirty;
            cr.round_ns = armed;
            cr.rate = rate;
            cr.downtime_ms = mg->p.downtime_ms;
            cr.stalled = stalled;
            throttle(mg, converge_throttle(&cr));
        }
        /* ...or stop when it no longer converges (and cannot be slowed
         * down further), or after max_rounds: the guest dirties memory
         * faster than the link carries it. */
        stalls = stalled ? stalls + 1 : 0;
        if (round >= mg->p.max_rounds ||
            (stalls >= 3 && (!mg->p.auto_converge || !mg->throttle || mg->throttle >= THROTTLE_MAX)))
            return 0;
        prev_dirty = dirty;
    }
}

/* ---- the switch-over --------------------------------------------------- */

static void set_downtime(MigrateStatus *st, void *arg)
{
    st->downtime_ms = *(uint64_t *)arg;
}

/* With the vCPUs paused and the device lock held: the last pages, the
 * sections, the disks let go, DONE. */
static int send_final(Migration *mg, bool all_pages, char *err, size_t errlen)
{
    Machine *m = mg->m;

    if (all_pages) {
        if (state_write_all_pages(m, mg->w, err, errlen))
            return -1;
    } else {
        /* The last pre-copy round left its dirty pages in todo unsent:
         * add the pages dirtied since, do not replace them. */
        machine_dirty_log_collect(m);
        for (unsigned r = 0; r < m->mem.nr; r++) {
            GuestRegion *g = &m->mem.r[r];
            uint64_t words = (g->size >> GMEM_PAGE_SHIFT) / 64 + 1;
            for (uint64_t i = 0; i < words; i++)
                mg->todo[r][i] |= __atomic_exchange_n(&g->dirty[i], 0, __ATOMIC_ACQ_REL);
        }
        if (send_todo(mg)) {
            snprintf(err, errlen, "%s", write_error(mg));
            return -1;
        }
    }
    if (state_write_sections(m, mg->w, err, errlen))
        return -1;
    if (machine_disks_release(m, err, errlen))
        return -1;
    mg->disks_released = true;
    if (stream_write_done(mg->w)) {
        snprintf(err, errlen, "%s", write_error(mg));
        return -1;
    }
    return 0;
}

static const char go_token[8] = { 'X', 'E', 'N', 'O', 'G', 'O', '\n', 0 };

static void fail(Migration *mg, const char *why, bool left_paused)
{
    Outcome o = { mg->cancel ? MIG_CANCELLED : MIG_FAILED, why, left_paused };
    log_warn("migration failed: %s", why);
    publish(mg, set_outcome, &o);
}

static void *migrate_thread(void *arg)
{
    Migration *mg = arg;
    Machine *m = mg->m;
    const char *why = NULL;
    char err[512] = "";
    uint64_t t_stop, t_sent, t_ready;

    /* Under the sandbox this thread narrows itself to the migration filter. */
    if (m->confine_thread && m->confine_thread() < 0) {
        fail(mg, "cannot confine the migration thread (see the VMM's log)", false);
        return NULL;
    }
    t_stop = clock_ns();
    mg->chan = migchan_open(mg->fd, mg->p.tls ? mg->p.key : NULL, true, MIGRATE_HANDSHAKE_MS,
                            err, sizeof(err));
    explicit_bzero(mg->p.key, sizeof(mg->p.key));
    if (!mg->chan) {
        fail(mg, err, false);
        return NULL;
    }
    if (mg->p.tls)
        log_info("migration: the stream's TLS session is up after %llu us",
                 (unsigned long long)(clock_ns() - t_stop) / 1000);
    stream_writer_set_io(mg->w, migchan_write, mg->chan);
    if (state_write_start(m, mg->w, STREAM_F_MIGRATION | (mg->p.compress ? STREAM_F_COMPRESSED : 0),
                          err, sizeof(err)) || stream_flush(mg->w)) {
        fail(mg, err[0] ? err : write_error(mg), false);
        return NULL;
    }
    if (read_reply(mg, REPLY_TIMEOUT_MS) || strncmp(mg->reply, "accept", 6) ||
        (mg->reply[6] && mg->reply[6] != ' ')) {
        fail(mg, mg->reply[0] ? mg->reply : "the receiver did not answer", false);
        return NULL;
    }
    log_info("migration: the receiver accepted after %llu us",
             (unsigned long long)(clock_ns() - t_stop) / 1000);
    mg->sync = strstr(mg->reply + 6, " sync") != NULL;
    if (mg->p.live && precopy(mg, &why)) {
        throttle(mg, 0);
        machine_dirty_log_stop(m);
        fail(mg, cancelled(mg) ? "cancelled" : why ? why : write_error(mg), false);
        return NULL;
    }

    /* Stop and copy (the vCPUs stopped before their throttle goes: no
     * burst at full speed in between). */
    t_stop = clock_ns();
    machine_pause(m);
    throttle(mg, 0);
    pthread_mutex_lock(&m->dev_lock);
    if (send_final(mg, !mg->p.live, err, sizeof(err))) {
        why = err;
        goto resume;
    }
    t_sent = clock_ns();
    if (read_reply(mg, REPLY_TIMEOUT_MS) || strcmp(mg->reply, "ready")) {
        why = mg->reply[0] ? mg->reply : "the receiver did not answer";
        goto resume;
    }
    t_ready = clock_ns();
    if (migchan_write_all(mg->chan, go_token, sizeof(go_token))) {
        why = "the connection broke before the hand-over";
        goto resume;
    }
    /* Past the point of no return: the receiver may be running it. */
    if (read_reply(mg, STARTED_TIMEOUT_MS) || strcmp(mg->reply, "started")) {
        pthread_mutex_unlock(&m->dev_lock);
        fail(mg, "the connection broke during the hand-over: the domain is left paused here; "
             "check the destination before resuming it", true);
        return NULL;
    }
    {
        uint64_t t_started = clock_ns(), down = (t_started - t_stop) / 1000000ull;
        Outcome o = { MIG_COMPLETED, NULL, false };
        log_info("migration switch-over: last pages and state sent in %llu us, ready after "
                 "%llu us, started after %llu us", (unsigned long long)(t_sent - t_stop) / 1000,
                 (unsigned long long)(t_ready - t_sent) / 1000,
                 (unsigned long long)(t_started - t_ready) / 1000);
        publish(mg, set_downtime, &down);
        machine_dirty_log_stop(m);
        /* The stream is over: xend's relay ends now, not at our exit. */
        migchan_shutdown(mg->chan);
        publish(mg, set_outcome, &o);
        machine_request_exit(m, VM_EXIT_MIGRATED, 0);
        pthread_mutex_unlock(&m->dev_lock);
    }
    return NULL;

resume:
    machine_dirty_log_stop(m);
    if (mg->disks_released) {
        char rerr[512];
        if (machine_disks_reacquire(m, rerr, sizeof(rerr)) < 0)
            log_err("after a failed migration: %s", rerr);
    }
    pthread_mutex_unlock(&m->dev_lock);
    if (!mg->p.paused)
        machine_resume(m);
    /* The destination may have announced the guest's MAC before it
     * failed: the network must learn it is here again. */
    machine_announce_network(m);
    fail(mg, why, false);
    return NULL;
}

/* ---- life cycle -------------------------------------------------------- */

static int connect_unix(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd;

    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "%s: path too long", path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

Migration *migrate_start(Machine *m, const MigrateParams *p, void (*notify)(void *opaque),
                         void *opaque, char *err, size_t errlen)
{
    Migration *mg = calloc(1, sizeof(*mg));
    uint64_t total = gmem_ram_size(&m->mem);

    if (m->no_save || !mg) {
        snprintf(err, errlen, "%s", m->no_save ? m->no_save : "out of memory");
        free(mg);
        if (p->fd >= 0 && p->close_fd)
            close(p->fd);
        return NULL;
    }
    mg->m = m;
    mg->p = *p;
    mg->fd = p->fd;
    mg->notify = notify;
    mg->opaque = opaque;
    pthread_mutex_init(&mg->lock, NULL);
    mg->st.state = MIG_ACTIVE;
    mg->st.total_bytes = total;
    tb_init(&mg->pacer, (uint64_t)p->bandwidth_mbps * 1000000ull / 8, 0, clock_ns());
    mg->bounce = malloc(PAGE_BATCH * STREAM_PAGE_SIZE);
    /* Read-only and never written: every page maps the kernel's zero page,
     * so reading it costs no memory and stays in cache. */
    mg->zeros = mmap(NULL, PAGE_BATCH * STREAM_PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
                     -1, 0);
    if (mg->zeros == MAP_FAILED)
        mg->zeros = NULL;
    if (!mg->bounce || !mg->zeros) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (unsigned r = 0; r < m->mem.nr; r++) {
        mg->todo[r] = calloc((m->mem.r[r].size >> GMEM_PAGE_SHIFT) / 64 + 1, sizeof(uint64_t));
        if (!mg->todo[r]) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    if (mg->fd < 0)
        mg->fd = connect_unix(p->path, err, errlen);
    if (mg->fd < 0)
        goto fail;
    {
        /* A receiver that stops reading must not hold the thread forever:
         * a write that makes no progress for this long fails the migration. */
        struct timeval tv = { .tv_sec = SEND_TIMEOUT_MS / 1000 };
        setsockopt(mg->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    }
    mg->w = stream_writer_new(mg->fd, false, p->compress ? 1 : 0);
    if (!mg->w) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (pthread_create(&mg->thread, NULL, migrate_thread, mg)) {
        snprintf(err, errlen, "cannot start the migration thread");
        goto fail;
    }
    mg->thread_started = true;
    return mg;
fail:
    migrate_free(mg);
    return NULL;
}

void migrate_join(Migration *mg)
{
    if (mg && mg->thread_started) {
        pthread_join(mg->thread, NULL);
        mg->thread_started = false;
    }
}

void migrate_free(Migration *mg)
{
    if (!mg)
        return;
    migrate_join(mg);
    stream_writer_free(mg->w);
    migchan_free(mg->chan);
    if (mg->fd >= 0 && (mg->p.fd < 0 || mg->p.close_fd))
        close(mg->fd);
    for (unsigned r = 0; r < GMEM_MAX_REGIONS; r++)
        free(mg->todo[r]);
    free(mg->bounce);
    if (mg->zeros)
        munmap(mg->zeros, PAGE_BATCH * STREAM_PAGE_SIZE);
    free(mg);
}
