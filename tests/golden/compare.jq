# tests/golden/compare.jq — golden captures' portmortem reports against their pmgen truth,
# field by field. Reads the stream stream.jq describes (all captures in one jq run: jq's
# start-up, not portmortem, would otherwise dominate check-golden) and emits one line per
# check: "PASS <label> <check>" or "FAIL <label> <check>: expected <x>, got <y>".
#
#   cat *.stream | jq -n -R -r -L tests/golden -f tests/golden/compare.jq
include "invariants";
include "stream";

def show: if type == "string" then . else tojson end;
def tuple: [.src, .dst, .dport, .sport];

def compare($lbl; $rc; $T; $out):
  def check($name; $want; $got):
    if $want == $got then "PASS \($lbl) \($name)"
    else "FAIL \($lbl) \($name): expected \($want | show), got \($got | show)" end;
  [$out[] | select(.type == "attempt")] as $A
  | (
    check("exit"; $T.exit; $rc),
    ([summary_violations($out)] | if length == 0 then "PASS \($lbl) summary"
                                  else .[] | "FAIL \($lbl) summary: \(.)" end),
    check("attempts"; ($T.attempts | length); ($A | length)),
    # no attempt the packets do not contain
    ($A[] | select(tuple as $t | [$T.attempts[] | tuple] | index([$t]) | not)
          | "FAIL \($lbl) unexpected: attempt \(.src):\(.sport) > \(.dst):\(.dport) \(.outcome)"),
    ([violations($A)] | if length == 0 then "PASS \($lbl) invariants"
                        else .[] | "FAIL \($lbl) invariants: \(.)" end),
    ( $T.attempts | to_entries[] | .key as $i | .value as $t | "a\($i + 1)" as $k
      | ([$A[] | select(tuple == ($t | tuple))]) as $cand
      | ([$cand[] | select(.isn == $t.isn)]) as $exact
      | (if ($exact | length) == 1 then $exact[0]
         elif ($cand | length) == 1 then $cand[0] else null end) as $a
      | if $a == null then
          "FAIL \($lbl) \($k).found: expected an attempt \($t.src):\($t.sport) > \($t.dst):\($t.dport) isn \($t.isn), found \($cand | length)"
        else
          check("\($k).outcome"; $t.outcome; $a.outcome),
          check("\($k).verdict"; $t.verdict; $a.verdict),
          check("\($k).owner"; $t.owner; $a.owner),
          check("\($k).syns"; $t.syns; $a.syns),
          (if $t | has("conn_state") then check("\($k).conn_state"; $t.conn_state; $a.conn_state) else empty end),
          (if $t | has("reason") then check("\($k).reason"; $t.reason; $a.reason) else empty end),
          (if $t | has("banner_code") then check("\($k).banner_code"; $t.banner_code; $a.banner.code?) else empty end),
          (if $t | has("reply_code") then
             check("\($k).reply"; "\($t.reply_command) \($t.reply_code)";
                   ([$a.smtp[]? | select(.command == $t.reply_command and .code == $t.reply_code)]
                    | if length > 0 then "\($t.reply_command) \($t.reply_code)"
                      else ([$a.smtp[]? | "\(.command) \(.code)"] | join(", ")) end))
           else empty end),
          (if $t | has("icmp_from") then
             check("\($k).icmp"; "\($t.icmp_type)/\($t.icmp_code) from \($t.icmp_from)";
                   if $a.icmp == null then null
                   else "\($a.icmp.type)/\($a.icmp.code) from \($a.icmp.from)" end)
           else empty end),
          (if $t | has("rst_hops") then check("\($k).rst_hops"; $t.rst_hops; $a.rst.hops?) else empty end),
          (if $t | has("rst_expected_hops") then
             check("\($k).rst_expected_hops"; $t.rst_expected_hops; $a.rst.expected_hops?) else empty end),
          (if $t | has("masked") then check("\($k).masked"; $t.masked; $a.masked) else empty end),
          (if $t | has("confidence") then check("\($k).confidence"; $t.confidence; $a.confidence) else empty end)
        end )
  );

captures
| if .bad then "FAIL \(.lbl) report: not valid JSON lines (exit \(.rc))"
  else compare(.lbl; .rc; .truth; .out) end
