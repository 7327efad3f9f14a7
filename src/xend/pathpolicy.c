/* What a domain config may name on the host (docs/config.md, "What a
 * config may name").
 *
 * A client with full access (root on the local UNIX socket) may name any
 * file or device, as with Xen. Any other client may name only regular
 * files inside the image directories (xend-image-dirs; by default
 * /var/lib/xeno/images, /var/lib/xeno/boot, the default guest's directory
 * and the libvirt storage pool STATE/images): no phy: device, no file
 * elsewhere. Paths are made canonical first (realpath), so neither ".."
 * nor a symbolic link leads out of a directory; the VMM is then given the
 * canonical paths and opens them without following links
 * (common/safeopen.h), so a link put in place after the check is refused
 * rather than followed. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/config.h"
#include "xend.h"

#ifndef XENO_GUEST_DIR
#define XENO_GUEST_DIR ""
#endif

/* One path of the config: what it is (for messages) and where it lives. */
typedef struct PathRef {
    const char *what;          /* "disk", "kernel"... */
    char *path;                /* CFG_PATH_MAX bytes */
} PathRef;

static unsigned config_paths(VmConfig *c, PathRef *out)
{
    unsigned n = 0;

    for (unsigned i = 0; i < c->ndisks && i < CFG_MAX_DISKS; i++)
        out[n++] = (PathRef){ "disk", c->disk[i].path };
    out[n++] = (PathRef){ "kernel", c->kernel };
    out[n++] = (PathRef){ "ramdisk", c->ramdisk };
    out[n++] = (PathRef){ "firmware", c->firmware };
    return n;
}

/* Is canonical path p inside directory dir (canonical, no trailing '/')? */
static bool path_under(const char *p, const char *dir)
{
    size_t n = strlen(dir);

    if (n == 1 && dir[0] == '/')
        return true;
    return !strncmp(p, dir, n) && p[n] == '/';
}

/* Inside one of the ':'-separated dirs (each made canonical; one that does
 * not exist holds nothing)? */
static bool in_dirs(const char *p, const char *dirs)
{
    const char *s = dirs;

    while (*s) {
        const char *e = strchr(s, ':');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        char dir[PATH_MAX], real[PATH_MAX];

        if (n && n < sizeof(dir) && s[0] == '/') {
            memcpy(dir, s, n);
            dir[n] = 0;
            if (realpath(dir, real) && path_under(p, real))
                return true;
        }
        s += n;
        if (*s == ':')
            s++;
    }
    return false;
}

/* dirs for a message: ':' as ", " */
static void dirs_list(const char *dirs, char *buf, size_t size)
{
    size_t k = 0;

    for (const char *s = dirs; *s && k + 3 < size; s++) {
        if (*s == ':') {
            if (k && s[1] && s[1] != ':') {
                buf[k++] = ',';
                buf[k++] = ' ';
            }
        } else {
            buf[k++] = *s;
        }
    }
    buf[k] = 0;
}

static int refuse(const char *file, const PathRef *r, const char *real, const char *why,
                  const char *dirs, char *err, size_t errlen)
{
    char list[1024];

    dirs_list(dirs, list, sizeof(list));
    snprintf(err, errlen, "%s: %s '%s'%s%s%s: %s; without full access (root on xend's local "
             "socket) a config may name only regular files in %s", file, r->what, r->path,
             real && strcmp(real, r->path) ? " (" : "", real && strcmp(real, r->path) ? real : "",
             real && strcmp(real, r->path) ? ")" : "", why, list[0] ? list : "(no directory)");
    return -1;
}

int pathpolicy_check_config(VmConfig *cfg, const char *file, const char *dirs,
                            bool full_access, char *err, size_t errlen)
{
    PathRef refs[CFG_MAX_DISKS + 3];
    unsigned n = config_paths(cfg, refs);
    bool changed = false;

    for (unsigned i = 0; i < n; i++) {
        const PathRef *r = &refs[i];
        char real[PATH_MAX];
        struct stat st = { 0 };

        if (!r->path[0])
            continue;
        if (!realpath(r->path, real)) {
            int e = errno;

            if (full_access)
                continue;       /* as before: the VMM says what is wrong */
            snprintf(err, errlen, "%s: %s '%s': %s", file, r->what, r->path, strerror(e));
            return -1;
        }
        if (!full_access) {
            if (stat(real, &st) < 0 || !S_ISREG(st.st_mode))
                return refuse(file, r, real, S_ISBLK(st.st_mode) ?
                              "a block device (phy:)" : "not a regular file", dirs, err, errlen);
            if (!in_dirs(real, dirs))
                return refuse(file, r, real, "outside the image directories", dirs, err, errlen);
        }
        if (strcmp(real, r->path)) {
            if (strlen(real) >= CFG_PATH_MAX) {
                snprintf(err, errlen, "%s: %s '%s': the canonical path is too long", file,
                         r->what, r->path);
                return -1;
            }
            strcpy(r->path, real);
            changed = true;
        }
    }
    return changed;
}

