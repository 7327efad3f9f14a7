/* VmConfig back to xl.cfg text: what a saved or migrating domain carries
 * so that the other side builds the same machine. config_parse() of the
 * result gives back the same VmConfig (the kernel command line as the one
 * in effect, `cmdline = ...`). */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct Out {
    char *buf;
    size_t size, len;
    bool overflow;
} Out;

static void out(Out *o, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(o->buf + o->len, o->len < o->size ? o->size - o->len : 0, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= (o->len < o->size ? o->size - o->len : 0))
        o->overflow = true;
    else
        o->len += (size_t)n;
}

/* A quoted string with \ " and newlines escaped. */
static void out_str(Out *o, const char *s)
{
    out(o, "\"");
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            out(o, "\\%c", *s);
        else if (*s == '\n')
            out(o, "\\n");
        else if (*s == '\t')
            out(o, "\\t");
        else
            out(o, "%c", *s);
    }
    out(o, "\"");
}

static void out_key_str(Out *o, const char *key, const char *val)
{
    out(o, "%s = ", key);
    out_str(o, val);
    out(o, "\n");
}

static void disk_spec(const CfgDisk *d, char *s, size_t n)
{
    size_t k = (size_t)snprintf(s, n, "format=%s,vdev=%s,access=%s",
                                d->format[0] ? d->format : "raw", d->vdev,
                                d->readonly ? "ro" : "rw");
    if (d->cdrom && k < n)
        k += (size_t)snprintf(s + k, n - k, ",devtype=cdrom");
    if (d->serial[0] && k < n)
        k += (size_t)snprintf(s + k, n - k, ",serial=%s", d->serial);
    if (d->bps && k < n)
        k += (size_t)snprintf(s + k, n - k, ",bps=%llu", (unsigned long long)d->bps);
    if (d->bps_burst && k < n)
        k += (size_t)snprintf(s + k, n - k, ",bps-burst=%llu", (unsigned long long)d->bps_burst);
    if (d->iops && k < n)
        k += (size_t)snprintf(s + k, n - k, ",iops=%llu", (unsigned long long)d->iops);
    if (d->iops_burst && k < n)
        k += (size_t)snprintf(s + k, n - k, ",iops-burst=%llu", (unsigned long long)d->iops_burst);
    /* target last: it may contain commas */
    if (k < n)
        snprintf(s + k, n - k, ",target=%s", d->path);
}

static void vif_spec(const CfgNic *c, char *s, size_t n)
{
    static const char *const types[] = { "user", "tap", "bridge" };
    size_t k = (size_t)snprintf(s, n, "type=%s", types[c->type <= CFG_NET_BRIDGE ? c->type : 0]);

    if (c->mac_set && k < n)
        k += (size_t)snprintf(s + k, n - k, ",mac=%02x:%02x:%02x:%02x:%02x:%02x", c->mac[0],
                              c->mac[1], c->mac[2], c->mac[3], c->mac[4], c->mac[5]);
    if (c->type == CFG_NET_BRIDGE && k < n)
        k += (size_t)snprintf(s + k, n - k, ",bridge=%s", c->bridge);
    if (c->ifname[0] && k < n)
        k += (size_t)snprintf(s + k, n - k, ",vifname=%s", c->ifname);
    if (c->host_loopback && k < n)
        k += (size_t)snprintf(s + k, n - k, ",host-loopback=1");
    if (c->rate_bps && k < n)
        k += (size_t)snprintf(s + k, n - k, ",rate=%lluB/s@%lluus",
                              (unsigned long long)c->rate_bps,
                              (unsigned long long)c->rate_interval_us);
    for (unsigned i = 0; i < c->nfwd && k < n; i++) {
        const CfgFwd *f = &c->fwd[i];
        k += (size_t)snprintf(s + k, n - k, ",hostfwd=%s:%s:%u-:%u", f->udp ? "udp" : "tcp",
                              f->host_addr, f->host_port, f->guest_port);
    }
}

int config_format(const VmConfig *c, char *buf, size_t size)
{
    Out o = { buf, size, 0, false };
    char spec[CFG_PATH_MAX + 256];

    if (c->name[0])
        out_key_str(&o, "name", c->name);
    if (c->uuid_set) {
        const uint8_t *u = c->uuid;
        out(&o, "uuid = \"%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
            "%02x%02x%02x%02x%02x%02x\"\n", u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7],
            u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
    }
    out(&o, "memory = %llu\n", (unsigned long long)c->memory_mib);
    if (c->maxmem_mib)
        out(&o, "maxmem = %llu\n", (unsigned long long)c->maxmem_mib);
    out(&o, "vcpus = %u\n", c->vcpus);
    if (c->maxvcpus)
        out(&o, "maxvcpus = %u\n", c->maxvcpus);
    if (c->type != CFG_TYPE_NONE)
        out_key_str(&o, "type", config_type_name(c->type));
    if (c->engine != CFG_ENGINE_AUTO)
        out_key_str(&o, "engine", config_engine_name(c->engine));
    if (c->arch != CFG_ARCH_AUTO)
        out_key_str(&o, "arch", config_arch_name(c->arch));
    if (c->kernel[0])
        out_key_str(&o, "kernel", c->kernel);
    if (c->ramdisk[0])
        out_key_str(&o, "ramdisk", c->ramdisk);
    if (c->firmware[0])
        out_key_str(&o, "firmware", c->firmware);
    if (c->cmdline[0])
        out_key_str(&o, "cmdline", c->cmdline);
    out_key_str(&o, "on_poweroff", config_action_name(c->on_poweroff));
    out_key_str(&o, "on_reboot", config_action_name(c->on_reboot));
    out_key_str(&o, "on_crash", config_action_name(c->on_crash));
    out(&o, "disk = [");
    for (unsigned i = 0; i < c->ndisks; i++) {
        disk_spec(&c->disk[i], spec, sizeof(spec));
        out(&o, "%s", i ? ", " : " ");
        out_str(&o, spec);
    }
    out(&o, " ]\nvif = [");
    for (unsigned i = 0; i < c->nnics; i++) {
        vif_spec(&c->nic[i], spec, sizeof(spec));
        out(&o, "%s", i ? ", " : " ");
        out_str(&o, spec);
    }
    out(&o, " ]\nrng = %d\nballoon = %d\nvconsole = %d\n", c->rng, c->balloon, c->vconsole);
    return o.overflow ? -1 : (int)o.len;
}
