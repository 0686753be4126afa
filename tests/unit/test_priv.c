/* test_priv.c — the privilege drop (capture/priv.c), for real: Criterion runs each test in
 * its own process, so a test may drop root and check what the kernel then says. Tests that
 * need root skip otherwise. Also the small pure helpers of live capture that decide what
 * the drop must keep or where files go: -w file naming and the firewall-line filter. */
#include <criterion/criterion.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../capture/capture_int.h"
#include "pm.h"
#include "priv.h"
#include "util.h"

static const char status_text[] =
    "Name:\tportmortem\n"
    "Umask:\t0022\n"
    "Uid:\t65534\t65534\t65534\t65534\n"
    "Gid:\t65534\t65534\t65534\t65534\n"
    "Groups:\t4 65534 \n"
    "CapInh:\t0000000000000000\n"
    "CapPrm:\t0000000000000000\n"
    "CapEff:\t0000000000000000\n"
    "CapBnd:\t0000000000000000\n"
    "CapAmb:\t0000000000000000\n"
    "NoNewPrivs:\t1\n";

Test(priv_status, parses_ids_groups_caps_and_no_new_privs)
{
    struct pm_proc_creds pc;
    cr_assert(pm_priv_parse_status(status_text, &pc));
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(pc.uid[i], 65534);
        cr_assert_eq(pc.gid[i], 65534);
    }
    cr_assert_eq(pc.ngroups, 2);
    cr_assert_eq(pc.groups[0], 4);
    cr_assert_eq(pc.groups[1], 65534);
    cr_assert(pc.have_caps);
    cr_assert_eq(pc.cap_eff, 0);
    cr_assert_eq(pc.no_new_privs, 1);
}

Test(priv_status, root_with_full_capabilities)
{
    struct pm_proc_creds pc;
    cr_assert(pm_priv_parse_status("Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t\n"
                                   "CapEff:\t000001ffffffffff\nNoNewPrivs:\t0\n",
                                   &pc));
    cr_assert_eq(pc.uid[1], 0);
    cr_assert_eq(pc.ngroups, 0);
    cr_assert_eq(pc.cap_eff, 0x1ffffffffffULL);
    cr_assert_eq(pc.no_new_privs, 0);
}

Test(priv_status, text_without_ids_is_refused)
{
    struct pm_proc_creds pc;
    cr_assert_not(pm_priv_parse_status("Name:\tx\nCapEff:\t0\n", &pc));
    cr_assert_not(pm_priv_parse_status("Uid:\tnot numbers\nGid:\t1 2 3 4\n", &pc));
    cr_assert_not(pm_priv_parse_status("", &pc));
    cr_assert_eq(pc.no_new_privs, -1, "unknown, not 0");
}

static void need_root(void)
{
    if (geteuid() != 0) {
        cr_skip_test("needs root: the drop changes this process's ids");
    }
    if (!getpwnam("nobody")) {
        cr_skip_test("no user nobody on this system");
    }
}

Test(priv_drop, to_nobody_verified_by_the_kernel)
{
    need_root();
    struct passwd *pw = getpwnam("nobody");
    uid_t nuid = pw->pw_uid;
    gid_t ngid = pw->pw_gid;
    struct pm_priv_result r;
    cr_assert_eq(pm_priv_drop(NULL, NULL, 0, &r), 0);
    cr_assert(r.was_root);
    cr_assert(r.dropped);
    cr_assert_eq(r.uid, nuid);
    cr_assert_eq(r.gid, ngid);
    cr_assert_str_eq(r.user, "nobody");
    cr_assert(strncmp(r.text, "dropped to nobody (uid ", 23) == 0, "text: %s", r.text);
    cr_assert(strstr(r.text, "no_new_privs set"), "text: %s", r.text);
    uid_t ru, eu, su;
    gid_t rg, eg, sg;
    cr_assert_eq(getresuid(&ru, &eu, &su), 0);
    cr_assert(ru == nuid && eu == nuid && su == nuid);
    cr_assert_eq(getresgid(&rg, &eg, &sg), 0);
    cr_assert(rg == ngid && eg == ngid && sg == ngid);
    cr_assert_neq(setuid(0), 0, "root must be out of reach");
    struct pm_proc_creds pc;
    cr_assert(pm_priv_read_status(&pc));
    cr_assert_eq(pc.cap_eff, 0);
    cr_assert_eq(pc.cap_prm, 0);
    cr_assert_eq(pc.cap_amb, 0);
    cr_assert_eq(pc.cap_bnd, 0, "the bounding set is emptied while root");
    cr_assert_eq(pc.no_new_privs, 1);
    for (int i = 0; i < pc.ngroups; i++) {
        cr_assert_neq(pc.groups[i], 0);
    }
}

