/* Taking a domain's state back: from a save file (--restore) or a
 * migration stream (--incoming). Memory records go straight into RAM;
 * sections wait until DONE proves the stream complete and the machine's
 * devices exist; a save file's memory images are mapped over RAM. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23     /* Linux 5.14 */
#endif

#include "migrate.h"
#include "state.h"

/* Largest record accepted: a PAGE record of 1024 raw pages, with room. */
#define MAX_PAYLOAD ((4u << 20) + 4096)

static int rerr(StateLoad *L, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s", stream_reader_error(L->r));
    return -1;
}

int state_load_begin(StateLoad *L, int fd, struct MigChan *chan, bool file, VmConfig *cfg,
                     char *err, size_t errlen)
{
    StreamRecord rec;
    int k;

    memset(L, 0, sizeof(*L));
    L->fd = fd;
    L->chan = chan;
    L->file = file;
    L->r = stream_reader_fd(fd, MAX_PAYLOAD);
    if (!L->r) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (chan)
        stream_reader_set_io(L->r, migchan_read, chan);
    if (stream_read_header(L->r, &L->h))
        return rerr(L, err, errlen);
    if (!!(L->h.flags & STREAM_F_MIGRATION) == file) {
        snprintf(err, errlen, file ? "this is a migration stream, not a save file"
                                   : "this is a save file, not a migration stream");
        return -1;
    }
    k = stream_read_record(L->r, &rec);
    if (k < 0)
        return rerr(L, err, errlen);
    if (k == 0 || rec.tag != STREAM_TAG_CONF) {
        snprintf(err, errlen, "the configuration record is missing");
        return -1;
    }
    config_init(cfg);
    if (config_parse(cfg, "saved configuration", (const char *)rec.payload, rec.len,
                     NULL, NULL, err, errlen))
        return -1;
    return 0;
}

