/*
 * bundle_int.h — the pieces of the evidence bundle (include/bundle.h) shared between
 * analyze/bundle.c (life cycle, collection, the small text files), bundle_slice.c (the pcapng
 * slice), bundle_text.c (escalation texts), bundle_html.c (report.html and its ladder
 * diagrams) and bundle_manifest.c (SHA-256, Ed25519, `portmortem verify`), and exposed to
 * tests/unit/test_bundle.c. Not a public interface: nothing outside analyze/bundle*.c and
 * the unit tests includes it.
 */
#ifndef PM_BUNDLE_INT_H
#define PM_BUNDLE_INT_H

#include <stdio.h>

#include "attribute.h"
#include "bundle.h"
#include "context.h"
#include "report.h"

/* ---- limits: every table is capped so that a capture with millions of failing attempts
 * cannot exhaust memory; what a cap leaves out is counted and said in README.txt. The
 * caps (PM_BUNDLE_*, PM_SLICE_*) are in config.h. ---- */

/* ---- a finding the bundle keeps in full (ladders, escalations) ---- */

enum pm_ladder_kind { PM_LE_SYN, PM_LE_SYNACK, PM_LE_ACK, PM_LE_RST, PM_LE_ICMP, PM_LE_FIN,
                      PM_LE_DATA, PM_LE_NOTE };

/* One arrow of a ladder diagram: a packet of the attempt, read again from the capture (or
 * reconstructed from the attempt when the capture cannot be read again). */
struct pm_ladder_event {
    pm_ns ts;
    uint8_t towards_sender;   /* 0: sender → destination, 1: an answer */
    uint8_t kind;             /* enum pm_ladder_kind */
    uint8_t ttl;
    pm_addr from;             /* IP source of the packet */
    char label[80];           /* sanitised */
};

struct pm_bfind {
    struct pm_finding f;      /* f.a / f.smtp / f.log point at the copies below (or NULL) */
    struct pm_attempt a;
    struct pm_smtp_summary smtp;
    struct pm_logentry log;
    struct pm_nat_facts nat;
    struct pm_link_info peer;
    char vantage[48];
    char logfile[128];        /* the matched log line's file (path as given), or "" */
    struct pm_ladder_event ev[PM_BUNDLE_LADDER_EVENTS];
    int nev;
    uint32_t ev_dropped;      /* packets of the attempt not drawn (over the cap) */
    bool ev_from_capture;     /* events came from re-reading the capture */
};

/* Copy a finding and everything it points to (the engine's copies are transient). */
void pm_bfind_copy(struct pm_bfind *d, const struct pm_finding *f, const char *vantage,
                   const char *logfile);
/* Fill the ladder from the attempt alone (when the capture was not read again). */
void pm_bfind_synth_events(struct pm_bfind *d);

/* ---- the layer's words (bundle_text.c) ---- */

/* The result of an attempt in the words of the layer that failed ("TCP port 25 refused
 * before SMTP banner (RST from 203.0.113.10, TTL 61, 3 hops; the MX is 3 hops away)") and
 * the shorter form for a subject line ("refused before SMTP banner"). */
void pm_bundle_result_words(const struct pm_finding *f, char *result, size_t rlen,
                            char *subject, size_t slen);

/* One failing destination, for its escalation text. */
struct pm_esc {
    const struct pm_finding *f;       /* the representative failing attempt */
    const char *mx;                   /* MX / host name from the log or context, or "" */
    pm_addr dst;
    uint16_t dport;
    pm_addr srcs[PM_BUNDLE_MAX_SRCS];
    char src_vantage[PM_BUNDLE_MAX_SRCS][64]; /* "as seen at sender" */
    uint8_t src_public[PM_BUNDLE_MAX_SRCS];   /* 1: our public (post-NAT) address */
    int nsrcs;
    pm_ns first_fail, last_fail;
    uint32_t failing, attempts, connected;
    uint32_t by_outcome[PM_OUT__COUNT];
    const char *const *attached;      /* names of the bundle's files */
    int nattached;
};
/* Write the escalation text (subject line, source IP, destination MX, destination IP, time
 * in UTC, result, trace, verdict/owner/next step, attachments). Returns 0, or -1 when the
 * stream failed. Every string from packets or logs is sanitised again on the way out. */
int pm_bundle_write_escalation(FILE *out, const struct pm_esc *e);
/* escalation-<dst>.txt, with ':' of an IPv6 address as '-'. */
void pm_bundle_escalation_name(const pm_addr *dst, char *buf, size_t len);
/* Write s with every byte outside printable ASCII replaced by '?' (a second line of
 * defence: text reaching here was sanitised already). */
void pm_bundle_put_clean(FILE *out, const char *s);

/* ---- report.html (bundle_html.c) ---- */

/* HTML-escape (& < > " ') and replace control characters and bytes >= 0x80 with '?'. */
void pm_html_escape(FILE *out, const char *s);
size_t pm_html_escape_buf(char *dst, size_t dstlen, const char *s);

struct pm_html_row {
    uint32_t id;
    pm_ns ts;
    pm_addr src, dst;
    uint16_t sport, dport;
    uint8_t has_src, outcome, verdict, owner, confidence;
    int16_t ladder;                   /* index into the ladders, -1 */
    char clue[120];
};

struct pm_html_text {                 /* an escalation text shown inline */
    char name[PM_BUNDLE_NAME];
    char *text;
};

