#!/usr/bin/env bash
# tm_models against a local Hub: a python3 http.server serving the fixture checkpoints under
# Hugging Face's URL layout, a catalogue of cards naming them (with and without sha256), and
# TM_HUB_ENDPOINT pointing the cards' https://huggingface.co addresses at it. Checks fetch,
# path, verify, a damaged cache file found and downloaded again, a download failing its sha256
# leaving nothing under the final name, TM_OFFLINE, and unknown names.
# usage: model_cache_cli.sh TOOLS_DIR FIXTURES_DIR SOURCE_DIR
set -uo pipefail
tools=$1 fixtures=${TM_FIXTURES:-$2} src=$3
work=$(mktemp -d)
server=
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
[ -n "${KEEP_WORK:-}" ] && trap - EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
expect() {  # expect EXIT REGEX command...: runs it, checks exit status and output
  local want=$1 regex=$2
  shift 2
  local out rc
  out=$("$@" 2>&1)
  rc=$?
  [ "$rc" -eq "$want" ] || fail "$* exited $rc, expected $want: $out"
  [[ "$out" =~ $regex ]] || fail "$* printed, without /$regex/: $out"
  printf '%s\n' "$out"
}

served=$work/hub/test/fixture/resolve/main
mkdir -p "$served" "$work/catalogue"
cp "$fixtures/terramind_generation_state_dict.pt" "$served/model.pt"
cp "$fixtures/tokenizer_vqvae_lulc_state_dict.pt" "$served/lulc.pt"
cp "$fixtures/tokenizer_divae_s1grd_state_dict.pt" "$served/s1grd.pt"
cp "$fixtures/terramind_generation_state_dict.pt" "$served/flaky.pt"
head -c 5000 /dev/urandom >"$served/noise.pt"
# The catalogue: the fixture model card with download fields, its tokenizer cards beside it.
python3 - "$src/sample_data/fixture_models" "$work/catalogue" "$served" <<'PY'
import hashlib, json, os, sys
cards, catalogue, served = sys.argv[1:]
hub = "https://huggingface.co/test/fixture/resolve/main/"
def fields(name, with_sha=True):
    data = open(os.path.join(served, name), "rb").read()
    f = {"checkpoint": name, "url": hub + name, "size": len(data)}
    if with_sha:
        f["sha256"] = hashlib.sha256(data).hexdigest()
    return f
model = json.load(open(os.path.join(cards, "terramind_fixture.json")))
model.update(fields("model.pt"))
model["tokenizers"] = {"LULC": "tokenizers/lulc.json", "S1GRD": "tokenizers/s1grd.json"}
os.makedirs(os.path.join(catalogue, "tokenizers"))  # not model names: out of the catalogue list
json.dump(model, open(os.path.join(catalogue, "fixture.json"), "w"), indent=1)
for mod, card, ckpt, sha in (("LULC", "tokenizer_lulc_fixture.json", "lulc.pt", True),
                             ("S1GRD", "tokenizer_s1grd_fixture.json", "s1grd.pt", False)):
    t = json.load(open(os.path.join(cards, card)))
    t.update(fields(ckpt, sha))
    json.dump(t, open(os.path.join(catalogue, "tokenizers", mod.lower() + ".json"), "w"), indent=1)
# A card whose recorded sha256 is not that of the served file.
bad = dict(model)
bad.update(fields("noise.pt"))
bad["sha256"] = "0" * 64
bad.pop("tokenizers")
json.dump(bad, open(os.path.join(catalogue, "damaged.json"), "w"), indent=1)
# A checkpoint whose first transfer breaks off half-way; one the server fails with a 500.
for name, ckpt in (("interrupted", "flaky.pt"), ("server_error", "error500.pt")):
    c = dict(model)
    c.pop("tokenizers")
    if ckpt == "flaky.pt":
        c.update(fields(ckpt))
    else:
        c.update({"checkpoint": ckpt, "url": hub + ckpt})
        c.pop("sha256"); c.pop("size")
    json.dump(c, open(os.path.join(catalogue, name + ".json"), "w"), indent=1)
