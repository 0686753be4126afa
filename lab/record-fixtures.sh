#!/usr/bin/env bash
# lab/record-fixtures.sh [-j N] [NAME...] — re-record the committed lab fixtures (`make lab`).
#
# Runs the scenarios (all, or the NAMEs) with lab/lab.sh, checks each run against its own truth
# file (lab/lab.sh verify: the wire and the MTA log must show what the scenario claims), trims the
# captures to the packets that matter and writes pcaps/lab/<scenario>/:
#   sender.pcap  nat-outside.pcap  [sender-lo.pcap]  maillog|exim-mainlog  truth.json  README.md
# A run that fails or does not verify leaves the fixture it would replace untouched, and the
# script exits 1. Needs root (network namespaces).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEST=${LAB_FIXTURES:-$ROOT/pcaps/lab}
JOBS=4
NAMES=()
while [ $# -gt 0 ]; do
    case $1 in
        -j) JOBS=$2; shift 2 ;;
        -j*) JOBS=${1#-j}; shift ;;
        -h|--help) sed -n '2,10s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) NAMES+=("$1"); shift ;;
    esac
done

# What a fixture keeps: the SMTP connections and everything that can answer them (ICMP/ICMPv6
# errors), plus the DNS lookups and ARP/ND that show addresses, hop counts (TTL of the DNS
# server, which sits beside the MX) and next hops.
# Port 465 too (issue 14: implicit TLS); no older scenario uses it, so their fixtures would
# trim the same.
readonly TRIM='tcp port 25 or tcp port 587 or tcp port 465 or icmp or icmp6 or arp or udp port 53'

