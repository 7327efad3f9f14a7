/* xend's TLS certificate for the TCP listener: a self-signed one made on
 * first start (GnuTLS), and its pin, the SHA-256 of its public key
 * (SubjectPublicKeyInfo), which clients check (docs/protocols.md §2). */
#include <errno.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "common/io.h"
#include "common/util.h"

#define CERT_YEARS 10

static int gt_err(char *err, size_t errlen, const char *what, int r)
{
    snprintf(err, errlen, "%s: %s", what, gnutls_strerror(r));
    return -1;
}

static int crt_fingerprint(gnutls_x509_crt_t crt, char out[AUTH_FP_LEN], char *err, size_t errlen)
{
    gnutls_pubkey_t pub = NULL;
    gnutls_datum_t spki = { NULL, 0 };
    uint8_t h[32];
    int r;

    if ((r = gnutls_pubkey_init(&pub)) < 0 ||
        (r = gnutls_pubkey_import_x509(pub, crt, 0)) < 0 ||
        (r = gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &spki)) < 0 ||
        (r = gnutls_hash_fast(GNUTLS_DIG_SHA256, spki.data, spki.size, h)) < 0) {
        gnutls_pubkey_deinit(pub);
        gnutls_free(spki.data);
        return gt_err(err, errlen, "the certificate's public key", r);
    }
    gnutls_pubkey_deinit(pub);
    gnutls_free(spki.data);
    fp_sha256_format(h, out);
    return 0;
}

int tlscert_fingerprint(const char *pem, size_t len, char out[AUTH_FP_LEN], char *err,
                        size_t errlen)
{
    gnutls_x509_crt_t crt;
    gnutls_datum_t d = { (unsigned char *)(uintptr_t)pem, (unsigned)len };
    int r;

    if ((r = gnutls_x509_crt_init(&crt)) < 0)
        return gt_err(err, errlen, "certificate", r);
    if ((r = gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM)) < 0) {
        gnutls_x509_crt_deinit(crt);
        return gt_err(err, errlen, "certificate", r);
    }
    r = crt_fingerprint(crt, out, err, errlen);
    gnutls_x509_crt_deinit(crt);
    return r;
}

/* A new key and self-signed certificate, as PEM. */
static int generate(char **cert, char **key, char *err, size_t errlen)
{
    gnutls_x509_privkey_t pk = NULL;
    gnutls_x509_crt_t crt = NULL;
    gnutls_datum_t kd = { NULL, 0 }, cd = { NULL, 0 };
    char host[256] = "localhost";
    uint8_t serial[16];
    time_t now = time(NULL);
    int r, ret = -1;

    gethostname(host, sizeof(host) - 1);
    if (getrandom(serial, sizeof(serial), 0) != (ssize_t)sizeof(serial)) {
        snprintf(err, errlen, "getrandom: %s", strerror(errno));
        return -1;
    }
    serial[0] &= 0x7f;          /* a positive serial number */
    if ((r = gnutls_x509_privkey_init(&pk)) < 0 ||
        (r = gnutls_x509_privkey_generate(pk, GNUTLS_PK_ECDSA,
                                          GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1),
                                          0)) < 0) {
        gt_err(err, errlen, "generating the TLS key", r);
        goto out;
    }
    if ((r = gnutls_x509_crt_init(&crt)) < 0 ||
        (r = gnutls_x509_crt_set_version(crt, 3)) < 0 ||
        (r = gnutls_x509_crt_set_serial(crt, serial, sizeof(serial))) < 0 ||
        (r = gnutls_x509_crt_set_activation_time(crt, now - 3600)) < 0 ||
        (r = gnutls_x509_crt_set_expiration_time(crt, now + CERT_YEARS * 365 * 86400L)) < 0 ||
        (r = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, host,
                                           (unsigned)strlen(host))) < 0 ||
        (r = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_ORGANIZATION_NAME, 0,
                                           "xend (self-signed)", 18)) < 0 ||
        (r = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, host,
                                                  (unsigned)strlen(host),
                                                  GNUTLS_FSAN_APPEND)) < 0 ||
        (r = gnutls_x509_crt_set_basic_constraints(crt, 0, -1)) < 0 ||
        (r = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0 ||
        (r = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0)) < 0 ||
        (r = gnutls_x509_crt_set_key(crt, pk)) < 0 ||
        (r = gnutls_x509_crt_sign2(crt, crt, pk, GNUTLS_DIG_SHA256, 0)) < 0) {
        gt_err(err, errlen, "making the TLS certificate", r);
        goto out;
    }
    if ((r = gnutls_x509_privkey_export2(pk, GNUTLS_X509_FMT_PEM, &kd)) < 0 ||
        (r = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &cd)) < 0) {
        gt_err(err, errlen, "exporting the TLS certificate", r);
        goto out;
    }
    *key = strndup((const char *)kd.data, kd.size);
    *cert = strndup((const char *)cd.data, cd.size);
    if (!*key || !*cert) {
        free(*key);
        free(*cert);
        *key = *cert = NULL;
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    ret = 0;
out:
    if (kd.data) {
        explicit_bzero(kd.data, kd.size);
        gnutls_free(kd.data);
    }
    gnutls_free(cd.data);
    if (crt)
        gnutls_x509_crt_deinit(crt);
    if (pk)
        gnutls_x509_privkey_deinit(pk);
    return ret;
}

int tlscert_load_or_create(const char *cert_path, const char *key_path, char **cert,
                           char **key, bool *created, char *err, size_t errlen)
{
    bool have_cert = access(cert_path, F_OK) == 0, have_key = access(key_path, F_OK) == 0;
    size_t len;
    int r;

    *cert = *key = NULL;
    *created = false;
    if (have_cert || have_key) {
        if (!have_cert || !have_key) {
            snprintf(err, errlen, "%s exists but %s does not: give both or neither",
                     have_cert ? cert_path : key_path, have_cert ? key_path : cert_path);
            return -1;
        }
        if (!(*cert = read_file(cert_path, &len))) {
            snprintf(err, errlen, "cannot read %s: %s", cert_path, strerror(errno));
            return -1;
        }
        if (!(*key = read_file(key_path, &len))) {
            snprintf(err, errlen, "cannot read %s: %s", key_path, strerror(errno));
            free(*cert);
            *cert = NULL;
            return -1;
        }
        return 0;
    }
    if (generate(cert, key, err, errlen) < 0)
        return -1;
    const char *bad = key_path;
    r = io_write_file_atomic(key_path, *key, strlen(*key), 0600);
    if (r == 0) {
        bad = cert_path;
        r = io_write_file_atomic(cert_path, *cert, strlen(*cert), 0600);
    }
    if (r < 0) {
        snprintf(err, errlen, "cannot write %s: %s", bad, strerror(-r));
        unlink(key_path);
        free(*cert);
        free(*key);
        *cert = *key = NULL;
        return -1;
    }
    *created = true;
    return 0;
}
