// The state behind TrainableTerraMind (shared by its two source files).
#pragma once

#include "terramind_network.h"
#include "tm/pretraining.h"

namespace terramind {

struct TrainableTerraMind::Impl {
  ModelCard card;
  net::TerraMind net{nullptr};
};

}  // namespace terramind
