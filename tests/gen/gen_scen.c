/*
 * gen_scen.c — owns pmgen's scenarios: small captures of one or more SMTP connection
 * attempts, each written from a hop model, with the ground truth that follows from how the
 * packets were built (never from running portmortem).
 *
 * The world, seen from the sending host (the capture point):
 *
 *   client 192.0.2.10 ── hop 1 192.0.2.1 ── hop 2 198.51.100.2 ── hop 3 203.0.113.1 ── MX 203.0.113.10
 *   (IPv6: 2001:db8:1::10, 2001:db8:1::1, 2001:db8:ff::2, 2001:db8:25::1, 2001:db8:25::10)
 *
 * The client sends with TTL 64. Every host starts at 64, so a packet from the router at
 * hop k arrives with TTL 64-(k-1) and one from the MX (3 routers away) with TTL 61; a
 * router forging RSTs one hop before the MX (hop 3) sends them with TTL 62. A second MX
 * (198.18.25.20, behind 198.18.25.1; IPv6 2001:db8:26::20) is as far away.
 *
 * Packets are collected with their times, sorted, then written: scenario code describes
 * each connection in causal order and need not interleave concurrent ones by hand.
 *
 * Verdict and owner in the truth follow the attribution table's intent (analyze/rules.c,
 * docs/VERDICTS.md) applied to the evidence the packets carry; conn_state follows Zeek's
 * conn_state() (base/protocols/conn/main.zeek) and reason nmap's portreasons.cc. Where
 * Zeek's answer depends on heuristics the packets do not settle (a lone RST, a one-sided
 * capture), the truth leaves conn_state out rather than guess.
 */
#include "pmgen.h"

#include <stdlib.h>
#include <string.h>

/* ---- the world ---- */

struct world {
    struct gaddr cli, hop1, hop2, hop3, mx1, mx2, mx2_hop3, dns, web;
};

static void world_init(struct world *w, int fam)
{
    if (fam == 6) {
        gaddr_parse(&w->cli, "2001:db8:1::10");
        gaddr_parse(&w->hop1, "2001:db8:1::1");
        gaddr_parse(&w->hop2, "2001:db8:ff::2");
        gaddr_parse(&w->hop3, "2001:db8:25::1");
        gaddr_parse(&w->mx1, "2001:db8:25::10");
        gaddr_parse(&w->mx2, "2001:db8:26::20");
        gaddr_parse(&w->mx2_hop3, "2001:db8:26::1");
        gaddr_parse(&w->dns, "2001:db8:1::53");
        gaddr_parse(&w->web, "2001:db8:80::443");
    } else {
        gaddr_parse(&w->cli, "192.0.2.10");
        gaddr_parse(&w->hop1, "192.0.2.1");
        gaddr_parse(&w->hop2, "198.51.100.2");
        gaddr_parse(&w->hop3, "203.0.113.1");
        gaddr_parse(&w->mx1, "203.0.113.10");
        gaddr_parse(&w->mx2, "198.18.25.20");
        gaddr_parse(&w->mx2_hop3, "198.18.25.1");
        gaddr_parse(&w->dns, "192.0.2.53");
        gaddr_parse(&w->web, "198.51.100.80");
    }
}

#define TTL_SENDER 64
#define TTL_MX 61                          /* 3 routers away */
#define TTL_HOP(k) ((uint8_t)(64 - ((k)-1))) /* ICMP from the router at hop k */
#define TTL_FORGER 62                      /* forging router at hop 3 */

/* ---- scenario state ---- */

struct ev {
    int64_t ts;
    uint32_t seq;
    uint32_t len;
    uint8_t fam;
    uint8_t flags;
    uint8_t *data;
};

struct truth {
    int64_t ts;
    struct gaddr src, dst;
    uint16_t sport, dport;
    uint32_t isn;
    const char *outcome, *verdict, *owner, *conn_state, *reason;
    int syns;
    int banner_code;                /* 0: not checked */
    const char *reply_cmd;          /* a later reply that must be reported */
    int reply_code;
    bool icmp;                      /* icmp_from/type/code are set */
    struct gaddr icmp_from;
    int icmp_type, icmp_code;
    int rst_hops, rst_expected_hops; /* -1: not checked, -2: must be null */
    int masked;                     /* -1: not checked */
    const char *confidence;         /* NULL: not checked */
    const char *note;
};

#define MAX_TRUTH 16

struct sc {
    struct rng r;
    int fam;
    struct world W;
    int64_t t0;
    struct ev *ev;
    size_t nev, capev;
    struct truth tr[MAX_TRUTH];
    int ntr;
    uint16_t next_sport;
    uint16_t dns_id;
    uint16_t icmp_ipid;
    const char *ports;
    /* The capture's window (issue 14): packets outside [from, to) are not written (0: no
     * bound). The truth still describes every attempt as the packets in the window show it. */
    int64_t window_from, window_to;
    bool inbound_hidden;            /* write only what the capturing host sent */
};

static void ev_add(struct sc *s, int64_t ts, const uint8_t *ip, uint32_t len, int fam,
                   unsigned flags)
{
    if (s->nev == s->capev) {
        s->capev = s->capev ? s->capev * 2 : 64;
        s->ev = realloc(s->ev, s->capev * sizeof(*s->ev));
        if (!s->ev) {
            die("out of memory");
        }
    }
    struct ev *e = &s->ev[s->nev];
    e->ts = ts;
    e->seq = (uint32_t)s->nev;
    e->len = len;
    e->fam = (uint8_t)fam;
    e->flags = (uint8_t)flags;
    e->data = malloc(len);
    if (!e->data) {
        die("out of memory");
    }
    memcpy(e->data, ip, len);
    s->nev++;
}

static int ev_cmp(const void *a, const void *b)
{
    const struct ev *x = a, *y = b;
    if (x->ts != y->ts) {
        return x->ts < y->ts ? -1 : 1;
    }
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* ---- background: the MX lookup that precedes every delivery, idle DNS ---- */

static uint32_t dns_name(uint8_t *o, const char *name)
{
    uint32_t n = 0;
    while (*name) {
        const char *dot = strchr(name, '.');
        size_t l = dot ? (size_t)(dot - name) : strlen(name);
        o[n++] = (uint8_t)l;
        memcpy(o + n, name, l);
        n += (uint32_t)l;
        name += l + (dot ? 1 : 0);
    }
    o[n++] = 0;
    return n;
}

/* One DNS query and its answer (RFC 1035): MX example.net → 10 mx.example.net. Background
 * traffic: portmortem's filter drops it, but it moves the capture's first/last times. */
static int64_t dns_lookup(struct sc *s, int64_t t, bool answer)
{
    uint8_t q[128], ip[256];
    uint16_t id = s->dns_id++;
    memset(q, 0, 12);
    q[0] = (uint8_t)(id >> 8);
    q[1] = (uint8_t)id;
    q[2] = 0x01; /* RD */
    q[5] = 1;    /* QDCOUNT */
    uint32_t n = 12 + dns_name(q + 12, "example.net");
    q[n++] = 0;
    q[n++] = 15; /* MX */
    q[n++] = 0;
    q[n++] = 1; /* IN */
    uint16_t sport = (uint16_t)(49152 + rng_below(&s->r, 16000));
    uint32_t len = gp_udp(ip, &s->W.cli, &s->W.dns, sport, 53, TTL_SENDER,
                          (uint16_t)rng_u32(&s->r), q, n);
    ev_add(s, t, ip, len, s->fam, GW_OUT | GW_BG);
    if (!answer) {
        return t;
    }
    uint8_t a[160];
    memcpy(a, q, n);
    a[2] = 0x81;
    a[3] = 0x80; /* QR RD RA */
    a[7] = 1;    /* ANCOUNT */
    uint32_t m = n;
    const uint8_t rr[] = {0xc0, 0x0c, 0, 15, 0, 1, 0, 0, 0x0e, 0x10};
    memcpy(a + m, rr, sizeof(rr));
    m += sizeof(rr);
    uint8_t rdata[64];
    rdata[0] = 0;
    rdata[1] = 10; /* preference */
    uint32_t rl = 2 + dns_name(rdata + 2, "mx.example.net");
    a[m++] = 0;
    a[m++] = (uint8_t)rl;
    memcpy(a + m, rdata, rl);
    m += rl;
    t += MS(12);
    len = gp_udp(ip, &s->W.dns, &s->W.cli, 53, sport, TTL_SENDER, (uint16_t)rng_u32(&s->r), a, m);
    ev_add(s, t, ip, len, s->fam, GW_BG);
    return t;
}

/* ---- TCP connections ---- */

struct conn {
    struct sc *s;
    const struct gaddr *cli, *srv;
    uint16_t sport, dport;
    uint32_t isn, cseq, sisn, sseq;
    int64_t first_syn;
    uint8_t srv_ttl;
    uint16_t cipid, sipid;
    uint32_t cts, sts; /* TCP timestamp clocks (ms) at first_syn */
    uint32_t last_ctv, last_stv; /* the last TSval each side sent: the other echoes it */
    unsigned ext6;     /* IPv6 extension headers on the client's packets */
    bool ipopts;       /* IPv4 options on the client's SYN */
    bool hide_server;  /* one-sided capture: server packets are not written */
    int64_t rtt;
    uint16_t mss;
    uint8_t syn[GP_MAX];
    uint32_t synlen;
    uint8_t last[GP_MAX]; /* the last client segment, as sent */
    uint32_t lastlen;
};

static struct conn *conn_new(struct sc *s, const struct gaddr *srv, uint16_t dport)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (!c) {
        die("out of memory");
    }
    c->s = s;
    c->cli = &s->W.cli;
    c->srv = srv;
    c->sport = s->next_sport++;
    c->dport = dport;
    c->isn = rng_u32(&s->r);
    c->sisn = rng_u32(&s->r);
    c->cseq = c->isn;
    c->sseq = c->sisn;
    c->srv_ttl = TTL_MX;
    c->cipid = (uint16_t)rng_u32(&s->r);
    c->sipid = (uint16_t)rng_u32(&s->r);
    c->cts = rng_u32(&s->r);
    c->sts = rng_u32(&s->r);
    c->rtt = MS(30) + (int64_t)rng_below(&s->r, 2000) * 1000; /* 30-32 ms */
    c->mss = s->fam == 6 ? 1440 : 1460;
    c->first_syn = -1;
    return c;
}

/* A fresh ISN on the same 4-tuple (RFC 9293 §3.4.1): the same socket retried. */
static void conn_new_isn(struct conn *c)
{
    c->isn = rng_u32(&c->s->r);
    c->sisn = rng_u32(&c->s->r);
    c->cseq = c->isn;
    c->sseq = c->sisn;
    c->first_syn = -1;
}

static uint32_t tsclock(uint32_t base, int64_t first, int64_t t)
{
    return base + (uint32_t)((t - (first < 0 ? t : first)) / MS(1));
}

/* One segment from the client (from_client) or the server. Sequence numbers advance by
 * payload + SYN + FIN; the ACK field acknowledges everything the other side sent so far
 * (scenario code calls these in causal order). */
