#!/usr/bin/env bash
# CI smoke fuzzing: build every target and run each for a bounded time (FUZZ_SECONDS, default
# 20). Exits non-zero on the first crash, leak, timeout or OOM; the reproducer is left in
# fuzz/artifacts/<target>/. Stable Rust: no sanitizer (-s none), debug assertions on.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"
secs=${FUZZ_SECONDS:-20}

if ! command -v cargo-fuzz >/dev/null; then
    cargo install cargo-fuzz --locked
fi
bash "$here/seeds.sh"
cargo fuzz build -s none
targets=$(cargo fuzz list)

# Past findings first: every input kept in regressions/ (named <target>-<what>) must now pass.
for input in regressions/*; do
    name=$(basename "$input")
    target=""
    for t in $targets; do
        if [[ $name == "$t-"* && ${#t} -gt ${#target} ]]; then target=$t; fi
    done
    if [[ -z $target ]]; then
        echo "regressions/$name: no target named by its prefix" >&2
        exit 1
    fi
    echo "=== regression $name ($target)"
    cargo fuzz run -s none "$target" "$input"
done

for target in $targets; do
    echo "=== fuzz $target for ${secs}s"
    mkdir -p "corpus/$target"
    cargo fuzz run -s none "$target" "corpus/$target" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
done
echo "fuzz: all targets ran ${secs}s without a crash"
