/* Domain procedures: lookups, lists, information, XML, and the changes
 * (define, undefine, start, create, shutdown, reboot, destroy, suspend,
 * resume, memory, vCPUs, autostart, managed save).
 *
 * One truth with xm: a domain is the registry's (xend.h), found by the
 * uuid its reference carries; every change the REST API can make goes
 * through the REST API's own handlers (lv_rest -> api_handle), with their
 * checks, their events and their messages ("Domain 'x' is not
 * running."), which become libvirt's errors. What REST has no route for
 * (a new definition of a domain that exists, a transient domain made
 * persistent, a running domain undefined, a managed save discarded) is
 * done here on the registry, under its lock, as api.c does its own.
 *
 * Domain-0 is the host: listed (id 0, the null uuid), described, never
 * changed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/hostcaps.h"
#include "common/log.h"
#include "common/util.h"
#include "libvirt.h"
#include "xend.h"

/* libvirt's domain states and reasons (libvirt-domain.h) */
enum { ST_NOSTATE = 0, ST_RUNNING, ST_BLOCKED, ST_PAUSED, ST_SHUTDOWN, ST_SHUTOFF, ST_CRASHED };
enum { RUNNING_BOOTED = 1, PAUSED_USER = 1, PAUSED_MIGRATION = 2, PAUSED_SAVE = 3,
       SHUTOFF_UNKNOWN = 0, SHUTOFF_SHUTDOWN = 1, SHUTOFF_DESTROYED = 2, SHUTOFF_CRASHED = 3,
       SHUTOFF_MIGRATED = 4, SHUTOFF_SAVED = 5, SHUTOFF_FAILED = 6, CRASHED_PANICKED = 1 };

/* flags */
#define AFFECT_LIVE        1u
#define AFFECT_CONFIG      2u
#define MEM_MAXIMUM        4u
#define VCPU_MAXIMUM       4u
#define VCPU_GUEST         8u
#define VCPU_HOTPLUGGABLE  16u
#define START_PAUSED       1u
#define START_AUTODESTROY  2u
#define START_BYPASS_CACHE 4u
#define START_FORCE_BOOT   8u
#define START_VALIDATE     16u
#define UNDEFINE_MANAGED_SAVE 1u
#define UNDEFINE_KNOWN     (1u | 2u | 4u | 8u | 16u | 32u | 64u)  /* nothing else to remove */
#define SHUTDOWN_AGENT     2u
#define SHUTDOWN_PARAVIRT  16u
#define DESTROY_KNOWN      (1u | 2u)    /* GRACEFUL, REMOVE_LOGS */
#define SAVE_KNOWN         (1u | 2u | 4u)  /* BYPASS_CACHE, RUNNING, PAUSED */

#define DOM0_UUID "00000000-0000-0000-0000-000000000000"

/* ---- REST ---- */

static int status_code(int status)
{
    switch (status) {
    case 400: case 413: return LV_ERR_INVALID_ARG;
    case 403: case 409: return LV_ERR_OPERATION_INVALID;
    case 404:           return LV_ERR_NO_DOMAIN;
    case 504:           return LV_ERR_OPERATION_TIMEOUT;
    case 500: case 502: return LV_ERR_OPERATION_FAILED;
    default:            return LV_ERR_INTERNAL_ERROR;
    }
}

int lv_rest(const char *method, const char *path, json_t *body, json_t **result, LvError *e)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    ApiRequest rq = { .method = method, .path = path, .body = text ? text : "",
                      .len = text ? strlen(text) : 0, .local = true };
    ApiReply rp = { 0 };
    json_t *j;

    if (result)
        *result = NULL;
    if (body && !text)
        return lv_error(e, LV_ERR_NO_MEMORY, "a request to xend");
    api_handle(&rq, &rp);
    free(text);
    j = rp.body ? json_loads(rp.body, 0, NULL) : NULL;
    free(rp.body);
    if (rp.status >= 400) {
        const char *msg = json_string_value(json_object_get(j, "error"));

        lv_error(e, status_code(rp.status), "%s", msg ? msg : "xend failed");
        json_decref(j);
        return -1;
    }
    if (result)
        *result = j;
    else
        json_decref(j);
    return 0;
}

/* ---- what a domain looks like, copied out of the registry ---- */

typedef struct DomView {
    bool dom0;
    char name[64], uuid[37];
    int id;                    /* -1: inactive */
    enum dom_state state;
    bool managed, autostart, busy;
    uint64_t mem_mib, maxmem_mib, cpu_ns;
    unsigned vcpus, maxvcpus;
    enum stop_reason last_exit;
    bool managed_save;         /* saved: start restores it */
    char *config;              /* NULL for Domain-0 */
} DomView;

static bool live_locked(const Domain *d)
{
    return d->id >= 0 && d->state != DS_STOPPED && d->state != DS_SAVED;
}

static void view_locked(const Domain *d, DomView *v)
{
    memset(v, 0, sizeof(*v));
    snprintf(v->name, sizeof(v->name), "%s", d->name);
    snprintf(v->uuid, sizeof(v->uuid), "%s", d->uuid);
    v->id = live_locked(d) ? d->id : -1;
    v->state = d->state;
    v->managed = d->managed;
    v->autostart = d->autostart;
    v->busy = d->job != JOB_NONE || d->incoming;
    v->mem_mib = d->mem_mib;
    v->maxmem_mib = d->maxmem_mib;
    v->cpu_ns = d->cpu_ns;
    v->vcpus = d->vcpus;
    v->maxvcpus = d->maxvcpus;
    v->last_exit = d->last_exit;
    v->managed_save = d->state == DS_SAVED;
    v->config = strdup(d->config);
}

static unsigned host_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    return n > 0 ? (unsigned)n : 1;
}

static void view_dom0(DomView *v)
{
    uint64_t total = 0;
    json_t *j = dom0_to_json();

    memset(v, 0, sizeof(*v));
    host_memory(&total, NULL);
    v->dom0 = true;
    snprintf(v->name, sizeof(v->name), "Domain-0");
    snprintf(v->uuid, sizeof(v->uuid), DOM0_UUID);
    v->state = DS_RUNNING;
    v->mem_mib = v->maxmem_mib = total >> 20;
    v->vcpus = v->maxvcpus = host_cpus();
    v->cpu_ns = (uint64_t)(json_real_value(json_object_get(j, "cpu_time_s")) * 1e9);
    v->managed = true;
    json_decref(j);
}

static void view_free(DomView *v)
{
    free(v->config);
    v->config = NULL;
}

static bool view_active(const DomView *v) { return v->dom0 || v->id >= 0; }

/* libvirt's state and reason of a domain. */
static int view_state(const DomView *v, int *reason)
{
    static const int shutoff_reason[] = {
        [SR_POWEROFF] = SHUTOFF_SHUTDOWN, [SR_REBOOT] = SHUTOFF_SHUTDOWN,
        [SR_CRASH] = SHUTOFF_CRASHED, [SR_DESTROYED] = SHUTOFF_DESTROYED,
        [SR_ERROR] = SHUTOFF_FAILED, [SR_SAVED] = SHUTOFF_SAVED, [SR_MIGRATED] = SHUTOFF_MIGRATED,
    };

    *reason = 0;
    switch (v->state) {
    case DS_STARTING:
        *reason = RUNNING_BOOTED;
        return ST_RUNNING;
    case DS_RUNNING:
        /* Not BLOCKED when idle (xm's 'b'): libvirt's clients read that as
         * "idle", and libvirt's own Xen driver says running. */
        *reason = RUNNING_BOOTED;
        return ST_RUNNING;
    case DS_PAUSED:
        *reason = v->busy ? PAUSED_SAVE : PAUSED_USER;
        return ST_PAUSED;
    case DS_SHUTDOWN:
        *reason = SHUTOFF_SHUTDOWN;
        return ST_SHUTOFF;
    case DS_CRASHED:
        *reason = CRASHED_PANICKED;
        return ST_CRASHED;
    case DS_DYING:
        return ST_SHUTDOWN;
    case DS_SAVED:
        *reason = SHUTOFF_SAVED;
        return ST_SHUTOFF;
    case DS_STOPPED:
        if (v->last_exit >= 0 && (size_t)v->last_exit < ARRAY_SIZE(shutoff_reason))
            *reason = shutoff_reason[v->last_exit];
        return ST_SHUTOFF;
    }
    return ST_NOSTATE;
}

/* ---- finding a domain ---- */

static Domain *find_uuid_locked(const char *uuid)
{
    Domain *d = reg_find_locked(uuid);

    return d && !strcasecmp(d->uuid, uuid) ? d : NULL;
}

/* The domain a reference names: *v its view, *dp the registry's domain
 * (referenced; NULL for Domain-0). With sample, a running domain's
 * statistics are refreshed first (a VMM query). */
static int resolve(LvCall *c, const LvDomRef *r, bool sample, DomView *v, Domain **dp)
{
    char uuid[37];
    Domain *d;

    *dp = NULL;
    lv_uuid_format(r->uuid, uuid);
    if (!strcmp(uuid, DOM0_UUID)) {
        view_dom0(v);
        return 0;
    }
    pthread_mutex_lock(&reg_lock);
    if ((d = find_uuid_locked(uuid)))
        dom_get(d);
    pthread_mutex_unlock(&reg_lock);
    if (!d)
        return lv_error(&c->err, LV_ERR_NO_DOMAIN, "no domain with matching uuid '%s' (%s)",
                        uuid, r->name);
    if (sample)
        sup_sample(d);
    pthread_mutex_lock(&reg_lock);
    view_locked(d, v);
    pthread_mutex_unlock(&reg_lock);
    if (!v->config) {
        dom_put(d);
        return lv_error(&c->err, LV_ERR_NO_MEMORY, "domain '%s'", r->name);
    }
    *dp = d;
    return 0;
}

