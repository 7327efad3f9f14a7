/* Which network backend a NIC's configuration names. */
#include <stdio.h>

#include "backend/net.h"
#include "common/config.h"

NetBackend *net_open(Loop *loop, const CfgNic *nic, char *err, size_t errlen)
{
    switch (nic->type) {
    case CFG_NET_USER:
        return net_slirp_create(loop, nic, err, errlen);
    case CFG_NET_TAP:
    case CFG_NET_BRIDGE:
        return net_tap_create(loop, nic, err, errlen);
    }
    snprintf(err, errlen, "unknown network type %d", (int)nic->type);
    return NULL;
}
