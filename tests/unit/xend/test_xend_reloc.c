/* Unit tests for xend's relocation pieces: the config file, the protocol
 * messages, the hosts-allow list, and the TLS connections (PSK, x509,
 * none) and the proxy over socketpairs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reloc_conn.h"
#include "xend.h"

XendConf xconf;

static char dir[64];

static void path_in(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", dir, name);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, 0600);     /* keys: the relocation code warns otherwise */
}

/* ---- the config file ---- */

static int conf_text(XendConf *c, const char *text, char *err, size_t errlen)
{
    conf_defaults(c);
    return conf_parse(c, "xend-config.sxp", text, strlen(text), NULL, err, errlen);
}

static int warnings;
static void count_warning(const char *msg)
{
    (void)msg;
    warnings++;
}

/* The image directories and the VMM log limits (pathpolicy.c, logsink.c). */
static void test_conf_guard(void **state)
{
    XendConf c;
    char err[512];

    (void)state;
    conf_defaults(&c);
    assert_string_equal(c.image_dirs, "");
    assert_int_equal(c.vmm_log_max, 1 << 20);
    assert_int_equal(c.vmm_log_keep, 1);
    assert_int_equal(conf_text(&c, "(xend-image-dirs '/srv/vm:/var/lib/xeno/boot')\n"
                               "(xend-vmm-log-max-size 65536)(xend-vmm-log-rotate 3)",
                               err, sizeof(err)), 0);
    assert_string_equal(c.image_dirs, "/srv/vm:/var/lib/xeno/boot");
    assert_int_equal(c.vmm_log_max, 65536);
    assert_int_equal(c.vmm_log_keep, 3);
    assert_int_equal(conf_text(&c, "(xend-vmm-log-max-size 0)", err, sizeof(err)), 0);
    assert_int_equal(c.vmm_log_max, 0);
    assert_int_equal(conf_text(&c, "\n(xend-image-dirs '/srv/vm:images')", err, sizeof(err)), -1);
    assert_string_equal(err, "xend-config.sxp:2: xend-image-dirs: '/srv/vm:images' is not a "
                        "list of absolute paths separated by ':'");
    assert_int_equal(conf_text(&c, "(xend-vmm-log-rotate 10)", err, sizeof(err)), -1);
    assert_string_equal(err, "xend-config.sxp:1: xend-vmm-log-rotate: expected a number from "
                        "0 to 9, not '10'");
    assert_int_equal(conf_text(&c, "(xend-vmm-log-max-size 1M)", err, sizeof(err)), -1);
}

