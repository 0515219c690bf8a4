#!/bin/bash -eu
# Builds the cargo-fuzz targets of fuzz/ and copies them, with seed corpora, to $OUT.
#
# Under ClusterFuzzLite/OSS-Fuzz ($SANITIZER set, nightly Rust): `cargo fuzz build -O` with the
# sanitizer the platform asks for. Run locally as plain bash (`bash .clusterfuzzlite/build.sh`)
# it uses stable Rust without a sanitizer (`-s none`) and OUT defaults to fuzz/out/. Debug
# assertions stay on either way: they check the stack's sequence-number arithmetic.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -d "${SRC:-/nonexistent}/tcpconform/fuzz" ]; then
    root="$SRC/tcpconform"
fi
OUT=${OUT:-$root/fuzz/out}
mkdir -p "$OUT"
cd "$root/fuzz"

if [ -n "${SANITIZER:-}" ] && [ "$SANITIZER" != "none" ]; then
    # OSS-Fuzz sets RUSTFLAGS for coverage builds; cargo fuzz adds the sanitizer's.
    cargo fuzz build -O --debug-assertions --sanitizer "$SANITIZER"
else
    cargo fuzz build -O --debug-assertions -s none
fi
bins="$root/fuzz/target/x86_64-unknown-linux-gnu/release"

# Seeds, when the toolchain can also build the seeds example.
if bash "$root/fuzz/seeds.sh" "$root/fuzz/corpus" >/dev/null 2>&1; then
    have_seeds=1
else
    have_seeds=0
    echo "build.sh: seed generation failed, fuzzers ship without seed corpora" >&2
fi

for target in $(cargo fuzz list); do
    cp "$bins/$target" "$OUT/"
    if [ "$have_seeds" = 1 ] && [ -d "$root/fuzz/corpus/$target" ] && command -v zip >/dev/null; then
        (cd "$root/fuzz/corpus/$target" && zip -q -r "$OUT/${target}_seed_corpus.zip" .)
    fi
done
echo "build.sh: fuzz targets in $OUT"
