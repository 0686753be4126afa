/*
 * decode.h — one frame in, one plain struct out. decode.c walks link layer → IPv4/IPv6 →
 * TCP | ICMP/ICMPv6 (with the quoted header of an error) and fills struct pm_pkt. Nothing
 * downstream reads raw bytes except the TCP payload, which stays a pm_cur.
 */
#ifndef PM_DECODE_H
#define PM_DECODE_H

#include "pkt.h"
#include "pm.h"

/* Link types we decode. Values are LINKTYPE_* from capture files; libpcap's DLT_* values
 * for the same link types are mapped onto these by pm_linktype_normalize(). */
enum pm_linktype {
    PM_LT_NULL = 0,        /* BSD loopback, host-order AF_ value */
    PM_LT_ETHERNET = 1,
    PM_LT_RAW = 101,       /* raw IPv4/IPv6 */
    PM_LT_LOOP = 108,      /* OpenBSD loopback, network-order AF_ value */
    PM_LT_LINUX_SLL = 113,
    PM_LT_IPV4 = 228,
    PM_LT_IPV6 = 229,
    PM_LT_NFLOG = 239,
    PM_LT_LINUX_SLL2 = 276,
};
int pm_linktype_normalize(int dlt);
bool pm_linktype_supported(int linktype);
const char *pm_linktype_name(int linktype);

/* Where decoding stopped. OK: the packet is fully usable. TRUNC: the snaplen cut it (what
 * was decoded before the cut is valid). BAD: its own lengths or fields contradict each
 * other. UNSUPPORTED: a link type we do not decode. OTHER: fine, but not IP/TCP/ICMP. */
enum pm_pkt_status {
    PM_PKT_OK,
    PM_PKT_TRUNC,
    PM_PKT_BAD,
    PM_PKT_UNSUPPORTED,
    PM_PKT_OTHER,
};

/* Layer names for messages about where a truncation or malformation happened. */
enum pm_layer { PM_L_LINK, PM_L_IP, PM_L_IPEXT, PM_L_TCP, PM_L_TCPOPT, PM_L_ICMP, PM_L_QUOTE };
const char *pm_layer_name(int layer);

/* TCP flag bits (RFC 9293 §3.1). */
enum {
    PM_TH_FIN = 0x01,
    PM_TH_SYN = 0x02,
    PM_TH_RST = 0x04,
    PM_TH_PSH = 0x08,
    PM_TH_ACK = 0x10,
    PM_TH_URG = 0x20,
    PM_TH_ECE = 0x40,
    PM_TH_CWR = 0x80,
};

#define PM_MAX_OPTKINDS 10
/* The TCP options summary (RFC 9293 §3.2, RFC 7323, RFC 2018). */
struct pm_tcpopts {
    uint16_t mss;            /* 0 = absent */
    uint8_t wscale;          /* valid when has_ws */
    uint8_t has_ws : 1, sack_ok : 1, has_ts : 1, bad : 1, cut : 1;
    uint32_t tsval, tsecr;
    uint8_t nkinds;          /* option kinds in order (NOP/EOL excluded) */
    uint8_t kinds[PM_MAX_OPTKINDS];
};

/* An ICMP/ICMPv6 error's quote: the header of the packet that caused it (RFC 792: IP
 * header + 8 bytes; RFC 1812 §4.3.2.3 / RFC 4443: as much as fits; RFC 4884: length
 * field and extensions). */
struct pm_quote {
    uint8_t family;
    pm_addr src, dst;
    uint8_t proto;
    uint8_t ttl;            /* TTL/hop limit as the quoting router saw it */
    uint8_t tos;            /* DSCP+ECN (IPv4 TOS / IPv6 traffic class) */
    uint16_t ip_id;
    uint16_t ip_len;        /* quoted IP total length */
    uint16_t sport, dport;  /* valid when has_ports */
    uint32_t seq;           /* valid when has_seq */
    uint8_t has_ports : 1, has_seq : 1, has_tcp : 1; /* has_tcp: full fixed TCP header */
    uint8_t tcp_flags;      /* valid when has_tcp */
    uint16_t tcp_win;
    struct pm_tcpopts opts; /* valid when has_tcp and the options fit */
    uint16_t bytes;         /* bytes of the original datagram quoted */
};

