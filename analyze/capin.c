/*
 * capin.c — owns reading capture files: format detection, classic pcap through libpcap,
 * pcapng through pcapng.c, BPF filtering with pcap_offline_filter (so that every record is
 * counted even when the filter drops it), damage reporting, and the time-ordered merge of
 * several files. Record headers are checked before anyone looks at a packet: caplen > 0,
 * caplen <= wire length (libpcap and pcapng.c both enforce caplen <= snaplen/buffer).
 *
 * Classic pcap files (version 2.4, a link type we decode, a regular file) are walked by our
 * own block reader rather than pcap_next_ex: libpcap still checks the file header, gives the
 * link type and snapshot length and compiles the filter, but the records are read with
 * pread in 1 MiB blocks and handed out in place. libpcap copies every byte twice (into
 * stdio's buffer, then into its own) and scales every timestamp; on a capture where 98% of
 * the records are filtered out that is most of the run (docs/PERFORMANCE.md). The walker
 * makes the same record checks as libpcap 1.10's sf-pcap.c, with the same messages, so a
 * damaged file reads the same either way; PM_PCAP_READER=libpcap forces libpcap's reader.
 */
#include "capin.h"

#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "decode.h"
#include "instream.h"
#include "pcapng.h"
#include "util.h"

/* The block reader for classic pcap (see the top of the file). */
#define BLOCK_MAX_CAPLEN 262144u /* libpcap's max_snaplen_for_dlt() for the types we decode */

struct pm_blockread {
    int fd;                /* the pcap_t's own descriptor; only pread touches it */
    int swap;              /* the file's byte order differs from ours */
    int micro;             /* µs timestamps (scaled to ns) */
    uint32_t snapshot;     /* as libpcap adjusted it */
    uint8_t *buf;          /* PM_CAPIN_BLOCK_SIZE bytes; buf[start, end) holds file bytes */
    size_t start, end;
    uint64_t off;          /* file offset of buf[end] */
    int at_eof;
};

struct pm_capfile {
    char *path;
    int is_pcapng;
    int stream;               /* read through instream.c (a pipe, stdin, or compressed) */
    int once;                 /* not a regular file: it cannot be read again */
    struct pm_instream *ins;  /* that stream (owned by the FILE); NULL for a plain file */
    enum pm_codec codec;
    /* the user's expression (--filter, or the words after the files): a record it does
     * not match is skipped before anything else looks at it, as tcpdump -r FILE EXPR does */
    char *ufilter;
    struct bpf_program uprog; /* classic pcap */
    int have_uprog;
    struct {
        int linktype;
        int state; /* 0 unused, 1 compiled, 2 failed: matches nothing */
        struct bpf_program prog;
    } ngu[16];
    uint64_t unmatched;       /* records the user's expression skipped */
    pcap_t *pcap;             /* classic pcap */
    struct pm_blockread *blk; /* classic pcap read by our block reader, else NULL */
    struct pm_pcapng *ng;     /* pcapng */
    int linktype;             /* classic: the file's one link type */
    int nano;                 /* classic: nanosecond timestamps */
    /* classic: one compiled filter; pcapng: per link type, compiled on first use */
    struct bpf_program prog;
    int have_prog;
    char *filter;
    struct {
        int linktype;
        int state; /* 0 unused, 1 compiled, 2 failed: pass all */
        struct bpf_program prog;
    } ngprog[16];
    uint32_t frame;
    uint64_t damage_warned;
    struct pm_capfile_stats st;
    /* host-address guess: endpoints of the first PM_CAPIN_SAMPLE_RECORDS IP packets */
    struct {
        pm_addr a;
        uint32_t n;
    } ends[16];
    uint32_t sampled;
    pm_addr first_src[2]; /* source of the first sampled packet per family (v4, v6) */
    pm_addr srcs[8];      /* recent sources, until a reply proves both directions */
    uint64_t nsrc;
    /* records the filter drops, handed to the side path (pm_inputset_side) */
    pm_side_fn side;
    void *side_ctx;
    uint16_t side_file, side_vantage;
};


/* Record times from a file are kept within [0, PM_NS_LIMIT): a damaged or hostile file can
 * say anything, and the engine subtracts and adds times (differences of two times, a time
 * plus such a difference) which must not overflow. Before 1970 means damage anyway. */
static pm_ns sane_time(pm_ns ts)
{
    return ts < 0 ? 0 : ts >= PM_NS_LIMIT ? PM_NS_LIMIT - 1 : ts;
}

static void span(struct pm_capfile *cf, pm_ns ts)
{
    if (cf->st.first_ts == PM_NS_NONE || ts < cf->st.first_ts) {
        cf->st.first_ts = ts;
    }
    if (cf->st.last_ts == PM_NS_NONE || ts > cf->st.last_ts) {
        cf->st.last_ts = ts;
    }
}

