/*
 * pmgen.c — owns pmgen's command line and its truth-file JSON writer. pmgen is portmortem's
 * deterministic synthetic capture generator (tests/gen/pmgen.h lists the parts):
 *
 *   pmgen scenario NAME -o OUT [--truth T.json] [--linktype L] [--format F] [--snaplen N]
 *                       [--family 4|6] [--seed N]
 *   pmgen mix -o OUT (--size BYTES | --packets N) [--seed S] [--smtp-ratio R] [--storm]
 *             [--truth T.json] [--linktype L] [--format F] [--snaplen N] [--concurrency N]
 *             [--v6-share F] [--rate ATTEMPTS_PER_S] [--weights OUTCOME=W,...] [--destinations N]
 *   pmgen list
 *
 * Same arguments, same bytes: nothing reads the clock, the environment or /dev/urandom.
 */
#include "pmgen.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("pmgen: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* ---- JSON ---- */

void jw_begin(struct jw *j, FILE *f)
{
    memset(j, 0, sizeof(*j));
    j->f = f;
    j->first[0] = true;
}

/* Two levels are laid out one item per line; anything deeper (an attempt's fields) stays on
 * one line: readable in a diff, and small enough for a fixture directory. */
#define JW_LINES 2

static void jw_sep(struct jw *j, const char *key)
{
    if (!j->first[j->depth]) {
        fputs(j->depth > JW_LINES ? ", " : ",", j->f);
    }
    j->first[j->depth] = false;
    if (j->depth > 0 && j->depth <= JW_LINES) {
        fputc('\n', j->f);
        for (int i = 0; i < j->depth; i++) {
            fputs("  ", j->f);
        }
    }
    if (key) {
        fprintf(j->f, "\"%s\": ", key);
    }
}

static void jw_open(struct jw *j, const char *key, char c)
{
    jw_sep(j, key);
    fputc(c, j->f);
    if (j->depth + 1 >= (int)(sizeof(j->first) / sizeof(j->first[0]))) {
        die("internal: JSON nesting too deep");
    }
    j->first[++j->depth] = true;
}

static void jw_close(struct jw *j, char c)
{
    bool empty = j->first[j->depth];
    j->depth--;
    if (!empty && j->depth < JW_LINES) {
        fputc('\n', j->f);
        for (int i = 0; i < j->depth; i++) {
            fputs("  ", j->f);
        }
    }
    fputc(c, j->f);
}

void jw_obj(struct jw *j, const char *key) { jw_open(j, key, '{'); }
void jw_end_obj(struct jw *j) { jw_close(j, '}'); }
void jw_arr(struct jw *j, const char *key) { jw_open(j, key, '['); }
void jw_end_arr(struct jw *j) { jw_close(j, ']'); }

void jw_str(struct jw *j, const char *key, const char *v)
{
    jw_sep(j, key);
    if (!v) {
        fputs("null", j->f);
        return;
    }
    fputc('"', j->f);
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p == '"' || *p == '\\') {
            fprintf(j->f, "\\%c", *p);
        } else if (*p < 0x20) {
            fprintf(j->f, "\\u%04x", *p);
        } else {
            fputc(*p, j->f);
        }
    }
    fputc('"', j->f);
}

void jw_int(struct jw *j, const char *key, int64_t v)
{
    jw_sep(j, key);
    fprintf(j->f, "%lld", (long long)v);
}

void jw_uint(struct jw *j, const char *key, uint64_t v)
{
    jw_sep(j, key);
    fprintf(j->f, "%llu", (unsigned long long)v);
}

void jw_bool(struct jw *j, const char *key, bool v)
{
    jw_sep(j, key);
    fputs(v ? "true" : "false", j->f);
}

void jw_num(struct jw *j, const char *key, double v)
{
    jw_sep(j, key);
    fprintf(j->f, "%.6g", v);
}

/* ---- command line ---- */

static void usage(FILE *f)
{
    fputs("usage: pmgen scenario NAME -o OUT [--truth FILE] [--linktype L] [--format F]\n"
          "                         [--snaplen N] [--family 4|6] [--seed N]\n"
          "       pmgen mix -o OUT (--size BYTES | --packets N) [--seed N] [--smtp-ratio R]\n"
          "                 [--storm] [--truth FILE] [--linktype L] [--format F] [--snaplen N]\n"
          "                 [--concurrency N] [--v6-share F] [--rate ATTEMPTS_PER_S]\n"
          "                 [--weights OUTCOME=W,...] [--destinations N]\n"
          "       pmgen list\n"
          "\n"
          "Deterministic test captures for portmortem with their ground truth (JSON).\n"
          "  --linktype  ethernet, vlan1, vlan2, vlan3, sll, sll2, raw, ipv4, ipv6, null,\n"
          "              loop, nflog, mixed (pcapng: five interfaces of different types)\n"
          "  --format    pcap (us), pcap-ns, pcap-be, pcap-ns-be, pcapng, pcapng-be\n"
          "  --size      bytes, with K, M or G (powers of 1024)\n"
          "  --storm     only port-25 SYNs, RSTs and ICMP errors; --rate new attempts per\n"
          "              second (default 100000), at most --concurrency live (262144)\n"
          "  --weights   outcome mix of the SMTP attempts, e.g. no-response=1 for a storm\n"
          "              of half-open attempts (outcomes as in portmortem's report)\n"
          "  --destinations  SMTP destinations the attempts go to (default 65536 in a storm,\n"
          "              4096 in the mix); 1 floods one destination and port\n"
          "  -o -        writes the capture to standard output\n",
          f);
}

