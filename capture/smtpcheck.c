/*
 * smtpcheck.c — owns the probe's SMTP conversation (capture/probe_int.h): a non-blocking TCP
 * connect from the MTA's own bind address, the greeting, EHLO (HELO if EHLO is refused),
 * STARTTLS with OpenSSL (or TLS first on port 465), EHLO again inside TLS, QUIT. Every step
 * has its own deadline; the waiting is done by the caller's callback so that the probe's
 * capture keeps running meanwhile.
 *
 * What it reports beyond "worked / did not": the TLS protocol and cipher, the certificate's
 * subject, issuer and validity, the verification result against the MX name (OpenSSL's
 * X509_VERIFY_PARAM_set1_host, system CA store or --ca) — with SSL_VERIFY_NONE so that a
 * bad certificate is described rather than ending the check — and the signs an SMTP-
 * inspecting firewall leaves: a banner or EHLO reply masked with XXXX or asterisks and STARTTLS
 * missing from EHLO or refused (Cisco ASA's ESMTP inspection, mta-log/anchors §(c) item 8).
 *
 * Everything the server says is attacker-controlled: replies are read through a bounded line
 * reader (RFC 5321 §4.2, §4.5.3.1.5: lines of 512 octets; we accept 1000 and cut beyond),
 * at most PM_REPLY_MAX_LINES lines per reply, and only sanitised text leaves this file.
 * Bytes the server sends after its 220 to STARTTLS are discarded, not read as TLS or SMTP
 * (the STARTTLS command-injection class of bugs, CVE-2011-0411).
 */
#include "probe_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "smtp.h"
#include "util.h"

const char *pm_smtp_step_name(enum pm_smtp_step s)
{
    static const char *const names[] = {"bind", "connect", "tls", "greeting", "ehlo", "helo",
                                        "starttls", "tls-handshake", "ehlo-tls", "quit",
                                        "done"};
    return (unsigned)s < PM_ARRAY_LEN(names) ? names[s] : "?";
}

/* ---- reply reader ---- */

void pm_reply_reset(struct pm_reply_reader *r) { memset(r, 0, sizeof(*r)); }

static void reply_line(struct pm_reply_reader *r)
{
    const char *l = r->line;
    size_t n = r->len;
    if (n > 0 && l[n - 1] == '\r') {
        n--;
    }
    /* "DDD" alone, "DDD text" (last line) or "DDD-text" (more follow): smtp.c's grammar. */
    bool last;
    int code = pm_smtp_reply_line((const uint8_t *)l, n, &last);
    if (code < 0) {
        r->bad = true;
        r->done = true;
        return;
    }
    if (r->lines == 0) {
        r->code = code;
        pm_sanitize(r->first, sizeof(r->first), (const uint8_t *)l + PM_MIN(n, 4u),
                    n > 4 ? n - 4 : 0);
    } else if (r->next < PM_SMTP_EXT) {
        /* EHLO keyword: the first word of each line after the first (RFC 5321 §4.1.1.1). */
        size_t s = 4, e = 4;
        while (e < n && l[e] != ' ') {
            e++;
        }
        if (e > s) {
            char *k = r->ext[r->next++];
            pm_sanitize(k, sizeof(r->ext[0]), (const uint8_t *)l + s, e - s);
            for (char *p = k; *p; p++) {
                if (*p >= 'a' && *p <= 'z') {
                    *p = (char)(*p - 'a' + 'A');
                }
            }
        }
    }
    r->lines++;
    if (last) {
        r->done = true;
    } else if (r->lines >= PM_REPLY_MAX_LINES) {
        r->bad = true; /* an endless reply: a tarpit or garbage */
        r->done = true;
    }
}

size_t pm_reply_feed(struct pm_reply_reader *r, const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n && !r->done) {
        uint8_t c = p[i++];
        if (c == '\n') {
            reply_line(r);
            r->len = 0;
            continue;
        }
        if (r->len < sizeof(r->line) - 1) {
            r->line[r->len++] = (char)c;
        } else {
            r->overlong = true; /* keep counting bytes; the text is cut */
        }
    }
    return i;
}

/* ---- connection I/O through the caller's wait ---- */

struct conn {
    int fd;
    SSL *ssl;
    const struct pm_smtp_cfg *cfg;
    struct pm_smtp_res *res;
    uint8_t buf[4096];
    size_t len, off;
};

