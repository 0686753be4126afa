/*
 * gen_mix.c — owns pmgen's benchmark captures (issue 10), written as a stream in constant
 * memory:
 *
 *   mix    realistic background (HTTPS with TLS-sized records and congestion-window bursts,
 *          DNS, QUIC, interactive SSH, IPv4 and IPv6, a little ICMP noise that quotes
 *          non-SMTP flows) plus port-25 attempts of every outcome, so that about
 *          --smtp-ratio of all packets are port-25 or ICMP-error packets;
 *   storm  only port-25 SYNs, RSTs and ICMP errors: many distinct attempts, many of them
 *          half-open at once (--concurrency of them at most, --rate new ones per second).
 *
 * Flows live in a fixed pool of --concurrency slots ordered by a binary heap on the time of
 * their next packet; a finished slot starts the next flow. Nothing grows with the file
 * size. Every SMTP attempt runs to its end before the file closes (after --size/--packets
 * no new flow starts; background flows are simply cut), so the truth — the count of each
 * outcome — is exactly what the packets show. Outcomes are built to be decidable without
 * knowing where the capture ends: an unanswered attempt retransmits over 3 s.
 */
#include "pmgen.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum ftype { F_FREE, F_HTTPS, F_DNS, F_QUIC, F_SSH, F_NOISE, F_SMTP };

enum outcome {
    O_CONNECTED,
    O_REJECTED,
    O_NO_BANNER,
    O_CLOSED_EARLY,
    O_REFUSED,
    O_ICMP,
    O_TTL,
    O_NO_RESPONSE,
    O__COUNT
};
static const char *const outcome_names[O__COUNT] = {
    "connected", "smtp-rejected", "no-banner",        "closed-before-banner",
    "refused",   "icmp-unreachable", "ttl-exceeded", "no-response"};

/* Mix weights (per mille) and storm weights: what a busy relay's bad day looks like. */
static const uint16_t mix_w[O__COUNT] = {400, 100, 50, 50, 150, 100, 30, 120};
static const uint16_t storm_w[O__COUNT] = {0, 0, 0, 0, 350, 250, 100, 300};

struct flow {
    uint8_t type, fam, step, outcome;
    uint8_t srv_ttl, sub;
    uint16_t sport, dport;
    uint32_t cli, srv;  /* address indices */
    uint32_t cseq, sseq, isn;
    uint32_t left;      /* bytes or packets left in the current phase */
    uint32_t cwnd, inburst, reqs;
    uint32_t cts, sts;
    uint16_t cipid, sipid;
    int64_t rtt, t0;
};

struct hent {
    int64_t t;
    uint32_t slot;
};

/* Events exactly 1 s or 2 s ahead (the unanswered SYN's retransmissions) are queued in
 * FIFOs: pushed in time order, they stay sorted, and keep the heap small in a storm. */
struct fifo {
    struct hent *q;
    uint32_t head, n, cap;
};

struct mix {
    const struct gen_opts *o;
    struct fifo fq[2];
    struct rng r;
    struct gw *w;
    struct flow *f;
    struct hent *heap;
    uint32_t nheap, nslots;
    bool draining;
    uint64_t packets, watched;
    uint64_t out_count[O__COUNT];
    uint64_t fam_count[2];
    uint64_t attempts, live_smtp, peak_smtp;
    int64_t next_arrival, first_ts, last_ts;
    uint32_t *freelist;      /* storm: idle slots (only live attempts sit in the heap) */
    uint32_t nfree;
    const uint16_t *weights;
    uint32_t smtp_seq;
    double p_smtp;           /* probability that the next flow is an SMTP attempt */
    uint32_t starts;         /* flows started since the last adjustment */
    uint64_t adj_packets, adj_watched;
    uint8_t junk[65536 + 2048]; /* payload bytes: random once, sliced per packet */
    uint8_t ip[GP_MAX];
};

/* ---- heap ---- */

static bool hless(const struct hent *a, const struct hent *b)
{
    return a->t < b->t || (a->t == b->t && a->slot < b->slot);
}

/* A 4-ary min-heap: half the depth of a binary one, and a node's children share a cache
 * line; with a million live attempts this is where a storm spends its time. */
static void hpush(struct mix *m, int64_t t, uint32_t slot)
{
    uint32_t i = m->nheap++;
    struct hent e = {t, slot};
    while (i > 0) {
        uint32_t p = (i - 1) / 4;
        if (!hless(&e, &m->heap[p])) {
            break;
        }
        m->heap[i] = m->heap[p];
        i = p;
    }
    m->heap[i] = e;
}

static struct hent hpop(struct mix *m)
{
    struct hent top = m->heap[0];
    struct hent e = m->heap[--m->nheap];
    uint32_t i = 0, n = m->nheap;
    for (;;) {
        uint32_t c = 4 * i + 1;
        if (c >= n) {
            break;
        }
        uint32_t best = c, end = c + 4 < n ? c + 4 : n;
        for (uint32_t k = c + 1; k < end; k++) {
            if (hless(&m->heap[k], &m->heap[best])) {
                best = k;
            }
        }
        if (!hless(&m->heap[best], &e)) {
            break;
        }
        m->heap[i] = m->heap[best];
        i = best;
    }
    if (n) {
        m->heap[i] = e;
    }
    return top;
}

static void fpush(struct fifo *f, int64_t t, uint32_t slot)
{
    if (f->n == f->cap) {
        die("internal: event FIFO overflow");
    }
    f->q[(f->head + f->n++) % f->cap] = (struct hent){t, slot};
}

