/* Domain XML <-> Xeno's domain configuration (VmConfig, the xl.cfg model),
 * and the other XML documents of the libvirt API (capabilities, domain
 * capabilities, storage pools and volumes), with libxml2.
 *
 * Parsing honours every element it meets or refuses the document with a
 * message naming the element (VIR_ERR_CONFIG_UNSUPPORTED): a graphics
 * device, an arch this host cannot run, a qcow2 disk are refused, never
 * dropped. A few elements that describe nothing a Xeno machine has are
 * accepted and not kept: <metadata>, <features>, <clock>, <cpu>, <pm>,
 * <resource>, <seclabel>, <genid>, <emulator>, <alias> and <address> of
 * devices, <controller>s (device addresses are not kept either). A
 * <title> or <description> would be lost: refused. Formatting gives what
 * parsing reads back to the same configuration.
 *
 * Pure: no I/O, no xend state; the host's facts come in LvXmlCtx. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlwriter.h>

#include "common/limits.h"
#include "libvirt.h"

#define XML_MAX      (1u << 20)     /* a domain, pool or volume XML */
#define MIB          (1024ull * 1024)
#define MEMORY_MAX_MIB 1048576ull    /* config.c's limit */

/* ---- reading ---- */

typedef struct Rd {
    LvError *e;
    const LvXmlCtx *ctx;
} Rd;

static bool is_elem(const xmlNode *n) { return n->type == XML_ELEMENT_NODE; }
static bool named(const xmlNode *n, const char *s) { return !strcmp((const char *)n->name, s); }

/* An attribute into buf: 1 present, 0 absent, -1 too long (e set). */
static int attr(Rd *r, const xmlNode *n, const char *name, char *buf, size_t size)
{
    xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
    size_t len;

    buf[0] = '\0';
    if (!v)
        return 0;
    len = strlen((const char *)v);
    if (len >= size) {
        xmlFree(v);
        return lv_error(r->e, LV_ERR_XML_ERROR, "<%s %s='...'>: longer than %zu characters",
                        (const char *)n->name, name, size - 1);
    }
    memcpy(buf, v, len + 1);
    xmlFree(v);
    return 1;
}

/* The element's text, trimmed: 0, or -1 when too long (e set). */
static int text(Rd *r, const xmlNode *n, char *buf, size_t size)
{
    xmlChar *v = xmlNodeGetContent(n);
    const char *s = v ? (const char *)v : "";
    size_t len;

    while (isspace((unsigned char)*s))
        s++;
    len = strlen(s);
    while (len && isspace((unsigned char)s[len - 1]))
        len--;
    if (len >= size) {
        xmlFree(v);
        return lv_error(r->e, LV_ERR_XML_ERROR, "<%s>: longer than %zu characters",
                        (const char *)n->name, size - 1);
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    xmlFree(v);
    return 0;
}

static int refuse(Rd *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int refuse(Rd *r, const char *fmt, ...)
{
    char msg[768];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return lv_error(r->e, LV_ERR_CONFIG_UNSUPPORTED, "%s", msg);
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (!*s || !isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

int lvxml_scale(uint64_t value, const char *unit, const char *default_unit, uint64_t *bytes)
{
    static const struct { const char *u; uint64_t mul; } units[] = {
        { "b", 1 }, { "bytes", 1 },
        { "k", 1024 }, { "KiB", 1024 }, { "KB", 1000 },
        { "M", 1ull << 20 }, { "MiB", 1ull << 20 }, { "MB", 1000000 },
        { "G", 1ull << 30 }, { "GiB", 1ull << 30 }, { "GB", 1000000000 },
        { "T", 1ull << 40 }, { "TiB", 1ull << 40 }, { "TB", 1000000000000ull },
        { "P", 1ull << 50 }, { "PiB", 1ull << 50 }, { "PB", 1000000000000000ull },
        { "E", 1ull << 60 }, { "EiB", 1ull << 60 }, { "EB", 1000000000000000000ull },
    };
    const char *u = unit && *unit ? unit : default_unit;

    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        bool match = !strcmp(u, units[i].u) ||
                     (strlen(u) == 1 && tolower((unsigned char)u[0]) ==
                      tolower((unsigned char)units[i].u[0]) && strlen(units[i].u) == 1);
        if (!match)
            continue;
        if (value && units[i].mul > UINT64_MAX / value)
            return -1;
        *bytes = value * units[i].mul;
        return 0;
    }
    return -1;
}

/* <NAME unit='U'>N</NAME> in bytes (default unit KiB, as libvirt's). */
static int sized(Rd *r, const xmlNode *n, const char *default_unit, uint64_t *bytes)
{
    char t[64], unit[16];
    uint64_t v;

    if (text(r, n, t, sizeof(t)) < 0 || attr(r, n, "unit", unit, sizeof(unit)) < 0)
        return -1;
    if (parse_u64(t, &v) < 0)
        return lv_error(r->e, LV_ERR_XML_ERROR, "<%s>: '%s' is not a number",
                        (const char *)n->name, t);
    if (lvxml_scale(v, unit, default_unit, bytes) < 0)
        return lv_error(r->e, LV_ERR_XML_ERROR, "<%s unit='%s'>: unknown unit or too large",
                        (const char *)n->name, unit);
    return 0;
}

/* Parse a document; NULL with e set. DTDs (and with them entities) are
 * refused: libvirt's documents have none. */
static xmlDoc *read_doc(const char *xml, size_t len, const char *what, LvError *e)
{
    xmlParserCtxtPtr ctxt;
    xmlDoc *doc;

    if (len > XML_MAX) {
        lv_error(e, LV_ERR_XML_ERROR, "the %s XML is larger than %u KiB", what, XML_MAX >> 10);
        return NULL;
    }
    if (!(ctxt = xmlNewParserCtxt())) {
        lv_error(e, LV_ERR_NO_MEMORY, "XML parser");
        return NULL;
    }
    doc = xmlCtxtReadMemory(ctxt, xml, (int)len, what, NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc) {
        const xmlError *x = xmlCtxtGetLastError(ctxt);
        char msg[256];

        snprintf(msg, sizeof(msg), "%s", x && x->message ? x->message : "not well formed");
        msg[strcspn(msg, "\n")] = '\0';
        lv_error(e, LV_ERR_XML_ERROR, "%s XML, line %d: %s", what, x ? x->line : 0, msg);
    } else if (doc->intSubset || doc->extSubset) {
        lv_error(e, LV_ERR_XML_ERROR, "the %s XML has a DOCTYPE: not allowed", what);
        xmlFreeDoc(doc);
        doc = NULL;
    } else if (!xmlDocGetRootElement(doc)) {
        lv_error(e, LV_ERR_XML_ERROR, "the %s XML is empty", what);
        xmlFreeDoc(doc);
        doc = NULL;
    }
    xmlFreeParserCtxt(ctxt);
    return doc;
}

/* ---- <os> ---- */

/* What the domain parse collects before it fills the config. */
typedef struct DomParse {
    VmConfig *cfg;
    uint64_t max_bytes, cur_bytes;
    bool have_max, have_cur, have_name, have_os;
    unsigned vcpu_max, vcpu_cur;
} DomParse;

static int os_arch(Rd *r, const xmlNode *t, VmConfig *cfg)
{
    const LvArchs *a = r->ctx->archs;
    char arch[32], machine[32], kind[16];

    if (attr(r, t, "arch", arch, sizeof(arch)) < 0 ||
        attr(r, t, "machine", machine, sizeof(machine)) < 0 || text(r, t, kind, sizeof(kind)) < 0)
        return -1;
    if (strcmp(kind, "xen") && strcmp(kind, "linux"))
        return refuse(r, "<os><type>%s</type>: Xeno boots kernels directly: the os type is "
                      "'xen' (or 'linux')", kind);
    if (!arch[0])
        snprintf(arch, sizeof(arch), "%s", a->x86_64 ? "x86_64" : "riscv64");
    if (!strcmp(arch, "riscv64")) {
        if (machine[0] && strcmp(machine, "virt"))
            return refuse(r, "<os><type machine='%s'>: riscv64 domains are of machine 'virt'",
                          machine);
        cfg->arch = CFG_ARCH_RISCV64;
        cfg->engine = CFG_ENGINE_EMU;
        return 0;
    }
    if (!strcmp(arch, "x86_64")) {
        if (!a->x86_64)
            return refuse(r, "<os><type arch='x86_64'>: %s", a->x86_refusal);
        if (machine[0] && strcmp(machine, "xenpv"))
            return refuse(r, "<os><type machine='%s'>: x86_64 domains are of machine 'xenpv'",
                          machine);
        cfg->arch = CFG_ARCH_X86_64;
        cfg->engine = CFG_ENGINE_KVM;
        return 0;
    }
    return refuse(r, "<os><type arch='%s'>: this host runs riscv64%s guests", arch,
                  a->x86_64 ? " and x86_64" : "");
}

static int os_boot(Rd *r, const xmlNode *n)
{
    char dev[16];

    if (attr(r, n, "dev", dev, sizeof(dev)) < 0)
        return -1;
    if (strcmp(dev, "hd"))
        return refuse(r, "<os><boot dev='%s'>: Xeno boots the domain's kernel (dev 'hd')", dev);
    return 0;
}

static int parse_os(Rd *r, const xmlNode *os, DomParse *dp)
{
    VmConfig *cfg = dp->cfg;
    char fw[16];
    bool have_type = false;

    if (attr(r, os, "firmware", fw, sizeof(fw)) < 0)
        return -1;
    if (fw[0])
        return refuse(r, "<os firmware='%s'>: Xeno boots kernels directly", fw);
    for (const xmlNode *n = os->children; n; n = n->next) {
        if (!is_elem(n))
            continue;
        if (named(n, "type")) {
            if (os_arch(r, n, cfg) < 0)
                return -1;
            have_type = true;
        } else if (named(n, "kernel")) {
            if (text(r, n, cfg->kernel, sizeof(cfg->kernel)) < 0)
                return -1;
        } else if (named(n, "initrd")) {
            if (text(r, n, cfg->ramdisk, sizeof(cfg->ramdisk)) < 0)
                return -1;
        } else if (named(n, "cmdline")) {
            if (text(r, n, cfg->cmdline, sizeof(cfg->cmdline)) < 0)
                return -1;
            cfg->cmdline_given = true;
        } else if (named(n, "loader")) {
            char type[16];

            if (attr(r, n, "type", type, sizeof(type)) < 0 ||
                text(r, n, cfg->firmware, sizeof(cfg->firmware)) < 0)
                return -1;
            if (type[0] && strcmp(type, "rom"))
                return refuse(r, "<os><loader type='%s'>: the loader is M-mode firmware "
                              "(type 'rom')", type);
        } else if (named(n, "boot")) {
            if (os_boot(r, n) < 0)
                return -1;
        } else if (!named(n, "bootmenu") && !named(n, "acpi") && !named(n, "smbios") &&
                   !named(n, "bios")) {
            return refuse(r, "<os><%s> is not supported by Xeno", (const char *)n->name);
        }
    }
    if (!have_type)
        return lv_error(r->e, LV_ERR_XML_ERROR, "<os> has no <type>");
    dp->have_os = true;
    return 0;
}

/* After <os> and the rest: what the arch needs. */
static int check_os(Rd *r, const VmConfig *cfg)
{
    if (cfg->arch == CFG_ARCH_X86_64 && !cfg->kernel[0])
        return refuse(r, "<os>: an x86_64 domain needs a <kernel> (Xeno boots x86_64 kernels "
                      "directly)");
    if (cfg->arch == CFG_ARCH_X86_64 && cfg->firmware[0])
        return refuse(r, "<os><loader>: x86_64 domains have no firmware");
    if (!cfg->kernel[0] && (cfg->ramdisk[0] || cfg->cmdline[0]))
        return refuse(r, "<os>: <initrd> and <cmdline> need a <kernel> (without one the "
                      "domain boots Xeno's default guest)");
    return 0;
}

/* ---- devices ---- */

static bool dev_name_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s))
            return false;
    return true;
}