enum { IO_OK = 1, IO_EOF = 0, IO_ERR = -1, IO_TIMEOUT = -2, IO_STOP = -3, IO_NOTSMTP = -4 };

static int wait_for(struct conn *c, short ev, pm_ns deadline)
{
    int w = c->cfg->wait(c->cfg->wait_ctx, c->fd, ev, deadline);
    return w > 0 ? IO_OK : w == 0 ? IO_TIMEOUT : IO_STOP;
}

static void ssl_err(char *buf, size_t len, const char *what)
{
    unsigned long e = ERR_get_error();
    char eb[160] = "no detail";
    if (e) {
        ERR_error_string_n(e, eb, sizeof(eb));
    }
    ERR_clear_error();
    snprintf(buf, len, "%s: %s", what, eb);
}

/* Read more bytes into c->buf. */
static int conn_fill(struct conn *c, pm_ns deadline)
{
    if (c->off > 0 && c->off == c->len) {
        c->off = c->len = 0;
    }
    if (c->len == sizeof(c->buf)) {
        memmove(c->buf, c->buf + c->off, c->len - c->off);
        c->len -= c->off;
        c->off = 0;
    }
    for (;;) {
        if (c->ssl) {
            ERR_clear_error();
            int n = SSL_read(c->ssl, c->buf + c->len, (int)(sizeof(c->buf) - c->len));
            if (n > 0) {
                c->len += (size_t)n;
                return IO_OK;
            }
            int e = SSL_get_error(c->ssl, n);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                int w = wait_for(c, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
                if (w != IO_OK) {
                    return w;
                }
                continue;
            }
            if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && n == 0)) {
                return IO_EOF;
            }
            ssl_err(c->res->error, sizeof(c->res->error), "reading inside TLS failed");
            return IO_ERR;
        }
        ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, MSG_DONTWAIT);
        if (n > 0) {
            c->len += (size_t)n;
            return IO_OK;
        }
        if (n == 0) {
            return IO_EOF;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            int w = wait_for(c, POLLIN, deadline);
            if (w != IO_OK) {
                return w;
            }
            continue;
        }
        c->res->err = errno;
        snprintf(c->res->error, sizeof(c->res->error), "reading from the server failed: %s",
                 strerror(errno));
        return IO_ERR;
    }
}

static int conn_write(struct conn *c, const char *s, pm_ns deadline)
{
    size_t n = strlen(s), o = 0;
    while (o < n) {
        if (c->ssl) {
            ERR_clear_error();
            int w = SSL_write(c->ssl, s + o, (int)(n - o));
            if (w > 0) {
                o += (size_t)w;
                continue;
            }
            int e = SSL_get_error(c->ssl, w);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                int r = wait_for(c, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
                if (r != IO_OK) {
                    return r;
                }
                continue;
            }
            ssl_err(c->res->error, sizeof(c->res->error), "writing inside TLS failed");
            return IO_ERR;
        }
        ssize_t w = send(c->fd, s + o, n - o, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w > 0) {
            o += (size_t)w;
            continue;
        }
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            int r = wait_for(c, POLLOUT, deadline);
            if (r != IO_OK) {
                return r;
            }
            continue;
        }
        c->res->err = errno;
        snprintf(c->res->error, sizeof(c->res->error), "sending to the server failed: %s",
                 strerror(errno));
        return IO_ERR;
    }
    return IO_OK;
}

static int read_reply(struct conn *c, struct pm_reply_reader *rr, pm_ns deadline)
{
    pm_reply_reset(rr);
    for (;;) {
        if (c->off < c->len) {
            c->off += pm_reply_feed(rr, c->buf + c->off, c->len - c->off);
            if (rr->done) {
                return rr->bad ? IO_NOTSMTP : IO_OK;
            }
            continue;
        }
        int r = conn_fill(c, deadline);
        if (r != IO_OK) {
            return r;
        }
    }
}

