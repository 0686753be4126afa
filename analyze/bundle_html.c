/*
 * bundle_html.c — owns report.html (analyze/bundle_int.h): one self-contained page that
 * opens offline in any browser — inline CSS, inline SVG, no script, no external resource —
 * with the scope verdict, the destinations, a ladder diagram per failing attempt (capped)
 * and the table of attempts, and the escalation texts.
 *
 * A ladder diagram draws the attempt the way a network engineer sketches it on a
 * whiteboard: a vertical line per party (the sender, the destination, and a third one
 * between them when a router or a path device answered), one arrow per packet from top to
 * bottom in time order, the time relative to the first SYN in ms on the left, and the
 * verdict, owner and decisive clue beside it. Rows are evenly spaced rather than to scale:
 * a RST after 0.1 ms and a retransmission after 8 s must both stay readable.
 *
 * Every string that came from a packet or a log (banners, reply texts, host names, evidence
 * lines) goes through pm_html_escape(): & < > " ' become entities and anything outside
 * printable ASCII becomes '?', on top of the sanitising the decoder already did.
 */
#include "bundle_int.h"

#include <math.h>

#include "util.h"
#include "verdicts.h"

/* ---- escaping ---- */

static const char *entity(unsigned char c)
{
    switch (c) {
    case '&': return "&amp;";
    case '<': return "&lt;";
    case '>': return "&gt;";
    case '"': return "&quot;";
    case '\'': return "&#39;";
    default: return NULL;
    }
}

void pm_html_escape(FILE *out, const char *s)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        const char *ent = entity(c);
        if (ent) {
            fputs(ent, out);
        } else {
            fputc(c >= 0x20 && c < 0x7f ? c : '?', out);
        }
    }
}

size_t pm_html_escape_buf(char *dst, size_t dstlen, const char *s)
{
    if (dstlen == 0) {
        return 0;
    }
    size_t o = 0;
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        const char *ent = entity(c);
        char one[2] = {(char)(c >= 0x20 && c < 0x7f ? c : '?'), '\0'};
        const char *piece = ent ? ent : one;
        size_t pl = strlen(piece);
        if (o + pl + 1 > dstlen) {
            break; /* never cut an entity in half */
        }
        memcpy(dst + o, piece, pl);
        o += pl;
    }
    dst[o] = '\0';
    return o;
}

static void esc(FILE *out, const char *s)
{
    pm_html_escape(out, s);
}

/* For <pre>: the same, line by line, keeping the newlines. */
static void esc_lines(FILE *out, const char *s)
{
    char line[1024];
    while (s && *s) {
        const char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);
        size_t c = PM_MIN(n, sizeof(line) - 1);
        memcpy(line, s, c);
        line[c] = '\0';
        esc(out, line);
        if (nl) {
            fputc('\n', out);
        }
        s += n + (nl ? 1 : 0);
    }
}

/* A verdict's class (one of the style sheet's .ok .unk .bad below) and colour are columns of
 * the verdict table (analyze/verdicts.c). */
static const char *vclass(enum pm_verdict v) { return pm_verdict_info(v)->html_class; }
static const char *vcolor(enum pm_verdict v) { return pm_verdict_info(v)->html_color; }

/* ---- SVG helpers ---- */

/* Text wrapped at word boundaries into at most maxlines lines of maxchars; returns the
 * number of lines. With out == NULL it only counts (to size the drawing first). */
