/* A fake VMM layer for the xend API unit tests and fuzz target: domains
 * "start" instantly, VMM calls succeed (or fail for names starting with
 * "fail"), nothing touches the filesystem. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xend.h"

XendConf xconf = { .state_dir = "/nonexistent", .sock_path = "/nonexistent/sock" };

int sup_start(Domain *d, char *err, size_t errlen)
{
    int id;

    pthread_mutex_lock(&reg_lock);
    if (d->state != DS_STOPPED || d->pid > 0) {
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
    d->state = DS_RUNNING;
    snprintf(d->sock, sizeof(d->sock), "/fake/%d.sock", id);
    pthread_mutex_unlock(&reg_lock);
    events_emit("started", d->name, id);
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
    (void)d; (void)run_seq; (void)timeout_ms;
    return -1;   /* fake guests never shut down by themselves */
}

void sup_sample(Domain *d) { (void)d; }

/* The last VMM call, for the tests to check what the API sent. */
char stub_last_cmd[32];
int stub_last_timeout_ms;

int vmm_call(const char *sock, const char *cmd, json_t *args, int timeout_ms,
             json_t **result, char *err, size_t errlen)
{
    snprintf(stub_last_cmd, sizeof(stub_last_cmd), "%s", cmd);
    stub_last_timeout_ms = timeout_ms;
    if (result)
        *result = json_object();
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

int state_save_next_id(int next) { (void)next; return 0; }
int state_save_domain(const Domain *d) { (void)d; return 0; }
int state_delete_domain(const char *name) { (void)name; return 0; }
int state_set_autostart(const char *name, bool on) { (void)name; (void)on; return 0; }
char *state_read_log(const char *name, size_t max) { (void)name; (void)max; return strdup("log line\n"); }
