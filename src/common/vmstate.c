#include "vmstate.h"

#include <stdio.h>
#include <string.h>

#include "stream.h"

int vmstate_register(VmState *vs, const char *tag, uint32_t instance, uint32_t version,
                     vmstate_save_fn save, vmstate_load_fn load, void *opaque)
{
    uint32_t t;

    if (strlen(tag) != 4 || vs->n >= VMSTATE_MAX_SECTIONS)
        return -1;
    t = STREAM_TAG(tag[0], tag[1], tag[2], tag[3]);
    if (vmstate_find(vs, t, instance))
        return -1;
    vs->s[vs->n++] = (VmStateSection){ .tag = t, .instance = instance, .version = version,
                                       .save = save, .load = load, .opaque = opaque };
    return 0;
}

VmStateSection *vmstate_find(VmState *vs, uint32_t tag, uint32_t instance)
{
    for (unsigned i = 0; i < vs->n; i++)
        if (vs->s[i].tag == tag && vs->s[i].instance == instance)
            return &vs->s[i];
    return NULL;
}

void vmstate_section_name(uint32_t tag, uint32_t instance, char *out, size_t len)
{
    char name[5];

    stream_tag_name(tag, name);
    snprintf(out, len, "%s %u", name, instance);
}

int vmstate_save_all(VmState *vs, vmstate_put_fn put, void *opaque, char *err, size_t errlen)
{
    for (unsigned i = 0; i < vs->n; i++) {
        VmStateSection *s = &vs->s[i];
        StateBuf b;
        char name[16], why[256] = "";
        int r;

        sb_init(&b);
        r = s->save(s->opaque, &b, why, sizeof(why));
        if (r || !sb_ok(&b)) {
            vmstate_section_name(s->tag, s->instance, name, sizeof(name));
            snprintf(err, errlen, "cannot save section %s: %s", name,
                     r ? (why[0] ? why : "failed") : "out of memory");
            sb_free(&b);
            return -1;
        }
        r = put(opaque, s, b.data, b.len);
        sb_free(&b);
        if (r) {
            snprintf(err, errlen, "cannot write the saved state");
            return -1;
        }
    }
    return 0;
}

void vmstate_load_begin(VmState *vs)
{
    for (unsigned i = 0; i < vs->n; i++)
        vs->s[i].loaded = false;
}

int vmstate_load_one(VmState *vs, uint32_t tag, uint32_t instance, uint32_t version,
                     const void *data, size_t len, char *err, size_t errlen)
{
    VmStateSection *s = vmstate_find(vs, tag, instance);
    char name[16], why[200] = "";
    StateBuf b;

    vmstate_section_name(tag, instance, name, sizeof(name));
    if (!s) {
        snprintf(err, errlen, "section %s: this machine has no such part "
                 "(saved from a different configuration or a newer Xeno)", name);
        return -1;
    }
    if (s->loaded) {
        snprintf(err, errlen, "section %s appears twice", name);
        return -1;
    }
    if (version > s->version) {
        snprintf(err, errlen, "section %s: version %u is newer than this Xeno reads (%u)",
                 name, version, s->version);
        return -1;
    }
    sb_reader(&b, data, len);
    if (s->load(s->opaque, &b, version, why, sizeof(why))) {
        snprintf(err, errlen, "section %s: %s", name, why[0] ? why : "invalid");
        return -1;
    }
    if (!sb_ok(&b)) {
        snprintf(err, errlen, "section %s: %s", name,
                 b.error ? "too short or malformed" : "longer than its version allows");
        return -1;
    }
    s->loaded = true;
    return 0;
}

int vmstate_check_complete(VmState *vs, char *err, size_t errlen)
{
    for (unsigned i = 0; i < vs->n; i++) {
        if (!vs->s[i].loaded) {
            char name[16];
            vmstate_section_name(vs->s[i].tag, vs->s[i].instance, name, sizeof(name));
            snprintf(err, errlen, "section %s is missing from the saved state", name);
            return -1;
        }
    }
    return 0;
}
