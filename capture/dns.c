/*
 * dns.c — owns the probe's view of the DNS (capture/probe_int.h): which addresses an MTA
 * would try for TARGET, found the way an MTA finds them, through glibc's resolver
 * (res_nquery) and its message parser (ns_initparse/ns_parserr/ns_name_uncompress).
 *
 *  - RFC 5321 §5.1: MX records in preference order, then each exchange's addresses. No MX
 *    records but the name exists: the name itself is the "implicit MX" (its A/AAAA). A lookup
 *    that fails (SERVFAIL, timeout) is not "no MX": an MTA defers, and so do we (exit 3)
 *    instead of probing the wrong host.
 *  - RFC 7505: a single MX "0 ." (null MX) says the domain accepts no mail at all: the probe
 *    says so and sends nothing. A null MX mixed with real ones is invalid; it is ignored
 *    with a note, as MTAs do.
 *  - Answers are hostile input. Only answer-section records of the wanted type and class IN
 *    count; every RDATA length is checked against its type (A 4, AAAA 16, MX 2 + a name
 *    that fills the rest exactly); ns_initparse/ns_parserr/ns_name_uncompress failures
 *    (bad counts, records past the end, compression loops, over-long names) make the whole
 *    answer malformed rather than half-believed.
 *  - `--resolver IP` replaces the servers from /etc/resolv.conf for this run only; an IPv6
 *    server goes in glibc's extended server slot (_u._ext.nsaddrs), which res_send consults
 *    when the IPv4 slot's family is 0.
 */
#include "probe_int.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>

#include "util.h"

#define DNS_BUF 65536

const char *pm_dns_status_name(enum pm_dns_status s)
{
    switch (s) {
    case PM_DNS_OK:
        return "ok";
    case PM_DNS_NODATA:
        return "no records (NODATA)";
    case PM_DNS_NXDOMAIN:
        return "no such name (NXDOMAIN)";
    default:
        return "lookup failed";
    }
}

/* ---- parsing ---- */

static int parse_init(const uint8_t *msg, size_t len, ns_msg *h, char *err, size_t errlen)
{
    if (len < NS_HFIXEDSZ || len > DNS_BUF) {
        snprintf(err, errlen, "a DNS message of %zu bytes (a header alone is %d)", len,
                 NS_HFIXEDSZ);
        return -1;
    }
    if (ns_initparse(msg, (int)len, h) < 0) {
        snprintf(err, errlen, "malformed DNS message: its record counts do not fit its "
                 "length or a name is broken (%s)", strerror(errno));
        return -1;
    }
    return 0;
}

int pm_dns_parse_mx(const uint8_t *msg, size_t len, struct pm_mx *out, int max, char *err,
                    size_t errlen)
{
    ns_msg h;
    if (parse_init(msg, len, &h, err, errlen) < 0) {
        return -1;
    }
    int n = 0;
    int count = ns_msg_count(h, ns_s_an);
    for (int i = 0; i < count; i++) {
        ns_rr rr;
        if (ns_parserr(&h, ns_s_an, i, &rr) < 0) {
            snprintf(err, errlen, "malformed answer record %d of %d (%s)", i + 1, count,
                     strerror(errno));
            return -1;
        }
        if (ns_rr_type(rr) != ns_t_mx || ns_rr_class(rr) != ns_c_in) {
            continue; /* CNAMEs on the way, or noise: not ours to judge */
        }
        size_t rdlen = ns_rr_rdlen(rr);
        const uint8_t *rd = ns_rr_rdata(rr);
        if (rdlen < 3) {
            snprintf(err, errlen, "an MX record with %zu bytes of data (at least 3 needed)",
                     rdlen);
            return -1;
        }
        char name[NS_MAXDNAME];
        int used = ns_name_uncompress(ns_msg_base(h), ns_msg_end(h), rd + 2, name,
                                      sizeof(name));
        if (used < 0) {
            snprintf(err, errlen, "an MX record whose exchange name is broken (a pointer "
                     "loop or past the end of the message)");
            return -1;
        }
        if ((size_t)used != rdlen - 2) {
            snprintf(err, errlen, "an MX record whose exchange name (%d bytes) does not fill "
                     "its data (%zu bytes)", used, rdlen - 2);
            return -1;
        }
        if (n < max) {
            out[n].pref = ns_get16(rd);
            /* ns_name_ntop writes the root as "."; keep it as "" (the null MX test). */
            pm_strlcpy(out[n].name, strcmp(name, ".") ? name : "", sizeof(out[n].name));
        }
        n++;
    }
    return n;
}

