/*
 * decode.c — owns the protocol decoders: link layers (Ethernet with stacked 802.1Q/802.1ad
 * tags, Linux cooked v1/v2, raw IP, BSD null/loop, NFLOG), IPv4 (options, fragments),
 * IPv6 (extension headers walked), TCP (options), ICMP and ICMPv6 errors with the header
 * they quote. Reads only through pkt.c. Each bail-out says why in one line.
 *
 * Truncated versus malformed (docs/ARCHITECTURE.md): a header the snaplen cut leaves what
 * was decoded before the cut valid (a SYN whose options were cut is still a SYN); a header
 * whose own lengths contradict the packet stops decoding at that layer.
 */
#include "decode.h"

#include <string.h>

#include "util.h"

/* EtherTypes (IEEE 802). */
#define ETH_IPV4 0x0800
#define ETH_IPV6 0x86dd
#define ETH_VLAN 0x8100  /* 802.1Q */
#define ETH_QINQ 0x88a8  /* 802.1ad */
#define ETH_QINQ_OLD 0x9100

#define ARPHRD_LOOPBACK 772 /* Linux <linux/if_arp.h> */
#define SLL_OUTGOING 4      /* PACKET_OUTGOING */

#define IPPROTO_ICMP_ 1
#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17
#define IPPROTO_ICMPV6_ 58


int pm_linktype_normalize(int dlt)
{
    switch (dlt) {
    case 12: /* DLT_RAW on Linux and most systems */
    case 14: /* DLT_RAW on OpenBSD */
        return PM_LT_RAW;
    default:
        return dlt;
    }
}

bool pm_linktype_supported(int lt)
{
    switch (pm_linktype_normalize(lt)) {
    case PM_LT_NULL:
    case PM_LT_ETHERNET:
    case PM_LT_RAW:
    case PM_LT_LOOP:
    case PM_LT_LINUX_SLL:
    case PM_LT_IPV4:
    case PM_LT_IPV6:
    case PM_LT_NFLOG:
    case PM_LT_LINUX_SLL2:
        return true;
    default:
        return false;
    }
}

const char *pm_linktype_name(int lt)
{
    switch (pm_linktype_normalize(lt)) {
    case PM_LT_NULL: return "null";
    case PM_LT_ETHERNET: return "ethernet";
    case PM_LT_RAW: return "raw";
    case PM_LT_LOOP: return "loop";
    case PM_LT_LINUX_SLL: return "linux-sll";
    case PM_LT_IPV4: return "ipv4";
    case PM_LT_IPV6: return "ipv6";
    case PM_LT_NFLOG: return "nflog";
    case PM_LT_LINUX_SLL2: return "linux-sll2";
    default: return "unsupported";
    }
}

const char *pm_layer_name(int layer)
{
    static const char *const names[] = {"link", "ip", "ipv6-ext", "tcp", "tcp-options",
                                        "icmp", "icmp-quote"};
    return (layer >= 0 && (size_t)layer < PM_ARRAY_LEN(names)) ? names[layer] : "?";
}

/* Record where decoding stopped, from a cursor's status. Returns true when it failed. */
static bool stop(struct pm_pkt *pkt, const pm_cur *c, int layer)
{
    if (c->status == PM_CUR_OK) {
        return false;
    }
    pkt->status = c->status == PM_CUR_TRUNC ? PM_PKT_TRUNC : PM_PKT_BAD;
    pkt->fail_layer = (uint8_t)layer;
    return true;
}

static void set_bad(struct pm_pkt *pkt, int layer)
{
    pkt->status = PM_PKT_BAD;
    pkt->fail_layer = (uint8_t)layer;
}

/* ---- TCP options (RFC 9293 §3.2; MSS RFC 9293, WS/TS RFC 7323, SACK RFC 2018) ---- */

/* Parse the option block `c` (already limited to data offset - 20 bytes). A bad length
 * sets `bad` and stops (p0f's QUIRK_OPT_BAD: the packet is still used); a cut block sets
 * `cut`. */
static void parse_tcp_options(pm_cur c, struct pm_tcpopts *o)
{
    while (pm_cur_left_wire(&c) > 0) {
        if (pm_cur_left_cap(&c) == 0) {
            o->cut = 1;
            return;
        }
        uint8_t kind = pm_u8(&c);
        if (kind == 0) { /* EOL */
            return;
        }
        if (kind == 1) { /* NOP */
            continue;
        }
        if (pm_cur_left_wire(&c) == 0) {
            o->bad = 1; /* a kind with no room for its length byte */
            return;
        }
        uint8_t len = pm_u8(&c);
        if (c.status == PM_CUR_TRUNC) {
            o->cut = 1;
            return;
        }
        if (len < 2 || (size_t)(len - 2) > pm_cur_left_wire(&c)) {
            o->bad = 1; /* length below 2 or past the header: malformed, stop */
            return;
        }
        if (o->nkinds < PM_MAX_OPTKINDS) {
            o->kinds[o->nkinds++] = kind;
        }
        pm_cur body = pm_sub(&c, (size_t)len - 2);
        switch (kind) {
        case 2: /* MSS */
            if (len != 4) { o->bad = 1; break; }
            o->mss = pm_be16(&body);
            break;
        case 3: /* window scale */
            if (len != 3) { o->bad = 1; break; }
            o->wscale = pm_u8(&body);
            o->has_ws = 1;
            break;
        case 4: /* SACK permitted */
            if (len != 2) { o->bad = 1; break; }
            o->sack_ok = 1;
            break;
        case 8: /* timestamps */
            if (len != 10) { o->bad = 1; break; }
            o->tsval = pm_be32(&body);
            o->tsecr = pm_be32(&body);
            o->has_ts = 1;
            break;
        default: /* SACK blocks, MPTCP, TFO, ...: kind recorded, body skipped */
            break;
        }
        if (body.status == PM_CUR_TRUNC) {
            o->cut = 1;
            if (kind == 2) o->mss = 0;
            if (kind == 3) o->has_ws = 0;
            if (kind == 8) o->has_ts = 0;
            return;
        }
    }
}

