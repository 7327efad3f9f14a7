/* A minimal virtio-mmio (version 2) driver for the test guest: finds the
 * devices the VMM announced on the command line and exercises blk,
 * console, net and rng, waiting for completions by interrupt. */
#include "xtest.h"

#define R_MAGIC 0x000
#define R_VERSION 0x004
#define R_DEVICE_ID 0x008
#define R_DEV_FEATURES 0x010
#define R_DEV_FEATURES_SEL 0x014
#define R_DRV_FEATURES 0x020
#define R_DRV_FEATURES_SEL 0x024
#define R_QUEUE_SEL 0x030
#define R_QUEUE_NUM_MAX 0x034
#define R_QUEUE_NUM 0x038
#define R_QUEUE_READY 0x044
#define R_QUEUE_NOTIFY 0x050
#define R_INT_STATUS 0x060
#define R_INT_ACK 0x064
#define R_STATUS 0x070
#define R_DESC_LO 0x080
#define R_DESC_HI 0x084
#define R_AVAIL_LO 0x090
#define R_AVAIL_HI 0x094
#define R_USED_LO 0x0a0
#define R_USED_HI 0x0a4
#define R_CONFIG 0x100

#define QSIZE 8
#define MAX_DEVS 8

struct desc { uint64_t addr; uint32_t len; uint16_t flags, next; };
struct avail { uint16_t flags, idx, ring[QSIZE], used_event; };
struct used_elem { uint32_t id, len; };
struct used { uint16_t flags, idx; struct used_elem ring[QSIZE]; uint16_t avail_event; };

typedef struct Queue {
    struct desc desc[QSIZE] __attribute__((aligned(16)));
    struct avail avail __attribute__((aligned(4)));
    struct used used __attribute__((aligned(8)));
    uint16_t last_used;
} Queue;

typedef struct Dev {
    uint64_t base;
    unsigned irq, slot, id;
    Queue q[2];
} Dev;

static Dev devs[MAX_DEVS];
static unsigned ndevs;

void virtio_irq(unsigned slot)
{
    if (slot < ndevs) {
        uint32_t st = mmio_r32(devs[slot].base + R_INT_STATUS);
        mmio_w32(devs[slot].base + R_INT_ACK, st);
        virtio_irqs[slot]++;
    }
}

static int dev_init(Dev *d, uint32_t feat_lo, unsigned nq)
{
    uint64_t b = d->base;

    mmio_w32(b + R_STATUS, 0);
    mmio_w32(b + R_STATUS, 1);
    mmio_w32(b + R_STATUS, 3);
    mmio_w32(b + R_DEV_FEATURES_SEL, 1);
    if (!(mmio_r32(b + R_DEV_FEATURES) & 1))
        return -1;                                  /* no VIRTIO_F_VERSION_1 */
    mmio_w32(b + R_DEV_FEATURES_SEL, 0);
    feat_lo &= mmio_r32(b + R_DEV_FEATURES);
    mmio_w32(b + R_DRV_FEATURES_SEL, 0);
    mmio_w32(b + R_DRV_FEATURES, feat_lo);
    mmio_w32(b + R_DRV_FEATURES_SEL, 1);
    mmio_w32(b + R_DRV_FEATURES, 1);
    mmio_w32(b + R_STATUS, 3 | 8);
    if (!(mmio_r32(b + R_STATUS) & 8))
        return -1;
    for (unsigned i = 0; i < nq; i++) {
        Queue *q = &d->q[i];
        memset(q, 0, sizeof(*q));
        mmio_w32(b + R_QUEUE_SEL, i);
        if (mmio_r32(b + R_QUEUE_NUM_MAX) < QSIZE)
            return -1;
        mmio_w32(b + R_QUEUE_NUM, QSIZE);
        mmio_w32(b + R_DESC_LO, (uint32_t)(uint64_t)q->desc);
        mmio_w32(b + R_DESC_HI, 0);
        mmio_w32(b + R_AVAIL_LO, (uint32_t)(uint64_t)&q->avail);
        mmio_w32(b + R_AVAIL_HI, 0);
        mmio_w32(b + R_USED_LO, (uint32_t)(uint64_t)&q->used);
        mmio_w32(b + R_USED_HI, 0);
        mmio_w32(b + R_QUEUE_READY, 1);
    }
    mmio_w32(b + R_STATUS, 3 | 8 | 4);
    ioapic_route(d->irq, VEC_VIRTIO + d->slot, 1);
    return 0;
}

/* Post a chain of n buffers (write[i]: device writes it) on queue qi. */
static void submit(Dev *d, unsigned qi, unsigned n, void **buf, uint32_t *len, const int *write)
{
    Queue *q = &d->q[qi];
    unsigned head = (q->avail.idx * 3) % QSIZE;     /* chains of up to 3, never overlapping */

    if (n > 3)
        n = 3;
    for (unsigned i = 0; i < n; i++) {
        struct desc *ds = &q->desc[(head + i) % QSIZE];
        ds->addr = (uint64_t)buf[i];
        ds->len = len[i];
        ds->flags = (uint16_t)((i + 1 < n ? 1 : 0) | (write[i] ? 2 : 0));
        ds->next = (uint16_t)((head + i + 1) % QSIZE);
    }
    q->avail.ring[q->avail.idx % QSIZE] = (uint16_t)head;
    barrier();
    q->avail.idx++;
    barrier();
    mmio_w32(d->base + R_QUEUE_NOTIFY, qi);
}

