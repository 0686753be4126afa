/*
 * gen_out.c — owns pmgen's capture files: classic pcap (microsecond or nanosecond magic,
 * little- or big-endian) and pcapng (Section Header, Interface Description, Enhanced and
 * Simple Packet Blocks, either byte order), and the link-layer framing of every packet:
 * Ethernet with 0..3 stacked 802.1ad/802.1Q tags, Linux cooked v1 and v2, raw IP
 * (LINKTYPE_RAW, LINKTYPE_IPV4/IPV6), BSD null and loop, NFLOG.
 *
 * Written by hand from the format documents (tcpdump.org link-layer header types;
 * draft-ietf-opsawg-pcapng) rather than through libpcap, so that pmgen can write what
 * libpcap cannot (several link types in one file, SPBs, if_tsoffset, binary if_tsresol)
 * and so that the fixtures are independent of the reader under test.
 *
 * All output goes through one large buffer: the benchmark mix must write >= 200 MB/s.
 */
#include "pmgen.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* LINKTYPE_* values (https://www.tcpdump.org/linktypes.html). */
enum {
    LT_NULL = 0,
    LT_ETHERNET = 1,
    LT_RAW = 101,
    LT_LOOP = 108,
    LT_SLL = 113,
    LT_IPV4 = 228,
    LT_IPV6 = 229,
    LT_NFLOG = 239,
    LT_SLL2 = 276,
};

#define ARPHRD_ETHER 1
#define ARPHRD_LOOPBACK 772
#define MAX_IDB 6
#define OUTBUF (4u << 20)

static const struct {
    const char *name;
    enum glink l;
} link_names[] = {
    {"ethernet", GL_ETH}, {"eth", GL_ETH},       {"vlan1", GL_VLAN1}, {"vlan2", GL_VLAN2},
    {"vlan3", GL_VLAN3},  {"sll", GL_SLL},       {"sll2", GL_SLL2},   {"raw", GL_RAW},
    {"ipv4", GL_IPV4},    {"ipv6", GL_IPV6},     {"null", GL_NULL},   {"loop", GL_LOOP},
    {"nflog", GL_NFLOG},  {"mixed", GL_MIXED},
};

int glink_parse(const char *s)
{
    for (size_t i = 0; i < sizeof(link_names) / sizeof(link_names[0]); i++) {
        if (!strcmp(s, link_names[i].name)) {
            return (int)link_names[i].l;
        }
    }
    return -1;
}

const char *glink_name(enum glink l)
{
    for (size_t i = 0; i < sizeof(link_names) / sizeof(link_names[0]); i++) {
        if (link_names[i].l == l && strcmp(link_names[i].name, "eth") != 0) {
            return link_names[i].name;
        }
    }
    return "?";
}

static const char *const fmt_names[] = {"pcap", "pcap-ns", "pcap-be", "pcap-ns-be", "pcapng",
                                        "pcapng-be"};

int gfmt_parse(const char *s)
{
    for (int i = 0; i < (int)(sizeof(fmt_names) / sizeof(fmt_names[0])); i++) {
        if (!strcmp(s, fmt_names[i])) {
            return i;
        }
    }
    return -1;
}

const char *gfmt_name(enum gfmt f) { return fmt_names[f]; }

static bool fmt_ng(enum gfmt f) { return f == GF_PCAPNG || f == GF_PCAPNG_BE; }

bool gw_loop_capable(enum glink l, enum gfmt f)
{
    /* pcapng names the loopback interface ("lo"); Linux cooked captures mark it with
     * ARPHRD_LOOPBACK; BSD null/loop is the loopback link type itself. Plain Ethernet, raw
     * IP and NFLOG records cannot say which interface they came from. */
    return fmt_ng(f) || l == GL_SLL || l == GL_SLL2 || l == GL_NULL || l == GL_LOOP ||
           l == GL_MIXED;
}

bool glink_family_ok(enum glink l, int fam)
{
    return !((l == GL_IPV4 && fam != 4) || (l == GL_IPV6 && fam != 6));
}

struct idb {
    enum glink link;
    const char *name;
    uint8_t tsresol;   /* if_tsresol; 6 = microseconds (the default, not written) */
    int64_t tsoffset;  /* if_tsoffset, seconds */
    bool loop;
};

