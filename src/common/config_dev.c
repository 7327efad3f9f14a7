/* Device specs inside a domain config: the strings of `disk = [ ... ]` and
 * `vif = [ ... ]`.
 *
 * Disk specs come in three shapes, all accepted as in Xen:
 *   old xm:        "file:/srv/vm.img,xvda,w"   "phy:/dev/vg/lv,hda:cdrom,r"
 *   xl positional: "/srv/vm.img,raw,xvda,rw"
 *   xl key=value:  "format=raw, vdev=xvda, access=rw, target=/srv/vm.img"
 * and may be mixed ("/srv/vm.img,xvda,serial=disk0").  `target=` swallows
 * the rest of the spec, commas included, as in xl.
 *
 * Vif specs are comma-separated key=value pairs; an empty spec means one
 * virtio NIC on user-mode networking. */
#include "config.h"
#include "util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Longest spec string we look at: a maximal path plus a few parameters. */
#define SPEC_MAX (CFG_PATH_MAX + 1024)

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err && errlen) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static char *trim(char *s)
{
    char *e;

    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
        *--e = 0;
    return s;
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Copy s into a fixed field; -1 if it does not fit. */
static int copy_field(char *dst, size_t cap, const char *s)
{
    size_t n = strlen(s);

    if (n >= cap)
        return -1;
    memcpy(dst, s, n + 1);
    return 0;
}

/* "key=value" where key is a plain word: split it. A path such as
 * "/srv/a=b.img" is not a key=value pair. */
static bool split_kv(char *item, char **key, char **val)
{
    char *eq = strchr(item, '=');
    char *p;

    if (!eq || eq == item)
        return false;
    for (p = item; p < eq; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
            return false;
    *eq = 0;
    *key = item;
    *val = trim(eq + 1);
    return true;
}

/* A count with an optional multiplier: K, M, G, T (powers of 1000) or Ki,
 * Mi, Gi, Ti (powers of 1024). Positive, at most 2^50; -1 otherwise. */
#define QUANTITY_MAX (1ull << 50)
static int parse_quantity(const char *s, const char **rest, uint64_t *out)
{
    static const struct { const char *sfx; uint64_t mul; } mults[] = {
        { "Ki", 1ull << 10 }, { "Mi", 1ull << 20 }, { "Gi", 1ull << 30 }, { "Ti", 1ull << 40 },
        { "K", 1000 }, { "k", 1000 }, { "M", 1000000 }, { "G", 1000000000 },
        { "T", 1000000000000ull },
    };
    uint64_t v = 0, mul = 1;
    const char *p = s;

    if (!isdigit((unsigned char)*p))
        return -1;
    for (; isdigit((unsigned char)*p); p++) {
        v = v * 10 + (uint64_t)(*p - '0');
        if (v > QUANTITY_MAX)
            return -1;
    }
    for (size_t i = 0; i < sizeof(mults) / sizeof(mults[0]); i++) {
        if (starts_with(p, mults[i].sfx)) {
            mul = mults[i].mul;
            p += strlen(mults[i].sfx);
            break;
        }
    }
    if (v == 0 || v > QUANTITY_MAX / mul)
        return -1;
    *out = v * mul;
    if (rest)
        *rest = p;
    else if (*p)
        return -1;
    return 0;
}

/* ---- disks ---- */

static bool is_format_word(const char *s)
{
    static const char *const formats[] = {
        "raw", "qcow", "qcow2", "vhd", "qed", "vmdk", "vdi", "aio",
    };
    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
        if (strcasecmp(s, formats[i]) == 0)
            return true;
    return false;
}

static int set_format(CfgDisk *d, const char *f, char *err, size_t errlen)
{
    /* "aio" is what tap:aio: means: a plain raw image. */
    if (strcasecmp(f, "raw") == 0 || strcasecmp(f, "aio") == 0) {
        strcpy(d->format, "raw");
        return 0;
    }
    return fail(err, errlen, "disk format '%.32s' is not supported (only raw)", f);
}

/* Strip xm/xl target prefixes: "phy:", "file:", "tap:aio:", "raw:",
 * "qcow2:" ... and reject network protocols we have no backend for. */
static int strip_target_prefixes(CfgDisk *d, char **target, char *err, size_t errlen)
{
    static const char *const plain[] = { "phy:", "file:", "tap:", "tap2:", "tapdisk:" };
    static const char *const protocols[] = {
        "nbd", "iscsi", "drbd", "rbd", "sheepdog", "http", "https", "ftp", "ssh",
    };
    char *t = *target;
    bool again = true;

    while (again) {
        char *colon;
        size_t n;

        again = false;
        for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
            if (starts_with(t, plain[i])) {
                t += strlen(plain[i]);
                again = true;
            }
        }
        colon = strchr(t, ':');
        if (again || !colon)
            continue;
        n = (size_t)(colon - t);
        for (size_t i = 0; i < sizeof(protocols) / sizeof(protocols[0]); i++)
            if (n == strlen(protocols[i]) && strncasecmp(t, protocols[i], n) == 0)
                return fail(err, errlen, "disk protocol '%s' is not supported "
                            "(only local files and block devices)", protocols[i]);
        if (n > 0 && n < 8) {
            char word[8];

            memcpy(word, t, n);
            word[n] = 0;
            if (is_format_word(word)) {
                if (set_format(d, word, err, errlen) < 0)
                    return -1;
                t = colon + 1;
                again = true;
            }
        }
    }
    *target = t;
    return 0;
}

static int set_vdev(CfgDisk *d, char *v, char *err, size_t errlen)
{
    char *colon;

    /* xm HVM configs write "ioemu:hda" */
    if (starts_with(v, "ioemu:"))
        v += 6;
    colon = strchr(v, ':');
    if (colon) {
        if (strcmp(colon, ":cdrom") == 0)
            d->cdrom = true;
        else if (strcmp(colon, ":disk") != 0)
            return fail(err, errlen, "disk vdev '%.40s' is not valid "
                        "(only ':cdrom' or ':disk' may follow the name)", v);
        *colon = 0;
    }
    if (!*v)
        return fail(err, errlen, "disk has an empty virtual device name (vdev)");
    if (strlen(v) >= sizeof(d->vdev))
        return fail(err, errlen, "disk vdev: value too long (max %zu characters)",
                    sizeof(d->vdev) - 1);
    if (!islower((unsigned char)v[0]))
        return fail(err, errlen, "disk vdev '%s' is not valid (expected a name like xvda)", v);
    for (const char *p = v; *p; p++)
        if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p))
            return fail(err, errlen, "disk vdev '%s' is not valid (expected a name like xvda)", v);
    strcpy(d->vdev, v);
    return 0;
}

