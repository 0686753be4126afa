#!/usr/bin/env bash
# tests/package/run.sh — issue 16 items 6 and 7: what a user installs is what the docs say.
#
#   1. `make install DESTDIR=scratch PREFIX=/usr/local`: the binary (stripped), the man page,
#      the bash completion, docs/VERDICTS.md (+ the output contract when present) in
#      share/doc/portmortem; `make uninstall` removes every one of them.
#   2. `make deb` (dpkg-buildpackage in a temp copy of the sources) into a scratch folder;
#      lintian reports no error or warning; the package declares a dependency for every
#      library the binary links (each NEEDED soname's package, found with dpkg -S).
#   3. The .deb unpacked into a scratch root (dpkg-deb -x): `portmortem --version` and `-V`
#      print the Makefile's VERSION, which is also the package's version and the man page's;
#      the installed binary analyses a lab fixture (pcaps/lab/transit-forged-rst) and its
#      outcome, verdict and owner per destination and port are those of the fixture's
#      truth.json (written when the scenario was recorded, checked against the wire);
#      the man page renders without a groff/man warning; the completion loads in a clean bash
#      and completes the commands and each command's long options as its --help lists them;
#      the man page names every long option each --help lists.
#   4. The source tree is as it was (`git status` unchanged).
set -u
cd "$(dirname "$0")/../.."
MAKE=${MAKE:-make}
fails=0
pass() { echo "  ok    $*"; }
fail() { echo "  FAIL  $*"; fails=$((fails + 1)); }

for tool in dpkg-buildpackage dpkg-deb dpkg-parsechangelog lintian readelf groff jq; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "check-package: $tool is missing: sh .ci/setup --test installs it (docs/DEPENDENCIES.md)" >&2
        exit 1
    fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/pm-package.XXXXXX")
trap 'rm -rf "$work"' EXIT
git_before=$(git status --porcelain 2>/dev/null || true)
version=$($MAKE -s --no-print-directory version)
echo "check-package: portmortem $version"

# Whether an ELF file still carries its symbol table or DWARF.
unstripped() { readelf -S --wide "$1" | grep -Eq '\.symtab|\.debug_info'; }

# The long options (--name) a command's --help lists: on the lines that describe options
# (indented, starting with -x, or --name), not those merely mentioned in a sentence.
help_opts() {
    "$1" "$2" --help | grep -E -- '^ +(-[a-zA-Z0-9], )?--[a-z]' |
        grep -oE -- '--[a-z][a-z0-9-]+' | sort -u
}

# ---- 1. make install / uninstall -----------------------------------------------------------
inst=$work/inst
if $MAKE -s --no-print-directory SETUP=0 install DESTDIR="$inst" PREFIX=/usr/local >"$work/install.log" 2>&1; then
    for f in bin/portmortem share/man/man1/portmortem.1 \
        share/bash-completion/completions/portmortem share/doc/portmortem/VERDICTS.md; do
        if [ -f "$inst/usr/local/$f" ]; then pass "make install: /usr/local/$f"; else fail "make install did not install /usr/local/$f"; fi
    done
    if [ -f docs/OUTPUT.md ]; then
        [ -f "$inst/usr/local/share/doc/portmortem/OUTPUT.md" ] && pass "make install: OUTPUT.md" ||
            fail "make install: docs/OUTPUT.md exists but was not installed"
    fi
    if [ -x "$inst/usr/local/bin/portmortem" ] && ! unstripped "$inst/usr/local/bin/portmortem"; then
        pass "make install: the binary is stripped"
    else
        fail "make install: the installed binary still has .symtab/.debug_info (INSTALL_STRIP)"
    fi
    if $MAKE -s --no-print-directory SETUP=0 uninstall DESTDIR="$inst" PREFIX=/usr/local >>"$work/install.log" 2>&1; then
        left=$(find "$inst" -type f | sed "s|^$inst||")
        if [ -z "$left" ]; then pass "make uninstall removes every installed file"; else fail "make uninstall left: $left"; fi
    else
        fail "make uninstall failed: $(tail -3 "$work/install.log")"
    fi
else
    fail "make install failed: $(tail -5 "$work/install.log")"
fi

# ---- 2. make deb, lintian, dependencies ----------------------------------------------------
out=$work/deb
if ! $MAKE -s --no-print-directory SETUP=0 deb DEB_OUT="$out" >"$work/deb.log" 2>&1; then
    cat "$work/deb.log"
    fail "make deb failed (log above)"
    echo "check-package: $fails failure(s)"
    exit 1
