#!/usr/bin/env bash
# Runs catalogue.sh and compares its table with the one in README.md between the markers
# <!-- bad-input-catalogue:begin --> and <!-- bad-input-catalogue:end -->. Fails when a message or
# an exit status changed, or when a bad input is accepted (a row marked "ACCEPTED (defect").
#   check_catalogue.sh BUILD_DIR SHARED_DIR SCRATCH README
set -uo pipefail
[ $# -eq 4 ] || { echo "usage: $0 BUILD_DIR SHARED_DIR SCRATCH README" >&2; exit 2; }
build=$1 shared=${TM_SHARED:-$2} scratch=$3 readme=$4
here=$(cd "$(dirname "$0")" && pwd)
generated=$scratch.table.md documented=$scratch.readme.md
mkdir -p "$(dirname "$scratch")"
"$here/catalogue.sh" "$build" "$shared" "$scratch" >"$generated" || {
  echo "catalogue.sh failed"
  exit 1
}
sed -n '/<!-- bad-input-catalogue:begin -->/,/<!-- bad-input-catalogue:end -->/p' "$readme" |
  grep '^|' >"$documented"
status=0
if ! diff -u "$documented" "$generated"; then
  echo
  echo "README.md's bad-input catalogue differs from what the tools do now (- README, + tools)."
  echo "If the change is intended, paste $generated into README.md between the markers."
  status=1
fi
if grep -n 'ACCEPTED (defect' "$generated"; then
  echo "bad inputs accepted with exit 0 (above): each must be refused with a non-zero exit"
  status=1
fi
rows=$(grep -c '^| [^-]' "$generated")
[ $status -eq 0 ] && echo "bad-input catalogue: $((rows - 1)) rows, as in README.md"
exit $status
