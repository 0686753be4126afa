/*
 * test_bundle.c — the evidence bundle (include/bundle.h, analyze/bundle_int.h): SHA-256
 * against the FIPS 180-2 test vectors, the manifest's sha256sum format, an Ed25519
 * signature made and checked with a key generated here, `verify` naming a flipped byte, a
 * missing file, an extra file, a bad signature; HTML escaping of hostile text (also inside a
 * ladder diagram); the escalation text's six fields; and a whole bundle written through the
 * public interface, with and without the privileged helper, refusing an existing directory
 * and leaving nothing behind when aborted.
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "../../analyze/bundle_int.h"
#include "pktbuild.h"
#include "bundle_helper.h"
#include "util.h"

/* ---- helpers ---- */

static char *tmpdir(void)
{
    char *t = strdup("/tmp/pm-test-bundle-XXXXXX");
    cr_assert_not_null(mkdtemp(t));
    return t;
}

static void put_file(const char *dir, const char *name, const char *text)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f, "%s", p);
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    int c;
    while ((c = fgetc(f)) != EOF) {
        fputc(c, m);
    }
    fclose(f);
    fclose(m);
    return buf;
}

/* Write a manifest for the named files of dir. */
static void make_manifest(const char *dir, const char *const *names, int n)
{
    struct pm_mf_entry e[16];
    for (int i = 0; i < n; i++) {
        char p[512];
        snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
        int fd = open(p, O_RDONLY);
        cr_assert_geq(fd, 0);
        pm_strlcpy(e[i].name, names[i], sizeof(e[i].name));
        cr_assert_eq(pm_sha256_fd(fd, e[i].sha), 0);
        close(fd);
    }
    char p[512];
    snprintf(p, sizeof(p), "%s/" PM_MANIFEST, dir);
    FILE *f = fopen(p, "w");
    cr_assert_eq(pm_manifest_write(f, e, (size_t)n), 0);
    fclose(f);
}

/* Run verify, returning its status and its output in *out (caller frees). */
static int verify(const char *dir, const char *key, char **out)
{
    size_t len = 0;
    FILE *m = open_memstream(out, &len);
    int rc = pm_verify_bundle(dir, key, m);
    fclose(m);
    return rc;
}

static void rm_rf(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

static void keypair(const char *dir, const char *stem, char *priv, char *pub, size_t len)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    cr_assert_not_null(k);
    snprintf(priv, len, "%s/%s.pem", dir, stem);
    snprintf(pub, len, "%s/%s.pub.pem", dir, stem);
    FILE *f = fopen(priv, "w");
    cr_assert(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL));
    fclose(f);
    f = fopen(pub, "w");
    cr_assert(PEM_write_PUBKEY(f, k));
    fclose(f);
    EVP_PKEY_free(k);
}

/* ---- hashing and the manifest ---- */

