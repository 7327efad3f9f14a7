/* Unit tests for libvirt_xdr.c: XDR as libvirt's RPC encodes it (byte
 * for byte), the bounds-checked decoder on truncated and hostile input,
 * frame lengths, libvirt's error messages, UUIDs, procedure names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "libvirt.h"

static void assert_bytes(const XdrBuf *b, const uint8_t *want, size_t n)
{
    assert_false(b->err);
    assert_int_equal(b->len, n);
    assert_memory_equal(b->p, want, n);
}

static void test_encode_scalars(void **state)
{
    static const uint8_t want[] = {
        0x12, 0x34, 0x56, 0x78,                          /* u32 */
        0xff, 0xff, 0xff, 0xfe,                          /* i32 -2 */
        0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,  /* u64 */
        0x3f, 0xf0, 0, 0, 0, 0, 0, 0,                    /* double 1.0 */
    };
    XdrBuf b;

    (void)state;
    xdr_buf_init(&b, 1024);
    xdr_put_u32(&b, 0x12345678);
    xdr_put_i32(&b, -2);
    xdr_put_u64(&b, 0x100000002ull);
    xdr_put_double(&b, 1.0);
    assert_bytes(&b, want, sizeof(want));
    xdr_buf_free(&b);
}

static void test_encode_strings(void **state)
{
    static const uint8_t want[] = {
        0, 0, 0, 3, 'a', 'b', 'c', 0,                   /* string, padded */
        0, 0, 0, 0,                                     /* NULL remote_string */
        0, 0, 0, 1, 0, 0, 0, 4, 'x', 'y', 'z', 'w',     /* present, no padding */
        0, 0, 0, 'h', 0, 0, 0, 'i', 0, 0, 0, 0,         /* char[3]: 4 bytes a char */
        1, 2, 3, 0,                                     /* fixed opaque, padded */
    };
    XdrBuf b;

    (void)state;
    xdr_buf_init(&b, 1024);
    xdr_put_string(&b, "abc");
    xdr_put_opt_string(&b, NULL);
    xdr_put_opt_string(&b, "xyzw");
    xdr_put_char_array(&b, "hi", 3);
    xdr_put_fixed(&b, (uint8_t[]){ 1, 2, 3 }, 3);
    assert_bytes(&b, want, sizeof(want));
    xdr_buf_free(&b);
}

static void test_encode_limit(void **state)
{
    XdrBuf b;

    (void)state;
    xdr_buf_init(&b, 8);
    xdr_put_u64(&b, 1);
    assert_false(b.err);
    xdr_put_u32(&b, 1);
    assert_true(b.err);
    assert_int_equal(b.len, 8);
    xdr_put_string(&b, "more");
    assert_int_equal(b.len, 8);
    xdr_buf_free(&b);
}

static void test_decode_round_trip(void **state)
{
    XdrBuf b;
    XdrDec d;
    LvError e = { 0 };
    uint8_t u[4];

    (void)state;
    xdr_buf_init(&b, 1024);
    xdr_put_u32(&b, 7);
    xdr_put_i64(&b, -5);
    xdr_put_string(&b, "hello");
    xdr_put_opt_string(&b, NULL);
    xdr_put_opt_string(&b, "x");
    xdr_put_fixed(&b, "\x01\x02\x03\x04", 4);
    xdr_put_u32(&b, 1);
    xdr_dec_init(&d, b.p, b.len);
    assert_int_equal(xdr_get_u32(&d), 7);
    assert_int_equal(xdr_get_i64(&d), -5);
    assert_string_equal(xdr_get_string(&d, 100), "hello");
    assert_null(xdr_get_opt_string(&d, 100));
    assert_string_equal(xdr_get_opt_string(&d, 100), "x");
    xdr_get_fixed(&d, u, 4);
    assert_memory_equal(u, "\x01\x02\x03\x04", 4);
    assert_true(xdr_get_bool(&d));
    assert_int_equal(xdr_dec_finish(&d, &e), 0);
    xdr_dec_free(&d);
    xdr_buf_free(&b);
}

/* A string that claims more bytes than are left: an error, no read past
 * the end (ASan would see it), and later getters do nothing. */
static void test_decode_truncated(void **state)
{
    static const uint8_t msg[] = { 0, 0, 0, 100, 'a', 'b' };
    XdrDec d;
    LvError e = { 0 };

    (void)state;
    xdr_dec_init(&d, msg, sizeof(msg));
    assert_string_equal(xdr_get_string(&d, 1000), "");
    assert_true(d.err);
    assert_int_equal(xdr_get_u32(&d), 0);
    assert_int_equal(xdr_dec_finish(&d, &e), -1);
    assert_int_equal(e.code, LV_ERR_RPC);
    assert_non_null(strstr(e.msg, "malformed arguments"));
    xdr_dec_free(&d);

    xdr_dec_init(&d, msg, 2);
    assert_int_equal(xdr_get_u32(&d), 0);
    assert_true(d.err);
    xdr_dec_free(&d);
}

