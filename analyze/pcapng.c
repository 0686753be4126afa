/*
 * pcapng.c — owns the pcapng block reader (include/pcapng.h). Why our own: libpcap 1.10
 * stops at the first interface whose link type differs from the first one ("an interface
 * has a type N different from the type of the first interface") and never tells which
 * interface a packet came from; both matter here (inside and outside of a NAT, loopback).
 *
 * Block layout (draft-ietf-opsawg-pcapng §3.1): type(4) total_length(4) body
 * total_length(4); total_length is a multiple of 4 and includes the 12 framing bytes.
 * All block bytes are read into one buffer and parsed through the pm_cur reader.
 */
#include "pcapng.h"

#include <errno.h>

#include "pkt.h"
#include "util.h"

#define NG_SHB 0x0A0D0D0Au
#define NG_IDB 1u
#define NG_PB 2u   /* obsolete Packet Block */
#define NG_SPB 3u
#define NG_EPB 6u
#define NG_BOM 0x1A2B3C4Du

struct ng_iface {
    int linktype;
    uint32_t snaplen;
    uint8_t tsresol;     /* if_tsresol raw value (default 6: microseconds) */
    int64_t tsoffset;    /* if_tsoffset seconds */
    uint8_t loop;        /* if_name says loopback */
};

struct pm_pcapng {
    FILE *f;
    uint64_t off;
    int swap;            /* section byte order differs from little-endian reading */
    uint8_t *buf;
    size_t bufcap;
    struct ng_iface *ifs;
    uint32_t nifs;
    int first_linktype;
};

static uint32_t rd32(const uint8_t *p, int big)
{
    return big ? ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3])
               : ((uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0]);
}

/* Section byte order readers over a cursor. */
static uint16_t g16(pm_cur *c, int big) { return big ? pm_be16(c) : pm_le16(c); }
static uint32_t g32(pm_cur *c, int big) { return big ? pm_be32(c) : pm_le32(c); }

/* Read one whole block into ng->buf. Returns 0 ok, 1 clean EOF, -1 damage. */
static int read_block(struct pm_pcapng *ng, uint32_t *type, uint32_t *len, char *err,
                      size_t errlen)
{
    uint8_t hdr[8];
    size_t got = fread(hdr, 1, 8, ng->f);
    if (got == 0 && feof(ng->f)) {
        return 1;
    }
    if (got < 8) {
        snprintf(err, errlen, "file ends inside a block header at byte %llu",
                 (unsigned long long)ng->off);
        return -1;
    }
    uint32_t t = rd32(hdr, ng->swap);
    uint8_t bom[4];
    size_t have = 8; /* block bytes already read */
    if (t == NG_SHB) {
        /* A new section may switch byte order: read its byte-order magic first. Read on,
         * never seek back: the capture may be a pipe or a decompressed stream. */
        if (fread(bom, 1, 4, ng->f) != 4) {
            snprintf(err, errlen, "file ends inside a section header at byte %llu",
                     (unsigned long long)ng->off);
            return -1;
        }
        if (rd32(bom, 0) == NG_BOM) {
            ng->swap = 0;
        } else if (rd32(bom, 1) == NG_BOM) {
            ng->swap = 1;
        } else {
            snprintf(err, errlen, "section header at byte %llu has no byte-order magic",
                     (unsigned long long)ng->off);
            return -1;
        }
        have = 12;
    }
    uint32_t l = rd32(hdr + 4, ng->swap);
    if (l < 12 || (l & 3) != 0 || l > PM_PCAPNG_MAX_BLOCK || l < have) {
        snprintf(err, errlen, "block at byte %llu has an impossible length %u",
                 (unsigned long long)ng->off, l);
        return -1;
    }
    if (l > ng->bufcap) {
        ng->buf = pm_xreallocarray(ng->buf, l, 1);
        ng->bufcap = l;
    }
    memcpy(ng->buf, hdr, 8);
    if (have == 12) {
        memcpy(ng->buf + 8, bom, 4);
    }
    if (fread(ng->buf + have, 1, l - have, ng->f) != l - have) {
        snprintf(err, errlen, "file ends inside a %u-byte block at byte %llu", l,
                 (unsigned long long)ng->off);
        return -1;
    }
    if (rd32(ng->buf + l - 4, ng->swap) != l) {
        snprintf(err, errlen, "block at byte %llu: trailing length differs from leading "
                 "length %u", (unsigned long long)ng->off, l);
        return -1;
    }
    ng->off += l;
    *type = t;
    *len = l;
    return 0;
}

/* Section Header Block: byte-order magic, version 1.x, section length; options ignored.
 * A new section forgets the previous section's interfaces. */
