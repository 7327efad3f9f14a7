/* Connection and host procedures: authentication (none), features, open
 * and close, versions, the host's facts and capabilities.
 *
 * The URI is xen:///system: libvirt's client library sends every URI it
 * has no driver of its own for to its remote driver, and virtinst and
 * virt-manager treat a xen: URI as a Xen host. The version reported for
 * the hypervisor is Xen's interface level (4.2.0; virt-manager uses
 * events from Xen 4.0 on), the library version the libvirt API level this
 * server speaks (9.0.0, Debian 12's). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "common/hostcaps.h"
#include "common/limits.h"
#include "common/util.h"
#include "libvirt.h"
#include "xend.h"

#define LV_URI         "xen:///system"
#define LV_TYPE        "Xen"
#define LV_HV_VERSION  4002000ull     /* 4.2.0 */
#define LV_LIB_VERSION 9000000ull     /* 9.0.0 */

/* VIR_DRV_FEATURE_* (libvirt_internal.h) */
enum { FEAT_TYPED_PARAM_STRING = 9, FEAT_PROGRAM_KEEPALIVE = 10,
       FEAT_REMOTE_EVENT_CALLBACK = 14, FEAT_REMOTE_CLOSE_CALLBACK = 15 };
#define CONNECT_RO 1u                  /* VIR_CONNECT_RO */

/* The probe opens /dev/kvm and creates a VM: done at most every
 * ARCHS_TTL_NS, not for every dumpxml. */
#define ARCHS_TTL_NS (30 * NS_PER_SEC)

static void probe_archs(LvArchs *a)
{
    HostCaps hc;
    struct utsname u;
    const char *why;

    memset(a, 0, sizeof(*a));
    hostcaps_probe(&hc);
    a->riscv64 = true;
    a->x86_64 = hostcaps_kvm_fast(&hc);
    why = a->x86_64 ? NULL : hostcaps_engine_error(&hc, 1);
    snprintf(a->x86_refusal, sizeof(a->x86_refusal), "%s",
             why ? why : "x86_64 guests do not run fast on this host");
    if (uname(&u) == 0)
        snprintf(a->host_arch, sizeof(a->host_arch), "%s", u.machine);
    snprintf(a->emulator, sizeof(a->emulator), "%s", xconf.vmm);
}

void lv_host_archs(LvArchs *a)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static LvArchs cached;
    static uint64_t when;
    uint64_t now = clock_ns();

    pthread_mutex_lock(&lock);
    if (!when || now - when > ARCHS_TTL_NS) {
        probe_archs(&cached);
        when = now;
    }
    *a = cached;
    pthread_mutex_unlock(&lock);
}

/* ---- before and around open ---- */

/* AUTH_LIST: -> {remote_auth_type types<>}: none. */
static int proc_auth_list(LvCall *c)
{
    if (xdr_dec_finish(&c->in, &c->err) < 0)
        return -1;
    xdr_put_u32(&c->out, 1);
    xdr_put_i32(&c->out, 0);          /* REMOTE_AUTH_NONE */
    return 0;
}

/* CONNECT_SUPPORTS_FEATURE: {int feature} -> {int supported}. */
static int proc_supports_feature(LvCall *c)
{
    int f = xdr_get_i32(&c->in);

    if (xdr_dec_finish(&c->in, &c->err) < 0)
        return -1;
    xdr_put_i32(&c->out, f == FEAT_TYPED_PARAM_STRING || f == FEAT_PROGRAM_KEEPALIVE ||
                         f == FEAT_REMOTE_EVENT_CALLBACK || f == FEAT_REMOTE_CLOSE_CALLBACK);
    return 0;
}

/* Is name a URI this server is: xen:///system (or xen:///, xen://)? */
static bool uri_is_ours(const char *name)
{
    const char *p;

    if (strncasecmp(name, "xen:", 4))
        return false;
    p = name + 4;
    if (!strncmp(p, "//", 2)) {
        p += 2;
        if (!strncmp(p, "localhost", 9))
            p += 9;
    }
    return !*p || !strcmp(p, "/") || !strcmp(p, "/system") || !strncmp(p, "/system?", 8) ||
           !strncmp(p, "/?", 2);
}

