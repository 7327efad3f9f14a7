#include "loader.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/safeopen.h"
#include "common/util.h"

/* Images are regular files, opened without following links
 * (common/safeopen.h). */
static void *slurp(const char *path, size_t *len, char *err, size_t errlen)
{
    return safe_read_file(path, len, err, errlen);
}

int file_is_elf(const char *path)
{
    unsigned char m[4];
    char err[64];
    int fd = safe_open(path, O_RDONLY, SAFEOPEN_REG, err, sizeof(err)), r = 0;

    if (fd >= 0) {
        r = read(fd, m, 4) == 4 && memcmp(m, ELFMAG, SELFMAG) == 0;
        close(fd);
    }
    return r;
}

/* Find a symbol's value in the ELF symbol table, 0 if missing. */
static uint64_t elf_symbol(const uint8_t *buf, size_t len, const Elf64_Ehdr *eh, const char *name)
{
    if (eh->e_shoff == 0 || eh->e_shentsize != sizeof(Elf64_Shdr) ||
        eh->e_shoff > len || (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr) > len - eh->e_shoff)
        return 0;
    const Elf64_Shdr *sh = (const Elf64_Shdr *)(buf + eh->e_shoff);
    for (unsigned i = 0; i < eh->e_shnum; i++) {
        if (sh[i].sh_type != SHT_SYMTAB || sh[i].sh_link >= eh->e_shnum)
            continue;
        const Elf64_Shdr *st = &sh[sh[i].sh_link];
        if (sh[i].sh_offset > len || sh[i].sh_size > len - sh[i].sh_offset ||
            st->sh_offset > len || st->sh_size > len - st->sh_offset)
            return 0;
        const Elf64_Sym *sym = (const Elf64_Sym *)(buf + sh[i].sh_offset);
        size_t n = sh[i].sh_size / sizeof(Elf64_Sym);
        const char *strtab = (const char *)(buf + st->sh_offset);
        for (size_t k = 0; k < n; k++) {
            if (sym[k].st_name >= st->sh_size)
                continue;
            const char *s = strtab + sym[k].st_name;
            if (strnlen(s, st->sh_size - sym[k].st_name) < st->sh_size - sym[k].st_name &&
                strcmp(s, name) == 0)
                return sym[k].st_value;
        }
    }
    return 0;
}

int load_elf64(GuestMem *mem, const char *path, uint16_t machine, LoadedImage *out,
               char *err, size_t errlen)
{
    size_t len;
    uint8_t *buf = slurp(path, &len, err, errlen);
    const Elf64_Ehdr *eh;
    int loaded = 0;

    if (!buf)
        return -1;
    eh = (const Elf64_Ehdr *)buf;
    if (len < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
        eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB) {
        snprintf(err, errlen, "%s: not a 64-bit little-endian ELF file", path);
        goto fail;
    }
    if (eh->e_machine != machine) {
        snprintf(err, errlen, "%s: ELF file is for another architecture (machine %u)",
                 path, eh->e_machine);
        goto fail;
    }
    if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phoff > len ||
        (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > len - eh->e_phoff) {
        snprintf(err, errlen, "%s: corrupt ELF program headers", path);
        goto fail;
    }
    out->lo = ~0ull;
    out->hi = 0;
    const Elf64_Phdr *ph = (const Elf64_Phdr *)(buf + eh->e_phoff);
    for (unsigned i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type != PT_LOAD || ph[i].p_memsz == 0)
            continue;
        uint64_t pa = ph[i].p_paddr;
        if (ph[i].p_filesz > ph[i].p_memsz || ph[i].p_offset > len ||
            ph[i].p_filesz > len - ph[i].p_offset) {
            snprintf(err, errlen, "%s: corrupt ELF segment %u", path, i);
            goto fail;
        }
        uint8_t *dst = gmem_ptr_w(mem, pa, ph[i].p_memsz);
        if (!dst) {
            snprintf(err, errlen, "%s: segment at %#llx (%llu bytes) is outside guest RAM",
                     path, (unsigned long long)pa, (unsigned long long)ph[i].p_memsz);
            goto fail;
        }
        memcpy(dst, buf + ph[i].p_offset, ph[i].p_filesz);
        memset(dst + ph[i].p_filesz, 0, ph[i].p_memsz - ph[i].p_filesz);
        out->lo = MIN(out->lo, pa);
        out->hi = MAX(out->hi, pa + ph[i].p_memsz);
        loaded++;
    }
    if (!loaded) {
        snprintf(err, errlen, "%s: ELF file has nothing to load", path);
        goto fail;
    }
    out->entry = eh->e_entry;
    out->tohost = elf_symbol(buf, len, eh, "tohost");
    out->fromhost = elf_symbol(buf, len, eh, "fromhost");
    free(buf);
    return 0;
fail:
    free(buf);
    return -1;
}

int load_raw(GuestMem *mem, const char *path, uint64_t gpa, LoadedImage *out,
             char *err, size_t errlen)
{
    size_t len;
    uint8_t *buf = slurp(path, &len, err, errlen);
    uint8_t *dst;

    if (!buf)
        return -1;
    dst = gmem_ptr_w(mem, gpa, len);
    if (!dst || len == 0) {
        snprintf(err, errlen, len ? "%s: too large for guest memory (%zu bytes)"
                                  : "%s: file is empty", path, len);
        free(buf);
        return -1;
    }
    memcpy(dst, buf, len);
    free(buf);
    out->entry = gpa;
    out->lo = gpa;
    out->hi = gpa + len;
    out->tohost = out->fromhost = 0;
    return 0;
}

int load_riscv_linux(GuestMem *mem, const char *path, uint64_t ram_base,
                     LoadedImage *out, char *err, size_t errlen)
{
    size_t len;
    uint8_t *buf = slurp(path, &len, err, errlen);
    uint64_t text_offset, image_size, gpa;
    uint8_t *dst;

    if (!buf)
        return -1;
    /* Image header: text_offset at 8, image_size at 16, magic2 "RSC\x05" at 56. */
    if (len < 64 || memcmp(buf + 56, "RSC\x05", 4) != 0) {
        snprintf(err, errlen, "%s: not a RISC-V Linux kernel Image", path);
        free(buf);
        return -1;
    }
    text_offset = ld64(buf + 8);
    image_size = ld64(buf + 16);
    if (text_offset == 0 || (text_offset & (RISCV_KERNEL_ALIGN - 1)))
        text_offset = RISCV_KERNEL_ALIGN;
    if (image_size < len)
        image_size = len;
    gpa = ram_base + text_offset;
    dst = gmem_ptr_w(mem, gpa, image_size);
    if (!dst) {
        snprintf(err, errlen, "%s: kernel (%llu bytes) does not fit in guest memory",
                 path, (unsigned long long)image_size);
        free(buf);
        return -1;
    }
    memcpy(dst, buf, len);
    free(buf);
    out->entry = gpa;
    out->lo = gpa;
    out->hi = gpa + image_size;
    out->tohost = out->fromhost = 0;
    return 0;
}
