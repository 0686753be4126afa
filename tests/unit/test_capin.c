/*
 * test_capin.c — capture files in (include/capin.h, analyze/capin.c): classic pcap with µs
 * and ns timestamps in both byte orders, pcapng through the same interface (interfaces,
 * loopback, frames), a record cut short (DAMAGED with a message naming file and record), a
 * file that is no capture at all (NULL with a message), the BPF filter passing and dropping
 * records (also per link type in pcapng, and a filter that does not compile), the recording
 * span counting filtered records too, and pm_inputset: NAME=FILE labels, shared vantages,
 * the time-ordered merge across files, damage reported for the set.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "capin.h"
#include "decode.h"
#include "pktbuild.h"

TestSuite(capin, .fini = pb_tmpclean);

#define T0 PM_SEC(1700000000)

static size_t syn_to(uint8_t *b, size_t cap, uint16_t dport)
{
    return pb_seg(b, cap, "10.0.0.1", 40000, "192.0.2.25", dport, PM_TH_SYN, 1, 0, NULL, 0, 64);
}

/* A UDP/53 datagram (not TCP): what a filter for the SMTP ports drops. */
static size_t udp53(uint8_t *b, size_t cap)
{
    const uint8_t udp[12] = {0x9c, 0x40, 0, 53, 0, 12, 0, 0, 'q', 'u', 'e', 'r'};
    struct pb_ip ip = {.family = PM_AF_INET, .src = "10.0.0.1", .dst = "10.0.0.53", .proto = 17};
    return pb_ip(b, cap, &ip, udp, sizeof(udp));
}

static struct pm_capfile *open_ok(const char *path, const char *filter)
{
    char err[512] = "";
    struct pm_capfile *cf = pm_capfile_open(path, filter, err, sizeof(err));
    cr_assert(cf != NULL, "cannot open %s: %s", path, err);
    return cf;
}

static void classic(bool nano, bool big)
{
    uint8_t a[PB_MAX], b[PB_MAX];
    size_t na = syn_to(a, sizeof(a), 25), nb = syn_to(b, sizeof(b), 587);
    struct pb_rec recs[2] = {{T0 + 123456789, a, (uint32_t)na, 0},
                             {T0 + PM_SEC(2) + 1000, b, 30, (uint32_t)nb}};
    char path[256];
    pb_tmppath(path, sizeof(path), "c.pcap");
    pb_write_pcap(path, PM_LT_RAW, nano, big, 65535, recs, 2);
    struct pm_capfile *cf = open_ok(path, NULL);
    cr_assert_str_eq(pm_capfile_format(cf), nano ? "pcap-ns" : "pcap");
    cr_assert_eq(pm_capfile_first_linktype(cf), PM_LT_RAW);
    struct pm_record r;
    cr_assert_eq(pm_capfile_next(cf, &r), PM_READ_OK);
    cr_assert_eq(r.ts, nano ? T0 + 123456789 : T0 + 123456000, "µs files keep µs only");
    cr_assert_eq(r.frame, 1);
    cr_assert_eq(r.caplen, na);
    cr_assert_eq(r.wirelen, na);
    cr_assert_eq(r.linktype, PM_LT_RAW);
    cr_assert_eq(memcmp(r.data, a, na), 0);
    cr_assert_eq(pm_capfile_next(cf, &r), PM_READ_OK);
    cr_assert_eq(r.ts, T0 + PM_SEC(2) + 1000, "1000 ns is exactly 1 µs");
    cr_assert_eq(r.frame, 2);
    cr_assert_eq(r.caplen, 30);
    cr_assert_eq(r.wirelen, nb);
    cr_assert_eq(pm_capfile_next(cf, &r), PM_READ_EOF);
    const struct pm_capfile_stats *st = pm_capfile_stats(cf);
    cr_assert_eq(st->records, 2);
    cr_assert_eq(st->filtered, 2);
    cr_assert_eq(st->damaged, 0);
    cr_assert_eq(st->first_ts, nano ? T0 + 123456789 : T0 + 123456000);
    cr_assert_eq(st->last_ts, T0 + PM_SEC(2) + 1000);
    struct stat sb;
    stat(path, &sb);
    cr_assert_eq(st->file_size, (uint64_t)sb.st_size);
    pm_capfile_close(cf);
}

