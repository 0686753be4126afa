/*
 * probe.c — owns `portmortem probe TARGET` (include/probe.h): the postmaster's manual
 * triage — resolve the MX, test TCP 25 from the real sending address, trace the path —
 * done in one run that records every packet it causes and explains them in the engine's
 * vocabulary.
 *
 * Order of a run, and why:
 *   1. Options, then DNS (dns.c): TARGET becomes the only addresses anything may be sent to.
 *      NXDOMAIN and a null MX end the run here: there is nothing to probe.
 *   2. As root: the capture handle (its BPF limited to the targets and ICMP errors), -w,
 *      the libnet raw sockets (only with --inject/--ttl-walk), the TLS context, the engine
 *      (it opens the bundle directory). Then pm_priv_drop(): nothing after this point runs
 *      privileged, and the raw sockets keep working because the kernel checked the
 *      capability when they were created.
 *   3. Per address: the TTL walk first, then the test SYN, then the SMTP checks on the
 *      comparison ports and port 25 last. The engine decides an attempt shortly after its
 *      answer arrives, so whatever the walk learns (the destination's hop count, the hop
 *      after which SYNs vanish) must reach it (pm_engine_hopref / pm_engine_drop_hop)
 *      before the attempts it explains end; a live comparison port likewise gives the
 *      engine the MX's real hop count before port 25's RST is judged.
 *   4. Every captured packet is written to -w and read by our matcher (keyed ISNs, quotes);
 *      all but the TTL walk's packets also go to the engine, which reports the connects and
 *      the test SYN as ordinary attempts. Walk probes with a deliberately small TTL are
 *      expected to die on the way: as attempts they would read as path failures, so they
 *      are reported per hop here instead (and stay in -w).
 *   5. Probe objects ("type":"probe") are written as results come, the engine's attempts
 *      stream in between, and the engine's summary closes the run.
 *
 * Nothing is sent unless asked: without --inject/--ttl-walk the run makes DNS queries and
 * TCP connects only; the raw sockets are not even opened.
 */
#include "probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "capture_int.h"
#include "cli.h"
#include "context.h"
#include "engine.h"
#include "json.h"
#include "mtalog.h"
#include "output.h"
#include "priv.h"
#include "probe_int.h"
#include "ttl.h"
#include "util.h"

/* ---------------------------------------------------------------------------------------- */
/* Options                                                                                  */

#define MAX_COMPARE 6
#define MAX_STALE 16
#define MAX_CONNS 256
#define FULL_TTL 64        /* the test SYN's TTL: what the kernel itself would use */

enum {
    OPT_RESOLVER = PM_OPT__NEXT + 0,
    OPT_NO_MX,
    OPT_SOURCE,
    OPT_COMPARE,
    OPT_HELO,
    OPT_CA,
    OPT_CONNECT_TMO,
    OPT_SMTP_TMO,
    OPT_INJECT,
    OPT_TTL_WALK,
    OPT_MAX_TTL,
    OPT_TRIES,
    OPT_WAIT,
    OPT_GAP,
    OPT_RATE,
    OPT_MAX_PROBES,
    OPT_ALLOW_LOOPBACK,
    OPT_STALE,
    OPT_USER,
    OPT_MAX_ADDRS,
};

struct probe_opts {
    const char *target;
    const char *resolver;
    bool no_mx;
    int families;                 /* bit 0 IPv4, bit 1 IPv6 */
    pm_addr source[2];            /* [0] IPv4, [1] IPv6 */
    bool have_source[2];
    const char *iface;
    uint16_t compare[MAX_COMPARE];
    int ncompare;
    const char *helo;
    const char *ca;
    pm_ns connect_tmo, step_tmo;
    bool inject, walk;
    int max_ttl, tries, gap_limit;
    pm_ns wait;
    double rate;
    uint32_t max_probes;
    bool allow_loopback;
    pm_addr stale[MAX_STALE];
    int nstale;
    const char *wfile;
    const char *user;
    int max_addrs;
};

static void usage_probe(FILE *f)
{
    fprintf(f,
            "usage: portmortem probe [options] TARGET\n"
            "\n"
            "Active checks against the mail servers of TARGET: a domain (its MX records, in\n"
            "preference order, then their A/AAAA; without MX the domain's own address, as an\n"
            "MTA does), a host name (--no-mx) or an address ([192.0.2.1], [IPv6:2001:db8::1]).\n"
            "Every packet the probe causes is captured and explained like `capture` does.\n"
            "\n"
            "What is sent, and only this:\n"
            "  always            DNS queries for TARGET (MX, A, AAAA) to the resolver, and per\n"
            "                    address one TCP connect() to port 25 (and each --compare-ports\n"
            "                    port) from --source, with greeting, EHLO, STARTTLS and QUIT\n"
            "  --inject          also raw TCP SYNs (libnet) to port 25 of the addresses TARGET\n"
            "                    resolved to, TTL 64, from --source and one fixed source port,\n"
            "                    up to --tries per address; our kernel resets any SYN-ACK\n"
            "  --ttl-walk        (implies --inject) raw SYNs with TTL 1, 2, ... --max-ttl to\n"
            "                    port 25, --tries per TTL, until a SYN-ACK, a RST, an ICMP error\n"
            "                    other than time-exceeded, or --gap-limit silent hops in a row\n"
            "  raw SYNs are paced by --rate and stop at --max-probes for the whole run; they go\n"
            "  only to addresses TARGET resolved to (never --stale ones), never to broadcast,\n"
            "  multicast, unspecified, this host's own or loopback addresses.\n"
            "\n"
            "options:\n"
            "      --resolver IP       DNS server to ask (default: /etc/resolv.conf)\n"
            "      --no-mx             TARGET is a host: skip the MX lookup\n"
            "  -4, -6                  IPv4 / IPv6 addresses only\n"
            "      --source IP         the MTA's bind address (smtp_bind_address); once per\n"
            "                          family (default: what the route to the MX picks)\n"
            "  -i, --interface IFACE   capture interface (default: the one --source is on)\n"
            "      --compare-ports L   also check these ports, e.g. 587,465 (465: implicit TLS):\n"
            "                          tells a port-25 block from a dead host\n"
            "      --helo NAME         EHLO name (default: this host's name)\n"
            "      --ca FILE           CA certificates for the STARTTLS check (default: system)\n"
            "      --connect-timeout S connect() timeout (default 10)\n"
            "      --smtp-timeout S    timeout per SMTP step (default 20)\n"
            "      --inject            send test SYNs (see above)\n"
            "      --ttl-walk          trace port 25 hop by hop (see above)\n"
            "      --max-ttl N         highest TTL of the walk (default 30, at most 64)\n"
            "      --tries N           probes per TTL and test SYNs per address (default 2)\n"
            "      --wait S            wait for each probe's answer (default 2)\n"
            "      --gap-limit N       silent hops in a row that end the walk (default 3)\n"
            "      --rate PPS          raw SYNs per second (default 3)\n"
            "      --max-probes N      raw SYNs for the whole run (default 100)\n"
            "      --allow-loopback    permit loopback/own targets (tests only)\n"
            "      --stale IP          an address the MTA tried (from its log); repeatable:\n"
            "                          flagged when the DNS no longer lists it, and connected to\n"
            "  -m, --mta-log FILE      the MTA's log: addresses it tried for TARGET's hosts that\n"
            "                          the DNS no longer lists are flagged as a stale cache\n"
            "      --max-addrs N       addresses probed at most (default 8)\n"
            "  -w FILE                 keep the probe's own capture (pcap)\n"
            "  -Z, --user USER         drop privileges to USER (default nobody)\n"
            "  -f, --format FMT        text (default on a terminal) or jsonl\n"
            "  -o, --output FILE       write the report to FILE\n"
            "      --bundle DIR        also write an evidence bundle into the new directory DIR\n"
            "      --sign-key KEY      sign the bundle's manifest (PEM Ed25519 private key)\n"
            "      --bundle-host-context  host-context.txt inside the bundle (default: beside\n"
            "                          it as DIR.host-context.txt, for us only)\n"
            "      --redact            replace internal addresses and host names in the bundle\n"
            "      --log-tz ZONE, --log-year YEAR   how to read --mta-log times\n"
            "  -q, --quiet / -v, --verbose / -h, --help\n"
            "\n"
            "Needs root for the capture and raw sockets (privileges are dropped right after they\n"
            "are open). Without root only the DNS and SMTP checks run. See docs/PROBE.md.\n");
}

/* ---------------------------------------------------------------------------------------- */
/* Run state                                                                                */

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

enum rkind { R_NONE, R_SYNACK, R_RST, R_ICMP };

/* The first answer to one test SYN. */
struct preply {
    uint8_t kind;            /* enum rkind */
    uint8_t ttl;             /* outer TTL / hop limit as received */
    uint8_t icmp_type, icmp_code;
    uint8_t self_rst;        /* our kernel reset the SYN-ACK */
    uint8_t by_ipid;         /* matched through the IP ID: the quoted ISN was not ours */
    uint8_t partial;
    pm_addr from;
    pm_ns ts;
    uint16_t win;
    uint32_t diff;
    uint16_t extra;          /* further answers to the same probe */
    struct pm_quote q;
};

/* A connect() of the SMTP check, to tell whether its SYN reached the wire. */
struct conntrack {
    pm_addr src, dst;
    uint16_t sport, dport;
    uint8_t syn_seen, synack;
    uint8_t synack_ttl;
};

enum wend {
    W_NONE, W_REACHED, W_RST, W_RST_FORGED, W_REJECTED, W_DEST_ICMP, W_SILENT, W_MAXTTL,
    W_CAP, W_STOPPED, W_ERROR
};

#define MAX_HOPS 64

struct whop {
    int probes;
    int sent_idx;            /* index of the answered (or last) probe in P->sent */
    struct preply r;         /* copy of the first answer, kind R_NONE when silent */
};

struct walk {
    bool ran;
    struct pm_tuple t;
    int top;                 /* highest TTL probed */
    struct whop hop[MAX_HOPS + 1];
    enum wend end;
    int end_ttl;
    int last_hop;            /* last TTL answered with time-exceeded */
    pm_addr last_addr;
    int reject_hop;
    pm_addr reject_addr;
    int dest_hops;           /* routers before the destination, -1 unknown */
    int forged_hop;
    pm_addr forged_addr;
    int forged_rst_hops;
    int diff_hop;            /* first hop whose quote differs, 0 none */
    char diff_text[240];
    char error[200];
};

struct synres {
    bool ran;
    struct pm_tuple t;
    int sent;
    int first_idx;           /* index of its first record in P->sent, -1 */
    char error[200];
};

struct portres {
    uint16_t port;
    bool ran;
    struct pm_smtp_res r;
    int syn_seen;            /* -1 no capture, 0 no, 1 yes */
};

struct addrstate {
    struct pm_taddr ta;
    struct pm_route route;   /* this host's route to it (netlink, capture/hostctx.c) */
    bool routed;
    bool src_ok;
    pm_addr src;
    bool inject_ok;
    char inject_refusal[200];
    int reserve_fd;          /* keeps the raw probes' source port out of the kernel's hands */
    uint16_t probe_port;
    struct walk w;
    struct synres s;
    struct portres p[1 + MAX_COMPARE];
    int np;
};

struct prober {
    struct probe_opts o;
    struct pm_engine_config cfg;
    struct pm_engine *eng;
    bool jsonl;
    FILE *out;
    /* capture */
    pcap_t *pc;
    int pcfd;
    int linktype;
    bool nano;
    bool ifloop;
    pcap_dumper_t *dump;
    char *tmp_capture;       /* --bundle without -w: our own temporary capture (a label) */
    bool tmp_named;          /* ... that could not be unlinked at once: remove it at the end */
    uint32_t frame;
    char iface[IF_NAMESIZE + 1];
    char label[128];
    /* injection */
    struct pm_injector *inj;
    struct pm_sent *sent;
    struct preply *rep;
    uint32_t nsent, capsent;
    uint64_t replies_rejected;
    uint64_t self_rsts;
    uint64_t hidden;
    /* SMTP */
    struct ssl_ctx_st *tls;
    char helo[PM_DNS_NAME];
    struct conntrack conns[MAX_CONNS];
    int nconns;
    uint32_t log_line;
    uint32_t connects;
    /* routes and host context (capture/hostctx.c, shared with `capture`) */
    struct pm_hostctx *hc;
    /* targets */
    struct pm_target tgt;
    struct addrstate *as;
    int nas;
    pm_addr src[2];
    bool have_src[2];
    int failures;
    /* Monotonic time until which the capture must keep running so that every SYN the
     * engine saw go unanswered has been unanswered for PM_NO_RESPONSE_WAIT: stopping
     * earlier would turn a silent drop into "incomplete". */
    pm_ns quiet_until;
};

static void keep_capturing_until(struct prober *P, pm_ns first_syn_mono)
{
    pm_ns t = first_syn_mono + PM_NO_RESPONSE_WAIT + PM_MS(300);
    if (t > P->quiet_until) {
        P->quiet_until = t;
    }
}

static int fam_idx(uint8_t family) { return family == PM_AF_INET6 ? 1 : 0; }

/* ---------------------------------------------------------------------------------------- */
/* Output helpers                                                                           */

