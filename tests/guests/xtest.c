/* The x86-64 test guest: checks what the VMM gives a kernel and reports
 * over COM1, one "xtest: ..." line per check ("xtest: FAIL ..." on error).
 *
 * Command line options (besides the VMM's virtio_mmio.device= entries):
 *   xtest.token=T      echoed back (the boot parameters arrived)
 *   xtest.ticks=N      print "xtest: tick i" every 100 ms, N times
 *   xtest.quick        stop after "ready" (boot checks only)
 *   xtest.bench        print "ready" right after the guest's own setup,
 *                      before any check, then finish (bench/kvm.sh)
 *   xtest.echo         hvc0 echo check: the host echoes a line back
 *   xtest.count=MS     after the checks, count forever: every MS ms print
 *                      "xtest: count N ticks T tsc_ms A kvmclock_ms B
 *                      ap_ipis I" (guest time from the TSC and from
 *                      kvmclock; an IPI to the first AP, answered, each
 *                      time), for save/restore and migration tests
 *   xtest.end=poweroff|reset|kbdreset|triple|halt   how to finish */
#include "xtest.h"

int failures;
const char *cmdline = "";
volatile uint64_t ticks;
volatile unsigned virtio_irqs[16];

static uint64_t idt[512];
static volatile unsigned ap_up, ap_got_ipi, bsp_ipis, ap_ids[64];
static unsigned ncpus, apic_ids[64];
static uint64_t ram_bytes;
static uint64_t tsc_per_100ms;     /* measured against the LAPIC timer */

extern const uint64_t isr_table[256];
extern char tramp_start[], tramp_end[], tramp_cr3[], tramp_next[];
extern struct { uint16_t limit; uint64_t base; } __attribute__((packed)) gdt_desc;

/* ---- interrupts ---- */

static void idt_init(void)
{
    for (unsigned v = 0; v < 256; v++) {
        uint64_t a = isr_table[v];
        idt[2 * v] = (a & 0xffff) | (0x10ull << 16) | (0x8eull << 40) | ((a >> 16 & 0xffff) << 48);
        idt[2 * v + 1] = a >> 32;
    }
}

static void idt_load(void)
{
    struct { uint16_t limit; uint64_t base; } __attribute__((packed)) d = { sizeof(idt) - 1, (uint64_t)idt };
    __asm__ volatile("lidt %0" :: "m"(d));
}

static unsigned my_apic_id(void) { return lapic_r(0x20) >> 24; }

static void poweroff(void)
{
    outw(0x604, (5 << 10) | (1 << 13));
}

void isr(uint64_t vec, uint64_t err, uint64_t rip)
{
    if (vec < 32) {
        printf("xtest: FAIL exception %u error 0x%lx at rip 0x%lx on cpu %u\n",
               (unsigned)vec, err, rip, my_apic_id());
        poweroff();
        for (;;)
            __asm__ volatile("cli; hlt");
    }
    if (vec == VEC_TIMER) {
        ticks++;
    } else if (vec == VEC_IPI_BSP) {
        bsp_ipis++;
    } else if (vec == VEC_IPI_AP) {
        __atomic_fetch_add(&ap_got_ipi, 1, __ATOMIC_SEQ_CST);
    } else if (vec >= VEC_VIRTIO && vec < VEC_VIRTIO + 16) {
        extern void virtio_irq(unsigned slot);
        virtio_irq((unsigned)(vec - VEC_VIRTIO));
    }
    if (vec != VEC_SPURIOUS)
        lapic_w(0xb0, 0);       /* EOI */
}

static void lapic_enable(void)
{
    lapic_w(0xf0, 0x100 | VEC_SPURIOUS);    /* SVR: enabled */
    lapic_w(0x80, 0);                       /* TPR */
}

/* 10 ms periodic: KVM's LAPIC timer counts at 1 GHz. */
static void timer_start(void)
{
    lapic_w(0x3e0, 0xb);                    /* divide by 1 */
    lapic_w(0x320, (1 << 17) | VEC_TIMER);  /* periodic */
    lapic_w(0x380, 10000000);
}

