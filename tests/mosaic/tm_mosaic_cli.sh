#!/usr/bin/env bash
# tm_mosaic on a synthetic "continent": 50 scenes in two UTM zones warped into EPSG:3035, >= 100
# output tiles, the fast synthetic model. A single worker makes the reference; then 6 workers over
# 3 shards share one folder while workers are SIGKILLed at random moments and restarted: the
# assembled mosaic must be complete and byte-identical to the reference. Then the seam-free
# property (other tile sizes give the same pixels), reruns, changed settings and bad inputs.
#   tm_mosaic_cli.sh APPS_DIR MAKE_SAMPLE SYNTHETIC_RUNTIME
set -uo pipefail
apps=$1 make_sample=$2 runtime=$3
mosaic=$apps/tm_mosaic
scratch=$(mktemp -d)
trap 'kill -9 $(jobs -p) 2>/dev/null; rm -rf "$scratch"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# expect_error NAME EXIT MESSAGE_REGEX COMMAND...: that exit status and message.
expect_error() {
  local name=$1 code=$2 pattern=$3 rc=0
  shift 3
  "$@" >"$scratch/$name.log" 2>&1 || rc=$?
  [ "$rc" = "$code" ] || { fail "$name: exit $rc, expected $code"; cat "$scratch/$name.log"; }
  grep -Eq "$pattern" "$scratch/$name.log" || { fail "$name: no '$pattern' in:"; cat "$scratch/$name.log"; }
}

# 50 scenes of 128 px (10 m): 5 x 5 overlapping scenes in each of UTM zones 31N and 32N.
mkdir -p "$scratch/scenes"
n=0
for zone in 31 32; do
  e0=$([ $zone = 31 ] && echo 716000 || echo 277000)
  for i in 0 1 2 3 4; do
    for j in 0 1 2 3 4; do
      n=$((n + 1))
      "$make_sample" -o "$scratch/scenes/z${zone}_$i$j.tif" --size 128 --seed $n --epsg 326$zone \
        --origin $((e0 + i * 1120)) $((5322000 - j * 1120)) --nodata-fraction 0.2 --format gtiff -q ||
        fail "making scene $n"
    done
  done
done

common=(--to S1GRD,LULC --t-srs EPSG:3035 --tr 10 --window 64 --overlap 16
        --runtime "$runtime" --model synthetic)
"$mosaic" plan "$scratch/scenes" --out "$scratch/ref" --tile-size 64 "${common[@]}" \
  >"$scratch/plan.log" 2>&1 || { fail "plan"; cat "$scratch/plan.log"; }
tiles=$(sed -n 's/^tiles *\([0-9]*\).*/\1/p' "$scratch/plan.log")
grep -q "scenes      50 " "$scratch/plan.log" || { fail "50 scenes planned"; cat "$scratch/plan.log"; }
[ "${tiles:-0}" -ge 100 ] || fail "at least 100 tiles planned, got ${tiles:-none}"

# The reference: one worker, all tiles.
"$mosaic" run "$scratch/ref" -q >"$scratch/ref.log" 2>&1 || { fail "reference run"; cat "$scratch/ref.log"; }
"$mosaic" assemble "$scratch/ref" --cog >"$scratch/ref_assemble.log" 2>&1 ||
  { fail "reference assemble"; cat "$scratch/ref_assemble.log"; }

# The same plan (copied: same creation date) under fire.
mkdir -p "$scratch/chaos"
cp "$scratch/ref/plan.json" "$scratch/chaos/plan.json"
declare -a pids
start() { "$mosaic" run "$scratch/chaos" --shard $(($1 % 3)) --shards 3 -q >>"$scratch/w$1.log" 2>&1 & pids[$1]=$!; }
for w in 0 1 2 3 4 5; do start $w; done
kills=0
for round in $(seq 1 12); do
  sleep "0.$((RANDOM % 6 + 2))"
  w=$((RANDOM % 6))
  if kill -0 "${pids[$w]}" 2>/dev/null; then
    kill -9 "${pids[$w]}" 2>/dev/null && kills=$((kills + 1))
    wait "${pids[$w]}" 2>/dev/null
    start $w
  fi