Test(capin, classic_microseconds_little_endian) { classic(false, false); }
Test(capin, classic_nanoseconds_little_endian) { classic(true, false); }
Test(capin, classic_microseconds_big_endian) { classic(false, true); }
Test(capin, classic_nanoseconds_big_endian) { classic(true, true); }

Test(capin, cut_record_is_damage_with_a_message)
{
    uint8_t a[PB_MAX];
    size_t na = syn_to(a, sizeof(a), 25);
    struct pb_rec recs[2] = {{T0, a, (uint32_t)na, 0}, {T0 + PM_SEC(1), a, (uint32_t)na, 0}};
    char path[256];
    pb_tmppath(path, sizeof(path), "cut.pcap");
    pb_write_pcap(path, PM_LT_RAW, false, false, 65535, recs, 2);
    /* append a record header that promises 60 bytes, then only 10 */
    FILE *f = fopen(path, "ab");
    const uint32_t rh[4] = {1700000002, 0, 60, 60};
    fwrite(rh, sizeof(rh), 1, f);
    fwrite(a, 1, 10, f);
    fclose(f);
    struct pm_capfile *cf = open_ok(path, NULL);
    struct pm_record r;
    cr_assert_eq(pm_capfile_next(cf, &r), PM_READ_OK);
    cr_assert_eq(pm_capfile_next(cf, &r), PM_READ_OK);
    cr_assert_eq(pm_capfile_next(cf, &r), PM_READ_DAMAGED);
    const struct pm_capfile_stats *st = pm_capfile_stats(cf);
    cr_assert_eq(st->damaged, 1);
    cr_assert(strstr(st->damage, path) != NULL, "the message names the file: %s", st->damage);
    cr_assert(strstr(st->damage, "after record 2") != NULL, "%s", st->damage);
    cr_assert_eq(pm_capfile_next(cf, &r), PM_READ_DAMAGED, "damage is final");
    cr_assert_eq(st->records, 2);
    pm_capfile_close(cf);
}

Test(capin, cut_record_header_is_damage)
{
    uint8_t a[PB_MAX];
    size_t na = syn_to(a, sizeof(a), 25);
    struct pb_rec recs[1] = {{T0, a, (uint32_t)na, 0}};
    char path[256];
    pb_tmppath(path, sizeof(path), "cuthdr.pcap");
    pb_write_pcap(path, PM_LT_RAW, false, true, 65535, recs, 1);
    FILE *f = fopen(path, "ab");
    fwrite("\x65\x53\xf1\x00\x00", 1, 5, f);
    fclose(f);
    struct pm_capfile *cf = open_ok(path, NULL);
    struct pm_record r;
    cr_assert_eq(pm_capfile_next(cf, &r), PM_READ_OK);
    cr_assert_eq(pm_capfile_next(cf, &r), PM_READ_DAMAGED);
    cr_assert(pm_capfile_stats(cf)->damage[0] != '\0');
    pm_capfile_close(cf);
}

