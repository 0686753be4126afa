/*
 * synflood.c — owns the live benchmark's traffic generator (`make bench`, row live-flood,
 * docs/PERFORMANCE.md): TCP SYNs to port 25 at a fixed rate, sent as ready-made Ethernet
 * frames through an AF_PACKET socket on one end of a veth pair that the benchmark created
 * in its own network namespace. The far end's kernel has no listener on port 25, so it
 * answers every SYN with a RST: each SYN is one `refused` attempt of two packets.
 *
 *   synflood IFACE SRC_MAC DST_MAC RATE SECONDS
 *     RATE     SYNs per second (the capture then sees about twice as many packets)
 *     prints   "sent N elapsed S" on standard output
 *
 * Every SYN has its own 4-tuple: sources cycle through 198.51.100.1-254 and ports
 * 1024-65535, destinations through 203.0.113.1-16 (documentation prefixes, RFC 5737;
 * the far namespace answers for 203.0.113.0/24 and routes 198.51.100.0/24 back to this
 * end). Frames are patched in place (address, port, sequence, checksums) and sent in
 * batches with sendmmsg; the batches are paced against CLOCK_MONOTONIC. No qdisc bypass:
 * the frames must pass the device's taps so that a capture on this interface sees them.
 * A bench tool, never installed; it refuses to run without root (AF_PACKET needs it).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 32
#define FRAME_LEN 58 /* Ethernet 14 + IPv4 20 + TCP 24 (the MSS option) */

static int parse_mac(const char *s, uint8_t m[6])
{
    unsigned v[6];
    if (sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6) {
        return -1;
    }
    for (int i = 0; i < 6; i++) {
        if (v[i] > 255) {
            return -1;
        }
        m[i] = (uint8_t)v[i];
    }
    return 0;
}

static uint16_t csum_fold(uint32_t s)
{
    while (s >> 16) {
        s = (s & 0xffff) + (s >> 16);
    }
    return (uint16_t)~s;
}

static uint32_t csum_add(uint32_t s, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2) {
        s += (uint32_t)(p[i] << 8 | p[i + 1]);
    }
    return s;
}