Test(bundle, sha256_known_vectors)
{
    uint8_t h[32];
    char hex[65];
    pm_sha256_mem("abc", 3, h);
    pm_hex(h, 32, hex);
    cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    pm_sha256_mem("", 0, h);
    pm_hex(h, 32, hex);
    cr_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    pm_sha256_mem(two, strlen(two), h);
    pm_hex(h, 32, hex);
    cr_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

Test(bundle, sha256_of_a_file_reads_from_the_start)
{
    char *d = tmpdir();
    put_file(d, "abc", "abc");
    char p[512];
    snprintf(p, sizeof(p), "%s/abc", d);
    int fd = open(p, O_RDONLY);
    char c;
    cr_assert_eq(read(fd, &c, 1), 1, "the descriptor's offset must not matter");
    uint8_t h[32];
    char hex[65];
    cr_assert_eq(pm_sha256_fd(fd, h), 0);
    pm_hex(h, 32, hex);
    cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    close(fd);
    rm_rf(d);
    free(d);
}

Test(bundle, manifest_is_sha256sum_format_sorted_by_name)
{
    struct pm_mf_entry e[3];
    pm_strlcpy(e[0].name, "summary.txt", sizeof(e[0].name));
    pm_sha256_mem("abc", 3, e[0].sha);
    pm_strlcpy(e[1].name, "evidence.pcapng", sizeof(e[1].name));
    pm_sha256_mem("", 0, e[1].sha);
    pm_strlcpy(e[2].name, "README.txt", sizeof(e[2].name));
    pm_sha256_mem("abc", 3, e[2].sha);
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    cr_assert_eq(pm_manifest_write(m, e, 3), 0);
    fclose(m);
    cr_assert_str_eq(buf,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  README.txt\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  evidence.pcapng\n"
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  summary.txt\n");
    free(buf);
}

Test(bundle, only_plain_file_names_are_bundle_names)
{
    cr_assert(pm_bundle_name_ok("escalation-203.0.113.10.txt"));
    cr_assert(pm_bundle_name_ok("escalation-2001-db8--1.txt"));
    cr_assert(!pm_bundle_name_ok(""));
    cr_assert(!pm_bundle_name_ok(".hidden"));
    cr_assert(!pm_bundle_name_ok(".."));
    cr_assert(!pm_bundle_name_ok("a/b"));
    cr_assert(!pm_bundle_name_ok("a b"));
    cr_assert(!pm_bundle_name_ok("a\nb"));
    char longname[200];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    cr_assert(!pm_bundle_name_ok(longname));
    pm_addr a;
    cr_assert(pm_addr_parse("2001:db8::1", &a));
    char name[PM_BUNDLE_NAME];
    pm_bundle_escalation_name(&a, name, sizeof(name));
    cr_assert_str_eq(name, "escalation-2001-db8--1.txt");
    cr_assert(pm_bundle_name_ok(name));
}

/* ---- signature ---- */

Test(bundle, ed25519_signature_round_trip)
{
    char *d = tmpdir();
    char priv[512], pub[512], priv2[512], pub2[512];
    keypair(d, "k1", priv, pub, sizeof(priv));
    keypair(d, "k2", priv2, pub2, sizeof(priv2));
    const char *msg = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  a\n";
    char b64[128], err[600];
    cr_assert_eq(pm_manifest_sign(priv, msg, strlen(msg), b64, sizeof(b64), err, sizeof(err)), 0,
                 "%s", err);
    cr_assert_eq(strlen(b64), 89, "88 base64 characters and a newline");
    cr_assert_eq(b64[88], '\n');

    /* Checked independently of pm_verify_bundle: decode and EVP_DigestVerify. */
    uint8_t raw[96];
    cr_assert_eq(EVP_DecodeBlock(raw, (const unsigned char *)b64, 88), 66);
    FILE *f = fopen(pub, "r");
    EVP_PKEY *k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    cr_assert_eq(EVP_DigestVerifyInit(md, NULL, NULL, NULL, k), 1);
    cr_assert_eq(EVP_DigestVerify(md, raw, 64, (const unsigned char *)msg, strlen(msg)), 1);
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(k);

    /* In a bundle directory: good with the right key, bad with another. */
    char *bd = tmpdir();
    put_file(bd, "a", "");
    const char *names[] = {"a"};
    make_manifest(bd, names, 1);
    char *mf = NULL;
    char p[600];
    snprintf(p, sizeof(p), "%s/" PM_MANIFEST, bd);
    mf = slurp(p);
    cr_assert_eq(pm_manifest_sign(priv, mf, strlen(mf), b64, sizeof(b64), err, sizeof(err)), 0);
    put_file(bd, PM_MANIFEST_SIG, b64);
    char *out = NULL;
    cr_assert_eq(verify(bd, pub, &out), 0, "%s", out);
    cr_assert(strstr(out, "signature good"), "%s", out);
    free(out);
    cr_assert_eq(verify(bd, pub2, &out), 1, "%s", out);
    cr_assert(strstr(out, PM_MANIFEST_SIG ": the signature does not verify"), "%s", out);
    free(out);
    /* A changed manifest breaks the signature (and here also the listing). */
    put_file(bd, PM_MANIFEST,
             "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  a\n"
             "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  b\n");
    put_file(bd, "b", "");
    cr_assert_eq(verify(bd, pub, &out), 1);
    cr_assert(strstr(out, "signature does not verify"), "%s", out);
    free(out);
    /* No signature but a key: reported. */
    snprintf(p, sizeof(p), "%s/" PM_MANIFEST_SIG, bd);
    unlink(p);
    cr_assert_eq(verify(bd, pub, &out), 1);
    cr_assert(strstr(out, PM_MANIFEST_SIG ": missing"), "%s", out);
    free(out);
    /* A key that is not a key: unreadable (3). */
    snprintf(p, sizeof(p), "%s/" PM_MANIFEST, bd);
    cr_assert_eq(verify(bd, p, &out), 3);
    free(out);
    /* A private key where a public one is expected is refused too. */
    cr_assert_eq(pm_manifest_sign(pub, "x", 1, b64, sizeof(b64), err, sizeof(err)),
                 PM_EXIT_USAGE);
    cr_assert(strstr(err, "not a PEM private key"), "%s", err);
    free(mf);
    rm_rf(bd);
    rm_rf(d);
    free(bd);
    free(d);
}

/* ---- verify ---- */

Test(bundle, verify_names_flipped_missing_and_extra_files)
{
    char *d = tmpdir();
    put_file(d, "report.json", "{\"type\":\"summary\"}\n");
    put_file(d, "summary.txt", "Scope: none\n");
    const char *names[] = {"report.json", "summary.txt"};
    make_manifest(d, names, 2);
    char *out = NULL;
    cr_assert_eq(verify(d, NULL, &out), 0, "%s", out);
    cr_assert(strstr(out, "OK, 2 files match"), "%s", out);
    free(out);

    /* one byte changed */
    put_file(d, "report.json", "{\"type\":\"summarz\"}\n");
    cr_assert_eq(verify(d, NULL, &out), 1);
    cr_assert(strstr(out, "report.json: SHA-256 differs from MANIFEST.sha256 (line 1)\n"), "%s",
              out);
    cr_assert(!strstr(out, "summary.txt:"), "%s", out);
    free(out);
    put_file(d, "report.json", "{\"type\":\"summary\"}\n");

    /* missing */
    char p[600];
    snprintf(p, sizeof(p), "%s/summary.txt", d);
    unlink(p);
    cr_assert_eq(verify(d, NULL, &out), 1);
    cr_assert(strstr(out, "summary.txt: missing\n"), "%s", out);
    free(out);
    put_file(d, "summary.txt", "Scope: none\n");

    /* extra */
    put_file(d, "extra.txt", "not ours\n");
    cr_assert_eq(verify(d, NULL, &out), 1);
    cr_assert(strstr(out, "extra.txt: not in the manifest\n"), "%s", out);
    free(out);
    snprintf(p, sizeof(p), "%s/extra.txt", d);
    unlink(p);

    /* a symbolic link in place of a listed file */
    snprintf(p, sizeof(p), "%s/summary.txt", d);
    unlink(p);
    cr_assert_eq(symlink("/etc/hostname", p), 0);
    cr_assert_eq(verify(d, NULL, &out), 1);
    cr_assert(strstr(out, "summary.txt: a symbolic link"), "%s", out);
    free(out);
    unlink(p);
    put_file(d, "summary.txt", "Scope: none\n");
    cr_assert_eq(verify(d, NULL, &out), 0, "%s", out);
    free(out);

    /* a malformed manifest line, and a line naming a path */
    snprintf(p, sizeof(p), "%s/" PM_MANIFEST, d);
    char *mf = slurp(p);
    char *bad = NULL;
    size_t bl = 0;
    FILE *m = open_memstream(&bad, &bl);
    fprintf(m, "%snot a manifest line\n"
               "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  ../etc/passwd\n",
            mf);
    fclose(m);
    put_file(d, PM_MANIFEST, bad);
    cr_assert_eq(verify(d, NULL, &out), 1);
    cr_assert(strstr(out, PM_MANIFEST " line 3: not"), "%s", out);
    cr_assert(strstr(out, PM_MANIFEST " line 4: not"), "%s", out);
    free(out);
    free(bad);
    free(mf);

    /* no manifest at all, no directory at all: unreadable */
    unlink(p);
    cr_assert_eq(verify(d, NULL, &out), 3);
    free(out);
    cr_assert_eq(verify("/nonexistent/bundle", NULL, &out), 3);
    free(out);
    rm_rf(d);
    free(d);
}

/* ---- HTML ---- */

Test(bundle, html_escaping_of_hostile_text)
{
    const char *evil = "<script>alert('x')</script> & \"q\" \x01\x1b[31m\xff\xc3\xa9";
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    pm_html_escape(m, evil);
    fclose(m);
    cr_assert_str_eq(buf, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot; "
                          "??[31m???");
    free(buf);

    char small[16];
    pm_html_escape_buf(small, sizeof(small), "ab<<<<");
    cr_assert_str_eq(small, "ab&lt;&lt;&lt;", "entities are never cut in half");
    pm_html_escape_buf(small, sizeof(small), "'\"&");
    cr_assert_str_eq(small, "&#39;&quot;");
}

static void fill_refused(struct pm_attempt *a, struct pm_finding *f, struct pm_logentry *l)
{
    memset(a, 0, sizeof(*a));
    memset(f, 0, sizeof(*f));
    memset(l, 0, sizeof(*l));
    a->id = 1;
    a->family = PM_AF_INET;
    pm_addr_parse("192.0.2.10", &a->cli);
    pm_addr_parse("203.0.113.10", &a->srv);
    a->sport = 46951;
    a->dport = 25;
    cr_assert(pm_time_parse("2026-11-28T18:55:54.186839Z", &a->first_syn));
    a->last_syn = a->last_seen = a->first_syn;
    a->syns = 1;
    a->syn_ttl = 64;
    a->answer = PM_ANS_RST;
    a->ans.ts = a->first_syn + PM_MS(1);
    a->ans.ttl = 61;
    a->close_ts = PM_NS_NONE;
    pm_strlcpy(a->history, "Sr", sizeof(a->history));
    l->addr = a->srv;
    l->port = 25;
    l->line = 6;
    l->ts = a->first_syn;
    pm_strlcpy(l->host, "mx1.example.net", sizeof(l->host));
    pm_strlcpy(l->text, "connect to mx1.example.net[203.0.113.10]:25: Connection refused",
               sizeof(l->text));
    f->a = a;
    f->log = l;
    f->id = 1;
    f->outcome = PM_OUT_REFUSED;
    f->verdict = PM_V_REMOTE_REFUSED;
    f->owner = PM_OWN_RECIPIENT_POSTMASTER;
    f->confidence = PM_CONF_HIGH;
    f->rst_hops = 3;
    f->rst_expected_hops = 3;
    f->rst_origin = PM_RST_DESTINATION;
    f->icmp_hop = -1;
    pm_strlcpy(f->clue, "RST from 3 hops, as far as 203.0.113.10 itself", sizeof(f->clue));
    pm_strlcpy(f->next_step, "Tell the postmaster of mx1.example.net.", sizeof(f->next_step));
    pm_finding_add(f, "sender.pcap#7: SYN 192.0.2.10:46951 > 203.0.113.10:25 (TTL 64)");
    pm_finding_add(f, "sender.pcap#8: RST from 203.0.113.10 TTL 61 (3 hops)");
    pm_finding_add(f, "maillog:6: mx1.example.net: connect to mx1.example.net[203.0.113.10]:25: "
                      "Connection refused");
}

Test(bundle, ladder_escapes_banner_text_and_draws_the_answer)
{
    struct pm_attempt a;
    struct pm_finding f;
    struct pm_logentry l;
    fill_refused(&a, &f, &l);
    struct pm_smtp_summary sm;
    memset(&sm, 0, sizeof(sm));
    sm.banner_code = 554;
    pm_strlcpy(sm.banner, "<svg onload=alert(1)> \"pwn\" & 'x'", sizeof(sm.banner));
    f.smtp = &sm;
    f.outcome = PM_OUT_SMTP_REJECTED;
    pm_strlcpy(f.clue, "</text><script>x</script>", sizeof(f.clue));
    a.answer = PM_ANS_SYNACK;
    a.banner_code = 554;
    struct pm_bfind *b = malloc(sizeof(*b));
    pm_bfind_copy(b, &f, "sender<b>", "maillog");
    pm_bfind_synth_events(b);
    cr_assert_geq(b->nev, 3, "SYN, SYN-ACK and the greeting");
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    pm_bundle_write_ladder(m, b);
    fclose(m);
    cr_assert(strstr(buf, "<svg "), "%s", buf);
    cr_assert(strstr(buf, "smtp-policy") || strstr(buf, "remote-refused"));
    cr_assert(!strstr(buf, "<svg onload"), "banner text must be escaped");
    cr_assert(!strstr(buf, "<script>"), "clue must be escaped");
    cr_assert(strstr(buf, "&lt;svg onload=alert(1)&gt; &quot;pwn&quot; &amp; &#39;x&#39;"), "%s",
              buf);
    cr_assert(strstr(buf, "SYN-ACK"), "%s", buf);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];
        cr_assert(c == '\n' || (c >= 0x20 && c < 0x7f), "byte %zu is 0x%02x", i, c);
    }
    free(buf);
    free(b);
}