int pm_dns_parse_addrs(const uint8_t *msg, size_t len, int family, pm_addr *out, int max,
                       char *err, size_t errlen)
{
    ns_msg h;
    if (parse_init(msg, len, &h, err, errlen) < 0) {
        return -1;
    }
    ns_type want = family == PM_AF_INET6 ? ns_t_aaaa : ns_t_a;
    size_t wantlen = family == PM_AF_INET6 ? 16 : 4;
    int n = 0;
    int count = ns_msg_count(h, ns_s_an);
    for (int i = 0; i < count; i++) {
        ns_rr rr;
        if (ns_parserr(&h, ns_s_an, i, &rr) < 0) {
            snprintf(err, errlen, "malformed answer record %d of %d (%s)", i + 1, count,
                     strerror(errno));
            return -1;
        }
        if (ns_rr_type(rr) != want || ns_rr_class(rr) != ns_c_in) {
            continue;
        }
        if (ns_rr_rdlen(rr) != wantlen) {
            snprintf(err, errlen, "an %s record with %u bytes of data (%zu expected)",
                     family == PM_AF_INET6 ? "AAAA" : "A", (unsigned)ns_rr_rdlen(rr), wantlen);
            return -1;
        }
        if (n < max) {
            if (family == PM_AF_INET6) {
                pm_addr_from_v6(&out[n], ns_rr_rdata(rr));
            } else {
                pm_addr_from_v4(&out[n], ns_rr_rdata(rr));
            }
        }
        n++;
    }
    return n;
}

/* ---- the resolver ---- */

struct pm_resolver {
    struct __res_state st;
    char name[PM_ADDR_STRLEN + 8];
    uint8_t *buf;
};

struct pm_resolver *pm_resolver_new(const char *server, char *err, size_t errlen)
{
    struct pm_resolver *r = pm_xcalloc(1, sizeof(*r));
    if (res_ninit(&r->st) != 0) {
        snprintf(err, errlen, "cannot set up the resolver from /etc/resolv.conf");
        free(r);
        return NULL;
    }
    r->buf = pm_xmalloc(DNS_BUF);
    /* A probe should say "DNS failed" within seconds, not a minute. */
    r->st.retrans = 2;
    r->st.retry = 2;
    pm_strlcpy(r->name, "system resolver", sizeof(r->name));
    if (!server) {
        return r;
    }
    pm_addr a;
    if (!pm_addr_parse(server, &a)) {
        snprintf(err, errlen, "--resolver '%s' is not an IPv4 or IPv6 address", server);
        pm_resolver_free(r);
        return NULL;
    }
    /* Drop whatever resolv.conf configured, IPv6 slots included. */
    for (int i = 0; i < MAXNS; i++) {
        free(r->st._u._ext.nsaddrs[i]);
        r->st._u._ext.nsaddrs[i] = NULL;
        memset(&r->st.nsaddr_list[i], 0, sizeof(r->st.nsaddr_list[i]));
    }
    r->st.nscount = 1;
    r->st._u._ext.nscount = 0; /* res_send rebuilds its private copy of the server list */
    if (a.family == PM_AF_INET) {
        struct sockaddr_in *s = &r->st.nsaddr_list[0];
        s->sin_family = AF_INET;
        s->sin_port = htons(NS_DEFAULTPORT);
        memcpy(&s->sin_addr, a.b, 4);
    } else {
        /* res_nclose() frees this slot (glibc __res_iclose), so it must be malloc'd. */
        struct sockaddr_in6 *s6 = pm_xcalloc(1, sizeof(*s6));
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(NS_DEFAULTPORT);
        memcpy(&s6->sin6_addr, a.b, 16);
        r->st._u._ext.nsaddrs[0] = s6;
        r->st.nsaddr_list[0].sin_family = 0;
    }
    pm_addr_str(&a, r->name);
    return r;
}

void pm_resolver_free(struct pm_resolver *r)
{
    if (!r) {
        return;
    }
    /* glibc's res_nclose frees the extended (IPv6) server slots too (__res_iclose with
     * free_addr). */
    res_nclose(&r->st);
    free(r->buf);
    free(r);
}

const char *pm_resolver_name(const struct pm_resolver *r) { return r->name; }

/* One query; on OK *n holds the answer length. */
static enum pm_dns_status query(struct pm_resolver *r, const char *name, int type, int *len,
                                char *why, size_t whylen)
{
    int n = res_nquery(&r->st, name, ns_c_in, type, r->buf, DNS_BUF);
    if (n >= 0) {
        *len = n;
        return PM_DNS_OK;
    }
    switch (r->st.res_h_errno) {
    case HOST_NOT_FOUND:
        return PM_DNS_NXDOMAIN;
    case NO_DATA:
        return PM_DNS_NODATA;
    case TRY_AGAIN:
        snprintf(why, whylen, "the server failed or did not answer (SERVFAIL or timeout)");
        return PM_DNS_FAIL;
    default:
        snprintf(why, whylen, "the server refused the query or sent a broken answer");
        return PM_DNS_FAIL;
    }
}

