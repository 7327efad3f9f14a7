/* The domain registry: every known domain (managed or running), lookups by
 * name, id or uuid, domain ids, and the JSON form of a domain. Domain-0 is
 * not stored: it is made from host facts on demand. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "common/hostcaps.h"
#include "common/log.h"
#include "common/util.h"
#include "libvirt.h"
#include "xend.h"

pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t reg_cond = PTHREAD_COND_INITIALIZER;

static Domain *reg_head;
static int next_id = 1;

static void uuid_generate_str(char out[37])
{
    uint8_t b[16];

    if (getrandom(b, sizeof(b), 0) != sizeof(b)) {
        /* Never expected; still produce something unique enough. */
        uint64_t t = clock_ns() ^ ((uint64_t)getpid() << 32);
        for (int i = 0; i < 16; i++)
            b[i] = (uint8_t)(t >> ((i % 8) * 8)) ^ (uint8_t)(i * 37);
    }
    b[6] = (b[6] & 0x0f) | 0x40;   /* version 4 */
    b[8] = (b[8] & 0x3f) | 0x80;   /* RFC 4122 variant */
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
             b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static void uuid_to_str(const uint8_t u[16], char out[37])
{
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3], u[4], u[5],
             u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

static void ignore_warning(void *opaque, const char *msg)
{
    (void)opaque;
    (void)msg;
}

Domain *dom_from_config(const char *file, const char *text, size_t len,
                        const char *const *overrides, size_t noverrides,
                        char *err, size_t errlen)
{
    VmConfig *cfg = calloc(1, sizeof(*cfg));
    Domain *d = NULL;
    char *full = NULL;
    size_t cap, off;

    if (!cfg) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (len > XEND_MAX_CONFIG) {
        snprintf(err, errlen, "%s: config larger than %u KiB", file, XEND_MAX_CONFIG >> 10);
        goto fail;
    }
    if (memchr(text, '\0', len)) {
        snprintf(err, errlen, "%s: config contains a NUL byte", file);
        goto fail;
    }
    config_init(cfg);
    if (config_parse(cfg, file, text, len, ignore_warning, NULL, err, errlen) < 0)
        goto fail;

    /* The stored config is the text plus one line per override, plus the
     * uuid when the config had none, so that the VMM, a restarted xend and
     * `xm list -l` all see the same domain. */
    cap = len + 128;
    for (size_t i = 0; i < noverrides; i++) {
        const char *o = overrides[i];

        if (strchr(o, '\n') || strchr(o, '\r')) {
            snprintf(err, errlen, "override '%.60s': must be one line", o);
            goto fail;
        }
        if (config_set(cfg, o, err, errlen) < 0)
            goto fail;
        cap += strlen(o) + 2;
    }
    if (config_validate(cfg, err, errlen) < 0)
        goto fail;
    if (!cfg->name[0]) {
        snprintf(err, errlen, "%s: the config has no name", file);
        goto fail;
    }

    full = malloc(cap);
    if (!full) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    memcpy(full, text, len);
    off = len;
    if (off && full[off - 1] != '\n')
        full[off++] = '\n';
    for (size_t i = 0; i < noverrides; i++)
        off += (size_t)sprintf(full + off, "%s\n", overrides[i]);

    d = calloc(1, sizeof(*d));
    if (!d) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (cfg->uuid_set) {
        uuid_to_str(cfg->uuid, d->uuid);
    } else {
        uuid_generate_str(d->uuid);
        off += (size_t)sprintf(full + off, "uuid = \"%s\"\n", d->uuid);
    }
    full[off] = '\0';
    snprintf(d->name, sizeof(d->name), "%s", cfg->name);
    d->refs = 1;
    d->config = full;
    d->cfg = cfg;
    d->id = -1;
    d->state = DS_STOPPED;
    d->pidfd = -1;
    d->mon_fd = -1;
    d->stop_reason = SR_NONE;
    d->last_exit = SR_NONE;
    d->job = JOB_NONE;
    d->mem_mib = cfg->memory_mib;
    d->maxmem_mib = cfg->maxmem_mib ? cfg->maxmem_mib : cfg->memory_mib;
    d->vcpus = cfg->vcpus;
    d->maxvcpus = cfg->maxvcpus ? cfg->maxvcpus : cfg->vcpus;
    return d;

fail:
    free(full);
    free(cfg);
    return NULL;
}

void dom_get(Domain *d) { d->refs++; }