static int parse_shb(struct pm_pcapng *ng, uint32_t len, char *err, size_t errlen)
{
    pm_cur c = pm_cur_init(ng->buf + 8, len - 12, len - 12);
    int big = ng->swap;
    uint32_t bom = g32(&c, big);
    uint16_t major = g16(&c, big);
    if (!pm_cur_ok(&c) || bom != NG_BOM) {
        snprintf(err, errlen, "bad section header block");
        return -1;
    }
    if (major != 1) {
        snprintf(err, errlen, "unsupported pcapng major version %u", major);
        return -1;
    }
    ng->nifs = 0;
    return 0;
}

static int parse_idb(struct pm_pcapng *ng, uint32_t len, char *err, size_t errlen)
{
    pm_cur c = pm_cur_init(ng->buf + 8, len - 12, len - 12);
    int big = ng->swap;
    struct ng_iface ifc = {.tsresol = 6};
    ifc.linktype = g16(&c, big);
    pm_skip(&c, 2);
    ifc.snaplen = g32(&c, big);
    if (!pm_cur_ok(&c)) {
        snprintf(err, errlen, "interface description block too short");
        return -1;
    }
    /* Options: code(2) length(2) value padded to 4 (§3.5). */
    while (pm_cur_left_wire(&c) >= 4) {
        uint16_t code = g16(&c, big);
        uint16_t olen = g16(&c, big);
        if (code == 0) {
            break;
        }
        size_t padded = ((size_t)olen + 3) & ~(size_t)3;
        if (padded > pm_cur_left_wire(&c)) {
            break; /* a lying option length: ignore the rest of the options */
        }
        pm_cur v = pm_sub(&c, padded);
        if (code == 2 && olen > 0) { /* if_name */
            char name[16];
            size_t n = PM_MIN((size_t)olen, sizeof(name) - 1);
            pm_bytes(&v, name, n);
            name[n] = '\0';
            ifc.loop = strcmp(name, "lo") == 0 || strcmp(name, "lo0") == 0;
        } else if (code == 9 && olen == 1) { /* if_tsresol */
            ifc.tsresol = pm_u8(&v);
        } else if (code == 14 && olen == 8) { /* if_tsoffset, seconds */
            uint32_t a = g32(&v, big), b = g32(&v, big);
            uint64_t u = big ? ((uint64_t)a << 32 | b) : ((uint64_t)b << 32 | a);
            ifc.tsoffset = (int64_t)u;
        }
    }
    if (ng->nifs >= PM_PCAPNG_MAX_IFACES) {
        snprintf(err, errlen, "more than %d interfaces in one section", PM_PCAPNG_MAX_IFACES);
        return -1;
    }
    if (ng->nifs % 16 == 0) {
        ng->ifs = pm_xreallocarray(ng->ifs, ng->nifs + 16, sizeof(*ng->ifs));
    }
    ng->ifs[ng->nifs++] = ifc;
    if (ng->first_linktype < 0) {
        ng->first_linktype = ifc.linktype;
    }
    return 0;
}

/* Timestamp units → ns. if_tsresol: high bit 0 → 10^-n s, 1 → 2^-n s (§4.2). */
static pm_ns ts_to_ns(uint64_t units, uint8_t resol, int64_t offset)
{
    pm_ns ns;
    uint8_t n = resol & 0x7f;
    if (resol & 0x80) {
        if (n > 63) {
            n = 63;
        }
        uint64_t secs = units >> n;
        uint64_t frac = units & ((1ull << n) - 1);
        if (secs > (uint64_t)INT64_MAX / PM_NS_PER_SEC - 1) {
            secs = (uint64_t)INT64_MAX / PM_NS_PER_SEC - 1; /* absurd: clamp, do not overflow */
        }
        ns = (pm_ns)secs * PM_NS_PER_SEC +
             (pm_ns)(((unsigned __int128)frac * 1000000000u) >> n);
    } else {
        uint64_t div = 1;
        for (uint8_t i = 0; i < n && i < 19; i++) {
            div *= 10;
        }
        uint64_t secs = units / div, frac = units % div;
        pm_ns fracns;
        if (n <= 9) {
            uint64_t mul = 1;
            for (uint8_t i = n; i < 9; i++) {
                mul *= 10;
            }
            fracns = (pm_ns)(frac * mul);
        } else {
            uint64_t d2 = 1;
            for (uint8_t i = 9; i < n && i < 19; i++) {
                d2 *= 10;
            }
            fracns = (pm_ns)(frac / d2);
        }
        if (secs > (uint64_t)INT64_MAX / PM_NS_PER_SEC - 1) {
            secs = (uint64_t)INT64_MAX / PM_NS_PER_SEC - 1; /* absurd: clamp, do not overflow */
        }
        ns = (pm_ns)secs * PM_NS_PER_SEC + fracns;
    }
    /* if_tsoffset is a signed 64-bit count of seconds from a hostile file: saturate. */
    const int64_t max_s = INT64_MAX / PM_NS_PER_SEC - 1;
    if (offset > max_s) {
        offset = max_s;
    } else if (offset < -max_s) {
        offset = -max_s;
    }
    pm_ns off = PM_SEC(offset);
    if ((off > 0 && ns > INT64_MAX - off) || (off < 0 && ns < INT64_MIN - off)) {
        ns = off > 0 ? INT64_MAX : INT64_MIN + 1;
    } else {
        ns += off;
    }
    /* Hostile files reach near INT64_MAX; the engine adds seconds to what it reads. */
    return ns > PM_NS_LIMIT ? PM_NS_LIMIT : ns < -PM_NS_LIMIT ? -PM_NS_LIMIT : ns;
}

