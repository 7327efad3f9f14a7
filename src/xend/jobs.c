/* Save and restore (docs/protocols.md §2; the VMM side in
 * docs/migration.md). The VMM writes the save file itself (PATH.tmp, then
 * renamed); xend passes the absolute path, relays the progress (the size
 * written so far) and, when the VMM has exited with status 5, forgets the
 * domain (unmanaged) or marks it saved (managed: `xm start` restores it).
 * A failed save leaves the domain running as it was: the VMM resumes it
 * and xend marks nothing. Restore reads the file's header and
 * configuration first, so that a file that is not a save file, is
 * corrupt, or of a machine this host cannot run starts nothing. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "xend.h"

#define SAVE_TIMEOUT_MS  (30 * 60 * 1000)   /* a VMM writing a huge domain to a slow disk */
#define EXIT_WAIT_MS     30000
#define POLL_MS          250

/* The save's progress: the size of PATH.tmp, polled. */
typedef struct SavePoll {
    pthread_t t;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop;
    char tmp[PATH_MAX + 8];
    char name[64];
    int id;
    uint64_t total;
    const char *job;
} SavePoll;

static void save_progress(const char *name, int id, const char *job, const char *state,
                          uint64_t bytes, uint64_t total, const char *error)
{
    json_t *ev = json_pack("{s:s,s:s,s:I,s:I}", "op", "save", "state", state,
                           "bytes", (json_int_t)bytes, "total_bytes", (json_int_t)total);

    if (ev && error)
        json_object_set_new(ev, "error", json_string(error));
    events_emit_progress(ev, name, id, job);
}

