/*
 * test_decode.c — the protocol decoders (include/decode.h, analyze/decode.c), fed with
 * frames built byte by byte by pktbuild from the wire formats:
 *   link layers: Ethernet with 0/1/3/8 stacked 802.1Q/802.1ad tags and too many, Linux cooked
 *   v1/v2 (hatype 772 loopback, pkttype 4 outgoing), raw IP (101, 228, 229 and the DLT 12/14
 *   normalisation), BSD null in both byte orders with every AF_INET6 value, OpenBSD loop,
 *   NFLOG TLVs (padding, bad lengths, no payload), unsupported link types;
 *   IPv4: options, DF/MF/offset, IHL < 5, total length beyond / short of the frame;
 *   IPv6: extension chains (hop-by-hop, routing, destination options, fragment, AH), too many,
 *   cut, lying payload length;
 *   TCP: flags, data offset < 5 and past the segment, options (MSS, WS, SACK-permitted,
 *   timestamps, unknown kinds, bad lengths, snaplen cuts), truncated versus malformed with
 *   the layer named;
 *   ICMP/ICMPv6 errors: RFC 792 8-byte quotes, RFC 1812 full quotes, RFC 4884 length fields,
 *   quotes of IPv6 with extension headers, quotes cut by the snaplen, non-errors;
 *   the nmap --reason words (portreasons.cc icmpv4/6_to_reason) and the texts.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "decode.h"
#include "pktbuild.h"
#include "util.h"

#define SRC4 "10.0.0.1"
#define DST4 "192.0.2.25"
#define SRC6 "2001:db8:1::10"
#define DST6 "2001:db8:2::25"

static size_t syn4(uint8_t *b, size_t cap)
{
    return pb_seg(b, cap, SRC4, 40000, DST4, 25, PM_TH_SYN, 1000, 0, NULL, 0, 61);
}

static size_t syn6(uint8_t *b, size_t cap)
{
    return pb_seg(b, cap, SRC6, 40001, DST6, 25, PM_TH_SYN, 2000, 0, NULL, 0, 60);
}

/* A SYN with the Linux option block (60 bytes of IPv4). */
static size_t syn4_opts(uint8_t *b, size_t cap)
{
    uint8_t l4[128];
    struct pb_tcp t = {.sport = 40000, .dport = 25, .seq = 1000, .flags = PM_TH_SYN,
                       .win = 64240, .opts = pb_linux_syn_opts, .optlen = 20};
    size_t n = pb_tcp(l4, sizeof(l4), &t);
    struct pb_ip ip = {.family = PM_AF_INET, .src = SRC4, .dst = DST4, .proto = 6, .ttl = 64,
                       .frag = PB_DF, .id = 77};
    return pb_ip(b, cap, &ip, l4, n);
}

static void dec(struct pm_pkt *p, int lt, const uint8_t *b, size_t n)
{
    pb_decode(p, lt, b, n, n, PM_SEC(1), 1, 0);
}

static void assert_syn4(const struct pm_pkt *p)
{
    pm_addr s = pb_addr(SRC4), d = pb_addr(DST4);
    cr_assert_eq(p->status, PM_PKT_OK, "status %d layer %s", p->status,
                 pm_layer_name(p->fail_layer));
    cr_assert_eq(p->family, PM_AF_INET);
    cr_assert(pm_addr_eq(&p->src, &s));
    cr_assert(pm_addr_eq(&p->dst, &d));
    cr_assert_eq(p->proto, 6);
    cr_assert_eq(p->sport, 40000);
    cr_assert_eq(p->dport, 25);
    cr_assert_eq(p->seq, 1000u);
    cr_assert_eq(p->flags, PM_TH_SYN);
    cr_assert(p->tcp_hdr_ok && p->tcp_flags_ok && p->tcp_ports_ok);
}

static void assert_syn6(const struct pm_pkt *p)
{
    pm_addr s = pb_addr(SRC6), d = pb_addr(DST6);
    cr_assert_eq(p->status, PM_PKT_OK, "status %d layer %s", p->status,
                 pm_layer_name(p->fail_layer));
    cr_assert_eq(p->family, PM_AF_INET6);
    cr_assert(pm_addr_eq(&p->src, &s));
    cr_assert(pm_addr_eq(&p->dst, &d));
    cr_assert_eq(p->proto, 6);
    cr_assert_eq(p->sport, 40001);
    cr_assert_eq(p->dport, 25);
    cr_assert_eq(p->flags, PM_TH_SYN);
}

/* ================================ link layers ================================ */

Test(decode_link, ethernet_untagged)
{
    uint8_t ip[PB_MAX], f[PB_MAX];
    size_t n = syn4(ip, sizeof(ip));
    size_t fl = pb_eth(f, sizeof(f), NULL, 0, 0x0800, ip, n);
    struct pm_pkt p;
    dec(&p, PM_LT_ETHERNET, f, fl);
    assert_syn4(&p);
    cr_assert_eq(p.ttl, 61);
    cr_assert_eq(p.df, 1);
    cr_assert_eq(p.linktype, PM_LT_ETHERNET);
    cr_assert_eq(p.caplen, fl);
}

Test(decode_link, ethernet_one_and_three_stacked_tags)
{
    uint8_t ip[PB_MAX], f[PB_MAX];
    size_t n = syn4(ip, sizeof(ip));
    struct pm_pkt p;
    const uint16_t one[] = {0x8100};
    size_t fl = pb_eth(f, sizeof(f), one, 1, 0x0800, ip, n);
    dec(&p, PM_LT_ETHERNET, f, fl);
    assert_syn4(&p);
    /* 802.1ad outer, an old-style 0x9100 tag, then 802.1Q (QinQ and triple tagging) */
    const uint16_t three[] = {0x88a8, 0x9100, 0x8100};
    fl = pb_eth(f, sizeof(f), three, 3, 0x0800, ip, n);
    dec(&p, PM_LT_ETHERNET, f, fl);
    assert_syn4(&p);
    n = syn6(ip, sizeof(ip));
    fl = pb_eth(f, sizeof(f), three, 3, 0x86dd, ip, n);
    dec(&p, PM_LT_ETHERNET, f, fl);
    assert_syn6(&p);
}

Test(decode_link, ethernet_eight_tags_decode_nine_are_hostile)
{
    uint8_t ip[PB_MAX], f[PB_MAX];
    size_t n = syn4(ip, sizeof(ip));
    uint16_t tags[9];
    for (int i = 0; i < 9; i++) {
        tags[i] = 0x8100;
    }
    struct pm_pkt p;
    size_t fl = pb_eth(f, sizeof(f), tags, 8, 0x0800, ip, n);
    dec(&p, PM_LT_ETHERNET, f, fl);
    assert_syn4(&p);
    fl = pb_eth(f, sizeof(f), tags, 9, 0x0800, ip, n);
    dec(&p, PM_LT_ETHERNET, f, fl);
    cr_assert_eq(p.status, PM_PKT_BAD);
    cr_assert_eq(p.fail_layer, PM_L_LINK);
    cr_assert_eq(p.family, 0);
}

Test(decode_link, ethernet_non_ip_is_other_and_cut_header_is_truncated)
{
    uint8_t arp[28] = {0}, f[PB_MAX];
    size_t fl = pb_eth(f, sizeof(f), NULL, 0, 0x0806, arp, sizeof(arp));
    struct pm_pkt p;
    dec(&p, PM_LT_ETHERNET, f, fl);
    cr_assert_eq(p.status, PM_PKT_OTHER);
    cr_assert_eq(p.family, 0);
    /* snaplen 10: the EtherType was not captured */
    pb_decode(&p, PM_LT_ETHERNET, f, 10, fl, 0, 1, 0);
    cr_assert_eq(p.status, PM_PKT_TRUNC);
    cr_assert_eq(p.fail_layer, PM_L_LINK);
    /* a 10-byte frame that claims to be 10 bytes long: malformed, not truncated */
    pb_decode(&p, PM_LT_ETHERNET, f, 10, 10, 0, 1, 0);
    cr_assert_eq(p.status, PM_PKT_BAD);
    cr_assert_eq(p.fail_layer, PM_L_LINK);
}

Test(decode_link, ethernet_padding_is_clamped_by_ip_total_length)
{
    uint8_t ip[PB_MAX], f[PB_MAX];
    size_t n = syn4(ip, sizeof(ip)); /* 40 bytes: an Ethernet frame pads it to 60 */
    uint8_t padded[46];
    memset(padded, 0xee, sizeof(padded));
    memcpy(padded, ip, n);
    size_t fl = pb_eth(f, sizeof(f), NULL, 0, 0x0800, padded, sizeof(padded));
    struct pm_pkt p;
    dec(&p, PM_LT_ETHERNET, f, fl);
    assert_syn4(&p);
    cr_assert_eq(p.payload_wire, 0, "the 6 padding bytes are not TCP payload");
}