static void tally(struct pm_capfile *cf, const pm_addr *a)
{
    for (size_t i = 0; i < PM_ARRAY_LEN(cf->ends); i++) {
        if (cf->ends[i].n && pm_addr_eq(&cf->ends[i].a, a)) {
            cf->ends[i].n++;
            return;
        }
    }
    for (size_t i = 0; i < PM_ARRAY_LEN(cf->ends); i++) {
        if (cf->ends[i].n == 0) {
            cf->ends[i].a = *a;
            cf->ends[i].n = 1;
            return;
        }
    }
}

/* The first records of a file, filtered or not, tell whose capture it is. */
static void sample(struct pm_capfile *cf, int linktype, const uint8_t *data, uint32_t caplen,
                   uint32_t wirelen)
{
    if (cf->sampled >= PM_CAPIN_SAMPLE_RECORDS) {
        return;
    }
    struct pm_pkt p;
    memset(&p, 0, sizeof(p));
    pm_decode(&p, linktype, data, caplen, wirelen);
    if (p.family == 0) {
        return;
    }
    cf->sampled++;
    int fi = p.family == PM_AF_INET6;
    if (cf->first_src[fi].family == 0) {
        cf->first_src[fi] = p.src; /* the capturing host usually speaks first (DNS) */
    }
    tally(cf, &p.src);
    if (!pm_addr_eq(&p.src, &p.dst)) {
        tally(cf, &p.dst);
    }
}

/* Does the file hold both directions? Every record (filtered or not) is looked at until one
 * goes to an address that an earlier record came from: a reply (a DNS answer, an ACK, an
 * ICMP error from a router). A capture of outbound traffic only never proves it. In an
 * ordinary capture the first exchange settles it, so the decoding stops after a handful of
 * records. */
