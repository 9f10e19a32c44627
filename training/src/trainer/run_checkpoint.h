// Run checkpoints: one folder per saved step, written whole or not at all.
//
//   <output>/checkpoints/step-000000100/
//     model.pt      the weights, official key layout (loads in TerraMindModel and the reference)
//     card.json     the model card naming model.pt: `tm_generate --model card.json` runs it
//     optimiser.pt  AdamW moments by parameter name, and its step count
//     ema.pt        EMA weights (official layout), when the run keeps an EMA
//     trainer.json  position (step, epoch, batches into the epoch), data slots, loss scale, the
//                   run file's text and the tm version
//   <output>/checkpoints/latest  the name of the newest complete folder
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tm/checkpoint.h"
#include "tm/trainer.h"
#include "tm/training_metrics.h"

namespace terramind::training {

struct RunPosition {
  std::int64_t step = 0;              // optimiser steps done
  int epoch = 0;                      // of the data
  std::int64_t batches_in_epoch = 0;  // micro-batches each slot has drawn in this epoch
};

struct CheckpointContents {
  TensorMap model;
  std::map<std::string, at::Tensor> optimiser;
  std::map<std::string, at::Tensor> ema;  // by parameter name; empty: no EMA
  RunPosition position;
  double loss_scale = 1;
  int world_size = 1;
  int slots = 1;
};

// Writes the folder for contents.position.step (staged and renamed), points `latest` at it and
// removes all but the newest config.keep_checkpoints. `card_json` is the card naming model.pt
// (a model or a tokenizer card). Returns the folder.
std::string save_checkpoint(const TrainingSettings& config, const std::string& card_json,
                            const CheckpointContents& contents);

struct RestoredRun {
  TensorMap model;
  std::map<std::string, at::Tensor> optimiser, ema;
  RunPosition position;
  double loss_scale = 1;
};

// Reads a checkpoint folder for resuming: TrainingError when it is incomplete, or was written
// with another number of data slots (world size x accumulation: the data order would differ).
RestoredRun restore_checkpoint(const std::string& folder, const TrainingSettings& config, int slots,
                               int world_size);

// The dataset holds the requested splits, the pixel modalities and token arrays of the token
// modalities (per its manifest), and token grids that match the model's. TrainingError if not.
void check_dataset(const RunConfig& config, const std::vector<std::string>& pixel_modalities,
                   const std::vector<std::string>& token_modalities);

bool ends_with_safetensors(const std::string& path);

// metrics.csv and loss.png (train and validation loss, the log(vocabulary) line of a model that
// has learnt nothing) beside metrics.jsonl.
void write_run_plots(const RunConfig& config, const MetricsLog& metrics);

}  // namespace terramind::training
