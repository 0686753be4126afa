/*
 * test_watch.c — the parts of `portmortem watch` (issue 18) that need no root: RFC 5424
 * records (analyze/syslog_out.c) and their rate limit, the destination state machine
 * (analyze/deststate.c) and its dest-state JSON, the Prometheus exposition
 * (analyze/metrics.c), the capture ring's bound (capture/ring.c with dump.c's files, written
 * through a dead pcap handle), and the followed log across rename and copytruncate rotation
 * (capture/follow.c), in a temporary directory.
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../capture/capture_int.h"
#include "util.h"
#include "watch.h"

/* ---- syslog records ---- */

Test(watch_syslog, record_form)
{
    char b[512];
    pm_ns t = PM_SEC(1796688000) + PM_MS(123); /* 2026-12-08T00:00:00.123Z */
    size_t n = pm_syslog_format(b, sizeof(b), PM_SEV_WARNING, t, "mx1.example", 4242,
                                "dest-state", "{\"a\":1}");
    cr_assert_str_eq(b, "<20>1 2026-12-08T00:00:00.123000Z mx1.example portmortem 4242 "
                        "dest-state - {\"a\":1}");
    cr_assert_eq(n, strlen(b));
    /* PRI is facility mail (2) * 8 + severity */
    pm_syslog_format(b, sizeof(b), PM_SEV_INFO, t, "h", 1, "attempt", "{}");
    cr_assert(!strncmp(b, "<22>1 ", 6));
    pm_syslog_format(b, sizeof(b), PM_SEV_NOTICE, t, "h", 1, "attempt", "{}");
    cr_assert(!strncmp(b, "<21>1 ", 6));
}