Test(capin, not_a_capture_is_null_with_a_message)
{
    char path[256], err[512];
    pb_tmppath(path, sizeof(path), "maillog");
    FILE *f = fopen(path, "w");
    fputs("Nov 28 18:32:49 mx postfix/smtp[123]: connect to x[192.0.2.1]:25: Connection "
          "refused\n", f);
    fclose(f);
    err[0] = '\0';
    cr_assert_null(pm_capfile_open(path, NULL, err, sizeof(err)));
    cr_assert(strstr(err, path) != NULL, "%s", err);
    cr_assert(strstr(err, "not a capture") != NULL, "%s", err);
    /* too short for any header */
    f = fopen(path, "w");
    fputs("ab", f);
    fclose(f);
    err[0] = '\0';
    cr_assert_null(pm_capfile_open(path, NULL, err, sizeof(err)));
    cr_assert(strstr(err, "too short") != NULL, "%s", err);
    /* a directory, and a missing file */
    err[0] = '\0';
    cr_assert_null(pm_capfile_open(pb_tmpdir(), NULL, err, sizeof(err)));
    cr_assert(strstr(err, "directory") != NULL, "%s", err);
    pb_tmppath(path, sizeof(path), "missing.pcap");
    err[0] = '\0';
    cr_assert_null(pm_capfile_open(path, NULL, err, sizeof(err)));
    cr_assert(strstr(err, "cannot open") != NULL, "%s", err);
    /* pcapng magic, then garbage */
    pb_tmppath(path, sizeof(path), "bad.pcapng");
    f = fopen(path, "wb");
    fwrite("\x0a\x0d\x0d\x0a\x1c\x00\x00\x00garbagegarbagegarbage", 1, 29, f);
    fclose(f);
    err[0] = '\0';
    cr_assert_null(pm_capfile_open(path, NULL, err, sizeof(err)));
    cr_assert(strstr(err, "pcapng") != NULL, "%s", err);
}

Test(capin, bpf_filter_passes_and_drops_and_the_span_counts_everything)
{
    uint8_t a[PB_MAX], b[PB_MAX], c[PB_MAX];
    size_t nu = udp53(a, sizeof(a)), n25 = syn_to(b, sizeof(b), 25);
    size_t n587 = syn_to(c, sizeof(c), 587);
    struct pb_rec recs[4] = {{T0, a, (uint32_t)nu, 0},
                             {T0 + PM_SEC(1), b, (uint32_t)n25, 0},
                             {T0 + PM_SEC(2), c, (uint32_t)n587, 0},
                             {T0 + PM_SEC(9), a, (uint32_t)nu, 0}};
    char path[256];
    pb_tmppath(path, sizeof(path), "f.pcap");
    pb_write_pcap(path, PM_LT_RAW, false, false, 65535, recs, 4);
    struct pm_capfile *cf = open_ok(path, "tcp and port 25");
    struct pm_record r;
    cr_assert_eq(pm_capfile_next(cf, &r), PM_READ_OK);
    cr_assert_eq(r.ts, T0 + PM_SEC(1));
    cr_assert_eq(r.frame, 2, "frame numbers count every record of the file");
    cr_assert_eq(pm_capfile_next(cf, &r), PM_READ_EOF);
    const struct pm_capfile_stats *st = pm_capfile_stats(cf);
    cr_assert_eq(st->records, 4);
    cr_assert_eq(st->filtered, 1);
    cr_assert_eq(st->first_ts, T0, "the span starts at the first record, filtered or not");
    cr_assert_eq(st->last_ts, T0 + PM_SEC(9));
    pm_capfile_close(cf);

    /* a filter that does not compile passes everything */
    cf = open_ok(path, "this is not ( bpf");
    int n = 0;
    while (pm_capfile_next(cf, &r) == PM_READ_OK) {
        n++;
    }
    cr_assert_eq(n, 4);
    pm_capfile_close(cf);
}

