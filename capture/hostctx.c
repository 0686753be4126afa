/*
 * hostctx.c — owns the host context of a live capture: what the verdicts and the people
 * reading the bundle need to know about the sending host beyond its packets.
 *
 * At start, as root, once: local addresses (getifaddrs), the routing table (netlink
 * RTM_GETROUTE dump; default routes first), the SYN retry sysctls (they set the SYN
 * schedule a silent drop shows), and the nftables / iptables / ip6tables rules and
 * counters that touch the watched ports or drop, reject or translate outbound traffic
 * (the commands are run read-only, with a fixed PATH, a timeout and bounded output; only
 * relevant lines are kept, because a full ruleset of a Docker or Kubernetes host would
 * bury the one rule that matters).
 * During the capture, per new destination (a SYN seen, or an MTA log line naming it): the
 * route the kernel would use (netlink RTM_GETROUTE, like `ip route get`; no privilege
 * needed, so this works after the drop). An on-link destination has 0 routers between us
 * and it: a hop reference for the RST/ICMP origin rules. A gateway route is noted in the
 * text; a prohibit/unreachable route or an error is the local-routing evidence.
 * Everything from the kernel is still parsed with bounds (NLMSG_OK / RTA_OK).
 */
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "capture_int.h"
#include "util.h"


struct sbuf {
    char *p;
    size_t len, cap;
    bool truncated;
};

