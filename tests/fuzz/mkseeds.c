/*
 * mkseeds.c — owns turning capture files into seed inputs for fuzz_decode (the packet-
 * sequence format described in fuzz_decode.c). For each capture given, its records are cut
 * into windows of up to WINDOW consecutive records of one link type; each window becomes
 * one seed file in OUTDIR named after the capture and the window's first record. Records
 * keep their real time gaps (as fuzz_decode's dt byte) and their snaplen cut. It reads
 * through portmortem's own reader (pm_capfile), so pcapng with several link types works.
 * Run by tests/fuzz/seeds.sh; captures that do not open are skipped with a message.
 *
 * The other way round, `mkseeds -p INPUT OUT.pcap` turns a fuzz_decode input (a crash, say)
 * into a classic pcap the tool itself can read, for pcaps/fuzz-regressions/: same link type,
 * frames, snaplen cuts and time steps (the vantage bit is dropped: one file, one vantage).
 *
 *   mkseeds OUTDIR CAPTURE...
 *   mkseeds -p FUZZ_DECODE_INPUT OUT.pcap
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "capin.h"
#include "linktypes.h"
#include "util.h"

#define WINDOW 24
#define MAX_SEEDS_PER_FILE 64
#define MAX_FRAME 2048

struct seed {
    uint8_t buf[1 + WINDOW * (4 + MAX_FRAME)];
    size_t len;
    int n;
    int linktype;
    pm_ns last;
    uint32_t first;
};

static int selector(int linktype)
{
    for (size_t i = 0; i < PM_FUZZ_NLINKTYPES; i++) {
        if (PM_FUZZ_LINKTYPES[i] == linktype) {
            return (int)i;
        }
    }
    return (int)PM_FUZZ_NLINKTYPES - 1; /* the unsupported entry */
}

static int flush(struct seed *s, const char *outdir, const char *base)
{
    if (s->n == 0) {
        return 0;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s.%u", outdir, base, s->first);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(s->buf, 1, s->len, f) != s->len || fclose(f) != 0) {
        fprintf(stderr, "mkseeds: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    s->n = 0;
    s->len = 0;
    return 1;
}

static void put32(FILE *f, uint32_t v)
{
    fwrite(&v, 4, 1, f); /* host order: the magic below says which */
}

/* fuzz_decode input -> classic pcap (µs, host byte order). */
static int to_pcap(const char *in, const char *out)
{
    static uint8_t d[1 << 20];
    FILE *f = fopen(in, "rb");
    if (!f) {
        fprintf(stderr, "mkseeds: %s: %s\n", in, strerror(errno));
        return 1;
    }
    size_t size = fread(d, 1, sizeof(d), f);
    fclose(f);
    if (size < 1) {
        fprintf(stderr, "mkseeds: %s is empty\n", in);
        return 1;
    }
    FILE *o = fopen(out, "wb");
    if (!o) {
        fprintf(stderr, "mkseeds: %s: %s\n", out, strerror(errno));
        return 1;
    }
    int lt = PM_FUZZ_LINKTYPES[d[0] % PM_FUZZ_NLINKTYPES];
    put32(o, 0xa1b2c3d4u);
    put32(o, 0x00040002u); /* version 2.4 (minor, major as two host-order u16) */
    put32(o, 0);
    put32(o, 0);
    put32(o, 262144);
    put32(o, (uint32_t)lt);
    pm_ns ts = PM_SEC(1700000000);
    size_t off = 1;
    struct pm_fuzz_rec r;
    while (pm_fuzz_next(d, size, &off, &r)) {
        ts += r.step;
        put32(o, (uint32_t)(ts / PM_NS_PER_SEC));
        put32(o, (uint32_t)(ts % PM_NS_PER_SEC / 1000));
        put32(o, r.caplen);
        put32(o, r.wirelen);
        fwrite(r.data, 1, r.caplen, o);
    }
    if (fclose(o) != 0) {
        fprintf(stderr, "mkseeds: %s: %s\n", out, strerror(errno));
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "-p")) {
        return to_pcap(argv[2], argv[3]);
    }
    if (argc < 3) {
        fprintf(stderr, "usage: mkseeds OUTDIR CAPTURE...\n       mkseeds -p FUZZ_DECODE_INPUT OUT.pcap\n");
        return 2;
    }
    pm_verbosity = -1;
    const char *outdir = argv[1];
    int total = 0;
    static struct seed s;
    for (int i = 2; i < argc; i++) {
        char err[512];
        struct pm_capfile *cf = pm_capfile_open(argv[i], NULL, err, sizeof(err));
        if (!cf) {
            fprintf(stderr, "mkseeds: skipped: %s\n", err);
            continue;
        }
        /* A flat name: the path with '/' turned into '_', without leading dots (so that
         * "../shared/x" does not become a hidden file). */
        const char *src = argv[i];
        while (*src == '.' || *src == '/') {
            src++;
        }
        char base[1024];
        snprintf(base, sizeof(base), "%s", src);
        for (char *p = base; *p; p++) {
            if (*p == '/') {
                *p = '_';
            }
        }
        memset(&s, 0, sizeof(s));
        int seeds = 0;
        struct pm_record r;
        while (seeds < MAX_SEEDS_PER_FILE && pm_capfile_next(cf, &r) == PM_READ_OK) {
            if (s.n == WINDOW || (s.n > 0 && r.linktype != s.linktype)) {
                int rc = flush(&s, outdir, base);
                if (rc < 0) {
                    return 1;
                }
                seeds += rc;
            }
            uint32_t cap = r.caplen > MAX_FRAME ? MAX_FRAME : r.caplen;
            uint32_t extra = r.wirelen - r.caplen;
            if (s.n == 0) {
                s.buf[0] = (uint8_t)selector(r.linktype);
                s.len = 1;
                s.linktype = r.linktype;
                s.last = r.ts;
                s.first = r.frame;
            }
            pm_ns gap = r.ts - s.last;
            s.last = r.ts;
            uint8_t dt = gap < 0 ? 0xfe : gap >= PM_SEC(300) ? 0xff
                       : gap / 50000000 > 0xfd ? 0xfd : (uint8_t)(gap / 50000000);
            s.buf[s.len++] = dt;
            s.buf[s.len++] = (uint8_t)(cap >> 8);
            s.buf[s.len++] = (uint8_t)cap;
            s.buf[s.len++] = (uint8_t)((extra > 127 ? 127 : extra) << 1);
            memcpy(s.buf + s.len, r.data, cap);
            s.len += cap;
            s.n++;
        }
        int rc = flush(&s, outdir, base);
        if (rc < 0) {
            return 1;
        }
        seeds += rc;
        total += seeds;
        pm_capfile_close(cf);
    }
    printf("mkseeds: %d seeds in %s\n", total, outdir);
    return 0;
}
