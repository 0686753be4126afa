/*
 * correlate.h — ties MTA log lines to the attempts they describe. A logged attempt matches
 * the SYN sequence to the same address and port inside a window set by the MTA's timers;
 * one line matches at most one attempt, in time order (MX/A bursts map one by one). The
 * clock offset between the log's host and the capture is estimated from pairs whose time
 * is sharp (a RST or ICMP answer and its "refused"/"no route" line) or given.
 */
#ifndef PM_CORRELATE_H
#define PM_CORRELATE_H

#include "attempt.h"
#include "mtalog.h"

struct pm_correlator;

struct pm_corr_stats {
    pm_ns offset;              /* log time - capture time, applied to log times */
    bool offset_given;
    uint32_t offset_samples;
    uint64_t matched;
    uint64_t absorbed;         /* duplicate lines folded into a matched one */
    uint64_t not_on_wire;      /* connect failures with no SYN inside the window */
    uint64_t unmatched_session;/* connected-kind lines with no packets (wrong interface?) */
    uint64_t outside_window;   /* lines whose SYNs may have left outside the capture
                                * window: never judged (outside-window) */
    pm_ns offset_uncertainty;  /* how far the applied offset may be off (0 when given) */
    pm_ns connect_timeout;     /* the MTA's connect timeout as given, PM_NS_NONE: default */
    uint64_t no_attempt;       /* lines that stand for no connection */
    uint64_t no_address;       /* lines without a destination address */
};

struct pm_correlator *pm_correlator_new(const struct pm_logset *logs, pm_ns given_offset);
void pm_correlator_free(struct pm_correlator *c);
/* The log set grew (live: lines appended, never reordered): index the new lines, keeping
 * which lines are already matched. O(1) amortised per new line, never a re-sort. */
void pm_correlator_refresh(struct pm_correlator *c);
/* Index work done since creation (positions placed plus positions stepped over to place a
 * line out of time order): lets a test prove refresh cost follows new lines, not the log. */
uint64_t pm_correlator_index_work(const struct pm_correlator *c);

/* First pass: offer an attempt as an offset sample. */
void pm_correlator_sample(struct pm_correlator *c, const struct pm_attempt *a);
/* Decide the offset from the samples (unless given). */
void pm_correlator_settle(struct pm_correlator *c);
/* Second pass: the log entry for this attempt (or NULL), consumed. Deterministic for the
 * same order of calls; pm_correlator_reset() starts over. */
const struct pm_logentry *pm_correlator_match(struct pm_correlator *c, const struct pm_attempt *a,
                                              enum pm_outcome o);
void pm_correlator_reset(struct pm_correlator *c);
/* After the second pass: unmatched connect failures whose SYN interval lies inside
 * [win_start, win_end] (capture times), one per call; NULL when done. Lines outside are
 * counted and listed (pm_correlator_outside). */
const struct pm_logentry *pm_correlator_next_not_on_wire(struct pm_correlator *c,
                                                         pm_ns win_start, pm_ns win_end,
                                                         size_t *cursor);
/* The interval, in capture time, in which the SYNs of a logged connect failure must have
 * left (docs/VERDICTS.md, "The capture window"): from the line's time minus the longest
 * the connect can have taken for its error (about nothing for refused or no route, up to
 * the MTA's connect timer or the kernel's SYN retries for a timeout), but not before the
 * message entered the queue or the same process's previous line; to the line's time plus
 * its stamp's resolution; widened on both sides by the clock offset's uncertainty. */
struct pm_syn_interval {
    pm_ns lo, hi;          /* capture time */
    pm_ns connect_max;     /* the longest the connect can have taken */
    pm_ns anchor;          /* log time that bounded lo from below, PM_NS_NONE if none */
    const char *anchor_what; /* "queued", "same process's previous line", or NULL */
    pm_ns resolution;      /* of the line's time stamp */
    pm_ns uncertainty;     /* of the clock offset */
};
void pm_correlator_syn_interval(const struct pm_correlator *c, const struct pm_logentry *e,
                                struct pm_syn_interval *iv);
/* The MTA's connect timeout (Postfix smtp_connect_timeout, Exim connect_timeout, Sendmail
 * Timeout.connect), when the user knows it; PM_NS_NONE: each MTA's default. */
/* Where the interval's start came from, in words ("from the message's queue entry at
 * 18:32:40.000", "from the line's time minus 30 s, the longest ..."). */
void pm_syn_interval_words(const struct pm_syn_interval *iv, const struct pm_logentry *e,
                           char *buf, size_t len);
void pm_correlator_set_connect_timeout(struct pm_correlator *c, pm_ns t);
/* Lines found outside the window, in the order met (at most PM_CORR_OUTSIDE_LIST; the
 * count is in the stats). */
struct pm_corr_outside {
    uint32_t idx;              /* index into the log set's entries (stable: appended only) */
    struct pm_syn_interval iv;
};
size_t pm_correlator_outside(const struct pm_correlator *c, const struct pm_corr_outside **list);

/* Judge one unmatched log line (index into the log set) against the capture window:
 * not-on-wire (consumed, counted), outside-window (counted, listed) or neither (matched
 * already, not a connection line, or a session line without packets). */
enum pm_nowire { PM_NOWIRE_SKIP, PM_NOWIRE_YES, PM_NOWIRE_OUTSIDE };
enum pm_nowire pm_correlator_judge(struct pm_correlator *c, size_t i, pm_ns win_start,
                                   pm_ns win_end);

/* A log time in capture time. */
pm_ns pm_correlator_to_capture(const struct pm_correlator *c, pm_ns log_ts);
const struct pm_corr_stats *pm_correlator_stats(const struct pm_correlator *c);

/* Live: a fixed ring of the most recent SYNs to watched ports (PM_LIVE_RECENT_SYNS; the
 * oldest is overwritten). pm_synring_seen: did a SYN to dst:dport leave around t (from
 * PM_CORR_CONNECT_MAX before to PM_CORR_TOL after)? A logged failure with none is
 * not-on-wire. pm_synring_prefixes: the /24 (IPv4) or /48 (IPv6) prefixes of the newest
 * SYNs' destinations, newest first, at most max (capture/live.c's side filter). */
struct pm_synring;
struct pm_synring *pm_synring_new(void);
void pm_synring_free(struct pm_synring *s);
void pm_synring_add(struct pm_synring *s, const pm_addr *dst, uint16_t dport, pm_ns ts);
bool pm_synring_seen(const struct pm_synring *s, const pm_addr *dst, uint16_t dport, pm_ns t);
int pm_synring_prefixes(const struct pm_synring *s, pm_addr *out, int max);

#endif