Test(priv_drop, keeps_the_log_group_but_never_group_0)
{
    need_root();
    const struct group *adm = getgrnam("adm");
    gid_t g = adm ? adm->gr_gid : 4;
    gid_t keep[] = {g, 0};
    struct pm_priv_result r;
    pm_verbosity = -1; /* the warning about group 0 is expected */
    cr_assert_eq(pm_priv_drop("nobody", keep, 2, &r), 0);
    gid_t groups[64];
    int n = getgroups(64, groups);
    bool has_g = false;
    for (int i = 0; i < n; i++) {
        cr_assert_neq(groups[i], 0, "group 0 must never be kept");
        has_g |= groups[i] == g;
    }
    cr_assert(has_g, "the requested group %u is kept", (unsigned)g);
    char want[16];
    snprintf(want, sizeof(want), "%u", (unsigned)g);
    cr_assert(strstr(r.text, want), "groups in the text: %s", r.text);
}

Test(priv_drop, unknown_user_changes_nothing)
{
    need_root();
    cr_assert_eq(pm_priv_check_user("no-such-user-pm"), PM_EXIT_USAGE);
    struct pm_priv_result r;
    cr_assert_eq(pm_priv_drop("no-such-user-pm", NULL, 0, &r), PM_EXIT_UNREADABLE);
    cr_assert_not(r.dropped);
    cr_assert_eq(geteuid(), 0, "a refused drop leaves the process as it was");
}

Test(priv_drop, a_uid_0_user_is_refused)
{
    need_root();
    cr_assert_eq(pm_priv_check_user("root"), PM_EXIT_USAGE);
    struct pm_priv_result r;
    cr_assert_eq(pm_priv_drop("root", NULL, 0, &r), PM_EXIT_UNREADABLE);
    cr_assert_not(r.dropped);
}

Test(priv_drop, not_root_says_so_and_sets_no_new_privs)
{
    need_root();
    /* Become an ordinary user first, as if started without root. */
    struct passwd *pw = getpwnam("nobody");
    cr_assert_eq(setgroups(0, NULL), 0);
    cr_assert_eq(setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid), 0);
    cr_assert_eq(setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid), 0);
    struct pm_priv_result r;
    cr_assert_eq(pm_priv_drop("nobody", NULL, 0, &r), 0);
    cr_assert_not(r.was_root);
    cr_assert_not(r.dropped);
    cr_assert(strncmp(r.text, "not started as root (uid ", 25) == 0, "text: %s", r.text);
    cr_assert(strstr(r.text, "no_new_privs set"), "text: %s", r.text);
    struct pm_proc_creds pc;
    cr_assert(pm_priv_read_status(&pc));
    cr_assert_eq(pc.no_new_privs, 1);
}

