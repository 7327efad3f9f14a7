/* The state stream: what the writer writes the reader reads back, and
 * every corruption (flipped byte, truncation, dropped record, foreign
 * header, hostile lengths) is a one-line error, never a crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/statebuf.h"
#include "common/stream.h"

#define PG STREAM_PAGE_SIZE
#define NPAGES 64
#define GPA 0x80000000ull

/* ---- StateBuf ------------------------------------------------------------ */

static void test_statebuf_roundtrip(void **state)
{
    StateBuf w, r;
    uint8_t bytes[5] = { 1, 2, 3, 4, 5 }, got[5], blob[16];
    (void)state;

    sb_init(&w);
    sb_put_u8(&w, 0xab);
    sb_put_u16(&w, 0xbeef);
    sb_put_u32(&w, 0xdeadbeef);
    sb_put_u64(&w, 0x0123456789abcdefull);
    sb_put_bool(&w, true);
    sb_put_bytes(&w, bytes, sizeof(bytes));
    sb_put_blob(&w, "hello", 5);
    assert_true(sb_ok(&w));
    assert_int_equal(w.len, 1 + 2 + 4 + 8 + 1 + 5 + 4 + 5);
    /* Little-endian on the wire. */
    assert_int_equal(w.data[1], 0xef);
    assert_int_equal(w.data[2], 0xbe);

    sb_reader(&r, w.data, w.len);
    assert_int_equal(sb_get_u8(&r), 0xab);
    assert_int_equal(sb_get_u16(&r), 0xbeef);
    assert_int_equal(sb_get_u32(&r), 0xdeadbeef);
    assert_true(sb_get_u64(&r) == 0x0123456789abcdefull);
    assert_true(sb_get_bool(&r));
    sb_get_bytes(&r, got, sizeof(got));
    assert_memory_equal(got, bytes, sizeof(got));
    assert_int_equal(sb_get_blob(&r, blob, sizeof(blob)), 5);
    assert_memory_equal(blob, "hello", 5);
    assert_true(sb_ok(&r));
    sb_free(&w);
}

static void test_statebuf_bad_input(void **state)
{
    StateBuf r;
    uint8_t two[2] = { 7, 0 }, big[8] = { 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0 }, out[4];
    (void)state;

    /* Reading past the end: sticky error, zeros. */
    sb_reader(&r, two, sizeof(two));
    assert_int_equal(sb_get_u32(&r), 0);
    assert_false(sb_ok(&r));
    assert_int_equal(sb_get_u8(&r), 0);
    /* Bytes left over are an error too. */
    sb_reader(&r, two, sizeof(two));
    sb_get_u8(&r);
    assert_false(sb_ok(&r));
    /* A bool is 0 or 1. */
    sb_reader(&r, two, 1);
    assert_int_equal(sb_get_bool(&r), 0);
    assert_false(sb_ok(&r));
    /* A blob longer than the room for it. */
    sb_reader(&r, big, sizeof(big));
    assert_int_equal(sb_get_blob(&r, out, sizeof(out)), 0);
    assert_false(sb_ok(&r));
    /* A reader is not writable. */
    sb_reader(&r, two, sizeof(two));
    sb_put_u8(&r, 1);
    assert_true(r.error);
}

/* ---- the stream ---------------------------------------------------------- */

static uint8_t *ram;           /* NPAGES pages of test "guest RAM" */
static uint8_t *dst;

static uint8_t *map_dst(void *opaque, uint64_t gpa, uint64_t len)
{
    (void)opaque;
    if (gpa < GPA || gpa - GPA > (uint64_t)NPAGES * PG || len > (uint64_t)NPAGES * PG - (gpa - GPA))
        return NULL;
    return dst + (gpa - GPA);
}

static void fill_ram(void)
{
    memset(ram, 0, (size_t)NPAGES * PG);
    for (unsigned p = 0; p < NPAGES; p++) {
        if (p % 5 == 0 || p == 7)
            continue;               /* zero pages */
        for (unsigned i = 0; i < PG; i++)
            ram[(size_t)p * PG + i] = (uint8_t)(p % 3 ? (i * 31 + p) : (i / 64));  /* some compress */
    }
}

static StreamHeader header(void)
{
    StreamHeader h = { .version = STREAM_FORMAT_VERSION, .arch = STREAM_ARCH_RISCV64,
                       .engine = STREAM_ENGINE_EMU, .nregions = 1 };
    h.region[0].gpa = GPA;
    h.region[0].size = (uint64_t)NPAGES * PG;
    return h;
}

