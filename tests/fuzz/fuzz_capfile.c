/*
 * fuzz_capfile.c — owns the libFuzzer target for the capture-file path: the input is a whole
 * file (classic pcap in any byte order and precision, or pcapng), opened with
 * pm_capfile_open and read with pm_capfile_next to EOF or damage, then opened twice more as
 * two vantages of one pm_inputset and read merged by time. Inputs of odd length are read
 * with portmortem's own BPF filter for ports 25/465/587 (so libpcap's offline filter and the
 * per-link-type pcapng filters run), even ones without. Every byte of every record is read
 * so that a record longer than its buffer shows up under ASan.
 *
 * Classic pcap inputs are also read a second time with libpcap's own record loop
 * (PM_PCAP_READER=libpcap): the block reader in capin.c must return the same records (time,
 * lengths, bytes) and end the same way with the same damage message, or the target traps.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capin.h"
#include "engine.h"
#include "memfile.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char g_filter[1024];
static volatile unsigned g_sink;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    static const uint16_t ports[] = {25, 465, 587};
    pm_engine_filter(ports, 3, g_filter, sizeof(g_filter));
    pm_verbosity = -1;
    return 0;
}

/* Read the whole file with one reader; a digest of every record and how it ended. */
struct reading {
    uint64_t n, digest;
    enum pm_read end;
    char damage[256];
    int opened;
};

static void read_all(const char *path, const char *filter, struct reading *out)
{
    char err[512];
    memset(out, 0, sizeof(*out));
    struct pm_capfile *cf = pm_capfile_open(path, filter, err, sizeof(err));
    if (!cf) {
        return;
    }
    out->opened = 1;
    struct pm_record r;
    uint64_t h = 1469598103934665603ull;
    while ((out->end = pm_capfile_next(cf, &r)) == PM_READ_OK) {
        uint64_t fields[4] = {(uint64_t)r.ts, r.caplen, r.wirelen, (uint64_t)r.linktype};
        for (size_t i = 0; i < sizeof(fields); i++) {
            h = (h ^ ((const uint8_t *)fields)[i]) * 1099511628211ull;
        }
        for (uint32_t i = 0; i < r.caplen; i++) {
            h = (h ^ r.data[i]) * 1099511628211ull;
        }
        out->n++;
    }
    out->digest = h;
    snprintf(out->damage, sizeof(out->damage), "%s", pm_capfile_stats(cf)->damage);
    pm_capfile_close(cf);
}

static int is_classic_pcap(const uint8_t *d, size_t n)
{
    if (n < 4) {
        return 0;
    }
    uint32_t m = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
    return m == 0xd4c3b2a1u || m == 0xa1b2c3d4u || m == 0x4d3cb2a1u || m == 0xa1b23c4du;
}

/* The block reader and libpcap's loop must agree record for record. */
static void compare_readers(const char *path, const char *filter)
{
    static struct reading mine, theirs;
    read_all(path, filter, &mine);
    setenv("PM_PCAP_READER", "libpcap", 1);
    read_all(path, filter, &theirs);
    unsetenv("PM_PCAP_READER");
    if (mine.opened != theirs.opened || mine.n != theirs.n || mine.digest != theirs.digest ||
        mine.end != theirs.end || strcmp(mine.damage, theirs.damage) != 0) {
        fprintf(stderr, "readers differ: block %llu records end %d '%s'; libpcap %llu end %d '%s'\n",
                (unsigned long long)mine.n, (int)mine.end, mine.damage,
                (unsigned long long)theirs.n, (int)theirs.end, theirs.damage);
        __builtin_trap();
    }
}

static void touch(const struct pm_record *r)
{
    unsigned s = 0;
    for (uint32_t i = 0; i < r->caplen; i++) {
        s += r->data[i];
    }
    g_sink += s + (unsigned)r->linktype + r->wirelen;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = pm_fuzz_memfile(data, size);
    const char *filter = (size & 1) ? g_filter : NULL;
    char err[512];
    struct pm_capfile *cf = pm_capfile_open(path, filter, err, sizeof(err));
    if (!cf) {
        /* Not a capture: the message must be a terminated, non-empty string. */
        if (err[0] == '\0' || strnlen(err, sizeof(err)) == sizeof(err)) {
            __builtin_trap();
        }
        return 0;
    }
    struct pm_record rec;
    enum pm_read rc;
    uint64_t n = 0;
    while ((rc = pm_capfile_next(cf, &rec)) == PM_READ_OK) {
        touch(&rec);
        n++;
    }
    const struct pm_capfile_stats *st = pm_capfile_stats(cf);
    if (rc == PM_READ_DAMAGED && (!st->damaged || st->damage[0] == '\0')) {
        __builtin_trap(); /* damage must come with a message */
    }
    if (st->filtered != n || st->records < n) {
        __builtin_trap(); /* counters must agree with what was returned */
    }
    g_sink += (unsigned)strlen(pm_capfile_format(cf)) + (unsigned)pm_capfile_first_linktype(cf);
    pm_capfile_close(cf);

    if (is_classic_pcap(data, size)) {
        compare_readers(path, filter);
    }

    /* Two vantages, same bytes: the time-ordered merge. */
    static struct pm_inputset in;
    memset(&in, 0, sizeof(in));
    char a[80], b[80];
    snprintf(a, sizeof(a), "a=%s", path);
    snprintf(b, sizeof(b), "b=%s", path);
    if (pm_inputset_add(&in, a, filter) == 0 && pm_inputset_add(&in, b, filter) == 0) {
        pm_ns last = INT64_MIN;
        while (pm_inputset_next(&in, &rec) == PM_READ_OK) {
            touch(&rec);
            g_sink += rec.ts < last;
            last = rec.ts;
        }
    }
    pm_inputset_close(&in);
    return 0;
}
