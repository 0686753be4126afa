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
}

Test(probe_verdict_row, port_25_smtp_problem)
{
    struct pm_probe_facts f = base();
    f.connected = true;
    f.error = "greeting: 554 go away";
    struct pm_probe_verdict v = conclude(&f);
    cr_assert_str_eq(v.id, "port-25-smtp-problem");
    cr_assert(v.failed);
}

Test(probe_verdict_row, port_25_stopped_locally)
{
    struct pm_probe_facts f = base();
    f.syn_seen = 0;
    snprintf(f.other_ok, sizeof(f.other_ok), "587");
    f.other_tried = 1;
    cr_assert_str_eq(conclude(&f).id, "port-25-stopped-locally");
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
    /* After a walk that located the failure, the hint to compare ports is not the point. */
    f.walk_ran = f.walk_located = true;
    f.walk_text = "rejected at hop 2 by 198.51.100.1";
    v = conclude(&f);
    cr_assert_str_eq(v.id, "port-25-failed");
    cr_assert(strstr(v.text, "rejected at hop 2"), "%s", v.text);
    cr_assert_null(strstr(v.text, "--compare-ports"), "%s", v.text);
}
