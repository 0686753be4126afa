/*
 * nat.h — several vantage points (inside and outside a NAT, or two taps on a path): which
 * attempt is the same SYN seen twice (linked by the tracker), which vantage is closer to
 * the sender, the translation and any other rewrite between them, and the NAT facts the
 * attribution needs: dropped in the NAT, left from an unexpected public address, the
 * answer dropped on the way back.
 */
#ifndef PM_NAT_H
#define PM_NAT_H

#include "attempt.h"

#define PM_NAT_REWRITES 6

/* What the other vantage saw of a linked attempt. */
struct pm_link_info {
    uint32_t id;
    uint32_t peer_id;
    uint16_t vantage;
    uint8_t answer;          /* enum pm_answer there */
    uint8_t syn_ttl, syn_tos, syn_ws, syn_optsig;
    uint16_t sport, syn_mss;
    uint32_t isn;
    pm_addr cli;
    pm_ns first_syn, ans_ts;
    uint8_t ans_ttl;         /* the answer's TTL there (a RST seen at both: where it came from) */
};

struct pm_nat_facts {
    bool multi;                 /* more than one vantage in the run */
    bool outer_view;            /* this attempt is the far view of a linked pair: merged */
    const struct pm_link_info *peer; /* the far view, when linked */
    bool nat_drop;              /* seen here, never at a later vantage that was recording */
    bool nat_drop_confirmed;    /* ... and other SYNs did cross between the vantages */
    bool nat_drop_assumed;      /* ... the later capture's last record is older than the SYNs:
                                 * assumed to have run on (captures stopped together) */
    int later_vantage;          /* the vantage that should have seen it, -1 */
    bool unexpected_source;     /* left with a source not in --expect-source */
    bool expect_known;          /* --expect-source was given */
    bool public_changed;        /* the public address differs from an earlier attempt's */
    pm_addr prev_public;
    bool return_drop;           /* the far view got an answer, this one did not */
    int nrewrites;
    char rewrites[PM_NAT_REWRITES][120];
};

struct pm_nat;

struct pm_nat *pm_nat_new(int nvantage, const pm_addr *expect, int nexpect);
void pm_nat_free(struct pm_nat *n);
/* Pass A: remember linked attempts. */
void pm_nat_learn(struct pm_nat *n, const struct pm_attempt *a);
/* After pass A: order the vantages (closest to the sender first) from the linked pairs:
 * the TTL is higher closer to the sender; at equal TTL the earlier sighting wins. Without
 * links, the order the inputs were given in. `window` gives each vantage's recording span. */
void pm_nat_settle(struct pm_nat *n, const pm_ns *win_start, const pm_ns *win_end);
int pm_nat_rank(const struct pm_nat *n, int vantage);
/* Pass B: the facts for one attempt. */
void pm_nat_facts(struct pm_nat *n, const struct pm_attempt *a, bool answered,
                  struct pm_nat_facts *out);
/* Live: add a link seen now (the far view may still be open). */
void pm_nat_learn_snapshot(struct pm_nat *n, const struct pm_attempt *far);
/* The far view of this linked attempt was not kept (the link table was full). */
bool pm_nat_view_lost(const struct pm_nat *n, const struct pm_attempt *a);
uint32_t pm_nat_links(const struct pm_nat *n);
/* Public addresses seen at later vantages (for the summary). */
int pm_nat_public_addresses(const struct pm_nat *n, const pm_addr **out);

#endif
