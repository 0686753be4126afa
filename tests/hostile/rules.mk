# tests/hostile/rules.mk — hostile conditions (issue 19): option values (NaN, inf, overflow,
# impossible dates, a file as --log-tz, endless --mta-log), and, as root in a private network
# namespace of the test's own (unshare -n, lo only), the files written as root (-w, -o, probe
# -w), temporary captures after SIGKILL, a root-only --sign-key, and the bundle helper's
# capabilities read from /proc. Not root: the root parts SKIP with the reason. About 90 s.
# Included by the top-level Makefile.
.PHONY: check-hostile
CHECK_TARGETS += check-hostile

check-hostile: $(B)/portmortem
	$(Q)PORTMORTEM=$(abspath $(B)/portmortem) timeout -k 10 600 tests/hostile/run.sh