static void sb_add(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(struct sbuf *b, const char *fmt, ...)
{
    if (b->truncated) {
        return;
    }
    char tmp[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    size_t add = PM_MIN((size_t)n, sizeof(tmp) - 1);
    if (b->len + add + 64 > PM_HC_MAX_TEXT) {
        b->truncated = true;
        add = 0;
    }
    if (b->len + add + 64 > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 8192;
        while (nc < b->len + add + 64) {
            nc *= 2;
        }
        b->p = pm_xreallocarray(b->p, nc, 1);
        b->cap = nc;
    }
    memcpy(b->p + b->len, tmp, add);
    b->len += add;
    if (b->truncated) {
        b->len += (size_t)snprintf(b->p + b->len, 64, "[host context truncated]\n");
    }
    b->p[b->len] = '\0';
}

struct pm_hostctx {
    uint16_t ports[16];
    struct sbuf notes;   /* other lines, added at the end */
    int nports;
    int nl;              /* NETLINK_ROUTE socket, opened at start */
    uint32_t seq;
    struct sbuf start;   /* collected at start */
    struct sbuf routes;  /* per-destination lines */
    struct sbuf all;     /* both, rebuilt by pm_hostctx_text */
    pm_addr *asked;      /* open-addressing set of routed destinations */
    uint32_t nasked;
    uint64_t not_asked;
};

struct pm_hostctx *pm_hostctx_new(const uint16_t *ports, int nports)
{
    struct pm_hostctx *h = pm_xcalloc(1, sizeof(*h));
    h->nports = PM_MIN(nports, (int)PM_ARRAY_LEN(h->ports));
    memcpy(h->ports, ports, sizeof(uint16_t) * (size_t)h->nports);
    h->nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (h->nl >= 0) {
        /* A kernel that never answers must not stall the capture loop. */
        struct timeval tv = {.tv_sec = 0, .tv_usec = 500000};
        setsockopt(h->nl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    }
    h->asked = pm_xcalloc(PM_HC_MAX_DESTS * 2, sizeof(pm_addr));
    return h;
}

void pm_hostctx_free(struct pm_hostctx *h)
{
    if (!h) {
        return;
    }
    if (h->nl >= 0) {
        close(h->nl);
    }
    free(h->start.p);
    free(h->routes.p);
    free(h->notes.p);
    free(h->all.p);
    free(h->asked);
    free(h);
}

/* ---- netlink ---- */

static void addr_from_rta(pm_addr *a, int family, const void *data, size_t len)
{
    memset(a, 0, sizeof(*a));
    if (family == AF_INET && len >= 4) {
        pm_addr_from_v4(a, data);
    } else if (family == AF_INET6 && len >= 16) {
        pm_addr_from_v6(a, data);
    }
}

static const char *rtn_name(unsigned t)
{
    switch (t) {
    case RTN_UNICAST: return "unicast";
    case RTN_LOCAL: return "local";
    case RTN_BROADCAST: return "broadcast";
    case RTN_ANYCAST: return "anycast";
    case RTN_MULTICAST: return "multicast";
    case RTN_BLACKHOLE: return "blackhole";
    case RTN_UNREACHABLE: return "unreachable";
    case RTN_PROHIBIT: return "prohibit";
    case RTN_THROW: return "throw";
    case RTN_NAT: return "nat";
    default: return "other";
    }
}

struct route_attrs {
    unsigned char family, dst_len, type, table;
    unsigned flags;
    pm_addr dst, gw, prefsrc;
    bool has_dst, has_gw, has_prefsrc;
    int oif;
    uint32_t table32, priority;
};

static void parse_route(const struct nlmsghdr *nh, struct route_attrs *r)
{
    memset(r, 0, sizeof(*r));
    const struct rtmsg *rtm = NLMSG_DATA(nh);
    r->family = rtm->rtm_family;
    r->dst_len = rtm->rtm_dst_len;
    r->type = rtm->rtm_type;
    r->table = rtm->rtm_table;
    r->table32 = rtm->rtm_table;
    r->flags = rtm->rtm_flags;
    int len = (int)nh->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*rtm));
    for (const struct rtattr *a = RTM_RTA(rtm); len > 0 && RTA_OK(a, len); a = RTA_NEXT(a, len)) {
        size_t al = RTA_PAYLOAD(a);
        switch (a->rta_type) {
        case RTA_DST:
            addr_from_rta(&r->dst, r->family, RTA_DATA(a), al);
            r->has_dst = r->dst.family != 0;
            break;
        case RTA_GATEWAY:
            addr_from_rta(&r->gw, r->family, RTA_DATA(a), al);
            r->has_gw = r->gw.family != 0;
            break;
        case RTA_VIA: /* IPv4 route via an IPv6 next hop (RFC 5549) */
            if (al >= sizeof(struct rtvia)) {
                const struct rtvia *v = RTA_DATA(a);
                addr_from_rta(&r->gw, v->rtvia_family, v->rtvia_addr, al - sizeof(*v));
                r->has_gw = r->gw.family != 0;
            }
            break;
        case RTA_PREFSRC:
            addr_from_rta(&r->prefsrc, r->family, RTA_DATA(a), al);
            r->has_prefsrc = r->prefsrc.family != 0;
            break;
        case RTA_OIF:
            if (al >= sizeof(int)) {
                memcpy(&r->oif, RTA_DATA(a), sizeof(int));
            }
            break;
        case RTA_TABLE:
            if (al >= sizeof(uint32_t)) {
                memcpy(&r->table32, RTA_DATA(a), sizeof(uint32_t));
            }
            break;
        case RTA_PRIORITY:
            if (al >= sizeof(uint32_t)) {
                memcpy(&r->priority, RTA_DATA(a), sizeof(uint32_t));
            }
            break;
        default:
            break;
        }
    }
}

static void route_words(const struct route_attrs *r, char *buf, size_t len)
{
    char a[PM_ADDR_STRLEN], ifn[IF_NAMESIZE] = "";
    size_t o = 0;
    if (r->type != RTN_UNICAST) {
        o += (size_t)snprintf(buf + o, len - o, "%s ", rtn_name(r->type));
    }
    if (r->has_dst) {
        o += (size_t)snprintf(buf + o, len - o, "%s/%u", pm_addr_str(&r->dst, a), r->dst_len);
    } else if (o < len) {
        o += (size_t)snprintf(buf + o, len - o, "default");
    }
    if (r->has_gw && o < len) {
        o += (size_t)snprintf(buf + o, len - o, " via %s", pm_addr_str(&r->gw, a));
    }
    if (r->oif > 0 && if_indextoname((unsigned)r->oif, ifn) && o < len) {
        o += (size_t)snprintf(buf + o, len - o, " dev %s", ifn);
    }
    if (r->has_prefsrc && o < len) {
        o += (size_t)snprintf(buf + o, len - o, " src %s", pm_addr_str(&r->prefsrc, a));
    }
    if (r->table32 != RT_TABLE_MAIN && o < len) {
        o += (size_t)snprintf(buf + o, len - o, " table %u", r->table32);
    }
    if (r->priority && o < len) {
        snprintf(buf + o, len - o, " metric %u", r->priority);
    }
}

/* Receive one netlink reply into buf; returns bytes or -1. */
static ssize_t nl_recv(int fd, void *buf, size_t len)
{
    for (;;) {
        ssize_t n = recv(fd, buf, len, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        return n;
    }
}

static void dump_routes(struct pm_hostctx *h, int family)
{
    struct {
        struct nlmsghdr n;
        struct rtmsg r;
    } req;
    memset(&req, 0, sizeof(req));
    req.n.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
    req.n.nlmsg_type = RTM_GETROUTE;
    req.n.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    req.n.nlmsg_seq = ++h->seq;
    req.r.rtm_family = (unsigned char)family;
    if (send(h->nl, &req, req.n.nlmsg_len, 0) < 0) {
        sb_add(&h->start, "  (route dump failed: %s)\n", strerror(errno));
        return;
    }
    static char buf[65536];
    int lines = 0;
    bool done = false;
    char defaults[4096] = "";
    size_t dlen = 0;
    struct sbuf rest = {0};
    while (!done) {
        ssize_t n = nl_recv(h->nl, buf, sizeof(buf));
        if (n <= 0) {
            sb_add(&h->start, "  (route dump incomplete: %s)\n", n < 0 ? strerror(errno) : "EOF");
            break;
        }
        int len = (int)n;
        for (struct nlmsghdr *nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (unsigned)len);
             nh = NLMSG_NEXT(nh, len)) {
            if (nh->nlmsg_seq != h->seq) {
                continue;
            }
            if (nh->nlmsg_type == NLMSG_DONE) {
                done = true;
                break;
            }
            if (nh->nlmsg_type == NLMSG_ERROR) {
                done = true;
                break;
            }
            if (nh->nlmsg_type != RTM_NEWROUTE ||
                nh->nlmsg_len < NLMSG_LENGTH(sizeof(struct rtmsg))) {
                continue;
            }
            struct route_attrs r;
            parse_route(nh, &r);
            /* The local and broadcast table is the kernel's own bookkeeping; cached
             * IPv6 clones and multicast/link-local prefixes say nothing about SMTP. */
            if (r.table32 == RT_TABLE_LOCAL || (r.flags & RTM_F_CLONED) ||
                r.type == RTN_MULTICAST || r.type == RTN_BROADCAST || r.type == RTN_LOCAL) {
                continue;
            }
            if (r.family == AF_INET6 && r.has_dst &&
                (r.dst.b[0] == 0xff || (r.dst.b[0] == 0xfe && (r.dst.b[1] & 0xc0) == 0x80))) {
                continue;
            }
            char w[256];
            route_words(&r, w, sizeof(w));
            if (++lines > PM_HC_MAX_ROUTE_LINES) {
                continue;
            }
            if (!r.has_dst || r.dst_len == 0) {
                dlen += (size_t)snprintf(defaults + dlen, sizeof(defaults) - PM_MIN(dlen, sizeof(defaults)),
                                         "  %s %s   <- default route\n",
                                         family == AF_INET ? "ipv4" : "ipv6", w);
                dlen = PM_MIN(dlen, sizeof(defaults) - 1);
            } else {
                sb_add(&rest, "  %s %s\n", family == AF_INET ? "ipv4" : "ipv6", w);
            }
        }
    }
    if (!defaults[0]) {
        sb_add(&h->start, "  %s: NO default route\n", family == AF_INET ? "ipv4" : "ipv6");
    } else {
        sb_add(&h->start, "%s", defaults);
    }
    if (rest.p) {
        /* sb_add bounds one call to 2 KiB: copy line by line. */
        char *save = NULL;
        for (char *l = strtok_r(rest.p, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
            sb_add(&h->start, "%s\n", l);
        }
        free(rest.p);
    }
    if (lines > PM_HC_MAX_ROUTE_LINES) {
        sb_add(&h->start, "  (%d more routes not shown)\n", lines - PM_HC_MAX_ROUTE_LINES);
    }
}

/* One RTM_GETROUTE for dst, like `ip route get`. */
static void route_get(struct pm_hostctx *h, const pm_addr *dst, struct pm_route *out)
{
    memset(out, 0, sizeof(*out));
    if (h->nl < 0) {
        snprintf(out->text, sizeof(out->text), "route lookup unavailable (no netlink socket)");
        return;
    }
    struct {
        struct nlmsghdr n;
        struct rtmsg r;
        char attrs[64];
    } req;
    memset(&req, 0, sizeof(req));
    int alen = dst->family == PM_AF_INET ? 4 : 16;
    req.n.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
    req.n.nlmsg_type = RTM_GETROUTE;
    req.n.nlmsg_flags = NLM_F_REQUEST;
    req.n.nlmsg_seq = ++h->seq;
    req.r.rtm_family = dst->family == PM_AF_INET ? AF_INET : AF_INET6;
    req.r.rtm_dst_len = (unsigned char)(alen * 8);
    struct rtattr *rta = (struct rtattr *)((char *)&req + NLMSG_ALIGN(req.n.nlmsg_len));
    rta->rta_type = RTA_DST;
    rta->rta_len = (unsigned short)RTA_LENGTH(alen);
    memcpy(RTA_DATA(rta), dst->b, (size_t)alen);
    req.n.nlmsg_len = NLMSG_ALIGN(req.n.nlmsg_len) + RTA_ALIGN(rta->rta_len);
    if (send(h->nl, &req, req.n.nlmsg_len, 0) < 0) {
        snprintf(out->text, sizeof(out->text), "route lookup failed: %s", strerror(errno));
        return;
    }
    char buf[8192];
    for (int tries = 0; tries < 4; tries++) {
        ssize_t n = nl_recv(h->nl, buf, sizeof(buf));
        if (n <= 0) {
            snprintf(out->text, sizeof(out->text), "route lookup got no answer: %s",
                     n < 0 ? strerror(errno) : "EOF");
            return;
        }
        int len = (int)n;
        for (struct nlmsghdr *nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (unsigned)len);
             nh = NLMSG_NEXT(nh, len)) {
            if (nh->nlmsg_seq != h->seq) {
                continue; /* a late answer to an earlier, timed-out question */
            }
            if (nh->nlmsg_type == NLMSG_ERROR &&
                nh->nlmsg_len >= NLMSG_LENGTH(sizeof(struct nlmsgerr))) {
                const struct nlmsgerr *e = NLMSG_DATA(nh);
                /* The kernel's own answer for prohibit/unreachable/blackhole routes and
                 * for no route at all: exactly the errno the MTA will log. */
                out->kind = PM_RT_REFUSED;
                snprintf(out->text, sizeof(out->text), "no usable route: %s (%s)",
                         strerror(-e->error),
                         e->error == -EACCES        ? "a prohibit route"
                         : e->error == -EHOSTUNREACH ? "an unreachable route"
                         : e->error == -ENETUNREACH  ? "no matching route"
                         : e->error == -EINVAL       ? "a blackhole route"
                                                     : "the kernel's answer");
                return;
            }
            if (nh->nlmsg_type != RTM_NEWROUTE ||
                nh->nlmsg_len < NLMSG_LENGTH(sizeof(struct rtmsg))) {
                continue;
            }
            struct route_attrs r;
            parse_route(nh, &r);
            char ifn[IF_NAMESIZE] = "";
            if (r.oif > 0 && if_indextoname((unsigned)r.oif, ifn)) {
                pm_strlcpy(out->oif, ifn, sizeof(out->oif));
            }
            char w[256], g[PM_ADDR_STRLEN], s[PM_ADDR_STRLEN];
            route_words(&r, w, sizeof(w));
            if (r.type == RTN_LOCAL) {
                out->kind = PM_RT_LOCAL;
                snprintf(out->text, sizeof(out->text), "a local address of this host");
            } else if (r.type != RTN_UNICAST) {
                out->kind = PM_RT_REFUSED;
                snprintf(out->text, sizeof(out->text), "%s route (%s)", rtn_name(r.type), w);
            } else if (r.has_gw) {
                out->kind = PM_RT_GATEWAY;
                out->gateway = r.gw;
                snprintf(out->text, sizeof(out->text), "via gateway %s dev %s%s%s",
                         pm_addr_str(&r.gw, g), ifn[0] ? ifn : "?",
                         r.has_prefsrc ? " src " : "",
                         r.has_prefsrc ? pm_addr_str(&r.prefsrc, s) : "");
            } else {
                out->kind = PM_RT_ONLINK;
                snprintf(out->text, sizeof(out->text),
                         "on-link dev %s%s%s (0 routers: hop reference)", ifn[0] ? ifn : "?",
                         r.has_prefsrc ? " src " : "",
                         r.has_prefsrc ? pm_addr_str(&r.prefsrc, s) : "");
            }
            return;
        }
    }
    snprintf(out->text, sizeof(out->text), "route lookup: no matching answer");
}

static uint32_t addr_hash(const pm_addr *a)
{
    uint32_t x = 2166136261u;
    x = (x ^ a->family) * 16777619u;
    for (int i = 0; i < 16; i++) {
        x = (x ^ a->b[i]) * 16777619u;
    }
    return x;
}

bool pm_hostctx_route(struct pm_hostctx *h, const pm_addr *dst, const char *why,
                      struct pm_route *out)
{
    if (dst->family != PM_AF_INET && dst->family != PM_AF_INET6) {
        return false;
    }
    uint32_t cap = PM_HC_MAX_DESTS * 2;
    uint32_t i = addr_hash(dst) & (cap - 1);
    while (h->asked[i].family) {
        if (pm_addr_eq(&h->asked[i], dst)) {
            return false;
        }
        i = (i + 1) & (cap - 1);
    }
    if (h->nasked >= PM_HC_MAX_DESTS) {
        h->not_asked++;
        return false;
    }
    h->asked[i] = *dst;
    h->nasked++;
    route_get(h, dst, out);
    char a[PM_ADDR_STRLEN], t[32];
    sb_add(&h->routes, "  %s %s (first seen in %s): %s\n",
           pm_time_short(pm_now_realtime(), t, sizeof(t)), pm_addr_str(dst, a), why, out->text);
    return true;
}

/* ---- commands: nft, iptables-save, ip6tables-save ---- */

static const char *find_tool(const char *name, char *buf, size_t len)
{
    static const char *const dirs[] = {"/usr/sbin", "/sbin", "/usr/bin", "/bin"};
    for (size_t i = 0; i < PM_ARRAY_LEN(dirs); i++) {
        snprintf(buf, len, "%s/%s", dirs[i], name);
        if (access(buf, X_OK) == 0) {
            return buf;
        }
    }
    return NULL;
}

/* Run argv (argv[0] an absolute path) with a clean environment, stdin from /dev/null,
 * stdout+stderr into *out (bounded), killed after timeout_ms. Returns the wait status, or
 * -1 if it could not run; *timed_out says if it was killed. */
static int run_cmd(char *const argv[], int timeout_ms, char **out, size_t *outlen,
                   bool *timed_out)
{
    *out = NULL;
    *outlen = 0;
    *timed_out = false;
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0) {
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        close(pfd[0]);
        close(pfd[1]);
        return -1;
    }
    if (pid == 0) {
        /* Child: only async-signal-safe calls from here to execve. */
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) {
            dup2(devnull, 0);
        }
        dup2(pfd[1], 1);
        dup2(pfd[1], 2);
        /* Capture handles, log and -w files are not the tool's business. */
        for (int fd = 3; fd < 1024; fd++) {
            close(fd);
        }
        signal(SIGPIPE, SIG_DFL); /* the tool ignores it (main.c); the command need not */
        static char env_path[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
        static char env_lc[] = "LC_ALL=C";
        char *envp[] = {env_path, env_lc, NULL};
        execve(argv[0], argv, envp);
        _exit(127);
    }
    close(pfd[1]);
    size_t cap = 65536, len = 0;
    char *buf = pm_xmalloc(cap);
    pm_ns deadline = pm_now_monotonic() + PM_MS(timeout_ms);
    for (;;) {
        pm_ns left = deadline - pm_now_monotonic();
        if (left <= 0) {
            *timed_out = true;
            break;
        }
        struct pollfd p = {.fd = pfd[0], .events = POLLIN};
        int pr = poll(&p, 1, (int)(left / PM_NS_PER_MS) + 1);
        if (pr < 0 && errno == EINTR) {
            continue;
        }
        if (pr <= 0) {
            continue;
        }
        if (len + 4096 > cap && cap < PM_HC_MAX_CMD_OUT) {
            cap *= 2;
            buf = pm_xreallocarray(buf, cap, 1);
        }
        size_t room = cap - len - 1;
        if (room == 0) {
            char sink[4096]; /* over the bound: keep draining so the child can finish */
            if (read(pfd[0], sink, sizeof(sink)) <= 0) {
                break;
            }
            continue;
        }
        ssize_t n = read(pfd[0], buf + len, room);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        len += (size_t)n;
    }
    close(pfd[0]);
    int status = 0;
    if (*timed_out) {
        kill(pid, SIGKILL);
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    buf[len] = '\0';
    *out = buf;
    *outlen = len;
    return status;
}

/* Service names iptables/nft print for our ports. */
static int port_of_word(const char *w, size_t n)
{
    static const struct {
        const char *name;
        int port;
    } names[] = {{"smtp", 25}, {"submission", 587}, {"submissions", 465}, {"smtps", 465},
                 {"ssmtp", 465}, {"urd", 465}};
    for (size_t i = 0; i < PM_ARRAY_LEN(names); i++) {
        if (strlen(names[i].name) == n && !strncmp(w, names[i].name, n)) {
            return names[i].port;
        }
    }
    if (n == 0 || n > 5) {
        return -1;
    }
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (w[i] < '0' || w[i] > '9') {
            return -1;
        }
        v = v * 10 + (w[i] - '0');
    }
    return v <= 65535 ? v : -1;
}

