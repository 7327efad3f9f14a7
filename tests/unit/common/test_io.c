/* src/common/io.c: write-all over pipes and sockets (short writes, EAGAIN),
 * atomic durable file replacement and its failure paths, UNIX socket
 * connection with a timeout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/io.h"
#include "common/util.h"

static char dir[64];

static int make_dir(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/xeno-io-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    char cmd[128];

    (void)state;
    chmod(dir, 0700);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void path_in_dir(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", dir, name);
}

/* ---- write-all ---- */

typedef struct Reader {
    int fd;
    size_t want;
    unsigned delay_us;          /* pause before each read: forces EAGAIN */
    unsigned char *got;
    size_t len;
} Reader;

static void *reader_thread(void *arg)
{
    Reader *r = arg;

    while (r->len < r->want) {
        ssize_t n;

        if (r->delay_us)
            usleep(r->delay_us);
        n = read(r->fd, r->got + r->len, MIN(r->want - r->len, (size_t)1500));
        if (n <= 0)
            break;
        r->len += (size_t)n;
    }
    return NULL;
}

static unsigned char *pattern(size_t n, unsigned seed)
{
    unsigned char *p = malloc(n);

    assert_non_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(i * 131 + seed + i / 251);
    return p;
}

/* A non-blocking pipe smaller than the data and a slow reader: the writer
 * sees short writes and EAGAIN, and must still deliver every byte. */
static void test_write_all_nonblocking_pipe(void **state)
{
    const size_t n = 1u << 20;
    unsigned char *data = pattern(n, 7);
    int p[2];
    pthread_t t;
    Reader r = { .want = n, .delay_us = 50 };

    (void)state;
    assert_int_equal(pipe2(p, O_NONBLOCK), 0);
    fcntl(p[1], F_SETPIPE_SZ, 4096);
    r.fd = p[0];
    fcntl(p[0], F_SETFL, 0);            /* the reader blocks */
    r.got = malloc(n);
    assert_non_null(r.got);
    assert_int_equal(pthread_create(&t, NULL, reader_thread, &r), 0);
    assert_int_equal(io_write_all(p[1], data, n), 0);
    pthread_join(t, NULL);
    assert_int_equal(r.len, n);
    assert_memory_equal(r.got, data, n);
    assert_int_equal(io_write_all(p[1], data, 0), 0);
    close(p[0]);
    close(p[1]);
    free(r.got);
    free(data);
}

/* More buffers than one writev takes, empty ones among them, through a
 * small non-blocking socket buffer: every byte in order, iov untouched. */
static void test_writev_all_socket(void **state)
{
    enum { NBUF = 200 };
    struct iovec iov[NBUF], copy[NBUF];
    unsigned char *data = pattern(NBUF * 1000, 3);
    size_t total = 0;
    int sv[2], sz = 4096;
    pthread_t t;
    Reader r = { .delay_us = 20 };

    (void)state;
    for (int i = 0; i < NBUF; i++) {
        size_t len = i % 7 == 3 ? 0 : (size_t)(i * 37 % 1000) + 1;
        iov[i] = (struct iovec){ .iov_base = data + total, .iov_len = len };
        total += len;
    }
    memcpy(copy, iov, sizeof(iov));
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
    fcntl(sv[1], F_SETFL, 0);
    r.fd = sv[1];
    r.want = total;
    r.got = malloc(total);
    assert_non_null(r.got);
    assert_int_equal(pthread_create(&t, NULL, reader_thread, &r), 0);
    assert_int_equal(io_writev_all(sv[0], iov, NBUF), 0);
    pthread_join(t, NULL);
    assert_int_equal(r.len, total);
    assert_memory_equal(r.got, data, total);
    assert_memory_equal(iov, copy, sizeof(iov));
    assert_int_equal(io_writev_all(sv[0], iov, -1), -EINVAL);
    close(sv[0]);
    close(sv[1]);
    free(r.got);
    free(data);
}

