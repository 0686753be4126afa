/*
 * inject.c — owns every packet portmortem crafts itself: the test SYNs of `probe --inject`
 * and `--ttl-walk` (capture/probe_int.h). Nothing else in the tree calls libnet.
 *
 * Decisions embodied here:
 *  - Build once, patch per probe (practice 10, masscan templ-pkt.c): one libnet context per
 *    family, its option/TCP/IP blocks created by the first probe and then modified in place
 *    through their ptags; per probe only ports, ISN, TTL, IP ID, timestamp and checksum
 *    change.
 *  - The SYN looks like the kernel's own (window 64240; MSS, SACK-permitted, timestamps,
 *    NOP, window scale 7, in Linux's order; DF): middleboxes that treat "odd" SYNs
 *    differently (scrubbers, SYN proxies) must treat ours like the MTA's.
 *  - The ISN is keyed (SipHash-2-4 under a per-run random key, layout in probe_int.h), so a
 *    SYN-ACK, a RST or an ICMP quote is matched to its probe without state, and a reply that
 *    does not carry our MAC is rejected instead of believed.
 *  - The policy is enforced here, not only by the caller: a SYN goes only to an address on
 *    the allowlist (what TARGET resolved to), never past the hard cap, never faster than the
 *    token bucket. Broadcast, multicast, unspecified and (without --allow-loopback) loopback
 *    or this host's own addresses are refused before they can reach the allowlist; libnet
 *    1.1.6 sets SO_BROADCAST on its raw socket, so the kernel would not stop a broadcast.
 *  - The TCP checksum is computed here over the pseudo-header (RFC 9293 §3.1, RFC 8200
 *    §8.1) instead of trusting libnet 1.1.6's IPv6 path; the kernel fills the IPv4 header
 *    checksum for raw IPv4 sockets.
 */
#include "probe_int.h"

#include <errno.h>
#include <ifaddrs.h>
#include <libnet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/random.h>

#include "util.h"

/* ---- SipHash-2-4 (reference algorithm, https://131002.net/siphash/) ---- */

#define ROTL64(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                              \
    do {                                                                                      \
        v0 += v1;                                                                             \
        v1 = ROTL64(v1, 13);                                                                  \
        v1 ^= v0;                                                                             \
        v0 = ROTL64(v0, 32);                                                                  \
        v2 += v3;                                                                             \
        v3 = ROTL64(v3, 16);                                                                  \
        v3 ^= v2;                                                                             \
        v0 += v3;                                                                             \
        v3 = ROTL64(v3, 21);                                                                  \
        v3 ^= v0;                                                                             \
        v2 += v1;                                                                             \
        v1 = ROTL64(v1, 17);                                                                  \
        v1 ^= v2;                                                                             \
        v2 = ROTL64(v2, 32);                                                                  \
    } while (0)

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}

uint64_t pm_siphash24(const struct pm_cookie_key *k, const uint8_t *m, size_t n)
{
    uint64_t v0 = 0x736f6d6570736575ULL ^ k->k0;
    uint64_t v1 = 0x646f72616e646f6dULL ^ k->k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ k->k0;
    uint64_t v3 = 0x7465646279746573ULL ^ k->k1;
    size_t full = n & ~(size_t)7;
    for (size_t i = 0; i < full; i += 8) {
        uint64_t mi = le64(m + i);
        v3 ^= mi;
        SIPROUND;
        SIPROUND;
        v0 ^= mi;
    }
    uint64_t b = (uint64_t)n << 56;
    for (size_t i = 0; i < (n & 7); i++) {
        b |= (uint64_t)m[full + i] << (8 * i);
    }
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

void pm_cookie_key_random(struct pm_cookie_key *k)
{
    uint64_t b[2];
    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
        /* getrandom() blocks until the pool is initialised and only fails on an old or
         * seccomp-restricted kernel: a clock-derived key still keeps runs apart. */
        PM_WARN_ONCE("getrandom() failed (%s): the probe's ISN key is derived from the clock",
                     strerror(errno));
        b[0] = (uint64_t)pm_now_realtime() * 0x9e3779b97f4a7c15ULL;
        b[1] = (uint64_t)pm_now_monotonic() ^ ((uint64_t)getpid() << 40);
    }
    k->k0 = b[0];
    k->k1 = b[1];
}

/* ---- the keyed ISN ---- */