Test(watch_syslog, header_fields_sanitised_and_bounded)
{
    char b[1024];
    /* a space or control character in HOSTNAME would shift every later field */
    pm_syslog_format(b, sizeof(b), PM_SEV_INFO, 0, "bad host\n", 1, "", "m");
    cr_assert(strstr(b, " bad_host_ portmortem 1 - - m"), "%s", b);
    char longid[80];
    memset(longid, 'x', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    pm_syslog_format(b, sizeof(b), PM_SEV_INFO, 0, "h", 1, longid, "m");
    const char *id = strstr(b, "portmortem 1 ") + strlen("portmortem 1 ");
    cr_assert_eq(strcspn(id, " "), 32, "MSGID is at most 32 characters (RFC 5424 6.2.7)");
    /* a record that does not fit is refused, not cut */
    cr_assert_eq(pm_syslog_format(b, 40, PM_SEV_INFO, 0, "h", 1, "attempt", "{\"long\":1}"), 0);
    cr_assert_str_eq(b, "");
}

Test(watch_syslog, rate_limit_counts_and_reports_once_per_second)
{
    struct pm_rate r;
    pm_rate_init(&r, 3);
    int sent = 0;
    for (int i = 0; i < 10; i++) {
        sent += pm_rate_take(&r, 100);
    }
    cr_assert_eq(sent, 3);
    cr_assert_eq(r.suppressed, 7);
    cr_assert_eq(pm_rate_report(&r, 100), 0, "said only once the second is over");
    cr_assert_eq(pm_rate_report(&r, 101), 7);
    cr_assert_eq(pm_rate_report(&r, 101), 0, "said once");
    /* a new second has a fresh allowance */
    cr_assert(pm_rate_take(&r, 101));
    cr_assert(pm_rate_take(&r, 101));
    cr_assert(pm_rate_take(&r, 101));
    cr_assert(!pm_rate_take(&r, 101));
    cr_assert_eq(r.suppressed, 8);
    cr_assert_eq(pm_rate_report(&r, 102), 1);
}

/* ---- destination state ---- */

static pm_addr a4(int last)
{
    pm_addr a;
    memset(&a, 0, sizeof(a));
    a.family = PM_AF_INET;
    a.b[0] = 203;
    a.b[2] = 113;
    a.b[3] = (uint8_t)last;
    return a;
}

static struct pm_dstate ds;

Test(watch_dstate, consecutive_low_confidence_failures)
{
    pm_dstate_init(&ds, 3);
    pm_addr d = a4(10);
    struct pm_dstate_entry *e;
    cr_assert_eq(pm_dstate_update(&ds, &d, 25, PM_V_SILENT_DROP, PM_OWN_UNKNOWN, PM_CONF_LOW,
                                  PM_SEC(1), &e), PM_DSC_NONE);
    cr_assert_eq(pm_dstate_update(&ds, &d, 25, PM_V_SILENT_DROP, PM_OWN_UNKNOWN, PM_CONF_LOW,
                                  PM_SEC(2), &e), PM_DSC_NONE);
    cr_assert_eq(pm_dstate_update(&ds, &d, 25, PM_V_SILENT_DROP, PM_OWN_UNKNOWN, PM_CONF_LOW,
                                  PM_SEC(3), &e), PM_DSC_FAILING);
    cr_assert(e->failing);
    cr_assert(!e->settled, "low confidence: failing, but no bundle");
    cr_assert_eq(e->since, PM_SEC(3));
    cr_assert_eq(ds.failing, 1);
    /* still failing: no second change */
    cr_assert_eq(pm_dstate_update(&ds, &d, 25, PM_V_SILENT_DROP, PM_OWN_UNKNOWN, PM_CONF_LOW,
                                  PM_SEC(4), &e), PM_DSC_NONE);
    cr_assert_eq(pm_dstate_update(&ds, &d, 25, PM_V_OK, PM_OWN_NONE, PM_CONF_HIGH, PM_SEC(5),
                                  &e), PM_DSC_RECOVERED);
    cr_assert_eq(ds.failing, 0);
    cr_assert_eq(e->since, PM_SEC(5));
}

Test(watch_dstate, settled_verdict_fails_at_once_per_port)
{
    pm_dstate_init(&ds, 3);
    pm_addr d = a4(10);
    struct pm_dstate_entry *e;
    cr_assert_eq(pm_dstate_update(&ds, &d, 25, PM_V_PATH_RST, PM_OWN_PATH, PM_CONF_MEDIUM,
                                  PM_SEC(10), &e), PM_DSC_FAILING);
    cr_assert(e->settled);
    cr_assert_eq(e->verdict, PM_V_PATH_RST);
    /* 587 of the same address is another destination */
    cr_assert_eq(pm_dstate_update(&ds, &d, 587, PM_V_OK, PM_OWN_NONE, PM_CONF_HIGH, PM_SEC(11),
                                  &e), PM_DSC_NONE);
    cr_assert_eq(ds.failing, 1);
    /* inconclusive at medium is not settled: it counts towards the run only */
    pm_addr d2 = a4(11);
    cr_assert_eq(pm_dstate_update(&ds, &d2, 25, PM_V_INCONCLUSIVE, PM_OWN_UNKNOWN,
                                  PM_CONF_MEDIUM, PM_SEC(12), &e), PM_DSC_NONE);
}

Test(watch_dstate, stale_failure_after_ok_changes_nothing)
{
    /* A refused attempt lingers for its retry span and is decided after a later ok one. */
    pm_dstate_init(&ds, 1);
    pm_addr d = a4(10);
    struct pm_dstate_entry *e;
    cr_assert_eq(pm_dstate_update(&ds, &d, 25, PM_V_OK, PM_OWN_NONE, PM_CONF_HIGH, PM_SEC(20),
                                  &e), PM_DSC_NONE);
    cr_assert_eq(pm_dstate_update(&ds, &d, 25, PM_V_PATH_RST, PM_OWN_PATH, PM_CONF_HIGH,
                                  PM_SEC(10), &e), PM_DSC_NONE);
    cr_assert_eq(ds.failing, 0);
    cr_assert_eq(pm_dstate_update(&ds, &d, 25, PM_V_PATH_RST, PM_OWN_PATH, PM_CONF_HIGH,
                                  PM_SEC(30), &e), PM_DSC_FAILING);
}

Test(watch_dstate, bounded_table_forgets_the_quiet_first)
{
    pm_dstate_init(&ds, 1);
    struct pm_dstate_entry *e;
    pm_addr bad = a4(1);
    cr_assert_eq(pm_dstate_update(&ds, &bad, 25, PM_V_PATH_RST, PM_OWN_PATH, PM_CONF_HIGH, 0,
                                  &e), PM_DSC_FAILING);
    for (int i = 0; i < PM_WATCH_MAX_DESTS + 10; i++) {
        pm_addr d;
        memset(&d, 0, sizeof(d));
        d.family = PM_AF_INET6;
        d.b[0] = 0x20;
        d.b[1] = 0x01;
        d.b[2] = 0x0d;
        d.b[3] = 0xb8;
        d.b[14] = (uint8_t)(i >> 8);
        d.b[15] = (uint8_t)i;
        pm_dstate_update(&ds, &d, 25, PM_V_OK, PM_OWN_NONE, PM_CONF_HIGH, PM_SEC(1 + i), &e);
    }
    cr_assert_eq(ds.n, PM_WATCH_MAX_DESTS);
    cr_assert_eq(ds.evicted, 11);
    cr_assert_eq(ds.failing, 1, "the failing destination is kept while quiet ones go");
    cr_assert_eq(pm_dstate_update(&ds, &bad, 25, PM_V_OK, PM_OWN_NONE, PM_CONF_HIGH, PM_SEC(9000),
                                  &e), PM_DSC_RECOVERED);
}

Test(watch_dstate, json_object)
{
    pm_dstate_init(&ds, 1);
    pm_addr d = a4(10);
    struct pm_dstate_entry *e;
    pm_dstate_update(&ds, &d, 25, PM_V_PATH_RST, PM_OWN_PATH, PM_CONF_HIGH, PM_SEC(1796688000),
                     &e);
    char b[1024];
    size_t n = pm_dstate_json(b, sizeof(b), e, "/var/lib/portmortem/bundles/x");
    cr_assert_eq(n, strlen(b));
    cr_assert_str_eq(b, "{\"type\":\"dest-state\",\"dest\":\"203.0.113.10\",\"port\":25,"
                        "\"state\":\"failing\",\"verdict\":\"path-rst\",\"owner\":\"path\","
                        "\"confidence\":\"high\",\"since\":\"2026-12-08T00:00:00.000000Z\","
                        "\"consecutive_failures\":1,\"bundle\":\"/var/lib/portmortem/bundles/x\"}");
    cr_assert_eq(pm_dstate_json(b, 20, e, NULL), 0, "too small: refused");
}

/* ---- metrics ---- */

static char *render(const struct pm_metrics *m)
{
    static char buf[PM_WATCH_METRICS_MAX];
    FILE *f = fmemopen(buf, sizeof(buf), "w");
    cr_assert_not_null(f);
    pm_metrics_write(m, f);
    fclose(f);
    return buf;
}

static struct pm_metrics mt;

Test(watch_metrics, exposition)
{
    uint16_t ports[] = {25, 587};
    pm_metrics_init(&mt, ports, 2);
    pm_metrics_attempt(&mt, PM_V_PATH_RST, PM_OWN_PATH, 25, PM_SEC(1700000000) + PM_MS(250));
    pm_metrics_attempt(&mt, PM_V_PATH_RST, PM_OWN_PATH, 25, PM_SEC(1600000000));
    pm_metrics_attempt(&mt, PM_V_OK, PM_OWN_NONE, 587, PM_SEC(1650000000));
    pm_metrics_attempt(&mt, PM_V_OK, PM_OWN_NONE, 2525, PM_SEC(1650000000));
    mt.failing = 1;
    mt.nifs = 1;
    pm_strlcpy(mt.ifname[0], "we\"ird\\", sizeof(mt.ifname[0]));
    mt.packets[0] = 77;
    mt.kdrops[0] = 2;
    mt.ntables = 1;
    mt.table[0] = "flows";
    mt.usage[0] = 0.5;
    const char *t = render(&mt);
    cr_assert(strstr(t, "# TYPE portmortem_attempts_total counter\n"));
    cr_assert(strstr(t, "\nportmortem_attempts_total{verdict=\"path-rst\",owner=\"path\","
                        "port=\"25\"} 2\n"), "%s", t);
    cr_assert(strstr(t, "\nportmortem_attempts_total{verdict=\"ok\",owner=\"none\",port=\"587\"} 1\n"));
    cr_assert(strstr(t, "port=\"other\"} 1\n"), "an unlisted port shares one label value");
    cr_assert(!strstr(t, "verdict=\"silent-drop\""), "no zero series for every combination");
    cr_assert(strstr(t, "\nportmortem_destinations_failing 1\n"));
    cr_assert(strstr(t, "portmortem_capture_packets_total{interface=\"we\\\"ird\\\\\"} 77\n"),
              "label values escaped: %s", t);
    cr_assert(strstr(t, "kind=\"kernel\"} 2\n"));
    cr_assert(strstr(t, "kind=\"interface\"} 0\n"));
    cr_assert(strstr(t, "portmortem_table_usage_ratio{table=\"flows\"} 0.5000\n"));
    cr_assert(strstr(t, "\nportmortem_last_decided_timestamp_seconds 1700000000.250\n"),
              "the newest decided attempt, not the last one decided");
    cr_assert(strstr(t, "\nportmortem_bundles_written_total 0\n"));
    cr_assert(strstr(t, "\nportmortem_syslog_suppressed_total 0\n"));
    /* every sample line belongs to a family declared by # TYPE before it */
    char *copy = strdup(t);
    char *save = NULL;
    char family[128] = "";
    for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (!strncmp(l, "# TYPE ", 7)) {
            sscanf(l + 7, "%127s", family);
        } else if (l[0] != '#') {
            cr_assert(!strncmp(l, family, strlen(family)), "%s outside %s", l, family);
        }
    }
    free(copy);
}

