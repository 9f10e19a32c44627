#!/usr/bin/python3
"""Seed corpora for the fuzz targets, made from the repository's fixtures (no torch needed).

    fuzz/make_corpus.py OUT_DIR

writes OUT_DIR/<target>/<seed> for every target in fuzz/CMakeLists.txt. Checkpoint seeds are
shrunk copies of ../shared/fixtures/*.pt (same keys, pickle layout and dtypes, every tensor cut
to at most 2 elements per dimension and to its first tensors), plus small hand-made variants.
Nothing here is committed: the seeds are regenerated on every fuzz/run.sh.
"""
import collections
import glob
import io
import json
import os
import pickle
import re
import struct
import sys
import types
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("TM_SHARED", os.path.join(os.path.dirname(ROOT), "shared"))
FIXTURES = os.environ.get("TM_FIXTURES", os.path.join(SHARED, "fixtures"))

# ---- stand-ins for the torch globals a checkpoint references ---------------------------------
torch_mod = types.ModuleType("torch")
utils_mod = types.ModuleType("torch._utils")
sys.modules.setdefault("torch", torch_mod)
sys.modules.setdefault("torch._utils", utils_mod)

# storage type -> (safetensors dtype, element size, struct format of one element)
STORAGES = {
    "FloatStorage": ("F32", 4, "<f"), "DoubleStorage": ("F64", 8, "<d"),
    "HalfStorage": ("F16", 2, "<e"), "BFloat16Storage": ("BF16", 2, None),
    "LongStorage": ("I64", 8, "<q"), "IntStorage": ("I32", 4, "<i"),
    "ShortStorage": ("I16", 2, "<h"), "CharStorage": ("I8", 1, "<b"),
    "ByteStorage": ("U8", 1, "<B"), "BoolStorage": ("BOOL", 1, "<?"),
}
STORAGE_TYPES = {}
for _name in STORAGES:
    _cls = type(_name, (), {"__module__": "torch"})
    setattr(torch_mod, _name, _cls)
    STORAGE_TYPES[_name] = _cls


class Storage:
    def __init__(self, type_name, key, numel):
        self.type_name, self.key, self.numel = type_name, key, numel


class Tensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, list(size), list(stride)

    def __reduce_ex__(self, protocol):
        return (_rebuild_tensor_v2,
                (self.storage, self.offset, tuple(self.size), tuple(self.stride), False,
                 collections.OrderedDict()))


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks, metadata=None):
    return Tensor(storage, offset, size, stride)


def _rebuild_parameter(data, requires_grad, hooks):
    return data


for _fn in (_rebuild_tensor_v2, _rebuild_parameter):
    _fn.__module__ = "torch._utils"
    setattr(utils_mod, _fn.__name__, _fn)


class CheckpointPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", STORAGE_TYPES[obj.type_name], obj.key, "cpu", obj.numel)
        return None


class CheckpointUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils":
            return getattr(utils_mod, name)
        if module == "torch" and name in STORAGE_TYPES:
            return STORAGE_TYPES[name]
        raise pickle.UnpicklingError(f"{module}.{name}")

    def persistent_load(self, pid):
        _, storage_type, key, _, numel = pid
        return Storage(storage_type.__name__, key, numel)


def numel(size):
    n = 1
    for s in size:
        n *= s
    return n


def contiguous_strides(size):
    strides, step = [], 1
    for s in reversed(size):
        strides.insert(0, step)
        step *= max(s, 1)
    return strides


def element_bytes(type_name, count, seed):
    fmt = STORAGES[type_name][2]
    out = bytearray()
    for i in range(count):
        v = (seed * 31 + i * 7) % 11 - 5
        if fmt is None:  # bfloat16: upper half of a float32
            out += struct.pack("<f", v / 4.0)[2:]
        elif fmt in ("<f", "<d", "<e"):
            out += struct.pack(fmt, v / 4.0)
        elif fmt == "<?":
            out += struct.pack(fmt, v > 0)
        elif fmt == "<B":
            out += struct.pack(fmt, v % 256)
        else:
            out += struct.pack(fmt, v)
    return bytes(out)


def shrink(obj, storages, limit):
    """Same structure, tensors cut to <= 2 per dimension, dicts of tensors to `limit` items."""
    if isinstance(obj, Tensor):
        size = [min(s, 2) for s in obj.size]
        old = obj.storage
        new = storages.get(old.key)
        if new is None or new.numel < numel(size):
            new = Storage(old.type_name, str(len(storages)), max(numel(size), 1))
            storages[old.key] = new
        return Tensor(new, 0, size, contiguous_strides(size))
    if isinstance(obj, dict):
        out = collections.OrderedDict() if isinstance(obj, collections.OrderedDict) else {}
        for i, (k, v) in enumerate(obj.items()):
            if i >= limit:
                break
            out[k] = shrink(v, storages, limit)
        meta = getattr(obj, "_metadata", None)
        if meta is not None:
            small = collections.OrderedDict(list(meta.items())[:limit])
            out._metadata = small
        return out
    return obj


