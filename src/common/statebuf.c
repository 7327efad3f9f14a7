#include "statebuf.h"

#include <stdlib.h>
#include <string.h>

void sb_init(StateBuf *b)
{
    memset(b, 0, sizeof(*b));
}

void sb_reader(StateBuf *b, const void *data, size_t len)
{
    memset(b, 0, sizeof(*b));
    b->data = (uint8_t *)data;
    b->len = len;
}

void sb_free(StateBuf *b)
{
    if (b->cap)
        free(b->data);
    memset(b, 0, sizeof(*b));
}

static uint8_t *put_room(StateBuf *b, size_t n)
{
    if (b->error)
        return NULL;
    if (!b->cap && b->data) {       /* a reader is not writable */
        b->error = true;
        return NULL;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        uint8_t *p;
        while (cap < b->len + n)
            cap *= 2;
        p = realloc(b->data, cap);
        if (!p) {
            b->error = true;
            return NULL;
        }
        b->data = p;
        b->cap = cap;
    }
    b->len += n;
    return b->data + b->len - n;
}

static void put_le(StateBuf *b, uint64_t v, unsigned n)
{
    uint8_t *p = put_room(b, n);

    for (unsigned i = 0; p && i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void sb_put_u8(StateBuf *b, uint8_t v) { put_le(b, v, 1); }
void sb_put_u16(StateBuf *b, uint16_t v) { put_le(b, v, 2); }
void sb_put_u32(StateBuf *b, uint32_t v) { put_le(b, v, 4); }
void sb_put_u64(StateBuf *b, uint64_t v) { put_le(b, v, 8); }
void sb_put_bool(StateBuf *b, bool v) { put_le(b, v ? 1 : 0, 1); }

void sb_put_bytes(StateBuf *b, const void *p, size_t n)
{
    uint8_t *d = put_room(b, n);

    if (d && n)
        memcpy(d, p, n);
}

void sb_put_blob(StateBuf *b, const void *p, size_t n)
{
    if (n > UINT32_MAX) {
        b->error = true;
        return;
    }
    sb_put_u32(b, (uint32_t)n);
    sb_put_bytes(b, p, n);
}

static const uint8_t *get_room(StateBuf *b, size_t n)
{
    if (b->error || n > b->len - b->pos) {
        b->error = true;
        return NULL;
    }
    b->pos += n;
    return b->data + b->pos - n;
}

static uint64_t get_le(StateBuf *b, unsigned n)
{
    const uint8_t *p = get_room(b, n);
    uint64_t v = 0;

    for (unsigned i = 0; p && i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

uint8_t sb_get_u8(StateBuf *b) { return (uint8_t)get_le(b, 1); }
uint16_t sb_get_u16(StateBuf *b) { return (uint16_t)get_le(b, 2); }
uint32_t sb_get_u32(StateBuf *b) { return (uint32_t)get_le(b, 4); }
uint64_t sb_get_u64(StateBuf *b) { return get_le(b, 8); }

bool sb_get_bool(StateBuf *b)
{
    uint8_t v = sb_get_u8(b);

    if (v > 1)
        b->error = true;
    return v == 1;
}

void sb_get_bytes(StateBuf *b, void *p, size_t n)
{
    const uint8_t *s = get_room(b, n);

    if (s && n)
        memcpy(p, s, n);
    else if (n)
        memset(p, 0, n);
}

size_t sb_get_blob(StateBuf *b, void *p, size_t max)
{
    uint32_t n = sb_get_u32(b);

    if (b->error || n > max) {
        b->error = true;
        return 0;
    }
    sb_get_bytes(b, p, n);
    return b->error ? 0 : n;
}

bool sb_ok(const StateBuf *b)
{
    return !b->error && (b->cap || b->pos == b->len);
}

size_t sb_remaining(const StateBuf *b)
{
    return b->error ? 0 : b->len - b->pos;
}
