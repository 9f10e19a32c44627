#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/CMakeLists.txt, clang, ASan + UBSan) and runs each for
# SECONDS, TM_FUZZ_JOBS at a time (default: the core count). Regression inputs in
# tests/fuzz_regressions/<target>/ are replayed first; seeds come fresh from fuzz/make_corpus.py and
# the growing corpus stays in <build>/corpus/<target>. Exit status 1 when any target crashed:
# the crashing input is in <build>/artifacts/<target>/ and its log in <build>/logs/<target>.log.
#
#   fuzz/run.sh 60                      # every target, 60 s each (what .ci/run does)
#   fuzz/run.sh 600 pickle safetensors  # some targets only
#   TM_FUZZ_RUNS=1000000 fuzz/run.sh 0  # a fixed number of executions per target instead
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 1 ]; then
  echo "usage: fuzz/run.sh SECONDS [TARGET...]" >&2
  exit 2
fi
SECONDS_EACH=$1
shift
BUILD_DIR=${TM_FUZZ_BUILD_DIR:-build-fuzz}
JOBS=${TM_FUZZ_JOBS:-$(nproc)}
BUILD_JOBS=${TM_FUZZ_BUILD_JOBS:-$(nproc)}
RUNS=${TM_FUZZ_RUNS:-}
CLANG_VERSION=14

# libFuzzer comes with clang's runtime libraries (Debian: libclang-rt-14-dev).
if ! command -v clang++-$CLANG_VERSION >/dev/null ||
   ! dpkg-query -W -f='${Status}' libclang-rt-$CLANG_VERSION-dev 2>/dev/null | grep -q 'ok installed'; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
  echo "== Installing clang-$CLANG_VERSION for libFuzzer"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends \
    clang-$CLANG_VERSION libclang-rt-$CLANG_VERSION-dev
fi

export CCACHE_SLOPPINESS=${CCACHE_SLOPPINESS:-pch_defines,time_macros,include_file_mtime,include_file_ctime}
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi

start=$(date +%s)
echo "== Building fuzz targets ($BUILD_DIR)"
cmake -S fuzz -B "$BUILD_DIR" -G Ninja -DCMAKE_C_COMPILER=clang-$CLANG_VERSION \
  -DCMAKE_CXX_COMPILER=clang++-$CLANG_VERSION "${launcher[@]}" >/dev/null
cmake --build "$BUILD_DIR" -j"$BUILD_JOBS"
read -r -a all_targets <"$BUILD_DIR/targets.txt"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then targets=("${all_targets[@]}"); fi
echo "== Build: $(($(date +%s) - start)) s"

rm -rf "$BUILD_DIR/seeds" "$BUILD_DIR/logs"
mkdir -p "$BUILD_DIR/logs"
/usr/bin/python3 fuzz/make_corpus.py "$BUILD_DIR/seeds"

# Sanitizer reports are crashes; leaks count too (libFuzzer's default with ASan).
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

dictionary() {  # target -> its dictionary, concatenated from fuzz/dicts
  local names
  case $1 in
    zip_archive) names="zip" ;;
    pickle) names="pickle" ;;
    torch_checkpoint) names="zip pickle" ;;
    safetensors) names="safetensors" ;;
    model_card | tokenizer_card) names="json" ;;
    card_inference) names="card_inference" ;;
    connection_string | descriptor) names="plugin" ;;
    token_raster) names="token_raster json" ;;
    shard) names="json" ;;
    *) return ;;
  esac
  local out="$BUILD_DIR/logs/$1.dict"
  for n in $names; do cat "fuzz/dicts/$n.dict"; done >"$out"
  echo "$out"
}

failed=0
echo "== Replaying tests/fuzz_regressions"
for t in "${targets[@]}"; do
  if [ -d "tests/fuzz_regressions/$t" ]; then
    if ! "$BUILD_DIR/fuzz_$t" -runs=1 tests/fuzz_regressions/"$t"/* >"$BUILD_DIR/logs/$t.replay.log" 2>&1; then
      echo "FAILED: regression input of $t (see $BUILD_DIR/logs/$t.replay.log)"
      failed=1
    fi
  fi
done

run_one() {
  local t=$1 limit dict
  mkdir -p "$BUILD_DIR/corpus/$t" "$BUILD_DIR/artifacts/$t"
  if [ -n "$RUNS" ]; then limit=(-runs="$RUNS"); else limit=(-max_total_time="$SECONDS_EACH"); fi
  dict=$(dictionary "$t")
  local args=("${limit[@]}" -print_final_stats=1 -timeout=25 -rss_limit_mb=3072
    -artifact_prefix="$BUILD_DIR/artifacts/$t/")
  if [ -n "$dict" ]; then args+=(-dict="$dict"); fi
  local rc=0
  "$BUILD_DIR/fuzz_$t" "${args[@]}" "$BUILD_DIR/corpus/$t" "$BUILD_DIR/seeds/$t" \
    </dev/null >"$BUILD_DIR/logs/$t.log" 2>&1 || rc=$?
  echo "$rc" >"$BUILD_DIR/logs/$t.rc"
}

if [ -n "$RUNS" ]; then budget="$RUNS runs"; else budget="$SECONDS_EACH s"; fi
echo "== Fuzzing ${#targets[@]} targets, $budget each, $JOBS at a time"
fuzz_start=$(date +%s)
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
  run_one "$t" &
done
wait

printf '%-18s %12s %10s %8s  %s\n' target executions exec/s corpus result
for t in "${targets[@]}"; do
  log="$BUILD_DIR/logs/$t.log"
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  corpus=$(find "$BUILD_DIR/corpus/$t" -type f | wc -l)
  rc=$(cat "$BUILD_DIR/logs/$t.rc")
  result=ok
  if [ "$rc" != 0 ]; then
    result="CRASH (rc $rc): $(ls -t "$BUILD_DIR/artifacts/$t" | head -1) - see $log"
    failed=1
  fi
  printf '%-18s %12s %10s %8s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "$corpus" "$result"
done
echo "== Fuzzing: $(($(date +%s) - fuzz_start)) s, total $(($(date +%s) - start)) s"
exit $failed
