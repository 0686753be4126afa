/*
 * probe_int.h — the parts of `portmortem probe` (include/probe.h) that its files share with
 * each other and with tests/unit/test_probe.c: the token bucket (throttle.c), the keyed ISN,
 * target policy, test-SYN injection and quote diffing (inject.c), MX/A/AAAA resolution and
 * DNS answer parsing (dns.c), and the SMTP/STARTTLS check (smtpcheck.c). Not a public API:
 * nothing outside capture/ and the unit tests includes it.
 */
#ifndef PM_PROBE_INT_H
#define PM_PROBE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode.h"
#include "pm.h"
#include "walk.h"

/* ================================ throttle.c ================================ */

/* A token bucket on CLOCK_MONOTONIC time (callers pass pm_now_monotonic()). `burst` tokens
 * at most; `rate` tokens per second. A gap longer than PM_THROTTLE_GAP (a suspended host, a
 * long wait for replies) refills to `burst` and no further: a pause never turns into a burst
 * of saved-up packets (masscan main-throttle.c resets its history for the same reason). */
struct pm_throttle {
    double rate;    /* tokens per second, > 0 */
    double burst;   /* bucket size, >= 1 */
    double tokens;
    pm_ns last;     /* monotonic time of the last refill */
};
#define PM_THROTTLE_GAP PM_SEC(2)

void pm_throttle_init(struct pm_throttle *t, double rate, double burst, pm_ns now);
/* Take one token if there is one. */
bool pm_throttle_take(struct pm_throttle *t, pm_ns now);
/* Nanoseconds until a token is available (0: now). Does not take it. */
pm_ns pm_throttle_wait(struct pm_throttle *t, pm_ns now);

/* ================================ inject.c ================================= */

/* The 4-tuple of a test SYN as sent (family in the addresses). */
struct pm_tuple {
    pm_addr src, dst;
    uint16_t sport, dport;
};

/* Per-run secret for the keyed ISN (SipHash-2-4 key). */
struct pm_cookie_key {
    uint64_t k0, k1;
};

/* What kind of test SYN an ISN belongs to. */
enum pm_probe_kind { PM_PK_SYN = 0, PM_PK_WALK = 1 };

/* SipHash-2-4 (Aumasson, Bernstein 2012): the MAC behind the ISN. */
uint64_t pm_siphash24(const struct pm_cookie_key *k, const uint8_t *m, size_t n);
/* Fill the key from getrandom(); falls back to the clock only if the kernel refuses. */
void pm_cookie_key_random(struct pm_cookie_key *k);

/* The keyed ISN. Layout (32 bits):   [31..12] MAC   [11] kind   [10..8] attempt   [7..0] TTL
 * The low 12 bits say which probe it was (so a reply is matched without a table lookup);
 * the 20 MAC bits cover the tuple, TTL, attempt and kind under the run's key, so an off-path
 * sender who cannot see our SYNs guesses a valid ISN with probability 2^-20 per packet. */
uint32_t pm_cookie_isn(const struct pm_cookie_key *k, const struct pm_tuple *t, uint8_t ttl,
                       uint8_t attempt, uint8_t kind);
/* True when isn is ours for this tuple; then *ttl, *attempt, *kind (any may be NULL) say
 * which probe it was. */
bool pm_cookie_check(const struct pm_cookie_key *k, const struct pm_tuple *t, uint32_t isn,
                     uint8_t *ttl, uint8_t *attempt, uint8_t *kind);

/* Why this address may not receive a test SYN (NULL: allowed): unspecified, multicast,
 * broadcast, "this network" 0/8, reserved 240/4, IPv4-mapped/compatible IPv6, link-local
 * (needs a scope we do not take), loopback unless allow_loopback. Pure. */
const char *pm_inject_target_refusal(const pm_addr *a, bool allow_loopback);

#define PM_MAX_OPTKINDS_SENT 8