static void *save_poll_thread(void *arg)
{
    SavePoll *p = arg;
    uint64_t last = ~0ull;

    pthread_mutex_lock(&p->lock);
    while (!p->stop) {
        struct timespec ts = ns_to_timespec(clock_ns() + POLL_MS * NS_PER_MS);
        struct stat st;

        pthread_cond_timedwait(&p->cond, &p->lock, &ts);
        if (p->stop)
            break;
        /* Allocated blocks: an image file is sparse, zero pages are holes. */
        if (stat(p->tmp, &st) == 0 && (uint64_t)st.st_blocks * 512 != last) {
            last = (uint64_t)st.st_blocks * 512;
            pthread_mutex_unlock(&p->lock);
            save_progress(p->name, p->id, p->job, "active", last, p->total, NULL);
            pthread_mutex_lock(&p->lock);
        }
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static bool save_poll_start(SavePoll *p)
{
    pthread_condattr_t a;

    pthread_mutex_init(&p->lock, NULL);
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cond, &a);
    pthread_condattr_destroy(&a);
    return pthread_create(&p->t, NULL, save_poll_thread, p) == 0;
}

static void save_poll_stop(SavePoll *p, bool started)
{
    if (started) {
        pthread_mutex_lock(&p->lock);
        p->stop = true;
        pthread_cond_signal(&p->cond);
        pthread_mutex_unlock(&p->lock);
        pthread_join(p->t, NULL);
    }
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
}

int job_save(Domain *d, const JobArgs *a, char *err, size_t errlen)
{
    SavePoll poll = { .job = a->job };
    char path[PATH_MAX], sock[PATH_MAX], verr[640];
    struct stat st;
    uint64_t seq;
    json_t *args;
    bool polling;
    int r;

    if (a->managed_save) {
        if (state_managed_save_path(path, sizeof(path), d->name) < 0) {
            snprintf(err, errlen, "the state dir path is too long");
            return 500;
        }
    } else if ((size_t)snprintf(path, sizeof(path), "%s", a->path) >= sizeof(path) - 8) {
        snprintf(err, errlen, "path too long");
        return 400;
    }
    if (dom_job_begin(d, JOB_SAVE, err, errlen) < 0)
        return 409;
    pthread_mutex_lock(&reg_lock);
    seq = d->run_seq;
    snprintf(sock, sizeof(sock), "%s", d->sock);
    snprintf(poll.name, sizeof(poll.name), "%s", d->name);
    poll.id = d->id;
    poll.total = d->cfg->memory_mib << 20;
    /* The exit handler learns where the domain went (managed: saved). */
    if (!a->checkpoint)
        snprintf(d->save_target, sizeof(d->save_target), "%s", path);
    pthread_mutex_unlock(&reg_lock);

    snprintf(poll.tmp, sizeof(poll.tmp), "%s.tmp", path);
    save_progress(poll.name, poll.id, a->job, "active", 0, poll.total, NULL);
    polling = save_poll_start(&poll);
    args = json_pack("{s:s,s:b,s:b}", "path", path, "compress", a->compress,
                     "checkpoint", a->checkpoint);
    r = vmm_call(sock, "save", args, SAVE_TIMEOUT_MS, NULL, verr, sizeof(verr));
    json_decref(args);
    save_poll_stop(&poll, polling);
    if (r < 0) {
        bool alive;

        pthread_mutex_lock(&reg_lock);
        d->save_target[0] = '\0';
        alive = d->run_seq == seq && d->pid > 0;
        pthread_mutex_unlock(&reg_lock);
        snprintf(err, errlen, "Domain '%s' was not saved to %s (%s): %s", poll.name, path,
                 alive ? "it keeps running" : "its VMM ended", verr);
        log_warn("%s", err);
        save_progress(poll.name, poll.id, a->job, "failed", 0, poll.total, verr);
        dom_job_end(d);
        return 500;
    }
    if (!a->checkpoint && sup_wait_stopped(d, seq, EXIT_WAIT_MS) < 0) {
        snprintf(err, errlen, "Domain '%s' was saved to %s but its VMM did not exit", poll.name,
                 path);
        log_err("%s", err);
        dom_job_end(d);
        return 500;
    }
    save_progress(poll.name, poll.id, a->job, "completed",
                  stat(path, &st) == 0 ? (uint64_t)st.st_blocks * 512 : 0, poll.total, NULL);
    log_info("domain %s: %s to %s", poll.name, a->checkpoint ? "checkpointed" : "saved", path);
    dom_job_end(d);
    return 0;
}

/* The registry's domain for the save file's config: a new one, or a
 * managed domain of that name and uuid that is not running. A reference
 * for the caller, or NULL with the HTTP status in *status. */
static Domain *restore_target(const JobArgs *a, const SaveInfo *si, int *status,
                              char *err, size_t errlen)
{
    char cerr[768];
    Domain *d, *old;

    d = dom_from_config(a->path, si->config, si->config_len, NULL, 0, cerr, sizeof(cerr));
    if (!d) {
        snprintf(err, errlen, "the configuration saved in %s is not valid here: %s", a->path, cerr);
        *status = 400;
        return NULL;
    }
    if (pathpolicy_check(d, a->path, a->full_access, err, errlen) < 0) {
        *status = 403;
        dom_put(d);
        return NULL;
    }
    pthread_mutex_lock(&reg_lock);
    old = reg_find_name_locked(d->name);
    if (old) {
        if (old->pid > 0 || (old->state != DS_STOPPED && old->state != DS_SAVED)) {
            snprintf(err, errlen, "Domain '%s' is already running.", d->name);
            *status = 409;
        } else if (!old->managed || strcasecmp(old->uuid, d->uuid)) {
            snprintf(err, errlen, "Domain '%s' already exists (uuid %s).", d->name, old->uuid);
            *status = 409;
        } else if (old->state == DS_SAVED && strcmp(old->save_path, a->path)) {
            snprintf(err, errlen, "Domain '%s' has a saved state in %s; 'xm start %s' "
                     "restores it.", d->name, old->save_path, d->name);
            *status = 409;
        } else {
            dom_get(old);
            pthread_mutex_unlock(&reg_lock);
            dom_put(d);
            return old;
        }
        pthread_mutex_unlock(&reg_lock);
        dom_put(d);
        return NULL;
    }
    if (reg_add_locked(d) < 0) {
        pthread_mutex_unlock(&reg_lock);
        snprintf(err, errlen, "a domain with uuid %s already exists", d->uuid);
        *status = 409;
        dom_put(d);
        return NULL;
    }
    dom_get(d);
    pthread_mutex_unlock(&reg_lock);
    return d;
}

int job_restore(const JobArgs *a, Domain **out, char *err, size_t errlen)
{
    StartOpts o = { .restore = a->path, .incoming_fd = -1, .paused = a->paused };
    SaveInfo si;
    struct stat st;
    uint64_t size;
    Domain *d;
    int status = 500;

    *out = NULL;
    if (savefile_probe(a->path, &si, err, errlen) < 0)
        return 400;
    d = restore_target(a, &si, &status, err, errlen);
    savefile_info_free(&si);
    if (!d)
        return status;
    size = stat(a->path, &st) == 0 ? (uint64_t)st.st_size : 0;
    {
        json_t *ev = json_pack("{s:s,s:s,s:I,s:I}", "op", "restore", "state", "active",
                               "bytes", (json_int_t)0, "total_bytes", (json_int_t)size);
        events_emit_progress(ev, d->name, -1, a->job);
    }
    if (sup_start_opts(d, &o, err, errlen) < 0) {
        json_t *ev = json_pack("{s:s,s:s,s:s}", "op", "restore", "state", "failed", "error", err);
        events_emit_progress(ev, d->name, -1, a->job);
        log_warn("restore from %s: %s", a->path, err);
        dom_put(d);
        return 500;
    }
    {
        json_t *ev = json_pack("{s:s,s:s,s:I,s:I}", "op", "restore", "state", "completed",
                               "bytes", (json_int_t)size, "total_bytes", (json_int_t)size);
        int id;
        pthread_mutex_lock(&reg_lock);
        id = d->id;
        pthread_mutex_unlock(&reg_lock);
        events_emit_progress(ev, d->name, id, a->job);
    }
    log_info("domain %s: restored from %s", d->name, a->path);
    *out = d;
    return 0;
}
