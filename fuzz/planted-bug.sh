#!/usr/bin/env bash
# Proves the state_machine invariants fire: builds the target against the reference stack with
# its `planted-bug` feature (stack/frame.rs acknowledges one octet that never arrived, for one ACK
# number in 4096) and expects the fuzzer to report exactly that within MAX_SECONDS (default
# 120), from an empty corpus. Exits 0 when the bug is found, 1 when it is not.
# BUILD_ARGS and FUZZ_ARGS add cargo-fuzz build flags and libFuzzer flags, e.g. the fast
# shallow settings of fuzz/README.md:
#   BUILD_ARGS=--no-trace-compares FUZZ_ARGS="-max_len=64 -entropic=0 -reduce_inputs=0 -use_counters=0"
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"
secs=${MAX_SECONDS:-120}
# Separate target and artifact folders: the normal build of the target is left untouched.
tdir="$here/target/planted-bug"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# shellcheck disable=SC2086 # word splitting of the flag lists is intended
cargo fuzz build -s none ${BUILD_ARGS:-} --no-default-features --features planted-bug --target-dir "$tdir" state_machine
bin="$tdir/x86_64-unknown-linux-gnu/release/state_machine"
mkdir -p "$work/corpus"
start=$(date +%s)
set +e
# shellcheck disable=SC2086
"$bin" "$work/corpus" -max_total_time="$secs" -artifact_prefix="$work/" -seed=1 ${FUZZ_ARGS:-} >"$work/log" 2>&1
rc=$?
set -e
took=$(( $(date +%s) - start ))
if [ "$rc" -ne 0 ] && grep -q "stack ACKs" "$work/log"; then
    grep -m1 "stack ACKs" "$work/log"
    grep -m1 "stat::number_of_executed_units\|Done\|#[0-9]* *NEW" "$work/log" || true
    echo "planted bug found after ${took}s (exit $rc)"
    exit 0
fi
tail -n 30 "$work/log"
echo "planted bug NOT found within ${secs}s (exit $rc)"
exit 1
