/* Helpers for the devices' saved-state loaders (common/vmstate.h).
 *
 * A device's loader reads its whole section, validates it, and applies
 * nothing unless all of it is valid: a refused restore leaves no device
 * half loaded. So it checks the end of the section itself (bytes left
 * over are as wrong as missing ones) before it changes anything. */
#ifndef XENO_HW_DEVSTATE_H
#define XENO_HW_DEVSTATE_H

#include <stdint.h>
#include <stdio.h>

#include "common/statebuf.h"

/* 0 if the version is the one the loader knows, else -1 with err set. */
static inline int devstate_version(uint32_t version, uint32_t known, char *err, size_t errlen)
{
    if (version == known)
        return 0;
    snprintf(err, errlen, "unknown version %u", version);
    return -1;
}

/* 0 if every field was there and nothing follows, else -1 with err set. */
static inline int devstate_end(const StateBuf *b, char *err, size_t errlen)
{
    if (b->error) {
        snprintf(err, errlen, "too short or malformed");
        return -1;
    }
    if (sb_remaining(b)) {
        snprintf(err, errlen, "longer than its version allows");
        return -1;
    }
    return 0;
}

#endif
