/*
 * test_instream.c — captures from anywhere (include/instream.h, analyze/instream.c, and
 * capin.c's use of it): the codec told by the first bytes (and not by a near miss); a gzip
 * pcap read as a file and through a pipe gives the plain file's records byte for byte; a
 * pcapng with two sections through a pipe (the reader never seeks back); a gzip stream cut
 * short and a corrupted one end in damage with the decoder's reason, the records before it
 * kept; and the user's filter (pm_capfile_user_filter): a record it does not match is skipped
 * and counted, a bad expression is refused with libpcap's message.
 */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "capin.h"
#include "instream.h"
#include "pktbuild.h"

TestSuite(instream, .fini = pb_tmpclean);

#define T0 PM_SEC(1700000000)

Test(instream, codec_by_magic)
{
    const uint8_t gz[] = {0x1f, 0x8b, 8, 0};
    const uint8_t xz[] = {0xfd, '7', 'z', 'X', 'Z', 0};
    const uint8_t zs[] = {0x28, 0xb5, 0x2f, 0xfd};
    const uint8_t near_xz[] = {0xfd, '7', 'z', 'X', 'Z', 1};
    const uint8_t pcap[] = {0xd4, 0xc3, 0xb2, 0xa1, 2, 0};
    cr_assert_eq(pm_codec_detect(gz, sizeof(gz)), PM_CODEC_GZIP);
    cr_assert_eq(pm_codec_detect(xz, sizeof(xz)), PM_CODEC_XZ);
    cr_assert_eq(pm_codec_detect(zs, sizeof(zs)), PM_CODEC_ZSTD);
    cr_assert_eq(pm_codec_detect(near_xz, sizeof(near_xz)), PM_CODEC_NONE);
    cr_assert_eq(pm_codec_detect(pcap, sizeof(pcap)), PM_CODEC_NONE);
    cr_assert_eq(pm_codec_detect(gz, 1), PM_CODEC_NONE, "one byte is not a gzip magic");
    cr_assert_str_eq(pm_codec_name(PM_CODEC_ZSTD), "zstd");
}

/* Three SYNs (ports 25, 587, 25) in a classic pcap; returns its path. */
static void three_syns(char *path, size_t len)
{
    static uint8_t a[PB_MAX], b[PB_MAX], c[PB_MAX];
    size_t na = pb_seg(a, sizeof(a), "10.0.0.1", 40000, "192.0.2.25", 25, PM_TH_SYN, 1, 0, NULL, 0, 64);
    size_t nb = pb_seg(b, sizeof(b), "10.0.0.1", 40001, "192.0.2.26", 587, PM_TH_SYN, 7, 0, NULL, 0, 64);
    size_t nc = pb_seg(c, sizeof(c), "10.0.0.1", 40002, "192.0.2.27", 25, PM_TH_SYN, 9, 0, NULL, 0, 64);
    struct pb_rec recs[3] = {{T0, a, (uint32_t)na, 0}, {T0 + PM_SEC(1), b, (uint32_t)nb, 0},
                             {T0 + PM_SEC(2), c, (uint32_t)nc, 0}};
    pb_tmppath(path, len, "three.pcap");
    pb_write_pcap(path, PM_LT_RAW, false, false, 65535, recs, 3);
}

static size_t slurp(const char *path, uint8_t *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f != NULL);
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

/* gzip the bytes with zlib (a gzip wrapper: windowBits 16 + 15). */
static size_t gzip_bytes(uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    cr_assert_eq(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = in;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    cr_assert_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    size_t got = cap - z.avail_out;
    deflateEnd(&z);
    return got;
}

/* The records of a capture: count, and their concatenated bytes and times. */
static int records(struct pm_capfile *cf, uint8_t *cat, size_t cap, size_t *len, pm_ns *ts)
{
    struct pm_record r;
    int n = 0;
    *len = 0;
    while (pm_capfile_next(cf, &r) == PM_READ_OK) {
        cr_assert(*len + r.caplen <= cap);
        memcpy(cat + *len, r.data, r.caplen);
        *len += r.caplen;
        ts[n++] = r.ts;
    }
    return n;
}

/* Open the bytes through a pipe (/dev/fd/N), as process substitution gives them. */
static struct pm_capfile *through_pipe(const uint8_t *b, size_t n, char *err, size_t errlen)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    cr_assert(n < 65536, "fits in the pipe's buffer");
    cr_assert_eq(write(p[1], b, n), (ssize_t)n);
    close(p[1]);
    char path[32];
    snprintf(path, sizeof(path), "/dev/fd/%d", p[0]);
    struct pm_capfile *cf = pm_capfile_open(path, NULL, err, errlen);
    close(p[0]); /* pm_capfile_open opened its own descriptor */
    return cf;
}

