/*
 * bundle_text.c — owns the bundle's words for people (analyze/bundle_int.h): the result of
 * an attempt in the words of the layer that failed, the escalation text per failing
 * destination (the template network and provider teams ask for: subject, source IP,
 * destination MX, destination IP, time in UTC, result, trace), the kept copies of findings,
 * and the ladder events reconstructed from an attempt when its packets cannot be read again.
 *
 * Everything that came from a packet or a log line was sanitised by the decoder or the log
 * parser; it passes pm_bundle_put_clean() again here so that no control character or byte
 * >= 0x80 reaches a file whatever a caller forgot.
 */
#include "bundle_int.h"

#include "ttl.h"
#include "util.h"
#include "verdicts.h"

void pm_bundle_put_clean(FILE *out, const char *s)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        fputc(c >= 0x20 && c < 0x7f ? c : (c == '\t' ? ' ' : '?'), out);
    }
}

void pm_bundle_escalation_name(const pm_addr *dst, char *buf, size_t len)
{
    char a[PM_ADDR_STRLEN];
    pm_addr_str(dst, a);
    for (char *p = a; *p; p++) {
        if (*p == ':') {
            *p = '-'; /* ':' is not a portable file name character (Windows, zip tools) */
        }
    }
    snprintf(buf, len, "escalation-%s.txt", a);
}

/* ---- kept findings ---- */

void pm_bfind_copy(struct pm_bfind *d, const struct pm_finding *f, const char *vantage,
                   const char *logfile)
{
    memset(d, 0, sizeof(*d));
    d->f = *f;
    d->f.a = NULL;
    d->f.smtp = NULL;
    d->f.log = NULL;
    d->f.nat = NULL;
    if (f->nat) {
        d->nat = *f->nat;
        d->nat.peer = NULL;
        if (f->nat->peer) {
            d->peer = *f->nat->peer;
            d->nat.peer = &d->peer;
        }
        d->f.nat = &d->nat;
    }
    if (f->a) {
        d->a = *f->a;
        d->f.a = &d->a;
    }
    if (f->smtp) {
        d->smtp = *f->smtp;
        d->f.smtp = &d->smtp;
    }
    if (f->log) {
        d->log = *f->log;
        d->f.log = &d->log;
    }
    pm_sanitize(d->vantage, sizeof(d->vantage), (const uint8_t *)(vantage ? vantage : ""),
                vantage ? strlen(vantage) : 0);
    pm_sanitize(d->logfile, sizeof(d->logfile), (const uint8_t *)(logfile ? logfile : ""),
                logfile ? strlen(logfile) : 0);
}

static struct pm_ladder_event *push_event(struct pm_bfind *d, pm_ns ts, bool back, int kind,
                                          uint8_t ttl, const pm_addr *from)
{
    if (d->nev >= PM_BUNDLE_LADDER_EVENTS) {
        d->ev_dropped++;
        return NULL;
    }
    struct pm_ladder_event *e = &d->ev[d->nev++];
    memset(e, 0, sizeof(*e));
    e->ts = ts;
    e->towards_sender = back;
    e->kind = (uint8_t)kind;
    e->ttl = ttl;
    if (from) {
        e->from = *from;
    }
    return e;
}

