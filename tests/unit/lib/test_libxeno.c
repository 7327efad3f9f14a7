/* libxeno unit tests. Requests go to a child process that answers each
 * connection on a UNIX socket with one canned HTTP response. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/internal.h"

static char dir[64], sock_path[128], uri[160];

/* ---- canned server ---- */

struct canned {
    const char *path_prefix;   /* "GET /v1/domains/web1" */
    int status;
    const char *body;
};

static pid_t server_pid;

static void serve(const struct canned *c, size_t n)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    strcpy(sa.sun_path, sock_path);
    unlink(sock_path);
    int ls = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(ls >= 0);
    assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(ls, 16), 0);
    server_pid = fork();
    assert_true(server_pid >= 0);
    if (server_pid > 0) {
        close(ls);
        return;
    }
    for (;;) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0)
            _exit(0);
        char req[8192] = "";
        size_t len = 0;
        ssize_t r;
        /* Read the head and any body announced by Content-Length. */
        while (len < sizeof(req) - 1 && (r = read(fd, req + len, sizeof(req) - 1 - len)) > 0) {
            len += r;
            req[len] = 0;
            char *end = strstr(req, "\r\n\r\n");
            if (!end)
                continue;
            char *cl = strcasestr(req, "Content-Length:");
            size_t body = cl && cl < end ? strtoul(cl + 15, NULL, 10) : 0;
            if (len >= (size_t)(end + 4 - req) + body)
                break;
        }
        const struct canned *m = NULL;
        for (size_t i = 0; i < n && !m; i++)
            if (strncmp(req, c[i].path_prefix, strlen(c[i].path_prefix)) == 0)
                m = &c[i];
        int status = m ? m->status : 404;
        const char *body = m ? m->body : "{\"error\": \"no such resource\"}";
        char resp[8192];
        int k = snprintf(resp, sizeof(resp),
                         "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                         "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                         status, strlen(body), body);
        if (len > 0 && write(fd, resp, k) < 0) {
            /* the client went away (xeno_connect's reachability probe) */
        }
        close(fd);
    }
}

static void stop_server(void)
{
    if (server_pid > 0) {
        kill(server_pid, SIGKILL);
        waitpid(server_pid, NULL, 0);
        server_pid = 0;
    }
    unlink(sock_path);
}

