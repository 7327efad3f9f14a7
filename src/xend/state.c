/* The state dir (docs/protocols.md §2):
 *   domains/NAME.cfg, domains/NAME.autostart   managed domains
 *   domains/NAME.saved   a saved managed domain: the path of its save file
 *   save/NAME.save       managed save files (xm save DOM)
 *   run/ID.json, run/ID.cfg, run/ID.sock[.console]   running VMMs
 *   log/NAME.log, next-id, xend.pid, token
 * The files xend writes (configs, run records, next-id, autostart marks)
 * are replaced atomically and durably (io_write_file_atomic): a crash
 * leaves the old version or the new, never a mix. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/io.h"
#include "common/log.h"
#include "common/util.h"
#include "xend.h"

int state_path(char *buf, size_t size, const char *fmt, ...)
{
    char rel[PATH_MAX];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(rel, sizeof(rel), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(rel))
        return -1;
    n = snprintf(buf, size, "%s/%s", xconf.state_dir, rel);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

static int mkdir_p(const char *path, mode_t mode)
{
    if (mkdir(path, mode) == 0 || errno == EEXIST)
        return 0;
    log_err("cannot create %s: %s", path, strerror(errno));
    return -1;
}

int state_init(void)
{
    char p[PATH_MAX];

    if (mkdir_p(xconf.state_dir, 0755) < 0)
        return -1;
    if (state_path(p, sizeof(p), "domains") < 0 || mkdir_p(p, 0700) < 0 ||
        state_path(p, sizeof(p), "run") < 0 || mkdir_p(p, 0700) < 0 ||
        state_path(p, sizeof(p), "log") < 0 || mkdir_p(p, 0750) < 0 ||
        state_path(p, sizeof(p), "save") < 0 || mkdir_p(p, 0700) < 0)
        return -1;
    return 0;
}

/* Make the removal of files in dir durable: a crash must not bring back a
 * run record (its domain's on_* action would run twice) or an undefined
 * domain. EINVAL: the file system cannot sync a directory. */
static int sync_dir(const char *rel)
{
    char p[PATH_MAX];
    int fd, r = 0;

    if (state_path(p, sizeof(p), "%s", rel) < 0)
        return -1;
    fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (fsync(fd) < 0 && errno != EINVAL) {
        log_err("cannot sync %s: %s", p, strerror(errno));
        r = -1;
    }
    close(fd);
    return r;
}

/* Replace path with text, durably (temp, fsync, rename, fsync dir). */
static int save_file(const char *path, const char *text, size_t len, mode_t mode)
{
    int r = io_write_file_atomic(path, text, len, mode);

    if (r < 0) {
        log_err("cannot write %s: %s", path, strerror(-r));
        return -1;
    }
    return 0;
}

static int state_load_next_id(void)
{
    char p[PATH_MAX], *text;
    size_t len;
    long v;

    if (state_path(p, sizeof(p), "next-id") < 0 || !(text = read_file(p, &len)))
        return 1;
    v = strtol(text, NULL, 10);
    free(text);
    return v > 0 && v < INT32_MAX ? (int)v : 1;
}

int state_save_next_id(int next)
{
    char p[PATH_MAX], text[32];

    if (state_path(p, sizeof(p), "next-id") < 0)
        return -1;
    snprintf(text, sizeof(text), "%d\n", next);
    return save_file(p, text, strlen(text), 0644);
}

int state_save_config(const char *name, const char *text)
{
    char p[PATH_MAX];

    if (state_path(p, sizeof(p), "domains/%s.cfg", name) < 0)
        return -1;
    return save_file(p, text, strlen(text), 0600);
}

int state_delete_domain(const char *name)
{
    char p[PATH_MAX];

    if (state_path(p, sizeof(p), "domains/%s.cfg", name) == 0)
        unlink(p);
    if (state_path(p, sizeof(p), "domains/%s.autostart", name) == 0)
        unlink(p);
    /* Its saved state goes with it: xend's own save file, and the mark
     * (a file the user named in `xm save DOM FILE` is the user's). */
    if (state_managed_save_path(p, sizeof(p), name) == 0)
        unlink(p);
    if (state_path(p, sizeof(p), "domains/%s.saved", name) == 0)
        unlink(p);
    sync_dir("save");
    return sync_dir("domains");
}

int state_managed_save_path(char *buf, size_t size, const char *name)
{
    return state_path(buf, size, "save/%s.save", name);
}

int state_set_saved(const char *name, const char *path)
{
    char p[PATH_MAX], *line;
    int r;

    if (state_path(p, sizeof(p), "domains/%s.saved", name) < 0)
        return -1;
    if (!path)
        return (unlink(p) == 0 || errno == ENOENT) && sync_dir("domains") == 0 ? 0 : -1;
    if (asprintf(&line, "%s\n", path) < 0)
        return -1;
    r = save_file(p, line, strlen(line), 0600);
    free(line);
    return r;
}