void pm_bfind_synth_events(struct pm_bfind *d)
{
    d->nev = 0;
    d->ev_dropped = 0;
    d->ev_from_capture = false;
    const struct pm_attempt *a = d->f.a;
    if (!a) {
        return; /* not on the wire: the ladder says so in words */
    }
    struct pm_ladder_event *e;
    if (!(a->flags & PM_AF_SYN_NOT_CAPTURED)) {
        if ((e = push_event(d, a->first_syn, false, PM_LE_SYN, a->syn_ttl, &a->cli))) {
            snprintf(e->label, sizeof(e->label), "SYN (TTL %u)", a->syn_ttl);
        }
        if (a->syns > 2 && (e = push_event(d, a->first_syn, false, PM_LE_NOTE, 0, &a->cli))) {
            snprintf(e->label, sizeof(e->label), "%u more SYN retransmissions", a->syns - 2u);
        }
        if (a->syns > 1 && (e = push_event(d, a->last_syn, false, PM_LE_SYN, a->syn_ttl,
                                           &a->cli))) {
            snprintf(e->label, sizeof(e->label), "SYN retransmission (SYN %u of %u)", a->syns,
                     a->syns);
        }
    }
    char from[PM_ADDR_STRLEN];
    switch (a->answer) {
    case PM_ANS_SYNACK:
        if ((e = push_event(d, a->ans.ts, true, PM_LE_SYNACK, a->ans.ttl, &a->srv))) {
            snprintf(e->label, sizeof(e->label), "SYN-ACK TTL %u (%d hops)", a->ans.ttl,
                     pm_ttl_hops(a->ans.ttl));
        }
        break;
    case PM_ANS_RST:
        if ((e = push_event(d, a->ans.ts, true, PM_LE_RST, a->ans.ttl, &a->srv))) {
            snprintf(e->label, sizeof(e->label), "RST TTL %u (%d hops)", a->ans.ttl,
                     pm_ttl_hops(a->ans.ttl));
        }
        break;
    case PM_ANS_ICMP:
        if ((e = push_event(d, a->ans.ts, true, PM_LE_ICMP, a->ans.ttl, &a->ans.from))) {
            snprintf(e->label, sizeof(e->label), "ICMP %s (%u/%u) from %s, TTL %u",
                     pm_icmp_reason(a->family, a->ans.icmp_type, a->ans.icmp_code),
                     a->ans.icmp_type, a->ans.icmp_code, pm_addr_str(&a->ans.from, from),
                     a->ans.ttl);
        }
        break;
    default:
        break;
    }
    const struct pm_smtp_summary *s = d->f.smtp;
    if (a->answer == PM_ANS_SYNACK && (a->banner_code != 0 || (s && s->banner_code > 0))) {
        pm_ns t = a->ans.ts;
        if ((e = push_event(d, t, true, PM_LE_DATA, a->ans.ttl, &a->srv))) {
            if (s && s->banner_code > 0) {
                snprintf(e->label, sizeof(e->label), "%d %s", s->banner_code, s->banner);
            } else {
                snprintf(e->label, sizeof(e->label), "greeting %d", a->banner_code);
            }
        }
    }
    if (a->close != PM_CLOSE_NONE && a->close_ts != PM_NS_NONE) {
        bool srv = a->close == PM_CLOSE_SRV_FIN || a->close == PM_CLOSE_SRV_RST;
        bool rst = a->close == PM_CLOSE_SRV_RST || a->close == PM_CLOSE_CLI_RST;
        if ((e = push_event(d, a->close_ts, srv, rst ? PM_LE_RST : PM_LE_FIN, 0,
                            srv ? &a->srv : &a->cli))) {
            snprintf(e->label, sizeof(e->label), "%s (%s closes)", rst ? "RST" : "FIN",
                     srv ? "server" : "client");
        }
    }
}

/* ---- the layer's words ---- */

/* What kept the SYN off the wire: the verdict table's words for it (analyze/verdicts.c). */
static const char *not_on_wire_words(enum pm_verdict v)
{
    const struct pm_verdict_info *vi = pm_verdict_info(v);
    return vi->offwire ? vi->offwire : vi->word;
}

