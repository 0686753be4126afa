/*
 * bundle_slice.c — owns evidence.pcapng (analyze/bundle_int.h): the packets of the failing
 * attempts (SYNs and retransmissions, the SYN-ACK/RST that answered, ICMP errors quoting
 * them, the SMTP dialogue when there was one), plus the packets of one successful attempt
 * per failing destination as context, cut from the run's own capture files.
 *
 * Why read the captures again instead of keeping packets during the run: the engine decides
 * which attempts failed only at the end (offline: after the whole capture), and keeping every
 * packet that might matter would make memory grow with the capture. Here memory is the set
 * of attempt keys (capped) plus one pending record per input file.
 *
 * Output is pcapng (draft-ietf-opsawg-pcapng): one Interface Description Block per input file
 * and link type (if_name = the file's name, if_tsresol = nanoseconds), one Enhanced Packet
 * Block per packet with an opt_comment naming the attempt, its outcome, verdict and owner and
 * where the packet was in the input ("sender.pcap#7"), so that Wireshark shows why each packet
 * is there. Input files are merged by time, as the engine merged them.
 */
#include "bundle_int.h"

#include <errno.h>

#include "capin.h"
#include "decode.h"
#include "ttl.h"
#include "util.h"

#define NO_FILE 0xffffu

struct sent {
    pm_addr cli, srv;
    uint16_t sport, dport;
    pm_ns t0, t1;              /* packets inside this window belong to the attempt */
    uint32_t id;
    uint16_t file_syn, file_ans;
    uint16_t npk;
    uint8_t outcome, verdict, owner, context;
    struct pm_bfind *ladder;
};

struct pm_slice {
    struct sent *e;
    size_t n, cap;
    uint64_t dropped;
    /* The lookup index, built once all attempts are in: entry numbers sorted by (4-tuple,
     * window start), and an open-addressing table from a 4-tuple to its run in `order`. */
    uint32_t *order;
    uint32_t *slot_start, *slot_len; /* run start + 1 (0: empty slot), run length */
    size_t nslots;
};

struct pm_slice *pm_slice_new(void)
{
    return pm_xcalloc(1, sizeof(struct pm_slice));
}

void pm_slice_free(struct pm_slice *s)
{
    if (s) {
        free(s->e);
        free(s->order);
        free(s->slot_start);
        free(s->slot_len);
        free(s);
    }
}

uint64_t pm_slice_dropped(const struct pm_slice *s)
{
    return s->dropped;
}

static pm_ns later(pm_ns a, pm_ns b)
{
    if (a == PM_NS_NONE) {
        return b;
    }
    return b != PM_NS_NONE && b > a ? b : a;
}

static struct sent *new_entry(struct pm_slice *s)
{
    if (s->n >= PM_SLICE_MAX_ATTEMPTS) {
        s->dropped++;
        return NULL;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->e = pm_xreallocarray(s->e, s->cap, sizeof(*s->e));
    }
    struct sent *e = &s->e[s->n++];
    memset(e, 0, sizeof(*e));
    return e;
}

bool pm_slice_add(struct pm_slice *s, const struct pm_attempt *a,
                  const struct pm_link_info *peer, uint32_t id, enum pm_outcome o,
                  enum pm_verdict v, enum pm_owner w, bool context, struct pm_bfind *ladder)
{
    if (!a || a->first_syn == PM_NS_NONE) {
        return false;
    }
    struct sent *e = new_entry(s);
    if (!e) {
        return false;
    }
    e->cli = a->cli;
    e->srv = a->srv;
    e->sport = a->sport;
    e->dport = a->dport;
    /* The window: a second before the first SYN (clock jitter between vantages) to ten
     * seconds after the last thing the tracker saw, so that a reused 4-tuple hours later
     * does not join this attempt. */
    pm_ns end = later(later(later(a->last_seen, a->last_syn), a->ans.ts), a->close_ts);
    e->t0 = a->first_syn - PM_SEC(1);
    e->t1 = (end == PM_NS_NONE ? a->first_syn : end) + PM_SEC(10);
    e->id = id;
    e->file_syn = (a->flags & PM_AF_SYN_NOT_CAPTURED) ? NO_FILE : a->syn_ref.file;
    e->file_ans = a->answer != PM_ANS_NONE ? a->ans.ref.file : NO_FILE;
    e->outcome = (uint8_t)o;
    e->verdict = (uint8_t)v;
    e->owner = (uint8_t)w;
    e->context = context;
    e->ladder = ladder;
    if (peer && peer->cli.family && peer->first_syn != PM_NS_NONE) {
        /* The translated view (outside the NAT): same server, the public source. Its
         * packets are evidence too, but not drawn twice in the ladder. */
        struct sent *x = new_entry(s);
        if (x) {
            struct sent *self = &s->e[s->n - 2]; /* new_entry may have moved the array */
            *x = *self;
            x->cli = peer->cli;
            x->sport = peer->sport;
            x->t0 = PM_MIN(self->t0, peer->first_syn - PM_SEC(1));
            x->t1 = later(self->t1, peer->ans_ts == PM_NS_NONE ? PM_NS_NONE
                                                               : peer->ans_ts + PM_SEC(10));
            x->file_syn = x->file_ans = NO_FILE;
            x->ladder = NULL;
        }
    }
    return true;
}