Test(watch_metrics, none_decided_yet)
{
    uint16_t ports[] = {25};
    pm_metrics_init(&mt, ports, 1);
    const char *t = render(&mt);
    cr_assert(strstr(t, "\nportmortem_last_decided_timestamp_seconds 0\n"));
    cr_assert(!strstr(t, "portmortem_attempts_total{"));
}

/* ---- the capture ring ---- */

static char tmpdir[64];

static void make_tmp(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/pm-test-watch.XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void rm_tmp(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    cr_assert_eq(system(cmd), 0);
}

Test(watch_ring, plan_splits_the_bound_over_interfaces)
{
    char w[256];
    uint64_t per;
    cr_assert_eq(pm_ring_plan("/s/ring", 16, 8, 1, w, sizeof(w), &per), 0);
    cr_assert_eq(per, 16000000u);
    cr_assert_str_eq(w, "/s/ring/portmortem.pcap");
    cr_assert_eq(pm_ring_plan("/s/ring", 16, 8, 3, w, sizeof(w), &per), 0);
    cr_assert_leq(per * 3, 16000000u);
    /* 1 MB over 4 interfaces leaves less than one full-size packet per file */
    cr_assert_eq(pm_ring_plan("/s/ring", 1, 8, 4, w, sizeof(w), &per), -1);
}

Test(watch_ring, never_over_the_bound, .init = make_tmp, .fini = rm_tmp)
{
    char ring[128], w[256];
    snprintf(ring, sizeof(ring), "%s/ring", tmpdir);
    cr_assert_eq(mkdir(ring, 0700), 0);
    uint64_t per;
    const int W = 4, IF = 2;
    cr_assert_eq(pm_ring_plan(ring, 1, W, IF, w, sizeof(w), &per), 0);
    pcap_t *p = pcap_open_dead(DLT_EN10MB, 65535);
    cr_assert_not_null(p);
    struct pm_dump_opts o = {.path = w, .max_bytes = per, .nfiles = W, .owner = (uid_t)-1,
                             .group = (gid_t)-1};
    struct pm_dump *d[2];
    d[0] = pm_dump_open(p, "eth0", IF, &o);
    d[1] = pm_dump_open(p, "eth1", IF, &o);
    cr_assert(d[0] && d[1]);
    static u_char pkt[1514];
    uint64_t max_total = 0;
    for (int i = 0; i < 6000; i++) {
        /* sizes vary, up to a full frame: the file's bound holds for any packet */
        struct pcap_pkthdr h = {.ts = {.tv_sec = i, .tv_usec = 0}};
        h.caplen = h.len = (bpf_u_int32)(60 + (i * 37) % 1455);
        pm_dump_packet(d[i & 1], &h, pkt);
        if (i % 500 == 0) {
            pm_dump_flush(d[0]);
            pm_dump_flush(d[1]);
            int n;
            uint64_t tot = pm_ring_disk_bytes(ring, &n);
            cr_assert_eq(n, W * IF, "exactly W files per interface, from the start");
            max_total = tot > max_total ? tot : max_total;
        }
    }
    pm_dump_end(d[0]);
    pm_dump_end(d[1]);
    int n;
    uint64_t tot = pm_ring_disk_bytes(ring, &n);
    cr_assert_eq(n, W * IF);
    cr_assert_leq(tot, (uint64_t)1000000u * W, "the ring holds at most C*W MB");
    cr_assert_leq(max_total, (uint64_t)1000000u * W);
    DIR *dir = opendir(ring);
    struct dirent *de;
    int full = 0;
    while ((de = readdir(dir)) != NULL) {
        struct stat sb;
        if (fstatat(dirfd(dir), de->d_name, &sb, 0) == 0 && S_ISREG(sb.st_mode)) {
            cr_assert_leq((uint64_t)sb.st_size, per, "%s: %lld > %llu", de->d_name,
                          (long long)sb.st_size, (unsigned long long)per);
            full += (uint64_t)sb.st_size > per / 2;
        }
    }
    closedir(dir);
    cr_assert_geq(full, W * IF - 2, "it wrapped: the files are in use (%d)", full);
    pm_dump_close(d[0], true);
    pm_dump_close(d[1], true);
    pcap_close(p);
}

/* ---- the followed log (tail -F) ---- */

static int nlines;
static char last_qid[64];

static void on_line(void *ctx, const char *path, const struct pm_logentry *le)
{
    (void)ctx;
    (void)path;
    nlines++;
    (void)le;
    pm_strlcpy(last_qid, "seen", sizeof(last_qid));
}

#define LINE(n) "Nov 28 18:32:4" #n " sender postfix/smtp[5057]: 3F2A1B2C3D: " \
    "connect to mx.example[203.0.113.10]:25: Connection refused\n"

static void append(const char *path, const char *text)
{
    FILE *f = fopen(path, "a");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

Test(watch_follow, rename_and_copytruncate, .init = make_tmp, .fini = rm_tmp)
{
    char path[128], old[140];
    snprintf(path, sizeof(path), "%s/mail.log", tmpdir);
    snprintf(old, sizeof(old), "%s/mail.log.1", tmpdir);
    append(path, LINE(0)); /* before the start: not read (tail -F starts at the end) */
    struct pm_log_options lo = {.tz = "UTC", .year = 2026, .ref_time = PM_NS_NONE};
    nlines = 0;
    struct pm_follow *f = pm_follow_open(path, false, &lo, on_line, NULL);
    cr_assert_not_null(f);
    append(path, LINE(1));
    pm_follow_poll(f, false);
    cr_assert_eq(nlines, 1);
    /* rename rotation: a line still written to the old file, then the new one */
    cr_assert_eq(rename(path, old), 0);
    append(old, LINE(2));
    append(path, LINE(3) LINE(4));
    pm_follow_poll(f, true);
    pm_follow_poll(f, true);
    cr_assert_eq(nlines, 4, "the old file's last line and the new file from its start");
    cr_assert_eq(pm_follow_stats(f)->reopened, 1);
    /* copytruncate: the same file emptied, then written again */
    cr_assert_eq(truncate(path, 0), 0);
    append(path, LINE(5));
    pm_follow_poll(f, true);
    cr_assert_eq(nlines, 5, "read from 0 after the size shrank");
    cr_assert_eq(pm_follow_stats(f)->truncated, 1);
    pm_follow_close(f);
}