static void release(Domain *d, DomView *v)
{
    if (d)
        dom_put(d);
    view_free(v);
}

/* Decode {remote_nonnull_domain dom} alone and find it. */
static int only_domain(LvCall *c, bool sample, DomView *v, Domain **d)
{
    LvDomRef r;

    lv_get_domain(&c->in, &r);
    if (xdr_dec_finish(&c->in, &c->err) < 0)
        return -1;
    return resolve(c, &r, sample, v, d);
}

static void put_view(XdrBuf *b, const DomView *v)
{
    lv_put_domain(b, v->name, v->uuid, v->dom0 ? 0 : v->id);
}

/* The REST path of a domain action: domains/UUID/ACTION. */
static void dom_path(char *buf, size_t size, const DomView *v, const char *action)
{
    snprintf(buf, size, "/v1/domains/%s%s%s", v->uuid, action ? "/" : "", action ? action : "");
}

static int refuse_dom0(LvCall *c, const DomView *v)
{
    if (v->dom0)
        return lv_error(&c->err, LV_ERR_OPERATION_INVALID, "Domain-0 cannot be modified");
    return 0;
}

/* Config text parsed; -1 with e set. */
static int parse_config(LvCall *c, const char *name, const char *text, VmConfig *cfg)
{
    char err[512];

    config_init(cfg);
    if (config_parse(cfg, name, text, strlen(text), NULL, NULL, err, sizeof(err)) < 0)
        return lv_error(&c->err, LV_ERR_INTERNAL_ERROR, "the config of '%s': %s", name, err);
    return 0;
}

/* The stored config of a view (what the next start uses), parsed. */
static int view_config(LvCall *c, const DomView *v, VmConfig *cfg)
{
    return parse_config(c, v->name, v->config, cfg);
}

/* The config the running instance of v was started with (run/ID.cfg,
 * malloc'd), or NULL when it does not run or the file is gone. A new
 * definition of a running domain changes the stored config only. */
static char *running_config(const DomView *v)
{
    char path[PATH_MAX];
    size_t len;

    if (v->dom0 || v->id < 0 || state_path(path, sizeof(path), "run/%d.cfg", v->id) < 0)
        return NULL;
    return read_file(path, &len);
}

/* ---- lookups ---- */

/* The domain of a REST reply ({"name", "uuid", "id"}) into the reply. */
static void put_json_domain(XdrBuf *b, json_t *j)
{
    json_t *id = json_object_get(j, "id");

    lv_put_domain(b, json_string_value(json_object_get(j, "name")),
                  json_string_value(json_object_get(j, "uuid")),
                  json_is_integer(id) ? (int)json_integer_value(id) : -1);
}

static int lookup_key(LvCall *c, const char *key, const char *what)
{
    DomView v;
    Domain *d;

    if (reg_is_dom0_key(key)) {
        view_dom0(&v);
        put_view(&c->out, &v);
        return 0;
    }
    pthread_mutex_lock(&reg_lock);
    d = reg_find_locked(key);
    if (d && (!strcmp(what, "name") ? strcmp(d->name, key) : strcasecmp(d->uuid, key)) &&
        strcmp(what, "id"))
        d = NULL;
    if (d && !strcmp(what, "id") && !live_locked(d))
        d = NULL;
    if (d)
        view_locked(d, &v);
    pthread_mutex_unlock(&reg_lock);
    if (!d)
        return lv_error(&c->err, LV_ERR_NO_DOMAIN, "no domain with matching %s %s%s%s", what,
                        strcmp(what, "id") ? "'" : "", key, strcmp(what, "id") ? "'" : "");
    put_view(&c->out, &v);
    view_free(&v);
    return 0;
}

static int proc_lookup_by_name(LvCall *c)
{
    const char *name = xdr_get_string(&c->in, LV_STRING_MAX);

    if (xdr_dec_finish(&c->in, &c->err) < 0)
        return -1;
    if (!*name || strchr(name, '/'))
        return lv_error(&c->err, LV_ERR_NO_DOMAIN, "no domain with matching name '%s'", name);
    return lookup_key(c, name, "name");
}

static int proc_lookup_by_uuid(LvCall *c)
{
    uint8_t u[LV_UUID_LEN];
    char uuid[37];

    xdr_get_fixed(&c->in, u, sizeof(u));
    if (xdr_dec_finish(&c->in, &c->err) < 0)
        return -1;
    lv_uuid_format(u, uuid);
    return lookup_key(c, uuid, "uuid");
}

static int proc_lookup_by_id(LvCall *c)
{
    int id = xdr_get_i32(&c->in);
    char key[16];

    if (xdr_dec_finish(&c->in, &c->err) < 0)
        return -1;
    if (id < 0)
        return lv_error(&c->err, LV_ERR_NO_DOMAIN, "no domain with matching id %d", id);
    snprintf(key, sizeof(key), "%d", id);
    return lookup_key(c, key, "id");
}

/* ---- lists ---- */

/* `xm list` order: running domains by id, then the others by name. */
static int by_id_then_name(const void *a, const void *b)
{
    const DomView *x = a, *y = b;
    bool xr = x->id >= 0, yr = y->id >= 0;

    if (xr != yr)
        return xr ? -1 : 1;
    if (xr)
        return x->id < y->id ? -1 : x->id > y->id;
    return strcmp(x->name, y->name);
}

/* Every domain, Domain-0 first; *n views (caller frees each and the
 * array). NULL when out of memory. */
static DomView *all_views(size_t *n)
{
    Domain **all;
    DomView *v;
    size_t k;

    pthread_mutex_lock(&reg_lock);
    k = reg_snapshot_locked(&all);
    v = calloc(k + 1, sizeof(*v));
    for (size_t i = 0; i < k; i++) {
        if (v)
            view_locked(all[i], &v[i + 1]);
        dom_put_locked(all[i]);
    }
    pthread_mutex_unlock(&reg_lock);
    free(all);
    if (!v)
        return NULL;
    view_dom0(&v[0]);
    qsort(v + 1, k, sizeof(*v), by_id_then_name);
    *n = k + 1;
    return v;
}

static void views_free(DomView *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        view_free(&v[i]);
    free(v);
}

/* virConnectListAllDomains flags */
enum { LIST_ACTIVE = 1, LIST_INACTIVE = 2, LIST_PERSISTENT = 4, LIST_TRANSIENT = 8,
       LIST_RUNNING = 16, LIST_PAUSED = 32, LIST_SHUTOFF = 64, LIST_OTHER = 128,
       LIST_MANAGEDSAVE = 256, LIST_NO_MANAGEDSAVE = 512, LIST_AUTOSTART = 1024,
       LIST_NO_AUTOSTART = 2048, LIST_HAS_SNAPSHOT = 4096, LIST_NO_SNAPSHOT = 8192,
       LIST_HAS_CHECKPOINT = 16384, LIST_NO_CHECKPOINT = 32768 };

/* A filter group: both bits or neither pass everything; one bit, as it says. */
static bool group_pass(unsigned flags, unsigned yes, unsigned no, bool is)
{
    unsigned g = flags & (yes | no);

    return !g || g == (yes | no) || (is ? (g & yes) : (g & no));
}

static bool list_match(const DomView *v, unsigned flags)
{
    int reason, st = view_state(v, &reason);
    unsigned states = flags & (LIST_RUNNING | LIST_PAUSED | LIST_SHUTOFF | LIST_OTHER);

    if (!group_pass(flags, LIST_ACTIVE, LIST_INACTIVE, view_active(v)) ||
        !group_pass(flags, LIST_PERSISTENT, LIST_TRANSIENT, v->managed) ||
        !group_pass(flags, LIST_MANAGEDSAVE, LIST_NO_MANAGEDSAVE, v->managed_save) ||
        !group_pass(flags, LIST_AUTOSTART, LIST_NO_AUTOSTART, v->autostart) ||
        !group_pass(flags, LIST_HAS_SNAPSHOT, LIST_NO_SNAPSHOT, false) ||
        !group_pass(flags, LIST_HAS_CHECKPOINT, LIST_NO_CHECKPOINT, false))
        return false;
    if (!states)
        return true;
    return ((states & LIST_RUNNING) && (st == ST_RUNNING || st == ST_BLOCKED)) ||
           ((states & LIST_PAUSED) && st == ST_PAUSED) ||
           ((states & LIST_SHUTOFF) && st == ST_SHUTOFF) ||
           ((states & LIST_OTHER) && st != ST_RUNNING && st != ST_BLOCKED && st != ST_PAUSED &&
            st != ST_SHUTOFF);
}

/* CONNECT_LIST_ALL_DOMAINS: {int need_results; unsigned flags} ->
 * {remote_nonnull_domain domains<>; unsigned ret}. */