struct pm_html_input {
    struct pm_context *ctx;
    const struct pm_run_summary *s;
    const struct pm_html_row *rows;
    size_t nrows;
    uint64_t rows_dropped;
    struct pm_bfind *const *ladders;
    int nladders;
    uint64_t ladders_dropped;
    const struct pm_html_text *texts;
    int ntexts;
    const char *created;              /* RFC 3339 time the bundle was written */
    const char *notes;                /* README notes (caps, unreadable inputs), or "" */
};
int pm_bundle_write_html(FILE *out, const struct pm_html_input *h);
/* One ladder diagram (an <svg> element). */
void pm_bundle_write_ladder(FILE *out, const struct pm_bfind *b);

/* ---- evidence.pcapng (bundle_slice.c) ---- */

struct pm_slice;
struct pm_slice *pm_slice_new(void);
void pm_slice_free(struct pm_slice *s);
/* Add an attempt whose packets go into the slice (context: a successful attempt shown for
 * comparison). `peer` (or NULL) is the same SYN seen at another vantage point, behind a NAT:
 * its translated packets are cut too. `ladder` receives the attempt's own packets as ladder
 * events, or NULL. Returns false when the cap is reached (counted). */
bool pm_slice_add(struct pm_slice *s, const struct pm_attempt *a,
                  const struct pm_link_info *peer, uint32_t id,
                  enum pm_outcome o, enum pm_verdict v, enum pm_owner w, bool context,
                  struct pm_bfind *ladder);
uint64_t pm_slice_dropped(const struct pm_slice *s);
/* Read the captures again and write the matching packets as pcapng (one interface per
 * input file and link type, an EPB comment naming the attempt on each packet). Notes about
 * unreadable inputs and caps are appended to `notes`. Returns 0, or -1 when writing `out`
 * failed (errno set). */
struct pm_redact;
int pm_slice_write(struct pm_slice *s, FILE *out, const char *const *paths, const int *fds,
                   int npaths, struct pm_redact *rx,
                   char *notes, size_t noteslen, uint64_t *written);

/* ---- --redact (bundle_redact.c) ---- */

struct pm_redact;
struct pm_pkt;
struct pm_redact *pm_redact_new(void);
void pm_redact_free(struct pm_redact *r);
/* Mark an address as ours and inside (replaced) or as our public one (never replaced). */
void pm_redact_mark(struct pm_redact *r, const pm_addr *a, bool public);
/* A host name to replace: everywhere it stands as a word (anywhere), or only as the host
 * field of a syslog line. */
void pm_redact_name(struct pm_redact *r, const char *name, bool anywhere);
/* The placeholder of an internal address (true), or false: the address stays. */
bool pm_redact_addr(struct pm_redact *r, const pm_addr *a, pm_addr *out);
/* Rewrite n bytes of text (a line) into *out (grown as needed; *outn its length). */
/* Rewrite n bytes of text (one line) and append them to *out (grown as needed; *outn its
 * length). log_line: a copied MTA log line, whose syslog host field is ours. */
void pm_redact_text(struct pm_redact *r, const char *s, size_t n, bool log_line, char **out,
                    size_t *outn, size_t *outcap);
/* Rewrite a private copy of a frame decoded as p: addresses and checksums. */
void pm_redact_frame(struct pm_redact *r, uint8_t *buf, uint32_t caplen, const struct pm_pkt *p);
/* README.txt's paragraph: what was replaced, by what, how many. */
void pm_redact_describe(const struct pm_redact *r, FILE *out);

/* ---- manifest, signature, verify (bundle_manifest.c) ---- */

struct pm_mf_entry {
    char name[PM_BUNDLE_NAME];
    uint8_t sha[32];
};

#define PM_MANIFEST "MANIFEST.sha256"
#define PM_MANIFEST_SIG "MANIFEST.sig"

/* A name the bundle may hold: [A-Za-z0-9._-], not starting with '.', at most 95 bytes. */
bool pm_bundle_name_ok(const char *name);
void pm_sha256_mem(const void *p, size_t n, uint8_t out[32]);
/* Hash a file from offset 0 (pread: the descriptor's offset is not used). 0 or an errno. */
int pm_sha256_fd(int fd, uint8_t out[32]);
void pm_hex(const uint8_t *b, size_t n, char *out); /* out: 2n+1 bytes */
/* `sha256sum` format, sorted by name (the entries are sorted in place). 0, or -1. */
int pm_manifest_write(FILE *out, struct pm_mf_entry *e, size_t n);
/* Sign msg with a PEM Ed25519 private key; the signature as one line of base64 plus '\n'.
 * Returns 0, or an exit status after writing what failed into err. */
int pm_manifest_sign(const char *keypath, const void *msg, size_t n, char *b64, size_t b64len,
                     char *err, size_t errlen);
/* The same in two steps, so that the key is read and parsed before a privilege drop and
 * used after it (issue 19): load returns the parsed key (an EVP_PKEY) or NULL with err and
 * *status (2: not an Ed25519 private key, 3: unreadable); sign_with uses it. */
void *pm_manifest_key_load(const char *keypath, char *err, size_t errlen, int *status);
int pm_manifest_sign_with(void *key, const char *keyname, const void *msg, size_t n,
                          char *b64, size_t b64len, char *err, size_t errlen);
void pm_manifest_key_free(void *key);
/* Check a bundle directory. Problems are printed to `out`, one per line, named by file.
 * Returns 0 all good, 1 something differs, 3 unreadable (pm_cmd_verify's exit status). */
int pm_verify_bundle(const char *dir, const char *pubkey, FILE *out);

#endif