static void watch_direction(struct pm_capfile *cf, int linktype, const uint8_t *data,
                            uint32_t caplen, uint32_t wirelen)
{
    if (cf->st.two_way) {
        return;
    }
    struct pm_pkt p;
    memset(&p, 0, sizeof(p));
    pm_decode(&p, linktype, data, caplen, wirelen);
    if (p.family == 0) {
        return;
    }
    cf->st.ip_records++;
    size_t n = (size_t)PM_MIN(cf->nsrc, (uint64_t)PM_ARRAY_LEN(cf->srcs));
    for (size_t i = 0; i < n; i++) {
        if (pm_addr_eq(&cf->srcs[i], &p.dst)) {
            cf->st.two_way = 1;
            return;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (pm_addr_eq(&cf->srcs[i], &p.src)) {
            return;
        }
    }
    cf->srcs[cf->nsrc++ % PM_ARRAY_LEN(cf->srcs)] = p.src;
}

bool pm_capfile_host_address(const struct pm_capfile *cf, uint8_t family, pm_addr *out)
{
    uint32_t best = 0, second = 0, total = 0;
    int bi = -1;
    for (size_t i = 0; i < PM_ARRAY_LEN(cf->ends); i++) {
        const pm_addr *a = &cf->ends[i].a;
        uint32_t n = cf->ends[i].n;
        if (n == 0 || a->family != family || pm_addr_is_loopback(a)) {
            continue;
        }
        total += n;
        if (n > best) {
            second = best;
            best = n;
            bi = (int)i;
        } else if (n > second) {
            second = n;
        }
    }
    if (bi < 0) {
        return false;
    }
    const pm_addr *first = &cf->first_src[family == PM_AF_INET6];
    if (best == second) {
        /* A tie (a capture of one DNS exchange): the host is the one that spoke first. */
        for (size_t i = 0; i < PM_ARRAY_LEN(cf->ends); i++) {
            if (cf->ends[i].n == best && pm_addr_eq(&cf->ends[i].a, first)) {
                *out = *first;
                return true;
            }
        }
        return false;
    }
    /* In most packets of that family: an endpoint of nearly every conversation. */
    if (best * 4 < total) {
        return false;
    }
    *out = cf->ends[bi].a;
    return true;
}

static void set_damage(struct pm_capfile *cf, const char *what)
{
    cf->st.damaged = 1;
    const char *cause = cf->ins ? pm_instream_error(cf->ins) : "";
    if (cause[0]) {
        /* The decompressor's reason first: the reader only saw its bytes stop. */
        snprintf(cf->st.damage, sizeof(cf->st.damage), "%s: after record %u: %s", cf->path,
                 cf->frame, cause);
    } else {
        snprintf(cf->st.damage, sizeof(cf->st.damage), "%s: after record %u: %s", cf->path,
                 cf->frame, what);
    }
}

/* The end of a streamed capture: clean only if the decompressor says its stream ended
 * cleanly too (a .gz cut at a record boundary still lost the rest). */
static enum pm_read stream_eof(struct pm_capfile *cf)
{
    if (cf->ins && pm_instream_error(cf->ins)[0]) {
        set_damage(cf, "");
        return PM_READ_DAMAGED;
    }
    return PM_READ_EOF;
}

void pm_filter_with_vlans(const char *e, char *out, size_t len)
{
    snprintf(out, len, "(%s) or (vlan and ((%s) or (vlan and ((%s) or (vlan and (%s))))))", e, e,
             e, e);
}

/* Compile `filter` for a link type: the VLAN-aware form on Ethernet, else as is. */
static int compile_for(pcap_t *p, int linktype, const char *filter, struct bpf_program *prog)
{
    if (pm_linktype_normalize(linktype) == PM_LT_ETHERNET) {
        size_t n = strlen(filter) * 4 + 128;
        char *v = pm_xmalloc(n);
        pm_filter_with_vlans(filter, v, n);
        int rc = pcap_compile(p, prog, v, 1, PCAP_NETMASK_UNKNOWN);
        free(v);
        if (rc == 0) {
            return 0;
        }
    }
    return pcap_compile(p, prog, filter, 1, PCAP_NETMASK_UNKNOWN);
}

static uint32_t rd32(const uint8_t *p, int swap)
{
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                 (uint32_t)p[3] << 24;
    return swap ? __builtin_bswap32(v) : v;
}

/* Take over the record reading from libpcap when the file is one we can walk ourselves:
 * the four standard magics (not the "modified" or Kuznetzov variants), version 2.4 (older
 * versions swap caplen and len, which libpcap corrects), a link type we decode (so that
 * 262144 is libpcap's limit for it too), and a regular file (pread needs an offset). */
static void block_start(struct pm_capfile *cf, const uint8_t head[24], FILE *f)
{
    const char *force = getenv("PM_PCAP_READER");
    if (force && strcmp(force, "libpcap") == 0) {
        return;
    }
    uint32_t m = rd32(head, 0);
    int swap;
    if (m == 0xa1b2c3d4u || m == 0xa1b23c4du) {
        swap = 0;
    } else if (m == 0xd4c3b2a1u || m == 0x4d3cb2a1u) {
        swap = 1;
    } else {
        return;
    }
    /* Two 16-bit fields, major then minor, in the file's byte order. */
    uint16_t major = (uint16_t)(swap ? head[4] << 8 | head[5] : head[4] | head[5] << 8);
    uint16_t minor = (uint16_t)(swap ? head[6] << 8 | head[7] : head[6] | head[7] << 8);
    if (major != 2 || minor != 4) {
        return;
    }
    /* libpcap also rewrites some pseudo-headers of a byte-swapped file (pcap_post_process):
     * NFLOG's TLV lengths and types are in the writer's byte order. Those files stay with
     * libpcap (found by fuzz_capfile's reader comparison). */
    if (swap && cf->linktype == PM_LT_NFLOG) {
        return;
    }
    switch (cf->linktype) {
    case PM_LT_NULL: case PM_LT_ETHERNET: case PM_LT_RAW: case PM_LT_LOOP:
    case PM_LT_LINUX_SLL: case PM_LT_IPV4: case PM_LT_IPV6: case PM_LT_NFLOG:
    case PM_LT_LINUX_SLL2:
        break;
    default:
        return;
    }
    int snap = pcap_snapshot(cf->pcap);
    if (snap <= 0 || (uint32_t)snap > BLOCK_MAX_CAPLEN) {
        return;
    }
    struct pm_blockread *b = pm_xcalloc(1, sizeof(*b));
    b->buf = malloc(PM_CAPIN_BLOCK_SIZE);
    if (!b->buf) {
        free(b); /* no memory for the fast path: libpcap reads it */
        return;
    }
    b->fd = fileno(f);
    b->swap = swap;
    b->micro = m == 0xa1b2c3d4u || m == 0xd4c3b2a1u;
    b->snapshot = (uint32_t)snap;
    b->off = 24;
    cf->blk = b;
}

/* Make at least `need` (<= PM_CAPIN_BLOCK_SIZE) bytes available at buf[start]; returns how many are
 * (fewer at the end of the file), or -1 with errno on a read error. */
static long block_fill(struct pm_blockread *b, size_t need)
{
    if (b->end - b->start >= need || b->at_eof) {
        return (long)(b->end - b->start);
    }
    if (PM_CAPIN_BLOCK_SIZE - b->start < need) {
        memmove(b->buf, b->buf + b->start, b->end - b->start);
        b->end -= b->start;
        b->start = 0;
    }
    while (b->end - b->start < need) {
        ssize_t n = pread(b->fd, b->buf + b->end, PM_CAPIN_BLOCK_SIZE - b->end, (off_t)b->off);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        if (n == 0) {
            b->at_eof = 1;
            break;
        }
        b->end += (size_t)n;
        b->off += (uint64_t)n;
    }
    return (long)(b->end - b->start);
}

/* One record by the block reader: 0 ok, 1 end of file, -1 damaged (message in the stats).
 * The checks and messages follow libpcap 1.10's pcap_next_packet() (sf-pcap.c). */
static int block_next(struct pm_capfile *cf, struct pcap_pkthdr *h, const uint8_t **data,
                      uint32_t *file_caplen)
{
    struct pm_blockread *b = cf->blk;
    char msg[160];
    long have = block_fill(b, 16);
    if (have < 0) {
        snprintf(msg, sizeof(msg), "error reading dump file: %s", strerror(errno));
        set_damage(cf, msg);
        return -1;
    }
    if (have == 0) {
        return 1;
    }
    if (have < 16) {
        snprintf(msg, sizeof(msg), "truncated dump file; tried to read 16 header bytes, "
                 "only got %ld", have);
        set_damage(cf, msg);
        return -1;
    }
    const uint8_t *r = b->buf + b->start;
    /* The seconds and the fraction are signed 32-bit fields (struct pcap_timeval), but
     * libpcap's byte swap (SWAPLONG) yields them unsigned: only a damaged file has a
     * negative time either way, and it must read the same with either reader. */
    int64_t sec = b->swap ? (int64_t)rd32(r, 1) : (int64_t)(int32_t)rd32(r, 0);
    int64_t frac = b->swap ? (int64_t)rd32(r + 4, 1) : (int64_t)(int32_t)rd32(r + 4, 0);
    uint32_t caplen = rd32(r + 8, b->swap);
    uint32_t len = rd32(r + 12, b->swap);
    if (caplen > BLOCK_MAX_CAPLEN) {
        snprintf(msg, sizeof(msg), "invalid packet capture length %u, bigger than snaplen of %u",
                 caplen, b->snapshot);
        set_damage(cf, msg);
        return -1;
    }
    have = block_fill(b, 16u + caplen);
    if (have < 0) {
        snprintf(msg, sizeof(msg), "error reading dump file: %s", strerror(errno));
        set_damage(cf, msg);
        return -1;
    }
    if ((uint64_t)have < 16u + (uint64_t)caplen) {
        /* Over the snapshot length libpcap reads the first snapshot bytes, then skips the
         * rest: the message names whichever read came up short. */
        uint32_t tried = caplen > b->snapshot && (uint64_t)have < 16u + (uint64_t)b->snapshot
                             ? b->snapshot : caplen;
        snprintf(msg, sizeof(msg), "truncated dump file; tried to read %u captured bytes, "
                 "only got %ld", tried, have - 16);
        set_damage(cf, msg);
        return -1;
    }
    r = b->buf + b->start;
    b->start += 16u + caplen;
    *file_caplen = caplen;
    /* A record longer than the file's snapshot length: libpcap keeps the first snapshot
     * bytes (old Solaris wrote such files). */
    h->caplen = caplen > b->snapshot ? b->snapshot : caplen;
    h->len = len;
    h->ts.tv_sec = sec;
    h->ts.tv_usec = b->micro ? frac * 1000 : frac;
    *data = r + 16;
    return 0;
}

static struct pm_capfile *open_stream(FILE *f, const char *path, const char *filter,
                                      const uint8_t *head, size_t got, bool regular,
                                      struct pm_instream *ins, char *err, size_t errlen);

/* The capture's first bytes from a FILE at its start, then back to the start (a regular,
 * uncompressed file only). */
static struct pm_capfile *open_regular(FILE *f, const char *path, const char *filter,
                                       char *err, size_t errlen)
{
    uint8_t head[24] = {0};
    size_t got = fread(head, 1, sizeof(head), f);
    rewind(f);
    return open_stream(f, path, filter, head, got, true, NULL, err, errlen);
}

/* Standard input, a pipe, a FIFO, /dev/fd/N, or a compressed file: read once, in order,
 * through instream.c (which tells and undoes the compression). */
static struct pm_capfile *open_instream(int fd, const char *path, const char *filter,
                                        char *err, size_t errlen)
{
    struct pm_instream *ins = pm_instream_new(fd, path, err, errlen);
    if (!ins) {
        return NULL;
    }
    uint8_t head[24] = {0};
    size_t got = pm_instream_peek(ins, head, sizeof(head));
    if (got < 4 && pm_instream_error(ins)[0]) {
        snprintf(err, errlen, "%s: %s", path, pm_instream_error(ins));
        fclose(pm_instream_file(ins));
        return NULL;
    }
    FILE *f = pm_instream_file(ins);
    if (!f) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    return open_stream(f, path, filter, head, got, false, ins, err, errlen);
}

struct pm_capfile *pm_capfile_open(const char *path, const char *filter, char *err,
                                   size_t errlen)
{
    /* "-" is standard input, as in tcpdump -r -; a duplicate, so that closing the capture
     * leaves descriptor 0 alone. */
    bool std_in = strcmp(path, "-") == 0;
    int fd = std_in ? fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0)
                    : open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", std_in ? "standard input" : path,
                 strerror(errno));
        return NULL;
    }
    const char *label = std_in ? "standard input" : path;
    struct stat sb;
    if (fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        snprintf(err, errlen, "%s is a directory, not a capture file", path);
        close(fd);
        return NULL;
    }
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
        /* A plain file stays with the pread block reader; a compressed one is streamed. */
        uint8_t m[6] = {0};
        ssize_t n = pread(fd, m, sizeof(m), 0);
        if (n >= 0 && pm_codec_detect(m, (size_t)n) == PM_CODEC_NONE) {
            FILE *f = fdopen(fd, "rb");
            if (!f) {
                snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
                close(fd);
                return NULL;
            }
            return open_regular(f, path, filter, err, errlen);
        }
    }
    bool once = !(fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode));
    struct pm_capfile *cf = open_instream(fd, label, filter, err, errlen);
    if (cf) {
        cf->once = once;
    }
    return cf;
}

