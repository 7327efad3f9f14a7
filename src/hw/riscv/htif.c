/* HTIF, the host-target interface of riscv-tests and other bare-metal
 * programs: the program stores a command into the `tohost` word in RAM and
 * the host acts on it. Two commands matter: device 0 with bit 0 set ends
 * the program with exit code (payload >> 1); device 1, command 1 prints the
 * low byte, acknowledged by clearing tohost and setting fromhost as the
 * riscv-tests environment expects.
 *
 * The words live in ordinary guest RAM; the engine reports every store to
 * their page (emu_watch_stores) and htif_store() decodes it. */
#include <stdlib.h>

#include "common/util.h"
#include "riscv.h"

struct Htif {
    GuestMem *mem;
    uint64_t tohost, fromhost;
    HtifHost host;
};

Htif *htif_create(GuestMem *mem, uint64_t tohost, uint64_t fromhost, const HtifHost *host)
{
    Htif *h = calloc(1, sizeof(*h));

    if (!h)
        return NULL;
    h->mem = mem;
    h->tohost = tohost;
    h->fromhost = fromhost;
    h->host = *host;
    return h;
}

void htif_free(Htif *h)
{
    free(h);
}

uint64_t htif_tohost(const Htif *h)
{
    return h->tohost;
}

void htif_store(void *opaque, uint64_t pa, uint64_t val)
{
    Htif *h = opaque;
    unsigned dev = (unsigned)(val >> 56), cmd = (unsigned)(val >> 48) & 0xff;

    if (pa != h->tohost || !val)
        return;
    if (dev == 0 && cmd == 0 && (val & 1)) {
        h->host.exit(h->host.opaque, (int)((val & 0xffffffffffffull) >> 1));
        return;
    }
    if (dev == 1 && cmd == 1) {
        uint8_t c = (uint8_t)val;
        uint8_t *to = gmem_ptr_w(h->mem, h->tohost, 8);
        uint8_t *from = h->fromhost ? gmem_ptr_w(h->mem, h->fromhost, 8) : NULL;

        h->host.putchar(h->host.opaque, c);
        if (to)
            st64(to, 0);
        if (from)
            st64(from, (1ull << 56) | (1ull << 48));
    }
}
