/* Key fingerprints as OpenSSH shows them: "SHA256:" and the unpadded
 * base64 of a SHA-256 hash. xend prints its certificate's this way and
 * libxeno pins it by the same string. */
#ifndef XENO_COMMON_FINGERPRINT_H
#define XENO_COMMON_FINGERPRINT_H

#include <stdint.h>

#define FP_SHA256_LEN 52    /* "SHA256:" + 43 characters + NUL */

void fp_sha256_format(const uint8_t hash[32], char out[FP_SHA256_LEN]);
/* The hash back from "SHA256:..." (or curl's "sha256//..."; trailing '='
 * allowed): 0, or -1 if it is not one. */
int fp_sha256_parse(const char *text, uint8_t hash[32]);

#endif
