/*
 * bundle_redact.c — owns `--redact` for the evidence bundle (issue 16.5): which addresses and
 * host names are ours and internal, the consistent placeholder each one gets, the rewriting
 * of text (every text file of the bundle, line by line) and of packets (evidence.pcapng:
 * addresses in the IP headers and in the IP header an ICMP error quotes, with the IP, TCP,
 * UDP and ICMP checksums adjusted so that the slice still parses and analyses the same).
 *
 * What is internal: RFC 1918 (10/8, 172.16/12, 192.168/16), link-local (169.254/16,
 * fe80::/10, RFC 3927 / RFC 4291), unique local (fc00::/7, RFC 4193), and the addresses the
 * caller marks as inside (the inside vantage point's own addresses when a public address is
 * known). An address marked public (--expect-source, the source an outside vantage point
 * saw) is never replaced: it is what the outside team needs.
 *
 * Placeholders: IPv4 198.18.0.N (RFC 2544's benchmarking range, never routed on the
 * Internet), IPv6 2001:db8:ffff:ffff::N (RFC 3849 documentation), host names
 * redacted-host-N. The same address or name always gets the same placeholder within a
 * bundle, in text and in packets alike; the mapping itself is not written anywhere.
 *
 * Checksums are adjusted incrementally (RFC 1624, eqn. 3), word by word, so that a packet
 * cut by the snaplen is rewritten as well as a whole one: every address word sits at an even
 * offset of each checksummed region (IPv4 header, TCP/UDP with their pseudo-header, ICMP,
 * ICMPv6 with its pseudo-header, RFC 4443 §2.3), which is what that update needs.
 * The frame is a private copy; its bytes are read and written only through pkt.c's
 * bounds-checked pm_patch_* (the cursor's module).
 */
#include "bundle_int.h"

#include <arpa/inet.h>
#include <ctype.h>

#include "pkt.h"
#include "util.h"

#define RX_NAME 128
#define PUBLIC_MARK UINT32_MAX

struct rx_addr {
    pm_addr a;
    uint32_t n;             /* placeholder number, 0: marked public (never replaced) */
    bool inside;            /* marked inside by the caller */
};

struct rx_name {
    char name[RX_NAME];
    uint32_t n;
    bool anywhere;          /* replaced wherever it stands as a word; else only as a log
                             * line's syslog host field */
};

struct pm_redact {
    struct rx_addr *addrs;
    size_t naddrs;
    uint32_t next4, next6;
    struct rx_name names[PM_REDACT_MAX_NAMES];
    int nnames;
    uint32_t nextname;
    uint64_t addrs_over, names_over;
    uint64_t text_hits, packet_hits;
};

struct pm_redact *pm_redact_new(void)
{
    struct pm_redact *r = pm_xcalloc(1, sizeof(*r));
    r->addrs = pm_xcalloc(PM_REDACT_MAX_ADDRS, sizeof(*r->addrs));
    return r;
}

void pm_redact_free(struct pm_redact *r)
{
    if (r) {
        free(r->addrs);
        free(r);
    }
}

static bool internal_class(const pm_addr *a)
{
    const uint8_t *b = a->b;
    if (a->family == PM_AF_INET) {
        return b[0] == 10 || (b[0] == 172 && (b[1] & 0xf0) == 16) ||
               (b[0] == 192 && b[1] == 168) || (b[0] == 169 && b[1] == 254);
    }
    if (a->family == PM_AF_INET6) {
        return (b[0] & 0xfe) == 0xfc || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80);
    }
    return false;
}

static struct rx_addr *find_addr(struct pm_redact *r, const pm_addr *a)
{
    for (size_t i = 0; i < r->naddrs; i++) {
        if (pm_addr_eq(&r->addrs[i].a, a)) {
            return &r->addrs[i];
        }
    }
    return NULL;
}

static struct rx_addr *add_addr(struct pm_redact *r, const pm_addr *a)
{
    struct rx_addr *x = find_addr(r, a);
    if (x) {
        return x;
    }
    if (r->naddrs >= PM_REDACT_MAX_ADDRS) {
        r->addrs_over++;
        return NULL;
    }
    x = &r->addrs[r->naddrs++];
    memset(x, 0, sizeof(*x));
    x->a = *a;
    return x;
}