Test(capin, pcapng_interfaces_filter_per_link_type_and_loopback)
{
    uint8_t raw[PB_MAX], eth[PB_MAX], ethu[PB_MAX], u[PB_MAX];
    size_t nraw = syn_to(raw, sizeof(raw), 25);
    size_t neth = pb_eth(eth, sizeof(eth), NULL, 0, 0x0800, raw, nraw);
    size_t nu = udp53(u, sizeof(u));
    size_t nethu = pb_eth(ethu, sizeof(ethu), NULL, 0, 0x0800, u, nu);
    struct pb_ng g = {0};
    pb_ng_shb(&g, false);
    pb_ng_idb(&g, 1, 262144, "eth0", 9, false, 0);
    pb_ng_idb(&g, 101, 262144, "lo", 9, false, 0);
    pb_ng_epb(&g, 0, (uint64_t)T0, ethu, (uint32_t)nethu, (uint32_t)nethu);
    pb_ng_epb(&g, 1, (uint64_t)(T0 + 10), raw, (uint32_t)nraw, (uint32_t)nraw);
    pb_ng_epb(&g, 0, (uint64_t)(T0 + 20), eth, (uint32_t)neth, (uint32_t)neth);
    pb_ng_epb(&g, 1, (uint64_t)(T0 + 30), u, (uint32_t)nu, (uint32_t)nu);
    char path[256];
    pb_tmppath(path, sizeof(path), "multi.pcapng");
    pb_ng_save(&g, path);
    pb_ng_free(&g);
    struct pm_capfile *cf = open_ok(path, "tcp port 25");
    cr_assert_str_eq(pm_capfile_format(cf), "pcapng");
    struct pm_record r;
    cr_assert_eq(pm_capfile_next(cf, &r), PM_READ_OK);
    cr_assert_eq(r.linktype, PM_LT_RAW);
    cr_assert_eq(r.frame, 2);
    cr_assert_eq(r.ifloop, 1);
    cr_assert_eq(r.ts, T0 + 10);
    cr_assert_eq(pm_capfile_next(cf, &r), PM_READ_OK);
    cr_assert_eq(r.linktype, PM_LT_ETHERNET);
    cr_assert_eq(r.frame, 3);
    cr_assert_eq(r.ifloop, 0);
    cr_assert_eq(pm_capfile_next(cf, &r), PM_READ_EOF);
    const struct pm_capfile_stats *st = pm_capfile_stats(cf);
    cr_assert_eq(st->records, 4);
    cr_assert_eq(st->filtered, 2);
    cr_assert_eq(st->first_ts, T0);
    cr_assert_eq(st->last_ts, T0 + 30);
    /* known once the interfaces were read (the summary asks at the end) */
    cr_assert_eq(pm_capfile_first_linktype(cf), PM_LT_ETHERNET);
    pm_capfile_close(cf);
}

Test(capin, pcapng_damage_after_good_records)
{
    uint8_t raw[PB_MAX];
    size_t nraw = syn_to(raw, sizeof(raw), 25);
    struct pb_ng g = {0};
    pb_ng_shb(&g, false);
    pb_ng_idb(&g, 101, 0, NULL, -1, false, 0);
    pb_ng_epb(&g, 0, 1, raw, (uint32_t)nraw, (uint32_t)nraw);
    pb_ng_epb(&g, 3, 2, raw, (uint32_t)nraw, (uint32_t)nraw);
    char path[256];
    pb_tmppath(path, sizeof(path), "dmg.pcapng");
    pb_ng_save(&g, path);
    pb_ng_free(&g);
    struct pm_capfile *cf = open_ok(path, NULL);
    struct pm_record r;
    cr_assert_eq(pm_capfile_next(cf, &r), PM_READ_OK);
    cr_assert_eq(pm_capfile_next(cf, &r), PM_READ_DAMAGED);
    const struct pm_capfile_stats *st = pm_capfile_stats(cf);
    cr_assert(st->damaged);
    cr_assert(strstr(st->damage, "after record 1") != NULL, "%s", st->damage);
    cr_assert(strstr(st->damage, "interface 3") != NULL, "%s", st->damage);
    pm_capfile_close(cf);
}

/* ---- input sets ---- */

static void write_times(const char *name, char *path, size_t len, const pm_ns *ts, int n)
{
    static uint8_t pkt[PB_MAX];
    size_t np = syn_to(pkt, sizeof(pkt), 25);
    struct pb_rec recs[8];
    for (int i = 0; i < n; i++) {
        recs[i] = (struct pb_rec){ts[i], pkt, (uint32_t)np, 0};
    }
    pb_tmppath(path, len, name);
    pb_write_pcap(path, PM_LT_RAW, true, false, 65535, recs, n);
}

