# tests/golden/invariants.jq — consistency rules every portmortem JSONL report must obey,
# whatever the input: what an outcome allows as verdict, reason and Zeek state, and that a
# "high" confidence never rests on an outcome the wire did not settle. Shared by the golden,
# robustness and public-capture checks (include "invariants"; jq -L tests/golden).
#
# violations(attempts): one string per broken rule.

def allowed_verdicts:
  {
    "connected": ["ok", "nat-rewrite"],
    "smtp-rejected": ["smtp-policy", "nat-rewrite"],
    "no-banner": ["no-banner", "nat-rewrite"],
    "closed-before-banner": ["no-banner", "nat-rewrite"],
    "refused": ["remote-refused", "path-rst", "local-firewall", "nat-rewrite", "inconclusive"],
    "icmp-unreachable": ["remote-icmp", "path-icmp", "local-firewall", "local-routing",
                         "nat-rewrite", "inconclusive"],
    "ttl-exceeded": ["path-icmp", "local-firewall", "nat-rewrite", "inconclusive"],
    "no-response": ["silent-drop", "provider-block", "nat-drop", "local-firewall",
                    "nat-rewrite", "inconclusive"],
    "not-on-wire": ["local-firewall", "local-routing", "inconclusive"],
    "incomplete": ["inconclusive"],
    "tls-mismatch": ["tls-mismatch", "nat-rewrite"]
  };

# nmap --reason words an outcome can carry (portreasons.cc).
def reason_ok($o; $r):
  if $o == "refused" then $r == "reset"
  elif ($o == "connected" or $o == "smtp-rejected" or $o == "no-banner"
        or $o == "closed-before-banner" or $o == "tls-mismatch") then $r == "syn-ack"
  elif $o == "no-response" then $r == "no-response"
  elif $o == "ttl-exceeded" then $r == "time-exceeded"
  elif $o == "icmp-unreachable" then
    ($r | IN("net-unreach", "host-unreach", "proto-unreach", "port-unreach", "dest-unreach",
             "net-prohibited", "host-prohibited", "admin-prohibited", "no-route",
             "beyond-scope", "reject-route", "source-quench", "param-problem"))
  else true end;

# Zeek conn_state values an outcome can carry (with its SYN on the wire).
def state_ok($o; $s):
  if $s == null then true
  elif $o == "refused" then ($s | IN("REJ", "RSTO", "RSTOS0", "OTH", "RSTR"))
  elif ($o == "icmp-unreachable" or $o == "ttl-exceeded" or $o == "no-response") then
    ($s | IN("S0", "OTH", "RSTOS0", "SH"))
  elif ($o == "connected" or $o == "smtp-rejected" or $o == "tls-mismatch") then
    ($s | IN("SF", "S1", "S2", "S3", "RSTO", "RSTR"))
  elif ($o == "no-banner" or $o == "closed-before-banner") then
    ($s | IN("SF", "S1", "S2", "S3", "RSTO", "RSTR", "SH", "SHR"))
  else true end;

# Zeek's conn_state for a connection whose SYN the capture does not hold (issue 14: joined
# late): both endpoints partial (OTH, SH, SHR, RSTRH, RSTOS0, SF), or the SYN-ACK seen.
def partial_state_ok($s):
  $s == null or ($s | IN("OTH", "SH", "SHR", "RSTRH", "RSTOS0", "SF", "RSTR", "RSTO", "REJ"));

