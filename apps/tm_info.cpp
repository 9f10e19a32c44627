// tm_info: the modality registry, and which modalities a raster can be read as (and why not).
#include <unistd.h>
#include <boost/program_options.hpp>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "model_summary.h"
#include "tm/model.h"
#include "tm/tiling.h"

namespace po = boost::program_options;
using namespace terramind;

namespace {

constexpr int kExitMismatch = 1;
constexpr int kExitBadInput = 2;

std::string join_numbers(const std::vector<double>& values) {
  std::ostringstream out;
  for (std::size_t i = 0; i < values.size(); ++i) out << (i ? ", " : "") << values[i];
  return out.str();
}

std::string format_number(double value) {
  std::ostringstream out;
  out << std::setprecision(10) << value;
  return out.str();
}

void print_registry(std::ostream& out) {
  const auto& registry = ModalityRegistry::instance();
  out << std::left << std::setw(9) << "name" << std::setw(13) << "kind" << std::setw(5) << "ch"
      << std::setw(7) << "vocab" << std::setw(10) << "generate"
      << "bands\n";
  for (const auto& m : registry.modalities()) {
    std::string bands;
    for (const auto& b : m.bands) bands += (bands.empty() ? "" : " ") + b.name;
    out << std::setw(9) << m.name << std::setw(13) << to_string(m.kind) << std::setw(5)
        << (m.is_image() ? std::to_string(m.channels()) : "-") << std::setw(7)
        << (m.vocab_size ? std::to_string(m.vocab_size) : "-") << std::setw(10)
        << (m.can_generate() ? "yes" : "no") << (bands.empty() ? "(text tokens)" : bands) << "\n";
  }
  out << "\nLULC classes:";
  for (const auto& c : registry.lulc_classes()) out << " " << c.index << "=" << c.name;
  out << "\nDetails of one modality: tm_info --modality NAME\n";
}

void print_modality(const Modality& m, std::ostream& out) {
  out << m.name << ": " << m.description << "\n"
      << "  kind           " << to_string(m.kind) << "\n"
      << "  aliases        ";
  for (const auto& a : m.aliases) out << a << " ";
  out << "\n  input key      " << m.input_key << " (id " << m.input_id << ")\n";
  if (m.can_generate())
    out << "  output key     " << m.output_key << " (id " << m.output_id << ")\n";
  if (m.vocab_size) out << "  vocabulary     " << m.vocab_size << "\n";
  if (!m.fsq_levels.empty()) {
    out << "  FSQ levels     ";
    for (std::size_t i = 0; i < m.fsq_levels.size(); ++i) out << (i ? "-" : "") << m.fsq_levels[i];
    out << "\n";
  }
  if (m.max_length) out << "  max length     " << m.max_length << "\n";
  if (!m.tokenizer.empty()) out << "  tokenizer      " << m.tokenizer << "\n";
  if (!m.units.empty()) out << "  units          " << m.units << "\n";
  if (!m.raster_types.empty()) {
    out << "  raster types   ";
    for (const auto& t : m.raster_types) out << t << " ";
    out << "\n";
  }
  for (std::size_t i = 0; i < m.bands.size(); ++i)
    out << "  band " << std::setw(2) << i + 1 << "        " << std::setw(5) << m.bands[i].name
        << m.bands[i].long_name << "\n";
  for (StatsVersion v : {StatsVersion::kV1, StatsVersion::kV01}) {
    const auto& table = v == StatsVersion::kV1 ? m.stats_v1 : m.stats_v01;
    if (!table) continue;
    out << "  mean " << std::setw(10) << to_string(v) << join_numbers(table->mean) << "\n"
        << "  std  " << std::setw(10) << to_string(v) << join_numbers(table->std) << "\n";
  }
}

void print_raster(const RasterInfo& info, std::ostream& out) {
  out << info.path << "\n"
      << "  driver     " << info.driver << "\n"
      << "  size       " << info.width << " x " << info.height << ", " << info.band_count
      << (info.band_count == 1 ? " band " : " bands ") << info.data_type << "\n"
      << "  nodata     " << (info.nodata ? format_number(*info.nodata) : "none") << "\n"
      << "  CRS        " << crs_display_name(info.georef.crs_wkt) << "\n";
  if (info.georef.has_geotransform) {
    const auto& gt = info.georef.geotransform;
    out << std::setprecision(12) << "  origin     " << gt[0] << ", " << gt[3] << "  pixel " << gt[1]
        << " x " << gt[5] << "\n";
  } else {
    out << "  geotransform none\n";
  }
  std::string descriptions;
  for (const auto& d : info.band_descriptions) descriptions += (d.empty() ? "-" : d) + " ";
  out << "  bands      " << descriptions << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description visible(
      "tm_info: the TerraMind modality registry, and which modalities a raster can be read as\n\n"
      "usage: tm_info                      list the modalities\n"
      "       tm_info --modality NAME      bands, vocabulary and normalisation of one modality\n"
      "       tm_info RASTER...            describe rasters and check them against every modality\n"
      "       tm_info RASTER --as NAME     check one modality; exit 1 if the raster does not fit\n"
      "       tm_info --model CARD_OR_CHECKPOINT   parameters, modalities, dimensions of a "
      "model\n\n"
      "options");
  std::vector<std::string> rasters;
  std::string modality_name, as_name, model_path;
  int64_t head_dim = 64;
  visible.add_options()("help,h", "show this help")("modality,m", po::value(&modality_name),
                                                    "show one modality of the registry")(
      "as", po::value(&as_name), "check the rasters against this modality only")(
      "model", po::value(&model_path),
      "describe a model card (.json) or checkpoint (.pt, .safetensors)")(
      "head-dim", po::value(&head_dim)->default_value(64),
      "head width assumed when a card is inferred from a checkpoint");
  po::options_description all;
  all.add(visible).add_options()("raster", po::value(&rasters)->multitoken());
  po::positional_options_description positional;
  positional.add("raster", -1);

  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "tm_info: " << e.what() << "\n\n" << visible;
    return kExitBadInput;
  }
  if (vm.count("help")) {
    std::cout << visible;
    return 0;
  }