void pm_redact_mark(struct pm_redact *r, const pm_addr *a, bool public)
{
    if (!r || !a || !a->family) {
        return;
    }
    struct rx_addr *x = add_addr(r, a);
    if (!x) {
        return;
    }
    if (public) {
        if (!x->n) { /* one already replaced somewhere keeps its placeholder (consistency) */
            x->n = PUBLIC_MARK;
            x->inside = false;
        }
    } else if (x->n != PUBLIC_MARK) {
        x->inside = true; /* public wins: the outside team must see that address */
    }
}

static void placeholder(const struct pm_redact *r, const struct rx_addr *x, pm_addr *out)
{
    (void)r;
    uint32_t n = x->n;
    if (x->a.family == PM_AF_INET) {
        uint8_t v4[4] = {198, (uint8_t)(18 + ((n >> 16) & 1)), (uint8_t)(n >> 8), (uint8_t)n};
        pm_addr_from_v4(out, v4);
    } else {
        uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0xff, 0xff};
        v6[12] = (uint8_t)(n >> 24);
        v6[13] = (uint8_t)(n >> 16);
        v6[14] = (uint8_t)(n >> 8);
        v6[15] = (uint8_t)n;
        pm_addr_from_v6(out, v6);
    }
}

bool pm_redact_addr(struct pm_redact *r, const pm_addr *a, pm_addr *out)
{
    if (!r || !a->family) {
        return false;
    }
    struct rx_addr *x = find_addr(r, a);
    if (x && x->n == PUBLIC_MARK) {
        return false; /* public */
    }
    if (!(x && x->inside) && !internal_class(a)) {
        return false;
    }
    if (!x) {
        x = add_addr(r, a);
    }
    if (!x) {
        /* over the cap: one shared placeholder, still not the address */
        struct rx_addr tmp = {.a = *a, .n = 0xffff};
        placeholder(r, &tmp, out);
        return true;
    }
    if (!x->n) {
        x->n = x->a.family == PM_AF_INET ? ++r->next4 : ++r->next6;
    }
    placeholder(r, x, out);
    return true;
}

void pm_redact_name(struct pm_redact *r, const char *name, bool anywhere)
{
    if (!r || !name || strlen(name) < 2 || strlen(name) >= RX_NAME) {
        return;
    }
    for (int i = 0; i < r->nnames; i++) {
        if (!strcasecmp(r->names[i].name, name)) {
            r->names[i].anywhere |= anywhere;
            return;
        }
    }
    if (r->nnames >= PM_REDACT_MAX_NAMES) {
        r->names_over++;
        return;
    }
    struct rx_name *x = &r->names[r->nnames++];
    pm_strlcpy(x->name, name, sizeof(x->name));
    x->n = ++r->nextname;
    x->anywhere = anywhere;
}

/* ---- text ---- */

struct obuf {
    char *p;
    size_t n, cap;
};

static void ob_put(struct obuf *o, const char *s, size_t n)
{
    if (o->n + n + 1 > o->cap) {
        size_t c = o->cap ? o->cap : 256;
        while (o->n + n + 1 > c) {
            c *= 2;
        }
        o->p = pm_xreallocarray(o->p, c, 1);
        o->cap = c;
    }
    memcpy(o->p + o->n, s, n);
    o->n += n;
    o->p[o->n] = '\0';
}

static bool name_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.';
}

static bool addr_char(char c)
{
    return isxdigit((unsigned char)c) || c == ':' || c == '.';
}

/* An address starting at s (at most n bytes): its length, or 0. IPv4 as a dotted quad,
 * IPv6 as the longest run of [0-9a-f:.] with two colons that inet_pton accepts. */
static size_t match_addr(const char *s, size_t n, pm_addr *a)
{
    size_t run = 0;
    int colons = 0;
    while (run < n && run < 45 && addr_char(s[run])) {
        colons += s[run] == ':';
        run++;
    }
    char buf[48];
    if (colons >= 2) {
        for (size_t k = run; k >= 2; k--) {
            if (s[k - 1] == '.' || (s[k - 1] == ':' && k >= 2 && s[k - 2] != ':')) {
                continue;
            }
            memcpy(buf, s, k);
            buf[k] = '\0';
            uint8_t v6[16];
            if (inet_pton(AF_INET6, buf, v6) == 1) {
                pm_addr_from_v6(a, v6);
                return k;
            }
        }
        return 0;
    }
    /* IPv4: digits and dots only, four parts */
    size_t k = 0;
    int dots = 0;
    while (k < n && k < 15 && (isdigit((unsigned char)s[k]) || s[k] == '.')) {
        if (s[k] == '.') {
            if (dots == 3) {
                break;
            }
            dots++;
        }
        k++;
    }
    while (k > 0 && s[k - 1] == '.') {
        k--;
        dots--;
    }
    if (dots != 3 || (k < n && isdigit((unsigned char)s[k]))) {
        return 0;
    }
    memcpy(buf, s, k);
    buf[k] = '\0';
    uint8_t v4[4];
    if (inet_pton(AF_INET, buf, v4) != 1) {
        return 0;
    }
    pm_addr_from_v4(a, v4);
    return k;
}

