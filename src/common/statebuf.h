/* A byte buffer for saved state: devices and engines write their state
 * into one with sb_put_*() when a domain is saved, and read it back with
 * sb_get_*() when it is restored or arrives by migration.
 *
 * Encoding: little-endian integers, no padding, no field names; the layout
 * of a section is fixed by its version (see docs/state-format.md). A
 * reader never reads past the end: a short or malformed buffer sets a
 * sticky error and every further get returns 0, so a loader checks
 * sb_ok() once at the end instead of after every field. Writers set the
 * error only when out of memory. */
#ifndef XENO_COMMON_STATEBUF_H
#define XENO_COMMON_STATEBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct StateBuf {
    uint8_t *data;
    size_t len;         /* bytes written (writer) or available (reader) */
    size_t cap;         /* allocated (writer); 0 for a reader */
    size_t pos;         /* read position */
    bool error;
} StateBuf;

/* An empty writer / a reader over len bytes (not copied, not freed). */
void sb_init(StateBuf *b);
void sb_reader(StateBuf *b, const void *data, size_t len);
void sb_free(StateBuf *b);

void sb_put_u8(StateBuf *b, uint8_t v);
void sb_put_u16(StateBuf *b, uint16_t v);
void sb_put_u32(StateBuf *b, uint32_t v);
void sb_put_u64(StateBuf *b, uint64_t v);
void sb_put_bool(StateBuf *b, bool v);
void sb_put_bytes(StateBuf *b, const void *p, size_t n);
/* A u32 length, then the bytes. */
void sb_put_blob(StateBuf *b, const void *p, size_t n);

uint8_t sb_get_u8(StateBuf *b);
uint16_t sb_get_u16(StateBuf *b);
uint32_t sb_get_u32(StateBuf *b);
uint64_t sb_get_u64(StateBuf *b);
/* 0 or 1; anything else is an error. */
bool sb_get_bool(StateBuf *b);
void sb_get_bytes(StateBuf *b, void *p, size_t n);
/* A blob written by sb_put_blob of at most max bytes: its length, or 0
 * with the error set if longer. */
size_t sb_get_blob(StateBuf *b, void *p, size_t max);

/* No error so far. For a reader, also every byte consumed: a section
 * longer than its version says is as wrong as a short one. */
bool sb_ok(const StateBuf *b);
/* Bytes left to read. */
size_t sb_remaining(const StateBuf *b);

#endif
