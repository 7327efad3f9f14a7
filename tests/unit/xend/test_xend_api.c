/* Unit tests for xend's registry and REST API (routing, validation, error
 * codes), with the fake VMM layer of xend_stubs.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <fcntl.h>
#include <unistd.h>

#include "common/stream.h"
#include "xend.h"

/* xend_stubs.c: the last VMM call. */
extern _Thread_local char stub_last_cmd[32];
extern _Thread_local int stub_last_timeout_ms;

/* Run one request (local: on the UNIX socket); returns the status and the
 * parsed body in *out. */
static int req_on(bool local, const char *method, const char *path, const char *body,
                  json_t **out)
{
    ApiRequest rq = { .method = method, .path = path, .body = body ? body : "",
                      .len = body ? strlen(body) : 0, .local = local,
                      .local_root = local };  /* root on the UNIX socket */
    ApiReply rp = { 0 };
    json_error_t e;

    api_handle(&rq, &rp);
    if (rp.events) {
        assert_null(rp.body);
        if (out)
            *out = NULL;
        return rp.status;
    }
    assert_non_null(rp.body);
    assert_int_equal(rp.body[strlen(rp.body) - 1], '\n');
    json_t *j = json_loads(rp.body, 0, &e);
    assert_non_null(j);
    if (rp.status >= 400)
        assert_true(json_is_string(json_object_get(j, "error")));
    free(rp.body);
    if (out)
        *out = j;
    else
        json_decref(j);
    return rp.status;
}

static int req(const char *method, const char *path, const char *body, json_t **out)
{
    return req_on(true, method, path, body, out);
}

static const char *err_of(json_t *j)
{
    return json_string_value(json_object_get(j, "error"));
}

static int reset(void **state)
{
    (void)state;
    pthread_mutex_lock(&reg_lock);
    reg_clear_locked();
    pthread_mutex_unlock(&reg_lock);
    return 0;
}

static void create(const char *name, int want_id)
{
    char body[256];
    json_t *j;

    snprintf(body, sizeof(body), "{\"config\": \"name = \\\"%s\\\"\\nmemory = 128\\nmaxmem = 256\\n\"}", name);
    assert_int_equal(req("POST", "/v1/domains", body, &j), 201);
    assert_int_equal(json_integer_value(json_object_get(j, "id")), want_id);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "running");
    json_decref(j);
}

#define A_CFG "name = \"a\"\nmemory = 128\n"
#define B_CFG "name = \"b\"\nmemory = x\n"
#define U_CFG "name = \"b\"\nuuid = \"12345678-1234-1234-1234-123456789abc\"\n"

static void test_config_to_domain(void **state)
{
    char err[256];
    const char *ovr[] = { "memory = 64", "vcpus=2" };
    Domain *d;

    (void)state;
    d = dom_from_config("a.cfg", A_CFG, strlen(A_CFG), ovr, 2, err, sizeof(err));
    assert_non_null(d);
    assert_string_equal(d->name, "a");
    assert_int_equal(d->mem_mib, 64);
    assert_int_equal(d->vcpus, 2);
    assert_int_equal(strlen(d->uuid), 36);
    /* The stored config carries the overrides and the generated uuid. */
    assert_non_null(strstr(d->config, "memory = 64\nvcpus=2\nuuid = \""));
    assert_non_null(strstr(d->config, d->uuid));
    dom_put(d);

    assert_null(dom_from_config("b.cfg", B_CFG, strlen(B_CFG), NULL, 0, err, sizeof(err)));
    assert_memory_equal(err, "b.cfg:2: ", 9);
    assert_null(dom_from_config("c.cfg", "memory = 128\n", 13, NULL, 0, err, sizeof(err)));
    assert_non_null(strstr(err, "no name"));
    const char *bad[] = { "memory = 1\nvcpus = 2" };
    assert_null(dom_from_config("d", "name = \"d\"\n", 11, bad, 1, err, sizeof(err)));
    assert_non_null(strstr(err, "one line"));
    assert_null(dom_from_config("e", "name = \"e\"\0x", 13, NULL, 0, err, sizeof(err)));
}

