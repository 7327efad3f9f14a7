/* xm: manage Xeno domains through xend, the way Xen's xm did.
 *
 *   xm [--connect URI] SUBCOMMAND [ARGS...]
 *
 * Every subcommand is a row of xm_cmds (kvmtool style); the functions live
 * in cmd_*.c by group. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xm.h"
#include "cmds.h"

static const struct xm_cmd xm_cmds[] = {
    { "console",  cmd_console,  "<Domain>", "Attach to <Domain>'s console.",
      "  Detach with Ctrl-]." },
    { "create",   cmd_create,   "[-c] [-p] <ConfigFile> [key=value...]",
      "Create a domain based on <ConfigFile>.",
      "  -c            attach to the console after creating\n"
      "  -p            leave the domain paused after it is created\n"
      "  key=value     override a setting of the config file" },
    { "delete",   cmd_delete,   "<Domain>", "Remove a managed domain from xend's management.", NULL },
    { "destroy",  cmd_destroy,  "<Domain>", "Terminate a domain immediately.", NULL },
    { "dmesg",    cmd_dmesg,    "<Domain>", "Print the recent console output of <Domain>.", NULL },
    { "domid",    cmd_domid,    "<DomainName>", "Convert a domain name to domain id.", NULL },
    { "domname",  cmd_domname,  "<DomId>", "Convert a domain id to domain name.", NULL },
    { "help",     cmd_help,     "[Command]", "Display this message or the usage of a command.", NULL },
    { "info",     cmd_info,     "", "Get information about the host and xend.", NULL },
    { "list",     cmd_list,     "[-l] [Domain...]", "List information about all/some domains.",
      "  -l, --long    show the full details of each domain" },
    { "log",      cmd_log,      "<Domain>", "Print the log of <Domain>'s VMM.", NULL },
    { "migrate",  cmd_migrate,
      "[-l] [-r Mb/s] [-p PORT] [--downtime MS] [--no-auto-converge] <Domain> <Host>[:<Port>]",
      "Migrate a domain to another host (its xend's relocation server).",
      "  -l, --live          live migration: the domain runs while its memory is copied\n"
      "  -r, --resource N    limit the stream to N Mb/s\n"
      "  -p, --port PORT     the relocation server's port (default 8002)\n"
      "  --downtime MS       the longest pause a live migration aims at (default 50)\n"
      "  --no-auto-converge  never slow the guest down to reach it (by default a\n"
      "                      guest that dirties memory faster than the link carries\n"
      "                      it is slowed down until the rest fits)\n"
      "  -z, --compress      compress memory pages (zstd)" },
    { "mem-max",  cmd_mem_max,  "<Domain> <Mem>", "Set the maximum amount of memory (MiB) of a domain.", NULL },
    { "mem-set",  cmd_mem_set,  "<Domain> <Mem>", "Set the current memory usage (MiB) of a domain.", NULL },
    { "new",      cmd_new,      "<ConfigFile> [key=value...]", "Add a domain to xend's management.", NULL },
    { "pause",    cmd_pause,    "<Domain>", "Pause execution of a domain.", NULL },
    { "reboot",   cmd_reboot,   "<Domain>", "Reboot a domain.", NULL },
    { "restore",  cmd_restore,  "[-p] <File>", "Restore a domain from a saved state.",
      "  -p, --paused  leave the domain paused after it is restored" },
    { "save",     cmd_save,     "[-c] [-z] <Domain> [<File>]",
      "Save a domain's state to <File> (the domain ends).",
      "  -c, --checkpoint  the domain keeps running\n"
      "  -z, --compress    compress memory pages (zstd)\n"
      "  Without <File>, a managed domain is saved by xend (managed save):\n"
      "  it shows as saved and 'xm start' restores it." },
    { "shutdown", cmd_shutdown, "[-w] [-a] <Domain>", "Shutdown a domain.",
      "  -w, --wait    wait for the domain to shut down\n"
      "  -a, --all     shut down all guest domains" },
    { "start",    cmd_start,    "[-p] <Domain>", "Start a managed domain.",
      "  -p, --paused  leave the domain paused after it is started\n"
      "  A saved domain (state ---S--) is restored from its saved state." },
    { "top",      cmd_top,      "[-b] [-i N] [-d SECS]", "Monitor the host and its domains in real time.",
      "  -b, --batch   print plain refreshes instead of a full screen\n"
      "  -i N          stop after N iterations\n"
      "  -d SECS       seconds between refreshes (default 3)" },
    { "unpause",  cmd_unpause,  "<Domain>", "Unpause a paused domain.", NULL },
    { "uptime",   cmd_uptime,   "[Domain...]", "Print the uptime of domains.", NULL },
    { "vcpu-list", cmd_vcpu_list, "[Domain...]", "List the VCPUs of domains.", NULL },
    { "vcpu-set", cmd_vcpu_set, "<Domain> <vCPUs>", "Set the number of active VCPUs of a domain.", NULL },
    { NULL, NULL, NULL, NULL, NULL },
};

static const struct xm_cmd *xm_find_cmd(const char *name)
{
    for (const struct xm_cmd *c = xm_cmds; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

static void xm_print_usage(FILE *f, const struct xm_cmd *cmd)
{
    fprintf(f, "Usage: xm %s %s\n\n%s\n", cmd->name, cmd->args, cmd->summary);
    if (cmd->options)
        fprintf(f, "\n%s\n", cmd->options);
}

static void print_main_usage(FILE *f)
{
    fprintf(f, "Usage: xm [--connect URI] [-r] [--fingerprint FP] [--token-file FILE]\n"
               "          <subcommand> [args]\n\n"
               "Control, list, and manipulate Xeno domains.\n\n"
               "Common 'xm' commands:\n\n");
    for (const struct xm_cmd *c = xm_cmds; c->name; c++)
        fprintf(f, " %-12s %s\n", c->name, c->summary);
    fprintf(f, "\n<Domain> can be a domain name, ID or UUID.\n"
               "The connection is --connect URI, else $XENO_URI, else %s\n"
               "(read-only through xend-ro.sock when that one may not be opened).\n"
               "  -r, --readonly       use xend's read-only socket (list, info, logs)\n"
               "  --connect https://HOST:PORT  xend over TLS; its key must be pinned:\n"
               "  --fingerprint FP     xend's key (SHA256:..., `xend fingerprint`), else\n"
               "                       ~/.config/xeno/known_hosts (asked on a terminal)\n"
               "  --token-file FILE    the bearer token for TCP, else $XENO_TOKEN\n"
               "  --insecure           allow --connect http:// (all in clear text)\n"
               "Use 'xm help <command>' for the usage of a command.\n", XENO_DEFAULT_URI);
}

static void verror(const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    fprintf(stderr, "Error: %s\n", msg);
}

int xm_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror(fmt, ap);
    va_end(ap);
    return 1;
}

int xm_usage_error(const struct xm_cmd *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror(fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    xm_print_usage(stderr, cmd);
    return 1;
}

/* The option getopt just complained about, as written: "--name" (without
 * any "=value") or "-x" (perhaps from a cluster such as "-lx"). */