static int set_access(CfgDisk *d, const char *a, char *err, size_t errlen)
{
    if (!strcmp(a, "r") || !strcmp(a, "ro"))
        d->readonly = true;
    else if (!strcmp(a, "w") || !strcmp(a, "rw") || !strcmp(a, "w!") || !strcmp(a, "rw!"))
        d->readonly = false;  /* "!" (force shared write) changes nothing for us */
    else
        return fail(err, errlen, "disk access '%.32s' is not valid (use r, ro, w or rw)", a);
    return 0;
}

static int set_serial(CfgDisk *d, const char *s, char *err, size_t errlen)
{
    if (strlen(s) >= sizeof(d->serial))
        return fail(err, errlen, "disk serial '%.32s' is too long (max %zu characters)",
                    s, sizeof(d->serial) - 1);
    for (const char *p = s; *p; p++)
        if (*p < 0x20 || *p > 0x7e)
            return fail(err, errlen, "disk serial may hold only printable ASCII characters");
    strcpy(d->serial, s);
    return 0;
}

/* Where a target= value ends: the first comma that starts a known
 * parameter ("vdev=", "cdrom" ...), or the end of the string. */
static char *target_end(char *v)
{
    static const char *const params[] = {
        "vdev=", "format=", "access=", "devtype=", "serial=", "backendtype=",
        "backend=", "script=", "target=", "cdrom", "discard", "no-discard",
        "direct-io-safe", "bps=", "iops=", "bps-burst=", "iops-burst=",
    };
    char *c;

    for (c = strchr(v, ','); c; c = strchr(c + 1, ',')) {
        const char *q = c + 1;

        while (*q == ' ' || *q == '\t')
            q++;
        for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
            size_t n = strlen(params[i]);

            if (!strncmp(q, params[i], n) &&
                (params[i][n - 1] == '=' || q[n] == 0 || q[n] == ',' || q[n] == ' '))
                return c;
        }
    }
    return v + strlen(v);
}

