#include "fingerprint.h"

#include <string.h>

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void fp_sha256_format(const uint8_t h[32], char out[FP_SHA256_LEN])
{
    char *o = out + 7;

    memcpy(out, "SHA256:", 7);
    for (int i = 0; i < 32; i += 3) {
        uint32_t v = (uint32_t)h[i] << 16 | (i + 1 < 32 ? (uint32_t)h[i + 1] << 8 : 0) |
                     (i + 2 < 32 ? h[i + 2] : 0);
        *o++ = b64[v >> 18 & 63];
        *o++ = b64[v >> 12 & 63];
        if (i + 1 < 32)
            *o++ = b64[v >> 6 & 63];
        if (i + 2 < 32)
            *o++ = b64[v & 63];
    }
    *o = '\0';
}

int fp_sha256_parse(const char *t, uint8_t h[32])
{
    unsigned acc = 0;
    int bits = 0, n = 0;
    size_t len;

    if (!strncmp(t, "SHA256:", 7))
        t += 7;
    else if (!strncmp(t, "sha256//", 8))
        t += 8;
    else
        return -1;
    len = strlen(t);
    while (len && t[len - 1] == '=')
        len--;
    if (len != 43)
        return -1;
    for (size_t i = 0; i < len; i++) {
        const char *p = strchr(b64, t[i]);
        if (!p || !t[i])
            return -1;
        acc = acc << 6 | (unsigned)(p - b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n < 32)
                h[n++] = (uint8_t)(acc >> bits);
        }
    }
    return n == 32 ? 0 : -1;
}
