/* xm's lifecycle commands: create, new, delete, start, shutdown, reboot,
 * destroy, pause, unpause. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmds.h"

#define CONFIG_MAX (1 << 20)

/* Read a config file (relative names are also looked for in /etc/xeno, as
 * Xen looked in /etc/xen). Returns malloc'd text or NULL after an error. */
static char *read_config(const char *path)
{
    FILE *f = fopen(path, "r");
    char alt[4096];
    int e = errno;
    if (!f && e == ENOENT && !strchr(path, '/')) {
        snprintf(alt, sizeof(alt), "/etc/xeno/%s", path);
        f = fopen(alt, "r");
        if (f)
            path = alt;
    }
    if (!f) {
        xm_error("Cannot read file %s: %s.", path, strerror(e));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        xm_error("Cannot read file %s: %s.", path, strerror(EISDIR));
        return NULL;
    }
    char *buf = malloc(CONFIG_MAX + 1);
    size_t n = buf ? fread(buf, 1, CONFIG_MAX + 1, f) : 0;
    int err = ferror(f);
    fclose(f);
    if (!buf || err) {
        free(buf);
        xm_error("Cannot read file %s.", path);
        return NULL;
    }
    if (n > CONFIG_MAX || memchr(buf, '\0', n)) {
        free(buf);
        xm_error("%s is not a domain configuration file (too large or binary).", path);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

/* The overrides after the config file: each "key=value". */
static int check_overrides(const struct xm_cmd *cmd, int argc, char **argv)
{
    for (int k = 0; k < argc; k++)
        if (!strchr(argv[k], '=') || argv[k][0] == '=')
            return xm_usage_error(cmd, "Invalid argument '%s': expected key=value.", argv[k]);
    return 0;
}

/* create and new, once the options are parsed: CONFIG [key=value...] */
static int create_or_new(struct xm_ctx *ctx, const struct xm_cmd *cmd, int argc, char **argv,
                         bool start, bool paused, bool console)
{
    if (argc < 1)
        return xm_usage_error(cmd, "'xm %s' requires a config file.", cmd->name);
    const char *path = argv[0];
    if (check_overrides(cmd, argc - 1, argv + 1))
        return 1;
    char *text = read_config(path);
    if (!text)
        return 1;
    if (!xm_conn(ctx)) {
        free(text);
        return 1;
    }
    /* argv is NULL-terminated, so the overrides are too. */
    const char *const *ov = (const char *const *)(argv + 1);
    xeno_domain *d = NULL;
    int rc = start ? xeno_domain_create(ctx->conn, text, ov, paused ? XENO_CREATE_PAUSED : 0, &d)
                   : xeno_domain_define(ctx->conn, text, ov, 0, &d);
    free(text);
    if (rc != XENO_OK)
        return xm_lib_error(ctx);
    char nm[256];
    xm_sanitize(nm, sizeof(nm), xeno_domain_get_name(d));
    if (start) {
        printf("Using config file \"%s\".\n", path);
        printf("Started domain %s (id=%d)\n", nm, xeno_domain_get_id(d));
        fflush(stdout);
    }
    int ret = 0;
    if (console)
        ret = xm_console_attach(ctx, d);
    xeno_domain_free(d);
    return ret;
}

int cmd_create(struct xm_ctx *ctx, const struct xm_cmd *cmd, int argc, char **argv)
{
    static const struct option opts[] = {
        { "paused", no_argument, NULL, 'p' },
        { NULL, 0, NULL, 0 },
    };
    bool console = false, paused = false;
    int c;
    while ((c = xm_getopt(cmd, argc, argv, "cp", opts)) != -1) {
        switch (c) {
        case 'c': console = true; break;
        case 'p': paused = true; break;
        default: return 1;
        }
    }
    return create_or_new(ctx, cmd, argc - optind, argv + optind, true, paused, console);
}

int cmd_new(struct xm_ctx *ctx, const struct xm_cmd *cmd, int argc, char **argv)
{
    if (xm_getopt(cmd, argc, argv, NULL, NULL) != -1)
        return 1;
    return create_or_new(ctx, cmd, argc - optind, argv + optind, false, false, false);
}

/* The commands that take exactly one guest domain and no options. */
static int one_guest(struct xm_ctx *ctx, const struct xm_cmd *cmd, int argc, char **argv,
                     int (*op)(xeno_domain *))
{
    if (xm_operands(cmd, &argc, &argv, 1, 1))
        return 1;
    xeno_domain *d = xm_lookup_guest(ctx, argv[0]);
    if (!d)
        return 1;
    int rc = op(d);
    xeno_domain_free(d);
    return rc == XENO_OK ? 0 : xm_lib_error(ctx);
}

int cmd_delete(struct xm_ctx *ctx, const struct xm_cmd *cmd, int argc, char **argv)
{
    return one_guest(ctx, cmd, argc, argv, xeno_domain_undefine);
}

int cmd_destroy(struct xm_ctx *ctx, const struct xm_cmd *cmd, int argc, char **argv)
{
    return one_guest(ctx, cmd, argc, argv, xeno_domain_destroy);
}

int cmd_pause(struct xm_ctx *ctx, const struct xm_cmd *cmd, int argc, char **argv)
{
    return one_guest(ctx, cmd, argc, argv, xeno_domain_pause);
}

int cmd_unpause(struct xm_ctx *ctx, const struct xm_cmd *cmd, int argc, char **argv)
{
    return one_guest(ctx, cmd, argc, argv, xeno_domain_unpause);
}

static int reboot_op(xeno_domain *d) { return xeno_domain_reboot(d, 0); }

int cmd_reboot(struct xm_ctx *ctx, const struct xm_cmd *cmd, int argc, char **argv)
{
    return one_guest(ctx, cmd, argc, argv, reboot_op);
}

int cmd_start(struct xm_ctx *ctx, const struct xm_cmd *cmd, int argc, char **argv)
{
    static const struct option opts[] = {
        { "paused", no_argument, NULL, 'p' },
        { NULL, 0, NULL, 0 },
    };
    unsigned flags = 0;
    int c;
    while ((c = xm_getopt(cmd, argc, argv, "p", opts)) != -1) {
        switch (c) {
        case 'p': flags |= XENO_CREATE_PAUSED; break;
        default: return 1;
        }
    }
    if (xm_check_operands(cmd, argc - optind, 1, 1))
        return 1;
    xeno_domain *d = xm_lookup_guest(ctx, argv[optind]);
    if (!d)
        return 1;
    int rc = xeno_domain_start(d, flags);
    xeno_domain_free(d);
    return rc == XENO_OK ? 0 : xm_lib_error(ctx);
}

/* shutdown -a: ask every guest first, then (with -w) wait for each: they
 * stop in parallel. */
static int shutdown_all(struct xm_ctx *ctx, unsigned flags)
{
    if (!xm_conn(ctx))
        return 1;
    xeno_domain **doms;
    size_t n;
    if (xeno_domain_list(ctx->conn, &doms, &n) != XENO_OK)
        return xm_lib_error(ctx);
    int ret = 0;
    for (int pass = 0; pass < ((flags & XENO_SHUTDOWN_WAIT) ? 2 : 1); pass++) {
        for (size_t k = 0; k < n; k++) {
            int id = xeno_domain_get_id(doms[k]);
            if (id <= 0)
                continue;
            unsigned f = pass == 0 ? 0 : XENO_SHUTDOWN_WAIT;
            int rc = xeno_domain_shutdown(doms[k], f);
            if ((rc == XENO_ERR_NO_DOMAIN || rc == XENO_ERR_OPERATION_INVALID) && pass == 1)
                continue;       /* already gone or already stopped */
            if (rc != XENO_OK)
                ret = xm_lib_error(ctx);
        }
    }
    xeno_domain_list_free(doms, n);
    return ret;
}

int cmd_shutdown(struct xm_ctx *ctx, const struct xm_cmd *cmd, int argc, char **argv)
{
    static const struct option opts[] = {
        { "wait", no_argument, NULL, 'w' },
        { "all", no_argument, NULL, 'a' },
        { NULL, 0, NULL, 0 },
    };
    bool all = false;
    unsigned flags = 0;
    int c;
    while ((c = xm_getopt(cmd, argc, argv, "wa", opts)) != -1) {
        switch (c) {
        case 'w': flags |= XENO_SHUTDOWN_WAIT; break;
        case 'a': all = true; break;
        default: return 1;
        }
    }
    argc -= optind;
    argv += optind;
    if (all) {
        if (argc > 0)
            return xm_usage_error(cmd, "'xm %s -a' takes no domain.", cmd->name);
        return shutdown_all(ctx, flags);
    }
    if (xm_check_operands(cmd, argc, 1, 1))
        return 1;
    xeno_domain *d = xm_lookup_guest(ctx, argv[0]);
    if (!d)
        return 1;
    int rc = xeno_domain_shutdown(d, flags);
    xeno_domain_free(d);
    return rc == XENO_OK ? 0 : xm_lib_error(ctx);
}
