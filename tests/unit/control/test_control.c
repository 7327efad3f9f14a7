/* The VMM control protocol (docs/protocols.md section 1) against a fake
 * machine: request parsing and dispatch, framing over real sockets, events,
 * the guest agent round trip and its timeout, and hostile clients. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/stream.h"
#include "fake_machine.h"
#include "vmm/control.h"

typedef struct Fx {
    Machine m;
    Control *c;
} Fx;

static int setup(void **state)
{
    Fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    assert_int_equal(fake_machine_init(&f->m, true), 0);
    f->c = control_new(&f->m);
    assert_non_null(f->c);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fx *f = *state;

    control_free(f->c);
    fake_machine_free(&f->m);
    free(f);
    return 0;
}

/* Send one request line through control_handle_line; parse the response. */
static json_t *call(Fx *f, const char *line)
{
    char *resp = control_handle_line(f->c, NULL, line, strlen(line));
    json_error_t e;
    json_t *j;

    assert_non_null(resp);
    assert_null(strchr(resp, '\n'));          /* one line */
    j = json_loads(resp, 0, &e);
    if (!j)
        fail_msg("response is not JSON: %s", resp);
    free(resp);
    return j;
}

static void expect_error(Fx *f, const char *line, const char *substr)
{
    json_t *r = call(f, line);
    const char *msg = json_string_value(json_object_get(r, "error"));

    assert_true(json_is_false(json_object_get(r, "ok")));
    assert_non_null(msg);
    if (!strstr(msg, substr))
        fail_msg("error for %s is '%s', want '%s'", line, msg, substr);
    json_decref(r);
}

static json_t *expect_ok(Fx *f, const char *line)
{
    json_t *r = call(f, line);

    if (!json_is_true(json_object_get(r, "ok")))
        fail_msg("%s failed: %s", line, json_string_value(json_object_get(r, "error")));
    return r;
}

static long long result_int(json_t *r, const char *key)
{
    json_t *v = json_object_get(json_object_get(r, "result"), key);
    if (!json_is_integer(v))
        fail_msg("result.%s missing or not an integer", key);
    return json_integer_value(v);
}

static const char *result_str(json_t *r, const char *key)
{
    return json_string_value(json_object_get(json_object_get(r, "result"), key));
}

static void test_query(void **state)
{
    Fx *f = *state;
    json_t *r;

    fake.cpu_ns = 123456789;
    r = expect_ok(f, "{\"id\": 7, \"cmd\": \"query\"}");
    assert_int_equal(json_integer_value(json_object_get(r, "id")), 7);
    assert_string_equal(result_str(r, "state"), "running");
    assert_string_equal(result_str(r, "name"), "vm1");
    assert_string_equal(result_str(r, "uuid"), "10111213-1415-1617-1819-1a1b1c1d1e1f");
    assert_string_equal(result_str(r, "engine"), "fake");
    assert_int_equal(result_int(r, "vcpus"), 2);
    assert_int_equal(result_int(r, "memory_mib"), FAKE_RAM_MIB);
    assert_int_equal(result_int(r, "balloon_target_mib"), FAKE_RAM_MIB);
    assert_int_equal(result_int(r, "balloon_actual_mib"), FAKE_RAM_MIB);
    assert_int_equal(result_int(r, "cpu_time_ns"), 123456789);
    assert_int_equal(result_int(r, "pid"), getpid());
    assert_true(result_int(r, "uptime_ns") >= 0);
    assert_true(json_is_null(json_object_get(json_object_get(r, "result"), "console")));
    json_decref(r);

    /* id is any integer and echoed back; no id, no id in the response. */
    r = expect_ok(f, "{\"cmd\":\"query\",\"id\":-9223372036854775808}");
    assert_true(json_integer_value(json_object_get(r, "id")) == INT64_MIN);
    json_decref(r);
    r = expect_ok(f, "{\"cmd\":\"query\"}\r");
    json_decref(r);
    r = expect_ok(f, "{\"cmd\":\"query\"}");
    assert_null(json_object_get(r, "id"));
    json_decref(r);
}

