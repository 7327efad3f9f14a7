/* The REST API (docs/protocols.md §2): routing, request validation and the
 * JSON replies. Independent of the HTTP server so that it can be unit
 * tested and fuzzed with a fake VMM layer. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hostcaps.h"
#include "common/log.h"
#include "xend.h"

#define VMM_TIMEOUT_MS   5000
#define AGENT_TIMEOUT_MS 30000   /* commands the VMM relays to the guest agent */
#define SHUTDOWN_WAIT_S  60
#define MAX_OVERRIDES    64
#define MAX_KEY          128

static void reply_json(ApiReply *rp, int status, json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(12));
    size_t n;

    json_decref(j);
    if (!text) {
        api_error(rp, 500, "out of memory");
        return;
    }
    n = strlen(text);
    rp->body = realloc(text, n + 2);
    if (!rp->body) {
        free(text);
        api_error(rp, 500, "out of memory");
        return;
    }
    rp->body[n] = '\n';
    rp->body[n + 1] = '\0';
    rp->status = status;
}

void api_error(ApiReply *rp, int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    json_t *j;
    char *text;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* One line, always. */
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    free(rp->body);
    rp->body = NULL;
    rp->status = status;
    j = json_pack("{s:s}", "error", msg);
    text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (text && (rp->body = malloc(strlen(text) + 2)))
        sprintf(rp->body, "%s\n", text);
    else
        rp->body = strdup("{\"error\":\"out of memory\"}\n");
    free(text);
}

/* GET /v1/host: the registry's host object (identity, memory, domain
 * counts) with the capabilities probed now (common/hostcaps.h; the
 * /dev/kvm probe costs under a millisecond). */
static json_t *host_info_json(void)
{
    json_t *j = host_to_json(), *engines = json_array();
    HostCaps c;
    char kvm[192], detail[320];

    hostcaps_probe(&c);
    json_array_append_new(engines, json_string("emu"));
    if (c.kvm == HOSTCAPS_KVM_USABLE)
        json_array_append_new(engines, json_string("kvm"));
    json_object_set_new(j, "nr_cpus", json_integer(c.nr_cpus));
    json_object_set_new(j, "cpu_vendor", json_string(c.cpu_vendor));
    json_object_set_new(j, "cpu_model", json_string(c.cpu_model));
    json_object_set_new(j, "cpu_mhz", json_real(c.cpu_mhz));
    json_object_set_new(j, "virt_caps", json_string(hostcaps_virt_caps(&c)));
    json_object_set_new(j, "hw_virt", json_string(hostcaps_hw_virt(&c)));
    json_object_set_new(j, "kvm", json_string(hostcaps_kvm_status(&c, kvm, sizeof(kvm))));
    json_object_set_new(j, "kvm_usable", json_boolean(c.kvm == HOSTCAPS_KVM_USABLE));
    json_object_set_new(j, "kvm_pvm", json_boolean(c.kvm_pvm));
    json_object_set_new(j, "kvm_fast", json_boolean(hostcaps_kvm_fast(&c)));
    json_object_set_new(j, "engines", engines);
    json_object_set_new(j, "engines_detail",
                        json_string(hostcaps_engines(&c, detail, sizeof(detail))));
    return j;
}

/* The body as a JSON object whose keys are all in `allowed` (NULL-ended).
 * An empty body is {}. Returns NULL after replying 400. */