static int disk_source(Rd *r, const xmlNode *n, const char *type, CfgDisk *d)
{
    char pool[128], vol[256];

    if (!strcmp(type, "file"))
        return attr(r, n, "file", d->path, sizeof(d->path)) < 0 ? -1 : 0;
    if (!strcmp(type, "block"))
        return attr(r, n, "dev", d->path, sizeof(d->path)) < 0 ? -1 : 0;
    if (attr(r, n, "pool", pool, sizeof(pool)) < 0 || attr(r, n, "volume", vol, sizeof(vol)) < 0)
        return -1;
    if (!r->ctx->resolve)
        return refuse(r, "<disk type='volume'>: storage volumes cannot be resolved here");
    return r->ctx->resolve(pool, vol, d->path, sizeof(d->path), r->e);
}

static int disk_driver(Rd *r, const xmlNode *n)
{
    char type[16];

    if (attr(r, n, "type", type, sizeof(type)) < 0)
        return -1;
    if (type[0] && strcmp(type, "raw"))
        return refuse(r, "<disk><driver type='%s'>: Xeno disks are raw images", type);
    return 0;
}

static int disk_target(Rd *r, const xmlNode *n, CfgDisk *d)
{
    char bus[16];

    if (attr(r, n, "dev", d->vdev, sizeof(d->vdev)) < 0 || attr(r, n, "bus", bus, sizeof(bus)) < 0)
        return -1;
    if (!dev_name_ok(d->vdev))
        return lv_error(r->e, LV_ERR_XML_ERROR, "<disk><target dev='%s'>: expected a device "
                        "name such as xvda", d->vdev);
    if (bus[0] && strcmp(bus, "xen") && strcmp(bus, "virtio"))
        return refuse(r, "<disk><target bus='%s'>: Xeno disks are virtio (bus 'xen' or 'virtio')",
                      bus);
    return 0;
}

