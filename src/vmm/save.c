/* Writing a domain's state: the stream's start (header, CONF), memory as
 * pages or images, the sections; and save files on top of that. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "state.h"

void state_header(const Machine *m, uint32_t flags, StreamHeader *h)
{
    memset(h, 0, sizeof(*h));
    h->version = STREAM_FORMAT_VERSION;
    h->arch = machine_stream_arch(m);
    h->engine = machine_stream_engine(m);
    h->flags = flags;
    h->nregions = m->mem.nr;
    for (unsigned i = 0; i < m->mem.nr && i < STREAM_MAX_REGIONS; i++) {
        h->region[i].gpa = m->mem.r[i].gpa;
        h->region[i].size = m->mem.r[i].size;
    }
}

static int werr(StreamWriter *w, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s", stream_writer_error(w));
    return -1;
}

int state_write_start(Machine *m, StreamWriter *w, uint32_t flags, char *err, size_t errlen)
{
    StreamHeader h;
    char *conf = malloc(CONFIG_FORMAT_MAX);
    int n, r;

    if (!conf) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    n = config_format(&m->cfg, conf, CONFIG_FORMAT_MAX);
    if (n < 0) {
        free(conf);
        snprintf(err, errlen, "the configuration is too large to save");
        return -1;
    }
    state_header(m, flags, &h);
    r = stream_write_header(w, &h) ||
        stream_write_record(w, STREAM_TAG_CONF, 0, 1, 0, conf, (size_t)n);
    free(conf);
    return r ? werr(w, err, errlen) : 0;
}

int state_write_all_pages(Machine *m, StreamWriter *w, char *err, size_t errlen)
{
    for (unsigned i = 0; i < m->mem.nr; i++) {
        GuestRegion *g = &m->mem.r[i];
        if (stream_write_pages(w, g->gpa, g->host, g->size / STREAM_PAGE_SIZE))
            return werr(w, err, errlen);
    }
    return 0;
}

static int put_section(void *opaque, const VmStateSection *s, const void *data, size_t len)
{
    return stream_write_record(opaque, s->tag, s->instance, s->version, 0, data, len);
}

int state_write_sections(Machine *m, StreamWriter *w, char *err, size_t errlen)
{
    if (vmstate_save_all(&m->state, put_section, w, err, errlen))
        return stream_writer_failed(w) ? werr(w, err, errlen) : -1;
    return 0;
}

static int write_file(Machine *m, int fd, bool compress, char *err, size_t errlen)
{
    /* zstd level 1: the guest waits while its memory is compressed, and
     * level 3 took twice as long for a file 7% smaller (docs/migration.md,
     * "Compression"). */
    StreamWriter *w = stream_writer_new(fd, true, compress ? 1 : 0);
    int r = -1;

    if (!w) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (state_write_start(m, w, compress ? STREAM_F_COMPRESSED : STREAM_F_IMAGES, err, errlen))
        goto out;
    if (compress && state_write_all_pages(m, w, err, errlen))
        goto out;
    if (state_write_sections(m, w, err, errlen))
        goto out;
    for (unsigned i = 0; !compress && i < m->mem.nr; i++) {
        GuestRegion *g = &m->mem.r[i];
        if (stream_write_image(w, i, g->gpa, g->host, g->size)) {
            werr(w, err, errlen);
            goto out;
        }
    }
    if (stream_write_done(w)) {
        werr(w, err, errlen);
        goto out;
    }
    r = 0;
out:
    stream_writer_free(w);
    return r;
}

static int fsync_dir_of(const char *path)
{
    char *copy = strdup(path);
    int fd, r;

    if (!copy)
        return -1;
    fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd < 0)
        return -1;
    r = fsync(fd);
    close(fd);
    return r;
}

int state_save_fd(Machine *m, int fd, bool compress, char *err, size_t errlen)
{
    if (m->no_save) {
        snprintf(err, errlen, "%s", m->no_save);
        return -1;
    }
    if (write_file(m, fd, compress, err, errlen))
        return -1;
    if (fsync(fd) < 0) {
        snprintf(err, errlen, "fsync: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int state_save_file(Machine *m, const char *path, bool compress, char *err, size_t errlen)
{
    char tmp[4200];
    int fd;

    if (m->no_save) {
        snprintf(err, errlen, "%s", m->no_save);
        return -1;
    }
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
        snprintf(err, errlen, "%s: path too long", path);
        return -1;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        return -1;
    }
    if (write_file(m, fd, compress, err, errlen))
        goto fail;
    if (fsync(fd) < 0) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        goto fail;
    }
    close(fd);
    if (rename(tmp, path) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    fsync_dir_of(path);
    return 0;
fail:
    {
        /* Prefix with the file so "write: No space left on device" says where. */
        char why[512];
        snprintf(why, sizeof(why), "%s", err);
        snprintf(err, errlen, "%s: %s", path, why);
    }
    close(fd);
    unlink(tmp);
    return -1;
}