/* A closed peer is -EPIPE, not a SIGPIPE (which would kill this test). */
static void test_write_all_errors(void **state)
{
    int sv[2], p[2];

    (void)state;
    signal(SIGPIPE, SIG_DFL);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    close(sv[1]);
    assert_int_equal(io_write_all(sv[0], "x", 1), -EPIPE);
    close(sv[0]);
    assert_int_equal(io_write_all(-1, "x", 1), -EBADF);
    assert_int_equal(pipe(p), 0);
    assert_int_equal(io_write_all(p[0], "x", 1), -EBADF);   /* read end */
    close(p[0]);
    close(p[1]);
}

/* ---- atomic file replacement ---- */

static char *slurp(const char *path)
{
    size_t len;
    return read_file(path, &len);
}

/* Nothing "*.tmp.*" left in the directory. */
static void assert_no_temp(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    assert_non_null(d);
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp."))
            fail_msg("temporary file left: %s", e->d_name);
    closedir(d);
}

static void test_atomic_write_replaces(void **state)
{
    char path[128], *text;
    struct stat st;
    mode_t old = umask(022);

    (void)state;
    path_in_dir(path, sizeof(path), "state.cfg");
    assert_int_equal(io_write_file_atomic(path, "one\n", 4, 0640), 0);
    text = slurp(path);
    assert_string_equal(text, "one\n");
    free(text);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    assert_int_equal(io_write_file_atomic(path, "second\n", 7, 0666), 0);
    text = slurp(path);
    assert_string_equal(text, "second\n");
    free(text);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);             /* the umask applies */
    assert_int_equal(io_write_file_atomic(path, "", 0, 0600), 0);
    text = slurp(path);
    assert_string_equal(text, "");
    free(text);
    assert_no_temp();
    umask(old);
}

/* The write itself fails half-way (a file size limit: EFBIG): the old
 * content stays and the temporary file is removed. */
static void test_atomic_write_failure_keeps_old(void **state)
{
    char path[128], *text;
    struct rlimit saved, small = { 4096, 4096 };
    const size_t n = 64 * 1024;
    unsigned char *big = pattern(n, 1);

    (void)state;
    path_in_dir(path, sizeof(path), "keep.cfg");
    assert_int_equal(io_write_file_atomic(path, "old\n", 4, 0600), 0);
    signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
    small.rlim_max = saved.rlim_max;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    int r = io_write_file_atomic(path, big, n, 0600);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
    assert_int_equal(r, -EFBIG);
    text = slurp(path);
    assert_string_equal(text, "old\n");
    free(text);
    assert_no_temp();
    free(big);
}

/* The rename fails (the target is a directory), the directory is missing,
 * the directory is not writable: an error, nothing left behind. */
static void test_atomic_write_other_failures(void **state)
{
    char path[128], *text;

    (void)state;
    path_in_dir(path, sizeof(path), "adir");
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(io_write_file_atomic(path, "x", 1, 0600), -EISDIR);
    assert_no_temp();
    path_in_dir(path, sizeof(path), "missing/file");
    assert_int_equal(io_write_file_atomic(path, "x", 1, 0600), -ENOENT);

    path_in_dir(path, sizeof(path), "ro.cfg");
    assert_int_equal(io_write_file_atomic(path, "old\n", 4, 0600), 0);
    if (geteuid() != 0) {   /* root writes anyway */
        assert_int_equal(chmod(dir, 0500), 0);
        assert_int_equal(io_write_file_atomic(path, "new\n", 4, 0600), -EACCES);
        assert_int_equal(chmod(dir, 0700), 0);
    }
    text = slurp(path);
    assert_string_equal(text, "old\n");
    free(text);
    assert_no_temp();

    /* A relative path: the directory to sync is ".". */
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(dir), 0);
    assert_int_equal(io_write_file_atomic("rel.cfg", "rel", 3, 0600), 0);
    assert_int_equal(chdir(cwd), 0);
    path_in_dir(path, sizeof(path), "rel.cfg");
    text = slurp(path);
    assert_string_equal(text, "rel");
    free(text);
}

/* ---- UNIX socket connection ---- */

static int listen_at(const char *path, int backlog)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, backlog), 0);
    return fd;
}

