/*
 * test_verdicts.c — THE verdict table (analyze/verdicts.c, include/verdicts.h): one test per
 * row, each checking the row against what the output contract and docs/VERDICTS.md give
 * that verdict (its word, usual owner, side, tone, whether it rests on an absence, its
 * confidence cap, its words when no SYN left the host), that a rule of the rules table gives
 * it that owner, that its side agrees with its owner, and that the scope table reads the side
 * (every destination failing with it: all-sender-side, all-elsewhere or all); a test that
 * fails when a verdict has no row here or no row in the table; and pm_verdict_top, the one
 * count behind a destination's verdict and the run's top verdict.
 *
 * Adding a verdict to enum pm_verdict without a VERDICT(...) line below fails
 * verdicts::every_verdict_has_a_row_and_a_test.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "attribute.h"
#include "scope.h"
#include "util.h"
#include "verdicts.h"

enum tone { GOOD, UNSURE, BAD };

/* name, verdict, contract word, usual owner, side, tone, rests on an absence, cap,
 * words for "no SYN left the host" (NULL: the word) */
#define VERDICTS(VERDICT)                                                                     \
    VERDICT(ok, PM_V_OK, "ok", PM_OWN_NONE, PM_SIDE_NONE, GOOD, false, PM_VCAP_NONE, NULL)    \
    VERDICT(local_firewall, PM_V_LOCAL_FIREWALL, "local-firewall", PM_OWN_SENDER_HOST,        \
            PM_SIDE_OURS, BAD, true, PM_VCAP_NONE, "local firewall")                          \
    VERDICT(local_routing, PM_V_LOCAL_ROUTING, "local-routing", PM_OWN_SENDER_HOST,           \
            PM_SIDE_OURS, BAD, false, PM_VCAP_NONE,                                           \
            "local routing (no route, or a prohibit/blackhole route)")                        \
    VERDICT(nat_rewrite, PM_V_NAT_REWRITE, "nat-rewrite", PM_OWN_SENDER_NETWORK, PM_SIDE_OURS, \
            BAD, false, PM_VCAP_NONE, NULL)                                                   \
    VERDICT(nat_drop, PM_V_NAT_DROP, "nat-drop", PM_OWN_SENDER_NETWORK, PM_SIDE_OURS, BAD,    \
            true, PM_VCAP_UNPAIRED, "dropped at the NAT")                                     \
    VERDICT(remote_refused, PM_V_REMOTE_REFUSED, "remote-refused",                            \
            PM_OWN_RECIPIENT_POSTMASTER, PM_SIDE_THEIRS, BAD, false, PM_VCAP_NONE, NULL)      \
    VERDICT(path_rst, PM_V_PATH_RST, "path-rst", PM_OWN_PATH, PM_SIDE_PATH, BAD, false,       \
            PM_VCAP_NONE, NULL)                                                               \
    VERDICT(remote_icmp, PM_V_REMOTE_ICMP, "remote-icmp", PM_OWN_RECIPIENT_POSTMASTER,        \
            PM_SIDE_THEIRS, BAD, false, PM_VCAP_NONE, NULL)                                   \
    VERDICT(path_icmp, PM_V_PATH_ICMP, "path-icmp", PM_OWN_PATH, PM_SIDE_PATH, BAD, false,    \
            PM_VCAP_NONE, NULL)                                                               \
    VERDICT(silent_drop, PM_V_SILENT_DROP, "silent-drop", PM_OWN_UNKNOWN, PM_SIDE_NONE, BAD,  \
            true, PM_VCAP_NONE, NULL)                                                         \
    VERDICT(provider_block, PM_V_PROVIDER_BLOCK, "provider-block", PM_OWN_PROVIDER,           \
            PM_SIDE_OURS, BAD, true, PM_VCAP_NONE, NULL)                                      \
    VERDICT(no_banner, PM_V_NO_BANNER, "no-banner", PM_OWN_RECIPIENT_POSTMASTER,              \
            PM_SIDE_THEIRS, BAD, false, PM_VCAP_NONE, NULL)                                   \
    VERDICT(smtp_policy, PM_V_SMTP_POLICY, "smtp-policy", PM_OWN_RECIPIENT_POSTMASTER,        \
            PM_SIDE_THEIRS, BAD, false, PM_VCAP_NONE, NULL)                                   \
    VERDICT(inconclusive, PM_V_INCONCLUSIVE, "inconclusive", PM_OWN_UNKNOWN, PM_SIDE_NONE,    \
            UNSURE, false, PM_VCAP_NONE, NULL)                                                \
    VERDICT(tls_mismatch, PM_V_TLS_MISMATCH, "tls-mismatch", PM_OWN_RECIPIENT_POSTMASTER,     \
            PM_SIDE_NONE, BAD, false, PM_VCAP_NONE, NULL)

/* The three tones: terminal colour, report.html's class (its style sheet, bundle_html.c) and
 * the ladder's colour for that class. */
static const struct {
    const char *ansi, *cls, *color;
} tones[] = {
    [GOOD] = {"\033[32m", "ok", "#1b5e20"},
    [UNSURE] = {"\033[33m", "unk", "#e65100"},
    [BAD] = {"\033[31m", "bad", "#b71c1c"},
};

