/*
 * probe_print.c — owns the probe's output (capture/probe_run.h): one JSON object per result
 * ("type":"probe" with its "check": dns, stale, plan, walk, syn, smtp, ports, run; the
 * engine's attempts stream in between) or the text lines a person reads at a terminal. Only
 * formats: what to say is decided in probe.c, analyze/walk.c and capture/probe_verdict.c.
 */
#include <stdarg.h>
#include <string.h>

#include "decode.h"
#include "probe_run.h"
#include "ttl.h"
#include "util.h"

void probe_txt(struct prober *P, const char *fmt, ...)
{
    if (P->jsonl) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vfprintf(P->out, fmt, ap);
    va_end(ap);
}

void probe_jbegin(struct prober *P, struct pm_json *j, const char *check)
{
    pm_json_init(j, P->out);
    pm_json_obj_begin(j);
    pm_json_kstr(j, "type", "probe");
    pm_json_kstr(j, "check", check);
    pm_json_kstr(j, "target", P->o.target);
}

void probe_jend(struct prober *P, struct pm_json *j)
{
    pm_json_obj_end(j);
    fflush(P->out);
}

static double ms_of(pm_ns d) { return (double)d / 1e6; }

void probe_print_smtp(struct prober *P, const struct addrstate *as, const struct portres *pr)
{
    const struct pm_smtp_res *r = &pr->r;
    char a[PM_ADDR_STRLEN], s[PM_ADDR_STRLEN];
    pm_addr_str(&as->ta.addr, a);
    pm_addr_str(&r->src, s);
    bool ok = r->failed_step == PM_SS_DONE;
    if (P->jsonl) {
        struct pm_json jj, *j = &jj;
        probe_jbegin(P, j, "smtp");
        pm_json_kaddr(j, "dst", &as->ta.addr);
        pm_json_kstr(j, "name", as->ta.name);
        pm_json_kuint(j, "dport", pr->port);
        pm_json_kaddr(j, "src", r->src.family ? &r->src : NULL);
        if (r->sport) {
            pm_json_kuint(j, "sport", r->sport);
        } else {
            pm_json_key(j, "sport");
            pm_json_null(j);
        }
        pm_json_kbool(j, "stale", as->ta.stale);
        pm_json_kstr(j, "result", ok ? "ok" : "failed");
        pm_json_kstr(j, "failed_step", ok ? NULL : pm_smtp_step_name(r->failed_step));
        pm_json_kstr(j, "error", r->error[0] ? r->error : NULL);
        if (r->err) {
            pm_json_kint(j, "errno", r->err);
            pm_json_kstr(j, "errno_text", strerror(r->err));
        }
        pm_json_key(j, "syn_on_wire");
        if (pr->syn_seen < 0) {
            pm_json_null(j);
        } else {
            pm_json_bool(j, pr->syn_seen > 0);
        }
        if (r->connected) {
            pm_json_key(j, "connect_ms");
            pm_json_double(j, ms_of(r->connect_ns), 3);
        }
        if (r->greeting_code) {
            pm_json_key(j, "greeting");
            pm_json_obj_begin(j);
            pm_json_kint(j, "code", r->greeting_code);
            pm_json_kstr(j, "text", r->greeting);
            pm_json_key(j, "ms");
            pm_json_double(j, ms_of(r->greeting_ns), 3);
            pm_json_kbool(j, "masked", r->masked_banner);
            pm_json_obj_end(j);
        }
        if (r->ehlo_code) {
            pm_json_key(j, "ehlo");
            pm_json_obj_begin(j);
            pm_json_kint(j, "code", r->ehlo_code);
            pm_json_kstr(j, "text", r->ehlo_first);
            pm_json_key(j, "extensions");
            pm_json_arr_begin(j);
            for (int i = 0; i < r->next; i++) {
                pm_json_str(j, r->ext[i]);
            }
            pm_json_arr_end(j);
            pm_json_kbool(j, "masked", r->masked_ehlo);
            pm_json_obj_end(j);
        }
        if (pr->port != 465 && r->ehlo_code) {
            pm_json_key(j, "starttls");
            pm_json_obj_begin(j);
            pm_json_kbool(j, "offered", r->starttls_offered);
            if (r->starttls_code) {
                pm_json_kint(j, "code", r->starttls_code);
                pm_json_kstr(j, "text", r->starttls_text);
            }
            pm_json_obj_end(j);
        }
        if (r->tls.done || r->tls.error[0]) {
            const struct pm_tls_info *t = &r->tls;
            pm_json_key(j, "tls");
            pm_json_obj_begin(j);
            pm_json_kbool(j, "implicit", pr->port == 465);
            pm_json_kbool(j, "handshake", t->done);
            if (t->done) {
                pm_json_kstr(j, "protocol", t->protocol);
                pm_json_kstr(j, "cipher", t->cipher);
                pm_json_kstr(j, "subject", t->subject);
                pm_json_kstr(j, "issuer", t->issuer);
                pm_json_kstr(j, "not_before", t->not_before);
                pm_json_kstr(j, "not_after", t->not_after);
                pm_json_kint(j, "days_left", t->days_left);
                pm_json_kstr(j, "verified_name", t->verified_name);
                pm_json_kstr(j, "verify", t->verify_code == 0 ? "ok" : "failed");
                pm_json_kint(j, "verify_code", t->verify_code);
                pm_json_kstr(j, "verify_text", t->verify_text);
            } else {
                pm_json_kstr(j, "error", t->error);
            }
            pm_json_obj_end(j);
        }
        if (r->ehlo_tls_code) {
            pm_json_kint(j, "ehlo_tls_code", r->ehlo_tls_code);
        }
        if (r->quit_code) {
            pm_json_kint(j, "quit_code", r->quit_code);
        }
        pm_json_key(j, "signs");
        pm_json_arr_begin(j);
        for (int i = 0; i < r->nsigns; i++) {
            pm_json_str(j, r->signs[i]);
        }
        pm_json_arr_end(j);
        probe_jend(P, j);
        return;
    }
    probe_txt(P, "  smtp %s:%u from %s:", a, pr->port, r->src.family ? s : "?");
    if (!r->connected) {
        probe_txt(P, " %s%s\n", r->error,
            pr->syn_seen == 0 ? " — no SYN left this host (stopped by a local firewall or "
                                "route)" : "");
    } else {
        probe_txt(P, " connected in %.3f ms", ms_of(r->connect_ns));
        if (r->greeting_code) {
            probe_txt(P, "; %d %.80s", r->greeting_code, r->greeting);
        }
        if (r->ehlo_code) {
            probe_txt(P, "; EHLO %d", r->ehlo_code);
            if (pr->port != 465) {
                probe_txt(P, " (STARTTLS %s)", r->starttls_offered ? "offered" : "not offered");
            }
        }
        probe_txt(P, "\n");
        if (r->tls.done) {
            const struct pm_tls_info *t = &r->tls;
            probe_txt(P, "    TLS: %s %s\n", t->protocol, t->cipher);
            probe_txt(P, "    certificate: subject %s\n", t->subject);
            probe_txt(P, "                 issuer  %s\n", t->issuer);
            probe_txt(P, "                 valid until %s (%ld days)\n", t->not_after, t->days_left);
            probe_txt(P, "                 verification for %s: %s\n", t->verified_name,
                t->verify_code == 0 ? "ok" : t->verify_text);
        } else if (r->starttls_code && r->starttls_code != 220) {
            probe_txt(P, "    STARTTLS refused: %d %s\n", r->starttls_code, r->starttls_text);
        }
        if (r->failed_step != PM_SS_DONE) {
            probe_txt(P, "    failed at %s: %s\n", pm_smtp_step_name(r->failed_step), r->error);
        } else if (r->quit_code) {
            probe_txt(P, "    QUIT %d\n", r->quit_code);
        }
    }
    for (int i = 0; i < r->nsigns; i++) {
        probe_txt(P, "    sign: %s\n", r->signs[i]);
    }
    fflush(P->out);
}

