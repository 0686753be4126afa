/*
 * filter.c — owns the BPF expression that keeps what the analysis needs (include/filter.h):
 * one builder for every reader of packets (analyze's files, live capture, the probe's own
 * capture), so that they all keep the same packets. capture/handle.c adds the VLAN-tagged
 * form on Ethernet; the probe and the live side handle narrow it further.
 */
#include "filter.h"

#include <stdio.h>

void pm_engine_filter(const uint16_t *ports, int nports, char *buf, size_t len)
{
    /* Keep: TCP to/from the watched ports; ICMP errors (unreachable, source quench, time
     * exceeded, parameter problem); ICMPv6 errors (types 1-4); IPv4 later fragments and
     * IPv6 packets whose next header is an extension header (their transport header is not
     * where BPF looks). Everything else never reaches the decoder. */
    size_t o = (size_t)snprintf(buf, len, "(tcp and (");
    for (int i = 0; i < nports && o < len; i++) {
        o += (size_t)snprintf(buf + o, len - o, "%sport %u", i ? " or " : "", ports[i]);
    }
    if (o < len) {
        snprintf(buf + o, len - o,
                 ")) or (icmp and (icmp[icmptype] == icmp-unreach or icmp[icmptype] == "
                 "icmp-timxceed or icmp[icmptype] == icmp-paramprob or icmp[icmptype] == "
                 "icmp-sourcequench)) or (icmp6 and ip6[40] < 5) or "
                 "(ip and ip[6:2] & 0x1fff != 0) or "
                 "(ip6 and ip6[6] != 6 and ip6[6] != 17 and ip6[6] != 58)");
    }
}
