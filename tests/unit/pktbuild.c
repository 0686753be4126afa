/*
 * pktbuild.c — the frame and capture-file builders of pktbuild.h (test helper, not a test).
 * Written from the wire formats: IEEE 802.3/802.1Q, tcpdump.org LINKTYPE_LINUX_SLL/SLL2/
 * NULL/LOOP/NFLOG pages, RFC 791, RFC 8200, RFC 9293, RFC 792/4443/4884, pcap-savefile(5),
 * draft-ietf-opsawg-pcapng.
 */
#include "pktbuild.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

/* ---- byte helpers ---- */

static void need(size_t have, size_t cap)
{
    cr_assert(have <= cap, "pktbuild: %zu bytes do not fit a %zu-byte buffer", have, cap);
}

static void be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

pm_addr pb_addr(const char *s)
{
    pm_addr a;
    cr_assert(pm_addr_parse(s, &a), "pktbuild: bad address %s", s);
    return a;
}

/* ---- TCP ---- */

size_t pb_tcp(uint8_t *out, size_t cap, const struct pb_tcp *t)
{
    size_t optpad = (t->optlen + 3) & ~(size_t)3;
    size_t hl = 20 + optpad;
    size_t total = hl + t->plen;
    need(total, cap);
    memset(out, 0, hl);
    be16(out, t->sport);
    be16(out + 2, t->dport);
    be32(out + 4, t->seq);
    be32(out + 8, t->ack);
    int doff = t->doff ? t->doff : (int)(hl / 4);
    out[12] = (uint8_t)((doff & 0x0f) << 4);
    out[13] = t->flags;
    be16(out + 14, t->win);
    /* checksum 0, urgent pointer 0 */
    if (t->optlen) {
        memcpy(out + 20, t->opts, t->optlen); /* the rest stays 0 = EOL padding */
    }
    if (t->plen) {
        memcpy(out + hl, t->payload, t->plen);
    }
    return total;
}

/* ---- IP ---- */

static uint16_t ip_checksum(const uint8_t *h, size_t n)
{
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < n; i += 2) {
        s += (uint32_t)(h[i] << 8 | h[i + 1]);
    }
    while (s >> 16) {
        s = (s & 0xffff) + (s >> 16);
    }
    return (uint16_t)~s;
}

size_t pb_ip(uint8_t *out, size_t cap, const struct pb_ip *ip, const uint8_t *l4, size_t l4len)
{
    pm_addr s = pb_addr(ip->src), d = pb_addr(ip->dst);
    uint8_t ttl = ip->ttl ? ip->ttl : 64;
    if (ip->family == PM_AF_INET) {
        cr_assert(ip->optlen % 4 == 0, "pktbuild: IPv4 options must be padded to 4 bytes");
        size_t hl = 20 + ip->optlen;
        size_t total = hl + l4len;
        need(total, cap);
        int ver = ip->version ? ip->version : 4;
        int ihl = ip->ihl ? ip->ihl : (int)(hl / 4);
        out[0] = (uint8_t)((ver << 4) | (ihl & 0x0f));
        out[1] = ip->tos;
        be16(out + 2, (uint16_t)((int)total + ip->len_adjust));
        be16(out + 4, ip->id);
        be16(out + 6, ip->frag);
        out[8] = ttl;
        out[9] = ip->proto;
        out[10] = out[11] = 0;
        memcpy(out + 12, s.b, 4);
        memcpy(out + 16, d.b, 4);
        if (ip->optlen) {
            memcpy(out + 20, ip->opts, ip->optlen);
        }
        be16(out + 10, ip_checksum(out, hl));
        if (l4len) {
            memcpy(out + hl, l4, l4len);
        }
        return total;
    }
    size_t total = 40 + ip->optlen + l4len;
    need(total, cap);
    int ver = ip->version ? ip->version : 6;
    uint32_t vtcfl = (uint32_t)ver << 28 | (uint32_t)ip->tos << 20 | 0x12345u;
    be32(out, vtcfl);
    be16(out + 4, (uint16_t)((int)(ip->optlen + l4len) + ip->len_adjust));
    out[6] = ip->optlen ? ip->ext_nh : ip->proto;
    out[7] = ttl;
    memcpy(out + 8, s.b, 16);
    memcpy(out + 24, d.b, 16);
    if (ip->optlen) {
        memcpy(out + 40, ip->opts, ip->optlen);
    }
    if (l4len) {
        memcpy(out + 40 + ip->optlen, l4, l4len);
    }
    return total;
}