struct pm_capfile *pm_capfile_open_fd(int fd, const char *label, const char *filter, char *err,
                                      size_t errlen)
{
    /* A descriptor of our own (dup) from the start of the file: the caller's stays open. */
    int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    FILE *f = dfd >= 0 && lseek(dfd, 0, SEEK_SET) == 0 ? fdopen(dfd, "rb") : NULL;
    if (!f) {
        snprintf(err, errlen, "cannot read %s again: %s", label, strerror(errno));
        if (dfd >= 0) {
            close(dfd);
        }
        return NULL;
    }
    return open_regular(f, label, filter, err, errlen);
}

static struct pm_capfile *open_stream(FILE *f, const char *path, const char *filter,
                                      const uint8_t *head, size_t got, bool regular,
                                      struct pm_instream *ins, char *err, size_t errlen)
{
    struct stat sb;
    memset(&sb, 0, sizeof(sb));
    uint64_t size = 0;
    if (regular && fstat(fileno(f), &sb) == 0) {
        if (S_ISDIR(sb.st_mode)) {
            snprintf(err, errlen, "%s is a directory, not a capture file", path);
            fclose(f);
            return NULL;
        }
        size = (uint64_t)sb.st_size;
    }
    const uint8_t *magic = head;
    if (got < 4) {
        if (regular) {
            snprintf(err, errlen, "%s is not a capture file: %zu bytes, too short for a pcap "
                     "or pcapng header", path, (size_t)size);
        } else {
            snprintf(err, errlen, "%s is not a capture file: %zu bytes%s%s, too short for a "
                     "pcap or pcapng header", path, got, ins && pm_instream_codec(ins) ?
                     " after decompression by " : "", ins && pm_instream_codec(ins) ?
                     pm_codec_name(pm_instream_codec(ins)) : "");
        }
        fclose(f);
        return NULL;
    }

