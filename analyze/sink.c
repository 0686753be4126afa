/*
 * sink.c — owns the adapters that make the existing outputs sinks (include/sink.h): the
 * report (analyze/report.c) and the evidence bundle (analyze/bundle.c). The engine keeps
 * the list and calls it; these functions only translate a sink call into the module's own.
 */
#include "sink.h"

#include <stdlib.h>

#include "attribute.h"
#include "bundle.h"
#include "report.h"
#include "util.h"

static void report_finding(void *ctx, const struct pm_finding *f, const struct pm_attr_env *env)
{
    pm_report_attempt(ctx, f, env);
}

static int report_summary(void *ctx, struct pm_context *c, const struct pm_run_summary *s)
{
    pm_report_finish(ctx, c, s);
    return 0;
}

struct pm_sink pm_sink_report(struct pm_report *r)
{
    return (struct pm_sink){.name = "report", .ctx = r, .on_attempt = report_finding,
                            .on_nowire = report_finding, .on_summary = report_summary};
}

/* The bundle's sink context: the bundle and where its end-of-run inputs will be. */
struct bundle_sink {
    struct pm_bundle *b;
    const struct pm_bundle_inputs *in;
};

static void bundle_finding(void *ctx, const struct pm_finding *f, const struct pm_attr_env *env)
{
    struct bundle_sink *bs = ctx;
    pm_bundle_attempt(bs->b, f, env);
}

static int bundle_summary(void *ctx, struct pm_context *c, const struct pm_run_summary *s)
{
    struct bundle_sink *bs = ctx;
    int rc = pm_bundle_finish(bs->b, c, s, bs->in);
    free(bs);
    return rc;
}

static void bundle_abort(void *ctx)
{
    struct bundle_sink *bs = ctx;
    pm_bundle_abort(bs->b);
    free(bs);
}

struct pm_sink pm_sink_bundle(struct pm_bundle *b, const struct pm_bundle_inputs *in)
{
    struct bundle_sink *bs = pm_xcalloc(1, sizeof(*bs));
    bs->b = b;
    bs->in = in;
    return (struct pm_sink){.name = "bundle", .ctx = bs, .on_attempt = bundle_finding,
                            .on_nowire = bundle_finding, .on_summary = bundle_summary,
                            .on_abort = bundle_abort};
}
