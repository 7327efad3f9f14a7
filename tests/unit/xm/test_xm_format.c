/* xm layouts, byte for byte against Xen 3.1's xm (RHEL 5). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "xm/xm.h"

static xeno_domain_info mkinfo(int id, xeno_domain_state st, uint64_t mem, unsigned vcpus, double t)
{
    xeno_domain_info i;
    memset(&i, 0, sizeof(i));
    i.id = id;
    i.state = st;
    i.mem_mib = mem;
    i.maxmem_mib = mem;
    i.vcpus = vcpus;
    i.cpu_time_s = t;
    i.uptime_s = -1;
    return i;
}

static void test_list_header(void **s)
{
    char b[256];
    xm_list_header(b, sizeof(b));
    /* "%-40s %3s %8s %5s %5s %9s" as Xen printed it */
    assert_string_equal(b, "Name                                      ID Mem(MiB) VCPUs State   Time(s)");
}

static void test_list_rows(void **s)
{
    char b[256];
    xeno_domain_info i = mkinfo(0, XENO_STATE_RUNNING, 1024, 2, 301.64);
    xm_list_row(b, sizeof(b), "Domain-0", &i);
    assert_string_equal(b, "Domain-0                                   0     1024     2 r-----    301.6");
    i = mkinfo(12, XENO_STATE_PAUSED, 256, 1, 0.05);
    xm_list_row(b, sizeof(b), "web1", &i);
    assert_string_equal(b, "web1                                      12      256     1 --p---      0.1");
    i = mkinfo(-1, XENO_STATE_STOPPED, 128, 1, 0);
    xm_list_row(b, sizeof(b), "mail", &i);
    assert_string_equal(b, "mail                                              128     1 ------      0.0");
    /* A long name pushes the row right, as Python's %-40s did. */
    i = mkinfo(3, XENO_STATE_BLOCKED, 64, 1, 12345.67);
    xm_list_row(b, sizeof(b), "a-very-long-domain-name-that-is-more-than-forty", &i);
    assert_string_equal(b, "a-very-long-domain-name-that-is-more-than-forty   3       64     1 -b----  12345.7");
    /* Control characters from a hostile name are not passed to the terminal. */
    i = mkinfo(4, XENO_STATE_RUNNING, 64, 1, 1);
    xm_list_row(b, sizeof(b), "bad\033[2Jname", &i);
    assert_non_null(strstr(b, "bad?[2Jname"));
    /* The header and rows line up: same width up to the end of Time(s). */
    char h[256];
    xm_list_header(h, sizeof(h));
    i = mkinfo(0, XENO_STATE_RUNNING, 1024, 2, 301.64);
    xm_list_row(b, sizeof(b), "Domain-0", &i);
    assert_int_equal(strlen(h), strlen(b));
}

static void test_state_string(void **s)
{
    static const struct { xeno_domain_state st; const char *want; } t[] = {
        { XENO_STATE_RUNNING, "r-----" }, { XENO_STATE_BLOCKED, "-b----" },
        { XENO_STATE_PAUSED, "--p---" },  { XENO_STATE_SHUTDOWN, "---s--" },
        { XENO_STATE_CRASHED, "----c-" }, { XENO_STATE_DYING, "-----d" },
        { XENO_STATE_STOPPED, "------" }, { XENO_STATE_UNKNOWN, "------" },
        { XENO_STATE_SAVED, "---S--" },   { XENO_STATE_INCOMING, "------" },
        { XENO_STATE_UNRESPONSIVE, "u-----" },
        { (xeno_domain_state)99, "------" },
    };
    char b[7];
    for (size_t k = 0; k < sizeof(t) / sizeof(t[0]); k++) {
        xm_state_string(t[k].st, b);
        assert_string_equal(b, t[k].want);
    }
}

static void test_uptime(void **s)
{
    char b[64];
    xm_uptime_string(b, sizeof(b), 65);
    assert_string_equal(b, " 0:01:05");
    xm_uptime_string(b, sizeof(b), 93784);
    assert_string_equal(b, "1 day,  2:03:04");
    xm_uptime_string(b, sizeof(b), 3 * 86400 + 11 * 3600 + 5);
    assert_string_equal(b, "3 days, 11:00:05");
    xm_uptime_string(b, sizeof(b), -5);
    assert_string_equal(b, " 0:00:00");
    xm_uptime_header(b, sizeof(b));
    assert_string_equal(b, "Name                              ID Uptime");
    xm_uptime_row(b, sizeof(b), "web1", 1, 65);
    assert_string_equal(b, "web1                               1  0:01:05");
}

static void test_vcpu_and_top(void **s)
{
    char b[256];
    xm_vcpu_header(b, sizeof(b));
    assert_string_equal(b, "Name                              ID  VCPU   CPU State   Time(s) CPU Affinity");
    xeno_domain_info i = mkinfo(1, XENO_STATE_RUNNING, 256, 2, 10.0);
    xm_vcpu_row(b, sizeof(b), "web1", &i, 1);
    assert_string_equal(b, "web1                               1     1     -   r--       5.0 any cpu");
    xm_top_header(b, sizeof(b));
    assert_string_equal(b, "      NAME  STATE   CPU(sec) CPU(%)     MEM(k) MEM(%)  MAXMEM(k) MAXMEM(%) VCPUS");
    xm_top_row(b, sizeof(b), "web1", &i, 12.5, 1024);
    assert_string_equal(b, "      web1 r-----         10   12.5     262144   25.0     262144      25.0     2");
    xm_top_row(b, sizeof(b), "web1", &i, 0, 0);     /* unknown host memory */
    assert_string_equal(b, "      web1 r-----         10    0.0     262144    0.0     262144       0.0     2");
}