static bool watched(int port, const uint16_t *ports, int nports)
{
    for (int i = 0; i < nports; i++) {
        if (ports[i] == port) {
            return true;
        }
    }
    return false;
}

/* One port item: "25", "smtp", "1:1024" (iptables), "1-1024" (nft). */
static bool item_matches(const char *w, size_t n, const uint16_t *ports, int nports)
{
    for (size_t i = 0; i < n; i++) {
        if (w[i] == ':' || w[i] == '-') {
            int lo = port_of_word(w, i);
            int hi = port_of_word(w + i + 1, n - i - 1);
            if (i == 0) {
                lo = 0; /* iptables ":1024" */
            }
            if (i + 1 == n) {
                hi = 65535; /* iptables "1024:" */
            }
            if (lo < 0 || hi < 0) {
                return false;
            }
            for (int k = 0; k < nports; k++) {
                if (ports[k] >= lo && ports[k] <= hi) {
                    return true;
                }
            }
            return false;
        }
    }
    int p = port_of_word(w, n);
    return p >= 0 && watched(p, ports, nports);
}

bool pm_fw_line_mentions_port(const char *line, const uint16_t *ports, int nports)
{
    /* iptables: --dport 25, --sport 25, --dports 25,587, --destination-port ...;
     * nft: tcp dport 25, th dport { 25, 465 }, dport 1-1024, dport != 25. */
    const char *p = line;
    while ((p = strstr(p, "port")) != NULL) {
        /* dport, sport, --dport(s), --destination-port; not "report" or "transport". */
        char before = p == line ? ' ' : p[-1];
        if (before != 'd' && before != 's' && before != '-' && before != ' ' &&
            before != '\t') {
            p += 4;
            continue;
        }
        if (before == 's' && p - line >= 5 && !strncmp(p - 5, "trans", 5)) {
            p += 4;
            continue;
        }
        const char *q = p + 4;
        if (*q == 's') {
            q++;
        }
        if (*q != ' ' && *q != '\t') {
            p += 4;
            continue;
        }
        while (*q == ' ' || *q == '\t') {
            q++;
        }
        if (*q == '!' && q[1] == '=') { /* nft negation: still about our port */
            q += 2;
            while (*q == ' ') {
                q++;
            }
        } else if (*q == '!') {
            q++;
            while (*q == ' ') {
                q++;
            }
        }
        bool set = *q == '{';
        if (set) {
            q++;
        }
        for (;;) {
            while (*q == ' ' || *q == ',') {
                q++;
            }
            const char *w = q;
            while (*q && *q != ' ' && *q != ',' && *q != '}' && *q != '\t') {
                q++;
            }
            if (q > w && item_matches(w, (size_t)(q - w), ports, nports)) {
                return true;
            }
            if (!set && *q != ',') {
                break; /* iptables lists are comma-joined without spaces */
            }
            if (*q == '}' || *q == '\0' || q == w) {
                break;
            }
        }
        p += 4;
    }
    return false;
}