static int setup(void **s)
{
    strcpy(dir, "/tmp/xeno-libtest.XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(sock_path, sizeof(sock_path), "%s/xend.sock", dir);
    snprintf(uri, sizeof(uri), "unix://%s", sock_path);
    return 0;
}

static int teardown(void **s)
{
    stop_server();
    rmdir(dir);
    return 0;
}

#define DOM_WEB1 "{\"name\": \"web1\", \"id\": 1, \"uuid\": \"u-1\", \"state\": \"paused\", " \
    "\"mem_mib\": 256, \"maxmem_mib\": 512, \"vcpus\": 2, \"cpu_time_s\": 1.5, " \
    "\"managed\": false, \"autostart\": false, \"on_poweroff\": \"destroy\", " \
    "\"on_reboot\": \"restart\", \"on_crash\": \"preserve\", \"config\": \"name = 'web1'\"}"
#define DOM0 "{\"name\": \"Domain-0\", \"id\": 0, \"uuid\": \"0\", \"state\": \"running\", " \
    "\"mem_mib\": 4096, \"vcpus\": 2, \"cpu_time_s\": 10}"

/* ---- tests ---- */

static void test_uri(void **s)
{
    struct xeno_uri u;
    char err[256];
    assert_int_equal(xeno_uri_parse("unix:///run/xeno/xend.sock", &u, err, sizeof(err)), 0);
    assert_int_equal(u.transport, XENO_TRANSPORT_UNIX);
    assert_string_equal(u.path, "/run/xeno/xend.sock");
    assert_int_equal(xeno_uri_parse("tcp://127.0.0.1:8000", &u, err, sizeof(err)), 0);
    assert_int_equal(u.transport, XENO_TRANSPORT_TCP);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 8000);
    assert_true(u.tls);                 /* tcp:// is xend's TLS listener */
    assert_int_equal(xeno_uri_parse("https://[::1]:8000/", &u, err, sizeof(err)), 0);
    assert_string_equal(u.host, "::1");
    assert_true(u.tls);
    assert_int_equal(xeno_uri_parse("http://h:1", &u, err, sizeof(err)), 0);
    assert_false(u.tls);
    /* No token in a URI: it says where the token goes instead. */
    assert_int_equal(xeno_uri_parse("tcp://[::1]:8000/?token=abcdefghijklmnopq", &u, err,
                                    sizeof(err)), -1);
    assert_non_null(strstr(err, "XENO_TOKEN"));
    assert_null(strstr(err, "abcdefghijklmnopq"));
    const char *bad[] = { "", "unix://relative", "ftp://x:1", "tcp://host", "tcp://:80",
                          "tcp://h:0", "tcp://h:65536", "tcp://h:80x", "tcp://[::1:80",
                          "tcp://h:80?token=", "tcp://h:80?token=a b", "tcp://h:80?tok=1",
                          "https://h:80?token=x" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(xeno_uri_parse(bad[i], &u, err, sizeof(err)), -1);
    char longp[300];
    memset(longp, 'a', sizeof(longp));
    memcpy(longp, "unix:///", 8);
    longp[sizeof(longp) - 1] = 0;
    assert_int_equal(xeno_uri_parse(longp, &u, err, sizeof(err)), -1);
}

static void test_tls_pins(void **s)
{
    unsigned char h[32], g[32];
    char fp[XENO_FP_LEN], path[64], ro[108];
    for (int i = 0; i < 32; i++)
        h[i] = (unsigned char)(0xf0 + i);
    fp_sha256_format(h, fp);
    assert_string_equal(fp, "SHA256:8PHy8/T19vf4+fr7/P3+/wABAgMEBQYHCAkKCwwNDg8");
    assert_int_equal(fp_sha256_parse(fp, g), 0);
    assert_memory_equal(g, h, 32);
    assert_int_equal(fp_sha256_parse("sha256//8PHy8/T19vf4+fr7/P3+/wABAgMEBQYHCAkKCwwNDg8=", g), 0);
    assert_memory_equal(g, h, 32);
    const char *bad[] = { "", "8PHy8/T19vf4+fr7/P3+/wABAgMEBQYHCAkKCwwNDg8",
                          "SHA256:8PHy8/T19vf4+fr7/P3+/wABAgMEBQYHCAkKCwwNDg",
                          "SHA256:8PHy8/T19vf4+fr7/P3+/wABAgMEBQYHCAkKCwwNDg8A",
                          "SHA256:8PHy8/T19vf4+fr7/P3+/wABAgMEBQYHCAkKCwwND!8",
                          "MD5:8PHy8/T19vf4+fr7/P3+/wABAgMEBQYHCAkKCwwNDg8" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(fp_sha256_parse(bad[i], g), -1);

    /* known_hosts: "HOST:PORT FINGERPRINT" per line, comments, first wins. */
    snprintf(path, sizeof(path), "/tmp/test_libxeno_kh.%d", (int)getpid());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "# pins\nother:1 SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
               "[::1]:8443 %s\nhost:8443 %s\n", fp, fp);
    fclose(f);
    assert_int_equal(xeno_known_hosts_find(path, "[::1]:8443", g), 1);
    assert_memory_equal(g, h, 32);
    assert_int_equal(xeno_known_hosts_find(path, "other:1", g), 1);
    assert_int_equal(g[0], 0);
    assert_int_equal(xeno_known_hosts_find(path, "host:8444", g), 0);
    unlink(path);
    assert_int_equal(xeno_known_hosts_find(path, "host:8443", g), 0);   /* no file */

    assert_int_equal(xeno_ro_socket_path("/run/xeno/xend.sock", ro, sizeof(ro)), 0);
    assert_string_equal(ro, "/run/xeno/xend-ro.sock");
    assert_int_equal(xeno_ro_socket_path("/tmp/api", ro, sizeof(ro)), 0);
    assert_string_equal(ro, "/tmp/api-ro");

    /* Plain http:// only when the caller allows it in so many words. */
    xeno_conn *c;
    assert_int_equal(xeno_connect("http://127.0.0.1:1", 0, &c), XENO_ERR_INVALID_ARG);
    assert_non_null(strstr(xeno_last_error_message(c), "clear text"));
    xeno_close(c);
    assert_int_equal(xeno_connect("http://127.0.0.1:1", XENO_CONNECT_INSECURE, &c),
                     XENO_ERR_NO_CONNECT);
    xeno_close(c);
}

static void test_http_errors(void **s)
{
    assert_int_equal(xeno_error_from_http(400), XENO_ERR_INVALID_ARG);
    assert_int_equal(xeno_error_from_http(401), XENO_ERR_AUTH);
    assert_int_equal(xeno_error_from_http(403), XENO_ERR_OPERATION_DENIED);
    assert_int_equal(xeno_error_from_http(404), XENO_ERR_NO_DOMAIN);
    assert_int_equal(xeno_error_from_http(409), XENO_ERR_OPERATION_INVALID);
    assert_int_equal(xeno_error_from_http(500), XENO_ERR_SERVER);
    assert_int_equal(xeno_error_from_http(302), XENO_ERR_PROTOCOL);
    for (int c = 0; c <= XENO_ERR_TIMEOUT + 1; c++)
        assert_non_null(xeno_strerror(c));
}

static void test_connect_missing(void **s)
{
    xeno_conn *c;
    assert_int_equal(xeno_connect(uri, 0, &c), XENO_ERR_NO_CONNECT);
    assert_non_null(c);
    assert_int_equal(xeno_last_error(c), XENO_ERR_NO_CONNECT);
    assert_int_equal(xeno_last_error_errno(c), ENOENT);
    assert_string_equal(xeno_last_error_message(c),
                        "Unable to connect to xend: No such file or directory");
    xeno_close(c);
}

static void test_connect_refused(void **s)
{
    /* The socket file exists but nobody listens. */
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    strcpy(sa.sun_path, sock_path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(fd);
    xeno_conn *c;
    assert_int_equal(xeno_connect(uri, 0, &c), XENO_ERR_NO_CONNECT);
    assert_int_equal(xeno_last_error_errno(c), ECONNREFUSED);
    assert_string_equal(xeno_last_error_message(c), "Unable to connect to xend: Connection refused");
    xeno_close(c);
    unlink(sock_path);
}

static void test_connect_bad_uri_and_env(void **s)
{
    xeno_conn *c;
    assert_int_equal(xeno_connect("nonsense", 0, &c), XENO_ERR_INVALID_ARG);
    xeno_close(c);
    assert_int_equal(xeno_connect(uri, 1u << 7, &c), XENO_ERR_INVALID_ARG);
    xeno_close(c);
    setenv("XENO_URI", uri, 1);
    assert_int_equal(xeno_connect(NULL, 0, &c), XENO_ERR_NO_CONNECT);
    assert_string_equal(xeno_conn_get_uri(c), uri);
    xeno_close(c);
    unsetenv("XENO_URI");
    xeno_close(NULL);
}

static void test_domains(void **s)
{
    static const struct canned c[] = {
        { "GET /v1/domains/web1 ", 200, DOM_WEB1 },
        { "GET /v1/domains/1 ", 200, DOM_WEB1 },
        { "GET /v1/domains/Domain-0 ", 200, DOM0 },
        { "GET /v1/domains ", 200, "[" DOM_WEB1 ", " DOM0 "]" },
        { "POST /v1/domains/Domain-0/pause ", 403, "{\"error\": \"Domain-0 cannot be modified\"}" },
        { "POST /v1/domains/web1/unpause ", 200, DOM_WEB1 },
        { "POST /v1/domains/web1/mem ", 500, "not json" },
        { "POST /v1/domains ", 201, DOM_WEB1 },
        { "GET /v1/domains/web1/console ", 200, "{\"path\": \"/run/x.console\"}" },
        { "GET /v1/domains/web1/log ", 200, "{\"nottext\": 1}" },
        { "GET /v1/host ", 200, "{\"hostname\": \"h\", \"nr_cpus\": 4, \"engines\": [\"emu\", 3, \"kvm\"],"
                                 " \"total_memory_mib\": -5}" },
    };
    serve(c, sizeof(c) / sizeof(c[0]));
    xeno_conn *conn;
    assert_int_equal(xeno_connect(uri, 0, &conn), XENO_OK);

    xeno_domain **v;
    size_t n;
    int rc = xeno_domain_list(conn, &v, &n);
    if (rc)
        fprintf(stderr, "list: %s\n", xeno_last_error_message(conn));
    assert_int_equal(rc, XENO_OK);
    assert_int_equal(n, 2);
    assert_string_equal(xeno_domain_get_name(v[0]), "Domain-0");   /* moved first */
    xeno_domain_info i;
    assert_int_equal(xeno_domain_get_info(v[1], &i), XENO_OK);
    assert_int_equal(i.id, 1);
    assert_int_equal(i.state, XENO_STATE_PAUSED);
    assert_int_equal(i.mem_mib, 256);
    assert_int_equal(i.maxmem_mib, 512);
    assert_int_equal(i.vcpus, 2);
    assert_true(i.uptime_s < 0);
    assert_string_equal(i.on_crash, "preserve");
    assert_string_equal(xeno_domain_get_config(v[1]), "name = 'web1'");
    xeno_domain_list_free(v, n);

    xeno_domain *d;
    assert_int_equal(xeno_domain_lookup_by_name(conn, "nosuch", &d), XENO_ERR_NO_DOMAIN);
    assert_null(d);
    assert_string_equal(xeno_last_error_message(conn), "Domain 'nosuch' does not exist.");
    assert_int_equal(xeno_domain_lookup_by_id(conn, 1, &d), XENO_OK);
    assert_string_equal(xeno_domain_get_uuid(d), "u-1");
    xeno_domain_free(d);
    assert_int_equal(xeno_domain_lookup_by_uuid(conn, "u-2", &d), XENO_ERR_NO_DOMAIN);

    assert_int_equal(xeno_domain_lookup_by_name(conn, "Domain-0", &d), XENO_OK);
    assert_int_equal(xeno_domain_pause(d), XENO_ERR_OPERATION_DENIED);
    assert_string_equal(xeno_last_error_message(conn), "Domain-0 cannot be modified");
    xeno_domain_free(d);

    assert_int_equal(xeno_domain_lookup_by_name(conn, "web1", &d), XENO_OK);
    assert_int_equal(xeno_domain_unpause(d), XENO_OK);
    assert_int_equal(xeno_last_error(conn), XENO_OK);
    assert_int_equal(xeno_domain_set_memory(d, 128), XENO_ERR_SERVER);
    assert_int_equal(xeno_domain_set_memory(d, 0), XENO_ERR_INVALID_ARG);
    assert_int_equal(xeno_domain_set_vcpus(d, 0), XENO_ERR_INVALID_ARG);
    char *p;
    assert_int_equal(xeno_domain_console_path(d, &p), XENO_OK);
    assert_string_equal(p, "/run/x.console");
    free(p);
    assert_int_equal(xeno_domain_get_log(d, &p), XENO_ERR_PROTOCOL);
    assert_null(p);
    xeno_domain_free(d);

    const char *ov[] = { "memory=64", NULL };
    assert_int_equal(xeno_domain_create(conn, "name = \"web1\"\n", ov, 0, &d), XENO_OK);
    assert_string_equal(xeno_domain_get_name(d), "web1");
    xeno_domain_free(d);
    const char *badov[] = { "memory", NULL };
    assert_int_equal(xeno_domain_create(conn, "x", badov, 0, &d), XENO_ERR_INVALID_ARG);
    assert_int_equal(xeno_domain_create(conn, "\xff\xfe", NULL, 0, &d), XENO_ERR_INVALID_ARG);
    assert_int_equal(xeno_domain_create(conn, NULL, NULL, 0, &d), XENO_ERR_INVALID_ARG);

    xeno_host_info h;
    assert_int_equal(xeno_host_get_info(conn, &h), XENO_OK);
    assert_string_equal(h.hostname, "h");
    assert_int_equal(h.nr_cpus, 4);
    assert_string_equal(h.engines, "emu kvm");
    assert_int_equal(h.total_memory_mib, 0);
    assert_true(h.uptime_s < 0);
    xeno_close(conn);
    stop_server();
}

static void test_events(void **s)
{
    static const struct canned c[] = {
        { "GET /v1/events ", 200,
          "{\"event\": \"started\", \"domain\": \"web1\", \"id\": 1}\n"
          "garbage\n"
          "{\"event\": \"crashed\", \"domain\": \"db\", \"id\": -4}\n" },
    };
    serve(c, 1);
    xeno_conn *conn;
    assert_int_equal(xeno_connect(uri, 0, &conn), XENO_OK);
    xeno_event_stream *st;
    assert_int_equal(xeno_event_subscribe(conn, &st), XENO_OK);
    xeno_event ev;
    assert_int_equal(xeno_event_next(st, &ev, 5000), XENO_OK);
    assert_int_equal(ev.type, XENO_EVENT_STARTED);
    assert_string_equal(ev.domain, "web1");
    assert_int_equal(ev.id, 1);
    assert_int_equal(xeno_event_next(st, &ev, 5000), XENO_OK);
    assert_int_equal(ev.type, XENO_EVENT_CRASHED);
    assert_int_equal(ev.id, -1);
    /* The server closed the stream. */
    assert_int_equal(xeno_event_next(st, &ev, 5000), XENO_ERR_NO_CONNECT);
    xeno_event_close(st);
    xeno_close(conn);
    stop_server();

    assert_int_equal(xeno_event_parse_line("{\"event\": \"paused\"}", &ev), 0);
    assert_int_equal(ev.type, XENO_EVENT_PAUSED);
    assert_int_equal(xeno_event_parse_line("{\"event\": \"weird\"}", &ev), 0);
    assert_int_equal(ev.type, XENO_EVENT_UNKNOWN);
    assert_int_equal(xeno_event_parse_line("[]", &ev), -1);
    assert_int_equal(xeno_event_parse_line("", &ev), -1);
}

static void test_bad_answers(void **s)
{
    static const struct canned c[] = {
        { "GET /v1/domains ", 200, "{\"not\": \"a list\"}" },
        { "GET /v1/domains/x ", 200, "{\"id\": 3}" },         /* no name */
        { "GET /v1/domains/y ", 200, "[1, 2" },              /* malformed */
        { "GET /v1/host ", 401, "{\"error\": \"bad token\"}" },
    };
    serve(c, sizeof(c) / sizeof(c[0]));
    xeno_conn *conn;
    assert_int_equal(xeno_connect(uri, 0, &conn), XENO_OK);
    xeno_domain **v;
    size_t n;
    assert_int_equal(xeno_domain_list(conn, &v, &n), XENO_ERR_PROTOCOL);
    assert_null(v);
    xeno_domain *d;
    assert_int_equal(xeno_domain_lookup(conn, "x", &d), XENO_ERR_PROTOCOL);
    assert_int_equal(xeno_domain_lookup(conn, "y", &d), XENO_ERR_PROTOCOL);
    assert_int_equal(xeno_domain_lookup(conn, "", &d), XENO_ERR_INVALID_ARG);
    xeno_host_info h;
    assert_int_equal(xeno_host_get_info(conn, &h), XENO_ERR_AUTH);
    assert_string_equal(xeno_last_error_message(conn), "bad token");
    xeno_close(conn);
    stop_server();
}


static int progress_calls;
static void count_progress(const xeno_progress *p, void *opaque)
{
    (void)p;
    (void)opaque;
    progress_calls++;
}

static void test_save_restore_migrate(void **s)
{
    static const struct canned c[] = {
        { "GET /v1/domains/web1 ", 200, DOM_WEB1 },
        { "GET /v1/events ", 200,
          "\n{\"event\": \"progress\", \"domain\": \"web1\", \"job\": \"not-ours\", \"op\": \"save\"}\n" },
        { "POST /v1/domains/web1/save ", 200,
          "{\"name\": \"web1\", \"id\": null, \"uuid\": \"u-1\", \"state\": \"saved\"}" },
        { "POST /v1/domains/web1/managedsave ", 409,
          "{\"error\": \"Domain 'web1' is not managed: save it to a file.\"}" },
        { "POST /v1/restore ", 201, DOM_WEB1 },
        { "POST /v1/domains/web1/migrate ", 502,
          "{\"error\": \"Domain 'web1' was not migrated to h:8002 (it keeps running here): refused\"}" },
    };
    serve(c, sizeof(c) / sizeof(c[0]));
    xeno_conn *conn;
    assert_int_equal(xeno_connect(uri, 0, &conn), XENO_OK);
    xeno_domain *d;
    assert_int_equal(xeno_domain_lookup(conn, "web1", &d), XENO_OK);

    /* Checked here, before any request. */
    assert_int_equal(xeno_domain_save(d, "rel.save", 0, NULL, NULL), XENO_ERR_INVALID_ARG);
    assert_string_equal(xeno_last_error_message(conn), "the save file must be an absolute path");
    assert_int_equal(xeno_domain_save(d, "/a", 0x80, NULL, NULL), XENO_ERR_INVALID_ARG);
    assert_int_equal(xeno_domain_managed_save(d, XENO_SAVE_CHECKPOINT, NULL, NULL),
                     XENO_ERR_INVALID_ARG);
    assert_int_equal(xeno_domain_migrate(d, "", 0, 0, 0, 0, NULL, NULL), XENO_ERR_INVALID_ARG);
    assert_int_equal(xeno_domain_migrate(d, "h", 70000, 0, 0, 0, NULL, NULL), XENO_ERR_INVALID_ARG);
    assert_int_equal(xeno_domain_migrate(d, "h", 0, 0, 60001, 0, NULL, NULL), XENO_ERR_INVALID_ARG);
    assert_int_equal(xeno_domain_restore(conn, "x.save", 0, NULL, NULL, NULL), XENO_ERR_INVALID_ARG);

    /* Through xend (canned), with and without progress. */
    assert_int_equal(xeno_domain_save(d, "/srv/web1.save", 0, NULL, NULL), XENO_OK);
    xeno_domain_info i;
    xeno_domain_get_info(d, &i);
    assert_int_equal(i.state, XENO_STATE_SAVED);
    assert_int_equal(i.id, -1);
    progress_calls = 0;
    assert_int_equal(xeno_domain_save(d, "/srv/web1.save", XENO_SAVE_CHECKPOINT, count_progress,
                                      NULL), XENO_OK);
    assert_int_equal(progress_calls, 0);     /* another job's progress is not ours */
    assert_int_equal(xeno_domain_managed_save(d, 0, count_progress, NULL),
                     XENO_ERR_OPERATION_INVALID);
    assert_string_equal(xeno_last_error_message(conn),
                        "Domain 'web1' is not managed: save it to a file.");
    xeno_domain *r = NULL;
    assert_int_equal(xeno_domain_restore(conn, "/srv/web1.save", XENO_CREATE_PAUSED, count_progress,
                                         NULL, &r), XENO_OK);
    assert_string_equal(xeno_domain_get_name(r), "web1");
    xeno_domain_free(r);
    assert_int_equal(xeno_domain_migrate(d, "h", 0, XENO_MIGRATE_LIVE, 20, 100, count_progress,
                                         NULL), XENO_ERR_SERVER);
    assert_string_equal(xeno_last_error_message(conn),
                        "Domain 'web1' was not migrated to h:8002 (it keeps running here): refused");
    xeno_domain_free(d);
    xeno_close(conn);
    stop_server();

    /* Progress lines: only the job's own. */
    xeno_progress p;
    const char *line = "{\"event\":\"progress\",\"domain\":\"web1\",\"id\":3,\"job\":\"j7\","
                       "\"op\":\"migrate\",\"state\":\"active\",\"round\":2,\"bytes\":1048576,"
                       "\"total_bytes\":134217728,\"dirty_pages\":99,\"rate_mbps\":312}";
    assert_int_equal(xeno_progress_parse_line(line, "j7", &p), 0);
    assert_string_equal(p.op, "migrate");
    assert_string_equal(p.state, "active");
    assert_string_equal(p.domain, "web1");
    assert_int_equal(p.round, 2);
    assert_int_equal(p.bytes, 1048576);
    assert_int_equal(p.total_bytes, 134217728);
    assert_int_equal(p.dirty_pages, 99);
    assert_true(p.rate_mbps > 311.9 && p.rate_mbps < 312.1);
    assert_int_equal(xeno_progress_parse_line(line, "j8", &p), -1);
    assert_int_equal(xeno_progress_parse_line("{\"event\":\"started\",\"job\":\"j7\"}", "j7", &p), -1);
    assert_int_equal(xeno_progress_parse_line("nonsense", "j7", &p), -1);

    xeno_event ev;
    assert_int_equal(xeno_event_parse_line("{\"event\": \"saved\", \"domain\": \"a\"}", &ev), 0);
    assert_int_equal(ev.type, XENO_EVENT_SAVED);
    assert_int_equal(xeno_event_parse_line("{\"event\": \"migrated\"}", &ev), 0);
    assert_int_equal(ev.type, XENO_EVENT_MIGRATED);
    assert_int_equal(xeno_event_parse_line(line, &ev), 0);
    assert_int_equal(ev.type, XENO_EVENT_PROGRESS);
    assert_string_equal(xeno_domain_state_name(XENO_STATE_SAVED), "saved");
    assert_string_equal(xeno_domain_state_name(XENO_STATE_INCOMING), "incoming");
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uri),
        cmocka_unit_test(test_tls_pins),
        cmocka_unit_test(test_http_errors),
        cmocka_unit_test_setup_teardown(test_connect_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_bad_uri_and_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_domains, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_restore_migrate, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