int state_set_autostart(const char *name, bool on)
{
    char p[PATH_MAX];

    if (state_path(p, sizeof(p), "domains/%s.autostart", name) < 0)
        return -1;
    if (!on)
        return (unlink(p) == 0 || errno == ENOENT) && sync_dir("domains") == 0 ? 0 : -1;
    return save_file(p, "", 0, 0600);
}

int state_write_run(const RunRecord *d)
{
    char p[PATH_MAX], *text;
    json_t *j;
    int r;

    if (state_path(p, sizeof(p), "run/%d.json", d->id) < 0)
        return -1;
    j = json_pack("{s:i,s:i,s:s,s:s,s:s,s:b,s:I}", "id", d->id, "pid", (int)d->pid,
                  "sock", d->sock, "name", d->name, "uuid", d->uuid,
                  "managed", d->managed, "start_time", (json_int_t)d->start_time);
    text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
    json_decref(j);
    if (!text)
        return -1;
    r = save_file(p, text, strlen(text), 0600);
    free(text);
    return r;
}

void state_remove_run(int id)
{
    static const char *const ext[] = { "json", "cfg", "sock", "sock.console", "sock.exit",
                                       "migrate" };
    char p[PATH_MAX];

    for (size_t i = 0; i < ARRAY_SIZE(ext); i++)
        if (state_path(p, sizeof(p), "run/%d.%s", id, ext[i]) == 0)
            unlink(p);
    sync_dir("run");
}

char *state_read_log(const char *name, size_t max)
{
    char p[PATH_MAX], *buf;
    struct stat st;
    off_t start;
    ssize_t n;
    int fd;

    if (state_path(p, sizeof(p), "log/%s.log", name) < 0)
        return NULL;
    fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    if (fstat(fd, &st) < 0 || !(buf = malloc(max + 1))) {
        close(fd);
        return NULL;
    }
    start = st.st_size > (off_t)max ? st.st_size - (off_t)max : 0;
    n = pread(fd, buf, max, start);
    close(fd);
    if (n < 0)
        n = 0;
    buf[n] = '\0';
    /* NULs would cut the JSON string short. */
    for (ssize_t i = 0; i < n; i++)
        if (!buf[i])
            buf[i] = ' ';
    return buf;
}

static void warn_cb(void *opaque, const char *msg)
{
    log_warn("%s: %s", (const char *)opaque, msg);
}

static void load_managed(void)
{
    char dir[PATH_MAX], p[PATH_MAX];
    struct dirent *e;
    DIR *dp;

    if (state_path(dir, sizeof(dir), "domains") < 0 || !(dp = opendir(dir)))
        return;
    while ((e = readdir(dp))) {
        size_t len = strlen(e->d_name);
        char err[1024], fname[256];
        char *text;
        size_t tlen;
        Domain *d;
        VmConfig *tmp;
        struct stat st;

        if (len < 5 || strcmp(e->d_name + len - 4, ".cfg"))
            continue;
        if (snprintf(p, sizeof(p), "%s/%s", dir, e->d_name) >= (int)sizeof(p))
            continue;
        if (!(text = read_file(p, &tlen))) {
            log_warn("cannot read %s: %s", p, strerror(errno));
            continue;
        }
        /* Warnings (unknown keys) once, at load. */
        if ((tmp = malloc(sizeof(*tmp)))) {
            config_init(tmp);
            config_parse(tmp, p, text, tlen, warn_cb, p, err, sizeof(err));
            free(tmp);
        }
        d = dom_from_config(p, text, tlen, NULL, 0, err, sizeof(err));
        free(text);
        if (!d) {
            log_warn("skipping managed domain: %s", err);
            continue;
        }
        /* a config defined before xend made paths canonical: the VMM
         * follows no symbolic link (pathpolicy.c) */
        if (pathpolicy_check(d, p, true, err, sizeof(err)) < 0) {
            log_warn("skipping managed domain: %s", err);
            dom_put(d);
            continue;
        }
        snprintf(fname, sizeof(fname), "%.*s", (int)(len - 4), e->d_name);
        if (strcmp(fname, d->name)) {
            log_warn("skipping %s: it defines domain '%s'", p, d->name);
            dom_put(d);
            continue;
        }
        d->managed = true;
        if (state_path(p, sizeof(p), "domains/%s.autostart", d->name) == 0 && stat(p, &st) == 0)
            d->autostart = true;
        if (state_path(p, sizeof(p), "domains/%s.saved", d->name) == 0 &&
            (text = read_file(p, &tlen))) {
            text[strcspn(text, "\n")] = '\0';
            if (text[0] == '/' && strlen(text) < sizeof(d->save_path)) {
                snprintf(d->save_path, sizeof(d->save_path), "%s", text);
                d->state = DS_SAVED;
            }
            free(text);
        }
        pthread_mutex_lock(&reg_lock);
        if (reg_add_locked(d) < 0) {
            log_warn("skipping %s: duplicate name or uuid", e->d_name);
            dom_put_locked(d);
        }
        pthread_mutex_unlock(&reg_lock);
    }
    closedir(dp);
}

