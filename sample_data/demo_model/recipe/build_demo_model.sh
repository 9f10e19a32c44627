#!/usr/bin/env bash
# Reproduces the demo model of sample_data/demo_model from the real samples in ../shared/data:
# stages the training samples, builds shards, trains three tokenizers, pre-tokenises, trains
# TerraMind in two phases and exports float16 safetensors + cards into sample_data/demo_model.
# Every step is skipped when its output exists and training steps resume from their last
# checkpoint, so an interrupted run (a session ending) is continued by running it again.
#
#   sample_data/demo_model/recipe/build_demo_model.sh           # about 60-90 min on 2 cores
#   TM_DEMO_WORK=/tmp/demo sample_data/demo_model/recipe/build_demo_model.sh
#
# Environment: TM_APPS (the tools, default build/apps), TM_DATA (default ../shared/data),
# TM_DEMO_WORK (work folder, default build/demo_model), TM_DEMO_OUT (default sample_data/demo_model).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
APPS=$(cd "${TM_APPS:-$ROOT/build/apps}" && pwd)
DATA=$(cd "${TM_DATA:-$ROOT/../shared/data}" && pwd)
WORK=${TM_DEMO_WORK:-$ROOT/build/demo_model}
OUT=${TM_DEMO_OUT:-$ROOT/sample_data/demo_model}
OUT=$(mkdir -p "$OUT" && cd "$OUT" && pwd)

# The data manifest (data_manifest.md): TerraMesh samples for training and held out for the
# evidence (tm_eval generation), and the T29RKH tile for NDVI.
TRAIN=(282D_485L_3_3 433D_629L_3_1 609U_541L_3_0)
TILE=$DATA/s2l2a_tile_T29RKH/S2L2A_T29RKH_20200219_100m_12band.tif
TERRAMESH=$DATA/terramesh_examples

step() { echo; echo "==== $1 ($(date -u +%H:%M:%S))"; }
mkdir -p "$WORK"
cp "$HERE"/*.json "$WORK/"
cd "$WORK"

step "Staging the training samples (links)"
rm -rf stage
mkdir -p stage/ndvi/S2L2A stage/terramesh/S2L2A stage/terramesh/LULC stage/terramesh/S1RTC
ln -s "$TILE" stage/ndvi/S2L2A/T29RKH_20200219.tif
for id in "${TRAIN[@]}"; do
  ln -s "$TERRAMESH/S2L2A/$id.tif" "stage/ndvi/S2L2A/$id.tif"
  for m in S2L2A LULC S1RTC; do ln -s "$TERRAMESH/$m/$id.tif" "stage/terramesh/$m/$id.tif"; done
done

step "Shards"
# NDVI is derived from B04/B08 everywhere (TerraMesh's own NDVI files agree to 2.5e-4).
[ -f shards/ndvi/manifest.json ] ||
  "$APPS/tm_shards" build stage/ndvi --chip 224 --stride 112 --derive-ndvi --val-fraction 0 \
    --out shards/ndvi
[ -f shards/terramesh/manifest.json ] ||
  "$APPS/tm_shards" build stage/terramesh --derive-ndvi --val-fraction 0 --out shards/terramesh

# train RUN_FILE: trains (or resumes, or skips when finished) and links runs/<name>/final to the
# last checkpoint.
train() {
  local kind=$1 run=$2 out steps latest
  out=$(sed -n 's/.*"output": *"\([^"]*\)".*/\1/p' "$run")
  steps=$(sed -n 's/.*"steps": *\([0-9]*\).*/\1/p' "$run")
  local final_name
  final_name=$(printf 'step-%09d' "$steps")
  latest=$(cat "$out/checkpoints/latest" 2>/dev/null || true)
  if [ "$latest" != "$final_name" ]; then
    if [ -n "$latest" ]; then
      "$APPS/tm_train" "$kind" "$run" --resume
    else
      "$APPS/tm_train" "$kind" "$run"
    fi
  fi
  ln -sfn "checkpoints/$final_name" "$out/final"
}

step "Tokenizers"
for t in ndvi lulc s1rtc; do train tokenizer "run_tokenizer_$t.json"; done

step "Token shards"
[ -f tokens/ndvi/manifest.json ] ||
  "$APPS/tm_tokenize_shards" shards/ndvi --out tokens/ndvi --flips \
    --tokenizer NDVI=runs/tokenizer_ndvi/final/card.json
[ -f tokens/terramesh/manifest.json ] ||
  "$APPS/tm_tokenize_shards" shards/terramesh --out tokens/terramesh --flips \
    --tokenizer NDVI=runs/tokenizer_ndvi/final/card.json \
    --tokenizer LULC=runs/tokenizer_lulc/final/card.json \
    --tokenizer S1RTC=runs/tokenizer_s1rtc/final/card.json

step "TerraMind, phase A: S2L2A -> NDVI on the tile and the TerraMesh samples"
train terramind run_terramind_a.json
step "TerraMind, phase B: S2L2A -> NDVI, LULC, S1RTC on the TerraMesh samples"
train terramind run_terramind_b.json

step "Export (float16 safetensors + cards) into $OUT"
for t in ndvi lulc s1rtc; do
  "$APPS/tm_convert" "runs/tokenizer_$t/final/model.pt" --card "runs/tokenizer_$t/final/card.json" \
    --dtype f16 --out "$OUT/tokenizer_$t.safetensors" --overwrite
done
# The release card: the training card plus the exported tokenizers.
sed -e 's#"checkpoint_prefix": ""#"checkpoint_prefix": "",\n  "tokenizers": {"NDVI": "'"$OUT"'/tokenizer_ndvi.json", "LULC": "'"$OUT"'/tokenizer_lulc.json", "S1RTC": "'"$OUT"'/tokenizer_s1rtc.json"}#' \
  terramind_demo.json >release_card.json
"$APPS/tm_convert" runs/terramind_b/final/model.pt --card release_card.json --dtype f16 \
  --out "$OUT/tm_demo_v1.safetensors" --overwrite
du -ch "$OUT"/*.safetensors | tail -1
step "Done: $OUT/tm_demo_v1.json"