/* One test SYN as it was sent: what the quote of an ICMP error is compared with. */
struct pm_sent {
    uint32_t id;              /* 1-based, per run */
    struct pm_tuple t;
    uint8_t ttl, attempt, kind;
    uint32_t isn;
    uint16_t ip_id;           /* IPv4 */
    uint8_t tos;              /* DSCP+ECN / traffic class */
    uint16_t ip_len;          /* IPv4 total length; IPv6 payload length */
    uint8_t tcp_flags;
    uint16_t win;
    uint16_t mss;
    uint8_t wscale;           /* 0xff: no window-scale option */
    uint8_t sack_ok, has_ts;
    uint32_t tsval;
    uint8_t optlen;           /* TCP option bytes */
    uint8_t nkinds;
    uint8_t kinds[PM_MAX_OPTKINDS_SENT];
    pm_ns sent_real;          /* CLOCK_REALTIME when handed to the kernel */
    pm_ns sent_mono;
    pm_ns wire_ts;            /* capture time of the SYN on the wire, PM_NS_NONE if unseen */
};

/* Quote-vs-sent differences (tracebox's field-by-field diff, libcrafter names). */
enum pm_qdiff {
    PM_QD_SRC = 1u << 0,      /* IP::SourceIP        — source NAT between us and the router */
    PM_QD_DST = 1u << 1,      /* IP::DestinationIP   — destination NAT / redirection */
    PM_QD_SPORT = 1u << 2,    /* TCP::SrcPort        — port translation */
    PM_QD_DPORT = 1u << 3,    /* TCP::DstPort */
    PM_QD_SEQ = 1u << 4,      /* TCP::SeqNumber      — a sequence-number randomiser */
    PM_QD_IPID = 1u << 5,     /* IP::Identification  — (IPv4) rewritten ID */
    PM_QD_DSCP = 1u << 6,     /* IP::DiffServicesCP  — re-marking */
    PM_QD_ECN = 1u << 7,      /* IP::ExpCongestionNot — ECN bleaching */
    PM_QD_LEN = 1u << 8,      /* IP::TotalLength     — options added or removed */
    PM_QD_FLAGS = 1u << 9,    /* TCP::ControlFlags */
    PM_QD_WIN = 1u << 10,     /* TCP::WindowsSize */
    PM_QD_MSS = 1u << 11,     /* TCPOptionMaxSegSize::MaxSegSize — MSS clamping */
    PM_QD_OPTS = 1u << 12,    /* TCP options added, removed or reordered */
    PM_QD_WSCALE = 1u << 13,  /* TCPOptionWindowScale */
    PM_QD_TS = 1u << 14,      /* TCPOptionTimestamp  — a proxy rewriting timestamps */
    PM_QD__BITS = 15
};
const char *pm_qdiff_name(unsigned bit_index);
/* Compare what a router quoted with what we sent. Returns the PM_QD_* set. *partial is set
 * when the quote stops before the fixed TCP header (RFC 792: 8 bytes: ports and sequence
 * only) or before the options, so that fields beyond it could not be compared. */
uint32_t pm_quote_diff(const struct pm_sent *s, const struct pm_quote *q, bool *partial);
/* "tcp.seq 0x1234 -> 0x9999, tcp.mss 1460 -> 1400" into buf. */
void pm_qdiff_describe(uint32_t mask, const struct pm_sent *s, const struct pm_quote *q,
                       char *buf, size_t len);

/* Injection handle: libnet raw sockets (IPv4 and/or IPv6), the allowlist, the token bucket
 * and the hard cap. Opened as root, used after the privilege drop. */
struct pm_injector_cfg {
    double rate;          /* test SYNs per second */
    uint32_t max_probes;  /* hard cap for the run */
    bool allow_loopback;
    bool want4, want6;
    const char *iface;    /* device for libnet (NULL: libnet picks) */
};

enum pm_inj_rc {
    PM_INJ_OK,
    PM_INJ_RATE,      /* no token yet: wait pm_injector_wait() and try again */
    PM_INJ_CAP,       /* --max-probes reached: nothing more is sent this run */
    PM_INJ_REFUSED,   /* destination not on the allowlist */
    PM_INJ_ERROR,     /* libnet or the kernel refused (message in err) */
};