static int parse_disk(Rd *r, const xmlNode *disk, VmConfig *cfg)
{
    char type[16], device[16];
    CfgDisk *d;
    bool have_source = false;

    if (cfg->ndisks == CFG_MAX_DISKS)
        return refuse(r, "<devices><disk>: at most %d disks", CFG_MAX_DISKS);
    d = &cfg->disk[cfg->ndisks];
    memset(d, 0, sizeof(*d));
    if (attr(r, disk, "type", type, sizeof(type)) < 0 ||
        attr(r, disk, "device", device, sizeof(device)) < 0)
        return -1;
    if (strcmp(type, "file") && strcmp(type, "block") && strcmp(type, "volume"))
        return refuse(r, "<disk type='%s'>: Xeno disks are files, block devices or volumes",
                      type);
    if (device[0] && strcmp(device, "disk") && strcmp(device, "cdrom"))
        return refuse(r, "<disk device='%s'>: Xeno has disks and CD-ROM images", device);
    d->cdrom = !strcmp(device, "cdrom");
    d->readonly = d->cdrom;
    snprintf(d->format, sizeof(d->format), "raw");
    for (const xmlNode *n = disk->children; n; n = n->next) {
        int rc = 0;

        if (!is_elem(n))
            continue;
        if (named(n, "source")) {
            rc = disk_source(r, n, type, d);
            have_source = true;
        } else if (named(n, "driver")) {
            rc = disk_driver(r, n);
        } else if (named(n, "target")) {
            rc = disk_target(r, n, d);
        } else if (named(n, "readonly")) {
            d->readonly = true;
        } else if (named(n, "serial")) {
            rc = text(r, n, d->serial, sizeof(d->serial));
        } else if (named(n, "backingStore") && !n->children) {
            continue;
        } else if (!named(n, "address") && !named(n, "alias") && !named(n, "boot")) {
            return refuse(r, "<disk><%s> is not supported by Xeno", (const char *)n->name);
        }
        if (rc < 0)
            return -1;
    }
    if (!have_source || !d->path[0])
        return refuse(r, "<disk>%s without a <source>: Xeno has no removable media",
                      d->cdrom ? " (cdrom)" : "");
    if (!d->vdev[0])
        return lv_error(r->e, LV_ERR_XML_ERROR, "<disk> has no <target dev=...>");
    for (unsigned i = 0; i < cfg->ndisks; i++)
        if (!strcmp(cfg->disk[i].vdev, d->vdev))
            return lv_error(r->e, LV_ERR_XML_ERROR, "<disk><target dev='%s'> is used twice",
                            d->vdev);
    cfg->ndisks++;
    return 0;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
    unsigned v[6];
    char tail;

    if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
               &tail) != 6 || strlen(s) != 17)
        return -1;
    for (int i = 0; i < 6; i++)
        mac[i] = (uint8_t)v[i];
    return 0;
}

static int nic_source(Rd *r, const xmlNode *n, const char *type, CfgNic *c)
{
    char net[64];

    if (!strcmp(type, "bridge"))
        return attr(r, n, "bridge", c->bridge, sizeof(c->bridge)) < 0 ? -1 : 0;
    if (!strcmp(type, "network")) {
        if (attr(r, n, "network", net, sizeof(net)) < 0)
            return -1;
        if (strcmp(net, "default"))
            return refuse(r, "<interface type='network'><source network='%s'>: Xeno has only "
                          "the 'default' network (user networking, NAT)", net);
    }
    return 0;
}

/* <portForward proto='tcp' address='A'><range start='HOST' to='GUEST'/>. */
static int nic_forward(Rd *r, const xmlNode *pf, CfgNic *c)
{
    char proto[8], addr[64], start[16], to[16];
    uint64_t hp, gp;

    if (attr(r, pf, "proto", proto, sizeof(proto)) < 0 ||
        attr(r, pf, "address", addr, sizeof(addr)) < 0)
        return -1;
    if (strcmp(proto, "tcp") && strcmp(proto, "udp"))
        return refuse(r, "<interface><portForward proto='%s'>: tcp or udp", proto);
    for (const xmlNode *n = pf->children; n; n = n->next) {
        CfgFwd *f;

        if (!is_elem(n))
            continue;
        if (!named(n, "range"))
            return refuse(r, "<portForward><%s> is not supported", (const char *)n->name);
        if (attr(r, n, "start", start, sizeof(start)) < 0 || attr(r, n, "to", to, sizeof(to)) < 0)
            return -1;
        if (parse_u64(start, &hp) < 0 || parse_u64(to, &gp) < 0 || !hp || hp > 65535 || !gp ||
            gp > 65535)
            return lv_error(r->e, LV_ERR_XML_ERROR, "<portForward><range start='%s' to='%s'>: "
                            "expected ports", start, to);
        if (c->nfwd == CFG_MAX_FWDS)
            return refuse(r, "<interface><portForward>: at most %d forwards", CFG_MAX_FWDS);
        f = &c->fwd[c->nfwd++];
        f->udp = !strcmp(proto, "udp");
        snprintf(f->host_addr, sizeof(f->host_addr), "%s", addr[0] ? addr : "127.0.0.1");
        f->host_port = (uint16_t)hp;
        f->guest_port = (uint16_t)gp;
    }
    return 0;
}

static int nic_child(Rd *r, const xmlNode *n, const char *type, CfgNic *c)
{
    char v[64];

    if (named(n, "source"))
        return nic_source(r, n, type, c);
    if (named(n, "mac")) {
        if (attr(r, n, "address", v, sizeof(v)) < 0)
            return -1;
        if (parse_mac(v, c->mac) < 0)
            return lv_error(r->e, LV_ERR_XML_ERROR, "<interface><mac address='%s'>: not a MAC "
                            "address", v);
        c->mac_set = true;
        return 0;
    }
    if (named(n, "model")) {
        if (attr(r, n, "type", v, sizeof(v)) < 0)
            return -1;
        if (v[0] && strcmp(v, "virtio") && strcmp(v, "netfront"))
            return refuse(r, "<interface><model type='%s'>: Xeno's network cards are virtio", v);
        return 0;
    }
    if (named(n, "target")) {
        if (attr(r, n, "dev", c->ifname, sizeof(c->ifname)) < 0)
            return -1;
        return 0;
    }
    if (named(n, "portForward")) {
        if (c->type != CFG_NET_USER)
            return refuse(r, "<interface><portForward>: only with user networking");
        return nic_forward(r, n, c);
    }
    if (named(n, "backend")) {
        if (attr(r, n, "type", v, sizeof(v)) < 0)
            return -1;
        if (v[0] && strcmp(v, "default"))
            return refuse(r, "<interface><backend type='%s'>: Xeno's user networking is "
                          "its own (type 'default')", v);
        return 0;
    }
    if (named(n, "link")) {
        if (attr(r, n, "state", v, sizeof(v)) < 0)
            return -1;
        if (v[0] && strcmp(v, "up"))
            return refuse(r, "<interface><link state='%s'>: links are up", v);
        return 0;
    }
    if (named(n, "address") || named(n, "alias") || named(n, "boot") || named(n, "rom"))
        return 0;
    return refuse(r, "<interface><%s> is not supported by Xeno", (const char *)n->name);
}

static int parse_nic(Rd *r, const xmlNode *nic, VmConfig *cfg)
{
    char type[16];
    CfgNic *c;

    if (cfg->nnics == CFG_MAX_NICS)
        return refuse(r, "<devices><interface>: at most %d network interfaces", CFG_MAX_NICS);
    c = &cfg->nic[cfg->nnics];
    memset(c, 0, sizeof(*c));
    if (attr(r, nic, "type", type, sizeof(type)) < 0)
        return -1;
    if (!strcmp(type, "bridge"))
        c->type = CFG_NET_BRIDGE;
    else if (!strcmp(type, "user") || !strcmp(type, "network"))
        c->type = CFG_NET_USER;
    else if (!strcmp(type, "ethernet"))
        c->type = CFG_NET_TAP;
    else
        return refuse(r, "<interface type='%s'>: Xeno has bridge, user (or network 'default') "
                      "and ethernet (tap) interfaces", type);
    snprintf(c->model, sizeof(c->model), "virtio");
    for (const xmlNode *n = nic->children; n; n = n->next)
        if (is_elem(n) && nic_child(r, n, type, c) < 0)
            return -1;
    if (c->type == CFG_NET_BRIDGE && !c->bridge[0])
        return lv_error(r->e, LV_ERR_XML_ERROR, "<interface type='bridge'> has no "
                        "<source bridge=...>");
    if (c->type == CFG_NET_USER)
        c->ifname[0] = '\0';
    cfg->nnics++;
    return 0;
}