Test(priv_files, the_group_to_keep_for_a_log)
{
    char path[] = "/tmp/pm-test-priv-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    gid_t g = 12345;
    if (geteuid() == 0) {
        cr_assert_eq(chown(path, 0, 4), 0);
        cr_assert_eq(chmod(path, 0640), 0);
        cr_assert(pm_priv_group_for_file(path, &g), "root:adm 0640 (Debian's mail.log)");
        cr_assert_eq(g, 4);
        cr_assert_eq(chown(path, 0, 0), 0);
        cr_assert_not(pm_priv_group_for_file(path, &g), "group root is never kept");
        cr_assert_eq(chown(path, 0, 4), 0);
    }
    cr_assert_eq(chmod(path, 0600), 0);
    cr_assert_not(pm_priv_group_for_file(path, &g), "not group-readable: nothing to keep");
    cr_assert_not(pm_priv_group_for_file("-", &g), "standard input has no group");
    cr_assert_not(pm_priv_group_for_file("/nonexistent/pm", &g));
    unlink(path);
}

/* ---- helpers of live capture ---- */

Test(capture_helpers, dump_file_names)
{
    char b[256];
    pm_dump_name(b, sizeof(b), "cap.pcap", "eth0", 1, 0, 0);
    cr_assert_str_eq(b, "cap.pcap", "one interface, no ring: the name as given");
    pm_dump_name(b, sizeof(b), "/x/cap.pcap", "eth0", 2, 0, 0);
    cr_assert_str_eq(b, "/x/cap.eth0.pcap");
    pm_dump_name(b, sizeof(b), "cap.pcap", "eth0", 1, 3, 10);
    cr_assert_str_eq(b, "cap.3.pcap");
    pm_dump_name(b, sizeof(b), "cap.pcap", "lo", 2, 7, 100);
    cr_assert_str_eq(b, "cap.lo.07.pcap", "numbers padded to the ring's width");
    pm_dump_name(b, sizeof(b), "dir.v1/capture", "eth0", 2, 1, 2);
    cr_assert_str_eq(b, "dir.v1/capture.eth0.1", "no extension: parts appended");
    pm_dump_name(b, sizeof(b), "CAP.CAP", "any", 1, 0, 0);
    cr_assert_str_eq(b, "CAP.CAP");
}

Test(capture_helpers, firewall_lines_that_touch_the_ports)
{
    const uint16_t p[] = {25, 465, 587};
    cr_assert(pm_fw_line_mentions_port("-A OUTPUT -p tcp -m tcp --dport 25 -j REJECT", p, 3));
    cr_assert(pm_fw_line_mentions_port("-A FORWARD -p tcp -m multiport --dports 80,587 -j DROP", p, 3));
    cr_assert(pm_fw_line_mentions_port("-A OUTPUT -p tcp --dport 1:1024 -j DROP", p, 3), "range");
    cr_assert(pm_fw_line_mentions_port("-A OUTPUT -p tcp ! --dport 25 -j ACCEPT", p, 3));
    cr_assert(pm_fw_line_mentions_port("tcp dport { 80, 465 } counter drop", p, 3), "nft set");
    cr_assert(pm_fw_line_mentions_port("tcp dport smtp reject", p, 3), "service name");
    cr_assert(pm_fw_line_mentions_port("th dport 20-30 drop", p, 3), "nft range");
    cr_assert(pm_fw_line_mentions_port("tcp dport != 25 accept", p, 3));
    cr_assert_not(pm_fw_line_mentions_port("-A OUTPUT -p tcp --dport 80 -j DROP", p, 3));
    cr_assert_not(pm_fw_line_mentions_port("-A OUTPUT -d 10.25.0.1/32 -j DROP", p, 3),
                  "an address is not a port");
    cr_assert_not(pm_fw_line_mentions_port("tcp dport 2525 drop", p, 3));
    cr_assert_not(pm_fw_line_mentions_port("report 25 things", p, 3));
}

/* The followed MTA log: partial lines wait for their newline, rotation and truncation are
 * followed, and only lines of interest reach the engine. */
struct follow_seen {
    int n;
    uint32_t lines[8];
    char hosts[8][PM_LOG_HOST];
};

