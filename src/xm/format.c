/* xm output layouts. They copy Xen 3.1's xm (RHEL 5) column for column, so
 * that scripts written against `xm list` keep working. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xm.h"

void xm_sanitize(char *dst, size_t n, const char *src)
{
    size_t i = 0;
    if (!n)
        return;
    for (; src && *src && i + 1 < n; src++)
        dst[i++] = (unsigned char)*src < 0x20 || *src == 0x7f ? '?' : *src;
    dst[i] = '\0';
}

/* Six positions, one per state letter: r(unning) b(locked) p(aused)
 * s(hutdown) c(rashed) d(ying); a stopped domain shows "------", a saved
 * managed domain (managed save: `xm start` restores it) "---S--", in the
 * shutdown column, upper case; a domain arriving by migration shows its
 * ID and no letter yet. A running domain whose VMM does not answer
 * (stopped, hung: docs/protocols.md) shows "u-----", u(nresponsive) in
 * the running column. */
void xm_state_string(xeno_domain_state s, char out[7])
{
    static const char letters[] = "rbpscd";
    memcpy(out, "------", 7);
    int pos = -1;
    if (s == XENO_STATE_SAVED) {
        out[3] = 'S';
        return;
    }
    if (s == XENO_STATE_UNRESPONSIVE) {
        out[0] = 'u';
        return;
    }
    switch (s) {
    case XENO_STATE_RUNNING:  pos = 0; break;
    case XENO_STATE_BLOCKED:  pos = 1; break;
    case XENO_STATE_PAUSED:   pos = 2; break;
    case XENO_STATE_SHUTDOWN: pos = 3; break;
    case XENO_STATE_CRASHED:  pos = 4; break;
    case XENO_STATE_DYING:    pos = 5; break;
    default: break;
    }
    if (pos >= 0)
        out[pos] = letters[pos];
}

/* xm list, as Xen 3.1 printed it:
 *   header  "%-40s %3s %8s %5s %5s %9s" % ("Name", "ID", "Mem(MiB)", "VCPUs", "State", "Time(s)")
 *   row     "%-40s %3s %8d %5d %5s %8.1f" % (name, domid, mem, vcpus, state, cpu_time)
 * giving
 *   Name                                      ID Mem(MiB) VCPUs State   Time(s)
 *   Domain-0                                   0     1024     2 r-----    301.6
 * The state has six letters in a %5s column and the time %8.1f under a %9s
 * header: the extra and the missing column cancel, so Time(s) lines up.
 * The ID of a domain that is not running is blank. */
int xm_list_header(char *buf, size_t n)
{
    return snprintf(buf, n, "%-40s %3s %8s %5s %5s %9s", "Name", "ID", "Mem(MiB)",
                    "VCPUs", "State", "Time(s)");
}

int xm_list_row(char *buf, size_t n, const char *name, const xeno_domain_info *i)
{
    char id[16] = "", state[7], nm[256];
    if (i->id >= 0)
        snprintf(id, sizeof(id), "%d", i->id);
    xm_state_string(i->state, state);
    xm_sanitize(nm, sizeof(nm), name);
    return snprintf(buf, n, "%-40s %3s %8llu %5u %5s %8.1f", nm, id,
                    (unsigned long long)i->mem_mib, i->vcpus, state, i->cpu_time_s);
}

/* xm uptime: "1 day, 2:03:04", "3 days, 0:00:05" or " 2:03:04". */
int xm_uptime_string(char *buf, size_t n, double seconds)
{
    unsigned long long t = seconds > 0 && seconds < 1e15 ? (unsigned long long)(seconds + 0.5) : 0;
    unsigned long long days = t / 86400, h = t % 86400 / 3600, m = t % 3600 / 60, s = t % 60;
    if (days > 0)
        return snprintf(buf, n, "%llu day%s, %2llu:%02llu:%02llu", days, days > 1 ? "s" : "", h, m, s);
    return snprintf(buf, n, "%2llu:%02llu:%02llu", h, m, s);
}

int xm_uptime_header(char *buf, size_t n)
{
    return snprintf(buf, n, "%-32s %3s %s", "Name", "ID", "Uptime");
}

int xm_uptime_row(char *buf, size_t n, const char *name, int id, double seconds)
{
    char nm[256], up[64], ids[16] = "";
    xm_sanitize(nm, sizeof(nm), name);
    if (id >= 0)
        snprintf(ids, sizeof(ids), "%d", id);
    xm_uptime_string(up, sizeof(up), seconds);
    return snprintf(buf, n, "%-32s %3s %s", nm, ids, up);
}

/* xm vcpu-list, Xen 3.1's columns. Xeno has no per-vCPU accounting over the
 * API, so each vCPU shows an equal share of the domain's CPU time, no
 * physical CPU ("-") and affinity "any cpu". */
int xm_vcpu_header(char *buf, size_t n)
{
    return snprintf(buf, n, "%-32s %3s %5s %5s %5s %9s %s", "Name", "ID", "VCPU", "CPU",
                    "State", "Time(s)", "CPU Affinity");
}

int xm_vcpu_row(char *buf, size_t n, const char *name, const xeno_domain_info *i, unsigned v)
{
    char nm[256];
    const char *st = i->state == XENO_STATE_PAUSED ? "--p" :
                     i->state == XENO_STATE_BLOCKED ? "-b-" :
                     i->state == XENO_STATE_RUNNING ? "r--" : "---";
    xm_sanitize(nm, sizeof(nm), name);
    return snprintf(buf, n, "%-32s %3d %5u %5s %5s %9.1f %s", nm, i->id, v, "-", st,
                    i->vcpus ? i->cpu_time_s / i->vcpus : 0.0, "any cpu");
}