/* ---- escalation ---- */

/* Issue 16.5: the public (post-NAT) source first and in the subject, the inside one second;
 * what is asked of the recipient's side names the public source and their logs, and never a
 * step only a portmortem user can take (the finding's own next step says "portmortem probe"). */
Test(bundle, escalation_public_source_first_and_requests_for_their_side)
{
    struct pm_attempt a;
    struct pm_finding f;
    struct pm_logentry l;
    fill_refused(&a, &f, &l);
    pm_strlcpy(f.next_step, "run portmortem probe --ttl-walk 203.0.113.10", sizeof(f.next_step));
    const char *att[] = {"escalation-203.0.113.10.txt"};
    struct pm_esc e = {.f = &f, .mx = "mx1.example.net", .dst = a.srv, .dport = 25, .nsrcs = 2,
                       .first_fail = a.first_syn, .last_fail = a.first_syn, .failing = 1,
                       .attempts = 1, .attached = att, .nattached = 1};
    cr_assert(pm_addr_parse("198.51.100.2", &e.srcs[0]));
    e.src_public[0] = 1;
    pm_strlcpy(e.src_vantage[0], "as seen at nat-outside", sizeof(e.src_vantage[0]));
    e.srcs[1] = a.cli;
    pm_strlcpy(e.src_vantage[1], "as seen at sender", sizeof(e.src_vantage[1]));
    e.by_outcome[PM_OUT_REFUSED] = 1;
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    cr_assert_eq(pm_bundle_write_escalation(m, &e), 0);
    fclose(m);
    cr_assert(!strncmp(buf, "Subject: Outbound SMTP from 198.51.100.2 to ", 44), "%s", buf);
    cr_assert(strstr(buf, "\nSource IP:       198.51.100.2 (public, after NAT: the address you "
                          "see; as seen at nat-outside)\n                 192.0.2.10 (inside "
                          "our NAT, before translation; as seen at sender)\n"), "%s", buf);
    const char *ask = strstr(buf, "\nWhat we ask of you");
    cr_assert_not_null(ask, "%s", buf);
    cr_assert(strstr(ask, "from 198.51.100.2"), "%s", ask);
    cr_assert(strstr(ask, "times above (UTC)"), "%s", ask);
    cr_assert_null(strstr(buf, "portmortem probe"), "%s", buf);
    cr_assert_null(strstr(buf, "Next step:"), "%s", buf);
    free(buf);
}

