#!/bin/sh
# Seeds the envelope_decode corpus with the golden vectors (hex text) decoded to raw bytes.
# The corpus directory is not checked in; run this once before the first `cargo fuzz run`.
# Needs xxd (from vim or xxd package).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
golden="$here/../protocol/tests/golden"
corpus="$here/corpus/envelope_decode"
mkdir -p "$corpus"
for f in "$golden"/*.hex; do
    name=$(basename "$f" .hex)
    xxd -r -p "$f" > "$corpus/golden-$name"
done
echo "seeded $(ls "$golden"/*.hex | wc -l) inputs into $corpus"
