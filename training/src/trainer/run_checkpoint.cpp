// Run checkpoints (staged folder + rename, a `latest` pointer, keep the newest K), dataset
// checks before a run starts, and the run's plots.
#include "run_checkpoint.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tm/registry.h"
#include "tm/shards.h"

namespace terramind::training {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kPrefix = "step-";

std::string checkpoints_dir(const std::string& output) { return output + "/checkpoints"; }

std::string folder_name(std::int64_t step) {
  std::ostringstream s;
  s << kPrefix << std::setw(9) << std::setfill('0') << step;
  return s.str();
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw TrainingError(path + ": cannot read");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) throw TrainingError(path + ": cannot write");
}

TensorMap to_tensor_map(const std::map<std::string, at::Tensor>& tensors) {
  TensorMap out;
  for (const auto& [name, t] : tensors) out.insert(name, t.detach().cpu().contiguous());
  return out;
}

std::map<std::string, at::Tensor> from_tensor_map(const TensorMap& tensors) {
  std::map<std::string, at::Tensor> out;
  for (const auto& [name, t] : tensors) out[name] = t;
  return out;
}

// EMA weights are kept by parameter name; saved in the model's official layout so that ema.pt
// is a drop-in model.pt (tied weights under both keys).
TensorMap ema_state(const TensorMap& model, const std::map<std::string, at::Tensor>& ema) {
  TensorMap out;
  for (const auto& [name, t] : model) {
    const auto it = ema.find(name);
    out.insert(name, (it != ema.end() ? it->second : t).detach().cpu().contiguous());
  }
  return out;
}

std::vector<std::string> step_folders(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_directory() && name.rfind(kPrefix, 0) == 0 &&
        name.find(".partial") == std::string::npos)
      names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

bool ends_with_safetensors(const std::string& path) {
  const std::string ext = ".safetensors";
  return path.size() >= ext.size() && path.compare(path.size() - ext.size(), ext.size(), ext) == 0;
}

std::string save_checkpoint(const TrainingSettings& config, const std::string& card_json,
                            const CheckpointContents& c) {
  const std::string dir = checkpoints_dir(config.output);
  const std::string name = folder_name(c.position.step);
  const std::string folder = dir + "/" + name;
  const std::string staged = folder + ".partial";
  std::error_code ec;
  fs::create_directories(dir, ec);
  fs::remove_all(staged, ec);
  if (!fs::create_directories(staged, ec))
    throw TrainingError(staged + ": cannot create the checkpoint folder: " + ec.message());
  try {
    save_torch_checkpoint(staged + "/model.pt", c.model);
    write_text(staged + "/card.json", card_json);
    save_torch_checkpoint(staged + "/optimiser.pt", to_tensor_map(c.optimiser));
    if (!c.ema.empty()) save_torch_checkpoint(staged + "/ema.pt", ema_state(c.model, c.ema));
    json t;
    t["format"] = "tm-run-checkpoint/1";
    t["tm_version"] = tm_version();
    t["step"] = c.position.step;
    t["epoch"] = c.position.epoch;
    t["batches_in_epoch"] = c.position.batches_in_epoch;
    t["loss_scale"] = c.loss_scale;
    t["world_size"] = c.world_size;
    t["data_slots"] = c.slots;
    t["ema"] = !c.ema.empty();
    t["run_file"] = config.text;
    write_text(staged + "/trainer.json", t.dump(2) + "\n");
  } catch (const CheckpointError& e) {
    fs::remove_all(staged, ec);
    throw TrainingError(folder + ": " + e.what());
  } catch (...) {
    fs::remove_all(staged, ec);
    throw;
  }
  fs::remove_all(folder, ec);  // a step saved again (the last step after a periodic save)
  fs::rename(staged, folder, ec);
  if (ec) throw TrainingError(folder + ": cannot move the checkpoint into place: " + ec.message());
  write_text(dir + "/latest.tmp", name + "\n");
  fs::rename(dir + "/latest.tmp", dir + "/latest", ec);
  if (ec) throw TrainingError(dir + "/latest: " + ec.message());

  auto names = step_folders(dir);
  const std::size_t keep = static_cast<std::size_t>(std::max(1, config.keep_checkpoints));
  for (std::size_t i = 0; i + keep < names.size(); ++i) fs::remove_all(dir + "/" + names[i], ec);
  return folder;
}

std::string latest_checkpoint(const std::string& run_dir) {
  const std::string dir = checkpoints_dir(run_dir);
  std::ifstream in(dir + "/latest");
  std::string name;
  if (in && std::getline(in, name) && !name.empty() && fs::is_directory(dir + "/" + name))
    return dir + "/" + name;
  // No pointer (or a dangling one): the newest complete folder.
  const auto names = step_folders(dir);
  return names.empty() ? std::string() : dir + "/" + names.back();
}

