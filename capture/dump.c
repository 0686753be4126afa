/*
 * dump.c — owns the -w files: what was captured, on disk, so that the evidence of every
 * attempt outlives the process (and so that `portmortem analyze` of the same files gives
 * the same verdicts).
 *
 * Naming (docs/CAPTURE.md): `-w cap.pcap` with one interface writes cap.pcap; with several
 * interfaces one file each, the interface name before the extension (cap.eth0.pcap,
 * cap.lo.pcap); with -C/-W rotation a ring of numbered files (cap.0.pcap ... cap.9.pcap,
 * or cap.eth0.0.pcap ...). A name without .pcap/.cap gets the parts appended (cap.eth0.0).
 *
 * Every file the run may ever write is opened here, as root, before the privilege drop —
 * which is why rotation needs -W (a bounded ring) and never creates files later: after the
 * drop the process may not write the directory. Rotation reuses the open descriptors
 * (truncate, rewrite the header). Every file is opened by pm_open_output() (util.h): never
 * through a symlink, only a regular file, created 0600 with O_EXCL, or an existing file of
 * ours replaced; only a file this run created is handed to the -Z user. The descriptors are
 * read-write, and the engine reads the packets back through them for the bundle (a file
 * the -Z user cannot open by name, or a temporary one with no name at all). Each unused
 * ring slot holds an empty but valid capture until its turn.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture_int.h"
#include "util.h"

struct ring_file {
    char path[PATH_MAX];
    int fd;                 /* read-write: the bundle reads the packets back through it */
    bool unlink_at_close;   /* a temporary file that could not be unlinked at once */
    uint64_t used_seq; /* 0: holds no packet since the run began; else order of first use */
};

struct pm_dump {
    pcap_t *p;
    struct ring_file *f;
    int nf;
    int cur;
    pcap_dumper_t *d;
    uint64_t max_bytes;
    uint64_t packets;
    uint64_t next_seq;
    bool cur_has_packets;
    bool temporary;
    bool write_failed;
};

void pm_dump_name(char *out, size_t len, const char *path, const char *iface, int nifaces,
                  int k, int nfiles)
{
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash + 1 : path, '.');
    size_t stem = strlen(path);
    const char *ext = "";
    if (dot && (!strcasecmp(dot, ".pcap") || !strcasecmp(dot, ".cap"))) {
        stem = (size_t)(dot - path);
        ext = dot;
    }
    char num[16] = "";
    if (nfiles > 0) {
        int width = 1;
        for (int n = nfiles - 1; n >= 10; n /= 10) {
            width++;
        }
        snprintf(num, sizeof(num), ".%0*d", width, k);
    }
    snprintf(out, len, "%.*s%s%s%s%s", (int)stem, path, nifaces > 1 ? "." : "",
             nifaces > 1 ? iface : "", num, ext);
}

static bool start_file(struct pm_dump *d, int k)
{
    struct ring_file *f = &d->f[k];
    if (ftruncate(f->fd, 0) != 0 || lseek(f->fd, 0, SEEK_SET) != 0) {
        pm_warn("cannot reuse %s: %s", f->path, strerror(errno));
        return false;
    }
    int dfd = dup(f->fd);
    FILE *fp = dfd >= 0 ? fdopen(dfd, "w") : NULL;
    if (!fp) {
        if (dfd >= 0) {
            close(dfd);
        }
        pm_warn("cannot write %s: %s", f->path, strerror(errno));
        return false;
    }
    d->d = pcap_dump_fopen(d->p, fp);
    if (!d->d) {
        pm_warn("cannot write %s: %s", f->path, pcap_geterr(d->p));
        fclose(fp);
        return false;
    }
    d->cur = k;
    d->cur_has_packets = false;
    f->used_seq = 0;
    return true;
}

/* --bundle without -w: a private file for the bundle's packet slice, with no name from the
 * start (O_TMPFILE), or unlinked right after mkostemp where the file system cannot do that.
 * Either way a SIGKILL leaves nothing behind that anyone could read; the engine reads it
 * back through the descriptor (pm_dump_paths). */
int pm_temp_capture(const char *tag, char *path, size_t pathlen, bool *named)
{
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp) {
        tmp = "/tmp";
    }
    *named = false;
    int fd = open(tmp, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
        snprintf(path, pathlen, "%s/portmortem-%s-XXXXXX.pcap", tmp, tag);
        fd = mkostemps(path, 5, O_CLOEXEC);
        if (fd >= 0 && unlink(path) != 0) {
            pm_warn("cannot unlink the temporary capture %s at once: %s", path, strerror(errno));
            *named = true;
        }
    }
    if (fd < 0) {
        int e = errno;
        pm_err("cannot create a temporary capture file in %s: %s", tmp, strerror(e));
        pm_hint("--bundle without -w keeps packets in $TMPDIR; set TMPDIR or give -w FILE");
        errno = e;
        return -1;
    }
    if (!*named) {
        /* No name on disk: a label for the bundle's notes and packet comments. */
        snprintf(path, pathlen, "portmortem-%s.pcap", tag);
    }
    return fd;
}

static int open_temporary(struct ring_file *f, const char *iface)
{
    f->fd = pm_temp_capture(iface, f->path, sizeof(f->path), &f->unlink_at_close);
    return f->fd < 0 ? -1 : 0;
}

