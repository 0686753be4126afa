/*
 * flow.h — the fixed-capacity table of open attempts. Sized once at start-up; no
 * allocation per packet. A live attempt is a compact hot record (struct pm_flow: all a
 * half-open SYN needs) plus, from its first answer on, an extension record from a second
 * pool (struct pm_flow_ext). Both pools hand out slots from a bump pointer and then a LIFO
 * free list, so memory that was never needed is never touched: RSS follows peak
 * concurrency, not file size. Each live flow sits on one LRU list per timeout class (O(1)
 * expiry and eviction) and on two hash chains: its exact key, and (destination, port) for
 * matching across vantage points and ICMP quotes rewritten by a NAT.
 */
#ifndef PM_FLOW_H
#define PM_FLOW_H

#include "attempt.h"

/* Timeout classes: how long an attempt may stay idle before it is finalised. */
enum pm_flow_class {
    PM_FC_SYN,      /* SYN sent, no answer yet */
    PM_FC_ANSWERED, /* answered by RST/ICMP before any handshake: kept for the client's SYN
                     * retry span, so that a retransmission (same ISN) still folds in */
    PM_FC_DONE,     /* closed (or given up): linger for duplicates */
    PM_FC_EST,      /* established, SMTP in progress */
    PM_FC__COUNT
};

struct pm_flowkey {
    uint16_t vantage;
    uint8_t family;
    uint8_t pad;
    uint16_t sport, dport;
    uint8_t cli[16], srv[16];
};

/* The hot part of an open attempt. Field meanings as in struct pm_attempt. The key fields
 * (vantage, family, cli, srv, sport, dport) never change while the flow is in the table. */
struct pm_flow {
    uint32_t id;
    uint16_t vantage;
    uint8_t family;
    uint8_t answer;
    uint8_t cli[16], srv[16];
    uint16_t sport, dport;
    uint32_t isn;
    pm_ns first_syn, last_syn, last_seen;
    struct pm_pktref syn_ref;
    uint16_t syns;
    uint8_t syn_ttl, syn_tos;
    uint16_t syn_ip_id, syn_mss;
    uint32_t syn_tsval;
    uint8_t syn_ws, syn_optsig;
    uint32_t flags;
    uint32_t ext;          /* 1-based extension handle, 0 none yet */
    char history[14];
};

/* Everything from the first answer on. */
struct pm_flow_ext {
    struct pm_answer_info ans;
    uint16_t n_synack, n_rst, n_icmp;
    uint16_t syns_at_answer; /* SYNs sent when the first answer came (later ones are retries) */
    uint8_t established, close;
    pm_ns close_ts;
    struct pm_pktref close_ref;
    uint32_t cli_bytes, srv_bytes;
    uint32_t session;
    struct pm_peer peer;
    uint32_t next_free;
};

struct pm_flowtab;

struct pm_flowtab *pm_flowtab_new(uint32_t capacity, uint64_t seed);
void pm_flowtab_free(struct pm_flowtab *t);
void pm_flowkey_make(struct pm_flowkey *k, uint16_t vantage, const pm_addr *cli,
                     const pm_addr *srv, uint16_t sport, uint16_t dport);
struct pm_flow *pm_flowtab_find(struct pm_flowtab *t, const struct pm_flowkey *k);
/* A zeroed flow for key k on class `cls`, or NULL when the table is full. */
struct pm_flow *pm_flowtab_insert(struct pm_flowtab *t, const struct pm_flowkey *k,
                                  enum pm_flow_class cls);
void pm_flowtab_remove(struct pm_flowtab *t, struct pm_flow *f);
/* Move to the tail of class `cls` (most recently active). */
void pm_flowtab_touch(struct pm_flowtab *t, struct pm_flow *f, enum pm_flow_class cls);
/* Least recently active flow of a class, or NULL. */
struct pm_flow *pm_flowtab_oldest(struct pm_flowtab *t, enum pm_flow_class cls);
uint32_t pm_flowtab_count(const struct pm_flowtab *t);
uint32_t pm_flowtab_capacity(const struct pm_flowtab *t);
uint32_t pm_flowtab_peak(const struct pm_flowtab *t);
/* The last failed insert failed on the memory budget (--max-memory), not the capacity. */
bool pm_flowtab_mem_full(const struct pm_flowtab *t);
/* The extension of f, allocated on first use; NULL only when that pool is exhausted
 * (it has the table's capacity, so never while the table itself has room). */
struct pm_flow_ext *pm_flowtab_ext(struct pm_flowtab *t, struct pm_flow *f);
/* The extension if it exists (no allocation). */
struct pm_flow_ext *pm_flowtab_ext_peek(struct pm_flowtab *t, const struct pm_flow *f);
/* Flows to (srv, dport) at any vantage, most recent first, at most `max`; returns count. */
int pm_flowtab_by_dst(struct pm_flowtab *t, const pm_addr *srv, uint16_t dport,
                      struct pm_flow **out, int max);
/* Address of a flow's key field as a pm_addr. */
void pm_flow_cli(const struct pm_flow *f, pm_addr *a);
void pm_flow_srv(const struct pm_flow *f, pm_addr *a);

#endif
