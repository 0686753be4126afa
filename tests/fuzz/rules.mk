# tests/fuzz/rules.mk — owns the fuzz targets: their clang/libFuzzer build in build/fuzz/
# (never disturbing build/release or build/asan), the seed corpora, `make fuzz`, and the
# fuzz smoke run + regression replay + Valgrind pass that `make check` runs.
# See docs/FUZZING.md. Included by the top-level Makefile.
#
#   make fuzz [FUZZ_SECONDS=60] [FUZZ_CAMPAIGNS="decode capfile ..."] [-j2]
#   make check-fuzz          smoke: FUZZ_SMOKE_SECONDS (20) per campaign + regressions
#   make check-fuzz-regressions   the tool (release or asan) over pcaps/fuzz-regressions/
#   make check-valgrind      Valgrind over the tool on a few fixtures and the unit runner

FUZZ_B := build/fuzz
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 20
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS := -std=c11 -O1 -g -fno-omit-frame-pointer $(FUZZ_SAN) -Wall -Wextra \
	-Wno-unused-parameter $(PKG_CFLAGS) -MMD -MP
FUZZ_CPPFLAGS := -Iinclude -Itests/fuzz -D_GNU_SOURCE -DPM_BUILD_VARIANT=\"fuzz\" \
	-DPM_VERSION=\"$(VERSION)\"
# analyze/ is what handles untrusted bytes; capture/ and main.c are not linked.
FUZZ_LIB_OBJS := $(patsubst %.c,$(FUZZ_B)/%.o,$(ANALYZE_SRCS))
FUZZ_LIB := $(FUZZ_B)/libpm-fuzz.a
FUZZ_BINS := decode capfile mtalog logfile engine
FUZZ_OBJS := $(patsubst %,$(FUZZ_B)/tests/fuzz/fuzz_%.o,$(FUZZ_BINS))
.SECONDARY: $(FUZZ_OBJS)
FUZZ_CAMPAIGNS ?= decode capfile mtalog-postfix mtalog-exim mtalog-sendmail logfile engine
FUZZ_SMOKE_CAMPAIGNS ?= decode capfile engine logfile mtalog-postfix
FUZZ_MKSEEDS := $(B)/tests/fuzz/mkseeds

# Which binary a campaign runs.
fuzz_bin = $(FUZZ_B)/fuzz_$(firstword $(subst -, ,$(1)))

$(FUZZ_B)/analyze/%.o: analyze/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_B)/tests/fuzz/%.o: tests/fuzz/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer -c -o $@ $<

$(FUZZ_LIB): $(FUZZ_LIB_OBJS)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(FUZZ_B)/fuzz_%: $(FUZZ_B)/tests/fuzz/fuzz_%.o $(FUZZ_LIB)
	@echo "  LD      $@"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS) -lresolv -lm

# The seed builder is an ordinary program on the ordinary build.
$(FUZZ_MKSEEDS): $(B)/tests/fuzz/mkseeds.o $(LIB)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

$(B)/tests/fuzz/mkseeds.o: CPPFLAGS += -Itests/fuzz

.PHONY: fuzz-build fuzz-seeds fuzz-toolchain check-fuzz check-fuzz-regressions check-valgrind

# libFuzzer needs clang and its runtime (Debian: clang, libclang-rt-14-dev).
fuzz-toolchain:
	@mkdir -p $(FUZZ_B)
	@printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return d && n; }\n' \
		> $(FUZZ_B)/probe.c
	@$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $(FUZZ_B)/probe $(FUZZ_B)/probe.c 2>/dev/null || { \
		echo "fuzz: '$(FUZZ_CC) -fsanitize=fuzzer' does not link: install clang and libclang-rt-14-dev (sh .ci/setup)" >&2; \
		exit 1; }

fuzz-build: fuzz-toolchain
	$(Q)$(MAKE) --no-print-directory $(foreach t,$(FUZZ_BINS),$(FUZZ_B)/fuzz_$(t))

