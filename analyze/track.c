/*
 * track.c — owns the per-packet attempt state machine (include/track.h).
 *
 * Direction: an attempt's client is whoever sent the SYN to a watched port; replies are
 * looked up by swapping addresses and ports. This works the same for captures on the
 * sending host, on a NAT, mid-path or on the server.
 *
 * What each packet does (first answer wins; later ones are counted):
 *   client SYN, new 4-tuple or new ISN    → new attempt (a new ISN finalises the old one)
 *   client SYN, same ISN                  → retransmission: syns++
 *   server SYN-ACK                        → answer; a session starts for the SMTP dialogue
 *   server RST before a SYN-ACK           → answer (refused); after it → server close
 *   ICMP error quoting the SYN            → answer, unless the flow is established or the
 *                                           error is fragmentation-needed (RFC 1122 §4.2.3.9:
 *                                           only a hard error in SYN-SENT ends a connect)
 *   client ACK of a SYN-ACK never seen    → the capture is one-sided (not a silent drop)
 *   RST/ICMP with no attempt, seen on loopback or from the host itself → the SYN never
 *                                           left: reconstruct the attempt (local REJECT)
 */
#include "track.h"

#include "flow.h"
#include "util.h"

struct pm_tracker {
    struct pm_track_config cfg;
    struct pm_flowtab *flows;
    struct pm_session_pool *sessions;
    pm_attempt_done_fn done;
    void *ctx;
    pm_ns now;
    pm_ns next_sweep;
    uint32_t next_id;
    struct pm_track_counters n;
    struct pm_vantage_state *vs;
    uint8_t port_bitmap[65536 / 8];
};

static const pm_ns class_timeout[PM_FC__COUNT] = {
    [PM_FC_SYN] = PM_TMO_SYN,
    [PM_FC_DONE] = PM_TMO_DONE,
    [PM_FC_EST] = PM_TMO_EST,
};

struct pm_tracker *pm_tracker_new(const struct pm_track_config *cfg, pm_attempt_done_fn done,
                                  void *ctx)
{
    struct pm_tracker *t = pm_xcalloc(1, sizeof(*t));
    t->cfg = *cfg;
    if (t->cfg.nvantage < 1) {
        t->cfg.nvantage = 1;
    }
    t->flows = pm_flowtab_new(cfg->max_flows, cfg->seed);
    t->sessions = pm_session_pool_new(cfg->max_sessions);
    t->done = done;
    t->ctx = ctx;
    t->now = PM_NS_NONE;
    t->next_id = 1;
    t->vs = pm_xcalloc((size_t)t->cfg.nvantage, sizeof(*t->vs));
    for (int i = 0; i < t->cfg.nvantage; i++) {
        t->vs[i].first_ts = t->vs[i].last_ts = PM_NS_NONE;
    }
    for (int i = 0; i < cfg->nports; i++) {
        t->port_bitmap[cfg->ports[i] / 8] |= (uint8_t)(1u << (cfg->ports[i] % 8));
    }
    t->n.flows_capacity = pm_flowtab_capacity(t->flows);
    return t;
}

void pm_tracker_free(struct pm_tracker *t)
{
    if (!t) {
        return;
    }
    pm_flowtab_free(t->flows);
    pm_session_pool_free(t->sessions);
    free(t->vs);
    free(t);
}

bool pm_tracker_port_watched(const struct pm_tracker *t, uint16_t port)
{
    return (t->port_bitmap[port / 8] >> (port % 8)) & 1;
}

const struct pm_track_counters *pm_tracker_counters(const struct pm_tracker *t)
{
    return &t->n;
}

const struct pm_vantage_state *pm_tracker_vantage(const struct pm_tracker *t, int v)
{
    return (v >= 0 && v < t->cfg.nvantage) ? &t->vs[v] : NULL;
}

