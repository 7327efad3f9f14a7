/* A fake VMM layer for the xend API unit tests and fuzz target: domains
 * "start" instantly, VMM calls succeed (or fail for names starting with
 * "fail"), nothing touches the filesystem. A save "exits" the VMM at once
 * (status 5), except into a directory named "full" (disk full); a
 * migration to host "refuse" is refused, to any other host it succeeds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xend.h"

XendConf xconf = { .state_dir = "/nonexistent", .sock_path = "/nonexistent/sock" };

int sup_start_opts(Domain *d, const StartOpts *o, char *err, size_t errlen)
{
    int id;

    pthread_mutex_lock(&reg_lock);
    if ((d->state != DS_STOPPED && d->state != DS_SAVED) || d->pid > 0) {
        pthread_mutex_unlock(&reg_lock);
        snprintf(err, errlen, "Domain '%s' is already running.", d->name);
        return -1;
    }
    if (!strncmp(d->name, "fail", 4)) {
        if (!d->managed && !d->removed)
            reg_remove_locked(d);
        pthread_mutex_unlock(&reg_lock);
        snprintf(err, errlen, "Domain '%s' failed to start: fake", d->name);
        return -1;
    }
    id = reg_alloc_id_locked();
    d->id = id;
    d->pid = 100000 + id;
    d->state = o && o->paused ? DS_PAUSED : DS_RUNNING;
    d->save_path[0] = '\0';      /* restored: no longer saved */
    snprintf(d->sock, sizeof(d->sock), "/fake/%d.sock", id);
    pthread_mutex_unlock(&reg_lock);
    events_emit("started", d->name, id);
    return 0;
}

int sup_start(Domain *d, char *err, size_t errlen)
{
    return sup_start_opts(d, NULL, err, errlen);
}

/* The fake VMM of the domain with that socket ends: the domain left it. */
static void fake_left(const char *sock, enum stop_reason why)
{
    int id = atoi(sock + strlen("/fake/"));
    char key[16];

    snprintf(key, sizeof(key), "%d", id);
    pthread_mutex_lock(&reg_lock);
    Domain *d = reg_find_locked(key);
    if (d && d->id == id) {
        d->pid = 0;
        d->run_seq++;
        d->last_exit = why;
        dom_left_locked(d, id, why);
    }
    pthread_mutex_unlock(&reg_lock);
}

int job_migrate(Domain *d, const JobArgs *a, char *err, size_t errlen)
{
    char sock[PATH_MAX];

    if (dom_job_begin(d, JOB_MIGRATE, err, errlen) < 0)
        return 409;
    if (!strcmp(a->host, "refuse")) {
        snprintf(err, errlen, "Domain '%s' was not migrated to %s:%d (it keeps running here): "
                 "refused", d->name, a->host, a->port);
        dom_job_end(d);
        return 502;
    }
    pthread_mutex_lock(&reg_lock);
    snprintf(sock, sizeof(sock), "%s", d->sock);
    pthread_mutex_unlock(&reg_lock);
    fake_left(sock, SR_MIGRATED);
    dom_job_end(d);
    return 0;
}

int sup_destroy(Domain *d, char *err, size_t errlen)
{
    pthread_mutex_lock(&reg_lock);
    if (d->pid <= 0 && d->state != DS_CRASHED && d->state != DS_SHUTDOWN) {
        pthread_mutex_unlock(&reg_lock);
        snprintf(err, errlen, "Domain '%s' is not running.", d->name);
        return -1;
    }
    d->pid = 0;
    d->id = -1;
    d->run_seq++;
    d->state = DS_STOPPED;
    if (!d->managed && !d->removed)
        reg_remove_locked(d);
    pthread_mutex_unlock(&reg_lock);
    return 0;
}

int sup_wait_stopped(Domain *d, uint64_t run_seq, int timeout_ms)
{
    int r;

    (void)timeout_ms;
    /* Fake guests never shut down by themselves; a save ends them. */
    pthread_mutex_lock(&reg_lock);
    r = d->run_seq != run_seq || d->pid <= 0 ? 0 : -1;
    pthread_mutex_unlock(&reg_lock);
    return r;
}

/* Sampling: with stub_hangs set (by the tests that want it, not the fuzz
 * targets), the fake VMM of a domain named "hang..." does not answer (it
 * takes the whole timeout); the others answer at once. */
bool stub_hangs;