static void test_registry_lookup_and_ids(void **state)
{
    char err[256];
    Domain *a = dom_from_config("a", "name = \"a\"\n", 11, NULL, 0, err, sizeof(err));
    Domain *a2 = dom_from_config("a", "name = \"a\"\n", 11, NULL, 0, err, sizeof(err));
    Domain *b = dom_from_config("b", U_CFG, strlen(U_CFG), NULL, 0, err, sizeof(err));

    (void)state;
    assert_non_null(a);
    assert_non_null(a2);
    assert_non_null(b);
    pthread_mutex_lock(&reg_lock);
    assert_int_equal(reg_add_locked(a), 0);
    assert_int_equal(reg_add_locked(a2), -1);     /* same name */
    assert_int_equal(reg_add_locked(b), 0);
    a->id = reg_alloc_id_locked();
    b->id = reg_alloc_id_locked();
    assert_int_equal(a->id, 1);
    assert_int_equal(b->id, 2);
    assert_ptr_equal(reg_find_locked("a"), a);
    assert_ptr_equal(reg_find_locked("2"), b);
    assert_ptr_equal(reg_find_locked("12345678-1234-1234-1234-123456789ABC"), b);
    assert_null(reg_find_locked("3"));
    assert_null(reg_find_locked("99999999999999999999"));
    assert_null(reg_find_locked(""));
    assert_true(reg_is_dom0_key("0"));
    assert_true(reg_is_dom0_key("Domain-0"));
    assert_false(reg_is_dom0_key("a"));
    /* Ids are never reused, even after removal; a restored next-id only
     * moves forward. */
    reg_remove_locked(a);
    assert_int_equal(reg_alloc_id_locked(), 3);
    reg_set_next_id_locked(2);
    assert_int_equal(reg_alloc_id_locked(), 4);
    reg_set_next_id_locked(10);
    assert_int_equal(reg_alloc_id_locked(), 10);
    pthread_mutex_unlock(&reg_lock);
    dom_put(a2);
}

static void test_create_list_lookup(void **state)
{
    json_t *j;

    (void)state;
    create("web1", 1);
    create("web2", 2);
    assert_int_equal(req("GET", "/v1/domains", NULL, &j), 200);
    assert_int_equal(json_array_size(j), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "name")), "Domain-0");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(j, 0), "id")), 0);
    assert_string_equal(json_string_value(json_object_get(json_array_get(j, 2), "name")), "web2");
    json_decref(j);

    assert_int_equal(req("GET", "/v1/domains/2", NULL, &j), 200);
    assert_string_equal(json_string_value(json_object_get(j, "name")), "web2");
    assert_string_equal(json_string_value(json_object_get(j, "on_crash")), "destroy");
    assert_true(json_is_string(json_object_get(j, "config")));
    json_decref(j);
    assert_int_equal(req("GET", "/v1/domains/nosuch", NULL, &j), 404);
    assert_string_equal(err_of(j), "Domain 'nosuch' does not exist.");
    json_decref(j);
    assert_int_equal(req("POST", "/v1/domains",
                         "{\"config\": \"name = \\\"web1\\\"\\n\"}", &j), 409);
    json_decref(j);
    assert_int_equal(req("GET", "/v1/domains/Domain-0", NULL, &j), 200);
    assert_int_equal(json_integer_value(json_object_get(j, "id")), 0);
    json_decref(j);
    assert_int_equal(req("GET", "/v1/host", NULL, &j), 200);
    assert_true(json_integer_value(json_object_get(j, "nr_cpus")) > 0);
    json_decref(j);
    assert_int_equal(req("GET", "/v1/events", NULL, NULL), 200);
}

static void test_bad_requests(void **state)
{
    static const struct { const char *m, *path, *body; int status; } cases[] = {
        { "POST", "/v1/domains", "{\"config\": ", 400 },
        { "POST", "/v1/domains", "[]", 400 },
        { "POST", "/v1/domains", "{}", 400 },
        { "POST", "/v1/domains", "{\"config\": 1}", 400 },
        { "POST", "/v1/domains", "{\"config\": \"name=\\\"x\\\"\", \"x\": 1}", 400 },
        { "POST", "/v1/domains", "{\"config\": \"name=\\\"x\\\"\", \"start\": \"yes\"}", 400 },
        { "POST", "/v1/domains", "{\"config\": \"name=\\\"x\\\"\", \"start\": false}", 400 },
        { "POST", "/v1/domains", "{\"config\": \"name=\\\"x\\\"\", \"overrides\": [1]}", 400 },
        { "POST", "/v1/domains", "{\"config\": \"name=\\\"x\\\"\", \"config\": \"y\"}", 400 },
        { "POST", "/v1/domains", "{\"config\": \"name=\\\"failme\\\"\"}", 500 },
        { "GET", "/v1/nothing", NULL, 404 },
        { "GET", "/v1/", NULL, 404 },
        { "GET", "/v2/domains", NULL, 404 },
        { "GET", "/v1/domains/", NULL, 404 },
        { "GET", "/v1/domains//x", NULL, 404 },
        { "GET", "/v1/domains/a/b/c/d", NULL, 404 },
        { "PUT", "/v1/domains", NULL, 405 },
        { "DELETE", "/v1/host", NULL, 405 },
        { "POST", "/v1/domains/x", NULL, 405 },
        { "POST", "/v1/domains/Domain-0/destroy", NULL, 403 },
        { "POST", "/v1/domains/0/pause", NULL, 403 },
        { "DELETE", "/v1/domains/Domain-0", NULL, 403 },
        { "GET", "/v1/domains/0/console", NULL, 403 },
        { "POST", "/v1/domains/nosuch/pause", NULL, 404 },
    };
    json_t *j;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int st = req(cases[i].m, cases[i].path, cases[i].body, &j);
        if (st != cases[i].status)
            fail_msg("%s %s %s: %d, expected %d (%s)", cases[i].m, cases[i].path,
                     cases[i].body ? cases[i].body : "", st, cases[i].status, err_of(j));
        json_decref(j);
    }
    assert_int_equal(req("POST", "/v1/domains/Domain-0/destroy", NULL, &j), 403);
    assert_string_equal(err_of(j), "Domain-0 cannot be modified");
    json_decref(j);
    assert_int_equal(req("POST", "/v1/domains",
                         "{\"config\": \"name = \\\"x\\\"\\nvcpus = lots\\n\", \"file\": \"/etc/xen/x\"}", &j), 400);
    assert_memory_equal(err_of(j), "/etc/xen/x:2: ", 14);
    json_decref(j);
    /* Nothing was created by any of it. */
    assert_int_equal(req("GET", "/v1/domains", NULL, &j), 200);
    assert_int_equal(json_array_size(j), 1);
    json_decref(j);
}

