/* Storage pools and volumes for libvirt clients: directory pools of raw
 * image files, enough for virt-install's --disk PATH (it looks the file
 * up, or defines a pool for its directory) and --disk size=N (a new raw
 * volume), and for virt-manager's storage view.
 *
 * A pool is a directory; its volumes are the regular files in it (not
 * the hidden ones), a volume's key is its path. Persistent pools are kept
 * in STATE/pools/NAME.xml (and NAME.autostart); the pool "default"
 * (STATE/images, so /var/lib/xeno/images for the system xend) is made at
 * the first start. Pools are libvirt's view only: a domain's disks are
 * paths in its config, whether or not a pool holds them. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/io.h"
#include "common/log.h"
#include "common/util.h"
#include "libvirt.h"
#include "xend.h"

#define MAX_POOLS 256
#define MAX_VOLS  LV_VOL_LIST_MAX

/* virStoragePoolState, virStorageVolType */
enum { POOL_INACTIVE = 0, POOL_RUNNING = 2 };
#define VOL_FILE 0
/* virConnectListAllStoragePools flags */
enum { LP_INACTIVE = 1, LP_ACTIVE = 2, LP_PERSISTENT = 4, LP_TRANSIENT = 8, LP_AUTOSTART = 16,
       LP_NO_AUTOSTART = 32, LP_DIR = 64, LP_TYPES = 0x3ffc0 };
#define POOL_CREATE_WITH_BUILD 1u

typedef struct Pool {
    LvPoolDef def;
    bool active, autostart, persistent;
} Pool;

static pthread_mutex_t st_lock = PTHREAD_MUTEX_INITIALIZER;
static Pool pools[MAX_POOLS];
static size_t npools;

/* ---- pools on disk ---- */

static int pool_file(char *buf, size_t size, const char *name, const char *ext)
{
    return state_path(buf, size, "pools/%s.%s", name, ext);
}

static int save_pool_locked(const Pool *p)
{
    LvPoolXmlInfo info = { .active = p->active };
    char path[PATH_MAX];
    char *xml = lvxml_format_pool(&p->def, &info);
    int r;

    if (!xml || pool_file(path, sizeof(path), p->def.name, "xml") < 0) {
        free(xml);
        return -1;
    }
    r = io_write_file_atomic(path, xml, strlen(xml), 0600);
    free(xml);
    if (r < 0)
        log_err("cannot write %s: %s", path, strerror(-r));
    return r < 0 ? -1 : 0;
}

static void set_autostart_file(const char *name, bool on)
{
    char path[PATH_MAX];

    if (pool_file(path, sizeof(path), name, "autostart") < 0)
        return;
    if (on) {
        int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (fd >= 0)
            close(fd);
    } else {
        unlink(path);
    }
}

static void delete_pool_files(const char *name)
{
    char path[PATH_MAX];

    if (pool_file(path, sizeof(path), name, "xml") == 0)
        unlink(path);
    set_autostart_file(name, false);
}

static bool name_ok(const char *s)
{
    if (!*s || s[0] == '.' || strlen(s) > 100)
        return false;
    for (; *s; s++)
        if (*s == '/' || (unsigned char)*s < 0x20)
            return false;
    return true;
}

static void random_uuid(uint8_t u[LV_UUID_LEN])
{
    if (getrandom(u, LV_UUID_LEN, 0) != LV_UUID_LEN)
        for (int i = 0; i < (int)LV_UUID_LEN; i++)
            u[i] = (uint8_t)(clock_ns() >> (i % 8));
    u[6] = (u[6] & 0x0f) | 0x40;
    u[8] = (u[8] & 0x3f) | 0x80;
}

