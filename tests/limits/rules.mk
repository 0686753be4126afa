# tests/limits/rules.mk — the bounded tables (issue 15) and their linearity (issue 19),
# included by the top-level Makefile:
#
#   make check-limits   every table an option can force small is forced small: stderr names
#                       it once, the JSON summary's `limits` counts the loss, the attempts
#                       carry the flag, the text report says it, the exit status is 4; the
#                       same captures at default settings lose nothing (tests/limits/run.sh)
#   make check-linear   N and 4N attempts to ONE destination and port: 4N must take < 10x
#                       the CPU time of N (minimum of two runs; tests/limits/linear.py)
#
# check-limits runs again under ASan+UBSan (the growth paths of every table); check-linear
# only on the release build (sanitizers change the constant factors, not the shape).

check-limits: $(B)/portmortem $(PMGEN)
	$(Q)bash tests/limits/run.sh $(B)/portmortem $(PMGEN)

check-linear: $(B)/portmortem $(PMGEN)
	$(Q)python3 tests/limits/linear.py $(B)/portmortem $(PMGEN)

.PHONY: check-limits check-linear
CHECK_TARGETS += check-limits check-linear
CHECK_SAN_TARGETS += check-limits