/* xm top: the first columns of xentop. */
int xm_top_header(char *buf, size_t n)
{
    return snprintf(buf, n, "%10s %6s %10s %6s %10s %6s %10s %9s %5s", "NAME", "STATE",
                    "CPU(sec)", "CPU(%)", "MEM(k)", "MEM(%)", "MAXMEM(k)", "MAXMEM(%)", "VCPUS");
}

int xm_top_row(char *buf, size_t n, const char *name, const xeno_domain_info *i,
               double cpu_pct, uint64_t host_mem_mib)
{
    char nm[256], state[7];
    xm_sanitize(nm, sizeof(nm), name);
    xm_state_string(i->state, state);
    double hm = host_mem_mib ? (double)host_mem_mib : 0;
    uint64_t maxmem = i->maxmem_mib ? i->maxmem_mib : i->mem_mib;
    return snprintf(buf, n, "%10.10s %6s %10.0f %6.1f %10llu %6.1f %10llu %9.1f %5u", nm, state,
                    i->cpu_time_s, cpu_pct, (unsigned long long)i->mem_mib * 1024,
                    hm > 0 ? 100.0 * i->mem_mib / hm : 0.0, (unsigned long long)maxmem * 1024,
                    hm > 0 ? 100.0 * maxmem / hm : 0.0, i->vcpus);
}

int xm_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
    if (!s || !isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int xm_parse_mem_mib(const char *s, uint64_t *mib)
{
    if (!s || !isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || v > (1ull << 50))
        return -1;
    switch (*end) {
    case '\0': case 'm': case 'M': break;
    case 'g': case 'G': v *= 1024; break;
    case 'k': case 'K': v /= 1024; break;
    case 'b': case 'B': v /= 1024 * 1024; break;
    default: return -1;
    }
    if (*end && end[1])
        return -1;
    if (v == 0 || v > (1ull << 40))
        return -1;
    *mib = v;
    return 0;
}

/* "web1:8002", "[::1]:8002", "::1" (no port), "host": the host, and the
 * port (0 when none is given). */
int xm_parse_host_port(const char *s, char *host, size_t n, unsigned long *port)
{
    const char *colon, *end;
    size_t len;

    *port = 0;
    if (!s || !*s || strchr(s, '/') || strchr(s, ' '))
        return -1;
    if (s[0] == '[') {
        end = strchr(s, ']');
        if (!end || end == s + 1)
            return -1;
        len = (size_t)(end - s - 1);
        if (end[1] == ':') {
            if (xm_parse_uint(end + 2, 1, 65535, port) < 0)
                return -1;
        } else if (end[1]) {
            return -1;
        }
        s++;
    } else {
        colon = strrchr(s, ':');
        if (colon && strchr(s, ':') == colon) {
            if (xm_parse_uint(colon + 1, 1, 65535, port) < 0)
                return -1;
            len = (size_t)(colon - s);
        } else {
            len = strlen(s);     /* a bare IPv6 address, or a name */
        }
    }
    if (!len || len >= n)
        return -1;
    memcpy(host, s, len);
    host[len] = '\0';
    return 0;
}

static void human_bytes(char *buf, size_t n, uint64_t b)
{
    if (b >= (1ull << 30))
        snprintf(buf, n, "%.1f GiB", (double)b / (double)(1ull << 30));
    else
        snprintf(buf, n, "%.1f MiB", (double)b / (double)(1ull << 20));
}

/* One report of a save, restore or migration:
 *   bar    "Migrating web1 [=======>            ]  37%  47.2 MiB/128.0 MiB  312 Mb/s  round 2  1034 dirty"
 *   plain  "Migrating web1: active, 37%, 47.2 MiB of 128.0 MiB, 312 Mb/s, round 2, 1034 dirty pages" */
int xm_progress_line(char *buf, size_t n, const char *what, const xeno_progress *p, bool bar)
{
    char done[32], total[32], tail[160] = "";
    unsigned pct = p->total_bytes ? (unsigned)(p->bytes * 100 / p->total_bytes) : 0;
    size_t t = 0;

    /* A migration resends pages: more than RAM can go over the wire. */
    if (pct > 100)
        pct = 100;
    human_bytes(done, sizeof(done), p->bytes);
    human_bytes(total, sizeof(total), p->total_bytes);
    if (p->rate_mbps > 0)
        t += (size_t)snprintf(tail + t, sizeof(tail) - t, bar ? "  %.0f Mb/s" : ", %.0f Mb/s",
                              p->rate_mbps);
    if (p->round && t < sizeof(tail))
        t += (size_t)snprintf(tail + t, sizeof(tail) - t, bar ? "  round %u" : ", round %u",
                              p->round);
    if (p->round && t < sizeof(tail))
        snprintf(tail + t, sizeof(tail) - t, bar ? "  %llu dirty" : ", %llu dirty pages",
                 (unsigned long long)p->dirty_pages);
    if (bar) {
        char b[31];
        unsigned fill = pct * 30 / 100;
        for (unsigned i = 0; i < 30; i++)
            b[i] = i < fill ? '=' : i == fill ? '>' : ' ';
        b[30] = '\0';
        if (!p->total_bytes)
            return snprintf(buf, n, "%s: %s", what, p->state);
        return snprintf(buf, n, "%s [%s] %3u%%  %s/%s%s", what, b, pct, done, total, tail);
    }
    if (!p->total_bytes)
        return snprintf(buf, n, "%s: %s", what, p->state);
    return snprintf(buf, n, "%s: %s, %u%%, %s of %s%s", what, p->state, pct, done, total, tail);
}
