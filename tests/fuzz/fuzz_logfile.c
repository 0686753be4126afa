/*
 * fuzz_logfile.c — owns the libFuzzer target for whole MTA log files: pm_logset_load on the
 * input (plain text or gzip, detected by magic), then pm_logset_finish and pm_logset_free.
 * This reaches what a single line cannot: the loader's line splitting and over-long lines,
 * the per-process Postfix state, summary lines merged into the lines before them, Exim and
 * Sendmail look-backs, format and MTA detection, and zlib error paths.
 */
#include <stdint.h>
#include <string.h>

#include "memfile.h"
#include "mtalog.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pm_verbosity = -1;
    const char *path = pm_fuzz_memfile(data, size);
    struct pm_log_options o = {
        .tz = (size & 1) ? "UTC" : "Europe/Berlin",
        .year = 0,
        .ref_time = PM_SEC(1764354769),
        .max_entries = 64, /* small: the cap path is reached too */
    };
    struct pm_logset set;
    memset(&set, 0, sizeof(set));
    int rc = pm_logset_load(&set, path, &o);
    if (rc == 0) {
        pm_logset_finish(&set);
        for (size_t i = 1; i < set.n; i++) {
            if (set.e[i].ts != PM_NS_NONE && set.e[i - 1].ts != PM_NS_NONE &&
                set.e[i].ts < set.e[i - 1].ts) {
                __builtin_trap(); /* finish promises entries sorted by time */
            }
        }
    }
    pm_logset_free(&set);
    return 0;
}
