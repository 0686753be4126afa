#!/bin/sh
# seeds.sh — owns building the fuzzers' seed corpora and dictionaries at run time, into
# build/fuzz/ (nothing here is committed, and nothing from ../shared is copied into the repo).
#
#   tests/fuzz/seeds.sh MKSEEDS OUTDIR
#
# Sources (each used when present):
#   pcaps/**              the project's fixtures (golden, lab, demo, fuzz-regressions)
#   tests/data/**         unit-test data (MTA logs, captures)
#   ../shared/pcaps-public/{real,malformed}   public captures, read in place
#   ../shared/reference/mta-log-formats.md    example log lines from the reference
# Output, per campaign, OUTDIR/seeds/<campaign>/ and OUTDIR/dict/<campaign>.dict:
#   decode            packet sequences cut from every capture (mkseeds)
#   capfile, engine   whole captures (cut to their first 48 KiB when larger)
#   mtalog-postfix, mtalog-exim, mtalog-sendmail   one log line per seed
#   logfile           whole log files, plain and gzip
# The dictionaries are tests/fuzz/dict/*.dict plus the string literals of the parser
# sources, so that a new keyword in a parser is in the dictionary the next run.
set -eu
MKSEEDS=$1
OUT=$2
SHARED=${PM_SHARED:-../shared}
SEEDS=$OUT/seeds
rm -rf "$SEEDS" "$OUT/dict"
mkdir -p "$SEEDS" "$OUT/dict"
for c in decode capfile engine mtalog-postfix mtalog-exim mtalog-sendmail logfile; do
    mkdir -p "$SEEDS/$c"
done

# ---- captures ----
list=$OUT/captures.list
: > "$list"
for d in pcaps tests/data "$SHARED/pcaps-public/real" "$SHARED/pcaps-public/malformed"; do
    [ -d "$d" ] || continue
    find "$d" -type f \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' -o -name '*.bin' \) \
        | sort >> "$list"
done
[ -d "$SHARED/pcaps-public" ] || echo "seeds: $SHARED/pcaps-public absent: project fixtures only" >&2
n=0
while IFS= read -r f; do
    n=$((n + 1))
    name=$(printf '%s' "$f" | tr '/' '_' | sed 's/^[._]*//')
    for c in capfile engine; do
        head -c 49152 "$f" > "$SEEDS/$c/$name"
    done
done < "$list"
# shellcheck disable=SC2046
xargs "$MKSEEDS" "$SEEDS/decode" < "$list" >/dev/null 2>"$OUT/mkseeds.log" || {
    cat "$OUT/mkseeds.log" >&2
    exit 1
}

# ---- MTA logs ----
logs=$OUT/logs.list
: > "$logs"
for d in tests/data pcaps; do
    [ -d "$d" ] || continue
    find "$d" -type f \( -name '*maillog*' -o -name '*mainlog*' -o -name '*.log' -o -name '*mail.log*' \
        -o -name 'syslog*' \) | sort >> "$logs"
done
ref=$SHARED/reference/mta-log-formats.md
i=0
split_lines() { # file campaign
    while IFS= read -r line; do
        i=$((i + 1))
        printf '%s' "$line" > "$SEEDS/$2/line$i"
    done < "$1"
}
while IFS= read -r f; do
    cp "$f" "$SEEDS/logfile/$(printf '%s' "$f" | tr '/' '_' | sed 's/^[._]*//')"
    for mta in postfix exim sendmail; do
        case $mta in
            postfix) pat='postfix' ;;
            exim) pat='^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:.]+ (\+[0-9]{4} )?(\[[0-9]+\] )?[0-9A-Za-z]{6}-' ;;
            sendmail) pat='sm-mta|sendmail' ;;
        esac
        grep -E "$pat" "$f" > "$OUT/lines.tmp" || true
        split_lines "$OUT/lines.tmp" "mtalog-$mta"
    done
done < "$logs"
if [ -f "$ref" ]; then
    # Example lines of the reference (indented or fenced code); the parsers decide.
    grep -E 'postfix/' "$ref" | sed 's/^[ >`]*//; s/`*$//' > "$OUT/lines.tmp" || true
    split_lines "$OUT/lines.tmp" mtalog-postfix
    grep -E '(=>|==|\*\*|H=|defer \()' "$ref" | sed 's/^[ >`]*//; s/`*$//' > "$OUT/lines.tmp" || true
    split_lines "$OUT/lines.tmp" mtalog-exim
    grep -E '(sm-mta|sendmail)\[' "$ref" | sed 's/^[ >`]*//; s/`*$//' > "$OUT/lines.tmp" || true
    split_lines "$OUT/lines.tmp" mtalog-sendmail
    cp "$ref" "$SEEDS/logfile/reference.md"
fi
rm -f "$OUT/lines.tmp"
# gzip variants: the loader detects gzip by magic.
for f in "$SEEDS"/logfile/*; do
    case $f in *.md) continue ;; esac
    gzip -9 -c "$f" > "$f.gz"
done
# A directory of one empty file is still a corpus: libFuzzer needs at least one input.
for c in "$SEEDS"/*; do
    [ -n "$(ls -A "$c")" ] || : > "$c/empty"
done

# ---- dictionaries ----
lits() { # source files...: their string literals, as dictionary entries
    grep -oh '"[^"\\%]\{3,48\}"' "$@" 2>/dev/null | sort -u || true
}
cat tests/fuzz/dict/packet.dict > "$OUT/dict/decode.dict"
lits analyze/smtp.c >> "$OUT/dict/decode.dict"
cp "$OUT/dict/decode.dict" "$OUT/dict/capfile.dict"
cp "$OUT/dict/decode.dict" "$OUT/dict/engine.dict"
for mta in postfix exim sendmail; do
    cat "tests/fuzz/dict/$mta.dict" > "$OUT/dict/mtalog-$mta.dict"
    lits "analyze/mtalog_$mta.c" analyze/mtalog.c analyze/mtalog_fields.c analyze/mtalog_time.c >> "$OUT/dict/mtalog-$mta.dict"
done
cat tests/fuzz/dict/postfix.dict tests/fuzz/dict/exim.dict tests/fuzz/dict/sendmail.dict \
    | grep -v '^#' | awk -F= '!seen[$1]++' > "$OUT/dict/logfile.dict"
printf 'gzip_magic="\\x1f\\x8b\\x08\\x00"\nnl="\\x0a"\n' >> "$OUT/dict/logfile.dict"

for c in "$SEEDS"/*; do
    printf 'seeds: %-16s %5d inputs\n' "$(basename "$c")" "$(ls "$c" | wc -l)"
done
echo "seeds: $n captures, $(wc -l < "$logs") log files"
