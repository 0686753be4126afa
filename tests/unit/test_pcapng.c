/*
 * test_pcapng.c — the bounded pcapng block reader (include/pcapng.h, analyze/pcapng.c) on
 * files written block by block into a temporary directory: sections of both byte orders
 * (and a second section that switches order and forgets the first one's interfaces),
 * several IDBs with different link types and if_name "lo", if_tsresol 10^-6 (default),
 * 10^-9, 10^-3 and 2^-10, if_tsoffset, Enhanced / Simple / obsolete Packet Blocks, unknown
 * blocks skipped; and every lie a block length can tell (below 12, not a multiple of 4, a
 * trailing length that differs, beyond 16 MiB, past the end of the file), a packet naming a
 * missing interface, a captured length beyond its block, a file that is not pcapng.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "pcapng.h"
#include "pktbuild.h"

TestSuite(pcapng, .fini = pb_tmpclean);

static const uint8_t pkt60[60] = {0x45, 0, 0, 60, [9] = 6, [59] = 0x5a};

static struct pm_pcapng *open_ng(struct pb_ng *g, char *err, size_t errlen)
{
    char path[256];
    pb_tmppath(path, sizeof(path), "t.pcapng");
    pb_ng_save(g, path);
    FILE *f = fopen(path, "rb");
    cr_assert(f != NULL);
    err[0] = '\0';
    /* pm_pcapng_open owns f from here on, also when it fails (it closes it then). */
    return pm_pcapng_open(f, err, errlen);
}

/* Expect the next record to be a packet; return it. */
static struct pm_ng_record next_ok(struct pm_pcapng *ng)
{
    struct pm_ng_record r;
    char err[256] = "";
    int rc = pm_pcapng_next(ng, &r, err, sizeof(err));
    cr_assert_eq(rc, 0, "expected a packet, got %d (%s)", rc, err);
    return r;
}

static void next_damaged(struct pm_pcapng *ng, const char *what)
{
    struct pm_ng_record r;
    char err[256] = "";
    int rc = pm_pcapng_next(ng, &r, err, sizeof(err));
    cr_assert_eq(rc, -1, "expected damage (%s), got %d", what, rc);
    cr_assert(strstr(err, what) != NULL, "message \"%s\" lacks \"%s\"", err, what);
}

static void next_eof(struct pm_pcapng *ng)
{
    struct pm_ng_record r;
    char err[256] = "";
    cr_assert_eq(pm_pcapng_next(ng, &r, err, sizeof(err)), 1, "expected EOF (%s)", err);
}

Test(pcapng, little_endian_section_default_microseconds)
{
    struct pb_ng g = {0};
    pb_ng_shb(&g, false);
    pb_ng_idb(&g, 1, 262144, NULL, -1, false, 0);
    pb_ng_epb(&g, 0, UINT64_C(1700000000123456), pkt60, 60, 60);
    char err[256];
    struct pm_pcapng *ng = open_ng(&g, err, sizeof(err));
    cr_assert(ng != NULL, "%s", err);
    struct pm_ng_record r = next_ok(ng);
    cr_assert_eq(r.ts, INT64_C(1700000000123456000));
    cr_assert_eq(r.caplen, 60);
    cr_assert_eq(r.wirelen, 60);
    cr_assert_eq(r.linktype, 1);
    cr_assert_eq(r.ifid, 0);
    cr_assert_eq(r.ifloop, 0);
    cr_assert_eq(memcmp(r.data, pkt60, 60), 0);
    cr_assert_eq(pm_pcapng_first_linktype(ng), 1);
    next_eof(ng);
    cr_assert_eq(pm_pcapng_offset(ng), g.n, "every byte of the file consumed");
    pm_pcapng_close(ng);
    pb_ng_free(&g);
}