Test(decode_link, linux_sll_v1_outgoing_and_loopback)
{
    uint8_t ip[PB_MAX], f[PB_MAX];
    size_t n = syn4(ip, sizeof(ip));
    struct pm_pkt p;
    size_t fl = pb_sll(f, sizeof(f), 4 /* PACKET_OUTGOING */, 1 /* ARPHRD_ETHER */, 0x0800, ip, n);
    dec(&p, PM_LT_LINUX_SLL, f, fl);
    assert_syn4(&p);
    cr_assert_eq(p.outgoing, 1);
    cr_assert_eq(p.on_loopback, 0);
    fl = pb_sll(f, sizeof(f), 0 /* PACKET_HOST */, 772 /* ARPHRD_LOOPBACK */, 0x0800, ip, n);
    dec(&p, PM_LT_LINUX_SLL, f, fl);
    assert_syn4(&p);
    cr_assert_eq(p.outgoing, 0);
    cr_assert_eq(p.on_loopback, 1);
    n = syn6(ip, sizeof(ip));
    fl = pb_sll(f, sizeof(f), 4, 1, 0x86dd, ip, n);
    dec(&p, PM_LT_LINUX_SLL, f, fl);
    assert_syn6(&p);
}

Test(decode_link, linux_sll_v2_outgoing_and_loopback)
{
    uint8_t ip[PB_MAX], f[PB_MAX];
    size_t n = syn4(ip, sizeof(ip));
    struct pm_pkt p;
    size_t fl = pb_sll2(f, sizeof(f), 0x0800, 1, 4, ip, n);
    dec(&p, PM_LT_LINUX_SLL2, f, fl);
    assert_syn4(&p);
    cr_assert_eq(p.outgoing, 1);
    cr_assert_eq(p.on_loopback, 0);
    fl = pb_sll2(f, sizeof(f), 0x0800, 772, 0, ip, n);
    dec(&p, PM_LT_LINUX_SLL2, f, fl);
    cr_assert_eq(p.on_loopback, 1);
    cr_assert_eq(p.outgoing, 0);
    /* cut inside the 20-byte SLL2 header, before the hatype field */
    pb_decode(&p, PM_LT_LINUX_SLL2, f, 9, fl, 0, 1, 0);
    cr_assert_eq(p.status, PM_PKT_TRUNC);
    cr_assert_eq(p.fail_layer, PM_L_LINK);
    cr_assert_eq(p.family, 0);
}

Test(decode_link, raw_ip_link_types_and_dlt_normalisation)
{
    uint8_t b4[PB_MAX], b6[PB_MAX];
    size_t n4 = syn4(b4, sizeof(b4)), n6 = syn6(b6, sizeof(b6));
    struct pm_pkt p;
    const int raw_types[] = {PM_LT_RAW, 12 /* DLT_RAW */, 14 /* DLT_RAW, OpenBSD */};
    for (size_t i = 0; i < PM_ARRAY_LEN(raw_types); i++) {
        dec(&p, raw_types[i], b4, n4);
        assert_syn4(&p);
        dec(&p, raw_types[i], b6, n6);
        assert_syn6(&p);
    }
    cr_assert_eq(pm_linktype_normalize(12), PM_LT_RAW);
    cr_assert_eq(pm_linktype_normalize(14), PM_LT_RAW);
    cr_assert_eq(pm_linktype_normalize(PM_LT_ETHERNET), PM_LT_ETHERNET);
    dec(&p, PM_LT_IPV4, b4, n4);
    assert_syn4(&p);
    dec(&p, PM_LT_IPV6, b6, n6);
    assert_syn6(&p);
    /* LINKTYPE_IPV4 carrying an IPv6 packet: the version nibble contradicts the link type */
    dec(&p, PM_LT_IPV4, b6, n6);
    cr_assert_eq(p.status, PM_PKT_BAD);
    cr_assert_eq(p.fail_layer, PM_L_IP);
    dec(&p, PM_LT_IPV6, b4, n4);
    cr_assert_eq(p.status, PM_PKT_BAD);
    cr_assert_eq(p.fail_layer, PM_L_IP);
    /* raw with a version nibble that is neither 4 nor 6 */
    b4[0] = 0x55;
    dec(&p, PM_LT_RAW, b4, n4);
    cr_assert_eq(p.status, PM_PKT_BAD);
    cr_assert_eq(p.fail_layer, PM_L_IP);
}

Test(decode_link, bsd_null_both_byte_orders_and_every_af_inet6)
{
    uint8_t b4[PB_MAX], b6[PB_MAX], f[PB_MAX];
    size_t n4 = syn4(b4, sizeof(b4)), n6 = syn6(b6, sizeof(b6));
    struct pm_pkt p;
    for (int big = 0; big <= 1; big++) {
        size_t fl = pb_null(f, sizeof(f), 2, big, b4, n4);
        dec(&p, PM_LT_NULL, f, fl);
        assert_syn4(&p);
        /* AF_INET6: 10 Linux, 24 NetBSD/OpenBSD, 28 FreeBSD, 30 Darwin */
        const uint32_t af6[] = {10, 24, 28, 30};
        for (size_t i = 0; i < PM_ARRAY_LEN(af6); i++) {
            fl = pb_null(f, sizeof(f), af6[i], big, b6, n6);
            dec(&p, PM_LT_NULL, f, fl);
            assert_syn6(&p);
        }
    }
    size_t fl = pb_null(f, sizeof(f), 7 /* AF_? not IP */, false, b4, n4);
    dec(&p, PM_LT_NULL, f, fl);
    cr_assert_eq(p.status, PM_PKT_OTHER);
    cr_assert_eq(p.family, 0);
}

Test(decode_link, openbsd_loop_is_network_order)
{
    uint8_t b4[PB_MAX], b6[PB_MAX], f[PB_MAX];
    size_t n4 = syn4(b4, sizeof(b4)), n6 = syn6(b6, sizeof(b6));
    struct pm_pkt p;
    size_t fl = pb_null(f, sizeof(f), 2, true, b4, n4);
    dec(&p, PM_LT_LOOP, f, fl);
    assert_syn4(&p);
    fl = pb_null(f, sizeof(f), 24, true, b6, n6);
    dec(&p, PM_LT_LOOP, f, fl);
    assert_syn6(&p);
    /* in network order a little-endian 2 reads as 0x02000000: not IP */
    fl = pb_null(f, sizeof(f), 2, false, b4, n4);
    dec(&p, PM_LT_LOOP, f, fl);
    cr_assert_eq(p.status, PM_PKT_OTHER);
}

Test(decode_link, nflog_tlvs_with_padding)
{
    uint8_t ip[PB_MAX], f[PB_MAX];
    size_t n = syn4(ip, sizeof(ip));
    size_t o = pb_nflog_hdr(f, sizeof(f), 2 /* AF_INET */, 0);
    const uint8_t pkthdr[4] = {0x08, 0x00, 3, 0}; /* NFULA_PACKET_HDR: hw_protocol, hook */
    o += pb_nflog_tlv(f + o, sizeof(f) - o, 1, pkthdr, sizeof(pkthdr), 0);
    /* NFULA_PREFIX "smtp" + NUL: 9 bytes, padded to 12; the decoder must skip the padding */
    o += pb_nflog_tlv(f + o, sizeof(f) - o, 10, "smtp", 5, 0);
    o += pb_nflog_tlv(f + o, sizeof(f) - o, 9, ip, n, 0);
    struct pm_pkt p;
    dec(&p, PM_LT_NFLOG, f, o);
    assert_syn4(&p);

    /* IPv6 in NFLOG, with a payload TLV whose length is not a multiple of 4 */
    uint8_t ip6[PB_MAX];
    size_t n6 = pb_seg(ip6, sizeof(ip6), SRC6, 40001, DST6, 25, PM_TH_SYN, 2000, 0, "x", 1, 60);
    o = pb_nflog_hdr(f, sizeof(f), 10 /* AF_INET6 */, 0);
    o += pb_nflog_tlv(f + o, sizeof(f) - o, 10, "a", 2, 0);
    o += pb_nflog_tlv(f + o, sizeof(f) - o, 9, ip6, n6, 0);
    dec(&p, PM_LT_NFLOG, f, o);
    assert_syn6(&p);
    cr_assert_eq(p.payload_wire, 1);
}

