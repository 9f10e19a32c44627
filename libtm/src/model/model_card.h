// Internal: ModelCard is declared in the public header.
#pragma once

#include "tm/model.h"
