/* libFuzzer target for xend's request handling: routing, JSON body
 * validation, config parsing of POST /v1/domains, and the domain actions,
 * over the fake VMM layer of tests/unit/xend/xend_stubs.c.
 *
 * Input: "METHOD PATH\n" then the body. The registry is emptied after each
 * input so every run starts alike. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xend.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    char head[512], *sp;
    size_t hl;
    ApiReply rp = { 0 };

    if (!nl || (hl = (size_t)(nl - data)) >= sizeof(head))
        return 0;
    memcpy(head, data, hl);
    head[hl] = '\0';
    if (strlen(head) != hl || !(sp = strchr(head, ' ')))
        return 0;
    *sp = '\0';

    /* Seed one domain so that per-domain routes have something to hit. */
    ApiRequest seed = { .method = "POST", .path = "/v1/domains",
                        .body = "{\"config\": \"name = \\\"d\\\"\\nmaxmem = 512\\nmaxvcpus = 4\\n\"}",
                        .local = true };
    seed.len = strlen(seed.body);
    api_handle(&seed, &rp);
    free(rp.body);

    ApiRequest rq = { .method = head, .path = sp + 1, .body = (const char *)nl + 1,
                      .len = size - hl - 1, .local = (size & 1) == 0 };
    memset(&rp, 0, sizeof(rp));
    api_handle(&rq, &rp);
    if (!rp.events && (!rp.body || rp.status < 200 || rp.status > 599))
        abort();
    free(rp.body);

    pthread_mutex_lock(&reg_lock);
    reg_clear_locked();
    pthread_mutex_unlock(&reg_lock);
    return 0;
}