Test(bundle, escalation_text_holds_the_six_fields)
{
    struct pm_attempt a;
    struct pm_finding f;
    struct pm_logentry l;
    fill_refused(&a, &f, &l);
    pm_finding_add(&f, "hostile \x1b[2J log\r\ntext \xff");
    const char *att[] = {"escalation-203.0.113.10.txt", "evidence.pcapng", "mta-log.txt"};
    struct pm_esc e = {
        .f = &f,
        .mx = "mx1.example.net",
        .dst = a.srv,
        .dport = 25,
        .nsrcs = 1,
        .first_fail = a.first_syn,
        .last_fail = a.first_syn + PM_SEC(60),
        .failing = 2,
        .attempts = 2,
        .attached = att,
        .nattached = 3,
    };
    e.srcs[0] = a.cli;
    pm_strlcpy(e.src_vantage[0], "as seen at sender", sizeof(e.src_vantage[0]));
    e.by_outcome[PM_OUT_REFUSED] = 2;
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    cr_assert_eq(pm_bundle_write_escalation(m, &e), 0);
    fclose(m);
    cr_assert(!strncmp(buf, "Subject: Outbound SMTP from 192.0.2.10 to 203.0.113.10:25 refused "
                            "before SMTP banner\n", 84), "%s", buf);
    cr_assert(strstr(buf, "\nSource IP:       192.0.2.10 (as seen at sender)\n"), "%s", buf);
    cr_assert(strstr(buf, "\nDestination MX:  mx1.example.net\n"), "%s", buf);
    cr_assert(strstr(buf, "\nDestination IP:  203.0.113.10, TCP port 25\n"), "%s", buf);
    cr_assert(strstr(buf, "\nTime (UTC):      2026-11-28T18:55:54.186839Z first failing attempt\n"
                          "                 2026-11-28T18:56:54.186839Z last failing attempt\n"),
              "%s", buf);
    cr_assert(strstr(buf, "\nResult:          TCP port 25 refused before SMTP banner (RST from "
                          "203.0.113.10, TTL 61, 3 hops; the MX is 3 hops away)\n"), "%s", buf);
    cr_assert(strstr(buf, "\nTrace (packets as FILE#FRAME, log lines as FILE:LINE):\n"
                          "  sender.pcap#7: SYN"), "%s", buf);
    cr_assert(strstr(buf, "  maillog:6: mx1.example.net: connect to"), "%s", buf);
    cr_assert(strstr(buf, "Verdict:         remote-refused (confidence high)"), "%s", buf);
    cr_assert(strstr(buf, "Who must act:    recipient-postmaster"), "%s", buf);
    cr_assert(strstr(buf, "  evidence.pcapng "), "%s", buf);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];
        cr_assert(c == '\n' || (c >= 0x20 && c < 0x7f), "byte %zu is 0x%02x", i, c);
    }
    /* Without a name the address stands in for the MX. */
    e.mx = "";
    free(buf);
    m = open_memstream(&buf, &len);
    pm_bundle_write_escalation(m, &e);
    fclose(m);
    cr_assert(strstr(buf, "Destination MX:  203.0.113.10 (no host name in the MTA log)"), "%s",
              buf);
    free(buf);
}

