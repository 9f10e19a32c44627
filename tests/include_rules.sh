#!/usr/bin/env bash
# The include rules of docs/ARCHITECTURE.md ("Who may include whom"), checked on the sources:
# every #include that breaks one is listed and the test fails.
#   include_rules.sh SOURCE_DIR
set -uo pipefail
cd "$1"
status=0
# forbid PART_GLOB... -- PATTERN WHY: no file of the part may include a header matching PATTERN.
forbid() {
  local why=$1 pattern=$2
  shift 2
  local hits
  hits=$(grep -nE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]($pattern)" -r "$@" \
    --include='*.h' --include='*.cpp' 2>/dev/null || true)
  if [ -n "$hits" ]; then
    echo "$why:"
    echo "$hits" | sed 's/^/  /'
    status=1
  fi
}
gdal='gdal|cpl_|ogr_|ogrsf|vrtdataset'
torch='torch/|ATen/|c10/'
tiling_headers='tm/(tiling|raster_io|pipeline|blending|window_engine|window_model|pixel_window|quicklook|stac_item|token_raster|tile_grid|interrupt|option_names|settings)\.h'
model_headers='tm/(model|checkpoint|cards|network|tokenizer|text|pretraining)\.h'

registry=(libtm/include/tm/registry.h libtm/include/tm/ascii_strings.h libtm/include/tm/checksum.h
  libtm/src/registry.cpp libtm/src/common/checksum.cpp)
existing=()
for f in "${registry[@]}"; do [ -e "$f" ] && existing+=("$f"); done
forbid "tm_registry uses LibTorch (it must stay plain C++)" "$torch|$model_headers" "${existing[@]}"
forbid "libtm uses GDAL, TBB, Boost or the tiling library" \
  "$gdal|oneapi/|tbb/|boost/|$tiling_headers|tm/runtime\\.h" libtm
forbid "tiling uses LibTorch, the model, the runtime or argument parsing" \
  "$torch|$model_headers|tm/runtime\\.h|tm/scene_tokenizing\\.h|boost/" tiling
forbid "runtime uses GDAL or argument parsing" "$gdal|boost/" runtime
forbid "mosaic uses LibTorch, the model, the runtime or argument parsing" \
  "$torch|$model_headers|tm/runtime\\.h|boost/" mosaic
forbid "tokenizing uses GDAL directly (raster I/O belongs to tiling) or argument parsing" \
  "$gdal|boost/" tokenizing
forbid "the GDAL plugin uses LibTorch, the model or runtime sources (only tm_runtime_api.h)" \
  "$torch|$model_headers|tm/runtime\\.h|terramind_window_model" gdal_plugin
forbid "the ABI header includes more than the window-model types" \
  "tm/(tiling|raster_io|pipeline|blending|window_engine)\\.h" gdal_plugin/tm_runtime_api.h
# training/: the data half (shards, budgets, launch environment, metrics) is plain C++; the
# trainer (src/trainer, tm/trainer.h, tm/shard_tokenizer.h) is LibTorch but reads rasters only through the shards.
training_data=()
while IFS= read -r f; do training_data+=("$f"); done < <(find training -name '*.h' -o -name '*.cpp' |
  grep -vE '^training/(src/trainer/|include/tm/(trainer|shard_tokenizer)\.h)' | sort)
forbid "training data uses LibTorch, the model, tiling, the runtime or argument parsing" \
  "$torch|$model_headers|$tiling_headers|tm/runtime\\.h|boost/" "${training_data[@]}"
forbid "the trainer uses GDAL, tiling, the runtime or argument parsing" \
  "$gdal|$tiling_headers|tm/runtime\\.h|boost/" training/src/trainer training/include/tm/trainer.h \
  training/include/tm/shard_tokenizer.h
forbid "the model cache uses LibTorch, GDAL, the model or tiling" \
  "$torch|$gdal|$model_headers|$tiling_headers" models
forbid "apps use GDAL directly (ask tiling or training)" "$gdal" apps
[ $status -eq 0 ] && echo "include rules: kept"
exit $status