int wait_flag(volatile unsigned *flag, unsigned ms)
{
    uint64_t end = ticks + ms / 10 + 1;
    while (!*flag && ticks < end)
        __asm__ volatile("sti; hlt; cli");
    return *flag != 0;
}

void ioapic_route(unsigned irq, unsigned vector, int level)
{
    uint32_t lo = vector | (level ? (1u << 15) : 0);    /* fixed, physical, active high */
    mmio_w32(IOAPIC, 0x10 + 2 * irq + 1);
    mmio_w32(IOAPIC + 0x10, 0);                         /* destination: APIC 0 */
    mmio_w32(IOAPIC, 0x10 + 2 * irq);
    mmio_w32(IOAPIC + 0x10, lo);
}

/* ---- command line ---- */

const char *cmdline_arg(const char *key, char *buf, size_t size)
{
    size_t kl = strlen(key);
    for (const char *p = cmdline; *p; p++) {
        if ((p == cmdline || p[-1] == ' ') && !strncmp(p, key, kl)) {
            size_t n = 0;
            p += kl;
            while (p[n] && p[n] != ' ' && n + 1 < size) {
                buf[n] = p[n];
                n++;
            }
            buf[n] = 0;
            return buf;
        }
    }
    return 0;
}

/* True if `word` is a whole word of the command line. */
int cmdline_has(const char *word)
{
    size_t n = strlen(word);
    for (const char *p = cmdline; (p = strstr(p, word)); p++)
        if ((p == cmdline || p[-1] == ' ') && (p[n] == 0 || p[n] == ' '))
            return 1;
    return 0;
}

/* ---- boot information ---- */

struct e820 { uint64_t addr, size; uint32_t type; } __attribute__((packed));

static uint64_t rsdp_addr;

static void check_e820(const struct e820 *e, unsigned n, unsigned stride)
{
    uint64_t low_ram = 0, high_ram = 0, total = 0;
    int have_zero = 0;

    for (unsigned i = 0; i < n; i++) {
        const struct e820 *x = (const struct e820 *)((const uint8_t *)e + i * stride);
        if (x->type != 1)
            continue;
        total += x->size;
        if (x->addr == 0)
            have_zero = 1;
        if (x->addr == 0x100000)
            low_ram = x->addr + x->size;
        if (x->addr == 0x100000000ull)
            high_ram = x->size;
    }
    ram_bytes = total;
    printf("xtest: e820 %u entries, %lu KiB RAM, low end 0x%lx, high %lu MiB\n",
           n, total >> 10, low_ram, high_ram >> 20);
    if (!have_zero || !low_ram)
        FAIL("e820: no RAM at 0 or at 1 MiB\n");
    /* The memory the map promises is there: touch the last page of each
     * RAM range above 1 MiB. */
    if (low_ram) {
        volatile uint64_t *p = (volatile uint64_t *)(low_ram - 8);
        *p = 0x5a5a5a5a12345678ull;
        if (*p != 0x5a5a5a5a12345678ull)
            FAIL("e820: top of low RAM not writable\n");
    }
    if (high_ram) {
        /* Map 4-8 GiB with 1 GiB pages next to the boot identity map. */
        uint64_t cr3, *pdpt;
        uint32_t a = 0x80000001, b, c = 0, d;
        __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
        if (!(d & (1u << 26))) {
            printf("xtest: no 1 GiB pages, high RAM not checked\n");
            return;
        }
        __asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
        pdpt = (uint64_t *)(*(uint64_t *)(cr3 & ~0xfffull) & ~0xfffull);
        for (uint64_t i = 4; i < 8; i++)
            pdpt[i] = (i << 30) | 0x83;
        __asm__ volatile("mov %0, %%cr3" :: "r"(cr3) : "memory");
        volatile uint64_t *p = (volatile uint64_t *)(0x100000000ull + high_ram - 8);
        *p = 0xa5a5a5a587654321ull;
        if (*p != 0xa5a5a5a587654321ull)
            FAIL("e820: top of high RAM not writable\n");
    }
}