/* Name a failed step in the result. */
static void step_failed(struct conn *c, enum pm_smtp_step step, int io, pm_ns tmo)
{
    struct pm_smtp_res *res = c->res;
    res->failed_step = step;
    const char *what = pm_smtp_step_name(step);
    char t[24];
    switch (io) {
    case IO_TIMEOUT:
        res->timed_out = true;
        snprintf(res->error, sizeof(res->error), "no %s reply within %s s", what,
                 pm_dur_str(tmo, t, sizeof(t)));
        break;
    case IO_EOF:
        snprintf(res->error, sizeof(res->error), "the server closed the connection at the %s "
                 "step", what);
        break;
    case IO_STOP:
        snprintf(res->error, sizeof(res->error), "interrupted at the %s step", what);
        break;
    case IO_NOTSMTP:
        snprintf(res->error, sizeof(res->error), "the %s reply is not SMTP (no 3-digit reply "
                 "code, or an endless reply)", what);
        break;
    default:
        if (!res->error[0]) {
            snprintf(res->error, sizeof(res->error), "the %s step failed", what);
        }
        break;
    }
}

static void add_sign(struct pm_smtp_res *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void add_sign(struct pm_smtp_res *res, const char *fmt, ...)
{
    if (res->nsigns >= (int)PM_ARRAY_LEN(res->signs)) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->signs[res->nsigns++], sizeof(res->signs[0]), fmt, ap);
    va_end(ap);
}

/* ---- TLS ---- */

struct ssl_ctx_st *pm_tls_ctx_new(const char *ca_file, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        ssl_err(err, errlen, "cannot create a TLS context");
        return NULL;
    }
    /* A diagnostic wants to see what the server offers, old protocols included (it reports
     * the version); MTAs doing opportunistic TLS accept TLS 1.0 as well. */
    SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
    SSL_CTX_set_security_level(ctx, 1);
    if (ca_file) {
        if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
            ssl_err(err, errlen, "cannot load the CA file");
            SSL_CTX_free(ctx);
            return NULL;
        }
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        ssl_err(err, errlen, "cannot load the system CA store");
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

void pm_tls_ctx_free(struct ssl_ctx_st *ctx) { SSL_CTX_free(ctx); }

static void name_str(const X509_NAME *n, char *buf, size_t len)
{
    buf[0] = '\0';
    BIO *b = BIO_new(BIO_s_mem());
    if (!b) {
        return;
    }
    X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253);
    char tmp[512];
    int r = BIO_read(b, tmp, sizeof(tmp) - 1);
    BIO_free(b);
    if (r > 0) {
        pm_sanitize(buf, len, (const uint8_t *)tmp, (size_t)r);
    }
}

static void asn1_time_str(const ASN1_TIME *t, char *buf, size_t len)
{
    struct tm tm;
    buf[0] = '\0';
    if (t && ASN1_TIME_to_tm(t, &tm) == 1) {
        strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
}

static int tls_handshake(struct conn *c, pm_ns deadline)
{
    const struct pm_smtp_cfg *cfg = c->cfg;
    struct pm_tls_info *ti = &c->res->tls;
    SSL *ssl = SSL_new(cfg->tls);
    if (!ssl) {
        ssl_err(ti->error, sizeof(ti->error), "cannot start TLS");
        return IO_ERR;
    }
    c->ssl = ssl;
    SSL_set_fd(ssl, c->fd);
    /* Verify against the MX name (what an MTA with DANE/MTA-STS off but verification on
     * checks); describe the result instead of aborting on it. */
    SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
    X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
    pm_addr lit;
    if (cfg->name && cfg->name[0] && !pm_addr_parse(cfg->name, &lit)) {
        SSL_set_tlsext_host_name(ssl, cfg->name);
        X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        X509_VERIFY_PARAM_set1_host(vp, cfg->name, 0);
        pm_strlcpy(ti->verified_name, cfg->name, sizeof(ti->verified_name));
    } else {
        X509_VERIFY_PARAM_set1_ip(vp, cfg->dst.b, cfg->dst.family == PM_AF_INET ? 4 : 16);
        pm_addr_str(&cfg->dst, ti->verified_name);
    }
    for (;;) {
        ERR_clear_error();
        int r = SSL_connect(ssl);
        if (r == 1) {
            break;
        }
        int e = SSL_get_error(ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            int w = wait_for(c, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
            if (w != IO_OK) {
                snprintf(ti->error, sizeof(ti->error), "%s",
                         w == IO_TIMEOUT ? "the TLS handshake did not finish in time"
                                         : "interrupted");
                return w;
            }
            continue;
        }
        if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
            snprintf(ti->error, sizeof(ti->error), "the server closed the connection during "
                     "the TLS handshake");
            return IO_EOF;
        }
        ssl_err(ti->error, sizeof(ti->error), "the TLS handshake failed");
        return IO_ERR;
    }
    ti->done = true;
    pm_strlcpy(ti->protocol, SSL_get_version(ssl), sizeof(ti->protocol));
    const char *cn = SSL_get_cipher_name(ssl);
    pm_strlcpy(ti->cipher, cn ? cn : "", sizeof(ti->cipher));
    X509 *cert = SSL_get1_peer_certificate(ssl);
    if (cert) {
        name_str(X509_get_subject_name(cert), ti->subject, sizeof(ti->subject));
        name_str(X509_get_issuer_name(cert), ti->issuer, sizeof(ti->issuer));
        asn1_time_str(X509_get0_notBefore(cert), ti->not_before, sizeof(ti->not_before));
        asn1_time_str(X509_get0_notAfter(cert), ti->not_after, sizeof(ti->not_after));
        int days = 0, secs = 0;
        if (ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(cert)) == 1) {
            ti->days_left = days;
        }
        X509_free(cert);
        ti->verify_code = SSL_get_verify_result(ssl);
        pm_strlcpy(ti->verify_text, X509_verify_cert_error_string(ti->verify_code),
                   sizeof(ti->verify_text));
    } else {
        ti->verify_code = -1;
        pm_strlcpy(ti->verify_text, "the server sent no certificate", sizeof(ti->verify_text));
    }
    return IO_OK;
}

