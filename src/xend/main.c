/* xend: the Xeno management daemon.
 *
 *   xend [OPTIONS] start|stop|restart|status
 *
 * `start` daemonizes (unless --foreground) and returns once the API socket
 * answers; the pidfile (STATE_DIR/xend.pid) is held with an flock while
 * xend runs, so `status` is right even after a kill -9. Stopping xend leaves
 * running domains running; the next xend re-attaches to them. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/io.h"
#include "common/log.h"
#include "common/util.h"
#include "libvirt.h"
#include "xend.h"

XendConf xconf;

enum { LSB_OK = 0, LSB_FAIL = 1, LSB_USAGE = 2, LSB_NOT_RUNNING = 3 };

#define PROBE_TIMEOUT_MS 2000   /* asking whether another xend listens */

static void usage(FILE *f)
{
    fprintf(f,
        "Usage: xend [OPTIONS] start|stop|restart|status\n"
        "The Xeno management daemon: supervises one xeno-vmm per running domain\n"
        "and serves the REST API used by xm and libxeno.\n"
        "\n"
        "  -f, --foreground      do not daemonize; log to stderr\n"
        "  --state-dir DIR       state directory (default /var/lib/xeno)\n"
        "  --socket PATH         API socket (default /run/xeno/xend.sock)\n"
        "  --listen tcp://H:P    also serve TCP (bearer token in STATE_DIR/token)\n"
        "  --vmm PATH            the xeno-vmm program\n"
        "  --config FILE         config file (default /etc/xeno/xend-config.sxp):\n"
        "                        the relocation server for xm migrate\n"
        "  --log-level LEVEL     error, warning, info (default) or debug\n"
        "  --libvirt-socket PATH libvirt clients' socket, xen:///system?socket=PATH\n"
        "                        (default: libvirt-sock next to the API socket; 'none')\n"
        "  --libvirt-compat PATH also where plain xen:///system looks, when free\n"
        "                        (default for the system xend: /run/libvirt/virtxend-sock)\n"
        "  -h, --help            this help\n"
        "\n"
        "status exits 0 when xend runs, 3 when it is stopped.\n");
}

static int absolute(char *dst, size_t size, const char *path)
{
    char cwd[PATH_MAX];

    if (path[0] == '/')
        return snprintf(dst, size, "%s", path) < (int)size ? 0 : -1;
    if (!getcwd(cwd, sizeof(cwd)))
        return -1;
    return snprintf(dst, size, "%s/%s", cwd, path) < (int)size ? 0 : -1;
}

static bool executable(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
}

/* The VMM next to us in the build tree (src/xend → src/vmm), next to us
 * when installed, else from PATH. */
static void find_vmm(char *out, size_t size)
{
    char self[PATH_MAX], cand[PATH_MAX + 32];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    const char *path = getenv("PATH");

    if (n > 0) {
        self[n] = '\0';
        char *dir = dirname(self);
        snprintf(cand, sizeof(cand), "%s/../vmm/xeno-vmm", dir);
        if (executable(cand) && realpath(cand, out))
            return;
        snprintf(cand, sizeof(cand), "%s/xeno-vmm", dir);
        if (executable(cand) && (size_t)snprintf(out, size, "%s", cand) < size)
            return;
    }
    while (path && *path) {
        const char *e = strchr(path, ':');
        size_t len = e ? (size_t)(e - path) : strlen(path);

        snprintf(cand, sizeof(cand), "%.*s/xeno-vmm", (int)len, path);
        if (len && executable(cand) && (size_t)snprintf(out, size, "%s", cand) < size)
            return;
        path = e ? e + 1 : NULL;
    }
    snprintf(out, size, "xeno-vmm");
}

static void pidfile_path(char *buf, size_t size)
{
    if (state_path(buf, size, "xend.pid") < 0)
        buf[0] = '\0';
}

/* pid of the running xend, 0 if none. */
static pid_t running_pid(void)
{
    char p[PATH_MAX], buf[32] = "";
    int fd;
    pid_t pid = 0;

    pidfile_path(p, sizeof(p));
    fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    if (flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK) {
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        pid = n > 0 ? (pid_t)atoi(buf) : -1;
        if (pid == 0)
            pid = -1;     /* locked but empty: starting up */
    }
    close(fd);
    return pid;
}

