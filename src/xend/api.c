/* The REST API (docs/protocols.md §2): one table of routes (method, path
 * pattern, handler, flags), request validation and the JSON replies.
 * Independent of the HTTP server so that it can be unit tested and fuzzed
 * with a fake VMM layer.
 *
 * api_handle finds the route, resolves the {dom} of its path (Domain-0
 * and modifying routes, 403; unknown domains, 404), checks the body
 * against the fields the route accepts (400) and calls the handler, which
 * replies. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hostcaps.h"
#include "common/log.h"
#include "common/util.h"
#include "libvirt.h"
#include "xend.h"

#define VMM_TIMEOUT_MS   5000
#define AGENT_TIMEOUT_MS 30000   /* commands the VMM relays to the guest agent */
#define SHUTDOWN_WAIT_S  60
#define LIST_SAMPLE_MS   500     /* a VMM silent this long is listed unresponsive */
#define MAX_OVERRIDES    64
#define MAX_KEY          128
#define MAX_SEGMENTS     4       /* after /v1/ */

typedef struct Route Route;

/* One request on its way through its route. */
typedef struct ApiCall {
    const ApiRequest *rq;
    ApiReply *rp;
    const Route *route;
    Domain *d;                 /* the path's {dom}, referenced; NULL for Domain-0 */
    json_t *body;              /* the JSON body, when the route takes one */
} ApiCall;

enum {
    ROUTE_MODIFY = 1 << 0,     /* changes the domain: Domain-0 is refused */
    ROUTE_DOM0   = 1 << 1,     /* answers for Domain-0 too (call->d is NULL) */
    ROUTE_LOCAL  = 1 << 2,     /* on the local (UNIX) socket only */
    ROUTE_AGENT  = 1 << 3,     /* the VMM relays vmm_cmd to the guest agent:
                                * it may take as long as the guest does */
    ROUTE_WAITS  = 1 << 4,     /* {"wait": true} waits for the VMM to end */
    ROUTE_READ   = 1 << 5,     /* changes nothing: read-only clients may call it
                                * (every other route needs full access) */
};

struct Route {
    const char *method;
    const char *path;          /* after /v1/; "{dom}" is a domain name, id or uuid */
    void (*fn)(ApiCall *c);
    unsigned flags;
    const char *vmm_cmd;       /* the VMM command the handler forwards, or NULL */
    const char *const *body;   /* the fields its JSON body may have; NULL: no body */
};

/* ---- replies ---- */

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

static void reply_domain(ApiReply *rp, int status, Domain *d)
{
    json_t *j;

    pthread_mutex_lock(&reg_lock);
    j = dom_to_json_locked(d);
    pthread_mutex_unlock(&reg_lock);
    reply_json(rp, status, j);
}

/* ---- request bodies ---- */

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

/* ---- talking to the VMM ---- */

static bool is_live(const Domain *d)
{
    return d->pid > 0 && (d->state == DS_RUNNING || d->state == DS_PAUSED);
}

/* Send cmd (with args) to the running VMM of d. Returns 0, or the HTTP
 * status of the failure with its message in err: 409 when d does not run,
 * 502 when the VMM refused or failed. */
static int vmm_forward(Domain *d, const char *cmd, json_t *args, int timeout_ms,
                       char *err, size_t errlen)
{
    char sock[PATH_MAX], verr[512];
    bool live;

    pthread_mutex_lock(&reg_lock);
    live = is_live(d);
    snprintf(sock, sizeof(sock), "%s", d->sock);
    pthread_mutex_unlock(&reg_lock);
    if (!live) {
        snprintf(err, errlen, "Domain '%s' is not running.", d->name);
        return 409;
    }
    if (vmm_call(sock, cmd, args, timeout_ms, NULL, verr, sizeof(verr)) < 0) {
        snprintf(err, errlen, "Domain '%s': %s", d->name, verr);
        return 502;
    }
    return 0;
}

/* The route's VMM command for the call's domain; -1 after replying. The
 * route's ROUTE_AGENT flag gives the guest the time it needs. */
static int route_forward(ApiCall *c, json_t *args)
{
    int timeout = c->route->flags & ROUTE_AGENT ? AGENT_TIMEOUT_MS : VMM_TIMEOUT_MS;
    char err[1024];
    int st = vmm_forward(c->d, c->route->vmm_cmd, args, timeout, err, sizeof(err));

    if (st) {
        api_error(c->rp, st, "%s", err);
        return -1;
    }
    return 0;
}

/* The pause sequence, the one way xend pauses or resumes a domain: the
 * VMM stops (or restarts) the vCPUs, then the registry records the state
 * and emits the event (unless the VMM's own event got there first).
 * Returns 0 or an HTTP status with err, as vmm_forward. */