static void test_pause_resume(void **state)
{
    Fx *f = *state;
    json_t *r;

    json_decref(expect_ok(f, "{\"id\":1,\"cmd\":\"pause\"}"));
    assert_int_equal(fake.pauses, 1);
    json_decref(expect_ok(f, "{\"id\":2,\"cmd\":\"pause\"}"));   /* idempotent */
    assert_int_equal(fake.pauses, 1);
    r = expect_ok(f, "{\"cmd\":\"query\"}");
    assert_string_equal(result_str(r, "state"), "paused");
    json_decref(r);
    json_decref(expect_ok(f, "{\"cmd\":\"resume\"}"));
    json_decref(expect_ok(f, "{\"cmd\":\"resume\"}"));
    assert_int_equal(fake.resumes, 1);
    r = expect_ok(f, "{\"cmd\":\"query\"}");
    assert_string_equal(result_str(r, "state"), "running");
    json_decref(r);
}

static void test_bad_requests(void **state)
{
    Fx *f = *state;

    expect_error(f, "", "invalid JSON");
    expect_error(f, "{", "invalid JSON");
    expect_error(f, "nonsense", "invalid JSON");
    expect_error(f, "{\"cmd\":\"query\"} trailing", "invalid JSON");
    expect_error(f, "[1,2]", "JSON object");
    expect_error(f, "{}", "missing \"cmd\"");
    expect_error(f, "{\"cmd\": 5}", "missing \"cmd\"");
    expect_error(f, "{\"cmd\": \"fly\"}", "unknown command 'fly'");
    expect_error(f, "{\"cmd\": \"query\", \"x\": 1}", "unknown argument 'x'");
    expect_error(f, "{\"cmd\": \"pause\", \"target_mib\": 1}", "unknown argument");
    expect_error(f, "{\"cmd\": \"query\", \"id\": \"7\"}", "'id' must be an integer");
    expect_error(f, "{\"cmd\": \"query\", \"id\": 1.5}", "'id' must be an integer");
    expect_error(f, "{\"cmd\": \"query\", \"cmd\": \"pause\"}", "invalid JSON");
    expect_error(f, "{\"cmd\": \"query\", \"id\": 99999999999999999999}", "invalid JSON");
    expect_error(f, "{\"cmd\": \"qu\\u0000ery\"}", "invalid JSON");
    /* Invalid UTF-8 in the request: still a one-line error. */
    expect_error(f, "{\"cmd\": \"\xff\xfe\"}", "invalid JSON");
    /* None of that touched the VM. */
    assert_int_equal(fake.pauses + fake.resumes, 0);
    assert_int_equal(f->m.exit_reason, VM_EXIT_NONE);

    /* The error keeps the id when there is one. */
    json_t *r = call(f, "{\"id\": 3, \"cmd\": \"nope\"}");
    assert_int_equal(json_integer_value(json_object_get(r, "id")), 3);
    json_decref(r);
}

