/*
 * track.h — the per-packet state machine: decoded packets in, finished attempts out.
 * Creates an attempt per SYN to a watched port, folds retransmissions, joins SYN-ACKs,
 * RSTs and ICMP errors (through the header they quote), follows the SMTP dialogue after
 * the handshake, and finalises attempts on answer+linger, idle timeout, eviction or the
 * end of the capture. No allocation per packet: the flow table and session pool are
 * sized at start-up.
 */
#ifndef PM_TRACK_H
#define PM_TRACK_H

#include "attempt.h"
#include "decode.h"
#include "smtp.h"


struct pm_track_config {
    uint16_t ports[PM_MAX_PORTS];
    int nports;
    uint32_t max_flows;
    uint32_t max_sessions;
    uint64_t seed;
    int nvantage;
};

struct pm_vantage_state {
    pm_ns first_ts, last_ts;   /* first and last record seen at this vantage */
    uint64_t records;
    uint64_t syns_out;         /* SYNs to watched ports */
    uint64_t from_servers;     /* packets from watched ports (any answer at all) */
    uint64_t one_sided_evidence; /* client ACKs for SYN-ACKs this capture never saw */
    pm_addr local[PM_MAX_LOCAL_ADDRS]; /* SYN source addresses: the sending host(s) */
    pm_ns unreadable[8];       /* times of recent answers too cut to link to an attempt */
    uint8_t nunreadable;
    uint64_t cut_replies;      /* replies the snaplen cut before their flags or quote */
    uint8_t nlocal;
    uint8_t local_overflow;
    uint64_t late_joined;      /* attempts whose start (SYN) this capture does not hold */
};

struct pm_track_counters {
    uint64_t records;          /* records handed to the tracker */
    uint64_t decoded;          /* decoded IP packets */
    uint64_t truncated;        /* cut by the snaplen */
    uint64_t malformed;
    uint64_t unsupported_link;
    uint64_t not_ip;           /* link layer fine, not IPv4/IPv6 */
    uint64_t fragments;
    uint64_t attempts;
    uint64_t syn_retransmissions;
    uint64_t isn_reuse;        /* new ISN on a live 4-tuple: a new attempt */
    uint64_t evictions;        /* attempts finalised early because the table was full */
    uint64_t synack_without_syn;
    uint64_t orphan_rst;       /* RST for no attempt we know */
    uint64_t orphan_icmp;      /* ICMP error quoting a flow we never saw open */
    uint64_t icmp_established; /* ICMP errors for established flows (not rejections) */
    uint64_t frag_needed;
    uint64_t syn_not_captured; /* attempts reconstructed from a RST/ICMP */
    uint64_t late_joined;      /* attempts picked up after their SYN (SYN-ACK or mid-dialogue) */
    uint64_t answered_closed_early; /* answered attempts closed before their retry span ended
                                     * to make room (a later retry would be a new attempt) */
    uint64_t sessions_dropped; /* no session slot: SMTP text not recorded */
    uint64_t time_backwards;   /* records older than the newest seen */
    uint64_t unreadable_answers; /* replies cut before the fields that link them */
    uint64_t vantage_links;    /* SYNs matched across vantage points (NAT inside/outside) */
    uint64_t duplicates;       /* the same SYN record twice (NFLOG hooks, merged copies) */
    uint32_t flows_peak;
    uint32_t flows_capacity;
    uint32_t sessions_peak;
};

typedef void (*pm_attempt_done_fn)(void *ctx, const struct pm_attempt *a,
                                   const struct pm_smtp_summary *smtp);

struct pm_tracker;

struct pm_tracker *pm_tracker_new(const struct pm_track_config *cfg, pm_attempt_done_fn done,
                                  void *ctx);
void pm_tracker_free(struct pm_tracker *t);
/* One decoded packet; `file` is the input index for evidence references. */
void pm_tracker_packet(struct pm_tracker *t, const struct pm_pkt *p, uint16_t file);
/* Advance capture time without a packet (live mode: timeouts fire while idle). */
void pm_tracker_tick(struct pm_tracker *t, pm_ns now);
/* End of input: finalise everything still open (marked capture-ended). */
void pm_tracker_flush(struct pm_tracker *t);
const struct pm_track_counters *pm_tracker_counters(const struct pm_tracker *t);
const struct pm_vantage_state *pm_tracker_vantage(const struct pm_tracker *t, int v);
bool pm_tracker_port_watched(const struct pm_tracker *t, uint16_t port);
bool pm_vantage_is_local(const struct pm_vantage_state *vs, const pm_addr *a);
/* What the tracker learns besides finished attempts, told as it happens, so that its owner
 * never reaches back into the flow table. Each is optional (NULL: not told, and nothing is
 * assembled for it). The attempts passed are valid during the call only.
 *  - synack: right after a SYN-ACK from a watched port (no RST bit), the open attempt it
 *    belongs to, as it is now (live: its hop count is a reference for the attempts decided
 *    while this one is still open).
 *  - far_open: just before `done` reports an attempt linked to a far view (a->peer, the
 *    same SYN at another vantage) that is still open: the far view's state now. */
struct pm_track_events {
    void *ctx;
    void (*synack)(void *ctx, const struct pm_attempt *open);
    void (*far_open)(void *ctx, const struct pm_attempt *far);
};
void pm_tracker_set_events(struct pm_tracker *t, const struct pm_track_events *ev);

/* Timeouts per class (capture time): idle SYN-sent, linger after an answer or a close,
 * idle established (just past Postfix's smtp_helo_timeout of 300 s). */
#define PM_TMO_SYN PM_SEC(75)
#define PM_TMO_DONE PM_SEC(5)
#define PM_TMO_EST PM_SEC(310)
/* An attempt answered by a RST or an ICMP error stays open for the client's whole SYN retry
 * span, as an unanswered one does: Windows retries after an ICMP error (3 s, then 6 s
 * later), Linux backs off to 32 s gaps and more; a retransmission with the same ISN is the
 * same attempt, whatever answered the SYNs before it. */
#define PM_TMO_RETRY PM_TMO_SYN

#endif