/* Is pid a VMM serving sock? Guards against a recycled pid. */
static bool pid_serves(pid_t pid, const char *sock)
{
    char p[64], cmd[8192];
    ssize_t n;
    size_t len = 0;
    bool ok = false;
    int fd;

    /* /proc files have no size: read_file() does not apply. */
    snprintf(p, sizeof(p), "/proc/%d/cmdline", (int)pid);
    fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    while (len < sizeof(cmd) - 1 && (n = read(fd, cmd + len, sizeof(cmd) - 1 - len)) > 0)
        len += (size_t)n;
    close(fd);
    cmd[len] = '\0';
    for (size_t i = 0; i < len; i++) {
        if (!strcmp(cmd + i, "--control") && i + 10 < len && !strcmp(cmd + i + 10, sock)) {
            ok = true;
            break;
        }
        i += strlen(cmd + i);
    }
    return ok;
}

static int reattach_one(const char *path, int *max_id)
{
    json_error_t jerr;
    json_t *j = json_load_file(path, 0, &jerr);
    json_int_t id = -1, pid = -1, start_time = 0;
    const char *sock, *name, *uuid;
    char cfgp[PATH_MAX], err[1024], *text = NULL;
    size_t tlen;
    Domain *d;
    bool fresh = false, gone;
    int ret = -1, pidfd = -1;

    if (json_unpack(j, "{s:I,s:I,s:s,s:s,s:s}", "id", &id, "pid", &pid, "sock", &sock,
                    "name", &name, "uuid", &uuid) < 0 || id <= 0 || id >= INT32_MAX ||
        pid <= 1 || pid > INT32_MAX) {
        log_warn("%s: not a valid run record; removing it", path);
        goto out;
    }
    if ((int)id >= *max_id)
        *max_id = (int)id + 1;
    /* The pidfd first, then the check that the pid serves sock, then that
     * the pidfd's process still lives: then the process checked is the
     * pidfd's, not another one given a recycled pid. */
    pidfd = sup_pidfd_open((pid_t)pid);
    gone = pidfd < 0 || !pid_serves((pid_t)pid, sock) || sup_pidfd_signal(pidfd, 0) < 0;
    if (gone && pidfd >= 0) {
        close(pidfd);
        pidfd = -1;
    }
    pthread_mutex_lock(&reg_lock);
    d = reg_find_name_locked(name);
    if (d)
        dom_get(d);
    pthread_mutex_unlock(&reg_lock);
    if (!d) {
        if (state_path(cfgp, sizeof(cfgp), "run/%d.cfg", (int)id) < 0 ||
            !(text = read_file(cfgp, &tlen)) ||
            !(d = dom_from_config(cfgp, text, tlen, NULL, 0, err, sizeof(err)))) {
            log_warn("domain %s (id %d): cannot read its config; VMM pid %d left alone",
                     name, (int)id, (int)pid);
            goto out_keep;
        }
        fresh = true;
    }
    if (gone) {
        /* The VMM ended while no xend watched it: its exit record (written by
         * xeno-vmm next to the control socket) says how; without one it
         * was killed, a crash. Apply on_poweroff/on_reboot/on_crash now. */
        char exitp[PATH_MAX + 8], *why;
        size_t wl;

        snprintf(exitp, sizeof(exitp), "%s.exit", sock);
        why = read_file(exitp, &wl);
        if (why)
            why[strcspn(why, " \n")] = '\0';
        log_info("domain %s (id %d): its VMM ended while xend was away (%s)", name, (int)id,
                 why ? why : "no exit record: crash");
        if (fresh) {
            pthread_mutex_lock(&reg_lock);
            if (reg_add_locked(d) < 0) {
                pthread_mutex_unlock(&reg_lock);
                dom_put(d);
                free(why);
                goto out;
            }
            pthread_mutex_unlock(&reg_lock);
        }
        sup_exited_while_away(d, (int)id, why);
        free(why);
        if (!fresh)
            dom_put(d);     /* a fresh domain's reference went to the registry */
        goto out;
    }
    json_unpack(j, "{s?I}", "start_time", &start_time);
    if (d->pid > 0 || sup_attach(d, (int)id, (pid_t)pid, pidfd, sock, (time_t)start_time) < 0) {
        log_warn("domain %s (id %d): cannot re-attach to VMM pid %d", name, (int)id, (int)pid);
        dom_put(d);
        goto out_keep;
    }
    pidfd = -1;                /* the domain's now */
    if (fresh) {
        pthread_mutex_lock(&reg_lock);
        if (reg_add_locked(d) < 0) {
            pthread_mutex_unlock(&reg_lock);
            log_warn("domain %s: duplicate; VMM pid %d left alone", name, (int)pid);
            dom_put(d);
            goto out_keep;
        }
        pthread_mutex_unlock(&reg_lock);
    } else {
        dom_put(d);
    }
    ret = 0;
    goto out_keep;
out:
    if (id > 0 && id < INT32_MAX)
        state_remove_run((int)id);
    else
        unlink(path);
out_keep:
    if (pidfd >= 0)
        close(pidfd);
    free(text);
    json_decref(j);
    return ret;
}

