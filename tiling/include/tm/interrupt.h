// tm/interrupt.h — Ctrl-C handling of long-running work (part of tm_tiling; included by
// tm/tiling.h).
#pragma once

#include <stdexcept>

namespace terramind {

// Raised by long-running work after SIGINT/SIGTERM/SIGHUP; callers exit with status 130.
class Interrupted : public std::runtime_error {
 public:
  Interrupted() : std::runtime_error("interrupted") {}
};

// ---------------------------------------------------------------------------------------------
// Interruption (Ctrl-C): the first signal sets a flag that work loops poll; temporary outputs are
// then removed by their owners' destructors. A second signal removes every registered temporary
// file at once and exits with status 130.
void install_interrupt_handlers();
bool interrupt_requested();
void throw_if_interrupted();

}  // namespace terramind
