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
    uint64_t outside_window;   /* lines outside the capture window: not judged */
    uint64_t no_attempt;       /* lines that stand for no connection */
    uint64_t no_address;       /* lines without a destination address */
};

struct pm_correlator *pm_correlator_new(const struct pm_logset *logs, pm_ns given_offset);
void pm_correlator_free(struct pm_correlator *c);
/* The log set grew (live: lines appended, never reordered): rebuild the index, keeping
 * which lines are already matched. */
void pm_correlator_refresh(struct pm_correlator *c);

/* First pass: offer an attempt as an offset sample. */
void pm_correlator_sample(struct pm_correlator *c, const struct pm_attempt *a);
/* Decide the offset from the samples (unless given). */
void pm_correlator_settle(struct pm_correlator *c);
/* Second pass: the log entry for this attempt (or NULL), consumed. Deterministic for the
 * same order of calls; pm_correlator_reset() starts over. */
const struct pm_logentry *pm_correlator_match(struct pm_correlator *c, const struct pm_attempt *a,
                                              enum pm_outcome o);
void pm_correlator_reset(struct pm_correlator *c);
/* After the second pass: unmatched connect failures inside [win_start, win_end] (capture
 * times), one per call; NULL when done. Lines outside are counted. */
const struct pm_logentry *pm_correlator_next_not_on_wire(struct pm_correlator *c,
                                                         pm_ns win_start, pm_ns win_end,
                                                         size_t *cursor);
/* A log time in capture time. */
pm_ns pm_correlator_to_capture(const struct pm_correlator *c, pm_ns log_ts);
const struct pm_corr_stats *pm_correlator_stats(const struct pm_correlator *c);

#endif