/* "FILE.tmp.XXXXXXXX": io_write_file_atomic's temporary file, which an
 * xend killed before its rename leaves behind. */
static bool is_temp_name(const char *n)
{
    size_t len = strlen(n);

    if (len <= 13 || strncmp(n + len - 13, ".tmp.", 5))
        return false;
    for (size_t i = len - 8; i < len; i++)
        if (!isxdigit((unsigned char)n[i]))
            return false;
    return true;
}

/* Remove the temporary files of writes that never completed (xend was
 * killed): their files are still the old version. rel NULL: the state
 * dir itself. */
static void remove_stale_temps(const char *rel)
{
    char dir[PATH_MAX], p[PATH_MAX + 256];
    struct dirent *e;
    DIR *dp;

    if (!rel)
        snprintf(dir, sizeof(dir), "%s", xconf.state_dir);
    else if (state_path(dir, sizeof(dir), "%s", rel) < 0)
        return;
    if (!(dp = opendir(dir)))
        return;
    while ((e = readdir(dp)))
        if (is_temp_name(e->d_name)) {
            snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
            if (unlink(p) == 0)
                log_info("removed %s, an interrupted write", p);
        }
    closedir(dp);
}

void state_load_all(void)
{
    char dir[PATH_MAX], p[PATH_MAX];
    struct dirent *e;
    DIR *dp;
    int max_id;

    remove_stale_temps(NULL);
    remove_stale_temps("domains");
    remove_stale_temps("run");
    max_id = state_load_next_id();
    load_managed();
    if (state_path(dir, sizeof(dir), "run") == 0 && (dp = opendir(dir))) {
        /* First every recorded id, so that no domain started while we
         * re-attach (an on_crash restart of a VMM that died while xend was
         * away) can take an id that is still on record. */
        while ((e = readdir(dp))) {
            char *end;
            long id = strtol(e->d_name, &end, 10);
            if (end != e->d_name && !strcmp(end, ".json") && id > 0 && id < INT32_MAX - 1 &&
                id >= max_id)
                max_id = (int)id + 1;
        }
        pthread_mutex_lock(&reg_lock);
        reg_set_next_id_locked(max_id);
        pthread_mutex_unlock(&reg_lock);
        rewinddir(dp);
        while ((e = readdir(dp))) {
            size_t len = strlen(e->d_name);
            if (len < 6 || strcmp(e->d_name + len - 5, ".json"))
                continue;
            if (snprintf(p, sizeof(p), "%s/%s", dir, e->d_name) >= (int)sizeof(p))
                continue;
            reattach_one(p, &max_id);
        }
        closedir(dp);
    }
    reg_update_begin();
    if (reg_next_id_locked() < max_id)
        reg_set_next_id_locked(max_id);
    state_queue_next_id(reg_next_id_locked());
    reg_update_end();
}

static void *autostart_thread(void *arg)
{
    Domain **all;
    size_t n;

    (void)arg;
    pthread_mutex_lock(&reg_lock);
    n = reg_snapshot_locked(&all);
    pthread_mutex_unlock(&reg_lock);
    for (size_t i = 0; i < n; i++) {
        Domain *d = all[i];
        bool go;
        char err[1024];

        pthread_mutex_lock(&reg_lock);
        go = d->managed && d->autostart && (d->state == DS_STOPPED || d->state == DS_SAVED) &&
             d->pid == 0;
        pthread_mutex_unlock(&reg_lock);
        if (go) {
            log_info("autostarting domain %s", d->name);
            if (sup_start(d, err, sizeof(err)) < 0)
                log_err("%s", err);
        }
        dom_put(d);
    }
    free(all);
    return NULL;
}

void state_autostart(void)
{
    pthread_t t;

    if (pthread_create(&t, NULL, autostart_thread, NULL) == 0)
        pthread_detach(t);
}