static int set_paused(Domain *d, bool pause, char *err, size_t errlen)
{
    int st = vmm_forward(d, pause ? "pause" : "resume", NULL, VMM_TIMEOUT_MS, err, errlen);

    if (st)
        return st;
    pthread_mutex_lock(&reg_lock);
    dom_note_paused_locked(d, pause);
    pthread_mutex_unlock(&reg_lock);
    return 0;
}

/* Start the VMM of d; with paused, pause it once it answers (a domain
 * that cannot be paused keeps running: logged, not an error). */
static int start_domain(Domain *d, bool paused, char *err, size_t errlen)
{
    char perr[1024];

    if (sup_start(d, err, errlen) < 0)
        return -1;
    if (paused && set_paused(d, true, perr, sizeof(perr)) != 0)
        log_warn("domain %s: cannot start paused: %s", d->name, perr);
    return 0;
}

/* ---- host and events ---- */

/* GET /v1/host: the registry's host object (identity, memory, domain
 * counts) with the capabilities probed now (common/hostcaps.h; the
 * /dev/kvm probe costs under a millisecond, the sandbox's namespace probe
 * a fork). */
static json_t *host_info_json(void)
{
    json_t *j = host_to_json(), *engines = json_array();
    HostCaps c;
    HostSandbox sb;
    char kvm[192], detail[320], layers[256];

    hostcaps_probe(&c);
    hostcaps_probe_sandbox(&sb);
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
    json_object_set_new(j, "sandbox",
                        json_string(hostcaps_sandbox_layers(&sb, layers, sizeof(layers))));
    lv_hook_host_json(j);                           /* "libvirt": where its server listens */
    return j;
}

static void get_host(ApiCall *c)
{
    reply_json(c->rp, 200, host_info_json());
}

/* The HTTP layer streams the events itself. */
static void get_events(ApiCall *c)
{
    c->rp->status = 200;
    c->rp->events = true;
}

/* ---- the collection ---- */

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

static void list_domains(ApiCall *c)
{
    Domain **all;
    size_t n;
    json_t *arr = json_array();

    pthread_mutex_lock(&reg_lock);
    n = reg_snapshot_locked(&all);
    pthread_mutex_unlock(&reg_lock);
    dom_sample_all(all, n, LIST_SAMPLE_MS);

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
    reply_json(c->rp, 200, arr);
}

/* What POST /v1/domains asks for. */
typedef struct CreateArgs {
    const char *file;          /* for error messages: "FILE:LINE: ..." */
    const char *config;
    size_t len;
    const char *ovr[MAX_OVERRIDES];
    size_t nov;
    bool start, managed, paused, autostart;
    bool full_access;          /* the client may name any host path */
} CreateArgs;

/* The overrides: a list of one-line "key=value" strings. */
static int create_overrides(json_t *ov, CreateArgs *a, ApiReply *rp)
{
    json_t *v;
    size_t i;

    if (!json_is_array(ov) || json_array_size(ov) > MAX_OVERRIDES) {
        api_error(rp, 400, "'overrides' must be a list of at most %d \"key=value\" strings",
                  MAX_OVERRIDES);
        return -1;
    }
    json_array_foreach(ov, i, v) {
        if (!json_is_string(v) || json_string_length(v) > 4096 ||
            strlen(json_string_value(v)) != json_string_length(v)) {
            api_error(rp, 400, "'overrides' must be a list of \"key=value\" strings");
            return -1;
        }
        a->ovr[a->nov++] = json_string_value(v);
    }
    return 0;
}

/* Validate the body of POST /v1/domains into a (which points into body);
 * -1 after replying 400. */
static int create_args(json_t *body, CreateArgs *a, ApiReply *rp)
{
    json_t *cfg = json_object_get(body, "config"), *v;

    memset(a, 0, sizeof(*a));
    a->file = "config";
    if (!json_is_string(cfg)) {
        api_error(rp, 400, "'config' (the domain configuration text) is required");
        return -1;
    }
    a->config = json_string_value(cfg);
    a->len = json_string_length(cfg);
    if ((v = json_object_get(body, "file"))) {
        if (!json_is_string(v) || json_string_length(v) > 1024 ||
            strchr(json_string_value(v), '\n')) {
            api_error(rp, 400, "'file' must be a one-line string");
            return -1;
        }
        a->file = json_string_value(v);
    }
    if ((v = json_object_get(body, "overrides")) && create_overrides(v, a, rp) < 0)
        return -1;
    if (get_bool(body, "start", true, &a->start, rp) < 0 ||
        get_bool(body, "managed", false, &a->managed, rp) < 0 ||
        get_bool(body, "paused", false, &a->paused, rp) < 0 ||
        get_bool(body, "autostart", false, &a->autostart, rp) < 0)
        return -1;
    if (!a->start && !a->managed) {
        api_error(rp, 400, "a domain that is not managed must be started ('start': true)");
        return -1;
    }
    if (a->autostart && !a->managed) {
        api_error(rp, 400, "only managed domains can be autostarted");
        return -1;
    }
    return 0;
}