size_t pb_v6ext(uint8_t *out, size_t cap, uint8_t nh, size_t len)
{
    cr_assert(len >= 8 && len % 8 == 0 && len <= 2048, "pktbuild: bad extension length");
    need(len, cap);
    memset(out, 0, len);
    out[0] = nh;
    out[1] = (uint8_t)(len / 8 - 1); /* RFC 8200: 8-octet units, not counting the first 8 */
    out[2] = 1;                       /* PadN option covering the rest */
    out[3] = (uint8_t)(len - 4);
    return len;
}

size_t pb_v6frag(uint8_t *out, size_t cap, uint8_t nh, uint16_t offset8, bool more, uint32_t ident)
{
    need(8, cap);
    out[0] = nh;
    out[1] = 0;
    be16(out + 2, (uint16_t)((offset8 << 3) | (more ? 1 : 0)));
    be32(out + 4, ident);
    return 8;
}

size_t pb_v6ah(uint8_t *out, size_t cap, uint8_t nh, size_t len)
{
    cr_assert(len >= 12 && len % 4 == 0, "pktbuild: bad AH length");
    need(len, cap);
    memset(out, 0, len);
    out[0] = nh;
    out[1] = (uint8_t)(len / 4 - 2); /* RFC 4302 §2.2: 32-bit words minus 2 */
    be32(out + 4, 0x1000);             /* SPI */
    be32(out + 8, 1);                  /* sequence number */
    return len;
}

/* ---- ICMP ---- */

size_t pb_icmp(uint8_t *out, size_t cap, uint8_t type, uint8_t code, uint32_t rest,
               const uint8_t *quote, size_t qlen)
{
    need(8 + qlen, cap);
    out[0] = type;
    out[1] = code;
    out[2] = out[3] = 0;
    be32(out + 4, rest);
    if (qlen) {
        memcpy(out + 8, quote, qlen);
    }
    return 8 + qlen;
}

/* ---- link layers ---- */

size_t pb_eth(uint8_t *out, size_t cap, const uint16_t *tag_tpids, int ntags, uint16_t ethertype,
              const uint8_t *pl, size_t n)
{
    size_t hl = 14 + (size_t)ntags * 4;
    need(hl + n, cap);
    static const uint8_t dmac[6] = {0x02, 0, 0, 0, 0, 0x01}, smac[6] = {0x02, 0, 0, 0, 0, 0x02};
    memcpy(out, dmac, 6);
    memcpy(out + 6, smac, 6);
    size_t o = 12;
    for (int i = 0; i < ntags; i++) {
        be16(out + o, tag_tpids[i]);
        be16(out + o + 2, (uint16_t)(100 + i)); /* TCI: VLAN id */
        o += 4;
    }
    be16(out + o, ethertype);
    o += 2;
    if (n) {
        memcpy(out + o, pl, n);
    }
    return o + n;
}

size_t pb_sll(uint8_t *out, size_t cap, uint16_t pkttype, uint16_t hatype, uint16_t proto,
              const uint8_t *pl, size_t n)
{
    need(16 + n, cap);
    be16(out, pkttype);
    be16(out + 2, hatype);
    be16(out + 4, 6); /* link-layer address length */
    static const uint8_t mac[8] = {0x02, 0, 0, 0, 0, 0x03, 0, 0};
    memcpy(out + 6, mac, 8);
    be16(out + 14, proto);
    if (n) {
        memcpy(out + 16, pl, n);
    }
    return 16 + n;
}