static bool has_word(const char *line, const char *w)
{
    size_t n = strlen(w);
    for (const char *p = strstr(line, w); p; p = strstr(p + 1, w)) {
        bool left = p == line || p[-1] == ' ' || p[-1] == '\t';
        bool right = p[n] == '\0' || p[n] == ' ' || p[n] == ';' || p[n] == '\n';
        if (left && right) {
            return true;
        }
    }
    return false;
}

/* iptables-save -c: keep table headers, built-in chain policies with counters, rules that
 * name a watched port, and outbound drop/reject/NAT rules that name no port at all (a
 * "-A OUTPUT -j DROP" stops port 25 as surely as one that names it). */
static void filter_iptables(struct sbuf *b, char *text, const uint16_t *ports, int nports)
{
    int kept = 0, skipped = 0;
    if (!strstr(text, "-A ") && !strchr(text, '*')) {
        sb_add(b, "  (no rules loaded)\n");
        return;
    }
    char *save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        bool keep = false;
        if (l[0] == '*' || (l[0] == ':' && !strstr(l, " - "))) {
            keep = true;
        } else if (strstr(l, "-A ")) {
            bool outbound = strstr(l, "-A OUTPUT ") || strstr(l, "-A FORWARD ") ||
                            strstr(l, "-A POSTROUTING ");
            bool action = strstr(l, "-j DROP") || strstr(l, "-j REJECT") ||
                          strstr(l, "-j SNAT") || strstr(l, "-j MASQUERADE") ||
                          strstr(l, "-j NFQUEUE") || strstr(l, "-j TARPIT");
            bool any_port = strstr(l, "port") != NULL;
            keep = pm_fw_line_mentions_port(l, ports, nports) || (outbound && action && !any_port);
        }
        if (!keep) {
            continue;
        }
        if (kept++ >= PM_HC_MAX_FW_LINES) {
            skipped++;
            continue;
        }
        sb_add(b, "  %.1500s\n", l);
    }
    if (skipped) {
        sb_add(b, "  (%d more relevant lines not shown)\n", skipped);
    }
}