/* The domain a describes, added to the registry and, managed, its config
 * (and autostart mark) written in the state dir in the same update, so
 * that an undefine of the name cannot come between. Returns it with a
 * reference for the caller (besides the registry's), or NULL after
 * replying 400 (bad config), 409 (name or uuid taken) or 500 (the
 * config cannot be saved: nothing is registered). */
static Domain *register_domain(const CreateArgs *a, ApiReply *rp)
{
    char err[1024];
    Domain *d, *clash;

    d = dom_from_config(a->file, a->config, a->len, a->ovr, a->nov, err, sizeof(err));
    if (!d) {
        api_error(rp, 400, "%s", err);
        return NULL;
    }
    if (pathpolicy_check(d, a->file, a->full_access, err, sizeof(err)) < 0) {
        api_error(rp, 403, "%s", err);
        dom_put(d);
        return NULL;
    }
    d->managed = a->managed;
    d->autostart = a->autostart;
    reg_update_begin();
    clash = reg_find_name_locked(d->name);
    if (clash || reg_add_locked(d) < 0) {
        reg_update_end();
        api_error(rp, 409, clash ? "Domain '%s' already exists." :
                  "a domain with uuid %s already exists", clash ? d->name : d->uuid);
        dom_put(d);
        return NULL;
    }
    dom_get(d);
    if (a->managed) {
        state_queue_config(d->name, d->config);
        if (a->autostart)
            state_queue_autostart(d->name, true);
    }
    if (reg_update_end() < 0) {
        /* Undone, unless a start got to it meanwhile: a running domain
         * stays (its config is in memory; the log says the rest). */
        reg_update_begin();
        if (d->state == DS_STOPPED && d->pid <= 0 && !d->removed) {
            reg_remove_locked(d);
            state_queue_delete(d->name);
        }
        dom_put_locked(d);
        reg_update_end();
        api_error(rp, 500, "cannot save the domain config in %s", xconf.state_dir);
        return NULL;
    }
    return d;
}

/* Undo register_domain (the caller's reference goes too). A managed domain
 * that failed to start stays defined (keep_managed). */
static void unregister_domain(Domain *d, bool keep_managed)
{
    pthread_mutex_lock(&reg_lock);
    if (!(keep_managed && d->managed))
        reg_remove_locked(d);
    dom_put_locked(d);
    pthread_mutex_unlock(&reg_lock);
}

/* POST /v1/domains: validate, register and persist (managed), start. */
static void create_domain(ApiCall *c)
{
    CreateArgs a;
    char err[1024];
    Domain *d;

    if (create_args(c->body, &a, c->rp) < 0)
        return;
    a.full_access = c->rq->local_root;
    if (!(d = register_domain(&a, c->rp)))
        return;
    if (a.managed)
        lv_hook_defined(d->name, d->uuid, true);    /* libvirt: DEFINED event */
    if (a.start && start_domain(d, a.paused, err, sizeof(err)) < 0) {
        unregister_domain(d, true);
        api_error(c->rp, 500, "%s", err);
        return;
    }
    reply_domain(c->rp, 201, d);
    dom_put(d);
}

/* ---- one domain ---- */

static void get_domain(ApiCall *c)
{
    if (!c->d) {
        reply_json(c->rp, 200, dom0_to_json());
        return;
    }
    sup_sample(c->d);
    reply_domain(c->rp, 200, c->d);
}

static void undefine_domain(ApiCall *c)
{
    Domain *d = c->d;
    json_t *j;

    /* One update: a define of the same name comes before (and is undone)
     * or after (and its files stay). */
    reg_update_begin();
    if (d->removed) {
        reg_update_end();
        api_error(c->rp, 404, "Domain '%s' does not exist.", d->name);
        return;
    }
    if (!d->managed) {
        reg_update_end();
        api_error(c->rp, 409, "Domain '%s' is not managed; destroy it instead.", d->name);
        return;
    }
    if ((d->state != DS_STOPPED && d->state != DS_SAVED) || d->pid > 0) {
        reg_update_end();
        api_error(c->rp, 409, "Domain '%s' is running; shut it down first.", d->name);
        return;
    }
    reg_remove_locked(d);
    state_queue_delete(d->name);
    if (reg_update_end() < 0)
        log_warn("domain %s: its files in %s may not all be gone", d->name, xconf.state_dir);
    lv_hook_defined(d->name, d->uuid, false);       /* libvirt: UNDEFINED event */
    j = json_pack("{s:s,s:b}", "name", d->name, "deleted", 1);
    reply_json(c->rp, 200, j);
}