struct pm_inj_counters {
    uint64_t sent;
    uint64_t cap_refused;     /* sends refused because the cap was reached */
    uint64_t target_refused;  /* sends refused: not on the allowlist */
    uint64_t errors;
    uint32_t max_probes;
    double rate;
};

struct pm_injector;

struct pm_injector *pm_injector_open(const struct pm_injector_cfg *cfg, char *err,
                                     size_t errlen);
void pm_injector_close(struct pm_injector *inj);
/* Put dst on the allowlist after the target policy and this host's own broadcast and
 * unicast addresses say it may be probed. Returns false with the reason in why. */
bool pm_injector_allow(struct pm_injector *inj, const pm_addr *dst, char *why, size_t whylen);
pm_ns pm_injector_wait(struct pm_injector *inj, pm_ns now_mono);
/* Send one test SYN (fills *out). Enforces allowlist, cap and rate itself, whatever the
 * caller does. */
enum pm_inj_rc pm_injector_syn(struct pm_injector *inj, const struct pm_tuple *t, uint8_t ttl,
                               uint8_t attempt, uint8_t kind, struct pm_sent *out, char *err,
                               size_t errlen);
const struct pm_cookie_key *pm_injector_key(const struct pm_injector *inj);
const struct pm_inj_counters *pm_injector_counters(const struct pm_injector *inj);

/* ================================== dns.c ================================== */

#define PM_DNS_NAME 256    /* presentation form, NUL included (RFC 1035 §2.3.4: 255) */
#define PM_MAX_MX 16

struct pm_mx {
    uint16_t pref;
    char name[PM_DNS_NAME];   /* "" for the root (a null MX's ".") */
};

/* Parse a DNS response (RFC 1035 §4) with ns_initparse/ns_parserr. Only answer-section
 * records of the wanted type and class IN are taken. Returns the count (records beyond
 * `max` are counted but not stored), or -1 when the message is malformed (a bad count, a
 * record running past the end, a compression loop, an RDATA of the wrong length) with the
 * reason in err. Every length in the message is treated as hostile. */
int pm_dns_parse_mx(const uint8_t *msg, size_t len, struct pm_mx *out, int max, char *err,
                    size_t errlen);
/* family PM_AF_INET: A records; PM_AF_INET6: AAAA. */
int pm_dns_parse_addrs(const uint8_t *msg, size_t len, int family, pm_addr *out, int max,
                       char *err, size_t errlen);

enum pm_dns_status {
    PM_DNS_OK,
    PM_DNS_NODATA,    /* the name exists, no record of this type */
    PM_DNS_NXDOMAIN,  /* the name does not exist */
    PM_DNS_FAIL,      /* SERVFAIL, timeout, refused, malformed: an MTA would defer */
};
const char *pm_dns_status_name(enum pm_dns_status s);

struct pm_resolver;
/* server: an IPv4 or IPv6 literal, or NULL for /etc/resolv.conf. */
struct pm_resolver *pm_resolver_new(const char *server, char *err, size_t errlen);
void pm_resolver_free(struct pm_resolver *r);
const char *pm_resolver_name(const struct pm_resolver *r); /* "203.0.113.53" or "system" */

/* Where an address to probe came from. */
struct pm_taddr {
    pm_addr addr;
    char name[PM_DNS_NAME];   /* the MX host (or TARGET) it belongs to */
    int pref;                 /* MX preference, -1 when not from an MX record */
    uint8_t stale;            /* not in the DNS now: from --stale or the MTA log */
    char origin[120];         /* "MX 10 mx1.example.net", "--stale", "maillog:12" */
};

enum pm_target_kind {
    PM_TK_LITERAL,   /* an address literal: 203.0.113.10, [203.0.113.10], [IPv6:2001:db8::1] */
    PM_TK_MX,        /* a domain with MX records */
    PM_TK_IMPLICIT,  /* no MX: the name's own A/AAAA (RFC 5321 §5.1 implicit MX) */
    PM_TK_HOST,      /* --no-mx: a host name, A/AAAA only */
};