enum { SLOT_TARGET, SLOT_FORMAT, SLOT_VDEV, SLOT_ACCESS, NSLOTS };

/* A disk spec taken apart: the named slots, the positional items not yet
 * assigned to a slot, and the flags set along the way. */
typedef struct DiskSpec {
    char local[SPEC_MAX + 1];           /* the spec, cut in place */
    char *slot[NSLOTS];
    char *pos[NSLOTS + 1];
    int npos;
    CfgDisk d;
} DiskSpec;

/* One key=value item. */
static int disk_param(DiskSpec *S, const char *key, char *val, char *err, size_t errlen)
{
    int s = -1;

    if (!strcmp(key, "vdev")) s = SLOT_VDEV;
    else if (!strcmp(key, "format")) s = SLOT_FORMAT;
    else if (!strcmp(key, "access")) s = SLOT_ACCESS;
    if (s >= 0) {
        if (S->slot[s])
            return fail(err, errlen, "disk %s is given twice", key);
        S->slot[s] = val;
    } else if (!strcmp(key, "devtype")) {
        if (!strcmp(val, "cdrom"))
            S->d.cdrom = true;
        else if (strcmp(val, "disk") != 0)
            return fail(err, errlen, "disk devtype '%.32s' is not valid "
                        "(use disk or cdrom)", val);
    } else if (!strcmp(key, "serial")) {
        return set_serial(&S->d, val, err, errlen);
    } else if (!strcmp(key, "bps") || !strcmp(key, "bps-burst") ||
               !strcmp(key, "iops") || !strcmp(key, "iops-burst")) {
        uint64_t *dst = !strcmp(key, "bps") ? &S->d.bps :
                        !strcmp(key, "bps-burst") ? &S->d.bps_burst :
                        !strcmp(key, "iops") ? &S->d.iops : &S->d.iops_burst;

        if (parse_quantity(val, NULL, dst) < 0)
            return fail(err, errlen, "disk %s '%.32s' is not valid (expected a positive "
                        "number, optionally with K, M, G, Ki, Mi or Gi)", key, val);
    } else if (!strcmp(key, "backendtype") || !strcmp(key, "backend") ||
               !strcmp(key, "script") || !strcmp(key, "colo-host") ||
               !strcmp(key, "colo-port") || !strcmp(key, "colo-export") ||
               !strcmp(key, "active-disk") || !strcmp(key, "hidden-disk")) {
        /* Xen backend plumbing: meaningless here, accepted */
    } else {
        return fail(err, errlen, "disk parameter '%.32s' is not known", key);
    }
    return 0;
}

/* Cut the spec into items: target= (which may hold commas), key=value
 * parameters, flags, and positional items. */
static int disk_tokenize(DiskSpec *S, char *err, size_t errlen)
{
    char *p = S->local;

    while (p) {
        char *item, *key, *val, *comma;

        item = p;
        while (*item == ' ' || *item == '\t')
            item++;
        if (starts_with(item, "target=")) {
            /* xl: target= may contain commas. It ends at a comma followed by
             * another known parameter, else at the end of the spec. */
            char *end = target_end(item + 7);

            if (S->slot[SLOT_TARGET])
                return fail(err, errlen, "disk target is given twice");
            p = *end ? end + 1 : NULL;
            *end = 0;
            S->slot[SLOT_TARGET] = trim(item + 7);
            continue;
        }
        comma = strchr(p, ',');
        if (comma) {
            *comma = 0;
            p = comma + 1;
        } else {
            p = NULL;
        }
        item = trim(item);
        if (split_kv(item, &key, &val)) {
            if (disk_param(S, key, val, err, errlen) < 0)
                return -1;
        } else if (!strcmp(item, "cdrom")) {
            S->d.cdrom = true;
        } else if (strcmp(item, "discard") && strcmp(item, "no-discard") &&
                   strcmp(item, "direct-io-safe")) {
            if (S->npos == NSLOTS)
                return fail(err, errlen, "disk spec has too many parameters");
            S->pos[S->npos++] = item;
        }
    }
    /* a trailing comma leaves an empty last positional: drop it */
    while (S->npos > 0 && !*S->pos[S->npos - 1])
        S->npos--;
    return 0;
}

/* Positional items fill the slots in xm's order (target,vdev,access) or
 * xl's (target,format,vdev,access), told apart by whether the second one
 * names a format. */