static void test_balloon(void **state)
{
    Fx *f = *state;
    json_t *r;

    expect_error(f, "{\"cmd\":\"balloon\"}", "missing argument 'target_mib'");
    expect_error(f, "{\"cmd\":\"balloon\",\"target_mib\":0}", "from 1 to 16");
    expect_error(f, "{\"cmd\":\"balloon\",\"target_mib\":17}", "from 1 to 16");
    expect_error(f, "{\"cmd\":\"balloon\",\"target_mib\":-1}", "from 1 to 16");
    expect_error(f, "{\"cmd\":\"balloon\",\"target_mib\":\"8\"}", "from 1 to 16");
    expect_error(f, "{\"cmd\":\"balloon\",\"target_mib\":8.0}", "from 1 to 16");
    json_decref(expect_ok(f, "{\"cmd\":\"balloon\",\"target_mib\":8}"));
    r = expect_ok(f, "{\"cmd\":\"query\"}");
    assert_int_equal(result_int(r, "balloon_target_mib"), 8);
    /* The guest has not moved yet. */
    assert_int_equal(result_int(r, "balloon_actual_mib"), FAKE_RAM_MIB);
    json_decref(r);
    expect_error(f, "{\"cmd\":\"balloon-stats\"}", "not reported");

    /* A VM without a balloon says so. */
    virtio_device_destroy(f->m.balloon);
    f->m.balloon = NULL;
    expect_error(f, "{\"cmd\":\"balloon\",\"target_mib\":8}", "no balloon device");
    expect_error(f, "{\"cmd\":\"balloon-stats\"}", "no balloon device");
}

static void test_destroy(void **state)
{
    Fx *f = *state;

    assert_false(control_destroyed(f->c));
    json_decref(expect_ok(f, "{\"id\":1,\"cmd\":\"destroy\"}"));
    assert_true(control_destroyed(f->c));
    assert_int_equal(f->m.exit_reason, VM_EXIT_QUIT);
}

/* ---- over sockets ------------------------------------------------------ */

