/* config.h: every tunable of portmortem in one place (as p0f's config.h does): the limits,
 * timeouts, table sizes and defaults a user or a packager could want to change, each with
 * why it has its value. Each value has exactly one definition here; the code and the --help
 * texts use these names (the help texts through PM_STR, so that they cannot drift from the
 * values). Wire-format constants (header lengths, protocol numbers, RFC limits) stay beside
 * the code that parses them: they are facts, not choices.
 *
 * Values that a --help text shows are plain decimal literals (PM_STR turns them into the
 * text); time values are in seconds (_S) or milliseconds (_MS) and the code wraps them in
 * PM_SEC()/PM_MS() (pm.h). A change here changes the documented defaults too: keep
 * docs/portmortem.1 and the docs (*.md) in step (check-package compares the man page with
 * --help). */
#ifndef PM_CONFIG_H
#define PM_CONFIG_H

/* A macro's value as a string literal, for help texts: PM_STR(PM_DEFAULT_PORT) is "25". */
#define PM_STR_(x) #x
#define PM_STR(x) PM_STR_(x)

/* ======================================================================================
 * Defaults of the command line (analyze, capture, probe)
 * ====================================================================================== */

/* The SMTP port watched when -p is not given (RFC 5321 §4.5.4: MTA to MTA relay). */
#define PM_DEFAULT_PORT 25
/* Ports -p may name: a mail server listens on a handful (25, 465, 587, 2525 ...). */
#define PM_MAX_PORTS 16
/* --max-memory's default, in GiB: the growing tables' one budget. Big enough for a day of a
 * busy relay's failures (1.7 M open attempts, see pm_engine_default_flows), small enough for
 * a shared mail host. */
#define PM_DEFAULT_MAX_MEMORY_GIB 1
#define PM_DEFAULT_MAX_MEMORY ((unsigned long long)PM_DEFAULT_MAX_MEMORY_GIB << 30)
/* --max-flows' range: 16 keeps the pools meaningful; 2^28 keeps slot indexes in 28 bits
 * (the flow table's packed references) and is far beyond any budget. */
#define PM_FLOWS_MIN 16
#define PM_FLOWS_MAX 268435456
/* --max-sessions' and --max-dests' upper bound (2^24): the SMTP session pool is 16 K chunks
 * of 1 K sessions, and the destination table's references are 24 bits. */
#define PM_SESSIONS_MAX 16777216
#define PM_DESTS_MIN 16
#define PM_DESTS_MAX 16777216
/* --log-year's latest year, and the latest a log time may carry: a pm_ns (int64 ns since
 * 1970) spans 1678..2262, so 1900..2200 leaves margin on both sides. */
#define PM_LOG_YEAR_MIN 1900
#define PM_LOG_YEAR_MAX 2200

/* The MTAs' connect timers when --mta-connect-timeout is not given: Postfix's
 * smtp_connect_timeout is 30 s; Exim's connect_timeout (5 min) and Sendmail's
 * Timeout.connect 0 are both cut by the kernel's SYN retries (tcp_syn_retries 6: SYNs at 0,
 * 1, 3, 7, 15, 31, 63 s, given up at 127 s). */
#define PM_POSTFIX_CONNECT_TIMEOUT_S 30
#define PM_KERNEL_SYN_GIVEUP_S 127

/* capture: bytes kept per packet (-s). 512 holds link + IPv6 with extension headers + TCP
 * with options + an SMTP greeting or reply line; more costs buffer space in a flood. */
#define PM_CAP_DEFAULT_SNAPLEN 512
/* capture: kernel buffer per interface (-B), KiB. handle.c says why 32 MiB: a measured
 * 10,000 SYN/s flood is absorbed without drops while the engine catches up. */
