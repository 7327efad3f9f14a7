/* Building and parsing the few Ethernet/IPv4 frames the net tests exchange
 * (ARP, DHCP, UDP), byte by byte as a guest's stack would put them on the
 * wire. */
#ifndef XENO_TEST_FRAMES_H
#define XENO_TEST_FRAMES_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define ETH_HLEN_ 14
#define IP_HLEN_  20
#define UDP_HLEN_ 8

static const uint8_t test_mac[6] = { 0x00, 0x16, 0x3e, 0x12, 0x34, 0x56 };

static inline void put16be(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline uint16_t get16be(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static inline void put_ip(uint8_t *p, const char *dotted)
{
    struct in_addr a;
    inet_pton(AF_INET, dotted, &a);
    memcpy(p, &a, 4);
}

static inline bool is_ip(const uint8_t *p, const char *dotted)
{
    struct in_addr a;
    inet_pton(AF_INET, dotted, &a);
    return !memcmp(p, &a, 4);
}

static inline uint16_t ip_csum(const uint8_t *p, size_t len)
{
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < len; i += 2)
        s += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (len & 1)
        s += (uint32_t)p[len - 1] << 8;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

static inline size_t put_eth(uint8_t *f, const uint8_t *dst, uint16_t type)
{
    memcpy(f, dst, 6);
    memcpy(f + 6, test_mac, 6);
    put16be(f + 12, type);
    return ETH_HLEN_;
}

/* ARP request "who has target_ip? tell sender_ip". */
static inline size_t build_arp_request(uint8_t *f, const char *sender_ip, const char *target_ip)
{
    static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    uint8_t *a = f + put_eth(f, bcast, 0x0806);

    put16be(a, 1);          /* Ethernet */
    put16be(a + 2, 0x0800); /* IPv4 */
    a[4] = 6;
    a[5] = 4;
    put16be(a + 6, 1);      /* request */
    memcpy(a + 8, test_mac, 6);
    put_ip(a + 14, sender_ip);
    memset(a + 18, 0, 6);
    put_ip(a + 24, target_ip);
    memset(a + 28, 0, 60 - ETH_HLEN_ - 28);   /* pad to the Ethernet minimum */
    return 60;
}

/* Ethernet + IPv4 + UDP around `payload`; UDP checksum 0 (allowed on IPv4). */
static inline size_t build_udp(uint8_t *f, const uint8_t *dst_mac, const char *src_ip,
                               uint16_t sport, const char *dst_ip, uint16_t dport,
                               const void *payload, size_t plen)
{
    uint8_t *ip = f + put_eth(f, dst_mac, 0x0800);
    uint8_t *udp = ip + IP_HLEN_;

    memset(ip, 0, IP_HLEN_);
    ip[0] = 0x45;
    put16be(ip + 2, (uint16_t)(IP_HLEN_ + UDP_HLEN_ + plen));
    put16be(ip + 4, 0x1234);
    ip[8] = 64;
    ip[9] = 17;
    put_ip(ip + 12, src_ip);
    put_ip(ip + 16, dst_ip);
    put16be(ip + 10, ip_csum(ip, IP_HLEN_));
    put16be(udp, sport);
    put16be(udp + 2, dport);
    put16be(udp + 4, (uint16_t)(UDP_HLEN_ + plen));
    put16be(udp + 6, 0);
    memcpy(udp + UDP_HLEN_, payload, plen);
    size_t len = ETH_HLEN_ + IP_HLEN_ + UDP_HLEN_ + plen;
    if (len < 60) {
        memset(f + len, 0, 60 - len);
        len = 60;
    }
    return len;
}

/* DHCPDISCOVER from test_mac. */
static inline size_t build_dhcp_discover(uint8_t *f, uint32_t xid)
{
    static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    uint8_t bootp[300];

    memset(bootp, 0, sizeof(bootp));
    bootp[0] = 1;                 /* BOOTREQUEST */
    bootp[1] = 1;                 /* Ethernet */
    bootp[2] = 6;
    bootp[4] = (uint8_t)(xid >> 24);
    bootp[5] = (uint8_t)(xid >> 16);
    bootp[6] = (uint8_t)(xid >> 8);
    bootp[7] = (uint8_t)xid;
    memcpy(bootp + 28, test_mac, 6);            /* chaddr */
    static const uint8_t opts[] = { 99, 130, 83, 99,      /* magic cookie */
                                    53, 1, 1,             /* DHCPDISCOVER */
                                    55, 3, 1, 3, 6,       /* want mask, router, dns */
                                    255 };
    memcpy(bootp + 236, opts, sizeof(opts));
    return build_udp(f, bcast, "0.0.0.0", 68, "255.255.255.255", 67, bootp, sizeof(bootp));
}

/* Parsed view of an IPv4/UDP frame; false if it is not one. */
typedef struct UdpView {
    const uint8_t *ip;
    uint16_t sport, dport;
    const uint8_t *data;
    size_t dlen;
} UdpView;

static inline bool parse_udp(const uint8_t *f, size_t len, UdpView *v)
{
    if (len < ETH_HLEN_ + IP_HLEN_ + UDP_HLEN_ || get16be(f + 12) != 0x0800)
        return false;
    const uint8_t *ip = f + ETH_HLEN_;
    size_t ihl = (size_t)(ip[0] & 15) * 4;
    if ((ip[0] >> 4) != 4 || ip[9] != 17 || ihl < IP_HLEN_ ||
        len < ETH_HLEN_ + ihl + UDP_HLEN_)
        return false;
    const uint8_t *udp = ip + ihl;
    size_t ulen = get16be(udp + 4);
    if (ulen < UDP_HLEN_ || ETH_HLEN_ + ihl + ulen > len)
        return false;
    v->ip = ip;
    v->sport = get16be(udp);
    v->dport = get16be(udp + 2);
    v->data = udp + UDP_HLEN_;
    v->dlen = ulen - UDP_HLEN_;
    return true;
}

/* Find DHCP option `code` in a BOOTP payload; returns its value or NULL. */
static inline const uint8_t *dhcp_option(const uint8_t *bootp, size_t len, uint8_t code,
                                         uint8_t *olen)
{
    size_t i = 240;
    if (len < 240)
        return NULL;
    while (i < len && bootp[i] != 255) {
        if (bootp[i] == 0) {
            i++;
            continue;
        }
        if (i + 1 >= len || i + 2 + bootp[i + 1] > len)
            return NULL;
        if (bootp[i] == code) {
            *olen = bootp[i + 1];
            return bootp + i + 2;
        }
        i += 2 + bootp[i + 1];
    }
    return NULL;
}

#endif