static int add_client(Fx *f)
{
    int sv[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(control_add_client(f->c, sv[0]), 0);
    return sv[1];
}

static void send_str(int fd, const char *s)
{
    assert_int_equal(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

/* Read one line from fd, running the control rounds meanwhile. Returns
 * NULL on EOF or after ~2 s. */
static char *read_line(Fx *f, int fd)
{
    static char buf[1 << 17];
    size_t len = 0;

    for (int i = 0; i < 2000; i++) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        control_run_once(f->c);
        if (poll(&p, 1, 1) > 0) {
            char ch;
            ssize_t n;
            while ((n = recv(fd, &ch, 1, MSG_DONTWAIT)) == 1) {
                if (ch == '\n') {
                    buf[len] = 0;
                    return buf;
                }
                if (len < sizeof(buf) - 1)
                    buf[len++] = ch;
            }
            if (n == 0)
                return NULL;
        }
    }
    return NULL;
}

static void expect_line(Fx *f, int fd, const char *substr)
{
    char *l = read_line(f, fd);

    if (!l)
        fail_msg("no line (want '%s')", substr);
    if (!strstr(l, substr))
        fail_msg("line '%s' does not contain '%s'", l, substr);
}

static void test_socket_framing_and_events(void **state)
{
    Fx *f = *state;
    int a = add_client(f), b = add_client(f);

    /* Two requests in one write, one split across writes, CRLF, blank lines. */
    send_str(a, "{\"id\":1,\"cmd\":\"query\"}\n\n{\"id\":2,\"cmd\":\"pa");
    expect_line(f, a, "\"id\":1,\"ok\":true");
    send_str(a, "use\"}\r\n");
    expect_line(f, a, "\"id\":2,\"ok\":true");
    /* Events go to every client, after the response. */
    expect_line(f, a, "{\"event\":\"paused\"}");
    expect_line(f, b, "{\"event\":\"paused\"}");
    send_str(b, "{\"id\":3,\"cmd\":\"resume\"}\n");
    expect_line(f, b, "\"id\":3,\"ok\":true");
    expect_line(f, b, "resumed");
    expect_line(f, a, "resumed");

    /* Garbage: an error, and the connection still works. */
    send_str(a, "\x01\x02garbage\n{\"id\":4,\"cmd\":\"query\"}\n");
    expect_line(f, a, "invalid JSON");
    expect_line(f, a, "\"id\":4,\"ok\":true");

    /* Half-close: the answer still comes, then EOF. */
    send_str(b, "{\"id\":5,\"cmd\":\"query\"}\n");
    shutdown(b, SHUT_WR);
    expect_line(f, b, "\"id\":5");
    assert_null(read_line(f, b));
    close(a);
    close(b);
}

static void test_long_line_closes(void **state)
{
    Fx *f = *state;
    int a = add_client(f), b = add_client(f);
    char *big = malloc(CONTROL_MAX_LINE + 100);

    memset(big, ' ', CONTROL_MAX_LINE + 100);
    /* Exactly the limit is fine (spaces around the object are JSON). */
    memcpy(big + CONTROL_MAX_LINE - 20, "{\"cmd\":\"query\"}", 15);
    big[CONTROL_MAX_LINE] = '\n';
    for (size_t off = 0; off <= CONTROL_MAX_LINE;) {
        ssize_t n = send(a, big + off, CONTROL_MAX_LINE + 1 - off, MSG_DONTWAIT);
        if (n > 0)
            off += (size_t)n;
        control_run_once(f->c);
    }
    expect_line(f, a, "\"ok\":true");

    /* One byte more: an error line, then the connection is closed. */
    memset(big, 'x', CONTROL_MAX_LINE + 100);
    for (size_t off = 0; off < CONTROL_MAX_LINE + 100;) {
        ssize_t n = send(a, big + off, CONTROL_MAX_LINE + 100 - off, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0)
            off += (size_t)n;
        else if (n < 0 && errno != EAGAIN)
            break;
        control_run_once(f->c);
    }
    expect_line(f, a, "longer than 65536 bytes");
    assert_null(read_line(f, a));
    /* Others are unaffected. */
    send_str(b, "{\"id\":9,\"cmd\":\"query\"}\n");
    expect_line(f, b, "\"id\":9,\"ok\":true");
    free(big);
    close(a);
    close(b);
}

static void test_slow_client(void **state)
{
    Fx *f = *state;
    int slow = add_client(f), b = add_client(f);
    static const char req[] = "{\"cmd\":\"query\"}\n";
    unsigned sent = 0;

    /* The slow client writes requests and never reads: every round stays
     * non-blocking, and the VMM stops reading it once its output backs up. */
    for (int round = 0; round < 3000; round++) {
        while (send(slow, req, sizeof(req) - 1, MSG_DONTWAIT) == (ssize_t)sizeof(req) - 1)
            sent++;
        control_run_once(f->c);
    }
    assert_true(sent > 100);
    send_str(b, "{\"id\":1,\"cmd\":\"query\"}\n");
    expect_line(f, b, "\"id\":1,\"ok\":true");
    /* The slow client gets its answers once it reads. */
    expect_line(f, slow, "\"ok\":true");
    close(slow);
    close(b);
}

static void test_too_many_clients(void **state)
{
    Fx *f = *state;
    int fds[CONTROL_MAX_CLIENTS], sv[2];
    char buf[256];
    ssize_t n;

    for (int i = 0; i < CONTROL_MAX_CLIENTS; i++)
        fds[i] = add_client(f);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(control_add_client(f->c, sv[0]), -1);
    n = recv(sv[1], buf, sizeof(buf) - 1, 0);
    assert_true(n > 0);
    buf[n] = 0;
    assert_non_null(strstr(buf, "too many"));
    close(sv[1]);
    for (int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
        send_str(fds[i], "{\"cmd\":\"query\"}\n");
        expect_line(f, fds[i], "\"ok\":true");
        close(fds[i]);
    }
}

/* ---- guest agent ------------------------------------------------------- */

static void agent_expect(int dev, const char *want)
{
    char buf[64];
    struct pollfd p = { .fd = dev, .events = POLLIN };
    ssize_t n;

    assert_int_equal(poll(&p, 1, 1000), 1);
    n = recv(dev, buf, sizeof(buf) - 1, MSG_DONTWAIT);
    assert_true(n > 0);
    buf[n] = 0;
    assert_string_equal(buf, want);
}

static void test_agent(void **state)
{
    Fx *f = *state;
    int sv[2], a = add_client(f);
    char junk[16];

    expect_error(f, "{\"cmd\":\"shutdown\"}", "no guest agent channel");
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    control_set_agent(f->c, sv[0], sv[1], 100);

    /* shutdown -> "poweroff", answered "ok". */
    send_str(a, "{\"id\":1,\"cmd\":\"shutdown\"}\n");
    control_run_once(f->c);
    agent_expect(sv[1], "poweroff\n");
    /* Busy while one is outstanding. */
    send_str(a, "{\"id\":2,\"cmd\":\"reboot\"}\n");
    expect_line(f, a, "\"id\":2,\"ok\":false,\"error\":\"the guest agent is busy");
    send_str(sv[1], "ok\n");
    expect_line(f, a, "\"id\":1,\"ok\":true");

    /* vcpu-set: range-checked, "vcpus N", an error answer passed on. */
    send_str(a, "{\"id\":3,\"cmd\":\"vcpu-set\",\"count\":5}\n");
    expect_line(f, a, "from 1 to 4");
    send_str(a, "{\"id\":4,\"cmd\":\"vcpu-set\",\"count\":3}\n");
    control_run_once(f->c);
    agent_expect(sv[1], "vcpus 3\n");
    send_str(sv[1], "noise\nerror cpu 2 is \xff busy\r\n");
    expect_line(f, a, "\"id\":4,\"ok\":false,\"error\":\"guest agent: cpu 2 is ? busy\"");
    send_str(a, "{\"id\":5,\"cmd\":\"vcpu-set\",\"count\":3}\n");
    control_run_once(f->c);
    agent_expect(sv[1], "vcpus 3\n");
    send_str(sv[1], "ok\n");
    expect_line(f, a, "\"id\":5,\"ok\":true");
    send_str(a, "{\"cmd\":\"query\"}\n");
    expect_line(f, a, "\"vcpus\":3");

    /* No answer: an error after the timeout, and the unread command is
     * taken back from the channel so the guest never acts on it late. */
    send_str(a, "{\"id\":6,\"cmd\":\"reboot\"}\n");
    expect_line(f, a, "\"id\":6,\"ok\":false,\"error\":\"guest agent did not answer\"");
    assert_int_equal(recv(sv[1], junk, sizeof(junk), MSG_DONTWAIT), -1);
    /* A late answer is ignored. */
    send_str(sv[1], "ok\n");
    control_run_once(f->c);

    /* Paused: refused at once. */
    send_str(a, "{\"id\":7,\"cmd\":\"pause\"}\n");
    expect_line(f, a, "\"id\":7,\"ok\":true");
    expect_line(f, a, "paused");
    send_str(a, "{\"id\":8,\"cmd\":\"shutdown\"}\n");
    expect_line(f, a, "\"id\":8,\"ok\":false,\"error\":\"the VM is paused");

    /* The asking client goes away before the answer: nothing breaks. */
    send_str(a, "{\"cmd\":\"resume\"}\n");
    expect_line(f, a, "\"ok\":true");
    send_str(a, "{\"id\":9,\"cmd\":\"shutdown\"}\n");
    control_run_once(f->c);
    agent_expect(sv[1], "poweroff\n");
    close(a);
    control_run_once(f->c);
    send_str(sv[1], "ok\n");
    control_run_once(f->c);
    close(sv[0]);
    close(sv[1]);
    control_set_agent(f->c, -1, -1, 100);
}

/* ---- descriptors passed with a request (SCM_RIGHTS) -------------------- */

/* Send s with fd attached, in one sendmsg. */
static void send_with_fd(int sock, const char *s, int fd)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct iovec iov = { .iov_base = (void *)s, .iov_len = strlen(s) };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
                          .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    assert_int_equal(sendmsg(sock, &msg, MSG_NOSIGNAL), (ssize_t)strlen(s));
}

static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;

    assert_non_null(d);
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static int temp_file(char *path)
{
    int fd;

    strcpy(path, "/tmp/xeno-test-save.XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    return fd;
}

static off_t file_size(const char *path)
{
    struct stat st;

    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

/* save {"fd": true}: the state goes into the file passed, which the VMM
 * closes; the caller names it. A save file starts with the stream magic. */
static void test_save_to_passed_fd(void **state)
{
    Fx *f = *state;
    int a = add_client(f), fd, before;
    char path[64], magic[sizeof(STREAM_MAGIC) - 1];

    fd = temp_file(path);
    before = open_fds();
    send_with_fd(a, "{\"id\":1,\"cmd\":\"save\",\"fd\":true,\"checkpoint\":true}\n", fd);
    expect_line(f, a, "\"id\":1,\"ok\":true");
    assert_int_equal(open_fds(), before);      /* the VMM's copy is closed */
    assert_true(file_size(path) > 0);
    assert_int_equal(pread(fd, magic, sizeof(magic), 0), (ssize_t)sizeof(magic));
    assert_memory_equal(magic, STREAM_MAGIC, sizeof(magic));
    assert_true(fake.pauses > 0 && fake.resumes == fake.pauses);  /* checkpoint: runs on */
    close(fd);
    unlink(path);
    close(a);
}

static void test_passed_fd_errors(void **state)
{
    Fx *f = *state;
    int a = add_client(f), fd, sv[2], before;
    char path[64];

    /* "fd": true without a descriptor. */
    send_str(a, "{\"id\":1,\"cmd\":\"save\",\"fd\":true}\n");
    expect_line(f, a, "no descriptor came with the request");
    /* Both a path and a descriptor. */
    fd = temp_file(path);
    send_with_fd(a, "{\"id\":2,\"cmd\":\"save\",\"fd\":true,\"path\":\"/x\"}\n", fd);
    expect_line(f, a, "give 'path' or 'fd', not both");
    /* The wrong kind of descriptor for each command. */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    send_with_fd(a, "{\"id\":3,\"cmd\":\"save\",\"fd\":true}\n", sv[0]);
    expect_line(f, a, "the descriptor passed is not a regular file");
    send_with_fd(a, "{\"id\":4,\"cmd\":\"migrate\",\"fd\":true}\n", fd);
    expect_line(f, a, "the descriptor passed is not a connected socket");
    /* A descriptor no command takes is closed after its line. */
    before = open_fds();
    send_with_fd(a, "{\"id\":5,\"cmd\":\"query\"}\n", fd);
    expect_line(f, a, "\"id\":5,\"ok\":true");
    assert_int_equal(open_fds(), before);
    assert_int_equal(file_size(path), 0);      /* nothing wrote to it */
    close(fd);
    close(sv[0]);
    close(sv[1]);
    unlink(path);
    close(a);
}

/* Two requests in one sendmsg with a descriptor: it belongs to the line
 * that holds the last byte sent with it, not to the first line. */
static void test_passed_fd_goes_to_its_line(void **state)
{
    Fx *f = *state;
    int a = add_client(f), fd;
    char path[64];

    fd = temp_file(path);
    send_with_fd(a, "{\"id\":1,\"cmd\":\"save\",\"fd\":true,\"checkpoint\":true}\n"
                    "{\"id\":2,\"cmd\":\"save\",\"fd\":true,\"checkpoint\":true}\n", fd);
    expect_line(f, a, "\"id\":1,\"ok\":false,\"error\":\"'fd': no descriptor");
    expect_line(f, a, "\"id\":2,\"ok\":true");
    assert_true(file_size(path) > 0);
    close(fd);
    unlink(path);
    close(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_query, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pause_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_balloon, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socket_framing_and_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_line_closes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_client, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_many_clients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_agent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_to_passed_fd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_passed_fd_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_passed_fd_goes_to_its_line, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