struct gw {
    FILE *f;
    bool is_stdout;
    const char *path;
    uint8_t *buf;
    size_t blen;
    enum gfmt fmt;
    enum glink link;
    uint32_t snaplen;
    bool be;   /* file (section) byte order is big-endian */
    bool ng;
    uint64_t records, bytes, cut;
    /* pcapng */
    struct idb idb[MAX_IDB];
    int nidb;
    int loop_idb;       /* IDB for loopback packets, -1 none */
    int data_idb[4];    /* non-loopback IDBs, chosen round-robin in "mixed" */
    int ndata;
    uint32_t rr;
    uint8_t frame[GP_MAX + 128];
};

/* ---- buffered, endian-aware output ---- */

static void flush(struct gw *w)
{
    if (w->blen && fwrite(w->buf, 1, w->blen, w->f) != w->blen) {
        die("%s: write failed: %s", w->path, strerror(errno));
    }
    w->blen = 0;
}

static uint8_t *reserve(struct gw *w, size_t n)
{
    if (w->blen + n > OUTBUF) {
        flush(w);
    }
    if (n > OUTBUF) {
        die("internal: record larger than the output buffer");
    }
    uint8_t *p = w->buf + w->blen;
    w->blen += n;
    w->bytes += n;
    return p;
}

static void w16(uint8_t *p, uint16_t v, bool be)
{
    if (be) {
        p[0] = (uint8_t)(v >> 8);
        p[1] = (uint8_t)v;
    } else {
        p[0] = (uint8_t)v;
        p[1] = (uint8_t)(v >> 8);
    }
}

static void w32(uint8_t *p, uint32_t v, bool be)
{
    if (be) {
        w16(p, (uint16_t)(v >> 16), true);
        w16(p + 2, (uint16_t)v, true);
    } else {
        w16(p, (uint16_t)v, false);
        w16(p + 2, (uint16_t)(v >> 16), false);
    }
}

static void be16(uint8_t *p, uint16_t v) { w16(p, v, true); }
static void be32(uint8_t *p, uint32_t v) { w32(p, v, true); }

/* ---- link layers ---- */

static int linktype_of(enum glink l)
{
    switch (l) {
    case GL_ETH:
    case GL_VLAN1:
    case GL_VLAN2:
    case GL_VLAN3:
        return LT_ETHERNET;
    case GL_SLL: return LT_SLL;
    case GL_SLL2: return LT_SLL2;
    case GL_RAW: return LT_RAW;
    case GL_IPV4: return LT_IPV4;
    case GL_IPV6: return LT_IPV6;
    case GL_NULL: return LT_NULL;
    case GL_LOOP: return LT_LOOP;
    case GL_NFLOG: return LT_NFLOG;
    default: return LT_ETHERNET;
    }
}

static const uint8_t mac_host[6] = {0x02, 0x00, 0x5e, 0x10, 0x00, 0x0a};
static const uint8_t mac_gw[6] = {0x02, 0x00, 0x5e, 0x10, 0x00, 0x01};

/* Frame one IP datagram for link `l`. `be` is the writer's byte order (DLT_NULL carries the
 * address family in the byte order of the host that wrote the file, which the file's own
 * byte order reflects). Returns the frame length. */
