/* Who may do what on xend's REST API (docs/protocols.md §2, "Access").
 *
 * A client has a role: full (anything) or read-only (list, info, host
 * info, logs, events). On the UNIX sockets the socket decides (xend.sock
 * full, xend-ro.sock read-only; file modes decide who may connect); over
 * TCP the bearer token does: STATE/token is a full token, STATE/tokens
 * holds more, one "ROLE TOKEN" per line.
 *
 * The pure parts (token files, bearer lookup, per-peer counting, the TLS
 * fingerprint format) are here for the unit tests; http.c and main.c use
 * them. */
#ifndef XEND_AUTH_H
#define XEND_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/fingerprint.h"
#include "xend.h"

#define AUTH_TOKEN_MIN 16
#define AUTH_TOKEN_MAX 128
#define AUTH_DEFAULT_PEER_LIMIT 16    /* concurrent connections per uid / IP */

const char *auth_role_name(enum xend_role r);

typedef struct AuthToken {
    enum xend_role role;
    char token[AUTH_TOKEN_MAX + 1];
} AuthToken;

typedef struct AuthTokens {
    AuthToken *v;
    size_t n;
} AuthTokens;

/* Add one token; -1 with a message when it is malformed (length, blanks,
 * control characters) or already there (with either role). */
int auth_tokens_add(AuthTokens *t, enum xend_role role, const char *token,
                    char *err, size_t errlen);
/* Parse a token file: "ROLE TOKEN" per line, ROLE full or ro; blank lines
 * and '#' comments. Adds to t; -1 with "FILE:LINE: message". */
int auth_tokens_parse(AuthTokens *t, const char *file, const char *text, size_t len,
                      char *err, size_t errlen);
void auth_tokens_free(AuthTokens *t);
/* The role of an Authorization header value ("Bearer TOKEN"), compared in
 * constant time with every token; -1 when missing or unknown. */
int auth_bearer_role(const AuthTokens *t, const char *authorization);

/* Concurrent connections per peer ("uid 1000", "ip 10.0.0.9"). */
typedef struct PeerTable PeerTable;
PeerTable *peer_table_new(void);
void peer_table_free(PeerTable *p);
/* Count one more connection of key; returns the count, this one included. */
unsigned peer_enter(PeerTable *p, const char *key);
void peer_leave(PeerTable *p, const char *key);

/* Fingerprints: common/fingerprint.h. */
#define AUTH_FP_LEN FP_SHA256_LEN

/* ---- tlscert.c: xend's TLS certificate for the TCP listener ---- */
/* Load cert_path and key_path (PEM), or, when neither exists, generate a
 * self-signed certificate (ECDSA P-256, 10 years, CN = this host) and
 * write both 0600. *cert and *key are malloc'd PEM text; *created says
 * whether they are new. 0, or -1 with one line in err. */
int tlscert_load_or_create(const char *cert_path, const char *key_path, char **cert,
                           char **key, bool *created, char *err, size_t errlen);
/* The pin of a certificate: SHA-256 of its SubjectPublicKeyInfo, as
 * auth_fp_format. 0, or -1 with one line in err. */
int tlscert_fingerprint(const char *cert_pem, size_t len, char out[AUTH_FP_LEN],
                        char *err, size_t errlen);

#endif