static void read_boot_params(const uint8_t *bp)
{
    uint32_t cmd = *(const uint32_t *)(bp + 0x228);
    if (*(const uint16_t *)(bp + 0x1fe) != 0xaa55 || memcmp(bp + 0x202, "HdrS", 4))
        FAIL("boot_params: no setup header\n");
    cmdline = cmd ? (const char *)(uint64_t)cmd : "";
    rsdp_addr = *(const uint64_t *)(bp + 0x70);
    printf("xtest: boot_params at 0x%lx, loader 0x%x, initrd 0x%x+%u\n", (uint64_t)bp,
           bp[0x210], *(const uint32_t *)(bp + 0x218), *(const uint32_t *)(bp + 0x21c));
    check_e820((const struct e820 *)(bp + 0x2d0), bp[0x1e8], 20);
}

static void read_pvh(const uint8_t *si)
{
    if (*(const uint32_t *)si != 0x336ec578)
        FAIL("pvh: bad start_info magic\n");
    cmdline = (const char *)*(const uint64_t *)(si + 24);
    rsdp_addr = *(const uint64_t *)(si + 32);
    printf("xtest: pvh start_info at 0x%lx, %u modules\n", (uint64_t)si, *(const uint32_t *)(si + 12));
    check_e820((const struct e820 *)*(const uint64_t *)(si + 40), *(const uint32_t *)(si + 48), 24);
}

static int sum_ok(const uint8_t *p, uint32_t len)
{
    uint8_t s = 0;
    while (len--)
        s = (uint8_t)(s + *p++);
    return s == 0;
}

static void read_acpi(void)
{
    const uint8_t *rsdp = (const uint8_t *)rsdp_addr, *xsdt, *madt = 0, *fadt = 0;
    uint32_t n;

    if (!rsdp) {        /* scan the BIOS area like Linux does */
        for (uint64_t a = 0xe0000; a < 0x100000; a += 16)
            if (!memcmp((const void *)a, "RSD PTR ", 8)) {
                rsdp = (const uint8_t *)a;
                break;
            }
    }
    if (!rsdp || memcmp(rsdp, "RSD PTR ", 8) || !sum_ok(rsdp, 20) || !sum_ok(rsdp, 36)) {
        FAIL("acpi: no valid RSDP\n");
        return;
    }
    xsdt = (const uint8_t *)*(const uint64_t *)(rsdp + 24);
    if (memcmp(xsdt, "XSDT", 4) || !sum_ok(xsdt, *(const uint32_t *)(xsdt + 4))) {
        FAIL("acpi: bad XSDT\n");
        return;
    }
    n = (*(const uint32_t *)(xsdt + 4) - 36) / 8;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *t = (const uint8_t *)*(const uint64_t *)(xsdt + 36 + 8 * i);
        if (!sum_ok(t, *(const uint32_t *)(t + 4)))
            FAIL("acpi: bad checksum in %c%c%c%c\n", t[0], t[1], t[2], t[3]);
        if (!memcmp(t, "APIC", 4))
            madt = t;
        if (!memcmp(t, "FACP", 4))
            fadt = t;
    }
    if (!madt || !fadt) {
        FAIL("acpi: MADT or FADT missing\n");
        return;
    }
    {
        const uint8_t *dsdt = (const uint8_t *)*(const uint64_t *)(fadt + 140);
        if (memcmp(dsdt, "DSDT", 4) || !sum_ok(dsdt, *(const uint32_t *)(dsdt + 4)) ||
            !strstr((const char *)dsdt + 36, "_S5_"))
            FAIL("acpi: DSDT without _S5\n");
    }
    for (uint32_t off = 44; off + 2 <= *(const uint32_t *)(madt + 4); off += madt[off + 1]) {
        if (madt[off + 1] < 2)
            break;
        if (madt[off] == 0 && (madt[off + 4] & 1) && ncpus < 64)
            apic_ids[ncpus++] = madt[off + 3];
    }
    printf("xtest: acpi ok, MADT lists %u cpus\n", ncpus);
}

