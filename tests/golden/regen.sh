#!/usr/bin/env bash
# tests/golden/regen.sh — (re)generate the golden captures listed in tests/golden/cases.txt
# with pmgen, and pcaps/gen/README.md listing the exact command behind every file.
#
#   tests/golden/regen.sh [-p PMGEN] [-o OUTDIR]
#
# Defaults: PMGEN=build/release/tests/gen/pmgen (make pmgen builds it), OUTDIR=pcaps/gen.
# `make check-golden` runs this into a temporary directory and requires byte-identical
# output, so the generator and the committed fixtures cannot drift apart.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
pmgen="$root/build/release/tests/gen/pmgen"
out="$root/pcaps/gen"
while getopts "p:o:" opt; do
    case $opt in
        p) pmgen=$OPTARG ;;
        o) out=$OPTARG ;;
        *) echo "usage: $0 [-p PMGEN] [-o OUTDIR]" >&2; exit 2 ;;
    esac
done
[ -x "$pmgen" ] || { echo "regen: $pmgen not built (make pmgen)" >&2; exit 2; }
mkdir -p "$out"

# variant → "pmgen link/format options|file extension"
variant() {
    local v=$1 fam=$2
    case $v in
        eth)     echo "--linktype ethernet --format pcap|pcap" ;;
        sll2ns)  echo "--linktype sll2 --format pcap-ns|pcap" ;;
        ngmix)   echo "--linktype mixed --format pcapng|pcapng" ;;
        rawbe)   echo "--linktype raw --format pcap-be|pcap" ;;
        vlan3)   echo "--linktype vlan3 --format pcap-ns-be|pcap" ;;
        nflog)   echo "--linktype nflog --format pcap|pcap" ;;
        sll)     echo "--linktype sll --format pcap|pcap" ;;
        null)    echo "--linktype null --format pcap|pcap" ;;
        loop)    echo "--linktype loop --format pcap-be|pcap" ;;
        ip)      echo "--linktype ipv$fam --format pcap-ns|pcap" ;;
        ngbe)    echo "--linktype ethernet --format pcapng-be|pcapng" ;;
        vlan1ng) echo "--linktype vlan1 --format pcapng|pcapng" ;;
        vlan2)   echo "--linktype vlan2 --format pcap|pcap" ;;
        snap96)  echo "--linktype ethernet --format pcap --snaplen 96|pcap" ;;
        *) echo "regen: unknown variant $v" >&2; return 1 ;;
    esac
}

readme="$out/README.md"
tmpreadme=$(mktemp)
trap 'rm -f "$tmpreadme"' EXIT
{
    echo "# pcaps/gen — golden captures written by pmgen"
    echo
    echo "Every file here was written by portmortem's own synthetic capture generator,"
    echo "\`pmgen\` (tests/gen/, built by \`make pmgen\` as build/release/tests/gen/pmgen), with"
    echo "the command listed below; \`tests/golden/regen.sh\` runs them all again. Each capture"
    echo "has a truth file (\`*.truth.json\`) that pmgen wrote from how it built the packets,"
    echo "not from running portmortem: per attempt the outcome, verdict, owner, SYN count,"
    echo "Zeek conn_state and nmap reason, plus what decides them (greeting code, ICMP"
    echo "sender/type/code, RST hop counts). \`make check-golden\` analyses every capture,"
    echo "compares field by field, and checks that regenerating gives byte-identical files."
    echo
    echo "The cases and their link-layer variants are listed in tests/golden/cases.txt;"
    echo "the hop model behind the TTLs is described at the top of tests/gen/gen_scen.c."
    echo "Timestamps start at 2024-03-01T12:00:01Z; nothing depends on the clock."
    echo
    echo "Commands, one per capture (run in this directory):"
    echo
    echo '```'
} > "$tmpreadme"

# Stale fixtures of cases that left cases.txt must not survive a regeneration.
rm -f "$out"/*.pcap "$out"/*.pcapng "$out"/*.truth.json
jobs="$tmpreadme.jobs"
: > "$jobs"
n=0
while read -r name scen fam variants; do
    case $name in ''|'#'*) continue ;; esac
    for v in $variants; do
        spec=$(variant "$v" "$fam")
        opts=${spec%|*}
        ext=${spec#*|}
        file="$name.$v.$ext"
        truth="$name.$v.truth.json"
        echo "scenario $scen --family $fam $opts --seed 1 -o $out/$file --truth $out/$truth" >> "$jobs"
        echo "pmgen scenario $scen --family $fam $opts --seed 1 -o $file --truth $truth" >> "$tmpreadme"
        n=$((n + 1))
    done
done < "$here/cases.txt"
# Two at a time: under ASan each pmgen start costs tens of milliseconds.
xargs -P2 -L1 "$pmgen" < "$jobs"
rm -f "$jobs"
{
    echo '```'
    echo
    echo "$n captures."
} >> "$tmpreadme"
cp "$tmpreadme" "$readme"
chmod 644 "$readme"
echo "regen: $n captures in $out"