static void seg(struct conn *c, int64_t t, bool from_client, uint8_t flags, const void *payload,
                uint32_t plen)
{
    struct sc *s = c->s;
    uint8_t opts[40], ipbuf[GP_MAX];
    static const uint8_t rr_opt[12] = {7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, 1}; /* RR + EOL pad */
    struct tcpseg g;
    memset(&g, 0, sizeof(g));
    bool syn = flags & TH_SYN;
    if (syn && from_client && c->first_syn < 0) {
        c->first_syn = t;
    }
    if (from_client) {
        g.src = c->cli;
        g.dst = c->srv;
        g.sport = c->sport;
        g.dport = c->dport;
        g.seq = syn ? c->isn : c->cseq;
        g.ack = (flags & TH_ACK) ? c->sseq : 0;
        g.ttl = TTL_SENDER;
        g.ipid = c->cipid++;
        g.win = syn ? 64240 : 502;
        g.ext6 = c->ext6;
        g.frag_id = rng_u32(&s->r);
        if (syn && c->ipopts) {
            g.ipopts = rr_opt;
            g.ipoptlen = sizeof(rr_opt);
        }
        uint32_t tv = tsclock(c->cts, c->first_syn, t);
        uint32_t te = (flags & TH_ACK) ? c->last_stv : 0;
        g.optlen = syn ? gp_opts_syn(opts, c->mss, 7, tv, 0)
                       : (flags & TH_RST) ? 0 : gp_opts_ts(opts, tv, te);
        c->last_ctv = tv;
    } else {
        g.src = c->srv;
        g.dst = c->cli;
        g.sport = c->dport;
        g.dport = c->sport;
        g.seq = syn ? c->sisn : c->sseq;
        g.ack = c->cseq;
        g.ttl = c->srv_ttl;
        g.ipid = c->sipid++;
        g.win = syn ? 65160 : 509;
        uint32_t tv = tsclock(c->sts, c->first_syn, t);
        uint32_t te = c->last_ctv;
        g.optlen = syn ? gp_opts_syn(opts, c->mss, 7, tv, te)
                       : (flags & TH_RST) ? 0 : gp_opts_ts(opts, tv, te);
        c->last_stv = tv;
    }
    g.flags = flags;
    g.df = true;
    g.opts = opts;
    g.payload = payload;
    g.plen = plen;
    uint32_t len = gp_tcp(ipbuf, &g);
    if (from_client) {
        if (syn) {
            memcpy(c->syn, ipbuf, len);
            c->synlen = len;
        }
        memcpy(c->last, ipbuf, len);
        c->lastlen = len;
        if (!syn) {
            c->cseq += plen + ((flags & TH_FIN) ? 1 : 0);
        } else {
            c->cseq = c->isn + 1;
        }
    } else {
        if (syn) {
            c->sseq = c->sisn + 1;
        } else {
            c->sseq += plen + ((flags & TH_FIN) ? 1 : 0);
        }
    }
    if (!from_client && c->hide_server) {
        return;
    }
    ev_add(s, t, ipbuf, len, s->fam, from_client ? GW_OUT : 0);
}

static void syn(struct conn *c, int64_t t) { seg(c, t, true, TH_SYN, NULL, 0); }
static void synack(struct conn *c, int64_t t) { seg(c, t, false, TH_SYN | TH_ACK, NULL, 0); }
static void cack(struct conn *c, int64_t t) { seg(c, t, true, TH_ACK, NULL, 0); }
static void sack(struct conn *c, int64_t t) { seg(c, t, false, TH_ACK, NULL, 0); }
static void cfin(struct conn *c, int64_t t) { seg(c, t, true, TH_FIN | TH_ACK, NULL, 0); }
static void sfin(struct conn *c, int64_t t) { seg(c, t, false, TH_FIN | TH_ACK, NULL, 0); }
static void srst(struct conn *c, int64_t t) { seg(c, t, false, TH_RST | TH_ACK, NULL, 0); }

static void cdata(struct conn *c, int64_t t, const char *txt)
{
    seg(c, t, true, TH_PSH | TH_ACK, txt, (uint32_t)strlen(txt));
}

static void sdata(struct conn *c, int64_t t, const char *txt)
{
    seg(c, t, false, TH_PSH | TH_ACK, txt, (uint32_t)strlen(txt));
}

static void cbytes(struct conn *c, int64_t t, const uint8_t *p, uint32_t n)
{
    seg(c, t, true, TH_PSH | TH_ACK, p, n);
}

static void sbytes(struct conn *c, int64_t t, const uint8_t *p, uint32_t n)
{
    seg(c, t, false, TH_PSH | TH_ACK, p, n);
}

/* The RST a stack sends for a SYN to a closed port (RFC 9293 §3.10.7.1): RST+ACK, seq 0,
 * ack ISN+1, window 0, IP ID 0, DF (Linux; the lab saw the same from netfilter's REJECT
 * --reject-with tcp-reset, so only the TTL tells who sent it). Its source is the MX's
 * address whoever sends it. */
static void rst_refuse(struct conn *c, int64_t t, uint8_t ttl, unsigned flags)
{
    uint8_t ipbuf[GP_MAX];
    struct tcpseg g;
    memset(&g, 0, sizeof(g));
    g.src = c->srv;
    g.dst = c->cli;
    g.sport = c->dport;
    g.dport = c->sport;
    g.seq = 0;
    g.ack = c->isn + 1;
    g.flags = TH_RST | TH_ACK;
    g.ttl = ttl;
    g.df = true;
    uint32_t len = gp_tcp(ipbuf, &g);
    ev_add(c->s, t, ipbuf, len, c->s->fam, flags);
}

/* The client stack resets a SYN-ACK it has no socket for (seq = the SYN-ACK's ack). */
static void crst_bare(struct conn *c, int64_t t)
{
    uint8_t ipbuf[GP_MAX];
    struct tcpseg g;
    memset(&g, 0, sizeof(g));
    g.src = c->cli;
    g.dst = c->srv;
    g.sport = c->sport;
    g.dport = c->dport;
    g.seq = c->isn + 1;
    g.flags = TH_RST;
    g.ttl = TTL_SENDER;
    g.df = true;
    uint32_t len = gp_tcp(ipbuf, &g);
    ev_add(c->s, t, ipbuf, len, c->s->fam, GW_OUT);
}

/* An ICMP/ICMPv6 error about `orig` (a packet the client sent). `qttl` is the TTL the
 * quoted header shows: what the router held (-1: as sent). */
static void icmp_about(struct conn *c, int64_t t, const struct gaddr *from, uint8_t ttl,
                       uint8_t type, uint8_t code, enum quote_style qs, int qttl,
                       const uint8_t *orig, uint32_t origlen, uint16_t mtu, unsigned flags)
{
    struct sc *s = c->s;
    uint8_t ipbuf[GP_MAX];
    struct icmperr e;
    memset(&e, 0, sizeof(e));
    e.from = from;
    e.to = c->cli;
    e.type = type;
    e.code = code;
    e.ttl = ttl;
    e.ipid = s->icmp_ipid++;
    e.mtu = mtu;
    e.qs = qs;
    e.orig = orig;
    e.origlen = origlen;
    e.qttl = qttl;
    uint32_t len = gp_icmp_err(ipbuf, &e);
    ev_add(s, t, ipbuf, len, s->fam, flags);
}

/* ---- dialogue pieces ---- */

static int64_t handshake(struct conn *c, int64_t t)
{
    syn(c, t);
    t += c->rtt;
    synack(c, t);
    t += US(80);
    cack(c, t);
    return t;
}

/* Client command, then the server's reply one RTT (plus a little work) later. */
static int64_t cmd(struct conn *c, int64_t t, const char *command, const char *reply)
{
    t += US(300);
    cdata(c, t, command);
    t += c->rtt + US(400);
    sdata(c, t, reply);
    return t;
}

static const char *const banner220 = "220 mx.example.net ESMTP Postfix (Debian/GNU)\r\n";

static const char *const ehlo_reply =
    "250-mx.example.net\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n"
    "250-ETRN\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n"
    "250-DSN\r\n250 SMTPUTF8\r\n";

static const char *const message_body =
    "Received: by mail.example.org (Postfix, from userid 1000)\r\n"
    "\tid 4TlXyZ1abc; Fri,  1 Mar 2024 12:00:00 +0000 (UTC)\r\n"
    "From: Alice <alice@example.org>\r\n"
    "To: Bob <bob@example.net>\r\n"
    "Subject: quarterly figures\r\n"
    "Message-Id: <20240301120000.4TlXyZ1abc@mail.example.org>\r\n"
    "Date: Fri,  1 Mar 2024 12:00:00 +0000\r\n"
    "\r\n"
    "Hi Bob,\r\n\r\nthe figures are attached as promised.\r\n\r\nAlice\r\n.\r\n";

/* The server's greeting after the handshake. */
static int64_t greet(struct conn *c, int64_t t, const char *banner)
{
    t += MS(2);
    sdata(c, t, banner);
    return t;
}

/* QUIT, 221, the server closes first (Postfix), the client closes too: Zeek's SF. */
static int64_t quit_close(struct conn *c, int64_t t)
{
    t = cmd(c, t, "QUIT\r\n", "221 2.0.0 Bye\r\n");
    t += US(60);
    sfin(c, t);
    t += US(300);
    cfin(c, t);
    t += c->rtt;
    sack(c, t);
    return t;
}

static int64_t envelope(struct conn *c, int64_t t)
{
    t = cmd(c, t, "EHLO mail.example.org\r\n", ehlo_reply);
    t = cmd(c, t, "MAIL FROM:<alice@example.org> SIZE=512\r\n", "250 2.1.0 Ok\r\n");
    t = cmd(c, t, "RCPT TO:<bob@example.net>\r\n", "250 2.1.5 Ok\r\n");
    return t;
}

static int64_t data_ok(struct conn *c, int64_t t)
{
    t = cmd(c, t, "DATA\r\n", "354 End data with <CR><LF>.<CR><LF>\r\n");
    return cmd(c, t, message_body, "250 2.0.0 Ok: queued as 4TlXyZ1abc\r\n");
}

/* A whole successful delivery on an open connection: greeting to close. */
static int64_t deliver(struct conn *c, int64_t t)
{
    t = handshake(c, t);
    t = greet(c, t, banner220);
    t = envelope(c, t);
    t = data_ok(c, t);
    return quit_close(c, t);
}

/* ---- truth ---- */

static struct truth *truth(struct conn *c, const char *outcome, const char *verdict,
                           const char *owner, int syns, const char *conn_state,
                           const char *reason)
{
    struct sc *s = c->s;
    if (s->ntr >= MAX_TRUTH) {
        die("internal: too many attempts in one scenario");
    }
    struct truth *t = &s->tr[s->ntr++];
    memset(t, 0, sizeof(*t));
    t->ts = c->first_syn;
    t->src = *c->cli;
    t->dst = *c->srv;
    t->sport = c->sport;
    t->dport = c->dport;
    t->isn = c->isn;
    t->outcome = outcome;
    t->verdict = verdict;
    t->owner = owner;
    t->syns = syns;
    t->conn_state = conn_state;
    t->reason = reason;
    t->rst_hops = t->rst_expected_hops = -1;
    t->masked = -1;
    return t;
}

