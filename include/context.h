/*
 * context.h — what the verdicts need to know beyond one attempt, gathered in a first pass
 * over the finished attempts: the hop distance of each server (from its SYN-ACKs and
 * greetings, or its own ICMP), per prefix as a fallback, and per destination the outcome
 * counts by port (for scope and provider-block). Bounded tables; overflow is counted.
 */
#ifndef PM_CONTEXT_H
#define PM_CONTEXT_H

#include "attempt.h"
#include "smtp.h"

/* Where an expected hop count came from, best first (issue 5's order). */
enum pm_hopsrc {
    PM_HOP_NONE,
    PM_HOP_SAME_ATTEMPT, /* this attempt's own SYN-ACK (only for post-handshake RSTs) */
    PM_HOP_SAME_HOST,    /* SYN-ACKs/greetings from the same host in this capture */
    PM_HOP_ICMP_DST,     /* the destination's own ICMP error */
    PM_HOP_TTL_WALK,     /* a probe's TTL walk */
    PM_HOP_PREFIX,       /* other hosts in the same /24 (IPv4) or /48 (IPv6) */
    PM_HOP_ROUTE,        /* live: the host's own route (on-link = 0 routers) */
};
const char *pm_hopsrc_name(enum pm_hopsrc s);

/* What kind of packet gave a reference: said in the evidence ("SYN-ACK from port 587"). */
enum pm_hopkind {
    PM_HK_NONE,
    PM_HK_SYNACK,     /* a SYN-ACK (an attempt's, or one on any other port) */
    PM_HK_TCP,        /* any other TCP segment without RST (data, ACK, FIN) */
    PM_HK_DNS,        /* UDP from port 53 */
    PM_HK_UDP,        /* other UDP */
    PM_HK_ICMP_ERROR, /* an ICMP/ICMPv6 error the host itself sent */
    PM_HK_ICMP_ECHO,  /* an echo request or reply */
    PM_HK_ICMP,       /* other ICMP/ICMPv6 (ND, router advertisements, ...) */
    PM_HK_OTHER,      /* any other protocol (GRE, ESP, SCTP, a later fragment) */
};
const char *pm_hopkind_name(enum pm_hopkind k);

struct pm_hopref {
    int hops;              /* routers between the vantage and the host; -1 unknown: the
                            * smallest count from the best source */
    int hops_hi;           /* the largest count any reference of that level gave: hops <
                            * hops_hi means the references disagree (ECMP, a route change,
                            * a neighbour behind one more router) */
    enum pm_hopsrc src;
    uint8_t ttl;           /* an observed TTL that gave it */
    uint8_t kind;          /* enum pm_hopkind of the packet that gave it */
    uint16_t port;         /* its source port (TCP/UDP), 0 otherwise */
    pm_addr from;          /* its source (for a prefix reference: which neighbour) */
    struct pm_pktref ref;  /* the packet that gave it */
    uint32_t samples;
    pm_ns rtt_min;         /* SYN → SYN-ACK, PM_NS_NONE unknown */
};

#define PM_DEST_IDS 32
#define PM_DEST_SAMPLES 8
#define PM_DEST_PORTS 4

struct pm_dest_sample {
    uint32_t id;
    pm_ns ts;
    uint16_t dport;
    uint8_t outcome, verdict;
    char clue[120];
    pm_addr src;
    uint16_t sport;
};

/* One port's attempts in time, for the destination's latest state (analyze/scope.c): the
 * latest failed and connected attempt, and the earliest connected attempts after that failure
 * (kept in order whatever order the attempts end in; a long failure may end after a later
 * success). The times are first-SYN times (log time when not on the wire). */
#define PM_PORT_OKS 2
struct pm_port_hist {
    uint32_t nfail, nok;          /* failed / connected attempts (the times below need one) */
    uint32_t nundecided;          /* incomplete attempts: decide nothing, but the port was tried */
    pm_ns last_fail, last_ok;
    pm_ns ok_after[PM_PORT_OKS];  /* connected after last_fail, earliest first */
    uint8_t nok_after;
    uint8_t later_lost;           /* connected attempts after last_fail left out of ok_after
                                   * (always later than those kept) */
    uint8_t inexact;              /* ok_after[0] may not be the earliest (scope.c says when) */
};

struct pm_dest {
    pm_addr addr;
    char name[96];                 /* MX / host name from a log line, when known */
    uint32_t attempts;
    uint32_t evidence;             /* probe: attempts to compared ports (listed, not counted) */
    uint32_t by_outcome[PM_OUT__COUNT];
    uint32_t by_verdict[PM_V__COUNT];
    uint8_t verdict_owner[PM_V__COUNT]; /* the owner the rules gave for that verdict here */
    uint32_t ok25, fail25;         /* port 25 connected / failed (first pass) */
    uint32_t ok_other, fail_other; /* other watched ports */
    uint16_t ports[PM_DEST_PORTS];
    uint8_t nports;
    uint32_t port_ok[PM_DEST_PORTS], port_fail[PM_DEST_PORTS]; /* verdict pass, per port */
    struct pm_port_hist hist[PM_DEST_PORTS + 1]; /* per port; the last: every port beyond */
    uint32_t ids[PM_DEST_IDS];
    uint8_t nids, ids_truncated;
    /* Allocated as they come, up to PM_DEST_SAMPLES: most destinations of a busy relay see
     * one or two attempts, and a fixed array made every destination 1.3 KB heavier. */
    struct pm_dest_sample *samples;
    uint8_t nsamples, samples_cap;
    uint32_t samples_dropped;
    /* Text report of a storm: each verdict's first and last attempt time here, allocated
     * (and charged) only when the samples cannot hold every attempt any more; seeded from
     * the samples then (engine.c). NULL: the samples are every attempt. */
    pm_ns (*vtimes)[2];
    pm_ns first_ts, last_ts;
    int drop_after_hop;            /* TTL walk: last hop that answered; 0 unknown */
    pm_addr drop_last;             /* ... and its address */
};

