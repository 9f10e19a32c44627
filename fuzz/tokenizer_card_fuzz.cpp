// Fuzz target: tokenizer cards (TokenizerCard::from_json). A card that parses must survive the
// round trip to_json -> from_json unchanged, and its derived sizes must be sane.
#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "fuzz_support.h"
#include "tm/model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  terramind::TokenizerCard card;
  try {
    card = terramind::TokenizerCard::from_json(text);
  } catch (const std::invalid_argument&) {
    return 0;
  }
  if (card.vocab_size() < 2 || card.decode_size_multiple() < 1 || card.latent_dim() < 1)
    tm_fuzz::invariant_failed("bad derived sizes", card.to_json());
  const std::string json = card.to_json();
  try {
    const std::string again = terramind::TokenizerCard::from_json(json).to_json();
    if (again != json) tm_fuzz::invariant_failed("round trip changed the card", json + "\n" + again);
  } catch (const std::invalid_argument& e) {
    tm_fuzz::invariant_failed("to_json of a valid card does not parse", json + "\n" + e.what());
  }
  return 0;
}