bool pm_vantage_is_local(const struct pm_vantage_state *vs, const pm_addr *a)
{
    for (int i = 0; i < vs->nlocal; i++) {
        if (pm_addr_eq(&vs->local[i], a)) {
            return true;
        }
    }
    return false;
}

static void note_local(struct pm_vantage_state *vs, const pm_addr *a)
{
    if (pm_vantage_is_local(vs, a)) {
        return;
    }
    if (vs->nlocal < PM_MAX_LOCAL_ADDRS) {
        vs->local[vs->nlocal++] = *a;
    } else {
        vs->local_overflow = 1;
    }
}

/* Append a Zeek history letter once (upper case: originator, lower case: responder). */
static void hist(struct pm_attempt *a, char letter)
{
    size_t n = strlen(a->history);
    if (memchr(a->history, letter, n) || n + 1 >= sizeof(a->history)) {
        return;
    }
    a->history[n] = letter;
    a->history[n + 1] = '\0';
}

static struct pm_pktref ref_of(const struct pm_pkt *p, uint16_t file)
{
    struct pm_pktref r = {p->frame, file};
    return r;
}

/* ---- finalising ---- */

/* A reply we could not link (an ICMP error whose quote, or a segment whose header, the
 * snaplen cut): remember when, so that an unanswered attempt of that time at this vantage
 * says "incomplete" instead of a silence it cannot prove. */
static void note_unreadable(struct pm_tracker *t, const struct pm_pkt *p)
{
    struct pm_vantage_state *vs = &t->vs[p->vantage];
    vs->unreadable[vs->nunreadable % PM_ARRAY_LEN(vs->unreadable)] = p->ts;
    vs->nunreadable++;
    t->n.unreadable_answers++;
}

static bool unreadable_during(const struct pm_vantage_state *vs, pm_ns from, pm_ns to)
{
    size_t n = PM_MIN((size_t)vs->nunreadable, PM_ARRAY_LEN(vs->unreadable));
    for (size_t i = 0; i < n; i++) {
        if (vs->unreadable[i] >= from && vs->unreadable[i] <= to) {
            return true;
        }
    }
    return false;
}

static void finalize(struct pm_tracker *t, struct pm_attempt *a, uint32_t extra_flags)
{
    a->flags |= extra_flags;
    if (a->answer == PM_ANS_NONE && a->vantage < t->cfg.nvantage &&
        unreadable_during(&t->vs[a->vantage], a->first_syn, a->last_seen + PM_TMO_SYN)) {
        a->flags |= PM_AF_UNREADABLE_ANSWER;
    }
    const struct pm_smtp_summary *sum = NULL;
    struct pm_session *s = a->session ? pm_session_get(t->sessions, a->session) : NULL;
    if (s) {
        sum = pm_session_summary(s);
        a->banner_code = sum->banner_code;
        a->worst_code = sum->reject_code;
    }
    if (a->banner_code == 0 && a->srv_bytes > 0 && !(s && sum->tls)) {
        /* The server sent bytes and no reply line came out of them. */
        a->banner_code = PM_BANNER_UNREADABLE;
        a->flags |= PM_AF_SRV_DATA_UNREAD;
    }
    t->done(t->ctx, a, sum);
    if (a->session) {
        pm_session_release(t->sessions, a->session);
        a->session = 0;
    }
    pm_flowtab_remove(t->flows, a);
}

static void sweep(struct pm_tracker *t)
{
    for (int c = 0; c < PM_FC__COUNT; c++) {
        struct pm_attempt *a;
        while ((a = pm_flowtab_oldest(t->flows, (enum pm_flow_class)c)) != NULL &&
               a->last_seen + class_timeout[c] <= t->now) {
            finalize(t, a, 0);
        }
    }
}