void dom_put_locked(Domain *d)
{
    if (!d || --d->refs > 0)
        return;
    free(d->config);
    free(d->cfg);
    free(d);
}

void dom_put(Domain *d)
{
    pthread_mutex_lock(&reg_lock);
    dom_put_locked(d);
    pthread_mutex_unlock(&reg_lock);
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

bool reg_is_dom0_key(const char *key)
{
    return !strcmp(key, "Domain-0") || !strcmp(key, "0") ||
           !strcmp(key, "00000000-0000-0000-0000-000000000000");
}

Domain *reg_find_name_locked(const char *name)
{
    for (Domain *d = reg_head; d; d = d->next)
        if (!strcmp(d->name, name))
            return d;
    return NULL;
}

Domain *reg_find_locked(const char *key)
{
    if (all_digits(key)) {
        char *end;
        long id;

        errno = 0;
        id = strtol(key, &end, 10);
        if (errno || *end || id <= 0 || id > INT32_MAX)
            return NULL;
        for (Domain *d = reg_head; d; d = d->next)
            if (d->id == id)
                return d;
        return NULL;
    }
    for (Domain *d = reg_head; d; d = d->next)
        if (!strcmp(d->name, key) || !strcasecmp(d->uuid, key))
            return d;
    return NULL;
}

int reg_add_locked(Domain *d)
{
    for (Domain *o = reg_head; o; o = o->next)
        if (!strcmp(o->name, d->name) || !strcasecmp(o->uuid, d->uuid))
            return -1;
    /* Keep insertion order: `xm list` shows domains in creation order. */
    Domain **pp = &reg_head;
    while (*pp)
        pp = &(*pp)->next;
    d->next = NULL;
    d->removed = false;
    *pp = d;
    lv_hook_domain_added(d->name, d->uuid);     /* libvirt: its events name it by uuid */
    return 0;
}

void reg_remove_locked(Domain *d)
{
    for (Domain **pp = &reg_head; *pp; pp = &(*pp)->next) {
        if (*pp == d) {
            *pp = d->next;
            d->next = NULL;
            d->removed = true;
            dom_put_locked(d);
            return;
        }
    }
}

size_t reg_snapshot_locked(Domain ***out)
{
    size_t n = 0, i = 0;
    Domain **arr;

    for (Domain *d = reg_head; d; d = d->next)
        n++;
    arr = calloc(n ? n : 1, sizeof(*arr));
    if (!arr) {
        *out = NULL;
        return 0;
    }
    for (Domain *d = reg_head; d; d = d->next) {
        dom_get(d);
        arr[i++] = d;
    }
    *out = arr;
    return n;
}

void reg_clear_locked(void)
{
    while (reg_head)
        reg_remove_locked(reg_head);
    next_id = 1;
}

int reg_alloc_id_locked(void)
{
    int id = next_id++;

    if (next_id <= 0)          /* 2^31 domains later: wrap past Domain-0 */
        next_id = 1;
    state_save_next_id(next_id);
    return id;
}

void reg_set_next_id_locked(int next)
{
    if (next > next_id)
        next_id = next;
}

int reg_next_id_locked(void) { return next_id; }

static const char *dom_state_name(const Domain *d)
{
    switch (d->state) {
    case DS_STOPPED:  return "stopped";
    case DS_SAVED:    return "saved";
    case DS_STARTING: return d->incoming ? "incoming" : "running";
    case DS_RUNNING:  return d->blocked ? "blocked" : "running";
    case DS_PAUSED:   return "paused";
    case DS_SHUTDOWN: return "shutdown";
    case DS_CRASHED:  return "crashed";
    case DS_DYING:    return "dying";
    }
    return "stopped";
}

json_t *dom_to_json_locked(const Domain *d)
{
    const VmConfig *c = d->cfg;
    json_t *j = json_object();
    bool live = d->id >= 0 && d->state != DS_STOPPED && d->state != DS_SAVED;

    json_object_set_new(j, "name", json_string(d->name));
    json_object_set_new(j, "id", live ? json_integer(d->id) : json_null());
    json_object_set_new(j, "uuid", json_string(d->uuid));
    json_object_set_new(j, "state", json_string(dom_state_name(d)));
    json_object_set_new(j, "mem_mib", json_integer((json_int_t)d->mem_mib));
    json_object_set_new(j, "maxmem_mib", json_integer((json_int_t)d->maxmem_mib));
    json_object_set_new(j, "vcpus", json_integer(d->vcpus));
    json_object_set_new(j, "maxvcpus", json_integer(d->maxvcpus));
    json_object_set_new(j, "cpu_time_s", json_real((double)d->cpu_ns / 1e9));
    json_object_set_new(j, "uptime_s", live && d->start_time ?
                        json_integer((json_int_t)(time(NULL) - d->start_time)) :
                        json_null());
    json_object_set_new(j, "managed", json_boolean(d->managed));
    json_object_set_new(j, "autostart", json_boolean(d->autostart));
    json_object_set_new(j, "on_poweroff", json_string(config_action_name(c->on_poweroff)));
    json_object_set_new(j, "on_reboot", json_string(config_action_name(c->on_reboot)));
    json_object_set_new(j, "on_crash", json_string(config_action_name(c->on_crash)));
    json_object_set_new(j, "engine", json_string(config_engine_name(c->engine)));
    json_object_set_new(j, "config", json_string(d->config));
    if (d->state == DS_SAVED)
        json_object_set_new(j, "save_file", json_string(d->save_path));
    if (d->job != JOB_NONE)
        json_object_set_new(j, "job", json_string(d->job == JOB_SAVE ? "save" : "migrate"));
    return j;
}


static long host_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? n : 1;
}

