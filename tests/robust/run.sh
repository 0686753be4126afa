#!/usr/bin/env bash
# tests/robust/run.sh — `make check-robust`: every golden capture (pcaps/gen/) rewritten with
# shorter caplens by pcapcut and analysed by portmortem: no crash, no sanitizer report, exit
# status 0, 1 or 4, and no wrong outcome (robust.jq: each attempt keeps the truth's outcome
# and verdict or becomes incomplete / inconclusive).
#
#   tests/robust/run.sh PORTMORTEM PCAPCUT
#
# Which caplens: each case's first variant (Ethernet where it has one) densely — every
# ROBUST_STEP-th byte up to 200, then every ROBUST_TAIL bytes — and its other link-layer
# variants sparsely (every ROBUST_OTHER bytes up to 200, then every ROBUST_OTHER_TAIL). The
# start of each run of cut points rotates with the file name, so that across the suite every
# offset of every packet type gets cut. Defaults keep make check quick: release 4/32/25/200,
# asan 10/80/80/400. ROBUST_FULL=1 cuts every capture at every length (slow: a one-off sweep).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=../golden/lib.sh
. "$root/tests/golden/lib.sh"

# Worker: --one PORTMORTEM RESDIR [CUTFILE TRUTH PORTS]...
if [ "${1:-}" = --one ]; then
    pm=$2 res=$3
    shift 3
    set +e
    while [ $# -ge 3 ]; do
        cut=$1 t=$2 ports=$3
        shift 3
        label=$(basename "$cut")
        label=${label%.*}                 # case.variant.N
        label="${label%.*}@${label##*.}"  # case.variant@N
        for _ in 1 2; do
            # Small tables: these captures hold a handful of flows, and a 1M-entry flow
            # table costs more start-up time (under ASan) than the analysis itself.
            "$pm" analyze --format jsonl --no-progress --max-flows 4096 --max-sessions 64 \
                --ports "$ports" "$cut" > "$res/$label.out" 2> "$res/$label.err"
            rc=$?
            [ $rc -eq 126 ] || [ $rc -eq 127 ] || break
            sleep 1
        done
        if san_hit "$res/$label.err"; then
            grep -m1 -E 'Sanitizer|runtime error' "$res/$label.err" > "$res/$label.san"
        fi
        {
            printf '{"_cap":"%s","_rc":%d}\n' "$label" "$rc"
            tr '\n' ' ' < "$t"
            echo
            cat "$res/$label.out"
            echo '{"_end":true}'
        } > "$res/$label.stream"
        rm -f "$res/$label.out" "$cut"
    done
    exit 0
fi

[ $# -eq 2 ] || { echo "usage: $0 PORTMORTEM PCAPCUT" >&2; exit 2; }
pm=$1 pcapcut=$2
command -v jq > /dev/null || { echo "check-robust: jq is required" >&2; exit 2; }
san_env
variant=$(variant_of "$pm")
if [ "$variant" = asan ]; then
    step=${ROBUST_STEP:-10} tail=${ROBUST_TAIL:-80} other=${ROBUST_OTHER:-80} otail=${ROBUST_OTHER_TAIL:-400}
else
    step=${ROBUST_STEP:-4} tail=${ROBUST_TAIL:-32} other=${ROBUST_OTHER:-25} otail=${ROBUST_OTHER_TAIL:-200}
fi
if [ "${ROBUST_FULL:-}" = 1 ]; then
    step=1 tail=1 other=1 otail=1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pm-robust.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/cut" "$tmp/res" "$root/tests/out"
log="$root/tests/out/robust-$variant.log"
start=$(date +%s)

# Cut points for one capture: every $1-th length from a rotating start up to 200, then every
# $2-th up to the longest record (exclusive). $3: the longest record; $4: rotation; $5: the
# smallest legal length (pcapng: 1).
points() {
    local s=$1 t=$2 max=$3 rot=$4 lo=$5 n
    n=$((lo + rot % s))
    while [ $n -lt "$max" ] && [ $n -le 200 ]; do
        echo $n
        n=$((n + s))
    done
    n=$((200 + 1 + rot % t))
    while [ $n -lt "$max" ]; do
        echo $n
        n=$((n + t))
    done
}

jq -r '"\(input_filename) \(.ports | join(","))"' "$root"/pcaps/gen/*.truth.json > "$tmp/truths"
declare -A primary=()
: > "$tmp/jobs"
ncut=0 ncap=0
while read -r t ports; do
    base=${t%.truth.json}
    label=$(basename "$base")
    case_=${label%.*}
    cap=$base.pcap
    [ -f "$cap" ] || cap=$base.pcapng
    lo=0
    [ "${cap##*.}" = pcapng ] && lo=1
    max=$("$pcapcut" info "$cap" | awk '{print $2}')
    rot=$(printf '%s' "$label" | cksum | awk '{print $1}')
    # The first variant listed for a case (Ethernet where there is one) is its primary.
    if [ -z "${primary[$case_]:-}" ]; then
        if [ -f "$root/pcaps/gen/$case_.eth.truth.json" ]; then
            primary[$case_]=$case_.eth
        else
            primary[$case_]=$label
        fi
    fi
    if [ "${primary[$case_]}" = "$label" ]; then
        mapfile -t ns < <(points "$step" "$tail" "$max" "$rot" "$lo")
    else
        mapfile -t ns < <(points "$other" "$otail" "$max" "$rot" "$lo")
    fi
    [ ${#ns[@]} -gt 0 ] || continue
    "$pcapcut" cut "$cap" "$tmp/cut/$label" "${ns[@]}"
    for n in "${ns[@]}"; do
        echo "$tmp/cut/$label.$n.${cap##*.} $t $ports" >> "$tmp/jobs"
    done
    ncut=$((ncut + ${#ns[@]}))
    ncap=$((ncap + 1))
done < "$tmp/truths"

# Two portmortem runs at a time; then one jq run checks every report.
xargs -P2 -n48 "$0" --one "$pm" "$tmp/res" < "$tmp/jobs"
: > "$tmp/results"
while read -r cut _ _; do
    label=$(basename "$cut")
    label=${label%.*}
    label="${label%.*}@${label##*.}"
    [ -s "$tmp/res/$label.stream" ] || echo "FAIL $label harness: no result (the runner itself failed)" >> "$tmp/results"
    [ ! -s "$tmp/res/$label.san" ] || echo "FAIL $label sanitizer: $(cat "$tmp/res/$label.san")" >> "$tmp/results"
done < "$tmp/jobs"
find "$tmp/res" -name '*.stream' -print0 | sort -z | xargs -0 cat |
    jq -n -R -r -L "$root/tests/golden" -L "$here" -f "$here/robust.jq" >> "$tmp/results" ||
    echo "FAIL harness robust.jq: jq failed" >> "$tmp/results"
cp "$tmp/results" "$log"

xfail_load "$here/xfail.txt"
declare -A xused=()
npass=0 nfail=0 nxfail=0
while IFS= read -r line; do
    case $line in
        PASS*) npass=$((npass + 1)) ;;
        FAIL*)
            rest=${line#FAIL }
            hit=$(xfail_match "$line" || true)
            if [ -n "$hit" ]; then
                xused[$hit]=1
                nxfail=$((nxfail + 1))
                echo "XFAIL $rest"
            else
                nfail=$((nfail + 1))
                echo "$line"
            fi
            ;;
    esac
done < "$tmp/results"
for p in "${XPAT[@]}"; do
    [ -n "${xused[$p]:-}" ] ||
        echo "XPASS? '$p' matched nothing in this sample of caplens (ROBUST_FULL=1 tries them all)"
done
echo "check-robust: $ncap captures cut at $ncut caplens (step $step/$tail, others $other/$otail): $npass clean, $nfail failures, $nxfail known (XFAIL), $(( $(date +%s) - start )) s; details in ${log#"$root"/}"
if [ "$nxfail" -gt 0 ]; then
    echo "check-robust: !!! $nxfail findings are known portmortem bugs (tests/robust/xfail.txt) !!!"
fi
[ "$nfail" = 0 ]