static int open_one(struct ring_file *f, const struct pm_dump_opts *o, const char *iface)
{
    if (o->temporary) {
        return open_temporary(f, iface);
    }
    bool created = false;
    char why[256];
    f->fd = pm_open_output(f->path, o->owner, &created, why, sizeof(why));
    if (f->fd < 0) {
        pm_err("cannot write the capture file %s: %s", f->path, why);
        if (errno == ENOENT || errno == EACCES) {
            pm_hint("check the directory exists and is writable by root");
        } else {
            pm_hint("give -w a new file name, or remove what is there first");
        }
        return -1;
    }
    /* Only a file this run created is handed to the -Z user (so that, as with tcpdump -Z,
     * it belongs to the user that writes it); a replaced file keeps its owner and mode. */
    if (created && o->owner != (uid_t)-1 && fchown(f->fd, o->owner, o->group) != 0) {
        pm_warn("cannot hand %s to uid %u: %s", f->path, (unsigned)o->owner, strerror(errno));
    }
    return 0;
}

struct pm_dump *pm_dump_open(pcap_t *p, const char *iface, int nifaces,
                             const struct pm_dump_opts *o)
{
    struct pm_dump *d = pm_xcalloc(1, sizeof(*d));
    d->p = p;
    d->nf = o->nfiles > 0 ? o->nfiles : 1;
    d->max_bytes = o->max_bytes;
    d->temporary = o->temporary;
    d->next_seq = 1;
    d->f = pm_xcalloc((size_t)d->nf, sizeof(*d->f));
    for (int k = 0; k < d->nf; k++) {
        d->f[k].fd = -1;
    }
    for (int k = 0; k < d->nf; k++) {
        if (!o->temporary) {
            pm_dump_name(d->f[k].path, sizeof(d->f[k].path), o->path, iface, nifaces, k,
                         o->nfiles);
        }
        if (open_one(&d->f[k], o, iface) != 0) {
            pm_dump_close(d, true);
            return NULL;
        }
    }
    /* Unused ring slots: valid empty captures until their turn (header only). */
    for (int k = d->nf - 1; k >= 0; k--) {
        if (!start_file(d, k)) {
            pm_dump_close(d, true);
            return NULL;
        }
        if (k > 0) {
            pcap_dump_close(d->d);
            d->d = NULL;
        }
    }
    return d;
}

static void check_write(struct pm_dump *d)
{
    if (!d->d || d->write_failed) {
        return;
    }
    if (pcap_dump_flush(d->d) != 0 || ferror(pcap_dump_file(d->d))) {
        d->write_failed = true;
        pm_err("writing %s failed: %s", d->f[d->cur].path, strerror(errno ? errno : EIO));
        pm_hint("the capture and the verdicts go on, but that file is incomplete; free space "
                "or use -C/-W to bound the files");
    }
}

void pm_dump_packet(struct pm_dump *d, const struct pcap_pkthdr *h, const u_char *data)
{
    if (!d || !d->d) {
        return;
    }
    if (d->max_bytes && d->cur_has_packets &&
        (uint64_t)pcap_dump_ftell64(d->d) + 16 + h->caplen > d->max_bytes) {
        /* tcpdump -C: the file would pass the limit: go on with the next (oldest) one. */
        check_write(d);
        pcap_dump_close(d->d);
        d->d = NULL;
        if (!start_file(d, (d->cur + 1) % d->nf)) {
            return;
        }
    }
    pcap_dump((u_char *)d->d, h, data);
    if (!d->cur_has_packets) {
        d->cur_has_packets = true;
        d->f[d->cur].used_seq = d->next_seq++;
    }
    d->packets++;
}

void pm_dump_flush(struct pm_dump *d)
{
    if (d) {
        check_write(d);
    }
}

int pm_dump_paths(const struct pm_dump *d, const char **paths, int *fds, int max)
{
    int n = 0;
    if (!d) {
        return 0;
    }
    /* Oldest first: by order of first use (a ring slot reused later sorts later). */
    uint64_t last = 0;
    for (;;) {
        int best = -1;
        for (int k = 0; k < d->nf; k++) {
            if (d->f[k].used_seq > last &&
                (best < 0 || d->f[k].used_seq < d->f[best].used_seq)) {
                best = k;
            }
        }
        if (best < 0 || n >= max) {
            break;
        }
        if (fds) {
            fds[n] = d->f[best].fd;
        }
        paths[n++] = d->f[best].path;
        last = d->f[best].used_seq;
    }
    return n;
}

int pm_dump_files(const struct pm_dump *d, const char **paths, int *fds, int max)
{
    int n = 0;
    for (int k = 0; d && k < d->nf && n < max; k++) {
        if (fds) {
            fds[n] = d->f[k].fd;
        }
        paths[n++] = d->f[k].path;
    }
    return n;
}

uint64_t pm_dump_packets(const struct pm_dump *d) { return d ? d->packets : 0; }

void pm_dump_end(struct pm_dump *d)
{
    if (d && d->d) {
        check_write(d);
        pcap_dump_close(d->d);
        d->d = NULL;
    }
}

void pm_dump_close(struct pm_dump *d, bool unlink_temp)
{
    if (!d) {
        return;
    }
    pm_dump_end(d);
    for (int k = 0; k < d->nf; k++) {
        if (d->f[k].fd >= 0) {
            close(d->f[k].fd);
            if (d->f[k].unlink_at_close && unlink_temp && unlink(d->f[k].path) != 0) {
                pm_warn("cannot remove the temporary capture %s: %s", d->f[k].path,
                        strerror(errno));
            }
        }
    }
    free(d->f);
    free(d);
}