/* FNV-1a over the 4-tuple (client side first). */
static uint32_t key_hash(const pm_addr *cli, uint16_t sport, const pm_addr *srv, uint16_t dport)
{
    uint32_t h = 2166136261u;
    const uint8_t *parts[2] = {cli->b, srv->b};
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < 16; i++) {
            h = (h ^ parts[k][i]) * 16777619u;
        }
    }
    h = (h ^ cli->family) * 16777619u;
    h = (h ^ (sport & 0xff)) * 16777619u;
    h = (h ^ (sport >> 8)) * 16777619u;
    h = (h ^ (dport & 0xff)) * 16777619u;
    h = (h ^ (dport >> 8)) * 16777619u;
    return h;
}

static bool same_key(const struct sent *a, const struct sent *b)
{
    return a->sport == b->sport && a->dport == b->dport && pm_addr_eq(&a->cli, &b->cli) &&
           pm_addr_eq(&a->srv, &b->srv);
}

static int cmp_key(const struct sent *a, const struct sent *b)
{
    if (a->cli.family != b->cli.family) {
        return a->cli.family < b->cli.family ? -1 : 1;
    }
    int c = memcmp(a->cli.b, b->cli.b, 16);
    if (!c) {
        c = memcmp(a->srv.b, b->srv.b, 16);
    }
    if (!c && a->sport != b->sport) {
        c = a->sport < b->sport ? -1 : 1;
    }
    if (!c && a->dport != b->dport) {
        c = a->dport < b->dport ? -1 : 1;
    }
    return c;
}

static const struct pm_slice *sort_slice; /* qsort has no context argument */

static int cmp_order(const void *x, const void *y)
{
    const struct sent *a = &sort_slice->e[*(const uint32_t *)x];
    const struct sent *b = &sort_slice->e[*(const uint32_t *)y];
    int c = cmp_key(a, b);
    if (c) {
        return c;
    }
    if (a->t0 != b->t0) {
        return a->t0 < b->t0 ? -1 : 1;
    }
    return *(const uint32_t *)x < *(const uint32_t *)y ? -1 : 1;
}

/* Sorted runs per 4-tuple, found by hash. A flood that reuses one 4-tuple with new ISNs
 * puts all its attempts in one run; a packet then finds its attempt by binary search in time
 * instead of walking a chain of up to PM_SLICE_MAX_ATTEMPTS entries (issue 19). */
static void build_index(struct pm_slice *s)
{
    free(s->order);
    free(s->slot_start);
    free(s->slot_len);
    size_t nb = 64;
    while (nb < s->n * 2) {
        nb <<= 1;
    }
    s->nslots = nb;
    s->order = pm_xcalloc(s->n ? s->n : 1, sizeof(uint32_t));
    s->slot_start = pm_xcalloc(nb, sizeof(uint32_t));
    s->slot_len = pm_xcalloc(nb, sizeof(uint32_t));
    for (size_t i = 0; i < s->n; i++) {
        s->order[i] = (uint32_t)i;
    }
    sort_slice = s;
    if (s->n > 1) {
        qsort(s->order, s->n, sizeof(uint32_t), cmp_order);
    }
    for (size_t i = 0; i < s->n;) {
        const struct sent *e = &s->e[s->order[i]];
        size_t j = i + 1;
        while (j < s->n && same_key(&s->e[s->order[j]], e)) {
            j++;
        }
        uint32_t h = key_hash(&e->cli, e->sport, &e->srv, e->dport) & (uint32_t)(nb - 1);
        while (s->slot_start[h]) {
            h = (h + 1) & (uint32_t)(nb - 1);
        }
        s->slot_start[h] = (uint32_t)i + 1;
        s->slot_len[h] = (uint32_t)(j - i);
        i = j;
    }
}

