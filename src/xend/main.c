/* xend: the Xeno management daemon.
 *
 *   xend [OPTIONS] start|stop|restart|status
 *
 * `start` daemonizes (unless --foreground) and returns once the API socket
 * answers; the pidfile (STATE_DIR/xend.pid) is held with an flock while
 * xend runs, so `status` is right even after a kill -9. Stopping xend leaves
 * running domains running; the next xend re-attaches to them. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <libgen.h>
#include <netdb.h>
#include <netinet/in.h>
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

#include "auth.h"
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
        "Usage: xend [OPTIONS] start|stop|restart|status|fingerprint\n"
        "The Xeno management daemon: supervises one xeno-vmm per running domain\n"
        "and serves the REST API used by xm and libxeno.\n"
        "\n"
        "  -f, --foreground      do not daemonize; log to stderr\n"
        "  --state-dir DIR       state directory (default /var/lib/xeno)\n"
        "  --socket PATH         API socket, full access (default /run/xeno/xend.sock,\n"
        "                        mode 0660, group xeno or xend-unix-group)\n"
        "  --socket-ro PATH      read-only API socket, mode 0666 (default: xend-ro.sock\n"
        "                        next to the API socket; 'none')\n"
        "  --listen tcp://H:P    also serve HTTPS on TCP (https://H:P is the same): a\n"
        "                        self-signed certificate is made in STATE_DIR on first\n"
        "                        start; bearer tokens in STATE_DIR/token and tokens\n"
        "  --listen http://H:P   plain HTTP on TCP: refused unless --insecure-http\n"
        "  --insecure-http       allow --listen http://, tokens and all in clear text\n"
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
        "status exits 0 when xend runs, 3 when it is stopped; fingerprint prints\n"
        "the pin of the TLS certificate (what xm --fingerprint takes).\n");
}

/* The read-only socket beside the full one: xend.sock → xend-ro.sock,
 * else PATH-ro (libvirt's libvirt-sock-ro). */
