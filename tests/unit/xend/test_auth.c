/* Unit tests for xend's access control (auth.h): token files, bearer
 * lookup, per-peer counts, the TLS certificate and its pin, and the role
 * check of every API route (api_authorize, api_handle) over the fake VMM
 * layer of xend_stubs.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "xend.h"

#define FULL_TOK "full-0123456789abcdef"
#define RO_TOK   "ro-0123456789abcdef"

static int parse(AuthTokens *t, const char *text, char *err, size_t errlen)
{
    return auth_tokens_parse(t, "tokens", text, strlen(text), err, errlen);
}

static void test_tokens_file(void **state)
{
    AuthTokens t = { 0 };
    char err[256];

    (void)state;
    assert_int_equal(parse(&t, "# xend tokens\n\nfull " FULL_TOK "\n"
                               "  ro   " RO_TOK "   # the monitoring\n", err, sizeof(err)), 0);
    assert_int_equal(t.n, 2);
    assert_int_equal(t.v[0].role, XEND_ROLE_FULL);
    assert_string_equal(t.v[0].token, FULL_TOK);
    assert_int_equal(t.v[1].role, XEND_ROLE_RO);
    assert_string_equal(t.v[1].token, RO_TOK);
    /* No newline at the end, CR-less, one line. */
    assert_int_equal(parse(&t, "ro ro-second-token-0000", err, sizeof(err)), 0);
    assert_int_equal(t.n, 3);
    auth_tokens_free(&t);
    assert_int_equal(t.n, 0);
    assert_int_equal(parse(&t, "", err, sizeof(err)), 0);
    assert_int_equal(t.n, 0);
}

static void test_tokens_file_errors(void **state)
{
    static const struct { const char *text, *msg; } cases[] = {
        { "admin " FULL_TOK "\n", "tokens:1: role 'admin': expected full or ro" },
        { "\nfull\n", "tokens:2: expected 'full TOKEN' or 'ro TOKEN'" },
        { "full " FULL_TOK " extra\n", "tokens:1: expected 'full TOKEN' or 'ro TOKEN'" },
        { "ro short\n", "tokens:1: a token must be 16 to 128 characters, not 5" },
        { "full " FULL_TOK "\nro " FULL_TOK "\n", "tokens:2: the same token is given twice" },
        { "full tok\x01-0123456789abcdef\n",
          "tokens:1: a token may not hold blanks or control characters" },
    };
    char err[256];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        AuthTokens t = { 0 };
        assert_int_equal(parse(&t, cases[i].text, err, sizeof(err)), -1);
        assert_string_equal(err, cases[i].msg);
        auth_tokens_free(&t);
    }
    /* A NUL inside a line. */
    AuthTokens t = { 0 };
    assert_int_equal(auth_tokens_parse(&t, "tokens", "full x\0y\n", 9, err, sizeof(err)), -1);
    assert_string_equal(err, "tokens:1: NUL byte");
    /* A token of 129 characters. */
    char line[200] = "full ";
    memset(line + 5, 'a', 129);
    assert_int_equal(parse(&t, line, err, sizeof(err)), -1);
    auth_tokens_free(&t);
}

static void test_bearer_role(void **state)
{
    AuthTokens t = { 0 };
    char err[256];

    (void)state;
    assert_int_equal(parse(&t, "full " FULL_TOK "\nro " RO_TOK "\n", err, sizeof(err)), 0);
    assert_int_equal(auth_bearer_role(&t, "Bearer " FULL_TOK), XEND_ROLE_FULL);
    assert_int_equal(auth_bearer_role(&t, "Bearer " RO_TOK), XEND_ROLE_RO);
    assert_int_equal(auth_bearer_role(&t, NULL), -1);
    assert_int_equal(auth_bearer_role(&t, ""), -1);
    assert_int_equal(auth_bearer_role(&t, "Bearer "), -1);
    assert_int_equal(auth_bearer_role(&t, FULL_TOK), -1);            /* no scheme */
    assert_int_equal(auth_bearer_role(&t, "Basic " FULL_TOK), -1);
    assert_int_equal(auth_bearer_role(&t, "Bearer full-0123456789abcde"), -1);   /* prefix */
    assert_int_equal(auth_bearer_role(&t, "Bearer " FULL_TOK "f"), -1);          /* longer */
    assert_int_equal(auth_bearer_role(&t, "Bearer Full-0123456789abcdef"), -1);  /* case */
    auth_tokens_free(&t);
    /* No tokens at all: nobody gets in. */
    assert_int_equal(auth_bearer_role(&t, "Bearer " FULL_TOK), -1);
}

