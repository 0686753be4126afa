/*
 * handle.c — owns the live capture handles: one libpcap handle per -i interface,
 * configured for what the analysis needs and nothing more, with failures explained.
 *
 * Choices (docs/CAPTURE.md has the reasoning in full):
 *  - snaplen 512 by default: the largest header stack we decode (Ethernet + 802.1Q +
 *    IPv6 + extension headers + TCP with 40 bytes of options, about 180 bytes), or an ICMP
 *    error with the quoted IP and TCP header of our SYN (about 160), still leaves 300+
 *    bytes of payload for the SMTP greeting and the first replies (the engine keeps 200
 *    bytes of a banner). The BPF filter already limits packets to the SMTP ports and ICMP
 *    errors, so the larger snaplen costs ring space only for those.
 *  - buffer (-B) 32 MiB by default: at 512 bytes a slot that holds about 55,000 packets, a
 *    quarter of a second of a 200,000 packets/s SYN+RST flood while the reader is off the CPU
 *    (make bench, live-flood: at 8 MiB a loaded 2-core machine lost 10% of such a flood that
 *    tcpdump kept whole; at 32 MiB nothing; docs/PERFORMANCE.md), and any burst of
 *    thousands of SYNs after `postqueue -f` without loss. The kernel's drop counts are in
 *    the summary and said at once on standard error (live.c): an undersized ring shows.
 *  - immediate mode on by default: after the kernel filter, SMTP traffic is sparse, so a
 *    wake-up per packet costs little, verdicts stream at once and the merge of several
 *    interfaces sees packets nearly in arrival order. libpcap then uses TPACKET_V2;
 *    `--no-immediate` keeps its default TPACKET_V3 ring, which hands over whole blocks
 *    when they fill or after PM_CAP_BLOCK_TIMEOUT_MS: fewer wake-ups for a busy relay.
 *  - not promiscuous: the host's own connections are what we explain.
 *  - nanosecond timestamps where the kernel offers them (pcap files written with -w keep
 *    them; the offline reader accepts both).
 *  - the filter is pm_engine_filter()'s, plus `or (vlan and (...))` on Ethernet so tagged
 *    frames on a trunk are kept too.
 */
#include <errno.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "capture_int.h"
#include "decode.h"
#include "util.h"

void pm_capif_list(char *buf, size_t len)
{
    struct if_nameindex *ni = if_nameindex();
    size_t o = 0;
    buf[0] = '\0';
    if (!ni) {
        snprintf(buf, len, "(cannot list: %s)", strerror(errno));
        return;
    }
    for (struct if_nameindex *i = ni; i->if_index != 0 && i->if_name && o < len; i++) {
        o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? ", " : "", i->if_name);
    }
    if_freenameindex(ni);
}

static bool is_loopback(const char *name)
{
    if (!strcmp(name, "any")) {
        return false; /* per packet: the cooked header's hatype says it */
    }
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        return !strcmp(name, "lo");
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    pm_strlcpy(ifr.ifr_name, name, sizeof(ifr.ifr_name));
    bool loop = ioctl(s, SIOCGIFFLAGS, &ifr) == 0 ? (ifr.ifr_flags & IFF_LOOPBACK) != 0
                                                   : !strcmp(name, "lo");
    close(s);
    return loop;
}

static int activate_error(struct pm_capif *c, int rc)
{
    const char *why = pcap_geterr(c->p);
    char list[512];
    switch (rc) {
    case PCAP_ERROR_PERM_DENIED:
    case PCAP_ERROR_PROMISC_PERM_DENIED:
        pm_err("cannot capture on %s: permission denied (%s)", c->name, why);
        pm_hint("run as root (portmortem drops to -Z USER right after opening the "
                "interfaces), or give the binary CAP_NET_RAW and CAP_NET_ADMIN");
        break;
    case PCAP_ERROR_NO_SUCH_DEVICE:
        pm_capif_list(list, sizeof(list));
        pm_err("cannot capture on %s: no such interface", c->name);
        pm_hint("interfaces here: %s (see `ip link`); -i any captures on all of them", list);
        break;
    case PCAP_ERROR_IFACE_NOT_UP:
        pm_err("cannot capture on %s: the interface is down", c->name);
        pm_hint("bring it up (ip link set dev %s up) or pick another with -i", c->name);
        break;
    case PCAP_ERROR_RFMON_NOTSUP:
    case PCAP_ERROR_NOT_RFMON:
    default:
        pm_err("cannot capture on %s: %s (%s)", c->name, pcap_statustostr(rc), why);
        pm_hint("check the interface name with `ip link`, or try -i any");
        break;
    }
    return PM_EXIT_UNREADABLE;
}