/* ---- one destination per failing verdict, for the scope table ---- */

static struct pm_dest D[2];

static enum pm_verdict scope_rows_verdict; /* what the two destinations failed with */

static const char *scope_row_for(enum pm_verdict v)
{
    static const char *const addrs[2] = {"192.0.2.10", "198.51.100.20"}; /* two networks */
    struct pm_dest *ds[2];
    for (int i = 0; i < 2; i++) {
        memset(&D[i], 0, sizeof(D[i]));
        cr_assert(pm_addr_parse(addrs[i], &D[i].addr));
        D[i].first_ts = D[i].last_ts = PM_NS_NONE;
        D[i].attempts = 1;
        D[i].by_outcome[PM_OUT_NO_RESPONSE] = 1;
        D[i].by_verdict[v] = 1;
        D[i].verdict_owner[v] = (uint8_t)pm_verdict_info(v)->owner;
        D[i].ports[D[i].nports++] = 25;
        pm_dest_note(&D[i], 25, 1000000000LL, PM_OUT_NO_RESPONSE);
        ds[i] = &D[i];
    }
    scope_rows_verdict = v;
    struct pm_scope_in in;
    pm_scope_collect(ds, 2, 0, 0, &in);
    struct pm_scope_out out;
    pm_scope_decide(&in, &out);
    cr_assert_eq(in.top, v, "two destinations failing with %s: top %s", pm_verdict_name(v),
                 pm_verdict_name(in.top));
    return out.row->id;
}

/* Whether an owner is the sender's own, the path's or the recipient's (the side it implies). */
static enum pm_vside owner_side(enum pm_owner o)
{
    switch (o) {
    case PM_OWN_SENDER_HOST:
    case PM_OWN_SENDER_NETWORK:
    case PM_OWN_PROVIDER: return PM_SIDE_OURS;
    case PM_OWN_PATH: return PM_SIDE_PATH;
    case PM_OWN_RECIPIENT_GATEWAY:
    case PM_OWN_RECIPIENT_POSTMASTER: return PM_SIDE_THEIRS;
    default: return PM_SIDE_NONE;
    }
}

static void check_row(enum pm_verdict v, const char *word, enum pm_owner owner, enum pm_vside side,
                      enum tone tone, bool absence, enum pm_vcap cap, const char *offwire)
{
    const struct pm_verdict_info *vi = pm_verdict_info(v);
    cr_assert_not_null(vi->word, "verdict %d has no row in analyze/verdicts.c", (int)v);
    cr_assert_str_eq(vi->word, word, "verdict %d: word %s, the contract's is %s", (int)v,
                     vi->word, word);
    cr_assert_str_eq(pm_verdict_name(v), word);
    cr_assert_eq(pm_verdict_from_name(word), (int)v, "%s does not read back", word);
    cr_assert_eq(vi->owner, owner, "%s: owner %s, expected %s", word, pm_owner_name(vi->owner),
                 pm_owner_name(owner));
    cr_assert_eq(vi->side, side, "%s: side %s, expected %s", word, pm_vside_name(vi->side),
                 pm_vside_name(side));
    cr_assert_str_eq(vi->ansi, tones[tone].ansi, "%s: terminal colour", word);
    cr_assert_str_eq(vi->html_class, tones[tone].cls, "%s: HTML class", word);
    cr_assert_str_eq(vi->html_color, tones[tone].color, "%s: HTML colour", word);
    cr_assert_eq(vi->absence, absence, "%s: rests on an absence: %d, expected %d", word,
                 vi->absence, absence);
    cr_assert_eq(vi->cap, cap, "%s: confidence cap %d, expected %d", word, vi->cap, cap);
    if (offwire) {
        cr_assert_str_eq(vi->offwire, offwire, "%s: words when no SYN left the host", word);
    } else {
        cr_assert_null(vi->offwire, "%s: words when no SYN left the host", word);
    }

    /* The usual owner is one a rule really gives it (when a rule gives the verdict at all). */
    bool ruled = false, owned = false;
    for (size_t i = 0; i < pm_nrules; i++) {
        if (pm_rules[i].verdict == v) {
            ruled = true;
            owned |= pm_rules[i].owner == owner;
        }
    }
    cr_assert(!ruled || owned, "%s: no rule of analyze/rules.c gives it owner %s", word,
              pm_owner_name(owner));
    /* A verdict that places the cause places it where its owner is. */
    cr_assert(side == PM_SIDE_NONE || owner_side(owner) == side,
              "%s: side %s but owner %s", word, pm_vside_name(side), pm_owner_name(owner));

    /* The scope table reads the side: every destination failing with it. */
    if (v != PM_V_OK) {
        const char *want = side == PM_SIDE_OURS                             ? "all-sender-side"
                           : side == PM_SIDE_PATH || side == PM_SIDE_THEIRS ? "all-elsewhere"
                                                                            : "all";
        const char *got = scope_row_for(v);
        cr_assert_str_eq(got, want, "every destination failing with %s: scope row %s, "
                                    "expected %s", pm_verdict_name(scope_rows_verdict), got, want);
    }
}