void pm_bundle_result_words(const struct pm_finding *f, char *r, size_t rl, char *s, size_t sl)
{
    const struct pm_attempt *a = f->a;
    const struct pm_smtp_summary *sm = f->smtp;
    unsigned port = a ? a->dport : (f->log && f->log->port ? f->log->port : 25);
    char from[PM_ADDR_STRLEN], dur[32];
    switch (f->outcome) {
    case PM_OUT_REFUSED: {
        if (!a) {
            snprintf(r, rl, "TCP port %u refused before SMTP banner (as the MTA logged)", port);
            snprintf(s, sl, "refused before SMTP banner");
            break;
        }
        pm_addr_str(&a->srv, from);
        if (f->rst_origin == PM_RST_LOCAL) {
            snprintf(r, rl, "TCP port %u refused before SMTP banner (RST from the sending "
                     "host's own stack, a local firewall REJECT)", port);
            snprintf(s, sl, "refused by the sending host itself");
            break;
        }
        char ref[64];
        if (f->rst_expected_hops >= 0) {
            snprintf(ref, sizeof(ref), "the MX is %d hop%s away", f->rst_expected_hops,
                     f->rst_expected_hops == 1 ? "" : "s");
        } else {
            snprintf(ref, sizeof(ref), "the MX's own distance is not known");
        }
        snprintf(r, rl, "TCP port %u refused before SMTP banner (RST from %s, TTL %u, %d hop%s; "
                 "%s%s)", port, from, a->ans.ttl, f->rst_hops, f->rst_hops == 1 ? "" : "s", ref,
                 f->rst_origin == PM_RST_PATH ? ": sent from nearer than the MX, forged on the "
                                                "path" : "");
        snprintf(s, sl, f->rst_origin == PM_RST_PATH ? "reset on the path before SMTP banner"
                                                     : "refused before SMTP banner");
        break;
    }
    case PM_OUT_ICMP_UNREACHABLE:
    case PM_OUT_TTL_EXCEEDED: {
        if (!a) {
            snprintf(r, rl, "TCP SYN to port %u answered by an ICMP error (as the MTA logged)",
                     port);
            snprintf(s, sl, "rejected by ICMP");
            break;
        }
        /* nmap's reason word ("admin-prohibited") is what network people say; the numbers
         * make it exact. */
        char txt[96];
        snprintf(txt, sizeof(txt), "%s (type %u code %u)",
                 pm_icmp_reason(a->family, a->ans.icmp_type, a->ans.icmp_code),
                 a->ans.icmp_type, a->ans.icmp_code);
        const char *word = pm_icmp_reason(a->family, a->ans.icmp_type, a->ans.icmp_code);
        pm_addr_str(&a->ans.from, from);
        char who[64];
        if (f->icmp_from_dst) {
            snprintf(who, sizeof(who), "the destination itself");
        } else if (f->icmp_hop > 0) {
            snprintf(who, sizeof(who), "hop %d", f->icmp_hop);
        } else {
            snprintf(who, sizeof(who), "TTL %u", a->ans.ttl);
        }
        snprintf(r, rl, "TCP SYN to port %u answered by ICMP %s from %s (%s)", port, txt, from,
                 who);
        snprintf(s, sl, "%s by ICMP %s from %s",
                 f->outcome == PM_OUT_TTL_EXCEEDED ? "expired" : "rejected", word, from);
        break;
    }
    case PM_OUT_NO_RESPONSE:
        if (a) {
            pm_delay_str(a->last_syn - a->first_syn, dur, sizeof(dur));
            snprintf(r, rl, "TCP SYNs to port %u unanswered (%u SYN%s over %s; no SYN-ACK, RST "
                     "or ICMP came back)", port, a->syns, a->syns == 1 ? "" : "s", dur);
        } else {
            snprintf(r, rl, "TCP SYNs to port %u unanswered (as the MTA logged)", port);
        }
        snprintf(s, sl, "unanswered (SYNs dropped)");
        break;
    case PM_OUT_SMTP_REJECTED:
        if (sm && sm->banner_code >= 400) {
            snprintf(r, rl, "SMTP greeting %d %s", sm->banner_code, sm->banner);
            snprintf(s, sl, "rejected by SMTP greeting %d", sm->banner_code);
        } else if (sm && sm->reject_code) {
            snprintf(r, rl, "SMTP %s answered %d", sm->reject_cmd, sm->reject_code);
            for (int i = 0; i < sm->nreplies; i++) {
                if (sm->replies[i].code == sm->reject_code &&
                    !strcmp(sm->replies[i].cmd, sm->reject_cmd)) {
                    snprintf(r, rl, "SMTP %s answered %d %s", sm->reject_cmd, sm->reject_code,
                             sm->replies[i].text);
                    break;
                }
            }
            snprintf(s, sl, "rejected at SMTP %s (%d)", sm->reject_cmd, sm->reject_code);
        } else {
            int code = a ? (a->banner_code >= 400 ? a->banner_code : a->worst_code)
                         : (f->log ? f->log->smtp_code : 0);
            snprintf(r, rl, "SMTP reply %d%s%s", code, f->log ? " " : "",
                     f->log ? f->log->text : "");
            snprintf(s, sl, "rejected at SMTP (%d)", code);
        }
        break;
    case PM_OUT_NO_BANNER:
        if (a) {
            pm_delay_str(a->last_seen - a->ans.ts, dur, sizeof(dur));
            snprintf(r, rl, "TCP port %u connected, but no SMTP greeting came (the server was "
                     "silent for %s)", port, dur);
        } else {
            snprintf(r, rl, "TCP port %u connected, but no SMTP greeting came", port);
        }
        snprintf(s, sl, "connected, no SMTP greeting");
        break;
    case PM_OUT_CLOSED_BEFORE_BANNER:
        snprintf(r, rl, "TCP port %u connected, then closed by the server (%s) before the SMTP "
                 "banner", port, a && a->close == PM_CLOSE_SRV_RST ? "RST" : "FIN");
        snprintf(s, sl, "closed before SMTP banner");
        break;
    case PM_OUT_NOT_ON_WIRE:
        snprintf(r, rl, "no SYN left the sending host: %s%s%s%s", not_on_wire_words(f->verdict),
                 f->log ? " (the MTA logged \"" : "", f->log ? f->log->text : "",
                 f->log ? "\")" : "");
        snprintf(s, sl, "blocked on the sending host (no SYN left)");
        break;
    case PM_OUT_TLS_MISMATCH:
        if (sm && sm->tls_mismatch == PM_TLS_MISMATCH_CLIENT_TLS) {
            snprintf(r, rl, "TCP port %u connected; the client opened TLS (ClientHello) and the "
                     "server answered in plaintext SMTP (%d)", port, sm->banner_code);
        } else {
            snprintf(r, rl, "TCP port %u connected; the server answered in TLS where the "
                     "plaintext SMTP greeting belongs", port);
        }
        snprintf(s, sl, "TLS mode mismatch (implicit TLS against plaintext SMTP)");
        break;
    case PM_OUT_INCOMPLETE:
        snprintf(r, rl, "outcome unknown: the capture ended or kept too little to tell");
        snprintf(s, sl, "outcome unknown");
        break;
    case PM_OUT_CONNECTED:
    default:
        snprintf(r, rl, "TCP port %u connected and the server greeted", port);
        snprintf(s, sl, "connected");
        break;
    }
}

