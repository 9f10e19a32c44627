// Internal: turning a window read from one input into what the model gets.
#pragma once
#include <cstdint>
#include <optional>

#include "tm/tiling.h"

namespace terramind {

// Writes `data` into one batch slot, values [channel][row][col] and validity [row][col]. Invalid
// pixels get the mean of the band's valid pixels in this window, or the modality's registry mean
// when the window holds none; then values are standardised with the registry statistics when
// `standardise` is set.
void prepare_window(const WindowData& data, const Modality& modality,
                    std::optional<StatsVersion> standardise, float* values_out,
                    std::uint8_t* valid_out);

}  // namespace terramind