/* The syslog host field of a log line copied anywhere in the text: after "Mmm dd hh:mm:ss "
 * or an RFC 3339 time stamp. Returns its start and length, or false. */
static bool syslog_host(const char *s, size_t n, size_t *hs, size_t *hl)
{
    static const char *mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (size_t i = 0; i + 16 < n; i++) {
        size_t end = 0;
        for (int m = 0; m < 12 && !end; m++) {
            if (!memcmp(s + i, mon[m], 3) && s[i + 3] == ' ' &&
                (s[i + 4] == ' ' || isdigit((unsigned char)s[i + 4])) &&
                isdigit((unsigned char)s[i + 5]) && s[i + 6] == ' ' &&
                isdigit((unsigned char)s[i + 7]) && s[i + 9] == ':' && s[i + 12] == ':' &&
                s[i + 15] == ' ') {
                end = i + 16;
            }
        }
        if (!end && i + 20 < n && isdigit((unsigned char)s[i]) && s[i + 4] == '-' &&
            s[i + 7] == '-' && s[i + 10] == 'T' && s[i + 13] == ':') {
            size_t j = i + 11;
            while (j < n && s[j] != ' ') {
                j++;
            }
            if (j < n) {
                end = j + 1;
            }
        }
        if (end) {
            size_t j = end;
            while (j < n && name_char(s[j])) {
                j++;
            }
            if (j > end && j < n && s[j] == ' ') {
                *hs = end;
                *hl = j - end;
                return true;
            }
            return false;
        }
    }
    return false;
}

/* "unknown[10.0.0.5]": Postfix's word for a client without a name; and an address before
 * its own bracket. Neither is a host name. */
static bool internal_name_is_addr(const char *s, size_t n)
{
    pm_addr a;
    return (n == 7 && !strncmp(s, "unknown", 7)) || match_addr(s, n, &a) == n;
}

static const struct rx_name *find_name(const struct pm_redact *r, const char *s, size_t n,
                                       bool syslog_pos)
{
    for (int i = 0; i < r->nnames; i++) {
        const struct rx_name *x = &r->names[i];
        size_t l = strlen(x->name);
        if (l <= n && (x->anywhere || syslog_pos) && !strncasecmp(s, x->name, l) &&
            (l == n || !name_char(s[l]) ||
             (s[l] == '.' && (l + 1 == n || !name_char(s[l + 1]))))) {
            return x;
        }
    }
    return NULL;
}