static struct truth *truth_ok(struct conn *c, int syns)
{
    struct truth *t = truth(c, "connected", "ok", "none", syns, "SF", "syn-ack");
    t->banner_code = 220;
    return t;
}

static void truth_icmp(struct truth *t, const struct gaddr *from, int type, int code)
{
    t->icmp = true;
    t->icmp_from = *from;
    t->icmp_type = type;
    t->icmp_code = code;
}

/* ---- scenarios ---- */

static void sc_success(struct sc *s)
{
    int64_t t = dns_lookup(s, s->t0, true);
    struct conn *c = conn_new(s, &s->W.mx1, 25);
    deliver(c, t + MS(5));
    truth_ok(c, 1)->note = "handshake, 220 greeting, EHLO (STARTTLS offered), MAIL, RCPT, "
                           "DATA, QUIT, FIN both ways";
    free(c);
}

static void sc_ipv4_options(struct sc *s)
{
    int64_t t = dns_lookup(s, s->t0, true);
    struct conn *c = conn_new(s, &s->W.mx1, 25);
    c->ipopts = true;
    deliver(c, t + MS(5));
    truth_ok(c, 1)->note = "the SYN carries an IPv4 record-route option (IHL 8)";
    free(c);
}

static void sc_ipv6_ext(struct sc *s)
{
    int64_t t = dns_lookup(s, s->t0, true);
    struct conn *c = conn_new(s, &s->W.mx1, 25);
    c->ext6 = EXT_HBH | EXT_DST | EXT_FRAG;
    deliver(c, t + MS(5));
    truth_ok(c, 1)->note = "every client packet carries hop-by-hop, destination-options and "
                           "an atomic fragment header before TCP";
    free(c);
}

static void sc_banner_multiline(struct sc *s)
{
    int64_t t = dns_lookup(s, s->t0, true);
    struct conn *c = conn_new(s, &s->W.mx1, 25);
    t = handshake(c, t + MS(5));
    /* Three greeting lines in two segments, the cut in the middle of the second line. */
    t += MS(2);
    sdata(c, t, "220-mx.example.net ESMTP Exim 4.96\r\n220-Unsolicited bulk mail is ");
    t += US(150);
    sdata(c, t, "not welcome here\r\n220 We do not authorize the use of this system to "
                "transport unsolicited bulk e-mail\r\n");
    t = envelope(c, t);
    t = data_ok(c, t);
    quit_close(c, t);
    truth_ok(c, 1)->note = "multi-line 220 greeting split across two segments mid-line";
    free(c);
}

static void sc_masked_banner(struct sc *s)
{
    int64_t t = dns_lookup(s, s->t0, true);
    struct conn *c = conn_new(s, &s->W.mx1, 25);
    t = handshake(c, t + MS(5));
    t = greet(c, t, "220 ****************************************************\r\n");
    t = cmd(c, t, "EHLO mail.example.org\r\n",
            "250-mx.example.net\r\n250-XXXXXXXA\r\n250-SIZE 10240000\r\n250 8BITMIME\r\n");
    t = cmd(c, t, "MAIL FROM:<alice@example.org>\r\n", "250 2.1.0 Ok\r\n");
    t = cmd(c, t, "RCPT TO:<bob@example.net>\r\n", "250 2.1.5 Ok\r\n");
    t = data_ok(c, t);
    quit_close(c, t);
    struct truth *tr = truth_ok(c, 1);
    tr->masked = 1;
    tr->note = "Cisco ASA ESMTP inspection: masked greeting, STARTTLS masked in EHLO; the mail "
               "is accepted";
    free(c);
}

static void sc_starttls(struct sc *s)
{
    int64_t t = dns_lookup(s, s->t0, true);
    struct conn *c = conn_new(s, &s->W.mx1, 25);
    t = handshake(c, t + MS(5));
    t = greet(c, t, banner220);
    t = cmd(c, t, "EHLO mail.example.org\r\n", ehlo_reply);
    t = cmd(c, t, "STARTTLS\r\n", "220 2.0.0 Ready to start TLS\r\n");
    /* TLS 1.3 records: ClientHello, ServerHello..., then application data both ways. */
    uint8_t rec[600];
    for (int i = 0; i < 4; i++) {
        uint32_t n = i == 1 ? 520u : 180u + 40u * (uint32_t)i;
        for (uint32_t k = 0; k < n; k++) {
            rec[k] = (uint8_t)rng_u32(&s->r);
        }
        rec[0] = i == 0 ? 0x16 : 0x17;
        rec[1] = 0x03;
        rec[2] = i == 0 ? 0x01 : 0x03;
        rec[3] = (uint8_t)((n - 5) >> 8);
        rec[4] = (uint8_t)(n - 5);
        t += US(300);
        if (i % 2 == 0) {
            cbytes(c, t, rec, n);
        } else {
            t += c->rtt;
            sbytes(c, t, rec, n);
        }
    }
    t += US(200);
    cfin(c, t);
    t += c->rtt;
    sfin(c, t);
    t += US(100);
    cack(c, t);
    truth_ok(c, 1)->note = "STARTTLS accepted (220 2.0.0), then TLS records both ways";
    free(c);
}

static void sc_implicit_tls(struct sc *s)
{
    int64_t t = dns_lookup(s, s->t0, true);
    struct conn *c = conn_new(s, &s->W.mx1, 465);
    t = handshake(c, t + MS(5));
    uint8_t rec[700];
    for (int i = 0; i < 4; i++) {
        uint32_t n = i == 1 ? 640u : 200u + 60u * (uint32_t)i;
        for (uint32_t k = 0; k < n; k++) {
            rec[k] = (uint8_t)rng_u32(&s->r);
        }
        rec[0] = i < 2 ? 0x16 : 0x17;
        rec[1] = 0x03;
        rec[2] = i == 0 ? 0x01 : 0x03;
        rec[3] = (uint8_t)((n - 5) >> 8);
        rec[4] = (uint8_t)(n - 5);
        t += US(300);
        if (i % 2 == 0) {
            cbytes(c, t, rec, n);
        } else {
            t += c->rtt;
            sbytes(c, t, rec, n);
        }
    }
    t += US(200);
    cfin(c, t);
    t += c->rtt;
    sfin(c, t);
    t += US(100);
    cack(c, t);
    struct truth *tr = truth(c, "connected", "ok", "none", 1, "SF", "syn-ack");
    tr->note = "port 465 (implicit TLS): ClientHello first, the server answers in TLS";
    free(c);
}

/* An earlier good delivery to MX 1: the SYN-ACK's TTL 61 is the hop reference. */
static int64_t reference_delivery(struct sc *s, int64_t t)
{
    struct conn *a = conn_new(s, &s->W.mx1, 25);
    t = deliver(a, t);
    truth_ok(a, 1)->note = "hop reference: SYN-ACK TTL 61 = 3 hops";
    free(a);
    return t;
}

static void sc_server_rst(struct sc *s)
{
    int64_t t = dns_lookup(s, s->t0, true);
    t = reference_delivery(s, t + MS(5));
    struct conn *c = conn_new(s, &s->W.mx1, 25);
    t += SEC(2);
    syn(c, t);
    rst_refuse(c, t + c->rtt, TTL_MX, 0);
    struct truth *tr = truth(c, "refused", "remote-refused", "recipient-postmaster", 1, "REJ",
                             "reset");
    tr->rst_hops = 3;
    tr->rst_expected_hops = 3;
    tr->note = "RST+ACK TTL 61 (3 hops), as far as the MX's own SYN-ACK";
    free(c);
}

static void sc_forged_rst(struct sc *s)
{
    int64_t t = dns_lookup(s, s->t0, true);
    t = reference_delivery(s, t + MS(5));
    struct conn *c = conn_new(s, &s->W.mx1, 25);
    t += SEC(2);
    syn(c, t);
    rst_refuse(c, t + MS(20), TTL_FORGER, 0);
    struct truth *tr = truth(c, "refused", "path-rst", "path", 1, "REJ", "reset");
    tr->rst_hops = 2;
    tr->rst_expected_hops = 3;
    tr->note = "RST TTL 62 (2 hops) in the MX's name while the MX itself is 3 hops away: "
               "forged by the router at hop 3";
    free(c);
}

static void sc_rst_no_reference(struct sc *s)
{
    int64_t t = dns_lookup(s, s->t0, true);
    struct conn *c = conn_new(s, &s->W.mx1, 25);
    t += MS(5);
    syn(c, t);
    rst_refuse(c, t + c->rtt, TTL_MX, 0);
    /* Issue 14: with no reference the origin is not settled, so nobody is blamed yet. */
    struct truth *tr = truth(c, "refused", "remote-refused", "unknown", 1, "REJ", "reset");
    tr->rst_hops = 3;
    tr->rst_expected_hops = -2;
    tr->confidence = "low";
    tr->note = "RST TTL 61 with nothing else from the MX: no hop reference";
    free(c);
}

/* A connection to another port of `srv` (not watched: the attempt filter drops it) whose
 * SYN-ACK and FIN arrive with `ttl`: other traffic of that host in the same capture. */
static int64_t other_port(struct sc *s, const struct gaddr *srv, uint16_t port, uint8_t ttl,
                          int64_t t)
{
    struct conn *o = conn_new(s, srv, port);
    o->srv_ttl = ttl;
    t = handshake(o, t);
    t += MS(5);
    sfin(o, t);
    t += US(200);
    cfin(o, t);
    t += o->rtt;
    sack(o, t);
    free(o);
    return t;
}

/* Issue 14: a RST forged by the router at hop 2 (TTL 63: two hops short of the MX's 61)
 * where only port 25 is watched; the MX's own SYN-ACK on port 443 (ignored by the attempt
 * filter) is in the capture. */
static void sc_forged_rst_other_port(struct sc *s)
{
    int64_t t = dns_lookup(s, s->t0, true);
    t = other_port(s, &s->W.mx1, 443, TTL_MX, t + MS(5));
    struct conn *c = conn_new(s, &s->W.mx1, 25);
    t += SEC(1);
    syn(c, t);
    rst_refuse(c, t + MS(10), 63, 0);
    struct truth *tr = truth(c, "refused", "path-rst", "path", 1, "REJ", "reset");
    tr->rst_hops = 1;
    tr->rst_expected_hops = 3;
    tr->confidence = "high";
    tr->note = "RST TTL 63 (1 hop) in the MX's name; the MX's SYN-ACK on 443 (TTL 61, not a "
               "watched port) says 3 hops: forged 2 hops short";
    free(c);
}

/* The same forged RST with nothing else from the MX or its network: no reference, so the
 * honest answer is "refused, origin unknown", not a forgery and not the postmaster. */