/* CONNECT_OPEN: {remote_string name; unsigned flags}. */
static int proc_open(LvCall *c)
{
    const char *name = xdr_get_opt_string(&c->in, LV_STRING_MAX);
    uint32_t flags = xdr_get_u32(&c->in);

    if (xdr_dec_finish(&c->in, &c->err) < 0)
        return -1;
    if (name && *name && !uri_is_ours(name))
        return lv_error(&c->err, LV_ERR_NO_CONNECT, "%s (this is Xeno's xend: %s)", name, LV_URI);
    lv_conn_set_open(c->conn, flags & CONNECT_RO);
    return 0;
}

static int proc_close(LvCall *c)
{
    return xdr_dec_finish(&c->in, &c->err);
}

/* REGISTER/UNREGISTER_CLOSE_CALLBACK: the client learns of the close from
 * the socket itself. */
static int proc_close_callback(LvCall *c)
{
    return xdr_dec_finish(&c->in, &c->err);
}

/* ---- one-value answers ---- */

static int reply_string(LvCall *c, const char *s)
{
    if (xdr_dec_finish(&c->in, &c->err) < 0)
        return -1;
    xdr_put_string(&c->out, s);
    return 0;
}

static int reply_u64(LvCall *c, uint64_t v)
{
    if (xdr_dec_finish(&c->in, &c->err) < 0)
        return -1;
    xdr_put_u64(&c->out, v);
    return 0;
}

static int proc_get_type(LvCall *c) { return reply_string(c, LV_TYPE); }
static int proc_get_uri(LvCall *c) { return reply_string(c, LV_URI); }
static int proc_get_version(LvCall *c) { return reply_u64(c, LV_HV_VERSION); }
static int proc_get_lib_version(LvCall *c) { return reply_u64(c, LV_LIB_VERSION); }

static int proc_get_hostname(LvCall *c)
{
    char host[256] = "";

    gethostname(host, sizeof(host) - 1);
    return reply_string(c, host);
}

static int proc_is_secure(LvCall *c)
{
    if (xdr_dec_finish(&c->in, &c->err) < 0)
        return -1;
    xdr_put_i32(&c->out, 1);          /* a local UNIX socket */
    return 0;
}

/* CONNECT_GET_MAX_VCPUS: {remote_string type} -> {int max_vcpus}. */
static int proc_get_max_vcpus(LvCall *c)
{
    const char *type = xdr_get_opt_string(&c->in, LV_STRING_MAX);

    if (xdr_dec_finish(&c->in, &c->err) < 0)
        return -1;
    if (type && strcasecmp(type, "xen"))
        return lv_error(&c->err, LV_ERR_INVALID_ARG, "unknown type '%s' (this host runs 'xen')",
                        type);
    xdr_put_i32(&c->out, XENO_MAX_VCPUS);
    return 0;
}

/* ---- the host ---- */

/* NODE_GET_INFO: {char model[32]; hyper memory (KiB); int cpus, mhz,
 * nodes, sockets, cores, threads}. */
static int proc_node_info(LvCall *c)
{
    HostCaps hc;
    struct utsname u;
    uint64_t total = 0;

    if (xdr_dec_finish(&c->in, &c->err) < 0)
        return -1;
    hostcaps_probe(&hc);
    host_memory(&total, NULL);
    if (uname(&u) < 0)
        memset(&u, 0, sizeof(u));
    xdr_put_char_array(&c->out, u.machine, 32);
    xdr_put_u64(&c->out, total >> 10);
    xdr_put_i32(&c->out, (int32_t)(hc.nr_cpus ? hc.nr_cpus : 1));
    xdr_put_i32(&c->out, (int32_t)hc.cpu_mhz);
    xdr_put_i32(&c->out, 1);
    xdr_put_i32(&c->out, 1);
    xdr_put_i32(&c->out, (int32_t)(hc.nr_cpus ? hc.nr_cpus : 1));
    xdr_put_i32(&c->out, 1);
    return 0;
}

static int proc_free_memory(LvCall *c)
{
    uint64_t avail = 0;

    host_memory(NULL, &avail);
    return reply_u64(c, avail);
}

/* NODE_GET_CELLS_FREE_MEMORY: {int startCell, maxcells} -> {hyper cells<>}:
 * one NUMA cell, the host. */
static int proc_cells_free_memory(LvCall *c)
{
    int start = xdr_get_i32(&c->in), max = xdr_get_i32(&c->in);
    uint64_t avail = 0;

    if (xdr_dec_finish(&c->in, &c->err) < 0)
        return -1;
    if (start != 0 || max < 1)
        return lv_error(&c->err, LV_ERR_INVALID_ARG, "start cell %d out of range (0-0)", start);
    host_memory(NULL, &avail);
    xdr_put_u32(&c->out, 1);
    xdr_put_u64(&c->out, avail);
    return 0;
}

