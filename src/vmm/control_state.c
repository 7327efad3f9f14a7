/* The control socket's save and migrate commands (docs/migration.md):
 * `save` writes the state synchronously (the domain is paused meanwhile);
 * `migrate` starts the sending thread, whose progress comes back to the
 * loop as `migration` events. */
#include "control_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "migrate.h"
#include "state.h"

/* An optional boolean argument; on error *errp is the response. */
static int bool_arg(Request *r, const char *key, bool def, bool *out, char **errp)
{
    json_t *v = json_object_get(r->args, key);

    if (!v) {
        *out = def;
        return 0;
    }
    if (!json_is_boolean(v)) {
        *errp = ctl_error(r->has_id, r->id, "'%s' must be true or false", key);
        return -1;
    }
    *out = json_is_true(v);
    return 0;
}

static int uint_arg(Request *r, const char *key, unsigned def, unsigned lo, unsigned hi,
                    unsigned *out, char **errp)
{
    json_t *v = json_object_get(r->args, key);

    if (!v) {
        *out = def;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        *errp = ctl_error(r->has_id, r->id, "'%s' must be an integer from %u to %u", key, lo, hi);
        return -1;
    }
    *out = (unsigned)json_integer_value(v);
    return 0;
}

static const char *str_arg(Request *r, const char *key, char **errp)
{
    json_t *v = json_object_get(r->args, key);

    if (!v || !json_is_string(v) || !json_string_length(v)) {
        *errp = ctl_error(r->has_id, r->id, "missing argument '%s' (a string)", key);
        return NULL;
    }
    return json_string_value(v);
}

char *cmd_save(Control *c, Request *r)
{
    Machine *m = c->m;
    bool compress, checkpoint, was_paused = c->paused;
    const char *path;
    char *resp = NULL, err[640];

    if (!(path = str_arg(r, "path", &resp)) ||
        bool_arg(r, "compress", false, &compress, &resp) ||
        bool_arg(r, "checkpoint", false, &checkpoint, &resp))
        return resp;
    if (c->mig)
        return ctl_error(r->has_id, r->id, "a migration is in progress");
    if (!was_paused)
        ctl_pause_vcpus(c);
    if (state_save_file(m, path, compress, err, sizeof(err))) {
        if (!was_paused)
            machine_resume(m);
        return ctl_error(r->has_id, r->id, "%s", err);
    }
    if (checkpoint) {
        if (!was_paused)
            machine_resume(m);
    } else {
        /* The domain lives on in the file: this VMM ends (status 5). */
        machine_request_exit(m, VM_EXIT_SAVED, 0);
    }
    return ctl_ok(r->has_id, r->id, NULL);
}

static void mig_notify(void *opaque)
{
    Control *c = opaque;

    __atomic_store_n(&c->mig_changed, true, __ATOMIC_RELEASE);
    loop_wakeup(c->m->loop);
}

char *cmd_migrate(Control *c, Request *r)
{
    MigrateParams p = { .fd = -1 };
    const char *uri;
    char *resp = NULL, err[512];

    if (!(uri = str_arg(r, "uri", &resp)) ||
        bool_arg(r, "live", false, &p.live, &resp) ||
        bool_arg(r, "compress", false, &p.compress, &resp) ||
        uint_arg(r, "downtime_ms", 50, 1, 60000, &p.downtime_ms, &resp) ||
        uint_arg(r, "bandwidth_mbps", 0, 0, 1000000, &p.bandwidth_mbps, &resp) ||
        uint_arg(r, "max_rounds", 30, 1, 1000, &p.max_rounds, &resp))
        return resp;
    if (strncmp(uri, "unix:", 5) || strlen(uri + 5) >= sizeof(p.path) || !uri[5])
        return ctl_error(r->has_id, r->id, "uri must be unix:PATH (a socket path under %zu bytes)",
                         sizeof(p.path));
    if (c->mig)
        return ctl_error(r->has_id, r->id, "a migration is already in progress");
    strcpy(p.path, uri + 5);
    p.paused = c->paused;
    c->mig = migrate_start(c->m, &p, mig_notify, c, err, sizeof(err));
    if (!c->mig)
        return ctl_error(r->has_id, r->id, "%s", err);
    return ctl_ok(r->has_id, r->id, NULL);
}

char *cmd_migrate_cancel(Control *c, Request *r)
{
    if (!c->mig)
        return ctl_error(r->has_id, r->id, "no migration is in progress");
    migrate_cancel(c->mig);
    return ctl_ok(r->has_id, r->id, NULL);
}

static const char *state_name(enum migrate_state s)
{
    switch (s) {
    case MIG_ACTIVE: return "active";
    case MIG_COMPLETED: return "completed";
    case MIG_CANCELLED: return "cancelled";
    default: return "failed";
    }
}

void control_migration_poll(Control *c)
{
    MigrateStatus st;
    json_t *e;

    if (!c->mig || !__atomic_exchange_n(&c->mig_changed, false, __ATOMIC_ACQ_REL))
        return;
    migrate_status(c->mig, &st);
    e = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "event", "migration",
                  "state", state_name(st.state), "round", (json_int_t)st.round,
                  "sent_bytes", (json_int_t)st.sent_bytes, "total_bytes", (json_int_t)st.total_bytes,
                  "dirty_pages", (json_int_t)st.dirty_pages, "rate_mbps", (json_int_t)st.rate_mbps,
                  "downtime_ms", (json_int_t)st.downtime_ms);
    if (e && st.state != MIG_ACTIVE && st.error[0])
        json_object_set_new(e, "error", json_string(st.error));
    if (e)
        control_event_json(c, e);
    if (st.state != MIG_ACTIVE) {
        migrate_free(c->mig);
        c->mig = NULL;
        if (st.left_paused)
            c->paused = true;
    }
}

void control_migration_stop(Control *c)
{
    if (!c->mig)
        return;
    /* Too late to cancel past the hand-over; either way the thread ends and
     * its last word is an event before the socket closes. */
    migrate_cancel(c->mig);
    migrate_join(c->mig);
    __atomic_store_n(&c->mig_changed, true, __ATOMIC_RELEASE);
    control_migration_poll(c);
    migrate_free(c->mig);
    c->mig = NULL;
}
