/*
 * pmgen.h — the synthetic capture generator's internal API (tests/gen/). pmgen writes
 * deterministic pcap/pcapng files with a known ground truth for portmortem's golden,
 * robustness and benchmark tests. It is a test tool: it never links into portmortem and
 * shares no code with it, so a bug in the tool cannot hide itself in its own fixtures.
 *
 *   gen_wire.c   IPv4/IPv6/TCP/UDP/ICMP/ICMPv6 packet builders, checksums, PRNG
 *   gen_out.c    capture writers: classic pcap (µs/ns, both byte orders), pcapng (IDBs,
 *                EPB, SPB) and every link-layer encapsulation
 *   gen_scen.c   the scenarios (one or more attempts each) and their truth files
 *   gen_mix.c    the streaming benchmark mix and SYN storm
 *   pmgen.c      command line
 */
#ifndef PMGEN_H
#define PMGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define NS_PER_SEC INT64_C(1000000000)
#define MS(x) ((int64_t)(x) * INT64_C(1000000))
#define US(x) ((int64_t)(x) * INT64_C(1000))
#define SEC(x) ((int64_t)(x) * NS_PER_SEC)

/* Every capture starts here (2024-03-01T12:00:00Z): no clock is ever read. */
#define PMGEN_EPOCH INT64_C(1709294400)

#define GP_MAX 9216 /* largest IP datagram we build */

void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* ---- PRNG: xoshiro256** seeded through splitmix64 (Blackman & Vigna) ---- */
struct rng {
    uint64_t s[4];
};
void rng_seed(struct rng *r, uint64_t seed);
uint64_t rng_next(struct rng *r);
uint32_t rng_u32(struct rng *r);
uint32_t rng_below(struct rng *r, uint32_t n); /* uniform in [0, n), n > 0 */
double rng_unit(struct rng *r);                /* uniform in [0, 1) */
int64_t rng_range(struct rng *r, int64_t lo, int64_t hi); /* uniform in [lo, hi] */

/* ---- addresses ---- */
struct gaddr {
    uint8_t fam; /* 4 or 6 */
    uint8_t b[16];
};
void gaddr_parse(struct gaddr *a, const char *s); /* dies on a bad literal */
void gaddr_str(const struct gaddr *a, char *buf, size_t len);

/* ---- packet builders (gen_wire.c). Each returns the IP datagram length. ---- */

/* IPv6 extension headers a builder can insert between the fixed header and TCP. */
enum { EXT_HBH = 1, EXT_DST = 2, EXT_FRAG = 4 };

struct tcpseg {
    const struct gaddr *src, *dst;
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t win;
    uint8_t ttl; /* TTL / hop limit as it left the sender */
    uint16_t ipid;
    bool df;
    uint8_t tos;
    const uint8_t *opts; /* TCP options, padded to a multiple of 4 */
    uint8_t optlen;
    const uint8_t *payload;
    uint32_t plen;
    const uint8_t *ipopts; /* IPv4 options, a multiple of 4 bytes */
    uint8_t ipoptlen;
    unsigned ext6; /* EXT_* bits, IPv6 only */
    uint32_t frag_id;
    uint32_t flowlabel;
};

enum { TH_FIN = 0x01, TH_SYN = 0x02, TH_RST = 0x04, TH_PSH = 0x08, TH_ACK = 0x10 };

uint32_t gp_tcp(uint8_t *out, const struct tcpseg *s);
uint32_t gp_udp(uint8_t *out, const struct gaddr *src, const struct gaddr *dst, uint16_t sport,
                uint16_t dport, uint8_t ttl, uint16_t ipid, const uint8_t *payload,
                uint32_t plen);

/* How much of the offending datagram an ICMP error quotes. */
enum quote_style {
    Q_RFC792,  /* IP header + 8 bytes (classic routers) */
    Q_RFC1812, /* as much as fits in 576 bytes (IPv4) / 1280 bytes (IPv6): Linux */
    Q_RFC4884, /* length field, zero-padded quote of >= 128 bytes, MPLS extension object */
};

struct icmperr {
    const struct gaddr *from, *to;
    uint8_t type, code;
    uint8_t ttl;   /* as it left the sender */
    uint16_t ipid;
    uint16_t mtu;  /* 3/4 next-hop MTU, ICMPv6 type 2 MTU */
    enum quote_style qs;
    const uint8_t *orig; /* the offending datagram as sent */
    uint32_t origlen;
    int qttl;      /* TTL the quoted header carries (as the router saw it); < 0: unchanged */
};
uint32_t gp_icmp_err(uint8_t *out, const struct icmperr *e);

