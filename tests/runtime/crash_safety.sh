#!/usr/bin/env bash
# kill -9 tm_generate at random moments: never a file under a final output name unless it is
# complete and byte-identical to an uninterrupted run, and a rerun (which cleans what the killed
# run left) always produces that same file. Every third trial sends SIGINT instead: then the run
# publishes all of its outputs or none ("interrupted, no output written" must be true).
#   crash_safety.sh TM_GENERATE MODEL_CARD SCENE SCRATCH [TRIALS] [SEED]
set -euo pipefail
tm_generate=$1 card=$2 scene=$3 scratch=$4 trials=${5:-20} seed=${6:-1}
export SOURCE_DATE_EPOCH=1700000000  # provenance dates pinned: outputs are byte-comparable
name=$(basename "${scene%.*}")
rm -rf "$scratch" && mkdir -p "$scratch/reference"
# The job under test; called directly (not through a shell function) so that $! is its PID.
job=("$tm_generate" --input S2L2A="$scene" --to LULC,S1GRD --model "$card" --steps 2 --seed 3
  --quiet --overwrite --probabilities --out-dir)
start=$(date +%s.%N)
"${job[@]}" "$scratch/reference"
duration=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
outputs=("${name}_LULC.tif" "${name}_LULC_probabilities.tif" "${name}_S1GRD.tif")
RANDOM=$seed
killed_with_outputs=0 killed_without=0 finished=0 interrupted=0
for trial in $(seq 1 "$trials"); do
  dir="$scratch/trial$trial"
  mkdir -p "$dir"
  # A moment anywhere in the run, a little past its end included (the publish step).
  delay=$(awk -v d="$duration" -v r=$((RANDOM % 1100)) 'BEGIN { printf "%.3f", d * r / 1000 }')
  signal=KILL
  [ $((trial % 3)) -eq 0 ] && signal=INT
  "${job[@]}" "$dir" 2>"$dir.stderr" & pid=$!
  sleep "$delay"
  kill -s "$signal" "$pid" 2>/dev/null || true
  status=0
  wait "$pid" 2>/dev/null || status=$?
  [ "$status" -eq 0 ] && finished=$((finished + 1))
  if [ "$signal" = INT ] && [ "$status" -eq 130 ]; then
    interrupted=$((interrupted + 1))
    grep -q "no output written" "$dir.stderr" || { echo "trial $trial: no interrupt message"; exit 1; }
    for f in "${outputs[@]}"; do
      [ ! -e "$dir/$f" ] || { echo "trial $trial: interrupted run says none written, but $f exists"; exit 1; }
    done
  fi
  present=0
  for f in "${outputs[@]}"; do
    if [ -e "$dir/$f" ]; then
      present=$((present + 1))
      cmp -s "$dir/$f" "$scratch/reference/$f" ||
        { echo "trial $trial (killed after ${delay}s): $f differs from the uninterrupted run"; exit 1; }
    fi
  done
  [ "$present" -gt 0 ] && killed_with_outputs=$((killed_with_outputs + 1)) ||
    killed_without=$((killed_without + 1))
  # The rerun cleans the killed run's temporary files and writes the same bytes.
  "${job[@]}" "$dir" 2>/dev/null
  for f in "${outputs[@]}"; do
    cmp -s "$dir/$f" "$scratch/reference/$f" ||
      { echo "trial $trial: rerun's $f differs from the uninterrupted run"; exit 1; }
  done
  leftovers=$(find "$dir" -name '.*tm-*' | wc -l)
  [ "$leftovers" -eq 0 ] || { echo "trial $trial: $leftovers temporary files left after the rerun"; exit 1; }
done
echo "crash safety: $trials trials (kill -9, every third SIGINT) over a ${duration}s run:" \
  "$killed_without left no output, $killed_with_outputs only complete ones ($finished had finished," \
  "$interrupted stopped by SIGINT with none written); every rerun byte-identical"