static bool set_filter(struct pm_capif *c, const char *expr)
{
    struct bpf_program prog;
    if (pcap_compile(c->p, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) != 0) {
        return false;
    }
    int rc = pcap_setfilter(c->p, &prog);
    pcap_freecode(&prog);
    if (rc != 0) {
        return false;
    }
    pm_strlcpy(c->filter, expr, sizeof(c->filter));
    return true;
}

int pm_capif_open(struct pm_capif *c, const char *name, const struct pm_cap_opts *o,
                  const char *filter)
{
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    pm_strlcpy(c->name, name, sizeof(c->name));
    char eb[PCAP_ERRBUF_SIZE] = "";
    c->p = pcap_create(name, eb);
    if (!c->p) {
        pm_err("cannot capture on %s: %s", name, eb);
        pm_hint("check the interface name with `ip link`");
        return PM_EXIT_UNREADABLE;
    }
    pcap_set_snaplen(c->p, o->snaplen);
    pcap_set_promisc(c->p, o->promisc ? 1 : 0);
    pcap_set_timeout(c->p, PM_CAP_BLOCK_TIMEOUT_MS);
    pcap_set_buffer_size(c->p, o->buffer_kib * 1024);
    if (o->immediate) {
        pcap_set_immediate_mode(c->p, 1);
    }
    c->nano = pcap_set_tstamp_precision(c->p, PCAP_TSTAMP_PRECISION_NANO) == 0;
    int rc = pcap_activate(c->p);
    if (rc < 0) {
        int st = activate_error(c, rc);
        pcap_close(c->p);
        c->p = NULL;
        return st;
    }
    if (rc > 0) {
        pm_warn("capture on %s: %s (%s)", name, pcap_statustostr(rc), pcap_geterr(c->p));
    }
    if (!strcmp(name, "any")) {
        /* Linux cooked v2 carries the interface index with each packet: the -w file then
         * says which interface each packet used. Fine if refused: v1 works too. */
        pcap_set_datalink(c->p, DLT_LINUX_SLL2);
    }
    c->dlt = pcap_datalink(c->p);
    c->linktype = pm_linktype_normalize(c->dlt);
    if (!pm_linktype_supported(c->linktype)) {
        pm_err("cannot analyse %s: link type %s (%d) is not one portmortem decodes", name,
               pcap_datalink_val_to_name(c->dlt) ? pcap_datalink_val_to_name(c->dlt) : "?",
               c->dlt);
        pm_hint("capture on the IP interface instead, or on -i any (Linux cooked headers)");
        pcap_close(c->p);
        c->p = NULL;
        return PM_EXIT_UNREADABLE;
    }
    char expr[sizeof(c->filter)];
    bool ok = false;
    if (c->dlt == DLT_EN10MB) {
        snprintf(expr, sizeof(expr), "(%s) or (vlan and (%s))", filter, filter);
        ok = strlen(expr) < sizeof(expr) - 1 && set_filter(c, expr);
    }
    if (!ok && !set_filter(c, filter)) {
        pm_err("cannot install the capture filter on %s: %s", name, pcap_geterr(c->p));
        pm_hint("this is a bug if --ports is valid; the filter was: %s", filter);
        pcap_close(c->p);
        c->p = NULL;
        return PM_EXIT_UNREADABLE;
    }
    if (pcap_setnonblock(c->p, 1, eb) != 0) {
        pm_err("cannot make the capture on %s non-blocking: %s", name, eb);
        pcap_close(c->p);
        c->p = NULL;
        return PM_EXIT_UNREADABLE;
    }
    c->fd = pcap_get_selectable_fd(c->p);
    if (c->fd < 0) {
        pm_err("capture on %s has no pollable descriptor", name);
        pm_hint("this libpcap cannot be used with poll() here; please report it");
        pcap_close(c->p);
        c->p = NULL;
        return PM_EXIT_UNREADABLE;
    }
    c->loopback = is_loopback(name);
    return 0;
}

void pm_capif_close(struct pm_capif *c)
{
    if (c->p) {
        pcap_close(c->p);
        c->p = NULL;
    }
}
