# tests/probe/rules.mk — `portmortem probe` (issue 8) in the lab's network namespaces, as root:
# the TTL walk localising each path scenario, STARTTLS against a test certificate, stale MX
# addresses, the DNS corner cases, and that nothing raw is sent unasked. Included by the
# top-level Makefile. Not root, no namespaces or a missing tool: the script prints SKIP with
# the reason and succeeds. About 95 s.
.PHONY: check-probe
CHECK_ROOT_TARGETS += check-probe

check-probe: $(B)/portmortem
	$(Q)PORTMORTEM=$(abspath $(B)/portmortem) tests/probe/run.sh
