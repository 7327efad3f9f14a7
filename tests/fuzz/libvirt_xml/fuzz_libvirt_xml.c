/* libFuzzer target for the domain XML parser (libvirt_xml.c), and the
 * pool and volume parsers. A domain that parses must format to XML that
 * parses again to the same configuration. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include "libvirt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int resolve(const char *pool, const char *vol, char *path, size_t size, LvError *e)
{
    if (strcmp(pool, "default"))
        return lv_error(e, LV_ERR_NO_STORAGE_POOL, "%s", pool);
    snprintf(path, size, "/images/%s", vol);
    return 0;
}

static const LvArchs archs = { .riscv64 = true, .x86_64 = true, .host_arch = "x86_64",
                               .emulator = "/usr/sbin/xeno-vmm" };
static const LvXmlCtx ctx = { .archs = &archs, .resolve = resolve };

/* The formatted XML of a parsed domain parses to the same config. */
static void round_trip(const VmConfig *a)
{
    static VmConfig b;
    static char ta[CONFIG_FORMAT_MAX], tb[CONFIG_FORMAT_MAX];
    LvDomXmlInfo info = { .id = -1 };
    LvError e;
    char *xml = lvxml_format_domain(a, &info);

    if (!xml)
        abort();
    if (lvxml_parse_domain(xml, strlen(xml), &ctx, &b, &e) < 0) {
        fprintf(stderr, "formatted XML does not parse: %s\n%s\n", e.msg, xml);
        abort();
    }
    if (config_format(a, ta, sizeof(ta)) < 0 || config_format(&b, tb, sizeof(tb)) < 0 ||
        strcmp(ta, tb)) {
        fprintf(stderr, "round trip changed the config:\n%s---\n%s\n", ta, tb);
        abort();
    }
    free(xml);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static VmConfig cfg;
    static bool init;
    LvError e;
    LvPoolDef p;
    LvVolDef v;

    if (!init) {
        xmlInitParser();
        init = true;
    }
    if (lvxml_parse_domain((const char *)data, size, &ctx, &cfg, &e) == 0) {
        char err[256];

        if (config_validate(&cfg, err, sizeof(err)) == 0)
            round_trip(&cfg);
    } else if (!e.code || !e.msg[0]) {
        abort();                       /* a refusal always says why */
    }
    (void)lvxml_parse_pool((const char *)data, size, &p, &e);
    (void)lvxml_parse_vol((const char *)data, size, &v, &e);
    return 0;
}