static enum pm_dns_status resolve_addrs(struct pm_resolver *r, const char *name, int family,
                                        pm_addr *out, int max, int *n, char *why, size_t whylen)
{
    int len = 0;
    *n = 0;
    enum pm_dns_status st =
        query(r, name, family == PM_AF_INET6 ? ns_t_aaaa : ns_t_a, &len, why, whylen);
    if (st != PM_DNS_OK) {
        return st;
    }
    int c = pm_dns_parse_addrs(r->buf, (size_t)len, family, out, max, why, whylen);
    if (c < 0) {
        return PM_DNS_FAIL;
    }
    *n = PM_MIN(c, max);
    return c == 0 ? PM_DNS_NODATA : PM_DNS_OK;
}

bool pm_target_parse_literal(const char *s, pm_addr *out)
{
    char buf[PM_DNS_NAME];
    size_t n = strlen(s);
    if (n >= sizeof(buf)) {
        return false;
    }
    if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
        /* RFC 5321 §4.1.3 address literal: [192.0.2.1] or [IPv6:2001:db8::1] */
        memcpy(buf, s + 1, n - 2);
        buf[n - 2] = '\0';
        if (!strncasecmp(buf, "IPv6:", 5)) {
            return pm_addr_parse(buf + 5, out) && out->family == PM_AF_INET6;
        }
        return pm_addr_parse(buf, out) && out->family == PM_AF_INET;
    }
    return pm_addr_parse(s, out);
}

static void note(struct pm_target *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct pm_target *t, const char *fmt, ...)
{
    if (t->nnotes >= PM_TARGET_NOTES) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->notes[t->nnotes++], sizeof(t->notes[0]), fmt, ap);
    va_end(ap);
}

static void add_addr(struct pm_target *t, int max_addrs, const pm_addr *a, const char *name,
                     int pref, const char *origin)
{
    for (int i = 0; i < t->naddrs; i++) {
        if (pm_addr_eq(&t->addrs[i].addr, a)) {
            return; /* two MX names for one address: probe it once, under the first */
        }
    }
    if (t->naddrs >= max_addrs || t->naddrs >= PM_MAX_TADDRS) {
        t->addrs_dropped++;
        return;
    }
    struct pm_taddr *ta = &t->addrs[t->naddrs++];
    memset(ta, 0, sizeof(*ta));
    ta->addr = *a;
    pm_strlcpy(ta->name, name, sizeof(ta->name));
    ta->pref = pref;
    pm_strlcpy(ta->origin, origin, sizeof(ta->origin));
}

/* A/AAAA of one host into t. Returns false when a lookup failed outright. */
static bool host_addrs(struct pm_resolver *r, struct pm_target *t, const char *host, int pref,
                       int families, int max_addrs, const char *origin)
{
    bool any = false, failed = false;
    char why[200];
    const int fams[2] = {PM_AF_INET, PM_AF_INET6};
    enum pm_dns_status sts[2] = {PM_DNS_NODATA, PM_DNS_NODATA};
    for (int k = 0; k < 2; k++) {
        if (!(families & (1 << k))) {
            continue;
        }
        pm_addr got[PM_MAX_TADDRS];
        int n = 0;
        why[0] = '\0';
        sts[k] = resolve_addrs(r, host, fams[k], got, PM_MAX_TADDRS, &n, why, sizeof(why));
        if (sts[k] == PM_DNS_FAIL) {
            failed = true;
            note(t, "%s %s lookup failed: %s", host, k ? "AAAA" : "A", why);
            continue;
        }
        for (int i = 0; i < n; i++) {
            add_addr(t, max_addrs, &got[i], host, pref, origin);
            any = true;
        }
    }
    if (!any && !failed) {
        bool nx = sts[0] == PM_DNS_NXDOMAIN || sts[1] == PM_DNS_NXDOMAIN;
        note(t, "%s has no %s address (%s)%s", host,
             families == 1 ? "IPv4" : families == 2 ? "IPv6" : "IPv4 or IPv6",
             nx ? "NXDOMAIN" : "NODATA",
             pref >= 0 ? ": an MTA skips this MX" : "");
    }
    return !failed;
}

static int mx_cmp(const void *a, const void *b)
{
    const struct pm_mx *x = a, *y = b;
    if (x->pref != y->pref) {
        return x->pref < y->pref ? -1 : 1;
    }
    /* RFC 5321 §5.1 randomises equal preferences; a report wants a stable order. */
    return strcasecmp(x->name, y->name);
}

