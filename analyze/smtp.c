/*
 * smtp.c — owns SMTP session parsing (include/smtp.h): reply lines (RFC 5321 §4.2:
 * "Reply-code SP text CRLF" ends a reply, "Reply-code - text CRLF" continues it), client
 * command words matched to replies in order (pipelining, RFC 2920), the DATA body skipped,
 * STARTTLS (RFC 3207) ending the cleartext. Input is bytes the tracker already copied out
 * of the packet in sequence order; every buffer here is fixed and bounded.
 */
#include "smtp.h"

#include <ctype.h>

#include "tables.h"
#include "util.h"

#define SRV_LINE 512  /* RFC 5321 §4.5.3.1.5: reply line limit 512 octets incl. CRLF */
#define CLI_LINE 256

struct pm_session {
    struct pm_seqstate srv, cli;
    uint16_t srv_len, cli_len;
    uint8_t srv_overflow, cli_overflow; /* discarding the rest of an overlong line */
    uint8_t srv_stop, cli_stop;          /* parsing of this direction ended */
    uint8_t in_data;                     /* client is sending the message body */
    uint8_t cmdq_head, cmdq_n;
    uint8_t in_reply;                    /* inside a multi-line reply */
    uint8_t first_reply_done;
    uint8_t client_spoke_first;
    uint8_t client_hello;                /* the client's first bytes were a TLS record */
    uint8_t cli_seen;                    /* the client has sent bytes */
    uint8_t late;                        /* joined late (pm_smtp_joined_late) */
    uint8_t late_synced;                 /* ... and a recognised command was seen since */
    char cmdq[PM_SMTP_MAX_CMDQ][PM_SMTP_CMD];
    char cur_text[PM_SMTP_TEXT];
    uint16_t cur_len;
    int16_t cur_code;
    uint8_t srv_buf[SRV_LINE];
    uint8_t cli_buf[CLI_LINE];
    struct pm_smtp_summary sum;
    uint32_t next_free;
};

/* Sessions live in chunks allocated as needed (never moved: a handle stays valid), each
 * charged to the memory budget; `cap` is an explicit count cap (--max-sessions), 0 none. */
#define CHUNK_BITS 10u
#define CHUNK (1u << CHUNK_BITS)             /* sessions per chunk (~2 MB) */
#define MAX_CHUNKS ((uint32_t)PM_SESSIONS_MAX >> CHUNK_BITS) /* --max-sessions' bound */

struct pm_session_pool {
    struct pm_session *chunk[MAX_CHUNKS];
    uint32_t cap, bump, free_head, used, peak;
    bool mem_full;
};

struct pm_session_pool *pm_session_pool_new(uint32_t capacity)
{
    struct pm_session_pool *p = pm_xcalloc(1, sizeof(*p));
    p->cap = capacity && capacity < CHUNK * MAX_CHUNKS ? capacity : CHUNK * MAX_CHUNKS;
    p->free_head = 0;
    return p;
}

void pm_session_pool_free(struct pm_session_pool *p)
{
    if (p) {
        for (uint32_t c = 0; c < MAX_CHUNKS && p->chunk[c]; c++) {
            free(p->chunk[c]);
            pm_mem_give((size_t)CHUNK * sizeof(struct pm_session));
        }
        free(p);
    }
}

static struct pm_session *at(const struct pm_session_pool *p, uint32_t h)
{
    return &p->chunk[(h - 1) >> CHUNK_BITS][(h - 1) & (CHUNK - 1)];
}

uint32_t pm_session_alloc(struct pm_session_pool *p)
{
    uint32_t h;
    p->mem_full = false;
    if (p->free_head) {
        h = p->free_head;
        p->free_head = at(p, h)->next_free;
    } else if (p->bump < p->cap) {
        uint32_t c = p->bump >> CHUNK_BITS;
        if (!p->chunk[c]) {
            size_t bytes = (size_t)CHUNK * sizeof(struct pm_session);
            if (!pm_mem_take(bytes)) {
                p->mem_full = true;
                return 0;
            }
            p->chunk[c] = malloc(bytes);
            if (!p->chunk[c]) {
                pm_mem_give(bytes);
                p->mem_full = true;
                return 0;
            }
        }
        h = ++p->bump;
    } else {
        return 0;
    }
    memset(at(p, h), 0, sizeof(struct pm_session));
    p->used++;
    if (p->used > p->peak) {
        p->peak = p->used;
    }
    return h;
}

struct pm_session *pm_session_get(struct pm_session_pool *p, uint32_t h)
{
    return (h && h <= p->bump) ? at(p, h) : NULL;
}