#define ISN_MAC_MASK 0xfffff000u

static uint32_t cookie_mac(const struct pm_cookie_key *k, const struct pm_tuple *t, uint8_t ttl,
                           uint8_t attempt, uint8_t kind)
{
    uint8_t m[40];
    memset(m, 0, sizeof(m));
    m[0] = t->src.family;
    memcpy(m + 1, t->src.b, 16);
    memcpy(m + 17, t->dst.b, 16);
    m[33] = (uint8_t)(t->sport >> 8);
    m[34] = (uint8_t)t->sport;
    m[35] = (uint8_t)(t->dport >> 8);
    m[36] = (uint8_t)t->dport;
    m[37] = ttl;
    m[38] = attempt;
    m[39] = kind;
    uint64_t h = pm_siphash24(k, m, sizeof(m));
    return (uint32_t)(h ^ (h >> 32));
}

uint32_t pm_cookie_isn(const struct pm_cookie_key *k, const struct pm_tuple *t, uint8_t ttl,
                       uint8_t attempt, uint8_t kind)
{
    uint32_t mac = cookie_mac(k, t, ttl, attempt & 7u, kind & 1u);
    return (mac & ISN_MAC_MASK) | ((uint32_t)(kind & 1u) << 11) | ((uint32_t)(attempt & 7u) << 8) |
           ttl;
}

bool pm_cookie_check(const struct pm_cookie_key *k, const struct pm_tuple *t, uint32_t isn,
                     uint8_t *ttl, uint8_t *attempt, uint8_t *kind)
{
    uint8_t tt = (uint8_t)(isn & 0xffu);
    uint8_t at = (uint8_t)((isn >> 8) & 7u);
    uint8_t kd = (uint8_t)((isn >> 11) & 1u);
    if (tt == 0) {
        return false; /* we never send TTL 0 */
    }
    if ((cookie_mac(k, t, tt, at, kd) & ISN_MAC_MASK) != (isn & ISN_MAC_MASK)) {
        return false;
    }
    if (ttl) {
        *ttl = tt;
    }
    if (attempt) {
        *attempt = at;
    }
    if (kind) {
        *kind = kd;
    }
    return true;
}

/* ---- target policy ---- */

const char *pm_inject_target_refusal(const pm_addr *a, bool allow_loopback)
{
    if (a->family != PM_AF_INET && a->family != PM_AF_INET6) {
        return "not an IPv4 or IPv6 address";
    }
    if (pm_addr_is_unspecified(a)) {
        return "the unspecified address (0.0.0.0 / ::) names no host";
    }
    if (pm_addr_is_multicast(a)) {
        return "a multicast address: a SYN there would reach a group, not one MX";
    }
    if (pm_addr_is_broadcast(a)) {
        return "the limited broadcast address: a SYN there would reach every host on the link";
    }
    if (a->family == PM_AF_INET) {
        if (a->b[0] == 0) {
            return "in 0.0.0.0/8 (\"this network\", RFC 1122 §3.2.1.3): not a destination";
        }
        if ((a->b[0] & 0xf0) == 0xf0) {
            return "in 240.0.0.0/4 (reserved, RFC 1112 §4): not a destination";
        }
    } else {
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        static const uint8_t compat[12] = {0};
        if (!memcmp(a->b, mapped, 12) || (!memcmp(a->b, compat, 12) && !pm_addr_is_loopback(a))) {
            return "an IPv4-mapped or -compatible IPv6 address: give the IPv4 address instead";
        }
        if (a->b[0] == 0xfe && (a->b[1] & 0xc0) == 0x80) {
            return "link-local (fe80::/10): it needs an interface scope the probe does not take";
        }
    }
    if (pm_addr_is_loopback(a) && !allow_loopback) {
        return "a loopback address (this host itself); --allow-loopback permits it for tests";
    }
    return NULL;
}

/* ---- quote vs sent ---- */

static const char *const qd_names[PM_QD__BITS] = {
    "ip.src", "ip.dst", "tcp.sport", "tcp.dport", "tcp.seq", "ip.id", "ip.dscp", "ip.ecn",
    "ip.len", "tcp.flags", "tcp.win", "tcp.mss", "tcp.options", "tcp.wscale", "tcp.ts",
};

const char *pm_qdiff_name(unsigned bit_index)
{
    return bit_index < PM_QD__BITS ? qd_names[bit_index] : "?";
}