static void sc_forged_rst_alone(struct sc *s)
{
    int64_t t = dns_lookup(s, s->t0, true);
    struct conn *c = conn_new(s, &s->W.mx1, 25);
    t += MS(5);
    syn(c, t);
    rst_refuse(c, t + MS(10), 63, 0);
    struct truth *tr = truth(c, "refused", "remote-refused", "unknown", 1, "REJ", "reset");
    tr->rst_hops = 1;
    tr->rst_expected_hops = -2;
    tr->confidence = "low";
    tr->note = "RST TTL 63 and nothing else from the MX or its network: unsettled";
    free(c);
}

/* A host beside the MX (same /24 or /48), on port 80. */
static void neighbour_addr(struct sc *s, struct gaddr *g, int k)
{
    char buf[64];
    if (s->fam == 6) {
        snprintf(buf, sizeof(buf), "2001:db8:25::%d", 80 + k);
    } else {
        snprintf(buf, sizeof(buf), "203.0.113.%d", 80 + k);
    }
    gaddr_parse(g, buf);
}

/* A RST forged one hop short (TTL 62) where only a neighbour of the MX (TTL 61, its web
 * server on port 80) gives a distance: one hop against a neighbour proves little. */
static void sc_forged_rst_neighbour(struct sc *s)
{
    struct gaddr nb;
    neighbour_addr(s, &nb, 0);
    int64_t t = dns_lookup(s, s->t0, true);
    t = other_port(s, &nb, 80, TTL_MX, t + MS(5));
    struct conn *c = conn_new(s, &s->W.mx1, 25);
    t += SEC(1);
    syn(c, t);
    rst_refuse(c, t + MS(20), TTL_FORGER, 0);
    struct truth *tr = truth(c, "refused", "path-rst", "path", 1, "REJ", "reset");
    tr->rst_hops = 2;
    tr->rst_expected_hops = 3;
    tr->confidence = "low";
    tr->note = "RST TTL 62; only a neighbour of the MX (TTL 61) gives a distance";
    free(c);
}

/* The MX's own RST (TTL 61) where the only reference is a neighbour one hop closer (TTL 62,
 * the recipient's gateway answering on port 80): as far as its network, medium. */
static void sc_rst_neighbour_closer(struct sc *s)
{
    struct gaddr nb;
    neighbour_addr(s, &nb, 1);
    int64_t t = dns_lookup(s, s->t0, true);
    t = other_port(s, &nb, 80, TTL_FORGER, t + MS(5));
    struct conn *c = conn_new(s, &s->W.mx1, 25);
    t += SEC(1);
    syn(c, t);
    rst_refuse(c, t + c->rtt, TTL_MX, 0);
    struct truth *tr = truth(c, "refused", "remote-refused", "recipient-postmaster", 1, "REJ",
                             "reset");
    tr->rst_hops = 3;
    tr->rst_expected_hops = 2;
    tr->confidence = "medium";
    tr->note = "RST TTL 61; a neighbour of the MX is 2 hops away (TTL 62): one farther, as "
               "far as that network";
    free(c);
}

/* Two neighbours at different distances (TTL 61 and 62) and a RST as far as the nearer: the
 * references disagree and the hop count cannot say who sent it. */
static void sc_rst_neighbours_disagree(struct sc *s)
{
    struct gaddr n0, n1;
    neighbour_addr(s, &n0, 0);
    neighbour_addr(s, &n1, 1);
    int64_t t = dns_lookup(s, s->t0, true);
    t = other_port(s, &n0, 80, TTL_MX, t + MS(5));
    t = other_port(s, &n1, 80, TTL_FORGER, t + MS(5));
    struct conn *c = conn_new(s, &s->W.mx1, 25);
    t += SEC(1);
    syn(c, t);
    rst_refuse(c, t + MS(20), TTL_FORGER, 0);
    struct truth *tr = truth(c, "refused", "remote-refused", "unknown", 1, "REJ", "reset");
    tr->rst_hops = 2;
    tr->rst_expected_hops = 2;
    tr->confidence = "low";
    tr->note = "RST TTL 62; the MX's neighbours are 2 and 3 hops away: references disagree";
    free(c);
}

static void sc_rst_race(struct sc *s)
{
    int64_t t = dns_lookup(s, s->t0, true);
    struct conn *c = conn_new(s, &s->W.mx1, 25);
    t += MS(5);
    syn(c, t);
    rst_refuse(c, t + MS(20), TTL_FORGER, 0);
    synack(c, t + c->rtt);
    crst_bare(c, t + c->rtt + US(40));
    struct truth *tr = truth(c, "refused", "path-rst", "path", 1, NULL, "reset");
    tr->rst_hops = 2;
    tr->note = "a RST (TTL 62) and then the real SYN-ACK (TTL 61) both answer the SYN; the "
               "client stack resets the late SYN-ACK";
    free(c);
}

static void sc_new_isn(struct sc *s)
{
    int64_t t = dns_lookup(s, s->t0, true);
    struct conn *c = conn_new(s, &s->W.mx1, 25);
    t += MS(5);
    syn(c, t);
    rst_refuse(c, t + c->rtt, TTL_MX, 0);
    struct truth *tr = truth(c, "refused", "remote-refused", "recipient-postmaster", 1, "REJ",
                             "reset");
    tr->rst_hops = 3;
    tr->rst_expected_hops = 3;
    tr->note = "first ISN refused by the MX (TTL 61); the second ISN's SYN-ACK gives 3 hops";
    conn_new_isn(c);
    deliver(c, t + SEC(1));
    truth_ok(c, 1)->note = "same 4-tuple, new ISN one second later: a new attempt, connected";
    free(c);
}

static void sc_retransmit_same_isn(struct sc *s)
{
    int64_t t = dns_lookup(s, s->t0, true);
    struct conn *c = conn_new(s, &s->W.mx1, 25);
    t += MS(5);
    syn(c, t);
    syn(c, t + SEC(1));
    int64_t t3 = t + SEC(3);
    syn(c, t3);
    synack(c, t3 + c->rtt);
    int64_t u = t3 + c->rtt + US(80);
    cack(c, u);
    u = greet(c, u, banner220);
    u = envelope(c, u);
    u = data_ok(c, u);
    quit_close(c, u);
    truth_ok(c, 3)->note = "SYNs at 0, 1, 3 s with one ISN, answered after the third";
    free(c);
}

/* SYNs at the given offsets (ms), nothing answers. */
static void syns_unanswered(struct conn *c, int64_t t, const int *ms, int n)
{
    for (int i = 0; i < n; i++) {
        syn(c, t + MS(ms[i]));
    }
}

static const int backoff4[] = {0, 1000, 3000, 7000};

static void sc_silent_drop(struct sc *s)
{
    int64_t t = dns_lookup(s, s->t0, true) + MS(5);
    struct conn *c = conn_new(s, &s->W.mx1, 25);
    syns_unanswered(c, t, backoff4, 4);
    dns_lookup(s, t + SEC(10), false);
    truth(c, "no-response", "silent-drop", "unknown", 4, "S0", "no-response")->note =
        "SYNs at 0, 1, 3, 7 s, nothing answers; the capture runs to 10 s";
    free(c);
}

static void sc_syn_only_short(struct sc *s)
{
    int64_t t = dns_lookup(s, s->t0, true) + MS(5);
    struct conn *c = conn_new(s, &s->W.mx1, 25);
    syn(c, t);
    dns_lookup(s, t + MS(500), false);
    truth(c, "incomplete", "inconclusive", "unknown", 1, "S0", "no-response")->note =
        "one SYN, the capture ends 0.5 s later: too early to call it unanswered";
    free(c);
}

static void sc_syn_then_background(struct sc *s)
{
    int64_t t = dns_lookup(s, s->t0, true) + MS(5);
    struct conn *c = conn_new(s, &s->W.mx1, 25);
    syn(c, t);
    for (int i = 1; i <= 10; i++) {
        dns_lookup(s, t + SEC(i), true);
    }
    truth(c, "no-response", "silent-drop", "unknown", 1, "S0", "no-response")->note =
        "one SYN, no answer, while the capture (other traffic) runs on for 10 s";
    free(c);
}

static void sc_silent_drop_everywhere(struct sc *s)
{
    int64_t t = dns_lookup(s, s->t0, true) + MS(5);
    struct conn *a = conn_new(s, &s->W.mx1, 25);
    struct conn *b = conn_new(s, &s->W.mx2, 25);
    syns_unanswered(a, t, backoff4, 4);
    syns_unanswered(b, t + SEC(10), backoff4, 4);
    dns_lookup(s, t + SEC(20), false);
    truth(a, "no-response", "silent-drop", "sender-network", 4, "S0", "no-response")->note =
        "both MX silent on 25: the sender's side";
    truth(b, "no-response", "silent-drop", "sender-network", 4, "S0", "no-response");
    free(a);
    free(b);
}

static void sc_silent_drop_one_dest(struct sc *s)
{
    int64_t t = dns_lookup(s, s->t0, true) + MS(5);
    struct conn *a = conn_new(s, &s->W.mx1, 25);
    t = deliver(a, t);
    truth_ok(a, 1);
    struct conn *b = conn_new(s, &s->W.mx2, 25);
    t += SEC(1);
    syns_unanswered(b, t, backoff4, 4);
    dns_lookup(s, t + SEC(10), false);
    truth(b, "no-response", "silent-drop", "recipient-gateway", 4, "S0", "no-response")->note =
        "MX 2 silent while MX 1 delivered: dropped at or near MX 2";
    free(a);
    free(b);
}

static void sc_provider_block(struct sc *s)
{
    int64_t t = dns_lookup(s, s->t0, true) + MS(5);
    struct conn *a = conn_new(s, &s->W.mx1, 25);
    struct conn *b = conn_new(s, &s->W.mx2, 25);
    syns_unanswered(a, t, backoff4, 4);
    syns_unanswered(b, t + SEC(10), backoff4, 4);
    struct conn *c = conn_new(s, &s->W.mx1, 587);
    int64_t u = handshake(c, t + SEC(20));
    u = greet(c, u, "220 mx.example.net ESMTP Postfix (submission)\r\n");
    u = cmd(c, u, "EHLO mail.example.org\r\n", ehlo_reply);
    quit_close(c, u);
    truth(a, "no-response", "provider-block", "provider", 4, "S0", "no-response")->note =
        "port 25 silent to both MX while port 587 to MX 1 connects";
    truth(b, "no-response", "provider-block", "provider", 4, "S0", "no-response");
    truth_ok(c, 1)->note = "submission port 587 works";
    free(a);
    free(b);
    free(c);
}

static void sc_greeting_554(struct sc *s)
{
    int64_t t = dns_lookup(s, s->t0, true);
    struct conn *c = conn_new(s, &s->W.mx1, 25);
    t = handshake(c, t + MS(5));
    t = greet(c, t, "554 5.7.1 mx.example.net: Service unavailable; Client host [192.0.2.10] "
                    "blocked using zen.spamhaus.org\r\n");
    quit_close(c, t);
    struct truth *tr = truth(c, "smtp-rejected", "smtp-policy", "recipient-postmaster", 1, "SF",
                             "syn-ack");
    tr->banner_code = 554;
    tr->note = "554 greeting (blocklist), QUIT, 221";
    free(c);
}