static uint32_t frame(uint8_t *o, enum glink l, const uint8_t *ip, uint32_t len, int fam,
                      unsigned flags, bool be)
{
    bool out = flags & GW_OUT, loop = flags & GW_LOOP;
    uint16_t et = fam == 6 ? 0x86dd : 0x0800;
    uint32_t h = 0;
    switch (l) {
    case GL_ETH:
    case GL_VLAN1:
    case GL_VLAN2:
    case GL_VLAN3: {
        if (loop) {
            memset(o, 0, 12); /* Linux lo: all-zero MAC addresses */
        } else {
            memcpy(o, out ? mac_gw : mac_host, 6);
            memcpy(o + 6, out ? mac_host : mac_gw, 6);
        }
        h = 12;
        int tags = l == GL_VLAN1 ? 1 : l == GL_VLAN2 ? 2 : l == GL_VLAN3 ? 3 : 0;
        /* Outer tags are 802.1ad service tags, the innermost an 802.1Q customer tag. */
        static const uint16_t vid[3] = {100, 200, 300};
        for (int i = 0; i < tags; i++) {
            be16(o + h, i + 1 < tags ? 0x88a8 : 0x8100);
            be16(o + h + 2, vid[i]);
            h += 4;
        }
        be16(o + h, et);
        h += 2;
        break;
    }
    case GL_SLL:
        /* pkttype(2) hatype(2) halen(2) addr(8) protocol(2) */
        be16(o, out ? 4 : 0);
        be16(o + 2, loop ? ARPHRD_LOOPBACK : ARPHRD_ETHER);
        be16(o + 4, 6);
        memset(o + 6, 0, 8);
        if (!loop) {
            memcpy(o + 6, out ? mac_host : mac_gw, 6);
        }
        be16(o + 14, et);
        h = 16;
        break;
    case GL_SLL2:
        /* protocol(2) reserved(2) ifindex(4) hatype(2) pkttype(1) halen(1) addr(8) */
        be16(o, et);
        be16(o + 2, 0);
        be32(o + 4, loop ? 1 : 2);
        be16(o + 8, loop ? ARPHRD_LOOPBACK : ARPHRD_ETHER);
        o[10] = out ? 4 : 0;
        o[11] = 6;
        memset(o + 12, 0, 8);
        if (!loop) {
            memcpy(o + 12, out ? mac_host : mac_gw, 6);
        }
        h = 20;
        break;
    case GL_RAW:
    case GL_IPV4:
    case GL_IPV6:
        break;
    case GL_NULL:
        /* AF_INET 2; AF_INET6 30 (Darwin, the usual DLT_NULL writer), host byte order */
        w32(o, fam == 6 ? 30 : 2, be);
        h = 4;
        break;
    case GL_LOOP:
        /* network byte order; AF_INET6 24 (OpenBSD) */
        be32(o, fam == 6 ? 24 : 2);
        h = 4;
        break;
    case GL_NFLOG: {
        /* family, version 0, resource id (big-endian); TLVs length/type in host (little)
         * byte order, each padded to 4 bytes; the packet is NFULA_PAYLOAD (9). */
        o[0] = fam == 6 ? 10 : 2;
        o[1] = 0;
        be16(o + 2, 5);
        h = 4;
        /* NFULA_PACKET_HDR (1): hw_protocol, hook (1 LOCAL_IN, 3 LOCAL_OUT), pad */
        w16(o + h, 8, false);
        w16(o + h + 2, 1, false);
        be16(o + h + 4, et);
        o[h + 6] = out ? 3 : 1;
        o[h + 7] = 0;
        h += 8;
        /* NFULA_PREFIX (10): "pm-smtp" NUL-terminated, 12 bytes */
        w16(o + h, 12, false);
        w16(o + h + 2, 10, false);
        memcpy(o + h + 4, "pm-smtp", 8);
        h += 12;
        /* NFULA_PAYLOAD (9) */
        w16(o + h, (uint16_t)(4 + len), false);
        w16(o + h + 2, 9, false);
        h += 4;
        memcpy(o + h, ip, len);
        uint32_t pad = (4 - (len & 3)) & 3;
        memset(o + h + len, 0, pad);
        return h + len + pad;
    }
    case GL_MIXED:
    default:
        die("internal: frame() for mixed");
    }
    memcpy(o + h, ip, len);
    uint32_t n = h + len;
    if ((l == GL_ETH || l == GL_VLAN1 || l == GL_VLAN2 || l == GL_VLAN3) && !out && !loop &&
        n < 60) {
        /* A received Ethernet frame is at least 60 bytes (without FCS): short ones arrive
         * padded, and the IP total length must bound the datagram. A frame the host sends
         * is captured before the NIC pads it. */
        memset(o + n, 0, 60 - n);
        n = 60;
    }
    return n;
}

/* ---- pcapng blocks ---- */

static uint32_t opt_len(uint32_t vlen) { return 4 + ((vlen + 3) & ~3u); }