/* The table is full: finalise the least recently active attempt of any class. */
static void evict_one(struct pm_tracker *t)
{
    struct pm_attempt *victim = NULL;
    for (int c = 0; c < PM_FC__COUNT; c++) {
        struct pm_attempt *a = pm_flowtab_oldest(t->flows, (enum pm_flow_class)c);
        if (a && (!victim || a->last_seen < victim->last_seen)) {
            victim = a;
        }
    }
    if (victim) {
        t->n.evictions++;
        finalize(t, victim, PM_AF_EVICTED);
    }
}

static struct pm_attempt *new_attempt(struct pm_tracker *t, const struct pm_flowkey *k)
{
    struct pm_attempt *a = pm_flowtab_insert(t->flows, k, PM_FC_SYN);
    if (!a) {
        evict_one(t);
        a = pm_flowtab_insert(t->flows, k, PM_FC_SYN);
    }
    if (a) {
        a->id = t->next_id++;
        a->syn_ws = 0xff;
        t->n.attempts++;
    }
    return a;
}

/* ---- TCP ---- */

/* A small signature of the SYN's option kinds in order: survives NAT, differs by stack. */
static uint8_t optsig(const struct pm_tcpopts *o)
{
    uint32_t h = 2166136261u;
    for (int i = 0; i < o->nkinds; i++) {
        h = (h ^ o->kinds[i]) * 16777619u;
    }
    return (uint8_t)(h ^ (h >> 8) ^ (h >> 16) ^ (h >> 24));
}

static void on_syn(struct pm_tracker *t, const struct pm_pkt *p, uint16_t file)
{
    struct pm_vantage_state *vs = &t->vs[p->vantage];
    vs->syns_out++;
    note_local(vs, &p->src);
    struct pm_flowkey k;
    pm_flowkey_make(&k, p->vantage, &p->src, &p->dst, p->sport, p->dport);
    struct pm_attempt *a = pm_flowtab_find(t->flows, &k);
    if (a && a->isn == p->seq && !(a->flags & PM_AF_SYN_NOT_CAPTURED)) {
        /* A retransmission (same ISN): fold it in. */
        a->syns++;
        a->last_syn = a->last_seen = p->ts;
        t->n.syn_retransmissions++;
        if (p->status == PM_PKT_TRUNC) {
            a->flags |= PM_AF_TRUNCATED;
        }
        if (a->answer == PM_ANS_NONE) {
            pm_flowtab_touch(t->flows, a, PM_FC_SYN);
        }
        return;
    }
    if (a && (a->flags & PM_AF_SYN_NOT_CAPTURED) && a->isn == p->seq) {
        /* The SYN of an attempt we reconstructed from its answer arrived late (files
         * merged out of order): fill in what the SYN says. */
        a->flags &= (uint16_t)~PM_AF_SYN_NOT_CAPTURED;
    } else {
        if (a) {
            /* Same 4-tuple, new ISN: a new attempt (RFC 9293 §3.4.1). */
            t->n.isn_reuse++;
            finalize(t, a, PM_AF_ISN_REUSED);
        }
        a = new_attempt(t, &k);
        if (!a) {
            return;
        }
        a->isn = p->seq;
        a->first_syn = p->ts;
        a->syn_ref = ref_of(p, file);
        hist(a, 'S');
    }
    a->syns++;
    a->last_syn = a->last_seen = p->ts;
    a->syn_ttl = p->ttl;
    a->syn_tos = p->tos;
    a->syn_ip_id = p->ip_id;
    a->syn_mss = p->opts.mss;
    a->syn_ws = p->opts.has_ws ? p->opts.wscale : 0xff;
    a->syn_tsval = p->opts.has_ts ? p->opts.tsval : 0;
    a->syn_optsig = optsig(&p->opts);
    if (p->status == PM_PKT_TRUNC) {
        a->flags |= PM_AF_TRUNCATED;
    }
}