static int cmd_status(void)
{
    pid_t pid = running_pid();

    if (pid > 0) {
        printf("xend is running (pid %d)\n", (int)pid);
        return LSB_OK;
    }
    if (pid < 0) {
        printf("xend is running\n");
        return LSB_OK;
    }
    printf("xend is stopped\n");
    return LSB_NOT_RUNNING;
}

static int cmd_stop(void)
{
    pid_t pid = running_pid();

    if (pid == 0) {
        printf("xend is stopped\n");
        return LSB_OK;
    }
    if (pid < 0 || kill(pid, SIGTERM) < 0) {
        fprintf(stderr, "xend: cannot signal xend: %s\n", pid < 0 ? "no pid" : strerror(errno));
        return LSB_FAIL;
    }
    for (int i = 0; i < 300; i++) {     /* 30 s */
        if (running_pid() == 0) {
            printf("Stopping xend: done (domains keep running)\n");
            return LSB_OK;
        }
        usleep(100000);
    }
    fprintf(stderr, "xend: pid %d did not stop within 30 s\n", (int)pid);
    return LSB_FAIL;
}

/* Take the pidfile lock; -1 if another xend holds it. */
static int pidfile_lock(void)
{
    char p[PATH_MAX], buf[32];
    int fd, r;

    pidfile_path(p, sizeof(p));
    fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        log_err("cannot open %s: %s", p, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        pid_t pid = running_pid();
        log_err("xend is already running (pid %d)", (int)pid);
        close(fd);
        return -1;
    }
    /* Rewritten in place, not replaced: the lock is on this file. */
    snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
    r = ftruncate(fd, 0) < 0 ? -errno : io_write_all(fd, buf, strlen(buf));
    if (r < 0) {
        log_err("cannot write %s: %s", p, strerror(-r));
        close(fd);
        return -1;
    }
    return fd;   /* held open (and locked) until exit */
}