static int proc_list_all(LvCall *c)
{
    int need = xdr_get_i32(&c->in);
    uint32_t flags = xdr_get_u32(&c->in), count = 0;
    DomView *v;
    size_t n;

    if (xdr_dec_finish(&c->in, &c->err) < 0)
        return -1;
    if (!(v = all_views(&n)))
        return lv_error(&c->err, LV_ERR_NO_MEMORY, "the domain list");
    for (size_t i = 0; i < n; i++)
        count += list_match(&v[i], flags);
    xdr_put_u32(&c->out, need ? count : 0);
    for (size_t i = 0; need && i < n; i++)
        if (list_match(&v[i], flags))
            put_view(&c->out, &v[i]);
    xdr_put_u32(&c->out, count);
    views_free(v, n);
    return 0;
}

/* The ids of active domains (CONNECT_LIST_DOMAINS {int maxids}) or, for
 * num, their number. */
static int list_ids(LvCall *c, bool num)
{
    int max = num ? 0 : xdr_get_i32(&c->in);
    uint32_t k = 0;
    DomView *v;
    size_t n;

    if (xdr_dec_finish(&c->in, &c->err) < 0)
        return -1;
    if (!num && (max < 0 || (uint32_t)max > LV_DOMAIN_LIST_MAX))
        return lv_error(&c->err, LV_ERR_RPC, "too many remote domain IDs: %d > %u", max,
                        LV_DOMAIN_LIST_MAX);
    if (!(v = all_views(&n)))
        return lv_error(&c->err, LV_ERR_NO_MEMORY, "the domain list");
    for (size_t i = 0; i < n; i++)
        k += view_active(&v[i]);
    if (num) {
        xdr_put_i32(&c->out, (int32_t)k);
    } else {
        xdr_put_u32(&c->out, MIN(k, (uint32_t)max));
        for (size_t i = 0, put = 0; i < n && put < (size_t)max; i++)
            if (view_active(&v[i]) && ++put)
                xdr_put_i32(&c->out, v[i].dom0 ? 0 : v[i].id);
    }
    views_free(v, n);
    return 0;
}

static int proc_list_domains(LvCall *c) { return list_ids(c, false); }
static int proc_num_domains(LvCall *c) { return list_ids(c, true); }

/* The names of inactive persistent domains (or their number). */
static int list_defined(LvCall *c, bool num)
{
    int max = num ? 0 : xdr_get_i32(&c->in);
    uint32_t k = 0;
    DomView *v;
    size_t n;

    if (xdr_dec_finish(&c->in, &c->err) < 0)
        return -1;
    if (!num && (max < 0 || (uint32_t)max > LV_DOMAIN_LIST_MAX))
        return lv_error(&c->err, LV_ERR_RPC, "too many remote domain names: %d > %u", max,
                        LV_DOMAIN_LIST_MAX);
    if (!(v = all_views(&n)))
        return lv_error(&c->err, LV_ERR_NO_MEMORY, "the domain list");
    for (size_t i = 0; i < n; i++)
        k += !view_active(&v[i]) && v[i].managed;
    if (num) {
        xdr_put_i32(&c->out, (int32_t)k);
    } else {
        xdr_put_u32(&c->out, MIN(k, (uint32_t)max));
        for (size_t i = 0, put = 0; i < n && put < (size_t)max; i++)
            if (!view_active(&v[i]) && v[i].managed && ++put)
                xdr_put_string(&c->out, v[i].name);
    }
    views_free(v, n);
    return 0;
}

static int proc_list_defined(LvCall *c) { return list_defined(c, false); }
static int proc_num_defined(LvCall *c) { return list_defined(c, true); }

/* ---- information ---- */

/* DOMAIN_GET_INFO: {uchar state; hyper maxMem, memory (KiB); ushort
 * nrVirtCpu; hyper cpuTime (ns)}; uchar and ushort take 4 bytes each. */
static int proc_get_info(LvCall *c)
{
    DomView v;
    Domain *d;
    int reason, st;

    if (only_domain(c, true, &v, &d) < 0)
        return -1;
    st = view_state(&v, &reason);
    xdr_put_u32(&c->out, (uint32_t)st);
    xdr_put_u64(&c->out, v.maxmem_mib * 1024);
    xdr_put_u64(&c->out, v.mem_mib * 1024);
    xdr_put_u32(&c->out, v.vcpus);
    xdr_put_u64(&c->out, view_active(&v) ? v.cpu_ns : 0);
    release(d, &v);
    return 0;
}

/* DOMAIN_GET_STATE: {dom; unsigned flags} -> {int state, reason}. */
static int proc_get_state(LvCall *c)
{
    LvDomRef r;
    DomView v;
    Domain *d;
    int reason, st;

    lv_get_domain(&c->in, &r);
    xdr_get_u32(&c->in);
    if (xdr_dec_finish(&c->in, &c->err) < 0 || resolve(c, &r, false, &v, &d) < 0)
        return -1;
    st = view_state(&v, &reason);
    xdr_put_i32(&c->out, st);
    xdr_put_i32(&c->out, reason);
    release(d, &v);
    return 0;
}

/* DOMAIN_GET_CONTROL_INFO: {dom; flags} -> {unsigned state, details;
 * hyper stateTime}: OK, or JOB while a save or migration runs. */
static int proc_get_control_info(LvCall *c)
{
    LvDomRef r;
    DomView v;
    Domain *d;

    lv_get_domain(&c->in, &r);
    xdr_get_u32(&c->in);
    if (xdr_dec_finish(&c->in, &c->err) < 0 || resolve(c, &r, false, &v, &d) < 0)
        return -1;
    xdr_put_u32(&c->out, v.busy ? 1 : 0);
    xdr_put_u32(&c->out, 0);
    xdr_put_u64(&c->out, 0);
    release(d, &v);
    return 0;
}

#define XML_INACTIVE 2u

/* DOMAIN_GET_XML_DESC: {dom; unsigned flags} -> {string xml}. The live
 * description is the config the instance runs, with its id, memory and
 * vCPUs in effect; INACTIVE gives what the next start uses. */
static int proc_get_xml(LvCall *c)
{
    LvDomRef r;
    uint32_t flags;
    DomView v;
    Domain *d;
    VmConfig *cfg;
    LvDomXmlInfo info = { .id = -1 };
    LvArchs a;
    char *xml, *run;
    bool live;

    lv_get_domain(&c->in, &r);
    flags = xdr_get_u32(&c->in);
    if (xdr_dec_finish(&c->in, &c->err) < 0 || resolve(c, &r, false, &v, &d) < 0)
        return -1;
    lv_host_archs(&a);
    if (v.dom0) {
        xml = lvxml_format_dom0(v.mem_mib * 1024, v.vcpus, a.host_arch);
        goto done;
    }
    live = view_active(&v) && !(flags & XML_INACTIVE);
    run = live ? running_config(&v) : NULL;
    if (!(cfg = malloc(sizeof(*cfg))) || parse_config(c, v.name, run ? run : v.config, cfg) < 0) {
        free(cfg);
        free(run);
        release(d, &v);
        return c->err.code ? -1 : lv_error(&c->err, LV_ERR_NO_MEMORY, "domain XML");
    }
    free(run);
    info.uuid = v.uuid;
    info.emulator = a.emulator;
    if (live) {
        info.id = v.id;
        info.mem_kib = v.mem_mib * 1024;
        info.maxmem_kib = v.maxmem_mib * 1024;
        info.vcpus = v.vcpus;
        info.maxvcpus = v.maxvcpus;
    }
    xml = lvxml_format_domain(cfg, &info);
    free(cfg);
done:
    release(d, &v);
    if (!xml)
        return lv_error(&c->err, LV_ERR_NO_MEMORY, "domain XML");
    xdr_put_string(&c->out, xml);
    free(xml);
    return 0;
}

static int proc_get_os_type(LvCall *c)
{
    DomView v;
    Domain *d;

    if (only_domain(c, false, &v, &d) < 0)
        return -1;
    xdr_put_string(&c->out, "xen");
    release(d, &v);
    return 0;
}

/* One int about a domain. */
static int reply_flag(LvCall *c, int which)
{
    DomView v;
    Domain *d;
    int val;

    if (only_domain(c, false, &v, &d) < 0)
        return -1;
    val = which == 0 ? v.autostart : which == 1 ? view_active(&v) : which == 2 ? v.managed :
          (int)v.maxvcpus;
    xdr_put_i32(&c->out, val);
    release(d, &v);
    return 0;
}

static int proc_get_autostart(LvCall *c) { return reply_flag(c, 0); }
static int proc_is_active(LvCall *c) { return reply_flag(c, 1); }
static int proc_is_persistent(LvCall *c) { return reply_flag(c, 2); }
static int proc_get_max_vcpus(LvCall *c) { return reply_flag(c, 3); }

/* DOMAIN_IS_UPDATED: whether the stored config has changed since the
 * running instance started. */
static int proc_is_updated(LvCall *c)
{
    DomView v;
    Domain *d;
    char *run;

    if (only_domain(c, false, &v, &d) < 0)
        return -1;
    run = running_config(&v);
    xdr_put_i32(&c->out, run && strcmp(run, v.config) != 0);
    free(run);
    release(d, &v);
    return 0;
}

static int proc_get_max_memory(LvCall *c)
{
    DomView v;
    Domain *d;

    if (only_domain(c, false, &v, &d) < 0)
        return -1;
    xdr_put_u64(&c->out, v.maxmem_mib * 1024);
    release(d, &v);
    return 0;
}

/* CURRENT (0) means LIVE for an active domain, CONFIG for an inactive one;
 * -1 when the flags ask for what the domain does not have. */