static pm_ns rtt_of(const struct prober *P, int idx)
{
    const struct pm_sent *s = &P->sent[idx];
    const struct pm_walk_reply *r = &P->rep[idx];
    pm_ns t0 = s->wire_ts != PM_NS_NONE ? s->wire_ts : s->sent_real;
    return r->ts > t0 ? r->ts - t0 : 0;
}

void probe_print_walk(struct prober *P, const struct addrstate *as)
{
    const struct pm_walk *w = &as->w;
    uint8_t fam = as->ta.addr.family;
    char text[400], a[PM_ADDR_STRLEN], s[PM_ADDR_STRLEN];
    pm_walk_text(w, text, sizeof(text));
    if (P->jsonl) {
        struct pm_json jj, *j = &jj;
        probe_jbegin(P, j, "walk");
        pm_json_kaddr(j, "dst", &as->ta.addr);
        pm_json_kstr(j, "name", as->ta.name);
        pm_json_kuint(j, "dport", 25);
        pm_json_kaddr(j, "src", &as->wt.src);
        pm_json_kuint(j, "sport", as->wt.sport);
        pm_json_kint(j, "max_ttl", P->o.max_ttl);
        pm_json_key(j, "hops");
        pm_json_arr_begin(j);
        for (int ttl = 1; ttl <= w->top; ttl++) {
            const struct pm_walk_hop *h = &w->hop[ttl];
            pm_json_obj_begin(j);
            pm_json_kint(j, "ttl", ttl);
            pm_json_kint(j, "probes", h->probes);
            pm_json_kstr(j, "answer", pm_walk_reply_word(&h->r, fam));
            if (h->r.kind != PM_WR_NONE) {
                pm_json_kaddr(j, "from", &h->r.from);
                pm_json_kint(j, "reply_ttl", h->r.ttl);
                pm_json_kint(j, "reply_hops", pm_ttl_hops(h->r.ttl));
                pm_json_key(j, "rtt_ms");
                pm_json_double(j, ms_of(rtt_of(P, h->sent_idx)), 3);
                if (h->r.kind == PM_WR_ICMP) {
                    pm_json_key(j, "icmp");
                    pm_json_obj_begin(j);
                    pm_json_kint(j, "type", h->r.icmp_type);
                    pm_json_kint(j, "code", h->r.icmp_code);
                    pm_json_obj_end(j);
                    pm_json_key(j, "quote");
                    pm_json_obj_begin(j);
                    pm_json_kint(j, "bytes", h->r.q.bytes);
                    pm_json_kint(j, "ttl", h->r.q.ttl);
                    pm_json_kbool(j, "partial", h->r.partial);
                    pm_json_kbool(j, "matched_by_ip_id", h->r.by_ipid);
                    pm_json_key(j, "diff");
                    pm_json_arr_begin(j);
                    for (unsigned b = 0; b < PM_QD__BITS; b++) {
                        if (h->r.diff & (1u << b)) {
                            char one[120];
                            pm_qdiff_describe(1u << b, &P->sent[h->sent_idx], &h->r.q, one,
                                              sizeof(one));
                            pm_json_str(j, one);
                        }
                    }
                    pm_json_arr_end(j);
                    pm_json_obj_end(j);
                }
                if (P->rep[h->sent_idx].self_rst) {
                    pm_json_kbool(j, "self_rst", true);
                }
            }
            pm_json_obj_end(j);
        }
        pm_json_arr_end(j);
        pm_json_kstr(j, "end", pm_walk_end_name(w->end));
        pm_json_kint(j, "end_ttl", w->end_ttl);
        if (w->last_hop > 0) {
            pm_json_key(j, "last_hop");
            pm_json_obj_begin(j);
            pm_json_kint(j, "hop", w->last_hop);
            pm_json_kaddr(j, "addr", &w->last_addr);
            pm_json_obj_end(j);
        }
        if (w->end == PM_WE_REJECTED) {
            pm_json_key(j, "reject");
            pm_json_obj_begin(j);
            pm_json_kint(j, "hop", w->reject_hop);
            pm_json_kaddr(j, "addr", &w->reject_addr);
            const struct pm_walk_hop *e = &w->hop[w->end_ttl];
            pm_json_kint(j, "icmp_type", e->r.icmp_type);
            pm_json_kint(j, "icmp_code", e->r.icmp_code);
            pm_json_kstr(j, "reason", pm_icmp_reason(fam, e->r.icmp_type, e->r.icmp_code));
            pm_json_obj_end(j);
        }
        if (w->end == PM_WE_SILENT) {
            pm_json_key(j, "silent_after");
            pm_json_obj_begin(j);
            pm_json_kint(j, "hop", w->last_hop);
            pm_json_kaddr(j, "addr", w->last_hop ? &w->last_addr : NULL);
            pm_json_obj_end(j);
        }
        if (w->dest_hops >= 0) {
            pm_json_kint(j, "destination_hops", w->dest_hops);
        }
        if (w->end == PM_WE_RST_FORGED) {
            pm_json_key(j, "forged_rst");
            pm_json_obj_begin(j);
            pm_json_kint(j, "hop", w->forged_hop);
            pm_json_kaddr(j, "addr", w->forged_addr.family ? &w->forged_addr : NULL);
            pm_json_kint(j, "rst_hops", w->forged_rst_hops);
            pm_json_kint(j, "expected_hops", w->dest_hops);
            pm_json_obj_end(j);
        }
        if (w->diff_hop) {
            pm_json_key(j, "rewrite");
            pm_json_obj_begin(j);
            pm_json_kint(j, "hop", w->diff_hop);
            pm_json_kstr(j, "fields", w->diff_text);
            pm_json_obj_end(j);
        }
        pm_json_kstr(j, "text", text);
        probe_jend(P, j);
        return;
    }
    probe_txt(P, "  ttl walk to %s:25 from %s:%u (one fixed 5-tuple for every probe)\n",
        pm_addr_str(&as->ta.addr, a), pm_addr_str(&as->wt.src, s), as->wt.sport);
    for (int ttl = 1; ttl <= w->top; ttl++) {
        const struct pm_walk_hop *h = &w->hop[ttl];
        if (h->r.kind == PM_WR_NONE) {
            probe_txt(P, "    %2d  *  (%d probe%s, no answer)\n", ttl, h->probes,
                h->probes == 1 ? "" : "s");
            continue;
        }
        probe_txt(P, "    %2d  %-16s %8.3f ms  %s", ttl, pm_addr_str(&h->r.from, a),
            ms_of(rtt_of(P, h->sent_idx)), pm_walk_reply_word(&h->r, fam));
        if (h->r.kind == PM_WR_ICMP && !pm_walk_time_exceeded(&h->r, fam)) {
            probe_txt(P, " (%u/%u)", h->r.icmp_type, h->r.icmp_code);
        }
        probe_txt(P, "  ttl %u", h->r.ttl);
        if (h->r.kind == PM_WR_SYNACK && P->rep[h->sent_idx].self_rst) {
            probe_txt(P, "  (our kernel reset it: expected for a raw SYN)");
        }
        if (h->r.diff) {
            char dd[240];
            pm_qdiff_describe(h->r.diff, &P->sent[h->sent_idx], &h->r.q, dd, sizeof(dd));
            probe_txt(P, "  quote differs: %s", dd);
        } else if (h->r.kind == PM_WR_ICMP && h->r.partial) {
            probe_txt(P, "  [partial quote]");
        }
        probe_txt(P, "\n");
    }
    probe_txt(P, "    => %s\n", text);
    if (w->diff_hop) {
        probe_txt(P, "    => a rewrite between us and hop %d: %s\n", w->diff_hop, w->diff_text);
    }
    fflush(P->out);
}

