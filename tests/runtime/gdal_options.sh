#!/usr/bin/env bash
# tm_generate's GDAL conventions: -projwin / --bbox (+ --bbox-crs), --cutline, -t_srs / -tr,
# -co, -of, --config, and a clear refusal of /vsimem/ outputs.
#   gdal_options.sh TM_GENERATE MODEL_CARD SCENE SCRATCH      (SCENE: the 10 m EPSG:32632 sample)
set -euo pipefail
tm_generate=$1 card=$2 scene=$3 scratch=$4
rm -rf "$scratch" && mkdir -p "$scratch"
gen() { "$tm_generate" --input S2L2A="$scene" --model "$card" --greedy --quiet --steps 1 "$@"; }
check() { /usr/bin/python3 -c "$1" "${@:2}" || { echo "FAILED: $1"; exit 1; }; }
name=$(basename "${scene%.*}")

gen --to LULC --out-dir "$scratch/projwin" -projwin 601000 5299000 604000 5296000 \
  -co COMPRESS=LZW --config GDAL_NUM_THREADS 1
check 'import sys
from osgeo import gdal
d = gdal.Open(sys.argv[1])
assert (d.RasterXSize, d.RasterYSize) == (300, 300), (d.RasterXSize, d.RasterYSize)
assert d.GetGeoTransform()[0] == 601000 and d.GetGeoTransform()[3] == 5299000, d.GetGeoTransform()
assert d.GetMetadataItem("COMPRESSION", "IMAGE_STRUCTURE") == "LZW"
assert d.GetMetadataItem("TM_INPUT_S2L2A").endswith(sys.argv[2]), d.GetMetadataItem("TM_INPUT_S2L2A")' \
  "$scratch/projwin/${name}_LULC.tif" "$(basename "$scene")"

gen --to S1GRD --out-dir "$scratch/bbox" --bbox 10.35,47.81,10.39,47.835 --bbox-crs EPSG:4326 \
  -t_srs EPSG:4326 -tr 0.0001 0.0001 -of GTiff
check 'import sys
from osgeo import gdal, osr
d = gdal.Open(sys.argv[1])
srs = osr.SpatialReference(wkt=d.GetProjection())
assert srs.GetAuthorityCode(None) == "4326", d.GetProjection()
gt = d.GetGeoTransform()
assert abs(gt[1] - 0.0001) < 1e-12 and abs(gt[5] + 0.0001) < 1e-12, gt
assert abs(gt[0] - 10.35) < 1e-3 and d.GetDriver().ShortName == "GTiff"
assert d.GetMetadataItem("LAYOUT", "IMAGE_STRUCTURE") != "COG", "-of GTiff writes a plain GeoTIFF"' \
  "$scratch/bbox/${name}_S1GRD.tif"

# A triangle over the scene's upper left: outside it, outputs are nodata.
cat >"$scratch/triangle.geojson" <<'JSON'
{"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32632"}},
 "features": [{"type": "Feature", "properties": {}, "geometry": {"type": "Polygon",
  "coordinates": [[[600000, 5300000], [603000, 5300000], [600000, 5297000], [600000, 5300000]]]}}]}
JSON
gen --to LULC --out-dir "$scratch/cutline" --cutline "$scratch/triangle.geojson"
check 'import sys
from osgeo import gdal
d = gdal.Open(sys.argv[1])
assert (d.RasterXSize, d.RasterYSize) == (300, 300), (d.RasterXSize, d.RasterYSize)
a = d.GetRasterBand(1).ReadAsArray()
assert a[5, 5] != 0, "inside the triangle: generated"
assert a[290, 290] == 0, "outside the triangle: nodata"
assert (a == 0).mean() > 0.4, (a == 0).mean()' "$scratch/cutline/${name}_LULC.tif"

# Refusals: exit 1, a message naming the problem, nothing created.
if out=$(gen --out-dir /vsimem/x 2>&1); then echo "/vsimem/ accepted"; exit 1; fi
grep -q "local files only" <<<"$out" || { echo "unclear /vsimem/ refusal: $out"; exit 1; }
[ ! -e /vsimem ] || { echo "a folder named /vsimem was created"; exit 1; }
if out=$(gen --out-dir "$scratch/bad" -co NOT_AN_OPTION=1 2>&1); then echo "bad -co accepted"; exit 1; fi
grep -q "not a creation option" <<<"$out" || { echo "unclear -co refusal: $out"; exit 1; }
if out=$(gen --out-dir "$scratch/bad" -projwin 0 10 10 0 2>&1); then echo "box off the scene accepted"; exit 1; fi
grep -q "does not overlap" <<<"$out" || { echo "unclear refusal of a box off the scene: $out"; exit 1; }
echo "GDAL conventions: -projwin, --bbox/--bbox-crs, --cutline, -t_srs/-tr, -co, -of, --config, /vsimem/ refusal"
