/* Direct Linux boot on x86-64 (Documentation/arch/x86/boot.rst):
 *
 *  - bzImage: the protected-mode kernel is loaded at 1 MiB and entered
 *    through the 64-bit entry (load address + 0x200) with rsi = boot_params;
 *  - vmlinux ELF: segments loaded at their physical addresses, entered at
 *    e_entry in 64-bit mode with rsi = boot_params (like Firecracker);
 *  - an ELF with a Xen PVH note (XEN_ELFNOTE_PHYS32_ENTRY): entered in
 *    32-bit protected mode with ebx = hvm_start_info.
 *
 * Low memory layout (all below 1 MiB):
 *   0x00500  GDT                        0x06000  PVH start_info, memmap, modules
 *   0x07000  boot_params (zero page)    0x08ff0  boot stack
 *   0x09000  PML4, PDPT, 4 PDs: an identity map of the first 4 GiB
 *   0x20000  command line               0xe0000  ACPI tables (reserved)
 */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot_x86.h"
#include "common/safeopen.h"
#include "common/util.h"
#include "hw/x86/acpi.h"
#include "loader.h"

#define GDT_ADDR        0x500ull
#define PVH_INFO_ADDR   0x6000ull
#define PVH_MEMMAP_ADDR 0x6100ull
#define PVH_MODS_ADDR   0x6800ull
#define ZERO_PAGE_ADDR  0x7000ull
#define BOOT_STACK      0x8ff0ull
#define PML4_ADDR       0x9000ull
#define PDPT_ADDR       0xa000ull
#define PD_ADDR         0xb000ull       /* 4 pages */
#define CMDLINE_ADDR    0x20000ull
#define CMDLINE_MAX     0x10000ull
#define EBDA_START      0x9fc00ull
#define ACPI_ADDR       0xe0000ull
#define ACPI_MAX        0x20000ull
#define KERNEL_ADDR     0x100000ull
#define LOW_MEM_END     0xa0000ull      /* conventional memory ends, VGA and BIOS follow */
#define PAGE_SIZE       0x1000ull

/* boot_params offsets */
#define BP_ACPI_RSDP     0x070
#define BP_EXT_RD_IMAGE  0x0c0
#define BP_EXT_RD_SIZE   0x0c4
#define BP_EXT_CMDLINE   0x0c8
#define BP_E820_ENTRIES  0x1e8
#define BP_HDR           0x1f1
#define BP_SETUP_SECTS   0x1f1
#define BP_SYSSIZE       0x1f4          /* protected-mode code, in 16-byte units */
#define BP_BOOT_FLAG     0x1fe
#define BP_JUMP          0x200
#define BP_HEADER        0x202
#define BP_VERSION       0x206
#define BP_LOADER_TYPE   0x210
#define BP_LOADFLAGS     0x211
#define BP_CODE32_START  0x214
#define BP_RD_IMAGE      0x218
#define BP_RD_SIZE       0x21c
#define BP_CMDLINE_PTR   0x228
#define BP_INITRD_MAX    0x22c
#define BP_KERNEL_ALIGN  0x230
#define BP_XLOADFLAGS    0x236
#define BP_CMDLINE_SIZE  0x238
#define BP_INIT_SIZE     0x260
#define BP_HDR_END       0x290
#define BP_E820_TABLE    0x2d0
#define BP_E820_MAX      128

#define LOADED_HIGH      0x01
#define XLF_KERNEL_64    0x01
#define BOOT_FLAG_MAGIC  0xaa55
#define HDRS_MAGIC       "HdrS"
#define SECTOR_SIZE      512            /* setup_sects count these */
#define ENTRY64_OFFSET   0x200          /* the 64-bit entry, from the load address */

#define E820_RAM      1
#define E820_RESERVED 2

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define PVH_MAGIC 0x336ec578u

typedef struct E820 {
    uint64_t addr, size;
    uint32_t type;
} E820;

static unsigned build_e820(const X86BootInfo *bi, E820 *e)
{
    unsigned n = 0;

    e[n++] = (E820){ 0, EBDA_START, E820_RAM };
    e[n++] = (E820){ EBDA_START, LOW_MEM_END - EBDA_START, E820_RESERVED };
    e[n++] = (E820){ ACPI_ADDR, ACPI_MAX, E820_RESERVED };
    e[n++] = (E820){ KERNEL_ADDR, bi->low_end - KERNEL_ADDR, E820_RAM };
    if (bi->high_size)
        e[n++] = (E820){ X86_HIGH_RAM_BASE, bi->high_size, E820_RAM };
    return n;
}

/* ---- kernel images ---- */

typedef struct Kernel {
    enum { K_BZIMAGE, K_ELF, K_PVH } kind;
    uint64_t entry, lo, hi;
    uint8_t hdr[BP_HDR_END - BP_HDR];  /* bzImage setup header */
    size_t hdr_len;
    uint32_t initrd_max;
} Kernel;

