/*
 * test_probe_verdict.c — the probe's per-address conclusion (capture/probe_verdict.c): one
 * test per row, and a test that fails when a row has none; compared ports are evidence about
 * the host, never the diagnosis — a connect, a banner or a RST on another port means the host
 * is up, so a failing port 25 is "blocked on the path or at the host", never "the host is
 * down"; the TTL walk's result is what the conclusion cites when it ran (issue 14.6).
 */
#include <criterion/criterion.h>

#include <string.h>

#include "../../capture/probe_int.h"
#include "util.h"

static struct pm_probe_facts base(void)
{
    struct pm_probe_facts f;
    memset(&f, 0, sizeof(f));
    f.dst = "203.0.113.10";
    f.port = 25;
    f.syn_seen = 1;
    f.error = "connect: Connection timed out";
    return f;
}

static struct pm_probe_verdict conclude(const struct pm_probe_facts *f)
{
    struct pm_probe_verdict v;
    memset(&v, 0, sizeof(v));
    pm_probe_conclude(f, &v);
    return v;
}

static const char *tested[] = {"port-25-ok",      "port-25-smtp-problem", "port-25-stopped-locally",
                               "port-25-blocked", "host-unreachable",     "port-25-failed"};

Test(probe_verdict, every_row_has_a_test)
{
    cr_assert_eq(pm_probe_nverdicts, PM_ARRAY_LEN(tested), "one test per row");
    for (size_t i = 0; i < pm_probe_nverdicts; i++) {
        bool found = false;
        for (size_t j = 0; j < PM_ARRAY_LEN(tested); j++) {
            found |= strcmp(pm_probe_verdict_id(i), tested[j]) == 0;
        }
        cr_assert(found, "row %s has no test here", pm_probe_verdict_id(i));
    }
}

Test(probe_verdict_row, port_25_ok)
{
    struct pm_probe_facts f = base();
    f.connected = f.smtp_ok = true;
    snprintf(f.other_answered, sizeof(f.other_answered), "587"); /* 587 refused: no matter */
    f.other_tried = 1;
    struct pm_probe_verdict v = conclude(&f);
    cr_assert_str_eq(v.id, "port-25-ok");
    cr_assert_not(v.failed, "a failing compared port never fails the diagnosed one");
    cr_assert_eq(v.verdict, PM_V_OK);
    cr_assert_eq(v.owner, PM_OWN_NONE);
    cr_assert_str_eq(v.next, "");
}

Test(probe_verdict_row, port_25_smtp_problem)
{
    struct pm_probe_facts f = base();
    f.connected = true;
    f.error = "greeting: 554 go away";
    struct pm_probe_verdict v = conclude(&f);
    cr_assert_str_eq(v.id, "port-25-smtp-problem");
    cr_assert(v.failed);
    cr_assert_eq(v.verdict, PM_V_SMTP_POLICY);
    cr_assert_eq(v.owner, PM_OWN_RECIPIENT_POSTMASTER);
    cr_assert_eq(v.confidence, PM_CONF_MEDIUM);
    cr_assert(strstr(v.next, "greeting: 554 go away"), "%s", v.next);
}

Test(probe_verdict_row, port_25_stopped_locally)
{
    struct pm_probe_facts f = base();
    f.syn_seen = 0;
    snprintf(f.other_ok, sizeof(f.other_ok), "587");
    f.other_tried = 1;
    struct pm_probe_verdict v = conclude(&f);
    cr_assert_str_eq(v.id, "port-25-stopped-locally");
    cr_assert_eq(v.verdict, PM_V_LOCAL_FIREWALL);
    cr_assert_eq(v.owner, PM_OWN_SENDER_HOST);
    cr_assert_eq(v.confidence, PM_CONF_HIGH);
    cr_assert(strstr(v.next, "OUTPUT rule"), "%s", v.next);
}

Test(probe_verdict_row, port_25_blocked)
{
    struct pm_probe_facts f = base();
    snprintf(f.other_ok, sizeof(f.other_ok), "587");
    f.other_tried = 1;
    struct pm_probe_verdict v = conclude(&f);
    cr_assert_str_eq(v.id, "port-25-blocked");
    cr_assert(strstr(v.text, "is up (port 587 connects)"), "%s", v.text);
    cr_assert(strstr(v.text, "TCP 25 is blocked on the path or at the host"), "%s", v.text);
    /* The checks alone do not say why: inconclusive, and the walk is the next step. */
    cr_assert_eq(v.verdict, PM_V_INCONCLUSIVE);
    cr_assert_eq(v.confidence, PM_CONF_LOW);
    cr_assert(strstr(v.next, "--ttl-walk"), "%s", v.next);
}

Test(probe_verdict, a_rst_on_another_port_proves_the_host_is_up)
{
    /* Before: "answers on no port tried ...: the host is down or everything to it is
     * blocked", although 587's RST had just shown something answering for it. */
    struct pm_probe_facts f = base();
    snprintf(f.other_answered, sizeof(f.other_answered), "587");
    f.other_tried = 1;
    struct pm_probe_verdict v = conclude(&f);
    cr_assert_str_eq(v.id, "port-25-blocked");
    cr_assert(strstr(v.text, "port 587 answers"), "%s", v.text);
    cr_assert_null(strstr(v.text, "down"), "%s", v.text);
}

Test(probe_verdict, the_walk_reaching_the_host_proves_it_is_up)
{
    struct pm_probe_facts f = base();
    f.walk_ran = f.walk_host_up = true;
    f.walk_text = "203.0.113.10 (3 routers away) answered RST at TTL 4";
    struct pm_probe_verdict v = conclude(&f);
    cr_assert_str_eq(v.id, "port-25-blocked");
    cr_assert(strstr(v.text, "the TTL walk reached it"), "%s", v.text);
    cr_assert(strstr(v.text, "; the TTL walk: 203.0.113.10 (3 routers away)"), "%s", v.text);
}