size_t pb_sll2(uint8_t *out, size_t cap, uint16_t proto, uint16_t hatype, uint8_t pkttype,
               const uint8_t *pl, size_t n)
{
    need(20 + n, cap);
    be16(out, proto);
    be16(out + 2, 0);     /* reserved */
    be32(out + 4, 2);     /* interface index */
    be16(out + 8, hatype);
    out[10] = pkttype;
    out[11] = 6;          /* address length */
    static const uint8_t mac[8] = {0x02, 0, 0, 0, 0, 0x04, 0, 0};
    memcpy(out + 12, mac, 8);
    if (n) {
        memcpy(out + 20, pl, n);
    }
    return 20 + n;
}

size_t pb_null(uint8_t *out, size_t cap, uint32_t af, bool big, const uint8_t *pl, size_t n)
{
    need(4 + n, cap);
    if (big) {
        be32(out, af);
    } else {
        le32(out, af);
    }
    if (n) {
        memcpy(out + 4, pl, n);
    }
    return 4 + n;
}

size_t pb_nflog_hdr(uint8_t *out, size_t cap, uint8_t family, uint8_t version)
{
    need(4, cap);
    out[0] = family;
    out[1] = version;
    be16(out + 2, 7); /* resource id (group), network order */
    return 4;
}

size_t pb_nflog_tlv(uint8_t *out, size_t cap, uint16_t type, const void *val, size_t n,
                    int tlen_override)
{
    size_t padded = (4 + n + 3) & ~(size_t)3;
    need(padded, cap);
    memset(out, 0, padded);
    le16(out, (uint16_t)(tlen_override > 0 ? (size_t)tlen_override : 4 + n));
    le16(out + 2, type);
    if (n) {
        memcpy(out + 4, val, n);
    }
    return padded;
}

/* ---- shortcuts ---- */

const uint8_t pb_linux_syn_opts[20] = {
    2, 4, 0x05, 0xb4,                 /* MSS 1460 */
    4, 2,                             /* SACK permitted */
    8, 10, 0, 0, 0x30, 0x39, 0, 0, 0, 0, /* timestamps: TSval 12345, TSecr 0 */
    1,                                /* NOP */
    3, 3, 7,                          /* window scale 7 */
};

size_t pb_seg(uint8_t *out, size_t cap, const char *src, uint16_t sport, const char *dst,
              uint16_t dport, uint8_t flags, uint32_t seq, uint32_t ack, const void *payload,
              size_t plen, uint8_t ttl)
{
    uint8_t l4[PB_MAX];
    struct pb_tcp t = {.sport = sport, .dport = dport, .seq = seq, .ack = ack, .flags = flags,
                       .win = 64240, .payload = payload, .plen = plen};
    size_t n = pb_tcp(l4, sizeof(l4), &t);
    struct pb_ip ip = {.family = strchr(src, ':') ? PM_AF_INET6 : PM_AF_INET, .src = src,
                       .dst = dst, .proto = 6, .ttl = ttl, .frag = PB_DF, .id = 0x1234};
    return pb_ip(out, cap, &ip, l4, n);
}

void pb_decode(struct pm_pkt *p, int linktype, const uint8_t *b, size_t caplen, size_t wirelen,
               pm_ns ts, uint32_t frame, uint16_t vantage)
{
    memset(p, 0, sizeof(*p));
    p->ts = ts;
    p->frame = frame;
    p->vantage = vantage;
    pm_decode(p, linktype, b, (uint32_t)caplen, (uint32_t)wirelen);
}

/* ---- temporary files ---- */

static char tmpdir_path[64];

const char *pb_tmpdir(void)
{
    if (!tmpdir_path[0]) {
        snprintf(tmpdir_path, sizeof(tmpdir_path), "/tmp/pm-unit-XXXXXX");
        cr_assert(mkdtemp(tmpdir_path) != NULL, "pktbuild: mkdtemp failed");
    }
    return tmpdir_path;
}

void pb_tmppath(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s", pb_tmpdir(), name);
}

void pb_tmpclean(void)
{
    if (!tmpdir_path[0]) {
        return;
    }
    DIR *d = opendir(tmpdir_path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                char p[512];
                snprintf(p, sizeof(p), "%s/%s", tmpdir_path, e->d_name);
                unlink(p);
            }
        }
        closedir(d);
    }
    rmdir(tmpdir_path);
    tmpdir_path[0] = '\0';
}

