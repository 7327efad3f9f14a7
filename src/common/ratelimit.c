#include "ratelimit.h"

#define NS_PER_S 1000000000ull

static void refill(TokenBucket *b, uint64_t now_ns)
{
    __uint128_t add;

    if (now_ns <= b->last_ns)
        return;
    /* rate < 2^63 and dt < 2^64: the product fits */
    add = (__uint128_t)b->rate * (now_ns - b->last_ns) / NS_PER_S;
    if (add > (__uint128_t)((__int128)b->burst - b->tokens)) {   /* full: the rest is lost */
        b->tokens = (int64_t)b->burst;
        b->last_ns = now_ns;
    } else {
        /* advance by the time the tokens added stand for: the remainder
         * counts next time */
        b->tokens += (int64_t)add;
        b->last_ns += (uint64_t)(add * NS_PER_S / b->rate);
    }
}

void tb_init(TokenBucket *b, uint64_t rate, uint64_t burst, uint64_t now_ns)
{
    b->rate = rate;
    b->burst = burst ? burst : (rate / 10 ? rate / 10 : 1);
    if (b->burst > (uint64_t)INT64_MAX / 2)
        b->burst = (uint64_t)INT64_MAX / 2;
    b->tokens = (int64_t)b->burst;
    b->last_ns = now_ns;
}

uint64_t tb_wait_ns(TokenBucket *b, uint64_t now_ns)
{
    uint64_t need;

    if (!b->rate)
        return 0;
    refill(b, now_ns);
    if (b->tokens > 0)
        return 0;
    /* until the debt is paid and one token more */
    need = (uint64_t)(-b->tokens) + 1;
    return (uint64_t)(((__uint128_t)need * NS_PER_S + b->rate - 1) / b->rate);
}

void tb_take(TokenBucket *b, uint64_t cost, uint64_t now_ns)
{
    if (!b->rate)
        return;
    refill(b, now_ns);
    if (cost > (uint64_t)INT64_MAX / 2)
        cost = (uint64_t)INT64_MAX / 2;
    if (b->tokens < INT64_MIN / 2 + (int64_t)cost)
        b->tokens = INT64_MIN / 2;
    else
        b->tokens -= (int64_t)cost;
}

void throttle_init(IoThrottle *t, uint64_t bps, uint64_t bps_burst, uint64_t iops,
                   uint64_t iops_burst, uint64_t now_ns)
{
    tb_init(&t->bytes, bps, bps_burst, now_ns);
    tb_init(&t->ops, iops, iops_burst, now_ns);
}

bool throttle_enabled(const IoThrottle *t)
{
    return t->bytes.rate || t->ops.rate;
}

uint64_t throttle_wait_ns(IoThrottle *t, uint64_t now_ns)
{
    uint64_t a = tb_wait_ns(&t->bytes, now_ns), b = tb_wait_ns(&t->ops, now_ns);

    return a > b ? a : b;
}

void throttle_charge(IoThrottle *t, uint64_t bytes, uint64_t now_ns)
{
    tb_take(&t->bytes, bytes, now_ns);
    tb_take(&t->ops, 1, now_ns);
}
