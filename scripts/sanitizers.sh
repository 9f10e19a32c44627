#!/usr/bin/env bash
# The whole test suite under AddressSanitizer + UndefinedBehaviorSanitizer (gcc), in its own
# build folder (TM_SANITIZE=ON; its own torch PCH), then LeakSanitizer on the tools' main paths.
# Run scripts/setup.sh first: it installs the packages (the sanitized build makes its own sample).
#
#   scripts/sanitizers.sh                 # build-asan: build, ctest, leak check
#   TM_ASAN_BUILD_DIR=out scripts/sanitizers.sh
#   TM_JOBS=1 scripts/sanitizers.sh       # build and test on one core
#
# The suite runs with detect_leaks=0: LibTorch, OpenBLAS, GDAL and Python keep process-lifetime
# allocations that LeakSanitizer reports at exit. Leaks of our own code are checked separately by
# running tm_info, tm_convert, tm_tokenize and tm_generate with detect_leaks=1 and the
# third-party suppressions of scripts/sanitizers.supp.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD_DIR=${TM_ASAN_BUILD_DIR:-build-asan}
JOBS=${TM_JOBS:-$(nproc)}
SHARED=${TM_SHARED:-$ROOT/../shared}

export CCACHE_SLOPPINESS=${CCACHE_SLOPPINESS:-pch_defines,time_macros,include_file_mtime,include_file_ctime}
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi

start=$(date +%s)
echo "== Configuring the sanitizer build ($BUILD_DIR)"
# -O1 with asserts on (no NDEBUG) and line tables for the reports; no benchmarks. -O1 (the level
# the ASan manual suggests) compiles much faster than -O2 (measured on the 2-core VM, cold
# ccache: the 111 targets tm_eval needs in 5.0 min against 8-10 min at -O2, the latter read off
# progress checks rather than timed; one torch-heavy file 14.1 vs 19.8 s, timed); the time the
# suite runs is mostly in the uninstrumented LibTorch and GDAL.
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1" \
  -DTM_SANITIZE=ON -DTM_PCH=ON -DTM_BUILD_BENCH=OFF "${launcher[@]}" >/dev/null
echo "== Building"
cmake --build "$BUILD_DIR" -j"$JOBS"
built=$(date +%s)
echo "== Build: $((built - start)) s"

# halt_on_error: a UBSan report fails the test like an ASan one. GDAL clients (gdalinfo, Python,
# QGIS) are not instrumented but load the sanitized plugin: the runtimes are preloaded for them.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:suppressions=$ROOT/scripts/sanitizers.supp}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$ROOT/scripts/sanitizers.supp:print_suppressions=0}
LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
export LD_PRELOAD

echo "== Test suite under ASan + UBSan"
status=0
# The man page tests run man/troff, whose own new[]/free mismatch ASan reports once preloaded; they
# test no code of ours and run in the plain suite, as do the checks that only list or grep (the
# suites-registered guards, the include rules): they run no code of ours worth instrumenting.
ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$JOBS" --timeout 1500 \
  -E '^docs\.|_suites_registered$|^include_rules$' || status=1
tested=$(date +%s)
echo "== Test suite: $((tested - built)) s; the slowest under the sanitizers:"
# CTest's cost data: name, runs, seconds of the last run.
sort -k3 -g -r "$BUILD_DIR/Testing/Temporary/CTestCostData.txt" 2>/dev/null | grep -v '^---' |
  head -8 | awk '{ printf "   %7.1f s  %s\n", $3, $1 }' || true

echo "== LeakSanitizer on the tools' main paths"
unset LD_PRELOAD
scratch="$BUILD_DIR/lsan_scratch"
rm -rf "$scratch"
mkdir -p "$scratch"
fixtures=$SHARED/fixtures
samples=$SHARED/data/terramesh_examples
scene=$BUILD_DIR/sample_data/s2l2a_sample.tif
lsan() {  # lsan NAME EXIT COMMAND...: runs it with leak detection; any report, or another exit, fails
  local name=$1 expect=$2 rc=0
  shift 2
  ASAN_OPTIONS="${ASAN_OPTIONS//detect_leaks=0/detect_leaks=1}:exitcode=23" "$@" \
    >"$scratch/$name.log" 2>&1 || rc=$?
  if [ "$rc" = "$expect" ] && ! grep -q "Sanitizer" "$scratch/$name.log"; then
    echo "  clean  $name"
  else
    echo "  FAILED $name (exit $rc, expected $expect): $scratch/$name.log"
    tail -40 "$scratch/$name.log"
    status=1
  fi
}
apps=$BUILD_DIR/apps
card=sample_data/fixture_models/terramind_fixture.json
lsan info_list 0 "$apps/tm_info"
lsan info_modality 0 "$apps/tm_info" --modality S1GRD
lsan info_raster 0 "$apps/tm_info" "$scene" --as S2L2A
lsan info_raster_mismatch 1 "$apps/tm_info" "$scene" --as S1GRD
lsan info_model 0 "$apps/tm_info" --model "$card"
lsan info_checkpoint 0 "$apps/tm_info" --model "$fixtures/terramind_generation_state_dict.pt"
lsan info_tokenizer_checkpoint 2 "$apps/tm_info" --model "$fixtures/tokenizer_vqvae_lulc_state_dict.pt"
lsan convert 0 "$apps/tm_convert" "$fixtures/terramind_generation_state_dict.pt" \
  --out "$scratch/gen.safetensors" --head-dim 32