/* ---- escalation text ---- */

static const char *owner_words(enum pm_owner o)
{
    switch (o) {
    case PM_OWN_SENDER_HOST: return "the administrator of the sending host";
    case PM_OWN_SENDER_NETWORK: return "the sender's network team";
    case PM_OWN_PROVIDER: return "the sender's Internet provider";
    case PM_OWN_PATH: return "the network team of the path between us";
    case PM_OWN_RECIPIENT_GATEWAY: return "the recipient's network / gateway team";
    case PM_OWN_RECIPIENT_POSTMASTER: return "the recipient's postmaster";
    default: return "whoever runs this path";
    }
}

static const char *attachment_words(const char *name)
{
    static const struct {
        const char *name, *what;
    } w[] = {
        {"evidence.pcapng", "the packets of the failing attempts and their answers (pcapng; each "
                          "packet's comment names its attempt)"},
        {"mta-log.txt", "the MTA log lines matched to these attempts (file:line: text)"},
        {"summary.txt", "portmortem's report as text"},
        {"report.json", "the same as JSON Lines (attempts, destinations, summary)"},
        {"report.html", "the report with a ladder diagram per failing attempt (opens offline)"},
        {"host-context.txt", "the sending host's addresses, routes and firewall rules"},
        {"VERSION.txt", "the tool's version and the exact command line"},
        {"README.txt", "what each file is"},
        {PM_MANIFEST, "SHA-256 of every file: sha256sum -c " PM_MANIFEST},
        {PM_MANIFEST_SIG, "Ed25519 signature of the manifest"},
    };
    for (size_t i = 0; i < PM_ARRAY_LEN(w); i++) {
        if (!strcmp(w[i].name, name)) {
            return w[i].what;
        }
    }
    return !strncmp(name, "escalation-", 11) ? "an escalation text like this one" : "";
}

