#include "bus.h"

int bus_map(Bus *b, uint64_t base, uint64_t size, const MmioOps *ops,
            void *opaque, const char *name)
{
    if (b->nr >= BUS_MAX_RANGES || !size || base + size < base)
        return -1;
    for (unsigned i = 0; i < b->nr; i++)
        if (base < b->r[i].base + b->r[i].size && b->r[i].base < base + size)
            return -1;
    b->r[b->nr++] = (BusRange){ base, size, ops, opaque, name };
    return 0;
}

int bus_map_desc(Bus *b, uint64_t base, uint64_t size, const MmioOps *ops,
                 const DescOps *desc, void *opaque, const char *name)
{
    if (b->descs && b->descs->n >= DESC_MAX)
        return -1;
    if (bus_map(b, base, size, ops, opaque, name) < 0)
        return -1;
    return desc_add(b->descs, desc, opaque);    /* cannot fail now */
}

static BusRange *lookup(Bus *b, uint64_t addr, unsigned size)
{
    for (unsigned i = 0; i < b->nr; i++) {
        BusRange *r = &b->r[i];
        if (addr >= r->base && addr - r->base < r->size &&
            size <= r->size - (addr - r->base))
            return r;
    }
    return 0;
}

bool bus_read(Bus *b, uint64_t addr, unsigned size, uint64_t *val)
{
    BusRange *r = lookup(b, addr, size);

    *val = 0;
    if (!r)
        return false;
    if (r->ops->read) {
        if (b->lock)
            pthread_mutex_lock(b->lock);
        *val = r->ops->read(r->opaque, addr - r->base, size);
        if (b->lock)
            pthread_mutex_unlock(b->lock);
    }
    return true;
}

bool bus_write(Bus *b, uint64_t addr, unsigned size, uint64_t val)
{
    BusRange *r = lookup(b, addr, size);

    if (!r)
        return false;
    if (r->ops->write) {
        if (b->lock)
            pthread_mutex_lock(b->lock);
        r->ops->write(r->opaque, addr - r->base, val, size);
        if (b->lock)
            pthread_mutex_unlock(b->lock);
    }
    return true;
}