void pm_redact_text(struct pm_redact *r, const char *s, size_t n, bool log_line, char **out,
                    size_t *outn, size_t *outcap)
{
    struct obuf o = {*out, *outn, *outcap};
    size_t hs = 0, hl = 0;
    /* Only a copied log line has a syslog host field; elsewhere a time stamp followed by a
     * word ("...Z first failing attempt") is no such thing. */
    bool has_host = log_line && syslog_host(s, n, &hs, &hl);
    if (has_host) {
        /* a log line's own host is ours: consistent everywhere after this */
        char h[RX_NAME];
        if (hl < sizeof(h)) {
            memcpy(h, s + hs, hl);
            h[hl] = '\0';
            pm_redact_name(r, h, strchr(h, '.') != NULL);
        }
    }
    /* First the internal MTAs' names, NAME[internal address] (Postfix, Exim, Sendmail), so
     * that NAME is replaced also where it stands before its bracket on the same line. */
    for (const char *br = memchr(s, '[', n); br; br = memchr(br + 1, '[', n - (size_t)(br + 1 - s))) {
        size_t w = (size_t)(br - s), st = w;
        while (st > 0 && name_char(s[st - 1])) {
            st--;
        }
        pm_addr a, m;
        size_t k = match_addr(br + 1, n - w - 1, &a);
        if (st < w && k && w + 1 + k < n && br[1 + k] == ']' && !internal_name_is_addr(s + st, w - st) &&
            pm_redact_addr(r, &a, &m)) {
            char h[RX_NAME];
            size_t hlen = PM_MIN(w - st, sizeof(h) - 1);
            memcpy(h, s + st, hlen);
            h[hlen] = '\0';
            pm_redact_name(r, h, true);
        }
        if ((size_t)(br + 1 - s) >= n) {
            break;
        }
    }
    size_t i = 0;
    while (i < n) {
        bool word_start = i == 0 || !(name_char(s[i - 1]) || s[i - 1] == ':');
        if (word_start && addr_char(s[i])) {
            pm_addr a, m;
            size_t k = match_addr(s + i, n - i, &a);
            if (k && !(i + k < n && (isalnum((unsigned char)s[i + k]) && s[i + k] != ' ')) &&
                pm_redact_addr(r, &a, &m)) {
                char t[PM_ADDR_STRLEN];
                pm_addr_str(&m, t);
                ob_put(&o, t, strlen(t));
                r->text_hits++;
                i += k;
                continue;
            }
        }
        if (word_start && isalnum((unsigned char)s[i])) {
            size_t w = i;
            while (w < n && name_char(s[w])) {
                w++;
            }
            const struct rx_name *x = find_name(r, s + i, n - i, has_host && i == hs);
            if (x) {
                char t[40];
                snprintf(t, sizeof(t), "redacted-host-%u", x->n);
                ob_put(&o, t, strlen(t));
                r->text_hits++;
                i += strlen(x->name);
                continue;
            }
            ob_put(&o, s + i, w - i);
            i = w;
            continue;
        }
        ob_put(&o, s + i, 1);
        i++;
    }
    if (!o.p) {
        ob_put(&o, "", 0);
    }
    *out = o.p;
    *outn = o.n;
    *outcap = o.cap;
}

/* ---- packets ---- */

#define MAX_COVER 4

/* A checksum covering a changed word: its offset, and the checksums covering it in turn
 * (an ICMP error's quoted IP header checksum sits inside the ICMP message). */
struct cover {
    size_t off;
    bool udp;               /* 0 means "no checksum" (RFC 768): leave it so */
    int nparent;
    size_t parent[2];
};

static void set_word(uint8_t *buf, size_t cap, size_t off, uint16_t nw, const struct cover *cv,
                     int ncv);

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m') */
static void adjust(uint8_t *buf, size_t cap, const struct cover *c, uint16_t old, uint16_t nw)
{
    uint16_t hc;
    if (!pm_patch_get16(buf, cap, c->off, &hc) || (c->udp && hc == 0)) {
        return;
    }
    uint32_t sum = (uint16_t)~hc + (uint32_t)(uint16_t)~old + nw;
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    uint16_t h2 = (uint16_t)~sum;
    if (c->udp && h2 == 0) {
        h2 = 0xffff;
    }
    struct cover parents[2];
    for (int i = 0; i < c->nparent; i++) {
        parents[i] = (struct cover){.off = c->parent[i]};
    }
    set_word(buf, cap, c->off, h2, parents, c->nparent);
}

static void set_word(uint8_t *buf, size_t cap, size_t off, uint16_t nw, const struct cover *cv,
                     int ncv)
{
    uint16_t old;
    if (!pm_patch_get16(buf, cap, off, &old) || old == nw) {
        return;
    }
    for (int i = 0; i < ncv; i++) {
        adjust(buf, cap, &cv[i], old, nw);
    }
    pm_patch_put16(buf, cap, off, nw);
}

static bool rewrite_addr_at(struct pm_redact *r, uint8_t *buf, size_t cap, size_t off,
                            int family, const struct cover *cv, int ncv)
{
    size_t len = family == PM_AF_INET ? 4 : 16;
    uint8_t raw[16];
    if (!pm_patch_get(buf, cap, off, raw, len)) {
        return false;
    }
    pm_addr a, m;
    if (family == PM_AF_INET) {
        pm_addr_from_v4(&a, raw);
    } else {
        pm_addr_from_v6(&a, raw);
    }
    if (!pm_redact_addr(r, &a, &m)) {
        return false;
    }
    const uint8_t *nb = m.b; /* IPv4 in b[0..3] */
    for (size_t k = 0; k < len; k += 2) {
        set_word(buf, cap, off + k, (uint16_t)(nb[k] << 8 | nb[k + 1]), cv, ncv);
    }
    r->packet_hits++;
    return true;
}

