/* Live migration, the receiving side (xeno-vmm --incoming): memory as it
 * comes, the machine built once the stream is complete (so the disks are
 * opened after the sender let them go), and the vCPUs started only on the
 * sender's `go` (docs/migration.md). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "migrate.h"

#define GO_TIMEOUT_MS 30000

static const char go_token[8] = { 'X', 'E', 'N', 'O', 'G', 'O', '\n', 0 };

static int reply(StateLoad *L, const char *line)
{
    /* No channel: the TLS handshake failed, the sender knows. */
    return L->chan ? migchan_write_all(L->chan, line, strlen(line)) : -1;
}

static void reply_fail(StateLoad *L, const char *why)
{
    char line[600];

    snprintf(line, sizeof(line), "fail: %.500s\n", why);
    reply(L, line);
}

static int on_sync(StateLoad *L)
{
    return reply(L, "synced\n");
}

/* "accept sync": this receiver answers SYNC records (a sender that sees
 * a bare "accept" does not send them). */
int migrate_incoming_accept(StateLoad *L, const char *reason)
{
    if (reason) {
        reply_fail(L, reason);
        return -1;
    }
    L->on_sync = on_sync;
    return reply(L, "accept sync\n");
}

/* The 8-byte go token within GO_TIMEOUT_MS. */
static int wait_go(StateLoad *L)
{
    uint8_t got[sizeof(go_token)];
    size_t have = 0;
    uint64_t deadline = clock_ns() + GO_TIMEOUT_MS * 1000000ull;

    while (have < sizeof(got)) {
        uint64_t now = clock_ns();
        ssize_t k;
        int r;

        if (now >= deadline)
            return -1;
        if ((r = migchan_wait(L->chan, (int)((deadline - now) / 1000000ull) + 1)) <= 0) {
            if (r < 0)
                return -1;
            continue;
        }
        k = migchan_read(L->chan, got + have, sizeof(got) - have);
        if (k < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (k <= 0)
            return -1;
        have += (size_t)k;
    }
    return memcmp(got, go_token, sizeof(got)) ? -1 : 0;
}

int migrate_incoming(Machine *m, StateLoad *L, migrate_build_fn build, void *opaque,
                     char *err, size_t errlen)
{
    uint64_t t0 = clock_ns(), t_done, t_built;

    if (state_load_records(L, m, err, errlen) || (t_done = clock_ns(), 0) ||
        build(m, opaque, err, errlen) || state_load_sections(L, m, err, errlen)) {
        /* A TLS error says more than the reader's "read: Protocol error". */
        if (migchan_error(L->chan)) {
            size_t n = strlen(err);
            snprintf(err + n, errlen - n, " (TLS: %s)", migchan_error(L->chan));
        }
        reply_fail(L, err);
        return -1;
    }
    t_built = clock_ns();
    /* The source is stopped: frames for the guest queue on our tap from
     * now on instead of being lost on its (a source that resumes after a
     * failure announces itself again). */
    machine_announce_network(m);
    if (reply(L, "ready\n") || wait_go(L)) {
        snprintf(err, errlen, "the sender did not hand the domain over");
        return -1;
    }
    log_info("incoming migration: stream in %llu us, machine built in %llu us, go after %llu us",
             (unsigned long long)(t_done - t0) / 1000, (unsigned long long)(t_built - t_done) / 1000,
             (unsigned long long)(clock_ns() - t_built) / 1000);
    return 0;
}

void migrate_incoming_started(StateLoad *L)
{
    reply(L, "started\n");
}