/* The host's uuid, from /etc/machine-id (NULL if there is none). */
static const char *host_uuid(char out[37])
{
    size_t len;
    char *id = read_file("/etc/machine-id", &len);
    uint8_t u[LV_UUID_LEN];
    bool ok;

    if (!id)
        return NULL;
    while (len && (id[len - 1] == '\n' || id[len - 1] == ' '))
        id[--len] = '\0';
    ok = lv_uuid_parse(id, u) == 0;
    free(id);
    if (!ok)
        return NULL;
    lv_uuid_format(u, out);
    return out;
}

static int proc_capabilities(LvCall *c)
{
    LvArchs a;
    char uuid[37];
    char *xml;

    if (xdr_dec_finish(&c->in, &c->err) < 0)
        return -1;
    lv_host_archs(&a);
    if (!(xml = lvxml_capabilities(&a, host_uuid(uuid))))
        return lv_error(&c->err, LV_ERR_NO_MEMORY, "capabilities");
    xdr_put_string(&c->out, xml);
    free(xml);
    return 0;
}

/* CONNECT_GET_DOMAIN_CAPABILITIES: {remote_string emulatorbin, arch,
 * machine, virttype; unsigned flags}. */
static int proc_domain_capabilities(LvCall *c)
{
    const char *emu = xdr_get_opt_string(&c->in, LV_STRING_MAX);
    const char *arch = xdr_get_opt_string(&c->in, LV_STRING_MAX);
    const char *machine = xdr_get_opt_string(&c->in, LV_STRING_MAX);
    const char *virttype = xdr_get_opt_string(&c->in, LV_STRING_MAX);
    LvArchs a;
    char *xml;

    xdr_get_u32(&c->in);
    if (xdr_dec_finish(&c->in, &c->err) < 0)
        return -1;
    lv_host_archs(&a);
    if (emu && strcmp(emu, a.emulator))
        return lv_error(&c->err, LV_ERR_INVALID_ARG, "emulator '%s' is not this host's (%s)",
                        emu, a.emulator);
    if (!(xml = lvxml_domain_capabilities(&a, arch, virttype, machine, &c->err)))
        return -1;
    xdr_put_string(&c->out, xml);
    free(xml);
    return 0;
}

#define P LVF_PREOPEN
const LvProc lv_conn_procs[] = {
    { LVP_AUTH_LIST,                   proc_auth_list,          LVF_RO | P },
    { LVP_CONNECT_SUPPORTS_FEATURE,    proc_supports_feature,   LVF_RO | P },
    { LVP_CONNECT_OPEN,                proc_open,               LVF_RO | P },
    { LVP_CONNECT_CLOSE,               proc_close,              LVF_RO },
    { LVP_CONNECT_REGISTER_CLOSE_CALLBACK, proc_close_callback, LVF_RO },
    { LVP_CONNECT_UNREGISTER_CLOSE_CALLBACK, proc_close_callback, LVF_RO },
    { LVP_CONNECT_GET_TYPE,            proc_get_type,           LVF_RO },
    { LVP_CONNECT_GET_URI,             proc_get_uri,            LVF_RO },
    { LVP_CONNECT_GET_VERSION,         proc_get_version,        LVF_RO },
    { LVP_CONNECT_GET_LIB_VERSION,     proc_get_lib_version,    LVF_RO },
    { LVP_CONNECT_GET_HOSTNAME,        proc_get_hostname,       LVF_RO },
    { LVP_CONNECT_IS_SECURE,           proc_is_secure,          LVF_RO },
    { LVP_CONNECT_GET_MAX_VCPUS,       proc_get_max_vcpus,      LVF_RO },
    { LVP_NODE_GET_INFO,               proc_node_info,          LVF_RO },
    { LVP_NODE_GET_FREE_MEMORY,        proc_free_memory,        LVF_RO },
    { LVP_NODE_GET_CELLS_FREE_MEMORY,  proc_cells_free_memory,  LVF_RO },
    { LVP_CONNECT_GET_CAPABILITIES,    proc_capabilities,       LVF_RO },
    { LVP_CONNECT_GET_DOMAIN_CAPABILITIES, proc_domain_capabilities, LVF_RO },
};
#undef P
const size_t lv_conn_nprocs = sizeof(lv_conn_procs) / sizeof(lv_conn_procs[0]);