void pm_session_release(struct pm_session_pool *p, uint32_t h)
{
    if (!h || h > p->bump) {
        return;
    }
    at(p, h)->next_free = p->free_head;
    p->free_head = h;
    p->used--;
}

bool pm_session_mem_full(const struct pm_session_pool *p) { return p->mem_full; }

uint32_t pm_session_peak(const struct pm_session_pool *p) { return p->peak; }

struct pm_seqstate *pm_session_srvseq(struct pm_session *s) { return &s->srv; }
struct pm_seqstate *pm_session_cliseq(struct pm_session *s) { return &s->cli; }
const struct pm_smtp_summary *pm_session_summary(const struct pm_session *s) { return &s->sum; }

/* ---- text classification ---- */

bool pm_smtp_text_masked(const char *t)
{
    int run = 0;
    char prev = 0;
    for (; *t; t++) {
        if ((*t == 'X' || *t == '*') && (*t == prev || run == 0)) {
            run++;
        } else if (*t == 'X' || *t == '*') {
            run = 1;
        } else {
            run = 0;
        }
        prev = *t;
        /* 8+ of them, or 7 X's and a letter: Cisco's ESMTP inspection turns the STARTTLS
         * keyword into "XXXXXXXA" (the reference's Cisco ESA/ASA notes). */
        if (run >= 8 || (run == 7 && prev == 'X' && t[1] >= 'A' && t[1] <= 'Z')) {
            return true;
        }
    }
    return false;
}

bool pm_smtp_text_blocklist(const char *text)
{
    /* Words that name a list or a reputation verdict. Not "listed" or "denied" on their
     * own: "greylisted" and "Relay access denied" are not blocklist rejections. */
    static const char *const words[] = {"blocklist", "blacklist", "block list", "black list",
                                        "spamhaus", "dnsbl", " rbl", "rbl:", "reputation",
                                        "blocked using", "listed in", "listed on", "listed at",
                                        "barracuda", "spamcop", "sorbs", "spamrats",
                                        "blocked by"};
    char low[PM_SMTP_TEXT];
    size_t n = 0;
    for (; text[n] && n + 1 < sizeof(low); n++) {
        low[n] = (char)tolower((unsigned char)text[n]);
    }
    low[n] = '\0';
    if (strstr(low, "greylist") || strstr(low, "graylist")) {
        return false;
    }
    for (size_t i = 0; i < PM_ARRAY_LEN(words); i++) {
        if (strstr(low, words[i])) {
            return true;
        }
    }
    return false;
}

/* ---- replies ---- */

/* Which commands' replies we keep, and which refuse the mail when 4xx/5xx. */
static bool cmd_is(const char *cmd, const char *name) { return strcmp(cmd, name) == 0; }

static bool reply_refuses_mail(const struct pm_session *s, const char *cmd, int code)
{
    if (code < 400) {
        return false;
    }
    if (code == 421) {
        return true; /* service closing transmission channel, whatever the command */
    }
    if (s->late && cmd_is(cmd, "UNKNOWN")) {
        /* Joined late: the command was before the capture. A 4xx/5xx refuses, except the
         * syntax and sequence codes (RFC 5321 §4.2.3: 500-504 answer a bad or unsupported
         * command, not the mail). */
        return !(code >= 500 && code <= 504);
    }
    return cmd_is(cmd, "GREETING") || cmd_is(cmd, "MAIL") || cmd_is(cmd, "RCPT") ||
           cmd_is(cmd, "DATA") || cmd_is(cmd, "DATA-END") || cmd_is(cmd, "HELO") ||
           cmd_is(cmd, "BDAT");
}

static bool reply_of_interest(const char *cmd, int code)
{
    return code >= 400 || cmd_is(cmd, "EHLO") || cmd_is(cmd, "HELO") ||
           cmd_is(cmd, "STARTTLS") || cmd_is(cmd, "MAIL") || cmd_is(cmd, "RCPT") ||
           cmd_is(cmd, "DATA") || cmd_is(cmd, "DATA-END") || cmd_is(cmd, "QUIT");
}

