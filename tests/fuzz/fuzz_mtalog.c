/*
 * fuzz_mtalog.c — owns the libFuzzer target for one MTA log line: pm_log_parse_line (the
 * Postfix, Exim and Sendmail parsers behind it, the timestamp formats, errno texts, address
 * literals). The input is the line, copied into a buffer of exactly its length with no NUL
 * so that any read past the end is an ASan report. The options (zone, year) are chosen from
 * the line's length so a seed keeps its meaning. `make fuzz` runs it three times, with a
 * Postfix-, an Exim- and a Sendmail-shaped dictionary and seed corpus.
 *
 * Checked beyond "no crash": the parse result is -1, 0 or 1, and on 1 every text field is
 * NUL-terminated within its array and sanitised (no control bytes, nothing above 0x7e).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mtalog.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    if (n == cap) {
        __builtin_trap(); /* not terminated inside its array */
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c > 0x7e) {
            __builtin_trap(); /* attacker bytes reached a report field unsanitised */
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const zones[] = {"UTC", "+01:00", "America/New_York", "-0930"};
    static int quiet;
    if (!quiet) {
        pm_verbosity = -1;
        quiet = 1;
    }
    char *line = malloc(size ? size : 1);
    if (size) {
        memcpy(line, data, size);
    }
    struct pm_log_options o = {
        .tz = zones[size % 4],
        .year = (size & 4) ? 2025 : 0,
        .ref_time = PM_SEC(1764354769), /* 2025-11-28T18:32:49Z */
        .max_entries = 0,
    };
    struct pm_logentry e;
    memset(&e, 0x5a, sizeof(e));
    int rc = pm_log_parse_line(line, size, &o, &e);
    if (rc < -1 || rc > 1) {
        __builtin_trap();
    }
    if (rc == 1) {
        check_text(e.host, sizeof(e.host));
        check_text(e.text, sizeof(e.text));
        check_text(e.queue_id, sizeof(e.queue_id));
        check_text(e.domain, sizeof(e.domain));
        if (e.kind >= PM_LK__COUNT || e.err >= PM_EC__COUNT) {
            __builtin_trap();
        }
        (void)pm_logkind_name((enum pm_logkind)e.kind);
        (void)pm_errclass_name((enum pm_errclass)e.err);
        (void)pm_mta_name((enum pm_mta)e.mta);
    }
    free(line);
    return 0;
}
