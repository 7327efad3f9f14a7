/* Fuzz the state stream's receiving side as a restore or an incoming
 * migration runs it: the input is a stream (stream_reader_mem); PAGE and
 * ZERO records go into a small guest RAM through stream_apply_pages, MIMG
 * records through stream_parse_image, and every section record to the real
 * loaders of a machine-like set of devices (CLINT, PLIC, UART, and
 * virtio-mmio slots with blk on a temporary image, net on a backend that
 * drops, balloon, rng, console).
 *
 * The first input byte picks the mode: odd, the harness first fixes the
 * stream's checksums (header, every record, DONE's count and chain) so
 * that mutated payloads reach the PAGE decoder and the section loaders;
 * even, the bytes go to the reader as they are (framing and checksum
 * failures).
 *
 * What must hold, whatever the input: no crash or sanitizer report, and
 * every state a loader accepted is one the devices can run. So after the
 * stream, each ready queue must lie in guest RAM with no more chains in
 * flight than it holds (else trap), and then the devices run as a
 * restored domain would: the slots are restarted (queues served from the
 * hostile rings), a frame arrives from the network, registers are read.
 *
 * The seed is a real saved stream, written by the real writers from the
 * same device set driven into a busy state (LLVMFuzzerInitialize builds it
 * and checks that it loads whole; FUZZ_STATE_SEED=FILE writes it out, as
 * tests/fuzz/corpus/state/machine.seed was). */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define XXH_STATIC_LINKING_ONLY   /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "backend/block.h"
#include "backend/net.h"
#include "common/log.h"
#include "common/stream.h"
#include "common/util.h"
#include "common/vmstate.h"
#include "hw/bus.h"
#include "hw/mem.h"
#include "hw/riscv/riscv.h"
#include "hw/uart.h"
#include "hw/virtio/devices.h"
#include "hw/virtio/virtio_mmio.h"

#define RAM_BASE   0x80000000ull
#define RAM_SIZE   (256ull << 10)
#define NHARTS     2
#define NSLOTS     5
#define DISK_SIZE  (64u << 10)
#define MAX_PAYLOAD ((4u << 20) + 4096)

/* ---- the machine ---------------------------------------------------------- */

static void fake_set_mip(void *o, unsigned hart, uint64_t bit, int level)
{
    if (hart >= NHARTS)
        __builtin_trap();
}
static uint64_t fake_mtime(void *o) { return 0; }
static uint64_t mtimecmp[NHARTS];
static uint64_t fake_get_cmp(void *o, unsigned h) { return mtimecmp[h]; }
static void fake_set_cmp(void *o, unsigned h, uint64_t v) { mtimecmp[h] = v; }

/* A network that drops every frame. */
static int drop_send(NetBackend *nb, const struct iovec *iov, unsigned n, size_t len) { return -1; }
static int drop_inject(NetBackend *nb, const void *frame, size_t len) { return 0; }
static void drop_close(NetBackend *nb) { free(nb); }
static const NetBackendOps drop_ops = {
    .name = "drop", .send = drop_send, .close = drop_close, .inject = drop_inject,
};

typedef struct Mach {
    GuestMem mem;
    Bus bus;
    VmState vs;
    Clint *clint;
    Plic *plic;
    Uart *uart;
    VirtioDevice *vd[NSLOTS];
    VirtioMmio *t[NSLOTS];
    NetBackend *net;            /* slot 1's backend */
} Mach;

static char disk_path[] = "/tmp/fuzz-state-disk-XXXXXX";

static VirtioDevice *make_slot(Mach *m, unsigned slot)
{
    char err[256] = "";
    NetBackend *nb;
    BlockBackend *bb;

    switch (slot) {
    case 0:
        bb = block_open(disk_path, "raw", false, err, sizeof(err));
        return bb ? virtio_blk_create(&m->mem, bb, "fuzz", err, sizeof(err)) : NULL;
    case 1:
        nb = calloc(1, sizeof(*nb));
        if (!nb)
            return NULL;
        nb->ops = &drop_ops;
        m->net = nb;
        return virtio_net_create(&m->mem, nb, NULL, err, sizeof(err));
    case 2: return virtio_balloon_create(&m->mem, err, sizeof(err));
    case 3: return virtio_rng_create(&m->mem, err, sizeof(err));
    default: return virtio_console_create(&m->mem, NULL, -1, -1, err, sizeof(err));
    }
}

