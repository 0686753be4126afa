/*
 * instream.c — owns a capture's byte stream when it is not a plain regular file: standard
 * input, a pipe, a FIFO, a process substitution, or a compressed file of any of these
 * (include/instream.h). The compression is told from the first bytes, so `x.pcap.gz`
 * renamed to `x.pcap`, or `zstd -c x.pcap | portmortem analyze -`, read the same.
 *
 * Why libraries (zlib, liblzma, libzstd) rather than a decoder of our own or a spawned
 * `xz -d`: they are the reference decoders, already on every Debian system, and they
 * stream; spawning external programs from a tool that may start as root is worse
 * (docs/DEPENDENCIES.md). Every decoder is driven with one 64 KiB input buffer and the
 * caller's output buffer: nothing is ever decompressed whole into memory, and the
 * decoders' own memory is bounded (xz: PM_XZ_MEMLIMIT; zstd: a window of at most
 * 2^PM_ZSTD_WINDOWLOG_MAX bytes, the format's default limit for decoders, RFC 8878 §3.1.1.1.2).
 * Concatenated gzip members, xz streams and zstd frames are read one after another, as
 * gzip -d, xz -d and zstd -d do.
 */
#include "instream.h"

#include <errno.h>
#include <lzma.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "util.h"

#define PEEK_MAX 64

struct pm_instream {
    int fd;
    enum pm_codec codec;
    uint8_t in[PM_IN_BUF];
    size_t in_pos, in_len;
    bool in_eof;
    uint64_t raw;
    bool member_done;     /* a gzip member / xz stream / zstd frame ended cleanly */
    bool started;         /* the decoder has seen input since the last member ended */
    z_stream z;
    bool z_init;
    lzma_stream x;
    bool x_init;
    ZSTD_DStream *zs;
    uint8_t peek[PEEK_MAX];
    size_t npeek, peek_pos;
    bool failed;
    char err[256];
    void (*idle)(void *ctx);
    void *idle_ctx;
};

enum pm_codec pm_codec_detect(const uint8_t *p, size_t n)
{
    if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b) {
        return PM_CODEC_GZIP;
    }
    static const uint8_t xz[6] = {0xfd, '7', 'z', 'X', 'Z', 0x00};
    if (n >= 6 && memcmp(p, xz, 6) == 0) {
        return PM_CODEC_XZ;
    }
    /* The zstd magic is 0xFD2FB528, little-endian on the wire. */
    if (n >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd) {
        return PM_CODEC_ZSTD;
    }
    return PM_CODEC_NONE;
}

const char *pm_codec_name(enum pm_codec c)
{
    switch (c) {
    case PM_CODEC_GZIP: return "gzip";
    case PM_CODEC_XZ: return "xz";
    case PM_CODEC_ZSTD: return "zstd";
    default: return "none";
    }
}

static void fail(struct pm_instream *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct pm_instream *s, const char *fmt, ...)
{
    if (s->failed) {
        return; /* the first cause is the one to tell */
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof(s->err), fmt, ap);
    va_end(ap);
    s->failed = true;
}

/* More compressed (or plain) bytes into s->in, when it is used up. -1 on a read error. */
static int fill(struct pm_instream *s)
{
    if (s->in_pos < s->in_len || s->in_eof) {
        return 0;
    }
    for (;;) {
        if (s->idle) {
            /* A pipe may stay silent for minutes: let the caller's clock run meanwhile. */
            struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
            int pr = poll(&pfd, 1, 1000);
            if (pr == 0 || (pr < 0 && errno == EINTR)) {
                if (pr == 0) {
                    s->idle(s->idle_ctx);
                }
                continue;
            }
        }
        ssize_t n = read(s->fd, s->in, sizeof(s->in));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            fail(s, "read error after %llu bytes: %s", (unsigned long long)s->raw,
                 strerror(errno));
            return -1;
        }
        s->in_pos = 0;
        s->in_len = (size_t)n;
        s->raw += (uint64_t)n;
        if (n == 0) {
            s->in_eof = true;
        }
        return 0;
    }
}

/* One decoder step: consume from s->in, write up to n bytes; *out is how many. -1 on a
 * decoder error (message set). Sets member_done at the end of a member/stream/frame. */