/* ---- SMP ---- */

void ap_main(unsigned idx)
{
    __asm__ volatile("lgdt %0" :: "m"(gdt_desc));
    idt_load();
    lapic_enable();
    ap_ids[idx] = my_apic_id();
    __atomic_fetch_add(&ap_up, 1, __ATOMIC_SEQ_CST);
    /* Tell the BSP, then wait for its IPI. */
    lapic_w(0x310, 0);
    lapic_w(0x300, VEC_IPI_BSP);
    for (;;)
        __asm__ volatile("sti; hlt");
}

static void send_ipi(unsigned apic, uint32_t icr_lo)
{
    lapic_w(0x310, apic << 24);
    lapic_w(0x300, icr_lo);
    while (lapic_r(0x300) & (1 << 12))
        cpu_relax();
}

static void delay_ms(unsigned ms)
{
    uint64_t end = ticks + ms / 10 + 1;
    while (ticks < end)
        __asm__ volatile("sti; hlt; cli");
}

static void smp_test(void)
{
    unsigned want = ncpus ? ncpus - 1 : 0, bsp = my_apic_id();
    uint64_t cr3;

    if (!want) {
        printf("xtest: smp 1 cpu\n");
        return;
    }
    memcpy((void *)0x3000, tramp_start, (size_t)(tramp_end - tramp_start));
    __asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
    *(uint64_t *)(0x3000 + (tramp_cr3 - tramp_start)) = cr3;
    *(uint32_t *)(0x3000 + (tramp_next - tramp_start)) = 0;
    for (unsigned i = 0; i < ncpus; i++) {
        if (apic_ids[i] == bsp)
            continue;
        send_ipi(apic_ids[i], 0x4500);          /* INIT */
        delay_ms(10);
        send_ipi(apic_ids[i], 0x4600 | 0x03);   /* SIPI, vector 0x03 -> 0x3000 */
        send_ipi(apic_ids[i], 0x4600 | 0x03);
    }
    {
        uint64_t end = ticks + 200;
        while ((ap_up < want || bsp_ipis < want) && ticks < end)
            __asm__ volatile("sti; hlt; cli");
    }
    for (unsigned i = 0; i < ap_up; i++)
        send_ipi(ap_ids[i], VEC_IPI_AP);
    {
        uint64_t end = ticks + 200;
        while (ap_got_ipi < ap_up && ticks < end)
            __asm__ volatile("sti; hlt; cli");
    }
    printf("xtest: smp %u/%u cpus up, %u ipis to bsp, %u ipis to aps\n",
           ap_up + 1, ncpus, bsp_ipis, ap_got_ipi);
    if (ap_up != want || bsp_ipis != want || ap_got_ipi != want)
        FAIL("smp: not every cpu came up and exchanged ipis\n");
}

/* ---- counting (xtest.count=MS) ---- */

/* An IPI to the first AP, and its answer (its ISR counts it): the AP's
 * LAPIC, IDT and halted state are alive. */
static unsigned ping_ap(void)
{
    unsigned before = ap_got_ipi;
    uint64_t end = ticks + 50;

    if (!ap_up)
        return 0;
    send_ipi(ap_ids[0], VEC_IPI_AP);
    while (ap_got_ipi == before && ticks < end)
        __asm__ volatile("sti; hlt; cli");
    if (ap_got_ipi == before)
        FAIL("count: the AP did not take its IPI\n");
    return ap_got_ipi;
}

