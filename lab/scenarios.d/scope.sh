# lab/scenarios.d/scope.sh — scenarios whose destinations change state during the run (issue
# 14.6): a destination's state follows its latest attempts, so one that failed and then
# worked has recovered (exit 0), one that worked and then failed is failing (exit 1).
# Sourced by lab/scenarios.sh. Each uses lab.sh's `later` knob: after the first messages
# reached a final status, the `later` commands run (a firewall rule removed or added, a queue
# flush) and the `send_later` messages go out. `expect ... NTH` rows are about the NTH attempt
# to a destination and port; `expect_scope` is what the summary and the destination objects
# must say.
# shellcheck shell=bash
# shellcheck disable=SC2034  # LATER_FINALS is read by lab.sh

SCENARIOS+=(scope-recovered scope-fails-later scope-retry-recovers)

scn_scope_recovered() {
    describe ipv4 "mx1 resets port 25 (mx2 delivers); the rule is removed and a second message goes to mx1: mx1 failed, then worked"
    recipient user@example.net
    send_later user@example.net
    setup mx1 iptables -w -A INPUT -p tcp --dport 25 -j REJECT --reject-with tcp-reset
    later mx1 iptables -w -D INPUT -p tcp --dport 25 -j REJECT --reject-with tcp-reset
    expect "$MX14" 25 refused remote-refused recipient-postmaster "$MX14" '{"mta_error":"Connection refused","rst_ttl":61}' sender 1
    expect "$MX14" 25 connected ok none - '{"banner_code":220}' sender 2
    mx2_delivers
    expect_scope none 0 "$MX14=recovered" "$MX24=ok"
}

scn_scope_fails_later() {
    describe ipv4 "a message to mx1 is delivered; then mx1 resets port 25 and a second message goes to mx2: mx1 worked, then failed (pcaps/bundle/retry-works, live)"
    recipient user@example.net
    send_later user@example.net
    later mx1 iptables -w -A INPUT -p tcp --dport 25 -j REJECT --reject-with tcp-reset
    expect "$MX14" 25 connected ok none - '{"banner_code":220}' sender 1
    expect "$MX14" 25 refused remote-refused recipient-postmaster "$MX14" '{"mta_error":"Connection refused","rst_ttl":61}' sender 2
    mx2_delivers
    expect_scope one-destination 1 "$MX14=failing" "$MX24=ok"
}

scn_scope_retry_recovers() {
    describe ipv4 "submit.example goes to [mx1]:587 only; mx1 resets 587, the message is deferred; the rule is removed and postqueue -f makes Postfix retry: delivered"
    recipient user@submit.example
    setup mx1 iptables -w -A INPUT -p tcp --dport 587 -j REJECT --reject-with tcp-reset
    later mx1 iptables -w -D INPUT -p tcp --dport 587 -j REJECT --reject-with tcp-reset
    later sender postqueue -c "${STATE:-}/pf-sender/etc" -f
    LATER_FINALS=2 # status=deferred, then status=sent for the same message
    expect "$MX14" 587 refused remote-refused recipient-postmaster "$MX14" '{"mta_error":"Connection refused","rst_ttl":61}' sender 1
    expect "$MX14" 587 connected ok none - '{"banner_code":220,"mta_error":"status=sent"}' sender 2
    expect_scope none 0 "$MX14=recovered"
}
