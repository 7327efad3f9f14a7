/* Live migration in xeno-vmm (docs/migration.md): the sending side runs
 * in a thread of its own while the guest goes on; the receiving side is a
 * VMM started with --incoming. */
#ifndef XENO_VMM_MIGRATE_H
#define XENO_VMM_MIGRATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "machine.h"
#include "state.h"

typedef struct MigrateParams {
    char path[108];             /* UNIX socket to connect to */
    int fd;                     /* or an open connection (>= 0 wins) */
    bool close_fd;              /* fd is the migration's: closed when it is freed */
    bool live;
    unsigned downtime_ms;       /* default 50 */
    unsigned bandwidth_mbps;    /* 0: unlimited */
    unsigned max_rounds;        /* default 30 */
    bool compress;
    bool auto_converge;         /* slow the vCPUs down when rounds do not converge */
    bool paused;                /* the domain was paused: it stays so here on failure */
} MigrateParams;

enum migrate_state { MIG_ACTIVE, MIG_COMPLETED, MIG_FAILED, MIG_CANCELLED };

typedef struct MigrateStatus {
    enum migrate_state state;
    unsigned round;
    uint64_t sent_bytes, total_bytes;   /* total: guest RAM */
    uint64_t dirty_pages;               /* left after the last round */
    uint64_t rate_mbps;
    uint64_t downtime_ms;               /* vCPUs stopped (when done) */
    unsigned throttle_pct;              /* auto-converge: share of time the vCPUs sit out */
    bool left_paused;                   /* outcome unknown: paused here */
    char error[256];
} MigrateStatus;

typedef struct Migration Migration;

/* Start sending the domain, on p->fd or connecting to p->path (with
 * p->close_fd the migration closes p->fd, even when it cannot start).
 * `notify(opaque)` is called from the migration thread whenever the
 * status changed (it must only wake someone up);
 * migrate_status() then reads it. On success the thread asks the machine
 * to exit (VM_EXIT_MIGRATED); on failure the domain runs on here. NULL
 * with one line in err if it could not start. */
Migration *migrate_start(Machine *m, const MigrateParams *p, void (*notify)(void *opaque),
                         void *opaque, char *err, size_t errlen);
void migrate_status(Migration *mg, MigrateStatus *st);
/* Ask a migration to stop (before the point of no return). */
void migrate_cancel(Migration *mg);
/* Wait for the thread to end (after a cancel, or once it reported an end). */
void migrate_join(Migration *mg);
/* Join the thread and free (after the final status was read). */
void migrate_free(Migration *mg);

/* The receiving side, on connection fd: read the stream into the machine
 * (whose config has been taken by state_load_begin; the caller built its
 * RAM), answer the sender, and return 0 once `go` came and the caller may
 * start the vCPUs (then answer with migrate_incoming_started), or -1 with
 * one line in err (the sender was told). build() builds the rest of the
 * machine (engine, devices) once the stream is complete. */
typedef int (*migrate_build_fn)(Machine *m, void *opaque, char *err, size_t errlen);
int migrate_incoming(Machine *m, StateLoad *L, migrate_build_fn build, void *opaque,
                     char *err, size_t errlen);
void migrate_incoming_started(StateLoad *L);
/* The first answer, after the header and configuration were accepted (or
 * not: reason != NULL) and RAM was built. */
int migrate_incoming_accept(StateLoad *L, const char *reason);

#endif
