/*
 * bundle_manifest.c — owns the bundle's integrity (analyze/bundle_int.h): SHA-256 of every
 * file through OpenSSL's EVP interface, MANIFEST.sha256 in the exact format `sha256sum`
 * writes (so `cd DIR && sha256sum -c MANIFEST.sha256` checks it without portmortem), the
 * optional Ed25519 signature MANIFEST.sig over the manifest's exact bytes, and
 * `portmortem verify DIR [--verify-key KEY]`, which re-hashes every listed file and names
 * each one that differs, is missing, or is present but not listed.
 *
 * Why the signature covers only the manifest: the manifest binds every file by its hash, so
 * one signature over a few hundred bytes covers the whole bundle, and `openssl pkeyutl`
 * can check it by hand (docs/BUNDLE.md).
 */
#include "bundle_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "util.h"


bool pm_bundle_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n >= PM_BUNDLE_NAME || name[0] == '.') {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-')) {
            return false;
        }
    }
    return true;
}

void pm_hex(const uint8_t *b, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[b[i] >> 4];
        out[2 * i + 1] = hx[b[i] & 15];
    }
    out[2 * n] = '\0';
}

void pm_sha256_mem(const void *p, size_t n, uint8_t out[32])
{
    unsigned int len = 32;
    if (EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) != 1) {
        /* Cannot happen with the default provider; fail loudly rather than hash nothing. */
        pm_die(PM_EXIT_UNREADABLE, "OpenSSL cannot compute SHA-256");
    }
}

int pm_sha256_fd(int fd, uint8_t out[32])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(md);
        return ENOMEM;
    }
    static uint8_t buf[1 << 16];
    off_t off = 0;
    int rc = 0;
    for (;;) {
        ssize_t r = pread(fd, buf, sizeof(buf), off);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            rc = errno;
            break;
        }
        if (r == 0) {
            break;
        }
        if (EVP_DigestUpdate(md, buf, (size_t)r) != 1) {
            rc = EIO;
            break;
        }
        off += r;
    }
    unsigned int len = 32;
    if (rc == 0 && EVP_DigestFinal_ex(md, out, &len) != 1) {
        rc = EIO;
    }
    EVP_MD_CTX_free(md);
    return rc;
}

static int cmp_entry(const void *x, const void *y)
{
    return strcmp(((const struct pm_mf_entry *)x)->name, ((const struct pm_mf_entry *)y)->name);
}

int pm_manifest_write(FILE *out, struct pm_mf_entry *e, size_t n)
{
    qsort(e, n, sizeof(*e), cmp_entry);
    for (size_t i = 0; i < n; i++) {
        char hex[65];
        pm_hex(e[i].sha, 32, hex);
        /* Two spaces: sha256sum's text mode; the names never need its backslash escaping
         * (pm_bundle_name_ok). */
        if (fprintf(out, "%s  %s\n", hex, e[i].name) < 0) {
            return -1;
        }
    }
    return ferror(out) ? -1 : 0;
}

/* ---- keys ---- */