/* ---- what we ask of the outside team (issue 16.5) ----
 * Only what they can check on their side: their filters and ACLs, their logs for our public
 * source at the UTC times above, the device at the hop address. Never a portmortem command
 * or a step only we can take (that next step is in summary.txt and report.json, for us).
 * One row per outcome; %S is our public source (or the only one known), %D the
 * destination, %P the port, %H the address that answered (the RST's or ICMP's source). */
static const struct {
    enum pm_outcome outcome;
    const char *ask[3];
} request_rules[] = {
    {PM_OUT_REFUSED, {"Please check whether %D, or a device in front of it (load balancer, "
                      "firewall, IPS), refuses TCP port %P from %S: an ACL, a blocklist entry, "
                      "or no listener on port %P.",
                      "Please look in your firewall and MTA logs for connections from %S to "
                      "%D:%P at the times above (UTC) and tell us what refused them.",
                      NULL}},
    {PM_OUT_ICMP_UNREACHABLE, {"The ICMP error came from %H. Please check that device's ACLs "
                               "and filters for TCP port %P from %S to %D.",
                               "Please look in its logs (or your flow logs) for %S to %D:%P "
                               "at the times above (UTC).",
                               NULL}},
    {PM_OUT_TTL_EXCEEDED, {"The ICMP time-exceeded came from %H. Please check the routing "
                           "towards %D at that device (a loop, a wrong route).",
                           "Please look in your logs for %S to %D:%P at the times above "
                           "(UTC).",
                           NULL}},
    {PM_OUT_NO_RESPONSE, {"Our SYNs from %S to %D:%P got no answer at all. Please check your "
                          "ACLs, firewalls and DDoS or rate-limit filters for TCP port %P from "
                          "%S.",
                          "Please look in your flow or firewall logs for SYNs from %S to %D:%P "
                          "at the times above (UTC): did they reach you, and were they dropped?",
                          NULL}},
    {PM_OUT_SMTP_REJECTED, {"Your SMTP server rejected us (the reply is under Result). Please "
                            "look in its logs for the session from %S at the times above (UTC) "
                            "and tell us which policy or list the rejection comes from.",
                            NULL, NULL}},
    {PM_OUT_NO_BANNER, {"The TCP connection from %S to %D:%P opened, but no SMTP greeting came. "
                        "Please look in your MTA's logs for connections from %S at the times "
                        "above (UTC): tarpitting, connection limits, a hung service?",
                        NULL, NULL}},
    {PM_OUT_CLOSED_BEFORE_BANNER, {"The TCP connection from %S to %D:%P opened and was closed "
                                   "before any SMTP greeting. Please look in your MTA's and "
                                   "firewall's logs for %S at the times above (UTC).",
                                   NULL, NULL}},
    {PM_OUT_TLS_MISMATCH, {"Please check which service listens on %D:%P (implicit TLS or "
                           "plaintext SMTP) and tell us which one we should use.",
                           NULL, NULL}},
    {PM_OUT_NOT_ON_WIRE, {"Nothing left our host: this failure is ours to fix (%S's own "
                          "firewall or routing). Nothing is asked of you.",
                          NULL, NULL}},
};