static void txt(struct prober *P, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void txt(struct prober *P, const char *fmt, ...)
{
    if (P->jsonl) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vfprintf(P->out, fmt, ap);
    va_end(ap);
}

static void jbegin(struct prober *P, struct pm_json *j, const char *check)
{
    pm_json_init(j, P->out);
    pm_json_obj_begin(j);
    pm_json_kstr(j, "type", "probe");
    pm_json_kstr(j, "check", check);
    pm_json_kstr(j, "target", P->o.target);
}

static void jend(struct prober *P, struct pm_json *j)
{
    pm_json_obj_end(j);
    fflush(P->out);
}

static double ms_of(pm_ns d) { return (double)d / 1e6; }

/* ---------------------------------------------------------------------------------------- */
/* Packet matching                                                                          */

static bool is_ours(const struct prober *P, const pm_addr *a)
{
    int k = fam_idx(a->family);
    return P->have_src[k] && pm_addr_eq(&P->src[k], a);
}

static struct conntrack *find_conn(struct prober *P, const pm_addr *dst, uint16_t sport,
                                   uint16_t dport)
{
    for (int i = P->nconns - 1; i >= 0; i--) {
        struct conntrack *c = &P->conns[i];
        if (c->sport == sport && c->dport == dport && pm_addr_eq(&c->dst, dst)) {
            return c;
        }
    }
    return NULL;
}

/* The newest sent probe with this ISN on this tuple, sent before ts. */
static int find_sent(const struct prober *P, const struct pm_tuple *t, uint32_t isn)
{
    for (int i = (int)P->nsent - 1; i >= 0; i--) {
        const struct pm_sent *s = &P->sent[i];
        if (s->isn == isn && s->t.sport == t->sport && s->t.dport == t->dport &&
            pm_addr_eq(&s->t.dst, &t->dst)) {
            return i;
        }
    }
    return -1;
}

/* Is sport one of our raw probes' source ports (towards dst)? */
static const struct addrstate *probe_port_owner(const struct prober *P, const pm_addr *dst,
                                                uint16_t sport)
{
    for (int i = 0; i < P->nas; i++) {
        if (P->as[i].probe_port == sport && pm_addr_eq(&P->as[i].ta.addr, dst)) {
            return &P->as[i];
        }
    }
    return NULL;
}

static void record_reply(struct prober *P, int idx, const struct preply *r)
{
    struct preply *dst = &P->rep[idx];
    if (dst->kind != R_NONE) {
        if (dst->extra < UINT16_MAX) {
            dst->extra++;
        }
        return;
    }
    *dst = *r;
}

/* Returns true when the packet belongs to a TTL-walk probe (kept from the engine). */
static bool match_packet(struct prober *P, const struct pm_pkt *p)
{
    if (p->status != PM_PKT_OK && p->status != PM_PKT_TRUNC) {
        return false;
    }
    const struct pm_cookie_key *key = P->inj ? pm_injector_key(P->inj) : NULL;
    if (p->proto == 6 && p->tcp_flags_ok) {
        uint8_t f = p->flags;
        if (is_ours(P, &p->src)) {
            /* Leaving: a connect's SYN, one of our raw SYNs, or our kernel's RST. */
            if ((f & PM_TH_SYN) && !(f & PM_TH_ACK)) {
                struct conntrack *c = find_conn(P, &p->dst, p->sport, p->dport);
                if (c) {
                    c->syn_seen = 1;
                }
            }
            if (!key || !probe_port_owner(P, &p->dst, p->sport)) {
                return false;
            }
            struct pm_tuple t = {.src = p->src, .dst = p->dst, .sport = p->sport,
                                 .dport = p->dport};
            uint8_t kind = 0;
            if ((f & PM_TH_SYN) && !(f & PM_TH_ACK)) {
                if (!pm_cookie_check(key, &t, p->seq, NULL, NULL, &kind)) {
                    return false;
                }
                int i = find_sent(P, &t, p->seq);
                if (i >= 0 && P->sent[i].wire_ts == PM_NS_NONE) {
                    P->sent[i].wire_ts = p->ts;
                }
                return kind == PM_PK_WALK;
            }
            if (f & PM_TH_RST) {
                /* RFC 9293 §3.10.7.1: a RST answering a SYN-ACK carries seq = its ack, that
                 * is our ISN + 1. The keyed ISN proves the SYN was ours: our stack, not a
                 * remote, reset this flow. */
                if (!pm_cookie_check(key, &t, p->seq - 1, NULL, NULL, &kind)) {
                    return false;
                }
                int i = find_sent(P, &t, p->seq - 1);
                if (i >= 0) {
                    P->rep[i].self_rst = 1;
                }
                P->self_rsts++;
                return kind == PM_PK_WALK;
            }
            return false;
        }
        if (is_ours(P, &p->dst)) {
            struct conntrack *c = find_conn(P, &p->src, p->dport, p->sport);
            if (c && (f & PM_TH_SYN) && (f & PM_TH_ACK) && !c->synack) {
                c->synack = 1;
                c->synack_ttl = p->ttl;
            }
            if (!key || !probe_port_owner(P, &p->src, p->dport)) {
                return false;
            }
            if (!(f & PM_TH_ACK) || !((f & PM_TH_RST) || (f & PM_TH_SYN))) {
                return false;
            }
            struct pm_tuple t = {.src = p->dst, .dst = p->src, .sport = p->dport,
                                 .dport = p->sport};
            uint8_t kind = 0;
            if (!pm_cookie_check(key, &t, p->ack - 1, NULL, NULL, &kind)) {
                /* On our probe port, but not acking any ISN we sent: a spoofed or stale
                 * reply. Counted, never believed. */
                P->replies_rejected++;
                return false;
            }
            int i = find_sent(P, &t, p->ack - 1);
            if (i >= 0) {
                struct preply r = {.kind = (f & PM_TH_RST) ? R_RST : R_SYNACK, .ttl = p->ttl,
                                   .from = p->src, .ts = p->ts, .win = p->win};
                record_reply(P, i, &r);
            }
            return kind == PM_PK_WALK;
        }
        return false;
    }
    if ((p->proto == 1 || p->proto == 58) && p->icmp_is_error && p->has_quote && key) {
        const struct pm_quote *q = &p->quote;
        if (q->proto != 6 || !q->has_ports) {
            return false;
        }
        /* The quote as we sent it, or as a NAT left it: try our own tuple for that
         * destination first, then match through the sequence number alone. */
        const struct addrstate *as = NULL;
        for (int k = 0; k < P->nas; k++) {
            if (P->as[k].probe_port && pm_addr_eq(&P->as[k].ta.addr, &q->dst) &&
                q->dport == 25) {
                as = &P->as[k];
                break;
            }
        }
        if (!as) {
            return false;
        }
        if (q->sport != as->probe_port && find_conn(P, &q->dst, q->sport, q->dport)) {
            return false; /* about one of our connects: the engine's to explain */
        }
        struct pm_tuple t = {.src = as->src, .dst = as->ta.addr, .sport = as->probe_port,
                             .dport = 25};
        int idx = -1;
        uint8_t kind = 0;
        bool by_ipid = false;
        if (q->has_seq && pm_cookie_check(key, &t, q->seq, NULL, NULL, &kind)) {
            idx = find_sent(P, &t, q->seq);
        } else if (q->family == PM_AF_INET) {
            /* The quoted ISN is not ours: a sequence randomiser on the way, or not our packet.
             * Our IP IDs are unique per run: if the quote carries one we sent on this tuple's
             * destination, it is our probe with a rewritten sequence number. */
            for (int i = (int)P->nsent - 1; i >= 0; i--) {
                if (P->sent[i].ip_id == q->ip_id && pm_addr_eq(&P->sent[i].t.dst, &q->dst)) {
                    idx = i;
                    kind = P->sent[i].kind;
                    by_ipid = true;
                    break;
                }
            }
        }
        if (idx < 0) {
            if (q->sport == as->probe_port) {
                /* Quotes our probe port but no ISN or IP ID we sent: spoofed or stale. */
                P->replies_rejected++;
            }
            return false;
        }
        struct preply r = {.kind = R_ICMP, .ttl = p->ttl, .from = p->src, .ts = p->ts,
                           .icmp_type = p->icmp_type, .icmp_code = p->icmp_code, .q = *q,
                           .by_ipid = by_ipid};
        bool partial = false;
        r.diff = pm_quote_diff(&P->sent[idx], q, &partial);
        r.partial = partial;
        record_reply(P, idx, &r);
        return kind == PM_PK_WALK;
    }
    return false;
}

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
    struct prober *P = (struct prober *)(void *)user;
    P->frame++;
    if (P->dump) {
        pcap_dump((u_char *)P->dump, h, bytes);
    }
    struct pm_record rec;
    memset(&rec, 0, sizeof(rec));
    rec.ts = (pm_ns)h->ts.tv_sec * PM_NS_PER_SEC +
             (pm_ns)h->ts.tv_usec * (P->nano ? 1 : 1000);
    rec.caplen = h->caplen;
    rec.wirelen = h->len;
    rec.linktype = P->linktype;
    rec.data = bytes;
    rec.frame = P->frame;
    rec.file = 0;
    rec.vantage = 0;
    rec.ifloop = P->ifloop;
    struct pm_pkt pkt;
    pkt.ts = rec.ts;
    pkt.frame = rec.frame;
    pkt.vantage = 0;
    pkt.on_loopback = rec.ifloop;
    pm_decode(&pkt, rec.linktype, rec.data, rec.caplen, rec.wirelen);
    bool hide = match_packet(P, &pkt);
    if (hide) {
        P->hidden++;
        return;
    }
    if (P->eng) {
        pm_engine_packet(P->eng, &rec);
    }
}

static void drain(struct prober *P)
{
    if (!P->pc) {
        return;
    }
    for (int i = 0; i < 256; i++) {
        int n = pcap_dispatch(P->pc, -1, on_packet, (u_char *)P);
        if (n <= 0) {
            if (n == PCAP_ERROR) {
                PM_WARN_ONCE("reading the capture on %s failed: %s", P->iface,
                             pcap_geterr(P->pc));
            }
            break;
        }
    }
}

typedef bool (*done_fn)(struct prober *P, const void *arg);

/* Wait until fd is ready (fd >= 0), done() holds, or the monotonic deadline passes,
 * capturing and ticking the engine all the while. 1 ready, 2 done, 0 deadline, -1 stop. */
static int pump(struct prober *P, int fd, short events, pm_ns deadline, done_fn done,
                const void *arg)
{
    for (;;) {
        drain(P);
        if (P->eng) {
            pm_engine_tick(P->eng, pm_now_realtime());
        }
        if (g_stop) {
            return -1;
        }
        if (done && done(P, arg)) {
            return 2;
        }
        pm_ns now = pm_now_monotonic();
        if (now >= deadline) {
            return 0;
        }
        struct pollfd pf[2];
        int n = 0, fi = -1;
        if (P->pc && P->pcfd >= 0) {
            pf[n].fd = P->pcfd;
            pf[n].events = POLLIN;
            pf[n].revents = 0;
            n++;
        }
        if (fd >= 0) {
            fi = n;
            pf[n].fd = fd;
            pf[n].events = events;
            pf[n].revents = 0;
            n++;
        }
        /* Wake at least every 100 ms: the engine's live timeouts run on ticks. */
        pm_ns left = deadline - now;
        int ms = (int)PM_MIN((left + PM_NS_PER_MS - 1) / PM_NS_PER_MS, (pm_ns)100);
        int r = poll(pf, (nfds_t)n, ms);
        if (r < 0 && errno != EINTR) {
            PM_WARN_ONCE("poll failed: %s", strerror(errno));
            return -1;
        }
        if (r > 0 && fi >= 0 && pf[fi].revents) {
            drain(P);
            return 1;
        }
    }
}

static int wait_cb(void *ctx, int fd, short events, pm_ns deadline)
{
    int r = pump((struct prober *)ctx, fd, events, deadline, NULL, NULL);
    return r == 1 ? 1 : r == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------------------------------- */
/* Capture                                                                                  */

/* The interface that holds addr (getifaddrs). */
static bool iface_of(const pm_addr *addr, char *name, size_t len)
{
    struct ifaddrs *ifa0 = NULL;
    bool found = false;
    if (getifaddrs(&ifa0) != 0) {
        return false;
    }
    for (struct ifaddrs *i = ifa0; i && !found; i = i->ifa_next) {
        if (!i->ifa_addr) {
            continue;
        }
        pm_addr a;
        memset(&a, 0, sizeof(a));
        if (i->ifa_addr->sa_family == AF_INET) {
            pm_addr_from_v4(&a, (const uint8_t *)&((const struct sockaddr_in *)(const void *)
                                                       i->ifa_addr)->sin_addr);
        } else if (i->ifa_addr->sa_family == AF_INET6) {
            pm_addr_from_v6(&a, ((const struct sockaddr_in6 *)(const void *)i->ifa_addr)
                                    ->sin6_addr.s6_addr);
        } else {
            continue;
        }
        if (pm_addr_eq(&a, addr)) {
            pm_strlcpy(name, i->ifa_name, len);
            found = true;
        }
    }
    freeifaddrs(ifa0);
    return found;
}

/* The source address the kernel would pick towards dst (a UDP connect sends nothing). */
static bool route_source(const pm_addr *dst, pm_addr *src, int *err)
{
    int fam = dst->family == PM_AF_INET6 ? AF_INET6 : AF_INET;
    int fd = socket(fam, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *err = errno;
        return false;
    }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t sl;
    if (fam == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(25);
        memcpy(&s4->sin_addr, dst->b, 4);
        sl = sizeof(*s4);
    } else {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(25);
        memcpy(&s6->sin6_addr, dst->b, 16);
        sl = sizeof(*s6);
    }
    bool ok = false;
    if (connect(fd, (struct sockaddr *)&ss, sl) == 0) {
        struct sockaddr_storage ls;
        socklen_t ll = sizeof(ls);
        if (getsockname(fd, (struct sockaddr *)&ls, &ll) == 0) {
            if (ls.ss_family == AF_INET) {
                pm_addr_from_v4(src, (const uint8_t *)&((struct sockaddr_in *)&ls)->sin_addr);
            } else {
                pm_addr_from_v6(src, ((struct sockaddr_in6 *)&ls)->sin6_addr.s6_addr);
            }
            ok = true;
        }
    } else {
        *err = errno;
    }
    close(fd);
    return ok;
}

/* Append to a bounded string; *o counts what would have been written, so an overflow is
 * visible to the caller (*o >= len) and never written past. */
static void append(char *buf, size_t len, size_t *o, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t len, size_t *o, const char *fmt, ...)
{
    if (*o >= len) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *o, len - *o, fmt, ap);
    va_end(ap);
    if (n > 0) {
        *o += (size_t)n;
    }
}