Test(instream, gzip_file_and_pipe_read_as_the_plain_file)
{
    char path[256], gzpath[256], err[512] = "";
    three_syns(path, sizeof(path));
    static uint8_t plain[4096], gz[4096], cat0[4096], cat1[4096], cat2[4096];
    size_t np = slurp(path, plain, sizeof(plain));
    size_t ng = gzip_bytes(plain, np, gz, sizeof(gz));
    pb_tmppath(gzpath, sizeof(gzpath), "renamed.pcap");
    FILE *f = fopen(gzpath, "wb");
    fwrite(gz, 1, ng, f);
    fclose(f);
    pm_ns t0[4], t1[4], t2[4];
    size_t l0, l1, l2;
    struct pm_capfile *a = pm_capfile_open(path, NULL, err, sizeof(err));
    cr_assert(a != NULL, "%s", err);
    int n0 = records(a, cat0, sizeof(cat0), &l0, t0);
    cr_assert_eq(n0, 3);
    cr_assert_not(pm_capfile_is_stream(a));
    cr_assert_null(pm_capfile_compression(a));
    struct pm_capfile *b = pm_capfile_open(gzpath, NULL, err, sizeof(err));
    cr_assert(b != NULL, "gzip named .pcap: %s", err);
    cr_assert_str_eq(pm_capfile_compression(b), "gzip");
    cr_assert_not(pm_capfile_is_stream(b), "a regular file can be read again");
    cr_assert_eq(records(b, cat1, sizeof(cat1), &l1, t1), 3);
    struct pm_capfile *c = through_pipe(gz, ng, err, sizeof(err));
    cr_assert(c != NULL, "gzip through a pipe: %s", err);
    cr_assert(pm_capfile_is_stream(c));
    cr_assert_eq(records(c, cat2, sizeof(cat2), &l2, t2), 3);
    cr_assert_eq(l1, l0);
    cr_assert_eq(l2, l0);
    cr_assert_eq(memcmp(cat1, cat0, l0), 0);
    cr_assert_eq(memcmp(cat2, cat0, l0), 0);
    cr_assert_eq(memcmp(t1, t0, sizeof(pm_ns) * 3), 0);
    cr_assert_eq(memcmp(t2, t0, sizeof(pm_ns) * 3), 0);
    cr_assert_eq(pm_capfile_stats(c)->damaged, 0);
    pm_capfile_close(a);
    pm_capfile_close(b);
    pm_capfile_close(c);
}

Test(instream, pcapng_two_sections_through_a_pipe)
{
    uint8_t a[PB_MAX];
    size_t na = pb_seg(a, sizeof(a), "10.0.0.1", 40000, "192.0.2.25", 25, PM_TH_SYN, 1, 0, NULL, 0, 64);
    struct pb_ng g = {0};
    pb_ng_shb(&g, false);
    pb_ng_idb(&g, 101, 65535, NULL, -1, false, 0);
    pb_ng_epb(&g, 0, 1700000000000000ull, a, (uint32_t)na, (uint32_t)na);
    pb_ng_shb(&g, true); /* a second section, big-endian: its byte-order magic is read on */
    pb_ng_idb(&g, 101, 65535, NULL, -1, false, 0);
    pb_ng_epb(&g, 0, 1700000001000000ull, a, (uint32_t)na, (uint32_t)na);
    char err[512] = "";
    struct pm_capfile *cf = through_pipe(g.b, g.n, err, sizeof(err));
    cr_assert(cf != NULL, "%s", err);
    cr_assert_str_eq(pm_capfile_format(cf), "pcapng");
    struct pm_record r;
    cr_assert_eq(pm_capfile_next(cf, &r), PM_READ_OK);
    cr_assert_eq(r.ts, T0);
    cr_assert_eq(pm_capfile_next(cf, &r), PM_READ_OK);
    cr_assert_eq(r.ts, T0 + PM_SEC(1));
    cr_assert_eq(pm_capfile_next(cf, &r), PM_READ_EOF);
    pm_capfile_close(cf);
    pb_ng_free(&g);
}