/* The test SYN's result: its answer (r, NULL: none; ridx its index in P->sent) in words. */
void probe_print_syn(struct prober *P, const struct addrstate *as, const struct pm_walk_reply *r,
                      int ridx, bool self)
{
    const struct synres *sr = &as->s;
    char a[PM_ADDR_STRLEN], f[PM_ADDR_STRLEN], text[300];
    pm_addr_str(&as->ta.addr, a);
    uint8_t fam = as->ta.addr.family;
    if (!sr->sent) {
        snprintf(text, sizeof(text), "not sent: %s", sr->error);
    } else if (!r) {
        char w[24];
        snprintf(text, sizeof(text), "%d SYN%s, no answer within %s s each", sr->sent,
                 sr->sent == 1 ? "" : "s", pm_dur_str(P->o.wait, w, sizeof(w)));
    } else if (r->kind == PM_WR_SYNACK) {
        snprintf(text, sizeof(text), "SYN-ACK from %s (%d routers away): port 25 is open on "
                 "this path%s", a, pm_ttl_hops(r->ttl),
                 self ? "; our kernel reset it (expected: no socket behind a raw SYN)" : "");
    } else if (r->kind == PM_WR_RST) {
        int rh = pm_ttl_hops(r->ttl);
        if (as->w.ran && as->w.dest_hops >= 0 && rh < as->w.dest_hops) {
            snprintf(text, sizeof(text), "RST claiming to be from %s, %d routers away while "
                     "the walk puts %s %d routers away: forged on the path", a, rh, a,
                     as->w.dest_hops);
        } else {
            snprintf(text, sizeof(text), "RST from %s (%d routers away)", a, rh);
        }
    } else {
        snprintf(text, sizeof(text), "ICMP %s from %s%s",
                 pm_icmp_text(fam, r->icmp_type, r->icmp_code), pm_addr_str(&r->from, f),
                 pm_addr_eq(&r->from, &as->ta.addr) ? " (the destination itself)" : "");
    }
    if (P->jsonl) {
        struct pm_json jj, *j = &jj;
        probe_jbegin(P, j, "syn");
        pm_json_kaddr(j, "dst", &as->ta.addr);
        pm_json_kstr(j, "name", as->ta.name);
        pm_json_kuint(j, "dport", 25);
        pm_json_kaddr(j, "src", &sr->t.src);
        pm_json_kuint(j, "sport", sr->t.sport);
        pm_json_kint(j, "ttl", PM_PROBE_SYN_TTL);
        pm_json_kint(j, "sent", sr->sent);
        pm_json_kstr(j, "answer", r ? pm_walk_reply_word(r, fam) : (sr->sent ? "none" : NULL));
        if (r) {
            pm_json_kaddr(j, "from", &r->from);
            pm_json_kint(j, "reply_ttl", r->ttl);
            pm_json_kint(j, "reply_hops", pm_ttl_hops(r->ttl));
            pm_json_key(j, "rtt_ms");
            pm_json_double(j, ms_of(rtt_of(P, ridx)), 3);
            if (r->kind == PM_WR_ICMP) {
                pm_json_key(j, "icmp");
                pm_json_obj_begin(j);
                pm_json_kint(j, "type", r->icmp_type);
                pm_json_kint(j, "code", r->icmp_code);
                pm_json_kstr(j, "reason", pm_icmp_reason(fam, r->icmp_type, r->icmp_code));
                pm_json_obj_end(j);
            }
        }
        pm_json_kbool(j, "self_rst", self);
        pm_json_kstr(j, "text", text);
        probe_jend(P, j);
    } else {
        probe_txt(P, "  test SYN %s:25 TTL %d from port %u: %s\n", a, PM_PROBE_SYN_TTL,
                  sr->t.sport, text);
        fflush(P->out);
    }
}

