#!/usr/bin/env bash
# The committed demo model (--model demo, tm_generate's default) still gives the figures of its
# README on the held-out samples, within 1 % (room for another CPU's rounding flipping a greedy
# token): a changed model, tokenizer path or metric shows up here.
#   demo_model_evidence.sh APPS_DIR SOURCE_DIR SHARED_DIR
set -uo pipefail
apps=$1 src=$2 shared=$3
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for m in S2L2A NDVI LULC S1RTC; do
  mkdir -p "$scratch/heldout/$m"
  for id in 282D_485L_3_3 38D_378R_2_3; do
    ln -s "$shared/data/terramesh_examples/$m/$id.tif" "$scratch/heldout/$m/$id.tif"
  done
done
"$apps/tm_eval" generation --data "$scratch/heldout" --pair 'S2L2A->NDVI' --pair 'S2L2A->LULC' \
  --pair 'S2L2A->S1RTC' --model demo --out "$scratch/eval" -q >"$scratch/log" 2>&1 ||
  { cat "$scratch/log"; exit 1; }
python3 - "$scratch/eval/report.json" "$src/sample_data/demo_model/evidence/report_demo.json" <<'PY'
import json, sys
now = {(s["pair"], s["predictor"]): s for s in json.load(open(sys.argv[1]))["summary"]}
then = {(s["pair"], s["predictor"]): s for s in json.load(open(sys.argv[2]))["summary"]}
bad = []
for key, row in now.items():
    for metric in ("mae", "rmse", "psnr", "ssim", "accuracy", "miou"):
        if metric in row and abs(row[metric] - then[key][metric]) > 1e-2 * max(1, abs(then[key][metric])):
            bad.append(f"{key} {metric}: {row[metric]} now, {then[key][metric]} recorded")
if bad:
    sys.exit("the demo model's held-out figures changed:\n" + "\n".join(bad))
print("demo model evidence reproduced:", len(now), "rows")
PY