/* Scope across destinations (output contract, summary `scope`). */
enum pm_scope { PM_SCOPE_NONE, PM_SCOPE_ONE, PM_SCOPE_SOME, PM_SCOPE_ALL };
const char *pm_scope_name(enum pm_scope s);

struct pm_context;

struct pm_context *pm_context_new(int nvantage, uint32_t max_hosts, uint32_t max_dests);
void pm_context_free(struct pm_context *c);

/* First pass: learn from one finished attempt and its outcome. */
void pm_context_learn(struct pm_context *c, const struct pm_attempt *a, enum pm_outcome o);
/* Live: only the hop references of an attempt still open (its SYN-ACK as it arrives), so that
 * attempts decided before it ends are judged with them; pm_context_learn later learns the same
 * again, which changes nothing (the smallest count from the best source is kept). */
void pm_context_learn_hops(struct pm_context *c, const struct pm_attempt *a);
/* Any packet of the capture that came from `host` (on any port or protocol, whether or not
 * it belongs to an attempt): a hop reference for the host and its prefix. The hot path of
 * everything the attempt filter drops: two bounded-table lookups, no allocation once the
 * tables reached their size. The caller leaves out RSTs (forgeable) and loopback. */
void pm_context_learn_packet(struct pm_context *c, int vantage, const pm_addr *host,
                             uint8_t ttl, struct pm_pktref ref, enum pm_hopkind kind,
                             uint16_t port);
/* A hop reference from outside the capture (a probe's TTL walk, a live route). */
void pm_context_add_hopref(struct pm_context *c, int vantage, const pm_addr *host, int hops,
                           enum pm_hopsrc src);
/* Expected hops from `vantage` to `host`: the host itself, else its prefix. */
struct pm_hopref pm_context_hops(const struct pm_context *c, int vantage, const pm_addr *host);

/* Destinations. */
struct pm_dest *pm_context_dest(struct pm_context *c, const pm_addr *addr, bool create);
void pm_context_dest_name(struct pm_context *c, const pm_addr *addr, const char *name);
/* A TTL walk localised a silent drop towards addr. */
void pm_context_drop_hop(struct pm_context *c, const pm_addr *addr, int hop, const pm_addr *last);
/* Iterate destinations in a stable order (failures first, then by address). */
size_t pm_context_dests_sorted(struct pm_context *c, struct pm_dest ***out);
/* destinations_overflow: attempts whose destination found the table full, each counted
 * once, when it is reported (pm_context_dest itself does not count: it is asked more than
 * once per attempt). */
void pm_context_dest_overflowed(struct pm_context *c);
uint64_t pm_context_dests_overflow(const struct pm_context *c);
uint64_t pm_context_hosts_overflow(const struct pm_context *c);
/* The destination table stopped growing on the memory budget (not --max-dests). */
bool pm_context_dests_full_by_memory(const struct pm_context *c);
/* Entries held: destinations, and hop references (hosts + prefixes). */
void pm_context_sizes(const struct pm_context *c, uint64_t *dests, uint64_t *hoprefs);
/* Packets whose host or prefix found no room in the tables of other traffic. */
uint64_t pm_context_side_overflow(const struct pm_context *c);

/* One reported attempt (or not-on-wire line) counted at its destination dst:dport: its
 * outcome and verdict, time range, ports, ids, the log's host name, and (samples: the
 * text report's) a bounded sample list. `evidence`: a probe's compared port, counted apart
 * (not in the destination's state, the scope or the exit status). A full table counts the
 * loss (tables.h) and, for a failure, an unplaced failure for the exit status. */
struct pm_finding;
void pm_context_count(struct pm_context *c, const struct pm_finding *f, const pm_addr *dst,
                      uint16_t dport, pm_ns ts, const pm_addr *src, uint16_t sport,
                      bool evidence, bool samples);
uint64_t pm_context_unplaced_failures(const struct pm_context *c);

/* Scope facts from the first pass. */
struct pm_scope_facts {
    uint32_t dests;             /* destinations attempted on any watched port */
    uint32_t dests25;           /* destinations attempted on port 25 */
    uint32_t dests25_ok;        /* ... with at least one connected attempt */
    uint32_t dests25_fail_only; /* ... with failures and no success */
    uint32_t dests_other_ok;    /* destinations that connected on another watched port */
    uint32_t dests25_other_ok;  /* port-25 failing destinations that connected on another port */
};
struct pm_scope_facts pm_context_scope_facts(const struct pm_context *c);
/* True when port 25 fails everywhere while another port works: the provider-block pattern. */
bool pm_context_provider_pattern(const struct pm_context *c);

#endif