static void test_actions(void **state)
{
    json_t *j;

    (void)state;
    create("web1", 1);
    assert_int_equal(req("POST", "/v1/domains/web1/pause", NULL, &j), 200);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "paused");
    json_decref(j);
    assert_int_equal(req("POST", "/v1/domains/web1/pause", NULL, &j), 409);
    json_decref(j);
    assert_int_equal(req("POST", "/v1/domains/web1/unpause", "{}", &j), 200);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "running");
    json_decref(j);
    assert_int_equal(req("POST", "/v1/domains/web1/mem", "{\"target_mib\": 100}", &j), 200);
    assert_int_equal(json_integer_value(json_object_get(j, "mem_mib")), 100);
    json_decref(j);
    assert_int_equal(req("POST", "/v1/domains/web1/mem", "{\"target_mib\": 300}", &j), 400);
    json_decref(j);
    assert_int_equal(req("POST", "/v1/domains/web1/mem", "{\"target_mib\": 13}", &j), 502);
    json_decref(j);
    assert_int_equal(req("POST", "/v1/domains/web1/mem", "{\"target_mib\": 1, \"max_mib\": 2}", &j), 400);
    json_decref(j);
    assert_int_equal(req("POST", "/v1/domains/web1/vcpus", "{\"count\": 0}", &j), 400);
    json_decref(j);
    assert_int_equal(req("POST", "/v1/domains/web1/frob", NULL, &j), 404);
    json_decref(j);
    assert_int_equal(req("GET", "/v1/domains/web1/console", NULL, &j), 200);
    assert_string_equal(json_string_value(json_object_get(j, "path")), "/fake/1.sock.console");
    json_decref(j);
    assert_int_equal(req("GET", "/v1/domains/web1/log", NULL, &j), 200);
    assert_string_equal(json_string_value(json_object_get(j, "text")), "log line\n");
    json_decref(j);
    /* The fake guest never stops: shutdown --wait times out. */
    assert_int_equal(req("POST", "/v1/domains/web1/shutdown", "{\"wait\": true, \"timeout\": 1}", &j), 504);
    json_decref(j);
    assert_int_equal(req("POST", "/v1/domains/web1/shutdown", "{\"wait\": 1}", &j), 400);
    json_decref(j);
    assert_int_equal(req("DELETE", "/v1/domains/web1", NULL, &j), 409);   /* not managed */
    json_decref(j);
    assert_int_equal(req("POST", "/v1/domains/web1/destroy", NULL, &j), 200);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "stopped");
    json_decref(j);
    assert_int_equal(req("GET", "/v1/domains/web1", NULL, &j), 404);
    json_decref(j);
    create("web1", 2);   /* a new id, never 1 again */
}

