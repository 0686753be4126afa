/*
 * test_rules.c — THE attribution table (analyze/rules.c, include/attribute.h): one test per
 * row of pm_rules[], each fed with crafted evidence that must select exactly that row (by
 * id) with the verdict and owner the output contract and issue 5 give it; a test that fails
 * when a row has no test here or a test names a row that does not exist; first-match order
 * where it matters (what this host did beats everything, a second vantage point beats the
 * provider pattern, a race beats a hop match); the last row matches the empty set; ids are
 * unique and every template placeholder is one attribute.c fills.
 *
 * Adding a row to pm_rules[] without a RULE(...) line below fails rules::every_row_has_a_test.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "attribute.h"
#include "util.h"

#define E(x) PM_EV(EV_##x)

/* name, row id, crafted evidence, verdict, owner */
#define RULES(RULE)                                                                           \
    RULE(local_rst_loopback, "local-rst-loopback", E(RST) | E(RST_LOCAL) | E(RST_NO_REF),     \
         PM_V_LOCAL_FIREWALL, PM_OWN_SENDER_HOST)                                             \
    RULE(local_icmp, "local-icmp", E(ICMP) | E(ICMP_LOCAL) | E(ICMP_HOP1),                    \
         PM_V_LOCAL_FIREWALL, PM_OWN_SENDER_HOST)                                             \
    RULE(local_reject, "local-reject", E(NOT_ON_WIRE) | E(LOG_REFUSED), PM_V_LOCAL_FIREWALL,  \
         PM_OWN_SENDER_HOST)                                                                  \
    RULE(local_drop, "local-drop", E(NOT_ON_WIRE) | E(LOG_TIMEDOUT), PM_V_LOCAL_FIREWALL,     \
         PM_OWN_SENDER_HOST)                                                                  \
    RULE(local_eperm, "local-eperm", E(NOT_ON_WIRE) | E(LOG_PERM), PM_V_LOCAL_FIREWALL,       \
         PM_OWN_SENDER_HOST)                                                                  \
    RULE(local_no_route, "local-no-route", E(NOT_ON_WIRE) | E(LOG_NETUNREACH),                \
         PM_V_LOCAL_ROUTING, PM_OWN_SENDER_HOST)                                              \
    RULE(local_unreachable_route, "local-unreachable-route",                                  \
         E(NOT_ON_WIRE) | E(LOG_HOSTUNREACH), PM_V_LOCAL_ROUTING, PM_OWN_SENDER_HOST)         \
    RULE(local_prohibit_route, "local-prohibit-route", E(NOT_ON_WIRE) | E(LOG_ACCES),         \
         PM_V_LOCAL_ROUTING, PM_OWN_SENDER_HOST)                                              \
    RULE(local_blackhole_route, "local-blackhole-route", E(NOT_ON_WIRE) | E(LOG_INVAL),       \
         PM_V_LOCAL_ROUTING, PM_OWN_SENDER_HOST)                                              \
    RULE(local_source_address, "local-source-address", E(NOT_ON_WIRE) | E(LOG_ADDRNOTAVAIL), \
         PM_V_LOCAL_ROUTING, PM_OWN_SENDER_HOST)                                              \
    RULE(local_unexplained, "local-unexplained", E(NOT_ON_WIRE), PM_V_INCONCLUSIVE,           \
         PM_OWN_SENDER_HOST)                                                                  \
    RULE(nat_drop, "nat-drop", E(NAT_DROP) | E(NO_RESPONSE), PM_V_NAT_DROP,                   \
         PM_OWN_SENDER_NETWORK)                                                               \
    RULE(nat_rewrite, "nat-rewrite", E(NAT_REWRITE) | E(SMTP_REJECT), PM_V_NAT_REWRITE,       \
         PM_OWN_SENDER_NETWORK)                                                               \
    RULE(return_drop, "return-drop", E(RETURN_DROP) | E(INCOMPLETE), PM_V_NAT_DROP,           \
         PM_OWN_SENDER_NETWORK)                                                               \
    RULE(provider_block, "provider-block", E(NO_RESPONSE) | E(PROVIDER_PATTERN) | E(SCOPE_ALL), \
         PM_V_PROVIDER_BLOCK, PM_OWN_PROVIDER)                                                \
    RULE(path_rst_race, "path-rst-race", E(RST) | E(ANSWER_RACE) | E(RST_HOPS_MATCH),         \
         PM_V_PATH_RST, PM_OWN_PATH)                                                          \
    RULE(rst_from_nat, "rst-from-nat", E(RST) | E(RST_FROM_NAT) | E(RST_HOPS_MATCH),           \
         PM_V_PATH_RST, PM_OWN_SENDER_NETWORK)                                                \
    RULE(path_rst_beyond_nat, "path-rst-beyond-nat",                                          \
         E(RST) | E(RST_BEYOND_NAT) | E(RST_HOPS_SHORT) | E(RST_REF_PREFIX), PM_V_PATH_RST,   \
         PM_OWN_PROVIDER)                                                                     \
    RULE(path_rst_hops, "path-rst-hops", E(RST) | E(RST_HOPS_SHORT) | E(RST_FAST),            \
         PM_V_PATH_RST, PM_OWN_PATH)                                                          \
    RULE(path_rst_one_hop_fast, "path-rst-one-hop-fast",                                      \
         E(RST) | E(RST_HOPS_SHORT) | E(RST_SHORT_ONE) | E(RST_FAST), PM_V_PATH_RST,          \
         PM_OWN_PATH)                                                                         \
    RULE(path_rst_one_hop, "path-rst-one-hop", E(RST) | E(RST_HOPS_SHORT) | E(RST_SHORT_ONE), \
         PM_V_PATH_RST, PM_OWN_PATH)                                                          \
    RULE(path_rst_prefix, "path-rst-prefix", E(RST) | E(RST_HOPS_SHORT) | E(RST_REF_PREFIX),  \
         PM_V_PATH_RST, PM_OWN_PATH)                                                          \
    RULE(path_rst_prefix_one_hop, "path-rst-prefix-one-hop",                                  \
         E(RST) | E(RST_HOPS_SHORT) | E(RST_REF_PREFIX) | E(RST_SHORT_ONE) | E(RST_FAST),     \
         PM_V_PATH_RST, PM_OWN_PATH)                                                          \
    RULE(rst_refs_disagree, "rst-refs-disagree", E(RST) | E(RST_REFS_DISAGREE) | E(RST_FAST), \
         PM_V_REMOTE_REFUSED, PM_OWN_UNKNOWN)                                                 \
    RULE(remote_refused, "remote-refused", E(RST) | E(RST_HOPS_MATCH), PM_V_REMOTE_REFUSED,   \
         PM_OWN_RECIPIENT_POSTMASTER)                                                         \
    RULE(remote_refused_prefix, "remote-refused-prefix",                                      \
         E(RST) | E(RST_HOPS_MATCH) | E(RST_REF_PREFIX), PM_V_REMOTE_REFUSED,                 \
         PM_OWN_RECIPIENT_POSTMASTER)                                                         \
    RULE(rst_reference_cut, "rst-reference-cut", E(RST) | E(RST_NO_REF) | E(CAPTURE_CUT),     \
         PM_V_INCONCLUSIVE, PM_OWN_UNKNOWN)                                                   \
    RULE(remote_refused_unverified, "remote-refused-unverified", E(RST) | E(RST_NO_REF),      \
         PM_V_REMOTE_REFUSED, PM_OWN_UNKNOWN)                                                 \
    RULE(remote_icmp, "remote-icmp", E(ICMP) | E(ICMP_FROM_DST), PM_V_REMOTE_ICMP,            \
         PM_OWN_RECIPIENT_POSTMASTER)                                                         \
    RULE(path_icmp_ttl, "path-icmp-ttl", E(ICMP) | E(ICMP_TTL), PM_V_PATH_ICMP, PM_OWN_PATH)  \
    RULE(path_icmp_arp, "path-icmp-arp", E(ICMP) | E(ICMP_ARP) | E(ICMP_DST_NET),             \
         PM_V_PATH_ICMP, PM_OWN_RECIPIENT_GATEWAY)                                            \
    RULE(path_icmp_recipient_net, "path-icmp-recipient-net", E(ICMP) | E(ICMP_DST_NET),       \
         PM_V_PATH_ICMP, PM_OWN_RECIPIENT_GATEWAY)                                            \
    RULE(path_icmp_first_hop, "path-icmp-first-hop", E(ICMP) | E(ICMP_HOP1), PM_V_PATH_ICMP,  \
         PM_OWN_SENDER_NETWORK)                                                               \
    RULE(path_icmp, "path-icmp", E(ICMP), PM_V_PATH_ICMP, PM_OWN_PATH)                        \
    RULE(silent_drop_capture_cut, "silent-drop-capture-cut",                                  \
         E(NO_RESPONSE) | E(CAPTURE_CUT) | E(SCOPE_ONE), PM_V_INCONCLUSIVE, PM_OWN_UNKNOWN)     \
    RULE(smtp_policy, "smtp-policy", E(SMTP_REJECT), PM_V_SMTP_POLICY,                        \
         PM_OWN_RECIPIENT_POSTMASTER)                                                         \
    RULE(no_banner, "no-banner", E(NO_BANNER) | E(LOG_GREETING), PM_V_NO_BANNER,              \
         PM_OWN_RECIPIENT_POSTMASTER)                                                         \
    RULE(closed_before_banner, "closed-before-banner", E(CLOSED_EARLY), PM_V_NO_BANNER,       \
         PM_OWN_RECIPIENT_POSTMASTER)                                                         \
    RULE(tls_mismatch_sender, "tls-mismatch-sender",                                          \
         E(TLS_MISMATCH) | E(TLS_SENDER_SIDE) | E(CAPTURE_CUT), PM_V_TLS_MISMATCH,             \
         PM_OWN_SENDER_HOST)                                                                  \
    RULE(tls_mismatch, "tls-mismatch", E(TLS_MISMATCH), PM_V_TLS_MISMATCH,                    \
         PM_OWN_RECIPIENT_POSTMASTER)                                                         \
    RULE(smtp_policy_start_unseen, "smtp-policy-start-unseen",                                \
         E(SMTP_REJECT) | E(REPLY_CMD_UNSEEN), PM_V_SMTP_POLICY, PM_OWN_RECIPIENT_POSTMASTER)  \
    RULE(ok_dialogue_cut, "ok-dialogue-cut", E(CONNECTED) | E(DIALOGUE_CUT), PM_V_OK,         \
         PM_OWN_NONE)                                                                         \
    RULE(ok, "ok", E(CONNECTED), PM_V_OK, PM_OWN_NONE)                                        \
    RULE(silent_drop_one_destination, "silent-drop-one-destination",                          \
         E(NO_RESPONSE) | E(SCOPE_ONE), PM_V_SILENT_DROP, PM_OWN_RECIPIENT_GATEWAY)           \
    RULE(silent_drop_everywhere, "silent-drop-everywhere", E(NO_RESPONSE) | E(SCOPE_ALL),     \
         PM_V_SILENT_DROP, PM_OWN_SENDER_NETWORK)                                             \
    RULE(silent_drop, "silent-drop", E(NO_RESPONSE), PM_V_SILENT_DROP, PM_OWN_UNKNOWN)        \
    RULE(one_sided_capture, "one-sided-capture", E(INCOMPLETE) | E(ONE_SIDED),                \
         PM_V_INCONCLUSIVE, PM_OWN_UNKNOWN)                                                   \
    RULE(incomplete, "incomplete", E(INCOMPLETE), PM_V_INCONCLUSIVE, PM_OWN_UNKNOWN)          \
    RULE(inconclusive, "inconclusive", 0, PM_V_INCONCLUSIVE, PM_OWN_UNKNOWN)