static int svg_text(FILE *out, int x, int y, int lineh, const char *text, int maxchars,
                    int maxlines, const char *attrs)
{
    char clean[1024];
    pm_sanitize(clean, sizeof(clean), (const uint8_t *)text, strlen(text));
    const char *p = clean;
    int lines = 0;
    if (out) {
        fprintf(out, "<text x=\"%d\" y=\"%d\" %s>", x, y, attrs);
    }
    while (*p && lines < maxlines) {
        while (*p == ' ') {
            p++;
        }
        if (!*p) {
            break;
        }
        size_t left = strlen(p);
        size_t take = left;
        if ((int)left > maxchars) {
            take = (size_t)maxchars;
            size_t sp = take;
            while (sp > 0 && p[sp] != ' ') {
                sp--;
            }
            if (sp > (size_t)maxchars / 2) {
                take = sp;
            }
        }
        char line[256];
        size_t n = PM_MIN(take, sizeof(line) - 4);
        memcpy(line, p, n);
        line[n] = '\0';
        if (lines == maxlines - 1 && n < left) {
            if (n > 3) {
                line[n - 3] = '\0';
            }
            size_t l = strlen(line);
            snprintf(line + l, sizeof(line) - l, "...");
        }
        if (out) {
            fprintf(out, "<tspan x=\"%d\" dy=\"%d\">", x, lines ? lineh : 0);
            esc(out, line);
            fputs("</tspan>", out);
        }
        p += take;
        lines++;
    }
    if (out) {
        fputs("</text>\n", out);
    }
    return lines ? lines : 1;
}

enum { L_SENDER, L_MIDDLE, L_DEST };
#define X_SENDER 150
#define X_MIDDLE 390
#define X_DEST 630
#define X_PANEL 700
#define ROW_H 38
#define TOP 92

static int lane_x(int lane)
{
    return lane == L_SENDER ? X_SENDER : lane == L_MIDDLE ? X_MIDDLE : X_DEST;
}

static const char *event_color(const struct pm_ladder_event *e)
{
    switch (e->kind) {
    case PM_LE_SYN: return "#1f4e9c";
    case PM_LE_SYNACK: return "#2e7d32";
    case PM_LE_DATA: return e->towards_sender ? "#2e7d32" : "#1f4e9c";
    case PM_LE_RST:
    case PM_LE_ICMP: return "#c62828";
    default: return "#616161";
    }
}

/* A line with a filled arrowhead at (x2,y2), drawn as a polygon: no <marker>, whose
 * colour inheritance differs between renderers. */
static void draw_arrow(FILE *out, int x1, int y1, int x2, int y2, const char *col)
{
    double dx = x2 - x1, dy = y2 - y1;
    double len = sqrt(dx * dx + dy * dy);
    if (len < 1) {
        return;
    }
    double ux = dx / len, uy = dy / len;
    double bx = x2 - ux * 12, by = y2 - uy * 12; /* base of the head */
    fprintf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
            "stroke-width=\"2\"/>\n", x1, y1, bx, by, col);
    fprintf(out, "<polygon points=\"%d,%d %.1f,%.1f %.1f,%.1f\" fill=\"%s\"/>\n", x2, y2,
            bx - uy * 5, by + ux * 5, bx + uy * 5, by - ux * 5, col);
}

static void fmt_rel(pm_ns d, char *buf, size_t len)
{
    char x[32];
    pm_delay_str(d, x, sizeof(x));
    size_t n = strlen(x);
    if (n >= 3 && !strcmp(x + n - 3, "\xc2\xb5s")) { /* "µs": the SVG stays ASCII */
        x[n - 3] = '\0';
        snprintf(buf, len, "+%s&#181;s", x);
    } else {
        snprintf(buf, len, "+%s", x);
    }
}