#define VERDICT_TEST(name, v, word, owner, side, tone, absence, cap, offwire)                 \
    Test(verdicts, name) { check_row(v, word, owner, side, tone, absence, cap, offwire); }
VERDICTS(VERDICT_TEST)

#define VERDICT_ENUM(name, v, ...) v,
static const enum pm_verdict tested[] = {VERDICTS(VERDICT_ENUM)};

Test(verdicts, every_verdict_has_a_row_and_a_test)
{
    char missing[512] = "";
    for (int v = 0; v < PM_V__COUNT; v++) {
        int n = 0;
        for (size_t j = 0; j < PM_ARRAY_LEN(tested); j++) {
            n += tested[j] == (enum pm_verdict)v;
        }
        cr_assert(n <= 1, "verdict %d has %d tests", v, n);
        if (n == 0) {
            size_t o = strlen(missing);
            snprintf(missing + o, sizeof(missing) - o, " %d", v);
        }
        cr_assert_not_null(pm_verdict_info((enum pm_verdict)v)->word,
                           "enum pm_verdict %d has no row in analyze/verdicts.c", v);
    }
    cr_assert_eq(missing[0], '\0', "verdicts without a VERDICT(...) test:%s", missing);
    cr_assert_eq(PM_ARRAY_LEN(tested), (size_t)PM_V__COUNT);
}

Test(verdicts, words_are_unique_and_out_of_range_reads_inconclusive)
{
    for (int a = 0; a < PM_V__COUNT; a++) {
        for (int b = a + 1; b < PM_V__COUNT; b++) {
            cr_assert_str_neq(pm_verdict_name((enum pm_verdict)a),
                              pm_verdict_name((enum pm_verdict)b));
        }
    }
    cr_assert_str_eq(pm_verdict_name(PM_V__COUNT), "inconclusive");
    cr_assert_str_eq(pm_verdict_name((enum pm_verdict)-1), "inconclusive");
    cr_assert_eq(pm_verdict_from_name("firewall"), -1);
}

/* ---- the top verdict ---- */

Test(verdicts, top_is_the_most_common_failure_and_ok_never_counts)
{
    uint32_t c[PM_V__COUNT] = {0}, n = 99;
    cr_assert_eq(pm_verdict_top(c, PM_V_OK, &n), PM_V_OK);
    cr_assert_eq(n, 0);
    cr_assert_eq(pm_verdict_top(c, PM_V_INCONCLUSIVE, NULL), PM_V_INCONCLUSIVE);
    c[PM_V_OK] = 50; /* connected attempts are not a verdict to report */
    cr_assert_eq(pm_verdict_top(c, PM_V_INCONCLUSIVE, &n), PM_V_INCONCLUSIVE);
    cr_assert_eq(n, 0);
    c[PM_V_SILENT_DROP] = 2;
    c[PM_V_PATH_RST] = 3;
    cr_assert_eq(pm_verdict_top(c, PM_V_OK, &n), PM_V_PATH_RST);
    cr_assert_eq(n, 3);
    c[PM_V_SILENT_DROP] = 3; /* a tie: the first in enum order, as before */
    cr_assert_eq(pm_verdict_top(c, PM_V_OK, &n), PM_V_PATH_RST);
    c[PM_V_TLS_MISMATCH] = 4; /* the last verdict counts too */
    cr_assert_eq(pm_verdict_top(c, PM_V_OK, &n), PM_V_TLS_MISMATCH);
    cr_assert_eq(n, 4);
}

/* A destination's verdict and the run's top verdict are the same count. */
Test(verdicts, destination_and_run_agree_on_the_top)
{
    struct pm_dest d;
    memset(&d, 0, sizeof(d));
    cr_assert(pm_addr_parse("203.0.113.7", &d.addr));
    d.first_ts = d.last_ts = PM_NS_NONE;
    d.attempts = 5;
    d.by_outcome[PM_OUT_NO_RESPONSE] = 5;
    d.by_verdict[PM_V_SILENT_DROP] = 2;
    d.by_verdict[PM_V_PROVIDER_BLOCK] = 2;
    d.by_verdict[PM_V_INCONCLUSIVE] = 1;
    d.verdict_owner[PM_V_SILENT_DROP] = PM_OWN_UNKNOWN;
    d.ports[d.nports++] = 25;
    pm_dest_note(&d, 25, 1000000000LL, PM_OUT_NO_RESPONSE);
    struct pm_dest_view v;
    pm_dest_view(&d, &v);
    cr_assert_eq(v.verdict, pm_verdict_top(d.by_verdict, PM_V_OK, NULL));
    cr_assert_eq(v.verdict, PM_V_SILENT_DROP);
    cr_assert_eq(v.verdict_n, 2);
    struct pm_dest *ds[1] = {&d};
    struct pm_scope_in in;
    pm_scope_collect(ds, 1, 0, 0, &in);
    cr_assert_eq(in.top, v.verdict);
    cr_assert_eq(in.top_owner, PM_OWN_UNKNOWN);
}