static void put32(uint8_t *p, uint32_t v, bool big)
{
    if (big) {
        be32(p, v);
    } else {
        le32(p, v);
    }
}

static void put16(uint8_t *p, uint16_t v, bool big)
{
    if (big) {
        be16(p, v);
    } else {
        le16(p, v);
    }
}

void pb_write_pcap(const char *path, int linktype, bool nano, bool big_endian, uint32_t snaplen,
                   const struct pb_rec *recs, int n)
{
    FILE *f = fopen(path, "wb");
    cr_assert(f != NULL, "pktbuild: cannot write %s", path);
    uint8_t h[24];
    put32(h, nano ? 0xa1b23c4du : 0xa1b2c3d4u, big_endian);
    put16(h + 4, 2, big_endian);
    put16(h + 6, 4, big_endian);
    put32(h + 8, 0, big_endian);
    put32(h + 12, 0, big_endian);
    put32(h + 16, snaplen, big_endian);
    put32(h + 20, (uint32_t)linktype, big_endian);
    fwrite(h, 1, sizeof(h), f);
    for (int i = 0; i < n; i++) {
        const struct pb_rec *r = &recs[i];
        uint8_t rh[16];
        pm_ns sec = r->ts / PM_NS_PER_SEC, frac = r->ts % PM_NS_PER_SEC;
        put32(rh, (uint32_t)sec, big_endian);
        put32(rh + 4, (uint32_t)(nano ? frac : frac / 1000), big_endian);
        put32(rh + 8, r->caplen, big_endian);
        put32(rh + 12, r->wirelen ? r->wirelen : r->caplen, big_endian);
        fwrite(rh, 1, sizeof(rh), f);
        if (r->caplen && r->data) {
            fwrite(r->data, 1, r->caplen, f);
        }
    }
    cr_assert(fclose(f) == 0);
}

/* ---- pcapng ---- */

void pb_ng_bytes(struct pb_ng *g, const void *p, size_t n)
{
    if (g->n + n > g->cap) {
        size_t nc = g->cap ? g->cap * 2 : 4096;
        while (nc < g->n + n) {
            nc *= 2;
        }
        g->b = realloc(g->b, nc);
        cr_assert(g->b != NULL);
        g->cap = nc;
    }
    memcpy(g->b + g->n, p, n);
    g->n += n;
}

void pb_ng_u32(struct pb_ng *g, uint32_t v)
{
    uint8_t b[4];
    put32(b, v, g->big);
    pb_ng_bytes(g, b, 4);
}

static void ng_u16(struct pb_ng *g, uint16_t v)
{
    uint8_t b[2];
    put16(b, v, g->big);
    pb_ng_bytes(g, b, 2);
}

static void ng_pad(struct pb_ng *g, size_t n)
{
    static const uint8_t zero[4];
    pb_ng_bytes(g, zero, (4 - (n & 3)) & 3);
}

void pb_ng_block(struct pb_ng *g, uint32_t type, uint32_t lead_len, const void *body, size_t n,
                 uint32_t trail_len)
{
    pb_ng_u32(g, type);
    pb_ng_u32(g, lead_len);
    if (n) {
        pb_ng_bytes(g, body, n);
    }
    pb_ng_u32(g, trail_len);
}

void pb_ng_shb(struct pb_ng *g, bool big)
{
    g->big = big;
    pb_ng_u32(g, 0x0A0D0D0Au);
    pb_ng_u32(g, 28);
    pb_ng_u32(g, 0x1A2B3C4Du); /* byte-order magic in the section's order */
    ng_u16(g, 1);
    ng_u16(g, 0);
    pb_ng_u32(g, 0xffffffffu); /* section length: unknown (-1) */
    pb_ng_u32(g, 0xffffffffu);
    pb_ng_u32(g, 28);
}

