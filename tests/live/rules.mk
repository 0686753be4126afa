# tests/live/rules.mk — live capture tests (issue 7): `portmortem capture` in private network
# namespaces, as root. Included by the top-level Makefile. Not root, or no namespaces: the
# script prints SKIP with the reason and succeeds. About 35 s.
.PHONY: check-live check-live-lab
CHECK_ROOT_TARGETS += check-live

check-live: $(B)/portmortem
	$(Q)PORTMORTEM=$(abspath $(B)/portmortem) tests/live/run.sh

# The same in the lab (lab/lab.sh run with LAB_SENDER_HOOK): `portmortem capture` in the sender
# during the lab scenarios, its verdicts against `analyze` of what it wrote and against the
# truth files. PASS lines are left out; the live-vs-offline table and the summary stay.
# About 80 s with -j 4.
CHECK_ROOT_TARGETS += check-live-lab

# pipefail: the script's exit status, not grep's, is the target's.
check-live-lab: $(B)/portmortem
	$(Q)PORTMORTEM=$(abspath $(B)/portmortem) bash -o pipefail -c \
		'tests/live/lab.sh -j 4 | { grep -v "^PASS" || true; }'

# A real `tcpdump -U -w -` piped into `portmortem analyze -` in the lab's sender during two
# scenarios (issue 16.1): verdicts against the truth files, attempts streamed before the pipe
# ends. About 50 s on an idle machine.
CHECK_ROOT_TARGETS += check-live-pipe
.PHONY: check-live-pipe

check-live-pipe: $(B)/portmortem
	$(Q)PORTMORTEM=$(abspath $(B)/portmortem) bash -o pipefail -c \
		'tests/live/pipe.sh | { grep -v "^PASS" || true; }'

# A SYN flood (tests/bench/synflood, 10,000 SYN/s across a veth pair in two namespaces of its
# own) while `portmortem capture` runs: SIGINT in the middle still stops it within 10 s, with
# its summary and documented exit status; a second SIGINT ends it at once (issue 19.1).
# About 40 s.
CHECK_ROOT_TARGETS += check-live-flood
.PHONY: check-live-flood

check-live-flood: $(B)/portmortem $(B)/tests/bench/synflood
	$(Q)PORTMORTEM=$(abspath $(B)/portmortem) SYNFLOOD=$(abspath $(B)/tests/bench/synflood) \
		tests/live/flood.sh
