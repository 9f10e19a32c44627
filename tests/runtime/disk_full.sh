#!/usr/bin/env bash
# A full disk: tm_generate says "No space left on device", exits 1 and leaves nothing behind.
#   disk_full.sh TM_GENERATE MODEL_CARD SCENE
set -uo pipefail
tm_generate=$1 card=$2 scene=$3
mnt=$(mktemp -d)
# A 2 MB file system; needs root (CI runs as root). Exit 77: CTest reports the test as skipped.
mount -t tmpfs -o size=2m tmpfs "$mnt" 2>/dev/null || { echo "cannot mount a tmpfs here"; exit 77; }
trap 'umount "$mnt"; rmdir "$mnt"' EXIT
out=$("$tm_generate" --input S2L2A="$scene" --to S1GRD,LULC --model "$card" --out-dir "$mnt" \
  --steps 1 --greedy --quiet 2>&1)
status=$?
echo "$out"
[ "$status" -eq 1 ] || { echo "exit status $status, expected 1"; exit 1; }
grep -q "No space left on device" <<<"$out" || { echo "the message does not say the disk is full"; exit 1; }
left=$(ls -A "$mnt" | wc -l)
[ "$left" -eq 0 ] || { echo "$left files left behind:"; ls -A "$mnt"; exit 1; }
echo "disk full: clear message, nothing left behind"
