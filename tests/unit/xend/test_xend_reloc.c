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
    assert_string_equal(buf, "XENORELOC 2 psk\n");
    buf[strlen(buf) - 1] = '\0';
    assert_int_equal(reloc_banner_parse(buf, &t, why, sizeof(why)), 0);
    assert_int_equal(t, RELOC_TLS_PSK);
    assert_int_equal(reloc_banner_parse("XENORELOC 2 x509", &t, why, sizeof(why)), 0);
    assert_int_equal(t, RELOC_TLS_X509);
    assert_true(reloc_banner(buf, sizeof(buf), RELOC_TLS_PSK, "10.0.0.9 is\nnot allowed") > 0);
    assert_string_equal(buf, "XENORELOC 2 refused: 10.0.0.9 is not allowed\n");
    buf[strlen(buf) - 1] = '\0';
    assert_int_equal(reloc_banner_parse(buf, &t, why, sizeof(why)), 1);
    assert_string_equal(why, "10.0.0.9 is not allowed");
    assert_int_equal(reloc_banner_parse("SSH-2.0-OpenSSH_9.2", &t, why, sizeof(why)), -1);
    assert_string_equal(why, "");
    /* Another version: refused, and said so (version 1 relayed the stream
     * through xend; 2 has the VMMs' own TLS session). */
    assert_int_equal(reloc_banner_parse("XENORELOC 1 psk", &t, why, sizeof(why)), -1);
    assert_string_equal(why, "it speaks relocation protocol version 1, this host 2 "
                             "(update Xeno on both)");
    assert_int_equal(reloc_banner_parse("XENORELOC 2 tls", &t, why, sizeof(why)), -1);
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
        { "{\"xeno-relocation\": \"migrate\", \"version\": 2, \"name\": \"a\", \"uuid\": "
          "\"0123abcd-0000-4000-8000-00000000000f\", \"config\": \"\", \"x\": 1}",
          "unknown request field 'x'" },
        { "{\"xeno-relocation\": \"steal\", \"version\": 2, \"name\": \"a\", \"uuid\": "
          "\"0123abcd-0000-4000-8000-00000000000f\", \"config\": \"\"}",
          "unknown operation (not 'migrate')" },
        { "{\"xeno-relocation\": \"migrate\", \"version\": 2, \"a\\nb\": 1}",
          "unknown request field 'a?b'" },
        { "{\"xeno-relocation\": \"migrate\", \"version\": 1, \"name\": \"a\", \"uuid\": "
          "\"0123abcd-0000-4000-8000-00000000000f\", \"config\": \"\"}",
          "relocation protocol version 1 is not 2" },
        { "{\"xeno-relocation\": \"migrate\", \"version\": 2, \"name\": \"../a\", \"uuid\": "
          "\"0123abcd-0000-4000-8000-00000000000f\", \"config\": \"\"}", "bad domain name" },
        { "{\"xeno-relocation\": \"migrate\", \"version\": 2, \"name\": \"a\", \"uuid\": "
          "\"0123abcd-0000-4000-8000-00000000000\", \"config\": \"\"}", "bad domain uuid" },
        { "{\"xeno-relocation\": \"migrate\", \"version\": 2, \"name\": \"a\", \"uuid\": "
          "\"0123abcd-0000-4000-8000-00000000000f\", \"config\": \"a\\u0000b\"}",
          "bad domain configuration (too large or with a NUL byte)" },
        { "{\"xeno-relocation\": \"migrate\", \"version\": 2, \"name\": \"a\", \"uuid\": "
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
    static const char key[] = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
    char err[128], got[RELOC_STREAM_KEY_HEX + 1], *line, bad[256];

    (void)state;
    line = reloc_answer_encode(NULL, NULL);
    assert_string_equal(line, "{\"ok\":true}\n");
    assert_int_equal(reloc_answer_parse(line, strlen(line), got, err, sizeof(err)), 0);
    assert_string_equal(got, "");
    free(line);
    line = reloc_answer_encode(NULL, key);
    assert_int_equal(reloc_answer_parse(line, strlen(line), got, err, sizeof(err)), 0);
    assert_string_equal(got, key);
    free(line);
    line = reloc_answer_encode("Domain 'a' already exists on h (running).", key);
    assert_null(strstr(line, "stream_key"));        /* a refusal carries no key */
    assert_int_equal(reloc_answer_parse(line, strlen(line), got, err, sizeof(err)), 1);
    assert_string_equal(err, "Domain 'a' already exists on h (running).");
    assert_string_equal(got, "");
    free(line);
    assert_int_equal(reloc_answer_parse("ready", 5, got, err, sizeof(err)), -1);
    assert_int_equal(reloc_answer_parse("{\"ok\": 1}", 9, got, err, sizeof(err)), -1);
    /* A key that is not 64 hex digits: malformed, never half-taken. */
    snprintf(bad, sizeof(bad), "{\"ok\": true, \"stream_key\": \"%.63s\"}", key);
    assert_int_equal(reloc_answer_parse(bad, strlen(bad), got, err, sizeof(err)), -1);
    assert_string_equal(got, "");
    snprintf(bad, sizeof(bad), "{\"ok\": true, \"stream_key\": \"%.63sg\"}", key);
    assert_int_equal(reloc_answer_parse(bad, strlen(bad), got, err, sizeof(err)), -1);
    snprintf(bad, sizeof(bad), "{\"ok\": true, \"stream_key\": 7}");
    assert_int_equal(reloc_answer_parse(bad, strlen(bad), got, err, sizeof(err)), -1);
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

/* ---- the hand-over of the socket to the VMM ---- */

typedef struct Side {
    int fd;
    RelocConf rc;
    const char *extra;         /* the client sends this after its request */
    int released;              /* rconn_release_fd's answer */
    char err[256];
} Side;

/* The destination: request in, answer out, then the socket for its VMM. */
static void *dest_run(void *arg)
{
    Side *d = arg;
    RelocConn *c = rconn_server(d->fd, &d->rc, 5000, d->err, sizeof(d->err));
    size_t len;
    char *line;

    d->released = -1;
    if (!c)
        return NULL;
    line = rconn_read_line(c, 100, 5000, &len, d->err, sizeof(d->err));
    if (line && !d->extra)
        usleep(20000);      /* room for anything the client might send too early */
    if (line)
        d->released = rconn_release_fd(c, d->err, sizeof(d->err));
    if (line && d->released >= 0)
        rconn_write_all(c, "ok\n", 3, 5000, d->err, sizeof(d->err));
    free(line);
    rconn_close(c);
    return NULL;
}

/* The destination in a thread (mode tls, the PSK file k) and the
 * source's session to it. */
static RelocConn *dest_connect(Side *d, pthread_t *t, enum reloc_tls tls, const char *k,
                               const char *extra)
{
    char err[256];
    int sp[2];
    RelocConn *c;

    memset(d, 0, sizeof(*d));
    conf_defaults(&xconf);
    d->rc = xconf.reloc;
    d->rc.tls = tls;
    d->extra = extra;
    snprintf(d->rc.psk_file, sizeof(d->rc.psk_file), "%s", k);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
    d->fd = sp[0];
    assert_int_equal(pthread_create(t, NULL, dest_run, d), 0);
    c = rconn_client(sp[1], &d->rc, "localhost", 5000, err, sizeof(err));
    assert_non_null(c);
    return c;
}

/* After the request and answer, each xend gives its socket away: what the
 * VMMs then send arrives as sent, with nothing of the xends' TLS session
 * around it (no close_notify from rconn_close), in both modes; bytes read
 * past the request make the hand-over fail instead of being lost. */
static void test_release(void **state)
{
    static const enum reloc_tls modes[] = { RELOC_TLS_PSK, RELOC_TLS_NONE };
    char k[128], err[256];
    Side d;
    pthread_t t;
    RelocConn *c;

    (void)state;
    path_in(k, sizeof(k), "k1.psk");
    write_text(k, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n");
    for (size_t m = 0; m < 2; m++) {
        char buf[64], *ans;
        size_t len;
        int fd;

        c = dest_connect(&d, &t, modes[m], k, NULL);
        assert_int_equal(rconn_write_all(c, "req\n", 4, 5000, err, sizeof(err)), 0);
        ans = rconn_read_line(c, 100, 5000, &len, err, sizeof(err));
        assert_non_null(ans);
        assert_string_equal(ans, "ok");
        free(ans);
        fd = rconn_release_fd(c, err, sizeof(err));
        assert_true(fd >= 0);
        rconn_close(c);
        pthread_join(t, NULL);
        assert_true(d.released >= 0);
        /* The "VMMs": raw bytes both ways, then the ends. */
        assert_int_equal(write(fd, "XENOSTAT", 8), 8);
        assert_int_equal(read(d.released, buf, sizeof(buf)), 8);
        assert_memory_equal(buf, "XENOSTAT", 8);
        assert_int_equal(write(d.released, "accept\n", 7), 7);
        assert_int_equal(read(fd, buf, sizeof(buf)), 7);
        assert_memory_equal(buf, "accept\n", 7);
        close(d.released);
        assert_int_equal(read(fd, buf, sizeof(buf)), 0);
        close(fd);
    }

    /* The client sent more than its request: the server will not hand the
     * socket over (those bytes would be lost to its VMM). */
    c = dest_connect(&d, &t, RELOC_TLS_PSK, k, "more");
    assert_int_equal(rconn_write_all(c, "req\nmore", 8, 5000, err, sizeof(err)), 0);
    pthread_join(t, NULL);
    assert_int_equal(d.released, -1);
    assert_string_equal(d.err, "the peer sent more than the protocol allows");
    rconn_close(c);
}

/* The stream key: 64 hex digits, a new one each time. */
static void test_stream_key(void **state)
{
    char a[RELOC_STREAM_KEY_HEX + 1], b[RELOC_STREAM_KEY_HEX + 1], err[128];

    (void)state;
    assert_int_equal(reloc_stream_key(a, err, sizeof(err)), 0);
    assert_int_equal(reloc_stream_key(b, err, sizeof(err)), 0);
    assert_int_equal(strlen(a), RELOC_STREAM_KEY_HEX);
    assert_int_equal(strspn(a, "0123456789abcdef"), RELOC_STREAM_KEY_HEX);
    assert_string_not_equal(a, b);
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
        cmocka_unit_test(test_release),
        cmocka_unit_test(test_stream_key),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
