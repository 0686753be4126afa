/*
 * report.h — writing what a run found: JSON Lines (attempt, destination and summary
 * objects, output contract) or the text report a tired person reads in ten seconds (per
 * destination a line per attempt, then scope, next step and totals). Packet-derived text
 * is sanitised before it gets here and escaped again on the way out.
 */
#ifndef PM_REPORT_H
#define PM_REPORT_H

#include <stdio.h>

#include "attribute.h"
#include "capin.h"
#include "context.h"
#include "correlate.h"
#include "engine.h"
#include "scope.h"
#include "track.h"

struct pm_run_summary {
    const char *subcommand;
    int argc;
    char **argv;
    const struct pm_inputset *in;       /* files (offline) */
    const char *const *ifaces;          /* interfaces (live) */
    int nifaces;
    const struct pm_logset *logs;
    const struct pm_track_counters *tc;
    int nvantage;
    const char *const *vantage_names;
    const struct pm_vantage_state *const *vs;
    const struct pm_corr_stats *corr;
    const struct pm_corr_outside *outside; /* MTA log lines outside the capture window */
    size_t noutside;                       /* listed (corr->outside_window counts them all) */
    bool live;
    uint64_t kernel_received, kernel_dropped, if_dropped;
    int nlive_ifs;                      /* live: per interface (pcap_stats) */
    struct pm_live_ifstats live_ifs[PM_CAP_MAX_IFACES];
    char privileges[160];               /* live: how privileges were dropped */
    uint64_t attempts;
    uint64_t by_outcome[PM_OUT__COUNT];
    uint64_t by_verdict[PM_V__COUNT];
    /* each verdict's first and last attempt time (text report of a storm), valid where
     * vtimed (attempts with a time) is not 0 */
    pm_ns vtime[PM_V__COUNT][2];
    uint64_t vtimed[PM_V__COUNT];
    uint64_t inconsistent;
    enum pm_scope scope;
    uint32_t dests, dests_failing, dests_recovered; /* by latest state (scope.h) */
    const char *scope_rule;             /* the scope table's row id */
    enum pm_owner scope_owner;
    bool failures;                      /* a destination's latest state is failing: exit 1 */
    char scope_text[400];
    char next_step[400];
    pm_ns first_ts, last_ts;
    bool damaged;
    char damage[300];
    int exit_status;
    uint32_t ports[PM_MAX_PORTS];
    int nports;
    pm_ns elapsed;                      /* wall time of the run */
    uint64_t merged;                    /* far views of linked attempts (not reported twice) */
    uint32_t vantage_links;
    const pm_addr *publics;             /* source addresses seen at later vantages */
    int npublic;
    int vantage_rank[PM_MAX_VANTAGES];  /* 0 = closest to the sender */
    bool vantage_one_direction[PM_MAX_VANTAGES]; /* no inbound packet at all (issue 14) */
    uint64_t records_read;              /* records in the inputs, before the BPF filter */
    uint64_t records_kept;              /* records the filter passed to the decoder */
};

struct pm_report;

struct pm_report *pm_report_new(enum pm_format fmt, FILE *out, bool color);
void pm_report_free(struct pm_report *r);
/* Live: also print one text line per attempt as it finishes (text format only). */
void pm_report_set_stream(struct pm_report *r, bool stream);
/* Whether this format prints an attempt's evidence sentences (JSON Lines does; the text
 * report, Zeek and CSV print the verdict, the clue and the next step only). */
bool pm_report_prints_evidence(const struct pm_report *r);
/* One finished attempt (streams in JSONL; the text report collects per destination). */
void pm_report_attempt(struct pm_report *r, const struct pm_finding *f,
                       const struct pm_attr_env *env);
/* Destinations and summary; the text report prints everything here. */
void pm_report_finish(struct pm_report *r, struct pm_context *ctx,
                      const struct pm_run_summary *s);

/* Write one attempt object (JSONL) to any stream: used by the report and the bundle. */
void pm_report_attempt_json(FILE *out, const struct pm_finding *f,
                            const struct pm_attr_env *env);

#endif