void pm_bundle_write_ladder(FILE *out, const struct pm_bfind *b)
{
    const struct pm_finding *f = &b->f;
    const struct pm_attempt *a = f->a;
    char sa[PM_ADDR_STRLEN], da[PM_ADDR_STRLEN], buf[200];
    uint32_t id = f->id;

    /* Who is on the middle line, if anyone answered from between the two ends. */
    bool mid = false;
    char mid_title[64] = "", mid_sub[80] = "";
    pm_addr mid_addr = {0};
    if (a && a->answer == PM_ANS_ICMP && !f->icmp_from_dst) {
        mid = true;
        mid_addr = a->ans.from;
        if (f->ev & PM_EV(EV_ICMP_LOCAL)) {
            snprintf(mid_title, sizeof(mid_title), "this host (ICMP)");
        } else if (f->icmp_hop > 0) {
            snprintf(mid_title, sizeof(mid_title), "router, hop %d", f->icmp_hop);
        } else {
            snprintf(mid_title, sizeof(mid_title), "router");
        }
        pm_addr_str(&mid_addr, mid_sub);
    } else if (a && a->answer == PM_ANS_RST &&
               (f->rst_origin == PM_RST_PATH || f->rst_origin == PM_RST_LOCAL)) {
        mid = true;
        if (f->rst_origin == PM_RST_LOCAL) {
            snprintf(mid_title, sizeof(mid_title), "this host's stack");
        } else {
            snprintf(mid_title, sizeof(mid_title), "path device");
            snprintf(mid_sub, sizeof(mid_sub), "RST from %d hop%s", f->rst_hops,
                     f->rst_hops == 1 ? "" : "s");
        }
    }
    bool lost = f->outcome == PM_OUT_NO_RESPONSE;

    /* Rows: the events, a closing note for silence, or one note for no packet at all. */
    int rows = b->nev;
    bool end_note = lost || (a && b->nev == 0) || !a || b->ev_dropped;
    rows += end_note ? 1 : 0;
    char result[600], subject[200];
    pm_bundle_result_words(f, result, sizeof(result), subject, sizeof(subject));
    char next[400];
    snprintf(next, sizeof(next), "next: %s", f->next_step);
    int panel_bottom = 22 + 20 + 17 + 20 + 16 * svg_text(NULL, 0, 0, 0, result, 40, 4, "") + 4 +
                       16 * svg_text(NULL, 0, 0, 0, f->clue, 40, 3, "") + 4 +
                       16 * svg_text(NULL, 0, 0, 0, next, 40, 6, "");
    int h = PM_MAX(TOP + rows * ROW_H + 24, panel_bottom + 16);

    fprintf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"ladder\" width=\"1000\" "
            "height=\"%d\" viewBox=\"0 0 1000 %d\" role=\"img\" aria-label=\"ladder diagram of "
            "attempt %u\">\n", h, h, id);
    fprintf(out, "<rect x=\"0\" y=\"0\" width=\"1000\" height=\"%d\" fill=\"#fcfcfc\"/>\n", h);

    /* Lane heads and lines. */
    if (a) {
        pm_addr_str(&a->cli, sa);
        pm_addr_str(&a->srv, da);
    } else if (f->src.family) {
        pm_addr_str(&f->src, sa); /* the sending host, as the engine knows it */
    } else {
        snprintf(sa, sizeof(sa), "sending host");
        pm_addr_str(f->log ? &f->log->addr : &mid_addr, da);
    }
    const char *mx = f->log && f->log->host[0] ? f->log->host : "";
    fprintf(out, "<text x=\"%d\" y=\"22\" text-anchor=\"middle\" font-weight=\"bold\" "
            "font-size=\"14\">sender</text>\n", X_SENDER);
    if (a) {
        snprintf(buf, sizeof(buf), "%s:%u", sa, a->sport);
    } else {
        snprintf(buf, sizeof(buf), "%s", sa);
    }
    svg_text(out, X_SENDER, 40, 14, buf, 40, 1, "text-anchor=\"middle\" font-size=\"12\"");
    if (mid) {
        svg_text(out, X_MIDDLE, 22, 14, mid_title, 40, 1,
                 "text-anchor=\"middle\" font-weight=\"bold\" font-size=\"14\"");
        svg_text(out, X_MIDDLE, 40, 14, mid_sub, 40, 1, "text-anchor=\"middle\" font-size=\"12\"");
    }
    fprintf(out, "<text x=\"%d\" y=\"22\" text-anchor=\"middle\" font-weight=\"bold\" "
            "font-size=\"14\">destination</text>\n", X_DEST);
    snprintf(buf, sizeof(buf), "%s:%u", da, a ? a->dport : (f->log && f->log->port ? f->log->port
                                                                                 : 25));
    svg_text(out, X_DEST, 40, 14, buf, 40, 1, "text-anchor=\"middle\" font-size=\"12\"");
    if (mx[0]) {
        svg_text(out, X_DEST, 56, 14, mx, 40, 1, "text-anchor=\"middle\" font-size=\"12\"");
    }
    int ybot = TOP + rows * ROW_H;
    fprintf(out, "<line x1=\"%d\" y1=\"66\" x2=\"%d\" y2=\"%d\" stroke=\"#424242\" "
            "stroke-width=\"3\"/>\n", X_SENDER, X_SENDER, ybot);
    fprintf(out, "<line x1=\"%d\" y1=\"66\" x2=\"%d\" y2=\"%d\" stroke=\"#424242\" "
            "stroke-width=\"3\"/>\n", X_DEST, X_DEST, ybot);
    if (mid) {
        fprintf(out, "<line x1=\"%d\" y1=\"66\" x2=\"%d\" y2=\"%d\" stroke=\"#9e9e9e\" "
                "stroke-width=\"2\" stroke-dasharray=\"6 4\"/>\n", X_MIDDLE, X_MIDDLE, ybot);
    }

    /* Arrows. */
    pm_ns t0 = b->nev ? b->ev[0].ts : PM_NS_NONE;
    int answer_lane = mid ? L_MIDDLE : L_DEST;
    for (int i = 0; i < b->nev; i++) {
        const struct pm_ladder_event *e = &b->ev[i];
        int y = TOP + i * ROW_H;
        char rel[32];
        fmt_rel(e->ts - t0, rel, sizeof(rel));
        fprintf(out, "<text x=\"8\" y=\"%d\" font-size=\"12\" fill=\"#424242\">%s</text>\n",
                y + 10, rel);
        const char *col = event_color(e);
        if (e->kind == PM_LE_NOTE) {
            svg_text(out, (X_SENDER + X_DEST) / 2, y + 10, 14, e->label, 60, 1,
                     "text-anchor=\"middle\" font-size=\"12\" font-style=\"italic\" "
                     "fill=\"#616161\"");
            continue;
        }
        int from_lane, to_lane;
        if (!e->towards_sender) {
            from_lane = L_SENDER;
            to_lane = e->kind == PM_LE_SYN ? answer_lane : L_DEST;
        } else {
            to_lane = L_SENDER;
            from_lane = L_DEST;
            if (mid && !(a && pm_addr_eq(&e->from, &a->srv) && e->kind != PM_LE_RST)) {
                /* ICMP from the router, a RST from the path device or the host itself */
                if (e->kind == PM_LE_ICMP || e->kind == PM_LE_RST) {
                    from_lane = L_MIDDLE;
                }
            }
        }
        int x1 = lane_x(from_lane), x2 = lane_x(to_lane);
        int y2 = y + 16;
        bool dropped = lost && e->kind == PM_LE_SYN && !e->towards_sender;
        if (dropped) {
            /* An unanswered SYN: it left, and nothing says how far it got. */
            x2 = x1 + (x2 - x1) * 7 / 10;
            fprintf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" "
                    "stroke-width=\"2\" stroke-dasharray=\"8 4\"/>\n", x1, y, x2, y2, col);
            fprintf(out, "<path d=\"M%d,%d l12,12 M%d,%d l12,-12\" stroke=\"#c62828\" "
                    "stroke-width=\"3\"/>\n", x2 - 6, y2 - 6, x2 - 6, y2 + 6);
        } else {
            draw_arrow(out, x1, y, x2, y2, col);
        }
        char lab[80];
        pm_strlcpy(lab, e->label, sizeof(lab));
        char attrs[160];
        snprintf(attrs, sizeof(attrs), "text-anchor=\"middle\" font-size=\"12\" fill=\"%s\"",
                 col);
        svg_text(out, (x1 + (dropped ? x2 + 40 : x2)) / 2, y - 4, 14, lab, 72, 1, attrs);
    }
    if (end_note) {
        int y = TOP + b->nev * ROW_H;
        if (!a) {
            fprintf(out, "<path d=\"M%d,%d l16,16 M%d,%d l16,-16\" stroke=\"#c62828\" "
                    "stroke-width=\"3\"/>\n", X_SENDER - 8, y - 8, X_SENDER - 8, y + 8);
            snprintf(buf, sizeof(buf), "no SYN left the sending host (%s)",
                     f->log ? "the MTA logged the attempt" : "no packet");
        } else if (lost && a->last_seen != PM_NS_NONE) {
            char d[32];
            pm_delay_str((a->last_seen > a->last_syn ? a->last_seen : a->last_syn) - a->first_syn,
                         d, sizeof(d));
            snprintf(buf, sizeof(buf), "no SYN-ACK, RST or ICMP came back (%s after the first "
                     "SYN)", d);
        } else if (b->ev_dropped) {
            snprintf(buf, sizeof(buf), "... %u more packets not drawn (see evidence.pcapng)",
                     b->ev_dropped);
        } else {
            snprintf(buf, sizeof(buf), "(the packets of this attempt were not read again)");
        }
        svg_text(out, (X_SENDER + X_DEST) / 2, y + 10, 14, buf, 80, 1,
                 "text-anchor=\"middle\" font-size=\"12\" font-style=\"italic\" "
                 "fill=\"#b71c1c\"");
    }

    /* The verdict beside it. */
    int y = 22;
    fprintf(out, "<rect x=\"%d\" y=\"6\" width=\"292\" height=\"%d\" fill=\"#ffffff\" "
            "stroke=\"%s\" stroke-width=\"2\" rx=\"6\"/>\n", X_PANEL - 8, h - 12,
            vcolor(f->verdict));
    fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"15\" font-weight=\"bold\">#%u %s</text>\n",
            X_PANEL, y, id, pm_outcome_name(f->outcome));
    y += 20;
    fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"14\" font-weight=\"bold\" fill=\"%s\" "
            "class=\"verdict\">verdict: %s</text>\n", X_PANEL, y, vcolor(f->verdict),
            pm_verdict_name(f->verdict));
    y += 18;
    fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"13\">owner: %s</text>\n", X_PANEL, y,
            pm_owner_name(f->owner));
    y += 17;
    fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"13\">confidence: %s</text>\n", X_PANEL,
            y, pm_confidence_name(f->confidence));
    y += 20;
    y += 16 * svg_text(out, X_PANEL, y, 16, result, 40, 4, "font-size=\"12\"") + 4;
    y += 16 * svg_text(out, X_PANEL, y, 16, f->clue, 40, 3,
                       "font-size=\"12\" font-style=\"italic\"") + 4;
    svg_text(out, X_PANEL, y, 16, next, 40, 6, "font-size=\"12\" fill=\"#0d47a1\"");
    fputs("</svg>\n", out);
}