Test(bundle, result_words_per_layer)
{
    struct pm_attempt a;
    struct pm_finding f;
    struct pm_logentry l;
    fill_refused(&a, &f, &l);
    char r[600], s[200];

    a.answer = PM_ANS_ICMP;
    a.ans.icmp_type = 3;
    a.ans.icmp_code = 13;
    pm_addr_parse("198.51.100.1", &a.ans.from);
    f.outcome = PM_OUT_ICMP_UNREACHABLE;
    f.icmp_hop = 2;
    pm_bundle_result_words(&f, r, sizeof(r), s, sizeof(s));
    cr_assert(!strncmp(r, "TCP SYN to port 25 answered by ICMP ", 36), "%s", r);
    cr_assert(strstr(r, "from 198.51.100.1 (hop 2)"), "%s", r);

    a.answer = PM_ANS_NONE;
    a.syns = 5;
    a.last_syn = a.first_syn + PM_MS(4089);
    f.outcome = PM_OUT_NO_RESPONSE;
    pm_bundle_result_words(&f, r, sizeof(r), s, sizeof(s));
    cr_assert(!strncmp(r, "TCP SYNs to port 25 unanswered (5 SYNs over 4.089 s", 51), "%s", r);

    struct pm_smtp_summary sm;
    memset(&sm, 0, sizeof(sm));
    sm.banner_code = 554;
    pm_strlcpy(sm.banner, "5.7.1 Access denied", sizeof(sm.banner));
    f.smtp = &sm;
    f.outcome = PM_OUT_SMTP_REJECTED;
    pm_bundle_result_words(&f, r, sizeof(r), s, sizeof(s));
    cr_assert_str_eq(r, "SMTP greeting 554 5.7.1 Access denied");

    f.a = NULL;
    f.smtp = NULL;
    f.outcome = PM_OUT_NOT_ON_WIRE;
    f.verdict = PM_V_LOCAL_FIREWALL;
    pm_bundle_result_words(&f, r, sizeof(r), s, sizeof(s));
    cr_assert(!strncmp(r, "no SYN left the sending host: local firewall", 44), "%s", r);
}

