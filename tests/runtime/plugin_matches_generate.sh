#!/usr/bin/env bash
# The GDAL plugin with the real TerraMind runtime gives exactly tm_generate's pixels.
#   plugin_matches_generate.sh TM_GENERATE PLUGIN_DIR MODEL_CARD SCENE SCRATCH
set -euo pipefail
tm_generate=$1 plugin_dir=$2 card=$3 scene=$4 scratch=$5
rm -rf "$scratch" && mkdir -p "$scratch"
for target in LULC S1GRD; do
  "$tm_generate" --input S2L2A="$scene" --to "$target" --model "$card" --out-dir "$scratch" \
    --steps 2 --seed 5 --quiet
  GDAL_DRIVER_PATH="$plugin_dir" gdal_translate -q \
    "TM:target=$target:model=$card:steps=2:seed=5:S2L2A=$scene" "$scratch/plugin_$target.tif"
  /usr/bin/python3 - "$scratch/$(basename "${scene%.*}")_$target.tif" "$scratch/plugin_$target.tif" <<'PY'
import sys
from osgeo import gdal
a, b = (gdal.Open(p) for p in sys.argv[1:3])
assert a.GetGeoTransform() == b.GetGeoTransform(), "geotransforms differ"
assert a.RasterCount == b.RasterCount, "band counts differ"
for i in range(1, a.RasterCount + 1):
    x, y = a.GetRasterBand(i).ReadAsArray(), b.GetRasterBand(i).ReadAsArray()
    if not (x == y).all():
        sys.exit(f"band {i}: {(x != y).sum()} pixels differ, max |diff| {abs(x.astype(float) - y).max()}")
print(f"{sys.argv[2]}: identical to tm_generate ({a.RasterCount} bands)")
PY
done
