#!/usr/bin/env bash
# A target's pixels depend only on the inputs and settings: not on which other targets are
# generated with it, nor on the batch size, nor on the tool. tm_generate with both targets
# (batch 3), tm_generate with one target (batch 1) and the GDAL plugin with the real TerraMind
# runtime must agree bit for bit.
#   plugin_matches_generate.sh TM_GENERATE PLUGIN_DIR MODEL_CARD SCENE SCRATCH
set -euo pipefail
tm_generate=$1 plugin_dir=$2 card=$3 scene=$4 scratch=$5
rm -rf "$scratch" && mkdir -p "$scratch/joint" "$scratch/single"
name=$(basename "${scene%.*}")
"$tm_generate" --input S2L2A="$scene" --to LULC,S1GRD --model "$card" --out-dir "$scratch/joint" \
  --steps 2 --seed 5 --batch 3 --quiet
for target in LULC S1GRD; do
  "$tm_generate" --input S2L2A="$scene" --to "$target" --model "$card" --out-dir "$scratch/single" \
    --steps 2 --seed 5 --batch 1 --quiet
  GDAL_DRIVER_PATH="$plugin_dir" gdal_translate -q \
    "TM:target=$target:model=$card:steps=2:seed=5:S2L2A=$scene" "$scratch/plugin_$target.tif"
  /usr/bin/python3 - "$scratch/single/${name}_$target.tif" "$scratch/joint/${name}_$target.tif" \
    "$scratch/plugin_$target.tif" <<'PY'
import sys
from osgeo import gdal
reference = gdal.Open(sys.argv[1])
for other_path in sys.argv[2:]:
    other = gdal.Open(other_path)
    assert reference.GetGeoTransform() == other.GetGeoTransform(), "geotransforms differ"
    assert reference.RasterCount == other.RasterCount, "band counts differ"
    for i in range(1, reference.RasterCount + 1):
        x = reference.GetRasterBand(i).ReadAsArray()
        y = other.GetRasterBand(i).ReadAsArray()
        if not (x == y).all():
            sys.exit(f"{other_path} band {i}: {(x != y).sum()} of {x.size} pixels differ from "
                     f"{sys.argv[1]}, max |diff| {abs(x.astype(float) - y).max()}")
    print(f"{other_path}: identical to {sys.argv[1]} ({reference.RasterCount} bands)")
PY
done
