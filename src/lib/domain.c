/* libxeno: domains (lookup, lifecycle, resources). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char *const state_names[] = {
    [XENO_STATE_UNKNOWN] = "unknown",   [XENO_STATE_RUNNING] = "running",
    [XENO_STATE_BLOCKED] = "blocked",   [XENO_STATE_PAUSED] = "paused",
    [XENO_STATE_SHUTDOWN] = "shutdown", [XENO_STATE_CRASHED] = "crashed",
    [XENO_STATE_DYING] = "dying",       [XENO_STATE_STOPPED] = "stopped",
    [XENO_STATE_SAVED] = "saved",       [XENO_STATE_INCOMING] = "incoming",
    [XENO_STATE_UNRESPONSIVE] = "unresponsive",
};

const char *xeno_domain_state_name(xeno_domain_state s)
{
    if ((unsigned)s >= sizeof(state_names) / sizeof(state_names[0]))
        return "unknown";
    return state_names[s];
}

static xeno_domain_state xeno_state_from_name(const char *s)
{
    if (!s)
        return XENO_STATE_UNKNOWN;
    for (unsigned i = 1; i < sizeof(state_names) / sizeof(state_names[0]); i++)
        if (strcmp(s, state_names[i]) == 0)
            return (xeno_domain_state)i;
    return XENO_STATE_UNKNOWN;
}

static void copy_str(char *dst, size_t n, json_t *v)
{
    const char *s = json_string_value(v);
    snprintf(dst, n, "%s", s ? s : "");
}

static uint64_t get_u64(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (json_is_integer(v) && json_integer_value(v) >= 0)
        return (uint64_t)json_integer_value(v);
    if (json_is_real(v) && json_real_value(v) >= 0 && json_real_value(v) < 1.8e19)
        return (uint64_t)json_real_value(v);
    return 0;
}

static double get_double(json_t *o, const char *key, double dflt)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : dflt;
}

/* Refresh d from a `domain` object (protocols.md §2). */
static int xeno_domain_update(xeno_domain *d, json_t *o)
{
    const char *name = json_string_value(json_object_get(o, "name"));
    if (!json_is_object(o) || !name || !*name || strlen(name) > 255)
        return xeno_set_error(d->conn, XENO_ERR_PROTOCOL, "xend sent a domain without a valid name");
    if (!d->name || strcmp(d->name, name) != 0) {
        char *n = strdup(name);
        if (!n)
            return xeno_set_error(d->conn, XENO_ERR_NO_MEMORY, "out of memory");
        free(d->name);
        d->name = n;
    }
    copy_str(d->uuid, sizeof(d->uuid), json_object_get(o, "uuid"));

    xeno_domain_info *i = &d->info;
    memset(i, 0, sizeof(*i));
    json_t *id = json_object_get(o, "id");
    i->id = json_is_integer(id) && json_integer_value(id) >= 0 &&
            json_integer_value(id) <= 0x7fffffff ? (int)json_integer_value(id) : -1;
    i->state = xeno_state_from_name(json_string_value(json_object_get(o, "state")));
    i->mem_mib = get_u64(o, "mem_mib");
    i->maxmem_mib = get_u64(o, "maxmem_mib");
    uint64_t v = get_u64(o, "vcpus");
    i->vcpus = v > 4096 ? 4096 : (unsigned)v;
    i->cpu_time_s = get_double(o, "cpu_time_s", 0);
    if (i->cpu_time_s < 0)
        i->cpu_time_s = 0;
    i->uptime_s = get_double(o, "uptime_s", -1);
    i->managed = json_is_true(json_object_get(o, "managed"));
    i->autostart = json_is_true(json_object_get(o, "autostart"));
    copy_str(i->on_poweroff, sizeof(i->on_poweroff), json_object_get(o, "on_poweroff"));
    copy_str(i->on_reboot, sizeof(i->on_reboot), json_object_get(o, "on_reboot"));
    copy_str(i->on_crash, sizeof(i->on_crash), json_object_get(o, "on_crash"));

    const char *cfg = json_string_value(json_object_get(o, "config"));
    char *nc = strdup(cfg ? cfg : "");
    if (!nc)
        return xeno_set_error(d->conn, XENO_ERR_NO_MEMORY, "out of memory");
    free(d->config);
    d->config = nc;
    return XENO_OK;
}