static json_t *parse_body(const ApiRequest *rq, ApiReply *rp, const char *const *allowed)
{
    json_error_t jerr;
    json_t *j;
    const char *key;
    json_t *val;
    bool blank = true;

    for (size_t i = 0; i < rq->len; i++)
        if (!isspace((unsigned char)rq->body[i]))
            blank = false;
    if (blank)
        return json_object();
    j = json_loadb(rq->body, rq->len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
        api_error(rp, 400, "malformed JSON at line %d column %d: %s", jerr.line,
                  jerr.column, jerr.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        api_error(rp, 400, "the request body must be a JSON object");
        return NULL;
    }
    json_object_foreach(j, key, val) {
        bool ok = false;
        for (size_t i = 0; allowed && allowed[i]; i++)
            if (!strcmp(key, allowed[i]))
                ok = true;
        if (!ok) {
            api_error(rp, 400, "unknown field '%.64s'", key);
            json_decref(j);
            return NULL;
        }
    }
    return j;
}

/* Optional boolean field; -1 after replying 400. */
static int get_bool(json_t *body, const char *key, bool dflt, bool *out, ApiReply *rp)
{
    json_t *v = json_object_get(body, key);

    if (!v) {
        *out = dflt;
        return 0;
    }
    if (!json_is_boolean(v)) {
        api_error(rp, 400, "'%s' must be true or false", key);
        return -1;
    }
    *out = json_is_true(v);
    return 0;
}

/* Optional integer field in [lo, hi]; -1 after replying 400. 0 if absent
 * (present = false). */
static int get_int(json_t *body, const char *key, long long lo, long long hi,
                   long long *out, bool *present, ApiReply *rp)
{
    json_t *v = json_object_get(body, key);

    *present = v != NULL;
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        api_error(rp, 400, "'%s' must be an integer between %lld and %lld", key, lo, hi);
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

static void reply_domain(ApiReply *rp, int status, Domain *d)
{
    json_t *j;

    pthread_mutex_lock(&reg_lock);
    j = dom_to_json_locked(d);
    dom_put_locked(d);
    pthread_mutex_unlock(&reg_lock);
    reply_json(rp, status, j);
}

/* Look up {dom}; replies 404 (or 403 for Domain-0 when modify) and returns
 * NULL on failure; otherwise a referenced domain. *dom0 is set for GETs of
 * Domain-0 (and NULL is returned without a reply). */
static Domain *lookup(const char *key, bool modify, bool *dom0, ApiReply *rp)
{
    Domain *d;

    if (dom0)
        *dom0 = false;
    if (reg_is_dom0_key(key)) {
        if (modify || !dom0)
            api_error(rp, 403, "Domain-0 cannot be modified");
        else
            *dom0 = true;
        return NULL;
    }
    pthread_mutex_lock(&reg_lock);
    d = reg_find_locked(key);
    if (d)
        dom_get(d);
    pthread_mutex_unlock(&reg_lock);
    if (!d)
        api_error(rp, 404, "Domain '%s' does not exist.", key);
    return d;
}

static bool is_live(const Domain *d)
{
    return d->pid > 0 && (d->state == DS_RUNNING || d->state == DS_PAUSED);
}

/* ---- collection ---- */

/* `xm list` order: running domains by id, then the others by name. */
static int by_id_then_name(const void *a, const void *b)
{
    const Domain *x = *(Domain *const *)a, *y = *(Domain *const *)b;
    bool xr = x->id > 0, yr = y->id > 0;

    if (xr != yr)
        return xr ? -1 : 1;
    if (xr)
        return x->id < y->id ? -1 : x->id > y->id;
    return strcmp(x->name, y->name);
}

static void list_domains(ApiReply *rp)
{
    Domain **all;
    size_t n;
    json_t *arr = json_array();

    pthread_mutex_lock(&reg_lock);
    n = reg_snapshot_locked(&all);
    pthread_mutex_unlock(&reg_lock);
    for (size_t i = 0; i < n; i++)
        sup_sample(all[i]);

    json_array_append_new(arr, dom0_to_json());
    pthread_mutex_lock(&reg_lock);
    if (n > 1)
        qsort(all, n, sizeof(*all), by_id_then_name);
    for (size_t i = 0; i < n; i++) {
        if (!all[i]->removed)
            json_array_append_new(arr, dom_to_json_locked(all[i]));
        dom_put_locked(all[i]);
    }
    pthread_mutex_unlock(&reg_lock);
    free(all);
    reply_json(rp, 200, arr);
}

static void create_domain(const ApiRequest *rq, ApiReply *rp)
{
    static const char *const keys[] = { "config", "overrides", "start", "managed",
                                        "paused", "autostart", "file", NULL };
    const char *ovr[MAX_OVERRIDES];
    json_t *body, *cfg, *ov, *v;
    const char *file = "config";
    bool start, managed, paused, autostart;
    size_t nov = 0, i;
    char err[1024];
    Domain *d, *clash;

    if (!(body = parse_body(rq, rp, keys)))
        return;
    cfg = json_object_get(body, "config");
    if (!json_is_string(cfg)) {
        api_error(rp, 400, "'config' (the domain configuration text) is required");
        goto out;
    }
    if ((v = json_object_get(body, "file"))) {
        if (!json_is_string(v) || json_string_length(v) > 1024 ||
            strchr(json_string_value(v), '\n')) {
            api_error(rp, 400, "'file' must be a one-line string");
            goto out;
        }
        file = json_string_value(v);
    }
    if ((ov = json_object_get(body, "overrides"))) {
        if (!json_is_array(ov) || json_array_size(ov) > MAX_OVERRIDES) {
            api_error(rp, 400, "'overrides' must be a list of at most %d \"key=value\" strings",
                      MAX_OVERRIDES);
            goto out;
        }
        json_array_foreach(ov, i, v) {
            if (!json_is_string(v) || json_string_length(v) > 4096 ||
                strlen(json_string_value(v)) != json_string_length(v)) {
                api_error(rp, 400, "'overrides' must be a list of \"key=value\" strings");
                goto out;
            }
            ovr[nov++] = json_string_value(v);
        }
    }
    if (get_bool(body, "start", true, &start, rp) < 0 ||
        get_bool(body, "managed", false, &managed, rp) < 0 ||
        get_bool(body, "paused", false, &paused, rp) < 0 ||
        get_bool(body, "autostart", false, &autostart, rp) < 0)
        goto out;
    if (!start && !managed) {
        api_error(rp, 400, "a domain that is not managed must be started ('start': true)");
        goto out;
    }
    if (autostart && !managed) {
        api_error(rp, 400, "only managed domains can be autostarted");
        goto out;
    }

    d = dom_from_config(file, json_string_value(cfg), json_string_length(cfg),
                        ovr, nov, err, sizeof(err));
    if (!d) {
        api_error(rp, 400, "%s", err);
        goto out;
    }
    d->managed = managed;
    d->autostart = autostart;

    pthread_mutex_lock(&reg_lock);
    clash = reg_find_name_locked(d->name);
    if (clash || reg_add_locked(d) < 0) {
        pthread_mutex_unlock(&reg_lock);
        api_error(rp, 409, clash ? "Domain '%s' already exists." :
                  "a domain with uuid %s already exists", clash ? d->name : d->uuid);
        dom_put(d);
        goto out;
    }
    dom_get(d);   /* ours, besides the registry's */
    pthread_mutex_unlock(&reg_lock);

    if (managed && (state_save_domain(d) < 0 ||
                    (autostart && state_set_autostart(d->name, true) < 0))) {
        pthread_mutex_lock(&reg_lock);
        reg_remove_locked(d);
        dom_put_locked(d);
        pthread_mutex_unlock(&reg_lock);
        api_error(rp, 500, "cannot save the domain config in %s", xconf.state_dir);
        goto out;
    }
    if (start) {
        if (sup_start(d, err, sizeof(err)) < 0) {
            pthread_mutex_lock(&reg_lock);
            if (!managed)
                reg_remove_locked(d);
            dom_put_locked(d);
            pthread_mutex_unlock(&reg_lock);
            api_error(rp, 500, "%s", err);
            goto out;
        }
        if (paused) {
            char sock[PATH_MAX];
            int id;

            pthread_mutex_lock(&reg_lock);
            snprintf(sock, sizeof(sock), "%s", d->sock);
            id = d->id;
            pthread_mutex_unlock(&reg_lock);
            if (vmm_call(sock, "pause", NULL, VMM_TIMEOUT_MS, NULL, err, sizeof(err)) == 0) {
                pthread_mutex_lock(&reg_lock);
                if (d->state == DS_RUNNING)
                    d->state = DS_PAUSED;
                pthread_mutex_unlock(&reg_lock);
                events_emit("paused", d->name, id);
            } else {
                log_warn("domain %s: cannot start paused: %s", d->name, err);
            }
        }
    }
    reply_domain(rp, 201, d);
out:
    json_decref(body);
}

/* ---- one domain ---- */

static void undefine_domain(Domain *d, ApiReply *rp)
{
    pthread_mutex_lock(&reg_lock);
    if (!d->managed) {
        pthread_mutex_unlock(&reg_lock);
        api_error(rp, 409, "Domain '%s' is not managed; destroy it instead.", d->name);
        dom_put(d);
        return;
    }
    if (d->state != DS_STOPPED || d->pid > 0) {
        pthread_mutex_unlock(&reg_lock);
        api_error(rp, 409, "Domain '%s' is running; shut it down first.", d->name);
        dom_put(d);
        return;
    }
    reg_remove_locked(d);
    pthread_mutex_unlock(&reg_lock);
    state_delete_domain(d->name);
    json_t *j = json_pack("{s:s,s:b}", "name", d->name, "deleted", 1);
    dom_put(d);
    reply_json(rp, 200, j);
}

/* Forward a simple command to the running VMM. */
static int forward(Domain *d, const char *cmd, json_t *args, ApiReply *rp)
{
    char sock[PATH_MAX], err[512];
    bool live;

    pthread_mutex_lock(&reg_lock);
    live = is_live(d);
    snprintf(sock, sizeof(sock), "%s", d->sock);
    pthread_mutex_unlock(&reg_lock);
    if (!live) {
        api_error(rp, 409, "Domain '%s' is not running.", d->name);
        return -1;
    }
    bool agent = !strcmp(cmd, "shutdown") || !strcmp(cmd, "reboot") || !strcmp(cmd, "vcpu-set");

    if (vmm_call(sock, cmd, args, agent ? AGENT_TIMEOUT_MS : VMM_TIMEOUT_MS, NULL, err,
                 sizeof(err)) < 0) {
        api_error(rp, 502, "Domain '%s': %s", d->name, err);
        return -1;
    }
    return 0;
}

static void act_pause(Domain *d, bool pause, ApiReply *rp)
{
    int id;
    bool changed = false;

    pthread_mutex_lock(&reg_lock);
    if (is_live(d) && (d->state == DS_PAUSED) == pause) {
        pthread_mutex_unlock(&reg_lock);
        api_error(rp, 409, "Domain '%s' is %s.", d->name, pause ? "already paused" : "not paused");
        return;
    }
    pthread_mutex_unlock(&reg_lock);
    if (forward(d, pause ? "pause" : "resume", NULL, rp) < 0)
        return;
    pthread_mutex_lock(&reg_lock);
    if (is_live(d) && (d->state == DS_PAUSED) != pause) {
        d->state = pause ? DS_PAUSED : DS_RUNNING;
        changed = true;
    }
    id = d->id;
    pthread_cond_broadcast(&reg_cond);
    pthread_mutex_unlock(&reg_lock);
    if (changed)
        events_emit(pause ? "paused" : "unpaused", d->name, id);
    dom_get(d);
    reply_domain(rp, 200, d);
}

static void act_shutdown(Domain *d, const ApiRequest *rq, bool reboot, ApiReply *rp)
{
    static const char *const keys[] = { "wait", "timeout", NULL };
    json_t *body = parse_body(rq, rp, keys);
    bool wait = false, has_to;
    long long timeout = SHUTDOWN_WAIT_S;
    uint64_t seq;

    if (!body)
        return;
    if (get_bool(body, "wait", false, &wait, rp) < 0 ||
        get_int(body, "timeout", 1, 3600, &timeout, &has_to, rp) < 0) {
        json_decref(body);
        return;
    }
    json_decref(body);
    pthread_mutex_lock(&reg_lock);
    seq = d->run_seq;
    pthread_mutex_unlock(&reg_lock);
    if (forward(d, reboot ? "reboot" : "shutdown", NULL, rp) < 0)
        return;
    if (wait && !reboot && sup_wait_stopped(d, seq, (int)timeout * 1000) < 0) {
        api_error(rp, 504, "Domain '%s' did not shut down within %lld s.", d->name, timeout);
        return;
    }
    dom_get(d);
    reply_domain(rp, 200, d);
}

static void act_mem(Domain *d, const ApiRequest *rq, ApiReply *rp)
{
    static const char *const keys[] = { "target_mib", "max_mib", NULL };
    json_t *body = parse_body(rq, rp, keys);
    long long target = 0, max = 0;
    bool has_target, has_max;

    if (!body)
        return;
    if (get_int(body, "target_mib", 1, 1 << 24, &target, &has_target, rp) < 0 ||
        get_int(body, "max_mib", 1, 1 << 24, &max, &has_max, rp) < 0)
        goto out;
    if (has_target == has_max) {
        api_error(rp, 400, "give exactly one of 'target_mib' and 'max_mib'");
        goto out;
    }
    if (has_max) {
        pthread_mutex_lock(&reg_lock);
        if ((uint64_t)max < d->mem_mib) {
            pthread_mutex_unlock(&reg_lock);
            api_error(rp, 400, "max_mib (%lld) is less than the current memory (%llu MiB)",
                      max, (unsigned long long)d->mem_mib);
            goto out;
        }
        d->maxmem_mib = (uint64_t)max;
        if (d->managed) {
            /* A managed domain keeps it (as xm mem-max did): the stored
             * config gets a final `maxmem`, which wins over earlier ones. */
            size_t len = strlen(d->config);
            char *nc = NULL;
            if (asprintf(&nc, "%s%smaxmem = %lld\n", d->config,
                         len && d->config[len - 1] != '\n' ? "\n" : "", max) < 0 || !nc) {
                pthread_mutex_unlock(&reg_lock);
                api_error(rp, 500, "out of memory");
                goto out;
            }
            free(d->config);
            d->config = nc;
            if (state_save_domain(d) < 0) {
                pthread_mutex_unlock(&reg_lock);
                api_error(rp, 500, "cannot save the configuration of '%s' in %s", d->name,
                          xconf.state_dir);
                goto out;
            }
        }
        pthread_mutex_unlock(&reg_lock);
    } else {
        json_t *args;

        pthread_mutex_lock(&reg_lock);
        if ((uint64_t)target > d->maxmem_mib) {
            pthread_mutex_unlock(&reg_lock);
            api_error(rp, 400, "target_mib (%lld) is more than the maximum (%llu MiB)",
                      target, (unsigned long long)d->maxmem_mib);
            goto out;
        }
        pthread_mutex_unlock(&reg_lock);
        args = json_pack("{s:I}", "target_mib", (json_int_t)target);
        if (forward(d, "balloon", args, rp) < 0) {
            json_decref(args);
            goto out;
        }
        json_decref(args);
        pthread_mutex_lock(&reg_lock);
        d->mem_mib = (uint64_t)target;
        pthread_mutex_unlock(&reg_lock);
    }
    dom_get(d);
    reply_domain(rp, 200, d);
out:
    json_decref(body);
}

static void act_vcpus(Domain *d, const ApiRequest *rq, ApiReply *rp)
{
    static const char *const keys[] = { "count", NULL };
    json_t *body = parse_body(rq, rp, keys), *args;
    long long count = 0;
    bool has;
    unsigned max;

    if (!body)
        return;
    if (get_int(body, "count", 1, 4096, &count, &has, rp) < 0)
        goto out;
    if (!has) {
        api_error(rp, 400, "'count' is required");
        goto out;
    }
    pthread_mutex_lock(&reg_lock);
    max = d->maxvcpus;
    pthread_mutex_unlock(&reg_lock);
    if ((unsigned long long)count > max) {
        api_error(rp, 400, "count (%lld) is more than maxvcpus (%u)", count, max);
        goto out;
    }
    args = json_pack("{s:I}", "count", (json_int_t)count);
    if (forward(d, "vcpu-set", args, rp) < 0) {
        json_decref(args);
        goto out;
    }
    json_decref(args);
    pthread_mutex_lock(&reg_lock);
    d->vcpus = (unsigned)count;
    pthread_mutex_unlock(&reg_lock);
    dom_get(d);
    reply_domain(rp, 200, d);
out:
    json_decref(body);
}

static void act_autostart(Domain *d, const ApiRequest *rq, ApiReply *rp)
{
    static const char *const keys[] = { "autostart", NULL };
    json_t *body = parse_body(rq, rp, keys);
    bool on, managed;

    if (!body)
        return;
    if (!json_object_get(body, "autostart")) {
        api_error(rp, 400, "'autostart' is required");
        goto out;
    }
    if (get_bool(body, "autostart", false, &on, rp) < 0)
        goto out;
    pthread_mutex_lock(&reg_lock);
    managed = d->managed;
    pthread_mutex_unlock(&reg_lock);
    if (!managed) {
        api_error(rp, 409, "only managed domains can be autostarted");
        goto out;
    }
    if (state_set_autostart(d->name, on) < 0) {
        api_error(rp, 500, "cannot update the autostart mark in %s", xconf.state_dir);
        goto out;
    }
    pthread_mutex_lock(&reg_lock);
    d->autostart = on;
    pthread_mutex_unlock(&reg_lock);
    dom_get(d);
    reply_domain(rp, 200, d);
out:
    json_decref(body);
}

static void domain_action(Domain *d, const char *method, const char *action,
                          const ApiRequest *rq, ApiReply *rp)
{
    char err[1024];
    bool get = !strcmp(method, "GET"), post = !strcmp(method, "POST");

    if (!strcmp(action, "console") || !strcmp(action, "log")) {
        if (!get) {
            api_error(rp, 405, "use GET for /%s", action);
            return;
        }
        if (!strcmp(action, "console")) {
            char path[PATH_MAX + 16];
            bool live;

            if (!rq->local) {
                api_error(rp, 403, "the console is available on the local socket only");
                return;
            }
            pthread_mutex_lock(&reg_lock);
            live = is_live(d);
            snprintf(path, sizeof(path), "%s.console", d->sock);
            pthread_mutex_unlock(&reg_lock);
            if (!live) {
                api_error(rp, 409, "Domain '%s' is not running.", d->name);
                return;
            }
            reply_json(rp, 200, json_pack("{s:s}", "path", path));
        } else {
            char *text = state_read_log(d->name, 256u << 10);

            /* The log is raw VMM output: JSON strings must be UTF-8. */
            for (char *p = text; p && *p; p++)
                if ((unsigned char)*p >= 0x80)
                    *p = '?';
            reply_json(rp, 200, json_pack("{s:s}", "text", text ? text : ""));
            free(text);
        }
        return;
    }
    if (!post) {
        api_error(rp, 405, "use POST for /%s", action);
        return;
    }
    if (!strcmp(action, "start")) {
        bool ok;

        pthread_mutex_lock(&reg_lock);
        ok = d->state == DS_STOPPED && d->pid == 0;
        pthread_mutex_unlock(&reg_lock);
        if (!ok) {
            api_error(rp, 409, "Domain '%s' is already running.", d->name);
            return;
        }
        if (sup_start(d, err, sizeof(err)) < 0) {
            api_error(rp, 500, "%s", err);
            return;
        }
        dom_get(d);
        reply_domain(rp, 200, d);
    } else if (!strcmp(action, "destroy")) {
        if (sup_destroy(d, err, sizeof(err)) < 0) {
            api_error(rp, 409, "%s", err);
            return;
        }
        dom_get(d);
        reply_domain(rp, 200, d);
    } else if (!strcmp(action, "shutdown") || !strcmp(action, "reboot")) {
        act_shutdown(d, rq, !strcmp(action, "reboot"), rp);
    } else if (!strcmp(action, "pause") || !strcmp(action, "unpause")) {
        act_pause(d, !strcmp(action, "pause"), rp);
    } else if (!strcmp(action, "mem")) {
        act_mem(d, rq, rp);
    } else if (!strcmp(action, "vcpus")) {
        act_vcpus(d, rq, rp);
    } else if (!strcmp(action, "autostart")) {
        act_autostart(d, rq, rp);
    } else {
        api_error(rp, 404, "unknown domain action '%.40s'", action);
    }
}

static bool modifies(const char *method, const char *action)
{
    if (!strcmp(method, "GET"))
        return false;
    return !action || (strcmp(action, "console") && strcmp(action, "log"));
}

/* Split "/v1/a/b/c" into at most 4 segments (after "v1"). */
static int split_path(const char *path, char seg[4][MAX_KEY + 1])
{
    int n = 0;
    const char *p = path;

    if (strncmp(p, "/v1/", 4))
        return -1;
    p += 4;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);

        if (!len || len > MAX_KEY || n == 4)
            return -1;
        memcpy(seg[n], p, len);
        seg[n][len] = '\0';
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)seg[n][i] < 0x20 || (unsigned char)seg[n][i] == 0x7f)
                return -1;
        n++;
        if (!e)
            break;
        p = e + 1;
        if (!*p)
            return -1;   /* trailing slash */
    }
    return n;
}

