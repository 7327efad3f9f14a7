/* The MMIO bus (and, for x86, the port I/O bus): maps address ranges to
 * device ops. Engines call bus_read()/bus_write() on an access that misses
 * RAM.
 *
 * Locking: device models are single-threaded by design. The bus takes the
 * machine's device lock around every dispatch, and the event loop takes the
 * same lock around backend callbacks, so a device never runs concurrently
 * with itself. */
#ifndef XENO_HW_BUS_H
#define XENO_HW_BUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct MmioOps {
    /* off is relative to the mapping base; size is 1, 2, 4 or 8. */
    uint64_t (*read)(void *opaque, uint64_t off, unsigned size);
    void (*write)(void *opaque, uint64_t off, uint64_t val, unsigned size);
} MmioOps;

typedef struct BusRange {
    uint64_t base, size;
    const MmioOps *ops;
    void *opaque;
    const char *name;
} BusRange;

#define BUS_MAX_RANGES 64

typedef struct Bus {
    BusRange r[BUS_MAX_RANGES];
    unsigned nr;
    pthread_mutex_t *lock;   /* the machine's device lock; may be NULL */
} Bus;

/* Returns 0, or -1 if the range overlaps another or the bus is full. */
int bus_map(Bus *b, uint64_t base, uint64_t size, const MmioOps *ops,
            void *opaque, const char *name);

/* Dispatch an access. Returns false if nothing is mapped there (reads then
 * yield 0; the engine decides whether that is an access fault). */
bool bus_read(Bus *b, uint64_t addr, unsigned size, uint64_t *val);
bool bus_write(Bus *b, uint64_t addr, unsigned size, uint64_t val);

#endif
