/*
 * sink.h — where the findings of a run go: a list of outputs the engine hands every
 * finding to, in the order they were added, instead of routing each by hand. The report
 * (text, JSON Lines, Zeek, CSV) and the evidence bundle are sinks (analyze/sink.c); a new
 * output (a syslog line, a metrics file) is one more struct pm_sink given to
 * pm_engine_add_sink() before the first packet.
 *
 * Contract for a sink:
 *  - Every callback is optional (NULL: not interested). `ctx` is passed back unchanged;
 *    the sink owns it (the engine never frees it).
 *  - The pointers passed are valid during the call only: copy what you keep.
 *  - Called from the analysis thread (there is one), after privileges were dropped in a
 *    live capture: a sink opens its files or sockets before pm_engine_add_sink if it needs
 *    privileges for that.
 *  - No allocation per call on the hot path is expected of a sink that must keep up with
 *    a live capture (on_attempt runs once per finished attempt).
 *  - Exactly one of on_summary (the run completed) or on_abort (the run failed or was
 *    abandoned: discard what is half-written) is called last, once.
 */
#ifndef PM_SINK_H
#define PM_SINK_H

#include <stdbool.h>
#include <stdint.h>

#include "tables.h"

struct pm_finding;
struct pm_attr_env;
struct pm_context;
struct pm_run_summary;

struct pm_sink {
    const char *name; /* for messages ("report", "bundle", "syslog") */
    void *ctx;
    /* One decided attempt seen on the wire: outcome, verdict, owner, confidence, evidence
     * (include/attribute.h). Offline after the whole capture was read; live as it ends. */
    void (*on_attempt)(void *ctx, const struct pm_finding *f, const struct pm_attr_env *env);
    /* A logged attempt that left nothing on the wire (outcome not-on-wire; f->a is NULL,
     * f->log is the MTA log line). */
    void (*on_nowire)(void *ctx, const struct pm_finding *f, const struct pm_attr_env *env);
    /* A bounded table lost `lost` more entries (include/tables.h names the table and the
     * option that raises it). The engine has already warned on stderr; the summary's
     * `limits` and exit status 4 follow. */
    void (*on_bound_hit)(void *ctx, enum pm_table t, uint64_t lost);
    /* The run completed: destinations (c) and the summary (s, its exit_status so far).
     * Returns 0, or an exit status after printing why (the run's status is raised to it). */
    int (*on_summary)(void *ctx, struct pm_context *c, const struct pm_run_summary *s);
    /* The run failed or was abandoned: nothing more comes; remove what is half-written. */
    void (*on_abort)(void *ctx);
};

/* The run's report (include/report.h) as a sink: attempts and not-on-wire lines are
 * reported alike; on_summary writes the destinations and the summary. */
struct pm_report;
struct pm_sink pm_sink_report(struct pm_report *r);

/* The evidence bundle (include/bundle.h) as a sink. The inputs it copies from at the end
 * (capture files, MTA logs, host context) are read through `in` when on_summary runs, so
 * the owner may fill them in until then. on_abort removes the temporary directory. */
struct pm_bundle;
struct pm_bundle_inputs;
struct pm_sink pm_sink_bundle(struct pm_bundle *b, const struct pm_bundle_inputs *in);

#endif
