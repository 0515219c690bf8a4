#!/usr/bin/env bash
# Builds the seed corpora under fuzz/corpus/<target>/:
#   case_loader   every case file of cases/ (and the prelude library), plus sample expressions;
#   parse_segment representative packets from the reference wire emitter (examples/seeds.rs);
#   agent_protocol control sessions in the target's event encoding (examples/seeds.rs).
# state_machine and state_machine_pair take structured (`arbitrary`) input: libFuzzer grows
# their corpora from nothing in seconds, so they get no seeds.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
corpus=${1:-$here/corpus}

mkdir -p "$corpus/case_loader" "$corpus/parse_segment" "$corpus/agent_protocol"
find "$root/cases" -type f \( -name '*.yaml' -o -name '*.yml' \) | sort | while read -r f; do
    rel=${f#"$root/cases/"}
    cp "$f" "$corpus/case_loader/case-${rel//\//-}"
done
printf '%s\n' 'rcv.nxt + rcv.wnd' 'snd.una - 1' '(mss * 2) + 1' '0x7fffffff * -(iss)' \
    'ts.val - ts.ecr + irs' > "$corpus/case_loader/expressions"

cargo run --quiet --no-default-features --manifest-path "$here/Cargo.toml" --example seeds -- \
    "$corpus/parse_segment" "$corpus/agent_protocol"
echo "seeds: $(find "$corpus/case_loader" -type f | wc -l) case_loader," \
    "$(find "$corpus/parse_segment" -type f | wc -l) parse_segment," \
    "$(find "$corpus/agent_protocol" -type f | wc -l) agent_protocol"
