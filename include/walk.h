/*
 * walk.h — the TTL walk's analysis (analyze/walk.c): what the answers to SYNs sent with
 * TTL 1, 2, ... say about where TCP 25 to one destination ends (reached, reset, rejected,
 * forged, dropped), and the conclusion rows that word it. Pure: no packets, sockets or
 * clocks; capture/probe.c sends the probes, matches the answers and fills struct pm_walk.
 */
#ifndef PM_WALK_H
#define PM_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode.h"
#include "pm.h"

/* PM_WALK_MAX_TTL (config.h) is the highest TTL a walk may use (--max-ttl). Not
 * PM_MAX_HOPS, the hop count above which an inferred distance is suspect: a walk may look
 * further than that. */

enum pm_walk_reply_kind { PM_WR_NONE, PM_WR_SYNACK, PM_WR_RST, PM_WR_ICMP };

/* The first answer to one probe (a test SYN or a walk SYN), as the probe's matcher saw it. */
struct pm_walk_reply {
    uint8_t kind;            /* enum pm_walk_reply_kind */
    uint8_t ttl;             /* outer TTL / hop limit as received */
    uint8_t icmp_type, icmp_code;
    uint8_t self_rst;        /* our kernel reset the SYN-ACK */
    uint8_t by_ipid;         /* matched through the IP ID: the quoted ISN was not ours */
    uint8_t partial;         /* the quote stopped before fields we compare */
    pm_addr from;
    pm_ns ts;
    uint16_t win;
    uint32_t diff;           /* quote-vs-sent differences (capture/probe_int.h PM_QD_*) */
    uint16_t extra;          /* further answers to the same probe */
    struct pm_quote q;
};

struct pm_walk_hop {
    int probes;              /* SYNs sent with this TTL */
    int sent_idx;            /* the caller's index of the answered (or last) probe */
    struct pm_walk_reply r;  /* the first answer; kind PM_WR_NONE when silent */
};

/* How the walk ended. The run sets SILENT (gap limit), CAP, STOPPED or ERROR, or leaves NONE
 * with end_ttl at the hop that ended it; pm_walk_analyse() decides the rest. */
enum pm_walk_end {
    PM_WE_NONE,
    PM_WE_REACHED,      /* the destination's SYN-ACK */
    PM_WE_RST,          /* a RST that crossed as many routers as the probe needed */
    PM_WE_RST_FORGED,   /* a RST that crossed fewer: made on the path */
    PM_WE_REJECTED,     /* a router's ICMP error other than time-exceeded */
    PM_WE_DEST_ICMP,    /* the destination's own ICMP error */
    PM_WE_SILENT,       /* --gap-limit silent hops in a row */
    PM_WE_MAXTTL,       /* no end within --max-ttl */
    PM_WE_CAP,          /* --max-probes reached */
    PM_WE_STOPPED,      /* interrupted */
    PM_WE_ERROR,        /* a probe could not be sent */
    PM_WE__COUNT
};

struct pm_walk {
    bool ran;
    pm_addr dst;             /* the destination walked to */
    int top;                 /* highest TTL probed */
    struct pm_walk_hop hop[PM_WALK_MAX_TTL + 1]; /* [ttl], 1-based */
    enum pm_walk_end end;
    int end_ttl;             /* the TTL whose answer ended the walk, 0 none */
    /* filled by pm_walk_analyse() */
    int last_hop;            /* last TTL answered with time-exceeded, 0 none */
    pm_addr last_addr;
    int reject_hop;
    pm_addr reject_addr;
    int dest_hops;           /* routers before the destination, -1 unknown */
    int forged_hop;
    pm_addr forged_addr;     /* family 0 when that hop did not answer time-exceeded */
    int forged_rst_hops;
    int diff_hop;            /* first hop whose quote differs from what was sent, 0 none */
    char diff_text[240];     /* the caller's description of that difference */
    char error[200];         /* why a probe could not be sent (PM_WE_ERROR) */
};

/* ICMP time-exceeded (IPv4 type 11, ICMPv6 type 3): a router on the way, not an end. */
bool pm_walk_time_exceeded(const struct pm_walk_reply *r, uint8_t family);
/* "syn-ack", "rst", "time-exceeded", an ICMP reason (pm_icmp_reason), or "none". */
const char *pm_walk_reply_word(const struct pm_walk_reply *r, uint8_t family);

/* Decide the end from the hops: a late answer that is not time-exceeded turns SILENT into an
 * end; NONE without an end TTL is MAXTTL; then the destination's distance, the last router,
 * the rejecting or forging hop, and the first hop whose quote differs. */
void pm_walk_analyse(struct pm_walk *w);

/* ---- the conclusion rows (first match wins; the last matches every walk) ---- */
struct pm_walk_row {
    const char *id;                /* unique, for the test that each row has one */
    enum pm_walk_end end;          /* the row applies to this end ... */
    int hop_known;                 /* ... and, when >= 0, to last_hop > 0 (1) or == 0 (0) */
    const char *name;              /* the walk object's "end" */
    bool host_up;                  /* the destination itself answered: it is up */
    bool located;                  /* the walk shows where TCP 25 fails */
    enum pm_verdict verdict;       /* what it shows, in the engine's words */
    enum pm_owner owner;           /* who can fix it */
    enum pm_confidence confidence;
    /* the conclusion and the next step, in words (next: "" when there is nothing to do) */
    void (*text)(const struct pm_walk *w, char *buf, size_t len);
    void (*next)(const struct pm_walk *w, char *buf, size_t len);
};
extern const struct pm_walk_row pm_walk_rows[];
extern const size_t pm_walk_nrows;

const struct pm_walk_row *pm_walk_conclude(const struct pm_walk *w);
const char *pm_walk_end_name(enum pm_walk_end e);
/* The conclusion in words ("rejected at hop 2 by 198.51.100.1 with ICMP ..."). */
void pm_walk_text(const struct pm_walk *w, char *buf, size_t len);
/* The next step once a walk ran (it replaces "run --ttl-walk"); "" when port 25 is open on
 * the path or the walk was interrupted. */
void pm_walk_next(const struct pm_walk *w, char *buf, size_t len);

#endif