/* <serial> and <console>: the domain's console, a pty. A console on a
 * 'xen' or 'virtio' target is the virtio console (hvc0), as is a console
 * with no target: a Xen PV domain's console is its PV console. */
static int parse_chardev(Rd *r, const xmlNode *cd, VmConfig *cfg)
{
    char type[16], ttype[32];
    bool vc_serial = false, had = cfg->vconsole;

    if (attr(r, cd, "type", type, sizeof(type)) < 0)
        return -1;
    if (strcmp(type, "pty"))
        return refuse(r, "<%s type='%s'>: the console of a Xeno domain is a pty "
                      "(virsh console)", (const char *)cd->name, type);
    if (named(cd, "console"))
        cfg->vconsole = true;       /* unless its target says serial */
    for (const xmlNode *n = cd->children; n; n = n->next) {
        if (!is_elem(n))
            continue;
        if (named(n, "target")) {
            if (attr(r, n, "type", ttype, sizeof(ttype)) < 0)
                return -1;
            if (named(cd, "console") && (!strcmp(ttype, "xen") || !strcmp(ttype, "virtio") ||
                                         !ttype[0]))
                continue;
            if (ttype[0] && strcmp(ttype, "serial") && strcmp(ttype, "isa-serial") &&
                strcmp(ttype, "system-serial"))
                return refuse(r, "<%s><target type='%s'>: the console is the serial port or "
                              "the virtio console (type 'xen')", (const char *)cd->name, ttype);
            if (named(cd, "console"))
                vc_serial = true;
        } else if (!named(n, "source") && !named(n, "alias") && !named(n, "address")) {
            return refuse(r, "<%s><%s> is not supported by Xeno", (const char *)cd->name,
                          (const char *)n->name);
        }
    }
    if (vc_serial)
        cfg->vconsole = had;        /* a console on the serial port */
    return 0;
}

static int parse_balloon(Rd *r, const xmlNode *n, VmConfig *cfg)
{
    char model[16];

    if (attr(r, n, "model", model, sizeof(model)) < 0)
        return -1;
    if (!strcmp(model, "none"))
        cfg->balloon = false;
    else if (!strcmp(model, "virtio") || !strcmp(model, "xen"))
        cfg->balloon = true;
    else
        return refuse(r, "<memballoon model='%s'>: Xeno's balloon is virtio", model);
    return 0;
}

static int parse_rng(Rd *r, const xmlNode *rng, VmConfig *cfg)
{
    char model[16], v[32];

    if (attr(r, rng, "model", model, sizeof(model)) < 0)
        return -1;
    if (strcmp(model, "virtio"))
        return refuse(r, "<rng model='%s'>: Xeno's RNG is virtio", model);
    for (const xmlNode *n = rng->children; n; n = n->next) {
        if (!is_elem(n) || named(n, "address") || named(n, "alias"))
            continue;
        if (!named(n, "backend"))
            return refuse(r, "<rng><%s> is not supported by Xeno", (const char *)n->name);
        if (attr(r, n, "model", v, sizeof(v)) < 0)
            return -1;
        if (strcmp(v, "random"))
            return refuse(r, "<rng><backend model='%s'>: the host's random source "
                          "(model 'random')", v);
    }
    cfg->rng = true;
    return 0;
}

/* Controllers: the buses devices sit on. Xeno's are its own (virtio-mmio,
 * or PCI on x86); PCI controllers, xenbus and virtio-serial describe
 * where devices go, and since device addresses are not kept either, they
 * change nothing (virt-install gives a riscv64 'virt' machine fourteen
 * pcie-root-ports). A USB controller would be a device: only model 'none'. */
static int parse_controller(Rd *r, const xmlNode *n)
{
    char type[32], model[32];

    if (attr(r, n, "type", type, sizeof(type)) < 0 || attr(r, n, "model", model, sizeof(model)) < 0)
        return -1;
    if (!strcmp(type, "xenbus") || !strcmp(type, "virtio-serial") || !strcmp(type, "pci") ||
        (!strcmp(type, "usb") && !strcmp(model, "none")))
        return 0;
    return refuse(r, "<controller type='%s'%s%s%s>: Xeno machines have no such controller", type,
                  model[0] ? " model='" : "", model, model[0] ? "'" : "");
}

static int parse_video(Rd *r, const xmlNode *video)
{
    char type[16];

    for (const xmlNode *n = video->children; n; n = n->next) {
        if (!is_elem(n) || !named(n, "model"))
            continue;
        if (attr(r, n, "type", type, sizeof(type)) < 0)
            return -1;
        if (!strcmp(type, "none"))
            return 0;
        return refuse(r, "<video><model type='%s'>: Xeno domains have no display", type);
    }
    return refuse(r, "<video>: Xeno domains have no display");
}