Test(decode_link, nflog_bad_tlv_length_version_and_no_payload)
{
    uint8_t ip[PB_MAX], f[PB_MAX];
    size_t n = syn4(ip, sizeof(ip));
    struct pm_pkt p;
    /* a TLV length below its own 4-byte header */
    size_t o = pb_nflog_hdr(f, sizeof(f), 2, 0);
    o += pb_nflog_tlv(f + o, sizeof(f) - o, 10, "ab", 2, 2);
    o += pb_nflog_tlv(f + o, sizeof(f) - o, 9, ip, n, 0);
    dec(&p, PM_LT_NFLOG, f, o);
    cr_assert_eq(p.status, PM_PKT_BAD);
    cr_assert_eq(p.fail_layer, PM_L_LINK);
    /* a payload TLV that claims more than the frame holds */
    o = pb_nflog_hdr(f, sizeof(f), 2, 0);
    o += pb_nflog_tlv(f + o, sizeof(f) - o, 9, ip, n, (int)n + 200);
    dec(&p, PM_LT_NFLOG, f, o);
    cr_assert_eq(p.status, PM_PKT_BAD);
    cr_assert_eq(p.fail_layer, PM_L_LINK);
    /* unknown NFLOG version */
    o = pb_nflog_hdr(f, sizeof(f), 2, 1);
    o += pb_nflog_tlv(f + o, sizeof(f) - o, 9, ip, n, 0);
    dec(&p, PM_LT_NFLOG, f, o);
    cr_assert_eq(p.status, PM_PKT_BAD);
    /* a log record without the packet */
    o = pb_nflog_hdr(f, sizeof(f), 2, 0);
    o += pb_nflog_tlv(f + o, sizeof(f) - o, 10, "drop", 5, 0);
    dec(&p, PM_LT_NFLOG, f, o);
    cr_assert_eq(p.status, PM_PKT_OTHER);
    cr_assert_eq(p.family, 0);
}

Test(decode_link, unsupported_link_type_and_names)
{
    uint8_t b[PB_MAX];
    size_t n = syn4(b, sizeof(b));
    struct pm_pkt p;
    dec(&p, 147 /* LINKTYPE_USER0 */, b, n);
    cr_assert_eq(p.status, PM_PKT_UNSUPPORTED);
    cr_assert_eq(p.family, 0);
    cr_assert_not(pm_linktype_supported(147));
    cr_assert_str_eq(pm_linktype_name(147), "unsupported");
    const int ok[] = {0, 1, 12, 14, 101, 108, 113, 228, 229, 239, 276};
    for (size_t i = 0; i < PM_ARRAY_LEN(ok); i++) {
        cr_assert(pm_linktype_supported(ok[i]), "link type %d", ok[i]);
        cr_assert_str_neq(pm_linktype_name(ok[i]), "unsupported");
    }
    cr_assert_str_eq(pm_linktype_name(12), "raw");
    cr_assert_str_eq(pm_linktype_name(276), "linux-sll2");
    cr_assert_str_eq(pm_layer_name(PM_L_QUOTE), "icmp-quote");
    cr_assert_str_eq(pm_layer_name(99), "?");
}

Test(decode_link, loopback_source_address_marks_loopback)
{
    uint8_t b[PB_MAX];
    size_t n = pb_seg(b, sizeof(b), "127.0.0.1", 40000, "127.0.0.1", 25, PM_TH_SYN, 1, 0, NULL, 0,
                      64);
    struct pm_pkt p;
    dec(&p, PM_LT_RAW, b, n);
    cr_assert_eq(p.on_loopback, 1);
    n = pb_seg(b, sizeof(b), "::1", 40000, "::1", 25, PM_TH_SYN, 1, 0, NULL, 0, 64);
    dec(&p, PM_LT_RAW, b, n);
    cr_assert_eq(p.on_loopback, 1);
    /* the caller's loopback hint (pcapng if_name "lo") survives pm_decode's reset */
    n = syn4(b, sizeof(b));
    memset(&p, 0, sizeof(p));
    p.on_loopback = 1;
    p.frame = 9;
    pm_decode(&p, PM_LT_RAW, b, (uint32_t)n, (uint32_t)n);
    cr_assert_eq(p.on_loopback, 1);
    cr_assert_eq(p.frame, 9);
}

/* ================================ IPv4 ================================ */

static size_t v4_with(uint8_t *b, size_t cap, struct pb_ip ip)
{
    uint8_t l4[64];
    struct pb_tcp t = {.sport = 40000, .dport = 25, .seq = 1000, .flags = PM_TH_SYN, .win = 1024};
    size_t n = pb_tcp(l4, sizeof(l4), &t);
    ip.family = PM_AF_INET;
    ip.src = SRC4;
    ip.dst = DST4;
    ip.proto = 6;
    return pb_ip(b, cap, &ip, l4, n);
}

Test(decode_ipv4, options_are_skipped_and_noted)
{
    /* Record Route (RFC 791: type 7, length 7, pointer 4, one empty slot) + EOL */
    const uint8_t rr[8] = {7, 7, 4, 0, 0, 0, 0, 0};
    uint8_t b[PB_MAX];
    size_t n = v4_with(b, sizeof(b), (struct pb_ip){.opts = rr, .optlen = 8});
    struct pm_pkt p;
    dec(&p, PM_LT_RAW, b, n);
    assert_syn4(&p);
    cr_assert_eq(p.ip_opts, 1);
    n = syn4(b, sizeof(b));
    dec(&p, PM_LT_RAW, b, n);
    cr_assert_eq(p.ip_opts, 0);
}

Test(decode_ipv4, df_mf_and_fragment_offset)
{
    uint8_t b[PB_MAX];
    struct pm_pkt p;
    size_t n = v4_with(b, sizeof(b), (struct pb_ip){.frag = PB_DF, .tos = 0xb8, .id = 4242});
    dec(&p, PM_LT_RAW, b, n);
    assert_syn4(&p);
    cr_assert_eq(p.df, 1);
    cr_assert_eq(p.frag, 0);
    cr_assert_eq(p.tos, 0xb8);
    cr_assert_eq(p.ip_id, 4242);
    /* first fragment: MF, offset 0: the transport header is here */
    n = v4_with(b, sizeof(b), (struct pb_ip){.frag = PB_MF});
    dec(&p, PM_LT_RAW, b, n);
    assert_syn4(&p);
    cr_assert_eq(p.df, 0);
    cr_assert_eq(p.frag, 1);
    cr_assert_eq(p.frag_later, 0);
    /* a later fragment (offset 185 * 8 = 1480): no transport header, whatever its bytes say */
    n = v4_with(b, sizeof(b), (struct pb_ip){.frag = 185});
    dec(&p, PM_LT_RAW, b, n);
    cr_assert_eq(p.status, PM_PKT_OTHER);
    cr_assert_eq(p.family, PM_AF_INET);
    cr_assert_eq(p.frag, 1);
    cr_assert_eq(p.frag_later, 1);
    cr_assert_eq(p.tcp_flags_ok, 0);
    cr_assert_eq(p.sport, 0);
    /* the last fragment: MF clear, offset set */
    n = v4_with(b, sizeof(b), (struct pb_ip){.frag = 3});
    dec(&p, PM_LT_RAW, b, n);
    cr_assert_eq(p.frag_later, 1);
}

Test(decode_ipv4, ihl_below_five_is_malformed)
{
    uint8_t b[PB_MAX];
    struct pm_pkt p;
    size_t n = v4_with(b, sizeof(b), (struct pb_ip){.ihl = 4});
    dec(&p, PM_LT_RAW, b, n);
    cr_assert_eq(p.status, PM_PKT_BAD);
    cr_assert_eq(p.fail_layer, PM_L_IP);
    /* IHL larger than the total length */
    n = v4_with(b, sizeof(b), (struct pb_ip){.ihl = 15, .len_adjust = -20}); /* 60 > 20 */
    dec(&p, PM_LT_RAW, b, n);
    cr_assert_eq(p.status, PM_PKT_BAD);
    cr_assert_eq(p.fail_layer, PM_L_IP);
}

Test(decode_ipv4, total_length_beyond_the_frame_is_malformed)
{
    uint8_t b[PB_MAX];
    struct pm_pkt p;
    size_t n = v4_with(b, sizeof(b), (struct pb_ip){.len_adjust = 100});
    dec(&p, PM_LT_RAW, b, n);
    cr_assert_eq(p.status, PM_PKT_BAD);
    cr_assert_eq(p.fail_layer, PM_L_IP);
    cr_assert_eq(p.tcp_flags_ok, 0, "nothing past a lying IP header is used");
}

Test(decode_ipv4, total_length_short_of_the_transport_header_is_malformed_tcp)
{
    /* total length 30: the TCP header runs past what the IP layer says exists */
    uint8_t b[PB_MAX];
    struct pm_pkt p;
    size_t n = v4_with(b, sizeof(b), (struct pb_ip){.len_adjust = -10});
    dec(&p, PM_LT_RAW, b, n);
    cr_assert_eq(p.status, PM_PKT_BAD);
    cr_assert_eq(p.fail_layer, PM_L_TCP);
    cr_assert_eq(p.tcp_flags_ok, 0, "flags past the IP length are not trusted");
    cr_assert_eq(p.family, PM_AF_INET);
}