/* ---- a whole bundle through the public interface ---- */

static int count_entries(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        n += !strncmp(de->d_name, prefix, strlen(prefix));
    }
    closedir(d);
    return n;
}

static void whole_bundle(bool helper)
{
    char *parent = tmpdir();
    char dir[600], err[600];
    snprintf(dir, sizeof(dir), "%s/b", parent);
    /* The helper process is capture/'s store (issue 17.4), handed to the writer. */
    struct pm_bundle_options bo = {.store = helper ? pm_bundle_helper_start : NULL};
    struct pm_bundle *b = pm_bundle_open_with(dir, &bo, err, sizeof(err));
    cr_assert_not_null(b, "%s", err);
    cr_assert_eq(count_entries(parent, ".b.tmp-"), 1, "written beside DIR first");

    struct pm_attempt a;
    struct pm_finding f;
    struct pm_logentry l;
    fill_refused(&a, &f, &l);
    const char *vnames[] = {"sender"};
    struct pm_attr_env env;
    memset(&env, 0, sizeof(env));
    env.vantage_names = vnames;
    pm_bundle_attempt(b, &f, &env);

    struct pm_context *ctx = pm_context_new(1, 1024, 1024);
    struct pm_track_counters tc;
    memset(&tc, 0, sizeof(tc));
    struct pm_run_summary s;
    memset(&s, 0, sizeof(s));
    char a0[] = "portmortem", a1[] = "analyze", a2[] = "--bundle", a4[] = "x.pcap";
    char *argv[] = {a0, a1, a2, dir, a4};
    s.subcommand = "analyze";
    s.argc = 5;
    s.argv = argv;
    s.tc = &tc;
    s.first_ts = s.last_ts = PM_NS_NONE;
    s.attempts = 1;
    snprintf(s.scope_text, sizeof(s.scope_text), "one destination failing");
    struct pm_bundle_inputs in;
    memset(&in, 0, sizeof(in));
    in.host_context = "eth0 192.0.2.10/24\nipv4 default via 192.0.2.1 dev eth0\n";
    cr_assert_eq(pm_bundle_finish(b, ctx, &s, &in), 0);
    cr_assert_eq(count_entries(parent, ".b.tmp-"), 0, "no temporary directory left");

    char *out = NULL;
    cr_assert_eq(verify(dir, NULL, &out), 0, "%s", out);
    free(out);
    char p[700];
    /* Issue 16.5: the host context is ours, not the outside team's: by default beside the
     * bundle (0600), not in it; in it with --bundle-host-context. */
    struct stat hst;
    snprintf(p, sizeof(p), "%s/host-context.txt", dir);
    cr_assert_neq(stat(p, &hst), 0, "host-context.txt is in the bundle by default");
    snprintf(p, sizeof(p), "%s.host-context.txt", dir);
    cr_assert_eq(stat(p, &hst), 0, "no %s", p);
    cr_assert_eq(hst.st_mode & 0777, 0600);
    char *hc = slurp(p);
    cr_assert(strstr(hc, "192.0.2.10/24"), "%s", hc);
    free(hc);
    {
        char hdir[640];
        snprintf(hdir, sizeof(hdir), "%s/h", parent);
        struct pm_bundle_options ho = bo;
        ho.host_context = true;
        struct pm_bundle *hb = pm_bundle_open_with(hdir, &ho, err, sizeof(err));
        cr_assert_not_null(hb, "%s", err);
        pm_bundle_attempt(hb, &f, &env);
        cr_assert_eq(pm_bundle_finish(hb, ctx, &s, &in), 0);
        cr_assert_eq(verify(hdir, NULL, &out), 0, "%s", out);
        free(out);
        snprintf(p, sizeof(p), "%s/host-context.txt", hdir);
        cr_assert_eq(stat(p, &hst), 0, "--bundle-host-context: not in the bundle");
        snprintf(p, sizeof(p), "%s.host-context.txt", hdir);
        cr_assert_neq(stat(p, &hst), 0, "--bundle-host-context: also beside it");
        snprintf(p, sizeof(p), "%s/MANIFEST.sha256", hdir);
        char *mf = slurp(p);
        cr_assert(strstr(mf, "  host-context.txt\n"), "%s", mf);
        free(mf);
    }
    snprintf(p, sizeof(p), "%s/escalation-203.0.113.10.txt", dir);
    char *esc = slurp(p);
    cr_assert(strstr(esc, "Destination MX:  mx1.example.net"), "%s", esc);
    free(esc);
    snprintf(p, sizeof(p), "%s/report.html", dir);
    char *html = slurp(p);
    cr_assert(strstr(html, "<svg "));
    cr_assert(strstr(html, "remote-refused"));
    free(html);

    /* A second bundle into the same directory is refused, and the first stays as it was. */
    cr_assert_null(pm_bundle_open(dir, err, sizeof(err)));
    cr_assert(strstr(err, "already exists"), "%s", err);
    cr_assert_eq(verify(dir, NULL, &out), 0, "%s", out);
    free(out);
    cr_assert_eq(count_entries(parent, ".b.tmp-"), 0);

    /* An aborted bundle leaves nothing. */
    snprintf(dir, sizeof(dir), "%s/c", parent);
    b = pm_bundle_open(dir, err, sizeof(err));
    cr_assert_not_null(b, "%s", err);
    pm_bundle_attempt(b, &f, &env);
    pm_bundle_abort(b);
    cr_assert_eq(count_entries(parent, ".c.tmp-"), 0);
    cr_assert_eq(count_entries(parent, "c"), 0);

    /* A bad signing key: nothing written, a usage error. */
    b = pm_bundle_open(dir, err, sizeof(err));
    cr_assert_not_null(b, "%s", err);
    in.sign_key = "/nonexistent/key.pem";
    cr_assert_neq(pm_bundle_finish(b, ctx, &s, &in), 0);
    cr_assert_eq(count_entries(parent, ".c.tmp-"), 0);
    cr_assert_eq(count_entries(parent, "c"), 0);

    pm_context_free(ctx);
    rm_rf(parent);
    free(parent);
}