    struct pm_capfile *cf = pm_xcalloc(1, sizeof(*cf));
    cf->path = pm_xstrdup(path);
    cf->st.file_size = size;
    cf->st.first_ts = cf->st.last_ts = PM_NS_NONE;
    cf->stream = !regular;
    cf->ins = ins;
    cf->codec = ins ? pm_instream_codec(ins) : PM_CODEC_NONE;
    if (filter) {
        cf->filter = pm_xstrdup(filter);
    }
    /* pcapng's Section Header Block type is the palindrome 0x0A0D0D0A. */
    if (magic[0] == 0x0a && magic[1] == 0x0d && magic[2] == 0x0d && magic[3] == 0x0a) {
        cf->is_pcapng = 1;
        cf->ng = pm_pcapng_open(f, err, errlen);
        if (!cf->ng) {
            char tmp[256];
            snprintf(tmp, sizeof(tmp), "%s", err);
            snprintf(err, errlen, "%s: not a readable pcapng file: %s", path, tmp);
            pm_capfile_close(cf);
            return NULL;
        }
        return cf;
    }
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    cf->pcap = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, ebuf);
    if (!cf->pcap) {
        fclose(f);
        if (cf->codec) {
            snprintf(err, errlen, "%s is not a capture file (pcap or pcapng) after %s "
                     "decompression: %s", path, pm_codec_name(cf->codec), ebuf);
        } else {
            snprintf(err, errlen, "%s is not a capture file (pcap or pcapng): %s", path, ebuf);
        }
        pm_capfile_close(cf);
        return NULL;
    }
    cf->linktype = pm_linktype_normalize(pcap_datalink(cf->pcap));
    /* The file's own precision, for the format name (libpcap scales to ns for us). */
    cf->nano = magic[0] == 0x4d || magic[3] == 0x4d; /* a1b23c4d in either byte order */
    if (filter && *filter) {
        if (compile_for(cf->pcap, cf->linktype, filter, &cf->prog) == 0) {
            cf->have_prog = 1;
        } else {
            pm_debug("%s: filter does not compile for link type %s; reading all records",
                     path, pm_linktype_name(cf->linktype));
        }
    }
    if (regular && got == 24 && S_ISREG(sb.st_mode)) {
        block_start(cf, head, f);
    }
    return cf;
}

/* Does a pcapng record match the user's expression? Compiled per link type on first use
 * (pcap_open_dead); a link type it does not compile for matches nothing (said once). */