static int load_bzimage(Machine *m, const X86BootInfo *bi, const uint8_t *buf, size_t len,
                        Kernel *k, char *err, size_t errlen)
{
    const char *path = m->cfg.kernel;
    unsigned setup_sects = buf[BP_SETUP_SECTS] ? buf[BP_SETUP_SECTS] : 4;
    size_t pm_off = ((size_t)setup_sects + 1) * SECTOR_SIZE, hdr_end;
    uint16_t version = ld16(buf + BP_VERSION);
    uint64_t init_size, need;

    if (version < 0x20c || !(buf[BP_XLOADFLAGS] & XLF_KERNEL_64) || !(buf[BP_LOADFLAGS] & LOADED_HIGH)) {
        snprintf(err, errlen, "%s: bzImage has no 64-bit entry point (boot protocol %u.%02u): "
                 "need a 64-bit kernel with protocol 2.12 or later", path, version >> 8, version & 0xff);
        return -1;
    }
    if (pm_off >= len) {
        snprintf(err, errlen, "%s: truncated bzImage", path);
        return -1;
    }
    if ((uint64_t)ld32(buf + BP_SYSSIZE) * 16 > len - pm_off + 15) {
        snprintf(err, errlen, "%s: truncated bzImage (%zu bytes of kernel, the header says %llu)",
                 path, len - pm_off, (unsigned long long)ld32(buf + BP_SYSSIZE) * 16);
        return -1;
    }
    init_size = ld32(buf + BP_INIT_SIZE);
    need = MAX(init_size, (uint64_t)(len - pm_off));
    if (KERNEL_ADDR + need > bi->low_end) {
        snprintf(err, errlen, "%s: the kernel needs %llu MiB of memory below 3 GiB",
                 path, (unsigned long long)((KERNEL_ADDR + need + (1 << 20) - 1) >> 20));
        return -1;
    }
    if (gmem_write(&m->mem, KERNEL_ADDR, buf + pm_off, len - pm_off)) {
        snprintf(err, errlen, "%s: kernel does not fit in guest memory", path);
        return -1;
    }
    hdr_end = MIN((size_t)BP_HEADER + buf[BP_JUMP + 1], (size_t)BP_HDR_END);
    k->kind = K_BZIMAGE;
    k->hdr_len = hdr_end - BP_HDR;
    memcpy(k->hdr, buf + BP_HDR, k->hdr_len);
    k->entry = KERNEL_ADDR + ENTRY64_OFFSET;
    k->lo = KERNEL_ADDR;
    k->hi = KERNEL_ADDR + need;
    k->initrd_max = ld32(buf + BP_INITRD_MAX);
    return 0;
}

/* Look for the PVH entry note in the ELF's PT_NOTE segments. */
static uint64_t find_pvh_entry(const uint8_t *buf, size_t len)
{
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)buf;
    const Elf64_Phdr *ph;

    if (len < sizeof(*eh) || eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phoff > len ||
        (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > len - eh->e_phoff)
        return 0;
    ph = (const Elf64_Phdr *)(buf + eh->e_phoff);
    for (unsigned i = 0; i < eh->e_phnum; i++) {
        uint64_t off = ph[i].p_offset, end;
        if (ph[i].p_type != PT_NOTE || off > len || ph[i].p_filesz > len - off)
            continue;
        end = off + ph[i].p_filesz;
        while (end - off >= sizeof(Elf64_Nhdr)) {
            const Elf64_Nhdr *n = (const Elf64_Nhdr *)(buf + off);
            uint64_t name = off + sizeof(*n), desc = name + ALIGN_UP((uint64_t)n->n_namesz, 4ull);
            uint64_t next = desc + ALIGN_UP((uint64_t)n->n_descsz, 4ull);
            if (next > end || next <= off)
                break;
            if (n->n_type == XEN_ELFNOTE_PHYS32_ENTRY && n->n_namesz == 4 &&
                !memcmp(buf + name, "Xen", 4) && (n->n_descsz == 4 || n->n_descsz == 8)) {
                uint64_t v = 0;
                memcpy(&v, buf + desc, n->n_descsz);
                return v;
            }
            off = next;
        }
    }
    return 0;
}

