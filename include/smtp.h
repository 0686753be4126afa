/*
 * smtp.h — what an SMTP session said, as far as portmortem needs it: the greeting (code and
 * sanitised text, multi-line), replies of interest (EHLO, STARTTLS, MAIL, RCPT, DATA, QUIT
 * and any 4xx/5xx), STARTTLS advertised or not, masked text (an inspecting firewall).
 * Sessions live in a fixed pool; only established attempts take one.
 */
#ifndef PM_SMTP_H
#define PM_SMTP_H

#include "pm.h"

#define PM_SMTP_TEXT 200
#define PM_SMTP_REPLY_TEXT 120
#define PM_SMTP_CMD 12
#define PM_SMTP_MAX_REPLIES 6

struct pm_smtp_reply {
    char cmd[PM_SMTP_CMD];
    int16_t code;
    char text[PM_SMTP_REPLY_TEXT];
};

/* Banner code values besides real reply codes. */
#define PM_BANNER_NONE 0
#define PM_BANNER_UNREADABLE (-1) /* bytes were sent but the capture did not keep them */
#define PM_BANNER_NOT_SMTP (-2)   /* the server spoke, but not SMTP (e.g. TLS on 465) */

struct pm_smtp_summary {
    int16_t banner_code;
    char banner[PM_SMTP_TEXT];
    uint8_t nreplies;
    struct pm_smtp_reply replies[PM_SMTP_MAX_REPLIES];
    int16_t reject_code;       /* first 4xx/5xx that refuses the mail (0 none) */
    char reject_cmd[PM_SMTP_CMD];
    uint8_t starttls_offered;  /* EHLO reply listed STARTTLS */
    uint8_t starttls_refused;  /* STARTTLS answered 4xx/5xx */
    uint8_t tls;               /* STARTTLS 220 or implicit TLS: rest is encrypted */
    uint8_t implicit_tls;      /* TLS from the first byte (port 465) */
    uint8_t masked;            /* banner or EHLO masked (XXXX / ****): SMTP inspection */
    uint8_t replies_unread;    /* after the greeting the server's stream was cut or had a gap */
    uint8_t accepted;          /* the message was accepted (2xx after the end of DATA) */
    uint8_t start_unseen;      /* the capture joined the dialogue after it began: the first
                                * reply seen is not the greeting, commands before are unknown */
    uint8_t tls_mismatch;      /* PM_TLS_MISMATCH_*: one side spoke TLS, the other plaintext */
    uint8_t unanswered;        /* client commands still waiting for their reply */
};

/* Implicit TLS (RFC 8314 §3.3: port 465) against plaintext SMTP (RFC 5321, STARTTLS per
 * RFC 3207): which side spoke TLS. */
enum {
    PM_TLS_MISMATCH_NONE = 0,
    PM_TLS_MISMATCH_CLIENT_TLS = 1, /* a ClientHello answered by a plaintext SMTP reply */
    PM_TLS_MISMATCH_SERVER_TLS = 2, /* TLS records where the plaintext greeting belongs */
};

struct pm_session;
struct pm_session_pool;

/* capacity: an explicit cap on concurrent sessions (--max-sessions); 0 = only the memory
 * budget. Sessions are allocated in chunks as needed. */
struct pm_session_pool *pm_session_pool_new(uint32_t capacity);
void pm_session_pool_free(struct pm_session_pool *p);
/* 1-based handle, 0 when the pool is full. */
uint32_t pm_session_alloc(struct pm_session_pool *p);
struct pm_session *pm_session_get(struct pm_session_pool *p, uint32_t handle);
void pm_session_release(struct pm_session_pool *p, uint32_t handle);
uint32_t pm_session_peak(const struct pm_session_pool *p);
/* The last failed pm_session_alloc failed on the memory budget, not the count cap. */
bool pm_session_mem_full(const struct pm_session_pool *p);

/* In-order bytes of each direction (the tracker handles sequence numbers). */
void pm_smtp_server_bytes(struct pm_session *s, const uint8_t *p, size_t n);
void pm_smtp_client_bytes(struct pm_session *s, const uint8_t *p, size_t n);
/* The stream of a direction has a hole (gap, snaplen cut): stop parsing it. */
void pm_smtp_server_broken(struct pm_session *s);
void pm_smtp_client_broken(struct pm_session *s);
/* The capture joined this dialogue after it began (no SYN-ACK to fix where the server's
 * stream starts): no reply is taken for the greeting, and client lines count as commands
 * only from the first recognised SMTP verb on. */
void pm_smtp_joined_late(struct pm_session *s);
const struct pm_smtp_summary *pm_session_summary(const struct pm_session *s);

/* Sequence bookkeeping kept with the session (RFC 9293 sequence space, mod 2^32). */
struct pm_seqstate {
    uint32_t next;
    uint8_t known;
    uint8_t broken;
};
struct pm_seqstate *pm_session_srvseq(struct pm_session *s);
struct pm_seqstate *pm_session_cliseq(struct pm_session *s);

/* The grammar of one reply line without its CRLF (RFC 5321 §4.2): "DDD" alone, "DDD text"
 * (the last line of a reply) or "DDD-text" (more follow), the first digit 2..5. Returns the
 * reply code, or -1 when the line is not a reply line; *last says whether it ends the reply.
 * The one copy of this grammar: the session parser and the probe's SMTP check both use it. */
int pm_smtp_reply_line(const uint8_t *l, size_t n, bool *last);

/* Text helpers, also used by the report: true when the text looks masked by an SMTP
 * inspection engine (a run of 8+ 'X' or '*'). */
bool pm_smtp_text_masked(const char *text);
/* Words in a reply that point at a blocklist/reputation rejection (for the verdict). */
bool pm_smtp_text_blocklist(const char *text);

#endif
