/* xm's resource commands: mem-set, mem-max, vcpu-set. */
#include <stdio.h>

#include "cmds.h"

static int mem_cmd(struct xm_ctx *ctx, const struct xm_cmd *cmd, int argc, char **argv, bool max)
{
    uint64_t mib;
    if (xm_operands(cmd, &argc, &argv, 2, 2))
        return 1;
    if (xm_parse_mem_mib(argv[1], &mib) < 0)
        return xm_usage_error(cmd, "Invalid memory size '%s'.", argv[1]);
    xeno_domain *d = xm_lookup_guest(ctx, argv[0]);
    if (!d)
        return 1;
    int rc = max ? xeno_domain_set_max_memory(d, mib) : xeno_domain_set_memory(d, mib);
    xeno_domain_free(d);
    return rc == XENO_OK ? 0 : xm_lib_error(ctx);
}

int cmd_mem_set(struct xm_ctx *ctx, const struct xm_cmd *cmd, int argc, char **argv)
{
    return mem_cmd(ctx, cmd, argc, argv, false);
}

int cmd_mem_max(struct xm_ctx *ctx, const struct xm_cmd *cmd, int argc, char **argv)
{
    return mem_cmd(ctx, cmd, argc, argv, true);
}

int cmd_vcpu_set(struct xm_ctx *ctx, const struct xm_cmd *cmd, int argc, char **argv)
{
    unsigned long n;
    if (xm_operands(cmd, &argc, &argv, 2, 2))
        return 1;
    if (xm_parse_uint(argv[1], 1, 4096, &n) < 0)
        return xm_usage_error(cmd, "Invalid number of vCPUs '%s'.", argv[1]);
    xeno_domain *d = xm_lookup_guest(ctx, argv[0]);
    if (!d)
        return 1;
    int rc = xeno_domain_set_vcpus(d, (unsigned)n);
    xeno_domain_free(d);
    return rc == XENO_OK ? 0 : xm_lib_error(ctx);
}