static void fill_answer_ip(struct pm_answer_info *ai, const struct pm_pkt *p, uint16_t file)
{
    ai->ts = p->ts;
    ai->ref = ref_of(p, file);
    ai->ttl = p->ttl;
    ai->df = p->df;
    ai->ip_id = p->ip_id;
    ai->loopback = p->on_loopback;
}

static void start_session(struct pm_tracker *t, struct pm_attempt *a, uint32_t srv_isn)
{
    if (a->session) {
        return;
    }
    a->session = pm_session_alloc(t->sessions);
    if (!a->session) {
        a->flags |= PM_AF_SMTP_DROPPED;
        t->n.sessions_dropped++;
        return;
    }
    struct pm_session *s = pm_session_get(t->sessions, a->session);
    struct pm_seqstate *ss = pm_session_srvseq(s), *cs = pm_session_cliseq(s);
    ss->next = srv_isn + 1;
    ss->known = 1;
    cs->next = a->isn + 1;
    cs->known = !(a->flags & PM_AF_SYN_NOT_CAPTURED);
}

static void on_synack(struct pm_tracker *t, struct pm_attempt *a, const struct pm_pkt *p,
                      uint16_t file)
{
    a->n_synack++;
    a->last_seen = p->ts;
    hist(a, 'h');
    if (a->answer == PM_ANS_NONE) {
        a->answer = PM_ANS_SYNACK;
        fill_answer_ip(&a->ans, p, file);
        a->ans.win = p->win;
        a->ans.mss = p->opts.mss;
        a->ans.ack_ok = (p->flags & PM_TH_ACK) && p->ack == a->isn + 1;
        if (!a->ans.ack_ok && !(a->flags & PM_AF_SYN_NOT_CAPTURED)) {
            a->flags |= PM_AF_BAD_SYNACK; /* Zeek's bad_SYN_ack: acks outside our SYN */
        }
        start_session(t, a, p->seq);
        pm_flowtab_touch(t->flows, a, PM_FC_EST);
    } else if (a->answer == PM_ANS_RST || a->answer == PM_ANS_ICMP) {
        /* A SYN-ACK after a RST/ICMP: the earlier answer raced the real server. A real
         * stack does not accept and refuse the same SYN: the first answer was forged on
         * the path (Weaver et al., NDSS 2009). */
        a->flags |= PM_AF_ANSWER_RACE;
    }
}

/* Feed in-order payload of one direction to the SMTP parser, handling retransmissions
 * (seq below next: skip the old bytes), gaps and snaplen cuts (stop parsing). */
static void feed_payload(struct pm_tracker *t, struct pm_attempt *a, const struct pm_pkt *p,
                         bool from_server)
{
    struct pm_session *s = pm_session_get(t->sessions, a->session);
    if (!s) {
        return;
    }
    struct pm_seqstate *st = from_server ? pm_session_srvseq(s) : pm_session_cliseq(s);
    if (st->broken) {
        return;
    }
    uint32_t len = p->payload_wire;
    if (!st->known) {
        st->next = p->seq;
        st->known = 1;
    }
    int32_t ahead = (int32_t)(p->seq - st->next);
    if (ahead > 0) {
        /* Bytes before this segment are missing from the capture: a content gap. */
        st->broken = 1;
        hist(a, from_server ? 'g' : 'G');
        if (from_server) {
            pm_smtp_server_broken(s);
        } else {
            pm_smtp_client_broken(s);
        }
        return;
    }
    uint32_t skip = (uint32_t)(-ahead);
    if (skip >= len) {
        hist(a, from_server ? 't' : 'T'); /* a pure retransmission */
        return;
    }
    pm_cur c = p->payload;
    pm_skip(&c, skip);
    uint32_t want = len - skip;
    uint8_t chunk[512];
    uint32_t done = 0;
    while (done < want) {
        size_t n = PM_MIN((size_t)(want - done), sizeof(chunk));
        size_t have = pm_cur_left_cap(&c);
        if (have == 0) {
            break;
        }
        n = PM_MIN(n, have);
        pm_bytes(&c, chunk, n);
        if (!pm_cur_ok(&c)) {
            break;
        }
        if (from_server) {
            pm_smtp_server_bytes(s, chunk, n);
        } else {
            pm_smtp_client_bytes(s, chunk, n);
        }
        done += (uint32_t)n;
    }
    st->next += want;
    if (done < want) {
        /* The snaplen cut the payload: what follows in this direction is unknown. */
        st->broken = 1;
        if (from_server) {
            pm_smtp_server_broken(s);
        } else {
            pm_smtp_client_broken(s);
        }
    }
}