Test(capin, inputset_merges_by_time_with_labels)
{
    char pa[256], pb[256], pc[256], spec[300];
    const pm_ns ta[] = {T0 + 1, T0 + 3, T0 + 5};
    const pm_ns tb[] = {T0 + 2, T0 + 4};
    const pm_ns tc[] = {T0 + 6};
    write_times("inside-1.pcap", pa, sizeof(pa), ta, 3);
    write_times("outside.pcap", pb, sizeof(pb), tb, 2);
    write_times("inside-2.pcap", pc, sizeof(pc), tc, 1);
    struct pm_inputset set;
    memset(&set, 0, sizeof(set));
    snprintf(spec, sizeof(spec), "inside=%s", pa);
    cr_assert_eq(pm_inputset_add(&set, spec, NULL), 0);
    cr_assert_eq(pm_inputset_add(&set, pb, NULL), 0); /* a bare file: named after itself */
    snprintf(spec, sizeof(spec), "inside=%s", pc);
    cr_assert_eq(pm_inputset_add(&set, spec, NULL), 0);
    cr_assert_eq(set.n, 3);
    cr_assert_eq(set.nvantage, 2, "files with the same NAME share one vantage");
    cr_assert_str_eq(set.vantage_names[0], "inside");
    cr_assert_str_eq(set.vantage_names[1], "outside");
    cr_assert_str_eq(set.in[0].path, pa);
    cr_assert_eq(set.in[2].vantage, 0);

    const pm_ns want_ts[] = {T0 + 1, T0 + 2, T0 + 3, T0 + 4, T0 + 5, T0 + 6};
    const int want_file[] = {0, 1, 0, 1, 0, 2};
    const uint32_t want_frame[] = {1, 1, 2, 2, 3, 1};
    const int want_vantage[] = {0, 1, 0, 1, 0, 0};
    struct pm_record r;
    for (int i = 0; i < 6; i++) {
        cr_assert_eq(pm_inputset_next(&set, &r), PM_READ_OK);
        cr_assert_eq(r.ts, want_ts[i], "record %d", i);
        cr_assert_eq(r.file, want_file[i], "record %d", i);
        cr_assert_eq(r.frame, want_frame[i], "record %d", i);
        cr_assert_eq(r.vantage, want_vantage[i], "record %d", i);
    }
    cr_assert_eq(pm_inputset_next(&set, &r), PM_READ_EOF);
    cr_assert_eq(set.damaged, 0);
    pm_inputset_close(&set);
    cr_assert_eq(set.n, 0);
}

Test(capin, inputset_rejects_what_is_not_a_capture)
{
    char path[256];
    pb_tmppath(path, sizeof(path), "notes.txt");
    FILE *f = fopen(path, "w");
    fputs("hello\n", f);
    fclose(f);
    struct pm_inputset set;
    memset(&set, 0, sizeof(set));
    cr_assert_eq(pm_inputset_add(&set, path, NULL), PM_EXIT_UNREADABLE);
    cr_assert_eq(set.n, 0);
    pm_inputset_close(&set);
}

Test(capin, inputset_reports_damage)
{
    char pa[256];
    const pm_ns ta[] = {T0 + 1};
    write_times("a.pcap", pa, sizeof(pa), ta, 1);
    FILE *f = fopen(pa, "ab");
    fwrite("\x01\x02\x03", 1, 3, f);
    fclose(f);
    struct pm_inputset set;
    memset(&set, 0, sizeof(set));
    cr_assert_eq(pm_inputset_add(&set, pa, NULL), 0);
    struct pm_record r;
    cr_assert_eq(pm_inputset_next(&set, &r), PM_READ_OK);
    cr_assert_eq(pm_inputset_next(&set, &r), PM_READ_EOF);
    cr_assert_eq(set.damaged, 1);
    pm_inputset_close(&set);
}