struct pm_pcapng *pm_pcapng_open(FILE *f, char *err, size_t errlen)
{
    struct pm_pcapng *ng = pm_xcalloc(1, sizeof(*ng));
    ng->f = f;
    ng->first_linktype = -1;
    uint32_t type, len;
    int rc = read_block(ng, &type, &len, err, errlen);
    if (rc != 0 || type != NG_SHB || parse_shb(ng, len, err, errlen) != 0) {
        if (rc == 1) {
            snprintf(err, errlen, "empty file");
        }
        pm_pcapng_close(ng);
        return NULL;
    }
    return ng;
}

int pm_pcapng_next(struct pm_pcapng *ng, struct pm_ng_record *rec, char *err, size_t errlen)
{
    for (;;) {
        uint32_t type, len;
        int rc = read_block(ng, &type, &len, err, errlen);
        if (rc != 0) {
            return rc;
        }
        int big = ng->swap;
        pm_cur c = pm_cur_init(ng->buf + 8, len - 12, len - 12);
        uint32_t ifid = 0, caplen = 0, wirelen = 0;
        uint64_t units = 0;
        switch (type) {
        case NG_SHB:
            if (parse_shb(ng, len, err, errlen) != 0) {
                return -1;
            }
            continue;
        case NG_IDB:
            if (parse_idb(ng, len, err, errlen) != 0) {
                return -1;
            }
            continue;
        case NG_EPB: {
            ifid = g32(&c, big);
            uint32_t hi = g32(&c, big), lo = g32(&c, big);
            units = (uint64_t)hi << 32 | lo;
            caplen = g32(&c, big);
            wirelen = g32(&c, big);
            break;
        }
        case NG_PB: {
            ifid = g16(&c, big);
            pm_skip(&c, 2); /* drops count */
            uint32_t hi = g32(&c, big), lo = g32(&c, big);
            units = (uint64_t)hi << 32 | lo;
            caplen = g32(&c, big);
            wirelen = g32(&c, big);
            break;
        }
        case NG_SPB:
            wirelen = g32(&c, big);
            /* SPB: the captured length is what the block holds, capped by snaplen (§4.4). */
            caplen = (uint32_t)PM_MIN((size_t)wirelen, pm_cur_left_wire(&c));
            break;
        default:
            continue; /* name resolution, statistics, custom blocks: not needed */
        }
        if (!pm_cur_ok(&c)) {
            snprintf(err, errlen, "packet block at byte %llu too short for its header",
                     (unsigned long long)(ng->off - len));
            return -1;
        }
        if (ifid >= ng->nifs) {
            snprintf(err, errlen, "packet block at byte %llu names interface %u, but the "
                     "section has %u", (unsigned long long)(ng->off - len), ifid, ng->nifs);
            return -1;
        }
        struct ng_iface *ifc = &ng->ifs[ifid];
        if (type == NG_SPB && ifc->snaplen && caplen > ifc->snaplen) {
            caplen = ifc->snaplen;
        }
        if (caplen > pm_cur_left_wire(&c)) {
            snprintf(err, errlen, "packet block at byte %llu claims %u captured bytes but "
                     "holds %zu", (unsigned long long)(ng->off - len), caplen,
                     pm_cur_left_wire(&c));
            return -1;
        }
        rec->ts = type == NG_SPB ? 0 : ts_to_ns(units, ifc->tsresol, ifc->tsoffset);
        rec->caplen = caplen;
        rec->wirelen = wirelen < caplen ? caplen : wirelen;
        rec->linktype = ifc->linktype;
        rec->ifid = ifid;
        rec->ifloop = ifc->loop;
        rec->data = ng->buf + 8 + c.off;
        return 0;
    }
}

uint64_t pm_pcapng_offset(const struct pm_pcapng *ng) { return ng->off; }

int pm_pcapng_first_linktype(const struct pm_pcapng *ng) { return ng->first_linktype; }

void pm_pcapng_close(struct pm_pcapng *ng)
{
    if (!ng) {
        return;
    }
    if (ng->f) {
        fclose(ng->f);
    }
    free(ng->buf);
    free(ng->ifs);
    free(ng);
}
