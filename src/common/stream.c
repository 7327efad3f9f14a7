/* The state stream's framing, checksums, page encoding and memory images.
 * See stream.h for the layout and docs/state-format.md for the format. */
#include "stream.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY   /* XXH3_state_t on the stack */
#include <xxhash.h>
#include <zstd.h>

#include "util.h"

#define WBUF_SIZE      (1u << 20)
#define DIRECT_MIN     (64u << 10)      /* payloads this large bypass the buffer */
#define MAX_RUN_PAGES  256u             /* pages per PAGE record (1 MiB raw) */
#define MAX_APPLY_PAGES 1024u           /* what a reader accepts per record */
#define PAGE_HEAD      16u              /* gpa, npages, reserved */
#define MIMG_PAYLOAD   48u
#define DONE_PAYLOAD   16u
#define RECORD_SIZE(payload) (STREAM_RECORD_HEAD + (payload) + STREAM_RECORD_TAIL)

/* ---- little-endian helpers -------------------------------------------- */

static void put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void put64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static uint32_t get32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
    return v;
}
static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

bool stream_page_is_zero(const uint8_t *page)
{
    const uint64_t *w = (const uint64_t *)(const void *)page;

    for (unsigned i = 0; i < STREAM_PAGE_SIZE / 8; i += 8)
        if (w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] | w[i + 5] | w[i + 6] | w[i + 7])
            return false;
    return true;
}

const char *stream_arch_name(uint32_t arch)
{
    return arch == STREAM_ARCH_RISCV64 ? "riscv64" : arch == STREAM_ARCH_X86_64 ? "x86_64" : "unknown";
}

const char *stream_engine_name(uint32_t engine)
{
    return engine == STREAM_ENGINE_EMU ? "emu" : engine == STREAM_ENGINE_KVM ? "kvm" : "unknown";
}

void stream_tag_name(uint32_t tag, char out[5])
{
    for (int i = 0; i < 4; i++) {
        char c = (char)(tag >> (8 * i));
        out[i] = c >= 0x20 && c < 0x7f ? c : '?';
    }
    out[4] = 0;
}

/* The header on the wire: fields, then XXH3 of them. */
static void header_encode(const StreamHeader *h, uint8_t out[STREAM_HEADER_SIZE])
{
    memset(out, 0, STREAM_HEADER_SIZE);
    memcpy(out, STREAM_MAGIC, 8);
    put32(out + 8, h->version);
    put32(out + 12, STREAM_HEADER_SIZE);
    put32(out + 16, h->arch);
    put32(out + 20, h->engine);
    put32(out + 24, h->flags);
    put32(out + 28, h->nregions);
    for (unsigned i = 0; i < STREAM_MAX_REGIONS; i++) {
        put64(out + 32 + 16 * i, h->region[i].gpa);
        put64(out + 40 + 16 * i, h->region[i].size);
    }
    put64(out + 96, XXH3_64bits(out, 96));
}

/* ---- writer ------------------------------------------------------------ */

struct StreamWriter {
    int fd;
    stream_write_fn io;         /* NULL: write(2) on fd */
    void *io_opaque;
    bool seekable;
    int level;
    ZSTD_CCtx *zc;
    uint8_t *buf, *zbuf;
    size_t blen;
    uint64_t pos;               /* bytes written to the stream (file offset) */
    uint64_t records;
    XXH3_state_t *chain;
    uint32_t nregions;
    uint64_t image_base, image_next;    /* where images go; 0 = not yet */
    uint64_t reserved_end;              /* records may not pass this */
    bool failed;
    char err[256];
};

static int wfail(StreamWriter *w, const char *fmt, ...)
{
    va_list ap;

    if (!w->failed) {
        va_start(ap, fmt);
        vsnprintf(w->err, sizeof(w->err), fmt, ap);
        va_end(ap);
    }
    w->failed = true;
    return -1;
}

StreamWriter *stream_writer_new(int fd, bool seekable, int compress_level)
{
    StreamWriter *w = calloc(1, sizeof(*w));

    if (!w)
        return NULL;
    w->fd = fd;
    w->seekable = seekable;
    w->level = compress_level;
    w->buf = malloc(WBUF_SIZE);
    w->chain = XXH3_createState();
    if (compress_level) {
        w->zc = ZSTD_createCCtx();
        w->zbuf = malloc(ZSTD_compressBound(MAX_RUN_PAGES * STREAM_PAGE_SIZE));
    }
    if (!w->buf || !w->chain || (compress_level && (!w->zc || !w->zbuf))) {
        stream_writer_free(w);
        return NULL;
    }
    XXH3_64bits_reset(w->chain);
    return w;
}