#define PM_CAP_DEFAULT_BUFFER_KIB 32768
/* capture --no-immediate: TPACKET_V3 block retire time, ms (how late a batch may be). */
#define PM_CAP_BLOCK_TIMEOUT_MS 100
/* capture: -i interfaces at most (one handle, dump and side handle each). */
#define PM_CAP_MAX_IFACES 16
/* capture, probe: the user root is dropped to (-Z), as tcpdump does. */
#define PM_PRIV_DEFAULT_USER "nobody"
/* Supplementary groups kept after the drop (the logs' groups; getgrouplist's answer). */
#define PM_PRIV_MAX_GROUPS 64

/* probe: connect() timeout and per-SMTP-step timeout, s. 10 s sees a SYN retried three
 * times; 20 s is longer than any sane greeting delay and shorter than the MTA's own timers
 * (RFC 5321 §4.5.3.2 suggests 5 min for the greeting: we only need to see it start). */
#define PM_PROBE_CONNECT_TIMEOUT_S 10
#define PM_PROBE_SMTP_TIMEOUT_S 20
/* probe --ttl-walk: the highest TTL walked (30, as traceroute), the highest that --max-ttl
 * allows (64: beyond any Internet path), probes per TTL, the wait for each answer (s), and
 * the silent hops in a row that end the walk. */
#define PM_PROBE_MAX_TTL 30
#define PM_WALK_MAX_TTL 64
#define PM_PROBE_TRIES 2
#define PM_PROBE_WAIT_S 2
#define PM_PROBE_GAP_LIMIT 3
/* probe: raw SYNs per second and for the whole run: polite enough for a remote MX's
 * rate limiter and a NOC's IDS, enough for a walk of 30 TTLs x 2 tries plus test SYNs. */
#define PM_PROBE_RATE 3
#define PM_PROBE_MAX_PROBES 100
/* probe: addresses probed at most (--max-addrs), and the resolver's table behind it. */
#define PM_PROBE_MAX_ADDRS 8
#define PM_MAX_TADDRS 32
/* probe: the test SYN's TTL: what the kernel itself uses (net.ipv4.ip_default_ttl). */
#define PM_PROBE_SYN_TTL 64
/* probe: --compare-ports, --stale addresses and SMTP connections made in one run. */
#define PM_PROBE_MAX_COMPARE 6
#define PM_PROBE_MAX_STALE 16
#define PM_PROBE_MAX_CONNS 256
/* probe: its own capture keeps whole packets (the replies are read), in a small buffer:
 * it sees only its own few packets. */
#define PM_PROBE_SNAPLEN 65535
#define PM_PROBE_BUFFER_KIB 4096
/* probe: this host's own addresses remembered to refuse them as targets. */
#define PM_INJECT_MAX_LOCAL 64

/* ======================================================================================
 * Inputs: files, logs, vantage points
 * ====================================================================================== */

/* Capture files (-r, several merged by time) and vantage points (one per file or
 * interface); MTA logs (-m) and expected sources (--expect-source). */
#define PM_MAX_INPUTS 64
#define PM_MAX_VANTAGES 64
#define PM_MAX_LOGS 16
#define PM_MAX_EXPECT 16
/* Outputs a run hands its findings to (include/sink.h): the report, the bundle, and the
 * ones a subcommand adds (a syslog line, a metrics file). */
#define PM_MAX_SINKS 8
/* This host's own addresses learned per vantage (a mail host has a few). */
#define PM_MAX_LOCAL_ADDRS 16
/* A log line longer than this (bytes) is counted unparseable and skipped; the file reader
 * and the live follower share it. No MTA writes a line near it (Postfix: 2 kB). */
#define PM_LOG_LINE_MAX 8192
/* Exim/Sendmail: how many earlier lines a summary line looks back for its process. */
#define PM_LOG_SCAN_BACK 64
/* Anchor lines (queued messages) kept for correlation; past it they are counted. */
#define PM_LOG_MAX_ANCHORS 262144
/* Zone offsets cached by day and by hour when converting log times (a day's log fits). */
#define PM_TZ_CACHE_DAYS 4096
#define PM_TZ_CACHE_HOURS 256
/* Follow (capture -m): bytes read from the log per poll, so that a burst of lines cannot
 * starve the capture. */
