#!/usr/bin/env bash
# tests/layers/run.sh — keeps the privileged code where docs/ARCHITECTURE.md says it is
# (issue 17.4): analyze/ is the privilege-free core, so none of its sources may fork, change
# credentials or capabilities, call prctl, or pass descriptors (SCM_RIGHTS); that lives in
# capture/ (capture/bundle_helper.c, capture/priv.c). Checked twice:
#   1. the sources, comments stripped by the preprocessor (gcc -fpreprocessed), for the
#      names of those calls and SCM_RIGHTS;
#   2. the compiled objects (nm -u), for the libc symbols, so a call hidden behind a macro
#      is caught too.
# Two more rules of the same kind (issue 17 acceptance):
#   3. no source file of main.c, analyze/, capture/ or include/ over 1,200 lines, except
#      those named in tests/layers/long-files.allow (a commented, temporary list);
#   4. no call circle between main.c and capture/: no capture/ object uses a symbol that
#      main.o defines (nm: capture's undefined symbols against main.o's defined ones); the
#      shared option rows live in analyze/cliopts.c for that reason.
# Each check is first run on a planted file that does what is forbidden: a check that
# cannot fail fails the test.
#
# Usage: tests/layers/run.sh BUILD_DIR   (e.g. build/release; its analyze/*.o must exist)
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
B=${1:-build/release}
case $B in /*) ;; *) B=$ROOT/$B ;; esac
CC=${CC:-cc}
FAILED=0
pass() { printf 'PASS %s\n' "$1"; }
fail() { FAILED=$((FAILED + 1)); printf 'FAIL %s\n' "$1"; [ $# -gt 1 ] && printf '     %s\n' "${@:2}"; }

WORDS='\b(fork|vfork|clone|clone3|setuid|setgid|seteuid|setegid|setreuid|setregid|setresuid|setresgid|setgroups|setfsuid|setfsgid|capset|cap_set_proc|prctl|SCM_RIGHTS|SYS_capset)\b'
SYMS='^(fork|vfork|clone|clone3|setuid|setgid|seteuid|setegid|setreuid|setregid|setresuid|setresgid|setgroups|setfsuid|setfsgid|capset|cap_set_proc|prctl|sendmsg|recvmsg|syscall)(@.*)?$'

# src_hits FILE...: the forbidden names in the code of FILE (comments removed)
src_hits() {
    local f
    for f in "$@"; do
        "$CC" -fpreprocessed -dD -E -P "$f" 2>/dev/null | grep -nE "$WORDS" | sed "s|^|$f:|"
    done
}
# sym_hits OBJ...: forbidden undefined symbols
sym_hits() { nm -u "$@" 2>/dev/null | awk '{print $NF}' | grep -E "$SYMS" | sort -u; }

T=$(mktemp -d /tmp/pm-layers.XXXXXX)
trap 'rm -rf "$T"' EXIT
cat >"$T/planted.c" <<'C'
/* a comment naming fork() and SCM_RIGHTS must not count */
#include <sys/socket.h>
#include <unistd.h>
int planted(void);
int planted(void) { return fork() + SCM_RIGHTS; }
C
if [ "$(src_hits "$T/planted.c" | wc -l)" = 1 ]; then pass "the source check finds a planted fork() and not the comment"; else
    fail "the source check finds a planted fork() and not the comment" "$(src_hits "$T/planted.c")"; fi
if "$CC" -c -o "$T/planted.o" "$T/planted.c" && [ -n "$(sym_hits "$T/planted.o")" ]; then
    pass "the symbol check finds a planted fork"; else fail "the symbol check finds a planted fork"; fi