static void test_managed(void **state)
{
    json_t *j;

    (void)state;
    assert_int_equal(req("POST", "/v1/domains",
                         "{\"config\": \"name = \\\"db\\\"\\n\", \"managed\": true, \"start\": false}", &j), 201);
    assert_true(json_is_null(json_object_get(j, "id")));
    assert_string_equal(json_string_value(json_object_get(j, "state")), "stopped");
    json_decref(j);
    assert_int_equal(req("POST", "/v1/domains/db/pause", NULL, &j), 409);
    json_decref(j);
    assert_int_equal(req("POST", "/v1/domains/db/start", NULL, &j), 200);
    assert_int_equal(json_integer_value(json_object_get(j, "id")), 1);
    json_decref(j);
    assert_int_equal(req("POST", "/v1/domains/db/start", NULL, &j), 409);
    json_decref(j);
    assert_int_equal(req("POST", "/v1/domains/db/start", "{\"paused\": 1}", &j), 400);
    json_decref(j);
    assert_int_equal(req("DELETE", "/v1/domains/db", NULL, &j), 409);
    json_decref(j);
    assert_int_equal(req("POST", "/v1/domains/db/autostart", "{\"autostart\": true}", &j), 200);
    assert_true(json_is_true(json_object_get(j, "autostart")));
    json_decref(j);
    assert_int_equal(req("POST", "/v1/domains/db/destroy", NULL, &j), 200);
    assert_true(json_is_null(json_object_get(j, "id")));
    json_decref(j);
    assert_int_equal(req("GET", "/v1/domains/db", NULL, &j), 200);   /* still defined */
    json_decref(j);
    /* xm start -p: started, then paused. */
    assert_int_equal(req("POST", "/v1/domains/db/start", "{\"paused\": true}", &j), 200);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "paused");
    json_decref(j);
    assert_int_equal(req("POST", "/v1/domains/db/destroy", NULL, &j), 200);
    json_decref(j);
    assert_int_equal(req("DELETE", "/v1/domains/db", NULL, &j), 200);
    json_decref(j);
    assert_int_equal(req("GET", "/v1/domains/db", NULL, &j), 404);
    json_decref(j);
}

/* The route table: which VMM command each action sends, and with which
 * timeout (the guest agent's commands get the long one). */
static void test_routes_vmm_commands(void **state)
{
    static const struct { const char *path, *body, *cmd; int timeout_ms; } cases[] = {
        { "/v1/domains/web1/pause", NULL, "pause", 5000 },
        { "/v1/domains/web1/unpause", NULL, "resume", 5000 },
        { "/v1/domains/web1/mem", "{\"target_mib\": 100}", "balloon", 5000 },
        { "/v1/domains/web1/vcpus", "{\"count\": 1}", "vcpu-set", 30000 },
        { "/v1/domains/web1/reboot", NULL, "reboot", 30000 },
        { "/v1/domains/web1/shutdown", NULL, "shutdown", 30000 },
    };
    json_t *j;

    (void)state;
    create("web1", 1);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        stub_last_cmd[0] = '\0';
        stub_last_timeout_ms = -1;
        assert_int_equal(req("POST", cases[i].path, cases[i].body, &j), 200);
        json_decref(j);
        assert_string_equal(stub_last_cmd, cases[i].cmd);
        assert_int_equal(stub_last_timeout_ms, cases[i].timeout_ms);
    }
}

/* Errors the table gives by itself: the methods a path takes, Domain-0,
 * the local-only console. */
static void test_routes_errors(void **state)
{
    static const struct { bool local; const char *m, *path, *error; int status; } cases[] = {
        { true, "GET", "/v1/domains/web1/start", "use POST for /v1/domains/{dom}/start", 405 },
        { true, "POST", "/v1/domains/web1", "use GET or DELETE for /v1/domains/{dom}", 405 },
        { true, "DELETE", "/v1/domains", "use GET or POST for /v1/domains", 405 },
        { true, "POST", "/v1/host", "use GET for /v1/host", 405 },
        { true, "PATCH", "/v1/host", "method PATCH not allowed", 405 },
        { true, "GET", "/v1/domains/web1/frob", "no such resource: /v1/domains/web1/frob", 404 },
        { true, "GET", "/v1/domains/0/log", "Domain-0 has no log", 403 },
        { true, "POST", "/v1/domains/Domain-0/vcpus", "Domain-0 cannot be modified", 403 },
        { true, "POST", "/v1/domains/nosuch/vcpus", "Domain 'nosuch' does not exist.", 404 },
        { false, "GET", "/v1/domains/web1/console",
          "the console is available on the local socket only", 403 },
        { true, "POST", "/v1/domains/web1/vcpus", "'count' is required", 400 },
        { true, "POST", "/v1/domains/web1/pause", "Domain 'web1' is already paused.", 409 },
    };
    json_t *j;

    (void)state;
    create("web1", 1);
    assert_int_equal(req("POST", "/v1/domains/web1/pause", NULL, &j), 200);
    json_decref(j);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int st = req_on(cases[i].local, cases[i].m, cases[i].path, NULL, &j);
        if (st != cases[i].status || strcmp(err_of(j), cases[i].error))
            fail_msg("%s %s: %d '%s', expected %d '%s'", cases[i].m, cases[i].path, st,
                     err_of(j), cases[i].status, cases[i].error);
        json_decref(j);
    }
    /* The local socket gets the console of a running domain. */
    assert_int_equal(req_on(true, "GET", "/v1/domains/web1/console", NULL, &j), 200);
    json_decref(j);
}