void pathpolicy_dirs(char *buf, size_t size)
{
    const char *guest = getenv("XENO_GUEST_DIR");

    if (!guest || !*guest)
        guest = XENO_GUEST_DIR;
    /* The default guest stays allowed: it is what a config naming no
     * kernel runs, and a save file of such a domain names it. */
    if (xconf.image_dirs[0]) {
        snprintf(buf, size, "%s%s%s", xconf.image_dirs, guest[0] ? ":" : "", guest);
        return;
    }
    snprintf(buf, size, "%s%s%s%s%s/images", PATHPOLICY_DEFAULT_DIRS, guest[0] ? ":" : "",
             guest, xconf.state_dir[0] ? ":" : "", xconf.state_dir);
    if (!xconf.state_dir[0])
        buf[strlen(buf) - strlen("/images")] = 0;
}

int pathpolicy_check(Domain *d, const char *file, bool full_access, char *err, size_t errlen)
{
    char dirs[sizeof(xconf.image_dirs) + 2 * PATH_MAX];
    char *text;
    int r, n;

    pathpolicy_dirs(dirs, sizeof(dirs));
    r = pathpolicy_check_config(d->cfg, file, dirs, full_access, err, errlen);
    if (r <= 0)
        return r;
    /* The VMM opens what it is given without following links: give it the
     * canonical paths. */
    text = malloc(CONFIG_FORMAT_MAX + 64);
    if (!text || (n = config_format(d->cfg, text, CONFIG_FORMAT_MAX)) < 0) {
        free(text);
        snprintf(err, errlen, "%s: out of memory", file);
        return -1;
    }
    /* the uuid xend gave a config without one is in the text, not in cfg */
    if (!d->cfg->uuid_set)
        n += snprintf(text + n, 64, "uuid = \"%s\"\n", d->uuid);
    free(d->config);
    d->config = realloc(text, (size_t)n + 1) ?: text;
    return 0;
}

void pathpolicy_save_dirs(char *buf, size_t size)
{
    if (xconf.save_dirs[0])
        snprintf(buf, size, "%s", xconf.save_dirs);
    else
        snprintf(buf, size, "%s%s%s%s", PATHPOLICY_DEFAULT_SAVE_DIRS,
                 xconf.state_dir[0] ? ":" : "", xconf.state_dir,
                 xconf.state_dir[0] ? "/save" : "");
}

/* xend, as root, creates PATH.tmp and renames it to PATH for a save, and
 * reads PATH for a restore: a client that may not name any host path must
 * not make it write or read a file of its choosing (/etc/shadow.tmp, then
 * a rename over /etc/shadow). */
int pathpolicy_check_savefile(const char *path, bool create, bool full_access,
                              char *err, size_t errlen)
{
    char dirs[sizeof(xconf.save_dirs) + PATH_MAX + 8], list[1024];
    char dir[PATH_MAX], real[PATH_MAX], probe[PATH_MAX + 2];
    const char *base, *why = NULL;
    struct stat st;

    if (full_access)
        return 0;
    pathpolicy_save_dirs(dirs, sizeof(dirs));
    dirs_list(dirs, list, sizeof(list));
    if (path[0] != '/') {
        why = "not an absolute path";
    } else if (create) {
        base = strrchr(path, '/') + 1;
        snprintf(dir, sizeof(dir), "%.*s", (int)(base - path), path);
        if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
            why = "not a file name";
        else if (!realpath(dir, real))
            why = strerror(errno);
        else if (snprintf(probe, sizeof(probe), "%s/x", real), !in_dirs(probe, dirs))
            why = "outside the save directories";
        else if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
            why = "exists and is not a regular file";
    } else {
        if (!realpath(path, real))
            why = strerror(errno);
        else if (stat(real, &st) < 0 || !S_ISREG(st.st_mode))
            why = "not a regular file";
        else if (!in_dirs(real, dirs))
            why = "outside the save directories";
    }
    if (!why)
        return 0;
    snprintf(err, errlen, "save file '%s': %s; without full access (root on xend's local "
             "socket) save files live only in %s", path, why, list[0] ? list : "(no directory)");
    return -1;
}
