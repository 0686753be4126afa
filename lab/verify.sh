# lab/verify.sh — `lab.sh verify DIR...`: the recorded wire and log must match truth.json.
# shellcheck shell=bash
cmd_verify() {
    [ $# -ge 1 ] || die "usage: lab.sh verify RUNDIR|ALLDIR..."
    python3 -B "$LAB_DIR/verify.py" "$@"
}