Test(probe_verdict_row, host_unreachable)
{
    struct pm_probe_facts f = base();
    f.other_tried = 2; /* 587 and 465 timed out as well */
    struct pm_probe_verdict v = conclude(&f);
    cr_assert_str_eq(v.id, "host-unreachable");
    cr_assert(strstr(v.text, "the host is down or everything to it is blocked"), "%s", v.text);
    cr_assert_eq(v.verdict, PM_V_INCONCLUSIVE);
    cr_assert(strstr(v.next, "--ttl-walk"), "%s", v.next);
}

Test(probe_verdict, a_located_walk_replaces_the_guess)
{
    struct pm_probe_facts f = base();
    f.other_tried = 1;
    f.walk_ran = f.walk_located = true;
    f.walk_text = "SYNs to port 25 pass hop 2 (198.51.100.1) and vanish after it";
    struct pm_probe_verdict v = conclude(&f);
    cr_assert_str_eq(v.id, "host-unreachable");
    cr_assert_null(strstr(v.text, "host is down"), "%s", v.text);
    cr_assert(strstr(v.text, "vanish after it"), "%s", v.text);
}

Test(probe_verdict_row, port_25_failed)
{
    struct pm_probe_facts f = base();
    struct pm_probe_verdict v = conclude(&f);
    cr_assert_str_eq(v.id, "port-25-failed");
    cr_assert(strstr(v.text, "--compare-ports 587,465"), "%s", v.text);
    cr_assert_eq(v.verdict, PM_V_INCONCLUSIVE);
    cr_assert_eq(v.owner, PM_OWN_UNKNOWN);
    cr_assert(strstr(v.next, "--ttl-walk"), "%s", v.next);
    /* After a walk that located the failure, the hint to compare ports is not the point. */
    f.walk_ran = f.walk_located = true;
    f.walk_text = "rejected at hop 2 by 198.51.100.1";
    v = conclude(&f);
    cr_assert_str_eq(v.id, "port-25-failed");
    cr_assert(strstr(v.text, "rejected at hop 2"), "%s", v.text);
    cr_assert_null(strstr(v.text, "--compare-ports"), "%s", v.text);
}

/* A real walk (analyze/walk.c) through pm_probe_facts_walk: a router rejecting at hop 2. */
static struct pm_walk *rejecting_walk(void)
{
    static struct pm_walk w;
    memset(&w, 0, sizeof(w));
    w.ran = true;
    pm_addr_parse("203.0.113.10", &w.dst);
    const char *from[] = {"192.0.2.1", "198.51.100.1", "198.51.100.1"};
    for (int ttl = 1; ttl <= 3; ttl++) {
        w.hop[ttl].probes = 1;
        w.hop[ttl].r.kind = PM_WR_ICMP;
        w.hop[ttl].r.icmp_type = ttl < 3 ? 11 : 3;
        w.hop[ttl].r.icmp_code = ttl < 3 ? 0 : 13;
        w.hop[ttl].r.ttl = (uint8_t)(64 - (ttl - 1));
        pm_addr_parse(from[ttl - 1], &w.hop[ttl].r.from);
    }
    w.top = 3;
    w.end_ttl = 3;
    pm_walk_analyse(&w);
    return &w;
}

Test(probe_verdict, a_walk_naming_a_failure_gives_verdict_owner_and_next)
{
    struct pm_probe_facts f = base();
    char text[400], next[400];
    pm_probe_facts_walk(&f, rejecting_walk(), text, sizeof(text), next, sizeof(next));
    cr_assert(f.walk_ran && f.walk_located && !f.walk_host_up);
    struct pm_probe_verdict v = conclude(&f);
    cr_assert_str_eq(v.id, "port-25-failed");
    cr_assert_eq(v.verdict, PM_V_PATH_ICMP);
    cr_assert_eq(v.owner, PM_OWN_PATH);
    cr_assert_eq(v.confidence, PM_CONF_HIGH);
    cr_assert(strstr(v.next, "hop 2 (198.51.100.1) rejecting"), "%s", v.next);
    cr_assert_null(strstr(v.next, "--ttl-walk"), "after a walk, never 'run the walk': %s",
                   v.next);
    cr_assert(strstr(v.text, "the TTL walk: rejected at hop 2"), "%s", v.text);
}

Test(probe_verdict, the_walk_never_overrides_direct_evidence)
{
    /* port 25 connected: whatever a walk says, the connect is the diagnosis */
    struct pm_probe_facts f = base();
    f.connected = f.smtp_ok = true;
    char text[400], next[400];
    pm_probe_facts_walk(&f, rejecting_walk(), text, sizeof(text), next, sizeof(next));
    struct pm_probe_verdict v = conclude(&f);
    cr_assert_str_eq(v.id, "port-25-ok");
    cr_assert_eq(v.verdict, PM_V_OK);
    cr_assert_str_eq(v.next, "");
    /* and a walk that did not run adds nothing */
    struct pm_probe_facts g = base();
    struct pm_walk none;
    memset(&none, 0, sizeof(none));
    pm_probe_facts_walk(&g, &none, text, sizeof(text), next, sizeof(next));
    cr_assert_not(g.walk_ran);
    pm_probe_facts_walk(&g, NULL, text, sizeof(text), next, sizeof(next));
    cr_assert_not(g.walk_ran);
}
