#!/usr/bin/env bash
# tests/run-check.sh — what `make check` runs: every test tier, timed, in two lanes.
#
#   CHECK_RELEASE="t1 t2..." CHECK_SAN="..." CHECK_ROOT="..." tests/run-check.sh
#
# Why two lanes: the root tier (live lab, live capture, probe) spends most of its wall time
# waiting on the lab's clocks (an MTA's retry hold, a capture's grace, SYN retries), while the
# offline tiers (release, then ASan+UBSan) are CPU-bound. Run one after the other they took 86
# minutes of CI at stop 14; side by side the run takes about as long as the longer lane. The
# offline lane runs under `nice` so that the live lane, whose checks read timing (a capture
# must keep up, an MTA's retry must fall inside a window), keeps the CPU when both want it.
#
# Everything both lanes need is built first, in one make, so that the two lanes never build the
# same file at once. Each lane stops at its first failing target (as `make check` always did);
# the other lane still finishes, so one CI run shows every failing lane. The offline lane's
# output goes to build/check-offline.log and is printed when it ends; the root lane prints as
# it goes. Wall time per target: build/check-times.txt, printed slowest first.
#
# CHECK_SERIAL=1 runs the lanes one after the other (a machine too small or too loaded for
# the live checks' timing). Exit status: 0 when every target passed, 1 otherwise.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
MAKE=${MAKE:-make}
TIMES=build/check-times.txt
OFFLOG=build/check-offline.log
mkdir -p build
: >"$TIMES"

# run_lane VARIANT TARGET...: each target in order, timed; stops at the first failure.
run_lane() {
    local variant=$1 t s rc
    shift
    for t in "$@"; do
        s=$(date +%s)
        $MAKE --no-print-directory SETUP=0 VARIANT="$variant" "$t"
        rc=$?
        printf '%6d s  %s (%s)%s\n' $(($(date +%s) - s)) "$t" "$variant" \
            "$([ $rc -ne 0 ] && echo '  FAILED')" >>"$TIMES"
        if [ $rc -ne 0 ]; then
            echo "make check: $t ($variant) failed"
            return 1
        fi
    done
}

offline_lane() {
    run_lane release $CHECK_RELEASE && run_lane asan $CHECK_SAN
}

# Build first, once: both variants of the tool and their unit tests (a root target's own extra
# program, such as the flood generator, is built by that target alone, so no file is built
# by both lanes).
echo "make check: building the release and ASan+UBSan trees"
$MAKE --no-print-directory SETUP=0 VARIANT=release -j2 portmortem unit || exit 1
$MAKE --no-print-directory SETUP=0 VARIANT=asan -j2 asan-binary unit || exit 1

start=$(date +%s)
if [ "${CHECK_SERIAL:-0}" = 1 ] || [ -z "${CHECK_ROOT:-}" ]; then
    offline_lane
    off_rc=$?
    root_rc=0
    [ -n "${CHECK_ROOT:-}" ] && { run_lane release $CHECK_ROOT; root_rc=$?; }
else
    echo "make check: offline tiers in the background (log: $OFFLOG), root tier here"
    # The lane renices itself before it starts anything: make and every test inherit it.
    (renice -n 10 -p $BASHPID >/dev/null; offline_lane >"$OFFLOG" 2>&1
     echo $? >build/check-offline.rc) &
    run_lane release $CHECK_ROOT
    root_rc=$?
    wait
    echo "make check: the offline tiers' output:"
    cat "$OFFLOG"
    off_rc=$(cat build/check-offline.rc 2>/dev/null || echo 1)
fi

echo "make check: wall time per target (slowest first; lanes ran side by side):"
sort -rn "$TIMES"
echo "make check: $(($(date +%s) - start)) s in all"
if [ "$off_rc" != 0 ] || [ "$root_rc" != 0 ]; then
    echo "make check: FAILED (offline lane exit $off_rc, root lane exit $root_rc)"
    exit 1
fi
echo "make check: all tests passed"