static void test_conf(void **state)
{
    XendConf c;
    char err[512];
    const char *xen =
        "# A Xen-style file\n"
        "(xend-http-server no)\n"
        "(network-script network-bridge)\n"
        "(xend-relocation-server yes)\n"
        "(xend-relocation-port 8012)   # a comment after\n"
        "(xend-relocation-address '10.0.0.1')\n"
        "(xend-relocation-hosts-allow '^localhost$ ^.*\\\\.example\\\\.org$')\n"
        "(xend-relocation-tls psk)\n"
        "(xend-relocation-psk-file \"/etc/xeno/k.psk\")\n"
        "(xend-relocation-timeout 7)\n"
        "(vif-script (a b) c)\n"
        "(dom0-min-mem 196)\n";

    (void)state;
    conf_defaults(&c);
    assert_false(c.reloc.server);
    assert_int_equal(c.reloc.port, 8002);
    assert_int_equal(c.reloc.tls, RELOC_TLS_PSK);
    assert_string_equal(c.reloc.hosts_allow, "");

    warnings = 0;
    conf_defaults(&c);
    assert_int_equal(conf_parse(&c, "x", xen, strlen(xen), count_warning, err, sizeof(err)), 0);
    assert_int_equal(warnings, 4);     /* the keys that are Xen's only */
    assert_true(c.reloc.server);
    assert_int_equal(c.reloc.port, 8012);
    assert_string_equal(c.reloc.address, "10.0.0.1");
    assert_string_equal(c.reloc.hosts_allow, "^localhost$ ^.*\\.example\\.org$");
    assert_string_equal(c.reloc.psk_file, "/etc/xeno/k.psk");
    assert_int_equal(c.reloc.timeout_s, 7);
    assert_int_equal(conf_text(&c, "", err, sizeof(err)), 0);
    assert_int_equal(conf_text(&c, "(xend-relocation-tls none)(xend-relocation-server 1)",
                               err, sizeof(err)), 0);
    assert_int_equal(c.reloc.tls, RELOC_TLS_NONE);
    assert_true(c.reloc.server);

    static const struct { const char *text, *err; } bad[] = {
        { "(xend-relocation-port 70000)",
          "xend-config.sxp:1: xend-relocation-port: expected a number from 1 to 65535, not '70000'" },
        { "\n\n(xend-relocation-server maybe)",
          "xend-config.sxp:3: xend-relocation-server: expected yes or no, not 'maybe'" },
        { "(xend-relocation-tls ssl)",
          "xend-config.sxp:1: xend-relocation-tls: expected psk, x509 or none, not 'ssl'" },
        { "(xend-relocation-psk-file k.psk)",
          "xend-config.sxp:1: xend-relocation-psk-file: 'k.psk' is not an absolute path" },
        { "(xend-relocation-port 8002", "xend-config.sxp:1: unexpected end of file: expected ')'" },
        { "xend-relocation-port 8002)", "xend-config.sxp:1: expected '(', found 'x'" },
        { "(xend-relocation-port)", "xend-config.sxp:1: xend-relocation-port: no value" },
        { "(xend-relocation-address 'a)", "xend-config.sxp:1: unterminated string" },
        { "(xend-relocation-hosts-allow '^(a')",
          "xend-config.sxp:1: xend-relocation-hosts-allow: bad pattern '^(a': " },
        { "(xend-relocation-tls x509)",
          "xend-config.sxp: xend-relocation-tls x509 needs xend-relocation-cert and "
          "xend-relocation-key" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        if (conf_text(&c, bad[i].text, err, sizeof(err)) != -1 ||
            strncmp(err, bad[i].err, strlen(bad[i].err)))
            fail_msg("'%s': got '%s', expected '%s'", bad[i].text, err, bad[i].err);
    }
    /* A file named on the command line must exist; the default need not. */
    conf_defaults(&c);
    assert_int_equal(conf_load(&c, "/nonexistent/xend-config.sxp", true, err, sizeof(err)), 0);
    assert_int_equal(conf_load(&c, "/nonexistent/xend-config.sxp", false, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "cannot read /nonexistent/xend-config.sxp"));
}

/* ---- protocol messages ---- */

static void test_banner(void **state)
{
    char buf[256], why[128];
    enum reloc_tls t = RELOC_TLS_NONE;

    (void)state;
    assert_true(reloc_banner(buf, sizeof(buf), RELOC_TLS_PSK, NULL) > 0);
    assert_string_equal(buf, "XENORELOC 1 psk\n");
    buf[strlen(buf) - 1] = '\0';
    assert_int_equal(reloc_banner_parse(buf, &t, why, sizeof(why)), 0);
    assert_int_equal(t, RELOC_TLS_PSK);
    assert_int_equal(reloc_banner_parse("XENORELOC 1 x509", &t, why, sizeof(why)), 0);
    assert_int_equal(t, RELOC_TLS_X509);
    assert_true(reloc_banner(buf, sizeof(buf), RELOC_TLS_PSK, "10.0.0.9 is\nnot allowed") > 0);
    assert_string_equal(buf, "XENORELOC 1 refused: 10.0.0.9 is not allowed\n");
    buf[strlen(buf) - 1] = '\0';
    assert_int_equal(reloc_banner_parse(buf, &t, why, sizeof(why)), 1);
    assert_string_equal(why, "10.0.0.9 is not allowed");
    assert_int_equal(reloc_banner_parse("SSH-2.0-OpenSSH_9.2", &t, why, sizeof(why)), -1);
    assert_int_equal(reloc_banner_parse("XENORELOC 2 psk", &t, why, sizeof(why)), -1);
    assert_int_equal(reloc_banner_parse("XENORELOC 1 tls", &t, why, sizeof(why)), -1);
}

static void test_request(void **state)
{
    RelocRequest r = { .name = "web1", .uuid = "0123ABCD-0000-4000-8000-00000000000f",
                       .config = "name = \"web1\"\nmemory = 128\n", .live = true,
                       .managed = true }, out;
    char err[256], *line;

    (void)state;
    line = reloc_request_encode(&r);
    assert_non_null(line);
    assert_int_equal(line[strlen(line) - 1], '\n');
    assert_int_equal(reloc_request_parse(line, strlen(line) - 1, &out, err, sizeof(err)), 0);
    assert_string_equal(out.name, "web1");
    assert_string_equal(out.uuid, "0123abcd-0000-4000-8000-00000000000f");
    assert_string_equal(out.config, r.config);
    assert_true(out.live);
    assert_false(out.paused);
    assert_true(out.managed);
    assert_false(out.autostart);
    reloc_request_free(&out);
    free(line);

    static const struct { const char *line, *err; } bad[] = {
        { "", "malformed request" },
        { "[1]", "malformed request" },
        { "{\"xeno-relocation\": \"migrate\"}", "malformed request: " },
        { "{\"xeno-relocation\": \"migrate\", \"version\": 1, \"name\": \"a\", \"uuid\": "
          "\"0123abcd-0000-4000-8000-00000000000f\", \"config\": \"\", \"x\": 1}",
          "unknown request field 'x'" },
        { "{\"xeno-relocation\": \"steal\", \"version\": 1, \"name\": \"a\", \"uuid\": "
          "\"0123abcd-0000-4000-8000-00000000000f\", \"config\": \"\"}",
          "unknown operation (not 'migrate')" },
        { "{\"xeno-relocation\": \"migrate\", \"version\": 1, \"a\\nb\": 1}",
          "unknown request field 'a?b'" },
        { "{\"xeno-relocation\": \"migrate\", \"version\": 2, \"name\": \"a\", \"uuid\": "
          "\"0123abcd-0000-4000-8000-00000000000f\", \"config\": \"\"}",
          "relocation protocol version 2 is not 1" },
        { "{\"xeno-relocation\": \"migrate\", \"version\": 1, \"name\": \"../a\", \"uuid\": "
          "\"0123abcd-0000-4000-8000-00000000000f\", \"config\": \"\"}", "bad domain name" },
        { "{\"xeno-relocation\": \"migrate\", \"version\": 1, \"name\": \"a\", \"uuid\": "
          "\"0123abcd-0000-4000-8000-00000000000\", \"config\": \"\"}", "bad domain uuid" },
        { "{\"xeno-relocation\": \"migrate\", \"version\": 1, \"name\": \"a\", \"uuid\": "
          "\"0123abcd-0000-4000-8000-00000000000f\", \"config\": \"a\\u0000b\"}",
          "bad domain configuration (too large or with a NUL byte)" },
        { "{\"xeno-relocation\": \"migrate\", \"version\": 1, \"name\": \"a\", \"uuid\": "
          "\"0123abcd-0000-4000-8000-00000000000f\", \"config\": \"\", \"live\": 1}",
          "malformed request: " },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        if (reloc_request_parse(bad[i].line, strlen(bad[i].line), &out, err, sizeof(err)) != -1 ||
            strncmp(err, bad[i].err, strlen(bad[i].err)))
            fail_msg("'%s': got '%s', expected '%s'", bad[i].line, err, bad[i].err);
        assert_null(out.config);
    }
}

static void test_answer(void **state)
{
    char err[128], *line;

    (void)state;
    line = reloc_answer_encode(NULL);
    assert_string_equal(line, "{\"ok\":true}\n");
    assert_int_equal(reloc_answer_parse(line, strlen(line), err, sizeof(err)), 0);
    free(line);
    line = reloc_answer_encode("Domain 'a' already exists on h (running).");
    assert_int_equal(reloc_answer_parse(line, strlen(line), err, sizeof(err)), 1);
    assert_string_equal(err, "Domain 'a' already exists on h (running).");
    free(line);
    assert_int_equal(reloc_answer_parse("ready", 5, err, sizeof(err)), -1);
    assert_int_equal(reloc_answer_parse("{\"ok\": 1}", 9, err, sizeof(err)), -1);
}

static void test_allow(void **state)
{
    char err[256];
    RelocAllow *a;

    (void)state;
    a = reloc_allow_compile("", err, sizeof(err));
    assert_non_null(a);
    assert_true(reloc_allow_match(a, "192.0.2.1", NULL));    /* empty: everyone, as Xen */
    reloc_allow_free(a);

    a = reloc_allow_compile("  ^localhost$   10\\.0\\.0\\.[0-9]+$ ^.*\\.example\\.org$ ", err,
                            sizeof(err));
    assert_non_null(a);
    assert_true(reloc_allow_match(a, "10.0.0.2", NULL));
    assert_false(reloc_allow_match(a, "110.0.0.2", NULL));   /* matched at the start only */
    assert_false(reloc_allow_match(a, "10.0.1.2", NULL));
    assert_false(reloc_allow_match(a, "192.0.2.1", NULL));
    assert_true(reloc_allow_match(a, "192.0.2.1", "vm1.example.org"));
    assert_true(reloc_allow_match(a, "127.0.0.1", "LOCALHOST"));
    assert_false(reloc_allow_match(a, "192.0.2.1", "example.org.evil"));
    reloc_allow_free(a);

    assert_null(reloc_allow_compile("a[", err, sizeof(err)));
    assert_non_null(strstr(err, "bad pattern 'a['"));
    /* What would make the regex compiler blow up. */
    assert_null(reloc_allow_compile("^x++$", err, sizeof(err)));
    assert_string_equal(err, "bad pattern '^x++$': a repeated quantifier");
    assert_null(reloc_allow_compile("a{2}*", err, sizeof(err)));
    assert_null(reloc_allow_compile("a{1,100}", err, sizeof(err)));
    assert_string_equal(err, "bad pattern 'a{1,100}': a count over 64");
    a = reloc_allow_compile("^[+*]+\\.x{1,3}$ ^a\\+b*$", err, sizeof(err));
    assert_non_null(a);
    assert_true(reloc_allow_match(a, "+*+.xx", NULL));
    assert_true(reloc_allow_match(a, "a+bbb", NULL));
    reloc_allow_free(a);
}

/* ---- TLS ---- */

typedef struct Peer {
    int fd;
    RelocConf rc;
    bool server;
    char err[512];
    char *line;                /* the line read */
    bool ok;
} Peer;

/* Each side: the handshake, then the client says "hello", the server
 * answers "welcome". */
static void *peer_run(void *arg)
{
    Peer *p = arg;
    RelocConn *c = p->server ? rconn_server(p->fd, &p->rc, 5000, p->err, sizeof(p->err))
                             : rconn_client(p->fd, &p->rc, "localhost", 5000, p->err,
                                            sizeof(p->err));
    size_t len;

    if (!c)
        return NULL;
    if (p->server) {
        p->line = rconn_read_line(c, 100, 5000, &len, p->err, sizeof(p->err));
        p->ok = p->line && rconn_write_all(c, "welcome\n", 8, 5000, p->err, sizeof(p->err)) == 0;
    } else {
        p->ok = rconn_write_all(c, "hello\n", 6, 5000, p->err, sizeof(p->err)) == 0 &&
                (p->line = rconn_read_line(c, 100, 5000, &len, p->err, sizeof(p->err)));
    }
    rconn_close(c);
    return NULL;
}

static void talk(Peer *srv, Peer *cli)
{
    int sp[2];
    pthread_t t;

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
    srv->fd = sp[0];
    srv->server = true;
    cli->fd = sp[1];
    cli->server = false;
    assert_int_equal(pthread_create(&t, NULL, peer_run, srv), 0);
    peer_run(cli);
    pthread_join(t, NULL);
}

static void peer_reset(Peer *p)
{
    free(p->line);
    p->line = NULL;
    p->ok = false;
    p->err[0] = '\0';
}

static void test_tls_psk(void **state)
{
    Peer srv = { 0 }, cli = { 0 };
    char k1[128], k2[128], kbad[128];

    (void)state;
    path_in(k1, sizeof(k1), "k1.psk");
    path_in(k2, sizeof(k2), "k2.psk");
    path_in(kbad, sizeof(kbad), "bad.psk");
    write_text(k1, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n");
    write_text(k2, "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100\n");
    write_text(kbad, "not hex at all\n");
    conf_defaults(&xconf);
    srv.rc = cli.rc = xconf.reloc;
    snprintf(srv.rc.psk_file, sizeof(srv.rc.psk_file), "%s", k1);
    snprintf(cli.rc.psk_file, sizeof(cli.rc.psk_file), "%s", k1);

    /* The same key: a TLS 1.3 session both ways. */
    talk(&srv, &cli);
    assert_true(srv.ok);
    assert_true(cli.ok);
    assert_string_equal(srv.line, "hello");
    assert_string_equal(cli.line, "welcome");
    peer_reset(&srv);
    peer_reset(&cli);

    /* A wrong key: refused on both sides, nothing read. */
    snprintf(cli.rc.psk_file, sizeof(cli.rc.psk_file), "%s", k2);
    talk(&srv, &cli);
    assert_false(srv.ok);
    assert_false(cli.ok);
    assert_null(srv.line);
    assert_non_null(strstr(cli.err, "TLS handshake failed"));
    assert_non_null(strstr(cli.err, "is the relocation key"));
    assert_non_null(strstr(srv.err, "TLS handshake failed"));
    peer_reset(&srv);
    peer_reset(&cli);

    /* A key file that is not a key. */
    char err[256];
    assert_int_equal(reloc_psk_check(kbad, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "is not hexadecimal"));
    write_text(kbad, "0011\n");
    assert_int_equal(reloc_psk_check(kbad, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "at least 16 bytes"));
    assert_int_equal(reloc_psk_check("/nonexistent/k", err, sizeof(err)), -1);
    assert_int_equal(reloc_psk_check(k1, err, sizeof(err)), 0);

    /* No TLS: plain lines. */
    srv.rc.tls = cli.rc.tls = RELOC_TLS_NONE;
    talk(&srv, &cli);
    assert_true(srv.ok && cli.ok);
    assert_string_equal(cli.line, "welcome");
    peer_reset(&srv);
    peer_reset(&cli);
    /* A TLS client meets a plain server: no session. */
    cli.rc.tls = RELOC_TLS_PSK;
    snprintf(cli.rc.psk_file, sizeof(cli.rc.psk_file), "%s", k1);
    talk(&srv, &cli);
    assert_false(cli.ok);
    peer_reset(&srv);
    peer_reset(&cli);
}

/* A key and a certificate signed by ca (self-signed when ca is NULL),
 * written as PEM files NAME-key.pem and NAME-cert.pem. */
typedef struct Cert {
    gnutls_x509_privkey_t key;
    gnutls_x509_crt_t crt;
} Cert;

static void make_cert(Cert *c, const char *name, const Cert *ca, bool is_ca)
{
    char p[128];
    unsigned char buf[8192];
    size_t len;
    static unsigned serial = 1;
    unsigned char ser[4] = { 0, 0, 0, (unsigned char)serial++ };
    time_t now = time(NULL);

    assert_int_equal(gnutls_x509_privkey_init(&c->key), 0);
    assert_int_equal(gnutls_x509_privkey_generate(c->key, GNUTLS_PK_ECDSA,
                                                  GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0), 0);
    assert_int_equal(gnutls_x509_crt_init(&c->crt), 0);
    gnutls_x509_crt_set_version(c->crt, 3);
    gnutls_x509_crt_set_serial(c->crt, ser, sizeof(ser));
    gnutls_x509_crt_set_activation_time(c->crt, now - 3600);
    gnutls_x509_crt_set_expiration_time(c->crt, now + 86400);
    gnutls_x509_crt_set_dn_by_oid(c->crt, GNUTLS_OID_X520_COMMON_NAME, 0, name, strlen(name));
    gnutls_x509_crt_set_key(c->crt, c->key);
    gnutls_x509_crt_set_basic_constraints(c->crt, is_ca, -1);
    if (is_ca) {
        gnutls_x509_crt_set_key_usage(c->crt, GNUTLS_KEY_KEY_CERT_SIGN);
    } else {
        gnutls_x509_crt_set_key_usage(c->crt, GNUTLS_KEY_DIGITAL_SIGNATURE);
        gnutls_x509_crt_set_subject_alt_name(c->crt, GNUTLS_SAN_DNSNAME, "localhost", 9,
                                             GNUTLS_FSAN_SET);
        gnutls_x509_crt_set_key_purpose_oid(c->crt, GNUTLS_KP_TLS_WWW_SERVER, 0);
        gnutls_x509_crt_set_key_purpose_oid(c->crt, GNUTLS_KP_TLS_WWW_CLIENT, 0);
    }
    assert_int_equal(gnutls_x509_crt_sign2(c->crt, ca ? ca->crt : c->crt, ca ? ca->key : c->key,
                                           GNUTLS_DIG_SHA256, 0), 0);
    len = sizeof(buf);
    assert_int_equal(gnutls_x509_crt_export(c->crt, GNUTLS_X509_FMT_PEM, buf, &len), 0);
    snprintf(p, sizeof(p), "%s/%s-cert.pem", dir, name);
    buf[len] = '\0';
    write_text(p, (char *)buf);
    len = sizeof(buf);
    assert_int_equal(gnutls_x509_privkey_export(c->key, GNUTLS_X509_FMT_PEM, buf, &len), 0);
    snprintf(p, sizeof(p), "%s/%s-key.pem", dir, name);
    buf[len] = '\0';
    write_text(p, (char *)buf);
}

static void cert_free(Cert *c)
{
    gnutls_x509_crt_deinit(c->crt);
    gnutls_x509_privkey_deinit(c->key);
}

static void use_cert(RelocConf *rc, const char *name, const char *ca)
{
    rc->tls = RELOC_TLS_X509;
    snprintf(rc->cert_file, sizeof(rc->cert_file), "%s/%s-cert.pem", dir, name);
    snprintf(rc->key_file, sizeof(rc->key_file), "%s/%s-key.pem", dir, name);
    if (ca)
        snprintf(rc->ca_file, sizeof(rc->ca_file), "%s/%s-cert.pem", dir, ca);
    else
        rc->ca_file[0] = '\0';
}

static void test_tls_x509(void **state)
{
    Cert ca, other, a, b, rogue;
    Peer srv = { 0 }, cli = { 0 };

    (void)state;
    gnutls_global_init();
    make_cert(&ca, "ca", NULL, true);
    make_cert(&other, "otherca", NULL, true);
    make_cert(&a, "hosta", &ca, false);
    make_cert(&b, "hostb", &ca, false);
    make_cert(&rogue, "rogue", &other, false);
    conf_defaults(&xconf);
    srv.rc = cli.rc = xconf.reloc;

    /* Both signed by the CA, each verifies the other. */
    use_cert(&srv.rc, "hosta", "ca");
    use_cert(&cli.rc, "hostb", "ca");
    talk(&srv, &cli);
    assert_true(srv.ok);
    assert_true(cli.ok);
    assert_string_equal(srv.line, "hello");
    peer_reset(&srv);
    peer_reset(&cli);

    /* A client whose certificate the CA did not sign: refused. */
    use_cert(&cli.rc, "rogue", "ca");
    talk(&srv, &cli);
    assert_false(srv.ok);
    assert_null(srv.line);
    assert_non_null(strstr(srv.err, "TLS handshake failed"));
    peer_reset(&srv);
    peer_reset(&cli);

    /* A server the client's CA did not sign: the client refuses. */
    use_cert(&srv.rc, "rogue", NULL);
    use_cert(&cli.rc, "hostb", "ca");
    talk(&srv, &cli);
    assert_false(cli.ok);
    assert_non_null(strstr(cli.err, "TLS handshake failed"));
    peer_reset(&srv);
    peer_reset(&cli);

    /* Without a CA, certificates are not verified (encryption only). */
    use_cert(&srv.rc, "rogue", NULL);
    use_cert(&cli.rc, "hostb", NULL);
    talk(&srv, &cli);
    assert_true(srv.ok && cli.ok);
    peer_reset(&srv);
    peer_reset(&cli);

    /* Missing files: a clear error, no session. */
    use_cert(&cli.rc, "nosuch", NULL);
    talk(&srv, &cli);
    assert_false(cli.ok);
    assert_non_null(strstr(cli.err, "cannot load the relocation certificate"));
    peer_reset(&srv);
    peer_reset(&cli);

    cert_free(&ca);
    cert_free(&other);
    cert_free(&a);
    cert_free(&b);
    cert_free(&rogue);
}

/* ---- the proxy ---- */

typedef struct Echo {
    int fd;
    RelocConf rc;
    size_t total;
    bool ok;
} Echo;

/* The remote side: a TLS server that sends `total` bytes of a pattern
 * and reads as many back. */
static void *echo_run(void *arg)
{
    Echo *e = arg;
    char err[256], buf[65536];
    RelocConn *c = rconn_server(e->fd, &e->rc, 5000, err, sizeof(err));
    size_t sent = 0;

    if (!c)
        return NULL;
    while (sent < e->total) {
        size_t n = e->total - sent < sizeof(buf) ? e->total - sent : sizeof(buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)((sent + i) * 7);
        if (rconn_write_all(c, buf, n, 5000, err, sizeof(err)) < 0) {
            rconn_close(c);
            return NULL;
        }
        sent += n;
    }
    /* The reply: a line. */
    size_t len;
    char *line = rconn_read_line(c, 100, 5000, &len, err, sizeof(err));
    e->ok = line && !strcmp(line, "got it");
    free(line);
    rconn_close(c);
    return NULL;
}

static void test_proxy(void **state)
{
    Echo e = { .total = 3u << 20 };
    char k[128], err[256];
    int tls[2], local[2];
    pthread_t t;
    RelocConn *c;
    Proxy *px;
    size_t got = 0;
    bool pattern = true;
    uint64_t in, out;

    (void)state;
    path_in(k, sizeof(k), "k1.psk");
    write_text(k, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n");
    conf_defaults(&xconf);
    e.rc = xconf.reloc;
    snprintf(e.rc.psk_file, sizeof(e.rc.psk_file), "%s", k);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, tls), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, local), 0);
    e.fd = tls[0];
    assert_int_equal(pthread_create(&t, NULL, echo_run, &e), 0);
    c = rconn_client(tls[1], &e.rc, "localhost", 5000, err, sizeof(err));
    assert_non_null(c);
    px = proxy_start(c, local[0], err, sizeof(err));
    assert_non_null(px);
    /* The local side (a VMM) reads the stream, then answers. */
    while (got < e.total) {
        char buf[65536];
        ssize_t n = read(local[1], buf, sizeof(buf));
        assert_true(n > 0);
        for (ssize_t i = 0; i < n; i++)
            pattern &= buf[i] == (char)((got + (size_t)i) * 7);
        got += (size_t)n;
    }
    assert_true(pattern);
    assert_int_equal(write(local[1], "got it\n", 7), 7);
    pthread_join(t, NULL);
    assert_true(e.ok);
    /* The remote closed: the proxy ends and closes the local side. */
    assert_int_equal(proxy_wait(px, 5000), 0);
    proxy_bytes(px, &in, &out);
    assert_int_equal(in, e.total);
    assert_int_equal(out, 7);
    assert_int_equal(proxy_finish(px, err, sizeof(err)), 0);
    {
        char b;
        assert_int_equal(read(local[1], &b, 1), 0);
    }
    close(local[1]);

    /* Aborted: both sides see the end. */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, tls), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, local), 0);
    e.rc.tls = RELOC_TLS_NONE;
    c = rconn_client(tls[1], &e.rc, NULL, 5000, err, sizeof(err));
    assert_non_null(c);
    px = proxy_start(c, local[0], err, sizeof(err));
    assert_non_null(px);
    assert_int_equal(proxy_wait(px, 50), -1);
    assert_false(proxy_done(px));
    proxy_abort(px);
    assert_int_equal(proxy_wait(px, 5000), 0);
    assert_int_equal(proxy_finish(px, err, sizeof(err)), -1);
    assert_string_equal(err, "stopped");
    {
        char b;
        assert_int_equal(read(local[1], &b, 1), 0);
        assert_int_equal(read(tls[0], &b, 1), 0);
    }
    close(local[1]);
    close(tls[0]);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/xend-reloc.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conf),
        cmocka_unit_test(test_conf_guard),
        cmocka_unit_test(test_banner),
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_answer),
        cmocka_unit_test(test_allow),
        cmocka_unit_test(test_tls_psk),
        cmocka_unit_test(test_tls_x509),
        cmocka_unit_test(test_proxy),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