static uint8_t *put_opt(struct gw *w, uint8_t *p, uint16_t code, const void *v, uint16_t vlen)
{
    w16(p, code, w->be);
    w16(p + 2, vlen, w->be);
    memcpy(p + 4, v, vlen);
    uint32_t padded = (vlen + 3u) & ~3u;
    memset(p + 4 + vlen, 0, padded - vlen);
    return p + 4 + padded;
}

static void ng_shb(struct gw *w)
{
    static const char appl[] = "pmgen (portmortem tests/gen)";
    uint32_t olen = opt_len(sizeof(appl) - 1) + 4;
    uint32_t len = 28 + olen;
    uint8_t *p = reserve(w, len);
    w32(p, 0x0A0D0D0A, w->be);
    w32(p + 4, len, w->be);
    w32(p + 8, 0x1A2B3C4D, w->be);
    w16(p + 12, 1, w->be);
    w16(p + 14, 0, w->be);
    w32(p + 16, 0xffffffffu, w->be); /* section length unknown (-1) */
    w32(p + 20, 0xffffffffu, w->be);
    uint8_t *q = put_opt(w, p + 24, 4, appl, sizeof(appl) - 1); /* shb_userappl */
    w32(q, 0, w->be);                                          /* opt_endofopt */
    w32(q + 4, len, w->be);
}

static void ng_idb(struct gw *w, const struct idb *d)
{
    uint16_t nlen = (uint16_t)strlen(d->name);
    uint32_t olen = opt_len(nlen) + 4;
    if (d->tsresol != 6) {
        olen += opt_len(1);
    }
    if (d->tsoffset) {
        olen += opt_len(8);
    }
    uint32_t len = 20 + olen;
    uint8_t *p = reserve(w, len);
    w32(p, 1, w->be);
    w32(p + 4, len, w->be);
    w16(p + 8, (uint16_t)linktype_of(d->link), w->be);
    w16(p + 10, 0, w->be);
    w32(p + 12, w->snaplen, w->be);
    uint8_t *q = put_opt(w, p + 16, 2, d->name, nlen); /* if_name */
    if (d->tsresol != 6) {
        q = put_opt(w, q, 9, &d->tsresol, 1); /* if_tsresol */
    }
    if (d->tsoffset) {
        uint8_t v[8];
        uint64_t u = (uint64_t)d->tsoffset;
        if (w->be) {
            w32(v, (uint32_t)(u >> 32), true);
            w32(v + 4, (uint32_t)u, true);
        } else {
            w32(v, (uint32_t)u, false);
            w32(v + 4, (uint32_t)(u >> 32), false);
        }
        q = put_opt(w, q, 14, v, 8); /* if_tsoffset */
    }
    w32(q, 0, w->be);
    w32(q + 4, len, w->be);
}

/* Nanoseconds → units of an interface's if_tsresol (§4.2: high bit clear = 10^-n s, set =
 * 2^-n s), relative to its if_tsoffset. Truncation, never rounding: deterministic. */
static uint64_t ng_units(const struct idb *d, int64_t ts)
{
    int64_t rel = ts - d->tsoffset * NS_PER_SEC;
    if (rel < 0) {
        die("internal: timestamp before the interface's if_tsoffset");
    }
    uint8_t n = d->tsresol & 0x7f;
    if (d->tsresol & 0x80) {
        unsigned __int128 x = (unsigned __int128)(uint64_t)rel << n;
        return (uint64_t)(x / (unsigned __int128)NS_PER_SEC);
    }
    uint64_t u = (uint64_t)rel;
    if (n >= 9) {
        for (uint8_t i = 9; i < n; i++) {
            u *= 10;
        }
        return u;
    }
    for (uint8_t i = n; i < 9; i++) {
        u /= 10;
    }
    return u;
}

