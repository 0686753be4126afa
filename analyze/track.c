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
 * With several vantage points, a new SYN is linked to the same SYN seen at another
 * vantage (NAT inside/outside) by what survives translation: ISN, TCP timestamp, IP ID
 * with the option layout.
 *
 * A live attempt is a compact struct pm_flow plus an extension from its first answer on;
 * the full struct pm_attempt is assembled only when it is finalised.
 */
#include "track.h"

#include "flow.h"
#include "tables.h"
#include "util.h"

#define LINK_WINDOW PM_SEC(2) /* the same SYN at two vantage points: this close in time */

struct pm_tracker {
    struct pm_track_config cfg;
    struct pm_flowtab *flows;
    struct pm_session_pool *sessions;
    pm_attempt_done_fn done;
    void *ctx;
    struct pm_track_events ev; /* optional events (pm_tracker_set_events) */
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
    [PM_FC_ANSWERED] = PM_TMO_RETRY,
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
static void hist(struct pm_flow *a, char letter)
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

/* The extension of an attempt (its answer, counters, session, peer). The extension pool
 * has the table's capacity, so this cannot fail while the flow exists; the fallback keeps
 * a hostile corner case from crashing. */
static struct pm_flow_ext *X(struct pm_tracker *t, struct pm_flow *a)
{
    struct pm_flow_ext *x = pm_flowtab_ext(t->flows, a);
    if (!x) {
        static struct pm_flow_ext scratch;
        memset(&scratch, 0, sizeof(scratch));
        return &scratch;
    }
    return x;
}

/* ---- unreadable answers ---- */

/* A reply we could not link (an ICMP error whose quote, or a segment whose header, the
 * snaplen cut): remember when, so that an unanswered attempt of that time at this vantage
 * says "incomplete" instead of a silence it cannot prove. */
static void note_unreadable(struct pm_tracker *t, const struct pm_pkt *p)
{
    struct pm_vantage_state *vs = &t->vs[p->vantage];
    vs->unreadable[vs->nunreadable % PM_ARRAY_LEN(vs->unreadable)] = p->ts;
    vs->nunreadable++;
    vs->cut_replies++;
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

/* ---- finalising ---- */

static void assemble(struct pm_tracker *t, const struct pm_flow *f, struct pm_attempt *a)
{
    memset(a, 0, sizeof(*a));
    a->id = f->id;
    a->vantage = f->vantage;
    a->family = f->family;
    a->answer = f->answer;
    pm_flow_cli(f, &a->cli);
    pm_flow_srv(f, &a->srv);
    a->sport = f->sport;
    a->dport = f->dport;
    a->isn = f->isn;
    a->first_syn = f->first_syn;
    a->last_syn = f->last_syn;
    a->last_seen = f->last_seen;
    a->syn_ref = f->syn_ref;
    a->syns = f->syns;
    a->syn_ttl = f->syn_ttl;
    a->syn_tos = f->syn_tos;
    a->syn_ip_id = f->syn_ip_id;
    a->syn_mss = f->syn_mss;
    a->syn_tsval = f->syn_tsval;
    a->syn_ws = f->syn_ws;
    a->syn_optsig = f->syn_optsig;
    a->flags = f->flags;
    memcpy(a->history, f->history, sizeof(a->history));
    const struct pm_flow_ext *x = pm_flowtab_ext_peek(t->flows, f);
    if (x) {
        a->ans = x->ans;
        a->n_synack = x->n_synack;
        a->n_rst = x->n_rst;
        a->n_icmp = x->n_icmp;
        a->established = x->established;
        a->close = x->close;
        a->close_ts = x->close_ts;
        a->close_ref = x->close_ref;
        a->cli_bytes = x->cli_bytes;
        a->srv_bytes = x->srv_bytes;
        a->session = x->session;
        a->peer = x->peer;
    }
}

static void finalize(struct pm_tracker *t, struct pm_flow *f, uint32_t extra_flags)
{
    f->flags |= extra_flags;
    if (f->vantage < t->cfg.nvantage) {
        /* A reply too cut to link arrived while this attempt waited for its answer: it may
         * have been that answer (or an earlier one than the one we read). */
        const struct pm_flow_ext *x = pm_flowtab_ext_peek(t->flows, f);
        pm_ns until = f->answer == PM_ANS_NONE ? f->last_seen + PM_TMO_SYN : x->ans.ts;
        if (unreadable_during(&t->vs[f->vantage], f->first_syn, until)) {
            f->flags |= PM_AF_UNREADABLE_ANSWER;
        }
    }
    struct pm_attempt a;
    assemble(t, f, &a);
    const struct pm_smtp_summary *sum = NULL;
    struct pm_session *s = a.session ? pm_session_get(t->sessions, a.session) : NULL;
    if (s) {
        sum = pm_session_summary(s);
        a.banner_code = sum->banner_code;
        a.worst_code = sum->reject_code;
        if (sum->tls) {
            a.flags |= PM_AF_TLS;
        }
        if (sum->replies_unread && !sum->accepted) {
            a.flags |= PM_AF_SRV_REPLIES_UNREAD;
        }
        if (sum->accepted) {
            a.flags |= PM_AF_MAIL_ACCEPTED;
        }
        if (sum->tls_mismatch) {
            a.flags |= PM_AF_TLS_MISMATCH;
        }
    }
    bool srv_closed = a.close == PM_CLOSE_SRV_FIN || a.close == PM_CLOSE_SRV_RST;
    bool pending = a.close == PM_CLOSE_NONE || (sum && sum->unanswered > 0);
    if ((a.flags & PM_AF_CAPTURE_ENDED) && a.established && !srv_closed && pending &&
        !(a.flags & PM_AF_MAIL_ACCEPTED)) {
        /* Still talking when the capture stopped (nobody closed, or the client closed with
         * commands unanswered: a pipelined MAIL, RCPT, DATA, QUIT): whatever the server said
         * next (a 5xx to RCPT, to the end of DATA) is not in this capture. */
        a.flags |= PM_AF_DIALOGUE_CUT;
    }
    if (a.banner_code == 0 && a.srv_bytes > 0 && !(sum && sum->tls) &&
        !(a.flags & PM_AF_MIDSTREAM)) {
        /* The server sent bytes and no reply line came out of them. */
        a.banner_code = PM_BANNER_UNREADABLE;
        a.flags |= PM_AF_SRV_DATA_UNREAD;
    }
    if (t->ev.far_open && a.peer.id) {
        /* The far view of this attempt (the same SYN at another vantage) may still be open:
         * its owner hears its state now, as it is, before it hears this attempt end. */
        struct pm_flowkey k;
        pm_flowkey_make(&k, a.peer.vantage, &a.peer.cli, &a.srv, a.peer.sport, a.dport);
        struct pm_flow *pf = pm_flowtab_find(t->flows, &k);
        if (pf) {
            struct pm_attempt far;
            assemble(t, pf, &far);
            t->ev.far_open(t->ev.ctx, &far);
        }
    }
    t->done(t->ctx, &a, sum);
    if (a.session) {
        pm_session_release(t->sessions, a.session);
    }
    pm_flowtab_remove(t->flows, f);
}

static void sweep(struct pm_tracker *t)
{
    for (int c = 0; c < PM_FC__COUNT; c++) {
        struct pm_flow *a;
        while ((a = pm_flowtab_oldest(t->flows, (enum pm_flow_class)c)) != NULL &&
               a->last_seen + class_timeout[c] <= t->now) {
            finalize(t, a, 0);
        }
    }
}

/* The table is full: finalise the least recently active attempt of any class. An attempt
 * that was answered (RST/ICMP) and has lingered as long as any answer used to goes first,
 * and is not marked evicted: its answer is complete; only a later retry of its SYN, should
 * one come, would now count as a new attempt (counted: answered_closed_early). */
static void evict_one(struct pm_tracker *t)
{
    struct pm_flow *ans = pm_flowtab_oldest(t->flows, PM_FC_ANSWERED);
    if (ans && ans->last_seen + PM_TMO_DONE <= t->now) {
        t->n.answered_closed_early++;
        finalize(t, ans, 0);
        return;
    }
    struct pm_flow *victim = NULL;
    for (int c = 0; c < PM_FC__COUNT; c++) {
        struct pm_flow *a = pm_flowtab_oldest(t->flows, (enum pm_flow_class)c);
        if (a && (!victim || a->last_seen < victim->last_seen)) {
            victim = a;
        }
    }
    pm_table_lost(PM_TAB_FLOWS, 1, pm_flowtab_mem_full(t->flows));
    if (victim) {
        t->n.evictions++;
        finalize(t, victim, PM_AF_EVICTED);
    }
}

static struct pm_flow *new_attempt(struct pm_tracker *t, const struct pm_flowkey *k)
{
    struct pm_flow *a = pm_flowtab_insert(t->flows, k, PM_FC_SYN);
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

/* ---- linking across vantage points ---- */

/* The same SYN at another vantage point: same destination and port, close in time, and a
 * field a NAT does not rewrite (the ISN unless a sequence randomiser is on; the TCP
 * timestamp, which Linux randomises per connection; the IP ID together with the option
 * layout and MSS). */
static bool same_syn(const struct pm_flow *a, const struct pm_flow *c)
{
    pm_ns dt = a->first_syn - c->first_syn;
    if (dt > LINK_WINDOW || dt < -LINK_WINDOW) {
        return false;
    }
    if (a->isn == c->isn) {
        return true;
    }
    if (a->syn_tsval && a->syn_tsval == c->syn_tsval) {
        return true;
    }
    return a->family == PM_AF_INET && a->syn_ip_id && a->syn_ip_id == c->syn_ip_id &&
           a->syn_optsig == c->syn_optsig && a->syn_mss == c->syn_mss;
}

static void link_vantages(struct pm_tracker *t, struct pm_flow *a)
{
    pm_addr srv;
    pm_flow_srv(a, &srv);
    struct pm_flow *cand[PM_TRACK_LINK_SCAN];
    int n = pm_flowtab_by_dst(t->flows, &srv, a->dport, cand, PM_TRACK_LINK_SCAN);
    for (int i = 0; i < n; i++) {
        struct pm_flow *c = cand[i];
        if (c == a || c->vantage == a->vantage) {
            continue;
        }
        struct pm_flow_ext *cx = pm_flowtab_ext_peek(t->flows, c);
        if ((cx && cx->peer.id) || !same_syn(a, c)) {
            continue;
        }
        struct pm_flow_ext *ax = X(t, a);
        cx = X(t, c);
        ax->peer.id = c->id;
        ax->peer.vantage = c->vantage;
        ax->peer.sport = c->sport;
        pm_flow_cli(c, &ax->peer.cli);
        cx->peer.id = a->id;
        cx->peer.vantage = a->vantage;
        cx->peer.sport = a->sport;
        pm_flow_cli(a, &cx->peer.cli);
        t->n.vantage_links++;
        return;
    }
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
    struct pm_flow *a = pm_flowtab_find(t->flows, &k);
    if (a && a->isn == p->seq && p->ts == a->last_syn && p->ip_id == a->syn_ip_id &&
        p->ttl == a->syn_ttl) {
        /* The same record again (NFLOG logs a packet at several netfilter hooks; merged
         * captures of one interface): not a retransmission. */
        t->n.duplicates++;
        return;
    }
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
        } else if (a->answer == PM_ANS_RST || a->answer == PM_ANS_ICMP) {
            /* The client retries after an answer (Windows after an ICMP error, 3 s then
             * 6 s later): the same attempt, kept for the rest of the retry span. */
            a->flags |= PM_AF_RETRY_ANSWERED;
            pm_flowtab_touch(t->flows, a, PM_FC_ANSWERED);
        }
        return;
    }
    bool fresh = false;
    if (a && (a->flags & PM_AF_SYN_NOT_CAPTURED) && a->isn == p->seq) {
        /* The SYN of an attempt we reconstructed from its answer arrived late (files
         * merged out of order): fill in what the SYN says. */
        a->flags &= ~(uint32_t)PM_AF_SYN_NOT_CAPTURED;
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
        fresh = true;
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
    if (fresh && t->cfg.nvantage > 1) {
        link_vantages(t, a);
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

static void start_session(struct pm_tracker *t, struct pm_flow *a, struct pm_flow_ext *x,
                          uint32_t srv_isn)
{
    if (x->session) {
        return;
    }
    x->session = pm_session_alloc(t->sessions);
    if (!x->session) {
        a->flags |= PM_AF_SMTP_DROPPED;
        t->n.sessions_dropped++;
        pm_table_lost(PM_TAB_SESSIONS, 1, pm_session_mem_full(t->sessions));
        return;
    }
    struct pm_session *s = pm_session_get(t->sessions, x->session);
    struct pm_seqstate *ss = pm_session_srvseq(s), *cs = pm_session_cliseq(s);
    ss->next = srv_isn + 1;
    ss->known = 1;
    cs->next = a->isn + 1;
    cs->known = !(a->flags & PM_AF_SYN_NOT_CAPTURED);
}

static void on_synack(struct pm_tracker *t, struct pm_flow *a, const struct pm_pkt *p,
                      uint16_t file)
{
    struct pm_flow_ext *x = X(t, a);
    x->n_synack++;
    a->last_seen = p->ts;
    hist(a, 'h');
    if (a->answer == PM_ANS_NONE) {
        a->answer = PM_ANS_SYNACK;
        fill_answer_ip(&x->ans, p, file);
        x->ans.win = p->win;
        x->ans.mss = p->opts.mss;
        x->ans.ack_ok = (p->flags & PM_TH_ACK) && p->ack == a->isn + 1;
        if (!x->ans.ack_ok && !(a->flags & PM_AF_SYN_NOT_CAPTURED)) {
            a->flags |= PM_AF_BAD_SYNACK; /* Zeek's bad_SYN_ack: acks outside our SYN */
        }
        start_session(t, a, x, p->seq);
        pm_flowtab_touch(t->flows, a, PM_FC_EST);
    } else if ((a->answer == PM_ANS_RST || a->answer == PM_ANS_ICMP) &&
               a->syns > x->syns_at_answer && !x->established) {
        /* The client retried the SYN after the first answer, and the retry was accepted:
         * the earlier refusal was of its time (a router's transient error, a listener that
         * came back), not a race for the same SYN. What decides is the handshake. */
        a->flags |= PM_AF_RETRY_ANSWERED;
        a->answer = PM_ANS_SYNACK;
        fill_answer_ip(&x->ans, p, file);
        x->ans.win = p->win;
        x->ans.mss = p->opts.mss;
        x->ans.ack_ok = (p->flags & PM_TH_ACK) && p->ack == a->isn + 1;
        x->ans.icmp_type = x->ans.icmp_code = 0;
        memset(&x->ans.from, 0, sizeof(x->ans.from));
        start_session(t, a, x, p->seq);
        pm_flowtab_touch(t->flows, a, PM_FC_EST);
    } else if (a->answer == PM_ANS_RST || a->answer == PM_ANS_ICMP) {
        /* A SYN-ACK after a RST/ICMP for the same SYN: the earlier answer raced the real
         * server. A real stack does not accept and refuse the same SYN: the first answer
         * was forged on the path (Weaver et al., NDSS 2009). */
        a->flags |= PM_AF_ANSWER_RACE;
    }
}

/* Feed in-order payload of one direction to the SMTP parser, handling retransmissions
 * (seq below next: skip the old bytes), gaps and snaplen cuts (stop parsing). */
static void feed_payload(struct pm_tracker *t, struct pm_flow *a, struct pm_flow_ext *x,
                         const struct pm_pkt *p, bool from_server)
{
    struct pm_session *s = pm_session_get(t->sessions, x->session);
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
    uint32_t skip = st->next - p->seq; /* = -ahead, without overflow at INT32_MIN */
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
        size_t have = pm_cur_left_cap(&c);
        if (have == 0) {
            break;
        }
        size_t n = PM_MIN(PM_MIN((size_t)(want - done), sizeof(chunk)), have);
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

static void set_close(struct pm_flow_ext *x, uint8_t how, const struct pm_pkt *p, uint16_t file)
{
    if (x->close == PM_CLOSE_NONE) {
        x->close = how;
        x->close_ts = p->ts;
        x->close_ref = ref_of(p, file);
    }
}

static void on_server_segment(struct pm_tracker *t, struct pm_flow *a, const struct pm_pkt *p,
                              uint16_t file)
{
    struct pm_flow_ext *x = X(t, a);
    a->last_seen = p->ts;
    uint8_t f = p->flags;
    if (p->payload_wire > 0) {
        x->srv_bytes += p->payload_wire;
        hist(a, 'd');
        if (x->session) {
            feed_payload(t, a, x, p, true);
        } else {
            a->flags |= PM_AF_SRV_DATA_UNREAD;
        }
    } else if ((f & PM_TH_ACK) && !(f & (PM_TH_FIN | PM_TH_RST))) {
        hist(a, 'a');
    }
    if (f & PM_TH_RST) {
        hist(a, 'r');
        x->n_rst++;
        if (a->flags & PM_AF_MIDSTREAM) {
            /* A reset of a connection whose start we never saw: a close, not a refusal. */
            set_close(x, PM_CLOSE_SRV_RST, p, file);
            pm_flowtab_touch(t->flows, a, PM_FC_DONE);
        } else if (a->answer == PM_ANS_NONE) {
            a->answer = PM_ANS_RST;
            fill_answer_ip(&x->ans, p, file);
            x->ans.win = p->win;
            x->ans.ack_ok = (f & PM_TH_ACK) && p->ack == a->isn + 1;
            x->ans.payload = (uint16_t)PM_MIN(p->payload_wire, 65535u);
            x->syns_at_answer = a->syns;
            pm_flowtab_touch(t->flows, a, PM_FC_ANSWERED);
        } else if (a->answer == PM_ANS_ICMP) {
            if (a->syns == x->syns_at_answer) {
                a->flags |= PM_AF_ANSWER_RACE; /* two answers to the same SYN */
            }
        } else if (a->answer == PM_ANS_SYNACK) {
            set_close(x, PM_CLOSE_SRV_RST, p, file);
            pm_flowtab_touch(t->flows, a, PM_FC_DONE);
        }
        return;
    }
    if (f & PM_TH_FIN) {
        hist(a, 'f');
        set_close(x, PM_CLOSE_SRV_FIN, p, file);
        pm_flowtab_touch(t->flows, a, strchr(a->history, 'F') ? PM_FC_DONE : PM_FC_EST);
    }
}

static void on_client_segment(struct pm_tracker *t, struct pm_flow *a, const struct pm_pkt *p,
                              uint16_t file)
{
    struct pm_flow_ext *x = X(t, a);
    a->last_seen = p->ts;
    uint8_t f = p->flags;
    if ((f & PM_TH_ACK) && !x->established && !(f & PM_TH_RST)) {
        if (a->answer == PM_ANS_SYNACK) {
            x->established = 1;
        } else if (a->answer == PM_ANS_NONE && p->ack != 0) {
            /* The client acknowledges a SYN-ACK the capture never saw: the capture misses
             * the server's direction (asymmetric routing, one-way tap), not a silent drop. */
            a->flags |= PM_AF_ONE_SIDED;
            x->established = 1;
            t->vs[p->vantage].one_sided_evidence++;
            start_session(t, a, x, p->ack - 1);
            pm_flowtab_touch(t->flows, a, PM_FC_EST);
        }
    }
    if (p->payload_wire > 0) {
        x->cli_bytes += p->payload_wire;
        hist(a, 'D');
        if (x->session) {
            feed_payload(t, a, x, p, false);
        }
    } else if ((f & PM_TH_ACK) && !(f & (PM_TH_FIN | PM_TH_RST))) {
        hist(a, 'A');
    }
    bool midstream = (a->flags & PM_AF_MIDSTREAM) != 0;
    if (f & PM_TH_RST) {
        hist(a, 'R');
        if (a->answer == PM_ANS_NONE && !midstream) {
            a->flags |= PM_AF_CLIENT_GAVE_UP;
        } else if (a->answer == PM_ANS_SYNACK && !x->established) {
            /* Our own stack reset a SYN-ACK: it never sent that SYN (a raw probe), or the
             * connect was abandoned (MTA timer). */
            a->flags |= PM_AF_SELF_RST;
        }
        set_close(x, PM_CLOSE_CLI_RST, p, file);
        pm_flowtab_touch(t->flows, a, PM_FC_DONE);
        return;
    }
    if (f & PM_TH_FIN) {
        hist(a, 'F');
        if (a->answer == PM_ANS_NONE && !midstream) {
            a->flags |= PM_AF_CLIENT_GAVE_UP;
        }
        set_close(x, PM_CLOSE_CLI_FIN, p, file);
        bool talking = a->answer == PM_ANS_SYNACK || midstream;
        pm_flowtab_touch(t->flows, a,
                         strchr(a->history, 'f') || !talking ? PM_FC_DONE : PM_FC_EST);
    }
}

/* A segment of a watched-port connection whose SYN this capture does not hold: it started
 * before the capture did. Picked up as Zeek keeps a partial connection: the watched port is
 * the server's, the start is marked unseen (syn-not-captured; with no SYN-ACK either, the
 * handshake too: midstream, Zeek's OTH), and a first packet from the server is Zeek's
 * flipped direction ('^' in the history). The SMTP parser starts where the capture does:
 * the first reply is not taken for the greeting unless the SYN-ACK fixed where the
 * server's stream begins. */
static void on_late_join(struct pm_tracker *t, const struct pm_pkt *p, uint16_t file,
                         bool from_server)
{
    struct pm_flowkey k;
    if (from_server) {
        pm_flowkey_make(&k, p->vantage, &p->dst, &p->src, p->dport, p->sport);
    } else {
        pm_flowkey_make(&k, p->vantage, &p->src, &p->dst, p->sport, p->dport);
    }
    struct pm_flow *a = new_attempt(t, &k);
    if (!a) {
        return;
    }
    t->n.late_joined++;
    t->vs[p->vantage].late_joined++;
    a->flags |= PM_AF_SYN_NOT_CAPTURED;
    a->first_syn = a->last_syn = a->last_seen = p->ts;
    a->syn_ref = ref_of(p, file);
    if (p->status == PM_PKT_TRUNC) {
        a->flags |= PM_AF_TRUNCATED;
    }
    if (from_server) {
        hist(a, '^');
        t->vs[p->vantage].from_servers++;
    }
    uint8_t f = p->flags;
    if (from_server && (f & PM_TH_SYN) && (f & PM_TH_ACK)) {
        /* After the SYN, before or with the SYN-ACK: the server's stream starts here. */
        a->isn = p->ack - 1;
        on_synack(t, a, p, file);
        return;
    }
    a->flags |= PM_AF_MIDSTREAM;
    a->isn = from_server ? p->ack - 1 : p->seq - 1; /* a guess, only for a later SYN */
    struct pm_flow_ext *x = X(t, a);
    x->established = 1; /* segments other than SYNs flow: the handshake was before us */
    start_session(t, a, x, 0);
    struct pm_session *s = x->session ? pm_session_get(t->sessions, x->session) : NULL;
    if (s) {
        pm_session_srvseq(s)->known = 0; /* both streams start at their first byte seen */
        pm_session_cliseq(s)->known = 0;
        pm_smtp_joined_late(s);
    }
    pm_flowtab_touch(t->flows, a, PM_FC_EST);
    if (from_server) {
        on_server_segment(t, a, p, file);
    } else {
        on_client_segment(t, a, p, file);
    }
}

/* A RST with no attempt. Seen on loopback, it is the local stack answering for a SYN that
 * netfilter stopped (OUTPUT REJECT --reject-with tcp-reset): reconstruct the attempt. */
static void on_orphan_rst(struct pm_tracker *t, const struct pm_pkt *p, uint16_t file)
{
    if (!p->on_loopback || !(p->flags & PM_TH_ACK)) {
        t->n.orphan_rst++;
        on_late_join(t, p, file, true);
        return;
    }
    struct pm_flowkey k;
    pm_flowkey_make(&k, p->vantage, &p->dst, &p->src, p->dport, p->sport);
    struct pm_flow *a = new_attempt(t, &k);
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
        struct pm_flow *a = pm_flowtab_find(t->flows, &k);
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
        struct pm_flow *a = pm_flowtab_find(t->flows, &k);
        if (a) {
            if (p->status == PM_PKT_TRUNC) {
                a->flags |= PM_AF_TRUNCATED;
            }
            on_client_segment(t, a, p, file);
            return;
        }
    }
    if (f & PM_TH_SYN) {
        /* A SYN from a watched port, or a SYN-ACK to one: not the shape of a client. */
        if (from_watched && (f & PM_TH_ACK)) {
            t->n.synack_without_syn++;
            on_late_join(t, p, file, true);
        }
        return;
    }
    if (from_watched && (f & PM_TH_RST)) {
        on_orphan_rst(t, p, file);
    } else {
        /* Mid-dialogue: the capture began after this connection did. The watched port is
         * the server's; when both are watched, the destination is. */
        on_late_join(t, p, file, !to_watched);
    }
}

/* ---- ICMP ---- */

/* The quoted tuple names no attempt here. If the quote's source was rewritten on the way
 * (a NAT that does not translate ICMP payloads back), the SYN is still recognisable by
 * its destination, port and sequence number (tracebox's quote comparison). */
static struct pm_flow *find_by_quote_seq(struct pm_tracker *t, const struct pm_pkt *p)
{
    const struct pm_quote *q = &p->quote;
    if (!q->has_seq) {
        return NULL;
    }
    struct pm_flow *cand[PM_TRACK_LINK_SCAN];
    int n = pm_flowtab_by_dst(t->flows, &q->dst, q->dport, cand, PM_TRACK_LINK_SCAN);
    for (int i = 0; i < n; i++) {
        if (cand[i]->vantage == p->vantage && cand[i]->isn == q->seq &&
            cand[i]->answer == PM_ANS_NONE) {
            return cand[i];
        }
    }
    return NULL;
}

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
    struct pm_flow *a = pm_flowtab_find(t->flows, &k);
    bool rewritten = false;
    if (!a && !frag_needed) {
        a = find_by_quote_seq(t, p);
        rewritten = a != NULL;
    }
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
    }
    struct pm_flow_ext *x = X(t, a);
    a->last_seen = p->ts;
    if (frag_needed) {
        /* RFC 1191 / RFC 8201: path MTU discovery, never a rejection. */
        a->flags |= PM_AF_FRAG_NEEDED;
        t->n.frag_needed++;
        return;
    }
    if (a->answer == PM_ANS_SYNACK || x->established || (a->flags & PM_AF_MIDSTREAM)) {
        a->flags |= PM_AF_ICMP_ESTABLISHED;
        t->n.icmp_established++;
        return;
    }
    x->n_icmp++;
    if (a->answer != PM_ANS_NONE) {
        return; /* e.g. one ICMP per queued SYN after an ARP failure: counted */
    }
    a->answer = PM_ANS_ICMP;
    struct pm_answer_info *ai = &x->ans;
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
    if (rewritten) {
        ai->qsrc_differs = 1;
        ai->qsrc = q->src;
        ai->qsport = q->sport;
    }
    x->syns_at_answer = a->syns;
    pm_flowtab_touch(t->flows, a, PM_FC_ANSWERED);
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

static void packet_in(struct pm_tracker *t, const struct pm_pkt *p, uint16_t file);

void pm_tracker_packet(struct pm_tracker *t, const struct pm_pkt *p, uint16_t file)
{
    packet_in(t, p, file);
    if (t->ev.synack && p->proto == 6 && p->tcp_flags_ok &&
        (p->flags & (PM_TH_SYN | PM_TH_ACK | PM_TH_RST)) == (PM_TH_SYN | PM_TH_ACK) &&
        pm_tracker_port_watched(t, p->sport)) {
        /* A SYN-ACK from a watched port: the attempt it answers, if still open, as it is
         * now (the SYN-ACK was checked, ack = ISN+1, when it was taken as the answer). */
        struct pm_flowkey k;
        pm_flowkey_make(&k, p->vantage, &p->dst, &p->src, p->dport, p->sport);
        struct pm_flow *f = pm_flowtab_find(t->flows, &k);
        if (f) {
            struct pm_attempt open;
            assemble(t, f, &open);
            t->ev.synack(t->ev.ctx, &open);
        }
    }
}

void pm_tracker_set_events(struct pm_tracker *t, const struct pm_track_events *ev)
{
    t->ev = *ev;
}

static void packet_in(struct pm_tracker *t, const struct pm_pkt *p, uint16_t file)
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
        if (p->status == PM_PKT_TRUNC) {
            note_unreadable(t, p); /* an IP header cut short: it could have been a reply */
        }
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
        struct pm_flow *a = pm_flowtab_find(t->flows, &k);
        if (a) {
            a->flags |= PM_AF_UNREADABLE_ANSWER | PM_AF_TRUNCATED;
        }
        t->vs[p->vantage].cut_replies++;
    } else if (p->proto == 6 && p->tcp_ports_ok && p->status == PM_PKT_BAD) {
        /* A malformed TCP header (bad data offset) on a watched flow: note it there. */
        struct pm_flowkey k;
        pm_flowkey_make(&k, p->vantage, &p->src, &p->dst, p->sport, p->dport);
        struct pm_flow *a = pm_flowtab_find(t->flows, &k);
        if (!a) {
            pm_flowkey_make(&k, p->vantage, &p->dst, &p->src, p->dport, p->sport);
            a = pm_flowtab_find(t->flows, &k);
        }
        if (a) {
            a->flags |= PM_AF_MALFORMED;
        }
    } else if ((p->proto == 1 || p->proto == 58) && p->icmp_is_error) {
        on_icmp(t, p, file);
    } else if ((p->proto == 1 || p->proto == 58) && p->status == PM_PKT_TRUNC) {
        /* An ICMP header cut before its type: it could have been an error for us. */
        note_unreadable(t, p);
    }
}

void pm_tracker_flush(struct pm_tracker *t)
{
    /* Oldest first per class, so the output order does not depend on slot reuse. */
    for (int c = 0; c < PM_FC__COUNT; c++) {
        struct pm_flow *a;
        while ((a = pm_flowtab_oldest(t->flows, (enum pm_flow_class)c)) != NULL) {
            finalize(t, a, PM_AF_CAPTURE_ENDED);
        }
    }
    t->n.flows_peak = pm_flowtab_peak(t->flows);
    t->n.sessions_peak = pm_session_peak(t->sessions);
}