/* ---- the header an ICMP error quotes ---- */

/* Walk IPv6 extension headers from `next`, leaving c at the transport header. Returns the
 * transport protocol, or -1 when the chain is broken or cut (status in c), or -2 for a
 * non-first fragment (no transport header follows). */
static int walk_ipv6_ext(pm_cur *c, uint8_t next, uint16_t *frag_id, uint8_t *saw_ext,
                         uint8_t *more_frags)
{
    for (int i = 0; i < PM_DECODE_MAX_IPV6_EXT; i++) {
        switch (next) {
        case 0:   /* hop-by-hop */
        case 43:  /* routing */
        case 60:  /* destination options */
        case 135: /* mobility */
        case 139: /* HIP */
        case 140: /* shim6 */
        {
            *saw_ext = 1;
            uint8_t nh = pm_u8(c);
            uint8_t hlen = pm_u8(c);
            if (c->status != PM_CUR_OK) {
                return -1;
            }
            pm_skip(c, (size_t)hlen * 8 + 6); /* RFC 8200 §4.3: length in 8-octet units, excl. first 8 */
            if (c->status != PM_CUR_OK) {
                return -1;
            }
            next = nh;
            break;
        }
        case 51: /* AH: length in 4-octet units minus 2 (RFC 4302 §2.2) */
        {
            *saw_ext = 1;
            uint8_t nh = pm_u8(c);
            uint8_t hlen = pm_u8(c);
            if (c->status != PM_CUR_OK) {
                return -1;
            }
            pm_skip(c, ((size_t)hlen + 2) * 4 - 2);
            if (c->status != PM_CUR_OK) {
                return -1;
            }
            next = nh;
            break;
        }
        case 44: /* fragment (RFC 8200 §4.5) */
        {
            *saw_ext = 1;
            uint8_t nh = pm_u8(c);
            pm_skip(c, 1);
            uint16_t offflags = pm_be16(c);
            uint32_t ident = pm_be32(c);
            if (c->status != PM_CUR_OK) {
                return -1;
            }
            if (frag_id) {
                *frag_id = (uint16_t)ident;
            }
            if (more_frags && (offflags & 1)) {
                *more_frags = 1; /* M flag: a first fragment is still a fragment */
            }
            if ((offflags & 0xfff8) != 0) {
                return -2;
            }
            next = nh;
            break;
        }
        default:
            return next;
        }
    }
    c->status = PM_CUR_BAD; /* more extension headers than any real stack sends */
    return -1;
}

/* Parse the quoted datagram of an ICMP error into q. Never marks the outer packet bad:
 * a broken quote is recorded by what it lacks (RFC 792 quotes only 8 transport bytes). */
static int parse_quote_(pm_cur *cp, struct pm_quote *q, int outer_family);

/* Offset of a window's read position from the frame's first byte (a window's p always
 * points into the frame pm_decode was given, or is NULL for an empty one). */
static bool offset_of(const struct pm_pkt *pkt, const pm_cur *c, uint32_t *off)
{
    if (!c->p || !pkt->frame_base || c->status != PM_CUR_OK) {
        return false;
    }
    *off = (uint32_t)((size_t)(c->p - pkt->frame_base) + (c->off < c->cap ? c->off : c->cap));
    return true;
}

/* Parse a quote; returns PM_CUR_TRUNC when the capture (not the quoting router) cut it. A
 * quote that simply ends (RFC 792: 8 transport bytes) is not an error. */
static int parse_quote(pm_cur c, struct pm_quote *q, int outer_family)
{
    parse_quote_(&c, q, outer_family);
    return c.status == PM_CUR_TRUNC ? PM_CUR_TRUNC : PM_CUR_OK;
}