static void sc_greeting_421(struct sc *s)
{
    int64_t t = dns_lookup(s, s->t0, true);
    struct conn *c = conn_new(s, &s->W.mx1, 25);
    t = handshake(c, t + MS(5));
    t = greet(c, t, "421 4.7.0 mx.example.net Error: too many connections from 192.0.2.10\r\n");
    t += US(50);
    sfin(c, t);
    t += US(300);
    cfin(c, t);
    t += c->rtt;
    sack(c, t);
    struct truth *tr = truth(c, "smtp-rejected", "smtp-policy", "recipient-postmaster", 1, "SF",
                             "syn-ack");
    tr->banner_code = 421;
    tr->note = "421 greeting and an immediate close";
    free(c);
}

static void sc_rcpt_reject(struct sc *s, const char *reply, int code, const char *note)
{
    int64_t t = dns_lookup(s, s->t0, true);
    struct conn *c = conn_new(s, &s->W.mx1, 25);
    t = handshake(c, t + MS(5));
    t = greet(c, t, banner220);
    t = cmd(c, t, "EHLO mail.example.org\r\n", ehlo_reply);
    t = cmd(c, t, "MAIL FROM:<alice@example.org> SIZE=512\r\n", "250 2.1.0 Ok\r\n");
    t = cmd(c, t, "RCPT TO:<nobody@example.net>\r\n", reply);
    quit_close(c, t);
    struct truth *tr = truth(c, "smtp-rejected", "smtp-policy", "recipient-postmaster", 1, "SF",
                             "syn-ack");
    tr->banner_code = 220;
    tr->reply_cmd = "RCPT";
    tr->reply_code = code;
    tr->note = note;
    free(c);
}

static void sc_rcpt_550(struct sc *s)
{
    sc_rcpt_reject(s, "550 5.1.1 <nobody@example.net>: Recipient address rejected: User "
                      "unknown in local recipient table\r\n",
                   550, "220, EHLO, MAIL 250, RCPT 550 (unknown user), QUIT");
}

static void sc_rcpt_450(struct sc *s)
{
    sc_rcpt_reject(s, "450 4.2.0 <nobody@example.net>: Recipient address rejected: "
                      "Greylisted, see https://postgrey.schweikert.ch/help/example.net.html\r\n",
                   450, "220, EHLO, MAIL 250, RCPT 450 (greylisting), QUIT");
}

static void sc_tarpit(struct sc *s)
{
    int64_t t = dns_lookup(s, s->t0, true);
    struct conn *c = conn_new(s, &s->W.mx1, 25);
    t = handshake(c, t + MS(5));
    t += SEC(5);
    cfin(c, t);
    t += c->rtt;
    sack(c, t);
    dns_lookup(s, t + SEC(1), false);
    truth(c, "no-banner", "no-banner", "recipient-postmaster", 1, "S2", "syn-ack")->note =
        "handshake, 5 s of silence, the client gives up with a FIN; the server only ACKs";
    free(c);
}

static void sc_closed_before_banner(struct sc *s)
{
    int64_t t = dns_lookup(s, s->t0, true);
    struct conn *c = conn_new(s, &s->W.mx1, 25);
    t = handshake(c, t + MS(5));
    t += MS(1);
    sfin(c, t);
    t += US(200);
    cfin(c, t);
    t += c->rtt;
    sack(c, t);
    truth(c, "closed-before-banner", "no-banner", "recipient-postmaster", 1, "SF", "syn-ack")
        ->note = "the server closes (FIN) right after the handshake, before any greeting";
    free(c);
}

static void sc_rst_after_accept(struct sc *s)
{
    int64_t t = dns_lookup(s, s->t0, true);
    struct conn *c = conn_new(s, &s->W.mx1, 25);
    t = handshake(c, t + MS(5));
    srst(c, t + MS(1));
    truth(c, "closed-before-banner", "no-banner", "recipient-postmaster", 1, "RSTR", "syn-ack")
        ->note = "the server resets right after the handshake, before any greeting";
    free(c);
}

static void sc_one_sided(struct sc *s)
{
    int64_t t = dns_lookup(s, s->t0, true);
    struct conn *c = conn_new(s, &s->W.mx1, 25);
    c->hide_server = true;
    t = handshake(c, t + MS(5));
    t = greet(c, t, banner220);
    t = envelope(c, t);
    t = data_ok(c, t);
    quit_close(c, t);
    truth(c, "incomplete", "inconclusive", "unknown", 1, NULL, NULL)->note =
        "only the client's packets: SYN, ACKs of a SYN-ACK and replies never captured, "
        "commands, FIN; silence here proves nothing";
    free(c);
}

/* ---- ICMP answers to the SYN ---- */

struct icmp_case {
    uint8_t t4, c4, t6, c6; /* 0xff: not for this family */
    int hop;                /* router at hop k; 0: the MX itself */
    enum quote_style qs;
    const char *verdict, *owner, *reason4, *reason6, *note;
};

static void icmp_scenario(struct sc *s, const struct icmp_case *k)
{
    bool v6 = s->fam == 6;
    uint8_t type = v6 ? k->t6 : k->t4, code = v6 ? k->c6 : k->c4;
    if (type == 0xff) {
        die("this scenario exists for IPv%d only", v6 ? 4 : 6);
    }
    int64_t t = dns_lookup(s, s->t0, true) + MS(5);
    struct conn *c = conn_new(s, &s->W.mx1, 25);
    const struct gaddr *from = k->hop == 1   ? &s->W.hop1
                               : k->hop == 2 ? &s->W.hop2
                               : k->hop == 3 ? &s->W.hop3
                                             : &s->W.mx1;
    uint8_t ttl = k->hop ? TTL_HOP(k->hop) : TTL_MX;
    /* The quoted header is the SYN as that hop held it: decremented by the routers before
     * it (and by itself when it forwarded before rejecting, as Linux's FORWARD chain does);
     * a TTL-exceeded quotes the TTL that ran out. The MX quotes what it received. */
    bool ttlx = v6 ? type == 3 : type == 11;
    int qttl = ttlx ? 1 : k->hop ? 64 - k->hop : TTL_MX;
    syn(c, t);
    struct truth *tr;
    const char *outcome = ttlx ? "ttl-exceeded" : "icmp-unreachable";
    bool arp = v6 ? (type == 1 && code == 3) : (type == 3 && code == 1);
    if (arp) {
        /* The last router resolves the MX for 3 s, then sends host-unreachable for every
         * packet it queued meanwhile (RFC 1812 §5.2.7.1): the SYN and its retransmission. */
        uint8_t syn1[GP_MAX];
        uint32_t syn1len = c->synlen;
        memcpy(syn1, c->syn, syn1len);
        syn(c, t + SEC(1));
        icmp_about(c, t + MS(3020), from, ttl, type, code, k->qs, qttl, syn1, syn1len, 0, 0);
        icmp_about(c, t + MS(3021), from, ttl, type, code, k->qs, qttl, c->syn, c->synlen, 0, 0);
        dns_lookup(s, t + SEC(4), false);
        tr = truth(c, outcome, k->verdict, k->owner, 2, "S0", v6 ? k->reason6 : k->reason4);
    } else {
        int64_t d = k->hop == 0 ? c->rtt : k->hop == 1 ? US(900) : MS(10) * k->hop;
        icmp_about(c, t + d, from, ttl, type, code, k->qs, qttl, c->syn, c->synlen, 0, 0);
        dns_lookup(s, t + MS(500), false);
        tr = truth(c, outcome, k->verdict, k->owner, 1, "S0", v6 ? k->reason6 : k->reason4);
    }
    truth_icmp(tr, from, type, code);
    tr->note = k->note;
    free(c);
}

static const struct icmp_case ic_admin = {
    3, 13, 1, 1, 2, Q_RFC1812, "path-icmp", "path", "admin-prohibited", "admin-prohibited",
    "ICMP communication administratively prohibited from the router at hop 2 (TTL 63), "
    "full RFC 1812 quote of the SYN"};
static const struct icmp_case ic_arp = {
    3, 1, 1, 3, 3, Q_RFC1812, "path-icmp", "recipient-gateway", "host-unreach", "host-unreach",
    "host unreachable from the MX's last router (hop 3) ~3 s after the SYN, one per queued "
    "SYN: ARP/ND failure on the MX's LAN"};
static const struct icmp_case ic_port_mx = {
    3, 3, 1, 4, 0, Q_RFC1812, "remote-icmp", "recipient-postmaster", "port-unreach",
    "port-unreach", "port unreachable from the MX itself (TTL 61)"};
static const struct icmp_case ic_net_hop1 = {
    3, 0, 1, 0, 1, Q_RFC792, "path-icmp", "sender-network", "net-unreach", "no-route",
    "network unreachable / no route from the sender's own gateway (hop 1, TTL 64), 8-byte "
    "RFC 792 quote"};
static const struct icmp_case ic_net_prohib = {
    3, 9, 0xff, 0, 2, Q_RFC4884, "path-icmp", "path", "net-prohibited", NULL,
    "network administratively prohibited from hop 2, RFC 4884 quote with an extension"};
static const struct icmp_case ic_host_prohib = {
    3, 10, 1, 1, 3, Q_RFC1812, "path-icmp", "recipient-gateway", "host-prohibited",
    "admin-prohibited", "prohibited by the router in the MX's own network (hop 3)"};
static const struct icmp_case ic_policy6 = {
    0xff, 0, 1, 5, 2, Q_RFC1812, "path-icmp", "path", NULL, "admin-prohibited",
    "ICMPv6 source address failed ingress/egress policy from hop 2"};
static const struct icmp_case ic_reject6 = {
    0xff, 0, 1, 6, 2, Q_RFC1812, "path-icmp", "path", NULL, "reject-route",
    "ICMPv6 reject route to destination from hop 2"};
static const struct icmp_case ic_ttlx = {
    11, 0, 3, 0, 2, Q_RFC4884, "path-icmp", "path", "time-exceeded", "time-exceeded",
    "time exceeded from hop 2 (a routing loop), RFC 4884 quote with an MPLS extension"};

static void sc_icmp_admin(struct sc *s) { icmp_scenario(s, &ic_admin); }
static void sc_icmp_arp(struct sc *s) { icmp_scenario(s, &ic_arp); }
static void sc_icmp_port_mx(struct sc *s) { icmp_scenario(s, &ic_port_mx); }
static void sc_icmp_net_hop1(struct sc *s) { icmp_scenario(s, &ic_net_hop1); }
static void sc_icmp_net_prohib(struct sc *s) { icmp_scenario(s, &ic_net_prohib); }
static void sc_icmp_host_prohib(struct sc *s) { icmp_scenario(s, &ic_host_prohib); }
static void sc_icmp6_policy(struct sc *s) { icmp_scenario(s, &ic_policy6); }
static void sc_icmp6_reject(struct sc *s) { icmp_scenario(s, &ic_reject6); }
static void sc_ttl_exceeded(struct sc *s) { icmp_scenario(s, &ic_ttlx); }

