/* The control socket's save and migrate commands (docs/migration.md):
 * `save` writes the state synchronously (the domain is paused meanwhile);
 * `migrate` starts the sending thread, whose progress comes back to the
 * loop as `migration` events. Both take either a path (the VMM opens it)
 * or "fd": true and the file or connection itself, passed with the
 * request (SCM_RIGHTS): a sandboxed VMM can open nothing. */
#include "control_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* "fd": true, or the string argument `key` (returned in *str). */
static int target_arg(Request *r, const char *key, bool *use_fd, const char **str, char **errp)
{
    *str = NULL;
    if (bool_arg(r, "fd", false, use_fd, errp))
        return -1;
    if (*use_fd && json_object_get(r->args, key)) {
        *errp = ctl_error(r->has_id, r->id, "give '%s' or 'fd', not both", key);
        return -1;
    }
    return *use_fd || (*str = str_arg(r, key, errp)) ? 0 : -1;
}

/* The descriptor that came with the request, of file type `type`; -1
 * with *errp set when there is none or it is something else. */
static int passed_fd(Request *r, mode_t type, const char *what, char **errp)
{
    int fd = ls_take_fd(r->who);
    struct stat st;

    if (fd < 0) {
        *errp = ctl_error(r->has_id, r->id, "'fd': no descriptor came with the request "
                          "(SCM_RIGHTS, in the request's own sendmsg)");
        return -1;
    }
    if (fstat(fd, &st) < 0 || (st.st_mode & S_IFMT) != type) {
        close(fd);
        *errp = ctl_error(r->has_id, r->id, "'fd': the descriptor passed is not %s", what);
        return -1;
    }
    return fd;
}

static int save_to(Machine *m, const char *path, int fd, bool compress, char *err, size_t errlen)
{
    char why[512];

    if (path)
        return state_save_file(m, path, compress, err, errlen);
    if (state_save_fd(m, fd, compress, why, sizeof(why)) == 0)
        return 0;
    snprintf(err, errlen, "the save file passed: %s", why);
    return -1;
}

char *cmd_save(Control *c, Request *r)
{
    Machine *m = c->m;
    bool compress, checkpoint, use_fd, was_paused = c->paused;
    const char *path;
    char *resp = NULL, err[640];
    int fd = -1, ret;

    if (target_arg(r, "path", &use_fd, &path, &resp) ||
        bool_arg(r, "compress", false, &compress, &resp) ||
        bool_arg(r, "checkpoint", false, &checkpoint, &resp))
        return resp;
    if (c->mig)
        return ctl_error(r->has_id, r->id, "a migration is in progress");
    if (use_fd && (fd = passed_fd(r, S_IFREG, "a regular file", &resp)) < 0)
        return resp;
    if (!was_paused)
        ctl_pause_vcpus(c);
    ret = save_to(m, path, fd, compress, err, sizeof(err));
    if (fd >= 0)
        close(fd);
    if (ret) {
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
    json_t *v;
    const char *uri;
    bool use_fd;
    char *resp = NULL, err[512];

    if (target_arg(r, "uri", &use_fd, &uri, &resp) ||
        bool_arg(r, "live", false, &p.live, &resp) ||
        bool_arg(r, "compress", false, &p.compress, &resp) ||
        bool_arg(r, "auto_converge", true, &p.auto_converge, &resp) ||
        uint_arg(r, "downtime_ms", 50, 1, 60000, &p.downtime_ms, &resp) ||
        uint_arg(r, "bandwidth_mbps", 0, 0, 1000000, &p.bandwidth_mbps, &resp) ||
        uint_arg(r, "max_rounds", 30, 1, 1000, &p.max_rounds, &resp))
        return resp;
    /* stream_key: the stream is TLS with this one-time key (migrate_chan.c). */
    if ((v = json_object_get(r->args, "stream_key"))) {
        if (!json_is_string(v) || migrate_key_parse(json_string_value(v), p.key))
            return ctl_error(r->has_id, r->id, "'stream_key' must be %d hex digits",
                             2 * MIGRATE_KEY_BYTES);
        p.tls = true;
    }
    if (uri && (strncmp(uri, "unix:", 5) || strlen(uri + 5) >= sizeof(p.path) || !uri[5]))
        return ctl_error(r->has_id, r->id, "uri must be unix:PATH (a socket path under %zu bytes)",
                         sizeof(p.path));
    if (c->mig)
        return ctl_error(r->has_id, r->id, "a migration is already in progress");
    if (uri)
        strcpy(p.path, uri + 5);
    else if ((p.fd = passed_fd(r, S_IFSOCK, "a connected socket", &resp)) < 0)
        return resp;
    p.close_fd = true;
    p.paused = c->paused;
    c->mig = migrate_start(c->m, &p, mig_notify, c, err, sizeof(err));
    explicit_bzero(p.key, sizeof(p.key));
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
    e = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:i}", "event", "migration",
                  "state", state_name(st.state), "round", (json_int_t)st.round,
                  "sent_bytes", (json_int_t)st.sent_bytes, "total_bytes", (json_int_t)st.total_bytes,
                  "dirty_pages", (json_int_t)st.dirty_pages, "rate_mbps", (json_int_t)st.rate_mbps,
                  "downtime_ms", (json_int_t)st.downtime_ms, "throttle_pct", (int)st.throttle_pct);
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
