/* bundle.c — placeholder until the evidence bundle lands (include/bundle.h). */
#include "bundle.h"
#include "util.h"

struct pm_bundle {
    int unused;
};

struct pm_bundle *pm_bundle_open(const char *dir, char *err, size_t errlen)
{
    snprintf(err, errlen, "cannot write bundle %s: bundles are not built yet", dir);
    return NULL;
}
void pm_bundle_attempt(struct pm_bundle *b, const struct pm_finding *f,
                       const struct pm_attr_env *env)
{
    (void)b; (void)f; (void)env;
}
int pm_bundle_finish(struct pm_bundle *b, struct pm_context *ctx, const struct pm_run_summary *s,
                     const struct pm_bundle_inputs *in)
{
    (void)b; (void)ctx; (void)s; (void)in;
    return 0;
}
void pm_bundle_abort(struct pm_bundle *b) { (void)b; }
int pm_cmd_verify(int argc, char **argv)
{
    (void)argc; (void)argv;
    pm_err("verify is not built yet");
    return PM_EXIT_USAGE;
}
