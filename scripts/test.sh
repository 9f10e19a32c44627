#!/usr/bin/env bash
# Every test of tm, as CI runs them: the suite on the Release build (scripts/setup.sh made it),
# the same suite under AddressSanitizer + UndefinedBehaviorSanitizer with leak checks of the tools
# (scripts/sanitizers.sh, its own build folder), and a short libFuzzer run of every parser of
# untrusted input (fuzz/run.sh, TM_FUZZ_SECONDS per target, default 12).
#
#   scripts/test.sh            # all three (about 40 min on 2 cores from a cold ccache)
#   scripts/test.sh --quick    # the suite only (ctest, about 2 min)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${TM_BUILD_DIR:-build}
stage() { echo; echo "==== $1 ($(date -u +%H:%M:%S))"; }
start=$(date +%s)
status=0

stage "Test suite ($BUILD_DIR)"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$(nproc)" || status=1
if [ "${1:-}" = "--quick" ]; then exit $status; fi

stage "Sanitizers: the suite under ASan + UBSan, leak checks of the tools"
scripts/sanitizers.sh || status=1

stage "Fuzzing: ${TM_FUZZ_SECONDS:-12} s per parser"
fuzz/run.sh "${TM_FUZZ_SECONDS:-12}" || status=1

stage "Done in $(($(date +%s) - start)) s: $([ $status -eq 0 ] && echo all passed || echo FAILURES above)"
exit $status
