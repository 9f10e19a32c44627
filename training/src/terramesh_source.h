// terramesh_source.h — the published TerraMesh layout (internal to tm_shards).
//
//   <root>/<split>/<MODALITY>/<name>.tar   one tar per modality folder, the same file names and
//                                          the same members in the same order in every folder
//   member "<key>.zarr.zip"                a zipped Zarr v2 store (see decode_terramesh_zarr in
//                                          tm/shards.h and training/README.md for the fields)
//
// list_shards / open_shard (shard_sources.cpp) hand the TerraMesh layout to these two.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tm/shards.h"

namespace terramind::shards {

// The shards of one split: `root` is the dataset root holding <split>/ or the split folder
// itself (then `split` is not used; records take the split folder's name when reading). Modality
// folders are those whose names the registry knows (aliases and any case accepted; the ShardRef
// is keyed by canonical name). Shards pair by file name across the requested modality folders
// (every modality folder present when none is requested). A folder holding shards of a subset
// (the name up to its last '_', "majortom_shard") must hold every shard of that subset, else
// FormatError naming the folder and the shard; a folder holding none of a subset is not paired
// for it (as published, S1RTC holds only majortom_* and S1GRD only ssl4eos12_* shards). A
// requested modality without a folder, or a split without modality folders, throws FormatError
// naming the folder. Sorted by name; ShardRef::path stays empty, ShardRef::samples -1.
std::vector<ShardRef> list_terramesh_shards(const std::string& root, const std::string& split,
                                            const std::vector<std::string>& modalities);

// Reads the shard's modality tars in lockstep, one "<key>.zarr.zip" member per modality and
// sample (other members are skipped). `modalities` (canonical names) selects which of the
// shard's modality tars are read; empty: all of them. Keys must agree across the tars, else
// FormatError "misaligned: <tar A> has key X where <tar B> has Y"; a tar that ends before the
// others is misaligned too. Sample::shard = ref.name; record.sources[modality] =
// "<tar>/<member>"; record.split from the shard's folder layout (the split folder's name).
std::unique_ptr<SampleSource> open_terramesh_shard(const ShardRef& ref,
                                                   const std::vector<std::string>& modalities);

}  // namespace terramind::shards
