#!/usr/bin/env bash
# tm_eval generation on the bundled TerraMesh samples with the fixture model and the per-band mean
# baseline, and its bad inputs: each a clear message, exit 1 and no report.json.
#   tm_eval_cli.sh APPS_DIR SOURCE_DIR SHARED_DIR
set -uo pipefail
apps=$1 src=$2 shared=$3
data=$shared/data/terramesh_examples
card=$src/sample_data/fixture_models/terramind_fixture.json
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# expect_error NAME MESSAGE_REGEX ARGS...: exit 1, the message, no report.
expect_error() {
  local name=$1 pattern=$2
  shift 2
  local out=$scratch/$name rc=0
  "$apps/tm_eval" generation "$@" --out "$out" -q >"$scratch/$name.log" 2>&1 || rc=$?
  if [ "$rc" != 1 ]; then fail "$name: exit $rc, expected 1"; cat "$scratch/$name.log"; fi
  if ! grep -Eq "$pattern" "$scratch/$name.log"; then
    fail "$name: no '$pattern' in:"
    cat "$scratch/$name.log"
  fi
  if [ -e "$out/report.json" ] || [ -e "$out/report.html" ]; then fail "$name: a report was left"; fi
}

# A real run: shards of two samples for the baseline, the fixture model on LULC.
"$apps/tm_shards" build "$data" --out "$scratch/shards" --val-fraction 0 -q ||
  fail "tm_shards build"
"$apps/tm_eval" generation --data "$data" --pair 'S2L2A->LULC' --model "fixture=$card" \
  --baseline-mean "$scratch/shards" --out "$scratch/good" -q >"$scratch/good.log" 2>&1 ||
  { fail "good run"; cat "$scratch/good.log"; }
grep -q "S2L2A->LULC *fixture *5" "$scratch/good.log" || { fail "summary line"; cat "$scratch/good.log"; }
python3 - "$scratch/good/report.json" <<'PY' || fail "report.json content"
import json, sys
r = json.load(open(sys.argv[1]))
assert len(r["samples"]) == 5, r["samples"]
rows = {(s["pair"], s["predictor"]): s for s in r["summary"]}
fixture = rows[("S2L2A->LULC", "fixture")]
mean = rows[("S2L2A->LULC", "per-band mean")]
assert 0 <= fixture["accuracy"] <= 1 and 0 <= mean["miou"] <= 1, rows
# The constant baseline predicts the most frequent class of the five samples (crops, 4: 87,238
# pixels against 50,176 of snow): on the Danish sample that is 44,382 of 50,176 pixels, on the
# Canadian one (all snow) none.
per = {s["sample"]: s for s in r["per_sample"] if s["predictor"] == "per-band mean"}
assert abs(per["637U_59R_1_3"]["accuracy"] - 44382 / 50176) < 1e-9, per
assert per["609U_541L_3_0"]["accuracy"] == 0, per
assert len(r["per_sample"]) == 10
PY
grep -q '<img alt="truth" src="data:image/png;base64,' "$scratch/good/report.html" ||
  fail "report.html has no inlined quicklook"
[ -f "$scratch/good/generated/fixture/S2L2A->LULC/637U_59R_1_3.tif" ] || fail "generated raster"

# --mc: three draws per sample, each from its own seed (models opened once per draw).
"$apps/tm_eval" generation --data "$data" --pair 'S2L2A->LULC' --model "fixture=$card" --mc 3 \
  --temperature 1 --sample 637U_59R_1_3 --out "$scratch/mc" -q >"$scratch/mc.log" 2>&1 &&
  [ -f "$scratch/mc/generated/fixture/S2L2A->LULC/637U_59R_1_3_mc2.tif" ] &&
  ! cmp -s "$scratch/mc/generated/fixture/S2L2A->LULC/637U_59R_1_3.tif" \
    "$scratch/mc/generated/fixture/S2L2A->LULC/637U_59R_1_3_mc1.tif" ||
  { fail "--mc draws"; cat "$scratch/mc.log"; }

