# tests/watch/rules.mk — `portmortem watch` (issue 18). Included by the top-level Makefile.
#
# check-watch: the watch live, as root, in three namespaces of its own: the ring, syslog
# records on a unix socket, the metrics file, SIGHUP and SIGTERM. Not root, or no namespaces:
# SKIP. About 25 s (60 s on a loaded machine).
.PHONY: check-watch
CHECK_ROOT_TARGETS += check-watch

check-watch: $(B)/portmortem
	$(Q)PORTMORTEM=$(abspath $(B)/portmortem) bash -o pipefail -c \
		'tests/watch/run.sh | { grep -v "^PASS" || true; }'

# check-watch-lab: the acceptance lab (tests/watch/lab.sh, root): the watch under its unit's
# sandbox applied by hand, two real rsyslogs relaying its RFC 5424 records over TCP, a real
# Prometheus scraping /metrics every second and queried with PromQL after a forged-RST outage
# and its recovery, MTA log rotation (rename, copytruncate) in the middle, an automatic bundle
# that `verify` accepts, the ring under -C 1 -W 3 through a SYN flood. Needs rsyslog and
# prometheus (TEST_PKGS); not root: SKIP. Bounded at 175 s (WATCHLAB_LIMIT); about 2 min.
.PHONY: check-watch-lab
CHECK_ROOT_TARGETS += check-watch-lab

check-watch-lab: $(B)/portmortem $(B)/tests/bench/synflood
	$(Q)PORTMORTEM=$(abspath $(B)/portmortem) SYNFLOOD=$(abspath $(B)/tests/bench/synflood) \
		tests/watch/lab.sh
