/*
 * attribute.c — owns turning one attempt into a finding (include/attribute.h): collects the
 * evidence bits (RST origin by hop count, ICMP sender and code, scope, the MTA's words),
 * lets the rule table decide, and writes the evidence lines, the decisive clue and the next
 * step. The rules themselves live in rules.c; nothing here picks a verdict directly.
 */
#include "attribute.h"

#include <stdarg.h>
#include <stddef.h>

#include "ttl.h"
#include "util.h"
#include "verdicts.h"

const char *pm_ev_name(enum pm_ev e)
{
    static const char *const n[EV__COUNT] = {
        [EV_NOT_ON_WIRE] = "not-on-wire", [EV_LOG_REFUSED] = "log-refused",
        [EV_LOG_TIMEDOUT] = "log-timedout", [EV_LOG_HOSTUNREACH] = "log-hostunreach",
        [EV_LOG_NETUNREACH] = "log-netunreach", [EV_LOG_ACCES] = "log-acces",
        [EV_LOG_PERM] = "log-perm", [EV_LOG_INVAL] = "log-inval",
        [EV_LOG_ADDRNOTAVAIL] = "log-addrnotavail", [EV_CONNECTED] = "connected",
        [EV_SMTP_REJECT] = "smtp-reject", [EV_NO_BANNER] = "no-banner",
        [EV_CLOSED_EARLY] = "closed-early", [EV_RST] = "rst", [EV_RST_LOCAL] = "rst-local",
        [EV_RST_HOPS_MATCH] = "rst-hops-match", [EV_RST_HOPS_SHORT] = "rst-hops-short",
        [EV_RST_NO_REF] = "rst-no-ref", [EV_ANSWER_RACE] = "answer-race", [EV_ICMP] = "icmp",
        [EV_ICMP_LOCAL] = "icmp-local", [EV_ICMP_FROM_DST] = "icmp-from-dst",
        [EV_ICMP_TTL] = "icmp-ttl", [EV_ICMP_HOP1] = "icmp-hop1",
        [EV_ICMP_DST_NET] = "icmp-dst-net", [EV_ICMP_ARP] = "icmp-arp",
        [EV_NO_RESPONSE] = "no-response", [EV_PROVIDER_PATTERN] = "provider-pattern",
        [EV_SCOPE_ONE] = "scope-one", [EV_SCOPE_ALL] = "scope-all", [EV_NAT_DROP] = "nat-drop",
        [EV_NAT_REWRITE] = "nat-rewrite", [EV_RETURN_DROP] = "return-drop",
        [EV_INCOMPLETE] = "incomplete", [EV_ONE_SIDED] = "one-sided",
        [EV_LOG_GREETING] = "log-greeting", [EV_CAPTURE_CUT] = "capture-cut",
        [EV_DIALOGUE_CUT] = "dialogue-cut", [EV_REPLY_CMD_UNSEEN] = "reply-command-unseen",
        [EV_TLS_MISMATCH] = "tls-mismatch", [EV_TLS_SENDER_SIDE] = "tls-sender-side",
        [EV_RST_SHORT_ONE] = "rst-short-one", [EV_RST_REF_PREFIX] = "rst-ref-prefix",
        [EV_RST_REFS_DISAGREE] = "rst-refs-disagree", [EV_RST_FAST] = "rst-fast",
        [EV_RST_BEYOND_NAT] = "rst-beyond-nat", [EV_RST_FROM_NAT] = "rst-from-nat",
    };
    return (unsigned)e < EV__COUNT && n[e] ? n[e] : "?";
}

const char *pm_rst_origin_name(enum pm_rst_origin o)
{
    static const char *const n[] = {"unknown", "destination", "path", "local"};
    return (unsigned)o < PM_ARRAY_LEN(n) ? n[o] : "unknown";
}

void pm_finding_add(struct pm_finding *f, const char *fmt, ...)
{
    if (f->no_evidence || f->nevidence >= PM_MAX_EVIDENCE) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->evidence[f->nevidence], PM_EVIDENCE_LEN, fmt, ap);
    va_end(ap);
    f->nevidence++;
}

void pm_ref_str(const struct pm_attr_env *env, struct pm_pktref r, char *buf, size_t len)
{
    const char *label = (env->file_labels && r.file < env->nfiles) ? env->file_labels[r.file]
                                                                   : "capture";
    snprintf(buf, len, "%s#%u", label, r.frame);
}

/* The errno the kernel gives connect() for an ICMP error in SYN-SENT (net/ipv4/icmp.c
 * icmp_err_convert[], net/ipv6/icmp.c tab_unreach[], tcp_v4_err: time exceeded →
 * EHOSTUNREACH). Used to check the MTA's words against the packets. */
static enum pm_errclass icmp_errno(uint8_t family, uint8_t type, uint8_t code)
{
    if (family == PM_AF_INET) {
        if (type == 11) {
            return PM_EC_HOSTUNREACH;
        }
        if (type != 3) {
            return PM_EC_OTHER;
        }
        static const uint8_t map[16] = {
            PM_EC_NETUNREACH,  PM_EC_HOSTUNREACH, PM_EC_OTHER,       PM_EC_REFUSED,
            PM_EC_OTHER,       PM_EC_OTHER,       PM_EC_NETUNREACH,  PM_EC_HOSTDOWN,
            PM_EC_OTHER,       PM_EC_NETUNREACH,  PM_EC_HOSTUNREACH, PM_EC_NETUNREACH,
            PM_EC_HOSTUNREACH, PM_EC_HOSTUNREACH, PM_EC_HOSTUNREACH, PM_EC_HOSTUNREACH};
        return code < 16 ? (enum pm_errclass)map[code] : PM_EC_HOSTUNREACH;
    }
    if (type == 3) {
        return PM_EC_HOSTUNREACH;
    }
    if (type != 1) {
        return PM_EC_OTHER;
    }
    static const uint8_t map6[7] = {PM_EC_NETUNREACH, PM_EC_ACCES,   PM_EC_HOSTUNREACH,
                                    PM_EC_HOSTUNREACH, PM_EC_REFUSED, PM_EC_ACCES,
                                    PM_EC_ACCES};
    return code < 7 ? (enum pm_errclass)map6[code] : PM_EC_HOSTUNREACH;
}

