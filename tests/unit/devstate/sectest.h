/* Test helpers for saved-state sections: save a VmState's one section into
 * a buffer, load it (or a tampered copy) into another device, and check
 * that a refused load says why in one line. */
#ifndef XENO_TEST_SECTEST_H
#define XENO_TEST_SECTEST_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/util.h"
#include "common/vmstate.h"

typedef struct Saved {
    uint32_t tag, instance, version;
    uint8_t data[16384];
    size_t len;
} Saved;

static inline int put_saved(void *opaque, const VmStateSection *s, const void *data, size_t len)
{
    Saved *sv = opaque;

    assert_true(len <= sizeof(sv->data));
    sv->tag = s->tag;
    sv->instance = s->instance;
    sv->version = s->version;
    memcpy(sv->data, data, len);
    sv->len = len;
    return 0;
}

/* Save the one section registered in vs. */
static inline void save_section(VmState *vs, Saved *sv)
{
    char err[256] = "";

    assert_int_equal(vs->n, 1);
    if (vmstate_save_all(vs, put_saved, sv, err, sizeof(err)))
        fail_msg("save: %s", err);
}

/* Load sv into vs (as the restore does): 0, or -1 with one line in err. */
static inline int load_section(VmState *vs, const Saved *sv, char *err, size_t errlen)
{
    vmstate_load_begin(vs);
    return vmstate_load_one(vs, sv->tag, sv->instance, sv->version, sv->data, sv->len,
                            err, errlen);
}

static inline void assert_loads(VmState *vs, const Saved *sv)
{
    char err[512] = "";

    if (load_section(vs, sv, err, sizeof(err)))
        fail_msg("load refused: %s", err);
}

/* The load is refused with one line that contains `want`. */
static inline void assert_load_fails(VmState *vs, const Saved *sv, const char *want)
{
    char err[512] = "";

    assert_int_equal(load_section(vs, sv, err, sizeof(err)), -1);
    if (!strstr(err, want))
        fail_msg("load error '%s' does not say '%s'", err, want);
    assert_null(strchr(err, '\n'));
}

/* Tamper with a saved section: overwrite little-endian fields. */
static inline void sv_u8(Saved *sv, size_t off, uint8_t v)
{
    assert_true(off + 1 <= sv->len);
    sv->data[off] = v;
}

static inline void sv_u16(Saved *sv, size_t off, uint16_t v)
{
    assert_true(off + 2 <= sv->len);
    st16(sv->data + off, v);
}

static inline void sv_u32(Saved *sv, size_t off, uint32_t v)
{
    assert_true(off + 4 <= sv->len);
    st32(sv->data + off, v);
}

static inline void sv_u64(Saved *sv, size_t off, uint64_t v)
{
    assert_true(off + 8 <= sv->len);
    st64(sv->data + off, v);
}

/* The usual suspects for any section: unknown version, short, long. */
static inline void check_framing(VmState *vs, const Saved *good)
{
    Saved *sv = malloc(sizeof(*sv));

    assert_non_null(sv);
    *sv = *good;
    sv->version = 0;
    assert_load_fails(vs, sv, "version");
    *sv = *good;
    sv->len--;
    assert_load_fails(vs, sv, "");
    *sv = *good;
    sv->len = 0;
    assert_load_fails(vs, sv, "");
    *sv = *good;
    sv->data[sv->len++] = 0;
    assert_load_fails(vs, sv, "longer than its version allows");
    free(sv);
}

#endif
