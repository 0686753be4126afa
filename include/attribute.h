/*
 * attribute.h — from wire facts and the MTA's words to a verdict. Evidence is a bit set;
 * the rules are one table (analyze/rules.c): the first row whose required bits are all
 * present and whose forbidden bits are all absent decides verdict, owner, confidence and
 * the next step. The last row matches everything: inconclusive.
 */
#ifndef PM_ATTRIBUTE_H
#define PM_ATTRIBUTE_H

#include "attempt.h"
#include "context.h"
#include "mtalog.h"
#include "nat.h"
#include "smtp.h"
#include "track.h"

/* Evidence bits. Names are what a reviewer reads in tests and docs/VERDICTS.md. */
enum pm_ev {
    EV_NOT_ON_WIRE,        /* the MTA logged an attempt; no SYN left (capture covered it) */
    EV_LOG_REFUSED,        /* logged errno ECONNREFUSED */
    EV_LOG_TIMEDOUT,       /* ETIMEDOUT */
    EV_LOG_HOSTUNREACH,    /* EHOSTUNREACH */
    EV_LOG_NETUNREACH,     /* ENETUNREACH */
    EV_LOG_ACCES,          /* EACCES: a prohibit route, or ICMPv6 admin-prohibited */
    EV_LOG_PERM,           /* EPERM: a local firewall (datagram sockets, some kernels) */
    EV_LOG_INVAL,          /* EINVAL: blackhole route */
    EV_LOG_ADDRNOTAVAIL,   /* bind/source address problem */
    EV_CONNECTED,          /* handshake and a 2xx greeting (or TLS) */
    EV_SMTP_REJECT,        /* 4xx/5xx greeting or reply */
    EV_NO_BANNER,          /* handshake, then silence until the client gave up */
    EV_CLOSED_EARLY,       /* handshake, server FIN/RST before any greeting */
    EV_RST,                /* a RST answered the SYN */
    EV_RST_LOCAL,          /* ... arriving on loopback: the sending host's own stack */
    EV_RST_HOPS_MATCH,     /* ... from as many hops as the destination */
    EV_RST_HOPS_SHORT,     /* ... from fewer hops than the destination: forged on the path */
    EV_RST_NO_REF,         /* ... and we have no hop reference for the destination */
    EV_ANSWER_RACE,        /* a SYN-ACK also came: the RST/ICMP raced the real server */
    EV_ICMP,               /* an ICMP error answered the SYN */
    EV_ICMP_LOCAL,         /* ... sent by the sending host itself (loopback / own address) */
    EV_ICMP_FROM_DST,      /* ... sent by the destination itself */
    EV_ICMP_TTL,           /* ... time exceeded */
    EV_ICMP_HOP1,          /* ... from the first router (the sender's own gateway) */
    EV_ICMP_DST_NET,       /* ... from a router in the destination's own prefix */
    EV_ICMP_ARP,           /* ... host unreachable about 3 s after the SYN (ARP/ND failure) */
    EV_NO_RESPONSE,        /* SYNs unanswered while the capture ran on */
    EV_PROVIDER_PATTERN,   /* port 25 fails everywhere while another port works */
    EV_SCOPE_ONE,          /* other destinations work: only this one fails */
    EV_SCOPE_ALL,          /* every destination fails (two or more) */
    EV_NAT_DROP,           /* seen inside the NAT, never outside */
    EV_NAT_REWRITE,        /* left the NAT with an unexpected source address */
    EV_RETURN_DROP,        /* the answer was seen outside the NAT but not inside */
    EV_INCOMPLETE,         /* capture ended first, or too truncated to tell */
    EV_ONE_SIDED,          /* this capture misses the servers' direction */
    EV_LOG_GREETING,       /* the log says connected, then greeting lost/timed out */
    EV_CAPTURE_CUT,        /* this capture cut replies before their flags or quote: what
                            * other attempts would have shown may be missing */
    /* issue 14: the edges of the evidence */
    EV_DIALOGUE_CUT,       /* connected, and the capture ended while the dialogue went on */
    EV_REPLY_CMD_UNSEEN,   /* the refusing reply answers a command from before the capture */
    EV_TLS_MISMATCH,       /* implicit TLS against plaintext SMTP on one connection */
    EV_TLS_SENDER_SIDE,    /* ... and the sender is the side off the port's mode (RFC 8314:
                            * 465 is implicit TLS; 25 and 587 start in plaintext) */
    /* How good the RST's hop reference is (docs/VERDICTS.md, "Grading a RST's origin"). */
    EV_RST_SHORT_ONE,      /* the RST is exactly one hop short of the nearest reference */
    EV_RST_REF_PREFIX,     /* the reference is other hosts of the prefix, not the host */
    EV_RST_REFS_DISAGREE,  /* the references span several counts and the RST is within
                            * them: as far as some, short of others */
    EV_RST_FAST,           /* the RST came faster than half the host's measured RTT */
    EV_RST_BEYOND_NAT,     /* the same RST at the NAT's outside capture had an untouched TTL:
                            * sent by the device right beyond the NAT */
    EV_RST_FROM_NAT,       /* a RST with an untouched TTL inside, never seen outside, where
                            * the SYN was: the NAT itself (or a box between the two) sent it */
    EV__COUNT
};
typedef uint64_t pm_evset;
#define PM_EV(b) ((pm_evset)1 << (b))
_Static_assert(EV__COUNT <= 64, "evidence bits must fit a pm_evset");
const char *pm_ev_name(enum pm_ev e);