static const char *errclass_text(enum pm_errclass c)
{
    switch (c) {
    case PM_EC_REFUSED: return "Connection refused";
    case PM_EC_TIMEDOUT: return "Connection timed out";
    case PM_EC_HOSTUNREACH: return "No route to host";
    case PM_EC_NETUNREACH: return "Network is unreachable";
    case PM_EC_ACCES: return "Permission denied";
    case PM_EC_PERM: return "Operation not permitted";
    case PM_EC_ADDRNOTAVAIL: return "Cannot assign requested address";
    case PM_EC_HOSTDOWN: return "Host is down";
    case PM_EC_CONNRESET: return "Connection reset by peer";
    case PM_EC_INVAL: return "Invalid argument";
    default: return "an error";
    }
}

/* Can the packets explain what the MTA logged? A table of what each outcome can produce. */
static bool log_consistent(const struct pm_attempt *a, enum pm_outcome o,
                           const struct pm_logentry *l, enum pm_errclass *expected)
{
    *expected = PM_EC_NONE;
    switch (o) {
    case PM_OUT_REFUSED:
        *expected = PM_EC_REFUSED;
        return l->kind == PM_LK_CONNECT_FAIL && l->err == PM_EC_REFUSED;
    case PM_OUT_ICMP_UNREACHABLE:
    case PM_OUT_TTL_EXCEEDED:
        *expected = icmp_errno(a->family, a->ans.icmp_type, a->ans.icmp_code);
        return l->kind == PM_LK_CONNECT_FAIL &&
               (l->err == *expected || *expected == PM_EC_OTHER ||
                (*expected == PM_EC_HOSTDOWN && l->err == PM_EC_HOSTUNREACH));
    case PM_OUT_NO_RESPONSE:
        *expected = PM_EC_TIMEDOUT;
        /* Exim words a connect timeout as "SMTP timeout after initial connection" too. */
        return (l->kind == PM_LK_CONNECT_FAIL ||
                (l->mta == PM_MTA_EXIM && l->kind == PM_LK_GREETING_TIMEOUT)) &&
               l->err == PM_EC_TIMEDOUT;
    case PM_OUT_CONNECTED:
        return l->kind == PM_LK_DELIVERED || l->kind == PM_LK_LOST_LATER ||
               l->kind == PM_LK_SMTP_REJECT;
    case PM_OUT_SMTP_REJECTED:
        return l->kind == PM_LK_SMTP_REJECT || l->kind == PM_LK_LOST_LATER ||
               l->kind == PM_LK_DELIVERED;
    case PM_OUT_NO_BANNER:
        return l->kind == PM_LK_GREETING_TIMEOUT || l->kind == PM_LK_GREETING_LOST;
    case PM_OUT_CLOSED_BEFORE_BANNER:
        return l->kind == PM_LK_GREETING_LOST || l->kind == PM_LK_GREETING_TIMEOUT;
    default:
        return true;
    }
}

static pm_evset log_bits(const struct pm_logentry *l)
{
    switch (l->err) {
    case PM_EC_REFUSED: return PM_EV(EV_LOG_REFUSED);
    case PM_EC_TIMEDOUT: return PM_EV(EV_LOG_TIMEDOUT);
    case PM_EC_HOSTUNREACH:
    case PM_EC_HOSTDOWN: return PM_EV(EV_LOG_HOSTUNREACH);
    case PM_EC_NETUNREACH: return PM_EV(EV_LOG_NETUNREACH);
    case PM_EC_ACCES: return PM_EV(EV_LOG_ACCES);
    case PM_EC_PERM: return PM_EV(EV_LOG_PERM);
    case PM_EC_INVAL: return PM_EV(EV_LOG_INVAL);
    case PM_EC_ADDRNOTAVAIL: return PM_EV(EV_LOG_ADDRNOTAVAIL);
    default: return 0;
    }
}

/* Fill `{key}` placeholders. */
struct tmpl_vars {
    char dst[PM_ADDR_STRLEN + 8], dport[8], router[PM_ADDR_STRLEN], hop[8], src[PM_ADDR_STRLEN];
    char name[100], shortby[8];
};

static void expand(char *out, size_t outlen, const char *t, const struct tmpl_vars *v)
{
    size_t o = 0;
    while (*t && o + 1 < outlen) {
        if (*t == '{') {
            const char *end = strchr(t, '}');
            if (end) {
                size_t klen = (size_t)(end - t - 1);
                const char *val = NULL;
                if (klen == 3 && !strncmp(t + 1, "dst", 3)) val = v->dst;
                else if (klen == 5 && !strncmp(t + 1, "dport", 5)) val = v->dport;
                else if (klen == 6 && !strncmp(t + 1, "router", 6)) val = v->router;
                else if (klen == 3 && !strncmp(t + 1, "hop", 3)) val = v->hop;
                else if (klen == 3 && !strncmp(t + 1, "src", 3)) val = v->src;
                else if (klen == 4 && !strncmp(t + 1, "name", 4)) val = v->name;
                else if (klen == 5 && !strncmp(t + 1, "short", 5)) val = v->shortby;
                if (val) {
                    o += pm_strlcpy(out + o, val, outlen - o);
                    if (o >= outlen) {
                        o = outlen - 1;
                    }
                    t = end + 1;
                    continue;
                }
            }
        }
        /* the text up to the next placeholder, in one copy */
        size_t run = (size_t)(strchrnul(t + 1, '{') - t);
        if (run > outlen - 1 - o) {
            run = outlen - 1 - o;
        }
        memcpy(out + o, t, run);
        o += run;
        t += run;
    }
    out[o] = '\0';
}