static void bad_option(char *out, size_t n, char **argv)
{
    const char *arg = optind > 0 ? argv[optind - 1] : NULL;

    if (arg && !strncmp(arg, "--", 2)) {
        char opt[128];
        snprintf(opt, sizeof(opt), "%.*s", (int)strcspn(arg, "="), arg);
        xm_sanitize(out, n, opt);
    } else {
        char opt[3] = { '-', (char)optopt, '\0' };
        xm_sanitize(out, n, opt);
    }
}

int xm_getopt(const struct xm_cmd *cmd, int argc, char **argv, const char *shortopts,
              const struct option *longopts)
{
    static const struct option none[] = { { NULL, 0, NULL, 0 } };
    char spec[64], opt[128];
    int c;

    /* '+': operands end the options (overrides and domain names follow);
     * ':': a missing argument is told apart, and we print the errors. */
    snprintf(spec, sizeof(spec), "+:%s", shortopts ? shortopts : "");
    opterr = 0;
    c = getopt_long(argc, argv, spec, longopts ? longopts : none, NULL);
    if (c == '?' || c == ':') {
        bad_option(opt, sizeof(opt), argv);
        if (c == '?')
            xm_usage_error(cmd, "Unknown option '%s' for 'xm %s'.", opt, cmd->name);
        else
            xm_usage_error(cmd, "Option '%s' of 'xm %s' requires an argument.", opt, cmd->name);
        return '?';
    }
    return c;
}