struct tested {
    const char *id;
    pm_evset ev;
    enum pm_verdict verdict;
    enum pm_owner owner;
};

#define AS_ENTRY(name, id, ev, v, o) {id, ev, v, o},
static const struct tested tested_rules[] = {RULES(AS_ENTRY)};

static const struct pm_rule *find_row(const char *id)
{
    for (size_t i = 0; i < pm_nrules; i++) {
        if (strcmp(pm_rules[i].id, id) == 0) {
            return &pm_rules[i];
        }
    }
    return NULL;
}

static void check_row(const char *id, pm_evset ev, enum pm_verdict v, enum pm_owner o)
{
    cr_assert_not_null(find_row(id), "no row \"%s\" in pm_rules[]", id);
    const struct pm_rule *r = pm_rules_match(ev);
    cr_assert_not_null(r);
    cr_assert_str_eq(r->id, id, "evidence selected row \"%s\", not \"%s\"", r->id, id);
    cr_assert_eq(r->verdict, v, "row %s: verdict %s, expected %s", id, pm_verdict_name(r->verdict),
                 pm_verdict_name(v));
    cr_assert_eq(r->owner, o, "row %s: owner %s, expected %s", id, pm_owner_name(r->owner),
                 pm_owner_name(o));
    cr_assert_eq(ev & r->need, r->need);
    cr_assert_eq(ev & r->forbid, 0);
    cr_assert(r->why && r->why[0], "row %s has no explanation", id);
    cr_assert(r->next_step && r->next_step[0], "row %s has no next step", id);
}