void api_handle(const ApiRequest *rq, ApiReply *rp)
{
    char seg[4][MAX_KEY + 1];
    const char *m = rq->method;
    int n;

    rp->status = 500;
    rp->body = NULL;
    rp->events = false;
    if (!m || !rq->path) {
        api_error(rp, 400, "bad request");
        return;
    }
    if (strcmp(m, "GET") && strcmp(m, "POST") && strcmp(m, "DELETE")) {
        api_error(rp, 405, "method %.16s not allowed", m);
        return;
    }
    n = split_path(rq->path, seg);
    if (n <= 0) {
        api_error(rp, 404, "no such resource: %.200s", rq->path);
        return;
    }

    if (!strcmp(seg[0], "host") && n == 1) {
        if (strcmp(m, "GET"))
            api_error(rp, 405, "use GET for /v1/host");
        else
            reply_json(rp, 200, host_info_json());
    } else if (!strcmp(seg[0], "events") && n == 1) {
        if (strcmp(m, "GET")) {
            api_error(rp, 405, "use GET for /v1/events");
        } else {
            rp->status = 200;
            rp->events = true;
        }
    } else if (!strcmp(seg[0], "domains") && n == 1) {
        if (!strcmp(m, "GET"))
            list_domains(rp);
        else if (!strcmp(m, "POST"))
            create_domain(rq, rp);
        else
            api_error(rp, 405, "use GET or POST for /v1/domains");
    } else if (!strcmp(seg[0], "domains") && n <= 3) {
        const char *action = n == 3 ? seg[2] : NULL;
        bool dom0;
        Domain *d;

        if (n == 2 && !strcmp(m, "POST")) {
            api_error(rp, 405, "use GET or DELETE for /v1/domains/{dom}");
            return;
        }
        if (n == 3 && !strcmp(m, "DELETE")) {
            api_error(rp, 405, "DELETE applies to /v1/domains/{dom}");
            return;
        }
        d = lookup(seg[1], modifies(m, action), &dom0, rp);
        if (dom0) {
            if (n == 2)
                reply_json(rp, 200, dom0_to_json());
            else
                api_error(rp, 403, "Domain-0 has no %s", action);
            return;
        }
        if (!d)
            return;
        if (n == 2 && !strcmp(m, "GET")) {
            sup_sample(d);
            reply_domain(rp, 200, d);
        } else if (n == 2) {
            undefine_domain(d, rp);
        } else {
            domain_action(d, m, action, rq, rp);
            dom_put(d);
        }
    } else {
        api_error(rp, 404, "no such resource: %.200s", rq->path);
    }
}