WORK=$(mktemp -d "${TMPDIR:-/tmp}/portmortem-lab-record.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

rc=0
"$ROOT/lab/lab.sh" all "$WORK/runs" -j "$JOBS" "${NAMES[@]}" || rc=1

packets() { tcpdump -nr "$1" 2>/dev/null | wc -l; }

record() {  # record RUNDIR: trim, copy and describe one verified run
    local run=$1 name dst f mta_log kept=() trim=$TRIM extra
    name=$(jq -r .scenario "$run/truth.json")
    # A scenario may keep more (TRIM_EXTRA in lab.sh, recorded in run.json): e.g. the MX's
    # traffic on another port, which its hop references come from.
    extra=$(jq -r '.trim_extra // empty' "$run/run.json")
    [ -n "$extra" ] && trim="$TRIM or ($extra)"
    dst=$DEST/$name
    rm -rf "$dst.new"
    mkdir -p "$dst.new"
    for f in sender.pcap nat-outside.pcap sender-lo.pcap; do
        tcpdump -Z root -r "$run/$f" -w "$dst.new/$f" "$trim" 2>/dev/null
        if [ "$f" = sender-lo.pcap ] && [ "$(packets "$dst.new/$f")" = 0 ]; then
            rm -f "$dst.new/$f"  # loopback matters only where a local REJECT answered there
        else
            kept+=("$f")
        fi
    done
    mta_log=$(jq -r .mta_log "$run/truth.json")
    cp "$run/$mta_log" "$dst.new/$mta_log"
    # Drop the loopback capture from the truth file when it was not kept.
    jq --argjson lo "$([ -f "$dst.new/sender-lo.pcap" ] && echo true || echo false)" \
        'if $lo then . else del(.extra_captures) end' "$run/truth.json" >"$dst.new/truth.json"
    write_readme "$run" "$dst.new" "$trim" "${kept[@]}" >"$dst.new/README.md"
    rm -rf "$dst"
    mv "$dst.new" "$dst"
    echo "recorded $name"
}

write_readme() {  # write_readme RUNDIR FIXTUREDIR TRIM FILE...
    local run=$1 fx=$2 trim=$3 f
    shift 3
    local t=$run/truth.json r=$run/run.json
    cat <<EOF
# Lab fixture: $(jq -r .scenario "$t")

$(jq -r .description "$t")

Recorded by \`lab/record-fixtures.sh\` (the \`make lab\` target), which ran
\`lab/lab.sh run $(jq -r .scenario "$t") OUTDIR\` in fresh network namespaces
(prefix \`$(jq -r .namespace_prefix "$r")\`), checked the run with \`lab/lab.sh verify\`, and
trimmed the captures with the tcpdump filter \`$trim\`.

| | |
| --- | --- |
| date (UTC) | $(jq -r .date "$r") |
| kernel | $(jq -r .kernel "$r") |
| MTA | $(jq -r .mta "$t") $(jq -r .mta_version "$r") |
| family | $(jq -r .family "$t") |
| sender sysctls | net.ipv4.tcp_syn_retries=$(jq -r '.sysctl.tcp_syn_retries' "$t"), net.ipv4.tcp_syn_linear_timeouts=$(jq -r '.sysctl.tcp_syn_linear_timeouts' "$t") |
| run time | $(jq -r .seconds "$r") s (setup, delivery attempt, 2 s of capture afterwards) |

Scenario setup (run inside the named host's namespace):
$(jq -r '.scenario_setup | if length == 0 then "- (none: the default topology)" else map("- `" + . + "`") | join("\n") end' "$r")

Expected (truth.json):

| dst | port | outcome | verdict | owner | culprit | key evidence |
| --- | --- | --- | --- | --- | --- | --- |
$(jq -r '.expect[] | "| \(.dst) | \(.dport) | \(.outcome) | \(.verdict) | \(.owner) | \(.culprit // "-") | `\(.key | tojson)` |"' "$t")

Files:
EOF
    for f in "$@"; do echo "- \`$f\`: $(packets "$fx/$f") packets"; done
    echo "- \`$(jq -r .mta_log "$t")\`: the sender MTA's log"
    echo "- \`truth.json\`: the expectations above, for tests/lab/run.sh"
    echo
    echo "Analyse it with:"
    echo
    echo "    ./portmortem analyze --format jsonl --mta-log $(jq -r .mta_log "$t") \\"
    echo "        $(jq -r '[.captures | to_entries[] | "\(.key)=\(.value)"] | join(" ")' "$t")"
}

for run in "$WORK"/runs/*/; do
    run=${run%/}
    if ! { [ -f "$run/truth.json" ] && [ -f "$run/run.json" ]; }; then
        echo "record-fixtures: $(basename "$run") did not complete, fixture not updated" >&2
        rc=1
        continue
    fi
    if "$ROOT/lab/lab.sh" verify "$run" >"$run/verify.out" 2>&1; then
        record "$run"
    else
        grep -v '^PASS' "$run/verify.out" >&2 || true
        echo "record-fixtures: $(basename "$run") does not verify, fixture not updated" >&2
        rc=1
    fi
done

# An index of the fixture set.
{
    echo "# Lab fixtures"
    echo
    echo "Recorded by \`lab/record-fixtures.sh\` (\`make lab\`) from the scenarios in lab/scenarios.sh;"
    echo "see lab/README.md for the topology and each fixture's README.md for how it was made."
    echo "\`tests/lab/run.sh\` checks portmortem's verdicts against each \`truth.json\`."
    echo
    echo "| fixture | MTA | family | expectations (dst:port outcome / verdict / owner) |"
    echo "| --- | --- | --- | --- |"
    for t in "$DEST"/*/truth.json; do
        jq -r '"| [\(.scenario)](\(.scenario)/README.md) | \(.mta) | \(.family) | " +
            ([.expect[] | "\(.dst):\(.dport) \(.outcome) / \(.verdict) / \(.owner)"] | join("<br>")) + " |"' "$t"
    done
} >"$DEST/README.md"

echo "fixtures in $DEST: $(du -sh "$DEST" | cut -f1)"
exit "$rc"