#define AS_TEST(name, id, ev, v, o)                                                           \
    Test(rules_row, name) { check_row(id, ev, v, o); }
RULES(AS_TEST)

Test(rules, every_row_has_a_test)
{
    char missing[1024] = "";
    for (size_t i = 0; i < pm_nrules; i++) {
        bool found = false;
        for (size_t j = 0; j < PM_ARRAY_LEN(tested_rules); j++) {
            found |= strcmp(pm_rules[i].id, tested_rules[j].id) == 0;
        }
        if (!found) {
            size_t n = strlen(missing);
            snprintf(missing + n, sizeof(missing) - n, " %s", pm_rules[i].id);
        }
    }
    cr_assert_str_eq(missing, "", "rows without a test in test_rules.c:%s", missing);
}

Test(rules, every_test_names_an_existing_row)
{
    for (size_t j = 0; j < PM_ARRAY_LEN(tested_rules); j++) {
        cr_assert_not_null(find_row(tested_rules[j].id), "test for a row that is gone: %s",
                           tested_rules[j].id);
    }
    cr_assert_eq(PM_ARRAY_LEN(tested_rules), pm_nrules, "one test per row, no more");
}

Test(rules, ids_are_unique_and_non_empty)
{
    for (size_t i = 0; i < pm_nrules; i++) {
        cr_assert(pm_rules[i].id && pm_rules[i].id[0]);
        for (size_t j = i + 1; j < pm_nrules; j++) {
            cr_assert_str_neq(pm_rules[i].id, pm_rules[j].id);
        }
    }
}