/* How many attempts of one 4-tuple, latest start first, a packet is tried against: the
 * same 4-tuple at two vantages without NAT is two attempts with overlapping windows. */
#define LOOKUP_BACK 8

/* The attempt a packet with this client-side 4-tuple at time t in input `file` belongs to:
 * the latest-started attempt of that 4-tuple whose window holds t, preferring one whose SYN or
 * answer came from the same file (the same 4-tuple seen at two vantages without NAT is two
 * attempts). */
static struct sent *lookup(struct pm_slice *s, const pm_addr *cli, uint16_t sport,
                           const pm_addr *srv, uint16_t dport, pm_ns t, uint16_t file)
{
    if (!s->nslots) {
        return NULL;
    }
    struct sent probe;
    probe.cli = *cli;
    probe.srv = *srv;
    probe.sport = sport;
    probe.dport = dport;
    uint32_t h = key_hash(cli, sport, srv, dport) & (uint32_t)(s->nslots - 1);
    uint32_t start = 0, len = 0;
    while (s->slot_start[h]) {
        if (same_key(&s->e[s->order[s->slot_start[h] - 1]], &probe)) {
            start = s->slot_start[h] - 1;
            len = s->slot_len[h];
            break;
        }
        h = (h + 1) & (uint32_t)(s->nslots - 1);
    }
    /* the first attempt of the run that starts after t */
    uint32_t lo = 0, hi = len;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->e[s->order[start + mid]].t0 <= t) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    struct sent *any = NULL;
    for (uint32_t k = lo; k > 0 && lo - k < LOOKUP_BACK; k--) {
        struct sent *e = &s->e[s->order[start + k - 1]];
        if (t > e->t1) {
            continue;
        }
        if (e->file_syn == file || e->file_ans == file) {
            return e;
        }
        if (!any) {
            any = e;
        }
    }
    return any;
}

/* ---- pcapng writing ---- */

static void put32(FILE *f, uint32_t v)
{
    fwrite(&v, 4, 1, f); /* host order: the SHB's byte-order magic tells readers which */
}

static void put16(FILE *f, uint16_t v)
{
    fwrite(&v, 2, 1, f);
}

static size_t pad4(size_t n)
{
    return (n + 3) & ~(size_t)3;
}

static void put_option(FILE *f, uint16_t code, const void *val, size_t len)
{
    static const uint8_t zero[4];
    put16(f, code);
    put16(f, (uint16_t)len);
    fwrite(val, 1, len, f);
    fwrite(zero, 1, pad4(len) - len, f);
}

static size_t option_size(size_t len)
{
    return 4 + pad4(len);
}

static void write_shb(FILE *f)
{
    char app[64];
    snprintf(app, sizeof(app), "portmortem %s (evidence bundle)", PM_VERSION);
    size_t alen = strlen(app);
    uint32_t total = (uint32_t)(28 + option_size(alen) + 4);
    put32(f, 0x0A0D0D0Au);
    put32(f, total);
    put32(f, 0x1A2B3C4Du);
    put16(f, 1);
    put16(f, 0);
    put32(f, 0xffffffffu); /* section length: not given */
    put32(f, 0xffffffffu);
    put_option(f, 4, app, alen); /* shb_userappl */
    put32(f, 0);                 /* opt_endofopt */
    put32(f, total);
}

static void write_idb(FILE *f, int linktype, const char *name)
{
    char clean[128];
    pm_sanitize(clean, sizeof(clean), (const uint8_t *)name, strlen(name));
    size_t nlen = strlen(clean);
    uint8_t tsresol = 9; /* nanoseconds: pm_ns as is */
    uint32_t total = (uint32_t)(20 + option_size(nlen) + option_size(1) + 4);
    put32(f, 1);
    put32(f, total);
    put16(f, (uint16_t)linktype);
    put16(f, 0);
    put32(f, 0); /* snaplen: no limit */
    put_option(f, 2, clean, nlen);   /* if_name */
    put_option(f, 9, &tsresol, 1);   /* if_tsresol */
    put32(f, 0);
    put32(f, total);
}

