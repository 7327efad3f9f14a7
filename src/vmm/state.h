/* The domain's state in and out of xeno-vmm: what goes into a save file or
 * a migration stream, in which order, and how a new VMM takes it back
 * (docs/state-format.md, docs/migration.md).
 *
 * Writing and the final steps of loading run with the vCPUs paused (or not
 * yet started) and the device lock held. */
#ifndef XENO_VMM_STATE_H
#define XENO_VMM_STATE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/stream.h"
#include "machine.h"

/* The header for this machine (arch, engine, RAM layout). */
void state_header(const Machine *m, uint32_t flags, StreamHeader *h);
/* Header and CONF: how every stream starts. */
int state_write_start(Machine *m, StreamWriter *w, uint32_t flags, char *err, size_t errlen);
/* All of guest RAM as PAGE/ZERO records. */
int state_write_all_pages(Machine *m, StreamWriter *w, char *err, size_t errlen);
/* Every registered section. */
int state_write_sections(Machine *m, StreamWriter *w, char *err, size_t errlen);

/* Save to `path` (through path.tmp, fsync, rename): memory as images that a
 * restore maps, or compressed pages. 0, or -1 with one line in err and no
 * file left behind. */
int state_save_file(Machine *m, const char *path, bool compress, char *err, size_t errlen);
/* Save to the open file fd (a sandboxed VMM opens nothing: the client
 * passes the file), from its current offset, then fsync it; the client
 * names the file (a rename once this succeeded). 0, or -1 with one line
 * in err. The caller keeps fd. */
int state_save_fd(Machine *m, int fd, bool compress, char *err, size_t errlen);

/* ---- loading ---- */

typedef struct StateSection {
    uint32_t tag, instance, version;
    uint8_t *data;
    size_t len;
} StateSection;

typedef struct StateLoad {
    StreamReader *r;
    int fd;                      /* the file or connection */
    struct MigChan *chan;        /* a migration: its channel (migrate.h) */
    bool file;                   /* a save file (images allowed) */
    StreamHeader h;
    StateSection *sec;           /* sections, kept until the machine exists */
    unsigned nsec, capsec;
    StreamImage img[STREAM_MAX_REGIONS];
    unsigned nimg;
    uint64_t pages;              /* PAGE/ZERO records applied */
    /* Per RAM region, one bit per page a PAGE record wrote: guest RAM
     * starts zero, so a ZERO record need touch only these. */
    uint64_t *written[STREAM_MAX_REGIONS];
    /* A live stream's SYNC: answer the sender (NULL: not allowed). */
    int (*on_sync)(struct StateLoad *L);
} StateLoad;

/* Read the header and CONF from fd (a migration: through chan, which L
 * then owns) into *cfg (the configuration the machine is to be built
 * from). 0, or -1 with one line in err. */
int state_load_begin(StateLoad *L, int fd, struct MigChan *chan, bool file, VmConfig *cfg,
                     char *err, size_t errlen);
/* After the machine's RAM exists: the stream's layout must be this one. */
int state_load_check(StateLoad *L, const Machine *m, char *err, size_t errlen);
/* Read up to DONE: pages into RAM, sections and images aside. */
int state_load_records(StateLoad *L, Machine *m, char *err, size_t errlen);
/* Map a save file's memory images over RAM (verify: check their checksums
 * first, reading them). */
int state_load_images(StateLoad *L, Machine *m, bool verify, char *err, size_t errlen);
/* After the devices exist: load every section. */
int state_load_sections(StateLoad *L, Machine *m, char *err, size_t errlen);
void state_load_free(StateLoad *L);

#endif
