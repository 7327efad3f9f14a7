/* Auto-converge's arithmetic (converge.h).
 *
 * The dirty log counts pages, not writes: a guest that rewrites a 64 MiB
 * working set at 900 MiB/s shows "64 MiB dirty" after a 200 ms round and
 * after a 2 s round alike. A round's count is therefore only a lower bound
 * on the dirty rate. The sender also counts the pages dirtied in the first
 * few milliseconds after re-arming the log, before the working set caps the
 * count: that is the rate the guest really dirties at. QEMU's auto-converge
 * steps its throttle up blindly (20 %, then +10 a round) and QEMU's
 * dirty-limit measures rates per vCPU; here the throttle comes from the
 * measured rate in one step, so a guest that dirties memory faster than
 * the link carries it spends two rounds slowed down instead of several. */
#include "converge.h"

#include <math.h>

#include "common/stream.h"
#include "common/util.h"

/* Aim at half the downtime: rates vary from round to round, and the
 * stop-and-copy's rate is lower than a round's (nothing overlaps it). */
#define MARGIN 0.5
/* Converge over this many rounds rather than in one: each round then
 * needs only the square root of the one-round ratio, and the guest runs
 * at about twice the speed meanwhile. Its own latency is what its clients
 * see of a throttle (a guest slowed to a tenth took 100-260 ms to answer
 * during the one throttled round); the price is one more round of about
 * half the size. */
#define ROUNDS 2

unsigned converge_step(unsigned pct)
{
    return pct ? MIN(100 - (100 - pct) / 2, THROTTLE_MAX) : THROTTLE_FIRST;
}

unsigned converge_throttle(const ConvergeRound *r)
{
    double run = (100.0 - r->throttle) / 100.0;  /* share of time the vCPUs ran */
    double full = 0, t_next, budget, predicted, ratio, want;
    unsigned pct = MIN(r->throttle, THROTTLE_MAX);
    unsigned floor = r->stalled ? converge_step(pct) : pct;

    if (!r->rate || !r->dirty || !r->round_ns || run <= 0)
        return floor;
    /* Pages per second the guest dirties at full speed (lower bounds). */
    full = r->dirty / (r->round_ns / 1e9);
    if (r->sample_ns && r->sample_pages / (r->sample_ns / 1e9) > full)
        full = r->sample_pages / (r->sample_ns / 1e9);
    full /= run;
    /* The next round carries what is dirty now; meanwhile the guest dirties
     * at its rate, but no more than the working set it showed. */
    t_next = (double)r->dirty * STREAM_PAGE_SIZE / r->rate;
    budget = r->downtime_ms / 1e3 * r->rate / STREAM_PAGE_SIZE;
    predicted = full * run * t_next;
    if (t_next <= r->round_ns / 1e9 && predicted > r->dirty)
        predicted = r->dirty;
    if (predicted <= budget)
        return floor;
    /* The share of time the vCPUs may run so that each of the next ROUNDS
     * rounds leaves `ratio` times what it carried, the last MARGIN of the
     * budget: a page sent lets the guest dirty `ratio` pages meanwhile. */
    ratio = pow(MARGIN * budget / r->dirty, 1.0 / ROUNDS);
    want = ratio * r->rate / STREAM_PAGE_SIZE / full;
    if (want < 1) {
        double p = 100.0 * (1 - want);
        unsigned computed = p >= THROTTLE_MAX ? THROTTLE_MAX : (unsigned)p + 1;
        pct = MAX(pct, computed);
    }
    return MIN(MAX(pct, floor), THROTTLE_MAX);
}

bool converge_done(uint64_t dirty, uint64_t carried, uint64_t rate, unsigned downtime_ms)
{
    uint64_t budget = (uint64_t)downtime_ms * rate / 1000 / STREAM_PAGE_SIZE;

    if (!rate || dirty > budget)
        return false;
    /* It fits. A rest under a quarter of the downtime goes now; a larger
     * one waits for one more round as long as rounds still halve it: a
     * round costs the running guest nothing, a stop-and-copy costs it the
     * downtime. */
    return dirty * 4 <= budget || dirty * 2 > carried;
}