/* nft -a list ruleset: keep table/chain lines and base-chain hooks and policies (the
 * structure a rule needs to be read), rules that name a watched port, and in output,
 * forward and postrouting hooks the rules that drop, reject or translate without naming
 * a port. */
static void filter_nft(struct sbuf *b, char *text, const uint16_t *ports, int nports)
{
    int kept = 0, skipped = 0;
    if (!strstr(text, "table ")) {
        sb_add(b, "  (empty ruleset)\n");
        return;
    }
    bool outbound_hook = false;
    char *save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        const char *t = l;
        while (*t == ' ' || *t == '\t') {
            t++;
        }
        bool keep = false;
        if (!strncmp(t, "table ", 6)) {
            keep = true;
            outbound_hook = false;
        } else if (!strncmp(t, "chain ", 6)) {
            keep = true;
            outbound_hook = false;
        } else if (!strncmp(t, "type ", 5) && strstr(t, " hook ")) {
            keep = true;
            outbound_hook = strstr(t, "hook output") || strstr(t, "hook forward") ||
                            strstr(t, "hook postrouting");
        } else if (t[0] && t[0] != '}') {
            bool action = has_word(t, "drop") || has_word(t, "reject") ||
                          strstr(t, "reject with") || has_word(t, "masquerade") ||
                          strstr(t, "snat ") || strstr(t, "queue");
            bool any_port = strstr(t, "port") != NULL;
            keep = pm_fw_line_mentions_port(t, ports, nports) ||
                   (outbound_hook && action && !any_port);
        }
        if (!keep) {
            continue;
        }
        if (kept++ >= PM_HC_MAX_FW_LINES) {
            skipped++;
            continue;
        }
        sb_add(b, "  %.1500s\n", l);
    }
    if (skipped) {
        sb_add(b, "  (%d more relevant lines not shown)\n", skipped);
    }
}