static void wire_evidence(struct pm_finding *f, const struct pm_attr_env *env,
                          const struct pm_attempt *a)
{
    char ref[96], t[32], d[24], src[PM_ADDR_STRLEN], dst[PM_ADDR_STRLEN];
    pm_addr_str(&a->cli, src);
    pm_addr_str(&a->srv, dst);
    const char *vname = env->vantage_names && a->vantage < PM_MAX_VANTAGES
                            ? env->vantage_names[a->vantage]
                            : "capture";
    if (!(a->flags & PM_AF_SYN_NOT_CAPTURED)) {
        pm_ref_str(env, a->syn_ref, ref, sizeof(ref));
        pm_time_short(a->first_syn, t, sizeof(t));
        if (a->syns > 1) {
            pm_delay_str(a->last_syn - a->first_syn, d, sizeof(d));
            pm_finding_add(f, "%s: %u SYNs %s:%u > %s:%u at %s over %s (TTL %u)", ref, a->syns,
                           src, a->sport, dst, a->dport, t, d, a->syn_ttl);
        } else {
            pm_finding_add(f, "%s: SYN %s:%u > %s:%u at %s (TTL %u)", ref, src, a->sport, dst,
                           a->dport, t, a->syn_ttl);
        }
    } else if (a->flags & PM_AF_MIDSTREAM) {
        pm_ref_str(env, a->syn_ref, ref, sizeof(ref));
        pm_time_short(a->first_syn, t, sizeof(t));
        pm_finding_add(f, "%s: the %s capture joined %s:%u > %s:%u mid-dialogue at %s (first "
                       "packet from the %s): its start (SYN, SYN-ACK%s) is not in it",
                       ref, vname, src, a->sport, dst, a->dport, t,
                       a->history[0] == '^' ? "server" : "client",
                       a->dport == 465 ? "" : ", greeting");
    } else if (a->answer == PM_ANS_SYNACK) {
        pm_finding_add(f, "SYN %s:%u > %s:%u not in the %s capture: it started after the SYN",
                       src, a->sport, dst, a->dport, vname);
    } else {
        pm_finding_add(f, "SYN %s:%u > %s:%u not in the %s capture; reconstructed from its "
                       "answer", src, a->sport, dst, a->dport, vname);
    }
    if (a->answer == PM_ANS_NONE) {
        return;
    }
    pm_ref_str(env, a->ans.ref, ref, sizeof(ref));
    pm_delay_str(pm_attempt_answer_delay(a), d, sizeof(d));
    if (a->answer == PM_ANS_SYNACK) {
        /* MSS 0 is how the decoder says "no MSS option" (decode.h): then say nothing of it
         * rather than cite a value that was never on the wire. */
        char mss[16] = "";
        if (a->ans.mss) {
            snprintf(mss, sizeof(mss), ", MSS %u", a->ans.mss);
        }
        pm_finding_add(f, "%s: SYN-ACK from %s TTL %u (%d hops) after %s, window %u%s", ref,
                       dst, a->ans.ttl, pm_ttl_hops(a->ans.ttl), d, a->ans.win, mss);
    } else if (a->answer == PM_ANS_RST) {
        pm_finding_add(f, "%s: RST from %s TTL %u (%d hops) after %s, IP ID %u, window %u, "
                       "ack %s%s", ref, dst, a->ans.ttl, pm_ttl_hops(a->ans.ttl), d,
                       a->ans.ip_id, a->ans.win, a->ans.ack_ok ? "=ISN+1" : "does not match",
                       a->ans.loopback ? ", on loopback" : "");
    } else {
        char from[PM_ADDR_STRLEN];
        pm_addr_str(&a->ans.from, from);
        pm_finding_add(f, "%s: ICMP%s %u/%u %s from %s TTL %u after %s, quoting the SYN%s%s",
                       ref, a->family == PM_AF_INET6 ? "v6" : "", a->ans.icmp_type,
                       a->ans.icmp_code,
                       pm_icmp_text(a->family, a->ans.icmp_type, a->ans.icmp_code), from,
                       a->ans.ttl, d,
                       a->ans.qseq_state == 1   ? " (sequence number matches)"
                       : a->ans.qseq_state == 2 ? " (quoted sequence differs: rewritten?)"
                                                : "",
                       a->n_icmp > 1 ? " (one per SYN)" : "");
        /* tracebox's comparison: what the router quotes against what we sent. A field that
         * differs was rewritten between the sender and that router. */
        if (!(a->flags & PM_AF_SYN_NOT_CAPTURED)) {
            if (a->ans.qsrc_differs) {
                char qs[PM_ADDR_STRLEN];
                pm_finding_add(f, "the ICMP quotes the source as %s:%u, but the SYN left as %s:%u: "
                               "rewritten (NAT) before %s", pm_addr_str(&a->ans.qsrc, qs),
                               a->ans.qsport, src, a->sport, from);
            }
            if (a->ans.qbytes >= 20 && a->ans.qtos != a->syn_tos) {
                pm_finding_add(f, "DSCP/ECN rewritten before %s: sent 0x%02x, quoted 0x%02x", from,
                               a->syn_tos, a->ans.qtos);
            }
            if (a->family == PM_AF_INET && a->ans.qbytes >= 20 && a->syn_ip_id &&
                a->ans.qip_id != a->syn_ip_id && a->syns == 1) {
                pm_finding_add(f, "IP ID rewritten before %s: sent %u, quoted %u", from,
                               a->syn_ip_id, a->ans.qip_id);
            }
        }
    }
}