static int affect(LvCall *c, const DomView *v, unsigned *flags)
{
    if (!(*flags & (AFFECT_LIVE | AFFECT_CONFIG)))
        *flags |= view_active(v) ? AFFECT_LIVE : AFFECT_CONFIG;
    if ((*flags & AFFECT_LIVE) && !view_active(v))
        return lv_error(&c->err, LV_ERR_OPERATION_INVALID, "domain is not running");
    if ((*flags & AFFECT_CONFIG) && !v->managed)
        return lv_error(&c->err, LV_ERR_OPERATION_INVALID,
                        "transient domains do not have any persistent config");
    return 0;
}

/* DOMAIN_GET_VCPUS_FLAGS: {dom; unsigned flags} -> {int num}. */
static int proc_get_vcpus_flags(LvCall *c)
{
    LvDomRef r;
    unsigned flags;
    DomView v;
    Domain *d;
    VmConfig *cfg = NULL;
    int n;

    lv_get_domain(&c->in, &r);
    flags = xdr_get_u32(&c->in);
    if (xdr_dec_finish(&c->in, &c->err) < 0 || resolve(c, &r, false, &v, &d) < 0)
        return -1;
    if (flags & VCPU_GUEST) {
        release(d, &v);
        return lv_error(&c->err, LV_ERR_ARGUMENT_UNSUPPORTED, "the guest's own vCPU count "
                        "(--guest) is not available");
    }
    if (v.dom0 || (affect(c, &v, &flags) == 0 && (flags & AFFECT_LIVE))) {
        n = (int)(flags & VCPU_MAXIMUM ? v.maxvcpus : v.vcpus);
    } else if (c->err.code) {
        release(d, &v);
        return -1;
    } else {
        if (!(cfg = malloc(sizeof(*cfg))) || view_config(c, &v, cfg) < 0) {
            free(cfg);
            release(d, &v);
            return c->err.code ? -1 : lv_error(&c->err, LV_ERR_NO_MEMORY, "vcpus");
        }
        n = (int)(flags & VCPU_MAXIMUM && cfg->maxvcpus ? cfg->maxvcpus : cfg->vcpus);
        free(cfg);
    }
    xdr_put_i32(&c->out, n);
    release(d, &v);
    return 0;
}

/* DOMAIN_MEMORY_STATS: {dom; unsigned maxStats, flags} -> {stats<>}: the
 * balloon's actual size (tag 6, KiB). */
static int proc_memory_stats(LvCall *c)
{
    LvDomRef r;
    uint32_t max;
    DomView v;
    Domain *d;

    lv_get_domain(&c->in, &r);
    max = xdr_get_u32(&c->in);
    xdr_get_u32(&c->in);
    if (xdr_dec_finish(&c->in, &c->err) < 0 || resolve(c, &r, true, &v, &d) < 0)
        return -1;
    if (!view_active(&v)) {
        release(d, &v);
        return lv_error(&c->err, LV_ERR_OPERATION_INVALID, "domain is not running");
    }
    xdr_put_u32(&c->out, max ? 1 : 0);
    if (max) {
        xdr_put_i32(&c->out, 6);        /* VIR_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON */
        xdr_put_u64(&c->out, v.mem_mib * 1024);
    }
    release(d, &v);
    return 0;
}

/* ---- defining and creating ---- */

/* A domain XML as the config text xend stores; -1 with e set. */
static int xml_to_config(LvCall *c, const char *xml, VmConfig *cfg, char **text)
{
    LvArchs a;
    LvXmlCtx ctx = { .archs = &a, .resolve = lv_storage_resolve };
    char err[512];
    int n;

    *text = NULL;
    lv_host_archs(&a);
    if (lvxml_parse_domain(xml, strlen(xml), &ctx, cfg, &c->err) < 0)
        return -1;
    if (config_validate(cfg, err, sizeof(err)) < 0)
        return lv_error(&c->err, LV_ERR_CONFIG_UNSUPPORTED, "%s", err);
    if (!(*text = malloc(CONFIG_FORMAT_MAX)) ||
        (n = config_format(cfg, *text, CONFIG_FORMAT_MAX)) < 0) {
        free(*text);
        *text = NULL;
        return lv_error(&c->err, LV_ERR_NO_MEMORY, "domain config");
    }
    return 0;
}

/* A registered domain with this name or this uuid (referenced), or NULL. */
static Domain *find_clash(const VmConfig *cfg)
{
    char uuid[37] = "";
    Domain *d;

    if (cfg->uuid_set)
        lv_uuid_format(cfg->uuid, uuid);
    pthread_mutex_lock(&reg_lock);
    d = reg_find_name_locked(cfg->name);
    if (!d && uuid[0])
        d = find_uuid_locked(uuid);
    if (d)
        dom_get(d);
    pthread_mutex_unlock(&reg_lock);
    return d;
}

/* The new config of an existing domain d (same name and uuid): it is
 * kept as d's stored config, d becomes persistent (managed), and an
 * inactive d takes its sizes. The running instance, if any, keeps what it
 * has until it restarts. */
static int redefine(LvCall *c, Domain *d, const VmConfig *cfg, const char *text)
{
    char *copy = strdup(text);
    bool was_managed, ok;

    if (!copy)
        return lv_error(&c->err, LV_ERR_NO_MEMORY, "domain config");
    pthread_mutex_lock(&reg_lock);
    if (d->removed) {
        pthread_mutex_unlock(&reg_lock);
        free(copy);
        return lv_error(&c->err, LV_ERR_NO_DOMAIN, "domain '%s' went away", d->name);
    }
    was_managed = d->managed;
    free(d->config);
    d->config = copy;
    *d->cfg = *cfg;
    d->managed = true;
    if (!live_locked(d)) {
        d->mem_mib = cfg->memory_mib;
        d->maxmem_mib = cfg->maxmem_mib ? cfg->maxmem_mib : cfg->memory_mib;
        d->vcpus = cfg->vcpus;
        d->maxvcpus = cfg->maxvcpus ? cfg->maxvcpus : cfg->vcpus;
    }
    ok = state_save_domain(d) == 0;
    pthread_mutex_unlock(&reg_lock);
    if (!ok)
        return lv_error(&c->err, LV_ERR_OPERATION_FAILED, "cannot save the configuration of "
                        "'%s' in %s", d->name, xconf.state_dir);
    lv_event_lifecycle(d->name, d->uuid, -1, LVE_DEFINED, was_managed ? 1 : 0);
    return 0;
}

/* A definition whose name or uuid a domain has: the same domain (both
 * match) is redefined; anything else is refused. */
static int define_existing(LvCall *c, Domain *d, VmConfig *cfg, const char *text)
{
    char uuid[37] = "";

    if (cfg->uuid_set)
        lv_uuid_format(cfg->uuid, uuid);
    if (strcmp(d->name, cfg->name))
        return lv_error(&c->err, LV_ERR_OPERATION_FAILED, "domain '%s' is already defined with "
                        "uuid %s", d->name, d->uuid);
    if (uuid[0] && strcasecmp(uuid, d->uuid))
        return lv_error(&c->err, LV_ERR_OPERATION_FAILED, "domain '%s' already exists with "
                        "uuid %s", d->name, d->uuid);
    if (!cfg->uuid_set) {
        lv_uuid_parse(d->uuid, cfg->uuid);
        cfg->uuid_set = true;
        if (config_format(cfg, (char *)text, CONFIG_FORMAT_MAX) < 0)
            return lv_error(&c->err, LV_ERR_NO_MEMORY, "domain config");
    }
    return redefine(c, d, cfg, text);
}

/* DOMAIN_DEFINE_XML {string xml} and _FLAGS {string xml; unsigned flags}
 * -> {dom}. */
static int define_xml(LvCall *c, bool with_flags)
{
    const char *xml = xdr_get_string(&c->in, LV_STRING_MAX);
    VmConfig *cfg = malloc(sizeof(*cfg));
    Domain *d;
    char *text = NULL;
    json_t *body, *res = NULL;
    int r = -1;

    if (with_flags)
        xdr_get_u32(&c->in);          /* VALIDATE: the parse is strict anyway */
    if (!cfg) {
        return lv_error(&c->err, LV_ERR_NO_MEMORY, "domain config");
    }
    if (xdr_dec_finish(&c->in, &c->err) < 0 || xml_to_config(c, xml, cfg, &text) < 0)
        goto out;
    if ((d = find_clash(cfg))) {
        int id;

        r = define_existing(c, d, cfg, text);
        pthread_mutex_lock(&reg_lock);
        id = live_locked(d) ? d->id : -1;
        pthread_mutex_unlock(&reg_lock);
        if (r == 0)
            lv_put_domain(&c->out, d->name, d->uuid, id);
        dom_put(d);
        goto out;
    }
    body = json_pack("{s:s,s:b,s:b,s:s}", "config", text, "start", 0, "managed", 1, "file",
                     "domain XML");
    r = lv_rest("POST", "/v1/domains", body, &res, &c->err);
    json_decref(body);
    if (r == 0)
        put_json_domain(&c->out, res);
    json_decref(res);
out:
    free(text);
    free(cfg);
    return r;
}

static int proc_define_xml(LvCall *c) { return define_xml(c, false); }
static int proc_define_xml_flags(LvCall *c) { return define_xml(c, true); }

/* DOMAIN_CREATE_XML: {string xml_desc; unsigned flags} -> {dom}: a
 * transient domain, started (PAUSED: paused). */
