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

/* The connection a migration streams on (migrate_chan.c): plain, or a
 * TLS 1.3 session between the two VMMs keyed with a one-time key that the
 * two xends agreed on (MIGRATE_KEY_BYTES, hex on the control socket). */
#define MIGRATE_KEY_BYTES 32
#define MIGRATE_HANDSHAKE_MS 10000
typedef struct MigChan MigChan;
/* On fd (not closed by the channel): with key == NULL plain, else the TLS
 * handshake (the sender is the client) within timeout_ms. NULL with one
 * line in err. */
MigChan *migchan_open(int fd, const uint8_t *key, bool sender, int timeout_ms,
                      char *err, size_t errlen);
bool migchan_tls(const MigChan *c);
/* Some of n bytes: how many, or -1 with errno (EPROTO: a TLS error, see
 * migchan_error); reading, 0 at the end. The shape of stream_write_fn
 * and stream_read_fn. */
ssize_t migchan_write(void *c, const void *p, size_t n);
ssize_t migchan_read(void *c, void *p, size_t n);
int migchan_write_all(MigChan *c, const void *p, size_t n);
/* 1 when there is something to read (or an end), 0 after timeout_ms, -1. */
int migchan_wait(MigChan *c, int timeout_ms);
/* The end of what this side sends (TLS: close_notify). */
void migchan_shutdown(MigChan *c);
const char *migchan_error(const MigChan *c);
void migchan_free(MigChan *c);
/* 64 hex digits into key: 0, or -1. */
int migrate_key_parse(const char *hex, uint8_t key[MIGRATE_KEY_BYTES]);

typedef struct MigrateParams {
    char path[108];             /* UNIX socket to connect to */
    int fd;                     /* or an open connection (>= 0 wins) */
    bool close_fd;              /* fd is the migration's: closed when it is freed */
    bool tls;                   /* a TLS session on fd with key */
    uint8_t key[MIGRATE_KEY_BYTES];
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