/* args: up to 3 arguments after the tool, NULL-terminated. */
static void firewall(struct pm_hostctx *h, const char *tool, const char *const *args, bool nft,
                     int timeout_ms)
{
    char path[128];
    if (!find_tool(tool, path, sizeof(path))) {
        sb_add(&h->start, "## %s: not installed\n", tool);
        return;
    }
    char *argv[5] = {path, NULL, NULL, NULL, NULL};
    char argbuf[3][32];
    char words[128] = "";
    size_t wo = 0;
    for (int i = 0; i < 3 && args[i]; i++) {
        pm_strlcpy(argbuf[i], args[i], sizeof(argbuf[i])); /* execve wants char *: copies */
        argv[i + 1] = argbuf[i];
        wo += (size_t)snprintf(words + wo, sizeof(words) - PM_MIN(wo, sizeof(words)), " %s",
                               args[i]);
        wo = PM_MIN(wo, sizeof(words) - 1);
    }
    char *out;
    size_t len;
    bool timed_out;
    int st = run_cmd(argv, timeout_ms, &out, &len, &timed_out);
    sb_add(&h->start, "## %s%s (lines about ports", tool, words);
    for (int i = 0; i < h->nports; i++) {
        sb_add(&h->start, "%s%u", i ? "," : " ", h->ports[i]);
    }
    sb_add(&h->start, ", outbound drops/rejects and NAT)\n");
    if (st < 0) {
        sb_add(&h->start, "  (could not run: %s)\n", strerror(errno));
    } else if (timed_out) {
        sb_add(&h->start, "  (killed after %d ms: output below may be partial)\n", timeout_ms);
    } else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        /* e.g. not root: "Operation not permitted"; iptables without the kernel module. */
        char first[300];
        pm_sanitize(first, sizeof(first), (const uint8_t *)out, PM_MIN(len, (size_t)240));
        sb_add(&h->start, "  (exit status %d: %s)\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1,
               first);
        free(out);
        return;
    }
    if (out) {
        if (nft) {
            filter_nft(&h->start, out, h->ports, h->nports);
        } else {
            filter_iptables(&h->start, out, h->ports, h->nports);
        }
    }
    free(out);
}

