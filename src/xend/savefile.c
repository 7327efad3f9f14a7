/* What a save file is, before xend starts anything for it: its header
 * (magic, format version, arch, engine, RAM layout) and its first record,
 * the domain's configuration (docs/state-format.md). The rest of the file
 * (sections, memory, checksums) is the restoring VMM's to check. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/hostcaps.h"
#include "common/stream.h"
#include "xend.h"

/* Can this host run a domain of that arch and engine? NULL, or why not. */
static const char *host_refuses(uint32_t arch, uint32_t engine, char *why, size_t size)
{
    HostCaps c;

    if (arch == STREAM_ARCH_RISCV64 && engine == STREAM_ENGINE_EMU)
        return NULL;
    if (arch == STREAM_ARCH_X86_64 && engine == STREAM_ENGINE_KVM) {
        hostcaps_probe(&c);
        if (c.kvm == HOSTCAPS_KVM_USABLE)
            return NULL;
        snprintf(why, size, "it is an x86_64 domain of the kvm engine and KVM is not usable "
                 "on this host (%s)", c.kvm_error[0] ? c.kvm_error : "no /dev/kvm");
        return why;
    }
    snprintf(why, size, "it is a %s domain of the %s engine, which this host cannot run",
             stream_arch_name(arch), stream_engine_name(engine));
    return why;
}

int savefile_probe(const char *path, SaveInfo *info, char *err, size_t errlen)
{
    StreamReader *r = NULL;
    StreamHeader h;
    StreamRecord rec;
    struct stat st;
    char why[256];
    int fd, ret = -1;

    memset(info, 0, sizeof(*info));
    /* O_NONBLOCK: a FIFO named by mistake must not hang the caller. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s is not a regular file", path);
        goto out;
    }
    {
        char magic[8];
        if (pread(fd, magic, sizeof(magic), 0) != (ssize_t)sizeof(magic) ||
            memcmp(magic, STREAM_MAGIC, sizeof(magic))) {
            snprintf(err, errlen, "%s is not a Xeno save file", path);
            goto out;
        }
    }
    r = stream_reader_fd(fd, XEND_MAX_CONFIG);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if (stream_read_header(r, &h) < 0) {
        snprintf(err, errlen, "%s: %s", path, stream_reader_error(r));
        goto out;
    }
    if (h.flags & STREAM_F_MIGRATION) {
        snprintf(err, errlen, "%s is a migration stream, not a save file", path);
        goto out;
    }
    if (host_refuses(h.arch, h.engine, why, sizeof(why))) {
        snprintf(err, errlen, "%s cannot be restored here: %s", path, why);
        goto out;
    }
    switch (stream_read_record(r, &rec)) {
    case 1:
        break;
    case 0:
        snprintf(err, errlen, "%s: the save file holds no domain", path);
        goto out;
    default:
        snprintf(err, errlen, "%s: %s", path, stream_reader_error(r));
        goto out;
    }
    if (rec.tag != STREAM_TAG_CONF || !rec.len || memchr(rec.payload, '\0', rec.len)) {
        snprintf(err, errlen, "%s: the save file does not start with the domain's configuration",
                 path);
        goto out;
    }
    info->config = malloc(rec.len + 1);
    if (!info->config) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    memcpy(info->config, rec.payload, rec.len);
    info->config[rec.len] = '\0';
    info->config_len = rec.len;
    info->arch = h.arch;
    info->engine = h.engine;
    info->flags = h.flags;
    for (unsigned i = 0; i < h.nregions; i++)
        info->ram_bytes += h.region[i].size;
    ret = 0;
out:
    stream_reader_free(r);
    close(fd);
    return ret;
}

void savefile_info_free(SaveInfo *info)
{
    free(info->config);
    info->config = NULL;
}
