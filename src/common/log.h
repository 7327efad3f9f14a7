/* Logging and error reporting shared by every Xeno program.
 *
 * Discipline (after libvirt): a function that fails reports exactly one
 * line saying what went wrong, then returns an error code; callers do not
 * report the same failure again. */
#ifndef XENO_LOG_H
#define XENO_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_ERR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Program name used as the message prefix ("xeno-vmm: ..."). */
void log_init(const char *progname, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_err(...)   log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* Rate-limited messages, for whatever a guest can trigger (a device reset
 * in a loop, bad descriptors): at most LOG_RL_BURST messages per call site
 * per LOG_RL_INTERVAL_NS; the first message after a quiet spell says how
 * many were suppressed ("... (N similar messages suppressed)"). Each call
 * site keeps its own state (a static in the macro); thread-safe. */
#define LOG_RL_BURST       5
#define LOG_RL_INTERVAL_NS 1000000000ull
typedef struct LogRateLimit {
    uint64_t window_ns;    /* start of the current interval */
    unsigned printed;      /* messages printed in it */
    unsigned suppressed;   /* dropped since the last one printed */
} LogRateLimit;

/* The decision, apart for tests: true if a message at now_ns is printed;
 * then *suppressed is how many were dropped before it (and is reset). */
bool log_ratelimit_pass(LogRateLimit *rl, uint64_t now_ns, unsigned *suppressed);
void log_msg_ratelimited(LogRateLimit *rl, enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_rl(level, ...) do {                                 \
        static LogRateLimit log_rl_site_;                        \
        log_msg_ratelimited(&log_rl_site_, level, __VA_ARGS__);  \
    } while (0)
#define log_warn_rl(...)  log_rl(LOG_WARN, __VA_ARGS__)
#define log_debug_rl(...) log_rl(LOG_DEBUG, __VA_ARGS__)

/* Print "progname: message" and exit(1). For start-up errors only. */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