/* Fill one SYN for sequence number k (RFC 791 / RFC 9293 header layouts). */
static void build(uint8_t *f, const uint8_t src_mac[6], const uint8_t dst_mac[6], uint64_t k)
{
    memcpy(f, dst_mac, 6);
    memcpy(f + 6, src_mac, 6);
    f[12] = 0x08;
    f[13] = 0x00;
    uint8_t *ip = f + 14;
    memset(ip, 0, 20);
    ip[0] = 0x45;
    ip[2] = 0;
    ip[3] = 44; /* total length */
    ip[4] = (uint8_t)(k >> 8);
    ip[5] = (uint8_t)k;
    ip[6] = 0x40; /* DF */
    ip[8] = 64;   /* TTL */
    ip[9] = 6;
    uint32_t ports = 65535 - 1024 + 1;
    uint32_t src_host = 1 + (uint32_t)((k / ports) % 254);
    uint32_t sport = 1024 + (uint32_t)(k % ports);
    uint32_t dst_host = 1 + (uint32_t)(k % 16);
    ip[12] = 198, ip[13] = 51, ip[14] = 100, ip[15] = (uint8_t)src_host;
    ip[16] = 203, ip[17] = 0, ip[18] = 113, ip[19] = (uint8_t)dst_host;
    uint16_t c = csum_fold(csum_add(0, ip, 20));
    ip[10] = (uint8_t)(c >> 8);
    ip[11] = (uint8_t)c;
    uint8_t *t = ip + 20;
    memset(t, 0, 24);
    t[0] = (uint8_t)(sport >> 8);
    t[1] = (uint8_t)sport;
    t[2] = 0;
    t[3] = 25;
    uint32_t seq = (uint32_t)(k * 2654435761u);
    t[4] = (uint8_t)(seq >> 24), t[5] = (uint8_t)(seq >> 16), t[6] = (uint8_t)(seq >> 8);
    t[7] = (uint8_t)seq;
    t[12] = 6 << 4; /* data offset: 24 bytes */
    t[13] = 0x02;   /* SYN */
    t[14] = 0xfa, t[15] = 0xf0; /* window 64240 */
    t[20] = 2, t[21] = 4, t[22] = 0x05, t[23] = 0xb4; /* MSS 1460 */
    /* pseudo-header: source, destination, zero, protocol, TCP length */
    uint32_t s = csum_add(0, ip + 12, 8) + 6 + 24;
    c = csum_fold(csum_add(s, t, 24));
    t[16] = (uint8_t)(c >> 8);
    t[17] = (uint8_t)c;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    uint8_t smac[6], dmac[6];
    if (argc != 6 || parse_mac(argv[2], smac) || parse_mac(argv[3], dmac)) {
        fprintf(stderr, "usage: synflood IFACE SRC_MAC DST_MAC RATE SECONDS\n");
        return 2;
    }
    double rate = atof(argv[4]), secs = atof(argv[5]);
    if (rate < 1 || rate > 1e7 || secs <= 0 || secs > 600) {
        fprintf(stderr, "synflood: RATE 1 to 1e7 SYNs per second, SECONDS 0 to 600\n");
        return 2;
    }
    unsigned ifindex = if_nametoindex(argv[1]);
    if (!ifindex) {
        fprintf(stderr, "synflood: no interface %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    int fd = socket(AF_PACKET, SOCK_RAW, 0); /* protocol 0: send only, receive nothing */
    if (fd < 0) {
        fprintf(stderr, "synflood: AF_PACKET socket: %s (needs root)\n", strerror(errno));
        return 1;
    }
    struct sockaddr_ll sll;
    memset(&sll, 0, sizeof(sll));
    sll.sll_family = AF_PACKET;
    sll.sll_ifindex = (int)ifindex;
    sll.sll_protocol = htons(ETH_P_IP);
    sll.sll_halen = 6;
    memcpy(sll.sll_addr, dmac, 6);
    if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) != 0) {
        fprintf(stderr, "synflood: bind to %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    static uint8_t frames[BATCH][FRAME_LEN];
    struct iovec iov[BATCH];
    struct mmsghdr msg[BATCH];
    memset(msg, 0, sizeof(msg));
    for (int i = 0; i < BATCH; i++) {
        iov[i].iov_base = frames[i];
        iov[i].iov_len = FRAME_LEN;
        msg[i].msg_hdr.msg_iov = &iov[i];
        msg[i].msg_hdr.msg_iovlen = 1;
    }
    uint64_t total = (uint64_t)(rate * secs), sent = 0, failed = 0;
    double t0 = now_s();
    while (sent < total) {
        /* pace: batch number sent/BATCH leaves at t0 + sent / rate */
        double due = t0 + (double)sent / rate, t = now_s();
        if (due > t) {
            struct timespec d = {.tv_sec = (time_t)(due - t),
                                 .tv_nsec = (long)((due - t - (double)(time_t)(due - t)) * 1e9)};
            nanosleep(&d, NULL);
        }
        int n = (int)(total - sent < BATCH ? total - sent : BATCH);
        for (int i = 0; i < n; i++) {
            build(frames[i], smac, dmac, sent + (uint64_t)i);
        }
        int k = sendmmsg(fd, msg, (unsigned)n, 0);
        if (k < 0) {
            if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR) {
                failed++;
                continue; /* retried: the same frames again */
            }
            fprintf(stderr, "synflood: sendmmsg: %s\n", strerror(errno));
            return 1;
        }
        sent += (uint64_t)k;
        if (now_s() - t0 > secs * 3 + 5) {
            fprintf(stderr, "synflood: far behind the rate; stopping\n");
            break;
        }
    }
    double el = now_s() - t0;
    printf("sent %llu elapsed %.3f retries %llu\n", (unsigned long long)sent, el,
           (unsigned long long)failed);
    close(fd);
    return 0;
}