Test(bundle, whole_bundle_written_directly)
{
    whole_bundle(false);
}

Test(bundle, whole_bundle_through_the_helper)
{
    /* Root or not: the helper also removes the temporary directory of an interrupted run. */
    whole_bundle(true);
}

/* Issue 19: the key is read and parsed when the bundle starts (before a capture drops
 * root), so one that cannot be read at the end any more still signs; a bad one is refused at
 * once with the exit status of a usage error. */
Test(bundle, signing_key_is_read_at_the_start)
{
    char *parent = tmpdir();
    char priv[512], pub[512], dir[600], err[600];
    keypair(parent, "k", priv, pub, sizeof(priv));
    snprintf(dir, sizeof(dir), "%s/signed", parent);
    struct pm_bundle_options bo = {.store = pm_bundle_helper_start};
    struct pm_bundle *b = pm_bundle_open_with(dir, &bo, err, sizeof(err));
    cr_assert_not_null(b, "%s", err);
    cr_assert_eq(pm_bundle_load_key(b, pub), PM_EXIT_USAGE, "a public key is no signing key");
    cr_assert_eq(pm_bundle_load_key(b, "/nonexistent/key.pem"), PM_EXIT_UNREADABLE);
    cr_assert_eq(pm_bundle_load_key(b, priv), 0);
    cr_assert_eq(unlink(priv), 0, "gone before the end: as after a privilege drop");
    struct pm_context *ctx = pm_context_new(1, 1024, 1024);
    struct pm_track_counters tc;
    memset(&tc, 0, sizeof(tc));
    struct pm_run_summary s;
    memset(&s, 0, sizeof(s));
    s.tc = &tc;
    s.first_ts = s.last_ts = PM_NS_NONE;
    struct pm_bundle_inputs in;
    memset(&in, 0, sizeof(in));
    in.sign_key = priv;
    cr_assert_eq(pm_bundle_finish(b, ctx, &s, &in), 0);
    char *out = NULL;
    cr_assert_eq(verify(dir, pub, &out), 0, "%s", out);
    cr_assert(strstr(out, "signature good"), "%s", out);
    free(out);
    pm_context_free(ctx);
    rm_rf(parent);
    free(parent);
}