static int step(struct pm_instream *s, uint8_t *buf, size_t n, size_t *out)
{
    size_t avail = s->in_len - s->in_pos;
    *out = 0;
    switch (s->codec) {
    case PM_CODEC_NONE: {
        size_t k = PM_MIN(avail, n);
        memcpy(buf, s->in + s->in_pos, k);
        s->in_pos += k;
        *out = k;
        return 0;
    }
    case PM_CODEC_GZIP: {
        if (s->member_done) {
            inflateReset(&s->z); /* the next member of a concatenated gzip file */
            s->member_done = false;
        }
        s->z.next_in = s->in + s->in_pos;
        s->z.avail_in = (uInt)avail;
        s->z.next_out = buf;
        s->z.avail_out = (uInt)PM_MIN(n, (size_t)UINT32_MAX);
        int rc = inflate(&s->z, Z_NO_FLUSH);
        s->in_pos = s->in_len - s->z.avail_in;
        *out = (size_t)(s->z.next_out - buf);
        if (rc == Z_STREAM_END) {
            s->member_done = true;
        } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
            fail(s, "damaged gzip data after %llu compressed bytes: %s",
                 (unsigned long long)(s->raw - (s->in_len - s->in_pos)),
                 s->z.msg ? s->z.msg : "inflate failed");
            return -1;
        }
        return 0;
    }
    case PM_CODEC_XZ: {
        s->x.next_in = s->in + s->in_pos;
        s->x.avail_in = avail;
        s->x.next_out = buf;
        s->x.avail_out = n;
        /* With LZMA_CONCATENATED the decoder waits for another stream until told FINISH. */
        lzma_action act = s->in_eof ? LZMA_FINISH : LZMA_RUN;
        lzma_ret rc = lzma_code(&s->x, act);
        s->in_pos = s->in_len - s->x.avail_in;
        *out = (size_t)(s->x.next_out - buf);
        if (rc == LZMA_STREAM_END) {
            s->member_done = true;
            s->in_pos = s->in_len; /* nothing follows the last stream */
        } else if (rc == LZMA_MEMLIMIT_ERROR) {
            fail(s, "the xz stream needs more than %llu MiB to decode (a dictionary bigger "
                 "than xz -9's): recompress it with xz -6",
                 (unsigned long long)(PM_XZ_MEMLIMIT >> 20));
            return -1;
        } else if (rc != LZMA_OK && !(rc == LZMA_BUF_ERROR && !s->in_eof)) {
            if (s->in_eof && (rc == LZMA_BUF_ERROR || rc == LZMA_DATA_ERROR) && *out == 0) {
                fail(s, "the xz stream ends before its end marker: the compressed file is "
                     "cut short (after %llu compressed bytes)", (unsigned long long)s->raw);
            } else {
                fail(s, "damaged xz data after %llu compressed bytes (liblzma error %d)",
                     (unsigned long long)(s->raw - (s->in_len - s->in_pos)), (int)rc);
            }
            return -1;
        }
        return 0;
    }
    case PM_CODEC_ZSTD: {
        ZSTD_inBuffer ib = {s->in + s->in_pos, avail, 0};
        ZSTD_outBuffer ob = {buf, n, 0};
        size_t rc = ZSTD_decompressStream(s->zs, &ob, &ib);
        s->in_pos += ib.pos;
        *out = ob.pos;
        if (ZSTD_isError(rc)) {
            fail(s, "damaged zstd data after %llu compressed bytes: %s",
                 (unsigned long long)(s->raw - (s->in_len - s->in_pos)), ZSTD_getErrorName(rc));
            return -1;
        }
        s->member_done = rc == 0; /* 0: a frame is completely decoded and flushed */
        return 0;
    }
    }
    return -1;
}

/* Up to n decoded bytes: > 0 bytes, 0 at the clean end, -1 on an error (message set). */
static ssize_t decode(struct pm_instream *s, uint8_t *buf, size_t n)
{
    if (s->failed) {
        return -1;
    }
    for (;;) {
        if (fill(s) < 0) {
            return -1;
        }
        bool have_in = s->in_pos < s->in_len;
        if (!have_in && s->in_eof) {
            if (s->codec == PM_CODEC_NONE || s->member_done) {
                return 0;
            }
            if (!s->started) {
                fail(s, "the %s stream is empty", pm_codec_name(s->codec));
                return -1;
            }
            if (s->codec != PM_CODEC_XZ) {
                fail(s, "the %s stream ends before its end marker: the compressed file is "
                     "cut short (after %llu compressed bytes)", pm_codec_name(s->codec),
                     (unsigned long long)s->raw);
                return -1;
            }
            /* xz: LZMA_FINISH (in step) tells a complete stream from a cut one. */
        }
        if (have_in) {
            s->started = true;
        }
        size_t got;
        if (step(s, buf, n, &got) < 0) {
            return -1;
        }
        if (got > 0) {
            return (ssize_t)got;
        }
        if (s->codec == PM_CODEC_XZ && s->member_done && s->in_eof) {
            return 0;
        }
    }
}