/* Host CPU time (user + nice + system), as Domain-0's Time(s). */
static double host_cpu_seconds(void)
{
    unsigned long long user = 0, nice = 0, sys = 0;
    long hz = sysconf(_SC_CLK_TCK);
    FILE *f = fopen("/proc/stat", "re");

    if (!f)
        return 0;
    if (fscanf(f, "cpu %llu %llu %llu", &user, &nice, &sys) != 3)
        user = nice = sys = 0;
    fclose(f);
    return hz > 0 ? (double)(user + nice + sys) / (double)hz : 0;
}

json_t *dom0_to_json(void)
{
    uint64_t total = 0, mem;
    json_t *j = json_object();

    host_memory(&total, NULL);
    mem = total >> 20;

    json_object_set_new(j, "name", json_string("Domain-0"));
    json_object_set_new(j, "id", json_integer(0));
    json_object_set_new(j, "uuid", json_string("00000000-0000-0000-0000-000000000000"));
    json_object_set_new(j, "state", json_string("running"));
    json_object_set_new(j, "mem_mib", json_integer((json_int_t)mem));
    json_object_set_new(j, "maxmem_mib", json_integer((json_int_t)mem));
    json_object_set_new(j, "vcpus", json_integer(host_cpus()));
    json_object_set_new(j, "maxvcpus", json_integer(host_cpus()));
    json_object_set_new(j, "cpu_time_s", json_real(host_cpu_seconds()));
    json_object_set_new(j, "uptime_s", json_null());
    json_object_set_new(j, "managed", json_false());
    json_object_set_new(j, "autostart", json_false());
    json_object_set_new(j, "on_poweroff", json_string("destroy"));
    json_object_set_new(j, "on_reboot", json_string("restart"));
    json_object_set_new(j, "on_crash", json_string("restart"));
    json_object_set_new(j, "engine", json_string("host"));
    json_object_set_new(j, "config", json_string(""));
    return j;
}

/* Host identity and domain counts; capabilities are added by the API
 * layer from common/hostcaps.h. */
json_t *host_to_json(void)
{
    struct utsname u;
    char host[256] = "";
    json_t *j = json_object();
    unsigned ndom = 0, nrun = 0;
    uint64_t total = 0, avail = 0;

    host_memory(&total, &avail);
    if (uname(&u) != 0)
        memset(&u, 0, sizeof(u));
    gethostname(host, sizeof(host) - 1);
    pthread_mutex_lock(&reg_lock);
    for (Domain *d = reg_head; d; d = d->next) {
        ndom++;
        nrun += d->pid > 0;
    }
    pthread_mutex_unlock(&reg_lock);

    json_object_set_new(j, "hostname", json_string(host));
    json_object_set_new(j, "release", json_string(u.release));
    json_object_set_new(j, "version", json_string(u.version));
    json_object_set_new(j, "machine", json_string(u.machine));
    json_object_set_new(j, "nr_cpus", json_integer(host_cpus()));
    json_object_set_new(j, "total_memory_mib", json_integer((json_int_t)(total >> 20)));
    json_object_set_new(j, "free_memory_mib", json_integer((json_int_t)(avail >> 20)));
    json_object_set_new(j, "xend_version", json_string(XEND_VERSION));
    json_object_set_new(j, "domains", json_integer(ndom));
    json_object_set_new(j, "running", json_integer(nrun));
    return j;
}

