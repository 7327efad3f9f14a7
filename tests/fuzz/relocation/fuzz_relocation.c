/* libFuzzer target for the relocation server's parsers: what a peer sends
 * before anything is started on its behalf (the request line), the
 * greeting and the answer a source reads, and the hosts-allow patterns of
 * the config file.
 *
 * Input: the first byte picks the parser, the rest is its text. A request
 * that parses must encode back to a request that parses to the same. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xend.h"

static void request(const char *text, size_t len)
{
    RelocRequest r, again;
    char err[256], *line;

    if (reloc_request_parse(text, len, &r, err, sizeof(err)) < 0) {
        if (!err[0] || strchr(err, '\n'))
            abort();            /* errors are one line, always */
        return;
    }
    line = reloc_request_encode(&r);
    if (!line || reloc_request_parse(line, strlen(line) - 1, &again, err, sizeof(err)) < 0)
        abort();
    if (strcmp(r.name, again.name) || strcmp(r.uuid, again.uuid) ||
        strcmp(r.config, again.config) || r.live != again.live || r.paused != again.paused ||
        r.managed != again.managed || r.autostart != again.autostart)
        abort();
    free(line);
    reloc_request_free(&r);
    reloc_request_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text, why[128], err[256];
    enum reloc_tls t;
    RelocAllow *a;

    if (size < 1)
        return 0;
    text = malloc(size);
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    switch (data[0] % 4) {
    case 0:
        request(text, size - 1);
        break;
    case 1:
        if (reloc_banner_parse(text, &t, why, sizeof(why)) > 0 && strchr(why, '\n'))
            abort();
        break;
    case 2:
        {
            char key[RELOC_STREAM_KEY_HEX + 1];
            int r = reloc_answer_parse(text, size - 1, key, why, sizeof(why));
            if ((r > 0 && strchr(why, '\n')) || (r == 0 && key[0] && strlen(key) != RELOC_STREAM_KEY_HEX))
                abort();
        }
        break;
    default:
        a = reloc_allow_compile(text, err, sizeof(err));
        if (a) {
            reloc_allow_match(a, "10.0.0.1", "host.example.org");
            reloc_allow_free(a);
        }
        break;
    }
    free(text);
    return 0;
}
