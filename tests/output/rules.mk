# tests/output/rules.mk — the report's output stream (analyze/output.c), end to end
# (tests/output/run.sh): write errors exit 3 with a message, a reader that goes away is not
# an error and the bundle is still written. Included by the top-level Makefile.
#   make check-output                 release build
#   make VARIANT=asan check-output    the same on the ASan+UBSan binary
.PHONY: check-output

check-output: $(B)/portmortem $(PMGEN)
	$(Q)PORTMORTEM=$(B)/portmortem PMGEN=$(PMGEN) tests/output/run.sh

CHECK_TARGETS += check-output
CHECK_SAN_TARGETS += check-output

# The report formats read back (issue 16.3, tests/output/formats.py): the Zeek conn.log by a
# reader that follows Zeek's ASCII log format and the CSV by Python's csv module, field by
# field against the JSON Lines of the same golden and lab inputs; text is the default
# wherever standard output goes. Release build only (about 1,400 runs).
.PHONY: check-formats
check-formats: $(B)/portmortem
	$(Q)python3 tests/output/formats.py $(B)/portmortem .

CHECK_TARGETS += check-formats

# A storm a person can read (issue 15.4, tests/output/storm_text.py): generated storms (many
# destinations; one destination) give a text report of at most 70 lines whose every count
# and time range equals the JSON Lines' of the same capture. Release build only.
.PHONY: check-storm-text
check-storm-text: $(B)/portmortem $(PMGEN)
	$(Q)python3 tests/output/storm_text.py $(B)/portmortem $(PMGEN)

CHECK_TARGETS += check-storm-text