/* TCP option blocks as Linux sends them. */
uint8_t gp_opts_syn(uint8_t *o, uint16_t mss, uint8_t ws, uint32_t tsval, uint32_t tsecr);
uint8_t gp_opts_ts(uint8_t *o, uint32_t tsval, uint32_t tsecr);

/* Internet checksum pieces (RFC 1071), 64-bit accumulation for the benchmark's sake. */
uint64_t cks_add(uint64_t sum, const uint8_t *p, size_t n);
uint16_t cks_fold(uint64_t sum);

/* ---- capture writers (gen_out.c) ---- */
enum glink {
    GL_ETH,
    GL_VLAN1,
    GL_VLAN2,
    GL_VLAN3,
    GL_SLL,
    GL_SLL2,
    GL_RAW,
    GL_IPV4,
    GL_IPV6,
    GL_NULL,
    GL_LOOP,
    GL_NFLOG,
    GL_MIXED, /* pcapng only: several interfaces of different link types */
};
enum gfmt { GF_PCAP, GF_PCAP_NS, GF_PCAP_BE, GF_PCAP_NS_BE, GF_PCAPNG, GF_PCAPNG_BE };

int glink_parse(const char *s);          /* -1 when unknown */
const char *glink_name(enum glink l);
int gfmt_parse(const char *s);
const char *gfmt_name(enum gfmt f);
/* Can this output express "arrived on a loopback interface"? */
bool gw_loop_capable(enum glink l, enum gfmt f);
/* Can this link type carry this address family? (LINKTYPE_IPV4/IPV6 carry one each.) */
bool glink_family_ok(enum glink l, int fam);

/* Packet flags for gw_packet. */
enum {
    GW_OUT = 1, /* sent by the capturing host (direction, SLL pkttype 4, Ethernet source) */
    GW_LOOP = 2, /* travelled over the loopback interface (local REJECT answers) */
    GW_BG = 4,  /* background, not SMTP: pcapng "mixed" may write it as a Simple Packet Block */
};

struct gw;
struct gw *gw_open(const char *path, enum gfmt fmt, enum glink link, uint32_t snaplen);
void gw_packet(struct gw *w, int64_t ts_ns, const uint8_t *ip, uint32_t len, int fam,
               unsigned flags);
uint64_t gw_records(const struct gw *w);
uint64_t gw_bytes(const struct gw *w);
uint64_t gw_cut_records(const struct gw *w); /* records the snaplen shortened */
void gw_close(struct gw *w); /* dies on a write error */

/* ---- the two modes ---- */
struct gen_opts {
    const char *out, *truth;
    enum glink link;
    enum gfmt fmt;
    uint32_t snaplen;
    int family; /* 0: the scenario's default */
    uint64_t seed;
    /* mix */
    uint64_t size, packets;
    double smtp_ratio;
    bool storm;
    uint32_t concurrency;
    double v6_share;
    double rate; /* storm: attempts per second */
    uint16_t weights[8]; /* per-mille share of each outcome (gen_mix.c order) */
    bool has_weights;
    uint32_t destinations; /* SMTP destinations (MX addresses) drawn from; 0 = default */
};

int scenario_main(const char *name, const struct gen_opts *o);
void scenario_list(FILE *f);
int mix_main(const struct gen_opts *o);
/* "refused=35,no-response=65": outcome weights for mix/storm; -1 on a bad list. */
int mix_parse_weights(const char *s, uint16_t w[8]);

/* A small JSON writer for truth files (the only JSON pmgen writes). */
struct jw {
    FILE *f;
    int depth;
    bool first[16];
};
void jw_begin(struct jw *j, FILE *f);
void jw_obj(struct jw *j, const char *key);   /* key NULL inside arrays / at top */
void jw_end_obj(struct jw *j);
void jw_arr(struct jw *j, const char *key);
void jw_end_arr(struct jw *j);
void jw_str(struct jw *j, const char *key, const char *v);
void jw_int(struct jw *j, const char *key, int64_t v);
void jw_uint(struct jw *j, const char *key, uint64_t v);
void jw_bool(struct jw *j, const char *key, bool v);
void jw_num(struct jw *j, const char *key, double v);

#endif