int state_load_check(StateLoad *L, const Machine *m, char *err, size_t errlen)
{
    const StreamHeader *h = &L->h;

    if (h->arch != machine_stream_arch(m) || h->engine != machine_stream_engine(m)) {
        snprintf(err, errlen, "saved from a %s domain on the %s engine; this one is %s on %s",
                 stream_arch_name(h->arch), stream_engine_name(h->engine),
                 stream_arch_name(machine_stream_arch(m)), stream_engine_name(machine_stream_engine(m)));
        return -1;
    }
    if (h->nregions != m->mem.nr)
        goto layout;
    for (unsigned i = 0; i < h->nregions; i++)
        if (h->region[i].gpa != m->mem.r[i].gpa || h->region[i].size != m->mem.r[i].size)
            goto layout;
    for (unsigned i = 0; i < m->mem.nr; i++) {
        L->written[i] = calloc((m->mem.r[i].size / STREAM_PAGE_SIZE + 63) / 64, sizeof(uint64_t));
        if (!L->written[i]) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    return 0;
layout:
    snprintf(err, errlen, "the saved memory layout (%u regions, %llu MiB) is not this domain's",
             h->nregions, (unsigned long long)((h->region[0].size + h->region[1].size +
                                                h->region[2].size + h->region[3].size) >> 20));
    return -1;
}

static uint8_t *map_ram(void *opaque, uint64_t gpa, uint64_t len)
{
    return gmem_ptr(opaque, gpa, len);
}

/* The region holding [gpa, gpa + n pages) and the first page's index in
 * it, or NULL. */
static GuestRegion *page_region(Machine *m, uint64_t gpa, uint32_t n, uint64_t *first)
{
    for (unsigned i = 0; i < m->mem.nr; i++) {
        GuestRegion *g = &m->mem.r[i];
        if (gpa >= g->gpa && gpa - g->gpa < g->size &&
            (uint64_t)n * STREAM_PAGE_SIZE <= g->size - (gpa - g->gpa)) {
            *first = (gpa - g->gpa) / STREAM_PAGE_SIZE;
            return g;
        }
    }
    return NULL;
}

/* A PAGE record: into RAM, its pages noted as written. Pages that come
 * for the first time are faulted in with one call before the copy: a
 * fault per page cost the receiver of an idle guest's 16 MiB ~4 ms more
 * (best effort: without MADV_POPULATE_WRITE, Linux < 5.14, the copy
 * faults them in). */
static int load_pages(StateLoad *L, Machine *m, const StreamRecord *rec, char *err, size_t errlen)
{
    uint64_t gpa, first;
    uint32_t n;
    GuestRegion *g;

    if (stream_page_range(rec, &gpa, &n, err, errlen))
        return -1;
    g = page_region(m, gpa, n, &first);
    if (g && !g->file_backed && L->written[g - m->mem.r] &&
        !(L->written[g - m->mem.r][first / 64] & (1ull << (first % 64))))
        madvise(g->host + first * STREAM_PAGE_SIZE, (size_t)n * STREAM_PAGE_SIZE,
                MADV_POPULATE_WRITE);
    if (stream_apply_pages(rec, map_ram, &m->mem, err, errlen))
        return -1;
    if (g && L->written[g - m->mem.r])
        for (uint64_t p = first; p < first + n; p++)
            L->written[g - m->mem.r][p / 64] |= 1ull << (p % 64);
    return 0;
}

/* A ZERO record: only pages a PAGE record wrote need clearing; the rest
 * are still as mapped (zero) and are not touched, which keeps them
 * unallocated and spares reading most of an idle guest's RAM. */
static int load_zero(StateLoad *L, Machine *m, const StreamRecord *rec, char *err, size_t errlen)
{
    uint64_t gpa, first, *bits;
    uint32_t n;
    GuestRegion *g;

    if (stream_page_range(rec, &gpa, &n, err, errlen))
        return -1;
    g = page_region(m, gpa, n, &first);
    if (!g || !(bits = L->written[g - m->mem.r]))
        return stream_apply_pages(rec, map_ram, &m->mem, err, errlen);
    for (uint64_t p = first, end = first + n; p < end;) {
        if (p % 64 == 0 && p + 64 <= end && !bits[p / 64]) {
            p += 64;
            continue;
        }
        if (bits[p / 64] & (1ull << (p % 64))) {
            memset(g->host + p * STREAM_PAGE_SIZE, 0, STREAM_PAGE_SIZE);
            bits[p / 64] &= ~(1ull << (p % 64));
        }
        p++;
    }
    return 0;
}

static int keep_section(StateLoad *L, const StreamRecord *rec, char *err, size_t errlen)
{
    StateSection *s;

    if (L->nsec == L->capsec) {
        unsigned cap = L->capsec ? L->capsec * 2 : 32;
        StateSection *p;
        if (cap > VMSTATE_MAX_SECTIONS * 2) {
            snprintf(err, errlen, "too many sections");
            return -1;
        }
        p = realloc(L->sec, cap * sizeof(*p));
        if (!p)
            goto nomem;
        L->sec = p;
        L->capsec = cap;
    }
    s = &L->sec[L->nsec];
    s->data = malloc(rec->len ? rec->len : 1);
    if (!s->data)
        goto nomem;
    memcpy(s->data, rec->payload, rec->len);
    s->len = rec->len;
    s->tag = rec->tag;
    s->instance = rec->instance;
    s->version = rec->version;
    L->nsec++;
    return 0;
nomem:
    snprintf(err, errlen, "out of memory");
    return -1;
}

int state_load_records(StateLoad *L, Machine *m, char *err, size_t errlen)
{
    StreamRecord rec;
    int k;

    gmem_set_huge(&m->mem, false);      /* scattered writes: see gmem_set_huge */
    while ((k = stream_read_record(L->r, &rec)) == 1) {
        switch (rec.tag) {
        case STREAM_TAG_PAGE:
            if (load_pages(L, m, &rec, err, errlen))
                return -1;
            L->pages++;
            break;
        case STREAM_TAG_ZERO:
            if (load_zero(L, m, &rec, err, errlen))
                return -1;
            L->pages++;
            break;
        case STREAM_TAG_SYNC:
            if (!L->on_sync || rec.len) {
                snprintf(err, errlen, "an unexpected sync record");
                return -1;
            }
            if (L->on_sync(L)) {
                snprintf(err, errlen, "the sender's connection broke");
                return -1;
            }
            break;
        case STREAM_TAG_MIMG:
            if (!L->file || L->nimg >= STREAM_MAX_REGIONS) {
                snprintf(err, errlen, "unexpected memory image record");
                return -1;
            }
            if (stream_parse_image(&rec, &L->img[L->nimg], err, errlen))
                return -1;
            L->nimg++;
            break;
        case STREAM_TAG_CONF:
            snprintf(err, errlen, "a second configuration record");
            return -1;
        default:
            if (keep_section(L, &rec, err, errlen))
                return -1;
        }
    }
    if (k < 0)
        return rerr(L, err, errlen);
    gmem_set_huge(&m->mem, true);
    return 0;
}

int state_load_images(StateLoad *L, Machine *m, bool verify, char *err, size_t errlen)
{
    if ((L->h.flags & STREAM_F_IMAGES) && L->nimg != m->mem.nr) {
        snprintf(err, errlen, "memory images are missing (%u of %u)", L->nimg, m->mem.nr);
        return -1;
    }
    for (unsigned i = 0; i < L->nimg; i++) {
        StreamImage *im = &L->img[i];
        GuestRegion *g;
        if (im->index >= m->mem.nr || m->mem.r[im->index].gpa != im->gpa ||
            m->mem.r[im->index].size != im->size) {
            snprintf(err, errlen, "memory image %u does not match guest RAM", im->index);
            return -1;
        }
        if (stream_check_image(L->fd, im, verify, err, errlen))
            return -1;
        g = &m->mem.r[im->index];
        /* Private: the guest's writes stay in this process, the file never
         * changes, and pages come in from it only when touched. */
        if (mmap(g->host, g->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, L->fd,
                 (off_t)im->offset) == MAP_FAILED) {
            snprintf(err, errlen, "cannot map memory image %u: %s", im->index, strerror(errno));
            return -1;
        }
        g->file_backed = true;      /* untouched pages hold the file's bytes */
    }
    return 0;
}

int state_load_sections(StateLoad *L, Machine *m, char *err, size_t errlen)
{
    vmstate_load_begin(&m->state);
    for (unsigned i = 0; i < L->nsec; i++) {
        StateSection *s = &L->sec[i];
        if (vmstate_load_one(&m->state, s->tag, s->instance, s->version, s->data, s->len,
                             err, errlen))
            return -1;
    }
    return vmstate_check_complete(&m->state, err, errlen);
}

void state_load_free(StateLoad *L)
{
    for (unsigned i = 0; i < L->nsec; i++)
        free(L->sec[i].data);
    free(L->sec);
    for (unsigned i = 0; i < STREAM_MAX_REGIONS; i++)
        free(L->written[i]);
    stream_reader_free(L->r);
    migchan_free(L->chan);
    memset(L, 0, sizeof(*L));
    L->fd = -1;
}