/* ---- local rejections: the SYN never reaches the wire ---- */

static void sc_local_reject_rst(struct sc *s)
{
    int64_t t = dns_lookup(s, s->t0, true) + MS(5);
    struct conn *c = conn_new(s, &s->W.mx1, 25);
    /* OUTPUT REJECT --reject-with tcp-reset: the kernel answers the SYN itself, in the MX's
     * name, over lo. The SYN is built (for its ISN) but never written. */
    c->first_syn = t;
    rst_refuse(c, t + US(30), TTL_SENDER, GW_LOOP);
    dns_lookup(s, t + SEC(1), false);
    struct truth *tr = truth(c, "refused", "local-firewall", "sender-host", 0, NULL, "reset");
    tr->rst_hops = 0;
    tr->note = "no SYN on the outside; a RST in the MX's name arrives over loopback with TTL 64";
    free(c);
}

static void sc_local_reject_icmp(struct sc *s)
{
    int64_t t = dns_lookup(s, s->t0, true) + MS(5);
    struct conn *c = conn_new(s, &s->W.mx1, 25);
    /* Build the SYN (to quote it) without writing it: OUTPUT REJECT with the default
     * icmp-port-unreachable answers from the host to itself over lo. */
    uint8_t ipbuf[GP_MAX];
    struct tcpseg g;
    uint8_t opts[40];
    memset(&g, 0, sizeof(g));
    g.src = c->cli;
    g.dst = c->srv;
    g.sport = c->sport;
    g.dport = c->dport;
    g.seq = c->isn;
    g.flags = TH_SYN;
    g.win = 64240;
    g.ttl = TTL_SENDER;
    g.ipid = c->cipid;
    g.df = true;
    g.optlen = gp_opts_syn(opts, c->mss, 7, c->cts, 0);
    g.opts = opts;
    uint32_t len = gp_tcp(ipbuf, &g);
    c->first_syn = t;
    bool v6 = s->fam == 6;
    icmp_about(c, t + US(25), &s->W.cli, TTL_SENDER, v6 ? 1 : 3, v6 ? 4 : 3, Q_RFC1812, -1,
               ipbuf, len, 0, GW_LOOP);
    dns_lookup(s, t + SEC(1), false);
    struct truth *tr =
        truth(c, "icmp-unreachable", "local-firewall", "sender-host", 0, NULL, "port-unreach");
    truth_icmp(tr, &s->W.cli, v6 ? 1 : 3, v6 ? 4 : 3);
    tr->note = "no SYN on the outside; the host sends itself port-unreachable over loopback, "
               "quoting the SYN";
    free(c);
}

/* ---- an ICMP error for an established flow is not a rejection ---- */

static void sc_frag_needed(struct sc *s)
{
    bool v6 = s->fam == 6;
    int64_t t = dns_lookup(s, s->t0, true);
    struct conn *c = conn_new(s, &s->W.mx1, 25);
    t = handshake(c, t + MS(5));
    t = greet(c, t, banner220);
    t = envelope(c, t);
    t = cmd(c, t, "DATA\r\n", "354 End data with <CR><LF>.<CR><LF>\r\n");
    /* A full-sized segment (1500-byte datagram) meets a smaller link at hop 2. */
    uint32_t full = v6 ? 1500 - 40 - 32 : 1500 - 20 - 32;
    uint16_t mtu = v6 ? 1280 : 1492;
    uint32_t small = (uint32_t)mtu - (v6 ? 40u : 20u) - 32u;
    static char body[4096];
    size_t bl = 0;
    while (bl < full + small) {
        const char *line = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do "
                           "eiusmod tempor.\r\n";
        size_t ll = strlen(line);
        memcpy(body + bl, line, ll);
        bl += ll;
    }
    const uint8_t *b = (const uint8_t *)body;
    uint32_t seq0 = c->cseq;
    t += US(300);
    cbytes(c, t, b, full);
    uint8_t big[GP_MAX];
    uint32_t biglen = c->lastlen;
    memcpy(big, c->last, biglen);
    t += MS(10);
    icmp_about(c, t, &s->W.hop2, TTL_HOP(2), v6 ? 2 : 3, v6 ? 0 : 4, Q_RFC1812, 64 - 2, big,
               biglen, mtu, 0);
    /* Path MTU discovery: resend the same bytes in segments that fit. */
    c->cseq = seq0;
    t += US(100);
    cbytes(c, t, b, small);
    t += US(20);
    cbytes(c, t, b + small, full - small);
    t += US(20);
    cbytes(c, t, b + full, small);
    t += US(20);
    cdata(c, t, "\r\n.\r\n");
    t += c->rtt + MS(1);
    sdata(c, t, "250 2.0.0 Ok: queued as 4TlXyZ1abd\r\n");
    quit_close(c, t);
    struct truth *tr = truth_ok(c, 1);
    tr->note = v6 ? "ICMPv6 packet too big (MTU 1280) from hop 2 quoting a DATA segment of "
                    "the established session: path MTU discovery, not a rejection"
                  : "ICMP fragmentation needed (MTU 1492) from hop 2 quoting a DATA segment "
                    "of the established session: path MTU discovery, not a rejection";
    free(c);
}

static void sc_background_only(struct sc *s)
{
    int64_t t = dns_lookup(s, s->t0, true);
    /* An HTTPS exchange on 443: TCP, but not a watched port. */
    struct conn *c = conn_new(s, &s->W.web, 443);
    c->srv_ttl = 55;
    t = handshake(c, t + MS(5));
    uint8_t rec[400];
    for (uint32_t k = 0; k < sizeof(rec); k++) {
        rec[k] = (uint8_t)rng_u32(&s->r);
    }
    rec[0] = 0x16;
    t += US(300);
    cbytes(c, t, rec, 300);
    t += c->rtt;
    sbytes(c, t, rec, 400);
    t += US(200);
    cfin(c, t);
    t += c->rtt;
    sfin(c, t);
    cack(c, t + US(80));
    free(c);
}

/* ---- issue 14: the edges of the evidence ---- */

/* Windows retries a SYN 3 s and 6 s after the last (TcpMaxConnectRetransmissions 2) with the
 * same ISN, also when an ICMP error answered the earlier one: one attempt. */
static void sc_syn_retry_icmp(struct sc *s)
{
    int64_t t = dns_lookup(s, s->t0, true) + MS(5);
    struct conn *c = conn_new(s, &s->W.mx1, 25);
    bool v6 = s->fam == 6;
    static const int at_ms[] = {0, 3000, 9000};
    for (int i = 0; i < 3; i++) {
        syn(c, t + MS(at_ms[i]));
        icmp_about(c, t + MS(at_ms[i]) + MS(20), &s->W.hop2, TTL_HOP(2), v6 ? 1 : 3,
                   v6 ? 1 : 13, Q_RFC1812, 64 - 2, c->syn, c->synlen, 0, 0);
    }
    dns_lookup(s, t + SEC(12), false);
    struct truth *tr = truth(c, "icmp-unreachable", "path-icmp", "path", 3, "S0",
                             "admin-prohibited");
    truth_icmp(tr, &s->W.hop2, v6 ? 1 : 3, v6 ? 1 : 13);
    tr->note = "SYNs at 0, 3, 9 s with one ISN (Windows), each answered by admin-prohibited "
               "from hop 2: one attempt";
    free(c);
}

/* A SYN refused by a RST, retried with the same ISN 0.5 s later and accepted (a listener
 * that came back): one attempt, connected, not a forged-RST race. */
static void sc_syn_retry_rst_then_connect(struct sc *s)
{
    int64_t t = dns_lookup(s, s->t0, true) + MS(5);
    struct conn *c = conn_new(s, &s->W.mx1, 25);
    syn(c, t);
    rst_refuse(c, t + c->rtt, TTL_MX, 0);
    int64_t u = t + MS(500);
    syn(c, u);
    synack(c, u + c->rtt);
    u += c->rtt + US(80);
    cack(c, u);
    u = greet(c, u, banner220);
    u = envelope(c, u);
    u = data_ok(c, u);
    quit_close(c, u);
    struct truth *tr = truth(c, "connected", "ok", "none", 2, NULL, "syn-ack");
    tr->banner_code = 220;
    tr->note = "RST (TTL 61) to the first SYN, the same SYN again 0.5 s later is accepted";
    free(c);
}

/* The capture starts after the SYN (between SYN and SYN-ACK): 554 greeting. */
static void sc_late_join_after_syn(struct sc *s)
{
    int64_t t = dns_lookup(s, s->t0, true) + MS(5);
    struct conn *c = conn_new(s, &s->W.mx1, 25);
    t = handshake(c, t);
    s->window_from = c->first_syn + US(10);
    t = greet(c, t, "554 5.7.1 Service unavailable; Client host [192.0.2.10] blocked using "
                    "zen.spamhaus.org\r\n");
    quit_close(c, t);
    struct truth *tr = truth(c, "smtp-rejected", "smtp-policy", "recipient-postmaster", 0, NULL,
                             "syn-ack");
    tr->banner_code = 554;
    tr->confidence = "high";
    tr->note = "the capture starts after the SYN: SYN-ACK, 554 greeting, QUIT, close";
    free(c);
}

/* The capture starts just before the server's 553 to RCPT. */
static void sc_late_join_553(struct sc *s)
{
    int64_t t = dns_lookup(s, s->t0, true) + MS(5);
    struct conn *c = conn_new(s, &s->W.mx1, 25);
    t = handshake(c, t);
    t = greet(c, t, banner220);
    t = cmd(c, t, "EHLO mail.example.org\r\n", ehlo_reply);
    t = cmd(c, t, "MAIL FROM:<alice@example.org> SIZE=512\r\n", "250 2.1.0 Ok\r\n");
    t += US(300);
    cdata(c, t, "RCPT TO:<bob@example.net>\r\n");
    t += c->rtt + US(400);
    s->window_from = t;
    sdata(c, t, "553 5.7.1 <alice@example.org>: Sender address rejected: not owned by user\r\n");
    quit_close(c, t);
    struct truth *tr = truth(c, "smtp-rejected", "smtp-policy", "recipient-postmaster", 0, NULL,
                             NULL);
    tr->confidence = "medium";
    tr->note = "the capture starts with the server's 553 to RCPT: nothing of the handshake, "
               "the greeting or the command; QUIT, 221, close follow";
    free(c);
}

/* The capture starts inside the dialogue, before DATA: the message is accepted in view. */
static void sc_late_join_delivered(struct sc *s)
{
    int64_t t = dns_lookup(s, s->t0, true) + MS(5);
    struct conn *c = conn_new(s, &s->W.mx1, 25);
    t = handshake(c, t);
    t = greet(c, t, banner220);
    t = envelope(c, t);
    s->window_from = t + US(100);
    t = data_ok(c, t);
    quit_close(c, t);
    struct truth *tr = truth(c, "connected", "ok", "none", 0, "SF", NULL);
    tr->note = "the capture starts after RCPT: DATA, 354, the message, 250 queued, QUIT";
    free(c);
}