/* Schedule slot's next event d after now: FIFO for the fixed retransmission delays. */
static void schedule(struct mix *m, int64_t now, int64_t d, uint32_t slot)
{
    if (d == SEC(1)) {
        fpush(&m->fq[0], now + d, slot);
    } else if (d == SEC(2)) {
        fpush(&m->fq[1], now + d, slot);
    } else {
        hpush(m, now + d, slot);
    }
}

static bool have_event(const struct mix *m) { return m->nheap || m->fq[0].n || m->fq[1].n; }

/* The earliest event of heap and FIFOs (ties: heap, then FIFO 1 s, then FIFO 2 s). */
static const struct hent *peek_event(const struct mix *m, int *src)
{
    const struct hent *best = m->nheap ? &m->heap[0] : NULL;
    *src = -1;
    for (int i = 0; i < 2; i++) {
        const struct fifo *f = &m->fq[i];
        if (f->n && (!best || hless(&f->q[f->head], best))) {
            best = &f->q[f->head];
            *src = i;
        }
    }
    return best;
}

static struct hent next_event(struct mix *m)
{
    int src;
    const struct hent *p = peek_event(m, &src);
    if (src < 0) {
        return hpop(m);
    }
    struct hent e = *p;
    struct fifo *f = &m->fq[src];
    f->head = (f->head + 1) % f->cap;
    f->n--;
    return e;
}

/* ---- addresses, from indices (no tables) ---- */