static int parse_quote_(pm_cur *cp, struct pm_quote *q, int outer_family)
{
    pm_cur c = *cp;
    memset(q, 0, sizeof(*q));
    q->bytes = (uint16_t)PM_MIN(pm_cur_left_cap(&c), 65535u);
    int ok = 0;
    uint8_t vbyte = pm_peek_u8(&c, 0, &ok);
    if (!ok) {
        goto out;
    }
    int version = vbyte >> 4;
    int proto;
    if (version == 4) {
        if (outer_family == PM_AF_INET6) {
            goto out; /* an ICMPv6 error quoting IPv4: not something a real stack sends */
        }
        uint8_t vihl = pm_u8(&c);
        q->tos = pm_u8(&c);
        q->ip_len = pm_be16(&c);
        q->ip_id = pm_be16(&c);
        uint16_t frag = pm_be16(&c);
        q->ttl = pm_u8(&c);
        q->proto = pm_u8(&c);
        pm_skip(&c, 2);
        uint8_t a[4];
        pm_bytes(&c, a, 4);
        pm_addr_from_v4(&q->src, a);
        pm_bytes(&c, a, 4);
        pm_addr_from_v4(&q->dst, a);
        if (c.status != PM_CUR_OK) {
            goto out;
        }
        q->family = PM_AF_INET;
        size_t ihl = (size_t)(vihl & 0x0f) * 4;
        if (ihl < 20) {
            goto out;
        }
        pm_skip(&c, ihl - 20);
        if ((frag & 0x1fff) != 0) {
            goto out; /* a later fragment: no transport header in the quote */
        }
        proto = q->proto;
    } else if (version == 6) {
        if (outer_family == PM_AF_INET) {
            goto out;
        }
        uint32_t vtcfl = pm_be32(&c);
        q->tos = (uint8_t)(vtcfl >> 20);
        q->ip_len = pm_be16(&c);
        uint8_t nh = pm_u8(&c);
        q->ttl = pm_u8(&c);
        uint8_t a[16];
        pm_bytes(&c, a, 16);
        pm_addr_from_v6(&q->src, a);
        pm_bytes(&c, a, 16);
        pm_addr_from_v6(&q->dst, a);
        if (c.status != PM_CUR_OK) {
            goto out;
        }
        q->family = PM_AF_INET6;
        q->proto = nh;
        uint8_t saw = 0;
        proto = walk_ipv6_ext(&c, nh, &q->ip_id, &saw, NULL);
        if (proto < 0) {
            goto out;
        }
        q->proto = (uint8_t)proto;
    } else {
        goto out;
    }
    if (proto != IPPROTO_TCP_) {
        goto out;
    }
    /* RFC 792: at least 64 bits of the original transport header: ports and sequence. */
    q->sport = pm_be16(&c);
    q->dport = pm_be16(&c);
    if (c.status != PM_CUR_OK) {
        goto out;
    }
    q->has_ports = 1;
    q->seq = pm_be32(&c);
    if (c.status != PM_CUR_OK) {
        goto out;
    }
    q->has_seq = 1;
    pm_skip(&c, 4); /* ack */
    uint8_t off = pm_u8(&c);
    q->tcp_flags = pm_u8(&c);
    q->tcp_win = pm_be16(&c);
    pm_skip(&c, 4); /* checksum, urgent pointer */
    if (c.status != PM_CUR_OK) {
        q->tcp_flags = 0;
        q->tcp_win = 0;
        goto out;
    }
    q->has_tcp = 1;
    size_t thl = (size_t)(off >> 4) * 4;
    if (thl > 20 && pm_cur_left_wire(&c) >= thl - 20) {
        pm_cur opts = pm_sub(&c, thl - 20);
        parse_tcp_options(opts, &q->opts);
    }
out:
    *cp = c;
    return c.status;
}

/* ---- transport layers ---- */

static void decode_tcp(struct pm_pkt *pkt, pm_cur *c)
{
    size_t tcp_start = c->off;
    pkt->sport = pm_be16(c);
    pkt->dport = pm_be16(c);
    pkt->seq = pm_be32(c);
    pkt->ack = pm_be32(c);
    uint8_t off = pm_u8(c);
    pkt->flags = pm_u8(c);
    pkt->win = pm_be16(c);
    pm_skip(c, 4); /* checksum (unreliable under TX offload), urgent pointer */
    if (stop(pkt, c, PM_L_TCP)) {
        /* The snaplen may cut the window or checksum but leave the flags: a SYN is still a
         * SYN. Flags are byte 13; keep them if that byte was captured. Reads stop at the
         * first failure, so c->off tells how far the capture went (relative to the TCP
         * header start, which is where this window began). */
        size_t got = c->off - tcp_start;
        pkt->tcp_ports_ok = got >= 4;
        pkt->tcp_flags_ok = pkt->status == PM_PKT_TRUNC && got >= 14;
        if (!pkt->tcp_flags_ok) {
            pkt->flags = 0;
        } else {
            /* The data offset survived the cut, and the IP length bounds the segment: the
             * payload length is known even though none of it was captured (a cut greeting
             * is "unknown", not "no greeting"). */
            size_t thl = (size_t)(off >> 4) * 4;
            size_t seg = c->wire - tcp_start;
            if (thl >= 20 && thl <= seg) {
                pkt->payload_wire = (uint32_t)(seg - thl);
                pkt->payload = pm_cur_init(NULL, 0, pkt->payload_wire);
            }
        }
        return;
    }
    pkt->tcp_hdr_ok = pkt->tcp_ports_ok = pkt->tcp_flags_ok = 1;
    size_t thl = (size_t)(off >> 4) * 4;
    if (thl < 20) {
        set_bad(pkt, PM_L_TCP); /* data offset below the fixed header */
        return;
    }
    if (thl - 20 > pm_cur_left_wire(c)) {
        set_bad(pkt, PM_L_TCP); /* data offset past the end of the segment */
        return;
    }
    pm_cur opts = pm_sub(c, thl - 20);
    parse_tcp_options(opts, &pkt->opts);
    if (pkt->opts.cut) {
        pkt->status = PM_PKT_TRUNC;
        pkt->fail_layer = PM_L_TCPOPT;
    }
    pkt->payload = pm_rest(c);
    pkt->payload_wire = (uint32_t)pkt->payload.wire;
    if (pkt->payload.cap < pkt->payload.wire && pkt->status == PM_PKT_OK) {
        pkt->status = PM_PKT_TRUNC;
        pkt->fail_layer = PM_L_TCP;
    }
}