/* A complete stream in a memory file: CONF, pages, two sections, DONE. */
static int write_stream(int level, size_t *len)
{
    int fd = memfd_create("stream", 0);
    StreamWriter *w = stream_writer_new(fd, false, level);
    StreamHeader h = header();
    struct stat st;

    assert_non_null(w);
    assert_int_equal(stream_write_header(w, &h), 0);
    assert_int_equal(stream_write_record(w, STREAM_TAG_CONF, 0, 1, 0, "name = \"vm\"\n", 12), 0);
    assert_int_equal(stream_write_pages(w, GPA, ram, NPAGES), 0);
    assert_int_equal(stream_write_record(w, STREAM_TAG('H', 'A', 'R', 'T'), 0, 3, 0, "abc", 3), 0);
    assert_int_equal(stream_write_record(w, STREAM_TAG('U', 'A', 'R', 'T'), 0, 1, 0, NULL, 0), 0);
    assert_int_equal(stream_write_done(w), 0);
    stream_writer_free(w);
    assert_int_equal(fstat(fd, &st), 0);
    *len = (size_t)st.st_size;
    return fd;
}

static uint8_t *slurp(int fd, size_t len)
{
    uint8_t *b = malloc(len);
    assert_non_null(b);
    assert_int_equal(pread(fd, b, len, 0), (ssize_t)len);
    return b;
}

/* Read the whole stream; 0 if it was complete and intact, else -1 with
 * the error in err. */
static int read_all(StreamReader *r, char *err, size_t errlen, unsigned *nsections)
{
    StreamHeader h;
    StreamRecord rec;
    int k;

    *nsections = 0;
    if (stream_read_header(r, &h)) {
        snprintf(err, errlen, "%s", stream_reader_error(r));
        return -1;
    }
    while ((k = stream_read_record(r, &rec)) == 1) {
        if (rec.tag == STREAM_TAG_PAGE || rec.tag == STREAM_TAG_ZERO) {
            if (stream_apply_pages(&rec, map_dst, NULL, err, errlen))
                return -1;
        } else if (rec.tag != STREAM_TAG_CONF) {
            (*nsections)++;
        }
    }
    if (k < 0) {
        snprintf(err, errlen, "%s", stream_reader_error(r));
        return -1;
    }
    return 0;
}

