/* Logging and error reporting shared by every Xeno program.
 *
 * Discipline (after libvirt): a function that fails reports exactly one
 * line saying what went wrong, then returns an error code; callers do not
 * report the same failure again. */
#ifndef XENO_LOG_H
#define XENO_LOG_H

#include <stdarg.h>
#include <stdbool.h>

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

/* Print "progname: message" and exit(1). For start-up errors only. */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
