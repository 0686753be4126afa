/*
 * probe_run.h — the state of one `portmortem probe` run (include/probe.h), shared by the
 * files that make it up; private to them (not even the unit tests include it):
 *   probe.c        the run: options to DNS to privileged setup to the drop, then per address
 *                  the walk, the test SYN and the SMTP checks, and the conclusion
 *   probe_opts.c   the command line (a table for analyze/opts.c) and --help
 *   probe_setup.c  sources, routes and the capture interface; the capture handle, its BPF
 *                  and the -w / temporary file (capture/handle.c, capture/dump.c)
 *   probe_match.c  the capture loop and the matcher: which captured packet answers which
 *                  probe (keyed ISNs, ICMP quotes), what goes to the engine
 *   probe_print.c  the printers: the probe's JSON objects and text lines
 * The TTL walk's analysis is pure and lives in analyze/walk.c; the per-address conclusion's
 * table in capture/probe_verdict.c.
 */
#ifndef PM_PROBE_RUN_H
#define PM_PROBE_RUN_H

#include <net/if.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <stdio.h>

#include "capture_int.h"
#include "engine.h"
#include "json.h"
#include "probe_int.h"
#include "walk.h"


struct probe_opts {
    const char *target;
    const char *resolver;
    bool no_mx;
    int families;                 /* bit 0 IPv4, bit 1 IPv6 */
    pm_addr source[2];            /* [0] IPv4, [1] IPv6 */
    bool have_source[2];
    const char *iface;
    uint16_t compare[PM_PROBE_MAX_COMPARE];
    int ncompare;
    const char *helo;
    const char *ca;
    pm_ns connect_tmo, step_tmo;
    bool inject, walk;
    int max_ttl, tries, gap_limit;
    pm_ns wait;
    double rate;
    uint32_t max_probes;
    bool allow_loopback;
    pm_addr stale[PM_PROBE_MAX_STALE];
    int nstale;
    const char *wfile;
    const char *user;
    int max_addrs;
};

/* A connect() of the SMTP check, to tell whether its SYN reached the wire. */
struct conntrack {
    pm_addr src, dst;
    uint16_t sport, dport;
    uint8_t syn_seen, synack;
    uint8_t synack_ttl;
};

struct synres {
    bool ran;
    struct pm_tuple t;
    int sent;
    int first_idx;           /* index of its first record in P->sent, -1 */
    char error[200];
};

struct portres {
    uint16_t port;
    bool ran;
    struct pm_smtp_res r;
    int syn_seen;            /* -1 no capture, 0 no, 1 yes */
};

struct addrstate {
    struct pm_taddr ta;
    struct pm_route route;   /* this host's route to it (netlink, capture/hostctx.c) */
    bool routed;
    bool src_ok;
    pm_addr src;
    bool inject_ok;
    char inject_refusal[200];
    int reserve_fd;          /* keeps the raw probes' source port out of the kernel's hands */
    uint16_t probe_port;
    struct pm_walk w;
    struct pm_tuple wt;      /* the walk's 5-tuple: one for every probe */
    struct synres s;
    struct portres p[1 + PM_PROBE_MAX_COMPARE];
    int np;
};

struct prober {
    struct probe_opts o;
    struct pm_engine_config cfg;
    struct pm_engine *eng;
    bool jsonl;
    FILE *out;
    /* capture */
    struct pm_capif cap;     /* capture/handle.c; cap.p NULL: no capture */
    struct pm_dump *dump;    /* -w, or a temporary file for --bundle (capture/dump.c) */
    uint32_t frame;
    char iface[IF_NAMESIZE + 1];
    char label[128];
    /* injection */
    struct pm_injector *inj;
    struct pm_sent *sent;
    struct pm_walk_reply *rep;
    uint32_t nsent, capsent;
    uint64_t replies_rejected;
    uint64_t self_rsts;
    uint64_t hidden;
    /* SMTP */
    struct ssl_ctx_st *tls;
    char helo[PM_DNS_NAME];
    struct conntrack conns[PM_PROBE_MAX_CONNS];
    int nconns;
    uint32_t log_line;
    uint32_t connects;
    /* routes and host context (capture/hostctx.c, shared with `capture`) */
    struct pm_hostctx *hc;
    /* targets */
    struct pm_target tgt;
    struct addrstate *as;
    int nas;
    pm_addr src[2];
    bool have_src[2];
    int failures;
    /* Monotonic time until which the capture must keep running so that every SYN the
     * engine saw go unanswered has been unanswered for PM_NO_RESPONSE_WAIT: stopping
     * earlier would turn a silent drop into "incomplete". */
    pm_ns quiet_until;
};

static inline int fam_idx(uint8_t family) { return family == PM_AF_INET6 ? 1 : 0; }

/* Set by SIGINT/SIGTERM (probe.c): the run winds down. */
extern volatile sig_atomic_t probe_stop;

/* ---- probe_opts.c ---- */
/* 0, -1 after --help (exit 0), or an exit status after a message. */
int probe_parse_args(struct prober *P, int argc, char **argv);

/* ---- probe_setup.c ---- */
/* Append to a bounded string; *o counts what would have been written, so an overflow is
 * visible to the caller (*o >= len) and never written past. */
void probe_append(char *buf, size_t len, size_t *o, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Sources per family, the capture interface, and which addresses can be probed. */
int probe_plan(struct prober *P);
/* 0; -1: no capture (the run may go on without one); -2: -w is unusable (exit 2). */
int probe_open_capture(struct prober *P);
int probe_open_temp_capture(struct prober *P);

/* ---- probe_match.c ---- */
struct conntrack *probe_find_conn(struct prober *P, const pm_addr *dst, uint16_t sport,
                                  uint16_t dport);
typedef bool (*probe_done_fn)(struct prober *P, const void *arg);
/* Wait until fd is ready (fd >= 0), done() holds, or the monotonic deadline passes,
 * capturing and ticking the engine all the while. 1 ready, 2 done, 0 deadline, -1 stop. */
int probe_pump(struct prober *P, int fd, short events, pm_ns deadline, probe_done_fn done,
               const void *arg);
/* pm_wait_fn for the SMTP check (probe_int.h). */
int probe_wait_cb(void *ctx, int fd, short events, pm_ns deadline);

/* ---- probe_print.c ---- */
void probe_txt(struct prober *P, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void probe_jbegin(struct prober *P, struct pm_json *j, const char *check);
void probe_jend(struct prober *P, struct pm_json *j);
void probe_print_dns(struct prober *P, const char *resolver);
void probe_print_stale(struct prober *P);
void probe_print_header(struct prober *P);
void probe_print_smtp(struct prober *P, const struct addrstate *as, const struct portres *pr);
void probe_print_walk(struct prober *P, const struct addrstate *as);
/* r: the test SYN's answer (NULL: none), ridx its index in P->sent; self: our kernel's RST. */
void probe_print_syn(struct prober *P, const struct addrstate *as,
                     const struct pm_walk_reply *r, int ridx, bool self);
void probe_print_ports(struct prober *P, const struct addrstate *as, const char *verdict,
                       const char *text);
void probe_print_run(struct prober *P, const char *privileges, const struct pcap_stat *st,
                     bool have_st);

#endif
