/* xm's read-only views: list, info, uptime, vcpu-list, domid, domname, log. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"

/* The domains named on the command line, or all of them. Returns 0 with
 * a list to free with xeno_domain_list_free, or 1 after printing an error. */
static int collect(struct xm_ctx *ctx, int argc, char **argv,
                   xeno_domain ***out, size_t *count)
{
    if (!xm_conn(ctx))
        return 1;
    if (argc == 0) {
        if (xeno_domain_list(ctx->conn, out, count) != XENO_OK)
            return xm_lib_error(ctx);
        return 0;
    }
    xeno_domain **v = calloc(argc, sizeof(*v));
    if (!v)
        return xm_error("out of memory");
    for (int i = 0; i < argc; i++) {
        v[i] = xm_lookup(ctx, argv[i]);
        if (!v[i]) {
            xeno_domain_list_free(v, i);
            return 1;
        }
    }
    *out = v;
    *count = argc;
    return 0;
}

static void print_long(const xeno_domain *d)
{
    xeno_domain_info i;
    char state[7], nm[256];
    xeno_domain_get_info(d, &i);
    xm_state_string(i.state, state);
    xm_sanitize(nm, sizeof(nm), xeno_domain_get_name(d));
    printf("(domain\n");
    if (i.id >= 0)
        printf("    (domid %d)\n", i.id);
    printf("    (name %s)\n", nm);
    xm_sanitize(nm, sizeof(nm), xeno_domain_get_uuid(d));
    printf("    (uuid %s)\n", nm);
    printf("    (state %s)\n", state);
    printf("    (memory %llu)\n", (unsigned long long)i.mem_mib);
    printf("    (maxmem %llu)\n", (unsigned long long)i.maxmem_mib);
    printf("    (vcpus %u)\n", i.vcpus);
    printf("    (cpu_time %.1f)\n", i.cpu_time_s);
    if (i.uptime_s >= 0)
        printf("    (up_time %.1f)\n", i.uptime_s);
    printf("    (managed %d)\n    (autostart %d)\n", i.managed, i.autostart);
    if (i.on_poweroff[0])
        printf("    (on_poweroff %s)\n", i.on_poweroff);
    if (i.on_reboot[0])
        printf("    (on_reboot %s)\n", i.on_reboot);
    if (i.on_crash[0])
        printf("    (on_crash %s)\n", i.on_crash);
    printf(")\n");
}

int cmd_list(struct xm_ctx *ctx, const struct xm_cmd *cmd, int argc, char **argv)
{
    static const struct option opts[] = {
        { "long", no_argument, NULL, 'l' },
        { NULL, 0, NULL, 0 },
    };
    bool lng = false;
    int c;
    while ((c = xm_getopt(cmd, argc, argv, "l", opts)) != -1) {
        switch (c) {
        case 'l': lng = true; break;
        default: return 1;
        }
    }
    xeno_domain **doms;
    size_t n;
    if (collect(ctx, argc - optind, argv + optind, &doms, &n))
        return 1;
    char line[512];
    if (!lng) {
        xm_list_header(line, sizeof(line));
        puts(line);
    }
    for (size_t k = 0; k < n; k++) {
        if (lng) {
            print_long(doms[k]);
            continue;
        }
        xeno_domain_info info;
        xeno_domain_get_info(doms[k], &info);
        xm_list_row(line, sizeof(line), xeno_domain_get_name(doms[k]), &info);
        puts(line);
    }
    xeno_domain_list_free(doms, n);
    return 0;
}

int cmd_info(struct xm_ctx *ctx, const struct xm_cmd *cmd, int argc, char **argv)
{
    if (xm_operands(cmd, &argc, &argv, 0, 0))
        return 1;
    if (!xm_conn(ctx))
        return 1;
    xeno_host_info h;
    if (xeno_host_get_info(ctx->conn, &h) != XENO_OK)
        return xm_lib_error(ctx);
    char buf[512];
#define ROW(k, ...) do { snprintf(buf, sizeof(buf), __VA_ARGS__); \
        char clean[512]; xm_sanitize(clean, sizeof(clean), buf); \
        printf("%-23s: %s\n", k, clean); } while (0)
    ROW("host", "%s", h.hostname);
    ROW("release", "%s", h.release);
    ROW("version", "%s", h.version);
    ROW("machine", "%s", h.machine);
    ROW("nr_cpus", "%u", h.nr_cpus);
    ROW("cpu_vendor", "%s", h.cpu_vendor);
    ROW("cpu_model", "%s", h.cpu_model);
    ROW("cpu_mhz", "%.0f", h.cpu_mhz);
    /* "hvm (vmx)", "none (no vmx/svm)"; an older xend sent only virt_caps */
    if (!strcmp(h.hw_virt, "none"))
        ROW("virt_caps", "%s (no vmx/svm)", h.virt_caps);
    else if (h.hw_virt[0])
        ROW("virt_caps", "%s (%s)", h.virt_caps, h.hw_virt);
    else
        ROW("virt_caps", "%s", h.virt_caps);
    ROW("total_memory", "%llu", (unsigned long long)h.total_memory_mib);
    ROW("free_memory", "%llu", (unsigned long long)h.free_memory_mib);
    ROW("kvm", "%s", h.kvm);
    ROW("engines", "%s", h.engines_detail[0] ? h.engines_detail : h.engines);
    if (h.sandbox[0])
        ROW("sandbox", "%s", h.sandbox);
    if (h.libvirt[0])
        ROW("libvirt", "%s", h.libvirt);
    ROW("xeno_version", "%s", h.xend_version);
    ROW("xend_uri", "%s", xeno_conn_get_uri(ctx->conn));
