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