Test(decode_ipv4, header_cut_by_snaplen_is_truncated)
{
    uint8_t b[PB_MAX];
    size_t n = syn4(b, sizeof(b));
    struct pm_pkt p;
    pb_decode(&p, PM_LT_RAW, b, 10, n, 0, 1, 0);
    cr_assert_eq(p.status, PM_PKT_TRUNC);
    cr_assert_eq(p.fail_layer, PM_L_IP);
    cr_assert_eq(p.family, 0);
    /* an empty record */
    pb_decode(&p, PM_LT_RAW, b, 0, 0, 0, 1, 0);
    cr_assert_neq(p.status, PM_PKT_OK);
    cr_assert_eq(p.family, 0);
}

/* ================================ IPv6 ================================ */

static size_t v6_with_ext(uint8_t *b, size_t cap, const uint8_t *ext, size_t extlen, uint8_t first,
                          int len_adjust)
{
    uint8_t l4[64];
    struct pb_tcp t = {.sport = 40001, .dport = 25, .seq = 2000, .flags = PM_TH_SYN, .win = 1024};
    size_t n = pb_tcp(l4, sizeof(l4), &t);
    struct pb_ip ip = {.family = PM_AF_INET6, .src = SRC6, .dst = DST6, .proto = 6, .ttl = 60,
                       .opts = ext, .optlen = extlen, .ext_nh = first, .len_adjust = len_adjust};
    return pb_ip(b, cap, &ip, l4, n);
}

Test(decode_ipv6, extension_chain_hop_by_hop_routing_destination)
{
    uint8_t ext[128], b[PB_MAX];
    size_t o = pb_v6ext(ext, sizeof(ext), 43, 8);            /* hop-by-hop → routing */
    o += pb_v6ext(ext + o, sizeof(ext) - o, 60, 24);          /* routing (3 units) → dest opts */
    o += pb_v6ext(ext + o, sizeof(ext) - o, 6, 16);           /* dest opts → TCP */
    size_t n = v6_with_ext(b, sizeof(b), ext, o, 0, 0);
    struct pm_pkt p;
    dec(&p, PM_LT_RAW, b, n);
    assert_syn6(&p);
    cr_assert_eq(p.ip_opts, 1);
    cr_assert_eq(p.ttl, 60);
    cr_assert_eq(p.frag, 0);
}

Test(decode_ipv6, authentication_header_length_in_words)
{
    uint8_t ext[64], b[PB_MAX];
    size_t o = pb_v6ah(ext, sizeof(ext), 6, 24); /* AH with a 12-byte ICV */
    size_t n = v6_with_ext(b, sizeof(b), ext, o, 51, 0);
    struct pm_pkt p;
    dec(&p, PM_LT_RAW, b, n);
    assert_syn6(&p);
}

Test(decode_ipv6, fragment_offset_zero_carries_the_transport_header)
{
    uint8_t ext[16], b[PB_MAX];
    size_t o = pb_v6frag(ext, sizeof(ext), 6, 0, true, 0xdeadbeef);
    size_t n = v6_with_ext(b, sizeof(b), ext, o, 44, 0);
    struct pm_pkt p;
    dec(&p, PM_LT_RAW, b, n);
    assert_syn6(&p);
    cr_assert_eq(p.frag_later, 0);
    cr_assert_eq(p.ip_id, 0xbeef, "IPv6 has an IP ID only in the fragment header");
}

/* include/decode.h: "frag: 1 = a fragment (MF or offset)". The first fragment of an IPv6
 * datagram (offset 0, M set) is a fragment like its IPv4 counterpart. */
Test(decode_ipv6, first_fragment_is_flagged_as_fragment)
{
    uint8_t ext[16], b[PB_MAX];
    size_t o = pb_v6frag(ext, sizeof(ext), 6, 0, true, 0xdeadbeef);
    size_t n = v6_with_ext(b, sizeof(b), ext, o, 44, 0);
    struct pm_pkt p;
    dec(&p, PM_LT_RAW, b, n);
    cr_assert_eq(p.frag, 1);
}

Test(decode_ipv6, later_fragment_has_no_transport)
{
    uint8_t ext[16], b[PB_MAX];
    size_t o = pb_v6frag(ext, sizeof(ext), 6, 100, false, 0x01020304);
    size_t n = v6_with_ext(b, sizeof(b), ext, o, 44, 0);
    struct pm_pkt p;
    dec(&p, PM_LT_RAW, b, n);
    cr_assert_eq(p.status, PM_PKT_OTHER);
    cr_assert_eq(p.family, PM_AF_INET6);
    cr_assert_eq(p.frag, 1);
    cr_assert_eq(p.frag_later, 1);
    cr_assert_eq(p.ip_id, 0x0304);
    cr_assert_eq(p.tcp_flags_ok, 0);
}

Test(decode_ipv6, seven_extension_headers_decode_nine_are_malformed)
{
    uint8_t ext[256], b[PB_MAX];
    size_t o = 0;
    for (int i = 0; i < 7; i++) {
        o += pb_v6ext(ext + o, sizeof(ext) - o, i == 6 ? 6 : 60, 8);
    }
    size_t n = v6_with_ext(b, sizeof(b), ext, o, 60, 0);
    struct pm_pkt p;
    dec(&p, PM_LT_RAW, b, n);
    assert_syn6(&p);
    o = 0;
    for (int i = 0; i < 9; i++) {
        o += pb_v6ext(ext + o, sizeof(ext) - o, i == 8 ? 6 : 60, 8);
    }
    n = v6_with_ext(b, sizeof(b), ext, o, 60, 0);
    dec(&p, PM_LT_RAW, b, n);
    cr_assert_eq(p.status, PM_PKT_BAD);
    cr_assert_eq(p.fail_layer, PM_L_IPEXT);
}

Test(decode_ipv6, extension_header_cut_by_snaplen_or_past_the_packet)
{
    uint8_t ext[64], b[PB_MAX];
    size_t o = pb_v6ext(ext, sizeof(ext), 6, 8);
    size_t n = v6_with_ext(b, sizeof(b), ext, o, 0, 0);
    struct pm_pkt p;
    pb_decode(&p, PM_LT_RAW, b, 41, n, 0, 1, 0); /* one byte of the hop-by-hop header */
    cr_assert_eq(p.status, PM_PKT_TRUNC);
    cr_assert_eq(p.fail_layer, PM_L_IPEXT);
    /* a routing header that claims 2048 bytes in a short packet */
    o = pb_v6ext(ext, sizeof(ext), 6, 8);
    ext[1] = 255;
    n = v6_with_ext(b, sizeof(b), ext, o, 43, 0);
    dec(&p, PM_LT_RAW, b, n);
    cr_assert_eq(p.status, PM_PKT_BAD);
    cr_assert_eq(p.fail_layer, PM_L_IPEXT);
}

Test(decode_ipv6, payload_length_lies)
{
    uint8_t b[PB_MAX];
    struct pm_pkt p;
    size_t n = v6_with_ext(b, sizeof(b), NULL, 0, 0, 40);
    dec(&p, PM_LT_RAW, b, n);
    cr_assert_eq(p.status, PM_PKT_BAD);
    cr_assert_eq(p.fail_layer, PM_L_IP);
    n = v6_with_ext(b, sizeof(b), NULL, 0, 0, -20); /* payload length 0: a jumbogram */
    dec(&p, PM_LT_RAW, b, n);
    cr_assert_eq(p.status, PM_PKT_BAD);
    cr_assert_eq(p.fail_layer, PM_L_IP);
    /* shorter than the frame: trailing bytes are not payload */
    uint8_t pad[PB_MAX];
    n = syn6(b, sizeof(b));
    memcpy(pad, b, n);
    memset(pad + n, 0xab, 8);
    dec(&p, PM_LT_RAW, pad, n + 8);
    assert_syn6(&p);
    cr_assert_eq(p.payload_wire, 0);
}

/* ================================ TCP ================================ */

static size_t tcp4(uint8_t *b, size_t cap, const struct pb_tcp *t)
{
    uint8_t l4[PB_MAX];
    size_t n = pb_tcp(l4, sizeof(l4), t);
    struct pb_ip ip = {.family = PM_AF_INET, .src = SRC4, .dst = DST4, .proto = 6};
    return pb_ip(b, cap, &ip, l4, n);
}

