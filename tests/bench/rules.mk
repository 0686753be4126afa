# tests/bench/rules.mk — owns `make bench` (docs/PERFORMANCE.md): the floor program, the
# memory-mapped reader prototype, and the harness (bench.py) that generates the captures
# with the project's generator, times everything interleaved and checks the outcome counts
# against the generator's truth. A benchmark, never part of `make check`.
#
#   make bench [BENCH_RUNS=5] [BENCH_BIG=1000000000] [BENCH_SMALL=100000000]
#              [BENCH_STORM=500000000] [BENCH_HALFOPEN=1000000] [BENCH_MAXFLOWS=1048576]
#              [BENCH_FLOOD=1000000] [BENCH_SMTPSTORM=3000000] [BENCH_ONLY=row,row]
#              [BENCH_CALLGRIND=1] [BENCH_TIMEOUT=1800] [BENCH_STRICT=1]
#              [BENCH_LIVE_SECS=3] [BENCH_LIVE_RATES=50000,100000,...] (SYNs/s; live-flood row)
#              [BENCH_LIVE=0] (skip the live-flood row; it needs root)
#   (BENCH_STORM=0 / BENCH_HALFOPEN=0 / BENCH_FLOOD=0 / BENCH_SMTPSTORM=0 skip a row;
#    BENCH_ONLY=flood-one,smtp-storm runs only those rows)
#
# Always measures the release build (optimised, no sanitizers), whatever VARIANT says.

BENCH_B := build/release
BENCH_OUT := build/bench
BENCH_FLOOR := $(BENCH_B)/tests/bench/floor
BENCH_MMAP := $(BENCH_B)/tests/bench/mmapread
BENCH_RUNSTAT := $(BENCH_B)/tests/bench/runstat
# The live row's SYN sender (AF_PACKET, root only; see tests/bench/synflood.c).
BENCH_SYNFLOOD := $(BENCH_B)/tests/bench/synflood
# The "bytes only" row: writes as many lines of the same length as portmortem's JSON Lines
# (tests/bench/emit.c; issue 15.2).
BENCH_EMIT := $(BENCH_B)/tests/bench/emit
# The generator's binary, built by its own rules (tests/golden/rules.mk: $(B)/tests/gen/pmgen).
BENCH_PMGEN := $(BENCH_B)/tests/gen/pmgen

BENCH_OBJS := $(BENCH_B)/tests/bench/floor.o $(BENCH_B)/tests/bench/mmapread.o \
	$(BENCH_B)/tests/bench/runstat.o $(BENCH_B)/tests/bench/synflood.o \
	$(BENCH_B)/tests/bench/emit.o
.SECONDARY: $(BENCH_OBJS)

$(BENCH_B)/tests/bench/%: $(BENCH_B)/tests/bench/%.o $(BENCH_B)/libportmortem.a
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

.PHONY: bench bench-tools
bench-tools:
	$(Q)$(MAKE) --no-print-directory VARIANT=release SETUP=0 $(BENCH_B)/portmortem $(BENCH_FLOOR) \
		$(BENCH_MMAP) $(BENCH_RUNSTAT) $(BENCH_SYNFLOOD) $(BENCH_EMIT) $(BENCH_PMGEN)

bench: bench-tools
	$(Q)python3 tests/bench/bench.py --pmgen $(BENCH_PMGEN) --portmortem $(BENCH_B)/portmortem \
		--floor $(BENCH_FLOOR) --mmapread $(BENCH_MMAP) --runstat $(BENCH_RUNSTAT) \
		--synflood $(BENCH_SYNFLOOD) --emit $(BENCH_EMIT) --out $(BENCH_OUT)