static void flag_evidence(struct pm_finding *f, const struct pm_attempt *a)
{
    if (a->flags & PM_AF_TRUNCATED) {
        pm_finding_add(f, "some packets of this attempt were cut by the capture's snaplen");
    }
    if (a->flags & PM_AF_EVICTED) {
        pm_finding_add(f, "the flow table was full: this attempt was closed early "
                          "(raise --max-flows)");
    }
    if ((a->flags & PM_AF_CAPTURE_ENDED) && f->outcome == PM_OUT_INCOMPLETE) {
        pm_finding_add(f, "the capture ended while this attempt was still open");
    }
    if (a->flags & PM_AF_FRAG_NEEDED) {
        pm_finding_add(f, "an ICMP fragmentation-needed arrived: path MTU discovery, not a "
                          "rejection");
    }
    if (a->flags & PM_AF_ICMP_ESTABLISHED) {
        pm_finding_add(f, "an ICMP error arrived after the handshake: not a rejection of "
                          "the connection");
    }
    if (a->flags & PM_AF_BAD_SYNACK) {
        pm_finding_add(f, "the SYN-ACK acknowledges something other than our SYN (spoofed or "
                          "NAT-confused)");
    }
    if (a->flags & PM_AF_SMTP_DROPPED) {
        pm_finding_add(f, "no session slot was free: the SMTP dialogue was not recorded");
    }
    if (a->flags & PM_AF_RETRY_ANSWERED) {
        pm_finding_add(f, "the client retried the SYN (same ISN) after the first answer: one "
                          "attempt for the whole retry series%s",
                       a->answer == PM_ANS_SYNACK ? "; a retry was accepted" : "");
    }
    if (a->flags & PM_AF_DIALOGUE_CUT) {
        pm_finding_add(f, "the capture ended while the dialogue was still going: what the "
                          "server said next (a refusal of RCPT or of the message?) is not in it");
    }
}

static void smtp_evidence(struct pm_finding *f, const struct pm_attr_env *env,
                          const struct pm_attempt *a, const struct pm_smtp_summary *s)
{
    (void)env;
    if (!s) {
        return;
    }
    if (s->banner_code > 0) {
        pm_finding_add(f, "greeting: %d %s", s->banner_code, s->banner);
    } else if (s->implicit_tls) {
        pm_finding_add(f, "implicit TLS: the greeting is encrypted");
    }
    if (s->reject_code > 0 && s->reject_code != s->banner_code) {
        for (int i = 0; i < s->nreplies; i++) {
            if (s->replies[i].code == s->reject_code &&
                !strcmp(s->replies[i].cmd, s->reject_cmd)) {
                pm_finding_add(f, "reply to %s: %d %s", s->reject_cmd, s->reject_code,
                               s->replies[i].text);
                break;
            }
        }
    }
    if (s->masked) {
        pm_finding_add(f, "the greeting or EHLO reply is masked (XXXX/****): an SMTP-inspecting "
                          "firewall sits in front of the server");
    }
    if (s->starttls_refused) {
        pm_finding_add(f, "STARTTLS was refused: a sign of an inspecting firewall");
    }
    (void)a;
}

/* What a second vantage point adds (issue 6): the translation, other rewrites, and the
 * NAT verdict bits. */
static pm_evset nat_evidence(struct pm_finding *f, const struct pm_attr_env *env,
                             const struct pm_attempt *a, enum pm_outcome outcome,
                             const struct pm_nat_facts *nat, struct tmpl_vars *v, char *spec,
                             size_t speclen)
{
    pm_evset ev = 0;
    char in[PM_ADDR_STRLEN], out[PM_ADDR_STRLEN];
    bool failed = pm_outcome_is_failure(outcome);
    if (nat->peer) {
        const struct pm_link_info *p = nat->peer;
        const char *pv = env->vantage_names ? env->vantage_names[p->vantage] : "other";
        pm_finding_add(f, "translation: %s:%u inside became %s:%u at %s", pm_addr_str(&a->cli, in),
                       a->sport, pm_addr_str(&p->cli, out), p->sport, pv);
        pm_strlcpy(v->src, out, sizeof(v->src));
        for (int i = 0; i < nat->nrewrites; i++) {
            pm_finding_add(f, "%s", nat->rewrites[i]);
        }
        if (nat->public_changed) {
            char pp[PM_ADDR_STRLEN];
            pm_finding_add(f, "the public address changed: earlier attempts left from %s, this "
                           "one from %s", pm_addr_str(&nat->prev_public, pp), out);
        }
        if (nat->unexpected_source) {
            pm_finding_add(f, "%s is not an expected source address (--expect-source)", out);
            if (failed) {
                ev |= PM_EV(EV_NAT_REWRITE);
                snprintf(spec, speclen, "left the NAT as %s, not an expected address; %s", out,
                         pm_outcome_name(outcome));
            }
        }
        if (nat->return_drop && (outcome == PM_OUT_NO_RESPONSE || outcome == PM_OUT_INCOMPLETE)) {
            ev |= PM_EV(EV_RETURN_DROP);
            snprintf(spec, speclen, "%s got an answer; it never came back inside", pv);
        }
        /* The same RST at both capture points: a TTL untouched at the outer one means it was
         * sent on that segment (the device right beyond the NAT); one untouched here and
         * absent there, the NAT itself. A TTL can only go down on the way in. */
        if (outcome == PM_OUT_REFUSED && a->answer == PM_ANS_RST && !a->ans.loopback) {
            int here = pm_ttl_hops(a->ans.ttl);
            if (p->answer == PM_ANS_RST) {
                int there = pm_ttl_hops(p->ans_ttl);
                pm_finding_add(f, "the same RST at %s: TTL %u (%d hops), here TTL %u (%d hops)",
                               pv, p->ans_ttl, there, a->ans.ttl, here);
                if (there == 0 && here >= 1 && p->ans_ttl > a->ans.ttl) {
                    ev |= PM_EV(EV_RST_BEYOND_NAT);
                    snprintf(spec, speclen, "RST with its TTL untouched at %s (%u): sent by the "
                             "device right beyond the NAT", pv, p->ans_ttl);
                }
            } else if (p->answer == PM_ANS_NONE && here == 0) {
                ev |= PM_EV(EV_RST_FROM_NAT);
                pm_finding_add(f, "the SYN reached %s, the RST (TTL %u, untouched) never did: "
                               "sent between the two capture points", pv, a->ans.ttl);
                snprintf(spec, speclen, "RST from the NAT itself: TTL untouched inside, never "
                         "seen at %s", pv);
            }
        }
    } else if (nat->nat_drop && (outcome == PM_OUT_NO_RESPONSE || outcome == PM_OUT_INCOMPLETE)) {
        const char *lv = env->vantage_names && nat->later_vantage >= 0
                             ? env->vantage_names[nat->later_vantage]
                             : "the outer capture";
        pm_finding_add(f, "no such SYN at %s, which was recording at the time: it never left "
                       "the NAT", lv);
        if (!nat->nat_drop_confirmed) {
            pm_finding_add(f, "no SYN at all crossed between the two capture points: check that "
                              "they are the two sides of the same NAT");
        }
        if (nat->nat_drop_assumed) {
            pm_finding_add(f, "%s's last record is older than these SYNs: assuming it was still "
                           "recording (give --until to state the capture window)", lv);
        }
        ev |= PM_EV(EV_NAT_DROP);
        snprintf(spec, speclen, "SYN seen inside, never at %s: dropped in the NAT", lv);
    }
    return ev;
}

