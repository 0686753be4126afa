/*
 * attempt.c — owns the reading of a finished attempt: its outcome (output contract
 * §outcome), Zeek's conn_state for the same packets (scripts/base/protocols/conn/main.zeek)
 * and nmap's --reason word (portreasons.cc). Pure functions over struct pm_attempt.
 */
#include "attempt.h"

#include "smtp.h"
#include "util.h"

enum pm_outcome pm_attempt_outcome(const struct pm_attempt *a, pm_ns capture_end,
                                   bool vantage_one_sided)
{
    if (a->flags & PM_AF_UNREADABLE_ANSWER) {
        /* A reply arrived that the snaplen cut before saying what it was: whatever we read
         * may not be the whole story. */
        return PM_OUT_INCOMPLETE;
    }
    if (a->flags & PM_AF_MIDSTREAM) {
        /* The capture joined the dialogue after its start: only what the wire shows from
         * there decides. A refusal is one (whatever it answered); acceptance of the message
         * is another; anything else, a greeting and handshake never seen, is partial. */
        if (a->flags & PM_AF_TLS_MISMATCH) {
            return PM_OUT_TLS_MISMATCH;
        }
        if (a->worst_code >= 400) {
            return PM_OUT_SMTP_REJECTED;
        }
        return (a->flags & PM_AF_MAIL_ACCEPTED) ? PM_OUT_CONNECTED : PM_OUT_INCOMPLETE;
    }
    switch (a->answer) {
    case PM_ANS_RST:
        return PM_OUT_REFUSED;
    case PM_ANS_ICMP:
        if ((a->family == PM_AF_INET && a->ans.icmp_type == 11) ||
            (a->family == PM_AF_INET6 && a->ans.icmp_type == 3)) {
            return PM_OUT_TTL_EXCEEDED;
        }
        return PM_OUT_ICMP_UNREACHABLE;
    case PM_ANS_SYNACK:
        break;
    default: /* no answer */
        if (a->flags & PM_AF_ONE_SIDED) {
            break; /* the handshake happened; the capture missed the server's side */
        }
        if (a->flags & PM_AF_UNREADABLE_ANSWER) {
            /* Something answered, but the capture kept too little to say what. */
            return PM_OUT_INCOMPLETE;
        }
        if (vantage_one_sided) {
            /* This capture point does not see the servers' direction at all: silence here
             * proves nothing. */
            return PM_OUT_INCOMPLETE;
        }
        if (capture_end != PM_NS_NONE && capture_end - a->first_syn >= PM_NO_RESPONSE_WAIT &&
            !(a->flags & PM_AF_EVICTED)) {
            return PM_OUT_NO_RESPONSE;
        }
        if (a->syns >= 2 && a->last_syn - a->first_syn >= PM_NO_RESPONSE_WAIT) {
            return PM_OUT_NO_RESPONSE; /* retransmissions themselves prove the silence */
        }
        return PM_OUT_INCOMPLETE;
    }
    /* The handshake completed (or the client proved it did). */
    if (a->flags & PM_AF_ONE_SIDED) {
        return PM_OUT_INCOMPLETE;
    }
    if ((a->flags & PM_AF_SELF_RST) && !a->established && a->srv_bytes == 0) {
        /* Our own stack reset the SYN-ACK: the SYN was a raw probe (no socket behind it),
         * and the SYN-ACK is all it asked for: the port is open on this path. */
        return PM_OUT_CONNECTED;
    }
    if (a->flags & PM_AF_TLS_MISMATCH) {
        /* Implicit TLS against plaintext SMTP: neither side can read the other. */
        return PM_OUT_TLS_MISMATCH;
    }
    int code = a->banner_code;
    if (code >= 400) {
        return PM_OUT_SMTP_REJECTED;
    }
    if (code >= 200) {
        if (a->worst_code >= 400) {
            return PM_OUT_SMTP_REJECTED;
        }
        /* The server's later words were cut or missing: a rejection may be among them. */
        return (a->flags & PM_AF_SRV_REPLIES_UNREAD) ? PM_OUT_INCOMPLETE : PM_OUT_CONNECTED;
    }
    if (code == PM_BANNER_NOT_SMTP) {
        return PM_OUT_CONNECTED; /* it talked (implicit TLS or another protocol) */
    }
    if (code == PM_BANNER_UNREADABLE || (a->flags & PM_AF_SRV_DATA_UNREAD)) {
        return PM_OUT_INCOMPLETE; /* the server spoke; the capture did not keep the words */
    }
    if (a->flags & PM_AF_TLS) {
        return PM_OUT_CONNECTED; /* implicit TLS or STARTTLS: it talked, encrypted */
    }
    if (a->srv_bytes == 0 && a->cli_bytes == 0 && a->close == PM_CLOSE_NONE &&
        !(a->flags & PM_AF_TLS)) {
        /* Nobody said anything and nobody closed: silent for as long as we watched? */
        pm_ns since = capture_end != PM_NS_NONE ? capture_end - a->ans.ts : 0;
        return since >= PM_BANNER_WAIT ? PM_OUT_NO_BANNER : PM_OUT_INCOMPLETE;
    }
    if (a->close == PM_CLOSE_SRV_FIN || a->close == PM_CLOSE_SRV_RST) {
        return PM_OUT_CLOSED_BEFORE_BANNER;
    }
    if (a->close == PM_CLOSE_CLI_FIN || a->close == PM_CLOSE_CLI_RST) {
        return PM_OUT_NO_BANNER; /* the client gave up waiting for the greeting */
    }
    pm_ns since = capture_end != PM_NS_NONE ? capture_end - a->ans.ts : 0;
    return since >= PM_BANNER_WAIT ? PM_OUT_NO_BANNER : PM_OUT_INCOMPLETE;
}