static int ng_user_match(struct pm_capfile *cf, int linktype, const struct pcap_pkthdr *h,
                         const uint8_t *data)
{
    for (size_t i = 0; i < PM_ARRAY_LEN(cf->ngu); i++) {
        if (cf->ngu[i].state == 0) {
            cf->ngu[i].linktype = linktype;
            pcap_t *dead = pcap_open_dead(linktype == PM_LT_RAW ? DLT_RAW : linktype, 262144);
            if (dead && pcap_compile(dead, &cf->ngu[i].prog, cf->ufilter, 1,
                                     PCAP_NETMASK_UNKNOWN) == 0) {
                cf->ngu[i].state = 1;
            } else {
                cf->ngu[i].state = 2;
                pm_warn("%s: the filter expression '%s' does not apply to link type %s (%s): "
                        "its packets are skipped", cf->path, cf->ufilter,
                        pm_linktype_name(pm_linktype_normalize(linktype)),
                        dead ? pcap_geterr(dead) : "out of memory");
            }
            if (dead) {
                pcap_close(dead);
            }
        }
        if (cf->ngu[i].linktype == linktype) {
            return cf->ngu[i].state == 1 &&
                   pcap_offline_filter(&cf->ngu[i].prog, h, data) != 0;
        }
    }
    return 0; /* more link types than slots: hostile or exotic; nothing matches */
}

int pm_capfile_user_filter(struct pm_capfile *cf, const char *expr, char *err, size_t errlen)
{
    if (!expr || !*expr) {
        return 0;
    }
    /* Against the file's (first) link type, as tcpdump compiles it: a syntax error, or an
     * expression that means nothing on this link, is the user's to fix (exit 2). */
    int lt = cf->is_pcapng ? pm_capfile_first_linktype(cf) : pcap_datalink(cf->pcap);
    if (lt < 0) {
        lt = DLT_EN10MB; /* a pcapng with no interface yet: check the syntax at least */
    } else if (cf->is_pcapng && lt == PM_LT_RAW) {
        lt = DLT_RAW; /* pcapng holds LINKTYPE_ values; libpcap wants the DLT_ one */
    }
    pcap_t *dead = pcap_open_dead(lt, cf->is_pcapng ? 262144 : pcap_snapshot(cf->pcap));
    struct bpf_program prog;
    if (!dead) {
        snprintf(err, errlen, "cannot check the filter expression: out of memory");
        return -1;
    }
    if (pcap_compile(dead, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) != 0) {
        snprintf(err, errlen, "%s", pcap_geterr(dead));
        pcap_close(dead);
        return -1;
    }
    pcap_close(dead);
    cf->ufilter = pm_xstrdup(expr);
    if (cf->is_pcapng) {
        pcap_freecode(&prog); /* compiled per link type as records come */
    } else {
        cf->uprog = prog;
        cf->have_uprog = 1;
    }
    return 0;
}

uint64_t pm_capfile_unmatched(const struct pm_capfile *cf) { return cf->unmatched; }

bool pm_capfile_is_stream(const struct pm_capfile *cf) { return cf->once; }

const char *pm_capfile_compression(const struct pm_capfile *cf)
{
    return cf->codec ? pm_codec_name(cf->codec) : NULL;
}

/* Does the record pass the pcapng per-link-type filter? */
static int ng_filter_pass(struct pm_capfile *cf, int linktype, const struct pcap_pkthdr *h,
                          const uint8_t *data)
{
    if (!cf->filter || !*cf->filter) {
        return 1;
    }
    for (size_t i = 0; i < PM_ARRAY_LEN(cf->ngprog); i++) {
        if (cf->ngprog[i].state == 0) {
            cf->ngprog[i].linktype = linktype;
            pcap_t *dead = pcap_open_dead(linktype == PM_LT_RAW ? DLT_RAW : linktype, 262144);
            if (dead && compile_for(dead, linktype, cf->filter, &cf->ngprog[i].prog) == 0) {
                cf->ngprog[i].state = 1;
            } else {
                cf->ngprog[i].state = 2;
            }
            if (dead) {
                pcap_close(dead);
            }
        }
        if (cf->ngprog[i].linktype == linktype) {
            return cf->ngprog[i].state == 2 ||
                   pcap_offline_filter(&cf->ngprog[i].prog, h, data) != 0;
        }
    }
    return 1; /* more link types than slots: hostile or exotic, pass everything */
}