#define PM_TARGET_NOTES 12

struct pm_target {
    char input[PM_DNS_NAME];
    enum pm_target_kind kind;
    bool null_mx;             /* RFC 7505: "0 ." — the domain accepts no mail */
    bool nxdomain;
    bool dns_failed;          /* a lookup failed (SERVFAIL/timeout): results are partial */
    struct pm_mx mx[PM_MAX_MX];
    int nmx;
    int mx_total;             /* MX records in the answer (may exceed PM_MAX_MX) */
    struct pm_taddr addrs[PM_MAX_TADDRS];
    int naddrs;
    int addrs_dropped;        /* over PM_MAX_TADDRS or --max-addrs */
    char notes[PM_TARGET_NOTES][200];
    int nnotes;
};

/* "203.0.113.10", "[203.0.113.10]", "2001:db8::1", "[IPv6:2001:db8::1]" (RFC 5321 §4.1.3). */
bool pm_target_parse_literal(const char *s, pm_addr *out);
/* Resolve TARGET as an MTA would. families: bit 0 IPv4, bit 1 IPv6. Returns 0, or an exit
 * status after printing what failed. NXDOMAIN and null MX are results, not errors. */
int pm_target_resolve(struct pm_resolver *r, const char *target, int families, bool no_mx,
                      int max_addrs, struct pm_target *out);

/* =============================== smtpcheck.c =============================== */

/* The probe's capture must keep running while the check waits on a socket: the check
 * waits through this callback. Returns 1 when fd is ready, 0 at the deadline (monotonic),
 * -1 when the run is being stopped (SIGINT). */
typedef int (*pm_wait_fn)(void *ctx, int fd, short events, pm_ns deadline);

struct ssl_ctx_st;

struct pm_smtp_cfg {
    pm_addr dst;
    uint16_t port;
    const pm_addr *src;           /* bind address (--source), or NULL */
    const char *name;             /* MX host name: SNI and certificate name, or NULL */
    const char *helo;
    pm_ns connect_timeout, step_timeout;
    struct ssl_ctx_st *tls;       /* NULL: no TLS at all */
    bool implicit_tls;            /* port 465 */
    pm_wait_fn wait;
    void *wait_ctx;
    /* Called once the connect is under way, with the local port (to find its SYN). */
    void (*started)(void *ctx, const pm_addr *src, uint16_t sport);
};

enum pm_smtp_step {
    PM_SS_BIND, PM_SS_CONNECT, PM_SS_TLS_IMPLICIT, PM_SS_GREETING, PM_SS_EHLO, PM_SS_HELO,
    PM_SS_STARTTLS, PM_SS_TLS, PM_SS_EHLO_TLS, PM_SS_QUIT, PM_SS_DONE
};
const char *pm_smtp_step_name(enum pm_smtp_step s);

#define PM_SMTP_EXT 16
#define PM_SMTP_SHOW 200 /* reply text kept for display (sanitised) */

struct pm_tls_info {
    bool done;                 /* handshake completed */
    char protocol[16];
    char cipher[64];
    char subject[256];
    char issuer[256];
    char not_before[32], not_after[32]; /* RFC 3339 */
    long days_left;            /* until notAfter (negative: expired) */
    long verify_code;          /* X509_V_OK (0) or the error */
    char verify_text[128];
    char verified_name[PM_DNS_NAME]; /* the name checked against the certificate */
    char error[200];           /* handshake failure */
};

struct pm_smtp_res {
    pm_addr src;
    uint16_t sport;
    enum pm_smtp_step failed_step;  /* PM_SS_DONE when every step passed */
    int err;                        /* errno of a failed bind/connect/read, 0 */
    bool timed_out;
    char error[240];                /* what failed, in words */
    pm_ns connect_ns;               /* connect() to established */
    int connected;
    int greeting_code;
    char greeting[PM_SMTP_SHOW];
    pm_ns greeting_ns;
    int ehlo_code;
    char ehlo_first[160];
    char ext[PM_SMTP_EXT][48];
    int next;
    bool starttls_offered;
    int starttls_code;              /* 0: not sent */
    char starttls_text[160];
    struct pm_tls_info tls;
    int ehlo_tls_code;
    int quit_code;
    bool masked_banner, masked_ehlo;
    /* signs of an inspecting middlebox, in words (banner masked, STARTTLS stripped ...) */
    char signs[4][160];
    int nsigns;
};