Test(rules, the_last_row_matches_the_empty_set_and_only_it_needs_nothing)
{
    const struct pm_rule *last = &pm_rules[pm_nrules - 1];
    cr_assert_eq(last->need, 0);
    cr_assert_eq(last->forbid, 0);
    cr_assert_eq(last->verdict, PM_V_INCONCLUSIVE);
    cr_assert_eq(pm_rules_match(0), last);
    for (size_t i = 0; i + 1 < pm_nrules; i++) {
        cr_assert_neq(pm_rules[i].need, 0, "row %s would shadow everything below it",
                      pm_rules[i].id);
    }
    /* evidence no row wants falls through to the last row, never to NULL */
    cr_assert_eq(pm_rules_match(E(LOG_GREETING)), last);
    cr_assert_eq(pm_rules_match(E(SCOPE_ONE) | E(SCOPE_ALL)), last);
}

static const char *match_id(pm_evset ev) { return pm_rules_match(ev)->id; }

Test(rules, first_match_order)
{
    /* nothing on the wire and the kernel said refused: a RST elsewhere cannot beat that */
    cr_assert_str_eq(match_id(E(NOT_ON_WIRE) | E(LOG_REFUSED) | E(RST) | E(RST_HOPS_MATCH)),
                     "local-reject");
    cr_assert_str_eq(match_id(E(NOT_ON_WIRE) | E(LOG_TIMEDOUT) | E(NO_RESPONSE)), "local-drop");
    /* a second vantage point proves more than the provider pattern */
    cr_assert_str_eq(match_id(E(NAT_DROP) | E(NO_RESPONSE) | E(PROVIDER_PATTERN)), "nat-drop");
    cr_assert_str_eq(match_id(E(RETURN_DROP) | E(NO_RESPONSE) | E(SCOPE_ONE)), "return-drop");
    /* the provider pattern beats the scope-only silent drops */
    cr_assert_str_eq(match_id(E(NO_RESPONSE) | E(PROVIDER_PATTERN) | E(SCOPE_ALL)),
                     "provider-block");
    cr_assert_str_eq(match_id(E(NO_RESPONSE) | E(SCOPE_ONE) | E(SCOPE_ALL)),
                     "silent-drop-one-destination");
    /* our own stack's RST or ICMP beats any hop arithmetic or sender address */
    cr_assert_str_eq(match_id(E(RST) | E(RST_LOCAL) | E(RST_HOPS_SHORT)), "local-rst-loopback");
    cr_assert_str_eq(match_id(E(ICMP) | E(ICMP_LOCAL) | E(ICMP_FROM_DST)), "local-icmp");
    /* a race beats a matching hop count; a short hop count beats "no reference" */
    cr_assert_str_eq(match_id(E(RST) | E(ANSWER_RACE) | E(RST_HOPS_MATCH)), "path-rst-race");
    cr_assert_str_eq(match_id(E(RST) | E(RST_HOPS_SHORT) | E(RST_NO_REF)), "path-rst-hops");
    /* a RST's origin is graded by the reference (docs/VERDICTS.md, "Grading a RST's origin"):
     * each weakness (one hop, neighbours only) costs a step, speed makes up for one hop with
     * the host's own RTT only, disagreeing references are never better than low */
    cr_assert_str_eq(match_id(E(RST) | E(RST_HOPS_SHORT) | E(RST_SHORT_ONE)), "path-rst-one-hop");
    cr_assert_str_eq(match_id(E(RST) | E(RST_HOPS_SHORT) | E(RST_REF_PREFIX) | E(RST_FAST)),
                     "path-rst-prefix");
    cr_assert_str_eq(match_id(E(RST) | E(RST_HOPS_MATCH) | E(RST_REF_PREFIX) | E(RST_FAST)),
                     "remote-refused-prefix");
    cr_assert_str_eq(match_id(E(RST) | E(RST_REFS_DISAGREE) | E(RST_REF_PREFIX)),
                     "rst-refs-disagree");
    /* the destination's own ICMP, then TTL, our own gateway (before the ARP timing, which a
     * client retrying every 3 s imitates), ARP, its network, any router */
    cr_assert_str_eq(match_id(E(ICMP) | E(ICMP_FROM_DST) | E(ICMP_DST_NET)), "remote-icmp");
    cr_assert_str_eq(match_id(E(ICMP) | E(ICMP_TTL) | E(ICMP_HOP1)), "path-icmp-ttl");
    cr_assert_str_eq(match_id(E(ICMP) | E(ICMP_ARP) | E(ICMP_HOP1)), "path-icmp-first-hop");
    cr_assert_str_eq(match_id(E(ICMP) | E(ICMP_DST_NET) | E(ICMP_HOP1)), "path-icmp-first-hop");
    cr_assert_str_eq(match_id(E(ICMP) | E(ICMP_ARP) | E(ICMP_DST_NET)), "path-icmp-arp");
    /* a policy reply is past the network: it beats "connected" */
    cr_assert_str_eq(match_id(E(SMTP_REJECT) | E(CONNECTED)), "smtp-policy");
    /* a cut capture cannot prove the provider pattern wrong, but it hides the scope */
    cr_assert_str_eq(match_id(E(NO_RESPONSE) | E(PROVIDER_PATTERN) | E(CAPTURE_CUT)),
                     "provider-block");
    cr_assert_str_eq(match_id(E(RST) | E(RST_HOPS_SHORT) | E(CAPTURE_CUT)), "path-rst-hops");
    /* one-sided beats a bare incomplete */
    cr_assert_str_eq(match_id(E(INCOMPLETE) | E(ONE_SIDED)), "one-sided-capture");
}

