/* Fuzz the domain config parser: whole configs, single overrides, and the
 * disk/vif spec parsers on raw pieces of the input. Nothing may crash, hang
 * or read out of bounds, and a failed parse must leave the config alone. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"

static void no_warn(void *opaque, const char *msg)
{
    (void)opaque;
    (void)msg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static VmConfig c, before;
    char err[256];
    char *s;

    config_init(&c);
    before = c;
    if (config_parse(&c, "fuzz.cfg", (const char *)data, size, no_warn, NULL,
                     err, sizeof(err)) == 0) {
        (void)config_validate(&c, err, sizeof(err));
    } else if (memcmp(&c, &before, sizeof(c)) != 0) {
        abort();                          /* an error must apply nothing */
    }

    /* The same bytes as a NUL-terminated string: override and specs. */
    s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = 0;
    before = c;
    if (config_set(&c, s, err, sizeof(err)) < 0 && memcmp(&c, &before, sizeof(c)) != 0)
        abort();
    (void)config_parse_disk(&c.disk[0], s, err, sizeof(err));
    (void)config_parse_vif(&c.nic[0], s, err, sizeof(err));
    /* ... and each line alone as a spec, as lists deliver them */
    for (char *line = s, *nl; line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        (void)config_parse_disk(&c.disk[1], line, err, sizeof(err));
        (void)config_parse_vif(&c.nic[1], line, err, sizeof(err));
    }
    free(s);
    return 0;
}