static int proc_create_xml(LvCall *c)
{
    const char *xml = xdr_get_string(&c->in, LV_STRING_MAX);
    uint32_t flags = xdr_get_u32(&c->in);
    VmConfig *cfg = malloc(sizeof(*cfg));
    char *text = NULL;
    json_t *body, *res = NULL;
    int r = -1;

    if (!cfg)
        return lv_error(&c->err, LV_ERR_NO_MEMORY, "domain config");
    if (xdr_dec_finish(&c->in, &c->err) < 0)
        goto out;
    if (flags & START_AUTODESTROY) {
        lv_error(&c->err, LV_ERR_ARGUMENT_UNSUPPORTED, "AUTODESTROY: domains outlive their "
                 "clients");
        goto out;
    }
    if (xml_to_config(c, xml, cfg, &text) < 0)
        goto out;
    body = json_pack("{s:s,s:b,s:b,s:b,s:s}", "config", text, "start", 1, "managed", 0,
                     "paused", (flags & START_PAUSED) != 0, "file", "domain XML");
    r = lv_rest("POST", "/v1/domains", body, &res, &c->err);
    json_decref(body);
    if (r == 0)
        put_json_domain(&c->out, res);
    json_decref(res);
out:
    free(text);
    free(cfg);
    return r;
}

/* Discard the managed save of an inactive domain (its file, if xend's,
 * and the mark); the next start boots. */
static int drop_managed_save(LvCall *c, Domain *d)
{
    char file[PATH_MAX] = "", own[PATH_MAX];
    bool ok;

    pthread_mutex_lock(&reg_lock);
    ok = !live_locked(d) && d->pid <= 0;
    if (ok && d->state == DS_SAVED) {
        if (state_managed_save_path(own, sizeof(own), d->name) == 0 && !strcmp(own, d->save_path))
            snprintf(file, sizeof(file), "%s", d->save_path);
        d->save_path[0] = '\0';
        d->state = DS_STOPPED;
        state_set_saved(d->name, NULL);
        pthread_cond_broadcast(&reg_cond);
    }
    pthread_mutex_unlock(&reg_lock);
    if (!ok)
        return lv_error(&c->err, LV_ERR_OPERATION_INVALID, "domain '%s' is running", d->name);
    if (file[0] && unlink(file) < 0 && errno != ENOENT)
        log_warn("domain %s: cannot remove its save file %s: %s", d->name, file, strerror(errno));
    return 0;
}

static int start(LvCall *c, const DomView *v, Domain *d, unsigned flags)
{
    char path[128];
    json_t *body;
    int r;

    if (refuse_dom0(c, v) < 0)
        return -1;
    if (flags & ~(START_PAUSED | START_BYPASS_CACHE | START_FORCE_BOOT | START_VALIDATE))
        return lv_error(&c->err, LV_ERR_ARGUMENT_UNSUPPORTED, "start flags 0x%x", flags);
    if (view_active(v))
        return lv_error(&c->err, LV_ERR_OPERATION_INVALID, "domain is already running");
    if ((flags & START_FORCE_BOOT) && v->managed_save && drop_managed_save(c, d) < 0)
        return -1;
    dom_path(path, sizeof(path), v, "start");
    body = json_pack("{s:b}", "paused", (flags & START_PAUSED) != 0);
    r = lv_rest("POST", path, body, NULL, &c->err);
    json_decref(body);
    return r;
}

/* DOMAIN_CREATE {dom}: start it (no reply data). */
static int proc_create(LvCall *c)
{
    DomView v;
    Domain *d;
    int r;

    if (only_domain(c, false, &v, &d) < 0)
        return -1;
    r = start(c, &v, d, 0);
    release(d, &v);
    return r;
}

/* The domain as it is now (after a start: its id). */
static void put_current(LvCall *c, Domain *d, const DomView *v)
{
    pthread_mutex_lock(&reg_lock);
    lv_put_domain(&c->out, v->name, v->uuid, d && live_locked(d) ? d->id : -1);
    pthread_mutex_unlock(&reg_lock);
}

/* DOMAIN_CREATE_WITH_FLAGS {dom; unsigned flags} -> {dom}. */
static int proc_create_with_flags(LvCall *c)
{
    LvDomRef r;
    uint32_t flags;
    DomView v;
    Domain *d;
    int rc;

    lv_get_domain(&c->in, &r);
    flags = xdr_get_u32(&c->in);
    if (xdr_dec_finish(&c->in, &c->err) < 0 || resolve(c, &r, false, &v, &d) < 0)
        return -1;
    rc = start(c, &v, d, flags);
    if (rc == 0)
        put_current(c, d, &v);
    release(d, &v);
    return rc;
}

/* ---- undefining ---- */

/* A running persistent domain becomes transient: its stored config goes,
 * it is forgotten when it stops. */
static int make_transient(LvCall *c, Domain *d)
{
    bool ok;

    pthread_mutex_lock(&reg_lock);
    ok = d->managed && live_locked(d);
    if (ok) {
        d->managed = false;
        d->autostart = false;
        state_delete_domain(d->name);
    }
    pthread_mutex_unlock(&reg_lock);
    if (!ok)
        return lv_error(&c->err, LV_ERR_OPERATION_INVALID, "domain '%s' changed state", d->name);
    lv_event_lifecycle(d->name, d->uuid, -1, LVE_UNDEFINED, 0);
    return 0;
}

static int undefine(LvCall *c, unsigned flags)
{
    LvDomRef r;
    DomView v;
    Domain *d;
    char path[128];
    int rc = -1;

    lv_get_domain(&c->in, &r);
    if (flags == ~0u)
        flags = 0;
    else
        flags = xdr_get_u32(&c->in);
    if (xdr_dec_finish(&c->in, &c->err) < 0 || resolve(c, &r, false, &v, &d) < 0)
        return -1;
    if (refuse_dom0(c, &v) < 0)
        goto out;
    if (flags & ~UNDEFINE_KNOWN) {
        lv_error(&c->err, LV_ERR_ARGUMENT_UNSUPPORTED, "undefine flags 0x%x", flags);
        goto out;
    }
    if (!v.managed) {
        lv_error(&c->err, LV_ERR_OPERATION_INVALID, "cannot undefine transient domain");
        goto out;
    }
    if (v.managed_save && !(flags & UNDEFINE_MANAGED_SAVE)) {
        lv_error(&c->err, LV_ERR_OPERATION_INVALID, "Refusing to undefine while domain managed "
                 "save image exists");
        goto out;
    }
    if (view_active(&v)) {
        rc = make_transient(c, d);
        goto out;
    }
    dom_path(path, sizeof(path), &v, NULL);
    rc = lv_rest("DELETE", path, NULL, NULL, &c->err);
out:
    release(d, &v);
    return rc;
}

static int proc_undefine(LvCall *c) { return undefine(c, ~0u); }
static int proc_undefine_flags(LvCall *c) { return undefine(c, 0); }

/* ---- lifecycle ---- */

/* An action on a domain through REST: POST domains/UUID/ACTION. */
static int act_on(LvCall *c, const LvDomRef *r, const char *action, bool want_active)
{
    DomView v;
    Domain *d;
    char path[128];
    int rc = -1;

    if (resolve(c, r, false, &v, &d) < 0)
        return -1;
    if (refuse_dom0(c, &v) < 0)
        goto out;
    if (want_active && !view_active(&v)) {
        lv_error(&c->err, LV_ERR_OPERATION_INVALID, "domain is not running");
        goto out;
    }
    if (!strcmp(action, "destroy"))
        lv_events_note_destroy(v.uuid);
    dom_path(path, sizeof(path), &v, action);
    rc = lv_rest("POST", path, NULL, NULL, &c->err);
out:
    release(d, &v);
    return rc;
}

/* {dom} alone, then the action. */
static int act(LvCall *c, const char *action, bool want_active)
{
    LvDomRef r;

    lv_get_domain(&c->in, &r);
    if (xdr_dec_finish(&c->in, &c->err) < 0)
        return -1;
    return act_on(c, &r, action, want_active);
}

static int proc_suspend(LvCall *c) { return act(c, "pause", true); }
static int proc_resume(LvCall *c) { return act(c, "unpause", true); }
static int proc_shutdown(LvCall *c) { return act(c, "shutdown", true); }
static int proc_destroy(LvCall *c) { return act(c, "destroy", false); }

/* The flags of shutdown and reboot: the guest agent is Xeno's one way. */
static int agent_flags(LvCall *c, uint32_t flags)
{
    if (flags && !(flags & (SHUTDOWN_AGENT | SHUTDOWN_PARAVIRT)))
        return lv_error(&c->err, LV_ERR_ARGUMENT_UNSUPPORTED, "Xeno asks the guest agent "
                        "(--mode agent or paravirt), flags 0x%x", flags);
    return 0;
}

static int destroy_flags_ok(LvCall *c, uint32_t flags)
{
    if (flags & ~DESTROY_KNOWN)
        return lv_error(&c->err, LV_ERR_ARGUMENT_UNSUPPORTED, "destroy flags 0x%x", flags);
    return 0;
}

/* {dom; unsigned flags}, the flags checked, then the action. */
static int act_flags(LvCall *c, const char *action, int (*check)(LvCall *, uint32_t))
{
    LvDomRef r;
    uint32_t flags;

    lv_get_domain(&c->in, &r);
    flags = xdr_get_u32(&c->in);
    if (xdr_dec_finish(&c->in, &c->err) < 0 || check(c, flags) < 0)
        return -1;
    return act_on(c, &r, action, strcmp(action, "destroy") != 0);
}