uint32_t pm_quote_diff(const struct pm_sent *s, const struct pm_quote *q, bool *partial)
{
    uint32_t m = 0;
    bool part = false;
    uint8_t fam = s->t.src.family;
    if (q->family != fam) {
        /* A quote of another family (or none at all): nothing is comparable. */
        if (partial) {
            *partial = true;
        }
        return 0;
    }
    if (!pm_addr_eq(&q->src, &s->t.src)) {
        m |= PM_QD_SRC;
    }
    if (!pm_addr_eq(&q->dst, &s->t.dst)) {
        m |= PM_QD_DST;
    }
    if (fam == PM_AF_INET && q->ip_id != s->ip_id) {
        m |= PM_QD_IPID;
    }
    if ((q->tos >> 2) != (s->tos >> 2)) {
        m |= PM_QD_DSCP;
    }
    if ((q->tos & 3) != (s->tos & 3)) {
        m |= PM_QD_ECN;
    }
    if (q->ip_len != s->ip_len) {
        m |= PM_QD_LEN;
    }
    if (!q->has_ports) {
        part = true;
        goto out;
    }
    if (q->sport != s->t.sport) {
        m |= PM_QD_SPORT;
    }
    if (q->dport != s->t.dport) {
        m |= PM_QD_DPORT;
    }
    if (!q->has_seq) {
        part = true;
        goto out;
    }
    if (q->seq != s->isn) {
        m |= PM_QD_SEQ;
    }
    if (!q->has_tcp) {
        part = true; /* RFC 792's 8 bytes: tracebox's [PARTIAL] */
        goto out;
    }
    if (q->tcp_flags != s->tcp_flags) {
        m |= PM_QD_FLAGS;
    }
    if (q->tcp_win != s->win) {
        m |= PM_QD_WIN;
    }
    /* Were the options quoted? The quoted length says how long the TCP header was; if the
     * quote covers that much, an empty option list means the options were removed. */
    {
        size_t iphl = fam == PM_AF_INET ? 20 : 40;
        size_t qtcp = fam == PM_AF_INET ? (q->ip_len > 20 ? (size_t)q->ip_len - 20 : 0)
                                        : (size_t)q->ip_len;
        bool whole = qtcp >= 20 && (size_t)q->bytes >= iphl + qtcp;
        if (!whole && q->opts.nkinds == 0) {
            part = true;
            goto out;
        }
        if (q->opts.mss != s->mss) {
            m |= PM_QD_MSS;
        }
        bool kinds_differ = q->opts.nkinds != s->nkinds;
        for (int i = 0; !kinds_differ && i < s->nkinds && i < PM_MAX_OPTKINDS; i++) {
            kinds_differ = q->opts.kinds[i] != s->kinds[i];
        }
        if (kinds_differ) {
            m |= PM_QD_OPTS;
        }
        bool s_ws = s->wscale != 0xff;
        if ((bool)q->opts.has_ws != s_ws || (s_ws && q->opts.wscale != s->wscale)) {
            m |= PM_QD_WSCALE;
        }
        if ((bool)q->opts.has_ts != (bool)s->has_ts || (s->has_ts && q->opts.tsval != s->tsval)) {
            m |= PM_QD_TS;
        }
    }
out:
    if (partial) {
        *partial = part;
    }
    return m;
}