const char *pm_attempt_conn_state(const struct pm_attempt *a)
{
    bool syn = !(a->flags & PM_AF_SYN_NOT_CAPTURED);
    bool synack = a->n_synack > 0;
    const char *h = a->history;
    bool orig_rst = strchr(h, 'R') != NULL, resp_rst = strchr(h, 'r') != NULL;
    bool orig_fin = strchr(h, 'F') != NULL, resp_fin = strchr(h, 'f') != NULL;
    if (!syn) {
        if (synack) {
            return resp_rst ? "RSTRH" : resp_fin ? "SHR" : "OTH";
        }
        if (!(a->flags & PM_AF_MIDSTREAM)) {
            return "OTH";
        }
        /* Joined mid-dialogue: both endpoints are TCP_PARTIAL to Zeek, which counts as
         * inactive in conn_state(): RSTRH/RSTOS0 for resets, SF when both closed, SH/SHR
         * for one side's FIN, OTH otherwise. */
        if (resp_rst) {
            return "RSTRH";
        }
        if (orig_rst) {
            return "RSTOS0";
        }
        if (orig_fin && resp_fin) {
            return "SF";
        }
        return orig_fin ? "SH" : resp_fin ? "SHR" : "OTH";
    }
    if (!synack) {
        if (resp_rst) {
            return "REJ";
        }
        if (orig_rst) {
            return "RSTOS0";
        }
        if (orig_fin) {
            return "SH";
        }
        /* A one-sided capture too: an originator ACK in SYN_SENT does not move Zeek's
         * state (TCPSessionAdapter), so it stays S0. */
        return "S0";
    }
    /* A RST after both sides sent FIN changes nothing: both are CLOSED (UpdateClosedState). */
    const char *first_rst = strpbrk(h, "Rr");
    const char *of = strchr(h, 'F'), *rf = strchr(h, 'f');
    if (of && rf && (!first_rst || (of < first_rst && rf < first_rst))) {
        return "SF";
    }
    /* conn_state() looks at the responder first: in RESET, it is REJ when nothing was
     * sent either way, else RSTR — whoever reset first. */
    if (resp_rst) {
        return (a->cli_bytes == 0 && a->srv_bytes == 0 && orig_rst) ? "REJ" : "RSTR";
    }
    if (orig_rst) {
        return "RSTO";
    }
    if (orig_fin && resp_fin) {
        return "SF";
    }
    if (orig_fin) {
        return "S2";
    }
    if (resp_fin) {
        return "S3";
    }
    return "S1";
}

const char *pm_attempt_reason(const struct pm_attempt *a)
{
    if (a->flags & PM_AF_MIDSTREAM) {
        return NULL; /* no probe and no answer to one: nmap has no word for it */
    }
    switch (a->answer) {
    case PM_ANS_SYNACK:
        return "syn-ack";
    case PM_ANS_RST:
        return "reset";
    case PM_ANS_ICMP:
        return pm_icmp_reason(a->family, a->ans.icmp_type, a->ans.icmp_code);
    default:
        return "no-response";
    }
}

pm_ns pm_attempt_answer_delay(const struct pm_attempt *a)
{
    if (a->answer == PM_ANS_NONE || a->ans.ts == PM_NS_NONE) {
        return PM_NS_NONE;
    }
    if (a->syns > 0 && a->last_syn != PM_NS_NONE && a->last_syn <= a->ans.ts) {
        return a->ans.ts - a->last_syn;
    }
    if (a->first_syn != PM_NS_NONE && a->first_syn <= a->ans.ts) {
        return a->ans.ts - a->first_syn;
    }
    return 0;
}
