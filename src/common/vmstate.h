/* The sections of a domain's state: who saves what, and who loads it.
 *
 * Everything with state a guest can see (each vCPU, the engine's clock and
 * interrupt controllers, each device) registers one section: a tag (four
 * characters, e.g. "HART", "PLIC", "VMIO"), an instance number (hart id,
 * slot), the version of its layout, and two functions. Saving writes every
 * section in registration order; loading hands each record of a stream to
 * the section it names and fails on a record nobody registered (a foreign
 * or newer machine) and on a registered section missing from the stream.
 *
 * save() writes the section's fields into a StateBuf; load() reads them
 * back, validating every value as untrusted input (a save file can be
 * corrupt or crafted), and accepts the versions it knows (usually only
 * its own). A loader checks b->error before it applies anything; bytes
 * left over after it returns are the caller's error to report. Both run with the vCPUs paused and the device lock held. */
#ifndef XENO_COMMON_VMSTATE_H
#define XENO_COMMON_VMSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "statebuf.h"

#define VMSTATE_MAX_SECTIONS 96

/* 0, or -1 with one line in err (the caller prefixes the section's name). */
typedef int (*vmstate_save_fn)(void *opaque, StateBuf *b, char *err, size_t errlen);
/* 0, or -1 with one line in err (what is wrong, not where: the caller
 * prefixes the section's name). */
typedef int (*vmstate_load_fn)(void *opaque, StateBuf *b, uint32_t version,
                               char *err, size_t errlen);

typedef struct VmStateSection {
    uint32_t tag;                   /* STREAM_TAG(...) */
    uint32_t instance;
    uint32_t version;
    vmstate_save_fn save;
    vmstate_load_fn load;
    void *opaque;
    bool loaded;                    /* during a load */
} VmStateSection;

typedef struct VmState {
    VmStateSection s[VMSTATE_MAX_SECTIONS];
    unsigned n;
} VmState;

/* Register a section. -1 if (tag, instance) is taken or the table is full
 * (a programming error: the caller aborts the machine's construction). */
int vmstate_register(VmState *vs, const char *tag, uint32_t instance, uint32_t version,
                     vmstate_save_fn save, vmstate_load_fn load, void *opaque);
VmStateSection *vmstate_find(VmState *vs, uint32_t tag, uint32_t instance);

/* Write each section through put(): 0, or -1 with one line in err. */
typedef int (*vmstate_put_fn)(void *opaque, const VmStateSection *s, const void *data, size_t len);
int vmstate_save_all(VmState *vs, vmstate_put_fn put, void *opaque, char *err, size_t errlen);

/* Loading: clear the `loaded` marks, hand every section record to
 * vmstate_load_one(), then vmstate_check_complete() names the first
 * section that never came. */
void vmstate_load_begin(VmState *vs);
int vmstate_load_one(VmState *vs, uint32_t tag, uint32_t instance, uint32_t version,
                     const void *data, size_t len, char *err, size_t errlen);
int vmstate_check_complete(VmState *vs, char *err, size_t errlen);

/* "HART 1" for messages. */
void vmstate_section_name(uint32_t tag, uint32_t instance, char *out, size_t len);

#endif