Test(rules, nat_rewrite_does_not_apply_to_a_delivered_attempt)
{
    /* a connection that worked is "ok" even from an unexpected address (row forbids it) */
    cr_assert_str_eq(match_id(E(NAT_REWRITE) | E(CONNECTED)), "ok");
    cr_assert_str_eq(match_id(E(NAT_REWRITE) | E(NO_RESPONSE)), "nat-rewrite");
}

static enum pm_confidence conf_of(const char *id)
{
    const struct pm_rule *r = find_row(id);
    cr_assert_not_null(r, "no row %s", id);
    return r ? r->confidence : PM_CONF_LOW;
}

Test(rules, confidences_that_the_issue_fixes)
{
    cr_assert_eq(conf_of("remote-refused-unverified"), PM_CONF_LOW,
                 "no hop reference: the honest confidence");
    cr_assert_eq(conf_of("remote-refused"), PM_CONF_HIGH);
    cr_assert_eq(conf_of("inconclusive"), PM_CONF_LOW);
    cr_assert_eq(conf_of("incomplete"), PM_CONF_LOW);
    for (size_t i = 0; i < pm_nrules; i++) {
        if (pm_rules[i].verdict == PM_V_INCONCLUSIVE) {
            cr_assert_eq(pm_rules[i].confidence, PM_CONF_LOW, "row %s", pm_rules[i].id);
        }
    }
}