void pm_redact_frame(struct pm_redact *r, uint8_t *buf, uint32_t caplen, const struct pm_pkt *p)
{
    if (!r || !p->has_l3_off || (p->family != PM_AF_INET && p->family != PM_AF_INET6)) {
        return;
    }
    size_t l3 = p->l3_off, l4 = p->l4_off;
    bool v4 = p->family == PM_AF_INET;
    bool have_l4 = p->has_l4_off && !p->frag_later;
    /* Who covers the outer addresses: the IPv4 header checksum, and the transport checksum
     * through its pseudo-header (TCP, UDP, ICMPv6; ICMPv4 has none). */
    struct cover cv[MAX_COVER];
    int n = 0;
    if (v4) {
        cv[n++] = (struct cover){.off = l3 + 10};
    }
    if (have_l4 && p->proto == 6) {
        cv[n++] = (struct cover){.off = l4 + 16};
    } else if (have_l4 && p->proto == 17) {
        cv[n++] = (struct cover){.off = l4 + 6, .udp = true};
    } else if (have_l4 && p->proto == 58 && !v4) {
        cv[n++] = (struct cover){.off = l4 + 2};
    }
    size_t a_off = v4 ? 12 : 8, a_len = v4 ? 4 : 16;
    rewrite_addr_at(r, buf, caplen, l3 + a_off, p->family, cv, n);
    rewrite_addr_at(r, buf, caplen, l3 + a_off + a_len, p->family, cv, n);

    /* An ICMP error's quote: the offending datagram's IP header (and its TCP checksum when
     * quoted), all inside the ICMP message, whose checksum covers them. */
    if (!p->has_quote || !p->has_quote_off || !have_l4) {
        return;
    }
    size_t q = p->quote_off, icmp_ck = l4 + 2;
    uint8_t vb;
    if (!pm_patch_get(buf, caplen, q, &vb, 1)) {
        return;
    }
    int qfam = (vb >> 4) == 4 ? PM_AF_INET : (vb >> 4) == 6 ? PM_AF_INET6 : 0;
    if (!qfam) {
        return;
    }
    size_t qihl = qfam == PM_AF_INET ? (size_t)(vb & 0x0f) * 4 : 40;
    struct cover qcv[MAX_COVER];
    int qn = 0;
    if (qfam == PM_AF_INET) {
        qcv[qn++] = (struct cover){.off = q + 10, .nparent = 1, .parent = {icmp_ck}};
    }
    if (p->quote.proto == 6 && p->quote.has_tcp && qihl >= 20) {
        qcv[qn++] = (struct cover){.off = q + qihl + 16, .nparent = 1, .parent = {icmp_ck}};
    }
    qcv[qn++] = (struct cover){.off = icmp_ck};
    size_t qa = qfam == PM_AF_INET ? 12 : 8, ql = qfam == PM_AF_INET ? 4 : 16;
    rewrite_addr_at(r, buf, caplen, q + qa, qfam, qcv, qn);
    rewrite_addr_at(r, buf, caplen, q + qa + ql, qfam, qcv, qn);
}

void pm_redact_describe(const struct pm_redact *r, FILE *out)
{
    fprintf(out, "\nRedacted (--redact)\n"
            "  Internal addresses (RFC 1918, link-local, unique local, and our addresses inside\n"
            "  the NAT) are replaced in every file, the packets of evidence.pcapng included\n"
            "  (their IP, TCP, UDP and ICMP checksums adjusted): IPv4 by 198.18.0.N (RFC 2544's\n"
            "  benchmarking range), IPv6 by 2001:db8:ffff:ffff::N (documentation). Our host\n"
            "  names and internal MTA names are replaced by redacted-host-N. The same address or\n"
            "  name is always the same placeholder in every file. Our public address stays.\n"
            "  %u IPv4 and %u IPv6 addresses were given placeholders; %u host names were known.\n",
            r->next4, r->next6, r->nextname);
    if (r->addrs_over || r->names_over) {
        fprintf(out, "  Over the tables' caps (%d addresses, %d names): %llu addresses share the\n"
                "  placeholder 198.18.255.255 / 2001:db8:ffff:ffff::ffff; %llu names were not "
                "replaced.\n", PM_REDACT_MAX_ADDRS, PM_REDACT_MAX_NAMES,
                (unsigned long long)r->addrs_over, (unsigned long long)r->names_over);
    }
}