static void on_server_segment(struct pm_tracker *t, struct pm_attempt *a,
                              const struct pm_pkt *p, uint16_t file)
{
    a->last_seen = p->ts;
    uint8_t f = p->flags;
    if (p->payload_wire > 0) {
        a->srv_bytes += p->payload_wire;
        hist(a, 'd');
        if (a->session) {
            feed_payload(t, a, p, true);
        } else {
            a->flags |= PM_AF_SRV_DATA_UNREAD;
        }
    } else if ((f & PM_TH_ACK) && !(f & (PM_TH_FIN | PM_TH_RST))) {
        hist(a, 'a');
    }
    if (f & PM_TH_RST) {
        hist(a, 'r');
        a->n_rst++;
        if (a->answer == PM_ANS_NONE) {
            a->answer = PM_ANS_RST;
            fill_answer_ip(&a->ans, p, file);
            a->ans.win = p->win;
            a->ans.ack_ok = (f & PM_TH_ACK) && p->ack == a->isn + 1;
            a->ans.payload = (uint16_t)PM_MIN(p->payload_wire, 65535u);
            pm_flowtab_touch(t->flows, a, PM_FC_DONE);
        } else if (a->answer == PM_ANS_ICMP) {
            a->flags |= PM_AF_ANSWER_RACE;
        } else if (a->answer == PM_ANS_SYNACK && a->close == PM_CLOSE_NONE) {
            a->close = PM_CLOSE_SRV_RST;
            a->close_ts = p->ts;
            a->close_ref = ref_of(p, file);
            pm_flowtab_touch(t->flows, a, PM_FC_DONE);
        }
        return;
    }
    if (f & PM_TH_FIN) {
        hist(a, 'f');
        if (a->close == PM_CLOSE_NONE) {
            a->close = PM_CLOSE_SRV_FIN;
            a->close_ts = p->ts;
            a->close_ref = ref_of(p, file);
        }
        if (a->close == PM_CLOSE_CLI_FIN || a->close == PM_CLOSE_SRV_FIN) {
            pm_flowtab_touch(t->flows, a, strchr(a->history, 'F') ? PM_FC_DONE : PM_FC_EST);
        }
    }
}