static size_t cat(char *buf, size_t len, size_t o, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static size_t cat(char *buf, size_t len, size_t o, const char *fmt, ...)
{
    if (o >= len) {
        return o;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + o, len - o, fmt, ap);
    va_end(ap);
    return n > 0 ? o + (size_t)n : o;
}

void pm_qdiff_describe(uint32_t mask, const struct pm_sent *s, const struct pm_quote *q,
                       char *buf, size_t len)
{
    size_t o = 0;
    if (len == 0) {
        return;
    }
    buf[0] = '\0';
    char a[PM_ADDR_STRLEN], b[PM_ADDR_STRLEN];
    for (unsigned i = 0; i < PM_QD__BITS; i++) {
        if (!(mask & (1u << i))) {
            continue;
        }
        o = cat(buf, len, o, "%s%s ", o ? ", " : "", qd_names[i]);
        switch (1u << i) {
        case PM_QD_SRC:
            o = cat(buf, len, o, "%s -> %s", pm_addr_str(&s->t.src, a), pm_addr_str(&q->src, b));
            break;
        case PM_QD_DST:
            o = cat(buf, len, o, "%s -> %s", pm_addr_str(&s->t.dst, a), pm_addr_str(&q->dst, b));
            break;
        case PM_QD_SPORT:
            o = cat(buf, len, o, "%u -> %u", s->t.sport, q->sport);
            break;
        case PM_QD_DPORT:
            o = cat(buf, len, o, "%u -> %u", s->t.dport, q->dport);
            break;
        case PM_QD_SEQ:
            o = cat(buf, len, o, "0x%08x -> 0x%08x", s->isn, q->seq);
            break;
        case PM_QD_IPID:
            o = cat(buf, len, o, "%u -> %u", s->ip_id, q->ip_id);
            break;
        case PM_QD_DSCP:
            o = cat(buf, len, o, "%u -> %u", s->tos >> 2, q->tos >> 2);
            break;
        case PM_QD_ECN:
            o = cat(buf, len, o, "%u -> %u", s->tos & 3, q->tos & 3);
            break;
        case PM_QD_LEN:
            o = cat(buf, len, o, "%u -> %u", s->ip_len, q->ip_len);
            break;
        case PM_QD_FLAGS:
            o = cat(buf, len, o, "0x%02x -> 0x%02x", s->tcp_flags, q->tcp_flags);
            break;
        case PM_QD_WIN:
            o = cat(buf, len, o, "%u -> %u", s->win, q->tcp_win);
            break;
        case PM_QD_MSS:
            o = cat(buf, len, o, "%u -> %u", s->mss, q->opts.mss);
            break;
        case PM_QD_OPTS:
            o = cat(buf, len, o, "%u kinds -> %u kinds", s->nkinds, q->opts.nkinds);
            break;
        case PM_QD_WSCALE:
            o = cat(buf, len, o, "%d -> %d", s->wscale == 0xff ? -1 : s->wscale,
                    q->opts.has_ws ? q->opts.wscale : -1);
            break;
        case PM_QD_TS:
            o = cat(buf, len, o, "%u -> %u", s->tsval, q->opts.has_ts ? q->opts.tsval : 0);
            break;
        default:
            break;
        }
    }
}

/* ---- the injector ---- */

#define MAX_ALLOW (PM_MAX_TADDRS * 2)
#define SYN_OPTLEN 20
#define SYN_WIN 64240

struct inj_family {
    libnet_t *l;
    libnet_ptag_t opt_tag, tcp_tag, ip_tag;
};

struct pm_injector {
    struct pm_injector_cfg cfg;
    struct inj_family f4, f6;
    struct pm_cookie_key key;
    struct pm_throttle thr;
    pm_addr allow[MAX_ALLOW];
    int nallow;
    pm_addr local[PM_INJECT_MAX_LOCAL];      /* this host's unicast addresses */
    int nlocal;
    pm_addr bcast[PM_INJECT_MAX_LOCAL];      /* subnet broadcast and network addresses */
    int nbcast;
    struct pm_inj_counters n;
    uint16_t ip_id_base;
    uint32_t ts_base;
    uint32_t next_id;
};

static void addr_from_sockaddr(const struct sockaddr *sa, pm_addr *out)
{
    memset(out, 0, sizeof(*out));
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
        pm_addr_from_v4(out, (const uint8_t *)&s4->sin_addr);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
        pm_addr_from_v6(out, s6->sin6_addr.s6_addr);
    }
}

/* This host's addresses and its subnets' broadcast/network addresses: a TARGET that
 * resolves to one of them is a mistake or a trick (a directed broadcast). */
