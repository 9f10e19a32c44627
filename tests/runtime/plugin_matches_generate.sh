#!/usr/bin/env bash
# A target's pixels depend only on the inputs and settings: not on which other targets are
# generated with it, nor on the batch size, nor on the tool. tm_generate with both targets
# (batch 3), tm_generate with one target (batch 1) and the GDAL plugin with the real TerraMind
# runtime must agree bit for bit. Their provenance (TM_* items and TIFF tags, gdalinfo -json)
# must agree too: the plugin's dataset, its gdal_translate copy and both tm_generate outputs; the
# plugin adds TM_RUNTIME and TM_OVERVIEWS only, and has the same items in its "TM" domain.
#   plugin_matches_generate.sh TM_GENERATE PLUGIN_DIR MODEL_CARD SCENE SCRATCH
set -euo pipefail
export SOURCE_DATE_EPOCH=1700000000  # pins TM_CREATED and TIFFTAG_DATETIME in every output
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
  GDAL_DRIVER_PATH="$plugin_dir" /usr/bin/python3 - "$scratch/single/${name}_$target.tif" \
    "$scratch/joint/${name}_$target.tif" "$scratch/plugin_$target.tif" \
    "TM:target=$target:model=$card:steps=2:seed=5:S2L2A=$scene" <<'PY'
import json, subprocess, sys

PLUGIN_ONLY = {"TM_RUNTIME", "TM_OVERVIEWS"}

def metadata(name):
    info = json.loads(subprocess.run(["gdalinfo", "-json", "-mdd", "all", name], check=True,
                                     capture_output=True, text=True).stdout)
    return info.get("metadata", {})

def provenance(domains):
    return {k: v for k, v in domains.get("", {}).items() if k.startswith(("TM_", "TIFFTAG_"))}

reference_path, others, connection = sys.argv[1], sys.argv[2:-1], sys.argv[-1]
reference = provenance(metadata(reference_path))
for key in ("TM_AI_GENERATED", "TM_MODEL", "TM_MODEL_SHA256", "TM_SEED", "TM_VERSION",
            "TM_CREATED", "TIFFTAG_SOFTWARE", "TIFFTAG_IMAGEDESCRIPTION"):
    assert key in reference, f"{reference_path} has no {key}: {sorted(reference)}"
for name in others + [connection]:
    domains = metadata(name)
    items = provenance(domains)
    if name in (connection, others[-1]):  # the plugin's dataset and its copy
        missing = PLUGIN_ONLY - set(items)
        assert not missing, f"{name} lacks {sorted(missing)}"
        if name == connection:
            tm = domains.get("TM")
            assert tm is not None, f"{name} has no TM metadata domain: {sorted(domains)}"
            expected = {k[3:]: v for k, v in items.items() if k.startswith("TM_")}
            assert tm == expected, f"{name}: TM domain {tm} != TM_* items {expected}"
        items = {k: v for k, v in items.items() if k not in PLUGIN_ONLY}
    if items != reference:
        differ = sorted(k for k in set(items) | set(reference) if items.get(k) != reference.get(k))
        sys.exit(f"{name}: provenance differs from {reference_path} in " + "; ".join(
            f"{k}: {items.get(k)!r} != {reference.get(k)!r}" for k in differ))
    print(f"{name}: same provenance as {reference_path} ({len(reference)} items)")
PY
done