static int proc_shutdown_flags(LvCall *c) { return act_flags(c, "shutdown", agent_flags); }
static int proc_reboot(LvCall *c) { return act_flags(c, "reboot", agent_flags); }
static int proc_destroy_flags(LvCall *c) { return act_flags(c, "destroy", destroy_flags_ok); }

/* DOMAIN_SET_AUTOSTART {dom; int autostart}. */
static int proc_set_autostart(LvCall *c)
{
    LvDomRef r;
    int on;
    DomView v;
    Domain *d;
    char path[128];
    json_t *body;
    int rc = -1;

    lv_get_domain(&c->in, &r);
    on = xdr_get_i32(&c->in);
    if (xdr_dec_finish(&c->in, &c->err) < 0 || resolve(c, &r, false, &v, &d) < 0)
        return -1;
    if (refuse_dom0(c, &v) < 0)
        goto out;
    if (!v.managed) {
        lv_error(&c->err, LV_ERR_OPERATION_INVALID, "cannot set autostart for transient domain");
        goto out;
    }
    dom_path(path, sizeof(path), &v, "autostart");
    body = json_pack("{s:b}", "autostart", on != 0);
    rc = lv_rest("POST", path, body, NULL, &c->err);
    json_decref(body);
out:
    release(d, &v);
    return rc;
}

/* ---- memory and vCPUs ---- */

/* A change of the stored config of a persistent domain: fn edits it. */
static int edit_config(LvCall *c, const DomView *v, Domain *d, uint64_t value,
                       int (*fn)(LvCall *, VmConfig *, uint64_t))
{
    VmConfig *cfg = malloc(sizeof(*cfg));
    char *text = malloc(CONFIG_FORMAT_MAX);
    char err[512];
    int r = -1;

    if (!cfg || !text) {
        lv_error(&c->err, LV_ERR_NO_MEMORY, "domain config");
        goto out;
    }
    if (view_config(c, v, cfg) < 0 || fn(c, cfg, value) < 0)
        goto out;
    if (config_validate(cfg, err, sizeof(err)) < 0) {
        lv_error(&c->err, LV_ERR_INVALID_ARG, "%s", err);
        goto out;
    }
    if (!cfg->uuid_set) {
        lv_uuid_parse(v->uuid, cfg->uuid);
        cfg->uuid_set = true;
    }
    if (config_format(cfg, text, CONFIG_FORMAT_MAX) < 0) {
        lv_error(&c->err, LV_ERR_NO_MEMORY, "domain config");
        goto out;
    }
    r = redefine(c, d, cfg, text);
out:
    free(cfg);
    free(text);
    return r;
}

static int cfg_set_mem(LvCall *c, VmConfig *cfg, uint64_t mib)
{
    uint64_t max = cfg->maxmem_mib ? cfg->maxmem_mib : cfg->memory_mib;

    if (mib > max)
        return lv_error(&c->err, LV_ERR_INVALID_ARG, "cannot set memory higher than max memory");
    cfg->memory_mib = mib;
    cfg->maxmem_mib = max > mib ? max : 0;
    return 0;
}

static int cfg_set_maxmem(LvCall *c, VmConfig *cfg, uint64_t mib)
{
    (void)c;
    if (cfg->memory_mib > mib)
        cfg->memory_mib = mib;
    cfg->maxmem_mib = mib > cfg->memory_mib ? mib : 0;
    return 0;
}

static int cfg_set_vcpus(LvCall *c, VmConfig *cfg, uint64_t n)
{
    unsigned max = cfg->maxvcpus ? cfg->maxvcpus : cfg->vcpus;

    if (n > max)
        return lv_error(&c->err, LV_ERR_INVALID_ARG, "requested vcpus is greater than max "
                        "allowable vcpus for the persistent domain: %llu > %u",
                        (unsigned long long)n, max);
    cfg->vcpus = (unsigned)n;
    cfg->maxvcpus = max > n ? max : 0;
    return 0;
}

static int cfg_set_maxvcpus(LvCall *c, VmConfig *cfg, uint64_t n)
{
    (void)c;
    if (cfg->vcpus > n)
        cfg->vcpus = (unsigned)n;
    cfg->maxvcpus = n > cfg->vcpus ? (unsigned)n : 0;
    return 0;
}

/* Memory in KiB to MiB (rounded up: the balloon works in MiB). */
static uint64_t kib_to_mib(uint64_t kib) { return kib / 1024 + (kib % 1024 != 0); }


/* The memory of a domain, KiB: live through REST (the balloon target, or
 * the limit), config in its stored config. */
static int set_memory_on(LvCall *c, const LvDomRef *r, uint64_t kib, unsigned flags)
{
    bool maximum = flags & MEM_MAXIMUM;
    uint64_t mib = kib_to_mib(kib);
    DomView v;
    Domain *d;
    char path[128];
    json_t *body;
    int rc = -1;

    if (resolve(c, r, false, &v, &d) < 0)
        return -1;
    if (refuse_dom0(c, &v) < 0 || affect(c, &v, &flags) < 0)
        goto out;
    if (!mib) {
        lv_error(&c->err, LV_ERR_INVALID_ARG, "memory must be at least 1 MiB");
        goto out;
    }
    if (flags & AFFECT_LIVE) {
        dom_path(path, sizeof(path), &v, "mem");
        body = json_pack("{s:I}", maximum ? "max_mib" : "target_mib", (json_int_t)mib);
        rc = lv_rest("POST", path, body, NULL, &c->err);
        json_decref(body);
        /* A managed domain's limit is kept in its config by xend itself. */
        if (rc < 0 || maximum)
            goto out;
    }
    if (flags & AFFECT_CONFIG) {
        view_free(&v);
        pthread_mutex_lock(&reg_lock);
        view_locked(d, &v);
        pthread_mutex_unlock(&reg_lock);
        rc = edit_config(c, &v, d, mib, maximum ? cfg_set_maxmem : cfg_set_mem);
    }
out:
    release(d, &v);
    return rc;
}

/* DOMAIN_SET_MEMORY {dom; hyper memory}: the balloon of a running domain. */
static int proc_set_memory(LvCall *c)
{
    LvDomRef r;
    uint64_t kib;

    lv_get_domain(&c->in, &r);
    kib = xdr_get_u64(&c->in);
    if (xdr_dec_finish(&c->in, &c->err) < 0)
        return -1;
    return set_memory_on(c, &r, kib, AFFECT_LIVE);
}

/* DOMAIN_SET_MAX_MEMORY {dom; hyper memory}. */
static int proc_set_max_memory(LvCall *c)
{
    LvDomRef r;
    uint64_t kib;

    lv_get_domain(&c->in, &r);
    kib = xdr_get_u64(&c->in);
    if (xdr_dec_finish(&c->in, &c->err) < 0)
        return -1;
    return set_memory_on(c, &r, kib, MEM_MAXIMUM);
}

/* DOMAIN_SET_MEMORY_FLAGS {dom; hyper memory; unsigned flags}. */
static int proc_set_memory_flags(LvCall *c)
{
    LvDomRef r;
    uint64_t kib;
    uint32_t flags;

    lv_get_domain(&c->in, &r);
    kib = xdr_get_u64(&c->in);
    flags = xdr_get_u32(&c->in);
    if (xdr_dec_finish(&c->in, &c->err) < 0)
        return -1;
    if (flags & ~(AFFECT_LIVE | AFFECT_CONFIG | MEM_MAXIMUM))
        return lv_error(&c->err, LV_ERR_ARGUMENT_UNSUPPORTED, "memory flags 0x%x", flags);
    return set_memory_on(c, &r, kib, flags);
}

/* The vCPUs of a domain: live through REST (the guest agent onlines or
 * offlines them), config in its stored config. */
static int set_vcpus_on(LvCall *c, const LvDomRef *r, uint32_t n, unsigned flags)
{
    DomView v;
    Domain *d;
    char path[128];
    json_t *body;
    int rc = -1;

    if (flags & VCPU_GUEST)
        return lv_error(&c->err, LV_ERR_ARGUMENT_UNSUPPORTED, "the guest's own vCPU count "
                        "(--guest) cannot be set");
    if (flags & ~(AFFECT_LIVE | AFFECT_CONFIG | VCPU_MAXIMUM | VCPU_HOTPLUGGABLE))
        return lv_error(&c->err, LV_ERR_ARGUMENT_UNSUPPORTED, "vcpu flags 0x%x", flags);
    if (!n)
        return lv_error(&c->err, LV_ERR_INVALID_ARG, "argument unsupported: zero vcpus");
    if (resolve(c, r, false, &v, &d) < 0)
        return -1;
    if (refuse_dom0(c, &v) < 0 || affect(c, &v, &flags) < 0)
        goto out;
    if ((flags & VCPU_MAXIMUM) && (flags & AFFECT_LIVE)) {
        lv_error(&c->err, LV_ERR_INVALID_ARG, "cannot change the maximum vcpus of a running "
                 "domain");
        goto out;
    }
    rc = 0;
    if (flags & AFFECT_LIVE) {
        dom_path(path, sizeof(path), &v, "vcpus");
        body = json_pack("{s:I}", "count", (json_int_t)n);
        rc = lv_rest("POST", path, body, NULL, &c->err);
        json_decref(body);
    }
    if (rc == 0 && (flags & AFFECT_CONFIG))
        rc = edit_config(c, &v, d, n, flags & VCPU_MAXIMUM ? cfg_set_maxvcpus : cfg_set_vcpus);
out:
    release(d, &v);
    return rc;
}