static void test_peer_counts(void **state)
{
    PeerTable *p = peer_table_new();

    (void)state;
    assert_non_null(p);
    assert_int_equal(peer_enter(p, "uid 1000"), 1);
    assert_int_equal(peer_enter(p, "uid 1000"), 2);
    assert_int_equal(peer_enter(p, "ip 10.0.0.9"), 1);
    peer_leave(p, "uid 1000");
    assert_int_equal(peer_enter(p, "uid 1000"), 2);
    peer_leave(p, "uid 1000");
    peer_leave(p, "uid 1000");
    assert_int_equal(peer_enter(p, "uid 1000"), 1);   /* back from zero */
    peer_leave(p, "nobody");                          /* unknown: ignored */
    peer_table_free(p);
}

static void test_fingerprint_format(void **state)
{
    uint8_t h[32] = { 0 };
    char fp[AUTH_FP_LEN];

    (void)state;
    fp_sha256_format(h, fp);
    assert_string_equal(fp, "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    for (int i = 0; i < 32; i++)
        h[i] = (uint8_t)(0xf0 + i);
    fp_sha256_format(h, fp);
    /* base64 of f0 f1 ... 0f (python: base64.b64encode(bytes(range(0xf0,0x110)) & 0xff)) */
    assert_string_equal(fp, "SHA256:8PHy8/T19vf4+fr7/P3+/wABAgMEBQYHCAkKCwwNDg8");
}

static void test_tls_certificate(void **state)
{
    char dir[] = "/tmp/test_auth.XXXXXX", cert[64], key[64], fp1[AUTH_FP_LEN],
         fp2[AUTH_FP_LEN], err[512];
    char *c1, *k1, *c2, *k2;
    bool created;
    struct stat st;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    assert_int_equal(tlscert_load_or_create(cert, key, &c1, &k1, &created, err, sizeof(err)), 0);
    assert_true(created);
    assert_non_null(strstr(c1, "BEGIN CERTIFICATE"));
    assert_non_null(strstr(k1, "PRIVATE KEY"));
    assert_int_equal(stat(key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(cert, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* The second start loads the same certificate: the pin stays. */
    assert_int_equal(tlscert_load_or_create(cert, key, &c2, &k2, &created, err, sizeof(err)), 0);
    assert_false(created);
    assert_string_equal(c1, c2);
    assert_int_equal(tlscert_fingerprint(c1, strlen(c1), fp1, err, sizeof(err)), 0);
    assert_int_equal(tlscert_fingerprint(c2, strlen(c2), fp2, err, sizeof(err)), 0);
    assert_string_equal(fp1, fp2);
    assert_int_equal(strlen(fp1), 7 + 43);
    assert_int_equal(strncmp(fp1, "SHA256:", 7), 0);
    assert_int_equal(tlscert_fingerprint("junk", 4, fp1, err, sizeof(err)), -1);
    free(c1); free(k1); free(c2); free(k2);
    /* A key without its certificate is an error, not a new pair. */
    unlink(cert);
    assert_int_equal(tlscert_load_or_create(cert, key, &c1, &k1, &created, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "give both or neither"));
    unlink(key);
    rmdir(dir);
}

/* ---- roles on the API's routes ---- */

static int authorize(enum xend_role role, const char *method, const char *path)
{
    ApiRequest rq = { .method = method, .path = path, .local = true, .role = role };
    ApiReply rp = { 0 };
    int r = api_authorize(&rq, &rp);

    if (r < 0) {
        assert_non_null(rp.body);
        r = rp.status;
    }
    free(rp.body);
    return r;
}

static void test_route_roles(void **state)
{
    /* Every route of the API: what a read-only client may do. */
    static const struct { const char *m, *path; bool ro_ok; } routes[] = {
        { "GET", "/v1/host", true },
        { "GET", "/v1/events", true },
        { "GET", "/v1/domains", true },
        { "GET", "/v1/domains/web1", true },
        { "GET", "/v1/domains/0", true },
        { "GET", "/v1/domains/web1/log", true },
        { "GET", "/v1/domains/web1/console", false },
        { "POST", "/v1/domains", false },
        { "DELETE", "/v1/domains/web1", false },
        { "POST", "/v1/domains/web1/start", false },
        { "POST", "/v1/domains/web1/destroy", false },
        { "POST", "/v1/domains/web1/shutdown", false },
        { "POST", "/v1/domains/web1/reboot", false },
        { "POST", "/v1/domains/web1/pause", false },
        { "POST", "/v1/domains/web1/unpause", false },
        { "POST", "/v1/domains/web1/mem", false },
        { "POST", "/v1/domains/web1/vcpus", false },
        { "POST", "/v1/domains/web1/autostart", false },
        { "POST", "/v1/domains/web1/save", false },
        { "POST", "/v1/domains/web1/managedsave", false },
        { "POST", "/v1/domains/web1/migrate", false },
        { "POST", "/v1/restore", false },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        assert_int_equal(authorize(XEND_ROLE_FULL, routes[i].m, routes[i].path), 0);
        assert_int_equal(authorize(XEND_ROLE_RO, routes[i].m, routes[i].path),
                         routes[i].ro_ok ? 0 : 403);
    }
    /* Unknown routes are told apart before any body is read. */
    assert_int_equal(authorize(XEND_ROLE_RO, "GET", "/v1/nothing"), 404);
    assert_int_equal(authorize(XEND_ROLE_RO, "PUT", "/v1/domains"), 405);
    assert_int_equal(authorize(XEND_ROLE_RO, "DELETE", "/v1/host"), 405);
}

static int handle(enum xend_role role, const char *method, const char *path, const char *body,
                  char **msg)
{
    ApiRequest rq = { .method = method, .path = path, .body = body ? body : "",
                      .len = body ? strlen(body) : 0, .local = true, .role = role };
    ApiReply rp = { 0 };

    api_handle(&rq, &rp);
    if (msg)
        *msg = rp.body;
    else
        free(rp.body);
    return rp.status;
}

static void test_handle_refuses_ro(void **state)
{
    const char *cfg = "{\"config\": \"name = \\\"g1\\\"\\nmemory = 64\\n\"}";
    char *msg;

    (void)state;
    /* api_handle checks the role too, whatever the server did. */
    assert_int_equal(handle(XEND_ROLE_RO, "POST", "/v1/domains", cfg, &msg), 403);
    assert_non_null(strstr(msg, "read-only: create needs full access"));
    free(msg);
    assert_int_equal(handle(XEND_ROLE_RO, "GET", "/v1/domains/g1", NULL, NULL), 404);
    assert_int_equal(handle(XEND_ROLE_FULL, "POST", "/v1/domains", cfg, NULL), 201);
    assert_int_equal(handle(XEND_ROLE_RO, "POST", "/v1/domains/g1/destroy", NULL, &msg), 403);
    assert_non_null(strstr(msg, "destroy needs full access"));
    free(msg);
    assert_int_equal(handle(XEND_ROLE_RO, "DELETE", "/v1/domains/g1", NULL, &msg), 403);
    assert_non_null(strstr(msg, "undefine needs full access"));
    free(msg);
    assert_int_equal(handle(XEND_ROLE_RO, "GET", "/v1/domains/g1/console", NULL, NULL), 403);
    assert_int_equal(handle(XEND_ROLE_RO, "GET", "/v1/domains/g1", NULL, &msg), 200);
    assert_non_null(strstr(msg, "\"running\""));   /* still running */
    free(msg);
    assert_int_equal(handle(XEND_ROLE_FULL, "POST", "/v1/domains/g1/destroy", NULL, NULL), 200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokens_file),
        cmocka_unit_test(test_tokens_file_errors),
        cmocka_unit_test(test_bearer_role),
        cmocka_unit_test(test_peer_counts),
        cmocka_unit_test(test_fingerprint_format),
        cmocka_unit_test(test_tls_certificate),
        cmocka_unit_test(test_route_roles),
        cmocka_unit_test(test_handle_refuses_ro),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
