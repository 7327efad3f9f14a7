/* The xm subcommands (one group per cmd_*.c). argv[0] is the command name. */
#ifndef XENO_XM_CMDS_H
#define XENO_XM_CMDS_H

#include "xm.h"

#define XM_CMD(n) int n(struct xm_ctx *ctx, const struct xm_cmd *cmd, int argc, char **argv)

/* cmd_list.c: read-only views */
XM_CMD(cmd_list); XM_CMD(cmd_info); XM_CMD(cmd_uptime); XM_CMD(cmd_vcpu_list);
XM_CMD(cmd_domid); XM_CMD(cmd_domname); XM_CMD(cmd_log);
/* cmd_lifecycle.c */
XM_CMD(cmd_create); XM_CMD(cmd_new); XM_CMD(cmd_delete); XM_CMD(cmd_start);
XM_CMD(cmd_shutdown); XM_CMD(cmd_reboot); XM_CMD(cmd_destroy);
XM_CMD(cmd_pause); XM_CMD(cmd_unpause);
/* cmd_resources.c */
XM_CMD(cmd_mem_set); XM_CMD(cmd_mem_max); XM_CMD(cmd_vcpu_set);
/* cmd_console.c */
XM_CMD(cmd_console); XM_CMD(cmd_dmesg);
/* cmd_save.c */
XM_CMD(cmd_save); XM_CMD(cmd_restore); XM_CMD(cmd_migrate);
/* cmd_top.c */
XM_CMD(cmd_top);
/* main.c */
XM_CMD(cmd_help);

/* cmd_console.c: attach the terminal to a console socket until Ctrl-] or
 * the socket closes. Returns the exit status. */
int xm_console_attach(struct xm_ctx *ctx, xeno_domain *d);

#endif