/* Everything the board would make, registered in board order. */
static void mach_build(Mach *m, GuestMem *ram)
{
    RiscvCpuIf cpu = { .opaque = m, .nharts = NHARTS, .set_mip = fake_set_mip,
                       .get_mtime = fake_mtime, .get_mtimecmp = fake_get_cmp,
                       .set_mtimecmp = fake_set_cmp };

    memset(m, 0, sizeof(*m));
    m->mem = *ram;
    m->clint = clint_create(&m->bus, VIRT_CLINT_BASE, &cpu);
    m->plic = plic_create(&m->bus, VIRT_PLIC_BASE, &cpu);
    if (!m->clint || !m->plic || clint_state_register(m->clint, &m->vs) ||
        plic_state_register(m->plic, &m->vs))
        die("cannot build the interrupt controllers");
    m->uart = uart_create(&m->bus, VIRT_UART0_BASE, 0, plic_irq_line(m->plic, VIRT_UART0_IRQ), -1);
    if (!m->uart || uart_state_register(m->uart, &m->vs))
        die("cannot build the UART");
    for (unsigned s = 0; s < NSLOTS; s++) {
        uint64_t base = VIRT_VIRTIO_BASE + s * VIRTIO_MMIO_SIZE;
        m->vd[s] = make_slot(m, s);
        if (!m->vd[s])
            die("cannot build a virtio device");
        m->t[s] = virtio_mmio_create(&m->bus, base, plic_irq_line(m->plic, VIRT_VIRTIO_IRQ + s),
                                     m->vd[s]);
        if (!m->t[s] || vmstate_register(&m->vs, "VMIO", s, VIRTIO_MMIO_STATE_VERSION,
                                         virtio_mmio_save, virtio_mmio_load, m->t[s]))
            die("cannot map a virtio device");
    }
}

static void mach_free(Mach *m)
{
    for (unsigned s = 0; s < NSLOTS; s++) {
        virtio_mmio_destroy(m->t[s]);
        virtio_device_destroy(m->vd[s]);
    }
    uart_free(m->uart);
    plic_free(m->plic);
    clint_free(m->clint);
}

/* ---- after the load: what a restored domain does -------------------------- */

/* The loaders' promise: a ready queue's rings are inside guest RAM and it
 * has no more chains in flight than it holds. */
static void check_queues(Mach *m)
{
    for (unsigned s = 0; s < NSLOTS; s++) {
        VirtioDevice *vd = m->vd[s];
        for (unsigned q = 0; q < vd->nqueues; q++) {
            VirtQueue *vq = &vd->vq[q];
            uint64_t n = vq->num;
            if (!vq->ready)
                continue;
            if (!n || n > vq->num_max || (n & (n - 1)) ||
                !gmem_ptr(&m->mem, vq->desc_gpa, 16 * n) ||
                !gmem_ptr(&m->mem, vq->avail_gpa, 6 + 2 * n) ||
                !gmem_ptr(&m->mem, vq->used_gpa, 6 + 8 * n) ||
                (uint16_t)(vq->last_avail - vq->used_idx) > n)
                __builtin_trap();
        }
    }
}

static void read_all(Bus *bus, uint64_t base, uint64_t len, uint64_t step)
{
    uint64_t v;

    for (uint64_t off = 0; off < len; off += step)
        bus_read(bus, base + off, 4, &v);
}

