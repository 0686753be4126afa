#!/bin/sh
# run.sh — owns running one fuzz campaign and saying plainly how it went.
#
#   tests/fuzz/run.sh BIN CAMPAIGN SECONDS OUTDIR [smoke]
#
# Runs libFuzzer binary BIN for SECONDS on campaign CAMPAIGN with its seed corpus
# (OUTDIR/seeds/CAMPAIGN, built by seeds.sh) and dictionary (OUTDIR/dict/CAMPAIGN.dict).
# A normal run keeps its corpus in OUTDIR/corpus/CAMPAIGN, so coverage accumulates across
# runs; a smoke run (make check) starts from the seeds in a scratch directory each time.
# Log: OUTDIR/logs/CAMPAIGN.log. Exit 0 if nothing was found; 1 with the crash input, its
# reproduction command and the first lines of the report otherwise.
# FUZZ_JOBS (default 1) > 1 runs that many workers (-fork) on the one campaign.
set -u
BIN=$1
CAMPAIGN=$2
SECONDS_=$3
OUT=$4
MODE=${5:-long}
JOBS=${FUZZ_JOBS:-1}

case $CAMPAIGN in
    mtalog-*) MAXLEN=4096 ;;
    *) MAXLEN=65536 ;;
esac
SEEDS=$OUT/seeds/$CAMPAIGN
DICT=$OUT/dict/$CAMPAIGN.dict
ART=$OUT/artifacts/$CAMPAIGN
LOG=$OUT/logs/$CAMPAIGN.log
if [ "$MODE" = smoke ]; then
    CORPUS=$OUT/smoke/$CAMPAIGN
    rm -rf "$CORPUS"
    LOG=$OUT/logs/$CAMPAIGN.smoke.log
else
    CORPUS=$OUT/corpus/$CAMPAIGN
fi
mkdir -p "$CORPUS" "$ART" "$OUT/logs"
[ -d "$SEEDS" ] || { echo "fuzz: no seeds for $CAMPAIGN (run tests/fuzz/seeds.sh)" >&2; exit 2; }

PAR=
if [ "$JOBS" -gt 1 ]; then
    PAR="-fork=$JOBS -ignore_crashes=0"
fi
start=$(date +%s)
# -close_fd_mask=1: the code under test may print reports on stdout; libFuzzer's own output
# (stderr) stays. -rss_limit_mb: the tool is meant to stay small; 2 GB is a leak or a bomb.
# shellcheck disable=SC2086
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
"$BIN" -max_total_time="$SECONDS_" -max_len="$MAXLEN" -dict="$DICT" \
    -artifact_prefix="$ART/" -print_final_stats=1 -close_fd_mask=1 -rss_limit_mb=2048 \
    -timeout=20 $PAR "$CORPUS" "$SEEDS" > "$LOG" 2>&1
rc=$?
end=$(date +%s)

execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$LOG" | awk '{s+=$2} END{print s+0}')
last=$(grep -E '^#[0-9]+' "$LOG" | tail -1)
cov=$(printf '%s' "$last" | grep -o 'cov: [0-9]*' | awk '{print $2}')
ft=$(printf '%s' "$last" | grep -o 'ft: [0-9]*' | awk '{print $2}')
corp=$(printf '%s' "$last" | grep -o 'corp: [0-9]*' | awk '{print $2}')
[ "$JOBS" -gt 1 ] && execs=$(printf '%s' "$last" | grep -o '^#[0-9]*' | tr -d '#')
printf 'fuzz: %-16s %5ss  execs %-10s cov %-6s ft %-6s corpus %-6s ' "$CAMPAIGN" \
    "$((end - start))" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}"
crash=$(ls -t "$ART" 2>/dev/null | head -1)
if [ $rc -eq 0 ]; then
    echo "ok"
    exit 0
fi
if [ $rc -eq 72 ] && ! grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error' "$LOG"; then
    echo "interrupted (no crash found before the signal)"
    exit 1
fi
echo "FAILED (libFuzzer exit $rc)"
grep -E '^==[0-9]+== ?ERROR|ERROR: libFuzzer|runtime error|^SUMMARY|Test unit written|deadly signal' "$LOG" | head -8 | sed 's/^/  /'
if [ -n "$crash" ]; then
    echo "  input:      $ART/$crash"
    echo "  reproduce:  $BIN $ART/$crash"
    echo "  minimise:   $BIN -minimize_crash=1 -runs=100000 -exact_artifact_path=/tmp/min $ART/$crash"
fi
echo "  full log:   $LOG"
exit 1
