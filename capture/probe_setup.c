/*
 * probe_setup.c — owns what the probe sets up before it sends anything (capture/probe_run.h):
 * the source address per family (--source, or what the route picks), the capture interface
 * (the route's output interface, netlink via capture/hostctx.c), and, as root, the capture
 * handle (capture/handle.c) with a BPF limited to the targets and the ICMP errors quoting
 * them, and the -w or temporary capture file (capture/dump.c).
 */
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "priv.h"
#include "probe_run.h"
#include "util.h"

/* The interface that holds addr (getifaddrs). */
static bool iface_of(const pm_addr *addr, char *name, size_t len)
{
    struct ifaddrs *ifa0 = NULL;
    bool found = false;
    if (getifaddrs(&ifa0) != 0) {
        return false;
    }
    for (struct ifaddrs *i = ifa0; i && !found; i = i->ifa_next) {
        if (!i->ifa_addr) {
            continue;
        }
        pm_addr a;
        memset(&a, 0, sizeof(a));
        if (i->ifa_addr->sa_family == AF_INET) {
            pm_addr_from_v4(&a, (const uint8_t *)&((const struct sockaddr_in *)(const void *)
                                                       i->ifa_addr)->sin_addr);
        } else if (i->ifa_addr->sa_family == AF_INET6) {
            pm_addr_from_v6(&a, ((const struct sockaddr_in6 *)(const void *)i->ifa_addr)
                                    ->sin6_addr.s6_addr);
        } else {
            continue;
        }
        if (pm_addr_eq(&a, addr)) {
            pm_strlcpy(name, i->ifa_name, len);
            found = true;
        }
    }
    freeifaddrs(ifa0);
    return found;
}

/* The source address the kernel would pick towards dst (a UDP connect sends nothing). */
static bool route_source(const pm_addr *dst, pm_addr *src, int *err)
{
    int fam = dst->family == PM_AF_INET6 ? AF_INET6 : AF_INET;
    int fd = socket(fam, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *err = errno;
        return false;
    }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t sl;
    if (fam == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(25);
        memcpy(&s4->sin_addr, dst->b, 4);
        sl = sizeof(*s4);
    } else {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(25);
        memcpy(&s6->sin6_addr, dst->b, 16);
        sl = sizeof(*s6);
    }
    bool ok = false;
    if (connect(fd, (struct sockaddr *)&ss, sl) == 0) {
        struct sockaddr_storage ls;
        socklen_t ll = sizeof(ls);
        if (getsockname(fd, (struct sockaddr *)&ls, &ll) == 0) {
            if (ls.ss_family == AF_INET) {
                pm_addr_from_v4(src, (const uint8_t *)&((struct sockaddr_in *)&ls)->sin_addr);
            } else {
                pm_addr_from_v6(src, ((struct sockaddr_in6 *)&ls)->sin6_addr.s6_addr);
            }
            ok = true;
        }
    } else {
        *err = errno;
    }
    close(fd);
    return ok;
}

void probe_append(char *buf, size_t len, size_t *o, const char *fmt, ...)
{
    if (*o >= len) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *o, len - *o, fmt, ap);
    va_end(ap);
    if (n > 0) {
        *o += (size_t)n;
    }
}

/* The capture's BPF: what the engine needs for our ports, limited to the targets (other
 * traffic of the MTA on this host is not the probe's to report), and the ICMP errors that
 * quote a target as their destination: routers answer from their own addresses, but what
 * they quote names the flow. (The quote's IP header starts after the 8-byte ICMP header; its
 * destination is at offset 16 (IPv4) or 24 (IPv6) of that header.) False when too long. */
static bool capture_filter(const struct prober *P, char *filter, size_t flen)
{
    char base[1024], v4[4096] = "", v6[4096] = "", hosts[4096] = "";
    uint16_t ports[1 + PM_PROBE_MAX_COMPARE];
    int np = 0;
    ports[np++] = 25;
    for (int i = 0; i < P->o.ncompare; i++) {
        ports[np++] = P->o.compare[i];
    }
    pm_engine_filter(ports, np, base, sizeof(base));
    size_t o = 0, o4 = 0, o6 = 0;
    for (int i = 0; i < P->nas; i++) {
        const pm_addr *a = &P->as[i].ta.addr;
        char s[PM_ADDR_STRLEN];
        probe_append(hosts, sizeof(hosts), &o, "%shost %s", o ? " or " : "", pm_addr_str(a, s));
        if (a->family == PM_AF_INET) {
            probe_append(v4, sizeof(v4), &o4, "%sicmp[24:4] == 0x%02x%02x%02x%02x", o4 ? " or " : "",
                   a->b[0], a->b[1], a->b[2], a->b[3]);
            continue;
        }
        probe_append(v6, sizeof(v6), &o6, "%s(", o6 ? " or " : "");
        for (int w = 0; w < 4; w++) {
            probe_append(v6, sizeof(v6), &o6, "%sip6[%d:4] == 0x%02x%02x%02x%02x", w ? " and " : "",
                   72 + 4 * w, a->b[4 * w], a->b[4 * w + 1], a->b[4 * w + 2], a->b[4 * w + 3]);
        }
        probe_append(v6, sizeof(v6), &o6, ")");
    }
    size_t fl = 0;
    probe_append(filter, flen, &fl, "(%s) and (%s%s%s%s%s%s%s)", base, hosts,
           o4 ? " or (icmp and (" : "", v4, o4 ? "))" : "", o6 ? " or (icmp6 and (" : "", v6,
           o6 ? "))" : "");
    return fl < flen && o < sizeof(hosts) && o4 < sizeof(v4) && o6 < sizeof(v6);
}