static int disk_positionals(DiskSpec *S, char *err, size_t errlen)
{
    static const int xl_order[NSLOTS] = { SLOT_TARGET, SLOT_FORMAT, SLOT_VDEV, SLOT_ACCESS };
    static const int xm_order[NSLOTS] = { SLOT_TARGET, SLOT_VDEV, SLOT_ACCESS, -1 };
    static const char *const slot_names[NSLOTS] = { "target", "format", "vdev", "access" };
    const int *order = xl_order;

    if (S->npos >= 2 && !is_format_word(S->pos[1]))
        order = xm_order;
    for (int i = 0; i < S->npos; i++) {
        if (order[i] < 0)
            return fail(err, errlen, "disk spec has too many parameters");
        if (S->slot[order[i]])
            return fail(err, errlen, "disk %s is given twice", slot_names[order[i]]);
        S->slot[order[i]] = S->pos[i];
    }
    return 0;
}

/* The slots into the CfgDisk, each checked. */
static int disk_fill(DiskSpec *S, char *err, size_t errlen)
{
    CfgDisk *d = &S->d;
    char **slot = S->slot;

    if (!slot[SLOT_TARGET] || !*slot[SLOT_TARGET])
        return fail(err, errlen, "disk has an empty target path");
    if (strip_target_prefixes(d, &slot[SLOT_TARGET], err, errlen) < 0)
        return -1;
    if (!*slot[SLOT_TARGET])
        return fail(err, errlen, "disk has an empty target path");
    if (copy_field(d->path, sizeof(d->path), slot[SLOT_TARGET]) < 0)
        return fail(err, errlen, "disk path: value too long (max %d characters)",
                    CFG_PATH_MAX - 1);
    if (slot[SLOT_FORMAT] && *slot[SLOT_FORMAT] &&
        set_format(d, slot[SLOT_FORMAT], err, errlen) < 0)
        return -1;
    if (!d->format[0])
        strcpy(d->format, "raw");
    if (!slot[SLOT_VDEV] || !*slot[SLOT_VDEV])
        return fail(err, errlen, "disk '%.64s' has no virtual device name (vdev)", d->path);
    if (set_vdev(d, slot[SLOT_VDEV], err, errlen) < 0)
        return -1;
    if (slot[SLOT_ACCESS] && *slot[SLOT_ACCESS] &&
        set_access(d, slot[SLOT_ACCESS], err, errlen) < 0)
        return -1;
    if (d->cdrom)
        d->readonly = true;  /* a CD-ROM is read-only whatever the spec says */
    if (d->bps_burst && !d->bps)
        return fail(err, errlen, "disk '%.64s': bps-burst needs bps", d->path);
    if (d->iops_burst && !d->iops)
        return fail(err, errlen, "disk '%.64s': iops-burst needs iops", d->path);
    return 0;
}

int config_parse_disk(CfgDisk *out, const char *spec, char *err, size_t errlen)
{
    DiskSpec S;

    if (!spec)
        return fail(err, errlen, "disk spec is missing");
    if (strnlen(spec, SPEC_MAX + 1) > SPEC_MAX)
        return fail(err, errlen, "disk spec: value too long (max %d characters)", SPEC_MAX);
    memset(&S, 0, sizeof(S));
    strcpy(S.local, spec);
    if (disk_tokenize(&S, err, errlen) || disk_positionals(&S, err, errlen) ||
        disk_fill(&S, err, errlen))
        return -1;
    *out = S.d;
    return 0;
}

/* ---- vifs ---- */

static bool valid_ifname(const char *s)
{
    /* Linux interface names: 1..15 bytes, no '/', ':' or whitespace */
    size_t n = strlen(s);

    if (n == 0 || n > 15)
        return false;
    for (; *s; s++)
        if (*s <= ' ' || *s > '~' || *s == '/' || *s == ':')
            return false;
    return true;
}

static int parse_mac(uint8_t mac[6], const char *s)
{
    for (int i = 0; i < 6; i++) {
        int hi = hex_digit(s[0]), lo = hi < 0 ? -1 : hex_digit(s[1]);

        if (hi < 0 || lo < 0)
            return -1;
        mac[i] = (uint8_t)(hi << 4 | lo);
        s += 2;
        if (i < 5 && *s++ != ':')
            return -1;
    }
    return *s ? -1 : 0;
}