/* Next-step templates use {dst}, {dport}, {router}, {hop}, {src}, {name}, {short}. */
struct pm_rule {
    const char *id;          /* stable name, tested and documented */
    pm_evset need, forbid;
    enum pm_verdict verdict;
    enum pm_owner owner;
    enum pm_confidence confidence;
    const char *why;         /* one-line explanation shown as the decisive clue */
    const char *next_step;
};
extern const struct pm_rule pm_rules[];
extern const size_t pm_nrules;
/* First matching rule (never NULL: the last row matches everything). */
const struct pm_rule *pm_rules_match(pm_evset ev);

#define PM_MAX_EVIDENCE 10
#define PM_EVIDENCE_LEN 220

/* RST origin analysis (contract `rst` object). */
enum pm_rst_origin { PM_RST_UNKNOWN, PM_RST_DESTINATION, PM_RST_PATH, PM_RST_LOCAL };
const char *pm_rst_origin_name(enum pm_rst_origin o);

struct pm_finding {
    const struct pm_attempt *a;          /* NULL for a not-on-wire attempt from the log */
    const struct pm_smtp_summary *smtp;  /* NULL when none */
    const struct pm_logentry *log;       /* matched MTA log line, or NULL */
    const struct pm_nat_facts *nat;      /* several vantage points: what changed, or NULL */
    pm_addr src;                         /* not on the wire: the sending host, when known */
    uint32_t id;
    enum pm_outcome outcome;
    enum pm_verdict verdict;
    enum pm_owner owner;
    enum pm_confidence confidence;
    const struct pm_rule *rule;
    pm_evset ev;
    /* RST */
    int rst_hops, rst_expected_hops;
    enum pm_hopsrc rst_ref_src;
    enum pm_rst_origin rst_origin;
    pm_ns rtt_min;
    /* ICMP */
    bool icmp_from_dst;
    int icmp_hop;                        /* traceroute numbering of the ICMP sender, -1 */
    /* log consistency */
    bool inconsistent;
    char inconsistency[PM_EVIDENCE_LEN];
    /* texts */
    char clue[160];                      /* the one decisive clue for the text report */
    char next_step[360];
    /* capture quality notes that lower confidence */
    bool capture_lost_packets;
    bool no_evidence;                    /* env->skip_evidence: pm_finding_add writes nothing */
    int nevidence;
    /* Last, and not cleared by pm_attribute: only the first nevidence lines are valid
     * (clearing all of them cost more than the rest of a storm attempt's attribution). */
    char evidence[PM_MAX_EVIDENCE][PM_EVIDENCE_LEN];
};

/* What attribution needs from the run besides the attempt. */
struct pm_attr_env {
    const struct pm_context *ctx;
    const char *const *file_labels;      /* evidence names for input files ("sender.pcap") */
    int nfiles;
    const char *const *vantage_names;
    const struct pm_logset *logs;
    bool provider_pattern;
    enum pm_scope scope_hint;            /* from the first pass */
    uint32_t failing_dests_pass1;
    uint64_t capture_drops;              /* live: packets the kernel dropped */
    const struct pm_vantage_state *vstate[PM_MAX_VANTAGES];
    bool vantage_one_sided[PM_MAX_VANTAGES];
    /* issue 14: this vantage's files hold no inbound packet at all (one direction only) */
    bool vantage_one_direction[PM_MAX_VANTAGES];
    /* Nothing prints the evidence sentences (text, Zeek or CSV output and no bundle): they
     * are not built, only the verdict, the clue and the next step (docs/PERFORMANCE.md). */
    bool skip_evidence;
};

/* Attribute a wire attempt (a != NULL) or a not-on-wire log attempt (a == NULL, log set).
 * `nat` (may be NULL) holds what other vantage points saw of the same attempt. */
void pm_attribute(struct pm_finding *f, const struct pm_attr_env *env,
                  const struct pm_attempt *a, const struct pm_smtp_summary *smtp,
                  enum pm_outcome outcome, const struct pm_logentry *log,
                  const struct pm_nat_facts *nat);

/* Append an evidence line (format like printf); silently capped at PM_MAX_EVIDENCE. */
void pm_finding_add(struct pm_finding *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Evidence reference for a packet: "sender.pcap#14". */
void pm_ref_str(const struct pm_attr_env *env, struct pm_pktref r, char *buf, size_t len);

#endif