static void run_restored(Mach *m)
{
    static const uint8_t frame[64] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0x16, 0x3e, 1, 2, 3,
                                       0x08, 0x06 };
    NetClient *c = &m->net->client;
    BalloonStats st;

    check_queues(m);
    for (unsigned s = 0; s < NSLOTS; s++)
        virtio_mmio_restart(m->t[s]);
    if (net_client_ready(c))
        c->receive(c->opaque, frame, sizeof(frame));
    virtio_balloon_get_stats(m->vd[2], &st);
    for (unsigned s = 0; s < NSLOTS; s++) {
        uint64_t base = VIRT_VIRTIO_BASE + s * VIRTIO_MMIO_SIZE;
        read_all(&m->bus, base, 0x100 + 0x40, 4);
        for (unsigned q = 0; q < m->vd[s]->nqueues; q++)
            bus_write(&m->bus, base + VIRTIO_MMIO_QUEUE_NOTIFY, 4, q);
    }
    read_all(&m->bus, VIRT_UART0_BASE, 8, 1);
    while (uart_rx_pop(m->uart) >= 0)
        ;
    read_all(&m->bus, VIRT_PLIC_BASE, 0x400, 4);
    read_all(&m->bus, VIRT_PLIC_BASE + 0x1000, 0x80, 4);
    for (unsigned c = 0; c < 2 * NHARTS; c++)
        read_all(&m->bus, VIRT_PLIC_BASE + 0x200000 + 0x1000 * c, 8, 4);
    read_all(&m->bus, VIRT_CLINT_BASE, 8, 4);
    check_queues(m);
}

/* ---- the receiving side --------------------------------------------------- */

static GuestMem ram;

static uint8_t *map_ram(void *opaque, uint64_t gpa, uint64_t len)
{
    return gmem_ptr(opaque, gpa, len);
}

/* Read the stream into the machine as restore.c does, but without stopping
 * at a refused record: every section goes to its loader. Returns true if
 * the whole stream loaded (what a restore would start). */
static bool load_stream(Mach *m, const uint8_t *data, size_t size)
{
    StreamReader *r = stream_reader_mem(data, size, MAX_PAYLOAD);
    StreamHeader h;
    StreamRecord rec;
    StreamImage img;
    char err[512];
    bool ok;
    int k = -1;

    if (!r)
        die("out of memory");
    ok = stream_read_header(r, &h) == 0;
    if (ok) {
        vmstate_load_begin(&m->vs);
        while ((k = stream_read_record(r, &rec)) == 1) {
            switch (rec.tag) {
            case STREAM_TAG_PAGE:
            case STREAM_TAG_ZERO:
                ok &= stream_apply_pages(&rec, map_ram, &m->mem, err, sizeof(err)) == 0;
                break;
            case STREAM_TAG_MIMG:
                ok &= stream_parse_image(&rec, &img, err, sizeof(err)) == 0;
                break;
            case STREAM_TAG_CONF:
                break;
            default:
                ok &= vmstate_load_one(&m->vs, rec.tag, rec.instance, rec.version,
                                       rec.payload, rec.len, err, sizeof(err)) == 0;
                break;
            }
        }
        ok &= k == 0 && vmstate_check_complete(&m->vs, err, sizeof(err)) == 0;
    }
    stream_reader_free(r);
    return ok;
}

/* A fresh machine over zeroed RAM and a zeroed disk, per input, so that a
 * crash reproduces from its input alone. */
static void fresh(Mach *m)
{
    memset(ram.r[0].host, 0, RAM_SIZE);
    if (truncate(disk_path, 0) || truncate(disk_path, DISK_SIZE))
        die("cannot reset the disk image");
    mach_build(m, &ram);
}

/* Make every checksum in buf right, as a writer would have: the header's,
 * each whole record's, and DONE's record count and chain. Stops at the
 * first record that does not fit (the reader will call it truncated). */
