/*
 * pktbuild.h — test helper: builds raw frames in memory, byte by byte, from the wire formats
 * (not from portmortem's decoder), so that the unit tests check the decoder against the
 * RFCs and not against itself. Link headers (Ethernet with 802.1Q/802.1ad tags, Linux
 * cooked v1/v2, BSD null/loop, NFLOG TLVs), IPv4 (options, fragments, lying lengths) and
 * IPv6 (extension headers), TCP (options, payload), ICMP/ICMPv6 errors quoting a given
 * packet; and capture files (classic pcap in both byte orders and precisions, pcapng blocks
 * including deliberately broken ones) written to a per-test temporary directory.
 *
 * Every builder writes into a caller buffer of `cap` bytes and returns the bytes written;
 * it aborts the test (cr_assert) when the buffer is too small. Lengths are correct unless a
 * field says otherwise; the IPv4 header checksum is filled in, transport checksums are not
 * (the decoder ignores them: TX offload makes them meaningless on the sending host).
 */
#ifndef PM_TEST_PKTBUILD_H
#define PM_TEST_PKTBUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode.h"
#include "pm.h"

#define PB_MAX 4096

/* ---- TCP ---- */
struct pb_tcp {
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;          /* PM_TH_* */
    uint16_t win;
    const uint8_t *opts;    /* raw option bytes; padded with EOL (0) to a multiple of 4 */
    size_t optlen;
    int doff;               /* data offset in 32-bit words written to the header; 0 = computed */
    const void *payload;
    size_t plen;
};
size_t pb_tcp(uint8_t *out, size_t cap, const struct pb_tcp *t);

/* ---- IPv4 / IPv6 ---- */
struct pb_ip {
    uint8_t family;         /* PM_AF_INET or PM_AF_INET6 */
    const char *src, *dst;  /* literal addresses */
    uint8_t proto;          /* transport protocol (after any IPv6 extension headers) */
    uint8_t ttl;            /* TTL / hop limit; 0 means 64 */
    uint8_t tos;            /* IPv4 TOS / IPv6 traffic class */
    uint16_t id;            /* IPv4 identification */
    uint16_t frag;          /* IPv4 flags+offset field: PB_DF, PB_MF | offset in 8-byte units */
    const uint8_t *opts;    /* IPv4 options (multiple of 4) or an IPv6 extension header chain */
    size_t optlen;
    uint8_t ext_nh;         /* IPv6: type of the first extension header (when optlen > 0) */
    int ihl;                /* IPv4: IHL written to the header (words); 0 = computed */
    int len_adjust;         /* added to the total length (IPv4) / payload length (IPv6) field */
    int version;            /* version nibble written; 0 = from family */
};
#define PB_DF 0x4000
#define PB_MF 0x2000
size_t pb_ip(uint8_t *out, size_t cap, const struct pb_ip *ip, const uint8_t *l4, size_t l4len);

/* IPv6 extension headers (RFC 8200 §4): a generic one (hop-by-hop 0, routing 43, destination
 * options 60) of `len` bytes (multiple of 8, >= 8), the fragment header (44), and AH (51,
 * RFC 4302: `len` a multiple of 4, >= 12). The body is zero/PadN. */
size_t pb_v6ext(uint8_t *out, size_t cap, uint8_t nh, size_t len);
size_t pb_v6frag(uint8_t *out, size_t cap, uint8_t nh, uint16_t offset8, bool more, uint32_t ident);
size_t pb_v6ah(uint8_t *out, size_t cap, uint8_t nh, size_t len);

/* ---- ICMP / ICMPv6 ---- */
/* type, code, checksum (0), the 4-byte field `rest` (unused / RFC 4884 length / MTU /
 * pointer, big-endian), then the quote. */
size_t pb_icmp(uint8_t *out, size_t cap, uint8_t type, uint8_t code, uint32_t rest,
               const uint8_t *quote, size_t qlen);

/* ---- link layers ---- */
size_t pb_eth(uint8_t *out, size_t cap, const uint16_t *tag_tpids, int ntags, uint16_t ethertype,
              const uint8_t *pl, size_t n);