static void test_connect_errors(void **state)
{
    char path[128], lng[200];
    int fd;

    (void)state;
    path_in_dir(path, sizeof(path), "nothing.sock");
    assert_int_equal(io_unix_connect(path, 1000, IO_CLOEXEC), -ENOENT);
    path_in_dir(path, sizeof(path), "plain");
    assert_int_equal(io_write_file_atomic(path, "", 0, 0600), 0);
    assert_int_equal(io_unix_connect(path, 1000, IO_CLOEXEC), -ECONNREFUSED);
    /* A socket file left by a dead server. */
    path_in_dir(path, sizeof(path), "dead.sock");
    fd = listen_at(path, 4);
    close(fd);
    assert_int_equal(io_unix_connect(path, 1000, 0), -ECONNREFUSED);
    memset(lng, 'a', sizeof(lng) - 1);
    lng[sizeof(lng) - 1] = '\0';
    assert_int_equal(io_unix_connect(lng, 1000, 0), -ENAMETOOLONG);
}

static void test_connect_flags(void **state)
{
    char path[128];
    int lfd, fd;
    struct timeval tv;
    socklen_t tl = sizeof(tv);

    (void)state;
    path_in_dir(path, sizeof(path), "flags.sock");
    lfd = listen_at(path, 8);
    fd = io_unix_connect(path, 1000, IO_NONBLOCK | IO_CLOEXEC);
    assert_true(fd >= 0);
    assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    /* The connect timeout does not linger as a send timeout. */
    assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, &tl), 0);
    assert_true(tv.tv_sec == 0 && tv.tv_usec == 0);
    close(fd);
    fd = io_unix_connect(path, -1, 0);
    assert_true(fd >= 0);
    assert_false(fcntl(fd, F_GETFL) & O_NONBLOCK);
    assert_false(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    close(fd);
    fd = io_unix_connect(path, 0, IO_CLOEXEC);
    assert_true(fd >= 0);
    assert_false(fcntl(fd, F_GETFL) & O_NONBLOCK);
    close(fd);
    close(lfd);
}

static void *accept_later(void *arg)
{
    int lfd = *(int *)arg, fd;

    usleep(150 * 1000);
    fd = accept(lfd, NULL, NULL);
    return (void *)(intptr_t)fd;
}

/* A listener that never accepts and whose backlog is full: the connect
 * gives up after the timeout; once the listener accepts, a waiting
 * connect gets through. */
static void test_connect_timeout(void **state)
{
    char path[128];
    int lfd, first, fd;
    uint64_t t0, ms;
    pthread_t t;
    void *accepted;

    (void)state;
    path_in_dir(path, sizeof(path), "full.sock");
    lfd = listen_at(path, 0);
    first = io_unix_connect(path, 1000, IO_CLOEXEC);    /* fills the backlog */
    assert_true(first >= 0);

    t0 = clock_ns();
    assert_int_equal(io_unix_connect(path, 300, IO_CLOEXEC), -ETIMEDOUT);
    ms = (clock_ns() - t0) / NS_PER_MS;
    assert_true(ms >= 250);
    assert_true(ms < 5000);
    t0 = clock_ns();
    assert_int_equal(io_unix_connect(path, 0, IO_CLOEXEC), -ETIMEDOUT);
    assert_true((clock_ns() - t0) / NS_PER_MS < 250);

    assert_int_equal(pthread_create(&t, NULL, accept_later, &lfd), 0);
    t0 = clock_ns();
    fd = io_unix_connect(path, 10000, IO_CLOEXEC);
    ms = (clock_ns() - t0) / NS_PER_MS;
    pthread_join(t, &accepted);
    assert_true(fd >= 0);
    assert_true(ms >= 100 && ms < 5000);
    close((int)(intptr_t)accepted);
    close(fd);
    close(first);
    close(lfd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_all_nonblocking_pipe),
        cmocka_unit_test(test_writev_all_socket),
        cmocka_unit_test(test_write_all_errors),
        cmocka_unit_test(test_atomic_write_replaces),
        cmocka_unit_test(test_atomic_write_failure_keeps_old),
        cmocka_unit_test(test_atomic_write_other_failures),
        cmocka_unit_test(test_connect_errors),
        cmocka_unit_test(test_connect_flags),
        cmocka_unit_test(test_connect_timeout),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
