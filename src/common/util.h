/* Small helpers used across the tree. */
#ifndef XENO_UTIL_H
#define XENO_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define ALIGN_UP(x, a) (((x) + (a) - 1) & ~((__typeof__(x))(a) - 1))
#define UNUSED __attribute__((unused))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

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

/* Monotonic clock in nanoseconds. */
uint64_t clock_ns(void);

/* Read a whole file; returns malloc'd buffer or NULL with errno set. */
void *read_file(const char *path, size_t *len);

/* Parse an unsigned decimal/hex number with optional K/M/G suffix
 * (multiplier applied to the value). Returns 0 on success, -1 if malformed. */
int parse_u64(const char *s, uint64_t *out);

#endif