/* Encrypted keys are refused rather than prompting on a terminal that a capture may own. */
static int no_password(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

static void ossl_reason(char *buf, size_t len)
{
    unsigned long e = ERR_peek_last_error();
    if (e) {
        ERR_error_string_n(e, buf, len);
    } else {
        snprintf(buf, len, "no further detail");
    }
    ERR_clear_error();
}

static EVP_PKEY *load_key(const char *path, bool private_key, char *err, size_t errlen,
                          int *status)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        snprintf(err, errlen, "cannot read the %s key %s: %s", private_key ? "signing" : "public",
                 path, strerror(errno));
        *status = PM_EXIT_UNREADABLE;
        return NULL;
    }
    EVP_PKEY *k = private_key ? PEM_read_PrivateKey(f, NULL, no_password, NULL)
                              : PEM_read_PUBKEY(f, NULL, no_password, NULL);
    if (!k && !private_key) {
        /* The signer checking their own bundle may give the private key: it holds the
         * public one. */
        rewind(f);
        ERR_clear_error();
        k = PEM_read_PrivateKey(f, NULL, no_password, NULL);
    }
    fclose(f);
    if (!k) {
        char why[200];
        ossl_reason(why, sizeof(why));
        snprintf(err, errlen,
                 "%s is not a PEM %s key (%s); make one with: openssl genpkey -algorithm "
                 "ed25519 -out key.pem%s", path, private_key ? "private" : "public", why,
                 private_key ? " (unencrypted)"
                             : "; openssl pkey -in key.pem -pubout -out pub.pem");
        *status = private_key ? PM_EXIT_USAGE : PM_EXIT_UNREADABLE;
        return NULL;
    }
    if (EVP_PKEY_id(k) != EVP_PKEY_ED25519) {
        snprintf(err, errlen, "%s is a %s key, not Ed25519; make one with: openssl genpkey "
                 "-algorithm ed25519 -out key.pem", path, OBJ_nid2sn(EVP_PKEY_id(k)));
        EVP_PKEY_free(k);
        *status = private_key ? PM_EXIT_USAGE : PM_EXIT_UNREADABLE;
        return NULL;
    }
    return k;
}

void *pm_manifest_key_load(const char *keypath, char *err, size_t errlen, int *status)
{
    *status = 0;
    return load_key(keypath, true, err, errlen, status);
}

void pm_manifest_key_free(void *key) { EVP_PKEY_free(key); }

int pm_manifest_sign_with(void *key, const char *keyname, const void *msg, size_t n, char *b64,
                          size_t b64len, char *err, size_t errlen)
{
    EVP_PKEY *k = key;
    uint8_t sig[64];
    size_t siglen = sizeof(sig);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    /* Ed25519 is "pure": no separate digest (NULL md), the whole message at once. */
    bool ok = md && EVP_DigestSignInit(md, NULL, NULL, NULL, k) == 1 &&
              EVP_DigestSign(md, sig, &siglen, msg, n) == 1 && siglen == 64;
    EVP_MD_CTX_free(md);
    if (!ok) {
        char why[200];
        ossl_reason(why, sizeof(why));
        snprintf(err, errlen, "signing the manifest with %s failed: %s", keyname, why);
        return PM_EXIT_UNREADABLE;
    }
    if (b64len < 90) {
        snprintf(err, errlen, "internal: signature buffer too small");
        return PM_EXIT_UNREADABLE;
    }
    int w = EVP_EncodeBlock((unsigned char *)b64, sig, (int)siglen); /* 88 characters */
    b64[w] = '\n';
    b64[w + 1] = '\0';
    return 0;
}

int pm_manifest_sign(const char *keypath, const void *msg, size_t n, char *b64, size_t b64len,
                     char *err, size_t errlen)
{
    int status = 0;
    EVP_PKEY *k = load_key(keypath, true, err, errlen, &status);
    if (!k) {
        return status;
    }
    int rc = pm_manifest_sign_with(k, keypath, msg, n, b64, b64len, err, errlen);
    EVP_PKEY_free(k);
    return rc;
}

/* ---- verify ---- */

struct vstate {
    FILE *out;
    int problems;
};

