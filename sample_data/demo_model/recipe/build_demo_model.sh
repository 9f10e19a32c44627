#!/usr/bin/env bash
# Reproduces the demo model of sample_data/demo_model from the real samples in ../shared/data:
# stages the training samples, builds shards, trains three tokenizers, pre-tokenises, trains
# TerraMind in two phases and exports float16 safetensors + cards into sample_data/demo_model.
# Every step is skipped when its output exists and training steps resume from their last
# checkpoint, so an interrupted run (a session ending) is continued by running it again.
#
#   sample_data/demo_model/recipe/build_demo_model.sh           # 11 min measured on 2 cores
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
TRAIN=(433D_629L_3_1 609U_541L_3_0 637U_59R_1_3)
HELDOUT=(282D_485L_3_3 38D_378R_2_3)
TILE=$DATA/s2l2a_tile_T29RKH/S2L2A_T29RKH_20200219_100m_12band.tif
TERRAMESH=$DATA/terramesh_examples

step() { echo; echo "==== $1 ($(date -u +%H:%M:%S))"; }
mkdir -p "$WORK"
cp "$HERE"/*.json "$WORK/"
cd "$WORK"

step "Staging the training samples (links)"
# NDVI has labels wherever there is Sentinel-2: the T29RKH tile (desert, 100 m: 25 chips), the
# training TerraMesh samples (each linked 8 times: oversampled), the four BigEarthNet L2A patches
# (bands stacked and resampled from 120 to 224 px with GDAL, 5.4 m pixels: real spectra of
# European farmland, forest and water; each linked 6 times) and the two Sen1Floods11 S2 chips
# (Spain, USA; Level-1C, so they train the NDVI tokenizer only: TerraMind's S2L2A input skips
# samples without S2L2A).
rm -rf stage
mkdir -p stage/ndvi/S2L2A stage/ndvi/S2L1C stage/terramesh/S2L2A stage/terramesh/LULC \
  stage/terramesh/S1RTC
ln -s "$TILE" stage/ndvi/S2L2A/T29RKH_20200219.tif
for chip in Spain_7370579 USA_430764; do
  ln -s "$DATA/sen1floods11/S2Hand/${chip}_S2Hand.tif" "stage/ndvi/S2L1C/$chip.tif"
done
mkdir -p stage/bigearthnet
for patch in "$DATA"/bigearthnet_examples/S2/*/; do
  name=$(basename "$patch")
  bands=()
  for b in B01 B02 B03 B04 B05 B06 B07 B08 B8A B09 B11 B12; do bands+=("$patch/${name}_$b.tif"); done
  gdalbuildvrt -q -separate -resolution highest -r bilinear "stage/bigearthnet/$name.vrt" "${bands[@]}"
  gdal_translate -q -outsize 224 224 -r bilinear "stage/bigearthnet/$name.vrt" \
    "stage/bigearthnet/$name.tif"
  for k in 1 2 3 4 5 6; do
    ln -s "$PWD/stage/bigearthnet/$name.tif" "stage/ndvi/S2L2A/BigEarthNet_${name}_copy$k.tif"
  done
done
for id in "${TRAIN[@]}"; do
  for k in 1 2 3 4 5 6 7 8; do ln -s "$TERRAMESH/S2L2A/$id.tif" "stage/ndvi/S2L2A/${id}_copy$k.tif"; done
  for m in S2L2A LULC S1RTC; do ln -s "$TERRAMESH/$m/$id.tif" "stage/terramesh/$m/$id.tif"; done
done

step "Shards"
# NDVI is derived from B04/B08 everywhere (TerraMesh's own NDVI files agree to 2.5e-4).
[ -f shards/ndvi/manifest.json ] ||
  "$APPS/tm_shards" build stage/ndvi --chip 224 --stride 224 --derive-ndvi --allow-partial \
    --val-fraction 0 --out shards/ndvi
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

step "Evidence: the held-out samples, the demo against three baselines"
# Baselines: the same architecture and tokenizers with TerraMind's weights at their seeded random
# initialisation (a 1-step run at learning rate 0), the random-weight fixture model (it has LULC
# only) and the constant per-band mean of the training samples.
train terramind run_random_init.json
sed -e 's#"checkpoint_prefix": ""#"checkpoint_prefix": "",\n  "checkpoint": "runs/random_init/final/model.pt",\n  "tokenizers": {"NDVI": "'"$OUT"'/tokenizer_ndvi.json", "LULC": "'"$OUT"'/tokenizer_lulc.json", "S1RTC": "'"$OUT"'/tokenizer_s1rtc.json"}#' \
  terramind_demo.json >random_init_card.json
rm -rf heldout
for m in S2L2A NDVI LULC S1RTC; do
  mkdir -p "heldout/$m"
  for id in "${HELDOUT[@]}"; do ln -s "$TERRAMESH/$m/$id.tif" "heldout/$m/$id.tif"; done
done
note="Smoke figures on two held-out TerraMesh samples, not a benchmark. Greedy decoding, seed 0."
"$APPS/tm_eval" generation --data heldout --pair 'S2L2A->NDVI' --pair 'S2L2A->LULC' \
  --pair 'S2L2A->S1RTC' --model "demo=$OUT/tm_demo_v1.json" --model random-init=random_init_card.json \
  --baseline-mean shards/terramesh --out eval/demo --title "tm_demo_v1 on held-out samples" \
  --note "$note" -q
"$APPS/tm_eval" generation --data heldout --pair 'S2L2A->LULC' \
  --model "fixture=$ROOT/sample_data/fixture_models/terramind_fixture.json" --out eval/fixture \
  --title "Random-weight fixture model on held-out samples" --note "$note" -q
mkdir -p "$OUT/evidence"
cp eval/demo/report.json "$OUT/evidence/report_demo.json"
cp eval/fixture/report.json "$OUT/evidence/report_fixture.json"
# Quicklooks for the README: input, demo generation and truth of each held-out sample and target.
for id in "${HELDOUT[@]}"; do
  for t in NDVI LULC S1RTC; do
    for f in eval/demo/generated/quicklooks/"${id}_${t}"_*.png; do
      case $f in
        *_input.png) [ "$t" = NDVI ] && cp "$f" "$OUT/evidence/${id}_S2L2A.png" ;;
        *_truth.png) cp "$f" "$OUT/evidence/${id}_${t}_truth.png" ;;
      esac
    done
    "$APPS/tm_generate" --input "S2L2A=$TERRAMESH/S2L2A/$id.tif" --to "$t" \
      --model "$OUT/tm_demo_v1.json" --greedy --out-dir "eval/quicklook_$id" --overwrite \
      --quicklook >/dev/null
  done
  cp eval/quicklook_"$id"/*.png "$OUT/evidence/" 2>/dev/null || true
done
step "Done: $OUT/tm_demo_v1.json"
