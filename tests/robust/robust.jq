# tests/robust/robust.jq — checks portmortem's reports on captures cut to a shorter snaplen
# against the truth of the uncut capture: a cut may make an attempt undecidable, never
# wrong. Per attempt in the report: the outcome is the truth's or "incomplete", the verdict
# the truth's or "inconclusive" (an attempt may vanish when its SYN became unreadable, but no
# attempt may appear that the packets do not hold); exit status 0, 1 or 4 and consistent
# with the destinations' latest states; the report's own invariants hold. Reads the stream of stream.jq; emits
# "PASS <label>" or one "FAIL <label> <check>: <why>" per problem.
include "invariants";
include "stream";

def tuple: [.src, .dst, .dport, .sport];
def who: "\(.src):\(.sport) > \(.dst):\(.dport)";

def problems($c):
  $c.truth as $T
  | [$c.out[] | select(.type == "attempt")] as $A
  | (if ($c.rc | IN(0, 1, 4)) | not then "exit: status \($c.rc), expected 0, 1 or 4" else empty end),
    (if $c.bad then "report: not valid JSON lines" else empty end),
    (if $c.bad then empty else (summary_violations($c.out) | "summary: \(.)") end),
    (violations($A) | "invariants: \(.)"),
    ( $A[] | . as $a
      | [$T.attempts[] | select(tuple == ($a | tuple))] as $ts
      | if ($ts | length) == 0 then
          "unexpected: attempt \($a | who) \($a.outcome) is not in the capture"
        else
          ([$ts[] | select(.isn == $a.isn)] | if length == 1 then . else $ts end) as $m
          | (if ([$m[].outcome, "incomplete"] | index($a.outcome)) == null then
               "outcome: \($a | who) \($a.outcome), truth \([$m[].outcome] | join("/"))"
             else empty end),
            (if ([$m[].verdict, "inconclusive"] | index($a.verdict)) == null then
               "verdict: \($a | who) \($a.verdict) (\($a.outcome)), truth \([$m[].verdict] | join("/"))"
             else empty end)
        end ),
    # The exit status follows each destination's latest state (docs/VERDICTS.md, "Scope and
    # exit status"): 1 when a destination is failing now, 0 when every failure recovered.
    ( ([$c.out[] | select(.type == "destination" and .state == "failing")] | length > 0)
        as $failing
      | if ($c.rc == 1 and ($failing | not)) or ($c.rc == 0 and $failing) then
          "exit: status \($c.rc) but \(if $failing then "" else "no " end)destination failing"
        else empty end );

captures
| . as $c
| [problems($c)] as $p
| if ($p | length) == 0 then "PASS \($c.lbl)" else $p[] | "FAIL \($c.lbl) \(.)" end