/* The per-address conclusion: the `ports` object, or the "=>" line. */
void probe_print_ports(struct prober *P, const struct addrstate *as, const char *verdict,
                        const char *text)
{
    if (P->jsonl) {
        struct pm_json jj, *j = &jj;
        probe_jbegin(P, j, "ports");
        pm_json_kaddr(j, "dst", &as->ta.addr);
        pm_json_kstr(j, "name", as->ta.name);
        pm_json_kbool(j, "stale", as->ta.stale);
        pm_json_key(j, "ports");
        pm_json_obj_begin(j);
        for (int i = 0; i < as->np; i++) {
            if (!as->p[i].ran) {
                continue;
            }
            char k[8];
            snprintf(k, sizeof(k), "%u", as->p[i].port);
            pm_json_kstr(j, k, as->p[i].r.failed_step == PM_SS_DONE ? "ok"
                               : as->p[i].r.connected                ? "smtp-failed"
                                                                     : "no-connect");
        }
        pm_json_obj_end(j);
        pm_json_kstr(j, "route", as->routed ? as->route.text : NULL);
        pm_json_kstr(j, "verdict", verdict);
        pm_json_kstr(j, "text", text);
        probe_jend(P, j);
    } else {
        probe_txt(P, "  => %s\n", text);
        fflush(P->out);
    }
}

