/*
 * probe_match.c — owns the probe's capture loop and packet matcher (capture/probe_run.h):
 * every captured packet is written to -w (capture/dump.c), decoded once, and matched against
 * what the run sent — the connects' SYNs (did one reach the wire?), the raw SYNs and our
 * kernel's RSTs (keyed ISNs, inject.c), SYN-ACKs and RSTs acking one of our ISNs, ICMP errors
 * quoting one (by sequence number, or by IP ID when a middlebox rewrote the sequence). A
 * reply on our probe port that acks or quotes no ISN we sent is counted and never believed.
 * Everything but the TTL walk's own packets then goes to the engine (probe.c says why).
 */
#include <errno.h>
#include <poll.h>
#include <string.h>

#include "probe_run.h"
#include "util.h"

static bool is_ours(const struct prober *P, const pm_addr *a)
{
    int k = fam_idx(a->family);
    return P->have_src[k] && pm_addr_eq(&P->src[k], a);
}

struct conntrack *probe_find_conn(struct prober *P, const pm_addr *dst, uint16_t sport,
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

static void record_reply(struct prober *P, int idx, const struct pm_walk_reply *r)
{
    struct pm_walk_reply *dst = &P->rep[idx];
    if (dst->kind != PM_WR_NONE) {
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
                struct conntrack *c = probe_find_conn(P, &p->dst, p->sport, p->dport);
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
            struct conntrack *c = probe_find_conn(P, &p->src, p->dport, p->sport);
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
                struct pm_walk_reply r = {.kind = (f & PM_TH_RST) ? PM_WR_RST : PM_WR_SYNACK, .ttl = p->ttl,
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
        if (q->sport != as->probe_port && probe_find_conn(P, &q->dst, q->sport, q->dport)) {
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
        struct pm_walk_reply r = {.kind = PM_WR_ICMP, .ttl = p->ttl, .from = p->src, .ts = p->ts,
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
    pm_dump_packet(P->dump, h, bytes);
    struct pm_record rec;
    memset(&rec, 0, sizeof(rec));
    rec.ts = (pm_ns)h->ts.tv_sec * PM_NS_PER_SEC +
             (pm_ns)h->ts.tv_usec * (P->cap.nano ? 1 : 1000);
    rec.caplen = h->caplen;
    rec.wirelen = h->len;
    rec.linktype = P->cap.linktype;
    rec.data = bytes;
    rec.frame = P->frame;
    rec.file = 0;
    rec.vantage = 0;
    rec.ifloop = P->cap.loopback;
    struct pm_pkt pkt;
    pm_engine_decode(&rec, &pkt); /* the one decode: the matcher and the engine share it */
    bool hide = match_packet(P, &pkt);
    if (hide) {
        P->hidden++;
        return;
    }
    if (P->eng) {
        pm_engine_pkt(P->eng, &pkt, rec.file);
    }
}

static void drain(struct prober *P)
{
    if (!P->cap.p) {
        return;
    }
    for (int i = 0; i < 256; i++) {
        int n = pcap_dispatch(P->cap.p, -1, on_packet, (u_char *)P);
        if (n <= 0) {
            if (n == PCAP_ERROR) {
                PM_WARN_ONCE("reading the capture on %s failed: %s", P->iface,
                             pcap_geterr(P->cap.p));
            }
            break;
        }
    }
}


int probe_pump(struct prober *P, int fd, short events, pm_ns deadline, probe_done_fn done,
                const void *arg)
{
    for (;;) {
        drain(P);
        if (P->eng) {
            pm_engine_tick(P->eng, pm_now_realtime());
        }
        if (probe_stop) {
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
        if (P->cap.p && P->cap.fd >= 0) {
            pf[n].fd = P->cap.fd;
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

int probe_wait_cb(void *ctx, int fd, short events, pm_ns deadline)
{
    int r = probe_pump((struct prober *)ctx, fd, events, deadline, NULL, NULL);
    return r == 1 ? 1 : r == 0 ? 0 : -1;
}