#define PM_FOLLOW_READ_PER_POLL (16u << 20)
/* Line reader chunk (lines.c) and compressed-input buffer (instream.c). */
#define PM_LINES_CHUNK (64 * 1024)
#define PM_IN_BUF (64u * 1024)
/* Decompression limits: xz -9 needs 65 MiB, a bigger dictionary is refused; zstd's own
 * default limit for decoders (window 2^27 = 128 MiB). */
#define PM_XZ_MEMLIMIT (128ull << 20)
#define PM_ZSTD_WINDOWLOG_MAX 27
/* Capture file reading: the read block, and records sampled to guess the capture host. */
#define PM_CAPIN_BLOCK_SIZE (1u << 20)
#define PM_CAPIN_SAMPLE_RECORDS 256
/* pcapng: a block larger than any packet is damage; interfaces per section. */
#define PM_PCAPNG_MAX_BLOCK (16u * 1024 * 1024)
#define PM_PCAPNG_MAX_IFACES 1024
/* Decoding: more stacked VLAN tags than this is hostile, not a network; IPv6 extension
 * headers walked before giving up (RFC 8200 §4.1 order has at most 6 kinds). */
#define PM_DECODE_MAX_VLAN_TAGS 8
#define PM_DECODE_MAX_IPV6_EXT 8
/* JSON nesting the writer allows (the output contract nests 4 deep). */
#define PM_JSON_DEPTH 16
/* The JSON writer's own buffer: a whole attempt object (~1-2 KB) is built in it and handed
 * to stdio in one fwrite when the object ends (or when the buffer fills). */
#define PM_JSON_BUF 8192

/* ======================================================================================
 * Judging attempts: waits and correlation windows
 * ====================================================================================== */

/* SYNs unanswered for this long (while the capture went on) are "no-response": shorter
 * and the capture may simply have ended before the answer. Covers a 3 s ARP failure. */
#define PM_NO_RESPONSE_WAIT PM_SEC(3)
/* A handshake with no greeting for this long (capture still running) is "no-banner". */
#define PM_BANNER_WAIT PM_SEC(30)
/* A hop count above this is suspect (ttl.h): Internet paths are shorter. */
#define PM_MAX_HOPS 40

/* Log line <-> attempt matching (correlate.c). Syslog times have 1 s resolution: a match
 * may be this far apart, plus slack. */
#define PM_CORR_TOL PM_SEC(2)
/* How long a connect() can last before it fails with each errno (the MTA's timer caps all):
 * an answer ends it at once, but the answer may come to the first retransmission (IPv6
 * and Exim's blocking connect fail on the second SYN's ICMP, 1 s later), and an ICMP host
 * unreachable comes after the last router's ARP/ND gave up (Linux: 3 s). */
#define PM_CORR_SPAN_REFUSED PM_SEC(2)
#define PM_CORR_SPAN_UNREACH PM_SEC(4)
#define PM_CORR_SPAN_LOCAL PM_SEC(1) /* EPERM, EINVAL, EADDRNOTAVAIL: the local stack */
/* One more second for an MTA timer's own granularity. */
#define PM_CORR_TIMER_SLACK PM_SEC(1)
/* Exim's ambiguous timeout may be a greeting timeout (its default, 5 min). */
#define PM_CORR_EXIM_GREETING PM_SEC(300)
/* The longest a connect can last: kernel SYN retries (127 s) + slack. */
#define PM_CORR_CONNECT_MAX PM_SEC(135)
/* The longest a session can last before its failure is logged: greeting timers + slack. */
#define PM_CORR_SESSION_MAX PM_SEC(330)
/* How far apart log and capture clocks may be when the offset is estimated. */
#define PM_CORR_OFFSET_SEARCH PM_SEC(600)
/* Entries looked at around a line for its process; samples kept to estimate the offset;
 * lines looked at on each side of an answer for a sample. */
