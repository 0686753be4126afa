# tests/live/rules.mk — live capture tests (issue 7): `portmortem capture` in private network
# namespaces, as root. Included by the top-level Makefile. Not root, or no namespaces: the
# script prints SKIP with the reason and succeeds. About 35 s.
.PHONY: check-live
CHECK_ROOT_TARGETS += check-live

check-live: $(B)/portmortem
	$(Q)PORTMORTEM=$(abspath $(B)/portmortem) tests/live/run.sh