static void on_client_segment(struct pm_tracker *t, struct pm_attempt *a,
                              const struct pm_pkt *p, uint16_t file)
{
    a->last_seen = p->ts;
    uint8_t f = p->flags;
    if ((f & PM_TH_ACK) && !a->established && !(f & PM_TH_RST)) {
        if (a->answer == PM_ANS_SYNACK) {
            a->established = 1;
        } else if (a->answer == PM_ANS_NONE && p->ack != 0) {
            /* The client acknowledges a SYN-ACK the capture never saw: the capture misses
             * the server's direction (asymmetric routing, one-way tap), not a silent drop. */
            a->flags |= PM_AF_ONE_SIDED;
            a->established = 1;
            t->vs[p->vantage].one_sided_evidence++;
            start_session(t, a, p->ack - 1);
            pm_flowtab_touch(t->flows, a, PM_FC_EST);
        }
    }
    if (p->payload_wire > 0) {
        a->cli_bytes += p->payload_wire;
        hist(a, 'D');
        if (a->session) {
            feed_payload(t, a, p, false);
        }
    } else if ((f & PM_TH_ACK) && !(f & (PM_TH_FIN | PM_TH_RST))) {
        hist(a, 'A');
    }
    if (f & PM_TH_RST) {
        hist(a, 'R');
        if (a->answer == PM_ANS_NONE) {
            a->flags |= PM_AF_CLIENT_GAVE_UP;
        } else if (a->answer == PM_ANS_SYNACK && !a->established) {
            /* Our own stack reset a SYN-ACK: it never sent that SYN (a raw probe), or the
             * connect was abandoned (MTA timer). */
            a->flags |= PM_AF_SELF_RST;
        }
        if (a->close == PM_CLOSE_NONE) {
            a->close = PM_CLOSE_CLI_RST;
            a->close_ts = p->ts;
            a->close_ref = ref_of(p, file);
        }
        pm_flowtab_touch(t->flows, a, PM_FC_DONE);
        return;
    }
    if (f & PM_TH_FIN) {
        hist(a, 'F');
        if (a->answer == PM_ANS_NONE) {
            a->flags |= PM_AF_CLIENT_GAVE_UP;
        }
        if (a->close == PM_CLOSE_NONE) {
            a->close = PM_CLOSE_CLI_FIN;
            a->close_ts = p->ts;
            a->close_ref = ref_of(p, file);
        }
        pm_flowtab_touch(t->flows, a, strchr(a->history, 'f') || a->answer != PM_ANS_SYNACK
                                           ? PM_FC_DONE
                                           : PM_FC_EST);
    }
}

/* A RST with no attempt. Seen on loopback, it is the local stack answering for a SYN that
 * netfilter stopped (OUTPUT REJECT --reject-with tcp-reset): reconstruct the attempt. */
static void on_orphan_rst(struct pm_tracker *t, const struct pm_pkt *p, uint16_t file)
{
    if (!p->on_loopback || !(p->flags & PM_TH_ACK)) {
        t->n.orphan_rst++;
        return;
    }
    struct pm_flowkey k;
    pm_flowkey_make(&k, p->vantage, &p->dst, &p->src, p->dport, p->sport);
    struct pm_attempt *a = new_attempt(t, &k);
    if (!a) {
        return;
    }
    t->n.syn_not_captured++;
    a->flags |= PM_AF_SYN_NOT_CAPTURED;
    a->isn = p->ack - 1;
    a->first_syn = a->last_syn = p->ts;
    a->syn_ref = ref_of(p, file);
    on_server_segment(t, a, p, file);
}

static void on_tcp(struct pm_tracker *t, const struct pm_pkt *p, uint16_t file)
{
    bool to_watched = pm_tracker_port_watched(t, p->dport);
    bool from_watched = pm_tracker_port_watched(t, p->sport);
    if (!to_watched && !from_watched) {
        return;
    }
    uint8_t f = p->flags;
    if ((f & PM_TH_SYN) && !(f & PM_TH_ACK) && to_watched && !(f & PM_TH_RST)) {
        on_syn(t, p, file);
        return;
    }
    struct pm_flowkey k;
    if (from_watched) {
        pm_flowkey_make(&k, p->vantage, &p->dst, &p->src, p->dport, p->sport);
        struct pm_attempt *a = pm_flowtab_find(t->flows, &k);
        if (a) {
            t->vs[p->vantage].from_servers++;
            if (p->status == PM_PKT_TRUNC) {
                a->flags |= PM_AF_TRUNCATED;
            }
            if ((f & PM_TH_SYN) && (f & PM_TH_ACK)) {
                on_synack(t, a, p, file);
            } else {
                on_server_segment(t, a, p, file);
            }
            return;
        }
    }
    if (to_watched) {
        pm_flowkey_make(&k, p->vantage, &p->src, &p->dst, p->sport, p->dport);
        struct pm_attempt *a = pm_flowtab_find(t->flows, &k);
        if (a) {
            if (p->status == PM_PKT_TRUNC) {
                a->flags |= PM_AF_TRUNCATED;
            }
            on_client_segment(t, a, p, file);
            return;
        }
    }
    if (from_watched) {
        if ((f & PM_TH_SYN) && (f & PM_TH_ACK)) {
            t->n.synack_without_syn++;
        } else if (f & PM_TH_RST) {
            on_orphan_rst(t, p, file);
        }
    }
}

