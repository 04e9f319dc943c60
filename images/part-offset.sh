#!/usr/bin/env bash
# Prints "START_BYTES SIZE_BYTES" of partition N of a GPT disk image: part-offset.sh IMAGE N
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: part-offset.sh IMAGE N" >&2; exit 2; }
line=$(sfdisk --dump "$1" | grep -E "^[^ ]*[^0-9]$2 : ") \
    || { echo "part-offset.sh: no partition $2 in $1" >&2; exit 1; }
start=$(sed -E 's/.*start= *([0-9]+).*/\1/' <<<"$line")
size=$(sed -E 's/.*size= *([0-9]+).*/\1/' <<<"$line")
echo "$((start * 512)) $((size * 512))"