enum pm_read pm_capfile_next(struct pm_capfile *cf, struct pm_record *rec)
{
    if (cf->st.damaged) {
        return PM_READ_DAMAGED;
    }
    for (;;) {
        if (cf->is_pcapng) {
            struct pm_ng_record r;
            char ebuf[200];
            int rc = pm_pcapng_next(cf->ng, &r, ebuf, sizeof(ebuf));
            cf->st.bytes = pm_pcapng_offset(cf->ng);
            if (rc == 1) {
                return stream_eof(cf);
            }
            if (rc < 0) {
                set_damage(cf, ebuf);
                return PM_READ_DAMAGED;
            }
            cf->frame++;
            cf->st.records++;
            r.ts = sane_time(r.ts);
            if (r.ts != 0) {
                span(cf, r.ts);
            }
            if (cf->ufilter) {
                struct pcap_pkthdr uh = {.caplen = r.caplen, .len = r.wirelen};
                if (!ng_user_match(cf, r.linktype, &uh, r.data)) {
                    cf->unmatched++;
                    continue;
                }
            }
            sample(cf, pm_linktype_normalize(r.linktype), r.data, r.caplen, r.wirelen);
            watch_direction(cf, pm_linktype_normalize(r.linktype), r.data, r.caplen, r.wirelen);
            struct pcap_pkthdr h = {.caplen = r.caplen, .len = r.wirelen};
            if (!ng_filter_pass(cf, r.linktype, &h, r.data)) {
                if (cf->side) {
                    struct pm_record sr = {.ts = r.ts, .caplen = r.caplen, .wirelen = r.wirelen,
                                           .linktype = pm_linktype_normalize(r.linktype),
                                           .data = r.data, .frame = cf->frame,
                                           .file = cf->side_file, .vantage = cf->side_vantage,
                                           .ifloop = r.ifloop};
                    cf->side(cf->side_ctx, &sr);
                }
                continue;
            }
            cf->st.filtered++;
            rec->ts = r.ts;
            rec->caplen = r.caplen;
            rec->wirelen = r.wirelen;
            rec->linktype = pm_linktype_normalize(r.linktype);
            rec->data = r.data;
            rec->ifloop = r.ifloop;
            rec->frame = cf->frame;
            return PM_READ_OK;
        }
        struct pcap_pkthdr *h;
        struct pcap_pkthdr bh;
        const u_char *data;
        uint32_t file_caplen;
        if (cf->blk) {
            int rc = block_next(cf, &bh, &data, &file_caplen);
            if (rc == 1) {
                return PM_READ_EOF;
            }
            if (rc < 0) {
                return PM_READ_DAMAGED;
            }
            h = &bh;
        } else {
            int rc = pcap_next_ex(cf->pcap, &h, &data);
            if (rc == PCAP_ERROR_BREAK) {
                return stream_eof(cf);
            }
            if (rc != 1) {
                set_damage(cf, pcap_geterr(cf->pcap));
                return PM_READ_DAMAGED;
            }
            file_caplen = h->caplen;
        }
        cf->frame++;
        cf->st.records++;
        cf->st.bytes += 16u + file_caplen;
        pm_ns ts = sane_time(PM_SEC(h->ts.tv_sec) + (pm_ns)h->ts.tv_usec); /* usec holds ns */
        span(cf, ts);
        if (cf->have_uprog && pcap_offline_filter(&cf->uprog, h, data) == 0) {
            cf->unmatched++;
            continue;
        }
        sample(cf, cf->linktype, data, h->caplen, h->len < h->caplen ? h->caplen : h->len);
        watch_direction(cf, cf->linktype, data, h->caplen, h->len < h->caplen ? h->caplen : h->len);
        if (cf->have_prog && pcap_offline_filter(&cf->prog, h, data) == 0) {
            if (cf->side) {
                struct pm_record sr = {.ts = ts, .caplen = h->caplen,
                                       .wirelen = h->len < h->caplen ? h->caplen : h->len,
                                       .linktype = cf->linktype, .data = data,
                                       .frame = cf->frame, .file = cf->side_file,
                                       .vantage = cf->side_vantage};
                cf->side(cf->side_ctx, &sr);
            }
            continue;
        }
        cf->st.filtered++;
        rec->ts = ts;
        rec->caplen = h->caplen;
        /* A length below the captured length is a lying header: trust what we hold. */
        rec->wirelen = h->len < h->caplen ? h->caplen : h->len;
        rec->linktype = cf->linktype;
        rec->data = data;
        rec->ifloop = 0;
        rec->frame = cf->frame;
        return PM_READ_OK;
    }
}

const struct pm_capfile_stats *pm_capfile_stats(const struct pm_capfile *cf) { return &cf->st; }

const char *pm_capfile_format(const struct pm_capfile *cf)
{
    return cf->is_pcapng ? "pcapng" : cf->nano ? "pcap-ns" : "pcap";
}

int pm_capfile_first_linktype(const struct pm_capfile *cf)
{
    return cf->is_pcapng ? pm_pcapng_first_linktype(cf->ng) : cf->linktype;
}

void pm_capfile_close(struct pm_capfile *cf)
{
    if (!cf) {
        return;
    }
    if (cf->blk) {
        free(cf->blk->buf);
        free(cf->blk);
    }
    if (cf->pcap) {
        pcap_close(cf->pcap); /* also closes the descriptor the block reader used */
    }
    if (cf->ng) {
        pm_pcapng_close(cf->ng);
    }
    if (cf->have_prog) {
        pcap_freecode(&cf->prog);
    }
    for (size_t i = 0; i < PM_ARRAY_LEN(cf->ngprog); i++) {
        if (cf->ngprog[i].state == 1) {
            pcap_freecode(&cf->ngprog[i].prog);
        }
    }
    if (cf->have_uprog) {
        pcap_freecode(&cf->uprog);
    }
    for (size_t i = 0; i < PM_ARRAY_LEN(cf->ngu); i++) {
        if (cf->ngu[i].state == 1) {
            pcap_freecode(&cf->ngu[i].prog);
        }
    }
    free(cf->ufilter);
    free(cf->filter);
    free(cf->path);
    free(cf);
}