Test(decode_tcp, every_flag_bit)
{
    const uint8_t bits[] = {PM_TH_FIN, PM_TH_SYN, PM_TH_RST, PM_TH_PSH, PM_TH_ACK, PM_TH_URG,
                            PM_TH_ECE, PM_TH_CWR};
    uint8_t b[PB_MAX];
    struct pm_pkt p;
    for (size_t i = 0; i < PM_ARRAY_LEN(bits); i++) {
        struct pb_tcp t = {.sport = 25, .dport = 40000, .seq = 7, .ack = 1001, .flags = bits[i],
                           .win = 512};
        size_t n = tcp4(b, sizeof(b), &t);
        dec(&p, PM_LT_RAW, b, n);
        cr_assert_eq(p.status, PM_PKT_OK);
        cr_assert_eq(p.flags, bits[i]);
        cr_assert_eq(p.ack, 1001u);
        cr_assert_eq(p.win, 512);
    }
    /* SYN+ACK = 0x12 (RFC 9293 §3.1 bit order) */
    struct pb_tcp t = {.sport = 25, .dport = 40000, .flags = PM_TH_SYN | PM_TH_ACK};
    size_t n = tcp4(b, sizeof(b), &t);
    cr_assert_eq(b[20 + 13], 0x12);
    dec(&p, PM_LT_RAW, b, n);
    cr_assert_eq(p.flags, 0x12);
}

Test(decode_tcp, data_offset_below_five_is_malformed)
{
    struct pb_tcp t = {.sport = 40000, .dport = 25, .flags = PM_TH_SYN, .doff = 4};
    uint8_t b[PB_MAX];
    size_t n = tcp4(b, sizeof(b), &t);
    struct pm_pkt p;
    dec(&p, PM_LT_RAW, b, n);
    cr_assert_eq(p.status, PM_PKT_BAD);
    cr_assert_eq(p.fail_layer, PM_L_TCP);
}

Test(decode_tcp, data_offset_past_the_segment_is_malformed)
{
    struct pb_tcp t = {.sport = 40000, .dport = 25, .flags = PM_TH_SYN, .doff = 15};
    uint8_t b[PB_MAX];
    size_t n = tcp4(b, sizeof(b), &t);
    struct pm_pkt p;
    dec(&p, PM_LT_RAW, b, n);
    cr_assert_eq(p.status, PM_PKT_BAD);
    cr_assert_eq(p.fail_layer, PM_L_TCP);
}

Test(decode_tcp, linux_syn_options)
{
    uint8_t b[PB_MAX];
    size_t n = syn4_opts(b, sizeof(b));
    struct pm_pkt p;
    dec(&p, PM_LT_RAW, b, n);
    assert_syn4(&p);
    cr_assert_eq(p.opts.mss, 1460);
    cr_assert(p.opts.sack_ok);
    cr_assert(p.opts.has_ts);
    cr_assert_eq(p.opts.tsval, 12345u);
    cr_assert_eq(p.opts.tsecr, 0u);
    cr_assert(p.opts.has_ws);
    cr_assert_eq(p.opts.wscale, 7);
    cr_assert_not(p.opts.bad);
    cr_assert_not(p.opts.cut);
    /* kinds in order, NOP excluded */
    cr_assert_eq(p.opts.nkinds, 4);
    const uint8_t kinds[] = {2, 4, 8, 3};
    cr_assert_arr_eq(p.opts.kinds, kinds, 4);
    cr_assert_eq(p.payload_wire, 0);
}

Test(decode_tcp, unknown_and_sack_block_kinds_are_recorded)
{
    const uint8_t opts[] = {1, 1, 30, 4, 0x10, 0x00,        /* NOP NOP MPTCP(30) len 4 */
                            254, 4, 0xf9, 0x89,             /* experimental (RFC 6994) */
                            5, 10, 0, 0, 0, 1, 0, 0, 0, 9}; /* SACK block */
    struct pb_tcp t = {.sport = 40000, .dport = 25, .flags = PM_TH_ACK, .opts = opts,
                       .optlen = sizeof(opts)};
    uint8_t b[PB_MAX];
    size_t n = tcp4(b, sizeof(b), &t);
    struct pm_pkt p;
    dec(&p, PM_LT_RAW, b, n);
    cr_assert_eq(p.status, PM_PKT_OK);
    cr_assert_eq(p.opts.nkinds, 3);
    const uint8_t kinds[] = {30, 254, 5};
    cr_assert_arr_eq(p.opts.kinds, kinds, 3);
    cr_assert_eq(p.opts.mss, 0);
    cr_assert_not(p.opts.bad);
}

Test(decode_tcp, bad_option_lengths_set_bad_and_keep_the_packet)
{
    struct pm_pkt p;
    uint8_t b[PB_MAX];
    /* a length below 2 */
    const uint8_t o1[] = {30, 1, 0, 0};
    struct pb_tcp t = {.sport = 40000, .dport = 25, .seq = 5, .flags = PM_TH_SYN, .opts = o1,
                       .optlen = sizeof(o1)};
    size_t n = tcp4(b, sizeof(b), &t);
    dec(&p, PM_LT_RAW, b, n);
    cr_assert(p.opts.bad);
    cr_assert_eq(p.status, PM_PKT_OK, "p0f's QUIRK_OPT_BAD: the segment is still used");
    cr_assert_eq(p.flags, PM_TH_SYN);
    cr_assert(p.tcp_flags_ok);
    /* MSS with length 5 */
    const uint8_t o2[] = {2, 5, 0x05, 0xb4, 0, 0, 0, 0};
    t.opts = o2;
    t.optlen = sizeof(o2);
    n = tcp4(b, sizeof(b), &t);
    dec(&p, PM_LT_RAW, b, n);
    cr_assert(p.opts.bad);
    cr_assert_eq(p.opts.mss, 0, "an MSS of the wrong length is not an MSS");
    /* a length running past the option block */
    const uint8_t o3[] = {3, 10, 7, 0};
    t.opts = o3;
    t.optlen = sizeof(o3);
    n = tcp4(b, sizeof(b), &t);
    dec(&p, PM_LT_RAW, b, n);
    cr_assert(p.opts.bad);
    cr_assert_not(p.opts.has_ws);
    /* timestamps with length 8 */
    const uint8_t o4[] = {8, 8, 0, 0, 0, 1, 0, 0};
    t.opts = o4;
    t.optlen = sizeof(o4);
    n = tcp4(b, sizeof(b), &t);
    dec(&p, PM_LT_RAW, b, n);
    cr_assert(p.opts.bad);
    cr_assert_not(p.opts.has_ts);
}

Test(decode_tcp, options_cut_by_snaplen_keep_flags_and_what_was_read)
{
    uint8_t b[PB_MAX];
    size_t n = syn4_opts(b, sizeof(b));
    struct pm_pkt p;
    /* IP 20 + TCP 20 + 6 option bytes: MSS and SACK-permitted kept, the timestamps cut */
    pb_decode(&p, PM_LT_RAW, b, 46, n, 0, 1, 0);
    cr_assert_eq(p.status, PM_PKT_TRUNC);
    cr_assert_eq(p.fail_layer, PM_L_TCPOPT);
    cr_assert(p.opts.cut);
    cr_assert_eq(p.opts.mss, 1460);
    cr_assert(p.opts.sack_ok);
    cr_assert_not(p.opts.has_ts);
    cr_assert_eq(p.flags, PM_TH_SYN, "a SYN whose options were cut is still a SYN");
    cr_assert(p.tcp_flags_ok);
    /* cut inside the timestamp value */
    pb_decode(&p, PM_LT_RAW, b, 50, n, 0, 1, 0);
    cr_assert(p.opts.cut);
    cr_assert_not(p.opts.has_ts);
    cr_assert_eq(p.opts.tsval, 0u);
}

Test(decode_tcp, fixed_header_cut_after_the_flags_is_truncated_with_flags)
{
    uint8_t b[PB_MAX];
    size_t n = syn4(b, sizeof(b));
    struct pm_pkt p;
    pb_decode(&p, PM_LT_RAW, b, 20 + 14, n, 0, 1, 0); /* window, checksum, urgent cut */
    cr_assert_eq(p.status, PM_PKT_TRUNC);
    cr_assert_eq(p.fail_layer, PM_L_TCP);
    cr_assert(p.tcp_ports_ok);
    cr_assert(p.tcp_flags_ok);
    cr_assert_not(p.tcp_hdr_ok);
    cr_assert_eq(p.flags, PM_TH_SYN);
    cr_assert_eq(p.seq, 1000u);
}

Test(decode_tcp, fixed_header_cut_before_the_flags_keeps_only_ports)
{
    uint8_t b[PB_MAX];
    size_t n = syn4(b, sizeof(b));
    struct pm_pkt p;
    pb_decode(&p, PM_LT_RAW, b, 20 + 8, n, 0, 1, 0); /* ports and sequence number only */
    cr_assert_eq(p.status, PM_PKT_TRUNC);
    cr_assert_eq(p.fail_layer, PM_L_TCP);
    cr_assert(p.tcp_ports_ok);
    cr_assert_not(p.tcp_flags_ok);
    cr_assert_eq(p.flags, 0, "flags that were not captured read as none");
    cr_assert_eq(p.sport, 40000);
    pb_decode(&p, PM_LT_RAW, b, 20 + 2, n, 0, 1, 0);
    cr_assert_eq(p.status, PM_PKT_TRUNC);
    cr_assert_not(p.tcp_ports_ok);
}

