#!/usr/bin/env bash
# tm_generate --stac: an Earth-Search-style STAC item whose Sentinel-2 bands are separate files
# (10, 20 and 60 m) gives the pixels of the same run on the stacked scene; the outputs name the
# item as their input; broken items are refused with the item named.
#   stac_generate.sh TM_GENERATE MODEL_CARD SCENE SCRATCH
set -euo pipefail
tm_generate=$1 card=$2 scene=$3 scratch=$4
rm -rf "$scratch" && mkdir -p "$scratch/bands"
fail() { echo "FAIL: $*"; exit 1; }
# 240 x 240 px of the scene (a corner with its nodata wedge), one file per band at its resolution.
gdal_translate -q -srcwin 784 784 240 240 "$scene" "$scratch/stack.tif"
keys=(coastal blue green red rededge1 rededge2 rededge3 nir nir08 nir09 swir16 swir22)
names=(B01 B02 B03 B04 B05 B06 B07 B08 B8A B09 B11 B12)
assets=""
for i in "${!names[@]}"; do
  b=${names[$i]}
  case $b in B02 | B03 | B04 | B08) r=10 ;; B01 | B09) r=60 ;; *) r=20 ;; esac
  gdal_translate -q -b $((i + 1)) "$scratch/stack.tif" "$scratch/bands/one.tif"
  gdalwarp -q -tr $r $r -r near "$scratch/bands/one.tif" "$scratch/bands/$b.tif"
  assets+="\"${keys[$i]}\": {\"href\": \"./bands/$b.tif\", \"type\": \"image/tiff; application=geotiff\", \"eo:bands\": [{\"name\": \"$b\"}]},"
done
rm "$scratch/bands/one.tif"
# The scene a user would stack by hand from those files: every band back on the 10 m grid.
read -r -a extent < <(/usr/bin/python3 -c "
from osgeo import gdal
d = gdal.Open('$scratch/stack.tif'); g = d.GetGeoTransform()
print(g[0], g[3] + g[5] * d.RasterYSize, g[0] + g[1] * d.RasterXSize, g[3])")
separate=()
for b in "${names[@]}"; do
  gdalwarp -q -tr 10 10 -te "${extent[@]}" -r near "$scratch/bands/$b.tif" "$scratch/up_$b.tif"
  separate+=("$scratch/up_$b.tif")
done
gdalbuildvrt -q -separate "$scratch/by_hand.vrt" "${separate[@]}"
gdal_translate -q -a_nodata 0 "$scratch/by_hand.vrt" "$scratch/by_hand.tif"
cat >"$scratch/item.json" <<JSON
{"type": "Feature", "stac_version": "1.0.0", "id": "sample", "collection": "sentinel-2-l2a",
 "geometry": null, "properties": {}, "links": [],
 "assets": {${assets%,}}}
JSON
common=(--model "$card" --to LULC,S1GRD --steps 2 --greedy --quiet)
"$tm_generate" --stac "$scratch/item.json" "${common[@]}" --out-dir "$scratch/stac" ||
  fail "tm_generate --stac failed"
"$tm_generate" --input S2L2A="$scratch/by_hand.tif" "${common[@]}" --out-dir "$scratch/direct"
for t in LULC S1GRD; do
  /usr/bin/python3 - "$scratch/stac/item_$t.tif" "$scratch/direct/by_hand_$t.tif" <<'PY' || fail "$t differs"
import sys
from osgeo import gdal
a, b = (gdal.Open(p) for p in sys.argv[1:3])
assert a.GetGeoTransform() == b.GetGeoTransform(), "grids differ"
for i in range(1, a.RasterCount + 1):
    assert a.GetRasterBand(i).ReadRaster() == b.GetRasterBand(i).ReadRaster(), f"band {i} differs"
PY
done
gdalinfo "$scratch/stac/item_LULC.tif" >"$scratch/info.txt"
grep -q "TM_INPUT_S2L2A=.*item.json#" "$scratch/info.txt" ||
  fail "the output does not name the STAC item"
# Broken items: a band missing, not an item.
sed 's/"rededge1": {[^}]*}]},//' "$scratch/item.json" >"$scratch/no_b05.json"
status=0
"$tm_generate" --stac "$scratch/no_b05.json" --stac-modalities S2L2A "${common[@]}" \
  --out-dir "$scratch/x" 2>"$scratch/err" || status=$?
[ "$status" -eq 1 ] && grep -q "no_b05.json.*B05" "$scratch/err" || fail "missing band: $status $(cat "$scratch/err")"
echo '{"type": "Collection", "id": "c"}' >"$scratch/collection.json"
status=0
"$tm_generate" --stac "$scratch/collection.json" "${common[@]}" --out-dir "$scratch/x" \
  2>"$scratch/err" || status=$?
[ "$status" -eq 1 ] && grep -q "collection.json" "$scratch/err" || fail "collection: $(cat "$scratch/err")"
[ ! -e "$scratch/x" ] || [ -z "$(ls -A "$scratch/x")" ] || fail "a refused run left files"
echo "stac: ok"