/* DOMAIN_SET_VCPUS {dom; unsigned nvcpus}. */
static int proc_set_vcpus(LvCall *c)
{
    LvDomRef r;
    uint32_t n;

    lv_get_domain(&c->in, &r);
    n = xdr_get_u32(&c->in);
    if (xdr_dec_finish(&c->in, &c->err) < 0)
        return -1;
    return set_vcpus_on(c, &r, n, AFFECT_LIVE);
}

/* DOMAIN_SET_VCPUS_FLAGS {dom; unsigned nvcpus, flags}. */
static int proc_set_vcpus_flags(LvCall *c)
{
    LvDomRef r;
    uint32_t n, flags;

    lv_get_domain(&c->in, &r);
    n = xdr_get_u32(&c->in);
    flags = xdr_get_u32(&c->in);
    if (xdr_dec_finish(&c->in, &c->err) < 0)
        return -1;
    return set_vcpus_on(c, &r, n, flags);
}

/* ---- managed save ---- */

/* DOMAIN_MANAGED_SAVE {dom; unsigned flags}: xend's managed save. */
static int proc_managed_save(LvCall *c)
{
    LvDomRef r;
    uint32_t flags;

    lv_get_domain(&c->in, &r);
    flags = xdr_get_u32(&c->in);
    if (xdr_dec_finish(&c->in, &c->err) < 0)
        return -1;
    if (flags & ~SAVE_KNOWN)
        return lv_error(&c->err, LV_ERR_ARGUMENT_UNSUPPORTED, "managed save flags 0x%x", flags);
    return act_on(c, &r, "managedsave", true);
}

/* DOMAIN_HAS_MANAGED_SAVE_IMAGE {dom; unsigned flags} -> {int result}. */
static int proc_has_managed_save(LvCall *c)
{
    LvDomRef r;
    DomView v;
    Domain *d;

    lv_get_domain(&c->in, &r);
    xdr_get_u32(&c->in);
    if (xdr_dec_finish(&c->in, &c->err) < 0 || resolve(c, &r, false, &v, &d) < 0)
        return -1;
    xdr_put_i32(&c->out, v.managed_save);
    release(d, &v);
    return 0;
}

/* DOMAIN_MANAGED_SAVE_REMOVE {dom; unsigned flags}. */
static int proc_managed_save_remove(LvCall *c)
{
    LvDomRef r;
    DomView v;
    Domain *d;
    int rc = 0;

    lv_get_domain(&c->in, &r);
    xdr_get_u32(&c->in);
    if (xdr_dec_finish(&c->in, &c->err) < 0 || resolve(c, &r, false, &v, &d) < 0)
        return -1;
    if (refuse_dom0(c, &v) < 0)
        rc = -1;
    else if (v.managed_save)
        rc = drop_managed_save(c, d);
    release(d, &v);
    return rc;
}

/* ---- save and restore to a file ---- */

#define SAVE_BYPASS_CACHE 1u
#define SAVE_RUNNING      2u
#define SAVE_PAUSED       4u

/* Save (flags, dxml) to an absolute file: xend's save (xm save); the
 * domain stops. libvirt's client makes the path absolute. */
static int save_to(LvCall *c, const LvDomRef *r, const char *to, const char *dxml,
                   uint32_t flags)
{
    DomView v;
    Domain *d;
    char path[128];
    json_t *body;
    int rc = -1;

    if (dxml)
        return lv_error(&c->err, LV_ERR_ARGUMENT_UNSUPPORTED, "a changed XML for the saved "
                        "domain: xend saves the domain as it is");
    if (flags & ~(SAVE_BYPASS_CACHE | SAVE_RUNNING))
        return lv_error(&c->err, LV_ERR_ARGUMENT_UNSUPPORTED, "save flags 0x%x: a Xeno save "
                        "file restores running (restore --paused pauses it)", flags);
    if (to[0] != '/')
        return lv_error(&c->err, LV_ERR_INVALID_ARG, "the save file '%s' is not an absolute "
                        "path", to);
    if (resolve(c, r, false, &v, &d) < 0)
        return -1;
    if (refuse_dom0(c, &v) == 0) {
        dom_path(path, sizeof(path), &v, "save");
        body = json_pack("{s:s}", "path", to);
        rc = lv_rest("POST", path, body, NULL, &c->err);
        json_decref(body);
    }
    release(d, &v);
    return rc;
}

/* DOMAIN_SAVE {dom; string to}. */
static int proc_save(LvCall *c)
{
    LvDomRef r;
    const char *to;

    lv_get_domain(&c->in, &r);
    to = xdr_get_string(&c->in, LV_STRING_MAX);
    if (xdr_dec_finish(&c->in, &c->err) < 0)
        return -1;
    return save_to(c, &r, to, NULL, 0);
}

/* DOMAIN_SAVE_FLAGS {dom; string to; remote_string dxml; unsigned flags}. */
static int proc_save_flags(LvCall *c)
{
    LvDomRef r;
    const char *to, *dxml;
    uint32_t flags;

    lv_get_domain(&c->in, &r);
    to = xdr_get_string(&c->in, LV_STRING_MAX);
    dxml = xdr_get_opt_string(&c->in, LV_STRING_MAX);
    flags = xdr_get_u32(&c->in);
    if (xdr_dec_finish(&c->in, &c->err) < 0)
        return -1;
    return save_to(c, &r, to, dxml, flags);
}

/* Restore from a save file: xend's restore (xm restore). */
static int restore_from(LvCall *c, const char *from, const char *dxml, uint32_t flags)
{
    json_t *body;
    int rc;

    if (dxml)
        return lv_error(&c->err, LV_ERR_ARGUMENT_UNSUPPORTED, "a changed XML for the restored "
                        "domain: it comes back as it was saved");
    if (flags & ~(SAVE_BYPASS_CACHE | SAVE_RUNNING | SAVE_PAUSED))
        return lv_error(&c->err, LV_ERR_ARGUMENT_UNSUPPORTED, "restore flags 0x%x", flags);
    if (from[0] != '/')
        return lv_error(&c->err, LV_ERR_INVALID_ARG, "the save file '%s' is not an absolute "
                        "path", from);
    body = json_pack("{s:s,s:b}", "path", from, "paused", (flags & SAVE_PAUSED) != 0);
    rc = lv_rest("POST", "/v1/restore", body, NULL, &c->err);
    json_decref(body);
    return rc;
}

/* DOMAIN_RESTORE {string from}. */
static int proc_restore(LvCall *c)
{
    const char *from = xdr_get_string(&c->in, LV_STRING_MAX);

    if (xdr_dec_finish(&c->in, &c->err) < 0)
        return -1;
    return restore_from(c, from, NULL, 0);
}

/* DOMAIN_RESTORE_FLAGS {string from; remote_string dxml; unsigned flags}. */
static int proc_restore_flags(LvCall *c)
{
    const char *from = xdr_get_string(&c->in, LV_STRING_MAX);
    const char *dxml = xdr_get_opt_string(&c->in, LV_STRING_MAX);
    uint32_t flags = xdr_get_u32(&c->in);

    if (xdr_dec_finish(&c->in, &c->err) < 0)
        return -1;
    return restore_from(c, from, dxml, flags);
}

/* ---- statistics ---- */

enum { STATS_STATE = 1, STATS_CPU_TOTAL = 2, STATS_BALLOON = 4, STATS_VCPU = 8,
       STATS_BLOCK = 32 };
#define STATS_SUPPORTED (STATS_STATE | STATS_CPU_TOTAL | STATS_BALLOON | STATS_VCPU | STATS_BLOCK)
#define STATS_ENFORCE   (1u << 31)
#define STATS_FILTERS   0xffu          /* the list filters (LIST_ACTIVE...) */
#define DOM_REF_MIN     24u            /* a remote_nonnull_domain: length, uuid, id */

/* The block devices' parameters of a domain: name, path, sizes. */
static unsigned block_params(XdrBuf *p, const DomView *v)
{
    VmConfig *cfg = malloc(sizeof(*cfg));
    char err[256], key[64];
    unsigned n = 0;

    config_init(cfg ? cfg : &(VmConfig){ 0 });
    if (!cfg || !v->config ||
        config_parse(cfg, v->name, v->config, strlen(v->config), NULL, NULL, err, sizeof(err)) < 0) {
        free(cfg);
        return 0;
    }
    lv_put_tp_uint(p, "block.count", cfg->ndisks);
    n++;
    for (unsigned i = 0; i < cfg->ndisks; i++) {
        struct stat st;

        snprintf(key, sizeof(key), "block.%u.name", i);
        lv_put_tp_string(p, key, cfg->disk[i].vdev);
        snprintf(key, sizeof(key), "block.%u.path", i);
        lv_put_tp_string(p, key, cfg->disk[i].path);
        n += 2;
        if (stat(cfg->disk[i].path, &st) == 0) {
            snprintf(key, sizeof(key), "block.%u.capacity", i);
            lv_put_tp_ullong(p, key, (uint64_t)st.st_size);
            snprintf(key, sizeof(key), "block.%u.allocation", i);
            lv_put_tp_ullong(p, key, (uint64_t)st.st_blocks * 512);
            snprintf(key, sizeof(key), "block.%u.physical", i);
            lv_put_tp_ullong(p, key, (uint64_t)st.st_size);
            n += 3;
        }
    }
    free(cfg);
    return n;
}

