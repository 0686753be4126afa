/*
 * gen_wire.c — owns pmgen's packet bytes: the seeded PRNG, address literals, Internet
 * checksums and the IPv4/IPv6/TCP/UDP/ICMP/ICMPv6 builders. Every header is written by hand
 * from the RFCs (791, 8200, 9293, 768, 792, 1812, 4443, 4884, 7323) so that the fixtures do
 * not inherit a bug from the decoder they test. Checksums are always correct: a wrong one
 * is a separate, deliberate test, not an accident of the generator.
 */
#include "pmgen.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- PRNG ---- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

void rng_seed(struct rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) {
        r->s[i] = splitmix64(&x);
    }
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t rng_next(struct rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint32_t rng_u32(struct rng *r) { return (uint32_t)(rng_next(r) >> 32); }

uint32_t rng_below(struct rng *r, uint32_t n)
{
    /* Lemire's multiply-shift; the tiny bias is irrelevant for test traffic and keeps the
     * sequence independent of rejection loops. */
    return (uint32_t)(((uint64_t)rng_u32(r) * n) >> 32);
}

double rng_unit(struct rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

int64_t rng_range(struct rng *r, int64_t lo, int64_t hi)
{
    if (hi <= lo) {
        return lo;
    }
    uint64_t span = (uint64_t)(hi - lo) + 1;
    return lo + (int64_t)(rng_next(r) % span);
}

/* ---- addresses ---- */

void gaddr_parse(struct gaddr *a, const char *s)
{
    memset(a, 0, sizeof(*a));
    if (inet_pton(AF_INET, s, a->b) == 1) {
        a->fam = 4;
    } else if (inet_pton(AF_INET6, s, a->b) == 1) {
        a->fam = 6;
    } else {
        die("internal: bad address literal %s", s);
    }
}

void gaddr_str(const struct gaddr *a, char *buf, size_t len)
{
    if (!inet_ntop(a->fam == 6 ? AF_INET6 : AF_INET, a->b, buf, (socklen_t)len)) {
        snprintf(buf, len, "?");
    }
}

/* ---- checksums (RFC 1071) ---- */

uint64_t cks_add(uint64_t sum, const uint8_t *p, size_t n)
{
    /* Big-endian 16-bit words summed into 64 bits; carries are folded at the end. */
    while (n >= 8) {
        sum += ((uint64_t)p[0] << 8 | p[1]) + ((uint64_t)p[2] << 8 | p[3]) +
               ((uint64_t)p[4] << 8 | p[5]) + ((uint64_t)p[6] << 8 | p[7]);
        p += 8;
        n -= 8;
    }
    while (n >= 2) {
        sum += (uint64_t)p[0] << 8 | p[1];
        p += 2;
        n -= 2;
    }
    if (n) {
        sum += (uint64_t)p[0] << 8;
    }
    return sum;
}

uint16_t cks_fold(uint64_t sum)
{
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* ---- IP headers ---- */

static uint32_t put_ipv4(uint8_t *o, const struct gaddr *src, const struct gaddr *dst,
                         uint8_t proto, uint32_t l4len, uint8_t ttl, uint16_t id, bool df,
                         uint8_t tos, const uint8_t *opts, uint8_t optlen)
{
    uint32_t hl = 20u + optlen;
    o[0] = (uint8_t)(0x40 | (hl / 4));
    o[1] = tos;
    put16(o + 2, (uint16_t)(hl + l4len));
    put16(o + 4, id);
    put16(o + 6, df ? 0x4000 : 0);
    o[8] = ttl;
    o[9] = proto;
    o[10] = o[11] = 0;
    memcpy(o + 12, src->b, 4);
    memcpy(o + 16, dst->b, 4);
    if (optlen) {
        memcpy(o + 20, opts, optlen);
    }
    put16(o + 10, cks_fold(cks_add(0, o, hl)));
    return hl;
}

static uint32_t put_ipv6(uint8_t *o, const struct gaddr *src, const struct gaddr *dst,
                         uint8_t nh, uint32_t plen, uint8_t hlim, uint8_t tc, uint32_t flow)
{
    put32(o, 0x60000000u | (uint32_t)tc << 20 | (flow & 0xfffff));
    put16(o + 4, (uint16_t)plen);
    o[6] = nh;
    o[7] = hlim;
    memcpy(o + 8, src->b, 16);
    memcpy(o + 24, dst->b, 16);
    return 40;
}

/* The pseudo-header sum (RFC 9293 §3.1 / RFC 8200 §8.1) for an upper-layer checksum. */
static uint64_t pseudo(const struct gaddr *src, const struct gaddr *dst, uint8_t proto,
                       uint32_t len)
{
    uint64_t s = 0;
    if (src->fam == 4) {
        s = cks_add(s, src->b, 4);
        s = cks_add(s, dst->b, 4);
    } else {
        s = cks_add(s, src->b, 16);
        s = cks_add(s, dst->b, 16);
    }
    return s + proto + (len & 0xffff) + (len >> 16);
}

/* IPv6 extension headers (RFC 8200 §4), in the recommended order: hop-by-hop, destination
 * options, fragment. Each is 8 bytes: the two option headers carry one PadN of 4 bytes
 * (a legal, meaningless option), the fragment header is an atomic fragment (offset 0,
 * M = 0, RFC 6946) as some stacks send after a Packet Too Big. */
static uint32_t put_ext6(uint8_t *o, unsigned ext, uint8_t last_nh, uint8_t *first_nh,
                         uint32_t frag_id)
{
    uint8_t chain[3];
    int n = 0;
    if (ext & EXT_HBH) chain[n++] = 0;
    if (ext & EXT_DST) chain[n++] = 60;
    if (ext & EXT_FRAG) chain[n++] = 44;
    *first_nh = n ? chain[0] : last_nh;
    for (int i = 0; i < n; i++) {
        uint8_t *h = o + 8 * i;
        uint8_t nh = i + 1 < n ? chain[i + 1] : last_nh;
        memset(h, 0, 8);
        h[0] = nh;
        if (chain[i] == 44) {
            h[1] = 0;
            put16(h + 2, 0); /* offset 0, M = 0 */
            put32(h + 4, frag_id);
        } else {
            h[1] = 0;  /* length 0: 8 bytes */
            h[2] = 1;  /* PadN */
            h[3] = 4;  /* ... of 4 bytes */
        }
    }
    return 8u * (uint32_t)n;
}

/* ---- TCP ---- */

uint8_t gp_opts_syn(uint8_t *o, uint16_t mss, uint8_t ws, uint32_t tsval, uint32_t tsecr)
{
    /* Linux's SYN order: MSS, SACK-permitted, timestamps, NOP, window scale (20 bytes). */
    o[0] = 2;
    o[1] = 4;
    put16(o + 2, mss);
    o[4] = 4;
    o[5] = 2;
    o[6] = 8;
    o[7] = 10;
    put32(o + 8, tsval);
    put32(o + 12, tsecr);
    o[16] = 1;
    o[17] = 3;
    o[18] = 3;
    o[19] = ws;
    return 20;
}

uint8_t gp_opts_ts(uint8_t *o, uint32_t tsval, uint32_t tsecr)
{
    o[0] = 1;
    o[1] = 1;
    o[2] = 8;
    o[3] = 10;
    put32(o + 4, tsval);
    put32(o + 8, tsecr);
    return 12;
}

uint32_t gp_tcp(uint8_t *out, const struct tcpseg *s)
{
    uint32_t thl = 20u + s->optlen;
    uint32_t l4 = thl + s->plen;
    uint32_t off;
    uint8_t nh_first = 6;
    if (s->src->fam == 4) {
        off = put_ipv4(out, s->src, s->dst, 6, l4, s->ttl, s->ipid, s->df, s->tos, s->ipopts,
                       s->ipoptlen);
    } else {
        uint8_t ext[24];
        uint32_t elen = put_ext6(ext, s->ext6, 6, &nh_first, s->frag_id);
        off = put_ipv6(out, s->src, s->dst, nh_first, elen + l4, s->ttl, s->tos, s->flowlabel);
        memcpy(out + off, ext, elen);
        off += elen;
    }
    uint8_t *t = out + off;
    put16(t, s->sport);
    put16(t + 2, s->dport);
    put32(t + 4, s->seq);
    put32(t + 8, s->ack);
    t[12] = (uint8_t)((thl / 4) << 4);
    t[13] = s->flags;
    put16(t + 14, s->win);
    put16(t + 16, 0);
    put16(t + 18, 0);
    if (s->optlen) {
        memcpy(t + 20, s->opts, s->optlen);
    }
    if (s->plen) {
        memcpy(t + thl, s->payload, s->plen);
    }
    put16(t + 16, cks_fold(cks_add(pseudo(s->src, s->dst, 6, l4), t, l4)));
    return off + l4;
}

uint32_t gp_udp(uint8_t *out, const struct gaddr *src, const struct gaddr *dst, uint16_t sport,
                uint16_t dport, uint8_t ttl, uint16_t ipid, const uint8_t *payload,
                uint32_t plen)
{
    uint32_t l4 = 8 + plen;
    uint32_t off = src->fam == 4 ? put_ipv4(out, src, dst, 17, l4, ttl, ipid, true, 0, NULL, 0)
                                 : put_ipv6(out, src, dst, 17, l4, ttl, 0, ipid);
    uint8_t *u = out + off;
    put16(u, sport);
    put16(u + 2, dport);
    put16(u + 4, (uint16_t)l4);
    put16(u + 6, 0);
    memcpy(u + 8, payload, plen);
    uint16_t c = cks_fold(cks_add(pseudo(src, dst, 17, l4), u, l4));
    put16(u + 6, c ? c : 0xffff); /* RFC 768: a computed zero is sent as all ones */
    return off + l4;
}

/* ---- ICMP / ICMPv6 errors ---- */

/* The RFC 4884 extension structure with one MPLS label stack object (RFC 4950), as an
 * MPLS router appends it to time-exceeded: version 2, checksum over the structure. */
static uint32_t put_4884_ext(uint8_t *o)
{
    memset(o, 0, 12);
    o[0] = 0x20;          /* version 2 */
    put16(o + 4, 8);      /* object length: header + one label stack entry */
    o[6] = 1;             /* class: MPLS label stack */
    o[7] = 1;             /* c-type: incoming label stack */
    put32(o + 8, (16005u << 12) | (0u << 9) | (1u << 8) | 1u); /* label, TC, S, TTL 1 */
    put16(o + 2, cks_fold(cks_add(0, o, 12)));
    return 12;
}

uint32_t gp_icmp_err(uint8_t *out, const struct icmperr *e)
{
    bool v6 = e->from->fam == 6;
    uint8_t quote[1300];
    uint32_t iphl = v6 ? 40 : (uint32_t)(e->orig[0] & 0x0f) * 4;
    uint32_t qlen;
    /* RFC 792 quotes the IP header and 64 bits of data; RFC 1812 §4.3.2.3 as much as fits
     * in 576 bytes; RFC 4443 §3 as much as fits in the IPv6 minimum MTU. */
    uint32_t maxq = v6 ? 1280 - 40 - 8 : 576 - 20 - 8;
    if (e->qs == Q_RFC4884) {
        maxq = 128; /* a router appending extensions quotes exactly 128 bytes (§5.1) */
    }
    qlen = e->qs == Q_RFC792 ? iphl + 8 : (e->origlen < maxq ? e->origlen : maxq);
    if (qlen > e->origlen) {
        qlen = e->origlen;
    }
    memcpy(quote, e->orig, qlen);
    if (e->qttl >= 0) {
        /* The quoted header is the datagram as the router held it: its TTL and (IPv4) its
         * header checksum follow. */
        if (v6) {
            quote[7] = (uint8_t)e->qttl;
        } else {
            quote[8] = (uint8_t)e->qttl;
            quote[10] = quote[11] = 0;
            put16(quote + 10, cks_fold(cks_add(0, quote, iphl)));
        }
    }
    uint32_t ext = 0;
    uint8_t lenfield = 0;
    if (e->qs == Q_RFC4884) {
        /* Zero-pad the original datagram to 128 bytes (§5.1), then append the extension. */
        uint32_t padded = 128;
        memset(quote + qlen, 0, padded - qlen);
        qlen = padded;
        lenfield = (uint8_t)(v6 ? qlen / 8 : qlen / 4);
        ext = put_4884_ext(quote + qlen);
    }
    uint32_t icmplen = 8 + qlen + ext;
    uint32_t off = v6 ? put_ipv6(out, e->from, e->to, 58, icmplen, e->ttl, 0, 0)
                      : put_ipv4(out, e->from, e->to, 1, icmplen, e->ttl, e->ipid, false, 0xc0,
                                 NULL, 0);
    uint8_t *m = out + off;
    m[0] = e->type;
    m[1] = e->code;
    put16(m + 2, 0);
    put32(m + 4, 0);
    if (!v6) {
        m[5] = lenfield; /* RFC 4884 §4.1: length in 32-bit words, second unused byte */
        if (e->type == 3 && e->code == 4) {
            put16(m + 6, e->mtu); /* RFC 1191 next-hop MTU */
        }
    } else {
        if (e->type == 2) {
            put32(m + 4, e->mtu); /* RFC 4443 §3.2 */
        } else {
            m[4] = lenfield; /* RFC 4884 §4.2: length in 64-bit words, first byte */
        }
    }
    memcpy(m + 8, quote, qlen + ext);
    uint64_t sum = v6 ? pseudo(e->from, e->to, 58, icmplen) : 0;
    put16(m + 2, cks_fold(cks_add(sum, m, icmplen)));
    return off + icmplen;
}
