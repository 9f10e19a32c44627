// The smallest TerraMind the trainer tests train: S2L2A pixels and LULC tokens in, LULC out.
#pragma once

#include "tm/cards.h"

namespace terramind::testing {

inline ModelCard tiny_trainer_card(const std::string& name = "tiny-test") {
  ModelCard card;
  card.name = name;
  card.dim = 32;
  card.heads = 2;
  card.encoder_depth = 1;
  card.decoder_depth = 1;
  card.encoder_modalities = {"untok_sen2l2a@224", "tok_lulc@224"};
  card.decoder_modalities = {"tok_lulc@224"};
  return card;
}

}  // namespace terramind::testing
