#!/usr/bin/env bash
# tests/layers/run.sh — keeps the privileged code where docs/ARCHITECTURE.md says it is
# (issue 17.4): analyze/ is the privilege-free core, so none of its sources may fork, change
# credentials or capabilities, call prctl, or pass descriptors (SCM_RIGHTS); that lives in
# capture/ (capture/bundle_helper.c, capture/priv.c). Checked twice:
#   1. the sources, comments stripped by the preprocessor (gcc -fpreprocessed), for the
#      names of those calls and SCM_RIGHTS;
#   2. the compiled objects (nm -u), for the libc symbols, so a call hidden behind a macro
#      is caught too.
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
[ "$FAILED" = 0 ]
