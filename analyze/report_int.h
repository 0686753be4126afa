/*
 * report_int.h — what analyze/report.c (life cycle, text, Zeek and CSV) and
 * analyze/report_json.c (the JSON Lines objects) share. Not a public interface: nothing
 * outside analyze/report*.c includes it.
 */
#ifndef PM_REPORT_INT_H
#define PM_REPORT_INT_H

#include "json.h"
#include "report.h"

/* The attempt flags by name (JSON `flags`, the Zeek and CSV `pm_flags`), in output order. */
struct pm_report_flag {
    uint32_t bit;
    const char *name;
};
extern const struct pm_report_flag pm_report_flag_names[];
extern const size_t pm_report_nflag_names;

/* One "destination" object, and the run's "summary" object (both end their line). */
void pm_report_json_dest(struct pm_json *j, const struct pm_dest *d);
void pm_report_json_summary(struct pm_json *j, const struct pm_run_summary *s,
                            uint64_t overflow);

#endif
