/* The state stream: one versioned, checksummed format for save files and
 * live migration alike (docs/state-format.md).
 *
 *   header   magic, format version, arch, engine, guest RAM layout, flags
 *   records  {tag, instance, version, flags, length, payload, checksum}
 *            CONF (the domain's configuration) first, then memory pages
 *            (PAGE, ZERO) in as many rounds as migration needs, the
 *            sections of every CPU and device, memory images (MIMG, save
 *            files only), and DONE (record count and a checksum over all
 *            records' checksums: nothing missing, nothing reordered).
 *   images   page-aligned raw copies of guest RAM regions after DONE, with
 *            holes for zero pages, that a restore maps privately and faults
 *            in on demand.
 *
 * Integers are little-endian. Every record carries an XXH3-64 checksum of
 * its header and payload; the reader checks it before returning the record.
 * A reader is given by the caller a bound on payload sizes, so a hostile
 * length can never make it allocate more than that. */
#ifndef XENO_COMMON_STREAM_H
#define XENO_COMMON_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define STREAM_MAGIC          "XENOSTAT"
#define STREAM_FORMAT_VERSION 1
#define STREAM_PAGE_SIZE      4096u
#define STREAM_MAX_REGIONS    4

/* Four-character record tags, stored as a little-endian u32. */
#define STREAM_TAG(a, b, c, d) \
    ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)
#define STREAM_TAG_CONF STREAM_TAG('C', 'O', 'N', 'F')
#define STREAM_TAG_PAGE STREAM_TAG('P', 'A', 'G', 'E')
#define STREAM_TAG_ZERO STREAM_TAG('Z', 'E', 'R', 'O')
#define STREAM_TAG_MIMG STREAM_TAG('M', 'I', 'M', 'G')
#define STREAM_TAG_DONE STREAM_TAG('D', 'O', 'N', 'E')
/* A live stream's sender asks the receiver to answer "synced" once it has
 * applied every record before this one (no payload). */
#define STREAM_TAG_SYNC STREAM_TAG('S', 'Y', 'N', 'C')

enum stream_arch { STREAM_ARCH_RISCV64 = 1, STREAM_ARCH_X86_64 = 2 };
enum stream_engine { STREAM_ENGINE_EMU = 1, STREAM_ENGINE_KVM = 2 };

/* Header flags. */
#define STREAM_F_MIGRATION  (1u << 0)   /* a live stream, not a file */
#define STREAM_F_COMPRESSED (1u << 1)   /* PAGE records may be zstd */
#define STREAM_F_IMAGES     (1u << 2)   /* memory as MIMG images */

/* PAGE record flags. */
#define STREAM_PAGE_ZSTD    (1u << 0)

typedef struct StreamRegion {
    uint64_t gpa, size;
} StreamRegion;

typedef struct StreamHeader {
    uint32_t version;               /* STREAM_FORMAT_VERSION */
    uint32_t arch, engine, flags;
    uint32_t nregions;
    StreamRegion region[STREAM_MAX_REGIONS];
} StreamHeader;

/* Sizes on the wire. */
#define STREAM_HEADER_SIZE   104u
#define STREAM_RECORD_HEAD   24u
#define STREAM_RECORD_TAIL   8u

/* ---- writing --------------------------------------------------------- */

typedef struct StreamWriter StreamWriter;

/* A writer on fd (file, pipe or socket; not closed by the writer). With
 * `seekable`, the fd is a regular file and images may be written.
 * compress_level 0 writes pages raw, else zstd at that level. */
StreamWriter *stream_writer_new(int fd, bool seekable, int compress_level);
/* The bytes go through fn instead of write(2) on the fd (a migration's TLS
 * session): fn writes some of n bytes and returns how many, or -1 with
 * errno set. */
typedef ssize_t (*stream_write_fn)(void *opaque, const void *p, size_t n);
void stream_writer_set_io(StreamWriter *w, stream_write_fn fn, void *opaque);
/* Flushes nothing; frees. */
void stream_writer_free(StreamWriter *w);

/* Every call returns 0, or -1 with one line in the writer's error
 * (stream_writer_error); after an error every call fails. */
int stream_write_header(StreamWriter *w, const StreamHeader *h);
int stream_write_record(StreamWriter *w, uint32_t tag, uint32_t instance, uint32_t version,
                        uint32_t flags, const void *payload, size_t len);
