/* Unit tests for xend's reliability guarantees (docs/architecture.md,
 * "xend"), over the fake VMM layer and in-memory state dir of
 * xend_stubs.c: a failed config save changes nothing, a hung VMM does not
 * stall the list, an undefine racing a re-create of the same name leaves
 * the registry and the state dir agreeing, references outlive removal,
 * and many clients at once (the test the ThreadSanitizer build runs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "xend.h"

/* xend_stubs.c: the in-memory state dir, hung fake VMMs. */
extern bool stub_state_fail, stub_hangs;
const char *stub_config_of(const char *name);

static int req(const char *method, const char *path, const char *body, json_t **out)
{
    ApiRequest rq = { .method = method, .path = path, .body = body ? body : "",
                      .len = body ? strlen(body) : 0, .local = true };
    ApiReply rp = { 0 };
    json_t *j;

    api_handle(&rq, &rp);
    assert_non_null(rp.body);
    j = json_loads(rp.body, 0, NULL);
    assert_non_null(j);
    free(rp.body);
    if (out)
        *out = j;
    else
        json_decref(j);
    return rp.status;
}

static int reset(void **state)
{
    (void)state;
    __atomic_store_n(&stub_state_fail, false, __ATOMIC_RELAXED);
    pthread_mutex_lock(&reg_lock);
    reg_clear_locked();
    pthread_mutex_unlock(&reg_lock);
    return 0;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *str(json_t *j, const char *key)
{
    return json_string_value(json_object_get(j, key));
}

static void define(const char *name, bool start, int want)
{
    char body[256];

    snprintf(body, sizeof(body), "{\"config\": \"name = \\\"%s\\\"\\nmemory = 128\\n\", "
             "\"managed\": true, \"start\": %s}", name, start ? "true" : "false");
    assert_int_equal(req("POST", "/v1/domains", body, NULL), want);
}

/* mem-max whose config cannot be saved: 500, and neither the stored
 * config nor the domain's limit changes; once the disk works, both do. */
static void test_memmax_failed_save(void **state)
{
    json_t *j;
    char *before;

    (void)state;
    define("mm", true, 201);
    assert_non_null(stub_config_of("mm"));
    before = strdup(stub_config_of("mm"));
    __atomic_store_n(&stub_state_fail, true, __ATOMIC_RELAXED);
    assert_int_equal(req("POST", "/v1/domains/mm/mem", "{\"max_mib\": 512}", &j), 500);
    assert_non_null(strstr(str(j, "error"), "cannot save the configuration of 'mm'"));
    json_decref(j);
    __atomic_store_n(&stub_state_fail, false, __ATOMIC_RELAXED);
    assert_string_equal(stub_config_of("mm"), before);
    assert_int_equal(req("GET", "/v1/domains/mm", NULL, &j), 200);
    assert_int_equal(json_integer_value(json_object_get(j, "maxmem_mib")), 128);
    assert_null(strstr(str(j, "config"), "maxmem"));
    json_decref(j);

    assert_int_equal(req("POST", "/v1/domains/mm/mem", "{\"max_mib\": 512}", &j), 200);
    assert_int_equal(json_integer_value(json_object_get(j, "maxmem_mib")), 512);
    json_decref(j);
    assert_non_null(strstr(stub_config_of("mm"), "maxmem = 512\n"));
    free(before);
}

/* A define whose config cannot be saved registers nothing; so does the
 * autostart mark of a domain whose disk fails. */
static void test_define_failed_save(void **state)
{
    json_t *j;

    (void)state;
    define("nodisk1", false, 500);
    assert_int_equal(req("GET", "/v1/domains/nodisk1", NULL, NULL), 404);
    assert_null(stub_config_of("nodisk1"));
    define("nodisk2", true, 500);
    assert_int_equal(req("GET", "/v1/domains/nodisk2", NULL, NULL), 404);

    define("auto", false, 201);
    __atomic_store_n(&stub_state_fail, true, __ATOMIC_RELAXED);
    assert_int_equal(req("POST", "/v1/domains/auto/autostart", "{\"autostart\": true}", NULL), 500);
    __atomic_store_n(&stub_state_fail, false, __ATOMIC_RELAXED);
    assert_int_equal(req("GET", "/v1/domains/auto", NULL, &j), 200);
    assert_true(json_is_false(json_object_get(j, "autostart")));
    json_decref(j);
}

/* Four hung VMMs among running ones: the list answers within about one
 * sampling timeout (they are sampled in parallel), shows them
 * unresponsive and the others running; a hung domain's own GET says so. */
static void test_list_hung_vmm(void **state)
{
    const char *names[] = { "ok1", "hang1", "hang2", "ok2", "hang3", "hang4" };
    json_t *arr, *v;
    size_t i;
    double t0;

    (void)state;
    __atomic_store_n(&stub_hangs, true, __ATOMIC_RELAXED);
    for (i = 0; i < ARRAY_SIZE(names); i++) {
        char body[128];
        snprintf(body, sizeof(body), "{\"config\": \"name = \\\"%s\\\"\\n\"}", names[i]);
        assert_int_equal(req("POST", "/v1/domains", body, NULL), 201);
    }
    t0 = now_s();
    assert_int_equal(req("GET", "/v1/domains", NULL, &arr), 200);
    assert_true(now_s() - t0 < 1.0);
    assert_int_equal(json_array_size(arr), 1 + ARRAY_SIZE(names));
    json_array_foreach(arr, i, v) {
        const char *n = str(v, "name");
        if (!strcmp(n, "Domain-0"))
            continue;
        assert_string_equal(str(v, "state"), strncmp(n, "hang", 4) ? "running" : "unresponsive");
    }
    json_decref(arr);
    __atomic_store_n(&stub_hangs, false, __ATOMIC_RELAXED);
}

/* A reference taken with reg_lookup keeps the domain readable after it is
 * removed from the registry; the last put frees it. */
static void test_reference_outlives_removal(void **state)
{
    Domain *d;

    (void)state;
    define("keep", false, 201);
    d = reg_lookup("keep");
    assert_non_null(d);
    assert_int_equal(req("DELETE", "/v1/domains/keep", NULL, NULL), 200);
    assert_null(reg_lookup("keep"));
    pthread_mutex_lock(&reg_lock);
    assert_true(d->removed);
    assert_string_equal(d->name, "keep");
    pthread_mutex_unlock(&reg_lock);
    dom_put(d);
}

/* undefine against define of the same name, from two threads: whatever
 * the interleaving, the registry has the domain exactly when the state
 * dir has its config. */
static void *definer(void *arg)
{
    for (int i = 0; i < 300; i++)
        req("POST", "/v1/domains", "{\"config\": \"name = \\\"race\\\"\\n\", \"managed\": true, "
            "\"start\": false}", NULL);
    return arg;
}

static void *undefiner(void *arg)
{
    for (int i = 0; i < 300; i++)
        req("DELETE", "/v1/domains/race", NULL, NULL);
    return arg;
}

static void test_undefine_recreate_race(void **state)
{
    pthread_t a, b;
    Domain *d;

    (void)state;
    for (int round = 0; round < 5; round++) {
        pthread_create(&a, NULL, definer, NULL);
        pthread_create(&b, NULL, undefiner, NULL);
        pthread_join(a, NULL);
        pthread_join(b, NULL);
        d = reg_lookup("race");
        assert_true((d != NULL) == (stub_config_of("race") != NULL));
        if (d)
            dom_put(d);
    }
}

/* Many clients at once: create, list, pause, unpause, mem, destroy,
 * define, start, undefine, get, on a few names each. */
#define CLIENTS 8
#define ROUNDS  60

static void *client(void *arg)
{
    long k = (long)arg;
    char body[256], path[128], name[32];

    for (int i = 0; i < ROUNDS; i++) {
        snprintf(name, sizeof(name), "c%ld", (k + i) % 5);
        switch ((k + i) % 6) {
        case 0:
            snprintf(body, sizeof(body), "{\"config\": \"name = \\\"%s\\\"\\nmemory = 64\\n"
                     "maxmem = 128\\n\"}", name);
            req("POST", "/v1/domains", body, NULL);
            break;
        case 1:
            req("GET", "/v1/domains", NULL, NULL);
            break;
        case 2:
            snprintf(path, sizeof(path), "/v1/domains/%s/pause", name);
            req("POST", path, NULL, NULL);
            snprintf(path, sizeof(path), "/v1/domains/%s/unpause", name);
            req("POST", path, NULL, NULL);
            break;
        case 3:
            snprintf(path, sizeof(path), "/v1/domains/%s/mem", name);
            req("POST", path, "{\"max_mib\": 100}", NULL);
            req("POST", path, "{\"target_mib\": 64}", NULL);
            snprintf(path, sizeof(path), "/v1/domains/%s", name);
            req("GET", path, NULL, NULL);
            break;
        case 4:
            snprintf(path, sizeof(path), "/v1/domains/%s/destroy", name);
            req("POST", path, NULL, NULL);
            break;
        default:
            snprintf(body, sizeof(body), "{\"config\": \"name = \\\"m%s\\\"\\n\", \"managed\": "
                     "true, \"start\": false}", name);
            req("POST", "/v1/domains", body, NULL);
            snprintf(path, sizeof(path), "/v1/domains/m%s/start", name);
            req("POST", path, NULL, NULL);
            snprintf(path, sizeof(path), "/v1/domains/m%s/destroy", name);
            req("POST", path, NULL, NULL);
            snprintf(path, sizeof(path), "/v1/domains/m%s", name);
            req("DELETE", path, NULL, NULL);
            break;
        }
    }
    return NULL;
}

static void test_concurrent_clients(void **state)
{
    pthread_t t[CLIENTS];
    json_t *arr;

    (void)state;
    for (long k = 0; k < CLIENTS; k++)
        assert_int_equal(pthread_create(&t[k], NULL, client, (void *)k), 0);
    for (int k = 0; k < CLIENTS; k++)
        pthread_join(t[k], NULL);
    /* Still consistent: every listed managed domain has its config. */
    assert_int_equal(req("GET", "/v1/domains", NULL, &arr), 200);
    for (size_t i = 1; i < json_array_size(arr); i++) {
        json_t *v = json_array_get(arr, i);
        if (json_is_true(json_object_get(v, "managed")))
            assert_non_null(stub_config_of(str(v, "name")));
    }
    json_decref(arr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_memmax_failed_save, reset),
        cmocka_unit_test_setup(test_define_failed_save, reset),
        cmocka_unit_test_setup(test_list_hung_vmm, reset),
        cmocka_unit_test_setup(test_reference_outlives_removal, reset),
        cmocka_unit_test_setup(test_undefine_recreate_race, reset),
        cmocka_unit_test_setup(test_concurrent_clients, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
