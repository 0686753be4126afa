# shellcheck shell=bash
# tests/golden/lib.sh — shell helpers shared by the golden, robustness and public-capture
# runners (sourced, not run): sanitizer set-up and detection.

# Make a sanitizer finding impossible to mistake for one of portmortem's own exit statuses
# (0..4): ASan, LSan and UBSan all exit 86. Options the caller already set are kept.
san_env() {
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}exitcode=86:detect_leaks=1:allocator_may_return_null=1"
    export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}exitcode=86"
    export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1:halt_on_error=1:exitcode=86"
}

# True when a stderr file holds a sanitizer report (the exit status alone is not enough:
# a report can also come with a status a run may legitimately have).
san_hit() {
    grep -qE 'ERROR: (Address|Leak|Memory|Thread)Sanitizer|runtime error:|UndefinedBehaviorSanitizer|SUMMARY: .*Sanitizer' "$1"
}

# The build variant a binary belongs to (build/asan/portmortem → asan), for log names.
variant_of() {
    local d
    d=$(basename "$(dirname "$1")")
    case $d in release|asan|debug) echo "$d" ;; *) echo "release" ;; esac
}

# Known-failure lists (tests/golden/xfail.txt, tests/robust/xfail.txt): one pattern per line,
# "LABEL-GLOB REST-GLOB  # why", where REST-GLOB is matched against what follows the label
# in a "FAIL <label> <check>: <detail>" line. xfail_load FILE fills XPAT; xfail_match LINE
# prints the first pattern a FAIL line matches (nothing when none does).
xfail_load() {
    mapfile -t XPAT < <(sed -e 's/[[:space:]]*#.*//' -e 's/[[:space:]]*$//' -e '/^[[:space:]]*$/d' "$1")
}
xfail_match() {
    local rest=${1#FAIL } label p lg rg
    label=${rest%% *}
    rest=${rest#* }
    for p in "${XPAT[@]}"; do
        lg=${p%% *}
        rg=${p#* }
        rg=${rg#"${rg%%[![:space:]]*}"}
        # shellcheck disable=SC2053
        if [[ $label == $lg && $rest == $rg ]]; then
            printf '%s\n' "$p"
            return 0
        fi
    done
    return 1
}