static void get_console(ApiCall *c)
{
    char path[PATH_MAX + 16];
    bool live;

    pthread_mutex_lock(&reg_lock);
    live = is_live(c->d);
    snprintf(path, sizeof(path), "%s.console", c->d->sock);
    pthread_mutex_unlock(&reg_lock);
    if (!live) {
        api_error(c->rp, 409, "Domain '%s' is not running.", c->d->name);
        return;
    }
    reply_json(c->rp, 200, json_pack("{s:s}", "path", path));
}

static void get_log(ApiCall *c)
{
    char *text = state_read_log(c->d->name, 256u << 10);

    /* The log is raw VMM output: JSON strings must be UTF-8. */
    for (char *p = text; p && *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    reply_json(c->rp, 200, json_pack("{s:s}", "text", text ? text : ""));
    free(text);
}

static void act_start(ApiCall *c)
{
    char err[1024];
    bool ok, paused;

    if (get_bool(c->body, "paused", false, &paused, c->rp) < 0)
        return;
    pthread_mutex_lock(&reg_lock);
    ok = (c->d->state == DS_STOPPED || c->d->state == DS_SAVED) && c->d->pid == 0;
    pthread_mutex_unlock(&reg_lock);
    if (!ok) {
        api_error(c->rp, 409, "Domain '%s' is already running.", c->d->name);
        return;
    }
    if (start_domain(c->d, paused, err, sizeof(err)) < 0) {
        api_error(c->rp, 500, "%s", err);
        return;
    }
    reply_domain(c->rp, 200, c->d);
}

static void act_destroy(ApiCall *c)
{
    char err[1024];

    if (sup_destroy(c->d, err, sizeof(err)) < 0) {
        api_error(c->rp, 409, "%s", err);
        return;
    }
    reply_domain(c->rp, 200, c->d);
}

/* shutdown and reboot: the guest agent does it; shutdown may wait. */
static void act_shutdown(ApiCall *c)
{
    bool wait = false, has_to;
    long long timeout = SHUTDOWN_WAIT_S;
    uint64_t seq;

    if (get_bool(c->body, "wait", false, &wait, c->rp) < 0 ||
        get_int(c->body, "timeout", 1, 3600, &timeout, &has_to, c->rp) < 0)
        return;
    pthread_mutex_lock(&reg_lock);
    seq = c->d->run_seq;
    pthread_mutex_unlock(&reg_lock);
    if (route_forward(c, NULL) < 0)
        return;
    if (wait && (c->route->flags & ROUTE_WAITS) &&
        sup_wait_stopped(c->d, seq, (int)timeout * 1000) < 0) {
        api_error(c->rp, 504, "Domain '%s' did not shut down within %lld s.", c->d->name, timeout);
        return;
    }
    reply_domain(c->rp, 200, c->d);
}

static void set_pause_state(ApiCall *c, bool pause)
{
    char err[1024];
    bool already;
    int st;

    pthread_mutex_lock(&reg_lock);
    already = is_live(c->d) && (c->d->state == DS_PAUSED) == pause;
    pthread_mutex_unlock(&reg_lock);
    if (already) {
        api_error(c->rp, 409, "Domain '%s' is %s.", c->d->name,
                  pause ? "already paused" : "not paused");
        return;
    }
    if ((st = set_paused(c->d, pause, err, sizeof(err)))) {
        api_error(c->rp, st, "%s", err);
        return;
    }
    reply_domain(c->rp, 200, c->d);
}

static void act_pause(ApiCall *c) { set_pause_state(c, true); }
static void act_unpause(ApiCall *c) { set_pause_state(c, false); }

/* config plus a final `maxmem = MAX` line (which wins over earlier ones);
 * NULL when out of memory. */
static char *config_with_maxmem(const char *config, long long max)
{
    size_t len = strlen(config);
    char *nc = NULL;

    if (asprintf(&nc, "%s%smaxmem = %lld\n", config,
                 len && config[len - 1] != '\n' ? "\n" : "", max) < 0)
        return NULL;
    return nc;
}

/* mem-max: the domain's limit; a managed domain keeps it in its stored
 * config (as xm mem-max did). The new config is written first, under the
 * state lock (no other config change between), and the domain changes
 * only once it is on disk: a failed save changes nothing. -1 after
 * replying. */
static int set_max_mem(ApiCall *c, long long max)
{
    Domain *d = c->d;
    char *nc = NULL;
    bool managed;
    int st = 0;

    pthread_mutex_lock(&state_lock);
    pthread_mutex_lock(&reg_lock);
    managed = d->managed && !d->removed;
    if ((uint64_t)max < d->mem_mib) {
        api_error(c->rp, 400, "max_mib (%lld) is less than the current memory (%llu MiB)",
                  max, (unsigned long long)d->mem_mib);
        st = 400;
    } else if (managed && !(nc = config_with_maxmem(d->config, max))) {
        api_error(c->rp, 500, "out of memory");
        st = 500;
    }
    pthread_mutex_unlock(&reg_lock);
    if (!st && nc && state_save_config(d->name, nc) < 0) {
        api_error(c->rp, 500, "cannot save the configuration of '%s' in %s", d->name,
                  xconf.state_dir);
        st = 500;
    }
    if (!st) {
        pthread_mutex_lock(&reg_lock);
        d->maxmem_mib = (uint64_t)max;
        if (nc) {
            free(d->config);
            d->config = nc;
            nc = NULL;
        }
        pthread_mutex_unlock(&reg_lock);
    }
    pthread_mutex_unlock(&state_lock);
    free(nc);
    return st ? -1 : 0;
}

/* mem-set: the balloon target, up to the domain's limit. -1 after replying. */
static int set_target_mem(ApiCall *c, long long target)
{
    json_t *args;
    int r;

    pthread_mutex_lock(&reg_lock);
    if ((uint64_t)target > c->d->maxmem_mib) {
        pthread_mutex_unlock(&reg_lock);
        api_error(c->rp, 400, "target_mib (%lld) is more than the maximum (%llu MiB)",
                  target, (unsigned long long)c->d->maxmem_mib);
        return -1;
    }
    pthread_mutex_unlock(&reg_lock);
    args = json_pack("{s:I}", "target_mib", (json_int_t)target);
    r = route_forward(c, args);
    json_decref(args);
    if (r < 0)
        return -1;
    pthread_mutex_lock(&reg_lock);
    c->d->mem_mib = (uint64_t)target;
    pthread_mutex_unlock(&reg_lock);
    return 0;
}

static void act_mem(ApiCall *c)
{
    long long target = 0, max = 0;
    bool has_target, has_max;

    if (get_int(c->body, "target_mib", 1, 1 << 24, &target, &has_target, c->rp) < 0 ||
        get_int(c->body, "max_mib", 1, 1 << 24, &max, &has_max, c->rp) < 0)
        return;
    if (has_target == has_max) {
        api_error(c->rp, 400, "give exactly one of 'target_mib' and 'max_mib'");
        return;
    }
    if ((has_max ? set_max_mem(c, max) : set_target_mem(c, target)) < 0)
        return;
    reply_domain(c->rp, 200, c->d);
}

static void act_vcpus(ApiCall *c)
{
    long long count = 0;
    json_t *args;
    bool has;
    unsigned max;
    int r;

    if (get_int(c->body, "count", 1, 4096, &count, &has, c->rp) < 0)
        return;
    if (!has) {
        api_error(c->rp, 400, "'count' is required");
        return;
    }
    pthread_mutex_lock(&reg_lock);
    max = c->d->maxvcpus;
    pthread_mutex_unlock(&reg_lock);
    if ((unsigned long long)count > max) {
        api_error(c->rp, 400, "count (%lld) is more than maxvcpus (%u)", count, max);
        return;
    }
    args = json_pack("{s:I}", "count", (json_int_t)count);
    r = route_forward(c, args);
    json_decref(args);
    if (r < 0)
        return;
    pthread_mutex_lock(&reg_lock);
    c->d->vcpus = (unsigned)count;
    pthread_mutex_unlock(&reg_lock);
    reply_domain(c->rp, 200, c->d);
}

static void act_autostart(ApiCall *c)
{
    bool on, managed;

    if (!json_object_get(c->body, "autostart")) {
        api_error(c->rp, 400, "'autostart' is required");
        return;
    }
    if (get_bool(c->body, "autostart", false, &on, c->rp) < 0)
        return;
    /* As mem-max: on disk first, under the state lock, then in memory. */
    pthread_mutex_lock(&state_lock);
    pthread_mutex_lock(&reg_lock);
    managed = c->d->managed && !c->d->removed;
    pthread_mutex_unlock(&reg_lock);
    if (managed && state_set_autostart(c->d->name, on) < 0) {
        pthread_mutex_unlock(&state_lock);
        api_error(c->rp, 500, "cannot update the autostart mark in %s", xconf.state_dir);
        return;
    }
    if (managed) {
        pthread_mutex_lock(&reg_lock);
        c->d->autostart = on;
        pthread_mutex_unlock(&reg_lock);
    }
    pthread_mutex_unlock(&state_lock);
    if (!managed) {
        api_error(c->rp, 409, "only managed domains can be autostarted");
        return;
    }
    reply_domain(c->rp, 200, c->d);
}

/* ---- save, restore, migrate ---- */

#define MAX_JOB_TAG 64

/* The optional "job" tag the client gives to find its progress events;
 * -1 after replying 400. */
static int get_job(json_t *body, const char **job, ApiReply *rp)
{
    json_t *v = json_object_get(body, "job");

    *job = NULL;
    if (!v)
        return 0;
    if (!json_is_string(v) || !json_string_length(v) || json_string_length(v) > MAX_JOB_TAG) {
        api_error(rp, 400, "'job' must be a string of 1 to %d characters", MAX_JOB_TAG);
        return -1;
    }
    for (const char *p = json_string_value(v); *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            api_error(rp, 400, "'job' must be printable");
            return -1;
        }
    *job = json_string_value(v);
    return 0;
}

/* A required absolute file path; -1 after replying 400. */
static int get_path(json_t *body, const char **path, ApiReply *rp)
{
    json_t *v = json_object_get(body, "path");
    const char *p;

    if (!json_is_string(v)) {
        api_error(rp, 400, "'path' (an absolute file name) is required");
        return -1;
    }
    p = json_string_value(v);
    if (p[0] != '/' || strlen(p) != json_string_length(v) || json_string_length(v) >= PATH_MAX - 8) {
        api_error(rp, 400, "'path' must be an absolute file name");
        return -1;
    }
    for (const char *q = p; *q; q++)
        if ((unsigned char)*q < 0x20) {
            api_error(rp, 400, "'path' must not contain control characters");
            return -1;
        }
    *path = p;
    return 0;
}

/* POST save: {"path", "checkpoint", "compress"}; managedsave: the domain's
 * save file in the state dir. */
static void do_save(ApiCall *c, bool managed_save)
{
    JobArgs a = { .managed_save = managed_save };
    char err[1024];
    bool managed;
    int st;

    if (get_job(c->body, &a.job, c->rp) < 0 ||
        (!managed_save && get_path(c->body, &a.path, c->rp) < 0) ||
        (!managed_save && get_bool(c->body, "checkpoint", false, &a.checkpoint, c->rp) < 0) ||
        get_bool(c->body, "compress", false, &a.compress, c->rp) < 0)
        return;
    pthread_mutex_lock(&reg_lock);
    managed = c->d->managed;
    pthread_mutex_unlock(&reg_lock);
    if (managed_save && !managed) {
        api_error(c->rp, 409, "Domain '%s' is not managed: save it to a file.", c->d->name);
        return;
    }
    if (!managed_save &&
        pathpolicy_check_savefile(a.path, true, c->rq->local_root, err, sizeof(err)) < 0) {
        api_error(c->rp, 403, "%s", err);
        return;
    }
    if ((st = job_save(c->d, &a, err, sizeof(err)))) {
        api_error(c->rp, st, "%s", err);
        return;
    }
    reply_domain(c->rp, 200, c->d);
}

static void act_save(ApiCall *c) { do_save(c, false); }
static void act_managedsave(ApiCall *c) { do_save(c, true); }

/* POST /v1/restore: {"path", "paused"}: the domain (201). */
static void act_restore(ApiCall *c)
{
    JobArgs a = { .full_access = c->rq->local_root };
    char err[1024];
    Domain *d;
    int st;

    if (get_job(c->body, &a.job, c->rp) < 0 || get_path(c->body, &a.path, c->rp) < 0 ||
        get_bool(c->body, "paused", false, &a.paused, c->rp) < 0)
        return;
    if (pathpolicy_check_savefile(a.path, false, a.full_access, err, sizeof(err)) < 0) {
        api_error(c->rp, 403, "%s", err);
        return;
    }
    if ((st = job_restore(&a, &d, err, sizeof(err)))) {
        api_error(c->rp, st, "%s", err);
        return;
    }
    reply_domain(c->rp, 201, d);
    dom_put(d);
}

/* A host name or address for migrate: one word, printable. */
static bool host_ok(const char *h, size_t len)
{
    if (!len || len > 255 || strlen(h) != len || h[0] == '-')
        return false;
    for (; *h; h++)
        if ((unsigned char)*h <= ' ' || *h == 0x7f || *h == '/')
            return false;
    return true;
}

/* POST migrate: {"host", "port", "live", "downtime_ms", "bandwidth_mbps",
 * "max_rounds", "compress", "auto_converge"}. */
static void act_migrate(ApiCall *c)
{
    JobArgs a = { 0 };
    json_t *h = json_object_get(c->body, "host");
    long long port = RELOC_DEFAULT_PORT, downtime = 50, bw = 0, rounds = 30;
    bool has;
    char err[1536];
    json_t *j;
    int st;

    if (!json_is_string(h) || !host_ok(json_string_value(h), json_string_length(h))) {
        api_error(c->rp, 400, "'host' (the destination's name or address) is required");
        return;
    }
    a.host = json_string_value(h);
    if (get_job(c->body, &a.job, c->rp) < 0 ||
        get_int(c->body, "port", 1, 65535, &port, &has, c->rp) < 0 ||
        get_int(c->body, "downtime_ms", 1, 60000, &downtime, &has, c->rp) < 0 ||
        get_int(c->body, "bandwidth_mbps", 0, 1000000, &bw, &has, c->rp) < 0 ||
        get_int(c->body, "max_rounds", 1, 1000, &rounds, &has, c->rp) < 0 ||
        get_bool(c->body, "live", false, &a.live, c->rp) < 0 ||
        get_bool(c->body, "compress", false, &a.compress, c->rp) < 0 ||
        get_bool(c->body, "auto_converge", true, &a.auto_converge, c->rp) < 0)
        return;
    a.port = (int)port;
    a.downtime_ms = (unsigned)downtime;
    a.bandwidth_mbps = (unsigned)bw;
    a.max_rounds = (unsigned)rounds;
    if ((st = job_migrate(c->d, &a, err, sizeof(err)))) {
        api_error(c->rp, st, "%s", err);
        return;
    }
    j = json_pack("{s:s,s:s,s:s,s:i,s:b}", "name", c->d->name, "uuid", c->d->uuid,
                  "host", a.host, "port", a.port, "migrated", 1);
    reply_json(c->rp, 200, j);
}

/* ---- routing ---- */

#define FIELDS(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define M ROUTE_MODIFY
#define R ROUTE_READ

static const Route routes[] = {
    { "GET",    "host",                    get_host,        R, NULL, NULL },
    { "GET",    "events",                  get_events,      R, NULL, NULL },
    { "GET",    "domains",                 list_domains,    R, NULL, NULL },
    { "POST",   "domains",                 create_domain,   0, NULL,
      FIELDS("config", "overrides", "start", "managed", "paused", "autostart", "file") },
    { "GET",    "domains/{dom}",           get_domain,      R | ROUTE_DOM0, NULL, NULL },
    { "DELETE", "domains/{dom}",           undefine_domain, M, NULL, NULL },
    { "GET",    "domains/{dom}/console",   get_console,     ROUTE_LOCAL, NULL, NULL },
    { "GET",    "domains/{dom}/log",       get_log,         R, NULL, NULL },
    { "POST",   "domains/{dom}/start",     act_start,       M, NULL, FIELDS("paused") },
    { "POST",   "domains/{dom}/destroy",   act_destroy,     M, NULL, NULL },
    { "POST",   "domains/{dom}/shutdown",  act_shutdown,    M | ROUTE_AGENT | ROUTE_WAITS,
      "shutdown", FIELDS("wait", "timeout") },
    { "POST",   "domains/{dom}/reboot",    act_shutdown,    M | ROUTE_AGENT, "reboot",
      FIELDS("wait", "timeout") },
    { "POST",   "domains/{dom}/pause",     act_pause,       M, NULL, NULL },
    { "POST",   "domains/{dom}/unpause",   act_unpause,     M, NULL, NULL },
    { "POST",   "domains/{dom}/mem",       act_mem,         M, "balloon",
      FIELDS("target_mib", "max_mib") },
    { "POST",   "domains/{dom}/vcpus",     act_vcpus,       M | ROUTE_AGENT, "vcpu-set",
      FIELDS("count") },
    { "POST",   "domains/{dom}/autostart", act_autostart,   M, NULL, FIELDS("autostart") },
    { "POST",   "domains/{dom}/save",      act_save,        M, NULL,
      FIELDS("path", "checkpoint", "compress", "job") },
    { "POST",   "domains/{dom}/managedsave", act_managedsave, M, NULL, FIELDS("compress", "job") },
    { "POST",   "domains/{dom}/migrate",   act_migrate,     M, NULL,
      FIELDS("host", "port", "live", "downtime_ms", "bandwidth_mbps", "max_rounds", "compress",
             "auto_converge", "job") },
    { "POST",   "restore",                 act_restore,     0, NULL, FIELDS("path", "paused", "job") },
};

#undef M
#undef R

/* Split "/v1/a/b/c" into at most MAX_SEGMENTS segments (after "v1"). */
static int split_path(const char *path, char seg[MAX_SEGMENTS][MAX_KEY + 1])
{
    int n = 0;
    const char *p = path;

    if (strncmp(p, "/v1/", 4))
        return -1;
    p += 4;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);

        if (!len || len > MAX_KEY || n == MAX_SEGMENTS)
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

/* Does the path fit the pattern? *dom is the index of its {dom} segment
 * (-1 if none). */
static bool path_matches(const char *pattern, char seg[MAX_SEGMENTS][MAX_KEY + 1], int n,
                         int *dom)
{
    const char *p = pattern;
    int i = 0;

    *dom = -1;
    for (; *p; i++) {
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);

        if (i == n)
            return false;
        if (len == 5 && !strncmp(p, "{dom}", 5))
            *dom = i;
        else if (strlen(seg[i]) != len || strncmp(seg[i], p, len))
            return false;
        p += len + (e != NULL);
    }
    return i == n;
}