static void count_forever(unsigned ms)
{
    uint64_t next = ticks, tsc0 = rdtsc();
    int kvmclock = kvmclock_start();

    if (!kvmclock)
        printf("xtest: count: no kvmclock\n");
    for (uint64_t n = 1;; n++) {
        uint64_t tsc_ms, kvm_ms;
        unsigned ipis;
        next += ms / 10 ? ms / 10 : 1;
        while (ticks < next)
            __asm__ volatile("sti; hlt; cli");
        ipis = ping_ap();
        tsc_ms = tsc_per_100ms ? (rdtsc() - tsc0) * 100 / tsc_per_100ms : 0;
        kvm_ms = kvmclock ? kvmclock_ns() / 1000000 : 0;
        printf("xtest: count %lu ticks %lu tsc_ms %lu kvmclock_ms %lu ap_ipis %u\n",
               n, ticks, tsc_ms, kvm_ms, ipis);
    }
}

/* ---- the end ---- */

static void finish(void)
{
    char how[16];
    if (!cmdline_arg("xtest.end=", how, sizeof(how)))
        memcpy(how, "poweroff", 9);
    printf("xtest: done, %d failures, end=%s\n", failures, how);
    if (!strncmp(how, "reset", 6)) {
        outb(0xcf9, 6);
    } else if (!strncmp(how, "kbdreset", 9)) {
        outb(0x64, 0xfe);
    } else if (!strncmp(how, "triple", 7)) {
        struct { uint16_t limit; uint64_t base; } __attribute__((packed)) d = { 0, 0 };
        __asm__ volatile("lidt %0; int3" :: "m"(d));
    } else if (!strncmp(how, "halt", 5)) {
        for (;;)
            __asm__ volatile("cli; hlt");
    } else {
        poweroff();
    }
    for (;;)
        __asm__ volatile("cli; hlt");
}

void xmain(int kind, const uint8_t *info)
{
    char buf[64];
    uint64_t t0;

    idt_init();
    idt_load();
    outb(0x21, 0xff);       /* mask the 8259s */
    outb(0xa1, 0xff);
    /* Benchmarks time VMM start to "ready": say it before any check (every
     * port write is a vCPU exit, tens of microseconds on a nested KVM). */
    cmdline = kind ? (const char *)*(const uint64_t *)(info + 24)
                   : (const char *)(uint64_t)*(const uint32_t *)(info + 0x228);
    if (!cmdline)
        cmdline = "";
    if (cmdline_has("xtest.bench")) {
        printf("xtest: ready\n");
        finish();
    }
    printf("\nxtest: entered via %s, cpu %u\n", kind ? "PVH" : "64-bit boot protocol", my_apic_id());
    if (kind)
        read_pvh(info);
    else
        read_boot_params(info);
    printf("xtest: cmdline \"%s\"\n", cmdline);
    if (cmdline_arg("xtest.token=", buf, sizeof(buf)))
        printf("xtest: token %s\n", buf);
    read_acpi();
    printf("xtest: ready\n");
    if (cmdline_has("xtest.quick"))
        finish();

    lapic_enable();
    timer_start();
    t0 = rdtsc();
    {
        uint64_t start = ticks;
        while (ticks < start + 10)
            __asm__ volatile("sti; hlt; cli");
    }
    tsc_per_100ms = rdtsc() - t0;
    printf("xtest: lapic timer 10 ticks, %lu tsc cycles\n", tsc_per_100ms);
    kvmclock_test();

    smp_test();
    virtio_tests();
    if (cmdline_arg("xtest.count=", buf, sizeof(buf))) {
        const char *p = buf;
        count_forever((unsigned)parse_num(&p));
    }

    if (cmdline_arg("xtest.ticks=", buf, sizeof(buf))) {
        const char *p = buf;
        uint64_t n = parse_num(&p), next = ticks;
        volatile uint64_t sum = 0;
        for (uint64_t i = 1; i <= n; i++) {
            next += 10;
            while (ticks < next)
                __asm__ volatile("sti; hlt; cli");
            sum += i;
            printf("xtest: tick %lu sum %lu\n", i, sum);
        }
        if (sum != n * (n + 1) / 2)
            FAIL("ticks: state lost (sum %lu)\n", sum);
    }
    finish();
}
