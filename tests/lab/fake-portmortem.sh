#!/usr/bin/env bash
# tests/lab/fake-portmortem.sh — a stand-in for `portmortem analyze --format jsonl`, used by
# tests/lab/selftest.sh to test tests/lab/run.sh itself while the real engine is unfinished.
#
# It takes the same arguments (analyze --format jsonl --mta-log LOG VANTAGE=PCAP...), reads the
# truth.json next to the first capture and prints the attempts a perfect engine would print.
# FAKE_PM_MODE bends that: perfect (default), wrong-verdict (the first row's verdict is wrong),
# missing (the first row has no attempt), no-culprit (no address but dst anywhere), crash
# (exit 3), garbage (not JSON), wrong-scope (a truth's "scope" gets the wrong exit status and
# destination states). A truth file's inside_window.lines are cited by attempts, its
# outside_window.lines listed in the summary (issue 14).
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
  (.inside_window.lines // []) as $inside
  | (.outside_window.lines // []) as $outside
  | [.expect | to_entries[] | .key as $i | .value as $e
   | select(($mode == "missing" and $i == 0) | not)
   | {type: "attempt", id: ($i + 1), ts: "2026-01-01T00:00:\($i + 10).000000Z",
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
          {mta: {error: $e.key.mta_error, line: $inside[$i],
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
  ][],
  # A truth with a run-level "scope" (lab.sh expect_scope): the destinations and summary too.
  ((.scope.states // {}) | to_entries[]
   | {type: "destination", dst: .key, line: "fake",
      state: (if $mode == "wrong-scope" then "inconclusive" else .value end)}),
  # A truth with log lines inside and outside a capture window (lab/scenarios.d/window.sh): the
  # lines inside carried by attempts of their own (no destination: no expect row counts them),
  # the lines outside listed in the summary, never in an attempt.
  ((.inside_window.lines // [])[]
   | {type: "attempt", id: (1000 + .), dst: null, dport: null, outcome: "incomplete",
      verdict: "inconclusive", owner: "unknown", confidence: "low",
      evidence: ["fake:\(.)"], mta: {line: .}}),
  {type: "summary", schema: 1, correlation: {outside_capture_window: 1}}
  + (if .scope then {scope: .scope.scope, scope_verdict: "fake"} else {} end)
  + (if .outside_window.lines then
       {log_lines: {outside_window: (.outside_window.lines | length),
                    outside_window_lines: [.outside_window.lines[]
                                           | {type: "outside-window", line: .}]}}
     else {} end)' "$dir/truth.json"
# The exit status a truth with a "scope" asks for (0 or 1; both mean "it ran").
if [ "$mode" = wrong-scope ]; then
    exit "$(jq '1 - (.scope.exit // 1)' "$dir/truth.json")"
fi
exit "$(jq '.scope.exit // 0' "$dir/truth.json")"