Test(decode_tcp, payload_window_and_snaplen_cut)
{
    const char *greet = "220 mx.example.net ESMTP\r\n";
    uint8_t b[PB_MAX];
    size_t n = pb_seg(b, sizeof(b), DST4, 25, SRC4, 40000, PM_TH_ACK | PM_TH_PSH, 5001, 1001,
                      greet, strlen(greet), 55);
    struct pm_pkt p;
    dec(&p, PM_LT_RAW, b, n);
    cr_assert_eq(p.status, PM_PKT_OK);
    cr_assert_eq(p.payload_wire, strlen(greet));
    cr_assert_eq(p.payload.cap, strlen(greet));
    cr_assert_eq(memcmp(p.payload.p, greet, strlen(greet)), 0);
    /* a 68-byte snaplen keeps 28 of the 66 bytes: payload present on the wire, cut here */
    pb_decode(&p, PM_LT_RAW, b, 48, n, 0, 1, 0);
    cr_assert_eq(p.status, PM_PKT_TRUNC);
    cr_assert_eq(p.fail_layer, PM_L_TCP);
    cr_assert_eq(p.payload_wire, strlen(greet));
    cr_assert_eq(p.payload.cap, 8);
    cr_assert(p.tcp_hdr_ok);
}

/* ================================ ICMP ================================ */

#define ROUTER4 "10.99.1.1"
#define ROUTER6 "2001:db8:1::1"

static size_t icmp4(uint8_t *b, size_t cap, const char *from, uint8_t type, uint8_t code,
                    uint32_t rest, const uint8_t *quote, size_t qlen)
{
    uint8_t l4[PB_MAX];
    size_t n = pb_icmp(l4, sizeof(l4), type, code, rest, quote, qlen);
    struct pb_ip ip = {.family = PM_AF_INET, .src = from, .dst = SRC4, .proto = 1, .ttl = 63};
    return pb_ip(b, cap, &ip, l4, n);
}

static size_t icmp6(uint8_t *b, size_t cap, const char *from, uint8_t type, uint8_t code,
                    uint32_t rest, const uint8_t *quote, size_t qlen)
{
    uint8_t l4[PB_MAX];
    size_t n = pb_icmp(l4, sizeof(l4), type, code, rest, quote, qlen);
    struct pb_ip ip = {.family = PM_AF_INET6, .src = from, .dst = SRC6, .proto = 58, .ttl = 63};
    return pb_ip(b, cap, &ip, l4, n);
}

static void assert_quotes_syn4(const struct pm_pkt *p)
{
    pm_addr s = pb_addr(SRC4), d = pb_addr(DST4);
    cr_assert(p->has_quote);
    cr_assert_eq(p->quote.family, PM_AF_INET);
    cr_assert(pm_addr_eq(&p->quote.src, &s));
    cr_assert(pm_addr_eq(&p->quote.dst, &d));
    cr_assert_eq(p->quote.proto, 6);
    cr_assert(p->quote.has_ports);
    cr_assert_eq(p->quote.sport, 40000);
    cr_assert_eq(p->quote.dport, 25);
    cr_assert(p->quote.has_seq);
    cr_assert_eq(p->quote.seq, 1000u);
}

Test(decode_icmp, rfc792_eight_byte_quote_is_complete_not_truncated)
{
    uint8_t syn[PB_MAX], b[PB_MAX];
    syn4(syn, sizeof(syn));
    size_t n = icmp4(b, sizeof(b), ROUTER4, 3, 13, 0, syn, 28);
    struct pm_pkt p;
    dec(&p, PM_LT_RAW, b, n);
    cr_assert_eq(p.status, PM_PKT_OK, "a router quoting 8 bytes (RFC 792) is not an error");
    cr_assert_eq(p.proto, 1);
    cr_assert_eq(p.icmp_type, 3);
    cr_assert_eq(p.icmp_code, 13);
    cr_assert(p.icmp_is_error);
    cr_assert(pm_icmp_is_unreach(&p));
    cr_assert_not(pm_icmp_is_ttl_exceeded(&p));
    cr_assert_not(pm_icmp_is_frag_needed(&p));
    assert_quotes_syn4(&p);
    cr_assert_not(p.quote.has_tcp, "8 bytes hold no flags");
    cr_assert_eq(p.quote.ttl, 61);
    cr_assert_eq(p.quote.bytes, 28);
    cr_assert_eq(p.quote.ip_len, 40, "the quoted header's own total length");
    pm_addr r = pb_addr(ROUTER4);
    cr_assert(pm_addr_eq(&p.src, &r));
}

Test(decode_icmp, rfc1812_full_quote_gives_flags_and_options)
{
    uint8_t syn[PB_MAX], b[PB_MAX];
    size_t sn = syn4_opts(syn, sizeof(syn));
    size_t n = icmp4(b, sizeof(b), ROUTER4, 11, 0, 0, syn, sn);
    struct pm_pkt p;
    dec(&p, PM_LT_RAW, b, n);
    cr_assert_eq(p.status, PM_PKT_OK);
    cr_assert(pm_icmp_is_ttl_exceeded(&p));
    cr_assert_not(pm_icmp_is_unreach(&p));
    assert_quotes_syn4(&p);
    cr_assert(p.quote.has_tcp);
    cr_assert_eq(p.quote.tcp_flags, PM_TH_SYN);
    cr_assert_eq(p.quote.tcp_win, 64240);
    cr_assert_eq(p.quote.opts.mss, 1460);
    cr_assert(p.quote.opts.has_ws);
    cr_assert_eq(p.quote.ip_id, 77);
    cr_assert_eq(p.quote.bytes, sn);
}

Test(decode_icmp, rfc4884_length_field_bounds_the_quote)
{
    /* RFC 4884 §4.1: the original datagram zero-padded to 128 bytes, its length in 32-bit
     * words in the second byte of the unused field, then an extension structure. */
    uint8_t syn[PB_MAX], quote[256], b[PB_MAX];
    size_t sn = syn4_opts(syn, sizeof(syn));
    memset(quote, 0, sizeof(quote));
    memcpy(quote, syn, sn);
    const uint8_t ext[8] = {0x20, 0, 0x12, 0x34, 0, 4, 1, 1}; /* version 2 header + object */
    memcpy(quote + 128, ext, sizeof(ext));
    size_t n = icmp4(b, sizeof(b), ROUTER4, 11, 0, (128 / 4) << 16, quote, 128 + sizeof(ext));
    struct pm_pkt p;
    dec(&p, PM_LT_RAW, b, n);
    cr_assert_eq(p.status, PM_PKT_OK);
    assert_quotes_syn4(&p);
    cr_assert_eq(p.quote.bytes, 128, "the extension structure is not part of the datagram");
    cr_assert_eq(p.quote.opts.mss, 1460);
    /* a length field beyond the message is ignored, not trusted */
    n = icmp4(b, sizeof(b), ROUTER4, 3, 1, 255u << 16, quote, 128 + sizeof(ext));
    dec(&p, PM_LT_RAW, b, n);
    cr_assert_eq(p.status, PM_PKT_OK);
    assert_quotes_syn4(&p);
    cr_assert_eq(p.quote.bytes, 136);
}

Test(decode_icmp, quote_cut_by_snaplen_is_truncated_quote)
{
    uint8_t syn[PB_MAX], b[PB_MAX];
    size_t sn = syn4_opts(syn, sizeof(syn));
    size_t n = icmp4(b, sizeof(b), ROUTER4, 3, 13, 0, syn, sn);
    struct pm_pkt p;
    /* outer IP 20 + ICMP 8 + quoted IP 20 + 2 bytes of the quoted ports */
    pb_decode(&p, PM_LT_RAW, b, 50, n, 0, 1, 0);
    cr_assert_eq(p.status, PM_PKT_TRUNC);
    cr_assert_eq(p.fail_layer, PM_L_QUOTE);
    cr_assert(p.icmp_is_error);
    cr_assert(p.has_quote);
    cr_assert_not(p.quote.has_ports);
    /* cut after the ports and sequence: the flow is still named */
    pb_decode(&p, PM_LT_RAW, b, 56, n, 0, 1, 0);
    cr_assert_eq(p.status, PM_PKT_TRUNC);
    cr_assert_eq(p.fail_layer, PM_L_QUOTE);
    assert_quotes_syn4(&p);
    cr_assert_not(p.quote.has_tcp);
}