static bool method_known(const char *m)
{
    for (size_t i = 0; i < ARRAY_SIZE(routes); i++)
        if (!strcmp(routes[i].method, m))
            return true;
    return false;
}

/* The last word of a route's path ("console" for domains/{dom}/console). */
static const char *route_noun(const Route *rt)
{
    const char *slash = strrchr(rt->path, '/');

    return slash ? slash + 1 : rt->path;
}

/* The route for the request, or NULL after replying 404 (no such path) or
 * 405 (naming the methods the path takes). */
static const Route *find_route(const ApiRequest *rq, char seg[MAX_SEGMENTS][MAX_KEY + 1], int n,
                               int *dom, ApiReply *rp)
{
    char allowed[64] = "";
    const char *pattern = NULL;

    for (size_t i = 0; i < ARRAY_SIZE(routes); i++) {
        if (!path_matches(routes[i].path, seg, n, dom))
            continue;
        if (!strcmp(routes[i].method, rq->method))
            return &routes[i];
        pattern = routes[i].path;
        snprintf(allowed + strlen(allowed), sizeof(allowed) - strlen(allowed), "%s%s",
                 allowed[0] ? " or " : "", routes[i].method);
    }
    if (pattern)
        api_error(rp, 405, "use %s for /v1/%s", allowed, pattern);
    else
        api_error(rp, 404, "no such resource: %.200s", rq->path);
    return NULL;
}