/* Issue 14's grading of a RST's origin, checked over every combination of the reference's
 * qualities rather than row by row: a wrong `high` sends a network team after the wrong
 * device. High only with the host's own reference and 2+ hops or a RST faster than half
 * the RTT; one hop or neighbours only: medium at most; references that disagree: low; no
 * reference: low, and not the recipient's postmaster as if it were settled. */
Test(rules, rst_origin_confidence_follows_the_reference)
{
    static const enum pm_ev place[] = {EV_RST_HOPS_SHORT, EV_RST_HOPS_MATCH, EV_RST_REFS_DISAGREE,
                                       EV_RST_NO_REF};
    for (size_t p = 0; p < PM_ARRAY_LEN(place); p++) {
        for (unsigned q = 0; q < 8; q++) {
            bool one = q & 1, prefix = q & 2, fast = q & 4;
            if (one && place[p] != EV_RST_HOPS_SHORT) {
                continue; /* "one hop short" exists only for a short RST */
            }
            if (prefix && place[p] == EV_RST_NO_REF) {
                continue;
            }
            pm_evset ev = E(RST) | PM_EV(place[p]) | (one ? E(RST_SHORT_ONE) : 0) |
                          (prefix ? E(RST_REF_PREFIX) : 0) | (fast ? E(RST_FAST) : 0);
            const struct pm_rule *r = pm_rules_match(ev);
            const char *id = r->id;
            if (place[p] == EV_RST_HOPS_SHORT) {
                cr_assert_eq(r->verdict, PM_V_PATH_RST, "%s", id);
                enum pm_confidence want = prefix ? (one ? PM_CONF_LOW : PM_CONF_MEDIUM)
                                          : one && !fast ? PM_CONF_MEDIUM
                                                         : PM_CONF_HIGH;
                cr_assert_eq(r->confidence, want, "short, one %d prefix %d fast %d: row %s",
                             one, prefix, fast, id);
            } else if (place[p] == EV_RST_HOPS_MATCH) {
                cr_assert_eq(r->verdict, PM_V_REMOTE_REFUSED, "%s", id);
                cr_assert_eq(r->confidence, prefix ? PM_CONF_MEDIUM : PM_CONF_HIGH,
                             "match, prefix %d: row %s", prefix, id);
            } else {
                cr_assert_eq(r->confidence, PM_CONF_LOW, "row %s", id);
                cr_assert_neq(r->owner, PM_OWN_RECIPIENT_POSTMASTER,
                              "row %s: an unsettled origin is nobody's fault yet", id);
            }
        }
    }
}