done
for w in 0 1 2 3 4 5; do wait "${pids[$w]}" 2>/dev/null; done
echo "killed $kills workers"
[ "$kills" -ge 3 ] || fail "the chaos run killed only $kills workers (too fast to test)"
# Tiles a killed worker held, or left busy, are made by the next runs of their shards.
for round in 1 2 3; do
  "$mosaic" status "$scratch/chaos" --json | grep -q '"complete": true' && break
  for s in 0 1 2; do "$mosaic" run "$scratch/chaos" --shard $s --shards 3 -q >>"$scratch/finish.log" 2>&1; done
done
"$mosaic" status "$scratch/chaos" --shards 3 >"$scratch/status.log" 2>&1
grep -q "complete: ready to assemble" "$scratch/status.log" || { fail "chaos status"; cat "$scratch/status.log"; }
"$mosaic" assemble "$scratch/chaos" --cog >"$scratch/chaos_assemble.log" 2>&1 ||
  { fail "chaos assemble"; cat "$scratch/chaos_assemble.log"; }

# Complete, no duplicate or missing tile, byte-identical.
for target in S1GRD LULC; do
  made=$(ls "$scratch/chaos/tiles/$target" | grep -c '\.tif$')
  ref=$(ls "$scratch/ref/tiles/$target" | grep -c '\.tif$')
  [ "$made" = "$ref" ] || fail "$target: $made tiles, the reference has $ref"
  # Band 1's sources: one per tile, none twice.
  sed -n '/<VRTRasterBand[^>]*band="1"/,/<\/VRTRasterBand>/p' "$scratch/chaos/mosaic_$target.vrt" |
    grep -o 'tiles/[^<]*' >"$scratch/sources_$target.txt"
  in_vrt=$(wc -l <"$scratch/sources_$target.txt")
  [ "$in_vrt" = "$ref" ] || fail "$target: the VRT has $in_vrt sources for $ref tiles"
  dups=$(sort "$scratch/sources_$target.txt" | uniq -d | wc -l)
  [ "$dups" = 0 ] || fail "$target: $dups tiles twice in the VRT"
  for f in "$scratch/ref/tiles/$target"/*.tif; do
    cmp -s "$f" "$scratch/chaos/tiles/$target/$(basename "$f")" || { fail "$target $(basename "$f") differs"; break; }
  done
  cmp -s "$scratch/ref/mosaic_$target.tif" "$scratch/chaos/mosaic_$target.tif" ||
    fail "$target: the assembled COG differs from the single-worker one"
  cmp -s "$scratch/ref/mosaic_$target.vrt" "$scratch/chaos/mosaic_$target.vrt" ||
    fail "$target: the VRT differs from the single-worker one"
done
leftovers=$(find "$scratch/chaos/tiles" -name '*partial*' | wc -l)
[ "$leftovers" = 0 ] || fail "$leftovers partial files left beside the tiles"
gdalinfo "$scratch/chaos/mosaic_LULC.vrt" >"$scratch/lulc_info.txt" 2>&1
grep -q "Color Table" "$scratch/lulc_info.txt" || fail "LULC VRT colour table"
grep -q "Water" "$scratch/lulc_info.txt" || fail "LULC VRT class names"

# A rerun of a finished shard makes nothing.
"$mosaic" run "$scratch/chaos" --shard 1 --shards 3 >"$scratch/rerun.log" 2>&1 || fail "rerun"
grep -q " 0 made, " "$scratch/rerun.log" || { fail "a rerun made tiles again"; cat "$scratch/rerun.log"; }

# Seam-free: 96-px tiles (other borders, other contexts) give the same pixels.
"$mosaic" plan "$scratch/scenes" --out "$scratch/t96" --tile-size 96 "${common[@]}" >/dev/null 2>&1 &&
  "$mosaic" run "$scratch/t96" -q >/dev/null 2>&1 &&
  "$mosaic" assemble "$scratch/t96" --no-overviews >/dev/null 2>&1 || fail "96-px tiles"
for target in S1GRD LULC; do
  /usr/bin/python3 "$(dirname "$0")/compare_mosaics.py" "$scratch/ref/mosaic_$target.vrt" \
    "$scratch/t96/mosaic_$target.vrt" >"$scratch/seams_$target.log" 2>&1 ||
    { fail "$target: 64-px and 96-px tiles disagree"; cat "$scratch/seams_$target.log"; }
done

# Changed settings: the tiles are stale and made again.
cp -r "$scratch/ref" "$scratch/reseed"
"$mosaic" plan "$scratch/scenes" --out "$scratch/reseed" --overwrite --tile-size 64 --seed 7 \
  "${common[@]}" >/dev/null 2>&1 || fail "replanning"
"$mosaic" status "$scratch/reseed" >"$scratch/stale.log" 2>&1
grep -Eq "^all +$tiles +0 +0 +0 +0 +$tiles " "$scratch/stale.log" || { fail "stale tiles after a new seed"; cat "$scratch/stale.log"; }

# Bad input.
expect_error mixed_crs 1 "2 CRSs .*--t-srs" "$mosaic" plan "$scratch/scenes" --out "$scratch/bad1" \
  --to LULC --runtime "$runtime" --model synthetic
[ -e "$scratch/bad1/plan.json" ] && fail "mixed_crs left a plan"
expect_error aoi_misses 1 "overlap no scene" "$mosaic" plan "$scratch/scenes" --out "$scratch/bad2" \
  --bounds 0,0,1000,1000 "${common[@]}"
expect_error shard_range 1 "shard index 3 .*out of range.*3 shards" "$mosaic" run "$scratch/ref" --shard 3 --shards 3
expect_error slurm_range 1 "shard index 5 \(from SLURM_ARRAY_TASK_ID\)" env SLURM_ARRAY_TASK_ID=5 \
  SLURM_ARRAY_TASK_COUNT=4 "$mosaic" run "$scratch/ref"
expect_error k8s_count 1 "Kubernetes Indexed Job.*--shards" env JOB_COMPLETION_INDEX=1 "$mosaic" run "$scratch/ref"
sed 's/"tm_version": "[^"]*"/"tm_version": "0.0.1-old"/' "$scratch/ref/plan.json" >"$scratch/old.json"
mkdir -p "$scratch/old" && mv "$scratch/old.json" "$scratch/old/plan.json"
expect_error old_plan 1 "planned by tm 0.0.1-old.*make the plan again" "$mosaic" run "$scratch/old"
expect_error no_plan 1 "cannot read the plan" "$mosaic" run "$scratch/nowhere"
expect_error incomplete 1 "tiles are not done" "$mosaic" assemble "$scratch/reseed"
# A scene that cannot be read at run time: its tiles fail with the reason, the others are made.
cp -r "$scratch/scenes" "$scratch/scenes2"
"$mosaic" plan "$scratch/scenes2" --out "$scratch/broken" --tile-size 64 "${common[@]}" \
  --bounds 718000,5315000,721500,5318500 --bounds-crs EPSG:32631 >/dev/null 2>&1 || fail "plan broken"
echo "not a raster" >"$scratch/scenes2/z31_22.tif"
expect_error broken_scene 1 "failed in" "$mosaic" run "$scratch/broken"
"$mosaic" status "$scratch/broken" >"$scratch/broken_status.log" 2>&1
grep -q "failed  c.*z31_22" "$scratch/broken_status.log" || { fail "status lists the failures"; cat "$scratch/broken_status.log"; }
done_tiles=$(awk '$1 == "all" {print $3}' "$scratch/broken_status.log")
[ "${done_tiles:-0}" -gt 3 ] || fail "the tiles without the broken scene were not made (${done_tiles:-0})"

# Scenes without data (all nodata) give empty tiles: a marker, no raster. Scenes far apart give a
# sparse mosaic: VRTs, but neither overviews nor one COG of empty pixels.
mkdir -p "$scratch/far"
"$make_sample" -o "$scratch/far/a.tif" --size 64 --seed 1 --origin 600000 5300000 --format gtiff -q
"$make_sample" -o "$scratch/far/b.tif" --size 64 --seed 2 --origin 600000 6300000 --format gtiff -q
gdal_translate -q -scale 0 65535 0 0 "$scratch/far/a.tif" "$scratch/far/empty.tif"
"$mosaic" plan "$scratch/far/empty.tif" --out "$scratch/empty" --tile-size 64 --window 64 --overlap 16 \
  --to LULC --runtime "$runtime" --model synthetic >/dev/null 2>&1 &&
  "$mosaic" run "$scratch/empty" -q >"$scratch/empty.log" 2>&1 || { fail "empty run"; cat "$scratch/empty.log"; }
grep -q " 0 made, 0 already done, [1-9][0-9]* empty" "$scratch/empty.log" || { fail "empty tiles"; cat "$scratch/empty.log"; }
[ -z "$(ls "$scratch/empty/tiles/LULC" 2>/dev/null)" ] || fail "an empty tile got a raster"
"$mosaic" plan "$scratch/far/a.tif" "$scratch/far/b.tif" --out "$scratch/sparse" --tile-size 64 \
  --window 64 --overlap 16 --to LULC --runtime "$runtime" --model synthetic >/dev/null 2>&1 &&
  "$mosaic" run "$scratch/sparse" -q >/dev/null 2>&1 || fail "sparse run"
expect_error sparse_cog 1 "cover .* of the mosaic's extent" "$mosaic" assemble "$scratch/sparse" --cog
"$mosaic" assemble "$scratch/sparse" >"$scratch/sparse.log" 2>&1 || fail "sparse assemble"
grep -q "no overviews" "$scratch/sparse.log" || { fail "sparse note"; cat "$scratch/sparse.log"; }

# Overlapping scenes of different dates from a JSON item list: first = the earlier scene's pixels,
# latest = the later one's, mean = neither.
mkdir -p "$scratch/dated"
for seed in 1 2; do
  "$make_sample" -o "$scratch/dated/s$seed.tif" --size 96 --seed $seed --nodata-fraction 0 --format gtiff -q
done
cat >"$scratch/dated/items.json" <<JSON
{"type": "FeatureCollection", "features": [
 {"id": "later", "properties": {"datetime": "2024-06-01T00:00:00Z"}, "assets": {"S2L2A": {"href": "s2.tif"}}},
 {"id": "earlier", "properties": {"datetime": "2024-01-01T00:00:00Z"}, "assets": {"S2L2A": {"href": "s1.tif"}}}]}
JSON
dated=(--tile-size 64 --window 64 --overlap 16 --to S1GRD --runtime "$runtime" --model synthetic)
for rule in first latest mean; do
  "$mosaic" plan "$scratch/dated/items.json" --out "$scratch/rule_$rule" --rule $rule "${dated[@]}" >/dev/null 2>&1 &&
    "$mosaic" run "$scratch/rule_$rule" -q >/dev/null 2>&1 &&
    "$mosaic" assemble "$scratch/rule_$rule" --no-overviews >/dev/null 2>&1 || fail "rule $rule"
done
for seed in 1 2; do
  "$mosaic" plan "$scratch/dated/s$seed.tif" --out "$scratch/alone_$seed" "${dated[@]}" >/dev/null 2>&1 &&
    "$mosaic" run "$scratch/alone_$seed" -q >/dev/null 2>&1 &&
    "$mosaic" assemble "$scratch/alone_$seed" --no-overviews >/dev/null 2>&1 || fail "scene $seed alone"
done
same() { /usr/bin/python3 "$(dirname "$0")/compare_mosaics.py" "$1/mosaic_S1GRD.vrt" "$2/mosaic_S1GRD.vrt" >/dev/null 2>&1; }
same "$scratch/rule_first" "$scratch/alone_1" || fail "rule first: not the earlier scene's pixels"
same "$scratch/rule_latest" "$scratch/alone_2" || fail "rule latest: not the later scene's pixels"
same "$scratch/rule_mean" "$scratch/alone_1" && fail "rule mean: the earlier scene's pixels"
same "$scratch/rule_mean" "$scratch/alone_2" && fail "rule mean: the later scene's pixels"

[ "$failures" = 0 ] && echo "tm_mosaic_cli: all checks passed ($tiles tiles, $kills workers killed)"
exit $((failures > 0))