/* The {dom} of the call's path into c->d (referenced). Domain-0 has no
 * Domain: it passes (c->d NULL) only on ROUTE_DOM0 routes. -1 after
 * replying 403 or 404. */
static int resolve_domain(ApiCall *c, const char *key)
{
    const Route *rt = c->route;
    Domain *d;

    if (reg_is_dom0_key(key)) {
        if (rt->flags & ROUTE_MODIFY)
            api_error(c->rp, 403, "Domain-0 cannot be modified");
        else if (!(rt->flags & ROUTE_DOM0))
            api_error(c->rp, 403, "Domain-0 has no %s", route_noun(rt));
        return rt->flags & ROUTE_DOM0 ? 0 : -1;
    }
    d = reg_lookup(key);
    if (!d) {
        api_error(c->rp, 404, "Domain '%s' does not exist.", key);
        return -1;
    }
    c->d = d;
    return 0;
}

/* 403 unless the client's role allows the route. */
static int check_role(const ApiRequest *rq, const Route *rt, ApiReply *rp)
{
    const char *what = !strcmp(rt->method, "DELETE") ? "undefine" :
                       !strcmp(rt->path, "domains") ? "create" : route_noun(rt);

    if (rq->role == XEND_ROLE_FULL || (rt->flags & ROUTE_READ))
        return 0;
    api_error(rp, 403, "This connection to xend is read-only: %s needs full access", what);
    return -1;
}