/* A RST's hop count against the destination's references (docs/VERDICTS.md, "Grading a
 * RST's origin"): below all of them it is forged that many hops short of the nearest; at or
 * beyond the farthest it is as far as the destination; in between the references disagree
 * and the hop count cannot decide. How good the reference is (the host itself or only its
 * neighbours, one hop or more) goes into evidence bits for the rule table to grade. */
static pm_evset rst_reference(struct pm_finding *f, const struct pm_attr_env *env,
                              const struct pm_hopref *r, struct tmpl_vars *v, char *spec,
                              size_t speclen)
{
    pm_evset ev = 0;
    int lo = r->hops, hi = r->hops_hi > r->hops ? r->hops_hi : r->hops;
    bool prefix = r->src == PM_HOP_PREFIX;
    f->rst_expected_hops = lo;
    f->rst_ref_src = r->src;
    if (prefix) {
        ev |= PM_EV(EV_RST_REF_PREFIX);
    }
    char rref[96], from[PM_ADDR_STRLEN], what[64] = "";
    pm_ref_str(env, r->ref, rref, sizeof(rref));
    pm_addr_str(&r->from, from);
    if (r->kind == PM_HK_SYNACK || ((r->kind == PM_HK_TCP || r->kind == PM_HK_DNS ||
                                     r->kind == PM_HK_UDP) && r->port)) {
        snprintf(what, sizeof(what), "%s from port %u", pm_hopkind_name(r->kind), r->port);
    } else if (r->kind != PM_HK_NONE) {
        snprintf(what, sizeof(what), "%s", pm_hopkind_name(r->kind));
    }
    if (f->rst_hops < lo) {
        int by = lo - f->rst_hops;
        ev |= PM_EV(EV_RST_HOPS_SHORT);
        if (by == 1) {
            ev |= PM_EV(EV_RST_SHORT_ONE);
        }
        f->rst_origin = PM_RST_PATH;
        snprintf(v->shortby, sizeof(v->shortby), "%d", by);
        snprintf(spec, speclen, "RST %d hops away, %s is %d%s: forged %d hop%s short",
                 f->rst_hops, v->dst, lo, prefix ? " (by its neighbours)" : "", by,
                 by == 1 ? "" : "s");
    } else if (f->rst_hops < hi) {
        ev |= PM_EV(EV_RST_REFS_DISAGREE);
        snprintf(spec, speclen, "RST from %d hops; %s's references give %d to %d hops: they "
                 "disagree", f->rst_hops, v->dst, lo, hi);
    } else {
        ev |= PM_EV(EV_RST_HOPS_MATCH);
        if (f->rst_origin == PM_RST_UNKNOWN) {
            f->rst_origin = PM_RST_DESTINATION;
        }
        snprintf(spec, speclen, "RST from %d hops, as far as %s%s", f->rst_hops, v->dst,
                 prefix ? "'s neighbours" : " itself");
    }
    if (r->src == PM_HOP_ROUTE) {
        pm_finding_add(f, "%s is %d hops away (this host's route: %s)", v->dst, lo,
                       lo == 0 ? "on-link" : "via a gateway");
    } else if (r->src == PM_HOP_TTL_WALK) {
        pm_finding_add(f, "%s is %d hops away (the probe's TTL walk)", v->dst, lo);
    } else if (prefix) {
        pm_finding_add(f, "no packet from %s itself; its neighbour %s is %d hops away "
                       "(same-prefix%s%s, TTL %u at %s): a weaker reference", v->dst, from, lo,
                       what[0] ? ", " : "", what, r->ttl, rref);
    } else {
        pm_finding_add(f, "%s is %d hops away (%s%s%s, TTL %u at %s)", v->dst, lo,
                       pm_hopsrc_name(r->src), what[0] ? ", " : "", what, r->ttl, rref);
    }
    if (hi > lo) {
        pm_finding_add(f, "other %s references give up to %d hops: a return path that "
                       "varies (ECMP, a route change%s)", prefix ? "same-prefix" : "same-host",
                       hi, prefix ? ", a neighbour behind another router" : "");
    }
    if (f->rst_hops > hi) {
        pm_finding_add(f, "the RST came from %d hop(s) farther than the reference: "
                       "a route change, not a forgery closer to us", f->rst_hops - hi);
    }
    return ev;
}