int xm_check_operands(const struct xm_cmd *cmd, int n, int min, int max)
{
    if (n >= min && (max < 0 || n <= max))
        return 0;
    if (max == 0)
        return xm_usage_error(cmd, "'xm %s' takes no arguments.", cmd->name);
    if (min == max)
        return xm_usage_error(cmd, "'xm %s' requires %d argument%s.", cmd->name, min,
                              min == 1 ? "" : "s");
    if (n < min)
        return xm_usage_error(cmd, "'xm %s' requires at least %d argument%s.", cmd->name, min,
                              min == 1 ? "" : "s");
    return xm_usage_error(cmd, "'xm %s' takes at most %d argument%s.", cmd->name, max,
                          max == 1 ? "" : "s");
}

int xm_operands(const struct xm_cmd *cmd, int *argc, char ***argv, int min, int max)
{
    if (xm_getopt(cmd, *argc, *argv, NULL, NULL) != -1)
        return 1;
    *argc -= optind;
    *argv += optind;
    return xm_check_operands(cmd, *argc, min, max);
}

int xm_lib_error(struct xm_ctx *ctx)
{
    const char *msg = ctx->conn ? xeno_last_error_message(ctx->conn) : "out of memory";
    if (!*msg)
        msg = xeno_strerror(xeno_last_error(ctx->conn));
    size_t len = strlen(msg);
    bool stop = len && strchr(".!?", msg[len - 1]);
    if (ctx->conn && xeno_last_error(ctx->conn) == XENO_ERR_NO_CONNECT)
        return xm_error("%s. Is xend running?", msg);
    return xm_error("%s%s", msg, stop ? "" : ".");
}

/* xend's TLS key is not known: on a terminal, show its fingerprint and
 * ask (as ssh does); true when the user trusts it and it was recorded. */
static bool confirm_server_key(struct xm_ctx *ctx)
{
    char answer[16] = "";

    if (!isatty(STDIN_FILENO) || !isatty(STDERR_FILENO))
        return false;
    fprintf(stderr, "The TLS key of xend at %s is not known.\n"
                    "Its fingerprint is %s.\n"
                    "Compare it with `xend fingerprint` on that host.\n"
                    "Trust it and remember it in ~/.config/xeno/known_hosts (yes/no)? ",
            xeno_conn_get_uri(ctx->conn), xeno_conn_get_server_fingerprint(ctx->conn));
    if (!fgets(answer, sizeof(answer), stdin) || strcmp(answer, "yes\n")) {
        fprintf(stderr, "Not trusted.\n");
        return false;
    }
    if (xeno_conn_trust_server(ctx->conn, NULL) != XENO_OK) {
        xm_lib_error(ctx);
        return false;
    }
    return true;
}

/* The full-access socket is not ours to open (permissions): use the
 * read-only one beside it, as `virsh -r` would. */
static bool want_ro_fallback(const struct xm_ctx *ctx)
{
    const char *uri = xeno_conn_get_uri(ctx->conn);

    return !ctx->readonly && xeno_last_error(ctx->conn) == XENO_ERR_NO_CONNECT &&
           xeno_last_error_errno(ctx->conn) == EACCES && !strncmp(uri, "unix://", 7);
}

static int connect_once(struct xm_ctx *ctx, bool readonly)
{
    xeno_connect_params p = {
        .size = sizeof(p),
        .flags = (readonly ? XENO_CONNECT_READONLY : 0) |
                 (ctx->insecure ? XENO_CONNECT_INSECURE : 0),
        .fingerprint = ctx->fingerprint,
        .token_file = ctx->token_file,
    };

    xeno_close(ctx->conn);
    ctx->conn = NULL;
    return xeno_connect_with(ctx->uri, &p, &ctx->conn);
}

xeno_conn *xm_conn(struct xm_ctx *ctx)
{
    int rc;

    if (ctx->conn)
        return ctx->conn;
    rc = connect_once(ctx, ctx->readonly);
    if (rc != XENO_OK && ctx->conn && want_ro_fallback(ctx))
        rc = connect_once(ctx, true);
    if (rc == XENO_ERR_TLS_UNKNOWN && confirm_server_key(ctx))
        rc = connect_once(ctx, ctx->readonly);
    if (rc != XENO_OK) {
        xm_lib_error(ctx);
        xeno_close(ctx->conn);
        ctx->conn = NULL;
        return NULL;
    }
    return ctx->conn;
}

