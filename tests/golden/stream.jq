# tests/golden/stream.jq — reads the capture stream the golden and robustness runners build,
# so that one jq process checks every capture. Per capture, one JSON value per line:
#
#   {"_cap": LABEL, "_rc": EXIT_STATUS}   header
#   TRUTH                                 the pmgen truth object, on one line
#   REPORT LINE ...                       portmortem's JSONL output, as written
#   {"_end": true}                        trailer
#
# Read with jq -n -R: a report line that is not JSON (a crash mid-write) marks the capture
# bad instead of aborting the whole run.
#
# captures: one {lbl, rc, truth, out, bad} per capture.
def captures:
  foreach (inputs | . as $raw | (fromjson? // {"_bad": $raw})) as $x (
    {cur: null, emit: null};
    if ($x | type) == "object" and ($x | has("_cap")) then
      {cur: {lbl: $x._cap, rc: $x._rc, truth: null, out: [], bad: false}, emit: null}
    elif ($x | type) == "object" and ($x | has("_end")) then
      {cur: null, emit: .cur}
    elif .cur == null then .emit = null
    elif .cur.truth == null then .cur.truth = $x | .emit = null
    elif ($x | type) == "object" and ($x | has("_bad")) then .cur.bad = true | .emit = null
    else .cur.out += [$x] | .emit = null end;
    .emit // empty);
