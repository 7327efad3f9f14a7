/* Small helpers used across the tree. */
#ifndef XENO_UTIL_H
#define XENO_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define ALIGN_UP(x, a) (((x) + (a) - 1) & ~((__typeof__(x))(a) - 1))

/* Little-endian accessors for guest-visible structures (the host is x86-64,
 * but device models must not depend on that). */
static inline uint16_t ld16(const void *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline uint32_t ld32(const void *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t ld64(const void *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline void st16(void *p, uint16_t v) { memcpy(p, &v, 2); }
static inline void st32(void *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void st64(void *p, uint64_t v) { memcpy(p, &v, 8); }

/* Value of a hexadecimal digit, or -1. */
static inline int hex_digit(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

#define NS_PER_MS  1000000ull
#define NS_PER_SEC 1000000000ull

/* Monotonic clock in nanoseconds: for durations and deadlines. */
uint64_t clock_ns(void);

/* Wall clock (CLOCK_REALTIME) in nanoseconds since the epoch: only for the
 * APIs that want it, such as pthread_cond_timedwait on a default condvar. */
uint64_t clock_realtime_ns(void);

/* ns (from clock_ns or clock_realtime_ns) as a struct timespec, e.g. the
 * absolute deadline of a timed wait. */
static inline struct timespec ns_to_timespec(uint64_t ns)
{
    return (struct timespec){ .tv_sec = (time_t)(ns / NS_PER_SEC),
                              .tv_nsec = (long)(ns % NS_PER_SEC) };
}

/* Read a whole file; returns malloc'd buffer or NULL with errno set. */
void *read_file(const char *path, size_t *len);

#endif