static void record_reply(struct pm_session *s, const char *cmd, int code, const char *text)
{
    struct pm_smtp_summary *sum = &s->sum;
    if (!reply_of_interest(cmd, code)) {
        return;
    }
    int slot = -1;
    if (sum->nreplies < PM_SMTP_MAX_REPLIES) {
        slot = sum->nreplies++;
    } else if (code >= 400) {
        /* Full: an error displaces the oldest success, never another error. */
        for (int i = 0; i < PM_SMTP_MAX_REPLIES; i++) {
            if (sum->replies[i].code < 400) {
                memmove(&sum->replies[i], &sum->replies[i + 1],
                        sizeof(sum->replies[0]) * (size_t)(PM_SMTP_MAX_REPLIES - 1 - i));
                slot = PM_SMTP_MAX_REPLIES - 1;
                break;
            }
        }
    }
    if (slot < 0) {
        return;
    }
    struct pm_smtp_reply *r = &sum->replies[slot];
    pm_strlcpy(r->cmd, cmd, sizeof(r->cmd));
    r->code = (int16_t)code;
    pm_strlcpy(r->text, text, sizeof(r->text));
}

static void pop_command(struct pm_session *s, char *out)
{
    if (s->cmdq_n == 0) {
        pm_strlcpy(out, s->first_reply_done ? "UNKNOWN" : "GREETING", PM_SMTP_CMD);
        return;
    }
    pm_strlcpy(out, s->cmdq[s->cmdq_head], PM_SMTP_CMD);
    s->cmdq_head = (uint8_t)((s->cmdq_head + 1) % PM_SMTP_MAX_CMDQ);
    s->cmdq_n--;
    s->sum.unanswered = s->cmdq_n;
}

static void push_command(struct pm_session *s, const char *cmd)
{
    if (s->cmdq_n >= PM_SMTP_MAX_CMDQ) {
        return; /* a client pipelining more than we track: later replies are UNKNOWN */
    }
    int i = (s->cmdq_head + s->cmdq_n) % PM_SMTP_MAX_CMDQ;
    pm_strlcpy(s->cmdq[i], cmd, PM_SMTP_CMD);
    s->cmdq_n++;
    s->sum.unanswered = s->cmdq_n;
}

/* A complete reply (its last line seen). */
static void reply_done(struct pm_session *s)
{
    struct pm_smtp_summary *sum = &s->sum;
    char cmd[PM_SMTP_CMD];
    int code = s->cur_code;
    if (!s->first_reply_done) {
        /* The greeting: the first reply, before or regardless of any client command.
         * A client that spoke first (pipelining the greeting) still gets it as GREETING. */
        snprintf(cmd, sizeof(cmd), "GREETING");
        s->first_reply_done = 1;
        if (s->client_hello) {
            /* A plaintext reply to a TLS ClientHello: the client expects implicit TLS
             * (RFC 8314), the server speaks plaintext SMTP. Nothing after it is readable
             * to either side. */
            sum->tls_mismatch = PM_TLS_MISMATCH_CLIENT_TLS;
            s->srv_stop = s->cli_stop = 1;
        }
        sum->banner_code = (int16_t)code;
        pm_strlcpy(sum->banner, s->cur_text, sizeof(sum->banner));
        if (pm_smtp_text_masked(s->cur_text)) {
            sum->masked = 1;
        }
    } else {
        pop_command(s, cmd);
    }
    if (cmd_is(cmd, "EHLO") && pm_smtp_text_masked(s->cur_text)) {
        sum->masked = 1;
    }
    if (cmd_is(cmd, "STARTTLS")) {
        if (code == 220) {
            sum->tls = 1;
            s->srv_stop = s->cli_stop = 1; /* RFC 3207 §4: TLS negotiation starts now */
        } else if (code >= 400) {
            sum->starttls_refused = 1;
        }
    }
    if (cmd_is(cmd, "DATA") && code == 354) {
        s->in_data = 1;
    }
    if (!cmd_is(cmd, "GREETING")) {
        record_reply(s, cmd, code, s->cur_text);
    }
    if (cmd_is(cmd, "DATA-END") && code >= 200 && code < 300) {
        sum->accepted = 1;
    }
    /* Once the message was accepted, a later 4xx (an idle client timed out, 421 at QUIT)
     * does not unsay it. */
    if (reply_refuses_mail(s, cmd, code) && sum->reject_code == 0 && !sum->accepted) {
        sum->reject_code = (int16_t)code;
        pm_strlcpy(sum->reject_cmd, cmd, sizeof(sum->reject_cmd));
    }
    s->in_reply = 0;
    s->cur_len = 0;
    s->cur_text[0] = '\0';
}

static void append_text(struct pm_session *s, const uint8_t *p, size_t n)
{
    if (s->cur_len > 0 && (size_t)s->cur_len + 3 < sizeof(s->cur_text)) {
        s->cur_text[s->cur_len++] = ' '; /* join continuation lines with a space */
        s->cur_text[s->cur_len] = '\0';
    }
    size_t room = sizeof(s->cur_text) - s->cur_len;
    s->cur_len = (uint16_t)(s->cur_len + pm_sanitize(s->cur_text + s->cur_len, room, p, n));
}