size_t pb_sll(uint8_t *out, size_t cap, uint16_t pkttype, uint16_t hatype, uint16_t proto,
              const uint8_t *pl, size_t n);
size_t pb_sll2(uint8_t *out, size_t cap, uint16_t proto, uint16_t hatype, uint8_t pkttype,
               const uint8_t *pl, size_t n);
/* BSD null (host byte order: little-endian unless `big`) and OpenBSD loop (big-endian). */
size_t pb_null(uint8_t *out, size_t cap, uint32_t af, bool big, const uint8_t *pl, size_t n);
/* NFLOG: the 4-byte header, then TLVs appended one by one (length and type little-endian,
 * each padded to 4 bytes). `tlen_override` > 0 writes that length instead of the true one. */
size_t pb_nflog_hdr(uint8_t *out, size_t cap, uint8_t family, uint8_t version);
size_t pb_nflog_tlv(uint8_t *out, size_t cap, uint16_t type, const void *val, size_t n,
                    int tlen_override);

/* ---- shortcuts ---- */
/* One IPv4/IPv6 TCP segment (family from the address syntax), TTL `ttl` (0 = 64). */
size_t pb_seg(uint8_t *out, size_t cap, const char *src, uint16_t sport, const char *dst,
              uint16_t dport, uint8_t flags, uint32_t seq, uint32_t ack, const void *payload,
              size_t plen, uint8_t ttl);
/* The standard Linux SYN options: MSS 1460, SACK permitted, timestamps, NOP, WS 7. */
extern const uint8_t pb_linux_syn_opts[20];

/* Decode bytes as a frame of `linktype` with the record fields set. */
void pb_decode(struct pm_pkt *p, int linktype, const uint8_t *b, size_t caplen, size_t wirelen,
               pm_ns ts, uint32_t frame, uint16_t vantage);

pm_addr pb_addr(const char *s);

/* ---- capture files ---- */
/* A fresh per-process temporary directory (created on first use) and a path in it. */
const char *pb_tmpdir(void);
void pb_tmppath(char *out, size_t len, const char *name);
/* Remove the temporary directory and everything in it. */
void pb_tmpclean(void);

struct pb_rec {
    pm_ns ts;
    const uint8_t *data;
    uint32_t caplen, wirelen; /* wirelen 0 = caplen */
};
/* Classic pcap (https://www.tcpdump.org/manpages/pcap-savefile.5.html). */
void pb_write_pcap(const char *path, int linktype, bool nano, bool big_endian, uint32_t snaplen,
                   const struct pb_rec *recs, int n);

/* pcapng (draft-ietf-opsawg-pcapng) block writer in the current section's byte order. */
struct pb_ng {
    uint8_t *b;
    size_t n, cap;
    bool big;
};
void pb_ng_shb(struct pb_ng *g, bool big);
/* An IDB; name NULL for none, tsresol < 0 for none, tsoffset applied when has_tsoffset. */
void pb_ng_idb(struct pb_ng *g, uint16_t linktype, uint32_t snaplen, const char *name, int tsresol,
               bool has_tsoffset, int64_t tsoffset);
void pb_ng_epb(struct pb_ng *g, uint32_t ifid, uint64_t ts_units, const uint8_t *d,
               uint32_t caplen, uint32_t wirelen);
void pb_ng_pb(struct pb_ng *g, uint16_t ifid, uint64_t ts_units, const uint8_t *d, uint32_t caplen,
              uint32_t wirelen);
void pb_ng_spb(struct pb_ng *g, uint32_t wirelen, const uint8_t *d, uint32_t n);
/* Any block with explicit leading and trailing length fields (to write lies). */
void pb_ng_block(struct pb_ng *g, uint32_t type, uint32_t lead_len, const void *body, size_t n,
                 uint32_t trail_len);
void pb_ng_u32(struct pb_ng *g, uint32_t v);
void pb_ng_bytes(struct pb_ng *g, const void *p, size_t n);
void pb_ng_save(struct pb_ng *g, const char *path);
void pb_ng_free(struct pb_ng *g);

#endif