# Bad inputs.
mkdir -p "$scratch/misaligned/S2L2A" "$scratch/misaligned/LULC"
ln -s "$data/S2L2A/282D_485L_3_3.tif" "$scratch/misaligned/S2L2A/a.tif"
ln -s "$data/LULC/38D_378R_2_3.tif" "$scratch/misaligned/LULC/a.tif"
expect_error misaligned "misaligned: .*differ in CRS or geotransform" --data "$scratch/misaligned" \
  --pair 'S2L2A->LULC' --model "$card"
mkdir -p "$scratch/labels/S2L2A" "$scratch/labels/LULC"
ln -s "$data/S2L2A/282D_485L_3_3.tif" "$scratch/labels/S2L2A/a.tif"
ln -s "$data/NDVI/282D_485L_3_3.tif" "$scratch/labels/LULC/a.tif"
expect_error label_values "a.tif: value .* is not a LULC class" --data "$scratch/labels" \
  --pair 'S2L2A->LULC' --model "$card"
mkdir -p "$scratch/empty/LULC"
expect_error no_sample "no sample holds both LULC and the inputs" --data "$scratch/empty" \
  --pair 'S2L2A->LULC' --model "$card"
expect_error cannot_generate "cannot generate NDVI" --data "$data" --pair 'S2L2A->NDVI' \
  --model "$card"
expect_error missing_input "sample nope has no LULC truth" --data "$data" --pair 'S2L2A->LULC' \
  --model "$card" --sample nope
rc=0
"$apps/tm_eval" generation --data "$data" --pair 'S2L2A' --model "$card" --out "$scratch/x" \
  >"$scratch/usage.log" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "INPUT->TARGET" "$scratch/usage.log" || fail "bad pair: exit $rc"
rc=0
"$apps/tm_eval" generation --data "$data" >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "missing options: exit $rc, expected 2"

# tm_eval water on Sen1Floods11 with the fixture model (S1GRD in): the chip whose label is all -1
# and the one whose S1 image is all NaN are reported and not scored.
floods=$shared/data/sen1floods11
"$apps/tm_eval" water --input "S1GRD=$floods/S1Hand" --labels "$floods/LabelHand" --model "$card" \
  --out "$scratch/water" -q >"$scratch/water.log" 2>&1 || { fail "water run"; cat "$scratch/water.log"; }
grep -q "Ghana_83483 *no valid label" "$scratch/water.log" || fail "water: invalid label chip"
grep -q "Paraguay_34417 *no valid input" "$scratch/water.log" || fail "water: all-NaN input chip"
grep -q "overall (7 chips)" "$scratch/water.log" || { fail "water: 7 scored chips"; cat "$scratch/water.log"; }
python3 - "$scratch/water/water.json" <<'PY' || fail "water.json content"
import json, sys
r = json.load(open(sys.argv[1]))
o = r["overall"]
chips = [c for c in r["chips"] if c["status"] == "scored"]
tp, fp, fn = (sum(c[k] for c in chips) for k in ("tp", "fp", "fn"))
assert (o["tp"], o["fp"], o["fn"]) == (tp, fp, fn), o
assert abs(o["iou"] - tp / (tp + fp + fn)) < 1e-12, o
# Ghana_53713 has no water: every pixel of it is a true negative or a false positive.
g = next(c for c in r["chips"] if c["chip"] == "Ghana_53713")
assert g["tp"] == 0 and g["fn"] == 0 and g["iou"] == 0, g
PY
mkdir -p "$scratch/badlabels"
ln -s "$floods/S1Hand/Spain_7370579_S1Hand.tif" "$scratch/badlabels/Spain_7370579_badlabels.tif"
rc=0
"$apps/tm_eval" water --input "S1GRD=$floods/S1Hand" --labels "$scratch/badlabels" --model "$card" \
  --out "$scratch/water_bad" -q >"$scratch/water_bad.log" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "label value .* (expected 1 water, 0 not water, -1 ignored)" \
  "$scratch/water_bad.log" && [ ! -e "$scratch/water_bad/water.json" ] ||
  { fail "water: bad label values (exit $rc)"; cat "$scratch/water_bad.log"; }
mkdir -p "$scratch/nochip"
ln -s "$floods/LabelHand/Spain_7370579_LabelHand.tif" "$scratch/nochip/Atlantis_1_nochip.tif"
rc=0
"$apps/tm_eval" water --input "S1GRD=$floods/S1Hand" --labels "$scratch/nochip" --model "$card" \
  --out "$scratch/water_nochip" -q >"$scratch/water_nochip.log" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "no S1GRD input for chip Atlantis_1" "$scratch/water_nochip.log" ||
  { fail "water: chip without input (exit $rc)"; cat "$scratch/water_nochip.log"; }

