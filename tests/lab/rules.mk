# tests/lab/rules.mk — the lab's targets (included by the top-level Makefile).
#
#   make lab            re-record every lab scenario into pcaps/lab/ (root; ~3 minutes)
#   make check-lab      the committed fixtures, offline: verdicts against truth.json
#   make check-lab-live the scenarios run now in network namespaces (root; skips otherwise),
#                       6 at a time: each run mostly waits on its MTA's clocks (44 runs of
#                       about a minute each)

.PHONY: lab check-lab check-lab-live

lab:
	lab/record-fixtures.sh

# The harness tests itself first (a fake portmortem: right, wrong, crashing, garbage), then
# the real binary of this build variant against every committed fixture. pipefail (here and
# below): the script's exit status, not grep's, is the target's (make runs /bin/sh).
check-lab: $(B)/portmortem
	$(Q)bash tests/lab/selftest.sh >/dev/null
	$(Q)PORTMORTEM=$(abspath $(B)/portmortem) bash -o pipefail -c \
		'bash tests/lab/run.sh --offline | { grep -v "^PASS" || true; }'

check-lab-live: $(B)/portmortem
	$(Q)PORTMORTEM=$(abspath $(B)/portmortem) bash -o pipefail -c \
		'bash tests/lab/run.sh --live -j 6 | { grep -v "^PASS" || true; }'

CHECK_TARGETS += check-lab
CHECK_SAN_TARGETS += check-lab
CHECK_ROOT_TARGETS += check-lab-live
