/* xm top: per-domain CPU% and memory, refreshed like xentop.
 *   -b        batch: plain text, one table per refresh (for scripts, tests)
 *   -i N      stop after N refreshes
 *   -d SECS   seconds between refreshes (default 3)
 * Interactive mode redraws the screen and quits on 'q'. CPU% is the CPU
 * time a domain used since the previous refresh over the wall time elapsed
 * (100% = one host CPU busy, as in xentop). */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cmds.h"
#include "common/util.h"

struct sample {
    char *name;
    double cpu_time;
};

static double now_s(void)
{
    return (double)clock_ns() / NS_PER_SEC;
}

static double prev_cpu(struct sample *s, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s[i].name, name) == 0)
            return s[i].cpu_time;
    return -1;
}

static void free_samples(struct sample *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(s[i].name);
    free(s);
}

/* Sleep up to secs; returns true if the user pressed 'q'. */
static bool wait_or_quit(double secs, bool interactive)
{
    int ms = (int)(secs * 1000);
    if (!interactive) {
        struct timespec ts = ns_to_timespec((uint64_t)ms * NS_PER_MS);
        nanosleep(&ts, NULL);
        return false;
    }
    double end = now_s() + secs;
    for (;;) {
        int left = (int)((end - now_s()) * 1000);
        if (left <= 0)
            return false;
        struct pollfd p = { STDIN_FILENO, POLLIN, 0 };
        if (poll(&p, 1, left) > 0) {
            char c;
            if (read(STDIN_FILENO, &c, 1) <= 0 || c == 'q' || c == 'Q' || c == 3)
                return true;
        }
    }
}

int cmd_top(struct xm_ctx *ctx, const struct xm_cmd *cmd, int argc, char **argv)
{
    static const struct option opts[] = {
        { "batch", no_argument, NULL, 'b' },
        { NULL, 0, NULL, 0 },
    };
    bool batch = false;
    unsigned long iterations = 0, delay_ms = 3000;
    int c;
    while ((c = xm_getopt(cmd, argc, argv, "bi:d:", opts)) != -1) {
        char *end;
        double d;
        switch (c) {
        case 'b':
            batch = true;
            break;
        case 'i':
            if (xm_parse_uint(optarg, 1, 1000000, &iterations) < 0)
                return xm_usage_error(cmd, "Invalid iteration count '%s'.", optarg);
            break;
        case 'd':
            d = strtod(optarg, &end);
            if (end == optarg || *end || !(d >= 0.1 && d <= 3600))
                return xm_usage_error(cmd, "Invalid delay '%s'.", optarg);
            delay_ms = (unsigned long)(d * 1000);
            break;
        default:
            return 1;
        }
    }
    if (xm_check_operands(cmd, argc - optind, 0, 0))
        return 1;
    if (!xm_conn(ctx))
        return 1;
    bool interactive = !batch && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
    struct termios saved, raw;
    if (interactive && tcgetattr(STDIN_FILENO, &saved) == 0) {
        raw = saved;
        raw.c_lflag &= ~(ICANON | ECHO);
        tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    } else {
        interactive = false;
    }

    struct sample *prev = NULL;
    size_t nprev = 0;
    double prev_t = 0;
    int ret = 0;
    for (unsigned long it = 0; iterations == 0 || it < iterations; it++) {
        if (it > 0 && wait_or_quit(delay_ms / 1000.0, interactive))
            break;
        xeno_domain **doms;
        size_t n;
        xeno_host_info h;
        if (xeno_domain_list(ctx->conn, &doms, &n) != XENO_OK ||
            xeno_host_get_info(ctx->conn, &h) != XENO_OK) {
            ret = xm_lib_error(ctx);
            break;
        }
        double t = now_s();
        struct sample *cur = calloc(n ? n : 1, sizeof(*cur));
        if (!cur) {
            xeno_domain_list_free(doms, n);
            ret = xm_error("out of memory");
            break;
        }
        if (interactive) {
            time_t wall = time(NULL);
            char ts[16];
            strftime(ts, sizeof(ts), "%H:%M:%S", localtime(&wall));
            unsigned running = 0, paused = 0, other = 0;
            for (size_t k = 0; k < n; k++) {
                xeno_domain_info i;
                xeno_domain_get_info(doms[k], &i);
                if (i.state == XENO_STATE_RUNNING || i.state == XENO_STATE_BLOCKED)
                    running++;
                else if (i.state == XENO_STATE_PAUSED)
                    paused++;
                else
                    other++;
            }
            printf("\033[H\033[2J");
            printf("xm top - %s   Xeno %s\n", ts, h.xend_version);
            printf("%zu domains: %u running, %u paused, %u other\n", n, running, paused, other);
            printf("Mem: %lluk total, %lluk free    CPUs: %u\n\n",
                   (unsigned long long)h.total_memory_mib * 1024,
                   (unsigned long long)h.free_memory_mib * 1024, h.nr_cpus);
        }
        char line[512];
        xm_top_header(line, sizeof(line));
        puts(line);
        for (size_t k = 0; k < n; k++) {
            xeno_domain_info i;
            xeno_domain_get_info(doms[k], &i);
            const char *name = xeno_domain_get_name(doms[k]);
            double pc = prev_cpu(prev, nprev, name), pct = 0;
            if (pc >= 0 && t > prev_t && i.cpu_time_s >= pc)
                pct = 100.0 * (i.cpu_time_s - pc) / (t - prev_t);
            cur[k].name = strdup(name);
            cur[k].cpu_time = i.cpu_time_s;
            if (!cur[k].name)
                cur[k].name = strdup("");
            xm_top_row(line, sizeof(line), name, &i, pct, h.total_memory_mib);
            puts(line);
        }
        if (interactive)
            printf("\nPress q to quit.\n");
        fflush(stdout);
        xeno_domain_list_free(doms, n);
        free_samples(prev, nprev);
        prev = cur;
        nprev = n;
        prev_t = t;
    }
    free_samples(prev, nprev);
    if (interactive)
        tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    return ret;
}