static bool dir_exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void load_pool(const char *dir, const char *file)
{
    char path[PATH_MAX], auto_path[PATH_MAX];
    size_t len;
    char *xml;
    LvError e;
    Pool *p;

    if (npools == MAX_POOLS || (size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >=
        sizeof(path) || !(xml = read_file(path, &len)))
        return;
    p = &pools[npools];
    memset(p, 0, sizeof(*p));
    if (lvxml_parse_pool(xml, len, &p->def, &e) < 0) {
        log_warn("libvirt: storage pool %s: %s", path, e.msg);
        free(xml);
        return;
    }
    free(xml);
    if (!p->def.uuid_set)
        random_uuid(p->def.uuid);
    p->persistent = true;
    p->autostart = pool_file(auto_path, sizeof(auto_path), p->def.name, "autostart") == 0 &&
                   access(auto_path, F_OK) == 0;
    p->active = p->autostart && dir_exists(p->def.path);
    npools++;
}

static Pool *find_name_locked(const char *name)
{
    for (size_t i = 0; i < npools; i++)
        if (!strcmp(pools[i].def.name, name))
            return &pools[i];
    return NULL;
}

/* The pool "default", made (with its directory) when there is none. */
static int make_default_locked(char *err, size_t errlen)
{
    Pool *p = &pools[npools];

    if (find_name_locked("default"))
        return 0;
    memset(p, 0, sizeof(*p));
    snprintf(p->def.name, sizeof(p->def.name), "default");
    if (state_path(p->def.path, sizeof(p->def.path), "images") < 0) {
        snprintf(err, errlen, "the state dir path %s is too long", xconf.state_dir);
        return -1;
    }
    if (mkdir(p->def.path, 0711) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", p->def.path, strerror(errno));
        return -1;
    }
    random_uuid(p->def.uuid);
    p->def.uuid_set = true;
    p->persistent = p->autostart = p->active = true;
    if (save_pool_locked(p) < 0) {
        snprintf(err, errlen, "cannot save the storage pool 'default' in %s", xconf.state_dir);
        return -1;
    }
    set_autostart_file("default", true);
    npools++;
    return 0;
}

int lv_storage_init(char *err, size_t errlen)
{
    char dir[PATH_MAX];
    DIR *dp;
    struct dirent *de;
    int r;

    if (state_path(dir, sizeof(dir), "pools") < 0 || (mkdir(dir, 0700) < 0 && errno != EEXIST)) {
        snprintf(err, errlen, "cannot create %s/pools: %s", xconf.state_dir, strerror(errno));
        return -1;
    }
    pthread_mutex_lock(&st_lock);
    npools = 0;
    if ((dp = opendir(dir))) {
        while ((de = readdir(dp))) {
            size_t n = strlen(de->d_name);

            if (n > 4 && !strcmp(de->d_name + n - 4, ".xml"))
                load_pool(dir, de->d_name);
        }
        closedir(dp);
    }
    r = make_default_locked(err, errlen);
    pthread_mutex_unlock(&st_lock);
    return r;
}

/* ---- pools ---- */

/* Find the pool a reference names ({string name; uuid}), active or not. */
static Pool *ref_pool_locked(LvCall *c, const char *name)
{
    Pool *p = find_name_locked(name);

    if (!p)
        lv_error(&c->err, LV_ERR_NO_STORAGE_POOL, "no storage pool with matching name '%s'", name);
    return p;
}

static Pool *active_pool_locked(LvCall *c, const char *name)
{
    Pool *p = ref_pool_locked(c, name);

    if (p && !p->active) {
        lv_error(&c->err, LV_ERR_OPERATION_INVALID, "storage pool '%s' is not active", name);
        return NULL;
    }
    return p;
}

static void put_pool(XdrBuf *b, const Pool *p)
{
    xdr_put_string(b, p->def.name);
    xdr_put_fixed(b, p->def.uuid, LV_UUID_LEN);
}

/* remote_nonnull_storage_pool: {string name; uuid}. */
static const char *get_pool(XdrDec *d)
{
    uint8_t u[LV_UUID_LEN];
    const char *name = xdr_get_string(d, LV_STRING_MAX);

    xdr_get_fixed(d, u, sizeof(u));
    return name;
}

static void pool_sizes(const Pool *p, LvPoolXmlInfo *info)
{
    struct statvfs vfs;

    memset(info, 0, sizeof(*info));
    info->active = p->active;
    if (p->active && statvfs(p->def.path, &vfs) == 0) {
        info->capacity = (uint64_t)vfs.f_blocks * vfs.f_frsize;
        info->available = (uint64_t)vfs.f_bavail * vfs.f_frsize;
        info->allocation = info->capacity - (uint64_t)vfs.f_bfree * vfs.f_frsize;
    }
}

/* The pool a single {pool} argument names; the lock is held on success. */
static Pool *only_pool(LvCall *c, bool active)
{
    const char *name = get_pool(&c->in);
    Pool *p;

    if (xdr_dec_finish(&c->in, &c->err) < 0)
        return NULL;
    pthread_mutex_lock(&st_lock);
    p = active ? active_pool_locked(c, name) : ref_pool_locked(c, name);
    if (!p)
        pthread_mutex_unlock(&st_lock);
    return p;
}

static int pool_names(LvCall *c, bool active, bool num)
{
    int max = num ? 0 : xdr_get_i32(&c->in);
    uint32_t k = 0;

    if (xdr_dec_finish(&c->in, &c->err) < 0)
        return -1;
    if (!num && (max < 0 || (uint32_t)max > LV_POOL_LIST_MAX))
        return lv_error(&c->err, LV_ERR_RPC, "too many storage pool names: %d", max);
    pthread_mutex_lock(&st_lock);
    for (size_t i = 0; i < npools; i++)
        k += pools[i].active == active;
    if (num) {
        xdr_put_i32(&c->out, (int32_t)k);
    } else {
        xdr_put_u32(&c->out, MIN(k, (uint32_t)max));
        for (size_t i = 0, put = 0; i < npools && put < (size_t)max; i++)
            if (pools[i].active == active && ++put)
                xdr_put_string(&c->out, pools[i].def.name);
    }
    pthread_mutex_unlock(&st_lock);
    return 0;
}

static int proc_num_pools(LvCall *c) { return pool_names(c, true, true); }
static int proc_list_pools(LvCall *c) { return pool_names(c, true, false); }
static int proc_num_defined_pools(LvCall *c) { return pool_names(c, false, true); }
static int proc_list_defined_pools(LvCall *c) { return pool_names(c, false, false); }

static bool pass(unsigned flags, unsigned yes, unsigned no, bool is)
{
    unsigned g = flags & (yes | no);

    return !g || g == (yes | no) || (is ? (g & yes) : (g & no));
}

static bool pool_match(const Pool *p, unsigned flags)
{
    return pass(flags, LP_ACTIVE, LP_INACTIVE, p->active) &&
           pass(flags, LP_PERSISTENT, LP_TRANSIENT, p->persistent) &&
           pass(flags, LP_AUTOSTART, LP_NO_AUTOSTART, p->autostart) &&
           (!(flags & LP_TYPES) || (flags & LP_DIR));
}

/* CONNECT_LIST_ALL_STORAGE_POOLS: {int need_results; unsigned flags} ->
 * {pools<>; unsigned ret}. */
static int proc_list_all_pools(LvCall *c)
{
    int need = xdr_get_i32(&c->in);
    uint32_t flags = xdr_get_u32(&c->in), k = 0;

    if (xdr_dec_finish(&c->in, &c->err) < 0)
        return -1;
    pthread_mutex_lock(&st_lock);
    for (size_t i = 0; i < npools; i++)
        k += pool_match(&pools[i], flags);
    xdr_put_u32(&c->out, need ? k : 0);
    for (size_t i = 0; need && i < npools; i++)
        if (pool_match(&pools[i], flags))
            put_pool(&c->out, &pools[i]);
    xdr_put_u32(&c->out, k);
    pthread_mutex_unlock(&st_lock);
    return 0;
}

static int proc_pool_lookup_by_name(LvCall *c)
{
    const char *name = xdr_get_string(&c->in, LV_STRING_MAX);
    Pool *p;

    if (xdr_dec_finish(&c->in, &c->err) < 0)
        return -1;
    pthread_mutex_lock(&st_lock);
    if ((p = ref_pool_locked(c, name)))
        put_pool(&c->out, p);
    pthread_mutex_unlock(&st_lock);
    return p ? 0 : -1;
}

static int proc_pool_lookup_by_uuid(LvCall *c)
{
    uint8_t u[LV_UUID_LEN];
    char s[37];
    Pool *p = NULL;

    xdr_get_fixed(&c->in, u, sizeof(u));
    if (xdr_dec_finish(&c->in, &c->err) < 0)
        return -1;
    pthread_mutex_lock(&st_lock);
    for (size_t i = 0; i < npools && !p; i++)
        if (!memcmp(pools[i].def.uuid, u, LV_UUID_LEN))
            p = &pools[i];
    if (p)
        put_pool(&c->out, p);
    pthread_mutex_unlock(&st_lock);
    lv_uuid_format(u, s);
    return p ? 0 : lv_error(&c->err, LV_ERR_NO_STORAGE_POOL, "no storage pool with matching "
                            "uuid '%s'", s);
}

/* The pool whose directory is dir (resolved), lock held; NULL if none. */
static Pool *pool_of_dir_locked(const char *dir)
{
    char want[PATH_MAX], have[PATH_MAX];

    if (!realpath(dir, want))
        snprintf(want, sizeof(want), "%s", dir);
    for (size_t i = 0; i < npools; i++) {
        if (!realpath(pools[i].def.path, have))
            snprintf(have, sizeof(have), "%s", pools[i].def.path);
        if (!strcmp(want, have))
            return &pools[i];
    }
    return NULL;
}

static int proc_pool_lookup_by_target_path(LvCall *c)
{
    const char *path = xdr_get_string(&c->in, LV_STRING_MAX);
    Pool *p;

    if (xdr_dec_finish(&c->in, &c->err) < 0)
        return -1;
    pthread_mutex_lock(&st_lock);
    if ((p = pool_of_dir_locked(path)))
        put_pool(&c->out, p);
    pthread_mutex_unlock(&st_lock);
    return p ? 0 : lv_error(&c->err, LV_ERR_NO_STORAGE_POOL, "no storage pool with matching "
                            "target path '%s'", path);
}

/* A new pool from XML: persistent (define) or transient and active
 * (create). A definition of an existing pool (same name and uuid) updates
 * it while it is inactive. */
static int pool_from_xml(LvCall *c, bool define)
{
    const char *xml = xdr_get_string(&c->in, LV_STRING_MAX);
    LvPoolDef def;
    Pool *p, *clash;
    int r = -1;

    xdr_get_u32(&c->in);
    if (xdr_dec_finish(&c->in, &c->err) < 0 || lvxml_parse_pool(xml, strlen(xml), &def, &c->err) < 0)
        return -1;
    if (!name_ok(def.name))
        return lv_error(&c->err, LV_ERR_INVALID_ARG, "pool name '%s': no '/', not hidden",
                        def.name);
    if (!define && !dir_exists(def.path))
        return lv_error(&c->err, LV_ERR_OPERATION_FAILED, "cannot open directory '%s': %s",
                        def.path, strerror(ENOENT));
    pthread_mutex_lock(&st_lock);
    if ((clash = find_name_locked(def.name))) {
        if (!define || clash->active || (def.uuid_set && memcmp(def.uuid, clash->def.uuid, 16))) {
            lv_error(&c->err, LV_ERR_OPERATION_FAILED, "pool '%s' already exists", def.name);
            goto out;
        }
        def.uuid_set = true;
        memcpy(def.uuid, clash->def.uuid, LV_UUID_LEN);
        p = clash;
    } else if (npools == MAX_POOLS) {
        lv_error(&c->err, LV_ERR_OPERATION_FAILED, "too many storage pools (%d)", MAX_POOLS);
        goto out;
    } else if (pool_of_dir_locked(def.path)) {
        lv_error(&c->err, LV_ERR_OPERATION_FAILED, "storage pool '%s' already uses %s",
                 pool_of_dir_locked(def.path)->def.name, def.path);
        goto out;
    } else {
        p = &pools[npools];
        memset(p, 0, sizeof(*p));
    }
    if (!def.uuid_set)
        random_uuid(def.uuid);
    def.uuid_set = true;
    p->def = def;
    p->persistent = define;
    p->active = !define || p->active;
    if (define && save_pool_locked(p) < 0) {
        lv_error(&c->err, LV_ERR_OPERATION_FAILED, "cannot save pool '%s'", def.name);
        goto out;
    }
    if (p == &pools[npools])
        npools++;
    put_pool(&c->out, p);
    r = 0;
out:
    pthread_mutex_unlock(&st_lock);
    return r;
}

static int proc_pool_define_xml(LvCall *c) { return pool_from_xml(c, true); }
static int proc_pool_create_xml(LvCall *c) { return pool_from_xml(c, false); }

static int mkdir_p(const char *path)
{
    char tmp[PATH_MAX];

    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *s = tmp + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
            return -1;
        *s = '/';
    }
    return mkdir(tmp, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

/* {pool; unsigned flags}, lock held on success. */
static Pool *pool_and_flags(LvCall *c, uint32_t *flags, bool active)
{
    const char *name = get_pool(&c->in);
    Pool *p;

    *flags = xdr_get_u32(&c->in);
    if (xdr_dec_finish(&c->in, &c->err) < 0)
        return NULL;
    pthread_mutex_lock(&st_lock);
    p = active ? active_pool_locked(c, name) : ref_pool_locked(c, name);
    if (!p)
        pthread_mutex_unlock(&st_lock);
    return p;
}

static int proc_pool_build(LvCall *c)
{
    uint32_t flags;
    Pool *p = pool_and_flags(c, &flags, false);
    int r = 0;

    if (!p)
        return -1;
    if (mkdir_p(p->def.path) < 0)
        r = lv_error(&c->err, LV_ERR_OPERATION_FAILED, "cannot create directory '%s': %s",
                     p->def.path, strerror(errno));
    pthread_mutex_unlock(&st_lock);
    return r;
}

static int proc_pool_create(LvCall *c)
{
    uint32_t flags;
    Pool *p = pool_and_flags(c, &flags, false);
    int r = 0;

    if (!p)
        return -1;
    if (p->active)
        r = lv_error(&c->err, LV_ERR_OPERATION_INVALID, "storage pool '%s' is already active",
                     p->def.name);
    else if ((flags & POOL_CREATE_WITH_BUILD) && mkdir_p(p->def.path) < 0)
        r = lv_error(&c->err, LV_ERR_OPERATION_FAILED, "cannot create directory '%s': %s",
                     p->def.path, strerror(errno));
    else if (!dir_exists(p->def.path))
        r = lv_error(&c->err, LV_ERR_OPERATION_FAILED, "cannot open directory '%s': %s",
                     p->def.path, strerror(ENOENT));
    else
        p->active = true;
    pthread_mutex_unlock(&st_lock);
    return r;
}

static void remove_pool_locked(Pool *p)
{
    size_t i = (size_t)(p - pools);

    memmove(&pools[i], &pools[i + 1], (npools - i - 1) * sizeof(*p));
    npools--;
}

static int proc_pool_destroy(LvCall *c)
{
    Pool *p = only_pool(c, true);

    if (!p)
        return -1;
    p->active = false;
    if (!p->persistent)
        remove_pool_locked(p);
    pthread_mutex_unlock(&st_lock);
    return 0;
}

static int proc_pool_undefine(LvCall *c)
{
    Pool *p = only_pool(c, false);

    if (!p)
        return -1;
    if (!p->persistent) {
        lv_error(&c->err, LV_ERR_OPERATION_INVALID, "pool '%s' is transient", p->def.name);
        pthread_mutex_unlock(&st_lock);
        return -1;
    }
    delete_pool_files(p->def.name);
    p->persistent = false;
    p->autostart = false;
    if (!p->active)
        remove_pool_locked(p);
    pthread_mutex_unlock(&st_lock);
    return 0;
}

/* POOL_DELETE {pool; flags}: the (empty) directory of an inactive pool. */
static int proc_pool_delete(LvCall *c)
{
    uint32_t flags;
    Pool *p = pool_and_flags(c, &flags, false);
    int r = 0;

    if (!p)
        return -1;
    if (p->active)
        r = lv_error(&c->err, LV_ERR_OPERATION_INVALID, "storage pool '%s' is still active",
                     p->def.name);
    else if (rmdir(p->def.path) < 0 && errno != ENOENT)
        r = lv_error(&c->err, LV_ERR_OPERATION_FAILED, "cannot remove directory '%s': %s",
                     p->def.path, strerror(errno));
    pthread_mutex_unlock(&st_lock);
    return r;
}

static int proc_pool_refresh(LvCall *c)
{
    uint32_t flags;
    Pool *p = pool_and_flags(c, &flags, true);

    if (!p)
        return -1;
    pthread_mutex_unlock(&st_lock);
    return 0;
}

/* POOL_GET_INFO: {uchar state; hyper capacity, allocation, available}. */
static int proc_pool_get_info(LvCall *c)
{
    Pool *p = only_pool(c, false);
    LvPoolXmlInfo info;

    if (!p)
        return -1;
    pool_sizes(p, &info);
    xdr_put_u32(&c->out, p->active ? POOL_RUNNING : POOL_INACTIVE);
    xdr_put_u64(&c->out, info.capacity);
    xdr_put_u64(&c->out, info.allocation);
    xdr_put_u64(&c->out, info.available);
    pthread_mutex_unlock(&st_lock);
    return 0;
}

static int proc_pool_get_xml(LvCall *c)
{
    uint32_t flags;
    Pool *p = pool_and_flags(c, &flags, false);
    LvPoolXmlInfo info;
    char *xml;

    if (!p)
        return -1;
    pool_sizes(p, &info);
    xml = lvxml_format_pool(&p->def, &info);
    pthread_mutex_unlock(&st_lock);
    if (!xml)
        return lv_error(&c->err, LV_ERR_NO_MEMORY, "pool XML");
    xdr_put_string(&c->out, xml);
    free(xml);
    return 0;
}

static int pool_flag(LvCall *c, int which)
{
    Pool *p = only_pool(c, false);

    if (!p)
        return -1;
    xdr_put_i32(&c->out, which == 0 ? p->autostart : which == 1 ? p->active : p->persistent);
    pthread_mutex_unlock(&st_lock);
    return 0;
}

static int proc_pool_get_autostart(LvCall *c) { return pool_flag(c, 0); }
static int proc_pool_is_active(LvCall *c) { return pool_flag(c, 1); }
static int proc_pool_is_persistent(LvCall *c) { return pool_flag(c, 2); }

static int proc_pool_set_autostart(LvCall *c)
{
    const char *name = get_pool(&c->in);
    int on = xdr_get_i32(&c->in);
    Pool *p;
    int r = 0;

    if (xdr_dec_finish(&c->in, &c->err) < 0)
        return -1;
    pthread_mutex_lock(&st_lock);
    if (!(p = ref_pool_locked(c, name)))
        r = -1;
    else if (!p->persistent)
        r = lv_error(&c->err, LV_ERR_OPERATION_INVALID, "cannot set autostart for transient pool");
    else {
        p->autostart = on != 0;
        set_autostart_file(p->def.name, p->autostart);
    }
    pthread_mutex_unlock(&st_lock);
    return r;
}

/* ---- volumes ---- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The volume names of a pool, sorted (caller frees each and the array). */
static char **vol_names(const char *dir, size_t *n)
{
    DIR *dp = opendir(dir);
    struct dirent *de;
    char **v = NULL;
    size_t k = 0, cap = 0;

    *n = 0;
    if (!dp)
        return NULL;
    while ((de = readdir(dp)) && k < MAX_VOLS) {
        char path[PATH_MAX];
        struct stat st;

        if (de->d_name[0] == '.' ||
            (size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= sizeof(path) ||
            stat(path, &st) < 0 || !S_ISREG(st.st_mode))
            continue;
        if (k == cap) {
            char **nv = realloc(v, (cap = cap ? 2 * cap : 16) * sizeof(*nv));
            if (!nv)
                break;
            v = nv;
        }
        if (!(v[k] = strdup(de->d_name)))
            break;
        k++;
    }
    closedir(dp);
    if (k)
        qsort(v, k, sizeof(*v), cmp_str);
    *n = k;
    return v;
}

static void names_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void put_vol(XdrBuf *b, const char *pool, const char *name, const char *path)
{
    xdr_put_string(b, pool);
    xdr_put_string(b, name);
    xdr_put_string(b, path);
}

/* The path of a volume: 0, or -1 when it does not fit (buf then empty). */
static int vol_path(char *buf, size_t size, const Pool *p, const char *name)
{
    if ((size_t)snprintf(buf, size, "%s/%s", p->def.path, name) >= size) {
        buf[0] = '\0';
        return -1;
    }
    return 0;
}

static int proc_pool_num_volumes(LvCall *c)
{
    Pool *p = only_pool(c, true);
    size_t n;
    char **v;

    if (!p)
        return -1;
    v = vol_names(p->def.path, &n);
    pthread_mutex_unlock(&st_lock);
    names_free(v, n);
    xdr_put_i32(&c->out, (int32_t)n);
    return 0;
}

static int proc_pool_list_volumes(LvCall *c)
{
    const char *name = get_pool(&c->in);
    int max = xdr_get_i32(&c->in);
    Pool *p;
    size_t n;
    char **v;

    if (xdr_dec_finish(&c->in, &c->err) < 0)
        return -1;
    if (max < 0 || (uint32_t)max > LV_VOL_LIST_MAX)
        return lv_error(&c->err, LV_ERR_RPC, "too many storage volume names: %d", max);
    pthread_mutex_lock(&st_lock);
    if (!(p = active_pool_locked(c, name))) {
        pthread_mutex_unlock(&st_lock);
        return -1;
    }
    v = vol_names(p->def.path, &n);
    pthread_mutex_unlock(&st_lock);
    xdr_put_u32(&c->out, (uint32_t)MIN(n, (size_t)max));
    for (size_t i = 0; i < n && i < (size_t)max; i++)
        xdr_put_string(&c->out, v[i]);
    names_free(v, n);
    return 0;
}

/* POOL_LIST_ALL_VOLUMES: {pool; int need_results; unsigned flags} ->
 * {vols<>; unsigned ret}. */
static int proc_pool_list_all_volumes(LvCall *c)
{
    const char *name = get_pool(&c->in);
    int need = xdr_get_i32(&c->in);
    char path[PATH_MAX], pool[128];
    Pool *p;
    size_t n;
    char **v;

    xdr_get_u32(&c->in);
    if (xdr_dec_finish(&c->in, &c->err) < 0)
        return -1;
    pthread_mutex_lock(&st_lock);
    if (!(p = active_pool_locked(c, name))) {
        pthread_mutex_unlock(&st_lock);
        return -1;
    }
    v = vol_names(p->def.path, &n);
    snprintf(pool, sizeof(pool), "%s", p->def.name);
    xdr_put_u32(&c->out, need ? (uint32_t)n : 0);
    for (size_t i = 0; need && i < n; i++) {
        vol_path(path, sizeof(path), p, v[i]);
        put_vol(&c->out, pool, v[i], path);
    }
    pthread_mutex_unlock(&st_lock);
    xdr_put_u32(&c->out, (uint32_t)n);
    names_free(v, n);
    return 0;
}

/* A volume by path: its pool (the pool of its directory) and name, lock
 * held. -1 with e set when no active pool holds a regular file there. */
static int vol_by_path_locked(LvCall *c, const char *path, Pool **pp, char *name, size_t size)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    struct stat st;
    Pool *p;

    if (!slash || slash == path || !slash[1] || (size_t)(slash - path) >= sizeof(dir) ||
        strlen(slash + 1) >= size)
        return lv_error(&c->err, LV_ERR_NO_STORAGE_VOL, "no storage vol with matching path "
                        "'%s'", path);
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = '\0';
    p = pool_of_dir_locked(dir);
    if (!p || !p->active || slash[1] == '.' || stat(path, &st) < 0 || !S_ISREG(st.st_mode))
        return lv_error(&c->err, LV_ERR_NO_STORAGE_VOL, "no storage vol with matching path "
                        "'%s'", path);
    snprintf(name, size, "%s", slash + 1);
    *pp = p;
    return 0;
}

static int vol_lookup_path(LvCall *c, const char *path)
{
    char name[256], full[PATH_MAX];
    Pool *p = NULL;
    int r;

    pthread_mutex_lock(&st_lock);
    r = vol_by_path_locked(c, path, &p, name, sizeof(name));
    if (r == 0) {
        vol_path(full, sizeof(full), p, name);
        put_vol(&c->out, p->def.name, name, full);
    }
    pthread_mutex_unlock(&st_lock);
    return r;
}

static int proc_vol_lookup_by_path(LvCall *c)
{
    const char *path = xdr_get_string(&c->in, LV_STRING_MAX);

    if (xdr_dec_finish(&c->in, &c->err) < 0)
        return -1;
    return vol_lookup_path(c, path);
}

static int proc_vol_lookup_by_key(LvCall *c)
{
    const char *key = xdr_get_string(&c->in, LV_STRING_MAX);

    if (xdr_dec_finish(&c->in, &c->err) < 0)
        return -1;
    if (vol_lookup_path(c, key) < 0)
        return lv_error(&c->err, LV_ERR_NO_STORAGE_VOL, "no storage vol with matching key %s",
                        key);
    return 0;
}

/* The file of volume name in pool p, which must exist (lock held). */
static int vol_file_locked(LvCall *c, const Pool *p, const char *name, char *path, size_t size,
                           struct stat *st)
{
    if (!name_ok(name) || strlen(p->def.path) + strlen(name) + 2 > size)
        return lv_error(&c->err, LV_ERR_NO_STORAGE_VOL, "no storage vol with matching name '%s'",
                        name);
    vol_path(path, size, p, name);
    if (stat(path, st) < 0 || !S_ISREG(st->st_mode))
        return lv_error(&c->err, LV_ERR_NO_STORAGE_VOL, "no storage vol with matching name '%s'",
                        name);
    return 0;
}

static int proc_vol_lookup_by_name(LvCall *c)
{
    const char *pool = get_pool(&c->in);
    const char *name = xdr_get_string(&c->in, LV_STRING_MAX);
    char path[PATH_MAX];
    struct stat st;
    Pool *p;
    int r = -1;

    if (xdr_dec_finish(&c->in, &c->err) < 0)
        return -1;
    pthread_mutex_lock(&st_lock);
    if ((p = active_pool_locked(c, pool)) &&
        (r = vol_file_locked(c, p, name, path, sizeof(path), &st)) == 0)
        put_vol(&c->out, p->def.name, name, path);
    pthread_mutex_unlock(&st_lock);
    return r;
}

/* remote_nonnull_storage_vol {string pool, name, key}: its file, its
 * stat; *pool_out the pool's name. -1 with e set. */
static int get_vol(LvCall *c, char *path, size_t size, struct stat *st, char *pool_out,
                   size_t pool_size, const char **name_out, uint32_t *flags, bool has_flags)
{
    const char *pool = xdr_get_string(&c->in, LV_STRING_MAX);
    const char *name = xdr_get_string(&c->in, LV_STRING_MAX);
    Pool *p;
    int r = -1;

    xdr_get_string(&c->in, LV_STRING_MAX);
    if (has_flags)
        *flags = xdr_get_u32(&c->in);
    if (xdr_dec_finish(&c->in, &c->err) < 0)
        return -1;
    pthread_mutex_lock(&st_lock);
    if ((p = active_pool_locked(c, pool)) && (r = vol_file_locked(c, p, name, path, size, st)) == 0)
        snprintf(pool_out, pool_size, "%s", p->def.name);
    pthread_mutex_unlock(&st_lock);
    *name_out = name;
    return r;
}

static int vol_info(LvCall *c, bool has_flags)
{
    char path[PATH_MAX], pool[128];
    const char *name;
    struct stat st;
    uint32_t flags;

    if (get_vol(c, path, sizeof(path), &st, pool, sizeof(pool), &name, &flags, has_flags) < 0)
        return -1;
    xdr_put_i32(&c->out, VOL_FILE);
    xdr_put_u64(&c->out, (uint64_t)st.st_size);
    xdr_put_u64(&c->out, (uint64_t)st.st_blocks * 512);
    return 0;
}

static int proc_vol_get_info(LvCall *c) { return vol_info(c, false); }
static int proc_vol_get_info_flags(LvCall *c) { return vol_info(c, true); }

static int proc_vol_get_path(LvCall *c)
{
    char path[PATH_MAX], pool[128];
    const char *name;
    struct stat st;

    if (get_vol(c, path, sizeof(path), &st, pool, sizeof(pool), &name, NULL, false) < 0)
        return -1;
    xdr_put_string(&c->out, path);
    return 0;
}

static int proc_vol_get_xml(LvCall *c)
{
    char path[PATH_MAX], pool[128];
    const char *name;
    struct stat st;
    uint32_t flags;
    LvVolXmlInfo v;
    char *xml;

    if (get_vol(c, path, sizeof(path), &st, pool, sizeof(pool), &name, &flags, true) < 0)
        return -1;
    v = (LvVolXmlInfo){ .name = name, .path = path, .pool = pool,
                        .capacity = (uint64_t)st.st_size,
                        .allocation = (uint64_t)st.st_blocks * 512, .mode = st.st_mode,
                        .uid = st.st_uid, .gid = st.st_gid };
    if (!(xml = lvxml_format_vol(&v)))
        return lv_error(&c->err, LV_ERR_NO_MEMORY, "volume XML");
    xdr_put_string(&c->out, xml);
    free(xml);
    return 0;
}

static int proc_vol_delete(LvCall *c)
{
    char path[PATH_MAX], pool[128];
    const char *name;
    struct stat st;
    uint32_t flags;

    if (get_vol(c, path, sizeof(path), &st, pool, sizeof(pool), &name, &flags, true) < 0)
        return -1;
    if (unlink(path) < 0)
        return lv_error(&c->err, LV_ERR_OPERATION_FAILED, "cannot unlink file '%s': %s", path,
                        strerror(errno));
    return 0;
}

/* The file of a new raw volume: sparse, or allocated when the XML's
 * allocation asks for all of it. */
static int create_file(LvCall *c, const char *path, const LvVolDef *v)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int r;

    if (fd < 0)
        return errno == EEXIST ?
               lv_error(&c->err, LV_ERR_STORAGE_VOL_EXIST, "%s", v->name) :
               lv_error(&c->err, LV_ERR_OPERATION_FAILED, "cannot create volume '%s': %s", path,
                        strerror(errno));
    r = ftruncate(fd, (off_t)v->capacity);
    if (r == 0 && v->allocation_set && v->allocation >= v->capacity && v->capacity)
        r = posix_fallocate(fd, 0, (off_t)v->capacity) ? -1 : 0;
    if (r < 0 || close(fd) < 0) {
        int e = errno;
        unlink(path);
        return lv_error(&c->err, LV_ERR_OPERATION_FAILED, "cannot size volume '%s': %s", path,
                        strerror(e));
    }
    return 0;
}

/* STORAGE_VOL_CREATE_XML: {pool; string xml; unsigned flags} -> {vol}. */
static int proc_vol_create_xml(LvCall *c)
{
    const char *pool = get_pool(&c->in);
    const char *xml = xdr_get_string(&c->in, LV_STRING_MAX);
    uint32_t flags = xdr_get_u32(&c->in);
    char path[PATH_MAX], pname[128];
    LvVolDef v;
    Pool *p;

    if (xdr_dec_finish(&c->in, &c->err) < 0 || lvxml_parse_vol(xml, strlen(xml), &v, &c->err) < 0)
        return -1;
    if (flags & ~1u)            /* PREALLOC_METADATA: nothing to do for raw */
        return lv_error(&c->err, LV_ERR_ARGUMENT_UNSUPPORTED, "volume flags 0x%x", flags);
    if (!name_ok(v.name))
        return lv_error(&c->err, LV_ERR_INVALID_ARG, "volume name '%s': no '/', not hidden",
                        v.name);
    pthread_mutex_lock(&st_lock);
    if (!(p = active_pool_locked(c, pool))) {
        pthread_mutex_unlock(&st_lock);
        return -1;
    }
    vol_path(path, sizeof(path), p, v.name);
    snprintf(pname, sizeof(pname), "%s", p->def.name);
    pthread_mutex_unlock(&st_lock);
    if (create_file(c, path, &v) < 0)
        return -1;
    put_vol(&c->out, pname, v.name, path);
    return 0;
}

/* STORAGE_POOL_LOOKUP_BY_VOLUME: {vol} -> {pool}. */
static int proc_pool_lookup_by_volume(LvCall *c)
{
    char path[PATH_MAX], pool[128];
    const char *name;
    struct stat st;
    Pool *p;

    if (get_vol(c, path, sizeof(path), &st, pool, sizeof(pool), &name, NULL, false) < 0)
        return -1;
    pthread_mutex_lock(&st_lock);
    if ((p = find_name_locked(pool)))
        put_pool(&c->out, p);
    pthread_mutex_unlock(&st_lock);
    return p ? 0 : lv_error(&c->err, LV_ERR_NO_STORAGE_POOL, "no storage pool with matching "
                            "name '%s'", pool);
}

int lv_storage_resolve(const char *pool, const char *vol, char *path, size_t size, LvError *e)
{
    LvCall c = { 0 };
    struct stat st;
    Pool *p;
    int r = -1;

    pthread_mutex_lock(&st_lock);
    if ((p = active_pool_locked(&c, pool)))
        r = vol_file_locked(&c, p, vol, path, size, &st);
    pthread_mutex_unlock(&st_lock);
    if (r < 0)
        *e = c.err;
    return r;
}

#define RO LVF_RO
const LvProc lv_storage_procs[] = {
    { LVP_CONNECT_NUM_OF_STORAGE_POOLS,        proc_num_pools,            RO },
    { LVP_CONNECT_LIST_STORAGE_POOLS,          proc_list_pools,           RO },
    { LVP_CONNECT_NUM_OF_DEFINED_STORAGE_POOLS, proc_num_defined_pools,   RO },
    { LVP_CONNECT_LIST_DEFINED_STORAGE_POOLS,  proc_list_defined_pools,   RO },
    { LVP_CONNECT_LIST_ALL_STORAGE_POOLS,      proc_list_all_pools,       RO },
    { LVP_STORAGE_POOL_LOOKUP_BY_NAME,         proc_pool_lookup_by_name,  RO },
    { LVP_STORAGE_POOL_LOOKUP_BY_UUID,         proc_pool_lookup_by_uuid,  RO },
    { LVP_STORAGE_POOL_LOOKUP_BY_VOLUME,       proc_pool_lookup_by_volume, RO },
    { LVP_STORAGE_POOL_LOOKUP_BY_TARGET_PATH,  proc_pool_lookup_by_target_path, RO },
    { LVP_STORAGE_POOL_GET_INFO,               proc_pool_get_info,        RO },
    { LVP_STORAGE_POOL_GET_XML_DESC,           proc_pool_get_xml,         RO },
    { LVP_STORAGE_POOL_GET_AUTOSTART,          proc_pool_get_autostart,   RO },
    { LVP_STORAGE_POOL_IS_ACTIVE,              proc_pool_is_active,       RO },
    { LVP_STORAGE_POOL_IS_PERSISTENT,          proc_pool_is_persistent,   RO },
    { LVP_STORAGE_POOL_NUM_OF_VOLUMES,         proc_pool_num_volumes,     RO },
    { LVP_STORAGE_POOL_LIST_VOLUMES,           proc_pool_list_volumes,    RO },
    { LVP_STORAGE_POOL_LIST_ALL_VOLUMES,       proc_pool_list_all_volumes, RO },
    { LVP_STORAGE_VOL_LOOKUP_BY_NAME,          proc_vol_lookup_by_name,   RO },
    { LVP_STORAGE_VOL_LOOKUP_BY_KEY,           proc_vol_lookup_by_key,    RO },
    { LVP_STORAGE_VOL_LOOKUP_BY_PATH,          proc_vol_lookup_by_path,   RO },
    { LVP_STORAGE_VOL_GET_INFO,                proc_vol_get_info,         RO },
    { LVP_STORAGE_VOL_GET_INFO_FLAGS,          proc_vol_get_info_flags,   RO },
    { LVP_STORAGE_VOL_GET_XML_DESC,            proc_vol_get_xml,          RO },
    { LVP_STORAGE_VOL_GET_PATH,                proc_vol_get_path,         RO },
    { LVP_STORAGE_POOL_DEFINE_XML,             proc_pool_define_xml,      0 },
    { LVP_STORAGE_POOL_CREATE_XML,             proc_pool_create_xml,      0 },
    { LVP_STORAGE_POOL_BUILD,                  proc_pool_build,           0 },
    { LVP_STORAGE_POOL_CREATE,                 proc_pool_create,          0 },
    { LVP_STORAGE_POOL_DESTROY,                proc_pool_destroy,         0 },
    { LVP_STORAGE_POOL_UNDEFINE,               proc_pool_undefine,        0 },
    { LVP_STORAGE_POOL_DELETE,                 proc_pool_delete,          0 },
    { LVP_STORAGE_POOL_REFRESH,                proc_pool_refresh,         RO },
    { LVP_STORAGE_POOL_SET_AUTOSTART,          proc_pool_set_autostart,   0 },
    { LVP_STORAGE_VOL_CREATE_XML,              proc_vol_create_xml,       0 },
    { LVP_STORAGE_VOL_DELETE,                  proc_vol_delete,           0 },
};
#undef RO
const size_t lv_storage_nprocs = sizeof(lv_storage_procs) / sizeof(lv_storage_procs[0]);