static void decode_icmp(struct pm_pkt *pkt, pm_cur *c, bool v6)
{
    pkt->icmp_type = pm_u8(c);
    pkt->icmp_code = pm_u8(c);
    pm_skip(c, 2); /* checksum */
    if (stop(pkt, c, PM_L_ICMP)) {
        return;
    }
    uint8_t t = pkt->icmp_type;
    /* Errors that quote the offending datagram after a 4-byte field.
     * ICMP: 3 dest unreach, 4 source quench, 5 redirect (not an error for us), 11 time
     * exceeded, 12 parameter problem (RFC 792). ICMPv6: 1-4 (RFC 4443 §3). */
    bool is_err = v6 ? (t >= 1 && t <= 4) : (t == 3 || t == 4 || t == 11 || t == 12);
    if (!is_err) {
        pkt->status = PM_PKT_OTHER;
        return;
    }
    pkt->icmp_is_error = 1;
    uint8_t b0 = pm_u8(c);
    uint8_t b1 = pm_u8(c);
    uint16_t w = pm_be16(c);
    if (stop(pkt, c, PM_L_ICMP)) {
        return;
    }
    /* RFC 4884 §4/§5: a non-zero length field gives the original-datagram length (in
     * 32-bit words for ICMP types 3/11/12, 64-bit words for ICMPv6 types 1/3) and
     * extension objects follow it; we quote only the datagram part. */
    size_t rfc4884_len = 0;
    if (!v6) {
        if (t == 3 && pkt->icmp_code == 4) {
            pkt->icmp_mtu = w; /* RFC 1191 next-hop MTU */
        }
        if (t == 3 || t == 11 || t == 12) {
            rfc4884_len = (size_t)b1 * 4;
        }
    } else {
        if (t == 2) {
            pkt->icmp_mtu = (uint16_t)PM_MIN(((uint32_t)b0 << 24 | (uint32_t)b1 << 16 | w), 65535u);
        }
        if (t == 1 || t == 3) {
            rfc4884_len = (size_t)b0 * 8;
        }
    }
    pm_cur quote = pm_rest(c);
    pkt->has_quote_off = offset_of(pkt, &quote, &pkt->quote_off);
    if (rfc4884_len > 0 && rfc4884_len <= quote.wire) {
        pm_cur_clamp(&quote, rfc4884_len);
    }
    if (parse_quote(quote, &pkt->quote, v6 ? PM_AF_INET6 : PM_AF_INET) == PM_CUR_TRUNC) {
        pkt->status = PM_PKT_TRUNC;
        pkt->fail_layer = PM_L_QUOTE;
    }
    pkt->has_quote = pkt->quote.family != 0;
}

/* ---- network layers ---- */

/* pm_decode_head: the first bytes of the transport header only, for a hop reference's
 * evidence (a SYN-ACK or a RST, a DNS answer, an ICMP error or echo). Nothing past them. */
static void decode_transport_head(struct pm_pkt *pkt, pm_cur *c)
{
    if (pkt->proto == IPPROTO_TCP_) {
        size_t start = c->off;
        pkt->sport = pm_be16(c);
        pkt->dport = pm_be16(c);
        pm_skip(c, 9);
        pkt->flags = pm_u8(c);
        /* Reads stop at the first failure: c->off tells how far the capture went. */
        pkt->tcp_ports_ok = c->off - start >= 4;
        pkt->tcp_flags_ok = c->status == PM_CUR_OK;
        if (!pkt->tcp_flags_ok) {
            pkt->flags = 0;
        }
    } else if (pkt->proto == IPPROTO_UDP_) {
        pkt->sport = pm_be16(c);
        pkt->dport = pm_be16(c);
    } else if (pkt->proto == IPPROTO_ICMP_ || pkt->proto == IPPROTO_ICMPV6_) {
        pkt->icmp_type = pm_u8(c);
        pkt->icmp_code = pm_u8(c);
        bool v6 = pkt->proto == IPPROTO_ICMPV6_;
        uint8_t t = pkt->icmp_type;
        pkt->icmp_is_error = c->status == PM_CUR_OK &&
                             (v6 ? (t >= 1 && t <= 4) : (t == 3 || t == 4 || t == 11 || t == 12));
    }
    stop(pkt, c, PM_L_TCP);
    if (pkt->status == PM_PKT_OK) {
        pkt->status = PM_PKT_OTHER;
    }
}