static void load_local(struct pm_injector *inj)
{
    struct ifaddrs *ifa0 = NULL;
    if (getifaddrs(&ifa0) != 0) {
        PM_WARN_ONCE("cannot list this host's addresses (%s): subnet broadcasts are not "
                     "checked", strerror(errno));
        return;
    }
    for (struct ifaddrs *i = ifa0; i; i = i->ifa_next) {
        if (!i->ifa_addr || (i->ifa_addr->sa_family != AF_INET &&
                             i->ifa_addr->sa_family != AF_INET6)) {
            continue;
        }
        pm_addr a;
        addr_from_sockaddr(i->ifa_addr, &a);
        if (inj->nlocal < PM_INJECT_MAX_LOCAL) {
            inj->local[inj->nlocal++] = a;
        }
        if (i->ifa_addr->sa_family == AF_INET && i->ifa_netmask) {
            pm_addr mask;
            addr_from_sockaddr(i->ifa_netmask, &mask);
            int bits = 0;
            for (int k = 0; k < 4; k++) {
                bits += __builtin_popcount(mask.b[k]);
            }
            if (bits <= 30 && inj->nbcast + 2 <= PM_INJECT_MAX_LOCAL) {
                pm_addr net = a, bc = a;
                for (int k = 0; k < 4; k++) {
                    net.b[k] = a.b[k] & mask.b[k];
                    bc.b[k] = (uint8_t)(a.b[k] | (uint8_t)~mask.b[k]);
                }
                inj->bcast[inj->nbcast++] = net;
                inj->bcast[inj->nbcast++] = bc;
            }
        }
    }
    freeifaddrs(ifa0);
}

struct pm_injector *pm_injector_open(const struct pm_injector_cfg *cfg, char *err,
                                     size_t errlen)
{
    struct pm_injector *inj = pm_xcalloc(1, sizeof(*inj));
    inj->cfg = *cfg;
    char lerr[LIBNET_ERRBUF_SIZE];
    if (cfg->want4) {
        lerr[0] = '\0';
        /* libnet_init wants a writable device string in 1.1.6's prototype. */
        inj->f4.l = libnet_init(LIBNET_RAW4, (char *)(uintptr_t)cfg->iface, lerr);
        if (!inj->f4.l) {
            snprintf(err, errlen, "cannot open an IPv4 raw socket for test SYNs: %s", lerr);
            pm_injector_close(inj);
            return NULL;
        }
    }
    if (cfg->want6) {
        lerr[0] = '\0';
        inj->f6.l = libnet_init(LIBNET_RAW6, (char *)(uintptr_t)cfg->iface, lerr);
        if (!inj->f6.l) {
            snprintf(err, errlen, "cannot open an IPv6 raw socket for test SYNs: %s", lerr);
            pm_injector_close(inj);
            return NULL;
        }
    }
    pm_cookie_key_random(&inj->key);
    uint32_t r = (uint32_t)(inj->key.k0 >> 7);
    inj->ip_id_base = (uint16_t)(r | 1u);
    inj->ts_base = (uint32_t)(inj->key.k1 >> 13);
    /* burst 1: probes evenly spaced at `rate` (see throttle.c). */
    pm_throttle_init(&inj->thr, cfg->rate, 1.0, pm_now_monotonic());
    inj->n.max_probes = cfg->max_probes;
    inj->n.rate = cfg->rate;
    load_local(inj);
    return inj;
}

void pm_injector_close(struct pm_injector *inj)
{
    if (!inj) {
        return;
    }
    if (inj->f4.l) {
        libnet_destroy(inj->f4.l);
    }
    if (inj->f6.l) {
        libnet_destroy(inj->f6.l);
    }
    free(inj);
}

bool pm_injector_allow(struct pm_injector *inj, const pm_addr *dst, char *why, size_t whylen)
{
    const char *r = pm_inject_target_refusal(dst, inj->cfg.allow_loopback);
    if (r) {
        snprintf(why, whylen, "%s", r);
        return false;
    }
    for (int i = 0; i < inj->nbcast; i++) {
        if (pm_addr_eq(&inj->bcast[i], dst)) {
            snprintf(why, whylen, "the network or broadcast address of one of this host's own "
                     "subnets (a directed broadcast)");
            return false;
        }
    }
    if (!inj->cfg.allow_loopback) {
        for (int i = 0; i < inj->nlocal; i++) {
            if (pm_addr_eq(&inj->local[i], dst)) {
                snprintf(why, whylen, "one of this host's own addresses; --allow-loopback "
                         "permits it for tests");
                return false;
            }
        }
    }
    if ((dst->family == PM_AF_INET && !inj->f4.l) || (dst->family == PM_AF_INET6 && !inj->f6.l)) {
        snprintf(why, whylen, "no raw socket of that family was opened");
        return false;
    }
    for (int i = 0; i < inj->nallow; i++) {
        if (pm_addr_eq(&inj->allow[i], dst)) {
            return true;
        }
    }
    if (inj->nallow >= MAX_ALLOW) {
        snprintf(why, whylen, "the allowlist is full (%d addresses)", MAX_ALLOW);
        return false;
    }
    inj->allow[inj->nallow++] = *dst;
    return true;
}