/* ---- the page ---- */

static void put_addr_port(FILE *out, const pm_addr *a, unsigned port)
{
    char s[PM_ADDR_STRLEN];
    pm_addr_str(a, s);
    fprintf(out, a->family == PM_AF_INET6 ? "[%s]:%u" : "%s:%u", s, port);
}

/* .bad .ok .unk are the verdict table's html_class values with its html_color (analyze/
 * verdicts.c, pinned by tests/unit/test_verdicts.c's tones): change both together. */
static const char CSS[] =
    "body{font-family:'DejaVu Sans',Arial,Helvetica,sans-serif;margin:20px;color:#212121;"
    "background:#fff}\n"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:22px 0 8px;border-bottom:1px "
    "solid #ccc}\n"
    ".meta{color:#555;font-size:13px}code,pre{font-family:'DejaVu Sans Mono',monospace}\n"
    "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;"
    "text-align:left;vertical-align:top}th{background:#eee}\n"
    ".bad{color:#b71c1c;font-weight:bold}.ok{color:#1b5e20}.unk{color:#e65100;font-weight:bold}\n"
    "figure{border:1px solid #bbb;margin:14px 0;padding:8px;background:#fafafa}"
    "figcaption{font-weight:bold;margin-bottom:6px;font-size:14px}\n"
    "svg.ladder{display:block;max-width:100%;height:auto;font-family:'DejaVu Sans',Arial,"
    "sans-serif}\n"
    "pre{background:#f5f5f5;padding:8px;overflow-x:auto;font-size:12px;white-space:pre-wrap}\n"
    ".scope{font-size:15px}\n";

