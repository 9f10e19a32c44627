// Fuzz target: model cards (ModelCard::from_json). A card that parses must survive the round trip
// to_json -> from_json unchanged.
#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "fuzz_support.h"
#include "tm/model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  terramind::ModelCard card;
  try {
    card = terramind::ModelCard::from_json(text);
  } catch (const std::invalid_argument&) {
    return 0;
  }
  const std::string json = card.to_json();
  try {
    const std::string again = terramind::ModelCard::from_json(json).to_json();
    if (again != json) tm_fuzz::invariant_failed("round trip changed the card", json + "\n" + again);
  } catch (const std::invalid_argument& e) {
    tm_fuzz::invariant_failed("to_json of a valid card does not parse", json + "\n" + e.what());
  }
  return 0;
}