static int xeno_domain_parse(xeno_conn *c, json_t *o, xeno_domain **out)
{
    *out = NULL;
    xeno_domain *d = calloc(1, sizeof(*d));
    if (!d)
        return xeno_set_error(c, XENO_ERR_NO_MEMORY, "out of memory");
    d->conn = c;
    int rc = xeno_domain_update(d, o);
    if (rc) {
        xeno_domain_free(d);
        return rc;
    }
    *out = d;
    return XENO_OK;
}

void xeno_domain_free(xeno_domain *d)
{
    if (!d)
        return;
    free(d->name);
    free(d->config);
    free(d);
}

int xeno_domain_list(xeno_conn *c, xeno_domain ***doms, size_t *count)
{
    *doms = NULL;
    *count = 0;
    json_t *arr;
    int rc = xeno_request(c, "GET", "/v1/domains", NULL, &arr);
    if (rc)
        return rc;
    if (!json_is_array(arr)) {
        json_decref(arr);
        return xeno_set_error(c, XENO_ERR_PROTOCOL, "xend sent a domain list that is not a list");
    }
    size_t n = json_array_size(arr);
    xeno_domain **v = calloc(n ? n : 1, sizeof(*v));
    if (!v) {
        json_decref(arr);
        return xeno_set_error(c, XENO_ERR_NO_MEMORY, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        rc = xeno_domain_parse(c, json_array_get(arr, i), &v[i]);
        if (rc) {
            xeno_domain_list_free(v, i);
            json_decref(arr);
            return rc;
        }
    }
    json_decref(arr);
    /* Domain-0 first, whatever order xend used. */
    for (size_t i = 1; i < n; i++)
        if (v[i]->info.id == 0) {
            xeno_domain *d0 = v[i];
            memmove(v + 1, v, i * sizeof(*v));
            v[0] = d0;
            break;
        }
    *doms = v;
    *count = n;
    return XENO_OK;
}

void xeno_domain_list_free(xeno_domain **doms, size_t count)
{
    if (!doms)
        return;
    for (size_t i = 0; i < count; i++)
        xeno_domain_free(doms[i]);
    free(doms);
}

/* GET or POST on /v1/domains/{key}[/op] and refresh d (or make a new
 * handle) from the `domain` answer. */
static int dom_path(xeno_conn *c, const char *key, const char *op, char **path)
{
    char *esc = curl_easy_escape(NULL, key, 0);
    if (!esc)
        return xeno_set_error(c, XENO_ERR_NO_MEMORY, "out of memory");
    int n = asprintf(path, "/v1/domains/%s%s%s", esc, op ? "/" : "", op ? op : "");
    curl_free(esc);
    if (n < 0)
        return xeno_set_error(c, XENO_ERR_NO_MEMORY, "out of memory");
    return XENO_OK;
}

static int lookup_key(xeno_conn *c, const char *key, xeno_domain **out)
{
    *out = NULL;
    if (!key || !*key || strlen(key) > 255)
        return xeno_set_error(c, XENO_ERR_INVALID_ARG, "invalid domain name");
    char *path;
    int rc = dom_path(c, key, NULL, &path);
    if (rc)
        return rc;
    json_t *o;
    rc = xeno_request(c, "GET", path, NULL, &o);
    free(path);
    if (rc == XENO_ERR_NO_DOMAIN)
        xeno_set_error(c, rc, "Domain '%s' does not exist.", key);
    if (rc)
        return rc;
    rc = xeno_domain_parse(c, o, out);
    json_decref(o);
    return rc;
}

int xeno_domain_lookup(xeno_conn *c, const char *key, xeno_domain **out)
{
    return lookup_key(c, key, out);
}

int xeno_domain_lookup_by_name(xeno_conn *c, const char *name, xeno_domain **out)
{
    int rc = lookup_key(c, name, out);
    /* xend accepts names, IDs and UUIDs on one path; insist on the name. */
    if (rc == 0 && strcmp((*out)->name, name) != 0) {
        xeno_domain_free(*out);
        *out = NULL;
        return xeno_set_error(c, XENO_ERR_NO_DOMAIN, "Domain '%s' does not exist.", name);
    }
    return rc;
}

int xeno_domain_lookup_by_id(xeno_conn *c, int id, xeno_domain **out)
{
    *out = NULL;
    if (id < 0)
        return xeno_set_error(c, XENO_ERR_INVALID_ARG, "invalid domain ID %d", id);
    char key[16];
    snprintf(key, sizeof(key), "%d", id);
    int rc = lookup_key(c, key, out);
    if (rc == 0 && (*out)->info.id != id) {
        xeno_domain_free(*out);
        *out = NULL;
        return xeno_set_error(c, XENO_ERR_NO_DOMAIN, "Domain '%d' does not exist.", id);
    }
    return rc;
}

int xeno_domain_lookup_by_uuid(xeno_conn *c, const char *uuid, xeno_domain **out)
{
    int rc = lookup_key(c, uuid, out);
    if (rc == 0 && strcasecmp((*out)->uuid, uuid) != 0) {
        xeno_domain_free(*out);
        *out = NULL;
        return xeno_set_error(c, XENO_ERR_NO_DOMAIN, "Domain '%s' does not exist.", uuid);
    }
    return rc;
}

/* POST /v1/domains/{name}/{op} with body (may be NULL); refresh d. */
static int dom_op(xeno_domain *d, const char *op, json_t *body)
{
    if (!d)
        return XENO_ERR_INVALID_ARG;
    xeno_conn *c = d->conn;
    char *path;
    int rc = dom_path(c, d->name, op, &path);
    if (rc) {
        json_decref(body);
        return rc;
    }
    json_t *o = NULL;
    rc = xeno_request(c, "POST", path, body, &o);
    free(path);
    json_decref(body);
    if (rc == XENO_ERR_NO_DOMAIN)
        xeno_set_error(c, rc, "Domain '%s' does not exist.", d->name);
    if (rc)
        return rc;
    if (json_is_object(o))      /* xend answers with the domain; refresh */
        rc = xeno_domain_update(d, o);
    json_decref(o);
    return rc;
}

int xeno_domain_refresh(xeno_domain *d)
{
    if (!d)
        return XENO_ERR_INVALID_ARG;
    xeno_domain *n;
    int rc = lookup_key(d->conn, d->name, &n);
    if (rc)
        return rc;
    free(d->name);
    free(d->config);
    *d = *n;
    free(n);
    return XENO_OK;
}

static int create_common(xeno_conn *c, const char *config, const char *const *overrides,
                         unsigned flags, bool start, xeno_domain **out)
{
    if (out)
        *out = NULL;
    xeno_clear_error(c);
    if (!config)
        return xeno_set_error(c, XENO_ERR_INVALID_ARG, "no configuration given");
    if (flags & ~XENO_CREATE_PAUSED)
        return xeno_set_error(c, XENO_ERR_INVALID_ARG, "unknown create flags 0x%x", flags);
    json_t *ov = json_array();
    for (size_t i = 0; overrides && overrides[i]; i++) {
        if (!strchr(overrides[i], '='))
            return json_decref(ov), xeno_set_error(c, XENO_ERR_INVALID_ARG,
                       "override '%s' is not key=value", overrides[i]);
        json_array_append_new(ov, json_string(overrides[i]));
    }
    json_t *body = json_pack("{s:s, s:o, s:b, s:b, s:b}", "config", config,
                             "overrides", ov, "start", start, "managed", !start,
                             "paused", (flags & XENO_CREATE_PAUSED) != 0);
    if (!body)
        return xeno_set_error(c, XENO_ERR_INVALID_ARG, "configuration is not valid UTF-8 text");
    json_t *o;
    int rc = xeno_request(c, "POST", "/v1/domains", body, &o);
    json_decref(body);
    if (rc)
        return rc;
    if (out)
        rc = xeno_domain_parse(c, o, out);
    json_decref(o);
    return rc;
}

int xeno_domain_create(xeno_conn *c, const char *config, const char *const *overrides,
                       unsigned flags, xeno_domain **out)
{
    return create_common(c, config, overrides, flags, true, out);
}

int xeno_domain_define(xeno_conn *c, const char *config, const char *const *overrides,
                       unsigned flags, xeno_domain **out)
{
    return create_common(c, config, overrides, flags, false, out);
}

int xeno_domain_undefine(xeno_domain *d)
{
    if (!d)
        return XENO_ERR_INVALID_ARG;
    char *path;
    int rc = dom_path(d->conn, d->name, NULL, &path);
    if (rc)
        return rc;
    rc = xeno_request(d->conn, "DELETE", path, NULL, NULL);
    free(path);
    if (rc == XENO_ERR_NO_DOMAIN)
        xeno_set_error(d->conn, rc, "Domain '%s' does not exist.", d->name);
    return rc;
}

int xeno_domain_start(xeno_domain *d, unsigned flags)
{
    json_t *body = (flags & XENO_CREATE_PAUSED) ? json_pack("{s:b}", "paused", 1) : NULL;
    return dom_op(d, "start", body);
}

int xeno_domain_shutdown(xeno_domain *d, unsigned flags)
{
    return dom_op(d, "shutdown", json_pack("{s:b}", "wait", (flags & XENO_SHUTDOWN_WAIT) != 0));
}

int xeno_domain_reboot(xeno_domain *d, unsigned flags) { return dom_op(d, "reboot", NULL); }
int xeno_domain_destroy(xeno_domain *d) { return dom_op(d, "destroy", NULL); }
int xeno_domain_pause(xeno_domain *d) { return dom_op(d, "pause", NULL); }
int xeno_domain_unpause(xeno_domain *d) { return dom_op(d, "unpause", NULL); }

int xeno_domain_set_memory(xeno_domain *d, uint64_t mib)
{
    if (d && (mib == 0 || mib > (1ull << 40)))
        return xeno_set_error(d->conn, XENO_ERR_INVALID_ARG, "invalid memory size %llu MiB",
                              (unsigned long long)mib);
    return dom_op(d, "mem", json_pack("{s:I}", "target_mib", (json_int_t)mib));
}

int xeno_domain_set_max_memory(xeno_domain *d, uint64_t mib)
{
    if (d && (mib == 0 || mib > (1ull << 40)))
        return xeno_set_error(d->conn, XENO_ERR_INVALID_ARG, "invalid memory size %llu MiB",
                              (unsigned long long)mib);
    return dom_op(d, "mem", json_pack("{s:I}", "max_mib", (json_int_t)mib));
}

int xeno_domain_set_vcpus(xeno_domain *d, unsigned count)
{
    if (d && (count == 0 || count > 4096))
        return xeno_set_error(d->conn, XENO_ERR_INVALID_ARG, "invalid vCPU count %u", count);
    return dom_op(d, "vcpus", json_pack("{s:I}", "count", (json_int_t)count));
}

int xeno_domain_get_info(const xeno_domain *d, xeno_domain_info *info)
{
    if (!d || !info)
        return XENO_ERR_INVALID_ARG;
    *info = d->info;
    return XENO_OK;
}

const char *xeno_domain_get_name(const xeno_domain *d) { return d ? d->name : NULL; }
int xeno_domain_get_id(const xeno_domain *d) { return d ? d->info.id : -1; }
const char *xeno_domain_get_uuid(const xeno_domain *d) { return d ? d->uuid : NULL; }
const char *xeno_domain_get_config(const xeno_domain *d) { return d && d->config ? d->config : ""; }
xeno_conn *xeno_domain_get_conn(const xeno_domain *d) { return d ? d->conn : NULL; }

/* GET /v1/domains/{name}/{what} and return the string member `key`. */
static int get_string(xeno_domain *d, const char *what, const char *key, char **out)
{
    *out = NULL;
    char *path;
    int rc = dom_path(d->conn, d->name, what, &path);
    if (rc)
        return rc;
    json_t *o;
    rc = xeno_request(d->conn, "GET", path, NULL, &o);
    free(path);
    if (rc == XENO_ERR_NO_DOMAIN)
        xeno_set_error(d->conn, rc, "Domain '%s' does not exist.", d->name);
    if (rc)
        return rc;
    const char *s = json_string_value(json_object_get(o, key));
    if (!s) {
        json_decref(o);
        return xeno_set_error(d->conn, XENO_ERR_PROTOCOL, "xend's answer has no \"%s\"", key);
    }
    *out = strdup(s);
    json_decref(o);
    return *out ? XENO_OK : xeno_set_error(d->conn, XENO_ERR_NO_MEMORY, "out of memory");
}

int xeno_domain_console_path(xeno_domain *d, char **path)
{
    if (!d || !path)
        return XENO_ERR_INVALID_ARG;
    if (d->conn->uri.transport != XENO_TRANSPORT_UNIX)
        return xeno_set_error(d->conn, XENO_ERR_OPERATION_INVALID,
                              "the console is only reachable on a local connection");
    return get_string(d, "console", "path", path);
}

int xeno_domain_get_log(xeno_domain *d, char **text)
{
    if (!d || !text)
        return XENO_ERR_INVALID_ARG;
    return get_string(d, "log", "text", text);
}

/* ---- save, restore, migration ---- */

static bool absolute_path(const char *p)
{
    return p && p[0] == '/' && strlen(p) < 4000;
}

/* POST /v1/domains/{name}/{op} as a long job; refresh d from the answer
 * when it is the domain. */
static int dom_job(xeno_domain *d, const char *op, json_t *body, xeno_progress_cb cb,
                   void *opaque)
{
    xeno_conn *c = d->conn;
    char *path;
    int rc = dom_path(c, d->name, op, &path);
    if (rc) {
        json_decref(body);
        return rc;
    }
    json_t *o = NULL;
    rc = xeno_request_job(c, "POST", path, body, &o, cb, opaque);
    free(path);
    json_decref(body);
    if (rc == XENO_ERR_NO_DOMAIN)
        xeno_set_error(c, rc, "Domain '%s' does not exist.", d->name);
    if (rc)
        return rc;
    if (json_is_object(o) && json_object_get(o, "state"))
        rc = xeno_domain_update(d, o);
    json_decref(o);
    return rc;
}

int xeno_domain_save(xeno_domain *d, const char *path, unsigned flags, xeno_progress_cb cb,
                     void *opaque)
{
    if (!d)
        return XENO_ERR_INVALID_ARG;
    xeno_clear_error(d->conn);
    if (!absolute_path(path))
        return xeno_set_error(d->conn, XENO_ERR_INVALID_ARG,
                              "the save file must be an absolute path");
    if (flags & ~(XENO_SAVE_CHECKPOINT | XENO_SAVE_COMPRESS))
        return xeno_set_error(d->conn, XENO_ERR_INVALID_ARG, "unknown save flags 0x%x", flags);
    json_t *body = json_pack("{s:s,s:b,s:b}", "path", path,
                             "checkpoint", (flags & XENO_SAVE_CHECKPOINT) != 0,
                             "compress", (flags & XENO_SAVE_COMPRESS) != 0);
    if (!body)
        return xeno_set_error(d->conn, XENO_ERR_INVALID_ARG, "the path is not valid UTF-8");
    return dom_job(d, "save", body, cb, opaque);
}

int xeno_domain_managed_save(xeno_domain *d, unsigned flags, xeno_progress_cb cb, void *opaque)
{
    if (!d)
        return XENO_ERR_INVALID_ARG;
    xeno_clear_error(d->conn);
    if (flags & ~XENO_SAVE_COMPRESS)
        return xeno_set_error(d->conn, XENO_ERR_INVALID_ARG,
                              "unknown managed save flags 0x%x", flags);
    return dom_job(d, "managedsave",
                   json_pack("{s:b}", "compress", (flags & XENO_SAVE_COMPRESS) != 0), cb, opaque);
}

int xeno_domain_restore(xeno_conn *c, const char *path, unsigned flags, xeno_progress_cb cb,
                        void *opaque, xeno_domain **out)
{
    if (out)
        *out = NULL;
    if (!c)
        return XENO_ERR_INVALID_ARG;
    xeno_clear_error(c);
    if (!absolute_path(path))
        return xeno_set_error(c, XENO_ERR_INVALID_ARG, "the save file must be an absolute path");
    if (flags & ~XENO_CREATE_PAUSED)
        return xeno_set_error(c, XENO_ERR_INVALID_ARG, "unknown restore flags 0x%x", flags);
    json_t *body = json_pack("{s:s,s:b}", "path", path, "paused", (flags & XENO_CREATE_PAUSED) != 0);
    if (!body)
        return xeno_set_error(c, XENO_ERR_INVALID_ARG, "the path is not valid UTF-8");
    json_t *o = NULL;
    int rc = xeno_request_job(c, "POST", "/v1/restore", body, &o, cb, opaque);
    json_decref(body);
    if (rc == 0 && out)
        rc = xeno_domain_parse(c, o, out);
    json_decref(o);
    return rc;
}

int xeno_domain_migrate(xeno_domain *d, const char *host, int port, unsigned flags,
                        unsigned downtime_ms, unsigned bandwidth_mbps, xeno_progress_cb cb,
                        void *opaque)
{
    if (!d)
        return XENO_ERR_INVALID_ARG;
    xeno_clear_error(d->conn);
    if (!host || !*host || strlen(host) > 255)
        return xeno_set_error(d->conn, XENO_ERR_INVALID_ARG, "no destination host given");
    if (port < 0 || port > 65535)
        return xeno_set_error(d->conn, XENO_ERR_INVALID_ARG, "invalid port %d", port);
    if (flags & ~(XENO_MIGRATE_LIVE | XENO_MIGRATE_COMPRESS | XENO_MIGRATE_NO_AUTO_CONVERGE))
        return xeno_set_error(d->conn, XENO_ERR_INVALID_ARG, "unknown migrate flags 0x%x", flags);
    if (downtime_ms > 60000)
        return xeno_set_error(d->conn, XENO_ERR_INVALID_ARG,
                              "downtime %u ms is more than 60000", downtime_ms);
    if (bandwidth_mbps > 1000000)
        return xeno_set_error(d->conn, XENO_ERR_INVALID_ARG,
                              "bandwidth %u Mb/s is more than 1000000", bandwidth_mbps);
    json_t *body = json_pack("{s:s,s:i,s:b,s:b}", "host", host,
                             "port", port ? port : XENO_MIGRATE_DEFAULT_PORT,
                             "live", (flags & XENO_MIGRATE_LIVE) != 0,
                             "compress", (flags & XENO_MIGRATE_COMPRESS) != 0);
    if (!body)
        return xeno_set_error(d->conn, XENO_ERR_INVALID_ARG, "the host name is not valid UTF-8");
    if (downtime_ms)
        json_object_set_new(body, "downtime_ms", json_integer(downtime_ms));
    if (flags & XENO_MIGRATE_NO_AUTO_CONVERGE)
        json_object_set_new(body, "auto_converge", json_false());
    if (bandwidth_mbps)
        json_object_set_new(body, "bandwidth_mbps", json_integer(bandwidth_mbps));
    return dom_job(d, "migrate", body, cb, opaque);
}
