# capture/rules.mk — sources of capture/ (live capture, injection, privileges, probes).
# Included by the top-level Makefile; appends to CAPTURE_SRCS.
CAPTURE_SRCS += capture/live.c capture/probe.c
# the probe's other rooms (issue 17): its command line, setup, matcher and printers
CAPTURE_SRCS += capture/probe_opts.c capture/probe_setup.c capture/probe_match.c \
	capture/probe_print.c
# live capture (issue 7): the command and loop, handles, -w files, the followed MTA log,
# host context and routes, the privilege drop (also used by the probe).
CAPTURE_SRCS += capture/handle.c capture/dump.c capture/follow.c capture/hostctx.c \
	capture/bundle_helper.c \
	capture/priv.c
# active probe (issue 8): test SYNs (libnet), DNS, the SMTP/STARTTLS check, the token bucket.
CAPTURE_SRCS += capture/inject.c capture/dns.c capture/smtpcheck.c capture/throttle.c
# the per-address conclusion of a probe (issue 14.6): a table, testable without root
CAPTURE_SRCS += capture/probe_verdict.c
# always on (issue 18): `portmortem watch` around the live loop, and its capture ring's bound
CAPTURE_SRCS += capture/watch.c capture/ring.c
