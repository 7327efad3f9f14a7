/* The MMIO bus (and, for x86, the port I/O bus): maps address ranges to
 * device ops. Engines call bus_read()/bus_write() on an access that misses
 * RAM.
 *
 * Locking: device models are single-threaded by design. The bus takes the
 * machine's device lock around every dispatch, and the event loop takes the
 * same lock around backend callbacks, so a device never runs concurrently
 * with itself.
 *
 * A device that the guest must be told about maps itself with
 * bus_map_desc(): its description (hw/describe.h) goes into the list the
 * board gave the bus, so that the device-tree and ACPI builders find every
 * device on the board's buses in the order they were created. */
#ifndef XENO_HW_BUS_H
#define XENO_HW_BUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "hw/describe.h"

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
    DescList *descs;         /* the board's device descriptions; may be NULL */
} Bus;

/* Returns 0, or -1 if the range overlaps another or the bus is full. */
int bus_map(Bus *b, uint64_t base, uint64_t size, const MmioOps *ops,
            void *opaque, const char *name);
/* bus_map, and register the device's description `desc` (with the same
 * opaque) in b->descs when the bus has one. -1 (nothing done) if the range
 * cannot be mapped or the list is full. */
int bus_map_desc(Bus *b, uint64_t base, uint64_t size, const MmioOps *ops,
                 const DescOps *desc, void *opaque, const char *name);

/* Dispatch an access. Returns false if nothing is mapped there (reads then
 * yield 0; the engine decides whether that is an access fault). */
bool bus_read(Bus *b, uint64_t addr, unsigned size, uint64_t *val);
bool bus_write(Bus *b, uint64_t addr, unsigned size, uint64_t val);

#endif
