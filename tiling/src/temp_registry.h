// Internal: temporary output files known to the interrupt handler.
#pragma once
#include <string>

namespace terramind {
// Returns a slot id for unregister_temp_path, or -1 when the table is full.
int register_temp_path(const std::string& path);
void unregister_temp_path(int slot);
}  // namespace terramind