int pm_smtp_reply_line(const uint8_t *l, size_t n, bool *last)
{
    /* Reply-code is three digits, the first 2..5 (RFC 5321 §4.2). */
    if (n < 3 || l[0] < '2' || l[0] > '5' || l[1] < '0' || l[1] > '9' || l[2] < '0' ||
        l[2] > '9' || (n > 3 && l[3] != ' ' && l[3] != '-')) {
        return -1;
    }
    *last = n == 3 || l[3] == ' ';
    return (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
}

/* One server line without CRLF. */
static void server_line(struct pm_session *s, const uint8_t *l, size_t n)
{
    bool last;
    int code = pm_smtp_reply_line(l, n, &last);
    if (code < 0) {
        if (!s->first_reply_done && s->sum.banner_code == 0) {
            s->sum.banner_code = PM_BANNER_NOT_SMTP;
            snprintf(s->sum.banner, sizeof(s->sum.banner), "(not an SMTP reply)");
            s->first_reply_done = 1;
            s->srv_stop = 1;
        }
        return; /* a stray line inside a session: ignore it */
    }
    if (!s->in_reply) {
        s->in_reply = 1;
        s->cur_code = (int16_t)code;
        s->cur_len = 0;
        s->cur_text[0] = '\0';
    }
    size_t tlen = n > 4 ? n - 4 : 0;
    const uint8_t *t = l + 4;
    if (tlen > 0) {
        /* STARTTLS advertised in an EHLO reply line ("250-STARTTLS" or "250 STARTTLS"). */
        if (tlen >= 8 && strncasecmp((const char *)t, "STARTTLS", 8) == 0 &&
            (tlen == 8 || t[8] == ' ')) {
            s->sum.starttls_offered = 1;
        }
        append_text(s, t, tlen);
    }
    if (last) {
        reply_done(s);
    }
}

static void client_line(struct pm_session *s, const uint8_t *l, size_t n)
{
    if (s->in_data) {
        /* RFC 5321 §4.1.1.4: the body ends with a line holding a single ".". */
        if (n == 1 && l[0] == '.') {
            s->in_data = 0;
            push_command(s, "DATA-END");
        }
        return;
    }
    char word[PM_SMTP_CMD];
    size_t w = 0;
    while (w < n && w + 1 < sizeof(word) && isalpha(l[w])) {
        word[w] = (char)toupper(l[w]);
        w++;
    }
    word[w] = '\0';
    if (s->late && !s->late_synced) {
        /* Joined late, perhaps inside a message body: lines count as commands from the
         * first SMTP verb on (RFC 5321 §4.1, RFC 3207, RFC 4954, RFC 3030). */
        static const char *const verbs[] = {"HELO", "EHLO", "MAIL", "RCPT", "DATA", "QUIT",
                                            "RSET", "NOOP", "VRFY", "EXPN", "HELP",
                                            "STARTTLS", "AUTH", "BDAT"};
        bool verb = false;
        for (size_t i = 0; i < PM_ARRAY_LEN(verbs) && !verb; i++) {
            verb = strcmp(word, verbs[i]) == 0 && (w == n || l[w] == ' ' || l[w] == ':');
        }
        if (!verb) {
            return;
        }
        s->late_synced = 1;
    }
    if (w == 0 || (w < n && l[w] != ' ' && l[w] != ':')) {
        /* Not a command word (an AUTH continuation, binary garbage): it still gets a reply. */
        snprintf(word, sizeof(word), "OTHER");
    }
    push_command(s, word);
}

/* Split bytes into lines; an overlong line is cut and the rest of it discarded. */
static void feed_lines(struct pm_session *s, uint8_t *buf, uint16_t *len, uint8_t *overflow,
                       size_t cap, const uint8_t *p, size_t n, bool server)
{
    size_t i = 0;
    while (i < n) {
        if (server ? s->srv_stop : s->cli_stop) {
            return;
        }
        /* Whole runs up to the next newline at once (memchr), not byte by byte. */
        const uint8_t *nl = memchr(p + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - p) : n;
        size_t run = end - i;
        if (!*overflow) {
            size_t room = cap - *len;
            size_t take = run < room ? run : room;
            memcpy(buf + *len, p + i, take);
            *len = (uint16_t)(*len + take);
            if (take < run) {
                /* Over the line limit: deliver what we have as the line, drop the rest. */
                *overflow = 1;
                if (server) {
                    server_line(s, buf, *len);
                } else {
                    client_line(s, buf, *len);
                }
                *len = 0;
            }
        }
        i = end;
        if (!nl) {
            break;
        }
        i++; /* the newline */
        size_t l = *len;
        if (l > 0 && buf[l - 1] == '\r') {
            l--;
        }
        if (!*overflow || l > 0) {
            if (server) {
                server_line(s, buf, l);
            } else {
                client_line(s, buf, l);
            }
        }
        *len = 0;
        *overflow = 0;
    }
}

/* The start of a TLS record (RFC 8446 §5.1): content type alert (21), handshake (22) or
 * application data (23), then legacy version 3.x. A reply line starts with a digit. */
static bool looks_tls(const uint8_t *p, size_t n)
{
    if (p[0] < 0x15 || p[0] > 0x17) {
        return false;
    }
    return n < 2 || (p[1] == 0x03 && (n < 3 || p[2] <= 0x04));
}

void pm_smtp_server_bytes(struct pm_session *s, const uint8_t *p, size_t n)
{
    if (s->srv_stop || n == 0) {
        return;
    }
    if (!s->first_reply_done && s->srv_len == 0 && looks_tls(p, n)) {
        s->first_reply_done = 1;
        s->srv_stop = s->cli_stop = 1;
        if (s->client_hello) {
            /* A TLS record answering the client's ClientHello: implicit TLS (RFC 8314,
             * port 465); the greeting is encrypted. */
            s->sum.implicit_tls = s->sum.tls = 1;
        } else if (!s->cli_seen && s->cli_stop) {
            /* The client's first bytes were cut or lost: a ClientHello (implicit TLS that
             * works) and plaintext (a mismatch) cannot be told apart. */
            s->sum.banner_code = PM_BANNER_UNREADABLE;
        } else {
            /* TLS where the plaintext greeting belongs: the server expects implicit TLS
             * and the client did not start it (it waited for a greeting, or sent SMTP). */
            s->sum.tls_mismatch = PM_TLS_MISMATCH_SERVER_TLS;
            s->sum.banner_code = PM_BANNER_NOT_SMTP;
            snprintf(s->sum.banner, sizeof(s->sum.banner), "(TLS, not an SMTP greeting)");
        }
        return;
    }
    feed_lines(s, s->srv_buf, &s->srv_len, &s->srv_overflow, sizeof(s->srv_buf), p, n, true);
}

void pm_smtp_client_bytes(struct pm_session *s, const uint8_t *p, size_t n)
{
    if (s->cli_stop || n == 0) {
        return;
    }
    bool first = !s->cli_seen;
    s->cli_seen = 1;
    if (!s->first_reply_done && s->srv_len == 0 && s->cli_len == 0 && !s->client_spoke_first) {
        s->client_spoke_first = 1;
    }
    if (first && !s->late && p[0] == 0x16 && looks_tls(p, n)) {
        /* The client's first bytes are a TLS record: a ClientHello (implicit TLS, RFC 8314).
         * Nothing to parse on this side. Before the greeting, the server's answer says
         * whether it speaks TLS too; after a plaintext greeting it is already a mismatch
         * (the greeting and the ClientHello crossed on the wire). */
        s->client_hello = 1;
        s->cli_stop = 1;
        if (s->first_reply_done && s->sum.banner_code >= 200 && !s->sum.tls) {
            s->sum.tls_mismatch = PM_TLS_MISMATCH_CLIENT_TLS;
            s->srv_stop = 1;
        }
        return;
    }
    feed_lines(s, s->cli_buf, &s->cli_len, &s->cli_overflow, sizeof(s->cli_buf), p, n, false);
}

void pm_smtp_server_broken(struct pm_session *s)
{
    if (!s->first_reply_done && s->sum.banner_code == 0) {
        s->sum.banner_code = PM_BANNER_UNREADABLE;
    } else if (!s->srv_stop && !s->sum.tls) {
        s->sum.replies_unread = 1; /* a later reply (a rejection?) went unread */
    }
    s->srv_stop = 1;
}

void pm_smtp_client_broken(struct pm_session *s) { s->cli_stop = 1; }
/* (A break before the client's first byte leaves cli_seen 0: see the TLS check above.) */

void pm_smtp_joined_late(struct pm_session *s)
{
    s->late = 1;
    s->first_reply_done = 1; /* what comes first is not known to be the greeting */
    s->sum.start_unseen = 1;
}
