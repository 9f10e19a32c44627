#!/usr/bin/env python3
"""Checks that PyTorch reads a tm checkpoint as the reference's own state dict.

usage: check_reference_load.py OURS.pt REFERENCE_STATE_DICT.pt

OURS.pt is a tm_train checkpoint (checkpoints/step-N/model.pt); the reference file is a state dict
the reference saved for the same architecture (e.g. ../shared/fixtures/
terramind_generation_state_dict.pt for sample_data/fixture_models/terramind_fixture.json). Loads
both with torch.load(weights_only=True), compares key sets, shapes and dtypes, and loads ours
strictly into a module laid out like the reference. Exit 0 when everything matches. Needs a
Python with torch (not part of the build or CI: pip install torch).
"""
import sys

import torch


def main(ours_path, ref_path):
    ours = torch.load(ours_path, weights_only=True, map_location="cpu")
    ref = torch.load(ref_path, weights_only=True, map_location="cpu")
    problems = []
    missing, extra = sorted(set(ref) - set(ours)), sorted(set(ours) - set(ref))
    if missing:
        problems.append(f"{len(missing)} reference keys missing, e.g. {missing[:3]}")
    if extra:
        problems.append(f"{len(extra)} keys the reference lacks, e.g. {extra[:3]}")
    for k in sorted(set(ref) & set(ours)):
        if ref[k].shape != ours[k].shape or ref[k].dtype != ours[k].dtype:
            problems.append(f"{k}: {tuple(ours[k].shape)} {ours[k].dtype}, reference "
                            f"{tuple(ref[k].shape)} {ref[k].dtype}")
    module = torch.nn.Module()
    for key, value in ref.items():
        parent = module
        *path, leaf = key.split(".")
        for part in path:
            if not hasattr(parent, part):
                parent.add_module(part, torch.nn.Module())
            parent = getattr(parent, part)
        parent.register_buffer(leaf, torch.zeros_like(value))
    try:
        module.load_state_dict(ours, strict=True)
    except RuntimeError as e:
        problems.append(f"strict load_state_dict failed: {e}")
    print(f"{ours_path}: {len(ours)} tensors, reference {len(ref)} (torch {torch.__version__})")
    for p in problems:
        print("  " + p)
    print("ok: loads as the reference's state dict" if not problems else "MISMATCH")
    return 0 if not problems else 1


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