static void problem(struct vstate *v, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void problem(struct vstate *v, const char *name, const char *fmt, ...)
{
    char clean[PM_BUNDLE_NAME * 2];
    pm_sanitize(clean, sizeof(clean), (const uint8_t *)name, strlen(name));
    fprintf(v->out, "%s: ", clean);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(v->out, fmt, ap);
    va_end(ap);
    fputc('\n', v->out);
    v->problems++;
}

/* Open a file of a bundle to read: never through a symlink, and never blocking — a FIFO
 * planted under a bundle's name would otherwise hang `verify` in open(2) forever (issue 19).
 * The type is checked on what was opened (fstat). Returns the descriptor or -1 with errno
 * (ELOOP: a symlink, EINVAL: not a regular file). */
static int open_bundle_file(int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    struct stat st;
    int e = fstat(fd, &st) != 0 ? errno : !S_ISREG(st.st_mode) ? EINVAL : 0;
    if (e) {
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static const char *open_error(int e)
{
    return e == ELOOP ? "a symbolic link, not the file the manifest lists"
           : e == EINVAL ? "not a regular file"
                         : strerror(e);
}

static int read_small(int dirfd, const char *name, char **buf, size_t *len)
{
    int fd = open_bundle_file(dirfd, name);
    if (fd < 0) {
        return errno;
    }
    struct stat st;
    int e = fstat(fd, &st) != 0 ? errno : st.st_size > (off_t)PM_BUNDLE_MANIFEST_MAX ? EFBIG : 0;
    if (e) {
        close(fd);
        return e;
    }
    *buf = pm_xmalloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, *buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            e = r < 0 ? errno : EIO;
            close(fd);
            free(*buf);
            *buf = NULL;
            return e;
        }
        got += (size_t)r;
    }
    close(fd);
    (*buf)[got] = '\0';
    *len = got;
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Parse the manifest. Returns the entries (malformed lines are problems). */
static struct pm_mf_entry *parse_manifest(struct vstate *v, const char *buf, size_t len,
                                          size_t *n, size_t **lines)
{
    struct pm_mf_entry *e = NULL;
    *lines = NULL;
    size_t cap = 0;
    *n = 0;
    size_t lineno = 0;
    for (size_t pos = 0; pos < len;) {
        const char *line = buf + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - line) : len - pos;
        pos += ll + (nl ? 1 : 0);
        lineno++;
        char where[64];
        snprintf(where, sizeof(where), PM_MANIFEST " line %zu", lineno);
        bool ok = nl != NULL && ll > 66 && line[64] == ' ' && (line[65] == ' ' || line[65] == '*');
        uint8_t sha[32];
        for (int i = 0; ok && i < 32; i++) {
            int hi = hexval(line[2 * i]), lo = hexval(line[2 * i + 1]);
            ok = hi >= 0 && lo >= 0;
            sha[i] = (uint8_t)(hi << 4 | lo);
        }
        char name[PM_BUNDLE_NAME] = "";
        if (ok) {
            size_t nl2 = ll - 66;
            ok = nl2 < sizeof(name);
            if (ok) {
                memcpy(name, line + 66, nl2);
                name[nl2] = '\0';
                ok = strlen(name) == nl2 && pm_bundle_name_ok(name);
            }
        }
        if (!ok) {
            problem(v, where, "not \"<64 hex digits>  <file name>\"%s", nl ? "" : " (no newline)");
            continue;
        }
        if (!strcmp(name, PM_MANIFEST) || !strcmp(name, PM_MANIFEST_SIG)) {
            problem(v, where, "lists %s, which the manifest never covers", name);
            continue;
        }
        bool dup = false;
        for (size_t i = 0; i < *n; i++) {
            dup |= !strcmp(e[i].name, name);
        }
        if (dup) {
            problem(v, where, "lists %s a second time", name);
            continue;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 32;
            e = pm_xreallocarray(e, cap, sizeof(*e));
            *lines = pm_xreallocarray(*lines, cap, sizeof(**lines));
        }
        (*lines)[*n] = lineno;
        pm_strlcpy(e[*n].name, name, sizeof(e[*n].name));
        memcpy(e[*n].sha, sha, 32);
        (*n)++;
    }
    return e;
}

static int check_signature(struct vstate *v, int dirfd, const char *pubkey, const char *mf,
                           size_t mflen, bool *good)
{
    char err[512];
    int status = 0;
    *good = false;
    EVP_PKEY *k = load_key(pubkey, false, err, sizeof(err), &status);
    if (!k) {
        pm_err("%s", err);
        return status;
    }
    char *sig = NULL;
    size_t siglen = 0;
    int e = read_small(dirfd, PM_MANIFEST_SIG, &sig, &siglen);
    if (e) {
        if (e == ENOENT) {
            problem(v, PM_MANIFEST_SIG, "missing (a key was given: the bundle must be signed)");
        } else {
            problem(v, PM_MANIFEST_SIG, "%s%s", e == ELOOP || e == EINVAL ? "" : "unreadable: ",
                    open_error(e));
        }
        EVP_PKEY_free(k);
        return 0;
    }
    /* One line of base64 (88 characters for 64 bytes), optional trailing newline. */
    size_t n = siglen;
    while (n && (sig[n - 1] == '\n' || sig[n - 1] == '\r')) {
        n--;
    }
    uint8_t raw[128];
    int dl = -1;
    if (n == 88) {
        dl = EVP_DecodeBlock(raw, (const unsigned char *)sig, (int)n);
        if (dl == 66 && sig[86] == '=' && sig[87] == '=') {
            dl = 64; /* EVP_DecodeBlock counts the padding as zero bytes */
        }
    }
    if (dl != 64) {
        problem(v, PM_MANIFEST_SIG, "not one line of base64 holding a 64-byte Ed25519 signature");
    } else {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        bool ok = md && EVP_DigestVerifyInit(md, NULL, NULL, NULL, k) == 1 &&
                  EVP_DigestVerify(md, raw, 64, (const unsigned char *)mf, mflen) == 1;
        EVP_MD_CTX_free(md);
        ERR_clear_error();
        if (ok) {
            *good = true;
        } else {
            problem(v, PM_MANIFEST_SIG, "the signature does not verify over " PM_MANIFEST
                    " with %s: " PM_MANIFEST " or " PM_MANIFEST_SIG " changed, or the bundle "
                    "was signed with another key", pubkey);
        }
    }
    free(sig);
    EVP_PKEY_free(k);
    return 0;
}

int pm_verify_bundle(const char *dir, const char *pubkey, FILE *out)
{
    struct vstate v = {.out = out};
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) {
        pm_err("cannot open the bundle %s: %s", dir, strerror(errno));
        pm_hint("give the directory written by --bundle");
        return PM_EXIT_UNREADABLE;
    }
    char *mf = NULL;
    size_t mflen = 0;
    int e = read_small(dirfd, PM_MANIFEST, &mf, &mflen);
    if (e) {
        pm_err("cannot read %s/" PM_MANIFEST ": %s", dir,
               e == ENOENT ? "missing" : e == EFBIG ? "too large to be a bundle manifest"
                                                    : open_error(e));
        pm_hint("not a portmortem bundle, or its manifest was removed; nothing can be checked");
        close(dirfd);
        return PM_EXIT_UNREADABLE;
    }
    size_t n = 0, *lines = NULL;
    struct pm_mf_entry *ent = parse_manifest(&v, mf, mflen, &n, &lines);
    if (n == 0 && v.problems == 0) {
        problem(&v, PM_MANIFEST, "lists no files");
    }
    size_t matched = 0;
    for (size_t i = 0; i < n; i++) {
        int fd = open_bundle_file(dirfd, ent[i].name);
        if (fd < 0) {
            if (errno == ENOENT) {
                problem(&v, ent[i].name, "missing");
            } else if (errno == ELOOP || errno == EINVAL) {
                problem(&v, ent[i].name, "%s", open_error(errno));
            } else {
                problem(&v, ent[i].name, "unreadable: %s", strerror(errno));
            }
            continue;
        }
        uint8_t sha[32];
        if ((e = pm_sha256_fd(fd, sha)) != 0) {
            problem(&v, ent[i].name, "unreadable: %s", strerror(e));
        } else if (memcmp(sha, ent[i].sha, 32) != 0) {
            /* Either the file or its manifest line changed: name both. */
            problem(&v, ent[i].name, "SHA-256 differs from " PM_MANIFEST " (line %zu)",
                    lines[i]);
        } else {
            matched++;
        }
        close(fd);
    }
    /* Files present but not listed: a bundle holds exactly what its manifest names. */
    int dfd = dup(dirfd);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        if (dfd >= 0) {
            close(dfd);
        }
        pm_err("cannot list %s: %s", dir, strerror(errno));
        free(ent);
        free(lines);
        free(mf);
        close(dirfd);
        return PM_EXIT_UNREADABLE;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
            !strcmp(de->d_name, PM_MANIFEST) || !strcmp(de->d_name, PM_MANIFEST_SIG)) {
            continue;
        }
        bool listed = false;
        for (size_t i = 0; i < n && !listed; i++) {
            listed = !strcmp(ent[i].name, de->d_name);
        }
        if (!listed) {
            problem(&v, de->d_name, "not in the manifest");
        }
    }
    closedir(d);
    bool sig_good = false, sig_present = faccessat(dirfd, PM_MANIFEST_SIG, F_OK,
                                                   AT_SYMLINK_NOFOLLOW) == 0;
    if (pubkey) {
        int rc = check_signature(&v, dirfd, pubkey, mf, mflen, &sig_good);
        if (rc) {
            free(ent);
            free(lines);
            free(mf);
            close(dirfd);
            return rc;
        }
    }
    free(ent);
    free(lines);
    free(mf);
    close(dirfd);
    if (v.problems) {
        fprintf(out, "%s: %d problem%s: the bundle is not as written (%zu of %zu listed files "
                "match)\n", dir, v.problems, v.problems == 1 ? "" : "s", matched, n);
        return PM_EXIT_FAILURES;
    }
    fprintf(out, "%s: OK, %zu files match " PM_MANIFEST "%s%s%s\n", dir, n,
            sig_good ? "; signature good (" : "", sig_good ? pubkey : "", sig_good ? ")" : "");
    if (!pubkey && sig_present) {
        fprintf(out, "%s: " PM_MANIFEST_SIG " present but not checked: give --verify-key "
                "PUBKEY.pem\n", dir);
    }
    return PM_EXIT_OK;
}