static int load_kernel(Machine *m, const X86BootInfo *bi, Kernel *k, char *err, size_t errlen)
{
    const char *path = m->cfg.kernel;
    size_t len;
    uint8_t *buf = safe_read_file(path, &len, err, errlen);
    int r = -1;

    if (!buf)
        return -1;
    if (len >= SELFMAG && !memcmp(buf, ELFMAG, SELFMAG)) {
        LoadedImage img;
        uint64_t pvh = find_pvh_entry(buf, len);
        if (load_elf64(&m->mem, path, EM_X86_64, &img, err, errlen))
            goto out;
        if (img.lo < KERNEL_ADDR) {
            snprintf(err, errlen, "%s: ELF segment at 0x%llx: kernels must load at 1 MiB or above",
                     path, (unsigned long long)img.lo);
            goto out;
        }
        k->kind = pvh ? K_PVH : K_ELF;
        k->entry = pvh ? pvh : img.entry;
        k->lo = img.lo;
        k->hi = img.hi;
        k->initrd_max = 0xffffffff;
        if (!gmem_ptr(&m->mem, k->entry, 1)) {
            snprintf(err, errlen, "%s: entry point 0x%llx is outside guest RAM", path,
                     (unsigned long long)k->entry);
            goto out;
        }
        r = 0;
    } else if (len >= 0x400 && !memcmp(buf + BP_HEADER, HDRS_MAGIC, 4) &&
               ld16(buf + BP_BOOT_FLAG) == BOOT_FLAG_MAGIC) {
        r = load_bzimage(m, bi, buf, len, k, err, errlen);
    } else {
        snprintf(err, errlen, "%s: not an x86-64 kernel (bzImage or ELF)", path);
    }
out:
    free(buf);
    return r;
}

static int load_initrd(Machine *m, X86BootInfo *bi, const Kernel *k, char *err, size_t errlen)
{
    const char *path = m->cfg.ramdisk;
    uint64_t top = MIN(bi->low_end, (uint64_t)k->initrd_max + 1), addr;
    size_t len;
    void *buf;

    if (!path[0])
        return 0;
    buf = safe_read_file(path, &len, err, errlen);
    if (!buf)
        return -1;
    addr = len < top ? (top - len) & ~(PAGE_SIZE - 1) : 0;
    if (addr < ALIGN_UP(k->hi, PAGE_SIZE) || gmem_write(&m->mem, addr, buf, len)) {
        snprintf(err, errlen, "%s: initrd (%zu bytes) does not fit in guest memory below %llu MiB "
                 "with the kernel", path, len, (unsigned long long)(top >> 20));
        free(buf);
        return -1;
    }
    free(buf);
    bi->initrd_addr = addr;
    bi->initrd_size = len;
    return 0;
}

/* ---- boot structures ---- */

static void write_page_tables(Machine *m)
{
    uint64_t pml4e = PDPT_ADDR | 3, pdpte[4], pde[512];

    gmem_write(&m->mem, PML4_ADDR, &pml4e, 8);
    for (unsigned i = 0; i < 4; i++) {
        pdpte[i] = (PD_ADDR + i * PAGE_SIZE) | 3;
        for (unsigned j = 0; j < ARRAY_SIZE(pde); j++)
            pde[j] = (((uint64_t)i << 30) + ((uint64_t)j << 21)) | 0x83;   /* P, RW, 2 MiB */
        gmem_write(&m->mem, PD_ADDR + i * PAGE_SIZE, pde, sizeof(pde));
    }
    gmem_write(&m->mem, PDPT_ADDR, pdpte, sizeof(pdpte));
}

static void write_gdt(Machine *m, bool long_mode)
{
    uint64_t gdt[4] = {
        0, 0,
        long_mode ? 0x00af9b000000ffffull : 0x00cf9b000000ffffull,   /* 0x10: code */
        0x00cf93000000ffffull,                                       /* 0x18: data */
    };
    gmem_write(&m->mem, GDT_ADDR, gdt, sizeof(gdt));
}

static void write_zero_page(Machine *m, const X86BootInfo *bi, const Kernel *k, uint32_t cmdlen)
{
    uint8_t *bp = gmem_ptr_w(&m->mem, ZERO_PAGE_ADDR, PAGE_SIZE);
    E820 e[8];
    unsigned n = build_e820(bi, e);

    memset(bp, 0, PAGE_SIZE);
    if (k->kind == K_BZIMAGE) {
        memcpy(bp + BP_HDR, k->hdr, k->hdr_len);
    } else {
        st16(bp + BP_BOOT_FLAG, BOOT_FLAG_MAGIC);
        memcpy(bp + BP_HEADER, HDRS_MAGIC, 4);
        st16(bp + BP_VERSION, 0x020f);
        st32(bp + BP_KERNEL_ALIGN, 0x1000000);
    }
    bp[BP_LOADER_TYPE] = 0xff;                  /* undefined boot loader */
    bp[BP_LOADFLAGS] |= LOADED_HIGH;
    st32(bp + BP_CODE32_START, (uint32_t)k->lo);
    st32(bp + BP_CMDLINE_PTR, (uint32_t)CMDLINE_ADDR);
    st32(bp + BP_CMDLINE_SIZE, cmdlen);
    st32(bp + BP_RD_IMAGE, (uint32_t)bi->initrd_addr);
    st32(bp + BP_RD_SIZE, (uint32_t)bi->initrd_size);
    st32(bp + BP_EXT_RD_IMAGE, (uint32_t)(bi->initrd_addr >> 32));
    st32(bp + BP_EXT_RD_SIZE, (uint32_t)(bi->initrd_size >> 32));
    st64(bp + BP_ACPI_RSDP, bi->rsdp);
    bp[BP_E820_ENTRIES] = (uint8_t)n;
    for (unsigned i = 0; i < n; i++) {
        uint8_t *p = bp + BP_E820_TABLE + 20 * i;
        st64(p, e[i].addr);
        st64(p + 8, e[i].size);
        st32(p + 16, e[i].type);
    }
}