Test(decode_icmp, quoted_later_fragment_names_no_ports)
{
    uint8_t syn[PB_MAX], b[PB_MAX];
    uint8_t l4[64];
    struct pb_tcp t = {.sport = 40000, .dport = 25, .seq = 1000, .flags = PM_TH_SYN};
    size_t tn = pb_tcp(l4, sizeof(l4), &t);
    struct pb_ip ip = {.family = PM_AF_INET, .src = SRC4, .dst = DST4, .proto = 6, .frag = 10};
    size_t sn = pb_ip(syn, sizeof(syn), &ip, l4, tn);
    size_t n = icmp4(b, sizeof(b), ROUTER4, 11, 1, 0, syn, sn);
    struct pm_pkt p;
    dec(&p, PM_LT_RAW, b, n);
    cr_assert(p.has_quote);
    cr_assert_not(p.quote.has_ports, "a later fragment's bytes are not a TCP header");
}

Test(decode_icmp, frag_needed_carries_the_next_hop_mtu)
{
    uint8_t syn[PB_MAX], b[PB_MAX];
    syn4(syn, sizeof(syn));
    size_t n = icmp4(b, sizeof(b), ROUTER4, 3, 4, 1400, syn, 28); /* RFC 1191 */
    struct pm_pkt p;
    dec(&p, PM_LT_RAW, b, n);
    cr_assert(pm_icmp_is_frag_needed(&p));
    cr_assert(pm_icmp_is_unreach(&p));
    cr_assert_eq(p.icmp_mtu, 1400);
}

Test(decode_icmp, parameter_problem_and_source_quench_are_errors)
{
    uint8_t syn[PB_MAX], b[PB_MAX];
    syn4(syn, sizeof(syn));
    struct pm_pkt p;
    size_t n = icmp4(b, sizeof(b), ROUTER4, 12, 0, 20u << 24 /* pointer */, syn, 28);
    dec(&p, PM_LT_RAW, b, n);
    cr_assert(p.icmp_is_error);
    assert_quotes_syn4(&p);
    n = icmp4(b, sizeof(b), ROUTER4, 4, 0, 0, syn, 28);
    dec(&p, PM_LT_RAW, b, n);
    cr_assert(p.icmp_is_error);
    assert_quotes_syn4(&p);
}

Test(decode_icmp, echo_is_not_an_error)
{
    const uint8_t data[8] = {0, 1, 0, 1, 'p', 'i', 'n', 'g'};
    uint8_t b[PB_MAX];
    struct pm_pkt p;
    size_t n = icmp4(b, sizeof(b), ROUTER4, 8, 0, 0x00010001, data, sizeof(data));
    dec(&p, PM_LT_RAW, b, n);
    cr_assert_eq(p.status, PM_PKT_OTHER);
    cr_assert_eq(p.icmp_is_error, 0);
    cr_assert_eq(p.has_quote, 0);
    cr_assert_eq(p.family, PM_AF_INET);
    /* redirect (type 5) quotes a header too, but is not an answer to a SYN */
    uint8_t syn[PB_MAX];
    syn4(syn, sizeof(syn));
    n = icmp4(b, sizeof(b), ROUTER4, 5, 1, 0x0a000001, syn, 28);
    dec(&p, PM_LT_RAW, b, n);
    cr_assert_eq(p.icmp_is_error, 0);
}

Test(decode_icmp, icmp_header_cut_is_truncated_at_icmp)
{
    uint8_t syn[PB_MAX], b[PB_MAX];
    syn4(syn, sizeof(syn));
    size_t n = icmp4(b, sizeof(b), ROUTER4, 3, 13, 0, syn, 28);
    struct pm_pkt p;
    pb_decode(&p, PM_LT_RAW, b, 21, n, 0, 1, 0);
    cr_assert_eq(p.status, PM_PKT_TRUNC);
    cr_assert_eq(p.fail_layer, PM_L_ICMP);
    cr_assert_eq(p.icmp_is_error, 0);
    pb_decode(&p, PM_LT_RAW, b, 26, n, 0, 1, 0); /* type and code kept, rest-of-header cut */
    cr_assert_eq(p.status, PM_PKT_TRUNC);
    cr_assert_eq(p.fail_layer, PM_L_ICMP);
    cr_assert_eq(p.icmp_type, 3);
}

Test(decode_icmp, icmpv4_quoting_ipv6_is_no_quote)
{
    uint8_t syn[PB_MAX], b[PB_MAX];
    size_t sn = syn6(syn, sizeof(syn));
    size_t n = icmp4(b, sizeof(b), ROUTER4, 3, 1, 0, syn, sn);
    struct pm_pkt p;
    dec(&p, PM_LT_RAW, b, n);
    cr_assert(p.icmp_is_error);
    cr_assert_eq(p.has_quote, 0);
}

static void assert_quotes_syn6(const struct pm_pkt *p)
{
    pm_addr s = pb_addr(SRC6), d = pb_addr(DST6);
    cr_assert(p->has_quote);
    cr_assert_eq(p->quote.family, PM_AF_INET6);
    cr_assert(pm_addr_eq(&p->quote.src, &s));
    cr_assert(pm_addr_eq(&p->quote.dst, &d));
    cr_assert_eq(p->quote.proto, 6);
    cr_assert(p->quote.has_ports);
    cr_assert_eq(p->quote.sport, 40001);
    cr_assert_eq(p->quote.dport, 25);
    cr_assert_eq(p->quote.seq, 2000u);
}

Test(decode_icmp6, destination_unreachable_codes)
{
    uint8_t syn[PB_MAX], b[PB_MAX];
    size_t sn = syn6(syn, sizeof(syn));
    struct pm_pkt p;
    for (uint8_t code = 0; code <= 6; code++) {
        size_t n = icmp6(b, sizeof(b), DST6, 1, code, 0, syn, sn);
        dec(&p, PM_LT_RAW, b, n);
        cr_assert_eq(p.status, PM_PKT_OK);
        cr_assert_eq(p.proto, 58);
        cr_assert(pm_icmp_is_unreach(&p));
        cr_assert_eq(p.icmp_code, code);
        assert_quotes_syn6(&p);
        cr_assert(p.quote.has_tcp);
        cr_assert_eq(p.quote.tcp_flags, PM_TH_SYN);
        cr_assert_eq(p.quote.ttl, 60);
    }
}

Test(decode_icmp6, packet_too_big_and_time_exceeded)
{
    uint8_t syn[PB_MAX], b[PB_MAX];
    size_t sn = syn6(syn, sizeof(syn));
    struct pm_pkt p;
    size_t n = icmp6(b, sizeof(b), ROUTER6, 2, 0, 1280, syn, sn); /* RFC 4443 §3.2 */
    dec(&p, PM_LT_RAW, b, n);
    cr_assert(p.icmp_is_error);
    cr_assert(pm_icmp_is_frag_needed(&p));
    cr_assert_eq(p.icmp_mtu, 1280);
    assert_quotes_syn6(&p);
    n = icmp6(b, sizeof(b), ROUTER6, 3, 0, 0, syn, sn);
    dec(&p, PM_LT_RAW, b, n);
    cr_assert(pm_icmp_is_ttl_exceeded(&p));
    cr_assert_not(pm_icmp_is_unreach(&p));
    n = icmp6(b, sizeof(b), ROUTER6, 4, 0, 6, syn, sn); /* parameter problem, pointer 6 */
    dec(&p, PM_LT_RAW, b, n);
    cr_assert(p.icmp_is_error);
    assert_quotes_syn6(&p);
    /* echo request (128) is not an error */
    n = icmp6(b, sizeof(b), ROUTER6, 128, 0, 0x00010001, syn, 8);
    dec(&p, PM_LT_RAW, b, n);
    cr_assert_eq(p.status, PM_PKT_OTHER);
    cr_assert_eq(p.icmp_is_error, 0);
}

Test(decode_icmp6, quote_of_ipv6_with_extension_headers)
{
    uint8_t ext[64], syn[PB_MAX], b[PB_MAX];
    size_t o = pb_v6ext(ext, sizeof(ext), 44, 8);                         /* dest opts */
    o += pb_v6frag(ext + o, sizeof(ext) - o, 6, 0, true, 0x11223344);      /* first fragment */
    size_t sn = v6_with_ext(syn, sizeof(syn), ext, o, 60, 0);
    size_t n = icmp6(b, sizeof(b), ROUTER6, 1, 1, 0, syn, sn);
    struct pm_pkt p;
    dec(&p, PM_LT_RAW, b, n);
    cr_assert_eq(p.status, PM_PKT_OK);
    assert_quotes_syn6(&p);
    cr_assert_eq(p.quote.proto, 6, "the transport after the chain, not the first header");
    cr_assert_eq(p.quote.ip_id, 0x3344);
    /* the same chain quoting a later fragment: no ports */
    o = pb_v6frag(ext, sizeof(ext), 6, 50, false, 0x11223344);
    sn = v6_with_ext(syn, sizeof(syn), ext, o, 44, 0);
    n = icmp6(b, sizeof(b), ROUTER6, 3, 1, 0, syn, sn);
    dec(&p, PM_LT_RAW, b, n);
    cr_assert(p.has_quote);
    cr_assert_not(p.quote.has_ports);
}