struct ssl_ctx_st *pm_tls_ctx_new(const char *ca_file, char *err, size_t errlen);
void pm_tls_ctx_free(struct ssl_ctx_st *ctx);
void pm_smtp_check(const struct pm_smtp_cfg *cfg, struct pm_smtp_res *res);

/* SMTP reply reader (RFC 5321 §4.2), exposed for tests: feed bytes, get whole replies. */
#define PM_REPLY_MAX_LINES 64
struct pm_reply_reader {
    char line[1024];
    size_t len;
    int code;                  /* code of the reply being read, 0 none yet */
    int lines;
    char first[200];           /* first line's text (after the code) */
    char ext[PM_SMTP_EXT][48]; /* EHLO keywords of continuation/final lines */
    int next;
    bool overlong;             /* a line longer than the buffer (cut, still counted) */
    bool bad;                  /* not an SMTP reply line */
    bool done;
};
void pm_reply_reset(struct pm_reply_reader *r);
/* Returns the bytes consumed; r->done when a complete reply was read (or r->bad). */
size_t pm_reply_feed(struct pm_reply_reader *r, const uint8_t *p, size_t n);

/* ---- the per-address conclusion (capture/probe_verdict.c): a table like the engine's ---- */
/* What the probe established for one address, about the port it diagnoses (25). Compared
 * ports are evidence about the host (is it up?), never the diagnosis (issue 14.6). */
struct pm_probe_facts {
    const char *dst;            /* the address, as text */
    uint16_t port;              /* the port diagnosed */
    bool connected;             /* its connect() completed */
    bool smtp_ok;               /* ... and every SMTP step passed */
    int syn_seen;               /* -1 unknown (no capture), 0 never left this host, 1 on the wire */
    const char *error;          /* what failed on it, in words */
    int other_tried;            /* compared ports checked */
    char other_ok[64];          /* compared ports that connected ("587,465") */
    char other_answered[64];    /* compared ports refused by a RST or ICMP that was on the wire:
                                 * something answers for the host */
    bool walk_ran;
    bool walk_host_up;          /* the walk's SYN got the destination's own SYN-ACK, RST or ICMP */
    bool walk_located;          /* the walk found where it fails (forged RST, a router's reject,
                                 * silence after a hop) */
    const char *walk_text;      /* the walk's result in words */
    const char *walk_next;      /* the walk's next step ("" none) */
    const struct pm_walk_row *walk_row; /* the walk's conclusion row (analyze/walk.c) */
};
/* The walk's part of the facts (NULL or a walk that did not run: none). text and next hold
 * the walk's words (400 bytes each is enough). */
void pm_probe_facts_walk(struct pm_probe_facts *f, const struct pm_walk *w, char *text,
                         size_t tlen, char *next, size_t nlen);
struct pm_probe_verdict {
    const char *id;             /* the `ports` object's `verdict` */
    bool failed;                /* counts for the exit status */
    char text[700];
    /* The same in the engine's vocabulary: what the checks show and who can act, and the
     * next step. Where the checks alone cannot say why port 25 fails (blocked, unreachable,
     * failed), a walk whose row names a failure supplies them; else inconclusive. */
    enum pm_verdict verdict;
    enum pm_owner owner;
    enum pm_confidence confidence;
    char next[400];
};
void pm_probe_conclude(const struct pm_probe_facts *f, struct pm_probe_verdict *v);
/* The rows, first match wins (ids, for the unit test that each has a test). */
extern const size_t pm_probe_nverdicts;
const char *pm_probe_verdict_id(size_t i);

#endif
