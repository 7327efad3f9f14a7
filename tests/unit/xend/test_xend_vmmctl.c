/* xend's client of the VMM control socket (src/xend/vmmctl.c) against a
 * fake VMM in a thread: a sandboxed VMM opens nothing, so `save` gets
 * PATH.tmp and `migrate` a connection, passed with the request; the save
 * file is renamed to PATH only once the VMM said ok. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "xend.h"

/* The fake VMM: one connection, one request; it writes `payload` to the
 * descriptor that came with it and answers ok (or refuses). */
typedef struct FakeVmm {
    int lfd;
    bool refuse;
    const char *payload;
    char request[1024];       /* the line it got */
    bool got_fd;
    pthread_t t;
} FakeVmm;

static int recv_with_fd(int sock, char *buf, size_t len, int *fd)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct iovec iov = { .iov_base = buf, .iov_len = len - 1 };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
                          .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
    ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

    *fd = -1;
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
        memcpy(fd, CMSG_DATA(c), sizeof(int));
    return 0;
}

static void *fake_vmm(void *arg)
{
    FakeVmm *v = arg;
    int c = accept(v->lfd, NULL, NULL), fd;
    const char *answer;

    if (c < 0 || recv_with_fd(c, v->request, sizeof(v->request), &fd) < 0)
        return NULL;
    v->got_fd = fd >= 0;
    if (fd >= 0 && !v->refuse) {
        ssize_t r = write(fd, v->payload, strlen(v->payload));
        (void)r;
    }
    if (fd >= 0)
        close(fd);
    answer = v->refuse ? "{\"id\":1,\"ok\":false,\"error\":\"no space\"}\n"
                       : "{\"event\":\"paused\"}\n{\"id\":1,\"ok\":true,\"result\":{}}\n";
    if (write(c, answer, strlen(answer)) < 0)
        fprintf(stderr, "fake VMM: %s\n", strerror(errno));
    close(c);
    return NULL;
}

typedef struct Fx {
    char dir[64], sock[128];
    FakeVmm vmm;
} Fx;

static int listen_unix(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 4), 0);
    return fd;
}

static int setup(void **state)
{
    Fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    strcpy(f->dir, "/tmp/xend-vmmctl.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->sock, sizeof(f->sock), "%s/1.sock", f->dir);
    f->vmm.lfd = listen_unix(f->sock);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fx *f = *state;
    char cmd[128];

    close(f->vmm.lfd);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void start_vmm(Fx *f, bool refuse, const char *payload)
{
    f->vmm.refuse = refuse;
    f->vmm.payload = payload;
    assert_int_equal(pthread_create(&f->vmm.t, NULL, fake_vmm, &f->vmm), 0);
}

static char *slurp(const char *path)
{
    static char buf[256];
    int fd = open(path, O_RDONLY);
    ssize_t n;

    if (fd < 0)
        return NULL;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static void test_save_passes_the_file(void **state)
{
    Fx *f = *state;
    char path[160], tmp[170], err[256];
    json_t *args;
    struct stat st;

    snprintf(path, sizeof(path), "%s/dom.save", f->dir);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    start_vmm(f, false, "XENOSTAT-state");
    args = json_pack("{s:s,s:b}", "path", path, "checkpoint", 1);
    assert_int_equal(vmm_call(f->sock, "save", args, 5000, NULL, err, sizeof(err)), 0);
    json_decref(args);
    pthread_join(f->vmm.t, NULL);
    /* The VMM got a descriptor and "fd": true, not the path. */
    assert_true(f->vmm.got_fd);
    assert_non_null(strstr(f->vmm.request, "\"fd\":true"));
    assert_null(strstr(f->vmm.request, "dom.save"));
    assert_non_null(strstr(f->vmm.request, "\"checkpoint\":true"));
    /* The file is whole under its name, the temporary one gone. */
    assert_string_equal(slurp(path), "XENOSTAT-state");
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(tmp, &st), -1);
}

static void test_save_refused_leaves_nothing(void **state)
{
    Fx *f = *state;
    char path[160], tmp[170], err[256];
    json_t *args;
    struct stat st;

    snprintf(path, sizeof(path), "%s/dom.save", f->dir);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    start_vmm(f, true, "");
    args = json_pack("{s:s}", "path", path);
    assert_int_equal(vmm_call(f->sock, "save", args, 5000, NULL, err, sizeof(err)), -1);
    json_decref(args);
    pthread_join(f->vmm.t, NULL);
    assert_string_equal(err, "no space");
    assert_int_equal(stat(path, &st), -1);
    assert_int_equal(stat(tmp, &st), -1);
}

static void test_save_to_a_missing_directory(void **state)
{
    Fx *f = *state;
    char err[256];
    json_t *args = json_pack("{s:s}", "path", "/nonexistent-dir/x.save");

    /* PATH.tmp cannot be made: the call fails before it sends anything
     * (no fake VMM runs; the connection sits in the listen backlog). */
    assert_int_equal(vmm_call(f->sock, "save", args, 2000, NULL, err, sizeof(err)), -1);
    json_decref(args);
    assert_non_null(strstr(err, "/nonexistent-dir/x.save.tmp: No such file or directory"));
}

static void test_migrate_passes_a_connection(void **state)
{
    Fx *f = *state;
    char lpath[160], uri[170], err[256], got[16] = "";
    int lfd, c;
    json_t *args;

    snprintf(lpath, sizeof(lpath), "%s/1.migrate", f->dir);
    snprintf(uri, sizeof(uri), "unix:%s", lpath);
    lfd = listen_unix(lpath);
    start_vmm(f, false, "stream");
    args = json_pack("{s:s,s:b}", "uri", uri, "live", 1);
    assert_int_equal(vmm_call(f->sock, "migrate", args, 5000, NULL, err, sizeof(err)), 0);
    json_decref(args);
    pthread_join(f->vmm.t, NULL);
    assert_true(f->vmm.got_fd);
    assert_null(strstr(f->vmm.request, "\"uri\""));
    /* What the VMM wrote on the connection arrives at xend's socket. */
    c = accept(lfd, NULL, NULL);
    assert_true(c >= 0);
    assert_int_equal(read(c, got, sizeof(got) - 1), 6);
    assert_string_equal(got, "stream");
    close(c);
    close(lfd);
}

static void test_other_commands_pass_nothing(void **state)
{
    Fx *f = *state;
    char err[256];
    json_t *res = NULL;

    start_vmm(f, false, "");
    assert_int_equal(vmm_call(f->sock, "query", NULL, 5000, &res, err, sizeof(err)), 0);
    pthread_join(f->vmm.t, NULL);
    assert_false(f->vmm.got_fd);
    assert_true(json_is_object(res));
    json_decref(res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_save_passes_the_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_refused_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_to_a_missing_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_passes_a_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_commands_pass_nothing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
