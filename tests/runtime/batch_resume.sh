#!/usr/bin/env bash
# tm_generate batches and --resume, end to end:
#  1. a folder of scenes with one broken file: the others are done, the failure is reported in
#     the summary table and CSV, exit 1; an @list (relative lines) does the same scenes;
#  2. the batch rerun with --resume passes over the scenes that are done;
#  3. a run killed (-9) after its first checkpoint, rerun with --resume, continues from the
#     checkpoint and ends byte-identical to an uninterrupted run; Ctrl-C says how to continue.
#   batch_resume.sh TM_GENERATE MODEL_CARD SCENE_DIR LARGE_SCENE SCRATCH
set -euo pipefail
tm_generate=$1 card=$2 scenes=$3 large=$4 scratch=$5
export SOURCE_DATE_EPOCH=1700000000
rm -rf "$scratch" && mkdir -p "$scratch/in" "$scratch/out"
fail() { echo "FAIL: $*"; exit 1; }

mapfile -t picked < <(ls "$scenes"/*.tif | head -2)
for f in "${picked[@]}"; do cp "$f" "$scratch/in/"; done
echo "not a raster" >"$scratch/in/broken.tif"
a=$(basename "${picked[0]%.tif}") b=$(basename "${picked[1]%.tif}")
common=(--model "$card" --to LULC --steps 2 --greedy --quiet)

# 1. folder batch
status=0
"$tm_generate" --input S2L2A="$scratch/in" "${common[@]}" --out-dir "$scratch/out" \
  --summary "$scratch/out/summary.csv" --quicklook >"$scratch/batch.out" 2>&1 || status=$?
cat "$scratch/batch.out"
[ "$status" -eq 1 ] || fail "a batch with a failed scene exits 1, got $status"
grep -Eq "^broken +FAILED .*broken.tif" "$scratch/batch.out" || fail "the failure is not in the table"
grep -Eq "^$a +ok +[0-9]+ " "$scratch/batch.out" || fail "scene $a not reported ok"
grep -q "2 of 3 scenes done, 1 failed" "$scratch/batch.out" || fail "no batch total"
for s in "$a" "$b"; do
  [ -f "$scratch/out/${s}_LULC.tif" ] || fail "missing ${s}_LULC.tif"
  gdalinfo "$scratch/out/${s}_LULC.png" >"$scratch/info.txt" || fail "no quicklook for $s"
  grep -q "Driver: PNG" "$scratch/info.txt" || fail "the quicklook of $s is not a PNG"
done
[ ! -e "$scratch/out/broken_LULC.tif" ] || fail "the broken scene has an output"
[ "$(wc -l <"$scratch/out/summary.csv")" -eq 4 ] || fail "the CSV has a header and 3 rows"
grep -q '^"broken",FAILED,' "$scratch/out/summary.csv" || fail "the CSV lacks the failure"

# The same scenes from a list with relative lines (and a comment), into another folder.
printf '# scenes\n%s\n%s\n' "in/$a.tif" "in/$b.tif" >"$scratch/scenes.txt"
"$tm_generate" --input S2L2A=@"$scratch/scenes.txt" "${common[@]}" --out-dir "$scratch/out2" \
  >"$scratch/list.out" 2>&1 || fail "list batch: $(cat "$scratch/list.out")"
cmp "$scratch/out/${a}_LULC.tif" "$scratch/out2/${a}_LULC.tif" || fail "list and folder differ"

# 2. rerun with --resume: done scenes are passed over
status=0
"$tm_generate" --input S2L2A="$scratch/in" "${common[@]}" --out-dir "$scratch/out" --resume \
  --quicklook >"$scratch/rerun.out" 2>&1 || status=$?
grep -Eq "^$a +skipped" "$scratch/rerun.out" || fail "done scene not skipped: $(cat "$scratch/rerun.out")"

# 3. kill -9 after the first checkpoint, resume and kill -9 again further on, then resume to the
#    end: byte-identical to an uninterrupted run, finished window rows not generated again.
name=$(basename "${large%.*}")
job=(--input S2L2A="$large" --model "$card" --to S1GRD,LULC --steps 2 --seed 3 --probabilities
  --batch 2)
"$tm_generate" "${job[@]}" --quiet --out-dir "$scratch/reference"
mkdir -p "$scratch/resumed"
checkpoint="$scratch/resumed/.${name}_S1GRD.tif.tm-resume.checkpoint"
for at_least in 1 400; do
  "$tm_generate" "${job[@]}" --quiet --out-dir "$scratch/resumed" --resume & pid=$!
  for _ in $(seq 1 1200); do
    rows=$(sed -n 's/^rows //p' "$checkpoint" 2>/dev/null || true)
    [ -n "$rows" ] && [ "$rows" -ge "$at_least" ] && break
    sleep 0.05
  done
  kill -9 "$pid"
  wait "$pid" 2>/dev/null || true
  rows=$(sed -n 's/^rows //p' "$checkpoint")
  echo "killed with $rows rows in the checkpoint"
  [ "$rows" -ge "$at_least" ] || fail "the checkpoint did not reach $at_least rows"
  [ ! -e "$scratch/resumed/${name}_S1GRD.tif" ] || fail "a killed run published an output"
done
"$tm_generate" "${job[@]}" --out-dir "$scratch/resumed" --resume >"$scratch/resume.out" 2>&1 ||
  fail "resume failed: $(cat "$scratch/resume.out")"
cat "$scratch/resume.out"
grep -q "^resumed     rows 0-" "$scratch/resume.out" || fail "the rerun did not resume"
generated=$(sed -n 's/^windows *\([0-9]*\) (\([0-9]*\) generated.*/\2/p' "$scratch/resume.out")
total=$(sed -n 's/^windows *\([0-9]*\) (.*/\1/p' "$scratch/resume.out")
[ "$generated" -lt "$total" ] || fail "the resumed run generated all $total windows again"
for f in "${name}_S1GRD.tif" "${name}_LULC.tif" "${name}_LULC_probabilities.tif"; do
  cmp "$scratch/reference/$f" "$scratch/resumed/$f" || fail "$f differs from the uninterrupted run"
done
leftover=$(find "$scratch/resumed" -name '*tm-resume*' | wc -l)
[ "$leftover" -eq 0 ] || fail "resume files left behind"

# Ctrl-C with --resume: nothing published, and the message says how to continue.
mkdir -p "$scratch/ctrlc"
"$tm_generate" "${job[@]}" --quiet --out-dir "$scratch/ctrlc" --resume 2>"$scratch/ctrlc.err" & pid=$!
for _ in $(seq 1 600); do [ -e "$scratch/ctrlc/.${name}_S1GRD.tif.tm-resume.checkpoint" ] && break; sleep 0.05; done
kill -INT "$pid"
status=0
wait "$pid" || status=$?
[ "$status" -eq 130 ] || fail "Ctrl-C exits 130, got $status"
grep -q "rerun with --resume to continue" "$scratch/ctrlc.err" || fail "no hint: $(cat "$scratch/ctrlc.err")"
echo "batch and resume: ok"
