/* Auto-converge's arithmetic: how much to slow a guest's vCPUs down so
 * that the next pre-copy round leaves no more than the downtime carries.
 * Kept apart from the stream so that it can be tested on numbers
 * (docs/migration.md, "Auto-converge"). */
#ifndef XENO_VMM_CONVERGE_H
#define XENO_VMM_CONVERGE_H

#include <stdbool.h>
#include <stdint.h>

#define THROTTLE_FIRST 20u      /* the first step when there is nothing to compute from */
#define THROTTLE_MAX   99u

/* What a pre-copy round measured. */
typedef struct ConvergeRound {
    uint64_t dirty;             /* pages dirtied since the dirty log was last re-armed */
    uint64_t round_ns;          /* ...over this long */
    uint64_t sample_pages;      /* pages dirtied in the first sample_ns after the */
    uint64_t sample_ns;         /* re-arm (0: no sample): a rate not yet capped by */
                                /* the working set */
    uint64_t rate;              /* bytes per second the link carried, end to end */
    unsigned throttle;          /* percent of the time the vCPUs sat out meanwhile */
    unsigned downtime_ms;       /* the target */
    bool stalled;               /* the dirty set did not shrink since the last round */
} ConvergeRound;

/* The throttle (percent, 0..THROTTLE_MAX) for the next round: the current
 * one when the next round is predicted to fit, else the one computed from
 * the guest's dirty rate at full speed, never less than the current one
 * and, after a round that did not shrink, at least the next step (20, 60,
 * 80, 90, 95...). */
unsigned converge_throttle(const ConvergeRound *r);

/* Whether pre-copy is done: the `dirty` pages left (after a round that
 * carried `carried`) fit the downtime at `rate` bytes/s, and are either
 * small (a quarter of it) or no longer halving from round to round. */
bool converge_done(uint64_t dirty, uint64_t carried, uint64_t rate, unsigned downtime_ms);

/* The next step after pct (0 -> 20, then halving the time the vCPUs run). */
unsigned converge_step(unsigned pct);

#endif