fuzz-seeds: $(FUZZ_MKSEEDS)
	$(Q)sh tests/fuzz/seeds.sh $(FUZZ_MKSEEDS) $(FUZZ_B)

# One target per campaign, so that `make -j2 fuzz` runs two at a time.
fuzz-run-%: fuzz-build fuzz-seeds
	$(Q)sh tests/fuzz/run.sh $(call fuzz_bin,$*) $* $(FUZZ_SECONDS) $(FUZZ_B)

fuzz: $(foreach c,$(FUZZ_CAMPAIGNS),fuzz-run-$(c))
	@echo "fuzz: all campaigns ran $(FUZZ_SECONDS) s without a crash (logs: $(FUZZ_B)/logs/)"

# ---- make check ----------------------------------------------------------------------

FUZZ_REGRESS_PCAPS = $(sort $(wildcard pcaps/fuzz-regressions/*.pcap pcaps/fuzz-regressions/*.pcapng \
	pcaps/fuzz-regressions/*.bin))
FUZZ_REGRESS_RAW = $(sort $(wildcard tests/data/fuzz-regressions/*/*))

check-fuzz: fuzz-build fuzz-seeds
	@echo "fuzz: smoke run, $(FUZZ_SMOKE_SECONDS) s per campaign: $(FUZZ_SMOKE_CAMPAIGNS)"
	$(Q)fail=0; for c in $(FUZZ_SMOKE_CAMPAIGNS); do \
		b=$(FUZZ_B)/fuzz_$${c%%-*}; \
		sh tests/fuzz/run.sh $$b $$c $(FUZZ_SMOKE_SECONDS) $(FUZZ_B) smoke || fail=1; \
	done; \
	for f in $(FUZZ_REGRESS_PCAPS); do \
		for t in capfile engine; do \
			$(FUZZ_B)/fuzz_$$t $$f > $(FUZZ_B)/logs/regress.log 2>&1 || { \
				echo "fuzz: regression $$f crashes fuzz_$$t:"; tail -20 $(FUZZ_B)/logs/regress.log; fail=1; }; \
		done; \
	done; \
	for f in $(FUZZ_REGRESS_RAW); do \
		t=$$(basename $$(dirname $$f)); \
		$(FUZZ_B)/fuzz_$$t $$f > $(FUZZ_B)/logs/regress.log 2>&1 || { \
			echo "fuzz: regression $$f crashes fuzz_$$t:"; tail -20 $(FUZZ_B)/logs/regress.log; fail=1; }; \
	done; \
	[ $$fail = 0 ] && echo "fuzz: smoke run and $(words $(FUZZ_REGRESS_PCAPS) $(FUZZ_REGRESS_RAW)) regression inputs: ok"; \
	exit $$fail

# The tool itself over every fuzz-found capture: a clear message and the documented exit
# status, no sanitizer report (runs on the release and on the ASan+UBSan build).
check-fuzz-regressions: $(B)/portmortem
	$(Q)sh tests/fuzz/regress.sh $(B)/portmortem pcaps/fuzz-regressions

CHECK_TARGETS += check-fuzz check-fuzz-regressions check-valgrind
CHECK_SAN_TARGETS += check-fuzz-regressions

# ---- Valgrind ------------------------------------------------------------------------
# Memcheck over the release tool on a few fixtures (a clean run, a run with an MTA log, a
# damaged capture, not a capture) and over the unit-test runner with a few suites.
VALGRIND ?= valgrind
VALGRIND_FLAGS := --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
	--show-leak-kinds=definite,indirect --track-origins=yes --quiet
VALGRIND_SUITES ?= pkt mtalog_load mtalog_hostile

check-valgrind: $(B)/portmortem $(UNIT_BIN)
	$(Q)sh tests/fuzz/valgrind.sh "$(VALGRIND) $(VALGRIND_FLAGS)" $(B)/portmortem $(UNIT_BIN) \
		"$(VALGRIND_SUITES)"