static void put_request(FILE *out, const char *tmpl, const char *src, const char *dst,
                        unsigned port, const char *hop)
{
    fputs("  - ", out);
    int col = 4;
    for (const char *p = tmpl; *p; p++) {
        char word[PM_ADDR_STRLEN + 8];
        if (*p == '%' && p[1]) {
            p++;
            switch (*p) {
            case 'S': snprintf(word, sizeof(word), "%s", src); break;
            case 'D': snprintf(word, sizeof(word), "%s", dst); break;
            case 'P': snprintf(word, sizeof(word), "%u", port); break;
            case 'H': snprintf(word, sizeof(word), "%s", hop); break;
            default: snprintf(word, sizeof(word), "%%%c", *p); break;
            }
            pm_bundle_put_clean(out, word);
            col += (int)strlen(word);
            continue;
        }
        /* wrap at spaces after column 76 for a mail client */
        if (*p == ' ' && col > 76) {
            fputs("\n    ", out);
            col = 4;
            continue;
        }
        fputc(*p, out);
        col++;
    }
    fputc('\n', out);
}

static void write_requests(FILE *out, const struct pm_esc *e, const char *src)
{
    const struct pm_finding *f = e->f;
    char dst[PM_ADDR_STRLEN], hop[PM_ADDR_STRLEN];
    pm_addr_str(&e->dst, dst);
    const struct pm_attempt *a = f->a;
    if (a && a->answer == PM_ANS_ICMP) {
        pm_addr_str(&a->ans.from, hop);
    } else {
        pm_strlcpy(hop, dst, sizeof(hop));
    }
    fputs("\nWhat we ask of you (all of it can be checked on your side):\n", out);
    for (size_t i = 0; i < PM_ARRAY_LEN(request_rules); i++) {
        if (request_rules[i].outcome != f->outcome) {
            continue;
        }
        for (int k = 0; k < 3 && request_rules[i].ask[k]; k++) {
            put_request(out, request_rules[i].ask[k], src, dst, e->dport, hop);
        }
        if (f->outcome == PM_OUT_REFUSED && f->rst_origin == PM_RST_PATH) {
            put_request(out, "The RST came from nearer than the MX (see Result): a device on "
                        "the path forges it. Please check the path's IPS/firewalls for TCP "
                        "port %P from %S.", src, dst, e->dport, hop);
        }
        return;
    }
    put_request(out, "Please look in your logs for %S to %D:%P at the times above (UTC).", src,
                dst, e->dport, hop);
}