static void write_pvh_info(Machine *m, const X86BootInfo *bi)
{
    uint8_t info[56] = { 0 }, mod[32] = { 0 };
    E820 e[8];
    unsigned n = build_e820(bi, e);

    for (unsigned i = 0; i < n; i++) {
        uint8_t ent[24] = { 0 };
        st64(ent, e[i].addr);
        st64(ent + 8, e[i].size);
        st32(ent + 16, e[i].type);
        gmem_write(&m->mem, PVH_MEMMAP_ADDR + 24 * i, ent, sizeof(ent));
    }
    st32(info, PVH_MAGIC);
    st32(info + 4, 1);                         /* version */
    if (bi->initrd_size) {
        st64(mod, bi->initrd_addr);
        st64(mod + 8, bi->initrd_size);
        gmem_write(&m->mem, PVH_MODS_ADDR, mod, sizeof(mod));
        st32(info + 12, 1);
        st64(info + 16, PVH_MODS_ADDR);
    }
    st64(info + 24, CMDLINE_ADDR);
    st64(info + 32, bi->rsdp);
    st64(info + 40, PVH_MEMMAP_ADDR);
    st32(info + 48, n);
    gmem_write(&m->mem, PVH_INFO_ADDR, info, sizeof(info));
}

/* The CPUs and interrupt controllers are the board's; the devices add
 * their parts. */
static int write_acpi(Machine *m, X86BootInfo *bi, char *err, size_t errlen)
{
    X86AcpiInfo ai = { .ncpus = bi->nvcpus, .lapic_addr = X86_LAPIC_BASE,
                       .ioapic_addr = X86_IOAPIC_BASE };
    uint8_t *buf = gmem_ptr_w(&m->mem, ACPI_ADDR, ACPI_MAX);

    if (!buf || !x86_acpi_build(buf, ACPI_MAX, ACPI_ADDR, &ai, bi->devs)) {
        snprintf(err, errlen, "cannot build the ACPI tables");
        return -1;
    }
    bi->rsdp = ACPI_ADDR;
    return 0;
}

int boot_x86_load(Machine *m, X86BootInfo *bi, KvmBoot *boot, char *err, size_t errlen)
{
    Kernel k = { 0 };
    size_t cmdlen = strlen(bi->cmdline);
    uint64_t limit = CMDLINE_MAX - 1;

    if (load_kernel(m, bi, &k, err, errlen) || load_initrd(m, bi, &k, err, errlen))
        return -1;
    if (k.kind == K_BZIMAGE && ld32(k.hdr + (BP_CMDLINE_SIZE - BP_HDR)))
        limit = MIN(limit, (uint64_t)ld32(k.hdr + (BP_CMDLINE_SIZE - BP_HDR)));
    if (cmdlen > limit) {
        snprintf(err, errlen, "kernel command line too long (%zu bytes, the kernel takes %llu)",
                 cmdlen, (unsigned long long)limit);
        return -1;
    }
    gmem_write(&m->mem, CMDLINE_ADDR, bi->cmdline, cmdlen + 1);
    if (write_acpi(m, bi, err, errlen))
        return -1;
    write_gdt(m, k.kind != K_PVH);
    memset(boot, 0, sizeof(*boot));
    boot->entry = k.entry;
    boot->gdt = GDT_ADDR;
    boot->stack = BOOT_STACK;
    if (k.kind == K_PVH) {
        write_pvh_info(m, bi);
        boot->mode = KVM_BOOT_PVH32;
        boot->arg = PVH_INFO_ADDR;
        bi->format = "PVH ELF";
    } else {
        write_page_tables(m);
        write_zero_page(m, bi, &k, (uint32_t)cmdlen);
        boot->mode = KVM_BOOT_LINUX64;
        boot->arg = ZERO_PAGE_ADDR;
        boot->cr3 = PML4_ADDR;
        bi->format = k.kind == K_BZIMAGE ? "bzImage" : "ELF";
    }
    bi->kernel_lo = k.lo;
    bi->kernel_hi = k.hi;
    return 0;
}
