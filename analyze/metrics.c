/*
 * metrics.c — owns the Prometheus metrics of `portmortem watch` (include/watch.h; the list
 * is docs/WATCH.md's): counters kept in fixed arrays, written in the text exposition format
 * 0.0.4 (one "# HELP" and "# TYPE" per family, `name{label="value",...} number`). The label
 * sets are bounded by construction: verdicts x owners x watched ports (other ports share
 * port="other"), interfaces (at most PM_CAP_MAX_IFACES), tables (a fixed list). No label
 * holds an address, so a flood of destinations cannot grow the series a server must keep.
 * Label values are our own words or interface names; the names are escaped anyway (\\, \",
 * \n as the format asks).
 */
#include "watch.h"

#include <inttypes.h>
#include <string.h>

#include "util.h"

void pm_metrics_init(struct pm_metrics *m, const uint16_t *ports, int nports)
{
    memset(m, 0, sizeof(*m));
    m->nports = nports < PM_MAX_PORTS ? nports : PM_MAX_PORTS;
    memcpy(m->ports, ports, sizeof(ports[0]) * (size_t)m->nports);
    m->last_decided = PM_NS_NONE;
}

void pm_metrics_attempt(struct pm_metrics *m, enum pm_verdict v, enum pm_owner o,
                        uint16_t port, pm_ns ts)
{
    if ((unsigned)v >= PM_V__COUNT || (unsigned)o >= PM_OWN__COUNT) {
        return;
    }
    int k = -1;
    for (int i = 0; i < m->nports; i++) {
        if (m->ports[i] == port) {
            k = i;
            break;
        }
    }
    if (k < 0) {
        m->attempts_other_port[v][o]++;
    } else {
        m->attempts[v][o][k]++;
    }
    if (ts != PM_NS_NONE && (m->last_decided == PM_NS_NONE || ts > m->last_decided)) {
        m->last_decided = ts;
    }
}

/* A label value: escape backslash, double quote and newline (exposition format 0.0.4). */
static void label(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"') {
            fputc('\\', f);
            fputc(*s, f);
        } else if (*s == '\n') {
            fputs("\\n", f);
        } else {
            fputc(*s, f);
        }
    }
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void pm_metrics_write(const struct pm_metrics *m, FILE *f)
{
    family(f, "portmortem_attempts_total", "counter",
           "Decided connection attempts by verdict, owner and destination port.");
    for (int v = 0; v < PM_V__COUNT; v++) {
        for (int o = 0; o < PM_OWN__COUNT; o++) {
            for (int k = 0; k <= m->nports; k++) {
                uint64_t n = k < m->nports ? m->attempts[v][o][k] : m->attempts_other_port[v][o];
                if (!n) {
                    continue;
                }
                fprintf(f, "portmortem_attempts_total{verdict=\"%s\",owner=\"%s\",port=\"",
                        pm_verdict_name((enum pm_verdict)v), pm_owner_name((enum pm_owner)o));
                if (k < m->nports) {
                    fprintf(f, "%u", m->ports[k]);
                } else {
                    fputs("other", f);
                }
                fprintf(f, "\"} %" PRIu64 "\n", n);
            }
        }
    }
    family(f, "portmortem_destinations_failing", "gauge",
           "Destinations (address and port) failing now.");
    fprintf(f, "portmortem_destinations_failing %d\n", m->failing);
    family(f, "portmortem_capture_packets_total", "counter",
           "Packets taken from the capture handle, per interface.");
    for (int i = 0; i < m->nifs; i++) {
        fputs("portmortem_capture_packets_total{interface=\"", f);
        label(f, m->ifname[i]);
        fprintf(f, "\"} %" PRIu64 "\n", m->packets[i]);
    }
    family(f, "portmortem_capture_drops_total", "counter",
           "Packets lost before the analysis: kind=kernel (capture buffer full) or interface.");
    for (int i = 0; i < m->nifs; i++) {
        fputs("portmortem_capture_drops_total{interface=\"", f);
        label(f, m->ifname[i]);
        fprintf(f, "\",kind=\"kernel\"} %" PRIu64 "\n", m->kdrops[i]);
        fputs("portmortem_capture_drops_total{interface=\"", f);
        label(f, m->ifname[i]);
        fprintf(f, "\",kind=\"interface\"} %" PRIu64 "\n", m->ifdrops[i]);
    }
    family(f, "portmortem_table_usage_ratio", "gauge",
           "Peak use of each bounded table (or of the memory budget) over its bound.");
    for (int t = 0; t < m->ntables && t < PM_METRIC_TABLES; t++) {
        fputs("portmortem_table_usage_ratio{table=\"", f);
        label(f, m->table[t]);
        fprintf(f, "\"} %.4f\n", m->usage[t]);
    }
    family(f, "portmortem_last_decided_timestamp_seconds", "gauge",
           "Time of the last decided attempt (Unix seconds; 0: none yet).");
    if (m->last_decided == PM_NS_NONE) {
        fputs("portmortem_last_decided_timestamp_seconds 0\n", f);
    } else {
        fprintf(f, "portmortem_last_decided_timestamp_seconds %" PRId64 ".%03d\n",
                m->last_decided / PM_NS_PER_SEC,
                (int)((m->last_decided % PM_NS_PER_SEC) / PM_NS_PER_MS));
    }
    family(f, "portmortem_bundles_written_total", "counter",
           "Evidence bundles written automatically from the ring.");
    fprintf(f, "portmortem_bundles_written_total %" PRIu64 "\n", m->bundles);
    family(f, "portmortem_syslog_suppressed_total", "counter",
           "Syslog records not sent because of --syslog-rate.");
    fprintf(f, "portmortem_syslog_suppressed_total %" PRIu64 "\n", m->syslog_suppressed);
}