void stream_writer_set_io(StreamWriter *w, stream_write_fn fn, void *opaque)
{
    w->io = fn;
    w->io_opaque = opaque;
}

void stream_writer_free(StreamWriter *w)
{
    if (!w)
        return;
    free(w->buf);
    free(w->zbuf);
    ZSTD_freeCCtx(w->zc);
    if (w->chain)
        XXH3_freeState(w->chain);
    free(w);
}

const char *stream_writer_error(const StreamWriter *w)
{
    return w->err[0] ? w->err : "no error";
}

bool stream_writer_failed(const StreamWriter *w)
{
    return w->failed;
}

uint64_t stream_bytes_written(const StreamWriter *w)
{
    return w->pos;
}

static int raw_write(StreamWriter *w, const void *p, size_t n)
{
    const uint8_t *s = p;

    while (n) {
        ssize_t k = w->io ? w->io(w->io_opaque, s, n) : write(w->fd, s, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return wfail(w, "write: %s", k < 0 ? strerror(errno) : "nothing written");
        s += k;
        n -= (size_t)k;
    }
    return 0;
}

int stream_flush(StreamWriter *w)
{
    if (w->failed)
        return -1;
    if (w->blen && raw_write(w, w->buf, w->blen))
        return -1;
    w->blen = 0;
    return 0;
}

static int put(StreamWriter *w, const void *p, size_t n)
{
    if (w->failed)
        return -1;
    if (n >= DIRECT_MIN) {
        if (stream_flush(w) || raw_write(w, p, n))
            return -1;
    } else {
        if (w->blen + n > WBUF_SIZE && stream_flush(w))
            return -1;
        memcpy(w->buf + w->blen, p, n);
        w->blen += n;
    }
    w->pos += n;
    return 0;
}

int stream_write_header(StreamWriter *w, const StreamHeader *h)
{
    uint8_t hdr[STREAM_HEADER_SIZE];

    if (h->nregions > STREAM_MAX_REGIONS)
        return wfail(w, "too many memory regions (%u)", h->nregions);
    header_encode(h, hdr);
    w->nregions = h->nregions;
    return put(w, hdr, sizeof(hdr));
}

/* A record whose payload is two pieces (a small head and a large body), so
 * page data is checksummed and written without a copy. */
static int write_record2(StreamWriter *w, uint32_t tag, uint32_t instance, uint32_t version,
                         uint32_t flags, const void *p1, size_t n1, const void *p2, size_t n2)
{
    uint8_t head[STREAM_RECORD_HEAD], tail[STREAM_RECORD_TAIL];
    XXH3_state_t st;
    uint64_t sum;

    if (w->failed)
        return -1;
    if (w->reserved_end && w->pos + RECORD_SIZE(n1 + n2) > w->reserved_end)
        return wfail(w, "records after the memory images do not fit");
    put32(head, tag);
    put32(head + 4, instance);
    put32(head + 8, version);
    put32(head + 12, flags);
    put64(head + 16, (uint64_t)(n1 + n2));
    XXH3_64bits_reset(&st);
    XXH3_64bits_update(&st, head, sizeof(head));
    if (n1)
        XXH3_64bits_update(&st, p1, n1);
    if (n2)
        XXH3_64bits_update(&st, p2, n2);
    sum = XXH3_64bits_digest(&st);
    put64(tail, sum);
    XXH3_64bits_update(w->chain, tail, sizeof(tail));
    w->records++;
    if (put(w, head, sizeof(head)) || (n1 && put(w, p1, n1)) || (n2 && put(w, p2, n2)) ||
        put(w, tail, sizeof(tail)))
        return -1;
    return 0;
}

int stream_write_record(StreamWriter *w, uint32_t tag, uint32_t instance, uint32_t version,
                        uint32_t flags, const void *payload, size_t len)
{
    return write_record2(w, tag, instance, version, flags, payload, len, NULL, 0);
}

static int write_page_run(StreamWriter *w, uint64_t gpa, const uint8_t *data, uint32_t n, bool zero)
{
    uint8_t head[PAGE_HEAD];
    size_t raw = (size_t)n * STREAM_PAGE_SIZE;

    put64(head, gpa);
    put32(head + 8, n);
    put32(head + 12, 0);
    if (zero)
        return write_record2(w, STREAM_TAG_ZERO, 0, 1, 0, head, sizeof(head), NULL, 0);
    if (w->zc) {
        size_t z = ZSTD_compressCCtx(w->zc, w->zbuf, ZSTD_compressBound(raw), data, raw, w->level);
        /* Keep the compressed form only where it saves a tenth or more. */
        if (!ZSTD_isError(z) && z < raw - raw / 10)
            return write_record2(w, STREAM_TAG_PAGE, 0, 1, STREAM_PAGE_ZSTD, head, sizeof(head),
                                 w->zbuf, z);
    }
    return write_record2(w, STREAM_TAG_PAGE, 0, 1, 0, head, sizeof(head), data, raw);
}

int stream_write_pages(StreamWriter *w, uint64_t gpa, const uint8_t *data, uint64_t npages)
{
    uint64_t i = 0;

    while (i < npages) {
        bool zero = stream_page_is_zero(data + i * STREAM_PAGE_SIZE);
        uint64_t j = i + 1;
        /* Zero runs are free to send: let them grow longer. */
        uint64_t max = zero ? MAX_APPLY_PAGES : MAX_RUN_PAGES;

        while (j < npages && j - i < max &&
               stream_page_is_zero(data + j * STREAM_PAGE_SIZE) == zero)
            j++;
        if (write_page_run(w, gpa + i * STREAM_PAGE_SIZE, data + i * STREAM_PAGE_SIZE,
                           (uint32_t)(j - i), zero))
            return -1;
        i = j;
    }
    return 0;
}

static int pwrite_all(StreamWriter *w, const uint8_t *p, size_t n, uint64_t off)
{
    while (n) {
        ssize_t k = pwrite(w->fd, p, n, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return wfail(w, "write: %s", k < 0 ? strerror(errno) : "nothing written");
        p += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return 0;
}

int stream_write_image(StreamWriter *w, uint32_t index, uint64_t gpa, const uint8_t *data,
                       uint64_t size)
{
    uint8_t pl[MIMG_PAYLOAD];
    XXH3_state_t st;
    uint64_t npages = size / STREAM_PAGE_SIZE, data_pages = 0, off;

    if (w->failed)
        return -1;
    if (!w->seekable)
        return wfail(w, "memory images need a file");
    if (size % STREAM_PAGE_SIZE || index >= w->nregions)
        return wfail(w, "bad memory image %u", index);
    if (!w->image_base) {
        /* Room for every MIMG record and DONE, then the images. */
        uint64_t end = w->pos + w->nregions * RECORD_SIZE(MIMG_PAYLOAD) + RECORD_SIZE(DONE_PAYLOAD);
        w->image_base = w->image_next = ALIGN_UP(end, (uint64_t)STREAM_PAGE_SIZE);
        w->reserved_end = end;
    }
    off = w->image_next;
    XXH3_64bits_reset(&st);
    for (uint64_t i = 0; i < npages;) {
        uint64_t j;
        if (stream_page_is_zero(data + i * STREAM_PAGE_SIZE)) {
            i++;
            continue;
        }
        for (j = i; j < npages && !stream_page_is_zero(data + j * STREAM_PAGE_SIZE); j++) {
            uint8_t idx[8];
            put64(idx, j);
            XXH3_64bits_update(&st, idx, sizeof(idx));
            XXH3_64bits_update(&st, data + j * STREAM_PAGE_SIZE, STREAM_PAGE_SIZE);
        }
        if (pwrite_all(w, data + i * STREAM_PAGE_SIZE, (size_t)(j - i) * STREAM_PAGE_SIZE,
                       off + i * STREAM_PAGE_SIZE))
            return -1;
        data_pages += j - i;
        i = j;
    }
    put32(pl, index);
    put32(pl + 4, 0);
    put64(pl + 8, gpa);
    put64(pl + 16, size);
    put64(pl + 24, off);
    put64(pl + 32, data_pages);
    put64(pl + 40, XXH3_64bits_digest(&st));
    w->image_next = off + size;
    return write_record2(w, STREAM_TAG_MIMG, index, 1, 0, pl, sizeof(pl), NULL, 0);
}

int stream_write_done(StreamWriter *w)
{
    uint8_t pl[DONE_PAYLOAD];

    put64(pl, w->records);
    put64(pl + 8, XXH3_64bits_digest(w->chain));
    if (write_record2(w, STREAM_TAG_DONE, 0, 1, 0, pl, sizeof(pl), NULL, 0) || stream_flush(w))
        return -1;
    /* The images end the file, trailing zero pages included. */
    if (w->image_base && ftruncate(w->fd, (off_t)w->image_next) < 0)
        return wfail(w, "ftruncate: %s", strerror(errno));
    return 0;
}

/* ---- reader ------------------------------------------------------------ */

struct StreamReader {
    int fd;                     /* -1: memory */
    stream_read_fn io;          /* NULL: read(2) on fd */
    void *io_opaque;
    const uint8_t *mem;
    size_t mem_len, mem_pos;
    size_t max_payload;
    uint8_t *buf;               /* one record: head, payload, tail */
    size_t cap;
    uint64_t pos;
    uint64_t records;
    XXH3_state_t *chain;
    bool done, failed;
    char err[256];
};

static int rfail(StreamReader *r, const char *fmt, ...)
{
    va_list ap;

    if (!r->failed) {
        va_start(ap, fmt);
        vsnprintf(r->err, sizeof(r->err), fmt, ap);
        va_end(ap);
    }
    r->failed = true;
    return -1;
}

static StreamReader *reader_new(size_t max_payload)
{
    StreamReader *r = calloc(1, sizeof(*r));

    if (!r)
        return NULL;
    r->fd = -1;
    r->max_payload = max_payload;
    r->chain = XXH3_createState();
    if (!r->chain) {
        free(r);
        return NULL;
    }
    XXH3_64bits_reset(r->chain);
    return r;
}

StreamReader *stream_reader_fd(int fd, size_t max_payload)
{
    StreamReader *r = reader_new(max_payload);

    if (r)
        r->fd = fd;
    return r;
}

StreamReader *stream_reader_mem(const void *data, size_t len, size_t max_payload)
{
    StreamReader *r = reader_new(max_payload);

    if (r) {
        r->mem = data;
        r->mem_len = len;
    }
    return r;
}

void stream_reader_set_io(StreamReader *r, stream_read_fn fn, void *opaque)
{
    r->io = fn;
    r->io_opaque = opaque;
}

void stream_reader_free(StreamReader *r)
{
    if (!r)
        return;
    free(r->buf);
    if (r->chain)
        XXH3_freeState(r->chain);
    free(r);
}

const char *stream_reader_error(const StreamReader *r)
{
    return r->err[0] ? r->err : "no error";
}

uint64_t stream_bytes_read(const StreamReader *r)
{
    return r->pos;
}

/* Exactly n bytes, or -1 (end of stream or error). */
static int get(StreamReader *r, void *p, size_t n, const char *what)
{
    uint8_t *d = p;

    if (r->fd < 0) {
        if (n > r->mem_len - r->mem_pos)
            return rfail(r, "truncated %s at byte %llu", what, (unsigned long long)r->pos);
        memcpy(d, r->mem + r->mem_pos, n);
        r->mem_pos += n;
        r->pos += n;
        return 0;
    }
    while (n) {
        ssize_t k = r->io ? r->io(r->io_opaque, d, n) : read(r->fd, d, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return rfail(r, "read: %s", strerror(errno));
        if (k == 0)
            return rfail(r, "truncated %s at byte %llu", what, (unsigned long long)r->pos);
        d += k;
        n -= (size_t)k;
        r->pos += (uint64_t)k;
    }
    return 0;
}

int stream_read_header(StreamReader *r, StreamHeader *h)
{
    uint8_t hdr[STREAM_HEADER_SIZE];

    if (get(r, hdr, sizeof(hdr), "header"))
        return -1;
    if (memcmp(hdr, STREAM_MAGIC, 8))
        return rfail(r, "not a Xeno save file or migration stream (bad magic)");
    memset(h, 0, sizeof(*h));
    h->version = get32(hdr + 8);
    if (h->version != STREAM_FORMAT_VERSION)
        return rfail(r, "unsupported state format version %u (this Xeno reads version %u)",
                     h->version, STREAM_FORMAT_VERSION);
    if (get32(hdr + 12) != STREAM_HEADER_SIZE || get64(hdr + 96) != XXH3_64bits(hdr, 96))
        return rfail(r, "header checksum mismatch (the file is corrupt)");
    h->arch = get32(hdr + 16);
    h->engine = get32(hdr + 20);
    h->flags = get32(hdr + 24);
    h->nregions = get32(hdr + 28);
    if (h->nregions == 0 || h->nregions > STREAM_MAX_REGIONS)
        return rfail(r, "header names %u memory regions", h->nregions);
    for (unsigned i = 0; i < STREAM_MAX_REGIONS; i++) {
        h->region[i].gpa = get64(hdr + 32 + 16 * i);
        h->region[i].size = get64(hdr + 40 + 16 * i);
        if (i >= h->nregions)
            continue;
        if (!h->region[i].size || h->region[i].size % STREAM_PAGE_SIZE ||
            h->region[i].gpa % STREAM_PAGE_SIZE || h->region[i].gpa + h->region[i].size < h->region[i].gpa)
            return rfail(r, "header has an impossible memory region %u", i);
    }
    return 0;
}

int stream_read_record(StreamReader *r, StreamRecord *rec)
{
    uint8_t head[STREAM_RECORD_HEAD];
    uint64_t len, sum;
    char name[5];

    if (r->failed)
        return -1;
    if (r->done)
        return 0;
    if (get(r, head, sizeof(head), "record"))
        return -1;
    len = get64(head + 16);
    stream_tag_name(get32(head), name);
    if (len > r->max_payload)
        return rfail(r, "record %s of %llu bytes is larger than allowed (%zu)", name,
                     (unsigned long long)len, r->max_payload);
    if (len + STREAM_RECORD_TAIL > r->cap) {
        uint8_t *p = realloc(r->buf, len + STREAM_RECORD_TAIL);
        if (!p)
            return rfail(r, "out of memory");
        r->buf = p;
        r->cap = len + STREAM_RECORD_TAIL;
    }
    if (get(r, r->buf, len + STREAM_RECORD_TAIL, "record"))
        return -1;
    {
        XXH3_state_t st;
        XXH3_64bits_reset(&st);
        XXH3_64bits_update(&st, head, sizeof(head));
        XXH3_64bits_update(&st, r->buf, len);
        sum = XXH3_64bits_digest(&st);
    }
    if (sum != get64(r->buf + len))
        return rfail(r, "record %s at byte %llu: checksum mismatch (the stream is corrupt)", name,
                     (unsigned long long)(r->pos - len - STREAM_RECORD_TAIL - STREAM_RECORD_HEAD));
    rec->tag = get32(head);
    rec->instance = get32(head + 4);
    rec->version = get32(head + 8);
    rec->flags = get32(head + 12);
    rec->payload = r->buf;
    rec->len = len;
    if (rec->tag == STREAM_TAG_DONE) {
        if (len != DONE_PAYLOAD || get64(r->buf) != r->records ||
            get64(r->buf + 8) != XXH3_64bits_digest(r->chain))
            return rfail(r, "records are missing or out of order (end record does not match)");
        r->done = true;
        return 0;
    }
    XXH3_64bits_update(r->chain, r->buf + len, STREAM_RECORD_TAIL);
    r->records++;
    return 1;
}

/* ---- pages and images -------------------------------------------------- */

static int perr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

int stream_page_range(const StreamRecord *rec, uint64_t *gpa, uint32_t *npages,
                      char *err, size_t errlen)
{
    if (rec->tag != STREAM_TAG_PAGE && rec->tag != STREAM_TAG_ZERO)
        return perr(err, errlen, "not a memory record");
    if (rec->len < PAGE_HEAD)
        return perr(err, errlen, "memory record too short");
    *gpa = get64(rec->payload);
    *npages = get32(rec->payload + 8);
    if (*npages == 0 || *npages > MAX_APPLY_PAGES || *gpa % STREAM_PAGE_SIZE)
        return perr(err, errlen, "memory record at 0x%llx has %u pages", (unsigned long long)*gpa,
                    *npages);
    if (rec->tag == STREAM_TAG_ZERO && rec->len != PAGE_HEAD)
        return perr(err, errlen, "zero-page record with a payload");
    return 0;
}

int stream_apply_pages(const StreamRecord *rec, stream_map_fn map, void *opaque,
                       char *err, size_t errlen)
{
    uint64_t gpa, bytes;
    uint32_t n;
    uint8_t *dst;

    if (stream_page_range(rec, &gpa, &n, err, errlen))
        return -1;
    bytes = (uint64_t)n * STREAM_PAGE_SIZE;
    dst = map(opaque, gpa, bytes);
    if (!dst)
        return perr(err, errlen, "memory record for 0x%llx-0x%llx outside guest RAM",
                    (unsigned long long)gpa, (unsigned long long)(gpa + bytes));
    if (rec->tag == STREAM_TAG_ZERO) {
        for (uint32_t i = 0; i < n; i++)
            if (!stream_page_is_zero(dst + (uint64_t)i * STREAM_PAGE_SIZE))
                memset(dst + (uint64_t)i * STREAM_PAGE_SIZE, 0, STREAM_PAGE_SIZE);
        return 0;
    }
    if (rec->flags & STREAM_PAGE_ZSTD) {
        size_t got = ZSTD_decompress(dst, bytes, rec->payload + PAGE_HEAD, rec->len - PAGE_HEAD);
        if (ZSTD_isError(got) || got != bytes)
            return perr(err, errlen, "memory record at 0x%llx does not decompress: %s",
                        (unsigned long long)gpa,
                        ZSTD_isError(got) ? ZSTD_getErrorName(got) : "wrong size");
        return 0;
    }
    if (rec->flags || rec->len - PAGE_HEAD != bytes)
        return perr(err, errlen, "memory record at 0x%llx has the wrong length", (unsigned long long)gpa);
    memcpy(dst, rec->payload + PAGE_HEAD, bytes);
    return 0;
}

int stream_parse_image(const StreamRecord *rec, StreamImage *img, char *err, size_t errlen)
{
    if (rec->tag != STREAM_TAG_MIMG || rec->len != MIMG_PAYLOAD)
        return perr(err, errlen, "bad memory image record");
    img->index = get32(rec->payload);
    img->gpa = get64(rec->payload + 8);
    img->size = get64(rec->payload + 16);
    img->offset = get64(rec->payload + 24);
    img->data_pages = get64(rec->payload + 32);
    img->checksum = get64(rec->payload + 40);
    if (img->offset % STREAM_PAGE_SIZE || img->size % STREAM_PAGE_SIZE || !img->size ||
        img->offset + img->size < img->offset || img->data_pages > img->size / STREAM_PAGE_SIZE)
        return perr(err, errlen, "memory image %u has an impossible layout", img->index);
    return 0;
}

int stream_check_image(int fd, const StreamImage *img, bool verify, char *err, size_t errlen)
{
    off_t end = lseek(fd, 0, SEEK_END);
    uint8_t *page;
    XXH3_state_t st;
    uint64_t npages = img->size / STREAM_PAGE_SIZE, seen = 0;

    if (end < 0 || (uint64_t)end < img->offset + img->size)
        return perr(err, errlen, "memory image %u is cut short (the file is truncated)", img->index);
    if (!verify)
        return 0;
    page = malloc(STREAM_PAGE_SIZE);
    if (!page)
        return perr(err, errlen, "out of memory");
    XXH3_64bits_reset(&st);
    for (uint64_t i = 0; i < npages; i++) {
        off_t off = (off_t)(img->offset + i * STREAM_PAGE_SIZE);
        off_t data = lseek(fd, off, SEEK_DATA);
        if (data < 0 || data >= off + (off_t)STREAM_PAGE_SIZE) {
            /* A hole: skip to where data starts again. */
            if (data < 0)
                break;
            i = ((uint64_t)data - img->offset) / STREAM_PAGE_SIZE - 1;
            continue;
        }
        if (pread(fd, page, STREAM_PAGE_SIZE, off) != (ssize_t)STREAM_PAGE_SIZE) {
            free(page);
            return perr(err, errlen, "memory image %u: read failed", img->index);
        }
        if (stream_page_is_zero(page))
            continue;
        {
            uint8_t idx[8];
            put64(idx, i);
            XXH3_64bits_update(&st, idx, sizeof(idx));
            XXH3_64bits_update(&st, page, STREAM_PAGE_SIZE);
        }
        seen++;
    }
    free(page);
    if (seen != img->data_pages || XXH3_64bits_digest(&st) != img->checksum)
        return perr(err, errlen, "memory image %u: checksum mismatch (the file is corrupt)", img->index);
    return 0;
}
