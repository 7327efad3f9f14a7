/* Which network backend a NIC's configuration names. */
#include <stdio.h>
#include <string.h>

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

/* RFC 903 over Ethernet, as QEMU's announce_self_create builds it. */
void net_rarp_frame(uint8_t *buf, const uint8_t mac[6])
{
    uint8_t *p = buf;

    memset(buf, 0, NET_RARP_FRAME_LEN);
    memset(p, 0xff, 6);                 /* broadcast */
    memcpy(p + 6, mac, 6);
    p[12] = NET_ETH_P_RARP >> 8;
    p[13] = NET_ETH_P_RARP & 0xff;
    p += 14;
    p[1] = 1;                           /* hardware type: Ethernet */
    p[2] = 0x08;                        /* protocol type: IPv4 */
    p[4] = 6;                           /* hardware address length */
    p[5] = 4;                           /* protocol address length */
    p[7] = 3;                           /* operation: reverse request */
    memcpy(p + 8, mac, 6);              /* sender MAC; IP 0.0.0.0 */
    memcpy(p + 18, mac, 6);             /* target MAC; IP 0.0.0.0 */
}

int net_announce(NetBackend *nb, const uint8_t mac[6])
{
    uint8_t frame[NET_RARP_FRAME_LEN];

    if (!nb || !nb->ops->inject)
        return 0;
    net_rarp_frame(frame, mac);
    return nb->ops->inject(nb, frame, sizeof(frame)) == 0 ? 1 : -1;
}
