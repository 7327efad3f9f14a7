/* Unit tests of xend's libvirt server over socketpairs, with the fake VMM
 * layer of tests/unit/xend/xend_stubs.c: the connection sequence libvirt's
 * client library runs, domain procedures on the registry, errors with
 * libvirt's codes, calls in flight at once, keepalive, events, storage,
 * read-only clients, and hostile frames (the client is answered with an
 * error, or dropped, and the server goes on serving others). */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/io.h"
#include "common/log.h"
#include "libvirt.h"
#include "xend.h"

static char tmpdir[] = "/tmp/xeno-lvrpc.XXXXXX";

/* state.c's state_path (the fake layer has the rest). */
int state_path(char *buf, size_t size, const char *fmt, ...)
{
    char rel[PATH_MAX];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(rel, sizeof(rel), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(rel))
        return -1;
    n = snprintf(buf, size, "%s/%s", xconf.state_dir, rel);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* ---- a small client ---- */

typedef struct Reply {
    LvHeader h;
    uint8_t *p;
    size_t len;
    XdrDec d;
} Reply;

static int client(bool readonly)
{
    int sv[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(lv_serve_fd(sv[1], readonly), 0);
    return sv[0];
}

static void send_frame(int fd, const LvHeader *h, const void *payload, size_t len)
{
    XdrBuf b;

    xdr_buf_init(&b, LV_MESSAGE_MAX);
    xdr_put_u32(&b, (uint32_t)(4 + LV_HEADER_LEN + len));
    lv_header_put(&b, h);
    xdr_put_fixed(&b, payload, len);    /* payloads are whole XDR units */
    assert_int_equal(io_write_all(fd, b.p, b.len), 0);
    xdr_buf_free(&b);
}

static void send_call(int fd, int proc, uint32_t serial, const XdrBuf *args)
{
    LvHeader h = { LV_PROGRAM, LV_PROTOCOL_VERSION, proc, LV_CALL, serial, LV_OK };

    send_frame(fd, &h, args ? args->p : NULL, args ? args->len : 0);
}

static int read_n(int fd, void *buf, size_t n)
{
    size_t got = 0;

    while (got < n) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        ssize_t r;

        if (poll(&p, 1, 5000) != 1)
            return -1;
        r = read(fd, (uint8_t *)buf + got, n - got);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

/* The next frame; -1 at EOF (or after 5 s of silence). */
static int read_frame(int fd, Reply *r)
{
    uint8_t w[4], hb[LV_HEADER_LEN];
    uint32_t len;
    XdrDec d;

    memset(r, 0, sizeof(*r));
    if (read_n(fd, w, 4) < 0)
        return -1;
    len = (uint32_t)w[0] << 24 | (uint32_t)w[1] << 16 | (uint32_t)w[2] << 8 | w[3];
    assert_true(len >= LV_MESSAGE_MIN);
    assert_int_equal(read_n(fd, hb, LV_HEADER_LEN), 0);
    xdr_dec_init(&d, hb, LV_HEADER_LEN);
    assert_int_equal(lv_header_get(&d, &r->h), 0);
    r->len = len - 4 - LV_HEADER_LEN;
    r->p = malloc(r->len + 1);
    assert_int_equal(read_n(fd, r->p, r->len), 0);
    xdr_dec_init(&r->d, r->p, r->len);
    return 0;
}

static void reply_free(Reply *r)
{
    xdr_dec_free(&r->d);
    free(r->p);
    r->p = NULL;
}

/* Events that came while a test waited for a reply. */
static Reply events[16];
static unsigned nevents;

/* Read until the reply of serial; events are kept. */
static void read_reply(int fd, uint32_t serial, Reply *r)
{
    for (;;) {
        if (read_frame(fd, r) < 0)
            fail_msg("no reply to serial %u: the connection ended", serial);
        if (r->h.type == LV_MESSAGE && r->h.prog == LV_PROGRAM && nevents < 16) {
            events[nevents++] = *r;
            continue;
        }
        assert_int_equal(r->h.type, LV_REPLY);
        assert_int_equal(r->h.serial, serial);
        return;
    }
}

static uint32_t serial = 100;

/* A call; 0 with *r the reply's decoder, or -1 with e the error. */
static int call(int fd, int proc, const XdrBuf *args, Reply *r, LvError *e)
{
    uint32_t s = serial++;

    send_call(fd, proc, s, args);
    read_reply(fd, s, r);
    assert_int_equal(r->h.proc, proc);
    if (r->h.status == LV_OK)
        return 0;
    assert_int_equal(r->h.status, LV_ERROR);
    e->code = xdr_get_i32(&r->d);
    e->domain = xdr_get_i32(&r->d);
    snprintf(e->msg, sizeof(e->msg), "%s", xdr_get_opt_string(&r->d, 4096));
    assert_false(r->d.err);
    reply_free(r);
    return -1;
}

/* A call that must succeed. */
static void ok(int fd, int proc, const XdrBuf *args, Reply *r)
{
    LvError e = { 0 };

    if (call(fd, proc, args, r, &e) < 0)
        fail_msg("procedure %d failed: %d %s", proc, e.code, e.msg);
}

/* A call that must fail with code; its message must contain want. */
static void fails(int fd, int proc, const XdrBuf *args, int code, const char *want)
{
    Reply r;
    LvError e = { 0 };

    if (call(fd, proc, args, &r, &e) == 0) {
        reply_free(&r);
        fail_msg("procedure %d succeeded, wanted error %d", proc, code);
    }
    if (e.code != code || (want && !strstr(e.msg, want)))
        fail_msg("procedure %d: wanted %d \"%s\", got %d \"%s\"", proc, code, want ? want : "",
                 e.code, e.msg);
}

static void done(Reply *r)
{
    LvError e;

    assert_int_equal(xdr_dec_finish(&r->d, &e), 0);
    reply_free(r);
}

static XdrBuf args(void)
{
    XdrBuf b;

    xdr_buf_init(&b, LV_MESSAGE_MAX);
    return b;
}

/* AUTH_LIST, features, CONNECT_OPEN as libvirt's client does. */
static int open_client(bool readonly)
{
    int fd = client(readonly);
    XdrBuf a = args();
    Reply r;

    ok(fd, LVP_AUTH_LIST, NULL, &r);
    assert_int_equal(xdr_get_u32(&r.d), 1);
    assert_int_equal(xdr_get_i32(&r.d), 0);
    done(&r);
    xdr_put_opt_string(&a, "xen:///system");
    xdr_put_u32(&a, 0);
    ok(fd, LVP_CONNECT_OPEN, &a, &r);
    done(&r);
    xdr_buf_free(&a);
    return fd;
}

static const char *dom_xml(const char *name)
{
    static char x[512];

    snprintf(x, sizeof(x), "<domain type='xen'><name>%s</name><memory unit='MiB'>128</memory>"
             "<vcpu>1</vcpu><os><type arch='riscv64'>xen</type></os></domain>", name);
    return x;
}

/* The domain of a reply: name, uuid, id. */
static void get_dom(Reply *r, char name[64], uint8_t uuid[16], int *id)
{
    LvDomRef d;

    lv_get_domain(&r->d, &d);
    snprintf(name, 64, "%s", d.name);
    memcpy(uuid, d.uuid, 16);
    *id = d.id;
}

static void put_dom(XdrBuf *a, const char *name, const uint8_t uuid[16], int id)
{
    char s[37];

    lv_uuid_format(uuid, s);
    lv_put_domain(a, name, s, id);
}

/* DEFINE_XML of dom_xml(name): its uuid. */
static void define(int fd, const char *name, uint8_t uuid[16])
{
    XdrBuf a = args();
    Reply r;
    char n[64];
    int id;

    xdr_put_string(&a, dom_xml(name));
    ok(fd, LVP_DOMAIN_DEFINE_XML, &a, &r);
    get_dom(&r, n, uuid, &id);
    assert_string_equal(n, name);
    assert_int_equal(id, -1);
    done(&r);
    xdr_buf_free(&a);
}

/* A call whose only argument is the domain. */
static int dom_call(int fd, int proc, const char *name, const uint8_t uuid[16], Reply *r,
                    LvError *e)
{
    XdrBuf a = args();
    int rc;

    put_dom(&a, name, uuid, -1);
    rc = call(fd, proc, &a, r, e);
    xdr_buf_free(&a);
    return rc;
}

static void dom_ok(int fd, int proc, const char *name, const uint8_t uuid[16])
{
    Reply r;
    LvError e = { 0 };

    if (dom_call(fd, proc, name, uuid, &r, &e) < 0)
        fail_msg("procedure %d on %s: %s", proc, name, e.msg);
    reply_free(&r);
}

static int dom_int(int fd, int proc, const char *name, const uint8_t uuid[16])
{
    Reply r;
    LvError e = { 0 };
    int v;

    if (dom_call(fd, proc, name, uuid, &r, &e) < 0)
        fail_msg("procedure %d on %s: %s", proc, name, e.msg);
    v = xdr_get_i32(&r.d);
    done(&r);
    return v;
}

/* Wait until the server has no clients left (their threads are gone). */
static void no_clients(void)
{
    for (int i = 0; i < 500; i++) {
        if (!lv_conns_live())
            return;
        usleep(10000);
    }
    fail_msg("clients left over");
}

static void clear_registry(void)
{
    pthread_mutex_lock(&reg_lock);
    reg_clear_locked();
    pthread_mutex_unlock(&reg_lock);
}

/* ---- tests ---- */

static void test_open_sequence(void **state)
{
    int fd = client(false);
    XdrBuf a = args();
    Reply r;

    (void)state;
    xdr_put_i32(&a, 10);       /* VIR_DRV_FEATURE_PROGRAM_KEEPALIVE */
    ok(fd, LVP_CONNECT_SUPPORTS_FEATURE, &a, &r);
    assert_int_equal(xdr_get_i32(&r.d), 1);
    done(&r);
    a.len = 0;
    xdr_put_i32(&a, 1);        /* MIGRATION_V1 */
    ok(fd, LVP_CONNECT_SUPPORTS_FEATURE, &a, &r);
    assert_int_equal(xdr_get_i32(&r.d), 0);
    done(&r);
    fails(fd, LVP_CONNECT_GET_VERSION, NULL, LV_ERR_INTERNAL_ERROR, "connection not open");
    a.len = 0;
    xdr_put_opt_string(&a, "qemu:///system");
    xdr_put_u32(&a, 0);
    fails(fd, LVP_CONNECT_OPEN, &a, LV_ERR_NO_CONNECT, "qemu:///system");
    a.len = 0;
    xdr_put_opt_string(&a, "xen:///system");
    xdr_put_u32(&a, 0);
    ok(fd, LVP_CONNECT_OPEN, &a, &r);
    done(&r);
    ok(fd, LVP_CONNECT_GET_VERSION, NULL, &r);
    assert_int_equal(xdr_get_u64(&r.d), 4002000);
    done(&r);
    ok(fd, LVP_CONNECT_GET_TYPE, NULL, &r);
    assert_string_equal(xdr_get_string(&r.d, 100), "Xen");
    done(&r);
    ok(fd, LVP_CONNECT_GET_URI, NULL, &r);
    assert_string_equal(xdr_get_string(&r.d, 100), "xen:///system");
    done(&r);
    ok(fd, LVP_NODE_GET_INFO, NULL, &r);
    for (int i = 0; i < 32; i++)
        xdr_get_i32(&r.d);     /* model: 32 chars, 4 bytes each */
    assert_true(xdr_get_u64(&r.d) > 0);
    assert_true(xdr_get_i32(&r.d) >= 1);
    for (int i = 0; i < 5; i++)
        xdr_get_i32(&r.d);
    done(&r);
    ok(fd, LVP_CONNECT_GET_CAPABILITIES, NULL, &r);
    assert_non_null(strstr(xdr_get_string(&r.d, LV_STRING_MAX), "<arch name=\"riscv64\">"));
    done(&r);
    xdr_buf_free(&a);
    close(fd);
    no_clients();
}

static void test_not_supported(void **state)
{
    int fd = open_client(false);

    (void)state;
    fails(fd, 187, NULL, LV_ERR_NO_SUPPORT,
          "this function is not supported by the connection driver: virDomainSnapshotNum");
    fails(fd, 9999, NULL, LV_ERR_NO_SUPPORT, "unknown procedure: 9999");
    fails(fd, -1, NULL, LV_ERR_NO_SUPPORT, NULL);
    close(fd);
    no_clients();
}

static void test_domain_lifecycle(void **state)
{
    int fd = open_client(false);
    uint8_t uuid[16], zero[16] = { 0 }, u2[16];
    XdrBuf a = args();
    Reply r;
    char name[64];
    int id;

    (void)state;
    define(fd, "lv1", uuid);

    xdr_put_string(&a, "lv1");
    ok(fd, LVP_DOMAIN_LOOKUP_BY_NAME, &a, &r);
    get_dom(&r, name, u2, &id);
    assert_memory_equal(u2, uuid, 16);
    done(&r);
    a.len = 0;
    xdr_put_string(&a, "nope");
    fails(fd, LVP_DOMAIN_LOOKUP_BY_NAME, &a, LV_ERR_NO_DOMAIN,
          "Domain not found: no domain with matching name 'nope'");

    /* list all: Domain-0 and lv1; inactive only: lv1 */
    a.len = 0;
    xdr_put_i32(&a, 1);
    xdr_put_u32(&a, 0);
    ok(fd, LVP_CONNECT_LIST_ALL_DOMAINS, &a, &r);
    assert_int_equal(xdr_get_u32(&r.d), 2);
    get_dom(&r, name, u2, &id);
    assert_string_equal(name, "Domain-0");
    assert_int_equal(id, 0);
    get_dom(&r, name, u2, &id);
    assert_string_equal(name, "lv1");
    assert_int_equal(xdr_get_u32(&r.d), 2);
    done(&r);
    a.len = 0;
    xdr_put_i32(&a, 1);
    xdr_put_u32(&a, 2);        /* INACTIVE */
    ok(fd, LVP_CONNECT_LIST_ALL_DOMAINS, &a, &r);
    assert_int_equal(xdr_get_u32(&r.d), 1);
    get_dom(&r, name, u2, &id);
    assert_string_equal(name, "lv1");
    assert_int_equal(xdr_get_u32(&r.d), 1);
    done(&r);

    assert_int_equal(dom_int(fd, LVP_DOMAIN_IS_ACTIVE, "lv1", uuid), 0);
    assert_int_equal(dom_int(fd, LVP_DOMAIN_IS_PERSISTENT, "lv1", uuid), 1);
    dom_ok(fd, LVP_DOMAIN_CREATE, "lv1", uuid);
    assert_int_equal(dom_int(fd, LVP_DOMAIN_IS_ACTIVE, "lv1", uuid), 1);
    {
        LvError e = { 0 };

        assert_int_equal(dom_call(fd, LVP_DOMAIN_CREATE, "lv1", uuid, &r, &e), -1);
        assert_int_equal(e.code, LV_ERR_OPERATION_INVALID);
    }

    /* info: running, 128 MiB, 1 vCPU */
    {
        LvError e = { 0 };

        assert_int_equal(dom_call(fd, LVP_DOMAIN_GET_INFO, "lv1", uuid, &r, &e), 0);
        assert_int_equal(xdr_get_u32(&r.d), 1);             /* VIR_DOMAIN_RUNNING */
        assert_int_equal(xdr_get_u64(&r.d), 128 * 1024);
        assert_int_equal(xdr_get_u64(&r.d), 128 * 1024);
        assert_int_equal(xdr_get_u32(&r.d), 1);
        xdr_get_u64(&r.d);
        done(&r);
    }
    a.len = 0;
    put_dom(&a, "lv1", uuid, -1);
    xdr_put_u32(&a, 0);
    ok(fd, LVP_DOMAIN_GET_XML_DESC, &a, &r);
    {
        const char *xml = xdr_get_string(&r.d, LV_STRING_MAX);
        assert_non_null(strstr(xml, "<domain type=\"xen\" id=\""));
        assert_non_null(strstr(xml, "<name>lv1</name>"));
    }
    done(&r);

    /* by id */
    a.len = 0;
    xdr_put_i32(&a, 12345);
    fails(fd, LVP_DOMAIN_LOOKUP_BY_ID, &a, LV_ERR_NO_DOMAIN, "no domain with matching id 12345");

    dom_ok(fd, LVP_DOMAIN_SUSPEND, "lv1", uuid);
    a.len = 0;
    put_dom(&a, "lv1", uuid, -1);
    xdr_put_u32(&a, 0);
    ok(fd, LVP_DOMAIN_GET_STATE, &a, &r);
    assert_int_equal(xdr_get_i32(&r.d), 3);                 /* PAUSED */
    assert_int_equal(xdr_get_i32(&r.d), 1);                 /* USER */
    done(&r);
    dom_ok(fd, LVP_DOMAIN_RESUME, "lv1", uuid);

    /* memory: 64 MiB live (the fake VMM takes any target) */
    a.len = 0;
    put_dom(&a, "lv1", uuid, -1);
    xdr_put_u64(&a, 64 * 1024);
    xdr_put_u32(&a, 1);        /* AFFECT_LIVE */
    ok(fd, LVP_DOMAIN_SET_MEMORY_FLAGS, &a, &r);
    reply_free(&r);
    a.len = 0;
    put_dom(&a, "lv1", uuid, -1);
    xdr_put_u64(&a, 1024 * 1024);
    fails(fd, LVP_DOMAIN_SET_MEMORY, &a, LV_ERR_INVALID_ARG, "more than the maximum");

    /* Domain-0 is never changed */
    {
        LvError e = { 0 };

        assert_int_equal(dom_call(fd, LVP_DOMAIN_DESTROY, "Domain-0", zero, &r, &e), -1);
        assert_int_equal(e.code, LV_ERR_OPERATION_INVALID);
        assert_non_null(strstr(e.msg, "Domain-0"));
    }

    dom_ok(fd, LVP_DOMAIN_DESTROY, "lv1", uuid);
    assert_int_equal(dom_int(fd, LVP_DOMAIN_IS_ACTIVE, "lv1", uuid), 0);
    dom_ok(fd, LVP_DOMAIN_UNDEFINE, "lv1", uuid);
    {
        LvError e = { 0 };

        assert_int_equal(dom_call(fd, LVP_DOMAIN_GET_INFO, "lv1", uuid, &r, &e), -1);
        assert_int_equal(e.code, LV_ERR_NO_DOMAIN);
        assert_non_null(strstr(e.msg, "no domain with matching uuid"));
    }
    xdr_buf_free(&a);
    close(fd);
    no_clients();
    clear_registry();
}

/* virt-install's way: createXML (transient, running), then defineXML of
 * the same XML makes it persistent; undefining a running persistent domain
 * makes it transient again. One domain throughout, seen by REST too. */
static void test_create_then_define(void **state)
{
    int fd = open_client(false);
    XdrBuf a = args();
    uint8_t uuid[16], u2[16];
    char name[64];
    int id, id2;
    Reply r;

    (void)state;
    xdr_put_string(&a, dom_xml("lv2"));
    xdr_put_u32(&a, 0);
    ok(fd, LVP_DOMAIN_CREATE_XML, &a, &r);
    get_dom(&r, name, uuid, &id);
    assert_true(id > 0);
    done(&r);
    assert_int_equal(dom_int(fd, LVP_DOMAIN_IS_PERSISTENT, "lv2", uuid), 0);

    a.len = 0;
    xdr_put_string(&a, dom_xml("lv2"));
    ok(fd, LVP_DOMAIN_DEFINE_XML, &a, &r);
    get_dom(&r, name, u2, &id2);
    assert_memory_equal(u2, uuid, 16);
    assert_int_equal(id2, id);
    done(&r);
    assert_int_equal(dom_int(fd, LVP_DOMAIN_IS_PERSISTENT, "lv2", uuid), 1);
    {
        Domain *d;

        pthread_mutex_lock(&reg_lock);
        d = reg_find_name_locked("lv2");
        assert_non_null(d);
        assert_true(d->managed);
        assert_int_equal(d->id, id);
        pthread_mutex_unlock(&reg_lock);
    }

    /* another domain cannot take lv2's name with another uuid */
    a.len = 0;
    xdr_put_string(&a, "<domain type='xen'><name>lv2</name>"
                   "<uuid>11111111-2222-3333-4444-555555555555</uuid><memory>1024</memory>"
                   "<os><type arch='riscv64'>xen</type></os></domain>");
    fails(fd, LVP_DOMAIN_DEFINE_XML, &a, LV_ERR_OPERATION_FAILED, "already exists with uuid");

    dom_ok(fd, LVP_DOMAIN_UNDEFINE, "lv2", uuid);
    assert_int_equal(dom_int(fd, LVP_DOMAIN_IS_PERSISTENT, "lv2", uuid), 0);
    assert_int_equal(dom_int(fd, LVP_DOMAIN_IS_ACTIVE, "lv2", uuid), 1);
    dom_ok(fd, LVP_DOMAIN_DESTROY, "lv2", uuid);
    {
        LvError e = { 0 };

        assert_int_equal(dom_call(fd, LVP_DOMAIN_IS_ACTIVE, "lv2", uuid, &r, &e), -1);
        assert_int_equal(e.code, LV_ERR_NO_DOMAIN);    /* transient and stopped: gone */
    }

    /* XML that cannot be honoured: nothing registered */
    a.len = 0;
    xdr_put_string(&a, "<domain type='xen'><name>lv3</name><memory>1024</memory>"
                   "<os><type arch='riscv64'>xen</type></os><devices><graphics type='vnc'/>"
                   "</devices></domain>");
    xdr_put_u32(&a, 0);
    fails(fd, LVP_DOMAIN_CREATE_XML, &a, LV_ERR_CONFIG_UNSUPPORTED, "<devices><graphics>");
    pthread_mutex_lock(&reg_lock);
    assert_null(reg_find_name_locked("lv3"));
    pthread_mutex_unlock(&reg_lock);
    xdr_buf_free(&a);
    close(fd);
    no_clients();
    clear_registry();
}

/* Several calls sent before any reply is read: each is answered under its
 * own serial. */
static void test_calls_in_flight(void **state)
{
    int fd = open_client(false);
    XdrBuf a = args();
    bool seen[3] = { false };
    Reply r;

    (void)state;
    xdr_put_i32(&a, 1);
    xdr_put_u32(&a, 0);
    send_call(fd, LVP_CONNECT_GET_HOSTNAME, 7, NULL);
    send_call(fd, LVP_CONNECT_LIST_ALL_DOMAINS, 8, &a);
    send_call(fd, LVP_CONNECT_GET_VERSION, 9, NULL);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(read_frame(fd, &r), 0);
        assert_int_equal(r.h.type, LV_REPLY);
        assert_int_equal(r.h.status, LV_OK);
        assert_true(r.h.serial >= 7 && r.h.serial <= 9);
        assert_false(seen[r.h.serial - 7]);
        seen[r.h.serial - 7] = true;
        assert_int_equal(r.h.proc, r.h.serial == 7 ? LVP_CONNECT_GET_HOSTNAME :
                         r.h.serial == 8 ? LVP_CONNECT_LIST_ALL_DOMAINS : LVP_CONNECT_GET_VERSION);
        reply_free(&r);
    }
    xdr_buf_free(&a);
    close(fd);
    no_clients();
}

static void test_keepalive(void **state)
{
    int fd = client(false);
    LvHeader ping = { LV_KEEPALIVE_PROGRAM, 1, LV_KEEPALIVE_PING, LV_MESSAGE, 0, LV_OK };
    Reply r;

    (void)state;
    send_frame(fd, &ping, NULL, 0);
    assert_int_equal(read_frame(fd, &r), 0);
    assert_int_equal(r.h.prog, LV_KEEPALIVE_PROGRAM);
    assert_int_equal(r.h.proc, LV_KEEPALIVE_PONG);
    assert_int_equal(r.h.type, LV_MESSAGE);
    reply_free(&r);
    close(fd);
    no_clients();
}

static void test_readonly(void **state)
{
    int fd = open_client(true);
    uint8_t uuid[16] = { 1 };
    XdrBuf a = args();
    Reply r;

    (void)state;
    xdr_put_i32(&a, 1);
    xdr_put_u32(&a, 0);
    ok(fd, LVP_CONNECT_LIST_ALL_DOMAINS, &a, &r);
    reply_free(&r);
    a.len = 0;
    put_dom(&a, "x", uuid, -1);
    fails(fd, LVP_DOMAIN_DESTROY, &a, LV_ERR_OPERATION_DENIED,
          "read only access prevents virDomainDestroy");
    a.len = 0;
    xdr_put_string(&a, dom_xml("ro"));
    fails(fd, LVP_DOMAIN_DEFINE_XML, &a, LV_ERR_OPERATION_DENIED, NULL);
    xdr_buf_free(&a);
    close(fd);
    no_clients();
}

/* Hostile input: malformed arguments get an error reply and the client
 * goes on; frames that cannot be trusted end that client only. */
static void test_bad_input(void **state)
{
    int fd = open_client(false), other = open_client(false);
    XdrBuf a = args();
    Reply r;
    uint8_t buf[64];

    (void)state;
    /* a string claiming 100 bytes, 2 present */
    xdr_put_u32(&a, 100);
    xdr_put_fixed(&a, "ab", 2);
    fails(fd, LVP_DOMAIN_LOOKUP_BY_NAME, &a, LV_ERR_RPC, "malformed arguments");
    /* 2 GiB of string */
    a.len = 0;
    xdr_put_u32(&a, 0x7fffffff);
    fails(fd, LVP_DOMAIN_LOOKUP_BY_NAME, &a, LV_ERR_RPC, "limit");
    /* an absurd array count */
    a.len = 0;
    xdr_put_u32(&a, 0xffffffffu);
    xdr_put_u32(&a, 0);
    xdr_put_u32(&a, 0);
    fails(fd, LVP_CONNECT_GET_ALL_DOMAIN_STATS, &a, LV_ERR_RPC, "array");
    a.len = 0;
    xdr_put_i32(&a, 1 << 30);
    fails(fd, LVP_CONNECT_LIST_DOMAINS, &a, LV_ERR_RPC, NULL);
    /* arguments left over */
    a.len = 0;
    xdr_put_u32(&a, 1);
    fails(fd, LVP_CONNECT_GET_HOSTNAME, &a, LV_ERR_RPC, "left over");
    /* another program, another version, a call with an error status */
    {
        LvHeader h = { 0x12345678, 1, 1, LV_CALL, 5, LV_OK };

        send_frame(fd, &h, NULL, 0);
        read_reply(fd, 5, &r);
        assert_int_equal(r.h.status, LV_ERROR);
        assert_int_equal(xdr_get_i32(&r.d), LV_ERR_RPC);
        reply_free(&r);
        h = (LvHeader){ LV_PROGRAM, 2, LVP_CONNECT_GET_TYPE, LV_CALL, 6, LV_OK };
        send_frame(fd, &h, NULL, 0);
        read_reply(fd, 6, &r);
        assert_int_equal(r.h.status, LV_ERROR);
        reply_free(&r);
        h = (LvHeader){ LV_PROGRAM, 1, LVP_CONNECT_GET_TYPE, LV_CALL, 7, LV_ERROR };
        send_frame(fd, &h, NULL, 0);
        read_reply(fd, 7, &r);
        assert_int_equal(r.h.status, LV_ERROR);
        reply_free(&r);
        /* stream data for no stream: ignored */
        h = (LvHeader){ LV_PROGRAM, 1, LVP_DOMAIN_OPEN_CONSOLE, LV_STREAM, 99, LV_CONTINUE };
        send_frame(fd, &h, "data", 4);
    }
    /* a 2 MiB frame: refused, and what it held is given back */
    {
        char *big = malloc(2 << 20);

        memset(big, 'x', (2 << 20) - 1);
        big[(2 << 20) - 1] = '\0';
        a.len = 0;
        xdr_put_string(&a, big);
        free(big);
        fails(fd, LVP_DOMAIN_DEFINE_XML, &a, LV_ERR_XML_ERROR, "larger than");
        for (int i = 0; i < 100 && lv_frames_held(); i++)
            usleep(10000);
        assert_int_equal(lv_frames_held(), 0);
    }
    /* still served */
    ok(fd, LVP_CONNECT_GET_TYPE, NULL, &r);
    assert_string_equal(xdr_get_string(&r.d, 100), "Xen");
    done(&r);

    /* a length word of 2 GiB: the connection ends */
    assert_int_equal(io_write_all(fd, "\x7f\xff\xff\xff", 4), 0);
    assert_int_equal(read_n(fd, buf, 1), -1);
    close(fd);
    /* a frame shorter than its header */
    fd = open_client(false);
    assert_int_equal(io_write_all(fd, "\x00\x00\x00\x08\x00\x00\x00\x00", 8), 0);
    assert_int_equal(read_n(fd, buf, 1), -1);
    close(fd);
    /* a reply from a client */
    fd = open_client(false);
    {
        LvHeader h = { LV_PROGRAM, 1, 1, LV_REPLY, 1, LV_OK };
        send_frame(fd, &h, NULL, 0);
    }
    assert_int_equal(read_n(fd, buf, 1), -1);
    close(fd);
    /* half a frame, then the client goes */
    fd = open_client(false);
    assert_int_equal(io_write_all(fd, "\x00\x00\x01\x00\x20\x00", 6), 0);
    close(fd);
    /* half a frame, then nothing: dropped once the frame stalls */
    lv_set_frame_idle_ms(200);
    fd = open_client(false);
    assert_int_equal(io_write_all(fd, "\x00\x00\x01", 3), 0);
    assert_int_equal(read_n(fd, buf, 1), -1);
    close(fd);
    /* an idle client between frames stays */
    fd = open_client(false);
    usleep(400000);
    ok(fd, LVP_CONNECT_GET_HOSTNAME, NULL, &r);
    reply_free(&r);
    close(fd);
    lv_set_frame_idle_ms(30000);

    /* the other client never noticed */
    ok(other, LVP_CONNECT_GET_HOSTNAME, NULL, &r);
    xdr_get_string(&r.d, 256);
    done(&r);
    xdr_buf_free(&a);
    close(other);
    no_clients();
}

/* Lifecycle events: registered by callback, filtered by domain, pushed for
 * changes made through libvirt and through REST (xm) alike. */
static void test_events(void **state)
{
    int fd = open_client(false);
    uint8_t uuid[16], other[16];
    XdrBuf a = args();
    Reply r;
    int cb;
    ApiRequest rq = { .method = "POST", .body = "", .len = 0, .local = true };
    ApiReply rp = { 0 };
    char path[128], us[37];

    (void)state;
    define(fd, "ev1", uuid);
    define(fd, "ev2", other);
    xdr_put_i32(&a, 0);        /* LIFECYCLE */
    xdr_put_u32(&a, 1);
    put_dom(&a, "ev1", uuid, -1);
    ok(fd, LVP_CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY, &a, &r);
    cb = xdr_get_i32(&r.d);
    done(&r);
    a.len = 0;
    xdr_put_i32(&a, 99);
    xdr_put_u32(&a, 0);
    fails(fd, LVP_CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY, &a, LV_ERR_INVALID_ARG,
          "event ID 99");

    nevents = 0;
    dom_ok(fd, LVP_DOMAIN_CREATE, "ev2", other);    /* not ev1: filtered out */
    lv_uuid_format(uuid, us);
    snprintf(path, sizeof(path), "/v1/domains/%s/start", us);
    rq.path = path;
    api_handle(&rq, &rp);                           /* as xm start does */
    assert_int_equal(rp.status, 200);
    free(rp.body);
    dom_ok(fd, LVP_DOMAIN_DESTROY, "ev1", uuid);
    /* Supervision reports the VMM's end (the fake layer has no VMMs). */
    events_emit("stopped", "ev1", -1);
    /* the events come before the next reply */
    ok(fd, LVP_CONNECT_GET_TYPE, NULL, &r);
    assert_string_equal(xdr_get_string(&r.d, 100), "Xen");
    done(&r);
    assert_int_equal(nevents, 2);
    for (unsigned i = 0; i < 2; i++) {
        char name[64];
        uint8_t u[16];
        int id;

        assert_int_equal(events[i].h.proc, LVP_DOMAIN_EVENT_CALLBACK_LIFECYCLE);
        assert_int_equal(xdr_get_i32(&events[i].d), cb);
        get_dom(&events[i], name, u, &id);
        assert_string_equal(name, "ev1");
        assert_memory_equal(u, uuid, 16);
        assert_int_equal(xdr_get_i32(&events[i].d), i == 0 ? 2 : 5);   /* STARTED, STOPPED */
        assert_int_equal(xdr_get_i32(&events[i].d), i == 0 ? 0 : 1);   /* BOOTED, DESTROYED */
        done(&events[i]);
    }

    a.len = 0;
    xdr_put_i32(&a, cb);
    ok(fd, LVP_CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY, &a, &r);
    done(&r);
    fails(fd, LVP_CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY, &a, LV_ERR_INVALID_ARG, NULL);
    nevents = 0;
    dom_ok(fd, LVP_DOMAIN_CREATE, "ev1", uuid);
    ok(fd, LVP_CONNECT_GET_TYPE, NULL, &r);
    assert_string_equal(xdr_get_string(&r.d, 100), "Xen");
    done(&r);
    assert_int_equal(nevents, 0);
    xdr_buf_free(&a);
    close(fd);
    no_clients();
    clear_registry();
}

static void test_storage(void **state)
{
    int fd = open_client(false);
    XdrBuf a = args();
    Reply r;
    char dir[PATH_MAX], xml[PATH_MAX + 128], vpath[PATH_MAX + 16];
    uint8_t pu[16];
    struct stat st;

    (void)state;
    xdr_put_i32(&a, 1);
    xdr_put_u32(&a, 0);
    ok(fd, LVP_CONNECT_LIST_ALL_STORAGE_POOLS, &a, &r);
    assert_int_equal(xdr_get_u32(&r.d), 1);
    assert_string_equal(xdr_get_string(&r.d, 100), "default");
    xdr_get_fixed(&r.d, pu, 16);
    assert_int_equal(xdr_get_u32(&r.d), 1);
    done(&r);

    /* a volume of 1 MiB in the default pool */
    a.len = 0;
    xdr_put_string(&a, "default");
    xdr_put_fixed(&a, pu, 16);
    xdr_put_string(&a, "<volume><name>v1.img</name><capacity unit='M'>1</capacity>"
                   "<target><format type='raw'/></target></volume>");
    xdr_put_u32(&a, 0);
    ok(fd, LVP_STORAGE_VOL_CREATE_XML, &a, &r);
    assert_string_equal(xdr_get_string(&r.d, 100), "default");
    assert_string_equal(xdr_get_string(&r.d, 100), "v1.img");
    snprintf(vpath, sizeof(vpath), "%s", xdr_get_string(&r.d, PATH_MAX));
    done(&r);
    assert_int_equal(stat(vpath, &st), 0);
    assert_int_equal(st.st_size, 1 << 20);
    fails(fd, LVP_STORAGE_VOL_CREATE_XML, &a, LV_ERR_STORAGE_VOL_EXIST, "v1.img");

    a.len = 0;
    xdr_put_string(&a, vpath);
    ok(fd, LVP_STORAGE_VOL_LOOKUP_BY_PATH, &a, &r);
    assert_string_equal(xdr_get_string(&r.d, 100), "default");
    assert_string_equal(xdr_get_string(&r.d, 100), "v1.img");
    xdr_get_string(&r.d, PATH_MAX);
    done(&r);
    a.len = 0;
    xdr_put_string(&a, "/nowhere/x.img");
    fails(fd, LVP_STORAGE_VOL_LOOKUP_BY_PATH, &a, LV_ERR_NO_STORAGE_VOL, "/nowhere/x.img");
    a.len = 0;
    xdr_put_string(&a, "nopool");
    fails(fd, LVP_STORAGE_POOL_LOOKUP_BY_NAME, &a, LV_ERR_NO_STORAGE_POOL, "nopool");

    /* the vol's info, then delete it */
    a.len = 0;
    xdr_put_string(&a, "default");
    xdr_put_string(&a, "v1.img");
    xdr_put_string(&a, vpath);
    ok(fd, LVP_STORAGE_VOL_GET_INFO, &a, &r);
    assert_int_equal(xdr_get_i32(&r.d), 0);
    assert_int_equal(xdr_get_u64(&r.d), 1 << 20);
    xdr_get_u64(&r.d);
    done(&r);
    xdr_put_u32(&a, 0);
    ok(fd, LVP_STORAGE_VOL_DELETE, &a, &r);
    done(&r);
    assert_int_equal(stat(vpath, &st), -1);

    /* a directory pool of our own, as virt-install defines for --disk PATH */
    snprintf(dir, sizeof(dir), "%s/mine", tmpdir);
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(xml, sizeof(xml), "<pool type='dir'><name>mine</name><target><path>%s</path>"
             "</target></pool>", dir);
    a.len = 0;
    xdr_put_string(&a, xml);
    xdr_put_u32(&a, 0);
    ok(fd, LVP_STORAGE_POOL_DEFINE_XML, &a, &r);
    assert_string_equal(xdr_get_string(&r.d, 100), "mine");
    xdr_get_fixed(&r.d, pu, 16);
    done(&r);
    a.len = 0;
    xdr_put_string(&a, "mine");
    xdr_put_fixed(&a, pu, 16);
    xdr_put_u32(&a, 0);
    ok(fd, LVP_STORAGE_POOL_CREATE, &a, &r);
    done(&r);
    snprintf(vpath, sizeof(vpath), "%s/disk.img", dir);
    assert_int_equal(io_write_file_atomic(vpath, "x", 1, 0600), 0);
    a.len = 0;
    xdr_put_string(&a, vpath);
    ok(fd, LVP_STORAGE_VOL_LOOKUP_BY_PATH, &a, &r);
    assert_string_equal(xdr_get_string(&r.d, 100), "mine");
    reply_free(&r);
    {
        char pf[PATH_MAX + 32];

        snprintf(pf, sizeof(pf), "%s/state/pools/mine.xml", tmpdir);
        assert_int_equal(stat(pf, &st), 0);     /* persistent */
    }
    xdr_buf_free(&a);
    close(fd);
    no_clients();
}

static int setup(void **state)
{
    char err[256];

    (void)state;
    log_init("test", LOG_ERR);
    assert_non_null(mkdtemp(tmpdir));
    snprintf(xconf.state_dir, sizeof(xconf.state_dir), "%s/state", tmpdir);
    snprintf(xconf.vmm, sizeof(xconf.vmm), "/usr/sbin/xeno-vmm");
    assert_int_equal(mkdir(xconf.state_dir, 0700), 0);
    if (lv_server_attach(err, sizeof(err)) < 0)
        fail_msg("%s", err);
    return 0;
}

static int teardown(void **state)
{
    char cmd[PATH_MAX + 16];

    (void)state;
    lv_server_stop();
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_sequence),
        cmocka_unit_test(test_not_supported),
        cmocka_unit_test(test_domain_lifecycle),
        cmocka_unit_test(test_create_then_define),
        cmocka_unit_test(test_calls_in_flight),
        cmocka_unit_test(test_keepalive),
        cmocka_unit_test(test_readonly),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_events),
        cmocka_unit_test(test_storage),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
