# tests/input/rules.mk — captures from anywhere and the user's filter (issue 16, items 1-2),
# end to end (tests/input/run.sh): gzip/xz/zstd told by content, standard input, -r -, a
# FIFO and process substitution give the plain file's report; cut and corrupted compressed
# streams; a stream reported as it goes with bounded memory; BPF narrowing and its errors.
# Included by the top-level Makefile. About 30 s.
#   make check-input                 release build
#   make VARIANT=asan check-input    the same on the ASan+UBSan binary
.PHONY: check-input

check-input: $(B)/portmortem $(PMGEN)
	$(Q)PORTMORTEM=$(B)/portmortem PMGEN=$(PMGEN) tests/input/run.sh

CHECK_TARGETS += check-input
CHECK_SAN_TARGETS += check-input