/* The capture ends mid-dialogue (after MAIL's 250): connected, not ok at high confidence. */
static void sc_dialogue_cut(struct sc *s)
{
    int64_t t = dns_lookup(s, s->t0, true) + MS(5);
    struct conn *c = conn_new(s, &s->W.mx1, 25);
    t = handshake(c, t);
    t = greet(c, t, banner220);
    t = cmd(c, t, "EHLO mail.example.org\r\n", ehlo_reply);
    t = cmd(c, t, "MAIL FROM:<alice@example.org> SIZE=512\r\n", "250 2.1.0 Ok\r\n");
    s->window_to = t + US(1);
    t = cmd(c, t, "RCPT TO:<bob@example.net>\r\n",
            "550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown\r\n");
    quit_close(c, t);
    struct truth *tr = truth(c, "connected", "ok", "none", 1, "S1", "syn-ack");
    tr->banner_code = 220;
    tr->confidence = "low";
    tr->note = "the capture ends after MAIL's 250 (the 550 to RCPT that follows is not in it): "
               "connected and greeted, the dialogue cut";
    free(c);
}

/* Only what the capturing host sent (tcpdump -Q out): SYNs to two MX, DNS queries, no answer
 * of any kind in the file. */
static void sc_one_direction(struct sc *s)
{
    int64_t t = dns_lookup(s, s->t0, true) + MS(5);
    struct conn *a = conn_new(s, &s->W.mx1, 25);
    struct conn *b = conn_new(s, &s->W.mx2, 25);
    t = deliver(a, t);
    syns_unanswered(b, t + SEC(1), backoff4, 4);
    dns_lookup(s, t + SEC(12), true);
    s->inbound_hidden = true;
    truth(a, "incomplete", "inconclusive", "unknown", 1, NULL, NULL)->note =
        "a delivery, of which the capture holds only the client's packets";
    truth(b, "incomplete", "inconclusive", "unknown", 4, NULL, NULL)->note =
        "SYNs at 0, 1, 3, 7 s and nothing inbound in the whole file: not a silent drop";
    free(a);
    free(b);
}

/* A TLS ClientHello (Postfix smtp_tls_wrappermode = yes) answered by a plaintext 220 on 465:
 * the listener speaks plaintext on the implicit-TLS port. */
static void sc_tls_plaintext_465(struct sc *s)
{
    int64_t t = dns_lookup(s, s->t0, true) + MS(5);
    struct conn *c = conn_new(s, &s->W.mx1, 465);
    t = handshake(c, t);
    uint8_t hello[240];
    for (uint32_t k = 0; k < sizeof(hello); k++) {
        hello[k] = (uint8_t)rng_u32(&s->r);
    }
    hello[0] = 0x16;
    hello[1] = 0x03;
    hello[2] = 0x01;
    hello[3] = 0;
    hello[4] = (uint8_t)(sizeof(hello) - 5);
    t += US(200);
    cbytes(c, t, hello, sizeof(hello));
    t = greet(c, t + c->rtt, "220 mx.example.net ESMTP Postfix (Debian/GNU)\r\n");
    t += US(300);
    cfin(c, t);
    t += c->rtt;
    sfin(c, t);
    t += US(100);
    cack(c, t);
    struct truth *tr = truth(c, "tls-mismatch", "tls-mismatch", "recipient-postmaster", 1, "SF",
                             "syn-ack");
    tr->note = "port 465: the client sends a TLS ClientHello, the server greets in plaintext "
               "(220), the client gives up";
    free(c);
}

/* A client that speaks plaintext SMTP to 25 meets a TLS alert: the listener expects TLS. */
static void sc_tls_alert_on_25(struct sc *s)
{
    int64_t t = dns_lookup(s, s->t0, true) + MS(5);
    struct conn *c = conn_new(s, &s->W.mx1, 25);
    t = handshake(c, t);
    t += SEC(2);
    cdata(c, t, "EHLO mail.example.org\r\n");
    static const uint8_t alert[7] = {0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46};
    t += c->rtt;
    sbytes(c, t, alert, sizeof(alert));
    t += US(50);
    sfin(c, t);
    t += US(300);
    cfin(c, t);
    t += c->rtt;
    sack(c, t);
    struct truth *tr = truth(c, "tls-mismatch", "tls-mismatch", "recipient-postmaster", 1, "SF",
                             "syn-ack");
    tr->note = "port 25: no greeting; the client's EHLO is answered with a TLS alert record: "
               "an implicit-TLS listener on a plaintext port";
    free(c);
}

/* ---- table ---- */

struct scenario {
    const char *name;
    void (*run)(struct sc *);
    unsigned fams; /* bit 4: IPv4, bit 6: IPv6 */
    int deffam;
    const char *ports;
    bool needs_loop;
    int deflink; /* -1: ethernet */
    const char *what;
};

#define F4 (1u << 4)
#define F6 (1u << 6)
#define F46 (F4 | F6)

static const struct scenario scenarios[] = {
    {"success", sc_success, F46, 4, "25", false, -1, "a complete delivery"},
    {"vlan-stacked", sc_success, F46, 4, "25", false, GL_VLAN3,
     "a complete delivery, default link: Ethernet with three stacked tags"},
    {"nflog", sc_success, F46, 4, "25", false, GL_NFLOG,
     "a complete delivery, default link: NFLOG"},
    {"ipv4-options", sc_ipv4_options, F4, 4, "25", false, -1,
     "a complete delivery, IPv4 options on the SYN"},
    {"ipv6-ext-headers", sc_ipv6_ext, F6, 6, "25", false, -1,
     "a complete delivery, IPv6 extension headers on every client packet"},
    {"banner-multiline", sc_banner_multiline, F46, 4, "25", false, -1,
     "multi-line 220 greeting split mid-line"},
    {"masked-banner", sc_masked_banner, F46, 4, "25", false, -1,
     "masked greeting and EHLO (SMTP inspection); the mail goes through"},
    {"starttls", sc_starttls, F46, 4, "25", false, -1, "STARTTLS, then TLS"},
    {"implicit-tls-465", sc_implicit_tls, F46, 4, "465", false, -1, "TLS on port 465"},
    {"server-rst", sc_server_rst, F46, 4, "25", false, -1,
     "RST from the MX (TTL 61) after a good delivery to it"},
    {"forged-rst", sc_forged_rst, F46, 4, "25", false, -1,
     "RST TTL 62 in the MX's name after a good delivery to it"},
    {"rst-no-reference", sc_rst_no_reference, F46, 4, "25", false, -1,
     "a lone RST TTL 61, no hop reference"},
    {"forged-rst-other-port", sc_forged_rst_other_port, F46, 4, "25", false, -1,
     "a RST 2 hops short; the MX's SYN-ACK on 443 (not watched) is the reference"},
    {"forged-rst-alone", sc_forged_rst_alone, F46, 4, "25", false, -1,
     "a RST 2 hops short with nothing else from the MX or its network"},
    {"forged-rst-neighbour", sc_forged_rst_neighbour, F46, 4, "25", false, -1,
     "a RST 1 hop short of the MX's neighbour (its only reference)"},
    {"rst-neighbour-closer", sc_rst_neighbour_closer, F46, 4, "25", false, -1,
     "the MX's RST, one hop farther than its only reference, a neighbour"},
    {"rst-neighbours-disagree", sc_rst_neighbours_disagree, F46, 4, "25", false, -1,
     "a RST between two neighbours' distances"},
    {"rst-race", sc_rst_race, F46, 4, "25", false, -1,
     "a forged RST, then the real SYN-ACK"},
    {"new-isn", sc_new_isn, F46, 4, "25", false, -1,
     "same 4-tuple twice with a new ISN: refused, then connected"},
    {"retransmit-same-isn", sc_retransmit_same_isn, F46, 4, "25", false, -1,
     "three SYNs with one ISN, then connected"},
    {"silent-drop", sc_silent_drop, F46, 4, "25", false, -1, "SYNs at 0, 1, 3, 7 s unanswered"},
    {"syn-only-short", sc_syn_only_short, F46, 4, "25", false, -1,
     "one SYN, capture ends 0.5 s later"},
    {"syn-then-background", sc_syn_then_background, F46, 4, "25", false, -1,
     "one SYN unanswered while other traffic runs on for 10 s"},
    {"silent-drop-everywhere", sc_silent_drop_everywhere, F46, 4, "25", false, -1,
     "two MX silent on 25"},
    {"silent-drop-one-dest", sc_silent_drop_one_dest, F46, 4, "25", false, -1,
     "MX 1 delivers, MX 2 silent"},
    {"provider-block", sc_provider_block, F46, 4, "25,587", false, -1,
     "25 silent to both MX, 587 connects"},
    {"greeting-554", sc_greeting_554, F46, 4, "25", false, -1, "554 greeting"},
    {"greeting-421", sc_greeting_421, F46, 4, "25", false, -1, "421 greeting and close"},
    {"rcpt-550", sc_rcpt_550, F46, 4, "25", false, -1, "RCPT answered 550"},
    {"rcpt-450", sc_rcpt_450, F46, 4, "25", false, -1, "RCPT answered 450 (greylisting)"},
    {"tarpit", sc_tarpit, F46, 4, "25", false, -1,
     "handshake, silence, the client gives up after 5 s"},
    {"closed-before-banner", sc_closed_before_banner, F46, 4, "25", false, -1,
     "server FIN right after the handshake"},
    {"rst-after-accept", sc_rst_after_accept, F46, 4, "25", false, -1,
     "server RST right after the handshake"},
    {"one-sided", sc_one_sided, F46, 4, "25", false, -1, "only the client's direction"},
    {"icmp-admin-prohibited-router", sc_icmp_admin, F46, 4, "25", false, -1,
     "3/13 (IPv6 1/1) from the router at hop 2"},
    {"icmp6-admin-prohibited", sc_icmp_admin, F6, 6, "25", false, -1,
     "ICMPv6 1/1 from the router at hop 2"},
    {"icmp-host-unreach-arp", sc_icmp_arp, F46, 4, "25", false, -1,
     "3/1 (IPv6 1/3) from the MX's last router ~3 s after the SYN"},
    {"icmp-port-unreach-from-mx", sc_icmp_port_mx, F46, 4, "25", false, -1,
     "3/3 (IPv6 1/4) from the MX itself"},
    {"icmp-net-unreach-first-hop", sc_icmp_net_hop1, F46, 4, "25", false, -1,
     "3/0 (IPv6 1/0) from the sender's gateway"},
    {"icmp-net-prohibited", sc_icmp_net_prohib, F4, 4, "25", false, -1,
     "3/9 from hop 2 with an RFC 4884 quote"},
    {"icmp-host-prohibited-recipient-net", sc_icmp_host_prohib, F46, 4, "25", false, -1,
     "3/10 (IPv6 1/1) from the router in the MX's network"},
    {"icmp6-policy-fail", sc_icmp6_policy, F6, 6, "25", false, -1, "ICMPv6 1/5 from hop 2"},
    {"icmp6-reject-route", sc_icmp6_reject, F6, 6, "25", false, -1, "ICMPv6 1/6 from hop 2"},
    {"ttl-exceeded", sc_ttl_exceeded, F46, 4, "25", false, -1,
     "time exceeded (IPv6 hop limit) from hop 2, RFC 4884 + MPLS"},
    {"local-reject-loopback", sc_local_reject_rst, F46, 4, "25", true, -1,
     "no SYN outside, a RST over loopback (local REJECT tcp-reset)"},
    {"local-reject-icmp-loopback", sc_local_reject_icmp, F46, 4, "25", true, -1,
     "no SYN outside, port-unreachable from the host to itself over loopback"},
    {"frag-needed-midstream", sc_frag_needed, F46, 4, "25", false, -1,
     "3/4 (IPv6 packet too big) for a DATA segment of a good session"},
    {"background-only", sc_background_only, F46, 4, "25", false, -1,
     "DNS and HTTPS, no SMTP at all"},
    {"syn-retry-icmp", sc_syn_retry_icmp, F46, 4, "25", false, -1,
     "SYNs at 0, 3, 9 s (one ISN), each answered by ICMP: one attempt"},
    {"syn-retry-rst-then-connect", sc_syn_retry_rst_then_connect, F46, 4, "25", false, -1,
     "RST, the same SYN again, accepted"},
    {"late-join-after-syn", sc_late_join_after_syn, F46, 4, "25", false, -1,
     "capture starts after the SYN: SYN-ACK, 554 greeting"},
    {"late-join-553", sc_late_join_553, F46, 4, "25", false, -1,
     "capture starts at the server's 553 to RCPT"},
    {"late-join-delivered", sc_late_join_delivered, F46, 4, "25", false, -1,
     "capture starts before DATA: the message is accepted"},
    {"dialogue-cut", sc_dialogue_cut, F46, 4, "25", false, -1,
     "capture ends after MAIL's 250"},
    {"one-direction", sc_one_direction, F46, 4, "25", false, -1,
     "only the capturing host's packets, nothing inbound"},
    {"tls-plaintext-465", sc_tls_plaintext_465, F46, 4, "465", false, -1,
     "ClientHello on 465 answered by a plaintext 220"},
    {"tls-alert-on-25", sc_tls_alert_on_25, F46, 4, "25", false, -1,
     "EHLO on 25 answered by a TLS alert"},
};