static int ro_socket_path(char *dst, size_t size, const char *full)
{
    size_t n = strlen(full);

    if (n > 5 && !strcmp(full + n - 5, ".sock"))
        return snprintf(dst, size, "%.*s-ro.sock", (int)(n - 5), full) < (int)size ? 0 : -1;
    return snprintf(dst, size, "%s-ro", full) < (int)size ? 0 : -1;
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

/* Signal the xend whose pid the pidfile names, through a pidfd taken
 * while it still holds the pidfile lock: if it exits meanwhile and its pid
 * is reused, the pidfd names the exited process and nothing is signalled. */
static int signal_xend(pid_t pid, int sig)
{
    int pidfd, r;

    if (pid <= 0) {
        errno = ESRCH;
        return -1;
    }
    if ((pidfd = sup_pidfd_open(pid)) < 0)
        return -1;
    if (running_pid() != pid) {
        close(pidfd);
        errno = ESRCH;
        return -1;
    }
    r = sup_pidfd_signal(pidfd, sig);
    close(pidfd);
    return r;
}

static int cmd_stop(void)
{
    pid_t pid = running_pid();

    if (pid == 0) {
        printf("xend is stopped\n");
        return LSB_OK;
    }
    if (signal_xend(pid, SIGTERM) < 0) {
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

/* The group given the full-access socket: xend-unix-group, else "xeno"
 * when it exists (as the libvirt sockets); -1 = leave it root's. */
static gid_t socket_group(void)
{
    const char *name = xconf.access.unix_group[0] ? xconf.access.unix_group : "xeno";
    struct group *g = getgrnam(name);

    if (!g && xconf.access.unix_group[0])
        log_warn("xend-unix-group: no group '%s'; %s stays root's", name, xconf.sock_path);
    return g ? g->gr_gid : (gid_t)-1;
}

static int bind_socket(const char *path, mode_t mode, gid_t gid)
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
        chmod(path, mode) < 0 || listen(fd, 128) < 0) {
        log_err("cannot listen on %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) < 0)
        log_warn("cannot give %s to its group: %s", path, strerror(errno));
    return fd;
}

static AuthTokens tokens;

/* STATE/token: the full token xm and scripts use (made on first start). */
static int load_token(void)
{
    char p[PATH_MAX], tok[AUTH_TOKEN_MAX + 1], err[256];
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
        if (len > AUTH_TOKEN_MAX) {
            explicit_bzero(text, len);
            free(text);
            log_err("%s: a token must be %d to %d characters", p, AUTH_TOKEN_MIN, AUTH_TOKEN_MAX);
            return -1;
        }
        memcpy(tok, text, len);
        tok[len] = '\0';
        explicit_bzero(text, len);
        free(text);
        if (auth_tokens_add(&tokens, XEND_ROLE_FULL, tok, err, sizeof(err)) < 0) {
            log_err("%s: %s", p, err);
            explicit_bzero(tok, sizeof(tok));
            return -1;
        }
        explicit_bzero(tok, sizeof(tok));
        return 0;
    }
    uint8_t rnd[32];
    if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
        log_err("getrandom: %s", strerror(errno));
        return -1;
    }
    for (int i = 0; i < 32; i++)
        sprintf(tok + 2 * i, "%02x", rnd[i]);
    char line[sizeof(tok) + 1];
    int r;

    snprintf(line, sizeof(line), "%s\n", tok);
    r = io_write_file_atomic(p, line, strlen(line), 0600);
    explicit_bzero(line, sizeof(line));
    if (r == 0)
        r = auth_tokens_add(&tokens, XEND_ROLE_FULL, tok, err, sizeof(err)) < 0 ? -ENOMEM : 0;
    explicit_bzero(tok, sizeof(tok));
    if (r < 0) {
        log_err("cannot write %s: %s", p, strerror(-r));
        return -1;
    }
    log_info("created the API token in %s", p);
    return 0;
}

/* STATE/tokens (optional): more tokens, "full TOKEN" or "ro TOKEN" per
 * line. Like ssh with its keys, xend refuses a file others may read. */
static int load_tokens_file(void)
{
    char p[PATH_MAX], err[PATH_MAX + 256];
    struct stat st;
    char *text;
    size_t len;
    int r;

    if (state_path(p, sizeof(p), "tokens") < 0)
        return -1;
    if (stat(p, &st) < 0)
        return errno == ENOENT ? 0 : (log_err("cannot read %s: %s", p, strerror(errno)), -1);
    if (st.st_mode & 077) {
        log_err("%s: mode %04o lets other users read the tokens (chmod 600 %s)", p,
                (unsigned)(st.st_mode & 07777), p);
        return -1;
    }
    if (!(text = read_file(p, &len))) {
        log_err("cannot read %s: %s", p, strerror(errno));
        return -1;
    }
    r = auth_tokens_parse(&tokens, p, text, len, err, sizeof(err));
    explicit_bzero(text, len);
    free(text);
    if (r < 0)
        log_err("%s", err);
    return r;
}

/* The TCP listener's scheme: 1 TLS (tcp://, https://), 0 plain (http://),
 * -1 neither. */
static int listen_tls(const char *uri)
{
    if (!strncmp(uri, "tcp://", 6) || !strncmp(uri, "https://", 8))
        return 1;
    return !strncmp(uri, "http://", 7) ? 0 : -1;
}

/* Does uri's host resolve to loopback addresses only? */
static bool loopback_only(const char *uri)
{
    char host[256], *colon;
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
    bool lo = true;

    snprintf(host, sizeof(host), "%s", strstr(uri, "://") + 3);
    if ((colon = strrchr(host, ':')))
        *colon = '\0';
    if (host[0] == '[') {
        memmove(host, host + 1, strlen(host));
        host[strcspn(host, "]")] = '\0';
    }
    if (getaddrinfo(host, NULL, &hints, &res))
        return false;
    for (ai = res; ai; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET) {
            const struct sockaddr_in *a = (const void *)ai->ai_addr;
            lo &= (ntohl(a->sin_addr.s_addr) >> 24) == 127;
        } else if (ai->ai_family == AF_INET6) {
            const struct sockaddr_in6 *a = (const void *)ai->ai_addr;
            lo &= IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
        } else {
            lo = false;
        }
    }
    freeaddrinfo(res);
    return lo;
}

static void tls_paths(char *cert, char *key)
{
    if (xconf.access.tls_cert[0])
        snprintf(cert, PATH_MAX, "%s", xconf.access.tls_cert);
    else if (state_path(cert, PATH_MAX, "xend-cert.pem") < 0)
        cert[0] = '\0';
    if (xconf.access.tls_key[0])
        snprintf(key, PATH_MAX, "%s", xconf.access.tls_key);
    else if (state_path(key, PATH_MAX, "xend-key.pem") < 0)
        key[0] = '\0';
}