Test(pcapng, big_endian_section)
{
    struct pb_ng g = {0};
    pb_ng_shb(&g, true);
    pb_ng_idb(&g, 101, 65535, "eth0", 9, false, 0);
    pb_ng_epb(&g, 0, UINT64_C(1700000000000000042), pkt60, 60, 1514);
    char err[256];
    struct pm_pcapng *ng = open_ng(&g, err, sizeof(err));
    cr_assert(ng != NULL, "%s", err);
    struct pm_ng_record r = next_ok(ng);
    cr_assert_eq(r.ts, INT64_C(1700000000000000042));
    cr_assert_eq(r.linktype, 101);
    cr_assert_eq(r.caplen, 60);
    cr_assert_eq(r.wirelen, 1514);
    cr_assert_eq(r.data[59], 0x5a);
    next_eof(ng);
    pm_pcapng_close(ng);
    pb_ng_free(&g);
}

Test(pcapng, several_interfaces_with_their_own_link_types)
{
    struct pb_ng g = {0};
    pb_ng_shb(&g, false);
    pb_ng_idb(&g, 1, 262144, "eth0", -1, false, 0);
    pb_ng_idb(&g, 101, 262144, "tun0", -1, false, 0);
    pb_ng_idb(&g, 276, 262144, "lo", -1, false, 0);
    pb_ng_epb(&g, 1, 1000000, pkt60, 60, 60);
    pb_ng_epb(&g, 2, 2000000, pkt60, 40, 60);
    pb_ng_epb(&g, 0, 3000000, pkt60, 60, 60);
    char err[256];
    struct pm_pcapng *ng = open_ng(&g, err, sizeof(err));
    cr_assert(ng != NULL, "%s", err);
    struct pm_ng_record r = next_ok(ng);
    cr_assert_eq(r.linktype, 101);
    cr_assert_eq(r.ifid, 1);
    cr_assert_eq(r.ifloop, 0);
    cr_assert_eq(r.ts, PM_SEC(1));
    r = next_ok(ng);
    cr_assert_eq(r.linktype, 276);
    cr_assert_eq(r.ifid, 2);
    cr_assert_eq(r.ifloop, 1, "if_name \"lo\" is the loopback interface");
    cr_assert_eq(r.caplen, 40);
    cr_assert_eq(r.wirelen, 60);
    r = next_ok(ng);
    cr_assert_eq(r.linktype, 1);
    cr_assert_eq(pm_pcapng_first_linktype(ng), 1);
    next_eof(ng);
    pm_pcapng_close(ng);
    pb_ng_free(&g);
}

Test(pcapng, timestamp_resolutions_and_offset)
{
    struct pb_ng g = {0};
    pb_ng_shb(&g, false);
    pb_ng_idb(&g, 101, 0, NULL, 9, false, 0);            /* 10^-9 */
    pb_ng_idb(&g, 101, 0, NULL, 0x80 | 10, false, 0);    /* 2^-10 */
    pb_ng_idb(&g, 101, 0, NULL, 3, false, 0);            /* 10^-3 */
    pb_ng_idb(&g, 101, 0, "lo0", 6, true, 100);          /* µs, +100 s */
    pb_ng_idb(&g, 101, 0, NULL, 6, true, -50);           /* µs, -50 s */
    pb_ng_epb(&g, 0, UINT64_C(1234567890123456789), pkt60, 20, 20);
    pb_ng_epb(&g, 1, 5 * 1024 + 512, pkt60, 20, 20);
    pb_ng_epb(&g, 2, 1500, pkt60, 20, 20);
    pb_ng_epb(&g, 3, 1, pkt60, 20, 20);
    pb_ng_epb(&g, 4, UINT64_C(60000000), pkt60, 20, 20);
    char err[256];
    struct pm_pcapng *ng = open_ng(&g, err, sizeof(err));
    cr_assert(ng != NULL, "%s", err);
    cr_assert_eq(next_ok(ng).ts, INT64_C(1234567890123456789));
    cr_assert_eq(next_ok(ng).ts, PM_MS(5500), "5632/1024 s = 5.5 s");
    cr_assert_eq(next_ok(ng).ts, PM_MS(1500));
    struct pm_ng_record r = next_ok(ng);
    cr_assert_eq(r.ts, PM_SEC(100) + 1000, "if_tsoffset adds whole seconds");
    cr_assert_eq(r.ifloop, 1, "if_name \"lo0\" is the BSD loopback");
    cr_assert_eq(next_ok(ng).ts, PM_SEC(10));
    next_eof(ng);
    pm_pcapng_close(ng);
    pb_ng_free(&g);
}