struct pm_pkt {
    /* from the capture record */
    pm_ns ts;
    uint32_t frame;       /* 1-based frame number within its file */
    uint16_t vantage;     /* input index (file or interface) */
    uint16_t linktype;
    uint32_t caplen, wirelen;
    uint8_t on_loopback;  /* arrived on a loopback interface (local origin) */
    uint8_t outgoing;     /* link layer says sent by this host (SLL pkttype 4), if known */

    uint8_t head_only;    /* pm_decode_head: transport header beyond its first bytes unread */
    uint8_t status;       /* enum pm_pkt_status */
    uint8_t fail_layer;   /* enum pm_layer where TRUNC/BAD happened */

    /* network layer */
    uint8_t family;       /* PM_AF_INET / PM_AF_INET6 / 0 */
    pm_addr src, dst;
    uint8_t ttl;
    uint8_t tos;
    uint16_t ip_id;       /* IPv4 only (IPv6: from a fragment header, else 0) */
    uint8_t df;
    uint8_t frag;         /* 1 = a fragment (MF or offset) */
    uint8_t frag_later;   /* 1 = not the first fragment: no transport header */
    uint8_t ip_opts;      /* IPv4 options or IPv6 extension headers present */
    uint8_t proto;        /* transport protocol number after extension headers */

    /* TCP */
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;        /* PM_TH_* */
    uint16_t win;
    uint8_t tcp_hdr_ok;   /* ports, seq, ack, flags, window all captured */
    uint8_t tcp_ports_ok; /* ports captured (a snaplen cut may leave only these) */
    uint8_t tcp_flags_ok; /* ports, seq, ack and flags captured */
    struct pm_tcpopts opts;
    uint32_t payload_wire; /* payload bytes on the wire */
    pm_cur payload;        /* payload window (cap may be < payload_wire) */

    /* ICMP / ICMPv6 */
    uint8_t icmp_type, icmp_code;
    uint8_t icmp_is_error; /* destination unreachable, time exceeded, parameter problem, ... */
    uint16_t icmp_mtu;     /* fragmentation needed / packet too big */
    struct pm_quote quote;
    uint8_t has_quote;

    /* Where the headers start within the frame, for rewriting a copy of it (the bundle's
     * --redact, analyze/bundle_redact.c through pkt.c's pm_patch_*): the IP header, the
     * transport header, and an ICMP error's quoted IP header. Valid when the has_ bit is
     * set; within caplen is not promised (check before use). */
    uint32_t l3_off, l4_off, quote_off;
    uint8_t has_l3_off : 1, has_l4_off : 1, has_quote_off : 1;
    const uint8_t *frame_base; /* the frame pm_decode was given (offsets are from it) */
};

/* Decode one frame. Never fails: the outcome is in pkt->status. */
void pm_decode(struct pm_pkt *pkt, int linktype, const uint8_t *data, uint32_t caplen,
               uint32_t wirelen);

/* The same checks up to the network header, then only the transport header's first bytes
 * (TCP ports and flags, UDP ports, ICMP type and code): the cheap path for packets no
 * attempt needs, which give hop references (the family, source, TTL). UDP ports are also
 * filled by pm_decode; status is at best PM_PKT_OTHER. */
void pm_decode_head(struct pm_pkt *pkt, int linktype, const uint8_t *data, uint32_t caplen,
                    uint32_t wirelen);

/* Helpers on decoded ICMP: */
bool pm_icmp_is_unreach(const struct pm_pkt *p);    /* v4 type 3 / v6 type 1 */
bool pm_icmp_is_ttl_exceeded(const struct pm_pkt *p);/* v4 type 11 / v6 type 3 */
bool pm_icmp_is_frag_needed(const struct pm_pkt *p);/* v4 3/4, v6 type 2 */
/* nmap --reason word for an ICMP error (portreasons.cc icmpv4/6_to_reason). */
const char *pm_icmp_reason(uint8_t family, uint8_t type, uint8_t code);
/* The RFC's words for it: "communication administratively prohibited". */
const char *pm_icmp_text(uint8_t family, uint8_t type, uint8_t code);

#endif