/* ---- merged input set ---- */

int pm_inputset_add(struct pm_inputset *set, const char *spec, const char *filter)
{
    if (set->n >= PM_MAX_INPUTS) {
        pm_err("too many capture files (at most %d)", PM_MAX_INPUTS);
        pm_hint("merge them first with mergecap, or analyse them in groups");
        return PM_EXIT_USAGE;
    }
    const char *eq = strchr(spec, '=');
    char label[64];
    const char *path = spec;
    /* NAME=FILE, unless the part before '=' looks like a path (contains '/'). */
    if (eq && eq != spec && (size_t)(eq - spec) < sizeof(label) &&
        memchr(spec, '/', (size_t)(eq - spec)) == NULL) {
        memcpy(label, spec, (size_t)(eq - spec));
        label[eq - spec] = '\0';
        path = eq + 1;
    } else {
        /* A bare file is named after itself: its base name without the extension. */
        const char *base = strrchr(spec, '/');
        base = base ? base + 1 : spec;
        snprintf(label, sizeof(label), "%s", strcmp(spec, "-") == 0 ? "stdin" : base);
        char *dot = strrchr(label, '.');
        /* x.pcap.gz is named x, as x.pcap is */
        if (dot && dot != label && (!strcmp(dot, ".gz") || !strcmp(dot, ".xz") ||
                                    !strcmp(dot, ".zst") || !strcmp(dot, ".zstd"))) {
            *dot = '\0';
            dot = strrchr(label, '.');
        }
        if (dot && dot != label) {
            *dot = '\0';
        }
    }
    char err[512];
    struct pm_capfile *cf = pm_capfile_open(path, filter, err, sizeof(err));
    if (!cf) {
        pm_err("%s", err);
        pm_hint("give a pcap or pcapng file (tcpdump -w, tshark -w, dumpcap)");
        return PM_EXIT_UNREADABLE;
    }
    if (set->user_filter && pm_capfile_user_filter(cf, set->user_filter, err, sizeof(err)) != 0) {
        pm_err("bad filter expression '%s' (for %s): %s", set->user_filter,
               strcmp(path, "-") == 0 ? "standard input" : path, err);
        pm_capfile_close(cf);
        return PM_EXIT_USAGE;
    }
    struct pm_input *in = &set->in[set->n];
    in->path = pm_xstrdup(path);
    in->label = pm_xstrdup(label);
    in->cf = cf;
    int v = -1;
    for (int i = 0; i < set->nvantage; i++) {
        if (strcmp(set->vantage_names[i], label) == 0) {
            v = i;
        }
    }
    if (v < 0) {
        v = set->nvantage++;
        set->vantage_names[v] = pm_xstrdup(label);
    }
    in->vantage = (uint16_t)v;
    set->n++;
    return 0;
}

enum pm_read pm_inputset_next(struct pm_inputset *set, struct pm_record *rec)
{
    int best = -1;
    for (int i = 0; i < set->n; i++) {
        struct pm_input *in = &set->in[i];
        if (!in->has_next && !in->done) {
            enum pm_read r = pm_capfile_next(in->cf, &in->next);
            if (r == PM_READ_OK) {
                in->has_next = 1;
                in->next.file = (uint16_t)i;
                in->next.vantage = in->vantage;
            } else {
                in->done = 1;
                if (r == PM_READ_DAMAGED) {
                    set->damaged = 1;
                }
            }
        }
        if (in->has_next && (best < 0 || in->next.ts < set->in[best].next.ts)) {
            best = i;
        }
    }
    if (best < 0) {
        return PM_READ_EOF;
    }
    *rec = set->in[best].next;
    set->in[best].has_next = 0;
    return PM_READ_OK;
}

void pm_inputset_side(struct pm_inputset *set, pm_side_fn fn, void *ctx)
{
    for (int i = 0; i < set->n; i++) {
        struct pm_capfile *cf = set->in[i].cf;
        cf->side = fn;
        cf->side_ctx = ctx;
        cf->side_file = (uint16_t)i;
        cf->side_vantage = set->in[i].vantage;
    }
}

void pm_inputset_idle(struct pm_inputset *set, void (*fn)(void *ctx), void *ctx)
{
    for (int i = 0; i < set->n; i++) {
        struct pm_capfile *cf = set->in[i].cf;
        if (cf->ins && cf->once) {
            pm_instream_set_idle(cf->ins, fn, ctx);
        }
    }
}

void pm_inputset_close(struct pm_inputset *set)
{
    for (int i = 0; i < set->n; i++) {
        pm_capfile_close(set->in[i].cf);
        free(set->in[i].path);
        free(set->in[i].label);
    }
    for (int i = 0; i < set->nvantage; i++) {
        free(set->vantage_names[i]);
    }
    memset(set, 0, sizeof(*set));
}