#define PM_CORR_ANCHOR_SCAN 256
#define PM_CORR_MAX_SAMPLES 4096
#define PM_CORR_SAMPLE_SCAN 64
/* Lines found outside the capture window listed in the report (the count is complete). */
#define PM_CORR_OUTSIDE_LIST 1000

/* Live: SYNs remembered for the not-on-wire check, how old a log line with no SYN must be
 * to be not-on-wire, and how far behind a silent stream's clock runs. */
#define PM_LIVE_RECENT_SYNS 8192
#define PM_LIVE_LOG_GRACE PM_SEC(10)
#define PM_STREAM_IDLE_MARGIN PM_SEC(3)

/* ======================================================================================
 * Table sizes (every table is bounded; a bound hit is counted and said, exit 4)
 * ====================================================================================== */

/* Flow buckets start here and double with the flows (load <= 1). */
#define PM_FLOW_BUCKETS_START 65536u
/* Candidates examined per lookup by destination when linking vantages. */
#define PM_TRACK_LINK_SCAN 64
/* SMTP commands pipelined ahead of their replies (RFC 2920) that are remembered. */
#define PM_SMTP_MAX_CMDQ 16
/* Destination and host context tables: start size, and the bound when none is given (the
 * memory budget decides before it). */
#define PM_CTX_HTAB_START 1024u
#define PM_CTX_DESTS_START 1024u
#define PM_CTX_HOSTS_LIMIT (1u << 22)
/* NAT: the link table starts here and doubles as it fills, up to this many entries (two per
 * pair); public addresses and address changes remembered. */
#define PM_NAT_LINK_START 1024u
#define PM_NAT_LINK_MAX (1u << 26)
#define PM_NAT_PUBLIC_MAX 32
#define PM_NAT_CHANGE_MAX 1024

/* The text report: outside-the-window lines shown, and when it switches to the storm
 * layout (more attempts or destinations than this), with how much it then shows. */
#define PM_TEXT_OUTSIDE_SHOWN 5
#define PM_TEXT_STORM_ATTEMPTS 100
#define PM_TEXT_STORM_DESTS 20
#define PM_TEXT_STORM_DESTS_SHOWN 4
#define PM_TEXT_STORM_SAMPLES 3

/* ======================================================================================
 * Evidence bundle (--bundle): every table capped so that a capture with millions of
 * failing attempts cannot exhaust memory; what a cap leaves out is said in README.txt
 * ====================================================================================== */
#define PM_BUNDLE_NAME 96              /* a file name inside the bundle, NUL included */
#define PM_BUNDLE_MAX_FILES 300        /* files in one bundle (manifest entries) */
#define PM_BUNDLE_MAX_ESCALATIONS 256  /* escalation-<dst>.txt files */
#define PM_BUNDLE_MAX_LADDERS 50       /* SVG ladder diagrams in report.html */
#define PM_BUNDLE_LADDER_EVENTS 24     /* arrows per ladder */
#define PM_BUNDLE_MAX_ROWS 5000        /* rows of the findings table in report.html */
#define PM_BUNDLE_MAX_DESTS 16384      /* destinations tracked for escalations and context */
#define PM_BUNDLE_MAX_LOGREFS 20000    /* MTA log lines copied to mta-log.txt */
#define PM_BUNDLE_MAX_LOGPATHS 32
#define PM_BUNDLE_MAX_SRCS 4           /* source addresses named per destination */
#define PM_SLICE_MAX_ATTEMPTS 100000   /* attempts whose packets go into evidence.pcapng */
#define PM_SLICE_MAX_PACKETS 200000    /* packets in evidence.pcapng */
#define PM_SLICE_ATTEMPT_PACKETS 64    /* packets per failing attempt */
#define PM_SLICE_CONTEXT_PACKETS 24    /* packets of a successful (context) attempt */
#define PM_SLICE_MAX_OUT_IFACES 256    /* interfaces described in evidence.pcapng */
#define PM_BUNDLE_DEST_BUCKETS 32768u  /* hash buckets of the bundle's destination table */
#define PM_BUNDLE_LOGLINE_COPY 2047    /* bytes of a log line copied into mta-log.txt */
#define PM_BUNDLE_MANIFEST_MAX (1u << 20) /* a manifest of 300 lines is ~30 kB; more is not ours */
#define PM_REDACT_MAX_ADDRS 8192       /* distinct addresses mapped; beyond: one placeholder */
#define PM_REDACT_MAX_NAMES 512        /* distinct host names mapped */