xeno_domain *xm_lookup(struct xm_ctx *ctx, const char *name)
{
    if (!xm_conn(ctx))
        return NULL;
    xeno_domain *d;
    if (xeno_domain_lookup(ctx->conn, name, &d) != XENO_OK) {
        if (xeno_last_error(ctx->conn) == XENO_ERR_NO_DOMAIN ||
            xeno_last_error(ctx->conn) == XENO_ERR_INVALID_ARG) {
            char nm[256];
            xm_sanitize(nm, sizeof(nm), name);
            xm_error("Domain '%s' does not exist.", nm);
        } else {
            xm_lib_error(ctx);
        }
        return NULL;
    }
    return d;
}

xeno_domain *xm_lookup_guest(struct xm_ctx *ctx, const char *name)
{
    xeno_domain *d = xm_lookup(ctx, name);
    if (d && xeno_domain_get_id(d) == 0) {
        xm_error("Domain-0 cannot be modified.");
        xeno_domain_free(d);
        return NULL;
    }
    return d;
}

static int unknown_command(const char *name);

int cmd_help(struct xm_ctx *ctx, const struct xm_cmd *cmd, int argc, char **argv)
{
    if (xm_operands(cmd, &argc, &argv, 0, 1))
        return 1;
    if (argc == 1) {
        const struct xm_cmd *c = xm_find_cmd(argv[0]);
        if (!c)
            return unknown_command(argv[0]);
        xm_print_usage(stdout, c);
        return 0;
    }
    print_main_usage(stdout);
    return 0;
}

/* "Error: Unknown command 'NAME'." and the main usage; returns 1. */
static int unknown_command(const char *name)
{
    char nm[128];

    xm_sanitize(nm, sizeof(nm), name);
    xm_error("Unknown command '%s'.", nm);
    fputc('\n', stderr);
    print_main_usage(stderr);
    return 1;
}

/* xm's own options, before the subcommand; -1 after printing an error
 * (exit 1), 1 after --help (exit 0), else 0 with optind at the
 * subcommand. */
static int parse_global_options(int argc, char **argv, struct xm_ctx *ctx)
{
    enum { OPT_CONNECT = 256, OPT_FINGERPRINT, OPT_TOKEN_FILE, OPT_INSECURE, OPT_TOKEN };
    static const struct option opts[] = {
        { "connect", required_argument, NULL, OPT_CONNECT },
        { "readonly", no_argument, NULL, 'r' },
        { "fingerprint", required_argument, NULL, OPT_FINGERPRINT },
        { "token-file", required_argument, NULL, OPT_TOKEN_FILE },
        { "insecure", no_argument, NULL, OPT_INSECURE },
        { "token", required_argument, NULL, OPT_TOKEN },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    char bad[128];
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, "+:hr", opts, NULL)) != -1) {
        switch (c) {
        case OPT_CONNECT:
            ctx->uri = optarg;
            break;
        case 'r':
            ctx->readonly = true;
            break;
        case OPT_FINGERPRINT:
            ctx->fingerprint = optarg;
            break;
        case OPT_TOKEN_FILE:
            ctx->token_file = optarg;
            break;
        case OPT_INSECURE:
            ctx->insecure = true;
            break;
        case OPT_TOKEN:
            /* A token in argv shows in every process list. */
            xm_error("--token is not accepted: a token on the command line is visible to "
                     "every user (ps); set XENO_TOKEN or use --token-file FILE");
            return -1;
        case 'h':
            print_main_usage(stdout);
            return 1;
        default:
            bad_option(bad, sizeof(bad), argv);
            xm_error(c == ':' ? "Option '%s' requires an argument." : "Unknown option '%s'.", bad);
            fputc('\n', stderr);
            print_main_usage(stderr);
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct xm_ctx ctx = { 0 };
    int r = parse_global_options(argc, argv, &ctx);

    if (r)
        return r < 0 ? 1 : 0;
    if (optind >= argc) {
        print_main_usage(stderr);
        return 1;
    }
    const struct xm_cmd *cmd = xm_find_cmd(argv[optind]);
    if (!cmd)
        return unknown_command(argv[optind]);
    /* stdout may be a pipe to `head`, the console socket may close:
     * report write errors instead of dying of SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    int first = optind;
    optind = 0;     /* the subcommand's getopt starts over on its own argv */
    int rc = cmd->fn(&ctx, cmd, argc - first, argv + first);
    xeno_close(ctx.conn);
    if (fflush(stdout) != 0 && rc == 0)
        rc = 1;
    return rc;
}