/* The domain left its VMM: saved to a file, or migrated to another host.
 * A saved managed domain stays, as saved (when xend knows the file); an
 * unmanaged one is gone. A migrated domain is gone from this host, its
 * managed config too: the destination keeps it managed. */
void dom_left_locked(Domain *d, int id, enum stop_reason why)
{
    char name[64];

    snprintf(name, sizeof(name), "%s", d->name);
    d->id = -1;
    d->incoming = false;
    if (why == SR_SAVED && d->managed && d->save_target[0]) {
        snprintf(d->save_path, sizeof(d->save_path), "%s", d->save_target);
        if (state_set_saved(name, d->save_path) < 0)
            log_err("domain %s: cannot record its save file %s", name, d->save_path);
    }
    d->save_target[0] = '\0';
    d->state = dom_rest_state(d);
    if (why == SR_MIGRATED && d->managed) {
        state_delete_domain(name);
        d->managed = false;
    }
    if (!d->managed && !d->removed)
        reg_remove_locked(d);
    events_emit(why == SR_SAVED ? "saved" : "migrated", name, id);
    pthread_cond_broadcast(&reg_cond);
}

enum dom_state dom_rest_state(const Domain *d)
{
    return d->save_path[0] ? DS_SAVED : DS_STOPPED;
}

int dom_job_begin(Domain *d, enum dom_job job, char *err, size_t errlen)
{
    int r = 0;

    pthread_mutex_lock(&reg_lock);
    if (d->pid <= 0 || (d->state != DS_RUNNING && d->state != DS_PAUSED)) {
        snprintf(err, errlen, "Domain '%s' is not running.", d->name);
        r = -1;
    } else if (d->job != JOB_NONE) {
        snprintf(err, errlen, "Domain '%s' is already being %s.", d->name,
                 d->job == JOB_SAVE ? "saved" : "migrated");
        r = -1;
    } else {
        d->job = job;
    }
    pthread_mutex_unlock(&reg_lock);
    return r;
}

void dom_job_end(Domain *d)
{
    pthread_mutex_lock(&reg_lock);
    d->job = JOB_NONE;
    pthread_mutex_unlock(&reg_lock);
}

bool dom_note_paused_locked(Domain *d, bool paused)
{
    if (d->pid <= 0 || d->state != (paused ? DS_RUNNING : DS_PAUSED))
        return false;
    d->state = paused ? DS_PAUSED : DS_RUNNING;
    events_emit(paused ? "paused" : "unpaused", d->name, d->id);
    pthread_cond_broadcast(&reg_cond);
    return true;
}

void dom_apply_query_locked(Domain *d, json_t *r)
{
    json_t *v;
    uint64_t now = clock_ns();

    if (!json_is_object(r))
        return;
    if (json_is_integer(v = json_object_get(r, "cpu_time_ns")) && json_integer_value(v) >= 0) {
        uint64_t cpu = (uint64_t)json_integer_value(v);

        /* Blocked ('b'): the vCPUs used under 2% of their time since the
         * previous sample (Xen shows 'b' for a domain idle in its
         * scheduler). Needs two samples at least 50 ms apart. */
        if (d->sample_wall_ns && now - d->sample_wall_ns >= 50 * NS_PER_MS) {
            uint64_t wall = (now - d->sample_wall_ns) * (d->vcpus ? d->vcpus : 1);
            uint64_t used = cpu >= d->sample_cpu_ns ? cpu - d->sample_cpu_ns : 0;
            d->blocked = used * 50 < wall;
            d->sample_cpu_ns = cpu;
            d->sample_wall_ns = now;
        } else if (!d->sample_wall_ns) {
            d->sample_cpu_ns = cpu;
            d->sample_wall_ns = now;
        }
        d->cpu_ns = cpu;
    }
    if (json_is_integer(v = json_object_get(r, "balloon_target_mib")) && json_integer_value(v) > 0)
        d->mem_mib = (uint64_t)json_integer_value(v);
    if (json_is_integer(v = json_object_get(r, "vcpus")) && json_integer_value(v) > 0 &&
        json_integer_value(v) <= 4096)
        d->vcpus = (unsigned)json_integer_value(v);
    if (json_is_string(v = json_object_get(r, "state")) && d->state != DS_DYING) {
        if (!strcmp(json_string_value(v), "paused"))
            d->state = DS_PAUSED;
        else if (!strcmp(json_string_value(v), "running"))
            d->state = DS_RUNNING;
    }
}