/* Lengths and counts are checked against their limit before anything is
 * allocated: 4 GiB claimed in 8 bytes is refused at once. */
static void test_decode_limits(void **state)
{
    static const uint8_t huge[] = { 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0 };
    static const uint8_t count[] = { 0, 0, 0x10, 0, 0, 0, 0, 0 };   /* 4096 elements */
    static const uint8_t nul[] = { 0, 0, 0, 3, 'a', 0, 'b', 0 };
    static const uint8_t badbool[] = { 0, 0, 0, 2 };
    XdrDec d;

    (void)state;
    xdr_dec_init(&d, huge, sizeof(huge));
    xdr_get_string(&d, LV_STRING_MAX);
    assert_true(d.err);
    assert_non_null(strstr(d.why, "limit"));
    xdr_dec_free(&d);

    xdr_dec_init(&d, count, sizeof(count));
    assert_int_equal(xdr_get_count(&d, 16384, 24), 0);   /* 4096 x 24 bytes in 4 */
    assert_true(d.err);
    xdr_dec_free(&d);

    xdr_dec_init(&d, count, sizeof(count));
    assert_int_equal(xdr_get_count(&d, 100, 0), 0);       /* over its limit */
    assert_true(d.err);
    xdr_dec_free(&d);

    xdr_dec_init(&d, nul, sizeof(nul));
    xdr_get_string(&d, 100);
    assert_true(d.err);
    assert_non_null(strstr(d.why, "NUL"));
    xdr_dec_free(&d);

    xdr_dec_init(&d, badbool, sizeof(badbool));
    xdr_get_bool(&d);
    assert_true(d.err);
    xdr_dec_free(&d);
}

static void test_decode_leftover(void **state)
{
    static const uint8_t msg[] = { 0, 0, 0, 1, 0, 0, 0, 2 };
    XdrDec d;
    LvError e = { 0 };

    (void)state;
    xdr_dec_init(&d, msg, sizeof(msg));
    xdr_get_u32(&d);
    assert_int_equal(xdr_dec_finish(&d, &e), -1);
    assert_non_null(strstr(e.msg, "left over"));
    xdr_dec_free(&d);
}

static void test_header_and_frame(void **state)
{
    LvHeader h = { LV_PROGRAM, 1, 273, LV_CALL, 42, LV_OK }, g;
    XdrBuf b;
    XdrDec d;
    LvError e;
    uint32_t len;

    (void)state;
    xdr_buf_init(&b, 64);
    lv_header_put(&b, &h);
    assert_int_equal(b.len, LV_HEADER_LEN);
    assert_memory_equal(b.p, "\x20\x00\x80\x86", 4);
    xdr_dec_init(&d, b.p, b.len);
    assert_int_equal(lv_header_get(&d, &g), 0);
    assert_memory_equal(&g, &h, sizeof(h));
    xdr_dec_free(&d);
    xdr_buf_free(&b);

    assert_int_equal(lv_frame_length((uint8_t[]){ 0, 0, 0, 28 }, &len, &e), 0);
    assert_int_equal(len, 28);
    assert_int_equal(lv_frame_length((uint8_t[]){ 0, 0, 0, 27 }, &len, &e), -1);
    assert_non_null(strstr(e.msg, "too small"));
    assert_int_equal(lv_frame_length((uint8_t[]){ 0x02, 0, 0, 0 }, &len, &e), 0); /* 32 MiB */
    assert_int_equal(lv_frame_length((uint8_t[]){ 0x02, 0, 0, 1 }, &len, &e), -1);
    assert_non_null(strstr(e.msg, "too large"));
}

static void test_errors(void **state)
{
    LvError e;

    (void)state;
    assert_int_equal(lv_error(&e, LV_ERR_NO_DOMAIN, "no domain with matching name '%s'", "x"), -1);
    assert_string_equal(e.msg, "Domain not found: no domain with matching name 'x'");
    assert_int_equal(e.code, 42);
    lv_error(&e, LV_ERR_OPERATION_INVALID, "domain is not running");
    assert_string_equal(e.msg, "Requested operation is not valid: domain is not running");
    assert_int_equal(e.code, 55);
    lv_error(&e, LV_ERR_NO_STORAGE_POOL, "p");
    assert_int_equal(e.code, 49);
    assert_int_equal(e.domain, LV_FROM_STORAGE);
    lv_error(&e, LV_ERR_NO_STORAGE_VOL, "v");
    assert_int_equal(e.code, 50);
    lv_error(&e, LV_ERR_NO_SUPPORT, "virDomainSnapshotNum");
    assert_string_equal(e.msg, "this function is not supported by the connection driver: "
                        "virDomainSnapshotNum");
    lv_error(&e, LV_ERR_RPC, "line one\nline two");
    assert_string_equal(e.msg, "line one line two");
}

