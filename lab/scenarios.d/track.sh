# lab/scenarios.d/track.sh — scenarios for issue 14 ("verdicts that stay right at the edges of
# the evidence"), sourced by lab/scenarios.sh after the main table. Same declarative lines as
# there (describe, recipient, setup, expect; knobs PF_EXTRA_<role>, MX_PORTS_<role>, MTA).
# shellcheck shell=bash
# shellcheck disable=SC2034  # the knobs set here are read by lab.sh
#
#   rcpt-553                  mx1 refuses RCPT with 553: the recorded dialogue that
#                             tests/robust/cut.sh cuts at every packet (item 5: captures that
#                             started late or stopped early) and halves to its outbound part
#                             (item 5: one-direction captures)
#   exim-rcpt-553             the same with Exim as the sender
#   tls-wrapper-plaintext-465 Postfix's smtp client in wrapper mode (implicit TLS, RFC 8314)
#                             towards mx1's plaintext smtpd on 465 (item 7)
#
# Item 4 (one attempt per SYN retry series after an ICMP error) has no lab scenario: Linux,
# the lab's only client stack, ends a connect at the first ICMP unreachable in SYN-SENT
# (tcp_v4_err) and never retries the SYN after it; the Windows schedule (3 s, then 6 s) is
# the generator's scenario syn-retry-icmp (tests/golden/cases.txt).

SCENARIOS+=(rcpt-553 exim-rcpt-553 tls-wrapper-plaintext-465)

# mx1 answers RCPT with 553 from an access table (static: every recipient) (a permanent refusal: Postfix and Exim bounce
# and do not try mx2).
rcpt553_mx1() {
    PF_EXTRA_mx1=$'smtpd_recipient_restrictions = check_recipient_access static:{553 5.7.1 Recipient address rejected: not accepted here}'
}

scn_rcpt_553() {
    describe ipv4 "mx1 greets, then refuses RCPT with 553 (an access table); the message bounces"
    rcpt553_mx1
    recipient user@example.net
    expect "$MX14" 25 smtp-rejected smtp-policy recipient-postmaster "$MX14" '{"banner_code":220,"reply_code":553,"mta_error":"553 5.7.1"}'
}

scn_exim_rcpt_553() {
    MTA=exim
    describe ipv4 "Exim sender; mx1 greets, then refuses RCPT with 553; the message bounces"
    rcpt553_mx1
    recipient user@example.net
    expect "$MX14" 25 smtp-rejected smtp-policy recipient-postmaster "$MX14" '{"banner_code":220,"reply_code":553,"mta_error":"553 5.7.1"}'
}

scn_tls_wrapper_plaintext_465() {
    describe ipv4 "the sender speaks implicit TLS (smtp_tls_wrappermode) to mx1:465, where smtpd greets in plaintext"
    MX_PORTS_mx1="25 587 465"
    LAB_PORTS="25 465 587"
    PF_EXTRA_sender=$'transport_maps = inline:{submit.example=smtp:[mx1.example.net]:465}\nsmtp_tls_wrappermode = yes\nsmtp_tls_security_level = encrypt'
    recipient user@submit.example
    # No mta_error key: Postfix logs the deferral as "Cannot start TLS: handshake failure",
    # which the MTA log parser does not tie to a connection attempt yet.
    expect "$MX14" 465 tls-mismatch tls-mismatch recipient-postmaster "$MX14" '{"banner_code":220}'
}
