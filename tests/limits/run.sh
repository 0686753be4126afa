#!/usr/bin/env bash
# tests/limits/run.sh — `make check-limits`: no silent degradation (issue 15). Each bounded
# table that an option can force small is forced small on a generated capture, and the run
# must say so in every place a user looks:
#   - standard error names the table at once ("the TABLE table is full") and the option;
#   - the JSON summary's limits.tables.TABLE has lost > 0 and limits.partial is true;
#   - the attempts it touched carry the flag (evicted, smtp-not-recorded, table-full);
#   - the text report has a "Limit: the TABLE table was full" line;
#   - the exit status is 4 (results partial).
# The same captures at default settings are the control: nothing full, exit 0/1, outcome
# counts equal to the generator's truth.
#
# usage: run.sh PORTMORTEM PMGEN
set -u
pm=$1 gen=$2
command -v jq > /dev/null || { echo "check-limits: jq is required" >&2; exit 2; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pm-limits.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fails=0 checks=0
ok() { checks=$((checks + 1)); }
bad() { checks=$((checks + 1)); fails=$((fails + 1)); echo "check-limits: FAIL: $*"; }

# Captures: a storm over many destinations, and a mix whose attempts mostly connect.
"$gen" mix --storm --packets 30000 --seed 3 -o "$tmp/storm.pcap" --truth "$tmp/storm.truth.json" || exit 2
"$gen" mix --packets 60000 --smtp-ratio 0.9 --concurrency 2048 --seed 3 -o "$tmp/mix.pcap" \
    --truth "$tmp/mix.truth.json" || exit 2
# An MTA log of many connect failures (Postfix), for the log-entry table.
awk 'BEGIN { for (i = 0; i < 40000; i++)
    printf "Nov 28 18:32:%02d sender postfix/smtp[%d]: connect to mx%d.example[192.0.2.%d]:25: Connection refused\n",
        i % 60, 1000 + i, i, i % 250 + 1 }' > "$tmp/big.log"

# run NAME TABLE FLAG EXPECT_LOST... -- ARGS: one forced run and its checks.
#   TABLE: the summary key; FLAG: the attempt flag to find ("" when the table has none).
forced() {
    local name=$1 table=$2 flag=$3
    shift 3
    local out="$tmp/$name.jsonl" err="$tmp/$name.err" rc
    "$@" > "$out" 2> "$err"
    rc=$?
    [ $rc -eq 4 ] && ok || bad "$name: exit status $rc, want 4 (results partial)"
    grep -q "the $table table is full" "$err" && ok ||
        bad "$name: standard error does not name the full $table table: $(head -c 300 "$err")"
    [ "$(grep -c "the $table table is full" "$err")" -eq 1 ] && ok ||
        bad "$name: the $table warning is not said exactly once"
    grep -q "hint: raise the bound: ." "$err" && ok || bad "$name: no hint naming the remedy"
    local s
    s=$(tail -n 1 "$out")
    [ "$(jq -r .type <<< "$s")" = summary ] || { bad "$name: no summary line"; return; }
    [ "$(jq ".limits.tables.$table.lost > 0" <<< "$s")" = true ] && ok ||
        bad "$name: summary limits.tables.$table.lost is not > 0: $(jq -c .limits.tables.$table <<< "$s")"
    [ "$(jq .limits.partial <<< "$s")" = true ] && ok || bad "$name: limits.partial is not true"
    [ "$(jq -r ".limits.tables.$table.option" <<< "$s")" != null ] && ok ||
        bad "$name: limits.tables.$table names no option"
    [ "$(jq .exit_status <<< "$s")" = 4 ] && ok || bad "$name: summary exit_status is not 4"
    if [ -n "$flag" ]; then
        [ "$(jq -s "[.[] | select(.type == \"attempt\" and (.flags | index(\"$flag\")))] | length > 0" "$out")" = true ] &&
            ok || bad "$name: no attempt carries the flag $flag"
    fi
    # The text report says it too.
    local args=("$@")
    local i
    for i in "${!args[@]}"; do
        [ "${args[$i]}" = jsonl ] && args[$i]=text
    done
    "${args[@]}" 2> /dev/null | grep -q "Limit: the $table table was full" && ok ||
        bad "$name: the text report has no 'Limit: the $table table was full' line"
    echo "check-limits: $name: $table full, $(jq .limits.tables.$table.lost <<< "$s") lost, exit 4, said on stderr, in the summary${flag:+, flag $flag}"
}

A=("$pm" analyze --format jsonl --no-progress)
forced flows flows evicted "${A[@]}" --max-flows 64 "$tmp/storm.pcap"
forced sessions smtp_sessions smtp-not-recorded "${A[@]}" --max-sessions 2 "$tmp/mix.pcap"
forced dests destinations table-full "${A[@]}" --max-dests 16 "$tmp/storm.pcap"
forced memory-flows flows evicted "${A[@]}" --max-memory 1M "$tmp/storm.pcap"
forced memory-sessions smtp_sessions smtp-not-recorded "${A[@]}" --max-memory 2M "$tmp/mix.pcap"
forced memory-logs mta_log_entries "" "${A[@]}" --max-memory 1M --mta-log "$tmp/big.log" \
    "$tmp/mix.pcap"
# Two vantage points that saw the same SYNs: every attempt is linked to its far view.
forced memory-links vantage_links table-full "${A[@]}" --max-memory 2M --max-flows 2000 \
    inside="$tmp/storm.pcap" outside="$tmp/storm.pcap"
# The spool of finished attempts: a file size limit (256 KiB) makes the temporary file fail
# to grow. The report goes through a pipe, which the limit does not cut.
forced spool spool "" bash -c 'set -o pipefail; (ulimit -f 256; exec "$@") | cat' sh \
    "${A[@]}" "$tmp/storm.pcap"

# Controls: the same inputs at default settings lose nothing and match the truth.
for c in storm mix; do
    "${A[@]}" "$tmp/$c.pcap" > "$tmp/$c.default.jsonl" 2> "$tmp/$c.default.err"
    rc=$?
    [ $rc -eq 0 ] || [ $rc -eq 1 ] && ok || bad "default $c: exit status $rc"
    ! grep -q "table is full" "$tmp/$c.default.err" && ok || bad "default $c: a table filled"
    s=$(tail -n 1 "$tmp/$c.default.jsonl")
    [ "$(jq .limits.partial <<< "$s")" = false ] && ok || bad "default $c: limits.partial"
    got=$(jq -c '.attempts.outcomes | with_entries(select(.value > 0))' <<< "$s")
    want=$(jq -c '.outcomes | with_entries(select(.value > 0))' "$tmp/$c.truth.json")
    [ "$got" = "$want" ] && ok || bad "default $c: outcomes $got, truth $want"
done

echo "check-limits: $checks checks, $fails failed"
[ $fails -eq 0 ]