/* One pause, one event, whichever of the API and the VMM reports it. */
static void test_pause_sequence(void **state)
{
    EventSub *s;
    char buf[1024];
    long n;
    json_t *j;

    (void)state;
    create("web1", 1);
    s = events_subscribe();
    assert_int_equal(req("POST", "/v1/domains/web1/pause", NULL, &j), 200);
    json_decref(j);
    pthread_mutex_lock(&reg_lock);
    Domain *d = reg_find_locked("web1");
    assert_false(dom_note_paused_locked(d, true));    /* the VMM's event, later */
    pthread_mutex_unlock(&reg_lock);
    assert_int_equal(req("POST", "/v1/domains/web1/unpause", NULL, &j), 200);
    json_decref(j);
    n = events_read(s, buf, sizeof(buf) - 1, 10);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_string_equal(buf, "{\"event\":\"paused\",\"domain\":\"web1\",\"id\":1}\n"
                             "{\"event\":\"unpaused\",\"domain\":\"web1\",\"id\":1}\n");
    events_unsubscribe(s);
}

static void test_events(void **state)
{
    EventSub *s = events_subscribe();
    char buf[256];
    long n;

    (void)state;
    assert_int_equal(events_read(s, buf, sizeof(buf), 10), 0);
    events_emit("started", "web1", 3);
    n = events_read(s, buf, sizeof(buf) - 1, 10);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_string_equal(buf, "{\"event\":\"started\",\"domain\":\"web1\",\"id\":3}\n");
    events_unsubscribe(s);
}


/* ---- save, managed save, restore, migrate ---- */

static const char *state_of(json_t *j)
{
    return json_string_value(json_object_get(j, "state"));
}

static void test_save(void **state)
{
    json_t *j;

    (void)state;
    create("web1", 1);
    /* Bad requests change nothing. */
    assert_int_equal(req("POST", "/v1/domains/web1/save", "{}", &j), 400);
    assert_string_equal(err_of(j), "'path' (an absolute file name) is required");
    json_decref(j);
    assert_int_equal(req("POST", "/v1/domains/web1/save", "{\"path\": \"rel.save\"}", &j), 400);
    assert_string_equal(err_of(j), "'path' must be an absolute file name");
    json_decref(j);
    assert_int_equal(req("POST", "/v1/domains/web1/save", "{\"path\": \"/a\", \"checkpoint\": 1}",
                         &j), 400);
    json_decref(j);
    assert_int_equal(req("POST", "/v1/domains/web1/save", "{\"path\": \"/a\", \"job\": \"\"}",
                         &j), 400);
    json_decref(j);
    /* A client that is not root on the local socket (here a full token
     * over TCP) saves only into the save directories: nothing is sent. */
    stub_last_cmd[0] = '\0';
    assert_int_equal(req_on(false, "POST", "/v1/domains/web1/save",
                            "{\"path\": \"/etc/web1.save\"}", &j), 403);
    assert_non_null(strstr(err_of(j), "outside the save directories"));
    assert_string_equal(stub_last_cmd, "");
    json_decref(j);
    assert_int_equal(req_on(false, "POST", "/v1/restore", "{\"path\": \"/etc/passwd\"}", &j),
                     403);
    json_decref(j);
    /* Unmanaged: no managed save. */
    assert_int_equal(req("POST", "/v1/domains/web1/managedsave", NULL, &j), 409);
    assert_string_equal(err_of(j), "Domain 'web1' is not managed: save it to a file.");
    json_decref(j);
    /* The disk is full: the domain runs on, as it was. */
    stub_last_cmd[0] = '\0';
    assert_int_equal(req("POST", "/v1/domains/web1/save", "{\"path\": \"/tmp/full/web1.save\"}",
                         &j), 500);
    assert_string_equal(err_of(j), "Domain 'web1' was not saved to /tmp/full/web1.save "
                        "(it keeps running): /tmp/full/web1.save.tmp: No space left on device");
    json_decref(j);
    assert_string_equal(stub_last_cmd, "save");
    assert_int_equal(req("GET", "/v1/domains/web1", NULL, &j), 200);
    assert_string_equal(state_of(j), "running");
    assert_int_equal(json_integer_value(json_object_get(j, "id")), 1);
    assert_null(json_object_get(j, "job"));
    json_decref(j);
    /* A checkpoint: it keeps running. */
    assert_int_equal(req("POST", "/v1/domains/web1/save",
                         "{\"path\": \"/tmp/web1.ckpt\", \"checkpoint\": true}", &j), 200);
    assert_string_equal(state_of(j), "running");
    json_decref(j);
    /* A save: the unmanaged domain is gone. */
    EventSub *s = events_subscribe();
    char buf[2048];
    assert_int_equal(req("POST", "/v1/domains/web1/save",
                         "{\"path\": \"/tmp/web1.save\", \"job\": \"j1\"}", &j), 200);
    assert_true(json_is_null(json_object_get(j, "id")));
    json_decref(j);
    assert_int_equal(req("GET", "/v1/domains/web1", NULL, &j), 404);
    json_decref(j);
    long n = events_read(s, buf, sizeof(buf) - 1, 10);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "\"event\":\"progress\""));
    assert_non_null(strstr(buf, "\"op\":\"save\""));
    assert_non_null(strstr(buf, "\"job\":\"j1\""));
    assert_non_null(strstr(buf, "{\"event\":\"saved\",\"domain\":\"web1\",\"id\":1}\n"));
    assert_non_null(strstr(buf, "\"state\":\"completed\""));
    events_unsubscribe(s);
    /* Not running: nothing to save. */
    create("web2", 2);
    assert_int_equal(req("POST", "/v1/domains/web2/destroy", NULL, &j), 200);
    json_decref(j);
    assert_int_equal(req("POST", "/v1/domains/Domain-0/save", "{\"path\": \"/x\"}", &j), 403);
    json_decref(j);
}

