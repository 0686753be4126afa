/*
 * verdicts.h — THE verdict table: one row per enum pm_verdict (include/pm.h) with everything
 * that is said or decided about a verdict as such, so that adding a verdict touches this
 * table, its test (tests/unit/test_verdicts.c) and docs/VERDICTS.md, not every printer.
 * Which verdict an attempt gets is the rules table's job (analyze/rules.c); how the run's
 * destinations add up is the scope table's (analyze/scope.c). docs/ARCHITECTURE.md, "Adding
 * a verdict".
 */
#ifndef PM_VERDICTS_H
#define PM_VERDICTS_H

#include <stdbool.h>
#include <stdint.h>

#include "pm.h"

/* Where a verdict by itself places the cause (the scope table reads it: every destination
 * failing with a verdict that places the cause away from the sender is not "the sender's
 * side", one that places it on the sender's side is). */
enum pm_vside {
    PM_SIDE_NONE,   /* places nothing by itself (ok, a silent drop, inconclusive, ...) */
    PM_SIDE_OURS,   /* the sending host, its network or its provider */
    PM_SIDE_PATH,   /* a router or middlebox between the two ends */
    PM_SIDE_THEIRS, /* the recipient's host or gateway, by its own answer */
    PM_SIDE__COUNT
};
const char *pm_vside_name(enum pm_vside s);

/* A cap on the rule's confidence that comes with the verdict (analyze/attribute.c). */
enum pm_vcap {
    PM_VCAP_NONE,
    PM_VCAP_UNPAIRED, /* medium unless two vantage points are proven to see one path */
    PM_VCAP__COUNT
};

struct pm_verdict_info {
    const char *word;         /* the output contract's word (docs/OUTPUT.md); never renamed */
    enum pm_owner owner;      /* the owner a rule usually gives it (docs/VERDICTS.md); the
                               * rule's own owner is what a finding carries */
    enum pm_vside side;
    const char *ansi;         /* text report's colour (a terminal without NO_COLOR) */
    const char *html_class;   /* bundle's report.html: CSS class (its style sheet) ... */
    const char *html_color;   /* ... and the ladder's SVG colour */
    bool absence;             /* rests on a packet the capture did not show: a capture drop
                               * could be that packet, so a drop caps it at medium */
    enum pm_vcap cap;
    const char *offwire;      /* no SYN left the host: what kept it (bundle's layer words);
                               * NULL: the word */
};

/* The row of a verdict (an out-of-range value reads inconclusive's row). */
const struct pm_verdict_info *pm_verdict_info(enum pm_verdict v);

/* The most common verdict other than ok in counts[PM_V__COUNT] (the first, in enum order,
 * on a tie); none: returns `none` and sets *n to 0. Used for a destination's verdict and
 * for the run's top verdict, so that the two cannot count differently. */
enum pm_verdict pm_verdict_top(const uint32_t counts[PM_V__COUNT], enum pm_verdict none,
                               uint32_t *n);

#endif