  const auto& registry = ModalityRegistry::instance();
  try {
    if (!model_path.empty()) {
      const bool is_card =
          model_path.size() > 5 && model_path.substr(model_path.size() - 5) == ".json";
      if (is_card) {
        const ModelCard card = ModelCard::from_file(model_path);
        if (access(card.checkpoint.c_str(), R_OK) != 0) {
          // Official cards ship without their weights: describe the card itself.
          print_model_summary(TerraMindModel::untrained(card), model_path, std::cout);
          std::cout << "checkpoint  " << card.checkpoint
                    << " not found: download it to use the model\n";
          return 0;
        }
      }
      const TerraMindModel model = TerraMindModel::open(model_path, head_dim);
      print_model_summary(model, model_path, std::cout);
      return 0;
    }
    if (!modality_name.empty()) {
      print_modality(registry.get(modality_name), std::cout);
      return 0;
    }
    if (rasters.empty()) {
      if (!as_name.empty()) {
        std::cerr << "tm_info: --as needs a raster to check\n";
        return kExitBadInput;
      }
      print_registry(std::cout);
      return 0;
    }
    const Modality* only = as_name.empty() ? nullptr : &registry.get(as_name);
    int status = 0;
    for (const auto& path : rasters) {
      const RasterInfo info = inspect_raster(path);
      print_raster(info, std::cout);
      if (!info.georef.is_georeferenced())
        std::cout << "  warning    no georeferencing: tm tools refuse it unless told to use the "
                     "bare pixel grid\n";
      bool any = false;
      for (const auto& m : registry.modalities()) {
        if (!m.is_image() || (only && &m != only)) continue;
        const ModalityCheck check = check_modality(info, m);
        any = any || check.ok;
        std::cout << "  " << (check.ok ? "yes  " : "no   ") << check.summary() << "\n";
        if (check.ok)
          for (const auto& note : check.notes) std::cout << "         (" << note << ")\n";
      }
      if (only && !any) {
        std::cerr << "tm_info: " << path << " cannot be read as " << only->name << "\n";
        status = kExitMismatch;
      }
    }
    return status;
  } catch (const UnknownModality& e) {
    std::cerr << "tm_info: " << e.what() << "\n";
    return kExitBadInput;
  } catch (const RasterError& e) {
    std::cerr << "tm_info: " << e.what() << "\n";
    return kExitBadInput;
  } catch (const CheckpointError& e) {
    std::cerr << "tm_info: " << e.what() << "\n";
    return kExitBadInput;
  } catch (const std::invalid_argument& e) {
    std::cerr << "tm_info: " << e.what() << "\n";
    return kExitBadInput;
  } catch (const c10::Error& e) {
    // LibTorch failures (e.g. a card too large to build) are reported, never an abort.
    std::cerr << "tm_info: " << e.what_without_backtrace() << "\n";
    return kExitBadInput;
  } catch (const std::exception& e) {
    std::cerr << "tm_info: " << e.what() << "\n";
    return kExitBadInput;
  }
}
