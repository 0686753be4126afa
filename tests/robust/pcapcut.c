/*
 * pcapcut.c — owns the robustness suite's snaplen simulator: rewrites a capture as if it had
 * been taken with a shorter snaplen. Every record keeps its original (wire) length and
 * timestamp; its captured bytes become the first min(caplen, N). Classic pcap (either
 * magic, either byte order) and pcapng (EPB, SPB, the obsolete PB; IDB snaplen lowered so
 * that SPB readers cut at N too; other blocks copied) are handled. Written here rather than
 * with editcap so that the test needs nothing but the tree, and so that N = 0 and pcapng SPBs
 * are cut the way a real short snaplen would cut them.
 *
 *   pcapcut info FILE                 print "maxcaplen M records R"
 *   pcapcut cut FILE PREFIX N...      write PREFIX.N.pcap (or .pcapng) for every N
 *                                     (pcapng: N >= 1, an IDB snaplen of 0 means unlimited)
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fail(const char *what, const char *path)
{
    fprintf(stderr, "pcapcut: %s: %s\n", path, what);
    exit(1);
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fail(strerror(errno), path);
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            fail("out of memory", path);
        }
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) {
            break;
        }
        cap *= 2;
        buf = realloc(buf, cap);
    }
    if (ferror(f)) {
        fail("read error", path);
    }
    fclose(f);
    *len = n;
    return buf;
}

static uint32_t rd32(const uint8_t *p, bool be)
{
    return be ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
              : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static void wr32(uint8_t *p, uint32_t v, bool be)
{
    for (int i = 0; i < 4; i++) {
        p[be ? i : 3 - i] = (uint8_t)(v >> (24 - 8 * i));
    }
}

/* Output buffer. */
struct out {
    uint8_t *p;
    size_t n, cap;
};

static uint8_t *grow(struct out *o, size_t n)
{
    if (o->n + n > o->cap) {
        o->cap = (o->n + n) * 2;
        o->p = realloc(o->p, o->cap);
        if (!o->p) {
            fail("out of memory", "-");
        }
    }
    uint8_t *r = o->p + o->n;
    o->n += n;
    return r;
}

static void put(struct out *o, const void *p, size_t n) { memcpy(grow(o, n), p, n); }

/* ---- classic pcap ---- */

static bool pcap_magic(const uint8_t *b, size_t len, bool *be)
{
    if (len < 24) {
        return false;
    }
    uint32_t le = rd32(b, false);
    if (le == 0xa1b2c3d4u || le == 0xa1b23c4du) {
        *be = false;
        return true;
    }
    uint32_t bg = rd32(b, true);
    if (bg == 0xa1b2c3d4u || bg == 0xa1b23c4du) {
        *be = true;
        return true;
    }
    return false;
}

/* Walk (and optionally cut at n) a classic pcap. Returns the largest caplen. */
static uint32_t pcap_walk(const uint8_t *b, size_t len, bool be, struct out *o, uint32_t n,
                          uint32_t *records)
{
    uint32_t maxcap = 0;
    if (o) {
        put(o, b, 24);
        wr32(o->p + 16, n, be);
    }
    size_t off = 24;
    while (off + 16 <= len) {
        uint32_t cap = rd32(b + off + 8, be);
        if (cap > len - off - 16) {
            break; /* a damaged tail: stop where the reader would */
        }
        maxcap = cap > maxcap ? cap : maxcap;
        (*records)++;
        if (o) {
            uint32_t c = cap < n ? cap : n;
            uint8_t *h = grow(o, 16);
            memcpy(h, b + off, 16);
            wr32(h + 8, c, be);
            put(o, b + off + 16, c);
        }
        off += 16 + cap;
    }
    return maxcap;
}

/* ---- pcapng ---- */