static void test_managed_save(void **state)
{
    json_t *j;

    (void)state;
    assert_int_equal(req("POST", "/v1/domains",
                         "{\"config\": \"name = \\\"db\\\"\\n\", \"managed\": true}", &j), 201);
    json_decref(j);
    assert_int_equal(req("POST", "/v1/domains/db/managedsave", "{\"compress\": true}", &j), 200);
    assert_string_equal(state_of(j), "saved");
    assert_true(json_is_null(json_object_get(j, "id")));
    assert_string_equal(json_string_value(json_object_get(j, "save_file")),
                        "/nonexistent/save/db.save");
    json_decref(j);
    assert_int_equal(req("GET", "/v1/domains", NULL, &j), 200);
    assert_string_equal(state_of(json_array_get(j, 1)), "saved");
    json_decref(j);
    /* Saved is not running. */
    assert_int_equal(req("POST", "/v1/domains/db/managedsave", NULL, &j), 409);
    assert_string_equal(err_of(j), "Domain 'db' is not running.");
    json_decref(j);
    assert_int_equal(req("POST", "/v1/domains/db/pause", NULL, &j), 409);
    json_decref(j);
    /* start restores it, and it is no longer saved. */
    assert_int_equal(req("POST", "/v1/domains/db/start", NULL, &j), 200);
    assert_string_equal(state_of(j), "running");
    assert_null(json_object_get(j, "save_file"));
    json_decref(j);
    /* Saved to a file of the user's: saved too (start restores from it). */
    assert_int_equal(req("POST", "/v1/domains/db/save", "{\"path\": \"/srv/db.save\"}", &j), 200);
    assert_string_equal(state_of(j), "saved");
    assert_string_equal(json_string_value(json_object_get(j, "save_file")), "/srv/db.save");
    json_decref(j);
    /* Undefine a saved domain: gone. */
    assert_int_equal(req("DELETE", "/v1/domains/db", NULL, &j), 200);
    json_decref(j);
    assert_int_equal(req("GET", "/v1/domains/db", NULL, &j), 404);
    json_decref(j);
}