/* Wait for one used element on queue qi; returns its length or -1. */
static int64_t wait_used(Dev *d, unsigned qi, unsigned ms)
{
    Queue *q = &d->q[qi];
    uint64_t end = ticks + ms / 10 + 1;
    uint32_t len;

    while (*(volatile uint16_t *)&q->used.idx == q->last_used && ticks < end)
        __asm__ volatile("sti; hlt; cli");
    if (*(volatile uint16_t *)&q->used.idx == q->last_used)
        return -1;
    len = q->used.ring[q->last_used % QSIZE].len;
    q->last_used++;
    return len;
}

static uint8_t sector[512] __attribute__((aligned(512)));

static int blk_rw(Dev *d, uint32_t type, uint64_t sec, int has_data)
{
    static struct { uint32_t type, reserved; uint64_t sector; } hdr;
    static volatile uint8_t status;
    void *bufs[3] = { &hdr, sector, (void *)&status };
    uint32_t lens[3] = { 16, 512, 1 };
    int wr[3] = { 0, type == 0, 1 };

    hdr.type = type;
    hdr.sector = sec;
    status = 0xff;
    if (!has_data) {
        bufs[1] = (void *)&status;
        lens[1] = 1;
        wr[1] = 1;
    }
    submit(d, 0, has_data ? 3 : 2, bufs, lens, wr);
    if (wait_used(d, 0, 3000) < 0)
        return -2;
    return status;
}

static void blk_test(Dev *d)
{
    char token[40], msg[64];
    unsigned irqs0 = virtio_irqs[d->slot];
    int r;

    if (dev_init(d, 1u << 9 /* FLUSH */, 1)) {
        FAIL("blk: device init failed\n");
        return;
    }
    r = blk_rw(d, 0, 0, 1);
    if (r != 0 || memcmp(sector, "XENO-BLK-TEST", 13)) {
        FAIL("blk: read of sector 0 failed (status %d)\n", r);
        return;
    }
    if (!cmdline_arg("xtest.token=", token, sizeof(token)))
        memcpy(token, "none", 5);
    memset(sector, 0, sizeof(sector));
    memcpy(msg, "XENO-BLK-WROTE ", 15);
    memcpy(msg + 15, token, strlen(token) + 1);
    memcpy(sector, msg, strlen(msg));
    r = blk_rw(d, 1, 1, 1);
    if (r != 0) {
        FAIL("blk: write of sector 1 failed (status %d)\n", r);
        return;
    }
    r = blk_rw(d, 4, 0, 0);
    if (r != 0) {
        FAIL("blk: flush failed (status %d)\n", r);
        return;
    }
    memset(sector, 0, sizeof(sector));
    r = blk_rw(d, 0, 1, 1);
    if (r != 0 || memcmp(sector, msg, strlen(msg))) {
        FAIL("blk: sector 1 reads back wrong\n");
        return;
    }
    /* Requests may complete during the notify, with interrupts off here:
     * the (level) interrupt is still pending; let it in. */
    wait_flag(&virtio_irqs[d->slot], 100);
    printf("xtest: blk ok: read, write, flush, read back (%u irqs)\n", virtio_irqs[d->slot] - irqs0);
    if (virtio_irqs[d->slot] == irqs0)
        FAIL("blk: no interrupt\n");
}

/* Echo (xtest.echo): with hvc0 as the guest's console the VMM feeds it the
 * console input; the host side (the test) answers the line
 * "xtest: hvc0 echo TOKEN" with "TOKEN\n". */
static void console_echo(Dev *d)
{
    static char line[80], rx[64];
    char token[40];
    void *b[1];
    uint32_t l[1];
    int w[1];
    int64_t n;
    size_t tl;

    if (!cmdline_arg("xtest.token=", token, sizeof(token)))
        memcpy(token, "none", 5);
    tl = strlen(token);
    /* Receive buffer first, so the answer has somewhere to go. */
    memset(rx, 0, sizeof(rx));
    b[0] = rx; l[0] = sizeof(rx) - 1; w[0] = 1;
    submit(d, 0, 1, b, l, w);
    memcpy(line, "xtest: hvc0 echo ", 17);
    memcpy(line + 17, token, tl);
    line[17 + tl] = '\n';
    b[0] = line; l[0] = (uint32_t)(18 + tl); w[0] = 0;
    submit(d, 1, 1, b, l, w);
    if (wait_used(d, 1, 2000) < 0) {
        FAIL("console: echo request not transmitted\n");
        return;
    }
    n = wait_used(d, 0, 5000);
    if (n < 0) {
        FAIL("console: no echo on hvc0 within 5 s\n");
        return;
    }
    if ((size_t)n < tl || memcmp(rx, token, tl)) {
        FAIL("console: hvc0 echo reads back wrong (%ld bytes)\n", n);
        return;
    }
    printf("xtest: console echo ok: %ld bytes back on hvc0\n", n);
}

