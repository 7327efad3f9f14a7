/* libxeno: TLS to xend. Before the first request, a handshake of our own
 * (GnuTLS) learns the SHA-256 of xend's public key (SubjectPublicKeyInfo),
 * which must be the pinned one; libcurl then pins the same key on every
 * connection it makes (CURLOPT_PINNEDPUBLICKEY), so nothing, the token
 * least, goes to a server that does not hold it. Pins are written as
 * OpenSSH writes key fingerprints: "SHA256:" and unpadded base64. */
#include <errno.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define HANDSHAKE_TIMEOUT_MS 10000

int xeno_tls_probe(int fd, const char *host, unsigned char hash[32], char *err, size_t errlen)
{
    gnutls_certificate_credentials_t cred = NULL;
    gnutls_session_t s = NULL;
    gnutls_x509_crt_t crt = NULL;
    gnutls_pubkey_t pub = NULL;
    gnutls_datum_t spki = { NULL, 0 };
    const gnutls_datum_t *certs;
    unsigned ncerts = 0;
    unsigned char a[16];
    int r, ret = -1;

    if ((r = gnutls_certificate_allocate_credentials(&cred)) < 0 ||
        (r = gnutls_init(&s, GNUTLS_CLIENT)) < 0 ||
        (r = gnutls_set_default_priority(s)) < 0 ||
        (r = gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred)) < 0) {
        snprintf(err, errlen, "TLS: %s", gnutls_strerror(r));
        goto out;
    }
    if (inet_pton(AF_INET, host, a) != 1 && inet_pton(AF_INET6, host, a) != 1)
        gnutls_server_name_set(s, GNUTLS_NAME_DNS, host, strlen(host));
    gnutls_transport_set_int(s, fd);
    gnutls_handshake_set_timeout(s, HANDSHAKE_TIMEOUT_MS);
    do {
        r = gnutls_handshake(s);
    } while (r < 0 && !gnutls_error_is_fatal(r));
    if (r < 0) {
        snprintf(err, errlen, "TLS handshake failed: %s (does xend listen with TLS there?)",
                 gnutls_strerror(r));
        goto out;
    }
    certs = gnutls_certificate_get_peers(s, &ncerts);
    if (!certs || !ncerts) {
        snprintf(err, errlen, "TLS: xend sent no certificate");
        goto out;
    }
    if ((r = gnutls_x509_crt_init(&crt)) < 0 ||
        (r = gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER)) < 0 ||
        (r = gnutls_pubkey_init(&pub)) < 0 ||
        (r = gnutls_pubkey_import_x509(pub, crt, 0)) < 0 ||
        (r = gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &spki)) < 0 ||
        (r = gnutls_hash_fast(GNUTLS_DIG_SHA256, spki.data, spki.size, hash)) < 0) {
        snprintf(err, errlen, "TLS: xend's certificate: %s", gnutls_strerror(r));
        goto out;
    }
    gnutls_bye(s, GNUTLS_SHUT_WR);
    ret = 0;
out:
    gnutls_free(spki.data);
    if (pub)
        gnutls_pubkey_deinit(pub);
    if (crt)
        gnutls_x509_crt_deinit(crt);
    if (s)
        gnutls_deinit(s);
    if (cred)
        gnutls_certificate_free_credentials(cred);
    return ret;
}

int xeno_known_hosts_default(char *out, size_t size)
{
    const char *x = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");

    if (x && *x == '/')
        return snprintf(out, size, "%s/xeno/known_hosts", x) < (int)size ? 0 : -1;
    if (home && *home)
        return snprintf(out, size, "%s/.config/xeno/known_hosts", home) < (int)size ? 0 : -1;
    return -1;
}

int xeno_known_hosts_find(const char *file, const char *hostport, unsigned char hash[32])
{
    FILE *f = fopen(file, "re");
    char line[512], key[300], fp[128];
    int found = 0;

    if (!f)
        return errno == ENOENT ? 0 : -1;
    while (!found && fgets(line, sizeof(line), f)) {
        if (line[0] == '#' || sscanf(line, "%299s %127s", key, fp) != 2)
            continue;
        if (!strcmp(key, hostport) && fp_sha256_parse(fp, hash) == 0)
            found = 1;
    }
    fclose(f);
    return found;
}
