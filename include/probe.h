/*
 * probe.h — `portmortem probe TARGET`: MX/A/AAAA lookup, a TCP connect with greeting,
 * EHLO and STARTTLS (OpenSSL) per address, port comparison, and — only when asked — test
 * SYNs and a TTL walk with libnet, rate-limited, capped, to the named targets only. Its
 * own packets are captured and analysed with the same engine and vocabulary.
 */
#ifndef PM_PROBE_H
#define PM_PROBE_H

int pm_cmd_probe(int argc, char **argv, int full_argc, char **full_argv);

#endif
