// tm/testing/interrupt.h — test hooks of tm_tiling's Ctrl-C handling (tm/interrupt.h).
//
// For tests only: not part of the API, and not included by tm/tiling.h.
#pragma once

#include "tm/interrupt.h"

namespace terramind {

// Clears the interruption flag and the signal count, so one test process can simulate several
// interrupted runs.
void reset_interrupt_for_tests();

}  // namespace terramind