static void decode_transport(struct pm_pkt *pkt, pm_cur *c)
{
    if (pkt->frag_later) {
        pkt->status = PM_PKT_OTHER; /* later fragment: transport header is in the first */
        return;
    }
    pkt->has_l4_off = offset_of(pkt, c, &pkt->l4_off);
    if (pkt->head_only) {
        decode_transport_head(pkt, c);
        return;
    }
    switch (pkt->proto) {
    case IPPROTO_TCP_:
        decode_tcp(pkt, c);
        break;
    case IPPROTO_ICMP_:
        if (pkt->family == PM_AF_INET) {
            decode_icmp(pkt, c, false);
        } else {
            pkt->status = PM_PKT_OTHER;
        }
        break;
    case IPPROTO_ICMPV6_:
        if (pkt->family == PM_AF_INET6) {
            decode_icmp(pkt, c, true);
        } else {
            pkt->status = PM_PKT_OTHER;
        }
        break;
    case IPPROTO_UDP_: {
        /* Only the ports (a DNS answer is a hop reference); never an attempt. */
        pkt->sport = pm_be16(c);
        pkt->dport = pm_be16(c);
        pkt->status = PM_PKT_OTHER;
        break;
    }
    default:
        pkt->status = PM_PKT_OTHER;
        break;
    }
}

static void decode_ipv4(struct pm_pkt *pkt, pm_cur *outer)
{
    /* A window that starts at the IP header, so that the total length clamps it. */
    pm_cur ipw = pm_rest(outer);
    pm_cur *c = &ipw;
    pkt->has_l3_off = offset_of(pkt, c, &pkt->l3_off);
    uint8_t vihl = pm_u8(c);
    pkt->tos = pm_u8(c);
    uint16_t totlen = pm_be16(c);
    pkt->ip_id = pm_be16(c);
    uint16_t frag = pm_be16(c);
    pkt->ttl = pm_u8(c);
    pkt->proto = pm_u8(c);
    pm_skip(c, 2);
    uint8_t a[4];
    pm_bytes(c, a, 4);
    pm_addr_from_v4(&pkt->src, a);
    pm_bytes(c, a, 4);
    pm_addr_from_v4(&pkt->dst, a);
    if (stop(pkt, c, PM_L_IP)) {
        pkt->family = 0;
        return;
    }
    if ((vihl >> 4) != 4) {
        set_bad(pkt, PM_L_IP);
        return;
    }
    size_t ihl = (size_t)(vihl & 0x0f) * 4;
    if (ihl < 20 || totlen < ihl) {
        set_bad(pkt, PM_L_IP); /* header length below minimum or beyond total length */
        return;
    }
    /* The IP total length bounds everything after it: Ethernet pads short frames, and a
     * total length beyond the frame is a lie we must not read past (p0f's etherleak). */
    if (totlen > c->wire) {
        set_bad(pkt, PM_L_IP);
        return;
    }
    pm_cur_clamp(c, totlen);
    pkt->family = PM_AF_INET;
    pkt->df = (frag & 0x4000) != 0;
    pkt->frag = (frag & 0x3fff) != 0;
    pkt->frag_later = (frag & 0x1fff) != 0;
    if (ihl > 20) {
        pkt->ip_opts = 1;
        pm_skip(c, ihl - 20);
        if (stop(pkt, c, PM_L_IP)) {
            return;
        }
    }
    decode_transport(pkt, c);
}

static void decode_ipv6(struct pm_pkt *pkt, pm_cur *outer)
{
    pm_cur ipw = pm_rest(outer);
    pm_cur *c = &ipw;
    pkt->has_l3_off = offset_of(pkt, c, &pkt->l3_off);
    uint32_t vtcfl = pm_be32(c);
    uint16_t plen = pm_be16(c);
    uint8_t nh = pm_u8(c);
    pkt->ttl = pm_u8(c);
    uint8_t a[16];
    pm_bytes(c, a, 16);
    pm_addr_from_v6(&pkt->src, a);
    pm_bytes(c, a, 16);
    pm_addr_from_v6(&pkt->dst, a);
    if (stop(pkt, c, PM_L_IP)) {
        pkt->family = 0;
        return;
    }
    if ((vtcfl >> 28) != 6) {
        set_bad(pkt, PM_L_IP);
        return;
    }
    pkt->tos = (uint8_t)(vtcfl >> 20);
    /* Payload length 0 means a jumbogram (RFC 2675): not on any SMTP path; treat as bad. */
    if (plen == 0 || (size_t)plen + 40 > c->wire) {
        set_bad(pkt, PM_L_IP);
        return;
    }
    pm_cur_clamp(c, (size_t)plen + 40);
    pkt->family = PM_AF_INET6;
    uint16_t frag_id = 0;
    uint8_t more = 0;
    int proto = walk_ipv6_ext(c, nh, &frag_id, &pkt->ip_opts, &more);
    pkt->frag = more;
    if (proto == -2) {
        pkt->frag = 1;
        pkt->frag_later = 1;
        pkt->ip_id = frag_id;
        pkt->status = PM_PKT_OTHER;
        return;
    }
    if (proto < 0) {
        stop(pkt, c, PM_L_IPEXT);
        return;
    }
    pkt->ip_id = frag_id;
    pkt->proto = (uint8_t)proto;
    decode_transport(pkt, c);
}