static void test_parse(void **s)
{
    uint64_t m;
    assert_int_equal(xm_parse_mem_mib("512", &m), 0);
    assert_int_equal(m, 512);
    assert_int_equal(xm_parse_mem_mib("2G", &m), 0);
    assert_int_equal(m, 2048);
    assert_int_equal(xm_parse_mem_mib("262144k", &m), 0);
    assert_int_equal(m, 256);
    assert_int_equal(xm_parse_mem_mib("128m", &m), 0);
    assert_int_equal(m, 128);
    const char *bad[] = { "", "0", "-1", "12x", "1GG", "abc", " 5", "99999999999999999999",
                          "100k" /* rounds to 0 MiB */ };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
        assert_int_equal(xm_parse_mem_mib(bad[k], &m), -1);
    unsigned long v;
    assert_int_equal(xm_parse_uint("4", 1, 4096, &v), 0);
    assert_int_equal(v, 4);
    assert_int_equal(xm_parse_uint("0", 1, 4096, &v), -1);
    assert_int_equal(xm_parse_uint("4097", 1, 4096, &v), -1);
    assert_int_equal(xm_parse_uint("-3", 0, 10, &v), -1);
    assert_int_equal(xm_parse_uint("3a", 0, 10, &v), -1);
    assert_int_equal(xm_parse_uint(NULL, 0, 10, &v), -1);
}

static void test_host_port(void **s)
{
    static const struct { const char *in, *host; unsigned long port; } ok[] = {
        { "dest", "dest", 0 }, { "dest:8012", "dest", 8012 }, { "10.0.0.2:1", "10.0.0.2", 1 },
        { "[::1]:8002", "::1", 8002 }, { "[fe80::1]", "fe80::1", 0 }, { "fe80::1", "fe80::1", 0 },
    };
    static const char *const bad[] = { "", ":8002", "dest:", "dest:0", "dest:65536", "dest:x",
                                        "[::1", "[]:1", "[::1]x", "a b", "a/b" };
    char host[64];
    unsigned long port;

    for (size_t k = 0; k < sizeof(ok) / sizeof(ok[0]); k++) {
        assert_int_equal(xm_parse_host_port(ok[k].in, host, sizeof(host), &port), 0);
        assert_string_equal(host, ok[k].host);
        assert_int_equal(port, ok[k].port);
    }
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
        if (xm_parse_host_port(bad[k], host, sizeof(host), &port) == 0)
            fail_msg("'%s' parsed", bad[k]);
    assert_int_equal(xm_parse_host_port("abcdefgh", host, 8, &port), -1);   /* too long */
}

static void test_progress(void **s)
{
    xeno_progress p = { .op = "migrate", .state = "active", .round = 2, .bytes = 48ull << 20,
                        .total_bytes = 128ull << 20, .dirty_pages = 1034, .rate_mbps = 312.4 };
    char b[256];

    xm_progress_line(b, sizeof(b), "Migrating web1", &p, false);
    assert_string_equal(b, "Migrating web1: active, 37%, 48.0 MiB of 128.0 MiB, 312 Mb/s, "
                           "round 2, 1034 dirty pages");
    xm_progress_line(b, sizeof(b), "Migrating web1", &p, true);
    assert_string_equal(b, "Migrating web1 [===========>                  ]  37%  48.0 MiB/128.0 MiB"
                           "  312 Mb/s  round 2  1034 dirty");
    /* Resent pages: never past 100 %. */
    p.bytes = 300ull << 20;
    xm_progress_line(b, sizeof(b), "M", &p, true);
    assert_non_null(strstr(b, "[==============================] 100%  300.0 MiB/128.0 MiB"));
    /* A save: no rounds, no rate. */
    xeno_progress q = { .op = "save", .state = "active", .bytes = 3ull << 30,
                        .total_bytes = 4ull << 30 };
    xm_progress_line(b, sizeof(b), "Saving db", &q, false);
    assert_string_equal(b, "Saving db: active, 75%, 3.0 GiB of 4.0 GiB");
    /* Nothing to measure yet. */
    xeno_progress r = { .op = "migrate", .state = "connecting" };
    xm_progress_line(b, sizeof(b), "Migrating web1", &r, true);
    assert_string_equal(b, "Migrating web1: connecting");
}

static void test_sanitize(void **s)
{
    char b[8];
    xm_sanitize(b, sizeof(b), "a\nb\x7f" "cdefghij");
    assert_string_equal(b, "a?b?cde");
    xm_sanitize(b, sizeof(b), NULL);
    assert_string_equal(b, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_header), cmocka_unit_test(test_list_rows),
        cmocka_unit_test(test_state_string), cmocka_unit_test(test_uptime),
        cmocka_unit_test(test_vcpu_and_top), cmocka_unit_test(test_parse),
        cmocka_unit_test(test_sanitize), cmocka_unit_test(test_host_port),
        cmocka_unit_test(test_progress),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