pm_ns pm_injector_wait(struct pm_injector *inj, pm_ns now_mono)
{
    return pm_throttle_wait(&inj->thr, now_mono);
}

const struct pm_cookie_key *pm_injector_key(const struct pm_injector *inj) { return &inj->key; }

const struct pm_inj_counters *pm_injector_counters(const struct pm_injector *inj)
{
    return &inj->n;
}

/* Ones' complement sum over big-endian 16-bit words (RFC 1071). */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2) {
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    }
    if (n & 1) {
        sum += (uint32_t)p[n - 1] << 8;
    }
    return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return (uint16_t)~sum;
}

/* The TCP checksum of our SYN (header + options, no payload) over the pseudo-header. */
static uint16_t tcp_checksum(const struct pm_tuple *t, const uint8_t *seg, size_t seglen)
{
    uint32_t sum = 0;
    uint8_t ph[40];
    if (t->src.family == PM_AF_INET) {
        memcpy(ph, t->src.b, 4);
        memcpy(ph + 4, t->dst.b, 4);
        ph[8] = 0;
        ph[9] = IPPROTO_TCP;
        ph[10] = (uint8_t)(seglen >> 8);
        ph[11] = (uint8_t)seglen;
        sum = csum_add(sum, ph, 12);
    } else {
        memcpy(ph, t->src.b, 16);
        memcpy(ph + 16, t->dst.b, 16);
        ph[32] = ph[33] = 0;
        ph[34] = (uint8_t)(seglen >> 8);
        ph[35] = (uint8_t)seglen;
        ph[36] = ph[37] = ph[38] = 0;
        ph[39] = IPPROTO_TCP;
        sum = csum_add(sum, ph, 40);
    }
    sum = csum_add(sum, seg, seglen);
    return csum_fold(sum);
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

enum pm_inj_rc pm_injector_syn(struct pm_injector *inj, const struct pm_tuple *t, uint8_t ttl,
                               uint8_t attempt, uint8_t kind, struct pm_sent *out, char *err,
                               size_t errlen)
{
    char a[PM_ADDR_STRLEN];
    bool listed = false;
    for (int i = 0; i < inj->nallow; i++) {
        listed |= pm_addr_eq(&inj->allow[i], &t->dst);
    }
    if (!listed || t->src.family != t->dst.family) {
        inj->n.target_refused++;
        snprintf(err, errlen, "%s is not one of the addresses TARGET resolved to: not sent",
                 pm_addr_str(&t->dst, a));
        return PM_INJ_REFUSED;
    }
    if (inj->n.sent >= inj->cfg.max_probes) {
        inj->n.cap_refused++;
        snprintf(err, errlen, "--max-probes %u reached: no more test SYNs this run",
                 inj->cfg.max_probes);
        return PM_INJ_CAP;
    }
    pm_ns now = pm_now_monotonic();
    if (!pm_throttle_take(&inj->thr, now)) {
        snprintf(err, errlen, "rate limit (--rate %.3g/s): wait", inj->cfg.rate);
        return PM_INJ_RATE;
    }
    struct inj_family *f = t->dst.family == PM_AF_INET ? &inj->f4 : &inj->f6;

    memset(out, 0, sizeof(*out));
    out->id = ++inj->next_id;
    out->t = *t;
    out->ttl = ttl;
    out->attempt = attempt & 7u;
    out->kind = kind & 1u;
    out->isn = pm_cookie_isn(&inj->key, t, ttl, out->attempt, out->kind);
    out->ip_id = (uint16_t)(inj->ip_id_base + out->id);
    if (out->ip_id == 0) {
        out->ip_id = 1; /* 0 would let the kernel pick one: we must know it */
    }
    out->tos = 0;
    out->tcp_flags = PM_TH_SYN;
    out->win = SYN_WIN;
    out->mss = t->dst.family == PM_AF_INET ? 1460 : 1440;
    out->wscale = 7;
    out->sack_ok = 1;
    out->has_ts = 1;
    out->tsval = inj->ts_base + (uint32_t)(now / PM_NS_PER_MS);
    out->optlen = SYN_OPTLEN;
    out->nkinds = 4;
    out->kinds[0] = 2; /* MSS */
    out->kinds[1] = 4; /* SACK permitted */
    out->kinds[2] = 8; /* timestamps */
    out->kinds[3] = 3; /* window scale */
    out->ip_len = (uint16_t)((t->dst.family == PM_AF_INET ? 20 : 0) + 20 + SYN_OPTLEN);
    out->wire_ts = PM_NS_NONE;

    /* Options exactly as Linux orders them: MSS, SACK-permitted, timestamps, NOP, WS. */
    uint8_t opt[SYN_OPTLEN] = {2, 4, 0, 0, 4, 2, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 3, 7};
    put16(opt + 2, out->mss);
    put32(opt + 8, out->tsval);
    /* The segment as it will be on the wire, for our own checksum. */
    uint8_t seg[20 + SYN_OPTLEN];
    memset(seg, 0, sizeof(seg));
    put16(seg, t->sport);
    put16(seg + 2, t->dport);
    put32(seg + 4, out->isn);
    seg[12] = (uint8_t)(((20 + SYN_OPTLEN) / 4) << 4);
    seg[13] = PM_TH_SYN;
    put16(seg + 14, SYN_WIN);
    memcpy(seg + 20, opt, SYN_OPTLEN);
    uint16_t sum = tcp_checksum(t, seg, sizeof(seg));

    libnet_t *l = f->l;
    f->opt_tag = libnet_build_tcp_options(opt, SYN_OPTLEN, l, f->opt_tag);
    if (f->opt_tag == -1) {
        goto lnerr;
    }
    f->tcp_tag = libnet_build_tcp(t->sport, t->dport, out->isn, 0, TH_SYN, SYN_WIN, sum, 0,
                                  LIBNET_TCP_H + SYN_OPTLEN, NULL, 0, l, f->tcp_tag);
    if (f->tcp_tag == -1) {
        goto lnerr;
    }
    /* Our checksum stands; libnet must not recompute it (its 1.1.6 IPv6 path is suspect). */
    libnet_toggle_checksum(l, f->tcp_tag, LIBNET_OFF);
    if (t->dst.family == PM_AF_INET) {
        uint32_t s4, d4;
        memcpy(&s4, t->src.b, 4);
        memcpy(&d4, t->dst.b, 4);
        f->ip_tag = libnet_build_ipv4(LIBNET_IPV4_H + LIBNET_TCP_H + SYN_OPTLEN, out->tos,
                                      out->ip_id, IP_DF, ttl, IPPROTO_TCP, 0, s4, d4, NULL, 0, l,
                                      f->ip_tag);
    } else {
        struct libnet_in6_addr s6, d6;
        memcpy(&s6, t->src.b, 16);
        memcpy(&d6, t->dst.b, 16);
        /* A fixed flow label per tuple: IPv6 ECMP hashes it too (Paris traceroute's rule). */
        uint32_t fl = (uint32_t)pm_siphash24(&inj->key, t->dst.b, 16) & 0xfffffu;
        f->ip_tag = libnet_build_ipv6(out->tos, fl, LIBNET_TCP_H + SYN_OPTLEN, IPPROTO_TCP, ttl,
                                      s6, d6, NULL, 0, l, f->ip_tag);
    }
    if (f->ip_tag == -1) {
        goto lnerr;
    }
    out->sent_real = pm_now_realtime();
    out->sent_mono = pm_now_monotonic();
    /* The packet counts against the cap even if the kernel then refuses it: the cap is about
     * what we tried to put on the wire. */
    inj->n.sent++;
    if (libnet_write(l) == -1) {
        int e = errno;
        inj->n.errors++;
        char why[LIBNET_ERRBUF_SIZE];
        pm_strlcpy(why, libnet_geterror(l), sizeof(why));
        size_t wl = strlen(why);
        while (wl > 0 && (why[wl - 1] == '\n' || why[wl - 1] == ' ')) {
            why[--wl] = '\0'; /* libnet ends its messages with a newline */
        }
        snprintf(err, errlen, "sending the test SYN to %s failed: %s%s", pm_addr_str(&t->dst, a),
                 why, e == EPERM ? " — this host's own firewall (its OUTPUT chain) refuses the "
                                   "packet, as it would the MTA's" : "");
        return PM_INJ_ERROR;
    }
    return PM_INJ_OK;
lnerr:
    inj->n.errors++;
    snprintf(err, errlen, "building the test SYN failed: %s", libnet_geterror(l));
    return PM_INJ_ERROR;
}