static void test_migrate(void **state)
{
    static const struct { const char *body, *error; int status; } bad[] = {
        { "{}", "'host' (the destination's name or address) is required", 400 },
        { "{\"host\": \"\"}", "'host' (the destination's name or address) is required", 400 },
        { "{\"host\": \"a b\"}", "'host' (the destination's name or address) is required", 400 },
        { "{\"host\": \"-x\"}", "'host' (the destination's name or address) is required", 400 },
        { "{\"host\": \"h\", \"port\": 0}", "'port' must be an integer between 1 and 65535", 400 },
        { "{\"host\": \"h\", \"downtime_ms\": 0}",
          "'downtime_ms' must be an integer between 1 and 60000", 400 },
        { "{\"host\": \"h\", \"live\": \"yes\"}", "'live' must be true or false", 400 },
        { "{\"host\": \"h\", \"frob\": 1}", "unknown field 'frob'", 400 },
        { "{\"host\": \"refuse\", \"port\": 9}",
          "Domain 'web1' was not migrated to refuse:9 (it keeps running here): refused", 502 },
    };
    json_t *j;

    (void)state;
    create("web1", 1);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int st = req("POST", "/v1/domains/web1/migrate", bad[i].body, &j);
        if (st != bad[i].status || strcmp(err_of(j), bad[i].error))
            fail_msg("%s: %d '%s', expected %d '%s'", bad[i].body, st, err_of(j), bad[i].status,
                     bad[i].error);
        json_decref(j);
    }
    assert_int_equal(req("GET", "/v1/domains/web1", NULL, &j), 200);
    assert_string_equal(state_of(j), "running");
    json_decref(j);
    assert_int_equal(req("POST", "/v1/domains/web1/migrate",
                         "{\"host\": \"dest\", \"live\": true, \"downtime_ms\": 20}", &j), 200);
    assert_true(json_is_true(json_object_get(j, "migrated")));
    assert_string_equal(json_string_value(json_object_get(j, "host")), "dest");
    assert_int_equal(json_integer_value(json_object_get(j, "port")), 8002);
    json_decref(j);
    assert_int_equal(req("GET", "/v1/domains/web1", NULL, &j), 404);
    json_decref(j);
    /* A managed domain moves with its config: nothing left here. */
    assert_int_equal(req("POST", "/v1/domains",
                         "{\"config\": \"name = \\\"db\\\"\\n\", \"managed\": true}", &j), 201);
    json_decref(j);
    assert_int_equal(req("POST", "/v1/domains/db/migrate", "{\"host\": \"dest\"}", &j), 200);
    json_decref(j);
    assert_int_equal(req("GET", "/v1/domains/db", NULL, &j), 404);
    json_decref(j);
}

/* A save file with the header and CONF of a domain (and no memory: the
 * VMM would refuse it, xend reads only this far). */
static void write_save_file(const char *path, uint32_t arch, uint32_t engine, uint32_t flags,
                            const char *conf)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    StreamWriter *w;
    StreamHeader h = { .version = STREAM_FORMAT_VERSION, .arch = arch, .engine = engine,
                       .flags = flags, .nregions = 1,
                       .region = { { 0x80000000ull, 128ull << 20 } } };

    assert_true(fd >= 0);
    w = stream_writer_new(fd, true, 0);
    assert_non_null(w);
    assert_int_equal(stream_write_header(w, &h), 0);
    if (conf)
        assert_int_equal(stream_write_record(w, STREAM_TAG_CONF, 0, 1, 0, conf, strlen(conf)), 0);
    assert_int_equal(stream_write_done(w), 0);
    assert_int_equal(stream_flush(w), 0);
    stream_writer_free(w);
    close(fd);
}