/* The capture handle (capture/handle.c, as `capture` opens its own) and the -w file
 * (capture/dump.c: no symlink followed, only a regular file, a new one 0600 and handed to the
 * -Z user, an existing one only if ours; issue 19). -1: no capture (the run may go on without
 * one); -2: -w is unusable (exit 2). */
int probe_open_capture(struct prober *P)
{
    static char filter[8192];
    if (!capture_filter(P, filter, sizeof(filter))) {
        pm_err("the capture filter for %d addresses is too long", P->nas);
        pm_hint("probe fewer addresses (--max-addrs)");
        return -1;
    }
    pm_debug("capture filter: %s", filter);
    /* The whole packet (the bundle and -w keep what the probe caused), and immediate
     * delivery: replies must arrive while we wait for them. */
    struct pm_cap_opts co = {.snaplen = PM_PROBE_SNAPLEN, .buffer_kib = PM_PROBE_BUFFER_KIB,
                             .immediate = true, .promisc = false};
    if (pm_capif_open(&P->cap, P->iface, &co, filter) != 0) {
        return -1;
    }
    if (P->o.wfile) {
        const struct passwd *pw = getpwnam(P->o.user ? P->o.user : PM_PRIV_DEFAULT_USER);
        struct pm_dump_opts d = {.path = P->o.wfile,
                                 .owner = pw && geteuid() == 0 ? pw->pw_uid : (uid_t)-1,
                                 .group = pw ? pw->pw_gid : (gid_t)-1};
        /* One interface, no ring: the file is -w's name as given. */
        P->dump = pm_dump_open(P->cap.p, "probe", 1, &d);
        if (!P->dump) {
            return -2;
        }
    }
    return 0;
}

int probe_plan(struct prober *P)
{
    P->nas = P->tgt.naddrs;
    P->as = pm_xcalloc((size_t)(P->nas ? P->nas : 1), sizeof(*P->as));
    for (int i = 0; i < P->nas; i++) {
        struct addrstate *as = &P->as[i];
        as->ta = P->tgt.addrs[i];
        as->reserve_fd = -1;
        int k = fam_idx(as->ta.addr.family);
        if (P->o.have_source[k]) {
            P->src[k] = P->o.source[k];
            P->have_src[k] = true;
        } else if (!P->have_src[k]) {
            int err = 0;
            if (route_source(&as->ta.addr, &P->src[k], &err)) {
                P->have_src[k] = true;
            }
        }
        as->src_ok = P->have_src[k];
        as->src = P->src[k];
        int n = 0;
        for (int c = 0; c < P->o.ncompare && !as->ta.stale; c++) {
            as->p[n++].port = P->o.compare[c];
        }
        as->p[n++].port = 25; /* last: see the file comment */
        as->np = n;
    }
    /* The capture goes where the packets go: the route's output interface (netlink), not
     * the interface that holds the source address (an MTA bound to a loopback alias still
     * sends through eth0). */
    uint16_t ports[1 + PM_PROBE_MAX_COMPARE];
    int np = 0;
    ports[np++] = 25;
    for (int i = 0; i < P->o.ncompare; i++) {
        ports[np++] = P->o.compare[i];
    }
    P->hc = pm_hostctx_new(ports, np);
    char oif[IF_NAMESIZE + 1] = "";
    bool mixed = false;
    for (int i = 0; i < P->nas; i++) {
        struct addrstate *as = &P->as[i];
        as->routed = pm_hostctx_route(P->hc, &as->ta.addr, "probe TARGET", &as->route);
        if (!as->routed || !as->route.oif[0]) {
            continue;
        }
        if (!oif[0]) {
            pm_strlcpy(oif, as->route.oif, sizeof(oif));
        } else if (strcmp(oif, as->route.oif) != 0) {
            mixed = true;
        }
    }
    char a[PM_ADDR_STRLEN];
    for (int k = 0; k < 2; k++) {
        char holder[IF_NAMESIZE + 1] = "";
        if (P->o.have_source[k] && !iface_of(&P->src[k], holder, sizeof(holder))) {
            pm_warn("--source %s is not an address of this host: connects from it will fail "
                    "as the MTA's do (bind: Cannot assign requested address)",
                    pm_addr_str(&P->src[k], a));
        }
        if (!oif[0] && holder[0]) {
            pm_strlcpy(oif, holder, sizeof(oif));
        }
    }
    if (P->o.iface) {
        pm_strlcpy(P->iface, P->o.iface, sizeof(P->iface));
    } else {
        pm_strlcpy(P->iface, oif, sizeof(P->iface));
        if (mixed) {
            pm_warn("the targets are routed through different interfaces; capturing on %s "
                    "only (name another with -i)", P->iface);
        }
    }
    return 0;
}

/* --bundle without -w: the bundle's packet slice needs a capture file, so keep a private
 * one for the run: no name on disk (dump.c, pm_temp_capture: "portmortem-probe-..."), read
 * back through its descriptor. */
int probe_open_temp_capture(struct prober *P)
{
    struct pm_dump_opts d = {.temporary = true, .owner = (uid_t)-1, .group = (gid_t)-1};
    P->dump = pm_dump_open(P->cap.p, "probe", 1, &d);
    if (!P->dump) {
        pm_warn("the bundle will have no packets; give -w FILE");
        return -1;
    }
    return 0;
}