Test(bundle, refuses_unusable_directory_names)
{
    char err[600];
    cr_assert_null(pm_bundle_open("", err, sizeof(err)));
    cr_assert_null(pm_bundle_open(".", err, sizeof(err)));
    cr_assert(strstr(err, "new directory"), "%s", err);
    cr_assert_null(pm_bundle_open("/", err, sizeof(err)));
    cr_assert_null(pm_bundle_open("/nonexistent-parent/b", err, sizeof(err)));
    cr_assert(strstr(err, "parent directory"), "%s", err);
}

/* ---- the packet slice: one 4-tuple reused by many attempts (issue 19) ---- */

/* A flood that reuses one 4-tuple with new ISNs puts all its attempts on one key. Each packet
 * must still go to the attempt whose window holds it (the latest started), found by binary
 * search in time: every SYN's comment names its own attempt. */
Test(bundle, slice_reused_four_tuple_packets_find_their_attempt)
{
    enum { N = 400 };
    static struct pb_rec recs[N];
    static uint8_t frames[N][128];
    const pm_ns t0 = PM_SEC(1795890769);
    for (int i = 0; i < N; i++) {
        uint8_t tcp[64];
        struct pb_tcp th = {.sport = 40000, .dport = 25, .seq = 1000u + (uint32_t)i * 7919u,
                            .flags = PM_TH_SYN, .win = 64240};
        size_t tl = pb_tcp(tcp, sizeof(tcp), &th);
        struct pb_ip ip = {.family = PM_AF_INET, .src = "192.0.2.1", .dst = "203.0.113.10",
                           .proto = 6};
        size_t n = pb_ip(frames[i], sizeof(frames[i]), &ip, tcp, tl);
        recs[i].ts = t0 + PM_SEC(30) * i; /* windows: 1 s before to 10 s after: disjoint */
        recs[i].data = frames[i];
        recs[i].caplen = (uint32_t)n;
    }
    char in[PATH_MAX], outp[PATH_MAX];
    pb_tmppath(in, sizeof(in), "reuse.pcap");
    pb_tmppath(outp, sizeof(outp), "reuse-slice.pcapng");
    pb_write_pcap(in, 101 /* LINKTYPE_RAW */, true, false, 65535, recs, N);

    struct pm_slice *s = pm_slice_new();
    for (int i = N - 1; i >= 0; i--) { /* added out of time order, as findings may come */
        struct pm_attempt a;
        memset(&a, 0, sizeof(a));
        a.family = PM_AF_INET;
        a.cli = pb_addr("192.0.2.1");
        a.srv = pb_addr("203.0.113.10");
        a.sport = 40000;
        a.dport = 25;
        a.first_syn = a.last_syn = a.last_seen = recs[i].ts;
        a.ans.ts = a.close_ts = PM_NS_NONE;
        a.syns = 1;
        a.syn_ref.file = 0;
        a.syn_ref.frame = (uint32_t)i + 1;
        cr_assert(pm_slice_add(s, &a, NULL, (uint32_t)i + 1, PM_OUT_NO_RESPONSE,
                               PM_V_SILENT_DROP, PM_OWN_UNKNOWN, false, NULL));
    }
    FILE *f = fopen(outp, "w+");
    cr_assert_not_null(f);
    const char *paths[1] = {in};
    char notes[512] = "";
    uint64_t written = 0;
    cr_assert_eq(pm_slice_write(s, f, paths, NULL, 1, NULL, notes, sizeof(notes), &written), 0);
    cr_assert_eq(written, N, "every SYN is in the slice (%llu)", (unsigned long long)written);
    long len = ftell(f);
    char *buf = malloc((size_t)len + 1);
    cr_assert_not_null(buf);
    rewind(f);
    cr_assert_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
    buf[len] = 0;
    fclose(f);
    /* in time order, the i-th packet's comment names attempt #i+1 and frame #i+1 */
    const char *p = buf;
    for (int i = 0; i < N; i++) {
        char want[64];
        snprintf(want, sizeof(want), "portmortem attempt #%d:", i + 1);
        const char *hit = memmem(p, (size_t)(buf + len - p), want, strlen(want));
        cr_assert_not_null(hit, "packet %d is not labelled as attempt #%d", i + 1, i + 1);
        char frame[32];
        snprintf(frame, sizeof(frame), "#%d)", i + 1);
        cr_assert_not_null(strstr(hit, frame), "attempt #%d names frame %d", i + 1, i + 1);
        p = hit + strlen(want);
    }
    free(buf);
    pm_slice_free(s);
}
