# tests/watch/rules.mk — `portmortem watch` live (issue 18), as root, in three namespaces of
# its own: the ring, syslog records on a unix socket, the metrics file, SIGHUP and SIGTERM.
# Not root, or no namespaces: SKIP. About 25 s (60 s on a loaded machine).
.PHONY: check-watch
CHECK_ROOT_TARGETS += check-watch

check-watch: $(B)/portmortem
	$(Q)PORTMORTEM=$(abspath $(B)/portmortem) bash -o pipefail -c \
		'tests/watch/run.sh | { grep -v "^PASS" || true; }'