static const char *tk_name(enum pm_target_kind k)
{
    switch (k) {
    case PM_TK_LITERAL:
        return "literal";
    case PM_TK_MX:
        return "mx";
    case PM_TK_IMPLICIT:
        return "implicit-mx";
    default:
        return "host";
    }
}

void probe_print_dns(struct prober *P, const char *resolver)
{
    const struct pm_target *t = &P->tgt;
    char a[PM_ADDR_STRLEN];
    if (P->jsonl) {
        struct pm_json jj, *j = &jj;
        probe_jbegin(P, j, "dns");
        pm_json_kstr(j, "kind", tk_name(t->kind));
        pm_json_kstr(j, "resolver", resolver);
        pm_json_kbool(j, "nxdomain", t->nxdomain);
        pm_json_kbool(j, "null_mx", t->null_mx);
        pm_json_kbool(j, "partial", t->dns_failed);
        pm_json_key(j, "mx");
        pm_json_arr_begin(j);
        for (int i = 0; i < t->nmx; i++) {
            pm_json_obj_begin(j);
            pm_json_kint(j, "pref", t->mx[i].pref);
            pm_json_kstr(j, "name", t->mx[i].name[0] ? t->mx[i].name : ".");
            pm_json_obj_end(j);
        }
        pm_json_arr_end(j);
        pm_json_key(j, "addresses");
        pm_json_arr_begin(j);
        for (int i = 0; i < t->naddrs; i++) {
            pm_json_obj_begin(j);
            pm_json_kaddr(j, "addr", &t->addrs[i].addr);
            pm_json_kstr(j, "name", t->addrs[i].name);
            if (t->addrs[i].pref >= 0) {
                pm_json_kint(j, "pref", t->addrs[i].pref);
            }
            pm_json_kstr(j, "origin", t->addrs[i].origin);
            pm_json_kbool(j, "stale", t->addrs[i].stale);
            pm_json_obj_end(j);
        }
        pm_json_arr_end(j);
        pm_json_kint(j, "dropped", t->addrs_dropped);
        pm_json_key(j, "notes");
        pm_json_arr_begin(j);
        for (int i = 0; i < t->nnotes; i++) {
            pm_json_str(j, t->notes[i]);
        }
        pm_json_arr_end(j);
        probe_jend(P, j);
        return;
    }
    probe_txt(P, "probe %s (DNS: %s)\n", t->input, resolver);
    if (t->nxdomain) {
        probe_txt(P, "  %s does not exist (NXDOMAIN): mail to it bounces; check the spelling\n",
            t->input);
    } else if (t->null_mx) {
        probe_txt(P, "  null MX (\"0 .\", RFC 7505): %s accepts no mail at all; nothing to probe\n",
            t->input);
    }
    for (int i = 0; i < t->nmx; i++) {
        probe_txt(P, "  MX %u %s\n", t->mx[i].pref, t->mx[i].name[0] ? t->mx[i].name : ".");
    }
    for (int i = 0; i < t->naddrs; i++) {
        if (t->addrs[i].stale) {
            continue;
        }
        probe_txt(P, "  address %-40s %s\n", pm_addr_str(&t->addrs[i].addr, a), t->addrs[i].origin);
    }
    if (t->addrs_dropped) {
        probe_txt(P, "  (%d more addresses not probed: --max-addrs)\n", t->addrs_dropped);
    }
    for (int i = 0; i < t->nnotes; i++) {
        probe_txt(P, "  note: %s\n", t->notes[i]);
    }
    fflush(P->out);
}