static void on_entry(void *ctx, const char *path, const struct pm_logentry *le)
{
    (void)path;
    struct follow_seen *s = ctx;
    if (s->n < 8) {
        s->lines[s->n] = le->line;
        pm_strlcpy(s->hosts[s->n], le->host, sizeof(s->hosts[0]));
    }
    s->n++;
}

static void append(const char *path, const char *text)
{
    FILE *f = fopen(path, "a");
    cr_assert(f);
    fputs(text, f);
    fclose(f);
}

#define FAIL_LINE(h, a) "Nov 28 18:55:22 sender postfix/smtp[16773]: connect to " h "[" a "]:25: Connection refused\n"

Test(capture_helpers, follow_like_tail_F)
{
    char dir[] = "/tmp/pm-test-follow-XXXXXX";
    cr_assert(mkdtemp(dir));
    char path[256], old[256];
    snprintf(path, sizeof(path), "%s/maillog", dir);
    snprintf(old, sizeof(old), "%s/maillog.1", dir);
    append(path, FAIL_LINE("before.example", "192.0.2.1") "Nov 28 18:55:22 sender postfix/qmgr[1]: x\n"
                 "Nov 28 18:55:22 sender postfix/smtp[16773]: connect to half");
    struct pm_log_options lo = {.tz = "UTC", .year = 2026, .ref_time = PM_NS_NONE};
    struct follow_seen s = {0};
    struct pm_follow *f = pm_follow_open(path, false, &lo, on_entry, &s);
    cr_assert(f);
    pm_follow_poll(f, true);
    cr_assert_eq(s.n, 0, "starts at the end: old lines are not replayed");
    append(path, ".example[192.0.2.2]:25: Connection refused\n");
    pm_follow_poll(f, true);
    cr_assert_eq(s.n, 1, "the line being written at start is read whole when it ends");
    cr_assert_str_eq(s.hosts[0], "half.example");
    cr_assert_eq(s.lines[0], 3, "line numbers count the lines before the start");
    append(path, "Nov 28 18:55:23 sender postfix/smtp[16773]: connect to part");
    pm_follow_poll(f, true);
    cr_assert_eq(s.n, 1, "a partial line waits for its newline");
    /* logrotate: rename, the writer finishes its line in the old file, a new file appears. */
    cr_assert_eq(rename(path, old), 0);
    append(old, "ial.example[192.0.2.3]:25: Connection refused\n");
    append(path, FAIL_LINE("new.example", "192.0.2.4"));
    pm_follow_poll(f, true);
    cr_assert_eq(s.n, 3, "the old file is finished, then the new one read from its start");
    cr_assert_str_eq(s.hosts[1], "partial.example");
    cr_assert_str_eq(s.hosts[2], "new.example");
    cr_assert_eq(s.lines[2], 1, "line numbers restart in the new file");
    cr_assert_eq(pm_follow_stats(f)->reopened, 1);
    /* copytruncate: the same file, shorter than what was read. */
    cr_assert_eq(truncate(path, 0), 0);
    append(path, FAIL_LINE("t.example", "192.0.2.5"));
    pm_follow_poll(f, false);
    cr_assert_eq(s.n, 4);
    cr_assert_str_eq(s.hosts[3], "t.example");
    cr_assert_eq(pm_follow_stats(f)->truncated, 1);
    /* An overlong line is skipped, the next one still read. */
    char big[10000];
    memset(big, 'x', sizeof(big) - 2);
    big[sizeof(big) - 2] = '\n';
    big[sizeof(big) - 1] = '\0';
    append(path, big);
    append(path, FAIL_LINE("after.example", "192.0.2.6"));
    pm_follow_poll(f, false);
    cr_assert_eq(s.n, 5);
    cr_assert_str_eq(s.hosts[4], "after.example");
    cr_assert_eq(pm_follow_stats(f)->overlong, 1);
    pm_follow_close(f);
    unlink(path);
    unlink(old);
    rmdir(dir);
}