/* Dispatch on an IP version nibble (raw IP link types). */
static void decode_ip_any(struct pm_pkt *pkt, pm_cur *c)
{
    int ok = 0;
    uint8_t v = pm_peek_u8(c, c->off, &ok);
    if (!ok) {
        stop(pkt, c, PM_L_IP);
        if (pkt->status == PM_PKT_OK) {
            /* An empty payload: nothing to decode. */
            pkt->status = c->wire > c->off ? PM_PKT_TRUNC : PM_PKT_BAD;
            pkt->fail_layer = PM_L_IP;
        }
        return;
    }
    if ((v >> 4) == 4) {
        decode_ipv4(pkt, c);
    } else if ((v >> 4) == 6) {
        decode_ipv6(pkt, c);
    } else {
        set_bad(pkt, PM_L_IP);
    }
}

static void decode_ethertype(struct pm_pkt *pkt, pm_cur *c, uint16_t et)
{
    if (et == ETH_IPV4) {
        decode_ipv4(pkt, c);
    } else if (et == ETH_IPV6) {
        decode_ipv6(pkt, c);
    } else {
        pkt->status = PM_PKT_OTHER;
    }
}

/* ---- link layers ---- */

static void decode_ethernet(struct pm_pkt *pkt, pm_cur *c)
{
    uint8_t macs[12];
    pm_bytes(c, macs, 12); /* destination, source MAC */
    static const uint8_t zero[12];
    if (c->status == PM_CUR_OK && memcmp(macs, zero, sizeof(zero)) == 0) {
        /* Linux's loopback device presents as Ethernet with all-zero addresses
         * (tcpdump -i lo writes LINKTYPE_ETHERNET): traffic that never left the host. */
        pkt->on_loopback = 1;
    }
    uint16_t et = pm_be16(c);
    /* Stacked 802.1Q / 802.1ad tags: each is TCI(2) + inner EtherType(2). */
    for (int tags = 0; et == ETH_VLAN || et == ETH_QINQ || et == ETH_QINQ_OLD; tags++) {
        if (tags >= PM_DECODE_MAX_VLAN_TAGS) {
            set_bad(pkt, PM_L_LINK);
            return;
        }
        pm_skip(c, 2);
        et = pm_be16(c);
    }
    if (stop(pkt, c, PM_L_LINK)) {
        return;
    }
    decode_ethertype(pkt, c, et);
}

static void decode_sll(struct pm_pkt *pkt, pm_cur *c)
{
    /* Linux cooked v1: pkttype(2) hatype(2) halen(2) addr(8) protocol(2). */
    uint16_t pkttype = pm_be16(c);
    uint16_t hatype = pm_be16(c);
    pm_skip(c, 10);
    uint16_t proto = pm_be16(c);
    if (stop(pkt, c, PM_L_LINK)) {
        return;
    }
    pkt->on_loopback = hatype == ARPHRD_LOOPBACK;
    pkt->outgoing = pkttype == SLL_OUTGOING;
    decode_ethertype(pkt, c, proto);
}

static void decode_sll2(struct pm_pkt *pkt, pm_cur *c)
{
    /* Linux cooked v2: protocol(2) reserved(2) ifindex(4) hatype(2) pkttype(1) halen(1)
     * addr(8). */
    uint16_t proto = pm_be16(c);
    pm_skip(c, 6);
    uint16_t hatype = pm_be16(c);
    uint8_t pkttype = pm_u8(c);
    pm_skip(c, 9);
    if (stop(pkt, c, PM_L_LINK)) {
        return;
    }
    pkt->on_loopback = hatype == ARPHRD_LOOPBACK;
    pkt->outgoing = pkttype == SLL_OUTGOING;
    decode_ethertype(pkt, c, proto);
}

/* BSD null/loop: a 4-byte address family, host order (null) or network order (loop).
 * AF_INET is 2 everywhere; AF_INET6 is 10 (Linux), 24 (Net/OpenBSD), 28 (FreeBSD),
 * 30 (Darwin). Accept either byte order for null: the writer's host order is unknown. */