static int parse_port(const char *s, size_t n, uint16_t *out)
{
    unsigned v = 0;

    if (n == 0 || n > 5)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v == 0 || v > 65535)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

/* Xen's vif rate: RATE/s[@INTERVAL], RATE a number with an optional
 * G/M/K multiplier (powers of 1000) and B (bytes) or b (bits), INTERVAL
 * a number with s, ms or us (default 50ms): the guest may send RATE per
 * second, in credits of RATE * INTERVAL. */
#define VIF_RATE_INTERVAL_DEFAULT_US 50000
static int parse_rate(CfgNic *n, const char *s, char *err, size_t errlen)
{
    const char *p;
    uint64_t v, us = VIF_RATE_INTERVAL_DEFAULT_US;

    if (parse_quantity(s, &p, &v) < 0)
        goto bad;
    if (*p == 'b')
        v /= 8;
    else if (*p != 'B')
        goto bad;
    if (strncmp(p + 1, "/s", 2) != 0 || v == 0)
        goto bad;
    p += 3;
    if (*p == '@') {
        const char *unit;

        if (parse_quantity(p + 1, &unit, &us) < 0)
            goto bad;
        if (!strcmp(unit, "s"))
            us *= 1000000;
        else if (!strcmp(unit, "ms"))
            us *= 1000;
        else if (strcmp(unit, "us") != 0)
            goto bad;
        if (us > 10000000)
            return fail(err, errlen, "vif rate '%.40s': the interval is at most 10s", s);
    } else if (*p) {
        goto bad;
    }
    n->rate_bps = v;
    n->rate_interval_us = us;
    return 0;
bad:
    return fail(err, errlen, "vif rate '%.40s' is not valid (expected RATE/s[@INTERVAL], "
                "e.g. 10Mb/s or 1MB/s@20ms)", s);
}

/* [tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport */
static int parse_hostfwd(CfgFwd *f, const char *s, char *err, size_t errlen)
{
    const char *p = s, *colon, *dash, *gcolon;
    size_t alen;

    memset(f, 0, sizeof(*f));
    if (starts_with(p, "tcp:")) {
        p += 4;
    } else if (starts_with(p, "udp:")) {
        f->udp = true;
        p += 4;
    } else if (*p == ':') {
        p++;
    } else {
        goto bad;
    }
    dash = strchr(p, '-');
    if (!dash)
        goto bad;
    colon = memchr(p, ':', (size_t)(dash - p));
    if (!colon)
        goto bad;
    alen = (size_t)(colon - p);
    if (alen) {
        struct in_addr a;

        if (alen >= sizeof(f->host_addr))
            goto bad;
        memcpy(f->host_addr, p, alen);
        f->host_addr[alen] = 0;
        if (inet_pton(AF_INET, f->host_addr, &a) != 1)
            return fail(err, errlen, "vif hostfwd '%.64s': host address '%s' is not "
                        "an IPv4 address", s, f->host_addr);
    }
    if (parse_port(colon + 1, (size_t)(dash - colon - 1), &f->host_port) < 0)
        goto bad;
    gcolon = strchr(dash + 1, ':');
    if (!gcolon)
        goto bad;
    if (gcolon != dash + 1)
        return fail(err, errlen, "vif hostfwd '%.64s': a guest address is not supported "
                    "(write it as tcp::8080-:80)", s);
    if (parse_port(gcolon + 1, strlen(gcolon + 1), &f->guest_port) < 0)
        goto bad;
    return 0;
bad:
    return fail(err, errlen, "vif hostfwd '%.64s' is not valid "
                "(expected tcp:[hostaddr]:hostport-:guestport, ports 1-65535)", s);
}

