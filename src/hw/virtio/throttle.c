#include "throttle.h"

#include <stdio.h>

#include "common/util.h"

#define NS_PER_MS 1000000ull

static void hook_prepare(void *opaque, Loop *l, int *timeout_ms)
{
    VirtioThrottle *t = opaque;
    uint64_t w, ms;

    if (!t->waiting)
        return;
    w = throttle_wait_ns(&t->io, clock_ns());
    ms = (w + NS_PER_MS - 1) / NS_PER_MS;
    if (*timeout_ms < 0 || ms < (uint64_t)*timeout_ms)
        *timeout_ms = (int)(ms > INT32_MAX ? INT32_MAX : ms);
}

static void hook_dispatch(void *opaque, Loop *l)
{
    VirtioThrottle *t = opaque;

    if (!t->waiting || throttle_wait_ns(&t->io, clock_ns()))
        return;
    t->waiting = false;
    t->resume(t->vd, t->q);
}

int vthrottle_init(VirtioThrottle *t, Loop *loop, VirtioDevice *vd, unsigned q,
                   void (*resume)(VirtioDevice *vd, unsigned q), uint64_t bps,
                   uint64_t bps_burst, uint64_t iops, uint64_t iops_burst,
                   char *err, size_t errlen)
{
    LoopHook hook = { .prepare = hook_prepare, .dispatch = hook_dispatch, .opaque = t };

    vthrottle_fini(t);
    throttle_init(&t->io, bps, bps_burst, iops, iops_burst, clock_ns());
    t->vd = vd;
    t->q = q;
    t->resume = resume;
    t->waiting = false;
    if (!throttle_enabled(&t->io))
        return 0;
    if (!loop || loop_add_hook(loop, &hook) < 0) {
        snprintf(err, errlen, "%s: I/O limits: too many limited devices on the event loop",
                 vd->ops->name);
        return -1;
    }
    t->loop = loop;
    return 0;
}

bool vthrottle_blocked(VirtioThrottle *t)
{
    if (!t->loop)
        return false;
    if (t->waiting)
        return true;
    if (!throttle_wait_ns(&t->io, clock_ns()))
        return false;
    t->waiting = true;
    loop_wakeup(t->loop);     /* the loop's next poll timeout must see it */
    return true;
}

void vthrottle_charge(VirtioThrottle *t, uint64_t bytes)
{
    if (t->loop)
        throttle_charge(&t->io, bytes, clock_ns());
}

void vthrottle_rearm(VirtioThrottle *t)
{
    if (t->loop) {
        t->waiting = true;
        loop_wakeup(t->loop);
    }
}

void vthrottle_fini(VirtioThrottle *t)
{
    if (t->loop)
        loop_del_hook(t->loop, t);
    t->loop = NULL;
    t->waiting = false;
}