RestoredRun restore_checkpoint(const std::string& folder, const TrainingSettings& config, int slots,
                               int world_size) {
  for (const char* f : {"model.pt", "optimiser.pt", "trainer.json"})
    if (!fs::exists(folder + "/" + f))
      throw TrainingError(folder + ": incomplete checkpoint, " + f + " is missing");
  json t;
  try {
    t = json::parse(read_text(folder + "/trainer.json"));
  } catch (const json::exception& e) {
    throw TrainingError(folder + "/trainer.json: " + e.what());
  }
  RestoredRun r;
  try {
    r.position.step = t.at("step").get<std::int64_t>();
    r.position.epoch = t.at("epoch").get<int>();
    r.position.batches_in_epoch = t.at("batches_in_epoch").get<std::int64_t>();
    r.loss_scale = t.at("loss_scale").get<double>();
    const int saved_slots = t.at("data_slots").get<int>();
    const int saved_world = t.at("world_size").get<int>();
    if (saved_slots != slots)
      throw TrainingError(
          folder + ": written by a run with " + std::to_string(saved_slots) +
          " data slots (world size " + std::to_string(saved_world) + " x accumulation " +
          std::to_string(saved_slots / std::max(1, saved_world)) + "), this run has " +
          std::to_string(slots) + " (world size " + std::to_string(world_size) +
          " x accumulation " + std::to_string(config.accumulation) +
          "): the data order would differ; keep world size x accumulation");
    if (t.at("ema").get<bool>() != config.ema.has_value())
      throw TrainingError(folder + (config.ema ? ": has no EMA weights, the run file asks for ema"
                                               : ": has EMA weights, the run file has no ema"));
  } catch (const json::exception& e) {
    throw TrainingError(folder + "/trainer.json: " + e.what());
  }
  try {
    r.model = load_torch_checkpoint(folder + "/model.pt");
    r.optimiser = from_tensor_map(load_torch_checkpoint(folder + "/optimiser.pt"));
    if (config.ema) r.ema = from_tensor_map(load_torch_checkpoint(folder + "/ema.pt"));
  } catch (const CheckpointError& e) {
    throw TrainingError(folder + ": " + e.what());
  }
  return r;
}

void check_dataset(const RunConfig& config, const std::vector<std::string>& pixel_modalities,
                   const std::vector<std::string>& token_modalities) {
  shards::Manifest manifest;
  try {
    manifest = shards::read_manifest(config.shards);
  } catch (const shards::FormatError& e) {
    throw TrainingError("data.shards: " + std::string(e.what()));
  }
  for (const std::string& split : {config.split, config.val_split}) {
    if (split.empty()) continue;
    const auto it = manifest.splits.find(split);
    if (it == manifest.splits.end() || it->second.samples == 0)
      throw TrainingError(config.shards + ": has no samples in split '" + split + "'");
  }
  const auto& have = manifest.modalities;
  for (const auto& m : pixel_modalities)
    if (std::find(have.begin(), have.end(), m) == have.end())
      throw TrainingError(config.shards + ": has no " + m + " pixels (data.modalities." + m +
                          ".pixels)");
  const std::int64_t grid = config.card.image_size / config.card.patch_size;
  for (const auto& m : token_modalities) {
    const auto it = manifest.tokens.find(m);
    if (it == manifest.tokens.end())
      throw TrainingError(config.shards + ": has no " + m +
                          " tokens; pre-tokenise it with `tm_tokenize_shards " + config.shards +
                          " --out DIR --tokenizer " + m + "=CHECKPOINT`");
    const auto& info = it->second;
    if (info.grid_h != grid || info.grid_w != grid)
      throw TrainingError(config.shards + ": " + m + " tokens are on a " +
                          std::to_string(info.grid_h) + "x" + std::to_string(info.grid_w) +
                          " grid, the model's is " + std::to_string(grid) + "x" +
                          std::to_string(grid));
    const Modality* mod = ModalityRegistry::instance().find(m);
    // A smaller codebook fits the model's embedding (ids stay below its size); a larger not.
    if (mod && mod->vocab_size > 0 && info.vocabulary > mod->vocab_size)
      throw TrainingError(config.shards + ": " + m + " tokens come from a tokenizer with " +
                          std::to_string(info.vocabulary) + " codes, the model's " +
                          mod->output_key + " has " + std::to_string(mod->vocab_size));
  }
}

void write_run_plots(const RunConfig& config, const MetricsLog& metrics) {
  const auto& rows = metrics.rows();
  if (rows.empty()) return;
  write_metrics_csv(rows, config.output + "/metrics.csv");
  PlotOptions options;
  options.title = "TerraMind pre-training: " + config.card.name;
  options.y_label = "cross-entropy";
  // The loss of uniform predictions over the target vocabularies (their mean log).
  double log_v = 0;
  int n = 0;
  for (const auto& key : config.card.decoder_modalities) {
    const Modality* mod = ModalityRegistry::instance().find_by_key(key);
    if (mod && mod->vocab_size > 0) {
      log_v += std::log(double(mod->vocab_size));
      ++n;
    }
  }
  if (n > 0) {
    options.reference_line = log_v / n;
    options.reference_label = "log V (uniform)";
  }
  plot_metrics(rows, config.output + "/loss.png", {"loss"}, options);
}

}  // namespace terramind::training