static void roundtrip(int level)
{
    size_t len;
    int fd = write_stream(level, &len);
    StreamReader *r;
    char err[256];
    unsigned n;

    memset(dst, 0x55, (size_t)NPAGES * PG);     /* zero pages must be cleared */
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    r = stream_reader_fd(fd, 8u << 20);
    assert_int_equal(read_all(r, err, sizeof(err), &n), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(dst, ram, (size_t)NPAGES * PG);
    stream_reader_free(r);
    close(fd);
}

static void test_roundtrip_raw(void **state) { (void)state; fill_ram(); roundtrip(0); }
static void test_roundtrip_zstd(void **state) { (void)state; fill_ram(); roundtrip(3); }

static void test_compression_shrinks(void **state)
{
    size_t raw, z;
    (void)state;
    fill_ram();
    close(write_stream(0, &raw));
    close(write_stream(3, &z));
    assert_true(z < raw);
    /* Zero pages cost nothing: 64 pages with 14 zero take about 50 pages. */
    assert_true(raw < 52u * PG);
}

/* Every single flipped byte anywhere is detected. */
static void test_every_flip_detected(void **state)
{
    size_t len;
    int fd;
    uint8_t *b;
    char err[256];
    unsigned n;
    (void)state;

    fill_ram();
    fd = write_stream(3, &len);
    b = slurp(fd, len);
    close(fd);
    for (size_t i = 0; i < len; i += (i < 512 || len - i < 512) ? 1 : 97) {
        StreamReader *r;
        b[i] ^= 0x20;
        r = stream_reader_mem(b, len, 8u << 20);
        if (read_all(r, err, sizeof(err), &n) == 0)
            fail_msg("flip at byte %zu of %zu went unnoticed", i, len);
        stream_reader_free(r);
        b[i] ^= 0x20;
    }
    free(b);
}

/* Every truncation is detected. */
static void test_every_truncation_detected(void **state)
{
    size_t len;
    int fd;
    uint8_t *b;
    char err[256];
    unsigned n;
    (void)state;

    fill_ram();
    fd = write_stream(0, &len);
    b = slurp(fd, len);
    close(fd);
    for (size_t cut = 0; cut < len; cut += cut < 256 || len - cut < 256 ? 1 : 61) {
        StreamReader *r = stream_reader_mem(b, cut, 8u << 20);
        if (read_all(r, err, sizeof(err), &n) == 0)
            fail_msg("stream cut at %zu of %zu bytes went unnoticed", cut, len);
        assert_non_null(strstr(err, cut < STREAM_HEADER_SIZE ? "truncated header" : "truncated"));
        stream_reader_free(r);
    }
    free(b);
}

/* A record dropped whole (checksums intact) is caught by DONE. */
static void test_dropped_record_detected(void **state)
{
    int fd = memfd_create("s", 0);
    StreamWriter *w = stream_writer_new(fd, false, 0);
    StreamHeader h = header();
    StreamReader *r;
    struct stat st;
    uint8_t *b;
    char err[256];
    unsigned n;
    size_t rec1 = STREAM_RECORD_HEAD + 3 + STREAM_RECORD_TAIL;
    (void)state;

    stream_write_header(w, &h);
    stream_write_record(w, STREAM_TAG('A', 'A', 'A', 'A'), 0, 1, 0, "one", 3);
    stream_write_record(w, STREAM_TAG('B', 'B', 'B', 'B'), 0, 1, 0, "two", 3);
    assert_int_equal(stream_write_done(w), 0);
    stream_writer_free(w);
    fstat(fd, &st);
    b = slurp(fd, (size_t)st.st_size);
    /* Cut the first record out. */
    memmove(b + STREAM_HEADER_SIZE, b + STREAM_HEADER_SIZE + rec1,
            (size_t)st.st_size - STREAM_HEADER_SIZE - rec1);
    r = stream_reader_mem(b, (size_t)st.st_size - rec1, 1024);
    assert_int_equal(read_all(r, err, sizeof(err), &n), -1);
    assert_non_null(strstr(err, "missing or out of order"));
    stream_reader_free(r);
    free(b);
    close(fd);
}

static void test_foreign_headers(void **state)
{
    size_t len;
    int fd;
    uint8_t *b;
    char err[256];
    unsigned n;
    StreamReader *r;
    (void)state;

    fill_ram();
    fd = write_stream(0, &len);
    b = slurp(fd, len);
    close(fd);
    b[0] = 'Y';
    r = stream_reader_mem(b, len, 8u << 20);
    assert_int_equal(read_all(r, err, sizeof(err), &n), -1);
    assert_non_null(strstr(err, "bad magic"));
    stream_reader_free(r);
    b[0] = 'X';
    b[8] = 9;           /* a future format */
    r = stream_reader_mem(b, len, 8u << 20);
    assert_int_equal(read_all(r, err, sizeof(err), &n), -1);
    assert_non_null(strstr(err, "unsupported state format version 9"));
    stream_reader_free(r);
    /* Text, not a stream at all. */
    r = stream_reader_mem("name = \"vm1\"\nmemory = 256\n", 26, 1024);
    assert_int_equal(read_all(r, err, sizeof(err), &n), -1);
    stream_reader_free(r);
    free(b);
}

/* A hostile record length is refused before anything is allocated. */
static void test_oversized_record(void **state)
{
    int fd = memfd_create("s", 0);
    StreamWriter *w = stream_writer_new(fd, false, 0);
    StreamHeader h = header();
    static uint8_t big[4096];
    StreamReader *r;
    StreamRecord rec;
    StreamHeader got;
    (void)state;

    stream_write_header(w, &h);
    stream_write_record(w, STREAM_TAG('B', 'I', 'G', ' '), 0, 1, 0, big, sizeof(big));
    stream_write_done(w);
    stream_writer_free(w);
    lseek(fd, 0, SEEK_SET);
    r = stream_reader_fd(fd, 1024);
    assert_int_equal(stream_read_header(r, &got), 0);
    assert_int_equal(stream_read_record(r, &rec), -1);
    assert_non_null(strstr(stream_reader_error(r), "larger than allowed"));
    stream_reader_free(r);
    close(fd);
}

/* Pages outside guest RAM and malformed page records are refused. */
static void test_bad_page_records(void **state)
{
    uint8_t pl[16 + PG];
    StreamRecord rec = { .tag = STREAM_TAG_PAGE, .version = 1, .payload = pl };
    char err[256];
    (void)state;

    memset(pl, 0, sizeof(pl));
    pl[0] = 0; pl[1] = 0; pl[2] = 0; pl[3] = 0x70;     /* gpa 0x70000000 */
    pl[8] = 1;
    rec.len = sizeof(pl);
    assert_int_equal(stream_apply_pages(&rec, map_dst, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "outside guest RAM"));
    pl[3] = 0x80;                                        /* inside */
    assert_int_equal(stream_apply_pages(&rec, map_dst, NULL, err, sizeof(err)), 0);
    rec.len = sizeof(pl) - 1;                            /* short */
    assert_int_equal(stream_apply_pages(&rec, map_dst, NULL, err, sizeof(err)), -1);
    rec.len = sizeof(pl);
    pl[8] = 0;                                           /* zero pages */
    assert_int_equal(stream_apply_pages(&rec, map_dst, NULL, err, sizeof(err)), -1);
    pl[8] = 1; pl[0] = 1;                                /* unaligned */
    assert_int_equal(stream_apply_pages(&rec, map_dst, NULL, err, sizeof(err)), -1);
    pl[0] = 0;
    rec.flags = STREAM_PAGE_ZSTD;                        /* not zstd data */
    assert_int_equal(stream_apply_pages(&rec, map_dst, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "does not decompress"));
}

/* Save files: memory as a sparse, page-aligned image after DONE. */
static void test_image(void **state)
{
    char path[] = "/tmp/xeno-stream-XXXXXX";
    int fd = mkstemp(path);
    StreamWriter *w = stream_writer_new(fd, true, 0);
    StreamHeader h = header(), got;
    StreamReader *r;
    StreamRecord rec;
    StreamImage img = { 0 };
    struct stat st;
    char err[256];
    uint8_t *map;
    bool seen = false;
    int k;
    (void)state;

    fill_ram();
    h.flags = STREAM_F_IMAGES;
    assert_int_equal(stream_write_header(w, &h), 0);
    assert_int_equal(stream_write_record(w, STREAM_TAG_CONF, 0, 1, 0, "x", 1), 0);
    assert_int_equal(stream_write_image(w, 0, GPA, ram, (uint64_t)NPAGES * PG), 0);
    assert_int_equal(stream_write_done(w), 0);
    stream_writer_free(w);

    lseek(fd, 0, SEEK_SET);
    r = stream_reader_fd(fd, 1 << 20);
    assert_int_equal(stream_read_header(r, &got), 0);
    while ((k = stream_read_record(r, &rec)) == 1) {
        if (rec.tag == STREAM_TAG_MIMG) {
            assert_int_equal(stream_parse_image(&rec, &img, err, sizeof(err)), 0);
            seen = true;
        }
    }
    assert_int_equal(k, 0);
    assert_true(seen);
    assert_int_equal(img.offset % PG, 0);
    assert_int_equal(img.data_pages, NPAGES - 14);
    assert_int_equal(stream_check_image(fd, &img, true, err, sizeof(err)), 0);
    /* Mapped privately, it is guest RAM as it was. */
    map = mmap(NULL, img.size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, (off_t)img.offset);
    assert_true(map != MAP_FAILED);
    assert_memory_equal(map, ram, (size_t)NPAGES * PG);
    map[0] ^= 1;        /* private: the file does not change */
    munmap(map, img.size);
    assert_int_equal(stream_check_image(fd, &img, true, err, sizeof(err)), 0);
    /* Zero pages were not stored. */
    fstat(fd, &st);
    assert_true((uint64_t)st.st_blocks * 512 < (uint64_t)NPAGES * PG);

    /* A flipped byte in the image, then a truncated file. */
    {
        uint8_t c;
        off_t at = (off_t)(img.offset + 3 * PG + 100);
        assert_int_equal(pread(fd, &c, 1, at), 1);
        c ^= 4;
        assert_int_equal(pwrite(fd, &c, 1, at), 1);
        assert_int_equal(stream_check_image(fd, &img, true, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "checksum"));
        assert_int_equal(stream_check_image(fd, &img, false, err, sizeof(err)), 0);
        assert_int_equal(ftruncate(fd, (off_t)(img.offset + PG)), 0);
        assert_int_equal(stream_check_image(fd, &img, false, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "truncated"));
    }
    stream_reader_free(r);
    close(fd);
    unlink(path);
}

static int setup(void **state)
{
    (void)state;
    ram = aligned_alloc(PG, (size_t)NPAGES * PG);
    dst = aligned_alloc(PG, (size_t)NPAGES * PG);
    return ram && dst ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    free(ram);
    free(dst);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_statebuf_roundtrip),
        cmocka_unit_test(test_statebuf_bad_input),
        cmocka_unit_test(test_roundtrip_raw),
        cmocka_unit_test(test_roundtrip_zstd),
        cmocka_unit_test(test_compression_shrinks),
        cmocka_unit_test(test_every_flip_detected),
        cmocka_unit_test(test_every_truncation_detected),
        cmocka_unit_test(test_dropped_record_detected),
        cmocka_unit_test(test_foreign_headers),
        cmocka_unit_test(test_oversized_record),
        cmocka_unit_test(test_bad_page_records),
        cmocka_unit_test(test_image),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
