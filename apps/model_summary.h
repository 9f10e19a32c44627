// Prints what a TerraMind model is: shared by tm_info --model and tm_convert.
#pragma once

#include <ostream>
#include <string>

#include "tm/model.h"

namespace terramind {
void print_model_summary(const TerraMindModel& model, const std::string& source, std::ostream& out);
}