/* ---- the check ---- */

static bool ehlo_masked(const struct pm_reply_reader *rr)
{
    if (pm_smtp_text_masked(rr->first)) {
        return true;
    }
    for (int i = 0; i < rr->next; i++) {
        if (pm_smtp_text_masked(rr->ext[i])) {
            return true;
        }
    }
    return false;
}

static void do_quit(struct conn *c, pm_ns step)
{
    struct pm_reply_reader rr;
    pm_ns dl = pm_now_monotonic() + step;
    if (conn_write(c, "QUIT\r\n", dl) != IO_OK) {
        return;
    }
    if (read_reply(c, &rr, dl) == IO_OK) {
        c->res->quit_code = rr.code;
    }
}

static int do_connect(struct conn *c)
{
    const struct pm_smtp_cfg *cfg = c->cfg;
    struct pm_smtp_res *res = c->res;
    int fam = cfg->dst.family == PM_AF_INET6 ? AF_INET6 : AF_INET;
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof(ss));
    c->fd = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        res->err = errno;
        res->failed_step = PM_SS_BIND;
        snprintf(res->error, sizeof(res->error), "cannot create a TCP socket: %s",
                 strerror(errno));
        return IO_ERR;
    }
    char a[PM_ADDR_STRLEN];
    if (cfg->src) {
        if (fam == AF_INET) {
            struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
            s4->sin_family = AF_INET;
            memcpy(&s4->sin_addr, cfg->src->b, 4);
            sl = sizeof(*s4);
        } else {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
            s6->sin6_family = AF_INET6;
            memcpy(&s6->sin6_addr, cfg->src->b, 16);
            sl = sizeof(*s6);
        }
        if (bind(c->fd, (struct sockaddr *)&ss, sl) != 0) {
            res->err = errno;
            res->failed_step = PM_SS_BIND;
            snprintf(res->error, sizeof(res->error), "cannot use source address %s (bind: %s)%s",
                     pm_addr_str(cfg->src, a), strerror(errno),
                     errno == EADDRNOTAVAIL ? ": it is not configured on this host, so an MTA "
                                              "bound to it fails the same way"
                                            : "");
            return IO_ERR;
        }
    }
    memset(&ss, 0, sizeof(ss));
    if (fam == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(cfg->port);
        memcpy(&s4->sin_addr, cfg->dst.b, 4);
        sl = sizeof(*s4);
    } else {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(cfg->port);
        memcpy(&s6->sin6_addr, cfg->dst.b, 16);
        sl = sizeof(*s6);
    }
    pm_ns t0 = pm_now_monotonic();
    int r = connect(c->fd, (struct sockaddr *)&ss, sl);
    int cerr = r == 0 ? 0 : errno;
    /* Our end of the 4-tuple: the caller looks for this SYN on the wire. */
    struct sockaddr_storage ls;
    socklen_t ll = sizeof(ls);
    if (getsockname(c->fd, (struct sockaddr *)&ls, &ll) == 0) {
        if (ls.ss_family == AF_INET) {
            const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ls;
            pm_addr_from_v4(&res->src, (const uint8_t *)&s4->sin_addr);
            res->sport = ntohs(s4->sin_port);
        } else if (ls.ss_family == AF_INET6) {
            const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ls;
            pm_addr_from_v6(&res->src, s6->sin6_addr.s6_addr);
            res->sport = ntohs(s6->sin6_port);
        }
    }
    if (cfg->started && res->sport) {
        cfg->started(cfg->wait_ctx, &res->src, res->sport);
    }
    if (r != 0 && cerr == EINPROGRESS) {
        pm_ns dl = t0 + cfg->connect_timeout;
        int w = wait_for(c, POLLOUT, dl);
        if (w == IO_TIMEOUT) {
            res->err = ETIMEDOUT;
            res->timed_out = true;
            res->failed_step = PM_SS_CONNECT;
            char t[24];
            snprintf(res->error, sizeof(res->error), "connect: no answer to the SYN within %s s "
                     "(Connection timed out)", pm_dur_str(cfg->connect_timeout, t, sizeof(t)));
            return IO_TIMEOUT;
        }
        if (w == IO_STOP) {
            step_failed(c, PM_SS_CONNECT, IO_STOP, 0);
            return IO_STOP;
        }
        socklen_t el = sizeof(cerr);
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &cerr, &el) != 0) {
            cerr = errno;
        }
    }
    res->connect_ns = pm_now_monotonic() - t0;
    if (cerr != 0) {
        res->err = cerr;
        res->failed_step = PM_SS_CONNECT;
        snprintf(res->error, sizeof(res->error), "connect: %s", strerror(cerr));
        return IO_ERR;
    }
    res->connected = 1;
    return IO_OK;
}