void probe_print_stale(struct prober *P)
{
    const struct pm_target *t = &P->tgt;
    char a[PM_ADDR_STRLEN];
    for (int i = 0; i < t->naddrs; i++) {
        const struct pm_taddr *ta = &t->addrs[i];
        if (!ta->stale) {
            continue;
        }
        char text[400];
        snprintf(text, sizeof(text), "%s (for %s, from %s) is not in the DNS for %s any more: "
                 "the MTA works from a stale cache (its own, or a caching resolver on its "
                 "host); flush it (e.g. postfix reload, restart nscd/unbound) and retry",
                 pm_addr_str(&ta->addr, a), ta->name, ta->origin, t->input);
        if (P->jsonl) {
            struct pm_json jj, *j = &jj;
            probe_jbegin(P, j, "stale");
            pm_json_kaddr(j, "addr", &ta->addr);
            pm_json_kstr(j, "name", ta->name);
            pm_json_kstr(j, "origin", ta->origin);
            pm_json_kstr(j, "text", text);
            probe_jend(P, j);
        } else {
            probe_txt(P, "  STALE: %s\n", text);
        }
    }
    fflush(P->out);
}

void probe_print_header(struct prober *P)
{
    if (P->jsonl) {
        struct pm_json jj, *j = &jj;
        probe_jbegin(P, j, "plan");
        pm_json_kstr(j, "interface", P->cap.p ? P->iface : NULL);
        pm_json_kaddr(j, "source_ipv4", P->have_src[0] ? &P->src[0] : NULL);
        pm_json_kaddr(j, "source_ipv6", P->have_src[1] ? &P->src[1] : NULL);
        pm_json_kstr(j, "helo", P->helo);
        pm_json_key(j, "ports");
        pm_json_arr_begin(j);
        pm_json_int(j, 25);
        for (int i = 0; i < P->o.ncompare; i++) {
            pm_json_int(j, P->o.compare[i]);
        }
        pm_json_arr_end(j);
        pm_json_kbool(j, "inject", P->o.inject);
        pm_json_kbool(j, "ttl_walk", P->o.walk);
        if (P->o.inject) {
            pm_json_key(j, "rate");
            pm_json_double(j, P->o.rate, 2);
            pm_json_kuint(j, "max_probes", P->o.max_probes);
        }
        probe_jend(P, j);
        return;
    }
    char a[PM_ADDR_STRLEN], b[PM_ADDR_STRLEN];
    probe_txt(P, "  from %s%s%s, capture on %s, EHLO %s\n",
        P->have_src[0] ? pm_addr_str(&P->src[0], a) : "",
        P->have_src[0] && P->have_src[1] ? " / " : "",
        P->have_src[1] ? pm_addr_str(&P->src[1], b) : "",
        P->cap.p ? P->iface : "none (no verdicts: see the warning above)", P->helo);
    if (P->o.inject) {
        probe_txt(P, "  raw test SYNs: %s, at most %.3g/s, %u in all\n",
            P->o.walk ? "test SYN + TTL walk" : "test SYN", P->o.rate, P->o.max_probes);
    } else {
        probe_txt(P, "  sends only DNS queries and TCP connects (no --inject/--ttl-walk)\n");
    }
    fflush(P->out);
}