fi
deb=$(ls "$out"/portmortem_"$version"_*.deb 2>/dev/null | head -1)
if [ -n "$deb" ]; then pass "make deb built $(basename "$deb")"; else fail "make deb: no portmortem_${version}_*.deb in $(ls "$out")"; exit 1; fi
[ "$(dpkg-deb -f "$deb" Version)" = "$version" ] && pass "package version = Makefile VERSION ($version)" ||
    fail "package version $(dpkg-deb -f "$deb" Version) is not the Makefile's $version"
[ "$(dpkg-parsechangelog -l debian/changelog -S Version)" = "$version" ] && pass "debian/changelog = VERSION" ||
    fail "debian/changelog's version is not the Makefile's $version"

lintian --fail-on error,warning --info "$out"/*.changes >"$work/lintian.log" 2>&1
lrc=$?
lint=$(grep -v '^running with root privileges' "$work/lintian.log")
if [ "$lrc" = 0 ]; then
    pass "lintian: no error or warning${lint:+ (info: $(echo "$lint" | wc -l) line(s))}"
    [ -n "$lint" ] && echo "$lint" | sed 's/^/        /'
else
    echo "$lint" | sed 's/^/        /'
    fail "lintian reports errors or warnings (above)"
fi

root=$work/root
dpkg-deb -x "$deb" "$root"
bin=$root/usr/bin/portmortem
depends=$(dpkg-deb -f "$deb" Depends)
for so in $(readelf -d "$bin" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'); do
    # The package that ships this soname on this system (the same as the build's).
    path=$(ldconfig -p | awk -v so="$so" '$1 == so { print $NF; exit }')
    pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -1 | cut -d: -f1)
    [ -z "$pkg" ] && pkg=$(dpkg -S "$path" 2>/dev/null | head -1 | cut -d: -f1)
    if [ -z "$pkg" ]; then
        fail "cannot tell which package ships $so ($path)"
    elif echo ", $depends," | grep -q "[ ,]$pkg[ ,(]"; then
        pass "Depends names $pkg (for $so)"
    else
        fail "Depends ($depends) lacks $pkg, which ships $so"
    fi
done
if unstripped "$bin"; then fail "the packaged binary is not stripped"; else pass "the packaged binary is stripped"; fi
dbg=$(ls "$out"/portmortem-dbgsym_"$version"_*.deb 2>/dev/null | head -1)
[ -n "$dbg" ] && dpkg-deb -c "$dbg" >"$work/dbgsym.list" 2>&1
if [ -n "$dbg" ] && grep -q '/usr/lib/debug/.build-id/.*\.debug$' "$work/dbgsym.list"; then
    pass "separate debug symbols in $(basename "$dbg")"
else
    fail "no portmortem-dbgsym package with /usr/lib/debug/.build-id/*.debug"
fi

# ---- 3. the installed files, used -------------------------------------------------------------
for v in --version -V; do
    got=$("$bin" $v 2>&1)
    case $got in
        "portmortem $version "*) pass "installed portmortem $v: $got" ;;
        *) fail "installed portmortem $v printed '$got', not 'portmortem $version ...'" ;;
    esac
done
th=$(zcat "$root/usr/share/man/man1/portmortem.1.gz" | sed -n 's/^\.TH .*"portmortem \([^"]*\)".*/\1/p')
[ "$th" = "$version" ] && pass "man page .TH names version $version" ||
    fail "the man page's .TH says '$th', the Makefile's VERSION $version"

# The fixture: the truth of every expected attempt at the sender's vantage point.
fx=pcaps/lab/transit-forged-rst
ports=$(jq -r '.ports | map(tostring) | join(",")' "$fx/truth.json")
"$bin" analyze -f jsonl --ports "$ports" --mta-log "$fx/maillog" sender="$fx/sender.pcap" \
    >"$work/report.jsonl" 2>"$work/report.err"
rc=$?
want=$(jq -c '[.expect[] | select(.vantage == "sender") | {dst, dport, outcome, verdict, owner}] | sort' "$fx/truth.json")
got=$(jq -sc '[.[] | select(.type == "attempt") | {dst, dport, outcome, verdict, owner}] | unique | sort' "$work/report.jsonl")
if [ "$want" = "$got" ] && [ "$(jq -r '[.expect[].outcome] | any(. != "connected")' "$fx/truth.json")" = true ] && [ "$rc" = 1 ]; then
    pass "installed binary on $fx: the truth's verdicts, exit 1 (failures found)"
else
    fail "installed binary on $fx (exit $rc): got $got, truth $want; $(head -3 "$work/report.err")"
fi