# tm_embed + tm_eval fewshot: two classes of TerraMesh samples with the fixture model.
mkdir -p "$scratch/classes/a" "$scratch/classes/b"
ln -s "$data/S2L2A/282D_485L_3_3.tif" "$scratch/classes/a/1.tif"
ln -s "$data/S2L2A/637U_59R_1_3.tif" "$scratch/classes/a/2.tif"
ln -s "$data/S2L2A/38D_378R_2_3.tif" "$scratch/classes/b/1.tif"
ln -s "$data/S2L2A/433D_629L_3_1.tif" "$scratch/classes/b/2.tif"
"$apps/tm_embed" "$scratch/classes" --model "$card" --out "$scratch/emb.json" -q \
  >"$scratch/embed.log" 2>&1 && grep -q "4 embeddings of 64 values" "$scratch/embed.log" ||
  { fail "tm_embed"; cat "$scratch/embed.log"; }
"$apps/tm_eval" fewshot --embeddings "$scratch/emb.json" --ways 2 --shots 1 --episodes 20 \
  --out "$scratch/fewshot" >"$scratch/fewshot.log" 2>&1 &&
  grep -q "2-way 1-shot: accuracy" "$scratch/fewshot.log" && [ -f "$scratch/fewshot/fewshot.json" ] &&
  grep -q "<table id=\"fewshot\">" "$scratch/fewshot/fewshot.html" ||
  { fail "fewshot"; cat "$scratch/fewshot.log"; }
rc=0
"$apps/tm_eval" fewshot --embeddings "$scratch/emb.json" --ways 2 --shots 2 \
  --out "$scratch/fewshot_bad" >"$scratch/fewshot_bad.log" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "class 'a' has 2 sample(s): 2-shot episodes need at least 3" \
  "$scratch/fewshot_bad.log" && [ ! -e "$scratch/fewshot_bad/fewshot.json" ] ||
  { fail "fewshot: too few samples (exit $rc)"; cat "$scratch/fewshot_bad.log"; }
rc=0
"$apps/tm_embed" "$data/S2L2A" --model "$card" --out "$scratch/none.json" -q \
  >"$scratch/embed_bad.log" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "no rasters in class sub-folders" "$scratch/embed_bad.log" &&
  [ ! -e "$scratch/none.json" ] || { fail "tm_embed: no classes (exit $rc)"; cat "$scratch/embed_bad.log"; }

# tm_locate: its help, and the refusals a user meets first (no coordinates decoder, no vocabulary).
"$apps/tm_locate" --help | grep -q -- "--vocabulary" || fail "tm_locate --help"
vocab=$shared/data/text_tokenizer/terramind_v1_wordpiece_30k.json
rc=0
"$apps/tm_locate" "$data/S2L2A/282D_485L_3_3.tif" --model demo --vocabulary "$vocab" \
  --out "$scratch/locate" -q >"$scratch/locate.log" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "has no coordinates decoder" "$scratch/locate.log" &&
  [ ! -e "$scratch/locate/location.json" ] || { fail "tm_locate: demo (exit $rc)"; cat "$scratch/locate.log"; }
rc=0
TM_TEXT_VOCABULARY= "$apps/tm_locate" "$data/S2L2A/282D_485L_3_3.tif" --model "$card" \
  --out "$scratch/locate" -q >"$scratch/locate2.log" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "no text vocabulary" "$scratch/locate2.log" ||
  { fail "tm_locate: no vocabulary (exit $rc)"; cat "$scratch/locate2.log"; }
rc=0
"$apps/tm_locate" "$data/S2L2A/282D_485L_3_3.tif" --model "$card" --samples 0 \
  --out "$scratch/locate" >"$scratch/locate3.log" 2>&1 || rc=$?
[ "$rc" = 2 ] || { fail "tm_locate: --samples 0 (exit $rc)"; cat "$scratch/locate3.log"; }

[ "$failures" = 0 ] && echo "tm_eval_cli: all checks passed"
exit $((failures > 0))