Test(decode_icmp6, rfc4884_length_in_64_bit_words)
{
    uint8_t syn[PB_MAX], quote[256], b[PB_MAX];
    size_t sn = syn6(syn, sizeof(syn));
    memset(quote, 0, sizeof(quote));
    memcpy(quote, syn, sn);
    const uint8_t extn[8] = {0x20, 0, 0, 0, 0, 4, 1, 1};
    memcpy(quote + 128, extn, sizeof(extn));
    size_t n = icmp6(b, sizeof(b), ROUTER6, 3, 0, (uint32_t)(128 / 8) << 24, quote, 136);
    struct pm_pkt p;
    dec(&p, PM_LT_RAW, b, n);
    cr_assert_eq(p.status, PM_PKT_OK);
    assert_quotes_syn6(&p);
    cr_assert_eq(p.quote.bytes, 128);
}

Test(decode_icmp6, icmpv6_quoting_ipv4_is_no_quote)
{
    uint8_t syn[PB_MAX], b[PB_MAX];
    size_t sn = syn4(syn, sizeof(syn));
    size_t n = icmp6(b, sizeof(b), ROUTER6, 1, 4, 0, syn, sn);
    struct pm_pkt p;
    dec(&p, PM_LT_RAW, b, n);
    cr_assert(p.icmp_is_error);
    cr_assert_eq(p.has_quote, 0);
}

/* ================================ reasons and texts ================================ */

/* nmap portreasons.cc icmpv4_to_reason / icmpv6_to_reason, as listed in
 * ../shared/reference/anchors-and-wire-signatures.md §b2. */
Test(decode_reason, nmap_icmpv4_words)
{
    struct {
        uint8_t type, code;
        const char *word;
    } t[] = {
        {3, 0, "net-unreach"},      {3, 1, "host-unreach"},    {3, 2, "proto-unreach"},
        {3, 3, "port-unreach"},     {3, 9, "net-prohibited"},  {3, 10, "host-prohibited"},
        {3, 13, "admin-prohibited"}, {3, 4, "dest-unreach"},    {3, 5, "dest-unreach"},
        {3, 8, "dest-unreach"},     {3, 14, "dest-unreach"},   {3, 15, "dest-unreach"},
        {4, 0, "source-quench"},    {11, 0, "time-exceeded"},  {11, 1, "time-exceeded"},
    };
    for (size_t i = 0; i < PM_ARRAY_LEN(t); i++) {
        cr_assert_str_eq(pm_icmp_reason(PM_AF_INET, t[i].type, t[i].code), t[i].word,
                         "ICMP %u/%u", t[i].type, t[i].code);
    }
    cr_assert_str_eq(pm_icmp_reason(PM_AF_INET, 8, 0), "unknown-response");
}

/* nmap returns ER_DESTUNREACH ("dest-unreach") for every type-3 code it does not list:
 * 6, 7, 11, 12 and codes no RFC defines. */
Test(decode_reason, nmap_icmpv4_other_unreach_codes_are_dest_unreach)
{
    const uint8_t codes[] = {6, 7, 11, 12, 16, 99};
    for (size_t i = 0; i < PM_ARRAY_LEN(codes); i++) {
        cr_assert_str_eq(pm_icmp_reason(PM_AF_INET, 3, codes[i]), "dest-unreach", "ICMP 3/%u",
                         codes[i]);
    }
}

Test(decode_reason, nmap_icmpv6_words)
{
    struct {
        uint8_t type, code;
        const char *word;
    } t[] = {
        {1, 0, "no-route"},     {1, 1, "admin-prohibited"}, {1, 2, "beyond-scope"},
        {1, 3, "host-unreach"}, {1, 4, "port-unreach"},     {1, 5, "admin-prohibited"},
        {1, 6, "reject-route"}, {3, 0, "time-exceeded"},    {3, 1, "time-exceeded"},
        {4, 0, "param-problem"}, {4, 1, "param-problem"},
    };
    for (size_t i = 0; i < PM_ARRAY_LEN(t); i++) {
        cr_assert_str_eq(pm_icmp_reason(PM_AF_INET6, t[i].type, t[i].code), t[i].word,
                         "ICMPv6 %u/%u", t[i].type, t[i].code);
    }
    cr_assert_str_eq(pm_icmp_reason(PM_AF_INET6, 128, 0), "unknown-response");
}

Test(decode_reason, nmap_icmpv6_other_unreach_codes_are_dest_unreach)
{
    cr_assert_str_eq(pm_icmp_reason(PM_AF_INET6, 1, 7), "dest-unreach");
    cr_assert_str_eq(pm_icmp_reason(PM_AF_INET6, 1, 8), "dest-unreach");
}

Test(decode_reason, human_texts)
{
    cr_assert(strstr(pm_icmp_text(PM_AF_INET, 3, 13), "administratively prohibited"));
    cr_assert(strstr(pm_icmp_text(PM_AF_INET, 3, 1), "host unreachable"));
    cr_assert(strstr(pm_icmp_text(PM_AF_INET, 3, 3), "port unreachable"));
    cr_assert(strstr(pm_icmp_text(PM_AF_INET, 11, 0), "TTL exceeded"));
    cr_assert(strstr(pm_icmp_text(PM_AF_INET6, 1, 4), "port unreachable"));
    cr_assert(strstr(pm_icmp_text(PM_AF_INET6, 1, 1), "administratively prohibited"));
    cr_assert(strstr(pm_icmp_text(PM_AF_INET6, 3, 0), "hop limit"));
    cr_assert_str_eq(pm_icmp_text(PM_AF_INET, 200, 0), "unknown ICMP error");
    cr_assert_str_neq(pm_icmp_text(PM_AF_INET, 3, 13), pm_icmp_text(PM_AF_INET, 3, 10));
}

Test(decode_icmp, icmp_header_past_the_ip_length_is_malformed)
{
    uint8_t syn[PB_MAX], b[PB_MAX];
    syn4(syn, sizeof(syn));
    uint8_t l4[PB_MAX];
    size_t n = pb_icmp(l4, sizeof(l4), 3, 13, 0, syn, 28);
    struct pb_ip ip = {.family = PM_AF_INET, .src = ROUTER4, .dst = SRC4, .proto = 1,
                       .len_adjust = -(int)n + 2}; /* the IP length leaves 2 ICMP bytes */
    n = pb_ip(b, sizeof(b), &ip, l4, n);
    struct pm_pkt p;
    dec(&p, PM_LT_RAW, b, n);
    cr_assert_eq(p.status, PM_PKT_BAD);
    cr_assert_eq(p.fail_layer, PM_L_ICMP);
    cr_assert_eq(p.icmp_is_error, 0);
}

/* pm_decode_head (the side path, issue 14): the network header and the first transport bytes
 * only; a segment cut before its flags byte is not taken for one without RST. */
Test(decode_head, source_ttl_and_first_transport_bytes)
{
    uint8_t b[256];
    size_t n = syn4_opts(b, sizeof(b));
    struct pm_pkt p;
    memset(&p, 0, sizeof(p));
    pm_decode_head(&p, PM_LT_RAW, b, (uint32_t)n, (uint32_t)n);
    pm_addr s = pb_addr(SRC4);
    cr_assert_eq(p.family, PM_AF_INET);
    cr_assert(pm_addr_eq(&p.src, &s));
    cr_assert_eq(p.ttl, 64);
    cr_assert_eq(p.sport, 40000);
    cr_assert_eq(p.flags, PM_TH_SYN);
    cr_assert(p.tcp_flags_ok);
    cr_assert_eq(p.opts.mss, 0, "options are not parsed on the side path");
    cr_assert_eq(p.status, PM_PKT_OTHER);
    /* cut after 13 bytes of TCP: ports yes, flags no */
    memset(&p, 0, sizeof(p));
    pm_decode_head(&p, PM_LT_RAW, b, 20 + 13, (uint32_t)n);
    cr_assert(p.tcp_ports_ok);
    cr_assert_not(p.tcp_flags_ok);
    cr_assert_eq(p.flags, 0);
    /* ICMP echo reply: type 0, not an error */
    uint8_t icmp[16], ip[64];
    size_t in = pb_icmp(icmp, sizeof(icmp), 0, 0, 0x00010001, NULL, 0);
    struct pb_ip h = {.family = PM_AF_INET, .src = DST4, .dst = SRC4, .proto = 1, .ttl = 61};
    size_t en = pb_ip(ip, sizeof(ip), &h, icmp, in);
    memset(&p, 0, sizeof(p));
    pm_decode_head(&p, PM_LT_RAW, ip, (uint32_t)en, (uint32_t)en);
    cr_assert_eq(p.proto, 1);
    cr_assert_eq(p.icmp_type, 0);
    cr_assert_not(p.icmp_is_error);
    cr_assert_eq(p.ttl, 61);
}