PY

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 "$src/tests/model_cache/local_hub.py" "$work/hub" "$port" >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 50); do
  python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/')" 2>/dev/null && break
  sleep 0.1
done

export TM_CACHE=$work/cache TM_MODEL_CARDS=$work/catalogue TM_HUB_ENDPOINT=http://127.0.0.1:$port
unset TM_OFFLINE HF_TOKEN
tm_models=$tools/tm_models

expect 0 "fixture" "$tm_models" list
expect 2 "unknown model 'nope'.*known: damaged, fixture, interrupted, server_error;" "$tm_models" path nope
expect 1 "" "$tm_models" path fixture  # nothing cached yet
TM_OFFLINE=1 expect 1 "TM_OFFLINE|offline" "$tm_models" fetch fixture -q
[ -z "$(find "$work/cache" -name '*.pt' 2>/dev/null)" ] || fail "offline fetch left files"

expect 0 "" "$tm_models" fetch fixture -q
[ "$(find "$work/cache" -name '*.pt' | wc -l)" -eq 3 ] || fail "fetch did not cache 3 checkpoints"
card=$("$tm_models" path fixture) || fail "path after fetch failed"
[ -f "$card" ] || fail "path printed '$card', not a file"
# The cached card names the cached files, and the model loads from it.
expect 0 "parameters" "$tools/tm_info" --model "$card"
expect 0 "parameters .*inputs +S2L2A, S1GRD, LULC" "$tools/tm_info" --model fixture  # by name
expect 0 "" "$tm_models" verify fixture
TM_OFFLINE=1 expect 0 "" "$tm_models" fetch fixture -q  # all present: no network needed

# A damaged cached file: verify names it; fetch downloads it again.
cached=$(find "$work/cache" -name model.pt | head -1)
# Flip one byte in place (python, not dd: the sanitizer run preloads ASan into every program,
# and dd's page-aligned allocation aborts under it).
python3 - "$cached" <<'PY' || fail "could not damage $cached"
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(100)
    b = f.read(1)
    f.seek(100)
    f.write(bytes([b[0] ^ 0xFF]))
PY
cmp -s "$cached" "$served/model.pt" && fail "damaging $cached changed nothing"
expect 1 "model.pt" "$tm_models" verify fixture
expect 0 "" "$tm_models" fetch fixture -q
expect 0 "" "$tm_models" verify fixture
cmp -s "$cached" "$served/model.pt" || fail "re-downloaded checkpoint differs from the served one"

# A download that fails its sha256 is not kept under its final name.
expect 1 "sha256" "$tm_models" fetch damaged -q
[ -z "$(find "$work/cache" -name noise.pt)" ] || fail "a file failing its sha256 was kept"

# An interrupted transfer is resumed with a Range request and ends with the whole, checked file.
expect 0 "" "$tm_models" fetch interrupted -q
cmp -s "$(find "$work/cache" -name flaky.pt)" "$served/flaky.pt" || fail "resumed download differs"
grep -q "GET /test/fixture/resolve/main/flaky.pt bytes=[1-9]" "$work/requests.log" ||
  fail "the second request for flaky.pt did not resume with a Range: $(cat "$work/requests.log")"
[ -z "$(find "$work/cache" -name '*.part')" ] || fail "a .part file was left behind"

# A server error: a clear message naming the status, nothing in the cache.
expect 1 "500" "$tm_models" fetch server_error -q
[ -z "$(find "$work/cache" -name 'error500.pt' -o -name 'error500.pt.part')" ] ||
  fail "a failed download left a file"

# A cache folder that cannot be created.
touch "$work/not_a_folder"
TM_CACHE=$work/not_a_folder/cache expect 1 "not_a_folder" "$tm_models" fetch fixture -q

# The server gone: a missing file is a download error, not a hang or a crash.
kill "$server"; wait "$server" 2>/dev/null; server=
rm -f "$cached"
expect 1 "" "$tm_models" fetch fixture -q

[ "$failures" -eq 0 ] && echo "model cache: all checks passed"
exit $((failures > 0))
