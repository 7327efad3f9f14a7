/* xm save, restore and migrate (Xen's), with their progress: a bar on a
 * terminal, plain lines otherwise. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmds.h"

#define PLAIN_EVERY_NS 1000000000ull   /* plain progress: at most a line a second */

/* How the progress of one job is shown. */
struct show {
    bool tty;
    bool bar_open;             /* a bar is on the line: end it before other output */
    char what[160];            /* "Migrating web1" */
    unsigned last_round;
    char last_state[16];
    uint64_t last_ns;
    uint64_t bytes, downtime_ms;   /* the last non-zero ones, for the summary */
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void on_progress(const xeno_progress *p, void *opaque)
{
    struct show *s = opaque;
    char line[512];
    uint64_t t = now_ns();
    bool changed = strcmp(p->state, s->last_state) || p->round != s->last_round;

    if (p->bytes)
        s->bytes = p->bytes;
    if (p->downtime_ms)
        s->downtime_ms = p->downtime_ms;
    if (s->tty) {
        xm_progress_line(line, sizeof(line), s->what, p, true);
        printf("\r%s\033[K", line);
        s->bar_open = true;
        fflush(stdout);
        return;
    }
    /* Plain: every change of state or round, else once a second. */
    if (!changed && t - s->last_ns < PLAIN_EVERY_NS)
        return;
    if (!strcmp(p->state, "completed") || !strcmp(p->state, "failed"))
        return;         /* the command's own last line says it */
    snprintf(s->last_state, sizeof(s->last_state), "%s", p->state);
    s->last_round = p->round;
    s->last_ns = t;
    xm_progress_line(line, sizeof(line), s->what, p, false);
    puts(line);
    fflush(stdout);
}

static void show_end(struct show *s)
{
    if (s->bar_open) {
        putchar('\n');
        s->bar_open = false;
        fflush(stdout);
    }
}

static void show_init(struct show *s, const char *verb, const char *name)
{
    char nm[128];

    memset(s, 0, sizeof(*s));
    s->tty = isatty(STDOUT_FILENO);
    xm_sanitize(nm, sizeof(nm), name);
    snprintf(s->what, sizeof(s->what), "%s %s", verb, nm);
}

/* path as an absolute file name on this host (xend's, as xm talks to the
 * local xend for files): relative names are taken from the current
 * directory. Returns 0 or 1 after the error. */
static int absolute_file(const char *path, char *out, size_t size)
{
    char cwd[PATH_MAX];

    if (!*path)
        return xm_error("No file name given.");
    if (path[0] == '/') {
        if ((size_t)snprintf(out, size, "%s", path) >= size)
            return xm_error("File name too long.");
        return 0;
    }
    if (!getcwd(cwd, sizeof(cwd)))
        return xm_error("Cannot find the current directory: %s.", strerror(errno));
    if ((size_t)snprintf(out, size, "%s/%s", strcmp(cwd, "/") ? cwd : "", path) >= size)
        return xm_error("File name too long.");
    return 0;
}

int cmd_save(struct xm_ctx *ctx, const struct xm_cmd *cmd, int argc, char **argv)
{
    static const struct option opts[] = {
        { "checkpoint", no_argument, NULL, 'c' },
        { "compress", no_argument, NULL, 'z' },
        { NULL, 0, NULL, 0 },
    };
    unsigned flags = 0;
    char path[PATH_MAX], nm[256];
    struct show s;
    int c, rc;

    while ((c = xm_getopt(cmd, argc, argv, "cz", opts)) != -1) {
        switch (c) {
        case 'c': flags |= XENO_SAVE_CHECKPOINT; break;
        case 'z': flags |= XENO_SAVE_COMPRESS; break;
        default: return 1;
        }
    }
    argc -= optind;
    argv += optind;
    if (xm_check_operands(cmd, argc, 1, 2))
        return 1;
    if (argc == 1 && (flags & XENO_SAVE_CHECKPOINT))
        return xm_usage_error(cmd, "'xm save -c' needs a file: a managed save ends the domain.");
    if (argc == 2 && absolute_file(argv[1], path, sizeof(path)))
        return 1;
    xeno_domain *d = xm_lookup_guest(ctx, argv[0]);
    if (!d)
        return 1;
    xm_sanitize(nm, sizeof(nm), xeno_domain_get_name(d));
    show_init(&s, "Saving", xeno_domain_get_name(d));
    if (argc == 2) {
        rc = xeno_domain_save(d, path, flags, on_progress, &s);
    } else {
        xeno_domain_info i;
        xeno_domain_get_info(d, &i);
        if (!i.managed) {
            xeno_domain_free(d);
            return xm_error("Domain '%s' is not managed: give a file to save it to "
                            "(xm save %s FILE).", nm, nm);
        }
        rc = xeno_domain_managed_save(d, flags & XENO_SAVE_COMPRESS, on_progress, &s);
    }
    show_end(&s);
    xeno_domain_free(d);
    if (rc != XENO_OK)
        return xm_lib_error(ctx);
    if (argc == 1)
        printf("Domain %s saved; 'xm start %s' restores it.\n", nm, nm);
    else if (flags & XENO_SAVE_CHECKPOINT)
        printf("Domain %s checkpointed to %s; it keeps running.\n", nm, path);
    else
        printf("Domain %s saved to %s.\n", nm, path);
    return 0;
}

int cmd_restore(struct xm_ctx *ctx, const struct xm_cmd *cmd, int argc, char **argv)
{
    static const struct option opts[] = {
        { "paused", no_argument, NULL, 'p' },
        { NULL, 0, NULL, 0 },
    };
    unsigned flags = 0;
    char path[PATH_MAX], nm[256];
    struct show s;
    xeno_domain *d = NULL;
    struct stat st;
    int c;

    while ((c = xm_getopt(cmd, argc, argv, "p", opts)) != -1) {
        switch (c) {
        case 'p': flags |= XENO_CREATE_PAUSED; break;
        default: return 1;
        }
    }
    if (xm_check_operands(cmd, argc - optind, 1, 1))
        return 1;
    if (absolute_file(argv[optind], path, sizeof(path)))
        return 1;
    if (stat(path, &st) < 0)
        return xm_error("Cannot read file %s: %s.", argv[optind], strerror(errno));
    if (!xm_conn(ctx))
        return 1;
    show_init(&s, "Restoring", path);
    int rc = xeno_domain_restore(ctx->conn, path, flags, on_progress, &s, &d);
    show_end(&s);
    if (rc != XENO_OK)
        return xm_lib_error(ctx);
    xm_sanitize(nm, sizeof(nm), xeno_domain_get_name(d));
    printf("Restored domain %s (id=%d)%s.\n", nm, xeno_domain_get_id(d),
           flags & XENO_CREATE_PAUSED ? ", paused" : "");
    xeno_domain_free(d);
    return 0;
}

int cmd_migrate(struct xm_ctx *ctx, const struct xm_cmd *cmd, int argc, char **argv)
{
    enum { OPT_DOWNTIME = 256, OPT_NO_CONVERGE };
    static const struct option opts[] = {
        { "live", no_argument, NULL, 'l' },
        { "resource", required_argument, NULL, 'r' },
        { "port", required_argument, NULL, 'p' },
        { "downtime", required_argument, NULL, OPT_DOWNTIME },
        { "compress", no_argument, NULL, 'z' },
        { "no-auto-converge", no_argument, NULL, OPT_NO_CONVERGE },
        { NULL, 0, NULL, 0 },
    };
    unsigned flags = 0;
    unsigned long bw = 0, downtime = 0, port = 0, v;
    char host[300], nm[256], dest[320];
    struct show s;
    int c;

    while ((c = xm_getopt(cmd, argc, argv, "lr:p:z", opts)) != -1) {
        switch (c) {
        case 'l': flags |= XENO_MIGRATE_LIVE; break;
        case 'z': flags |= XENO_MIGRATE_COMPRESS; break;
        case OPT_NO_CONVERGE: flags |= XENO_MIGRATE_NO_AUTO_CONVERGE; break;
        case 'r':
            if (xm_parse_uint(optarg, 1, 1000000, &bw) < 0)
                return xm_usage_error(cmd, "Invalid --resource '%s': Mb/s, from 1 to 1000000.",
                                      optarg);
            break;
        case 'p':
            if (xm_parse_uint(optarg, 1, 65535, &port) < 0)
                return xm_usage_error(cmd, "Invalid port '%s'.", optarg);
            break;
        case OPT_DOWNTIME:
            if (xm_parse_uint(optarg, 1, 60000, &downtime) < 0)
                return xm_usage_error(cmd, "Invalid --downtime '%s': ms, from 1 to 60000.",
                                      optarg);
            break;
        default: return 1;
        }
    }
    argc -= optind;
    argv += optind;
    if (xm_check_operands(cmd, argc, 2, 2))
        return 1;
    if (xm_parse_host_port(argv[1], host, sizeof(host), &v) < 0)
        return xm_usage_error(cmd, "Invalid destination '%s': HOST or HOST:PORT.", argv[1]);
    if (v) {
        if (port && port != v)
            return xm_usage_error(cmd, "Two ports given: %lu and %lu.", v, port);
        port = v;
    }
    if (!port)
        port = XENO_MIGRATE_DEFAULT_PORT;
    xeno_domain *d = xm_lookup_guest(ctx, argv[0]);
    if (!d)
        return 1;
    xm_sanitize(nm, sizeof(nm), xeno_domain_get_name(d));
    snprintf(dest, sizeof(dest), strchr(host, ':') ? "[%s]:%lu" : "%s:%lu", host, port);
    show_init(&s, "Migrating", xeno_domain_get_name(d));
    uint64_t t0 = now_ns();
    int rc = xeno_domain_migrate(d, host, (int)port, flags, (unsigned)downtime, (unsigned)bw,
                                 on_progress, &s);
    show_end(&s);
    xeno_domain_free(d);
    if (rc != XENO_OK)
        return xm_lib_error(ctx);
    printf("Migrated domain %s to %s in %.1f s", nm, dest, (double)(now_ns() - t0) / 1e9);
    if (s.bytes)
        printf(", %.1f MiB sent", (double)s.bytes / 1048576.0);
    if (s.downtime_ms)
        printf(", downtime %llu ms", (unsigned long long)s.downtime_ms);
    printf(".\n");
    return 0;
}