static void console_test(Dev *d)
{
    static char msg[] = "xtest: hvc0 says hello\n";
    void *b[1] = { msg };
    uint32_t l[1] = { sizeof(msg) - 1 };
    int w[1] = { 0 };

    if (dev_init(d, 0, 2)) {
        FAIL("console: device init failed\n");
        return;
    }
    submit(d, 1, 1, b, l, w);
    if (wait_used(d, 1, 2000) < 0)
        FAIL("console: transmit not completed\n");
    else
        printf("xtest: console transmit completed\n");
    if (cmdline_has("xtest.echo"))
        console_echo(d);
}

static uint8_t rx_buf[2][1600], tx_buf[64];

static void net_test(Dev *d)
{
    uint8_t mac[6];
    static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    int64_t len;

    if (dev_init(d, 1u << 5 /* MAC */, 2)) {
        FAIL("net: device init failed\n");
        return;
    }
    for (int i = 0; i < 6; i++)
        mac[i] = mmio_r8(d->base + R_CONFIG + (unsigned)i);
    for (int i = 0; i < 2; i++) {
        void *b[1] = { rx_buf[i] };
        uint32_t l[1] = { sizeof(rx_buf[i]) };
        int w[1] = { 1 };
        submit(d, 0, 1, b, l, w);
    }
    /* virtio_net_hdr_v1 (12 bytes, zero), then an ARP who-has 10.0.2.2. */
    {
        uint8_t *f = tx_buf + 12;
        static const uint8_t arp[] = { 0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 1 };
        memset(tx_buf, 0, sizeof(tx_buf));
        memcpy(f, bcast, 6);
        memcpy(f + 6, mac, 6);
        memcpy(f + 12, arp, sizeof(arp));
        memcpy(f + 22, mac, 6);
        f[28] = 10; f[29] = 0; f[30] = 2; f[31] = 15;       /* sender 10.0.2.15 */
        f[38] = 10; f[39] = 0; f[40] = 2; f[41] = 2;        /* target 10.0.2.2 */
        void *b[1] = { tx_buf };
        uint32_t l[1] = { 12 + 42 };
        int w[1] = { 0 };
        submit(d, 1, 1, b, l, w);
    }
    if (wait_used(d, 1, 2000) < 0) {
        FAIL("net: transmit not completed\n");
        return;
    }
    for (int tries = 0; tries < 2; tries++) {
        unsigned idx = d->q[0].last_used % QSIZE;
        uint8_t *f;
        len = wait_used(d, 0, 3000);
        if (len < 0)
            break;
        f = (uint8_t *)d->q[0].desc[d->q[0].used.ring[idx].id].addr + 12;
        if (len >= 12 + 42 && f[12] == 0x08 && f[13] == 0x06 && f[21] == 2 &&
            f[28] == 10 && f[29] == 0 && f[30] == 2 && f[31] == 2) {
            printf("xtest: net ok: arp reply for 10.0.2.2 from %02x:%02x:%02x:%02x:%02x:%02x\n",
                   f[22], f[23], f[24], f[25], f[26], f[27]);
            return;
        }
    }
    FAIL("net: no ARP reply from 10.0.2.2\n");
}

static void rng_test(Dev *d)
{
    static uint8_t buf[32];
    void *b[1] = { buf };
    uint32_t l[1] = { sizeof(buf) };
    int w[1] = { 1 };
    int64_t n;

    if (dev_init(d, 0, 1)) {
        FAIL("rng: device init failed\n");
        return;
    }
    submit(d, 0, 1, b, l, w);
    n = wait_used(d, 0, 2000);
    if (n <= 0)
        FAIL("rng: no entropy\n");
    else
        printf("xtest: rng ok: %ld bytes\n", n);
}

void virtio_tests(void)
{
    int seen_console = 0;

    /* virtio_mmio.device=4K@0xADDR:IRQ */
    for (const char *p = cmdline; (p = strstr(p, "virtio_mmio.device=")) && ndevs < MAX_DEVS; ) {
        Dev *d = &devs[ndevs];
        p += 19;
        while (*p && *p != '@')
            p++;
        if (*p++ != '@')
            break;
        d->base = parse_num(&p);
        if (*p++ != ':')
            break;
        d->irq = (unsigned)parse_num(&p);
        d->slot = ndevs++;
        if (mmio_r32(d->base + R_MAGIC) != 0x74726976 || mmio_r32(d->base + R_VERSION) != 2) {
            FAIL("virtio: no device at 0x%lx\n", d->base);
            continue;
        }
        d->id = mmio_r32(d->base + R_DEVICE_ID);
        printf("xtest: virtio device %u at 0x%lx irq %u: id %u\n", d->slot, d->base, d->irq, d->id);
    }
    for (unsigned i = 0; i < ndevs; i++) {
        Dev *d = &devs[i];
        switch (d->id) {
        case 1: net_test(d); break;
        case 2: blk_test(d); break;
        case 3: if (!seen_console++) console_test(d); break;
        case 4: rng_test(d); break;
        default: break;
        }
    }
}