static void ng_epb(struct gw *w, int ifid, int64_t ts, const uint8_t *data, uint32_t caplen,
                   uint32_t wirelen, bool out)
{
    uint32_t padded = (caplen + 3) & ~3u;
    uint32_t len = 32 + padded + opt_len(4) + 4;
    uint8_t *p = reserve(w, len);
    uint64_t u = ng_units(&w->idb[ifid], ts);
    w32(p, 6, w->be);
    w32(p + 4, len, w->be);
    w32(p + 8, (uint32_t)ifid, w->be);
    w32(p + 12, (uint32_t)(u >> 32), w->be);
    w32(p + 16, (uint32_t)u, w->be);
    w32(p + 20, caplen, w->be);
    w32(p + 24, wirelen, w->be);
    memcpy(p + 28, data, caplen);
    memset(p + 28 + caplen, 0, padded - caplen);
    uint8_t fl[4];
    w32(fl, out ? 2u : 1u, w->be); /* epb_flags: direction outbound (2) / inbound (1) */
    uint8_t *q = put_opt(w, p + 28 + padded, 2, fl, 4);
    w32(q, 0, w->be);
    w32(q + 4, len, w->be);
}

static void ng_spb(struct gw *w, const uint8_t *data, uint32_t caplen, uint32_t wirelen)
{
    /* A Simple Packet Block has no timestamp and no interface id (always interface 0);
     * it holds min(original length, snaplen) bytes (§4.4). */
    uint32_t padded = (caplen + 3) & ~3u;
    uint32_t len = 16 + padded;
    uint8_t *p = reserve(w, len);
    w32(p, 3, w->be);
    w32(p + 4, len, w->be);
    w32(p + 8, wirelen, w->be);
    memcpy(p + 12, data, caplen);
    memset(p + 12 + caplen, 0, padded - caplen);
    w32(p + 12 + padded, len, w->be);
}

/* ---- open / write / close ---- */

struct gw *gw_open(const char *path, enum gfmt fmt, enum glink link, uint32_t snaplen)
{
    struct gw *w = calloc(1, sizeof(*w));
    if (!w) {
        die("out of memory");
    }
    w->buf = malloc(OUTBUF);
    if (!w->buf) {
        die("out of memory");
    }
    w->path = path;
    w->fmt = fmt;
    w->link = link;
    w->snaplen = snaplen ? snaplen : 262144;
    w->be = fmt == GF_PCAP_BE || fmt == GF_PCAP_NS_BE || fmt == GF_PCAPNG_BE;
    w->ng = fmt_ng(fmt);
    w->loop_idb = -1;
    if (link == GL_MIXED && !w->ng) {
        die("--linktype mixed needs --format pcapng or pcapng-be");
    }
    if (!strcmp(path, "-")) {
        w->f = stdout;
        w->is_stdout = true;
    } else {
        w->f = fopen(path, "wb");
    }
    if (!w->f) {
        die("cannot create %s: %s", path, strerror(errno));
    }
    if (!w->ng) {
        uint8_t *p = reserve(w, 24);
        bool ns = fmt == GF_PCAP_NS || fmt == GF_PCAP_NS_BE;
        w32(p, ns ? 0xa1b23c4du : 0xa1b2c3d4u, w->be);
        w16(p + 4, 2, w->be);
        w16(p + 6, 4, w->be);
        w32(p + 8, 0, w->be);  /* thiszone */
        w32(p + 12, 0, w->be); /* sigfigs */
        w32(p + 16, w->snaplen, w->be);
        w32(p + 20, (uint32_t)linktype_of(link), w->be);
        return w;
    }
    ng_shb(w);
    if (link == GL_MIXED) {
        /* Several capture interfaces of one host, as dumpcap -i eth0 -i any -i tun0 -i nflog
         * -i lo writes them: different link types, timestamp resolutions and offsets. */
        w->idb[0] = (struct idb){GL_ETH, "eth0", 6, 0, false};
        w->idb[1] = (struct idb){GL_SLL2, "any", 9, 0, false};
        w->idb[2] = (struct idb){GL_RAW, "tun0", 0x94, PMGEN_EPOCH, false}; /* 2^-20 s */
        w->idb[3] = (struct idb){GL_NFLOG, "nflog:5", 7, 0, false};         /* 100 ns */
        w->idb[4] = (struct idb){GL_ETH, "lo", 6, 0, true};
        w->nidb = 5;
        w->ndata = 4;
        for (int i = 0; i < 4; i++) {
            w->data_idb[i] = i;
        }
        w->loop_idb = 4;
    } else {
        const char *name = link == GL_SLL || link == GL_SLL2 ? "any"
                           : link == GL_NFLOG                ? "nflog:5"
                           : link == GL_NULL || link == GL_LOOP ? "lo0"
                                                                : "eth0";
        w->idb[0] = (struct idb){link, name, 6, 0, link == GL_NULL || link == GL_LOOP};
        w->nidb = 1;
        w->ndata = 1;
        w->data_idb[0] = 0;
        if (link == GL_SLL || link == GL_SLL2 || link == GL_NULL || link == GL_LOOP) {
            w->loop_idb = 0; /* the "any" device marks loopback itself */
        } else {
            w->idb[1] = (struct idb){GL_ETH, "lo", 6, 0, true};
            w->nidb = 2;
            w->loop_idb = 1;
        }
    }
    for (int i = 0; i < w->nidb; i++) {
        ng_idb(w, &w->idb[i]);
    }
    return w;
}