static int parse_devices(Rd *r, const xmlNode *devs, DomParse *dp)
{
    VmConfig *cfg = dp->cfg;

    for (const xmlNode *n = devs->children; n; n = n->next) {
        int rc = 0;

        if (!is_elem(n) || named(n, "emulator"))
            continue;
        if (named(n, "disk"))
            rc = parse_disk(r, n, cfg);
        else if (named(n, "interface"))
            rc = parse_nic(r, n, cfg);
        else if (named(n, "serial") || named(n, "console"))
            rc = parse_chardev(r, n, cfg);
        else if (named(n, "memballoon"))
            rc = parse_balloon(r, n, cfg);
        else if (named(n, "rng"))
            rc = parse_rng(r, n, cfg);
        else if (named(n, "controller"))
            rc = parse_controller(r, n);
        else if (named(n, "video"))
            rc = parse_video(r, n);
        else if (named(n, "graphics") || named(n, "input"))
            rc = refuse(r, "<devices><%s>: Xeno domains have no graphical console (use the "
                        "serial console: virsh console)", (const char *)n->name);
        else
            rc = refuse(r, "<devices><%s> is not supported by Xeno: its domains have disks, "
                        "network interfaces, the console, a balloon and an RNG",
                        (const char *)n->name);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* ---- <domain> ---- */

static int parse_vcpu(Rd *r, const xmlNode *n, DomParse *dp)
{
    char t[16], cur[16], cpuset[8];
    uint64_t max, c;

    if (text(r, n, t, sizeof(t)) < 0 || attr(r, n, "current", cur, sizeof(cur)) < 0 ||
        attr(r, n, "cpuset", cpuset, sizeof(cpuset)) < 0)
        return -1;
    if (cpuset[0])
        return refuse(r, "<vcpu cpuset=...>: Xeno does not pin vCPUs");
    if (parse_u64(t, &max) < 0 || !max || max > XENO_MAX_VCPUS)
        return refuse(r, "<vcpu>%s</vcpu>: from 1 to %d vCPUs", t, XENO_MAX_VCPUS);
    c = max;
    if (cur[0] && (parse_u64(cur, &c) < 0 || !c || c > max))
        return lv_error(r->e, LV_ERR_XML_ERROR, "<vcpu current='%s'>: from 1 to %" PRIu64, cur,
                        max);
    dp->vcpu_max = (unsigned)max;
    dp->vcpu_cur = (unsigned)c;
    return 0;
}

static int parse_action(Rd *r, const xmlNode *n, enum cfg_action *out)
{
    static const char *const names[] = { "destroy", "restart", "preserve", "rename-restart",
                                         "coredump-destroy", "coredump-restart" };
    char t[32];

    if (text(r, n, t, sizeof(t)) < 0)
        return -1;
    for (int i = 0; i < 6; i++) {
        if (!strcmp(t, names[i])) {
            *out = (enum cfg_action)i;
            return 0;
        }
    }
    return lv_error(r->e, LV_ERR_XML_ERROR, "<%s>%s</%s>: unknown action",
                    (const char *)n->name, t, (const char *)n->name);
}

/* Elements that describe nothing a Xeno machine has: accepted. */
static bool ignorable(const xmlNode *n)
{
    static const char *const names[] = { "metadata", "features", "clock", "cpu", "pm",
                                         "resource", "seclabel", "genid" };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (named(n, names[i]))
            return true;
    return false;
}

static int domain_child(Rd *r, const xmlNode *n, DomParse *dp)
{
    VmConfig *cfg = dp->cfg;
    char t[64];

    if (named(n, "name")) {
        if (text(r, n, cfg->name, sizeof(cfg->name)) < 0)
            return -1;
        dp->have_name = cfg->name[0] != '\0';
        return 0;
    }
    if (named(n, "uuid")) {
        if (text(r, n, t, sizeof(t)) < 0)
            return -1;
        if (lv_uuid_parse(t, cfg->uuid) < 0)
            return lv_error(r->e, LV_ERR_XML_ERROR, "<uuid>%s</uuid>: malformed", t);
        cfg->uuid_set = true;
        return 0;
    }
    if (named(n, "memory"))
        return (dp->have_max = true, sized(r, n, "KiB", &dp->max_bytes));
    if (named(n, "currentMemory"))
        return (dp->have_cur = true, sized(r, n, "KiB", &dp->cur_bytes));
    if (named(n, "vcpu"))
        return parse_vcpu(r, n, dp);
    if (named(n, "os"))
        return parse_os(r, n, dp);
    if (named(n, "on_poweroff"))
        return parse_action(r, n, &cfg->on_poweroff);
    if (named(n, "on_reboot"))
        return parse_action(r, n, &cfg->on_reboot);
    if (named(n, "on_crash"))
        return parse_action(r, n, &cfg->on_crash);
    if (named(n, "devices"))
        return parse_devices(r, n, dp);
    if (named(n, "title") || named(n, "description"))
        return refuse(r, "<domain><%s>: xend keeps no %s for a domain", (const char *)n->name,
                      (const char *)n->name);
    if (ignorable(n))
        return 0;
    return refuse(r, "<domain><%s> is not supported by Xeno", (const char *)n->name);
}

static uint64_t mib_up(uint64_t bytes) { return bytes / MIB + (bytes % MIB != 0); }

/* Memory and vCPUs from what the elements said. */
static int fill_sizes(Rd *r, DomParse *dp)
{
    VmConfig *cfg = dp->cfg;
    uint64_t max, cur;

    if (!dp->have_max && !dp->have_cur)
        return lv_error(r->e, LV_ERR_XML_ERROR, "<memory> is required");
    max = mib_up(dp->have_max ? dp->max_bytes : dp->cur_bytes);
    cur = dp->have_cur ? mib_up(dp->cur_bytes) : max;
    if (!cur || max > MEMORY_MAX_MIB)
        return refuse(r, "<memory>: from 1 MiB to %llu MiB", MEMORY_MAX_MIB);
    if (cur > max)
        return lv_error(r->e, LV_ERR_XML_ERROR, "<currentMemory> (%llu MiB) is more than "
                        "<memory> (%llu MiB)", (unsigned long long)cur, (unsigned long long)max);
    cfg->memory_mib = cur;
    cfg->maxmem_mib = max > cur ? max : 0;
    if (dp->vcpu_max) {
        cfg->vcpus = dp->vcpu_cur;
        cfg->maxvcpus = dp->vcpu_max > dp->vcpu_cur ? dp->vcpu_max : 0;
    }
    return 0;
}

int lvxml_parse_domain(const char *xml, size_t len, const LvXmlCtx *ctx, VmConfig *cfg,
                       LvError *e)
{
    Rd r = { .e = e, .ctx = ctx };
    DomParse dp = { .cfg = cfg };
    xmlDoc *doc = read_doc(xml, len, "domain", e);
    const xmlNode *root;
    char type[16];
    int rc = -1;

    config_init(cfg);
    cfg->rng = false;
    cfg->vconsole = false;
    if (!doc)
        return -1;
    root = xmlDocGetRootElement(doc);
    if (!named(root, "domain")) {
        lv_error(e, LV_ERR_XML_ERROR, "expected <domain>, not <%s>", (const char *)root->name);
        goto out;
    }
    if (attr(&r, root, "type", type, sizeof(type)) < 0)
        goto out;
    if (strcmp(type, "xen")) {
        refuse(&r, "<domain type='%s'>: this is a Xen host (type 'xen')", type);
        goto out;
    }
    for (const xmlNode *n = root->children; n; n = n->next)
        if (is_elem(n) && domain_child(&r, n, &dp) < 0)
            goto out;
    if (!dp.have_name) {
        lv_error(e, LV_ERR_XML_ERROR, "<name> is required");
        goto out;
    }
    if (!dp.have_os) {
        lv_error(e, LV_ERR_XML_ERROR, "<os> is required");
        goto out;
    }
    if (fill_sizes(&r, &dp) < 0 || check_os(&r, cfg) < 0)
        goto out;
    rc = 0;
out:
    xmlFreeDoc(doc);
    return rc;
}

/* ---- writing ---- */

typedef struct Xw {
    xmlBufferPtr buf;
    xmlTextWriterPtr w;
    bool err;
} Xw;

static bool xw_open(Xw *x)
{
    x->err = false;
    x->buf = xmlBufferCreate();
    x->w = x->buf ? xmlNewTextWriterMemory(x->buf, 0) : NULL;
    if (!x->w) {
        if (x->buf)
            xmlBufferFree(x->buf);
        return false;
    }
    xmlTextWriterSetIndent(x->w, 1);
    xmlTextWriterSetIndentString(x->w, (const xmlChar *)"  ");
    return true;
}

/* The text (malloc'd), or NULL; the writer is gone either way. */
static char *xw_close(Xw *x)
{
    char *s = NULL;

    if (xmlTextWriterFlush(x->w) < 0)
        x->err = true;
    xmlFreeTextWriter(x->w);
    if (!x->err)
        s = strdup((const char *)xmlBufferContent(x->buf));
    xmlBufferFree(x->buf);
    return s;
}

static void xw_start(Xw *x, const char *name)
{
    if (xmlTextWriterStartElement(x->w, (const xmlChar *)name) < 0)
        x->err = true;
}

static void xw_end(Xw *x)
{
    if (xmlTextWriterEndElement(x->w) < 0)
        x->err = true;
}

static void xw_attr(Xw *x, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void xw_attr(Xw *x, const char *name, const char *fmt, ...)
{
    char v[CFG_PATH_MAX + 64];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(v, sizeof(v), fmt, ap);
    va_end(ap);
    if (xmlTextWriterWriteAttribute(x->w, (const xmlChar *)name, (const xmlChar *)v) < 0)
        x->err = true;
}

/* <name>text</name>. */
static void xw_elem(Xw *x, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void xw_elem(Xw *x, const char *name, const char *fmt, ...)
{
    char v[CFG_PATH_MAX + 64];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(v, sizeof(v), fmt, ap);
    va_end(ap);
    if (xmlTextWriterWriteElement(x->w, (const xmlChar *)name, (const xmlChar *)v) < 0)
        x->err = true;
}

/* <name unit='KiB'>value</name>. */
static void xw_kib(Xw *x, const char *name, uint64_t kib)
{
    xw_start(x, name);
    xw_attr(x, "unit", "KiB");
    if (xmlTextWriterWriteFormatString(x->w, "%" PRIu64, kib) < 0)
        x->err = true;
    xw_end(x);
}

static void xw_bytes(Xw *x, const char *name, uint64_t bytes)
{
    xw_start(x, name);
    xw_attr(x, "unit", "bytes");
    if (xmlTextWriterWriteFormatString(x->w, "%" PRIu64, bytes) < 0)
        x->err = true;
    xw_end(x);
}

static const char *action_name(enum cfg_action a)
{
    static const char *const names[] = { "destroy", "restart", "preserve", "rename-restart",
                                         "coredump-destroy", "coredump-restart" };

    return (unsigned)a < 6 ? names[a] : "destroy";
}

static bool is_x86(const VmConfig *cfg)
{
    return cfg->arch == CFG_ARCH_X86_64 || cfg->engine == CFG_ENGINE_KVM ||
           (cfg->arch == CFG_ARCH_AUTO && cfg->engine == CFG_ENGINE_AUTO &&
            cfg->type != CFG_TYPE_NONE);
}

static void write_os(Xw *x, const VmConfig *cfg)
{
    bool x86 = is_x86(cfg);

    xw_start(x, "os");
    xw_start(x, "type");
    xw_attr(x, "arch", "%s", x86 ? "x86_64" : "riscv64");
    xw_attr(x, "machine", "%s", x86 ? "xenpv" : "virt");
    if (xmlTextWriterWriteString(x->w, (const xmlChar *)"xen") < 0)
        x->err = true;
    xw_end(x);
    if (cfg->firmware[0])
        xw_elem(x, "loader", "%s", cfg->firmware);
    if (cfg->kernel[0])
        xw_elem(x, "kernel", "%s", cfg->kernel);
    if (cfg->ramdisk[0])
        xw_elem(x, "initrd", "%s", cfg->ramdisk);
    if (cfg->cmdline[0])
        xw_elem(x, "cmdline", "%s", cfg->cmdline);
    xw_end(x);
}

static void write_disk(Xw *x, const CfgDisk *d)
{
    bool block = !strncmp(d->path, "/dev/", 5);

    xw_start(x, "disk");
    xw_attr(x, "type", "%s", block ? "block" : "file");
    xw_attr(x, "device", "%s", d->cdrom ? "cdrom" : "disk");
    xw_start(x, "driver");
    xw_attr(x, "name", "file");
    xw_attr(x, "type", "raw");
    xw_end(x);
    xw_start(x, "source");
    xw_attr(x, block ? "dev" : "file", "%s", d->path);
    xw_end(x);
    xw_start(x, "target");
    xw_attr(x, "dev", "%s", d->vdev);
    xw_attr(x, "bus", "xen");
    xw_end(x);
    if (d->readonly) {
        xw_start(x, "readonly");
        xw_end(x);
    }
    if (d->serial[0])
        xw_elem(x, "serial", "%s", d->serial);
    xw_end(x);
}

static void write_nic(Xw *x, const CfgNic *c)
{
    static const char *const types[] = { "user", "ethernet", "bridge" };

    xw_start(x, "interface");
    xw_attr(x, "type", "%s", types[(unsigned)c->type <= CFG_NET_BRIDGE ? c->type : 0]);
    if (c->mac_set) {
        xw_start(x, "mac");
        xw_attr(x, "address", "%02x:%02x:%02x:%02x:%02x:%02x", c->mac[0], c->mac[1], c->mac[2],
                c->mac[3], c->mac[4], c->mac[5]);
        xw_end(x);
    }
    if (c->type == CFG_NET_BRIDGE) {
        xw_start(x, "source");
        xw_attr(x, "bridge", "%s", c->bridge);
        xw_end(x);
    }
    if (c->ifname[0] && c->type != CFG_NET_USER) {
        xw_start(x, "target");
        xw_attr(x, "dev", "%s", c->ifname);
        xw_end(x);
    }
    xw_start(x, "model");
    xw_attr(x, "type", "virtio");
    xw_end(x);
    for (unsigned i = 0; i < c->nfwd && i < CFG_MAX_FWDS; i++) {
        const CfgFwd *f = &c->fwd[i];

        xw_start(x, "portForward");
        xw_attr(x, "proto", "%s", f->udp ? "udp" : "tcp");
        xw_attr(x, "address", "%s", f->host_addr[0] ? f->host_addr : "127.0.0.1");
        xw_start(x, "range");
        xw_attr(x, "start", "%u", f->host_port);
        xw_attr(x, "to", "%u", f->guest_port);
        xw_end(x);
        xw_end(x);
    }
    xw_end(x);
}

static void write_consoles(Xw *x, const VmConfig *cfg)
{
    xw_start(x, "serial");
    xw_attr(x, "type", "pty");
    xw_start(x, "target");
    xw_attr(x, "port", "0");
    xw_end(x);
    xw_end(x);
    xw_start(x, "console");
    xw_attr(x, "type", "pty");
    xw_start(x, "target");
    xw_attr(x, "type", "serial");
    xw_attr(x, "port", "0");
    xw_end(x);
    xw_end(x);
    if (cfg->vconsole) {
        xw_start(x, "console");
        xw_attr(x, "type", "pty");
        xw_start(x, "target");
        xw_attr(x, "type", "xen");
        xw_attr(x, "port", "0");
        xw_end(x);
        xw_end(x);
    }
}

static void write_devices(Xw *x, const VmConfig *cfg, const LvDomXmlInfo *info)
{
    xw_start(x, "devices");
    if (info->emulator && info->emulator[0])
        xw_elem(x, "emulator", "%s", info->emulator);
    for (unsigned i = 0; i < cfg->ndisks && i < CFG_MAX_DISKS; i++)
        write_disk(x, &cfg->disk[i]);
    for (unsigned i = 0; i < cfg->nnics && i < CFG_MAX_NICS; i++)
        write_nic(x, &cfg->nic[i]);
    write_consoles(x, cfg);
    xw_start(x, "memballoon");
    xw_attr(x, "model", "%s", cfg->balloon ? "virtio" : "none");
    xw_end(x);
    if (cfg->rng) {
        xw_start(x, "rng");
        xw_attr(x, "model", "virtio");
        xw_start(x, "backend");
        xw_attr(x, "model", "random");
        if (xmlTextWriterWriteString(x->w, (const xmlChar *)"/dev/urandom") < 0)
            x->err = true;
        xw_end(x);
        xw_end(x);
    }
    xw_end(x);
}

char *lvxml_format_domain(const VmConfig *cfg, const LvDomXmlInfo *info)
{
    uint64_t max_kib = info->maxmem_kib ? info->maxmem_kib :
                       (cfg->maxmem_mib ? cfg->maxmem_mib : cfg->memory_mib) * 1024;
    uint64_t cur_kib = info->mem_kib ? info->mem_kib : cfg->memory_mib * 1024;
    unsigned vmax = info->maxvcpus ? info->maxvcpus : (cfg->maxvcpus ? cfg->maxvcpus : cfg->vcpus);
    unsigned vcur = info->vcpus ? info->vcpus : cfg->vcpus;
    char uuid[37];
    Xw x;

    if (!xw_open(&x))
        return NULL;
    if (cur_kib > max_kib)
        max_kib = cur_kib;
    if (vcur > vmax)
        vmax = vcur;
    xw_start(&x, "domain");
    xw_attr(&x, "type", "xen");
    if (info->id >= 0)
        xw_attr(&x, "id", "%d", info->id);
    xw_elem(&x, "name", "%s", cfg->name);
    if (info->uuid)
        xw_elem(&x, "uuid", "%s", info->uuid);
    else if (cfg->uuid_set && (lv_uuid_format(cfg->uuid, uuid), true))
        xw_elem(&x, "uuid", "%s", uuid);
    xw_kib(&x, "memory", max_kib);
    xw_kib(&x, "currentMemory", cur_kib);
    xw_start(&x, "vcpu");
    xw_attr(&x, "placement", "static");
    if (vcur < vmax)
        xw_attr(&x, "current", "%u", vcur);
    if (xmlTextWriterWriteFormatString(x.w, "%u", vmax) < 0)
        x.err = true;
    xw_end(&x);
    write_os(&x, cfg);
    xw_elem(&x, "on_poweroff", "%s", action_name(cfg->on_poweroff));
    xw_elem(&x, "on_reboot", "%s", action_name(cfg->on_reboot));
    xw_elem(&x, "on_crash", "%s", action_name(cfg->on_crash));
    write_devices(&x, cfg, info);
    xw_end(&x);
    return xw_close(&x);
}

char *lvxml_format_dom0(uint64_t mem_kib, unsigned cpus, const char *host_arch)
{
    Xw x;

    if (!xw_open(&x))
        return NULL;
    xw_start(&x, "domain");
    xw_attr(&x, "type", "xen");
    xw_attr(&x, "id", "0");
    xw_elem(&x, "name", "Domain-0");
    xw_elem(&x, "uuid", "00000000-0000-0000-0000-000000000000");
    xw_kib(&x, "memory", mem_kib);
    xw_kib(&x, "currentMemory", mem_kib);
    xw_start(&x, "vcpu");
    xw_attr(&x, "placement", "static");
    if (xmlTextWriterWriteFormatString(x.w, "%u", cpus) < 0)
        x.err = true;
    xw_end(&x);
    xw_start(&x, "os");
    xw_start(&x, "type");
    xw_attr(&x, "arch", "%s", host_arch);
    if (xmlTextWriterWriteString(x.w, (const xmlChar *)"xen") < 0)
        x.err = true;
    xw_end(&x);
    xw_end(&x);
    xw_elem(&x, "on_poweroff", "destroy");
    xw_elem(&x, "on_reboot", "restart");
    xw_elem(&x, "on_crash", "restart");
    xw_start(&x, "devices");
    xw_end(&x);
    xw_end(&x);
    return xw_close(&x);
}

/* ---- capabilities ---- */

static void caps_guest(Xw *x, const LvArchs *a, const char *arch, const char *machine)
{
    xw_start(x, "guest");
    xw_elem(x, "os_type", "xen");
    xw_start(x, "arch");
    xw_attr(x, "name", "%s", arch);
    xw_elem(x, "wordsize", "64");
    xw_elem(x, "emulator", "%s", a->emulator);
    xw_elem(x, "machine", "%s", machine);
    xw_start(x, "domain");
    xw_attr(x, "type", "xen");
    xw_end(x);
    xw_end(x);
    xw_start(x, "features");
    xw_end(x);
    xw_end(x);
}

char *lvxml_capabilities(const LvArchs *a, const char *host_uuid)
{
    Xw x;

    if (!xw_open(&x))
        return NULL;
    xw_start(&x, "capabilities");
    xw_start(&x, "host");
    if (host_uuid)
        xw_elem(&x, "uuid", "%s", host_uuid);
    xw_start(&x, "cpu");
    xw_elem(&x, "arch", "%s", a->host_arch);
    xw_end(&x);
    xw_start(&x, "power_management");
    xw_end(&x);
    xw_start(&x, "migration_features");
    xw_start(&x, "live");
    xw_end(&x);
    xw_end(&x);
    xw_end(&x);
    if (a->riscv64)
        caps_guest(&x, a, "riscv64", "virt");
    if (a->x86_64)
        caps_guest(&x, a, "x86_64", "xenpv");
    xw_end(&x);
    return xw_close(&x);
}

static void enum_values(Xw *x, const char *name, const char *const *values)
{
    xw_start(x, "enum");
    xw_attr(x, "name", "%s", name);
    for (; *values; values++)
        xw_elem(x, "value", "%s", *values);
    xw_end(x);
}

static void unsupported(Xw *x, const char *name)
{
    xw_start(x, name);
    xw_attr(x, "supported", "no");
    xw_end(x);
}

static void domcaps_devices(Xw *x)
{
    static const char *const disk_dev[] = { "disk", "cdrom", NULL };
    static const char *const disk_bus[] = { "xen", "virtio", NULL };
    static const char *const rng_models[] = { "virtio", NULL };
    static const char *const rng_backends[] = { "random", NULL };

    xw_start(x, "devices");
    xw_start(x, "disk");
    xw_attr(x, "supported", "yes");
    enum_values(x, "diskDevice", disk_dev);
    enum_values(x, "bus", disk_bus);
    xw_end(x);
    unsupported(x, "graphics");
    unsupported(x, "video");
    unsupported(x, "hostdev");
    xw_start(x, "rng");
    xw_attr(x, "supported", "yes");
    enum_values(x, "model", rng_models);
    enum_values(x, "backendModel", rng_backends);
    xw_end(x);
    unsupported(x, "filesystem");
    unsupported(x, "tpm");
    unsupported(x, "redirdev");
    unsupported(x, "channel");
    unsupported(x, "crypto");
    xw_end(x);
}

char *lvxml_domain_capabilities(const LvArchs *a, const char *arch, const char *virttype,
                                const char *machine, LvError *e)
{
    const char *want = arch ? arch : (a->x86_64 ? "x86_64" : "riscv64");
    bool x86 = !strcmp(want, "x86_64");
    Xw x;

    if (virttype && strcmp(virttype, "xen")) {
        lv_error(e, LV_ERR_INVALID_ARG, "virttype '%s': this host runs 'xen'", virttype);
        return NULL;
    }
    if (!(x86 ? a->x86_64 : !strcmp(want, "riscv64") && a->riscv64)) {
        lv_error(e, LV_ERR_CONFIG_UNSUPPORTED, "this host cannot run %s guests%s%s", want,
                 x86 ? ": " : "", x86 ? a->x86_refusal : "");
        return NULL;
    }
    if (machine && strcmp(machine, x86 ? "xenpv" : "virt")) {
        lv_error(e, LV_ERR_CONFIG_UNSUPPORTED, "machine '%s': %s guests are of machine '%s'",
                 machine, want, x86 ? "xenpv" : "virt");
        return NULL;
    }
    if (!xw_open(&x)) {
        lv_error(e, LV_ERR_NO_MEMORY, "domain capabilities");
        return NULL;
    }
    xw_start(&x, "domainCapabilities");
    xw_elem(&x, "path", "%s", a->emulator);
    xw_elem(&x, "domain", "xen");
    xw_elem(&x, "machine", "%s", x86 ? "xenpv" : "virt");
    xw_elem(&x, "arch", "%s", want);
    xw_start(&x, "vcpu");
    xw_attr(&x, "max", "%d", XENO_MAX_VCPUS);
    xw_end(&x);
    xw_start(&x, "os");
    xw_attr(&x, "supported", "yes");
    unsupported(&x, "loader");
    xw_end(&x);
    xw_start(&x, "cpu");
    unsupported(&x, "mode");
    xw_end(&x);
    domcaps_devices(&x);
    xw_start(&x, "features");
    unsupported(&x, "gic");
    unsupported(&x, "vmcoreinfo");
    unsupported(&x, "genid");
    unsupported(&x, "sev");
    xw_end(&x);
    xw_end(&x);
    char *s = xw_close(&x);
    if (!s)
        lv_error(e, LV_ERR_NO_MEMORY, "domain capabilities");
    return s;
}

/* ---- storage pools and volumes ---- */

static int pool_target(Rd *r, const xmlNode *t, LvPoolDef *p)
{
    for (const xmlNode *n = t->children; n; n = n->next) {
        if (!is_elem(n) || named(n, "permissions"))
            continue;
        if (!named(n, "path"))
            return refuse(r, "<pool><target><%s> is not supported", (const char *)n->name);
        if (text(r, n, p->path, sizeof(p->path)) < 0)
            return -1;
    }
    return 0;
}

int lvxml_parse_pool(const char *xml, size_t len, LvPoolDef *p, LvError *e)
{
    Rd r = { .e = e };
    xmlDoc *doc = read_doc(xml, len, "storage pool", e);
    const xmlNode *root;
    char type[16], t[64];
    int rc = -1;

    memset(p, 0, sizeof(*p));
    if (!doc)
        return -1;
    root = xmlDocGetRootElement(doc);
    if (!named(root, "pool")) {
        lv_error(e, LV_ERR_XML_ERROR, "expected <pool>, not <%s>", (const char *)root->name);
        goto out;
    }
    if (attr(&r, root, "type", type, sizeof(type)) < 0)
        goto out;
    if (strcmp(type, "dir")) {
        refuse(&r, "<pool type='%s'>: Xeno's storage pools are directories (type 'dir')", type);
        goto out;
    }
    for (const xmlNode *n = root->children; n; n = n->next) {
        int rc2 = 0;

        if (!is_elem(n))
            continue;
        if (named(n, "name")) {
            rc2 = text(&r, n, p->name, sizeof(p->name));
        } else if (named(n, "uuid")) {
            if ((rc2 = text(&r, n, t, sizeof(t))) == 0 && lv_uuid_parse(t, p->uuid) < 0)
                rc2 = lv_error(e, LV_ERR_XML_ERROR, "<pool><uuid>%s</uuid>: malformed", t);
            p->uuid_set = true;
        } else if (named(n, "target")) {
            rc2 = pool_target(&r, n, p);
        } else if (named(n, "source") && !n->children) {
            continue;
        } else if (!named(n, "capacity") && !named(n, "allocation") && !named(n, "available")) {
            rc2 = refuse(&r, "<pool><%s> is not supported", (const char *)n->name);
        }
        if (rc2 < 0)
            goto out;
    }
    if (!p->name[0] || !p->path[0] || p->path[0] != '/') {
        lv_error(e, LV_ERR_XML_ERROR, "a pool needs a <name> and a <target><path> (absolute)");
        goto out;
    }
    rc = 0;
out:
    xmlFreeDoc(doc);
    return rc;
}

char *lvxml_format_pool(const LvPoolDef *p, const LvPoolXmlInfo *info)
{
    char uuid[37];
    Xw x;

    if (!xw_open(&x))
        return NULL;
    lv_uuid_format(p->uuid, uuid);
    xw_start(&x, "pool");
    xw_attr(&x, "type", "dir");
    xw_elem(&x, "name", "%s", p->name);
    xw_elem(&x, "uuid", "%s", uuid);
    xw_bytes(&x, "capacity", info->capacity);
    xw_bytes(&x, "allocation", info->allocation);
    xw_bytes(&x, "available", info->available);
    xw_start(&x, "source");
    xw_end(&x);
    xw_start(&x, "target");
    xw_elem(&x, "path", "%s", p->path);
    xw_end(&x);
    xw_end(&x);
    return xw_close(&x);
}

static int vol_target(Rd *r, const xmlNode *t)
{
    char type[16];

    for (const xmlNode *n = t->children; n; n = n->next) {
        if (!is_elem(n) || named(n, "path") || named(n, "permissions") || named(n, "timestamps"))
            continue;
        if (!named(n, "format"))
            return refuse(r, "<volume><target><%s> is not supported", (const char *)n->name);
        if (attr(r, n, "type", type, sizeof(type)) < 0)
            return -1;
        if (type[0] && strcmp(type, "raw"))
            return refuse(r, "<volume><target><format type='%s'>: Xeno's volumes are raw", type);
    }
    return 0;
}

static int vol_child(Rd *r, const xmlNode *n, LvVolDef *v)
{
    if (named(n, "name"))
        return text(r, n, v->name, sizeof(v->name));
    if (named(n, "capacity"))
        return sized(r, n, "bytes", &v->capacity);
    if (named(n, "allocation")) {
        v->allocation_set = true;
        return sized(r, n, "bytes", &v->allocation);
    }
    if (named(n, "target"))
        return vol_target(r, n);
    if (named(n, "backingStore"))
        return refuse(r, "<volume><backingStore>: Xeno's volumes are raw, without backing "
                      "files");
    if (named(n, "key") || named(n, "source") || named(n, "physical"))
        return 0;
    return refuse(r, "<volume><%s> is not supported", (const char *)n->name);
}

int lvxml_parse_vol(const char *xml, size_t len, LvVolDef *v, LvError *e)
{
    Rd r = { .e = e };
    xmlDoc *doc = read_doc(xml, len, "storage volume", e);
    const xmlNode *root;
    char type[16];
    int rc = -1;

    memset(v, 0, sizeof(*v));
    if (!doc)
        return -1;
    root = xmlDocGetRootElement(doc);
    if (!named(root, "volume")) {
        lv_error(e, LV_ERR_XML_ERROR, "expected <volume>, not <%s>", (const char *)root->name);
        goto out;
    }
    if (attr(&r, root, "type", type, sizeof(type)) < 0)
        goto out;
    if (type[0] && strcmp(type, "file")) {
        refuse(&r, "<volume type='%s'>: Xeno's volumes are files", type);
        goto out;
    }
    for (const xmlNode *n = root->children; n; n = n->next)
        if (is_elem(n) && vol_child(&r, n, v) < 0)
            goto out;
    if (!v->name[0]) {
        lv_error(e, LV_ERR_XML_ERROR, "a volume needs a <name>");
        goto out;
    }
    rc = 0;
out:
    xmlFreeDoc(doc);
    return rc;
}

char *lvxml_format_vol(const LvVolXmlInfo *v)
{
    Xw x;

    if (!xw_open(&x))
        return NULL;
    xw_start(&x, "volume");
    xw_attr(&x, "type", "file");
    xw_elem(&x, "name", "%s", v->name);
    xw_elem(&x, "key", "%s", v->path);
    xw_start(&x, "source");
    xw_end(&x);
    xw_bytes(&x, "capacity", v->capacity);
    xw_bytes(&x, "allocation", v->allocation);
    xw_bytes(&x, "physical", v->capacity);
    xw_start(&x, "target");
    xw_elem(&x, "path", "%s", v->path);
    xw_start(&x, "format");
    xw_attr(&x, "type", "raw");
    xw_end(&x);
    xw_start(&x, "permissions");
    xw_elem(&x, "mode", "%04o", v->mode & 07777);
    xw_elem(&x, "owner", "%u", v->uid);
    xw_elem(&x, "group", "%u", v->gid);
    xw_end(&x);
    xw_end(&x);
    xw_end(&x);
    return xw_close(&x);
}