static uint64_t mixh(uint64_t x)
{
    x += UINT64_C(0x9E3779B97F4A7C15);
    x = (x ^ (x >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94D049BB133111EB);
    return x ^ (x >> 31);
}

enum { A_CLIENT, A_SERVER, A_MX, A_RELAY, A_ROUTER };

static void addr_of(struct gaddr *a, int fam, int kind, uint32_t idx)
{
    memset(a, 0, sizeof(*a));
    a->fam = (uint8_t)fam;
    uint64_t h = mixh((uint64_t)kind << 40 | idx);
    if (fam == 4) {
        switch (kind) {
        case A_CLIENT: /* 10.20.0.0/14 behind the capture point, one address per index */
            a->b[0] = 10;
            a->b[1] = (uint8_t)(20 + ((idx >> 16) & 3));
            a->b[2] = (uint8_t)(idx >> 8);
            a->b[3] = (uint8_t)idx;
            return;
        case A_RELAY: /* the mail relays' own addresses */
            a->b[0] = 192;
            a->b[1] = 0;
            a->b[2] = 2;
            a->b[3] = (uint8_t)(16 + (idx & 63));
            return;
        default: {
            uint8_t first = (uint8_t)(11 + h % 200);
            a->b[0] = first == 127 ? 128 : first;
            a->b[1] = (uint8_t)(h >> 8);
            a->b[2] = (uint8_t)(h >> 16);
            a->b[3] = (uint8_t)(1 + (h >> 24) % 254);
            return;
        }
        }
    }
    a->b[0] = kind == A_CLIENT || kind == A_RELAY ? 0xfd : 0x20;
    a->b[1] = kind == A_CLIENT || kind == A_RELAY ? 0x20 : 0x01;
    if (kind == A_CLIENT || kind == A_RELAY) {
        /* fd20:0:0:K::1:X:Y — distinct for every index (SMTP tuples must never collide). */
        a->b[7] = (uint8_t)kind;
        a->b[11] = 1;
        a->b[12] = (uint8_t)(idx >> 24);
        a->b[13] = (uint8_t)(idx >> 16);
        a->b[14] = (uint8_t)(idx >> 8);
        a->b[15] = (uint8_t)idx;
        return;
    }
    a->b[2] = 0x0d;
    a->b[3] = 0xb8;
    for (int i = 4; i < 8; i++) {
        a->b[i] = (uint8_t)(h >> (8 * i));
    }
    a->b[8] = (uint8_t)kind;
    a->b[14] = (uint8_t)(h >> 8);
    a->b[15] = (uint8_t)(h | 1);
}

/* ---- packet emission ---- */

static void put(struct mix *m, int64_t t, uint32_t len, int fam, unsigned flags, bool watched)
{
    if (m->first_ts == 0) {
        m->first_ts = t;
    }
    m->last_ts = t;
    gw_packet(m->w, t, m->ip, len, fam, flags);
    m->packets++;
    m->watched += watched;
}

/* A TCP segment of flow f: from the client (dir 0) or the server (dir 1). */
static void tcp(struct mix *m, struct flow *f, int64_t t, int dir, uint8_t flags,
                const uint8_t *pl, uint32_t plen)
{
    struct gaddr c, s;
    uint8_t opts[40];
    addr_of(&c, f->fam, f->type == F_SMTP ? A_RELAY : A_CLIENT, f->cli);
    addr_of(&s, f->fam, f->type == F_SMTP ? A_MX : A_SERVER, f->srv);
    struct tcpseg g;
    memset(&g, 0, sizeof(g));
    bool syn = flags & TH_SYN;
    uint32_t ms = (uint32_t)((t - f->t0) / MS(1));
    if (dir == 0) {
        g.src = &c;
        g.dst = &s;
        g.sport = f->sport;
        g.dport = f->dport;
        g.seq = syn ? f->isn : f->cseq;
        g.ack = (flags & TH_ACK) ? f->sseq : 0;
        g.ttl = 64;
        g.ipid = f->cipid++;
        g.win = syn ? 64240 : 1002;
        g.optlen = syn ? gp_opts_syn(opts, f->fam == 6 ? 1440 : 1460, 7, f->cts + ms, 0)
                       : gp_opts_ts(opts, f->cts + ms, f->sts + ms);
        f->cseq = syn ? f->isn + 1 : f->cseq + plen + ((flags & TH_FIN) ? 1 : 0);
    } else {
        g.src = &s;
        g.dst = &c;
        g.sport = f->dport;
        g.dport = f->sport;
        g.seq = syn ? f->sseq - 1 : f->sseq;
        g.ack = f->cseq;
        g.ttl = f->srv_ttl;
        g.ipid = f->sipid++;
        g.win = syn ? 65160 : 2047;
        g.optlen = syn ? gp_opts_syn(opts, f->fam == 6 ? 1440 : 1460, 9, f->sts + ms, f->cts + ms)
                       : gp_opts_ts(opts, f->sts + ms, f->cts + ms);
        if (!syn) {
            f->sseq += plen + ((flags & TH_FIN) ? 1 : 0);
        }
    }
    g.flags = flags;
    g.df = true;
    g.opts = opts;
    g.payload = pl;
    g.plen = plen;
    uint32_t len = gp_tcp(m->ip, &g);
    bool smtp = f->type == F_SMTP;
    put(m, t, len, f->fam, (dir == 0 ? GW_OUT : 0) | (smtp ? 0 : GW_BG), smtp);
}

static const uint8_t *junk(struct mix *m, uint32_t n)
{
    (void)n;
    return m->junk + rng_below(&m->r, 65536);
}

static void udp(struct mix *m, struct flow *f, int64_t t, int dir, uint32_t plen)
{
    struct gaddr c, s;
    addr_of(&c, f->fam, A_CLIENT, f->cli);
    addr_of(&s, f->fam, A_SERVER, f->srv);
    uint32_t len = dir == 0 ? gp_udp(m->ip, &c, &s, f->sport, f->dport, 64, f->cipid++,
                                     junk(m, plen), plen)
                            : gp_udp(m->ip, &s, &c, f->dport, f->sport, f->srv_ttl, f->sipid++,
                                     junk(m, plen), plen);
    put(m, t, len, f->fam, (dir == 0 ? GW_OUT : 0) | GW_BG, false);
}

/* ---- SMTP attempts ---- */

static const char *const smtp_text[] = {
    "220 mx.example.net ESMTP\r\n",
    "EHLO relay.example.org\r\n",
    ("250-mx.example.net\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n250-STARTTLS\r\n"
     "250-8BITMIME\r\n250 SMTPUTF8\r\n"),
    "MAIL FROM:<bounce@example.org>\r\n",
    "250 2.1.0 Ok\r\n",
    "RCPT TO:<someone@example.net>\r\n",
    "250 2.1.5 Ok\r\n",
    "DATA\r\n",
    "354 End data with <CR><LF>.<CR><LF>\r\n",
    "250 2.0.0 Ok: queued\r\n",
    "QUIT\r\n",
    "221 2.0.0 Bye\r\n",
    "554 5.7.1 Service unavailable; client host blocked using a DNSBL\r\n",
};

/* Script actions: who sends what, and the delay before the next action. */
enum act {
    X_SYN, X_SYNACK, X_ACK, X_CTEXT, X_STEXT, X_BODY, X_SFIN, X_CFIN, X_SACK, X_RST, X_ICMP,
    X_END
};
enum dly { D_NONE, D_SMALL, D_RTT, D_BANNER, D_IDLE, D_SYN1, D_SYN2 };

struct step {
    uint8_t act, arg, dly;
};

static const struct step s_connected[] = {
    {X_SYN, 0, D_RTT},      {X_SYNACK, 0, D_SMALL}, {X_ACK, 0, D_BANNER},
    {X_STEXT, 0, D_SMALL},  {X_CTEXT, 1, D_RTT},    {X_STEXT, 2, D_SMALL},
    {X_CTEXT, 3, D_RTT},    {X_STEXT, 4, D_SMALL},  {X_CTEXT, 5, D_RTT},
    {X_STEXT, 6, D_SMALL},  {X_CTEXT, 7, D_RTT},    {X_STEXT, 8, D_SMALL},
    {X_BODY, 0, D_RTT},     {X_STEXT, 9, D_SMALL},  {X_CTEXT, 10, D_RTT},
    {X_STEXT, 11, D_SMALL}, {X_SFIN, 0, D_SMALL},   {X_CFIN, 0, D_RTT},
    {X_SACK, 0, D_NONE},    {X_END, 0, D_NONE}};
static const struct step s_rejected[] = {
    {X_SYN, 0, D_RTT},      {X_SYNACK, 0, D_SMALL}, {X_ACK, 0, D_BANNER},
    {X_STEXT, 12, D_SMALL}, {X_CTEXT, 10, D_RTT},   {X_STEXT, 11, D_SMALL},
    {X_SFIN, 0, D_SMALL},   {X_CFIN, 0, D_RTT},     {X_SACK, 0, D_NONE},
    {X_END, 0, D_NONE}};
static const struct step s_no_banner[] = {
    {X_SYN, 0, D_RTT},  {X_SYNACK, 0, D_SMALL}, {X_ACK, 0, D_IDLE},
    {X_CFIN, 0, D_RTT}, {X_SACK, 0, D_NONE},    {X_END, 0, D_NONE}};
static const struct step s_closed_early[] = {
    {X_SYN, 0, D_RTT},   {X_SYNACK, 0, D_SMALL}, {X_ACK, 0, D_BANNER},
    {X_SFIN, 0, D_SMALL}, {X_CFIN, 0, D_RTT},    {X_SACK, 0, D_NONE},
    {X_END, 0, D_NONE}};
static const struct step s_refused[] = {{X_SYN, 0, D_RTT}, {X_RST, 0, D_NONE}, {X_END, 0, D_NONE}};
static const struct step s_icmp[] = {{X_SYN, 0, D_SMALL}, {X_ICMP, 0, D_NONE}, {X_END, 0, D_NONE}};
static const struct step s_ttl[] = {{X_SYN, 0, D_SMALL}, {X_ICMP, 1, D_NONE}, {X_END, 0, D_NONE}};
static const struct step s_no_response[] = {
    {X_SYN, 0, D_SYN1}, {X_SYN, 0, D_SYN2}, {X_SYN, 0, D_NONE}, {X_END, 0, D_NONE}};

static const struct step *const scripts[O__COUNT] = {
    s_connected, s_rejected, s_no_banner, s_closed_early,
    s_refused,   s_icmp,     s_ttl,       s_no_response};

/* An ICMP error about flow f's SYN (rebuilt: same bytes as sent). */
static void smtp_icmp(struct mix *m, struct flow *f, int64_t t, bool ttlx)
{
    struct gaddr c, s, r;
    uint8_t opts[40], syn[128];
    addr_of(&c, f->fam, A_RELAY, f->cli);
    addr_of(&s, f->fam, A_MX, f->srv);
    struct tcpseg g;
    memset(&g, 0, sizeof(g));
    g.src = &c;
    g.dst = &s;
    g.sport = f->sport;
    g.dport = f->dport;
    g.seq = f->isn;
    g.flags = TH_SYN;
    g.win = 64240;
    g.ttl = 64;
    g.ipid = (uint16_t)(f->cipid - 1);
    g.df = true;
    g.optlen = gp_opts_syn(opts, f->fam == 6 ? 1440 : 1460, 7, f->cts, 0);
    g.opts = opts;
    uint32_t synlen = gp_tcp(syn, &g);
    bool v6 = f->fam == 6;
    /* From a router (hop 2..12) or, for port-unreachable, the MX itself. */
    struct icmperr e;
    memset(&e, 0, sizeof(e));
    int hop = 2 + (int)(f->sub % 11);
    addr_of(&r, f->fam, A_ROUTER, f->srv * 16 + (uint32_t)hop);
    e.from = &r;
    e.to = &c;
    e.ttl = (uint8_t)(64 - (hop - 1));
    e.qttl = ttlx ? 1 : 64 - hop;
    e.qs = f->sub & 1 ? Q_RFC792 : Q_RFC1812;
    if (ttlx) {
        e.type = v6 ? 3 : 11;
        e.code = 0;
    } else {
        static const uint8_t codes4[] = {13, 1, 3, 10, 0, 9};
        static const uint8_t codes6[] = {1, 3, 4, 0, 5, 6};
        uint8_t k = (uint8_t)((f->sub >> 1) % 6);
        e.type = v6 ? 1 : 3;
        e.code = v6 ? codes6[k] : codes4[k];
        if ((!v6 && e.code == 3) || (v6 && e.code == 4)) {
            e.from = &s; /* port unreachable comes from the host itself */
            e.ttl = f->srv_ttl;
            e.qttl = f->srv_ttl;
        }
    }
    e.ipid = f->sipid++;
    e.orig = syn;
    e.origlen = synlen;
    uint32_t len = gp_icmp_err(m->ip, &e);
    put(m, t, len, f->fam, 0, true);
}

static int64_t smtp_delay(struct mix *m, struct flow *f, uint8_t d)
{
    switch (d) {
    case D_SMALL: return rng_range(&m->r, US(40), US(400));
    case D_RTT: return f->rtt;
    case D_BANNER: return rng_range(&m->r, MS(1), MS(300));
    case D_IDLE: return rng_range(&m->r, SEC(5), SEC(30)); /* the client's greeting timer */
    case D_SYN1: return SEC(1);
    case D_SYN2: return SEC(2);
    default: return 0;
    }
}

/* One action of an SMTP attempt; returns the delay to the next, or -1 when done. */
static int64_t smtp_step(struct mix *m, struct flow *f, int64_t t)
{
    const struct step *st = &scripts[f->outcome][f->step];
    switch (st->act) {
    case X_SYN: tcp(m, f, t, 0, TH_SYN, NULL, 0); break;
    case X_SYNACK: tcp(m, f, t, 1, TH_SYN | TH_ACK, NULL, 0); break;
    case X_ACK: tcp(m, f, t, 0, TH_ACK, NULL, 0); break;
    case X_SACK: tcp(m, f, t, 1, TH_ACK, NULL, 0); break;
    case X_CFIN: tcp(m, f, t, 0, TH_FIN | TH_ACK, NULL, 0); break;
    case X_SFIN: tcp(m, f, t, 1, TH_FIN | TH_ACK, NULL, 0); break;
    case X_CTEXT:
    case X_STEXT: {
        const char *s = smtp_text[st->arg];
        tcp(m, f, t, st->act == X_CTEXT ? 0 : 1, TH_PSH | TH_ACK, (const uint8_t *)s,
            (uint32_t)strlen(s));
        break;
    }
    case X_BODY: {
        /* The message in full-sized segments; the last one ends with CRLF.CRLF. */
        uint32_t mss = f->fam == 6 ? 1428 : 1448;
        uint32_t n = f->left < mss ? f->left : mss;
        static uint8_t seg[1500];
        memset(seg, 'a', n);
        for (uint32_t i = 76; i < n; i += 78) {
            seg[i] = '\r';
            seg[i + 1 < n ? i + 1 : i] = '\n';
        }
        f->left -= n;
        if (f->left == 0) {
            memcpy(seg + (n >= 5 ? n - 5 : 0), "\r\n.\r\n", n >= 5 ? 5 : n);
        }
        tcp(m, f, t, 0, TH_PSH | TH_ACK, seg, n);
        if (f->left) {
            return US(15);
        }
        break;
    }
    case X_RST: {
        /* Closed port: RST+ACK seq 0, ack ISN+1, window 0 (not tcp(): no options). */
        struct gaddr c, s;
        addr_of(&c, f->fam, A_RELAY, f->cli);
        addr_of(&s, f->fam, A_MX, f->srv);
        struct tcpseg g;
        memset(&g, 0, sizeof(g));
        g.src = &s;
        g.dst = &c;
        g.sport = f->dport;
        g.dport = f->sport;
        g.ack = f->isn + 1;
        g.flags = TH_RST | TH_ACK;
        g.ttl = f->srv_ttl;
        g.df = true;
        uint32_t len = gp_tcp(m->ip, &g);
        put(m, t, len, f->fam, 0, true);
        break;
    }
    case X_ICMP: smtp_icmp(m, f, t, st->arg == 1); break;
    default: return -1;
    }
    f->step++;
    if (scripts[f->outcome][f->step].act == X_END) {
        return -1;
    }
    return smtp_delay(m, f, st->dly);
}

int mix_parse_weights(const char *s, uint16_t w[8])
{
    memset(w, 0, 8 * sizeof(w[0]));
    unsigned total = 0;
    while (*s) {
        const char *eq = strchr(s, '=');
        if (!eq) {
            return -1;
        }
        int o = -1;
        for (int i = 0; i < O__COUNT; i++) {
            if (strlen(outcome_names[i]) == (size_t)(eq - s) &&
                !strncmp(s, outcome_names[i], (size_t)(eq - s))) {
                o = i;
            }
        }
        char *end;
        unsigned long v = strtoul(eq + 1, &end, 10);
        if (o < 0 || end == eq + 1 || v > 1000 || (*end && *end != ',')) {
            return -1;
        }
        w[o] = (uint16_t)v;
        total += (unsigned)v;
        s = *end ? end + 1 : end;
    }
    if (total == 0) {
        return -1;
    }
    /* Normalise to per mille, the last nonzero weight taking the rounding. */
    unsigned acc = 0;
    int last = 0;
    for (int i = 0; i < O__COUNT; i++) {
        w[i] = (uint16_t)(w[i] * 1000u / total);
        acc += w[i];
        if (w[i]) {
            last = i;
        }
    }
    w[last] = (uint16_t)(w[last] + 1000u - acc);
    return 0;
}

static void smtp_start(struct mix *m, struct flow *f, bool storm)
{
    const uint16_t *wt = m->weights ? m->weights : storm ? storm_w : mix_w;
    uint32_t x = rng_below(&m->r, 1000), acc = 0;
    int o = 0;
    for (; o < O__COUNT - 1; o++) {
        acc += wt[o];
        if (x < acc) {
            break;
        }
    }
    f->type = F_SMTP;
    f->outcome = (uint8_t)o;
    f->dport = 25;
    /* A unique (relay, source port) per attempt: 64 relays × 28000 ports per family. */
    uint32_t n = m->smtp_seq++;
    f->cli = n % 64;
    f->sport = (uint16_t)(32768 + (n / 64) % 28000);
    /* --destinations 1 aims every attempt at one MX: the flood of one (destination, port)
     * that once made portmortem quadratic (tests/perf, make bench). */
    f->srv = rng_below(&m->r, m->o->destinations ? m->o->destinations : storm ? 65536 : 4096);
    f->isn = rng_u32(&m->r);
    f->cseq = f->isn + 1;
    f->sseq = rng_u32(&m->r) + 1;
    f->left = 600 + rng_below(&m->r, 20000);
    f->sub = (uint8_t)rng_u32(&m->r);
    f->srv_ttl = (uint8_t)(rng_below(&m->r, 4) == 0 ? 128 - (3 + f->sub % 20) : 64 - (3 + f->sub % 20));
    f->rtt = rng_range(&m->r, MS(2), MS(250));
    m->out_count[o]++;
    m->attempts++;
    m->fam_count[f->fam == 6]++;
    if (++m->live_smtp > m->peak_smtp) {
        m->peak_smtp = m->live_smtp;
    }
}

/* ---- background flows ---- */

static void bg_start(struct mix *m, struct flow *f)
{
    uint32_t x = rng_below(&m->r, 1000);
    f->cli = rng_below(&m->r, 1u << 18);
    f->srv = rng_below(&m->r, 1u << 20);
    f->sport = (uint16_t)(32768 + rng_below(&m->r, 28232));
    f->srv_ttl = (uint8_t)(64 - 4 - rng_below(&m->r, 20));
    f->rtt = rng_range(&m->r, MS(1), MS(180));
    f->isn = rng_u32(&m->r);
    f->cseq = f->isn + 1;
    f->sseq = rng_u32(&m->r) + 1;
    f->sub = (uint8_t)rng_u32(&m->r);
    if (x < 3) {
        f->type = F_NOISE;
    } else if (x < 300) {
        f->type = F_DNS;
        f->dport = 53;
    } else if (x < 380) {
        f->type = F_QUIC;
        f->dport = 443;
        f->left = 6 + rng_below(&m->r, 40);
    } else if (x < 450) {
        f->type = F_SSH;
        f->dport = 22;
        f->left = 10 + rng_below(&m->r, 60);
    } else {
        f->type = F_HTTPS;
        f->dport = (x & 7) == 0 ? 80 : 443;
        f->reqs = 1 + rng_below(&m->r, 4);
    }
}

/* Heavy-tailed response size: mostly small objects, a few large downloads. */
static uint32_t resp_size(struct mix *m)
{
    double u = rng_unit(&m->r);
    double v = 2000.0 * pow(1.0 - u, -1.0 / 1.2); /* Pareto, alpha 1.2, min 2 KB */
    return v > 8e6 ? 8000000u : (uint32_t)v;
}

static int64_t https_step(struct mix *m, struct flow *f, int64_t t)
{
    uint32_t mss = f->fam == 6 ? 1428 : 1448;
    switch (f->step) {
    case 0: tcp(m, f, t, 0, TH_SYN, NULL, 0); f->step = 1; return f->rtt;
    case 1: tcp(m, f, t, 1, TH_SYN | TH_ACK, NULL, 0); f->step = 2; return US(30);
    case 2: tcp(m, f, t, 0, TH_ACK, NULL, 0); f->step = 3; return US(50);
    case 3: /* ClientHello */
        tcp(m, f, t, 0, TH_PSH | TH_ACK, junk(m, 517), 517);
        f->left = 2800 + rng_below(&m->r, 2400); /* ServerHello .. Finished */
        f->step = 4;
        return f->rtt;
    case 4: { /* the server's handshake flight */
        uint32_t n = f->left < mss ? f->left : mss;
        tcp(m, f, t, 1, TH_PSH | TH_ACK, junk(m, n), n);
        f->left -= n;
        if (f->left) {
            return US(12);
        }
        f->step = 5;
        return US(200);
    }
    case 5: /* client Finished + first request */
        tcp(m, f, t, 0, TH_PSH | TH_ACK, junk(m, 380), 80 + rng_below(&m->r, 500));
        f->left = resp_size(m);
        f->cwnd = 10;
        f->inburst = 0;
        f->step = 6;
        return f->rtt;
    case 6: { /* response: cwnd-sized bursts, one RTT apart; an ACK every 2 segments */
        uint32_t n = f->left < mss ? f->left : mss;
        tcp(m, f, t, 1, TH_ACK | (n < mss ? TH_PSH : 0), junk(m, n), n);
        f->left -= n;
        f->inburst++;
        if (f->inburst % 2 == 0 || f->left == 0) {
            f->step = 7; /* the client's ACK */
            return US(20);
        }
        if (f->inburst >= f->cwnd) {
            f->inburst = 0;
            f->cwnd = f->cwnd < 256 ? f->cwnd * 2 : f->cwnd;
            return f->rtt;
        }
        return US(12);
    }
    case 7:
        tcp(m, f, t, 0, TH_ACK, NULL, 0);
        if (f->left) {
            f->step = 6;
            if (f->inburst >= f->cwnd) {
                f->inburst = 0;
                f->cwnd = f->cwnd < 256 ? f->cwnd * 2 : f->cwnd;
                return f->rtt;
            }
            return US(10);
        }
        if (--f->reqs > 0) {
            f->step = 5; /* keep-alive: the next request after think time */
            return rng_range(&m->r, MS(5), MS(900));
        }
        f->step = 8;
        return rng_range(&m->r, MS(10), MS(2000));
    case 8: tcp(m, f, t, 0, TH_FIN | TH_ACK, NULL, 0); f->step = 9; return f->rtt;
    case 9: tcp(m, f, t, 1, TH_FIN | TH_ACK, NULL, 0); f->step = 10; return US(40);
    case 10: tcp(m, f, t, 0, TH_ACK, NULL, 0); return -1;
    default: return -1;
    }
}

static int64_t ssh_step(struct mix *m, struct flow *f, int64_t t)
{
    switch (f->step) {
    case 0: tcp(m, f, t, 0, TH_SYN, NULL, 0); f->step = 1; return f->rtt;
    case 1: tcp(m, f, t, 1, TH_SYN | TH_ACK, NULL, 0); f->step = 2; return US(30);
    case 2: tcp(m, f, t, 0, TH_ACK, NULL, 0); f->step = 3; return MS(1);
    case 3: { /* keystrokes and echoes */
        int dir = (int)(f->left & 1);
        uint32_t n = 36 + 16 * rng_below(&m->r, 6);
        tcp(m, f, t, dir, TH_PSH | TH_ACK, junk(m, n), n);
        if (--f->left) {
            return dir == 0 ? f->rtt : rng_range(&m->r, MS(40), MS(800));
        }
        f->step = 4;
        return MS(5);
    }
    case 4: tcp(m, f, t, 0, TH_FIN | TH_ACK, NULL, 0); f->step = 5; return f->rtt;
    case 5: tcp(m, f, t, 1, TH_FIN | TH_ACK, NULL, 0); f->step = 6; return US(40);
    case 6: tcp(m, f, t, 0, TH_ACK, NULL, 0); return -1;
    default: return -1;
    }
}

/* One ICMP error that portmortem's filter keeps but that concerns no SMTP flow: port
 * unreachable for a UDP datagram, or fragmentation needed / packet too big for HTTPS. */
static void noise(struct mix *m, struct flow *f, int64_t t)
{
    struct gaddr c, s, r; /* e.from points at one of them: all live to the end */
    uint8_t orig[GP_MAX];
    addr_of(&c, f->fam, A_CLIENT, f->cli);
    addr_of(&s, f->fam, A_SERVER, f->srv);
    struct icmperr e;
    memset(&e, 0, sizeof(e));
    e.to = &c;
    e.qttl = -1;
    e.ipid = f->sipid;
    bool v6 = f->fam == 6;
    if (f->sub & 1) {
        e.origlen = gp_udp(orig, &c, &s, f->sport, 53, 64, f->cipid, m->junk, 40);
        e.from = &s;
        e.type = v6 ? 1 : 3;
        e.code = v6 ? 4 : 3;
        e.ttl = f->srv_ttl;
        e.qs = Q_RFC1812;
    } else {
        struct tcpseg g;
        uint8_t opts[12];
        memset(&g, 0, sizeof(g));
        g.src = &c;
        g.dst = &s;
        g.sport = f->sport;
        g.dport = 443;
        g.seq = f->isn + 1;
        g.ack = f->sseq;
        g.flags = TH_ACK | TH_PSH;
        g.ttl = 64;
        g.df = true;
        g.optlen = gp_opts_ts(opts, f->cts, f->sts);
        g.opts = opts;
        g.payload = m->junk;
        g.plen = v6 ? 1428 : 1448;
        e.origlen = gp_tcp(orig, &g);
        addr_of(&r, f->fam, A_ROUTER, f->srv);
        e.from = &r;
        e.type = v6 ? 2 : 3;
        e.code = v6 ? 0 : 4;
        e.mtu = v6 ? 1280 : 1400;
        e.ttl = 62;
        e.qs = Q_RFC792;
    }
    e.orig = orig;
    uint32_t len = gp_icmp_err(m->ip, &e);
    put(m, t, len, f->fam, 0, true);
}

static int64_t bg_step(struct mix *m, struct flow *f, int64_t t)
{
    switch (f->type) {
    case F_HTTPS: return https_step(m, f, t);
    case F_SSH: return ssh_step(m, f, t);
    case F_DNS:
        udp(m, f, t, f->step, f->step == 0 ? 28 + rng_below(&m->r, 40) : 60 + rng_below(&m->r, 400));
        return f->step++ == 0 ? f->rtt : -1;
    case F_QUIC: {
        int dir = f->step == 0 ? 0 : (int)(rng_below(&m->r, 4) == 0 ? 0 : 1);
        udp(m, f, t, dir, dir == 0 && f->step == 0 ? 1252 : 1150 + rng_below(&m->r, 200));
        f->step = 1;
        return --f->left ? (dir == 0 ? f->rtt : US(15 + rng_below(&m->r, 200))) : -1;
    }
    case F_NOISE: noise(m, f, t); return -1;
    default: return -1;
    }
}

/* ---- the loop ---- */

static bool done_writing(const struct mix *m)
{
    const struct gen_opts *o = m->o;
    return (o->size && gw_bytes(m->w) >= o->size) || (o->packets && m->packets >= o->packets);
}

/* Start the next flow in slot i at or after `now`. */
static void start_flow(struct mix *m, uint32_t i, int64_t now)
{
    struct flow *f = &m->f[i];
    memset(f, 0, sizeof(*f));
    f->fam = rng_unit(&m->r) < m->o->v6_share ? 6 : 4;
    f->cipid = (uint16_t)rng_u32(&m->r);
    f->sipid = (uint16_t)rng_u32(&m->r);
    f->cts = rng_u32(&m->r);
    f->sts = rng_u32(&m->r);
    int64_t t;
    if (m->o->storm) {
        smtp_start(m, f, true);
        t = now; /* the arrival clock in mix_main chose the time */
    } else {
        /* Keep the port-25/ICMP share of packets near --smtp-ratio: the next flow is an
         * SMTP attempt with probability p_smtp, which every 256 flow starts moves toward
         * the ratio by how far the packets written since the last adjustment missed it
         * (a damped, deterministic feedback loop). */
        if (++m->starts >= 256) {
            uint64_t dp = m->packets - m->adj_packets, dw = m->watched - m->adj_watched;
            if (dp > 1000) {
                double share = (double)dw / (double)dp;
                double k = share > 0 ? sqrt(m->o->smtp_ratio / share) : 2.0;
                k = k < 0.5 ? 0.5 : k > 2.0 ? 2.0 : k;
                m->p_smtp *= k;
                m->p_smtp = m->p_smtp < 1e-5 ? 1e-5 : m->p_smtp > 0.9 ? 0.9 : m->p_smtp;
                m->adj_packets = m->packets;
                m->adj_watched = m->watched;
            }
            m->starts = 0;
        }
        if (m->o->smtp_ratio > 0 && rng_unit(&m->r) < m->p_smtp) {
            smtp_start(m, f, false);
        } else {
            bg_start(m, f);
        }
        t = now + rng_range(&m->r, US(1), MS(40));
    }
    f->t0 = t;
    hpush(m, t, i);
}

/* Mix: every slot always holds a flow; a finished one starts the next (constant
 * concurrency). */
static void mix_loop(struct mix *m)
{
    while (have_event(m)) {
        struct hent e = next_event(m);
        struct flow *f = &m->f[e.slot];
        if (m->draining && f->type != F_SMTP) {
            continue; /* background is cut at the end; SMTP attempts finish */
        }
        int64_t d = f->type == F_SMTP ? smtp_step(m, f, e.t) : bg_step(m, f, e.t);
        if (d >= 0) {
            schedule(m, e.t, d, e.slot);
            continue;
        }
        if (f->type == F_SMTP) {
            m->live_smtp--;
        }
        if (!m->draining && done_writing(m)) {
            m->draining = true;
        }
        if (!m->draining) {
            start_flow(m, e.slot, e.t);
        }
    }
}

/* Storm: attempts arrive as a Poisson process at --rate; only live attempts sit in the
 * heap, idle slots wait in a free list. When every slot is busy, arrivals wait for one
 * (the rate is then what the slots allow: no burst to catch up). */
static void storm_loop(struct mix *m, int64_t t0)
{
    for (uint32_t i = m->nslots; i-- > 0;) {
        m->freelist[m->nfree++] = i;
    }
    int64_t now = t0;
    m->next_arrival = t0;
    for (;;) {
        if (!m->draining && done_writing(m)) {
            m->draining = true; /* the size is reached: no new attempt, the live ones finish */
        }
        bool can = !m->draining && m->nfree > 0;
        if (!can && !have_event(m)) {
            break;
        }
        int src;
        const struct hent *top = peek_event(m, &src);
        if (can && (!top || m->next_arrival <= top->t)) {
            if (m->next_arrival < now) {
                m->next_arrival = now;
            }
            start_flow(m, m->freelist[--m->nfree], m->next_arrival);
            double gap = -log(1.0 - rng_unit(&m->r)) / m->o->rate;
            m->next_arrival += (int64_t)(gap * 1e9);
            continue;
        }
        struct hent e = next_event(m);
        now = e.t;
        int64_t d = smtp_step(m, &m->f[e.slot], e.t);
        if (d >= 0) {
            schedule(m, e.t, d, e.slot);
            continue;
        }
        m->live_smtp--;
        m->freelist[m->nfree++] = e.slot;
        if (!m->draining && done_writing(m)) {
            m->draining = true;
        }
    }
}

int mix_main(const struct gen_opts *o)
{
    struct mix *m = calloc(1, sizeof(*m));
    if (!m) {
        die("out of memory");
    }
    m->o = o;
    rng_seed(&m->r, o->seed ^ (o->storm ? UINT64_C(0x5707) : UINT64_C(0x313)));
    for (size_t i = 0; i < sizeof(m->junk); i++) {
        m->junk[i] = (uint8_t)rng_u32(&m->r);
    }
    enum glink link = (int)o->link < 0 ? GL_ETH : o->link;
    if (link == GL_IPV4 || link == GL_IPV6) {
        die("mix writes IPv4 and IPv6: choose a link type that carries both");
    }
    m->nslots = o->concurrency ? o->concurrency : (o->storm ? 262144 : 8192);
    m->weights = o->has_weights ? o->weights : NULL;
    m->f = calloc(m->nslots, sizeof(*m->f));
    m->heap = calloc(m->nslots, sizeof(*m->heap));
    m->freelist = calloc(m->nslots, sizeof(*m->freelist));
    for (int i = 0; i < 2; i++) {
        m->fq[i].cap = m->nslots;
        m->fq[i].q = calloc(m->nslots, sizeof(struct hent));
        if (!m->fq[i].q) {
            die("out of memory");
        }
    }
    if (!m->f || !m->heap || !m->freelist) {
        die("out of memory");
    }
    m->w = gw_open(o->out, o->fmt, link, o->snaplen);
    int64_t t0 = SEC(PMGEN_EPOCH) + SEC(1);
    m->next_arrival = t0;
    /* First guess of the SMTP share of flows: an attempt writes ~12 packets, a background
     * flow ~30 on average; the feedback loop corrects the rest. */
    m->p_smtp = o->smtp_ratio * 30.0 / (12.0 * (1.0 - o->smtp_ratio) + 30.0 * o->smtp_ratio);
    if (o->storm) {
        storm_loop(m, t0);
    } else {
        for (uint32_t i = 0; i < m->nslots; i++) {
            start_flow(m, i, t0 + (int64_t)rng_below(&m->r, 1000000) * 1000);
        }
        mix_loop(m);
    }
    uint64_t bytes = gw_bytes(m->w);
    gw_close(m->w);
    if (o->truth) {
        FILE *f = fopen(o->truth, "w");
        if (!f) {
            die("cannot create %s", o->truth);
        }
        struct jw j;
        jw_begin(&j, f);
        jw_obj(&j, NULL);
        jw_str(&j, "generator", "pmgen");
        jw_str(&j, "mode", o->storm ? "storm" : "mix");
        jw_uint(&j, "seed", o->seed);
        jw_str(&j, "linktype", glink_name(link));
        jw_str(&j, "format", gfmt_name(o->fmt));
        jw_arr(&j, "ports");
        jw_int(&j, NULL, 25);
        jw_end_arr(&j);
        jw_uint(&j, "packets", m->packets);
        jw_uint(&j, "bytes", bytes);
        jw_uint(&j, "watched_packets", m->watched);
        jw_num(&j, "duration_s", (double)(m->last_ts - m->first_ts) / 1e9);
        jw_uint(&j, "slots", m->nslots);
        if (o->storm) {
            jw_num(&j, "rate", o->rate);
        }
        jw_uint(&j, "peak_concurrent_attempts", m->peak_smtp);
        jw_uint(&j, "attempts", m->attempts);
        jw_obj(&j, "outcomes");
        uint64_t failures = 0;
        for (int i = 0; i < O__COUNT; i++) {
            jw_uint(&j, outcome_names[i], m->out_count[i]);
            failures += i == O_CONNECTED ? 0 : m->out_count[i];
        }
        jw_end_obj(&j);
        jw_obj(&j, "families");
        jw_uint(&j, "ipv4", m->fam_count[0]);
        jw_uint(&j, "ipv6", m->fam_count[1]);
        jw_end_obj(&j);
        jw_int(&j, "exit", failures ? 1 : 0);
        jw_end_obj(&j);
        fputc('\n', f);
        if (fclose(f) != 0) {
            die("cannot write %s", o->truth);
        }
    }
    free(m->f);
    free(m->heap);
    free(m->freelist);
    free(m->fq[0].q);
    free(m->fq[1].q);
    free(m);
    return 0;
}
