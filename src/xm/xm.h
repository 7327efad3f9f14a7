/* xm: the command-line client of xend (Xen's xm, on libxeno). */
#ifndef XENO_XM_H
#define XENO_XM_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "xeno/xeno.h"

struct xm_ctx {
    const char *uri;         /* --connect URI, or NULL (XENO_URI / default) */
    xeno_conn *conn;         /* opened on first use */
    bool readonly;           /* -r: the read-only socket */
    bool insecure;           /* --insecure: http:// allowed */
    const char *fingerprint; /* --fingerprint: xend's TLS key */
    const char *token_file;  /* --token-file */
};

struct xm_cmd {
    const char *name;
    int (*fn)(struct xm_ctx *ctx, const struct xm_cmd *cmd, int argc, char **argv);
    const char *args;        /* "[-l] [Domain...]" */
    const char *summary;     /* one line for `xm help` */
    const char *options;     /* option lines for `xm help CMD`, or NULL */
};

/* main.c */
/* The next option of a subcommand's arguments (argv[0] is its name), the
 * one way xm parses options: getopt_long with shortopts and longopts
 * (either may be NULL), options before the operands only ("--" ends them).
 * Returns the option's value, -1 after the last one (optind then indexes
 * the first operand), or '?' after printing "Error: ..." and the usage
 * for an unknown option or a missing argument (the command returns 1).
 * main resets getopt before it runs the subcommand. */
int xm_getopt(const struct xm_cmd *cmd, int argc, char **argv, const char *shortopts,
              const struct option *longopts);
/* The operands left after the options: between min and max (max < 0: no
 * limit), else the usage error naming the command. Returns 0 or 1 (the
 * command's exit status). */
int xm_check_operands(const struct xm_cmd *cmd, int n, int min, int max);
/* For a subcommand without options: none given ("--" is skipped), then
 * between min and max operands; *argc and *argv become the operands.
 * Returns 0 or 1 after the usage error. */
int xm_operands(const struct xm_cmd *cmd, int *argc, char ***argv, int min, int max);
/* Print "Error: MSG" and the command's usage on stderr; returns 1. */
int xm_usage_error(const struct xm_cmd *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Print "Error: MSG" on stderr; returns 1. */
int xm_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The connection, opened now if needed; NULL after printing the error. */
xeno_conn *xm_conn(struct xm_ctx *ctx);
/* Print the last libxeno error of the connection; returns 1. */
int xm_lib_error(struct xm_ctx *ctx);
/* Look up DOM (name, ID or UUID); NULL after printing the error. */
xeno_domain *xm_lookup(struct xm_ctx *ctx, const char *dom);
/* Like xm_lookup, but refuses Domain-0 (for every modifying command). */
xeno_domain *xm_lookup_guest(struct xm_ctx *ctx, const char *dom);

/* format.c: pure layout helpers (unit-tested byte for byte). */
void xm_state_string(xeno_domain_state s, char out[7]);
int xm_list_header(char *buf, size_t n);
int xm_list_row(char *buf, size_t n, const char *name, const xeno_domain_info *info);
int xm_uptime_string(char *buf, size_t n, double seconds);
int xm_uptime_header(char *buf, size_t n);
int xm_uptime_row(char *buf, size_t n, const char *name, int id, double seconds);
int xm_vcpu_header(char *buf, size_t n);
int xm_vcpu_row(char *buf, size_t n, const char *name, const xeno_domain_info *info,
                unsigned vcpu);
int xm_top_header(char *buf, size_t n);
int xm_top_row(char *buf, size_t n, const char *name, const xeno_domain_info *info,
               double cpu_pct, uint64_t host_mem_mib);
/* A printable copy of a name from xend (control characters become '?'). */
void xm_sanitize(char *dst, size_t n, const char *src);
/* "512", "512M", "1G", "524288k" -> MiB. Returns 0 or -1. */
int xm_parse_mem_mib(const char *s, uint64_t *mib);
/* "HOST", "HOST:PORT", "[V6]:PORT" or a bare IPv6 address: the host into
 * host (n bytes) and the port (0: none given). Returns 0 or -1. */
int xm_parse_host_port(const char *s, char *host, size_t n, unsigned long *port);
/* One progress report of a save, restore or migration: a bar (for a
 * terminal, drawn over itself) or a plain line. */
int xm_progress_line(char *buf, size_t n, const char *what, const xeno_progress *p, bool bar);
/* A decimal integer in [min, max]. Returns 0 or -1. */
int xm_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out);

#endif
