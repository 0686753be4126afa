/*
 * verdicts.c — owns THE verdict table (include/verdicts.h): each verdict's word, usual owner,
 * the side it places the cause on, its colours in the text report and the bundle's HTML,
 * whether it rests on an absent packet, the confidence cap it carries and its words when no
 * SYN left the host; and the one function that picks a top verdict from counts. Every
 * printer and decision that says something about a verdict as such reads this table
 * (report.c, bundle_text.c, bundle_html.c, attribute.c, scope.c); tests/unit/test_verdicts.c
 * has a test per row and fails when a verdict has none. Renaming a word is a schema change.
 */
#include "verdicts.h"

#include <string.h>

#include "util.h"

/* Colours: ANSI for the terminal; the HTML classes are report.html's style sheet
 * (analyze/bundle_html.c) and the colours the ladder's SVG uses for the same three tones. */
#define GOOD "\033[32m", "ok", "#1b5e20"
#define UNSURE "\033[33m", "unk", "#e65100"
#define BAD "\033[31m", "bad", "#b71c1c"

static const struct pm_verdict_info verdicts[] = {
    [PM_V_OK] = {"ok", PM_OWN_NONE, PM_SIDE_NONE, GOOD, false, PM_VCAP_NONE, NULL},
    /* The SYN never reached the wire, or this host answered itself: an unseen SYN rests on an
     * absence. */
    [PM_V_LOCAL_FIREWALL] = {"local-firewall", PM_OWN_SENDER_HOST, PM_SIDE_OURS, BAD, true,
                             PM_VCAP_NONE, "local firewall"},
    /* Decided by the MTA's own routing error (no route, prohibit, blackhole), not by a
     * missing packet. */
    [PM_V_LOCAL_ROUTING] = {"local-routing", PM_OWN_SENDER_HOST, PM_SIDE_OURS, BAD, false,
                            PM_VCAP_NONE, "local routing (no route, or a prohibit/blackhole route)"},
    [PM_V_NAT_REWRITE] = {"nat-rewrite", PM_OWN_SENDER_NETWORK, PM_SIDE_OURS, BAD, false,
                          PM_VCAP_NONE, NULL},
    /* Seen inside, missing outside: an absence, and a claim about two captures that must be
     * proven to see one path. */
    [PM_V_NAT_DROP] = {"nat-drop", PM_OWN_SENDER_NETWORK, PM_SIDE_OURS, BAD, true,
                       PM_VCAP_UNPAIRED, "dropped at the NAT"},
    [PM_V_REMOTE_REFUSED] = {"remote-refused", PM_OWN_RECIPIENT_POSTMASTER, PM_SIDE_THEIRS, BAD,
                             false, PM_VCAP_NONE, NULL},
    [PM_V_PATH_RST] = {"path-rst", PM_OWN_PATH, PM_SIDE_PATH, BAD, false, PM_VCAP_NONE, NULL},
    [PM_V_REMOTE_ICMP] = {"remote-icmp", PM_OWN_RECIPIENT_POSTMASTER, PM_SIDE_THEIRS, BAD, false,
                          PM_VCAP_NONE, NULL},
    [PM_V_PATH_ICMP] = {"path-icmp", PM_OWN_PATH, PM_SIDE_PATH, BAD, false, PM_VCAP_NONE, NULL},
    /* No answer at all: the absence itself is the evidence, and it places nothing. */
    [PM_V_SILENT_DROP] = {"silent-drop", PM_OWN_UNKNOWN, PM_SIDE_NONE, BAD, true, PM_VCAP_NONE,
                          NULL},
    [PM_V_PROVIDER_BLOCK] = {"provider-block", PM_OWN_PROVIDER, PM_SIDE_OURS, BAD, true,
                             PM_VCAP_NONE, NULL},
    [PM_V_NO_BANNER] = {"no-banner", PM_OWN_RECIPIENT_POSTMASTER, PM_SIDE_THEIRS, BAD, false,
                        PM_VCAP_NONE, NULL},
    [PM_V_SMTP_POLICY] = {"smtp-policy", PM_OWN_RECIPIENT_POSTMASTER, PM_SIDE_THEIRS, BAD, false,
                          PM_VCAP_NONE, NULL},
    [PM_V_INCONCLUSIVE] = {"inconclusive", PM_OWN_UNKNOWN, PM_SIDE_NONE, UNSURE, false,
                           PM_VCAP_NONE, NULL},
    /* A configuration mismatch: either end may be the one to change. */
    [PM_V_TLS_MISMATCH] = {"tls-mismatch", PM_OWN_RECIPIENT_POSTMASTER, PM_SIDE_NONE, BAD, false,
                           PM_VCAP_NONE, NULL},
};

/* The table is sized by its rows: a verdict added at the end of enum pm_verdict without a
 * row here fails the build; one added in the middle without a row leaves a zeroed row (word
 * NULL), which tests/unit/test_verdicts.c fails on. */
_Static_assert(PM_ARRAY_LEN(verdicts) == PM_V__COUNT, "one verdict table row per enum pm_verdict");

const struct pm_verdict_info *pm_verdict_info(enum pm_verdict v)
{
    return &verdicts[(unsigned)v < PM_V__COUNT ? v : PM_V_INCONCLUSIVE];
}

const char *pm_verdict_name(enum pm_verdict v) { return pm_verdict_info(v)->word; }

int pm_verdict_from_name(const char *s)
{
    for (int i = 0; i < PM_V__COUNT; i++) {
        if (verdicts[i].word && strcmp(verdicts[i].word, s) == 0) {
            return i;
        }
    }
    return -1;
}

const char *pm_vside_name(enum pm_vside s)
{
    static const char *const n[PM_SIDE__COUNT] = {"none", "ours", "path", "theirs"};
    return (unsigned)s < PM_SIDE__COUNT ? n[s] : "none";
}

enum pm_verdict pm_verdict_top(const uint32_t counts[PM_V__COUNT], enum pm_verdict none,
                               uint32_t *n)
{
    enum pm_verdict top = none;
    uint32_t best = 0;
    for (int k = 0; k < PM_V__COUNT; k++) {
        if (k != PM_V_OK && counts[k] > best) {
            best = counts[k];
            top = (enum pm_verdict)k;
        }
    }
    if (n) {
        *n = best;
    }
    return top;
}