static int bind_socket(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    char dir[PATH_MAX];
    int fd;

    if (strlen(path) >= sizeof(sa.sun_path)) {
        log_err("socket path too long: %s", path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    snprintf(dir, sizeof(dir), "%s", path);
    if (mkdir(dirname(dir), 0755) < 0 && errno != EEXIST) {
        log_err("cannot create the directory of %s: %s", path, strerror(errno));
        return -1;
    }
    /* A socket file left by a dead xend: remove it, unless someone answers
     * (or is too busy to: a full backlog times out). */
    fd = io_unix_connect(path, PROBE_TIMEOUT_MS, IO_CLOEXEC);
    if (fd >= 0 || fd == -ETIMEDOUT) {
        log_err("another xend is listening on %s", path);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    unlink(path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        chmod(path, 0660) < 0 || listen(fd, 128) < 0) {
        log_err("cannot listen on %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static int load_token(void)
{
    char p[PATH_MAX];
    char *text;
    size_t len;

    if (state_path(p, sizeof(p), "token") < 0)
        return -1;
    text = read_file(p, &len);
    if (!text && errno != ENOENT) {
        log_err("cannot read %s: %s", p, strerror(errno));
        return -1;
    }
    if (text) {
        while (len && (text[len - 1] == '\n' || text[len - 1] == ' '))
            len--;
        if (len >= 16 && len < sizeof(xconf.token)) {
            memcpy(xconf.token, text, len);
            xconf.token[len] = '\0';
            free(text);
            return 0;
        }
        free(text);
        log_err("%s: the token must be 16 to 64 characters", p);
        return -1;
    }
    uint8_t rnd[32];
    if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
        log_err("getrandom: %s", strerror(errno));
        return -1;
    }
    for (int i = 0; i < 32; i++)
        sprintf(xconf.token + 2 * i, "%02x", rnd[i]);
    char line[sizeof(xconf.token) + 1];
    int r;

    snprintf(line, sizeof(line), "%s\n", xconf.token);
    r = io_write_file_atomic(p, line, strlen(line), 0600);
    explicit_bzero(line, sizeof(line));
    if (r < 0) {
        log_err("cannot write %s: %s", p, strerror(-r));
        return -1;
    }
    log_info("created the API token in %s", p);
    return 0;
}

static void tell_parent(int ready_fd, char status)
{
    if (ready_fd >= 0) {
        io_write_all(ready_fd, &status, 1);   /* fails only if the parent is gone */
        close(ready_fd);
    }
}

/* The daemon proper. ready_fd (daemon mode) hears one byte once the API
 * answers (0) or startup failed (1). */
static int run(bool foreground, int ready_fd)
{
    sigset_t set;
    int lock_fd, sock_fd;
    char p[PATH_MAX];

    /* Signals go to the supervision loop's signalfd: block them before any
     * thread exists so that every thread inherits the mask. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (state_init() < 0 || (lock_fd = pidfile_lock()) < 0)
        goto fail;
    if (xconf.listen_tcp[0] && load_token() < 0)
        goto fail;
    if (!executable(xconf.vmm))
        log_warn("the VMM %s is not executable; domains will fail to start", xconf.vmm);
    if (sup_init() < 0 || (sock_fd = bind_socket(xconf.sock_path)) < 0)
        goto fail;
    state_load_all();
    if (http_start(sock_fd, xconf.listen_tcp) < 0) {
        unlink(xconf.sock_path);
        goto fail;
    }
    {
        char err[1024];
        if (reloc_server_start(err, sizeof(err)) < 0) {
            log_err("%s", err);
            http_stop();
            unlink(xconf.sock_path);
            goto fail;
        }
        /* libvirt's remote protocol (libvirt.h) */
        if (lv_server_start(err, sizeof(err)) < 0) {
            log_err("%s", err);
            reloc_server_stop();
            http_stop();
            unlink(xconf.sock_path);
            goto fail;
        }
    }
    if (!foreground) {
        int nul = open("/dev/null", O_RDWR);
        if (nul >= 0) {
            dup2(nul, 0);
            dup2(nul, 1);
            close(nul);
        }
        if (logsink_syslog_start() < 0) {
            if (nul >= 0)
                dup2(0, 2);
        }
    }
    log_info("xend %s listening on %s (state %s, vmm %s)", XEND_VERSION, xconf.sock_path,
             xconf.state_dir, xconf.vmm);
    tell_parent(ready_fd, 0);
    state_autostart();

    sup_run();

    lv_server_stop();
    reloc_server_stop();
    events_shutdown();
    http_stop();
    unlink(xconf.sock_path);
    pidfile_path(p, sizeof(p));
    unlink(p);
    close(lock_fd);
    log_info("xend stopped");
    return LSB_OK;

fail:
    tell_parent(ready_fd, 1);
    return LSB_FAIL;
}

static int cmd_start(bool foreground)
{
    int pipefd[2];
    pid_t pid;
    char st = 1;

    if (running_pid() != 0) {
        printf("xend is already running (pid %d)\n", (int)running_pid());
        return LSB_OK;
    }
    if (foreground)
        return run(true, -1);

    if (pipe2(pipefd, O_CLOEXEC) < 0)
        die("pipe: %s", strerror(errno));
    pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid > 0) {
        close(pipefd[1]);
        if (read(pipefd[0], &st, 1) != 1)
            st = 1;
        if (st == 0)
            printf("Starting xend: done\n");
        return st == 0 ? LSB_OK : LSB_FAIL;
    }
    /* Child: new session, then a grandchild that can never reacquire a
     * terminal. Errors before readiness still reach the user's stderr. */
    close(pipefd[0]);
    setsid();
    pid = fork();
    if (pid < 0)
        _exit(1);
    if (pid > 0)
        _exit(0);
    umask(022);
    if (chdir("/") < 0)
        _exit(1);
    exit(run(false, pipefd[1]));
}

static int parse_level(const char *s, enum log_level *out)
{
    static const char *const names[] = { "error", "warning", "info", "debug" };

    for (int i = 0; i < 4; i++) {
        if (!strcmp(s, names[i])) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

int main(int argc, char **argv)
{
    enum { OPT_STATE = 256, OPT_SOCKET, OPT_VMM, OPT_LISTEN, OPT_LOGLEVEL, OPT_CONFIG,
           OPT_LV_SOCKET, OPT_LV_COMPAT };
    static const struct option opts[] = {
        { "foreground", no_argument, NULL, 'f' },
        { "state-dir", required_argument, NULL, OPT_STATE },
        { "socket", required_argument, NULL, OPT_SOCKET },
        { "vmm", required_argument, NULL, OPT_VMM },
        { "listen", required_argument, NULL, OPT_LISTEN },
        { "log-level", required_argument, NULL, OPT_LOGLEVEL },
        { "config", required_argument, NULL, OPT_CONFIG },
        { "libvirt-socket", required_argument, NULL, OPT_LV_SOCKET },
        { "libvirt-compat", required_argument, NULL, OPT_LV_COMPAT },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *state = "/var/lib/xeno", *sock = "/run/xeno/xend.sock", *vmm = NULL;
    const char *config = NULL, *lv_sock = NULL, *lv_compat = NULL;
    const char *cmd;
    enum log_level level = LOG_INFO;
    bool foreground = false;
    int c;

    log_init("xend", LOG_INFO);
    while ((c = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
        switch (c) {
        case 'f': foreground = true; break;
        case OPT_STATE: state = optarg; break;
        case OPT_SOCKET: sock = optarg; break;
        case OPT_VMM: vmm = optarg; break;
        case OPT_CONFIG: config = optarg; break;
        case OPT_LV_SOCKET: lv_sock = optarg; break;
        case OPT_LV_COMPAT: lv_compat = optarg; break;
        case OPT_LISTEN:
            if (strlen(optarg) >= sizeof(xconf.listen_tcp) || strncmp(optarg, "tcp://", 6)) {
                fprintf(stderr, "xend: --listen: expected tcp://HOST:PORT\n");
                return LSB_USAGE;
            }
            strcpy(xconf.listen_tcp, optarg);
            break;
        case OPT_LOGLEVEL:
            if (parse_level(optarg, &level) < 0) {
                fprintf(stderr, "xend: --log-level: expected error, warning, info or debug\n");
                return LSB_USAGE;
            }
            break;
        case 'h': usage(stdout); return LSB_OK;
        default: usage(stderr); return LSB_USAGE;
        }
    }
    if (optind + 1 < argc) {
        usage(stderr);
        return LSB_USAGE;
    }
    cmd = optind < argc ? argv[optind] : "start";
    log_set_level(level);

    if (!*state || !*sock || absolute(xconf.state_dir, sizeof(xconf.state_dir), state) < 0 ||
        absolute(xconf.sock_path, sizeof(xconf.sock_path), sock) < 0) {
        fprintf(stderr, "xend: bad --state-dir or --socket path\n");
        return LSB_USAGE;
    }
    {
        char err[256];
        if (lv_configure(lv_sock, lv_compat, xconf.sock_path, err, sizeof(err)) < 0) {
            fprintf(stderr, "xend: %s\n", err);
            return LSB_USAGE;
        }
    }
    if (vmm) {
        if (strchr(vmm, '/') ? absolute(xconf.vmm, sizeof(xconf.vmm), vmm) < 0 :
            (size_t)snprintf(xconf.vmm, sizeof(xconf.vmm), "%s", vmm) >= sizeof(xconf.vmm)) {
            fprintf(stderr, "xend: --vmm: path too long\n");
            return LSB_USAGE;
        }
    } else {
        find_vmm(xconf.vmm, sizeof(xconf.vmm));
    }

    conf_defaults(&xconf);
    if (config ? absolute(xconf.config_file, sizeof(xconf.config_file), config) < 0 :
        (size_t)snprintf(xconf.config_file, sizeof(xconf.config_file), "%s",
                         XEND_DEFAULT_CONFIG) >= sizeof(xconf.config_file)) {
        fprintf(stderr, "xend: --config: path too long\n");
        return LSB_USAGE;
    }
    if (!strcmp(cmd, "start") || !strcmp(cmd, "restart")) {
        char err[1024];
        /* The default file may be absent; a file named with --config not. */
        if (conf_load(&xconf, xconf.config_file, config == NULL, err, sizeof(err)) < 0) {
            fprintf(stderr, "xend: %s\n", err);
            return LSB_FAIL;
        }
    }

    if (!strcmp(cmd, "start"))
        return cmd_start(foreground);
    if (!strcmp(cmd, "stop"))
        return cmd_stop();
    if (!strcmp(cmd, "status"))
        return cmd_status();
    if (!strcmp(cmd, "restart")) {
        int r = cmd_stop();
        return r != LSB_OK ? r : cmd_start(foreground);
    }
    fprintf(stderr, "xend: unknown command '%s'\n", cmd);
    usage(stderr);
    return LSB_USAGE;
}
