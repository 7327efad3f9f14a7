#include "log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static const char *log_prog = "xeno";
static enum log_level log_level = LOG_WARN;

void log_init(const char *progname, enum log_level level)
{
    log_prog = progname;
    log_level = level;
}

void log_set_level(enum log_level level) { log_level = level; }
enum log_level log_get_level(void) { return log_level; }

/* XENO_LOG_TIME=1: each line that is not an error starts with the UTC
 * time of day to the microsecond, the same clock in xend and its VMMs, to
 * line up one operation across processes (migration timings). */
static bool log_time_wanted(void)
{
    static int wanted = -1;

    if (wanted < 0) {
        const char *v = getenv("XENO_LOG_TIME");
        wanted = v && *v && *v != '0';
    }
    return wanted;
}

static void log_vmsg(enum log_level level, unsigned suppressed, const char *fmt, va_list ap)
{
    static const char *const names[] = { "error", "warning", "info", "debug" };

    /* Errors are the one-line messages a user reads: keep them plain. */
    flockfile(stderr);
    if (level != LOG_ERR && log_time_wanted()) {
        struct timespec ts;
        unsigned day;

        clock_gettime(CLOCK_REALTIME, &ts);
        day = (unsigned)(ts.tv_sec % 86400);
        fprintf(stderr, "%02u:%02u:%02u.%06ld ", day / 3600, day / 60 % 60, day % 60,
                ts.tv_nsec / 1000);
    }
    if (level == LOG_ERR)
        fprintf(stderr, "%s: ", log_prog);
    else
        fprintf(stderr, "%s: %s: ", log_prog, names[level]);
    vfprintf(stderr, fmt, ap);
    if (suppressed)
        fprintf(stderr, " (%u similar message%s suppressed)", suppressed,
                suppressed == 1 ? "" : "s");
    fputc('\n', stderr);
    funlockfile(stderr);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    va_list ap;

    if (level > log_level)
        return;
    va_start(ap, fmt);
    log_vmsg(level, 0, fmt, ap);
    va_end(ap);
}

bool log_ratelimit_pass(LogRateLimit *rl, uint64_t now_ns, unsigned *suppressed)
{
    if (now_ns - rl->window_ns >= LOG_RL_INTERVAL_NS || rl->window_ns == 0) {
        rl->window_ns = now_ns ? now_ns : 1;
        rl->printed = 0;
    }
    if (rl->printed >= LOG_RL_BURST) {
        if (rl->suppressed < UINT32_MAX)
            rl->suppressed++;
        return false;
    }
    rl->printed++;
    *suppressed = rl->suppressed;
    rl->suppressed = 0;
    return true;
}

void log_msg_ratelimited(LogRateLimit *rl, enum log_level level, const char *fmt, ...)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    struct timespec ts;
    unsigned suppressed = 0;
    bool pass;
    va_list ap;

    if (level > log_level)
        return;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    pthread_mutex_lock(&lock);
    pass = log_ratelimit_pass(rl, (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec,
                              &suppressed);
    pthread_mutex_unlock(&lock);
    if (!pass)
        return;
    va_start(ap, fmt);
    log_vmsg(level, suppressed, fmt, ap);
    va_end(ap);
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