Test(pcapng, simple_and_obsolete_packet_blocks)
{
    struct pb_ng g = {0};
    pb_ng_shb(&g, true);
    pb_ng_idb(&g, 1, 50, NULL, -1, false, 0);
    pb_ng_spb(&g, 60, pkt60, 60);          /* SPB: captured length = min(wire, snaplen) */
    pb_ng_pb(&g, 0, 2500000, pkt60, 30, 60); /* obsolete Packet Block, 16-bit interface id */
    char err[256];
    struct pm_pcapng *ng = open_ng(&g, err, sizeof(err));
    cr_assert(ng != NULL, "%s", err);
    struct pm_ng_record r = next_ok(ng);
    cr_assert_eq(r.caplen, 50, "an SPB holds at most the interface's snaplen");
    cr_assert_eq(r.wirelen, 60);
    cr_assert_eq(r.ts, 0, "an SPB has no timestamp");
    cr_assert_eq(r.linktype, 1);
    r = next_ok(ng);
    cr_assert_eq(r.caplen, 30);
    cr_assert_eq(r.wirelen, 60);
    cr_assert_eq(r.ts, PM_MS(2500));
    next_eof(ng);
    pm_pcapng_close(ng);
    pb_ng_free(&g);
}

Test(pcapng, unknown_blocks_are_skipped)
{
    struct pb_ng g = {0};
    pb_ng_shb(&g, false);
    pb_ng_idb(&g, 101, 0, NULL, -1, false, 0);
    const uint8_t body[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    pb_ng_block(&g, 4, 24, body, sizeof(body), 24);            /* Name Resolution Block */
    pb_ng_block(&g, 5, 24, body, sizeof(body), 24);            /* Interface Statistics */
    pb_ng_block(&g, 0x40000BADu, 24, body, sizeof(body), 24);  /* custom */
    pb_ng_epb(&g, 0, 7, pkt60, 60, 60);
    char err[256];
    struct pm_pcapng *ng = open_ng(&g, err, sizeof(err));
    cr_assert(ng != NULL, "%s", err);
    cr_assert_eq(next_ok(ng).ts, 7000);
    next_eof(ng);
    pm_pcapng_close(ng);
    pb_ng_free(&g);
}

Test(pcapng, a_second_section_switches_byte_order_and_forgets_interfaces)
{
    struct pb_ng g = {0};
    pb_ng_shb(&g, false);
    pb_ng_idb(&g, 1, 0, NULL, -1, false, 0);
    pb_ng_idb(&g, 101, 0, NULL, -1, false, 0);
    pb_ng_epb(&g, 1, 1, pkt60, 60, 60);
    pb_ng_shb(&g, true);
    pb_ng_idb(&g, 113, 0, NULL, -1, false, 0);
    pb_ng_epb(&g, 0, 2, pkt60, 60, 60);
    pb_ng_epb(&g, 1, 3, pkt60, 60, 60); /* interface 1 belonged to the first section */
    char err[256];
    struct pm_pcapng *ng = open_ng(&g, err, sizeof(err));
    cr_assert(ng != NULL, "%s", err);
    struct pm_ng_record r = next_ok(ng);
    cr_assert_eq(r.linktype, 101);
    r = next_ok(ng);
    cr_assert_eq(r.linktype, 113);
    cr_assert_eq(r.ts, 2000);
    next_damaged(ng, "names interface 1");
    pm_pcapng_close(ng);
    pb_ng_free(&g);
}

static void lying_block(uint32_t lead, uint32_t trail, size_t body, const char *what)
{
    struct pb_ng g = {0};
    pb_ng_shb(&g, false);
    pb_ng_idb(&g, 101, 0, NULL, -1, false, 0);
    pb_ng_epb(&g, 0, 1, pkt60, 60, 60);
    uint8_t b[64] = {0};
    pb_ng_block(&g, 6, lead, b, body, trail);
    char err[256];
    struct pm_pcapng *ng = open_ng(&g, err, sizeof(err));
    cr_assert(ng != NULL, "%s", err);
    next_ok(ng); /* the packets before the damage are delivered */
    next_damaged(ng, what);
    pm_pcapng_close(ng);
    pb_ng_free(&g);
}

Test(pcapng, block_length_below_twelve)
{
    lying_block(8, 8, 0, "impossible length");
}

Test(pcapng, block_length_not_a_multiple_of_four)
{
    lying_block(30, 30, 20, "impossible length");
}

Test(pcapng, trailing_length_differs)
{
    lying_block(48, 44, 36, "trailing length");
}

Test(pcapng, block_length_beyond_sixteen_mib)
{
    lying_block(32u * 1024 * 1024, 0, 0, "impossible length");
}

Test(pcapng, block_length_past_the_end_of_the_file)
{
    lying_block(4096, 4096, 16, "ends inside");
}

Test(pcapng, file_ends_inside_a_block_header)
{
    struct pb_ng g = {0};
    pb_ng_shb(&g, false);
    pb_ng_idb(&g, 101, 0, NULL, -1, false, 0);
    pb_ng_u32(&g, 6); /* 4 bytes of the next block's header */
    char err[256];
    struct pm_pcapng *ng = open_ng(&g, err, sizeof(err));
    cr_assert(ng != NULL, "%s", err);
    next_damaged(ng, "ends inside a block header");
    pm_pcapng_close(ng);
    pb_ng_free(&g);
}

Test(pcapng, packet_names_a_missing_interface)
{
    struct pb_ng g = {0};
    pb_ng_shb(&g, false);
    pb_ng_epb(&g, 0, 1, pkt60, 60, 60); /* no IDB at all */
    char err[256];
    struct pm_pcapng *ng = open_ng(&g, err, sizeof(err));
    cr_assert(ng != NULL, "%s", err);
    next_damaged(ng, "names interface 0");
    pm_pcapng_close(ng);
    pb_ng_free(&g);
}

Test(pcapng, captured_length_beyond_its_block)
{
    struct pb_ng g = {0};
    pb_ng_shb(&g, false);
    pb_ng_idb(&g, 101, 0, NULL, -1, false, 0);
    /* an EPB that holds 60 bytes but claims 200 were captured */
    uint8_t body[80] = {0};
    uint32_t f[5] = {0, 0, 1, 200, 200};
    memcpy(body, f, sizeof(f)); /* little-endian host: the section is little-endian */
    memcpy(body + 20, pkt60, 60);
    pb_ng_block(&g, 6, 92, body, sizeof(body), 92);
    char err[256];
    struct pm_pcapng *ng = open_ng(&g, err, sizeof(err));
    cr_assert(ng != NULL, "%s", err);
    next_damaged(ng, "claims 200 captured bytes");
    pm_pcapng_close(ng);
    pb_ng_free(&g);
}

Test(pcapng, packet_block_too_short_for_its_header)
{
    struct pb_ng g = {0};
    pb_ng_shb(&g, false);
    pb_ng_idb(&g, 101, 0, NULL, -1, false, 0);
    uint8_t body[8] = {0};
    pb_ng_block(&g, 6, 20, body, sizeof(body), 20);
    char err[256];
    struct pm_pcapng *ng = open_ng(&g, err, sizeof(err));
    cr_assert(ng != NULL, "%s", err);
    next_damaged(ng, "too short");
    pm_pcapng_close(ng);
    pb_ng_free(&g);
}

Test(pcapng, lying_idb_option_length_is_ignored_not_fatal)
{
    struct pb_ng g = {0};
    pb_ng_shb(&g, false);
    /* IDB: linktype 101, snaplen 0, one option (if_tsresol) claiming 200 bytes */
    uint8_t body[16] = {101, 0, 0, 0, 0, 0, 0, 0, 9, 0, 200, 0, 9, 0, 0, 0};
    pb_ng_block(&g, 1, 28, body, sizeof(body), 28);
    pb_ng_epb(&g, 0, 5, pkt60, 60, 60);
    char err[256];
    struct pm_pcapng *ng = open_ng(&g, err, sizeof(err));
    cr_assert(ng != NULL, "%s", err);
    struct pm_ng_record r = next_ok(ng);
    cr_assert_eq(r.linktype, 101);
    cr_assert_eq(r.ts, 5000, "the default resolution (µs) stays");
    pm_pcapng_close(ng);
    pb_ng_free(&g);
}

Test(pcapng, not_a_section_header_first)
{
    char err[256];
    struct pb_ng g = {0};
    g.big = false;
    pb_ng_idb(&g, 1, 0, NULL, -1, false, 0);
    struct pm_pcapng *ng = open_ng(&g, err, sizeof(err));
    cr_assert_null(ng);
    pb_ng_free(&g);
    /* a section header without the byte-order magic */
    pb_ng_u32(&g, 0x0A0D0D0Au);
    pb_ng_u32(&g, 28);
    pb_ng_u32(&g, 0x11223344u);
    pb_ng_u32(&g, 1);
    pb_ng_u32(&g, 0);
    pb_ng_u32(&g, 0);
    pb_ng_u32(&g, 28);
    ng = open_ng(&g, err, sizeof(err));
    cr_assert_null(ng);
    cr_assert(strstr(err, "byte-order magic") != NULL, "%s", err);
    pb_ng_free(&g);
    /* an empty file */
    ng = open_ng(&g, err, sizeof(err));
    cr_assert_null(ng);
    cr_assert(strstr(err, "empty") != NULL, "%s", err);
}

Test(pcapng, unsupported_major_version)
{
    struct pb_ng g = {0};
    pb_ng_u32(&g, 0x0A0D0D0Au);
    pb_ng_u32(&g, 28);
    pb_ng_u32(&g, 0x1A2B3C4Du);
    pb_ng_u32(&g, 2); /* major 2, minor 0 */
    pb_ng_u32(&g, 0xffffffffu);
    pb_ng_u32(&g, 0xffffffffu);
    pb_ng_u32(&g, 28);
    char err[256];
    struct pm_pcapng *ng = open_ng(&g, err, sizeof(err));
    cr_assert_null(ng);
    cr_assert(strstr(err, "major version 2") != NULL, "%s", err);
    pb_ng_free(&g);
}

/* A hostile file's timestamp units, resolution and offset must not overflow the signed
 * nanosecond arithmetic (UBSan aborts on it); the decimal path already clamps. */
Test(pcapng, hostile_timestamps_do_not_overflow)
{
    struct pb_ng g = {0};
    pb_ng_shb(&g, false);
    pb_ng_idb(&g, 101, 0, NULL, 0x80, false, 0);                  /* 2^-0: whole seconds */
    pb_ng_idb(&g, 101, 0, NULL, 6, true, INT64_MAX);              /* µs + a huge offset */
    pb_ng_epb(&g, 0, UINT64_C(1) << 63, pkt60, 20, 20);
    pb_ng_epb(&g, 1, 1, pkt60, 20, 20);
    char err[256];
    struct pm_pcapng *ng = open_ng(&g, err, sizeof(err));
    cr_assert(ng != NULL, "%s", err);
    next_ok(ng);
    next_ok(ng);
    next_eof(ng);
    pm_pcapng_close(ng);
    pb_ng_free(&g);
}