int config_parse_vif(CfgNic *out, const char *spec, char *err, size_t errlen)
{
    char local[SPEC_MAX + 1];
    char type[16] = "";
    char *p;
    CfgNic n;

    if (!spec)
        spec = "";
    if (strnlen(spec, SPEC_MAX + 1) > SPEC_MAX)
        return fail(err, errlen, "vif spec: value too long (max %d characters)", SPEC_MAX);
    memset(&n, 0, sizeof(n));
    strcpy(n.model, "virtio");
    strcpy(local, spec);

    for (p = local; p; ) {
        char *item = p, *comma = strchr(p, ','), *key, *val;

        if (comma) {
            *comma = 0;
            p = comma + 1;
        } else {
            p = NULL;
        }
        item = trim(item);
        if (!*item)
            continue;
        if (!split_kv(item, &key, &val))
            return fail(err, errlen, "vif parameter '%.32s' is not key=value", item);

        if (!strcmp(key, "mac")) {
            if (parse_mac(n.mac, val) < 0)
                return fail(err, errlen, "vif mac '%.32s' is not valid "
                            "(expected six hex pairs like 00:16:3e:01:02:03)", val);
            if (n.mac[0] & 1)
                return fail(err, errlen, "vif mac '%s' is a multicast address", val);
            n.mac_set = true;
        } else if (!strcmp(key, "bridge")) {
            if (!valid_ifname(val))
                return fail(err, errlen, "vif bridge name '%.32s' is not valid", val);
            strcpy(n.bridge, val);
        } else if (!strcmp(key, "vifname")) {
            if (!valid_ifname(val))
                return fail(err, errlen, "vif vifname '%.32s' is not valid "
                            "(1-15 characters, no '/', ':' or spaces)", val);
            strcpy(n.ifname, val);
        } else if (!strcmp(key, "model")) {
            if (strcmp(val, "virtio") && strcmp(val, "virtio-net") && strcmp(val, "virtio-net-pci"))
                return fail(err, errlen, "vif model '%.32s' is not supported (only virtio)", val);
        } else if (!strcmp(key, "type")) {
            if (strcmp(val, "ioemu") && strcmp(val, "vif") && strcmp(val, "user") &&
                strcmp(val, "tap") && strcmp(val, "bridge") && strcmp(val, "netfront"))
                return fail(err, errlen, "vif type '%.32s' is not valid "
                            "(use ioemu, vif, user, tap or bridge)", val);
            strcpy(type, val);
        } else if (!strcmp(key, "hostfwd")) {
            if (n.nfwd >= CFG_MAX_FWDS)
                return fail(err, errlen, "vif has too many hostfwd rules (max %d)", CFG_MAX_FWDS);
            if (parse_hostfwd(&n.fwd[n.nfwd], val, err, errlen) < 0)
                return -1;
            n.nfwd++;
        } else if (!strcmp(key, "host-loopback")) {
            if (strcmp(val, "0") && strcmp(val, "1"))
                return fail(err, errlen, "vif host-loopback '%.32s' is not valid (use 0 or 1)", val);
            n.host_loopback = val[0] == '1';
        } else if (!strcmp(key, "rate")) {
            if (parse_rate(&n, val, err, errlen) < 0)
                return -1;
        } else if (!strcmp(key, "ip") || !strcmp(key, "script") || !strcmp(key, "backend") ||
                   !strcmp(key, "netmask") || !strcmp(key, "gatewaydev") ||
                   !strcmp(key, "gateway") || !strcmp(key, "accel") || !strcmp(key, "devid") ||
                   !strcmp(key, "uuid") || !strcmp(key, "mtu")) {
            /* Xen host-side plumbing: accepted and ignored */
        } else {
            return fail(err, errlen, "vif parameter '%.32s' is not known", key);
        }
    }

    /* Resolve the network type as Xen does: a bridge= means vif-bridge. */
    if (!type[0] || !strcmp(type, "ioemu") || !strcmp(type, "vif") || !strcmp(type, "netfront"))
        n.type = n.bridge[0] ? CFG_NET_BRIDGE : CFG_NET_USER;
    else if (!strcmp(type, "user"))
        n.type = CFG_NET_USER;
    else if (!strcmp(type, "tap"))
        n.type = CFG_NET_TAP;
    else
        n.type = CFG_NET_BRIDGE;

    if (n.type == CFG_NET_BRIDGE && !n.bridge[0])
        strcpy(n.bridge, "xenbr0");  /* Xen's default bridge */
    if (n.type != CFG_NET_BRIDGE && n.bridge[0])
        return fail(err, errlen, "vif type '%s' cannot use bridge= (use type=bridge)", type);
    if (n.type != CFG_NET_USER && n.nfwd)
        return fail(err, errlen, "vif hostfwd= needs user networking (type=user)");
    if (n.type != CFG_NET_USER && n.host_loopback)
        return fail(err, errlen, "vif host-loopback= needs user networking (type=user)");
    *out = n;
    return 0;
}