static uint64_t parse_size(const char *s, const char *what)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s) {
        die("bad %s: %s", what, s);
    }
    switch (*end) {
    case 'k': case 'K': v <<= 10; end++; break;
    case 'm': case 'M': v <<= 20; end++; break;
    case 'g': case 'G': v <<= 30; end++; break;
    default: break;
    }
    if (*end) {
        die("bad %s: %s", what, s);
    }
    return v;
}

static double parse_double(const char *s, const char *what)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end) {
        die("bad %s: %s", what, s);
    }
    return v;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *mode = argv[1];
    if (!strcmp(mode, "list")) {
        scenario_list(stdout);
        return 0;
    }
    struct gen_opts o;
    memset(&o, 0, sizeof(o));
    o.link = (enum glink)-1;
    o.fmt = GF_PCAP;
    o.seed = 1;
    o.smtp_ratio = 0.02;
    o.v6_share = 0.3;
    o.rate = 100000;
    const char *name = NULL;
    int i = 2;
    if (!strcmp(mode, "scenario")) {
        if (argc < 3 || argv[2][0] == '-') {
            usage(stderr);
            return 2;
        }
        name = argv[2];
        i = 3;
    } else if (strcmp(mode, "mix") != 0) {
        usage(stderr);
        return 2;
    }
    for (; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEEDV()                                              \
    do {                                                     \
        if (!v) {                                            \
            die("%s needs a value", a);                      \
        }                                                    \
        i++;                                                 \
    } while (0)
        if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            NEEDV();
            o.out = v;
        } else if (!strcmp(a, "--truth")) {
            NEEDV();
            o.truth = v;
        } else if (!strcmp(a, "--linktype")) {
            NEEDV();
            int l = glink_parse(v);
            if (l < 0) {
                die("unknown link type %s", v);
            }
            o.link = (enum glink)l;
        } else if (!strcmp(a, "--format")) {
            NEEDV();
            int f = gfmt_parse(v);
            if (f < 0) {
                die("unknown format %s", v);
            }
            o.fmt = (enum gfmt)f;
        } else if (!strcmp(a, "--snaplen")) {
            NEEDV();
            uint64_t s = parse_size(v, "snaplen");
            if (s == 0 || s > 262144) {
                die("--snaplen must be 1..262144");
            }
            o.snaplen = (uint32_t)s;
        } else if (!strcmp(a, "--family")) {
            NEEDV();
            o.family = atoi(v);
            if (o.family != 4 && o.family != 6) {
                die("--family is 4 or 6");
            }
        } else if (!strcmp(a, "--seed")) {
            NEEDV();
            o.seed = parse_size(v, "seed");
        } else if (!strcmp(a, "--size")) {
            NEEDV();
            o.size = parse_size(v, "size");
        } else if (!strcmp(a, "--packets")) {
            NEEDV();
            o.packets = parse_size(v, "packet count");
        } else if (!strcmp(a, "--smtp-ratio")) {
            NEEDV();
            o.smtp_ratio = parse_double(v, "ratio");
            if (o.smtp_ratio < 0 || o.smtp_ratio > 1) {
                die("--smtp-ratio is between 0 and 1");
            }
        } else if (!strcmp(a, "--v6-share")) {
            NEEDV();
            o.v6_share = parse_double(v, "IPv6 share");
            if (o.v6_share < 0 || o.v6_share > 1) {
                die("--v6-share is between 0 and 1");
            }
        } else if (!strcmp(a, "--concurrency")) {
            NEEDV();
            uint64_t c = parse_size(v, "concurrency");
            if (c < 1 || c > 16u << 20) {
                die("--concurrency must be 1..16M");
            }
            o.concurrency = (uint32_t)c;
        } else if (!strcmp(a, "--rate")) {
            NEEDV();
            o.rate = parse_double(v, "rate");
            if (o.rate <= 0) {
                die("--rate must be positive");
            }
        } else if (!strcmp(a, "--weights")) {
            NEEDV();
            if (mix_parse_weights(v, o.weights) != 0) {
                die("bad --weights %s (e.g. refused=35,no-response=65; outcomes: connected, "
                    "smtp-rejected, no-banner, closed-before-banner, refused, "
                    "icmp-unreachable, ttl-exceeded, no-response)", v);
            }
            o.has_weights = true;
        } else if (!strcmp(a, "--destinations")) {
            NEEDV();
            uint64_t d = parse_size(v, "destinations");
            if (d < 1 || d > 1u << 20) {
                die("--destinations must be 1..1M");
            }
            o.destinations = (uint32_t)d;
        } else if (!strcmp(a, "--storm")) {
            o.storm = true;
        } else {
            die("unknown option %s (pmgen --help)", a);
        }
#undef NEEDV
    }
    if (!o.out) {
        die("-o FILE is required");
    }
    if (name) {
        return scenario_main(name, &o);
    }
    if (!o.size && !o.packets) {
        die("mix needs --size or --packets");
    }
    return mix_main(&o);
}