lsan info_converted 0 "$apps/tm_info" --model "$scratch/gen.json"
lsan convert_bad_input 1 "$apps/tm_convert" "$SHARED/spec/build-environment.md" \
  --out "$scratch/bad.safetensors"
lsan tokenize_encode 0 "$apps/tm_tokenize" encode "$samples/S1RTC/282D_485L_3_3.tif" \
  --modality S1GRD --tokenizer "$fixtures/tokenizer_divae_s1grd_state_dict.pt" --head-dim 32 \
  --out "$scratch/s1_tokens.tif"
lsan tokenize_decode 0 "$apps/tm_tokenize" decode "$scratch/s1_tokens.tif" --steps 2 \
  --out "$scratch/s1.tif"
lsan tokenize_encode_lulc 0 "$apps/tm_tokenize" encode "$samples/LULC/282D_485L_3_3.tif" \
  --modality LULC --tokenizer "$fixtures/tokenizer_vqvae_lulc_state_dict.pt" --head-dim 32 \
  --tile 112 --out "$scratch/lulc_tokens.tif"
lsan tokenize_decode_lulc 0 "$apps/tm_tokenize" decode "$scratch/lulc_tokens.tif" \
  --out "$scratch/lulc.tif" --probabilities "$scratch/lulc_p.tif"
lsan generate 0 "$apps/tm_generate" --input S2L2A="$scene" --to S1GRD,LULC --model "$card" \
  --out-dir "$scratch/generated" --steps 2
mkdir -p "$scratch/batch_in"
cp "$samples"/S2L2A/282D_485L_3_3.tif "$samples"/S2L2A/38D_378R_2_3.tif "$scratch/batch_in/"
lsan generate_batch_resume_quicklook 0 "$apps/tm_generate" --input S2L2A="$scratch/batch_in" \
  --to S1GRD,LULC --model "$card" --out-dir "$scratch/batch_out" --steps 2 --resume --quicklook \
  --summary "$scratch/batch_out/summary.csv"
lsan eval_generation 0 "$apps/tm_eval" generation --data "$samples" --pair 'S2L2A->LULC' \
  --model "$card" --out "$scratch/eval" -q
lsan mosaic_plan_mixed_crs 1 "$apps/tm_mosaic" plan "$scratch/batch_in" --out "$scratch/mixed" \
  --to LULC --model "$card"
lsan mosaic_plan 0 "$apps/tm_mosaic" plan "$scratch/batch_in/282D_485L_3_3.tif" \
  --out "$scratch/mosaic" --to LULC --model "$card" --tile-size 128 --greedy
lsan mosaic_run 0 "$apps/tm_mosaic" run "$scratch/mosaic" --shard 0 --shards 2 -q
lsan mosaic_run_other_shard 0 "$apps/tm_mosaic" run "$scratch/mosaic" --shard 1 --shards 2 -q
lsan mosaic_status 0 "$apps/tm_mosaic" status "$scratch/mosaic" --shards 2
lsan mosaic_assemble 0 "$apps/tm_mosaic" assemble "$scratch/mosaic" --cog
lsan mosaic_bad_shard 1 "$apps/tm_mosaic" run "$scratch/mosaic" --shard 2 --shards 2
lsan generate_bad_model 1 "$apps/tm_generate" --input S2L2A="$scene" --to LULC \
  --model "$fixtures/fsq.pt" --out-dir "$scratch/none"
echo "== Leak checks: $(($(date +%s) - tested)) s; total $(($(date +%s) - start)) s"
exit $status