# The man page renders without a warning (groff -ww: every warning; man --warnings when man-db works).
warn=$(zcat "$root/usr/share/man/man1/portmortem.1.gz" | LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z 2>&1)
[ -z "$warn" ] && pass "man page renders without groff warnings" || fail "groff warnings: $warn"
if command -v man >/dev/null 2>&1 && man --version >/dev/null 2>&1; then
    warn=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z \
        "$root/usr/share/man/man1/portmortem.1.gz" 2>&1 >"$work/man.out")
    if [ -z "$warn" ] && [ -s "$work/man.out" ]; then pass "man -l renders it"; else fail "man -l: ${warn:-empty output}"; fi
fi
man_text=$(zcat "$root/usr/share/man/man1/portmortem.1.gz" | LC_ALL=C.UTF-8 groff -man -Tutf8 -P-cbou 2>/dev/null)
for sect in SYNOPSIS OPTIONS "EXIT STATUS" ENVIRONMENT FILES EXAMPLES "SEE ALSO"; do
    echo "$man_text" | grep -qx "$sect" && pass "man page has $sect" || fail "man page lacks the section $sect"
done

# ENVIRONMENT names every variable the code reads (getenv in main.c, analyze/, capture/).
env_sect=$(echo "$man_text" | sed -n '/^ENVIRONMENT$/,/^[A-Z][A-Z ]*$/p' | sed '1d')
vars=$(grep -ho 'getenv("[A-Za-z_][A-Za-z0-9_]*")' main.c analyze/*.c capture/*.c | sed 's/getenv("\(.*\)")/\1/' | sort -u)
missing=""
for v in $vars; do
    echo "$env_sect" | grep -qw -- "$v" || missing="$missing $v"
done
[ -n "$vars" ] && [ -z "$missing" ] && pass "ENVIRONMENT names every getenv'd variable ($(echo $vars))" ||
    fail "ENVIRONMENT lacks:${missing:- (no getenv found: the grep is broken)}"

# The completion loads in a bash without any rc file or bash-completion, and completes.
comp=$root/usr/share/bash-completion/completions/portmortem
complete_words() { # complete_words WORD... : what completing the last word offers
    bash --norc --noprofile -c '
        source "$1" || exit 1; shift
        COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
        _portmortem; printf "%s\n" "${COMPREPLY[@]}"' _ "$comp" "$@"
}
if bash --norc --noprofile -c 'source "$1" && complete -p portmortem' _ "$comp" >/dev/null 2>&1; then
    pass "completion loads in bash (complete -F _portmortem portmortem)"
else
    fail "completion does not load: $(bash --norc -c "source $comp" 2>&1 | head -2)"
fi
cmds=$("$bin" --help | sed -n 's/^  \([a-z][a-z]*\) .*/\1/p' | grep -v '^portmortem$' | sort -u)
offered=$(complete_words portmortem "" | sort -u)
for c in $cmds; do
    echo "$offered" | grep -qx "$c" && pass "completion offers the command $c" || fail "completion lacks the command $c"
done
for c in $cmds; do
    missing_c="" missing_m=""
    offered=$(complete_words portmortem "$c" "--" | sort -u)
    for o in $(help_opts "$bin" "$c"); do
        echo "$offered" | grep -qx -- "$o" || missing_c="$missing_c $o"
        echo "$man_text" | grep -q -- "$o" || missing_m="$missing_m $o"
    done
    [ -z "$missing_c" ] && pass "completion offers every long option of $c --help" ||
        fail "completion lacks options of $c:$missing_c"
    [ -z "$missing_m" ] && pass "man page names every long option of $c --help" ||
        fail "man page lacks options of $c:$missing_m"
done
ifaces=$(complete_words portmortem capture -i "" | sort -u)
for i in $(ls /sys/class/net) any; do
    echo "$ifaces" | grep -qx "$i" || { fail "completion of capture -i lacks $i"; continue; }
done
echo "$ifaces" | grep -qx lo && pass "completion of -i offers the interfaces (lo, any, ...)"
files=$(complete_words portmortem analyze "$fx/s")
echo "$files" | grep -qx "$fx/sender.pcap" && pass "completion offers capture files to analyze" ||
    fail "completion of analyze $fx/s gave: $files"

# ---- 4. the tree is as it was ------------------------------------------------------------------
git_after=$(git status --porcelain 2>/dev/null || true)
[ "$git_before" = "$git_after" ] && pass "git status unchanged by the package build" ||
    fail "the package build changed the tree: $(diff <(echo "$git_before") <(echo "$git_after"))"

if [ "$fails" -gt 0 ]; then
    echo "check-package: $fails failure(s)"
    exit 1
fi
echo "check-package: all passed"