void probe_print_run(struct prober *P, const char *privileges, const struct pcap_stat *st,
                      bool have_st)
{
    const struct pm_inj_counters *c = P->inj ? pm_injector_counters(P->inj) : NULL;
    if (P->jsonl) {
        struct pm_json jj, *j = &jj;
        probe_jbegin(P, j, "run");
        pm_json_kuint(j, "connects", P->connects);
        pm_json_kuint(j, "injected", c ? c->sent : 0);
        pm_json_kuint(j, "max_probes", P->o.max_probes);
        pm_json_key(j, "rate");
        pm_json_double(j, P->o.rate, 2);
        pm_json_kuint(j, "cap_refused", c ? c->cap_refused : 0);
        pm_json_kuint(j, "target_refused", c ? c->target_refused : 0);
        pm_json_kuint(j, "send_errors", c ? c->errors : 0);
        pm_json_kuint(j, "replies_rejected", P->replies_rejected);
        pm_json_kuint(j, "self_rsts", P->self_rsts);
        pm_json_kuint(j, "walk_packets", P->hidden);
        pm_json_kuint(j, "captured", P->frame);
        if (have_st) {
            pm_json_kuint(j, "kernel_dropped", st->ps_drop);
        }
        pm_json_kstr(j, "capture_file", P->o.wfile);
        pm_json_kstr(j, "privileges", privileges);
        pm_json_kint(j, "failures", P->failures);
        probe_jend(P, j);
        return;
    }
    probe_txt(P, "probe: %u connect%s, %llu raw SYN%s sent (cap %u, %.3g/s)", P->connects,
        P->connects == 1 ? "" : "s", (unsigned long long)(c ? c->sent : 0),
        c && c->sent == 1 ? "" : "s", P->o.max_probes, P->o.rate);
    if (c && c->cap_refused) {
        probe_txt(P, ", %llu refused by the cap", (unsigned long long)c->cap_refused);
    }
    if (P->replies_rejected) {
        probe_txt(P, ", %llu replies rejected (not our ISN)", (unsigned long long)P->replies_rejected);
    }
    probe_txt(P, "; %u packets captured%s%s; %s\n\n", P->frame, P->o.wfile ? " into " : "",
        P->o.wfile ? P->o.wfile : "", privileges);
    fflush(P->out);
}

