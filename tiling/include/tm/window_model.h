// tm/window_model.h — the compute step of tiled inference, independent of any particular model
// (part of tm_tiling; included by tm/tiling.h).
//
// The C++ types a model runtime shares with the engine: WindowModel, TargetSpec, InputBatch and
// OutputBatch (with PixelWindow, and LulcClass and StatsVersion from tm/registry.h). The GDAL
// plugin's runtime ABI (gdal_plugin/tm_runtime_api.h, TM_RUNTIME_TILING_INTERFACE) covers exactly
// these: changing their layout or virtual functions means bumping it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tm/pixel_window.h"
#include "tm/registry.h"

namespace terramind {

// ---------------------------------------------------------------------------------------------
// The compute step, independent of any particular model.

// One output of a model.
struct TargetSpec {
  std::string name;
  int channels = 1;                   // values per pixel; for class targets one score per class
  bool is_classes = false;            // class probabilities: blended, then arg-maxed at the end
  std::string data_type = "Float32";  // continuous targets: GDAL type written (class maps: Byte)
  double nodata = -9999.0;            // written where no input holds data; fits data_type
  std::vector<std::string> band_descriptions;
  std::string units;               // physical units of continuous bands ("dB", "m"); "" for none
  std::vector<LulcClass> classes;  // class targets: channel k is classes[k] (index, name, colour);
                                   // empty: channel k is class k
};

// How a registry modality is written as a target: class maps (LULC) as class probabilities with
// the registry's classes and colours, nodata class 0; others with their band names and output
// type (nodata 0 for UInt16, -9999 otherwise). Throws std::invalid_argument for unknown names.
TargetSpec target_spec_for(const std::string& modality);

// One input modality of a batch: [window][channel][row][col] and [window][row][col].
struct InputTensor {
  std::string modality;  // registry name
  int channels = 0;
  std::vector<float> values;        // invalid pixels already filled; standardised if asked
  std::vector<std::uint8_t> valid;  // 1 where the raster held data before filling
};

struct InputBatch {
  int count = 0;                     // windows in the batch
  int window_size = 0;               // rows = cols
  std::vector<PixelWindow> windows;  // raster position of each window, e.g. to seed per window
  std::vector<InputTensor> inputs;   // in the order the scene inputs were given
  const InputTensor* find(const std::string& modality) const;
};

struct OutputTensor {
  std::string target;
  int channels = 0;
  std::vector<float> values;  // [window][channel][row][col], sized by the engine
};

struct OutputBatch {
  std::vector<OutputTensor> targets;  // the requested targets only, in request order
  OutputTensor* find(const std::string& target);
};

class WindowModel {
 public:
  virtual ~WindowModel() = default;
  virtual std::vector<std::string> targets() const = 0;
  virtual TargetSpec spec(const std::string& target) const = 0;
  // Input modalities (registry names) the model can take; any non-empty subset may be given.
  virtual bool accepts_input(const std::string& modality) const = 0;
  // Registry statistics the engine standardises inputs with, (x - mean) / std, before infer().
  // nullopt: the model gets raw values and standardises itself (TerraMind generation does); the
  // engine never normalises twice.
  virtual std::optional<StatsVersion> input_standardisation() const { return std::nullopt; }
  // Window sizes must be a multiple of this (e.g. 16 for ViT patches, 32 for diffusion decoders).
  virtual int window_size_multiple() const { return 1; }
  // What makes the model's pixels, for the provenance metadata of every output ("TM" domain):
  // e.g. MODEL, MODEL_SHA256, SEED, DIFFUSION_STEPS, TEMPERATURE, TOP_P.
  virtual std::map<std::string, std::string> provenance() const { return {}; }
  // Fills outputs.targets[*].values for every window of the batch, all targets in one pass.
  // Called from one thread at a time; may use threads of its own.
  virtual void infer(const InputBatch& inputs, OutputBatch& outputs) = 0;
};

}  // namespace terramind