/* One remote_domain_stats_record. */
static void stats_record(XdrBuf *out, const DomView *v, unsigned stats)
{
    XdrBuf p;
    unsigned n = 0;
    int reason, st = view_state(v, &reason);
    char key[64];

    xdr_buf_init(&p, out->max);
    if (stats & STATS_STATE) {
        lv_put_tp_int(&p, "state.state", st);
        lv_put_tp_int(&p, "state.reason", reason);
        n += 2;
    }
    if ((stats & STATS_CPU_TOTAL) && view_active(v)) {
        lv_put_tp_ullong(&p, "cpu.time", v->cpu_ns);
        n++;
    }
    if (stats & STATS_BALLOON) {
        lv_put_tp_ullong(&p, "balloon.current", v->mem_mib * 1024);
        lv_put_tp_ullong(&p, "balloon.maximum", v->maxmem_mib * 1024);
        n += 2;
    }
    if (stats & STATS_VCPU) {
        lv_put_tp_uint(&p, "vcpu.current", v->vcpus);
        lv_put_tp_uint(&p, "vcpu.maximum", v->maxvcpus);
        n += 2;
        for (unsigned i = 0; view_active(v) && i < v->vcpus; i++) {
            snprintf(key, sizeof(key), "vcpu.%u.state", i);
            lv_put_tp_int(&p, key, 1);          /* VIR_VCPU_RUNNING */
            n++;
        }
    }
    if ((stats & STATS_BLOCK) && !v->dom0)
        n += block_params(&p, v);
    put_view(out, v);
    xdr_put_u32(out, n);
    if (p.err)
        out->err = true;
    else
        xdr_put_fixed(out, p.p, p.len);
    xdr_buf_free(&p);
}

/* Refresh the statistics of every running domain (a VMM query each). */
static void sample_all(void)
{
    Domain **all;
    size_t n;

    pthread_mutex_lock(&reg_lock);
    n = reg_snapshot_locked(&all);
    pthread_mutex_unlock(&reg_lock);
    for (size_t i = 0; i < n; i++) {
        sup_sample(all[i]);
        dom_put(all[i]);
    }
    free(all);
}

/* The statistics of the domains a call names. */
static int stats_of_refs(LvCall *c, const LvDomRef *refs, uint32_t n, unsigned stats)
{
    xdr_put_u32(&c->out, n);
    for (uint32_t i = 0; i < n; i++) {
        DomView v;
        Domain *d;

        if (resolve(c, &refs[i], true, &v, &d) < 0)
            return -1;
        stats_record(&c->out, &v, stats);
        release(d, &v);
    }
    return 0;
}

/* CONNECT_GET_ALL_DOMAIN_STATS: {remote_nonnull_domain doms<>; unsigned
 * stats, flags} -> {remote_domain_stats_record retStats<>}. */
static int proc_all_stats(LvCall *c)
{
    uint32_t n = xdr_get_count(&c->in, LV_DOMAIN_LIST_MAX, DOM_REF_MIN), stats, flags, k = 0;
    LvDomRef *refs = calloc(n ? n : 1, sizeof(*refs));
    DomView *v;
    size_t nv;
    int rc = -1;

    if (!refs)
        return lv_error(&c->err, LV_ERR_NO_MEMORY, "domain list");
    for (uint32_t i = 0; i < n; i++)
        lv_get_domain(&c->in, &refs[i]);
    stats = xdr_get_u32(&c->in);
    flags = xdr_get_u32(&c->in);
    if (xdr_dec_finish(&c->in, &c->err) < 0)
        goto out;
    if ((flags & STATS_ENFORCE) && (stats & ~STATS_SUPPORTED)) {
        lv_error(&c->err, LV_ERR_ARGUMENT_UNSUPPORTED, "Stats types bits 0x%x are not supported "
                 "by this daemon", stats & ~STATS_SUPPORTED);
        goto out;
    }
    stats = stats ? stats & STATS_SUPPORTED : STATS_SUPPORTED;
    if (n) {
        rc = stats_of_refs(c, refs, n, stats);
        goto out;
    }
    sample_all();
    if (!(v = all_views(&nv))) {
        lv_error(&c->err, LV_ERR_NO_MEMORY, "domain list");
        goto out;
    }
    for (size_t i = 0; i < nv; i++)
        k += list_match(&v[i], flags & STATS_FILTERS);
    xdr_put_u32(&c->out, k);
    for (size_t i = 0; i < nv; i++)
        if (list_match(&v[i], flags & STATS_FILTERS))
            stats_record(&c->out, &v[i], stats);
    views_free(v, nv);
    rc = 0;
out:
    free(refs);
    return rc;
}

#define RO LVF_RO
const LvProc lv_domain_procs[] = {
    { LVP_DOMAIN_LOOKUP_BY_NAME,         proc_lookup_by_name,      RO },
    { LVP_DOMAIN_LOOKUP_BY_UUID,         proc_lookup_by_uuid,      RO },
    { LVP_DOMAIN_LOOKUP_BY_ID,           proc_lookup_by_id,        RO },
    { LVP_CONNECT_LIST_ALL_DOMAINS,      proc_list_all,            RO },
    { LVP_CONNECT_LIST_DOMAINS,          proc_list_domains,        RO },
    { LVP_CONNECT_NUM_OF_DOMAINS,        proc_num_domains,         RO },
    { LVP_CONNECT_LIST_DEFINED_DOMAINS,  proc_list_defined,        RO },
    { LVP_CONNECT_NUM_OF_DEFINED_DOMAINS, proc_num_defined,        RO },
    { LVP_DOMAIN_GET_INFO,               proc_get_info,            RO },
    { LVP_DOMAIN_GET_STATE,              proc_get_state,           RO },
    { LVP_DOMAIN_GET_CONTROL_INFO,       proc_get_control_info,    RO },
    { LVP_DOMAIN_GET_XML_DESC,           proc_get_xml,             RO },
    { LVP_DOMAIN_GET_OS_TYPE,            proc_get_os_type,         RO },
    { LVP_DOMAIN_GET_AUTOSTART,          proc_get_autostart,       RO },
    { LVP_DOMAIN_IS_ACTIVE,              proc_is_active,           RO },
    { LVP_DOMAIN_IS_PERSISTENT,          proc_is_persistent,       RO },
    { LVP_DOMAIN_IS_UPDATED,             proc_is_updated,          RO },
    { LVP_DOMAIN_GET_MAX_MEMORY,         proc_get_max_memory,      RO },
    { LVP_DOMAIN_GET_MAX_VCPUS,          proc_get_max_vcpus,       RO },
    { LVP_DOMAIN_GET_VCPUS_FLAGS,        proc_get_vcpus_flags,     RO },
    { LVP_DOMAIN_MEMORY_STATS,           proc_memory_stats,        RO },
    { LVP_DOMAIN_HAS_MANAGED_SAVE_IMAGE, proc_has_managed_save,    RO },
    { LVP_CONNECT_GET_ALL_DOMAIN_STATS,  proc_all_stats,           RO },
    { LVP_DOMAIN_DEFINE_XML,             proc_define_xml,          0 },
    { LVP_DOMAIN_DEFINE_XML_FLAGS,       proc_define_xml_flags,    0 },
    { LVP_DOMAIN_UNDEFINE,               proc_undefine,            0 },
    { LVP_DOMAIN_UNDEFINE_FLAGS,         proc_undefine_flags,      0 },
    { LVP_DOMAIN_CREATE,                 proc_create,              0 },
    { LVP_DOMAIN_CREATE_WITH_FLAGS,      proc_create_with_flags,   0 },
    { LVP_DOMAIN_CREATE_XML,             proc_create_xml,          0 },
    { LVP_DOMAIN_SHUTDOWN,               proc_shutdown,            0 },
    { LVP_DOMAIN_SHUTDOWN_FLAGS,         proc_shutdown_flags,      0 },
    { LVP_DOMAIN_REBOOT,                 proc_reboot,              0 },
    { LVP_DOMAIN_DESTROY,                proc_destroy,             0 },
    { LVP_DOMAIN_DESTROY_FLAGS,          proc_destroy_flags,       0 },
    { LVP_DOMAIN_SUSPEND,                proc_suspend,             0 },
    { LVP_DOMAIN_RESUME,                 proc_resume,              0 },
    { LVP_DOMAIN_SET_AUTOSTART,          proc_set_autostart,       0 },
    { LVP_DOMAIN_SET_MEMORY,             proc_set_memory,          0 },
    { LVP_DOMAIN_SET_MAX_MEMORY,         proc_set_max_memory,      0 },
    { LVP_DOMAIN_SET_MEMORY_FLAGS,       proc_set_memory_flags,    0 },
    { LVP_DOMAIN_SET_VCPUS,              proc_set_vcpus,           0 },
    { LVP_DOMAIN_SET_VCPUS_FLAGS,        proc_set_vcpus_flags,     0 },
    { LVP_DOMAIN_MANAGED_SAVE,           proc_managed_save,        0 },
    { LVP_DOMAIN_MANAGED_SAVE_REMOVE,    proc_managed_save_remove, 0 },
    { LVP_DOMAIN_SAVE,                   proc_save,                0 },
    { LVP_DOMAIN_SAVE_FLAGS,             proc_save_flags,          0 },
    { LVP_DOMAIN_RESTORE,                proc_restore,             0 },
    { LVP_DOMAIN_RESTORE_FLAGS,          proc_restore_flags,       0 },
};
#undef RO
const size_t lv_domain_nprocs = sizeof(lv_domain_procs) / sizeof(lv_domain_procs[0]);