static void ng_opt(struct pb_ng *g, uint16_t code, const void *v, uint16_t len)
{
    ng_u16(g, code);
    ng_u16(g, len);
    pb_ng_bytes(g, v, len);
    ng_pad(g, len);
}

void pb_ng_idb(struct pb_ng *g, uint16_t linktype, uint32_t snaplen, const char *name, int tsresol,
               bool has_tsoffset, int64_t tsoffset)
{
    size_t start = g->n;
    pb_ng_u32(g, 1);
    pb_ng_u32(g, 0); /* length, patched below */
    ng_u16(g, linktype);
    ng_u16(g, 0);
    pb_ng_u32(g, snaplen);
    bool opts = false;
    if (name) {
        ng_opt(g, 2, name, (uint16_t)strlen(name));
        opts = true;
    }
    if (tsresol >= 0) {
        uint8_t r = (uint8_t)tsresol;
        ng_opt(g, 9, &r, 1);
        opts = true;
    }
    if (has_tsoffset) {
        uint8_t v[8];
        uint64_t u = (uint64_t)tsoffset;
        if (g->big) {
            be32(v, (uint32_t)(u >> 32));
            be32(v + 4, (uint32_t)u);
        } else {
            le32(v, (uint32_t)u);
            le32(v + 4, (uint32_t)(u >> 32));
        }
        ng_opt(g, 14, v, 8);
        opts = true;
    }
    if (opts) {
        ng_u16(g, 0); /* opt_endofopt */
        ng_u16(g, 0);
    }
    uint32_t len = (uint32_t)(g->n - start + 4);
    pb_ng_u32(g, len);
    put32(g->b + start + 4, len, g->big);
}

void pb_ng_epb(struct pb_ng *g, uint32_t ifid, uint64_t ts_units, const uint8_t *d,
               uint32_t caplen, uint32_t wirelen)
{
    uint32_t len = 32 + ((caplen + 3) & ~3u);
    pb_ng_u32(g, 6);
    pb_ng_u32(g, len);
    pb_ng_u32(g, ifid);
    pb_ng_u32(g, (uint32_t)(ts_units >> 32));
    pb_ng_u32(g, (uint32_t)ts_units);
    pb_ng_u32(g, caplen);
    pb_ng_u32(g, wirelen);
    if (caplen) {
        pb_ng_bytes(g, d, caplen);
    }
    ng_pad(g, caplen);
    pb_ng_u32(g, len);
}

void pb_ng_pb(struct pb_ng *g, uint16_t ifid, uint64_t ts_units, const uint8_t *d, uint32_t caplen,
              uint32_t wirelen)
{
    uint32_t len = 32 + ((caplen + 3) & ~3u);
    pb_ng_u32(g, 2);
    pb_ng_u32(g, len);
    ng_u16(g, ifid);
    ng_u16(g, 0); /* drops count */
    pb_ng_u32(g, (uint32_t)(ts_units >> 32));
    pb_ng_u32(g, (uint32_t)ts_units);
    pb_ng_u32(g, caplen);
    pb_ng_u32(g, wirelen);
    if (caplen) {
        pb_ng_bytes(g, d, caplen);
    }
    ng_pad(g, caplen);
    pb_ng_u32(g, len);
}

void pb_ng_spb(struct pb_ng *g, uint32_t wirelen, const uint8_t *d, uint32_t n)
{
    uint32_t len = 16 + ((n + 3) & ~3u);
    pb_ng_u32(g, 3);
    pb_ng_u32(g, len);
    pb_ng_u32(g, wirelen);
    if (n) {
        pb_ng_bytes(g, d, n);
    }
    ng_pad(g, n);
    pb_ng_u32(g, len);
}

void pb_ng_save(struct pb_ng *g, const char *path)
{
    FILE *f = fopen(path, "wb");
    cr_assert(f != NULL, "pktbuild: cannot write %s", path);
    if (g->n) {
        cr_assert(fwrite(g->b, 1, g->n, f) == g->n);
    }
    cr_assert(fclose(f) == 0);
}

void pb_ng_free(struct pb_ng *g)
{
    free(g->b);
    memset(g, 0, sizeof(*g));
}