static void usage_verify(FILE *f)
{
    fprintf(f,
            "usage: portmortem verify DIR [--verify-key PUBKEY.pem]\n"
            "\n"
            "Check an evidence bundle written with --bundle DIR: re-hash every file listed in\n"
            "DIR/" PM_MANIFEST " (SHA-256), name each file that differs, is missing, or is\n"
            "present but not listed, and with --verify-key check the Ed25519 signature\n"
            "DIR/" PM_MANIFEST_SIG " over the manifest. The manifest alone can also be checked\n"
            "with: cd DIR && sha256sum -c " PM_MANIFEST "\n"
            "\n"
            "options:\n"
            "  -k, --verify-key KEY   PEM Ed25519 public key (openssl pkey -in key.pem -pubout)\n"
            "  -h, --help\n"
            "\n"
            "exit status: 0 every file matches (and the signature, when a key is given),\n"
            "             1 something differs (each difference is printed), 2 usage error,\n"
            "             3 DIR, its manifest or the key cannot be read\n"
            "see man portmortem and docs/BUNDLE.md\n");
}

int pm_cmd_verify(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"verify-key", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *key = NULL;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "k:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'k':
            key = optarg;
            break;
        case 'h':
            usage_verify(stdout);
            return PM_EXIT_OK;
        default:
            usage_verify(stderr);
            return PM_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        pm_err(optind >= argc ? "verify needs the bundle directory"
                              : "verify checks one bundle directory at a time");
        pm_hint("portmortem verify DIR [--verify-key PUBKEY.pem]");
        return PM_EXIT_USAGE;
    }
    int rc = pm_verify_bundle(argv[optind], key, stdout);
    if (fflush(stdout) != 0 && rc == PM_EXIT_OK) {
        rc = PM_EXIT_UNREADABLE;
    }
    return rc;
}