static void fix_checksums(uint8_t *buf, size_t size)
{
    XXH3_state_t chain, st;
    uint64_t records = 0;
    size_t pos = STREAM_HEADER_SIZE;

    if (size < STREAM_HEADER_SIZE)
        return;
    st64(buf + 96, XXH3_64bits(buf, 96));
    XXH3_64bits_reset(&chain);
    while (size - pos >= STREAM_RECORD_HEAD + STREAM_RECORD_TAIL) {
        uint8_t *head = buf + pos, *payload = head + STREAM_RECORD_HEAD;
        uint64_t len = ld64(head + 16);
        if (len > size - pos - STREAM_RECORD_HEAD - STREAM_RECORD_TAIL)
            return;
        if (ld32(head) == STREAM_TAG_DONE && len == 16) {
            st64(payload, records);
            st64(payload + 8, XXH3_64bits_digest(&chain));
        }
        XXH3_64bits_reset(&st);
        XXH3_64bits_update(&st, head, STREAM_RECORD_HEAD + len);
        st64(payload + len, XXH3_64bits_digest(&st));
        XXH3_64bits_update(&chain, payload + len, STREAM_RECORD_TAIL);
        records++;
        pos += STREAM_RECORD_HEAD + len + STREAM_RECORD_TAIL;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static Mach m;
    uint8_t *copy = NULL;

    if (size < 1)
        return 0;
    if (data[0] & 1) {
        copy = malloc(size);
        if (!copy)
            return 0;
        memcpy(copy, data, size);
        fix_checksums(copy + 1, size - 1);
    }
    fresh(&m);
    load_stream(&m, (copy ? copy : data) + 1, size - 1);
    run_restored(&m);
    mach_free(&m);
    free(copy);
    return 0;
}

/* ---- the seed: a real stream from a busy machine --------------------------- */

#define DESC(q)  (RAM_BASE + 0x1000 * (3 * (q) + 1))
#define AVAIL(q) (DESC(q) + 0x1000)
#define USED(q)  (DESC(q) + 0x2000)
#define BUFS     (RAM_BASE + 0x30000)

static void put_desc(GuestMem *mem, uint64_t table, unsigned i, uint64_t addr, uint32_t len,
                     uint16_t flags, uint16_t next)
{
    uint8_t *d = gmem_ptr(mem, table + 16ull * i, 16);

    st64(d, addr);
    st32(d + 8, len);
    st16(d + 12, flags);
    st16(d + 14, next);
}

/* Queue q of a slot set up as a driver would, with `posted` one-buffer
 * chains in its avail ring (global queue number g picks the rings). */
static void busy_queue(Mach *m, unsigned slot, unsigned q, unsigned g, unsigned posted,
                       uint16_t flags)
{
    uint64_t base = VIRT_VIRTIO_BASE + slot * VIRTIO_MMIO_SIZE;
    uint8_t *avail = gmem_ptr(&m->mem, AVAIL(g), 6 + 2 * 16);

    bus_write(&m->bus, base + VIRTIO_MMIO_QUEUE_SEL, 4, q);
    bus_write(&m->bus, base + VIRTIO_MMIO_QUEUE_NUM, 4, 16);
    bus_write(&m->bus, base + VIRTIO_MMIO_QUEUE_DESC_LOW, 4, (uint32_t)DESC(g));
    bus_write(&m->bus, base + VIRTIO_MMIO_QUEUE_DRIVER_LOW, 4, (uint32_t)AVAIL(g));
    bus_write(&m->bus, base + VIRTIO_MMIO_QUEUE_DEVICE_LOW, 4, (uint32_t)USED(g));
    bus_write(&m->bus, base + VIRTIO_MMIO_QUEUE_READY, 4, 1);
    for (unsigned i = 0; i < posted; i++) {
        put_desc(&m->mem, DESC(g), i, BUFS + 0x800 * g + 0x80 * i, 0x80, flags, 0);
        st16(avail + 4 + 2 * i, (uint16_t)i);
    }
    st16(avail + 2, (uint16_t)posted);
}

/* Every slot driven through its registers to DRIVER_OK with event idx. */
static void busy_slot(Mach *m, unsigned slot, uint64_t dev_features)
{
    uint64_t base = VIRT_VIRTIO_BASE + slot * VIRTIO_MMIO_SIZE;
    uint64_t f = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_RING_EVENT_IDX) | dev_features;

    bus_write(&m->bus, base + VIRTIO_MMIO_STATUS, 4, 3);
    bus_write(&m->bus, base + VIRTIO_MMIO_DRIVER_FEATURES_SEL, 4, 0);
    bus_write(&m->bus, base + VIRTIO_MMIO_DRIVER_FEATURES, 4, (uint32_t)f);
    bus_write(&m->bus, base + VIRTIO_MMIO_DRIVER_FEATURES_SEL, 4, 1);
    bus_write(&m->bus, base + VIRTIO_MMIO_DRIVER_FEATURES, 4, (uint32_t)(f >> 32));
    bus_write(&m->bus, base + VIRTIO_MMIO_STATUS, 4, 11);
}