static int open_capture(struct prober *P)
{
    char err[PCAP_ERRBUF_SIZE] = "";
    P->pc = pcap_create(P->iface, err);
    if (!P->pc) {
        pm_err("cannot capture on %s: %s", P->iface, err);
        return -1;
    }
    pcap_set_snaplen(P->pc, 65535);
    pcap_set_promisc(P->pc, 0);
    pcap_set_immediate_mode(P->pc, 1); /* replies must arrive while we wait for them */
    pcap_set_buffer_size(P->pc, 4 << 20);
    P->nano = pcap_set_tstamp_precision(P->pc, PCAP_TSTAMP_PRECISION_NANO) == 0;
    int rc = pcap_activate(P->pc);
    if (rc < 0) {
        pm_err("cannot capture on %s: %s", P->iface,
               rc == PCAP_ERROR ? pcap_geterr(P->pc) : pcap_statustostr(rc));
        if (rc == PCAP_ERROR_PERM_DENIED) {
            pm_hint("run as root (or with CAP_NET_RAW); the probe drops privileges after "
                    "opening its capture and raw sockets");
        } else if (rc == PCAP_ERROR_NO_SUCH_DEVICE) {
            pm_hint("name the interface with -i IFACE (ip -br link lists them)");
        }
        pcap_close(P->pc);
        P->pc = NULL;
        return -1;
    }
    P->nano = P->nano && pcap_get_tstamp_precision(P->pc) == PCAP_TSTAMP_PRECISION_NANO;
    /* Keep what the engine needs for our ports, limited to the targets (other traffic of
     * the MTA on this host is not the probe's to report), and the ICMP errors that quote a
     * target as their destination: routers answer from their own addresses, but what they
     * quote names the flow. (The quote's IP header starts after the 8-byte ICMP header; its
     * destination is at offset 16 (IPv4) or 24 (IPv6) of that header.) */
    char base[1024], filter[8192], v4[4096] = "", v6[4096] = "";
    uint16_t ports[1 + MAX_COMPARE];
    int np = 0;
    ports[np++] = 25;
    for (int i = 0; i < P->o.ncompare; i++) {
        ports[np++] = P->o.compare[i];
    }
    pm_engine_filter(ports, np, base, sizeof(base));
    size_t o = 0, o4 = 0, o6 = 0;
    char hosts[4096] = "";
    for (int i = 0; i < P->nas; i++) {
        const pm_addr *a = &P->as[i].ta.addr;
        char s[PM_ADDR_STRLEN];
        append(hosts, sizeof(hosts), &o, "%shost %s", o ? " or " : "", pm_addr_str(a, s));
        if (a->family == PM_AF_INET) {
            append(v4, sizeof(v4), &o4, "%sicmp[24:4] == 0x%02x%02x%02x%02x", o4 ? " or " : "",
                   a->b[0], a->b[1], a->b[2], a->b[3]);
            continue;
        }
        append(v6, sizeof(v6), &o6, "%s(", o6 ? " or " : "");
        for (int w = 0; w < 4; w++) {
            append(v6, sizeof(v6), &o6, "%sip6[%d:4] == 0x%02x%02x%02x%02x", w ? " and " : "",
                   72 + 4 * w, a->b[4 * w], a->b[4 * w + 1], a->b[4 * w + 2], a->b[4 * w + 3]);
        }
        append(v6, sizeof(v6), &o6, ")");
    }
    size_t fl = 0;
    append(filter, sizeof(filter), &fl, "(%s) and (%s%s%s%s%s%s%s)", base, hosts,
           o4 ? " or (icmp and (" : "", v4, o4 ? "))" : "", o6 ? " or (icmp6 and (" : "", v6,
           o6 ? "))" : "");
    if (fl >= sizeof(filter) || o >= sizeof(hosts) || o4 >= sizeof(v4) || o6 >= sizeof(v6)) {
        pm_err("the capture filter for %d addresses is too long", P->nas);
        pm_hint("probe fewer addresses (--max-addrs)");
        pcap_close(P->pc);
        P->pc = NULL;
        return -1;
    }
    pm_debug("capture filter: %s", filter);
    struct bpf_program prog;
    if (pcap_compile(P->pc, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0 ||
        pcap_setfilter(P->pc, &prog) != 0) {
        pm_err("cannot set the capture filter on %s: %s", P->iface, pcap_geterr(P->pc));
        pcap_close(P->pc);
        P->pc = NULL;
        return -1;
    }
    pcap_freecode(&prog);
    if (pcap_setnonblock(P->pc, 1, err) != 0) {
        pm_err("cannot make the capture non-blocking: %s", err);
        pcap_close(P->pc);
        P->pc = NULL;
        return -1;
    }
    P->pcfd = pcap_get_selectable_fd(P->pc);
    P->linktype = pm_linktype_normalize(pcap_datalink(P->pc));
    P->ifloop = !strcmp(P->iface, "lo");
    if (!pm_linktype_supported(P->linktype)) {
        pm_err("%s has link type %s, which portmortem does not decode", P->iface,
               pcap_datalink_val_to_name(pcap_datalink(P->pc)));
        pcap_close(P->pc);
        P->pc = NULL;
        return -1;
    }
    if (P->o.wfile) {
        /* As root: no symlink followed, only a regular file, a new one 0600 and handed to
         * the -Z user, an existing one only if ours (pm_open_output, issue 19). */
        bool created = false;
        char why[256];
        const struct passwd *pw = getpwnam(P->o.user ? P->o.user : PM_PRIV_DEFAULT_USER);
        uid_t zuid = pw && geteuid() == 0 ? pw->pw_uid : (uid_t)-1;
        gid_t zgid = pw ? pw->pw_gid : (gid_t)-1;
        int fd = pm_open_output(P->o.wfile, zuid, &created, why, sizeof(why));
        if (fd < 0) {
            pm_err("cannot write %s: %s", P->o.wfile, why);
            pm_hint("give -w a new file name, or remove what is there first");
            return -2;
        }
        if (created && zuid != (uid_t)-1 && fchown(fd, zuid, zgid) != 0) {
            pm_warn("cannot hand %s to uid %u: %s", P->o.wfile, (unsigned)zuid, strerror(errno));
        }
        FILE *f = fdopen(fd, "w");
        P->dump = f ? pcap_dump_fopen(P->pc, f) : NULL;
        if (!P->dump) {
            pm_err("cannot write %s: %s", P->o.wfile, f ? pcap_geterr(P->pc) : strerror(errno));
            if (f) {
                fclose(f);
            } else {
                close(fd);
            }
            return -2;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* SMTP checks                                                                              */

struct conn_started {
    struct prober *P;
    pm_addr dst;
    uint16_t dport;
};

/* The connect in progress: checks run one at a time, and the callback only gets its local
 * end, so the destination is parked here. */
static struct conn_started g_cs;

static void conn_started_cb(void *ctx, const pm_addr *src, uint16_t sport)
{
    struct prober *P = ctx;
    if (P->nconns >= MAX_CONNS) {
        return;
    }
    struct conntrack *c = &P->conns[P->nconns++];
    memset(c, 0, sizeof(*c));
    c->src = *src;
    c->dst = g_cs.dst;
    c->sport = sport;
    c->dport = g_cs.dport;
}

static bool conn_syn_seen(struct prober *P, const pm_addr *dst, uint16_t sport, uint16_t dport)
{
    const struct conntrack *c = find_conn(P, dst, sport, dport);
    return c && c->syn_seen;
}

/* The connect left no SYN on the wire: tell the engine what the MTA in us saw, as a log line
 * would, so that it reports a not-on-wire attempt (local firewall or route) in its words. */
static void feed_not_on_wire(struct prober *P, const struct addrstate *as,
                             const struct portres *pr)
{
    if (!P->eng) {
        return;
    }
    struct pm_logentry le;
    memset(&le, 0, sizeof(le));
    /* Stamped as an MTA stamps its line: when connect() failed, to the nanosecond; its
     * measured duration (conn_delay_ms) bounds when the SYN can have left (the capture-window
     * rule, docs/VERDICTS.md). */
    le.ts = pm_now_realtime();
    le.ts_digits = 9;
    le.tskind = PM_TS_ISO_ZONED;
    le.mta = PM_MTA_UNKNOWN;
    le.kind = pr->r.failed_step == PM_SS_BIND ? PM_LK_BIND_FAIL : PM_LK_CONNECT_FAIL;
    le.err = (uint8_t)pm_errclass_from_text(strerror(pr->r.err));
    le.addr = as->ta.addr;
    le.port = pr->port;
    le.smtp_code = 0;
    le.conn_delay_ms = (int32_t)(pr->r.connect_ns / PM_NS_PER_MS);
    le.line = ++P->log_line;
    pm_strlcpy(le.host, as->ta.name, sizeof(le.host));
    char a[PM_ADDR_STRLEN];
    snprintf(le.text, sizeof(le.text), "probe connect to %s[%s]:%u: %s", as->ta.name,
             pm_addr_str(&as->ta.addr, a), pr->port, strerror(pr->r.err));
    pm_engine_log_entry(P->eng, "probe-connects", &le);
}

static void print_smtp(struct prober *P, const struct addrstate *as, const struct portres *pr)
{
    const struct pm_smtp_res *r = &pr->r;
    char a[PM_ADDR_STRLEN], s[PM_ADDR_STRLEN];
    pm_addr_str(&as->ta.addr, a);
    pm_addr_str(&r->src, s);
    bool ok = r->failed_step == PM_SS_DONE;
    if (P->jsonl) {
        struct pm_json jj, *j = &jj;
        jbegin(P, j, "smtp");
        pm_json_kaddr(j, "dst", &as->ta.addr);
        pm_json_kstr(j, "name", as->ta.name);
        pm_json_kuint(j, "dport", pr->port);
        pm_json_kaddr(j, "src", r->src.family ? &r->src : NULL);
        if (r->sport) {
            pm_json_kuint(j, "sport", r->sport);
        } else {
            pm_json_key(j, "sport");
            pm_json_null(j);
        }
        pm_json_kbool(j, "stale", as->ta.stale);
        pm_json_kstr(j, "result", ok ? "ok" : "failed");
        pm_json_kstr(j, "failed_step", ok ? NULL : pm_smtp_step_name(r->failed_step));
        pm_json_kstr(j, "error", r->error[0] ? r->error : NULL);
        if (r->err) {
            pm_json_kint(j, "errno", r->err);
            pm_json_kstr(j, "errno_text", strerror(r->err));
        }
        pm_json_key(j, "syn_on_wire");
        if (pr->syn_seen < 0) {
            pm_json_null(j);
        } else {
            pm_json_bool(j, pr->syn_seen > 0);
        }
        if (r->connected) {
            pm_json_key(j, "connect_ms");
            pm_json_double(j, ms_of(r->connect_ns), 3);
        }
        if (r->greeting_code) {
            pm_json_key(j, "greeting");
            pm_json_obj_begin(j);
            pm_json_kint(j, "code", r->greeting_code);
            pm_json_kstr(j, "text", r->greeting);
            pm_json_key(j, "ms");
            pm_json_double(j, ms_of(r->greeting_ns), 3);
            pm_json_kbool(j, "masked", r->masked_banner);
            pm_json_obj_end(j);
        }
        if (r->ehlo_code) {
            pm_json_key(j, "ehlo");
            pm_json_obj_begin(j);
            pm_json_kint(j, "code", r->ehlo_code);
            pm_json_kstr(j, "text", r->ehlo_first);
            pm_json_key(j, "extensions");
            pm_json_arr_begin(j);
            for (int i = 0; i < r->next; i++) {
                pm_json_str(j, r->ext[i]);
            }
            pm_json_arr_end(j);
            pm_json_kbool(j, "masked", r->masked_ehlo);
            pm_json_obj_end(j);
        }
        if (pr->port != 465 && r->ehlo_code) {
            pm_json_key(j, "starttls");
            pm_json_obj_begin(j);
            pm_json_kbool(j, "offered", r->starttls_offered);
            if (r->starttls_code) {
                pm_json_kint(j, "code", r->starttls_code);
                pm_json_kstr(j, "text", r->starttls_text);
            }
            pm_json_obj_end(j);
        }
        if (r->tls.done || r->tls.error[0]) {
            const struct pm_tls_info *t = &r->tls;
            pm_json_key(j, "tls");
            pm_json_obj_begin(j);
            pm_json_kbool(j, "implicit", pr->port == 465);
            pm_json_kbool(j, "handshake", t->done);
            if (t->done) {
                pm_json_kstr(j, "protocol", t->protocol);
                pm_json_kstr(j, "cipher", t->cipher);
                pm_json_kstr(j, "subject", t->subject);
                pm_json_kstr(j, "issuer", t->issuer);
                pm_json_kstr(j, "not_before", t->not_before);
                pm_json_kstr(j, "not_after", t->not_after);
                pm_json_kint(j, "days_left", t->days_left);
                pm_json_kstr(j, "verified_name", t->verified_name);
                pm_json_kstr(j, "verify", t->verify_code == 0 ? "ok" : "failed");
                pm_json_kint(j, "verify_code", t->verify_code);
                pm_json_kstr(j, "verify_text", t->verify_text);
            } else {
                pm_json_kstr(j, "error", t->error);
            }
            pm_json_obj_end(j);
        }
        if (r->ehlo_tls_code) {
            pm_json_kint(j, "ehlo_tls_code", r->ehlo_tls_code);
        }
        if (r->quit_code) {
            pm_json_kint(j, "quit_code", r->quit_code);
        }
        pm_json_key(j, "signs");
        pm_json_arr_begin(j);
        for (int i = 0; i < r->nsigns; i++) {
            pm_json_str(j, r->signs[i]);
        }
        pm_json_arr_end(j);
        jend(P, j);
        return;
    }
    txt(P, "  smtp %s:%u from %s:", a, pr->port, r->src.family ? s : "?");
    if (!r->connected) {
        txt(P, " %s%s\n", r->error,
            pr->syn_seen == 0 ? " — no SYN left this host (stopped by a local firewall or "
                                "route)" : "");
    } else {
        txt(P, " connected in %.3f ms", ms_of(r->connect_ns));
        if (r->greeting_code) {
            txt(P, "; %d %.80s", r->greeting_code, r->greeting);
        }
        if (r->ehlo_code) {
            txt(P, "; EHLO %d", r->ehlo_code);
            if (pr->port != 465) {
                txt(P, " (STARTTLS %s)", r->starttls_offered ? "offered" : "not offered");
            }
        }
        txt(P, "\n");
        if (r->tls.done) {
            const struct pm_tls_info *t = &r->tls;
            txt(P, "    TLS: %s %s\n", t->protocol, t->cipher);
            txt(P, "    certificate: subject %s\n", t->subject);
            txt(P, "                 issuer  %s\n", t->issuer);
            txt(P, "                 valid until %s (%ld days)\n", t->not_after, t->days_left);
            txt(P, "                 verification for %s: %s\n", t->verified_name,
                t->verify_code == 0 ? "ok" : t->verify_text);
        } else if (r->starttls_code && r->starttls_code != 220) {
            txt(P, "    STARTTLS refused: %d %s\n", r->starttls_code, r->starttls_text);
        }
        if (r->failed_step != PM_SS_DONE) {
            txt(P, "    failed at %s: %s\n", pm_smtp_step_name(r->failed_step), r->error);
        } else if (r->quit_code) {
            txt(P, "    QUIT %d\n", r->quit_code);
        }
    }
    for (int i = 0; i < r->nsigns; i++) {
        txt(P, "    sign: %s\n", r->signs[i]);
    }
    fflush(P->out);
}

static void run_smtp(struct prober *P, struct addrstate *as, struct portres *pr)
{
    struct pm_smtp_cfg sc;
    memset(&sc, 0, sizeof(sc));
    sc.dst = as->ta.addr;
    sc.port = pr->port;
    int k = fam_idx(as->ta.addr.family);
    sc.src = P->o.have_source[k] ? &P->o.source[k] : NULL;
    sc.name = as->ta.pref >= 0 || P->tgt.kind != PM_TK_LITERAL ? as->ta.name : NULL;
    sc.helo = P->helo;
    sc.connect_timeout = P->o.connect_tmo;
    sc.step_timeout = P->o.step_tmo;
    sc.tls = P->tls;
    sc.implicit_tls = pr->port == 465;
    sc.wait = wait_cb;
    sc.wait_ctx = P;
    sc.started = conn_started_cb;
    g_cs.P = P;
    g_cs.dst = as->ta.addr;
    g_cs.dport = pr->port;
    P->connects++;
    pm_ns t_start = pm_now_monotonic();
    pm_smtp_check(&sc, &pr->r);
    if (!pr->r.connected && pr->r.timed_out) {
        keep_capturing_until(P, t_start);
    }
    pr->ran = true;
    pr->syn_seen = -1;
    if (P->pc && pr->r.sport) {
        /* Let the capture catch up with the SYN before judging that it never left. */
        if (!conn_syn_seen(P, &as->ta.addr, pr->r.sport, pr->port)) {
            pump(P, -1, 0, pm_now_monotonic() + PM_MS(200), NULL, NULL);
        }
        pr->syn_seen = conn_syn_seen(P, &as->ta.addr, pr->r.sport, pr->port) ? 1 : 0;
        if (!pr->syn_seen && pr->r.failed_step == PM_SS_CONNECT && pr->r.err) {
            feed_not_on_wire(P, as, pr);
        }
    }
    print_smtp(P, as, pr);
}

/* ---------------------------------------------------------------------------------------- */
/* Test SYNs and the TTL walk                                                               */

/* Send one raw SYN, waiting for the token bucket (capturing meanwhile). Returns the index of
 * its record, or -1 (reason in err). */
static int send_probe(struct prober *P, const struct pm_tuple *t, uint8_t ttl, uint8_t attempt,
                      uint8_t kind, char *err, size_t errlen, enum pm_inj_rc *rc_out)
{
    for (;;) {
        if (P->nsent >= P->capsent) {
            *rc_out = PM_INJ_CAP; /* unreachable: the injector refuses first */
            snprintf(err, errlen, "--max-probes %u reached", P->o.max_probes);
            return -1;
        }
        struct pm_sent *s = &P->sent[P->nsent];
        enum pm_inj_rc rc = pm_injector_syn(P->inj, t, ttl, attempt, kind, s, err, errlen);
        *rc_out = rc;
        if (rc == PM_INJ_OK) {
            memset(&P->rep[P->nsent], 0, sizeof(P->rep[0]));
            return (int)P->nsent++;
        }
        if (rc == PM_INJ_ERROR && s->id) {
            /* Sent (and counted) but refused by the kernel: keep no record, report it. */
            return -1;
        }
        if (rc != PM_INJ_RATE) {
            return -1;
        }
        pm_ns w = pm_injector_wait(P->inj, pm_now_monotonic());
        if (pump(P, -1, 0, pm_now_monotonic() + w, NULL, NULL) < 0) {
            *rc_out = PM_INJ_ERROR;
            snprintf(err, errlen, "interrupted");
            return -1;
        }
    }
}

struct reply_wait {
    int from, to; /* sent indices [from, to] */
};

static bool any_reply(struct prober *P, const void *arg)
{
    const struct reply_wait *w = arg;
    for (int i = w->from; i <= w->to; i++) {
        if (i >= 0 && (uint32_t)i < P->nsent && P->rep[i].kind != R_NONE) {
            return true;
        }
    }
    return false;
}

static const char *reply_word(const struct preply *r, uint8_t family)
{
    switch (r->kind) {
    case R_SYNACK:
        return "syn-ack";
    case R_RST:
        return "rst";
    case R_ICMP:
        if ((family == PM_AF_INET && r->icmp_type == 11) ||
            (family == PM_AF_INET6 && r->icmp_type == 3)) {
            return "time-exceeded";
        }
        return pm_icmp_reason(family, r->icmp_type, r->icmp_code);
    default:
        return "none";
    }
}

static bool is_ttl_exceeded(const struct preply *r, uint8_t family)
{
    return r->kind == R_ICMP && ((family == PM_AF_INET && r->icmp_type == 11) ||
                                 (family == PM_AF_INET6 && r->icmp_type == 3));
}

static pm_ns rtt_of(const struct prober *P, int idx)
{
    const struct pm_sent *s = &P->sent[idx];
    const struct preply *r = &P->rep[idx];
    pm_ns t0 = s->wire_ts != PM_NS_NONE ? s->wire_ts : s->sent_real;
    return r->ts > t0 ? r->ts - t0 : 0;
}

static void walk_analyse(struct prober *P, struct addrstate *as)
{
    struct walk *w = &as->w;
    uint8_t fam = as->ta.addr.family;
    w->dest_hops = -1;
    for (int ttl = 1; ttl <= w->top; ttl++) {
        const struct whop *h = &w->hop[ttl];
        if (h->r.kind == R_NONE) {
            continue;
        }
        if (is_ttl_exceeded(&h->r, fam)) {
            if (ttl > w->last_hop) {
                w->last_hop = ttl;
                w->last_addr = h->r.from;
            }
        }
        if (h->r.kind == R_ICMP && h->r.diff && !w->diff_hop) {
            w->diff_hop = ttl;
            pm_qdiff_describe(h->r.diff, &P->sent[h->sent_idx], &h->r.q, w->diff_text,
                              sizeof(w->diff_text));
        }
    }
    if (w->end_ttl <= 0) {
        return;
    }
    const struct whop *e = &w->hop[w->end_ttl];
    switch (e->r.kind) {
    case R_SYNACK:
        w->end = W_REACHED;
        w->dest_hops = w->end_ttl - 1;
        break;
    case R_RST: {
        /* The RST's own TTL says how many routers it crossed. A genuine RST from the
         * destination crossed as many as our probe needed to reach it (end_ttl - 1); one
         * that crossed fewer was made by the device at hop (its hops + 1). */
        int rh = pm_ttl_hops(e->r.ttl);
        w->dest_hops = w->end_ttl - 1;
        if (rh < w->end_ttl - 1) {
            w->end = W_RST_FORGED;
            w->forged_rst_hops = rh;
            w->forged_hop = rh + 1;
            if (rh + 1 <= w->top && w->hop[rh + 1].r.kind != R_NONE &&
                is_ttl_exceeded(&w->hop[rh + 1].r, fam)) {
                w->forged_addr = w->hop[rh + 1].r.from;
            }
        } else {
            w->end = W_RST;
        }
        break;
    }
    case R_ICMP:
        if (pm_addr_eq(&e->r.from, &as->ta.addr)) {
            w->end = W_DEST_ICMP;
            w->dest_hops = w->end_ttl - 1;
        } else {
            w->end = W_REJECTED;
            w->reject_addr = e->r.from;
            /* The rejecting router's hop: where it answered time-exceeded itself, else its
             * ICMP's own TTL, else the probe's TTL. */
            w->reject_hop = 0;
            for (int ttl = 1; ttl < w->end_ttl; ttl++) {
                if (is_ttl_exceeded(&w->hop[ttl].r, fam) &&
                    pm_addr_eq(&w->hop[ttl].r.from, &e->r.from)) {
                    w->reject_hop = ttl;
                }
            }
            if (!w->reject_hop) {
                int hh = pm_ttl_hops(e->r.ttl);
                w->reject_hop = hh >= 0 && hh < w->end_ttl ? hh + 1 : w->end_ttl;
            }
        }
        break;
    default:
        break;
    }
}

static const char *wend_name(enum wend e)
{
    switch (e) {
    case W_REACHED:
        return "reached";
    case W_RST:
        return "rst";
    case W_RST_FORGED:
        return "forged-rst";
    case W_REJECTED:
        return "rejected";
    case W_DEST_ICMP:
        return "destination-icmp";
    case W_SILENT:
        return "silent";
    case W_MAXTTL:
        return "max-ttl";
    case W_CAP:
        return "max-probes";
    case W_STOPPED:
        return "interrupted";
    case W_ERROR:
        return "error";
    default:
        return "none";
    }
}

static void walk_text(const struct walk *w, const struct addrstate *as, char *buf, size_t len)
{
    char a[PM_ADDR_STRLEN], d[PM_ADDR_STRLEN];
    pm_addr_str(&as->ta.addr, d);
    const struct whop *e = w->end_ttl > 0 ? &w->hop[w->end_ttl] : NULL;
    switch (w->end) {
    case W_REACHED:
        snprintf(buf, len, "port 25 is open along this path: %s answered SYN-ACK at TTL %d "
                 "(%d routers away)", d, w->end_ttl, w->dest_hops);
        break;
    case W_RST:
        snprintf(buf, len, "%s (%d routers away) answered RST at TTL %d: nothing listens on "
                 "port 25 there, or its own firewall resets", d, w->dest_hops, w->end_ttl);
        break;
    case W_RST_FORGED:
        snprintf(buf, len, "a RST claiming to be from %s came from %d routers away, but the "
                 "probe needed TTL %d to get it: forged on the path by hop %d%s%s",
                 d, w->forged_rst_hops, w->end_ttl, w->forged_hop,
                 w->forged_addr.family ? " = " : "",
                 w->forged_addr.family ? pm_addr_str(&w->forged_addr, a) : "");
        break;
    case W_REJECTED:
        snprintf(buf, len, "rejected at hop %d by %s with ICMP %s (answering the TTL %d probe)",
                 w->reject_hop, pm_addr_str(&w->reject_addr, a),
                 e ? pm_icmp_text(as->ta.addr.family, e->r.icmp_type, e->r.icmp_code) : "?",
                 w->end_ttl);
        break;
    case W_DEST_ICMP:
        snprintf(buf, len, "%s itself rejects port 25 with ICMP %s (%d routers away)", d,
                 e ? pm_icmp_text(as->ta.addr.family, e->r.icmp_type, e->r.icmp_code) : "?",
                 w->dest_hops);
        break;
    case W_SILENT:
        if (w->last_hop > 0) {
            snprintf(buf, len, "SYNs to port 25 pass hop %d (%s) and vanish after it: the "
                     "drop is at the next hop or the one after", w->last_hop,
                     pm_addr_str(&w->last_addr, a));
        } else {
            snprintf(buf, len, "no hop answered at all: the SYNs vanish before the first "
                     "router (a local drop, or routers that never send time-exceeded)");
        }
        break;
    case W_MAXTTL:
        snprintf(buf, len, "no end within TTL %d; last answer from hop %d", w->top,
                 w->last_hop);
        break;
    case W_CAP:
        snprintf(buf, len, "stopped: --max-probes reached at TTL %d", w->top);
        break;
    case W_STOPPED:
        snprintf(buf, len, "interrupted at TTL %d", w->top);
        break;
    case W_ERROR:
        snprintf(buf, len, "could not send: %s", w->error);
        break;
    default:
        snprintf(buf, len, "no result");
        break;
    }
}

/* What to do next, from the walk's result: once a walk ran, the run's Next line uses this
 * instead of a step that says to run the walk (issue 14.6); the engine takes it for the
 * address when port 25 fails there. Empty when the walk found port 25 open. */
static void walk_next(const struct walk *w, const struct addrstate *as, char *buf, size_t len)
{
    char a[PM_ADDR_STRLEN], d[PM_ADDR_STRLEN];
    pm_addr_str(&as->ta.addr, d);
    const struct whop *e = w->end_ttl > 0 ? &w->hop[w->end_ttl] : NULL;
    buf[0] = '\0';
    switch (w->end) {
    case W_RST_FORGED:
        snprintf(buf, len, "The TTL walk shows RSTs for TCP 25 to %s forged by hop %d%s%s: send "
                 "the evidence (this report, the -w capture) to the network team of that hop.",
                 d, w->forged_hop, w->forged_addr.family ? " = " : "",
                 w->forged_addr.family ? pm_addr_str(&w->forged_addr, a) : "");
        break;
    case W_REJECTED:
        snprintf(buf, len, "The TTL walk shows hop %d (%s) rejecting TCP 25 to %s with ICMP %s: "
                 "send the evidence to that router's network team.", w->reject_hop,
                 pm_addr_str(&w->reject_addr, a), d,
                 e ? pm_icmp_text(as->ta.addr.family, e->r.icmp_type, e->r.icmp_code) : "?");
        break;
    case W_SILENT:
        if (w->last_hop > 0) {
            pm_addr_str(&w->last_addr, a);
            snprintf(buf, len, "The TTL walk shows SYNs to %s:25 passing hop %d (%s) and "
                     "vanishing after it: dropped where %s forwards them or at the next hop; "
                     "send the evidence to the network team of %s.", d, w->last_hop, a, a, a);
        } else {
            snprintf(buf, len, "The TTL walk got no answer from any hop: look at this host's "
                     "OUTPUT rules and its gateway's firewall for TCP 25 to %s.", d);
        }
        break;
    case W_RST:
        snprintf(buf, len, "The TTL walk shows %s itself (%d routers away) answering RST on "
                 "port 25: tell its postmaster (nothing listens, or its own firewall resets).",
                 d, w->dest_hops);
        break;
    case W_DEST_ICMP:
        snprintf(buf, len, "The TTL walk shows %s itself rejecting port 25 with ICMP %s: tell "
                 "its postmaster (a host firewall REJECT).", d,
                 e ? pm_icmp_text(as->ta.addr.family, e->r.icmp_type, e->r.icmp_code) : "?");
        break;
    case W_MAXTTL:
        snprintf(buf, len, "The TTL walk to %s found no end within TTL %d (last answer from hop "
                 "%d): walk again with a larger --max-ttl.", d, w->top, w->last_hop);
        break;
    case W_CAP:
        snprintf(buf, len, "The TTL walk to %s stopped at --max-probes (TTL %d): walk again with "
                 "a larger --max-probes.", d, w->top);
        break;
    case W_ERROR:
        snprintf(buf, len, "The TTL walk to %s could not send (%s): fix that and walk again.",
                 d, w->error);
        break;
    default:
        break; /* reached (port 25 open on the path), interrupted, no result */
    }
}

static void print_walk(struct prober *P, const struct addrstate *as)
{
    const struct walk *w = &as->w;
    uint8_t fam = as->ta.addr.family;
    char text[400], a[PM_ADDR_STRLEN], s[PM_ADDR_STRLEN];
    walk_text(w, as, text, sizeof(text));
    if (P->jsonl) {
        struct pm_json jj, *j = &jj;
        jbegin(P, j, "walk");
        pm_json_kaddr(j, "dst", &as->ta.addr);
        pm_json_kstr(j, "name", as->ta.name);
        pm_json_kuint(j, "dport", 25);
        pm_json_kaddr(j, "src", &w->t.src);
        pm_json_kuint(j, "sport", w->t.sport);
        pm_json_kint(j, "max_ttl", P->o.max_ttl);
        pm_json_key(j, "hops");
        pm_json_arr_begin(j);
        for (int ttl = 1; ttl <= w->top; ttl++) {
            const struct whop *h = &w->hop[ttl];
            pm_json_obj_begin(j);
            pm_json_kint(j, "ttl", ttl);
            pm_json_kint(j, "probes", h->probes);
            pm_json_kstr(j, "answer", reply_word(&h->r, fam));
            if (h->r.kind != R_NONE) {
                pm_json_kaddr(j, "from", &h->r.from);
                pm_json_kint(j, "reply_ttl", h->r.ttl);
                pm_json_kint(j, "reply_hops", pm_ttl_hops(h->r.ttl));
                pm_json_key(j, "rtt_ms");
                pm_json_double(j, ms_of(rtt_of(P, h->sent_idx)), 3);
                if (h->r.kind == R_ICMP) {
                    pm_json_key(j, "icmp");
                    pm_json_obj_begin(j);
                    pm_json_kint(j, "type", h->r.icmp_type);
                    pm_json_kint(j, "code", h->r.icmp_code);
                    pm_json_obj_end(j);
                    pm_json_key(j, "quote");
                    pm_json_obj_begin(j);
                    pm_json_kint(j, "bytes", h->r.q.bytes);
                    pm_json_kint(j, "ttl", h->r.q.ttl);
                    pm_json_kbool(j, "partial", h->r.partial);
                    pm_json_kbool(j, "matched_by_ip_id", h->r.by_ipid);
                    pm_json_key(j, "diff");
                    pm_json_arr_begin(j);
                    for (unsigned b = 0; b < PM_QD__BITS; b++) {
                        if (h->r.diff & (1u << b)) {
                            char one[120];
                            pm_qdiff_describe(1u << b, &P->sent[h->sent_idx], &h->r.q, one,
                                              sizeof(one));
                            pm_json_str(j, one);
                        }
                    }
                    pm_json_arr_end(j);
                    pm_json_obj_end(j);
                }
                if (P->rep[h->sent_idx].self_rst) {
                    pm_json_kbool(j, "self_rst", true);
                }
            }
            pm_json_obj_end(j);
        }
        pm_json_arr_end(j);
        pm_json_kstr(j, "end", wend_name(w->end));
        pm_json_kint(j, "end_ttl", w->end_ttl);
        if (w->last_hop > 0) {
            pm_json_key(j, "last_hop");
            pm_json_obj_begin(j);
            pm_json_kint(j, "hop", w->last_hop);
            pm_json_kaddr(j, "addr", &w->last_addr);
            pm_json_obj_end(j);
        }
        if (w->end == W_REJECTED) {
            pm_json_key(j, "reject");
            pm_json_obj_begin(j);
            pm_json_kint(j, "hop", w->reject_hop);
            pm_json_kaddr(j, "addr", &w->reject_addr);
            const struct whop *e = &w->hop[w->end_ttl];
            pm_json_kint(j, "icmp_type", e->r.icmp_type);
            pm_json_kint(j, "icmp_code", e->r.icmp_code);
            pm_json_kstr(j, "reason", pm_icmp_reason(fam, e->r.icmp_type, e->r.icmp_code));
            pm_json_obj_end(j);
        }
        if (w->end == W_SILENT) {
            pm_json_key(j, "silent_after");
            pm_json_obj_begin(j);
            pm_json_kint(j, "hop", w->last_hop);
            pm_json_kaddr(j, "addr", w->last_hop ? &w->last_addr : NULL);
            pm_json_obj_end(j);
        }
        if (w->dest_hops >= 0) {
            pm_json_kint(j, "destination_hops", w->dest_hops);
        }
        if (w->end == W_RST_FORGED) {
            pm_json_key(j, "forged_rst");
            pm_json_obj_begin(j);
            pm_json_kint(j, "hop", w->forged_hop);
            pm_json_kaddr(j, "addr", w->forged_addr.family ? &w->forged_addr : NULL);
            pm_json_kint(j, "rst_hops", w->forged_rst_hops);
            pm_json_kint(j, "expected_hops", w->dest_hops);
            pm_json_obj_end(j);
        }
        if (w->diff_hop) {
            pm_json_key(j, "rewrite");
            pm_json_obj_begin(j);
            pm_json_kint(j, "hop", w->diff_hop);
            pm_json_kstr(j, "fields", w->diff_text);
            pm_json_obj_end(j);
        }
        pm_json_kstr(j, "text", text);
        jend(P, j);
        return;
    }
    txt(P, "  ttl walk to %s:25 from %s:%u (one fixed 5-tuple for every probe)\n",
        pm_addr_str(&as->ta.addr, a), pm_addr_str(&w->t.src, s), w->t.sport);
    for (int ttl = 1; ttl <= w->top; ttl++) {
        const struct whop *h = &w->hop[ttl];
        if (h->r.kind == R_NONE) {
            txt(P, "    %2d  *  (%d probe%s, no answer)\n", ttl, h->probes,
                h->probes == 1 ? "" : "s");
            continue;
        }
        txt(P, "    %2d  %-16s %8.3f ms  %s", ttl, pm_addr_str(&h->r.from, a),
            ms_of(rtt_of(P, h->sent_idx)), reply_word(&h->r, fam));
        if (h->r.kind == R_ICMP && !is_ttl_exceeded(&h->r, fam)) {
            txt(P, " (%u/%u)", h->r.icmp_type, h->r.icmp_code);
        }
        txt(P, "  ttl %u", h->r.ttl);
        if (h->r.kind == R_SYNACK && P->rep[h->sent_idx].self_rst) {
            txt(P, "  (our kernel reset it: expected for a raw SYN)");
        }
        if (h->r.diff) {
            char dd[240];
            pm_qdiff_describe(h->r.diff, &P->sent[h->sent_idx], &h->r.q, dd, sizeof(dd));
            txt(P, "  quote differs: %s", dd);
        } else if (h->r.kind == R_ICMP && h->r.partial) {
            txt(P, "  [partial quote]");
        }
        txt(P, "\n");
    }
    txt(P, "    => %s\n", text);
    if (w->diff_hop) {
        txt(P, "    => a rewrite between us and hop %d: %s\n", w->diff_hop, w->diff_text);
    }
    fflush(P->out);
}

static void run_walk(struct prober *P, struct addrstate *as)
{
    struct walk *w = &as->w;
    memset(w, 0, sizeof(*w));
    w->ran = true;
    w->t.src = as->src;
    w->t.dst = as->ta.addr;
    w->t.sport = as->probe_port;
    w->t.dport = 25;
    w->end = W_NONE;
    uint8_t fam = as->ta.addr.family;
    int gap = 0;
    for (int ttl = 1; ttl <= P->o.max_ttl && ttl <= MAX_HOPS; ttl++) {
        struct whop *h = &w->hop[ttl];
        w->top = ttl;
        int first = -1, last = -1;
        for (int attempt = 0; attempt < P->o.tries; attempt++) {
            char err[200];
            enum pm_inj_rc rc;
            int idx = send_probe(P, &w->t, (uint8_t)ttl, (uint8_t)attempt, PM_PK_WALK, err,
                                 sizeof(err), &rc);
            if (idx < 0) {
                if (g_stop) {
                    w->end = W_STOPPED;
                } else if (rc == PM_INJ_CAP) {
                    w->end = W_CAP;
                } else {
                    w->end = W_ERROR;
                    pm_strlcpy(w->error, err, sizeof(w->error));
                }
                break;
            }
            h->probes++;
            if (first < 0) {
                first = idx;
            }
            last = idx;
            h->sent_idx = idx;
            struct reply_wait rw = {first, last};
            int pr = pump(P, -1, 0, pm_now_monotonic() + P->o.wait, any_reply, &rw);
            if (pr < 0) {
                w->end = W_STOPPED;
                break;
            }
            if (pr == 2) {
                break;
            }
        }
        for (int i = first; i >= 0 && i <= last; i++) {
            if (P->rep[i].kind != R_NONE) {
                h->r = P->rep[i];
                h->sent_idx = i;
                break;
            }
        }
        if (w->end != W_NONE) {
            if (h->probes == 0) {
                w->top = ttl - 1;
            }
            break;
        }
        if (h->r.kind == R_NONE) {
            if (++gap >= P->o.gap_limit) {
                w->end = W_SILENT;
                break;
            }
            continue;
        }
        gap = 0;
        if (is_ttl_exceeded(&h->r, fam)) {
            continue;
        }
        w->end_ttl = ttl; /* SYN-ACK, RST, or an ICMP error that is not time-exceeded */
        break;
    }
    if (w->end == W_NONE && w->end_ttl == 0) {
        w->end = W_MAXTTL;
    }
    /* Late answers (after we moved on) still count: re-read every hop. */
    for (int ttl = 1; ttl <= w->top; ttl++) {
        struct whop *h = &w->hop[ttl];
        if (h->r.kind != R_NONE) {
            continue;
        }
        for (uint32_t i = 0; i < P->nsent; i++) {
            const struct pm_sent *s = &P->sent[i];
            if (s->kind == PM_PK_WALK && s->ttl == ttl && s->t.sport == w->t.sport &&
                pm_addr_eq(&s->t.dst, &w->t.dst) && P->rep[i].kind != R_NONE) {
                h->r = P->rep[i];
                h->sent_idx = (int)i;
                break;
            }
        }
    }
    if (w->end == W_SILENT) {
        /* A late answer may still turn silence into an end. */
        for (int ttl = 1; ttl <= w->top; ttl++) {
            if (w->hop[ttl].r.kind != R_NONE && !is_ttl_exceeded(&w->hop[ttl].r, fam)) {
                w->end = W_NONE;
                w->end_ttl = ttl;
                break;
            }
        }
    }
    walk_analyse(P, as);
    /* Tell the engine what the walk established, before the attempts it explains end. */
    if (P->eng) {
        if (w->dest_hops >= 0) {
            struct pm_engine_hopref hr = {.vantage = 0, .host = as->ta.addr,
                                          .hops = w->dest_hops, .src = PM_HOP_TTL_WALK};
            pm_engine_hopref(P->eng, &hr);
        }
        if (w->end == W_SILENT) {
            pm_engine_drop_hop(P->eng, &as->ta.addr, w->last_hop,
                               w->last_hop ? &w->last_addr : NULL);
        }
        char next[400];
        walk_next(w, as, next, sizeof(next));
        if (next[0]) {
            pm_engine_walk_next(P->eng, &as->ta.addr, next);
        }
    }
    print_walk(P, as);
}

static void run_syn(struct prober *P, struct addrstate *as)
{
    struct synres *sr = &as->s;
    memset(sr, 0, sizeof(*sr));
    sr->ran = true;
    sr->first_idx = -1;
    sr->t.src = as->src;
    sr->t.dst = as->ta.addr;
    sr->t.sport = as->probe_port;
    sr->t.dport = 25;
    int first = -1, last = -1;
    for (int attempt = 0; attempt < P->o.tries; attempt++) {
        enum pm_inj_rc rc;
        /* attempt 0 every time: the same ISN makes a retry a true retransmission, which the
         * engine folds into one attempt as it does the kernel's own. */
        int idx = send_probe(P, &sr->t, FULL_TTL, 0, PM_PK_SYN, sr->error, sizeof(sr->error),
                             &rc);
        if (idx < 0) {
            break;
        }
        sr->sent++;
        if (first < 0) {
            first = idx;
        }
        last = idx;
        struct reply_wait rw = {first, last};
        int pr = pump(P, -1, 0, pm_now_monotonic() + P->o.wait, any_reply, &rw);
        if (pr != 0) {
            break;
        }
    }
    sr->first_idx = first;
    /* A reply to any of the sends is the answer (replies attach to the newest send). */
    const struct preply *r = NULL;
    int ridx = -1;
    for (int i = first; i >= 0 && i <= last; i++) {
        if (P->rep[i].kind != R_NONE) {
            r = &P->rep[i];
            ridx = i;
            break;
        }
    }
    if (!r && first >= 0) {
        keep_capturing_until(P, P->sent[first].sent_mono);
    }
    bool self = false;
    for (int i = first; i >= 0 && i <= last; i++) {
        self |= P->rep[i].self_rst;
    }
    /* Give our kernel's RST a moment to show up in the capture. */
    if (r && r->kind == R_SYNACK && !self) {
        pump(P, -1, 0, pm_now_monotonic() + PM_MS(100), NULL, NULL);
        for (int i = first; i >= 0 && i <= last; i++) {
            self |= P->rep[i].self_rst;
        }
    }
    char a[PM_ADDR_STRLEN], f[PM_ADDR_STRLEN], text[300];
    pm_addr_str(&as->ta.addr, a);
    uint8_t fam = as->ta.addr.family;
    if (!sr->sent) {
        snprintf(text, sizeof(text), "not sent: %s", sr->error);
    } else if (!r) {
        char w[24];
        snprintf(text, sizeof(text), "%d SYN%s, no answer within %s s each", sr->sent,
                 sr->sent == 1 ? "" : "s", pm_dur_str(P->o.wait, w, sizeof(w)));
    } else if (r->kind == R_SYNACK) {
        snprintf(text, sizeof(text), "SYN-ACK from %s (%d routers away): port 25 is open on "
                 "this path%s", a, pm_ttl_hops(r->ttl),
                 self ? "; our kernel reset it (expected: no socket behind a raw SYN)" : "");
    } else if (r->kind == R_RST) {
        int rh = pm_ttl_hops(r->ttl);
        if (as->w.ran && as->w.dest_hops >= 0 && rh < as->w.dest_hops) {
            snprintf(text, sizeof(text), "RST claiming to be from %s, %d routers away while "
                     "the walk puts %s %d routers away: forged on the path", a, rh, a,
                     as->w.dest_hops);
        } else {
            snprintf(text, sizeof(text), "RST from %s (%d routers away)", a, rh);
        }
    } else {
        snprintf(text, sizeof(text), "ICMP %s from %s%s",
                 pm_icmp_text(fam, r->icmp_type, r->icmp_code), pm_addr_str(&r->from, f),
                 pm_addr_eq(&r->from, &as->ta.addr) ? " (the destination itself)" : "");
    }
    if (P->jsonl) {
        struct pm_json jj, *j = &jj;
        jbegin(P, j, "syn");
        pm_json_kaddr(j, "dst", &as->ta.addr);
        pm_json_kstr(j, "name", as->ta.name);
        pm_json_kuint(j, "dport", 25);
        pm_json_kaddr(j, "src", &sr->t.src);
        pm_json_kuint(j, "sport", sr->t.sport);
        pm_json_kint(j, "ttl", FULL_TTL);
        pm_json_kint(j, "sent", sr->sent);
        pm_json_kstr(j, "answer", r ? reply_word(r, fam) : (sr->sent ? "none" : NULL));
        if (r) {
            pm_json_kaddr(j, "from", &r->from);
            pm_json_kint(j, "reply_ttl", r->ttl);
            pm_json_kint(j, "reply_hops", pm_ttl_hops(r->ttl));
            pm_json_key(j, "rtt_ms");
            pm_json_double(j, ms_of(rtt_of(P, ridx)), 3);
            if (r->kind == R_ICMP) {
                pm_json_key(j, "icmp");
                pm_json_obj_begin(j);
                pm_json_kint(j, "type", r->icmp_type);
                pm_json_kint(j, "code", r->icmp_code);
                pm_json_kstr(j, "reason", pm_icmp_reason(fam, r->icmp_type, r->icmp_code));
                pm_json_obj_end(j);
            }
        }
        pm_json_kbool(j, "self_rst", self);
        pm_json_kstr(j, "text", text);
        jend(P, j);
    } else {
        txt(P, "  test SYN %s:25 TTL %d from port %u: %s\n", a, FULL_TTL, sr->t.sport, text);
        fflush(P->out);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* DNS results and stale addresses                                                          */

static const char *tk_name(enum pm_target_kind k)
{
    switch (k) {
    case PM_TK_LITERAL:
        return "literal";
    case PM_TK_MX:
        return "mx";
    case PM_TK_IMPLICIT:
        return "implicit-mx";
    default:
        return "host";
    }
}

static void print_dns(struct prober *P, const char *resolver)
{
    const struct pm_target *t = &P->tgt;
    char a[PM_ADDR_STRLEN];
    if (P->jsonl) {
        struct pm_json jj, *j = &jj;
        jbegin(P, j, "dns");
        pm_json_kstr(j, "kind", tk_name(t->kind));
        pm_json_kstr(j, "resolver", resolver);
        pm_json_kbool(j, "nxdomain", t->nxdomain);
        pm_json_kbool(j, "null_mx", t->null_mx);
        pm_json_kbool(j, "partial", t->dns_failed);
        pm_json_key(j, "mx");
        pm_json_arr_begin(j);
        for (int i = 0; i < t->nmx; i++) {
            pm_json_obj_begin(j);
            pm_json_kint(j, "pref", t->mx[i].pref);
            pm_json_kstr(j, "name", t->mx[i].name[0] ? t->mx[i].name : ".");
            pm_json_obj_end(j);
        }
        pm_json_arr_end(j);
        pm_json_key(j, "addresses");
        pm_json_arr_begin(j);
        for (int i = 0; i < t->naddrs; i++) {
            pm_json_obj_begin(j);
            pm_json_kaddr(j, "addr", &t->addrs[i].addr);
            pm_json_kstr(j, "name", t->addrs[i].name);
            if (t->addrs[i].pref >= 0) {
                pm_json_kint(j, "pref", t->addrs[i].pref);
            }
            pm_json_kstr(j, "origin", t->addrs[i].origin);
            pm_json_kbool(j, "stale", t->addrs[i].stale);
            pm_json_obj_end(j);
        }
        pm_json_arr_end(j);
        pm_json_kint(j, "dropped", t->addrs_dropped);
        pm_json_key(j, "notes");
        pm_json_arr_begin(j);
        for (int i = 0; i < t->nnotes; i++) {
            pm_json_str(j, t->notes[i]);
        }
        pm_json_arr_end(j);
        jend(P, j);
        return;
    }
    txt(P, "probe %s (DNS: %s)\n", t->input, resolver);
    if (t->nxdomain) {
        txt(P, "  %s does not exist (NXDOMAIN): mail to it bounces; check the spelling\n",
            t->input);
    } else if (t->null_mx) {
        txt(P, "  null MX (\"0 .\", RFC 7505): %s accepts no mail at all; nothing to probe\n",
            t->input);
    }
    for (int i = 0; i < t->nmx; i++) {
        txt(P, "  MX %u %s\n", t->mx[i].pref, t->mx[i].name[0] ? t->mx[i].name : ".");
    }
    for (int i = 0; i < t->naddrs; i++) {
        if (t->addrs[i].stale) {
            continue;
        }
        txt(P, "  address %-40s %s\n", pm_addr_str(&t->addrs[i].addr, a), t->addrs[i].origin);
    }
    if (t->addrs_dropped) {
        txt(P, "  (%d more addresses not probed: --max-addrs)\n", t->addrs_dropped);
    }
    for (int i = 0; i < t->nnotes; i++) {
        txt(P, "  note: %s\n", t->notes[i]);
    }
    fflush(P->out);
}

static bool in_dns(const struct pm_target *t, const pm_addr *a)
{
    for (int i = 0; i < t->naddrs; i++) {
        if (!t->addrs[i].stale && pm_addr_eq(&t->addrs[i].addr, a)) {
            return true;
        }
    }
    return false;
}

static bool name_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la && a[la - 1] == '.') {
        la--;
    }
    if (lb && b[lb - 1] == '.') {
        lb--;
    }
    return la == lb && la > 0 && !strncasecmp(a, b, la);
}

static void add_stale(struct prober *P, const pm_addr *a, const char *name, const char *origin)
{
    struct pm_target *t = &P->tgt;
    char s[PM_ADDR_STRLEN];
    for (int i = 0; i < t->naddrs; i++) {
        if (pm_addr_eq(&t->addrs[i].addr, a)) {
            return;
        }
    }
    if (t->naddrs >= PM_MAX_TADDRS) {
        t->addrs_dropped++;
        return;
    }
    struct pm_taddr *ta = &t->addrs[t->naddrs++];
    memset(ta, 0, sizeof(*ta));
    ta->addr = *a;
    ta->pref = -1;
    ta->stale = 1;
    pm_strlcpy(ta->name, name && name[0] ? name : pm_addr_str(a, s), sizeof(ta->name));
    pm_strlcpy(ta->origin, origin, sizeof(ta->origin));
}

static int collect_stale(struct prober *P)
{
    struct pm_target *t = &P->tgt;
    if (t->kind == PM_TK_LITERAL) {
        if (P->o.nstale || P->cfg.nlogs) {
            pm_warn("TARGET is an address: --stale and --mta-log have no DNS to compare with");
        }
        return 0;
    }
    for (int i = 0; i < P->o.nstale; i++) {
        if (!in_dns(t, &P->o.stale[i])) {
            add_stale(P, &P->o.stale[i], NULL, "--stale");
        }
    }
    if (P->cfg.nlogs == 0) {
        return 0;
    }
    struct pm_logset ls;
    memset(&ls, 0, sizeof(ls));
    struct pm_log_options lo = P->cfg.logopt;
    lo.ref_time = PM_NS_NONE;
    for (int i = 0; i < P->cfg.nlogs; i++) {
        int rc = pm_logset_load(&ls, P->cfg.mta_logs[i], &lo);
        if (rc != 0) {
            pm_logset_free(&ls);
            return rc;
        }
    }
    pm_logset_finish(&ls);
    for (size_t i = 0; i < ls.n; i++) {
        const struct pm_logentry *e = &ls.e[i];
        if (!e->addr.family || (e->port && e->port != 25)) {
            continue;
        }
        bool ours = name_eq(e->host, t->input) || name_eq(e->domain, t->input);
        for (int m = 0; !ours && m < t->nmx; m++) {
            ours = t->mx[m].name[0] && name_eq(e->host, t->mx[m].name);
        }
        if (!ours || in_dns(t, &e->addr)) {
            continue;
        }
        const char *path = e->file < ls.nfiles ? ls.files[e->file].path : "log";
        const char *base = strrchr(path, '/');
        char origin[120];
        snprintf(origin, sizeof(origin), "%.90s:%u", base ? base + 1 : path, e->line);
        add_stale(P, &e->addr, e->host, origin);
    }
    pm_logset_free(&ls);
    return 0;
}

static void print_stale(struct prober *P)
{
    const struct pm_target *t = &P->tgt;
    char a[PM_ADDR_STRLEN];
    for (int i = 0; i < t->naddrs; i++) {
        const struct pm_taddr *ta = &t->addrs[i];
        if (!ta->stale) {
            continue;
        }
        char text[400];
        snprintf(text, sizeof(text), "%s (for %s, from %s) is not in the DNS for %s any more: "
                 "the MTA works from a stale cache (its own, or a caching resolver on its "
                 "host); flush it (e.g. postfix reload, restart nscd/unbound) and retry",
                 pm_addr_str(&ta->addr, a), ta->name, ta->origin, t->input);
        if (P->jsonl) {
            struct pm_json jj, *j = &jj;
            jbegin(P, j, "stale");
            pm_json_kaddr(j, "addr", &ta->addr);
            pm_json_kstr(j, "name", ta->name);
            pm_json_kstr(j, "origin", ta->origin);
            pm_json_kstr(j, "text", text);
            jend(P, j);
        } else {
            txt(P, "  STALE: %s\n", text);
        }
    }
    fflush(P->out);
}

/* ---------------------------------------------------------------------------------------- */
/* Per-address conclusion                                                                   */

static void conclude(struct prober *P, const struct addrstate *as)
{
    const struct portres *p25 = NULL;
    struct pm_probe_facts f;
    memset(&f, 0, sizeof(f));
    size_t ook = 0, oans = 0;
    for (int i = 0; i < as->np; i++) {
        const struct portres *pr = &as->p[i];
        if (!pr->ran) {
            continue;
        }
        if (pr->port == 25) {
            p25 = pr;
            continue;
        }
        f.other_tried++;
        if (pr->r.connected) {
            append(f.other_ok, sizeof(f.other_ok), &ook, "%s%u", ook ? "," : "", pr->port);
        } else if (pr->r.err == ECONNREFUSED && pr->syn_seen == 1) {
            /* A RST (or the host's port-unreachable) to a SYN that was on the wire:
             * something answers for the host, so it is not down. */
            append(f.other_answered, sizeof(f.other_answered), &oans, "%s%u", oans ? "," : "",
                   pr->port);
        }
    }
    if (!p25) {
        return;
    }
    char a[PM_ADDR_STRLEN], wtext[400];
    pm_addr_str(&as->ta.addr, a);
    f.dst = a;
    f.port = 25;
    f.connected = p25->r.connected;
    f.smtp_ok = p25->r.connected && p25->r.failed_step == PM_SS_DONE;
    f.syn_seen = p25->syn_seen;
    f.error = p25->r.error;
    if (as->w.ran) {
        const struct walk *w = &as->w;
        walk_text(w, as, wtext, sizeof(wtext));
        f.walk_ran = true;
        f.walk_text = wtext;
        f.walk_host_up = w->end == W_REACHED || w->end == W_RST || w->end == W_DEST_ICMP;
        f.walk_located = w->end == W_RST_FORGED || w->end == W_REJECTED || w->end == W_SILENT;
    }
    struct pm_probe_verdict pv;
    pm_probe_conclude(&f, &pv);
    const char *verdict = pv.id, *text = pv.text;
    if (pv.failed && !as->ta.stale) {
        P->failures++;
    }
    if (P->jsonl) {
        struct pm_json jj, *j = &jj;
        jbegin(P, j, "ports");
        pm_json_kaddr(j, "dst", &as->ta.addr);
        pm_json_kstr(j, "name", as->ta.name);
        pm_json_kbool(j, "stale", as->ta.stale);
        pm_json_key(j, "ports");
        pm_json_obj_begin(j);
        for (int i = 0; i < as->np; i++) {
            if (!as->p[i].ran) {
                continue;
            }
            char k[8];
            snprintf(k, sizeof(k), "%u", as->p[i].port);
            pm_json_kstr(j, k, as->p[i].r.failed_step == PM_SS_DONE ? "ok"
                               : as->p[i].r.connected                ? "smtp-failed"
                                                                     : "no-connect");
        }
        pm_json_obj_end(j);
        pm_json_kstr(j, "route", as->routed ? as->route.text : NULL);
        pm_json_kstr(j, "verdict", verdict);
        pm_json_kstr(j, "text", text);
        jend(P, j);
    } else {
        txt(P, "  => %s\n", text);
        fflush(P->out);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Option parsing                                                                           */

static int parse_args(struct prober *P, int argc, char **argv)
{
    struct probe_opts *o = &P->o;
    static const struct option longopts[] = {
        {"resolver", required_argument, NULL, OPT_RESOLVER},
        {"no-mx", no_argument, NULL, OPT_NO_MX},
        {"source", required_argument, NULL, OPT_SOURCE},
        {"interface", required_argument, NULL, 'i'},
        {"compare-ports", required_argument, NULL, OPT_COMPARE},
        {"helo", required_argument, NULL, OPT_HELO},
        {"ca", required_argument, NULL, OPT_CA},
        {"connect-timeout", required_argument, NULL, OPT_CONNECT_TMO},
        {"smtp-timeout", required_argument, NULL, OPT_SMTP_TMO},
        {"inject", no_argument, NULL, OPT_INJECT},
        {"ttl-walk", no_argument, NULL, OPT_TTL_WALK},
        {"max-ttl", required_argument, NULL, OPT_MAX_TTL},
        {"tries", required_argument, NULL, OPT_TRIES},
        {"wait", required_argument, NULL, OPT_WAIT},
        {"gap-limit", required_argument, NULL, OPT_GAP},
        {"rate", required_argument, NULL, OPT_RATE},
        {"max-probes", required_argument, NULL, OPT_MAX_PROBES},
        {"allow-loopback", no_argument, NULL, OPT_ALLOW_LOOPBACK},
        {"stale", required_argument, NULL, OPT_STALE},
        {"user", required_argument, NULL, OPT_USER},
        {"max-addrs", required_argument, NULL, OPT_MAX_ADDRS},
        {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"mta-log", required_argument, NULL, 'm'},
        {"log-tz", required_argument, NULL, PM_OPT_LOG_TZ},
        {"log-year", required_argument, NULL, PM_OPT_LOG_YEAR},
        {"bundle", required_argument, NULL, PM_OPT_BUNDLE},
        {"sign-key", required_argument, NULL, PM_OPT_SIGN_KEY},
        {"bundle-host-context", no_argument, NULL, PM_OPT_BUNDLE_HOST_CONTEXT},
        {"redact", no_argument, NULL, PM_OPT_REDACT},
        {"color", no_argument, NULL, PM_OPT_COLOR},
        {"no-color", no_argument, NULL, PM_OPT_NO_COLOR},
        {"no-progress", no_argument, NULL, PM_OPT_NO_PROGRESS},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    o->families = 3;
    o->connect_tmo = PM_SEC(10);
    o->step_tmo = PM_SEC(20);
    o->max_ttl = 30;
    o->tries = 2;
    o->wait = PM_SEC(2);
    o->gap_limit = 3;
    o->rate = 3;
    o->max_probes = 100;
    o->max_addrs = 8;
    int opt;
    long v;
    pm_ns ns;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "46i:w:f:o:m:Z:qvh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h':
            usage_probe(stdout);
            return -1;
        case '4':
            o->families = 1;
            break;
        case '6':
            o->families = 2;
            break;
        case 'i':
            o->iface = optarg;
            break;
        case 'w':
            o->wfile = optarg;
            break;
        case OPT_RESOLVER:
            o->resolver = optarg;
            break;
        case OPT_NO_MX:
            o->no_mx = true;
            break;
        case OPT_SOURCE: {
            pm_addr a;
            if (!pm_addr_parse(optarg, &a)) {
                pm_err("bad --source '%s': the MTA's bind address, an IPv4 or IPv6 literal",
                       optarg);
                return PM_EXIT_USAGE;
            }
            int k = fam_idx(a.family);
            if (o->have_source[k]) {
                pm_err("--source given twice for %s: one address per family",
                       k ? "IPv6" : "IPv4");
                return PM_EXIT_USAGE;
            }
            o->source[k] = a;
            o->have_source[k] = true;
            break;
        }
        case OPT_COMPARE: {
            int n = pm_parse_ports(optarg, o->compare, MAX_COMPARE);
            if (n < 0) {
                pm_err("bad --compare-ports '%s': up to %d ports, e.g. 587,465", optarg,
                       MAX_COMPARE);
                return PM_EXIT_USAGE;
            }
            int k = 0;
            for (int i = 0; i < n; i++) {
                if (o->compare[i] != 25) {
                    o->compare[k++] = o->compare[i];
                }
            }
            o->ncompare = k;
            break;
        }
        case OPT_HELO:
            if (!*optarg || strlen(optarg) > 250 || strpbrk(optarg, " \r\n\t")) {
                pm_err("bad --helo '%s': one host name without spaces", optarg);
                return PM_EXIT_USAGE;
            }
            o->helo = optarg;
            break;
        case OPT_CA:
            o->ca = optarg;
            break;
        case OPT_CONNECT_TMO:
        case OPT_SMTP_TMO:
            if (!pm_parse_secs(optarg, 0.1, 600, &ns)) {
                pm_err("bad %s '%s': seconds, 0.1 to 600",
                       opt == OPT_CONNECT_TMO ? "--connect-timeout" : "--smtp-timeout", optarg);
                return PM_EXIT_USAGE;
            }
            if (opt == OPT_CONNECT_TMO) {
                o->connect_tmo = ns;
            } else {
                o->step_tmo = ns;
            }
            break;
        case OPT_INJECT:
            o->inject = true;
            break;
        case OPT_TTL_WALK:
            o->walk = true;
            o->inject = true;
            break;
        case OPT_MAX_TTL:
            if (!pm_parse_long(optarg, 1, MAX_HOPS, &v)) {
                pm_err("bad --max-ttl '%s': 1 to %d", optarg, MAX_HOPS);
                return PM_EXIT_USAGE;
            }
            o->max_ttl = (int)v;
            break;
        case OPT_TRIES:
            /* The ISN has 3 bits for the attempt. */
            if (!pm_parse_long(optarg, 1, 8, &v)) {
                pm_err("bad --tries '%s': 1 to 8", optarg);
                return PM_EXIT_USAGE;
            }
            o->tries = (int)v;
            break;
        case OPT_WAIT:
            if (!pm_parse_secs(optarg, 0.05, 30, &ns)) {
                pm_err("bad --wait '%s': seconds, 0.05 to 30", optarg);
                return PM_EXIT_USAGE;
            }
            o->wait = ns;
            break;
        case OPT_GAP:
            if (!pm_parse_long(optarg, 1, 16, &v)) {
                pm_err("bad --gap-limit '%s': 1 to 16", optarg);
                return PM_EXIT_USAGE;
            }
            o->gap_limit = (int)v;
            break;
        case OPT_RATE:
            if (!pm_parse_double(optarg, 0.01, 100, &o->rate)) {
                pm_err("bad --rate '%s': test SYNs per second, 0.01 to 100", optarg);
                return PM_EXIT_USAGE;
            }
            break;
        case OPT_MAX_PROBES:
            if (!pm_parse_long(optarg, 1, 10000, &v)) {
                pm_err("bad --max-probes '%s': 1 to 10000", optarg);
                return PM_EXIT_USAGE;
            }
            o->max_probes = (uint32_t)v;
            break;
        case OPT_ALLOW_LOOPBACK:
            o->allow_loopback = true;
            break;
        case OPT_STALE:
            if (o->nstale >= MAX_STALE || !pm_addr_parse(optarg, &o->stale[o->nstale])) {
                pm_err("bad --stale '%s': an IPv4 or IPv6 address (at most %d)", optarg,
                       MAX_STALE);
                return PM_EXIT_USAGE;
            }
            o->nstale++;
            break;
        case 'Z': /* as for `capture` and tcpdump */
        case OPT_USER:
            o->user = optarg;
            break;
        case OPT_MAX_ADDRS:
            if (!pm_parse_long(optarg, 1, PM_MAX_TADDRS, &v)) {
                pm_err("bad --max-addrs '%s': 1 to %d", optarg, PM_MAX_TADDRS);
                return PM_EXIT_USAGE;
            }
            o->max_addrs = (int)v;
            break;
        default: {
            int rc = pm_cli_common_option(&P->cfg, opt, optarg);
            if (rc < 0) {
                return PM_EXIT_USAGE;
            }
            if (rc == 0) {
                usage_probe(stderr);
                return PM_EXIT_USAGE;
            }
        }
        }
    }
    if (optind != argc - 1) {
        pm_err(optind >= argc ? "probe needs a TARGET" : "probe takes one TARGET");
        pm_hint("portmortem probe example.net --compare-ports 587 --ttl-walk");
        return PM_EXIT_USAGE;
    }
    o->target = argv[optind];
    for (int k = 0; k < 2; k++) {
        if (o->have_source[k] && !(o->families & (1 << k))) {
            pm_warn("--source %s is ignored: -%c limits the probe to the other family",
                    k ? "(IPv6)" : "(IPv4)", k ? '4' : '6');
        }
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* The run                                                                                  */

static void default_helo(struct prober *P)
{
    if (P->o.helo) {
        pm_strlcpy(P->helo, P->o.helo, sizeof(P->helo));
        return;
    }
    char h[256];
    if (gethostname(h, sizeof(h)) == 0 && strchr(h, '.')) {
        h[sizeof(h) - 1] = '\0';
        pm_strlcpy(P->helo, h, sizeof(P->helo));
        return;
    }
    /* No FQDN: an address literal is what RFC 5321 §4.1.4 allows instead. */
    char a[PM_ADDR_STRLEN];
    if (P->have_src[0]) {
        snprintf(P->helo, sizeof(P->helo), "[%s]", pm_addr_str(&P->src[0], a));
    } else if (P->have_src[1]) {
        snprintf(P->helo, sizeof(P->helo), "[IPv6:%s]", pm_addr_str(&P->src[1], a));
    } else {
        pm_strlcpy(P->helo, "localhost", sizeof(P->helo));
    }
}

/* Sources per family, the capture interface, and which addresses can be probed. */
static int plan(struct prober *P)
{
    P->nas = P->tgt.naddrs;
    P->as = pm_xcalloc((size_t)(P->nas ? P->nas : 1), sizeof(*P->as));
    for (int i = 0; i < P->nas; i++) {
        struct addrstate *as = &P->as[i];
        as->ta = P->tgt.addrs[i];
        as->reserve_fd = -1;
        int k = fam_idx(as->ta.addr.family);
        if (P->o.have_source[k]) {
            P->src[k] = P->o.source[k];
            P->have_src[k] = true;
        } else if (!P->have_src[k]) {
            int err = 0;
            if (route_source(&as->ta.addr, &P->src[k], &err)) {
                P->have_src[k] = true;
            }
        }
        as->src_ok = P->have_src[k];
        as->src = P->src[k];
        int n = 0;
        for (int c = 0; c < P->o.ncompare && !as->ta.stale; c++) {
            as->p[n++].port = P->o.compare[c];
        }
        as->p[n++].port = 25; /* last: see the file comment */
        as->np = n;
    }
    /* The capture goes where the packets go: the route's output interface (netlink), not
     * the interface that holds the source address (an MTA bound to a loopback alias still
     * sends through eth0). */
    uint16_t ports[1 + MAX_COMPARE];
    int np = 0;
    ports[np++] = 25;
    for (int i = 0; i < P->o.ncompare; i++) {
        ports[np++] = P->o.compare[i];
    }
    P->hc = pm_hostctx_new(ports, np);
    char oif[IF_NAMESIZE + 1] = "";
    bool mixed = false;
    for (int i = 0; i < P->nas; i++) {
        struct addrstate *as = &P->as[i];
        as->routed = pm_hostctx_route(P->hc, &as->ta.addr, "probe TARGET", &as->route);
        if (!as->routed || !as->route.oif[0]) {
            continue;
        }
        if (!oif[0]) {
            pm_strlcpy(oif, as->route.oif, sizeof(oif));
        } else if (strcmp(oif, as->route.oif) != 0) {
            mixed = true;
        }
    }
    char a[PM_ADDR_STRLEN];
    for (int k = 0; k < 2; k++) {
        char holder[IF_NAMESIZE + 1] = "";
        if (P->o.have_source[k] && !iface_of(&P->src[k], holder, sizeof(holder))) {
            pm_warn("--source %s is not an address of this host: connects from it will fail "
                    "as the MTA's do (bind: Cannot assign requested address)",
                    pm_addr_str(&P->src[k], a));
        }
        if (!oif[0] && holder[0]) {
            pm_strlcpy(oif, holder, sizeof(oif));
        }
    }
    if (P->o.iface) {
        pm_strlcpy(P->iface, P->o.iface, sizeof(P->iface));
    } else {
        pm_strlcpy(P->iface, oif, sizeof(P->iface));
        if (mixed) {
            pm_warn("the targets are routed through different interfaces; capturing on %s "
                    "only (name another with -i)", P->iface);
        }
    }
    return 0;
}

static void print_header(struct prober *P)
{
    if (P->jsonl) {
        struct pm_json jj, *j = &jj;
        jbegin(P, j, "plan");
        pm_json_kstr(j, "interface", P->pc ? P->iface : NULL);
        pm_json_kaddr(j, "source_ipv4", P->have_src[0] ? &P->src[0] : NULL);
        pm_json_kaddr(j, "source_ipv6", P->have_src[1] ? &P->src[1] : NULL);
        pm_json_kstr(j, "helo", P->helo);
        pm_json_key(j, "ports");
        pm_json_arr_begin(j);
        pm_json_int(j, 25);
        for (int i = 0; i < P->o.ncompare; i++) {
            pm_json_int(j, P->o.compare[i]);
        }
        pm_json_arr_end(j);
        pm_json_kbool(j, "inject", P->o.inject);
        pm_json_kbool(j, "ttl_walk", P->o.walk);
        if (P->o.inject) {
            pm_json_key(j, "rate");
            pm_json_double(j, P->o.rate, 2);
            pm_json_kuint(j, "max_probes", P->o.max_probes);
        }
        jend(P, j);
        return;
    }
    char a[PM_ADDR_STRLEN], b[PM_ADDR_STRLEN];
    txt(P, "  from %s%s%s, capture on %s, EHLO %s\n",
        P->have_src[0] ? pm_addr_str(&P->src[0], a) : "",
        P->have_src[0] && P->have_src[1] ? " / " : "",
        P->have_src[1] ? pm_addr_str(&P->src[1], b) : "",
        P->pc ? P->iface : "none (no verdicts: see the warning above)", P->helo);
    if (P->o.inject) {
        txt(P, "  raw test SYNs: %s, at most %.3g/s, %u in all\n",
            P->o.walk ? "test SYN + TTL walk" : "test SYN", P->o.rate, P->o.max_probes);
    } else {
        txt(P, "  sends only DNS queries and TCP connects (no --inject/--ttl-walk)\n");
    }
    fflush(P->out);
}

static void print_run(struct prober *P, const char *privileges, const struct pcap_stat *st,
                      bool have_st)
{
    const struct pm_inj_counters *c = P->inj ? pm_injector_counters(P->inj) : NULL;
    if (P->jsonl) {
        struct pm_json jj, *j = &jj;
        jbegin(P, j, "run");
        pm_json_kuint(j, "connects", P->connects);
        pm_json_kuint(j, "injected", c ? c->sent : 0);
        pm_json_kuint(j, "max_probes", P->o.max_probes);
        pm_json_key(j, "rate");
        pm_json_double(j, P->o.rate, 2);
        pm_json_kuint(j, "cap_refused", c ? c->cap_refused : 0);
        pm_json_kuint(j, "target_refused", c ? c->target_refused : 0);
        pm_json_kuint(j, "send_errors", c ? c->errors : 0);
        pm_json_kuint(j, "replies_rejected", P->replies_rejected);
        pm_json_kuint(j, "self_rsts", P->self_rsts);
        pm_json_kuint(j, "walk_packets", P->hidden);
        pm_json_kuint(j, "captured", P->frame);
        if (have_st) {
            pm_json_kuint(j, "kernel_dropped", st->ps_drop);
        }
        pm_json_kstr(j, "capture_file", P->o.wfile);
        pm_json_kstr(j, "privileges", privileges);
        pm_json_kint(j, "failures", P->failures);
        jend(P, j);
        return;
    }
    txt(P, "probe: %u connect%s, %llu raw SYN%s sent (cap %u, %.3g/s)", P->connects,
        P->connects == 1 ? "" : "s", (unsigned long long)(c ? c->sent : 0),
        c && c->sent == 1 ? "" : "s", P->o.max_probes, P->o.rate);
    if (c && c->cap_refused) {
        txt(P, ", %llu refused by the cap", (unsigned long long)c->cap_refused);
    }
    if (P->replies_rejected) {
        txt(P, ", %llu replies rejected (not our ISN)", (unsigned long long)P->replies_rejected);
    }
    txt(P, "; %u packets captured%s%s; %s\n\n", P->frame, P->o.wfile ? " into " : "",
        P->o.wfile ? P->o.wfile : "", privileges);
    fflush(P->out);
}

/* --bundle without -w: the bundle's packet slice needs a capture file, so keep a private
 * one for the run: no name on disk (pm_temp_capture), read back through its descriptor. */
static int open_temp_capture(struct prober *P)
{
    char path[512];
    bool named = false;
    int fd = pm_temp_capture("probe", path, sizeof(path), &named);
    if (fd < 0) {
        pm_warn("the bundle will have no packets; give -w FILE");
        return -1;
    }
    FILE *f = fdopen(fd, "w");
    P->dump = f ? pcap_dump_fopen(P->pc, f) : NULL;
    if (!P->dump) {
        pm_warn("cannot write the temporary capture %s: %s", path,
                f ? pcap_geterr(P->pc) : strerror(errno));
        if (f) {
            fclose(f);
        } else {
            close(fd);
        }
        if (named) {
            unlink(path);
        }
        return -1;
    }
    P->tmp_capture = pm_xstrdup(path);
    P->tmp_named = named;
    return 0;
}

static int probe_main(struct prober *P)
{
    struct probe_opts *o = &P->o;
    P->out = P->cfg.out;
    P->jsonl = P->cfg.format == PM_FMT_JSONL;

    /* 1. DNS */
    char err[512] = "";
    struct pm_resolver *res = NULL;
    pm_addr lit;
    if (!pm_target_parse_literal(o->target, &lit) || o->nstale) {
        res = pm_resolver_new(o->resolver, err, sizeof(err));
        if (!res) {
            pm_err("%s", err);
            pm_hint("give a DNS server with --resolver IP");
            return o->resolver ? PM_EXIT_USAGE : PM_EXIT_UNREADABLE;
        }
    }
    int rc = pm_target_resolve(res, o->target, o->families, o->no_mx, o->max_addrs, &P->tgt);
    char resolver_name[PM_ADDR_STRLEN + 16];
    pm_strlcpy(resolver_name, res ? pm_resolver_name(res) : "none", sizeof(resolver_name));
    pm_resolver_free(res);
    if (rc != 0) {
        return rc;
    }
    if (!P->tgt.nxdomain && !P->tgt.null_mx) {
        rc = collect_stale(P);
        if (rc != 0) {
            return rc;
        }
    }
    /* Never aim even a connect() at something that is not one host: a DNS answer (or a
     * TARGET) naming a broadcast, multicast or unspecified address is reported, not used.
     * Loopback stays for connects (an MX pointing at 127.0.0.1 is a finding worth showing);
     * test SYNs to it still need --allow-loopback. */
    for (int i = 0; i < P->tgt.naddrs;) {
        struct pm_taddr *ta = &P->tgt.addrs[i];
        const char *why = pm_inject_target_refusal(&ta->addr, true);
        if (!why) {
            i++;
            continue;
        }
        char a[PM_ADDR_STRLEN];
        pm_addr_str(&ta->addr, a);
        if (P->tgt.kind == PM_TK_LITERAL) {
            pm_err("refusing TARGET %s: %s", a, why);
            pm_hint("name one mail server: its domain, host name or unicast address");
            return PM_EXIT_USAGE;
        }
        if (P->tgt.nnotes < PM_TARGET_NOTES) {
            char origin[sizeof(ta->origin)];
            pm_strlcpy(origin, ta->origin, sizeof(origin));
            snprintf(P->tgt.notes[P->tgt.nnotes++], sizeof(P->tgt.notes[0]),
                     "not probed: %s (%.80s) is %s", a, origin, why);
        }
        memmove(ta, ta + 1, sizeof(*ta) * (size_t)(P->tgt.naddrs - i - 1));
        P->tgt.naddrs--;
    }
    print_dns(P, resolver_name);
    if (P->tgt.nxdomain || P->tgt.null_mx) {
        /* Nothing to probe, and a definite answer: mail to TARGET cannot be delivered. */
        return PM_EXIT_FAILURES;
    }
    print_stale(P);
    if (P->tgt.naddrs == 0) {
        txt(P, "  no address to probe\n");
        pm_err("%s has no %s address to probe", o->target,
               o->families == 1 ? "IPv4" : o->families == 2 ? "IPv6" : "IPv4 or IPv6");
        return PM_EXIT_FAILURES;
    }

    /* 2. Everything privileged, then the drop. */
    plan(P);
    default_helo(P);
    if (P->iface[0]) {
        int c = open_capture(P);
        if (c == -2) {
            return PM_EXIT_USAGE;
        }
        if (c < 0 && o->inject) {
            pm_hint("test SYNs are only useful with their answers captured: not sending any");
            return PM_EXIT_UNREADABLE;
        }
        if (c < 0) {
            pm_warn("continuing without a capture: DNS and SMTP checks only, no verdicts");
        }
    } else {
        pm_warn("no interface for the capture (no route to the targets?): DNS and SMTP checks "
                "only; name one with -i");
    }
    if (o->inject && !P->pc) {
        pm_err("--inject/--ttl-walk need the capture");
        return PM_EXIT_UNREADABLE;
    }
    if (o->inject) {
        struct pm_injector_cfg ic = {.rate = o->rate, .max_probes = o->max_probes,
                                     .allow_loopback = o->allow_loopback, .iface = P->iface};
        for (int i = 0; i < P->nas; i++) {
            if (!P->as[i].ta.stale) {
                ic.want4 |= P->as[i].ta.addr.family == PM_AF_INET && P->have_src[0];
                ic.want6 |= P->as[i].ta.addr.family == PM_AF_INET6 && P->have_src[1];
            }
        }
        if (ic.want4 || ic.want6) {
            P->inj = pm_injector_open(&ic, err, sizeof(err));
            if (!P->inj) {
                pm_err("%s", err);
                pm_hint("raw sockets need root or CAP_NET_RAW");
                return PM_EXIT_UNREADABLE;
            }
        }
        /* One slot more than the cap: the injector itself refuses (and counts) the probe
         * past it, whatever this file's bookkeeping says. */
        P->capsent = o->max_probes + 1;
        P->sent = pm_xcalloc(P->capsent, sizeof(*P->sent));
        P->rep = pm_xcalloc(P->capsent, sizeof(*P->rep));
        for (int i = 0; i < P->nas; i++) {
            struct addrstate *as = &P->as[i];
            if (as->ta.stale) {
                snprintf(as->inject_refusal, sizeof(as->inject_refusal),
                         "a stale address (not what TARGET resolves to now)");
                continue;
            }
            if (!as->src_ok || !P->inj) {
                snprintf(as->inject_refusal, sizeof(as->inject_refusal),
                         "no source address of its family");
                continue;
            }
            if (!pm_injector_allow(P->inj, &as->ta.addr, as->inject_refusal,
                                   sizeof(as->inject_refusal))) {
                continue;
            }
            /* Reserve the raw probes' source port: bound (not listening, not connected), it is
             * never handed to another connect(), and SYN-ACKs to it still get our kernel's
             * RST because no socket accepts them. */
            int fam = as->ta.addr.family == PM_AF_INET6 ? AF_INET6 : AF_INET;
            int fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
            struct sockaddr_storage ss;
            memset(&ss, 0, sizeof(ss));
            socklen_t sl;
            if (fam == AF_INET) {
                struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
                s4->sin_family = AF_INET;
                memcpy(&s4->sin_addr, as->src.b, 4);
                sl = sizeof(*s4);
            } else {
                struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
                s6->sin6_family = AF_INET6;
                memcpy(&s6->sin6_addr, as->src.b, 16);
                sl = sizeof(*s6);
            }
            if (fd < 0 || bind(fd, (struct sockaddr *)&ss, sl) != 0 ||
                getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
                snprintf(as->inject_refusal, sizeof(as->inject_refusal),
                         "cannot reserve a source port on %s: %s",
                         pm_addr_str(&as->src, err), strerror(errno));
                if (fd >= 0) {
                    close(fd);
                }
                continue;
            }
            as->reserve_fd = fd;
            as->probe_port = fam == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
                                            : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
            as->inject_ok = true;
        }
    }
    err[0] = '\0';
    P->tls = pm_tls_ctx_new(o->ca, err, sizeof(err));
    if (!P->tls) {
        pm_err("%s%s%s", err, o->ca ? ": " : "", o->ca ? o->ca : "");
        pm_hint(o->ca ? "give a PEM file of CA certificates" : "install ca-certificates");
        return PM_EXIT_UNREADABLE;
    }
    const char *vname[1] = {P->iface[0] ? P->iface : "none"};
    const char *flabel[1];
    if (o->wfile) {
        const char *b = strrchr(o->wfile, '/');
        pm_strlcpy(P->label, b ? b + 1 : o->wfile, sizeof(P->label));
    } else {
        pm_strlcpy(P->label, vname[0], sizeof(P->label));
    }
    flabel[0] = P->label;
    if (P->pc) {
        P->cfg.subcommand = "probe";
        /* Port 25 is diagnosed; --compare-ports are evidence about the host and never take
         * over the destinations' state, the Scope and Next lines or the exit status. */
        P->cfg.diag_port = 25;
        P->cfg.log_offset = 0; /* our own connect results share the capture's clock */
        P->cfg.nports = 0;
        P->cfg.ports[P->cfg.nports++] = 25;
        for (int i = 0; i < o->ncompare; i++) {
            P->cfg.ports[P->cfg.nports++] = o->compare[i];
        }
        struct pm_engine_source src = {
            .live = true, .nvantage = 1, .vantage_names = vname, .nfiles = 1,
            .file_labels = flabel, .in = NULL, .ifaces = vname, .nifaces = 1,
        };
        P->eng = pm_engine_new(&P->cfg, &src);
        if (!P->eng) {
            return PM_EXIT_USAGE;
        }
        /* Read back through the descriptor: after the drop the -Z user may not be able to
         * open a replaced -w file by name, and the temporary one has no name. */
        if (o->wfile) {
            const char *paths[1] = {o->wfile};
            int fds[1] = {P->dump ? fileno(pcap_dump_file(P->dump)) : -1};
            pm_engine_capture_files(P->eng, paths, fds, 1);
        } else if (P->cfg.bundle_dir && open_temp_capture(P) == 0) {
            const char *paths[1] = {P->tmp_capture};
            int fds[1] = {fileno(pcap_dump_file(P->dump))};
            pm_engine_capture_files(P->eng, paths, fds, 1);
        }
        /* The bundle shows the host as it was: addresses, routes, firewall rules (read-only
         * commands, run now while we are still root). Without a bundle the routes suffice. */
        if (P->cfg.bundle_dir) {
            pm_hostctx_collect(P->hc, 3000);
        }
        pm_engine_host_context(P->eng, pm_hostctx_text(P->hc));
        for (int i = 0; i < P->nas; i++) {
            /* On-link: zero routers, the RST-origin rule's simplest reference. */
            if (P->as[i].routed && P->as[i].route.kind == PM_RT_ONLINK) {
                struct pm_engine_hopref h = {.vantage = 0, .host = P->as[i].ta.addr, .hops = 0,
                                             .src = PM_HOP_ROUTE};
                pm_engine_hopref(P->eng, &h);
            }
        }
    }
    struct pm_priv_result pr;
    memset(&pr, 0, sizeof(pr));
    rc = pm_priv_drop(o->user, NULL, 0, &pr);
    if (rc != 0) {
        return rc;
    }

    /* 3. The probes. */
    print_header(P);
    for (int i = 0; i < P->nas && !g_stop; i++) {
        struct addrstate *as = &P->as[i];
        char a[PM_ADDR_STRLEN];
        txt(P, "\n%s (%s%s)\n", pm_addr_str(&as->ta.addr, a), as->ta.origin,
            as->ta.stale ? ", STALE" : "");
        if (as->routed && as->route.text[0]) {
            txt(P, "  route: %s\n", as->route.text);
        }
        if (o->inject && !as->inject_ok) {
            txt(P, "  no test SYNs to %s: %s\n", a, as->inject_refusal);
            if (P->jsonl) {
                struct pm_json jj, *j = &jj;
                jbegin(P, j, "syn");
                pm_json_kaddr(j, "dst", &as->ta.addr);
                pm_json_kstr(j, "name", as->ta.name);
                pm_json_kint(j, "sent", 0);
                pm_json_kstr(j, "refused", as->inject_refusal);
                jend(P, j);
            }
        }
        if (o->walk && as->inject_ok) {
            run_walk(P, as);
        }
        if (o->inject && as->inject_ok && !g_stop) {
            run_syn(P, as);
        }
        for (int k = 0; k < as->np && !g_stop; k++) {
            run_smtp(P, as, &as->p[k]);
        }
        conclude(P, as);
    }
    /* Late answers and the last attempts' linger, then the engine's verdicts. */
    if (P->pc && !g_stop) {
        pm_ns until = PM_MAX(pm_now_monotonic() + PM_MS(500), P->quiet_until);
        pump(P, -1, 0, until, NULL, NULL);
    }
    struct pcap_stat st;
    bool have_st = P->pc && pcap_stats(P->pc, &st) == 0;
    print_run(P, pr.text[0] ? pr.text : "privileges unchanged", &st, have_st);
    int erc = PM_EXIT_OK;
    if (P->eng) {
        struct pm_live_stats ls;
        memset(&ls, 0, sizeof(ls));
        if (have_st) {
            ls.received = st.ps_recv;
            ls.dropped = st.ps_drop;
            ls.if_dropped = st.ps_ifdrop;
        }
        pm_strlcpy(ls.privileges, pr.text, sizeof(ls.privileges));
        pm_engine_live_stats(P->eng, &ls);
        if (P->dump) {
            pcap_dump_flush(P->dump);
        }
        erc = pm_engine_finish(P->eng);
        P->eng = NULL;
    }
    int mine = P->failures ? PM_EXIT_FAILURES : PM_EXIT_OK;
    if (g_stop) {
        pm_warn("interrupted: the results above are partial");
    }
    return PM_MAX(erc, mine);
}

int pm_cmd_probe(int argc, char **argv, int full_argc, char **full_argv)
{
    struct prober *P = pm_xcalloc(1, sizeof(*P));
    P->pcfd = -1;
    pm_cli_engine_defaults(&P->cfg, full_argc, full_argv);
    P->cfg.subcommand = "probe";
    int rc = parse_args(P, argc, argv);
    if (rc != 0) {
        pm_out_close(P->cfg.out, 0);
        free(P);
        return rc < 0 ? PM_EXIT_OK : rc;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal; /* no SA_RESTART: poll() returns and the run winds down */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    rc = probe_main(P);

    if (P->eng) {
        /* An early error after the engine was made (the privilege drop failed): finish it
         * all the same, so that a --bundle directory is completed rather than left half-made;
         * its summary says that nothing was probed. */
        pm_engine_finish(P->eng);
    }
    for (int i = 0; i < P->nas; i++) {
        if (P->as[i].reserve_fd >= 0) {
            close(P->as[i].reserve_fd);
        }
    }
    if (P->dump) {
        pcap_dump_close(P->dump);
    }
    if (P->tmp_capture) {
        if (P->tmp_named) {
            unlink(P->tmp_capture);
        }
        free(P->tmp_capture);
    }
    if (P->pc) {
        pcap_close(P->pc);
    }
    pm_injector_close(P->inj);
    pm_hostctx_free(P->hc);
    if (P->tls) {
        pm_tls_ctx_free(P->tls);
    }
    rc = pm_out_close(P->cfg.out, rc); /* a write error: said here, exit 3 (output.h) */
    free(P->sent);
    free(P->rep);
    free(P->as);
    free(P);
    return rc;
}
