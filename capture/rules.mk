# capture/rules.mk — sources of capture/ (live capture, injection, privileges, probes).
# Included by the top-level Makefile; appends to CAPTURE_SRCS.
CAPTURE_SRCS += capture/live.c capture/probe.c