static void test_error_encoding(void **state)
{
    LvError e;
    XdrBuf b;
    XdrDec d;
    LvError f = { 0 };

    (void)state;
    lv_error(&e, LV_ERR_NO_DOMAIN, "gone");
    xdr_buf_init(&b, 4096);
    lv_put_error(&b, &e);
    xdr_dec_init(&d, b.p, b.len);
    assert_int_equal(xdr_get_i32(&d), 42);
    assert_int_equal(xdr_get_i32(&d), LV_FROM_XEN);
    assert_string_equal(xdr_get_opt_string(&d, 2048), "Domain not found: gone");
    assert_int_equal(xdr_get_i32(&d), 2);               /* level: error */
    for (int i = 0; i < 4; i++)
        assert_null(xdr_get_opt_string(&d, 16));        /* dom, str1..str3 */
    assert_int_equal(xdr_get_i32(&d), 0);
    assert_int_equal(xdr_get_i32(&d), 0);
    assert_false(xdr_get_bool(&d));                     /* net */
    assert_int_equal(xdr_dec_finish(&d, &f), 0);
    xdr_dec_free(&d);
    xdr_buf_free(&b);
}

static void test_uuid_and_domain(void **state)
{
    uint8_t u[16];
    char s[37];
    XdrBuf b;
    XdrDec d;
    LvDomRef r;

    (void)state;
    assert_int_equal(lv_uuid_parse("0123456789abcdef0123456789ABCDEF", u), 0);
    lv_uuid_format(u, s);
    assert_string_equal(s, "01234567-89ab-cdef-0123-456789abcdef");
    assert_int_equal(lv_uuid_parse(s, u), 0);
    assert_int_equal(lv_uuid_parse("0123", u), -1);
    assert_int_equal(lv_uuid_parse("0123456789abcdef0123456789abcdeg", u), -1);
    assert_int_equal(lv_uuid_parse("0123456789abcdef0123456789abcdef00", u), -1);

    xdr_buf_init(&b, 256);
    lv_put_domain(&b, "g1", s, 3);
    assert_int_equal(b.len, 4 + 4 + 16 + 4);
    xdr_dec_init(&d, b.p, b.len);
    lv_get_domain(&d, &r);
    assert_false(d.err);
    assert_string_equal(r.name, "g1");
    assert_memory_equal(r.uuid, u, 16);
    assert_int_equal(r.id, 3);
    xdr_dec_free(&d);
    xdr_buf_free(&b);
}

static void test_typed_params(void **state)
{
    static const uint8_t want[] = { 0, 0, 0, 1, 'a', 0, 0, 0, 0, 0, 0, 4,
                                    0, 0, 0, 0, 0, 0, 0, 9 };
    XdrBuf b;

    (void)state;
    xdr_buf_init(&b, 256);
    lv_put_tp_ullong(&b, "a", 9);
    assert_bytes(&b, want, sizeof(want));
    xdr_buf_free(&b);
}

static void test_proc_names(void **state)
{
    char buf[96];

    (void)state;
    assert_string_equal(lv_proc_api_name(187, buf, sizeof(buf)), "virDomainSnapshotNum");
    assert_string_equal(lv_proc_api_name(273, buf, sizeof(buf)), "virConnectListAllDomains");
    assert_string_equal(lv_proc_api_name(11, buf, sizeof(buf)), "virDomainDefineXML");
    assert_string_equal(lv_proc_api_name(24, buf, sizeof(buf)), "virDomainLookupByUUID");
    assert_string_equal(lv_proc_api_name(351, buf, sizeof(buf)), "virDomainGetIOThreadInfo");
    assert_null(lv_proc_api_name(0, buf, sizeof(buf)));
    assert_string_equal(lv_proc_api_name(443, buf, sizeof(buf)), "virDomainFDAssociate");
    assert_null(lv_proc_api_name(444, buf, sizeof(buf)));
    assert_null(lv_proc_api_name(100000, buf, sizeof(buf)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_scalars),
        cmocka_unit_test(test_encode_strings),
        cmocka_unit_test(test_encode_limit),
        cmocka_unit_test(test_decode_round_trip),
        cmocka_unit_test(test_decode_truncated),
        cmocka_unit_test(test_decode_limits),
        cmocka_unit_test(test_decode_leftover),
        cmocka_unit_test(test_header_and_frame),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_error_encoding),
        cmocka_unit_test(test_uuid_and_domain),
        cmocka_unit_test(test_typed_params),
        cmocka_unit_test(test_proc_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