static void decode_null(struct pm_pkt *pkt, pm_cur *c, bool network_order)
{
    uint8_t b[4];
    pm_bytes(c, b, 4);
    if (stop(pkt, c, PM_L_LINK)) {
        return;
    }
    uint32_t be = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    uint32_t le = (uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[1] << 8 | b[0];
    uint32_t af = network_order ? be : (le < 256 ? le : be);
    /* Not marked loopback: BSD lo0 uses this link type, but so do tunnels (macOS utun,
     * OpenBSD tun); loopback addresses are recognised after decoding, and a pcapng
     * interface named lo/lo0 marks its packets. */
    if (af == 2) {
        decode_ipv4(pkt, c);
    } else if (af == 10 || af == 24 || af == 28 || af == 30) {
        decode_ipv6(pkt, c);
    } else {
        pkt->status = PM_PKT_OTHER;
    }
}

/* NFLOG (LINKTYPE_NFLOG, https://www.tcpdump.org/linktypes/LINKTYPE_NFLOG.html): a 4-byte
 * header (family, version, resource id) then TLVs whose length and type are in the
 * capturing host's byte order (little-endian on every Linux capture we know of), each
 * padded to 4 bytes. The packet is the NFULA_PAYLOAD (type 9) TLV. */
static void decode_nflog(struct pm_pkt *pkt, pm_cur *c)
{
    uint8_t family = pm_u8(c);
    uint8_t version = pm_u8(c);
    pm_skip(c, 2);
    if (stop(pkt, c, PM_L_LINK)) {
        return;
    }
    if (version != 0) {
        set_bad(pkt, PM_L_LINK);
        return;
    }
    for (int i = 0; i < 64 && pm_cur_left_wire(c) >= 4; i++) {
        uint16_t tlen = pm_le16(c);
        uint16_t ttype = pm_le16(c);
        if (stop(pkt, c, PM_L_LINK)) {
            return;
        }
        if (tlen < 4 || (size_t)(tlen - 4) > pm_cur_left_wire(c)) {
            set_bad(pkt, PM_L_LINK); /* TLV length below its own header or past the frame */
            return;
        }
        pm_cur val = pm_sub(c, (size_t)tlen - 4);
        size_t pad = (4 - (tlen & 3)) & 3;
        if ((ttype & 0x7fff) == 9) {
            if (family == 2) {
                decode_ipv4(pkt, &val);
            } else if (family == 10) {
                decode_ipv6(pkt, &val);
            } else {
                decode_ip_any(pkt, &val);
            }
            return;
        }
        pm_skip(c, PM_MIN(pad, pm_cur_left_wire(c)));
    }
    pkt->status = PM_PKT_OTHER; /* no payload TLV: a log record without the packet */
}

static void decode_frame(struct pm_pkt *pkt, int linktype, const uint8_t *data,
                         uint32_t caplen, uint32_t wirelen, bool head_only)
{
    /* Keep the record fields the caller set (ts, frame, vantage), reset the rest. */
    pm_ns ts = pkt->ts;
    uint32_t frame = pkt->frame;
    uint16_t vantage = pkt->vantage;
    uint8_t loop_hint = pkt->on_loopback;
    memset(pkt, 0, sizeof(*pkt));
    pkt->ts = ts;
    pkt->frame = frame;
    pkt->vantage = vantage;
    pkt->on_loopback = loop_hint;
    pkt->linktype = (uint16_t)linktype;
    pkt->head_only = head_only;
    pkt->caplen = caplen;
    pkt->wirelen = wirelen;
    pkt->frame_base = data;

    pm_cur c = pm_cur_init(data, caplen, wirelen);
    switch (pm_linktype_normalize(linktype)) {
    case PM_LT_ETHERNET: decode_ethernet(pkt, &c); break;
    case PM_LT_LINUX_SLL: decode_sll(pkt, &c); break;
    case PM_LT_LINUX_SLL2: decode_sll2(pkt, &c); break;
    case PM_LT_RAW: decode_ip_any(pkt, &c); break;
    case PM_LT_IPV4: decode_ipv4(pkt, &c); break;
    case PM_LT_IPV6: decode_ipv6(pkt, &c); break;
    case PM_LT_NULL: decode_null(pkt, &c, false); break;
    case PM_LT_LOOP: decode_null(pkt, &c, true); break;
    case PM_LT_NFLOG: decode_nflog(pkt, &c); break;
    default: pkt->status = PM_PKT_UNSUPPORTED; break;
    }
    /* Loopback addresses, or a packet from an address to itself (a local REJECT's ICMP on
     * BSD lo0 or a tunnel-less null link): it never crossed a wire, whatever the link. */
    if (pkt->on_loopback == 0 && pkt->family != 0 &&
        (pm_addr_is_loopback(&pkt->src) || pm_addr_eq(&pkt->src, &pkt->dst))) {
        pkt->on_loopback = 1;
    }
}

void pm_decode(struct pm_pkt *pkt, int linktype, const uint8_t *data, uint32_t caplen,
               uint32_t wirelen)
{
    decode_frame(pkt, linktype, data, caplen, wirelen, false);
}

void pm_decode_head(struct pm_pkt *pkt, int linktype, const uint8_t *data, uint32_t caplen,
                    uint32_t wirelen)
{
    decode_frame(pkt, linktype, data, caplen, wirelen, true);
}

/* ---- ICMP helpers ---- */

bool pm_icmp_is_unreach(const struct pm_pkt *p)
{
    return p->icmp_is_error && (p->family == PM_AF_INET ? p->icmp_type == 3 : p->icmp_type == 1);
}

bool pm_icmp_is_ttl_exceeded(const struct pm_pkt *p)
{
    return p->icmp_is_error && (p->family == PM_AF_INET ? p->icmp_type == 11 : p->icmp_type == 3);
}

bool pm_icmp_is_frag_needed(const struct pm_pkt *p)
{
    return p->icmp_is_error &&
           (p->family == PM_AF_INET ? (p->icmp_type == 3 && p->icmp_code == 4) : p->icmp_type == 2);
}

/* ICMP type/code → nmap reason word and text. One table per family (nmap portreasons.cc;
 * RFC 792, RFC 1812 §5.2.7.1, RFC 4443 §3.1). */
struct icmp_name {
    uint8_t type, code;
    const char *reason;
    const char *text;
};
static const struct icmp_name icmp4_names[] = {
    {3, 0, "net-unreach", "net unreachable"},
    {3, 1, "host-unreach", "host unreachable"},
    {3, 2, "proto-unreach", "protocol unreachable"},
    {3, 3, "port-unreach", "port unreachable"},
    {3, 4, "dest-unreach", "fragmentation needed"},
    {3, 5, "dest-unreach", "source route failed"},
    {3, 6, "dest-unreach", "destination network unknown"},
    {3, 7, "dest-unreach", "destination host unknown"},
    {3, 8, "dest-unreach", "source host isolated"},
    {3, 9, "net-prohibited", "network administratively prohibited"},
    {3, 10, "host-prohibited", "host administratively prohibited"},
    {3, 11, "dest-unreach", "network unreachable for TOS"},
    {3, 12, "dest-unreach", "host unreachable for TOS"},
    {3, 13, "admin-prohibited", "communication administratively prohibited"},
    {3, 14, "dest-unreach", "host precedence violation"},
    {3, 15, "dest-unreach", "precedence cutoff in effect"},
    {4, 0, "source-quench", "source quench"},
    {11, 0, "time-exceeded", "TTL exceeded in transit"},
    {11, 1, "time-exceeded", "fragment reassembly time exceeded"},
    {12, 0, "param-problem", "parameter problem"},
};
static const struct icmp_name icmp6_names[] = {
    {1, 0, "no-route", "no route to destination"},
    {1, 1, "admin-prohibited", "communication administratively prohibited"},
    {1, 2, "beyond-scope", "beyond scope of source address"},
    {1, 3, "host-unreach", "address unreachable"},
    {1, 4, "port-unreach", "port unreachable"},
    {1, 5, "admin-prohibited", "source address failed ingress/egress policy"},
    {1, 6, "reject-route", "reject route to destination"},
    {2, 0, "dest-unreach", "packet too big"},
    {3, 0, "time-exceeded", "hop limit exceeded in transit"},
    {3, 1, "time-exceeded", "fragment reassembly time exceeded"},
    {4, 0, "param-problem", "parameter problem"},
};

static const struct icmp_name *icmp_lookup(uint8_t family, uint8_t type, uint8_t code)
{
    const struct icmp_name *t = family == PM_AF_INET6 ? icmp6_names : icmp4_names;
    size_t n = family == PM_AF_INET6 ? PM_ARRAY_LEN(icmp6_names) : PM_ARRAY_LEN(icmp4_names);
    for (size_t i = 0; i < n; i++) {
        if (t[i].type == type && t[i].code == code) {
            return &t[i];
        }
    }
    return NULL;
}

/* A code the tables do not list: nmap's word for it is the type's generic one. */
static const char *generic_reason(uint8_t family, uint8_t type)
{
    if ((family == PM_AF_INET && type == 3) || (family == PM_AF_INET6 && type == 1)) {
        return "dest-unreach";
    }
    if ((family == PM_AF_INET && type == 11) || (family == PM_AF_INET6 && type == 3)) {
        return "time-exceeded";
    }
    if ((family == PM_AF_INET && type == 12) || (family == PM_AF_INET6 && type == 4)) {
        return "param-problem";
    }
    return "unknown-response";
}

const char *pm_icmp_reason(uint8_t family, uint8_t type, uint8_t code)
{
    const struct icmp_name *n = icmp_lookup(family, type, code);
    return n ? n->reason : generic_reason(family, type);
}

const char *pm_icmp_text(uint8_t family, uint8_t type, uint8_t code)
{
    const struct icmp_name *n = icmp_lookup(family, type, code);
    if (n) {
        return n->text;
    }
    const char *g = generic_reason(family, type);
    return !strcmp(g, "dest-unreach")    ? "destination unreachable (unlisted code)"
           : !strcmp(g, "time-exceeded") ? "time exceeded (unlisted code)"
           : !strcmp(g, "param-problem") ? "parameter problem (unlisted code)"
                                         : "unknown ICMP error";
}
