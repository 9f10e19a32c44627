"""Bad inputs for the command-line tests of card validation and checkpoint CRC checks.

usage: make_bad_inputs.py OUT_DIR FIXTURE_MODELS_DIR FIXTURES_DIR

Writes into a fresh OUT_DIR variants of sample_data/fixture_models/terramind_fixture.json (file
names made absolute, one field broken each) and flipped.pt, a copy of the fixture checkpoint
terramind_generation_state_dict.pt with 16 bytes inside its largest tensor changed.
"""
import json
import os
import shutil
import struct
import sys
import zipfile


def main(out_dir, models_dir, fixtures_dir):
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)

    with open(os.path.join(models_dir, "terramind_fixture.json")) as f:
        card = json.load(f)
    card["checkpoint"] = os.path.normpath(os.path.join(models_dir, card["checkpoint"]))
    card["tokenizers"] = {k: os.path.join(models_dir, v) for k, v in card["tokenizers"].items()}

    def write(name, **changes):
        variant = dict(card, **changes)
        with open(os.path.join(out_dir, name + ".json"), "w") as f:
            json.dump(variant, f, indent=2)

    write("good")
    write("bad_patch_size_0", patch_size=0)
    write("bad_dim_huge", dim=1099511627776)
    write("bad_dim_fraction", dim=64.5)
    write("bad_unknown_key", patchsize=16)
    tokenizers = card["tokenizers"]
    write("swapped_tokenizers", tokenizers={"S1GRD": tokenizers["LULC"], "LULC": tokenizers["S1GRD"]})

    source = os.path.join(fixtures_dir, "terramind_generation_state_dict.pt")
    with open(source, "rb") as f:
        data = bytearray(f.read())
    with zipfile.ZipFile(source) as archive:
        entry = max((i for i in archive.infolist() if "/data/" in i.filename),
                    key=lambda i: i.file_size)
    name_length, extra_length = struct.unpack_from("<HH", data, entry.header_offset + 26)
    start = entry.header_offset + 30 + name_length + extra_length + entry.file_size // 2
    for i in range(start, start + 16):
        data[i] ^= 0xFF
    with open(os.path.join(out_dir, "flipped.pt"), "wb") as f:
        f.write(data)
    with open(os.path.join(out_dir, "flipped_entry.txt"), "w") as f:
        f.write(entry.filename + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
