/*
 * attempt.h — one TCP connection attempt to a watched port, as the wire showed it: the SYN
 * sequence (retransmissions with the same ISN folded in), what answered it, and what
 * happened after the handshake. This is the unit the output contract reports.
 */
#ifndef PM_ATTEMPT_H
#define PM_ATTEMPT_H

#include "decode.h"
#include "pm.h"

/* What answered the SYN first. */
enum pm_answer { PM_ANS_NONE, PM_ANS_SYNACK, PM_ANS_RST, PM_ANS_ICMP };

/* Where a packet is in the input: file index and 1-based frame number. */
struct pm_pktref {
    uint32_t frame;
    uint16_t file;
};

/* The first answer's details (one of three kinds, by `answer`). */
struct pm_answer_info {
    pm_ns ts;
    struct pm_pktref ref;
    uint8_t ttl;            /* outer TTL / hop limit as received */
    uint8_t df;
    uint16_t ip_id;
    uint16_t win;           /* SYN-ACK / RST window */
    uint8_t ack_ok;         /* SYN-ACK/RST ack == ISN+1 */
    uint8_t loopback;       /* arrived on a loopback interface */
    uint16_t mss;           /* SYN-ACK MSS */
    uint16_t payload;       /* RST payload bytes (diagnostic text) */
    /* ICMP only */
    uint8_t icmp_type, icmp_code;
    uint8_t qttl;           /* TTL in the quoted header */
    uint8_t qtos;
    uint16_t qip_id;
    uint16_t qbytes;        /* bytes of the original quoted */
    uint16_t mtu;
    uint8_t qseq_state;     /* 0 not quoted, 1 equals ISN, 2 differs */
    uint8_t qsrc_differs;   /* quoted source address/port differ from what was sent */
    pm_addr from;           /* ICMP sender */
    pm_addr qsrc;           /* quoted source when it differs from what was sent (NAT) */
    uint16_t qsport;
};

/* The same attempt seen at another vantage point (NAT inside/outside), linked by the
 * fields that survive translation (ISN, TCP timestamp, IP ID + options). */
struct pm_peer {
    uint32_t id;            /* the other attempt's id, 0 when none */
    uint16_t vantage;
    uint16_t sport;
    pm_addr cli;            /* source address there (e.g. the public address) */
};

/* Attempt flags. */
enum {
    PM_AF_SYN_NOT_CAPTURED = 1u << 0, /* reconstructed from a RST/ICMP: the SYN was not seen */
    PM_AF_TRUNCATED = 1u << 1,        /* a packet of this attempt was cut by the snaplen */
    PM_AF_MALFORMED = 1u << 2,        /* a packet of this attempt was malformed */
    PM_AF_ONE_SIDED = 1u << 3,        /* the client acked a SYN-ACK the capture never saw */
    PM_AF_EVICTED = 1u << 4,          /* the flow table was full: finalised early */
    PM_AF_CAPTURE_ENDED = 1u << 5,    /* the capture ended while the attempt was open */
    PM_AF_BAD_SYNACK = 1u << 6,       /* SYN-ACK acked something other than ISN+1 */
    PM_AF_SRV_DATA_UNREAD = 1u << 7,  /* server sent bytes we could not read (cut, gap) */
    PM_AF_ICMP_ESTABLISHED = 1u << 8, /* an ICMP error arrived for the established flow */
    PM_AF_FRAG_NEEDED = 1u << 9,      /* ... and it was fragmentation-needed (not a rejection) */
    PM_AF_ANSWER_RACE = 1u << 10,      /* a second answer contradicts the first (forgery race) */
    PM_AF_CLIENT_GAVE_UP = 1u << 11,  /* client sent RST/FIN without an answer */
    PM_AF_TLS = 1u << 12,             /* STARTTLS succeeded: text after it is not SMTP */
    PM_AF_SMTP_DROPPED = 1u << 13,    /* no session slot free: replies not recorded */
    PM_AF_ISN_REUSED = 1u << 14,      /* a new ISN replaced this attempt on its 4-tuple */
    PM_AF_SELF_RST = 1u << 15,        /* our own stack reset a SYN-ACK (probe traffic) */
    PM_AF_UNREADABLE_ANSWER = 1u << 16, /* a reply arrived but the snaplen cut what it was */
    PM_AF_SRV_REPLIES_UNREAD = 1u << 17, /* after the greeting, server bytes were cut or lost */
    PM_AF_MIDSTREAM = 1u << 18,       /* the capture joined after the handshake: neither the SYN
                                       * nor the SYN-ACK is in it (Zeek: no S, no h) */
    PM_AF_DIALOGUE_CUT = 1u << 19,    /* established, and the capture ended before either side
                                       * closed and before the mail was accepted */
    PM_AF_RETRY_ANSWERED = 1u << 20,  /* a SYN retried after the first answer (RST/ICMP) of its
                                       * series; what came after answers the retry */
    PM_AF_MAIL_ACCEPTED = 1u << 21,   /* the server accepted the message (2xx after DATA) */
    PM_AF_TLS_MISMATCH = 1u << 22,    /* one side spoke TLS, the other plaintext SMTP */
    /* a bounded table (destinations, hop references, cross-vantage links) could not keep
     * something this attempt's report rests on (include/tables.h); high bit: kept apart */
    PM_AF_TABLE_FULL = 1u << 30,
};