int pm_bundle_write_html(FILE *out, const struct pm_html_input *h)
{
    const struct pm_run_summary *s = h->s;
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
          "<title>portmortem evidence bundle</title>\n<style>\n", out);
    fputs(CSS, out);
    fputs("</style>\n</head>\n<body>\n<h1>portmortem evidence bundle</h1>\n", out);
    fprintf(out, "<p class=\"meta\">portmortem %s, written %s. Command: <code>", PM_VERSION,
            h->created);
    for (int i = 0; s && i < s->argc; i++) {
        if (i) {
            fputc(' ', out);
        }
        esc(out, s->argv[i]);
    }
    fputs("</code></p>\n", out);

    char t1[40], t2[40];
    fputs("<h2>Scope</h2>\n<p class=\"scope\">", out);
    esc(out, s ? s->scope_text : "");
    fputs("</p>\n<p><b>Next step:</b> ", out);
    esc(out, s ? s->next_step : "");
    fputs("</p>\n", out);
    if (s) {
        fprintf(out, "<p class=\"meta\">%llu attempt%s; capture %s to %s UTC.</p>\n",
                (unsigned long long)s->attempts, s->attempts == 1 ? "" : "s",
                pm_time_str(s->first_ts, t1, sizeof(t1)), pm_time_str(s->last_ts, t2, sizeof(t2)));
    }

    /* Destinations */
    fputs("<h2>Destinations</h2>\n<table class=\"dests\">\n<tr><th>destination</th><th>name"
          "</th><th>attempts</th><th>verdict</th><th>owner</th><th>in one line</th></tr>\n", out);
    struct pm_dest **ds = NULL;
    size_t nd = h->ctx ? pm_context_dests_sorted(h->ctx, &ds) : 0;
    for (size_t i = 0; i < nd; i++) {
        const struct pm_dest *d = ds[i];
        if (!d->attempts) {
            continue;
        }
        char line[200], a[PM_ADDR_STRLEN];
        enum pm_verdict dv;
        enum pm_owner down;
        pm_dest_line(d, line, sizeof(line), &dv, &down);
        fprintf(out, "<tr><td>%s</td><td>", pm_addr_str(&d->addr, a));
        esc(out, d->name);
        fprintf(out, "</td><td>%u</td><td class=\"%s\">%s</td><td>%s</td><td>", d->attempts,
                vclass(dv), pm_verdict_name(dv), pm_owner_name(down));
        esc(out, line);
        fputs("</td></tr>\n", out);
    }
    fputs("</table>\n", out);

    /* Ladders */
    fputs("<h2>Ladder diagrams of the failing attempts</h2>\n", out);
    if (h->nladders == 0) {
        fputs("<p>No failing attempt: nothing to draw.</p>\n", out);
    }
    for (int i = 0; i < h->nladders; i++) {
        const struct pm_bfind *b = h->ladders[i];
        const struct pm_attempt *a = b->f.a;
        fprintf(out, "<figure id=\"ladder-%u\">\n<figcaption>Attempt #%u: ", b->f.id, b->f.id);
        if (a) {
            put_addr_port(out, &a->cli, a->sport);
            fputs(" &rarr; ", out);
            put_addr_port(out, &a->srv, a->dport);
        } else if (b->f.log) {
            fputs("not on the wire &rarr; ", out);
            put_addr_port(out, &b->f.log->addr, b->f.log->port ? b->f.log->port : 25);
        }
        if (b->f.log && b->f.log->host[0]) {
            fputs(" (", out);
            esc(out, b->f.log->host);
            fputc(')', out);
        }
        pm_ns ts = a ? a->first_syn : (b->f.log ? b->f.log->ts : PM_NS_NONE);
        fprintf(out, " at %s", pm_time_str(ts, t1, sizeof(t1)));
        if (b->vantage[0]) {
            fputs(", seen at ", out);
            esc(out, b->vantage);
        }
        fprintf(out, ": <span class=\"%s\">%s</span></figcaption>\n", vclass(b->f.verdict),
                pm_verdict_name(b->f.verdict));
        pm_bundle_write_ladder(out, b);
        fputs("</figure>\n", out);
    }
    if (h->ladders_dropped) {
        fprintf(out, "<p class=\"meta\">%llu more failing attempts are not drawn (at most %d "
                "diagrams); the table below and report.json list them all.</p>\n",
                (unsigned long long)h->ladders_dropped, PM_BUNDLE_MAX_LADDERS);
    }

    /* Attempts */
    fputs("<h2>Attempts</h2>\n<table class=\"findings\">\n<tr><th>#</th><th>time (UTC)</th>"
          "<th>source</th><th>destination</th><th>outcome</th><th>verdict</th><th>owner</th>"
          "<th>confidence</th><th>decisive clue</th></tr>\n", out);
    for (size_t i = 0; i < h->nrows; i++) {
        const struct pm_html_row *r = &h->rows[i];
        fputs("<tr><td>", out);
        if (r->ladder >= 0) {
            fprintf(out, "<a href=\"#ladder-%u\">%u</a>", r->id, r->id);
        } else {
            fprintf(out, "%u", r->id);
        }
        fprintf(out, "</td><td>%s</td><td>", pm_time_str(r->ts, t1, sizeof(t1)));
        if (r->has_src) {
            put_addr_port(out, &r->src, r->sport);
        } else {
            fputs("(not on the wire)", out);
        }
        fputs("</td><td>", out);
        put_addr_port(out, &r->dst, r->dport);
        fprintf(out, "</td><td>%s</td><td class=\"%s\">%s</td><td>%s</td><td>%s</td><td>",
                pm_outcome_name((enum pm_outcome)r->outcome),
                vclass((enum pm_verdict)r->verdict), pm_verdict_name((enum pm_verdict)r->verdict),
                pm_owner_name((enum pm_owner)r->owner),
                pm_confidence_name((enum pm_confidence)r->confidence));
        esc(out, r->clue);
        fputs("</td></tr>\n", out);
    }
    fputs("</table>\n", out);
    if (h->rows_dropped) {
        fprintf(out, "<p class=\"meta\">%llu more attempts are not in this table (at most %d "
                "rows); report.json lists them all.</p>\n", (unsigned long long)h->rows_dropped,
                PM_BUNDLE_MAX_ROWS);
    }

    /* Escalation texts */
    if (h->ntexts) {
        fputs("<h2>Escalation texts</h2>\n", out);
        for (int i = 0; i < h->ntexts; i++) {
            fprintf(out, "<details%s><summary>", i == 0 ? " open" : "");
            esc(out, h->texts[i].name);
            fputs("</summary>\n<pre>", out);
            esc_lines(out, h->texts[i].text);
            fputs("</pre>\n</details>\n", out);
        }
    }
    if (h->notes && h->notes[0]) {
        fputs("<h2>Notes</h2>\n<pre>", out);
        esc_lines(out, h->notes);
        fputs("</pre>\n", out);
    }
    fputs("<p class=\"meta\">Check this bundle with <code>portmortem verify DIR</code> or "
          "<code>cd DIR &amp;&amp; sha256sum -c " PM_MANIFEST "</code>.</p>\n</body>\n</html>\n",
          out);
    return ferror(out) ? -1 : 0;
}
