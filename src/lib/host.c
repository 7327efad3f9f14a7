/* libxeno: host information (GET /v1/host). */
#include <stdio.h>
#include <string.h>

#include "internal.h"

static void str(char *dst, size_t n, json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    snprintf(dst, n, "%s", s ? s : "");
}


/* "xen:///system on SOCK (read-only: SOCK_RO); libvirt's default socket:
 * STATUS" from the host object's "libvirt" member, if xend has one. */
static void host_libvirt_line(xeno_host_info *h, json_t *lv)
{
    const char *uri, *sock, *ro, *compat;

    if (!json_is_object(lv))
        return;
    uri = json_string_value(json_object_get(lv, "uri"));
    sock = json_string_value(json_object_get(lv, "socket"));
    ro = json_string_value(json_object_get(lv, "socket_ro"));
    compat = json_string_value(json_object_get(lv, "compat"));
    snprintf(h->libvirt, sizeof(h->libvirt), "%s on %s (read-only: %s); default socket: %s",
             uri ? uri : "?", sock ? sock : "?", ro ? ro : "?", compat ? compat : "?");
}

static double num(json_t *o, const char *key, double dflt)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : dflt;
}

int xeno_host_get_info(xeno_conn *c, xeno_host_info *h)
{
    if (!c || !h)
        return XENO_ERR_INVALID_ARG;
    memset(h, 0, sizeof(*h));
    json_t *o;
    int rc = xeno_request(c, "GET", "/v1/host", NULL, &o);
    if (rc)
        return rc;
    if (!json_is_object(o)) {
        json_decref(o);
        return xeno_set_error(c, XENO_ERR_PROTOCOL, "xend sent host info that is not an object");
    }
    str(h->hostname, sizeof(h->hostname), o, "hostname");
    str(h->release, sizeof(h->release), o, "release");
    str(h->version, sizeof(h->version), o, "version");
    str(h->machine, sizeof(h->machine), o, "machine");
    str(h->cpu_model, sizeof(h->cpu_model), o, "cpu_model");
    str(h->virt_caps, sizeof(h->virt_caps), o, "virt_caps");
    str(h->xend_version, sizeof(h->xend_version), o, "xend_version");
    /* engines: a list of names or one string */
    json_t *e = json_object_get(o, "engines");
    if (json_is_array(e)) {
        size_t i;
        json_t *v;
        json_array_foreach(e, i, v) {
            const char *s = json_string_value(v);
            if (!s)
                continue;
            size_t len = strlen(h->engines);
            snprintf(h->engines + len, sizeof(h->engines) - len, "%s%s", len ? " " : "", s);
        }
    } else {
        str(h->engines, sizeof(h->engines), o, "engines");
    }
    str(h->cpu_vendor, sizeof(h->cpu_vendor), o, "cpu_vendor");
    str(h->hw_virt, sizeof(h->hw_virt), o, "hw_virt");
    str(h->engines_detail, sizeof(h->engines_detail), o, "engines_detail");
    str(h->sandbox, sizeof(h->sandbox), o, "sandbox");
    host_libvirt_line(h, json_object_get(o, "libvirt"));
    /* kvm: a state phrase; an older xend sent a boolean */
    json_t *k = json_object_get(o, "kvm");
    if (json_is_boolean(k))
        snprintf(h->kvm, sizeof(h->kvm), "%s", json_is_true(k) ? "usable" : "absent");
    else
        str(h->kvm, sizeof(h->kvm), o, "kvm");
    h->kvm_usable = json_is_true(json_object_get(o, "kvm_usable")) || json_is_true(k);
    h->kvm_pvm = json_is_true(json_object_get(o, "kvm_pvm"));
    h->kvm_fast = json_is_true(json_object_get(o, "kvm_fast"));
    double v = num(o, "nr_cpus", 0);
    h->nr_cpus = v > 0 && v < 1e6 ? (unsigned)v : 0;
    h->cpu_mhz = num(o, "cpu_mhz", 0);
    v = num(o, "total_memory_mib", 0);
    h->total_memory_mib = v > 0 && v < 1.8e19 ? (uint64_t)v : 0;
    v = num(o, "free_memory_mib", 0);
    h->free_memory_mib = v > 0 && v < 1.8e19 ? (uint64_t)v : 0;
    h->uptime_s = num(o, "uptime_s", -1);
    json_decref(o);
    return XENO_OK;
}