static void test_restore(void **state)
{
    char dir[] = "/tmp/xend-test.XXXXXX", good[64], bad[64], foreign[64], mig[64], body[256];
    const char *conf = "name = \"saved1\"\nmemory = 128\n"
                       "uuid = \"11111111-2222-4333-8444-555555555555\"\n";
    SaveInfo si;
    char err[512];
    json_t *j;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(good, sizeof(good), "%s/good.save", dir);
    snprintf(bad, sizeof(bad), "%s/bad.save", dir);
    snprintf(foreign, sizeof(foreign), "%s/foreign.save", dir);
    snprintf(mig, sizeof(mig), "%s/mig.save", dir);
    write_save_file(good, STREAM_ARCH_RISCV64, STREAM_ENGINE_EMU, STREAM_F_IMAGES, conf);
    write_save_file(foreign, STREAM_ARCH_RISCV64, STREAM_ENGINE_KVM, STREAM_F_IMAGES, conf);
    write_save_file(mig, STREAM_ARCH_RISCV64, STREAM_ENGINE_EMU, STREAM_F_MIGRATION, conf);
    {
        FILE *f = fopen(bad, "w");
        fputs("name = \"x\"\n", f);
        fclose(f);
    }

    /* What xend reads of a save file. */
    assert_int_equal(savefile_probe(good, &si, err, sizeof(err)), 0);
    assert_string_equal(si.config, conf);
    assert_int_equal(si.ram_bytes, 128ull << 20);
    savefile_info_free(&si);
    assert_int_equal(savefile_probe(bad, &si, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "is not a Xeno save file"));
    assert_int_equal(savefile_probe(foreign, &si, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "cannot be restored here: it is a riscv64 domain of the kvm engine"));
    assert_int_equal(savefile_probe(mig, &si, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "is a migration stream, not a save file"));
    {
        /* A corrupt header: one flipped bit. */
        int fd = open(mig, O_RDWR);
        char b;
        assert_int_equal(pread(fd, &b, 1, 20), 1);
        b ^= 1;
        assert_int_equal(pwrite(fd, &b, 1, 20), 1);
        close(fd);
        assert_int_equal(savefile_probe(mig, &si, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "checksum"));
    }

    /* Through the API: refusals start nothing. */
    snprintf(body, sizeof(body), "{\"path\": \"%s\"}", bad);
    assert_int_equal(req("POST", "/v1/restore", body, &j), 400);
    json_decref(j);
    snprintf(body, sizeof(body), "{\"path\": \"%s\"}", foreign);
    assert_int_equal(req("POST", "/v1/restore", body, &j), 400);
    json_decref(j);
    assert_int_equal(req("POST", "/v1/restore", "{\"path\": \"/nonexistent/x.save\"}", &j), 400);
    assert_non_null(strstr(err_of(j), "cannot open /nonexistent/x.save"));
    json_decref(j);
    assert_int_equal(req("POST", "/v1/restore", "{\"path\": \"x.save\"}", &j), 400);
    json_decref(j);
    assert_int_equal(req("GET", "/v1/domains", NULL, &j), 200);
    assert_int_equal(json_array_size(j), 1);
    json_decref(j);

    /* A good file: the domain runs under its saved name and uuid. */
    snprintf(body, sizeof(body), "{\"path\": \"%s\"}", good);
    assert_int_equal(req("POST", "/v1/restore", body, &j), 201);
    assert_string_equal(json_string_value(json_object_get(j, "name")), "saved1");
    assert_string_equal(json_string_value(json_object_get(j, "uuid")),
                        "11111111-2222-4333-8444-555555555555");
    assert_string_equal(state_of(j), "running");
    assert_false(json_is_true(json_object_get(j, "managed")));
    json_decref(j);
    /* Once: the name is taken now. */
    assert_int_equal(req("POST", "/v1/restore", body, &j), 409);
    assert_string_equal(err_of(j), "Domain 'saved1' is already running.");
    json_decref(j);
    assert_int_equal(req("POST", "/v1/domains/saved1/destroy", NULL, &j), 200);
    json_decref(j);
    /* Paused. */
    snprintf(body, sizeof(body), "{\"path\": \"%s\", \"paused\": true}", good);
    assert_int_equal(req("POST", "/v1/restore", body, &j), 201);
    assert_string_equal(state_of(j), "paused");
    json_decref(j);
    assert_int_equal(req("POST", "/v1/domains/saved1/destroy", NULL, &j), 200);
    json_decref(j);
    /* Into the managed domain of that name and uuid: it stays managed;
     * another domain of that name refuses. */
    snprintf(body, sizeof(body), "{\"config\": \"name = \\\"saved1\\\"\\nuuid = "
             "\\\"11111111-2222-4333-8444-555555555555\\\"\\n\", \"managed\": true, \"start\": false}");
    assert_int_equal(req("POST", "/v1/domains", body, &j), 201);
    json_decref(j);
    snprintf(body, sizeof(body), "{\"path\": \"%s\"}", good);
    assert_int_equal(req("POST", "/v1/restore", body, &j), 201);
    assert_true(json_is_true(json_object_get(j, "managed")));
    json_decref(j);
    assert_int_equal(req("POST", "/v1/domains/saved1/destroy", NULL, &j), 200);
    json_decref(j);
    assert_int_equal(req("DELETE", "/v1/domains/saved1", NULL, &j), 200);
    json_decref(j);
    assert_int_equal(req("POST", "/v1/domains",
                         "{\"config\": \"name = \\\"saved1\\\"\\n\", \"managed\": true, "
                         "\"start\": false}", &j), 201);
    json_decref(j);
    assert_int_equal(req("POST", "/v1/restore", body, &j), 409);
    assert_non_null(strstr(err_of(j), "Domain 'saved1' already exists"));
    json_decref(j);

    unlink(good);
    unlink(bad);
    unlink(foreign);
    unlink(mig);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_config_to_domain, reset),
        cmocka_unit_test_setup(test_registry_lookup_and_ids, reset),
        cmocka_unit_test_setup(test_create_list_lookup, reset),
        cmocka_unit_test_setup(test_bad_requests, reset),
        cmocka_unit_test_setup(test_actions, reset),
        cmocka_unit_test_setup(test_managed, reset),
        cmocka_unit_test_setup(test_routes_vmm_commands, reset),
        cmocka_unit_test_setup(test_routes_errors, reset),
        cmocka_unit_test_setup(test_pause_sequence, reset),
        cmocka_unit_test_setup(test_events, reset),
        cmocka_unit_test_setup(test_save, reset),
        cmocka_unit_test_setup(test_managed_save, reset),
        cmocka_unit_test_setup(test_migrate, reset),
        cmocka_unit_test_setup(test_restore, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