static ssize_t cookie_read(void *c, char *buf, size_t size)
{
    struct pm_instream *s = c;
    size_t done = 0;
    while (s->peek_pos < s->npeek && done < size) {
        buf[done++] = (char)s->peek[s->peek_pos++];
    }
    if (done == size) {
        return (ssize_t)done;
    }
    ssize_t n = decode(s, (uint8_t *)buf + done, size - done);
    if (n < 0) {
        if (done > 0) {
            return (ssize_t)done; /* the error comes on the next read */
        }
        errno = EIO;
        return -1;
    }
    return (ssize_t)done + n;
}

static void instream_free(struct pm_instream *s)
{
    if (s->z_init) {
        inflateEnd(&s->z);
    }
    if (s->x_init) {
        lzma_end(&s->x);
    }
    ZSTD_freeDStream(s->zs); /* NULL is fine */
    if (s->fd >= 0) {
        close(s->fd);
    }
    free(s);
}

static int cookie_close(void *c)
{
    instream_free(c);
    return 0;
}

struct pm_instream *pm_instream_new(int fd, const char *label, char *err, size_t errlen)
{
    struct pm_instream *s = pm_xcalloc(1, sizeof(*s));
    s->fd = fd;
    /* Up to 6 bytes (the xz magic) tell the codec; a pipe may hand them out piecemeal. */
    while (s->in_len < 6 && !s->in_eof) {
        ssize_t n = read(fd, s->in + s->in_len, sizeof(s->in) - s->in_len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            snprintf(err, errlen, "cannot read %s: %s", label, strerror(errno));
            instream_free(s);
            return NULL;
        }
        if (n == 0) {
            s->in_eof = true;
        }
        s->in_len += (size_t)n;
        s->raw += (uint64_t)n;
    }
    s->codec = pm_codec_detect(s->in, s->in_len);
    bool ok = true;
    switch (s->codec) {
    case PM_CODEC_GZIP:
        /* 16 + MAX_WBITS: a gzip wrapper only (zlib.h, inflateInit2). */
        ok = inflateInit2(&s->z, 16 + MAX_WBITS) == Z_OK;
        s->z_init = ok;
        break;
    case PM_CODEC_XZ: {
        lzma_stream init = LZMA_STREAM_INIT;
        s->x = init;
        ok = lzma_stream_decoder(&s->x, PM_XZ_MEMLIMIT, LZMA_CONCATENATED) == LZMA_OK;
        s->x_init = ok;
        break;
    }
    case PM_CODEC_ZSTD:
        s->zs = ZSTD_createDStream();
        ok = s->zs && !ZSTD_isError(ZSTD_initDStream(s->zs)) &&
             !ZSTD_isError(ZSTD_DCtx_setParameter(s->zs, ZSTD_d_windowLogMax,
                                                  PM_ZSTD_WINDOWLOG_MAX));
        break;
    default:
        break;
    }
    if (!ok) {
        snprintf(err, errlen, "cannot start the %s decoder for %s (out of memory?)",
                 pm_codec_name(s->codec), label);
        instream_free(s);
        return NULL;
    }
    return s;
}

enum pm_codec pm_instream_codec(const struct pm_instream *s) { return s->codec; }

size_t pm_instream_peek(struct pm_instream *s, uint8_t *buf, size_t n)
{
    n = PM_MIN(n, (size_t)PEEK_MAX);
    while (s->npeek < n) {
        ssize_t k = decode(s, s->peek + s->npeek, n - s->npeek);
        if (k <= 0) {
            break;
        }
        s->npeek += (size_t)k;
    }
    size_t have = PM_MIN(n, s->npeek);
    memcpy(buf, s->peek, have);
    return have;
}

FILE *pm_instream_file(struct pm_instream *s)
{
    cookie_io_functions_t io = {.read = cookie_read, .close = cookie_close};
    FILE *f = fopencookie(s, "rb", io);
    if (!f) {
        instream_free(s);
    }
    return f;
}

const char *pm_instream_error(const struct pm_instream *s) { return s->err; }

void pm_instream_set_idle(struct pm_instream *s, void (*fn)(void *ctx), void *ctx)
{
    s->idle = fn;
    s->idle_ctx = ctx;
}

uint64_t pm_instream_raw_bytes(const struct pm_instream *s) { return s->raw; }