static uint32_t ng_walk(const uint8_t *b, size_t len, struct out *o, uint32_t n,
                        uint32_t *records)
{
    uint32_t maxcap = 0;
    size_t off = 0;
    bool be = false;
    /* SPBs hold min(original length, IDB 0's snaplen) bytes: remember each section's. */
    uint32_t snap0 = 0;
    int nidb = 0;
    while (off + 12 <= len) {
        uint32_t type = rd32(b + off, be);
        if (rd32(b + off, false) == 0x0A0D0D0Au) {
            type = 0x0A0D0D0Au;
            be = rd32(b + off + 8, false) != 0x1A2B3C4Du;
            nidb = 0;
        }
        uint32_t blen = rd32(b + off + 4, be);
        if (blen < 12 || blen > len - off || (blen & 3)) {
            break;
        }
        const uint8_t *p = b + off;
        if (type == 1 && blen >= 20) { /* IDB */
            uint32_t snap = rd32(p + 12, be);
            if (nidb++ == 0) {
                snap0 = snap;
            }
            if (o) {
                uint8_t *q = grow(o, blen);
                memcpy(q, p, blen);
                if (snap == 0 || snap > n) {
                    wr32(q + 12, n, be);
                }
            }
        } else if ((type == 6 || type == 2) && blen >= 32) { /* EPB, PB */
            uint32_t cap = rd32(p + 20, be);
            if (cap > blen - 32) {
                break;
            }
            maxcap = cap > maxcap ? cap : maxcap;
            (*records)++;
            if (o) {
                uint32_t c = cap < n ? cap : n;
                uint32_t pad = (cap + 3) & ~3u, cpad = (c + 3) & ~3u;
                uint32_t optlen = blen - 32 - pad;
                uint32_t nlen = 32 + cpad + optlen;
                uint8_t *q = grow(o, nlen);
                memcpy(q, p, 28);
                wr32(q + 4, nlen, be);
                wr32(q + 20, c, be);
                memcpy(q + 28, p + 28, c);
                memset(q + 28 + c, 0, cpad - c);
                memcpy(q + 28 + cpad, p + 28 + pad, optlen);
                wr32(q + nlen - 4, nlen, be);
            }
        } else if (type == 3 && blen >= 16) { /* SPB */
            uint32_t wire = rd32(p + 8, be);
            uint32_t held = blen - 16;
            uint32_t cap = wire < held ? wire : held;
            if (snap0 && cap > snap0) {
                cap = snap0;
            }
            maxcap = cap > maxcap ? cap : maxcap;
            (*records)++;
            if (o) {
                uint32_t c = cap < n ? cap : n;
                uint32_t cpad = (c + 3) & ~3u;
                uint32_t nlen = 16 + cpad;
                uint8_t *q = grow(o, nlen);
                memcpy(q, p, 12);
                wr32(q + 4, nlen, be);
                memcpy(q + 12, p + 12, c);
                memset(q + 12 + c, 0, cpad - c);
                wr32(q + nlen - 4, nlen, be);
            }
        } else if (o) {
            put(o, p, blen);
        }
        off += blen;
    }
    return maxcap;
}

int main(int argc, char **argv)
{
    if (argc < 3 || (strcmp(argv[1], "info") != 0 && strcmp(argv[1], "cut") != 0) ||
        (!strcmp(argv[1], "cut") && argc < 5)) {
        fprintf(stderr, "usage: pcapcut info FILE\n       pcapcut cut FILE PREFIX N...\n");
        return 2;
    }
    size_t len;
    uint8_t *b = slurp(argv[2], &len);
    bool be = false;
    bool classic = pcap_magic(b, len, &be);
    bool ng = len >= 12 && rd32(b, false) == 0x0A0D0D0Au;
    if (!classic && !ng) {
        fail("not a pcap or pcapng file", argv[2]);
    }
    uint32_t records = 0;
    if (!strcmp(argv[1], "info")) {
        uint32_t m = classic ? pcap_walk(b, len, be, NULL, 0, &records)
                             : ng_walk(b, len, NULL, 0, &records);
        printf("maxcaplen %u records %u\n", m, records);
        free(b);
        return 0;
    }
    for (int i = 4; i < argc; i++) {
        char *end;
        errno = 0;
        unsigned long n = strtoul(argv[i], &end, 10);
        if (errno || *end || n > 0xffffffffu) {
            fail("bad length", argv[i]);
        }
        if (ng && n == 0) {
            /* An IDB snaplen of 0 means "no limit" (draft-ietf-opsawg-pcapng §4.2), so
             * a pcapng file cannot say "0 bytes kept" to an SPB reader. */
            fail("pcapng cannot be cut to 0 bytes; use 1", argv[i]);
        }
        struct out o = {0};
        records = 0;
        if (classic) {
            pcap_walk(b, len, be, &o, (uint32_t)n, &records);
        } else {
            ng_walk(b, len, &o, (uint32_t)n, &records);
        }
        char path[4096];
        snprintf(path, sizeof(path), "%s.%lu.%s", argv[3], n, classic ? "pcap" : "pcapng");
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(o.p, 1, o.n, f) != o.n || fclose(f) != 0) {
            fail(strerror(errno), path);
        }
        free(o.p);
    }
    free(b);
    return 0;
}