/* Who closed an established connection and how. */
enum pm_close { PM_CLOSE_NONE, PM_CLOSE_SRV_FIN, PM_CLOSE_SRV_RST, PM_CLOSE_CLI_FIN,
                PM_CLOSE_CLI_RST };

struct pm_attempt {
    uint32_t id;
    uint16_t vantage;
    uint8_t family;
    uint8_t answer;          /* enum pm_answer */
    pm_addr cli, srv;
    uint16_t sport, dport;
    uint32_t isn;
    pm_ns first_syn, last_syn, last_seen;
    struct pm_pktref syn_ref; /* first SYN */
    uint16_t syns;
    uint8_t syn_ttl;
    uint8_t syn_tos;
    uint16_t syn_ip_id;
    uint16_t syn_mss;
    uint32_t syn_tsval;
    uint8_t syn_ws;          /* 0xff: none */
    uint8_t syn_optsig;      /* small hash of the option kinds, for NAT matching */
    uint32_t flags;          /* PM_AF_* */

    struct pm_answer_info ans;
    uint16_t n_synack, n_rst, n_icmp;

    /* after the handshake */
    uint8_t established;     /* client ACKed the SYN-ACK */
    uint8_t close;           /* enum pm_close: first close */
    pm_ns close_ts;
    struct pm_pktref close_ref;
    uint32_t cli_bytes, srv_bytes;
    int16_t banner_code;     /* 0 none, -1 unknown (unreadable), else the reply code */
    int16_t worst_code;      /* highest 4xx/5xx reply code seen after the banner (0 none) */
    uint32_t session;        /* index+1 into the session pool, 0 none */

    struct pm_peer peer;     /* multi-vantage link */

    /* Zeek history letters, in order (NUL-terminated) */
    char history[14];
};

/* Outcome from the wire facts (output contract §outcome). `capture_end` is the time the
 * capture at this attempt's vantage stopped covering (its last packet). */
enum pm_outcome pm_attempt_outcome(const struct pm_attempt *a, pm_ns capture_end,
                                   bool vantage_one_sided);
/* Zeek conn_state for the attempt's packets. */
const char *pm_attempt_conn_state(const struct pm_attempt *a);
/* How long after the SYN it answers the answer came: from the last SYN sent before it (a
 * retransmission may cross the answer, then the first SYN counts); never negative (files
 * merged out of order give 0). */
pm_ns pm_attempt_answer_delay(const struct pm_attempt *a);
/* nmap --reason word; NULL for a connection joined mid-stream (no probe, no answer). */
const char *pm_attempt_reason(const struct pm_attempt *a);

/* PM_NO_RESPONSE_WAIT and PM_BANNER_WAIT, the waits before "no-response" and "no-banner",
 * are in config.h. */

#endif