static void start_slot(Mach *m, unsigned slot)
{
    bus_write(&m->bus, VIRT_VIRTIO_BASE + slot * VIRTIO_MMIO_SIZE + VIRTIO_MMIO_STATUS, 4, 15);
}

static void make_busy(Mach *m)
{
    uint8_t *hdr = gmem_ptr(&m->mem, BUFS, 16);

    /* UART: FIFO on, interrupts on, bytes waiting. */
    bus_write(&m->bus, VIRT_UART0_BASE + 3, 1, 0x03);
    bus_write(&m->bus, VIRT_UART0_BASE + 2, 1, 0x07);
    bus_write(&m->bus, VIRT_UART0_BASE + 1, 1, 0x03);
    uart_rx_push(m->uart, (const uint8_t *)"restored", 8);
    /* PLIC: the UART and the slots enabled on hart 0's S context. */
    bus_write(&m->bus, VIRT_PLIC_BASE + 4 * VIRT_UART0_IRQ, 4, 3);
    for (unsigned s = 0; s < NSLOTS; s++)
        bus_write(&m->bus, VIRT_PLIC_BASE + 4 * (VIRT_VIRTIO_IRQ + s), 4, 1);
    bus_write(&m->bus, VIRT_PLIC_BASE + 0x2000 + 0x80, 4, 0x7fe);
    bus_write(&m->bus, VIRT_CLINT_BASE + 4, 4, 1);
    /* blk: a read request posted, not kicked. */
    busy_slot(m, 0, 0);
    busy_queue(m, 0, 0, 0, 0, 0);
    put_desc(&m->mem, DESC(0), 0, BUFS, 16, 1, 1);
    put_desc(&m->mem, DESC(0), 1, BUFS + 0x100, 512, 3, 2);
    put_desc(&m->mem, DESC(0), 2, BUFS + 0x400, 1, 2, 0);
    st32(hdr, 0);
    st64(hdr + 8, 1);
    st16(gmem_ptr(&m->mem, AVAIL(0) + 2, 2), 1);
    start_slot(m, 0);
    /* net: rx buffers and a frame to send. */
    busy_slot(m, 1, (1ull << 5) | (1ull << 15) | (1ull << 16));
    busy_queue(m, 1, 0, 1, 4, 2);
    busy_queue(m, 1, 1, 2, 1, 0);
    start_slot(m, 1);
    /* balloon: a target, the stats queue with its buffer held. */
    busy_slot(m, 2, 1ull << 1);
    busy_queue(m, 2, 0, 3, 0, 0);
    busy_queue(m, 2, 1, 4, 0, 0);
    busy_queue(m, 2, 2, 5, 1, 0);
    start_slot(m, 2);
    virtio_balloon_set_target(m->vd[2], RAM_SIZE / 2);
    /* rng: two buffers filled, two waiting. */
    busy_slot(m, 3, 0);
    busy_queue(m, 3, 0, 6, 2, 2);
    start_slot(m, 3);
    st16(gmem_ptr(&m->mem, AVAIL(6) + 2, 2), 4);
    put_desc(&m->mem, DESC(6), 2, BUFS + 0x4000, 64, 2, 0);
    put_desc(&m->mem, DESC(6), 3, BUFS + 0x4100, 64, 2, 0);
    st16(gmem_ptr(&m->mem, AVAIL(6) + 4 + 4, 2), 2);
    st16(gmem_ptr(&m->mem, AVAIL(6) + 4 + 6, 2), 3);
    /* console: set up, not started. */
    busy_slot(m, 4, 0);
    busy_queue(m, 4, 0, 7, 1, 2);
}