int pm_bundle_write_escalation(FILE *out, const struct pm_esc *e)
{
    const struct pm_finding *f = e->f;
    char dst[PM_ADDR_STRLEN], src[PM_ADDR_STRLEN], t1[40], t2[40];
    char result[600], subject[200];
    pm_addr_str(&e->dst, dst);
    pm_bundle_result_words(f, result, sizeof(result), subject, sizeof(subject));
    const char *srcword = "an unknown address";
    if (e->nsrcs > 0) {
        srcword = pm_addr_str(&e->srcs[0], src);
    }
    fputs("Subject: Outbound SMTP from ", out);
    pm_bundle_put_clean(out, srcword);
    fprintf(out, " to %s%s%s:%u ", e->dst.family == PM_AF_INET6 ? "[" : "", dst,
            e->dst.family == PM_AF_INET6 ? "]" : "", e->dport);
    pm_bundle_put_clean(out, subject);
    fputs("\n\nHello,\n\nthis is for ", out);
    fputs(owner_words(f->owner), out);
    fputs(": our mail server cannot deliver to the\ndestination below. This is what the "
          "packets and our MTA's log show; the\nevidence is attached.\n\n", out);

    fputs("Source IP:       ", out);
    if (e->nsrcs == 0) {
        fputs("unknown (no packet of these attempts left the sending host)\n", out);
    }
    bool have_public = false;
    for (int i = 0; i < e->nsrcs; i++) {
        have_public |= e->src_public[i];
    }
    for (int i = 0; i < e->nsrcs; i++) {
        fprintf(out, "%s%s", i ? "                 " : "", pm_addr_str(&e->srcs[i], src));
        /* Which of them the provider sees: the public one, listed first. */
        const char *role = e->src_public[i] ? "public, after NAT: the address you see"
                           : have_public ? "inside our NAT, before translation" : "";
        if (role[0] || e->src_vantage[i][0]) {
            fputs(" (", out);
            fputs(role, out);
            fputs(role[0] && e->src_vantage[i][0] ? "; " : "", out);
            pm_bundle_put_clean(out, e->src_vantage[i]); /* "as seen at sender" */
            fputc(')', out);
        }
        fputc('\n', out);
    }
    fputs("Destination MX:  ", out);
    if (e->mx && e->mx[0]) {
        pm_bundle_put_clean(out, e->mx);
    } else {
        fprintf(out, "%s (no host name in the MTA log)", dst);
    }
    fprintf(out, "\nDestination IP:  %s, TCP port %u\n", dst, e->dport);
    fprintf(out, "Time (UTC):      %s first failing attempt\n", pm_time_str(e->first_fail, t1,
                                                                               sizeof(t1)));
    fprintf(out, "                 %s last failing attempt\n", pm_time_str(e->last_fail, t2,
                                                                             sizeof(t2)));
    fprintf(out, "Attempts:        %u of %u failed (", e->failing, e->attempts);
    bool first = true;
    for (int o = 0; o < PM_OUT__COUNT; o++) {
        if (o != PM_OUT_CONNECTED && e->by_outcome[o]) {
            fprintf(out, "%s%u %s", first ? "" : ", ", e->by_outcome[o],
                    pm_outcome_name((enum pm_outcome)o));
            first = false;
        }
    }
    fprintf(out, "); %u connected\n", e->connected);
    fputs("Result:          ", out);
    pm_bundle_put_clean(out, result);
    fputs("\n\nTrace (packets as FILE#FRAME, log lines as FILE:LINE):\n", out);
    for (int i = 0; i < f->nevidence; i++) {
        fputs("  ", out);
        pm_bundle_put_clean(out, f->evidence[i]);
        fputc('\n', out);
    }
    if (f->nevidence == 0) {
        fputs("  (no evidence lines)\n", out);
    }
    fprintf(out, "\nVerdict:         %s (confidence %s)\n", pm_verdict_name(f->verdict),
            pm_confidence_name(f->confidence));
    fprintf(out, "Who must act:    %s (%s)\n", pm_owner_name(f->owner), owner_words(f->owner));
    char pubsrc[PM_ADDR_STRLEN];
    write_requests(out, e, e->nsrcs > 0 ? pm_addr_str(&e->srcs[0], pubsrc) : "our address");
    fputs("\nAttached (check them with: sha256sum -c " PM_MANIFEST "):\n", out);
    char self[PM_BUNDLE_NAME];
    pm_bundle_escalation_name(&e->dst, self, sizeof(self));
    for (int i = 0; i < e->nattached; i++) {
        fprintf(out, "  %-28s %s\n", e->attached[i],
                strcmp(e->attached[i], self) ? attachment_words(e->attached[i]) : "this text");
    }
    fprintf(out, "\n-- \nwritten by portmortem %s\n", PM_VERSION);
    return ferror(out) ? -1 : 0;
}