def tensors_of(obj):
    if isinstance(obj, Tensor):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from tensors_of(v)


def storages_bytes(obj):
    seen = {}
    for t in tensors_of(obj):
        s = t.storage
        if s.key not in seen:
            seen[s.key] = element_bytes(s.type_name, s.numel, len(seen))
        if len(seen[s.key]) < s.numel * STORAGES[s.type_name][1]:
            seen[s.key] = element_bytes(s.type_name, s.numel, len(seen))
    return seen


def dump_pickle(obj):
    buf = io.BytesIO()
    CheckpointPickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


def write_pt(obj, folder="archive"):
    """A torch.save-like zip: stored entries, <folder>/data.pkl, data/<key>, version, byteorder."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr(folder + "/data.pkl", dump_pickle(obj))
        z.writestr(folder + "/byteorder", "little")
        for key, data in storages_bytes(obj).items():
            z.writestr(folder + "/data/" + key, data)
        z.writestr(folder + "/version", "3\n")
    return buf.getvalue()


def write_safetensors(obj):
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    data = storages_bytes(obj)
    flat = obj.get("state_dict", obj) if isinstance(obj, dict) else obj
    for name, t in (flat.items() if isinstance(flat, dict) else []):
        if not isinstance(t, Tensor):
            continue
        dtype, item, _ = STORAGES[t.storage.type_name]
        nbytes = numel(t.size) * item
        blob = data[t.storage.key][:nbytes]
        header[name] = {"dtype": dtype, "shape": t.size, "data_offsets": [offset, offset + nbytes]}
        blobs.append(blob)
        offset += nbytes
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def load_fixture(path):
    with zipfile.ZipFile(path) as z:
        name = next(n for n in z.namelist() if n.endswith("/data.pkl"))
        raw = z.read(name)
    return raw, CheckpointUnpickler(io.BytesIO(raw)).load()


def handmade():
    """Small checkpoints covering what the fixtures do not: every dtype, offsets, tied storage."""
    def t(type_name, size, storage=None, offset=0, stride=None):
        storage = storage or Storage(type_name, "s%d" % len(made_storages), numel(size) + offset)
        made_storages.append(storage)
        return Tensor(storage, offset, size, stride or contiguous_strides(size))

    made_storages = []
    every = {("t_" + n): t(n, [2, 3]) for n in STORAGES}
    shared = Storage("FloatStorage", "shared", 12)
    tied = {"a": t("FloatStorage", [3, 4], shared), "b": t("FloatStorage", [3, 4], shared),
            "view": t("FloatStorage", [2, 2], shared, offset=4, stride=[1, 2]),
            "scalar": t("FloatStorage", []), "empty": t("FloatStorage", [0, 5]),
            7: t("IntStorage", [1])}
    tied.pop(7)
    ordered = collections.OrderedDict(
        [("encoder_norm.weight", t("FloatStorage", [8])), ("x.bias", t("HalfStorage", [2]))])
    ordered._metadata = collections.OrderedDict([("", {"version": 1})])
    return [every, tied, ordered, {"state_dict": ordered, "epoch": 3},
            {"model": dict(ordered)}, {}]


def write(out, target, name, data):
    os.makedirs(os.path.join(out, target), exist_ok=True)
    with open(os.path.join(out, target, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# Keys card inference reads (model_card.cpp, tokenizer_card_inference.cpp): a seed keeps those,
# and of the block stacks only the first two blocks, so that every execution stays fast.
INFERENCE_KEYS = re.compile(
    r"^((sampler\.)?(model\.)?(encoder_norm|encoder\.[01]\.|decoder\.[01]\.|"
    r"(en|de)coder_embeddings\.)|encoder\.(proj|pos_emb)|(en|de)coder\.blocks\.[01]\.|"
    r"quant_proj|decoder\.(time_embed|out_proj|pos_emb|input_blocks))")


def shapes_text(modality, obj):
    lines = [modality]
    for name, value in (obj.items() if isinstance(obj, dict) else []):
        if isinstance(value, Tensor) and INFERENCE_KEYS.match(name):
            lines.append(" ".join([name] + [str(s) for s in value.size]))
    return "\n".join(lines) + "\n"


def main(out):
    checkpoints = []  # (name, object)
    for path in sorted(glob.glob(os.path.join(FIXTURES, "*.pt"))):
        stem = os.path.splitext(os.path.basename(path))[0]
        raw, obj = load_fixture(path)
        if len(raw) <= 5000:  # the big ones slow every execution down
            write(out, "pickle", stem + ".pkl", raw)
        checkpoints.append((stem, shrink(obj, {}, 12)))
        if stem.endswith("_state_dict"):
            modality = {"tokenizer_divae_s1grd": "S1GRD", "tokenizer_vqvae_lulc": "LULC"}.get(
                stem[: -len("_state_dict")], "S2L2A")
            write(out, "card_inference", stem + ".txt", shapes_text(modality, obj))
    for i, obj in enumerate(handmade()):
        checkpoints.append(("handmade%d" % i, obj))
    for name, obj in checkpoints:
        pt = write_pt(obj, folder=name)
        write(out, "torch_checkpoint", name + ".pt", pt)
        write(out, "zip_archive", name + ".pt", pt)
        write(out, "pickle", name + "_small.pkl", dump_pickle(obj))
        write(out, "safetensors", name + ".safetensors", write_safetensors(obj))

    cards = sorted(glob.glob(os.path.join(ROOT, "libtm/data/cards/*.json")) +
                   glob.glob(os.path.join(ROOT, "sample_data/fixture_models/terramind*.json")))
    for path in cards:
        write(out, "model_card", os.path.basename(path), open(path, "rb").read())
    tokenizer_cards = sorted(glob.glob(os.path.join(ROOT, "libtm/data/tokenizer_cards/*.json")) +
                             glob.glob(os.path.join(ROOT, "sample_data/fixture_models/tok*.json")))
    for path in tokenizer_cards:
        write(out, "tokenizer_card", os.path.basename(path), open(path, "rb").read())

    for path in sorted(glob.glob(os.path.join(ROOT, "tests/gdal_plugin/*.tmgen.in"))):
        text = open(path).read().replace("@TM_SAMPLE_RELATIVE@", "s2l2a_sample.tif")
        write(out, "descriptor", os.path.basename(path)[: -len(".in")], text)
    write(out, "descriptor", "full.tmgen", json.dumps({
        "tm_descriptor": 1, "description": "every member",
        "inputs": {"S2L2A": "/vsimem/s2.tif", "S1GRD": "s1.tif"}, "targets": ["LULC", "DEM"],
        "model": "model.json",
        "settings": {"steps": 10, "seed": -3, "device": "cpu", "threads": 2, "window": 256,
                     "overlap": 16, "blend": "mean", "edge": "fill", "batch": 4,
                     "cache_mb": 64, "overviews": "auto"},
        "options": {"temperature": "0.7", "greedy": True, "top_k": 40}}, indent=1))

    grammar = re.compile(r'TM:[A-Za-z0-9_.\-]+=(?:"(?:[^"\\]|\\.)*"|[^\s`":]*)'
                         r'(?::[A-Za-z0-9_.\-]+=(?:"(?:[^"\\]|\\.)*"|[^\s`":]*))*')
    readme = open(os.path.join(ROOT, "gdal_plugin/README.md")).read()
    strings = sorted(set(grammar.findall(readme)))
    strings += ['TM:descriptor="/vsimem/fuzz/sample.tmgen":target=LULC:seed=4',
                'TM:S2L2A="a b\\"c\\\\.tif":opt.temperature=0.5:overviews=auto:edge=reflect']
    for i, text in enumerate(strings):
        write(out, "connection_string", "readme%02d" % i, text)

    card = json.load(open(os.path.join(ROOT, "sample_data/fixture_models/tokenizer_lulc_fixture.json")))
    for i, (modality, levels, vocab) in enumerate(
            [("LULC", "7-5-5-5-5", 4375), ("S1GRD", "8-8-8-6-5", 15360)]):
        items = {"TM_FORMAT": "tm-token-raster/1", "TM_MODALITY": modality,
                 "TM_TOKENIZER": "fixture", "TM_TOKENIZER_CARD": json.dumps(card),
                 "TM_FSQ_LEVELS": levels, "TM_VOCAB_SIZE": str(vocab), "TM_PATCH_SIZE": "16",
                 "TM_TILE_SIZE": "224", "TM_SOURCE_WIDTH": "1024", "TM_SOURCE_HEIGHT": "1000"}
        write(out, "token_raster", "meta%d.txt" % i,
              "".join("%s=%s\n" % kv for kv in items.items()))

    # Training shards: a tm shard with a record and arrays (gzip'd .npy, as tm_shards writes).
    import gzip, tarfile
    def npy(descr, shape, body):
        header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)
        header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + body
    record = json.dumps({"key": "k0", "split": "train", "crs": "EPSG:32632",
                         "geotransform": [500000, 10, 0, 6000000, 0, -10], "width": 2,
                         "height": 2, "date": None, "center_lon": 9.0, "center_lat": 54.1,
                         "sources": {"DEM": "dem.tif"}}).encode()
    members = [("k0.json", record),
               ("k0.dem.npy.gz", gzip.compress(npy("<i2", "(1, 2, 2)", struct.pack("<4h", 1, 2, 3, 4)))),
               ("k0.s1rtc.npy.gz", gzip.compress(npy("<f4", "(2, 1, 2)", struct.pack("<4f", -1, -2, -3, 0.5)))),
               ("k1.lulc.npy", npy("|u1", "(1, 2, 2)", bytes([1, 2, 9, 0])))]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, body in members:
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    write(out, "shard", "shard.tar", buffer.getvalue())


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
