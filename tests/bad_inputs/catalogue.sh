#!/usr/bin/env bash
# The bad-input catalogue: makes every kind of bad input in SCRATCH, runs the tool on it and prints
# a Markdown table of what the user gets: the tool's message (the first line on stderr) and the
# exit status. README.md holds the same table ("Bad input: what you get"); the CTest test
# bad_input_catalogue fails when they differ.
#
#   tests/bad_inputs/catalogue.sh BUILD_DIR SHARED_DIR SCRATCH > table.md
#
# Paths in messages are written as <dir> (SCRATCH), <build>, <shared> and <src> (this repository).
# Every row should exit non-zero: a bad input accepted with exit 0 is marked "ACCEPTED (defect"
# (check_catalogue.sh then fails), unless the row says the acceptance is documented behaviour.
set -uo pipefail
if [ $# -ne 3 ]; then
  echo "usage: $0 BUILD_DIR SHARED_DIR SCRATCH" >&2
  exit 2
fi
build=$(cd "$1" && pwd -P) || exit 2
shared=$(cd "$2" && pwd -P) || exit 2
src=$(cd "$(dirname "$0")/../.." && pwd -P)
rm -rf "$3" && mkdir -p "$3" || exit 2
s=$(cd "$3" && pwd -P)

gen=$build/apps/tm_generate info=$build/apps/tm_info
convert=$build/apps/tm_convert tokenize=$build/apps/tm_tokenize shards=$build/apps/tm_shards
for tool in "$gen" "$info" "$convert" "$tokenize" "$shards" "$build/gdal_plugin/gdal_TM.so"; do
  [ -e "$tool" ] || { echo "missing $tool (build it first)" >&2; exit 2; }
done
sysgdal=/usr/bin/python3  # Debian's python3, with GDAL's bindings (osgeo)
scene_src=$shared/data/terramesh_examples/S2L2A/38D_378R_2_3.tif  # 224 x 224, 12 bands, 10 m

# ---------------------------------------------------------------------------------------------
# The inputs. Everything below lands in SCRATCH ($s); the good ones first.
quiet() { "$@" >/dev/null 2>&1 || { echo "could not prepare: $*" >&2; exit 2; }; }
cp "$scene_src" "$s/s2.tif"
chmod u+w "$s/s2.tif"
scene=$s/s2.tif
echo "this is not a raster" >"$s/not_a_raster.tif"
head -c 20000 "$scene" >"$s/truncated.tif"
quiet gdal_translate -q -b 1 -b 2 -b 3 "$scene" "$s/three_bands.tif"
quiet gdal_translate -q -ot CFloat32 "$scene" "$s/complex.tif"
quiet "$sysgdal" -c '
import sys
from osgeo import gdal
src = gdal.Open(sys.argv[1])
dst = gdal.GetDriverByName("GTiff").Create(sys.argv[2], src.RasterXSize, src.RasterYSize,
                                           src.RasterCount, src.GetRasterBand(1).DataType)
dst.WriteRaster(0, 0, src.RasterXSize, src.RasterYSize, src.ReadRaster())
' "$scene" "$s/no_georef.tif"
cp "$scene" "$s/pixel_100m.tif" && chmod u+w "$s/pixel_100m.tif"
quiet gdal_edit.py -a_ullr 600000 9650000 622400 9627600 "$s/pixel_100m.tif"
quiet gdal_create -q -of GTiff -outsize 224 224 -bands 12 -ot Float32 -burn nan \
  -a_srs EPSG:32736 -a_ullr 600000 9650000 602240 9647760 "$s/all_nan.tif"
quiet gdal_create -q -of GTiff -outsize 224 224 -bands 12 -ot UInt16 -burn 0 -a_nodata 0 \
  -a_srs EPSG:32736 -a_ullr 600000 9650000 602240 9647760 "$s/all_nodata.tif"
quiet gdal_translate -q -srcwin 0 0 100 100 "$scene" "$s/small.tif"
# S1GRD-shaped (2 bands, float dB) on another grid: a 112 x 112 crop, shifted by half a pixel.
quiet gdal_translate -q -b 1 -b 2 -ot Float32 -scale 0 10000 -25 0 -srcwin 0 0 112 112 \
  "$scene" "$s/s1_other_grid.tif"
quiet gdal_edit.py -a_ullr 617306.82 9625093.23 618426.82 9623973.23 "$s/s1_other_grid.tif"
cp "$shared/data/terramesh_examples/DEM/38D_378R_2_3.tif" "$s/dem.tif"
mkdir -p "$s/existing" "$s/read_only"
touch "$s/existing/s2_S1GRD.tif"
chmod 555 "$s/read_only"
# Token rasters for tm_tokenize decode: one without tm_tokenize metadata, one with broken metadata.
quiet gdal_create -q -of GTiff -outsize 14 14 -bands 1 -ot UInt16 -a_srs EPSG:32736 \
  -a_ullr 600000 9650000 602240 9647760 "$s/tokens_plain.tif"
quiet gdal_create -q -of GTiff -outsize 14 14 -bands 1 -ot UInt16 -a_srs EPSG:32736 \
  -a_ullr 600000 9650000 602240 9647760 -mo TM_FORMAT=tm-token-raster/1 -mo TM_MODALITY=LULC \
  -mo TM_TOKENIZER=x -mo TM_TOKENIZER_CARD={} -mo TM_FSQ_LEVELS=7-five-5 -mo TM_VOCAB_SIZE=4375 \
  -mo TM_PATCH_SIZE=16 -mo TM_TILE_SIZE=224 -mo TM_SOURCE_WIDTH=224 -mo TM_SOURCE_HEIGHT=224 \
  "$s/tokens_bad_metadata.tif"
# Model cards: the fixture card with absolute paths, one thing broken in each; bad checkpoints.
quiet python3 - "$src/sample_data/fixture_models" "$shared/fixtures" "$s" <<'EOF'
import json, os, struct, sys, zipfile
models, fixtures, out = sys.argv[1:]
card = json.load(open(os.path.join(models, "terramind_fixture.json")))
card["checkpoint"] = os.path.normpath(os.path.join(models, card["checkpoint"]))
card["tokenizers"] = {k: os.path.join(models, v) for k, v in card["tokenizers"].items()}
def write(name, **changes):
    json.dump(dict(card, **changes), open(os.path.join(out, name + ".json"), "w"), indent=2)
write("card")
write("card_missing_checkpoint", checkpoint=os.path.join(out, "no_such.pt"))
write("card_truncated_pt", checkpoint=os.path.join(out, "truncated.pt"))
write("card_flipped_pt", checkpoint=os.path.join(out, "flipped.pt"))
write("card_patch_size_0", patch_size=0)
write("card_dim_fraction", dim=64.5)
write("card_unknown_key", patchsize=16)
write("card_wrong_tokenizer", tokenizers=dict(card["tokenizers"], S1GRD=card["tokenizers"]["LULC"]))
open(os.path.join(out, "card_bad_json.json"), "w").write('{"name": "broken", "dim": 64,\n')
data = bytearray(open(card["checkpoint"], "rb").read())
open(os.path.join(out, "truncated.pt"), "wb").write(data[: len(data) // 2])
with zipfile.ZipFile(card["checkpoint"]) as archive:  # 16 bytes inside the largest tensor
    entry = max((i for i in archive.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
name_length, extra_length = struct.unpack_from("<HH", data, entry.header_offset + 26)
start = entry.header_offset + 30 + name_length + extra_length + entry.file_size // 2
for i in range(start, start + 16):
    data[i] ^= 0xFF
open(os.path.join(out, "flipped.pt"), "wb").write(data)
open(os.path.join(out, "not_a_checkpoint.pt"), "w").write("not a checkpoint\n")
EOF
card=$s/card.json
# Descriptors for the GDAL plugin.
cat >"$s/duplicate.tmgen" <<EOF
{"tm_descriptor": 1, "inputs": {"S2L2A": "s2.tif"}, "target": "S1GRD", "target": "LULC",
 "model": "card.json"}
EOF
cat >"$s/bad_json.tmgen" <<EOF
{"tm_descriptor": 1, "inputs": {"S2L2A": "s2.tif"}, "target": "S1GRD", "settings": {"window":
EOF

# ---------------------------------------------------------------------------------------------
# The rows.
shorten() {  # paths -> placeholders, one line, table-safe
  local text=$1
  text=${text//"$s"/<dir>}
  text=${text//"$build"/<build>}
  text=${text//"$shared"/<shared>}
  text=${text//"$src"/<src>}
  text=${text//$'\r'/}
  text=${text//|/\\|}
  text=${text//\`/\'}
  printf '%s' "$text"
}
rows=0
shown_args() {  # the arguments as a shell would need them ("" for an empty one)
  local a
  for a in "$@"; do
    if [ -z "$a" ]; then printf ' ""'; else printf ' %s' "$a"; fi
  done
}
# run INPUT TRIED COMMAND...: TRIED is what the table shows of the command.
run() {
  local input=$1 tried=$2
  shift 2
  local err=$s/.stderr out=$s/.stdout status message
  timeout 120 "$@" >"$out" 2>"$err" </dev/null
  status=$?
  # The tool's own message: the first line naming a tool or a GDAL error, else the first line.
  message=$(grep -m1 -E '^(tm_[a-z]+: |ERROR [0-9]+: )' "$err" || grep -m1 -v '^[[:space:]]*$' "$err")
  [ -n "$message" ] || message="(nothing on stderr)"
  local shown=$status
  if [ "$status" -eq 0 ]; then
    # A bad input must not pass; what it wrote is shown instead of a message.
    message=$(grep -m1 -v '^[[:space:]]*$' "$out")
    shown="0 ${accepted_note:-ACCEPTED (defect: a bad input passes)}"
  fi
  printf '| %s | `%s` | `%s` | %s |\n' "$input" "$(shorten "$tried")" "$(shorten "$message")" "$shown"
  rows=$((rows + 1))
}
# g INPUT ARGS...: tm_generate with ARGS beside the usual ones, which the table does not show: the
# scene as S2L2A unless ARGS give --input, the fixture card unless --model, a fresh output folder
# unless --out-dir, --steps 2 unless --steps, --greedy unless --temperature.
g() {
  local input=$1
  shift
  local args=("$@") extra=() a
  local has_input=0 has_model=0 has_out=0 has_steps=0 has_temperature=0
  for a in "${args[@]}"; do
    case $a in
      --input) has_input=1 ;; --model) has_model=1 ;; --out-dir) has_out=1 ;;
      --steps) has_steps=1 ;; --temperature) has_temperature=1 ;;
    esac
  done
  [ $has_input = 1 ] || extra+=(--input "S2L2A=$scene")
  [ $has_model = 1 ] || extra+=(--model "$card")
  [ $has_out = 1 ] || extra+=(--out-dir "$s/out/$rows")
  [ $has_steps = 1 ] || extra+=(--steps 2)
  [ $has_temperature = 1 ] || extra+=(--greedy)  # --greedy would replace the temperature
  run "$input" "tm_generate$(shown_args "${args[@]}")" "$gen" "${args[@]}" "${extra[@]}"
}
# As g, as an unprivileged user when run as root (root may write anywhere).
g_unprivileged() {
  if [ "$(id -u)" = 0 ]; then
    local input=$1
    shift
    run "$input" "tm_generate$(shown_args "$@")" setpriv --reuid=65534 --regid=65534 --clear-groups \
      "$gen" "$@" --input "S2L2A=$scene" --model "$card" --steps 2 --greedy
  else
    g "$@"
  fi
}
plugin() {
  run "$1" "gdalinfo $2" env GDAL_DRIVER_PATH="$build/gdal_plugin" gdalinfo "$2"
}

echo "| input | tried | message (first line) | exit |"
echo "| --- | --- | --- | --- |"
# Rasters given to tm_generate.
g "missing file" --input "S2L2A=$s/missing.tif"
g "not a raster (a text file)" --input "S2L2A=$s/not_a_raster.tif"
g "truncated GeoTIFF" --input "S2L2A=$s/truncated.tif"
g "wrong band count (3 bands as S2L2A)" --input "S2L2A=$s/three_bands.tif"
g "wrong data type (complex)" --input "S2L2A=$s/complex.tif"
g "no georeferencing" --input "S2L2A=$s/no_georef.tif"
g "wrong pixel size (100 m as S2L2A)" --input "S2L2A=$s/pixel_100m.tif"
g "NaN-only scene" --input "S2L2A=$s/all_nan.tif"
g "nodata-only scene" --input "S2L2A=$s/all_nodata.tif"
# Documented behaviour, not a refusal: windows larger than the scene are padded (README, Inputs).
accepted_note="accepted as documented: the window is padded" \
  g "raster smaller than a window (100 x 100)" --input "S2L2A=$s/small.tif"
g "inputs on different grids" --input "S2L2A=$scene" --input "S1GRD=$s/s1_other_grid.tif"
g "a modality the model does not take" --input "DEM=$s/dem.tif"
g "same modality twice" --input "S2L2A=$scene" --input "S2L2A=$scene"
g "unknown modality" --input "S3=$scene"
# Outputs.
g "existing output" --to S1GRD --out-dir "$s/existing"
g_unprivileged "unwritable output folder" --out-dir "$s/read_only"
g "output folder is a file" --out-dir "$s/not_a_raster.tif"
g "/vsimem/ output" --out-dir /vsimem/out
# Option values.
g "top-p out of range" --top-p 2
g "negative temperature" --temperature -1
g "zero diffusion steps" --steps 0
g "negative threads" --threads -5
g "empty target list" --to ""
g "target the model cannot generate" --to DEM
g "target that is no modality" --to FOO
g "--input without '='" --input "$scene"
g "unknown option" --frobnicate
g "unknown blend" --blend max
g "unknown creation option" -co FOO=1
g "--bbox outside the scene" --bbox 0,0,1000,1000
g "window not a multiple of the patch" --window 200
g "overlap not below the window" --overlap 224
g "--device cuda without CUDA" --device cuda
# Model cards and checkpoints.
g "model card missing" --model "$s/no_such_card.json"
g "card: checkpoint missing" --model "$s/card_missing_checkpoint.json"
g "card: truncated .pt" --model "$s/card_truncated_pt.json"
g "card: .pt with flipped bytes (CRC)" --model "$s/card_flipped_pt.json"
g "card: patch_size 0" --model "$s/card_patch_size_0.json"
g "card: dim 64.5" --model "$s/card_dim_fraction.json"
g "card: unknown key" --model "$s/card_unknown_key.json"
g "card: LULC tokenizer under S1GRD" --model "$s/card_wrong_tokenizer.json"
g "card: bad JSON" --model "$s/card_bad_json.json"
# The other tools.
run "tm_convert: not a checkpoint" "tm_convert $s/not_a_checkpoint.pt --out $s/x.safetensors" \
  "$convert" "$s/not_a_checkpoint.pt" --out "$s/x.safetensors"
run "tm_convert: .pt with flipped bytes (CRC)" "tm_convert $s/flipped.pt --out $s/x.safetensors" \
  "$convert" "$s/flipped.pt" --out "$s/x.safetensors"
run "tm_info: bad card (patch_size 0)" "tm_info --model $s/card_patch_size_0.json" \
  "$info" --model "$s/card_patch_size_0.json"
run "tm_info: card with bad JSON" "tm_info --model $s/card_bad_json.json" \
  "$info" --model "$s/card_bad_json.json"
run "tm_info: not a raster" "tm_info $s/not_a_raster.tif" "$info" "$s/not_a_raster.tif"
run "tm_info: raster does not fit --as" "tm_info $s/three_bands.tif --as S2L2A" \
  "$info" "$s/three_bands.tif" --as S2L2A
run "tm_info: unknown modality" "tm_info --modality FOO" "$info" --modality FOO
run "tm_tokenize: raster without token metadata" \
  "tm_tokenize decode $s/tokens_plain.tif --out $s/x.tif" \
  "$tokenize" decode "$s/tokens_plain.tif" --out "$s/x.tif"
run "tm_tokenize: token raster with broken metadata" \
  "tm_tokenize decode $s/tokens_bad_metadata.tif --out $s/x.tif" \
  "$tokenize" decode "$s/tokens_bad_metadata.tif" --out "$s/x.tif"
lulc_tokenizer=$src/sample_data/fixture_models/tokenizer_lulc_fixture.json
run "tm_tokenize: not a raster" \
  "tm_tokenize encode $s/not_a_raster.tif --modality LULC --tokenizer $lulc_tokenizer --out $s/x.tif" \
  "$tokenize" encode "$s/not_a_raster.tif" --modality LULC --tokenizer "$lulc_tokenizer" \
  --out "$s/x.tif"
# tm_shards: sample folders (DEM + NDVI of two TerraMesh examples) with one thing wrong each, and
# a built dataset whose shards are then damaged.
examples=$shared/data/terramesh_examples
pair() {
  mkdir -p "$1/DEM" "$1/NDVI"
  for id in 38D_378R_2_3 282D_485L_3_3; do
    cp "$examples/DEM/$id.tif" "$1/DEM/" && cp "$examples/NDVI/$id.tif" "$1/NDVI/"
  done
  chmod -R u+w "$1"
}
mkdir -p "$s/shards_empty/DEM"
pair "$s/shards_misaligned"
quiet "$sysgdal" -c '
import sys
from osgeo import gdal
ds = gdal.Open(sys.argv[1], gdal.GA_Update)
gt = list(ds.GetGeoTransform()); gt[0] += 10; ds.SetGeoTransform(gt)
ds = None
' "$s/shards_misaligned/NDVI/38D_378R_2_3.tif"
pair "$s/shards_missing" && rm "$s/shards_missing/NDVI/282D_485L_3_3.tif"
pair "$s/shards_bands" && mkdir -p "$s/shards_bands/S2L2A"
cp "$s/three_bands.tif" "$s/shards_bands/S2L2A/38D_378R_2_3.tif"
cp "$scene" "$s/shards_bands/S2L2A/282D_485L_3_3.tif"
quiet gdal_edit.py -a_ullr 790236.0404 7198039.2523 792476.0404 7195799.2523 -a_srs EPSG:32722 \
  "$s/shards_bands/S2L2A/282D_485L_3_3.tif"
pair "$s/shards_nan"
quiet "$sysgdal" -c '
import sys
from osgeo import gdal
ds = gdal.Open(sys.argv[1], gdal.GA_Update)
ds.GetRasterBand(1).Fill(float("nan"))
ds = None
' "$s/shards_nan/NDVI/38D_378R_2_3.tif"
# Built from relative paths: the records (and so the shard sizes) do not depend on the checkout.
(cd "$shared/data" && quiet "$shards" build terramesh_examples --out "$s/shards_ds" --val-fraction 0 \
  --max-samples-per-shard 3 -q)
cp -r "$s/shards_ds" "$s/shards_truncated" && cp -r "$s/shards_ds" "$s/shards_tampered"
truncate -s 1000000 "$s/shards_truncated/train/shards_ds-train-000001.tar"
# One byte flipped in place (Python, not dd: under the sanitizer job's preloaded ASan dd's
# aligned_alloc aborts).
quiet "$sysgdal" -c '
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(5000)
    f.write(b"\xff")
' "$s/shards_tampered/train/shards_ds-train-000000.tar"
run "tm_shards: empty input folder" "tm_shards build $s/shards_empty --out $s/shards_out" \
  "$shards" build "$s/shards_empty" --out "$s/shards_out"
run "tm_shards: misaligned sample" "tm_shards build $s/shards_misaligned --out $s/shards_out" \
  "$shards" build "$s/shards_misaligned" --out "$s/shards_out"
run "tm_shards: missing modality file" "tm_shards build $s/shards_missing --out $s/shards_out" \
  "$shards" build "$s/shards_missing" --out "$s/shards_out"
run "tm_shards: wrong band count" "tm_shards build $s/shards_bands --out $s/shards_out" \
  "$shards" build "$s/shards_bands" --out "$s/shards_out"
run "tm_shards: all-NaN sample" "tm_shards build $s/shards_nan --out $s/shards_out" \
  "$shards" build "$s/shards_nan" --out "$s/shards_out"
run "tm_shards: existing dataset" "tm_shards build <shared>/data/terramesh_examples --out $s/shards_ds" \
  "$shards" build "$examples" --out "$s/shards_ds"
run "tm_shards: truncated shard" "tm_shards verify $s/shards_truncated" \
  "$shards" verify "$s/shards_truncated"
run "tm_shards: shard checksum mismatch" "tm_shards verify $s/shards_tampered" \
  "$shards" verify "$s/shards_tampered"
run "tm_shards: not a dataset" "tm_shards verify $s/shards_empty" "$shards" verify "$s/shards_empty"
run "tm_shards: --input without '='" "tm_shards build --input $s/shards_empty --out $s/shards_out" \
  "$shards" build --input "$s/shards_empty" --out "$s/shards_out"
[ -e "$s/shards_out" ] && echo "tm_shards left $s/shards_out behind" >&2
# The GDAL plugin (gdalinfo with GDAL_DRIVER_PATH=<build>/gdal_plugin).
plugin "plugin: empty connection string" "TM:"
plugin "plugin: unknown key" "TM:target=S1GRD:model=$card:bogus=1:S2L2A=$scene"
plugin "plugin: input missing" "TM:target=S1GRD:model=$card:S2L2A=$s/missing.tif"
plugin "plugin: model missing" "TM:target=S1GRD:model=$s/no_such_card.json:S2L2A=$scene"
plugin "plugin: .tmgen with duplicate keys" "$s/duplicate.tmgen"
plugin "plugin: .tmgen with bad JSON" "$s/bad_json.tmgen"

chmod 755 "$s/read_only"
echo "$rows rows" >&2