void pm_smtp_check(const struct pm_smtp_cfg *cfg, struct pm_smtp_res *res)
{
    memset(res, 0, sizeof(*res));
    res->failed_step = PM_SS_DONE;
    res->tls.verify_code = -1;
    struct conn *c = pm_xcalloc(1, sizeof(*c));
    c->fd = -1;
    c->cfg = cfg;
    c->res = res;
    struct pm_reply_reader rr;
    pm_ns step = cfg->step_timeout;
    int io;
    char cmd[320];

    if (do_connect(c) != IO_OK) {
        goto out;
    }
    if (cfg->implicit_tls) {
        if (!cfg->tls) {
            res->failed_step = PM_SS_TLS_IMPLICIT;
            snprintf(res->error, sizeof(res->error), "no TLS context for implicit TLS");
            goto out;
        }
        io = tls_handshake(c, pm_now_monotonic() + step);
        if (io != IO_OK) {
            step_failed(c, PM_SS_TLS_IMPLICIT, io, step);
            if (res->tls.error[0]) {
                snprintf(res->error, sizeof(res->error), "%s", res->tls.error);
            }
            goto out;
        }
    }
    pm_ns g0 = pm_now_monotonic();
    io = read_reply(c, &rr, g0 + step);
    res->greeting_ns = pm_now_monotonic() - g0;
    if (io != IO_OK) {
        step_failed(c, PM_SS_GREETING, io, step);
        goto out;
    }
    res->greeting_code = rr.code;
    pm_strlcpy(res->greeting, rr.first, sizeof(res->greeting));
    if (pm_smtp_text_masked(rr.first)) {
        res->masked_banner = true;
        add_sign(res, "the greeting is masked (\"%.60s\"): an SMTP-inspecting firewall rewrites "
                 "the banner (e.g. Cisco ESMTP inspection, mask-banner)", rr.first);
    }
    if (rr.code != 220) {
        res->failed_step = PM_SS_GREETING;
        snprintf(res->error, sizeof(res->error), "the server refused the session: %d %.150s",
                 rr.code, rr.first);
        do_quit(c, step);
        goto out;
    }
    snprintf(cmd, sizeof(cmd), "EHLO %s\r\n", cfg->helo);
    io = conn_write(c, cmd, pm_now_monotonic() + step);
    if (io == IO_OK) {
        io = read_reply(c, &rr, pm_now_monotonic() + step);
    }
    if (io != IO_OK) {
        step_failed(c, PM_SS_EHLO, io, step);
        goto out;
    }
    res->ehlo_code = rr.code;
    pm_strlcpy(res->ehlo_first, rr.first, sizeof(res->ehlo_first));
    if (rr.code / 100 == 5) {
        /* RFC 5321 §3.2: an old server refuses EHLO; fall back to HELO (no extensions). */
        add_sign(res, "EHLO refused (%d): no ESMTP, or an inspecting firewall that filters "
                 "extensions", rr.code);
        snprintf(cmd, sizeof(cmd), "HELO %s\r\n", cfg->helo);
        io = conn_write(c, cmd, pm_now_monotonic() + step);
        if (io == IO_OK) {
            io = read_reply(c, &rr, pm_now_monotonic() + step);
        }
        if (io != IO_OK || rr.code / 100 != 2) {
            step_failed(c, PM_SS_HELO, io == IO_OK ? IO_ERR : io, step);
            if (io == IO_OK) {
                snprintf(res->error, sizeof(res->error), "HELO refused: %d %.150s", rr.code,
                         rr.first);
            }
            goto out;
        }
    } else if (rr.code / 100 != 2) {
        res->failed_step = PM_SS_EHLO;
        snprintf(res->error, sizeof(res->error), "EHLO refused: %d %.150s", rr.code, rr.first);
        do_quit(c, step);
        goto out;
    } else {
        res->next = rr.next;
        memcpy(res->ext, rr.ext, sizeof(res->ext));
        for (int i = 0; i < rr.next; i++) {
            if (!strcmp(rr.ext[i], "STARTTLS")) {
                res->starttls_offered = true;
            }
        }
        if (ehlo_masked(&rr)) {
            res->masked_ehlo = true;
            add_sign(res, "the EHLO reply is masked (XXXX): an SMTP-inspecting firewall hides "
                     "the extensions it does not allow");
        }
    }
    if (cfg->implicit_tls || !cfg->tls) {
        do_quit(c, step);
        goto out;
    }
    if (!res->starttls_offered) {
        add_sign(res, "STARTTLS is not offered: the server has no TLS, or a firewall that "
                 "inspects SMTP strips it from the EHLO reply (mail would go unencrypted)");
        do_quit(c, step);
        goto out;
    }
    io = conn_write(c, "STARTTLS\r\n", pm_now_monotonic() + step);
    if (io == IO_OK) {
        io = read_reply(c, &rr, pm_now_monotonic() + step);
    }
    if (io != IO_OK) {
        step_failed(c, PM_SS_STARTTLS, io, step);
        goto out;
    }
    res->starttls_code = rr.code;
    pm_strlcpy(res->starttls_text, rr.first, sizeof(res->starttls_text));
    if (rr.code != 220) {
        res->failed_step = PM_SS_STARTTLS;
        snprintf(res->error, sizeof(res->error), "STARTTLS refused: %d %.150s", rr.code,
                 rr.first);
        add_sign(res, "STARTTLS was offered but refused (%d %.60s): typical of a firewall that "
                 "inspects SMTP and does not allow TLS", rr.code, rr.first);
        do_quit(c, step);
        goto out;
    }
    /* Anything already buffered after the 220 was sent before TLS: drop it, never act on it. */
    c->off = c->len = 0;
    io = tls_handshake(c, pm_now_monotonic() + step);
    if (io != IO_OK) {
        step_failed(c, PM_SS_TLS, io, step);
        if (res->tls.error[0]) {
            snprintf(res->error, sizeof(res->error), "%s", res->tls.error);
        }
        add_sign(res, "STARTTLS was accepted but the TLS handshake failed: a middlebox may be "
                 "interfering, or the server's TLS is broken");
        goto out;
    }
    snprintf(cmd, sizeof(cmd), "EHLO %s\r\n", cfg->helo);
    io = conn_write(c, cmd, pm_now_monotonic() + step);
    if (io == IO_OK) {
        io = read_reply(c, &rr, pm_now_monotonic() + step);
    }
    if (io != IO_OK) {
        step_failed(c, PM_SS_EHLO_TLS, io, step);
        goto out;
    }
    res->ehlo_tls_code = rr.code;
    do_quit(c, step);
out:
    if (c->ssl) {
        SSL_set_quiet_shutdown(c->ssl, 1); /* no close_notify wait: QUIT already ended it */
        SSL_free(c->ssl);
    }
    if (c->fd >= 0) {
        close(c->fd);
    }
    free(c);
}
