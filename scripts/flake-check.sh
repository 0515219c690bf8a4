#!/usr/bin/env bash
# Reruns the corpus N times against a target and compares every instance's verdict across runs.
# A flake is an instance whose status (passed / failed / baseline / skipped) is not the same in
# every run. Exits 1 if any instance flaked or any run failed.
#
#   scripts/flake-check.sh [-n RUNS] [-b BINARY] [-o OUTDIR] -- <tcpconform run arguments>
#   scripts/flake-check.sh -n 20 -- cases/ --target linux -j8
set -euo pipefail
runs=20
bin=""
out=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        -n) runs=$2; shift 2 ;;
        -b) bin=$2; shift 2 ;;
        -o) out=$2; shift 2 ;;
        --) shift; break ;;
        *) echo "usage: $0 [-n RUNS] [-b BINARY] [-o OUTDIR] -- <run args>" >&2; exit 2 ;;
    esac
done
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ -z "$bin" ]]; then
    cargo build --release -p tcpconform --manifest-path "$here/Cargo.toml"
    bin="$here/target/release/tcpconform"
fi
out=${out:-$(mktemp -d -t tcpconform-flake.XXXXXX)}
mkdir -p "$out"
echo "flake-check: $runs runs of: tcpconform run $*  (reports in $out)"
for i in $(seq 1 "$runs"); do
    start=$(date +%s)
    set +e
    "$bin" run "$@" --json "$out/run-$i.json" >"$out/run-$i.log" 2>&1
    rc=$?
    set -e
    # The totals line (`N passed, N failed`), or the log's last line if there is none.
    totals=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out/run-$i.log" | tail -n1)
    echo "run $i: exit $rc, $(( $(date +%s) - start )) s, ${totals:-$(tail -n1 "$out/run-$i.log")}"
done
python3 - "$out" "$runs" <<'PY'
import json, sys, collections
out, runs = sys.argv[1], int(sys.argv[2])
verdicts = collections.defaultdict(list)
failed_runs = 0
broken = []
for i in range(1, runs + 1):
    try:
        d = json.load(open(f"{out}/run-{i}.json"))
    except (OSError, ValueError) as e:
        broken.append(i)
        print(f"run {i}: no report ({e}); see {out}/run-{i}.log")
        continue
    if d["summary"]["failed"] or d["summary"].get("inconsistent"):
        failed_runs += 1
    for c in d["cases"]:
        verdicts[c["name"]].append(c["status"])
runs_read = runs - len(broken)
flaky = {n: v for n, v in verdicts.items() if len(set(v)) > 1 or len(v) != runs_read}
statuses = collections.Counter(v[0] for v in verdicts.values())
print(f"{len(verdicts)} instances x {runs_read} runs: {dict(statuses)} in the first")
for name, v in sorted(flaky.items()):
    print(f"FLAKY {name}: {collections.Counter(v)}")
print(f"{len(flaky)} flaky instances, {failed_runs} runs with failures, {len(broken)} runs without a report")
sys.exit(1 if flaky or failed_runs or broken else 0)
PY
