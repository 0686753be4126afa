/* mtalog.c — placeholder: the MTA log parser is being written (include/mtalog.h). */
#include "mtalog.h"
#include "util.h"

int pm_log_parse_line(const char *line, size_t len, const struct pm_log_options *o,
                      struct pm_logentry *e)
{
    (void)line; (void)len; (void)o; (void)e;
    return 0;
}

/* Temporary stubs so the engine links until the parser lands. */
int pm_logset_load(struct pm_logset *set, const char *path, const struct pm_log_options *o)
{
    (void)set; (void)o;
    pm_err("cannot read MTA log %s: the MTA log parser is not built yet", path);
    return PM_EXIT_UNREADABLE;
}
void pm_logset_finish(struct pm_logset *set) { (void)set; }
void pm_logset_free(struct pm_logset *set) { (void)set; }
const char *pm_mta_name(enum pm_mta m) { (void)m; return "unknown"; }
const char *pm_errclass_name(enum pm_errclass c) { (void)c; return "?"; }
const char *pm_logkind_name(enum pm_logkind k) { (void)k; return "?"; }
enum pm_errclass pm_errclass_from_text(const char *t) { (void)t; return PM_EC_OTHER; }
