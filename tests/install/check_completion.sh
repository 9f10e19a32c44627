#!/bin/bash
# check_completion.sh COMPLETIONS_DIR: sources each generated completion and checks, as bash
# would ask for them at the cursor, what it offers.
set -u
dir=$1
failures=0

# offers FILE "command line" word...: the completion of the line contains every word.
offers() {
  local file=$1 line=$2
  shift 2
  local got
  got=$(bash -c '
    source "$1" || exit 1
    COMP_LINE=$2; COMP_POINT=${#COMP_LINE}
    read -r -a COMP_WORDS <<<"$COMP_LINE"; COMP_CWORD=${#COMP_WORDS[@]}
    func=$(complete -p "${COMP_WORDS[0]}" | sed -n "s/.*-F \([^ ]*\) .*/\1/p")
    [ -n "$func" ] || { echo "no completion registered for ${COMP_WORDS[0]}"; exit 1; }
    "$func" "${COMP_WORDS[0]}" "" ""
    printf "%s\n" "${COMPREPLY[@]}"' _ "$file" "$line")
  local w
  for w in "$@"; do
    if ! grep -qxF -- "$w" <<<"$got"; then
      echo "FAIL: [$line] does not offer $w; got: $(tr '\n' ' ' <<<"$got")"
      failures=$((failures + 1))
    fi
  done
}

for tool in tm_info tm_convert tm_generate tm_tokenize; do
  [ -f "$dir/$tool" ] || { echo "FAIL: $dir/$tool missing"; failures=$((failures + 1)); continue; }
  offers "$dir/$tool" "$tool --h" --help
done
g=$dir/tm_generate
offers "$g" "tm_generate --" --input --to --model --out-dir --window --greedy --overwrite
offers "$g" "tm_generate --i" --input
offers "$g" "tm_generate --t" --to
offers "$g" "tm_generate --input " S2L2A= S1GRD= DEM=
offers "$g" "tm_generate --input S2" S2L2A= S2L1C= S2RGB=
offers "$g" "tm_generate --to " S1GRD LULC DEM NDVI
offers "$g" "tm_generate --to S1GRD,L" S1GRD,LULC
offers "$g" "tm_generate -t s1" S1GRD S1RTC
offers "$g" "tm_generate --blend " taper mean
offers "$dir/tm_info" "tm_info --as S2" S2L2A S2L1C S2RGB
offers "$dir/tm_info" "tm_info --modality " S2L2A S1GRD LULC NDVI
offers "$dir/tm_tokenize" "tm_tokenize " encode decode
offers "$dir/tm_tokenize" "tm_tokenize encode x.tif --modality L" LULC
offers "$dir/tm_convert" "tm_convert --" --out --card --name --overwrite

if [ "$failures" -ne 0 ]; then echo "$failures completion checks failed"; exit 1; fi
echo "completion: fine"