/* The certificate's pin, from its file; -1 with a message logged. */
static int cert_fingerprint(char fp[AUTH_FP_LEN])
{
    char cert[PATH_MAX], key[PATH_MAX], err[256];
    size_t len;
    char *pem;
    int r;

    tls_paths(cert, key);
    if (!(pem = read_file(cert, &len))) {
        log_err("cannot read %s: %s", cert, strerror(errno));
        return -1;
    }
    r = tlscert_fingerprint(pem, len, fp, err, sizeof(err));
    free(pem);
    if (r < 0)
        log_err("%s: %s", cert, err);
    return r;
}

static int cmd_fingerprint(void)
{
    char fp[AUTH_FP_LEN];

    if (cert_fingerprint(fp) < 0)
        return LSB_FAIL;
    printf("%s\n", fp);
    return LSB_OK;
}

/* TCP: tokens, and for TLS the certificate (made on first start). The
 * PEM texts stay for the life of the listener. */
static int tcp_setup(HttpSetup *hs, char **cert_pem, char **key_pem)
{
    int tls = listen_tls(xconf.listen_tcp);

    *cert_pem = *key_pem = NULL;
    if (load_token() < 0 || load_tokens_file() < 0)
        return -1;
    if (!tls) {
        if (!loopback_only(xconf.listen_tcp))
            log_warn("%s: plain HTTP on an address other hosts reach: tokens and everything "
                     "else go in clear text (use tcp:// for TLS)", xconf.listen_tcp);
        hs->tls = false;
        return 0;
    }
    char cert[PATH_MAX], key[PATH_MAX], err[PATH_MAX + 256], fp[AUTH_FP_LEN];
    bool created;

    tls_paths(cert, key);
    if (tlscert_load_or_create(cert, key, cert_pem, key_pem, &created, err, sizeof(err)) < 0 ||
        tlscert_fingerprint(*cert_pem, strlen(*cert_pem), fp, err, sizeof(err)) < 0) {
        log_err("%s", err);
        return -1;
    }
    if (created)
        log_info("created a self-signed TLS certificate %s (key %s)", cert, key);
    log_info("TLS on %s: certificate %s, fingerprint %s (xm --connect https://HOST:PORT "
             "--fingerprint %s)", xconf.listen_tcp, cert, fp, fp);
    hs->tls = true;
    hs->cert_pem = *cert_pem;
    hs->key_pem = *key_pem;
    return 0;
}

