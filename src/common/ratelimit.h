/* Token buckets: I/O limits (a disk's bytes and requests per second, a
 * NIC's transmit rate) and rate-limited log messages.
 *
 * A bucket holds up to `burst` tokens and gains `rate` per second. A
 * request is let through while the bucket is not in debt and then takes
 * its whole cost, which may drive the bucket below zero: a request larger
 * than the burst still goes, and the ones after it wait for the debt to be
 * paid. Time is passed in (nanoseconds, CLOCK_MONOTONIC), so nothing here
 * reads a clock or sleeps; the caller arms a timer for the wait. Not
 * thread-safe: the owner serializes (the device lock). */
#ifndef XENO_RATELIMIT_H
#define XENO_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

typedef struct TokenBucket {
    uint64_t rate;       /* tokens per second; 0 = no limit */
    uint64_t burst;      /* the most tokens held */
    int64_t tokens;      /* may go negative (debt) */
    uint64_t last_ns;
} TokenBucket;

/* rate 0: the bucket lets everything through. burst 0: rate / 10 (at
 * least 1). Starts full. */
void tb_init(TokenBucket *b, uint64_t rate, uint64_t burst, uint64_t now_ns);
/* 0 if a request may go now, else the nanoseconds until it may. */
uint64_t tb_wait_ns(TokenBucket *b, uint64_t now_ns);
/* Charge a request that went. */
void tb_take(TokenBucket *b, uint64_t cost, uint64_t now_ns);

/* A disk's or NIC's limits: bytes and operations. */
typedef struct IoThrottle {
    TokenBucket bytes, ops;
} IoThrottle;

void throttle_init(IoThrottle *t, uint64_t bps, uint64_t bps_burst, uint64_t iops,
                   uint64_t iops_burst, uint64_t now_ns);
bool throttle_enabled(const IoThrottle *t);
/* 0 if the next request may go, else how long to wait (ns). */
uint64_t throttle_wait_ns(IoThrottle *t, uint64_t now_ns);
void throttle_charge(IoThrottle *t, uint64_t bytes, uint64_t now_ns);

#endif