int pm_target_resolve(struct pm_resolver *r, const char *target, int families, bool no_mx,
                      int max_addrs, struct pm_target *out)
{
    memset(out, 0, sizeof(*out));
    pm_strlcpy(out->input, target, sizeof(out->input));
    pm_addr lit;
    if (pm_target_parse_literal(target, &lit)) {
        out->kind = PM_TK_LITERAL;
        if (!(families & (lit.family == PM_AF_INET ? 1 : 2))) {
            pm_err("TARGET %s is an %s address, but -%c limits the probe to the other family",
                   target, lit.family == PM_AF_INET ? "IPv4" : "IPv6",
                   lit.family == PM_AF_INET ? '6' : '4');
            return PM_EXIT_USAGE;
        }
        add_addr(out, max_addrs, &lit, target, -1, "address literal");
        return 0;
    }
    if (strlen(target) >= PM_DNS_NAME - 1 || !*target) {
        pm_err("TARGET '%.40s...' is not a domain name (at most 253 characters)", target);
        return PM_EXIT_USAGE;
    }
    char why[200] = "";
    if (!no_mx) {
        int len = 0;
        enum pm_dns_status st = query(r, target, ns_t_mx, &len, why, sizeof(why));
        if (st == PM_DNS_NXDOMAIN) {
            out->nxdomain = true;
            out->kind = PM_TK_MX;
            return 0;
        }
        if (st == PM_DNS_FAIL) {
            out->dns_failed = true;
            pm_err("the MX lookup of %s through %s failed: %s", target, r->name, why);
            pm_hint("an MTA defers in this case too; check the resolver (--resolver IP to ask "
                    "another one) and try again");
            return PM_EXIT_UNREADABLE;
        }
        int n = 0;
        if (st == PM_DNS_OK) {
            n = pm_dns_parse_mx(r->buf, (size_t)len, out->mx, PM_MAX_MX, why, sizeof(why));
            if (n < 0) {
                out->dns_failed = true;
                pm_err("the MX answer for %s from %s is malformed: %s", target, r->name, why);
                pm_hint("a broken or hostile DNS server; ask another with --resolver IP");
                return PM_EXIT_UNREADABLE;
            }
        }
        if (n > 0) {
            out->kind = PM_TK_MX;
            out->mx_total = n;
            out->nmx = PM_MIN(n, PM_MAX_MX);
            if (n > PM_MAX_MX) {
                note(out, "%d MX records; the first %d by preference are probed", n, PM_MAX_MX);
            }
            qsort(out->mx, (size_t)out->nmx, sizeof(out->mx[0]), mx_cmp);
            int nulls = 0;
            for (int i = 0; i < out->nmx; i++) {
                nulls += out->mx[i].name[0] == '\0';
            }
            if (nulls && nulls == out->nmx) {
                out->null_mx = true; /* RFC 7505 §3: "0 ." alone */
                return 0;
            }
            if (nulls) {
                note(out, "a null MX (\".\") next to real MX records is invalid (RFC 7505 §3); "
                     "it is ignored, as MTAs do");
            }
            for (int i = 0; i < out->nmx; i++) {
                if (!out->mx[i].name[0]) {
                    continue;
                }
                char origin[120];
                snprintf(origin, sizeof(origin), "MX %u %.100s", out->mx[i].pref,
                         out->mx[i].name);
                if (!host_addrs(r, out, out->mx[i].name, out->mx[i].pref, families, max_addrs,
                                origin)) {
                    out->dns_failed = true;
                }
            }
            return 0;
        }
        /* The name exists without MX records: RFC 5321 §5.1 implicit MX. */
        out->kind = PM_TK_IMPLICIT;
        note(out, "%s has no MX records: an MTA delivers to its own address (implicit MX, "
             "RFC 5321 §5.1)", target);
    } else {
        out->kind = PM_TK_HOST;
    }
    if (!host_addrs(r, out, target, -1, families, max_addrs,
                    out->kind == PM_TK_IMPLICIT ? "implicit MX (A/AAAA)" : "host (A/AAAA)")) {
        out->dns_failed = true;
        if (out->naddrs == 0) {
            pm_err("the address lookup of %s through %s failed", target, r->name);
            pm_hint("check the resolver (--resolver IP to ask another one)");
            return PM_EXIT_UNREADABLE;
        }
    }
    if (out->kind == PM_TK_HOST && out->naddrs == 0) {
        for (int i = 0; i < out->nnotes; i++) {
            if (strstr(out->notes[i], "NXDOMAIN")) {
                out->nxdomain = true;
            }
        }
    }
    return 0;
}