/* ---- addresses and sysctls ---- */

static int prefix_len(const struct sockaddr *mask)
{
    if (!mask) {
        return -1;
    }
    const uint8_t *b;
    size_t n;
    if (mask->sa_family == AF_INET) {
        b = (const uint8_t *)&((const struct sockaddr_in *)(const void *)mask)->sin_addr;
        n = 4;
    } else if (mask->sa_family == AF_INET6) {
        b = (const uint8_t *)&((const struct sockaddr_in6 *)(const void *)mask)->sin6_addr;
        n = 16;
    } else {
        return -1;
    }
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        for (int k = 7; k >= 0; k--) {
            bits += (b[i] >> k) & 1;
        }
    }
    return bits;
}

static void addresses(struct pm_hostctx *h)
{
    struct ifaddrs *ifa0;
    sb_add(&h->start, "## addresses (getifaddrs)\n");
    if (getifaddrs(&ifa0) != 0) {
        sb_add(&h->start, "  (getifaddrs failed: %s)\n", strerror(errno));
        return;
    }
    for (struct ifaddrs *i = ifa0; i; i = i->ifa_next) {
        if (!i->ifa_addr || (i->ifa_addr->sa_family != AF_INET &&
                             i->ifa_addr->sa_family != AF_INET6)) {
            continue;
        }
        pm_addr a;
        if (i->ifa_addr->sa_family == AF_INET) {
            pm_addr_from_v4(&a, (const uint8_t *)&((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr);
        } else {
            memset(&a, 0, sizeof(a));
            pm_addr_from_v6(&a, (const uint8_t *)&((struct sockaddr_in6 *)(void *)i->ifa_addr)->sin6_addr);
        }
        char s[PM_ADDR_STRLEN];
        sb_add(&h->start, "  %-12s %s/%d%s%s\n", i->ifa_name, pm_addr_str(&a, s),
               prefix_len(i->ifa_netmask), (i->ifa_flags & IFF_UP) ? "" : " (DOWN)",
               (i->ifa_flags & IFF_LOOPBACK) ? " (loopback)" : "");
    }
    freeifaddrs(ifa0);
}

static void sysctl_line(struct pm_hostctx *h, const char *name)
{
    char path[160], v[64] = "";
    snprintf(path, sizeof(path), "/proc/sys/%s", name);
    for (char *c = path + 10; *c; c++) {
        if (*c == '.') {
            *c = '/';
        }
    }
    FILE *f = fopen(path, "re");
    if (!f) {
        sb_add(&h->start, "  %s: (not on this kernel)\n", name);
        return;
    }
    if (!fgets(v, sizeof(v), f)) {
        v[0] = '\0';
    }
    fclose(f);
    v[strcspn(v, "\n")] = '\0';
    sb_add(&h->start, "  %s = %s\n", name, v);
}

void pm_hostctx_collect(struct pm_hostctx *h, int timeout_ms)
{
    struct utsname u;
    char t[40];
    sb_add(&h->start, "# host context of portmortem capture, read at %s as uid %u\n",
           pm_time_str(pm_now_realtime(), t, sizeof(t)), (unsigned)geteuid());
    if (uname(&u) == 0) {
        sb_add(&h->start, "host %s, kernel %s %s\n", u.nodename, u.sysname, u.release);
    }
    addresses(h);
    sb_add(&h->start, "## routes (netlink, all tables but local)\n");
    if (h->nl < 0) {
        sb_add(&h->start, "  (no netlink socket: %s)\n", strerror(errno));
    } else {
        dump_routes(h, AF_INET);
        dump_routes(h, AF_INET6);
    }
    sb_add(&h->start, "## SYN retry schedule (sets how long a silent drop shows SYNs)\n");
    sysctl_line(h, "net.ipv4.tcp_syn_retries");
    sysctl_line(h, "net.ipv4.tcp_syn_linear_timeouts");
    static const char *const nft_args[] = {"-a", "list", "ruleset", NULL};
    static const char *const save_args[] = {"-c", NULL};
    firewall(h, "nft", nft_args, true, timeout_ms);
    firewall(h, "iptables-save", save_args, false, timeout_ms);
    firewall(h, "ip6tables-save", save_args, false, timeout_ms);
}

void pm_hostctx_note(struct pm_hostctx *h, const char *line)
{
    sb_add(&h->notes, "  %.1900s\n", line);
}

const char *pm_hostctx_text(struct pm_hostctx *h)
{
    h->all.len = 0;
    h->all.truncated = false;
    if (h->all.p) {
        h->all.p[0] = '\0';
    }
    /* Copy line by line (sb_add bounds one call). */
    const struct sbuf *parts[3] = {&h->start, &h->routes, &h->notes};
    for (int k = 0; k < 3; k++) {
        if (k == 1) {
            sb_add(&h->all, "## routes to the destinations, as they appeared (RTM_GETROUTE)\n");
            if (!h->routes.p) {
                sb_add(&h->all, "  (none)\n");
            }
        } else if (k == 2 && h->notes.p) {
            sb_add(&h->all, "## the capture\n");
        }
        const char *p = parts[k]->p;
        while (p && *p) {
            const char *nl = strchr(p, '\n');
            size_t n = nl ? (size_t)(nl - p) : strlen(p);
            sb_add(&h->all, "%.*s\n", (int)PM_MIN(n, (size_t)1900), p);
            p = nl ? nl + 1 : NULL;
        }
    }
    if (h->not_asked) {
        sb_add(&h->all, "  (%llu more destinations not looked up: table full)\n",
               (unsigned long long)h->not_asked);
    }
    return h->all.p ? h->all.p : "";
}
