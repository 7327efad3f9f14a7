/* Where logs go.
 *
 * xend's own: when xend runs as a daemon, to syslog (the journal under
 * systemd). common/log.c writes "xend: [level: ]message" lines to stderr;
 * here stderr becomes a pipe and a thread turns each line into a syslog
 * record with the matching priority. (Kept apart from the rest of xend
 * because <syslog.h> and common/log.h both define LOG_ERR and friends.)
 *
 * The VMMs': each writes its stdout and stderr straight into
 * STATE/log/NAME.log (O_APPEND; a VMM outlives a restarted xend, so no pipe
 * through xend). A thread here keeps those files in bounds: once a second
 * every log past xend-vmm-log-max-size is rotated the way logrotate's
 * copytruncate does it, NAME.log.1 .. NAME.log.N shifted, NAME.log copied
 * to NAME.log.1 and emptied; the VMM's next write lands at its start. A
 * guest that makes its VMM write more (the warnings it can trigger are
 * rate-limited, common/log.h) thus costs at most (N + 1) * max-size bytes
 * of disk plus one second's growth. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

int logsink_syslog_start(void);
int logsink_rotate_file(const char *path, long max, int keep);
int logsink_rotate_start(const char *dir, long max, int keep);

static void *sink_thread(void *arg)
{
    FILE *in = arg;
    char line[2048];

    while (fgets(line, sizeof(line), in)) {
        static const struct { const char *tag; int prio; } lv[] = {
            { "warning: ", LOG_WARNING }, { "info: ", LOG_INFO }, { "debug: ", LOG_DEBUG },
        };
        char *msg = line;
        int prio = LOG_ERR;
        size_t n = strlen(line);

        if (n && line[n - 1] == '\n')
            line[n - 1] = '\0';
        if (!strncmp(msg, "xend: ", 6))
            msg += 6;
        for (size_t i = 0; i < sizeof(lv) / sizeof(lv[0]); i++) {
            if (!strncmp(msg, lv[i].tag, strlen(lv[i].tag))) {
                prio = lv[i].prio;
                msg += strlen(lv[i].tag);
                break;
            }
        }
        syslog(prio, "%s", msg);
    }
    return NULL;
}

int logsink_syslog_start(void)
{
    int p[2];
    pthread_t t;
    FILE *in;

    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    in = fdopen(p[0], "r");
    if (!in) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    openlog("xend", LOG_PID, LOG_DAEMON);
    if (pthread_create(&t, NULL, sink_thread, in) != 0) {
        fclose(in);
        close(p[1]);
        return -1;
    }
    pthread_detach(t);
    dup2(p[1], STDERR_FILENO);   /* dup2 clears O_CLOEXEC on fd 2 */
    close(p[1]);
    setvbuf(stderr, NULL, _IOLBF, 0);
    return 0;
}

/* ---- the VMMs' logs */

#define ROTATE_CHECK_S 1

/* Copy from `from` (its first len bytes) to a new file `to`. */
static int copy_prefix(int from, const char *to, off_t len)
{
    char buf[65536];
    off_t off = 0;
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);

    if (out < 0)
        return -1;
    while (off < len) {
        size_t want = (size_t)(len - off) < sizeof(buf) ? (size_t)(len - off) : sizeof(buf);
        ssize_t n = pread(from, buf, want, off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || write(out, buf, (size_t)n) != n)
            break;
        off += n;
    }
    close(out);
    return off == len ? 0 : -1;
}

/* Rotate path if it is larger than max bytes: path.(keep-1) -> path.keep
 * ... path -> path.1 (copied), then path truncated. 1 rotated, 0 not
 * needed, -1 on an error. */
int logsink_rotate_file(const char *path, long max, int keep)
{
    char from[PATH_MAX + 16], to[PATH_MAX + 16];
    struct stat st;
    int fd, r = 1;

    if (max <= 0)
        return 0;
    fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -1;
    }
    if (st.st_size <= max) {
        close(fd);
        return 0;
    }
    for (int i = keep; i > 1; i--) {
        snprintf(from, sizeof(from), "%s.%d", path, i - 1);
        snprintf(to, sizeof(to), "%s.%d", path, i);
        if (rename(from, to) < 0 && errno != ENOENT)
            r = -1;
    }
    if (keep > 0) {
        snprintf(to, sizeof(to), "%s.1", path);
        if (copy_prefix(fd, to, st.st_size) < 0)
            r = -1;
    }
    /* what was written since the stat is lost, as with copytruncate */
    if (ftruncate(fd, 0) < 0)
        r = -1;
    close(fd);
    return r;
}

typedef struct RotateArgs {
    char dir[PATH_MAX];
    long max;
    int keep;
} RotateArgs;

static void rotate_dir(const RotateArgs *a)
{
    DIR *d = opendir(a->dir);
    struct dirent *e;

    if (!d)
        return;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        char p[PATH_MAX * 2];

        if (n < 5 || strcmp(e->d_name + n - 4, ".log"))
            continue;
        snprintf(p, sizeof(p), "%s/%s", a->dir, e->d_name);
        logsink_rotate_file(p, a->max, a->keep);
    }
    closedir(d);
}

static void *rotate_thread(void *arg)
{
    RotateArgs *a = arg;

    for (;;) {
        rotate_dir(a);
        sleep(ROTATE_CHECK_S);
    }
    return NULL;
}

/* Keep every *.log in dir within max bytes (0: no limit), keep old ones. */
int logsink_rotate_start(const char *dir, long max, int keep)
{
    static RotateArgs a;
    pthread_t t;

    if (max <= 0)
        return 0;
    snprintf(a.dir, sizeof(a.dir), "%s", dir);
    a.max = max;
    a.keep = keep;
    if (pthread_create(&t, NULL, rotate_thread, &a) != 0)
        return -1;
    pthread_detach(t);
    return 0;
}