def violations($attempts):
  $attempts[]
  | . as $a
  | "attempt \(.id) \(.dst):\(.dport) sport \(.sport)" as $who
  | ((($a.flags // []) | index("syn-not-captured")) != null) as $partial
  | ((($a.flags // []) | index("midstream")) != null) as $midstream
  | (allowed_verdicts[$a.outcome] // null) as $vs
  | (if $vs == null then "\($who): unknown outcome \($a.outcome)" else empty end),
    (if $vs != null and ($vs | index($a.verdict)) == null
     then "\($who): verdict \($a.verdict) does not fit outcome \($a.outcome)" else empty end),
    (if ($a.confidence == "high") and ($a.outcome == "incomplete" or $a.verdict == "inconclusive")
     then "\($who): confidence high on an undecided attempt (\($a.outcome)/\($a.verdict))"
     else empty end),
    (if ($a.confidence | IN("high", "medium", "low")) | not
     then "\($who): bad confidence \($a.confidence)" else empty end),
    (if $a.outcome != "incomplete" and $a.outcome != "not-on-wire" and ($midstream | not)
        and (reason_ok($a.outcome; $a.reason) | not)
     then "\($who): reason \($a.reason) does not fit outcome \($a.outcome)" else empty end),
    (if $midstream and $a.reason != null
     then "\($who): reason \($a.reason) for a connection joined mid-dialogue (no probe, no answer)" else empty end),
    (if $a.outcome != "incomplete" and ($partial | not) and (state_ok($a.outcome; $a.conn_state) | not)
     then "\($who): conn_state \($a.conn_state) does not fit outcome \($a.outcome)" else empty end),
    (if $midstream and (partial_state_ok($a.conn_state) | not)
     then "\($who): conn_state \($a.conn_state) for a connection joined mid-dialogue" else empty end),
    (if $midstream and $a.confidence == "high" and $a.outcome != "connected"
        and (($a.evidence // []) | map(test("reply to UNKNOWN")) | any)
     then "\($who): high confidence on a refusal of a command the capture does not hold" else empty end),
    (if $a.outcome == "connected" and $a.confidence == "high" and ((($a.flags // []) | index("dialogue-cut")) != null)
     then "\($who): connected ok at high confidence, but the dialogue was cut" else empty end),
    (if $a.outcome == "refused" and $a.rst == null and $a.syns > 0
     then "\($who): refused without a rst object" else empty end),
    (if ($a.outcome == "icmp-unreachable" or $a.outcome == "ttl-exceeded") and $a.icmp == null
     then "\($who): ICMP outcome without an icmp object" else empty end),
    (if $a.verdict == "ok" and $a.owner != "none" then "\($who): verdict ok with owner \($a.owner)"
     else empty end),
    # The verdict must not contradict the evidence the same report gives.
    (if $a.verdict == "local-firewall" and (($a.rst.hops? // 0) > 0) then
       "\($who): contradiction: local-firewall, but the RST came from \($a.rst.hops) hops away (TTL \($a.rst.ttl))"
     else empty end),
    (if $a.verdict == "local-firewall" and $a.icmp != null and (($a.icmp.hop // 1) > 1) then
       "\($who): contradiction: local-firewall, but the ICMP error came from hop \($a.icmp.hop) (\($a.icmp.from))"
     else empty end),
    (if $a.verdict == "remote-icmp" and ($a.icmp.from_is_destination? | not) then
       "\($who): contradiction: remote-icmp, but the ICMP sender is not the destination"
     else empty end),
    (if $a.verdict == "path-icmp" and ($a.icmp.from_is_destination? == true) then
       "\($who): contradiction: path-icmp, but the destination itself sent the ICMP error"
     else empty end),
    (if $a.verdict == "path-icmp" and $a.owner == "recipient-gateway" and $a.icmp.hop? == 1 then
       "\($who): contradiction: blames the recipient's gateway for an ICMP error from hop 1 (\($a.icmp.from), the sender's own gateway)"
     else empty end),
    (if $a.verdict == "remote-refused" and ($a.rst.expected_hops? != null) and ($a.rst.hops < $a.rst.expected_hops) then
       "\($who): contradiction: remote-refused, but the RST came from \($a.rst.hops) hops and the destination is \($a.rst.expected_hops)"
     else empty end),
    (if $a.verdict == "path-rst" and ($a.rst.expected_hops? != null) and ($a.rst.hops >= $a.rst.expected_hops)
        and ((($a.flags // []) | index("answer-race")) == null) then
       "\($who): contradiction: path-rst, but the RST came from as far as the destination (\($a.rst.hops) hops)"
     else empty end);

# Issue 14.6: the destination objects, the summary's scope and the exit status tell one story
# (docs/VERDICTS.md, "Scope and exit status").
def scope_violations($lines; $s):
  [$lines[] | select(.type == "destination")] as $d
  | ([$d[] | select(.state == "failing")] | length) as $failing
  | ([$d[] | select(.state == "recovered")] | length) as $recovered
  | if ([$d[] | select((.state // "") | IN("ok", "recovered", "inconclusive", "failing") | not)]
        | length) > 0 then "a destination without a state word"
    elif $s.destinations.failing != $failing then
      "summary says \($s.destinations.failing) destinations failing, the destination objects \($failing)"
    elif $s.destinations.recovered != $recovered then
      "summary says \($s.destinations.recovered) destinations recovered, the destination objects \($recovered)"
    elif ($s.scope == "none") != ($failing == 0) then
      "scope \($s.scope) with \($failing) destinations failing"
    elif ([$d[] | select((.state == "recovered") != (.recovered_at != null))] | length) > 0 then
      "recovered_at set on a destination that did not recover, or missing on one that did"
    elif ($s.damaged | not) and ($s.flows.destinations_overflow == 0)
         and ($s.exit_status == 0 or $s.exit_status == 1)
         and ($s.exit_status != (if $failing > 0 then 1 else 0 end)) then
      "exit status \($s.exit_status) with \($failing) destinations failing"
    else empty end;

# The summary object: exactly one, last, schema 1, counts that add up.
def summary_violations($lines):
  ([$lines[] | select(.type == "summary")]) as $s
  | ([$lines[] | select(.type == "attempt")] | length) as $n
  | if ($s | length) != 1 then "expected one summary object, found \($s | length)"
    elif ($lines[-1].type != "summary") then "the summary is not the last line"
    elif $s[0].schema != 1 then "summary schema \($s[0].schema), expected 1"
    elif ($s[0].attempts.total != $n) then
      "summary counts \($s[0].attempts.total) attempts, the report has \($n)"
    else scope_violations($lines; $s[0]) end;