Test(instream, gzip_cut_short_or_corrupted_is_damage_with_the_reason)
{
    char path[256], err[512] = "";
    three_syns(path, sizeof(path));
    static uint8_t plain[4096], gz[4096];
    size_t np = slurp(path, plain, sizeof(plain));
    size_t ng = gzip_bytes(plain, np, gz, sizeof(gz));
    /* Without its 8-byte trailer (CRC-32, ISIZE; RFC 1952 §2.2): every record decodes, but
     * the stream did not end. */
    struct pm_capfile *cf = through_pipe(gz, ng - 8, err, sizeof(err));
    cr_assert(cf != NULL, "%s", err);
    struct pm_record r;
    int ok = 0;
    enum pm_read rc;
    while ((rc = pm_capfile_next(cf, &r)) == PM_READ_OK) {
        ok++;
    }
    cr_assert_eq(rc, PM_READ_DAMAGED);
    cr_assert_eq(ok, 3, "the records before the cut are kept");
    const struct pm_capfile_stats *st = pm_capfile_stats(cf);
    cr_assert(strstr(st->damage, "gzip stream ends before its end marker") != NULL, "%s", st->damage);
    pm_capfile_close(cf);
    /* A flipped byte in the trailer's CRC: damaged gzip data, said. */
    gz[ng - 6] ^= 0xff;
    cf = through_pipe(gz, ng, err, sizeof(err));
    cr_assert(cf != NULL, "%s", err);
    while ((rc = pm_capfile_next(cf, &r)) == PM_READ_OK) {
    }
    cr_assert_eq(rc, PM_READ_DAMAGED);
    cr_assert(strstr(pm_capfile_stats(cf)->damage, "damaged gzip data") != NULL, "%s",
              pm_capfile_stats(cf)->damage);
    pm_capfile_close(cf);
}

Test(instream, user_filter_skips_and_counts)
{
    char path[256], err[512] = "";
    three_syns(path, sizeof(path));
    for (int lib = 0; lib < 2; lib++) {
        /* the block reader, then libpcap's */
        if (lib) {
            setenv("PM_PCAP_READER", "libpcap", 1);
        }
        struct pm_capfile *cf = pm_capfile_open(path, NULL, err, sizeof(err));
        cr_assert(cf != NULL, "%s", err);
        cr_assert_eq(pm_capfile_user_filter(cf, "dst port 587", err, sizeof(err)), 0, "%s", err);
        struct pm_record r;
        cr_assert_eq(pm_capfile_next(cf, &r), PM_READ_OK);
        cr_assert_eq(r.frame, 2, "the port-587 SYN, frame 2");
        cr_assert_eq(pm_capfile_next(cf, &r), PM_READ_EOF);
        cr_assert_eq(pm_capfile_unmatched(cf), 2);
        cr_assert_eq(pm_capfile_stats(cf)->records, 3, "skipped records were still read");
        cr_assert_eq(pm_capfile_stats(cf)->last_ts, T0 + PM_SEC(2), "and mark the span");
        pm_capfile_close(cf);
        unsetenv("PM_PCAP_READER");
    }
    struct pm_capfile *cf = pm_capfile_open(path, NULL, err, sizeof(err));
    cr_assert(cf != NULL);
    err[0] = '\0';
    cr_assert_eq(pm_capfile_user_filter(cf, "tcp prt 25", err, sizeof(err)), -1);
    cr_assert(strstr(err, "syntax error") != NULL, "libpcap's message: %s", err);
    pm_capfile_close(cf);
}