static void emit(struct gw *w, int ifid, enum glink l, int64_t ts, const uint8_t *ip,
                 uint32_t len, int fam, unsigned flags)
{
    uint32_t n = frame(w->frame, l, ip, len, fam, flags, w->be);
    uint32_t cap = n < w->snaplen ? n : w->snaplen;
    w->records++;
    w->cut += cap < n;
    if (!w->ng) {
        uint8_t *p = reserve(w, 16 + cap);
        bool ns = w->fmt == GF_PCAP_NS || w->fmt == GF_PCAP_NS_BE;
        w32(p, (uint32_t)(ts / NS_PER_SEC), w->be);
        w32(p + 4, (uint32_t)(ns ? ts % NS_PER_SEC : ts % NS_PER_SEC / 1000), w->be);
        w32(p + 8, cap, w->be);
        w32(p + 12, n, w->be);
        memcpy(p + 16, w->frame, cap);
        return;
    }
    if (ifid == 0 && (flags & GW_BG) && w->link == GL_MIXED) {
        ng_spb(w, w->frame, cap, n);
        return;
    }
    ng_epb(w, ifid, ts, w->frame, cap, n, flags & GW_OUT);
}

void gw_packet(struct gw *w, int64_t ts, const uint8_t *ip, uint32_t len, int fam,
               unsigned flags)
{
    if (!glink_family_ok(w->link, fam)) {
        die("link type %s cannot carry IPv%d", glink_name(w->link), fam);
    }
    if (flags & GW_LOOP) {
        if (!gw_loop_capable(w->link, w->fmt)) {
            die("this scenario needs a loopback-capable output (pcapng, sll, sll2, null, loop)");
        }
        int ifid = w->ng ? w->loop_idb : 0;
        enum glink l = w->ng ? w->idb[ifid].link : w->link;
        if (l == GL_SLL || l == GL_SLL2) {
            /* tcpdump -i any sees a loopback packet twice: leaving lo, then entering it. */
            emit(w, ifid, l, ts, ip, len, fam, flags | GW_OUT);
            emit(w, ifid, l, ts, ip, len, fam, flags & ~(unsigned)GW_OUT);
        } else {
            emit(w, ifid, l, ts, ip, len, fam, flags);
        }
        return;
    }
    int ifid = 0;
    if (w->ng) {
        ifid = w->data_idb[w->rr++ % (uint32_t)w->ndata];
        if (flags & GW_BG) {
            ifid = w->link == GL_MIXED ? 0 : ifid;
        }
        if (!glink_family_ok(w->idb[ifid].link, fam)) {
            ifid = 0;
        }
    }
    emit(w, ifid, w->ng ? w->idb[ifid].link : w->link, ts, ip, len, fam, flags);
}

uint64_t gw_records(const struct gw *w) { return w->records; }
uint64_t gw_bytes(const struct gw *w) { return w->bytes; }
uint64_t gw_cut_records(const struct gw *w) { return w->cut; }

void gw_close(struct gw *w)
{
    flush(w);
    if (w->is_stdout) {
        if (fflush(w->f) != 0) {
            die("%s: write failed: %s", w->path, strerror(errno));
        }
    } else if (fclose(w->f) != 0) {
        die("%s: write failed: %s", w->path, strerror(errno));
    }
    free(w->buf);
    free(w);
}
