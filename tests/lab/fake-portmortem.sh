#!/usr/bin/env bash
# tests/lab/fake-portmortem.sh — a stand-in for `portmortem analyze --format jsonl`, used by
# tests/lab/selftest.sh to test tests/lab/run.sh itself while the real engine is unfinished.
#
# It takes the same arguments (analyze --format jsonl --mta-log LOG VANTAGE=PCAP...), reads the
# truth.json next to the first capture and prints the attempts a perfect engine would print.
# FAKE_PM_MODE bends that: perfect (default), wrong-verdict (the first row's verdict is wrong),
# missing (the first row has no attempt), no-culprit (no address but dst anywhere), crash
# (exit 3), garbage (not JSON).
set -euo pipefail

[ "${1:-}" = analyze ] || { echo "fake-portmortem: only 'analyze' is faked" >&2; exit 2; }
shift
dir=""
ncaps=0
while [ $# -gt 0 ]; do
    case $1 in
        --format|--mta-log|--since|--until|--ports|--expect-source) shift 2 ;;
        *=*) [ -n "$dir" ] || dir=$(dirname "${1#*=}"); ncaps=$((ncaps + 1)); shift ;;
        *) echo "fake-portmortem: unexpected argument $1" >&2; exit 2 ;;
    esac
done
[ -f "$dir/truth.json" ] || { echo "fake-portmortem: no truth.json in $dir" >&2; exit 3; }

mode=${FAKE_PM_MODE:-perfect}
case $mode in
    crash) echo "fake-portmortem: simulated crash" >&2; exit 3 ;;
    garbage) echo "this is not json {"; exit 0 ;;
esac

jq -c --arg mode "$mode" --argjson ncaps "$ncaps" '
  [.expect | to_entries[] | .key as $i | .value as $e
   | select(($mode == "missing" and $i == 0) | not)
   | {type: "attempt", id: ($i + 1), ts: "2026-01-01T00:00:00.000000Z",
      family: (if ($e.dst | contains(":")) then "ipv6" else "ipv4" end),
      src: (if $mode == "no-culprit" then null else "192.0.2.10" end),
      sport: 40000, dst: $e.dst, dport: $e.dport, vantage: $e.vantage, syns: 1,
      outcome: $e.outcome,
      verdict: (if $mode == "wrong-verdict" and $i == 0 then "inconclusive"
                # one capture point cannot show a NAT: a perfect engine says less
                elif $ncaps < 2 and ($e.verdict | startswith("nat-")) then "silent-drop"
                else $e.verdict end),
      owner: $e.owner, confidence: ($e.key.confidence // "high"),
      evidence: (if $mode == "no-culprit" or $e.culprit == null then ["fake#1"]
                 else ["fake#1 from \($e.culprit)"] end)}
     + (if $e.key.icmp_type != null then
          {icmp: {type: $e.key.icmp_type, code: $e.key.icmp_code,
                  from: (if $mode == "no-culprit" then null else $e.culprit end)}} else {} end)
     + (if $e.key.banner_code != null then {banner: {code: $e.key.banner_code, text: "fake"}} else {} end)
     + (if $e.key.mta_error != null then
          {mta: {error: $e.key.mta_error,
                 kind: (if $e.key.mta_error == "status=sent" or $e.key.mta_error == "=>"
                        then "delivered" else "connect-fail" end)}} else {} end)
     + (if $e.key.rst_ttl != null or $e.key.dst_ttl != null then
          {rst: {ttl: $e.key.rst_ttl,
                 expected_hops: (if $e.key.dst_ttl == null then null else 64 - $e.key.dst_ttl end)}}
        else {} end)
     + (if $e.key.icmp_delay_s != null then
          {icmp: {type: $e.key.icmp_type, code: $e.key.icmp_code, from: $e.culprit,
                  delay_ms: ($e.key.icmp_delay_s * 1000)}} else {} end)
     + (if $e.key.public_src != null then {translation: {outside_src: $e.key.public_src}} else {} end)
  ][], {type: "summary", schema: 1, correlation: {outside_capture_window: 1}}' "$dir/truth.json"
