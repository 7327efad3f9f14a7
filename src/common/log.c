#include "log.h"

#include <stdio.h>
#include <stdlib.h>

static const char *log_prog = "xeno";
static enum log_level log_level = LOG_WARN;

void log_init(const char *progname, enum log_level level)
{
    log_prog = progname;
    log_level = level;
}

void log_set_level(enum log_level level) { log_level = level; }
enum log_level log_get_level(void) { return log_level; }

void log_msg(enum log_level level, const char *fmt, ...)
{
    static const char *const names[] = { "error", "warning", "info", "debug" };
    va_list ap;

    if (level > log_level)
        return;
    /* Errors are the one-line messages a user reads: keep them plain. */
    if (level == LOG_ERR)
        fprintf(stderr, "%s: ", log_prog);
    else
        fprintf(stderr, "%s: %s: ", log_prog, names[level]);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void die(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", log_prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}