/* npages pages at gpa from host memory `data`: zero pages become ZERO
 * runs, the rest PAGE records (zstd when the writer compresses and it
 * pays). */
int stream_write_pages(StreamWriter *w, uint64_t gpa, const uint8_t *data, uint64_t npages);
/* Save files: region `index` (gpa, size, host memory) as an image placed
 * after the records; only non-zero pages are written (the file is sparse).
 * Call for every region after the last section, then stream_write_done. */
int stream_write_image(StreamWriter *w, uint32_t index, uint64_t gpa, const uint8_t *data,
                       uint64_t size);
int stream_write_done(StreamWriter *w);
/* Push buffered bytes to the fd. */
int stream_flush(StreamWriter *w);
const char *stream_writer_error(const StreamWriter *w);
bool stream_writer_failed(const StreamWriter *w);
/* Bytes written so far (payload + framing), for progress and bandwidth. */
uint64_t stream_bytes_written(const StreamWriter *w);

/* ---- reading --------------------------------------------------------- */

typedef struct StreamReader StreamReader;

/* A reader on fd, or on a buffer in memory (fuzzing, tests). max_payload
 * bounds every record's payload (PAGE records of up to 1024 pages need a
 * little over 4 MiB). */
StreamReader *stream_reader_fd(int fd, size_t max_payload);
StreamReader *stream_reader_mem(const void *data, size_t len, size_t max_payload);
/* The bytes come from fn instead of read(2) on the fd: fn reads up to n
 * bytes and returns how many, 0 at the end, or -1 with errno set. */
typedef ssize_t (*stream_read_fn)(void *opaque, void *p, size_t n);
void stream_reader_set_io(StreamReader *r, stream_read_fn fn, void *opaque);
void stream_reader_free(StreamReader *r);

typedef struct StreamRecord {
    uint32_t tag, instance, version, flags;
    const uint8_t *payload;         /* valid until the next read */
    size_t len;
} StreamRecord;

/* 0, or -1 with one line in the reader's error: bad magic, unsupported
 * format version, checksum, impossible RAM layout. */
int stream_read_header(StreamReader *r, StreamHeader *h);
/* The next record, checksum verified: 1; 0 at the end of the stream with
 * DONE verified (count and chain checksum); -1 with one line on a
 * truncated, corrupt or oversized record. DONE itself is never returned. */
int stream_read_record(StreamReader *r, StreamRecord *rec);
const char *stream_reader_error(const StreamReader *r);
uint64_t stream_bytes_read(const StreamReader *r);

/* Decode a PAGE or ZERO record into guest memory: `map(opaque, gpa, len)`
 * returns the host pointer for [gpa, gpa+len) or NULL if that is not guest
 * RAM. 0, or -1 with one line in err (bad payload, pages outside RAM,
 * decompression failure). */
typedef uint8_t *(*stream_map_fn)(void *opaque, uint64_t gpa, uint64_t len);
/* The pages a PAGE or ZERO record covers, its head checked (as
 * stream_apply_pages does): 0, or -1 with one line in err. */
int stream_page_range(const StreamRecord *rec, uint64_t *gpa, uint32_t *npages,
                      char *err, size_t errlen);
int stream_apply_pages(const StreamRecord *rec, stream_map_fn map, void *opaque,
                       char *err, size_t errlen);

/* A MIMG record: region index, where its image sits in the file, and the
 * checksum of its non-zero pages. */
typedef struct StreamImage {
    uint32_t index;
    uint64_t gpa, size, offset;
    uint64_t data_pages, checksum;
} StreamImage;
int stream_parse_image(const StreamRecord *rec, StreamImage *img, char *err, size_t errlen);
/* Check an image against the file (fd): offset and size inside the file,
 * and, with `verify`, the checksum of its non-zero pages (reads them). */
int stream_check_image(int fd, const StreamImage *img, bool verify, char *err, size_t errlen);

/* True if the page is all zeros. */
bool stream_page_is_zero(const uint8_t *page);

/* Names for messages: "riscv64"/"x86_64", "emu"/"kvm", "PAGE". */
const char *stream_arch_name(uint32_t arch);
const char *stream_engine_name(uint32_t engine);
void stream_tag_name(uint32_t tag, char out[5]);

#endif