static void write_epb(FILE *f, uint32_t ifid, const struct pm_record *r, const char *comment)
{
    static const uint8_t zero[4];
    size_t clen = strlen(comment);
    uint32_t total = (uint32_t)(32 + pad4(r->caplen) + option_size(clen) + 4);
    uint64_t ts = (uint64_t)r->ts;
    put32(f, 6);
    put32(f, total);
    put32(f, ifid);
    put32(f, (uint32_t)(ts >> 32));
    put32(f, (uint32_t)ts);
    put32(f, r->caplen);
    put32(f, r->wirelen < r->caplen ? r->caplen : r->wirelen);
    fwrite(r->data, 1, r->caplen, f);
    fwrite(zero, 1, pad4(r->caplen) - r->caplen, f);
    put_option(f, 1, comment, clen); /* opt_comment */
    put32(f, 0);
    put32(f, total);
}

/* ---- ladder events from decoded packets ---- */

static void payload_text(const struct pm_pkt *p, char *buf, size_t len, bool first_line)
{
    pm_cur c = p->payload;
    uint8_t tmp[96];
    size_t n = PM_MIN(pm_cur_left_cap(&c), sizeof(tmp));
    pm_bytes(&c, tmp, n);
    size_t cut = n;
    for (size_t i = 0; first_line && i < n; i++) {
        if (tmp[i] == '\r' || tmp[i] == '\n') {
            cut = i;
            break;
        }
    }
    if (cut == 0) {
        snprintf(buf, len, "%u bytes", p->payload_wire);
        return;
    }
    pm_sanitize(buf, len, tmp, cut);
}

static void ladder_event(struct pm_bfind *d, const struct pm_pkt *p, pm_ns ts, bool back)
{
    int kind;
    char label[80];
    int hops = pm_ttl_hops(p->ttl);
    if (p->proto == 6) {
        uint8_t fl = p->flags;
        if ((fl & PM_TH_SYN) && !(fl & PM_TH_ACK)) {
            int nsyn = 0;
            for (int i = 0; i < d->nev; i++) {
                nsyn += d->ev[i].kind == PM_LE_SYN && !d->ev[i].towards_sender;
            }
            kind = PM_LE_SYN;
            if (nsyn == 0) {
                snprintf(label, sizeof(label), "SYN (TTL %u)", p->ttl);
            } else {
                snprintf(label, sizeof(label), "SYN retransmission %d (TTL %u)", nsyn, p->ttl);
            }
        } else if ((fl & PM_TH_SYN) && (fl & PM_TH_ACK)) {
            kind = PM_LE_SYNACK;
            snprintf(label, sizeof(label), "SYN-ACK, TTL %u (%d hop%s)", p->ttl, hops,
                     hops == 1 ? "" : "s");
        } else if (fl & PM_TH_RST) {
            kind = PM_LE_RST;
            if (back) {
                snprintf(label, sizeof(label), "RST%s, TTL %u (%d hop%s)",
                         fl & PM_TH_ACK ? "+ACK" : "", p->ttl, hops, hops == 1 ? "" : "s");
            } else {
                snprintf(label, sizeof(label), "RST (client)");
            }
        } else if (p->payload_wire > 0) {
            kind = PM_LE_DATA;
            payload_text(p, label, sizeof(label), true);
        } else if (fl & PM_TH_FIN) {
            kind = PM_LE_FIN;
            snprintf(label, sizeof(label), "FIN (%s closes)", back ? "server" : "client");
        } else {
            return; /* a pure ACK: drawn arrows are what changes the state */
        }
        if (kind == PM_LE_DATA && (fl & PM_TH_FIN)) {
            size_t l = strlen(label);
            snprintf(label + l, sizeof(label) - l, " +FIN");
        }
    } else {
        kind = PM_LE_ICMP;
        char from[PM_ADDR_STRLEN];
        /* The sender's address is on the lane it is drawn from, unless it is a stranger. */
        bool known = d->f.a && (pm_addr_eq(&p->src, &d->f.a->srv) ||
                                pm_addr_eq(&p->src, &d->f.a->ans.from));
        snprintf(label, sizeof(label), "ICMP %s (%u/%u)%s%s, TTL %u",
                 pm_icmp_reason(p->family, p->icmp_type, p->icmp_code), p->icmp_type,
                 p->icmp_code, known ? "" : " from ", known ? "" : pm_addr_str(&p->src, from),
                 p->ttl);
    }
    if (d->nev >= PM_BUNDLE_LADDER_EVENTS) {
        d->ev_dropped++;
        return;
    }
    struct pm_ladder_event *e = &d->ev[d->nev++];
    memset(e, 0, sizeof(*e));
    e->ts = ts;
    e->towards_sender = back;
    e->kind = (uint8_t)kind;
    e->ttl = p->ttl;
    e->from = p->src;
    pm_strlcpy(e->label, label, sizeof(e->label));
    d->ev_from_capture = true;
}

