# tests/golden/rules.mk — the generator and the golden, robustness and public-capture tests,
# included by the top-level Makefile (which composes `make check` from CHECK_TARGETS and
# CHECK_SAN_TARGETS). Every target uses $(B)/portmortem, so the same tests run again on the
# ASan+UBSan build with VARIANT=asan. pmgen and pcapcut are test tools: built with the same
# compiler and warnings as the tool, never linked into it.
#
#   make pmgen            build $(B)/tests/gen/pmgen (the capture generator)
#   make check-golden     golden captures vs their truth, and regeneration is byte-identical
#   make check-robust     every golden capture cut at shorter caplens: no crash, no wrong outcome
#   make check-public     ../shared/pcaps-public (real and malformed captures), when present
#   make check-readers    our classic-pcap block reader reads every file as libpcap does
#   make check-cut        recorded dialogues cut at every packet from either end, and their
#                         outbound half: only the truth or an honest partial (issue 14)
#   make regen-golden     rewrite pcaps/gen/ from tests/golden/cases.txt (then commit)
#
# Knobs (see tests/robust/run.sh): ROBUST_STEP, ROBUST_TAIL, ROBUST_OTHER, ROBUST_OTHER_TAIL
# (cut-point spacing; defaults are lighter under ASan), ROBUST_FULL=1 (every capture at every
# caplen: slow, for a one-off sweep), PM_PUBLIC_DIR (default ../shared/pcaps-public).

PMGEN_SRCS := tests/gen/pmgen.c tests/gen/gen_wire.c tests/gen/gen_out.c tests/gen/gen_scen.c \
	tests/gen/gen_mix.c
PMGEN_OBJS := $(patsubst %.c,$(B)/%.o,$(PMGEN_SRCS))
PMGEN := $(B)/tests/gen/pmgen
PCAPCUT := $(B)/tests/robust/pcapcut

.PHONY: pmgen check-public check-readers check-cut regen-golden

pmgen: $(PMGEN)

$(PMGEN): $(PMGEN_OBJS)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) -lm

$(PCAPCUT): $(B)/tests/robust/pcapcut.o
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS)

check-golden: $(B)/portmortem $(PMGEN)
	$(Q)bash tests/golden/run.sh $(B)/portmortem $(PMGEN)

check-robust: $(B)/portmortem $(PCAPCUT)
	$(Q)$(if $(ROBUST_STEP),ROBUST_STEP=$(ROBUST_STEP)) $(if $(ROBUST_FULL),ROBUST_FULL=$(ROBUST_FULL)) \
		bash tests/robust/run.sh $(B)/portmortem $(PCAPCUT)

check-public: $(B)/portmortem
	$(Q)bash tests/robust/public.sh $(B)/portmortem

# The block reader for classic pcap against libpcap's, file by file (tests/robust/readers.sh).
check-readers: $(B)/portmortem
	$(Q)bash tests/robust/readers.sh $(B)/portmortem

# Captures that start late or stop early (tests/robust/cut.sh; needs editcap and tcpdump).
check-cut: $(B)/portmortem
	$(Q)bash tests/robust/cut.sh $(B)/portmortem

regen-golden: $(PMGEN)
	$(Q)bash tests/golden/regen.sh -p $(PMGEN) -o pcaps/gen

CHECK_TARGETS += check-golden check-robust check-public check-readers check-cut
CHECK_SAN_TARGETS += check-golden check-robust check-public check-readers check-cut