/* ---- ICMP ---- */

static void on_icmp(struct pm_tracker *t, const struct pm_pkt *p, uint16_t file)
{
    const struct pm_quote *q = &p->quote;
    if (!p->has_quote || (q->proto == 6 && !q->has_ports) ||
        (q->proto == 0 && p->status == PM_PKT_TRUNC)) {
        /* The quote is too short to name the flow: if the snaplen cut it, it may well have
         * been the answer to one of our SYNs. */
        if (p->status == PM_PKT_TRUNC && !pm_icmp_is_frag_needed(p)) {
            note_unreadable(t, p);
        }
        return;
    }
    if (q->proto != 6 || !pm_tracker_port_watched(t, q->dport)) {
        return;
    }
    bool frag_needed = pm_icmp_is_frag_needed(p);
    struct pm_flowkey k;
    pm_flowkey_make(&k, p->vantage, &q->src, &q->dst, q->sport, q->dport);
    struct pm_attempt *a = pm_flowtab_find(t->flows, &k);
    if (!a) {
        struct pm_vantage_state *vs = &t->vs[p->vantage];
        bool local_origin = p->on_loopback || pm_vantage_is_local(vs, &p->src);
        bool quotes_syn = q->has_tcp && (q->tcp_flags & PM_TH_SYN) && !(q->tcp_flags & PM_TH_ACK);
        if (frag_needed || !(local_origin || quotes_syn)) {
            t->n.orphan_icmp++;
            return;
        }
        /* The SYN is not in the capture but the error quotes it: reconstruct. */
        a = new_attempt(t, &k);
        if (!a) {
            return;
        }
        t->n.syn_not_captured++;
        a->flags |= PM_AF_SYN_NOT_CAPTURED;
        a->isn = q->has_seq ? q->seq : 0;
        a->first_syn = a->last_syn = p->ts;
        a->syn_ref = ref_of(p, file);
        a->syn_ttl = 0;
    }
    a->last_seen = p->ts;
    if (frag_needed) {
        /* RFC 1191 / RFC 8201: path MTU discovery, never a rejection. */
        a->flags |= PM_AF_FRAG_NEEDED;
        t->n.frag_needed++;
        return;
    }
    if (a->answer == PM_ANS_SYNACK || a->established) {
        a->flags |= PM_AF_ICMP_ESTABLISHED;
        t->n.icmp_established++;
        return;
    }
    a->n_icmp++;
    if (a->answer != PM_ANS_NONE) {
        return; /* e.g. one ICMP per queued SYN after an ARP failure: counted */
    }
    a->answer = PM_ANS_ICMP;
    struct pm_answer_info *ai = &a->ans;
    fill_answer_ip(ai, p, file);
    ai->icmp_type = p->icmp_type;
    ai->icmp_code = p->icmp_code;
    ai->from = p->src;
    ai->qttl = q->ttl;
    ai->qtos = q->tos;
    ai->qip_id = q->ip_id;
    ai->qbytes = q->bytes;
    ai->mtu = p->icmp_mtu;
    ai->qseq_state = q->has_seq ? (q->seq == a->isn ? 1 : 2) : 0;
    pm_flowtab_touch(t->flows, a, PM_FC_DONE);
}

/* ---- entry points ---- */

void pm_tracker_tick(struct pm_tracker *t, pm_ns now)
{
    if (t->now == PM_NS_NONE || now > t->now) {
        t->now = now;
    }
    if (t->next_sweep == 0 || t->now >= t->next_sweep) {
        sweep(t);
        t->next_sweep = t->now + PM_SEC(1);
    }
}