void sup_sample_ms(Domain *d, int timeout_ms)
{
    bool hang, live;
    uint64_t seq;

    pthread_mutex_lock(&reg_lock);
    hang = __atomic_load_n(&stub_hangs, __ATOMIC_RELAXED) && !strncmp(d->name, "hang", 4);
    live = d->pid > 0 && (d->state == DS_RUNNING || d->state == DS_PAUSED);
    seq = d->run_seq;
    pthread_mutex_unlock(&reg_lock);
    if (!live)
        return;
    if (hang)
        usleep((useconds_t)timeout_ms * 1000);
    pthread_mutex_lock(&reg_lock);
    if (d->run_seq == seq && d->pid > 0)
        d->unresponsive = hang;
    pthread_mutex_unlock(&reg_lock);
}

void sup_sample(Domain *d) { sup_sample_ms(d, SUP_SAMPLE_MS); }

/* The last VMM call made by this thread, for the tests to check what the
 * API sent (per thread: the concurrency tests call from many at once). */
_Thread_local char stub_last_cmd[32];
_Thread_local int stub_last_timeout_ms;

int vmm_call(const char *sock, const char *cmd, json_t *args, int timeout_ms,
             json_t **result, char *err, size_t errlen)
{
    snprintf(stub_last_cmd, sizeof(stub_last_cmd), "%s", cmd);
    stub_last_timeout_ms = timeout_ms;
    if (result)
        *result = json_object();
    if (!strcmp(cmd, "save")) {
        const char *path = json_string_value(json_object_get(args, "path"));
        if (path && strstr(path, "/full/")) {
            if (result) {
                json_decref(*result);
                *result = NULL;
            }
            snprintf(err, errlen, "%s.tmp: No space left on device", path);
            return -1;
        }
        if (!json_is_true(json_object_get(args, "checkpoint")))
            fake_left(sock, SR_SAVED);
        return 0;
    }
    if (!strcmp(cmd, "balloon") && json_integer_value(json_object_get(args, "target_mib")) == 13) {
        if (result) {
            json_decref(*result);
            *result = NULL;
        }
        snprintf(err, errlen, "balloon: unlucky target (%s)", sock);
        return -1;
    }
    return 0;
}

/* The state dir, in memory: the stored configs (for the tests to check
 * what reached the "disk"), and a failing disk for configs of domains
 * named "nodisk..." or while stub_state_fail is set. */
bool stub_state_fail;
#define STUB_MAX_CONFIGS 64
static struct { char name[64]; char *text; } stub_configs[STUB_MAX_CONFIGS];
static pthread_mutex_t stub_lock = PTHREAD_MUTEX_INITIALIZER;

const char *stub_config_of(const char *name)
{
    const char *t = NULL;

    pthread_mutex_lock(&stub_lock);
    for (int i = 0; i < STUB_MAX_CONFIGS; i++)
        if (stub_configs[i].text && !strcmp(stub_configs[i].name, name))
            t = stub_configs[i].text;
    pthread_mutex_unlock(&stub_lock);
    return t;
}

static bool stub_failing(const char *name)
{
    return __atomic_load_n(&stub_state_fail, __ATOMIC_RELAXED) || !strncmp(name, "nodisk", 6);
}

int state_save_next_id(int next) { (void)next; return 0; }
int state_save_config(const char *name, const char *text)
{
    int free_slot = -1, r = -1;

    if (stub_failing(name))
        return -1;
    pthread_mutex_lock(&stub_lock);
    for (int i = 0; i < STUB_MAX_CONFIGS; i++) {
        if (stub_configs[i].text && !strcmp(stub_configs[i].name, name)) {
            free(stub_configs[i].text);
            stub_configs[i].text = NULL;
        }
        if (!stub_configs[i].text && free_slot < 0)
            free_slot = i;
    }
    if (free_slot >= 0) {
        snprintf(stub_configs[free_slot].name, sizeof(stub_configs[free_slot].name), "%s", name);
        stub_configs[free_slot].text = strdup(text);
        r = 0;
    }
    pthread_mutex_unlock(&stub_lock);
    return r;
}
int state_delete_domain(const char *name)
{
    pthread_mutex_lock(&stub_lock);
    for (int i = 0; i < STUB_MAX_CONFIGS; i++)
        if (stub_configs[i].text && !strcmp(stub_configs[i].name, name)) {
            free(stub_configs[i].text);
            stub_configs[i].text = NULL;
        }
    pthread_mutex_unlock(&stub_lock);
    return 0;
}
int state_set_autostart(const char *name, bool on) { (void)on; return stub_failing(name) ? -1 : 0; }
int state_set_saved(const char *name, const char *path) { (void)name; (void)path; return 0; }
void state_remove_run(int id) { (void)id; }
int state_managed_save_path(char *buf, size_t size, const char *name)
{
    return snprintf(buf, size, "/nonexistent/save/%s.save", name) < (int)size ? 0 : -1;
}
char *state_read_log(const char *name, size_t max) { (void)name; (void)max; return strdup("log line\n"); }