void pm_attribute(struct pm_finding *f, const struct pm_attr_env *env,
                  const struct pm_attempt *a, const struct pm_smtp_summary *smtp,
                  enum pm_outcome outcome, const struct pm_logentry *log,
                  const struct pm_nat_facts *nat)
{
    memset(f, 0, offsetof(struct pm_finding, evidence)); /* (the lines: see attribute.h) */
    f->no_evidence = env->skip_evidence;
    f->a = a;
    f->nat = nat;
    f->smtp = smtp;
    f->log = log;
    f->outcome = outcome;
    f->rst_hops = f->rst_expected_hops = f->icmp_hop = -1;
    f->rtt_min = PM_NS_NONE;
    pm_evset ev = 0;
    struct tmpl_vars v;
    memset(&v, 0, sizeof(v));
    pm_strlcpy(v.router, "the router", sizeof(v.router));
    pm_strlcpy(v.hop, "?", sizeof(v.hop));
    pm_strlcpy(v.shortby, "?", sizeof(v.shortby));
    char spec[160] = "";

    if (!a) {
        /* Not on the wire: the MTA's words are all there is. */
        ev |= PM_EV(EV_NOT_ON_WIRE);
        if (log) {
            ev |= log_bits(log);
            pm_addr_str(&log->addr, v.dst);
            snprintf(v.dport, sizeof(v.dport), "%u", log->port ? log->port : 25);
            pm_strlcpy(v.name, log->host[0] ? log->host : v.dst, sizeof(v.name));
        }
    } else {
        f->id = a->id;
        pm_addr_str(&a->srv, v.dst);
        pm_addr_str(&a->cli, v.src);
        snprintf(v.dport, sizeof(v.dport), "%u", a->dport);
        const struct pm_dest *d =
            pm_context_dest((struct pm_context *)(uintptr_t)env->ctx, &a->srv, false);
        pm_strlcpy(v.name, d && d->name[0] ? d->name : (log && log->host[0] ? log->host : v.dst),
                   sizeof(v.name));
        const struct pm_vantage_state *vs =
            a->vantage < PM_MAX_VANTAGES ? env->vstate[a->vantage] : NULL;
        if (vs && vs->cut_replies > 0) {
            ev |= PM_EV(EV_CAPTURE_CUT);
        }
        if (!f->no_evidence) {
            wire_evidence(f, env, a);
        }
        switch (outcome) {
        case PM_OUT_TLS_MISMATCH: {
            ev |= PM_EV(EV_TLS_MISMATCH);
            /* RFC 8314 §3.3: 465 is implicit TLS; 25 and 587 greet in plaintext (RFC 5321,
             * RFC 6409) and upgrade with STARTTLS (RFC 3207). The side off the port's mode
             * is the one to fix. */
            bool client_tls = smtp && smtp->tls_mismatch == PM_TLS_MISMATCH_CLIENT_TLS;
            bool port_tls = a->dport == 465;
            if (client_tls != port_tls) {
                ev |= PM_EV(EV_TLS_SENDER_SIDE);
            }
            if (client_tls) {
                snprintf(spec, sizeof(spec), "TLS ClientHello answered in plaintext (%d): "
                         "implicit TLS against a plaintext SMTP listener on %u",
                         smtp->banner_code, a->dport);
            } else {
                snprintf(spec, sizeof(spec), "TLS where the plaintext greeting belongs: an "
                         "implicit-TLS listener on %u, the client speaks plaintext", a->dport);
            }
            break;
        }
        case PM_OUT_CONNECTED:
            ev |= PM_EV(EV_CONNECTED);
            if (a->flags & PM_AF_DIALOGUE_CUT) {
                ev |= PM_EV(EV_DIALOGUE_CUT);
            }
            if ((a->flags & PM_AF_SELF_RST) && !a->established) {
                snprintf(spec, sizeof(spec), "SYN-ACK: port %u open (a raw probe SYN; our own "
                         "stack reset the SYN-ACK)", a->dport);
            }
            break;
        case PM_OUT_SMTP_REJECTED:
            ev |= PM_EV(EV_SMTP_REJECT);
            if (smtp && smtp->start_unseen && smtp->banner_code < 400 &&
                !strcmp(smtp->reject_cmd, "UNKNOWN")) {
                ev |= PM_EV(EV_REPLY_CMD_UNSEEN);
            }
            if (smtp) {
                int code = smtp->banner_code >= 400 ? smtp->banner_code : smtp->reject_code;
                const char *txt = smtp->banner_code >= 400 ? smtp->banner : "";
                for (int i = 0; !*txt && i < smtp->nreplies; i++) {
                    if (smtp->replies[i].code == smtp->reject_code) {
                        txt = smtp->replies[i].text;
                    }
                }
                snprintf(spec, sizeof(spec), "%d %.100s%s", code, txt,
                         pm_smtp_text_blocklist(txt) ? " (blocklist/reputation words)" : "");
            }
            break;
        case PM_OUT_NO_BANNER:
            ev |= PM_EV(EV_NO_BANNER);
            if (a->dport == 465 && a->cli_bytes == 0 && a->srv_bytes == 0) {
                /* Both sides waiting is also what a plaintext client meets at an implicit-
                 * TLS listener (it waits for a greeting, the server for a ClientHello). */
                pm_finding_add(f, "port 465 is implicit TLS (RFC 8314): a client that waits "
                                  "for a plaintext greeting there waits forever; check that "
                                  "the client speaks TLS first on 465");
            }
            break;
        case PM_OUT_CLOSED_BEFORE_BANNER:
            ev |= PM_EV(EV_CLOSED_EARLY);
            snprintf(spec, sizeof(spec), "server %s before any greeting",
                     a->close == PM_CLOSE_SRV_RST ? "reset" : "closed");
            break;
        case PM_OUT_REFUSED: {
            ev |= PM_EV(EV_RST);
            f->rst_hops = pm_ttl_hops(a->ans.ttl);
            if (a->ans.loopback) {
                ev |= PM_EV(EV_RST_LOCAL);
                f->rst_origin = PM_RST_LOCAL;
                break;
            }
            struct pm_hopref r = pm_context_hops(env->ctx, a->vantage, &a->srv);
            f->rtt_min = r.rtt_min;
            if (a->flags & PM_AF_ANSWER_RACE) {
                ev |= PM_EV(EV_ANSWER_RACE);
                f->rst_origin = PM_RST_PATH;
            }
            if (r.hops >= 0) {
                ev |= rst_reference(f, env, &r, &v, spec, sizeof(spec));
            } else {
                ev |= PM_EV(EV_RST_NO_REF);
                snprintf(spec, sizeof(spec), "RST from %d hops; no reference for %s's distance",
                         f->rst_hops, v.dst);
            }
            pm_ns delay = a->ans.ts - a->last_syn;
            if (r.rtt_min != PM_NS_NONE && delay >= 0 && delay * 2 < r.rtt_min) {
                char dd[24], rr[24];
                ev |= PM_EV(EV_RST_FAST);
                pm_finding_add(f, "the RST came after %s, faster than half the path's RTT "
                               "(%s): answered before the SYN could reach %s",
                               pm_delay_str(delay, dd, sizeof(dd)),
                               pm_delay_str(r.rtt_min, rr, sizeof(rr)), v.dst);
            }
            break;
        }
        case PM_OUT_ICMP_UNREACHABLE:
        case PM_OUT_TTL_EXCEEDED: {
            ev |= PM_EV(EV_ICMP);
            pm_addr_str(&a->ans.from, v.router);
            int hops = pm_ttl_hops(a->ans.ttl);
            if (hops <= PM_MAX_HOPS) {
                f->icmp_hop = hops + 1;
                snprintf(v.hop, sizeof(v.hop), "%d", f->icmp_hop);
            }
            f->icmp_from_dst = pm_addr_eq(&a->ans.from, &a->srv);
            if (a->ans.loopback || (vs && pm_vantage_is_local(vs, &a->ans.from))) {
                ev |= PM_EV(EV_ICMP_LOCAL);
            } else if (f->icmp_from_dst) {
                ev |= PM_EV(EV_ICMP_FROM_DST);
            }
            if (outcome == PM_OUT_TTL_EXCEEDED) {
                ev |= PM_EV(EV_ICMP_TTL);
            }
            bool host_unreach = (a->family == PM_AF_INET && a->ans.icmp_type == 3 &&
                                 a->ans.icmp_code == 1) ||
                                (a->family == PM_AF_INET6 && a->ans.icmp_type == 1 &&
                                 a->ans.icmp_code == 3);
            pm_ns delay = a->ans.ts - a->first_syn;
            if (host_unreach && delay >= PM_MS(2500) && !f->icmp_from_dst) {
                /* Linux resolves a neighbour for 3 s (3 solicitations, 1 s apart) before it
                 * sends host-unreachable for every packet it queued (RFC 1812 §5.2.7.1). */
                ev |= PM_EV(EV_ICMP_ARP);
            }
            if (!f->icmp_from_dst &&
                pm_addr_same_prefix(&a->ans.from, &a->srv, a->family == PM_AF_INET ? 24 : 64)) {
                ev |= PM_EV(EV_ICMP_DST_NET);
            }
            if (f->icmp_hop == 1) {
                ev |= PM_EV(EV_ICMP_HOP1);
            }
            snprintf(spec, sizeof(spec), "ICMP %s from %s%s",
                     pm_icmp_reason(a->family, a->ans.icmp_type, a->ans.icmp_code), v.router,
                     f->icmp_from_dst ? " (the destination itself)"
                     : f->icmp_hop > 0 ? "" : "");
            if (!f->icmp_from_dst && f->icmp_hop > 0) {
                size_t n = strlen(spec);
                snprintf(spec + n, sizeof(spec) - n, " at hop %d", f->icmp_hop);
            }
            break;
        }
        case PM_OUT_NO_RESPONSE: {
            ev |= PM_EV(EV_NO_RESPONSE);
            if (env->provider_pattern && a->dport == 25) {
                ev |= PM_EV(EV_PROVIDER_PATTERN);
            }
            struct pm_scope_facts sf = pm_context_scope_facts(env->ctx);
            if (d && d->ok25 + d->ok_other == 0 && sf.dests > 1 &&
                sf.dests25_fail_only < sf.dests) {
                ev |= PM_EV(EV_SCOPE_ONE);
            }
            if (sf.dests >= 2 && sf.dests25_fail_only == sf.dests) {
                ev |= PM_EV(EV_SCOPE_ALL);
            }
            char dd[24];
            if (a->syns > 1) {
                snprintf(spec, sizeof(spec), "%u SYNs unanswered over %s", a->syns,
                         pm_delay_str(a->last_syn - a->first_syn, dd, sizeof(dd)));
            } else {
                snprintf(spec, sizeof(spec), "%u SYN unanswered", a->syns);
            }
            if (d && d->drop_after_hop > 0) {
                char la[PM_ADDR_STRLEN];
                pm_addr_str(&d->drop_last, la);
                pm_finding_add(f, "TTL walk: SYNs to %s reach hop %d (%s) and vanish after it",
                               v.dst, d->drop_after_hop, la);
                snprintf(spec, sizeof(spec), "SYNs unanswered; they vanish after hop %d (%s)",
                         d->drop_after_hop, la);
                pm_strlcpy(v.router, la, sizeof(v.router));
                snprintf(v.hop, sizeof(v.hop), "%d", d->drop_after_hop);
            }
            if (ev & PM_EV(EV_PROVIDER_PATTERN)) {
                pm_finding_add(f, "port 25 failed to all %u destination(s) tried on it, while "
                               "another port connected to %u destination(s)",
                               sf.dests25, sf.dests_other_ok);
            }
            break;
        }
        default: /* incomplete */
            ev |= PM_EV(EV_INCOMPLETE);
            if ((a->flags & PM_AF_ONE_SIDED) ||
                (a->vantage < PM_MAX_VANTAGES && env->vantage_one_sided[a->vantage])) {
                ev |= PM_EV(EV_ONE_SIDED);
                if (a->vantage < PM_MAX_VANTAGES && env->vantage_one_direction[a->vantage] &&
                    !(a->flags & PM_AF_ONE_SIDED)) {
                    pm_finding_add(f, "the %s capture holds one direction only: not a single "
                                      "inbound packet (a capture of outbound traffic only, "
                                      "tcpdump -Q out, a one-way tap): silence here proves "
                                      "nothing", env->vantage_names && a->vantage < PM_MAX_VANTAGES
                                      ? env->vantage_names[a->vantage] : "this");
                    snprintf(spec, sizeof(spec), "one-direction capture: no inbound packet at "
                             "all, so an unanswered SYN proves nothing");
                } else {
                    pm_finding_add(f, "the client acknowledges SYN-ACKs this capture never "
                                      "shows: it sees one direction only");
                }
            } else if (a->flags & PM_AF_MIDSTREAM) {
                snprintf(spec, sizeof(spec), "joined mid-dialogue: no refusal and no accepted "
                         "message in what the capture holds");
            }
            break;
        }
        if (!f->no_evidence) {
            smtp_evidence(f, env, a, smtp);
            flag_evidence(f, a);
        }
        if (nat && nat->multi) {
            char nspec[160] = "";
            pm_evset nev = nat_evidence(f, env, a, outcome, nat, &v, nspec, sizeof(nspec));
            ev |= nev;
            if (nev && nspec[0]) {
                pm_strlcpy(spec, nspec, sizeof(spec));
            }
        }
    }

    /* The MTA's own line: cite it, and check the packets can explain it. */
    if (log) {
        const char *fname = (env->logs && log->file < env->logs->nfiles)
                                ? env->logs->files[log->file].path
                                : "mta-log";
        const char *base = strrchr(fname, '/');
        base = base ? base + 1 : fname;
        pm_finding_add(f, "%s:%u: %s%s%s", base, log->line, log->host[0] ? log->host : "",
                       log->host[0] ? ": " : "", log->text);
        if (a) {
            enum pm_errclass expected;
            if (!log_consistent(a, outcome, log, &expected)) {
                f->inconsistent = true;
                snprintf(f->inconsistency, sizeof(f->inconsistency),
                         "inconsistent: the log says \"%s\" but the wire shows %s%s%s",
                         log->text, pm_outcome_name(outcome),
                         expected != PM_EC_NONE ? ", which gives " : "",
                         expected != PM_EC_NONE ? errclass_text(expected) : "");
                pm_finding_add(f, "%s", f->inconsistency);
            }
        }
    }

    f->ev = ev;
    const struct pm_rule *r = pm_rules_match(ev);
    f->rule = r;
    f->verdict = r->verdict;
    f->owner = r->owner;
    f->confidence = r->confidence;
    if (f->inconsistent && f->confidence > PM_CONF_LOW) {
        f->confidence--;
    }
    const struct pm_verdict_info *vi = pm_verdict_info(f->verdict); /* analyze/verdicts.c */
    if (vi->cap == PM_VCAP_UNPAIRED && nat && !nat->peer &&
        (!nat->nat_drop_confirmed || nat->nat_drop_assumed) && f->confidence > PM_CONF_MEDIUM) {
        f->confidence = PM_CONF_MEDIUM; /* nothing proves the two captures see one path */
    }
    if (a && (a->flags & (PM_AF_TRUNCATED | PM_AF_EVICTED)) && f->confidence > PM_CONF_MEDIUM) {
        f->confidence = PM_CONF_MEDIUM;
    }
    if (env->capture_drops > 0 && f->confidence > PM_CONF_MEDIUM && vi->absence) {
        /* A missing packet could be a capture drop: absence-based verdicts weaken. */
        f->capture_lost_packets = true;
        f->confidence = PM_CONF_MEDIUM;
        pm_finding_add(f, "the capture dropped %llu packets: an absent packet may be one of them",
                       (unsigned long long)env->capture_drops);
    }
    if (spec[0]) {
        snprintf(f->clue, sizeof(f->clue), "%s", spec);
    } else {
        expand(f->clue, sizeof(f->clue), r->why, &v); /* the rule's why is the clue */
    }
    expand(f->next_step, sizeof(f->next_step), r->next_step, &v);
}