/* Host context (host-context.txt): the whole text, bytes read from one command, relevant
 * firewall and route lines kept, destinations routed (then: counted, not asked), and how
 * long one command may run (ms). */
#define PM_HC_MAX_TEXT (512u * 1024u)
#define PM_HC_MAX_CMD_OUT (4u << 20)
#define PM_HC_MAX_FW_LINES 400
#define PM_HC_MAX_ROUTE_LINES 256
#define PM_HC_MAX_DESTS 4096
#define PM_HOSTCTX_CMD_TIMEOUT_MS 3000

/* ======================================================================================
 * Live capture loop (capture/live.c)
 * ====================================================================================== */
/* Packets per round before ticks and logs get a turn. */
#define PM_LIVE_DRAIN_BUDGET 8192
/* The side handle (packets to the destinations' prefixes that the main filter leaves out):
 * packets per interface per tick (1,000/s), prefixes in its filter, bytes kept (link, IPv6
 * with extension headers, first transport bytes) and its buffer (KiB). */
#define PM_SIDE_BUDGET 200
#define PM_SIDE_PREFIXES 32
#define PM_SIDE_SNAPLEN 128
#define PM_SIDE_BUFFER_KIB 1024

#endif

/* ======================================================================================
 * `portmortem watch` (capture/watch.c; analyze/syslog_out.c, deststate.c, metrics.c)
 * ====================================================================================== */
/* The ring's defaults: MB per file (-C) and files kept (-W), as tcpdump's -C/-W. */
#define PM_WATCH_RING_MB 16
#define PM_WATCH_RING_FILES 8
/* Syslog: records per second by default (--syslog-rate), and one record's bytes at most
 * (RFC 5424 §6.1: a receiver must take 480, should take 2048; rsyslog's default is 8096). */
#define PM_WATCH_SYSLOG_RATE 50
#define PM_WATCH_SYSLOG_MAX 8000
/* Destination state: consecutive failed attempts that make a destination "failing" (a
 * settled verdict does at once), and the destinations whose state is kept (the least
 * recently seen one that is not failing is forgotten first, counted). */
#define PM_WATCH_FAIL_AFTER 3
#define PM_WATCH_MAX_DESTS 4096
/* The metrics file and state.json are rewritten this often (seconds). */
#define PM_WATCH_WRITE_INTERVAL 10
/* The rendered metrics text at most (bytes): 15 verdicts x 8 owners x 16 ports is the
 * worst label set, ~2,000 series of ~90 bytes. */
#define PM_WATCH_METRICS_MAX (256u * 1024u)
/* HTTP /metrics: clients at once, request bytes read at most, and the time a client may
 * take to send its request or read the answer (ms). */
#define PM_WATCH_HTTP_CLIENTS 4
#define PM_WATCH_HTTP_REQ_MAX 2048
#define PM_WATCH_HTTP_TIMEOUT_MS 1000
/* Auto bundles: kept at most (--bundle-max) and seconds between two for one destination
 * (--bundle-min-interval). */
#define PM_WATCH_BUNDLE_MAX 20
#define PM_WATCH_BUNDLE_INTERVAL 300
