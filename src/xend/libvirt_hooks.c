/* The calls the rest of xend makes into the libvirt server: the registry
 * (a domain joined), the events module (every registry event), the API
 * (a managed domain defined or undefined; the host object). They do
 * nothing until the server installs its operations, so the xend core
 * built alone (unit tests, fuzz targets) needs nothing else of it. */
#include <stdatomic.h>

#include "libvirt.h"

static _Atomic(const LvHookOps *) hooks;

void lv_hooks_install(const LvHookOps *ops)
{
    atomic_store(&hooks, ops);
}

void lv_hook_domain_added(const char *name, const char *uuid)
{
    const LvHookOps *h = atomic_load(&hooks);

    if (h && h->domain_added)
        h->domain_added(name, uuid);
}

void lv_hook_event(const char *event, const char *name, int id)
{
    const LvHookOps *h = atomic_load(&hooks);

    if (h && h->event)
        h->event(event, name, id);
}

void lv_hook_defined(const char *name, const char *uuid, bool defined)
{
    const LvHookOps *h = atomic_load(&hooks);

    if (h && h->defined)
        h->defined(name, uuid, defined);
}

void lv_hook_host_json(json_t *host)
{
    const LvHookOps *h = atomic_load(&hooks);

    if (h && h->host_json)
        h->host_json(host);
}