void scenario_list(FILE *f)
{
    for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
        const struct scenario *x = &scenarios[i];
        fprintf(f, "%-36s %-5s ports %-7s %s%s\n", x->name,
                x->fams == F46 ? "4,6" : x->fams == F4 ? "4" : "6", x->ports, x->what,
                x->needs_loop ? " [needs pcapng, sll, sll2, null or loop]" : "");
    }
}

/* ---- truth file ---- */

/* For the exit status: a failed attempt (incomplete decides nothing), the same destination
 * address and port. */
static bool truth_failed(const struct truth *t)
{
    return strcmp(t->outcome, "connected") != 0 && strcmp(t->outcome, "incomplete") != 0;
}
static bool same_port(const struct truth *a, const struct truth *b)
{
    return a->dport == b->dport && a->dst.fam == b->dst.fam &&
           memcmp(a->dst.b, b->dst.b, a->dst.fam == 4 ? 4 : 16) == 0;
}

static void write_truth(const struct sc *s, const struct scenario *x, const struct gen_opts *o,
                        uint64_t packets, enum glink link, bool cut)
{
    FILE *f = fopen(o->truth, "w");
    if (!f) {
        die("cannot create %s", o->truth);
    }
    struct jw j;
    jw_begin(&j, f);
    jw_obj(&j, NULL);
    jw_str(&j, "scenario", x->name);
    jw_str(&j, "description", x->what);
    jw_int(&j, "family", s->fam);
    jw_uint(&j, "seed", o->seed);
    jw_str(&j, "linktype", glink_name(link));
    jw_str(&j, "format", gfmt_name(o->fmt));
    if (o->snaplen) {
        jw_uint(&j, "snaplen", o->snaplen);
    }
    if (cut) {
        /* The truth describes the packets as sent; a snaplen that cuts them may leave the
         * reader too little to tell (outcome incomplete). */
        jw_bool(&j, "snaplen_cuts_packets", true);
    }
    jw_arr(&j, "ports");
    for (const char *p = s->ports; *p;) {
        jw_int(&j, NULL, strtol(p, NULL, 10));
        p = strchr(p, ',');
        p = p ? p + 1 : "";
    }
    jw_end_arr(&j);
    /* Exit status (docs/VERDICTS.md, "Scope and exit status"): 1 when some destination and
     * port's latest decided attempt failed (incomplete decides nothing; a failure and a
     * success at the same time count as failing); a failure followed by a success on the
     * same destination and port has recovered. */
    int exit_status = 0;
    for (int i = 0; i < s->ntr; i++) {
        const struct truth *a = &s->tr[i];
        if (!truth_failed(a)) {
            continue;
        }
        bool latest = true, recovered = false; /* a is the port's latest failure; after it? */
        for (int k = 0; k < s->ntr; k++) {
            const struct truth *b = &s->tr[k];
            if (k == i || !same_port(a, b)) {
                continue;
            }
            latest &= !(truth_failed(b) && (b->ts > a->ts || (b->ts == a->ts && k > i)));
            recovered |= strcmp(b->outcome, "connected") == 0 && b->ts > a->ts;
        }
        if (latest && !recovered) {
            exit_status = 1;
        }
    }
    jw_int(&j, "exit", exit_status);
    jw_arr(&j, "attempts");
    for (int i = 0; i < s->ntr; i++) {
        const struct truth *t = &s->tr[i];
        char a[64];
        jw_obj(&j, NULL);
        gaddr_str(&t->src, a, sizeof(a));
        jw_str(&j, "src", a);
        gaddr_str(&t->dst, a, sizeof(a));
        jw_str(&j, "dst", a);
        jw_int(&j, "dport", t->dport);
        jw_int(&j, "sport", t->sport);
        jw_uint(&j, "isn", t->isn);
        jw_str(&j, "outcome", t->outcome);
        jw_str(&j, "verdict", t->verdict);
        jw_str(&j, "owner", t->owner);
        jw_int(&j, "syns", t->syns);
        if (t->conn_state) {
            jw_str(&j, "conn_state", t->conn_state);
        }
        if (t->reason) {
            jw_str(&j, "reason", t->reason);
        }
        if (t->banner_code) {
            jw_int(&j, "banner_code", t->banner_code);
        }
        if (t->reply_cmd) {
            jw_str(&j, "reply_command", t->reply_cmd);
            jw_int(&j, "reply_code", t->reply_code);
        }
        if (t->icmp) {
            gaddr_str(&t->icmp_from, a, sizeof(a));
            jw_str(&j, "icmp_from", a);
            jw_int(&j, "icmp_type", t->icmp_type);
            jw_int(&j, "icmp_code", t->icmp_code);
        }
        if (t->rst_hops >= 0) {
            jw_int(&j, "rst_hops", t->rst_hops);
        }
        if (t->rst_expected_hops >= 0) {
            jw_int(&j, "rst_expected_hops", t->rst_expected_hops);
        } else if (t->rst_expected_hops == -2) {
            jw_str(&j, "rst_expected_hops", NULL);
        }
        if (t->masked >= 0) {
            jw_bool(&j, "masked", t->masked != 0);
        }
        if (t->confidence) {
            jw_str(&j, "confidence", t->confidence);
        }
        if (t->note) {
            jw_str(&j, "note", t->note);
        }
        jw_end_obj(&j);
    }
    jw_end_arr(&j);
    jw_uint(&j, "packets", packets);
    jw_end_obj(&j);
    fputc('\n', f);
    if (fclose(f) != 0) {
        die("cannot write %s", o->truth);
    }
}

static int truth_cmp(const void *a, const void *b)
{
    const struct truth *x = a, *y = b;
    return (x->ts > y->ts) - (x->ts < y->ts);
}

int scenario_main(const char *name, const struct gen_opts *o)
{
    const struct scenario *x = NULL;
    for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
        if (!strcmp(scenarios[i].name, name)) {
            x = &scenarios[i];
        }
    }
    if (!x) {
        fprintf(stderr, "pmgen: unknown scenario %s; pmgen list shows them\n", name);
        return 2;
    }
    struct sc s;
    memset(&s, 0, sizeof(s));
    s.fam = o->family ? o->family : x->deffam;
    if (!(x->fams & (1u << s.fam))) {
        fprintf(stderr, "pmgen: scenario %s exists for IPv%s only\n", name,
                x->fams == F4 ? "4" : "6");
        return 2;
    }
    enum glink link = o->link;
    if ((int)link < 0) {
        link = x->deflink >= 0 ? (enum glink)x->deflink : GL_ETH;
    }
    if (!glink_family_ok(link, s.fam)) {
        fprintf(stderr, "pmgen: link type %s cannot carry IPv%d\n", glink_name(link), s.fam);
        return 2;
    }
    if (x->needs_loop && !gw_loop_capable(link, o->fmt)) {
        fprintf(stderr, "pmgen: scenario %s needs an output that marks loopback: pcapng, or "
                        "--linktype sll, sll2, null or loop\n", name);
        return 2;
    }
    /* Seeds are mixed with the scenario name so that two scenarios with one seed differ. */
    uint64_t h = 1469598103934665603u;
    for (const char *p = name; *p; p++) {
        h = (h ^ (uint8_t)*p) * 1099511628211u;
    }
    rng_seed(&s.r, o->seed ^ h ^ ((uint64_t)s.fam << 56));
    world_init(&s.W, s.fam);
    s.t0 = SEC(PMGEN_EPOCH) + SEC(1);
    s.next_sport = 40001;
    s.dns_id = (uint16_t)rng_u32(&s.r);
    s.icmp_ipid = (uint16_t)rng_u32(&s.r);
    s.ports = x->ports;
    x->run(&s);
    qsort(s.ev, s.nev, sizeof(*s.ev), ev_cmp);
    qsort(s.tr, (size_t)s.ntr, sizeof(s.tr[0]), truth_cmp);
    struct gw *w = gw_open(o->out, o->fmt, link, o->snaplen);
    for (size_t i = 0; i < s.nev; i++) {
        const struct ev *e = &s.ev[i];
        if ((s.window_from && e->ts < s.window_from) || (s.window_to && e->ts >= s.window_to) ||
            (s.inbound_hidden && !(e->flags & GW_OUT))) {
            continue;
        }
        gw_packet(w, e->ts, e->data, e->len, e->fam, e->flags);
    }
    uint64_t packets = gw_records(w);
    bool cut = gw_cut_records(w) > 0;
    gw_close(w);
    if (o->truth) {
        write_truth(&s, x, o, packets, link, cut);
    }
    for (size_t i = 0; i < s.nev; i++) {
        free(s.ev[i].data);
    }
    free(s.ev);
    return 0;
}