#undef ROW
    return 0;
}

static double local_uptime(void)
{
    double up = -1;
    FILE *f = fopen("/proc/uptime", "r");
    if (f) {
        if (fscanf(f, "%lf", &up) != 1)
            up = -1;
        fclose(f);
    }
    return up;
}

int cmd_uptime(struct xm_ctx *ctx, const struct xm_cmd *cmd, int argc, char **argv)
{
    if (xm_operands(cmd, &argc, &argv, 0, -1))
        return 1;
    xeno_domain **doms;
    size_t n;
    if (collect(ctx, argc, argv, &doms, &n))
        return 1;
    double host_up = -1;
    xeno_host_info h;
    if (xeno_host_get_info(ctx->conn, &h) == XENO_OK)
        host_up = h.uptime_s;
    if (host_up < 0)
        host_up = local_uptime();
    char line[512];
    xm_uptime_header(line, sizeof(line));
    puts(line);
    for (size_t k = 0; k < n; k++) {
        xeno_domain_info i;
        xeno_domain_get_info(doms[k], &i);
        double up = i.id == 0 ? host_up : i.uptime_s;
        if (i.id < 0)           /* not running: no uptime */
            continue;
        if (up < 0) {
            char nm[256];
            xm_sanitize(nm, sizeof(nm), xeno_domain_get_name(doms[k]));
            printf("%-32s %3d %s\n", nm, i.id, "-");
            continue;
        }
        xm_uptime_row(line, sizeof(line), xeno_domain_get_name(doms[k]), i.id, up);
        puts(line);
    }
    xeno_domain_list_free(doms, n);
    return 0;
}

int cmd_vcpu_list(struct xm_ctx *ctx, const struct xm_cmd *cmd, int argc, char **argv)
{
    if (xm_operands(cmd, &argc, &argv, 0, -1))
        return 1;
    xeno_domain **doms;
    size_t n;
    if (collect(ctx, argc, argv, &doms, &n))
        return 1;
    char line[512];
    xm_vcpu_header(line, sizeof(line));
    puts(line);
    for (size_t k = 0; k < n; k++) {
        xeno_domain_info i;
        xeno_domain_get_info(doms[k], &i);
        if (i.id < 0)
            continue;
        for (unsigned v = 0; v < i.vcpus; v++) {
            xm_vcpu_row(line, sizeof(line), xeno_domain_get_name(doms[k]), &i, v);
            puts(line);
        }
    }
    xeno_domain_list_free(doms, n);
    return 0;
}

int cmd_domid(struct xm_ctx *ctx, const struct xm_cmd *cmd, int argc, char **argv)
{
    if (xm_operands(cmd, &argc, &argv, 1, 1))
        return 1;
    if (!xm_conn(ctx))
        return 1;
    xeno_domain *d;
    if (xeno_domain_lookup_by_name(ctx->conn, argv[0], &d) != XENO_OK) {
        if (xeno_last_error(ctx->conn) == XENO_ERR_NO_DOMAIN ||
            xeno_last_error(ctx->conn) == XENO_ERR_INVALID_ARG) {
            char nm[256];
            xm_sanitize(nm, sizeof(nm), argv[0]);
            return xm_error("Domain '%s' does not exist.", nm);
        }
        return xm_lib_error(ctx);
    }
    int id = xeno_domain_get_id(d);
    if (id >= 0)
        printf("%d\n", id);
    else
        printf("None\n");
    xeno_domain_free(d);
    return 0;
}

int cmd_domname(struct xm_ctx *ctx, const struct xm_cmd *cmd, int argc, char **argv)
{
    unsigned long id;
    if (xm_operands(cmd, &argc, &argv, 1, 1))
        return 1;
    if (xm_parse_uint(argv[0], 0, 0x7fffffff, &id) < 0)
        return xm_usage_error(cmd, "Invalid domain id '%s'.", argv[0]);
    if (!xm_conn(ctx))
        return 1;
    xeno_domain *d;
    if (xeno_domain_lookup_by_id(ctx->conn, (int)id, &d) != XENO_OK) {
        if (xeno_last_error(ctx->conn) == XENO_ERR_NO_DOMAIN)
            return xm_error("Domain '%lu' does not exist.", id);
        return xm_lib_error(ctx);
    }
    char nm[256];
    xm_sanitize(nm, sizeof(nm), xeno_domain_get_name(d));
    printf("%s\n", nm);
    xeno_domain_free(d);
    return 0;
}

int cmd_log(struct xm_ctx *ctx, const struct xm_cmd *cmd, int argc, char **argv)
{
    if (xm_operands(cmd, &argc, &argv, 1, 1))
        return 1;
    xeno_domain *d = xm_lookup(ctx, argv[0]);
    if (!d)
        return 1;
    char *text;
    int rc = xeno_domain_get_log(d, &text);
    xeno_domain_free(d);
    if (rc != XENO_OK)
        return xm_lib_error(ctx);
    fputs(text, stdout);
    if (*text && text[strlen(text) - 1] != '\n')
        putchar('\n');
    free(text);
    return 0;
}