static void unlink_sockets(void)
{
    unlink(xconf.sock_path);
    if (xconf.sock_ro_path[0])
        unlink(xconf.sock_ro_path);
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
    int lock_fd, sock_fd, ro_fd = -1;
    char p[PATH_MAX];
    char *cert_pem = NULL, *key_pem = NULL;
    HttpSetup hs = { .unix_ro_fd = -1, .tcp = xconf.listen_tcp, .tokens = &tokens,
                     .per_peer = (unsigned)xconf.access.max_conns_per_peer };

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
    if (xconf.listen_tcp[0] && tcp_setup(&hs, &cert_pem, &key_pem) < 0)
        goto fail;
    if (!executable(xconf.vmm))
        log_warn("the VMM %s is not executable; domains will fail to start", xconf.vmm);
    if (sup_init() < 0 || (sock_fd = bind_socket(xconf.sock_path, 0660, socket_group())) < 0)
        goto fail;
    if (xconf.sock_ro_path[0] &&
        (ro_fd = bind_socket(xconf.sock_ro_path, 0666, (gid_t)-1)) < 0) {
        unlink(xconf.sock_path);
        goto fail;
    }
    hs.unix_fd = sock_fd;
    hs.unix_ro_fd = ro_fd;
    state_load_all();
    if (state_path(p, sizeof(p), "log") == 0 &&
        logsink_rotate_start(p, xconf.vmm_log_max, xconf.vmm_log_keep) < 0)
        log_warn("cannot start the thread that rotates the VMM logs");
    /* The relocation and libvirt servers listen before the API answers:
     * a client that sees xend ready finds every socket in place. */
    {
        char err[1024];
        if (reloc_server_start(err, sizeof(err)) < 0) {
            log_err("%s", err);
            unlink_sockets();
            goto fail;
        }
        /* libvirt's remote protocol (libvirt.h) */
        if (lv_server_start(err, sizeof(err)) < 0) {
            log_err("%s", err);
            reloc_server_stop();
            unlink_sockets();
            goto fail;
        }
    }
    if (http_start(&hs) < 0) {
        lv_server_stop();
        reloc_server_stop();
        unlink_sockets();
        goto fail;
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
    log_info("xend %s listening on %s (read-only: %s; state %s, vmm %s)", XEND_VERSION,
             xconf.sock_path, xconf.sock_ro_path[0] ? xconf.sock_ro_path : "none",
             xconf.state_dir, xconf.vmm);
    tell_parent(ready_fd, 0);
    state_autostart();

    sup_run();

    lv_server_stop();
    reloc_server_stop();
    events_shutdown();
    http_stop();
    unlink_sockets();
    free(cert_pem);
    if (key_pem)
        explicit_bzero(key_pem, strlen(key_pem));
    free(key_pem);
    auth_tokens_free(&tokens);
    pidfile_path(p, sizeof(p));
    unlink(p);
    close(lock_fd);
    log_info("xend stopped");
    return LSB_OK;

fail:
    free(cert_pem);
    free(key_pem);
    auth_tokens_free(&tokens);
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
        if (st == 0 && xconf.listen_tcp[0] && listen_tls(xconf.listen_tcp) == 1) {
            char fp[AUTH_FP_LEN];
            if (cert_fingerprint(fp) == 0)
                printf("TLS certificate fingerprint: %s\n", fp);
        }
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
           OPT_LV_SOCKET, OPT_LV_COMPAT, OPT_SOCKET_RO, OPT_INSECURE };
    static const struct option opts[] = {
        { "foreground", no_argument, NULL, 'f' },
        { "state-dir", required_argument, NULL, OPT_STATE },
        { "socket", required_argument, NULL, OPT_SOCKET },
        { "socket-ro", required_argument, NULL, OPT_SOCKET_RO },
        { "insecure-http", no_argument, NULL, OPT_INSECURE },
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
    const char *config = NULL, *lv_sock = NULL, *lv_compat = NULL, *sock_ro = NULL;
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
        case OPT_SOCKET_RO: sock_ro = optarg; break;
        case OPT_INSECURE: xconf.tcp_insecure = true; break;
        case OPT_VMM: vmm = optarg; break;
        case OPT_CONFIG: config = optarg; break;
        case OPT_LV_SOCKET: lv_sock = optarg; break;
        case OPT_LV_COMPAT: lv_compat = optarg; break;
        case OPT_LISTEN:
            if (strlen(optarg) >= sizeof(xconf.listen_tcp) || listen_tls(optarg) < 0) {
                fprintf(stderr, "xend: --listen: expected tcp://HOST:PORT (TLS)\n");
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
    if (xconf.listen_tcp[0] && listen_tls(xconf.listen_tcp) == 0 && !xconf.tcp_insecure) {
        fprintf(stderr, "xend: --listen %s: plain HTTP sends the bearer token and everything "
                "else in clear text; use tcp://HOST:PORT (TLS), or add --insecure-http\n",
                xconf.listen_tcp);
        return LSB_USAGE;
    }

    if (!*state || !*sock || absolute(xconf.state_dir, sizeof(xconf.state_dir), state) < 0 ||
        absolute(xconf.sock_path, sizeof(xconf.sock_path), sock) < 0) {
        fprintf(stderr, "xend: bad --state-dir or --socket path\n");
        return LSB_USAGE;
    }
    if (sock_ro && !strcmp(sock_ro, "none")) {
        xconf.sock_ro_path[0] = '\0';
    } else if (sock_ro ? (!*sock_ro ||
                          absolute(xconf.sock_ro_path, sizeof(xconf.sock_ro_path), sock_ro) < 0) :
               ro_socket_path(xconf.sock_ro_path, sizeof(xconf.sock_ro_path),
                              xconf.sock_path) < 0) {
        fprintf(stderr, "xend: bad --socket-ro path\n");
        return LSB_USAGE;
    }
    if (!strcmp(xconf.sock_ro_path, xconf.sock_path)) {
        fprintf(stderr, "xend: --socket-ro: the read-only socket must differ from --socket\n");
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
    if (!strcmp(cmd, "start") || !strcmp(cmd, "restart") || !strcmp(cmd, "fingerprint")) {
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
    if (!strcmp(cmd, "fingerprint"))
        return cmd_fingerprint();
    if (!strcmp(cmd, "restart")) {
        int r = cmd_stop();
        return r != LSB_OK ? r : cmd_start(foreground);
    }
    fprintf(stderr, "xend: unknown command '%s'\n", cmd);
    usage(stderr);
    return LSB_USAGE;
}