int api_authorize(const ApiRequest *rq, ApiReply *rp)
{
    char seg[MAX_SEGMENTS][MAX_KEY + 1];
    const Route *rt;
    int n, dom;

    rp->status = 500;
    rp->body = NULL;
    rp->events = false;
    if (!rq->method || !rq->path || !method_known(rq->method)) {
        api_error(rp, 405, "method %.16s not allowed", rq->method ? rq->method : "");
        return -1;
    }
    if ((n = split_path(rq->path, seg)) <= 0) {
        api_error(rp, 404, "no such resource: %.200s", rq->path);
        return -1;
    }
    if (!(rt = find_route(rq, seg, n, &dom, rp)))
        return -1;
    return check_role(rq, rt, rp);
}

void api_handle(const ApiRequest *rq, ApiReply *rp)
{
    char seg[MAX_SEGMENTS][MAX_KEY + 1];
    ApiCall c = { .rq = rq, .rp = rp };
    int n, dom;

    rp->status = 500;
    rp->body = NULL;
    rp->events = false;
    if (!rq->method || !rq->path) {
        api_error(rp, 400, "bad request");
        return;
    }
    if (!method_known(rq->method)) {
        api_error(rp, 405, "method %.16s not allowed", rq->method);
        return;
    }
    n = split_path(rq->path, seg);
    if (n <= 0) {
        api_error(rp, 404, "no such resource: %.200s", rq->path);
        return;
    }
    if (!(c.route = find_route(rq, seg, n, &dom, rp)))
        return;
    if (check_role(rq, c.route, rp) < 0)
        return;
    if (dom >= 0 && resolve_domain(&c, seg[dom]) < 0)
        return;
    if ((c.route->flags & ROUTE_LOCAL) && !rq->local) {
        api_error(rp, 403, "the %s is available on the local socket only",
                  route_noun(c.route));
        goto out;
    }
    if (c.route->body && !(c.body = parse_body(rq, rp, c.route->body)))
        goto out;
    c.route->fn(&c);
out:
    json_decref(c.body);
    if (c.d)
        dom_put(c.d);
}
