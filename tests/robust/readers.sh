#!/usr/bin/env bash
# tests/robust/readers.sh — `make check-readers`: portmortem's own classic-pcap block reader
# (analyze/capin.c) must read every file exactly as libpcap's pcap_next_ex does. Each classic
# pcap in pcaps/ and in ../shared/pcaps-public (when present), whole and cut short at a few
# byte offsets (inside the file header, inside a record header, inside a record's data), is
# analysed twice: once with the block reader and once with PM_PCAP_READER=libpcap. The JSON
# Lines reports, without the command line and the elapsed time, must be identical: same
# records, timestamps, damage messages, attempts and verdicts.
#
#   tests/robust/readers.sh PORTMORTEM
set -euo pipefail

pm=$1
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
pub=${PM_PUBLIC_DIR:-$root/../shared/pcaps-public}
tmp=$(mktemp -d /tmp/pm-readers.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# Classic pcap magics, either byte order, µs and ns.
is_classic() {
    local m
    m=$(od -An -tx1 -N4 "$1" | tr -d ' \n')
    case $m in a1b2c3d4 | d4c3b2a1 | a1b23c4d | 4d3cb2a1) return 0 ;; esac
    return 1
}

files=()
while IFS= read -r f; do
    is_classic "$f" && files+=("$f")
done < <(find "$root/pcaps" -type f \( -name '*.pcap' -o -name '*.cap' \) | sort)
npub=0
if [ -d "$pub" ]; then
    while IFS= read -r f; do
        if is_classic "$f"; then files+=("$f"); npub=$((npub + 1)); fi
    done < <(find "$pub" -type f | sort)
else
    echo "readers: $pub is absent: the public captures are skipped"
fi

norm() { sed -E 's/"command":\[[^]]*\],?//; s/"elapsed_ms":[0-9.]+//' "$1"; }

compare() { # FILE LABEL
    local f=$1 label=$2 rc1=0 rc2=0
    "$pm" analyze --ports 25,465,587 --format jsonl "$f" > "$tmp/a" 2> "$tmp/a.err" || rc1=$?
    PM_PCAP_READER=libpcap "$pm" analyze --ports 25,465,587 --format jsonl "$f" > "$tmp/b" \
        2> "$tmp/b.err" || rc2=$?
    if [ "$rc1" != "$rc2" ] || ! cmp -s <(norm "$tmp/a") <(norm "$tmp/b"); then
        echo "FAIL $label: the block reader (exit $rc1) and libpcap (exit $rc2) disagree:"
        diff <(norm "$tmp/b" | tr ',' '\n') <(norm "$tmp/a" | tr ',' '\n') | head -10
        return 1
    fi
    if grep -q "Sanitizer\|runtime error" "$tmp/a.err" "$tmp/b.err"; then
        echo "FAIL $label: sanitizer report"; cat "$tmp/a.err"
        return 1
    fi
    return 0
}

fail=0 n=0
for f in "${files[@]}"; do
    label=${f#"$root/"}
    compare "$f" "$label" || fail=$((fail + 1))
    n=$((n + 1))
    size=$(stat -c %s "$f")
    # Inside the file header, inside the first record header or its data, and near the end
    # (wherever those fall, every cut is some kind of damage).
    for cut in 20 45 $((size - 7)); do
        [ "$cut" -gt 0 ] && [ "$cut" -lt "$size" ] || continue
        head -c "$cut" "$f" > "$tmp/cut.pcap"
        compare "$tmp/cut.pcap" "$label cut at $cut bytes" || fail=$((fail + 1))
        n=$((n + 1))
    done
done
echo "check-readers: ${#files[@]} classic pcap files ($npub public), $n readings compared, $fail differ"
[ "$fail" = 0 ]
