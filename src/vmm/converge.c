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
 * the link carries it spends one round slowed down instead of several. */
#include "converge.h"

#include "common/stream.h"
#include "common/util.h"

/* Aim below the downtime: rates vary from round to round. */
#define MARGIN 0.8

unsigned converge_step(unsigned pct)
{
    return pct ? MIN(100 - (100 - pct) / 2, THROTTLE_MAX) : THROTTLE_FIRST;
}

unsigned converge_throttle(const ConvergeRound *r)
{
    double run = (100.0 - r->throttle) / 100.0;  /* share of time the vCPUs ran */
    double full = 0, t_next, budget, predicted, want;
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
    /* The share of time the vCPUs may run so that they dirty no more than
     * the budget while the next round is sent. */
    want = MARGIN * budget / (full * t_next);
    if (want < 1) {
        double p = 100.0 * (1 - want);
        unsigned computed = p >= THROTTLE_MAX ? THROTTLE_MAX : (unsigned)p + 1;
        pct = MAX(pct, computed);
    }
    return MIN(MAX(pct, floor), THROTTLE_MAX);
}