static int put_section(void *opaque, const VmStateSection *s, const void *data, size_t len)
{
    return stream_write_record(opaque, s->tag, s->instance, s->version, 0, data, len);
}

/* The stream a compressed save file of this machine would be, after the
 * mode byte. */
static uint8_t *build_seed(size_t *len)
{
    static const char conf[] = "name = \"fuzz\"\nmemory = 1\n";
    Mach m;
    StreamHeader h = { .version = STREAM_FORMAT_VERSION, .arch = STREAM_ARCH_RISCV64,
                       .engine = STREAM_ENGINE_EMU, .flags = STREAM_F_COMPRESSED,
                       .nregions = 1, .region = { { RAM_BASE, RAM_SIZE } } };
    int fd = memfd_create("fuzz-state-seed", 0);
    StreamWriter *w;
    char err[512];
    uint8_t *buf;
    off_t end;

    fresh(&m);
    make_busy(&m);
    w = fd >= 0 ? stream_writer_new(fd, false, 3) : NULL;
    if (!w || stream_write_header(w, &h) ||
        stream_write_record(w, STREAM_TAG_CONF, 0, 1, 0, conf, sizeof(conf) - 1) ||
        stream_write_pages(w, RAM_BASE, m.mem.r[0].host, RAM_SIZE / STREAM_PAGE_SIZE) ||
        vmstate_save_all(&m.vs, put_section, w, err, sizeof(err)) ||
        stream_write_done(w) || stream_flush(w))
        die("%s", w ? stream_writer_error(w) : "cannot write the seed");
    stream_writer_free(w);
    mach_free(&m);
    end = lseek(fd, 0, SEEK_END);
    buf = malloc((size_t)end + 1);
    if (!buf || pread(fd, buf + 1, (size_t)end, 0) != end)
        die("cannot read the seed back");
    close(fd);
    buf[0] = 1;             /* mode: fix checksums (this stream needs none) */
    *len = (size_t)end + 1;
    return buf;
}

static void remove_disk(void)
{
    unlink(disk_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *out = getenv("FUZZ_STATE_SEED");
    static Mach m;
    uint8_t *seed;
    size_t len;
    int fd;

    log_set_level(LOG_ERR + 1);
    fd = mkstemp(disk_path);
    if (fd < 0)
        die("cannot create the disk image");
    close(fd);
    atexit(remove_disk);
    if (gmem_add_ram(&ram, RAM_BASE, RAM_SIZE) < 0)
        die("cannot allocate guest RAM");
    seed = build_seed(&len);
    /* The seed must load whole, and the restored machine must serve what
     * was waiting (blk's request, rng's two buffers), or the fuzzer starts
     * from nothing. */
    fresh(&m);
    if (!load_stream(&m, seed + 1, len - 1))
        die("the seed stream does not load");
    run_restored(&m);
    if (ld16(gmem_ptr(&m.mem, USED(0) + 2, 2)) != 1 || ld16(gmem_ptr(&m.mem, USED(6) + 2, 2)) != 4)
        die("the seed's restored machine did not serve its queues");
    mach_free(&m);
    if (out) {
        FILE *f = fopen(out, "wb");
        if (!f || fwrite(seed, 1, len, f) != len || fclose(f))
            die("cannot write FUZZ_STATE_SEED");
        fprintf(stderr, "fuzz_state: %zu-byte seed written to %s\n", len, out);
    }
    free(seed);
    return 0;
}