HITS=$(src_hits "$ROOT"/analyze/*.c "$ROOT"/analyze/*.h)
if [ -z "$HITS" ]; then pass "analyze/ sources: no fork, setuid/setgid, capset, prctl or SCM_RIGHTS"; else
    fail "analyze/ sources: no fork, setuid/setgid, capset, prctl or SCM_RIGHTS" "$HITS"; fi
OBJS=("$B"/analyze/*.o)
if [ ! -e "${OBJS[0]}" ]; then
    fail "analyze/ objects exist in $B" "build first (make SETUP=0 -j2 portmortem)"
else
    SYMHITS=$(for o in "${OBJS[@]}"; do s=$(sym_hits "$o"); [ -n "$s" ] && echo "$(basename "$o"): $s"; done)
    if [ -z "$SYMHITS" ]; then pass "analyze/ objects: no such libc call (${#OBJS[@]} objects)"; else
        fail "analyze/ objects: no such libc call" "$SYMHITS"; fi
fi
INC=$(grep -lE '#include "(capture|capture_int|probe|probe_int|bundle_helper|priv)\.h"' "$ROOT"/analyze/*.c "$ROOT"/analyze/*.h 2>/dev/null)
if [ -z "$INC" ]; then pass "analyze/ includes no capture/ header"; else fail "analyze/ includes no capture/ header" "$INC"; fi

# ---- 3. no room over MAXLINES lines ----
MAXLINES=1200
ALLOW=$ROOT/tests/layers/long-files.allow
allowed() { grep -v '^[[:space:]]*#' "$ALLOW" 2>/dev/null | awk 'NF {print $1}'; }
# long_files FILE...: "PATH LINES" for each file over the limit
long_files() { wc -l "$@" 2>/dev/null | awk -v m="$MAXLINES" '$2 != "total" && $1 > m {print $2, $1}'; }
seq 1 $((MAXLINES + 1)) | sed 's|^|/* |; s|$| */|' >"$T/long.c"
seq 1 $MAXLINES | sed 's|^|/* |; s|$| */|' >"$T/short.c"
if [ "$(long_files "$T/long.c" "$T/short.c" | awk '{print $1}')" = "$T/long.c" ]; then
    pass "the length check finds a planted $((MAXLINES + 1))-line file and not a $MAXLINES-line one"; else
    fail "the length check finds a planted $((MAXLINES + 1))-line file and not a $MAXLINES-line one"; fi
LONG=$(cd "$ROOT" && long_files main.c analyze/*.c analyze/*.h capture/*.c capture/*.h include/*.h)
OVER=$(printf '%s\n' "$LONG" | awk 'NF' | while read -r f n; do
    allowed | grep -qxF "$f" || echo "$f: $n lines"; done)
if [ -z "$OVER" ]; then pass "no source file over $MAXLINES lines (but those in tests/layers/long-files.allow)"; else
    fail "no source file over $MAXLINES lines: split these into rooms with one job" "$OVER"; fi
STALE=$(allowed | while read -r f; do
    printf '%s\n' "$LONG" | grep -q "^$f " || echo "$f"; done)
if [ -z "$STALE" ]; then pass "tests/layers/long-files.allow names only files still over $MAXLINES lines"; else
    fail "tests/layers/long-files.allow names files that are no longer over $MAXLINES lines (or gone): remove them" "$STALE"; fi

# ---- 4. no call circle main.c <-> capture/ ----
# circle_hits MAIN_OBJ OBJ...: "OBJ: SYMBOL" for each symbol MAIN_OBJ defines that OBJ uses
circle_hits() {
    local main=$1 o defs
    shift
    defs=$(nm --defined-only -g "$main" 2>/dev/null | awk '{print $NF}' | sort -u)
    [ -n "$defs" ] || return 0
    for o in "$@"; do
        nm -u "$o" 2>/dev/null | awk '{print $NF}' | sort -u | comm -12 - <(printf '%s\n' "$defs") |
            sed "s|^|$(basename "$o"): |"
    done
}
cat >"$T/pmain.c" <<'C'
int planted_cli(void);
int planted_cli(void) { return 1; }
C
cat >"$T/pcap.c" <<'C'
int planted_cli(void);
int planted_user(void);
int planted_user(void) { return planted_cli(); }
C
if "$CC" -c -o "$T/pmain.o" "$T/pmain.c" && "$CC" -c -o "$T/pcap.o" "$T/pcap.c" &&
    [ "$(circle_hits "$T/pmain.o" "$T/pcap.o")" = "pcap.o: planted_cli" ] &&
    [ -z "$(circle_hits "$T/pcap.o" "$T/pmain.o")" ]; then
    pass "the circle check finds a planted call back into main"; else
    fail "the circle check finds a planted call back into main"; fi
COBJS=("$B"/capture/*.o)
if [ ! -e "$B/main.o" ] || [ ! -e "${COBJS[0]}" ]; then
    fail "main.o and capture/ objects exist in $B" "build first (make SETUP=0 -j2 portmortem)"
else
    CIRCLE=$(circle_hits "$B/main.o" "${COBJS[@]}")
    if [ -z "$CIRCLE" ]; then pass "capture/ calls nothing of main.c (${#COBJS[@]} objects): no circle"; else
        fail "capture/ calls back into main.c (move what both need to analyze/, e.g. analyze/cliopts.c)" "$CIRCLE"; fi
fi
[ "$FAILED" = 0 ]