void pm_tracker_packet(struct pm_tracker *t, const struct pm_pkt *p, uint16_t file)
{
    t->n.records++;
    if (p->vantage >= t->cfg.nvantage) {
        return;
    }
    struct pm_vantage_state *vs = &t->vs[p->vantage];
    vs->records++;
    if (vs->first_ts == PM_NS_NONE || p->ts < vs->first_ts) {
        vs->first_ts = p->ts;
    }
    if (vs->last_ts == PM_NS_NONE || p->ts > vs->last_ts) {
        vs->last_ts = p->ts;
    }
    if (t->now != PM_NS_NONE && p->ts < t->now) {
        t->n.time_backwards++;
    }
    pm_tracker_tick(t, p->ts);

    switch (p->status) {
    case PM_PKT_UNSUPPORTED:
        t->n.unsupported_link++;
        return;
    case PM_PKT_BAD:
        t->n.malformed++;
        break;
    case PM_PKT_TRUNC:
        t->n.truncated++;
        break;
    case PM_PKT_OTHER:
        if (p->family == 0) {
            t->n.not_ip++;
            return;
        }
        break;
    default:
        break;
    }
    if (p->family == 0) {
        return;
    }
    t->n.decoded++;
    if (p->frag) {
        t->n.fragments++;
    }
    if (p->proto == 6 && p->tcp_flags_ok && p->status != PM_PKT_BAD) {
        on_tcp(t, p, file);
    } else if (p->proto == 6 && p->tcp_ports_ok && p->status == PM_PKT_TRUNC &&
               pm_tracker_port_watched(t, p->sport)) {
        /* A segment from a server whose flags the snaplen cut: it answered something. */
        struct pm_flowkey k;
        pm_flowkey_make(&k, p->vantage, &p->dst, &p->src, p->dport, p->sport);
        struct pm_attempt *a = pm_flowtab_find(t->flows, &k);
        if (a) {
            a->flags |= PM_AF_UNREADABLE_ANSWER | PM_AF_TRUNCATED;
        }
    } else if ((p->proto == 1 || p->proto == 58) && p->status == PM_PKT_TRUNC &&
               !p->icmp_is_error && p->icmp_type == 0 && p->icmp_code == 0) {
        /* An ICMP header cut before its type: could have been an error for us. */
        note_unreadable(t, p);
    } else if (p->proto == 6 && p->tcp_ports_ok && p->status == PM_PKT_BAD) {
        /* A malformed TCP header (bad data offset) on a watched flow: note it there. */
        struct pm_flowkey k;
        pm_flowkey_make(&k, p->vantage, &p->src, &p->dst, p->sport, p->dport);
        struct pm_attempt *a = pm_flowtab_find(t->flows, &k);
        if (!a) {
            pm_flowkey_make(&k, p->vantage, &p->dst, &p->src, p->dport, p->sport);
            a = pm_flowtab_find(t->flows, &k);
        }
        if (a) {
            a->flags |= PM_AF_MALFORMED;
        }
    } else if ((p->proto == 1 || p->proto == 58) && p->icmp_is_error) {
        on_icmp(t, p, file);
    }
    (void)0;
}

void pm_tracker_flush(struct pm_tracker *t)
{
    /* Oldest first per class, so the output order does not depend on slot reuse. */
    for (int c = 0; c < PM_FC__COUNT; c++) {
        struct pm_attempt *a;
        while ((a = pm_flowtab_oldest(t->flows, (enum pm_flow_class)c)) != NULL) {
            finalize(t, a, PM_AF_CAPTURE_ENDED);
        }
    }
    t->n.flows_peak = pm_flowtab_peak(t->flows);
    t->n.sessions_peak = pm_session_peak(t->sessions);
}
