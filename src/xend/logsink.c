/* When xend runs as a daemon its log goes to syslog (the journal under
 * systemd). common/log.c writes "xend: [level: ]message" lines to stderr;
 * here stderr becomes a pipe and a thread turns each line into a syslog
 * record with the matching priority. (Kept apart from the rest of xend
 * because <syslog.h> and common/log.h both define LOG_ERR and friends.) */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

int logsink_syslog_start(void);

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