Test(rules, templates_use_only_known_placeholders)
{
    static const char *const keys[] = {"dst", "dport", "router", "hop", "src", "name", "short"};
    for (size_t i = 0; i < pm_nrules; i++) {
        const char *texts[] = {pm_rules[i].why, pm_rules[i].next_step};
        for (size_t t = 0; t < 2; t++) {
            for (const char *p = strchr(texts[t], '{'); p; p = strchr(p + 1, '{')) {
                const char *end = strchr(p, '}');
                cr_assert_not_null(end, "row %s: unclosed {", pm_rules[i].id);
                bool known = false;
                for (size_t k = 0; k < PM_ARRAY_LEN(keys); k++) {
                    known |= (size_t)(end - p - 1) == strlen(keys[k]) &&
                             strncmp(p + 1, keys[k], strlen(keys[k])) == 0;
                }
                cr_assert(known, "row %s: unknown placeholder %.*s", pm_rules[i].id,
                          (int)(end - p + 1), p);
            }
        }
        cr_assert((unsigned)pm_rules[i].verdict < PM_V__COUNT);
        cr_assert((unsigned)pm_rules[i].owner < PM_OWN__COUNT);
    }
}

Test(rules, evidence_names)
{
    for (int e = 0; e < EV__COUNT; e++) {
        cr_assert_str_neq(pm_ev_name((enum pm_ev)e), "?", "evidence bit %d has no name", e);
    }
    cr_assert_str_eq(pm_ev_name(EV_RST_HOPS_SHORT), "rst-hops-short");
    cr_assert_str_eq(pm_ev_name(EV__COUNT), "?");
}

/* issue 14: the rows for the edges of the evidence never claim high confidence on what the
 * capture does not hold: a cut dialogue is low (a refusal may follow), a reply to an unseen
 * command medium; a mode mismatch is high (both sides' bytes are on the wire). */
Test(rules, edge_rows_confidence)
{
    cr_assert_eq(pm_rules_match(E(CONNECTED) | E(DIALOGUE_CUT))->confidence, PM_CONF_LOW);
    cr_assert_eq(pm_rules_match(E(SMTP_REJECT) | E(REPLY_CMD_UNSEEN))->confidence,
                 PM_CONF_MEDIUM);
    cr_assert_eq(pm_rules_match(E(CONNECTED))->confidence, PM_CONF_HIGH);
    cr_assert_eq(pm_rules_match(E(SMTP_REJECT))->confidence, PM_CONF_HIGH);
    cr_assert_eq(pm_rules_match(E(TLS_MISMATCH))->confidence, PM_CONF_HIGH);
}