/* ---- the pass over the inputs ---- */

struct src {
    struct pm_capfile *cf;
    struct pm_record rec;
    bool has, done;
    char label[96];
};

static void note(char *notes, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void note(char *notes, size_t len, const char *fmt, ...)
{
    size_t o = strlen(notes);
    if (o + 1 >= len) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(notes + o, len - o, fmt, ap);
    va_end(ap);
}

static const char *base_name(const char *p)
{
    const char *b = strrchr(p, '/');
    return b ? b + 1 : p;
}

int pm_slice_write(struct pm_slice *s, FILE *out, const char *const *paths, const int *fds,
                   int npaths, struct pm_redact *rx,
                   char *notes, size_t noteslen, uint64_t *written)
{
    uint8_t *rbuf = NULL;   /* --redact: the private copy of a frame that is rewritten */
    size_t rbufcap = 0;
    *written = 0;
    build_index(s);
    write_shb(out);
    if (npaths > PM_MAX_INPUTS) {
        npaths = PM_MAX_INPUTS;
    }
    struct src *in = pm_xcalloc((size_t)(npaths > 0 ? npaths : 1), sizeof(*in));
    int open_inputs = 0;
    for (int i = 0; i < npaths; i++) {
        pm_sanitize(in[i].label, sizeof(in[i].label), (const uint8_t *)base_name(paths[i]),
                    strlen(base_name(paths[i])));
        if (s->n == 0) {
            in[i].done = true; /* nothing to cut: do not read the capture again */
            continue;
        }
        if (fds && fds[i] == -2) {
            note(notes, noteslen, "- evidence.pcap: %s was a stream (standard input or a "
                 "pipe) and was read once; its packets are missing from the slice (save the "
                 "capture to a file and analyse that for a bundle with packets).\n",
                 in[i].label);
            in[i].done = true;
            continue;
        }
        char err[512];
        in[i].cf = fds && fds[i] >= 0 ? pm_capfile_open_fd(fds[i], paths[i], NULL, err, sizeof(err))
                                      : pm_capfile_open(paths[i], NULL, err, sizeof(err));
        if (!in[i].cf) {
            char clean[600];
            pm_sanitize(clean, sizeof(clean), (const uint8_t *)err, strlen(err));
            note(notes, noteslen, "- evidence.pcapng: %s could not be read again (%s); its "
                 "packets are missing from the slice.\n", in[i].label, clean);
            in[i].done = true;
            continue;
        }
        open_inputs++;
    }
    struct { uint16_t file; int linktype; } ifs[PM_SLICE_MAX_OUT_IFACES];
    int nifs = 0;
    uint64_t over_attempt = 0, over_total = 0, no_iface = 0;
    char comment[256];
    int werr = 0;
    while (open_inputs > 0) {
        int best = -1;
        for (int i = 0; i < npaths; i++) {
            if (in[i].done) {
                continue;
            }
            if (!in[i].has) {
                enum pm_read r = pm_capfile_next(in[i].cf, &in[i].rec);
                if (r != PM_READ_OK) {
                    if (r == PM_READ_DAMAGED) {
                        note(notes, noteslen, "- evidence.pcapng: %s is damaged after record "
                             "%llu; packets after that are missing.\n", in[i].label,
                             (unsigned long long)pm_capfile_stats(in[i].cf)->records);
                    }
                    in[i].done = true;
                    open_inputs--;
                    continue;
                }
                in[i].has = true;
            }
            if (best < 0 || in[i].rec.ts < in[best].rec.ts) {
                best = i;
            }
        }
        if (best < 0) {
            break;
        }
        struct pm_record *r = &in[best].rec;
        in[best].has = false;
        struct pm_pkt p;
        memset(&p, 0, sizeof(p));
        pm_decode(&p, r->linktype, r->data, r->caplen, r->wirelen);
        if ((p.status != PM_PKT_OK && p.status != PM_PKT_TRUNC) || p.frag_later) {
            continue;
        }
        struct sent *e = NULL;
        bool back = false;
        if (p.proto == 6 && p.tcp_ports_ok) {
            e = lookup(s, &p.src, p.sport, &p.dst, p.dport, r->ts, (uint16_t)best);
            if (!e) {
                e = lookup(s, &p.dst, p.dport, &p.src, p.sport, r->ts, (uint16_t)best);
                back = e != NULL;
            }
        } else if (p.icmp_is_error && p.has_quote && p.quote.has_ports && p.quote.proto == 6) {
            e = lookup(s, &p.quote.src, p.quote.sport, &p.quote.dst, p.quote.dport, r->ts,
                       (uint16_t)best);
            back = true;
        }
        if (!e) {
            continue;
        }
        if (e->npk >= (e->context ? PM_SLICE_CONTEXT_PACKETS : PM_SLICE_ATTEMPT_PACKETS)) {
            over_attempt++;
            continue;
        }
        if (*written >= PM_SLICE_MAX_PACKETS) {
            over_total++;
            continue;
        }
        int ifid = -1;
        for (int k = 0; k < nifs; k++) {
            if (ifs[k].file == best && ifs[k].linktype == r->linktype) {
                ifid = k;
            }
        }
        if (ifid < 0) {
            if (nifs >= PM_SLICE_MAX_OUT_IFACES) {
                no_iface++;
                continue;
            }
            ifid = nifs++;
            ifs[ifid].file = (uint16_t)best;
            ifs[ifid].linktype = r->linktype;
            write_idb(out, r->linktype, in[best].label);
        }
        if (e->context) {
            snprintf(comment, sizeof(comment), "portmortem context: attempt #%u to the same "
                     "destination, %s (%s#%u)", e->id, pm_outcome_name((enum pm_outcome)e->outcome),
                     in[best].label, r->frame);
        } else {
            snprintf(comment, sizeof(comment), "portmortem attempt #%u: %s, verdict %s, owner %s "
                     "(%s#%u)", e->id, pm_outcome_name((enum pm_outcome)e->outcome),
                     pm_verdict_name((enum pm_verdict)e->verdict),
                     pm_owner_name((enum pm_owner)e->owner), in[best].label, r->frame);
        }
        const struct pm_record *wr = r;
        struct pm_record copy;
        if (rx) {
            /* --redact: addresses rewritten in a copy, checksums adjusted (bundle_redact.c) */
            if (rbufcap < r->caplen) {
                rbufcap = r->caplen;
                rbuf = pm_xreallocarray(rbuf, rbufcap, 1);
            }
            if (r->caplen) {
                memcpy(rbuf, r->data, r->caplen);
            }
            pm_redact_frame(rx, rbuf, r->caplen, &p);
            copy = *r;
            copy.data = rbuf;
            wr = &copy;
        }
        write_epb(out, (uint32_t)ifid, wr, comment);
        e->npk++;
        (*written)++;
        if (e->ladder) {
            ladder_event(e->ladder, &p, r->ts, back);
        }
        if (ferror(out)) {
            werr = errno ? errno : EIO;
            break;
        }
    }
    for (int i = 0; i < npaths; i++) {
        if (in[i].cf) {
            pm_capfile_close(in[i].cf);
        }
    }
    free(in);
    free(rbuf);
    if (over_attempt) {
        note(notes, noteslen, "- evidence.pcapng: %llu packets left out (more than %d per failing "
             "attempt, %d per context attempt).\n", (unsigned long long)over_attempt,
             PM_SLICE_ATTEMPT_PACKETS, PM_SLICE_CONTEXT_PACKETS);
    }
    if (over_total || no_iface) {
        note(notes, noteslen, "- evidence.pcapng: %llu packets left out (the slice holds at most "
             "%d packets and %d interfaces).\n", (unsigned long long)(over_total + no_iface),
             PM_SLICE_MAX_PACKETS, PM_SLICE_MAX_OUT_IFACES);
    }
    if (s->dropped) {
        note(notes, noteslen, "- evidence.pcapng: the packets of %llu failing attempts are not "
             "in the slice (at most %d attempts); report.json lists them all.\n",
             (unsigned long long)s->dropped, PM_SLICE_MAX_ATTEMPTS);
    }
    if (ferror(out)) {
        errno = werr ? werr : EIO;
        return -1;
    }
    return 0;
}
